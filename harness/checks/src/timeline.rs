//! The timeline of one call, derived from the log alone: when it was answered and ended,
//! which keys were pressed, which recording sessions reached a recorder and what their
//! signalling said, and from those the recording events (start, stop, pause, resume)
//! that the audio checks compare what the parties heard against.
//!
//! # What this module owns
//!
//! - [`CallView`]: the observations of one call, with queries for what each stream
//!   carried (party audio spans, clips, tones, metadata documents).
//! - [`Timeline`]: the derived events. It uses only what the parties and the recorder
//!   observed (SIP they sent and received, DTMF they sent, audio they heard), never the
//!   reference platform's own [`observe::Event::PlatformAction`] reports, so the same
//!   checks judge an external SUT.
//!
//! # How recording events are derived
//!
//! - **Start**: an RS INVITE at a recorder whose SDP offers media (sendonly with a real
//!   address), or an RS that was opened held and later becomes active for the first time.
//! - **Pause / Resume**: a re-INVITE or UPDATE that makes every stream inactive (or
//!   `c=0.0.0.0`, or port 0), and the one that makes them active again.
//! - **Stop**: a BYE on the RS while the call goes on for at least [`STOP_MARGIN_US`].
//! - A feature code the mode supports (`*44` start, `*45` stop, `*48` pause, `*49` resume
//!   by default) that has no matching signalled event within the reaction tolerance is
//!   itself taken as the event ("pause by stopping RTP" leaves nothing in the signalling).
//!
//! # Which observations belong to a call
//!
//! Those whose `call` is the call's label. A log with a single call label also lends
//! that call its unlabelled observations (an SRS emulator or a pcap import that does not
//! know the harness's call labels), except the run bookkeeping.
//!
//! # What it must not touch
//!
//! No judging (that is the check modules), no I/O, no clock. Malformed SIP in the log is
//! skipped here (the message checks report it).

use crate::expect::{CallExpectation, Tolerances, ms_us};
use observe::{Actor, Direction, Event, LatencySummary, Observation, Source};
use sip::multipart;
use sip::sdp::{MediaView, SessionDescription};
use sip::{Method, SipMessage};
use siprec::metadata;
use std::collections::{BTreeMap, BTreeSet};

/// An RS BYE counts as a recording *stop* (not part of the call's end) when the call goes
/// on for at least this long after it: 1 s.
pub const STOP_MARGIN_US: u64 = 1_000_000;

/// The name reports use for an actor.
pub fn actor_name(actor: Actor) -> &'static str {
    match actor {
        Actor::Caller => "caller",
        Actor::Callee => "callee",
        Actor::Srs => "srs",
        Actor::Platform => "platform",
        Actor::Harness => "harness",
        Actor::Capture => "capture",
        Actor::Src => "src",
    }
}

/// A span of one party's audio received on a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct PartySpan {
    /// Stream name (`srs.1`, `caller.heard`).
    pub stream: String,
    /// Party name (`caller`, `callee`).
    pub party: String,
    /// First frame received in the span.
    pub first_frame: u64,
    /// Last frame.
    pub last_frame: u64,
    /// Received from, µs.
    pub start_us: u64,
    /// Received until, µs.
    pub end_us: u64,
    /// Frames in the span.
    pub frames: u64,
    /// Latency of the span's frames.
    pub latency: Option<LatencySummary>,
}

/// A known clip heard on a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipHeard {
    /// Stream name.
    pub stream: String,
    /// Clip name.
    pub clip: String,
    /// Onset, µs.
    pub start_us: u64,
    /// End, µs.
    pub end_us: u64,
    /// Match score (`None` when only a media segment said so).
    pub score: Option<f64>,
}

/// A tone burst heard on a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct ToneHeard {
    /// Stream name.
    pub stream: String,
    /// Frequency, Hz.
    pub freq_hz: f64,
    /// Start, µs.
    pub start_us: u64,
    /// End, µs.
    pub end_us: u64,
}

/// A metadata document the recorder received.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataSeen {
    /// When it arrived, µs.
    pub t_us: u64,
    /// Call-ID of the RS dialog.
    pub rs_call_id: String,
    /// Method that carried it.
    pub method: String,
    /// The XML.
    pub xml: String,
}

/// The observations of one call, with queries over them.
#[derive(Debug, Clone)]
pub struct CallView<'a> {
    /// The call label.
    pub call: String,
    /// Its observations, in log order.
    pub obs: Vec<&'a Observation>,
}

