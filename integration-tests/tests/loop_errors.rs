//! What an `aioproto::Error` prints: `fn main() -> aioproto::Result<()>` shows
//! the variant around the message chain (Debug), not nested internals.

use aioproto::{ServerOptions, create_server};

#[derive(Default)]
struct Quiet;
impl aioproto::BaseProtocol for Quiet {}
impl aioproto::Protocol for Quiet {}

#[tokio::test(flavor = "current_thread")]
async fn address_in_use_prints_the_variant_and_message_chain() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = create_server(Quiet::default, "127.0.0.1", port, &ServerOptions::new())
        .await
        .unwrap_err();
    // What `fn main() -> aioproto::Result<()>` prints after "Error: ".
    let shown = format!("{err:?}");
    assert_eq!(shown, format!("Io({err})"));
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "error while attempting to bind on address 127.0.0.1:{port}: "
        )),
        "{text}"
    );
    assert!(!shown.contains("Custom {"), "{shown}");
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::AddrInUse));
    // The variant view stays available.
    assert!(format!("{err:#?}").starts_with("Io("));
}
