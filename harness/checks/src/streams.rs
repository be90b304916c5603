//! The recording's streams: how many (SRC-10 / POL-09), labelled how (SRC-11), carrying
//! whose audio (POL-09), and silent while paused (SRC-17).
//!
//! Judged from the RS requests the recorder received (SDP m-lines and labels, metadata
//! streams) and what arrived on its `srs.<label>` streams (party frames). This module
//! must not read platform ground truth.

use crate::expect::ms_us;
use crate::timeline::{FramesReport, RsSession, metadata_labels, metadata_of, sdp_of};
use crate::verdict::{Evidence, Measurement, Status, Verdict, and_list, and_list_sentence, secs};
use crate::{Context, PARTIES, is_srs, overlap, public_check};
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
    /// POL-09 (with SRC-12's intent): each recorded stream carries only the audio of the
    /// participant the recording metadata ties to it (its sender, matched to a party by
    /// AoR; no label value is assumed), with no more than
    /// [`crate::Tolerances::foreign_frames`] frames of anyone else, and each party of the
    /// call (the caller only, on a voicemail deposit) has a stream of its own. A stream the
    /// metadata does not tie to one participant cannot be judged.
    one_party_per_stream,
    one_party_per_stream_in
);

/// [`one_party_per_stream`] on a prepared context.
pub fn one_party_per_stream_in(ctx: &Context<'_>) -> Vec<Verdict> {
    use crate::timeline::StreamOwner;
    let frames = frames_by_label(ctx);
    let na =
        |why: String| vec![ctx.verdict("POL-09", "streams.one_party", Status::NotApplicable, why)];
    if frames.is_empty() {
        return na(if accepted(ctx).is_empty() {
            "Not judged: nothing was recorded, so there are no streams to inspect.".into()
        } else {
            "Not judged: a recording session was set up but no stream reached the recorder.".into()
        });
    }
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let mut unjudged = Vec::new();
    let mut m = Vec::new();
    let mut ev = Vec::new();
    let mut owned: BTreeSet<&str> = BTreeSet::new();
    for (label, (names, by_party)) in &frames {
        let name = names.iter().cloned().collect::<Vec<_>>().join("+");
        let carried: Vec<String> = by_party
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(p, n)| format!("{n} frames of the {p}"))
            .collect();
        ev.push(Evidence::stream(
            0,
            "srs",
            &name,
            if carried.is_empty() {
                "no party audio".to_owned()
            } else {
                carried.join(", ")
            },
        ));
        for (p, n) in by_party {
            m.push(Measurement::new(
                format!("{name}.{p}_frames"),
                *n as f64,
                "frames",
            ));
        }
        let owner = ctx.timeline.owner_of_label(label);
        let expected: Option<&str> = match owner {
            None => {
                unjudged.push(format!(
                    "no recording metadata describes the stream labelled `{label}` ({name}), so whose audio it should carry is not known"
                ));
                continue;
            }
            Some(StreamOwner::NoSender) => {
                unjudged.push(format!(
                    "the metadata ties no participant to stream `{label}` as its sender (SRC-12)"
                ));
                continue;
            }
            Some(StreamOwner::Several(aors)) => {
                problems.push(format!(
                    "stream {name} is sent by {} participants ({}), not one",
                    aors.len(),
                    and_list(aors)
                ));
                continue;
            }
            Some(StreamOwner::Other(aor)) => {
                lines.push(format!(
                    "{name} belongs to {aor}, not a party of the call, and carried {}",
                    if carried.is_empty() {
                        "no party audio".to_owned()
                    } else {
                        and_list(&carried)
                    }
                ));
                None
            }
            Some(StreamOwner::Party(p)) => {
                owned.insert(p);
                Some(*p)
            }
        };
        let own = expected.map_or(0, |p| by_party.get(p).copied().unwrap_or(0));
        for (p, n) in by_party {
            if Some(p.as_str()) != expected && *n > ctx.tol.foreign_frames {
                problems.push(format!(
                    "stream {name} carried {n} frames of the {p}'s audio although the metadata ties it to {}",
                    expected.map_or_else(
                        || "a participant that is not a party".to_owned(),
                        |e| format!("the {e}")
                    )
                ));
            }
        }
        if let Some(party) = expected {
            if own == 0 {
                problems.push(format!(
                    "stream {name}, which the metadata ties to the {party}, carried none of the {party}'s audio"
                ));
            } else {
                let foreign: Vec<String> = by_party
                    .iter()
                    .filter(|(p, n)| p.as_str() != party && **n > 0)
                    .map(|(p, n)| format!("{n} frames of the {p}"))
                    .collect();
                lines.push(format!(
                    "{name} (the {party}'s by the metadata) carried {own} frames of the {party} and {}",
                    if foreign.is_empty() {
                        "none of anyone else".to_owned()
                    } else {
                        and_list(&foreign)
                    }
                ));
            }
        }
    }
    // Each party has a stream of its own (on a voicemail deposit the callee never joins).
    let parties: &[&str] = if ctx.expect.voicemail.is_some() {
        &["caller"]
    } else {
        &PARTIES
    };
    for p in parties {
        if owned.contains(p) || !unjudged.is_empty() {
            continue;
        }
        let described: Vec<String> = accepted(ctx)
            .iter()
            .flat_map(|r| r.owners.iter())
            .filter(|(_, o)| **o == StreamOwner::Party(p))
            .map(|(l, _)| format!("`{l}`"))
            .collect();
        problems.push(if described.is_empty() {
            format!("the metadata ties no stream to the {p}, so the {p}'s audio is not recorded on a stream of its own")
        } else {
            format!(
                "the metadata ties stream {} to the {p}, but no such stream reached the recorder",
                and_list(&described)
            )
        });
    }
    if !problems.is_empty() {
        let s = and_list_sentence(&problems);
        return vec![
            ctx.verdict("POL-09", "streams.one_party", Status::Fail, format!("{s}."))
                .with_evidence(ev)
                .with_measurements(m),
        ];
    }
    if !unjudged.is_empty() {
        let s = and_list(&unjudged);
        return vec![
            ctx.verdict(
                "POL-09",
                "streams.one_party",
                Status::NotApplicable,
                format!("Not judged: {s}."),
            )
            .with_evidence(ev)
            .with_measurements(m),
        ];
    }
    vec![
        ctx.verdict(
            "POL-09",
            "streams.one_party",
            Status::Pass,
            format!(
                "Each recorded stream carried only its own participant's audio: {}.",
                and_list(&lines)
            ),
        )
        .with_evidence(ev)
        .with_measurements(m),
    ]
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
            "Not judged: recording was never paused on this call.",
        )];
    }
    let grace = ms_us(ctx.tol.feature_reaction_ms).max(0) as u64;
    let spans = ctx.audio_spans(is_srs);
    let noun = ctx.audio_noun();
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
                        "{} frames of {} from {} to {} s",
                        s.frames,
                        if s.party.is_empty() {
                            "sound".to_owned()
                        } else {
                            format!("the {}", s.party)
                        },
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
                "{} s of {noun} (about {} frames) reached the recorder during the pause from {} to {}",
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
                    "No {noun} reached the recorder while recording was paused ({}; {} s in all){}.",
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

