//! The `kv_server` binary over real sockets, in both of its forms: the
//! default `CodecProtocol` with `LinesCodec`, and `--async` (`AsyncAdapter`).

mod support;

use support::{LineClient, start_server};

async fn commands_work_and_the_store_is_shared(args: &[&str]) {
    let server = start_server(env!("CARGO_BIN_EXE_kv_server"), args).await;
    let mut a = LineClient::connect(server.addr).await;
    let mut b = LineClient::connect(server.addr).await;
    assert_eq!(a.ask("GET greeting").await, "NOT_FOUND");
    assert_eq!(a.ask("SET greeting hello, world").await, "OK");
    assert_eq!(a.ask("GET greeting").await, "VALUE hello, world");
    // Another client sees the same store; \r\n works too.
    assert_eq!(b.ask("GET greeting\r").await, "VALUE hello, world");
    assert_eq!(b.ask("SET greeting again").await, "OK");
    assert_eq!(a.ask("GET greeting").await, "VALUE again");
    assert_eq!(a.ask("DEL greeting").await, "DELETED");
    assert_eq!(b.ask("DEL greeting").await, "NOT_FOUND");
    // Several commands in one write: one reply each, in order.
    a.send("SET x 1\nSET y 2\nGET x\nGET y\n").await;
    for want in ["OK", "OK", "VALUE 1", "VALUE 2"] {
        assert_eq!(a.line().await.as_deref(), Some(want));
    }
    // Mistakes get an error line and the connection stays.
    assert_eq!(a.ask("SET lonely").await, "ERROR usage: SET KEY VALUE");
    assert_eq!(a.ask("GET").await, "ERROR usage: GET KEY");
    assert_eq!(
        a.ask("FROB x").await,
        "ERROR unknown command (SET, GET, DEL, QUIT)"
    );
    assert_eq!(a.ask("").await, "ERROR empty command");
    assert_eq!(a.ask("GET x").await, "VALUE 1");
    // QUIT: BYE, then the server closes.
    assert_eq!(a.ask("QUIT").await, "BYE");
    assert_eq!(a.line().await, None);
    // A line over 64 KiB closes that connection only.
    b.send(&"SET big ".repeat(10_000)).await;
    b.send("\n").await;
    assert_eq!(b.line().await, None);
    let mut c = LineClient::connect(server.addr).await;
    assert_eq!(c.ask("GET y").await, "VALUE 2");
    drop(c);
    server.stop().await;
}

#[tokio::test]
async fn codec_protocol_server() {
    commands_work_and_the_store_is_shared(&["--port", "0"]).await;
}

#[tokio::test]
async fn async_adapter_server() {
    commands_work_and_the_store_is_shared(&["--port", "0", "--async"]).await;
}
