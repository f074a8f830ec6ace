//! A throw-away test PKI made in memory with rcgen and written to a temporary
//! directory (the TLS APIs read PEM files), plus raw tokio-rustls peers.
//!
//! Same shapes as `make certs` writes into certs/, so the tests do not depend
//! on that directory's state.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aioproto::{ClientTls, ServerTls};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, date_time_ymd,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;

const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Files of one test PKI; the directory is removed on drop.
pub struct Pki {
    pub dir: PathBuf,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl Pki {
    /// Makes a CA, a server certificate (localhost, 127.0.0.1, ::1), a client
    /// certificate, an expired server certificate, a wrong-host certificate,
    /// and a server certificate from a second CA nobody trusts.
    pub fn new() -> Pki {
        let dir = std::env::temp_dir().join(format!(
            "aioproto-pki-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = make_ca(&dir, "ca", "aioproto test CA");
        let other = make_ca(&dir, "other-ca", "aioproto unknown CA");
        leaf(&dir, "server", &ca, &SERVER_NAMES, true, false);
        leaf(&dir, "client", &ca, &[], false, false);
        leaf(&dir, "expired", &ca, &SERVER_NAMES, true, true);
        leaf(&dir, "wrong-host", &ca, &["wrong.example"], true, false);
        leaf(&dir, "other-server", &other, &SERVER_NAMES, true, false);
        leaf(&dir, "sni-alt", &ca, &["alt.example"], true, false);
        Pki { dir }
    }

    /// `NAME.pem`.
    pub fn cert(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.pem"))
    }

    /// `NAME.key`.
    pub fn key(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.key"))
    }

    /// The CA file clients trust.
    pub fn ca(&self) -> PathBuf {
        self.cert("ca")
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

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "aioproto tests");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn write(dir: &Path, name: &str, cert: &str, key: &KeyPair) {
    std::fs::write(dir.join(format!("{name}.pem")), cert).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
}

fn make_ca(dir: &Path, name: &str, common_name: &str) -> Issuer<'static, KeyPair> {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = date_time_ymd(2024, 1, 1);
    params.not_after = date_time_ymd(2049, 12, 31);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    write(dir, name, &cert.pem(), &key);
    Issuer::new(params, key)
}

fn leaf(
    dir: &Path,
    name: &str,
    issuer: &Issuer<'_, KeyPair>,
    sans: &[&str],
    server: bool,
    expired: bool,
) {
    let mut params =
        CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name = dn(if server {
        sans[0]
    } else {
        "aioproto test client"
    });
    params.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    if expired {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2021, 1, 1);
    } else {
        params.not_before = date_time_ymd(2024, 1, 1);
        params.not_after = date_time_ymd(2049, 12, 31);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    write(dir, name, &cert.pem(), &key);
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
