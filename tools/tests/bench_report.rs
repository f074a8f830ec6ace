//! `bench_report` on a results file like the one `make bench` writes: the Markdown
//! report and the SVG chart both appear and hold every figure, and a malformed
//! results file fails with its line number instead of writing a partial report.

use std::path::Path;
use std::process::Command;

const RESULTS: &str = "section\tfigure\tunit\timpl\tvalue\tnote\n\
    20_tcp\tTCP echo 1 KiB, instructions\tinstructions/request\tbaseline\t1331\traw tokio echo\n\
    20_tcp\tTCP echo 1 KiB, instructions\tinstructions/request\taioproto\t1500\t<=1.25x\n\
    20_tcp\tTCP echo 1 KiB, throughput\trequests/s\tbaseline\t70000\traw tokio echo\n\
    20_tcp\tTCP echo 1 KiB, throughput\trequests/s\taioproto\t65000\t\n\
    20_tcp\tTCP echo 1 KiB, throughput\trequests/s\tuvloop\t40000\t\n\
    80_pubsub\tpubsub room fan-out, local\tdeliveries/s\taioproto\t2000000\t\n";

fn run(dir: &Path, results: &str) -> (bool, String, String) {
    let tsv = dir.join("results.tsv");
    std::fs::write(&tsv, results).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bench_report"))
        .arg("--results")
        .arg(&tsv)
        .arg("--markdown")
        .arg(dir.join("out/report.md"))
        .arg("--svg")
        .arg(dir.join("out/report.svg"))
        .output()
        .expect("run bench_report");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bench_report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn writes_the_markdown_and_the_svg_with_every_figure() {
    let dir = scratch("ok");
    let (ok, stdout, stderr) = run(&dir, RESULTS);
    assert!(ok, "bench_report failed: {stderr}");
    let report = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    assert!(stdout.starts_with(&report), "the report is printed too");
    assert!(report.contains("Targets met: 1 of 1."), "{report}");
    assert!(report.contains(
        "| TCP echo 1 KiB, instructions | instructions/request | 1,500 | 1,331 (raw tokio echo) | 1.13× | ≤ 1.25× | yes | – | – |"
    ), "{report}");
    assert!(report.contains("| pubsub room fan-out, local | deliveries/s | 2,000,000 |"));
    let svg = std::fs::read_to_string(dir.join("out/report.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{svg}");
    for text in [
        "TCP echo 1 KiB, instructions (instructions/request, lower is better)",
        "TCP echo 1 KiB, throughput (requests/s, higher is better)",
        "aioproto 1,500 (1.13×)",
        "baseline 70,000 (1.00×)",
        "uvloop 40,000 (0.57×)",
    ] {
        assert!(svg.contains(text), "the chart lacks {text:?}");
    }
    assert!(
        !svg.contains("pubsub"),
        "a figure without a baseline is only in the table"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_malformed_results_file_fails_with_its_line_and_writes_nothing() {
    let dir = scratch("bad");
    let (ok, _, stderr) = run(&dir, "20_tcp\tx\tunit\taioproto\tfast\t\n");
    assert!(!ok);
    assert!(
        stderr.contains("line 1") && stderr.contains("not a number"),
        "{stderr}"
    );
    assert!(!dir.join("out/report.md").exists());
    let (ok, _, stderr) = run(&dir, "section\tfigure\tunit\timpl\tvalue\tnote\n");
    assert!(!ok);
    assert!(stderr.contains("no figures"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
