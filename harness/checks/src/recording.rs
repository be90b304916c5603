//! Whether, when and where the call was recorded: record modes (POL-01), feature codes
//! (POL-02), voicemail (POL-10), the recorder reached (POL-11, POL-12), the SRS failure
//! behaviour (POL-13 / SRC-22) and the end of the recording session (SRC-20).
//!
//! "Recorded" is judged by what reached a recorder: RS INVITEs the SRS actor received
//! and party audio on its `srs.<label>` streams. This module must not read platform
//! ground truth.

use crate::expect::{FailureBehavior, RecordMode, ms_us};
use crate::timeline::{CodeAction, PartySpan, RsSession};
use crate::verdict::{
    Evidence, Measurement, Status, Verdict, and_list, and_list_sentence, ms, secs,
};
use crate::{Context, PARTIES, heard, is_srs, public_check};

fn invite_evidence(rs: &RsSession) -> Evidence {
    let status = rs
        .final_status
        .map_or("no final answer logged".to_owned(), |(_, s)| {
            format!("answered {s}")
        });
    Evidence::at(
        rs.invited_us,
        "srs",
        format!(
            "RS INVITE {} (Call-ID {}) received on {} from {}; {status}",
            rs.request_uri, rs.call_id, rs.srs_local, rs.src_remote
        ),
    )
}

fn span_evidence(s: &PartySpan) -> Evidence {
    Evidence::stream(
        s.start_us,
        "srs",
        &s.stream,
        format!(
            "{} frames {}-{} of the {} from {} to {} s",
            s.frames,
            s.first_frame,
            s.last_frame,
            s.party,
            secs(s.start_us as i64),
            secs(s.end_us as i64)
        ),
    )
}

/// Earliest time ≥ `t` at which party audio is at the recorder.
fn first_audio_from(spans: &[PartySpan], t: u64) -> Option<u64> {
    spans
        .iter()
        .filter(|s| s.end_us > t)
        .map(|s| s.start_us.max(t))
        .min()
}

/// When the party audio that was flowing at `t` (or started before `until`) stopped.
fn audio_stops_after(spans: &[PartySpan], t: u64, until: u64) -> u64 {
    spans
        .iter()
        .filter(|s| s.end_us > t && s.start_us < until)
        .map(|s| s.end_us)
        .max()
        .unwrap_or(t)
}

public_check!(
    /// POL-01: the record mode decides whether and from when the call is recorded.
    /// Always (with or without pause/resume): an RS reaches the recorder and party audio
    /// arrives within [`crate::Tolerances::answer_to_recording_ms`] of answer. Never: no
    /// RS, no party audio. On Demand: no party audio before the start code (an RS opened
    /// early with media held back is accepted).
    record_mode,
    record_mode_in
);

