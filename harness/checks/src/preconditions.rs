//! The preconditions of every scenario (recproof requirement RP-CALL): the call was
//! answered, media reached each party, and, where the policy records the call, a
//! recording session was set up in time and party audio reached the recorder.
//!
//! A claim about a call ("no announcement is in the recording", "no reminder tone is
//! heard") shows nothing when the call never happened: a SUT that never answers, or
//! answers and never records, would pass every claim about absence. So every scenario
//! step asserts these verdicts too, and fails when one of them FAILs. Where the policy
//! does not record the call (mode Never, provider None, voicemail recording off) the
//! recording preconditions are NOT APPLICABLE, and the absence of a recording is judged
//! by POL-01, POL-12 or POL-10 as a claim of its own.
//!
//! Judged from what the parties and the recorder observed. This module owns nothing
//! else and must not read platform ground truth.

use crate::expect::{RecordMode, ms_us};
use crate::timeline::{CodeAction, RsSession};
use crate::verdict::{Evidence, Measurement, Status, Verdict, and_list, secs};
use crate::{Context, PARTIES, heard, is_srs, public_check};
use sip::Method;

/// The requirement ID precondition verdicts cite.
pub const RP_CALL: &str = "RP-CALL";

/// Check id: the caller saw the call answered.
pub const ANSWERED: &str = "precondition.answered";
/// Check id: each party heard the other (or, on a voicemail call, the caller heard the
/// mailbox).
pub const PARTY_MEDIA: &str = "precondition.party_media";
/// Check id: the recording the policy calls for was set up in time.
pub const RECORDING_SESSION: &str = "precondition.recording_session";
/// Check id: party audio reached the recorder.
pub const RECORDER_MEDIA: &str = "precondition.recorder_media";

/// Check id: the harness read everything its sockets were sent during the call (no
/// datagram dropped in its own receive buffers). Of every call, platform or recorder; not
/// in [`ALL`], because a call with no drop count to read (a simulated network, a load
/// run) has it NOT APPLICABLE, and [`ALL`] lists what must PASS.
pub const HARNESS_INTACT: &str = "precondition.harness_intact";

/// Every precondition check id of a platform call that must PASS, in order.
pub const ALL: [&str; 4] = [ANSWERED, PARTY_MEDIA, RECORDING_SESSION, RECORDER_MEDIA];

/// True for the check id of a precondition: a platform call's ([`ALL`]), a recorder
/// call's ([`crate::recorder::SESSION_TAKEN`]) or [`HARNESS_INTACT`]. A precondition
/// every claim of its call depends on: when it fails, nothing else of the call is judged.
pub fn is_precondition(check: &str) -> bool {
    ALL.contains(&check) || check == crate::recorder::SESSION_TAKEN || check == HARNESS_INTACT
}

/// RP-CALL: the harness did not lose what the SUT sent it. The kernel counts the
/// datagrams it dropped because the harness's receive buffers were full (a real-time run
/// logs that count as `harness_receive_drops`); any such drop is the harness's loss, not
/// the SUT's, so a missing tone or a gap in the audio could be blamed on the wrong side,
/// and the call's other verdicts cannot be trusted: this precondition FAILs and says why.
pub fn harness_intact(view: &crate::timeline::CallView<'_>) -> Verdict {
    let drops = view.obs.iter().find_map(|o| match &o.event {
        observe::Event::HarnessReceiveDrops { datagrams } => Some((o.t_us, *datagrams)),
        _ => None,
    });
    let v =
        |status, summary: &str| Verdict::new(RP_CALL, HARNESS_INTACT, &view.call, status, summary);
    let imported = view
        .obs
        .iter()
        .any(|o| matches!(o.event, observe::Event::CaptureImported { .. }));
    match drops {
        None if imported => v(
            Status::NotApplicable,
            "This call was read from a packet capture: no harness of recproof's took part in it, so there are no receive drops of its own to count.",
        ),
        None => v(
            Status::NotApplicable,
            "No count of the harness's own receive drops was logged for this call (a simulated network loses nothing the harness does not model; a real-time run logs the kernel's count).",
        ),
        Some((t, 0)) => v(
            Status::Pass,
            "The kernel counted no datagram dropped in the harness's own receive buffers during this call.",
        )
        .with_evidence([Evidence::at(t, "harness", "receive drops: 0")]),
        Some((t, n)) => v(
            Status::Fail,
            &format!(
                "The harness's own receive buffers dropped {n} datagrams during this call (the kernel's count for its ports): the harness did not read fast enough, so what it missed is its loss, not the SUT's, and nothing else about this call is judged. Place fewer calls at once, or raise net.core.rmem_max."
            ),
        )
        .with_evidence([Evidence::at(t, "harness", format!("receive drops: {n}"))])
        .with_measurements([Measurement::new("harness_receive_drops", n as f64, "datagrams")]),
    }
}

