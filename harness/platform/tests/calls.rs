//! End-to-end calls through the reference platform under the simulated clock.

mod common;

use common::*;
use recproof_platform::assets::prompt;
use siprec::Profile;

/// Within `tol` ms.
fn near(got_us: u64, want_ms: f64, tol_ms: f64) -> bool {
    (ms(got_us) - want_ms).abs() <= tol_ms
}

#[test]
fn always_call_60s_announcement_reminders_two_streams_and_bye() {
    // Caller 1001 (not recorded) calls 2001 (Always, announcement, 20 s reminder); the
    // callee answers at ~1 s; the caller hangs up 60 s later.
    let s = Scenario::call("1001", "2001", 61_000);
    let out = run(&s);
    let secs_per_wall = out.sim.as_secs_f64() / out.wall.as_secs_f64();
    eprintln!(
        "60 s Always call: {:.1} s simulated in {:.2} s wall = {secs_per_wall:.1} simulated call-seconds per wall-second",
        out.sim.as_secs_f64(),
        out.wall.as_secs_f64()
    );
    for o in &out.obs {
        if let observe::Event::PartyFrames {
            stream,
            party,
            latency: Some(l),
            ..
        } = &o.event
        {
            eprintln!(
                "one-way latency {party} -> {stream}: min {:.1} p50 {:.1} p95 {:.1} max {:.1} ms (1 ms per link hop)",
                ms(l.min_us),
                ms(l.p50_us),
                ms(l.p95_us),
                ms(l.max_us)
            );
        }
    }
    let answered = out.platform_actions("call_answered");
    assert_eq!(answered.len(), 1, "one answer");
    let t0 = ms(answered[0].0);
    assert!((1000.0..1100.0).contains(&t0), "answered at {t0} ms");

    // Both parties hear the start announcement at answer.
    for stream in ["caller.heard", "callee.heard"] {
        let starts = out.clips(stream, prompt::START);
        assert_eq!(starts.len(), 1, "{stream}: {starts:?}");
        assert!(
            near(starts[0], t0, 60.0),
            "{stream}: {} vs {t0}",
            ms(starts[0])
        );
        // Reminder tones 20 and 40 s after recording start (the 60 s one is at hang-up).
        let tones = out.tones(stream, 1400.0);
        assert!(tones.len() >= 2, "{stream}: {tones:?}");
        assert!(near(tones[0].0, t0 + 20_000.0, 60.0), "{stream}: {tones:?}");
        assert!(near(tones[1].0, t0 + 40_000.0, 60.0), "{stream}: {tones:?}");
        let len = ms(tones[0].1 - tones[0].0);
        assert!((440.0..560.0).contains(&len), "tone length {len}");
    }

    // The recorder: one RS INVITE, two labelled sendonly streams, a clean validation.
    let invites: Vec<_> = out
        .dubber
        .iter()
        .filter(|r| r.method == "INVITE" && !r.in_dialog)
        .collect();
    assert_eq!(invites.len(), 1);
    let sdp = Outcome::sdp_of_invite(invites[0]);
    let labels: Vec<_> = sdp.media().iter().map(|m| m.label.clone()).collect();
    assert_eq!(labels, [Some("1".to_owned()), Some("2".to_owned())]);
    assert!(
        sdp.media()
            .iter()
            .all(|m| m.direction == sip::sdp::Direction::SendOnly)
    );
    let report = siprec::validate::validate(&invites[0].raw, Profile::BroadworksCompat);
    assert!(!report.failed(), "{:#?}", report.findings);

    // Party audio on its own stream only; no announcement or tone in the recording.
    let caller_on_1 = out.party_frames("srs.1", "caller");
    let callee_on_2 = out.party_frames("srs.2", "callee");
    assert!(
        caller_on_1 > 2800,
        "caller frames on label 1: {caller_on_1}"
    );
    assert!(
        callee_on_2 > 2800,
        "callee frames on label 2: {callee_on_2}"
    );
    assert_eq!(out.party_frames("srs.1", "callee"), 0);
    assert_eq!(out.party_frames("srs.2", "caller"), 0);
    assert!(
        out.any_clip("srs.").is_empty(),
        "{:?}",
        out.any_clip("srs.")
    );
    assert!(
        out.any_tone("srs.").is_empty(),
        "{:?}",
        out.any_tone("srs.")
    );

    // The metadata UPDATE is itself a valid RS request in the same profile.
    for r in out.dubber.iter().filter(|r| r.method == "UPDATE") {
        let report = siprec::validate::validate(&r.raw, Profile::BroadworksCompat);
        assert!(!report.failed(), "{:#?}", report.findings);
    }
    // One metadata update per announcement (the start), and BYE at the end.
    assert_eq!(Outcome::announcement_events(&out.dubber[1..]), ["start"]);
    assert_eq!(out.dubber.iter().filter(|r| r.method == "BYE").count(), 1);
    assert!(out.imagicle.is_empty());
    // Everything torn down: no call left, every RTP port back in the pool.
    assert_eq!((out.active_calls, out.free_ports), (0, 64));
}

