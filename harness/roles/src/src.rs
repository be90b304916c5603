//! The harness SRC: recproof playing the platform's part of SIPREC (the session recording
//! client) against a recorder under test, as a [`Node`].
//!
//! # What this module owns
//!
//! [`HarnessSrc`] owns one SIP address (UDP), two RTP ports on one media IP (one per
//! recorded party: [`SrcConfig::rtp_port_base`] and the next even port), a sans-IO
//! [`Endpoint`], and at most one recording session (RS) at a time. A driver opens a
//! session with [`HarnessSrc::open`] and an [`RsRequest`]: which case ([`RsCase`]: a
//! valid session, or a negative one a recorder must refuse), the dialect and how the
//! multipart body is written. It then sends what real SRCs send, built by
//! [`siprec::rs`] (the same builder the reference platform uses):
//!
//! - the RS INVITE with SDP (two `sendonly` m-lines, [`SRC_LABELS`], stream 1 offering
//!   PCMU and stream 2 PCMA, so an answer that copies one stream's codec onto the other is
//!   seen) and the metadata (both participants, both streams);
//! - on a 2xx, the ACK and, on each answered m-line, the instrumented audio of one party
//!   (stream 1 the caller's, stream 2 the callee's), from the 2xx on;
//! - [`HarnessSrc::pause`] and [`HarnessSrc::resume`]: a re-INVITE with the streams
//!   `a=inactive` (RFC) or `c=0.0.0.0` (BroadWorks), no audio while paused;
//! - [`HarnessSrc::update_metadata`]: an UPDATE carrying a complete metadata document;
//! - [`HarnessSrc::end`]: BYE (or CANCEL while the INVITE is unanswered).
//!
//! Each local RTP port has a listen stream (`src.heard.<label>`): a recorder must send no
//! RTP (SRS-03), and anything it sends is observed there.
//!
//! Observations (actor [`Actor::Src`], [`SrcConfig::call_label`]): every SIP message sent
//! and received, [`Event::RsCase`] when it sends an INVITE (what the session was meant to
//! test, so the checks know what the answer should have been), [`Event::CallStarted`] and
//! [`Event::CallEnded`] per session, and the media observations of its send and listen
//! streams.
//!
//! # What it must not touch
//!
//! No sockets, clocks or threads; no judging: a refused or unanswered session is
//! recorded, not failed. It never panics on what a recorder sends.

use crate::media_io::{
    AudioSource, Detectors, ListenConfig, ListenStream, MediaContext, MediaError, SendConfig,
    SendStream,
};
use crate::wire::{Wire, refusal_of, sdp_of, socket_of};
use media::g711::Law;
use media::signal::PartyId;
use observe::{Actor, Event, Observation};
use sim::{Datagram, Node, Transport};
use sip::endpoint::{
    CallKey, Endpoint, EndpointConfig, EndpointError, EndpointEvent, Extra, RequestContext,
};
use sip::message::{Method, SipMessage};
use sip::sdp::{Codec, SessionDescription};
use sip::time::Time;
use sip::transaction::PeerAddr;
use siprec::metadata::{self, Dialect, Recording};
use siprec::rs::{RsBodyStyle, RsDocs, RsSdpState, RsShape, RsSubject, src_contact};
use std::any::Any;
use std::net::{IpAddr, SocketAddr};

/// The SDP labels the harness SRC offers, stream 1 (caller) and stream 2 (callee). Not
/// `1` and `2`: a label is any token (RFC 4574), and a recorder that assumes `1`/`2`
/// must be seen doing so.
pub const SRC_LABELS: [&str; 2] = ["101", "102"];

/// The codec offered on each stream (stream 1 PCMU, stream 2 PCMA).
pub const SRC_CODECS: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

/// What a recording session the harness SRC opens is meant to test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsCase {
    /// A well-formed RS: the recorder must take it.
    Valid,
    /// An INVITE with SDP only: no SIPREC markers, no metadata. Not a recording session
    /// (SRS-04): the recorder must refuse it.
    PlainInvite,
    /// The metadata part is cut off half way: not well-formed XML (SRS-08: 400).
    MalformedXml,
    /// Well-formed metadata whose participant sends on a stream ID that is not defined
    /// (SRS-08).
    DanglingReference,
    /// The whole body is of a type no recorder takes (SRS-08: 415 with `Accept`).
    UnsupportedBody,
    /// A valid RS whose metadata is padded (an XML comment) to about the largest a UDP
    /// datagram carries: the recorder must answer it either way, never stay silent.
    Oversized,
    /// Metadata with a DTD whose nested entities expand to about 10^9 characters ("billion
    /// laughs"): the recorder must refuse it with a 4xx, neither expand it nor go silent
    /// (SRS-08).
    EntityExpansion,
    /// A valid RS sent as one of many at once (SRS-14): the recorder takes it or refuses
    /// it with 503, promptly, never silently.
    Load,
    /// A valid RS whose `Require` also names an option tag no recorder supports
    /// ([`UNKNOWN_OPTION_TAG`]): RFC 3261 §8.2.2.3 says 420 (Bad Extension) with that tag
    /// in `Unsupported` (SRS-05), not a session taken on terms it cannot honour.
    UnknownRequire,
}

