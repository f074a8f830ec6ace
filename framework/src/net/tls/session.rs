//! TLS machinery behind [`crate::net::tls`]: the TLS stream a driver runs, the
//! handshakes with their time limits, and the server/client set-up paths.
//!
//! A TLS connection is a tokio-rustls stream over [`Plain`], which adapts any
//! [`StreamIo`] (a TCP socket, or a transport taken back by `start_tls`) and first
//! replays bytes that were read before the upgrade. The driver sees a [`TlsIo`]:
//! plaintext in and out, `poll_flush` pushing out records rustls still holds, and
//! `poll_close` sending close_notify and then waiting for the peer's.

use std::future::Future;
use std::io::{self, IoSlice};
use std::os::fd::BorrowedFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{Error, Result};
use crate::net::tls::{ClientTls, ServerTls};
use crate::transport::dispatch::Handler;
use crate::transport::driver::Detached;
use crate::transport::io::{Prefixed, StreamIo, poll_read_into_slice};
use crate::transport::start::{ConnectionConfig, Ending, MadeOn, OnFinish, start_connection};
use crate::transport::tls_info::TlsInfo;
use crate::transport::{Capabilities, ExtraInfo, SocketOptions, Transport};

/// A byte stream under TLS: replays `prefix` first, then reads the inner stream.
pub(crate) struct Plain {
    io: Box<dyn StreamIo>,
}

impl Plain {
    pub(crate) fn new(io: Box<dyn StreamIo>, prefix: Bytes) -> Self {
        Plain {
            io: Prefixed::wrap(io, prefix),
        }
    }
}

impl AsyncRead for Plain {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = ready!(this.io.poll_read_slice(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Plain {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .io
            .poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().io.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // No FIN after close_notify: the peer may still answer with its own, and
        // the socket closes when the driver drops it.
        self.poll_flush(cx)
    }
}

/// Where a TLS stream's graceful close has got to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Closing {
    /// close_notify not sent yet.
    Open,
    /// close_notify queued; flushing it.
    Notifying,
    /// Waiting for the peer's close_notify (or EOF), discarding data.
    Draining,
}

/// The stream a driver runs for a TLS connection.
pub(crate) struct TlsIo {
    stream: tokio_rustls::TlsStream<Plain>,
    closing: Closing,
}

impl TlsIo {
    fn new(stream: tokio_rustls::TlsStream<Plain>) -> Self {
        TlsIo {
            stream,
            closing: Closing::Open,
        }
    }
}

impl StreamIo for TlsIo {
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        crate::transport::io::poll_read_buf(Pin::new(&mut self.stream), cx, buf)
    }

    fn poll_read_slice(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        poll_read_into_slice(&mut self.stream, cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    /// TLS 1.3 only (the transport offers `write_eof` only then): sends
    /// close_notify and flushes it, without closing the socket, so the peer's
    /// data still arrives.
    fn poll_write_eof(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(Pin::new(&mut self.stream).poll_shutdown(cx))?;
        if self.closing == Closing::Open {
            // close_notify went out: a later close() only waits for the peer's.
            self.closing = Closing::Draining;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.closing == Closing::Open {
            self.closing = Closing::Notifying;
        }
        if self.closing == Closing::Notifying {
            // Queues close_notify (once) and flushes every record.
            ready!(Pin::new(&mut self.stream).poll_shutdown(cx))?;
            self.closing = Closing::Draining;
        }
        // Wait for the peer's close_notify or EOF; whatever else arrives is dropped.
        let mut scratch = [0u8; 8 * 1024];
        loop {
            let mut read_buf = ReadBuf::new(&mut scratch);
            match ready!(Pin::new(&mut self.stream).poll_read(cx, &mut read_buf)) {
                Ok(()) if read_buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Ok(()) => continue,
                // The peer went away without its close_notify: we were closing anyway.
                Err(_) => return Poll::Ready(Ok(())),
            }
        }
    }

    fn socket(&self) -> Option<BorrowedFd<'_>> {
        self.stream.get_ref().0.io.socket()
    }
}

/// A finished handshake: the TLS io, and the connection's facts with its TLS details.
pub(crate) type Handshaken = (Box<dyn StreamIo>, ExtraInfo);

impl ServerTls {
    /// Runs the server side of a handshake over `io` (after replaying
    /// `already_read`), bounded by the handshake timeout.
    ///
    /// The configuration is taken now, so a hot reload after this call does
    /// not change a handshake already under way.
    pub(crate) fn accept(
        &self,
        io: Box<dyn StreamIo>,
        already_read: Bytes,
        extra: ExtraInfo,
    ) -> impl Future<Output = Result<Handshaken>> + Send + 'static {
        let acceptor = tokio_rustls::TlsAcceptor::from(self.config());
        let timeout = self.handshake_timeout;
        async move {
            let accepting = acceptor.accept(Plain::new(io, already_read));
            let stream = bounded(timeout, accepting).await?;
            let (_, connection) = stream.get_ref();
            let server_name = connection.server_name().map(str::to_owned);
            let info = TlsInfo::from_state(connection, server_name);
            Ok(handshaken(TlsIo::new(stream.into()), extra, info))
        }
    }
}

impl ClientTls {
    /// Runs the client side of a handshake with the server `name` over `io`
    /// (after replaying `already_read`), bounded by the handshake timeout.
    pub(crate) fn handshake(
        &self,
        name: ServerName<'static>,
        io: Box<dyn StreamIo>,
        already_read: Bytes,
        extra: ExtraInfo,
    ) -> impl Future<Output = Result<Handshaken>> + Send + 'static {
        let server_name = match &name {
            ServerName::DnsName(dns) => Some(dns.as_ref().to_owned()),
            other => Some(other.to_str().into_owned()),
        };
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        let timeout = self.handshake_timeout;
        async move {
            let stream = bounded(
                timeout,
                connector.connect(name, Plain::new(io, already_read)),
            )
            .await?;
            let info = TlsInfo::from_state(stream.get_ref().1, server_name);
            Ok(handshaken(TlsIo::new(stream.into()), extra, info))
        }
    }

