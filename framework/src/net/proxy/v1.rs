//! Version 1: one line of US-ASCII text ending in CRLF, at most 107 bytes.
//!
//! Checks run in byte order, and each looks only at the bytes up to the one
//! it judges, so a prefix that fails fails the same way once more bytes
//! arrive: first `PROXY `, then the protocol word, then the line ending
//! (within 107 bytes), and once the line is whole, its fields.

use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use bytes::BytesMut;

use super::{
    ProxyAddresses, ProxyCommand, ProxyEncodeError, ProxyHeader, ProxyHeaderError, ProxyParse,
    ProxyProtocol, ProxyTransport, ProxyVersion,
};

/// Every v1 header starts with these bytes.
pub(super) const SIGNATURE: &[u8; 6] = b"PROXY ";

/// The shortest v1 header, `PROXY UNKNOWN\r\n`.
const MIN_LEN: usize = 15;

const PROTOCOLS: [&[u8]; 3] = [b"TCP4", b"TCP6", b"UNKNOWN"];

pub(super) fn parse(buf: &[u8]) -> Result<ProxyParse, ProxyHeaderError> {
    let incomplete = Ok(ProxyParse::Incomplete {
        needed: MIN_LEN.saturating_sub(buf.len()).max(1),
    });
    let n = buf.len().min(SIGNATURE.len());
    if buf[..n] != SIGNATURE[..n] {
        return Err(ProxyHeaderError::BadSignature(ProxyVersion::V1));
    }
    if buf.len() == n {
        return incomplete;
    }

    // The protocol word, judged as soon as it cannot be a prefix of one, or is
    // followed by something other than what it allows.
    let rest = &buf[SIGNATURE.len()..];
    let end = rest.iter().position(|&b| matches!(b, b' ' | b'\r' | b'\n'));
    match end {
        None if !PROTOCOLS.iter().any(|p| p.starts_with(rest)) => {
            return Err(ProxyHeaderError::BadProtocol);
        }
        None => return incomplete,
        Some(end) => match &rest[..end] {
            b"TCP4" | b"TCP6" if rest[end] != b' ' => return Err(ProxyHeaderError::BadLine),
            b"TCP4" | b"TCP6" | b"UNKNOWN" => {}
            _ => return Err(ProxyHeaderError::BadProtocol),
        },
    }

    // The line ending: CRLF, within the first 107 bytes, with no bare CR or LF before it.
    let max = ProxyProtocol::MAX_V1_LEN;
    for i in SIGNATURE.len()..buf.len().min(max) {
        match buf[i] {
            b'\n' => return Err(ProxyHeaderError::BadLineEnding),
            b'\r' if i + 1 >= max => return Err(ProxyHeaderError::LineTooLong),
            b'\r' => {
                return match buf.get(i + 1) {
                    None => incomplete,
                    Some(b'\n') => Ok(ProxyParse::Complete {
                        header: fields(&buf[SIGNATURE.len()..i])?,
                        consumed: i + 2,
                    }),
                    Some(_) => Err(ProxyHeaderError::BadLineEnding),
                };
            }
            _ => {}
        }
    }
    if buf.len() >= max {
        return Err(ProxyHeaderError::LineTooLong);
    }
    incomplete
}

/// Parses what lies between `PROXY ` and the CRLF.
fn fields(line: &[u8]) -> Result<ProxyHeader, ProxyHeaderError> {
    let mut fields = line.split(|&b| b == b' ');
    let protocol = fields.next().unwrap_or_default();
    if protocol == b"UNKNOWN" {
        // "the receiver must ignore anything presented before the CRLF"
        return Ok(ProxyHeader::unknown().with_version(ProxyVersion::V1));
    }
    let mut next = || fields.next().ok_or(ProxyHeaderError::BadLine);
    let (src, dst, src_port, dst_port) = (next()?, next()?, next()?, next()?);
    if next().is_ok() {
        return Err(ProxyHeaderError::BadLine);
    }
    let src_port = port(src_port, "source port")?;
    let dst_port = port(dst_port, "destination port")?;
    let addresses = match protocol {
        b"TCP4" => ProxyAddresses::Ipv4 {
            source: SocketAddrV4::new(ipv4(src, "source address")?, src_port),
            destination: SocketAddrV4::new(ipv4(dst, "destination address")?, dst_port),
        },
        b"TCP6" => ProxyAddresses::Ipv6 {
            source: SocketAddrV6::new(ipv6(src, "source address")?, src_port, 0, 0),
            destination: SocketAddrV6::new(ipv6(dst, "destination address")?, dst_port, 0, 0),
        },
        _ => return Err(ProxyHeaderError::BadProtocol),
    };
    Ok(ProxyHeader {
        version: ProxyVersion::V1,
        command: ProxyCommand::Proxy,
        transport: Some(ProxyTransport::Stream),
        addresses,
        tlvs: Vec::new(),
    })
}