#[test]
fn both_parties_recorded_gives_one_session_each_and_one_announcement() {
    // 2001 (Always) calls 2002 (Always with Pause/Resume): BroadWorks records each user.
    let out = run(&Scenario::call("2001", "2002", 15_000));
    let invites: Vec<_> = out
        .dubber
        .iter()
        .filter(|r| r.method == "INVITE" && !r.in_dialog)
        .collect();
    assert_eq!(invites.len(), 2);
    let texts: Vec<String> = invites
        .iter()
        .map(|r| String::from_utf8_lossy(&r.raw).into_owned())
        .collect();
    assert!(texts.iter().any(|t| t.contains("<origCall>")));
    assert!(texts.iter().any(|t| t.contains("<termCall>")));
    // Heard once, although both users' policies announce; reported to both recorders.
    assert_eq!(out.clips("caller.heard", prompt::START).len(), 1);
    assert_eq!(
        Outcome::announcement_events(&out.dubber),
        ["start", "start"]
    );
    assert_eq!(out.dubber.iter().filter(|r| r.method == "BYE").count(), 2);
    assert_eq!((out.active_calls, out.free_ports), (0, 64));
}

#[test]
fn on_demand_start_pause_resume_stop_by_feature_codes() {
    // 3001 is On Demand with spoken pause/resume notices and a 10 s reminder.
    let mut s = Scenario::call("1001", "3001", 50_000);
    s.dtmf = vec![
        (5_000, Who::Callee, "*44"),
        (18_000, Who::Callee, "*48"),
        (28_000, Who::Callee, "*49"),
        (40_000, Who::Callee, "*45"),
    ];
    let out = run(&s);
    // Nothing reaches the recorder before *44.
    let invites: Vec<_> = out
        .dubber
        .iter()
        .filter(|r| r.method == "INVITE" && !r.in_dialog)
        .collect();
    assert_eq!(invites.len(), 1);
    let at = ms(invites[0].at.as_micros());
    assert!((5_000.0..5_600.0).contains(&at), "RS INVITE at {at} ms");
    let start = ms(out.platform_actions("recording_start")[0].0);
    let pause = ms(out.platform_actions("pause")[0].0);
    let resume = ms(out.platform_actions("resume")[0].0);
    let stop = ms(out.platform_actions("recording_stop")[0].0);
    assert!(start < pause && pause < resume && resume < stop);

    // Each event is heard by both parties at the moment it happens...
    for stream in ["caller.heard", "callee.heard"] {
        for (clip, when) in [
            (prompt::START, start),
            (prompt::PAUSE, pause),
            (prompt::RESUME, resume),
            (prompt::STOP, stop),
        ] {
            let got = out.clips(stream, clip);
            assert_eq!(got.len(), 1, "{stream} {clip}: {got:?}");
            assert!(
                near(got[0], when, 80.0),
                "{stream} {clip}: {} vs {when}",
                ms(got[0])
            );
        }
        // Reminders: start+10 s; none while paused; resume+10 s; none after stop.
        let tones: Vec<f64> = out.tones(stream, 1400.0).iter().map(|t| ms(t.0)).collect();
        assert_eq!(tones.len(), 2, "{stream}: {tones:?}");
        assert!((tones[0] - (start + 10_000.0)).abs() < 80.0, "{tones:?}");
        assert!((tones[1] - (resume + 10_000.0)).abs() < 80.0, "{tones:?}");
    }
    // ...reported as metadata, in order...
    assert_eq!(
        Outcome::announcement_events(&out.dubber),
        ["start", "pause", "resume", "stop"]
    );
    // ...the pause is a re-INVITE inactive and the resume one sendonly (default style)...
    let reinvites: Vec<_> = out
        .dubber
        .iter()
        .filter(|r| r.method == "INVITE" && r.in_dialog)
        .collect();
    assert_eq!(reinvites.len(), 2);
    let dirs: Vec<_> = reinvites
        .iter()
        .map(|r| Outcome::sdp_of_invite(r).media()[0].direction)
        .collect();
    assert_eq!(
        dirs,
        [sip::sdp::Direction::Inactive, sip::sdp::Direction::SendOnly]
    );
    let updates: Vec<_> = out.dubber.iter().filter(|r| r.method == "UPDATE").collect();
    for r in reinvites.iter().chain(updates.iter()) {
        let report = siprec::validate::validate(&r.raw, Profile::BroadworksCompat);
        assert!(!report.failed(), "{} {:#?}", r.method, report.findings);
    }
    // ...no callee audio reaches the recorder while paused, and the RS ends with BYE at *45.
    let spans = out.party_spans("srs.2", "callee");
    assert!(!spans.is_empty());
    for (a, b) in &spans {
        let (a, b) = (ms(*a), ms(*b));
        assert!(
            b <= pause + 100.0 || a >= resume - 100.0,
            "audio while paused: {a}-{b} ({pause}-{resume})"
        );
        assert!(
            a >= start - 100.0 && b <= stop + 100.0,
            "audio outside recording: {a}-{b}"
        );
    }
    // Within the recorded windows every callee frame is there, except the slots the
    // callee's phone spent sending the RFC 4733 events of *48 and *45 (no audio then).
    let frames = out.party_frames("srs.2", "callee");
    let expected = ((pause - start) + (stop - resume)) / 20.0;
    assert!(frames as f64 <= expected + 2.0, "{frames} vs {expected}");
    assert!(frames as f64 >= expected - 60.0, "{frames} vs {expected}");
    let bye = out.dubber.iter().find(|r| r.method == "BYE").expect("BYE");
    assert!(near(bye.at.as_micros(), stop, 200.0));
}

