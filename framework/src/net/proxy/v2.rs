//! Version 2: a 16-byte fixed part (signature, version and command, family
//! and protocol, length), then the addresses, then TLVs.
//!
//! Each fixed byte is checked as soon as it arrives, and the length before
//! the body is awaited, so a bad or oversized header fails early and the same
//! way however its bytes are split.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use bytes::{BufMut, BytesMut};

use super::{
    ProxyAddresses, ProxyCommand, ProxyEncodeError, ProxyHeader, ProxyHeaderError, ProxyParse,
    ProxyTlv, ProxyTransport, ProxyVersion,
};

/// Every v2 header starts with these 12 bytes.
pub(super) const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// Signature, version/command, family/protocol and a 16-bit length.
const FIXED_LEN: usize = 16;

/// `sizeof(sun_path)` in the spec's address union.
const UNIX_PATH_LEN: usize = 108;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    Unspec,
    Inet,
    Inet6,
    Unix,
}

/// Splits the 14th byte, rejecting undefined nibbles.
fn family(fam: u8) -> Result<(Family, Option<ProxyTransport>), ProxyHeaderError> {
    let family = match fam >> 4 {
        0 => Family::Unspec,
        1 => Family::Inet,
        2 => Family::Inet6,
        3 => Family::Unix,
        _ => return Err(ProxyHeaderError::BadFamily(fam)),
    };
    let transport = match fam & 0x0F {
        0 => None,
        1 => Some(ProxyTransport::Stream),
        2 => Some(ProxyTransport::Datagram),
        _ => return Err(ProxyHeaderError::BadFamily(fam)),
    };
    Ok((family, transport))
}

/// The size of the address block. With an unspecified family or protocol
/// there are no addresses, and any bytes after the fixed part are TLVs.
fn address_len(family: Family, transport: Option<ProxyTransport>) -> usize {
    match (family, transport) {
        (_, None) | (Family::Unspec, _) => 0,
        (Family::Inet, _) => 2 * 4 + 2 * 2,
        (Family::Inet6, _) => 2 * 16 + 2 * 2,
        (Family::Unix, _) => 2 * UNIX_PATH_LEN,
    }
}

pub(super) fn parse(buf: &[u8], max_len: usize) -> Result<ProxyParse, ProxyHeaderError> {
    let n = buf.len().min(SIGNATURE.len());
    if buf[..n] != SIGNATURE[..n] {
        return Err(ProxyHeaderError::BadSignature(ProxyVersion::V2));
    }
    let command = match buf.get(12) {
        Some(&b) if b >> 4 != 2 => return Err(ProxyHeaderError::BadVersion(b >> 4)),
        Some(&b) if b & 0x0F == 0 => Some(ProxyCommand::Local),
        Some(&b) if b & 0x0F == 1 => Some(ProxyCommand::Proxy),
        Some(&b) => return Err(ProxyHeaderError::BadCommand(b & 0x0F)),
        None => None,
    };
    let layout = buf.get(13).map(|&b| family(b)).transpose()?;
    let (Some(command), Some((family, transport)), Some(len)) = (command, layout, buf.get(14..16))
    else {
        return Ok(ProxyParse::Incomplete {
            needed: FIXED_LEN - buf.len(),
        });
    };
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    let total = FIXED_LEN + len;
    if total > max_len {
        return Err(ProxyHeaderError::HeaderTooLong {
            length: total,
            max: max_len,
        });
    }
    let addr_len = address_len(family, transport);
    if len < addr_len {
        return Err(ProxyHeaderError::TruncatedAddresses {
            length: len,
            needed: addr_len,
        });
    }
    let Some(header) = buf.get(..total) else {
        return Ok(ProxyParse::Incomplete {
            needed: total - buf.len(),
        });
    };

    let block = &header[FIXED_LEN..FIXED_LEN + addr_len];
    let (transport, addresses) = match command {
        // "discard the protocol block including the family"
        ProxyCommand::Local => (None, ProxyAddresses::Unspecified),
        ProxyCommand::Proxy if addr_len == 0 => (None, ProxyAddresses::Unspecified),
        ProxyCommand::Proxy => (transport, addresses(family, block)),
    };
    let tlvs = tlvs(header, FIXED_LEN + addr_len)?;
    Ok(ProxyParse::Complete {
        header: ProxyHeader {
            version: ProxyVersion::V2,
            command,
            transport,
            addresses,
            tlvs,
        },
        consumed: total,
    })
}

/// Decodes an address block of exactly `address_len(family, ..)` bytes.
fn addresses(family: Family, block: &[u8]) -> ProxyAddresses {
    let port = |at: usize| u16::from_be_bytes([block[at], block[at + 1]]);
    let bytes16 = |at: usize| {
        let mut ip = [0u8; 16];
        ip.copy_from_slice(&block[at..at + 16]);
        Ipv6Addr::from(ip)
    };
    let bytes4 = |at: usize| Ipv4Addr::new(block[at], block[at + 1], block[at + 2], block[at + 3]);
    let path = |at: usize| {
        let raw = &block[at..at + UNIX_PATH_LEN];
        let end = raw.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        raw[..end].to_vec()
    };
    match family {
        Family::Inet => ProxyAddresses::Ipv4 {
            source: SocketAddrV4::new(bytes4(0), port(8)),
            destination: SocketAddrV4::new(bytes4(4), port(10)),
        },
        Family::Inet6 => ProxyAddresses::Ipv6 {
            source: SocketAddrV6::new(bytes16(0), port(32), 0, 0),
            destination: SocketAddrV6::new(bytes16(16), port(34), 0, 0),
        },
        Family::Unix => ProxyAddresses::Unix {
            source: path(0),
            destination: path(UNIX_PATH_LEN),
        },
        Family::Unspec => ProxyAddresses::Unspecified,
    }
}

