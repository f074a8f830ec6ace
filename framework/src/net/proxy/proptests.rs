//! Property tests: the parser never panics, never depends on how its input is
//! split, never reads past a header, and round-trips with the encoder.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

fn configs() -> impl Strategy<Value = ProxyProtocol> {
    prop_oneof![
        Just(ProxyProtocol::any()),
        Just(ProxyProtocol::v1()),
        Just(ProxyProtocol::v2()),
        (0usize..300).prop_map(|max| ProxyProtocol::any().with_max_v2_len(max)),
    ]
}

fn inet() -> impl Strategy<Value = (SocketAddr, SocketAddr)> {
    let v4 = (any::<[u8; 4]>(), any::<u16>())
        .prop_map(|(ip, port)| SocketAddr::new(Ipv4Addr::from(ip).into(), port));
    let v6 = (any::<[u8; 16]>(), any::<u16>())
        .prop_map(|(ip, port)| SocketAddr::new(Ipv6Addr::from(ip).into(), port));
    prop_oneof![(v4.clone(), v4), (v6.clone(), v6)]
}

/// A Unix path as the parser returns it: at most 108 bytes, no trailing NUL.
fn unix_path() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=108).prop_map(|mut p| {
        while p.last() == Some(&0) {
            p.pop();
        }
        p
    })
}

/// Every header v1 can carry.
fn v1_header() -> impl Strategy<Value = ProxyHeader> {
    prop_oneof![
        Just(ProxyHeader::unknown()),
        inet().prop_map(|(s, d)| ProxyHeader::tcp(s, d)),
    ]
    .prop_map(|h| h.with_version(ProxyVersion::V1))
}

/// Every shape of v2 header: any command, family, transport and TLVs, with
/// or without a CRC32C (placed first, so cutting TLVs off the end cannot
/// remove it).
fn v2_header() -> impl Strategy<Value = ProxyHeader> {
    let base = prop_oneof![
        Just(ProxyHeader::local()),
        Just(ProxyHeader::unknown()),
        inet().prop_map(|(s, d)| ProxyHeader::tcp(s, d)),
        inet().prop_map(|(s, d)| ProxyHeader::udp(s, d)),
        (unix_path(), unix_path()).prop_map(|(s, d)| ProxyHeader::unix_stream(s, d)),
        (unix_path(), unix_path()).prop_map(|(s, d)| ProxyHeader::unix_datagram(s, d)),
    ];
    let tlv = (
        any::<u8>().prop_filter("not crc", |k| *k != ProxyTlv::CRC32C),
        vec(any::<u8>(), 0..40),
    );
    (base, any::<bool>(), vec(tlv, 0..4)).prop_map(|(mut h, crc, tlvs)| {
        if crc {
            h = h.with_crc32c();
        }
        for (kind, value) in tlvs {
            h = h.with_tlv(kind, value);
        }
        h
    })
}

/// Encodes, then parses back what a receiver sees; CRC32C values are the
/// encoder's, so compare everything else.
fn same_but_crc(a: &ProxyHeader, b: &ProxyHeader) -> bool {
    let strip = |h: &ProxyHeader| {
        let mut h = h.clone();
        for t in &mut h.tlvs {
            if t.kind == ProxyTlv::CRC32C {
                t.value = vec![0; 4];
            }
        }
        h
    };
    strip(a) == strip(b)
}

