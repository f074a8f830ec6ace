//! The chat server's protocol (see DESIGN.md, "Chat protocol"), shared by the
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
                        let line = Bytes::from(format!("{nick}: {text}\n"));
                        lock(&self.room).broadcast(&nick, line);
                    }
                }
            }
        }
    }

    fn join(&mut self, nick: &str) {
        let chars = nick.chars().count();
        if chars == 0 || chars > MAX_NICK || nick.chars().any(char::is_whitespace) {
            return self.fail("invalid nickname (1-32 characters, no spaces)");
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
