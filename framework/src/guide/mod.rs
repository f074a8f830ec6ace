//! The aioproto guide: asyncio tutorials, translated chapter by chapter.
//!
//! Each chapter puts the asyncio code next to the aioproto code and ends with a
//! runnable example (every example here is a doctest that `make test` runs).
//!
//! This module holds documentation only.
//!
//! Chapters 7 (TLS), 8b (Unix sockets) and 9 (pipes and subprocesses) need the
//! `tls`, `unix` and `process` features, and exist only when those are on, like
//! the API they teach. To read every chapter, build the docs with every feature:
//! `cargo doc --no-deps --all-features --open` (docs.rs does this too).

pub mod ch01_event_loop_and_futures;
pub mod ch02_tasks_and_gather;
pub mod ch03_blocking_code;
pub mod ch04_first_protocol;
pub mod ch05_client;
pub mod ch06_flow_control;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod ch07_tls;
pub mod ch08_udp;
#[cfg(feature = "unix")]
#[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
pub mod ch08b_unix_sockets;
#[cfg(feature = "process")]
#[cfg_attr(docsrs, doc(cfg(feature = "process")))]
pub mod ch09_pipes_and_subprocesses;
pub mod ch10_streams;
pub mod ch11_testing;
