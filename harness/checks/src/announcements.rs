//! What the parties hear about recording, and what the recorder must not hear: the
//! start/stop announcement (POL-03), its absence from the recording (POL-04), its report
//! to the recorder as metadata (POL-05), and the pause/resume notice (POL-07).
//!
//! Announcements are judged from the clip matches on `caller.heard` / `callee.heard` and
//! `srs.<label>`, tones from tone bursts, and times against the recording events of the
//! [`crate::timeline`]. This module must not read platform ground truth.

use crate::expect::{PauseNotice, ms_us};
use crate::timeline::{ClipHeard, RecEvent, RecKind, RsSession, ToneHeard};
use crate::verdict::{
    Evidence, Measurement, Status, Verdict, and_list, and_list_sentence, secs, secs_range,
};
use crate::{Context, PARTIES, heard, is_srs, public_check};
use siprec::metadata::{self, announcement};

public_check!(
    /// POL-03: both parties hear the start announcement when recording starts and the
    /// stop announcement when it stops (each within the notice window of the event), and
    /// neither hears one when the announcement is disabled.
    start_stop_heard,
    start_stop_heard_in
);

/// [`start_stop_heard`] on a prepared context.
pub fn start_stop_heard_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let ann = &ctx.expect.announcements;
    let sig = &ctx.expect.signals;
    let clips = ctx.view.clips(|s| PARTIES.iter().any(|p| s == heard(p)));
    let known: Vec<&str> = [&sig.start_clip, &sig.stop_clip]
        .into_iter()
        .filter_map(|c| c.as_deref())
        .collect();
    // When the recorder was made to fail, the failure notice is POL-13's to judge, even
    // when the SUT uses its stop announcement for it (the reference platform does).
    let failure_notice = ctx.expect.failure.and(sig.failure_clip.as_deref());
    let ours: Vec<&ClipHeard> = clips
        .iter()
        .filter(|c| known.contains(&c.clip.as_str()))
        .filter(|c| failure_notice != Some(c.clip.as_str()))
        .collect();
    if !ann.enabled {
        // POL-03: disabled means nobody hears one; absence can only be judged for a clip
        // the listeners know.
        if sig.start_clip.is_none() {
            return vec![ctx.verdict(
                "POL-03",
                "announcement.disabled",
                Status::NotApplicable,
                "Not judged: no start announcement clip is known (the SUT profile gives none), so its absence cannot be told.",
            )];
        }
        if let Some(v) = ctx.unanswered(
            "POL-03",
            "announcement.disabled",
            "no announcement could have played",
        ) {
            return vec![v];
        }
        if ours.is_empty() {
            return vec![ctx.verdict(
                "POL-03",
                "announcement.disabled",
                Status::Pass,
                format!(
                    "Neither party heard a start or stop announcement ({}), as configured (announcement disabled).",
                    known.join(", ")
                ),
            )];
        }
        let first = ours[0];
        return vec![
            ctx.verdict(
                "POL-03",
                "announcement.disabled",
                Status::Fail,
                format!(
                    "The {} heard the {} at {} although the start/stop announcement is disabled ({} announcement(s) heard in all).",
                    party_of(&first.stream),
                    first.clip,
                    ctx.at(first.start_us),
                    ours.len()
                ),
            )
            .with_evidence(ours.iter().map(|c| clip_evidence(c)))
            .with_measurements([Measurement::new("announcements_heard", ours.len() as f64, "count")]),
        ];
    }
    if ctx.expect.voicemail.is_some() {
        // POL-03 speaks of the parties of a recorded call; for a voicemail deposit the
        // callee is absent and the checklist says nothing: recorded, not judged.
        let lines: Vec<String> = ours
            .iter()
            .map(|c| {
                format!(
                    "the {} heard {} at {}",
                    party_of(&c.stream),
                    c.clip,
                    ctx.at(c.start_us)
                )
            })
            .collect();
        return vec![
            ctx.verdict(
                "POL-03",
                "announcement.start",
                Status::Info,
                format!(
                    "The call was answered for a voicemail deposit; whether a start/stop announcement plays before a deposit is not specified. {}.",
                    if lines.is_empty() {
                        "No party heard one".to_owned()
                    } else {
                        and_list_sentence(&lines)
                    }
                ),
            )
            .with_evidence(ours.iter().map(|c| clip_evidence(c))),
        ];
    }
    let mut out = Vec::new();
    for (kind, clip, check) in [
        (RecKind::Start, &sig.start_clip, "announcement.start"),
        (RecKind::Stop, &sig.stop_clip, "announcement.stop"),
    ] {
        let events = ctx.timeline.events_of(kind);
        if events.is_empty() {
            continue;
        }
        let Some(clip) = clip else {
            out.push(ctx.verdict(
                "POL-03",
                check,
                Status::NotApplicable,
                format!(
                    "Not judged: recording {}ed {} time(s), but no {} announcement clip is known (the SUT profile gives none).",
                    if kind == RecKind::Stop { "stopp" } else { "start" },
                    events.len(),
                    kind.as_str()
                ),
            ));
            continue;
        };
        out.push(notice_verdict(
            ctx,
            "POL-03",
            check,
            &events,
            &format!("{} announcement", kind.as_str()),
            |party, e| {
                find_clip(&clips, &heard(party), clip, e.t_us, ctx)
                    .map(|c| (c.start_us, clip_evidence(c)))
            },
        ));
    }
    for (kind, check) in [
        (RecKind::Start, "announcement.start"),
        (RecKind::Stop, "announcement.stop"),
    ] {
        if !out.iter().any(|v| v.check == check) {
            out.push(ctx.verdict(
                "POL-03",
                check,
                Status::NotApplicable,
                format!(
                    "Not judged: recording never {} on this call, so no {} announcement was due.",
                    if kind == RecKind::Stop {
                        "stopped while the call went on"
                    } else {
                        "started"
                    },
                    kind.as_str()
                ),
            ));
        }
    }
    out
}

