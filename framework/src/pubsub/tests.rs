//! Unit tests: the local room (joins, names, fan-out, order, slow members,
//! leaves), the presence cache's merge rules, and the wire format.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::local::fan_out;
use super::presence::{Change, RemotePresence};
use super::*;

fn recorder() -> (Arc<Mutex<Vec<RoomEvent>>>, impl EventSink) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink_log = log.clone();
    (log, move |event: &RoomEvent| {
        sink_log.lock().unwrap().push(event.clone());
    })
}

fn messages(log: &Mutex<Vec<RoomEvent>>) -> Vec<(String, String)> {
    log.lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            RoomEvent::Message { from, payload } => Some((
                from.to_string(),
                String::from_utf8_lossy(payload).into_owned(),
            )),
            _ => None,
        })
        .collect()
}

fn nop(_: &RoomEvent) {}

#[tokio::test]
async fn join_announces_to_others_only() {
    let room = Room::local("t");
    let (a_log, a_sink) = recorder();
    let (b_log, b_sink) = recorder();
    let _a = room.join("a", a_sink).await.unwrap();
    let _b = room.join("b", b_sink).await.unwrap();
    assert_eq!(
        *a_log.lock().unwrap(),
        [RoomEvent::Joined { member: "b".into() }]
    );
    assert!(b_log.lock().unwrap().is_empty());
    assert_eq!(room.members(), [Arc::from("a"), Arc::from("b")]);
}

#[tokio::test]
async fn names_are_unique_and_validated() {
    let room = Room::local("t");
    let a = room.join("a", nop).await.unwrap();
    assert!(room.join("a", nop).await.unwrap_err().is_name_taken());
    assert!(matches!(
        room.join("", nop).await,
        Err(RoomError::InvalidName(_))
    ));
    let long = "x".repeat(MAX_NAME_LEN + 1);
    assert!(matches!(
        room.join(&long, nop).await,
        Err(RoomError::InvalidName(_))
    ));
    assert!(room.join(&long[1..], nop).await.is_ok());
    drop(a);
    // Freed by the leave.
    let _again = room.join("a", nop).await.unwrap();
}

#[tokio::test]
async fn publish_reaches_every_other_member_in_order() {
    let room = Room::local("t");
    let mut logs = Vec::new();
    let mut handles = Vec::new();
    for i in 0..5 {
        let (log, sink) = recorder();
        handles.push(room.join(&format!("m{i}"), sink).await.unwrap());
        logs.push(log);
    }
    for n in 0..100 {
        for (i, member) in handles.iter().enumerate() {
            assert!(member.publish(format!("{i}:{n}")));
        }
    }
    for (i, log) in logs.iter().enumerate() {
        let got = messages(log);
        assert_eq!(got.len(), 4 * 100, "member {i}");
        assert!(
            got.iter().all(|(from, _)| from != &format!("m{i}")),
            "no echo"
        );
        for sender in (0..5).filter(|&s| s != i) {
            let seq: Vec<u32> = got
                .iter()
                .filter(|(from, _)| from == &format!("m{sender}"))
                .map(|(_, text)| text.split(':').nth(1).unwrap().parse().unwrap())
                .collect();
            assert_eq!(
                seq,
                (0..100).collect::<Vec<_>>(),
                "order from m{sender} at m{i}"
            );
        }
    }
    let stats = room.stats();
    assert_eq!(stats.published, 500);
    assert!(stats.delivered >= 2000);
    assert_eq!(stats.local_members, 5);
    assert!(!stats.connected);
}

#[tokio::test]
async fn leave_is_announced_once_and_stops_delivery() {
    let room = Room::local("t");
    let (a_log, a_sink) = recorder();
    let (b_log, b_sink) = recorder();
    let a = room.join("a", a_sink).await.unwrap();
    let b = room.join("b", b_sink).await.unwrap();
    b.leave();
    assert!(a.publish("after"));
    drop(a);
    assert_eq!(
        a_log.lock().unwrap().last(),
        Some(&RoomEvent::Left {
            member: "b".into(),
            reason: LeaveReason::Left
        })
    );
    assert!(messages(&b_log).is_empty());
    assert!(room.members().is_empty());
}

