//! The recorder checks against the embedded SRS emulator standing in for a recorder under
//! test: a clean emulator passes every check of a full certification plan, each fault
//! fails exactly its own check, and recorders that do nothing right fail.

use checks::recorder::{RecorderRules, judge_recorder};
use checks::{Status, Verdict};
use recproof_drive::embedded::RecorderMode;
use recproof_drive::recorder::{
    EMBEDDED_CAPACITY, EmbeddedRecorderCall, RecorderPlan, RsStep, run_recorder_call,
};
use roles::src::{RsCase, RsRequest};
use roles::srs_fault::SrsFault;
use siprec::metadata::Dialect;
use siprec::rs::RsBodyStyle;
use std::time::Duration;

const LABEL: &str = "rec-0001";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Every case a certification sends: both dialects, both media type names, another line
/// end, pause and resume, a metadata update, and the negatives each followed by a valid
/// session.
fn full_plan() -> RecorderPlan {
    let rfc = Dialect::Rfc7865;
    let bw = Dialect::BroadWorks;
    let mut lf = RsRequest::valid(rfc);
    lf.style.style.line_end = "\n";
    let legacy = RsRequest {
        style: RsBodyStyle::of(rfc).legacy_type(),
        ..RsRequest::valid(rfc)
    };
    RecorderPlan::new(LABEL, "certification")
        .step(RsStep::Open(RsRequest::valid(rfc)))
        .step(RsStep::Talk(secs(4)))
        .step(RsStep::Pause { inactive: true })
        .step(RsStep::Talk(secs(2)))
        .step(RsStep::Resume)
        .step(RsStep::UpdateMetadata)
        .step(RsStep::Talk(secs(1)))
        .step(RsStep::PartialUpdate)
        .step(RsStep::Talk(secs(1)))
        .step(RsStep::ReinviteWithMetadata)
        .step(RsStep::Talk(secs(2)))
        .step(RsStep::End)
        .session(RsRequest::of(RsCase::UnknownRequire, rfc), secs(1))
        .session(RsRequest::valid(bw), secs(2))
        .session(
            RsRequest {
                style: RsBodyStyle::of(bw),
                ..RsRequest::valid(rfc)
            },
            secs(2),
        )
        .session(legacy, secs(2))
        .session(lf, secs(2))
        .session(RsRequest::of(RsCase::PlainInvite, rfc), secs(1))
        .session(RsRequest::of(RsCase::MalformedXml, bw), secs(1))
        .session(RsRequest::valid(rfc), secs(1))
        .session(RsRequest::of(RsCase::DanglingReference, rfc), secs(1))
        .session(RsRequest::of(RsCase::UnsupportedBody, rfc), secs(1))
        .session(RsRequest::of(RsCase::Oversized, bw), secs(2))
        .session(RsRequest::of(RsCase::EntityExpansion, rfc), secs(1))
        .session(RsRequest::valid(rfc), secs(2))
        .step(RsStep::Burst {
            sessions: 12,
            talk: secs(2),
        })
}

fn judge(fault: Option<SrsFault>) -> Vec<Verdict> {
    judge_mode(fault, RecorderMode::Accept)
}

fn judge_mode(fault: Option<SrsFault>, mode: RecorderMode) -> Vec<Verdict> {
    let mut plan = full_plan();
    // A long last session the recorder stops on its own (SRS-11): every session it takes
    // stops 12 s in, which only this one lasts long enough to reach.
    plan = plan.session(RsRequest::valid(Dialect::Rfc7865), secs(16));
    plan.recorder_stops_after = Some(secs(12));
    let out = run_recorder_call(&EmbeddedRecorderCall {
        plan,
        fault,
        mode,
        seed: 7,
        evidence: false,
    })
    .expect("the embedded recorder call runs");
    judge_recorder(&out.observations, LABEL, &embedded_rules())
}

/// What the embedded recorder is held to: its capacity, and its recordings are read.
fn embedded_rules() -> RecorderRules {
    RecorderRules {
        capacity: Some(EMBEDDED_CAPACITY),
        recordings_available: true,
        ..RecorderRules::default()
    }
}

