//! `getaddrinfo`/`getnameinfo` on the loop, against the system resolver and
//! this machine's `/etc/hosts` and `/etc/services`.

mod support;

use std::net::{IpAddr, SocketAddr};

use aioproto::{AddrInfoHints, NameInfoFlags, get_running_loop};
use socket2::{Domain, Protocol, Type};
use support::{run_loop, with_timeout};

#[test]
fn numeric_hosts_and_hint_filters() {
    run_loop(async {
        let lp = get_running_loop().unwrap();
        let all = lp
            .getaddrinfo(Some("127.0.0.1"), 80, &AddrInfoHints::new())
            .await
            .unwrap();
        let kinds: Vec<_> = all.iter().map(|i| (i.socktype, i.protocol)).collect();
        assert_eq!(
            kinds,
            [
                (Type::STREAM, Some(Protocol::TCP)),
                (Type::DGRAM, Some(Protocol::UDP)),
                (Type::RAW, None)
            ],
            "glibc's three entries per address"
        );
        let mut udp = AddrInfoHints::new();
        udp.protocol(Protocol::UDP);
        let only = lp.getaddrinfo(Some("[::1]"), 53, &udp).await.unwrap();
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].family, Domain::IPV6);
        assert_eq!(only[0].addr, "[::1]:53".parse::<SocketAddr>().unwrap());

        let mut v6 = AddrInfoHints::new();
        v6.family(Domain::IPV6);
        assert!(lp.getaddrinfo(Some("127.0.0.1"), 80, &v6).await.is_err());
    });
}

#[test]
fn no_host_means_loopback_or_wildcard() {
    run_loop(async {
        let lp = get_running_loop().unwrap();
        let mut stream = AddrInfoHints::new();
        stream.socktype(Type::STREAM);
        let ips =
            |v: Vec<aioproto::AddrInfo>| v.into_iter().map(|i| i.addr.ip()).collect::<Vec<_>>();
        let active = ips(lp.getaddrinfo(None, 8080, &stream).await.unwrap());
        assert_eq!(
            active,
            [
                "::1".parse::<IpAddr>().unwrap(),
                "127.0.0.1".parse().unwrap()
            ]
        );
        stream.passive(true);
        let passive = ips(lp.getaddrinfo(None, 8080, &stream).await.unwrap());
        assert_eq!(
            passive,
            ["0.0.0.0".parse::<IpAddr>().unwrap(), "::".parse().unwrap()]
        );
    });
}

#[test]
fn names_go_through_the_system_resolver() {
    run_loop(async {
        let lp = get_running_loop().unwrap();
        let mut hints = AddrInfoHints::new();
        hints.socktype(Type::STREAM);
        let local = with_timeout(lp.getaddrinfo(Some("localhost"), 443, &hints))
            .await
            .unwrap();
        assert!(!local.is_empty());
        assert!(
            local
                .iter()
                .all(|i| i.addr.ip().is_loopback() && i.addr.port() == 443)
        );

        hints.numeric_host(true);
        let err = lp
            .getaddrinfo(Some("localhost"), 443, &hints)
            .await
            .unwrap_err();
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::NotFound), "{err}");

        // A reserved name (RFC 6761) never resolves; the error names it.
        let err = with_timeout(lp.getaddrinfo(Some("nothing.invalid"), 80, &AddrInfoHints::new()))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("nothing.invalid"), "{err}");
    });
}

/// What `/etc/hosts` says 127.0.0.1 is called, if anything.
fn hosts_name_of_loopback() -> Option<String> {
    let text = std::fs::read_to_string("/etc/hosts").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split('#').next()?.split_whitespace();
        (f.next()? == "127.0.0.1")
            .then(|| f.next().map(str::to_owned))
            .flatten()
    })
}

#[test]
fn getnameinfo_numeric_and_from_the_files() {
    run_loop(async {
        let lp = get_running_loop().unwrap();
        let mut numeric = NameInfoFlags::new();
        numeric.numeric_host(true).numeric_serv(true);
        let addr: SocketAddr = "127.0.0.1:22".parse().unwrap();
        assert_eq!(
            lp.getnameinfo(addr, numeric).await.unwrap(),
            ("127.0.0.1".to_owned(), "22".to_owned())
        );

        let (host, _) = lp.getnameinfo(addr, NameInfoFlags::new()).await.unwrap();
        assert_eq!(
            host,
            hosts_name_of_loopback().unwrap_or_else(|| "127.0.0.1".into())
        );

        // TEST-NET-3 (RFC 5737) is in nobody's /etc/hosts.
        let unnamed: SocketAddr = "203.0.113.9:9".parse().unwrap();
        let (host, _) = lp.getnameinfo(unnamed, NameInfoFlags::new()).await.unwrap();
        assert_eq!(host, "203.0.113.9");
        let mut required = NameInfoFlags::new();
        required.name_required(true);
        let err = lp.getnameinfo(unnamed, required).await.unwrap_err();
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::NotFound));
    });
}
