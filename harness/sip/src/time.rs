//! Time as an input: the instant type every sans-IO core in recproof takes as `now`.
//!
//! The cores never read a clock. Drivers read their runtime's
//! clock (tokio's, which a paused or simulated runtime controls), subtract an origin they
//! chose once, and pass the result in as a [`Time`]; tests simply count. Because a
//! [`Time`] is a plain number of microseconds, a simulated test can name exact instants
//! (`Time::from_millis(1500)`) and compare them with `==`, which `std::time::Instant`
//! cannot do.
//!
//! This module owns only the arithmetic. It must not grow a `now()` function.
//!
//! ```
//! use recproof_sip::time::Time;
//! use std::time::Duration;
//!
//! let origin = Time::ZERO;
//! let later = origin + Duration::from_millis(500);
//! assert_eq!(later, Time::from_millis(500));
//! assert_eq!(later - origin, Duration::from_millis(500));
//! assert_eq!(later.to_string(), "0.500000s");
//! ```

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

/// An instant, in microseconds since an origin the driver chose (typically the start of
/// the run).
///
/// Arithmetic saturates instead of overflowing: a peer cannot make a deadline wrap.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(u64);

impl Time {
    /// The origin.
    pub const ZERO: Self = Self(0);
    /// The latest representable instant (about 584 000 years after the origin).
    pub const MAX: Self = Self(u64::MAX);

    /// An instant `us` microseconds after the origin.
    pub const fn from_micros(us: u64) -> Self {
        Self(us)
    }

    /// An instant `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms.saturating_mul(1_000))
    }

    /// An instant `s` seconds after the origin.
    pub const fn from_secs(s: u64) -> Self {
        Self(s.saturating_mul(1_000_000))
    }

    /// The instant that lies `since_origin` after the origin; how a driver converts
    /// `runtime_now - run_start` into core time.
    pub fn from_duration(since_origin: Duration) -> Self {
        Self(u64::try_from(since_origin.as_micros()).unwrap_or(u64::MAX))
    }

    /// Microseconds since the origin.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// The time since the origin, for converting back to a runtime instant.
    pub const fn since_origin(self) -> Duration {
        Duration::from_micros(self.0)
    }

    /// How long after `earlier` this is, or zero if it is not later.
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, or `None` past [`Time::MAX`].
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        let us = u64::try_from(d.as_micros()).ok()?;
        self.0.checked_add(us).map(Self)
    }
}

impl Add<Duration> for Time {
    type Output = Self;
    /// Saturates at [`Time::MAX`].
    fn add(self, d: Duration) -> Self {
        self.checked_add(d).unwrap_or(Self::MAX)
    }
}

impl AddAssign<Duration> for Time {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Duration> for Time {
    type Output = Self;
    /// Saturates at the origin.
    fn sub(self, d: Duration) -> Self {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Self(self.0.saturating_sub(us))
    }
}

impl Sub for Time {
    type Output = Duration;
    /// Saturates at zero, like [`Time::saturating_duration_since`].
    fn sub(self, earlier: Self) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Display for Time {
    /// Seconds with microsecond precision, e.g. `31.500000s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

impl fmt::Debug for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Time({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_exact_and_saturates() {
        let t = Time::from_millis(1500);
        assert_eq!(t.as_micros(), 1_500_000);
        assert_eq!(t + Duration::from_millis(500), Time::from_secs(2));
        assert_eq!(t - Duration::from_secs(5), Time::ZERO);
        assert_eq!(Time::ZERO - t, Duration::ZERO);
        assert_eq!(t - Time::from_millis(500), Duration::from_secs(1));
        assert_eq!(Time::MAX + Duration::from_secs(1), Time::MAX);
        assert_eq!(Time::MAX.checked_add(Duration::from_micros(1)), None);
        assert_eq!(Time::from_duration(Duration::MAX), Time::MAX);
        assert_eq!(Time::from_duration(t.since_origin()), t);
        let mut u = Time::ZERO;
        u += Duration::from_micros(7);
        assert_eq!(u.as_micros(), 7);
        assert_eq!(format!("{t:?}"), "Time(1.500000s)");
    }
}
