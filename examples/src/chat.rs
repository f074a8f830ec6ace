//! The chat server's protocol (see docs/DESIGN.md, "Chat protocol"), shared by the
//! `chat_server` binary and the integration tests.
//!
//! The model in one picture: every connection has a [`ChatClient`] protocol,
//! and every client that gave a nickname is a member of one
//! [`aioproto::pubsub::Room`]: local to this process ([`Room::local`]), or
//! spanning every chat server on one Redis (`Room::connect_redis`). The room
//! keeps nicknames unique (everywhere), lists who is online, announces joins
//! and leaves, and fans each line out to every other member, in order per
//! sender, across threads (`--workers`) and servers (`--redis`).
//!
//! A member's sink writes what it receives into the client's transport.
//! `Transport::write` never blocks, so a client that stops reading only grows
//! its own write buffer, and the transport's hard limit (1 MiB) disconnects
//! it; nobody else slows down.
//!
//! A relayed message travels as its finished line, `NICK: TEXT\n` (TEXT
//! already sanitised): every recipient writes the same `Bytes`, with no
//! formatting or copy per recipient, on this server or any other.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aioproto::pubsub::{Member, Room, RoomError, RoomEvent};
use aioproto::{BaseProtocol, Error, Protocol, Transport};
use bytes::{Bytes, BytesMut};

/// The longest line accepted, newline excluded.
pub const MAX_LINE: usize = 64 * 1024;
/// Pending output after which a client that does not read is disconnected.
pub const MAX_PENDING_OUTPUT: usize = 1024 * 1024;
/// Longest nickname, in characters.
pub const MAX_NICK: usize = 32;

/// Unicode's format characters (general category Cf, Unicode 16.0), as
/// inclusive ranges: soft hyphen, the bidirectional controls (U+200E/F,
/// U+202A–U+202E, U+2066–U+2069), zero-width characters, U+FEFF, tags…
/// They change how the text around them is shown without being seen.
const FORMAT_CHARACTERS: [(u32, u32); 21] = [
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

/// Whether `c` is a format character (general category Cf).
pub fn is_format_character(c: char) -> bool {
    let c = u32::from(c);
    FORMAT_CHARACTERS
        .iter()
        .any(|&(first, last)| (first..=last).contains(&c))
}

/// Whether `nick` is a valid nickname: 1–32 characters, none of them
/// whitespace, a control character (C0, DEL, C1) or a format character
/// (bidirectional controls, zero-width characters, U+FEFF…), so a nickname
/// always shows as what it is.
pub fn valid_nickname(nick: &str) -> bool {
    let chars = nick.chars().count();
    (1..=MAX_NICK).contains(&chars)
        && !nick
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || is_format_character(c))
}