impl RsCase {
    /// Every case, in the order a certification run sends them.
    pub const ALL: [RsCase; 9] = [
        Self::Valid,
        Self::PlainInvite,
        Self::MalformedXml,
        Self::DanglingReference,
        Self::UnsupportedBody,
        Self::Oversized,
        Self::EntityExpansion,
        Self::Load,
        Self::UnknownRequire,
    ];

    /// The case's name in [`Event::RsCase`].
    pub fn name(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::PlainInvite => "plain-invite",
            Self::MalformedXml => "malformed-xml",
            Self::DanglingReference => "dangling-reference",
            Self::UnsupportedBody => "unsupported-body",
            Self::Oversized => "oversized",
            Self::EntityExpansion => "entity-expansion",
            Self::Load => "load",
            Self::UnknownRequire => "unknown-require",
        }
    }

    /// The case of a name, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// The option tag [`RsCase::UnknownRequire`] requires beside `siprec`: registered
/// nowhere, so no recorder can support it.
pub const UNKNOWN_OPTION_TAG: &str = "x-recproof-unknown-extension";

/// The media type of [`RsCase::UnsupportedBody`]'s body.
pub const UNSUPPORTED_BODY_TYPE: &str = "application/vnd.recproof.unknown+xml";

/// Size [`RsCase::Oversized`] pads the INVITE to over UDP, in bytes: under the
/// 65,507-byte payload of a UDP datagram over IPv4, with room for the headers.
pub const OVERSIZED_INVITE_BYTES: usize = 60_000;

/// Size [`RsCase::Oversized`] pads the INVITE to over TCP (no datagram bound): 1 MB.
pub const OVERSIZED_TCP_INVITE_BYTES: usize = 1 << 20;

/// One session to open: its case, dialect and body style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsRequest {
    /// What the session tests.
    pub case: RsCase,
    /// The dialect of its headers and metadata.
    pub dialect: Dialect,
    /// How its multipart body is written.
    pub style: RsBodyStyle,
}

impl RsRequest {
    /// A valid session written the way the dialect's SRCs write it.
    pub fn valid(dialect: Dialect) -> Self {
        Self::of(RsCase::Valid, dialect)
    }

    /// A session of this case in the dialect's own body style.
    pub fn of(case: RsCase, dialect: Dialect) -> Self {
        Self {
            case,
            dialect,
            style: RsBodyStyle::of(dialect),
        }
    }

    /// The style as one line for [`Event::RsCase`]: part order, line end, header spacing
    /// and metadata media type.
    pub fn style_text(&self) -> String {
        let s = &self.style;
        format!(
            "{} {} {} {}",
            if s.metadata_first {
                "metadata-first"
            } else {
                "sdp-first"
            },
            if s.style.line_end == "\n" {
                "lf"
            } else {
                "crlf"
            },
            if s.style.space_after_colon {
                "space"
            } else {
                "no-space"
            },
            s.metadata_type
        )
    }
}

/// The name of a dialect in [`Event::RsCase`] (the validation profile's name).
pub fn dialect_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Rfc7865 => "rfc-strict",
        Dialect::BroadWorks => "broadworks-compat",
    }
}

/// Settings of a [`HarnessSrc`].
#[derive(Debug, Clone)]
pub struct SrcConfig {
    /// Node name for logs.
    pub name: String,
    /// Harness call label put on every observation.
    pub call_label: Option<String>,
    /// SIP address (UDP).
    pub sip_addr: SocketAddr,
    /// IP of the RTP ports.
    pub media_ip: IpAddr,
    /// First RTP port; stream 2 uses the next even port.
    pub rtp_port_base: u16,
    /// The recorder's SIP address.
    pub target: SocketAddr,
    /// The Request-URI of RS INVITEs (`sip:srs@host:port`).
    pub target_uri: String,
    /// The recorded person and the call, as the metadata describes them.
    pub subject: SrcSubject,
    /// Wall-clock time of the run clock's zero: metadata times are this plus the run
    /// time (a fixed epoch when simulated, the wall clock in real time).
    pub epoch: jiff::Timestamp,
    /// Seed of the audio (SSRCs) and the metadata IDs.
    pub seed: u64,
    /// Seed of tags, branches and Call-IDs (a real-time run draws a fresh one).
    pub sip_seed: Option<u64>,
    /// The transport towards the recorder (and in the SRC's Contact): UDP unless the
    /// recorder profile says TCP.
    pub sip_transport: Transport,
}

