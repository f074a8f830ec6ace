//! T25: Unix server socket-file handling (stale files, cleanup on close).

mod support;

use std::io::ErrorKind;
use std::time::Duration;

use aioproto::{
    BaseProtocol, Protocol, Server, ServerOptions, Transport, create_unix_connection,
    create_unix_server, create_unix_server_from_std,
};

use support::TempDir;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Writes "hi" to each connection and closes it.
#[derive(Debug)]
struct Hi;

impl BaseProtocol for Hi {
    fn connection_made(&mut self, transport: &Transport) {
        transport.write("hi");
        transport.close();
    }
}

impl Protocol for Hi {}

/// Collects what the server sends.
#[derive(Debug, Default)]
struct Sink(Vec<u8>, Option<tokio::sync::oneshot::Sender<Vec<u8>>>);

impl BaseProtocol for Sink {
    fn connection_lost(&mut self, _exc: Option<aioproto::Error>) {
        if let Some(tx) = self.1.take() {
            let _ = tx.send(std::mem::take(&mut self.0));
        }
    }
}

impl Protocol for Sink {
    fn data_received(&mut self, data: bytes::Bytes) {
        self.0.extend_from_slice(&data);
    }
}

/// Connects with aioproto and returns what the server sent before closing.
async fn greeting(path: &std::path::Path) -> Vec<u8> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let _ = create_unix_connection(move || Sink(Vec::new(), Some(tx)), path)
        .await
        .unwrap();
    tokio::time::timeout(TIMEOUT, rx).await.unwrap().unwrap()
}

async fn close(server: &Server) {
    server.close();
    tokio::time::timeout(TIMEOUT, server.wait_closed())
        .await
        .unwrap();
}

/// A stale socket file (bound, then closed) is replaced silently.
#[tokio::test]
async fn stale_socket_file_is_replaced() {
    let dir = TempDir::new("cleanup-stale");
    let path = dir.path("s.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let server = create_unix_server(|| Hi, &path, &ServerOptions::new())
        .await
        .unwrap();
    assert_eq!(greeting(&path).await, b"hi");
    close(&server).await;
    assert!(!path.exists());
}

/// A regular file at the path is "already in use" and left alone.
#[tokio::test]
async fn regular_file_is_address_in_use() {
    let dir = TempDir::new("cleanup-regular");
    let path = dir.path("not-a-socket");
    std::fs::write(&path, b"precious").unwrap();
    let err = create_unix_server(|| Hi, &path, &ServerOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.io_kind(), Some(ErrorKind::AddrInUse));
    let text = err.to_string();
    assert!(
        text.starts_with("Address") && text.contains("is already in use"),
        "{text}"
    );
    assert!(text.contains("not-a-socket"), "{text}");
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
}

/// `close()` unlinks the path, for a server made from a path...
#[tokio::test]
async fn close_removes_the_socket_file() {
    let dir = TempDir::new("cleanup-addr");
    let path = dir.path("s.sock");
    let server = create_unix_server(|| Hi, &path, &ServerOptions::new())
        .await
        .unwrap();
    assert!(path.exists());
    server.close();
    // Removed by the time close() returns, before wait_closed.
    assert!(!path.exists());
    assert!(server.local_paths().is_empty());
    server.close(); // idempotent
    tokio::time::timeout(TIMEOUT, server.wait_closed())
        .await
        .unwrap();
}

/// ...and for a passed-in bound socket.
#[tokio::test]
async fn close_removes_the_file_of_a_passed_in_socket() {
    let dir = TempDir::new("cleanup-sock");
    let path = dir.path("s.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let server = create_unix_server_from_std(|| Hi, listener, &ServerOptions::new()).unwrap();
    assert_eq!(greeting(&path).await, b"hi");
    close(&server).await;
    assert!(!path.exists());
}

/// A file that replaced the socket (different inode) is left in place.
#[tokio::test]
async fn replaced_file_is_left_in_place() {
    let dir = TempDir::new("cleanup-replaced");
    let path = dir.path("s.sock");
    let server = create_unix_server(|| Hi, &path, &ServerOptions::new())
        .await
        .unwrap();
    // Keep the original under another name so the new file gets another inode.
    std::fs::rename(&path, dir.path("moved.sock")).unwrap();
    std::fs::write(&path, b"someone else's").unwrap();
    close(&server).await;
    assert_eq!(std::fs::read(&path).unwrap(), b"someone else's");
}

/// `cleanup_socket(false)` leaves the file.
#[tokio::test]
async fn cleanup_can_be_turned_off() {
    let dir = TempDir::new("cleanup-prevented");
    let path = dir.path("s.sock");
    let mut options = ServerOptions::new();
    options.cleanup_socket(false);
    let server = create_unix_server(|| Hi, &path, &options).await.unwrap();
    close(&server).await;
    assert!(path.exists());
}

/// If the file is already gone, `close()` does not fail.
#[tokio::test]
async fn file_already_gone_is_fine() {
    let dir = TempDir::new("cleanup-gone");
    let path = dir.path("s.sock");
    let server = create_unix_server(|| Hi, &path, &ServerOptions::new())
        .await
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    close(&server).await;
    assert!(!path.exists());
}

/// `start_serving(false)` binds without listening; `start_serving()` starts.
#[tokio::test]
async fn start_serving_later() {
    let dir = TempDir::new("cleanup-later");
    let path = dir.path("s.sock");
    let mut options = ServerOptions::new();
    options.start_serving(false);
    let server = create_unix_server(|| Hi, &path, &options).await.unwrap();
    assert!(!server.is_serving());
    assert_eq!(server.local_paths(), std::slice::from_ref(&path));
    let refused = tokio::net::UnixStream::connect(&path).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    server.start_serving().unwrap();
    assert!(server.is_serving());
    assert_eq!(greeting(&path).await, b"hi");
    close(&server).await;
    assert!(!path.exists());
}