#[tokio::test]
async fn slow_channel_member_lags_without_slowing_others() {
    let room = Room::local("t");
    let (slow_sink, slow) = channel(4);
    let (fast_sink, mut fast) = channel(1000);
    let _slow = room.join("slow", slow_sink).await.unwrap();
    let _fast = room.join("fast", fast_sink).await.unwrap();
    let sender = room.join("sender", nop).await.unwrap();
    for n in 0..100 {
        sender.publish(n.to_string());
    }
    // slow: "fast" and "sender" joined, then 2 messages fit; 98 dropped.
    assert_eq!(slow.len(), 4);
    assert_eq!(slow.lagged(), 98);
    let mut got = 0;
    while let Some(event) = fast.try_recv() {
        if matches!(event, RoomEvent::Message { .. }) {
            got += 1;
        }
    }
    assert_eq!(got, 100);
    assert_eq!(fast.lagged(), 0);
}

#[tokio::test]
async fn a_panicking_sink_does_not_stop_fan_out() {
    let room = Room::local("t");
    let _bad = room
        .join("bad", |e: &RoomEvent| {
            if matches!(e, RoomEvent::Message { .. }) {
                panic!("sink bug");
            }
        })
        .await
        .unwrap();
    let (log, sink) = recorder();
    let _good = room.join("good", sink).await.unwrap();
    let sender = room.join("sender", nop).await.unwrap();
    assert!(sender.publish("x"));
    assert_eq!(messages(&log), [("sender".to_owned(), "x".to_owned())]);
}

#[tokio::test]
async fn closed_room_refuses_joins_and_publishes() {
    let room = Room::local("t");
    let a = room.join("a", nop).await.unwrap();
    room.close().await;
    room.close().await;
    assert!(room.is_closed());
    assert!(!a.publish("x"));
    assert!(!a.is_joined());
    assert!(room.join("b", nop).await.unwrap_err().is_closed());
}

#[tokio::test]
async fn sink_may_publish_and_leave_reentrantly() {
    let room = Room::local("t");
    let slot: Arc<Mutex<Option<Member>>> = Arc::default();
    let inner = slot.clone();
    let bot = room
        .join("bot", move |e: &RoomEvent| {
            if let RoomEvent::Message { payload, .. } = e {
                let guard = inner.lock().unwrap();
                if let Some(me) = guard.as_ref() {
                    me.publish(format!("echo {}", String::from_utf8_lossy(payload)));
                }
            }
        })
        .await
        .unwrap();
    *slot.lock().unwrap() = Some(bot);
    let (log, sink) = recorder();
    let user = room.join("user", sink).await.unwrap();
    user.publish("hi");
    assert_eq!(messages(&log), [("bot".to_owned(), "echo hi".to_owned())]);
    drop(slot.lock().unwrap().take()); // the bot leaves
    assert_eq!(room.members(), [Arc::from("user")]);
}

#[tokio::test]
async fn dropped_join_future_frees_the_name() {
    let room = Room::local("t");
    // Hold the presence lock so the join parks after reserving its name.
    let guard = room.shared.presence_order.lock().await;
    let pending = {
        let room = room.clone();
        tokio::spawn(async move { room.join("a", nop).await.map(|_| ()) })
    };
    tokio::task::yield_now().await;
    assert!(room.join("a", nop).await.unwrap_err().is_name_taken());
    pending.abort();
    let _ = pending.await;
    drop(guard);
    assert!(room.join("a", nop).await.is_ok());
}

/// Publishing uses the member's own snapshot copy; joins and leaves must
/// still be seen at once, and a member who left must not live on in anyone's
/// copy (its sink, and whatever the sink holds, is dropped).
#[tokio::test]
async fn cached_snapshots_follow_joins_and_leaves_and_free_who_left() {
    let room = Room::local("t");
    let alice = room.join("alice", nop).await.unwrap();
    alice.publish("to nobody"); // alice's copy: just her
    let (bob_log, bob_sink) = recorder();
    let bob = room.join("bob", bob_sink).await.unwrap();
    alice.publish("to bob");
    assert_eq!(
        messages(&bob_log),
        [("alice".to_owned(), "to bob".to_owned())]
    );

    let held = Arc::new(());
    let in_sink = held.clone();
    let carol = room
        .join("carol", move |_: &RoomEvent| {
            let _ = &in_sink;
        })
        .await
        .unwrap();
    alice.publish("to bob and carol"); // alice's copy now holds carol
    bob.publish("from bob");
    drop(carol);
    alice.publish("after carol left");
    assert_eq!(messages(&bob_log).len(), 3);
    assert_eq!(
        Arc::strong_count(&held),
        1,
        "carol's sink lives on in a snapshot copy"
    );
    room.close().await;
    assert!(!alice.publish("closed"));
    assert!(!bob.publish("closed"));
}