/// The call the harness SRC says it records (the metadata's participants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrcSubject {
    /// AOR of the caller (stream 1).
    pub caller_aor: String,
    /// AOR of the callee (stream 2).
    pub callee_aor: String,
}

impl SrcConfig {
    /// A harness SRC on `sip_addr` with RTP ports 20000/20002 on its IP, recording a call
    /// from `sip:+15550100@example.com` to `sip:+15550200@example.com` at `target`.
    pub fn new(sip_addr: SocketAddr, target: SocketAddr) -> Self {
        Self {
            name: "src".to_owned(),
            call_label: None,
            sip_addr,
            media_ip: sip_addr.ip(),
            rtp_port_base: 20000,
            target,
            target_uri: format!("sip:srs@{target}"),
            subject: SrcSubject {
                caller_aor: "sip:+15550100@example.com".to_owned(),
                callee_aor: "sip:+15550200@example.com".to_owned(),
            },
            epoch: jiff::Timestamp::UNIX_EPOCH,
            seed: 0x5352_4300,
            sip_seed: None,
            sip_transport: Transport::Udp,
        }
    }

    /// The two RTP addresses: stream 1, stream 2.
    pub fn rtp_addrs(&self) -> [SocketAddr; 2] {
        [
            SocketAddr::new(self.media_ip, self.rtp_port_base),
            SocketAddr::new(self.media_ip, self.rtp_port_base.saturating_add(2)),
        ]
    }
}

/// A Contact value with `;transport=tcp` added to its URI (inside the angle brackets)
/// when the SRC speaks TCP, so the recorder sends its in-dialog requests over TCP too.
fn with_transport(contact: &str, transport: Transport) -> String {
    match (transport, contact.find('>')) {
        (Transport::Tcp, Some(end)) => {
            format!("{};transport=tcp{}", &contact[..end], &contact[end..])
        }
        _ => contact.to_owned(),
    }
}

/// Why a command was refused.
#[derive(Debug, thiserror::Error)]
pub enum SrcError {
    /// A session is already open (one at a time).
    #[error("a recording session is already open")]
    Busy,
    /// No session to act on, or not in a state that allows it.
    #[error("no answered recording session to act on")]
    NoSession,
    /// The SIP core refused.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// A media set-up error (harness configuration).
    #[error(transparent)]
    Media(#[from] MediaError),
}

/// Where the one session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionPhase {
    /// INVITE sent, no final response yet.
    Inviting,
    /// Answered 2xx.
    Active,
    /// BYE or CANCEL sent.
    Ending,
}

struct Session {
    key: CallKey,
    phase: SessionPhase,
    docs: RsDocs,
    /// Our offer awaiting its answer.
    offer: Option<SessionDescription>,
    senders: Vec<SendStream>,
    listeners: Vec<ListenStream>,
    paused: bool,
}

/// The harness playing the recording client. See the [module docs](self).
pub struct HarnessSrc {
    cfg: SrcConfig,
    ctx: MediaContext,
    ep: Endpoint,
    wire: Wire,
    session: Option<Session>,
    opened: u64,
    /// Status of the last final response to an INVITE of ours, and when it came.
    last_final: Option<(u16, Time)>,
}

impl std::fmt::Debug for HarnessSrc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HarnessSrc")
            .field("name", &self.cfg.name)
            .field("phase", &self.phase())
            .finish()
    }
}

