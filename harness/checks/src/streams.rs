//! The recording's streams: how many (SRC-10 / POL-09), labelled how (SRC-11), carrying
//! whose audio (POL-09), and silent while paused (SRC-17).
//!
//! Judged from the RS requests the recorder received (SDP m-lines and labels, metadata
//! streams) and what arrived on its `srs.<label>` streams (party frames). This module
//! must not read platform ground truth.

use crate::expect::ms_us;
use crate::timeline::{FramesReport, RsSession, metadata_labels, metadata_of, sdp_of};
use crate::verdict::{Evidence, Measurement, Status, Verdict, and_list, and_list_sentence, secs};
use crate::{Context, is_srs, overlap, public_check};
use std::collections::{BTreeMap, BTreeSet};

fn accepted<'c>(ctx: &'c Context<'_>) -> Vec<&'c RsSession> {
    ctx.timeline.rs.iter().filter(|r| r.accepted()).collect()
}

public_check!(
    /// SRC-10 (and POL-09's count): each accepted recording session offers the expected
    /// number of streams (2 for a two-party call) in its SDP and describes as many in its
    /// metadata, and the recorder received that many streams.
    stream_count,
    stream_count_in
);

/// [`stream_count`] on a prepared context.
pub fn stream_count_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let rs = accepted(ctx);
    if rs.is_empty() {
        return vec![ctx.verdict(
            "SRC-10",
            "streams.count",
            Status::NotApplicable,
            "No recording session was set up, so there are no streams to count.",
        )];
    }
    let want = ctx.expect.streams;
    let mut problems = Vec::new();
    let mut ev = Vec::new();
    let mut m = Vec::new();
    for r in &rs {
        let sdp = r.sdp_labels.len();
        let md = r
            .invite()
            .and_then(|i| metadata_of(&i.msg))
            .map(|x| metadata_labels(&x).len());
        ev.push(Evidence::at(
            r.invited_us,
            "srs",
            format!(
                "RS INVITE {}: {sdp} m-line(s) labelled {}; metadata describes {} stream(s)",
                r.call_id,
                and_list(
                    &r.sdp_labels
                        .iter()
                        .map(|l| l.clone().unwrap_or_else(|| "(none)".into()))
                        .collect::<Vec<_>>()
                ),
                md.map_or("no".to_owned(), |n| n.to_string())
            ),
        ));
        m.push(Measurement::new("sdp_streams", sdp as f64, "count"));
        if sdp != want {
            problems.push(format!("the SDP offered {sdp} stream(s)"));
        }
        match md {
            Some(n) => {
                m.push(Measurement::new("metadata_streams", n as f64, "count"));
                if n != want {
                    problems.push(format!("the metadata described {n} stream(s)"));
                }
            }
            None => problems.push("the RS INVITE carried no readable metadata".to_owned()),
        }
    }
    let received = ctx.view.stream_names(is_srs);
    m.push(Measurement::new(
        "streams_received",
        received.len() as f64,
        "count",
    ));
    if received.len() != want {
        problems.push(format!(
            "the recorder received {} stream(s){}",
            received.len(),
            if received.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    and_list(&received.iter().cloned().collect::<Vec<_>>())
                )
            }
        ));
    }
    if problems.is_empty() {
        vec![
            ctx.verdict(
                "SRC-10",
                "streams.count",
                Status::Pass,
                format!(
                    "The recording session carried {want} streams, one per party: {want} m-lines in the SDP, {want} streams in the metadata and {want} streams received ({}).",
                    and_list(&received.iter().cloned().collect::<Vec<_>>())
                ),
            )
            .with_evidence(ev)
            .with_measurements(m),
        ]
    } else {
        vec![
            ctx.verdict(
                "SRC-10",
                "streams.count",
                Status::Fail,
                format!(
                    "A two-party recording needs {want} streams, but {}.",
                    and_list(&problems)
                ),
            )
            .with_evidence(ev)
            .with_measurements(m),
        ]
    }
}