/// [`record_mode`] on a prepared context.
pub fn record_mode_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let e = ctx.expect;
    let na = |why: &str| {
        vec![ctx.verdict(
            "POL-01",
            "record_mode",
            Status::NotApplicable,
            why.to_owned(),
        )]
    };
    if e.srs.is_none() {
        return na(
            "The provider is None, so the record mode does not apply (POL-12 judges this call).",
        );
    }
    if e.voicemail.is_some() {
        return na("The call went to voicemail; POL-10 judges whether the deposit was recorded.");
    }
    if e.failure.is_some() {
        return na(
            "The recorder was made to fail on this call; POL-13 judges what the platform did.",
        );
    }
    let tl = &ctx.timeline;
    let spans = ctx.view.party_spans(is_srs);
    let mode = e.mode.webex_name();
    let rs_ev: Vec<Evidence> = tl.rs.iter().map(invite_evidence).collect();
    match e.mode {
        RecordMode::Never => {
            if let Some(v) = ctx.unanswered(
                "POL-01",
                "record_mode",
                "whether it would be recorded was not shown",
            ) {
                return vec![v];
            }
            if tl.rs.is_empty() && spans.is_empty() {
                return vec![ctx.verdict(
                    "POL-01",
                    "record_mode",
                    Status::Pass,
                    format!(
                        "No recording session reached a recorder during the {} s call, as the mode \"{mode}\" requires.",
                        secs(tl.end_us() as i64 - tl.answered_us.or(tl.started_us).unwrap_or(0) as i64)
                    ),
                )];
            }
            let frames: u64 = spans.iter().map(|s| s.frames).sum();
            vec![
                ctx.verdict(
                    "POL-01",
                    "record_mode",
                    Status::Fail,
                    format!(
                        "The call was recorded although the mode is \"{mode}\": {} recording session(s) reached a recorder and it received {frames} frames of party audio.",
                        tl.rs.len()
                    ),
                )
                .with_evidence(rs_ev)
                .with_evidence(spans.iter().take(4).map(span_evidence))
                .with_measurements([Measurement::new("recorded_frames", frames as f64, "frames")]),
            ]
        }
        RecordMode::Always | RecordMode::AlwaysWithPauseResume => {
            let Some(answer) = tl.answered_us else {
                return na("The call was not answered, so there was nothing to record.");
            };
            if !tl.rs.iter().any(RsSession::accepted) {
                return vec![
                    ctx.verdict(
                        "POL-01",
                        "record_mode",
                        Status::Fail,
                        format!(
                            "No recording session was set up with a recorder although the mode is \"{mode}\" ({} INVITE(s) reached one).",
                            tl.rs.len()
                        ),
                    )
                    .with_evidence(rs_ev),
                ];
            }
            let limit = ms_us(ctx.tol.answer_to_recording_ms);
            match first_audio_from(&spans, 0) {
                None => vec![
                    ctx.verdict(
                        "POL-01",
                        "record_mode",
                        Status::Fail,
                        format!(
                            "A recording session was set up but no party audio reached the recorder although the mode is \"{mode}\"."
                        ),
                    )
                    .with_evidence(rs_ev),
                ],
                Some(first) => {
                    let d = first as i64 - answer as i64;
                    let m = [Measurement::new("answer_to_recorded_audio", d as f64 / 1e6, "s")];
                    let first_ev = spans.iter().find(|s| s.start_us == first).map(span_evidence);
                    let status = if d <= limit { Status::Pass } else { Status::Fail };
                    let summary = if status == Status::Pass {
                        format!(
                            "The call was recorded from answer as the mode \"{mode}\" requires: party audio reached the recorder {} s after answer (limit {} s).",
                            secs(d),
                            secs(limit)
                        )
                    } else {
                        format!(
                            "Recording started late: the first party audio reached the recorder {} s after answer; the mode \"{mode}\" records from answer (limit {} s).",
                            secs(d),
                            secs(limit)
                        )
                    };
                    vec![
                        ctx.verdict("POL-01", "record_mode", status, summary)
                            .with_evidence(rs_ev)
                            .with_evidence(first_ev)
                            .with_measurements(m),
                    ]
                }
            }
        }
        RecordMode::OnDemand => {
            let start = tl
                .codes
                .iter()
                .find(|c| c.action == CodeAction::Start)
                .map(|c| (c.t_us, c.code.clone(), c.party.clone()));
            let cut = start.as_ref().map_or(u64::MAX, |s| s.0);
            let early: Vec<&PartySpan> = spans.iter().filter(|s| s.start_us < cut).collect();
            let held_rs = tl.rs.iter().any(|r| r.invited_us < cut);
            let before = match &start {
                Some((t, code, party)) => {
                    format!("before the {party} pressed {code} at {}", ctx.at(*t))
                }
                None => "and nobody pressed the start code".to_owned(),
            };
            if early.is_empty() {
                let after = match (
                    &start,
                    start.as_ref().and_then(|s| first_audio_from(&spans, s.0)),
                ) {
                    (Some((t, _, _)), Some(a)) => format!(
                        "; recorded audio began {} s after the code",
                        secs(a as i64 - *t as i64)
                    ),
                    _ => String::new(),
                };
                let rs_note = if held_rs {
                    " (the recording session was opened earlier with media held back)"
                } else {
                    ""
                };
                vec![
                    ctx.verdict(
                        "POL-01",
                        "record_mode",
                        Status::Pass,
                        format!(
                            "No party audio reached the recorder {before}, as \"{mode}\" requires{rs_note}{after}."
                        ),
                    )
                    .with_evidence(rs_ev),
                ]
            } else {
                let frames: u64 = early.iter().map(|s| s.frames).sum();
                vec![
                    ctx.verdict(
                        "POL-01",
                        "record_mode",
                        Status::Fail,
                        format!(
                            "{frames} frames of party audio reached the recorder {before} (from {}), although \"{mode}\" records only after the start code.",
                            ctx.at(early[0].start_us)
                        ),
                    )
                    .with_evidence(rs_ev)
                    .with_evidence(early.iter().take(4).map(|s| span_evidence(s)))
                    .with_measurements([Measurement::new("frames_before_start", frames as f64, "frames")]),
                ]
            }
        }
    }
}