impl HarnessSrc {
    /// A harness SRC with no session.
    pub fn new(cfg: SrcConfig, ctx: MediaContext) -> Self {
        let mut ep_cfg = EndpointConfig::new(
            cfg.sip_addr,
            &format!("sip:src@{}", cfg.sip_addr),
            cfg.sip_seed.unwrap_or(cfg.seed),
        );
        ep_cfg.user_agent = Some("recproof-src".to_owned());
        Self {
            ep: Endpoint::new(ep_cfg),
            wire: Wire::new(Actor::Src, cfg.sip_addr),
            ctx,
            cfg,
            session: None,
            opened: 0,
            last_final: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SrcConfig {
        &self.cfg
    }

    /// Sets the wall-clock time of the run clock's zero (a real-time driver knows it
    /// only once its sockets are bound).
    pub fn set_epoch(&mut self, epoch: jiff::Timestamp) {
        self.cfg.epoch = epoch;
    }

    /// Where the open session stands; `None` when none is open.
    pub fn phase(&self) -> Option<SessionPhase> {
        self.session.as_ref().map(|s| s.phase)
    }

    /// The final status of the last INVITE answered, and when it came.
    pub fn last_final(&self) -> Option<(u16, Time)> {
        self.last_final
    }

    /// Opens a recording session at the recorder: sends its INVITE.
    pub fn open(&mut self, now: Time, req: &RsRequest) -> Result<(), SrcError> {
        if self.session.is_some() {
            return Err(SrcError::Busy);
        }
        self.opened += 1;
        self.last_final = None;
        let subject = RsSubject {
            user_aor: self.cfg.subject.caller_aor.clone(),
            service_provider: Some("recproof".to_owned()),
            external_group: Some("certification".to_owned()),
            external_identifier: Some(self.cfg.subject.caller_aor.clone()),
            originating: true,
            party1_aor: self.cfg.subject.caller_aor.clone(),
            party2_aor: self.cfg.subject.callee_aor.clone(),
            dialed: self.cfg.subject.callee_aor.clone(),
        };
        let shape = RsShape {
            labels: SRC_LABELS,
            single_stream: false,
            label_mismatch: false,
            offset_times: false,
        };
        let started = self
            .cfg
            .epoch
            .checked_add(jiff::SignedDuration::from_micros(
                i64::try_from(now.as_micros()).unwrap_or(i64::MAX),
            ))
            .unwrap_or(self.cfg.epoch);
        let mut docs = RsDocs::new(
            req.dialect,
            shape,
            &subject,
            self.cfg.seed.wrapping_add(self.opened),
            self.opened,
            started,
        );
        let [a1, a2] = self.cfg.rtp_addrs();
        let codecs = [vec![SRC_CODECS[0]], vec![SRC_CODECS[1]]];
        let sdp = docs.sdp_with_codecs(
            self.cfg.media_ip,
            &[a1.port(), a2.port()],
            RsSdpState::Active,
            &codecs,
        );
        let contact = with_transport(
            &src_contact(req.dialect, true, self.cfg.sip_addr),
            self.cfg.sip_transport,
        );
        let extra = match req.case {
            RsCase::Valid | RsCase::Load => docs.initial_invite_styled(&sdp, &req.style),
            RsCase::UnknownRequire => {
                let mut extra = docs.initial_invite_styled(&sdp, &req.style);
                extra
                    .headers
                    .retain(|(n, _)| !n.eq_ignore_ascii_case("Require"));
                extra.header("Require", &format!("siprec, {UNKNOWN_OPTION_TAG}"))
            }
            RsCase::PlainInvite => Extra::new()
                .omit("Contact")
                .header(
                    "Contact",
                    &with_transport(&format!("<sip:src@{}>", self.cfg.sip_addr), self.cfg.sip_transport),
                )
                .body(sip::multipart::SDP, sdp.to_bytes()),
            RsCase::MalformedXml => {
                let xml = metadata::to_xml(&docs.recording, req.dialect);
                // Cut half way, inside the document: its root is never closed.
                let cut = xml.len() / 2;
                let bytes = xml.as_bytes().get(..cut).unwrap_or_default().to_vec();
                docs.initial_invite_with_metadata(&sdp, &req.style, bytes)
            }
            RsCase::DanglingReference => {
                let mut rec = docs.recording.clone();
                if let Some(a) = rec.participant_stream_assocs.first_mut() {
                    a.send = vec![dangling_id(req.dialect)];
                }
                let xml = metadata::to_xml(&rec, req.dialect);
                docs.initial_invite_with_metadata(&sdp, &req.style, xml.into_bytes())
            }
            RsCase::UnsupportedBody => Extra::new().body(
                UNSUPPORTED_BODY_TYPE,
                "<recproof xmlns=\"urn:x-recproof:unknown\">not a recording session body</recproof>"
                    .as_bytes()
                    .to_vec(),
            ),
            RsCase::EntityExpansion => {
                docs.initial_invite_with_metadata(&sdp, &req.style, entity_bomb(req.dialect))
            }
            RsCase::Oversized => {
                let xml = metadata::to_xml(&docs.recording, req.dialect);
                let size = match self.cfg.sip_transport {
                    Transport::Tcp => OVERSIZED_TCP_INVITE_BYTES,
                    Transport::Udp => OVERSIZED_INVITE_BYTES,
                };
                let padded = pad_xml(&xml, size.saturating_sub(2000));
                docs.initial_invite_with_metadata(&sdp, &req.style, padded.into_bytes())
            }
        };
        let extra = if req.case == RsCase::PlainInvite {
            extra
        } else {
            Extra {
                omit: vec!["Contact".to_owned()],
                headers: std::iter::once(("Contact".to_owned(), contact))
                    .chain(extra.headers)
                    .collect(),
                body: extra.body,
            }
        };
        let key = self.ep.invite(
            now,
            &self.cfg.target_uri,
            PeerAddr::new(self.cfg.target, self.cfg.sip_transport),
            extra,
        )?;
        let rs_call_id = self.ep.call_id(key).unwrap_or_default().to_owned();
        self.wire.note(
            now,
            self.label(),
            Event::RsCase {
                rs_call_id,
                case: req.case.name().to_owned(),
                dialect: dialect_name(req.dialect).to_owned(),
                style: req.style_text(),
                labels: SRC_LABELS.iter().map(|l| (*l).to_owned()).collect(),
                codecs: codecs
                    .iter()
                    .map(|cs| cs.iter().map(codec_name).collect())
                    .collect(),
            },
        );
        self.wire.note(
            now,
            self.label(),
            Event::CallStarted {
                caller: self.cfg.subject.caller_aor.clone(),
                callee: self.cfg.target_uri.clone(),
                scenario: format!("rs {}", req.case.name()),
            },
        );
        self.session = Some(Session {
            key,
            phase: SessionPhase::Inviting,
            docs,
            offer: Some(sdp),
            senders: Vec::new(),
            listeners: Vec::new(),
            paused: false,
        });
        self.pump(now);
        Ok(())
    }

    /// Pauses the recording: a re-INVITE with the streams `a=inactive` (`inactive`) or
    /// `sendonly` at `c=0.0.0.0` (BroadWorks), and no audio from now on.
    pub fn pause(&mut self, now: Time, inactive: bool) -> Result<(), SrcError> {
        let state = if inactive {
            RsSdpState::Inactive
        } else {
            RsSdpState::Hold0000
        };
        self.reoffer(now, state, true)
    }

    /// Resumes after [`HarnessSrc::pause`]: a re-INVITE with the streams `sendonly` again.
    pub fn resume(&mut self, now: Time) -> Result<(), SrcError> {
        self.reoffer(now, RsSdpState::Active, false)
    }

    /// Sends a partial metadata update (RFC 7865 `datamode` partial: the callee renamed)
    /// in an UPDATE with no SDP (SRS-06).
    pub fn update_partial_metadata(&mut self, now: Time) -> Result<(), SrcError> {
        let s = self.active()?;
        let key = s.key;
        let extra = s.docs.metadata_update(&s.docs.partial_update());
        self.ep.update(now, key, extra)?;
        self.pump(now);
        Ok(())
    }

    /// Sends a re-INVITE carrying the same streams (`sendonly`) and the complete metadata
    /// in one multipart body (SRS-06: metadata on a re-INVITE).
    pub fn reinvite_with_metadata(&mut self, now: Time) -> Result<(), SrcError> {
        let doc = self.active()?.docs.recording.clone();
        self.reoffer_with(now, RsSdpState::Active, false, Some(&doc))
    }

    /// Sends the session's complete metadata again in an UPDATE (a metadata update with
    /// no SDP).
    pub fn update_metadata(&mut self, now: Time) -> Result<(), SrcError> {
        let s = self.active()?;
        let key = s.key;
        let extra = s.docs.metadata_update(&s.docs.recording.clone());
        self.ep.update(now, key, extra)?;
        self.pump(now);
        Ok(())
    }

    /// Ends the session: BYE when answered, CANCEL while the INVITE is unanswered. With
    /// no session, does nothing.
    pub fn end(&mut self, now: Time) -> Result<(), SrcError> {
        let Some(s) = self.session.as_mut() else {
            return Ok(());
        };
        let key = s.key;
        match s.phase {
            SessionPhase::Active => {
                s.phase = SessionPhase::Ending;
                for tx in &mut s.senders {
                    tx.stop();
                }
                self.ep.bye(now, key, Extra::new())?;
            }
            SessionPhase::Inviting => {
                s.phase = SessionPhase::Ending;
                self.ep.cancel(now, key)?;
            }
            SessionPhase::Ending => {}
        }
        self.pump(now);
        Ok(())
    }

    /// Forgets a session that will never end by itself (its INVITE got no answer at all
    /// and the CANCEL none either): ends its streams and logs the end.
    pub fn abandon(&mut self, now: Time) {
        if self.session.is_some() {
            self.end_session(now, "abandoned: no final response");
        }
    }

    // ---- internals -----------------------------------------------------------------

    fn label(&self) -> Option<String> {
        self.cfg.call_label.clone()
    }

    fn active(&self) -> Result<&Session, SrcError> {
        self.session
            .as_ref()
            .filter(|s| s.phase == SessionPhase::Active)
            .ok_or(SrcError::NoSession)
    }

    fn reoffer(&mut self, now: Time, state: RsSdpState, pause: bool) -> Result<(), SrcError> {
        self.reoffer_with(now, state, pause, None)
    }

    /// A re-INVITE offering the streams in `state`, with `metadata` beside the SDP when
    /// given.
    fn reoffer_with(
        &mut self,
        now: Time,
        state: RsSdpState,
        pause: bool,
        metadata: Option<&Recording>,
    ) -> Result<(), SrcError> {
        let ip = self.cfg.media_ip;
        let [a1, a2] = self.cfg.rtp_addrs();
        let s = self
            .session
            .as_mut()
            .filter(|s| s.phase == SessionPhase::Active)
            .ok_or(SrcError::NoSession)?;
        let codecs = [vec![SRC_CODECS[0]], vec![SRC_CODECS[1]]];
        let sdp = s
            .docs
            .sdp_with_codecs(ip, &[a1.port(), a2.port()], state, &codecs);
        let extra = match metadata {
            Some(doc) => s
                .docs
                .reinvite_with_metadata(&sdp, &RsBodyStyle::of(s.docs.dialect), doc),
            None => s.docs.reinvite(&sdp),
        };
        let key = s.key;
        self.ep.reinvite(now, key, extra)?;
        if let Some(s) = self.session.as_mut() {
            s.offer = Some(sdp);
            s.paused = pause;
            if pause {
                for tx in &mut s.senders {
                    tx.set_remote(None);
                }
            }
        }
        self.pump(now);
        Ok(())
    }

    /// The answer to our offer arrived: start (or re-point) the parties' audio.
    fn apply_answer(&mut self, now: Time, answer: &SessionDescription) {
        let label = self.label();
        let addrs = self.cfg.rtp_addrs();
        let seed = self.cfg.seed;
        let opened = self.opened;
        let ctx = self.ctx.clone();
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(offer) = s.offer.take() else { return };
        let agreed = sip::sdp::negotiate(&offer, answer).unwrap_or_default();
        if s.senders.is_empty() {
            for (i, local) in addrs.iter().enumerate() {
                let (party, name) = if i == 0 {
                    (PartyId(1), "caller")
                } else {
                    (PartyId(2), "callee")
                };
                let tag = SRC_LABELS.get(i).copied().unwrap_or("x");
                let cfg = SendConfig {
                    stream: format!("src.sent.{tag}"),
                    actor: Actor::Src,
                    call: label.clone(),
                    local: *local,
                    law: law_of(SRC_CODECS.get(i).copied()),
                    telephone_event: None,
                    seed: seed
                        .wrapping_mul(0x9E37_79B9)
                        .wrapping_add(opened * 4 + i as u64),
                };
                let mut tx = SendStream::new(cfg, AudioSource::party(&ctx, party, name), &ctx);
                tx.start(now);
                s.senders.push(tx);
                if let Ok(l) = ListenStream::new(
                    ListenConfig {
                        detectors: Detectors::default(),
                        ..ListenConfig::new(
                            &format!("src.heard.{tag}"),
                            Actor::Src,
                            label.clone(),
                            *local,
                        )
                    },
                    &ctx,
                ) {
                    s.listeners.push(l);
                }
            }
        }
        // Where the answer is not a valid answer to the offer (another m-line count, a
        // codec that stream did not offer), each stream still goes where its answer
        // m-line points, in the codec we offered: the recorder's answer is judged from
        // the log, and what it then receives is part of what is judged.
        let fallback: Vec<(usize, Option<SocketAddr>)> = answer
            .media()
            .iter()
            .map(|m| {
                let to = (!m.is_declined())
                    .then(|| m.connection.clone().map(|c| (c, m.port)))
                    .flatten()
                    .and_then(|t| socket_of(&t));
                (m.index, to)
            })
            .collect();
        for (i, tx) in s.senders.iter_mut().enumerate() {
            let a = agreed.iter().find(|a| a.index == i);
            let target = match a {
                Some(a) => a.offerer_sends_to.as_ref().and_then(socket_of),
                None if agreed.is_empty() => fallback
                    .iter()
                    .find(|(idx, _)| *idx == i)
                    .and_then(|(_, to)| *to),
                None => None,
            };
            tx.set_remote(if s.paused { None } else { target });
            if let Some(codec) = a.and_then(|a| a.codec) {
                tx.set_law(law_of(Some(codec)));
            }
        }
    }

    fn end_session(&mut self, now: Time, reason: &str) {
        let Some(mut s) = self.session.take() else {
            return;
        };
        for tx in &mut s.senders {
            tx.stop();
            drain_send(tx, &mut self.wire);
        }
        for l in &mut s.listeners {
            l.finish(now);
            while let Some(o) = l.poll_observation() {
                self.wire.obs.push_back(o);
            }
        }
        self.wire.note(
            now,
            self.label(),
            Event::CallEnded {
                reason: reason.to_owned(),
            },
        );
    }

    fn is_ours(&self, key: Option<CallKey>) -> bool {
        key.is_some() && self.session.as_ref().map(|s| s.key) == key
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
                if let Some((status, finding)) = refusal_of(&from, &request, &context, &check) {
                    if let Some(finding) = finding {
                        self.wire.refusal_finding(now, self.label(), finding);
                    }
                    if let Some(code) = status {
                        let _ = self.ep.answer(now, tx, code, Extra::new());
                    }
                    return;
                }
                // A snapshot request (RFC 7866 §9): answered 200, then a complete
                // snapshot in an UPDATE (what an SRC owes, checklist SRC-21).
                let snapshot = matches!(context, RequestContext::InDialog)
                    && self.is_ours(call)
                    && is_snapshot_request(&request);
                let code = match context {
                    RequestContext::InDialog if self.is_ours(call) => {
                        match request.method() {
                            Some(Method::Bye | Method::Update | Method::Info | Method::Options) => {
                                200
                            }
                            // A recorder's re-INVITE (a snapshot request, or an offer)
                            // is not followed: the SRC answers 488 and keeps its media.
                            Some(Method::Invite) => 488,
                            _ => 405,
                        }
                    }
                    RequestContext::InDialog => 481,
                    RequestContext::Cancel { .. } => 200,
                    RequestContext::NewCall => 403,
                    RequestContext::OutOfDialog => {
                        if request.method() == Some(&Method::Options) {
                            200
                        } else {
                            405
                        }
                    }
                };
                let _ = self.ep.answer(now, tx, code, Extra::new());
                if snapshot && code == 200 {
                    let _ = self.update_metadata(now);
                }
            }
            EndpointEvent::Response { call, response, .. } if self.is_ours(call) => {
                self.on_response(now, &response);
            }
            EndpointEvent::AckTimeout { call } => {
                let _ = self.ep.bye(now, call, Extra::new());
            }
            EndpointEvent::DialogTerminated { call, reason } if self.is_ours(Some(call)) => {
                self.end_session(now, &reason.to_string());
            }
            _ => {}
        }
    }

