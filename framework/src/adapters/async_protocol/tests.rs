use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::testing::TestConnection;

#[derive(Default)]
struct Slow {
    transport: Option<Transport>,
    log: Arc<Mutex<Vec<String>>>,
    keep_open: bool,
}

#[async_trait]
impl AsyncProtocol for Slow {
    async fn connection_made(&mut self, transport: &Transport) {
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.transport = Some(transport.clone());
        self.log.lock().unwrap().push("made".into());
    }
    async fn data_received(&mut self, data: Bytes) {
        let t = self.transport.clone().unwrap();
        assert!(!t.is_reading(), "reading is paused while a callback runs");
        if data.as_ref() == b"panic" {
            panic!("asked to");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        t.write(data.clone());
        self.log
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&data).into_owned());
    }
    async fn eof_received(&mut self) -> bool {
        self.log.lock().unwrap().push("eof".into());
        self.keep_open
    }
    async fn connection_lost(&mut self, exc: Option<Error>) {
        self.log.lock().unwrap().push(format!(
            "lost {}",
            exc.map(|e| e.to_string()).unwrap_or_default()
        ));
    }
}

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), f)
        .await
        .expect("timed out")
}

#[tokio::test]
async fn pipelined_input_keeps_order() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (conn, _) = TestConnection::start(AsyncAdapter::new(Slow {
        log: log.clone(),
        ..Slow::default()
    }));
    let parts: Vec<String> = (0..50).map(|i| format!("<{i}>")).collect();
    for p in &parts {
        conn.feed(p.clone());
    }
    conn.feed_eof();
    bounded(conn.wait_closed()).await;
    let log = log.lock().unwrap().clone();
    let mut expected = vec!["made".to_owned()];
    expected.extend(parts.iter().cloned());
    expected.push("eof".into());
    expected.push("lost ".into());
    assert_eq!(log, expected);
    assert_eq!(conn.written(), parts.concat());
}

#[tokio::test]
async fn eof_true_keeps_write_side_open() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (conn, _) = TestConnection::start(AsyncAdapter::new(Slow {
        log: log.clone(),
        keep_open: true,
        ..Slow::default()
    }));
    conn.feed("x");
    conn.feed_eof();
    bounded(async {
        while log.lock().unwrap().last().map(String::as_str) != Some("eof") {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    conn.settle().await;
    assert!(!conn.is_closed());
    conn.transport().close();
    bounded(conn.wait_closed()).await;
    assert_eq!(log.lock().unwrap().last().unwrap(), "lost ");
}

#[tokio::test]
async fn panic_in_async_callback_reaches_connection_lost() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (conn, _) = TestConnection::start(AsyncAdapter::new(Slow {
        log: log.clone(),
        ..Slow::default()
    }));
    conn.feed("one");
    conn.settle().await;
    conn.feed("panic");
    conn.feed("never");
    bounded(conn.wait_closed()).await;
    bounded(async {
        while !log
            .lock()
            .unwrap()
            .last()
            .is_some_and(|l| l.starts_with("lost"))
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    let log = log.lock().unwrap().clone();
    assert_eq!(log[..2], ["made", "one"]);
    assert!(
        log[2].contains("data_received") && log[2].contains("asked to"),
        "{log:?}"
    );
    assert_eq!(log.len(), 3);
}
