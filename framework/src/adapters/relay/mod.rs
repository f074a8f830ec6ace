//! Relaying with backpressure: bytes read from one transport are written to
//! another, as Twisted's producer/consumer (`registerProducer` with a push
//! producer, `twisted.protocols.portforward`) in asyncio terms.
//!
//! * [`pipe`]`(from, to)`: one direction. [`splice`]`(a, b)`: both
//!   directions, what a proxy needs (each transport has one protocol, so
//!   both directions of a socket go through one relay).
//!   [`connect_and_splice`] opens the upstream connection and splices it.
//! * **Backpressure**: a source's reading is paused while its sink's write
//!   buffer is over the sink's high-water mark, and resumed once it drained
//!   to the low mark (the sink's `pause_writing`/`resume_writing`). The relay
//!   also looks right after each write, so a sink never holds more than its
//!   high mark plus one read, however fast the source is.
//! * **EOF** passes on as a half-close: the sink gets
//!   [`write_eof`](crate::Transport::write_eof). A sink that cannot
//!   half-close (TLS 1.2) is closed instead, after flushing; that ends the
//!   other direction too. Once nothing flows either way, every transport is
//!   closed (flushing first). A source that does not stay open after its EOF
//!   (a TLS peer's close_notify ends the connection, as in asyncio) ends the
//!   other direction too: its sink is closed after flushing.
//! * **Endings**: a transport that ends with an error aborts the others; one
//!   that ends cleanly ends its directions as an EOF would. The relay is
//!   finished when every transport has ended; [`Relay::finished`] says with
//!   how many bytes each way and the first error.
//!
//! Any stream [`Transport`] can take part: TCP, TLS, Unix sockets, read and
//! write pipes, and a child process's pipes ([`RelayEnd::subprocess`]). The
//! relay installs its own protocol on each (as
//! [`set_protocol`](crate::Transport::set_protocol)), so the previous
//! protocol gets no further callback, not even `connection_lost`.
//! Callbacks run on each transport's driver task; no task of its own runs.

mod end;
mod endpoint;
mod handle;
mod state;

use crate::error::{Error, Result};
use crate::net::connect::{ConnectOptions, create_connection};
use crate::transport::Transport;
use crate::transport::dispatch::IntoHandler;

pub use end::RelayEnd;
use end::{Part, check_sink, check_source};
use endpoint::{Endpoint, Held};
pub use handle::{Relay, RelayOutcome, RelayStats};
use state::{Member, Shared};

/// Relays one direction: bytes read from `from` are written to `to`, under
/// backpressure; `from`'s EOF becomes `to.write_eof()`.
///
/// `to` is not read while the pipe runs (its reading stays paused; use
/// [`splice`] for both directions). When `from` reaches EOF and everything
/// was passed on, both transports are closed (flushing first). On a write
/// pipe `write_eof()` is a close. Reading on `from` starts now (it resumes
/// even if it was paused) unless `to` is already over its high-water mark.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `from` and `to` are the same connection, if
/// `from` cannot be read (a write pipe) or `to` cannot be written (a read
/// pipe). A transport already closing is not an error: the relay then ends
/// at once with [`Error::Closed`] in its outcome and the other is closed.
///
/// # Examples
///
/// ```
/// # async fn f(source: aioproto::Transport, sink: aioproto::Transport) -> aioproto::Result<()> {
/// let relay = aioproto::pipe(&source, &sink)?;
/// let outcome = relay.finished().await; // the source's EOF went on, both closed
/// println!("{} bytes", outcome.stats.a_to_b);
/// # Ok(()) }
/// ```
///
/// A child's stdout is `child.get_pipe_transport(1)`: the subprocess
/// protocol still hears `pipe_connection_lost(1, …)` (with
/// [`Error::Closed`] for any failure; the relay's outcome has the error
/// itself), `process_exited` and `connection_lost`.
pub fn pipe(from: &Transport, to: &Transport) -> Result<Relay> {
    if from.same_as(to) {
        return Err(Error::invalid_argument(
            "pipe() needs two different transports",
        ));
    }
    check_source(from)?;
    check_sink(to)?;
    let members = vec![
        Member::new(from.clone(), None),
        Member::new(to.clone(), None),
    ];
    Ok(install(members, &[(0, 1)]))
}

