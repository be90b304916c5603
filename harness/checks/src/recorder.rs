//! The recorder checks: what a recorder under test (a SIPREC SRS) did with the recording
//! sessions the harness SRC opened at it.
//!
//! # What this module owns
//!
//! [`judge_recorder`] and one public function per check, pure functions of the
//! observation log. Their input is what the harness SRC saw ([`Actor::Src`]: every SIP
//! message it sent and received, RTP that arrived at its ports, and [`Event::RsCase`],
//! the harness's own statement of what each session was meant to test) and, for SRS-12
//! only, the recorder's own account of what it recorded ([`Actor::Srs`] party-frame
//! reports per recorded stream: the SRS emulator's, or what an importer read from the
//! recorder's files). [`RECORDER_CATALOGUE`] lists the checks.
//!
//! # The judgement contract
//!
//! As for the platform checks: PASS only for what was observed; a check with nothing to
//! judge (no session of its kind was sent, no recording was given) says NOT APPLICABLE
//! with the reason, which a scenario that claims the check treats as a failure. A
//! recorder that never answers fails SRS-13 with the time waited.
//!
//! # What it must not do
//!
//! No I/O, no clock, no panics on any log content. It never reads the SRS emulator's
//! configuration or faults: only the log.

use crate::CheckInfo;
use crate::timeline::{CallView, SipSeen};
use crate::verdict::{Evidence, Measurement, Status, Verdict};
use observe::{Actor, Event, Observation};
use sip::message::Method;
use sip::sdp::{Direction, SessionDescription};
use std::collections::BTreeMap;

/// What a recorder is held to that the RFCs leave to the implementation.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecorderRules {
    /// Longest time from an RS INVITE to its final response (SRS-13; checklist default
    /// 2 s).
    pub answer_time_ms: u64,
    /// Least share of the frames the SRC sent on a stream that the recorder's recording
    /// of it must hold (SRS-12).
    pub min_recorded_share: f64,
    /// Sessions the recorder says it takes at once (SRS-14): of sessions opened at once,
    /// at least this many must be taken. `None`: not stated, only the way each is
    /// answered is judged.
    #[serde(default)]
    pub capacity: Option<u32>,
    /// The recorder's own account of what it recorded is in the log (the embedded
    /// recorder, or an external one whose recordings are read): then a recorder that
    /// takes sessions and records no party audio fails the precondition of every claim.
    #[serde(default)]
    pub recordings_available: bool,
}

impl Default for RecorderRules {
    fn default() -> Self {
        Self {
            answer_time_ms: 2000,
            min_recorded_share: 0.9,
            capacity: None,
            recordings_available: false,
        }
    }
}

/// Check id of the recorder call's precondition (RP-CALL): the recorder took a valid
/// recording session at all. Without one, nothing else about it can be judged.
pub const SESSION_TAKEN: &str = "precondition.recorder_took_session";
/// Check id: `+sip.srs` in the Contact.
pub const CONTACT: &str = "srs.contact";
/// Check id: the SDP answer to each offered stream.
pub const ANSWER: &str = "srs.answer";
/// Check id: no RTP from the recorder.
pub const NO_RTP: &str = "srs.no_rtp";
/// Check id: time to the final response.
pub const ANSWER_TIME: &str = "srs.answer_time";
/// Check id: both dialects taken.
pub const DIALECTS: &str = "srs.accepts_dialects";
/// Check id: both metadata media type names taken.
pub const MEDIA_TYPES: &str = "srs.accepts_media_types";
/// Check id: part order, header spacing and line ends.
pub const BODY_STYLES: &str = "srs.accepts_body_styles";
/// Check id: a plain INVITE refused.
pub const REFUSES_PLAIN: &str = "srs.refuses_plain_invite";
/// Check id: bad input answered with the right error, never silence.
pub const BAD_INPUT: &str = "srs.bad_input";
/// Check id: each party's audio in its own recording, attributed to it.
pub const STREAMS_APART: &str = "srs.streams_apart";
/// Check id: a recorder that stops on its own ends the session with BYE.
pub const STOP: &str = "srs.stop";
/// Check id: sessions at once taken or refused with 503, promptly.
pub const LOAD: &str = "srs.load";
/// Check id: the recorder's snapshot requests are well formed.
pub const SNAPSHOT_REQUEST: &str = "srs.snapshot_request";
/// Check id: a session requiring an unknown option tag refused with 420.
pub const UNKNOWN_EXTENSION: &str = "srs.unknown_extension";
/// Check id: metadata in UPDATE and re-INVITE taken with 2xx.
pub const METADATA_UPDATES: &str = "srs.metadata_updates";
/// Check id: a pause offered inactive answered inactive, a resume answered recvonly.
pub const PAUSE_ANSWER: &str = "srs.pause_answer";

/// Every recorder check, in the order [`judge_recorder`] emits them.
pub const RECORDER_CATALOGUE: &[CheckInfo] = &[
    CheckInfo {
        id: SESSION_TAKEN,
        requirement: crate::preconditions::RP_CALL,
        judges: "the recorder answered at least one valid recording session 2xx and, where its recordings can be read, recorded party audio (the precondition of every recorder claim)",
    },
    CheckInfo {
        id: crate::preconditions::HARNESS_INTACT,
        requirement: crate::preconditions::RP_CALL,
        judges: "in a real-time run, the kernel dropped no datagram in the harness's own receive buffers (loss that would otherwise be blamed on the recorder)",
    },
    CheckInfo {
        id: CONTACT,
        requirement: "SRS-02",
        judges: "the Contact of every 2xx the recorder sent to an RS INVITE carries +sip.srs",
    },
    CheckInfo {
        id: ANSWER,
        requirement: "SRS-03",
        judges: "every 2xx answers each offered m-line in order: recvonly (or declined with port 0), the offered label, only codecs that m-line offered",
    },
    CheckInfo {
        id: NO_RTP,
        requirement: "SRS-03",
        judges: "no RTP arrived from the recorder at the SRC's media ports while the SRC sent audio",
    },
    CheckInfo {
        id: ANSWER_TIME,
        requirement: "SRS-13",
        judges: "every RS INVITE got a final response within the answer time (2 s by default)",
    },
    CheckInfo {
        id: DIALECTS,
        requirement: "SRS-01",
        judges: "a valid session in the RFC dialect and one in the BroadWorks dialect (no Require: siprec, ;src) were each answered 2xx",
    },
    CheckInfo {
        id: MEDIA_TYPES,
        requirement: "SRS-09",
        judges: "a valid session with application/rs-metadata+xml and one with application/rs-metadata were each answered 2xx",
    },
    CheckInfo {
        id: BODY_STYLES,
        requirement: "SRS-10",
        judges: "for each part order, header spacing and line end sent, a valid session written that way was answered 2xx",
    },
    CheckInfo {
        id: REFUSES_PLAIN,
        requirement: "SRS-04",
        judges: "an INVITE with SDP only (no SIPREC metadata or marker) got a final non-2xx response",
    },
    CheckInfo {
        id: BAD_INPUT,
        requirement: "SRS-08",
        judges: "malformed metadata got 400, a dangling reference and an entity-expansion document a 4xx, an unsupported body 415 with Accept, an oversized one a final response; never silence, and valid sessions after them were still taken",
    },
    CheckInfo {
        id: STOP,
        requirement: "SRS-11",
        judges: "a recorder that stopped recording before the session ended (by its own account: more than 2 s, or a tenth of the session, missing at the end) ended the session with BYE; not exercised when it never stopped on its own",
    },
    CheckInfo {
        id: LOAD,
        requirement: "SRS-14",
        judges: "of sessions opened at once, each was answered 2xx or 503 within the answer time (never silence, never another code), and at least the stated capacity were taken",
    },
    CheckInfo {
        id: SNAPSHOT_REQUEST,
        requirement: "SRS-07",
        judges: "every snapshot request the recorder sent carries Content-Disposition: recording-session and a well-formed <requestsnapshot> (MD-15); not exercised when it asked for none",
    },
    CheckInfo {
        id: PAUSE_ANSWER,
        requirement: "SRS-03",
        judges: "a re-INVITE pausing the streams with a=inactive is answered inactive on every stream (RFC 3264 §6.1: a recorder answering recvonly keeps recording open through the pause), and the resume (sendonly again) recvonly; not exercised when no pause was offered inactive",
    },
    CheckInfo {
        id: UNKNOWN_EXTENSION,
        requirement: "SRS-05",
        judges: "a session whose Require names an option tag the recorder cannot support (beside siprec) is refused with 420 and that tag in Unsupported (RFC 3261 §8.2.2.3)",
    },
    CheckInfo {
        id: METADATA_UPDATES,
        requirement: "SRS-06",
        judges: "every metadata update the SRC sent in the session (partial and complete in UPDATE, complete in a re-INVITE with SDP) was answered 2xx; whether partial updates were applied to the recorder's stored state needs its metadata export and is not judged here",
    },
    CheckInfo {
        id: STREAMS_APART,
        requirement: "SRS-12",
        judges: "the recorder's recording of each stream holds the party the SRC sent on it (at least 90 % of its frames) and no other party",
    },
];

