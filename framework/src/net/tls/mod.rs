//! TLS with rustls on the ring provider: server and client settings, what a
//! handshake negotiated, and `start_tls`.
//!
//! TLS is a transport like any other: the same [`Protocol`](crate::Protocol)
//! runs unchanged over TCP or TLS. Put a [`ServerTls`] in
//! [`ServerOptions::tls`](crate::ServerOptions::tls) or a [`ClientTls`] in
//! [`ConnectOptions::tls`](crate::ConnectOptions::tls); upgrade a live
//! connection with [`start_tls`].
//!
//! What differs from TCP, as in asyncio:
//!
//! * `connection_made` runs only after the handshake. A failed or timed-out
//!   handshake calls neither `connection_made` nor `connection_lost`: a server
//!   counts it, logs it at debug level (with at most one summary warning every
//!   10 s) and goes on serving; `create_connection` returns the error.
//! * [`Transport::can_write_eof`](crate::Transport::can_write_eof) is false and
//!   `write_eof()` fails with [`Error::Unsupported`].
//! * `close()` flushes, sends close_notify, then waits for the peer's
//!   close_notify (or EOF) at most the shutdown timeout (default 30 s); past it
//!   `connection_lost` gets [`Error::Timeout`] `"SSL shutdown timed out"`. Data
//!   that arrives meanwhile is discarded. `abort()` sends nothing.
//! * A peer that closes the TCP connection without close_notify is reported as
//!   an error in `connection_lost` (a truncation attack looks the same).
//! * Flow control counts plaintext bytes; the default write-buffer limits are
//!   asyncio's TLS ones, `(131072, 524288)`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::error::{Error, Result};
use crate::net::tls::session::{Upgrade, upgrade};
use crate::transport::Transport;
use crate::transport::driver::detach;

/// Default time limit of a TLS handshake (asyncio's `ssl_handshake_timeout`).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time limit of a TLS close (asyncio's `ssl_shutdown_timeout`).
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn check_timeout(what: &str, timeout: Duration) -> Result<Duration> {
    if timeout.is_zero() {
        Err(Error::invalid_argument(format!(
            "{what} should be a positive number, got {timeout:?}"
        )))
    } else {
        Ok(timeout)
    }
}

fn pem_error(path: &Path, err: rustls::pki_types::pem::Error) -> Error {
    match err {
        rustls::pki_types::pem::Error::Io(e) => Error::from(io::Error::new(
            e.kind(),
            format!("cannot read {}: {e}", path.display()),
        )),
        rustls::pki_types::pem::Error::NoItemsFound => Error::invalid_argument(format!(
            "{}: no PEM item of the expected kind",
            path.display()
        )),
        other => Error::invalid_argument(format!("{}: bad PEM: {other:?}", path.display())),
    }
}

/// Reads every certificate in a PEM file.
fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(Error::invalid_argument(format!(
            "{}: no certificate found",
            path.display()
        )));
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error(path, e))
}

/// A trust store of every certificate in `paths`.
fn load_roots(paths: &[PathBuf]) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for path in paths {
        for cert in load_certs(path)? {
            roots.add(cert).map_err(|e| {
                Error::invalid_argument(format!(
                    "{}: not a usable CA certificate: {e}",
                    path.display()
                ))
            })?;
        }
    }
    Ok(roots)
}

fn certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>> {
    let key =
        CertifiedKey::from_der(load_certs(cert)?, load_key(key)?, &provider()).map_err(|e| {
            Error::invalid_argument(format!("{} with {}: {e}", cert.display(), key.display()))
        })?;
    Ok(Arc::new(key))
}

fn alpn_list<I>(protocols: I) -> Vec<Vec<u8>>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    protocols.into_iter().map(|p| p.as_ref().to_vec()).collect()
}

/// Picks a server certificate by the SNI name the client sent; the default one
/// for no name or an unknown name.
#[derive(Debug)]
struct SniResolver {
    by_name: Vec<(String, Arc<CertifiedKey>)>,
    default: Arc<CertifiedKey>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = hello.server_name().and_then(|name| {
            self.by_name
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, key)| key.clone())
        });
        Some(chosen.unwrap_or_else(|| self.default.clone()))
    }
}