public_check!(
    /// SRC-17 (the other half): after each resume, party audio reaches the recorder again
    /// within [`crate::Tolerances::feature_reaction_ms`] (plus the small SIP/RTP skew
    /// allowance), so a pause does not silently end the recording.
    resumed,
    resumed_in
);

/// [`resumed`] on a prepared context.
pub fn resumed_in(ctx: &Context<'_>) -> Vec<Verdict> {
    use crate::timeline::CodeAction;
    let resumes: Vec<_> = ctx
        .timeline
        .events
        .iter()
        .filter(|e| e.kind == CodeAction::Resume)
        .collect();
    if resumes.is_empty() {
        return vec![ctx.verdict(
            "SRC-17",
            "paused.resumed",
            Status::NotApplicable,
            "Not judged: recording was never resumed on this call.",
        )];
    }
    let reaction = ms_us(ctx.tol.feature_reaction_ms).max(0) as u64;
    let end = ctx.timeline.end_us();
    let spans = ctx.audio_spans(is_srs);
    let noun = ctx.audio_noun();
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    let mut ev = Vec::new();
    let mut m = Vec::new();
    for r in resumes {
        ev.push(Evidence::at(
            r.t_us,
            if r.signalled { "srs" } else { "harness" },
            format!("resume: {}", r.source),
        ));
        let from = r.t_us.saturating_sub(RESUME_SKEW_US);
        let back = spans
            .iter()
            .filter(|s| s.end_us > from)
            .map(|s| s.start_us.max(from))
            .min();
        match back {
            Some(a) if a <= r.t_us + reaction => {
                let d = a as i64 - r.t_us as i64;
                m.push(Measurement::new("resume_to_recorded_audio", d as f64 / 1e6, "s"));
                lines.push(format!("{} s after the resume at {}", secs(d.max(0)), ctx.at(r.t_us)));
            }
            Some(a) => problems.push(format!(
                "{noun} came back only {} s after the resume at {} (limit {} s)",
                secs(a as i64 - r.t_us as i64),
                ctx.at(r.t_us),
                secs(reaction as i64)
            )),
            None if end <= r.t_us + reaction => lines.push(format!(
                "the call ended {} s after the resume at {}, before audio was due",
                secs(end as i64 - r.t_us as i64),
                ctx.at(r.t_us)
            )),
            None => problems.push(format!(
                "no {noun} reached the recorder after the resume at {} ({}), although the call went on for {} s",
                ctx.at(r.t_us),
                r.source,
                secs(end.saturating_sub(r.t_us) as i64)
            )),
        }
    }
    if problems.is_empty() {
        vec![
            ctx.verdict(
                "SRC-17",
                "paused.resumed",
                Status::Pass,
                format!(
                    "{} reached the recorder again {}.",
                    capitalised(noun),
                    and_list(&lines)
                ),
            )
            .with_evidence(ev)
            .with_measurements(m),
        ]
    } else {
        let s = and_list_sentence(&problems);
        vec![
            ctx.verdict("SRC-17", "paused.resumed", Status::Fail, format!("{s}."))
                .with_evidence(ev)
                .with_measurements(m),
        ]
    }
}

/// `party audio` -> `Party audio`.
fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