/// One recording session the harness SRC opened, as its log shows it.
#[derive(Debug, Clone)]
pub struct RsAttempt {
    /// Call-ID of the INVITE.
    pub rs_call_id: String,
    /// The case ([`Event::RsCase`]).
    pub case: String,
    /// Dialect it was written in.
    pub dialect: String,
    /// Body style.
    pub style: String,
    /// Labels offered, per m-line.
    pub labels: Vec<String>,
    /// Codecs offered, per m-line.
    pub codecs: Vec<Vec<String>>,
    /// When the INVITE was first sent, µs.
    pub invite_us: Option<u64>,
    /// The final response, if any: (status, µs, message).
    pub final_response: Option<(u16, u64, SipSeen)>,
    /// When the SRC gave up or ended the session (its `CallEnded`), µs.
    pub ended_us: Option<u64>,
    /// When the SRC sent CANCEL, having waited in vain for a final response, µs.
    pub cancelled_us: Option<u64>,
}

impl RsAttempt {
    fn answered_2xx(&self) -> bool {
        self.final_response
            .as_ref()
            .is_some_and(|(c, _, _)| (200..300).contains(c))
    }

    fn code_text(&self) -> String {
        match &self.final_response {
            Some((c, _, _)) => c.to_string(),
            None => "no final response".to_owned(),
        }
    }

    fn evidence(&self) -> Evidence {
        let t = self
            .final_response
            .as_ref()
            .map(|(_, t, _)| *t)
            .or(self.invite_us)
            .unwrap_or_default();
        Evidence::at(
            t,
            "src",
            format!(
                "{} session {} ({} {}): {}",
                self.case,
                self.rs_call_id,
                self.dialect,
                self.style,
                self.code_text()
            ),
        )
    }
}

/// The sessions the harness SRC opened in this call, in the order it opened them.
pub fn attempts(view: &CallView<'_>) -> Vec<RsAttempt> {
    let mut out: Vec<RsAttempt> = Vec::new();
    let mut ends: Vec<u64> = Vec::new();
    for o in &view.obs {
        if o.actor != Actor::Src {
            continue;
        }
        match &o.event {
            Event::RsCase {
                rs_call_id,
                case,
                dialect,
                style,
                labels,
                codecs,
            } => out.push(RsAttempt {
                rs_call_id: rs_call_id.clone(),
                case: case.clone(),
                dialect: dialect.clone(),
                style: style.clone(),
                labels: labels.clone(),
                codecs: codecs.clone(),
                invite_us: None,
                final_response: None,
                ended_us: None,
                cancelled_us: None,
            }),
            Event::CallEnded { .. } => ends.push(o.t_us),
            _ => {}
        }
    }
    let by_id: BTreeMap<String, usize> = out
        .iter()
        .enumerate()
        .map(|(i, a)| (a.rs_call_id.clone(), i))
        .collect();
    for s in view.sip().into_iter().filter(|s| s.actor == Actor::Src) {
        let Some(&i) = s.msg.call_id().ok().and_then(|id| by_id.get(id)) else {
            continue;
        };
        let Some(a) = out.get_mut(i) else { continue };
        if s.sent && s.is_request(&Method::Invite) && a.invite_us.is_none() {
            a.invite_us = Some(s.t_us);
        }
        if s.sent && s.is_request(&Method::Cancel) && a.cancelled_us.is_none() {
            a.cancelled_us = Some(s.t_us);
        }
        if !s.sent
            && s.cseq_method() == Some(Method::Invite)
            && s.msg.status().is_some_and(|c| c >= 200)
            && a.final_response.is_none()
            && s.msg.cseq().is_ok_and(|c| c.seq == 1)
        {
            let code = s.msg.status().unwrap_or_default();
            a.final_response = Some((code, s.t_us, s));
        }
    }
    // A 487 after the SRC's own CANCEL answers the CANCEL, not the session: the
    // recorder gave no final response of its own.
    for a in &mut out {
        if let (Some((487, t, _)), Some(c)) = (&a.final_response, a.cancelled_us)
            && c <= *t
        {
            a.final_response = None;
        }
    }
    // Each session's end is the first SRC CallEnded after its INVITE.
    for a in &mut out {
        if let Some(t) = a.invite_us {
            a.ended_us = ends.iter().copied().find(|e| *e >= t);
        }
    }
    out
}

/// What the sessions of `call` were and how the recorder answered them, for the run's
/// record.
pub fn session_records(log: &[Observation], call: &str) -> Vec<crate::results::RsSessionRecord> {
    let view = CallView::new(log, call);
    attempts(&view)
        .into_iter()
        .map(|a| crate::results::RsSessionRecord {
            final_code: a.final_response.as_ref().map(|(c, _, _)| *c),
            answer_ms: match (&a.final_response, a.invite_us) {
                (Some((_, t, _)), Some(t0)) => Some(t.saturating_sub(t0) as f64 / 1000.0),
                _ => None,
            },
            case: a.case,
            dialect: a.dialect,
            style: a.style,
        })
        .collect()
}

/// Runs every recorder check on `call`.
pub fn judge_recorder(log: &[Observation], call: &str, rules: &RecorderRules) -> Vec<Verdict> {
    let view = CallView::new(log, call);
    let att = attempts(&view);
    vec![
        session_taken(&view, &att, rules),
        crate::preconditions::harness_intact(&view),
        contact(&view, &att),
        answer(&view, &att),
        no_rtp(&view, &att),
        answer_time(&view, &att, rules),
        accepts_dialects(&view, &att),
        accepts_media_types(&view, &att),
        accepts_body_styles(&view, &att),
        refuses_plain(&view, &att),
        bad_input(&view, &att),
        snapshot_request(&view, &att),
        stop(&view, &att),
        load(&view, &att, rules),
        pause_answer(&view),
        unknown_extension(&view, &att),
        metadata_updates(&view),
        streams_apart(&view, &att, rules),
    ]
}

fn na(view: &CallView<'_>, req: &str, check: &str, why: impl Into<String>) -> Verdict {
    Verdict::new(req, check, &view.call, Status::NotApplicable, why)
}

/// RP-CALL: the recorder took a valid session at all.
pub fn session_taken(view: &CallView<'_>, att: &[RsAttempt], rules: &RecorderRules) -> Verdict {
    let valid: Vec<&RsAttempt> = att.iter().filter(|a| a.case == "valid").collect();
    let rp = crate::preconditions::RP_CALL;
    if valid.is_empty() {
        return na(
            view,
            rp,
            SESSION_TAKEN,
            "The SRC sent no valid recording session.",
        );
    }
    let taken = valid.iter().filter(|a| a.answered_2xx()).count();
    let ev: Vec<Evidence> = valid.iter().map(|a| a.evidence()).collect();
    let recorded_any = view.obs.iter().any(|o| {
        o.actor == Actor::Srs
            && matches!(&o.event, Event::PartyFrames { frames, .. } if *frames > 0)
    });
    if taken > 0 && rules.recordings_available && !recorded_any {
        return Verdict::new(
            rp,
            SESSION_TAKEN,
            &view.call,
            Status::Fail,
            format!(
                "The recorder took {taken} of the {} valid recording sessions sent, but its recordings hold no party audio.",
                valid.len()
            ),
        )
        .with_evidence(ev);
    }
    if taken > 0 {
        Verdict::new(
            rp,
            SESSION_TAKEN,
            &view.call,
            Status::Pass,
            format!(
                "The recorder took {taken} of the {} valid recording sessions sent.",
                valid.len()
            ),
        )
        .with_evidence(ev)
    } else {
        let codes: Vec<String> = valid.iter().map(|a| a.code_text()).collect();
        Verdict::new(
            rp,
            SESSION_TAKEN,
            &view.call,
            Status::Fail,
            format!(
                "The recorder took none of the {} valid recording sessions sent (answers: {}).",
                valid.len(),
                codes.join(", ")
            ),
        )
        .with_evidence(ev)
    }
}

