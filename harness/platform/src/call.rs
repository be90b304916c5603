//! The calls in progress: the small types every part names (which side, which user
//! agent, what a dialog is to the platform, the phase of a call), the per-call record,
//! and the registry that indexes calls by dialog and by their next deadline.
//!
//! # What this module owns
//!
//! [`Call`]: the per-call record, one field per part (the B2BUA's legs, the mixer's
//! media, the recording controller's recordings) next to the call's identity and phase.
//! [`Calls`]: the call table, the dialog index (`keys`, with a live-dialog count per
//! call, so a call that ended is reaped once its last dialog is gone, without a scan),
//! the list of calls that ended, and the deadline heap (each call's next ring timeout,
//! release or media tick, earliest first; a timeout costs O(log calls), not a scan).
//!
//! # What it must not touch
//!
//! No SIP, RTP or policy: it never sends, decides or reports anything. The parts change
//! a call; this module only finds calls and keeps the indexes in step.

use crate::b2bua::Legs;
use crate::mixer::CallMedia;
use crate::recording::Recordings;
use crate::shared::Ports;
use sip::endpoint::CallKey;
use sip::time::Time;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

/// Which side of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Side {
    /// The party that placed the call (leg A).
    Caller,
    /// The party called (leg B).
    Callee,
}

/// Which of the platform's two user agents a dialog belongs to: the B2BUA (both call
/// legs) or the SRC (recording sessions, with its own Contact carrying the SRC marker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Ua {
    /// The B2BUA's user agent.
    B2bua,
    /// The SRC's user agent.
    Src,
}

/// What a dialog of an endpoint is to the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A call leg.
    Leg(Side),
    /// The recording session of the call's recording at this index.
    Rs(usize),
}

/// Where a call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The callee is being called.
    Ringing,
    /// Both parties are connected.
    Active,
    /// The caller is connected to the callee's mailbox.
    Voicemail,
    /// Released (the call is reaped once its dialogs are gone).
    Ended,
}

/// One call: two legs through the platform and the recordings of its recorded users.
/// Each part changes only its own field; the identity fields are fixed at routing.
pub(crate) struct Call {
    /// The call's number (`call=<id>` in observations).
    pub(crate) id: u64,
    /// The extension the caller dialled.
    pub(crate) callee_ext: String,
    /// The caller's AOR (From of the INVITE).
    pub(crate) caller_aor: String,
    /// The callee's AOR on the platform.
    pub(crate) callee_aor: String,
    /// Where the call is in its life; changed only by the B2BUA, read by the others.
    pub(crate) phase: Phase,
    /// Both legs' SIP (the B2BUA's).
    pub(crate) legs: Legs,
    /// Both legs' RTP, the media clock and the overlays (the mixer's).
    pub(crate) media: CallMedia,
    /// The recordings of its recorded users (the recording controller's).
    pub(crate) recs: Recordings,
    /// The deadline this call has a live entry for in the registry's heap.
    pub(crate) queued: Option<Time>,
}

