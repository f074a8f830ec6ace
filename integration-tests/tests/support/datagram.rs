//! A datagram protocol that reports every callback on a channel, for UDP
//! and Unix endpoints alike (generic over the address type).

use aioproto::{DatagramAddr, DatagramProtocol, DatagramTransport, Error};
use bytes::Bytes;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::with_timeout;

/// One callback, as a test sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Ev<A> {
    Made,
    Dgram(Bytes, A),
    Err(std::io::ErrorKind),
    Paused,
    Resumed,
    Lost(Option<String>),
}

/// Reports callbacks; with `echo`, sends each datagram back to its sender.
#[derive(Debug)]
pub struct Rec<A: DatagramAddr> {
    tx: UnboundedSender<Ev<A>>,
    pub transport: Option<DatagramTransport<A>>,
    echo: bool,
}

impl<A: DatagramAddr> Rec<A> {
    /// A recorder and the receiving end of its reports.
    pub fn new(echo: bool) -> (Rec<A>, UnboundedReceiver<Ev<A>>) {
        let (tx, rx) = unbounded_channel();
        (
            Rec {
                tx,
                transport: None,
                echo,
            },
            rx,
        )
    }
}

impl<A: DatagramAddr> DatagramProtocol<A> for Rec<A> {
    fn connection_made(&mut self, transport: &DatagramTransport<A>) {
        self.transport = Some(transport.clone());
        let _ = self.tx.send(Ev::Made);
    }
    fn datagram_received(&mut self, data: Bytes, addr: A) {
        if let (true, Some(t)) = (self.echo, &self.transport) {
            t.sendto(data.clone(), Some(addr.clone())).unwrap();
        }
        let _ = self.tx.send(Ev::Dgram(data, addr));
    }
    fn error_received(&mut self, exc: Error) {
        let _ = self.tx.send(Ev::Err(exc.io_kind().expect("an I/O error")));
    }
    fn pause_writing(&mut self) {
        let _ = self.tx.send(Ev::Paused);
    }
    fn resume_writing(&mut self) {
        let _ = self.tx.send(Ev::Resumed);
    }
    fn connection_lost(&mut self, exc: Option<Error>) {
        let _ = self.tx.send(Ev::Lost(exc.map(|e| e.to_string())));
    }
}

/// The next report, bounded.
pub async fn next<A>(rx: &mut UnboundedReceiver<Ev<A>>) -> Ev<A> {
    with_timeout(rx.recv())
        .await
        .expect("the protocol is still there")
}
