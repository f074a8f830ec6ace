//! asyncio's low-level socket coroutines on the loop: `sock_recv`,
//! `sock_recv_into`, `sock_recvfrom`, `sock_recvfrom_into`, `sock_sendall`,
//! `sock_sendto`, `sock_accept` and `sock_connect`.
//!
//! They take a [`socket2::Socket`], Rust's equivalent of Python's
//! `socket.socket`: any family and type, made non-blocking with
//! `set_nonblocking(true)`. As in asyncio each one first tries the system
//! call; only when it would block does it wait for readiness, through a
//! duplicate of the descriptor registered with the loop's tokio reactor for
//! the length of the call (so the socket itself may also be registered
//! elsewhere). A std or tokio socket converts with `socket2::Socket::from`
//! (std) or `SockRef::from(&tokio_socket)`.

use std::fmt::Write as _;
use std::io::{self, Read as _};
use std::os::unix::net::UnixDatagram;

use bytes::Bytes;
use socket2::{Domain, SockAddr, Socket};
use tokio::io::Interest;

use crate::error::{Error, Result};
use crate::net::addr::with_context;
use crate::runtime::event_loop::EventLoop;
use crate::runtime::fd_watch::{OwnsFd, register_owned};
use crate::runtime::task::cancellable;

/// What the blocking-or-not check says about a socket.
fn check_nonblocking(sock: &Socket) -> Result<()> {
    if sock.nonblocking()? {
        Ok(())
    } else {
        Err(Error::invalid_argument("the socket must be non-blocking"))
    }
}

fn would_block(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::WouldBlock
}

/// A readable name for an address in error messages.
fn describe(addr: &SockAddr) -> String {
    if let Some(sa) = addr.as_socket() {
        return sa.to_string();
    }
    if let Some(path) = addr.as_pathname() {
        return path.display().to_string();
    }
    if let Some(name) = addr.as_abstract_namespace() {
        let mut out = String::from("@");
        for b in name {
            if b.is_ascii_graphic() {
                out.push(char::from(*b));
            } else {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
        return out;
    }
    "<unnamed>".to_owned()
}

/// A datagram socket viewed through a std type whose `recv_from` fills an
/// initialised buffer and returns the sender (socket2's takes uninitialised
/// memory, which safe code cannot read back).
enum Datagram {
    Inet(std::net::UdpSocket),
    Unix(UnixDatagram),
}

impl Datagram {
    fn of(sock: &Socket) -> Result<Datagram> {
        let domain = sock.domain()?;
        let dup = sock.try_clone()?;
        if domain == Domain::IPV4 || domain == Domain::IPV6 {
            Ok(Datagram::Inet(dup.into()))
        } else if domain == Domain::UNIX {
            Ok(Datagram::Unix(dup.into()))
        } else {
            Err(Error::Unsupported(
                "sock_recvfrom on an address family other than IPv4, IPv6 or Unix",
            ))
        }
    }

    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SockAddr)> {
        match self {
            Datagram::Inet(s) => s.recv_from(buf).map(|(n, a)| (n, SockAddr::from(a))),
            Datagram::Unix(s) => {
                let (n, a) = s.recv_from(buf)?;
                Ok((n, unix_sockaddr(&a)?))
            }
        }
    }
}

impl std::os::fd::AsRawFd for Datagram {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        match self {
            Datagram::Inet(s) => s.as_raw_fd(),
            Datagram::Unix(s) => s.as_raw_fd(),
        }
    }
}

impl OwnsFd for Datagram {}

fn unix_sockaddr(addr: &std::os::unix::net::SocketAddr) -> io::Result<SockAddr> {
    if let Some(path) = addr.as_pathname() {
        return SockAddr::unix(path);
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::ffi::OsStrExt;
        if let Some(name) = addr.as_abstract_name() {
            let mut bytes = Vec::with_capacity(name.len() + 1);
            bytes.push(0);
            bytes.extend_from_slice(name);
            return SockAddr::unix(std::ffi::OsStr::from_bytes(&bytes));
        }
    }
    SockAddr::unix("")
}

