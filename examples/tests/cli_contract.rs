//! The command-line contract of docs/DESIGN.md for every example binary: `--help`
//! and `-h` exit 0 and list every flag (with its default), mistakes exit 2
//! with clap's message, and every server prints exactly one `listening on`
//! line and exits 0 on SIGINT and SIGTERM.

mod support;

use nix::sys::signal::Signal;
use support::{run, start_server};

const SERVER_FLAGS: &[&str] = &[
    "--host",
    "--port",
    "--tls",
    "--cert",
    "--key",
    "--client-ca",
    "--max-connections",
    "--handshake-timeout",
    "--grace",
    "--workers",
];
/// The defaults every TCP server's help shows, besides its host and port:
/// --handshake-timeout, --grace, --workers.
const SERVER_DEFAULTS: &[&str] = &["[default: 60]", "[default: 10]", "[default: 1]"];
const CLIENT_TLS_FLAGS: &[&str] = &["--tls", "--ca", "--cert", "--key", "--server-name"];

/// Each binary, the flags its help must list, and the defaults it must show.
fn binaries() -> Vec<(&'static str, Vec<&'static str>, Vec<&'static str>)> {
    let with = |base: &[&'static str], more: &[&'static str]| [base, more].concat();
    vec![
        (
            env!("CARGO_BIN_EXE_echo_server"),
            with(SERVER_FLAGS, &["--starttls", "--unix"]),
            with(
                SERVER_DEFAULTS,
                &["[default: 127.0.0.1]", "[default: 8888]"],
            ),
        ),
        (
            env!("CARGO_BIN_EXE_chat_server"),
            with(SERVER_FLAGS, &["--tls-port", "--redis", "--room"]),
            with(
                SERVER_DEFAULTS,
                &[
                    "[default: 127.0.0.1]",
                    "[default: 7777]",
                    "[default: lobby]",
                ],
            ),
        ),
        (
            env!("CARGO_BIN_EXE_streams_echo_server"),
            SERVER_FLAGS.to_vec(),
            with(
                SERVER_DEFAULTS,
                &["[default: 127.0.0.1]", "[default: 8889]"],
            ),
        ),
        (
            env!("CARGO_BIN_EXE_kv_server"),
            with(SERVER_FLAGS, &["--async"]),
            with(
                SERVER_DEFAULTS,
                &["[default: 127.0.0.1]", "[default: 6380]"],
            ),
        ),
        (
            env!("CARGO_BIN_EXE_file_server"),
            with(
                SERVER_FLAGS,
                &["--root", "--request-timeout", "--idle-timeout"],
            ),
            vec![
                "[default: 127.0.0.1]",
                "[default: 8000]",
                "[default: 60]",
                "[default: 10]",
                "[default: 1]",
                "[default: 1024]",
            ],
        ),
        (
            env!("CARGO_BIN_EXE_tcp_proxy"),
            with(
                SERVER_FLAGS,
                &["--to", "--proxy-protocol", "--connect-timeout"],
            ),
            with(
                SERVER_DEFAULTS,
                &["[default: 127.0.0.1]", "[default: 8900]"],
            ),
        ),
        (
            env!("CARGO_BIN_EXE_udp_echo_server"),
            vec!["--host", "--port"],
            vec!["[default: 127.0.0.1]", "[default: 9999]"],
        ),
        (
            env!("CARGO_BIN_EXE_echo_client"),
            with(CLIENT_TLS_FLAGS, &["--starttls", "--unix", "HOST PORT MSG"]),
            vec![],
        ),
        (
            env!("CARGO_BIN_EXE_chat_client"),
            with(CLIENT_TLS_FLAGS, &["--host", "--port", "[HOST]", "[PORT]"]),
            vec!["[default: 127.0.0.1]", "[default: 7777]"],
        ),
        (
            env!("CARGO_BIN_EXE_udp_echo_client"),
            vec!["<HOST>", "<PORT>", "[MSG]"],
            vec![],
        ),
        (env!("CARGO_BIN_EXE_subprocess_demo"), vec!["<CMD>"], vec![]),
        (
            env!("CARGO_BIN_EXE_future_sleep"),
            vec!["--scale"],
            vec!["[default: 1]"],
        ),
        (
            env!("CARGO_BIN_EXE_tasks_gather"),
            vec!["--scale"],
            vec!["[default: 1]"],
        ),
        (
            env!("CARGO_BIN_EXE_blocking_sleep"),
            vec!["--scale"],
            vec!["[default: 1]"],
        ),
    ]
}