impl Call {
    /// The earliest of the ring timeout, the release time and the next media tick.
    fn next_deadline(&self) -> Option<Time> {
        [
            self.legs.ring_deadline(),
            self.recs.release_at(),
            self.media.next_tick_time(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// See the [module docs](self).
#[derive(Default)]
pub(crate) struct Calls {
    calls: BTreeMap<u64, Call>,
    keys: HashMap<(Ua, CallKey), (u64, Role)>,
    /// Live dialog keys per call: a call is reaped once it ended and this is zero.
    keys_per_call: HashMap<u64, u32>,
    /// Calls that ended and wait to be reaped.
    ended: Vec<u64>,
    /// Each call's next deadline (ring timeout, release, media tick), earliest first.
    /// Entries go stale when a call's deadline moves; [`Call::queued`] tells which entry
    /// is live. One heap for all calls, so a timeout costs O(log calls), not a scan.
    deadlines: BinaryHeap<Reverse<(Time, u64)>>,
}

impl Calls {
    /// Calls in the table (including ones still tearing down).
    pub(crate) fn len(&self) -> usize {
        self.calls.len()
    }

    /// The call `id`.
    pub(crate) fn get(&self, id: u64) -> Option<&Call> {
        self.calls.get(&id)
    }

    /// The call `id`, to change.
    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut Call> {
        self.calls.get_mut(&id)
    }

    /// Every call, in id order. A scan: only for a CANCEL, which names the caller's
    /// INVITE transaction rather than a dialog.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Call> {
        self.calls.values()
    }

    /// Adds a call.
    pub(crate) fn insert(&mut self, call: Call) {
        self.calls.insert(call.id, call);
    }

    /// The call and role of a dialog.
    pub(crate) fn role(&self, k: &(Ua, CallKey)) -> Option<(u64, Role)> {
        self.keys.get(k).copied()
    }

    /// Ties a dialog to a call (and counts it, so the call is not reaped under it).
    pub(crate) fn key_insert(&mut self, k: (Ua, CallKey), v: (u64, Role)) {
        if let Some((old, _)) = self.keys.insert(k, v) {
            self.key_uncount(old);
        }
        *self.keys_per_call.entry(v.0).or_default() += 1;
    }

    /// Unties a dialog from its call.
    pub(crate) fn key_remove(&mut self, k: &(Ua, CallKey)) -> Option<(u64, Role)> {
        let v = self.keys.remove(k)?;
        self.key_uncount(v.0);
        Some(v)
    }

    fn key_uncount(&mut self, id: u64) {
        if let Some(n) = self.keys_per_call.get_mut(&id) {
            *n = n.saturating_sub(1);
        }
    }

    /// Marks a call ended (reaped once its dialogs are gone).
    pub(crate) fn mark_ended(&mut self, id: u64) {
        if !self.ended.contains(&id) {
            self.ended.push(id);
        }
    }

    /// Removes ended calls whose dialogs are all gone and frees their ports.
    pub(crate) fn reap(&mut self, ports: &mut Ports) {
        if self.ended.is_empty() {
            return;
        }
        let ended = std::mem::take(&mut self.ended);
        for id in ended {
            if self.keys_per_call.get(&id).is_some_and(|n| *n > 0) {
                // A dialog of the call is still closing; reaped when it is gone.
                self.ended.push(id);
                continue;
            }
            self.keys_per_call.remove(&id);
            if let Some(c) = self.calls.remove(&id) {
                let mut ports_of = vec![c.media.port(Side::Caller), c.media.port(Side::Callee)];
                ports_of.extend(c.recs.session_ports());
                ports.release(&ports_of);
            }
        }
    }

    /// Puts the call's next deadline in the heap if it moved.
    pub(crate) fn schedule(&mut self, id: u64) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let next = c.next_deadline();
        if next != c.queued {
            c.queued = next;
            if let Some(t) = next {
                self.deadlines.push(Reverse((t, id)));
            }
        }
    }

    /// The next call whose deadline is due at `now`, its heap entry taken (the caller
    /// handles it and then calls [`Calls::schedule`]). Stale entries are dropped.
    pub(crate) fn pop_due(&mut self, now: Time) -> Option<u64> {
        while let Some(&Reverse((t, id))) = self.deadlines.peek() {
            if t > now {
                break;
            }
            self.deadlines.pop();
            match self.calls.get_mut(&id) {
                // A stale entry: the call's deadline moved since it was queued.
                Some(c) if c.queued == Some(t) => {
                    c.queued = None;
                    return Some(id);
                }
                _ => continue,
            }
        }
        None
    }

    /// The earliest deadline in the heap. It may be a stale entry (earlier than any
    /// live deadline): waking early is harmless, and the wake-up drops it.
    pub(crate) fn next_timeout(&self) -> Option<Time> {
        self.deadlines.peek().map(|Reverse((t, _))| *t)
    }
}
