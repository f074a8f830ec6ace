//! The PROXY header on a live stream: reading and checking it before a
//! server's protocol starts, writing it before a client's does, and what it
//! changes about the connection's addresses.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::{ProxyAddresses, ProxyHeader, ProxyParse, ProxyProtocol};
use crate::error::{Error, Result};
use crate::transport::io::StreamIo;
use crate::transport::proxy_info::ProxyInfo;
use crate::transport::{ExtraInfo, Transport};

/// The smallest read while the header is incomplete. Reads never overrun the
/// header by more than this (what follows is kept for the protocol), and a
/// header rarely takes more than one read.
const READ_CHUNK: usize = 512;

/// A header read off the stream.
pub(crate) struct ReadHeader {
    /// The decoded header.
    pub(crate) header: ProxyHeader,
    /// The header's bytes, exactly.
    pub(crate) raw: Bytes,
    /// What arrived after the header in the same reads: the client's first bytes.
    pub(crate) rest: Bytes,
}

/// Reads a header off `io`, accepted by `config`, within `timeout`.
///
/// Never holds more than the longest header `config` accepts plus one read.
///
/// # Errors
///
/// [`Error::Timeout`] after `timeout`; [`Error::Other`] with the
/// [`ProxyHeaderError`](super::ProxyHeaderError) for a malformed header (or
/// data that is not one); an I/O error (`UnexpectedEof` if the peer closed
/// before the header was complete).
pub(crate) async fn read_header(
    io: &mut dyn StreamIo,
    config: &ProxyProtocol,
    timeout: Duration,
) -> Result<ReadHeader> {
    let reading = async {
        let mut buf = BytesMut::new();
        loop {
            let needed = match config.parse(&buf).map_err(Error::other)? {
                ProxyParse::Complete { header, consumed } => {
                    let raw = buf.split_to(consumed).freeze();
                    return Ok(ReadHeader {
                        header,
                        raw,
                        rest: buf.freeze(),
                    });
                }
                ProxyParse::Incomplete { needed } => needed,
            };
            // Into a slice of exactly this size: what is held stays bounded
            // whatever capacity the buffer grew to.
            let start = buf.len();
            buf.resize(start + needed.max(READ_CHUNK), 0);
            let read = poll_fn(|cx| io.poll_read_slice(cx, &mut buf[start..])).await;
            buf.truncate(start + read.as_ref().map_or(0, |n| *n));
            if read? == 0 {
                return Err(Error::from(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before a complete PROXY protocol header",
                )));
            }
        }
    };
    tokio::time::timeout(timeout, reading).await.map_err(|_| {
        Error::Timeout("no complete PROXY protocol header within the header timeout")
    })?
}

/// Writes all of `header` to `io` and flushes it, within `timeout`.
///
/// # Errors
///
/// The I/O error, or [`Error::Timeout`] after `timeout`.
pub(crate) async fn write_header(
    io: &mut dyn StreamIo,
    header: &[u8],
    timeout: Duration,
) -> Result<()> {
    let writing = async {
        let mut sent = 0;
        while sent < header.len() {
            let n =
                poll_fn(|cx| io.poll_write_vectored(cx, &[IoSlice::new(&header[sent..])])).await?;
            if n == 0 {
                return Err(Error::from(io::Error::from(io::ErrorKind::WriteZero)));
            }
            sent += n;
        }
        poll_fn(|cx| io.poll_flush(cx)).await?;
        Ok(())
    };
    tokio::time::timeout(timeout, writing)
        .await
        .map_err(|_| Error::Timeout("sending the PROXY protocol header"))?
}

/// The connection's facts as the header tells them: the header's addresses
/// replace the socket's (kept in [`ProxyInfo`]); a LOCAL or UNKNOWN header
/// (no addresses) keeps the socket's.
pub(crate) fn apply(extra: &mut ExtraInfo, read: &ReadHeader) {
    let socket = ProxyInfo {
        socket_peername: extra.peername,
        socket_sockname: extra.sockname,
        socket_peer_path: extra.peer_path.clone(),
        socket_sock_path: extra.sock_path.clone(),
        header: read.raw.clone(),
    };
    match read.header.addresses() {
        ProxyAddresses::Unspecified => {}
        ProxyAddresses::Ipv4 { .. } | ProxyAddresses::Ipv6 { .. } => {
            extra.peername = read.header.source();
            extra.sockname = read.header.destination();
            extra.peer_path = None;
            extra.sock_path = None;
        }
        ProxyAddresses::Unix {
            source,
            destination,
        } => {
            extra.peername = None;
            extra.sockname = None;
            extra.peer_path = Some(unix_path(source));
            extra.sock_path = Some(unix_path(destination));
        }
    }
    extra.proxy = Some(Arc::new(socket));
}

/// A Unix address from a header (raw `sun_path` bytes) as a path.
fn unix_path(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

impl Transport {
    /// The PROXY protocol header the connection began with, decoded (its
    /// version, command, addresses and TLVs); `None` without one. See
    /// [`ServerOptions::proxy_protocol`](crate::ServerOptions::proxy_protocol).
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{BaseProtocol, Protocol, ProxyTlv, Transport};
    ///
    /// struct Tenant;
    /// impl BaseProtocol for Tenant {
    ///     fn connection_made(&mut self, t: &Transport) {
    ///         let id = t.proxy_header().and_then(|h| h.tlv(ProxyTlv::UNIQUE_ID).map(<[u8]>::to_vec));
    ///         println!("connection id from the proxy: {id:?}");
    ///     }
    /// }
    /// impl Protocol for Tenant {}
    /// ```
    pub fn proxy_header(&self) -> Option<ProxyHeader> {
        let raw = &self.proxy()?.header;
        // Checked when it arrived, under a limit no larger than this one.
        let any = ProxyProtocol::any().with_max_v2_len(ProxyProtocol::MAX_V2_LEN);
        match any.parse(raw) {
            Ok(ProxyParse::Complete { header, .. }) => Some(header),
            _ => None,
        }
    }
}
