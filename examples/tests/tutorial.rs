//! The three tutorial programs (docs/DESIGN.md CLI contract), run with a small
//! `--scale` and their output checked line by line.

use std::process::Command;
use std::time::Duration;

fn run(bin: &str, scale: &str) -> (Vec<String>, String) {
    let out = Command::new(bin)
        .args(["--scale", scale])
        .output()
        .expect("run example");
    assert!(out.status.success(), "{bin} failed: {out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    (stdout.lines().map(str::to_owned).collect(), stderr)
}

fn elapsed(line: &str) -> Duration {
    let secs = line
        .strip_prefix("elapsed: ")
        .and_then(|s| s.strip_suffix('s'))
        .unwrap_or_else(|| panic!("not an elapsed line: {line:?}"));
    Duration::from_secs_f64(secs.parse().unwrap())
}

#[test]
fn future_sleep_prints_done() {
    let (lines, _) = run(env!("CARGO_BIN_EXE_future_sleep"), "0.01");
    assert_eq!(lines, ["Done!"]);
}

#[test]
fn tasks_gather_runs_concurrently_in_order() {
    let (lines, _) = run(env!("CARGO_BIN_EXE_tasks_gather"), "0.02");
    assert_eq!(
        lines[..6],
        [
            "[Task-A] coroutine will sleep for 0.2 second(s)…",
            "[Task-B] coroutine will sleep for 0.02 second(s)…",
            "[Task-C] coroutine will sleep for 0.02 second(s)…",
            "[Task-B] done!",
            "[Task-C] done!",
            "[Task-A] done!",
        ]
    );
    assert_eq!(lines.len(), 7);
    let t = elapsed(&lines[6]);
    assert!(t >= Duration::from_millis(190), "{t:?}");
    assert!(
        t < Duration::from_millis(220) + Duration::from_secs(2),
        "{t:?}"
    );
}

#[test]
fn blocking_sleep_stalls_then_the_fix_overlaps() {
    let (lines, stderr) = run(env!("CARGO_BIN_EXE_blocking_sleep"), "0.02");
    assert_eq!(lines.len(), 16, "{lines:#?}");
    assert_eq!(
        lines[..7],
        [
            "blocking: std::thread::sleep inside the tasks (the loop stalls)",
            "[Task-A] coroutine will sleep for 0.2 second(s)…",
            "[Task-A] done!",
            "[Task-B] coroutine will sleep for 0.02 second(s)…",
            "[Task-B] done!",
            "[Task-C] coroutine will sleep for 0.02 second(s)…",
            "[Task-C] done!",
        ]
    );
    let blocked = elapsed(&lines[7]);
    assert!(blocked >= Duration::from_millis(240), "{blocked:?}");
    assert_eq!(lines[8], "fixed: the blocking call runs in run_in_executor");
    assert_eq!(
        lines[9..12],
        [
            "[Task-A] coroutine will sleep for 0.2 second(s)…",
            "[Task-B] coroutine will sleep for 0.02 second(s)…",
            "[Task-C] coroutine will sleep for 0.02 second(s)…",
        ]
    );
    // B and C finish at the same moment on two executor threads: either order.
    let mut bc = lines[12..14].to_vec();
    bc.sort();
    assert_eq!(bc, ["[Task-B] done!", "[Task-C] done!"]);
    assert_eq!(lines[14], "[Task-A] done!");
    let fixed = elapsed(&lines[15]);
    assert!(fixed >= Duration::from_millis(190), "{fixed:?}");
    // Debug mode named the task that blocked the loop.
    assert!(
        stderr.contains("Executing <Task name='Task-A'> took"),
        "{stderr}"
    );
}

#[test]
fn bad_scale_is_a_usage_error() {
    for bin in [
        env!("CARGO_BIN_EXE_future_sleep"),
        env!("CARGO_BIN_EXE_tasks_gather"),
        env!("CARGO_BIN_EXE_blocking_sleep"),
    ] {
        for bad in ["0", "-1", "x", "NaN"] {
            let out = Command::new(bin).args(["--scale", bad]).output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{bin} --scale {bad}");
        }
    }
}