public_check!(
    /// POL-01 (media from answer): front clipping of the recording, i.e. how much of each
    /// party's audio is missing from the start of its recorded stream, judged against
    /// [`crate::Tolerances::front_clip_ms`] for the Always modes.
    front_clipping,
    front_clipping_in
);

/// [`front_clipping`] on a prepared context.
pub fn front_clipping_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let e = ctx.expect;
    let applies = matches!(
        e.mode,
        RecordMode::Always | RecordMode::AlwaysWithPauseResume
    ) && e.srs.is_some()
        && e.voicemail.is_none()
        && e.failure.is_none();
    let reports: Vec<_> = ctx
        .view
        .party_frames(is_srs)
        .into_iter()
        .filter(|r| {
            matches!(
                ctx.timeline.owner_of_label(crate::label_of(&r.stream)),
                Some(crate::timeline::StreamOwner::Party(p)) if *p == r.party
            )
        })
        .collect();
    if !applies || reports.is_empty() {
        return vec![ctx.verdict(
            "POL-01",
            "recording.front_clip",
            Status::NotApplicable,
            if applies {
                "Not judged: the recorder reported no frames of a party on a stream the metadata ties to that party, so front clipping cannot be measured."
            } else {
                "Front clipping is judged only for calls recorded from answer (Always modes)."
            },
        )];
    }
    let limit = ctx.tol.front_clip_ms;
    let parts: Vec<String> = reports
        .iter()
        .map(|r| {
            format!(
                "{} ms of the {} on {}",
                format_ms(r.front_clip_ms),
                r.party,
                r.stream
            )
        })
        .collect();
    let worst = reports.iter().map(|r| r.front_clip_ms).fold(0.0, f64::max);
    let status = if worst <= limit {
        Status::Pass
    } else {
        Status::Fail
    };
    let lead = if status == Status::Pass {
        "The start of the recording is complete within the limit"
    } else {
        "The start of the recording is clipped beyond the limit"
    };
    vec![
        ctx.verdict(
            "POL-01",
            "recording.front_clip",
            status,
            format!(
                "{lead}: missing {} (limit {} ms).",
                and_list(&parts),
                format_ms(limit)
            ),
        )
        .with_evidence(reports.iter().map(|r| {
            Evidence::stream(
                r.t_us,
                "srs",
                &r.stream,
                format!(
                    "{} frames of the {} from frame {}, front clip {} ms",
                    r.frames,
                    r.party,
                    r.first_frame,
                    format_ms(r.front_clip_ms)
                ),
            )
        }))
        .with_measurements(
            reports.iter().map(|r| {
                Measurement::new(format!("front_clip.{}", r.stream), r.front_clip_ms, "ms")
            }),
        ),
    ]
}

fn format_ms(v: f64) -> String {
    format!("{v:.0}")
}

public_check!(
    /// POL-02: each feature code a party keyed in took effect at the recorder within
    /// [`crate::Tolerances::feature_reaction_ms`] (start/resume: party audio arrives;
    /// stop/pause: it stops), or, where the mode does not support the code, had no
    /// effect (a pause or stop in Always mode must not stop the recording).
    feature_codes,
    feature_codes_in
);

