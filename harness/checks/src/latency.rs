//! Media latency (recproof requirement RP-LATENCY; the checklist has no item for it):
//! answer to first media per party, mouth-to-ear latency between the parties,
//! party-to-recorder latency, and the start delay recording adds (comparing a recorded
//! and an unrecorded call).
//!
//! Judged from what the parties' phones and the recorder observed: the 200 OK each
//! party saw, the first RTP packet each heard, and the `party_frames` latency summaries.
//! Thresholds are in [`crate::Tolerances`]. This module owns nothing else.

use crate::expect::ms_us;
use crate::timeline::FramesReport;
use crate::verdict::{Evidence, Measurement, Status, Verdict, and_list, ms};
use crate::{Context, PARTIES, heard, is_srs, public_check};
use observe::Observation;

/// The requirement ID latency verdicts cite.
pub const RP_LATENCY: &str = "RP-LATENCY";

fn recorded_note(ctx: &Context<'_>) -> &'static str {
    if ctx.timeline.rs.iter().any(|r| r.accepted()) {
        "recording on"
    } else {
        "recording off"
    }
}

/// (party, answer time, first media time) for both parties.
fn answer_media(ctx: &Context<'_>) -> Vec<(&'static str, Option<u64>, Option<u64>)> {
    PARTIES
        .iter()
        .map(|p| {
            let answer = if *p == "caller" {
                ctx.timeline.answered_us
            } else {
                ctx.timeline.callee_answered_us
            };
            (*p, answer, ctx.view.first_rtp(&heard(p)))
        })
        .collect()
}

public_check!(
    /// RP-LATENCY: for each party, the time from answer (the caller: the 200 OK it
    /// received; the callee: the 200 OK it sent) to the first media it heard, against
    /// [`crate::Tolerances::answer_to_media_ms`].
    answer_to_media,
    answer_to_media_in
);

/// [`answer_to_media`] on a prepared context.
pub fn answer_to_media_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let limit = ms_us(ctx.tol.answer_to_media_ms);
    let rows = answer_media(ctx);
    let measured: Vec<(&str, i64)> = rows
        .iter()
        .filter_map(|(p, a, m)| Some((*p, m.zip(*a).map(|(m, a)| m as i64 - a as i64)?)))
        .collect();
    if measured.is_empty() {
        return vec![ctx.verdict(
            RP_LATENCY,
            "latency.answer_to_media",
            Status::NotApplicable,
            "Neither party has both an answer and received media on this call.",
        )];
    }
    let note = recorded_note(ctx);
    let parts: Vec<String> = measured
        .iter()
        .map(|(p, d)| format!("the {p} {} ms", ms(*d)))
        .collect();
    let worst = measured.iter().map(|(_, d)| *d).max().unwrap_or(0);
    let status = if worst <= limit {
        Status::Pass
    } else {
        Status::Fail
    };
    vec![
        ctx.verdict(
            RP_LATENCY,
            "latency.answer_to_media",
            status,
            format!(
                "Time from answer to first media heard ({note}): {} (limit {} ms).",
                and_list(&parts),
                ms(limit)
            ),
        )
        .with_evidence(rows.iter().filter_map(|(p, _, m)| {
            m.map(|t| Evidence::stream(t, p, &heard(p), "first RTP packet received"))
        }))
        .with_measurements(
            measured.iter().map(|(p, d)| {
                Measurement::new(format!("answer_to_media.{p}"), *d as f64 / 1e3, "ms")
            }),
        )
        .with_measurements([Measurement::new(
            "recording_on",
            if note == "recording on" { 1.0 } else { 0.0 },
            "bool",
        )]),
    ]
}

