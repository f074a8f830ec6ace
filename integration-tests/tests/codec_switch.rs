//! `FrameSink::switch_protocol` over TCP: a line protocol hands the
//! connection to a raw protocol after `UPGRADE`, and the bytes that came with
//! that line, in the same write or byte by byte, reach the new protocol
//! exactly, followed by the EOF and `connection_lost`.

mod support;

use std::sync::Arc;

use aioproto::{CodecProtocol, FrameHandler, FrameSink, ServerOptions, create_server};
use support::{Events, Log, read_to_eof, with_timeout};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::LinesCodec;

/// Answers `OK` to `UPGRADE`, then hands the connection to an [`Events`]
/// that echoes raw bytes.
struct Upgrade {
    log: Arc<Log>,
    lines: mpsc::UnboundedSender<String>,
}

impl FrameHandler<LinesCodec> for Upgrade {
    fn frame_received(
        &mut self,
        line: String,
        sink: &mut FrameSink<'_, LinesCodec>,
    ) -> aioproto::Result<()> {
        let _ = self.lines.send(line.clone());
        if line == "UPGRADE" {
            sink.send("OK")?;
            let echo = Events::new(&self.log).on_data(|t, data| t.write(data.clone()));
            sink.switch_protocol(echo);
        }
        Ok(())
    }
}

async fn upgrade_server() -> (
    aioproto::Server,
    u16,
    mpsc::UnboundedReceiver<Arc<Log>>,
    mpsc::UnboundedReceiver<String>,
) {
    let (logs_tx, logs) = mpsc::unbounded_channel();
    let (lines_tx, lines) = mpsc::unbounded_channel();
    let factory = move || {
        let log = Log::new();
        let _ = logs_tx.send(log.clone());
        CodecProtocol::new(
            LinesCodec::new_with_max_length(1024),
            Upgrade {
                log,
                lines: lines_tx.clone(),
            },
        )
    };
    let server = create_server(factory, "127.0.0.1", 0, &ServerOptions::new())
        .await
        .unwrap();
    let port = server.local_addrs()[0].port();
    (server, port, logs, lines)
}

/// Raw bytes after the switch: not lines, a NUL, invalid UTF-8, a newline.
const RAW: &[u8] = b"raw \x00\xff\xfe bytes\nno line codec here";

async fn check_switch(chunks: Vec<Vec<u8>>) {
    let (server, port, mut logs, mut lines) = upgrade_server().await;
    let mut client = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    client.set_nodelay(true).unwrap();
    for chunk in chunks {
        with_timeout(client.write_all(&chunk)).await.unwrap();
    }
    client.shutdown().await.unwrap();
    let echoed = read_to_eof(&mut client).await;
    assert_eq!(echoed, [b"OK\n".as_slice(), RAW].concat());

    let log = with_timeout(logs.recv()).await.unwrap();
    assert!(with_timeout(log.wait_lost()).await.is_none());
    assert_eq!(log.data(), RAW);
    assert_eq!(log.trace(), ["cm", "dr", "eof", "cl(None)"]);
    assert_eq!(with_timeout(lines.recv()).await.unwrap(), "hello");
    assert_eq!(with_timeout(lines.recv()).await.unwrap(), "UPGRADE");
    server.close();
    with_timeout(server.wait_closed()).await;
    assert!(
        lines.try_recv().is_err(),
        "no line decoded after the switch"
    );
}

#[tokio::test]
async fn upgrade_line_and_raw_bytes_in_one_write() {
    let input = [b"hello\nUPGRADE\n".as_slice(), RAW].concat();
    check_switch(vec![input]).await;
}

#[tokio::test]
async fn upgrade_line_and_raw_bytes_byte_by_byte() {
    let input = [b"hello\nUPGRADE\n".as_slice(), RAW].concat();
    check_switch(input.into_iter().map(|b| vec![b]).collect()).await;
}