/// [`feature_codes`] on a prepared context.
pub fn feature_codes_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let tl = &ctx.timeline;
    if tl.codes.is_empty() {
        return vec![ctx.verdict(
            "POL-02",
            "feature_code",
            Status::NotApplicable,
            "No feature code was keyed in on this call.",
        )];
    }
    let spans = ctx.view.party_spans(is_srs);
    let reaction = ms_us(ctx.tol.feature_reaction_ms).max(0) as u64;
    let end = tl.end_us();
    let mode = ctx.expect.mode;
    let mut out = Vec::new();
    for c in &tl.codes {
        let check = format!("feature_code.{}", c.action.as_str());
        let who = format!(
            "{} pressed by the {} at {}",
            c.code,
            c.party,
            ctx.at(c.t_us)
        );
        let press_ev = Evidence::at(
            c.t_us,
            &c.party,
            format!(
                "DTMF {} sent, last digit ended at {} s",
                c.code,
                secs(c.t_us as i64)
            ),
        );
        let supported = ctx.expect.srs.is_some()
            && match c.action {
                CodeAction::Start | CodeAction::Stop => mode.allows_start_stop(),
                CodeAction::Pause | CodeAction::Resume => mode.allows_pause(),
            };
        // The next code that would undo this one bounds where we look.
        let next = tl
            .codes
            .iter()
            .filter(|o| o.t_us > c.t_us)
            .map(|o| o.first_us)
            .min()
            .unwrap_or(end)
            .min(end);
        let v = match (c.action, supported) {
            (CodeAction::Start | CodeAction::Resume, true) => {
                match first_audio_from(&spans, c.t_us).filter(|a| *a <= c.t_us + reaction) {
                    Some(a) => ctx
                        .verdict(
                            "POL-02",
                            &check,
                            Status::Pass,
                            format!(
                                "{who} {}ed the recording: party audio reached the recorder {} ms later.",
                                if c.action == CodeAction::Start { "start" } else { "resum" },
                                ms(a as i64 - c.t_us as i64)
                            ),
                        )
                        .with_measurements([Measurement::new(
                            format!("{check}.reaction"),
                            (a - c.t_us) as f64 / 1e3,
                            "ms",
                        )]),
                    None => ctx.verdict(
                        "POL-02",
                        &check,
                        Status::Fail,
                        format!(
                            "{who} did not {} the recording: no party audio reached the recorder within {} ms.",
                            c.action.as_str(),
                            ms(reaction as i64)
                        ),
                    ),
                }
            }
            (CodeAction::Stop | CodeAction::Pause, true) => {
                let stopped = audio_stops_after(&spans, c.t_us, c.t_us + reaction).max(c.t_us);
                let later = spans
                    .iter()
                    .filter(|s| s.start_us > c.t_us + reaction && s.start_us < next)
                    .map(|s| s.frames)
                    .sum::<u64>();
                let signalled = tl.events.iter().find(|e| {
                    e.signalled
                        && e.kind == c.action
                        && e.t_us + reaction >= c.first_us
                        && e.t_us <= c.t_us + reaction
                });
                if let Some(sig) = signalled.filter(|_| stopped > c.t_us + reaction || later > 0) {
                    // The code took effect in signalling; whether audio really stopped is
                    // SRC-17's question.
                    ctx.verdict(
                        "POL-02",
                        &check,
                        Status::Pass,
                        format!(
                            "{who} {} the recording: the recorder was told {} ms later ({}); party audio still reached it afterwards, which SRC-17 judges.",
                            if c.action == CodeAction::Stop { "stopped" } else { "paused" },
                            ms(sig.t_us as i64 - c.t_us as i64),
                            sig.source
                        ),
                    )
                } else if stopped <= c.t_us + reaction && later == 0 {
                    ctx.verdict(
                        "POL-02",
                        &check,
                        Status::Pass,
                        format!(
                            "{who} {} the recording: party audio at the recorder stopped {} ms later.",
                            if c.action == CodeAction::Stop { "stopped" } else { "paused" },
                            ms(stopped as i64 - c.t_us as i64)
                        ),
                    )
                    .with_measurements([Measurement::new(
                        format!("{check}.reaction"),
                        (stopped - c.t_us) as f64 / 1e3,
                        "ms",
                    )])
                } else {
                    let until = audio_stops_after(&spans, c.t_us, next);
                    ctx.verdict(
                        "POL-02",
                        &check,
                        Status::Fail,
                        format!(
                            "{who} did not {} the recording: party audio kept reaching the recorder for {} s after it.",
                            c.action.as_str(),
                            secs(until.saturating_sub(c.t_us) as i64)
                        ),
                    )
                }
            }
            (CodeAction::Stop | CodeAction::Pause, false) => {
                // Not supported: the recording must go on (if there is one).
                let flowing_before = spans
                    .iter()
                    .any(|s| s.start_us <= c.t_us && s.end_us + reaction >= c.t_us);
                let probe = c.t_us + 2 * reaction;
                let flowing_after = probe >= end
                    || first_audio_from(&spans, probe).is_some_and(|a| a <= probe + reaction);
                if !flowing_before {
                    ctx.verdict(
                        "POL-02",
                        &check,
                        Status::Info,
                        format!(
                            "{who} is not a code the mode \"{}\" supports; nothing was being recorded, so it could have no effect.",
                            mode.webex_name()
                        ),
                    )
                } else if flowing_after {
                    ctx.verdict(
                        "POL-02",
                        &check,
                        Status::Pass,
                        format!(
                            "{who} had no effect, as the mode \"{}\" does not let the user {} recording.",
                            mode.webex_name(),
                            c.action.as_str()
                        ),
                    )
                } else {
                    ctx.verdict(
                        "POL-02",
                        &check,
                        Status::Fail,
                        format!(
                            "{who} stopped party audio reaching the recorder although the mode \"{}\" does not let the user {} recording.",
                            mode.webex_name(),
                            c.action.as_str()
                        ),
                    )
                }
            }
            (CodeAction::Start | CodeAction::Resume, false) => ctx.verdict(
                "POL-02",
                &check,
                Status::Info,
                format!(
                    "{who} is not a code the mode \"{}\" uses; it is recorded here, not judged.",
                    mode.webex_name()
                ),
            ),
        };
        out.push(v.with_evidence([press_ev]));
    }
    out
}