#[test]
fn always_with_pause_resume_ignores_stop_and_beeps_with_stop_rtp_style() {
    let mut s = Scenario::call("1001", "2002", 30_000);
    s.pause_style = recproof_platform::PauseStyle::StopRtp;
    s.dtmf = vec![
        (8_000, Who::Callee, "*45"),
        (10_000, Who::Callee, "*48"),
        (20_000, Who::Callee, "*49"),
    ];
    let out = run(&s);
    assert!(
        out.platform_actions("recording_stop").is_empty() || {
            // recording_stop only at call end (after 30 s)
            out.platform_actions("recording_stop")
                .iter()
                .all(|(t, _)| ms(*t) >= 30_000.0)
        }
    );
    // Beep notices (1000 Hz, 300 ms) at pause and resume; no spoken notice.
    let beeps = out.tones("caller.heard", 1000.0);
    assert_eq!(beeps.len(), 2, "{beeps:?}");
    for (a, b) in &beeps {
        let len = ms(b - a);
        assert!((240.0..360.0).contains(&len), "beep {len} ms");
    }
    assert!(out.clips("caller.heard", prompt::PAUSE).is_empty());
    // Stop-RTP style: no re-INVITE, and a gap in the recording.
    assert_eq!(
        out.dubber
            .iter()
            .filter(|r| r.method == "INVITE" && r.in_dialog)
            .count(),
        0
    );
    let pause = ms(out.platform_actions("pause")[0].0);
    let resume = ms(out.platform_actions("resume")[0].0);
    for (a, b) in out.party_spans("srs.2", "callee") {
        assert!(ms(b) <= pause + 100.0 || ms(a) >= resume - 100.0);
    }
    assert_eq!(
        Outcome::announcement_events(&out.dubber),
        ["start", "pause", "resume"]
    );
}

