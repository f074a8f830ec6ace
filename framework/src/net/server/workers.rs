//! [`ServerOptions::workers`](super::ServerOptions::workers): one server on
//! several threads, each with its own single-threaded event loop.
//!
//! ```text
//!  SO_REUSEPORT (create_server):            hand-off (a socket handed in, Unix,
//!                                           or no SO_REUSEPORT):
//!  kernel ──► socket 0 ─► worker 0 shard    kernel ──► socket ─► acceptor (worker 0)
//!         ──► socket 1 ─► worker 1 shard                           │ round-robin
//!         ──► socket n ─► worker n shard            channel 0 ◄────┼────► channel n
//!                                                   worker 0 shard      worker n shard
//!
//!  every shard: own registry, counters, accept loop, runtime (current_thread)
//!  shared (Pool): the open / handshaking gauges (one word) and a Notify, for the
//!                 limits; nothing on the data path
//! ```
//!
//! Why `ServerOptions::workers(n)` and not a separate `serve_workers` entry
//! point: the result is the same [`Server`] handle with the same methods, so
//! everything written against a server (shutdown on a signal, stats on exit,
//! `wait_closed`) works unchanged; every entry point (`create_server`,
//! `create_server_from_std`, the Unix and streams servers) gets workers for
//! free; and the option sits with the other accept-side settings (backlog,
//! `reuse_port`, limits).
//!
//! Why a shard per worker rather than one registry for all: accepting and
//! ending a connection then takes only its own worker's lock, and each
//! worker's counters are written by that worker's thread alone. The only
//! state the workers share is the admission gauges, touched once per accept
//! and once per end of connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use socket2::Socket;
use tokio::runtime::Runtime;
use tokio::sync::{Notify, mpsc};
use tracing::Instrument;

use super::accept::Accepted;
use super::{Group, Server, ServerInner, ServerOptions, ShardParts, bind_socket, socket_name};
use crate::error::{Error, Result};
use crate::transport::dispatch::{Handler, IntoHandler, ProtocolFactory};
use crate::util::lock;

/// Whether this platform has `SO_REUSEPORT` (socket2 offers it on every
/// Unix but these); without it, workers always use the hand-off acceptor.
pub(super) const HAS_REUSE_PORT: bool = cfg!(not(any(
    target_os = "solaris",
    target_os = "illumos",
    target_os = "cygwin"
)));

/// Where each worker's connections come from.
pub(super) enum Layout {
    /// Each worker listens on its own sockets (one per address), all bound
    /// with `SO_REUSEPORT` to the same addresses.
    ReusePort(Vec<Vec<Socket>>),
    /// One set of sockets; worker 0 accepts and hands each connection to the
    /// next worker in turn.
    HandOff(Vec<Socket>),
}

/// The factory, boxed the way a shard calls it.
pub(super) fn handler_maker<F, M>(factory: Arc<F>) -> Box<dyn Fn() -> Handler + Send + Sync>
where
    F: ProtocolFactory<M>,
{
    Box::new(move || factory.make().into_lone_handler())
}

/// Binds every address `options.workers` times with `SO_REUSEPORT`: the
/// first socket picks the port (port 0: any free one), the others bind to the
/// port it got. Returns the sockets per worker, one per address each.
///
/// # Errors
///
/// The first bind error; sockets bound so far are closed.
pub(super) fn bind_reuse_port(
    addrs: &[SocketAddr],
    options: &ServerOptions,
) -> Result<Vec<Vec<Socket>>> {
    let n = options.workers;
    let mut per_worker: Vec<Vec<Socket>> =
        (0..n).map(|_| Vec::with_capacity(addrs.len())).collect();
    for &addr in addrs {
        let first = bind_socket(addr, options, true)?;
        let bound = first
            .local_addr()?
            .as_socket()
            .ok_or_else(|| Error::invalid_state("a TCP socket without an IP address"))?;
        per_worker[0].push(first);
        for sockets in per_worker.iter_mut().skip(1) {
            sockets.push(bind_socket(bound, options, true)?);
        }
    }
    Ok(per_worker)
}

