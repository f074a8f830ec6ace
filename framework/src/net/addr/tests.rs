use std::io;

use super::*;

#[test]
fn raw_os_error_is_found_through_added_context() {
    // What server/connect binding errors look like: the errno wrapped with the address.
    let addr: std::net::SocketAddr = "127.0.0.1:80".parse().unwrap();
    let err = bind_error(io::Error::from_raw_os_error(libc_eaddrinuse()), addr);
    assert_eq!(err.raw_os_error(), Some(libc_eaddrinuse()));
    assert_eq!(err.io_kind(), Some(io::ErrorKind::AddrInUse));
    assert!(err.to_string().contains("127.0.0.1:80"), "{err}");
    assert_eq!(
        Error::from(io::Error::other("no errno")).raw_os_error(),
        None
    );
}

fn libc_eaddrinuse() -> i32 {
    nix::errno::Errno::EADDRINUSE as i32
}
