//! The datagram driver: one task per datagram endpoint (UDP or Unix) that
//! owns the socket and the protocol. It is generic over the address type,
//! whose socket type (`socket.rs`) gives it the few operations it needs.
//!
//! Each turn of its loop:
//!
//! 1. takes the commands handles queued (abort, close, pause);
//! 2. sends queued datagrams until the kernel's buffer is full, one `sendto` each;
//! 3. reports a failed send to `error_received`, or a crossed water mark to
//!    `pause_writing`/`resume_writing`;
//! 4. ends the endpoint if closing and everything was sent;
//! 5. receives one datagram and hands it to `datagram_received` (a receive error,
//!    such as an ICMP port unreachable on a connected socket, to `error_received`);
//!
//! and waits when nothing can progress, or yields after
//! `MAX_PASSES_BEFORE_YIELD` passes in a row, so a flood cannot keep the
//! other tasks of its thread from running. It waits for the socket (readable, writable when
//! datagrams are queued, and always for socket errors, which Linux signals as
//! `EPOLLERR` without readability) or for a handle's wake-up. Handles wake it
//! only while it waits, so a `sendto` inside a callback costs no wake-up.
//!
//! `sendto` itself sends when nothing is queued, so the driver's send loop only
//! runs after the kernel's buffer was full.
//!
//! Datagrams are received into a per-endpoint buffer with room for at least one
//! largest datagram (64 KiB; 128 KiB are reserved at a time, so small datagrams
//! share an allocation) and handed out as zero-copy `Bytes`. A UDP endpoint
//! keeps its buffer while idle: endpoints are few, unlike stream connections.

use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use bytes::BytesMut;
use tokio::io::Interest;
use tracing::Instrument;

use super::socket::{DatagramAddr, DatagramSocket};
use super::{DatagramProtocol, DatagramTransport};
use crate::error::{Error, Result};
use crate::transport::dispatch::guard;
use crate::transport::driver::READ_SIZE;
use crate::transport::write_buffer::FlowEvent;
use crate::util::lock;

/// Passes (each at most one datagram in and a batch out) before the driver
/// yields to the other tasks on its thread.
pub(super) const MAX_PASSES_BEFORE_YIELD: usize = 64;

/// Runs once the endpoint's socket is closed (a Unix endpoint removes its
/// socket file).
pub(crate) type OnEnd = Box<dyn FnOnce() + Send + Sync>;

