//! The loop's socket coroutines (`sock_*`) over real loopback sockets: TCP,
//! UDP (v4 and v6) and Unix datagram sockets, the would-block path, errors
//! and cancellation.

mod support;

use std::future::IntoFuture;
use std::net::SocketAddr;

use aioproto::{Error, EventLoop, create_task, get_running_loop, sleep};
use socket2::{Domain, SockAddr, Socket, Type};
use support::{ms, run_loop, with_timeout};

fn any_port(ip: &str) -> SockAddr {
    SockAddr::from(format!("{ip}:0").parse::<SocketAddr>().unwrap())
}

fn nonblocking(domain: Domain, ty: Type) -> Socket {
    let s = Socket::new(domain, ty, None).unwrap();
    s.set_nonblocking(true).unwrap();
    s
}

fn listener() -> Socket {
    let l = nonblocking(Domain::IPV4, Type::STREAM);
    l.bind(&any_port("127.0.0.1")).unwrap();
    l.listen(16).unwrap();
    l
}

/// A connected pair (client, accepted), both non-blocking, made with the loop.
async fn tcp_pair(lp: &EventLoop) -> (Socket, Socket) {
    let l = listener();
    let addr = l.local_addr().unwrap();
    let client = nonblocking(Domain::IPV4, Type::STREAM);
    let (accepted, connected) = tokio::join!(lp.sock_accept(&l), lp.sock_connect(&client, &addr));
    connected.unwrap();
    let (conn, peer) = accepted.unwrap();
    assert_eq!(peer.as_socket(), client.local_addr().unwrap().as_socket());
    assert!(
        conn.nonblocking().unwrap(),
        "accepted sockets are non-blocking"
    );
    (client, conn)
}

#[test]
fn tcp_accept_connect_send_and_receive() {
    run_loop(async {
        let lp = get_running_loop().unwrap();
        let (client, server) = tcp_pair(&lp).await;
        lp.sock_sendall(&client, b"hello").await.unwrap();
        let mut got = Vec::new();
        while got.len() < 5 {
            let chunk = with_timeout(lp.sock_recv(&server, 64)).await.unwrap();
            assert!(!chunk.is_empty());
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got, b"hello");

        lp.sock_sendall(&server, b"back").await.unwrap();
        let mut buf = [0u8; 16];
        let mut n = 0;
        while n < 4 {
            n += with_timeout(lp.sock_recv_into(&client, &mut buf[n..]))
                .await
                .unwrap();
        }
        assert_eq!(&buf[..4], b"back");

        drop(client);
        let eof = with_timeout(lp.sock_recv(&server, 64)).await.unwrap();
        assert!(eof.is_empty(), "peer close reads as empty");
    });
}

#[test]
fn recv_waits_for_data_that_comes_later() {
    run_loop(async {
        let lp = get_running_loop().unwrap();
        let (client, server) = tcp_pair(&lp).await;
        let l2 = lp.clone();
        let reader = create_task(async move { l2.sock_recv(&server, 64).await });
        sleep(ms(0)).await.unwrap(); // one loop iteration: the reader is waiting
        assert!(!reader.done(), "nothing sent yet: the recv waits");
        lp.sock_sendall(&client, b"later").await.unwrap();
        let data = with_timeout(reader.into_future()).await.unwrap();
        assert_eq!(&data[..], b"later");
    });
}

#[test]
fn sendall_of_more_than_the_socket_buffers_waits_for_the_reader() {
    run_loop(async {
        let lp = get_running_loop().unwrap();
        let (client, server) = tcp_pair(&lp).await;
        // More than loopback's socket buffers hold, so the send has to wait.
        let total = 16 * 1024 * 1024;
        let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
        let expected = data.clone();
        let l2 = lp.clone();
        let writer = create_task(async move { l2.sock_sendall(&client, &data).await });
        let mut got = Vec::with_capacity(total);
        while got.len() < total {
            let chunk = with_timeout(lp.sock_recv(&server, 65536)).await.unwrap();
            assert!(!chunk.is_empty(), "early EOF after {}", got.len());
            got.extend_from_slice(&chunk);
        }
        with_timeout(writer.into_future()).await.unwrap();
        assert!(got == expected, "bytes arrive whole and in order");
    });
}

