//! Every check, both ways: a synthetic log that passes and one that fails, with the
//! verdict summaries asserted to carry the measured numbers.

mod common;

use common::*;
use observe::{Event, Observation};
use recproof_checks::*;

fn expect_always() -> CallExpectation {
    CallExpectation {
        srs: Some(SrsTarget {
            provider: Some("Dubber".into()),
            address: Some(SRS_ADDR.into()),
            uri: Some(SRS_URI.into()),
        }),
        reminder_interval_s: Some(10.0),
        parties: Parties {
            caller: "+4722000001".into(),
            callee: "2001".into(),
        },
        signals: reference_signals(),
        ..CallExpectation::default()
    }
}

/// The clips and tones the synthetic logs use (the reference platform's names).
fn reference_signals() -> Signals {
    Signals {
        start_clip: Some("announcement-start".into()),
        stop_clip: Some("announcement-stop".into()),
        pause_clip: Some("announcement-pause".into()),
        resume_clip: Some("announcement-resume".into()),
        failure_clip: Some("announcement-stop".into()),
        greeting_clip: Some("voicemail-greeting".into()),
        reminder_hz: Some(1400.0),
        beep_hz: Some(1000.0),
    }
}

fn judge(log: &[Observation], e: &CallExpectation) -> Vec<Verdict> {
    judge_call(log, CALL, e, &Tolerances::default())
}

/// The verdicts of one check id (`requirement`, `check`).
fn pick<'a>(v: &'a [Verdict], requirement: &str, check: &str) -> Vec<&'a Verdict> {
    v.iter()
        .filter(|x| x.requirement == requirement && x.check.starts_with(check))
        .collect()
}

fn one<'a>(v: &'a [Verdict], requirement: &str, check: &str) -> &'a Verdict {
    let found = pick(v, requirement, check);
    assert_eq!(found.len(), 1, "{requirement}/{check}: {v:#?}");
    found[0]
}

fn status(v: &[Verdict], requirement: &str, check: &str) -> Status {
    one(v, requirement, check).status
}

fn no_failures(v: &[Verdict]) {
    let failed: Vec<String> = v
        .iter()
        .filter(|x| x.failed())
        .map(|x| x.to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "unexpected failures:\n{}",
        failed.join("\n")
    );
}

// ---- whole calls ---------------------------------------------------------------

#[test]
fn clean_always_call_passes_every_check() {
    let log = clean_always().build();
    let v = judge(&log, &expect_always());
    no_failures(&v);
    for (req, check) in [
        ("POL-01", "record_mode"),
        ("POL-01", "recording.front_clip"),
        ("POL-03", "announcement.start"),
        ("POL-04", "announcement.not_recorded"),
        ("POL-05", "announcement.metadata"),
        ("POL-06", "reminder.interval"),
        ("SRC-10", "streams.count"),
        ("SRC-11", "streams.labels"),
        ("POL-09", "streams.one_party"),
        ("POL-11", "provider.srs"),
        ("SRC-20", "rs_end"),
        ("RP-LATENCY", "latency.answer_to_media"),
        ("RP-LATENCY", "latency.mouth_to_ear"),
        ("RP-LATENCY", "latency.party_to_recorder"),
    ] {
        assert_eq!(
            status(&v, req, check),
            Status::Pass,
            "{req} {check}: {v:#?}"
        );
    }
    // Summaries carry the measured numbers.
    let s = &one(&v, "POL-01", "record_mode").summary;
    assert!(s.contains("0.06 s after answer"), "{s}");
    let s = &one(&v, "POL-03", "announcement.start").summary;
    assert!(
        s.contains("0.03 to 0.04 s after the start at 0.02 s after answer"),
        "{s}"
    );
    let s = &one(&v, "POL-06", "reminder.interval").summary;
    assert!(
        s.contains("every 10.00 s") && s.contains("10 s ± 0.05 s"),
        "{s}"
    );
    let s = &one(&v, "POL-05", "announcement.metadata").summary;
    assert!(s.contains("0.01 s after it began"), "{s}");
    let s = &one(&v, "POL-09", "streams.one_party").summary;
    assert!(
        s.contains("srs.1 (the caller's by the metadata) carried 1496 frames of the caller"),
        "{s}"
    );
    let s = &one(&v, "SRC-20", "rs_end").summary;
    assert!(s.contains("0.01 s after the call ended"), "{s}");
    let s = &one(&v, "RP-LATENCY", "latency.answer_to_media").summary;
    assert!(
        s.contains("the caller 40 ms") && s.contains("recording on"),
        "{s}"
    );
    // Not applicable on a call without pauses, codes, voicemail or failure.
    for (req, check) in [
        ("POL-02", "feature_code"),
        ("POL-07", "pause_notice"),
        ("SRC-17", "paused.silent"),
        ("POL-10", "voicemail"),
        ("POL-13", "failure_behaviour"),
    ] {
        assert_eq!(status(&v, req, check), Status::NotApplicable, "{req}");
    }
    // BroadWorks-style messages: SRC-02/03 are WARN in compat, never FAIL.
    assert_eq!(status(&v, "SRC-02", "message.validate"), Status::Warn);
    assert_eq!(status(&v, "SRC-03", "message.validate"), Status::Warn);
    assert_eq!(status(&v, "SRC-08", "message.validate"), Status::Pass);
    // Verdicts serialise for the JSON report.
    let json = serde_json::to_string(&v).expect("serialise");
    assert!(json.contains("\"requirement\":\"POL-04\""));
}

fn on_demand() -> (LogBuilder, CallExpectation) {
    let mut b = LogBuilder::new();
    b.call_started(0);
    b.answered(s(1.0));
    b.audio("caller.heard", "callee", s(1.04), s(40.0), 0);
    b.audio("callee.heard", "caller", s(1.05), s(40.0), 0);
    // *44 at 5 s: RS set up, start announcement, metadata.
    let start = b.keys("callee", "*44", s(5.0));
    b.rs_invite(start + s(0.1));
    b.clip_both("announcement-start", start + s(0.15), s(2.0));
    b.rs_announcement(start + s(0.2), "start");
    b.audio("srs.1", "caller", start + s(0.2), s(10.55), 230);
    b.audio("srs.2", "callee", start + s(0.2), s(10.55), 230);
    // *48 at 10 s: paused by re-INVITE inactive, beep.
    let pause = b.keys("callee", "*48", s(10.0));
    b.rs_reinvite(pause + s(0.05), Media::Inactive);
    b.tone_both(1000.0, pause + s(0.1), s(0.3));
    // *49 at 20 s: resumed, beep.
    let resume = b.keys("callee", "*49", s(20.0));
    b.rs_reinvite(resume + s(0.05), Media::Active);
    b.tone_both(1000.0, resume + s(0.1), s(0.3));
    b.audio("srs.1", "caller", resume + s(0.1), s(30.55), 975);
    b.audio("srs.2", "callee", resume + s(0.1), s(30.55), 975);
    // *45 at 30 s: stop announcement, metadata, BYE.
    let stop = b.keys("callee", "*45", s(30.0));
    b.rs_announcement(stop + s(0.02), "stop");
    b.clip_both("announcement-stop", stop + s(0.05), s(2.0));
    b.rs_bye(stop + s(0.1));
    b.caller_hangs_up(s(40.0));
    b.frames(s(30.7), "srs.1", "caller", 755, 5_700.0, 30);
    b.frames(s(30.7), "srs.2", "callee", 755, 5_700.0, 30);
    let e = CallExpectation {
        mode: RecordMode::OnDemand,
        pause_notice: PauseNotice::Beep,
        ..expect_always()
    };
    let e = CallExpectation {
        reminder_interval_s: None,
        ..e
    };
    (b, e)
}

