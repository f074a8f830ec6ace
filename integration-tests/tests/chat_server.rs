//! The chat protocol of docs/DESIGN.md, served by the `chat_server` example's
//! protocol (examples/src/chat.rs) in-process.

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use aioproto::pubsub::Room;
use aioproto::{Server, ServerOptions, StreamReader, StreamWriter, create_server, open_connection};
use aioproto_examples::chat::{ChatClient, MAX_LINE};
use tokio::io::AsyncWriteExt;

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("timed out")
}

async fn chat_server() -> (Server, SocketAddr, Room) {
    let room = Room::local("lobby");
    let shared = room.clone();
    let server = create_server(
        move || ChatClient::new(shared.clone()),
        "127.0.0.1",
        0,
        &ServerOptions::new(),
    )
    .await
    .unwrap();
    let addr = server.local_addrs()[0];
    (server, addr, room)
}

struct Client {
    r: StreamReader,
    w: StreamWriter,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let (r, w) = open_connection("127.0.0.1", addr.port()).await.unwrap();
        Client { r, w }
    }

    /// Connects and joins; returns once the server has registered the nickname.
    async fn join(addr: SocketAddr, nick: &str) -> Client {
        let c = Client::connect(addr).await;
        c.send(nick);
        c.send("/who");
        loop {
            let line = c.line().await;
            if line.starts_with("* online: ") {
                assert!(line.contains(nick), "{line}");
                return c;
            }
        }
    }

    fn send(&self, line: &str) {
        self.w.write(format!("{line}\n"));
    }

    async fn line(&self) -> String {
        let line = bounded(self.r.readline()).await.unwrap();
        assert!(line.ends_with(b"\n"), "connection ended: {line:?}");
        String::from_utf8(line[..line.len() - 1].to_vec()).unwrap()
    }

    /// Reads until EOF, returning the lines.
    async fn rest(&self) -> Vec<String> {
        let all = bounded(self.r.read_all()).await.unwrap();
        String::from_utf8(all.to_vec())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test]
async fn three_clients_join_talk_who_quit_and_disconnect() {
    let (server, addr, room) = chat_server().await;
    let alice = Client::join(addr, "alice").await;
    let bob = Client::join(addr, "bob").await;
    assert_eq!(alice.line().await, "* bob joined");
    let carol = Client::join(addr, "carol").await;
    assert_eq!(alice.line().await, "* carol joined");
    assert_eq!(bob.line().await, "* carol joined");

    alice.send("hello, everyone");
    assert_eq!(bob.line().await, "alice: hello, everyone");
    assert_eq!(carol.line().await, "alice: hello, everyone");
    carol.w.write("crlf works\r\n");
    assert_eq!(alice.line().await, "carol: crlf works");
    assert_eq!(bob.line().await, "carol: crlf works");

    bob.send("/who");
    assert_eq!(bob.line().await, "* online: alice, bob, carol");

    carol.send("/quit");
    assert_eq!(carol.rest().await, Vec::<String>::new());
    assert_eq!(alice.line().await, "* carol left");
    assert_eq!(bob.line().await, "* carol left");

    // Abrupt disconnect: no /quit, the socket just goes.
    bob.w.transport().abort();
    assert_eq!(alice.line().await, "* bob left");
    alice.send("/who");
    assert_eq!(alice.line().await, "* online: alice");
    assert_eq!(room.members().len(), 1);
    server.close();
}

#[tokio::test]
async fn bad_nicknames_and_bad_input_get_an_error_line_and_close() {
    let (server, addr, _room) = chat_server().await;
    let alice = Client::join(addr, "alice").await;

    let dup = Client::connect(addr).await;
    dup.send("alice");
    assert_eq!(dup.rest().await, ["! error: nickname taken"]);

    for bad in ["two words", "", &"x".repeat(33)] {
        let c = Client::connect(addr).await;
        c.send(bad);
        let rest = c.rest().await;
        assert_eq!(rest.len(), 1, "{bad:?}: {rest:?}");
        assert!(rest[0].starts_with("! error: invalid nickname"), "{rest:?}");
    }
    // 32 characters (not bytes) is fine.
    let long_ok = Client::join(addr, &"é".repeat(32)).await;
    assert_eq!(alice.line().await, format!("* {} joined", "é".repeat(32)));

    long_ok.w.write(&b"caf\xe9\n"[..]);
    assert_eq!(long_ok.rest().await, ["! error: invalid utf-8"]);
    assert_eq!(alice.line().await, format!("* {} left", "é".repeat(32)));

    alice.send("/who");
    assert_eq!(alice.line().await, "* online: alice");
    server.close();
}

