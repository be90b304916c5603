//! The SRS emulator: the harness playing the session recording server (checklist 0.2,
//! "Harness-as-SRS"), as a [`Node`].
//!
//! # What this module owns
//!
//! [`SrsEmulator`] owns one SIP address (UDP), a fixed pool of RTP ports on one media IP
//! ([`SrsConfig::rtp_port_base`], every second port, [`SrsConfig::rtp_port_count`] of
//! them), a sans-IO [`Endpoint`] whose Contact carries `+sip.srs` (SRS-02), and any number
//! of concurrent recording sessions (RS, RFC 7866), each with one [`ListenStream`] per
//! offered m-line. It:
//!
//! - answers an RS INVITE as its [`SrsBehaviour`] says: 200 with an SDP answer that has
//!   one m-line per offered m-line, in order, `recvonly` for a stream the SRC sends
//!   (`inactive` for one it does not), `a=label` preserved, port 0 for a stream it cannot
//!   take (SRS-03); or a rejection after a delay; or nothing at all;
//! - follows re-INVITE and UPDATE offers (streams going inactive, `c=0.0.0.0`, ports
//!   changing, new m-lines), answers offerless re-INVITEs with an offer, metadata-only
//!   UPDATE and INFO with 200, BYE, CANCEL (487 on a pending INVITE), OPTIONS (200 with
//!   `Accept` listing the metadata types);
//! - can ask the SRC for a metadata snapshot ([`SrsEmulator::request_snapshot`], checklist
//!   SRS-07 and Example 3) and end a session itself ([`SrsEmulator::hang_up`]).
//!
//! Observations (all with [`SrsConfig::call_label`], actor [`Actor::Srs`]): every SIP
//! message sent and received, [`Event::SipMalformed`] for bytes that are not SIP and for
//! requests whose body cannot be read (answered 400), one [`Event::Metadata`] per
//! metadata document or snapshot request received (INVITE, re-INVITE, UPDATE, INFO; the
//! emulator stores, checks judge), [`Event::CallStarted`] (scenario
//! `recording-session`) when it accepts an RS and [`Event::CallEnded`] when the RS is
//! over, and each stream's media observations under the name `srs.<label>` (see
//! [`crate::media_io`]): party frames, spans, tones, clips, silence, and at the end
//! [`Event::PartyFrames`] and [`Event::RtpStats`].
//!
//! # Stream names
//!
//! A stream is `srs.<label>` (`srs.1`, `srs.2`), or `srs.m<index>` (0-based m-line index)
//! when the offer has no `a=label`. Names are unique per call label: when a second RS
//! under the same call label (a platform recording caller and callee separately, or the
//! next call of a standalone run) offers a label already used, its streams are
//! `srs.s<n>.<label>` where `n` counts the RSs this emulator accepted (1-based).
//!
//! # What it must not touch
//!
//! No sockets, clocks or threads; no judging: it records what the SRC sent, malformed or
//! not, and never checks the metadata or refuses an INVITE for lacking SIPREC markers
//! (SRS-01 is the concern of an SRS under test, not of the harness recorder, which must
//! take both the RFC and the BroadWorks dialect). It never sends RTP (SRS-03). It never
//! panics on what a peer sends.
//!
//! # Deviations and choices
//!
//! - An INVITE without SDP is answered 488: an SRS cannot know how many streams the SRC
//!   wants to send, so it makes no offer (RFC 3261 would have it offer in the 200).
//! - Only audio m-lines are modelled; a non-audio m-line is declined with port 0 but
//!   written back as `audio` (the SDP builder writes audio only).
//! - A stream keeps its port for the life of the RS, whatever later offers say; a
//!   stream declined (port 0) and offered again gets its old port back.
//! - With [`SrsBehaviour::Silent`] the emulator answers nothing at all (no 100 Trying, no
//!   response to CANCEL, BYE or OPTIONS), so the SRC sees a dead host (Timer B/F).
//! - Every RTP packet that reaches a stream's port is recorded, whatever the negotiated
//!   direction: audio that flows while an SRC says `inactive` is exactly what the pause
//!   checks look for.

use crate::media_io::{
    Detectors, ListenConfig, ListenStream, MediaContext, MediaError, RecordedPcm,
};
use crate::srs_fault::SrsFault;
use crate::wire::{Wire, refusal_of};
use observe::{Actor, Event, Observation};
use sim::{Datagram, Node, Transport};
use sip::endpoint::{
    CallKey, EndReason, Endpoint, EndpointConfig, EndpointError, EndpointEvent, Extra,
    RequestContext,
};
use sip::message::{Method, SipMessage};
use sip::multipart::{
    RECORDING_SESSION, RS_METADATA_LEGACY, RS_METADATA_REQUEST, RS_METADATA_XML, SDP,
};
use sip::sdp::{Codec, Direction, SdpBuilder, SessionDescription, StreamSpec};
use sip::time::Time;
use sip::transaction::TxKey;
use std::any::Any;
use std::cmp::Reverse;
use std::collections::HashMap;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Media types the emulator takes in request bodies (its `Accept` header).
pub const ACCEPT: &str =
    "application/sdp, multipart/mixed, application/rs-metadata+xml, application/rs-metadata";
/// Methods the emulator answers (its `Allow` header).
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO";
/// Scenario name of the [`Event::CallStarted`] the emulator writes for an accepted RS.
pub const RS_SCENARIO: &str = "recording-session";

/// How the emulator answers a new recording session (failure-behaviour tests, POL-13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SrsBehaviour {
    /// 200 with an SDP answer at once.
    #[default]
    Accept,
    /// This final status (300-699) after `after` (100 Trying meanwhile, as the
    /// transaction layer sends it).
    Reject {
        /// Status code.
        code: u16,
        /// Delay before the rejection.
        after: Duration,
    },
    /// Never answers anything (no 100 Trying either): the SRC's Timer B runs out.
    Silent,
}

/// Which harness call a new recording session belongs to, and the media knowledge its
/// streams are decoded with (the party registry of that call's phones, so
/// party-to-recorder latency is measured against the right senders).
#[derive(Debug, Clone)]
pub struct SessionBinding {
    /// Call label of every observation of the session (its SIP, metadata and streams).
    pub call_label: String,
    /// The media context of the call.
    pub media: MediaContext,
    /// What the session's streams look for, when it differs from
    /// [`SrsConfig::detectors`] (only the notices this call can play, say).
    pub detectors: Option<Detectors>,
}

/// Decides, from an RS INVITE (its metadata names the participants), which harness call
/// a new session belongs to; `None` keeps [`SrsConfig::call_label`]. Set by a driver
/// whose one emulator records many calls at once (the load engine).
#[derive(Clone)]
pub struct SessionBinder(pub Arc<BindFn>);

/// The function behind a [`SessionBinder`].
pub type BindFn = dyn Fn(&SipMessage) -> Option<SessionBinding> + Send + Sync;

impl std::fmt::Debug for SessionBinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionBinder")
    }
}

