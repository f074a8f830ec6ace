//! TLS machinery behind [`crate::net::tls`]: the TLS stream a driver runs, the
//! handshakes with their time limits, and the server/client set-up paths.
//!
//! A TLS connection is a tokio-rustls stream over [`Plain`], which adapts any
//! [`StreamIo`] (a TCP socket, or a transport taken back by `start_tls`) and first
//! replays bytes that were read before the upgrade. The driver sees a [`TlsIo`]:
//! plaintext in and out, `poll_flush` pushing out records rustls still holds, and
//! `poll_close` sending close_notify and then waiting for the peer's.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use std::os::fd::BorrowedFd;

use bytes::{Buf, Bytes, BytesMut};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::net::connect::{ConnectOptions, start_with_config};
use crate::net::server::ServerInner;
use crate::net::tls::{ClientTls, ServerTls, TlsInfo};
use crate::transport::dispatch::{Handler, IntoHandler};
use crate::transport::driver::{
    Detached, DriverConfig, StreamDriver, StreamIo, poll_read_into_slice, tcp_io,
};
use crate::transport::{Capabilities, ExtraInfo, SocketOptions, Transport};

/// A byte stream under TLS: replays `prefix` first, then reads the inner stream.
pub(crate) struct Plain {
    prefix: Bytes,
    io: Box<dyn StreamIo>,
}

impl Plain {
    pub(crate) fn new(io: Box<dyn StreamIo>, prefix: Bytes) -> Self {
        Plain { prefix, io }
    }
}

impl AsyncRead for Plain {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
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
        tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, buf)
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

    fn poll_write_eof(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "TLS transports cannot half-close",
        )))
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

/// Runs a server handshake on `plain`, bounded by `timeout`.
async fn server_handshake(
    config: Arc<rustls::ServerConfig>,
    plain: Plain,
    timeout: Duration,
) -> Result<(TlsIo, TlsInfo)> {
    let accepting = tokio_rustls::TlsAcceptor::from(config).accept(plain);
    let stream = tokio::time::timeout(timeout, accepting)
        .await
        .map_err(|_| Error::Timeout("SSL handshake is taking longer than the handshake timeout"))?
        .map_err(Error::from)?;
    let (_, connection) = stream.get_ref();
    let server_name = connection.server_name().map(str::to_owned);
    let info = TlsInfo::from_state(connection, server_name);
    Ok((TlsIo::new(stream.into()), info))
}

/// Runs a client handshake on `plain`, bounded by `timeout`.
async fn client_handshake(
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    plain: Plain,
    timeout: Duration,
) -> Result<(TlsIo, TlsInfo)> {
    let server_name = match &name {
        ServerName::DnsName(dns) => Some(dns.as_ref().to_owned()),
        other => Some(other.to_str().into_owned()),
    };
    let connecting = tokio_rustls::TlsConnector::from(config).connect(name, plain);
    let stream = tokio::time::timeout(timeout, connecting)
        .await
        .map_err(|_| Error::Timeout("SSL handshake is taking longer than the handshake timeout"))?
        .map_err(Error::from)?;
    let info = TlsInfo::from_state(stream.get_ref().1, server_name);
    Ok((TlsIo::new(stream.into()), info))
}

/// The transport of a finished handshake.
fn tls_transport(mut extra: ExtraInfo, info: TlsInfo, options: Option<SocketOptions>) -> Transport {
    extra.tls = Some(Arc::new(info));
    extra.caps = Capabilities::TLS;
    let keepalive = options.is_some_and(|o| o.keepalive);
    let transport = Transport::new(extra, options);
    if keepalive {
        // Applied to the socket by the driver's first step.
        transport.set_keepalive(true);
    }
    transport
}