impl<'a> CallView<'a> {
    /// Selects the observations of `call` (see the module docs for unlabelled ones).
    pub fn new(log: &'a [Observation], call: &str) -> Self {
        let labels: BTreeSet<&str> = log.iter().filter_map(|o| o.call.as_deref()).collect();
        let lend_unlabelled = labels.len() == 1 && labels.contains(call);
        let obs = log
            .iter()
            .filter(|o| match o.call.as_deref() {
                Some(c) => c == call,
                None => {
                    lend_unlabelled
                        && !matches!(o.event, Event::RunStarted { .. } | Event::RunEnded { .. })
                }
            })
            .collect();
        Self {
            call: call.to_owned(),
            obs,
        }
    }

    /// Every SIP message an actor sent or received: (time, actor, sent?, local, remote, message).
    pub fn sip(&self) -> Vec<SipSeen> {
        let mut out = Vec::new();
        for o in &self.obs {
            let (sent, local, remote, payload) = match &o.event {
                Event::SipSent {
                    local,
                    remote,
                    message,
                    ..
                } => (true, local, remote, message),
                Event::SipReceived {
                    local,
                    remote,
                    message,
                    ..
                } => (false, local, remote, message),
                _ => continue,
            };
            let Ok(msg) = SipMessage::parse(payload.to_bytes()) else {
                continue;
            };
            out.push(SipSeen {
                t_us: o.t_us,
                actor: o.actor,
                sent,
                local: local.clone(),
                remote: remote.clone(),
                msg,
            });
        }
        out
    }

    /// Party audio spans on the streams `stream_ok` accepts.
    pub fn party_spans(&self, stream_ok: impl Fn(&str) -> bool) -> Vec<PartySpan> {
        self.spans(stream_ok, false)
    }

    /// Spans of sound that matched nothing known (an imported capture's uninstrumented
    /// audio, [`Source::Unknown`]) on the streams `stream_ok` accepts, as party spans with
    /// an empty party and no frame numbers.
    pub fn sound_spans(&self, stream_ok: impl Fn(&str) -> bool) -> Vec<PartySpan> {
        self.spans(stream_ok, true)
    }

    /// Party spans, or (with `unknown`) spans of unidentified sound, by start.
    fn spans(&self, stream_ok: impl Fn(&str) -> bool, unknown: bool) -> Vec<PartySpan> {
        let mut out: Vec<PartySpan> = self
            .obs
            .iter()
            .filter_map(|o| match &o.event {
                Event::MediaSegment {
                    stream,
                    source,
                    start_us,
                    end_us,
                    frames,
                    latency,
                } if stream_ok(stream) => {
                    let (party, first_frame, last_frame) = match source {
                        Source::Party {
                            party,
                            first_frame,
                            last_frame,
                        } if !unknown => (party.clone(), *first_frame, *last_frame),
                        Source::Unknown if unknown => (String::new(), 0, 0),
                        _ => return None,
                    };
                    Some(PartySpan {
                        stream: stream.clone(),
                        party,
                        first_frame,
                        last_frame,
                        start_us: *start_us,
                        end_us: *end_us,
                        frames: *frames,
                        latency: latency.clone(),
                    })
                }
                _ => None,
            })
            .collect();
        out.sort_by_key(|s| (s.start_us, s.end_us));
        out
    }

    /// Clips heard on the streams `stream_ok` accepts (clip matches, and announcement
    /// media segments not already reported as a match), by onset.
    pub fn clips(&self, stream_ok: impl Fn(&str) -> bool) -> Vec<ClipHeard> {
        let mut out: Vec<ClipHeard> = Vec::new();
        for o in &self.obs {
            let c = match &o.event {
                Event::ClipMatch {
                    stream,
                    clip,
                    start_us,
                    end_us,
                    score,
                } if stream_ok(stream) => ClipHeard {
                    stream: stream.clone(),
                    clip: clip.clone(),
                    start_us: *start_us,
                    end_us: *end_us,
                    score: Some(*score),
                },
                Event::MediaSegment {
                    stream,
                    source: Source::Announcement { clip },
                    start_us,
                    end_us,
                    ..
                } if stream_ok(stream) => ClipHeard {
                    stream: stream.clone(),
                    clip: clip.clone(),
                    start_us: *start_us,
                    end_us: *end_us,
                    score: None,
                },
                _ => continue,
            };
            let dup = out.iter_mut().find(|x| {
                x.stream == c.stream && x.clip == c.clip && x.start_us.abs_diff(c.start_us) < 20_000
            });
            match dup {
                Some(x) => {
                    if x.score.is_none() {
                        x.score = c.score;
                    }
                }
                None => out.push(c),
            }
        }
        out.sort_by_key(|c| c.start_us);
        out
    }

