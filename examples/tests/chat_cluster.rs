//! Real `chat_server` binaries forming one room: across worker threads of one
//! server (`--workers`), and across servers on one real `redis-server`
//! (`--redis`, started per test on a free port by the fixture; without
//! redis-server installed these tests print why and pass, except under
//! `CI=true`, where they fail).
//!
//! Every wait is bounded. The tests await the lines the servers send (joins,
//! leaves, messages, `/who` answers); fault detection (a killed server, a
//! lost Redis) is awaited the same way, within the 10 s the contract allows.

#[path = "../../integration-tests/tests/support/redis.rs"]
mod redis_server;
mod support;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use redis_server::RedisServer;
use support::{LineClient, Server, TIMEOUT, start_server, within};

const CHAT: &str = env!("CARGO_BIN_EXE_chat_server");

/// How long a fault may take to show, by the contract.
const FAULT_BOUND: Duration = Duration::from_secs(10);

async fn chat_server(redis: &RedisServer, room: &str, more: &[&str]) -> Server {
    let url = redis.url();
    let mut args = vec!["--port", "0", "--redis", &url, "--room", room];
    args.extend_from_slice(more);
    start_server(CHAT, &args).await
}

/// A connected chat client that has joined as `nick`.
struct Chatter {
    nick: String,
    conn: LineClient,
}

impl Chatter {
    /// Connects, sends the nickname and waits for the `/who` answer, so the
    /// room has admitted it when this returns. Returns the whole listing too.
    async fn join(server: &Server, nick: &str) -> (Chatter, String) {
        let mut conn = LineClient::connect(server.addr).await;
        conn.send(&format!("{nick}\n/who\n")).await;
        loop {
            let line = conn
                .line()
                .await
                .unwrap_or_else(|| panic!("{nick}: closed while joining"));
            assert!(!line.starts_with("! error"), "{nick}: {line}");
            if let Some(names) = line.strip_prefix("* online: ") {
                let names = names.to_owned();
                return (
                    Chatter {
                        nick: nick.to_owned(),
                        conn,
                    },
                    names,
                );
            }
        }
    }

    async fn say(&mut self, text: &str) {
        self.conn.send(&format!("{text}\n")).await;
    }

    /// The next line, within `limit`.
    async fn next(&mut self, limit: Duration) -> String {
        let what = format!("a line for {}", self.nick);
        within(limit, &what, self.conn.lines.next_line())
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("{}: connection closed", self.nick))
    }

    /// Reads lines until one equals `want` (within `limit` in all).
    async fn expect(&mut self, want: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.next(left.max(Duration::from_millis(1))).await;
            if line == want {
                return;
            }
        }
    }

    /// Reads lines until every one of `want` has been seen (in any order).
    async fn expect_all(&mut self, want: &[String], limit: Duration) {
        let mut missing: BTreeSet<&String> = want.iter().collect();
        let deadline = Instant::now() + limit;
        while !missing.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.next(left.max(Duration::from_millis(1))).await;
            missing.remove(&line);
        }
    }

    /// Asks `/who`, skipping other lines until the answer.
    async fn who(&mut self) -> String {
        self.say("/who").await;
        loop {
            let line = self.next(TIMEOUT).await;
            if let Some(names) = line.strip_prefix("* online: ") {
                return names.to_owned();
            }
        }
    }
}

/// Joins `nick` on `server` and waits until every client in `others` has
/// heard of it, so the room is formed up to here.
async fn join_announced(server: &Server, nick: &str, others: &mut [&mut Chatter]) -> Chatter {
    let (chatter, _) = Chatter::join(server, nick).await;
    for other in others.iter_mut() {
        other.expect(&format!("* {nick} joined"), TIMEOUT).await;
    }
    chatter
}

macro_rules! redis_or_skip {
    () => {
        match RedisServer::start().await {
            Some(redis) => redis,
            None => return,
        }
    };
}

/// Reads `count` messages from each of `senders` (skipping joins and
/// leaves) and checks each sender's come in the order sent: `0`, `1`, …
async fn expect_in_order(reader: &mut Chatter, senders: &[&str], count: usize) {
    let mut next: HashMap<&str, usize> = senders.iter().map(|s| (*s, 0)).collect();
    while next.values().any(|&n| n < count) {
        let line = reader.next(TIMEOUT).await;
        if line.starts_with("* ") {
            continue;
        }
        let (from, text) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("{}: not a message: {line:?}", reader.nick));
        let Some(n) = next.get_mut(from) else {
            panic!("{}: a message from {from}", reader.nick);
        };
        assert_eq!(
            text,
            n.to_string(),
            "{}: {from}'s messages in order",
            reader.nick
        );
        *n += 1;
    }
}