/// Server-side TLS settings: the certificate, client-certificate checks, ALPN,
/// and the handshake and shutdown time limits.
///
/// Cheap to clone; clones share the certificate, so [`reload`](Self::reload)
/// and [`set_config`](Self::set_config) on any clone (for example one kept
/// after handing another to [`ServerOptions::tls`](crate::ServerOptions::tls))
/// change what new connections get, without a restart. Connections already
/// open keep their session.
///
/// # Examples
///
/// ```no_run
/// use aioproto::{ServerOptions, ServerTls};
///
/// # fn main() -> aioproto::Result<()> {
/// let tls = ServerTls::builder("certs/server.pem", "certs/server.key")
///     .client_ca("certs/ca.pem") // mutual TLS: client certificates required
///     .alpn(["echo"])
///     .build()?;
/// let mut options = ServerOptions::new();
/// options.tls(tls);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServerTls {
    shared: Arc<ServerShared>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
}

struct ServerShared {
    config: RwLock<Arc<ServerConfig>>,
    /// How the config was made from files, so `reload` can make it again.
    source: Option<ServerTlsBuilder>,
}

impl ServerTls {
    /// Settings for one certificate chain and key read from PEM files, with no
    /// client certificates and no ALPN. See [`builder`](Self::builder) for more.
    ///
    /// # Errors
    ///
    /// An I/O error if a file cannot be read; [`Error::InvalidArgument`] if it
    /// holds no certificate or key, or the key does not match the certificate.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let tls = aioproto::ServerTls::from_pem("certs/server.pem", "certs/server.key")?;
    /// println!("{tls:?}");
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn from_pem(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<ServerTls> {
        Self::builder(cert, key).build()
    }

    /// Starts settings from a certificate chain and key in PEM files; add client
    /// certificate checks, ALPN and SNI certificates, then
    /// [`build`](ServerTlsBuilder::build).
    pub fn builder(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> ServerTlsBuilder {
        ServerTlsBuilder {
            cert: cert.as_ref().to_owned(),
            key: key.as_ref().to_owned(),
            client_ca: None,
            client_cert_required: false,
            alpn: Vec::new(),
            sni: Vec::new(),
        }
    }

    /// Uses a rustls `ServerConfig` as it is (build it with the ring provider,
    /// e.g. `ServerConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())`).
    ///
    /// [`reload`](Self::reload) is not available for such settings; use
    /// [`set_config`](Self::set_config).
    pub fn from_config(config: impl Into<Arc<ServerConfig>>) -> ServerTls {
        ServerTls::with_shared(config.into(), None)
    }

    fn with_shared(config: Arc<ServerConfig>, source: Option<ServerTlsBuilder>) -> ServerTls {
        ServerTls {
            shared: Arc::new(ServerShared {
                config: RwLock::new(config),
                source,
            }),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// Sets how long a client may take to complete the handshake (default 60 s).
    /// A client that stalls longer is disconnected, without any callback.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a zero duration.
    pub fn handshake_timeout(&mut self, timeout: Duration) -> Result<&mut Self> {
        self.handshake_timeout = check_timeout("ssl_handshake_timeout", timeout)?;
        Ok(self)
    }

    /// Sets how long `close()` waits for the close_notify exchange (default 30 s).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a zero duration.
    pub fn shutdown_timeout(&mut self, timeout: Duration) -> Result<&mut Self> {
        self.shutdown_timeout = check_timeout("ssl_shutdown_timeout", timeout)?;
        Ok(self)
    }

    /// Reads the PEM files again (certificate, key, CA, SNI certificates) and
    /// uses them for every new connection. On error, the old settings stay.
    ///
    /// # Errors
    ///
    /// As [`ServerTlsBuilder::build`]; [`Error::InvalidState`] if these settings
    /// came from [`from_config`](Self::from_config).
    pub fn reload(&self) -> Result<()> {
        let source = self.shared.source.as_ref().ok_or_else(|| {
            Error::invalid_state("TLS settings made from a ServerConfig cannot reload files")
        })?;
        self.set_config(source.make_config()?);
        Ok(())
    }

    /// Replaces the rustls configuration for every new connection.
    pub fn set_config(&self, config: impl Into<Arc<ServerConfig>>) {
        let mut current = self
            .shared
            .config
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *current = config.into();
    }

    /// The rustls configuration new connections get.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.shared
            .config
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = self.config();
        f.debug_struct("ServerTls")
            .field("alpn", &config.alpn_protocols)
            .field("from_files", &self.shared.source.is_some())
            .field("handshake_timeout", &self.handshake_timeout)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish_non_exhaustive()
    }
}

/// Builds [`ServerTls`] from PEM files; made by [`ServerTls::builder`].
#[derive(Debug, Clone)]
pub struct ServerTlsBuilder {
    cert: PathBuf,
    key: PathBuf,
    client_ca: Option<PathBuf>,
    client_cert_required: bool,
    alpn: Vec<Vec<u8>>,
    sni: Vec<(String, PathBuf, PathBuf)>,
}

impl ServerTlsBuilder {
    /// Requires a client certificate signed by a CA in this PEM file (mutual TLS).
    /// A client without one fails the handshake.
    pub fn client_ca(&mut self, ca: impl AsRef<Path>) -> &mut Self {
        self.client_ca = Some(ca.as_ref().to_owned());
        self.client_cert_required = true;
        self
    }

    /// Asks for a client certificate signed by a CA in this PEM file, but also
    /// accepts clients without one (a certificate sent must still verify).
    pub fn optional_client_ca(&mut self, ca: impl AsRef<Path>) -> &mut Self {
        self.client_ca = Some(ca.as_ref().to_owned());
        self.client_cert_required = false;
        self
    }

    /// The ALPN protocols offered, most preferred first (default none).
    pub fn alpn<I>(&mut self, protocols: I) -> &mut Self
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.alpn = alpn_list(protocols);
        self
    }

    /// Serves this certificate to clients whose SNI names `server_name`; others
    /// get the default certificate. May be called for several names.
    pub fn sni_cert(
        &mut self,
        server_name: &str,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> &mut Self {
        self.sni.push((
            server_name.to_owned(),
            cert.as_ref().to_owned(),
            key.as_ref().to_owned(),
        ));
        self
    }

    /// Reads the files and makes the settings.
    ///
    /// # Errors
    ///
    /// An I/O error if a file cannot be read; [`Error::InvalidArgument`] if a
    /// file holds no certificate or key, a key does not match its certificate,
    /// or the CA file has no usable CA certificate.
    pub fn build(&self) -> Result<ServerTls> {
        Ok(ServerTls::with_shared(
            Arc::new(self.make_config()?),
            Some(self.clone()),
        ))
    }

    fn make_config(&self) -> Result<ServerConfig> {
        let provider = provider();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let roots = Arc::new(load_roots(std::slice::from_ref(ca))?);
                let mut verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
                if !self.client_cert_required {
                    verifier = verifier.allow_unauthenticated();
                }
                let verifier = verifier
                    .build()
                    .map_err(|e| Error::invalid_argument(format!("{}: {e}", ca.display())))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut by_name = Vec::with_capacity(self.sni.len());
        for (name, cert, key) in &self.sni {
            by_name.push((name.clone(), certified_key(cert, key)?));
        }
        let resolver = SniResolver {
            by_name,
            default: certified_key(&self.cert, &self.key)?,
        };
        let mut config = builder.with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = self.alpn.clone();
        Ok(config)
    }
}

/// Client-side TLS settings: trusted CAs, an optional client certificate, ALPN,
/// the server name to send and check, and time limits.
///
/// # Examples
///
/// ```no_run
/// use aioproto::{ClientTls, ConnectOptions};
///
/// # fn main() -> aioproto::Result<()> {
/// let mut tls = ClientTls::from_ca_file("certs/ca.pem")?;
/// tls.server_name("localhost")?; // check the certificate for this name (and send it as SNI)
/// let mut options = ConnectOptions::new();
/// options.tls(tls);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClientTls {
    pub(crate) config: Arc<ClientConfig>,
    server_name: Option<ServerName<'static>>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
}

impl ClientTls {
    /// Settings that trust the CA certificates in one PEM file.
    ///
    /// # Errors
    ///
    /// An I/O error if the file cannot be read; [`Error::InvalidArgument`] if it
    /// holds no usable CA certificate.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let tls = aioproto::ClientTls::from_ca_file("certs/ca.pem")?;
    /// println!("{tls:?}");
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn from_ca_file(ca: impl AsRef<Path>) -> Result<ClientTls> {
        Self::builder().ca_file(ca).build()
    }

    /// Starts settings: add CA files, a client certificate and ALPN, then
    /// [`build`](ClientTlsBuilder::build).
    pub fn builder() -> ClientTlsBuilder {
        ClientTlsBuilder {
            ca_files: Vec::new(),
            client_cert: None,
            alpn: Vec::new(),
        }
    }

    /// Uses a rustls `ClientConfig` as it is (build it with the ring provider).
    pub fn from_config(config: impl Into<Arc<ClientConfig>>) -> ClientTls {
        ClientTls {
            config: config.into(),
            server_name: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// The name to send as SNI and to check the server certificate against
    /// (asyncio's `server_hostname`). Default: the host given to
    /// `create_connection`. An IP address is checked against the certificate's
    /// IP addresses and sends no SNI.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `name` is neither a DNS name nor an IP address.
    pub fn server_name(&mut self, name: &str) -> Result<&mut Self> {
        self.server_name = Some(parse_server_name(name)?);
        Ok(self)
    }

    /// Sets how long the handshake may take (default 60 s); past it the
    /// connection fails with [`Error::Timeout`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a zero duration.
    pub fn handshake_timeout(&mut self, timeout: Duration) -> Result<&mut Self> {
        self.handshake_timeout = check_timeout("ssl_handshake_timeout", timeout)?;
        Ok(self)
    }

    /// Sets how long `close()` waits for the close_notify exchange (default 30 s).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a zero duration.
    pub fn shutdown_timeout(&mut self, timeout: Duration) -> Result<&mut Self> {
        self.shutdown_timeout = check_timeout("ssl_shutdown_timeout", timeout)?;
        Ok(self)
    }

    /// The rustls configuration in use.
    pub fn config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }

    /// The name set with [`server_name`](ClientTls::server_name), if any.
    pub(crate) fn configured_name(&self) -> Option<ServerName<'static>> {
        self.server_name.clone()
    }

    /// The name to use when connecting to `host`.
    pub(crate) fn name_for(&self, host: &str) -> Result<ServerName<'static>> {
        match &self.server_name {
            Some(name) => Ok(name.clone()),
            None => parse_server_name(host.trim_start_matches('[').trim_end_matches(']')),
        }
    }
}

fn parse_server_name(name: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(name.to_owned())
        .map_err(|e| Error::invalid_argument(format!("bad TLS server name {name:?}: {e}")))
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("server_name", &self.server_name)
            .field("alpn", &self.config.alpn_protocols)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish_non_exhaustive()
    }
}