/// Settings of an [`SrsEmulator`].
#[derive(Debug, Clone)]
pub struct SrsConfig {
    /// Node name for logs.
    pub name: String,
    /// SIP address (UDP).
    pub sip_addr: SocketAddr,
    /// Our URI (`sip:srs@10.0.0.9:5080`); the Contact is `<uri>;+sip.srs`.
    pub uri: String,
    /// IP of the RTP ports (written in the SDP `c=` line).
    pub media_ip: IpAddr,
    /// First RTP port of the pool.
    pub rtp_port_base: u16,
    /// Number of RTP ports in the pool: `base`, `base + 2`, ... (one per recorded
    /// stream; RTCP ports are not listened on).
    pub rtp_port_count: u16,
    /// How new sessions are answered.
    pub behaviour: SrsBehaviour,
    /// What each recorded stream is searched for besides party frames (the tone and
    /// announcement leak checks run on these).
    pub detectors: Detectors,
    /// Harness call label put on every observation.
    pub call_label: Option<String>,
    /// Seed of tags, branches and SDP session ids.
    pub seed: u64,
    /// Keep each stream's decoded PCM for [`SrsEmulator::take_recordings`].
    pub keep_pcm: bool,
    /// Ties each new session to a harness call (its own call label and media context);
    /// without it every observation carries [`SrsConfig::call_label`].
    pub binder: Option<SessionBinder>,
    /// Judge what arrives the way a recorder must (when the emulator stands in for a
    /// recorder under test): refuse an INVITE that is no recording session (no metadata,
    /// no SRC marker) with 488 (SRS-04), and metadata that is not well-formed or whose
    /// references dangle with 400 (SRS-08). Off when the emulator is the harness's own
    /// recorder behind a platform under test: then it takes whatever the platform sends
    /// and the checks judge it.
    pub strict_input: bool,
    /// A recorder bug to play ([`SrsFault`]), when it stands in for a recorder under test.
    pub fault: Option<SrsFault>,
    /// Ask the SRC for a metadata snapshot (an UPDATE with a `<requestsnapshot>`, SRS-07)
    /// this long after answering each session, as a recorder does after a restart.
    pub snapshot_after: Option<Duration>,
    /// Stop recording on its own this long after answering each session (storage full,
    /// licence ended): end the session with BYE (SRS-11), or, with
    /// [`SrsFault::StopsSilently`], stop recording and say nothing.
    pub stop_after: Option<Duration>,
}

impl SrsConfig {
    /// An accepting SRS on `sip_addr` with 16 RTP ports from 41000 on `media_ip`.
    pub fn new(sip_addr: SocketAddr, media_ip: IpAddr) -> Self {
        Self {
            name: "srs".to_owned(),
            sip_addr,
            uri: format!("sip:srs@{sip_addr}"),
            media_ip,
            rtp_port_base: 41000,
            rtp_port_count: 16,
            behaviour: SrsBehaviour::Accept,
            detectors: Detectors::default(),
            call_label: None,
            seed: 0x5252,
            keep_pcm: false,
            binder: None,
            strict_input: false,
            fault: None,
            snapshot_after: None,
            stop_after: None,
        }
    }

    /// The RTP addresses of the pool.
    pub fn rtp_addrs(&self) -> Vec<SocketAddr> {
        (0..self.rtp_port_count)
            .filter_map(|i| {
                let port = self.rtp_port_base.checked_add(i.checked_mul(2)?)?;
                Some(SocketAddr::new(self.media_ip, port))
            })
            .collect()
    }
}

/// Why the emulator could not be built or a command was refused.
#[derive(Debug, thiserror::Error)]
pub enum SrsError {
    /// The configuration cannot work (harness set-up error).
    #[error("SRS configuration: {0}")]
    Config(String),
    /// A media configuration error (a reference clip the detectors cannot use).
    #[error(transparent)]
    Media(#[from] MediaError),
    /// No live recording session has this Call-ID.
    #[error("no recording session with Call-ID `{0}`")]
    NoSession(String),
    /// The SIP core refused.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
}

/// How [`SrsEmulator::request_snapshot`] carries the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotVia {
    /// An UPDATE (RFC 7866 §9, checklist SRS-07).
    Update,
    /// An INFO.
    Info,
}

/// One recorded stream of a live session, as the emulator set it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsStreamInfo {
    /// m-line index in the offer (0-based).
    pub index: usize,
    /// `a=label` of the latest offer, if any.
    pub label: Option<String>,
    /// Stream name in the observations (`srs.1`...).
    pub stream: String,
    /// Our RTP port for it.
    pub port: u16,
    /// The direction we answered last.
    pub direction: Direction,
    /// True when we answered the latest offer of this m-line with port 0.
    pub declined: bool,
}

/// A live recording session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsSessionInfo {
    /// SIP Call-ID of the RS dialog.
    pub rs_call_id: String,
    /// Its streams, by m-line index.
    pub streams: Vec<RsStreamInfo>,
    /// Metadata documents received on it so far.
    pub metadata_documents: usize,
}

/// The audio of one recorded stream (when [`SrsConfig::keep_pcm`] is on), for a WAV
/// writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// Stream name (`srs.1`...).
    pub stream: String,
    /// SIP Call-ID of the RS it belonged to.
    pub rs_call_id: String,
    /// `a=label`, if any.
    pub label: Option<String>,
    /// The samples on the stream's timeline.
    pub pcm: RecordedPcm,
}

#[derive(Debug)]
struct RecStream {
    index: usize,
    label: Option<String>,
    port: u16,
    direction: Direction,
    declined: bool,
    listen: ListenStream,
    /// The wake-up this stream has a live entry for in the emulator's timer heap (never
    /// later than what the stream asks for).
    queued: Option<Time>,
}

impl RecStream {
    /// Queues the stream's next wake-up in `heap` unless an entry at or before it is
    /// already there.
    fn requeue(&mut self, heap: &mut BinaryHeap<Reverse<(Time, u16)>>) {
        let Some(d) = self.listen.poll_timeout() else {
            return;
        };
        if self.queued.is_some_and(|q| q <= d) {
            return;
        }
        self.queued = Some(d);
        heap.push(Reverse((d, self.port)));
    }
}

#[derive(Debug)]
struct Session {
    ordinal: u64,
    rs_call_id: String,
    /// The media context its streams decode with (the binder's, else the emulator's).
    media: MediaContext,
    /// What its streams look for, when the binder chose (else [`SrsConfig::detectors`]).
    detectors: Option<Detectors>,
    streams: Vec<RecStream>,
    sdp_version: u64,
    metadata_documents: usize,
}

/// A final response waiting for its time (a delayed rejection, or the 200 of
/// [`SrsFault::SlowAnswer`]).
#[derive(Debug, Clone)]
struct PendingReject {
    at: Time,
    tx: TxKey,
    code: u16,
    extra: Extra,
}

/// What a request body holds for the SRS ([`split_body`]; a capture importer reads
/// recording sessions with it too, so both see the same documents).
#[derive(Debug, Default)]
pub struct BodyParts {
    /// The SDP offer, if any.
    pub sdp: Option<SessionDescription>,
    /// (Content-Type as sent, bytes) of each metadata document or snapshot request.
    pub metadata: Vec<(String, Vec<u8>)>,
    /// The Content-Type of a body the SRS does not take (415).
    pub unsupported: Option<String>,
}