    /// [`handshake`](Self::handshake) on a fresh connection.
    pub(crate) fn connect(
        &self,
        name: ServerName<'static>,
        io: Box<dyn StreamIo>,
        extra: ExtraInfo,
    ) -> impl Future<Output = Result<Handshaken>> + Send + 'static {
        self.handshake(name, io, Bytes::new(), extra)
    }
}

/// A handshake bounded by the handshake timeout, its failure as an [`Error`].
async fn bounded<T>(
    timeout: Duration,
    handshake: impl Future<Output = io::Result<T>>,
) -> Result<T> {
    tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| Error::Timeout("SSL handshake is taking longer than the handshake timeout"))?
        .map_err(Error::from)
}

/// The io and facts of a connection whose handshake is done.
fn handshaken(io: TlsIo, mut extra: ExtraInfo, info: TlsInfo) -> Handshaken {
    tracing::debug!(version = ?info.protocol_version, "TLS handshake done");
    extra.caps = if info.protocol_version == rustls::ProtocolVersion::TLSv1_3 {
        Capabilities::TLS13
    } else {
        Capabilities::TLS
    };
    extra.tls = Some(Arc::new(info));
    (Box::new(io), extra)
}

/// Which side `start_tls` plays, with its settings.
pub(crate) enum Upgrade {
    Server(ServerTls),
    Client(ClientTls, ServerName<'static>),
}

/// Holds the protocol while an upgrade is in flight, so that a failed,
/// aborted or cancelled upgrade still ends it with `connection_lost`.
struct InFlight {
    handler: Handler,
    on_finish: Option<OnFinish>,
    /// What `connection_lost` gets: `None` until the upgrade failed (then a
    /// drop means the `start_tls` future was cancelled); `Some(None)` after
    /// an `abort()`.
    outcome: Option<Option<Error>>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let handler = std::mem::replace(&mut self.handler, Handler::Finished);
        if matches!(handler, Handler::Finished) {
            // Handed to the new driver.
            return;
        }
        let outcome = self.outcome.take().unwrap_or(Some(Error::Cancelled(Some(
            "start_tls() was cancelled during the handshake".to_owned(),
        ))));
        let ending = Ending::of(outcome.as_ref());
        handler.base().connection_lost(outcome);
        if let Some(on_finish) = self.on_finish.take() {
            on_finish(ending);
        }
    }
}

/// The part of `start_tls` after the detach was requested.
pub(crate) async fn upgrade(
    old: Transport,
    detaching: impl std::future::Future<Output = Result<Detached>>,
    extra: ExtraInfo,
    socket_options: Option<SocketOptions>,
    upgrade: Upgrade,
    already_read: Bytes,
) -> Result<Transport> {
    let Detached {
        io,
        handler,
        reading_paused,
        on_finish,
        settings,
    } = detaching.await?;
    let mut in_flight = InFlight {
        handler,
        on_finish,
        outcome: None,
    };
    let mut extra = extra;
    extra.tls = None;
    let handshaking = async {
        match upgrade {
            Upgrade::Server(tls) => (
                tls.accept(io, already_read, extra).await,
                tls.shutdown_timeout,
            ),
            Upgrade::Client(tls, name) => (
                tls.handshake(name, io, already_read, extra).await,
                tls.shutdown_timeout,
            ),
        }
    };
    // An abort() on the old handle stops the handshake (and drops the socket).
    let aborted = std::future::poll_fn(|cx| old.lock().poll_upgrade_aborted(cx));
    let (handshake, shutdown_timeout) = tokio::select! {
        biased;
        () = aborted => {
            tracing::debug!("start_tls aborted during the handshake");
            in_flight.outcome = Some(None);
            return Err(Error::Closed("transport"));
        }
        done = handshaking => done,
    };
    let (io, extra) = match handshake {
        Ok(done) => done,
        Err(e) => {
            in_flight.outcome = Some(Some(e.clone()));
            return Err(e);
        }
    };
    let handler = std::mem::replace(&mut in_flight.handler, Handler::Finished);
    // The upgraded connection keeps the old one's settings (backpressure
    // hold, time limits, a server's byte counters).
    let mut config = ConnectionConfig::new(MadeOn::Already)
        .with_shutdown_timeout(Some(shutdown_timeout))
        .with_on_finish(in_flight.on_finish.take())
        .with_settings(settings);
    // The old handle (kept by the protocol, or by a server for close_clients)
    // writes to and closes the TLS connection from now on.
    config.upgrade_of = Some(old);
    config.reading_paused = reading_paused;
    drop(in_flight);
    start_connection(io, handler, Transport::new(extra, socket_options), config)
}
