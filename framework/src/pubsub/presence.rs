//! What this server knows of members on other servers: a cache kept current
//! by the channel's join and leave events and corrected by periodic snapshots
//! of the Redis presence hash. Pure data, no I/O, so it is unit-tested alone.
//!
//! Only the Redis backplane feeds it; a local room keeps it empty, hence the
//! dead-code allowance without the `redis` feature.
#![cfg_attr(not(feature = "redis"), allow(dead_code))]

use std::collections::BTreeMap;
use std::sync::Arc;

use super::event::LeaveReason;

/// A presence change to announce to local members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    Joined(Arc<str>),
    Left(Arc<str>, LeaveReason),
}

#[derive(Debug)]
struct Slot {
    /// The server holding the name; `None` is a tombstone (left recently).
    owner: Option<Arc<str>>,
    /// The event sequence number that last changed this slot.
    touched: u64,
    /// The last snapshot disagreed; the next one that still does removes it.
    suspect: bool,
}

/// Remote members: name → server, with enough history to merge a snapshot
/// that raced with events.
///
/// A snapshot (`HGETALL`) requested when the sequence number was `since` is
/// authoritative only for names no event touched after `since`: an event
/// received while the request was in flight may be newer than the snapshot.
/// Conversely a snapshot may be newer than events still on their way (a
/// leave published just before it), so a member missing from a snapshot is
/// only removed when the next snapshot still misses it: the event, with its
/// true reason, normally arrives first. Additions are applied at once (a
/// name in the snapshot cannot have a leave still in flight from before it).
#[derive(Debug, Default)]
pub(crate) struct RemotePresence {
    slots: BTreeMap<Arc<str>, Slot>,
    seq: u64,
}

impl RemotePresence {
    /// The sequence number to pass to [`apply_snapshot`](Self::apply_snapshot)
    /// for a snapshot requested now.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.slots.get(name).is_some_and(|s| s.owner.is_some())
    }

    /// Remote member names, sorted.
    pub(crate) fn names(&self) -> impl Iterator<Item = &Arc<str>> {
        self.slots
            .iter()
            .filter(|(_, s)| s.owner.is_some())
            .map(|(n, _)| n)
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.values().filter(|s| s.owner.is_some()).count()
    }

    fn touch(&mut self, name: Arc<str>, owner: Option<Arc<str>>) {
        self.seq += 1;
        let touched = self.seq;
        self.slots.insert(
            name,
            Slot {
                owner,
                touched,
                suspect: false,
            },
        );
    }

    /// A join event: `name` is now held by `owner`.
    pub(crate) fn joined(&mut self, name: Arc<str>, owner: Arc<str>) -> Vec<Change> {
        let previous = self.slots.get(&name).and_then(|s| s.owner.clone());
        self.touch(name.clone(), Some(owner.clone()));
        match previous {
            None => vec![Change::Joined(name)],
            Some(prev) if prev == owner => Vec::new(),
            // The name moved to another server and we missed the leave.
            Some(_) => vec![
                Change::Left(name.clone(), LeaveReason::Left),
                Change::Joined(name),
            ],
        }
    }

    /// A leave event from `owner`; ignored unless `owner` holds the name.
    pub(crate) fn left(
        &mut self,
        name: Arc<str>,
        owner: &str,
        reason: LeaveReason,
    ) -> Option<Change> {
        let held_by_owner = self
            .slots
            .get(&name)
            .is_some_and(|s| s.owner.as_deref() == Some(owner));
        if !held_by_owner {
            return None;
        }
        self.touch(name.clone(), None);
        Some(Change::Left(name, reason))
    }

    /// A local member just won `name` in Redis: forget a stale remote holder
    /// whose leave has not arrived yet. True if one was there.
    pub(crate) fn take_over(&mut self, name: &Arc<str>) -> bool {
        if !self.contains(name) {
            return false;
        }
        self.touch(name.clone(), None);
        true
    }

    /// Forgets everything (the link to Redis is gone); returns who was present.
    pub(crate) fn clear(&mut self) -> Vec<Arc<str>> {
        let names = self.names().cloned().collect();
        self.slots.clear();
        self.seq += 1;
        names
    }

    /// Merges `snapshot` (remote name → server, requested at `since`).
    ///
    /// A member missing from two snapshots in a row left on purpose if its
    /// server is still `alive`, and expired otherwise.
    pub(crate) fn apply_snapshot(
        &mut self,
        snapshot: &BTreeMap<Arc<str>, Arc<str>>,
        since: u64,
        alive: impl Fn(&str) -> bool,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        self.slots.retain(|name, slot| {
            if slot.touched > since {
                return true; // newer than the snapshot
            }
            match (&slot.owner, snapshot.get(name)) {
                (Some(have), Some(seen)) if have == seen => {
                    slot.suspect = false;
                    true
                }
                (Some(_), _) if !slot.suspect => {
                    slot.suspect = true;
                    true
                }
                (Some(have), seen) => {
                    let reason = if seen.is_none() && !alive(have) {
                        LeaveReason::Expired
                    } else {
                        LeaveReason::Left
                    };
                    changes.push(Change::Left(name.clone(), reason));
                    false
                }
                (None, _) => false, // an old tombstone
            }
        });
        for (name, owner) in snapshot {
            if !self.slots.contains_key(name) {
                self.slots.insert(
                    name.clone(),
                    Slot {
                        owner: Some(owner.clone()),
                        touched: since,
                        suspect: false,
                    },
                );
                changes.push(Change::Joined(name.clone()));
            }
        }
        changes
    }
}
