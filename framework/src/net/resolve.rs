//! `getaddrinfo` and `getnameinfo` on the loop (asyncio's
//! `loop.getaddrinfo` / `loop.getnameinfo`), run in the loop's default
//! executor as asyncio does.
//!
//! # How names are looked up
//!
//! * `getaddrinfo` calls the system resolver (`getaddrinfo(3)`, through
//!   std's `ToSocketAddrs`), so `/etc/hosts`, DNS and whatever
//!   `nsswitch.conf` lists all apply. std asks for stream sockets and gives
//!   addresses only; the family, socket type and protocol of each entry are
//!   filled in from [`AddrInfoHints`] the way glibc does, and `canonname` is
//!   always empty (no `AI_CANONNAME`).
//! * `getnameinfo` has no safe binding in std or `nix`, and this crate has no
//!   `unsafe` code, so it reads the `files` sources itself: host names come
//!   from `/etc/hosts` and service names from `/etc/services`. No DNS (PTR)
//!   query is made; an address not in `/etc/hosts` is given numerically, or
//!   is an error with [`NameInfoFlags::name_required`]. Use a DNS crate
//!   (e.g. hickory-resolver) for reverse DNS.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use socket2::{Domain, Protocol, Type};

use crate::error::{Error, Result};
use crate::net::addr::with_context;
use crate::runtime::event_loop::EventLoop;

/// Hints for [`EventLoop::getaddrinfo`] (asyncio's `family`, `type`, `proto`
/// and `flags` arguments). Every hint defaults to "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddrInfoHints {
    family: Option<Domain>,
    socktype: Option<Type>,
    protocol: Option<Protocol>,
    passive: bool,
    numeric_host: bool,
}

impl AddrInfoHints {
    /// Any family, type and protocol; not passive; names resolved.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only this family: `Domain::IPV4` or `Domain::IPV6` (`AF_INET`,
    /// `AF_INET6`). Default: both.
    pub fn family(&mut self, family: Domain) -> &mut Self {
        self.family = Some(family);
        self
    }

    /// Only this socket type (`SOCK_STREAM`, `SOCK_DGRAM`, `SOCK_RAW`).
    /// Default: one entry of each per address, as glibc gives.
    pub fn socktype(&mut self, socktype: Type) -> &mut Self {
        self.socktype = Some(socktype);
        self
    }

    /// Only this protocol (`IPPROTO_TCP`, `IPPROTO_UDP`). Default: the
    /// socket type's own.
    pub fn protocol(&mut self, protocol: Protocol) -> &mut Self {
        self.protocol = Some(protocol);
        self
    }

    /// `AI_PASSIVE`: with no host, give the wildcard addresses (to bind)
    /// instead of the loopback ones (to connect). Default: off.
    pub fn passive(&mut self, on: bool) -> &mut Self {
        self.passive = on;
        self
    }

    /// `AI_NUMERICHOST`: the host must be an address literal; no lookup.
    /// Default: off.
    pub fn numeric_host(&mut self, on: bool) -> &mut Self {
        self.numeric_host = on;
        self
    }
}

/// One result of [`EventLoop::getaddrinfo`]: asyncio's
/// `(family, type, proto, canonname, sockaddr)` tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddrInfo {
    /// `Domain::IPV4` or `Domain::IPV6`.
    pub family: Domain,
    /// The socket type the address is for.
    pub socktype: Type,
    /// The protocol, `None` for raw sockets (protocol 0).
    pub protocol: Option<Protocol>,
    /// The canonical name; always empty (`AI_CANONNAME` is not supported).
    pub canonname: String,
    /// The address and port.
    pub addr: SocketAddr,
}

/// Flags for [`EventLoop::getnameinfo`] (asyncio's `flags`: `NI_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NameInfoFlags {
    numeric_host: bool,
    numeric_serv: bool,
    name_required: bool,
    no_fqdn: bool,
    dgram: bool,
}

impl NameInfoFlags {
    /// No flags: names where known, numbers otherwise.
    pub fn new() -> Self {
        Self::default()
    }