fn party_of(stream: &str) -> &str {
    stream.split('.').next().unwrap_or(stream)
}

fn clip_evidence(c: &ClipHeard) -> Evidence {
    let score = c
        .score
        .map(|s| format!(", score {s:.2}"))
        .unwrap_or_default();
    Evidence::stream(
        c.start_us,
        party_of(&c.stream),
        &c.stream,
        format!(
            "clip {} from {} to {} s{score}",
            c.clip,
            secs(c.start_us as i64),
            secs(c.end_us as i64)
        ),
    )
}

fn tone_evidence(t: &ToneHeard) -> Evidence {
    Evidence::stream(
        t.start_us,
        party_of(&t.stream),
        &t.stream,
        format!(
            "tone {:.0} Hz from {} to {} s",
            t.freq_hz,
            secs(t.start_us as i64),
            secs(t.end_us as i64)
        ),
    )
}

fn in_window(ctx: &Context<'_>, onset: u64, event: u64) -> bool {
    let d = onset as i64 - event as i64;
    d >= -ms_us(ctx.tol.notice_before_ms) && d <= ms_us(ctx.tol.notice_after_ms)
}

fn find_clip<'c>(
    clips: &'c [ClipHeard],
    stream: &str,
    clip: &str,
    event: u64,
    ctx: &Context<'_>,
) -> Option<&'c ClipHeard> {
    clips
        .iter()
        .filter(|c| c.stream == stream && c.clip == clip && in_window(ctx, c.start_us, event))
        .min_by_key(|c| c.start_us.abs_diff(event))
}

fn window_text(ctx: &Context<'_>) -> String {
    format!(
        "-{}..+{} s",
        secs(ms_us(ctx.tol.notice_before_ms)),
        secs(ms_us(ctx.tol.notice_after_ms))
    )
}