fn show(v: &[Verdict]) -> String {
    v.iter()
        .map(|v| {
            format!(
                "{} {} {:?}: {}",
                v.requirement, v.check, v.status, v.summary
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_clean_recorder_passes_every_check() {
    let v = judge(None);
    assert_eq!(v.len(), checks::recorder::RECORDER_CATALOGUE.len());
    // The simulated network has no kernel drop count: the harness-loss precondition has
    // nothing to judge there.
    assert!(
        v.iter().all(|v| v.status == Status::Pass
            || (v.check == checks::preconditions::HARNESS_INTACT
                && v.status == Status::NotApplicable)),
        "every recorder check passes on the clean emulator:\n{}",
        show(&v)
    );
}

#[test]
fn each_recorder_fault_fails_its_own_check_and_only_that_requirement() {
    let expected: &[(SrsFault, &str)] = &[
        (SrsFault::AnswerSendrecv, "srs.answer"),
        (SrsFault::Relabel, "srs.answer"),
        (SrsFault::FirstMlineOnly, "srs.answer"),
        (SrsFault::SameCodec, "srs.answer"),
        (SrsFault::NoSrsContact, "srs.contact"),
        (SrsFault::SilentOnBadMetadata, "srs.bad_input"),
        (SrsFault::RejectsBroadWorks, "srs.accepts_dialects"),
        (SrsFault::MixedRecording, "srs.streams_apart"),
        (SrsFault::SwappedAttribution, "srs.streams_apart"),
        (SrsFault::TakesPlainInvite, "srs.refuses_plain_invite"),
        (SrsFault::RejectsLegacyType, "srs.accepts_media_types"),
        (SrsFault::RejectsBareLf, "srs.accepts_body_styles"),
        (SrsFault::SlowAnswer, "srs.answer_time"),
        (SrsFault::BadSnapshotRequest, "srs.snapshot_request"),
        (SrsFault::SilentOverCapacity, "srs.load"),
        (SrsFault::StopsSilently, "srs.stop"),
        (SrsFault::IgnoresUnknownRequire, "srs.unknown_extension"),
        (SrsFault::RejectsMetadataUpdates, "srs.metadata_updates"),
        (SrsFault::RecordsWhilePaused, "srs.pause_answer"),
    ];
    assert_eq!(
        expected.len(),
        SrsFault::ALL.len(),
        "every fault is covered"
    );
    for (fault, check) in expected {
        let v = judge(Some(*fault));
        let hit = v.iter().find(|v| v.check == *check).expect("the check ran");
        assert_eq!(
            hit.status,
            Status::Fail,
            "{} fails {check}:\n{}",
            fault.name(),
            show(&v)
        );
        assert_eq!(hit.requirement, fault.requirement());
        for other in v.iter().filter(|v| v.status == Status::Fail) {
            assert!(
                other.requirement == fault.requirement()
                    // No final response is also an answer-time failure; a slow answer
                    // is also one under load.
                    || matches!(fault, SrsFault::SilentOnBadMetadata | SrsFault::SilentOverCapacity)
                        && other.requirement == "SRS-13"
                    || *fault == SrsFault::SlowAnswer && other.requirement == "SRS-14",
                "{} fails only {}:\n{}",
                fault.name(),
                fault.requirement(),
                show(&v)
            );
        }
    }
}

#[test]
fn a_recorder_that_never_answers_fails_and_passes_nothing() {
    let v = judge_mode(None, RecorderMode::Silent);
    let time = v
        .iter()
        .find(|v| v.check == "srs.answer_time")
        .expect("ran");
    assert_eq!(time.status, Status::Fail, "{}", show(&v));
    assert!(
        time.summary.contains("waited"),
        "says how long it waited: {}",
        time.summary
    );
    assert!(
        v.iter().all(|v| v.status != Status::Pass),
        "nothing passes on a recorder that never answers:\n{}",
        show(&v)
    );
}

#[test]
fn a_recorder_that_refuses_every_session_passes_nothing_it_was_asked_to_do() {
    let v = judge_mode(None, RecorderMode::Reject(503));
    let taken = v
        .iter()
        .find(|v| v.check == "precondition.recorder_took_session")
        .expect("ran");
    assert_eq!(
        taken.status,
        Status::Fail,
        "the precondition fails:\n{}",
        show(&v)
    );
    for check in [
        "srs.contact",
        "srs.answer",
        "srs.no_rtp",
        "srs.streams_apart",
        "srs.accepts_dialects",
        "srs.accepts_media_types",
        "srs.accepts_body_styles",
    ] {
        let hit = v.iter().find(|v| v.check == check).expect("ran");
        assert_ne!(
            hit.status,
            Status::Pass,
            "{check} is not a pass:\n{}",
            show(&v)
        );
    }
}

#[test]
fn a_recorder_that_answers_and_never_records_fails_the_precondition() {
    let out = run_recorder_call(&EmbeddedRecorderCall {
        plan: full_plan(),
        fault: None,
        mode: RecorderMode::Accept,
        seed: 7,
        evidence: false,
    })
    .expect("runs");
    // The same signalling, with a recorder whose recordings hold nothing.
    let log: Vec<observe::Observation> = out
        .observations
        .into_iter()
        .filter(|o| !matches!(o.event, observe::Event::PartyFrames { .. }))
        .collect();
    let v = judge_recorder(&log, LABEL, &embedded_rules());
    let pre = v
        .iter()
        .find(|v| v.check == "precondition.recorder_took_session")
        .expect("ran");
    assert_eq!(pre.status, Status::Fail, "{}", show(&v));
    assert!(pre.summary.contains("no party audio"), "{}", pre.summary);
}