#[tokio::test]
async fn help_exits_0_and_lists_every_flag_with_its_default() {
    for (bin, flags, defaults) in binaries() {
        for help in ["--help", "-h"] {
            let (status, stdout, stderr) = run(bin, &[help]).await;
            assert_eq!(status.code(), Some(0), "{bin} {help}: {stderr}");
            assert!(stdout.contains("Usage: "), "{bin} {help}: {stdout}");
            for flag in flags.iter().chain(&["--help"]) {
                assert!(stdout.contains(flag), "{bin} {help} lacks {flag}: {stdout}");
            }
            for default in &defaults {
                assert!(
                    stdout.contains(default),
                    "{bin} {help} lacks {default}: {stdout}"
                );
            }
        }
    }
}

#[tokio::test]
async fn an_unknown_flag_exits_2_with_clap_message() {
    for (bin, _, _) in binaries() {
        let (status, stdout, stderr) = run(bin, &["--no-such-flag"]).await;
        assert_eq!(status.code(), Some(2), "{bin}: {stdout} {stderr}");
        assert!(
            stderr.contains("unexpected argument '--no-such-flag'"),
            "{bin}: {stderr}"
        );
        assert!(stderr.contains("Usage: "), "{bin}: {stderr}");
    }
}

#[tokio::test]
async fn a_stray_argument_or_bad_value_exits_2() {
    let stray = [
        env!("CARGO_BIN_EXE_echo_server"),
        env!("CARGO_BIN_EXE_chat_server"),
        env!("CARGO_BIN_EXE_streams_echo_server"),
        env!("CARGO_BIN_EXE_kv_server"),
        env!("CARGO_BIN_EXE_udp_echo_server"),
        env!("CARGO_BIN_EXE_future_sleep"),
        env!("CARGO_BIN_EXE_tasks_gather"),
        env!("CARGO_BIN_EXE_blocking_sleep"),
    ];
    for bin in stray {
        let (status, _, stderr) = run(bin, &["stray"]).await;
        assert_eq!(status.code(), Some(2), "{bin}: {stderr}");
        assert!(
            stderr.contains("unexpected argument 'stray'"),
            "{bin}: {stderr}"
        );
    }
    let cases: &[(&str, &[&str], &str)] = &[
        (
            env!("CARGO_BIN_EXE_echo_server"),
            &["--port", "65536"],
            "--port",
        ),
        (
            env!("CARGO_BIN_EXE_echo_server"),
            &["--cert", "x.pem"],
            "--cert needs --tls",
        ),
        (
            env!("CARGO_BIN_EXE_echo_server"),
            &["--tls"],
            "needs --cert FILE and --key FILE",
        ),
        (
            env!("CARGO_BIN_EXE_echo_server"),
            &["--tls", "--starttls"],
            "cannot be used with",
        ),
        (
            env!("CARGO_BIN_EXE_chat_server"),
            &["--tls", "--tls-port", "0"],
            "cannot be used with",
        ),
        (
            env!("CARGO_BIN_EXE_chat_server"),
            &["--room", "r"],
            "--redis <URL>",
        ),
        (
            env!("CARGO_BIN_EXE_echo_server"),
            &["--workers", "0"],
            "must be a whole number from 1 to 1024",
        ),
        (
            env!("CARGO_BIN_EXE_chat_server"),
            &["--workers", "1025"],
            "must be a whole number from 1 to 1024",
        ),
        (
            env!("CARGO_BIN_EXE_kv_server"),
            &["--max-connections", "0"],
            "--max-connections",
        ),
        (
            env!("CARGO_BIN_EXE_streams_echo_server"),
            &["--max-connections", "many"],
            "--max-connections",
        ),
        (
            env!("CARGO_BIN_EXE_echo_server"),
            &["--grace=-1"],
            "must be a number of seconds, 0 or more",
        ),
        (
            env!("CARGO_BIN_EXE_echo_server"),
            &["--grace", "inf"],
            "must be a number of seconds, 0 or more",
        ),
        (
            env!("CARGO_BIN_EXE_chat_server"),
            &["--grace", "soon"],
            "is not a number of seconds",
        ),
        (
            env!("CARGO_BIN_EXE_echo_server"),
            &["--handshake-timeout", "0"],
            "must be a number of seconds above 0",
        ),
        (
            env!("CARGO_BIN_EXE_echo_server"),
            &["--grace", "1e300"],
            "too many seconds",
        ),
        (
            env!("CARGO_BIN_EXE_echo_client"),
            &["127.0.0.1"],
            "HOST and PORT are required",
        ),
        (
            env!("CARGO_BIN_EXE_echo_client"),
            &["h", "port", "m"],
            "PORT port",
        ),
        (
            env!("CARGO_BIN_EXE_chat_client"),
            &["--ca", "ca.pem"],
            "--ca needs --tls",
        ),
        (
            env!("CARGO_BIN_EXE_chat_client"),
            &["--tls"],
            "--tls needs --ca FILE",
        ),
        (
            env!("CARGO_BIN_EXE_udp_echo_client"),
            &["127.0.0.1"],
            "required",
        ),
        (env!("CARGO_BIN_EXE_subprocess_demo"), &[], "required"),
        (
            env!("CARGO_BIN_EXE_tasks_gather"),
            &["--scale", "0"],
            "must be a number above 0",
        ),
        (
            env!("CARGO_BIN_EXE_tasks_gather"),
            &["--scale"],
            "a value is required",
        ),
    ];
    for (bin, args, message) in cases {
        let (status, _, stderr) = run(bin, args).await;
        assert_eq!(status.code(), Some(2), "{bin} {args:?}: {stderr}");
        assert!(stderr.contains(message), "{bin} {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{bin} {args:?}: {stderr}");
    }
}