/// SRS-02: `+sip.srs` in the Contact of each 2xx.
pub fn contact(view: &CallView<'_>, att: &[RsAttempt]) -> Verdict {
    let answered: Vec<&RsAttempt> = att.iter().filter(|a| a.answered_2xx()).collect();
    if answered.is_empty() {
        return na(
            view,
            "SRS-02",
            CONTACT,
            "The recorder answered no recording session 2xx, so no Contact could be checked.",
        );
    }
    let missing: Vec<(&RsAttempt, String)> = answered
        .iter()
        .filter_map(|a| {
            let (_, _, msg) = a.final_response.as_ref()?;
            let contact = msg
                .msg
                .header_value("Contact")
                .unwrap_or_default()
                .to_owned();
            (!has_srs_tag(&contact)).then_some((*a, contact))
        })
        .collect();
    if missing.is_empty() {
        Verdict::new(
            "SRS-02",
            CONTACT,
            &view.call,
            Status::Pass,
            format!(
                "The Contact of all {} 2xx answers to recording sessions carries +sip.srs.",
                answered.len()
            ),
        )
        .with_evidence(answered.iter().map(|a| a.evidence()))
    } else {
        let list: Vec<String> = missing
            .iter()
            .map(|(a, c)| {
                format!(
                    "{} ({})",
                    a.case,
                    if c.is_empty() { "no Contact" } else { c }
                )
            })
            .collect();
        Verdict::new(
            "SRS-02",
            CONTACT,
            &view.call,
            Status::Fail,
            format!(
                "{} of {} 2xx answers to recording sessions have no +sip.srs in their Contact: {}.",
                missing.len(),
                answered.len(),
                list.join("; ")
            ),
        )
        .with_evidence(missing.iter().map(|(a, _)| a.evidence()))
    }
}

/// True when a Contact value carries the `+sip.srs` feature tag (a header parameter,
/// RFC 3840), in any case.
fn has_srs_tag(contact: &str) -> bool {
    let after_uri = contact.rsplit_once('>').map_or(contact, |(_, p)| p);
    after_uri.split(';').any(|p| {
        p.trim()
            .split('=')
            .next()
            .is_some_and(|n| n.eq_ignore_ascii_case("+sip.srs"))
    })
}

/// SRS-03: each 2xx's SDP answers the offer stream by stream.
pub fn answer(view: &CallView<'_>, att: &[RsAttempt]) -> Verdict {
    let answered: Vec<&RsAttempt> = att.iter().filter(|a| a.answered_2xx()).collect();
    if answered.is_empty() {
        return na(
            view,
            "SRS-03",
            ANSWER,
            "The recorder answered no recording session 2xx, so no SDP answer could be checked.",
        );
    }
    let mut problems: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let mut evidence = Vec::new();
    for a in &answered {
        let Some((_, t, msg)) = a.final_response.as_ref() else {
            continue;
        };
        let Some(sdp) = sdp_of(msg) else {
            problems.push(format!(
                "{}: the 2xx carries no readable SDP answer",
                a.case
            ));
            evidence.push(a.evidence());
            continue;
        };
        let media = sdp.media();
        let before = problems.len() + warnings.len();
        if media.len() != a.labels.len() {
            problems.push(format!(
                "{}: {} m-line(s) answered for {} offered",
                a.case,
                media.len(),
                a.labels.len()
            ));
        }
        for (i, offered_label) in a.labels.iter().enumerate() {
            let Some(m) = media.iter().find(|m| m.index == i) else {
                continue;
            };
            let stream = format!("m-line {i} (offered label {offered_label})");
            if m.is_declined() {
                warnings.push(format!("{}: {stream} declined with port 0", a.case));
                continue;
            }
            if m.direction != Direction::RecvOnly {
                problems.push(format!(
                    "{}: {stream} answered {} instead of recvonly",
                    a.case,
                    m.direction.as_str()
                ));
            }
            match &m.label {
                None => warnings.push(format!("{}: {stream} answered without a label", a.case)),
                Some(l) if l != offered_label => {
                    problems.push(format!("{}: {stream} answered with label {l}", a.case))
                }
                Some(_) => {}
            }
            let offered_pts: Vec<String> = a
                .codecs
                .get(i)
                .map(|cs| cs.iter().filter_map(|c| payload_type_of(c)).collect())
                .unwrap_or_default();
            let foreign: Vec<&String> = m
                .formats
                .iter()
                .filter(|f| !offered_pts.contains(f))
                .collect();
            if !offered_pts.is_empty() && !foreign.is_empty() {
                problems.push(format!(
                    "{}: {stream} answered payload type(s) {} it did not offer (offered {})",
                    a.case,
                    foreign
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    offered_pts.join(", ")
                ));
            }
        }
        if problems.len() + warnings.len() > before {
            evidence.push(Evidence::at(
                *t,
                "src",
                format!("SDP answer to {}: {}", a.rs_call_id, sdp_text(msg)),
            ));
        }
    }
    let (status, summary) = if !problems.is_empty() {
        (
            Status::Fail,
            format!(
                "The recorder's SDP answers do not answer the offer stream by stream: {}.",
                problems.join("; ")
            ),
        )
    } else if !warnings.is_empty() {
        (
            Status::Warn,
            format!(
                "The recorder's SDP answers are recvonly with the offered codecs, but: {}.",
                warnings.join("; ")
            ),
        )
    } else {
        (
            Status::Pass,
            format!(
                "All {} SDP answers have one m-line per offered m-line, each recvonly with the offered label and only codecs it offered.",
                answered.len()
            ),
        )
    };
    Verdict::new("SRS-03", ANSWER, &view.call, status, summary).with_evidence(evidence)
}

/// The final response the SRC received to its request `id`/`cseq` sent at `sent_us`.
fn final_response_to<'s>(
    sip: &'s [SipSeen],
    sent_us: u64,
    id: &str,
    cseq: &sip::message::CSeq,
) -> Option<&'s SipSeen> {
    sip.iter().find(|r| {
        !r.sent
            && r.actor == Actor::Src
            && r.t_us >= sent_us
            && r.msg.status().is_some_and(|c| c >= 200)
            && r.msg.call_id().is_ok_and(|i| i == id)
            && r.msg
                .cseq()
                .is_ok_and(|c| c.seq == cseq.seq && c.method == cseq.method)
    })
}

fn sdp_of(seen: &SipSeen) -> Option<SessionDescription> {
    let msg = &seen.msg;
    let ct = msg.content_type()?;
    let mt = sip::multipart::media_type_of(ct);
    if mt == sip::multipart::SDP {
        return SessionDescription::parse(msg.body()).ok();
    }
    if mt.starts_with("multipart/") {
        let parsed = sip::multipart::parse(ct, msg.body()).ok()?;
        return SessionDescription::parse(&parsed.sdp()?.body).ok();
    }
    None
}