    /// Tone bursts heard on the streams `stream_ok` accepts (tone bursts, and tone media
    /// segments not already reported), by start.
    pub fn tones(&self, stream_ok: impl Fn(&str) -> bool) -> Vec<ToneHeard> {
        let mut out: Vec<ToneHeard> = Vec::new();
        for o in &self.obs {
            let t = match &o.event {
                Event::ToneBurst {
                    stream,
                    freq_hz,
                    start_us,
                    end_us,
                } if stream_ok(stream) => ToneHeard {
                    stream: stream.clone(),
                    freq_hz: *freq_hz,
                    start_us: *start_us,
                    end_us: *end_us,
                },
                Event::MediaSegment {
                    stream,
                    source: Source::Tone { freq_hz },
                    start_us,
                    end_us,
                    ..
                } if stream_ok(stream) => ToneHeard {
                    stream: stream.clone(),
                    freq_hz: *freq_hz,
                    start_us: *start_us,
                    end_us: *end_us,
                },
                _ => continue,
            };
            let dup = out.iter().any(|x| {
                x.stream == t.stream
                    && (x.freq_hz - t.freq_hz).abs() < 1.0
                    && x.start_us.abs_diff(t.start_us) < 20_000
            });
            if !dup {
                out.push(t);
            }
        }
        out.sort_by_key(|t| t.start_us);
        out
    }

    /// Metadata documents the recorder received: the SRS's `metadata` observations, or,
    /// when it wrote none, the metadata parts of the RS requests it received.
    pub fn metadata(&self, rs: &[RsSession]) -> Vec<MetadataSeen> {
        let from_events: Vec<MetadataSeen> = self
            .obs
            .iter()
            .filter_map(|o| match &o.event {
                Event::Metadata {
                    rs_call_id,
                    method,
                    xml,
                    ..
                } => Some(MetadataSeen {
                    t_us: o.t_us,
                    rs_call_id: rs_call_id.clone(),
                    method: method.clone(),
                    xml: xml.clone(),
                }),
                _ => None,
            })
            .collect();
        if !from_events.is_empty() {
            return from_events;
        }
        let mut out = Vec::new();
        for s in rs {
            for r in &s.requests {
                if let Some(xml) = metadata_of(&r.msg) {
                    out.push(MetadataSeen {
                        t_us: r.t_us,
                        rs_call_id: s.call_id.clone(),
                        method: r.method.clone(),
                        xml: String::from_utf8_lossy(&xml).into_owned(),
                    });
                }
            }
        }
        out
    }

    /// Names of the streams that carried anything (RTP, audio, stats) and satisfy `ok`.
    pub fn stream_names(&self, ok: impl Fn(&str) -> bool) -> BTreeSet<String> {
        self.obs
            .iter()
            .filter_map(|o| match &o.event {
                Event::RtpStream { stream, .. }
                | Event::RtpStats { stream, .. }
                | Event::MediaSegment { stream, .. }
                | Event::PartyFrames { stream, .. }
                | Event::ClipMatch { stream, .. }
                | Event::ToneBurst { stream, .. } => Some(stream),
                _ => None,
            })
            .filter(|s| ok(s))
            .cloned()
            .collect()
    }

    /// Time of the first RTP packet received on a stream.
    pub fn first_rtp(&self, stream: &str) -> Option<u64> {
        self.obs
            .iter()
            .filter(|o| {
                matches!(&o.event, Event::RtpStream { stream: s, direction: Direction::Received, .. } if s == stream)
            })
            .map(|o| o.t_us)
            .min()
    }