#[tokio::test]
async fn a_runtime_error_exits_1_with_a_message() {
    // Port 1 on loopback: nobody listens (connection refused).
    let (status, _, stderr) =
        run(env!("CARGO_BIN_EXE_echo_client"), &["127.0.0.1", "1", "x"]).await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("echo_client: "), "{stderr}");
    let (status, _, stderr) =
        run(env!("CARGO_BIN_EXE_subprocess_demo"), &["/no/such/program"]).await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("/no/such/program"), "{stderr}");
    // The port is taken by a server we hold.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let (status, stdout, stderr) = run(env!("CARGO_BIN_EXE_chat_server"), &["--port", &port]).await;
    assert_eq!(status.code(), Some(1), "{stdout} {stderr}");
    assert!(stderr.starts_with("chat_server: "), "{stderr}");
    assert!(!stdout.contains("listening on"), "{stdout}");
    // The same with workers: every worker's socket would share the port.
    let (status, stdout, stderr) = run(
        env!("CARGO_BIN_EXE_echo_server"),
        &["--port", &port, "--workers", "2"],
    )
    .await;
    assert_eq!(status.code(), Some(1), "{stdout} {stderr}");
    assert!(stderr.starts_with("echo_server: "), "{stderr}");
    // A Redis nobody listens on: the room cannot be joined.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", free.local_addr().unwrap());
    drop(free);
    let (status, stdout, stderr) = run(
        env!("CARGO_BIN_EXE_chat_server"),
        &["--port", "0", "--redis", &url],
    )
    .await;
    assert_eq!(status.code(), Some(1), "{stdout} {stderr}");
    assert!(
        stderr.starts_with("chat_server: cannot join room \"lobby\" on redis://"),
        "{stderr}"
    );
    assert!(!stdout.contains("listening on"), "{stdout}");
}

#[tokio::test]
async fn every_server_prints_one_listening_line_and_exits_0_on_sigint_and_sigterm() {
    let servers = [
        env!("CARGO_BIN_EXE_echo_server"),
        env!("CARGO_BIN_EXE_chat_server"),
        env!("CARGO_BIN_EXE_streams_echo_server"),
        env!("CARGO_BIN_EXE_kv_server"),
        env!("CARGO_BIN_EXE_udp_echo_server"),
    ];
    for bin in servers {
        for signal in [Signal::SIGINT, Signal::SIGTERM] {
            let server = start_server(bin, &["--port", "0"]).await;
            assert!(server.addr.ip().is_loopback(), "{bin}: {}", server.addr);
            assert_ne!(server.addr.port(), 0, "{bin}");
            server.stop_with(signal).await;
        }
    }
    // With workers: still one line (every worker listens on the one port).
    for bin in &servers[..4] {
        let server = start_server(bin, &["--port", "0", "--workers", "3"]).await;
        assert_ne!(server.addr.port(), 0, "{bin}");
        server.stop().await;
    }
}