/// Feeds `input` one prefix at a time, as a driver would, and checks each
/// answer against the answer for the whole input.
fn check_prefixes(cfg: &ProxyProtocol, input: &[u8], cuts: &[usize]) -> Result<(), TestCaseError> {
    let whole = cfg.parse(input);
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    for cut in cuts {
        match cfg.parse(&input[..cut]) {
            Ok(ProxyParse::Incomplete { needed }) => {
                prop_assert!(needed >= 1);
                // Reading `needed` more bytes never reads past a header.
                if let Ok(ProxyParse::Complete { consumed, .. }) = &whole {
                    prop_assert!(
                        cut + needed <= *consumed,
                        "cut {} needed {} consumed {}",
                        cut,
                        needed,
                        consumed
                    );
                }
            }
            // A verdict on a prefix is final: more bytes never change it.
            verdict => prop_assert_eq!(&verdict, &whole, "prefix of {} bytes", cut),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_and_verdicts_are_final(
        cfg in configs(),
        input in vec(any::<u8>(), 0..200),
        cuts in vec(any::<usize>(), 0..8),
    ) {
        check_prefixes(&cfg, &input, &cuts)?;
    }

    #[test]
    fn bytes_after_a_v2_signature_never_panic(
        cfg in configs(),
        fixed in any::<[u8; 4]>(),
        body in vec(any::<u8>(), 0..300),
        cuts in vec(any::<usize>(), 0..8),
    ) {
        let mut input = v2::SIGNATURE.to_vec();
        input.push(0x20 | (fixed[0] & 0x11)); // mostly valid, so the body gets parsed
        input.push(fixed[1]);
        input.extend_from_slice(&fixed[2..]);
        input.extend_from_slice(&body);
        check_prefixes(&cfg, &input, &cuts)?;
    }

    #[test]
    fn v1_like_lines_never_panic(
        words in vec(prop_oneof![
            Just("TCP4".to_owned()), Just("TCP6".to_owned()), Just("UNKNOWN".to_owned()),
            "[0-9]{1,4}(\\.[0-9]{1,4}){0,4}", "[0-9a-fA-F:]{0,12}", "[ \r\n]", "[0-9]{1,6}",
        ], 0..8),
        cuts in vec(any::<usize>(), 0..8),
    ) {
        let input = format!("PROXY {}\r\n", words.join(" "));
        check_prefixes(&ProxyProtocol::any(), input.as_bytes(), &cuts)?;
    }

    #[test]
    fn v1_round_trips_and_never_consumes_payload(
        h in v1_header(),
        payload in vec(any::<u8>(), 0..64),
        cuts in vec(any::<usize>(), 0..8),
    ) {
        let encoded = h.encode_v1().unwrap();
        prop_assert!(encoded.len() <= ProxyProtocol::MAX_V1_LEN);
        let input = [&encoded[..], &payload].concat();
        let parsed = ProxyHeader::parse(&input).unwrap();
        prop_assert_eq!(&parsed, &ProxyParse::Complete { header: h, consumed: encoded.len() });
        check_prefixes(&ProxyProtocol::any(), &input, &cuts)?;
        for cut in 0..encoded.len() {
            let is_incomplete = matches!(ProxyHeader::parse(&input[..cut]), Ok(ProxyParse::Incomplete { .. }));
            prop_assert!(is_incomplete);
        }
    }

    #[test]
    fn v2_round_trips_and_never_consumes_payload(
        h in v2_header(),
        payload in vec(any::<u8>(), 0..64),
        cuts in vec(any::<usize>(), 0..8),
    ) {
        let encoded = h.encode_v2().unwrap();
        let input = [&encoded[..], &payload].concat();
        let cfg = ProxyProtocol::any().with_max_v2_len(ProxyProtocol::MAX_V2_LEN);
        let Ok(ProxyParse::Complete { header, consumed }) = cfg.parse(&input) else {
            return Err(TestCaseError::fail(format!("{:?}", cfg.parse(&input))));
        };
        prop_assert_eq!(consumed, encoded.len());
        prop_assert!(same_but_crc(&header, &h), "{:?} != {:?}", header, h);
        prop_assert_eq!(header.encode_v2().unwrap(), encoded.clone());
        check_prefixes(&cfg, &input, &cuts)?;
        for cut in 0..encoded.len() {
            let is_incomplete = matches!(cfg.parse(&input[..cut]), Ok(ProxyParse::Incomplete { .. }));
            prop_assert!(is_incomplete);
        }
    }

    #[test]
    fn corrupt_signature_or_version_is_rejected(
        h in prop_oneof![v1_header(), v2_header()],
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let encoded = h.encode().unwrap();
        let mut bad = encoded.to_vec();
        // v1: "PROXY "; v2: signature and version nibble.
        let span = if h.version() == ProxyVersion::V1 { 6 } else { 13 };
        let i = at.index(span);
        let flip = if i == 12 { flip & 0xF0 } else { flip };
        prop_assume!(flip != 0);
        bad[i] ^= flip;
        prop_assert!(ProxyHeader::parse(&bad).is_err());
        // Rejected at the bad byte, or the next one if it turned `P` into
        // `\r` (the start of the other signature) or the reverse.
        let seen = (i + 2).min(bad.len());
        prop_assert!(ProxyHeader::parse(&bad[..seen]).is_err(), "rejected early");
    }

    #[test]
    fn bad_command_is_rejected(h in v2_header(), cmd in 2u8..16) {
        let mut bad = h.encode_v2().unwrap().to_vec();
        bad[12] = 0x20 | cmd;
        prop_assert_eq!(ProxyHeader::parse(&bad), Err(ProxyHeaderError::BadCommand(cmd)));
    }

    #[test]
    fn changed_length_is_never_a_silent_success(
        h in v2_header(),
        new_len in any::<u16>(),
        payload in vec(any::<u8>(), 0..64),
    ) {
        let encoded = h.encode_v2().unwrap();
        let old_len = encoded.len() - 16;
        prop_assume!(usize::from(new_len) != old_len);
        let mut bad = encoded.to_vec();
        bad[14..16].copy_from_slice(&new_len.to_be_bytes());
        let cfg = ProxyProtocol::any().with_max_v2_len(ProxyProtocol::MAX_V2_LEN);
        // Without trailing bytes, a longer header is only ever incomplete.
        if usize::from(new_len) > old_len {
            let is_incomplete = matches!(cfg.parse(&bad), Ok(ProxyParse::Incomplete { .. }));
            prop_assert!(is_incomplete);
        }
        // With the CRC32C or without TLVs to cut at, any change is caught.
        let crc = h.tlv(ProxyTlv::CRC32C).is_some();
        if crc || h.tlvs().is_empty() {
            bad.extend_from_slice(&payload);
            match cfg.parse(&bad) {
                Ok(ProxyParse::Complete { header, consumed }) => {
                    // Only a longer header whose extra bytes happen to be
                    // TLVs, without a CRC32C, can parse; then it says so.
                    prop_assert!(!crc);
                    prop_assert!(consumed > encoded.len());
                    prop_assert!(header.tlvs().len() > h.tlvs().len());
                }
                Ok(ProxyParse::Incomplete { .. }) => prop_assert!(usize::from(new_len) > old_len),
                Err(_) => {}
            }
        }
    }
}