    /// The `party_frames` reports of a stream: (time, party, frames, front clip ms, latency).
    pub fn party_frames(&self, stream_ok: impl Fn(&str) -> bool) -> Vec<FramesReport> {
        self.obs
            .iter()
            .filter_map(|o| match &o.event {
                Event::PartyFrames {
                    stream,
                    party,
                    frames,
                    first_frame,
                    last_frame,
                    lost,
                    front_clip_ms,
                    latency,
                    ..
                } if stream_ok(stream) => Some(FramesReport {
                    t_us: o.t_us,
                    stream: stream.clone(),
                    party: party.clone(),
                    frames: *frames,
                    first_frame: *first_frame,
                    last_frame: *last_frame,
                    lost: *lost,
                    front_clip_ms: *front_clip_ms,
                    latency: latency.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    /// Time of the last observation of the call.
    pub fn last_us(&self) -> u64 {
        self.obs.iter().map(|o| o.t_us).max().unwrap_or(0)
    }
}

/// A `party_frames` report (see [`observe::Event::PartyFrames`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FramesReport {
    /// When it was written (stream end), µs.
    pub t_us: u64,
    /// Stream name.
    pub stream: String,
    /// Party name.
    pub party: String,
    /// Distinct frames received.
    pub frames: u64,
    /// First frame received.
    pub first_frame: u64,
    /// Last frame received.
    pub last_frame: u64,
    /// Frames missing between first and last.
    pub lost: u64,
    /// Party audio missing before the first frame, ms.
    pub front_clip_ms: f64,
    /// Latency summary.
    pub latency: Option<LatencySummary>,
}

/// A SIP message as one actor saw it.
#[derive(Debug, Clone)]
pub struct SipSeen {
    /// When, µs.
    pub t_us: u64,
    /// Who saw it.
    pub actor: Actor,
    /// True when the actor sent it.
    pub sent: bool,
    /// The actor's address.
    pub local: String,
    /// The peer's address.
    pub remote: String,
    /// The message.
    pub msg: SipMessage,
}

impl SipSeen {
    /// The CSeq method (for requests and responses alike).
    pub fn cseq_method(&self) -> Option<Method> {
        self.msg.cseq().ok().map(|c| c.method)
    }

    /// True for a request of this method.
    pub fn is_request(&self, m: &Method) -> bool {
        self.msg.method() == Some(m)
    }

    /// The first line, for evidence.
    pub fn first_line(&self) -> String {
        let raw = self.msg.raw();
        let end = raw
            .iter()
            .position(|b| *b == b'\r' || *b == b'\n')
            .unwrap_or(raw.len());
        String::from_utf8_lossy(&raw[..end]).into_owned()
    }
}

/// Whether the recording streams are sending or held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpState {
    /// At least one stream offered sendonly/sendrecv with a real address and port.
    Active,
    /// Every stream inactive, recvonly, `c=0.0.0.0` or port 0.
    Held,
}

/// The state an SDP puts the RS streams in, or `None` when it has no media.
pub fn sdp_state(media: &[MediaView]) -> Option<SdpState> {
    if media.is_empty() {
        return None;
    }
    let active = media
        .iter()
        .any(|m| !m.is_declined() && !m.is_zero_address() && m.direction.sends());
    Some(if active {
        SdpState::Active
    } else {
        SdpState::Held
    })
}

/// The SDP part of a message (bare `application/sdp` or inside multipart/mixed).
pub fn sdp_of(msg: &SipMessage) -> Option<Vec<MediaView>> {
    let ct = msg.content_type()?;
    let media_type = multipart::media_type_of(ct);
    let bytes = if media_type == multipart::SDP {
        msg.body().to_vec()
    } else if media_type.starts_with("multipart/") {
        let parsed = multipart::parse(ct, msg.body()).ok()?;
        parsed.sdp()?.body.to_vec()
    } else {
        return None;
    };
    SessionDescription::parse(&bytes).ok().map(|s| s.media())
}

/// The metadata part of a message (bare or inside multipart/mixed).
pub fn metadata_of(msg: &SipMessage) -> Option<Vec<u8>> {
    let ct = msg.content_type()?;
    let media_type = multipart::media_type_of(ct);
    if media_type == multipart::RS_METADATA_XML || media_type == multipart::RS_METADATA_LEGACY {
        return Some(msg.body().to_vec());
    }
    if media_type.starts_with("multipart/") {
        let parsed = multipart::parse(ct, msg.body()).ok()?;
        return Some(parsed.metadata()?.body.to_vec());
    }
    None
}

/// Stream labels of a metadata document (empty when it does not parse or has none).
pub fn metadata_labels(xml: &[u8]) -> Vec<String> {
    metadata::parse(xml)
        .ok()
        .and_then(|d| {
            d.recording()
                .map(|r| r.stream_labels().iter().map(|s| (*s).to_owned()).collect())
        })
        .unwrap_or_default()
}

/// A request the recorder received in an RS dialog.
#[derive(Debug, Clone)]
pub struct RsRequest {
    /// When, µs.
    pub t_us: u64,
    /// Method (`INVITE`, `UPDATE`, `BYE`...).
    pub method: String,
    /// The message.
    pub msg: SipMessage,
    /// The recorder's final answer to it, if logged.
    pub status: Option<u16>,
}

/// One recording session as the recorder saw it.
#[derive(Debug, Clone)]
pub struct RsSession {
    /// Call-ID of the RS dialog.
    pub call_id: String,
    /// When the initial INVITE arrived, µs.
    pub invited_us: u64,
    /// Address the recorder received it on.
    pub srs_local: String,
    /// Address it came from.
    pub src_remote: String,
    /// Its Request-URI.
    pub request_uri: String,
    /// The recorder's final answer to the initial INVITE: (time, status).
    pub final_status: Option<(u64, u16)>,
    /// When a BYE ended it, and who sent it (`srs` or the SRC's address).
    pub bye: Option<(u64, bool)>,
    /// SDP state changes (initial INVITE first).
    pub states: Vec<(u64, SdpState)>,
    /// The initial INVITE's SDP labels (m-lines not declined), in m-line order.
    pub sdp_labels: Vec<Option<String>>,
    /// Every request the recorder received in this dialog, in order.
    pub requests: Vec<RsRequest>,
    /// Whose audio each labelled stream carries, by the metadata of the first request
    /// whose metadata describes streams (the initial INVITE, normally): SDP label →
    /// owner. Empty when no metadata describing streams arrived. See [`StreamOwner`].
    pub owners: BTreeMap<String, StreamOwner>,
}

/// Whose audio a recorded stream carries, as the recording metadata says: the
/// participant(s) sending on the metadata stream with that label, tied to a party of the
/// call by AoR ([`crate::expect::Parties::party_of_aor`]). No label value means anything
/// by itself (RFC 7866 and RFC 7865 fix none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamOwner {
    /// One participant sends on it, and its AoR is this party's (`caller`, `callee`).
    Party(&'static str),
    /// One participant sends on it, and it is neither party (a mailbox, a bridge): its
    /// AoR (or `(no AoR)`).
    Other(String),
    /// The metadata ties no participant to the stream as a sender (SRC-12).
    NoSender,
    /// Several participants send on it (their AoRs): a mixed stream.
    Several(Vec<String>),
}

impl RsSession {
    /// True when the recorder accepted it (2xx), or when the dialog clearly went on
    /// (later requests) though the answer was not logged.
    pub fn accepted(&self) -> bool {
        match self.final_status {
            Some((_, s)) => (200..300).contains(&s),
            None => self.requests.iter().any(|r| r.method != "INVITE"),
        }
    }

    /// The initial INVITE.
    pub fn invite(&self) -> Option<&RsRequest> {
        self.requests.first()
    }
}

/// What a feature code does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeAction {
    /// Start recording.
    Start,
    /// Stop recording.
    Stop,
    /// Pause recording.
    Pause,
    /// Resume recording.
    Resume,
}

impl CodeAction {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Pause => "pause",
            Self::Resume => "resume",
        }
    }
}