/// A worker's runtime; shut down without waiting when dropped, which is
/// allowed anywhere (dropping a `Runtime` inside another runtime's task
/// panics, and an error path of `create_server` drops them there).
struct WorkerRuntime(Option<Runtime>);

impl Drop for WorkerRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Starts `options.workers` worker threads, one shard each, laid out as `layout`.
///
/// # Errors
///
/// An I/O error if a runtime or a thread cannot be started, or if the
/// sockets cannot listen; whatever was started is stopped again.
pub(super) fn start<F, M>(factory: F, layout: Layout, options: &ServerOptions) -> Result<Server>
where
    F: ProtocolFactory<M>,
{
    let n = options.workers;
    let (mut per_worker, handoff) = match layout {
        Layout::ReusePort(per_worker) => (per_worker, false),
        Layout::HandOff(sockets) => {
            let mut per_worker: Vec<Vec<Socket>> = (0..n).map(|_| Vec::new()).collect();
            per_worker[0] = sockets;
            (per_worker, true)
        }
    };
    let names: Vec<String> = per_worker[0].iter().map(socket_name).collect();
    let span = tracing::debug_span!("server", addr = %names.join(" "), workers = n);
    let (senders, mut receivers): (Vec<_>, Vec<_>) = if handoff {
        (0..n).map(|_| mpsc::unbounded_channel()).unzip()
    } else {
        (Vec::new(), Vec::new())
    };
    let pool = Arc::new(Pool::new(handoff.then_some(senders)));
    let mut runtimes = Vec::with_capacity(n);
    for _ in 0..n {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtimes.push(WorkerRuntime(Some(runtime)));
    }
    let factory = Arc::new(factory);
    let handshake_failures = super::handshake_log::HandshakeFailures::new();
    let mut shards = Vec::with_capacity(n);
    for (index, runtime) in runtimes.iter().enumerate() {
        let receiver = (!receivers.is_empty()).then(|| receivers.remove(0));
        let parts = ShardParts {
            make_handler: handler_maker(factory.clone()),
            sockets: std::mem::take(&mut per_worker[index]),
            handoff: receiver.map(|rx| super::Listener::Handoff(HandoffReceiver(Mutex::new(rx)))),
            span: tracing::debug_span!(parent: &span, "worker", id = index),
            runtime: runtime.0.as_ref().map(|r| r.handle().clone()),
            pool: Some(pool.clone()),
            hands_off: handoff && index == 0,
            index,
            count: n,
            handshake_failures: handshake_failures.clone(),
        };
        shards.push(Arc::new(ServerInner::new(parts, options)));
    }
    let threads = Threads::default();
    let server = Server {
        group: Arc::new(Group {
            shards: shards.clone().into_boxed_slice(),
            threads: Some(threads.clone()),
            pool: Some(pool),
            span,
        }),
    };
    for (index, (runtime, shard)) in runtimes.into_iter().zip(shards).enumerate() {
        if let Err(e) = threads.spawn(index, runtime, shard) {
            // The threads already running stop once their shard is closed.
            server.close();
            return Err(e.into());
        }
    }
    if options.start_serving
        && let Err(e) = server.start_serving()
    {
        server.close();
        return Err(e);
    }
    Ok(server)
}

/// The worker threads of one server: how many still run.
#[derive(Clone, Default)]
pub(super) struct Threads {
    inner: Arc<ThreadsInner>,
}

#[derive(Default)]
struct ThreadsInner {
    running: AtomicUsize,
    stopped: Notify,
}

