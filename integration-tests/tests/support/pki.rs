//! A throw-away test PKI in a temporary directory (the TLS APIs read PEM
//! files), plus raw tokio-rustls peers.
//!
//! The certificates are the ones `make certs` writes into certs/
//! (`aioproto_test_pki`), made afresh, so the tests do not depend on that
//! directory's state.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use aioproto::{ClientTls, ServerTls};
use aioproto_test_pki::TempPki;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;

/// One test PKI (see `aioproto_test_pki` for its certificates); the
/// directory is removed on drop.
pub struct Pki {
    files: TempPki,
}

impl Pki {
    /// Makes a CA, a server certificate (localhost, 127.0.0.1, ::1), a client
    /// certificate, an expired server certificate, a wrong-host certificate,
    /// a server certificate from a second CA nobody trusts, and one for a
    /// second name (`sni-alt`).
    pub fn new() -> Pki {
        Pki {
            files: TempPki::new("tests").expect("a test PKI"),
        }
    }

    /// The directory that holds the files.
    pub fn dir(&self) -> &std::path::Path {
        self.files.dir()
    }

    /// `NAME.pem`.
    pub fn cert(&self, name: &str) -> PathBuf {
        self.files.cert(name)
    }

    /// `NAME.key`.
    pub fn key(&self, name: &str) -> PathBuf {
        self.files.key(name)
    }

    /// The CA file clients trust.
    pub fn ca(&self) -> PathBuf {
        self.files.ca()
    }

    /// Server settings with the `name` certificate.
    pub fn server_tls(&self, name: &str) -> ServerTls {
        ServerTls::from_pem(self.cert(name), self.key(name)).unwrap()
    }

    /// Client settings trusting the CA.
    pub fn client_tls(&self) -> ClientTls {
        ClientTls::from_ca_file(self.ca()).unwrap()
    }

    /// A rustls client config trusting the CA (for raw peers).
    pub fn raw_client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(self.ca()).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        Arc::new(config)
    }

    /// A rustls server config with the `name` certificate (for raw peers).
    pub fn raw_server_config(&self, name: &str) -> Arc<rustls::ServerConfig> {
        let certs = CertificateDer::pem_file_iter(self.cert(name))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(self.key(name)).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        Arc::new(config)
    }

    /// Connects a raw tokio-rustls client to `addr`, checking "localhost".
    pub async fn raw_connect(
        &self,
        addr: SocketAddr,
    ) -> tokio_rustls::client::TlsStream<TcpStream> {
        let tcp = TcpStream::connect(addr).await.unwrap();
        tokio_rustls::TlsConnector::from(self.raw_client_config())
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .expect("raw TLS client handshake")
    }
}

/// A TLS server on 127.0.0.1:0 whose connections each record into a fresh
/// [`Log`](super::Log), handed out in handshake order.
pub async fn tls_recording_server(
    tls: ServerTls,
    make: impl Fn(&Arc<super::Log>) -> super::Events + Send + Sync + 'static,
) -> (
    aioproto::Server,
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<Arc<super::Log>>,
) {
    let mut options = aioproto::ServerOptions::new();
    options.tls(tls);
    super::recording_server_with(&options, make).await
}

/// Connects to a TLS server, sends a ClientHello and waits for the first
/// bytes of the server's answer (so the server is in the handshake), then
/// stalls: the handshake never completes.
pub async fn stalled_handshake(pki: &Pki, addr: SocketAddr) -> TcpStream {
    use tokio::io::AsyncReadExt;

    let mut conn = rustls::ClientConnection::new(
        pki.raw_client_config(),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    let mut stream = super::raw_connect(addr).await;
    super::raw_write(&mut stream, &hello).await;
    let mut first = [0u8; 1];
    let n = super::with_timeout(stream.read(&mut first))
        .await
        .expect("the server answers the ClientHello");
    assert_eq!(n, 1, "the server answered the ClientHello");
    stream
}

/// A TLS echo server on 127.0.0.1:0.
pub async fn tls_echo_server(tls: ServerTls) -> (aioproto::Server, SocketAddr) {
    let mut options = aioproto::ServerOptions::new();
    options.tls(tls);
    let server = aioproto::create_server(super::Echo::default, "127.0.0.1", 0, &options)
        .await
        .expect("server binds");
    let addr = server.local_addrs()[0];
    (server, addr)
}

/// Connects over TLS with an [`Events`](super::Events) protocol recording into `log`.
pub async fn connect_tls_recording(
    log: &Arc<super::Log>,
    host: &str,
    port: u16,
    tls: ClientTls,
) -> aioproto::Result<(aioproto::Transport, Arc<std::sync::Mutex<super::Events>>)> {
    let log = log.clone();
    aioproto::create_connection(
        move || super::Events::new(&log),
        host,
        port,
        &connect_options(tls),
    )
    .await
}

/// Client options with these TLS settings.
pub fn connect_options(tls: ClientTls) -> aioproto::ConnectOptions {
    let mut options = aioproto::ConnectOptions::new();
    options.tls(tls);
    options
}
