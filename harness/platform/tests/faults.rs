//! Every fault profile yields a run that differs from the clean run where its
//! requirement says, and nowhere is the clean run "faulty" by the same measure.

mod common;

use common::*;
use recproof_platform::Fault;
use recproof_platform::assets::prompt;
use siprec::Profile;
use std::collections::HashMap;

/// The scenario each fault is shown on.
fn scenario(f: Fault) -> Scenario {
    match f {
        Fault::ForkWhilePaused | Fault::NoPauseNotice | Fault::FeatureCodesIgnored => {
            let mut s = Scenario::call("1001", "2002", 25_000);
            s.dtmf = vec![(8_000, Who::Callee, "*48"), (18_000, Who::Callee, "*49")];
            s
        }
        Fault::NeverRecorded => Scenario::call("1001", "2003", 10_000),
        Fault::LocationOverrideIgnored => Scenario::call("1001", "4001", 10_000),
        // 5001 is at bergen, whose vendor is None.
        Fault::NoneProviderRecorded => Scenario::call("1001", "5001", 10_000),
        Fault::FailureBehaviourIgnored => {
            let mut s = Scenario::call("1001", "2001", 10_000);
            s.failure = "PROCEED_WITH_CALL_NO_ANNOUNCEMENT";
            s.srs_mode = SrsMode::Reject(503);
            s
        }
        Fault::VoicemailNotRecorded => {
            let mut s = Scenario::call("1001", "2001", 22_000);
            s.answer = roles::ua::AnswerMode::Never;
            s
        }
        _ => Scenario::call("1001", "2001", 25_000),
    }
}

/// Requirement IDs that `siprec::validate` FAILs on any RS request (INVITE, re-INVITE,
/// UPDATE) either recorder got.
fn validation_fails(out: &Outcome) -> std::collections::BTreeSet<String> {
    out.dubber
        .iter()
        .chain(&out.imagicle)
        .filter(|r| matches!(r.method.as_str(), "INVITE" | "UPDATE"))
        .flat_map(|r| siprec::validate::validate(&r.raw, Profile::BroadworksCompat).findings)
        .filter(|f| f.severity == siprec::Severity::Fail)
        .map(|f| f.requirement.to_string())
        .collect()
}

fn invites(reqs: &[Received]) -> usize {
    reqs.iter()
        .filter(|r| r.method == "INVITE" && !r.in_dialog)
        .count()
}

fn fails(out: &Outcome, id: &str) -> bool {
    out.dubber
        .iter()
        .filter(|r| r.method == "INVITE" && !r.in_dialog)
        .any(|r| {
            siprec::validate::validate(&r.raw, Profile::BroadworksCompat)
                .findings
                .iter()
                .any(|f| f.requirement == id && f.severity == siprec::Severity::Fail)
        })
}

