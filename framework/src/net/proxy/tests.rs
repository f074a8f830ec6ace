use bytes::BytesMut;

use super::*;
use ProxyHeaderError as E;

fn complete(buf: &[u8]) -> (ProxyHeader, usize) {
    match ProxyHeader::parse(buf) {
        Ok(ProxyParse::Complete { header, consumed }) => (header, consumed),
        other => panic!("expected a whole header from {buf:?}, got {other:?}"),
    }
}

fn err(buf: &[u8]) -> ProxyHeaderError {
    match ProxyHeader::parse(buf) {
        Err(e) => e,
        other => panic!("expected an error from {buf:?}, got {other:?}"),
    }
}

fn v2(ver_cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
    let mut out = v2::SIGNATURE.to_vec();
    out.extend_from_slice(&[ver_cmd, fam]);
    out.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    out.extend_from_slice(body);
    out
}

#[test]
fn v1_spec_example_leaves_the_request_alone() {
    let buf = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n";
    let (h, consumed) = complete(buf);
    assert_eq!(&buf[consumed..], b"GET / HTTP/1.1\r\n");
    assert_eq!(h.version(), ProxyVersion::V1);
    assert_eq!(h.command(), ProxyCommand::Proxy);
    assert_eq!(h.transport(), Some(ProxyTransport::Stream));
    assert_eq!(h.source(), Some("192.168.0.1:56324".parse().unwrap()));
    assert_eq!(h.destination(), Some("192.168.0.11:443".parse().unwrap()));
    assert!(h.tlvs().is_empty());
}

#[test]
fn v1_tcp6_accepts_compressed_and_upper_case_forms() {
    let (h, _) = complete(b"PROXY TCP6 FE80::1 ::ffff:0102:0304 0 65535\r\n");
    assert_eq!(h.source(), Some("[fe80::1]:0".parse().unwrap()));
    assert_eq!(
        h.destination(),
        Some("[::ffff:1.2.3.4]:65535".parse().unwrap())
    );
}

#[test]
fn v1_unknown_ignores_the_rest_of_its_line() {
    let (h, n) = complete(b"PROXY UNKNOWN\r\n");
    assert_eq!((h.addresses(), n), (&ProxyAddresses::Unspecified, 15));
    assert_eq!(h.transport(), None);
    let (_, n) = complete(b"PROXY UNKNOWN whatever \xff goes 1 2\r\nrest");
    assert_eq!(n, 35);
}

#[test]
fn v1_longest_lines_fit_and_one_more_byte_does_not() {
    let ff = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    let tcp6 = format!("PROXY TCP6 {ff} {ff} 65535 65535\r\n");
    assert_eq!(tcp6.len(), 104);
    assert_eq!(complete(tcp6.as_bytes()).1, 104);
    let worst = format!("PROXY UNKNOWN {ff} {ff} 65535 65535\r\n");
    assert_eq!(worst.len(), 107);
    assert_eq!(complete(worst.as_bytes()).1, 107);
    let too_long = format!("PROXY UNKNOWN {ff} {ff} 65535 655355\r\n");
    assert_eq!(err(too_long.as_bytes()), E::LineTooLong);
    // The CR as the 107th byte already means the line cannot end in time.
    assert_eq!(err(&too_long.as_bytes()[..107]), E::LineTooLong);
}

