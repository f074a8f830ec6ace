//! Stream protocol lifecycle over TCP: callback order, `create_connection`
//! returning after `connection_made`, and panics in callbacks (spec section A).

mod support;

use std::sync::{Arc, Mutex};

use aioproto::{ConnectOptions, Error, ServerOptions, create_connection, create_server};
use support::*;
use tokio::io::AsyncWriteExt;

/// T01: server-side lifecycle and extra info. A server on `0.0.0.0` gets one
/// `cm`, then 3 bytes, reports the peer and local addresses, and its own
/// `close()` gives exactly one `cl(None)` with nothing after it.
/// Contract 1 and 11.
#[tokio::test]
async fn t01_server_lifecycle_and_extra_info() {
    init_tracing();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let factory = move || {
        let log = Log::new();
        let _ = tx.send(log.clone());
        Events::new(&log)
    };
    let server = create_server(factory, "0.0.0.0", 0, &ServerOptions::new())
        .await
        .unwrap();
    let addrs = server.local_addrs();
    assert_eq!(addrs.len(), 1);
    assert_eq!(addrs[0].ip().to_string(), "0.0.0.0");
    let port = addrs[0].port();

    let mut client = raw_connect(([127, 0, 0, 1], port).into()).await;
    raw_write(&mut client, b"xxx").await;
    let log = next_log(&mut rx).await;
    log.wait_data(3).await;
    assert_eq!(log.data(), b"xxx");
    assert_eq!(log.count("cm"), 1);
    assert_eq!(log.events()[0], "cm", "connection_made comes first");

    let transport = server.connections().pop().expect("one live connection");
    assert_eq!(transport.peername().unwrap().ip().to_string(), "127.0.0.1");
    assert_eq!(transport.peername().unwrap(), client.local_addr().unwrap());
    assert_eq!(transport.sockname().unwrap().port(), port);

    transport.close();
    assert_eq!(
        log.lost_count(),
        0,
        "close() never runs connection_lost inline"
    );
    assert!(log.wait_lost().await.is_none());
    assert_eq!(read_to_eof(&mut client).await, b"");
    // Give the driver a chance to misbehave, then check nothing came after cl.
    tokio::task::yield_now().await;
    assert_eq!(log.trace(), ["cm", "dr", "cl(None)"]);
    assert_eq!(log.lost_count(), 1);

    server.close();
    with_timeout(server.wait_closed()).await;
}

/// T02: `create_connection` returns only after `connection_made` ran; the
/// client trace against a server that answers and closes is
/// `cm, dr+, eof, cl(None)`. Contract 1.
#[tokio::test]
async fn t02_client_lifecycle_create_connection_returns_after_connection_made() {
    init_tracing();
    let (server, addr, _rx) = recording_server(|log| {
        Events::new(log).on_data(|t, _| {
            t.write("answer");
            t.close();
        })
    })
    .await;

    let log = Log::new();
    let (transport, protocol) = connect_recording(&log, addr.port()).await;
    {
        let p = protocol.lock().unwrap();
        let seen = p.transport.as_ref().expect("connection_made already ran");
        assert!(seen.same_as(&transport));
    }
    assert_eq!(log.events(), ["cm"]);
    assert!(transport.sockname().is_some());
    assert_eq!(transport.peername(), Some(addr));

    transport.write("request");
    assert!(log.wait_lost().await.is_none());
    assert_eq!(log.data(), b"answer");
    assert_eq!(log.trace(), ["cm", "dr", "eof", "cl(None)"]);
    server.close();
}

