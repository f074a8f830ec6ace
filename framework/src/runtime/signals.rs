//! Signal handlers on the loop (asyncio's `loop.add_signal_handler`), and the
//! default action once the last one is removed.
//!
//! # How it works
//!
//! tokio installs its own OS-level handler the first time a signal is
//! listened to, and never uninstalls it: restoring `SIG_DFL` takes
//! `sigaction(2)`, which has no safe binding, and this crate forbids `unsafe`.
//! So aioproto keeps the default action itself. One process-wide *dispatcher*
//! per signal (a task on a small runtime of its own, thread
//! `aioproto-signals`) receives every delivery and either schedules the
//! handlers registered for it, on their loops, or, when no loop has one,
//! carries out the signal's default action:
//!
//! * terminate (`SIGHUP`, `SIGINT`, `SIGTERM`, `SIGUSR1`, `SIGUSR2`,
//!   `SIGALRM`, `SIGQUIT`, `SIGABRT`, real-time signals, …): the process exits
//!   with status `128 + N`, what a shell reports for a death by signal `N`
//!   (the exit is not *by* the signal: a parent sees `WIFEXITED`);
//! * ignore (`SIGCHLD`, `SIGURG`, `SIGWINCH`, `SIGCONT`, and `SIGPIPE`, which
//!   Rust programs ignore from the start): nothing;
//! * stop (`SIGTSTP`, `SIGTTIN`, `SIGTTOU`): the process stops itself with
//!   `SIGSTOP`.
//!
//! Signals nothing in aioproto ever listened to keep the kernel's own
//! disposition. Code that listens to the same signal with
//! `tokio::signal::unix::signal` directly is not seen by the dispatcher.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use tokio::runtime::{Builder as RtBuilder, Handle as RtHandle};
use tokio::signal::unix::{SignalKind, signal};

use crate::error::{Error, Result};
use crate::runtime::event_loop::{EventLoop, LoopShared};
use crate::util::lock;

/// Signals 1..NSIG are valid, as in `signal.valid_signals()`.
#[cfg(target_os = "linux")]
const NSIG: i32 = 65;
#[cfg(not(target_os = "linux"))]
const NSIG: i32 = 32;

type SignalCallback = Arc<dyn Fn() + Send + Sync>;

struct Registered {
    loop_id: u64,
    lp: Weak<LoopShared>,
    cb: SignalCallback,
}

/// Per signal: the handlers of every loop, and whether its dispatcher runs.
#[derive(Default)]
struct Table {
    handlers: HashMap<i32, Vec<Registered>>,
    dispatching: HashSet<i32>,
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

fn with_table<R>(f: impl FnOnce(&mut Table) -> R) -> R {
    let mut guard = lock(&TABLE);
    f(guard.get_or_insert_with(Table::default))
}

/// The runtime the dispatchers live on, started on first use.
fn dispatch_runtime() -> Result<&'static RtHandle> {
    static RT: OnceLock<Option<RtHandle>> = OnceLock::new();
    RT.get_or_init(|| {
        let rt = RtBuilder::new_current_thread().enable_all().build().ok()?;
        let handle = rt.handle().clone();
        std::thread::Builder::new()
            .name("aioproto-signals".into())
            .spawn(move || rt.block_on(std::future::pending::<()>()))
            .ok()?;
        Some(handle)
    })
    .as_ref()
    .ok_or_else(|| Error::invalid_state("could not start the signal dispatcher thread"))
}

/// Starts the dispatcher for `sig` unless it runs already.
fn ensure_dispatcher(sig: i32) -> Result<()> {
    if with_table(|t| t.dispatching.contains(&sig)) {
        return Ok(());
    }
    let rt = dispatch_runtime()?;
    let mut stream = {
        let _enter = rt.enter();
        signal(SignalKind::from_raw(sig))
    }
    .map_err(|e| Error::invalid_state(format!("sig {sig} cannot be caught: {e}")))?;
    let fresh = with_table(|t| t.dispatching.insert(sig));
    if fresh {
        rt.spawn(async move {
            while stream.recv().await.is_some() {
                dispatch(sig);
            }
        });
    }
    Ok(())
}

/// One delivery of `sig`: to every loop's handler, else the default action.
fn dispatch(sig: i32) {
    let targets: Vec<(Arc<LoopShared>, SignalCallback)> = with_table(|t| {
        let Some(v) = t.handlers.get_mut(&sig) else {
            return Vec::new();
        };
        // A loop dropped without being closed has no handlers any more.
        v.retain(|r| r.lp.strong_count() > 0);
        v.iter()
            .filter_map(|r| r.lp.upgrade().map(|lp| (lp, r.cb.clone())))
            .filter(|(lp, _)| !lp.is_closed())
            .collect()
    });
    if targets.is_empty() {
        default_action(sig);
        return;
    }
    for (lp, cb) in targets {
        let _ = lp.call_soon_boxed("signal handler", Box::new(move || cb()));
    }
}

/// What the kernel's `SIG_DFL` would do with `sig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DefaultAction {
    Terminate,
    Ignore,
    Stop,
}

fn default_action_of(sig: i32) -> DefaultAction {
    use nix::libc;
    match sig {
        libc::SIGCHLD | libc::SIGURG | libc::SIGWINCH | libc::SIGCONT | libc::SIGPIPE => {
            DefaultAction::Ignore
        }
        libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => DefaultAction::Stop,
        _ => DefaultAction::Terminate,
    }
}

fn default_action(sig: i32) {
    match default_action_of(sig) {
        DefaultAction::Ignore => {}
        DefaultAction::Stop => {
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
        }
        DefaultAction::Terminate => {
            tracing::debug!(target: "aioproto::event_loop", sig, "no handler left: default action");
            std::process::exit(128 + sig);
        }
    }
}

