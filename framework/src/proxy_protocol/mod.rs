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
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};

use bytes::{Bytes, BytesMut};

mod error;
mod v1;
mod v2;

pub use error::{ProxyEncodeError, ProxyHeaderError};

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
    pub fn kind(&self) -> u8 {
        self.kind
    }

    /// The value bytes.
    pub fn value(&self) -> &[u8] {
        &self.value
    }
}

/// A PROXY protocol header: who the client really is.
///
/// Parse one with [`ProxyHeader::parse`] (or a configured
/// [`ProxyProtocol::parse`]); build one to send with [`tcp`](Self::tcp),
/// [`udp`](Self::udp), [`unix_stream`](Self::unix_stream),
/// [`local`](Self::local) or [`unknown`](Self::unknown), then
/// [`encode`](Self::encode) it.
///
/// # Examples
///
/// A client announcing its address, and the server reading it back:
///
/// ```
/// use aioproto::{ProxyHeader, ProxyParse};
///
/// let client = "192.168.0.1:56324".parse().unwrap();
/// let server = "192.168.0.11:443".parse().unwrap();
/// let bytes = ProxyHeader::tcp(client, server).encode_v1().unwrap();
/// assert_eq!(&bytes[..], b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
///
/// let mut received = bytes.to_vec();
/// received.extend_from_slice(b"GET / HTTP/1.1\r\n");
/// let Ok(ProxyParse::Complete { header, consumed }) = ProxyHeader::parse(&received) else {
///     panic!("a whole header");
/// };
/// assert_eq!(header.source(), Some(client));
/// assert_eq!(&received[consumed..], b"GET / HTTP/1.1\r\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyHeader {
    version: ProxyVersion,
    command: ProxyCommand,
    transport: Option<ProxyTransport>,
    addresses: ProxyAddresses,
    tlvs: Vec<ProxyTlv>,
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

/// Which PROXY header versions a server accepts, and how long a v2 header may be.
///
/// The spec forbids guessing whether a header is present: a server configured
/// with this always requires one. Both versions are told apart by their first
/// byte, so accepting both costs nothing.
///
/// # Examples
///
/// ```
/// use aioproto::{ProxyHeaderError, ProxyProtocol};
///
/// let only_v2 = ProxyProtocol::v2().with_max_v2_len(512);
/// assert_eq!(only_v2.parse(b"PROXY UNKNOWN\r\n"), Err(ProxyHeaderError::NotProxyHeader));
/// assert!(ProxyProtocol::any().parse(b"PROXY UNKNOWN\r\n").is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProxyProtocol {
    v1: bool,
    v2: bool,
    max_v2_len: usize,
}

impl Default for ProxyProtocol {
    /// [`ProxyProtocol::any`].
    fn default() -> Self {
        Self::any()
    }
}

impl ProxyProtocol {
    /// The longest v1 line, CRLF included (spec §2.1).
    pub const MAX_V1_LEN: usize = 107;
    /// The longest v2 header the wire format can express: 16 + 65535 bytes.
    pub const MAX_V2_LEN: usize = 16 + 65535;
    /// The default cap on a v2 header: 4 KiB, far above any real header
    /// (addresses take at most 216 bytes, TLVs are typically a few dozen).
    pub const DEFAULT_MAX_V2_LEN: usize = 4096;

    /// Accepts v1 headers only.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(aioproto::ProxyProtocol::v1().accepts(aioproto::ProxyVersion::V1));
    /// ```
    pub const fn v1() -> Self {
        ProxyProtocol {
            v1: true,
            v2: false,
            max_v2_len: Self::DEFAULT_MAX_V2_LEN,
        }
    }

    /// Accepts v2 headers only.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!aioproto::ProxyProtocol::v2().accepts(aioproto::ProxyVersion::V1));
    /// ```
    pub const fn v2() -> Self {
        ProxyProtocol {
            v1: false,
            v2: true,
            max_v2_len: Self::DEFAULT_MAX_V2_LEN,
        }
    }

