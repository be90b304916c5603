//! When the calls of a load run start: rate, linear ramp, concurrency limit, call count
//! and duration (SIPp's `-r`, `-l`, `-m` and a ramp, spelled out).
//!
//! Owns the arrival function and the admission of calls. Call `k` (from 0) is due when the
//! integral of the rate reaches `k + f(k)`, where `f(k)` in `[0, 1)` places the call inside
//! its slot: at `(k + f(k)) / rate` without a ramp; with a ramp of `R` seconds the rate
//! climbs linearly from 0 to `rate`, so with `x = k + f(k)` call `k` is due at
//! `sqrt(2 R x / rate)` while `x < rate R / 2`, and at `R + (x - rate R / 2) / rate` after.
//! Times are computed from `k`, never accumulated, so a long run does not drift.
//!
//! Why `f(k)`: media frames are 20 ms apart, and a call's frames keep the phase of its
//! start. Starts exactly `k / rate` apart put every call's frames in the same instant
//! whenever `1 / rate` divides into 20 ms (50, 25, 10 calls/s...): a loop then sends
//! hundreds of frames back to back every 20 ms and the last ones leave milliseconds late
//! (measured: 456 calls at 50 calls/s, send lateness p99 2.5 ms; at 47 calls/s 0.1 ms).
//! `f(k)` is the fractional part of `k` times the golden ratio, a low-discrepancy sequence:
//! the phases spread evenly over the frame at every rate, the rate is unchanged (each call
//! stays in its own slot, so starts stay in order), and the times stay deterministic.
//!
//! When the concurrency limit holds a due call back, it starts as soon as a call ends,
//! and the calls owed catch up back to back (as SIPp does); each start reports how late
//! it is against its due time, so the driver can report the shortfall instead of hiding it.
//!
//! Shares: a run can be split into `n` shares ([`Share`]), one per event loop or per
//! machine (`--shard i/n`). Share `i` takes the calls whose global index `k` has
//! `k % n == i`, each at the due time the whole plan gives it, so the shares together
//! start exactly the calls of the unsplit plan at the same times; the concurrency limit is
//! divided among them.
//!
//! Must not touch: what a call does once started, or any clock: time is an input.

use sip::time::Time;
use std::time::Duration;

/// The highest rate accepted, in calls per second (above it the schedule's microsecond
/// resolution no longer separates starts).
pub const MAX_RATE_CPS: f64 = 100_000.0;

/// Which share of a split run a schedule runs: share `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// This share, from 0.
    pub index: u32,
    /// Shares in all (at least 1).
    pub count: u32,
}

impl Share {
    /// The whole run, unsplit.
    pub const WHOLE: Share = Share { index: 0, count: 1 };

    /// Share `index` of `count`, or `None` when `index >= count` or `count == 0`.
    pub fn new(index: u32, count: u32) -> Option<Self> {
        (index < count).then_some(Self { index, count })
    }

    /// The global index of this share's `local`-th call.
    pub fn global(&self, local: u64) -> u64 {
        u64::from(self.index) + local * u64::from(self.count.max(1))
    }

    /// How many of the first `total` global indices fall to this share.
    pub fn count_of(&self, total: u64) -> u64 {
        let n = u64::from(self.count.max(1));
        let i = u64::from(self.index);
        if total <= i {
            0
        } else {
            (total - i).div_ceil(n)
        }
    }

    /// This share's part of a concurrency limit (the remainder goes to the first shares;
    /// every share gets at least 1).
    pub fn limit_of(&self, limit: u32) -> u32 {
        let n = self.count.max(1);
        (limit / n + u32::from(self.index < limit % n)).max(1)
    }

    /// This share's part of `0..len` when a range is cut into `count` equal consecutive
    /// pieces: (offset, length).
    pub fn slice_of(&self, len: u32) -> (u32, u32) {
        let n = self.count.max(1);
        let piece = len / n;
        (self.index * piece, piece)
    }