/// The harness-as-SRS. See the [module docs](self).
pub struct SrsEmulator {
    cfg: SrsConfig,
    ctx: MediaContext,
    ep: Endpoint,
    wire: Wire,
    sessions: BTreeMap<CallKey, Session>,
    /// Our RTP port → the session owning it.
    ports: BTreeMap<u16, CallKey>,
    /// Streams' wake-ups by port, earliest first (entries may be stale; see
    /// [`RecStream::queued`]). One heap for every stream, so a timeout costs O(log
    /// streams), not a scan of every session.
    timers: BinaryHeap<Reverse<(Time, u16)>>,
    free_ports: BTreeSet<u16>,
    rejects: Vec<PendingReject>,
    /// Snapshot requests due ([`SrsConfig::snapshot_after`]): when, and the RS Call-ID.
    snapshots_due: Vec<(Time, String)>,
    /// Sessions to stop on its own ([`SrsConfig::stop_after`]): when, and the RS Call-ID.
    stops_due: Vec<(Time, String)>,
    /// Stream names used, per call label.
    used_names: BTreeSet<(Option<String>, String)>,
    accepted: u64,
    recordings: Vec<Recording>,
    stray_rtp: u64,
    /// With a binder: the call label of each RS Call-ID seen in an INVITE.
    labels: HashMap<String, String>,
    /// With a binder: the media context and detectors of a bound INVITE whose session is
    /// not set up yet.
    pending_media: HashMap<String, (MediaContext, Option<Detectors>)>,
    /// Labels of ended sessions, and when to forget them.
    retired: VecDeque<(Time, String)>,
}

/// How late [`SrsFault::SlowAnswer`] sends its 200.
const SLOW_ANSWER: Duration = Duration::from_secs(4);

/// How long the label of an ended session is kept for its last responses.
const LABEL_LINGER: Duration = Duration::from_secs(32);

impl std::fmt::Debug for SrsEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrsEmulator")
            .field("name", &self.cfg.name)
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