/// Judges "both parties heard `what` at each event": `find(party, event)` returns the
/// onset and evidence of what the party heard.
fn notice_verdict(
    ctx: &Context<'_>,
    requirement: &str,
    check: &str,
    events: &[&RecEvent],
    what: &str,
    find: impl Fn(&str, &RecEvent) -> Option<(u64, Evidence)>,
) -> Verdict {
    let mut offsets = Vec::new();
    let mut missing = Vec::new();
    let mut evidence = Vec::new();
    let mut measurements = Vec::new();
    for e in events {
        evidence.push(Evidence::at(
            e.t_us,
            if e.signalled { "srs" } else { "harness" },
            format!("{} {} ({})", e.kind.as_str(), ctx.at(e.t_us), e.source),
        ));
        for party in PARTIES {
            match find(party, e) {
                Some((onset, ev)) => {
                    let d = onset as i64 - e.t_us as i64;
                    offsets.push(d);
                    measurements.push(Measurement::new(
                        format!("{check}.offset.{party}"),
                        d as f64 / 1e6,
                        "s",
                    ));
                    evidence.push(ev);
                }
                None => missing.push(format!(
                    "the {party} heard no {what} within {} of the {} at {} ({})",
                    window_text(ctx),
                    e.kind.as_str(),
                    ctx.at(e.t_us),
                    e.source
                )),
            }
        }
    }
    let n = events.len();
    let events_text = if n == 1 {
        format!(
            "the {} at {} ({})",
            events[0].kind.as_str(),
            ctx.at(events[0].t_us),
            events[0].source
        )
    } else {
        format!("each of the {n} events")
    };
    if missing.is_empty() {
        let lo = offsets.iter().copied().min().unwrap_or(0);
        let hi = offsets.iter().copied().max().unwrap_or(0);
        ctx.verdict(
            requirement,
            check,
            Status::Pass,
            format!(
                "Both parties heard the {what} {} s after {events_text}.",
                secs_range(lo, hi)
            ),
        )
        .with_evidence(evidence)
        .with_measurements(measurements)
    } else {
        let s = and_list_sentence(&missing);
        ctx.verdict(requirement, check, Status::Fail, format!("{s}."))
            .with_evidence(evidence)
            .with_measurements(measurements)
    }
}

public_check!(
    /// POL-04: the recording notices the parties heard (start, stop, pause, resume or
    /// failure announcement, whichever are known) are absent from every stream the
    /// recorder received. Judged only when a notice was heard and a recording was made;
    /// other known clips found in the recording (a voicemail greeting recorded with the
    /// deposit) are listed, not judged.
    not_recorded,
    not_recorded_in
);