    /// Splits this share into `k` shares of the global index space (for `k` event loops
    /// inside one shard of a multi-machine run): share `j` of the result is global share
    /// `index * k + j` of `count * k`.
    pub fn split(&self, k: u32) -> Vec<Share> {
        let k = k.max(1);
        (0..k)
            .map(|j| Share {
                index: self.index * k + j,
                count: self.count.max(1) * k,
            })
            .collect()
    }
}

impl std::fmt::Display for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Why a `--shard` text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--shard {0}: give INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/4")]
pub struct ShareParseError(pub String);

impl std::str::FromStr for Share {
    type Err = ShareParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ShareParseError(s.to_owned());
        let (i, n) = s.split_once('/').ok_or_else(err)?;
        let (i, n) = (
            i.trim().parse().map_err(|_| err())?,
            n.trim().parse().map_err(|_| err())?,
        );
        Share::new(i, n).ok_or_else(err)
    }
}

/// What the user asked for. Built from the CLI flags; checked by [`CallSchedule::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoadPlan {
    /// Target rate, calls per second (`--rate`, `-r`).
    pub rate_cps: f64,
    /// Time over which the rate climbs linearly from 0 to `rate_cps` (`--ramp`).
    pub ramp: Duration,
    /// Most calls open at once (`--concurrency`, `-l`); `None`: no limit.
    pub concurrency: Option<u32>,
    /// Most calls started in all (`--calls`, `-m`).
    pub calls: Option<u64>,
    /// No call starts this long or longer after the run's start (`--duration`).
    pub duration: Option<Duration>,
    /// The share of the run this schedule starts ([`Share::WHOLE`] unless split). `calls`
    /// and `concurrency` are for the whole run; the schedule takes its part.
    pub share: Share,
}

/// Why a plan was refused; the message names the flag and what to give instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The rate is not a positive number up to [`MAX_RATE_CPS`].
    #[error("--rate {0}: give a positive number of calls per second, at most 100000")]
    Rate(f64),
    /// A concurrency limit of 0 would start nothing.
    #[error("--concurrency 0: give at least 1, or leave it out for no limit")]
    ZeroConcurrency,
    /// A call count of 0 would start nothing.
    #[error("--calls 0: give at least 1")]
    ZeroCalls,
    /// A duration of 0 would start nothing.
    #[error("--duration 0: give a positive duration")]
    ZeroDuration,
    /// Neither bound given: a load run must end by itself.
    #[error(
        "neither --calls nor --duration is given: a load run must end by itself; give one (or both)"
    )]
    Unbounded,
    /// The share is not one of its count.
    #[error("share {0}: the index must be below the count")]
    Share(String),
}

/// One call the driver must start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallStart {
    /// The call's number in the whole run, from 0 (the key of its hold draw and
    /// identifiers; with shares, the global index).
    pub index: u64,
    /// When it was due.
    pub due: Time,
    /// How far behind its due time it starts: the driver's own lateness, or the
    /// concurrency limit holding it back.
    pub lateness: Duration,
}

/// The admission state of a run: how many calls started and are open, and which is next.
#[derive(Debug, Clone)]
pub struct CallSchedule {
    plan: LoadPlan,
    start: Time,
    started: u64,
    active: u32,
    stopped: bool,
}

/// Where in its slot call `index` starts, in `[0, 1)`: the fractional part of `index`
/// times the golden ratio (see the module docs for why).
fn slot_fraction(index: u64) -> f64 {
    const GOLDEN_FRACTION: f64 = 0.618_033_988_749_894_9;
    // Reduce first, so the product keeps its precision for any index.
    let reduced = (index % 1_000_000_007) as f64;
    (reduced * GOLDEN_FRACTION).fract()
}