/// Contract 1: `connection_lost` is never called from inside the protocol's
/// own `close()`/`abort()`, even when called in a callback, and runs once.
#[tokio::test]
async fn close_and_abort_inside_callbacks_never_call_connection_lost_inline() {
    init_tracing();
    let (server, addr, mut rx) = recording_server(|log| {
        let log2 = log.clone();
        Events::new(log).on_data(move |t, data| {
            if data.starts_with(b"close") {
                t.close();
            } else {
                t.abort();
            }
            t.close();
            t.abort();
            // Still inside the callback: connection_lost must not have run.
            log2.push(format!("after-close lost={}", log2.lost_count()));
        })
    })
    .await;
    for request in ["close", "abort"] {
        let mut client = raw_connect(addr).await;
        raw_write(&mut client, request.as_bytes()).await;
        let log = next_log(&mut rx).await;
        assert!(log.wait_lost().await.is_none(), "{request}");
        let _ = read_to_eof(&mut client).await;
        tokio::task::yield_now().await;
        assert_eq!(
            log.trace(),
            ["cm", "dr", "after-close lost=0", "cl(None)"],
            "{request}"
        );
    }
    server.close();
}

/// T09: a panic in `data_received` ends that connection only: the server
/// protocol gets `cl(CallbackPanicked)` naming the callback, the client sees
/// EOF then `cl(None)`, and the server keeps serving other connections.
#[tokio::test]
async fn t09_panic_in_data_received_is_fatal_to_that_connection_only() {
    init_tracing();
    let (server, addr, mut rx) = recording_server(|log| {
        Events::new(log).on_data(|t, data| {
            if data.as_ref() == b"boom" {
                panic!("data_received exploded");
            }
            t.write(data.clone());
        })
    })
    .await;

    // A healthy connection opened first must survive the other one's panic.
    let mut healthy = raw_connect(addr).await;
    let healthy_log = next_log(&mut rx).await;

    let client_log = Log::new();
    let (client, _) = connect_recording(&client_log, addr.port()).await;
    let log = next_log(&mut rx).await;
    client.write("boom");
    match log.wait_lost().await {
        Some(Error::CallbackPanicked { callback, message }) => {
            assert_eq!(callback, "data_received");
            assert!(message.contains("data_received exploded"), "{message}");
        }
        other => panic!("expected CallbackPanicked, got {other:?}"),
    }
    assert!(client_log.wait_lost().await.is_none());
    assert_eq!(client_log.trace(), ["cm", "eof", "cl(None)"]);

    raw_write(&mut healthy, b"still here").await;
    assert_eq!(read_exact(&mut healthy, 10).await, b"still here");
    assert_eq!(healthy_log.lost_count(), 0);
    let mut fresh = raw_connect(addr).await;
    raw_write(&mut fresh, b"new").await;
    assert_eq!(read_exact(&mut fresh, 3).await, b"new");
    server.close();
}

/// T09: a panic in `eof_received` is fatal: `cl(CallbackPanicked)` naming
/// `eof_received`.
#[tokio::test]
async fn t09_panic_in_eof_received_is_fatal() {
    init_tracing();
    let (server, addr, mut rx) =
        recording_server(|log| Events::new(log).on_eof(|_| panic!("eof_received exploded"))).await;
    let mut client = raw_connect(addr).await;
    raw_write(&mut client, b"x").await;
    client.shutdown().await.unwrap();
    let log = next_log(&mut rx).await;
    let lost = log.wait_lost().await;
    assert!(
        matches!(
            &lost,
            Some(Error::CallbackPanicked {
                callback: "eof_received",
                ..
            })
        ),
        "{lost:?}"
    );
    assert_eq!(log.trace()[..3], ["cm", "dr", "eof"]);
    assert_eq!(read_to_eof(&mut client).await, b"");
    server.close();
}

