//! The HAProxy PROXY protocol, versions 1 and 2: a sans-IO header parser and
//! an encoder for the client side.
//!
//! A proxy in front of a server prepends one header to each connection it
//! relays, carrying the addresses of the client it accepted. The receiving
//! server reads and checks that header before anything else, then treats the
//! rest of the stream as the client's bytes.
//!
//! [`ProxyProtocol::parse`] looks at the bytes received so far and says either
//! "need at least N more" or "here is the header, and it took this many
//! bytes"; it never owns a buffer and never looks past the header, so a driver
//! hands `buf[consumed..]` to the protocol untouched.

use std::fmt;
use std::net::{SocketAddrV4, SocketAddrV6};

mod config;
mod error;
mod header;
pub(crate) mod stream;
mod v1;
mod v2;

pub use config::ProxyProtocol;
pub use error::{ProxyEncodeError, ProxyHeaderError};
pub use header::ProxyHeader;

/// Which wire format a header uses.
///
/// # Examples
///
/// ```
/// use aioproto::{ProxyHeader, ProxyParse, ProxyVersion};
///
/// let Ok(ProxyParse::Complete { header, .. }) = ProxyHeader::parse(b"PROXY UNKNOWN\r\n") else {
///     panic!("a whole header");
/// };
/// assert_eq!(header.version(), ProxyVersion::V1);
/// assert_eq!(ProxyVersion::V2.to_string(), "v2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyVersion {
    /// The human-readable line: `PROXY TCP4 1.2.3.4 5.6.7.8 1234 80\r\n`.
    V1,
    /// The binary format, with a 12-byte signature, UNIX addresses and TLVs.
    V2,
}

impl fmt::Display for ProxyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProxyVersion::V1 => "v1",
            ProxyVersion::V2 => "v2",
        })
    }
}

/// What a v2 header says about the connection.
///
/// # Examples
///
/// ```
/// use aioproto::{ProxyCommand, ProxyHeader};
///
/// assert_eq!(ProxyHeader::local().command(), ProxyCommand::Local);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyCommand {
    /// The proxy opened the connection itself (a health check): use the real
    /// endpoints. The header carries no addresses.
    Local,
    /// The connection is relayed on behalf of a client; v1 headers always say this.
    Proxy,
}

/// The transport protocol of the relayed connection.
///
/// # Examples
///
/// ```
/// use aioproto::{ProxyHeader, ProxyTransport};
///
/// let h = ProxyHeader::udp("10.0.0.1:53".parse().unwrap(), "10.0.0.2:53".parse().unwrap());
/// assert_eq!(h.transport(), Some(ProxyTransport::Datagram));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyTransport {
    /// `SOCK_STREAM`: TCP or a Unix stream socket.
    Stream,
    /// `SOCK_DGRAM`: UDP or a Unix datagram socket (v2 only).
    Datagram,
}

/// The source and destination a header carries.
///
/// IPv6 scope ids and flow info are not part of the protocol: they are always 0.
/// Unix addresses are the raw bytes of `sun_path` with trailing NULs removed
/// (an abstract address keeps its leading NUL).
///
/// # Examples
///
/// ```
/// use aioproto::{ProxyAddresses, ProxyHeader};
///
/// let h = ProxyHeader::unix_stream(b"/run/client.sock".to_vec(), b"/run/server.sock".to_vec());
/// let ProxyAddresses::Unix { source, .. } = h.addresses() else { panic!("unix") };
/// assert_eq!(source, b"/run/client.sock");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyAddresses {
    /// No addresses: v1 `UNKNOWN`, v2 `LOCAL`, or v2 with the `AF_UNSPEC`
    /// family or protocol. The connection's real addresses apply.
    Unspecified,
    /// TCP or UDP over IPv4.
    Ipv4 {
        /// The client.
        source: SocketAddrV4,
        /// The address the client connected to.
        destination: SocketAddrV4,
    },
    /// TCP or UDP over IPv6.
    Ipv6 {
        /// The client.
        source: SocketAddrV6,
        /// The address the client connected to.
        destination: SocketAddrV6,
    },
    /// A Unix socket (v2 only).
    Unix {
        /// The client's path, without trailing NULs.
        source: Vec<u8>,
        /// The path the client connected to, without trailing NULs.
        destination: Vec<u8>,
    },
}

/// One v2 Type-Length-Value record, kept as received.
///
/// # Examples
///
/// ```
/// use aioproto::{ProxyHeader, ProxyTlv};
///
/// let h = ProxyHeader::local().with_tlv(ProxyTlv::AUTHORITY, b"example.com".to_vec());
/// assert_eq!(h.tlv(ProxyTlv::AUTHORITY), Some(&b"example.com"[..]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyTlv {
    kind: u8,
    value: Vec<u8>,
}

impl ProxyTlv {
    /// `PP2_TYPE_ALPN`: the application protocol, e.g. `h2`.
    pub const ALPN: u8 = 0x01;
    /// `PP2_TYPE_AUTHORITY`: the host name the client asked for (TLS SNI).
    pub const AUTHORITY: u8 = 0x02;
    /// `PP2_TYPE_CRC32C`: a checksum of the whole header, checked by the parser.
    pub const CRC32C: u8 = 0x03;
    /// `PP2_TYPE_NOOP`: padding, to be ignored.
    pub const NOOP: u8 = 0x04;
    /// `PP2_TYPE_UNIQUE_ID`: an opaque connection id of up to 128 bytes.
    pub const UNIQUE_ID: u8 = 0x05;
    /// `PP2_TYPE_SSL`: TLS details, itself a list of sub-TLVs (not decoded here).
    pub const SSL: u8 = 0x20;
    /// `PP2_TYPE_NETNS`: the network namespace's name.
    pub const NETNS: u8 = 0x30;

    /// A TLV of type `kind` holding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let tlv = aioproto::ProxyTlv::new(0xE0, b"custom".to_vec());
    /// assert_eq!((tlv.kind(), tlv.value()), (0xE0, &b"custom"[..]));
    /// ```
    pub fn new(kind: u8, value: impl Into<Vec<u8>>) -> Self {
        ProxyTlv {
            kind,
            value: value.into(),
        }
    }

    /// The type byte.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(aioproto::ProxyTlv::new(aioproto::ProxyTlv::ALPN, b"h2".to_vec()).kind(), 0x01);
    /// ```
    pub fn kind(&self) -> u8 {
        self.kind
    }

    /// The value bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(aioproto::ProxyTlv::new(0xE0, vec![1, 2]).value(), [1, 2]);
    /// ```
    pub fn value(&self) -> &[u8] {
        &self.value
    }
}

/// What [`ProxyProtocol::parse`] made of the bytes so far.
///
/// # Examples
///
/// ```
/// use aioproto::{ProxyHeader, ProxyParse};
///
/// assert_eq!(ProxyHeader::parse(b"PROXY ").unwrap(), ProxyParse::Incomplete { needed: 9 });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyParse {
    /// The bytes are a valid start of a header, but it is not complete.
    Incomplete {
        /// The header is at least this many bytes longer than the input
        /// (always 1 or more). Waiting for this many more bytes before
        /// parsing again is safe: it never reads past the header. Exact once
        /// a v2 header's first 16 bytes are in.
        needed: usize,
    },
    /// A whole, valid header.
    Complete {
        /// The header.
        header: ProxyHeader,
        /// Its length: the client's data starts at `buf[consumed..]`.
        consumed: usize,
    },
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