public_check!(
    /// SRC-11: the SDP `a=label`s of each recording session and the `<label>`s of its
    /// metadata streams are the same set, in the initial INVITE and in every later
    /// metadata document that lists streams; and every stream the recorder received is
    /// named by an SDP label.
    labels_match,
    labels_match_in
);

/// [`labels_match`] on a prepared context.
pub fn labels_match_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let rs = accepted(ctx);
    if rs.is_empty() {
        return vec![ctx.verdict(
            "SRC-11",
            "streams.labels",
            Status::NotApplicable,
            "No recording session was set up, so there are no labels to compare.",
        )];
    }
    let mut problems = Vec::new();
    let mut ev = Vec::new();
    let mut all_sdp = BTreeSet::new();
    let mut docs_checked = 0;
    for r in &rs {
        let mut sdp: BTreeSet<String> = r.sdp_labels.iter().flatten().cloned().collect();
        all_sdp.extend(sdp.iter().cloned());
        for req in &r.requests {
            if let Some(media) = sdp_of(&req.msg)
                && req.method != "BYE"
            {
                let labels: BTreeSet<String> = media
                    .iter()
                    .filter(|m| !m.is_declined())
                    .filter_map(|m| m.label.clone())
                    .collect();
                if !labels.is_empty() {
                    sdp = labels;
                    all_sdp.extend(sdp.iter().cloned());
                }
            }
            let Some(xml) = metadata_of(&req.msg) else {
                continue;
            };
            let md: BTreeSet<String> = metadata_labels(&xml).into_iter().collect();
            if md.is_empty() {
                continue; // a partial update without streams
            }
            docs_checked += 1;
            ev.push(Evidence::at(
                req.t_us,
                "srs",
                format!(
                    "{} on {}: SDP labels {{{}}}, metadata labels {{{}}}",
                    req.method,
                    r.call_id,
                    sdp.iter().cloned().collect::<Vec<_>>().join(", "),
                    md.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
            if md != sdp {
                problems.push(format!(
                    "the {} at {} labels its SDP streams {{{}}} but its metadata streams {{{}}}",
                    req.method,
                    ctx.at(req.t_us),
                    sdp.iter().cloned().collect::<Vec<_>>().join(", "),
                    md.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    for s in ctx.view.stream_names(is_srs) {
        let label = crate::label_of(&s);
        if !all_sdp.contains(label) {
            problems.push(format!(
                "the recorder received stream {s}, whose label no SDP offered"
            ));
        }
    }
    if problems.is_empty() {
        vec![
            ctx.verdict(
                "SRC-11",
                "streams.labels",
                Status::Pass,
                format!(
                    "The SDP labels ({}) match the metadata stream labels in all {docs_checked} metadata document(s) that list streams.",
                    and_list(&all_sdp.iter().cloned().collect::<Vec<_>>())
                ),
            )
            .with_evidence(ev),
        ]
    } else {
        let s = and_list_sentence(&problems);
        vec![
            ctx.verdict("SRC-11", "streams.labels", Status::Fail, format!("{s}."))
                .with_evidence(ev),
        ]
    }
}

/// Frames per (label, party) with the stream names seen per label: from `party_frames`
/// reports, or summed media spans for a stream that has none.
fn frames_by_label(
    ctx: &Context<'_>,
) -> BTreeMap<String, (BTreeSet<String>, BTreeMap<String, u64>)> {
    let mut out: BTreeMap<String, (BTreeSet<String>, BTreeMap<String, u64>)> = BTreeMap::new();
    let reports: Vec<FramesReport> = ctx.view.party_frames(is_srs);
    let mut add = |stream: &str, party: Option<&str>, n: u64| {
        let e = out.entry(crate::label_of(stream).to_owned()).or_default();
        e.0.insert(stream.to_owned());
        if let Some(p) = party {
            *e.1.entry(p.to_owned()).or_default() += n;
        }
    };
    for r in &reports {
        add(&r.stream, Some(&r.party), r.frames);
    }
    for sp in ctx.view.party_spans(is_srs) {
        if !reports.iter().any(|r| r.stream == sp.stream) {
            add(&sp.stream, Some(&sp.party), sp.frames);
        }
    }
    for name in ctx.view.stream_names(is_srs) {
        add(&name, None, 0);
    }
    out
}

public_check!(
    /// POL-09 (with SRC-12's intent): each recorded stream carries exactly one party's
    /// audio, the party its label stands for (label 1 the caller, label 2 the callee by
    /// default), and no more than [`crate::Tolerances::foreign_frames`] frames of anyone
    /// else.
    one_party_per_stream,
    one_party_per_stream_in
);

/// [`one_party_per_stream`] on a prepared context.
pub fn one_party_per_stream_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let frames = frames_by_label(ctx);
    if accepted(ctx).is_empty() && frames.is_empty() {
        return vec![ctx.verdict(
            "POL-09",
            "streams.one_party",
            Status::NotApplicable,
            "Nothing was recorded, so there are no streams to inspect.",
        )];
    }
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let mut m = Vec::new();
    let mut ev = Vec::new();
    for (label, party) in &ctx.expect.stream_parties {
        let Some((names, by_party)) = frames.get(label) else {
            problems.push(format!(
                "no stream srs.{label} (the {party}'s audio) was received"
            ));
            continue;
        };
        let name = names.iter().cloned().collect::<Vec<_>>().join("+");
        let own = by_party.get(party).copied().unwrap_or(0);
        let foreign: Vec<(&String, &u64)> = by_party
            .iter()
            .filter(|(p, n)| *p != party && **n > 0)
            .collect();
        m.push(Measurement::new(
            format!("{name}.{party}_frames"),
            own as f64,
            "frames",
        ));
        ev.push(Evidence::stream(
            0,
            "srs",
            &name,
            by_party
                .iter()
                .map(|(p, n)| format!("{n} frames of the {p}"))
                .collect::<Vec<_>>()
                .join(", "),
        ));
        let foreign_text: Vec<String> = foreign
            .iter()
            .map(|(p, n)| format!("{n} frames of the {p}"))
            .collect();
        lines.push(format!(
            "{name} carried {own} frames of the {party} and {}",
            if foreign_text.is_empty() {
                "none of anyone else".to_owned()
            } else {
                and_list(&foreign_text)
            }
        ));
        for (p, n) in &foreign {
            m.push(Measurement::new(
                format!("{name}.{p}_frames"),
                **n as f64,
                "frames",
            ));
            if **n > ctx.tol.foreign_frames {
                problems.push(format!(
                    "stream {name} carried {n} frames of the {p}'s audio (it should carry only the {party}'s)"
                ));
            }
        }
        // On a voicemail call the callee never joins: its stream carries the mailbox.
        let absent = ctx.expect.voicemail.is_some() && party == "callee";
        if own == 0 && !absent {
            problems.push(format!("stream {name} carried none of the {party}'s audio"));
        }
    }
    for (label, (names, _)) in &frames {
        if ctx.expect.party_of_label(label).is_none() {
            let names: Vec<String> = names.iter().cloned().collect();
            problems.push(format!(
                "the recorder received an unexpected stream {}",
                and_list(&names)
            ));
        }
    }
    if problems.is_empty() {
        vec![
            ctx.verdict(
                "POL-09",
                "streams.one_party",
                Status::Pass,
                format!(
                    "Each recorded stream carried only its own party's audio: {}.",
                    and_list(&lines)
                ),
            )
            .with_evidence(ev)
            .with_measurements(m),
        ]
    } else {
        let s = and_list_sentence(&problems);
        vec![
            ctx.verdict("POL-09", "streams.one_party", Status::Fail, format!("{s}."))
                .with_evidence(ev)
                .with_measurements(m),
        ]
    }
}

public_check!(
    /// SRC-17: while recording is paused (from a pause, plus the reaction grace, to the
    /// resume, stop or end of the call) no party audio reaches the recorder.
    silent_while_paused,
    silent_while_paused_in
);

/// How much earlier than the resume request resumed audio may reach the recorder (SRC-17):
/// 100 ms, a generous bound on SIP/RTP path skew.
const RESUME_SKEW_US: u64 = 100_000;

/// [`silent_while_paused`] on a prepared context.
pub fn silent_while_paused_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let windows = ctx.timeline.paused_windows();
    if windows.is_empty() {
        return vec![ctx.verdict(
            "SRC-17",
            "paused.silent",
            Status::NotApplicable,
            "Recording was never paused on this call.",
        )];
    }
    let grace = ms_us(ctx.tol.feature_reaction_ms).max(0) as u64;
    let spans = ctx.view.party_spans(is_srs);
    let mut leaks = Vec::new();
    let mut ev = Vec::new();
    let mut m = Vec::new();
    let mut total_paused = 0;
    let mut described = Vec::new();
    for (p0, p1, e) in &windows {
        let w0 = p0 + grace;
        // RTP and SIP take different paths: audio sent right after the resume request
        // may reach the recorder slightly before the request does.
        let w1 = p1.saturating_sub(RESUME_SKEW_US);
        total_paused += p1.saturating_sub(*p0);
        ev.push(Evidence::at(
            *p0,
            if e.signalled { "srs" } else { "harness" },
            format!("pause: {}", e.source),
        ));
        described.push(format!(
            "{} s from {}",
            secs(p1.saturating_sub(*p0) as i64),
            ctx.at(*p0)
        ));
        if w1 <= w0 {
            continue;
        }
        let mut leaked_us = 0;
        for s in &spans {
            let o = overlap(s.start_us, s.end_us, w0, w1);
            if o > 0 {
                leaked_us += o;
                ev.push(Evidence::stream(
                    s.start_us,
                    "srs",
                    &s.stream,
                    format!(
                        "{} frames of the {} from {} to {} s",
                        s.frames,
                        s.party,
                        secs(s.start_us as i64),
                        secs(s.end_us as i64)
                    ),
                ));
            }
        }
        m.push(Measurement::new(
            "party_audio_while_paused",
            leaked_us as f64 / 1e6,
            "s",
        ));
        if leaked_us > 0 {
            leaks.push(format!(
                "{} s of party audio (about {} frames) reached the recorder during the pause from {} to {}",
                secs(leaked_us as i64),
                leaked_us / 20_000,
                ctx.at(*p0),
                ctx.at(*p1)
            ));
        }
    }
    if leaks.is_empty() {
        let resumed: Vec<String> = windows
            .iter()
            .filter_map(|(_, p1, _)| {
                spans
                    .iter()
                    .filter(|s| s.end_us > *p1)
                    .map(|s| s.start_us.max(*p1))
                    .min()
                    .map(|a| secs(a as i64 - *p1 as i64))
            })
            .collect();
        vec![
            ctx.verdict(
                "SRC-17",
                "paused.silent",
                Status::Pass,
                format!(
                    "No party audio reached the recorder while recording was paused ({}; {} s in all){}.",
                    and_list(&described),
                    secs(total_paused as i64),
                    if resumed.is_empty() {
                        String::new()
                    } else {
                        format!("; audio came back {} s after resume", and_list(&resumed))
                    }
                ),
            )
            .with_evidence(ev)
            .with_measurements(m),
        ]
    } else {
        let s = and_list_sentence(&leaks);
        vec![
            ctx.verdict("SRC-17", "paused.silent", Status::Fail, format!("{s}."))
                .with_evidence(ev)
                .with_measurements(m),
        ]
    }
}