/// [`not_recorded`] on a prepared context.
pub fn not_recorded_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let na = |why: String| {
        vec![ctx.verdict(
            "POL-04",
            "announcement.not_recorded",
            Status::NotApplicable,
            why,
        )]
    };
    let notices = ctx.expect.signals.notice_clips();
    if notices.is_empty() {
        return na("Not judged: no announcement clip is known (the SUT profile gives none), so none can be looked for in the recording.".into());
    }
    let streams = ctx.view.stream_names(is_srs);
    if streams.is_empty() {
        return na("Not judged: the recorder received no stream on this call, so there is no recording to search for announcements.".into());
    }
    let heard_notices: Vec<ClipHeard> = ctx
        .view
        .clips(|s| PARTIES.iter().any(|p| s == heard(p)))
        .into_iter()
        .filter(|c| notices.contains(&c.clip.as_str()))
        .collect();
    let (leaked, other): (Vec<ClipHeard>, Vec<ClipHeard>) = ctx
        .view
        .clips(is_srs)
        .into_iter()
        .partition(|c| notices.contains(&c.clip.as_str()));
    let other_note = if other.is_empty() {
        String::new()
    } else {
        let o: Vec<String> = other
            .iter()
            .map(|c| format!("{} on {}", c.clip, c.stream))
            .collect();
        format!(
            " Other known audio in the recording, not a recording notice: {}.",
            and_list(&o)
        )
    };
    let names: Vec<String> = streams.iter().cloned().collect();
    let m = [
        Measurement::new("announcements_in_recording", leaked.len() as f64, "count"),
        Measurement::new(
            "announcements_heard_by_parties",
            heard_notices.len() as f64,
            "count",
        ),
        Measurement::new("recorded_streams", streams.len() as f64, "count"),
    ];
    if !leaked.is_empty() {
        let lines: Vec<String> = leaked
            .iter()
            .map(|c| format!("{} on {} at {}", c.clip, c.stream, ctx.at(c.start_us)))
            .collect();
        return vec![
            ctx.verdict(
                "POL-04",
                "announcement.not_recorded",
                Status::Fail,
                format!(
                    "The recording contains {} announcement(s): {}.{other_note}",
                    leaked.len(),
                    and_list(&lines)
                ),
            )
            .with_evidence(leaked.iter().map(clip_evidence))
            .with_measurements(m),
        ];
    }
    if heard_notices.is_empty() {
        return na(format!(
            "Not judged: neither party heard a recording notice ({}), so their absence from the {} recorded stream(s) shows nothing.",
            notices.join(", "),
            streams.len()
        ));
    }
    let heard_lines: Vec<String> = {
        let mut v: Vec<String> = heard_notices.iter().map(|c| c.clip.clone()).collect();
        v.dedup();
        v
    };
    vec![
        ctx.verdict(
            "POL-04",
            "announcement.not_recorded",
            Status::Pass,
            format!(
                "The parties heard {} notice(s) ({}); none of them is in the {} recorded stream(s) ({}).{other_note}",
                heard_notices.len(),
                and_list(&heard_lines),
                streams.len(),
                and_list(&names)
            ),
        )
        .with_evidence(heard_notices.iter().map(clip_evidence))
        .with_evidence(other.iter().map(clip_evidence))
        .with_measurements(m),
    ]
}

/// One announcement as the parties heard it (both parties' matches merged).
#[derive(Debug, Clone)]
struct Instance {
    kind: announcement::AnnouncementEvent,
    clip: String,
    onset: u64,
    end: u64,
    evidence: Vec<Evidence>,
}

public_check!(
    /// POL-05: each announcement the parties heard (start, stop, pause, resume clips) is
    /// followed within T by a metadata update to the recorder carrying recproof's
    /// announcement element for that event (`siprec::metadata::announcement`).
    reported_as_metadata,
    reported_as_metadata_in
);