fn latency_verdict(
    ctx: &Context<'_>,
    check: &str,
    what: &str,
    reports: &[FramesReport],
    limit_ms: f64,
) -> Vec<Verdict> {
    let with: Vec<&FramesReport> = reports.iter().filter(|r| r.latency.is_some()).collect();
    if with.is_empty() {
        return vec![ctx.verdict(
            RP_LATENCY,
            check,
            Status::NotApplicable,
            format!("No {what} latency was measured on this call."),
        )];
    }
    let mut parts = Vec::new();
    let mut m = Vec::new();
    let mut worst = 0.0_f64;
    for r in &with {
        let Some(l) = &r.latency else { continue };
        let p50 = l.p50_us as f64 / 1e3;
        let p95 = l.p95_us as f64 / 1e3;
        worst = worst.max(p95);
        parts.push(format!(
            "the {} on {} p50 {p50:.0} ms, p95 {p95:.0} ms",
            r.party, r.stream
        ));
        m.push(Measurement::new(
            format!("{check}.p50.{}.{}", r.stream, r.party),
            p50,
            "ms",
        ));
        m.push(Measurement::new(
            format!("{check}.p95.{}.{}", r.stream, r.party),
            p95,
            "ms",
        ));
    }
    let status = if worst <= limit_ms {
        Status::Pass
    } else {
        Status::Fail
    };
    vec![
        ctx.verdict(
            RP_LATENCY,
            check,
            status,
            format!(
                "{} latency: {} (p95 limit {limit_ms:.0} ms).",
                capitalise(what),
                and_list(&parts)
            ),
        )
        .with_evidence(with.iter().map(|r| {
            Evidence::stream(
                r.t_us,
                "receiver",
                &r.stream,
                format!("{} frames of the {}, {} lost", r.frames, r.party, r.lost),
            )
        }))
        .with_measurements(m),
    ]
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

public_check!(
    /// RP-LATENCY: mouth-to-ear latency of each party's audio at the other party's phone
    /// (p50 and p95 of the per-frame latency), p95 against
    /// [`crate::Tolerances::mouth_to_ear_p95_ms`].
    mouth_to_ear,
    mouth_to_ear_in
);

/// [`mouth_to_ear`] on a prepared context.
pub fn mouth_to_ear_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let reports: Vec<FramesReport> = ctx
        .view
        .party_frames(|s| PARTIES.iter().any(|p| s == heard(p)))
        .into_iter()
        .filter(|r| heard(&r.party) != r.stream)
        .collect();
    latency_verdict(
        ctx,
        "latency.mouth_to_ear",
        "mouth-to-ear",
        &reports,
        ctx.tol.mouth_to_ear_p95_ms,
    )
}

public_check!(
    /// RP-LATENCY: party-to-recorder latency of each recorded stream (p50 and p95), p95
    /// against [`crate::Tolerances::party_to_recorder_p95_ms`].
    party_to_recorder,
    party_to_recorder_in
);

/// [`party_to_recorder`] on a prepared context.
pub fn party_to_recorder_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let reports = ctx.view.party_frames(is_srs);
    latency_verdict(
        ctx,
        "latency.party_to_recorder",
        "party-to-recorder",
        &reports,
        ctx.tol.party_to_recorder_p95_ms,
    )
}

/// RP-LATENCY: how much later the parties hear first media on a recorded call than on an
/// unrecorded one (the start-of-call delay recording adds), judged against
/// [`crate::Tolerances::answer_to_media_ms`]. Both calls are judged with the same
/// expectation and tolerances.
pub fn recording_start_delay(
    log: &[Observation],
    recorded_call: &str,
    plain_call: &str,
    expect: &crate::CallExpectation,
    tol: &crate::Tolerances,
) -> Verdict {
    let rec = Context::new(log, recorded_call, expect, tol);
    let plain = Context::new(log, plain_call, expect, tol);
    let delay = |c: &Context<'_>| -> Vec<(&'static str, Option<i64>)> {
        answer_media(c)
            .into_iter()
            .map(|(p, a, m)| (p, m.zip(a).map(|(m, a)| m as i64 - a as i64)))
            .collect()
    };
    let (r, p) = (delay(&rec), delay(&plain));
    let mut parts = Vec::new();
    let mut m = Vec::new();
    let mut worst = i64::MIN;
    for ((party, rd), (_, pd)) in r.iter().zip(&p) {
        if let (Some(rd), Some(pd)) = (rd, pd) {
            let added = rd - pd;
            worst = worst.max(added);
            parts.push(format!(
                "the {party} {} ms with recording, {} ms without ({} ms added)",
                ms(*rd),
                ms(*pd),
                ms(added)
            ));
            m.push(Measurement::new(
                format!("recording_added_delay.{party}"),
                added as f64 / 1e3,
                "ms",
            ));
        }
    }
    let limit = ms_us(tol.answer_to_media_ms);
    let (status, summary) = if parts.is_empty() {
        (
            Status::NotApplicable,
            "The two calls do not both have an answer and media for the same party.".to_owned(),
        )
    } else {
        (
            if worst <= limit {
                Status::Pass
            } else {
                Status::Fail
            },
            format!(
                "Answer to first media: {} (limit {} ms added).",
                and_list(&parts),
                ms(limit)
            ),
        )
    };
    let mut v = Verdict::new(
        RP_LATENCY,
        "latency.recording_start_delay",
        recorded_call,
        status,
        summary,
    )
    .with_measurements(m);
    v.evidence.push(Evidence::at(
        0,
        "harness",
        format!("recorded call {recorded_call}, unrecorded call {plain_call}"),
    ));
    v
}