/// The measure the fault's requirement is about, as a string to compare.
fn measure(f: Fault, out: &Outcome) -> String {
    let answered = out
        .platform_actions("call_answered")
        .first()
        .map_or(0, |a| a.0);
    match f {
        Fault::AnnouncementLeaksIntoRecording => {
            format!("clips in recording: {}", out.any_clip("srs.").len())
        }
        Fault::NoAnnouncement => format!(
            "start heard: {}",
            out.clips("callee.heard", prompt::START).len()
        ),
        Fault::ReminderDrift => {
            let t = out.tones("callee.heard", 1400.0);
            format!(
                "first reminder after {:.0} s",
                t.first().map_or(0.0, |t| ms(t.0 - answered) / 1000.0)
            )
        }
        Fault::NoReminder => format!("reminders: {}", out.tones("callee.heard", 1400.0).len()),
        Fault::ForkWhilePaused => {
            let pause = out.platform_actions("pause")[0].0;
            let resume = out.platform_actions("resume")[0].0;
            let inside = out
                .party_spans("srs.2", "callee")
                .iter()
                .filter(|(a, b)| *b > pause + 200_000 && *a < resume - 200_000)
                .count();
            format!("callee audio spans while paused: {inside}")
        }
        Fault::NoPauseNotice => format!("beeps: {}", out.tones("caller.heard", 1000.0).len()),
        Fault::NoAnnouncementMetadata => format!("{:?}", Outcome::announcement_events(&out.dubber)),
        Fault::SingleStream => {
            let inv = out
                .dubber
                .iter()
                .find(|r| r.method == "INVITE")
                .expect("INVITE");
            format!(
                "m-lines: {}, SRC-10 fail: {}",
                Outcome::sdp_of_invite(inv).media().len(),
                fails(out, "SRC-10")
            )
        }
        Fault::LabelMismatch => format!("SRC-11 fail: {}", fails(out, "SRC-11")),
        Fault::NoSrcMarker => format!("SRC-03 fail: {}", fails(out, "SRC-03")),
        Fault::AlwaysNotRecorded | Fault::NeverRecorded | Fault::VoicemailNotRecorded => {
            format!("RS INVITEs: {}", invites(&out.dubber))
        }
        Fault::LocationOverrideIgnored => {
            format!(
                "imagicle {} dubber {}",
                invites(&out.imagicle),
                invites(&out.dubber)
            )
        }
        Fault::NoRecordingSession => format!("RS INVITEs: {}", invites(&out.dubber)),
        Fault::RecordsSilence => format!(
            "recorded party frames: {}",
            out.party_frames("srs.1", "caller") > 0 || out.party_frames("srs.2", "callee") > 0
        ),
        Fault::NeverAnswers => format!("answered: {}", out.platform_actions("call_answered").len()),
        Fault::OnePartyOnBothStreams | Fault::SwappedStreams => format!(
            "srs.1 caller {} callee {}, srs.2 caller {} callee {}",
            out.party_frames("srs.1", "caller") > 0,
            out.party_frames("srs.1", "callee") > 0,
            out.party_frames("srs.2", "caller") > 0,
            out.party_frames("srs.2", "callee") > 0
        ),
        Fault::FeatureCodesIgnored => format!("pauses: {}", out.platform_actions("pause").len()),
        Fault::NoneProviderRecorded => format!(
            "RS INVITEs: {}",
            invites(&out.dubber) + invites(&out.imagicle)
        ),
        Fault::FailureBehaviourIgnored => format!(
            "released after the failure: {}",
            !out.platform_actions("call_released").is_empty()
        ),
        Fault::NoRsByeAtCallEnd => format!(
            "RS BYEs: {}",
            out.dubber.iter().filter(|r| r.method == "BYE").count()
        ),
        Fault::SlowPartyMedia => format!(
            "mouth-to-ear p95 over 150 ms: {}",
            out.p95_ms("callee.heard", "caller")
                .is_some_and(|p| p > 150.0)
        ),
        Fault::SlowRecordedMedia => format!(
            "party-to-recorder p95 over 500 ms: {}",
            out.p95_ms("srs.2", "callee").is_some_and(|p| p > 500.0)
        ),
        Fault::LateRecordingStart => {
            let first = out
                .party_spans("srs.1", "caller")
                .iter()
                .map(|s| s.0)
                .min()
                .unwrap_or(0);
            format!(
                "recorded media from answer+{:.0} s",
                ms(first.saturating_sub(answered)) / 1000.0
            )
        }
    }
}