/// [`reported_as_metadata`] on a prepared context.
pub fn reported_as_metadata_in(ctx: &Context<'_>) -> Vec<Verdict> {
    use announcement::AnnouncementEvent as A;
    let ann = &ctx.expect.announcements;
    let sig = &ctx.expect.signals;
    let mut kinds: Vec<(&str, A)> = Vec::new();
    for (clip, kind) in [(&sig.start_clip, A::Start), (&sig.stop_clip, A::Stop)] {
        if let Some(c) = clip {
            kinds.push((c, kind));
        }
    }
    if ctx.expect.pause_notice == PauseNotice::Announcement {
        for (clip, kind) in [(&sig.pause_clip, A::Pause), (&sig.resume_clip, A::Resume)] {
            if let Some(c) = clip {
                kinds.push((c, kind));
            }
        }
    }
    if kinds.is_empty() {
        return vec![ctx.verdict(
            "POL-05",
            "announcement.metadata",
            Status::NotApplicable,
            "Not judged: no announcement clip is known (the SUT profile gives none), so no announcement can be matched to a metadata report.",
        )];
    }
    let clips = ctx.view.clips(|s| PARTIES.iter().any(|p| s == heard(p)));
    // A failure notice played because the recorder refused the session (POL-13) cannot
    // be reported to that recorder: there is no recording session to carry it.
    let no_session = !ctx.timeline.rs.iter().any(RsSession::accepted);
    let failure_clip = ctx
        .expect
        .failure
        .and(ctx.expect.signals.failure_clip.as_deref());
    let mut instances: Vec<Instance> = Vec::new();
    for c in &clips {
        let Some((_, kind)) = kinds.iter().find(|(name, _)| *name == c.clip) else {
            continue;
        };
        if no_session && failure_clip == Some(c.clip.as_str()) {
            continue;
        }
        match instances
            .iter_mut()
            .find(|i| i.clip == c.clip && i.onset.abs_diff(c.start_us) < 1_000_000)
        {
            Some(i) => {
                i.onset = i.onset.min(c.start_us);
                i.end = i.end.max(c.end_us);
                i.evidence.push(clip_evidence(c));
            }
            None => instances.push(Instance {
                kind: *kind,
                clip: c.clip.clone(),
                onset: c.start_us,
                end: c.end_us,
                evidence: vec![clip_evidence(c)],
            }),
        }
    }
    // Every announcement report that reached the recorder.
    let docs = ctx.view.metadata(&ctx.timeline.rs);
    let mut reports = Vec::new();
    let mut broken = Vec::new();
    for d in &docs {
        let Ok(doc) = metadata::parse(d.xml.as_bytes()) else {
            continue;
        };
        let Some(rec) = doc.recording() else { continue };
        for a in announcement::find_announcements(rec) {
            match a {
                Ok(a) => reports.push((d.t_us, a, d.method.clone())),
                Err(e) => broken.push(Evidence::at(
                    d.t_us,
                    "srs",
                    format!("{} carried a malformed announcement element: {e}", d.method),
                )),
            }
        }
    }
    let report_evidence = |t: u64, a: &announcement::Announcement, method: &str| {
        Evidence::at(
            t,
            "srs",
            format!(
                "{method} with <announcement event=\"{}\" played-at=\"{}\">",
                a.event.as_str(),
                a.played_at
            ),
        )
    };
    if !ann.metadata {
        let lines: Vec<String> = reports
            .iter()
            .map(|(t, a, m)| format!("{} ({m}, {})", a.event.as_str(), ctx.at(*t)))
            .collect();
        return vec![
            ctx.verdict(
                "POL-05",
                "announcement.metadata",
                Status::Info,
                format!(
                    "Not judged: the SUT profile names no announcement metadata format; the parties heard {} announcement(s) and the recorder received {} recproof announcement report(s){}.",
                    instances.len(),
                    reports.len(),
                    if lines.is_empty() { String::new() } else { format!(": {}", and_list(&lines)) }
                ),
            )
            .with_evidence(reports.iter().map(|(t, a, m)| report_evidence(*t, a, m))),
        ];
    }
    if !broken.is_empty() {
        return vec![
            ctx.verdict(
                "POL-05",
                "announcement.metadata",
                Status::Fail,
                format!(
                    "{} announcement element(s) sent to the recorder could not be read.",
                    broken.len()
                ),
            )
            .with_evidence(broken),
        ];
    }
    if instances.is_empty() {
        if reports.is_empty() {
            return vec![ctx.verdict(
                "POL-05",
                "announcement.metadata",
                Status::NotApplicable,
                "Not judged: no announcement was heard on this call, so none had to be reported to the recorder.",
            )];
        }
        return vec![
            ctx.verdict(
                "POL-05",
                "announcement.metadata",
                Status::Warn,
                format!(
                    "The recorder was told of {} announcement(s) that no party heard.",
                    reports.len()
                ),
            )
            .with_evidence(reports.iter().map(|(t, a, m)| report_evidence(*t, a, m))),
        ];
    }
    let t_us = ms_us(ctx.tol.metadata_delay_ms);
    let mut delays = Vec::new();
    let mut missing = Vec::new();
    let mut evidence = Vec::new();
    let mut used = vec![false; reports.len()];
    for i in &instances {
        evidence.extend(i.evidence.iter().cloned());
        let found = reports.iter().enumerate().find(|(k, (t, a, _))| {
            !used[*k]
                && a.event == i.kind
                && (*t as i64) >= i.onset as i64 - t_us
                && (*t as i64) <= i.end as i64 + t_us
        });
        match found {
            Some((k, (t, a, m))) => {
                used[k] = true;
                delays.push(*t as i64 - i.onset as i64);
                evidence.push(report_evidence(*t, a, m));
            }
            None => {
                let refused = refused_reports(ctx, i.kind);
                let note = refused
                    .first()
                    .map(|(t, m, code)| {
                        format!(
                            " (the recorder answered {code} to the {m} carrying it at {})",
                            ctx.at(*t)
                        )
                    })
                    .unwrap_or_default();
                evidence.extend(refused.iter().map(|(t, m, code)| {
                    Evidence::at(
                        *t,
                        "srs",
                        format!(
                            "{m} with the {} announcement answered {code}",
                            i.kind.as_str()
                        ),
                    )
                }));
                missing.push(format!(
                    "the {} announcement heard at {}{note}",
                    i.kind.as_str(),
                    ctx.at(i.onset)
                ));
            }
        }
    }
    let m: Vec<Measurement> = delays
        .iter()
        .map(|d| Measurement::new("announcement_metadata_delay", *d as f64 / 1e6, "s"))
        .collect();
    if missing.is_empty() {
        let lo = delays.iter().copied().min().unwrap_or(0);
        let hi = delays.iter().copied().max().unwrap_or(0);
        vec![
            ctx.verdict(
                "POL-05",
                "announcement.metadata",
                Status::Pass,
                format!(
                    "Each of the {} announcement(s) was reported to the recorder as metadata {} s after it began (limit {} s).",
                    instances.len(),
                    secs_range(lo, hi),
                    secs(t_us)
                ),
            )
            .with_evidence(evidence)
            .with_measurements(m),
        ]
    } else {
        vec![
            ctx.verdict(
                "POL-05",
                "announcement.metadata",
                Status::Fail,
                format!(
                    "No metadata update reached the recorder within {} s of {} ({} of {} announcement(s) unreported).",
                    secs(t_us),
                    and_list(&missing),
                    missing.len(),
                    instances.len()
                ),
            )
            .with_evidence(evidence)
            .with_measurements(m),
        ]
    }
}