    /// Accepts both versions (the default), as the spec recommends for v2 receivers.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{ProxyProtocol, ProxyVersion};
    /// let any = ProxyProtocol::any();
    /// assert!(any.accepts(ProxyVersion::V1) && any.accepts(ProxyVersion::V2));
    /// ```
    pub const fn any() -> Self {
        ProxyProtocol {
            v1: true,
            v2: true,
            max_v2_len: Self::DEFAULT_MAX_V2_LEN,
        }
    }

    /// Caps v2 headers at `max` bytes in all, the fixed 16 included (default
    /// [`DEFAULT_MAX_V2_LEN`](Self::DEFAULT_MAX_V2_LEN)). A larger header is
    /// rejected as soon as its length field arrives, before its body is read.
    /// Values above [`MAX_V2_LEN`](Self::MAX_V2_LEN) change nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = aioproto::ProxyProtocol::any().with_max_v2_len(256);
    /// assert_eq!(cfg.max_v2_len(), 256);
    /// ```
    pub const fn with_max_v2_len(mut self, max: usize) -> Self {
        self.max_v2_len = max;
        self
    }

    /// The cap on v2 headers, in bytes.
    pub const fn max_v2_len(&self) -> usize {
        self.max_v2_len
    }

    /// Whether headers of `version` are accepted.
    pub const fn accepts(&self, version: ProxyVersion) -> bool {
        match version {
            ProxyVersion::V1 => self.v1,
            ProxyVersion::V2 => self.v2,
        }
    }

    /// Parses a header at the start of `buf`, the bytes received so far.
    ///
    /// Call it again with more bytes after [`ProxyParse::Incomplete`]; the
    /// answer never depends on how the bytes were split. Input that cannot be
    /// the start of an accepted header is rejected at the first wrong byte,
    /// so a client speaking another protocol is turned away at once.
    ///
    /// # Errors
    ///
    /// A [`ProxyHeaderError`] saying what is wrong; the connection should be
    /// closed without passing anything to the protocol.
    ///
    /// # Examples
    ///
    /// A driver feeding bytes as they arrive:
    ///
    /// ```
    /// use aioproto::{ProxyParse, ProxyProtocol};
    ///
    /// let cfg = ProxyProtocol::any();
    /// let mut buf = Vec::new();
    /// for chunk in [&b"PROXY TCP6 ::1 "[..], b"::2 1000 80\r", b"\nhello"] {
    ///     buf.extend_from_slice(chunk);
    ///     match cfg.parse(&buf).unwrap() {
    ///         ProxyParse::Incomplete { .. } => continue,
    ///         ProxyParse::Complete { header, consumed } => {
    ///             assert_eq!(header.source(), Some("[::1]:1000".parse().unwrap()));
    ///             assert_eq!(&buf[consumed..], b"hello");
    ///         }
    ///     }
    /// }
    /// ```
    pub fn parse(&self, buf: &[u8]) -> Result<ProxyParse, ProxyHeaderError> {
        match buf.first() {
            None => Ok(ProxyParse::Incomplete { needed: 1 }),
            Some(&b) if self.v1 && b == v1::SIGNATURE[0] => v1::parse(buf),
            Some(&b) if self.v2 && b == v2::SIGNATURE[0] => v2::parse(buf, self.max_v2_len),
            Some(_) => Err(ProxyHeaderError::NotProxyHeader),
        }
    }
}

