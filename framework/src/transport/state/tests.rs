//! The stream state's transitions without a driver or a socket: the
//! backpressure hold's marks and how it composes with the user's pause, and
//! what `close()`/`abort()` do around a `start_tls` detach.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Wake, Waker};

use bytes::Bytes;

use super::*;
use crate::transport::{Capabilities, ExtraInfo};

fn state_with_marks(high: usize, low: usize) -> State {
    let mut state = State::new(Capabilities::SOCKET, None);
    let limits = crate::transport::write_buffer::Limits::new(Some(high), Some(low), 0).unwrap();
    state.core_mut().buffer_mut().set_limits(limits);
    state
}

fn fill(state: &mut State, n: usize) {
    state
        .core_mut()
        .buffer_mut()
        .push(Bytes::from(vec![0u8; n]));
}

fn drain(state: &mut State, n: usize) {
    state.core_mut().buffer_mut().consume(n);
}

#[test]
fn the_hold_starts_over_high_and_ends_at_low() {
    let mut state = state_with_marks(8, 2);
    state.set_pause_reading_on_backpressure(true);
    fill(&mut state, 8);
    state.update_read_hold();
    assert!(state.wants_data(), "at the mark is not over it");
    fill(&mut state, 1);
    state.update_read_hold();
    assert!(state.is_reading_held() && !state.wants_data());
    drain(&mut state, 6);
    state.update_read_hold();
    assert!(state.is_reading_held(), "3 > low");
    drain(&mut state, 1);
    state.update_read_hold();
    assert!(!state.is_reading_held() && state.wants_data());
}

#[test]
fn without_the_option_there_is_no_hold() {
    let mut state = state_with_marks(8, 2);
    fill(&mut state, 100);
    state.update_read_hold();
    assert!(state.wants_data());
    state.set_pause_reading_on_backpressure(true);
    state.update_read_hold();
    assert!(state.is_reading_held());
    // Turning it off releases a hold in force.
    state.set_pause_reading_on_backpressure(false);
    assert!(state.wants_data());
}

#[test]
fn the_hold_and_the_user_pause_are_separate() {
    let mut state = state_with_marks(8, 2);
    state.set_pause_reading_on_backpressure(true);
    fill(&mut state, 9);
    state.update_read_hold();
    state.core_mut().set_reading_paused(true);
    drain(&mut state, 9);
    state.update_read_hold();
    assert!(!state.is_reading_held());
    assert!(!state.wants_data(), "the user's pause stays");
    fill(&mut state, 9);
    state.update_read_hold();
    state.core_mut().set_reading_paused(false);
    assert!(!state.wants_data(), "resume while held reads nothing");
    assert!(
        state.core().is_reading(),
        "is_reading shows the user's pause only"
    );
}

/// A state whose stream went to `start_tls`.
fn detached() -> State {
    let mut state = State::new(Capabilities::SOCKET, None);
    let (tx, _rx) = oneshot::channel();
    assert!(state.request_detach(tx));
    let ended = state.end(true);
    assert!(ended.detach_tx.is_some());
    state
}

fn new_transport() -> Transport {
    Transport::new(ExtraInfo::new(Capabilities::SOCKET), None)
}

#[test]
fn close_and_abort_outside_an_upgrade_go_nowhere() {
    let mut state = State::new(Capabilities::SOCKET, None);
    assert!(matches!(
        state.ask_in_upgrade(Asked::Close),
        AskedNext::Done
    ));
    let next = new_transport();
    assert_eq!(state.set_upgraded_to(next.clone()), None);
    assert!(matches!(
        state.ask_in_upgrade(Asked::Abort),
        AskedNext::Forward(t) if t.same_as(&next)
    ));
}

#[test]
fn a_close_during_the_upgrade_is_kept_for_the_new_transport() {
    let mut state = detached();
    assert!(matches!(
        state.ask_in_upgrade(Asked::Close),
        AskedNext::Done
    ));
    assert_eq!(state.set_upgraded_to(new_transport()), Some(Asked::Close));
}

#[test]
fn a_close_the_detach_overtook_is_kept_too() {
    let mut state = State::new(Capabilities::SOCKET, None);
    let (tx, _rx) = oneshot::channel();
    assert!(state.request_detach(tx));
    state.core_mut().close();
    assert!(state.end(true).detach_tx.is_some());
    assert_eq!(state.set_upgraded_to(new_transport()), Some(Asked::Close));
}