    /// `NI_NUMERICHOST`: give the address as a number.
    pub fn numeric_host(&mut self, on: bool) -> &mut Self {
        self.numeric_host = on;
        self
    }

    /// `NI_NUMERICSERV`: give the port as a number.
    pub fn numeric_serv(&mut self, on: bool) -> &mut Self {
        self.numeric_serv = on;
        self
    }

    /// `NI_NAMEREQD`: an address without a name is an error.
    pub fn name_required(&mut self, on: bool) -> &mut Self {
        self.name_required = on;
        self
    }

    /// `NI_NOFQDN`: only the first label of the host name.
    pub fn no_fqdn(&mut self, on: bool) -> &mut Self {
        self.no_fqdn = on;
        self
    }

    /// `NI_DGRAM`: look the port up as a UDP service, not TCP.
    pub fn dgram(&mut self, on: bool) -> &mut Self {
        self.dgram = on;
        self
    }
}

fn family_of(addr: &SocketAddr) -> Domain {
    if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    }
}

/// The (type, protocol) pairs glibc returns for `hints`.
fn kinds(hints: &AddrInfoHints) -> Vec<(Type, Option<Protocol>)> {
    let all = [
        (Type::STREAM, Some(Protocol::TCP)),
        (Type::DGRAM, Some(Protocol::UDP)),
        (Type::RAW, None),
    ];
    all.into_iter()
        .filter(|(t, _)| hints.socktype.is_none_or(|want| want == *t))
        .filter_map(|(t, p)| match (hints.protocol, p) {
            (None, _) => Some((t, p)),
            (Some(want), Some(own)) if want == own => Some((t, p)),
            (Some(want), None) if hints.socktype == Some(Type::RAW) => Some((t, Some(want))),
            _ => None,
        })
        .collect()
}

/// Builds the entries for resolved `addrs` (deduplicated, order kept).
fn entries(addrs: Vec<SocketAddr>, hints: &AddrInfoHints) -> Vec<AddrInfo> {
    let mut seen = Vec::new();
    for a in addrs {
        if hints.family.is_none_or(|f| f == family_of(&a)) && !seen.contains(&a) {
            seen.push(a);
        }
    }
    let kinds = kinds(hints);
    seen.into_iter()
        .flat_map(|addr| {
            kinds.iter().map(move |&(socktype, protocol)| AddrInfo {
                family: family_of(&addr),
                socktype,
                protocol,
                canonname: String::new(),
                addr,
            })
        })
        .collect()
}

fn no_name(what: impl std::fmt::Display) -> Error {
    Error::from(io::Error::new(
        io::ErrorKind::NotFound,
        format!("{what}: name or service not known"),
    ))
}

/// Resolves `host` and `port` for the paths that create sockets
/// (`create_connection`, `create_server`, `create_datagram_endpoint`): the
/// system resolver through tokio's blocking pool, addresses in the
/// resolver's order. The error names the host, as asyncio's does.
pub(crate) async fn lookup_host(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| with_context(e, format_args!("getaddrinfo failed for {host}")))?
        .collect();
    if addrs.is_empty() {
        return Err(no_name(host));
    }
    Ok(addrs)
}

/// The host name `/etc/hosts` (as text) gives `ip`, if any.
fn host_from_hosts(hosts: &str, ip: IpAddr) -> Option<String> {
    hosts.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_whitespace();
        let addr: IpAddr = fields.next()?.parse().ok()?;
        (addr == ip)
            .then(|| fields.next().map(str::to_owned))
            .flatten()
    })
}

/// The service name `/etc/services` (as text) gives `port`/`proto`, if any.
fn service_from_services(services: &str, port: u16, proto: &str) -> Option<String> {
    let want = format!("{port}/{proto}");
    services.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_whitespace();
        let name = fields.next()?;
        (fields.next()? == want).then(|| name.to_owned())
    })
}