impl ProxyHeader {
    /// Parses a v1 or v2 header at the start of `buf`, with v2 headers capped
    /// at 4 KiB: [`ProxyProtocol::any().parse(buf)`](ProxyProtocol::parse).
    ///
    /// # Errors
    ///
    /// See [`ProxyProtocol::parse`].
    ///
    /// # Examples
    ///
    /// The v2 example of the spec, a LOCAL health check:
    ///
    /// ```
    /// use aioproto::{ProxyAddresses, ProxyCommand, ProxyHeader, ProxyParse};
    ///
    /// let check = b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00";
    /// let Ok(ProxyParse::Complete { header, consumed: 16 }) = ProxyHeader::parse(check) else {
    ///     panic!("a whole header");
    /// };
    /// assert_eq!(header.command(), ProxyCommand::Local);
    /// assert_eq!(header.addresses(), &ProxyAddresses::Unspecified);
    /// ```
    pub fn parse(buf: &[u8]) -> Result<ProxyParse, ProxyHeaderError> {
        ProxyProtocol::any().parse(buf)
    }

    fn with_addresses(
        command: ProxyCommand,
        transport: Option<ProxyTransport>,
        addresses: ProxyAddresses,
    ) -> Self {
        ProxyHeader {
            version: ProxyVersion::V2,
            command,
            transport,
            addresses,
            tlvs: Vec::new(),
        }
    }