#[test]
fn hold_0000_pause_style_reoffers_the_zero_address() {
    let mut s = Scenario::call("1001", "2002", 20_000);
    s.pause_style = recproof_platform::PauseStyle::ReinviteHold0000;
    s.dtmf = vec![(6_000, Who::Callee, "*48"), (12_000, Who::Callee, "*49")];
    let out = run(&s);
    let reinvites: Vec<_> = out
        .dubber
        .iter()
        .filter(|r| r.method == "INVITE" && r.in_dialog)
        .collect();
    assert_eq!(reinvites.len(), 2);
    let zero: Vec<bool> = reinvites
        .iter()
        .map(|r| Outcome::sdp_of_invite(r).media()[0].is_zero_address())
        .collect();
    assert_eq!(zero, [true, false]);
}

#[test]
fn never_mode_and_none_provider_open_no_recording_session() {
    let never = run(&Scenario::call("1001", "2003", 10_000));
    assert!(never.dubber.is_empty() && never.imagicle.is_empty());
    assert!(never.platform_actions("rs_invite").is_empty());
    // The call itself worked: the caller heard the callee.
    assert!(never.party_frames("caller.heard", "callee") > 400);

    // Location Bergen overrides the vendor with None.
    let bergen = run(&Scenario::call("1001", "5001", 10_000));
    assert!(bergen.dubber.is_empty() && bergen.imagicle.is_empty());

    // Organisation vendor None: nobody is recorded, even Always.
    let mut s = Scenario::call("1001", "2001", 10_000);
    s.policy_override = Some(
        r#"
organization: { name: Off, region: US, callRecording: { vendor: None } }
locations: [ { id: hq } ]
people:
  - { extension: "1001", location: hq, callRecording: { enabled: true, record: Never } }
  - { extension: "2001", location: hq, callRecording: { enabled: true, record: Always } }
"#,
    );
    let none = run(&s);
    assert!(none.dubber.is_empty() && none.imagicle.is_empty());
    assert!(none.party_frames("callee.heard", "caller") > 400);

    // The clean counterpart: the same call to an Always user is recorded.
    let always = run(&Scenario::call("1001", "2001", 10_000));
    assert_eq!(
        always
            .dubber
            .iter()
            .filter(|r| r.method == "INVITE")
            .count(),
        1
    );
}

#[test]
fn location_override_sends_the_recording_to_the_override_provider() {
    let oslo = run(&Scenario::call("1001", "4001", 10_000));
    assert_eq!(
        oslo.imagicle
            .iter()
            .filter(|r| r.method == "INVITE")
            .count(),
        1
    );
    assert!(oslo.dubber.is_empty());
    let hq = run(&Scenario::call("1001", "2001", 10_000));
    assert!(hq.imagicle.is_empty());
    assert_eq!(hq.dubber.iter().filter(|r| r.method == "INVITE").count(), 1);
}

#[test]
fn unanswered_and_declined_calls_go_to_voicemail_and_deposits_are_recorded() {
    let mut s = Scenario::call("1001", "2001", 30_000);
    s.answer = roles::ua::AnswerMode::Never;
    let out = run(&s);
    let vm = out.platform_actions("voicemail");
    assert_eq!(vm.len(), 1);
    let at = ms(vm[0].0);
    assert!((12_000.0..12_200.0).contains(&at), "voicemail at {at}");
    let greet = out.clips("caller.heard", prompt::VOICEMAIL_GREETING);
    assert_eq!(greet.len(), 1);
    assert!(
        near(greet[0], at + 200.0, 80.0),
        "greeting at {}",
        ms(greet[0])
    );
    let beep = out.tones("caller.heard", 1000.0);
    assert_eq!(beep.len(), 1, "{beep:?}");
    let greeting_ms = recproof_platform::assets::Assets::load()
        .expect("assets")
        .greeting
        .len() as f64
        / 8.0;
    assert!(
        near(beep[0].0, at + 200.0 + greeting_ms, 80.0),
        "beep {} greeting end {}",
        ms(beep[0].0),
        at + greeting_ms
    );
    // Recorded: the caller's message on label 1, the mailbox prompts on label 2, no
    // start announcement (nobody to announce to but the caller, who hears the greeting).
    assert_eq!(
        out.dubber.iter().filter(|r| r.method == "INVITE").count(),
        1
    );
    assert!(out.party_frames("srs.1", "caller") > 700);
    assert_eq!(out.clips("srs.2", prompt::VOICEMAIL_GREETING).len(), 1);
    assert!(out.clips("caller.heard", prompt::START).is_empty());

    // Declined (486) goes to voicemail at once.
    let mut s = Scenario::call("1001", "2001", 20_000);
    s.answer = roles::ua::AnswerMode::Reject {
        code: 486,
        after: std::time::Duration::from_secs(2),
    };
    let out = run(&s);
    let vm = out.platform_actions("voicemail");
    assert_eq!(vm.len(), 1);
    assert!((2_000.0..2_200.0).contains(&ms(vm[0].0)));
    assert_eq!(
        out.dubber.iter().filter(|r| r.method == "INVITE").count(),
        1
    );

    // recordVoicemailEnabled false: the deposit is not recorded.
    let mut s = Scenario::call("1001", "2004", 25_000);
    s.answer = roles::ua::AnswerMode::Never;
    let out = run(&s);
    assert_eq!(out.platform_actions("voicemail").len(), 1);
    assert!(out.dubber.is_empty());
}

