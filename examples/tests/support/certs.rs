//! A throw-away test PKI (`aioproto_test_pki`, the certificates `make certs`
//! writes) in a temporary directory, for the tests that start example servers
//! with `--tls`, and a raw tokio-rustls client that trusts its CA.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use aioproto_test_pki::TempPki;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

/// `ca.pem`, `server.pem`, `server.key` and the rest, in a directory removed on drop.
pub struct Certs {
    files: TempPki,
}

impl Certs {
    pub fn new() -> Certs {
        Certs {
            files: TempPki::new("examples").expect("a test PKI"),
        }
    }

    /// A file of the PKI by its file name (`ca.pem`, `server.key`).
    pub fn path(&self, name: &str) -> String {
        self.files.dir().join(name).display().to_string()
    }

    /// `--tls --cert DIR/server.pem --key DIR/server.key`.
    pub fn server_args(&self) -> Vec<String> {
        vec![
            "--tls".to_owned(),
            "--cert".to_owned(),
            self.path("server.pem"),
            "--key".to_owned(),
            self.path("server.key"),
        ]
    }

    /// Completes a TLS handshake on `tcp`, checking the name "localhost".
    pub async fn connect(&self, tcp: TcpStream) -> tokio_rustls::client::TlsStream<TcpStream> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(self.files.ca()).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .expect("TLS handshake")
    }
}
