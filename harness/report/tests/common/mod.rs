//! Hand-built run directories for the report tests: a small run of two calls (one with a
//! failing verdict and hostile SIP text) and a synthetic large run.

#![allow(dead_code)]

use observe::{
    Actor, Clock, Direction, Event, LatencySummary, LogWriter, Observation, Payload, Source,
};
use serde_json::{Value, json};
use std::fs;
use std::path::Path;

/// The hostile text put in a SIP header, a SIP request line and a verdict summary.
pub(crate) const HOSTILE: &str = "<script>alert('x')</script>";

fn o(t_us: u64, call: Option<&str>, actor: Actor, event: Event) -> Observation {
    Observation {
        t_us,
        call: call.map(str::to_owned),
        actor,
        event,
    }
}

fn sip(sent: bool, transport_local: &str, remote: &str, text: &str) -> Event {
    if sent {
        Event::SipSent {
            transport: "udp".into(),
            local: transport_local.into(),
            remote: remote.into(),
            message: Payload::Text(text.into()),
        }
    } else {
        Event::SipReceived {
            transport: "udp".into(),
            local: transport_local.into(),
            remote: remote.into(),
            message: Payload::Text(text.into()),
        }
    }
}

const CALLER: &str = "10.0.0.10:5060";
const CALLEE: &str = "10.0.0.11:5060";
const PLATFORM: &str = "10.0.0.1:5060";
const SRS: &str = "10.0.1.1:5060";

