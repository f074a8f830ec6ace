//! The one way this crate locks a `std::sync::Mutex`.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, going on past poisoning.
///
/// The crate never holds a lock while user code runs, except a protocol's own
/// mutex during its callback, and every callback runs under
/// [`catch_panic`](super::catch_panic()). A poisoned lock therefore means a panic in user code
/// whose state is still whole field by field, or in a protocol whose
/// `connection_lost` must still run. Either way the right move is to carry on.
#[inline]
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