#[tokio::test]
async fn line_over_64_kib_is_refused() {
    let (server, addr, _room) = chat_server().await;
    let alice = Client::join(addr, "alice").await;
    let bob = Client::join(addr, "bob").await;
    assert_eq!(alice.line().await, "* bob joined");

    // Exactly 64 KiB of text is allowed.
    let max = "m".repeat(MAX_LINE - "bob: ".len());
    bob.send(&format!("bob: {max}").replacen("bob: ", "", 1));
    assert_eq!(alice.line().await, format!("bob: {max}"));

    // One byte more, sent in pieces with no newline yet: refused at once.
    let long = vec![b'x'; MAX_LINE + 10];
    for part in long.chunks(10_000) {
        bob.w.write(part.to_vec());
    }
    assert_eq!(bob.rest().await, ["! error: line too long"]);
    assert_eq!(alice.line().await, "* bob left");

    // A complete over-long line in one write is refused too.
    let carol = Client::join(addr, "carol").await;
    assert_eq!(alice.line().await, "* carol joined");
    carol.send(&"y".repeat(MAX_LINE + 1));
    assert_eq!(carol.rest().await, ["! error: line too long"]);
    assert_eq!(alice.line().await, "* carol left");
    server.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_reader_is_cut_off_while_others_keep_chatting() {
    let (server, addr, _room) = chat_server().await;
    let alice = Client::join(addr, "alice").await;
    let bob = Client::join(addr, "bob").await;
    assert_eq!(alice.line().await, "* bob joined");

    // "slow" joins with a tiny receive buffer and then never reads.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut slow = tokio::net::TcpStream::from_std(socket.into()).unwrap();
    slow.write_all(b"slow\n").await.unwrap();
    assert_eq!(alice.line().await, "* slow joined");
    assert_eq!(bob.line().await, "* slow joined");

    // Alice talks: 12 MiB in 1 KiB lines, far past what the kernel buffers
    // (a few MiB) plus slow's 1 MiB allowance hold. She goes in rounds of
    // 256 KiB that bob reads before the next, so bob never falls 1 MiB behind.
    let text = "t".repeat(1000);
    let mut slow_left = false;
    for round in 0..48 {
        for i in 0..256 {
            alice.send(&format!("{round}.{i} {text}"));
        }
        bounded(alice.w.drain()).await.unwrap();
        let mut i = 0;
        while i < 256 {
            let line = bob.line().await;
            if line == "* slow left" {
                slow_left = true;
                continue;
            }
            assert_eq!(line, format!("alice: {round}.{i} {text}"));
            i += 1;
        }
    }
    assert!(slow_left, "slow was never disconnected");
    bob.send("/who");
    assert_eq!(bob.line().await, "* online: alice, bob");
    drop(slow);
    server.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_clients_all_get_every_broadcast() {
    const CLIENTS: usize = 500;
    const SENDERS: usize = 10;
    let (server, addr, room) = chat_server().await;
    let mut clients = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let c = Client::connect(addr).await;
        c.send(&format!("user{i}"));
        clients.push(c);
    }
    // Everyone is in once each has its own /who answer.
    let mut joined = Vec::new();
    for (i, c) in clients.into_iter().enumerate() {
        joined.push(tokio::spawn(async move {
            c.send("/who");
            loop {
                let line = c.line().await;
                if line.starts_with("* online: ") {
                    return (i, c);
                }
            }
        }));
    }
    let mut clients = Vec::new();
    for j in joined {
        clients.push(bounded(j).await.unwrap());
    }
    assert_eq!(room.members().len(), CLIENTS);

    for (i, c) in clients.iter().take(SENDERS) {
        c.send(&format!("message from {i}"));
    }
    let mut readers = Vec::new();
    for (i, c) in clients {
        readers.push(tokio::spawn(async move {
            let expected: HashSet<String> = (0..SENDERS)
                .filter(|&s| s != i)
                .map(|s| format!("user{s}: message from {s}"))
                .collect();
            let mut seen = HashSet::new();
            while seen.len() < expected.len() {
                let line = c.line().await;
                if line.starts_with("user") {
                    assert!(expected.contains(&line), "{line}");
                    seen.insert(line);
                }
            }
            c
        }));
    }
    for r in readers {
        bounded(r).await.unwrap();
    }
    server.close();
}

#[tokio::test]
async fn nicknames_with_control_or_format_characters_are_refused() {
    let (server, addr, room) = chat_server().await;
    let alice = Client::join(addr, "alice").await;
    let bad = [
        "nul\0",
        "esc\x1b[31mred",
        "bell\x07",
        "del\x7f",
        "c1\u{85}",
        "csi\u{9b}2J",
        "lrm\u{200e}",
        "rlo\u{202e}evil",
        "lri\u{2066}x\u{2069}",
        "bom\u{feff}",
        "zwsp\u{200b}",
    ];
    for nick in bad {
        let c = Client::connect(addr).await;
        c.send(nick);
        let rest = c.rest().await;
        assert_eq!(rest.len(), 1, "{nick:?}: {rest:?}");
        assert!(
            rest[0].starts_with("! error: invalid nickname"),
            "{nick:?}: {rest:?}"
        );
    }
    // Nobody joined, so alice heard of nobody.
    alice.send("/who");
    assert_eq!(alice.line().await, "* online: alice");
    assert_eq!(room.members().len(), 1);
    server.close();
}

#[tokio::test]
async fn relayed_text_carries_no_control_character_but_tab() {
    let (server, addr, _room) = chat_server().await;
    let alice = Client::join(addr, "alice").await;
    let bob = Client::join(addr, "bob").await;
    assert_eq!(alice.line().await, "* bob joined");

    bob.w.write(
        &b"\x1b[31mred\x1b[0m\tbell\x07 cr\rnul\x00 del\x7f c1\xc2\x9b \xe2\x80\xae kept\n"[..],
    );
    let line = alice.line().await;
    assert_eq!(
        line,
        "bob: \u{fffd}[31mred\u{fffd}[0m\tbell\u{fffd} cr\u{fffd}nul\u{fffd} del\u{fffd} \
         c1\u{fffd} \u{202e} kept"
    );
    assert!(
        !line.chars().any(|c| c.is_control() && c != '\t'),
        "{line:?}"
    );
    // A line ending in \r\n still loses only its line ending.
    bob.w.write("plain\r\n");
    assert_eq!(alice.line().await, "bob: plain");
    server.close();
}
