//! The RFC 3261 timers (§17, table 4 in appendix A) as named values, and the tables that
//! hold their deadlines.
//!
//! Shape copied from quinn-proto's `connection/timer.rs`: each timer is a variant of
//! [`Timer`]; a transaction keeps a `TimerTable` (one optional deadline per timer) and
//! the next wake-up is the minimum of the set entries. `Deadlines` is the
//! endpoint-wide index over many such tables, so [`poll_timeout`] costs `O(log n)` even
//! with thousands of transactions in a load run.
//!
//! [`poll_timeout`]: crate::transaction::Transactions::poll_timeout

use crate::time::Time;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::hash::Hash;
use std::time::Duration;

/// T1: RTT estimate, the base of every retransmission interval (RFC 3261 §17.1.1.1).
pub const T1: Duration = Duration::from_millis(500);
/// T2: the largest retransmit interval for non-INVITE requests and INVITE responses
/// (RFC 3261 §17.1.2.2).
pub const T2: Duration = Duration::from_secs(4);
/// T4: the longest a message stays in the network (RFC 3261 §17.1.2.2).
pub const T4: Duration = Duration::from_secs(5);
/// Timer A, initial INVITE retransmit interval for UDP: T1 (§17.1.1.2).
pub const TIMER_A: Duration = T1;
/// Timer B, INVITE transaction timeout: 64*T1 (§17.1.1.2).
pub const TIMER_B: Duration = T1.saturating_mul(64);
/// Timer D, wait time for response retransmits after a non-2xx final: "at least 32
/// seconds" for unreliable transports, zero for reliable ones (§17.1.1.2). Not derived
/// from T1 in the RFC, so not derived here.
pub const TIMER_D: Duration = Duration::from_secs(32);
/// Timer E, initial non-INVITE retransmit interval for UDP: T1 (§17.1.2.2).
pub const TIMER_E: Duration = T1;
/// Timer F, non-INVITE transaction timeout: 64*T1 (§17.1.2.2).
pub const TIMER_F: Duration = T1.saturating_mul(64);
/// Timer G, initial INVITE final-response retransmit interval: T1 (§17.2.1).
pub const TIMER_G: Duration = T1;
/// Timer H, wait time for ACK receipt: 64*T1 (§17.2.1).
pub const TIMER_H: Duration = T1.saturating_mul(64);
/// Timer I, wait time for ACK retransmits: T4 for UDP, zero for reliable (§17.2.1).
pub const TIMER_I: Duration = T4;
/// Timer J, wait time for non-INVITE request retransmits: 64*T1 for UDP, zero for
/// reliable (§17.2.2).
pub const TIMER_J: Duration = T1.saturating_mul(64);
/// Timer K, wait time for response retransmits: T4 for UDP, zero for reliable (§17.1.2.2).
pub const TIMER_K: Duration = T4;
/// Timer L, wait time for INVITE retransmits after a 2xx: 64*T1 (RFC 6026 §8.11).
pub const TIMER_L: Duration = T1.saturating_mul(64);
/// Timer M, wait time for 2xx retransmits at the client: 64*T1 (RFC 6026 §8.4).
pub const TIMER_M: Duration = T1.saturating_mul(64);
/// How long a server INVITE transaction waits for the TU's first response before it
/// sends 100 Trying itself (RFC 3261 §17.2.1: "within 200 ms").
pub const TRYING_DELAY: Duration = Duration::from_millis(200);

/// The timer base values, configurable because a SUT profile may announce a larger T1
/// (RFC 3261 §17.1.1.1 allows it); every derived timer follows from these three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerValues {
    /// T1, default [`T1`].
    pub t1: Duration,
    /// T2, default [`T2`].
    pub t2: Duration,
    /// T4, default [`T4`].
    pub t4: Duration,
    /// Timer D for unreliable transports, default [`TIMER_D`].
    pub timer_d: Duration,
    /// Delay before the automatic 100 Trying, default [`TRYING_DELAY`].
    pub trying_delay: Duration,
}

impl Default for TimerValues {
    fn default() -> Self {
        Self {
            t1: T1,
            t2: T2,
            t4: T4,
            timer_d: TIMER_D,
            trying_delay: TRYING_DELAY,
        }
    }
}

impl TimerValues {
    /// 64*T1: timers B, F, H, J (unreliable), L, M and the §13.3.1.4 2xx give-up time.
    pub fn t1_x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}

/// One of the transaction timers. Each transaction kind uses a subset (listed per
/// variant); the names are the RFC's so a log line reads like the RFC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// Client INVITE: request retransmission (UDP only), T1 doubling (§17.1.1.2).
    A,
    /// Client INVITE: transaction timeout, 64*T1 (§17.1.1.2).
    B,
    /// Client INVITE: Completed → Terminated (§17.1.1.2).
    D,
    /// Client non-INVITE: request retransmission (UDP only), T1 doubling up to T2
    /// (§17.1.2.2).
    E,
    /// Client non-INVITE: transaction timeout, 64*T1 (§17.1.2.2).
    F,
    /// Server INVITE: final response retransmission (UDP only), T1 doubling up to T2
    /// (§17.2.1).
    G,
    /// Server INVITE: ACK wait, 64*T1 (§17.2.1).
    H,
    /// Server INVITE: Confirmed → Terminated (§17.2.1).
    I,
    /// Server non-INVITE: Completed → Terminated (§17.2.2).
    J,
    /// Client non-INVITE: Completed → Terminated (§17.1.2.2).
    K,
    /// Server INVITE: Accepted → Terminated (RFC 6026 §8.7).
    L,
    /// Client INVITE: Accepted → Terminated (RFC 6026 §8.4).
    M,
    /// Server INVITE: send 100 Trying if the TU has not answered (§17.2.1).
    Trying,
}