/// Parses the TLVs from `header[start..]`, which they must fill exactly, and
/// verifies a CRC32C TLV if there is one.
fn tlvs(header: &[u8], start: usize) -> Result<Vec<ProxyTlv>, ProxyHeaderError> {
    let mut tlvs = Vec::new();
    let mut crc_at = None;
    let mut rest = &header[start..];
    while !rest.is_empty() {
        let [kind, hi, lo, ..] = *rest else {
            return Err(ProxyHeaderError::BadTlv);
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        let value = rest.get(3..3 + len).ok_or(ProxyHeaderError::BadTlv)?;
        if kind == ProxyTlv::CRC32C {
            if len != 4 || crc_at.is_some() {
                return Err(ProxyHeaderError::BadTlv);
            }
            crc_at = Some(header.len() - rest.len() + 3);
        }
        tlvs.push(ProxyTlv::new(kind, value));
        rest = &rest[3 + len..];
    }
    if let Some(at) = crc_at {
        let sent = u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
        if crc32c(&[&header[..at], &[0; 4], &header[at + 4..]]) != sent {
            return Err(ProxyHeaderError::ChecksumMismatch);
        }
    }
    Ok(tlvs)
}

pub(super) fn encode(h: &ProxyHeader, dst: &mut BytesMut) -> Result<(), ProxyEncodeError> {
    // Validate everything first, so nothing is appended on error.
    let transport = match h.transport.unwrap_or(ProxyTransport::Stream) {
        ProxyTransport::Stream => 0x01,
        ProxyTransport::Datagram => 0x02,
    };
    let (fam, addr_len) = match &h.addresses {
        ProxyAddresses::Unspecified => (0x00, 0),
        ProxyAddresses::Ipv4 { .. } => (0x10 | transport, 12),
        ProxyAddresses::Ipv6 { .. } => (0x20 | transport, 36),
        ProxyAddresses::Unix {
            source,
            destination,
        } => {
            let longest = source.len().max(destination.len());
            if longest > UNIX_PATH_LEN {
                return Err(ProxyEncodeError::UnixAddressTooLong { length: longest });
            }
            (0x30 | transport, 2 * UNIX_PATH_LEN)
        }
    };
    let crcs = h.tlvs.iter().filter(|t| t.kind == ProxyTlv::CRC32C);
    if crcs.clone().count() > 1 || crcs.clone().any(|t| t.value.len() != 4) {
        return Err(ProxyEncodeError::BadCrc32c);
    }
    let len = addr_len + h.tlvs.iter().map(|t| 3 + t.value.len()).sum::<usize>();
    let Ok(len16) = u16::try_from(len) else {
        return Err(ProxyEncodeError::TooLong { length: len });
    };

    let start = dst.len();
    dst.reserve(FIXED_LEN + len);
    dst.put_slice(&SIGNATURE);
    dst.put_u8(match h.command {
        ProxyCommand::Local => 0x20,
        ProxyCommand::Proxy => 0x21,
    });
    dst.put_u8(fam);
    dst.put_u16(len16);
    match &h.addresses {
        ProxyAddresses::Unspecified => {}
        ProxyAddresses::Ipv4 {
            source,
            destination,
        } => {
            dst.put_slice(&source.ip().octets());
            dst.put_slice(&destination.ip().octets());
            dst.put_u16(source.port());
            dst.put_u16(destination.port());
        }
        ProxyAddresses::Ipv6 {
            source,
            destination,
        } => {
            dst.put_slice(&source.ip().octets());
            dst.put_slice(&destination.ip().octets());
            dst.put_u16(source.port());
            dst.put_u16(destination.port());
        }
        ProxyAddresses::Unix {
            source,
            destination,
        } => {
            for path in [source, destination] {
                dst.put_slice(path);
                dst.put_bytes(0, UNIX_PATH_LEN - path.len());
            }
        }
    }
    let mut crc_at = None;
    for tlv in &h.tlvs {
        dst.put_u8(tlv.kind);
        // Fits: the sum of all TLVs fits in 16 bits.
        dst.put_u16(tlv.value.len() as u16);
        if tlv.kind == ProxyTlv::CRC32C {
            crc_at = Some(dst.len());
            dst.put_bytes(0, 4);
        } else {
            dst.put_slice(&tlv.value);
        }
    }
    if let Some(at) = crc_at {
        let crc = crc32c(&[&dst[start..]]);
        dst[at..at + 4].copy_from_slice(&crc.to_be_bytes());
    }
    Ok(())
}

/// CRC32C (Castagnoli, RFC 4960 appendix B) lookup table.
const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = (crc >> 1) ^ (0x82F6_3B78 & (crc & 1).wrapping_neg());
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// CRC32C of the concatenation of `parts`.
pub(super) fn crc32c(parts: &[&[u8]]) -> u32 {
    let mut crc = !0u32;
    for part in parts {
        for &b in *part {
            crc = CRC32C_TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8);
        }
    }
    !crc
}