#[test]
fn unknown_extension_is_refused_with_404() {
    let mut s = Scenario::call("1001", "9999", 5_000);
    s.callee_in_directory = false;
    let out = run(&s);
    assert!(
        out.platform_actions("call_rejected")
            .iter()
            .any(|(_, d)| d.contains("404"))
    );
    assert!(out.obs.iter().any(|o| matches!(&o.event,
        observe::Event::CallEnded { reason } if reason == "rejected 404")));
    assert!(out.dubber.is_empty());
    // The same number in the directory is routed.
    let out = run(&Scenario::call("1001", "9999", 5_000));
    assert!(out.platform_actions("call_rejected").is_empty());
    assert!(out.party_frames("caller.heard", "callee") > 100);
}

#[test]
fn recorder_failure_applies_the_failure_behaviour() {
    // Proceed, no announcement: the call goes on, nothing is heard.
    let mut s = Scenario::call("1001", "2001", 15_000);
    s.srs_mode = SrsMode::Reject(503);
    let out = run(&s);
    assert_eq!(out.platform_actions("recording_failed").len(), 1);
    assert!(out.clips("caller.heard", prompt::STOP).is_empty());
    assert!(out.party_frames("caller.heard", "callee") > 600);

    // Proceed with announcement: both hear the notice; the call goes on.
    s.failure = "PROCEED_CALL_WITH_ANNOUNCEMENT";
    let out = run(&s);
    assert_eq!(out.clips("caller.heard", prompt::STOP).len(), 1);
    assert_eq!(out.clips("callee.heard", prompt::STOP).len(), 1);
    assert!(out.party_frames("caller.heard", "callee") > 600);
    assert!(out.platform_actions("call_released").is_empty());

    // End call with announcement: the platform releases the call after the notice.
    s.failure = "END_CALL_WITH_ANNOUNCEMENT";
    let out = run(&s);
    assert_eq!(out.clips("caller.heard", prompt::STOP).len(), 1);
    let released = out.platform_actions("call_released");
    assert_eq!(released.len(), 1);
    assert!(
        ms(released[0].0) < 6_000.0,
        "released at {}",
        ms(released[0].0)
    );

    // A recorder that never answers: Timer B (32 s) then the failure behaviour.
    let mut s = Scenario::call("1001", "2001", 40_000);
    s.srs_mode = SrsMode::Silent;
    let out = run(&s);
    let failed = out.platform_actions("recording_failed");
    assert_eq!(failed.len(), 1);
    let at = ms(failed[0].0);
    assert!((32_500.0..33_500.0).contains(&at), "failed at {at}");
}

