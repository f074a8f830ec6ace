//! Integration tests for aioproto live in `tests/`; this crate has no library code.
