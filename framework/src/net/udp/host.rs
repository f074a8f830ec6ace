//! UDP endpoint addresses given as host names, resolved the way asyncio's
//! `create_datagram_endpoint` does: each side through the resolver, grouped
//! by family, then one (local, remote) pair after another until a socket
//! binds and connects.

use std::net::SocketAddr;

use crate::error::{Error, Result};
use crate::net::addr::AddressFamily;
use crate::net::resolve::lookup_host;

/// Something [`create_datagram_endpoint`](crate::create_datagram_endpoint)
/// takes as `local_addr` or `remote_addr`: a resolved address (`SocketAddr`,
/// `Option<SocketAddr>`, where `None` means "not given"), or a host name
/// with a port, resolved like asyncio does (`"localhost:0"`,
/// `"[::1]:9999"`, `("example.com", 53)`).
///
/// Implemented by this crate for those types only.
///
/// # Examples
///
/// ```
/// use aioproto::{DatagramOptions, DatagramProtocol, create_datagram_endpoint};
///
/// struct Quiet;
/// impl DatagramProtocol for Quiet {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let options = DatagramOptions::new();
/// let (by_name, _) = create_datagram_endpoint(|| Quiet, "localhost:0", None, &options).await?;
/// let (by_tuple, _) = create_datagram_endpoint(|| Quiet, ("localhost", 0), None, &options).await?;
/// let (by_addr, _) = create_datagram_endpoint(|| Quiet, "127.0.0.1:0".parse().ok(), None, &options).await?;
/// # for t in [by_name, by_tuple, by_addr] { t.close(); }
/// # Ok(()) }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a datagram endpoint address",
    label = "expected an address, or a host name with a port",
    note = "pass a `SocketAddr`, an `Option<SocketAddr>` (`None`: not given), `\"host:port\"` or `(\"host\", port)`; a host name is given without `Some`"
)]
pub trait ToEndpointAddr {
    /// The address, or the host and port to resolve.
    #[doc(hidden)]
    fn to_endpoint_addr(self) -> Result<EndpointAddr>;
}

/// An endpoint address before resolution.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointAddr {
    /// Not given.
    Absent,
    /// Already an address: not looked up.
    Resolved(SocketAddr),
    /// A host name and port for the resolver.
    Host(String, u16),
}

impl ToEndpointAddr for Option<SocketAddr> {
    fn to_endpoint_addr(self) -> Result<EndpointAddr> {
        Ok(self.map_or(EndpointAddr::Absent, EndpointAddr::Resolved))
    }
}

impl ToEndpointAddr for SocketAddr {
    fn to_endpoint_addr(self) -> Result<EndpointAddr> {
        Ok(EndpointAddr::Resolved(self))
    }
}

impl ToEndpointAddr for &str {
    fn to_endpoint_addr(self) -> Result<EndpointAddr> {
        if let Ok(addr) = self.parse() {
            return Ok(EndpointAddr::Resolved(addr));
        }
        let invalid =
            || Error::invalid_argument(format!("invalid address {self:?}: expected HOST:PORT"));
        let (host, port) = self.rsplit_once(':').ok_or_else(invalid)?;
        let port = port.parse().map_err(|_| invalid())?;
        (host, port).to_endpoint_addr()
    }
}

impl ToEndpointAddr for &String {
    fn to_endpoint_addr(self) -> Result<EndpointAddr> {
        self.as_str().to_endpoint_addr()
    }
}

impl ToEndpointAddr for String {
    fn to_endpoint_addr(self) -> Result<EndpointAddr> {
        self.as_str().to_endpoint_addr()
    }
}

impl ToEndpointAddr for (&str, u16) {
    fn to_endpoint_addr(self) -> Result<EndpointAddr> {
        let (host, port) = self;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if bare.is_empty() {
            return Err(Error::invalid_argument("host must not be empty"));
        }
        Ok(match bare.parse() {
            Ok(ip) => EndpointAddr::Resolved(SocketAddr::new(ip, port)),
            Err(_) => EndpointAddr::Host(bare.to_owned(), port),
        })
    }
}

impl ToEndpointAddr for (String, u16) {
    fn to_endpoint_addr(self) -> Result<EndpointAddr> {
        (self.0.as_str(), self.1).to_endpoint_addr()
    }
}

impl EndpointAddr {
    /// The addresses, looked up if need be; `None` when not given.
    async fn resolve(&self) -> Result<Option<Vec<SocketAddr>>> {
        Ok(match self {
            EndpointAddr::Absent => None,
            EndpointAddr::Resolved(addr) => Some(vec![*addr]),
            EndpointAddr::Host(host, port) => Some(lookup_host(host, *port).await?),
        })
    }
}