#[test]
fn on_demand_call_with_pause_and_resume_passes() {
    let (b, e) = on_demand();
    let v = judge(&b.build(), &e);
    no_failures(&v);
    let s = &one(&v, "POL-01", "record_mode").summary;
    assert!(
        s.contains("before the callee pressed *44 at 4.50 s after answer"),
        "{s}"
    );
    let codes = pick(&v, "POL-02", "feature_code");
    assert_eq!(codes.len(), 4, "{codes:#?}");
    assert!(codes.iter().all(|c| c.status == Status::Pass), "{codes:#?}");
    assert!(
        codes[0].summary.contains("started the recording"),
        "{}",
        codes[0].summary
    );
    assert!(
        codes[1].summary.contains("paused the recording"),
        "{}",
        codes[1].summary
    );
    assert_eq!(status(&v, "POL-03", "announcement.start"), Status::Pass);
    assert_eq!(status(&v, "POL-03", "announcement.stop"), Status::Pass);
    let p = one(&v, "POL-07", "pause_notice");
    assert_eq!(p.status, Status::Pass);
    assert!(
        p.summary
            .contains("beep (1000 Hz) 0.05 to 0.06 s after each of the 2 events"),
        "{}",
        p.summary
    );
    let q = one(&v, "SRC-17", "paused.silent");
    assert_eq!(q.status, Status::Pass);
    assert!(q.summary.contains("10.00 s from"), "{}", q.summary);
    assert_eq!(status(&v, "POL-05", "announcement.metadata"), Status::Pass);
    assert_eq!(status(&v, "SRC-20", "rs_end"), Status::Pass);
    // front clipping is not judged in On Demand.
    assert_eq!(
        status(&v, "POL-01", "recording.front_clip"),
        Status::NotApplicable
    );
}

#[test]
fn timeline_derives_events_from_signalling_and_keys() {
    let (b, e) = on_demand();
    let log = b.build();
    let tol = Tolerances::default();
    let ctx = Context::new(&log, CALL, &e, &tol);
    let tl = &ctx.timeline;
    assert_eq!(tl.answered_us, Some(s(1.0)));
    assert_eq!(tl.ended_by.as_deref(), Some("caller"));
    let codes: Vec<&str> = tl.codes.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, ["*44", "*48", "*49", "*45"]);
    let kinds: Vec<(&str, bool)> = tl
        .events
        .iter()
        .map(|e| (e.kind.as_str(), e.signalled))
        .collect();
    assert_eq!(
        kinds,
        [
            ("start", true),
            ("pause", true),
            ("resume", true),
            ("stop", true)
        ]
    );
    assert_eq!(tl.paused_windows().len(), 1);
    assert_eq!(tl.recording_windows().len(), 2);
    assert_eq!(tl.rs.len(), 1);
    assert_eq!(tl.rs[0].states.len(), 3);
}

#[test]
fn pause_by_stopping_rtp_is_taken_from_the_key_press() {
    // Same call, but the platform pauses by stopping RTP: no re-INVITEs.
    let (mut b, e) = on_demand();
    b.remove(|o| matches!(&o.event, Event::SipReceived { message, .. } if message.to_bytes().starts_with(b"INVITE sip:10.0.1.1")));
    b.remove(|o| {
        matches!(&o.event, Event::Metadata { method, .. } if method == "INVITE") && o.t_us > s(6.0)
    });
    let log = b.build();
    let tol = Tolerances::default();
    let ctx = Context::new(&log, CALL, &e, &tol);
    let kinds: Vec<(&str, bool)> = ctx
        .timeline
        .events
        .iter()
        .map(|e| (e.kind.as_str(), e.signalled))
        .collect();
    assert_eq!(
        kinds,
        [
            ("start", true),
            ("pause", false),
            ("resume", false),
            ("stop", true)
        ]
    );
    let v = recproof_checks::judge(&ctx);
    no_failures(&v);
}

#[test]
fn never_call_passes_and_fails_when_recorded() {
    let mut b = LogBuilder::new();
    b.call_started(0);
    b.answered(s(1.0));
    b.audio("caller.heard", "callee", s(1.04), s(21.0), 0);
    b.audio("callee.heard", "caller", s(1.05), s(21.0), 0);
    b.caller_hangs_up(s(21.0));
    let e = CallExpectation {
        mode: RecordMode::Never,
        ..expect_always()
    };
    let e = CallExpectation {
        reminder_interval_s: None,
        ..e
    };
    let v = judge(&b.build(), &e);
    no_failures(&v);
    let m = one(&v, "POL-01", "record_mode");
    assert_eq!(m.status, Status::Pass);
    assert!(m.summary.contains("20.00 s call"), "{}", m.summary);
    assert_eq!(
        status(&v, "POL-04", "announcement.not_recorded"),
        Status::NotApplicable
    );

    // Fault "never-recorded": an RS and audio at the recorder.
    b.rs_invite(s(1.02));
    b.audio("srs.1", "caller", s(1.08), s(21.0), 2);
    let v = judge(&b.build(), &e);
    let m = one(&v, "POL-01", "record_mode");
    assert_eq!(m.status, Status::Fail);
    assert!(m.summary.contains("996 frames"), "{}", m.summary);
}

fn voicemail_call(recorded: bool) -> LogBuilder {
    let mut b = LogBuilder::new();
    b.call_started(0);
    b.answered_by_voicemail(s(20.0));
    b.clip("caller.heard", "voicemail-greeting", s(20.05), s(24.05));
    b.tone("caller.heard", 1000.0, s(24.1), s(0.5));
    if recorded {
        b.rs_invite(s(24.6));
        b.audio("srs.1", "caller", s(24.7), s(39.9), 1230);
    }
    b.caller_hangs_up(s(40.0));
    if recorded {
        b.rs_bye(s(40.01));
    }
    b
}