    fn inet(transport: ProxyTransport, source: SocketAddr, destination: SocketAddr) -> Self {
        let v6 = |a: SocketAddr| match a {
            SocketAddr::V4(v4) => SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0),
            SocketAddr::V6(v6) => SocketAddrV6::new(*v6.ip(), v6.port(), 0, 0),
        };
        let addresses = match (source, destination) {
            (SocketAddr::V4(source), SocketAddr::V4(destination)) => ProxyAddresses::Ipv4 {
                source,
                destination,
            },
            (source, destination) => ProxyAddresses::Ipv6 {
                source: v6(source),
                destination: v6(destination),
            },
        };
        Self::with_addresses(ProxyCommand::Proxy, Some(transport), addresses)
    }

    /// A PROXY header for a TCP connection from `source` to `destination`.
    ///
    /// If one address is IPv4 and the other IPv6, the IPv4 one is sent as an
    /// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`); IPv6 scope ids are dropped.
    /// The version is v2 until [`with_version`](Self::with_version).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = aioproto::ProxyHeader::tcp("[::1]:1".parse().unwrap(), "127.0.0.1:2".parse().unwrap());
    /// assert_eq!(h.destination(), Some("[::ffff:127.0.0.1]:2".parse().unwrap()));
    /// ```
    pub fn tcp(source: SocketAddr, destination: SocketAddr) -> Self {
        Self::inet(ProxyTransport::Stream, source, destination)
    }

    /// A PROXY header for UDP (v2 only); addresses as for [`tcp`](Self::tcp).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = aioproto::ProxyHeader::udp("10.0.0.1:5353".parse().unwrap(), "10.0.0.2:53".parse().unwrap());
    /// assert!(h.encode_v1().is_err());
    /// assert!(h.encode_v2().is_ok());
    /// ```
    pub fn udp(source: SocketAddr, destination: SocketAddr) -> Self {
        Self::inet(ProxyTransport::Datagram, source, destination)
    }

    /// A PROXY header for a Unix stream socket (v2 only). Each path must fit
    /// in 108 bytes for [`encode_v2`](Self::encode_v2) to succeed.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = aioproto::ProxyHeader::unix_stream(b"/tmp/a".to_vec(), b"/tmp/b".to_vec());
    /// assert_eq!(h.encode_v2().unwrap().len(), 16 + 216);
    /// ```
    pub fn unix_stream(source: impl Into<Vec<u8>>, destination: impl Into<Vec<u8>>) -> Self {
        Self::unix(ProxyTransport::Stream, source.into(), destination.into())
    }

    /// A PROXY header for a Unix datagram socket (v2 only); see
    /// [`unix_stream`](Self::unix_stream).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = aioproto::ProxyHeader::unix_datagram(b"/tmp/a".to_vec(), b"/tmp/b".to_vec());
    /// assert_eq!(h.transport(), Some(aioproto::ProxyTransport::Datagram));
    /// ```
    pub fn unix_datagram(source: impl Into<Vec<u8>>, destination: impl Into<Vec<u8>>) -> Self {
        Self::unix(ProxyTransport::Datagram, source.into(), destination.into())
    }

    fn unix(transport: ProxyTransport, source: Vec<u8>, destination: Vec<u8>) -> Self {
        let addresses = ProxyAddresses::Unix {
            source,
            destination,
        };
        Self::with_addresses(ProxyCommand::Proxy, Some(transport), addresses)
    }

    /// A LOCAL header: the proxy's own connection (a health check), no
    /// addresses. In v1 it is sent as `PROXY UNKNOWN`, which parses back as
    /// a PROXY command with [`ProxyAddresses::Unspecified`].
    ///
    /// # Examples
    ///
    /// ```
    /// let h = aioproto::ProxyHeader::local();
    /// assert_eq!(&h.encode_v1().unwrap()[..], b"PROXY UNKNOWN\r\n");
    /// ```
    pub fn local() -> Self {
        Self::with_addresses(ProxyCommand::Local, None, ProxyAddresses::Unspecified)
    }

    /// A PROXY header whose addresses are unknown (v1 `UNKNOWN`, v2 `AF_UNSPEC`).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = aioproto::ProxyHeader::unknown();
    /// assert_eq!(h.source(), None);
    /// ```
    pub fn unknown() -> Self {
        Self::with_addresses(ProxyCommand::Proxy, None, ProxyAddresses::Unspecified)
    }

    /// Sets the version [`encode`](Self::encode) uses.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{ProxyHeader, ProxyVersion};
    /// let h = ProxyHeader::unknown().with_version(ProxyVersion::V1);
    /// assert_eq!(&h.encode().unwrap()[..], b"PROXY UNKNOWN\r\n");
    /// ```
    pub fn with_version(mut self, version: ProxyVersion) -> Self {
        self.version = version;
        self
    }

    /// Appends a TLV (v2 only).
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{ProxyHeader, ProxyTlv};
    /// let h = ProxyHeader::unknown().with_tlv(ProxyTlv::ALPN, b"h2".to_vec());
    /// assert_eq!(h.tlvs().len(), 1);
    /// ```
    pub fn with_tlv(mut self, kind: u8, value: impl Into<Vec<u8>>) -> Self {
        self.tlvs.push(ProxyTlv::new(kind, value));
        self
    }

    /// Appends a CRC32C TLV (v2 only): the encoder fills in the checksum of
    /// the whole header, and the receiver's parser verifies it.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{ProxyHeader, ProxyHeaderError};
    ///
    /// let mut bytes = ProxyHeader::unknown().with_crc32c().encode_v2().unwrap().to_vec();
    /// assert!(ProxyHeader::parse(&bytes).is_ok());
    /// bytes[12] = 0x20; // LOCAL instead of PROXY: still well-formed, but not what was sent
    /// assert_eq!(ProxyHeader::parse(&bytes), Err(ProxyHeaderError::ChecksumMismatch));
    /// ```
    pub fn with_crc32c(self) -> Self {
        self.with_tlv(ProxyTlv::CRC32C, vec![0; 4])
    }

    /// The version it was parsed from, or will be encoded in by [`encode`](Self::encode).
    pub fn version(&self) -> ProxyVersion {
        self.version
    }

    /// LOCAL (use the real endpoints) or PROXY.
    pub fn command(&self) -> ProxyCommand {
        self.command
    }

    /// Stream or datagram; `None` when the addresses are unspecified.
    pub fn transport(&self) -> Option<ProxyTransport> {
        self.transport
    }

    /// The addresses carried.
    pub fn addresses(&self) -> &ProxyAddresses {
        &self.addresses
    }

    /// The client's address, for IPv4 and IPv6 headers.
    ///
    /// # Examples
    ///
    /// See [`ProxyHeader`].
    pub fn source(&self) -> Option<SocketAddr> {
        match &self.addresses {
            ProxyAddresses::Ipv4 { source, .. } => Some(SocketAddr::V4(*source)),
            ProxyAddresses::Ipv6 { source, .. } => Some(SocketAddr::V6(*source)),
            _ => None,
        }
    }

    /// The address the client connected to, for IPv4 and IPv6 headers.
    pub fn destination(&self) -> Option<SocketAddr> {
        match &self.addresses {
            ProxyAddresses::Ipv4 { destination, .. } => Some(SocketAddr::V4(*destination)),
            ProxyAddresses::Ipv6 { destination, .. } => Some(SocketAddr::V6(*destination)),
            _ => None,
        }
    }

    /// Every TLV, in wire order (CRC32C and NOOP ones included).
    pub fn tlvs(&self) -> &[ProxyTlv] {
        &self.tlvs
    }

    /// The value of the first TLV of type `kind`.
    pub fn tlv(&self, kind: u8) -> Option<&[u8]> {
        self.tlvs
            .iter()
            .find(|t| t.kind == kind)
            .map(|t| &t.value[..])
    }

    /// Encodes the header in its own [`version`](Self::version).
    ///
    /// # Errors
    ///
    /// As for [`encode_v1`](Self::encode_v1) or [`encode_v2`](Self::encode_v2).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = aioproto::ProxyHeader::local();
    /// assert_eq!(h.encode().unwrap(), h.encode_v2().unwrap());
    /// ```
    pub fn encode(&self) -> Result<Bytes, ProxyEncodeError> {
        let mut dst = BytesMut::new();
        self.write_to(self.version, &mut dst)?;
        Ok(dst.freeze())
    }

    /// Encodes the header as a v1 line.
    ///
    /// # Errors
    ///
    /// [`ProxyEncodeError::NotRepresentable`] for UDP, Unix addresses and TLVs.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = aioproto::ProxyHeader::tcp("[::1]:1".parse().unwrap(), "[::2]:2".parse().unwrap());
    /// assert_eq!(&h.encode_v1().unwrap()[..], b"PROXY TCP6 0:0:0:0:0:0:0:1 0:0:0:0:0:0:0:2 1 2\r\n");
    /// ```
    pub fn encode_v1(&self) -> Result<Bytes, ProxyEncodeError> {
        let mut dst = BytesMut::new();
        self.write_to(ProxyVersion::V1, &mut dst)?;
        Ok(dst.freeze())
    }

    /// Encodes the header in the v2 binary format.
    ///
    /// # Errors
    ///
    /// [`ProxyEncodeError::TooLong`], [`ProxyEncodeError::UnixAddressTooLong`]
    /// or [`ProxyEncodeError::BadCrc32c`].
    ///
    /// # Examples
    ///
    /// ```
    /// let h = aioproto::ProxyHeader::tcp("1.2.3.4:1".parse().unwrap(), "5.6.7.8:2".parse().unwrap());
    /// assert_eq!(h.encode_v2().unwrap().len(), 16 + 12);
    /// ```
    pub fn encode_v2(&self) -> Result<Bytes, ProxyEncodeError> {
        let mut dst = BytesMut::new();
        self.write_to(ProxyVersion::V2, &mut dst)?;
        Ok(dst.freeze())
    }

    /// Appends the header, encoded as `version`, to `dst`. Nothing is
    /// appended on error.
    ///
    /// # Errors
    ///
    /// As for [`encode_v1`](Self::encode_v1) or [`encode_v2`](Self::encode_v2).
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{ProxyHeader, ProxyVersion};
    /// let mut out = bytes::BytesMut::new();
    /// ProxyHeader::unknown().write_to(ProxyVersion::V1, &mut out).unwrap();
    /// out.extend_from_slice(b"payload");
    /// assert_eq!(&out[..], b"PROXY UNKNOWN\r\npayload");
    /// ```
    pub fn write_to(
        &self,
        version: ProxyVersion,
        dst: &mut BytesMut,
    ) -> Result<(), ProxyEncodeError> {
        match version {
            ProxyVersion::V1 => v1::encode(self, dst),
            ProxyVersion::V2 => v2::encode(self, dst),
        }
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
