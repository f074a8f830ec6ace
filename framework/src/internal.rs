//! Test hooks. **Not part of the stable API**: anything here may change or
//! go away in any release, and nothing here is needed to use the crate.

use crate::ServerOptions;

/// Makes a server with [`ServerOptions::workers`] serve through one acceptor
/// that hands each connection to the next worker in turn, the path used
/// where `SO_REUSEPORT` is not available (and for sockets handed in), even
/// where it is; so that path is tested on Linux too.
///
/// # Examples
///
/// ```
/// let mut options = aioproto::ServerOptions::new();
/// options.workers(2);
/// aioproto::internal::force_handoff(&mut options);
/// ```
pub fn force_handoff(options: &mut ServerOptions) {
    options.force_handoff = true;
}
