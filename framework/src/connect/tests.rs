use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn interleave_alternates_families() {
    let addrs = vec![
        addr("[::1]:1"),
        addr("[::2]:1"),
        addr("127.0.0.1:1"),
        addr("127.0.0.2:1"),
    ];
    let out = interleave_families(addrs.clone(), 1);
    assert_eq!(out, vec![addrs[0], addrs[2], addrs[1], addrs[3]]);
    let out = interleave_families(addrs.clone(), 2);
    assert_eq!(out, vec![addrs[0], addrs[1], addrs[2], addrs[3]]);
    assert_eq!(interleave_families(addrs.clone(), 0), addrs);
}

#[test]
fn identical_errors_collapse() {
    let same = vec![Error::Closed("x"), Error::Closed("x")];
    assert!(matches!(aggregate(same), Error::Closed("x")));
    let different = vec![Error::Closed("x"), Error::Closed("y")];
    assert!(matches!(aggregate(different), Error::MultipleErrors(v) if v.len() == 2));
}