#[tokio::test]
async fn workers_of_one_server_share_one_room() {
    let server = start_server(CHAT, &["--port", "0", "--workers", "2"]).await;
    let mut clients: Vec<Chatter> = Vec::new();
    for i in 0..8 {
        let nick = format!("w{i}");
        let mut others: Vec<&mut Chatter> = clients.iter_mut().collect();
        let c = join_announced(&server, &nick, &mut others).await;
        clients.push(c);
    }
    let everyone: Vec<String> = (0..8).map(|i| format!("w{i}")).collect();
    assert_eq!(clients[7].who().await, everyone.join(", "));
    const N: usize = 50;
    for i in 0..N {
        for c in &mut clients[..3] {
            c.say(&i.to_string()).await;
        }
    }
    let senders = ["w0", "w1", "w2"];
    for c in &mut clients {
        let others: Vec<&str> = senders.iter().copied().filter(|s| *s != c.nick).collect();
        expect_in_order(c, &others, N).await;
    }
    let (_, refused) = Chatter::join_refused(&server, "w3").await;
    assert_eq!(refused, "! error: nickname taken");
    server.stop().await;
}

impl Chatter {
    /// Connects and sends `nick`, expecting a refusal: returns the
    /// connection's lines (the error) once the server closed it.
    async fn join_refused(server: &Server, nick: &str) -> (Vec<String>, String) {
        let mut conn = LineClient::connect(server.addr).await;
        conn.send(&format!("{nick}\n")).await;
        let mut lines = Vec::new();
        while let Some(line) = conn.line().await {
            lines.push(line);
        }
        let first = lines.first().cloned().unwrap_or_default();
        (lines, first)
    }
}

#[tokio::test]
async fn three_servers_one_room_delivery_order_and_who() {
    let redis = redis_or_skip!();
    let a = chat_server(&redis, "lobby", &[]).await;
    let b = chat_server(&redis, "lobby", &["--workers", "2"]).await;
    let c = chat_server(&redis, "lobby", &[]).await;
    // Another room on the same Redis is another room.
    let elsewhere = chat_server(&redis, "elsewhere", &[]).await;
    let (mut loner, _) = Chatter::join(&elsewhere, "loner").await;

    let mut a1 = join_announced(&a, "a1", &mut []).await;
    let mut b1 = join_announced(&b, "b1", &mut [&mut a1]).await;
    let mut c1 = join_announced(&c, "c1", &mut [&mut a1, &mut b1]).await;
    let mut a2 = join_announced(&a, "a2", &mut [&mut a1, &mut b1, &mut c1]).await;
    for chatter in [&mut a1, &mut a2, &mut b1, &mut c1] {
        assert_eq!(chatter.who().await, "a1, a2, b1, c1", "{}", chatter.nick);
    }
    assert_eq!(loner.who().await, "loner");

    const N: usize = 100;
    for i in 0..N {
        a1.say(&i.to_string()).await;
        b1.say(&i.to_string()).await;
        c1.say(&i.to_string()).await;
    }
    expect_in_order(&mut a1, &["b1", "c1"], N).await;
    expect_in_order(&mut a2, &["a1", "b1", "c1"], N).await;
    expect_in_order(&mut b1, &["a1", "c1"], N).await;
    expect_in_order(&mut c1, &["a1", "b1"], N).await;

    // Leaves are announced room-wide.
    a2.say("/quit").await;
    for chatter in [&mut a1, &mut b1, &mut c1] {
        chatter.expect("* a2 left", TIMEOUT).await;
    }
    assert_eq!(b1.who().await, "a1, b1, c1");
    // Nothing of lobby reached the other room.
    loner.say("/who").await;
    assert_eq!(loner.next(TIMEOUT).await, "* online: loner");
    for server in [a, b, c, elsewhere] {
        server.stop().await;
    }
}