/// Members publishing from many threads at once: each sender's messages
/// reach every other member in order, and every message is delivered once.
#[test]
fn per_sender_order_holds_with_publishers_on_many_threads() {
    const SENDERS: usize = 4;
    const MESSAGES: usize = 2000;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let room = Room::local("t");
    let mut logs = Vec::new();
    let mut members = Vec::new();
    for i in 0..SENDERS {
        let (log, sink) = recorder();
        members.push(rt.block_on(room.join(&format!("m{i}"), sink)).unwrap());
        logs.push(log);
    }
    std::thread::scope(|scope| {
        for member in &members {
            scope.spawn(move || {
                for n in 0..MESSAGES {
                    assert!(member.publish(n.to_string()));
                }
            });
        }
    });
    for (i, log) in logs.iter().enumerate() {
        let mut next = [0usize; SENDERS];
        for (from, text) in messages(log) {
            let sender: usize = from[1..].parse().unwrap();
            assert_ne!(sender, i, "a member got its own message");
            assert_eq!(text, next[sender].to_string(), "m{i}: {from} out of order");
            next[sender] += 1;
        }
        for (sender, &n) in next.iter().enumerate() {
            let expected = if sender == i { 0 } else { MESSAGES };
            assert_eq!(n, expected, "m{i} from m{sender}");
        }
    }
    let stats = room.stats();
    assert_eq!(stats.published, (SENDERS * MESSAGES) as u64);
    assert!(stats.delivered >= (SENDERS * MESSAGES * (SENDERS - 1)) as u64);
}

#[test]
fn fan_out_skips_sender_and_dead_members() {
    use super::local::MemberCore;
    let (log, sink) = recorder();
    let a = Arc::new(MemberCore::new(
        1,
        "a".into(),
        Box::new(sink),
        std::sync::Weak::new(),
    ));
    let (dead_log, dead_sink) = recorder();
    let dead = Arc::new(MemberCore::new(
        2,
        "dead".into(),
        Box::new(dead_sink),
        std::sync::Weak::new(),
    ));
    assert!(dead.kill());
    assert!(!dead.kill());
    let event = RoomEvent::Joined { member: "x".into() };
    assert_eq!(fan_out(&[a.clone(), dead.clone()], None, &event), 1);
    assert_eq!(fan_out(&[a.clone(), dead], Some(1), &event), 0);
    assert_eq!(log.lock().unwrap().len(), 1);
    assert!(dead_log.lock().unwrap().is_empty());
}

fn map(entries: &[(&str, &str)]) -> BTreeMap<Arc<str>, Arc<str>> {
    entries
        .iter()
        .map(|(n, o)| (Arc::from(*n), Arc::from(*o)))
        .collect()
}

#[test]
fn presence_events_are_idempotent_and_owner_checked() {
    let mut p = RemotePresence::default();
    assert_eq!(
        p.joined("x".into(), "s1".into()),
        [Change::Joined("x".into())]
    );
    assert!(p.joined("x".into(), "s1".into()).is_empty());
    // A leave from a server that does not hold the name is stale.
    assert_eq!(p.left("x".into(), "s2", LeaveReason::Left), None);
    assert_eq!(
        p.left("x".into(), "s1", LeaveReason::Expired),
        Some(Change::Left("x".into(), LeaveReason::Expired))
    );
    assert_eq!(p.left("x".into(), "s1", LeaveReason::Left), None);
    assert!(!p.contains("x"));
    // Moved to another server without a leave seen.
    p.joined("y".into(), "s1".into());
    assert_eq!(
        p.joined("y".into(), "s2".into()),
        [
            Change::Left("y".into(), LeaveReason::Left),
            Change::Joined("y".into())
        ]
    );
}