/// One DTMF digit a party sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPress {
    /// When the digit began, µs.
    pub t_us: u64,
    /// Who pressed (`caller`, `callee`).
    pub party: String,
    /// The digit.
    pub digit: char,
    /// How long it lasted, µs.
    pub duration_us: u64,
}

/// A feature code a party keyed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodePress {
    /// When its first digit began, µs.
    pub first_us: u64,
    /// When its last digit ended, µs: the earliest the platform can act.
    pub t_us: u64,
    /// Who pressed.
    pub party: String,
    /// The code (`*44`).
    pub code: String,
    /// What it asks for.
    pub action: CodeAction,
}

/// A recording event kind.
pub type RecKind = CodeAction;

/// A recording event (see the module docs for how each is found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecEvent {
    /// When, µs.
    pub t_us: u64,
    /// What.
    pub kind: RecKind,
    /// How it was observed, for summaries ("RS INVITE at the recorder", "*48 pressed by
    /// the callee").
    pub source: String,
    /// True when it comes from signalling at the recorder, false from a key press.
    pub signalled: bool,
}

/// The derived timeline of one call.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// `call_started`, µs.
    pub started_us: Option<u64>,
    /// When the caller received the 200 OK to its INVITE, µs.
    pub answered_us: Option<u64>,
    /// When the callee sent its 200 OK to the INVITE it received, µs.
    pub callee_answered_us: Option<u64>,
    /// When the call ended: the first BYE a party sent or received, else `call_ended`.
    pub ended_us: Option<u64>,
    /// Who ended it: `caller`, `callee` (they sent the BYE) or `platform` (a party
    /// received it first).
    pub ended_by: Option<String>,
    /// Call-IDs of the parties' dialogs (the communication session).
    pub cs_call_ids: BTreeSet<String>,
    /// Every DTMF digit the parties sent.
    pub keys: Vec<KeyPress>,
    /// Feature codes found in them.
    pub codes: Vec<CodePress>,
    /// Recording sessions that reached a recorder, by INVITE time.
    pub rs: Vec<RsSession>,
    /// Recording events, by time.
    pub events: Vec<RecEvent>,
    /// Time of the call's last observation.
    pub last_us: u64,
}

