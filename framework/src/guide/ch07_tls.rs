//! # 7. TLS: the same protocol, encrypted
//!
//! In asyncio, TLS is an `ssl.SSLContext` handed to `create_server` or
//! `create_connection`; the protocol does not change:
//!
//! ```python
//! server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
//! server_ctx.load_cert_chain("certs/server.pem", "certs/server.key")
//! server = await loop.create_server(Echo, "127.0.0.1", 8443, ssl=server_ctx)
//!
//! client_ctx = ssl.create_default_context(cafile="certs/ca.pem")
//! transport, protocol = await loop.create_connection(
//!     Client, "127.0.0.1", 8443, ssl=client_ctx, server_hostname="localhost")
//! print(transport.get_extra_info("peercert"), transport.get_extra_info("cipher"))
//! ```
//!
//! In aioproto the context is a [`ServerTls`](crate::ServerTls) or a
//! [`ClientTls`](crate::ClientTls) (rustls on the ring provider), set on the
//! options. `make certs` writes a local CA, a server certificate for
//! `localhost`/`127.0.0.1`/`::1` and a client certificate into `certs/`; the
//! examples below make an equivalent throw-away set in memory so they run
//! anywhere.
//!
//! ```
//! use aioproto::{
//!     BaseProtocol, ClientTls, ConnectOptions, Protocol, ServerOptions, ServerTls, Transport,
//!     create_connection, create_server,
//! };
//! use bytes::Bytes;
//! use tokio::sync::mpsc;
//!
//! #[derive(Default)]
//! struct Echo {
//!     transport: Option<Transport>,
//! }
//! impl BaseProtocol for Echo {
//!     fn connection_made(&mut self, transport: &Transport) {
//!         self.transport = Some(transport.clone());
//!     }
//! }
//! impl Protocol for Echo {
//!     fn data_received(&mut self, data: Bytes) {
//!         self.transport.as_ref().unwrap().write(data);
//!     }
//! }
//!
//! struct Client(mpsc::UnboundedSender<Bytes>);
//! impl BaseProtocol for Client {}
//! impl Protocol for Client {
//!     fn data_received(&mut self, data: Bytes) {
//!         let _ = self.0.send(data);
//!     }
//! }
//!
//! # fn test_pki() -> std::path::PathBuf {
//! #     use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
//! #     let dir = std::env::temp_dir().join(format!("aioproto-guide-tls-{}-{}", std::process::id(), line!()));
//! #     std::fs::create_dir_all(&dir).unwrap();
//! #     let ca_key = KeyPair::generate().unwrap();
//! #     let mut ca = CertificateParams::default();
//! #     ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
//! #     let ca_cert = ca.self_signed(&ca_key).unwrap();
//! #     let issuer = Issuer::new(ca, ca_key);
//! #     let key = KeyPair::generate().unwrap();
//! #     let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
//! #     leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
//! #     let cert = leaf.signed_by(&key, &issuer).unwrap();
//! #     std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
//! #     std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
//! #     std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
//! #     dir
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! let certs = test_pki(); // `certs/` after `make certs`
//! let mut server_options = ServerOptions::new();
//! server_options.tls(ServerTls::from_pem(certs.join("server.pem"), certs.join("server.key"))?);
//! let server = create_server(Echo::default, "127.0.0.1", 0, &server_options).await?;
//! let port = server.local_addrs()[0].port();
//!
//! let mut client_tls = ClientTls::from_ca_file(certs.join("ca.pem"))?;
//! client_tls.server_name("localhost")?; // asyncio's server_hostname
//! let mut options = ConnectOptions::new();
//! options.tls(client_tls);
//! let (tx, mut rx) = mpsc::unbounded_channel();
//! let (transport, _) = create_connection(move || Client(tx), "127.0.0.1", port, &options).await?;
//!
//! transport.write("hello over TLS");
//! assert_eq!(&rx.recv().await.unwrap()[..], b"hello over TLS");
//!
//! // get_extra_info('peercert'), ('cipher'), selected_alpn_protocol(), ...
//! let info = transport.tls().expect("a TLS transport");
//! assert_eq!(info.peer_certificates.len(), 1);
//! assert_eq!(info.protocol_version, rustls::ProtocolVersion::TLSv1_3);
//! println!("cipher: {:?}", info.cipher_suite);
//! // Unlike asyncio, TLS 1.3 can half-close: write_eof() sends close_notify
//! // and the peer's data still arrives.
//! assert!(transport.can_write_eof());
//!
//! transport.close(); // flush, close_notify, wait for the peer's (at most 30 s)
//! server.close();
//! # std::fs::remove_dir_all(certs).ok();
//! # Ok(()) }
//! ```
//!
//! ## Options, side by side
//!
//! | asyncio | aioproto |
//! |---|---|
//! | `ctx.load_cert_chain(cert, key)` | [`ServerTls::from_pem(cert, key)`](crate::ServerTls::from_pem) |
//! | `ctx.load_verify_locations(ca)` + `verify_mode = CERT_REQUIRED` (server) | [`ServerTls::builder(..).client_ca(ca)`](crate::ServerTlsBuilder::client_ca) |
//! | `verify_mode = CERT_OPTIONAL` | [`optional_client_ca(ca)`](crate::ServerTlsBuilder::optional_client_ca) |
//! | `ctx.sni_callback` choosing a context | [`sni_cert(name, cert, key)`](crate::ServerTlsBuilder::sni_cert) |
//! | `ctx.set_alpn_protocols([...])` | [`alpn([...])`](crate::ServerTlsBuilder::alpn) on either builder |
//! | `create_default_context(cafile=ca)` | [`ClientTls::from_ca_file(ca)`](crate::ClientTls::from_ca_file) |
//! | `ctx.load_cert_chain(...)` (client) | [`ClientTls::builder().client_cert(cert, key)`](crate::ClientTlsBuilder::client_cert) |
//! | `server_hostname=` | [`ClientTls::server_name`](crate::ClientTls::server_name) (default: the host you connect to) |
//! | `ssl_handshake_timeout=` (60 s) | [`handshake_timeout`](crate::ServerTls::handshake_timeout) (60 s) |
//! | `ssl_shutdown_timeout=` (30 s) | [`shutdown_timeout`](crate::ServerTls::shutdown_timeout) (30 s) |
//! | a hand-built `SSLContext` | [`ServerTls::from_config`](crate::ServerTls::from_config) / [`ClientTls::from_config`](crate::ClientTls::from_config) with a rustls config |
//! | `get_extra_info('peercert' / 'cipher' / 'ssl_object')` | [`Transport::tls`](crate::Transport::tls) → [`TlsInfo`](crate::TlsInfo) |
//! | `loop.start_tls(transport, protocol, ctx, server_side=...)` | [`start_tls(&transport, tls, server_side, server_name)`](crate::start_tls) |
//!
//! A zero time limit is refused with [`Error::InvalidArgument`](crate::Error::InvalidArgument),
//! as asyncio refuses `0` with `ValueError`.
//!
//! ## What is different from TCP
//!
//! * `connection_made` runs after the handshake. A failed handshake (wrong CA,
//!   wrong name, expired certificate, a plaintext client, a stalled client)
//!   calls **no** callback: the server logs a warning and goes on, and
//!   `create_connection` returns the error (an [`Error::Tls`](crate::Error::Tls)
//!   carrying the rustls error, or a timeout).
//! * `close()` flushes, sends close_notify, then waits for the peer's
//!   close_notify or EOF, at most the shutdown timeout; past it `connection_lost`
//!   gets `Timeout("SSL shutdown timed out")`. `abort()` sends nothing.
//! * A peer that closes TCP **without** close_notify is reported as an error in
//!   `connection_lost` (asyncio reports it as a clean EOF; a truncated stream
//!   looks exactly like that, so aioproto does not hide it). A peer's
//!   close_notify is a clean EOF: `eof_received`, then `connection_lost(None)`.
//! * Flow control counts plaintext bytes; the defaults are asyncio's TLS
//!   limits, `(low, high) = (128 KiB, 512 KiB)`.
//! * With TLS 1.3 a client finishes its handshake before the server has checked
//!   the client certificate, so a refused client certificate can show up as an
//!   error in the client's `connection_lost` rather than in `create_connection`.
//!
//! ## Rotating certificates
//!
//! Clones of a `ServerTls` share their certificate. Keep one clone, and when the
//! files on disk change call [`reload`](crate::ServerTls::reload): new
//! connections get the new certificate, open ones keep their session, and a
//! reload that fails leaves the old settings in place.
//!
//! ## STARTTLS: upgrading a live connection
//!
//! [`start_tls`](crate::start_tls) takes the socket back from a plaintext
//! transport and runs a handshake on it; the same protocol then gets the TLS
//! data, without a second `connection_made`. The request takes effect when the
//! function is *called*, so a protocol can call it from `data_received` and
//! spawn the future: nothing more is read as plaintext. The old handle forwards
//! `write`, `close` and `abort` to the new transport. When the protocol already
//! holds bytes of the TLS stream (a ClientHello that arrived with the
//! `STARTTLS` line), pass them to [`start_tls_with_data`](crate::start_tls_with_data).
//!
//! ```
//! use aioproto::{
//!     BaseProtocol, ClientTls, ConnectOptions, Protocol, ServerOptions, ServerTls, Transport,
//!     create_connection, create_server, start_tls, start_tls_with_data,
//! };
//! use bytes::Bytes;
//! use tokio::sync::mpsc;
//!
//! /// Echoes; on the line `STARTTLS` answers `READY` and upgrades.
//! struct StartTlsEcho {
//!     transport: Option<Transport>,
//!     tls: ServerTls,
//!     upgraded: bool,
//! }
//! impl BaseProtocol for StartTlsEcho {
//!     fn connection_made(&mut self, transport: &Transport) {
//!         self.transport = Some(transport.clone());
//!     }
//! }
//! impl Protocol for StartTlsEcho {
//!     fn data_received(&mut self, data: Bytes) {
//!         let transport = self.transport.clone().unwrap();
//!         match data.strip_prefix(b"STARTTLS\n") {
//!             Some(rest) if !self.upgraded => {
//!                 self.upgraded = true;
//!                 transport.write("READY\n");
//!                 let rest = Bytes::copy_from_slice(rest);
//!                 let upgrading = start_tls_with_data(&transport, self.tls.clone(), true, None, rest);
//!                 tokio::spawn(async move { upgrading.await.expect("upgrade") });
//!             }
//!             _ => transport.write(data), // after the upgrade this goes out encrypted
//!         }
//!     }
//! }
//!
//! struct Client(mpsc::UnboundedSender<Bytes>);
//! impl BaseProtocol for Client {}
//! impl Protocol for Client {
//!     fn data_received(&mut self, data: Bytes) {
//!         let _ = self.0.send(data);
//!     }
//! }
//!
//! # fn test_pki() -> std::path::PathBuf {
//! #     use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
//! #     let dir = std::env::temp_dir().join(format!("aioproto-guide-tls-{}-{}", std::process::id(), line!()));
//! #     std::fs::create_dir_all(&dir).unwrap();
//! #     let ca_key = KeyPair::generate().unwrap();
//! #     let mut ca = CertificateParams::default();
//! #     ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
//! #     let ca_cert = ca.self_signed(&ca_key).unwrap();
//! #     let issuer = Issuer::new(ca, ca_key);
//! #     let key = KeyPair::generate().unwrap();
//! #     let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
//! #     leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
//! #     let cert = leaf.signed_by(&key, &issuer).unwrap();
//! #     std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
//! #     std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
//! #     std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
//! #     dir
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! let certs = test_pki(); // `certs/` after `make certs`
//! let tls = ServerTls::from_pem(certs.join("server.pem"), certs.join("server.key"))?;
//! let factory = move || StartTlsEcho { transport: None, tls: tls.clone(), upgraded: false };
//! let server = create_server(factory, "127.0.0.1", 0, &ServerOptions::new()).await?;
//! let port = server.local_addrs()[0].port();
//!
//! let (tx, mut rx) = mpsc::unbounded_channel();
//! let (plain, _) =
//!     create_connection(move || Client(tx), "127.0.0.1", port, &ConnectOptions::new()).await?;
//! plain.write("STARTTLS\n");
//! assert_eq!(&rx.recv().await.unwrap()[..], b"READY\n");
//! let client_tls = ClientTls::from_ca_file(certs.join("ca.pem"))?;
//! let secure = start_tls(&plain, client_tls, false, Some("localhost")).await?;
//! assert!(secure.tls().is_some());
//!
//! secure.write("secret");
//! assert_eq!(&rx.recv().await.unwrap()[..], b"secret");
//! secure.close();
//! server.close();
//! # std::fs::remove_dir_all(certs).ok();
//! # Ok(()) }
//! ```
//!
//! Run it for real: `make certs`, then
//! `echo_server --starttls --cert certs/server.pem --key certs/server.key` and
//! `echo_client --starttls --ca certs/ca.pem 127.0.0.1 PORT hello`.