#[test]
fn snapshot_merge_respects_newer_events() {
    let mut p = RemotePresence::default();
    p.joined("old".into(), "s1".into());
    p.joined("gone".into(), "s1".into());
    let since = p.seq();
    // While the snapshot was in flight: "new" joined and "old" left.
    p.joined("new".into(), "s2".into());
    p.left("old".into(), "s1", LeaveReason::Left);
    // The snapshot predates both events and no longer lists "gone".
    let snapshot = map(&[("old", "s1"), ("other", "s3")]);
    let changes = p.apply_snapshot(&snapshot, since, |_| true);
    assert_eq!(changes, [Change::Joined("other".into())]);
    // "gone" is only suspect: its leave event may still be on its way.
    let names: Vec<_> = p.names().map(|n| n.to_string()).collect();
    assert_eq!(names, ["gone", "new", "other"]);
    // The next snapshot still misses it (and now "new"): "gone" goes, "new"
    // becomes suspect, tombstones are pruned.
    let since = p.seq();
    let snapshot = map(&[("other", "s3")]);
    let changes = p.apply_snapshot(&snapshot, since, |_| true);
    assert_eq!(changes, [Change::Left("gone".into(), LeaveReason::Left)]);
    // s2 has no heartbeat any more: its member expired.
    let changes = p.apply_snapshot(&snapshot, since, |s| s != "s2");
    assert_eq!(changes, [Change::Left("new".into(), LeaveReason::Expired)]);
    assert_eq!(p.len(), 1);
}

#[test]
fn a_late_event_beats_the_snapshot_safety_net() {
    let mut p = RemotePresence::default();
    p.joined("x".into(), "s1".into());
    // The snapshot already misses x; its expiry event is still in flight.
    let since = p.seq();
    assert!(p.apply_snapshot(&map(&[]), since, |_| false).is_empty());
    // The event arrives with the true reason.
    assert_eq!(
        p.left("x".into(), "s1", LeaveReason::Expired),
        Some(Change::Left("x".into(), LeaveReason::Expired))
    );
    let since = p.seq();
    assert!(p.apply_snapshot(&map(&[]), since, |_| false).is_empty());
    // A snapshot that lists a suspect member again clears the suspicion.
    p.joined("y".into(), "s1".into());
    let since = p.seq();
    p.apply_snapshot(&map(&[]), since, |_| true);
    p.apply_snapshot(&map(&[("y", "s1")]), since, |_| true);
    assert!(p.apply_snapshot(&map(&[]), since, |_| true).is_empty());
    assert!(p.contains("y"));
}

#[test]
fn presence_clear_and_take_over() {
    let mut p = RemotePresence::default();
    p.joined("a".into(), "s1".into());
    p.joined("b".into(), "s1".into());
    assert!(p.take_over(&"a".into()));
    assert!(!p.take_over(&"a".into()));
    assert_eq!(p.clear(), [Arc::from("b")]);
    assert_eq!(p.len(), 0);
}

#[cfg(feature = "redis")]
mod wire_format {
    use super::super::wire::{Frame, Kind, MAGIC, decode, encode};

    #[test]
    fn round_trip() {
        let bytes = encode(Kind::Message, "srv-1", "alice", b"hello\n");
        assert_eq!(
            decode(&bytes),
            Some(Frame {
                kind: Kind::Message,
                origin: "srv-1",
                name: "alice",
                payload: b"hello\n",
            })
        );
        let bytes = encode(Kind::Expired, "srv-2", "bob", b"");
        assert_eq!(decode(&bytes).map(|f| f.kind), Some(Kind::Expired));
    }

    #[test]
    fn malformed_frames_are_rejected() {
        let good = encode(Kind::Joined, "s", "n", b"");
        for bad in [
            &b""[..],
            &[MAGIC],
            &[0x00, b'M', 0, 1, b's', 0, 1, b'n'],
            &[MAGIC, b'?', 0, 1, b's', 0, 1, b'n'],
            &[MAGIC, b'M', 0, 9, b's'],
            &[MAGIC, b'M', 0, 0, 0, 1, b'n'],
            &[MAGIC, b'M', 0, 1, 0xff, 0, 1, b'n'],
            &good[..good.len() - 1],
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
        // Presence frames carry no payload.
        let mut extra = good.clone();
        extra.push(b'x');
        assert_eq!(decode(&extra), None);
    }

    #[test]
    fn lua_encoder_matches() {
        // The scripts build frames as: '\161' .. kind .. u16be(#origin) .. origin .. u16be(#name) .. name
        let origin = "o".repeat(300);
        let bytes = encode(Kind::Left, &origin, "n", b"");
        assert_eq!(&bytes[..4], &[0xA1, b'L', 1, 44]);
    }
}