impl SrsEmulator {
    /// An SRS with no session. Fails only on a harness configuration error: an empty or
    /// overflowing port pool, a pool port equal to the SIP address, a reference clip the
    /// detectors cannot use.
    pub fn new(cfg: SrsConfig, ctx: MediaContext) -> Result<Self, SrsError> {
        let addrs = cfg.rtp_addrs();
        if addrs.is_empty() || addrs.len() != usize::from(cfg.rtp_port_count) {
            return Err(SrsError::Config(format!(
                "RTP pool of {} ports from {} does not fit in the port range",
                cfg.rtp_port_count, cfg.rtp_port_base
            )));
        }
        if addrs.contains(&cfg.sip_addr) {
            return Err(SrsError::Config(format!(
                "the RTP pool contains the SIP address {}",
                cfg.sip_addr
            )));
        }
        ListenStream::new(
            ListenConfig {
                detectors: cfg.detectors.clone(),
                ..ListenConfig::new("probe", Actor::Srs, None, addrs[0])
            },
            &ctx,
        )?;
        let mut ep_cfg = EndpointConfig::new(cfg.sip_addr, &cfg.uri, cfg.seed);
        ep_cfg.contact = if cfg.fault == Some(SrsFault::NoSrsContact) {
            format!("<{}>", cfg.uri)
        } else {
            format!("<{}>;+sip.srs", cfg.uri)
        };
        ep_cfg.user_agent = Some("recproof-srs".to_owned());
        if cfg.behaviour == SrsBehaviour::Silent {
            ep_cfg.transactions.auto_trying = false;
        }
        Ok(Self {
            ep: Endpoint::new(ep_cfg),
            wire: Wire::new(Actor::Srs, cfg.sip_addr),
            free_ports: addrs.iter().map(SocketAddr::port).collect(),
            ports: BTreeMap::new(),
            sessions: BTreeMap::new(),
            rejects: Vec::new(),
            snapshots_due: Vec::new(),
            stops_due: Vec::new(),
            timers: BinaryHeap::new(),
            used_names: BTreeSet::new(),
            accepted: 0,
            recordings: Vec::new(),
            stray_rtp: 0,
            labels: HashMap::new(),
            pending_media: HashMap::new(),
            retired: VecDeque::new(),
            ctx,
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SrsConfig {
        &self.cfg
    }

    /// Changes the call label of later observations (one emulator serving several
    /// harness calls in a run).
    pub fn set_call_label(&mut self, label: Option<String>) {
        self.cfg.call_label = label;
    }

    /// Changes how later INVITEs are answered.
    pub fn set_behaviour(&mut self, behaviour: SrsBehaviour) {
        self.cfg.behaviour = behaviour;
    }

    /// The live recording sessions, in the order they were accepted.
    pub fn sessions(&self) -> Vec<RsSessionInfo> {
        let mut v: Vec<(u64, RsSessionInfo)> = self
            .sessions
            .values()
            .map(|s| {
                (
                    s.ordinal,
                    RsSessionInfo {
                        rs_call_id: s.rs_call_id.clone(),
                        metadata_documents: s.metadata_documents,
                        streams: s
                            .streams
                            .iter()
                            .map(|r| RsStreamInfo {
                                index: r.index,
                                label: r.label.clone(),
                                stream: r.listen.name().to_owned(),
                                port: r.port,
                                direction: r.direction,
                                declined: r.declined,
                            })
                            .collect(),
                    },
                )
            })
            .collect();
        v.sort_by_key(|(o, _)| *o);
        v.into_iter().map(|(_, s)| s).collect()
    }

    /// RTP datagrams that arrived on a pool port no session owns.
    pub fn stray_rtp(&self) -> u64 {
        self.stray_rtp
    }

    /// The kept audio of the streams of sessions that ended since the last take (with
    /// [`SrsConfig::keep_pcm`]): whole recordings, as a recorder writes its files when a
    /// recording ends. Live sessions keep theirs.
    pub fn take_ended_recordings(&mut self) -> Vec<Recording> {
        std::mem::take(&mut self.recordings)
    }

    /// The kept audio of every stream (with [`SrsConfig::keep_pcm`]): all of it for
    /// sessions that ended, what has been placed so far for live ones. Each call returns
    /// only what earlier calls did not.
    pub fn take_recordings(&mut self) -> Vec<Recording> {
        let mut out = std::mem::take(&mut self.recordings);
        for s in self.sessions.values_mut() {
            for r in &mut s.streams {
                if let Some(pcm) = r.listen.take_pcm() {
                    out.push(Recording {
                        stream: r.listen.name().to_owned(),
                        rs_call_id: s.rs_call_id.clone(),
                        label: r.label.clone(),
                        pcm,
                    });
                }
            }
        }
        out
    }

    /// Asks the SRC for a complete metadata snapshot (RFC 7866 §9, checklist Example 3):
    /// an UPDATE or INFO with `Content-Type: application/rs-metadata-request`,
    /// `Content-Disposition: recording-session` and a `<requestsnapshot>` body.
    pub fn request_snapshot(
        &mut self,
        now: Time,
        rs_call_id: &str,
        reason: &str,
        via: SnapshotVia,
    ) -> Result<(), SrsError> {
        let key = self.key_of(rs_call_id)?;
        let body = snapshot_request_body(reason);
        let extra = if self.cfg.fault == Some(SrsFault::BadSnapshotRequest) {
            // The bug: no Content-Disposition, so the SRC cannot tell it is a request.
            Extra::new().body(RS_METADATA_REQUEST, body)
        } else {
            Extra::new()
                .header("Content-Disposition", RECORDING_SESSION)
                .body(RS_METADATA_REQUEST, body)
        };
        match via {
            SnapshotVia::Update => self.ep.update(now, key, extra)?,
            SnapshotVia::Info => self.ep.info(now, key, extra)?,
        };
        self.pump(now);
        Ok(())
    }

    /// Ends a recording session from the SRS side with BYE (what an SRS does when it
    /// stops recording on its own, SRS-11).
    pub fn hang_up(&mut self, now: Time, rs_call_id: &str) -> Result<(), SrsError> {
        let key = self.key_of(rs_call_id)?;
        self.ep.bye(now, key, Extra::new())?;
        self.pump(now);
        Ok(())
    }

    /// Finishes the streams of every live session without any SIP (end of a run):
    /// flushes and writes their [`Event::PartyFrames`] and [`Event::RtpStats`]. The
    /// sessions stay; later RTP on them is ignored.
    pub fn finish_streams(&mut self, now: Time) {
        for s in self.sessions.values_mut() {
            for r in &mut s.streams {
                r.listen.finish(now);
            }
        }
        self.drain_media();
    }

    /// The call label a live session's stream on our RTP `port` was bound to (with a
    /// binder), if any.
    pub fn call_label_of_port(&self, port: u16) -> Option<&str> {
        let key = self.ports.get(&port)?;
        let s = self.sessions.get(key)?;
        self.labels.get(&s.rs_call_id).map(String::as_str)
    }

    /// The call label the session with this Call-ID was bound to (with a binder), if any.
    pub fn call_label_of(&self, rs_call_id: &str) -> Option<&str> {
        self.labels.get(rs_call_id).map(String::as_str)
    }

    /// Finishes the streams of one live session without any SIP (a driver that stops
    /// waiting for the session to end, to judge its call): flushes and writes their
    /// [`Event::PartyFrames`] and [`Event::RtpStats`]. The session stays; later RTP on it
    /// is ignored. False when no live session has this Call-ID.
    pub fn finish_session(&mut self, now: Time, rs_call_id: &str) -> bool {
        let Some(s) = self
            .sessions
            .values_mut()
            .find(|s| s.rs_call_id == rs_call_id)
        else {
            return false;
        };
        for r in &mut s.streams {
            r.listen.finish(now);
            while let Some(o) = r.listen.poll_observation() {
                self.wire.obs.push_back(o);
            }
        }
        true
    }

    // ---- internals -----------------------------------------------------------------

    fn label(&self) -> Option<String> {
        self.cfg.call_label.clone()
    }

    /// The call label of the RS with this Call-ID (the bound one, else the default).
    fn label_of(&self, rs_call_id: &str) -> Option<String> {
        self.labels
            .get(rs_call_id)
            .cloned()
            .or_else(|| self.cfg.call_label.clone())
    }

    /// With a binder: the label of the message in `bytes`, binding a new RS INVITE first.
    fn bind_message(&mut self, bytes: &bytes::Bytes) -> Option<String> {
        let Some(binder) = self.cfg.binder.clone() else {
            return self.label();
        };
        let Ok(msg) = SipMessage::parse(bytes.clone()) else {
            return self.label();
        };
        let Ok(id) = msg.call_id() else {
            return self.label();
        };
        if !self.labels.contains_key(id)
            && msg.method() == Some(&Method::Invite)
            && msg.to_header().is_ok_and(|t| t.tag().is_none())
            && let Some(b) = (binder.0)(&msg)
        {
            if self.labels.len() > 4 * self.sessions.len() + 4096 {
                // Bound INVITEs that never became sessions (refused, lost): forget them
                // so a long run's memory stays flat.
                let live: BTreeSet<&str> = self
                    .sessions
                    .values()
                    .map(|s| s.rs_call_id.as_str())
                    .collect();
                self.labels.retain(|k, _| live.contains(k.as_str()));
                self.pending_media.retain(|k, _| live.contains(k.as_str()));
            }
            self.labels.insert(id.to_owned(), b.call_label);
            self.pending_media
                .insert(id.to_owned(), (b.media, b.detectors));
        }
        self.label_of(id)
    }

    fn key_of(&self, rs_call_id: &str) -> Result<CallKey, SrsError> {
        self.sessions
            .iter()
            .find(|(_, s)| s.rs_call_id == rs_call_id)
            .map(|(k, _)| *k)
            .ok_or_else(|| SrsError::NoSession(rs_call_id.to_owned()))
    }

    fn answer(&mut self, now: Time, tx: TxKey, code: u16, extra: Extra) {
        // Refusals here are races the SRC caused (a CANCEL answered first, a
        // transaction already gone): nothing to send, the wire log shows why.
        let _ = self.ep.answer(now, tx, code, extra);
    }

    fn malformed_body(
        &mut self,
        now: Time,
        from: SocketAddr,
        request: &SipMessage,
        reason: String,
    ) {
        let label = self.label_of(request.call_id().unwrap_or_default());
        self.wire.note(
            now,
            label,
            Event::SipMalformed {
                transport: "udp".to_owned(),
                remote: from.to_string(),
                message: observe::Payload::from_bytes(request.raw()),
                reason,
            },
        );
    }

    fn note_metadata(
        &mut self,
        now: Time,
        key: Option<CallKey>,
        request: &SipMessage,
        parts: &BodyParts,
    ) {
        if parts.metadata.is_empty() {
            return;
        }
        let rs_call_id = request.call_id().unwrap_or_default().to_owned();
        let method = request
            .method()
            .map_or_else(String::new, |m| m.as_str().to_owned());
        let label = self.label_of(&rs_call_id);
        for (ct, xml) in &parts.metadata {
            self.wire.note(
                now,
                label.clone(),
                Event::Metadata {
                    rs_call_id: rs_call_id.clone(),
                    method: method.clone(),
                    content_type: ct.clone(),
                    xml: String::from_utf8_lossy(xml).into_owned(),
                },
            );
        }
        if let Some(s) = key.and_then(|k| self.sessions.get_mut(&k)) {
            s.metadata_documents += parts.metadata.len();
        }
    }

    fn on_event(&mut self, now: Time, ev: EndpointEvent) {
        if self.wire.malformed(now, self.label(), &ev) {
            return;
        }
        match ev {
            EndpointEvent::IncomingRequest {
                call,
                tx,
                from,
                request,
                context,
                check,
            } => {
                if self.cfg.behaviour == SrsBehaviour::Silent {
                    return;
                }
                if let Some((status, finding)) = refusal_of(&from, &request, &context, &check) {
                    if let Some(finding) = finding {
                        let label = self.label_of(request.call_id().unwrap_or_default());
                        self.wire.refusal_finding(now, label, finding);
                    }
                    if let Some(code) = status {
                        let extra = if code == 405 {
                            Extra::new().header("Allow", ALLOW)
                        } else {
                            Extra::new()
                        };
                        self.answer(now, tx, code, extra);
                    }
                    return;
                }
                self.on_request(now, call, tx, from.addr, &request, context);
            }
            EndpointEvent::AckTimeout { call } => {
                let _ = self.ep.bye(now, call, Extra::new());
            }
            EndpointEvent::DialogTerminated { call, reason } => {
                self.end_session(now, call, &reason)
            }
            _ => {}
        }
    }

    fn on_request(
        &mut self,
        now: Time,
        call: Option<CallKey>,
        tx: TxKey,
        from: SocketAddr,
        request: &SipMessage,
        context: RequestContext,
    ) {
        let method = request.method().cloned();
        match context {
            RequestContext::NewCall => self.on_invite(now, call, tx, from, request),
            RequestContext::Cancel {
                invite,
                invite_pending,
            } => {
                self.answer(now, tx, 200, Extra::new());
                if let Some(inv) = invite.filter(|_| invite_pending) {
                    self.rejects.retain(|r| r.tx != inv);
                    self.answer(now, inv, 487, Extra::new());
                }
            }
            RequestContext::InDialog => {
                let Some(key) = call.filter(|k| self.sessions.contains_key(k)) else {
                    self.answer(now, tx, 481, Extra::new());
                    return;
                };
                match method {
                    Some(Method::Invite | Method::Update) => {
                        self.on_reoffer(now, key, tx, from, request);
                    }
                    Some(Method::Info) => match split_body(request) {
                        Ok(parts) => {
                            self.note_metadata(now, Some(key), request, &parts);
                            self.answer(now, tx, 200, Extra::new());
                        }
                        Err(reason) => {
                            self.malformed_body(now, from, request, reason);
                            self.answer(now, tx, 400, Extra::new());
                        }
                    },
                    Some(Method::Bye | Method::Notify) => self.answer(now, tx, 200, Extra::new()),
                    Some(Method::Options) => self.answer(now, tx, 200, capabilities()),
                    _ => self.answer(now, tx, 405, Extra::new().header("Allow", ALLOW)),
                }
            }
            RequestContext::OutOfDialog => {
                if method == Some(Method::Options) {
                    self.answer(now, tx, 200, capabilities());
                } else {
                    self.answer(now, tx, 405, Extra::new().header("Allow", ALLOW));
                }
            }
        }
    }

    fn on_invite(
        &mut self,
        now: Time,
        call: Option<CallKey>,
        tx: TxKey,
        from: SocketAddr,
        request: &SipMessage,
    ) {
        let parts = match split_body(request) {
            Ok(p) => p,
            Err(reason) => {
                self.malformed_body(now, from, request, reason);
                self.answer(now, tx, 400, Extra::new());
                return;
            }
        };
        self.note_metadata(now, None, request, &parts);
        if self.cfg.strict_input && !self.takes_as_recording_session(now, tx, request, &parts) {
            return;
        }
        match self.cfg.behaviour {
            SrsBehaviour::Silent => {}
            SrsBehaviour::Reject { code, after } => {
                if after.is_zero() {
                    self.answer(now, tx, code, Extra::new());
                } else {
                    self.rejects.push(PendingReject {
                        at: now + after,
                        tx,
                        code,
                        extra: Extra::new(),
                    });
                }
            }
            SrsBehaviour::Accept => {
                if parts.unsupported.is_some() {
                    self.answer(now, tx, 415, Extra::new().header("Accept", ACCEPT));
                    return;
                }
                let (Some(key), Some(offer)) = (call, parts.sdp) else {
                    self.answer(now, tx, 488, Extra::new());
                    return;
                };
                self.accepted += 1;
                // Timed from the 200 (late with SlowAnswer), as a recorder's are.
                let answered_at = if self.cfg.fault == Some(SrsFault::SlowAnswer) {
                    now + SLOW_ANSWER
                } else {
                    now
                };
                if let Some(after) = self.cfg.snapshot_after {
                    let id = request.call_id().unwrap_or_default().to_owned();
                    self.snapshots_due.push((answered_at + after, id));
                }
                if let Some(after) = self.cfg.stop_after {
                    let id = request.call_id().unwrap_or_default().to_owned();
                    self.stops_due.push((answered_at + after, id));
                }
                let rs_call_id = request.call_id().unwrap_or_default().to_owned();
                let (media, detectors) = self
                    .pending_media
                    .remove(&rs_call_id)
                    .unwrap_or_else(|| (self.ctx.clone(), None));
                let session = Session {
                    ordinal: self.accepted,
                    rs_call_id,
                    media,
                    detectors,
                    streams: Vec::new(),
                    sdp_version: 0,
                    metadata_documents: parts.metadata.len(),
                };
                self.sessions.insert(key, session);
                let answer = match self.answer_offer(key, &offer) {
                    Ok(a) => a,
                    Err(code) => {
                        self.release(key);
                        if !(code == 503 && self.cfg.fault == Some(SrsFault::SilentOverCapacity)) {
                            self.answer(now, tx, code, Extra::new());
                        }
                        return;
                    }
                };
                let extra = Extra::new().body(SDP, answer.to_bytes());
                if self.cfg.fault == Some(SrsFault::SlowAnswer) {
                    // The bug: the 200 goes out late (the transaction's 100 Trying at once).
                    self.rejects.push(PendingReject {
                        at: now + SLOW_ANSWER,
                        tx,
                        code: 200,
                        extra,
                    });
                } else if self.ep.answer(now, tx, 200, extra).is_err() {
                    self.release(key);
                    return;
                }
                let caller = request
                    .from_header()
                    .map(|f| f.uri.text)
                    .unwrap_or_default();
                let callee = request.to_header().map(|t| t.uri.text).unwrap_or_default();
                let label = self.label_of(request.call_id().unwrap_or_default());
                self.wire.note(
                    now,
                    label,
                    Event::CallStarted {
                        caller,
                        callee,
                        scenario: RS_SCENARIO.to_owned(),
                    },
                );
            }
        }
    }

    /// With [`SrsConfig::strict_input`]: whether a new INVITE is a recording session
    /// this recorder takes. When it is not, the refusal has been sent (or, with
    /// [`SrsFault::SilentOnBadMetadata`], deliberately not sent) and false is returned.
    fn takes_as_recording_session(
        &mut self,
        now: Time,
        tx: TxKey,
        request: &SipMessage,
        parts: &BodyParts,
    ) -> bool {
        if parts.unsupported.is_some() {
            // Answered 415 below, whatever the markers say.
            return true;
        }
        // RFC 3261 §8.2.2.3: an option tag in Require that this UAS does not support is
        // refused with 420, naming it in Unsupported (SRS-05).
        let unknown: Vec<String> = request
            .header_list("Require")
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("siprec"))
            .map(str::to_owned)
            .collect();
        if !unknown.is_empty() && self.cfg.fault != Some(SrsFault::IgnoresUnknownRequire) {
            self.answer(
                now,
                tx,
                420,
                Extra::new().header("Unsupported", &unknown.join(", ")),
            );
            return false;
        }
        let contact = request.header_value("Contact").unwrap_or_default();
        let src_marker = contact.contains("+sip.src") || contact.contains(";src");
        let require = request
            .header_list("Require")
            .iter()
            .any(|t| t.trim().eq_ignore_ascii_case("siprec"));
        if parts.metadata.is_empty()
            && !src_marker
            && !require
            && self.cfg.fault != Some(SrsFault::TakesPlainInvite)
        {
            let warning =
                "399 recproof-srs \"not a recording session: no SIPREC metadata or marker\"";
            self.answer(now, tx, 488, Extra::new().header("Warning", warning));
            return false;
        }
        if self.cfg.fault == Some(SrsFault::RejectsLegacyType)
            && parts
                .metadata
                .iter()
                .any(|(ct, _)| sip::multipart::media_type_of(ct) == RS_METADATA_LEGACY)
        {
            self.answer(now, tx, 415, Extra::new().header("Accept", ACCEPT));
            return false;
        }
        if self.cfg.fault == Some(SrsFault::RejectsBareLf) && has_bare_lf(request) {
            self.answer(now, tx, 400, Extra::new());
            return false;
        }
        if self.cfg.fault == Some(SrsFault::RejectsBroadWorks) && !require {
            self.answer(now, tx, 403, Extra::new());
            return false;
        }
        let unreadable =
            parts
                .metadata
                .iter()
                .find_map(|(_, xml)| match siprec::metadata::parse(xml) {
                    Err(e) => Some(format!("metadata is not well-formed: {e}")),
                    Ok(doc) => siprec::metadata::check_document(
                        &doc,
                        siprec::Profile::BroadworksCompat,
                        None,
                    )
                    .into_iter()
                    .find(|f| f.requirement == "MD-12" && f.severity == siprec::Severity::Fail)
                    .map(|f| f.message),
                });
        match unreadable {
            None => true,
            Some(reason) => {
                if self.cfg.fault != Some(SrsFault::SilentOnBadMetadata) {
                    let warning = format!("399 recproof-srs \"{}\"", reason.replace('"', "'"));
                    self.answer(now, tx, 400, Extra::new().header("Warning", &warning));
                }
                false
            }
        }
    }

    /// A re-INVITE or UPDATE in a live session.
    fn on_reoffer(
        &mut self,
        now: Time,
        key: CallKey,
        tx: TxKey,
        from: SocketAddr,
        request: &SipMessage,
    ) {
        let parts = match split_body(request) {
            Ok(p) => p,
            Err(reason) => {
                self.malformed_body(now, from, request, reason);
                self.answer(now, tx, 400, Extra::new());
                return;
            }
        };
        self.note_metadata(now, Some(key), request, &parts);
        if parts.unsupported.is_some() {
            self.answer(now, tx, 415, Extra::new().header("Accept", ACCEPT));
            return;
        }
        if self.cfg.fault == Some(SrsFault::RejectsMetadataUpdates) && !parts.metadata.is_empty() {
            self.answer(now, tx, 415, Extra::new().header("Accept", SDP));
            return;
        }
        match parts.sdp {
            Some(offer) => match self.answer_offer(key, &offer) {
                Ok(answer) => {
                    self.answer(now, tx, 200, Extra::new().body(SDP, answer.to_bytes()));
                }
                Err(code) => self.answer(now, tx, code, Extra::new()),
            },
            None if request.method() == Some(&Method::Invite) => {
                // Offerless re-INVITE: our offer goes in the 200, the answer in the ACK.
                let offer = self.current_offer(key);
                let extra = offer.map_or_else(Extra::new, |o| Extra::new().body(SDP, o.to_bytes()));
                self.answer(now, tx, 200, extra);
            }
            None => self.answer(now, tx, 200, Extra::new()),
        }
    }

    /// Sets up or updates the streams of `key` for `offer` and builds the answer; the
    /// error is the status to reject with (488 nothing acceptable, 503 no free port).
    fn answer_offer(
        &mut self,
        key: CallKey,
        offer: &SessionDescription,
    ) -> Result<SessionDescription, u16> {
        let media = offer.media();
        let label = self
            .sessions
            .get(&key)
            .map_or_else(|| self.label(), |s| self.label_of(&s.rs_call_id));
        let ctx = self
            .sessions
            .get(&key)
            .map_or_else(|| self.ctx.clone(), |s| s.media.clone());
        let detectors = self
            .sessions
            .get(&key)
            .and_then(|s| s.detectors.clone())
            .unwrap_or_else(|| self.cfg.detectors.clone());
        let ordinal = self.sessions.get(&key).map_or(0, |s| s.ordinal);
        let initial = self
            .sessions
            .get(&key)
            .is_some_and(|s| s.streams.is_empty() && s.sdp_version == 0);
        let mut specs = Vec::with_capacity(media.len());
        let mut accepted = 0usize;
        let mut out_of_ports = false;
        let fault = self.cfg.fault;
        let mut first_codec: Option<Codec> = None;
        for m in &media {
            if fault == Some(SrsFault::FirstMlineOnly) && m.index > 0 {
                continue;
            }
            let offered = m.codecs();
            let mut audio = offered
                .iter()
                .copied()
                .find(|c| matches!(c, Codec::Pcmu | Codec::Pcma));
            if fault == Some(SrsFault::SameCodec) {
                // The bug: every stream answered with the first stream's codec.
                audio = first_codec.or(audio);
            }
            first_codec = first_codec.or(audio);
            let te = offered.iter().find_map(|c| match c {
                Codec::TelephoneEvent(pt) => Some(*pt),
                _ => None,
            });
            let usable = m.kind == "audio" && !m.is_declined() && audio.is_some();
            let direction = match (m.direction.sends(), fault) {
                (true, Some(SrsFault::AnswerSendrecv)) => Direction::SendRecv,
                (true, _) => Direction::RecvOnly,
                // The bug: the pause is answered as if nothing changed.
                (false, Some(SrsFault::RecordsWhilePaused)) => Direction::RecvOnly,
                (false, _) => Direction::Inactive,
            };
            let existing = self
                .sessions
                .get(&key)
                .and_then(|s| s.streams.iter().position(|r| r.index == m.index));
            let port = match (usable, existing) {
                (false, _) => None,
                (true, Some(i)) => self
                    .sessions
                    .get(&key)
                    .and_then(|s| s.streams.get(i))
                    .map(|r| r.port),
                (true, None) => {
                    let port = self.free_ports.pop_first();
                    match port {
                        Some(p) => {
                            let name =
                                self.stream_name(&label, ordinal, m.label.as_deref(), m.index);
                            let listen = ListenStream::new(
                                ListenConfig {
                                    detectors: detectors.clone(),
                                    keep_pcm: self.cfg.keep_pcm,
                                    ..ListenConfig::new(
                                        &name,
                                        Actor::Srs,
                                        label.clone(),
                                        SocketAddr::new(self.cfg.media_ip, p),
                                    )
                                },
                                &ctx,
                            );
                            match listen {
                                Ok(listen) => {
                                    self.ports.insert(p, key);
                                    if let Some(s) = self.sessions.get_mut(&key) {
                                        s.streams.push(RecStream {
                                            index: m.index,
                                            label: m.label.clone(),
                                            port: p,
                                            direction,
                                            declined: false,
                                            listen,
                                            queued: None,
                                        });
                                        s.streams.sort_by_key(|r| r.index);
                                    }
                                    Some(p)
                                }
                                Err(_) => {
                                    // Cannot happen: the detectors were validated in new().
                                    self.free_ports.insert(p);
                                    None
                                }
                            }
                        }
                        None => {
                            out_of_ports = true;
                            None
                        }
                    }
                }
            };
            if let Some(s) = self.sessions.get_mut(&key)
                && let Some(r) = s.streams.iter_mut().find(|r| r.index == m.index)
            {
                r.declined = port.is_none();
                r.direction = direction;
                if m.label.is_some() {
                    r.label = m.label.clone();
                }
                r.listen.set_telephone_event(te);
            }
            let mut spec = match (port, audio) {
                (Some(p), Some(codec)) => {
                    accepted += 1;
                    let mut codecs = vec![codec];
                    codecs.extend(te.map(Codec::TelephoneEvent));
                    StreamSpec::audio(p).codecs(codecs).direction(direction)
                }
                _ => StreamSpec::audio(0).codecs(vec![audio.unwrap_or(Codec::Pcmu)]),
            };
            spec.label = if fault == Some(SrsFault::Relabel) {
                Some((m.index + 1).to_string())
            } else {
                m.label.clone()
            };
            specs.push(spec);
        }
        if initial && accepted == 0 {
            return Err(if out_of_ports { 503 } else { 488 });
        }
        let session_id = self.session_id(ordinal);
        let version = match self.sessions.get_mut(&key) {
            Some(s) => {
                s.sdp_version += 1;
                s.sdp_version
            }
            None => 1,
        };
        let b = specs.into_iter().fold(
            SdpBuilder::new(self.cfg.media_ip, session_id, version),
            SdpBuilder::stream,
        );
        Ok(b.build())
    }

    /// Our offer for an offerless re-INVITE: the streams as they stand, receiving.
    fn current_offer(&mut self, key: CallKey) -> Option<SessionDescription> {
        let session_id = self.session_id(self.sessions.get(&key)?.ordinal);
        let s = self.sessions.get_mut(&key)?;
        s.sdp_version += 1;
        let mut b = SdpBuilder::new(self.cfg.media_ip, session_id, s.sdp_version);
        for r in &s.streams {
            let mut spec = if r.declined {
                StreamSpec::audio(0).codecs(vec![Codec::Pcmu])
            } else {
                StreamSpec::audio(r.port)
                    .codecs(vec![Codec::Pcmu, Codec::Pcma, Codec::TelephoneEvent(101)])
                    .direction(Direction::RecvOnly)
            };
            spec.label = r.label.clone();
            b = b.stream(spec);
        }
        Some(b.build())
    }

    fn session_id(&self, ordinal: u64) -> u64 {
        (self.cfg.seed % 1_000_000) * 1000 + ordinal
    }

    fn stream_name(
        &mut self,
        call_label: &Option<String>,
        ordinal: u64,
        label: Option<&str>,
        index: usize,
    ) -> String {
        let suffix = match label {
            Some(l) => l.to_owned(),
            None => format!("m{index}"),
        };
        let plain = format!("srs.{suffix}");
        let name = if self
            .used_names
            .contains(&(call_label.clone(), plain.clone()))
        {
            let mut n = format!("srs.s{ordinal}.{suffix}");
            let mut k = 1u32;
            while self.used_names.contains(&(call_label.clone(), n.clone())) {
                k += 1;
                n = format!("srs.s{ordinal}.{suffix}.{k}");
            }
            n
        } else {
            plain
        };
        self.used_names.insert((call_label.clone(), name.clone()));
        name
    }

    /// Removes a session that never got going (its INVITE was refused).
    fn release(&mut self, key: CallKey) {
        if let Some(s) = self.sessions.remove(&key) {
            self.pending_media.remove(&s.rs_call_id);
            for r in s.streams {
                self.ports.remove(&r.port);
                self.free_ports.insert(r.port);
            }
        }
    }

    fn end_session(&mut self, now: Time, key: CallKey, reason: &EndReason) {
        let Some(mut s) = self.sessions.remove(&key) else {
            return;
        };
        for r in &mut s.streams {
            r.listen.finish(now);
            while let Some(o) = r.listen.poll_observation() {
                self.wire.obs.push_back(o);
            }
            if let Some(pcm) = r.listen.take_pcm() {
                self.recordings.push(Recording {
                    stream: r.listen.name().to_owned(),
                    rs_call_id: s.rs_call_id.clone(),
                    label: r.label.clone(),
                    pcm,
                });
            }
            self.ports.remove(&r.port);
            self.free_ports.insert(r.port);
        }
        let reason = reason.to_string();
        let label = self.label_of(&s.rs_call_id);
        self.wire.note(now, label, Event::CallEnded { reason });
        self.pending_media.remove(&s.rs_call_id);
        if self.labels.contains_key(&s.rs_call_id) {
            // Kept while the dialog's last responses may still be sent or retransmitted
            // (Timer J, 32 s), so they carry the call's label too.
            self.retired
                .push_back((now + LABEL_LINGER, s.rs_call_id.clone()));
        }
    }

    fn send_due_rejects(&mut self, now: Time) {
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.rejects)
            .into_iter()
            .partition(|r| r.at <= now);
        self.rejects = later;
        for r in due {
            self.answer(now, r.tx, r.code, r.extra);
        }
    }

    fn drain_media(&mut self) {
        for s in self.sessions.values_mut() {
            for r in &mut s.streams {
                while let Some(o) = r.listen.poll_observation() {
                    self.wire.obs.push_back(o);
                }
            }
        }
    }

    /// Processes endpoint events until none are left, then queues what is to be sent.
    fn pump(&mut self, now: Time) {
        while let Some(ev) = self.ep.poll_event() {
            self.on_event(now, ev);
        }
        let labels = &self.labels;
        let default = &self.cfg.call_label;
        self.wire.drain_labelled(now, &mut self.ep, |bytes| {
            if labels.is_empty() {
                return default.clone();
            }
            SipMessage::parse(bytes::Bytes::copy_from_slice(bytes))
                .ok()
                .and_then(|m| m.call_id().ok().and_then(|id| labels.get(id).cloned()))
                .or_else(|| default.clone())
        });
        // Streams are drained where they are fed (a datagram, a timer, their end), so a
        // SIP message does not cost a walk over every stream of every session.
    }
}

/// True when a multipart body's delimiter lines end in a bare LF (a body written with
/// bare LF line ends; the parts' own content may use either).
fn has_bare_lf(msg: &SipMessage) -> bool {
    let Some(boundary) = msg
        .content_type()
        .and_then(|ct| sip::multipart::content_type_param(ct, "boundary"))
    else {
        return false;
    };
    let body = msg.body();
    let delimiter = format!("--{boundary}");
    let d = delimiter.as_bytes();
    body.windows(d.len())
        .enumerate()
        .filter(|(_, w)| *w == d)
        .any(|(i, _)| body.get(i + d.len()) == Some(&b'\n'))
}

/// Which stream's recording the RTP of stream `i` (of `n`) goes into: its own, or
/// another under the recording faults.
fn recorded_into(fault: Option<SrsFault>, i: usize, n: usize) -> usize {
    match fault {
        Some(SrsFault::MixedRecording) => 0,
        Some(SrsFault::SwappedAttribution) if n == 2 => 1 - i.min(1),
        _ => i,
    }
}

/// The 200 to OPTIONS: what an SRS takes.
fn capabilities() -> Extra {
    Extra::new()
        .header("Allow", ALLOW)
        .header("Accept", ACCEPT)
        .header("Supported", "siprec")
}

/// The `<requestsnapshot>` document of checklist Example 3.
fn snapshot_request_body(reason: &str) -> String {
    let mut escaped = String::with_capacity(reason.len());
    for c in reason.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<requestsnapshot xmlns=\"urn:ietf:params:xml:ns:recording:1\">\r\n  <requestreason xml:lang=\"en\">{escaped}</requestreason>\r\n</requestsnapshot>\r\n"
    )
}