/// Runs `op` once, retrying on `EINTR`; `None` if it would block.
fn attempt<T>(mut op: impl FnMut() -> io::Result<T>) -> Option<Result<T>> {
    loop {
        match op() {
            Ok(v) => return Some(Ok(v)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if would_block(&e) => return None,
            Err(e) => return Some(Err(Error::from(e))),
        }
    }
}

impl EventLoop {
    /// Waits for `interest` on `fd` (registered with this loop's reactor for
    /// the length of the call) and runs `op` on it until it does not block.
    async fn until_ready<F, T>(
        &self,
        fd: F,
        interest: Interest,
        mut op: impl FnMut(&F) -> io::Result<T>,
    ) -> Result<T>
    where
        F: OwnsFd,
    {
        let afd = {
            let _rt = self.handle().enter();
            register_owned(fd, interest)?
        };
        loop {
            let mut guard = cancellable(afd.ready(interest)).await??;
            match attempt(|| op(afd.get_ref())) {
                Some(outcome) => return outcome,
                None => guard.clear_ready(),
            }
        }
    }

    /// Runs `op` on `sock` at once, and while it would block, each time the
    /// socket reports `interest`.
    async fn sock_op<T>(
        &self,
        sock: &Socket,
        interest: Interest,
        mut op: impl FnMut(&Socket) -> io::Result<T>,
    ) -> Result<T> {
        self.check_open()?;
        check_nonblocking(sock)?;
        if let Some(outcome) = attempt(|| op(sock)) {
            return outcome;
        }
        self.until_ready(sock.try_clone()?, interest, op).await
    }

    /// Receives up to `nbytes` bytes from a connected socket (asyncio's
    /// `loop.sock_recv`); an empty result means the peer closed.
    ///
    /// # The socket coroutines
    ///
    /// The `sock_*` methods take a [`socket2::Socket`], Rust's equivalent of
    /// Python's `socket.socket`: any family and type, made non-blocking with
    /// `set_nonblocking(true)` (a blocking one is refused). As in asyncio each
    /// first tries the system call; only when it would block does it wait for
    /// readiness, through a duplicate of the descriptor registered with the
    /// loop's tokio reactor for the length of the call, so the socket may be
    /// registered elsewhere too. A std socket converts with
    /// `socket2::Socket::from`; a tokio socket can be lent with
    /// `&socket2::SockRef::from(&sock)`, though its own `async` methods are
    /// the better choice.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a blocking socket;
    /// [`Error::InvalidState`] if the loop is closed; [`Error::Cancelled`] if
    /// the calling task is cancelled while it waits; [`Error::Io`] for what
    /// `recv(2)` reports.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: bytes are only taken from the socket when they are
    /// returned.
    ///
    /// # Examples
    ///
    /// ```
    /// use socket2::Socket;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let lp = aioproto::get_running_loop()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// let (a, b) = (Socket::from(a), Socket::from(b));
    /// a.set_nonblocking(true)?;
    /// b.set_nonblocking(true)?;
    /// lp.sock_sendall(&a, b"hello").await?;
    /// assert_eq!(&lp.sock_recv(&b, 1024).await?[..], b"hello");
    /// # Ok(()) }
    /// ```
    pub async fn sock_recv(&self, sock: &Socket, nbytes: usize) -> Result<Bytes> {
        let mut buf = vec![0u8; nbytes];
        let n = self.sock_recv_into(sock, &mut buf).await?;
        buf.truncate(n);
        Ok(Bytes::from(buf))
    }

    /// Receives into `buf` and returns how many bytes were written (asyncio's
    /// `loop.sock_recv_into`); 0 means the peer closed (or `buf` is empty).
    ///
    /// # Errors
    ///
    /// As for [`sock_recv`](Self::sock_recv).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use socket2::Socket;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let lp = aioproto::get_running_loop()?;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// let (a, b) = (Socket::from(a), Socket::from(b));
    /// a.set_nonblocking(true)?;
    /// b.set_nonblocking(true)?;
    /// let reader = lp.clone();
    /// let got = aioproto::create_task(async move {
    ///     let mut buf = [0u8; 8];
    ///     let n = reader.sock_recv_into(&b, &mut buf).await?;
    ///     Ok(buf[..n].to_vec())
    /// });
    /// lp.sock_sendall(&a, b"late").await?;
    /// assert_eq!(got.await?, b"late");
    /// # Ok(()) }
    /// ```
    pub async fn sock_recv_into(&self, sock: &Socket, buf: &mut [u8]) -> Result<usize> {
        self.sock_op(sock, Interest::READABLE, |s: &Socket| {
            let mut s: &Socket = s;
            s.read(buf)
        })
        .await
    }

    /// Receives one datagram of up to `bufsize` bytes and its sender (asyncio's
    /// `loop.sock_recvfrom`). A longer datagram is cut to `bufsize`.
    ///
    /// Works on IPv4, IPv6 and Unix sockets. An unnamed Unix sender is given
    /// as an empty Unix address.
    ///
    /// # Errors
    ///
    /// As for [`sock_recv`](Self::sock_recv); [`Error::Unsupported`] for
    /// another address family.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use socket2::{Domain, SockAddr, Socket, Type};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let lp = aioproto::get_running_loop()?;
    /// let any_port: SockAddr = "127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into();
    /// let server = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
    /// server.bind(&any_port)?;
    /// server.set_nonblocking(true)?;
    /// let client = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
    /// client.bind(&any_port)?;
    /// client.set_nonblocking(true)?;
    /// lp.sock_sendto(&client, b"ping", &server.local_addr()?).await?;
    /// let (data, from) = lp.sock_recvfrom(&server, 1500).await?;
    /// assert_eq!(&data[..], b"ping");
    /// assert_eq!(from.as_socket(), client.local_addr()?.as_socket());
    /// # Ok(()) }
    /// ```
    pub async fn sock_recvfrom(&self, sock: &Socket, bufsize: usize) -> Result<(Bytes, SockAddr)> {
        let mut buf = vec![0u8; bufsize];
        let (n, addr) = self.sock_recvfrom_into(sock, &mut buf).await?;
        buf.truncate(n);
        Ok((Bytes::from(buf), addr))
    }

    /// Receives one datagram into `buf` and returns its length and sender
    /// (asyncio's `loop.sock_recvfrom_into`).
    ///
    /// # Errors
    ///
    /// As for [`sock_recvfrom`](Self::sock_recvfrom).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use socket2::Socket;
    /// use std::os::unix::net::UnixDatagram;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let lp = aioproto::get_running_loop()?;
    /// let (a, b) = UnixDatagram::pair()?;
    /// let (a, b) = (Socket::from(a), Socket::from(b));
    /// b.set_nonblocking(true)?;
    /// a.send(b"datagram")?;
    /// let mut buf = [0u8; 64];
    /// let (n, _from) = lp.sock_recvfrom_into(&b, &mut buf).await?;
    /// assert_eq!(&buf[..n], b"datagram");
    /// # Ok(()) }
    /// ```
    pub async fn sock_recvfrom_into(
        &self,
        sock: &Socket,
        buf: &mut [u8],
    ) -> Result<(usize, SockAddr)> {
        self.check_open()?;
        check_nonblocking(sock)?;
        let dgram = Datagram::of(sock)?;
        let mut op = |d: &Datagram| d.recv_from(buf);
        if let Some(outcome) = attempt(|| op(&dgram)) {
            return outcome;
        }
        self.until_ready(dgram, Interest::READABLE, op).await
    }

    /// Sends all of `data`, waiting for room as often as needed (asyncio's
    /// `loop.sock_sendall`).
    ///
    /// # Errors
    ///
    /// As for [`sock_recv`](Self::sock_recv), with `send(2)`'s errors (a
    /// closed peer gives `BrokenPipe` or `ConnectionReset`).
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: when cancelled part of `data` may have been sent, and
    /// there is no way to tell how much.
    ///
    /// # Examples
    ///
    /// See [`sock_recv`](Self::sock_recv).
    pub async fn sock_sendall(&self, sock: &Socket, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            self.check_open()?;
            return check_nonblocking(sock);
        }
        let mut sent = 0;
        while sent < data.len() {
            sent += self
                .sock_op(sock, Interest::WRITABLE, |s: &Socket| s.send(&data[sent..]))
                .await?;
        }
        Ok(())
    }

    /// Sends one datagram to `addr` and returns the bytes sent (asyncio's
    /// `loop.sock_sendto`).
    ///
    /// # Errors
    ///
    /// As for [`sock_sendall`](Self::sock_sendall).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a datagram is sent whole or not at all.
    ///
    /// # Examples
    ///
    /// See [`sock_recvfrom`](Self::sock_recvfrom).
    pub async fn sock_sendto(&self, sock: &Socket, data: &[u8], addr: &SockAddr) -> Result<usize> {
        self.sock_op(sock, Interest::WRITABLE, |s: &Socket| s.send_to(data, addr))
            .await
    }

    /// Accepts a connection on a listening socket (asyncio's
    /// `loop.sock_accept`): the new socket, already non-blocking (as asyncio
    /// sets it), and the peer's address.
    ///
    /// # Errors
    ///
    /// As for [`sock_recv`](Self::sock_recv), with `accept(2)`'s errors.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a connection is only accepted when it is returned.
    ///
    /// # Examples
    ///
    /// ```
    /// use socket2::{Domain, Socket, Type};
    /// use std::net::SocketAddr;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let lp = aioproto::get_running_loop()?;
    /// let listener = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    /// listener.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())?;
    /// listener.listen(8)?;
    /// listener.set_nonblocking(true)?;
    /// let addr = listener.local_addr()?;
    ///
    /// let client = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    /// client.set_nonblocking(true)?;
    /// let (accepted, connected) = tokio::join!(
    ///     lp.sock_accept(&listener),
    ///     lp.sock_connect(&client, &addr),
    /// );
    /// let (conn, peer) = accepted?;
    /// connected?;
    /// assert_eq!(peer.as_socket(), client.local_addr()?.as_socket());
    /// lp.sock_sendall(&conn, b"welcome").await?;
    /// assert_eq!(&lp.sock_recv(&client, 64).await?[..], b"welcome");
    /// # Ok(()) }
    /// ```
    pub async fn sock_accept(&self, sock: &Socket) -> Result<(Socket, SockAddr)> {
        let (conn, addr) = self
            .sock_op(sock, Interest::READABLE, |s: &Socket| s.accept())
            .await?;
        conn.set_nonblocking(true)?;
        Ok((conn, addr))
    }

    /// Connects `sock` to `addr` (asyncio's `loop.sock_connect`): starts a
    /// non-blocking connect and waits until it has succeeded or failed.
    ///
    /// `addr` is an address, not a host name: resolve names first with
    /// [`getaddrinfo`](Self::getaddrinfo).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming the address, e.g. `error while attempting to
    /// connect to 127.0.0.1:1: Connection refused (os error 111)`; otherwise
    /// as for [`sock_recv`](Self::sock_recv).
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: a connect abandoned half-way leaves the socket in an
    /// unknown state; close it.
    ///
    /// # Examples
    ///
    /// See [`sock_accept`](Self::sock_accept).
    pub async fn sock_connect(&self, sock: &Socket, addr: &SockAddr) -> Result<()> {
        self.check_open()?;
        check_nonblocking(sock)?;
        let context = |err: io::Error| {
            with_context(
                err,
                format_args!("error while attempting to connect to {}", describe(addr)),
            )
        };
        match sock.connect(addr) {
            Ok(()) => return Ok(()),
            Err(e)
                if e.raw_os_error() == Some(nix::libc::EINPROGRESS)
                    || e.kind() == io::ErrorKind::Interrupted
                    || would_block(&e) => {}
            Err(e) => return Err(context(e)),
        }
        let dup = sock.try_clone()?;
        let outcome = self
            .until_ready(dup, Interest::WRITABLE, |s: &Socket| match s.take_error() {
                Ok(None) => Ok(Ok(())),
                Ok(Some(failed)) => Ok(Err(failed)),
                Err(e) => Err(e),
            })
            .await?;
        outcome.map_err(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_described_readably() {
        let inet = SockAddr::from("127.0.0.1:80".parse::<std::net::SocketAddr>().unwrap());
        assert_eq!(describe(&inet), "127.0.0.1:80");
        assert_eq!(
            describe(&SockAddr::unix("/tmp/x.sock").unwrap()),
            "/tmp/x.sock"
        );
        assert_eq!(describe(&SockAddr::unix("").unwrap()), "<unnamed>");
        let abstract_name = SockAddr::unix(std::ffi::OsStr::new("\0ab c")).unwrap();
        assert_eq!(describe(&abstract_name), "@ab\\x20c");
    }
}