fn sdp_text(seen: &SipSeen) -> String {
    String::from_utf8_lossy(seen.msg.body())
        .lines()
        .filter(|l| {
            l.starts_with("m=")
                || l.starts_with("a=label")
                || l.starts_with("a=send")
                || l.starts_with("a=recv")
                || l.starts_with("a=inactive")
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

fn payload_type_of(codec: &str) -> Option<String> {
    match codec {
        "PCMU" => Some("0".to_owned()),
        "PCMA" => Some("8".to_owned()),
        _ => codec.strip_prefix("telephone-event/").map(str::to_owned),
    }
}

/// SRS-03: the recorder sends no RTP.
pub fn no_rtp(view: &CallView<'_>, att: &[RsAttempt]) -> Verdict {
    let sent_audio = view.obs.iter().any(|o| {
        o.actor == Actor::Src
            && matches!(
                &o.event,
                Event::RtpStream {
                    direction: observe::Direction::Sent,
                    ..
                }
            )
    });
    if !att.iter().any(RsAttempt::answered_2xx) || !sent_audio {
        return na(
            view,
            "SRS-03",
            NO_RTP,
            "No recording session was answered with media flowing, so whether the recorder sends RTP was not observed.",
        );
    }
    let from_recorder: Vec<&Observation> = view
        .obs
        .iter()
        .copied()
        .filter(|o| {
            o.actor == Actor::Src
                && matches!(
                    &o.event,
                    Event::RtpStream {
                        direction: observe::Direction::Received,
                        ..
                    }
                )
        })
        .collect();
    if from_recorder.is_empty() {
        Verdict::new(
            "SRS-03",
            NO_RTP,
            &view.call,
            Status::Pass,
            "No RTP arrived from the recorder at the SRC's media ports while the SRC sent the parties' audio.",
        )
    } else {
        let ev: Vec<Evidence> = from_recorder
            .iter()
            .filter_map(|o| match &o.event {
                Event::RtpStream {
                    stream,
                    remote,
                    ssrc,
                    ..
                } => Some(Evidence::stream(
                    o.t_us,
                    "src",
                    stream,
                    format!("RTP from {remote}, SSRC {ssrc:#010x}"),
                )),
                _ => None,
            })
            .collect();
        Verdict::new(
            "SRS-03",
            NO_RTP,
            &view.call,
            Status::Fail,
            format!(
                "The recorder sent RTP to the SRC: {} stream(s) arrived at the SRC's media ports.",
                ev.len()
            ),
        )
        .with_evidence(ev)
    }
}

/// SRS-13: a final response to every RS INVITE within the answer time.
pub fn answer_time(view: &CallView<'_>, att: &[RsAttempt], rules: &RecorderRules) -> Verdict {
    let sent: Vec<&RsAttempt> = att.iter().filter(|a| a.invite_us.is_some()).collect();
    if sent.is_empty() {
        return na(
            view,
            "SRS-13",
            ANSWER_TIME,
            "The SRC sent no recording session INVITE.",
        );
    }
    let limit_us = rules.answer_time_ms * 1000;
    let mut slow = Vec::new();
    let mut silent = Vec::new();
    let mut worst = 0u64;
    for a in &sent {
        let t0 = a.invite_us.unwrap_or_default();
        match &a.final_response {
            Some((_, t, _)) => {
                let d = t.saturating_sub(t0);
                worst = worst.max(d);
                if d > limit_us {
                    slow.push(format!(
                        "{} {} after {:.2} s",
                        a.case,
                        a.code_text(),
                        d as f64 / 1e6
                    ));
                }
            }
            None => {
                let waited = a
                    .cancelled_us
                    .or(a.ended_us)
                    .map(|e| e.saturating_sub(t0))
                    .unwrap_or_default();
                silent.push(format!(
                    "{} (no final response; the SRC waited {:.1} s{})",
                    a.case,
                    waited as f64 / 1e6,
                    if a.cancelled_us.is_some() {
                        " and cancelled"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    let m = Measurement::new("slowest final response", worst as f64 / 1000.0, "ms");
    let ev: Vec<Evidence> = sent.iter().map(|a| a.evidence()).collect();
    if silent.is_empty() && slow.is_empty() {
        Verdict::new(
            "SRS-13",
            ANSWER_TIME,
            &view.call,
            Status::Pass,
            format!(
                "All {} recording session INVITEs got a final response within {} ms (slowest {:.0} ms).",
                sent.len(),
                rules.answer_time_ms,
                worst as f64 / 1000.0
            ),
        )
        .with_measurements([m])
        .with_evidence(ev)
    } else {
        let mut parts = Vec::new();
        if !silent.is_empty() {
            parts.push(format!("never answered finally: {}", silent.join(", ")));
        }
        if !slow.is_empty() {
            parts.push(format!(
                "answered later than {} ms: {}",
                rules.answer_time_ms,
                slow.join(", ")
            ));
        }
        Verdict::new(
            "SRS-13",
            ANSWER_TIME,
            &view.call,
            Status::Fail,
            format!(
                "Of {} recording session INVITEs, {}.",
                sent.len(),
                parts.join("; ")
            ),
        )
        .with_measurements([m])
        .with_evidence(ev)
    }
}

/// Judges one way of writing a session (`dim`: the dialect, the metadata media type, the
/// body style) by comparison: valid sessions that agree in everything else (`rest`) but
/// differ in `dim` are set side by side. The recorder takes a value when at least one
/// session with it was answered 2xx. FAIL when, among sessions alike in everything else,
/// one value was taken and another not: that difference is this check's alone (a session
/// refused for its dialect is the dialect's failure, not its media type's). NOT
/// APPLICABLE when no two values were sent alike otherwise, or when the recorder took
/// none of them (the cause lies elsewhere).
fn accepts_by(
    view: &CallView<'_>,
    att: &[RsAttempt],
    req: &str,
    check: &str,
    what: &str,
    dim: impl Fn(&RsAttempt) -> String,
    rest: impl Fn(&RsAttempt) -> String,
) -> Verdict {
    let valid: Vec<&RsAttempt> = att.iter().filter(|a| a.case == "valid").collect();
    // rest -> dim value -> sessions
    let mut alike: BTreeMap<String, BTreeMap<String, Vec<&RsAttempt>>> = BTreeMap::new();
    for a in &valid {
        alike
            .entry(rest(a))
            .or_default()
            .entry(dim(a))
            .or_default()
            .push(a);
    }
    let compared: Vec<(&String, &BTreeMap<String, Vec<&RsAttempt>>)> = alike
        .iter()
        .filter(|(_, values)| values.len() >= 2)
        .collect();
    let mut values: Vec<&String> = compared.iter().flat_map(|(_, v)| v.keys()).collect();
    values.sort();
    values.dedup();
    if compared.is_empty() {
        return na(
            view,
            req,
            check,
            format!(
                "No two valid sessions were sent that differ only in their {what}, so whether the recorder takes each {what} was not tested."
            ),
        );
    }
    let taken = |g: &Vec<&RsAttempt>| g.iter().any(|a| a.answered_2xx());
    let mut refused: Vec<String> = Vec::new();
    let mut judged = false;
    for (others, vals) in &compared {
        if !vals.values().any(taken) {
            continue;
        }
        judged = true;
        for (v, g) in vals.iter() {
            if !taken(g) {
                let codes: Vec<String> = g.iter().map(|a| a.code_text()).collect();
                refused.push(format!(
                    "{v} (answered {}) while the same session in another {what} was taken ({others})",
                    codes.join(", ")
                ));
            }
        }
    }
    let ev: Vec<Evidence> = valid.iter().map(|a| a.evidence()).collect();
    if !judged {
        return na(
            view,
            req,
            check,
            format!(
                "The recorder took no valid session in any {what} it was sent, so the {what} is not what it refused."
            ),
        )
        .with_evidence(ev);
    }
    let list: Vec<&str> = values.iter().map(|v| v.as_str()).collect();
    if refused.is_empty() {
        Verdict::new(
            req,
            check,
            &view.call,
            Status::Pass,
            format!(
                "Valid sessions differing only in their {what} were taken in each of {} {what}s ({}).",
                list.len(),
                list.join("; ")
            ),
        )
        .with_evidence(ev)
    } else {
        Verdict::new(
            req,
            check,
            &view.call,
            Status::Fail,
            format!(
                "The recorder refused a {what} it was sent: {}.",
                refused.join("; ")
            ),
        )
        .with_evidence(ev)
    }
}

/// The body style of a session without its media type (`sdp-first crlf space`).
fn style_only(a: &RsAttempt) -> String {
    a.style
        .rsplit_once(' ')
        .map_or_else(String::new, |(style, _)| style.to_owned())
}

/// The metadata media type of a session.
fn media_type(a: &RsAttempt) -> String {
    a.style.rsplit(' ').next().unwrap_or_default().to_owned()
}

/// SRS-01: valid sessions of both dialects are taken (a recorder Webex sends to must
/// take the BroadWorks dialect, which has no `Require: siprec`). A dialect includes its
/// usual body style, so sessions are compared at equal media type only.
pub fn accepts_dialects(view: &CallView<'_>, att: &[RsAttempt]) -> Verdict {
    accepts_by(
        view,
        att,
        "SRS-01",
        DIALECTS,
        "dialect",
        |a| a.dialect.clone(),
        media_type,
    )
}

/// SRS-09: both metadata media type names are taken.
pub fn accepts_media_types(view: &CallView<'_>, att: &[RsAttempt]) -> Verdict {
    accepts_by(
        view,
        att,
        "SRS-09",
        MEDIA_TYPES,
        "metadata media type",
        media_type,
        |a| format!("{} {}", a.dialect, style_only(a)),
    )
}

/// SRS-10: any part order, header spacing and line end is taken.
pub fn accepts_body_styles(view: &CallView<'_>, att: &[RsAttempt]) -> Verdict {
    accepts_by(
        view,
        att,
        "SRS-10",
        BODY_STYLES,
        "body style",
        style_only,
        |a| format!("{} {}", a.dialect, media_type(a)),
    )
}

/// SRS-04: an INVITE that is no recording session is refused.
pub fn refuses_plain(view: &CallView<'_>, att: &[RsAttempt]) -> Verdict {
    let plain: Vec<&RsAttempt> = att.iter().filter(|a| a.case == "plain-invite").collect();
    if plain.is_empty() {
        return na(
            view,
            "SRS-04",
            REFUSES_PLAIN,
            "The SRC sent no plain INVITE.",
        );
    }
    let bad: Vec<&&RsAttempt> = plain
        .iter()
        .filter(|a| a.final_response.as_ref().is_none_or(|(c, _, _)| *c < 300))
        .collect();
    let ev: Vec<Evidence> = plain.iter().map(|a| a.evidence()).collect();
    if bad.is_empty() {
        let codes: Vec<String> = plain.iter().map(|a| a.code_text()).collect();
        Verdict::new(
            "SRS-04",
            REFUSES_PLAIN,
            &view.call,
            Status::Pass,
            format!(
                "The recorder refused the INVITE with SDP only (no SIPREC metadata or marker) with {}.",
                codes.join(", ")
            ),
        )
        .with_evidence(ev)
    } else {
        let what: Vec<String> = bad.iter().map(|a| a.code_text()).collect();
        Verdict::new(
            "SRS-04",
            REFUSES_PLAIN,
            &view.call,
            Status::Fail,
            format!(
                "The recorder did not refuse an INVITE with SDP only (no SIPREC metadata or marker): {}.",
                what.join(", ")
            ),
        )
        .with_evidence(ev)
    }
}

/// SRS-08: bad input gets the right error, never silence, and the recorder still takes
/// valid sessions afterwards.
pub fn bad_input(view: &CallView<'_>, att: &[RsAttempt]) -> Verdict {
    const CASES: [&str; 5] = [
        "malformed-xml",
        "dangling-reference",
        "unsupported-body",
        "oversized",
        "entity-expansion",
    ];
    let bad: Vec<(usize, &RsAttempt)> = att
        .iter()
        .enumerate()
        .filter(|(_, a)| CASES.contains(&a.case.as_str()))
        .collect();
    if bad.is_empty() {
        return na(
            view,
            "SRS-08",
            BAD_INPUT,
            "The SRC sent no malformed, unsupported or oversized session.",
        );
    }
    let mut fails = Vec::new();
    let mut warns = Vec::new();
    let mut fine = Vec::new();
    for (i, a) in &bad {
        let code = a.final_response.as_ref().map(|(c, _, _)| *c);
        let accept = a
            .final_response
            .as_ref()
            .and_then(|(_, _, m)| m.msg.header_value("Accept").map(str::to_owned));
        let line = format!("{} answered {}", a.case, a.code_text());
        match (a.case.as_str(), code) {
            (_, None) => fails.push(format!(
                "{} got no final response{}",
                a.case,
                if a.cancelled_us.is_some() {
                    " (the SRC gave up and cancelled it)"
                } else {
                    ""
                }
            )),
            ("malformed-xml", Some(400)) => fine.push(line),
            ("malformed-xml", Some(c)) if c >= 400 => warns.push(format!("{line} (400 expected)")),
            ("malformed-xml", Some(_)) => fails.push(format!(
                "{line}: it took metadata that is not well-formed XML"
            )),
            ("dangling-reference" | "entity-expansion", Some(c)) if (400..500).contains(&c) => {
                fine.push(line)
            }
            ("entity-expansion", Some(c)) if c < 300 => fails.push(format!(
                "{line}: it took a document built to expand to about 10^9 characters"
            )),
            ("entity-expansion", Some(_)) => warns.push(format!(
                "{line} (a 4xx expected for an entity-expansion document)"
            )),
            ("dangling-reference", Some(_)) => warns.push(format!(
                "{line} (a 4xx expected for metadata whose references dangle)"
            )),
            ("unsupported-body", Some(415)) if accept.is_some() => fine.push(line),
            ("unsupported-body", Some(415)) => {
                warns.push(format!("{line} without an Accept header"))
            }
            ("unsupported-body", Some(c)) if c >= 400 => {
                warns.push(format!("{line} (415 with Accept expected)"))
            }
            ("unsupported-body", Some(_)) => fails.push(format!(
                "{line}: it took a body it cannot read as a recording session"
            )),
            (_, Some(_)) => fine.push(line),
        }
        // The next valid session after it must still be taken.
        if let Some(next) = att.iter().skip(i + 1).find(|n| n.case == "valid")
            && !next.answered_2xx()
        {
            fails.push(format!(
                "after the {} session the next valid session was answered {}",
                a.case,
                next.code_text()
            ));
        }
    }
    let ev: Vec<Evidence> = bad.iter().map(|(_, a)| a.evidence()).collect();
    let (status, summary) = if !fails.is_empty() {
        (
            Status::Fail,
            format!("Bad input was not handled: {}.", fails.join("; ")),
        )
    } else if !warns.is_empty() {
        (
            Status::Warn,
            format!(
                "Every bad session got a final response, but: {}.",
                warns.join("; ")
            ),
        )
    } else {
        (
            Status::Pass,
            format!(
                "Every bad session got the expected error ({}), and valid sessions after them were taken.",
                fine.join(", ")
            ),
        )
    };
    Verdict::new("SRS-08", BAD_INPUT, &view.call, status, summary).with_evidence(ev)
}

/// SRS-11: a recorder that stops recording on its own ends the session with BYE.
pub fn stop(view: &CallView<'_>, att: &[RsAttempt]) -> Verdict {
    let sip = view.sip();
    let mut byes = Vec::new();
    let mut silent = Vec::new();
    for (i, a) in att.iter().enumerate() {
        let Some((code, answered, _)) = &a.final_response else {
            continue;
        };
        if !(200..300).contains(code) {
            continue;
        }
        let bye = sip.iter().find(|s| {
            s.actor == Actor::Src
                && !s.sent
                && s.is_request(&Method::Bye)
                && s.msg.call_id().ok() == Some(a.rs_call_id.as_str())
        });
        if let Some(b) = bye {
            byes.push((a, b.t_us.saturating_sub(*answered)));
            continue;
        }
        // The recorder's own account of how long it recorded this session.
        let from = a.invite_us.unwrap_or_default();
        let until = att
            .iter()
            .skip(i + 1)
            .filter_map(|n| n.invite_us)
            .find(|t| *t > from)
            .unwrap_or(u64::MAX);
        let recorded_frames = view
            .obs
            .iter()
            .filter(|o| o.actor == Actor::Srs && o.t_us >= from && o.t_us < until)
            .filter_map(|o| match &o.event {
                Event::PartyFrames {
                    first_frame,
                    last_frame,
                    frames,
                    ..
                } if *frames > 0 => Some(last_frame.saturating_sub(*first_frame) + 1),
                _ => None,
            })
            .max();
        let Some(recorded) = recorded_frames else {
            continue;
        };
        let end = a.ended_us.unwrap_or(*answered);
        let active_s =
            end.saturating_sub(*answered) as f64 / 1e6 - paused_time(view, a) as f64 / 1e6;
        let recorded_s = recorded as f64 * 0.02;
        // More than 2 s (or a tenth of the session) missing at the end: stopped.
        if active_s >= 4.0 && active_s - recorded_s > (0.1 * active_s).max(2.0) {
            silent.push(format!(
                "{}: its recording stops after about {recorded_s:.1} s of the {active_s:.1} s the session ran, and it sent no BYE",
                a.rs_call_id
            ));
        }
    }
    if !silent.is_empty() {
        return Verdict::new(
            "SRS-11",
            STOP,
            &view.call,
            Status::Fail,
            format!(
                "The recorder stopped recording on its own without ending the session: {}.",
                silent.join("; ")
            ),
        );
    }
    if byes.is_empty() {
        return na(
            view,
            "SRS-11",
            STOP,
            "The recorder did not stop recording on its own in this run (no BYE from it, and its recordings span their sessions), so SRS-11 was not exercised.",
        );
    }
    let list: Vec<String> = byes
        .iter()
        .map(|(a, after)| format!("{} after {:.1} s", a.rs_call_id, *after as f64 / 1e6))
        .collect();
    Verdict::new(
        "SRS-11",
        STOP,
        &view.call,
        Status::Pass,
        format!(
            "The recorder ended {} session(s) itself with BYE: {}.",
            byes.len(),
            list.join(", ")
        ),
    )
    .with_evidence(byes.iter().map(|(a, _)| a.evidence()))
}

/// SRS-14: sessions opened at once are each taken or refused with 503, promptly, and
/// at least the stated capacity are taken.
pub fn load(view: &CallView<'_>, att: &[RsAttempt], rules: &RecorderRules) -> Verdict {
    let burst: Vec<&RsAttempt> = att.iter().filter(|a| a.case == "load").collect();
    if burst.is_empty() {
        return na(view, "SRS-14", LOAD, "The SRC opened no sessions at once.");
    }
    let limit_us = rules.answer_time_ms * 1000;
    let mut problems = Vec::new();
    let mut taken = 0usize;
    let mut refused = 0usize;
    for a in &burst {
        let waited = |t: u64| t.saturating_sub(a.invite_us.unwrap_or(t));
        match &a.final_response {
            None => problems.push(format!("{} got no final response", a.rs_call_id)),
            Some((c, t, _)) => {
                if (200..300).contains(c) {
                    taken += 1;
                } else if *c == 503 {
                    refused += 1;
                } else {
                    problems.push(format!(
                        "{} was answered {c} (2xx or 503 expected)",
                        a.rs_call_id
                    ));
                }
                if waited(*t) > limit_us {
                    problems.push(format!(
                        "{} was answered {c} after {:.2} s (at most {} ms)",
                        a.rs_call_id,
                        waited(*t) as f64 / 1e6,
                        rules.answer_time_ms
                    ));
                }
            }
        }
    }
    if let Some(cap) = rules.capacity {
        let due = (cap as usize).min(burst.len());
        if taken < due {
            problems.push(format!(
                "it took {taken} of {} sessions at once although it states a capacity of {cap}",
                burst.len()
            ));
        }
    }
    let summary_counts = format!(
        "{} sessions opened at once: {taken} taken, {refused} refused with 503",
        burst.len()
    );
    let ev: Vec<Evidence> = burst.iter().map(|a| a.evidence()).collect();
    let m = [
        Measurement::new("sessions taken at once", taken as f64, "sessions"),
        Measurement::new("sessions refused with 503", refused as f64, "sessions"),
    ];
    if problems.is_empty() {
        Verdict::new(
            "SRS-14",
            LOAD,
            &view.call,
            Status::Pass,
            format!(
                "{summary_counts}, each within {} ms{}. Whether the taken sessions' media was kept whole is judged by SRS-12, not here.",
                rules.answer_time_ms,
                rules
                    .capacity
                    .map_or_else(String::new, |c| format!(", at least the stated capacity of {c} taken"))
            ),
        )
        .with_measurements(m)
        .with_evidence(ev)
    } else {
        Verdict::new(
            "SRS-14",
            LOAD,
            &view.call,
            Status::Fail,
            format!("{summary_counts}; but {}.", problems.join("; ")),
        )
        .with_measurements(m)
        .with_evidence(ev)
    }
}

/// SRS-03 through a pause: every re-INVITE the SRC sent that offers all streams
/// `inactive` is answered `inactive` stream by stream (RFC 3264 §6.1), and every later
/// one offering them `sendonly` again is answered `recvonly`. Pauses offered as
/// `c=0.0.0.0 sendonly` (BroadWorks) may be answered `recvonly`, so they are not judged
/// here.
pub fn pause_answer(view: &CallView<'_>) -> Verdict {
    let sip = view.sip();
    let mut pauses = 0usize;
    let mut fine = Vec::new();
    let mut problems = Vec::new();
    let mut ev = Vec::new();
    let mut paused_calls: Vec<String> = Vec::new();
    for req in sip.iter().filter(|s| {
        s.sent
            && s.actor == Actor::Src
            && s.is_request(&Method::Invite)
            && s.msg.cseq().is_ok_and(|c| c.seq > 1)
    }) {
        let Some(offer) = crate::timeline::sdp_of(&req.msg) else {
            continue;
        };
        let (Ok(id), Ok(cseq)) = (req.msg.call_id(), req.msg.cseq()) else {
            continue;
        };
        let inactive = !offer.is_empty()
            && offer
                .iter()
                .all(|m| m.direction == Direction::Inactive && !m.is_declined());
        let resume = paused_calls.iter().any(|c| c == id)
            && offer
                .iter()
                .all(|m| m.direction == Direction::SendOnly && !m.is_zero_address());
        if !inactive && !resume {
            continue;
        }
        let what = if inactive {
            "pause (a=inactive)"
        } else {
            "resume"
        };
        if inactive {
            pauses += 1;
            paused_calls.push(id.to_owned());
        } else {
            // Only the first sendonly offer after a pause is its resume.
            paused_calls.retain(|c| c != id);
        }
        let want = if inactive {
            Direction::Inactive
        } else {
            Direction::RecvOnly
        };
        let response = final_response_to(&sip, req.t_us, id, &cseq);
        let Some(r) = response else {
            problems.push(format!("the {what} got no final response"));
            ev.push(Evidence::at(
                req.t_us,
                "src",
                format!("{what}: no final response"),
            ));
            continue;
        };
        let code = r.msg.status().unwrap_or_default();
        if !(200..300).contains(&code) {
            problems.push(format!("the {what} was answered {code}"));
            ev.push(Evidence::at(
                r.t_us,
                "src",
                format!("{what}: {}", r.first_line()),
            ));
            continue;
        }
        let Some(answer) = crate::timeline::sdp_of(&r.msg) else {
            problems.push(format!("the {what}'s 2xx carries no SDP answer"));
            ev.push(Evidence::at(
                r.t_us,
                "src",
                format!("{what}: {}", r.first_line()),
            ));
            continue;
        };
        let wrong: Vec<String> = answer
            .iter()
            .filter(|m| !m.is_declined() && m.direction != want)
            .map(|m| format!("m-line {} {}", m.index, m.direction.as_str()))
            .collect();
        if wrong.is_empty() {
            fine.push(format!("{what} answered {}", want.as_str()));
        } else {
            problems.push(format!(
                "the {what} was answered {} instead of {}",
                wrong.join(", "),
                want.as_str()
            ));
            ev.push(Evidence::at(
                r.t_us,
                "src",
                format!("SDP answer to the {what}: {}", sdp_text(r)),
            ));
        }
    }
    if pauses == 0 {
        return na(
            view,
            "SRS-03",
            PAUSE_ANSWER,
            "The SRC offered no pause with a=inactive, so how the recorder answers one was not exercised.",
        );
    }
    if problems.is_empty() {
        Verdict::new(
            "SRS-03",
            PAUSE_ANSWER,
            &view.call,
            Status::Pass,
            format!(
                "The recorder answered the pause as offered: {}.",
                fine.join("; ")
            ),
        )
        .with_evidence(ev)
    } else {
        Verdict::new(
            "SRS-03",
            PAUSE_ANSWER,
            &view.call,
            Status::Fail,
            format!(
                "The recorder did not answer the pause as offered: {}.",
                problems.join("; ")
            ),
        )
        .with_evidence(ev)
    }
}

/// SRS-05: a session requiring an option tag the recorder cannot support is refused
/// with 420, the tag named in `Unsupported`.
pub fn unknown_extension(view: &CallView<'_>, att: &[RsAttempt]) -> Verdict {
    let cases: Vec<&RsAttempt> = att.iter().filter(|a| a.case == "unknown-require").collect();
    if cases.is_empty() {
        return na(
            view,
            "SRS-05",
            UNKNOWN_EXTENSION,
            "The SRC sent no session requiring an unknown option tag.",
        );
    }
    let sip = view.sip();
    let mut fails = Vec::new();
    let mut warns = Vec::new();
    let mut fine = Vec::new();
    for a in &cases {
        // The tags the INVITE required beside siprec, as sent.
        let required: Vec<String> = sip
            .iter()
            .find(|s| {
                s.sent
                    && s.actor == Actor::Src
                    && s.is_request(&Method::Invite)
                    && s.msg.call_id().is_ok_and(|id| id == a.rs_call_id)
            })
            .map(|s| {
                s.msg
                    .header_list("Require")
                    .into_iter()
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.eq_ignore_ascii_case("siprec"))
                    .collect()
            })
            .unwrap_or_default();
        let tags = required.join(", ");
        match &a.final_response {
            None => fails.push(format!(
                "the session requiring {tags} got no final response"
            )),
            Some((c, _, _)) if (200..300).contains(c) => fails.push(format!(
                "the session requiring {tags} was taken with {c}: the recorder accepted an extension it cannot support"
            )),
            Some((420, _, m)) => {
                let unsupported: Vec<String> = m
                    .msg
                    .header_list("Unsupported")
                    .into_iter()
                    .map(|t| t.trim().to_ascii_lowercase())
                    .collect();
                let missing: Vec<&String> = required
                    .iter()
                    .filter(|t| !unsupported.contains(&t.to_ascii_lowercase()))
                    .collect();
                if missing.is_empty() {
                    fine.push(format!("420 with Unsupported: {}", unsupported.join(", ")));
                } else {
                    fails.push(format!(
                        "420 without naming {} in Unsupported (it has: {})",
                        missing
                            .iter()
                            .map(|t| t.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        if unsupported.is_empty() {
                            "no Unsupported header".to_owned()
                        } else {
                            unsupported.join(", ")
                        }
                    ));
                }
            }
            Some((c, _, _)) => warns.push(format!(
                "the session requiring {tags} was refused with {c}, not 420 (Bad Extension)"
            )),
        }
    }
    let ev: Vec<Evidence> = cases.iter().map(|a| a.evidence()).collect();
    let (status, summary) = if !fails.is_empty() {
        (
            Status::Fail,
            format!(
                "The recorder did not refuse an unsupported extension as RFC 3261 §8.2.2.3 says: {}.",
                fails.join("; ")
            ),
        )
    } else if !warns.is_empty() {
        (
            Status::Warn,
            format!("The session was refused, but: {}.", warns.join("; ")),
        )
    } else {
        (
            Status::Pass,
            format!(
                "The recorder refused the session requiring an option tag it does not support with {}.",
                fine.join("; ")
            ),
        )
    };
    Verdict::new("SRS-05", UNKNOWN_EXTENSION, &view.call, status, summary).with_evidence(ev)
}

/// SRS-06: metadata in UPDATE and re-INVITE (partial and complete) is taken with 2xx.
pub fn metadata_updates(view: &CallView<'_>) -> Verdict {
    let sip = view.sip();
    let mut fails = Vec::new();
    let mut fine = Vec::new();
    let mut ev = Vec::new();
    for req in sip.iter().filter(|s| {
        s.sent
            && s.actor == Actor::Src
            && (s.is_request(&Method::Update)
                || (s.is_request(&Method::Invite) && s.msg.cseq().is_ok_and(|c| c.seq > 1)))
    }) {
        let Some(xml) = crate::timeline::metadata_of(&req.msg) else {
            continue;
        };
        let mode = match siprec::metadata::parse(&xml)
            .ok()
            .map(|d| d.recording().map(|r| r.datamode.clone()))
        {
            Some(Some(Some(siprec::metadata::DataMode::Partial))) => "partial",
            Some(Some(_)) => "complete",
            _ => "unreadable",
        };
        let what = format!(
            "{} with {mode} metadata{}",
            req.msg.method().map_or("request", Method::as_str),
            if crate::timeline::sdp_of(&req.msg).is_some() {
                " and SDP"
            } else {
                ""
            }
        );
        let (Ok(id), Ok(cseq)) = (req.msg.call_id(), req.msg.cseq()) else {
            continue;
        };
        let response = final_response_to(&sip, req.t_us, id, &cseq);
        match response.and_then(|r| r.msg.status().map(|c| (c, r))) {
            Some((c, r)) if (200..300).contains(&c) => {
                fine.push(format!("{what}: {c}"));
                ev.push(Evidence::at(
                    r.t_us,
                    "src",
                    format!("{what}: {}", r.first_line()),
                ));
            }
            Some((c, r)) => {
                fails.push(format!("{what}: {c}"));
                ev.push(Evidence::at(
                    r.t_us,
                    "src",
                    format!("{what}: {}", r.first_line()),
                ));
            }
            None => {
                fails.push(format!("{what}: no final response"));
                ev.push(Evidence::at(
                    req.t_us,
                    "src",
                    format!("{what}: no final response"),
                ));
            }
        }
    }
    if fine.is_empty() && fails.is_empty() {
        return na(
            view,
            "SRS-06",
            METADATA_UPDATES,
            "The SRC sent no metadata after the initial INVITE.",
        );
    }
    if fails.is_empty() {
        Verdict::new(
            "SRS-06",
            METADATA_UPDATES,
            &view.call,
            Status::Pass,
            format!(
                "The recorder took every metadata update with 2xx ({}). Whether it applied the partial ones to its stored state was not judged: that needs its metadata export.",
                fine.join("; ")
            ),
        )
        .with_evidence(ev)
    } else {
        Verdict::new(
            "SRS-06",
            METADATA_UPDATES,
            &view.call,
            Status::Fail,
            format!(
                "The recorder did not take every metadata update: {}{}.",
                fails.join("; "),
                if fine.is_empty() {
                    String::new()
                } else {
                    format!(" (taken: {})", fine.join("; "))
                }
            ),
        )
        .with_evidence(ev)
    }
}

/// SRS-07: the snapshot requests the recorder sent are well formed.
pub fn snapshot_request(view: &CallView<'_>, att: &[RsAttempt]) -> Verdict {
    let requests: Vec<(SipSeen, Option<String>, _)> = view
        .sip()
        .into_iter()
        .filter(|s| s.actor == Actor::Src && !s.sent && s.msg.is_request())
        .filter_map(|s| {
            let (disposition, body) = sip::multipart::snapshot_request(&s.msg)?;
            Some((s, disposition, body))
        })
        .collect();
    if requests.is_empty() {
        return na(
            view,
            "SRS-07",
            SNAPSHOT_REQUEST,
            "The recorder asked for no metadata snapshot, so its snapshot requests were not exercised.",
        );
    }
    let mut problems = Vec::new();
    let mut ev = Vec::new();
    for (r, disposition, body) in &requests {
        let method = r
            .msg
            .method()
            .map_or_else(String::new, |m| m.as_str().to_owned());
        // Judged by the rules of the dialect its session was written in.
        let profile: siprec::Profile = r
            .msg
            .call_id()
            .ok()
            .and_then(|id| att.iter().find(|a| a.rs_call_id == id))
            .and_then(|a| a.dialect.parse().ok())
            .unwrap_or_default();
        let before = problems.len();
        let disposition_ok = disposition
            .as_deref()
            .is_some_and(sip::multipart::is_recording_session);
        if !disposition_ok {
            problems.push(format!(
                "a {method} snapshot request has {}",
                disposition.as_ref().map_or_else(
                    || "no Content-Disposition".to_owned(),
                    |d| format!("Content-Disposition `{d}`")
                )
            ));
        }
        match siprec::metadata::parse(body) {
            Err(e) => problems.push(format!(
                "a {method} snapshot request body is not well-formed: {e}"
            )),
            Ok(doc) => {
                if !matches!(doc.body, siprec::metadata::Body::SnapshotRequest(_)) {
                    problems.push(format!(
                        "a {method} snapshot request body is not a <requestsnapshot>"
                    ));
                }
                for f in siprec::metadata::check_document(&doc, profile, None)
                    .into_iter()
                    .filter(|f| f.severity == siprec::Severity::Fail)
                {
                    problems.push(format!("{} ({}): {}", method, f.requirement, f.message));
                }
            }
        }
        if problems.len() > before {
            ev.push(Evidence::at(
                r.t_us,
                "src",
                format!("{method} from {}", r.remote),
            ));
        }
    }
    if problems.is_empty() {
        Verdict::new(
            "SRS-07",
            SNAPSHOT_REQUEST,
            &view.call,
            Status::Pass,
            format!(
                "All {} snapshot requests the recorder sent carry Content-Disposition: recording-session and a well-formed <requestsnapshot>.",
                requests.len()
            ),
        )
        .with_evidence(requests.iter().map(|(r, _, _)| {
            Evidence::at(r.t_us, "src", format!("snapshot request from {}", r.remote))
        }))
    } else {
        Verdict::new(
            "SRS-07",
            SNAPSHOT_REQUEST,
            &view.call,
            Status::Fail,
            format!(
                "The recorder's snapshot requests are not well formed: {}.",
                problems.join("; ")
            ),
        )
        .with_evidence(ev)
    }
}

/// SRS-12: what the recorder recorded on each label holds that label's party only.
pub fn streams_apart(view: &CallView<'_>, att: &[RsAttempt], rules: &RecorderRules) -> Verdict {
    let Some(session) = att.iter().find(|a| a.case == "valid" && a.answered_2xx()) else {
        return na(
            view,
            "SRS-12",
            STREAMS_APART,
            "No valid recording session was taken, so no recording could be checked.",
        );
    };
    // What the SRC sent on each label: the party, and how many frames (from when its
    // audio started to the session's end, less the paused time).
    let mut sent: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let paused_us = paused_time(view, session);
    let end_us = session
        .ended_us
        .unwrap_or_else(|| view.obs.last().map_or(0, |o| o.t_us));
    let labels = &session.labels;
    let from = session.invite_us.unwrap_or_default();
    let until = att
        .iter()
        .filter_map(|a| a.invite_us)
        .filter(|t| *t > from)
        .min()
        .unwrap_or(u64::MAX);
    for o in &view.obs {
        if o.actor != Actor::Src || o.t_us < from || o.t_us >= until {
            continue;
        }
        if let Event::RtpStream {
            stream,
            direction: observe::Direction::Sent,
            ..
        } = &o.event
            && let Some(label) = stream.strip_prefix("src.sent.")
        {
            let party = match labels.iter().position(|l| l == label) {
                Some(0) => "caller",
                Some(_) => "callee",
                None => continue,
            };
            let active = end_us.saturating_sub(o.t_us).saturating_sub(paused_us);
            sent.entry(label.to_owned())
                .or_insert((party.to_owned(), active / 20_000));
        }
    }
    // What the recorder reports having recorded, per recorded stream and party, for this
    // session: reports from its INVITE to the next session's INVITE.
    let mut recorded: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut first_t = BTreeMap::new();
    for o in &view.obs {
        if o.actor != Actor::Srs || o.t_us < from || o.t_us >= until {
            continue;
        }
        if let Event::PartyFrames {
            stream,
            party,
            frames,
            ..
        } = &o.event
        {
            *recorded
                .entry(stream.clone())
                .or_default()
                .entry(party.clone())
                .or_default() += frames;
            first_t.entry(stream.clone()).or_insert(o.t_us);
        }
    }
    if recorded.is_empty() {
        return na(
            view,
            "SRS-12",
            STREAMS_APART,
            "The recorder's recordings were not available (no recorded stream was reported), so how it kept the streams apart was not judged.",
        );
    }
    let attributed = recorded
        .keys()
        .any(|name| sent.contains_key(stream_label(name)));
    if !attributed && !sent.is_empty() {
        return unattributed_apart(view, &sent, &recorded, &first_t, rules);
    }
    let mut problems = Vec::new();
    let mut ok = Vec::new();
    let mut ev = Vec::new();
    for (label, (party, expected)) in &sent {
        let streams: Vec<(&String, &BTreeMap<String, u64>)> = recorded
            .iter()
            .filter(|(name, _)| stream_label(name) == label)
            .collect();
        if streams.is_empty() {
            problems.push(format!(
                "no recording of label {label} ({party}) was reported"
            ));
            continue;
        }
        for (name, parties) in streams {
            ev.push(Evidence::stream(
                first_t.get(name).copied().unwrap_or_default(),
                "srs",
                name,
                parties
                    .iter()
                    .map(|(p, n)| format!("{p}: {n} frames"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
            let own = parties.get(party).copied().unwrap_or(0);
            let others: Vec<String> = parties
                .iter()
                .filter(|(p, n)| *p != party && **n > 0)
                .map(|(p, n)| format!("{n} frames of the {p}"))
                .collect();
            if !others.is_empty() {
                problems.push(format!(
                    "the recording of label {label} ({party}'s stream) holds {}",
                    others.join(" and ")
                ));
            }
            if (own as f64) < rules.min_recorded_share * *expected as f64 {
                problems.push(format!(
                    "the recording of label {label} holds {own} of the about {expected} frames of the {party} the SRC sent on it"
                ));
            } else if others.is_empty() {
                ok.push(format!("label {label}: {own} frames of the {party} only"));
            }
        }
    }
    if sent.is_empty() {
        return na(
            view,
            "SRS-12",
            STREAMS_APART,
            "The SRC sent no audio on the session's streams.",
        );
    }
    let (status, summary) = if problems.is_empty() {
        (
            Status::Pass,
            format!(
                "Each recording holds its own party only: {}.",
                ok.join("; ")
            ),
        )
    } else {
        (
            Status::Fail,
            format!(
                "The recorder did not keep the parties apart: {}.",
                problems.join("; ")
            ),
        )
    };
    Verdict::new("SRS-12", STREAMS_APART, &view.call, status, summary).with_evidence(ev)
}

/// SRS-12 when none of the recorder's recordings names an offered label or participant
/// (one stereo file, a capture on ports its answer did not give): whether each holds one
/// party only can be judged, to whom the recorder tied it cannot. A recording holding
/// both parties, or a party in none, FAILs; otherwise NOT APPLICABLE (not judged), never
/// a pass.
fn unattributed_apart(
    view: &CallView<'_>,
    sent: &BTreeMap<String, (String, u64)>,
    recorded: &BTreeMap<String, BTreeMap<String, u64>>,
    first_t: &BTreeMap<String, u64>,
    rules: &RecorderRules,
) -> Verdict {
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    let mut ev = Vec::new();
    for (name, parties) in recorded {
        let holding: Vec<String> = parties
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(p, n)| format!("{n} frames of the {p}"))
            .collect();
        ev.push(Evidence::stream(
            first_t.get(name).copied().unwrap_or_default(),
            "srs",
            name,
            holding.join(", "),
        ));
        let short = name.strip_prefix("srs.unattributed.").unwrap_or(name);
        if holding.len() > 1 {
            problems.push(format!(
                "the recording {short} holds {}",
                holding.join(" and ")
            ));
        }
        seen.push(format!("{short}: {}", holding.join(", ")));
    }
    for (party, expected) in sent.values() {
        let best = recorded
            .values()
            .filter_map(|p| p.get(party))
            .copied()
            .max()
            .unwrap_or(0);
        if (best as f64) < rules.min_recorded_share * *expected as f64 {
            problems.push(format!(
                "no recording holds the {party}'s audio (at most {best} of the about {expected} frames sent)"
            ));
        }
    }
    if problems.is_empty() {
        Verdict::new(
            "SRS-12",
            STREAMS_APART,
            &view.call,
            Status::NotApplicable,
            format!(
                "Each of the recorder's recordings holds one party only ({}), but none names an offered label or participant, so to whom the recorder tied each was not judged.",
                seen.join("; ")
            ),
        )
        .with_evidence(ev)
    } else {
        Verdict::new(
            "SRS-12",
            STREAMS_APART,
            &view.call,
            Status::Fail,
            format!(
                "The recorder did not keep the parties apart: {}.",
                problems.join("; ")
            ),
        )
        .with_evidence(ev)
    }
}

/// How long the session's streams were paused by the SRC: from each re-INVITE offering
/// them `inactive` or at `c=0.0.0.0` to the next one offering them `sendonly` (or the
/// session's end).
fn paused_time(view: &CallView<'_>, session: &RsAttempt) -> u64 {
    let mut paused_since: Option<u64> = None;
    let mut total = 0u64;
    for s in view.sip() {
        if s.actor != Actor::Src
            || !s.sent
            || !s.is_request(&Method::Invite)
            || s.msg.call_id().ok() != Some(session.rs_call_id.as_str())
            || s.msg.cseq().is_ok_and(|c| c.seq == 1)
        {
            continue;
        }
        let Some(sdp) = sdp_of(&s) else { continue };
        let paused = sdp.media().iter().all(|m| {
            m.direction == Direction::Inactive || m.connection.as_deref() == Some("0.0.0.0")
        });
        match (paused, paused_since) {
            (true, None) => paused_since = Some(s.t_us),
            (false, Some(t)) => {
                total += s.t_us.saturating_sub(t);
                paused_since = None;
            }
            _ => {}
        }
    }
    if let (Some(t), Some(end)) = (paused_since, session.ended_us) {
        total += end.saturating_sub(t);
    }
    total
}

/// The label a recorded stream's name carries: `srs.101`, `srs.s2.101` → `101`.
fn stream_label(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_srs_tag_is_a_contact_header_parameter_in_any_case() {
        assert!(has_srs_tag("<sip:srs@10.0.0.9:5080>;+sip.srs"));
        assert!(has_srs_tag("<sip:srs@10.0.0.9>;expires=60;+SIP.SRS"));
        // In the URI it is a URI parameter, not the feature tag.
        assert!(!has_srs_tag("<sip:srs@10.0.0.9;+sip.srs>"));
        assert!(!has_srs_tag("<sip:srs@10.0.0.9>;+sip.src"));
        assert!(!has_srs_tag(""));
    }

    #[test]
    fn a_recorded_stream_name_carries_its_label_last() {
        assert_eq!(stream_label("srs.101"), "101");
        assert_eq!(stream_label("srs.s2.102"), "102");
    }
}