/// Builds [`ClientTls`]; made by [`ClientTls::builder`].
#[derive(Debug, Clone)]
pub struct ClientTlsBuilder {
    ca_files: Vec<PathBuf>,
    client_cert: Option<(PathBuf, PathBuf)>,
    alpn: Vec<Vec<u8>>,
}

impl ClientTlsBuilder {
    /// Trusts the CA certificates in this PEM file. At least one is needed.
    pub fn ca_file(&mut self, ca: impl AsRef<Path>) -> &mut Self {
        self.ca_files.push(ca.as_ref().to_owned());
        self
    }

    /// Presents this certificate chain and key when the server asks (mutual TLS).
    pub fn client_cert(&mut self, cert: impl AsRef<Path>, key: impl AsRef<Path>) -> &mut Self {
        self.client_cert = Some((cert.as_ref().to_owned(), key.as_ref().to_owned()));
        self
    }

    /// The ALPN protocols offered, most preferred first (default none).
    pub fn alpn<I>(&mut self, protocols: I) -> &mut Self
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.alpn = alpn_list(protocols);
        self
    }

    /// Reads the files and makes the settings.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] without any CA file, or if a file holds no
    /// usable certificate or key; an I/O error if a file cannot be read.
    pub fn build(&self) -> Result<ClientTls> {
        if self.ca_files.is_empty() {
            return Err(Error::invalid_argument(
                "a TLS client needs at least one CA file to trust",
            ));
        }
        let roots = load_roots(&self.ca_files)?;
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let mut config = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => builder
                .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
                .map_err(|e| {
                    Error::invalid_argument(format!(
                        "{} with {}: {e}",
                        cert.display(),
                        key.display()
                    ))
                })?,
        };
        config.alpn_protocols = self.alpn.clone();
        Ok(ClientTls::from_config(config))
    }
}