fn is_metadata_type(media_type: &str) -> bool {
    matches!(
        media_type,
        RS_METADATA_XML | RS_METADATA_LEGACY | RS_METADATA_REQUEST
    )
}

/// Splits a request body into the SDP offer and the metadata documents. `Err` (400) for a
/// body that cannot be read: a broken multipart, an unreadable SDP.
pub fn split_body(msg: &SipMessage) -> Result<BodyParts, String> {
    let mut parts = BodyParts::default();
    let body = msg.body();
    if body.is_empty() {
        return Ok(parts);
    }
    let Some(ct) = msg.content_type() else {
        parts.unsupported = Some(String::new());
        return Ok(parts);
    };
    let media_type = sip::multipart::media_type_of(ct);
    if media_type == SDP {
        parts.sdp = Some(SessionDescription::parse(body).map_err(|e| e.to_string())?);
    } else if is_metadata_type(&media_type) {
        parts.metadata.push((ct.to_owned(), body.to_vec()));
    } else if media_type.starts_with("multipart/") {
        let parsed = sip::multipart::parse(ct, body).map_err(|e| format!("multipart body: {e}"))?;
        if parsed.parts.is_empty() {
            return Err("multipart body has no parts".to_owned());
        }
        for p in &parsed.parts {
            let Some(mt) = p.media_type() else { continue };
            if mt == SDP && parts.sdp.is_none() {
                parts.sdp = Some(SessionDescription::parse(&p.body).map_err(|e| e.to_string())?);
            } else if is_metadata_type(&mt) {
                let ct = p.header("Content-Type").unwrap_or_default().to_owned();
                parts.metadata.push((ct, p.body.to_vec()));
            }
        }
    } else {
        parts.unsupported = Some(ct.to_owned());
    }
    Ok(parts)
}

