//! The codec adaptor over TCP: a line round trip and a decoder error.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aioproto::{
    CodecProtocol, Error, FrameHandler, FrameSink, ServerOptions, create_server, open_connection,
};
use tokio_util::codec::LinesCodec;

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("timed out")
}

struct Reverse {
    lost: Arc<Mutex<Vec<Option<String>>>>,
}

impl FrameHandler<LinesCodec> for Reverse {
    fn frame_received(
        &mut self,
        line: String,
        sink: &mut FrameSink<'_, LinesCodec>,
    ) -> aioproto::Result<()> {
        sink.send(line.chars().rev().collect::<String>())
    }
    fn connection_lost(&mut self, exc: Option<Error>) {
        self.lost.lock().unwrap().push(exc.map(|e| e.to_string()));
    }
}

#[tokio::test]
async fn lines_round_trip_then_decoder_error() {
    let lost = Arc::new(Mutex::new(Vec::new()));
    let factory_lost = lost.clone();
    let server = create_server(
        move || {
            CodecProtocol::new(
                LinesCodec::new_with_max_length(100),
                Reverse {
                    lost: factory_lost.clone(),
                },
            )
        },
        "127.0.0.1",
        0,
        &ServerOptions::new(),
    )
    .await
    .unwrap();
    let port = server.local_addrs()[0].port();

    let (r, w) = open_connection("127.0.0.1", port).await.unwrap();
    let lines: Vec<String> = (0..200).map(|i| format!("line number {i}\n")).collect();
    w.write(lines.concat());
    for i in 0..200 {
        let expected: String = format!("line number {i}").chars().rev().collect();
        assert_eq!(
            bounded(r.readline()).await.unwrap(),
            format!("{expected}\n")
        );
    }
    w.write_eof().unwrap();
    assert_eq!(bounded(r.read_all()).await.unwrap(), "");

    let (r, w) = open_connection("127.0.0.1", port).await.unwrap();
    w.write(format!("ok\n{}\n", "x".repeat(500)));
    assert_eq!(bounded(r.read_all()).await.unwrap(), "ko\n");
    server.close();
    bounded(server.wait_closed()).await;
    let lost = lost.lock().unwrap().clone();
    assert_eq!(lost.len(), 2);
    assert_eq!(lost[0], None);
    assert!(
        lost[1].as_ref().unwrap().contains("max line length"),
        "{lost:?}"
    );
}