/// The settings [`start_tls`] upgrades with: server or client side.
#[derive(Debug, Clone)]
pub enum TlsConfig {
    /// Act as the TLS server.
    Server(ServerTls),
    /// Act as the TLS client.
    Client(ClientTls),
}

impl From<ServerTls> for TlsConfig {
    fn from(tls: ServerTls) -> Self {
        TlsConfig::Server(tls)
    }
}

impl From<ClientTls> for TlsConfig {
    fn from(tls: ClientTls) -> Self {
        TlsConfig::Client(tls)
    }
}

/// Upgrades a live connection to TLS in place, like asyncio's `loop.start_tls`,
/// and returns the new transport.
///
/// The upgrade is requested when this is *called*: the connection reads nothing
/// more from then on, so a protocol may call it inside `data_received` (say on a
/// `STARTTLS` line) and spawn the returned future. The driver first flushes what
/// was written, then hands the socket to the handshake. Use
/// [`start_tls_with_data`] when the protocol already holds bytes of the TLS
/// stream (a ClientHello that arrived together with the `STARTTLS` line or a
/// PROXY header).
///
/// `config` must match `server_side` (a [`ServerTls`] with `true`, a
/// [`ClientTls`] with `false`). A client checks the server certificate against
/// `server_name`, else the [`ClientTls::server_name`], else the peer's IP address.
///
/// Afterwards the same protocol gets the TLS connection's callbacks:
/// `connection_made` is **not** called again. Use the returned transport from
/// then on; the old handle forwards `write`, `writelines`, `close` and `abort`
/// to it (so a protocol that kept the old handle still answers, and a server's
/// `close_clients()` still reaches the connection), but its other accessors
/// describe the closed plaintext transport. A paused transport stays paused,
/// and the TLS connection keeps the plaintext one's settings (backpressure
/// hold, time limits, a server's byte counters).
///
/// A `close()` on the old handle while the upgrade is in flight (even right
/// after this call, before the socket was handed over) closes the TLS
/// connection gracefully once its handshake is done. An `abort()` stops the
/// handshake: this fails with [`Error::Closed`] and the protocol gets
/// `connection_lost(None)`, as after any abort.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `config` and `server_side` disagree or
/// `server_name` is given to a server or is not a valid name (nothing is changed
/// then); [`Error::Closed`] if the transport is closing or already upgrading,
/// or was aborted during the upgrade; the handshake's error ([`Error::Tls`], [`Error::Timeout`], I/O). After a
/// failed handshake the connection is closed and the protocol's
/// `connection_lost` gets the same error.
///
/// # Cancel safety
///
/// Dropping the future before it completes closes the connection, and the
/// protocol's `connection_lost` gets [`Error::Cancelled`].
///
/// # Examples
///
/// ```no_run
/// use aioproto::{BaseProtocol, Protocol, ServerTls, Transport, start_tls};
/// use bytes::Bytes;
///
/// struct StartTlsServer {
///     transport: Option<Transport>,
///     tls: ServerTls,
/// }
///
/// impl BaseProtocol for StartTlsServer {
///     fn connection_made(&mut self, transport: &Transport) {
///         self.transport = Some(transport.clone());
///     }
/// }
///
/// impl Protocol for StartTlsServer {
///     fn data_received(&mut self, data: Bytes) {
///         let Some(transport) = self.transport.clone() else { return };
///         if &data[..] == b"STARTTLS\n" {
///             transport.write("READY\n");
///             let upgrading = start_tls(&transport, self.tls.clone(), true, None);
///             tokio::spawn(async move {
///                 if let Err(e) = upgrading.await {
///                     eprintln!("upgrade failed: {e}");
///                 }
///             });
///         } else {
///             transport.write(data);
///         }
///     }
/// }
/// ```
pub fn start_tls(
    transport: &Transport,
    config: impl Into<TlsConfig>,
    server_side: bool,
    server_name: Option<&str>,
) -> impl Future<Output = Result<Transport>> + Send + 'static {
    start_tls_with_data(transport, config, server_side, server_name, Bytes::new())
}

