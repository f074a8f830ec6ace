//! [`TlsInfo`]: the TLS facts of a connection, part of its [`ExtraInfo`](crate::ExtraInfo).
//!
//! A plain record, so the transport layer can carry it without knowing about
//! handshakes; `net/tls` fills it in.

use rustls::pki_types::CertificateDer;

/// What a TLS handshake established: asyncio's `peercert`, `cipher`,
/// `selected_alpn_protocol()` and `server_hostname`, from
/// [`ExtraInfo::tls`](crate::ExtraInfo::tls) or [`Transport::tls`](crate::Transport::tls).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The peer's certificate chain, end-entity first (DER). Empty when the
    /// peer sent none (a client without a certificate).
    pub peer_certificates: Vec<CertificateDer<'static>>,
    /// The negotiated protocol version (TLS 1.2 or 1.3).
    pub protocol_version: rustls::ProtocolVersion,
    /// The negotiated cipher suite.
    pub cipher_suite: rustls::CipherSuite,
    /// The ALPN protocol both sides agreed on, if any.
    pub alpn_protocol: Option<Vec<u8>>,
    /// The SNI server name: on a server, the one the client sent; on a client,
    /// the name it connected to (a DNS name or an IP address as text).
    pub server_name: Option<String>,
}

impl TlsInfo {
    pub(crate) fn from_state(state: &rustls::CommonState, server_name: Option<String>) -> TlsInfo {
        TlsInfo {
            peer_certificates: state
                .peer_certificates()
                .map(|chain| chain.iter().map(|c| c.clone().into_owned()).collect())
                .unwrap_or_default(),
            protocol_version: state
                .protocol_version()
                .unwrap_or(rustls::ProtocolVersion::Unknown(0)),
            cipher_suite: state
                .negotiated_cipher_suite()
                .map_or(rustls::CipherSuite::Unknown(0), |s| s.suite()),
            alpn_protocol: state.alpn_protocol().map(<[u8]>::to_vec),
            server_name,
        }
    }

    /// The peer's end-entity certificate, asyncio's `getpeercert(binary_form=True)`.
    pub fn peer_certificate(&self) -> Option<&CertificateDer<'static>> {
        self.peer_certificates.first()
    }

    /// The ALPN protocol as text, if it is UTF-8.
    pub fn alpn_protocol_str(&self) -> Option<&str> {
        self.alpn_protocol
            .as_deref()
            .and_then(|p| std::str::from_utf8(p).ok())
    }
}