/// Server side: handshakes an accepted connection on its own task, then starts
/// its driver. A failed handshake is logged and calls no protocol callback.
pub(crate) fn accept(
    server: &Arc<ServerInner>,
    tls: &ServerTls,
    io: Box<dyn StreamIo>,
    extra: ExtraInfo,
    socket_options: Option<SocketOptions>,
) {
    let server = server.clone();
    let config = tls.config();
    let handshake_timeout = tls.handshake_timeout;
    let shutdown_timeout = tls.shutdown_timeout;
    let span = match (extra.peername, &extra.peer_path) {
        (Some(peer), _) => tracing::debug_span!("tls", peer = %peer),
        (None, Some(path)) => tracing::debug_span!("tls", peer = %path.display()),
        (None, None) => tracing::debug_span!("tls"),
    };
    // The server's wait_closed() waits for handshakes in progress too.
    let setup = server.setup_guard();
    let task = async move {
        match server_handshake(config, Plain::new(io, Bytes::new()), handshake_timeout).await {
            Ok((io, info)) => {
                tracing::debug!(version = ?info.protocol_version, "TLS handshake done");
                let transport = tls_transport(extra, info, socket_options);
                server.start_connection(Box::new(io), transport, Some(shutdown_timeout));
            }
            Err(e) => tracing::warn!(error = %e, "TLS handshake failed; connection dropped"),
        }
        drop(setup);
    };
    tokio::spawn(task.instrument(span));
}

/// Client side of `create_connection` with TLS: handshake, then the protocol.
pub(crate) async fn connect<F, P, M>(
    stream: TcpStream,
    host: &str,
    tls: &ClientTls,
    options: &ConnectOptions,
    factory: F,
) -> Result<(Transport, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: IntoHandler<M>,
{
    let name = tls.name_for(host)?;
    let (io, extra, mut socket_options) = tcp_io(stream, !options.no_nodelay);
    socket_options.keepalive |= options.keepalive;
    let (io, info) = client_handshake(
        tls.config.clone(),
        name,
        Plain::new(io, Bytes::new()),
        tls.handshake_timeout,
    )
    .await?;
    let transport = tls_transport(extra, info, Some(socket_options));
    let config = DriverConfig {
        shutdown_timeout: Some(tls.shutdown_timeout),
        ..DriverConfig::default()
    };
    start_with_config(Box::new(io), transport, factory, config)
}

/// Which side `start_tls` plays, with its settings.
pub(crate) enum Upgrade {
    Server(ServerTls),
    Client(ClientTls, ServerName<'static>),
}

/// Holds the protocol while an upgrade is in flight, so that a failed or
/// cancelled upgrade still ends it with `connection_lost`.
struct InFlight {
    handler: Handler,
    on_finish: Option<Box<dyn FnOnce() + Send>>,
    outcome: Option<Error>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let handler = std::mem::replace(&mut self.handler, Handler::Finished);
        if matches!(handler, Handler::Finished) {
            // Handed to the new driver.
            return;
        }
        let outcome = self.outcome.take().unwrap_or(Error::Cancelled(Some(
            "start_tls() was cancelled during the handshake".to_owned(),
        )));
        handler.base().connection_lost(Some(outcome));
        if let Some(on_finish) = self.on_finish.take() {
            on_finish();
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
    } = detaching.await?;
    let mut in_flight = InFlight {
        handler,
        on_finish,
        outcome: None,
    };
    let plain = Plain::new(io, already_read);
    let (handshake, shutdown_timeout) = match upgrade {
        Upgrade::Server(tls) => (
            server_handshake(tls.config(), plain, tls.handshake_timeout).await,
            tls.shutdown_timeout,
        ),
        Upgrade::Client(tls, name) => (
            client_handshake(tls.config.clone(), name, plain, tls.handshake_timeout).await,
            tls.shutdown_timeout,
        ),
    };
    let (io, info) = match handshake {
        Ok(done) => done,
        Err(e) => {
            in_flight.outcome = Some(e.clone());
            return Err(e);
        }
    };
    let mut extra = extra;
    extra.tls = None;
    let transport = tls_transport(extra, info, socket_options);
    if reading_paused {
        transport.pause_reading();
    }
    // The old handle (kept by the protocol, or by a server for close_clients)
    // now writes to and closes the TLS connection.
    old.update(|state| state.upgraded_to = Some(transport.clone()));
    let handler = std::mem::replace(&mut in_flight.handler, Handler::Finished);
    let config = DriverConfig {
        shutdown_timeout: Some(shutdown_timeout),
        call_connection_made: false,
        on_finish: in_flight.on_finish.take(),
    };
    drop(in_flight);
    StreamDriver::new(Box::new(io), handler, transport.clone(), config).spawn();
    Ok(transport)
}