impl Threads {
    /// Runs worker `index`: its runtime runs until its shard is closed and
    /// every connection of it is gone, then shuts down (cancelling tasks the
    /// protocols spawned and left running).
    fn spawn(
        &self,
        index: usize,
        runtime: WorkerRuntime,
        shard: Arc<ServerInner>,
    ) -> std::io::Result<()> {
        self.inner.running.fetch_add(1, Ordering::AcqRel);
        let inner = self.inner.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("aioproto-worker-{index}"))
            .spawn(move || {
                if let Some(rt) = &runtime.0 {
                    let span = shard.span.clone();
                    rt.block_on(
                        async {
                            shard.wait_closed().await;
                            tracing::debug!("worker stopping: server closed, no connection left");
                        }
                        .instrument(span),
                    );
                }
                drop(runtime);
                drop(shard);
                inner.running.fetch_sub(1, Ordering::AcqRel);
                inner.stopped.notify_waiters();
            });
        if spawned.is_err() {
            self.inner.running.fetch_sub(1, Ordering::AcqRel);
        }
        spawned.map(|_| ())
    }

    /// Waits until every worker thread has stopped.
    pub(super) async fn wait_stopped(&self) {
        loop {
            let stopped = self.inner.stopped.notified();
            tokio::pin!(stopped);
            stopped.as_mut().enable();
            if self.inner.running.load(Ordering::Acquire) == 0 {
                return;
            }
            stopped.await;
        }
    }
}

/// A connection accepted by the hand-off acceptor, on its way to a worker:
/// a std socket, registered with no runtime until the worker takes it.
pub(super) enum Handed {
    Tcp(std::net::TcpStream),
    #[cfg(feature = "unix")]
    Unix(std::os::unix::net::UnixStream),
}

/// A worker's end of the hand-off channel. Only that worker's accept loop
/// polls it, so the lock is never contended.
pub(super) struct HandoffReceiver(Mutex<mpsc::UnboundedReceiver<Handed>>);

impl HandoffReceiver {
    pub(super) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<Handed>> {
        lock(&self.0).poll_recv(cx)
    }
}

/// The senders of the hand-off channels, and whose turn it is.
struct Handoff {
    senders: Vec<mpsc::UnboundedSender<Handed>>,
    next: AtomicUsize,
}

/// What every worker of a server shares: the gauges the limits are checked
/// against, and the hand-off channels.
///
/// Each gauge is touched once when a connection is accepted and once when it
/// ends (or finishes its handshake): never per read or write.
///
/// A worker reserves room for a connection *after* its `accept()` returned
/// (a compare-and-swap against the limits), so the limits are exact however
/// many workers accept at once; at a limit each worker holds at most the one
/// connection it accepted, unserved, until a connection ends anywhere. The
/// check before `accept()` only keeps clients in the kernel's backlog while
/// the server is full.
pub(super) struct Pool {
    /// Connections open (or reserved) on every worker, handshakes included,
    /// in the low 32 bits; handshakes in progress (or reserved: PROXY
    /// header, TLS) in the high 32. One word, so one compare-and-swap checks both limits and a
    /// failed reservation leaves nothing to undo.
    gauges: AtomicU64,
    peak: AtomicU64,
    /// Woken when a connection ends on any worker: accept loops waiting for
    /// room wait on it.
    pub(super) room: Notify,
    handoff: Option<Handoff>,
}

/// One connection in [`Pool::gauges`].
const ONE_OPEN: u64 = 1;
/// One handshake in [`Pool::gauges`].
const ONE_HANDSHAKE: u64 = 1 << 32;

/// Open connections and handshakes in a gauges word.
fn split(gauges: u64) -> (usize, usize) {
    ((gauges & 0xffff_ffff) as usize, (gauges >> 32) as usize)
}

impl Pool {
    fn new(senders: Option<Vec<mpsc::UnboundedSender<Handed>>>) -> Pool {
        Pool {
            gauges: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            room: Notify::new(),
            handoff: senders.map(|senders| Handoff {
                senders,
                next: AtomicUsize::new(0),
            }),
        }
    }

    /// Open connections and handshakes, for the limits.
    pub(super) fn load(&self) -> (usize, usize) {
        split(self.gauges.load(Ordering::Acquire))
    }

