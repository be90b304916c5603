//! How a direct call's legs are judged (the load checks of `recproof load --direct`), and
//! the call record types, re-exported from `recproof-load-model`.
//!
//! Owns: [`LegRules`] and [`judge_leg`], the per-leg media checks. A call passes only
//! when it was set up, torn down, and every check made on it passed; a check that could
//! not be made is not written as a pass (the call fails with the reason).
//!
//! Must not touch: sockets, clocks, aggregation (see [`crate::stats`]).

use crate::leg::TAIL_ALLOWANCE;
pub use loadmodel::record::*;

/// What the leg checks allow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LegRules {
    /// Highest fraction of sent frames that may go unheard (beyond the last
    /// [`TAIL_ALLOWANCE`] frames, which may cross the BYE).
    pub max_frame_loss: f64,
}

impl Default for LegRules {
    fn default() -> Self {
        Self {
            max_frame_loss: 0.0,
        }
    }
}

/// The media checks of one leg: every frame sent was heard (up to the allowance), the
/// first frame heard was frame 0 (no front clipping), and no other party's audio was heard.
pub fn judge_leg(leg: &LegRecord, rules: LegRules) -> Vec<CallCheck> {
    let dir = &leg.direction;
    let c = &leg.counts;
    let mut out = Vec::with_capacity(3);
    let allowed = TAIL_ALLOWANCE + (rules.max_frame_loss * leg.sent as f64).floor() as u64;
    let missing = leg.sent.saturating_sub(c.frames);
    let delivered = if leg.sent == 0 {
        (
            Verdict::Fail,
            "the sending party emitted no frames, so delivery cannot be judged".to_owned(),
        )
    } else if missing <= allowed && c.frames > 0 {
        (
            Verdict::Pass,
            format!(
                "{} of {} frames heard ({} packets)",
                c.frames, leg.sent, c.packets
            ),
        )
    } else {
        (
            Verdict::Fail,
            format!(
                "{} of {} frames heard, {missing} missing (at most {allowed} allowed); {} packets \
                 taken in, {} rejected",
                c.frames, leg.sent, c.packets, c.rejected
            ),
        )
    };
    out.push(check(format!("media.delivered[{dir}]"), delivered));
    let front = match c.first_frame {
        Some(0) => (Verdict::Pass, "frame 0 was the first heard".to_owned()),
        Some(n) => (
            Verdict::Fail,
            format!(
                "the first frame heard was frame {n}: {} ms of the start missing",
                n * 20
            ),
        ),
        None => (
            Verdict::Fail,
            "no frame of the expected party was heard".to_owned(),
        ),
    };
    out.push(check(format!("media.front[{dir}]"), front));
    let foreign = match c.first_foreign_party {
        None => (
            Verdict::Pass,
            "only the expected party's frames were decoded".to_owned(),
        ),
        Some(p) => (
            Verdict::Fail,
            format!(
                "{} frames of another party (party {p}) were heard, over {} RTP source(s)",
                c.foreign_frames, c.sources
            ),
        ),
    };
    out.push(check(format!("media.foreign[{dir}]"), foreign));
    out
}

fn check(id: String, (verdict, observed): (Verdict, String)) -> CallCheck {
    CallCheck::own(id, verdict, observed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(sent: u64, frames: u64, first: Option<u64>, foreign: Option<u8>) -> LegRecord {
        LegRecord {
            direction: "caller->callee".into(),
            sent,
            counts: LegCounts {
                packets: frames,
                frames,
                first_frame: first,
                first_foreign_party: foreign,
                foreign_frames: u64::from(foreign.is_some()) * 10,
                ..LegCounts::default()
            },
        }
    }

    fn verdicts(l: &LegRecord, rules: LegRules) -> Vec<Verdict> {
        judge_leg(l, rules).into_iter().map(|c| c.verdict).collect()
    }

    #[test]
    fn a_complete_leg_passes_every_check() {
        use Verdict::Pass;
        assert_eq!(
            verdicts(&leg(500, 499, Some(0), None), LegRules::default()),
            [Pass, Pass, Pass]
        );
    }

    #[test]
    fn loss_beyond_the_allowance_fails_delivery_only() {
        use Verdict::{Fail, Pass};
        let l = leg(500, 490, Some(0), None);
        assert_eq!(verdicts(&l, LegRules::default()), [Fail, Pass, Pass]);
        let lenient = LegRules {
            max_frame_loss: 0.02,
        };
        assert_eq!(verdicts(&l, lenient), [Pass, Pass, Pass]);
    }

    #[test]
    fn clipping_foreign_audio_and_silence_fail() {
        use Verdict::{Fail, Pass};
        let rules = LegRules::default();
        assert_eq!(
            verdicts(&leg(500, 499, Some(1), None), rules),
            [Pass, Fail, Pass]
        );
        assert_eq!(
            verdicts(&leg(500, 500, Some(0), Some(3)), rules),
            [Pass, Pass, Fail]
        );
        assert_eq!(
            verdicts(&leg(500, 0, None, None), rules),
            [Fail, Fail, Pass]
        );
        assert_eq!(verdicts(&leg(0, 0, None, None), rules)[0], Fail);
    }
}