impl Timeline {
    /// Derives the timeline of `view` under `expect`'s feature codes and mode.
    pub fn derive(view: &CallView<'_>, expect: &CallExpectation, tol: &Tolerances) -> Self {
        let sip = view.sip();
        let mut t = Self {
            last_us: view.last_us(),
            ..Self::default()
        };
        for o in &view.obs {
            match &o.event {
                // The SRS emulator also writes call_started for each RS: not the call.
                Event::CallStarted { .. } if t.started_us.is_none() && o.actor != Actor::Srs => {
                    t.started_us = Some(o.t_us);
                }
                Event::Dtmf {
                    digit,
                    direction: Direction::Sent,
                    duration_us,
                    ..
                } if matches!(o.actor, Actor::Caller | Actor::Callee) => t.keys.push(KeyPress {
                    t_us: o.t_us,
                    party: actor_name(o.actor).to_owned(),
                    digit: *digit,
                    duration_us: *duration_us,
                }),
                _ => {}
            }
        }
        t.keys.sort_by_key(|k| k.t_us);
        t.codes = find_codes(&t.keys, expect, tol);

        let party = |a: Actor| matches!(a, Actor::Caller | Actor::Callee);
        for s in &sip {
            if !party(s.actor) {
                continue;
            }
            if let Ok(id) = s.msg.call_id() {
                t.cs_call_ids.insert(id.to_owned());
            }
            let invite_ok = s.msg.status() == Some(200) && s.cseq_method() == Some(Method::Invite);
            if invite_ok && s.actor == Actor::Caller && !s.sent && t.answered_us.is_none() {
                t.answered_us = Some(s.t_us);
            }
            if invite_ok && s.actor == Actor::Callee && s.sent && t.callee_answered_us.is_none() {
                t.callee_answered_us = Some(s.t_us);
            }
            if s.is_request(&Method::Bye) && t.ended_us.is_none() {
                t.ended_us = Some(s.t_us);
                t.ended_by = Some(if s.sent {
                    actor_name(s.actor).to_owned()
                } else {
                    "platform".to_owned()
                });
            }
        }
        if t.ended_us.is_none() {
            t.ended_us = view
                .obs
                .iter()
                .find(|o| matches!(o.event, Event::CallEnded { .. }) && o.actor != Actor::Srs)
                .map(|o| o.t_us);
        }
        t.rs = rs_sessions(&sip, &t.cs_call_ids);
        for rs in &mut t.rs {
            rs.owners = stream_owners(rs, &expect.parties);
        }
        t.events = recording_events(&t, expect, tol);
        t
    }

    /// The owner of the recorded stream with this SDP label, over every accepted
    /// recording session that describes it; `None` when none does, or when two sessions
    /// describe the same label differently.
    pub fn owner_of_label(&self, label: &str) -> Option<&StreamOwner> {
        let mut found: Option<&StreamOwner> = None;
        for rs in self.rs.iter().filter(|r| r.accepted()) {
            if let Some(o) = rs.owners.get(label) {
                match found {
                    Some(f) if f != o => return None,
                    _ => found = Some(o),
                }
            }
        }
        found
    }

    /// When the call ended, or its last observation.
    pub fn end_us(&self) -> u64 {
        self.ended_us.unwrap_or(self.last_us)
    }

    /// Windows in which recording was paused: from each pause to the next resume or stop
    /// (or the end of the call).
    pub fn paused_windows(&self) -> Vec<(u64, u64, &RecEvent)> {
        let mut out = Vec::new();
        let mut open: Option<&RecEvent> = None;
        for e in &self.events {
            match e.kind {
                CodeAction::Pause if open.is_none() => open = Some(e),
                CodeAction::Resume | CodeAction::Stop | CodeAction::Start => {
                    if let Some(p) = open.take() {
                        out.push((p.t_us, e.t_us, p));
                    }
                }
                _ => {}
            }
        }
        if let Some(p) = open {
            out.push((p.t_us, self.end_us().max(p.t_us), p));
        }
        out
    }

    /// Windows in which recording was running (start or resume to pause, stop or end).
    pub fn recording_windows(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut open: Option<u64> = None;
        for e in &self.events {
            match e.kind {
                CodeAction::Start | CodeAction::Resume => {
                    if open.is_none() {
                        open = Some(e.t_us);
                    }
                }
                CodeAction::Pause | CodeAction::Stop => {
                    if let Some(s) = open.take() {
                        out.push((s, e.t_us));
                    }
                }
            }
        }
        if let Some(s) = open {
            out.push((s, self.end_us().max(s)));
        }
        out
    }

    /// The recording events of one kind.
    pub fn events_of(&self, kind: RecKind) -> Vec<&RecEvent> {
        self.events.iter().filter(|e| e.kind == kind).collect()
    }
}

