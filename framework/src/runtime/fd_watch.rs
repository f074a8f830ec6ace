//! `add_reader`/`add_writer` and their `remove_*` (asyncio's selector-level
//! API), over file descriptors borrowed through [`AsFd`].
//!
//! # Implementation
//!
//! A watch holds its own duplicate of the descriptor (`dup(2)`), registered
//! with the loop's tokio reactor, and a watcher task on the loop's runtime.
//! Each time the descriptor is ready the task schedules the callback on the
//! loop and waits for it to have run. tokio's reactor is edge-triggered while
//! asyncio's selector is level-triggered; to keep asyncio's "called again
//! while still ready", the duplicate is registered afresh after each call, and
//! the kernel reports a descriptor that is still ready at once.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use crate::error::{Error, Result};
use crate::runtime::event_loop::{EventLoop, ExceptionContext, LoopShared};
use crate::util::lock;

/// A type that owns its file descriptor for its whole life, so registering it
/// with the reactor is sound (see [`register_owned`]).
pub(crate) trait OwnsFd: AsRawFd {}

impl OwnsFd for OwnedFd {}
impl OwnsFd for socket2::Socket {}
impl OwnsFd for std::net::UdpSocket {}
impl OwnsFd for std::os::unix::net::UnixDatagram {}

/// Registers `fd` with the reactor of the runtime the caller is in.
///
/// # Errors
///
/// The registration error (`EPERM` for a regular file, `EEXIST` if the same
/// descriptor is registered already), or `Other` outside a tokio runtime.
pub(crate) fn register_owned<T: OwnsFd>(fd: T, interest: Interest) -> io::Result<AsyncFd<T>> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(io::Error::other("no tokio runtime to register with"));
    }
    // `with_interest` is deprecated because a `T` whose `AsRawFd` may change
    // or close behind the registration is unsound; every `OwnsFd` type owns
    // its descriptor for its whole life, so that cannot happen here.
    #[allow(deprecated)]
    AsyncFd::with_interest(fd, interest)
}

struct Watch {
    task: AbortHandle,
    /// Cleared on removal, so a callback already scheduled does not run.
    active: Arc<AtomicBool>,
}

impl Watch {
    fn stop(self) {
        self.active.store(false, Ordering::Release);
        self.task.abort();
    }
}

/// The loop's readers and writers, by descriptor number.
#[derive(Default)]
pub(crate) struct FdWatches {
    readers: Mutex<HashMap<RawFd, Watch>>,
    writers: Mutex<HashMap<RawFd, Watch>>,
}

impl FdWatches {
    fn map(&self, interest: Interest) -> &Mutex<HashMap<RawFd, Watch>> {
        if interest.is_readable() {
            &self.readers
        } else {
            &self.writers
        }
    }

    /// Stops every watch (the loop is closing).
    pub(crate) fn clear(&self) {
        for map in [&self.readers, &self.writers] {
            let watches: Vec<Watch> = lock(map).drain().map(|(_, w)| w).collect();
            watches.into_iter().for_each(Watch::stop);
        }
    }

    fn remove(&self, interest: Interest, fd: RawFd) -> bool {
        let watch = lock(self.map(interest)).remove(&fd);
        watch.map(Watch::stop).is_some()
    }
}

type FdCallback = Arc<Mutex<Box<dyn FnMut() + Send>>>;

/// Tells the watcher the callback has run (or panicked) when dropped.
struct SendOnDrop(Option<oneshot::Sender<()>>);

impl Drop for SendOnDrop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

async fn watch(
    mut afd: AsyncFd<OwnedFd>,
    interest: Interest,
    lp: Weak<LoopShared>,
    cb: FdCallback,
    active: Arc<AtomicBool>,
) {
    let name = if interest.is_readable() {
        "fd reader"
    } else {
        "fd writer"
    };
    loop {
        if let Err(err) = afd.ready(interest).await {
            if let Some(lp) = lp.upgrade() {
                lp.call_exception_handler(
                    ExceptionContext::new(format!("{name} stopped: polling the descriptor failed"))
                        .with_error(Error::from(err)),
                );
            }
            return;
        }
        let (tx, rx) = oneshot::channel::<()>();
        let (cb, active) = (cb.clone(), active.clone());
        let scheduled = match lp.upgrade() {
            Some(lp) => lp
                .call_soon_boxed(
                    name,
                    Box::new(move || {
                        // Sent on return and on unwind: a panicking callback is
                        // reported by the loop and the watch goes on.
                        let _ran = SendOnDrop(Some(tx));
                        if active.load(Ordering::Acquire) {
                            (lock(&cb))();
                        }
                    }),
                )
                .is_ok(),
            None => false,
        };
        // A closed loop drops the callback unrun (and `tx` with it): then stop.
        if !scheduled || rx.await.is_err() {
            return;
        }
        // Register afresh: a descriptor still ready is reported at once
        // (level-triggered, as asyncio's selector).
        let fd = afd.into_inner();
        afd = match register_owned(fd, interest) {
            Ok(afd) => afd,
            Err(err) => {
                if let Some(lp) = lp.upgrade() {
                    lp.call_exception_handler(
                        ExceptionContext::new(format!("{name} stopped: re-registering failed"))
                            .with_error(Error::from(err)),
                    );
                }
                return;
            }
        };
    }
}