#[test]
fn v1_rejects_everything_not_canonical() {
    let cases: &[(&[u8], ProxyHeaderError)] = &[
        (
            b"PROXY TCP4 01.2.3.4 1.2.3.4 1 2\r\n",
            E::BadAddress("source address"),
        ),
        (
            b"PROXY TCP4 1.2.3.4 1.2.3.256 1 2\r\n",
            E::BadAddress("destination address"),
        ),
        (
            b"PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n",
            E::BadAddress("source address"),
        ),
        (
            b"PROXY TCP4 1.2.3.4.5 1.2.3.4 1 2\r\n",
            E::BadAddress("source address"),
        ),
        (
            b"PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n",
            E::BadAddress("source port"),
        ),
        (
            b"PROXY TCP4 1.2.3.4 1.2.3.4 1 65536\r\n",
            E::BadAddress("destination port"),
        ),
        (
            b"PROXY TCP4 ::1 ::2 1 2\r\n",
            E::BadAddress("source address"),
        ),
        (
            b"PROXY TCP6 ::1 ::ffff:1.2.3.4 1 2\r\n",
            E::BadAddress("destination address"),
        ),
        (
            b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
            E::BadAddress("source address"),
        ),
        (b"PROXY TCP4 1.2.3.4  1.2.3.4 1 2\r\n", E::BadLine),
        (b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n", E::BadLine),
        (b"PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n", E::BadLine),
        (b"PROXY TCP4\r\n", E::BadLine),
        (b"PROXY tcp4 1.2.3.4 1.2.3.4 1 2\r\n", E::BadProtocol),
        (b"PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n", E::BadProtocol),
        (b"PROXY UNKNOWNX\r\n", E::BadProtocol),
        (b"PROXY  TCP4 1.2.3.4 1.2.3.4 1 2\r\n", E::BadProtocol),
        (b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n", E::BadLineEnding),
        (b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rX", E::BadLineEnding),
        (b"PROXY UNKNOWN\n", E::BadLineEnding),
        (b"PROXYTCP4", E::BadSignature(ProxyVersion::V1)),
        (b"POST / HTTP/1.1\r\n", E::BadSignature(ProxyVersion::V1)),
    ];
    for (input, expected) in cases {
        assert_eq!(&err(input), expected, "{}", String::from_utf8_lossy(input));
    }
}

#[test]
fn rejects_other_protocols_at_the_first_byte() {
    assert_eq!(err(b"G"), E::NotProxyHeader);
    assert_eq!(err(b"\x16\x03\x01"), E::NotProxyHeader);
    assert_eq!(ProxyProtocol::v2().parse(b"P"), Err(E::NotProxyHeader));
    assert_eq!(ProxyProtocol::v1().parse(b"\r"), Err(E::NotProxyHeader));
    assert_eq!(err(b"PROXX"), E::BadSignature(ProxyVersion::V1));
    assert_eq!(
        err(b"\r\n\r\n\0\r\nQUIX"),
        E::BadSignature(ProxyVersion::V2)
    );
    assert_eq!(err(b"PROXY X"), E::BadProtocol);
}

#[test]
fn incomplete_says_how_much_is_missing_at_least() {
    let needed = |buf: &[u8]| match ProxyHeader::parse(buf) {
        Ok(ProxyParse::Incomplete { needed }) => needed,
        other => panic!("{other:?}"),
    };
    assert_eq!(needed(b""), 1);
    assert_eq!(needed(b"PROX"), 11);
    assert_eq!(needed(b"PROXY TCP4 1.2.3.4"), 1);
    let full = v2(0x21, 0x11, &[0; 12]);
    assert_eq!(needed(&full[..1]), 15);
    assert_eq!(needed(&full[..15]), 1);
    assert_eq!(needed(&full[..16]), 12);
    assert_eq!(needed(&full[..27]), 1);
}

#[test]
fn v2_spec_local_health_check() {
    let (h, n) = complete(b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00payload");
    assert_eq!(n, 16);
    assert_eq!(h, ProxyHeader::local());
}

#[test]
fn v2_local_discards_the_addresses_it_carries() {
    let (h, n) = complete(&v2(0x20, 0x11, &[1; 12]));
    assert_eq!(
        (h.command(), h.addresses(), n),
        (ProxyCommand::Local, &ProxyAddresses::Unspecified, 28)
    );
}

#[test]
fn v2_tcp4_tcp6_udp_and_unix() {
    let body = [127, 0, 0, 1, 10, 0, 0, 2, 0x04, 0xD2, 0x00, 0x50];
    let (h, n) = complete(&v2(0x21, 0x11, &body));
    assert_eq!(n, 28);
    assert_eq!(h.source(), Some("127.0.0.1:1234".parse().unwrap()));
    assert_eq!(h.destination(), Some("10.0.0.2:80".parse().unwrap()));

    let mut body6 = [0u8; 36];
    body6[15] = 1;
    body6[31] = 2;
    body6[32..].copy_from_slice(&[0, 1, 0, 2]);
    let (h, _) = complete(&v2(0x21, 0x22, &body6));
    assert_eq!(h.transport(), Some(ProxyTransport::Datagram));
    assert_eq!(h.source(), Some("[::1]:1".parse().unwrap()));
    assert_eq!(h.destination(), Some("[::2]:2".parse().unwrap()));

    let mut unix = [0u8; 216];
    unix[..6].copy_from_slice(b"/tmp/a");
    unix[109..113].copy_from_slice(b"abst"); // abstract: leading NUL kept
    let (h, _) = complete(&v2(0x21, 0x31, &unix));
    assert_eq!(
        h.addresses(),
        &ProxyAddresses::Unix {
            source: b"/tmp/a".to_vec(),
            destination: b"\0abst".to_vec()
        }
    );
    assert_eq!(h.source(), None);
}

#[test]
fn v2_unspecified_family_reads_tlvs_and_no_addresses() {
    let (h, _) = complete(&v2(0x21, 0x00, b"\x02\x00\x03abc\x04\x00\x00"));
    assert_eq!(h.addresses(), &ProxyAddresses::Unspecified);
    assert_eq!(h.tlv(ProxyTlv::AUTHORITY), Some(&b"abc"[..]));
    assert_eq!(h.tlvs()[1], ProxyTlv::new(ProxyTlv::NOOP, Vec::new()));
    let (h, _) = complete(&v2(0x21, 0x10, b""));
    assert_eq!(
        (h.addresses(), h.transport()),
        (&ProxyAddresses::Unspecified, None)
    );
}

#[test]
fn v2_rejects_bad_fixed_fields_as_soon_as_they_arrive() {
    let good = v2(0x21, 0x11, &[0; 12]);
    let mut bad = good.clone();
    bad[12] = 0x11;
    assert_eq!(err(&bad[..13]), E::BadVersion(1));
    bad[12] = 0x22;
    assert_eq!(err(&bad[..13]), E::BadCommand(2));
    bad = good.clone();
    bad[13] = 0x41;
    assert_eq!(err(&bad[..14]), E::BadFamily(0x41));
    bad[13] = 0x13;
    assert_eq!(err(&bad[..14]), E::BadFamily(0x13));
    bad = good.clone();
    bad[15] = 11;
    assert_eq!(
        err(&bad[..16]),
        E::TruncatedAddresses {
            length: 11,
            needed: 12
        }
    );
    let unix_short = v2(0x21, 0x31, &[0; 100]);
    assert_eq!(
        err(&unix_short[..16]),
        E::TruncatedAddresses {
            length: 100,
            needed: 216
        }
    );
}

#[test]
fn v2_length_cap_applies_before_the_body_arrives() {
    let big = v2(
        0x21,
        0x00,
        &[4, 0x0F, 0xFD]
            .into_iter()
            .chain([0; 4093])
            .collect::<Vec<_>>(),
    );
    assert_eq!(big.len(), 16 + 4096);
    assert_eq!(
        err(&big[..16]),
        E::HeaderTooLong {
            length: 4112,
            max: 4096
        }
    );
    let roomy = ProxyProtocol::any().with_max_v2_len(ProxyProtocol::MAX_V2_LEN);
    assert!(matches!(
        roomy.parse(&big),
        Ok(ProxyParse::Complete { consumed: 4112, .. })
    ));
    let tight = ProxyProtocol::v2().with_max_v2_len(27);
    assert!(matches!(
        tight.parse(&v2(0x21, 0x11, &[0; 12])[..16]),
        Err(E::HeaderTooLong { .. })
    ));
}

#[test]
fn v2_rejects_malformed_tlvs() {
    assert_eq!(err(&v2(0x21, 0x00, b"\x01\x00")), E::BadTlv);
    assert_eq!(err(&v2(0x21, 0x00, b"\x01\x00\x02a")), E::BadTlv);
    assert_eq!(
        err(&v2(0x21, 0x11, &[[0u8; 12].as_slice(), b"\x05"].concat())),
        E::BadTlv
    );
    assert_eq!(err(&v2(0x21, 0x00, b"\x03\x00\x03abc")), E::BadTlv);
}

#[test]
fn crc32c_matches_the_standard_check_value_and_is_verified() {
    assert_eq!(v2::crc32c(&[b"123456789"]), 0xE306_9283);
    assert_eq!(v2::crc32c(&[b"1234", b"56789"]), 0xE306_9283);
    let h = ProxyHeader::tcp("1.2.3.4:5".parse().unwrap(), "6.7.8.9:10".parse().unwrap())
        .with_crc32c()
        .with_tlv(ProxyTlv::ALPN, b"h2".to_vec());
    let mut bytes = h.encode_v2().unwrap().to_vec();
    let (parsed, _) = complete(&bytes);
    assert_ne!(parsed.tlv(ProxyTlv::CRC32C), Some(&[0u8; 4][..]));
    assert_eq!(parsed.encode_v2().unwrap(), bytes);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert_eq!(err(&bytes), E::ChecksumMismatch);
    let twice = v2(0x21, 0x00, b"\x03\x00\x04abcd\x03\x00\x04abcd");
    assert_eq!(err(&twice), E::BadTlv);
}

#[test]
fn encoders_refuse_what_their_version_cannot_carry() {
    let a = "1.2.3.4:5".parse().unwrap();
    let not_v1 = |h: ProxyHeader| {
        matches!(
            h.encode_v1(),
            Err(ProxyEncodeError::NotRepresentable { .. })
        )
    };
    assert!(not_v1(ProxyHeader::udp(a, a)));
    assert!(not_v1(ProxyHeader::unix_stream(
        b"/a".to_vec(),
        b"/b".to_vec()
    )));
    assert!(not_v1(
        ProxyHeader::tcp(a, a).with_tlv(ProxyTlv::NOOP, Vec::new())
    ));

    let long = ProxyHeader::unix_datagram(vec![b'x'; 109], b"/b".to_vec());
    assert_eq!(
        long.encode_v2(),
        Err(ProxyEncodeError::UnixAddressTooLong { length: 109 })
    );
    let huge = ProxyHeader::unknown().with_tlv(ProxyTlv::NOOP, vec![0; 65533]);
    assert_eq!(
        huge.encode_v2(),
        Err(ProxyEncodeError::TooLong { length: 65536 })
    );
    assert_eq!(
        huge.encode_v2().unwrap_err().to_string().chars().next(),
        Some('p')
    );
    let two = ProxyHeader::unknown().with_crc32c().with_crc32c();
    assert_eq!(two.encode_v2(), Err(ProxyEncodeError::BadCrc32c));
    let short = ProxyHeader::unknown().with_tlv(ProxyTlv::CRC32C, vec![0; 3]);
    assert_eq!(short.encode_v2(), Err(ProxyEncodeError::BadCrc32c));

    let mut dst = BytesMut::from(&b"keep"[..]);
    assert!(long.write_to(ProxyVersion::V2, &mut dst).is_err());
    assert_eq!(&dst[..], b"keep");
}

#[test]
fn encoders_write_the_spec_layouts() {
    let h = ProxyHeader::tcp(
        "127.0.0.1:1234".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
    );
    assert_eq!(
        h.encode_v2().unwrap(),
        v2(
            0x21,
            0x11,
            &[127, 0, 0, 1, 10, 0, 0, 2, 0x04, 0xD2, 0x00, 0x50]
        )
    );
    assert_eq!(
        ProxyHeader::local().encode_v2().unwrap(),
        v2(0x20, 0x00, b"")
    );
    let mapped = ProxyHeader::tcp("1.2.3.4:1".parse().unwrap(), "[::1]:2".parse().unwrap());
    assert_eq!(
        &mapped.encode_v1().unwrap()[..],
        b"PROXY TCP6 0:0:0:0:0:ffff:102:304 0:0:0:0:0:0:0:1 1 2\r\n"
    );
    let (back, _) = complete(&mapped.encode_v1().unwrap());
    assert_eq!(back.with_version(ProxyVersion::V2), mapped);
}

#[test]
fn error_messages_are_lower_case_without_a_period() {
    let all = [
        E::NotProxyHeader,
        E::BadSignature(ProxyVersion::V2),
        E::BadVersion(3),
        E::BadCommand(2),
        E::BadFamily(0x44),
        E::HeaderTooLong { length: 1, max: 0 },
        E::TruncatedAddresses {
            length: 1,
            needed: 2,
        },
        E::BadTlv,
        E::ChecksumMismatch,
        E::LineTooLong,
        E::BadLineEnding,
        E::BadProtocol,
        E::BadLine,
        E::BadAddress("source port"),
    ];
    for e in all {
        let text = e.to_string();
        assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
        assert!(!text.ends_with('.'), "{text}");
    }
}

mod on_a_stream {
    use std::path::PathBuf;

    use bytes::Bytes;

    use super::super::stream::{ReadHeader, apply};
    use super::*;
    use crate::transport::{Capabilities, ExtraInfo};

    /// The facts of a TCP connection from 127.0.0.1:5000 to 127.0.0.1:80.
    fn socket() -> ExtraInfo {
        let mut extra = ExtraInfo::new(Capabilities::SOCKET);
        extra.peername = Some("127.0.0.1:5000".parse().unwrap());
        extra.sockname = Some("127.0.0.1:80".parse().unwrap());
        extra
    }

    fn read(header: ProxyHeader) -> ReadHeader {
        let raw = header.encode().unwrap();
        ReadHeader {
            header,
            raw,
            rest: Bytes::new(),
        }
    }

    #[test]
    fn an_inet_header_replaces_the_addresses_and_keeps_the_socket_ones() {
        let mut extra = socket();
        let header = ProxyHeader::tcp(
            "[2001:db8::1]:1".parse().unwrap(),
            "[2001:db8::2]:2".parse().unwrap(),
        );
        let read = read(header);
        apply(&mut extra, &read);
        assert_eq!(extra.peername, Some("[2001:db8::1]:1".parse().unwrap()));
        assert_eq!(extra.sockname, Some("[2001:db8::2]:2".parse().unwrap()));
        let proxy = extra.proxy.as_deref().expect("the socket's facts");
        assert_eq!(
            proxy.socket_peername,
            Some("127.0.0.1:5000".parse().unwrap())
        );
        assert_eq!(proxy.socket_sockname, Some("127.0.0.1:80".parse().unwrap()));
        assert_eq!(proxy.header, read.raw);
    }

    #[test]
    fn a_unix_header_sets_the_paths_and_clears_the_ip_addresses() {
        let mut extra = socket();
        apply(
            &mut extra,
            &read(ProxyHeader::unix_stream(
                b"\0abstract".to_vec(),
                b"/run/s".to_vec(),
            )),
        );
        assert_eq!((extra.peername, extra.sockname), (None, None));
        assert_eq!(extra.peer_path, Some(PathBuf::from("\0abstract")));
        assert_eq!(extra.sock_path, Some(PathBuf::from("/run/s")));
    }

    #[test]
    fn local_and_unknown_headers_keep_the_socket_addresses() {
        for header in [ProxyHeader::local(), ProxyHeader::unknown()] {
            let mut extra = socket();
            apply(&mut extra, &read(header));
            assert_eq!(extra.peername, socket().peername);
            assert_eq!(extra.sockname, socket().sockname);
            assert!(extra.proxy.is_some());
        }
    }
}
