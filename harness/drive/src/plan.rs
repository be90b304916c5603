//! What one harness call does, in the order a person would: who calls whom, whether and
//! when the callee answers, which keys are pressed when, how long they talk.
//!
//! A plan is data: the embedded driver ([`crate::embedded`]) and, later, the real-time
//! driver turn it into commands on the party phones at the right times. It knows nothing
//! of SIP or of the platform.

use std::time::Duration;

/// One of the two simulated people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    /// The calling party.
    Caller,
    /// The called party (the recorded person in the suite's scenarios).
    Callee,
}

impl Party {
    /// Name used in stream names and observations (`caller`, `callee`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Caller => "caller",
            Self::Callee => "callee",
        }
    }
}

/// How the callee's phone treats the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Rings for this long, then answers.
    After(Duration),
    /// Rings and never answers (the platform's no-answer timer sends the caller to
    /// voicemail).
    Never,
    /// Rings, then declines with this status (486 Busy Here, 603 Decline...).
    Decline(u16),
}

/// Keys pressed by a party at a time after answer (RFC 4733 events on the media path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keypress {
    /// Who presses.
    pub party: Party,
    /// How long after answer.
    pub after_answer: Duration,
    /// The keys, e.g. `*44`.
    pub digits: String,
}

/// A whole call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallPlan {
    /// Harness call label (`call-0001`), carried on every observation.
    pub label: String,
    /// Scenario name for [`observe::Event::CallStarted`].
    pub scenario: String,
    /// The callee's answer behaviour.
    pub answer: Answer,
    /// Keys pressed during the call.
    pub keypresses: Vec<Keypress>,
    /// From answer (by the callee, or by voicemail) until the caller hangs up.
    pub talk: Duration,
}

impl CallPlan {
    /// A call the callee answers after 1 s, talking for `talk`.
    pub fn answered(label: &str, scenario: &str, talk: Duration) -> Self {
        Self {
            label: label.to_owned(),
            scenario: scenario.to_owned(),
            answer: Answer::After(Duration::from_secs(1)),
            keypresses: Vec::new(),
            talk,
        }
    }

    /// The latest time after answer anything in the plan happens.
    pub fn last_action(&self) -> Duration {
        self.keypresses
            .iter()
            .map(|k| k.after_answer)
            .max()
            .unwrap_or_default()
            .max(self.talk)
    }
}
