use std::io;

use super::*;

#[test]
fn messages_are_lower_case_without_trailing_period() {
    let errors = [
        Error::from(io::ErrorKind::ConnectionReset),
        Error::CallbackPanicked {
            callback: "data_received",
            message: "boom".into(),
        },
        Error::invalid_argument("high must be >= low"),
        Error::Timeout("SSL shutdown timed out"),
        Error::Cancelled(Some("stop".into())),
        Error::Closed("transport"),
        Error::WriteBufferFull { limit: 10 },
    ];
    for err in errors {
        let text = err.to_string();
        assert!(!text.ends_with('.'), "{text}");
    }
}

#[test]
fn multiple_errors_lists_each() {
    let err = Error::MultipleErrors(vec![Error::Closed("a"), Error::Closed("b")]);
    assert_eq!(
        err.to_string(),
        "multiple exceptions: a is closed, b is closed"
    );
}

#[test]
fn predicates() {
    assert!(Error::from(io::ErrorKind::BrokenPipe).is_closed());
    assert!(Error::Timeout("x").is_timeout());
    assert!(Error::from(io::ErrorKind::TimedOut).is_timeout());
    assert!(Error::Cancelled(None).is_cancelled());
    assert_eq!(Error::Cancelled(None).to_string(), "cancelled");
    assert_eq!(
        Error::Cancelled(Some("m".into())).to_string(),
        "cancelled: m"
    );
    assert!(
        Error::CallbackPanicked {
            callback: "x",
            message: String::new()
        }
        .is_panic()
    );
}

#[test]
fn into_io_keeps_kind() {
    let err = Error::from(io::ErrorKind::ConnectionReset).into_io();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(
        Error::Timeout("t").into_io().kind(),
        io::ErrorKind::TimedOut
    );
}

#[test]
fn debug_is_the_variant_around_the_display_chain() {
    let bind = crate::net::addr::bind_error(
        io::Error::from(io::ErrorKind::AddrInUse),
        "127.0.0.1:8080".parse().unwrap(),
    );
    let shown = format!("{bind:?}");
    assert_eq!(shown, format!("Io({bind})"));
    assert!(shown.starts_with("Io(error while attempting to bind on address 127.0.0.1:8080: "));
    assert_eq!(shown.matches("address in use").count(), 1, "{shown}");
    assert!(format!("{bind:#?}").starts_with("Io("));
    assert_eq!(
        format!("{:?}", Error::QueueFull),
        "QueueFull(queue is full)"
    );
    assert_eq!(format!("{:#?}", Error::QueueFull), "QueueFull");
}

#[test]
fn other_errors_show_their_causes_once() {
    #[derive(Debug)]
    struct Outer(io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("loading state")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    let err = Error::other(Outer(io::Error::other("no such table")));
    assert_eq!(err.to_string(), "loading state: no such table");
    assert_eq!(format!("{err:?}"), "Other(loading state: no such table)");
}

#[test]
fn an_interrupted_sendfile_says_how_far_it_got_and_why() {
    let err = Error::SendfileInterrupted {
        sent: 4096,
        source: Box::new(Error::Closed("transport")),
    };
    assert_eq!(
        err.to_string(),
        "sendfile stopped after 4096 bytes: transport is closed"
    );
    assert_eq!(
        format!("{err:?}"),
        "SendfileInterrupted(sendfile stopped after 4096 bytes: transport is closed)"
    );
    assert!(err.is_closed(), "a close stopped it");
    let reset = Error::SendfileInterrupted {
        sent: 1,
        source: Box::new(io::Error::from(io::ErrorKind::ConnectionReset).into()),
    };
    assert!(reset.is_closed(), "a reset stopped it");
    let read = Error::SendfileInterrupted {
        sent: 1,
        source: Box::new(io::Error::other("disk on fire").into()),
    };
    assert!(!read.is_closed(), "a read error is not a close");
    assert_eq!(
        Error::SendfileNotAvailable("the transport's stream is not a plain socket").to_string(),
        "sendfile is not available: the transport's stream is not a plain socket"
    );
}