/// `text` with every control character (C0, DEL, C1) but TAB replaced by
/// U+FFFD, so a line relayed to other terminals cannot carry escape
/// sequences (`ESC [ 31 m`), bells or carriage returns that overwrite it.
pub fn sanitize_text(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\t';
    if !text.contains(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| {
            if unsafe_char(c) {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

/// Where a connection is in the protocol.
#[derive(Debug)]
enum Phase {
    /// Waiting for the nickname line.
    Nickname,
    /// The room is admitting the nickname (a Redis room asks Redis); reading
    /// is paused, and lines already received wait in `pending`.
    Joining,
    /// In the room.
    Joined { nick: Arc<str>, member: Member },
    /// An error line was sent, the client quit, or the connection is gone:
    /// ignore the rest.
    Done,
}

/// One connection's state, shared by the protocol and the task that waits
/// for the room to admit its nickname.
#[derive(Debug)]
struct Session {
    room: Room,
    transport: Option<Transport>,
    phase: Phase,
    /// Bytes of an unfinished line (or, while joining, of lines not yet handled).
    pending: BytesMut,
    /// How much of `pending` is known to hold no newline.
    scanned: usize,
}

fn lock(session: &Mutex<Session>) -> MutexGuard<'_, Session> {
    session.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a member's sink writes to its client for each room event.
///
/// Nothing once the transport is closing: between a client's disconnect and
/// its `connection_lost` (which leaves the room) the room still delivers to
/// it, and when many clients leave at once each would hear every other's
/// `left`: writes the transport drops, and from the fifth on logs (asyncio's
/// `socket.send() raised exception`), a warning per write.
fn sink_for(transport: Transport) -> impl Fn(&RoomEvent) + Send + Sync + 'static {
    move |event: &RoomEvent| match event {
        _ if transport.is_closing() => {}
        RoomEvent::Message { payload, .. } => transport.write(payload.clone()),
        RoomEvent::Joined { member } => transport.write(format!("* {member} joined\n")),
        RoomEvent::Left { member, .. } => transport.write(format!("* {member} left\n")),
        RoomEvent::Evicted => {
            // Joined while Redis was away, and another server had the name.
            transport.write("! error: nickname taken\n");
            transport.close();
        }
        _ => {}
    }
}

/// One connection's protocol.
#[derive(Debug)]
pub struct ChatClient {
    session: Arc<Mutex<Session>>,
}

impl ChatClient {
    /// A protocol for a new connection to `room`.
    pub fn new(room: Room) -> Self {
        ChatClient {
            session: Arc::new(Mutex::new(Session {
                room,
                transport: None,
                phase: Phase::Nickname,
                pending: BytesMut::new(),
                scanned: 0,
            })),
        }
    }
}

impl Session {
    fn transport(&self) -> &Transport {
        self.transport.as_ref().expect("connection_made ran first")
    }

    /// Sends `! error: REASON` and closes (after it is flushed).
    fn fail(&mut self, reason: &str) {
        let transport = self.transport();
        transport.write(format!("! error: {reason}\n"));
        transport.close();
        self.finish();
    }

    /// Ignores the rest; leaves the room if in it (the others hear `* NICK left`).
    fn finish(&mut self) {
        if let Phase::Joined { nick, member } = std::mem::replace(&mut self.phase, Phase::Done) {
            drop(member);
            tracing::info!(nick = %nick, "left");
        }
    }

    /// Handles every complete line in `pending`, until the connection is
    /// done or a nickname is being admitted.
    fn process(&mut self, shared: &Arc<Mutex<Session>>) {
        while matches!(self.phase, Phase::Nickname | Phase::Joined { .. }) {
            let Some(pos) = self.pending[self.scanned..]
                .iter()
                .position(|&b| b == b'\n')
            else {
                self.scanned = self.pending.len();
                // The unfinished line (a `\r` may still come before its `\n`).
                if self.pending.len() > MAX_LINE + 1 {
                    self.fail("line too long");
                }
                return;
            };
            let line = self.pending.split_to(self.scanned + pos + 1);
            self.scanned = 0;
            let mut content = &line[..line.len() - 1];
            if let [rest @ .., b'\r'] = content {
                content = rest;
            }
            if content.len() > MAX_LINE {
                return self.fail("line too long");
            }
            self.handle_line(content, shared);
        }
    }

    fn handle_line(&mut self, line: &[u8], shared: &Arc<Mutex<Session>>) {
        let Ok(text) = std::str::from_utf8(line) else {
            return self.fail("invalid utf-8");
        };
        let Phase::Joined { nick, member } = &self.phase else {
            return self.join(text, shared);
        };
        match text {
            "/who" => {
                let names: Vec<Arc<str>> = self.room.members();
                self.transport()
                    .write(format!("* online: {}\n", names.join(", ")));
            }
            "/quit" => {
                self.transport().close();
                self.finish();
            }
            "" => {}
            _ => {
                let text = sanitize_text(text);
                member.publish(Bytes::from(format!("{nick}: {text}\n")));
            }
        }
    }

    /// Asks the room to admit `nick`. Reading pauses until it answers; then
    /// the lines that arrived meanwhile are handled, in order.
    fn join(&mut self, nick: &str, shared: &Arc<Mutex<Session>>) {
        if !valid_nickname(nick) {
            return self.fail(
                "invalid nickname (1-32 characters; no spaces, control or format characters)",
            );
        }
        self.phase = Phase::Joining;
        let transport = self.transport().clone();
        transport.pause_reading();
        let room = self.room.clone();
        let nick: Arc<str> = nick.into();
        let shared = shared.clone();
        tokio::spawn(async move {
            let joined = room.join(&nick, sink_for(transport.clone())).await;
            let mut session = lock(&shared);
            if !matches!(session.phase, Phase::Joining) {
                // The connection ended meanwhile: leave again (outside the lock).
                drop(session);
                drop(joined);
                return;
            }
            match joined {
                Ok(member) => {
                    tracing::info!(nick = %nick, "joined");
                    session.phase = Phase::Joined { nick, member };
                    session.process(&shared);
                    if !matches!(session.phase, Phase::Done) {
                        transport.resume_reading();
                    }
                }
                Err(RoomError::NameTaken) => session.fail("nickname taken"),
                Err(e) => session.fail(&format!("cannot join the room: {e}")),
            }
        });
    }
}

impl BaseProtocol for ChatClient {
    fn connection_made(&mut self, transport: &Transport) {
        transport.set_write_buffer_hard_limit(Some(MAX_PENDING_OUTPUT));
        lock(&self.session).transport = Some(transport.clone());
    }

    fn connection_lost(&mut self, exc: Option<Error>) {
        let mut session = lock(&self.session);
        if let Some(err) = exc {
            tracing::info!(phase = ?session.phase, error = %err, "connection lost");
        }
        session.finish();
    }
}

impl Protocol for ChatClient {
    fn data_received(&mut self, data: Bytes) {
        let mut session = lock(&self.session);
        if matches!(session.phase, Phase::Done) {
            return;
        }
        session.pending.extend_from_slice(&data);
        if !matches!(session.phase, Phase::Joining) {
            session.process(&self.session);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `tracing` writer into a shared buffer.
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The sink writes room events to an open client, and nothing once its
    /// transport is closing: no dropped writes, so none of the warnings those
    /// log from the fifth on (500 clients leaving at once would each log
    /// one per other leaver).
    #[tokio::test]
    async fn the_sink_writes_to_an_open_client_and_not_to_a_closing_one() {
        use tokio::io::AsyncReadExt;
        struct Quiet;
        impl BaseProtocol for Quiet {}
        impl Protocol for Quiet {}
        let limit = std::time::Duration::from_secs(10);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let options = aioproto::ConnectOptions::new();
        let (transport, _) = aioproto::create_connection(|| Quiet, "127.0.0.1", port, &options)
            .await
            .unwrap();
        let (mut peer, _) = tokio::time::timeout(limit, listener.accept())
            .await
            .unwrap()
            .unwrap();
        let sink = sink_for(transport.clone());
        let joined = RoomEvent::Joined {
            member: "ann".into(),
        };
        sink(&joined);
        transport.close();
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer = {
            let log = log.clone();
            move || Capture(log.clone())
        };
        let subscriber = tracing_subscriber::fmt().with_writer(writer).finish();
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..10 {
                sink(&joined);
            }
        });
        let mut received = String::new();
        tokio::time::timeout(limit, peer.read_to_string(&mut received))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(received, "* ann joined\n");
        let log = String::from_utf8(log.lock().unwrap().clone()).unwrap();
        assert_eq!(log, "");
    }

    #[test]
    fn nicknames_refuse_control_format_and_space_characters() {
        for ok in ["alice", "é", &"é".repeat(32), "名前", "a-b_c.d"] {
            assert!(valid_nickname(ok), "{ok:?}");
        }
        let bad = [
            "",
            "two words",
            "tab\there",
            "nul\0",
            "esc\x1b[31m",
            "del\x7f",
            "c1\u{85}",
            "c1\u{9b}31m",
            "lrm\u{200e}",
            "rlo\u{202e}",
            "lri\u{2066}",
            "pdi\u{2069}",
            "bom\u{feff}",
            "zwsp\u{200b}",
            "tag\u{e0041}",
            "shy\u{ad}",
        ];
        for nick in bad {
            assert!(!valid_nickname(nick), "{nick:?}");
        }
        assert!(!valid_nickname(&"x".repeat(33)));
    }

    #[test]
    fn relayed_text_keeps_tab_and_replaces_other_controls() {
        assert!(matches!(
            sanitize_text("plain é\ttext"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            sanitize_text("\x1b[31mred\x07\r\u{9b}\x7f\0"),
            "\u{fffd}[31mred\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}"
        );
        // Bidirectional controls are text, not terminal controls: kept.
        assert_eq!(sanitize_text("\u{202e}abc"), "\u{202e}abc");
    }

    #[test]
    fn format_table_is_sorted_and_disjoint() {
        for pair in FORMAT_CHARACTERS.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
        let count: u32 = FORMAT_CHARACTERS.iter().map(|&(a, b)| b - a + 1).sum();
        assert_eq!(count, 170, "Unicode 16.0 has 170 Cf characters");
    }

    use aioproto::testing::TestConnection;
    use proptest::prelude::*;

    /// What `watcher` (already in the room) sees while `talker` sends `input`
    /// in the chunks `splits` cut it into.
    fn relayed(input: &[u8], splits: &[usize]) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let room = Room::local("prop");
            let (watcher, _) = TestConnection::start(ChatClient::new(room.clone()));
            watcher.feed("watcher\n");
            watcher.settle().await;
            let (talker, _) = TestConnection::start(ChatClient::new(room));
            let mut cuts: Vec<usize> = splits.iter().map(|&s| s % (input.len() + 1)).collect();
            cuts.sort_unstable();
            let mut from = 0;
            for cut in cuts.into_iter().chain([input.len()]) {
                if cut > from {
                    talker.feed(Bytes::copy_from_slice(&input[from..cut]));
                    talker.settle().await;
                    from = cut;
                }
            }
            talker.feed_eof();
            talker.settle().await;
            watcher.settle().await;
            watcher.take_written().to_vec()
        })
    }

    /// The fixture sees what a watching client sees.
    #[test]
    fn relayed_shows_what_the_watcher_gets() {
        let seen = relayed(b"talker\nhi\x1b[31m\n", &[3, 9]);
        assert_eq!(
            String::from_utf8(seen).unwrap(),
            "* talker joined\ntalker: hi\u{fffd}[31m\n* talker left\n"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Relayed text never carries a control character but TAB, keeps every
        /// other character, and never panics.
        #[test]
        fn sanitized_text_has_no_controls(text in any::<String>()) {
            let clean = sanitize_text(&text);
            prop_assert!(!clean.chars().any(|c| c.is_control() && c != '\t'));
            prop_assert_eq!(clean.chars().count(), text.chars().count());
        }

        /// Nickname checks never panic, and an accepted one shows as itself.
        #[test]
        fn accepted_nicknames_are_printable(nick in any::<String>()) {
            if valid_nickname(&nick) {
                prop_assert!(!nick.chars().any(|c| c.is_control() || c.is_whitespace()));
            }
        }

        /// The chat line handling gives the other clients the same bytes
        /// however the sender's input is chunked: arbitrary bytes after a
        /// nickname, cut at arbitrary points.
        #[test]
        fn relaying_does_not_depend_on_chunking(
            body in proptest::collection::vec(any::<u8>(), 0..200),
            splits in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let mut input = b"talker\n".to_vec();
            input.extend_from_slice(&body);
            let whole = relayed(&input, &[]);
            let chunked = relayed(&input, &splits);
            prop_assert_eq!(whole, chunked);
        }
    }
}