impl EventLoop {
    fn add_watch(
        &self,
        interest: Interest,
        fd: impl AsFd,
        cb: impl FnMut() + Send + 'static,
    ) -> Result<()> {
        self.check_open()?;
        let raw = fd.as_fd().as_raw_fd();
        let dup = fd.as_fd().try_clone_to_owned()?;
        let handle = self.shared.handle();
        let afd = {
            let _rt = handle.enter();
            register_owned(dup, interest)?
        };
        let active = Arc::new(AtomicBool::new(true));
        let cb: FdCallback = Arc::new(Mutex::new(Box::new(cb)));
        let task = handle
            .spawn(watch(
                afd,
                interest,
                Arc::downgrade(&self.shared),
                cb,
                active.clone(),
            ))
            .abort_handle();
        let old = lock(self.shared.fds.map(interest)).insert(raw, Watch { task, active });
        if let Some(old) = old {
            old.stop();
        }
        Ok(())
    }

    /// Calls `cb` on the loop each time `fd` is readable, until
    /// [`remove_reader`](Self::remove_reader) (asyncio's `loop.add_reader`).
    ///
    /// Like asyncio's selector, this is level-triggered: while `fd` stays
    /// readable (the callback did not read everything), the callback is called
    /// again on a later iteration. Adding a reader for a descriptor that has
    /// one replaces its callback. Readers and writers of one descriptor are
    /// independent.
    ///
    /// `fd` is borrowed: the loop keeps a duplicate of the descriptor
    /// (`dup(2)`) until the reader is removed, so the file or socket is not
    /// really closed (a TCP peer sees no FIN) while the reader stays; remove
    /// it before closing. Watches are keyed by `fd`'s number.
    ///
    /// The callback runs on the loop like any [`call_soon`](Self::call_soon)
    /// callback; a panic in it is reported to the exception handler and the
    /// reader stays.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] if the loop is closed; [`Error::Io`] if the
    /// descriptor cannot be duplicated or polled (a regular file gives
    /// `PermissionDenied`, as epoll refuses it).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use std::sync::Arc;
    ///
    /// let lp = aioproto::EventLoop::new()?;
    /// let (mut a, b) = UnixStream::pair()?;
    /// b.set_nonblocking(true)?;
    /// let b = Arc::new(b);
    /// let got = lp.create_future::<Vec<u8>>();
    /// let (reader, done, l2) = (b.clone(), got.clone(), lp.clone());
    /// lp.add_reader(&*b, move || {
    ///     let mut buf = [0u8; 16];
    ///     let n = (&*reader).read(&mut buf).unwrap_or(0);
    ///     let _ = done.set_result(buf[..n].to_vec());
    ///     l2.remove_reader(reader.as_raw_fd());
    /// })?;
    /// a.write_all(b"ping")?;
    /// assert_eq!(lp.run_until_complete(got)??, b"ping");
    /// assert!(!lp.remove_reader(b.as_raw_fd()));
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn add_reader(&self, fd: impl AsFd, cb: impl FnMut() + Send + 'static) -> Result<()> {
        self.add_watch(Interest::READABLE, fd, cb)
    }

    /// Calls `cb` on the loop each time `fd` is writable, until
    /// [`remove_writer`](Self::remove_writer) (asyncio's `loop.add_writer`).
    ///
    /// Level-triggered as [`add_reader`](Self::add_reader): a socket with room
    /// in its send buffer is writable all the time, so the callback keeps
    /// being called, once per loop iteration, until the writer is removed.
    /// The same notes on borrowing and keys apply.
    ///
    /// # Errors
    ///
    /// As for [`add_reader`](Self::add_reader).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    ///
    /// let lp = aioproto::EventLoop::new()?;
    /// let (a, _b) = UnixStream::pair()?;
    /// let writable = lp.create_future::<()>();
    /// let w = writable.clone();
    /// lp.add_writer(&a, move || { let _ = w.set_result(()); })?;
    /// lp.run_until_complete(writable)??;
    /// assert!(lp.remove_writer(a.as_raw_fd()));
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn add_writer(&self, fd: impl AsFd, cb: impl FnMut() + Send + 'static) -> Result<()> {
        self.add_watch(Interest::WRITABLE, fd, cb)
    }

    /// Stops watching `fd` for reading; true if it was watched (asyncio's
    /// `loop.remove_reader`).
    ///
    /// `fd` is the descriptor's number (`sock.as_raw_fd()`), as watches are
    /// keyed by number; it need not be open any more. A callback already
    /// scheduled for `fd` does not run. On a closed loop it returns false.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = aioproto::EventLoop::new()?;
    /// assert!(!lp.remove_reader(0));
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn remove_reader(&self, fd: RawFd) -> bool {
        self.shared.fds.remove(Interest::READABLE, fd)
    }

    /// Stops watching `fd` for writing; true if it was watched (asyncio's
    /// `loop.remove_writer`). See [`remove_reader`](Self::remove_reader).
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = aioproto::EventLoop::new()?;
    /// assert!(!lp.remove_writer(1));
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn remove_writer(&self, fd: RawFd) -> bool {
        self.shared.fds.remove(Interest::WRITABLE, fd)
    }
}