/// What the clean platform and the fault must show.
fn expected(f: Fault) -> (&'static str, &'static str) {
    match f {
        Fault::AnnouncementLeaksIntoRecording => ("clips in recording: 0", "clips in recording: 2"),
        Fault::NoAnnouncement => ("start heard: 1", "start heard: 0"),
        Fault::ReminderDrift => ("first reminder after 20 s", "first reminder after 21 s"),
        Fault::NoReminder => ("reminders: 1", "reminders: 0"),
        Fault::ForkWhilePaused => (
            "callee audio spans while paused: 0",
            "callee audio spans while paused: 1",
        ),
        Fault::NoPauseNotice => ("beeps: 2", "beeps: 0"),
        Fault::NoAnnouncementMetadata => ("[\"start\"]", "[]"),
        Fault::SingleStream => (
            "m-lines: 2, SRC-10 fail: false",
            "m-lines: 1, SRC-10 fail: true",
        ),
        Fault::LabelMismatch => ("SRC-11 fail: false", "SRC-11 fail: true"),
        Fault::NoSrcMarker => ("SRC-03 fail: false", "SRC-03 fail: true"),
        Fault::AlwaysNotRecorded => ("RS INVITEs: 1", "RS INVITEs: 0"),
        // Caller 1001 and callee 2003 are both Never users: both get recorded.
        Fault::NeverRecorded => ("RS INVITEs: 0", "RS INVITEs: 2"),
        Fault::VoicemailNotRecorded => ("RS INVITEs: 1", "RS INVITEs: 0"),
        Fault::LocationOverrideIgnored => ("imagicle 1 dubber 0", "imagicle 0 dubber 1"),
        Fault::LateRecordingStart => (
            "recorded media from answer+0 s",
            "recorded media from answer+2 s",
        ),
        Fault::NoRecordingSession => ("RS INVITEs: 1", "RS INVITEs: 0"),
        Fault::RecordsSilence => (
            "recorded party frames: true",
            "recorded party frames: false",
        ),
        Fault::NeverAnswers => ("answered: 1", "answered: 0"),
        Fault::OnePartyOnBothStreams => (
            "srs.1 caller true callee false, srs.2 caller false callee true",
            "srs.1 caller true callee false, srs.2 caller true callee false",
        ),
        Fault::SwappedStreams => (
            "srs.1 caller true callee false, srs.2 caller false callee true",
            "srs.1 caller false callee true, srs.2 caller true callee false",
        ),
        Fault::FeatureCodesIgnored => ("pauses: 1", "pauses: 0"),
        Fault::NoneProviderRecorded => ("RS INVITEs: 0", "RS INVITEs: 1"),
        Fault::FailureBehaviourIgnored => (
            "released after the failure: false",
            "released after the failure: true",
        ),
        Fault::NoRsByeAtCallEnd => ("RS BYEs: 1", "RS BYEs: 0"),
        Fault::SlowPartyMedia => (
            "mouth-to-ear p95 over 150 ms: false",
            "mouth-to-ear p95 over 150 ms: true",
        ),
        Fault::SlowRecordedMedia => (
            "party-to-recorder p95 over 500 ms: false",
            "party-to-recorder p95 over 500 ms: true",
        ),
    }
}

#[test]
fn every_fault_differs_from_the_clean_run_where_its_requirement_says() {
    let mut clean_runs: HashMap<String, Outcome> = HashMap::new();
    let mut problems = Vec::new();
    for &f in Fault::ALL {
        let s = scenario(f);
        let key = format!("{}-{}-{:?}-{:?}", s.caller, s.callee, s.dtmf, s.srs_mode);
        let clean = clean_runs.entry(key).or_insert_with(|| run(&s));
        let clean_m = measure(f, clean);
        let faulty = run(&s.clone().with_fault(Some(f)));
        let fault_m = measure(f, &faulty);
        let (want_clean, want_fault) = expected(f);
        eprintln!(
            "{:<36} {:<7} clean: {clean_m:<40} fault: {fault_m}",
            f.name(),
            f.requirement()
        );
        if clean_m != want_clean || fault_m != want_fault {
            problems.push(format!(
                "{}: clean `{clean_m}` (want `{want_clean}`), fault `{fault_m}` (want `{want_fault}`)",
                f.name()
            ));
        }
        // Single-message validation of every RS request: nothing fails in the clean run,
        // and the fault fails nothing but its own requirement.
        let clean_fails = validation_fails(clean);
        let fault_fails = validation_fails(&faulty);
        if !clean_fails.is_empty() {
            problems.push(format!("{}: clean run fails {clean_fails:?}", f.name()));
        }
        // (A whole failure that never opens a session validates nothing.)
        if fault_fails.iter().any(|id| id != f.requirement()) {
            problems.push(format!("{}: fault run fails {fault_fails:?}", f.name()));
        }
        // The fault announces itself in the platform's own log.
        if !faulty
            .platform_actions("fault")
            .iter()
            .any(|(_, d)| d.starts_with(f.name()))
        {
            problems.push(format!("{}: no `fault` action logged", f.name()));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
