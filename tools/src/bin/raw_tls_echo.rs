//! Baseline for `make bench`: the plainest tokio-rustls echo server, same
//! runtime settings as `echo_server --tls` (one thread, ring provider, 64 KiB
//! buffer per connection). Prints `listening on ADDR`, exits 0 on SIGINT/SIGTERM.
//!
//! ```text
//! raw_tls_echo CERT KEY [PORT]
//! ```

use std::io::Write;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [cert, key, rest @ ..] = args.as_slice() else {
        return Err("usage: raw_tls_echo CERT KEY [PORT]".into());
    };
    let port: u16 = rest.first().map_or(Ok(0), |p| p.parse())?;
    let certs = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = TcpListener::bind(("127.0.0.1", port)).await?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {}", listener.local_addr()?)?;
            out.flush()?;
            drop(out);
            let mut term = signal(SignalKind::terminate())?;
            let mut int = signal(SignalKind::interrupt())?;
            let serve = async move {
                loop {
                    let (tcp, _) = listener.accept().await?;
                    tcp.set_nodelay(true)?;
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let Ok(mut tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let mut buf = vec![0u8; 65536];
                        while let Ok(n) = tls.read(&mut buf).await {
                            if n == 0 || tls.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = tls.shutdown().await;
                    });
                }
                #[allow(unreachable_code)]
                Ok::<(), std::io::Error>(())
            };
            tokio::select! {
                r = serve => r?,
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            Ok(())
        })
}