    fn on_response(&mut self, now: Time, response: &SipMessage) {
        let (Some(code), Ok(cseq)) = (response.status(), response.cseq()) else {
            return;
        };
        if code < 200 {
            return;
        }
        let Some(s) = self.session.as_mut() else {
            return;
        };
        if cseq.method == Method::Invite && s.phase == SessionPhase::Inviting {
            self.last_final = Some((code, now));
            if code < 300 {
                s.phase = SessionPhase::Active;
            }
        }
        if cseq.method != Method::Invite {
            return;
        }
        if code >= 300 {
            if let Some(s) = self.session.as_mut() {
                s.offer = None;
            }
            return;
        }
        if let Some(answer) = sdp_of(response) {
            self.apply_answer(now, &answer);
        }
    }

    fn drain_media(&mut self) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        for tx in &mut s.senders {
            drain_send(tx, &mut self.wire);
        }
        for l in &mut s.listeners {
            while let Some(o) = l.poll_observation() {
                self.wire.obs.push_back(o);
            }
        }
    }

    fn pump(&mut self, now: Time) {
        while let Some(ev) = self.ep.poll_event() {
            self.on_event(now, ev);
        }
        let label = self.label();
        self.wire.drain(now, label, &mut self.ep);
        self.drain_media();
    }
}

