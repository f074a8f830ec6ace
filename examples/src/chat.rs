//! The chat server's protocol (see docs/DESIGN.md, "Chat protocol"), shared by the
//! `chat_server` binary and the integration tests.
//!
//! The model in one picture: every connection has a [`ChatClient`] protocol;
//! they share one [`Room`], a map from nickname to that client's `Transport`.
//! A message is broadcast by writing the same `Bytes` to every other
//! transport. `Transport::write` never blocks, so a client that stops reading
//! only grows its own write buffer, and the transport's hard limit (1 MiB)
//! disconnects it; nobody else slows down.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

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

/// Everyone who has joined: nickname → transport. Sorted, for `/who`.
#[derive(Debug, Default)]
pub struct Room {
    members: BTreeMap<String, Transport>,
}

impl Room {
    /// Writes `line` to every member but `from`. One `Bytes`, shared, no copies.
    fn broadcast(&self, from: &str, line: Bytes) {
        for (nick, transport) in &self.members {
            if nick != from {
                transport.write(line.clone());
            }
        }
    }
}

pub type SharedRoom = Arc<Mutex<Room>>;

fn lock(room: &SharedRoom) -> MutexGuard<'_, Room> {
    room.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One connection's protocol.
#[derive(Debug)]
pub struct ChatClient {
    room: SharedRoom,
    transport: Option<Transport>,
    /// Set once the nickname line was accepted.
    nick: Option<String>,
    /// Bytes of an unfinished line.
    pending: BytesMut,
    /// How much of `pending` is known to hold no newline.
    scanned: usize,
    /// An error line was sent or the client quit: ignore the rest.
    finished: bool,
}

impl ChatClient {
    /// A protocol for a new connection to `room`.
    pub fn new(room: SharedRoom) -> Self {
        ChatClient {
            room,
            transport: None,
            nick: None,
            pending: BytesMut::new(),
            scanned: 0,
            finished: false,
        }
    }

    fn transport(&self) -> &Transport {
        self.transport.as_ref().expect("connection_made ran first")
    }

    /// Sends `! error: REASON` and closes (after it is flushed).
    fn fail(&mut self, reason: &str) {
        let transport = self.transport();
        transport.write(format!("! error: {reason}\n"));
        transport.close();
        self.finished = true;
    }

    fn handle_line(&mut self, line: &[u8]) {
        let Ok(text) = std::str::from_utf8(line) else {
            return self.fail("invalid utf-8");
        };
        match &self.nick {
            None => self.join(text),
            Some(nick) => {
                let nick = nick.clone();
                match text {
                    "/who" => {
                        let names: Vec<String> = lock(&self.room).members.keys().cloned().collect();
                        self.transport()
                            .write(format!("* online: {}\n", names.join(", ")));
                    }
                    "/quit" => {
                        self.leave();
                        self.transport().close();
                        self.finished = true;
                    }
                    "" => {}
                    _ => {
                        let text = sanitize_text(text);
                        let line = Bytes::from(format!("{nick}: {text}\n"));
                        lock(&self.room).broadcast(&nick, line);
                    }
                }
            }
        }
    }

    fn join(&mut self, nick: &str) {
        if !valid_nickname(nick) {
            return self.fail(
                "invalid nickname (1-32 characters; no spaces, control or format characters)",
            );
        }
        let mut room = lock(&self.room);
        if room.members.contains_key(nick) {
            drop(room);
            return self.fail("nickname taken");
        }
        room.members
            .insert(nick.to_owned(), self.transport().clone());
        room.broadcast(nick, Bytes::from(format!("* {nick} joined\n")));
        drop(room);
        tracing::info!(nick, "joined");
        self.nick = Some(nick.to_owned());
    }

    /// Removes us from the room (once) and tells the others.
    fn leave(&mut self) {
        let Some(nick) = self.nick.take() else {
            return;
        };
        let mut room = lock(&self.room);
        if room
            .members
            .get(&nick)
            .is_some_and(|t| t.same_as(self.transport()))
        {
            room.members.remove(&nick);
            room.broadcast(&nick, Bytes::from(format!("* {nick} left\n")));
        }
        tracing::info!(nick, "left");
    }
}

impl BaseProtocol for ChatClient {
    fn connection_made(&mut self, transport: &Transport) {
        transport.set_write_buffer_hard_limit(Some(MAX_PENDING_OUTPUT));
        self.transport = Some(transport.clone());
    }

    fn connection_lost(&mut self, exc: Option<Error>) {
        if let Some(err) = exc {
            tracing::info!(nick = ?self.nick, error = %err, "connection lost");
        }
        self.leave();
    }
}

impl Protocol for ChatClient {
    fn data_received(&mut self, data: Bytes) {
        if self.finished {
            return;
        }
        self.pending.extend_from_slice(&data);
        loop {
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
            self.handle_line(content);
            if self.finished {
                return;
            }
        }
    }
}

impl Room {
    /// How many clients have joined.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when nobody has joined.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