impl CallSchedule {
    /// A schedule for `plan` whose first call is due at `start`.
    pub fn new(plan: LoadPlan, start: Time) -> Result<Self, PlanError> {
        if !(plan.rate_cps.is_finite() && plan.rate_cps > 0.0 && plan.rate_cps <= MAX_RATE_CPS) {
            return Err(PlanError::Rate(plan.rate_cps));
        }
        if plan.concurrency == Some(0) {
            return Err(PlanError::ZeroConcurrency);
        }
        if plan.calls == Some(0) {
            return Err(PlanError::ZeroCalls);
        }
        if plan.duration.is_some_and(|d| d.is_zero()) {
            return Err(PlanError::ZeroDuration);
        }
        if plan.calls.is_none() && plan.duration.is_none() {
            return Err(PlanError::Unbounded);
        }
        if plan.share.count == 0 || plan.share.index >= plan.share.count {
            return Err(PlanError::Share(plan.share.to_string()));
        }
        Ok(Self {
            plan,
            start,
            started: 0,
            active: 0,
            stopped: false,
        })
    }

    /// When call `index` is due, after the run's start.
    pub fn due_offset(&self, index: u64) -> Duration {
        let rate = self.plan.rate_cps;
        let ramp = self.plan.ramp.as_secs_f64();
        let k = index as f64 + slot_fraction(index);
        let ramp_calls = rate * ramp / 2.0;
        let secs = if k < ramp_calls {
            (2.0 * ramp * k / rate).sqrt()
        } else {
            ramp + (k - ramp_calls) / rate
        };
        Duration::from_secs_f64(secs)
    }

    fn due(&self, index: u64) -> Time {
        self.start
            .checked_add(self.due_offset(index))
            .unwrap_or(Time::MAX)
    }

    /// True when no further call will start: the count is reached, the next call would be
    /// due at or after the duration, or [`Self::stop`] was called.
    pub fn done_starting(&self) -> bool {
        self.stopped
            || self
                .plan
                .calls
                .is_some_and(|m| self.started >= self.plan.share.count_of(m))
            || self
                .plan
                .duration
                .is_some_and(|d| self.due_offset(self.next_global()) >= d)
    }

    /// The global index of the next call this schedule starts.
    fn next_global(&self) -> u64 {
        self.plan.share.global(self.started)
    }

    /// True when every call that will start has started and ended.
    pub fn is_finished(&self) -> bool {
        self.done_starting() && self.active == 0
    }

    fn at_limit(&self) -> bool {
        self.limit().is_some_and(|l| self.active >= l)
    }

    /// This schedule's concurrency limit (its share of the plan's).
    pub fn limit(&self) -> Option<u32> {
        self.plan.concurrency.map(|l| self.plan.share.limit_of(l))
    }

    /// The next call to start at `now`, if one is due and the limit admits it. Call it
    /// until it returns `None`: after a stall several calls can be owed at once.
    pub fn poll_start(&mut self, now: Time) -> Option<CallStart> {
        if self.done_starting() || self.at_limit() {
            return None;
        }
        let index = self.next_global();
        let due = self.due(index);
        if due > now {
            return None;
        }
        let start = CallStart {
            index,
            due,
            lateness: now.saturating_duration_since(due),
        };
        self.started += 1;
        self.active += 1;
        Some(start)
    }

    /// When the driver must next call [`Self::poll_start`]: the next call's due time, or
    /// `None` when nothing more will start or the limit holds the next call back (a call's
    /// end, reported by [`Self::call_ended`], is then what wakes the schedule).
    pub fn poll_timeout(&self) -> Option<Time> {
        if self.done_starting() || self.at_limit() {
            return None;
        }
        Some(self.due(self.next_global()))
    }

    /// A started call has ended (however it ended), freeing its slot.
    pub fn call_ended(&mut self) {
        self.active = self.active.saturating_sub(1);
    }

    /// Starts no more calls (Ctrl-C): open calls run to their end and are still counted.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Calls this schedule started so far.
    pub fn started(&self) -> u64 {
        self.started
    }

    /// Calls open now.
    pub fn active(&self) -> u32 {
        self.active
    }

    /// The plan being run.
    pub fn plan(&self) -> &LoadPlan {
        &self.plan
    }
}
