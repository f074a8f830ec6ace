//! Certificate checks over real handshakes: mutual TLS, unknown CA, hostname
//! mismatch, expired certificate, SNI selection, reloading, and bad settings
//! (spec T28, contract 6).

mod support;

use std::time::Duration;

use aioproto::{ClientTls, Error, ServerTls};
use support::pki::*;
use support::*;

/// Connects an `Events` client; returns its log with the outcome.
async fn try_connect(
    port: u16,
    host: &str,
    tls: ClientTls,
) -> (std::sync::Arc<Log>, aioproto::Result<aioproto::Transport>) {
    let log = Log::new();
    let outcome = with_timeout(connect_tls_recording(&log, host, port, tls))
        .await
        .map(|(t, _)| t);
    (log, outcome)
}

/// The certificate error inside a failed handshake.
fn certificate_error(err: &Error) -> &rustls::CertificateError {
    match err {
        Error::Tls(rustls::Error::InvalidCertificate(e)) => e,
        other => panic!("expected a certificate error, got {other:?}"),
    }
}

/// Mutual TLS: a client with a certificate from the trusted CA gets through,
/// and the server sees that certificate.
#[tokio::test]
async fn mutual_tls_accepted() {
    init_tracing();
    let pki = Pki::new();
    let tls = ServerTls::builder(pki.cert("server"), pki.key("server"))
        .client_ca(pki.ca())
        .build()
        .unwrap();
    let (server, addr, mut logs) = tls_recording_server(tls, |log| {
        Events::new(log).on_data(|t, d| t.write(d.clone()))
    })
    .await;
    let client_tls = ClientTls::builder()
        .ca_file(pki.ca())
        .client_cert(pki.cert("client"), pki.key("client"))
        .build()
        .unwrap();
    let (log, transport) = try_connect(addr.port(), "localhost", client_tls).await;
    let transport = transport.expect("mutual TLS handshake");
    transport.write("mtls");
    log.wait_data(4).await;
    let server_log = next_log(&mut logs).await;
    assert_eq!(server_log.count("cm"), 1);
    let server_side = server.connections().pop().unwrap();
    let client_cert = std::fs::read(pki.cert("client")).unwrap();
    let der = rustls::pki_types::CertificateDer::from_pem_slice(&client_cert).unwrap();
    assert_eq!(server_side.tls().unwrap().peer_certificate(), Some(&der));
    transport.close();
    assert!(log.wait_lost().await.is_none());
    server.close();
}

use rustls::pki_types::pem::PemObject;

/// Mutual TLS: a client without a certificate is refused. The server makes no
/// protocol at all (no `connection_made`, no `connection_lost`); the client
/// fails in the handshake or, with TLS 1.3 where the client finishes first, on
/// the server's alert right after.
#[tokio::test]
async fn mutual_tls_rejected_without_client_certificate() {
    init_tracing();
    let pki = Pki::new();
    let tls = ServerTls::builder(pki.cert("server"), pki.key("server"))
        .client_ca(pki.ca())
        .build()
        .unwrap();
    let (server, addr, mut logs) = tls_recording_server(tls, Events::new).await;
    let (log, outcome) = try_connect(addr.port(), "localhost", pki.client_tls()).await;
    let err = match outcome {
        Err(e) => {
            assert!(log.events().is_empty(), "no callback on a failed handshake");
            e
        }
        Ok(_) => log
            .wait_lost()
            .await
            .expect("the server's alert is an error"),
    };
    assert!(
        matches!(err, Error::Tls(_)) || err.is_closed(),
        "a TLS alert or a reset, got {err:?}"
    );
    // A client with a certificate from an unknown CA is refused too.
    let client_tls = ClientTls::builder()
        .ca_file(pki.ca())
        .client_cert(pki.cert("other-server"), pki.key("other-server"))
        .build()
        .unwrap();
    let (log, outcome) = try_connect(addr.port(), "localhost", client_tls).await;
    if outcome.is_ok() {
        assert!(log.wait_lost().await.is_some());
    }
    // Still serving, and no server-side protocol was ever made.
    let good = ClientTls::builder()
        .ca_file(pki.ca())
        .client_cert(pki.cert("client"), pki.key("client"))
        .build()
        .unwrap();
    let (_, ok) = try_connect(addr.port(), "localhost", good).await;
    let ok = ok.expect("a good client still gets through");
    let first = next_log(&mut logs).await;
    assert_eq!(first.count("cm"), 1);
    assert!(
        logs.try_recv().is_err(),
        "exactly one server protocol was made"
    );
    ok.abort();
    server.close();
}