impl Timer {
    /// Every timer, in table order.
    pub const ALL: [Self; 13] = [
        Self::A,
        Self::B,
        Self::D,
        Self::E,
        Self::F,
        Self::G,
        Self::H,
        Self::I,
        Self::J,
        Self::K,
        Self::L,
        Self::M,
        Self::Trying,
    ];

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Trying => f.write_str("100 Trying timer"),
            other => write!(f, "Timer {other:?}"),
        }
    }
}

/// One transaction's deadlines, indexed by [`Timer`] (quinn's `TimerTable`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TimerTable([Option<Time>; Timer::ALL.len()]);

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Time) {
        self.0[timer.index()] = Some(at);
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Time> {
        self.0[timer.index()]
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.0[timer.index()] = None;
    }

    pub(crate) fn stop_all(&mut self) {
        *self = Self::default();
    }

    /// The earliest timer due at or before `now` (ties go to table order), cleared.
    pub(crate) fn take_expired(&mut self, now: Time) -> Option<Timer> {
        let (timer, _) = Timer::ALL
            .iter()
            .filter_map(|&t| self.get(t).map(|at| (t, at)))
            .filter(|&(_, at)| at <= now)
            .min_by_key(|&(t, at)| (at, t))?;
        self.stop(timer);
        Some(timer)
    }
}

/// A set of deadlines keyed by `K`, ordered by time: the endpoint-wide timer index.
///
/// Each key has at most one deadline; setting it again moves it.
#[derive(Debug, Clone)]
pub(crate) struct Deadlines<K: Ord + Copy + Hash> {
    by_time: BTreeSet<(Time, K)>,
    by_key: HashMap<K, Time>,
}

impl<K: Ord + Copy + Hash> Default for Deadlines<K> {
    fn default() -> Self {
        Self {
            by_time: BTreeSet::new(),
            by_key: HashMap::new(),
        }
    }
}

impl<K: Ord + Copy + Hash> Deadlines<K> {
    pub(crate) fn set(&mut self, key: K, at: Time) {
        if let Some(old) = self.by_key.insert(key, at) {
            self.by_time.remove(&(old, key));
        }
        self.by_time.insert((at, key));
    }

    pub(crate) fn clear(&mut self, key: K) {
        if let Some(old) = self.by_key.remove(&key) {
            self.by_time.remove(&(old, key));
        }
    }

    /// Sets or clears, whichever `at` says.
    pub(crate) fn put(&mut self, key: K, at: Option<Time>) {
        match at {
            Some(at) => self.set(key, at),
            None => self.clear(key),
        }
    }

    pub(crate) fn next(&self) -> Option<Time> {
        self.by_time.first().map(|&(at, _)| at)
    }

    /// Removes and returns the earliest key due at or before `now`.
    pub(crate) fn pop_expired(&mut self, now: Time) -> Option<K> {
        let &(at, key) = self.by_time.first()?;
        if at > now {
            return None;
        }
        self.by_time.remove(&(at, key));
        self.by_key.remove(&key);
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_timers_follow_the_rfc_table() {
        assert_eq!(TIMER_B, Duration::from_secs(32));
        assert_eq!(TIMER_F, Duration::from_secs(32));
        assert_eq!(TIMER_H, Duration::from_secs(32));
        assert_eq!(TIMER_J, Duration::from_secs(32));
        assert_eq!(TIMER_I, Duration::from_secs(5));
        assert_eq!(TIMER_K, Duration::from_secs(5));
        assert_eq!(TimerValues::default().t1_x64(), TIMER_B);
    }

    #[test]
    fn table_takes_earliest_first_and_clears_it() {
        let mut t = TimerTable::default();
        t.set(Timer::B, Time::from_secs(32));
        t.set(Timer::A, Time::from_millis(500));
        assert_eq!(t.take_expired(Time::from_millis(499)), None);
        assert_eq!(t.take_expired(Time::from_secs(40)), Some(Timer::A));
        assert_eq!(t.take_expired(Time::from_secs(40)), Some(Timer::B));
        assert_eq!(t.take_expired(Time::from_secs(40)), None);
    }

    #[test]
    fn deadlines_move_and_pop_in_time_order() {
        let mut d = Deadlines::default();
        d.set(1u32, Time::from_secs(5));
        d.set(2u32, Time::from_secs(3));
        d.set(1u32, Time::from_secs(1));
        assert_eq!(d.next(), Some(Time::from_secs(1)));
        d.clear(1);
        assert_eq!(d.next(), Some(Time::from_secs(3)));
        assert_eq!(d.pop_expired(Time::from_secs(2)), None);
        assert_eq!(d.pop_expired(Time::from_secs(3)), Some(2));
        assert_eq!(d.next(), None);
    }
}