/// T10 (documented divergence): asyncio logs an exception raised in
/// `connection_made` on plain TCP and keeps the connection; aioproto treats a
/// panic in *any* callback as fatal to that connection: `connection_lost`
/// gets `CallbackPanicked` naming `connection_made`, the peer sees EOF, and
/// the server and its other connections go on.
#[tokio::test]
async fn t10_panic_in_connection_made_is_fatal_to_that_connection_only() {
    init_tracing();
    let first = Arc::new(Mutex::new(true));
    let (server, addr, mut rx) = recording_server(move |log| {
        let panic_now = std::mem::replace(&mut *first.lock().unwrap(), false);
        Events::new(log)
            .on_made(move |_| {
                if panic_now {
                    panic!("connection_made exploded");
                }
            })
            .on_data(|t, data| t.write(data.clone()))
    })
    .await;

    let mut doomed = raw_connect(addr).await;
    let log = next_log(&mut rx).await;
    match log.wait_lost().await {
        Some(Error::CallbackPanicked { callback, message }) => {
            assert_eq!(callback, "connection_made");
            assert!(message.contains("connection_made exploded"));
        }
        other => panic!("expected CallbackPanicked, got {other:?}"),
    }
    assert_eq!(
        log.trace(),
        [
            "cm",
            "cl(protocol callback connection_made() panicked: connection_made exploded)"
        ]
    );
    assert_eq!(read_to_eof(&mut doomed).await, b"");

    let mut ok = raw_connect(addr).await;
    raw_write(&mut ok, b"ping").await;
    assert_eq!(read_exact(&mut ok, 4).await, b"ping");
    assert!(server.is_serving());
    server.close();
}

/// T10 client side (divergence as above): `create_connection` whose
/// `connection_made` panics returns `Err(CallbackPanicked)` after
/// `connection_lost` ran with the same error.
#[tokio::test]
async fn t10_panic_in_client_connection_made_fails_create_connection() {
    init_tracing();
    let (server, addr) = echo_server().await;
    let log = Log::new();
    let result = create_connection(
        || Events::new(&log).on_made(|_| panic!("client made exploded")),
        "127.0.0.1",
        addr.port(),
        &ConnectOptions::new(),
    )
    .await;
    let err = result.err().expect("create_connection fails");
    assert!(err.is_panic(), "{err}");
    assert!(err.to_string().contains("connection_made"), "{err}");
    assert_eq!(log.lost_count(), 1);
    assert!(matches!(
        log.lost(),
        Some(Some(Error::CallbackPanicked { .. }))
    ));
    server.close();
}

/// Contract 1: a panic in `connection_lost` itself is contained: the server
/// goes on serving.
#[tokio::test]
async fn panic_in_connection_lost_is_contained() {
    init_tracing();
    struct Bad;
    impl aioproto::BaseProtocol for Bad {
        fn connection_made(&mut self, t: &aioproto::Transport) {
            t.close();
        }
        fn connection_lost(&mut self, _: Option<Error>) {
            panic!("connection_lost exploded");
        }
    }
    impl aioproto::Protocol for Bad {}
    let server = create_server(|| Bad, "127.0.0.1", 0, &ServerOptions::new())
        .await
        .unwrap();
    let addr = server.local_addrs()[0];
    for _ in 0..3 {
        let mut c = raw_connect(addr).await;
        assert_eq!(read_to_eof(&mut c).await, b"");
    }
    assert!(server.is_serving());
    server.close();
    // Resolves only once every connection unregistered after its connection_lost.
    with_timeout(server.wait_closed()).await;
    assert_eq!(server.connection_count(), 0);
}

/// T09 extended to flow-control callbacks (our rule: a panic in any callback
/// is fatal to that connection): a panic in `pause_writing` ends the
/// connection with `CallbackPanicked` naming it.
#[tokio::test]
async fn panic_in_pause_writing_is_fatal() {
    init_tracing();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Log::new();
    let (t, _) = create_connection(
        || Events::new(&log).on_pause(|_| panic!("pause_writing exploded")),
        "127.0.0.1",
        port,
        &ConnectOptions::new(),
    )
    .await
    .unwrap();
    let (_peer, _) = with_timeout(listener.accept()).await.unwrap();
    t.write(vec![0u8; 8 * 1024 * 1024]);
    let lost = log.wait_lost().await;
    assert!(
        matches!(
            &lost,
            Some(Error::CallbackPanicked {
                callback: "pause_writing",
                ..
            })
        ),
        "{lost:?}"
    );
    assert_eq!(
        log.trace(),
        [
            "cm",
            "pw",
            "cl(protocol callback pause_writing() panicked: pause_writing exploded)"
        ]
    );
    assert!(t.is_closing());
}