public_check!(
    /// RP-CALL: all four preconditions of the call ([`ALL`]).
    preconditions,
    preconditions_in
);

/// [`preconditions`] on a prepared context.
pub fn preconditions_in(ctx: &Context<'_>) -> Vec<Verdict> {
    vec![
        answered(ctx),
        party_media(ctx),
        recording_session(ctx),
        recorder_media(ctx),
        harness_intact(&ctx.view),
    ]
}

/// When the caller sent its INVITE, and to where.
type Sent = Option<(u64, String)>;
/// When the final answer came, and its status.
type Answered = Option<(u64, u16)>;

/// The caller's INVITE and the final answer it got.
fn caller_invite(ctx: &Context<'_>) -> (Sent, Answered) {
    let sip = ctx.view.sip();
    let mine = |s: &&crate::timeline::SipSeen| s.actor == observe::Actor::Caller;
    let sent = sip
        .iter()
        .filter(mine)
        .find(|s| s.sent && s.is_request(&Method::Invite))
        .map(|s| (s.t_us, s.remote.clone()));
    let final_answer = sip
        .iter()
        .filter(mine)
        .filter(|s| !s.sent && s.cseq_method() == Some(Method::Invite))
        .find_map(|s| {
            s.msg
                .status()
                .filter(|c| *c >= 200)
                .map(|code| (s.t_us, code))
        });
    (sent, final_answer)
}

fn answered(ctx: &Context<'_>) -> Verdict {
    let tl = &ctx.timeline;
    let (sent, final_answer) = caller_invite(ctx);
    let v = |status, summary: String| ctx.verdict(RP_CALL, ANSWERED, status, summary);
    match (tl.answered_us, sent) {
        (Some(a), sent) => {
            let by = if tl.callee_answered_us.is_some() {
                "the callee answered"
            } else {
                "the callee never answered; the SUT answered the caller itself"
            };
            let after = sent.as_ref().map_or(String::new(), |(t, _)| {
                format!(" {} s after dialling", secs(a as i64 - *t as i64))
            });
            v(
                Status::Pass,
                format!("The caller received 200 OK to its INVITE{after} ({by})."),
            )
            .with_evidence([Evidence::at(a, "caller", "200 OK to the INVITE received")])
            .with_measurements(sent.map(|(t, _)| {
                Measurement::new("dial_to_answer", (a as i64 - t as i64) as f64 / 1e6, "s")
            }))
        }
        (None, None) => v(
            Status::Fail,
            "The caller sent no INVITE, so no call was placed (the harness could not dial).".into(),
        ),
        (None, Some((t, to))) => {
            let what = match final_answer {
                Some((_, code)) => format!("it was answered {code}"),
                None => format!(
                    "no final answer came in the {} s the harness waited (is the SUT listening at {to}?)",
                    secs(tl.end_us().saturating_sub(t) as i64)
                ),
            };
            v(
                Status::Fail,
                format!("The call was never answered: the caller's INVITE to {to} got no 200 OK; {what}."),
            )
            .with_evidence([Evidence::at(t, "caller", format!("INVITE sent to {to}"))])
        }
    }
}

