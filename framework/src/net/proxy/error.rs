//! Why a PROXY header was rejected, or could not be encoded.

use super::ProxyVersion;

/// Why [`ProxyHeader::parse`](super::ProxyHeader::parse) rejected its input.
///
/// Every variant means "close the connection": the spec requires a receiver to
/// drop a connection whose header does not match the protocol exactly. The
/// variant is decided by the first byte that is wrong, so feeding the same
/// bytes in any number of pieces gives the same error.
///
/// # Examples
///
/// ```
/// use aioproto::{ProxyHeader, ProxyHeaderError};
///
/// let err = ProxyHeader::parse(b"GET / HTTP/1.1\r\n").unwrap_err();
/// assert_eq!(err, ProxyHeaderError::NotProxyHeader);
/// assert_eq!(err.to_string(), "data does not start with an accepted proxy protocol header");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyHeaderError {
    /// The first byte starts neither accepted header (`P` for v1, `\r` for v2).
    #[error("data does not start with an accepted proxy protocol header")]
    NotProxyHeader,

    /// The first byte matched, but the rest of `PROXY ` (v1) or of the
    /// 12-byte v2 signature did not.
    #[error("bad proxy protocol {0} signature")]
    BadSignature(ProxyVersion),

    /// The high nibble of the 13th byte of a v2 header is not 2.
    #[error("unsupported proxy protocol v2 version {0}")]
    BadVersion(u8),

    /// The low nibble of the 13th byte of a v2 header is neither LOCAL (0) nor PROXY (1).
    #[error("unsupported proxy protocol v2 command {0:#x}")]
    BadCommand(u8),

    /// The 14th byte of a v2 header has an undefined address family (above 3)
    /// or transport protocol (above 2).
    #[error("unsupported proxy protocol v2 address family and protocol {0:#04x}")]
    BadFamily(u8),

    /// A v2 header announces more bytes than the configured maximum
    /// ([`ProxyProtocol::with_max_v2_len`](super::ProxyProtocol::with_max_v2_len)).
    #[error("proxy protocol v2 header of {length} bytes exceeds the limit of {max}")]
    HeaderTooLong {
        /// The announced total, 16 bytes of fixed header included.
        length: usize,
        /// The limit in force.
        max: usize,
    },

    /// A v2 header's length is too short for the addresses of its family.
    #[error("proxy protocol v2 address block of {length} bytes is shorter than {needed}")]
    TruncatedAddresses {
        /// The bytes the header announces after its fixed part.
        length: usize,
        /// The bytes the address family needs.
        needed: usize,
    },

    /// A v2 TLV is cut short, or a CRC32C TLV is not exactly 4 bytes or appears twice.
    #[error("malformed proxy protocol v2 tlv")]
    BadTlv,

    /// A v2 header's CRC32C TLV does not match the header.
    #[error("proxy protocol v2 crc32c checksum mismatch")]
    ChecksumMismatch,

    /// No CRLF within the first 107 bytes of a v1 header.
    #[error("proxy protocol v1 line is longer than 107 bytes")]
    LineTooLong,

    /// A v1 line holds a CR that is not followed by LF, or an LF without CR.
    #[error("proxy protocol v1 line has a bare cr or lf")]
    BadLineEnding,

    /// The v1 protocol field is none of `TCP4`, `TCP6` and `UNKNOWN`.
    #[error("unknown proxy protocol v1 protocol")]
    BadProtocol,

    /// A v1 `TCP4`/`TCP6` line does not have exactly four fields after the
    /// protocol, each separated by exactly one space.
    #[error("malformed proxy protocol v1 line")]
    BadLine,

    /// A v1 address or port is not in its canonical form (no leading zeros,
    /// IPv4 for `TCP4` and IPv6 for `TCP6`, ports up to 65535); the text says which field.
    #[error("bad {0} in proxy protocol v1 line")]
    BadAddress(&'static str),
}

/// Why a [`ProxyHeader`](super::ProxyHeader) could not be encoded.
///
/// # Examples
///
/// ```
/// use aioproto::{ProxyEncodeError, ProxyHeader, ProxyTlv};
///
/// let header = ProxyHeader::local().with_tlv(ProxyTlv::NOOP, vec![0; 4]);
/// assert!(matches!(header.encode_v1(), Err(ProxyEncodeError::NotRepresentable { .. })));
/// assert!(header.encode_v2().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyEncodeError {
    /// v1 headers carry only TCP over IPv4/IPv6 (or `UNKNOWN`): no UDP, no
    /// Unix addresses and no TLVs.
    #[error("cannot encode {what} in a proxy protocol {version} header")]
    NotRepresentable {
        /// The version asked for.
        version: ProxyVersion,
        /// What it cannot carry.
        what: &'static str,
    },

    /// The addresses and TLVs add up to more than 65535 bytes.
    #[error(
        "proxy protocol v2 header would have {length} bytes after its fixed part, more than 65535"
    )]
    TooLong {
        /// The bytes that would follow the fixed 16-byte part.
        length: usize,
    },

    /// A Unix address is longer than the 108 bytes v2 has room for.
    #[error("unix address of {length} bytes does not fit in 108")]
    UnixAddressTooLong {
        /// The address's length.
        length: usize,
    },

    /// A CRC32C TLV is not 4 bytes long, or there is more than one.
    #[error("a crc32c tlv must be 4 bytes long and appear at most once")]
    BadCrc32c,
}