#[test]
fn rfc_strict_dialect_invite_validates_clean_and_carries_the_rfc_markers() {
    let mut s = Scenario::call("1001", "2001", 12_000);
    s.dialect = "rfc-strict";
    let out = run(&s);
    let invite = out
        .dubber
        .iter()
        .find(|r| r.method == "INVITE")
        .expect("INVITE");
    let report = siprec::validate::validate(&invite.raw, Profile::RfcStrict);
    assert!(!report.failed(), "{:#?}", report.findings);
    let text = String::from_utf8_lossy(&invite.raw);
    assert!(text.contains("Require: siprec"));
    assert!(text.contains(";+sip.src"));
    assert!(text.contains("<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\">"));
    // The announcement update is a partial RFC 7865 document, valid in the profile.
    assert_eq!(Outcome::announcement_events(&out.dubber), ["start"]);
    let update = out
        .dubber
        .iter()
        .find(|r| r.method == "UPDATE")
        .expect("UPDATE");
    assert!(String::from_utf8_lossy(&update.raw).contains("<datamode>partial</datamode>"));
    let report = siprec::validate::validate(&update.raw, Profile::RfcStrict);
    assert!(!report.failed(), "{:#?}", report.findings);
    // And the BroadWorks INVITE fails the strict profile (no Require, ;src).
    let bw = run(&Scenario::call("1001", "2001", 5_000));
    let invite = bw
        .dubber
        .iter()
        .find(|r| r.method == "INVITE")
        .expect("INVITE");
    let strict = siprec::validate::validate(&invite.raw, Profile::RfcStrict);
    assert!(strict.failed());
    let text = String::from_utf8_lossy(&invite.raw);
    assert!(text.contains("X-BroadWorks-Correlation-Info:"));
    assert!(text.contains("<serviceProviderID>WSWYZ25455</serviceProviderID>"));
    assert!(text.contains("<userID>alice@test.example</userID>"));
}

#[test]
fn malformed_sip_and_rtp_are_observed_not_fatal() {
    use bytes::Bytes;
    use sim::{Datagram, Transport};
    let dg = |to: &str, bytes: &'static [u8]| Datagram {
        from: addr("10.0.0.66:5060"),
        to: addr(to),
        transport: Transport::Udp,
        bytes: Bytes::from_static(bytes),
    };
    let mut s = Scenario::call("1001", "2001", 8_000);
    s.inject = vec![
        (3_000, dg(PLATFORM_SIP, b"\xff\xfe garbage that is not SIP\r\n\r\n")),
        (3_100, dg(PLATFORM_SIP, b"INVITE sip:x@y SIP/2.0\r\nContent-Length: 5\r\n\r\n")),
        (3_200, dg("10.0.0.10:40000", b"\x00\x01")),
        (3_300, dg("10.0.0.10:40002", b"\x80")),
        (3_400, dg("10.0.0.10:40126", b"stray")),
        (
            3_500,
            dg(
                PLATFORM_SIP,
                b"OPTIONS sip:platform@10.0.0.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.66:5060;branch=z9hG4bKok1\r\nMax-Forwards: 70\r\nFrom: <sip:probe@10.0.0.66>;tag=1\r\nTo: <sip:platform@10.0.0.10>\r\nCall-ID: probe-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            ),
        ),
    ];
    let out = run(&s);
    let sip_bad = out
        .obs
        .iter()
        .filter(|o| {
            o.actor == observe::Actor::Platform
                && matches!(o.event, observe::Event::SipMalformed { .. })
        })
        .count();
    let rtp_bad = out
        .obs
        .iter()
        .filter(|o| {
            o.actor == observe::Actor::Platform
                && matches!(o.event, observe::Event::RtpMalformed { .. })
        })
        .count();
    assert_eq!(sip_bad, 2, "the two broken SIP datagrams, not the OPTIONS");
    assert_eq!(rtp_bad, 2);
    // The call carried on: recorded to the end and torn down normally.
    assert!(out.party_frames("srs.1", "caller") > 300);
    assert_eq!(out.dubber.iter().filter(|r| r.method == "BYE").count(), 1);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let mut s = Scenario::call("1001", "3001", 14_000);
    s.dtmf = vec![(3_000, Who::Callee, "*44"), (8_000, Who::Callee, "*48")];
    let a = run(&s);
    let b = run(&s);
    assert_eq!(a.obs, b.obs);
    let raw = |o: &Outcome| o.dubber.iter().map(|r| r.raw.clone()).collect::<Vec<_>>();
    assert_eq!(raw(&a), raw(&b));
    assert!(!a.dubber.is_empty());
}