fn request(method: &str, extra: &str) -> String {
    format!(
        "{method} sip:2001@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.10:5060\r\nCall-ID: abc@10.0.0.10\r\nCSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

fn response(code: &str, method: &str) -> String {
    format!(
        "SIP/2.0 {code}\r\nVia: SIP/2.0/UDP 10.0.0.10:5060\r\nCall-ID: abc@10.0.0.10\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    )
}

fn segment(
    t: u64,
    call: &str,
    actor: Actor,
    stream: &str,
    source: Source,
    a: u64,
    b: u64,
) -> Observation {
    o(
        t,
        Some(call),
        actor,
        Event::MediaSegment {
            stream: stream.into(),
            source,
            start_us: a,
            end_us: b,
            frames: (b - a) / 20_000,
            latency: None,
        },
    )
}

fn party(p: &str) -> Source {
    Source::Party {
        party: p.into(),
        first_frame: 0,
        last_frame: 100,
    }
}

/// The observations of one call on its own run clock. `reminder_gap_s` spaces the
/// reminder tones; `hostile` adds the hostile SIP text.
pub(crate) fn call_observations(
    call: &str,
    reminder_gap_s: u64,
    hostile: bool,
) -> Vec<Observation> {
    let c = Some(call);
    let s = 1_000_000u64;
    let end = 70 * s;
    let mut v = vec![
        o(
            0,
            None,
            Actor::Harness,
            Event::RunStarted {
                schema: observe::SCHEMA_VERSION,
                seed: 7,
                sut: "fixture-sut".into(),
                clock: Clock::Simulated,
                tool_version: "0.1.0".into(),
            },
        ),
        o(
            0,
            c,
            Actor::Caller,
            Event::CallStarted {
                caller: "+4722000001".into(),
                callee: "2001".into(),
                scenario: "fixture".into(),
            },
        ),
        o(
            1_000,
            c,
            Actor::Caller,
            sip(
                true,
                CALLER,
                PLATFORM,
                &request(
                    "INVITE",
                    &if hostile {
                        format!("X-Evil: {HOSTILE}\r\n")
                    } else {
                        String::new()
                    },
                ),
            ),
        ),
        o(
            2_000,
            None,
            Actor::Platform,
            Event::PlatformAction {
                action: "call_routed".into(),
                detail: "call=1".into(),
            },
        ),
        o(
            20_000,
            c,
            Actor::Callee,
            sip(false, CALLEE, PLATFORM, &request("INVITE", "")),
        ),
        o(
            21_000,
            c,
            Actor::Callee,
            sip(true, CALLEE, PLATFORM, &response("180 Ringing", "INVITE")),
        ),
        o(
            40_000,
            c,
            Actor::Caller,
            sip(false, CALLER, PLATFORM, &response("180 Ringing", "INVITE")),
        ),
        o(
            s,
            c,
            Actor::Callee,
            sip(true, CALLEE, PLATFORM, &response("200 OK", "INVITE")),
        ),
        o(
            s + 10_000,
            c,
            Actor::Srs,
            sip(false, SRS, PLATFORM, &request("INVITE", "")),
        ),
        o(
            s + 11_000,
            c,
            Actor::Srs,
            sip(true, SRS, PLATFORM, &response("200 OK", "INVITE")),
        ),
        o(
            s + 20_000,
            c,
            Actor::Caller,
            sip(false, CALLER, PLATFORM, &response("200 OK", "INVITE")),
        ),
        o(
            s + 21_000,
            c,
            Actor::Caller,
            sip(true, CALLER, PLATFORM, &request("ACK", "")),
        ),
        segment(
            s + 40_000,
            call,
            Actor::Caller,
            "caller.heard",
            Source::Announcement {
                clip: "announcement-start".into(),
            },
            s + 40_000,
            3_200_000,
        ),
        o(
            s + 40_000,
            c,
            Actor::Caller,
            Event::ClipMatch {
                stream: "caller.heard".into(),
                clip: "announcement-start".into(),
                start_us: s + 40_000,
                end_us: 3_200_000,
                score: 0.8,
            },
        ),
        segment(
            s + 40_000,
            call,
            Actor::Callee,
            "callee.heard",
            Source::Announcement {
                clip: "announcement-start".into(),
            },
            s + 40_000,
            3_200_000,
        ),
        segment(
            end,
            call,
            Actor::Caller,
            "caller.heard",
            party("callee"),
            3_200_000,
            end,
        ),
        segment(
            end,
            call,
            Actor::Callee,
            "callee.heard",
            party("caller"),
            3_200_000,
            end,
        ),
        segment(
            end,
            call,
            Actor::Srs,
            "srs.1",
            party("caller"),
            s + 40_000,
            30 * s,
        ),
        segment(end, call, Actor::Srs, "srs.1", party("caller"), 35 * s, end),
        segment(
            end,
            call,
            Actor::Srs,
            "srs.2",
            party("callee"),
            s + 40_000,
            30 * s,
        ),
        segment(end, call, Actor::Srs, "srs.2", party("callee"), 35 * s, end),
        o(
            30 * s,
            None,
            Actor::Platform,
            Event::PlatformAction {
                action: "pause".into(),
                detail: "user=2001".into(),
            },
        ),
        o(
            35 * s,
            None,
            Actor::Platform,
            Event::PlatformAction {
                action: "resume".into(),
                detail: "user=2001".into(),
            },
        ),
        o(
            35 * s,
            c,
            Actor::Srs,
            Event::Silence {
                stream: "srs.1".into(),
                start_us: 30 * s,
                end_us: 35 * s,
            },
        ),
        o(
            10 * s,
            c,
            Actor::Caller,
            Event::Dtmf {
                stream: "caller.sent".into(),
                digit: '*',
                direction: Direction::Sent,
                duration_us: 100_000,
            },
        ),
    ];
    for k in 1..=3u64 {
        let t = s + k * reminder_gap_s * s;
        for (actor, stream) in [
            (Actor::Caller, "caller.heard"),
            (Actor::Callee, "callee.heard"),
        ] {
            v.push(o(
                t,
                c,
                actor,
                Event::ToneBurst {
                    stream: stream.into(),
                    freq_hz: 1400.0,
                    start_us: t,
                    end_us: t + 500_000,
                },
            ));
        }
    }
    for (actor, stream, who, base) in [
        (Actor::Caller, "caller.heard", "callee", 41_000),
        (Actor::Callee, "callee.heard", "caller", 40_000),
        (Actor::Srs, "srs.1", "caller", 40_500),
        (Actor::Srs, "srs.2", "callee", 41_500),
    ] {
        v.push(o(
            end,
            c,
            actor,
            Event::PartyFrames {
                stream: stream.into(),
                party: who.into(),
                party_id: 1,
                frames: 3000,
                first_frame: 0,
                last_frame: 2999,
                lost: 0,
                duplicates: 0,
                reordered: 0,
                front_clip_ms: 0.0,
                latency: Some(LatencySummary {
                    min_us: base - 2_000,
                    p50_us: base,
                    p95_us: base + 1_000,
                    max_us: base + 5_000,
                }),
            },
        ));
        v.push(o(
            end,
            c,
            actor,
            Event::RtpStats {
                stream: stream.into(),
                packets: 3000,
                lost: 0,
                duplicates: 0,
                reordered: 0,
                jitter_ms: 0.4,
                ssrc_changes: 0,
            },
        ));
    }
    if hostile {
        v.push(o(
            5 * s,
            c,
            Actor::Callee,
            sip(
                false,
                CALLEE,
                PLATFORM,
                &format!("{HOSTILE} sip:x SIP/2.0\r\nCSeq: 2 {HOSTILE}\r\n\r\n"),
            ),
        ));
    }
    v.push(o(
        end,
        c,
        Actor::Caller,
        sip(true, CALLER, PLATFORM, &request("BYE", "")),
    ));
    v.push(o(
        end + 5_000,
        c,
        Actor::Srs,
        sip(false, SRS, PLATFORM, &request("BYE", "")),
    ));
    v.push(o(
        end + 20_000,
        c,
        Actor::Caller,
        Event::CallEnded {
            reason: "bye".into(),
        },
    ));
    v.push(o(
        end + 4 * s,
        None,
        Actor::Harness,
        Event::RunEnded { interrupted: false },
    ));
    v
}

fn verdict(req: &str, check: &str, call: &str, status: &str, summary: &str) -> Value {
    json!({"requirement": req, "check": check, "call": call, "status": status, "summary": summary,
           "evidence": [], "measurements": []})
}

/// The verdicts of one call; `failing` makes POL-06 fail with the hostile text.
pub(crate) fn call_verdicts(call: &str, failing: bool) -> Vec<Value> {
    let mut pol06 = if failing {
        verdict(
            "POL-06",
            "reminder.interval",
            call,
            "fail",
            &format!(
                "The caller heard reminder tones 21.00 and 21.00 s apart; the configured interval is 20 s ± 0.05 s {HOSTILE}."
            ),
        )
    } else {
        verdict(
            "POL-06",
            "reminder.interval",
            call,
            "pass",
            "The reminder tone sounded every 20.00 s (configured 20 s ± 0.05 s; tones heard: caller 3, callee 3).",
        )
    };
    let gap = if failing { 21.0 } else { 20.0 };
    pol06["measurements"] = json!([
        {"name": "reminder_interval.caller", "value": gap, "unit": "s"},
        {"name": "reminder_interval.caller", "value": gap + 0.001, "unit": "s"},
        {"name": "reminder_interval.callee", "value": gap - 0.001, "unit": "s"},
        {"name": "reminder_interval.callee", "value": gap, "unit": "s"}
    ]);
    pol06["evidence"] = json!([
        {"t_us": 21_000_000u64, "actor": "caller", "stream": "caller.heard", "detail": "tone 1400 Hz from 21.00 to 21.50 s"}
    ]);
    let mut pol03 = verdict(
        "POL-03",
        "announcement.start",
        call,
        "pass",
        "Both parties heard the recording announcement 0.00-3.20 s after answer.",
    );
    pol03["evidence"] = json!([
        {"t_us": 1_040_000u64, "actor": "caller", "stream": "caller.heard", "detail": "clip announcement-start from 1.04 to 3.20 s, score 0.80"}
    ]);
    let mut lat = verdict(
        "RP-LATENCY",
        "latency.answer_to_media",
        call,
        "pass",
        "Time from answer to first media heard: the caller 20 ms and the callee 0 ms (limit 500 ms).",
    );
    lat["measurements"] = json!([
        {"name": "answer_to_media.caller", "value": 20.0, "unit": "ms"},
        {"name": "answer_to_media.callee", "value": 0.2, "unit": "ms"},
        {"name": "recording_on", "value": 1.0, "unit": "bool"}
    ]);
    let mut clip = verdict(
        "POL-01",
        "recording.front_clip",
        call,
        "pass",
        "The start of the recording is complete within the limit.",
    );
    clip["measurements"] = json!([
        {"name": "front_clip.srs.1", "value": 0.0, "unit": "ms"},
        {"name": "front_clip.srs.2", "value": 20.0, "unit": "ms"},
        {"name": "broken", "value": null, "unit": "ms"}
    ]);
    vec![
        clip,
        pol03,
        verdict(
            "POL-04",
            "announcement.not_recorded",
            call,
            "pass",
            "No announcement audio was found in either recorded stream.",
        ),
        pol06,
        verdict(
            "POL-07",
            "pause_notice",
            call,
            "not_applicable",
            "Never paused.",
        ),
        verdict(
            "SRC-02",
            "message.validate",
            call,
            "warn",
            "Initial INVITE has no `Require: siprec`.",
        ),
        lat,
    ]
}

pub(crate) fn scenario(
    call: Option<&str>,
    status: &str,
    name: &str,
    verdicts: Vec<Value>,
) -> Value {
    json!({
        "feature": "Reminder tone",
        "scenario": name,
        "tags": ["POL-06", "smoke"],
        "status": status,
        "call": call,
        "asserted": ["POL-06"],
        "asserted_checks": ["reminder.interval"],
        "verdicts": verdicts,
        "expectation": expectation(),
    })
}

/// The expectation the fixture calls were judged against: a 20 s reminder at 1400 Hz,
/// beeps at 1000 Hz.
pub(crate) fn expectation() -> Value {
    json!({"reminder_interval_s": 20.0, "signals": {"reminder_hz": 1400.0, "beep_hz": 1000.0}})
}

pub(crate) fn write_results(
    dir: &Path,
    scenarios: Vec<Value>,
    passed: usize,
    failed: usize,
    skipped: usize,
) {
    let results = json!({
        "schema": checks::results::RESULTS_SCHEMA, "tool_version": "0.1.0", "sut": "fixture-sut",
        "seed": 7, "clock": "simulated",
        "scenarios": scenarios, "passed": passed, "failed": failed, "skipped": skipped,
        "call_seconds": 140.0, "wall_seconds": 0.5, "interrupted": false,
        "tolerances": checks::Tolerances::default()
    });
    // The fixture is a document of the one results type, or the test is wrong.
    serde_json::from_value::<checks::results::RunResults>(results.clone())
        .expect("the fixture is a valid results document");
    fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(&results).expect("json"),
    )
    .expect("write results.json");
}

fn write_log(dir: &Path, observations: impl IntoIterator<Item = Observation>, tail: &[u8]) {
    let file = fs::File::create(dir.join("observations.jsonl")).expect("create log");
    let mut w = LogWriter::new(std::io::BufWriter::new(file));
    for ob in observations {
        w.append(&ob).expect("append");
    }
    let mut inner = w.into_inner();
    std::io::Write::write_all(&mut inner, tail).expect("tail");
    std::io::Write::flush(&mut inner).expect("flush");
}

/// A mono 16-bit 8 kHz WAV of a short 440 Hz tone.
fn wav() -> Vec<u8> {
    let samples: Vec<i16> = (0..4000)
        .map(|i| ((i as f64 * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin() * 8000.0) as i16)
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&8000u32.to_le_bytes());
    b.extend_from_slice(&16000u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    b
}

/// The small run: `call-0001` passes with evidence files; `call-0002` fails POL-06 and
/// carries hostile SIP text; a skipped scenario without a call; one broken log line.
pub(crate) fn small_run(dir: &Path) {
    write_results(
        dir,
        vec![
            scenario(
                Some("call-0001"),
                "passed",
                "The reminder tone keeps its 20 second interval",
                call_verdicts("call-0001", false),
            ),
            json!({
                "feature": "Reminder tone", "scenario": "A drifting reminder is caught",
                "tags": ["POL-06"], "status": "failed", "call": "call-0002",
                "failure": format!("Step panicked. POL-06 FAIL {HOSTILE}"),
                "asserted": ["POL-06"], "asserted_checks": ["reminder.interval"],
                "verdicts": call_verdicts("call-0002", true), "expectation": expectation(),
                "evidence_error": "no capture for this call"
            }),
            scenario(None, "skipped", "A step without definition", vec![]),
        ],
        1,
        1,
        1,
    );
    let mut obs = call_observations("call-0001", 20, false);
    obs.extend(call_observations("call-0002", 21, true));
    write_log(
        dir,
        obs,
        b"{\"t_us\": 5, \"actor\": \"srs\", \"event\": \"sip_sent\", \"broken\n\xff\xfe not utf-8 at all\n",
    );
    let ev = dir.join("calls").join("call-0001");
    fs::create_dir_all(&ev).expect("evidence dir");
    for name in [
        "caller.heard.wav",
        "callee.heard.wav",
        "srs.1.wav",
        "srs.2.wav",
    ] {
        fs::write(ev.join(name), wav()).expect("wav");
    }
    // An empty but valid pcap (global header only).
    let mut pcap = Vec::new();
    pcap.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    pcap.extend_from_slice(&2u16.to_le_bytes());
    pcap.extend_from_slice(&4u16.to_le_bytes());
    pcap.extend_from_slice(&[0; 8]);
    pcap.extend_from_slice(&65535u32.to_le_bytes());
    pcap.extend_from_slice(&1u32.to_le_bytes());
    fs::write(ev.join("call.pcap"), pcap).expect("pcap");
}

/// A synthetic run of `n` calls, every tenth failing POL-06.
pub(crate) fn large_run(dir: &Path, n: usize) {
    let mut scenarios = Vec::with_capacity(n);
    let mut obs = Vec::new();
    let mut failed = 0;
    for i in 1..=n {
        let call = format!("call-{i:04}");
        let failing = i % 10 == 0;
        failed += usize::from(failing);
        scenarios.push(scenario(
            Some(&call),
            if failing { "failed" } else { "passed" },
            "Load call",
            call_verdicts(&call, failing),
        ));
        obs.extend(call_observations(
            &call,
            if failing { 21 } else { 20 },
            false,
        ));
    }
    write_results(dir, scenarios, n - failed, failed, 0);
    write_log(dir, obs, b"");
}
