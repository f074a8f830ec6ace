//! `aioproto::pubsub` rooms over a real redis-server (started per test on a
//! free port): several "servers" (independent `Room` instances, each with its
//! own Redis connections) in one process, with members on each.
//!
//! Every wait is bounded. Events are awaited; where no event exists (a
//! listing converging, a link state) a condition is polled every 20 ms under
//! an overall timeout.

#[path = "support/redis.rs"]
mod redis_server;
#[path = "support/rooms.rs"]
#[macro_use]
mod rooms;
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aioproto::pubsub::{LeaveReason, RedisOptions, RoomError, RoomEvent};
use rooms::{
    all_list, client, doomed_server, eventually, fast, left, ms, names, next_matching,
    next_message, server,
};
use support::{init_tracing, with_timeout, with_timeout_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_deliver_in_order_and_list_the_room() {
    init_tracing();
    let redis = redis_or_skip!();
    let options = fast(&redis);
    let (a, b, c) = (
        server(&options, "lobby").await,
        server(&options, "lobby").await,
        server(&options, "lobby").await,
    );
    let mut a1 = client(&a, "a1").await;
    let mut a2 = client(&a, "a2").await;
    let mut b1 = client(&b, "b1").await;
    let mut c1 = client(&c, "c1").await;
    all_list(&[&a, &b, &c], &["a1", "a2", "b1", "c1"], ms(5000)).await;

    const N: usize = 200;
    for i in 0..N {
        a1.member.publish(format!("{i}"));
        b1.member.publish(format!("{i}"));
        c1.member.publish(format!("{i}"));
    }
    for sender in [&a1, &b1, &c1] {
        sender.member.publish("end");
    }
    for (who, rx, senders) in [
        ("a1", &mut a1.events, &["b1", "c1"][..]),
        ("a2", &mut a2.events, &["a1", "b1", "c1"][..]),
        ("b1", &mut b1.events, &["a1", "c1"][..]),
        ("c1", &mut c1.events, &["a1", "b1"][..]),
    ] {
        let mut got: HashMap<String, Vec<String>> = HashMap::new();
        let mut ended = 0;
        while ended < senders.len() {
            let (from, text) = next_message(rx).await;
            assert!(
                senders.contains(&from.as_str()),
                "{who} got a message from {from}"
            );
            if text == "end" {
                ended += 1;
            } else {
                got.entry(from).or_default().push(text);
            }
        }
        for sender in senders {
            let expected: Vec<String> = (0..N).map(|i| i.to_string()).collect();
            assert_eq!(
                got[*sender], expected,
                "{who}: {sender}'s messages, once each, in order"
            );
        }
    }
    let stats = a.stats();
    assert_eq!(stats.published, N as u64 + 1);
    assert_eq!(stats.received, 2 * (N as u64 + 1));
    assert_eq!((stats.dropped, stats.malformed), (0, 0));
    assert_eq!((stats.local_members, stats.remote_members), (2, 2));
    assert!(stats.connected);
    assert_ne!(a.server_id(), b.server_id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_is_unique_across_servers() {
    init_tracing();
    let redis = redis_or_skip!();
    let options = fast(&redis);
    let servers = [
        server(&options, "names").await,
        server(&options, "names").await,
        server(&options, "names").await,
    ];
    let alice = client(&servers[0], "alice").await;
    // Taken on every other server, whether or not its cache knows yet.
    for s in &servers[1..] {
        let err = with_timeout(s.join("alice", |_: &RoomEvent| {}))
            .await
            .unwrap_err();
        assert!(matches!(err, RoomError::NameTaken), "{err}");
    }
    // The same 20 names raced from all three servers at once: one winner each.
    let mut races = Vec::new();
    for i in 0..20 {
        for s in &servers {
            let s = s.clone();
            races.push(tokio::spawn(async move {
                s.join(&format!("racer{i}"), |_: &RoomEvent| {}).await
            }));
        }
    }
    let mut winners = Vec::new();
    for race in races {
        match with_timeout(race).await.unwrap() {
            Ok(member) => winners.push(member),
            Err(err) => assert!(err.is_name_taken(), "{err}"),
        }
    }
    let mut won: Vec<&str> = winners.iter().map(|m| m.name()).collect();
    won.sort();
    let mut expected: Vec<String> = (0..20).map(|i| format!("racer{i}")).collect();
    expected.sort();
    assert_eq!(won, expected, "exactly one winner per name");

    // Freed by a leave: another server can take it once it has heard.
    drop(alice);
    eventually(ms(5000), "the leave to reach server 2", || {
        !servers[2].contains("alice")
    })
    .await;
    let _alice2 = with_timeout(servers[2].join("alice", |_: &RoomEvent| {}))
        .await
        .unwrap();
}

/// A server on its own runtime, so the test can kill it without any cleanup.
async fn crashed_server_expires(options: RedisOptions, room: &str, bound: Duration) -> Duration {
    let a = server(&options, room).await;
    let b = server(&options, room).await;
    let mut a1 = client(&a, "a1").await;
    let doomed = doomed_server(&options, room, &["c1", "c2"]).await;
    all_list(&[&a, &b, &doomed.room], &["a1", "c1", "c2"], ms(5000)).await;

    let crashed_at = Instant::now();
    doomed.crash();
    next_matching(&mut a1.events, bound, left("c1", LeaveReason::Expired)).await;
    next_matching(&mut a1.events, bound, left("c2", LeaveReason::Expired)).await;
    let took = crashed_at.elapsed();
    assert!(took < bound, "members expired after {took:?}");
    // The names are free again, and both survivors agree.
    all_list(&[&a, &b], &["a1"], ms(2000)).await;
    let _c1 = with_timeout(b.join("c1", |_: &RoomEvent| {}))
        .await
        .unwrap();
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_servers_members_expire_and_are_announced() {
    init_tracing();
    let redis = redis_or_skip!();
    // TTL 1 s + heartbeat 0.2 s: the announce comes within ~1.2 s.
    let took = crashed_server_expires(fast(&redis), "crash", ms(4000)).await;
    eprintln!("fast timings: members of a killed server announced left after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_servers_members_expire_within_10s_with_default_timings() {
    init_tracing();
    let redis = redis_or_skip!();
    let took =
        crashed_server_expires(RedisOptions::new(redis.url()), "crash-defaults", ms(10_000)).await;
    eprintln!("default timings: members of a killed server announced left after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_keeps_local_rooms_and_the_room_reforms_within_10s() {
    init_tracing();
    let mut redis = redis_or_skip!();
    // Default timings: the 10 s re-form bound is the one documented.
    let options = RedisOptions::new(redis.url());
    let (a, b, c) = (
        server(&options, "outage").await,
        server(&options, "outage").await,
        server(&options, "outage").await,
    );
    let mut a1 = client(&a, "a1").await;
    let a2 = client(&a, "a2").await;
    let mut b1 = client(&b, "b1").await;
    let mut c1 = client(&c, "c1").await;
    all_list(&[&a, &b, &c], &["a1", "a2", "b1", "c1"], ms(5000)).await;

    redis.kill().await;
    next_matching(
        &mut a1.events,
        ms(5000),
        left("b1", LeaveReason::Unreachable),
    )
    .await;
    next_matching(
        &mut a1.events,
        ms(5000),
        left("c1", LeaveReason::Unreachable),
    )
    .await;
    eventually(ms(5000), "every server to see the link down", || {
        !a.is_connected() && !b.is_connected() && !c.is_connected()
    })
    .await;
    assert_eq!(a.members(), names(&["a1", "a2"]));
    assert_eq!(b.members(), names(&["b1"]));

    // Local delivery goes on; local joins too.
    assert!(a2.member.publish("during the outage"));
    assert_eq!(
        next_message(&mut a1.events).await,
        ("a2".into(), "during the outage".into())
    );
    let a3 = client(&a, "a3").await;
    // The outage lasts long enough for the reconnect backoff to reach its
    // 2 s cap (this sleep is the scenario, not a synchronisation).
    tokio::time::sleep(ms(3000)).await;
    assert!(!a.is_connected());

    redis.restart().await;
    let back = Instant::now();
    all_list(&[&a, &b, &c], &["a1", "a2", "a3", "b1", "c1"], ms(10_000)).await;
    eventually(ms(10_000), "every link up", || {
        a.is_connected() && b.is_connected() && c.is_connected()
    })
    .await;
    let reformed = back.elapsed();
    assert!(reformed < ms(10_000), "re-formed after {reformed:?}");
    eprintln!("room re-formed {reformed:?} after redis came back");

    // Cross-server delivery again; the outage's message was lost, not replayed.
    assert!(a2.member.publish("after"));
    assert!(a3.member.publish("from a3"));
    assert_eq!(
        next_message(&mut b1.events).await,
        ("a2".into(), "after".into())
    );
    assert_eq!(
        next_message(&mut b1.events).await,
        ("a3".into(), "from a3".into())
    );
    assert_eq!(
        next_message(&mut c1.events).await,
        ("a2".into(), "after".into())
    );
    assert!(b1.member.publish("b is back"));
    let from_b = |e: &RoomEvent| matches!(e, RoomEvent::Message { from, .. } if &**from == "b1");
    let event = next_matching(&mut a1.events, ms(5000), from_b).await;
    assert!(matches!(event, RoomEvent::Message { payload, .. } if payload == "b is back"));
    for r in [&a, &b, &c] {
        assert!(r.stats().reconnects >= 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_members_on_three_servers_no_loss_no_reordering() {
    init_tracing();
    let redis = redis_or_skip!();
    let options = fast(&redis);
    let servers = [
        server(&options, "crowd").await,
        server(&options, "crowd").await,
        server(&options, "crowd").await,
    ];
    const MEMBERS: usize = 500;
    const PER_MEMBER: usize = 4;
    let mut members = Vec::new();
    let mut receivers = Vec::new();
    for i in 0..MEMBERS {
        let c = client(&servers[i % 3], &format!("m{i:03}")).await;
        members.push(c.member);
        receivers.push(c.events);
    }
    eventually(ms(15_000), "all 500 listed everywhere", || {
        servers.iter().all(|s| s.members().len() == MEMBERS)
    })
    .await;

    let started = Instant::now();
    // Each receiver checks, per sender, that sequence numbers arrive 0, 1, 2, …
    let expect = (MEMBERS - 1) * PER_MEMBER;
    let mut checkers = Vec::new();
    for (i, mut rx) in receivers.into_iter().enumerate() {
        checkers.push(tokio::spawn(async move {
            let mut next = vec![0usize; MEMBERS];
            let mut got = 0;
            while got < expect {
                let Some(event) = rx.recv().await else { break };
                let RoomEvent::Message { from, payload } = event else {
                    continue;
                };
                let sender: usize = from[1..].parse().unwrap();
                let seq: usize = std::str::from_utf8(&payload).unwrap().parse().unwrap();
                assert_ne!(sender, i, "a member got its own message");
                assert_eq!(seq, next[sender], "m{i:03}: m{sender:03} out of order");
                next[sender] += 1;
                got += 1;
            }
            (got, rx.lagged())
        }));
    }
    for seq in 0..PER_MEMBER {
        for m in &members {
            assert!(m.publish(seq.to_string()));
        }
    }
    let mut delivered = 0;
    for checker in checkers {
        let (got, lagged) = with_timeout_of(ms(60_000), checker).await.unwrap();
        assert_eq!((got, lagged), (expect, 0));
        delivered += got;
    }
    let took = started.elapsed();
    eprintln!(
        "{delivered} deliveries of {} messages in {took:?} ({:.0}/s)",
        MEMBERS * PER_MEMBER,
        delivered as f64 / took.as_secs_f64()
    );
    for s in &servers {
        let stats = s.stats();
        assert_eq!((stats.dropped, stats.malformed, stats.evicted), (0, 0, 0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_channel_frames_are_skipped_and_counted() {
    init_tracing();
    let redis = redis_or_skip!();
    let options = fast(&redis);
    let a = server(&options, "junk").await;
    let b = server(&options, "junk").await;
    let mut a1 = client(&a, "a1").await;
    let b1 = client(&b, "b1").await;
    all_list(&[&a, &b], &["a1", "b1"], ms(5000)).await;

    let raw = redis::Client::open(redis.url()).unwrap();
    let mut con = with_timeout(raw.get_multiplexed_async_connection())
        .await
        .unwrap();
    for junk in [
        &b"hello"[..],
        &[0xA1, b'M', 0, 200],
        &[0xA1, b'Z', 0, 1, b's', 0, 1, b'n'],
        &[],
    ] {
        let _: i64 = with_timeout(
            redis::cmd("PUBLISH")
                .arg("aioproto:{junk}:events")
                .arg(junk)
                .query_async(&mut con),
        )
        .await
        .unwrap();
    }
    assert!(b1.member.publish("still fine"));
    assert_eq!(
        next_message(&mut a1.events).await,
        ("b1".into(), "still fine".into())
    );
    assert_eq!(a.stats().malformed, 4);
    assert!(a.is_connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_frees_names_at_once() {
    init_tracing();
    let redis = redis_or_skip!();
    // A long TTL: only a graceful close can free the names this fast.
    let mut options = fast(&redis);
    options.presence_ttl(Duration::from_secs(60));
    let a = server(&options, "close").await;
    let b = server(&options, "close").await;
    let _a1 = client(&a, "a1").await;
    let mut b1 = client(&b, "b1").await;
    all_list(&[&a, &b], &["a1", "b1"], ms(5000)).await;
    with_timeout(a.close()).await;
    next_matching(&mut b1.events, ms(2000), left("a1", LeaveReason::Left)).await;
    let _again = with_timeout(b.join("a1", |_: &RoomEvent| {}))
        .await
        .unwrap();
    assert!(
        a.join("x", |_: &RoomEvent| {})
            .await
            .unwrap_err()
            .is_closed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_redis_does_not_slow_local_delivery() {
    init_tracing();
    let redis = redis_or_skip!();
    let mut options = fast(&redis);
    // A TTL well above the pause, so nobody is reaped while Redis is paused.
    options
        .queue_capacity(50)
        .command_timeout(ms(3000))
        .presence_ttl(Duration::from_secs(5));
    let a = server(&options, "stall").await;
    let b = server(&options, "stall").await;
    let sender = client(&a, "sender").await;
    let mut local = client(&a, "local").await;
    let mut remote = client(&b, "remote").await;
    all_list(&[&a, &b], &["local", "remote", "sender"], ms(5000)).await;

    // Redis holds every client's commands for 1.5 s (the reply to CLIENT
    // PAUSE comes at once); meanwhile 500 messages are published.
    let raw = redis::Client::open(redis.url()).unwrap();
    let mut con = with_timeout(raw.get_multiplexed_async_connection())
        .await
        .unwrap();
    let _: redis::Value = with_timeout(
        redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(1500)
            .arg("ALL")
            .query_async(&mut con),
    )
    .await
    .unwrap();
    let t0 = Instant::now();
    for i in 0..500 {
        assert!(sender.member.publish(i.to_string()));
    }
    for i in 0..500 {
        assert_eq!(
            next_message(&mut local.events).await,
            ("sender".into(), i.to_string())
        );
    }
    let local_took = t0.elapsed();
    assert!(
        local_took < ms(500),
        "local delivery took {local_took:?} while redis slept"
    );
    // The queue held 50; the rest were dropped and counted, not delayed.
    let dropped = a.stats().dropped;
    assert!(dropped >= 400, "dropped {dropped}");
    // What the queue accepted reaches the other server once Redis wakes up,
    // in order, once each; then the queue takes messages again.
    let mut remote_got = Vec::new();
    while (remote_got.len() as u64) < 500 - dropped {
        let (_, text) = next_message(&mut remote.events).await;
        remote_got.push(text.parse::<usize>().unwrap());
    }
    assert!(
        remote_got.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicates"
    );
    assert!(sender.member.publish("after the stall"));
    assert_eq!(
        next_message(&mut remote.events).await,
        ("sender".into(), "after the stall".into())
    );
    assert!(a.is_connected() && b.is_connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_admitted_twice_during_an_outage_is_settled_on_reform() {
    init_tracing();
    let mut redis = redis_or_skip!();
    let options = fast(&redis);
    let a = server(&options, "split").await;
    let b = server(&options, "split").await;
    let mut a_watch = client(&a, "a-watch").await;
    let mut b_watch = client(&b, "b-watch").await;
    all_list(&[&a, &b], &["a-watch", "b-watch"], ms(5000)).await;

    redis.kill().await;
    eventually(ms(5000), "both links down", || {
        !a.is_connected() && !b.is_connected()
    })
    .await;
    // Each server can only check its own members now: both admit "dup".
    let mut dup_a = client(&a, "dup").await;
    let mut dup_b = client(&b, "dup").await;

    redis.restart().await;
    all_list(&[&a, &b], &["a-watch", "b-watch", "dup"], ms(10_000)).await;
    let evicted = |e: &RoomEvent| matches!(e, RoomEvent::Evicted);
    // Exactly one of the two is evicted; the other keeps the name everywhere.
    let a_lost = tokio::select! {
        _ = next_matching(&mut dup_a.events, ms(10_000), evicted) => true,
        _ = next_matching(&mut dup_b.events, ms(10_000), evicted) => false,
    };
    let (loser, winner, loser_room, loser_watch) = if a_lost {
        (&dup_a, &dup_b, &a, &mut a_watch)
    } else {
        (&dup_b, &dup_a, &b, &mut b_watch)
    };
    assert!(!loser.member.is_joined());
    assert!(!loser.member.publish("ignored"));
    assert!(winner.member.is_joined());
    assert_eq!(loser_room.stats().evicted, 1);
    next_matching(
        &mut loser_watch.events,
        ms(1000),
        left("dup", LeaveReason::Evicted),
    )
    .await;
    // The winner's messages reach the loser's server.
    eventually(ms(5000), "both links up", || {
        a.is_connected() && b.is_connected()
    })
    .await;
    assert!(winner.member.publish("i kept it"));
    assert_eq!(
        next_message(&mut loser_watch.events).await,
        ("dup".into(), "i kept it".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_presence_lapsed_claims_its_members_again() {
    init_tracing();
    let redis = redis_or_skip!();
    // TTL 1 s; requests may wait out the pause without timing out.
    let mut options = fast(&redis);
    options.command_timeout(ms(4000));
    let a = server(&options, "lapse").await;
    let b = server(&options, "lapse").await;
    let mut a1 = client(&a, "a1").await;
    let mut b1 = client(&b, "b1").await;
    all_list(&[&a, &b], &["a1", "b1"], ms(5000)).await;

    // Redis holds every command for 1.5 s, longer than the TTL: whichever
    // heartbeat runs first afterwards reaps the other server.
    let raw = redis::Client::open(redis.url()).unwrap();
    let mut con = with_timeout(raw.get_multiplexed_async_connection())
        .await
        .unwrap();
    let _: redis::Value = with_timeout(
        redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(1500)
            .arg("ALL")
            .query_async(&mut con),
    )
    .await
    .unwrap();
    let expired = |name: &'static str| move |e: &RoomEvent| matches!(e, RoomEvent::Left { member, reason: LeaveReason::Expired } if &**member == name);
    let joined = |name: &'static str| move |e: &RoomEvent| matches!(e, RoomEvent::Joined { member } if &**member == name);
    // The reaped one notices at its next heartbeat and claims its member again.
    tokio::select! {
        _ = next_matching(&mut a1.events, ms(10_000), expired("b1")) => {
            next_matching(&mut a1.events, ms(5000), joined("b1")).await;
        }
        _ = next_matching(&mut b1.events, ms(10_000), expired("a1")) => {
            next_matching(&mut b1.events, ms(5000), joined("a1")).await;
        }
    }
    all_list(&[&a, &b], &["a1", "b1"], ms(5000)).await;
    assert!(a.is_connected() && b.is_connected());
    assert_eq!(a.stats().reconnects + b.stats().reconnects, 0);
}