fn check_signal(sig: i32) -> Result<()> {
    if !(1..NSIG).contains(&sig) {
        return Err(Error::invalid_argument(format!(
            "sig {sig} out of range(1, {NSIG})"
        )));
    }
    Ok(())
}

/// Removes every handler of the loop `loop_id` (it is closing).
pub(crate) fn remove_all(loop_id: u64) {
    with_table(|t| {
        for v in t.handlers.values_mut() {
            v.retain(|r| r.loop_id != loop_id);
        }
    });
}

impl EventLoop {
    /// Calls `cb` (on the loop, as a callback) whenever signal `sig` arrives
    /// (asyncio's `loop.add_signal_handler`). Adding a handler for the same
    /// signal again replaces it.
    ///
    /// Every loop may have its own handler for a signal; a delivery runs each
    /// of them. See [`remove_signal_handler`](Self::remove_signal_handler) for
    /// what happens once none is left.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a number outside `1..NSIG`;
    /// [`Error::InvalidState`] for signals that cannot be caught (`SIGKILL`,
    /// `SIGSTOP`, and those tokio refuses: `SIGILL`, `SIGFPE`, `SIGSEGV`) or a
    /// closed loop.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = aioproto::EventLoop::new()?;
    /// assert!(lp.add_signal_handler(0, || {}).is_err());
    /// assert!(lp.add_signal_handler(9, || {}).is_err());
    /// lp.add_signal_handler(10, || println!("SIGUSR1"))?;
    /// assert!(lp.remove_signal_handler(10)?);
    /// assert!(!lp.remove_signal_handler(10)?);
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn add_signal_handler(
        &self,
        sig: i32,
        cb: impl Fn() + Send + Sync + 'static,
    ) -> Result<()> {
        self.check_open()?;
        check_signal(sig)?;
        if sig == nix::libc::SIGKILL || sig == nix::libc::SIGSTOP {
            return Err(Error::invalid_state(format!("sig {sig} cannot be caught")));
        }
        ensure_dispatcher(sig)?;
        let loop_id = self.shared.id();
        let entry = Registered {
            loop_id,
            lp: Arc::downgrade(&self.shared),
            cb: Arc::new(cb),
        };
        with_table(|t| {
            let v = t.handlers.entry(sig).or_default();
            v.retain(|r| r.loop_id != loop_id);
            v.push(entry);
        });
        Ok(())
    }

    /// Removes this loop's handler for `sig`; true if there was one.
    ///
    /// When no loop has a handler for `sig` any more, the signal gets its
    /// default action back, as asyncio's `signal.signal(sig, SIG_DFL)` does:
    /// `SIGTERM`, `SIGINT`, `SIGUSR1` and the like end the process (with exit
    /// status `128 + sig`), `SIGCHLD` and `SIGWINCH` are ignored, `SIGTSTP`
    /// stops it. See the caveats below. [`close`](Self::close) removes every
    /// handler of the loop the same way.
    ///
    /// # Caveats
    ///
    /// tokio cannot uninstall its OS-level handler without `unsafe` code, so
    /// the default action is carried out by aioproto's signal dispatcher
    /// thread: the process *exits* with `128 + sig` rather than being killed
    /// by the signal, and a signal that arrives while this call runs may get
    /// either treatment. Other `tokio::signal` listeners in the process do not
    /// count as handlers.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a number outside `1..NSIG`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = aioproto::EventLoop::new()?;
    /// assert!(!lp.remove_signal_handler(nix::libc::SIGUSR2)?); // none yet
    /// lp.add_signal_handler(nix::libc::SIGUSR2, || {})?;
    /// assert!(lp.remove_signal_handler(nix::libc::SIGUSR2)?);
    /// // From here a SIGUSR2 would end the process, as with no handler at all.
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn remove_signal_handler(&self, sig: i32) -> Result<bool> {
        check_signal(sig)?;
        let loop_id = self.shared.id();
        Ok(with_table(|t| {
            let Some(v) = t.handlers.get_mut(&sig) else {
                return false;
            };
            let before = v.len();
            v.retain(|r| r.loop_id != loop_id);
            v.len() != before
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_actions_follow_signal_7() {
        use nix::libc;
        for sig in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGUSR1,
            libc::SIGHUP,
            libc::SIGQUIT,
        ] {
            assert_eq!(default_action_of(sig), DefaultAction::Terminate, "{sig}");
        }
        for sig in [
            libc::SIGCHLD,
            libc::SIGWINCH,
            libc::SIGURG,
            libc::SIGCONT,
            libc::SIGPIPE,
        ] {
            assert_eq!(default_action_of(sig), DefaultAction::Ignore, "{sig}");
        }
        assert_eq!(default_action_of(libc::SIGTSTP), DefaultAction::Stop);
        assert_eq!(
            default_action_of(libc::SIGRTMIN()),
            DefaultAction::Terminate
        );
    }

    #[test]
    fn handlers_are_per_loop() {
        let a = EventLoop::new().unwrap();
        let b = EventLoop::new().unwrap();
        let sig = nix::libc::SIGUSR2;
        a.add_signal_handler(sig, || {}).unwrap();
        b.add_signal_handler(sig, || {}).unwrap();
        assert!(a.remove_signal_handler(sig).unwrap());
        assert!(!a.remove_signal_handler(sig).unwrap());
        b.close().unwrap();
        assert!(!b.remove_signal_handler(sig).unwrap(), "close removes them");
        a.close().unwrap();
    }
}