#[test]
fn voicemail_recorded_or_not_both_ways() {
    let rec = CallExpectation {
        voicemail: Some(Voicemail { recorded: true }),
        reminder_interval_s: None,
        ..expect_always()
    };
    let v = judge(&voicemail_call(true).build(), &rec);
    let vm = one(&v, "POL-10", "voicemail");
    assert_eq!(vm.status, Status::Pass, "{vm:#?}");
    assert!(
        vm.summary
            .contains("15.20 s of the caller's audio after the voicemail greeting"),
        "{}",
        vm.summary
    );
    assert_eq!(status(&v, "POL-01", "record_mode"), Status::NotApplicable);

    // Fault "voicemail-not-recorded".
    let v = judge(&voicemail_call(false).build(), &rec);
    let vm = one(&v, "POL-10", "voicemail");
    assert_eq!(vm.status, Status::Fail);
    assert!(vm.summary.contains("19.95 s of audio"), "{}", vm.summary);

    // Disabled: not recorded passes, recorded fails.
    let off = CallExpectation {
        voicemail: Some(Voicemail { recorded: false }),
        ..rec
    };
    assert_eq!(
        status(
            &judge(&voicemail_call(false).build(), &off),
            "POL-10",
            "voicemail"
        ),
        Status::Pass
    );
    assert_eq!(
        status(
            &judge(&voicemail_call(true).build(), &off),
            "POL-10",
            "voicemail"
        ),
        Status::Fail
    );
}

// ---- one check at a time ---------------------------------------------------------

#[test]
fn pol04_fails_when_the_announcement_is_on_a_recorded_stream() {
    let mut b = clean_always();
    b.clip("srs.1", "announcement-start", s(1.06), s(3.06));
    let log = b.build();
    let v = announcements::not_recorded(&log, CALL, &expect_always(), &Tolerances::default());
    assert_eq!(v[0].status, Status::Fail);
    assert!(
        v[0].summary
            .contains("announcement-start on srs.1 at 0.06 s after answer"),
        "{}",
        v[0].summary
    );
    assert_eq!(v[0].measurements[0].value, 1.0);
}

fn reminder_log(times: &[f64]) -> Vec<Observation> {
    let mut b = clean_always();
    b.remove(|o| matches!(o.event, Event::ToneBurst { .. }));
    for t in times {
        b.tone_both(1400.0, s(*t), s(0.5));
    }
    // Longer call: 70 s.
    b.remove(|o| {
        matches!(&o.event, Event::SipReceived { message, .. } | Event::SipSent { message, .. } if message.to_bytes().starts_with(b"BYE"))
    });
    b.caller_hangs_up(s(70.0));
    b.rs_bye(s(70.01));
    b.build()
}

#[test]
fn pol06_reminder_intervals_both_ways() {
    let e = CallExpectation {
        reminder_interval_s: Some(20.0),
        ..expect_always()
    };
    let tol = Tolerances::default();
    let v = reminder::reminder_tone(&reminder_log(&[21.02, 41.03, 61.02]), CALL, &e, &tol);
    assert_eq!(v[0].status, Status::Pass, "{}", v[0].summary);
    assert!(
        v[0].summary.contains("every 19.99 to 20.01 s"),
        "{}",
        v[0].summary
    );

    // Fault "reminder-drift": 20.0 then 21.0 s.
    let v = reminder::reminder_tone(&reminder_log(&[21.02, 41.02, 62.02]), CALL, &e, &tol);
    assert_eq!(v[0].status, Status::Fail);
    assert!(
        v[0].summary.contains("20.00 and 21.00 s apart"),
        "{}",
        v[0].summary
    );
    assert!(v[0].summary.contains("20 s ± 0.05 s"), "{}", v[0].summary);

    // Fault "no-reminder".
    let v = reminder::reminder_tone(&reminder_log(&[]), CALL, &e, &tol);
    assert_eq!(v[0].status, Status::Fail);
    assert!(
        v[0].summary
            .contains("no reminder tone in the 68.98 s of recording"),
        "{}",
        v[0].summary
    );

    // Disabled: none passes, some fail.
    let off = CallExpectation {
        reminder_interval_s: None,
        ..expect_always()
    };
    let v = reminder::reminder_tone(&reminder_log(&[]), CALL, &off, &tol);
    assert_eq!(v[0].status, Status::Pass);
    let v = reminder::reminder_tone(&reminder_log(&[21.0]), CALL, &off, &tol);
    assert_eq!(v[0].status, Status::Fail);
    assert!(
        v[0].summary.contains("2 reminder tone(s)"),
        "{}",
        v[0].summary
    );
}

#[test]
fn pol06_no_reminder_while_paused() {
    let (mut b, mut e) = on_demand();
    e.reminder_interval_s = Some(4.0);
    // Recording 5.6-10.55 and 20.55-30.6: reminders at 9.6, 24.55, 28.55; one at 15 s
    // while paused.
    for t in [9.6, 24.55, 28.55] {
        b.tone_both(1400.0, s(t), s(0.5));
    }
    let ok = reminder::reminder_tone(&b.build(), CALL, &e, &Tolerances::default());
    assert_eq!(ok[0].status, Status::Pass, "{}", ok[0].summary);
    b.tone_both(1400.0, s(15.0), s(0.5));
    let v = reminder::reminder_tone(&b.build(), CALL, &e, &Tolerances::default());
    assert_eq!(v[0].status, Status::Fail);
    assert!(
        v[0].summary
            .contains("reminder tone at 14.00 s after answer while recording was paused"),
        "{}",
        v[0].summary
    );
}

#[test]
fn pol05_fails_without_the_metadata_update() {
    let mut b = clean_always();
    b.remove(|o| matches!(&o.event, Event::Metadata { method, .. } if method == "UPDATE"));
    b.remove(|o| matches!(&o.event, Event::SipReceived { message, .. } if message.to_bytes().starts_with(b"UPDATE")));
    let v = announcements::reported_as_metadata(
        &b.build(),
        CALL,
        &expect_always(),
        &Tolerances::default(),
    );
    assert_eq!(v[0].status, Status::Fail);
    assert!(
        v[0].summary
            .contains("within 2.00 s of the start announcement heard at 0.05 s after answer"),
        "{}",
        v[0].summary
    );
}

