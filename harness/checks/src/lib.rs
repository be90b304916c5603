//! recproof's checks: pure functions from an observation log to verdicts.
//!
//! Observation and judgement are separate: the roles only record what they saw
//! ([`observe`]); this crate reads that log and says, per requirement ID (the
//! catalogue is `docs/requirements.md`, generated from the requirement registry), whether
//! a call met it, in a sentence a compliance reviewer understands, with the observations
//! and numbers behind it. Because it is a pure function of the log, a saved run (or a
//! pcap import) can be judged again offline, and the same checks judge the embedded
//! reference platform and an external system under test.
//!
//! # Inputs and outputs
//!
//! - [`CallExpectation`]: what the policy says should happen on the call (mode, provider,
//!   announcements, reminder, pause notice, feature codes, voicemail, SRS failure...) and
//!   what the SUT's notices sound like ([`Signals`]: clip names, tone frequencies; only
//!   what is known, never another platform's values). [`Tolerances`]: how strict to be,
//!   with documented simulated and real-time defaults.
//! - [`Verdict`]: requirement ID, stable check id, [`Status`], summary, [`Evidence`],
//!   [`Measurement`]s.
//! - [`judge_call`] runs every check on one call; each check is also its own public
//!   function with the same arguments, so a scenario step can call just one.
//!
//! # The judgement contract
//!
//! A check says PASS only for what it observed: a claim about absence ("no announcement
//! in the recording") passes only when the thing it is about happened (an announcement
//! was played and a recording was made); when it did not, the verdict is NOT APPLICABLE
//! with the reason, which a scenario step treats as a failure ("not judged: ..."). The
//! preconditions of every call are verdicts of their own ([`preconditions`], RP-CALL).
//!
//! # The checks
//!
//! [`CATALOGUE`] lists every check id with its requirement and what it judges; a test
//! keeps it equal to what [`judge_call`] emits.
//!
//! # recproof's own IDs
//!
//! The checklist has no item for media latency or for the call itself, so those verdicts
//! cite recproof's `RP-LATENCY` ("recording must not delay or clip the parties' audio
//! beyond the profile's thresholds") and `RP-CALL` ("the test call happened: answered,
//! media both ways, and where the policy records it, a recording with party audio").
//! Front clipping of the recording is judged under POL-01 ("media from answer").
//!
//! # Ground truth is not used
//!
//! [`observe::Event::PlatformAction`] (the reference platform's own account) is never
//! read here: the timeline of a call ([`timeline`]) comes from what the parties and the
//! recorder observed, so the checks work unchanged against an external SUT. Which party a
//! recorded stream carries comes from the recording metadata ([`timeline::StreamOwner`]),
//! never from label values.
//!
//! # What this crate must not do
//!
//! No I/O, no clock, no randomness, no panics on any log content (malformed SIP or XML in
//! the log becomes a finding or is skipped). It does not drive calls or write reports.

pub mod announcements;
pub mod expect;
pub mod latency;
pub mod messages;
pub mod preconditions;
pub mod recorder;
pub mod recording;
pub mod reminder;
pub mod results;
pub mod streams;
pub mod timeline;
pub mod verdict;