public_check!(
    /// POL-10: a call that went to voicemail has its deposit (the caller's audio after
    /// the greeting) recorded when `recordVoicemailEnabled`, and not recorded otherwise.
    voicemail,
    voicemail_in
);

/// [`voicemail`] on a prepared context.
pub fn voicemail_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let na = |why: String| vec![ctx.verdict("POL-10", "voicemail", Status::NotApplicable, why)];
    let Some(vm) = &ctx.expect.voicemail else {
        return na("The call was not meant to go to voicemail.".into());
    };
    let Some(answer) = ctx.timeline.answered_us else {
        return na(
            "Not judged: nobody answered the call (no callee, no mailbox), so there was no deposit to record.".into(),
        );
    };
    // The deposit begins after the greeting when the greeting is known and heard; a
    // known greeting that was not heard means this is not shown to be a mailbox.
    let greeting = match &ctx.expect.signals.greeting_clip {
        Some(name) => match ctx
            .view
            .clips(|s| s == heard("caller"))
            .into_iter()
            .find(|c| &c.clip == name)
        {
            Some(g) => Some(g),
            None => {
                return na(format!(
                    "Not judged: the call was answered {} but the caller never heard the voicemail greeting `{name}`, so it is not shown to have reached a mailbox.",
                    ctx.at(answer)
                ));
            }
        },
        None => None,
    };
    let from = greeting.as_ref().map_or(answer, |g| g.start_us);
    let spans: Vec<PartySpan> = ctx
        .view
        .party_spans(is_srs)
        .into_iter()
        .filter(|s| s.party == "caller" && s.end_us > from)
        .collect();
    let frames: u64 = spans.iter().map(|s| s.frames).sum();
    let recorded_s = frames as f64 * 0.02;
    let deposit_s = (ctx.timeline.end_us().saturating_sub(from)) as f64 / 1e6;
    let mut ev: Vec<Evidence> = ctx.timeline.rs.iter().map(invite_evidence).collect();
    let after = match &greeting {
        Some(g) => {
            ev.push(Evidence::stream(
                g.start_us,
                "caller",
                &g.stream,
                format!("clip {} heard", g.clip),
            ));
            format!(
                "after the voicemail greeting heard at {}",
                ctx.at(g.start_us)
            )
        }
        None => format!(
            "after the SUT answered the unanswered call at {} (no greeting clip is known to mark the deposit)",
            ctx.at(answer)
        ),
    };
    let m = [
        Measurement::new("voicemail_recorded_audio", recorded_s, "s"),
        Measurement::new("voicemail_deposit_length", deposit_s, "s"),
    ];
    let (status, summary) = match (vm.recorded, frames > 0) {
        (true, true) => (
            Status::Pass,
            format!(
                "The deposit was recorded: {recorded_s:.2} s of the caller's audio {after} reached the recorder (deposit {deposit_s:.2} s)."
            ),
        ),
        (true, false) => (
            Status::Fail,
            format!(
                "The deposit was not recorded although voicemail recording is enabled: none of the caller's {deposit_s:.2} s of audio {after} reached the recorder."
            ),
        ),
        (false, false) => (
            Status::Pass,
            format!(
                "The deposit was not recorded, as configured: none of the caller's {deposit_s:.2} s of audio {after} reached a recorder."
            ),
        ),
        (false, true) => (
            Status::Fail,
            format!(
                "The deposit was recorded although voicemail recording is disabled: {recorded_s:.2} s of the caller's audio {after} reached the recorder."
            ),
        ),
    };
    vec![
        ctx.verdict("POL-10", "voicemail", status, summary)
            .with_evidence(ev)
            .with_evidence(spans.iter().take(3).map(span_evidence))
            .with_measurements(m),
    ]
}

