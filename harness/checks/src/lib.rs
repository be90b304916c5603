//! recproof's checks: pure functions from an observation log to verdicts.
//!
//! Observation and judgement are separate (`shared/design.md`, "How data flows"): the
//! roles only record what they saw ([`observe`]); this crate reads that log and says,
//! per requirement of `shared/spec/siprec-checklist.md`, whether a call met it, in a
//! sentence a compliance reviewer understands, with the observations and numbers behind
//! it. Because it is a pure function of the log, a saved run (or a pcap import) can be
//! judged again offline, and the same checks judge the embedded reference platform and
//! an external system under test.
//!
//! # Inputs and outputs
//!
//! - [`CallExpectation`]: what the policy says should happen on the call (mode, provider,
//!   announcements, reminder, pause notice, feature codes, voicemail, SRS failure...).
//!   [`Tolerances`]: how strict to be, with documented defaults. Both deserialize from a
//!   SUT profile.
//! - [`Verdict`]: requirement ID, stable check id, [`Status`], summary, [`Evidence`],
//!   [`Measurement`]s.
//! - [`judge_call`] runs every check on one call; each check is also its own public
//!   function with the same arguments, so a scenario step can call just one.
//!
//! # The checks
//!
//! | requirement | function | what it judges |
//! |---|---|---|
//! | POL-01 | [`recording::record_mode`], [`recording::front_clipping`] | RS present or absent by mode; media from answer; On Demand: nothing before the start code; front clipping |
//! | POL-02 | [`recording::feature_codes`] | each feature code took effect at the recorder (or none, where the mode does not support it) |
//! | POL-03 | [`announcements::start_stop_heard`] | both parties hear the start/stop announcement at recording start and stop, and none when disabled |
//! | POL-04 | [`announcements::not_recorded`] | no announcement on any recorded stream |
//! | POL-05 | [`announcements::reported_as_metadata`] | a metadata update with recproof's announcement element within T of each announcement |
//! | POL-06 | [`reminder::reminder_tone`] | reminder intervals within tolerance, none when disabled, none while paused or not recording |
//! | POL-07 | [`announcements::pause_notice`] | the configured pause/resume notice (beep, announcement, none) |
//! | POL-09, SRC-10, SRC-11 | [`streams::stream_count`], [`streams::labels_match`], [`streams::one_party_per_stream`] | two streams, SDP labels = metadata labels, each stream one party's audio |
//! | SRC-17 | [`streams::silent_while_paused`] | no party audio at the recorder while paused |
//! | POL-10 | [`recording::voicemail`] | voicemail deposit recorded or not |
//! | POL-11, POL-12 | [`recording::provider`] | the RS reached the expected recorder, or none at all for provider None |
//! | POL-13 (SRC-22) | [`recording::failure_behaviour`] | what happened to the call when the recorder failed |
//! | SRC-20 | [`recording::rs_ends_with_call`] | the RS ended with BYE when the call ended |
//! | SRC-02..13, SRC-23, MD-xx, POL-17, SIP-xx | [`messages::single_message`] | `recproof_siprec::validate` over every RS request the recorder received |
//! | RP-LATENCY | [`latency::answer_to_media`], [`latency::mouth_to_ear`], [`latency::party_to_recorder`], [`latency::recording_start_delay`] | media latency against thresholds |
//!
//! # recproof's own IDs
//!
//! The checklist has no item for media latency, so those verdicts cite `RP-LATENCY`
//! (recproof requirement: "recording must not delay or clip the parties' audio beyond
//! the profile's thresholds"), the tag `features/failure_and_latency.feature` uses.
//! Front clipping of the recording is judged under POL-01 ("media from answer"), as the
//! reference platform's `late-recording-start` fault catalogue does.
//!
//! # Ground truth is not used
//!
//! [`observe::Event::PlatformAction`] (the reference platform's own account) is never
//! read here: the timeline of a call ([`timeline`]) comes from what the parties and the
//! recorder observed, so the checks work unchanged against an external SUT.
//!
//! # What this crate must not do
//!
//! No I/O, no clock, no randomness, no panics on any log content (malformed SIP or XML in
//! the log becomes a finding or is skipped). It does not drive calls or write reports.

pub mod announcements;
pub mod expect;
pub mod latency;
pub mod messages;
pub mod recording;
pub mod reminder;
pub mod streams;
pub mod timeline;
pub mod verdict;

pub use expect::{
    Announcements, CallExpectation, Dialect, Failure, FailureBehavior, FeatureCodes, PauseNotice,
    RecordMode, Reminder, SrsTarget, Tolerances, Voicemail,
};
pub use timeline::{CallView, Timeline};
pub use verdict::{Evidence, Measurement, Status, Verdict};

use observe::Observation;

/// Everything a check needs about one call, derived once: the call's observations, its
/// timeline, the expectation and the tolerances.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The call label.
    pub call: String,
    /// The call's observations.
    pub view: CallView<'a>,
    /// Its derived timeline.
    pub timeline: Timeline,
    /// What the policy says.
    pub expect: &'a CallExpectation,
    /// How strict to be.
    pub tol: &'a Tolerances,
}