/// True for a request carrying a snapshot request with `Content-Disposition:
/// recording-session` (alone or as a multipart part).
fn is_snapshot_request(msg: &SipMessage) -> bool {
    sip::multipart::snapshot_request(msg)
        .and_then(|(disposition, _)| disposition)
        .is_some_and(|d| sip::multipart::is_recording_session(&d))
}

fn drain_send(tx: &mut SendStream, wire: &mut Wire) {
    while let Some(d) = tx.poll_transmit() {
        wire.out.push_back(d);
    }
    while let Some(o) = tx.poll_observation() {
        wire.obs.push_back(o);
    }
}

fn law_of(codec: Option<Codec>) -> Law {
    match codec {
        Some(Codec::Pcma) => Law::Alaw,
        _ => Law::Ulaw,
    }
}

fn codec_name(c: &Codec) -> String {
    match c {
        Codec::Pcmu => "PCMU".to_owned(),
        Codec::Pcma => "PCMA".to_owned(),
        Codec::TelephoneEvent(pt) => format!("telephone-event/{pt}"),
    }
}

/// A stream ID nothing in the document defines, in the dialect's ID form.
fn dangling_id(dialect: Dialect) -> String {
    match dialect {
        // base64 of 16 bytes 0xFF: well-formed, defined nowhere.
        Dialect::Rfc7865 => "/////////////////////w==".to_owned(),
        Dialect::BroadWorks => "urn:uuid:ffffffff-ffff-4fff-bfff-ffffffffffff".to_owned(),
    }
}

