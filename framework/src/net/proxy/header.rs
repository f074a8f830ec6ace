//! [`ProxyHeader`]: what a header says, how to build one and how to encode it.

use std::net::{SocketAddr, SocketAddrV6};

use bytes::{Bytes, BytesMut};

use super::{
    ProxyAddresses, ProxyCommand, ProxyEncodeError, ProxyHeaderError, ProxyParse, ProxyProtocol,
    ProxyTlv, ProxyTransport, ProxyVersion, v1, v2,
};

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
    pub(super) version: ProxyVersion,
    pub(super) command: ProxyCommand,
    pub(super) transport: Option<ProxyTransport>,
    pub(super) addresses: ProxyAddresses,
    pub(super) tlvs: Vec<ProxyTlv>,
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
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{ProxyHeader, ProxyVersion};
    /// assert_eq!(ProxyHeader::local().version(), ProxyVersion::V2);
    /// ```
    pub fn version(&self) -> ProxyVersion {
        self.version
    }

    /// LOCAL (use the real endpoints) or PROXY.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{ProxyCommand, ProxyHeader};
    /// assert_eq!(ProxyHeader::unknown().command(), ProxyCommand::Proxy);
    /// ```
    pub fn command(&self) -> ProxyCommand {
        self.command
    }

    /// Stream or datagram; `None` when the addresses are unspecified.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(aioproto::ProxyHeader::local().transport(), None);
    /// ```
    pub fn transport(&self) -> Option<ProxyTransport> {
        self.transport
    }

    /// The addresses carried.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{ProxyAddresses, ProxyHeader};
    /// let h = ProxyHeader::tcp("1.2.3.4:5".parse().unwrap(), "6.7.8.9:10".parse().unwrap());
    /// assert!(matches!(h.addresses(), ProxyAddresses::Ipv4 { source, .. } if source.port() == 5));
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// let h = aioproto::ProxyHeader::tcp("1.2.3.4:5".parse().unwrap(), "6.7.8.9:10".parse().unwrap());
    /// assert_eq!(h.destination(), Some("6.7.8.9:10".parse().unwrap()));
    /// ```
    pub fn destination(&self) -> Option<SocketAddr> {
        match &self.addresses {
            ProxyAddresses::Ipv4 { destination, .. } => Some(SocketAddr::V4(*destination)),
            ProxyAddresses::Ipv6 { destination, .. } => Some(SocketAddr::V6(*destination)),
            _ => None,
        }
    }

    /// Every TLV, in wire order (CRC32C and NOOP ones included).
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{ProxyHeader, ProxyTlv};
    /// let h = ProxyHeader::local().with_tlv(ProxyTlv::NOOP, vec![0; 2]).with_tlv(ProxyTlv::ALPN, b"h2".to_vec());
    /// let kinds: Vec<u8> = h.tlvs().iter().map(|t| t.kind()).collect();
    /// assert_eq!(kinds, [ProxyTlv::NOOP, ProxyTlv::ALPN]);
    /// ```
    pub fn tlvs(&self) -> &[ProxyTlv] {
        &self.tlvs
    }

    /// The value of the first TLV of type `kind`.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{ProxyHeader, ProxyTlv};
    /// let h = ProxyHeader::local().with_tlv(ProxyTlv::UNIQUE_ID, b"abc".to_vec());
    /// assert_eq!(h.tlv(ProxyTlv::UNIQUE_ID), Some(&b"abc"[..]));
    /// assert_eq!(h.tlv(ProxyTlv::ALPN), None);
    /// ```
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