fn host_port(s: &str) -> Option<(String, Option<u16>)> {
    let s = s.trim().trim_start_matches('<').trim_end_matches('>');
    if let Ok(u) = sip::message::Uri::parse(s) {
        return Some((u.host.to_ascii_lowercase(), u.port));
    }
    sip::message::split_host_port(s).map(|(h, p)| (h.to_ascii_lowercase(), p))
}

fn matches_target(rs: &RsSession, target: &crate::SrsTarget) -> bool {
    let addr_ok = target.address.as_deref().is_none_or(|a| {
        a.trim() == rs.srs_local.trim() || host_port(a) == host_port(&rs.srs_local)
    });
    let uri_ok =
        target
            .uri
            .as_deref()
            .is_none_or(|u| match (host_port(u), host_port(&rs.request_uri)) {
                (Some((h1, p1)), Some((h2, p2))) => {
                    h1 == h2 && p1.unwrap_or(5060) == p2.unwrap_or(5060)
                }
                _ => false,
            });
    addr_ok && uri_ok
}

public_check!(
    /// POL-11 and POL-12: the recording session went to the expected provider's recorder
    /// (the location override's, else the organisation's), and with provider None no
    /// recording session reached any recorder.
    provider,
    provider_in
);

/// [`provider`] on a prepared context.
pub fn provider_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let tl = &ctx.timeline;
    let ev: Vec<Evidence> = tl.rs.iter().map(invite_evidence).collect();
    let Some(target) = &ctx.expect.srs else {
        // POL-12: provider None.
        if let Some(v) = ctx.unanswered(
            "POL-12",
            "provider.none",
            "whether it would be recorded was not shown",
        ) {
            return vec![v];
        }
        let frames: u64 = ctx.audio_spans(is_srs).iter().map(|s| s.frames).sum();
        let noun = ctx.audio_noun();
        return vec![if tl.rs.is_empty() && frames == 0 {
            ctx.verdict(
                "POL-12",
                "provider.none",
                Status::Pass,
                "No recording session reached any recorder, as the provider None requires.",
            )
        } else {
            let places: Vec<String> = tl.rs.iter().map(|r| r.srs_local.clone()).collect();
            ctx.verdict(
                "POL-12",
                "provider.none",
                Status::Fail,
                format!(
                    "The call was recorded although the provider is None: {} recording session(s) reached {} and {frames} frames of {noun} were recorded.",
                    tl.rs.len(),
                    if places.is_empty() { "no recorder".to_owned() } else { and_list(&places) }
                ),
            )
            .with_evidence(ev)
        }];
    };
    let name = target
        .provider
        .clone()
        .unwrap_or_else(|| "the expected".to_owned());
    let where_ = [target.uri.clone(), target.address.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" at ");
    if tl.rs.is_empty() {
        return vec![ctx.verdict(
            "POL-11",
            "provider.srs",
            Status::NotApplicable,
            "No recording session reached any recorder on this call; POL-01 judges whether one should have.",
        )];
    }
    let wrong: Vec<&RsSession> = tl
        .rs
        .iter()
        .filter(|r| !matches_target(r, target))
        .collect();
    if wrong.is_empty() {
        vec![
            ctx.verdict(
                "POL-11",
                "provider.srs",
                Status::Pass,
                format!(
                    "All {} recording session(s) went to {name} recorder{} ({}).",
                    tl.rs.len(),
                    if where_.is_empty() {
                        String::new()
                    } else {
                        format!(" {where_}")
                    },
                    and_list(
                        &tl.rs
                            .iter()
                            .map(|r| r.request_uri.clone())
                            .collect::<Vec<_>>()
                    )
                ),
            )
            .with_evidence(ev),
        ]
    } else {
        vec![
            ctx.verdict(
                "POL-11",
                "provider.srs",
                Status::Fail,
                format!(
                    "{} of {} recording session(s) went to the wrong recorder ({}) instead of {name} recorder {where_}.",
                    wrong.len(),
                    tl.rs.len(),
                    and_list(&wrong.iter().map(|r| format!("{} on {}", r.request_uri, r.srs_local)).collect::<Vec<_>>())
                ),
            )
            .with_evidence(ev),
        ]
    }
}