/// Optional client certificates: clients with and without one are accepted.
#[tokio::test]
async fn optional_client_certificate() {
    init_tracing();
    let pki = Pki::new();
    let tls = ServerTls::builder(pki.cert("server"), pki.key("server"))
        .optional_client_ca(pki.ca())
        .build()
        .unwrap();
    let (server, addr) = tls_echo_server(tls).await;
    let (_, without) = try_connect(addr.port(), "localhost", pki.client_tls()).await;
    let without = without.expect("no certificate is fine");
    let with_cert = ClientTls::builder()
        .ca_file(pki.ca())
        .client_cert(pki.cert("client"), pki.key("client"))
        .build()
        .unwrap();
    let (_, with) = try_connect(addr.port(), "localhost", with_cert).await;
    let with = with.expect("a certificate is fine");
    with_timeout(async {
        while server.connection_count() < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let mut chains: Vec<usize> = server
        .connections()
        .iter()
        .map(|t| t.tls().unwrap().peer_certificates.len())
        .collect();
    chains.sort();
    assert_eq!(chains, [0, 1]);
    without.abort();
    with.abort();
    server.close();
}

/// T28: a server certificate from a CA the client does not trust fails the
/// handshake; the client protocol is never made.
#[tokio::test]
async fn unknown_ca_is_rejected() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr, mut logs) =
        tls_recording_server(pki.server_tls("other-server"), Events::new).await;
    let (log, outcome) = try_connect(addr.port(), "localhost", pki.client_tls()).await;
    let err = outcome.expect_err("unknown issuer");
    assert_eq!(
        *certificate_error(&err),
        rustls::CertificateError::UnknownIssuer
    );
    assert!(log.events().is_empty());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(logs.try_recv().is_err(), "no server protocol either");
    server.close();
}

/// T28: the right CA but the wrong name fails the handshake.
#[tokio::test]
async fn hostname_mismatch_is_rejected() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr) = tls_echo_server(pki.server_tls("wrong-host")).await;
    let (log, outcome) = try_connect(addr.port(), "localhost", pki.client_tls()).await;
    let err = outcome.expect_err("name mismatch");
    assert!(
        matches!(
            certificate_error(&err),
            rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. }
        ),
        "{err:?}"
    );
    assert!(log.events().is_empty());

    // The server certificate names localhost but not 127.0.0.2... it does name
    // 127.0.0.1, so connecting by IP with no override works.
    let (server2, addr2) = tls_echo_server(pki.server_tls("server")).await;
    let (_, by_ip) = try_connect(addr2.port(), "127.0.0.1", pki.client_tls()).await;
    by_ip.expect("127.0.0.1 is in the certificate").abort();
    // ...and an override that the certificate does not name fails.
    let mut tls = pki.client_tls();
    tls.server_name("elsewhere.example").unwrap();
    let (_, outcome) = try_connect(addr2.port(), "127.0.0.1", tls).await;
    certificate_error(&outcome.expect_err("override checked"));
    server.close();
    server2.close();
}

/// An expired server certificate fails the handshake.
#[tokio::test]
async fn expired_certificate_is_rejected() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr) = tls_echo_server(pki.server_tls("expired")).await;
    let (log, outcome) = try_connect(addr.port(), "localhost", pki.client_tls()).await;
    let err = outcome.expect_err("expired");
    assert!(
        matches!(
            certificate_error(&err),
            rustls::CertificateError::Expired | rustls::CertificateError::ExpiredContext { .. }
        ),
        "{err:?}"
    );
    assert!(log.events().is_empty());
    server.close();
}

/// SNI-based selection: the certificate for the name the client sends, the
/// default one otherwise.
#[tokio::test]
async fn sni_selects_the_certificate() {
    init_tracing();
    let pki = Pki::new();
    let tls = ServerTls::builder(pki.cert("server"), pki.key("server"))
        .sni_cert("alt.example", pki.cert("sni-alt"), pki.key("sni-alt"))
        .build()
        .unwrap();
    let (server, addr) = tls_echo_server(tls).await;
    let mut alt = pki.client_tls();
    alt.server_name("alt.example").unwrap();
    let (_, t) = try_connect(addr.port(), "127.0.0.1", alt).await;
    let t = t.expect("the alt.example certificate was served");
    assert_eq!(t.tls().unwrap().server_name.as_deref(), Some("alt.example"));
    t.abort();
    let (_, t) = try_connect(addr.port(), "localhost", pki.client_tls()).await;
    t.expect("the default certificate for localhost").abort();
    server.close();
}