/// A decimal number of 1 to `max_digits` digits with no leading zero.
fn decimal(s: &[u8], max_digits: usize) -> Option<u32> {
    let canonical = !s.is_empty()
        && s.len() <= max_digits
        && s.iter().all(u8::is_ascii_digit)
        && (s.len() == 1 || s[0] != b'0');
    canonical.then(|| s.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')))
}

fn port(s: &[u8], what: &'static str) -> Result<u16, ProxyHeaderError> {
    decimal(s, 5)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or(ProxyHeaderError::BadAddress(what))
}

/// Exactly four dot-separated decimal octets, without leading zeros.
fn ipv4(s: &[u8], what: &'static str) -> Result<Ipv4Addr, ProxyHeaderError> {
    let bad = ProxyHeaderError::BadAddress(what);
    let mut parts = s.split(|&b| b == b'.');
    let mut octets = [0u8; 4];
    for octet in &mut octets {
        let part = parts.next().ok_or(bad.clone())?;
        *octet = decimal(part, 3)
            .and_then(|n| u8::try_from(n).ok())
            .ok_or(bad.clone())?;
    }
    if parts.next().is_some() {
        return Err(bad);
    }
    Ok(Ipv4Addr::from(octets))
}

/// Colon-separated hex groups with at most one `::` (no dotted IPv4 tail).
fn ipv6(s: &[u8], what: &'static str) -> Result<Ipv6Addr, ProxyHeaderError> {
    let hex = s.len() <= 39 && s.iter().all(|&b| b.is_ascii_hexdigit() || b == b':');
    hex.then(|| std::str::from_utf8(s).ok()?.parse().ok())
        .flatten()
        .ok_or(ProxyHeaderError::BadAddress(what))
}

/// Eight hex groups, never the `::ffff:a.b.c.d` form `Ipv6Addr`'s `Display`
/// uses for mapped addresses, which v1 does not allow.
struct Groups(Ipv6Addr);

impl fmt::Display for Groups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.0.segments().iter().enumerate() {
            if i > 0 {
                f.write_char(':')?;
            }
            write!(f, "{g:x}")?;
        }
        Ok(())
    }
}

pub(super) fn encode(h: &ProxyHeader, dst: &mut BytesMut) -> Result<(), ProxyEncodeError> {
    let unrepresentable = |what| {
        Err(ProxyEncodeError::NotRepresentable {
            version: ProxyVersion::V1,
            what,
        })
    };
    if !h.tlvs.is_empty() {
        return unrepresentable("tlvs");
    }
    if matches!(h.addresses, ProxyAddresses::Unix { .. }) {
        return unrepresentable("unix addresses");
    }
    if h.transport == Some(ProxyTransport::Datagram) {
        return unrepresentable("udp");
    }
    // Writing to a BytesMut cannot fail.
    let _ = match &h.addresses {
        ProxyAddresses::Ipv4 {
            source,
            destination,
        } => write!(
            dst,
            "PROXY TCP4 {} {} {} {}\r\n",
            source.ip(),
            destination.ip(),
            source.port(),
            destination.port()
        ),
        ProxyAddresses::Ipv6 {
            source,
            destination,
        } => write!(
            dst,
            "PROXY TCP6 {} {} {} {}\r\n",
            Groups(*source.ip()),
            Groups(*destination.ip()),
            source.port(),
            destination.port()
        ),
        ProxyAddresses::Unspecified | ProxyAddresses::Unix { .. } => {
            dst.write_str("PROXY UNKNOWN\r\n")
        }
    };
    Ok(())
}
