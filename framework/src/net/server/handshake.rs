//! The pre-protocol stage of an accepted connection: the steps it goes
//! through before its protocol is made, each bounded by its own time limit.
//!
//! ```text
//!  accepted io --[PROXY header: read, check, addresses]--[TLS handshake]--> start
//!                  ServerOptions::proxy_protocol           ServerOptions::tls
//! ```
//!
//! Either step may be absent; with neither, a connection starts at once and
//! never enters the stage. The PROXY header comes first and in the clear (a
//! proxy relays TLS untouched), and whatever arrived after it is handed to
//! the next step: the TLS handshake, or the protocol's first `data_received`.
//! The registry (`accept.rs`) runs the stage on a task the server can end.

use std::time::Duration;

use bytes::Bytes;

use super::options::ServerOptions;
use crate::error::Error;
use crate::net::proxy::stream::{apply, read_header};
use crate::transport::ExtraInfo;
use crate::transport::io::{Prefixed, StreamIo};

/// One step of the stage, as counted and logged when it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Reading and checking the PROXY protocol header.
    ProxyHeader,
    /// The TLS handshake.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Tls,
}

impl Step {
    /// What one failure of the step is called in the log.
    pub(crate) fn failure(self) -> &'static str {
        match self {
            Step::ProxyHeader => "PROXY protocol header rejected",
            Step::Tls => "TLS handshake failed",
        }
    }

    /// What `count` failures of the step are called in a summary.
    pub(crate) fn failures(self, count: u64) -> &'static str {
        match (self, count) {
            (Step::ProxyHeader, 1) => "PROXY protocol header rejected",
            (Step::ProxyHeader, _) => "PROXY protocol headers rejected",
            (Step::Tls, 1) => "TLS handshake failed",
            (Step::Tls, _) => "TLS handshakes failed",
        }
    }
}

/// A finished stage: what the connection starts with.
pub(super) struct Ready {
    pub(super) io: Box<dyn StreamIo>,
    pub(super) extra: ExtraInfo,
    /// Bounds the io's graceful close (TLS close_notify).
    pub(super) shutdown_timeout: Option<Duration>,
}

/// A failed stage: which step, and why.
pub(super) struct Failed {
    pub(super) step: Step,
    pub(super) error: Error,
}

/// Whether `options` serve TLS.
pub(super) fn tls_on(options: &ServerOptions) -> bool {
    #[cfg(feature = "tls")]
    return options.tls.is_some();
    #[cfg(not(feature = "tls"))]
    {
        let _ = options;
        false
    }
}

/// Whether connections accepted with `options` go through the stage at all.
pub(super) fn has_steps(options: &ServerOptions) -> bool {
    options.proxy_protocol.is_some() || tls_on(options)
}

/// Names the steps a connection accepted with `options` goes through, for the log.
pub(super) fn describe(options: &ServerOptions) -> &'static str {
    match (options.proxy_protocol.is_some(), tls_on(options)) {
        (true, true) => "PROXY header read, then TLS handshake,",
        (true, false) => "PROXY header read",
        (false, _) => "TLS handshake",
    }
}

/// Runs every step `options` asks for on `io`, in order. The TLS
/// configuration is the one current when the handshake starts (after the
/// PROXY header).
pub(super) fn run(
    options: &ServerOptions,
    mut io: Box<dyn StreamIo>,
    mut extra: ExtraInfo,
) -> impl Future<Output = Result<Ready, Failed>> + Send + 'static {
    let proxy = options.proxy_protocol;
    let header_timeout = options.proxy_header_timeout;
    #[cfg(feature = "tls")]
    let tls = options.tls.clone();
    async move {
        let mut already_read = Bytes::new();
        if let Some(config) = proxy {
            let read = read_header(&mut *io, &config, header_timeout)
                .await
                .map_err(|error| Failed {
                    step: Step::ProxyHeader,
                    error,
                })?;
            tracing::debug!(header = ?read.header, "PROXY protocol header read");
            apply(&mut extra, &read);
            already_read = read.rest;
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = tls {
            let (io, extra) =
                tls.accept(io, already_read, extra)
                    .await
                    .map_err(|error| Failed {
                        step: Step::Tls,
                        error,
                    })?;
            return Ok(Ready {
                io,
                extra,
                shutdown_timeout: Some(tls.shutdown_timeout),
            });
        }
        Ok(Ready {
            io: Prefixed::wrap(io, already_read),
            extra,
            shutdown_timeout: None,
        })
    }
}