impl<'a> Context<'a> {
    /// Selects the call's observations and derives its timeline.
    pub fn new(
        log: &'a [Observation],
        call: &str,
        expect: &'a CallExpectation,
        tol: &'a Tolerances,
    ) -> Self {
        let view = CallView::new(log, call);
        let timeline = Timeline::derive(&view, expect, tol);
        Self {
            call: call.to_owned(),
            view,
            timeline,
            expect,
            tol,
        }
    }

    /// A time as people read it: seconds after answer (or after the call started, for
    /// an unanswered call).
    pub fn at(&self, t_us: u64) -> String {
        match (self.timeline.answered_us, self.timeline.started_us) {
            (Some(a), _) => rel(t_us, a, "answer"),
            (None, Some(s)) => rel(t_us, s, "the call started"),
            (None, None) => format!("{} s into the run", verdict::secs(t_us as i64)),
        }
    }

    /// A verdict for this call.
    pub fn verdict(
        &self,
        requirement: &str,
        check: &str,
        status: Status,
        summary: impl Into<String>,
    ) -> Verdict {
        Verdict::new(requirement, check, &self.call, status, summary)
    }
}

fn rel(t: u64, base: u64, what: &str) -> String {
    let d = t as i64 - base as i64;
    // A few ms before rounds to "0.00 s before answer", which reads as a contradiction.
    if d >= 0 || verdict::secs(-d) == verdict::secs(0) {
        format!("{} s after {what}", verdict::secs(d.max(0)))
    } else {
        format!("{} s before {what}", verdict::secs(-d))
    }
}

/// Runs every check on one call and returns all verdicts, in the order of the table in
/// the crate docs. Checks that do not apply say so ([`Status::NotApplicable`]).
pub fn judge_call(
    log: &[Observation],
    call: &str,
    expect: &CallExpectation,
    tol: &Tolerances,
) -> Vec<Verdict> {
    let ctx = Context::new(log, call, expect, tol);
    judge(&ctx)
}

/// [`judge_call`] on a prepared [`Context`].
pub fn judge(ctx: &Context<'_>) -> Vec<Verdict> {
    let mut v = Vec::new();
    v.extend(recording::record_mode_in(ctx));
    v.extend(recording::front_clipping_in(ctx));
    v.extend(recording::feature_codes_in(ctx));
    v.extend(announcements::start_stop_heard_in(ctx));
    v.extend(announcements::not_recorded_in(ctx));
    v.extend(announcements::reported_as_metadata_in(ctx));
    v.extend(reminder::reminder_tone_in(ctx));
    v.extend(announcements::pause_notice_in(ctx));
    v.extend(streams::stream_count_in(ctx));
    v.extend(streams::labels_match_in(ctx));
    v.extend(streams::one_party_per_stream_in(ctx));
    v.extend(streams::silent_while_paused_in(ctx));
    v.extend(recording::voicemail_in(ctx));
    v.extend(recording::provider_in(ctx));
    v.extend(recording::failure_behaviour_in(ctx));
    v.extend(recording::rs_ends_with_call_in(ctx));
    v.extend(messages::single_message_in(ctx));
    v.extend(latency::answer_to_media_in(ctx));
    v.extend(latency::mouth_to_ear_in(ctx));
    v.extend(latency::party_to_recorder_in(ctx));
    v
}

/// Declares the public form of a check: `pub fn name(log, call, expect, tol)` building a
/// [`Context`] and calling `name_in`.
macro_rules! public_check {
    ($(#[$doc:meta])* $name:ident, $inner:ident) => {
        $(#[$doc])*
        pub fn $name(
            log: &[observe::Observation],
            call: &str,
            expect: &$crate::CallExpectation,
            tol: &$crate::Tolerances,
        ) -> Vec<$crate::Verdict> {
            $inner(&$crate::Context::new(log, call, expect, tol))
        }
    };
}
pub(crate) use public_check;

/// True for a stream the recorder received (`srs.<label>`).
pub(crate) fn is_srs(stream: &str) -> bool {
    stream.starts_with("srs.")
}

/// The SDP label of a recorder stream: `srs.<label>`, or `srs.s<n>.<label>` for the
/// n-th recording session under one call label (the SRS emulator's naming).
pub fn label_of(stream: &str) -> &str {
    let rest = stream.strip_prefix("srs.").unwrap_or(stream);
    if let Some((first, tail)) = rest.split_once('.')
        && first.len() > 1
        && first.starts_with('s')
        && first[1..].bytes().all(|b| b.is_ascii_digit())
    {
        return tail;
    }
    rest
}

/// The stream on which a party's phone played what it heard.
pub(crate) fn heard(party: &str) -> String {
    format!("{party}.heard")
}

/// The two parties, in report order.
pub(crate) const PARTIES: [&str; 2] = ["caller", "callee"];

/// Overlap of two half-open intervals, µs.
pub(crate) fn overlap(a0: u64, a1: u64, b0: u64, b1: u64) -> u64 {
    a1.min(b1).saturating_sub(a0.max(b0))
}

#[cfg(test)]
mod rel_tests {
    use super::rel;

    #[test]
    fn times_read_naturally_around_the_reference() {
        assert_eq!(rel(1_500_000, 1_000_000, "answer"), "0.50 s after answer");
        assert_eq!(rel(500_000, 1_000_000, "answer"), "0.50 s before answer");
        // 2 ms early rounds to zero: not "0.00 s before", not "-0.00 s after".
        assert_eq!(rel(998_000, 1_000_000, "answer"), "0.00 s after answer");
    }
}
