//! [`IntoTaskResult`]: what a task's body may return.
//!
//! asyncio's `create_task` accepts any coroutine, whatever it returns. A Rust
//! task resolves to `Result<T>` (it can always be cancelled), so a body's output
//! is turned into that `Result<T>` by this trait:
//!
//! * `aioproto::Result<T>` is taken as it is: `Ok(v)` finishes the task with `v`,
//!   `Err(e)` fails it with `e`, and `Err(Error::Cancelled(_))` ends it cancelled;
//! * a plain value (`()`, numbers, `String`, `Vec<T>`, `Option<T>`, tuples, …)
//!   always finishes it: `create_task(async { 42 })` is a `Task<i32>`.
//!
//! An unsuffixed number literal gets its type last, after the compiler has
//! had to know the task's value type, so `assert_eq!(create_task(async { 42
//! }).await?, 42)` needs the type said once: `42_i32`, or `let n: i32 =
//! task.await?`.
//!
//! # Why a trait with a list of types, not a blanket impl
//!
//! A blanket `impl<T> IntoTaskResult for T` would overlap with the impl for
//! `Result<T>` (Rust has no specialisation), and a marker-type trick (as used
//! for protocol factories) makes every `async { Ok(x) }` ambiguous. With one
//! impl for `Result<T, Error>` and one per plain type, the compiler still
//! infers the error type of an unannotated `async { sleep(d).await?; Ok(x) }`
//! body, so every body written for the old `Output = Result<T>` bound still
//! compiles.
//!
//! A type of your own: return `Ok(value)`, or implement the trait (three lines).
//! A `Result` with another error type: convert it with `?` or
//! `.map_err(aioproto::Error::other)`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result};

/// The output of a task's body: [`Result<T>`](crate::Result) or a plain value.
///
/// Used by [`create_task`](crate::create_task),
/// [`EventLoop::create_task`](crate::EventLoop::create_task),
/// [`TaskGroup::create_task`](crate::TaskGroup::create_task) and their
/// variants, so that any `async` block can be a task (asyncio accepts any
/// coroutine).
///
/// A blanket `impl<T> IntoTaskResult for T` would overlap with the impl for
/// `Result<T>` (Rust has no specialisation), and a marker-type trick makes
/// every `async { Ok(x) }` ambiguous. With one impl for `Result<T, Error>`
/// and one per plain type, the compiler still infers the error type of an
/// unannotated `async { sleep(d).await?; Ok(x) }` body, so bodies written for
/// a `Result` output keep compiling. For a type of your own, return
/// `Ok(value)` or implement the trait (three lines, below). An unsuffixed
/// number literal gets its type last, so `async { 42 }` needs the type said
/// where the value is used (`let n: i32 = task.await?`) or in the literal.
///
/// # Examples
///
/// Plain values, results and your own types:
///
/// ```
/// use aioproto::{IntoTaskResult, create_task};
///
/// #[derive(Debug, Clone, PartialEq)]
/// struct Point(i32, i32);
///
/// impl IntoTaskResult for Point {
///     type Output = Point;
///     fn into_task_result(self) -> aioproto::Result<Point> {
///         Ok(self)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// assert_eq!(create_task(async { 42_u64 }).await?, 42);
/// assert_eq!(create_task(async { Ok("hi") }).await?, "hi");
/// assert_eq!(create_task(async { Point(1, 2) }).await?, Point(1, 2));
/// # Ok(()) }
/// ```
#[diagnostic::on_unimplemented(
    message = "a task body must return `aioproto::Result<T>` or a plain value, not `{Self}`",
    label = "this future's output cannot be a task result",
    note = "return `Ok::<_, aioproto::Error>(value)`, convert another error type with `?` or `.map_err(aioproto::Error::other)`, or implement `IntoTaskResult` for `{Self}`"
)]
pub trait IntoTaskResult: Send + 'static {
    /// The task's value type: the `T` of [`Task<T>`](crate::Task).
    type Output: Send + 'static;

    /// The task's outcome.
    ///
    /// # Errors
    ///
    /// The error a `Result` body returned.
    fn into_task_result(self) -> Result<Self::Output>;
}

impl<T: Send + 'static> IntoTaskResult for Result<T, Error> {
    type Output = T;
    fn into_task_result(self) -> Result<T> {
        self
    }
}

macro_rules! plain_values {
    ($($t:ty),* $(,)?) => {$(
        impl IntoTaskResult for $t {
            type Output = $t;
            fn into_task_result(self) -> Result<$t> {
                Ok(self)
            }
        }
    )*};
}

plain_values!(
    (),
    bool,
    char,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    f32,
    f64,
    String,
    &'static str,
    bytes::Bytes,
    bytes::BytesMut,
    Duration,
    Instant,
    SystemTime,
    SocketAddr,
    IpAddr,
    Ipv4Addr,
    Ipv6Addr,
    PathBuf,
    std::ffi::OsString,
    std::process::ExitStatus,
);

macro_rules! plain_generic {
    ($($name:ident<$($p:ident),+>),* $(,)?) => {$(
        impl<$($p: Send + 'static),+> IntoTaskResult for $name<$($p),+> {
            type Output = $name<$($p),+>;
            fn into_task_result(self) -> Result<Self> {
                Ok(self)
            }
        }
    )*};
}

plain_generic!(
    Vec<T>,
    VecDeque<T>,
    Option<T>,
    BTreeSet<T>,
    BTreeMap<K, V>,
);

impl<T: Send + ?Sized + 'static> IntoTaskResult for Box<T> {
    type Output = Box<T>;
    fn into_task_result(self) -> Result<Self> {
        Ok(self)
    }
}

impl<T: Send + Sync + ?Sized + 'static> IntoTaskResult for Arc<T> {
    type Output = Arc<T>;
    fn into_task_result(self) -> Result<Self> {
        Ok(self)
    }
}

impl<K: Send + 'static, V: Send + 'static, S: Send + 'static> IntoTaskResult for HashMap<K, V, S> {
    type Output = HashMap<K, V, S>;
    fn into_task_result(self) -> Result<Self> {
        Ok(self)
    }
}

impl<T: Send + 'static, S: Send + 'static> IntoTaskResult for HashSet<T, S> {
    type Output = HashSet<T, S>;
    fn into_task_result(self) -> Result<Self> {
        Ok(self)
    }
}

impl<T: Send + 'static, const N: usize> IntoTaskResult for [T; N] {
    type Output = [T; N];
    fn into_task_result(self) -> Result<Self> {
        Ok(self)
    }
}

macro_rules! plain_tuples {
    ($(($($p:ident),+)),* $(,)?) => {$(
        impl<$($p: Send + 'static),+> IntoTaskResult for ($($p,)+) {
            type Output = ($($p,)+);
            fn into_task_result(self) -> Result<Self> {
                Ok(self)
            }
        }
    )*};
}

plain_tuples!(
    (A),
    (A, B),
    (A, B, C),
    (A, B, C, D),
    (A, B, C, D, E),
    (A, B, C, D, E, F),
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_pass_through_and_values_succeed() {
        assert_eq!(Ok::<_, Error>(3).into_task_result().unwrap(), 3);
        assert!(Err::<(), _>(Error::Closed("x")).into_task_result().is_err());
        assert_eq!(7u8.into_task_result().unwrap(), 7);
        assert_eq!(().into_task_result().unwrap(), ());
        assert_eq!(Some(1).into_task_result().unwrap(), Some(1));
        assert_eq!((1, "a").into_task_result().unwrap(), (1, "a"));
        assert_eq!([1, 2].into_task_result().unwrap(), [1, 2]);
    }
}