fn party_media(ctx: &Context<'_>) -> Verdict {
    let tl = &ctx.timeline;
    let v = |status, summary: String| ctx.verdict(RP_CALL, PARTY_MEDIA, status, summary);
    if tl.answered_us.is_none() {
        return v(
            Status::NotApplicable,
            "The call was not answered, so no media could flow.".into(),
        );
    }
    if ctx.expect.voicemail.is_some() {
        // The callee never joins a voicemail call: the caller hears the mailbox.
        return match ctx.view.first_rtp(&heard("caller")) {
            Some(t) => v(
                Status::Pass,
                format!("The caller received media from {}.", ctx.at(t)),
            )
            .with_evidence([Evidence::stream(
                t,
                "caller",
                &heard("caller"),
                "first RTP packet",
            )]),
            None => v(
                Status::Fail,
                "The caller received no media at all on this voicemail call.".into(),
            ),
        };
    }
    if ctx.audio_undecoded() {
        return v(Status::NotApplicable, UNDECODED.into());
    }
    // Uninstrumented audio (a capture of real speech) shows only where there was sound,
    // not whose: the same rule, on sound, said as such.
    let sound = ctx.audio_uninstrumented();
    let mut heard_frames = Vec::new();
    let mut missing = Vec::new();
    let mut m = Vec::new();
    for (listener, talker) in [("caller", "callee"), ("callee", "caller")] {
        let stream = heard(listener);
        let frames: u64 = if sound {
            ctx.view.sound_spans(|s| s == stream)
        } else {
            ctx.view.party_spans(|s| s == stream)
        }
        .iter()
        .filter(|s| sound || s.party == talker)
        .map(|s| s.frames)
        .sum();
        m.push(Measurement::new(
            format!("party_media.{listener}"),
            frames as f64,
            "frames",
        ));
        let rtp = ctx.view.first_rtp(&stream).is_some();
        match (frames, sound, rtp) {
            (0, true, false) => missing.push(format!("the {listener} received no RTP at all")),
            (0, false, false) => missing.push(format!(
                "the {listener} heard none of the {talker}'s audio (it received no RTP at all)"
            )),
            (0, true, true) => missing.push(format!(
                "the {listener} received RTP, but no sound in it other than known notices and tones"
            )),
            (0, false, true) => missing.push(format!(
                "the {listener} heard none of the {talker}'s audio (it received RTP, but none of it was the other party's audio)"
            )),
            (n, true, _) => heard_frames.push(format!("the {listener} {n} frames")),
            (n, false, _) => heard_frames.push(format!("the {listener} {n} frames of the {talker}'s")),
        }
    }
    if !missing.is_empty() {
        return v(
            Status::Fail,
            format!(
                "Media did not flow between the parties: {}.",
                and_list(&missing)
            ),
        )
        .with_measurements(m);
    }
    let summary = if sound {
        format!(
            "Both parties heard sound: {} (whose voice cannot be told: the capture's audio is not recproof's instrumented signal).",
            and_list(&heard_frames)
        )
    } else {
        format!(
            "Both parties heard each other: {}.",
            and_list(&heard_frames)
        )
    };
    v(Status::Pass, summary).with_measurements(m)
}

/// What the media preconditions say on a capture whose audio could not be decoded.
const UNDECODED: &str = "Not judged: the capture's audio could not be decoded (encrypted, or a codec other than G.711), so what reached whom cannot be told from it.";

/// When the recording the policy calls for must start, and from what: answer (Always
/// modes, voicemail deposits) or the start code (On Demand). `Err` says why there is no
/// such moment.
fn recording_due(ctx: &Context<'_>) -> Result<(u64, String), String> {
    let tl = &ctx.timeline;
    let Some(answer) = tl.answered_us else {
        return Err("the call was never answered".into());
    };
    if ctx.expect.mode == RecordMode::OnDemand && ctx.expect.voicemail.is_none() {
        return match tl.codes.iter().find(|c| c.action == CodeAction::Start) {
            Some(c) => Ok((
                c.t_us,
                format!("the {} pressed {} at {}", c.party, c.code, ctx.at(c.t_us)),
            )),
            None => Err(format!(
                "the mode is \"{}\" and nobody pressed the start code",
                ctx.expect.mode.webex_name()
            )),
        };
    }
    Ok((answer, "answer".into()))
}

fn rs_evidence(rs: &RsSession) -> Evidence {
    Evidence::at(
        rs.invited_us,
        "srs",
        format!(
            "RS INVITE {} (Call-ID {}) received on {}; {}",
            rs.request_uri,
            rs.call_id,
            rs.srs_local,
            rs.final_status
                .map_or("no final answer logged".to_owned(), |(_, s)| format!(
                    "answered {s}"
                ))
        ),
    )
}