public_check!(
    /// POL-13 (and its SRC side, SRC-22): when the recorder rejects the recording
    /// session or never answers, the call proceeds silently, proceeds after an
    /// announcement, or is ended by the platform after an announcement, as configured.
    failure_behaviour,
    failure_behaviour_in
);

/// [`failure_behaviour`] on a prepared context.
pub fn failure_behaviour_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let Some(f) = &ctx.expect.failure else {
        return vec![ctx.verdict(
            "POL-13",
            "failure_behaviour",
            Status::NotApplicable,
            "The recorder was not made to fail on this call.",
        )];
    };
    let tl = &ctx.timeline;
    let Some(rs) = tl.rs.iter().find(|r| !r.accepted()) else {
        return vec![
            ctx.verdict(
                "POL-13",
                "failure_behaviour",
                Status::NotApplicable,
                if tl.rs.is_empty() {
                    "No recording session reached the recorder, so the recorder could not fail it."
                } else {
                    "The recorder accepted every recording session, so no failure behaviour was due."
                },
            )
            .with_evidence(tl.rs.iter().map(invite_evidence)),
        ];
    };
    let Some(clip) = ctx.expect.signals.failure_clip.clone() else {
        return vec![ctx.verdict(
            "POL-13",
            "failure_behaviour",
            Status::NotApplicable,
            "Not judged: no failure announcement clip is known (the SUT profile gives none), so whether the parties heard one cannot be told.",
        )];
    };
    let failed_at = rs.final_status.map_or(rs.invited_us, |(t, _)| t);
    let how = match rs.final_status {
        Some((_, s)) => format!("rejected it with {s}"),
        None => "never answered".to_owned(),
    };
    let clips: Vec<_> = ctx
        .view
        .clips(|s| PARTIES.iter().any(|p| s == heard(p)))
        .into_iter()
        .filter(|c| c.clip == clip && c.start_us + 500_000 >= rs.invited_us)
        .collect();
    let heard_by: Vec<String> = PARTIES
        .iter()
        .filter(|p| clips.iter().any(|c| c.stream == heard(p)))
        .map(|p| (*p).to_owned())
        .collect();
    let ended_by = tl.ended_by.clone().unwrap_or_else(|| "nobody".into());
    let end = tl.end_us();
    let released_by_platform = ended_by == "platform";
    let release_delay = end.saturating_sub(failed_at);
    let ev: Vec<Evidence> = std::iter::once(invite_evidence(rs))
        .chain(clips.iter().map(|c| {
            Evidence::stream(
                c.start_us,
                "party",
                &c.stream,
                format!("clip {} heard", c.clip),
            )
        }))
        .chain(std::iter::once(Evidence::at(
            end,
            &ended_by,
            format!("call ended by the {ended_by}"),
        )))
        .collect();
    let lead = format!("The recorder {how} at {}", ctx.at(failed_at));
    let went_on = format!(
        "the call went on for {} s and was ended by the {ended_by}",
        secs(release_delay as i64)
    );
    let (ok, summary) = match f.behavior {
        FailureBehavior::ProceedWithCallNoAnnouncement => (
            !released_by_platform && heard_by.is_empty(),
            format!(
                "{lead}; {went_on}; {} (configured: proceed with no announcement).",
                if heard_by.is_empty() {
                    "nobody heard a failure announcement".to_owned()
                } else {
                    format!(
                        "the {} heard the {} announcement",
                        and_list(&heard_by),
                        clip
                    )
                }
            ),
        ),
        FailureBehavior::ProceedCallWithAnnouncement => (
            !released_by_platform && heard_by.len() == PARTIES.len(),
            format!(
                "{lead}; {} heard the {} announcement and {went_on} (configured: proceed with announcement).",
                if heard_by.is_empty() {
                    "nobody".to_owned()
                } else {
                    format!("the {}", and_list(&heard_by))
                },
                clip
            ),
        ),
        FailureBehavior::EndCallWithAnnouncement => (
            released_by_platform
                && heard_by.len() == PARTIES.len()
                && release_delay <= ms_us(ctx.tol.failure_release_ms).max(0) as u64,
            format!(
                "{lead}; {} heard the {} announcement and the call was ended by the {ended_by} {} s later (configured: end the call with announcement, limit {} s).",
                if heard_by.is_empty() {
                    "nobody".to_owned()
                } else {
                    format!("the {}", and_list(&heard_by))
                },
                clip,
                secs(release_delay as i64),
                secs(ms_us(ctx.tol.failure_release_ms))
            ),
        ),
    };
    vec![
        ctx.verdict(
            "POL-13",
            "failure_behaviour",
            if ok { Status::Pass } else { Status::Fail },
            summary,
        )
        .with_evidence(ev)
        .with_measurements([Measurement::new(
            "failure_to_call_end",
            release_delay as f64 / 1e6,
            "s",
        )]),
    ]
}