/// [`start_tls`] for a protocol that already read the first bytes of the TLS
/// stream: `already_read` is fed to the handshake before anything from the socket.
///
/// # Errors
///
/// As [`start_tls`].
///
/// # Cancel safety
///
/// As [`start_tls`].
pub fn start_tls_with_data(
    transport: &Transport,
    config: impl Into<TlsConfig>,
    server_side: bool,
    server_name: Option<&str>,
    already_read: Bytes,
) -> impl Future<Output = Result<Transport>> + Send + 'static {
    start_tls_deferred(
        transport,
        config.into(),
        server_side,
        server_name,
        move || already_read,
    )
}

/// [`start_tls_with_data`] whose `already_read` is taken only once the driver
/// has stopped and handed the stream over, so nothing the driver delivered to
/// the protocol in between is lost (streams use it: their reader's buffer).
pub(crate) fn start_tls_deferred(
    transport: &Transport,
    config: TlsConfig,
    server_side: bool,
    server_name: Option<&str>,
    already_read: impl FnOnce() -> Bytes + Send + 'static,
) -> impl Future<Output = Result<Transport>> + Send + 'static {
    let checked = check_upgrade(transport, config, server_side, server_name);
    let prepared = checked.map(|side| {
        let socket_options = transport.lock().socket_options();
        (
            transport.clone(),
            detach(transport),
            transport.extra().clone(),
            socket_options,
            side,
        )
    });
    async move {
        let (old, detaching, extra, socket_options, side) = prepared?;
        let detached = detaching.await;
        let already_read = already_read();
        upgrade(
            old,
            std::future::ready(detached),
            extra,
            socket_options,
            side,
            already_read,
        )
        .await
    }
}