impl std::fmt::Display for EndpointAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndpointAddr::Absent => f.write_str("<none>"),
            EndpointAddr::Resolved(addr) => write!(f, "{addr}"),
            EndpointAddr::Host(host, port) => write!(f, "{host}:{port}"),
        }
    }
}

/// One way to open the endpoint: the address to bind and the one to
/// connect to, of the same family.
pub(super) type Candidate = (Option<SocketAddr>, Option<SocketAddr>);

/// Resolves both sides and pairs their addresses family by family, in the
/// order the resolver gave the first side's families; within a family every
/// local address with every remote one, in resolver order.
///
/// # Errors
///
/// Neither side given; a side that does not resolve (the error names the
/// host); nothing of `family`; no family both sides share.
pub(super) async fn candidates(
    local: &EndpointAddr,
    remote: &EndpointAddr,
    family: Option<AddressFamily>,
) -> Result<Vec<Candidate>> {
    if (local, remote) == (&EndpointAddr::Absent, &EndpointAddr::Absent) {
        return Err(Error::invalid_argument(
            "unexpected address family: give local_addr or remote_addr",
        ));
    }
    let mut locals = local.resolve().await?;
    let mut remotes = remote.resolve().await?;
    if let Some(family) = family {
        for (side, addrs) in [(local, &mut locals), (remote, &mut remotes)] {
            if let Some(addrs) = addrs {
                addrs.retain(|addr| family.includes(addr));
                if addrs.is_empty() {
                    return Err(Error::invalid_argument(format!(
                        "{side} resolved to no {family:?} address"
                    )));
                }
            }
        }
    }
    let first = locals
        .as_ref()
        .or(remotes.as_ref())
        .cloned()
        .unwrap_or_default();
    let mut families: Vec<bool> = first.iter().map(SocketAddr::is_ipv4).collect();
    families.dedup();
    let of_family = |addrs: &Option<Vec<SocketAddr>>, v4: bool| -> Vec<Option<SocketAddr>> {
        match addrs {
            None => vec![None],
            Some(addrs) => addrs
                .iter()
                .filter(|a| a.is_ipv4() == v4)
                .map(|a| Some(*a))
                .collect(),
        }
    };
    let mut out = Vec::new();
    for v4 in families {
        for l in of_family(&locals, v4) {
            for r in of_family(&remotes, v4) {
                if !out.contains(&(l, r)) {
                    out.push((l, r));
                }
            }
        }
    }
    if out.is_empty() {
        return Err(Error::invalid_argument(format!(
            "local_addr {local} and remote_addr {remote} are of different address families"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn host_port_strings_parse_like_asyncio_tuples() {
        assert_eq!(
            "127.0.0.1:53".to_endpoint_addr().unwrap(),
            EndpointAddr::Resolved(addr("127.0.0.1:53"))
        );
        assert_eq!(
            "[::1]:53".to_endpoint_addr().unwrap(),
            EndpointAddr::Resolved(addr("[::1]:53"))
        );
        assert_eq!(
            "localhost:0".to_endpoint_addr().unwrap(),
            EndpointAddr::Host("localhost".into(), 0)
        );
        assert_eq!(
            ("[::1]", 7).to_endpoint_addr().unwrap(),
            EndpointAddr::Resolved(addr("[::1]:7"))
        );
        for bad in ["localhost", "localhost:http", "localhost:70000", ":53", ""] {
            assert!(
                matches!(bad.to_endpoint_addr(), Err(Error::InvalidArgument(_))),
                "{bad:?}"
            );
        }
    }

    #[tokio::test]
    async fn pairs_stay_within_one_family() {
        let local = EndpointAddr::Resolved(addr("127.0.0.1:0"));
        let remote = EndpointAddr::Resolved(addr("127.0.0.1:9"));
        assert_eq!(
            candidates(&local, &remote, None).await.unwrap(),
            [(Some(addr("127.0.0.1:0")), Some(addr("127.0.0.1:9")))]
        );
        let v6 = EndpointAddr::Resolved(addr("[::1]:9"));
        let err = candidates(&local, &v6, None).await.unwrap_err();
        assert!(
            err.to_string().contains("different address families"),
            "{err}"
        );
        let err = candidates(&local, &EndpointAddr::Absent, Some(AddressFamily::Ipv6))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no Ipv6 address"), "{err}");
    }
}
