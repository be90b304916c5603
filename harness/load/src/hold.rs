//! How long a load call is held after it is answered (`--hold`).
//!
//! Owns the hold-time choices and their text form; the draw for call `index` depends only
//! on the run's seed and the index, so a call's length does not change when the order in
//! which calls start does (a rerun with the same seed holds every call as long as before).
//!
//! Must not touch: the schedule of starts (see [`crate::schedule`]).

use rand::SeedableRng;
use rand::distr::{Distribution, Uniform};
use rand::rngs::SmallRng;
use rand_distr::{Exp, Normal};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The longest hold recproof accepts (a call held longer is not a load call), and the cap
/// on every draw, so a long-tailed distribution still ends every call by a timer.
pub const MAX_HOLD: Duration = Duration::from_secs(3_600);

/// A call's hold time: fixed, as SIPp's `-d`, or drawn per call, as SIPp's `<pause
/// distribution=...>`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Hold {
    /// Every call is held this long.
    Fixed(Duration),
    /// Uniform between `min` and `max`.
    Uniform {
        /// Shortest hold.
        min: Duration,
        /// Longest hold.
        max: Duration,
    },
    /// Exponential with this mean (the classic telephony call-length model), capped at
    /// [`MAX_HOLD`].
    Exponential {
        /// Mean hold.
        mean: Duration,
    },
    /// Normal with this mean and standard deviation, clamped to 0..=[`MAX_HOLD`].
    Normal {
        /// Mean hold.
        mean: Duration,
        /// Standard deviation.
        std_dev: Duration,
    },
}

/// Why a `--hold` text was refused; the message says which forms are accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--hold {text}: {reason}; give seconds (`20`, `2.5`), `uniform:MIN-MAX`, `exp:MEAN` or `normal:MEAN,STDDEV` (seconds, at most 3600)"
)]
pub struct HoldParseError {
    /// The text given.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Hold {
    /// The hold of call `index` in a run seeded with `seed`.
    pub fn sample(&self, seed: u64, index: u64) -> Duration {
        // One small generator per call, keyed by (seed, index): reproducible and
        // independent of the order calls start in. The odd constant spreads indices
        // (SplitMix64's increment).
        let mut rng = SmallRng::seed_from_u64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let secs = match *self {
            Self::Fixed(d) => return d,
            Self::Uniform { min, max } => {
                match Uniform::new_inclusive(min.as_secs_f64(), max.as_secs_f64()) {
                    Ok(u) => u.sample(&mut rng),
                    Err(_) => min.as_secs_f64(),
                }
            }
            Self::Exponential { mean } => match Exp::new(1.0 / mean.as_secs_f64()) {
                Ok(e) => e.sample(&mut rng),
                Err(_) => mean.as_secs_f64(),
            },
            Self::Normal { mean, std_dev } => {
                match Normal::new(mean.as_secs_f64(), std_dev.as_secs_f64()) {
                    Ok(n) => n.sample(&mut rng),
                    Err(_) => mean.as_secs_f64(),
                }
            }
        };
        Duration::from_secs_f64(secs.clamp(0.0, MAX_HOLD.as_secs_f64()))
    }

    /// The mean hold, for sizing: expected concurrency is rate x mean hold (Little's law).
    pub fn mean(&self) -> Duration {
        match *self {
            Self::Fixed(d) => d,
            Self::Uniform { min, max } => (min + max) / 2,
            Self::Exponential { mean } | Self::Normal { mean, .. } => mean,
        }
    }
}

fn seconds(text: &str, whole: &str) -> Result<Duration, HoldParseError> {
    let refuse = |reason| HoldParseError {
        text: whole.to_owned(),
        reason,
    };
    let t = text.trim().trim_end_matches('s');
    let v: f64 = t.parse().map_err(|_| refuse("not a number of seconds"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(refuse("a hold is a non-negative number of seconds"));
    }
    let d = Duration::from_secs_f64(v);
    if d > MAX_HOLD {
        return Err(refuse("longer than an hour"));
    }
    Ok(d)
}

impl FromStr for Hold {
    type Err = HoldParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let refuse = |reason| HoldParseError {
            text: s.to_owned(),
            reason,
        };
        let Some((kind, args)) = s.split_once(':') else {
            return Ok(Self::Fixed(seconds(s, s)?));
        };
        match kind.trim() {
            "uniform" => {
                let (a, b) = args
                    .split_once('-')
                    .ok_or_else(|| refuse("uniform needs MIN-MAX"))?;
                let (min, max) = (seconds(a, s)?, seconds(b, s)?);
                if min > max {
                    return Err(refuse("uniform's MIN is above its MAX"));
                }
                Ok(Self::Uniform { min, max })
            }
            "exp" => {
                let mean = seconds(args, s)?;
                if mean.is_zero() {
                    return Err(refuse("an exponential hold needs a positive mean"));
                }
                Ok(Self::Exponential { mean })
            }
            "normal" => {
                let (a, b) = args
                    .split_once(',')
                    .ok_or_else(|| refuse("normal needs MEAN,STDDEV"))?;
                Ok(Self::Normal {
                    mean: seconds(a, s)?,
                    std_dev: seconds(b, s)?,
                })
            }
            _ => Err(refuse("unknown distribution")),
        }
    }
}

impl fmt::Display for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(d) => write!(f, "{}", d.as_secs_f64()),
            Self::Uniform { min, max } => {
                write!(f, "uniform:{}-{}", min.as_secs_f64(), max.as_secs_f64())
            }
            Self::Exponential { mean } => write!(f, "exp:{}", mean.as_secs_f64()),
            Self::Normal { mean, std_dev } => {
                write!(f, "normal:{},{}", mean.as_secs_f64(), std_dev.as_secs_f64())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_forms_parse_and_print_back() {
        for text in ["20", "2.5", "uniform:10-30", "exp:20", "normal:20,5"] {
            let hold: Hold = text.parse().expect(text);
            assert_eq!(hold.to_string(), text);
        }
        assert_eq!(
            "8s".parse::<Hold>(),
            Ok(Hold::Fixed(Duration::from_secs(8)))
        );
    }

    #[test]
    fn bad_holds_say_what_is_accepted() {
        for text in [
            "-1",
            "x",
            "uniform:30-10",
            "exp:0",
            "poisson:3",
            "7200",
            "NaN",
        ] {
            let err = text.parse::<Hold>().expect_err(text).to_string();
            assert!(err.contains("uniform:MIN-MAX"), "{err}");
            assert!(err.contains(text), "{err}");
        }
    }

    #[test]
    fn draws_are_reproducible_per_call_and_differ_between_calls() {
        let hold: Hold = "exp:20".parse().expect("hold");
        assert_eq!(hold.sample(7, 3), hold.sample(7, 3));
        assert_ne!(hold.sample(7, 3), hold.sample(7, 4));
        assert_ne!(hold.sample(7, 3), hold.sample(8, 3));
    }

    #[test]
    fn the_mean_of_many_draws_is_near_the_stated_mean() {
        for text in ["uniform:10-30", "exp:20", "normal:20,5"] {
            let hold: Hold = text.parse().expect(text);
            let n = 20_000;
            let total: f64 = (0..n).map(|i| hold.sample(1, i).as_secs_f64()).sum();
            let mean = total / n as f64;
            assert!((mean - 20.0).abs() < 0.6, "{text}: mean {mean}");
        }
    }
}