/// A metadata document whose internal DTD nests ten entities ten deep ("billion
/// laughs", about 10^9 characters if expanded), in the dialect's root element.
fn entity_bomb(dialect: Dialect) -> Vec<u8> {
    let mut dtd = String::from("  <!ENTITY lol0 \"lol\">\n");
    for k in 1..10 {
        let prev = format!("&lol{};", k - 1);
        dtd.push_str(&format!("  <!ENTITY lol{k} \"{}\">\n", prev.repeat(10)));
    }
    let root = dialect.root_name();
    let ns = dialect.namespace();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE {root} [\n{dtd}]>\n<{root} xmlns=\"{ns}\"><datamode>&lol9;</datamode></{root}>\n"
    )
    .into_bytes()
}

/// The document with an XML comment after its XML declaration (or at the start) that
/// brings it to about `size` bytes; still well-formed and the same metadata.
fn pad_xml(xml: &str, size: usize) -> String {
    let pad = size.saturating_sub(xml.len() + 9);
    let comment = format!("<!--{}-->", "p".repeat(pad));
    match xml.find("?>") {
        Some(i) if xml.starts_with("<?xml") => {
            let (head, tail) = xml.split_at(i + 2);
            format!("{head}{comment}{tail}")
        }
        _ => format!("{comment}{xml}"),
    }
}