fn recording_session(ctx: &Context<'_>) -> Verdict {
    let e = ctx.expect;
    let tl = &ctx.timeline;
    let v = |status, summary: String| ctx.verdict(RP_CALL, RECORDING_SESSION, status, summary);
    if let Some(why) = e.not_recorded_because() {
        return v(
            Status::NotApplicable,
            format!(
                "The policy does not record this call ({why}); whether it was recorded anyway is judged on its own."
            ),
        );
    }
    let ev: Vec<Evidence> = tl.rs.iter().map(rs_evidence).collect();
    if e.failure.is_some() {
        // The recorder was told to refuse: the platform must at least have tried.
        return match tl.rs.first() {
            Some(rs) => v(
                Status::Pass,
                format!(
                    "The SUT offered a recording session to the recorder {} (which the scenario made fail).",
                    ctx.at(rs.invited_us)
                ),
            )
            .with_evidence(ev),
            None => v(
                Status::Fail,
                "No recording session INVITE reached the recorder, so the recorder could not fail it.".into(),
            ),
        };
    }
    let (due, from) = match recording_due(ctx) {
        Ok(d) => d,
        Err(why) => {
            return v(
                Status::NotApplicable,
                format!("Not judged: {why}, so no recording was due."),
            );
        }
    };
    let limit = ms_us(ctx.tol.recording_setup_ms).max(0) as u64;
    let accepted = tl
        .rs
        .iter()
        .filter(|r| r.accepted())
        .map(|r| (r, r.final_status.map_or(r.invited_us, |(t, _)| t)))
        .find(|(_, t)| *t <= due + limit);
    match accepted {
        Some((rs, t)) => {
            let d = t as i64 - due as i64;
            let when = if d >= 0 {
                format!("{} s after {from}", secs(d))
            } else {
                // On Demand: a session opened early, media held back until the code.
                format!("{} s before {from}", secs(-d))
            };
            v(
                Status::Pass,
                format!(
                    "A recording session was set up with the recorder {when} (limit {} s).",
                    secs(limit as i64)
                ),
            )
            .with_evidence([rs_evidence(rs)])
            .with_measurements([Measurement::new(
                "recording_setup",
                d as f64 / 1e6,
                "s",
            )])
        }
        None => {
            let seen = if tl.rs.is_empty() {
                "no recording session INVITE reached any recorder".to_owned()
            } else {
                and_list(
                    &tl.rs
                        .iter()
                        .map(|r| {
                            format!(
                                "an RS INVITE reached {} {} and was {}",
                                r.srs_local,
                                ctx.at(r.invited_us),
                                r.final_status
                                    .map_or("never answered".to_owned(), |(_, s)| {
                                        format!("answered {s}")
                                    })
                            )
                        })
                        .collect::<Vec<_>>(),
                )
            };
            v(
                Status::Fail,
                format!(
                    "No recording session was set up within {} s of {from}, although the policy records this call: {seen}.",
                    secs(limit as i64)
                ),
            )
            .with_evidence(ev)
        }
    }
}

fn recorder_media(ctx: &Context<'_>) -> Verdict {
    let e = ctx.expect;
    let v = |status, summary: String| ctx.verdict(RP_CALL, RECORDER_MEDIA, status, summary);
    if let Some(why) = e.not_recorded_because() {
        return v(
            Status::NotApplicable,
            format!("The policy does not record this call ({why})."),
        );
    }
    if e.failure.is_some() {
        return v(
            Status::NotApplicable,
            "The recorder was made to fail on this call, so no media was due at it.".into(),
        );
    }
    if let Err(why) = recording_due(ctx) {
        return v(
            Status::NotApplicable,
            format!("Not judged: {why}, so no recorded media was due."),
        );
    }
    if ctx.audio_undecoded() {
        return v(Status::NotApplicable, UNDECODED.into());
    }
    if ctx.audio_uninstrumented() {
        let spans = ctx.view.sound_spans(is_srs);
        let frames: u64 = spans.iter().map(|s| s.frames).sum();
        let streams: std::collections::BTreeSet<&str> =
            spans.iter().map(|s| s.stream.as_str()).collect();
        return if frames > 0 {
            v(
                Status::Pass,
                format!(
                    "Sound reached the recorder: {frames} frames of it on {} (whose voice it was cannot be told: the capture's audio is not recproof's instrumented signal).",
                    and_list(&streams.into_iter().map(str::to_owned).collect::<Vec<_>>())
                ),
            )
        } else {
            v(
                Status::Fail,
                format!(
                    "No sound reached the recorder: {}.",
                    match ctx.view.stream_names(is_srs).len() {
                        0 => "no RTP stream reached it".to_owned(),
                        n => format!(
                            "{n} stream(s) reached it, with no sound other than known notices and tones"
                        ),
                    }
                ),
            )
        };
    }
    let spans = ctx.view.party_spans(is_srs);
    let by_party: Vec<String> = PARTIES
        .iter()
        .filter_map(|p| {
            let n: u64 = spans
                .iter()
                .filter(|s| s.party == *p)
                .map(|s| s.frames)
                .sum();
            (n > 0).then(|| format!("{n} frames of the {p}'s audio"))
        })
        .collect();
    if by_party.is_empty() {
        let streams = ctx.view.stream_names(is_srs);
        let what = if streams.is_empty() {
            "no RTP stream reached it".to_owned()
        } else {
            format!(
                "{} stream(s) reached it ({}) but carried no party audio",
                streams.len(),
                and_list(&streams.into_iter().collect::<Vec<_>>())
            )
        };
        v(
            Status::Fail,
            format!("No party audio reached the recorder: {what}."),
        )
    } else {
        v(
            Status::Pass,
            format!("Party audio reached the recorder: {}.", and_list(&by_party)),
        )
    }
}
