//! The one panic guard: user code (protocol callbacks, done-callbacks, loop
//! callbacks, task bodies) runs inside it, so a panic becomes an
//! [`Error::CallbackPanicked`] for the part it broke and nothing else.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::Error;

/// Runs `f`; a panic inside it becomes [`Error::CallbackPanicked`] naming `callback`.
///
/// `AssertUnwindSafe` is sound here in the sense that matters: whoever called
/// us ends (or reports) the unit of work that panicked and does not look at
/// its half-updated state again, except through [`lock`](super::lock()), which
/// is made for that.
#[inline]
pub(crate) fn catch_panic<R>(callback: &'static str, f: impl FnOnce() -> R) -> Result<R, Error> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panicked(callback, payload.as_ref()))
}

/// The error for a panic with `payload` in `callback`.
#[cold]
fn panicked(callback: &'static str, payload: &(dyn Any + Send)) -> Error {
    Error::CallbackPanicked {
        callback,
        message: panic_message(payload),
    }
}

/// The text of a panic payload (`panic!("…")` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Runs a future, turning a panic in its `poll` into [`Error::CallbackPanicked`].
pub(crate) struct CatchUnwind<F> {
    future: Pin<Box<F>>,
    callback: &'static str,
}

impl<F: Future> CatchUnwind<F> {
    /// Guards `future`; a panic is reported as one in `callback`.
    pub(crate) fn new(callback: &'static str, future: F) -> Self {
        CatchUnwind {
            future: Box::pin(future),
            callback,
        }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let callback = self.callback;
        let future = self.future.as_mut();
        match catch_panic(callback, || future.poll(cx)) {
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(err) => Poll::Ready(Err(err)),
        }
    }
}
