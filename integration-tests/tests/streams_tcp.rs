//! Streams over real TCP sockets: spec section I (T60–T63) and probe t12.

use std::future::Future;
use std::time::Duration;

use aioproto::{
    ConnectOptions, Error, ServerOptions, StreamReader, StreamWriter, open_connection,
    open_connection_with, start_server, start_server_with,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("timed out")
}

#[tokio::test]
async fn half_close_then_reply_probe_t12() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    let server = start_server(
        move |r: StreamReader, w: StreamWriter| {
            let tx = tx.lock().unwrap().take();
            async move {
                let data = r.read_all().await?;
                w.write(format!("len={}\n", data.len()));
                w.drain().await?;
                let state = (r.at_eof(), w.is_closing());
                w.close();
                w.wait_closed().await?;
                if let Some(tx) = tx {
                    let _ = tx.send(state);
                }
                Ok(())
            }
        },
        "127.0.0.1",
        0,
    )
    .await
    .unwrap();
    let port = server.local_addrs()[0].port();
    let (r, w) = open_connection("127.0.0.1", port).await.unwrap();
    w.write("abc".repeat(10));
    w.write_eof().unwrap();
    assert_eq!(bounded(r.readline()).await.unwrap(), "len=30\n");
    assert_eq!(bounded(r.read_all()).await.unwrap(), "");
    assert!(r.at_eof());
    assert_eq!(bounded(rx).await.unwrap(), (true, false));
    w.close();
    bounded(w.wait_closed()).await.unwrap();
    server.close();
}

#[tokio::test]
async fn limits_over_a_socket_probe_t12() {
    let server = start_server(
        |_r: StreamReader, w: StreamWriter| async move {
            w.write(format!("{}\nshort\nabcSEPtail", "x".repeat(20)));
            w.close();
            Ok(())
        },
        "127.0.0.1",
        0,
    )
    .await
    .unwrap();
    let port = server.local_addrs()[0].port();
    let (r, w) = open_connection_with("127.0.0.1", port, &ConnectOptions::new(), 10)
        .await
        .unwrap();
    // Wait until everything (and EOF) arrived, as the probe's sleep does.
    bounded(async {
        while r.buffered() < 36 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(matches!(
        r.readline().await,
        Err(Error::LimitOverrun { .. })
    ));
    assert_eq!(bounded(r.readline()).await.unwrap(), "short\n");
    assert_eq!(bounded(r.readuntil(b"SEP")).await.unwrap(), "abcSEP");
    let err = bounded(r.readuntil(b"ZZ")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "4 bytes read on a total of undefined expected bytes"
    );
    let err = bounded(r.readexactly(5)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "0 bytes read on a total of 5 expected bytes"
    );
    assert_eq!(r.read_all().await.unwrap(), "");
    assert_eq!(r.read(0).await.unwrap(), "");
    drop(w);
    server.close();
}

#[tokio::test]
async fn write_drain_loop_to_a_closed_peer_fails_not_spins() {
    // T62: the peer accepts and closes at once.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        drop(s);
    });
    let (_r, w) = open_connection("127.0.0.1", port).await.unwrap();
    acceptor.await.unwrap();
    let outcome = bounded(async {
        for i in 0..1000 {
            w.write(vec![b'x'; 65536]);
            if let Err(e) = w.drain().await {
                return Ok((i, e));
            }
        }
        Err("no error after 1000 writes")
    })
    .await;
    let (_, err) = outcome.unwrap();
    assert!(err.is_closed(), "{err:?}");
    let err = bounded(w.wait_closed()).await.unwrap_err();
    assert!(err.is_closed(), "{err:?}");
}

#[tokio::test]
async fn close_is_closing_and_wait_closed_with_unread_data() {
    let server = start_server(
        |_r: StreamReader, w: StreamWriter| async move {
            w.write(vec![b'y'; 300_000]);
            w.drain().await?;
            // Keep the writer until the client goes.
            w.wait_closed().await.ok();
            Ok(())
        },
        "127.0.0.1",
        0,
    )
    .await
    .unwrap();
    let port = server.local_addrs()[0].port();
    let (r, w) = open_connection("127.0.0.1", port).await.unwrap();
    bounded(r.readexactly(10)).await.unwrap();
    assert!(!w.is_closing());
    w.close();
    assert!(w.is_closing());
    bounded(w.wait_closed()).await.unwrap();
    w.write("data");
    assert!(bounded(w.drain()).await.unwrap_err().is_closed());
    server.close();
}