#[test]
fn pol05_fails_when_the_update_comes_too_late_and_reads_rfc_partial_updates() {
    let mut b = clean_always();
    b.remove(|o| matches!(&o.event, Event::Metadata { method, .. } if method == "UPDATE"));
    b.rs_announcement(s(9.0), "start");
    let v = announcements::reported_as_metadata(
        &b.build(),
        CALL,
        &expect_always(),
        &Tolerances::default(),
    );
    assert_eq!(v[0].status, Status::Fail, "{}", v[0].summary);

    let mut b = LogBuilder::new();
    b.style = Style::Rfc;
    b.call_started(0);
    b.answered(s(1.0));
    b.rs_invite(s(1.02));
    b.clip_both("announcement-start", s(1.05), s(2.0));
    b.rs_announcement(s(1.5), "start");
    let e = CallExpectation {
        dialect: Dialect::RfcStrict,
        ..expect_always()
    };
    let log = b.build();
    let v = announcements::reported_as_metadata(&log, CALL, &e, &Tolerances::default());
    assert_eq!(v[0].status, Status::Pass, "{}", v[0].summary);
    assert!(
        v[0].summary.contains("0.45 s after it began"),
        "{}",
        v[0].summary
    );
    // RFC-strict messages pass single-message validation.
    let m = messages::single_message(&log, CALL, &e, &Tolerances::default());
    let failed: Vec<_> = m.iter().filter(|x| x.failed()).collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn pol09_fails_when_the_callers_audio_is_on_the_callees_stream() {
    let mut b = clean_always();
    b.frames(s(31.1), "srs.2", "caller", 500, 0.0, 30);
    let v =
        streams::one_party_per_stream(&b.build(), CALL, &expect_always(), &Tolerances::default());
    assert_eq!(v[0].status, Status::Fail);
    assert!(
        v[0].summary
            .contains("Stream srs.2 carried 500 frames of the caller's audio"),
        "{}",
        v[0].summary
    );
}

#[test]
fn src10_fails_with_one_stream() {
    let mut b = LogBuilder::new();
    b.sdp_labels = vec!["1".into()];
    b.call_started(0);
    b.answered(s(1.0));
    b.rs_invite(s(1.02));
    b.audio("srs.1", "caller", s(1.08), s(11.0), 2);
    b.caller_hangs_up(s(11.0));
    b.rs_bye(s(11.01));
    let v = streams::stream_count(&b.build(), CALL, &expect_always(), &Tolerances::default());
    assert_eq!(v[0].status, Status::Fail);
    assert!(
        v[0].summary.contains("the SDP offered 1 stream(s)"),
        "{}",
        v[0].summary
    );
    assert!(
        v[0].summary
            .contains("the recorder received 1 stream(s) (srs.1)"),
        "{}",
        v[0].summary
    );
    let p =
        streams::one_party_per_stream(&b.build(), CALL, &expect_always(), &Tolerances::default());
    assert_eq!(p[0].status, Status::Fail, "{}", p[0].summary);
    assert!(
        p[0].summary.contains(
            "The metadata ties stream `2` to the callee, but no such stream reached the recorder"
        ),
        "{}",
        p[0].summary
    );
}

#[test]
fn src11_fails_when_metadata_labels_differ() {
    let mut b = LogBuilder::new();
    b.md_labels = vec!["1".into(), "3".into()];
    b.call_started(0);
    b.answered(s(1.0));
    b.rs_invite(s(1.02));
    b.caller_hangs_up(s(11.0));
    let log = b.build();
    let v = streams::labels_match(&log, CALL, &expect_always(), &Tolerances::default());
    assert_eq!(v[0].status, Status::Fail);
    assert!(
        v[0].summary
            .contains("SDP streams {1, 2} but its metadata streams {1, 3}"),
        "{}",
        v[0].summary
    );
    // validate() agrees, under its own verdict.
    let m = messages::single_message(&log, CALL, &expect_always(), &Tolerances::default());
    assert!(
        m.iter().any(|x| x.requirement == "SRC-11" && x.failed()),
        "{m:#?}"
    );
}

#[test]
fn src17_fails_when_audio_reaches_the_recorder_while_paused() {
    let (mut b, e) = on_demand();
    b.audio("srs.1", "caller", s(12.0), s(18.0), 550);
    let v = streams::silent_while_paused(&b.build(), CALL, &e, &Tolerances::default());
    assert_eq!(v[0].status, Status::Fail);
    assert!(
        v[0].summary
            .contains("6.00 s of party audio (about 300 frames)"),
        "{}",
        v[0].summary
    );
    // The pause was signalled, so POL-02 (the code took effect) passes and leaves the
    // audio to SRC-17.
    let c = recording::feature_codes(&b.build(), CALL, &e, &Tolerances::default());
    let pause = c
        .iter()
        .find(|x| x.check == "feature_code.pause")
        .expect("pause verdict");
    assert_eq!(pause.status, Status::Pass, "{}", pause.summary);
    assert!(
        pause.summary.contains("which SRC-17 judges"),
        "{}",
        pause.summary
    );

    // Without any signalling, the audio is the only effect: POL-02 fails too.
    b.remove(|o| matches!(&o.event, Event::SipReceived { message, .. } if message.to_bytes().starts_with(b"INVITE sip:10.0.1.1")));
    let c = recording::feature_codes(&b.build(), CALL, &e, &Tolerances::default());
    let pause = c
        .iter()
        .find(|x| x.check == "feature_code.pause")
        .expect("pause verdict");
    assert_eq!(pause.status, Status::Fail, "{}", pause.summary);
    assert!(
        pause.summary.contains(
            "did not pause the recording: party audio kept reaching the recorder for 7.50 s"
        ),
        "{}",
        pause.summary
    );
}

#[test]
fn pol07_pause_notice_both_ways() {
    let (b, e) = on_demand();
    let tol = Tolerances::default();
    // Fault "no-pause-notice".
    let mut quiet = LogBuilder {
        obs: b.obs.clone(),
        ..LogBuilder::new()
    };
    quiet.remove(|o| matches!(o.event, Event::ToneBurst { .. }));
    let v = announcements::pause_notice(&quiet.build(), CALL, &e, &tol);
    assert_eq!(v[0].status, Status::Fail);
    assert!(v[0].summary.contains("The caller heard no beep (1000 Hz) within -3.00..+3.00 s of the pause at 9.55 s after answer"), "{}", v[0].summary);
    // Notice None: the beeps are now wrong; without them it passes.
    let none = CallExpectation {
        pause_notice: PauseNotice::None,
        ..e.clone()
    };
    assert_eq!(
        announcements::pause_notice(&b.build(), CALL, &none, &tol)[0].status,
        Status::Fail
    );
    assert_eq!(
        announcements::pause_notice(&quiet.build(), CALL, &none, &tol)[0].status,
        Status::Pass
    );
    // Announcement type wants the clips.
    let ann = CallExpectation {
        pause_notice: PauseNotice::Announcement,
        ..e
    };
    assert_eq!(
        announcements::pause_notice(&b.build(), CALL, &ann, &tol)[0].status,
        Status::Fail
    );
    quiet.clip_both("announcement-pause", s(10.6), s(1.5));
    quiet.clip_both("announcement-resume", s(20.6), s(1.5));
    let v = announcements::pause_notice(&quiet.build(), CALL, &ann, &tol);
    assert_eq!(v[0].status, Status::Pass, "{}", v[0].summary);
}

#[test]
fn pol03_start_announcement_both_ways() {
    let tol = Tolerances::default();
    let mut b = clean_always();
    b.remove(|o| matches!(&o.event, Event::ClipMatch { stream, .. } if stream == "callee.heard"));
    let v = announcements::start_stop_heard(&b.build(), CALL, &expect_always(), &tol);
    assert_eq!(v[0].status, Status::Fail);
    assert!(
        v[0].summary
            .contains("The callee heard no start announcement"),
        "{}",
        v[0].summary
    );

    let off = CallExpectation {
        announcements: Announcements {
            enabled: false,
            ..Announcements::default()
        },
        ..expect_always()
    };
    let v = announcements::start_stop_heard(&clean_always().build(), CALL, &off, &tol);
    assert_eq!(v[0].status, Status::Fail);
    assert!(
        v[0].summary.contains("at 0.05 s after answer although"),
        "{}",
        v[0].summary
    );
    let mut silent = clean_always();
    silent.remove(|o| matches!(o.event, Event::ClipMatch { .. }));
    let v = announcements::start_stop_heard(&silent.build(), CALL, &off, &tol);
    assert_eq!(v[0].status, Status::Pass);
}

#[test]
fn pol01_always_fails_without_recording_or_when_late() {
    let tol = Tolerances::default();
    let mut b = LogBuilder::new();
    b.call_started(0);
    b.answered(s(1.0));
    b.caller_hangs_up(s(11.0));
    let v = recording::record_mode(&b.build(), CALL, &expect_always(), &tol);
    assert_eq!(v[0].status, Status::Fail);
    assert!(
        v[0].summary.contains("No recording session"),
        "{}",
        v[0].summary
    );

    // Fault "late-recording-start": audio from 3 s, front clip 2000 ms.
    let mut b = clean_always();
    b.remove(|o| matches!(&o.event, Event::MediaSegment { stream, .. } | Event::PartyFrames { stream, .. } if stream.starts_with("srs.")));
    b.audio("srs.1", "caller", s(3.0), s(31.0), 100);
    b.audio("srs.2", "callee", s(3.0), s(31.0), 100);
    b.frames(s(31.1), "srs.1", "caller", 1400, 2000.0, 30);
    b.frames(s(31.1), "srs.2", "callee", 1400, 2000.0, 30);
    let log = b.build();
    let v = recording::record_mode(&log, CALL, &expect_always(), &tol);
    assert_eq!(v[0].status, Status::Fail);
    assert!(
        v[0].summary.contains("2.00 s after answer"),
        "{}",
        v[0].summary
    );
    let f = recording::front_clipping(&log, CALL, &expect_always(), &tol);
    assert_eq!(f[0].status, Status::Fail);
    assert!(
        f[0].summary.contains("2000 ms of the caller on srs.1"),
        "{}",
        f[0].summary
    );
}

#[test]
fn pol01_on_demand_fails_with_audio_before_the_start_code() {
    let (mut b, e) = on_demand();
    b.audio("srs.1", "caller", s(2.0), s(4.0), 50);
    let v = recording::record_mode(&b.build(), CALL, &e, &Tolerances::default());
    assert_eq!(v[0].status, Status::Fail);
    assert!(
        v[0].summary.contains("100 frames of party audio"),
        "{}",
        v[0].summary
    );
}

#[test]
fn pol02_codes_in_always_mode_have_no_effect() {
    let mut b = clean_always();
    b.keys("callee", "*48", s(10.0));
    let e = CallExpectation {
        reminder_interval_s: None,
        ..expect_always()
    };
    let v = recording::feature_codes(&b.build(), CALL, &e, &Tolerances::default());
    assert_eq!(v[0].status, Status::Pass, "{}", v[0].summary);
    assert!(v[0].summary.contains("had no effect"), "{}", v[0].summary);
    // A platform that pauses anyway fails.
    b.remove(
        |o| matches!(&o.event, Event::MediaSegment { stream, .. } if stream.starts_with("srs.")),
    );
    b.audio("srs.1", "caller", s(1.08), s(10.6), 2);
    b.audio("srs.2", "callee", s(1.06), s(10.6), 1);
    let v = recording::feature_codes(&b.build(), CALL, &e, &Tolerances::default());
    assert_eq!(v[0].status, Status::Fail, "{}", v[0].summary);
}

#[test]
fn pol11_pol12_provider_both_ways() {
    let tol = Tolerances::default();
    let v = recording::provider(&clean_always().build(), CALL, &expect_always(), &tol);
    assert_eq!(v[0].status, Status::Pass);
    assert!(
        v[0].summary.contains("went to Dubber recorder"),
        "{}",
        v[0].summary
    );
    let imagicle = CallExpectation {
        srs: Some(SrsTarget {
            provider: Some("Imagicle".into()),
            address: Some("10.0.1.2:5060".into()),
            uri: Some("sip:imagicle@10.0.1.2:5060".into()),
        }),
        ..expect_always()
    };
    let v = recording::provider(&clean_always().build(), CALL, &imagicle, &tol);
    assert_eq!(v[0].status, Status::Fail);
    assert!(
        v[0].summary
            .contains("sip:dubber@10.0.1.1:5060 on 10.0.1.1:5060"),
        "{}",
        v[0].summary
    );
    // Provider None.
    let none = CallExpectation {
        srs: None,
        ..expect_always()
    };
    let v = recording::provider(&clean_always().build(), CALL, &none, &tol);
    assert_eq!(v[0].requirement, "POL-12");
    assert_eq!(v[0].status, Status::Fail);
    let mut plain = LogBuilder::new();
    plain.call_started(0);
    plain.answered(s(1.0));
    plain.caller_hangs_up(s(11.0));
    let v = recording::provider(&plain.build(), CALL, &none, &tol);
    assert_eq!(v[0].status, Status::Pass);
}

#[test]
fn pol13_failure_behaviour_both_ways() {
    let tol = Tolerances::default();
    let mut b = LogBuilder::new();
    b.call_started(0);
    b.answered(s(1.0));
    b.rs_invite_rejected(s(1.02), 503);
    b.caller_hangs_up(s(16.0));
    let proceed = CallExpectation {
        failure: Some(Failure {
            behavior: FailureBehavior::ProceedWithCallNoAnnouncement,
        }),
        ..expect_always()
    };
    let v = recording::failure_behaviour(&b.build(), CALL, &proceed, &tol);
    assert_eq!(v[0].status, Status::Pass, "{}", v[0].summary);
    assert!(
        v[0].summary.contains("rejected it with 503"),
        "{}",
        v[0].summary
    );
    assert!(
        v[0].summary.contains("went on for 14.97 s"),
        "{}",
        v[0].summary
    );
    let end = CallExpectation {
        failure: Some(Failure {
            behavior: FailureBehavior::EndCallWithAnnouncement,
        }),
        ..expect_always()
    };
    let v = recording::failure_behaviour(&b.build(), CALL, &end, &tol);
    assert_eq!(v[0].status, Status::Fail);
    // The platform announces and releases: passes.
    let mut b = LogBuilder::new();
    b.call_started(0);
    b.answered(s(1.0));
    b.rs_invite_rejected(s(1.02), 503);
    b.clip_both("announcement-stop", s(1.1), s(2.0));
    b.platform_hangs_up(s(3.2));
    let v = recording::failure_behaviour(&b.build(), CALL, &end, &tol);
    assert_eq!(v[0].status, Status::Pass, "{}", v[0].summary);
    // And POL-01 leaves the failed call to POL-13.
    assert_eq!(
        recording::record_mode(&b.build(), CALL, &end, &tol)[0].status,
        Status::NotApplicable
    );
}

#[test]
fn src20_fails_when_the_rs_is_not_ended() {
    let mut b = clean_always();
    b.remove(|o| matches!(&o.event, Event::SipReceived { message, .. } if o.actor == observe::Actor::Srs && message.to_bytes().starts_with(b"BYE")));
    let v =
        recording::rs_ends_with_call(&b.build(), CALL, &expect_always(), &Tolerances::default());
    assert_eq!(v[0].status, Status::Fail);
    assert!(
        v[0].summary
            .contains("never ended with a BYE (the call ended at 30.00 s after answer)"),
        "{}",
        v[0].summary
    );
}

#[test]
fn single_message_rules_follow_the_dialect() {
    let log = clean_always().build();
    let strict = CallExpectation {
        dialect: Dialect::RfcStrict,
        ..expect_always()
    };
    let v = messages::single_message(&log, CALL, &strict, &Tolerances::default());
    let src02 = v
        .iter()
        .find(|x| x.requirement == "SRC-02")
        .expect("SRC-02");
    assert_eq!(src02.status, Status::Fail);
    assert!(src02.summary.contains("rfc-strict"), "{}", src02.summary);
    assert!(!src02.evidence.is_empty());
    let v = messages::single_message(&log, CALL, &expect_always(), &Tolerances::default());
    assert!(v.iter().all(|x| !x.failed()), "{v:#?}");
}

#[test]
fn latency_thresholds_both_ways() {
    let tol = Tolerances::default();
    let mut b = clean_always();
    b.frames(s(31.2), "callee.heard", "caller", 1497, 0.0, 300);
    let v = latency::mouth_to_ear(&b.build(), CALL, &expect_always(), &tol);
    assert_eq!(v[0].status, Status::Fail);
    assert!(v[0].summary.contains("p95 300 ms"), "{}", v[0].summary);
    let v = latency::party_to_recorder(&clean_always().build(), CALL, &expect_always(), &tol);
    assert_eq!(v[0].status, Status::Pass);
    assert!(
        v[0].summary
            .contains("the caller on srs.1 p50 20 ms, p95 30 ms"),
        "{}",
        v[0].summary
    );
    let strict = Tolerances {
        answer_to_media_ms: 30.0,
        ..Tolerances::default()
    };
    let v = latency::answer_to_media(&clean_always().build(), CALL, &expect_always(), &strict);
    assert_eq!(v[0].status, Status::Fail, "{}", v[0].summary);
}

#[test]
fn recording_start_delay_compares_two_calls() {
    let mut log = clean_always().build();
    let mut plain = LogBuilder::new();
    plain.call = "call-0002".into();
    plain.call_started(s(100.0));
    plain.answered(s(101.0));
    plain
        .rtp("caller.heard", s(101.01))
        .rtp("callee.heard", s(101.02));
    plain.caller_hangs_up(s(111.0));
    log.extend(plain.build());
    let v = latency::recording_start_delay(
        &log,
        CALL,
        "call-0002",
        &expect_always(),
        &Tolerances::default(),
    );
    assert_eq!(v.status, Status::Pass);
    assert!(
        v.summary
            .contains("the caller 40 ms with recording, 10 ms without (30 ms added)"),
        "{}",
        v.summary
    );
}

#[test]
fn expectations_and_tolerances_deserialize_with_defaults() {
    let e: CallExpectation = serde_json::from_str(
        r#"{"mode":"OnDemand","reminder_interval_s":20,"pause_notice":"Beep","srs":{"address":"10.0.1.2:5060"}}"#,
    )
    .expect("expectation");
    assert_eq!(e.mode, RecordMode::OnDemand);
    assert_eq!(e.reminder_interval_s, Some(20.0));
    assert_eq!(e.pause_notice, PauseNotice::Beep);
    // No reference-platform value is a default: unknown signals stay unknown.
    assert_eq!(e.signals, Signals::default());
    assert_eq!(e.signals.reminder_hz, None);
    assert_eq!(e.feature_codes.start, "*44");
    assert_eq!(e.streams, 2);
    let t: Tolerances = serde_json::from_str(r#"{"reminder_interval_ms":1000}"#).expect("tol");
    assert_eq!(t.reminder_interval_ms, 1000.0);
    assert_eq!(t.metadata_delay_ms, 2000.0);
    assert!(serde_json::from_str::<Tolerances>(r#"{"no_such":1}"#).is_err());
    // A profile's partial tolerances go over the real-time defaults, not the simulated.
    let rt = Tolerances::real_time_with(&serde_json::json!({"rs_end_ms": 3000})).expect("rt");
    assert_eq!(rt.rs_end_ms, 3000.0);
    assert_eq!(rt.reminder_interval_ms, 1000.0);
    assert!(Tolerances::real_time_with(&serde_json::json!({"nope": 1})).is_err());
}

#[test]
fn recorder_stream_labels_follow_the_emulator_naming() {
    assert_eq!(label_of("srs.1"), "1");
    assert_eq!(label_of("srs.s2.1"), "1");
    assert_eq!(label_of("srs.m0"), "m0");
    assert_eq!(label_of("srs.side.b"), "side.b");
}

#[test]
fn hostile_log_content_never_panics() {
    let mut b = clean_always();
    b.push(
        s(2.0),
        observe::Actor::Srs,
        Event::SipReceived {
            transport: "udp".into(),
            local: SRS_ADDR.into(),
            remote: "x".into(),
            message: observe::Payload::Base64("////".into()),
        },
    );
    b.push(
        s(2.1),
        observe::Actor::Srs,
        Event::Metadata {
            rs_call_id: RS_CALL_ID.into(),
            method: "UPDATE".into(),
            content_type: "application/rs-metadata+xml".into(),
            xml: "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><recording>&a;</recording>".into(),
        },
    );
    b.push(
        s(2.2),
        observe::Actor::Srs,
        Event::Metadata {
            rs_call_id: RS_CALL_ID.into(),
            method: "UPDATE".into(),
            content_type: "application/rs-metadata+xml".into(),
            xml: "<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\"><announcement xmlns=\"urn:recproof:params:xml:ns:announcement:1\" event=\"explode\"/></recording>".into(),
        },
    );
    let v = judge(&b.build(), &expect_always());
    // The malformed announcement element is a POL-05 failure with evidence.
    let p = one(&v, "POL-05", "announcement.metadata");
    assert_eq!(p.status, Status::Fail);
    assert!(
        p.evidence[0].detail.contains("explode"),
        "{:#?}",
        p.evidence
    );
    // An empty log is judged too.
    let v = judge(&[], &expect_always());
    assert!(!v.is_empty());
}

// ---- the judgement contract: preconditions, absence, labels ------------------------

#[test]
fn preconditions_pass_on_a_clean_call_and_fail_when_the_call_never_happened() {
    let tol = Tolerances::default();
    let v = preconditions::preconditions(&clean_always().build(), CALL, &expect_always(), &tol);
    for p in &v {
        // A simulated call logs no harness drop count: that one has nothing to judge.
        let want = if p.check == preconditions::HARNESS_INTACT {
            Status::NotApplicable
        } else {
            Status::Pass
        };
        assert_eq!(p.status, want, "{p}");
    }
    // Never answered (nothing listening): the caller's INVITE got no final answer.
    let mut b = LogBuilder::new();
    b.call_started(0);
    b.answered(s(1.0));
    b.remove(|o| {
        o.actor == observe::Actor::Callee || matches!(&o.event, Event::SipReceived { .. })
    });
    let v = preconditions::preconditions(&b.build(), CALL, &expect_always(), &tol);
    let answered = v
        .iter()
        .find(|x| x.check == preconditions::ANSWERED)
        .expect("answered");
    assert_eq!(answered.status, Status::Fail, "{answered}");
    assert!(
        answered.summary.contains("never answered"),
        "{}",
        answered.summary
    );
    // Answered, media flowing, but never recorded.
    let mut b = clean_always();
    b.remove(|o| o.actor == observe::Actor::Srs);
    let v = preconditions::preconditions(&b.build(), CALL, &expect_always(), &tol);
    let rs = v
        .iter()
        .find(|x| x.check == preconditions::RECORDING_SESSION)
        .expect("rs");
    assert_eq!(rs.status, Status::Fail, "{rs}");
    assert!(
        rs.summary
            .contains("no recording session INVITE reached any recorder"),
        "{}",
        rs.summary
    );
    // ...which a Never user is not expected to have: not applicable, not failed.
    let never = CallExpectation {
        mode: RecordMode::Never,
        ..expect_always()
    };
    let v = preconditions::preconditions(&b.build(), CALL, &never, &tol);
    let rs = v
        .iter()
        .find(|x| x.check == preconditions::RECORDING_SESSION)
        .expect("rs");
    assert_eq!(rs.status, Status::NotApplicable, "{rs}");
    // Recorded with no party audio at the recorder.
    let mut b = clean_always();
    b.remove(|o| {
        matches!(&o.event, Event::MediaSegment { stream, .. } | Event::PartyFrames { stream, .. } if stream.starts_with("srs."))
    });
    let v = preconditions::preconditions(&b.build(), CALL, &expect_always(), &tol);
    let media = v
        .iter()
        .find(|x| x.check == preconditions::RECORDER_MEDIA)
        .expect("media");
    assert_eq!(media.status, Status::Fail, "{media}");
}

#[test]
fn harness_side_loss_fails_the_precondition_and_blames_the_harness() {
    let tol = Tolerances::default();
    let intact = |drops: u64| {
        let mut b = clean_always();
        b.push(
            s(30.0),
            observe::Actor::Harness,
            Event::HarnessReceiveDrops { datagrams: drops },
        );
        preconditions::preconditions(&b.build(), CALL, &expect_always(), &tol)
            .into_iter()
            .find(|v| v.check == preconditions::HARNESS_INTACT)
            .expect("judged")
    };
    let clean = intact(0);
    assert_eq!(clean.status, Status::Pass, "{clean}");
    assert!(
        clean.summary.contains("counted no datagram dropped"),
        "{}",
        clean.summary
    );
    let lossy = intact(37);
    assert_eq!(lossy.status, Status::Fail, "{lossy}");
    assert!(
        lossy.summary.contains("dropped 37 datagrams") && lossy.summary.contains("not the SUT's"),
        "{}",
        lossy.summary
    );
    assert!(preconditions::is_precondition(&lossy.check));
}

#[test]
fn pol04_is_not_judged_when_no_announcement_was_played() {
    let mut b = clean_always();
    b.remove(|o| matches!(o.event, Event::ClipMatch { .. }));
    let v = announcements::not_recorded(&b.build(), CALL, &expect_always(), &Tolerances::default());
    assert_eq!(v[0].status, Status::NotApplicable, "{}", v[0].summary);
    assert!(
        v[0].summary
            .contains("neither party heard a recording notice"),
        "{}",
        v[0].summary
    );
    // With no clip known there is nothing to look for: not judged either.
    let blind = CallExpectation {
        signals: Signals::default(),
        ..expect_always()
    };
    let v = announcements::not_recorded(
        &clean_always().build(),
        CALL,
        &blind,
        &Tolerances::default(),
    );
    assert_eq!(v[0].status, Status::NotApplicable, "{}", v[0].summary);
}

/// A clean call whose recorder streams are labelled `labels` (caller's first), the
/// metadata tying each to its participant.
fn labelled_call(labels: [&str; 2]) -> LogBuilder {
    let mut b = LogBuilder::new();
    b.sdp_labels = labels.iter().map(|l| (*l).to_owned()).collect();
    b.md_labels = b.sdp_labels.clone();
    b.call_started(0);
    b.answered(s(1.0));
    b.rs_invite(s(1.02));
    b.audio("caller.heard", "callee", s(1.04), s(11.0), 0);
    b.audio("callee.heard", "caller", s(1.05), s(11.0), 0);
    b.audio(&format!("srs.{}", labels[0]), "caller", s(1.08), s(11.0), 2);
    b.audio(&format!("srs.{}", labels[1]), "callee", s(1.06), s(11.0), 1);
    b.caller_hangs_up(s(11.0));
    b.rs_bye(s(11.01));
    b
}

#[test]
fn pol09_ties_streams_to_parties_by_the_metadata_not_by_label_values() {
    let tol = Tolerances::default();
    // OpenSIPS labels its streams 1 (caller) and 0 (callee): that is legal.
    for labels in [["1", "2"], ["1", "0"], ["a", "b"]] {
        let v = streams::one_party_per_stream(
            &labelled_call(labels).build(),
            CALL,
            &expect_always(),
            &tol,
        );
        assert_eq!(v[0].status, Status::Pass, "{labels:?}: {}", v[0].summary);
    }
    // The same audio with the metadata saying the opposite: the streams are swapped.
    let mut b = labelled_call(["1", "0"]);
    b.obs
        .retain(|o| !matches!(o.event, Event::MediaSegment { .. }));
    b.audio("srs.1", "callee", s(1.08), s(11.0), 2);
    b.audio("srs.0", "caller", s(1.06), s(11.0), 1);
    let v = streams::one_party_per_stream(&b.build(), CALL, &expect_always(), &tol);
    assert_eq!(v[0].status, Status::Fail, "{}", v[0].summary);
    assert!(
        v[0].summary
            .contains("although the metadata ties it to the caller"),
        "{}",
        v[0].summary
    );
    // Parties the metadata does not name (another caller identity): not judged, no guess.
    let strangers = CallExpectation {
        parties: Parties {
            caller: "+15550000000".into(),
            callee: "9999".into(),
        },
        ..expect_always()
    };
    let v =
        streams::one_party_per_stream(&labelled_call(["1", "0"]).build(), CALL, &strangers, &tol);
    assert_eq!(v[0].status, Status::Fail, "{}", v[0].summary);
    assert!(v[0].summary.contains("not a party"), "{}", v[0].summary);
}

#[test]
fn src17_resume_is_judged_both_ways() {
    let (b, e) = on_demand();
    let tol = Tolerances::default();
    let v = streams::resumed(&b.build(), CALL, &e, &tol);
    assert_eq!(v[0].status, Status::Pass, "{}", v[0].summary);
    // Audio never comes back after the resume.
    let mut quiet = LogBuilder {
        obs: b.obs.clone(),
        ..LogBuilder::new()
    };
    quiet.remove(|o| matches!(&o.event, Event::MediaSegment { stream, start_us, .. } if stream.starts_with("srs.") && *start_us > s(15.0)));
    let v = streams::resumed(&quiet.build(), CALL, &e, &tol);
    assert_eq!(v[0].status, Status::Fail, "{}", v[0].summary);
    assert!(
        v[0].summary
            .contains("No party audio reached the recorder after the resume"),
        "{}",
        v[0].summary
    );
    // A call never paused: not judged.
    let v = streams::resumed(&clean_always().build(), CALL, &expect_always(), &tol);
    assert_eq!(v[0].status, Status::NotApplicable);
}

#[test]
fn the_catalogue_lists_every_check_judge_call_emits() {
    let (b, e) = on_demand();
    let mut seen = std::collections::BTreeSet::new();
    for log in [
        clean_always().build(),
        b.build(),
        voicemail_call(true).build(),
    ] {
        for v in judge(&log, &e) {
            seen.insert(v.check);
        }
    }
    for c in &seen {
        assert!(check_info(c).is_some(), "check `{c}` is not in CATALOGUE");
    }
}

/// The on-demand call as a capture of real speech would import it: every party span is
/// sound that matched nothing known, no frame report, and the import's marker.
fn uninstrumented(log: Vec<Observation>) -> Vec<Observation> {
    let mut out: Vec<Observation> = log
        .into_iter()
        .filter(|o| !matches!(o.event, Event::PartyFrames { .. }))
        .map(|mut o| {
            if let Event::MediaSegment {
                source, latency, ..
            } = &mut o.event
                && matches!(source, observe::Source::Party { .. })
            {
                *source = observe::Source::Unknown;
                *latency = None;
            }
            o
        })
        .collect();
    out.insert(
        0,
        Observation {
            t_us: 0,
            call: Some(CALL.into()),
            actor: observe::Actor::Capture,
            event: Event::CaptureImported {
                capture: "speech.pcap".into(),
                audio: observe::CaptureAudio::Uninstrumented,
                recording_only: false,
            },
        },
    );
    out
}

fn sound(stream: &str, a: u64, b: u64) -> Observation {
    Observation {
        t_us: b,
        call: Some(CALL.into()),
        actor: if stream.starts_with("srs.") {
            observe::Actor::Srs
        } else {
            observe::Actor::Caller
        },
        event: Event::MediaSegment {
            stream: stream.into(),
            source: observe::Source::Unknown,
            start_us: a,
            end_us: b,
            frames: (b - a) / 20_000,
            latency: None,
        },
    }
}

#[test]
fn uninstrumented_audio_judges_sound_and_says_what_it_cannot_tell() {
    let (b, e) = on_demand();
    let log = uninstrumented(b.build());
    let v = judge(&log, &e);
    no_failures(&v);
    for (req, check) in [
        ("SRC-17", "paused.silent"),
        ("SRC-17", "paused.resumed"),
        ("RP-CALL", "precondition.recorder_media"),
        ("RP-CALL", "precondition.party_media"),
        ("POL-03", "announcement.start"),
        ("POL-07", "pause_notice"),
    ] {
        assert_eq!(status(&v, req, check), Status::Pass, "{check}");
    }
    let q = one(&v, "SRC-17", "paused.silent");
    assert!(
        q.summary.starts_with("No sound reached the recorder"),
        "{}",
        q.summary
    );
    for (req, check) in [
        ("POL-01", "record_mode"),
        ("POL-02", "feature_code.start"),
        ("POL-02", "feature_code.pause"),
        ("POL-09", "streams.one_party"),
        ("RP-LATENCY", "latency.mouth_to_ear"),
        ("RP-LATENCY", "latency.party_to_recorder"),
    ] {
        let x = one(&v, req, check);
        assert_eq!(x.status, Status::NotApplicable, "{check}");
        assert!(
            x.summary
                .starts_with("Not judged: needs instrumented audio."),
            "{}",
            x.summary
        );
    }
}

#[test]
fn uninstrumented_sound_while_paused_fails() {
    let (b, e) = on_demand();
    let mut log = uninstrumented(b.build());
    // The pause runs from about 10.3 s to 20.3 s: 4 s of sound reach the recorder.
    log.push(sound("srs.1", s(13.0), s(17.0)));
    let v = judge(&log, &e);
    let q = one(&v, "SRC-17", "paused.silent");
    assert_eq!(q.status, Status::Fail, "{}", q.summary);
    assert!(q.summary.contains("4.00 s of sound"), "{}", q.summary);
}

#[test]
fn uninstrumented_call_that_records_nothing_fails_its_preconditions() {
    let (b, e) = on_demand();
    let log: Vec<Observation> = uninstrumented(b.build())
        .into_iter()
        .filter(|o| {
            !matches!(&o.event, Event::MediaSegment { stream, .. } if stream.starts_with("srs."))
        })
        .collect();
    let v = judge(&log, &e);
    let r = one(&v, "RP-CALL", "precondition.recorder_media");
    assert_eq!(r.status, Status::Fail, "{}", r.summary);
    assert!(
        r.summary.starts_with("No sound reached the recorder"),
        "{}",
        r.summary
    );
    assert_eq!(status(&v, "SRC-17", "paused.resumed"), Status::Fail);
}

#[test]
fn undecodable_audio_judges_signalling_only() {
    let (b, e) = on_demand();
    let mut log = b.build();
    log.insert(
        0,
        Observation {
            t_us: 0,
            call: Some(CALL.into()),
            actor: observe::Actor::Capture,
            event: Event::CaptureImported {
                capture: "srtp.pcap".into(),
                audio: observe::CaptureAudio::Undecoded,
                recording_only: false,
            },
        },
    );
    let v = judge(&log, &e);
    no_failures(&v);
    for (req, check) in [
        ("RP-CALL", "precondition.answered"),
        ("RP-CALL", "precondition.recording_session"),
        ("SRC-20", "rs_end"),
    ] {
        assert_eq!(status(&v, req, check), Status::Pass, "{check}");
    }
    for (req, check) in [
        ("RP-CALL", "precondition.party_media"),
        ("RP-CALL", "precondition.recorder_media"),
        ("POL-03", "announcement.start"),
        ("POL-07", "pause_notice"),
        ("SRC-17", "paused.silent"),
        ("POL-02", "feature_code.resume"),
        ("POL-09", "streams.one_party"),
    ] {
        let x = one(&v, req, check);
        assert_eq!(x.status, Status::NotApplicable, "{check}");
        assert!(
            x.summary
                .starts_with("Not judged: the capture's audio could not be decoded"),
            "{check}: {}",
            x.summary
        );
        assert!(x.evidence.is_empty(), "{check}");
    }
}