impl Node for HarnessSrc {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn sip_addresses(&self) -> Vec<SocketAddr> {
        vec![self.cfg.sip_addr]
    }

    fn addresses(&self) -> Vec<SocketAddr> {
        let [a1, a2] = self.cfg.rtp_addrs();
        vec![self.cfg.sip_addr, a1, a2]
    }

    fn handle_datagram(&mut self, now: Time, datagram: Datagram) {
        if datagram.to == self.cfg.sip_addr {
            self.wire.received(now, self.label(), &datagram);
            self.ep
                .handle_datagram(now, datagram.from, datagram.transport, &datagram.bytes);
        } else if let Some(s) = self.session.as_mut()
            && let Some(l) = self
                .cfg
                .rtp_addrs()
                .iter()
                .position(|a| *a == datagram.to)
                .and_then(|i| s.listeners.get_mut(i))
        {
            l.handle_datagram(now, datagram.from, &datagram.bytes);
        }
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Time) {
        self.ep.handle_timeout(now);
        self.pump(now);
        if let Some(s) = self.session.as_mut() {
            for tx in &mut s.senders {
                tx.handle_timeout(now);
            }
            for l in &mut s.listeners {
                l.handle_timeout(now);
            }
        }
        self.pump(now);
    }

    fn poll_transmit(&mut self) -> Option<Datagram> {
        self.wire.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Time> {
        let media = self.session.as_ref().and_then(|s| {
            s.senders
                .iter()
                .filter_map(SendStream::poll_timeout)
                .chain(s.listeners.iter().filter_map(ListenStream::poll_timeout))
                .min()
        });
        [self.ep.poll_timeout(), media].into_iter().flatten().min()
    }

    fn poll_observation(&mut self) -> Option<Observation> {
        self.wire.obs.pop_front()
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