#[test]
fn udp_sendto_and_recvfrom_on_v4_and_v6() {
    run_loop(async {
        let lp = get_running_loop().unwrap();
        for (domain, ip) in [(Domain::IPV4, "127.0.0.1"), (Domain::IPV6, "[::1]")] {
            let server = nonblocking(domain, Type::DGRAM);
            if server.bind(&any_port(ip)).is_err() {
                continue; // no IPv6 loopback here
            }
            let client = nonblocking(domain, Type::DGRAM);
            client.bind(&any_port(ip)).unwrap();
            let to = server.local_addr().unwrap();
            assert_eq!(lp.sock_sendto(&client, b"ping", &to).await.unwrap(), 4);
            let (data, from) = with_timeout(lp.sock_recvfrom(&server, 1500)).await.unwrap();
            assert_eq!(&data[..], b"ping");
            assert_eq!(from.as_socket(), client.local_addr().unwrap().as_socket());

            // A datagram longer than the buffer is cut to it.
            lp.sock_sendto(&client, b"0123456789", &to).await.unwrap();
            let mut small = [0u8; 4];
            let (n, _) = with_timeout(lp.sock_recvfrom_into(&server, &mut small))
                .await
                .unwrap();
            assert_eq!(&small[..n], b"0123");
        }
    });
}

#[test]
fn unix_datagram_recvfrom_names_the_sender() {
    run_loop(async {
        let lp = get_running_loop().unwrap();
        let dir = std::env::temp_dir().join(format!("aioproto-sock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (server_path, client_path) = (dir.join("server.sock"), dir.join("client.sock"));
        let _ = std::fs::remove_file(&server_path);
        let _ = std::fs::remove_file(&client_path);
        let server = nonblocking(Domain::UNIX, Type::DGRAM);
        server.bind(&SockAddr::unix(&server_path).unwrap()).unwrap();
        let client = nonblocking(Domain::UNIX, Type::DGRAM);
        client.bind(&SockAddr::unix(&client_path).unwrap()).unwrap();
        lp.sock_sendto(
            &client,
            b"over unix",
            &SockAddr::unix(&server_path).unwrap(),
        )
        .await
        .unwrap();
        let (data, from) = with_timeout(lp.sock_recvfrom(&server, 64)).await.unwrap();
        assert_eq!(&data[..], b"over unix");
        assert_eq!(from.as_pathname(), Some(client_path.as_path()));
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn blocking_sockets_are_refused() {
    run_loop(async {
        let lp = get_running_loop().unwrap();
        let blocking = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
        let err = lp.sock_recv(&blocking, 16).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument(m) if m.contains("non-blocking")),
            "{err}"
        );
    });
}

#[test]
fn refused_connect_names_the_address() {
    run_loop(async {
        let lp = get_running_loop().unwrap();
        // A port that was just free: bound, then closed without listening.
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let client = nonblocking(Domain::IPV4, Type::STREAM);
        let err = with_timeout(lp.sock_connect(&client, &SockAddr::from(addr)))
            .await
            .unwrap_err();
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::ConnectionRefused));
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    });
}

#[test]
fn cancelling_a_waiting_recv_leaves_the_data_for_the_next_one() {
    run_loop(async {
        let lp = get_running_loop().unwrap();
        let (client, server) = tcp_pair(&lp).await;
        let server = std::sync::Arc::new(server);
        let (l2, s2) = (lp.clone(), server.clone());
        let waiting = create_task(async move { l2.sock_recv(&s2, 64).await });
        sleep(ms(0)).await.unwrap(); // one loop iteration: the recv is waiting
        assert!(!waiting.done());
        assert!(waiting.cancel());
        assert!(
            with_timeout(waiting.into_future())
                .await
                .unwrap_err()
                .is_cancelled()
        );
        lp.sock_sendall(&client, b"kept").await.unwrap();
        let data = with_timeout(lp.sock_recv(&server, 64)).await.unwrap();
        assert_eq!(&data[..], b"kept");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_coroutines_work_under_a_plain_tokio_runtime() {
    let lp = get_running_loop().unwrap();
    let (client, server) = tcp_pair(&lp).await;
    lp.sock_sendall(&client, b"tokio").await.unwrap();
    let mut got = Vec::new();
    while got.len() < 5 {
        got.extend_from_slice(&with_timeout(lp.sock_recv(&server, 64)).await.unwrap());
    }
    assert_eq!(got, b"tokio");
}

#[test]
fn closed_loop_refuses_socket_work() {
    let lp = EventLoop::new().unwrap();
    lp.close().unwrap();
    let sock = nonblocking(Domain::IPV4, Type::DGRAM);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt.block_on(lp.sock_recv(&sock, 1)).unwrap_err();
    assert!(matches!(err, Error::InvalidState(_)), "{err}");
}