/// Finds the feature codes in each party's digits: a code is recognised when the digits
/// typed so far (reset after a pause longer than [`Tolerances::key_gap_ms`] or after a
/// code) end with it.
fn find_codes(keys: &[KeyPress], expect: &CallExpectation, tol: &Tolerances) -> Vec<CodePress> {
    let fc = &expect.feature_codes;
    let table = [
        (&fc.start, CodeAction::Start),
        (&fc.stop, CodeAction::Stop),
        (&fc.pause, CodeAction::Pause),
        (&fc.resume, CodeAction::Resume),
    ];
    let gap = ms_us(tol.key_gap_ms).max(0) as u64;
    let mut out = Vec::new();
    for who in ["caller", "callee"] {
        let mut typed = String::new();
        let mut first: Option<u64> = None;
        let mut last_end: Option<u64> = None;
        for k in keys.iter().filter(|k| k.party == who) {
            if last_end.is_some_and(|e| k.t_us > e + gap) {
                typed.clear();
                first = None;
            }
            if typed.is_empty() {
                first = Some(k.t_us);
            }
            typed.push(k.digit);
            let end = k.t_us + k.duration_us;
            last_end = Some(end);
            if let Some((code, action)) = table
                .iter()
                .find(|(c, _)| !c.is_empty() && typed.ends_with(c.as_str()))
            {
                let start = keys
                    .iter()
                    .filter(|x| x.party == who && x.t_us <= k.t_us)
                    .rev()
                    .nth(code.chars().count().saturating_sub(1))
                    .map_or(first.unwrap_or(k.t_us), |x| x.t_us);
                out.push(CodePress {
                    first_us: start,
                    t_us: end,
                    party: who.to_owned(),
                    code: (*code).clone(),
                    action: *action,
                });
                typed.clear();
                first = None;
            }
        }
    }
    out.sort_by_key(|c| c.t_us);
    out
}

/// The recording sessions the recorder(s) received, from the SIP the SRS actor logged.
fn rs_sessions(sip: &[SipSeen], cs_ids: &BTreeSet<String>) -> Vec<RsSession> {
    let mut out: Vec<RsSession> = Vec::new();
    for s in sip.iter().filter(|s| s.actor == Actor::Srs) {
        let Ok(call_id) = s.msg.call_id() else {
            continue;
        };
        if cs_ids.contains(call_id) {
            // A recorder that shares a dialog with a party is not an RS (SRC-01 judges).
            continue;
        }
        let idx = out.iter().position(|r| r.call_id == call_id);
        if !s.sent && s.msg.is_request() {
            let method = s.msg.method().map(Method::to_string).unwrap_or_default();
            let is_initial = s.is_request(&Method::Invite)
                && s.msg
                    .to_header()
                    .ok()
                    .and_then(|t| t.tag().map(str::to_owned))
                    .is_none();
            let idx = match idx {
                Some(i) => {
                    // A retransmitted initial INVITE is not a new request.
                    if is_initial {
                        continue;
                    }
                    i
                }
                None if is_initial => {
                    let media = sdp_of(&s.msg).unwrap_or_default();
                    out.push(RsSession {
                        call_id: call_id.to_owned(),
                        invited_us: s.t_us,
                        srs_local: s.local.clone(),
                        src_remote: s.remote.clone(),
                        request_uri: s.msg.request_uri().unwrap_or_default().to_owned(),
                        final_status: None,
                        bye: None,
                        states: sdp_state(&media)
                            .map(|st| (s.t_us, st))
                            .into_iter()
                            .collect(),
                        sdp_labels: media
                            .iter()
                            .filter(|m| !m.is_declined())
                            .map(|m| m.label.clone())
                            .collect(),
                        requests: Vec::new(),
                        owners: BTreeMap::new(),
                    });
                    out.len() - 1
                }
                None => continue,
            };
            let rs = &mut out[idx];
            if rs
                .requests
                .iter()
                .any(|r| r.msg.raw() == s.msg.raw() && r.method == method)
            {
                continue; // retransmission
            }
            if !is_initial
                && (s.is_request(&Method::Invite) || s.is_request(&Method::Update))
                && let Some(st) = sdp_of(&s.msg).as_deref().and_then(sdp_state)
                && rs.states.last().map(|(_, x)| *x) != Some(st)
            {
                rs.states.push((s.t_us, st));
            }
            if s.is_request(&Method::Bye) && rs.bye.is_none() {
                rs.bye = Some((s.t_us, false));
            }
            rs.requests.push(RsRequest {
                t_us: s.t_us,
                method,
                msg: s.msg.clone(),
                status: None,
            });
        } else if let Some(i) = idx {
            let rs = &mut out[i];
            if s.sent && s.is_request(&Method::Bye) && rs.bye.is_none() {
                rs.bye = Some((s.t_us, true));
            }
            let is_invite_answer = s.sent
                && !s.msg.is_request()
                && s.msg.cseq().ok().is_some_and(|c| {
                    c.method == Method::Invite
                        && rs
                            .invite()
                            .and_then(|i| i.msg.cseq().ok())
                            .is_some_and(|ic| ic.seq == c.seq)
                });
            if is_invite_answer
                && let Some(code) = s.msg.status()
                && code >= 200
                && rs.final_status.is_none()
            {
                rs.final_status = Some((s.t_us, code));
            }
            if s.sent
                && let (Some(code), Ok(c)) = (s.msg.status(), s.msg.cseq())
                && code >= 200
                && let Some(r) = rs.requests.iter_mut().rev().find(|r| {
                    r.status.is_none()
                        && r.msg
                            .cseq()
                            .ok()
                            .is_some_and(|rc| rc.seq == c.seq && rc.method == c.method)
                })
            {
                r.status = Some(code);
            }
        }
    }
    out.sort_by_key(|r| r.invited_us);
    out
}

