use std::time::Duration;

use super::*;

#[test]
fn zero_timeouts_are_refused_like_asyncio() {
    let err = check_timeout("ssl_handshake_timeout", Duration::ZERO).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    assert!(err.to_string().contains("positive number"), "{err}");
    assert_eq!(
        check_timeout("ssl_shutdown_timeout", Duration::from_millis(1)).unwrap(),
        Duration::from_millis(1)
    );
}

#[test]
fn server_names_default_to_the_host() {
    let tls = ClientTls::from_config(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth(),
    );
    assert_eq!(
        tls.name_for("localhost").unwrap(),
        ServerName::try_from("localhost").unwrap()
    );
    // Bracketed IPv6 literals are accepted as the IP address.
    assert!(matches!(
        tls.name_for("[::1]").unwrap(),
        ServerName::IpAddress(_)
    ));
    assert!(tls.name_for("bad name!").is_err());
    let mut tls = tls;
    tls.server_name("example.test").unwrap();
    assert_eq!(
        tls.name_for("127.0.0.1").unwrap(),
        ServerName::try_from("example.test").unwrap()
    );
}

#[test]
fn builders_report_missing_files_with_their_path() {
    let err = ServerTls::from_pem("/nonexistent/cert.pem", "/nonexistent/key.pem").unwrap_err();
    assert_eq!(err.io_kind(), Some(io::ErrorKind::NotFound));
    assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
    let err = ClientTls::builder().build().unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
}

#[test]
fn alpn_lists_copy_every_protocol() {
    assert_eq!(
        alpn_list(["h2", "http/1.1"]),
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    assert!(alpn_list(Vec::<&[u8]>::new()).is_empty());
}
