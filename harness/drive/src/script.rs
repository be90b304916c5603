//! The call script: what a driver does with a [`CallPlan`] and when, as a sans-IO state
//! machine both drivers poll.
//!
//! Dial; wait (bounded) for the caller's phone to see the call answered; press the plan's
//! keys at their times after answer; hang up at answer + talk (or, when no answer came,
//! hang up whatever is left: an unanswered call is cancelled); drain. The embedded driver
//! runs it over the simulated `World`, the external driver over real sockets; neither
//! repeats the timing logic. It is fed the time and the caller phone's phase and answers
//! with one [`Step`] at a time; it touches no phone or network itself.

use crate::plan::{CallPlan, Keypress, Party};
use roles::ua::CallPhase;
use sip::time::Time;
use std::time::Duration;

/// The next thing a driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Run the network and phones until this time, then ask again.
    RunUntil(Time),
    /// Press these keys on this party's phone now, then ask again.
    Press {
        /// Who presses.
        party: Party,
        /// The keys.
        digits: String,
    },
    /// Hang up the caller's phone now (a call still ringing is cancelled), then ask again.
    HangUp,
    /// The script is over: run until this time so BYEs, final RTP and stream ends land,
    /// then collect the observations.
    Drain(Time),
}

/// Timings a driver chooses (the embedded driver waits longer, the external one less).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptTimings {
    /// How long after the dial to wait for an answer before giving up.
    pub answer_wait: Duration,
    /// How often to look at the caller's phone while waiting for the answer.
    pub poll: Duration,
    /// Time after the hang-up for BYEs, final RTP and stream ends.
    pub drain: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Ringing { give_up: Time },
    Talking { answered: Time, next_key: usize },
    HungUp,
    Over,
}

/// The script of one call. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct CallScript {
    keys: Vec<Keypress>,
    talk: Duration,
    timings: ScriptTimings,
    phase: Phase,
    answered: Option<Time>,
}

impl CallScript {
    /// A script for `plan`, dialled at `dialled`.
    pub fn new(plan: &CallPlan, dialled: Time, timings: ScriptTimings) -> Self {
        let mut keys = plan.keypresses.clone();
        keys.sort_by_key(|k| k.after_answer);
        Self {
            keys,
            talk: plan.talk,
            timings,
            phase: Phase::Ringing {
                give_up: dialled + timings.answer_wait,
            },
            answered: None,
        }
    }

    /// When the caller's phone saw the call answered, once it did.
    pub fn answered_at(&self) -> Option<Time> {
        self.answered
    }