#[tokio::test]
async fn a_nickname_held_on_one_server_is_taken_on_the_others() {
    let redis = redis_or_skip!();
    let a = chat_server(&redis, "lobby", &[]).await;
    let b = chat_server(&redis, "lobby", &[]).await;
    let (mut alice, _) = Chatter::join(&a, "alice").await;
    let (lines, _) = Chatter::join_refused(&b, "alice").await;
    assert_eq!(lines, ["! error: nickname taken"]);
    // Once she leaves, the name is free everywhere.
    let (mut bob, _) = Chatter::join(&b, "bob").await;
    alice.expect("* bob joined", TIMEOUT).await;
    alice.say("/quit").await;
    bob.expect("* alice left", TIMEOUT).await;
    let (mut alice_on_b, names) = Chatter::join(&b, "alice").await;
    assert_eq!(names, "alice, bob");
    alice_on_b.say("hello from b").await;
    bob.expect("alice: hello from b", TIMEOUT).await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_killed_server_members_are_announced_left_and_freed() {
    let redis = redis_or_skip!();
    let a = chat_server(&redis, "lobby", &[]).await;
    let mut b = chat_server(&redis, "lobby", &[]).await;
    let (mut alice, _) = Chatter::join(&a, "alice").await;
    let _bob = join_announced(&b, "bob", &mut [&mut alice]).await;
    let _bert = join_announced(&b, "bert", &mut [&mut alice]).await;

    // SIGKILL by pid: no goodbye to Redis; only the expiry can tell.
    b.child.start_kill().expect("kill");
    within(TIMEOUT, "the killed server to exit", b.child.wait())
        .await
        .expect("wait");
    let killed = Instant::now();
    alice
        .expect_all(
            &["* bob left".to_owned(), "* bert left".to_owned()],
            FAULT_BOUND,
        )
        .await;
    assert!(killed.elapsed() < FAULT_BOUND);
    assert_eq!(alice.who().await, "alice");
    // The names are free again.
    let (_bob_again, names) = Chatter::join(&a, "bob").await;
    assert_eq!(names, "alice, bob");
    a.stop().await;
}

#[tokio::test]
async fn redis_outage_keeps_local_chat_and_the_room_re_forms() {
    let mut redis = redis_or_skip!();
    let a = chat_server(&redis, "lobby", &[]).await;
    let b = chat_server(&redis, "lobby", &[]).await;
    let (mut alice, _) = Chatter::join(&a, "alice").await;
    let mut carol = join_announced(&a, "carol", &mut [&mut alice]).await;
    let mut bob = join_announced(&b, "bob", &mut [&mut alice, &mut carol]).await;

    redis.kill().await;
    let down = Instant::now();
    // Each side loses sight of the other.
    alice.expect("* bob left", FAULT_BOUND).await;
    bob.expect_all(
        &["* alice left".to_owned(), "* carol left".to_owned()],
        FAULT_BOUND,
    )
    .await;
    assert!(down.elapsed() < FAULT_BOUND);
    // Local chat goes on: messages, joins, /who.
    carol.say("still here").await;
    alice.expect("carol: still here", TIMEOUT).await;
    let mut dave = join_announced(&a, "dave", &mut [&mut alice, &mut carol]).await;
    assert_eq!(alice.who().await, "alice, carol, dave");
    assert_eq!(bob.who().await, "bob");

    redis.restart().await;
    let up = Instant::now();
    // The room re-forms, presence included (the new Redis knew nothing).
    bob.expect_all(
        &[
            "* alice joined".to_owned(),
            "* carol joined".to_owned(),
            "* dave joined".to_owned(),
        ],
        FAULT_BOUND,
    )
    .await;
    alice.expect("* bob joined", FAULT_BOUND).await;
    assert!(up.elapsed() < FAULT_BOUND);
    assert_eq!(bob.who().await, "alice, bob, carol, dave");
    dave.say("hello bob").await;
    bob.expect("dave: hello bob", TIMEOUT).await;
    bob.say("hello all").await;
    for chatter in [&mut alice, &mut carol, &mut dave] {
        chatter.expect("bob: hello all", TIMEOUT).await;
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_clients_on_three_servers_get_every_message_once_in_order() {
    const CLIENTS: usize = 500;
    const SENDERS: usize = 12;
    const MESSAGES: usize = 20;
    let redis = redis_or_skip!();
    let servers = [
        chat_server(&redis, "lobby", &[]).await,
        chat_server(&redis, "lobby", &["--workers", "2"]).await,
        chat_server(&redis, "lobby", &[]).await,
    ];
    // One observer per server, in the room before anyone else.
    let mut o0 = join_announced(&servers[0], "o0", &mut []).await;
    let mut o1 = join_announced(&servers[1], "o1", &mut [&mut o0]).await;
    let o2 = join_announced(&servers[2], "o2", &mut [&mut o0, &mut o1]).await;
    let mut observers = vec![o0, o1, o2];

    let mut clients = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS - 3 {
        let server = &servers[i % 3];
        let mut conn = LineClient::connect(server.addr).await;
        conn.send(&format!("u{i}\n")).await;
        clients.push(Chatter {
            nick: format!("u{i}"),
            conn,
        });
    }
    // Every observer has heard every join: the room is formed everywhere.
    let joins: Vec<String> = (0..CLIENTS - 3).map(|i| format!("* u{i} joined")).collect();
    for observer in &mut observers {
        observer.expect_all(&joins, Duration::from_secs(30)).await;
    }
    clients.extend(observers);
    let senders: Vec<String> = (0..SENDERS).map(|i| format!("u{i}")).collect();
    for m in 0..MESSAGES {
        for client in &mut clients[..SENDERS] {
            client.say(&m.to_string()).await;
        }
    }
    let mut readers = Vec::new();
    for mut client in clients {
        let senders = senders.clone();
        readers.push(tokio::spawn(async move {
            let others: Vec<&str> = senders
                .iter()
                .map(String::as_str)
                .filter(|s| *s != client.nick)
                .collect();
            expect_in_order(&mut client, &others, MESSAGES).await;
            others.len() * MESSAGES
        }));
    }
    let mut delivered = 0;
    for reader in readers {
        delivered += within(Duration::from_secs(30), "a reader", reader)
            .await
            .expect("reader task");
    }
    assert_eq!(delivered, SENDERS * MESSAGES * (CLIENTS - 1));
    for server in servers {
        // 500 clients left at once, and nobody was written to after closing.
        let log = server.stop().await;
        assert!(!log.contains("raised exception"), "{log}");
    }
}