pub use expect::{
    Announcements, CallExpectation, Dialect, Failure, FailureBehavior, FeatureCodes, Parties,
    PauseNotice, RecordMode, Signals, SrsTarget, Tolerances, Voicemail,
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

    /// A claim of absence ("nothing was recorded", "no tone was heard") shows nothing on a
    /// call that was never answered: this NOT APPLICABLE verdict says so (`None` when the
    /// call was answered).
    pub fn unanswered(&self, requirement: &str, check: &str, what: &str) -> Option<Verdict> {
        self.timeline.answered_us.is_none().then(|| {
            self.verdict(
                requirement,
                check,
                Status::NotApplicable,
                format!("Not judged: the call was not answered, so {what}."),
            )
        })
    }

    /// True when this call was imported from a capture whose audio is not recproof's
    /// instrumented signal ([`observe::CaptureAudio::Uninstrumented`]): who spoke cannot
    /// be told frame by frame, only where there was sound.
    pub fn audio_uninstrumented(&self) -> bool {
        self.view.obs.iter().any(|o| {
            matches!(
                o.event,
                observe::Event::CaptureImported {
                    audio: observe::CaptureAudio::Uninstrumented,
                    ..
                }
            )
        })
    }

    /// The audio spans checks of "audio reached / did not reach the recorder" read:
    /// party spans, or, for uninstrumented audio, spans of sound (party name empty).
    pub fn audio_spans(&self, stream_ok: impl Fn(&str) -> bool) -> Vec<timeline::PartySpan> {
        if self.audio_uninstrumented() {
            self.view.sound_spans(stream_ok)
        } else {
            self.view.party_spans(stream_ok)
        }
    }

    /// What [`Context::audio_spans`] holds, in words: `party audio`, or `sound`.
    pub fn audio_noun(&self) -> &'static str {
        if self.audio_uninstrumented() {
            "sound"
        } else {
            "party audio"
        }
    }

    /// True when this call was imported from a capture whose audio could not be decoded
    /// ([`observe::CaptureAudio::Undecoded`]: SRTP, or a codec other than G.711).
    pub fn audio_undecoded(&self) -> bool {
        self.view.obs.iter().any(|o| {
            matches!(
                o.event,
                observe::Event::CaptureImported {
                    audio: observe::CaptureAudio::Undecoded,
                    ..
                }
            )
        })
    }

    /// True when this call was imported from a capture that holds its recording session
    /// but neither of its legs (`recording_only` of [`observe::Event::CaptureImported`]).
    pub fn recording_only(&self) -> bool {
        self.view.obs.iter().any(|o| {
            matches!(
                o.event,
                observe::Event::CaptureImported {
                    recording_only: true,
                    ..
                }
            )
        })
    }

    /// A check's verdicts made NOT APPLICABLE for `why` (what the call's capture cannot
    /// show), evidence and measurements dropped; with `keep_own`, a verdict already NOT
    /// APPLICABLE keeps its own, more specific, reason.
    pub fn not_judged(verdicts: Vec<Verdict>, why: &str, keep_own: bool) -> Vec<Verdict> {
        verdicts
            .into_iter()
            .map(|v| {
                if keep_own && v.status == Status::NotApplicable {
                    return v;
                }
                let mut n = Verdict::new(
                    &v.requirement,
                    &v.check,
                    v.call.as_deref().unwrap_or_default(),
                    Status::NotApplicable,
                    why,
                );
                n.call = v.call;
                n
            })
            .collect()
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

/// [`judge_call`], also returning what the checks derived about the call's recording
/// (for the results document and the report).
pub fn judge_call_summarized(
    log: &[Observation],
    call: &str,
    expect: &CallExpectation,
    tol: &Tolerances,
) -> (Vec<Verdict>, results::TimelineSummary) {
    let ctx = Context::new(log, call, expect, tol);
    (judge(&ctx), results::TimelineSummary::of(&ctx.timeline))
}

/// [`judge_call`] on a prepared [`Context`]. On a call imported from a capture, checks
/// that need what the capture cannot give are not judged ([`Context::not_judged`]): on
/// uninstrumented audio, those that must know who spoke in each frame (or exactly when it
/// was sent); on audio that could not be decoded, every check of what was heard or
/// recorded.
pub fn judge(ctx: &Context<'_>) -> Vec<Verdict> {
    use Needs::{Audio, Frames, Identity, Signalling};
    let checks: &[(Needs, &str, CheckFn)] = &[
        (Signalling, "", preconditions::preconditions_in),
        (
            Identity,
            "whether the recorded audio was the parties' (and not a notice or a tone)",
            recording::record_mode_in,
        ),
        (
            Frames,
            "how much of each party's first words the recording missed",
            recording::front_clipping_in,
        ),
        (
            Identity,
            "whether party audio reached the recorder before and after each code",
            recording::feature_codes_in,
        ),
        (
            Audio,
            "which announcements the parties heard",
            announcements::start_stop_heard_in,
        ),
        (
            Audio,
            "whether a notice is in the recording",
            announcements::not_recorded_in,
        ),
        (
            Audio,
            "which announcements there were to report",
            announcements::reported_as_metadata_in,
        ),
        (
            Audio,
            "which tones the parties heard",
            reminder::reminder_tone_in,
        ),
        (
            Audio,
            "which notices the parties heard",
            announcements::pause_notice_in,
        ),
        (Signalling, "", streams::stream_count_in),
        (Signalling, "", streams::labels_match_in),
        (
            Frames,
            "whose voice each recorded stream carried",
            streams::one_party_per_stream_in,
        ),
        (
            Audio,
            "whether sound reached the recorder while paused",
            streams::silent_while_paused_in,
        ),
        (
            Audio,
            "whether sound reached the recorder after resume",
            streams::resumed_in,
        ),
        (
            Identity,
            "whether the recorded audio was the caller's deposit",
            recording::voicemail_in,
        ),
        (Signalling, "", recording::provider_in),
        (
            Audio,
            "which announcement the parties heard",
            recording::failure_behaviour_in,
        ),
        (Signalling, "", recording::rs_ends_with_call_in),
        (Signalling, "", messages::single_message_in),
        (Signalling, "", latency::answer_to_media_in),
        (
            Frames,
            "how long each frame took from one party's mouth to the other's ear",
            latency::mouth_to_ear_in,
        ),
        (
            Frames,
            "how long each frame took from a party to the recorder",
            latency::party_to_recorder_in,
        ),
    ];
    let uninstrumented = ctx.audio_uninstrumented();
    let undecoded = ctx.audio_undecoded();
    let recording_only = ctx.recording_only();
    let mut v = Vec::new();
    for (needs, what, check) in checks {
        let verdicts = check(ctx);
        let why = match needs {
            Identity | Frames if uninstrumented => Some(format!(
                "Not judged: needs instrumented audio. This call was read from a capture whose audio is not recproof's instrumented signal, so {what} cannot be told from it."
            )),
            Identity | Frames | Audio if undecoded => Some(format!(
                "Not judged: the capture's audio could not be decoded (encrypted, or a codec other than G.711), so {what} cannot be told from it."
            )),
            _ => None,
        };
        let verdicts = match why {
            // A frame check's own NOT APPLICABLE ("no frames were reported") is this reason.
            Some(why) => Context::not_judged(verdicts, &why, *needs != Frames),
            None => verdicts,
        };
        if recording_only {
            let (own, call): (Vec<Verdict>, Vec<Verdict>) = verdicts
                .into_iter()
                .partition(|x| RECORDING_SESSION_CHECKS.contains(&x.check.as_str()));
            v.extend(own);
            v.extend(Context::not_judged(call, RECORDING_ONLY, false));
        } else {
            v.extend(verdicts);
        }
    }
    v
}

/// The checks a capture holding only a call's recording session (taken at the recorder)
/// can judge: the session's own messages, streams, labels and recorder.
const RECORDING_SESSION_CHECKS: &[&str] = &[
    "message.validate",
    "streams.count",
    "streams.labels",
    "provider.srs",
];

/// Why the other checks are not judged on such a capture.
const RECORDING_ONLY: &str = "Not judged: the capture holds only this call's recording session, not its call legs (it was taken at the recorder?), so what happened on the call itself cannot be told from it; the recording session's own rules (messages, streams, labels, recorder) are judged.";

/// A check on a prepared context.
type CheckFn = fn(&Context<'_>) -> Vec<Verdict>;

/// What a check needs from a call's audio (see [`judge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// Only signalling, metadata and whether RTP flowed.
    Signalling,
    /// Decoded audio: clips, tones, sound.
    Audio,
    /// recproof's instrumented audio: who spoke in each frame.
    Identity,
    /// recproof's instrumented frames themselves (front clipping, who is on each stream,
    /// latency): without them the check's own "no frames" NOT APPLICABLE is this reason.
    Frames,
}

/// One check of the catalogue: its stable id, the requirement its verdicts cite, and
/// what it judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckInfo {
    /// The check id verdicts carry (`announcement.not_recorded`). `message.validate` stands
    /// for the single-message rules, whose requirement varies per finding.
    pub id: &'static str,
    /// The requirement its verdicts cite (for `message.validate`: each of
    /// [`messages::VALIDATED`] and the further IDs `recproof-siprec` reports).
    pub requirement: &'static str,
    /// What it judges, in one line.
    pub judges: &'static str,
}