#[tokio::test]
async fn failing_or_panicking_handler_closes_only_its_connection() {
    // T63
    let server = start_server(
        |r: StreamReader, w: StreamWriter| async move {
            let line = r.readline().await?;
            match line.as_ref() {
                b"fail\n" => Err(Error::invalid_state("test")),
                b"panic\n" => panic!("test"),
                b"cancel\n" => {
                    w.close();
                    Err(Error::Cancelled(None))
                }
                _ => {
                    w.write(line);
                    Ok(())
                }
            }
        },
        "127.0.0.1",
        0,
    )
    .await
    .unwrap();
    let port = server.local_addrs()[0].port();
    for what in ["fail\n", "panic\n", "cancel\n"] {
        let (r, w) = open_connection("127.0.0.1", port).await.unwrap();
        w.write(what);
        assert_eq!(bounded(r.read_all()).await.unwrap(), "", "{what}");
        assert!(r.at_eof());
    }
    let (r, w) = open_connection("127.0.0.1", port).await.unwrap();
    w.write("still serving\n");
    assert_eq!(bounded(r.readline()).await.unwrap(), "still serving\n");
    server.close();
}

#[tokio::test]
async fn extra_info_and_limit_validation() {
    let server = start_server_with(
        |_r: StreamReader, w: StreamWriter| async move {
            w.write(w.peername().unwrap().to_string());
            Ok(())
        },
        "127.0.0.1",
        0,
        &ServerOptions::new(),
        1024,
    )
    .await
    .unwrap();
    let port = server.local_addrs()[0].port();
    let (r, w) = open_connection("127.0.0.1", port).await.unwrap();
    let seen = bounded(r.read_all()).await.unwrap();
    assert_eq!(seen, w.sockname().unwrap().to_string().as_bytes());
    assert_eq!(w.peername().unwrap().port(), port);
    let err = open_connection_with("127.0.0.1", port, &ConnectOptions::new(), 0)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    server.close();
}

#[tokio::test]
async fn tokio_io_traits_over_tcp() {
    let server = start_server(
        |mut r: StreamReader, mut w: StreamWriter| async move {
            tokio::io::copy(&mut r, &mut w).await?;
            Ok(())
        },
        "127.0.0.1",
        0,
    )
    .await
    .unwrap();
    let port = server.local_addrs()[0].port();
    let (mut r, mut w) = open_connection("127.0.0.1", port).await.unwrap();
    let payload: Vec<u8> = (0..500_000u32).map(|i| i as u8).collect();
    let expected = payload.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&payload).await.unwrap();
        w.shutdown().await.unwrap();
        w
    });
    let mut got = Vec::new();
    bounded(r.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, expected);
    drop(writer.await.unwrap());
    server.close();
}

#[tokio::test]
async fn many_tasks_drain_one_writer_over_tcp() {
    let server = start_server(
        |mut r: StreamReader, w: StreamWriter| async move {
            // Dropping the writer would close the connection: keep it.
            let _w = w;
            // A slow reader: let the client's buffer fill first.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let mut sink = tokio::io::sink();
            tokio::io::copy(&mut r, &mut sink).await?;
            Ok(())
        },
        "127.0.0.1",
        0,
    )
    .await
    .unwrap();
    let port = server.local_addrs()[0].port();
    let (_r, w) = open_connection("127.0.0.1", port).await.unwrap();
    let w = std::sync::Arc::new(w);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let w = w.clone();
            tokio::spawn(async move {
                for _ in 0..20 {
                    w.write(vec![0u8; 64 * 1024]);
                    w.drain().await?;
                }
                Ok::<_, Error>(())
            })
        })
        .collect();
    for t in tasks {
        bounded(t).await.unwrap().unwrap();
    }
    assert!(w.transport().get_write_buffer_size() <= 128 * 1024 + 64 * 1024 * 8);
    server.close();
}