/// Makes the transport, calls `connection_made` on the caller's task, and spawns
/// the driver.
pub(crate) fn start<F, P, A>(
    socket: A::Socket,
    remote: Option<A>,
    connected: bool,
    factory: F,
    on_end: Option<OnEnd>,
) -> Result<(DatagramTransport<A>, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: DatagramProtocol<A>,
    A: DatagramAddr,
{
    let socket = Arc::new(socket);
    let transport = DatagramTransport::new(socket.clone(), remote, connected);
    let protocol = Arc::new(Mutex::new(factory()));
    let driver = Driver {
        socket,
        protocol: protocol.clone(),
        transport: transport.clone(),
        read_buf: None,
        on_end,
    };
    if let Err(e) = guard("connection_made", || {
        lock(&protocol).connection_made(&transport)
    }) {
        driver.finish(Some(e.clone()));
        return Err(e);
    }
    let span = match transport.sockname() {
        Some(local) => tracing::debug_span!("datagram", local = %local),
        None => tracing::debug_span!("datagram"),
    };
    tokio::spawn(driver.run().instrument(span));
    Ok((transport, protocol))
}

struct Driver<P, A: DatagramAddr> {
    /// Shared with the transport's state for direct sends; see `State::socket`.
    socket: Arc<A::Socket>,
    protocol: Arc<Mutex<P>>,
    transport: DatagramTransport<A>,
    read_buf: Option<BytesMut>,
    on_end: Option<OnEnd>,
}

/// What one turn of the driver decided.
enum Step {
    /// Something happened; loop again.
    Progress,
    /// Nothing to do until the socket or a handle wakes us.
    Idle { want_read: bool, want_write: bool },
    /// The endpoint is over, with this outcome.
    Finish(Option<Error>),
}

impl<P: DatagramProtocol<A>, A: DatagramAddr> Driver<P, A> {
    async fn run(mut self) {
        let outcome = self.serve().await;
        self.finish(outcome);
    }

    async fn serve(&mut self) -> Option<Error> {
        let mut passes = 0;
        loop {
            let (want_read, want_write) = match self.step() {
                Step::Progress => {
                    // `try_recv` takes no part in tokio's cooperative budget:
                    // under a flood every pass would progress. Yield now and
                    // then so the other tasks on this thread still run.
                    passes += 1;
                    if passes == MAX_PASSES_BEFORE_YIELD {
                        passes = 0;
                        tokio::task::yield_now().await;
                    }
                    continue;
                }
                Step::Finish(outcome) => return outcome,
                Step::Idle {
                    want_read,
                    want_write,
                } => (want_read, want_write),
            };
            passes = 0;
            match self.wait(want_read, want_write).await {
                Err(e) => return Some(e.into()),
                Ok(true) => {
                    let err = self.socket.take_socket_error();
                    if let Some(Err(e)) = err.map(|err| self.error_received(err.into())) {
                        return Some(e);
                    }
                }
                Ok(false) => {}
            }
        }
    }

    /// Waits until a handle changed something or the socket is ready for what
    /// the driver wants. Returns whether the socket reported an error.
    ///
    /// Unconnected sockets wait through tokio's cheap per-direction readiness
    /// slots. Connected ones also need `EPOLLERR` (an ICMP error arrives as an
    /// error without readability), which only `ready(Interest::ERROR)` sees.
    async fn wait(&self, want_read: bool, want_write: bool) -> io::Result<bool> {
        let connected = self.transport.route().connected;
        let mut interest = Interest::ERROR;
        if want_read {
            interest |= Interest::READABLE;
        }
        if want_write {
            interest |= Interest::WRITABLE;
        }
        let errors = async {
            if connected {
                self.socket.ready(interest).await
            } else {
                std::future::pending().await
            }
        };
        let mut errors = std::pin::pin!(errors);
        std::future::poll_fn(|cx| {
            if !self.transport.lock().core.park(cx.waker()) {
                // A handle changed something: look again.
                return Poll::Ready(Ok(false));
            }
            if connected {
                return errors.as_mut().poll(cx).map_ok(|ready| ready.is_error());
            }
            if want_read && let Poll::Ready(r) = self.socket.poll_recv_ready(cx) {
                return Poll::Ready(r.map(|()| false));
            }
            if want_write && let Poll::Ready(r) = self.socket.poll_send_ready(cx) {
                return Poll::Ready(r.map(|()| false));
            }
            Poll::Pending
        })
        .await
    }

    /// One pass over the queued commands and the socket.
    fn step(&mut self) -> Step {
        let (send_error, event, want_read, want_write) = {
            let mut state = self.transport.lock();
            let state = &mut *state;
            state.core.begin_pass();
            if state.core.is_aborting() {
                return Step::Finish(None);
            }
            let mut send_error =
                (!state.send_errors.is_empty()).then(|| state.send_errors.remove(0));
            while send_error.is_none()
                && let Some(datagram) = state.core.buffer().front()
            {
                let sent = if self.transport.route().connected {
                    self.socket.try_send(datagram)
                } else {
                    let target = state.targets.front().expect("one target per datagram");
                    self.socket.try_send_to(datagram, target)
                };
                match sent {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    outcome => {
                        state.core.buffer_mut().pop_front();
                        state.targets.pop_front();
                        if let Err(e) = outcome {
                            send_error = Some(e);
                            break;
                        }
                    }
                }
            }
            let event = state.core.flow_event(false);
            let pending = state.core.buffer().chunk_count() > 0;
            if !state.send_errors.is_empty() {
                // More errors to deliver: come back without waiting.
                state.core.mark_dirty(false);
            }
            if state.core.is_closing() && !pending && send_error.is_none() {
                return Step::Finish(None);
            }
            (send_error, event, state.core.is_reading(), pending)
        };

        // Callbacks run outside the lock: the protocol may call the transport.
        if let Some(err) = send_error {
            return match self.error_received(err.into()) {
                Ok(()) => Step::Progress,
                Err(e) => Step::Finish(Some(e)),
            };
        }
        if let Some(event) = event {
            let outcome = match event {
                FlowEvent::Pause => guard("pause_writing", || lock(&self.protocol).pause_writing()),
                FlowEvent::Resume => {
                    guard("resume_writing", || lock(&self.protocol).resume_writing())
                }
            };
            return match outcome {
                Ok(()) => Step::Progress,
                Err(e) => Step::Finish(Some(e)),
            };
        }
        if want_read {
            match self.receive() {
                Ok(true) => return Step::Progress,
                Ok(false) => {}
                Err(e) => return Step::Finish(Some(e)),
            }
        }
        Step::Idle {
            want_read,
            want_write,
        }
    }

    /// Receives one datagram and delivers it; `Ok(false)` when there was none.
    fn receive(&mut self) -> Result<bool> {
        let buf = self.read_buf.get_or_insert_with(BytesMut::new);
        // The largest UDP payload (65,527 bytes over IPv6) must fit, or it is
        // cut. Reserving twice that lets many small datagrams share one
        // allocation before the next reserve.
        if buf.capacity() - buf.len() < READ_SIZE {
            buf.reserve(2 * READ_SIZE);
        }
        match self.socket.try_recv_buf_from(buf) {
            Ok((n, addr)) => {
                let data = buf.split_to(n).freeze();
                guard("datagram_received", || {
                    lock(&self.protocol).datagram_received(data, addr)
                })?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => {
                self.error_received(e.into())?;
                Ok(true)
            }
        }
    }

    fn error_received(&self, err: Error) -> Result<()> {
        tracing::debug!(error = %err, "datagram error");
        guard("error_received", || {
            lock(&self.protocol).error_received(err)
        })
    }

    /// Ends the endpoint: closes the socket, then calls `connection_lost` once.
    fn finish(self, outcome: Option<Error>) {
        {
            let mut state = self.transport.lock();
            state.core.mark_closed();
            state.targets.clear();
            state.send_errors.clear();
        }
        drop(self.read_buf);
        self.transport.lock().socket = None;
        drop(self.socket);
        if let Some(on_end) = self.on_end {
            on_end();
        }
        if let Some(err) = &outcome {
            tracing::debug!(error = %err, "endpoint lost");
        }
        let _ = guard("connection_lost", || {
            lock(&self.protocol).connection_lost(outcome)
        });
    }
}