struct Count(AtomicUsize);
impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn an_abort_during_the_upgrade_wakes_it_and_outranks_a_close() {
    let mut state = detached();
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(count.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(state.poll_upgrade_aborted(&mut cx).is_pending());
    assert!(
        matches!(state.ask_in_upgrade(Asked::Close), AskedNext::Done),
        "a close lets the handshake finish"
    );
    match state.ask_in_upgrade(Asked::Abort) {
        AskedNext::WakeUpgrade(w) => w.wake(),
        _ => panic!("the abort wakes the upgrade"),
    }
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert!(state.poll_upgrade_aborted(&mut cx).is_ready());
    assert!(
        matches!(state.ask_in_upgrade(Asked::Close), AskedNext::Done),
        "a later close does not undo it"
    );
    assert_eq!(state.set_upgraded_to(new_transport()), Some(Asked::Abort));
}

/// Whether the driver's next pass would be a full one; takes the flag as the
/// driver does.
fn full_pass(transport: &Transport) -> bool {
    transport.lock().core_mut().take_attention()
}

#[test]
fn plain_writes_under_the_mark_keep_the_fast_pass() {
    let transport = new_transport();
    assert!(full_pass(&transport), "the first pass looks at everything");
    transport.set_write_buffer_limits(Some(8), Some(2)).unwrap();
    assert!(full_pass(&transport));
    transport.write(vec![0u8; 8]);
    transport.writelines([vec![0u8; 0]]);
    assert!(!full_pass(&transport), "at the mark is not over it");
    transport.write("x");
    assert!(full_pass(&transport), "crossing the high-water mark pauses");
}

#[test]
fn a_write_over_the_hard_limit_asks_for_a_full_pass() {
    let transport = new_transport();
    transport.set_write_buffer_hard_limit(Some(4));
    assert!(full_pass(&transport));
    transport.write("1234");
    assert!(!full_pass(&transport));
    transport.write("5");
    assert!(full_pass(&transport));
}

#[test]
fn every_handle_command_asks_for_a_full_pass() {
    type Command = fn(&Transport);
    let commands: [(&str, Command); 8] = [
        ("close", |t| t.close()),
        ("abort", |t| t.abort()),
        ("write_eof", |t| t.write_eof().unwrap()),
        ("set_nodelay", |t| t.set_nodelay(false)),
        ("set_keepalive", |t| t.set_keepalive(true)),
        ("set_write_buffer_limits", |t| {
            t.set_write_buffer_limits(Some(1), None).unwrap();
        }),
        ("set_write_buffer_hard_limit", |t| {
            t.set_write_buffer_hard_limit(Some(1));
        }),
        ("set_handler", |t| {
            t.set_handler(Handler::Finished);
        }),
    ];
    for (name, command) in commands {
        let transport = new_transport();
        assert!(full_pass(&transport));
        assert!(!full_pass(&transport), "{name}: taken");
        command(&transport);
        assert!(full_pass(&transport), "{name} must reach the full pass");
    }
}

#[test]
fn a_full_pass_stays_full_while_something_is_under_way() {
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(count);
    let plain = state_with_marks(8, 2);
    assert!(!plain.stays_unusual());

    let mut paused = state_with_marks(8, 2);
    fill(&mut paused, 9);
    assert!(paused.stays_unusual(), "over the high-water mark");
    assert!(paused.flow_event().is_some());
    drain(&mut paused, 9);
    assert!(paused.stays_unusual(), "paused until the resume is told");
    assert!(paused.flow_event().is_some());
    assert!(!paused.stays_unusual());

    let mut held = state_with_marks(8, 2);
    held.set_pause_reading_on_backpressure(true);
    fill(&mut held, 9);
    held.update_read_hold();
    drain(&mut held, 9);
    held.flow_event();
    held.flow_event();
    assert!(held.stays_unusual(), "the hold ends in a full pass");
    held.update_read_hold();
    assert!(!held.stays_unusual());

    let mut waiting = state_with_marks(8, 2);
    waiting.add_drain_waiter(&waker);
    assert!(
        waiting.stays_unusual(),
        "drain() waiters are woken by a full pass"
    );

    let mut closing = state_with_marks(8, 2);
    closing.core_mut().close();
    assert!(closing.stays_unusual());

    let mut half_closed = state_with_marks(8, 2);
    half_closed.request_eof(false);
    assert!(half_closed.stays_unusual());
}
