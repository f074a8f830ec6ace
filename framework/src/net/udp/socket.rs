//! What the one datagram driver needs from a socket, so the same driver and
//! transport serve UDP (`SocketAddr`) and Unix datagram sockets
//! (`UnixDatagramAddr`): the address type picks the socket type.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::task::{Context, Poll};

use bytes::BytesMut;
use socket2::SockRef;
use tokio::io::{Interest, Ready};
use tokio::net::UdpSocket;

use crate::transport::ExtraInfo;

/// An address a datagram endpoint sends to and receives from:
/// [`SocketAddr`] for UDP, [`UnixDatagramAddr`](crate::UnixDatagramAddr)
/// for Unix datagram sockets (feature `unix`).
///
/// It is the type parameter of [`DatagramProtocol`](crate::DatagramProtocol)
/// and [`DatagramTransport`](crate::DatagramTransport), which default to
/// `SocketAddr`, so UDP code never names it. Implemented by this crate only.
///
/// Why a type parameter, rather than a second trait (`UnixDatagramProtocol`)
/// or one address enum for both: UDP code written before Unix datagrams
/// existed compiles unchanged and keeps getting a plain `SocketAddr` (no
/// match on a Unix variant that cannot occur), a Unix protocol gets paths,
/// and both share one transport type, one driver and their documentation. A
/// protocol can even be written once for both, as below.
///
/// # Examples
///
/// A protocol written once for both kinds of endpoint:
///
/// ```
/// use aioproto::{DatagramAddr, DatagramProtocol, DatagramTransport};
/// use bytes::Bytes;
///
/// #[derive(Default)]
/// struct Echo<A: DatagramAddr>(Option<DatagramTransport<A>>);
///
/// impl<A: DatagramAddr> DatagramProtocol<A> for Echo<A> {
///     fn connection_made(&mut self, transport: &DatagramTransport<A>) {
///         self.0 = Some(transport.clone());
///     }
///     fn datagram_received(&mut self, data: Bytes, addr: A) {
///         if let Some(t) = &self.0 {
///             let _ = t.sendto(data, Some(addr));
///         }
///     }
/// }
/// ```
pub trait DatagramAddr:
    Clone + PartialEq + std::fmt::Debug + std::fmt::Display + Send + Sync + 'static
{
    /// The socket type for this kind of address.
    #[doc(hidden)]
    type Socket: DatagramSocket<Self>;

    /// Fills in the endpoint's `get_extra_info` addresses.
    #[doc(hidden)]
    fn describe(extra: &mut ExtraInfo, local: Option<&Self>, peer: Option<&Self>);

    /// Refuses an address nothing can be sent to.
    #[doc(hidden)]
    fn check_target(&self) -> crate::error::Result<()> {
        Ok(())
    }
}

/// The socket operations the datagram driver and transport use; all
/// non-blocking.
#[doc(hidden)]
pub trait DatagramSocket<A>: AsFd + Sized + Send + Sync + 'static {
    /// Sends on a connected socket.
    fn try_send(&self, data: &[u8]) -> io::Result<usize>;
    /// Sends to `target`.
    fn try_send_to(&self, data: &[u8], target: &A) -> io::Result<usize>;
    /// Receives one datagram into `buf`, with its sender.
    fn try_recv_buf_from(&self, buf: &mut BytesMut) -> io::Result<(usize, A)>;
    /// Readiness to receive.
    fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Readiness to send.
    fn poll_send_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Waits for any of `interest`, errors included.
    fn ready(&self, interest: Interest) -> impl Future<Output = io::Result<Ready>> + Send;
    /// Runs `f` under tokio's readiness tracking for `interest`.
    fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R>;
    /// The bound address, if the socket has one.
    fn local(&self) -> Option<A>;
    /// The connected peer, if any.
    fn peer(&self) -> Option<A>;

    /// Takes a pending socket error (`SO_ERROR`, set by an ICMP error on a
    /// connected socket) and clears tokio's error readiness when there is none.
    fn take_socket_error(&self) -> Option<io::Error> {
        let taken = self.try_io(Interest::ERROR, || match SockRef::from(self).take_error() {
            Ok(Some(err)) => Ok(err),
            Ok(None) => Err(io::ErrorKind::WouldBlock.into()),
            Err(err) => Ok(err),
        });
        taken.ok()
    }
}

impl DatagramAddr for SocketAddr {
    type Socket = UdpSocket;

    fn describe(extra: &mut ExtraInfo, local: Option<&Self>, peer: Option<&Self>) {
        extra.sockname = local.copied();
        extra.peername = peer.copied();
    }
}

impl DatagramSocket<SocketAddr> for UdpSocket {
    fn try_send(&self, data: &[u8]) -> io::Result<usize> {
        UdpSocket::try_send(self, data)
    }
    fn try_send_to(&self, data: &[u8], target: &SocketAddr) -> io::Result<usize> {
        UdpSocket::try_send_to(self, data, *target)
    }
    fn try_recv_buf_from(&self, buf: &mut BytesMut) -> io::Result<(usize, SocketAddr)> {
        UdpSocket::try_recv_buf_from(self, buf)
    }
    fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        UdpSocket::poll_recv_ready(self, cx)
    }
    fn poll_send_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        UdpSocket::poll_send_ready(self, cx)
    }
    fn ready(&self, interest: Interest) -> impl Future<Output = io::Result<Ready>> + Send {
        UdpSocket::ready(self, interest)
    }
    fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        UdpSocket::try_io(self, interest, f)
    }
    fn local(&self) -> Option<SocketAddr> {
        self.local_addr().ok()
    }
    fn peer(&self) -> Option<SocketAddr> {
        self.peer_addr().ok()
    }
}
