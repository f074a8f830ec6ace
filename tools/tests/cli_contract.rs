//! Every tool binary: `--help` and `-h` exit 0 listing its flags, and an
//! unknown flag exits 2 with clap's message.

use std::process::Command;

fn binaries() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        (
            env!("CARGO_BIN_EXE_make_certs"),
            vec!["[DIR]", "[default: certs]"],
        ),
        (
            env!("CARGO_BIN_EXE_loadgen"),
            vec!["echo", "idle", "connect", "fetch"],
        ),
        (
            env!("CARGO_BIN_EXE_tls_load"),
            vec![
                "--ca",
                "--conns",
                "--size",
                "--seconds",
                "--handshakes",
                "--idle",
            ],
        ),
        (
            env!("CARGO_BIN_EXE_udp_load"),
            vec!["--clients", "--seconds", "--size"],
        ),
        (env!("CARGO_BIN_EXE_pipe_bench"), vec!["--mib", "--rounds"]),
        (
            env!("CARGO_BIN_EXE_loop_bench"),
            vec!["[N]", "[MODE]", "call_soon"],
        ),
        (env!("CARGO_BIN_EXE_raw_tokio_echo"), vec!["--port"]),
        (
            env!("CARGO_BIN_EXE_raw_sendfile_server"),
            vec!["--root", "--port", "--tls", "--cert", "--key"],
        ),
        (
            env!("CARGO_BIN_EXE_raw_tokio_proxy"),
            vec!["--port", "--to", "--buffer"],
        ),
        (
            env!("CARGO_BIN_EXE_raw_tls_echo"),
            vec!["<CERT>", "<KEY>", "[PORT]"],
        ),
        (env!("CARGO_BIN_EXE_raw_udp_echo"), vec!["[PORT]"]),
        (
            env!("CARGO_BIN_EXE_bench_report"),
            vec!["--results", "--markdown", "--svg"],
        ),
        (
            env!("CARGO_BIN_EXE_streams_chat_bench"),
            vec!["server", "echo-load", "chat-load"],
        ),
    ]
}

fn run(bin: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_exits_0_and_lists_the_flags() {
    for (bin, words) in binaries() {
        for help in ["--help", "-h"] {
            let (code, stdout, stderr) = run(bin, &[help]);
            assert_eq!(code, Some(0), "{bin} {help}: {stderr}");
            assert!(stdout.contains("Usage: "), "{bin}: {stdout}");
            for word in &words {
                assert!(stdout.contains(word), "{bin} {help} lacks {word}: {stdout}");
            }
        }
    }
}

#[test]
fn an_unknown_flag_exits_2() {
    for (bin, _) in binaries() {
        let (code, _, stderr) = run(bin, &["--no-such-flag"]);
        assert_eq!(code, Some(2), "{bin}: {stderr}");
        assert!(stderr.contains("--no-such-flag"), "{bin}: {stderr}");
        assert!(!stderr.contains("panicked"), "{bin}: {stderr}");
    }
}

#[test]
fn bad_values_exit_2_without_a_panic() {
    let cases: &[(&str, &[&str])] = &[
        (
            env!("CARGO_BIN_EXE_loadgen"),
            &["echo", "not-an-address", "--duration", "1"],
        ),
        (env!("CARGO_BIN_EXE_loadgen"), &["echo", "127.0.0.1:1"]),
        (env!("CARGO_BIN_EXE_loop_bench"), &["0"]),
        (env!("CARGO_BIN_EXE_loop_bench"), &["10", "bogus"]),
        (
            env!("CARGO_BIN_EXE_udp_load"),
            &["127.0.0.1:1", "--seconds", "-1"],
        ),
        (env!("CARGO_BIN_EXE_raw_udp_echo"), &["70000"]),
        (
            env!("CARGO_BIN_EXE_streams_chat_bench"),
            &["chat-load", "127.0.0.1:1", "1", "1"],
        ),
    ];
    for (bin, args) in cases {
        let (code, _, stderr) = run(bin, args);
        assert_eq!(code, Some(2), "{bin} {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{bin} {args:?}: {stderr}");
    }
}

#[test]
fn make_certs_writes_a_pki_and_keeps_it() {
    let dir = std::env::temp_dir().join(format!("aioproto-make-certs-{}", std::process::id()));
    let dir_arg = dir.to_str().expect("utf-8 temp dir");
    let (code, stdout, stderr) = run(env!("CARGO_BIN_EXE_make_certs"), &[dir_arg]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("created"), "{stdout}");
    for name in [
        "ca",
        "server",
        "client",
        "expired",
        "other-ca",
        "other-server",
        "wrong-host",
        "sni-alt",
    ] {
        assert!(dir.join(format!("{name}.pem")).is_file(), "{name}.pem");
        assert!(dir.join(format!("{name}.key")).is_file(), "{name}.key");
    }
    let (code, stdout, _) = run(env!("CARGO_BIN_EXE_make_certs"), &[dir_arg]);
    assert_eq!(code, Some(0));
    assert!(
        !stdout.contains("created"),
        "second run changed something: {stdout}"
    );
    // A directory below a file cannot be made: a clear error and exit 1.
    let below_a_file = dir.join("ca.pem").join("sub");
    let (code, _, stderr) = run(
        env!("CARGO_BIN_EXE_make_certs"),
        &[below_a_file.to_str().expect("utf-8 temp dir")],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.starts_with("make_certs: cannot write"), "{stderr}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}