    /// Takes room for one connection (and one handshake, if `handshake`:
    /// the server has handshake steps) if the limits leave it; false, with
    /// nothing taken, if not.
    fn try_reserve(
        &self,
        max_open: Option<usize>,
        handshake: bool,
        max_handshakes: Option<usize>,
    ) -> bool {
        let add = ONE_OPEN + if handshake { ONE_HANDSHAKE } else { 0 };
        let reserved = self
            .gauges
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |gauges| {
                let (open, handshaking) = split(gauges);
                let full = max_open.is_some_and(|max| open >= max)
                    || max_handshakes.is_some_and(|max| handshaking >= max)
                    || open >= u32::MAX as usize;
                (!full).then_some(gauges + add)
            });
        match reserved {
            Ok(before) => {
                self.peak
                    .fetch_max(split(before).0 as u64 + 1, Ordering::Relaxed);
                true
            }
            Err(_) => false,
        }
    }

    /// One connection gone, or a reservation given back; `handshake`: it
    /// held a handshake too.
    pub(super) fn closed(&self, handshake: bool) {
        let sub = ONE_OPEN + if handshake { ONE_HANDSHAKE } else { 0 };
        self.gauges.fetch_sub(sub, Ordering::AcqRel);
    }

    /// A handshake succeeded: the connection stays open.
    pub(super) fn handshake_done(&self) {
        self.gauges.fetch_sub(ONE_HANDSHAKE, Ordering::AcqRel);
    }

    /// The most connections open at once, over every worker.
    pub(super) fn peak_open(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Sends `handed` to the next worker whose channel is open. Gives it back
    /// if every worker has closed (the caller drops it, closing the socket).
    fn hand(&self, mut handed: Handed) -> Option<Handed> {
        let handoff = self.handoff.as_ref()?;
        let n = handoff.senders.len();
        for _ in 0..n {
            let k = handoff.next.fetch_add(1, Ordering::Relaxed) % n;
            match handoff.senders[k].send(handed) {
                Ok(()) => return None,
                Err(mpsc::error::SendError(back)) => handed = back,
            }
        }
        Some(handed)
    }
}

impl ServerInner {
    /// The hand-off acceptor's step: detaches what it accepted from this
    /// runtime and sends it to the next worker.
    pub(super) fn hand_off(&self, accepted: Accepted) {
        let handed = match accepted {
            Accepted::Tcp(stream) => stream.into_std().map(Handed::Tcp),
            #[cfg(feature = "unix")]
            Accepted::Unix(stream) => stream.into_std().map(Handed::Unix),
            Accepted::Handed(handed) => Ok(handed),
        };
        let Some(pool) = &self.pool else {
            return;
        };
        let dropped = match handed {
            Ok(handed) => pool.hand(handed).is_some(),
            Err(e) => {
                self.counters.accept_error();
                tracing::debug!(error = %e, "an accepted connection could not be handed over; dropped");
                true
            }
        };
        if dropped {
            self.release();
        }
    }

    /// Waits until the limits leave room for the connection just accepted,
    /// and takes it (see [`Pool`]). Without workers there is nothing to do:
    /// the accept loop is the only one admitting.
    pub(super) async fn reserve(&self) {
        let Some(pool) = &self.pool else {
            return;
        };
        let max_handshakes = self.is_tls().then_some(self.max_tls_handshakes());
        let mut waited = false;
        loop {
            let room = pool.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if pool.try_reserve(
                self.options.max_connections,
                self.has_handshake(),
                max_handshakes,
            ) {
                if waited {
                    tracing::debug!("room made; the connection held at the limit is admitted");
                }
                return;
            }
            waited = true;
            room.await;
        }
    }

    /// Gives back the room [`reserve`](Self::reserve) took, for a connection
    /// that never started.
    pub(super) fn release(&self) {
        if let Some(pool) = &self.pool {
            pool.closed(self.has_handshake());
            self.notify_changed();
        }
    }

    /// Whether this server speaks TLS (`max_tls_handshakes` applies).
    pub(super) fn is_tls(&self) -> bool {
        super::handshake::tls_on(&self.options)
    }

    fn max_tls_handshakes(&self) -> usize {
        #[cfg(feature = "tls")]
        return self.options.max_tls_handshakes;
        #[cfg(not(feature = "tls"))]
        usize::MAX
    }
}