public_check!(
    /// SRC-20: every recording session the recorder accepted was ended with a BYE from
    /// the SRC no later than [`crate::Tolerances::rs_end_ms`] after the call ended (an RS
    /// stopped earlier, e.g. by the stop code, also counts).
    rs_ends_with_call,
    rs_ends_with_call_in
);

/// [`rs_ends_with_call`] on a prepared context.
pub fn rs_ends_with_call_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let tl = &ctx.timeline;
    let accepted: Vec<&RsSession> = tl.rs.iter().filter(|r| r.accepted()).collect();
    if accepted.is_empty() {
        return vec![ctx.verdict(
            "SRC-20",
            "rs_end",
            Status::NotApplicable,
            "No recording session was set up, so none had to be ended.",
        )];
    }
    let end = tl.end_us();
    let limit = ms_us(ctx.tol.rs_end_ms).max(0) as u64;
    let mut problems = Vec::new();
    let mut delays = Vec::new();
    let mut ev = Vec::new();
    for rs in &accepted {
        match rs.bye {
            Some((t, by_srs)) => {
                ev.push(Evidence::at(
                    t,
                    "srs",
                    format!(
                        "BYE {} on Call-ID {}",
                        if by_srs {
                            "sent by the recorder"
                        } else {
                            "received from the SRC"
                        },
                        rs.call_id
                    ),
                ));
                let d = t as i64 - end as i64;
                delays.push(d);
                if by_srs {
                    problems.push(format!(
                        "the recording session {} was ended by the recorder, not the SRC",
                        rs.call_id
                    ));
                } else if t > end + limit {
                    problems.push(format!(
                        "the recording session {} ended {} s after the call (limit {} s)",
                        rs.call_id,
                        secs(d),
                        secs(limit as i64)
                    ));
                }
            }
            None => problems.push(format!(
                "the recording session {} was never ended with a BYE (the call ended at {})",
                rs.call_id,
                ctx.at(end)
            )),
        }
    }
    let m: Vec<Measurement> = delays
        .iter()
        .map(|d| Measurement::new("call_end_to_rs_bye", *d as f64 / 1e6, "s"))
        .collect();
    if problems.is_empty() {
        let hi = delays.iter().copied().max().unwrap_or(0);
        vec![
            ctx.verdict(
                "SRC-20",
                "rs_end",
                Status::Pass,
                format!(
                    "The recording session ended with a BYE from the SRC {} s {} the call ended (limit {} s).",
                    secs(hi.abs()),
                    if hi >= 0 { "after" } else { "before" },
                    secs(limit as i64)
                ),
            )
            .with_evidence(ev)
            .with_measurements(m),
        ]
    } else {
        let s = and_list_sentence(&problems);
        vec![
            ctx.verdict("SRC-20", "rs_end", Status::Fail, format!("{s}."))
                .with_evidence(ev)
                .with_measurements(m),
        ]
    }
}