    /// The next step at `now`, given the caller phone's phase (`None`: the phone has no
    /// call any more: it failed, was declined or ended).
    pub fn next(&mut self, now: Time, caller: Option<CallPhase>) -> Step {
        loop {
            match self.phase.clone() {
                Phase::Ringing { give_up } => {
                    if caller == Some(CallPhase::Active) {
                        self.answered = Some(now);
                        self.phase = Phase::Talking {
                            answered: now,
                            next_key: 0,
                        };
                        continue;
                    }
                    if caller.is_none() || now >= give_up {
                        self.phase = Phase::HungUp;
                        if caller.is_some() {
                            return Step::HangUp;
                        }
                        continue;
                    }
                    return Step::RunUntil((now + self.timings.poll).min(give_up));
                }
                Phase::Talking { answered, next_key } => {
                    let end = answered + self.talk;
                    if caller.is_none() {
                        // The far end hung up (or the call failed): nothing left to do.
                        self.phase = Phase::HungUp;
                        continue;
                    }
                    // Keys due after the hang-up are never pressed.
                    if let Some(k) = self
                        .keys
                        .get(next_key)
                        .filter(|k| answered + k.after_answer <= end)
                    {
                        let at = answered + k.after_answer;
                        if now < at {
                            return Step::RunUntil(at);
                        }
                        self.phase = Phase::Talking {
                            answered,
                            next_key: next_key + 1,
                        };
                        return Step::Press {
                            party: k.party,
                            digits: k.digits.clone(),
                        };
                    }
                    if now < end {
                        return Step::RunUntil(end);
                    }
                    self.phase = Phase::HungUp;
                    return Step::HangUp;
                }
                Phase::HungUp => {
                    self.phase = Phase::Over;
                    return Step::Drain(now + self.timings.drain);
                }
                Phase::Over => return Step::Drain(now),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: ScriptTimings = ScriptTimings {
        answer_wait: Duration::from_secs(30),
        poll: Duration::from_millis(20),
        drain: Duration::from_secs(3),
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn plan() -> CallPlan {
        let mut p = CallPlan::answered("call-0001", "s", Duration::from_secs(10));
        p.keypresses = vec![
            Keypress {
                party: Party::Callee,
                after_answer: Duration::from_secs(6),
                digits: "*49".into(),
            },
            Keypress {
                party: Party::Caller,
                after_answer: Duration::from_secs(2),
                digits: "*48".into(),
            },
        ];
        p
    }

    #[test]
    fn keys_in_time_order_then_hang_up_at_talk_end_then_drain() {
        let t0 = Time::ZERO;
        let mut s = CallScript::new(&plan(), t0, T);
        assert_eq!(
            s.next(t0, Some(CallPhase::Dialing)),
            Step::RunUntil(t0 + ms(20))
        );
        let answer = t0 + ms(1040);
        assert_eq!(
            s.next(answer, Some(CallPhase::Active)),
            Step::RunUntil(answer + ms(2000))
        );
        assert_eq!(s.answered_at(), Some(answer));
        let at = answer + ms(2000);
        assert_eq!(
            s.next(at, Some(CallPhase::Active)),
            Step::Press {
                party: Party::Caller,
                digits: "*48".into()
            }
        );
        assert_eq!(
            s.next(at, Some(CallPhase::Active)),
            Step::RunUntil(answer + ms(6000))
        );
        let at = answer + ms(6000);
        assert!(matches!(
            s.next(at, Some(CallPhase::Active)),
            Step::Press {
                party: Party::Callee,
                ..
            }
        ));
        assert_eq!(
            s.next(at, Some(CallPhase::Active)),
            Step::RunUntil(answer + ms(10_000))
        );
        let end = answer + ms(10_000);
        assert_eq!(s.next(end, Some(CallPhase::Active)), Step::HangUp);
        assert_eq!(
            s.next(end, Some(CallPhase::Active)),
            Step::Drain(end + ms(3000))
        );
        assert_eq!(s.next(end + ms(3000), None), Step::Drain(end + ms(3000)));
    }

    #[test]
    fn no_answer_gives_up_and_cancels_at_the_deadline() {
        let t0 = Time::ZERO;
        let mut s = CallScript::new(&plan(), t0, T);
        let late = t0 + ms(29_990);
        assert_eq!(
            s.next(late, Some(CallPhase::Dialing)),
            Step::RunUntil(t0 + ms(30_000)),
            "the poll never overshoots the deadline"
        );
        let deadline = t0 + ms(30_000);
        assert_eq!(s.next(deadline, Some(CallPhase::Dialing)), Step::HangUp);
        assert_eq!(s.next(deadline, None), Step::Drain(deadline + ms(3000)));
        assert_eq!(s.answered_at(), None);
    }

    #[test]
    fn a_declined_call_drains_without_hanging_up() {
        let t0 = Time::ZERO;
        let mut s = CallScript::new(&plan(), t0, T);
        let at = t0 + ms(2000);
        assert_eq!(s.next(at, None), Step::Drain(at + ms(3000)));
    }

    #[test]
    fn a_far_end_hang_up_mid_call_drains_at_once_and_skips_pending_keys() {
        let t0 = Time::ZERO;
        let mut s = CallScript::new(&plan(), t0, T);
        assert!(matches!(
            s.next(t0, Some(CallPhase::Active)),
            Step::RunUntil(_)
        ));
        let bye = t0 + ms(1500);
        assert_eq!(s.next(bye, None), Step::Drain(bye + ms(3000)));
    }

    #[test]
    fn keys_after_the_talk_time_are_not_pressed() {
        let t0 = Time::ZERO;
        let mut p = plan();
        p.talk = Duration::from_secs(4);
        let mut s = CallScript::new(&p, t0, T);
        assert_eq!(
            s.next(t0, Some(CallPhase::Active)),
            Step::RunUntil(t0 + ms(2000))
        );
        assert!(matches!(
            s.next(t0 + ms(2000), Some(CallPhase::Active)),
            Step::Press { .. }
        ));
        assert_eq!(
            s.next(t0 + ms(2000), Some(CallPhase::Active)),
            Step::RunUntil(t0 + ms(4000)),
            "the *49 at 6 s is after the hang-up at 4 s"
        );
        assert_eq!(s.next(t0 + ms(4000), Some(CallPhase::Active)), Step::HangUp);
    }

    #[test]
    fn a_call_the_far_end_ended_is_not_hung_up_again() {
        let t0 = Time::ZERO;
        let mut p = plan();
        p.keypresses.clear();
        let mut s = CallScript::new(&p, t0, T);
        assert!(matches!(
            s.next(t0, Some(CallPhase::Active)),
            Step::RunUntil(_)
        ));
        let end = t0 + ms(10_000);
        assert_eq!(s.next(end, None), Step::Drain(end + ms(3000)));
    }
}