/// Every check [`judge_call`] runs, in the order it emits them.
pub const CATALOGUE: &[CheckInfo] = &[
    CheckInfo {
        id: preconditions::ANSWERED,
        requirement: preconditions::RP_CALL,
        judges: "the caller's INVITE was answered 200",
    },
    CheckInfo {
        id: preconditions::PARTY_MEDIA,
        requirement: preconditions::RP_CALL,
        judges: "each party heard the other's audio (a voicemail caller: any media)",
    },
    CheckInfo {
        id: preconditions::RECORDING_SESSION,
        requirement: preconditions::RP_CALL,
        judges: "where the policy records the call, the recorder accepted a recording session within the set-up limit of answer or the start code",
    },
    CheckInfo {
        id: preconditions::RECORDER_MEDIA,
        requirement: preconditions::RP_CALL,
        judges: "where the policy records the call, party audio reached the recorder",
    },
    CheckInfo {
        id: preconditions::HARNESS_INTACT,
        requirement: preconditions::RP_CALL,
        judges: "in a real-time run, the kernel dropped no datagram in the harness's own receive buffers (loss that would otherwise be blamed on the SUT)",
    },
    CheckInfo {
        id: "record_mode",
        requirement: "POL-01",
        judges: "a recording session and recorded party audio present or absent as the record mode says, from answer or from the start code",
    },
    CheckInfo {
        id: "recording.front_clip",
        requirement: "POL-01",
        judges: "party audio missing from the start of each recorded stream within the limit",
    },
    CheckInfo {
        id: "feature_code",
        requirement: "POL-02",
        judges: "stands for the feature-code checks on a call where no code was keyed in (NOT APPLICABLE)",
    },
    CheckInfo {
        id: "feature_code.start",
        requirement: "POL-02",
        judges: "the start code started the recording (or, where the mode has no start, had no effect)",
    },
    CheckInfo {
        id: "feature_code.stop",
        requirement: "POL-02",
        judges: "the stop code stopped the recording (or had no effect where the mode does not allow it)",
    },
    CheckInfo {
        id: "feature_code.pause",
        requirement: "POL-02",
        judges: "the pause code paused the recording (or had no effect where the mode does not allow it)",
    },
    CheckInfo {
        id: "feature_code.resume",
        requirement: "POL-02",
        judges: "the resume code resumed the recording",
    },
    CheckInfo {
        id: "announcement.start",
        requirement: "POL-03",
        judges: "both parties heard the start announcement at each recording start",
    },
    CheckInfo {
        id: "announcement.stop",
        requirement: "POL-03",
        judges: "both parties heard the stop announcement at each recording stop",
    },
    CheckInfo {
        id: "announcement.disabled",
        requirement: "POL-03",
        judges: "with the announcement disabled, neither party heard a start or stop announcement",
    },
    CheckInfo {
        id: "announcement.not_recorded",
        requirement: "POL-04",
        judges: "notices the parties heard are absent from every recorded stream",
    },
    CheckInfo {
        id: "announcement.metadata",
        requirement: "POL-05",
        judges: "each announcement heard was reported to the recorder in metadata within the limit",
    },
    CheckInfo {
        id: "reminder.interval",
        requirement: "POL-06",
        judges: "reminder tones at the configured interval while recording, none while paused or when off",
    },
    CheckInfo {
        id: "pause_notice",
        requirement: "POL-07",
        judges: "the configured notice (beep, announcement, none) at each pause and resume",
    },
    CheckInfo {
        id: "streams.count",
        requirement: "SRC-10",
        judges: "the SDP, the metadata and the recorder all have the expected number of streams",
    },
    CheckInfo {
        id: "streams.labels",
        requirement: "SRC-11",
        judges: "SDP labels equal metadata stream labels in every document that lists streams",
    },
    CheckInfo {
        id: "streams.one_party",
        requirement: "POL-09",
        judges: "each recorded stream carries only the audio of the participant the metadata ties to it, and each party has a stream",
    },
    CheckInfo {
        id: "paused.silent",
        requirement: "SRC-17",
        judges: "no party audio reached the recorder while recording was paused",
    },
    CheckInfo {
        id: "paused.resumed",
        requirement: "SRC-17",
        judges: "party audio reached the recorder again within the reaction limit after each resume",
    },
    CheckInfo {
        id: "voicemail",
        requirement: "POL-10",
        judges: "the deposit of an unanswered call recorded or not, as recordVoicemailEnabled says",
    },
    CheckInfo {
        id: "provider.srs",
        requirement: "POL-11",
        judges: "every recording session reached the expected provider's recorder",
    },
    CheckInfo {
        id: "provider.none",
        requirement: "POL-12",
        judges: "with provider None, no recording session and no recorded audio",
    },
    CheckInfo {
        id: "failure_behaviour",
        requirement: "POL-13",
        judges: "after the recorder failed, the call went on or ended, with or without the failure announcement, as configured",
    },
    CheckInfo {
        id: "rs_end",
        requirement: "SRC-20",
        judges: "each accepted recording session was ended by the SRC with BYE within the limit of the call's end",
    },
    CheckInfo {
        id: "message.validate",
        requirement: "SRC-02..13, SRC-23, MD-*",
        judges: "every RS INVITE and UPDATE passes the single-message rules of the dialect",
    },
    CheckInfo {
        id: "latency.answer_to_media",
        requirement: latency::RP_LATENCY,
        judges: "answer to first media heard, per party, within the limit",
    },
    CheckInfo {
        id: "latency.mouth_to_ear",
        requirement: latency::RP_LATENCY,
        judges: "mouth-to-ear latency p95 within the limit",
    },
    CheckInfo {
        id: "latency.party_to_recorder",
        requirement: latency::RP_LATENCY,
        judges: "party-to-recorder latency p95 within the limit",
    },
];

/// The catalogue entry of a check id (platform or recorder check).
pub fn check_info(id: &str) -> Option<&'static CheckInfo> {
    CATALOGUE
        .iter()
        .chain(recorder::RECORDER_CATALOGUE)
        .find(|c| c.id == id)
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