/// RS requests that carried an announcement report of this kind and that the recorder
/// refused (non-2xx): (time, method, status).
fn refused_reports(
    ctx: &Context<'_>,
    kind: announcement::AnnouncementEvent,
) -> Vec<(u64, String, u16)> {
    let mut out = Vec::new();
    for r in ctx.timeline.rs.iter().flat_map(|r| r.requests.iter()) {
        let Some(code) = r.status.filter(|c| !(200..300).contains(c)) else {
            continue;
        };
        let Some(xml) = crate::timeline::metadata_of(&r.msg) else {
            continue;
        };
        let carries = metadata::parse(&xml).ok().is_some_and(|d| {
            d.recording().is_some_and(|rec| {
                announcement::find_announcements(rec)
                    .iter()
                    .any(|a| a.as_ref().is_ok_and(|a| a.event == kind))
            })
        });
        if carries {
            out.push((r.t_us, r.method.clone(), code));
        }
    }
    out
}

public_check!(
    /// POL-07: at each pause and resume both parties hear the configured notice (a beep
    /// of the configured frequency, or the pause/resume clip), and nothing when the
    /// notice is None.
    pause_notice,
    pause_notice_in
);

/// [`pause_notice`] on a prepared context.
pub fn pause_notice_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let mut events = ctx.timeline.events_of(RecKind::Pause);
    events.extend(ctx.timeline.events_of(RecKind::Resume));
    events.sort_by_key(|e| e.t_us);
    let na = |why: String| vec![ctx.verdict("POL-07", "pause_notice", Status::NotApplicable, why)];
    if events.is_empty() {
        return na(
            "Not judged: recording was never paused or resumed on this call, so no pause/resume notice was due.".into(),
        );
    }
    let on_heard = |s: &str| PARTIES.iter().any(|p| s == heard(p));
    let clips = ctx.view.clips(on_heard);
    let tones = ctx.view.tones(on_heard);
    let sig = &ctx.expect.signals;
    match ctx.expect.pause_notice {
        PauseNotice::Beep => {
            let Some(f) = sig.beep_hz else {
                return na(
                    "Not judged: no beep frequency is known (the SUT profile gives none).".into(),
                );
            };
            vec![notice_verdict(
                ctx,
                "POL-07",
                "pause_notice",
                &events,
                &format!("beep ({f:.0} Hz)"),
                |party, e| {
                    tones
                        .iter()
                        .filter(|t| {
                            t.stream == heard(party)
                                && (t.freq_hz - f).abs() <= ctx.tol.tone_freq_hz
                                && in_window(ctx, t.start_us, e.t_us)
                        })
                        .min_by_key(|t| t.start_us.abs_diff(e.t_us))
                        .map(|t| (t.start_us, tone_evidence(t)))
                },
            )]
        }
        PauseNotice::Announcement => {
            let (Some(pause_clip), Some(resume_clip)) = (&sig.pause_clip, &sig.resume_clip) else {
                return na("Not judged: the pause and resume announcement clips are not both known (the SUT profile must give both).".into());
            };
            vec![notice_verdict(
                ctx,
                "POL-07",
                "pause_notice",
                &events,
                "pause/resume announcement",
                |party, e| {
                    let clip = if e.kind == RecKind::Pause {
                        pause_clip
                    } else {
                        resume_clip
                    };
                    find_clip(&clips, &heard(party), clip, e.t_us, ctx)
                        .map(|c| (c.start_us, clip_evidence(c)))
                },
            )]
        }
        PauseNotice::None => {
            // Absence of every notice this SUT is known to give: its beep and its
            // pause/resume announcements (the reminder tone is not a pause notice).
            let notice_clips: Vec<&str> = [&sig.pause_clip, &sig.resume_clip]
                .into_iter()
                .filter_map(|c| c.as_deref())
                .collect();
            if notice_clips.is_empty() && sig.beep_hz.is_none() {
                return na("Not judged: neither a beep frequency nor a pause/resume announcement is known (the SUT profile gives none), so their absence cannot be told.".into());
            }
            let mut looked_for: Vec<String> =
                notice_clips.iter().map(|c| (*c).to_owned()).collect();
            if let Some(b) = sig.beep_hz {
                looked_for.push(format!("a {b:.0} Hz beep"));
            }
            let mut heard_any = Vec::new();
            for e in &events {
                for c in clips.iter().filter(|c| {
                    notice_clips.contains(&c.clip.as_str()) && in_window(ctx, c.start_us, e.t_us)
                }) {
                    heard_any.push(clip_evidence(c));
                }
                for t in tones.iter().filter(|t| {
                    sig.beep_hz
                        .is_some_and(|b| (t.freq_hz - b).abs() <= ctx.tol.tone_freq_hz)
                        && in_window(ctx, t.start_us, e.t_us)
                }) {
                    heard_any.push(tone_evidence(t));
                }
            }
            if heard_any.is_empty() {
                vec![ctx.verdict(
                    "POL-07",
                    "pause_notice",
                    Status::Pass,
                    format!(
                        "Neither party heard a notice ({}) at the {} pause/resume event(s), as configured (notification None).",
                        and_list(&looked_for),
                        events.len()
                    ),
                )]
            } else {
                vec![
                    ctx.verdict(
                        "POL-07",
                        "pause_notice",
                        Status::Fail,
                        format!(
                            "The parties heard {} notice(s) around the {} pause/resume event(s) although the notification is None.",
                            heard_any.len(),
                            events.len()
                        ),
                    )
                    .with_evidence(heard_any),
                ]
            }
        }
    }
}