/// Relays both directions between `a` and `b`: what `a` reads goes to `b`
/// and what `b` reads goes to `a`, each under backpressure, EOF passed on as
/// a half-close each way.
///
/// `a` and `b` are each a duplex transport (`&Transport`: TCP, TLS, a Unix
/// socket) or a [`RelayEnd`] (two pipes, or a child process). Reading starts
/// now on both (it resumes even if it was paused), except on a side whose
/// sink is over its high-water mark.
///
/// A transport that ends while the relay is being installed (an
/// [`abort`](crate::Transport::abort) from another task at that very moment)
/// is reported to the relay like any other end: the relay's protocol is
/// queued under the transport's lock, so it either hears `connection_lost`
/// or is refused because the end came first, and then the relay ends too.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if the two ends share a transport, or a read
/// side cannot be read or a write side cannot be written. A transport
/// already closing is not an error: the relay ends at once with
/// [`Error::Closed`] in its outcome and the others are closed.
///
/// # Examples
///
/// A TCP forwarder: each accepted client is spliced to a new upstream
/// connection.
///
/// ```no_run
/// use aioproto::{BaseProtocol, ConnectOptions, Protocol, ServerOptions, Transport,
///     connect_and_splice, create_server};
///
/// struct Forward;
///
/// impl BaseProtocol for Forward {
///     fn connection_made(&mut self, client: &Transport) {
///         client.pause_reading(); // now, so no byte is read before the relay runs
///         let client = client.clone();
///         tokio::spawn(async move {
///             match connect_and_splice(&client, "127.0.0.1", 6379, &ConnectOptions::new()).await {
///                 Ok(relay) => println!("{:?}", relay.finished().await),
///                 Err(_) => client.close(), // the upstream refused
///             }
///         });
///     }
/// }
/// impl Protocol for Forward {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let server = create_server(|| Forward, "127.0.0.1", 7000, &ServerOptions::new()).await?;
/// server.serve_forever().await
/// # }
/// ```
pub fn splice(a: impl Into<RelayEnd>, b: impl Into<RelayEnd>) -> Result<Relay> {
    let (a, b) = (a.into(), b.into());
    a.check()?;
    b.check()?;
    let a_parts = [&a.read.transport, &a.write.transport];
    let shared_transport = [&b.read.transport, &b.write.transport]
        .iter()
        .any(|t| a_parts.iter().any(|u| u.same_as(t)));
    if shared_transport {
        return Err(Error::invalid_argument(
            "splice() needs two ends without a transport in common",
        ));
    }
    let mut members = Vec::with_capacity(4);
    let (a_read, a_write) = add_end(&mut members, a);
    let (b_read, b_write) = add_end(&mut members, b);
    Ok(install(members, &[(a_read, b_write), (b_read, a_write)]))
}

/// Adds an end's transports as members (one member if it is one transport);
/// returns the member indices of its read and write sides.
fn add_end(members: &mut Vec<Member>, end: RelayEnd) -> (usize, usize) {
    let (read, write) = end.into_parts();
    let read_index = members.len();
    let same = read.transport.same_as(&write.transport);
    members.push(member(read));
    if same {
        return (read_index, read_index);
    }
    members.push(member(write));
    (read_index, read_index + 1)
}

fn member(part: Part) -> Member {
    Member::new(part.transport, part.on_lost)
}

/// Opens a TCP (or TLS, per `options`) connection to `host:port`, then
/// [`splice`]s `client` with it. A PROXY protocol header for the upstream
/// goes in the options ([`ConnectOptions::proxy_header`]).
///
/// `client`'s reading is paused at once and stays paused until the relay
/// runs, so bytes the client sends meanwhile wait in the kernel (bounded by
/// its socket buffer) and none is lost; the upstream is not read before the
/// relay runs either. Called from a task spawned in `connection_made`, the
/// protocol must call [`pause_reading`](Transport::pause_reading) there
/// itself (see [`splice`]): the connection may be read before the task runs.
///
/// # Errors
///
/// Any error of [`create_connection`] (the upstream refused, the name does
/// not resolve, a timeout): `client` is then left open with its reading
/// paused, for the caller to close or to answer.
///
/// # Cancel safety
///
/// Not cancel-safe: cancelled during the connect, `client` stays paused and
/// the upstream connection (if it was made) is dropped unused.
///
/// # Examples
///
/// The upstream learns the client's address from a PROXY header:
///
/// ```
/// # async fn f(client: aioproto::Transport) -> aioproto::Result<()> {
/// use aioproto::{ConnectOptions, ProxyHeader, connect_and_splice};
///
/// let mut options = ConnectOptions::new();
/// if let (Some(source), Some(destination)) = (client.peername(), client.sockname()) {
///     options.proxy_header(ProxyHeader::tcp(source, destination))?;
/// }
/// let relay = connect_and_splice(&client, "127.0.0.1", 8080, &options).await?;
/// relay.finished().await;
/// # Ok(()) }
/// ```
pub async fn connect_and_splice(
    client: &Transport,
    host: &str,
    port: u16,
    options: &ConnectOptions,
) -> Result<Relay> {
    client.pause_reading();
    let (upstream, _) = create_connection(|| Held, host, port, options).await?;
    splice(client, &upstream).inspect_err(|_| upstream.abort())
}

/// Puts the relay's protocol on every member and starts the flows; or, if a
/// member is already closing, closes the others and returns a relay that
/// ended at once (their own protocols stay and hear of the close).
fn install(members: Vec<Member>, flows: &[(usize, usize)]) -> Relay {
    let relay = Shared::new(members, flows);
    let transports = relay.transports();
    if transports.iter().any(Transport::is_closing) {
        transports.iter().for_each(Transport::close);
        relay.finish_unstarted(Error::Closed("transport"));
        return Relay { shared: relay };
    }
    for (member, transport) in transports.iter().enumerate() {
        transport.pause_reading();
        let (_, endpoint) = Endpoint {
            relay: relay.clone(),
            member,
        }
        .into_handler();
        // Queued before the transport ended, the endpoint hears its
        // `connection_lost` (an abort racing this loop included); refused
        // after, the member is lost now.
        if !transport.set_handler(endpoint) {
            relay.member_lost(member, Some(Error::Closed("transport")));
        }
    }
    relay.start();
    Relay { shared: relay }
}