fn check_upgrade(
    transport: &Transport,
    config: TlsConfig,
    server_side: bool,
    server_name: Option<&str>,
) -> Result<Upgrade> {
    match (config, server_side) {
        (TlsConfig::Server(tls), true) => {
            if server_name.is_some() {
                return Err(Error::invalid_argument(
                    "server_name is only meaningful on the client side",
                ));
            }
            Ok(Upgrade::Server(tls))
        }
        (TlsConfig::Client(tls), false) => {
            let name = match server_name {
                Some(name) => parse_server_name(name)?,
                None => match (&tls.server_name, transport.peername()) {
                    (Some(name), _) => name.clone(),
                    (None, Some(peer)) => ServerName::IpAddress(peer.ip().into()),
                    (None, None) => {
                        return Err(Error::invalid_argument(
                            "start_tls on the client side needs a server_name",
                        ));
                    }
                },
            };
            Ok(Upgrade::Client(tls, name))
        }
        (TlsConfig::Server(_), false) => Err(Error::invalid_argument(
            "start_tls(server_side=false) needs a ClientTls, got a ServerTls",
        )),
        (TlsConfig::Client(_), true) => Err(Error::invalid_argument(
            "start_tls(server_side=true) needs a ServerTls, got a ClientTls",
        )),
    }
}

pub(crate) mod session;

#[cfg(test)]
mod tests;