fn read_or_empty(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

impl EventLoop {
    /// Resolves `host` and `port` to socket addresses (asyncio's
    /// `loop.getaddrinfo`), in the loop's default executor.
    ///
    /// `host` is a name or an address literal; `None` means the loopback
    /// addresses (`::1`, `127.0.0.1`), or with [`AddrInfoHints::passive`] the
    /// wildcard ones (`0.0.0.0`, `::`), as `getaddrinfo(3)` gives for a NULL
    /// host. An address literal is not looked up.
    ///
    /// Names go through the system resolver (`getaddrinfo(3)`, through std's
    /// `ToSocketAddrs`), so `/etc/hosts`, DNS and whatever `nsswitch.conf`
    /// lists all apply. std asks for stream sockets and gives addresses only;
    /// the family, socket type and protocol of each entry are filled in from
    /// the hints the way glibc does (three entries per address, stream, datagram
    /// and raw, unless the hints narrow it).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming the host when it cannot be resolved (kind
    /// `NotFound` when the resolver found nothing for it);
    /// [`Error::InvalidState`] if the loop is closed or its executor shut
    /// down; [`Error::Cancelled`] if the calling task is cancelled.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the lookup finishes in the executor and is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::AddrInfoHints;
    /// use socket2::{Domain, Type};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let lp = aioproto::get_running_loop()?;
    /// let mut hints = AddrInfoHints::new();
    /// hints.family(Domain::IPV4).socktype(Type::STREAM);
    /// let infos = lp.getaddrinfo(Some("127.0.0.1"), 8080, &hints).await?;
    /// assert_eq!(infos.len(), 1);
    /// assert_eq!(infos[0].addr, "127.0.0.1:8080".parse().unwrap());
    ///
    /// let any = lp.getaddrinfo(Some("localhost"), 80, &AddrInfoHints::new()).await?;
    /// assert!(any.iter().all(|i| i.addr.ip().is_loopback()));
    /// # Ok(()) }
    /// ```
    pub async fn getaddrinfo(
        &self,
        host: Option<&str>,
        port: u16,
        hints: &AddrInfoHints,
    ) -> Result<Vec<AddrInfo>> {
        self.check_open()?;
        let addrs = match host {
            None => {
                let ips: [IpAddr; 2] = if hints.passive {
                    [Ipv4Addr::UNSPECIFIED.into(), Ipv6Addr::UNSPECIFIED.into()]
                } else {
                    [Ipv6Addr::LOCALHOST.into(), Ipv4Addr::LOCALHOST.into()]
                };
                ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect()
            }
            Some(h) => match h
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
            {
                Ok(ip) => vec![SocketAddr::new(ip, port)],
                Err(_) if hints.numeric_host => return Err(no_name(h)),
                Err(_) => {
                    let owned = h.to_owned();
                    self.run_in_executor(move || {
                        (owned.as_str(), port)
                            .to_socket_addrs()
                            .map(Iterator::collect::<Vec<_>>)
                            .map_err(|e| {
                                with_context(e, format_args!("getaddrinfo failed for {owned}"))
                            })
                    })?
                    .await??
                }
            },
        };
        let out = entries(addrs, hints);
        if out.is_empty() {
            return Err(no_name(format_args!(
                "{} (no address of the requested family)",
                host.unwrap_or("<none>")
            )));
        }
        Ok(out)
    }

    /// The host and service names for `addr` (asyncio's
    /// `loop.getnameinfo`), in the loop's default executor.
    ///
    /// `getnameinfo(3)` has no safe binding in std or `nix`, and this crate
    /// has no `unsafe` code, so names come from the `files` sources only: host
    /// names from `/etc/hosts`, service names from `/etc/services`. No DNS
    /// (PTR) query is made; use a DNS crate (e.g. hickory-resolver) for
    /// reverse DNS. Without a name, the number is given, unless
    /// [`NameInfoFlags::name_required`].
    ///
    /// # Errors
    ///
    /// [`Error::Io`] (kind `NotFound`) for an address without a name when one
    /// is required; [`Error::InvalidState`] if the loop is closed or its
    /// executor shut down; [`Error::Cancelled`] if the calling task is
    /// cancelled.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::NameInfoFlags;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let lp = aioproto::get_running_loop()?;
    /// let mut numeric = NameInfoFlags::new();
    /// numeric.numeric_host(true).numeric_serv(true);
    /// let (host, port) = lp.getnameinfo("10.1.2.3:8080".parse().unwrap(), numeric).await?;
    /// assert_eq!((host.as_str(), port.as_str()), ("10.1.2.3", "8080"));
    ///
    /// let (_host, service) = lp.getnameinfo("127.0.0.1:22".parse().unwrap(), NameInfoFlags::new()).await?;
    /// println!("port 22 is {service}"); // "ssh" where /etc/services lists it
    /// # Ok(()) }
    /// ```
    pub async fn getnameinfo(
        &self,
        addr: SocketAddr,
        flags: NameInfoFlags,
    ) -> Result<(String, String)> {
        self.check_open()?;
        let lookup = move || -> Result<(String, String)> {
            let ip = addr.ip();
            let host = if flags.numeric_host {
                None
            } else {
                host_from_hosts(&read_or_empty("/etc/hosts"), ip)
            };
            let host = match host {
                Some(name) if flags.no_fqdn => name.split('.').next().unwrap_or(&name).to_owned(),
                Some(name) => name,
                None if flags.name_required => return Err(no_name(ip)),
                None => ip.to_string(),
            };
            let proto = if flags.dgram { "udp" } else { "tcp" };
            let service = if flags.numeric_serv {
                None
            } else {
                service_from_services(&read_or_empty("/etc/services"), addr.port(), proto)
            };
            Ok((host, service.unwrap_or_else(|| addr.port().to_string())))
        };
        if flags.numeric_host && flags.numeric_serv {
            return lookup();
        }
        self.run_in_executor(lookup)?.await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTS: &str = "# comment\n127.0.0.1\tlocalhost loopback\n::1 ip6-localhost\n10.0.0.7 db.internal.example db # the database\n";
    const SERVICES: &str = "ssh\t\t22/tcp\nhttp 80/tcp www\ndomain 53/udp\ndomain 53/tcp\n";

    #[test]
    fn hosts_file_lookup() {
        assert_eq!(
            host_from_hosts(HOSTS, "127.0.0.1".parse().unwrap()).as_deref(),
            Some("localhost")
        );
        assert_eq!(
            host_from_hosts(HOSTS, "::1".parse().unwrap()).as_deref(),
            Some("ip6-localhost")
        );
        assert_eq!(
            host_from_hosts(HOSTS, "10.0.0.7".parse().unwrap()).as_deref(),
            Some("db.internal.example")
        );
        assert_eq!(host_from_hosts(HOSTS, "10.0.0.8".parse().unwrap()), None);
        assert_eq!(
            host_from_hosts("garbage line\n\n#", "1.1.1.1".parse().unwrap()),
            None
        );
    }

    #[test]
    fn services_file_lookup() {
        assert_eq!(
            service_from_services(SERVICES, 22, "tcp").as_deref(),
            Some("ssh")
        );
        assert_eq!(
            service_from_services(SERVICES, 53, "udp").as_deref(),
            Some("domain")
        );
        assert_eq!(service_from_services(SERVICES, 22, "udp"), None);
        assert_eq!(service_from_services("", 80, "tcp"), None);
    }

    #[test]
    fn entries_follow_glibc_shape() {
        let addrs = vec![
            "127.0.0.1:80".parse().unwrap(),
            "[::1]:80".parse().unwrap(),
            "127.0.0.1:80".parse().unwrap(),
        ];
        let all = entries(addrs.clone(), &AddrInfoHints::new());
        assert_eq!(all.len(), 6, "two addresses, three socket types each");
        assert_eq!(all[0].socktype, Type::STREAM);
        assert_eq!(all[1].protocol, Some(Protocol::UDP));
        assert_eq!(all[2].protocol, None);
        let mut hints = AddrInfoHints::new();
        hints.family(Domain::IPV6).protocol(Protocol::UDP);
        let udp6 = entries(addrs, &hints);
        assert_eq!(udp6.len(), 1);
        assert_eq!(
            (udp6[0].family, udp6[0].socktype),
            (Domain::IPV6, Type::DGRAM)
        );
    }
}