impl Node for SrsEmulator {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn sip_addresses(&self) -> Vec<SocketAddr> {
        vec![self.cfg.sip_addr]
    }

    fn addresses(&self) -> Vec<SocketAddr> {
        let mut v = vec![self.cfg.sip_addr];
        v.extend(self.cfg.rtp_addrs());
        v
    }

    fn handle_datagram(&mut self, now: Time, datagram: Datagram) {
        if datagram.to == self.cfg.sip_addr {
            let label = self.bind_message(&datagram.bytes);
            self.wire.received(now, label, &datagram);
            self.ep
                .handle_datagram(now, datagram.from, datagram.transport, &datagram.bytes);
        } else if datagram.transport == Transport::Udp
            && datagram.to.ip() == self.cfg.media_ip
            && let Some(key) = self.ports.get(&datagram.to.port()).copied()
            && let Some(s) = self.sessions.get_mut(&key)
            && let Some(i) = s.streams.iter().position(|r| r.port == datagram.to.port())
            && let n = s.streams.len()
            && let Some(r) = s.streams.get_mut(recorded_into(self.cfg.fault, i, n))
        {
            r.listen
                .handle_datagram(now, datagram.from, &datagram.bytes);
            r.requeue(&mut self.timers);
            while let Some(o) = r.listen.poll_observation() {
                self.wire.obs.push_back(o);
            }
        } else {
            self.stray_rtp += 1;
        }
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Time) {
        while self.retired.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, id)) = self.retired.pop_front() {
                self.labels.remove(&id);
            }
        }
        self.ep.handle_timeout(now);
        self.pump(now);
        self.send_due_rejects(now);
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.snapshots_due)
            .into_iter()
            .partition(|(t, _)| *t <= now);
        self.snapshots_due = later;
        for (_, id) in due {
            // A session that ended meanwhile has nothing to ask about.
            let _ = self.request_snapshot(now, &id, "recproof certification", SnapshotVia::Update);
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.stops_due)
            .into_iter()
            .partition(|(t, _)| *t <= now);
        self.stops_due = later;
        for (_, id) in due {
            if self.cfg.fault == Some(SrsFault::StopsSilently) {
                // The bug: the recording stops, the session stays up, nobody is told.
                self.finish_session(now, &id);
            } else {
                let _ = self.hang_up(now, &id);
            }
        }
        while let Some(&Reverse((t, port))) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(key) = self.ports.get(&port).copied() else {
                continue;
            };
            let Some(r) = self
                .sessions
                .get_mut(&key)
                .and_then(|s| s.streams.iter_mut().find(|r| r.port == port))
            else {
                continue;
            };
            if r.queued != Some(t) {
                continue;
            }
            r.queued = None;
            r.listen.handle_timeout(now);
            r.requeue(&mut self.timers);
            while let Some(o) = r.listen.poll_observation() {
                self.wire.obs.push_back(o);
            }
        }
        self.pump(now);
    }

    fn poll_transmit(&mut self) -> Option<Datagram> {
        self.wire.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Time> {
        // The heap's top may be stale (early): waking early is harmless.
        let streams = self.timers.peek().map(|Reverse((t, _))| *t);
        let rejects = self.rejects.iter().map(|r| r.at).min();
        let snapshots = self.snapshots_due.iter().map(|(t, _)| *t).min();
        let stops = self.stops_due.iter().map(|(t, _)| *t).min();
        [self.ep.poll_timeout(), streams, rejects, snapshots, stops]
            .into_iter()
            .flatten()
            .min()
    }

    fn poll_observation(&mut self) -> Option<Observation> {
        self.wire.obs.pop_front()
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_body_escapes_the_reason() {
        let body = snapshot_request_body("a<b & \"c\"");
        assert!(
            body.contains(
                "<requestreason xml:lang=\"en\">a&lt;b &amp; &quot;c&quot;</requestreason>"
            ),
            "{body}"
        );
        assert!(body.contains("<requestsnapshot xmlns=\"urn:ietf:params:xml:ns:recording:1\">"));
    }

    #[test]
    fn pool_must_not_hold_the_sip_address() {
        let ctx = MediaContext::with_default_signal().expect("signal");
        let mut cfg = SrsConfig::new(
            "10.0.0.9:41000".parse().expect("addr"),
            "10.0.0.9".parse().expect("ip"),
        );
        assert!(matches!(
            SrsEmulator::new(cfg.clone(), ctx.clone()),
            Err(SrsError::Config(_))
        ));
        cfg.rtp_port_base = 42000;
        assert!(SrsEmulator::new(cfg.clone(), ctx.clone()).is_ok());
        cfg.rtp_port_base = 65530;
        assert!(matches!(
            SrsEmulator::new(cfg, ctx),
            Err(SrsError::Config(_))
        ));
    }
}