/// Reloading: new connections get the files as they are now; open ones go on.
#[tokio::test]
async fn reload_certificate_without_restart() {
    init_tracing();
    let pki = Pki::new();
    // Serve from copies we can overwrite.
    let cert = pki.dir().join("live.pem");
    let key = pki.dir().join("live.key");
    std::fs::copy(pki.cert("server"), &cert).unwrap();
    std::fs::copy(pki.key("server"), &key).unwrap();
    let tls = ServerTls::from_pem(&cert, &key).unwrap();
    let (server, addr) = tls_echo_server(tls.clone()).await;
    let (log, first) = try_connect(addr.port(), "localhost", pki.client_tls()).await;
    let first = first.expect("the original certificate");

    std::fs::copy(pki.cert("expired"), &cert).unwrap();
    std::fs::copy(pki.key("expired"), &key).unwrap();
    tls.reload().unwrap();
    let (_, second) = try_connect(addr.port(), "localhost", pki.client_tls()).await;
    certificate_error(&second.expect_err("the reloaded (expired) certificate"));

    first.write("still here");
    log.wait_data(10).await;

    // A reload that fails keeps the current settings.
    std::fs::write(&key, "not a key").unwrap();
    assert!(tls.reload().is_err());
    // set_config swaps in any rustls config.
    tls.set_config(pki.raw_server_config("server"));
    let (_, third) = try_connect(addr.port(), "localhost", pki.client_tls()).await;
    third.expect("back to a good certificate").abort();
    assert!(
        ServerTls::from_config(pki.raw_server_config("server"))
            .reload()
            .is_err(),
        "nothing to reload from"
    );
    first.abort();
    server.close();
}

/// Settings built from rustls configs work as they are.
#[tokio::test]
async fn settings_from_rustls_configs() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr) =
        tls_echo_server(ServerTls::from_config(pki.raw_server_config("server"))).await;
    let (log, t) = try_connect(
        addr.port(),
        "localhost",
        ClientTls::from_config(pki.raw_client_config()),
    )
    .await;
    let t = t.unwrap();
    t.write("cfg");
    log.wait_data(3).await;
    t.close();
    assert!(log.wait_lost().await.is_none());
    server.close();
}

/// T29: a zero timeout is refused like asyncio's "a positive number"; bad files
/// give clear errors, not panics.
#[tokio::test]
async fn bad_settings_are_errors() {
    let pki = Pki::new();
    let mut server = pki.server_tls("server");
    let err = server.handshake_timeout(Duration::ZERO).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)) && err.to_string().contains("positive"));
    assert!(server.shutdown_timeout(Duration::ZERO).is_err());
    assert!(server.handshake_timeout(Duration::from_millis(300)).is_ok());
    let mut client = pki.client_tls();
    assert!(client.handshake_timeout(Duration::ZERO).is_err());
    assert!(client.shutdown_timeout(Duration::ZERO).is_err());
    assert!(client.server_name("not a name!").is_err());

    let missing =
        ServerTls::from_pem(pki.dir().join("missing.pem"), pki.key("server")).unwrap_err();
    assert_eq!(
        missing.io_kind(),
        Some(std::io::ErrorKind::NotFound),
        "{missing}"
    );
    let mismatch = ServerTls::from_pem(pki.cert("server"), pki.key("client")).unwrap_err();
    assert!(matches!(mismatch, Error::InvalidArgument(_)), "{mismatch}");
    let no_cert = ServerTls::from_pem(pki.key("server"), pki.key("server")).unwrap_err();
    assert!(matches!(no_cert, Error::InvalidArgument(_)), "{no_cert}");
    let no_ca = ClientTls::builder().build().unwrap_err();
    assert!(matches!(no_ca, Error::InvalidArgument(_)), "{no_ca}");
    let bad_ca = ClientTls::from_ca_file(pki.key("ca")).unwrap_err();
    assert!(matches!(bad_ca, Error::InvalidArgument(_)), "{bad_ca}");
}