/// Label → owner from the first request of `rs` whose metadata describes streams.
fn stream_owners(
    rs: &RsSession,
    parties: &crate::expect::Parties,
) -> BTreeMap<String, StreamOwner> {
    for r in &rs.requests {
        let Some(xml) = metadata_of(&r.msg) else {
            continue;
        };
        let Ok(doc) = metadata::parse(&xml) else {
            continue;
        };
        let Some(rec) = doc.recording() else { continue };
        if rec.streams.is_empty() {
            continue;
        }
        let mut out = BTreeMap::new();
        for stream in &rec.streams {
            let Some(label) = stream.label.clone() else {
                continue;
            };
            let senders = stream
                .id
                .as_deref()
                .map(|id| rec.senders_of(id))
                .unwrap_or_default();
            let aor_of = |pid: &str| {
                rec.participant(pid)
                    .and_then(|p| p.name_ids.iter().find_map(|n| n.aor.clone()))
                    .unwrap_or_else(|| "(no AoR)".to_owned())
            };
            let owner = match senders.as_slice() {
                [] => StreamOwner::NoSender,
                [one] => {
                    let aor = aor_of(one);
                    match parties.party_of_aor(&aor) {
                        Some(p) => StreamOwner::Party(p),
                        None => StreamOwner::Other(aor),
                    }
                }
                many => StreamOwner::Several(many.iter().map(|p| aor_of(p)).collect()),
            };
            out.insert(label, owner);
        }
        return out;
    }
    BTreeMap::new()
}

fn recording_events(t: &Timeline, expect: &CallExpectation, tol: &Tolerances) -> Vec<RecEvent> {
    let mut ev: Vec<RecEvent> = Vec::new();
    let end = t.ended_us;
    for rs in t.rs.iter().filter(|r| r.accepted()) {
        let mut ever_active = false;
        let mut prev: Option<SdpState> = None;
        for (i, (at, st)) in rs.states.iter().enumerate() {
            let what = if i == 0 {
                "the recording session INVITE at the recorder"
            } else {
                "a re-INVITE/UPDATE at the recorder"
            };
            match (prev, st) {
                (None | Some(SdpState::Held), SdpState::Active) if !ever_active => {
                    ev.push(RecEvent {
                        t_us: *at,
                        kind: CodeAction::Start,
                        source: what.to_owned(),
                        signalled: true,
                    });
                    ever_active = true;
                }
                (Some(SdpState::Held), SdpState::Active) => ev.push(RecEvent {
                    t_us: *at,
                    kind: CodeAction::Resume,
                    source: format!("{what} making the streams active again"),
                    signalled: true,
                }),
                (Some(SdpState::Active), SdpState::Held) => ev.push(RecEvent {
                    t_us: *at,
                    kind: CodeAction::Pause,
                    source: format!("{what} holding the streams (inactive or 0.0.0.0)"),
                    signalled: true,
                }),
                _ => {}
            }
            prev = Some(*st);
        }
        if let Some((at, by_srs)) = rs.bye
            && !by_srs
            && ever_active
            && end.is_some_and(|e| at + STOP_MARGIN_US <= e)
        {
            ev.push(RecEvent {
                t_us: at,
                kind: CodeAction::Stop,
                source: "a BYE ending the recording session while the call went on".into(),
                signalled: true,
            });
        }
    }
    let reaction = ms_us(tol.feature_reaction_ms).max(0) as u64;
    for c in &t.codes {
        let allowed = match c.action {
            CodeAction::Start | CodeAction::Stop => expect.mode.allows_start_stop(),
            CodeAction::Pause | CodeAction::Resume => expect.mode.allows_pause(),
        };
        if !allowed || expect.srs.is_none() {
            continue;
        }
        let covered = ev.iter().any(|e| {
            e.signalled
                && e.kind == c.action
                && e.t_us + reaction >= c.first_us
                && e.t_us <= c.t_us + reaction
        });
        if !covered {
            ev.push(RecEvent {
                t_us: c.t_us,
                kind: c.action,
                source: format!("{} pressed by the {}", c.code, c.party),
                signalled: false,
            });
        }
    }
    ev.sort_by_key(|e| e.t_us);
    ev
}
