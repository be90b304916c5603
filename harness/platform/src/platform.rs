//! The reference platform as a sans-IO [`Node`]: a recording back-to-back user agent that
//! routes calls by extension, anchors their media, and acts as SIPREC SRC.
//!
//! # What this module owns
//!
//! [`Platform`] owns two [`Endpoint`]s sharing one UDP SIP address: the B2BUA's (both
//! call legs, Contact `sip:platform@…`) and the SRC's (recording sessions, From
//! `sip:src@…` and a Contact carrying the dialect's SRC marker on every request, SRC-03).
//! Datagrams are handed to the SRC's endpoint when their Call-ID is one it sent, else to
//! the B2BUA's. It also owns a pool of RTP ports and the calls in progress. A call is two legs (caller ↔ platform, platform ↔ callee),
//! each with its own dialog and RTP port, and one recording per recorded user, each
//! with at most one recording session (RS) to the user's recorder at a time.
//!
//! Media: the platform terminates RTP on both legs. Each call runs a 20 ms media clock
//! from answer. On every tick it takes one frame of each party's audio from a small
//! playout buffer (a FIFO of decoded samples, at most [`PLAYOUT_MAX_FRAMES`] frames; an
//! empty buffer gives silence), mixes the platform's overlays (announcements, tones) into
//! what goes to each party, re-encodes and sends. The same party frames, without
//! overlays, go to the recording streams (label 1 = caller, label 2 = callee). RFC 4733
//! events from a party are consumed as feature codes and never forwarded or forked.
//! Added one-way latency: the wait for the next tick (0-20 ms, uniformly spread when the
//! party's clock is independent) plus the frames queued in the buffer (0 in a steady
//! state on a clean link, at most [`PLAYOUT_MAX_FRAMES`] × 20 ms after a burst).
//!
//! Policy: on every call each party that is a person in the policy is resolved
//! (`policy::Policy::resolve`, with the call's direction and reach); the result decides
//! whether, where and how that person's side of the call is recorded. See the crate
//! README for the behaviour in each mode and the fault table.
//!
//! # What it must not touch
//!
//! No sockets, clocks or threads: datagrams and `now` in, datagrams and observations out.
//! It does not judge: it reports its own actions as [`Event::PlatformAction`] (ground
//! truth for self-tests) and malformed input as [`Event::SipMalformed`] /
//! [`Event::RtpMalformed`]. It never panics on what a peer sends.
//!
//! # Deviations
//!
//! - An INVITE without SDP (offer in the ACK) is refused with 488.
//! - A re-INVITE from the recorder is refused with 488; UPDATE, INFO and OPTIONS from it
//!   get 200 (metadata snapshot requests, SRC-21, are not served).
//! - The stop announcement is played when recording stops while the call goes on (On
//!   Demand `*45`); when the call itself ends nobody is left to hear it, so none plays.

use crate::assets::{self, Assets, prompt};
use crate::behaviour::Behaviour;
use crate::call::{Call, Calls, Phase, Role, Side, Ua};
use crate::config::{PauseStyle, PlatformConfig};
use crate::mixer::{CallMedia, FeatureCode, Fork, Mixer, Tap};
use crate::rs::{RsDocs, RsSdpState, RsShape, RsSubject, src_contact};
use crate::shared::{Ports, Shared, action, law_of, sdp_of, secs, socket_of};
use bytes::Bytes;
use media::FRAME_SAMPLES;
use observe::Observation;
use policy::{
    CallType, Direction as CallDirection, FailureBehavior, NotRecorded, NotificationType,
    RecordMode, Recording as PolicyRecording,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sim::{Datagram, Node, Transport};
use sip::endpoint::{
    CallKey, CallPhase as EpPhase, EndReason, Endpoint, EndpointConfig, EndpointEvent, Extra,
    RequestContext,
};
use sip::message::{Method, SipMessage, Uri};
use sip::sdp::{Codec, SdpBuilder, SessionDescription, StreamSpec};
use sip::time::Time;
use sip::transaction::{PeerAddr, TxKey};
use siprec::metadata::announcement::{
    Announcement, AnnouncementEvent, AnnouncementTarget, announcement_update,
};
use std::any::Any;
use std::collections::{HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub use crate::mixer::{PLAYOUT_MAX_FRAMES, PTIME};
/// Delay of recorded media with the `late-recording-start` fault.
pub const LATE_START: Duration = crate::behaviour::LATE_START;
/// Silence between the voicemail answer and the greeting (lets the deposit's recording
/// session come up first, so the recording holds the whole greeting).
pub const VOICEMAIL_GREETING_DELAY: Duration = Duration::from_millis(200);

/// Why a platform could not be built (harness configuration, never peer input).
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// A shipped audio file does not decode.
    #[error(transparent)]
    Asset(#[from] assets::AssetError),
    /// The RTP pool is empty.
    #[error("the RTP port pool is empty (rtp_port_count = 0)")]
    NoPorts,
}

/// A user's recording settings for one call (policy resolution plus faults).
#[derive(Debug, Clone)]
struct RecSettings {
    srs_uri: String,
    mode: RecordMode,
    start_stop: bool,
    notification: Option<NotificationType>,
    repeat: Option<u32>,
    record_voicemail: bool,
    failure: FailureBehavior,
    service_provider: Option<String>,
    external_group: Option<String>,
    external_identifier: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecState {
    Idle,
    Recording,
    Paused,
    Stopped,
    Failed,
}

/// One recording session on the wire.
pub(crate) struct Rs {
    key: Option<CallKey>,
    docs: RsDocs,
    /// The session's RTP (ports, targets, senders).
    pub(crate) fork: Fork,
    /// Our offer awaiting an answer.
    offer: Option<SessionDescription>,
    established: bool,
    sdp_sent: RsSdpState,
    sdp_want: RsSdpState,
    reinvite_in_flight: Option<TxKey>,
    updates: VecDeque<Announcement>,
    update_in_flight: Option<TxKey>,
    /// We are ending it: BYE once the metadata queue is empty.
    closing: bool,
    /// Send that BYE (the `no-rs-bye-at-call-end` fault does not at the call's end).
    bye_when_closed: bool,
    /// BYE or CANCEL sent.
    gone: bool,
}

/// One recorded user's side of a call.
pub(crate) struct UserRec {
    ext: String,
    side: Side,
    settings: RecSettings,
    voicemail: bool,
    state: RecState,
    pub(crate) rs: Option<Rs>,
    next_reminder: Option<Time>,
    fork_from: Time,
}

/// The reference platform. See the [module docs](self) and the crate README.
pub struct Platform {
    /// Configuration, behaviour, assets, rng, RTP ports and the output queues.
    cx: Shared,
    /// The calls in progress, indexed by dialog and by deadline.
    calls: Calls,
    ep: Endpoint,
    src: Endpoint,
    src_call_ids: HashSet<String>,
    next_call: u64,
    next_rs: u64,
    /// RTP in.
    mixer: Mixer,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("name", &self.cx.cfg.name)
            .field("calls", &self.calls.len())
            .field("fault", &self.cx.cfg.fault)
            .finish()
    }
}

impl Platform {
    /// A platform with no call. Fails only on a harness configuration error.
    pub fn new(cfg: PlatformConfig) -> Result<Self, PlatformError> {
        if cfg.rtp_port_count == 0 {
            return Err(PlatformError::NoPorts);
        }
        let assets = Assets::load()?;
        let mut ep_cfg = EndpointConfig::new(
            cfg.sip_addr,
            &format!("sip:platform@{}", cfg.sip_addr),
            cfg.seed,
        );
        ep_cfg.user_agent = Some("recproof-platform".to_owned());
        let b = Behaviour::of(cfg.fault, cfg.variant);
        let src_addr = cfg.src_addr();
        let mut src_cfg = EndpointConfig::new(
            src_addr,
            &format!("sip:src@{src_addr}"),
            cfg.seed ^ 0xA5A5_A5A5,
        );
        src_cfg.contact = src_contact(cfg.dialect, b.src_marker, src_addr);
        src_cfg.user_agent = Some("recproof-platform-src".to_owned());
        let mut obs = VecDeque::new();
        if let Some(f) = cfg.fault {
            obs.push_back(action(
                Time::ZERO,
                "fault",
                format!("{} ({}): {}", f.name(), f.requirement(), f.description()),
            ));
        }
        if let Some(v) = cfg.variant {
            obs.push_back(action(
                Time::ZERO,
                "variant",
                format!("{}: {}", v.name(), v.description()),
            ));
        }
        Ok(Self {
            cx: Shared {
                b,
                rng: SmallRng::seed_from_u64(cfg.seed ^ 0x005E_ED0F_F1A7),
                assets,
                ports: Ports::new(&cfg),
                out: VecDeque::new(),
                obs,
                cfg,
            },
            calls: Calls::default(),
            ep: Endpoint::new(ep_cfg),
            src: Endpoint::new(src_cfg),
            src_call_ids: HashSet::new(),
            next_call: 1,
            next_rs: 1,
            mixer: Mixer::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PlatformConfig {
        &self.cx.cfg
    }

    /// Calls in progress (including ones still tearing down).
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// RTP datagrams that arrived on a port no call uses (ignored).
    pub fn stray_rtp(&self) -> u64 {
        self.mixer.stray_rtp()
    }

    /// RTP ports currently free in the pool.
    pub fn free_ports(&self) -> usize {
        self.cx.ports.free_count()
    }

    // ---- policy --------------------------------------------------------------------------

    /// The recording settings of `ext` on this call, or `None` when this side is not
    /// recorded. Applies the faults that change who is recorded and where.
    fn settings_for(&self, ext: &str, call: CallType) -> Option<RecSettings> {
        let mut s = self.settings_for_inner(ext, call)?;
        // BroadWorks always has the three identity values (the schema requires them);
        // when the policy leaves them out, make them up the way a provisioning system
        // would: the organisation, the location, the user at the platform.
        let p = &self.cx.cfg.policy;
        let org = p
            .organization
            .id
            .clone()
            .unwrap_or_else(|| p.organization.name.replace(' ', ""));
        let location = p
            .person_by_extension(ext)
            .map(|x| x.location.clone())
            .unwrap_or_default();
        s.service_provider.get_or_insert(org.clone());
        s.external_group.get_or_insert(format!("{org}-{location}"));
        s.external_identifier
            .get_or_insert(format!("{ext}@{}", self.cx.cfg.sip_addr.ip()));
        Some(s)
    }

    fn settings_for_inner(&self, ext: &str, call: CallType) -> Option<RecSettings> {
        let p = &self.cx.cfg.policy;
        let user = p.resolve(ext)?;
        let person = p.person_by_extension(ext)?;
        let pcr = &person.call_recording;
        let start_stop_of = |ss: &policy::StartStopAnnouncement| match call.reach {
            policy::Reach::Internal => ss.internal_calls_enabled,
            policy::Reach::Pstn => ss.pstn_calls_enabled,
        };
        let from_person = |srs: &policy::SrsEndpoint, mode: RecordMode| RecSettings {
            srs_uri: srs.srs.clone(),
            mode,
            start_stop: start_stop_of(&pcr.start_stop_announcement) && self.cx.b.offers_start_stop,
            notification: (pcr.notification.enabled
                && pcr.notification.kind != NotificationType::None)
                .then_some(pcr.notification.kind),
            repeat: pcr.repeat.enabled.then_some(pcr.repeat.interval),
            record_voicemail: pcr.record_voicemail_enabled,
            failure: p.organization.call_recording.failure_behavior,
            service_provider: pcr.service_provider.clone(),
            external_group: pcr.external_group.clone(),
            external_identifier: pcr.external_identifier.clone(),
        };
        let org_srs = p.providers.get(&p.organization.call_recording.vendor);
        match &user.recording {
            PolicyRecording::On(a) => {
                if !user.records(call) {
                    return None;
                }
                if !self.cx.b.records_always_users && a.mode == RecordMode::Always {
                    return None;
                }
                let mut srs = a.srs.srs.clone();
                if self.cx.b.ignores_location_override
                    && user.vendor_from == policy::Level::Location
                {
                    srs = org_srs?.srs.clone();
                }
                Some(RecSettings {
                    srs_uri: srs,
                    mode: a.mode,
                    start_stop: user.announcements(call).start_stop && self.cx.b.offers_start_stop,
                    notification: a.notification,
                    repeat: a.repeat_interval,
                    record_voicemail: a.record_voicemail,
                    failure: a.failure_behavior,
                    service_provider: user.identity.service_provider.clone(),
                    external_group: user.identity.external_group.clone(),
                    external_identifier: user.identity.external_identifier.clone(),
                })
            }
            PolicyRecording::Off(NotRecorded::ModeNever) if self.cx.b.records_never_users => {
                let srs = p.providers.get(&user.vendor)?;
                Some(from_person(srs, RecordMode::Always))
            }
            PolicyRecording::Off(NotRecorded::LocationVendorNone)
                if self.cx.b.ignores_location_override
                    && pcr.enabled
                    && pcr.record != RecordMode::Never =>
            {
                Some(from_person(org_srs?, pcr.record))
            }
            PolicyRecording::Off(
                NotRecorded::LocationVendorNone | NotRecorded::OrganizationVendorNone,
            ) if self.cx.b.records_provider_none
                && pcr.enabled
                && pcr.record != RecordMode::Never =>
            {
                Some(from_person(p.providers.values().next()?, pcr.record))
            }
            PolicyRecording::Off(_) => None,
        }
    }

    // ---- SIP -----------------------------------------------------------------------------

    fn ua(&mut self, ua: Ua) -> &mut Endpoint {
        match ua {
            Ua::B2bua => &mut self.ep,
            Ua::Src => &mut self.src,
        }
    }

    fn pump(&mut self, now: Time) {
        loop {
            let mut any = false;
            while let Some(ev) = self.ep.poll_event() {
                any = true;
                self.on_event(now, Ua::B2bua, ev);
            }
            while let Some(ev) = self.src.poll_event() {
                any = true;
                self.on_event(now, Ua::Src, ev);
            }
            while let Some(t) = self.ep.poll_transmit() {
                any = true;
                self.cx.out.push_back(Datagram {
                    from: self.cx.cfg.sip_addr,
                    to: t.to,
                    transport: t.transport,
                    bytes: t.bytes,
                });
            }
            while let Some(t) = self.src.poll_transmit() {
                any = true;
                // Remember the SRC's Call-IDs: what comes back with one is the SRC's.
                if let Ok(msg) = SipMessage::parse(t.bytes.clone())
                    && let Ok(id) = msg.call_id()
                    && !self.src_call_ids.contains(id)
                {
                    self.src_call_ids.insert(id.to_owned());
                }
                self.cx.out.push_back(Datagram {
                    from: self.cx.cfg.src_addr(),
                    to: t.to,
                    transport: t.transport,
                    bytes: t.bytes,
                });
            }
            if !any {
                break;
            }
        }
        self.calls.reap(&mut self.cx.ports);
    }

    /// Which user agent a datagram on the SIP address is for (by Call-ID).
    fn ua_for(&self, bytes: &Bytes) -> Ua {
        match SipMessage::parse(bytes.clone()) {
            Ok(msg) if msg.call_id().is_ok_and(|id| self.src_call_ids.contains(id)) => Ua::Src,
            _ => Ua::B2bua,
        }
    }

    fn on_event(&mut self, now: Time, ua: Ua, ev: EndpointEvent) {
        match ev {
            EndpointEvent::Malformed { from, bytes, error } => {
                self.cx.malformed_sip(now, from, &bytes, error.to_string());
            }
            EndpointEvent::Unroutable {
                from,
                message,
                error,
            } => {
                let bytes = message.raw().clone();
                self.cx.malformed_sip(now, from, &bytes, error.to_string());
            }
            EndpointEvent::IncomingRequest {
                call,
                tx,
                request,
                context,
                check,
                ..
            } => {
                if let Some(code) = check.suggested_status() {
                    let _ = self.ua(ua).answer(now, tx, code, Extra::new());
                    return;
                }
                if ua == Ua::Src {
                    self.on_src_request(now, call, tx, &request, context);
                } else {
                    self.on_request(now, call, tx, &request, context);
                }
            }
            EndpointEvent::Response {
                call: Some(key),
                tx,
                response,
            } => {
                self.on_response(now, ua, key, tx, &response);
            }
            EndpointEvent::AckTimeout { call } => {
                let _ = self.ua(ua).bye(now, call, Extra::new());
            }
            EndpointEvent::DialogTerminated { call, reason } => {
                self.on_terminated(now, ua, call, &reason);
            }
            _ => {}
        }
    }

    fn on_request(
        &mut self,
        now: Time,
        key: Option<CallKey>,
        tx: TxKey,
        request: &SipMessage,
        context: RequestContext,
    ) {
        let method = request.method().cloned();
        match context {
            RequestContext::NewCall => {
                if let Some(key) = key {
                    self.new_call(now, key, tx, request);
                }
            }
            RequestContext::Cancel {
                invite,
                invite_pending,
            } => {
                let _ = self.ep.answer(now, tx, 200, Extra::new());
                let Some(inv) = invite.filter(|_| invite_pending) else {
                    return;
                };
                let found = self
                    .calls
                    .iter()
                    .find(|c| c.a_tx == Some(inv))
                    .map(|c| c.id);
                let _ = self.ep.answer(now, inv, 487, Extra::new());
                if let Some(id) = found {
                    if let Some(c) = self.calls.get_mut(id) {
                        c.a_tx = None;
                    }
                    self.cx.note(now, "call_cancelled", format!("call={id}"));
                    self.end_call(now, id);
                }
            }
            RequestContext::InDialog => {
                let Some((id, Role::Leg(side))) =
                    key.and_then(|k| self.calls.role(&(Ua::B2bua, k)))
                else {
                    let _ = self.ep.answer(now, tx, 481, Extra::new());
                    return;
                };
                match method {
                    Some(Method::Bye) => {
                        let _ = self.ep.answer(now, tx, 200, Extra::new());
                        self.cx.note(
                            now,
                            "bye_received",
                            format!("call={id} from={side:?}").to_lowercase(),
                        );
                        self.end_call(now, id);
                    }
                    Some(Method::Invite | Method::Update) => {
                        self.on_leg_reoffer(now, id, side, tx, request);
                    }
                    Some(Method::Info | Method::Options | Method::Notify) => {
                        let _ = self.ep.answer(now, tx, 200, Extra::new());
                    }
                    _ => {
                        let _ = self.ep.answer(now, tx, 405, Extra::new());
                    }
                }
            }
            RequestContext::OutOfDialog => {
                let code = if method == Some(Method::Options) {
                    200
                } else {
                    405
                };
                let _ = self.ep.answer(now, tx, code, Extra::new());
            }
        }
    }

    /// A request from a recorder on the SRC's user agent: BYE ends the session (and the
    /// failure behaviour follows when it was not ours to end), re-INVITE is refused, the
    /// rest is acknowledged.
    fn on_src_request(
        &mut self,
        now: Time,
        key: Option<CallKey>,
        tx: TxKey,
        request: &SipMessage,
        context: RequestContext,
    ) {
        let known = key.is_some_and(|k| self.calls.role(&(Ua::Src, k)).is_some());
        let code = match (context, request.method()) {
            (RequestContext::InDialog, _) if !known => 481,
            (RequestContext::InDialog, Some(Method::Invite)) => 488,
            (RequestContext::InDialog, Some(Method::Ack)) => return,
            (RequestContext::InDialog, _) => 200,
            (RequestContext::Cancel { .. }, _) => 481,
            (RequestContext::OutOfDialog, Some(Method::Options)) => 200,
            (RequestContext::NewCall, _) => 403,
            _ => 405,
        };
        let _ = self.src.answer(now, tx, code, Extra::new());
    }

    /// Our SDP answer on `port` to a party's offer: the first m-line with the first
    /// offered G.711 codec (plus telephone-event when offered), the rest declined.
    fn answer_sdp(&mut self, offer: &SessionDescription, port: u16) -> Option<SessionDescription> {
        let media = offer.media();
        let first = media.first().filter(|m| !m.is_declined())?;
        let offered = first.codecs();
        let audio = offered
            .iter()
            .copied()
            .find(|c| matches!(c, Codec::Pcmu | Codec::Pcma))?;
        let mut codecs = vec![audio];
        if let Some(te) = offered
            .iter()
            .copied()
            .find(|c| matches!(c, Codec::TelephoneEvent(_)))
        {
            codecs.push(te);
        }
        let version = self.cx.rng.random_range(1..1_000_000u64);
        let mut b = SdpBuilder::new(self.cx.cfg.media_ip, u64::from(port) + 9000, version);
        for m in &media {
            b = b.stream(if m.index == first.index {
                StreamSpec::audio(port)
                    .codecs(codecs.clone())
                    .direction(m.direction.answer())
            } else {
                StreamSpec::audio(0).codecs(vec![Codec::Pcmu])
            });
        }
        Some(b.build())
    }

    fn offer_sdp(&self, port: u16) -> SessionDescription {
        SdpBuilder::new(self.cx.cfg.media_ip, u64::from(port) + 9000, 1)
            .stream(StreamSpec::audio(port))
            .build()
    }

    fn new_call(&mut self, now: Time, key: CallKey, tx: TxKey, request: &SipMessage) {
        if !self.cx.b.answers_calls {
            // The fault: the INVITE is left unanswered (a CANCEL still gets its 487).
            self.cx.note(
                now,
                "call_ignored",
                "never-answers: no final response".into(),
            );
            return;
        }
        let callee_ext = request
            .request_uri()
            .and_then(|u| Uri::parse(u).ok())
            .and_then(|u| u.user)
            .unwrap_or_default();
        let Some(contact) = self.cx.cfg.directory.get(&callee_ext).copied() else {
            self.cx.note(
                now,
                "call_rejected",
                format!("404: no phone for extension `{callee_ext}`"),
            );
            let _ = self.ep.answer(now, tx, 404, Extra::new());
            return;
        };
        let Some(offer) = sdp_of(request) else {
            let _ = self.ep.answer(now, tx, 488, Extra::new());
            return;
        };
        let Some(ports) = self.cx.ports.alloc(2) else {
            self.cx
                .note(now, "call_rejected", "503: RTP port pool exhausted".into());
            let _ = self.ep.answer(now, tx, 503, Extra::new());
            return;
        };
        let from = request.from_header().ok();
        let caller_aor = from
            .as_ref()
            .map(|f| f.uri.text.clone())
            .unwrap_or_default();
        let caller_ext = from.and_then(|f| f.uri.user).unwrap_or_default();
        let id = self.next_call;
        self.next_call += 1;
        let callee_aor = format!("sip:{callee_ext}@{}", self.cx.cfg.sip_addr);
        let media = CallMedia::new([ports[0], ports[1]], &mut self.cx.rng);
        self.calls
            .key_insert((Ua::B2bua, key), (id, Role::Leg(Side::Caller)));
        self.cx.ports.bind(ports[0], id, Side::Caller);
        self.cx.ports.bind(ports[1], id, Side::Callee);

        // Who is recorded on this call.
        let known = |ext: &str| self.cx.cfg.policy.person_by_extension(ext).is_some();
        let internal = known(&caller_ext) && known(&callee_ext);
        let reach = if internal {
            policy::Reach::Internal
        } else {
            policy::Reach::Pstn
        };
        let mut recs = Vec::new();
        for (ext, side, dir) in [
            (&caller_ext, Side::Caller, CallDirection::Outbound),
            (&callee_ext, Side::Callee, CallDirection::Inbound),
        ] {
            let ct = CallType {
                direction: dir,
                reach,
            };
            if let Some(settings) = self.settings_for(ext, ct) {
                recs.push(UserRec {
                    ext: ext.clone(),
                    side,
                    settings,
                    voicemail: false,
                    state: RecState::Idle,
                    rs: None,
                    next_reminder: None,
                    fork_from: Time::ZERO,
                });
            }
        }
        let b_offer = self.offer_sdp(ports[1]);
        let target = format!("sip:{callee_ext}@{contact}");
        let extra = Extra::new()
            .header("P-Asserted-Identity", &format!("<{caller_aor}>"))
            .body(sip::multipart::SDP, b_offer.to_bytes());
        let mut call = Call {
            id,
            callee_ext: callee_ext.clone(),
            caller_aor,
            callee_aor,
            phase: Phase::Ringing,
            a_key: Some(key),
            b_key: None,
            a_tx: Some(tx),
            a_offer: Some(offer),
            b_offer: Some(b_offer),
            ringing_relayed: false,
            ring_deadline: Some(now + self.cx.cfg.no_answer_timeout),
            media,
            recs,
            end_at: None,
            queued: None,
        };
        match self
            .ep
            .invite(now, &target, PeerAddr::new(contact, Transport::Udp), extra)
        {
            Ok(bkey) => {
                call.b_key = Some(bkey);
                self.calls
                    .key_insert((Ua::B2bua, bkey), (id, Role::Leg(Side::Callee)));
            }
            Err(e) => {
                self.cx
                    .note(now, "call_rejected", format!("call={id} 500: {e}"));
                let _ = self.ep.answer(now, tx, 500, Extra::new());
                call.a_tx = None;
                call.phase = Phase::Ended;
                self.calls.mark_ended(id);
            }
        }
        let recorded: Vec<String> = call
            .recs
            .iter()
            .map(|r| format!("{}:{}", r.ext, r.settings.mode))
            .collect();
        self.calls.insert(call);
        self.calls.schedule(id);
        self.cx.note(
            now,
            "call_routed",
            format!(
                "call={id} caller={caller_ext} callee={callee_ext} contact={contact} recorded=[{}]",
                recorded.join(",")
            ),
        );
    }

    fn on_leg_reoffer(&mut self, now: Time, id: u64, side: Side, tx: TxKey, request: &SipMessage) {
        let port = match self.calls.get_mut(id) {
            Some(c) => c.media.port(side),
            None => return,
        };
        let Some(offer) = sdp_of(request) else {
            // No offer: nothing changes for the media; a bodiless UPDATE is fine.
            let code = if request.method() == Some(&Method::Invite) {
                488
            } else {
                200
            };
            let _ = self.ep.answer(now, tx, code, Extra::new());
            return;
        };
        let Some(answer) = self.answer_sdp(&offer, port) else {
            let _ = self.ep.answer(now, tx, 488, Extra::new());
            return;
        };
        let extra = Extra::new().body(sip::multipart::SDP, answer.to_bytes());
        if self.ep.answer(now, tx, 200, extra).is_ok()
            && let Ok(agreed) = sip::sdp::negotiate(&offer, &answer)
            && let Some(n) = agreed.first()
            && let Some(c) = self.calls.get_mut(id)
        {
            let remote = n.answerer_sends_to.as_ref().and_then(socket_of);
            c.media.connect(side, remote, law_of(n), n.telephone_event);
        }
    }

    /// Answers the caller 200 with our SDP and starts the media clock.
    fn answer_caller(&mut self, now: Time, id: u64) -> bool {
        let Some(c) = self.calls.get_mut(id) else {
            return false;
        };
        let (Some(tx), Some(offer)) = (c.a_tx.take(), c.a_offer.take()) else {
            return false;
        };
        let port = c.media.port(Side::Caller);
        let Some(answer) = self.answer_sdp(&offer, port) else {
            let _ = self.ep.answer(now, tx, 488, Extra::new());
            return false;
        };
        let extra = Extra::new().body(sip::multipart::SDP, answer.to_bytes());
        if self.ep.answer(now, tx, 200, extra).is_err() {
            return false;
        }
        let Some(c) = self.calls.get_mut(id) else {
            return false;
        };
        if let Ok(agreed) = sip::sdp::negotiate(&offer, &answer)
            && let Some(n) = agreed.first()
        {
            let remote = n.answerer_sends_to.as_ref().and_then(socket_of);
            c.media
                .connect(Side::Caller, remote, law_of(n), n.telephone_event);
        }
        c.media.start_clock(now);
        c.ring_deadline = None;
        self.calls.schedule(id);
        true
    }

    fn on_response(&mut self, now: Time, ua: Ua, key: CallKey, tx: TxKey, response: &SipMessage) {
        let Some((id, role)) = self.calls.role(&(ua, key)) else {
            return;
        };
        let Some(code) = response.status() else {
            return;
        };
        let Ok(cseq) = response.cseq() else { return };
        match role {
            Role::Leg(Side::Callee) if cseq.method == Method::Invite => {
                self.on_callee_response(now, id, key, code, response);
            }
            Role::Leg(_) => {}
            Role::Rs(idx) => self.on_rs_response(now, id, idx, key, tx, code, response),
        }
    }

    fn on_callee_response(
        &mut self,
        now: Time,
        id: u64,
        key: CallKey,
        code: u16,
        response: &SipMessage,
    ) {
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        if c.phase != Phase::Ringing {
            if (200..300).contains(&code) {
                // The callee answered after we gave up on it (voicemail, hang-up).
                let _ = self.ep.bye(now, key, Extra::new());
            }
            return;
        }
        match code {
            180..=189 => {
                if !c.ringing_relayed
                    && let Some(tx) = c.a_tx
                {
                    c.ringing_relayed = true;
                    let _ = self.ep.answer(now, tx, 180, Extra::new());
                }
            }
            200..=299 => {
                if let (Some(offer), Some(answer)) = (c.b_offer.take(), sdp_of(response))
                    && let Ok(agreed) = sip::sdp::negotiate(&offer, &answer)
                    && let Some(n) = agreed.first()
                {
                    let remote = n.offerer_sends_to.as_ref().and_then(socket_of);
                    c.media
                        .connect(Side::Callee, remote, law_of(n), n.telephone_event);
                }
                if !self.answer_caller(now, id) {
                    self.end_call(now, id);
                    return;
                }
                if let Some(c) = self.calls.get_mut(id) {
                    c.phase = Phase::Active;
                }
                self.cx.note(now, "call_answered", format!("call={id}"));
                let autos: Vec<usize> = self
                    .calls
                    .get(id)
                    .map(|c| {
                        c.recs
                            .iter()
                            .enumerate()
                            .filter(|(_, r)| r.settings.mode.starts_automatically())
                            .map(|(i, _)| i)
                            .collect()
                    })
                    .unwrap_or_default();
                for i in autos {
                    self.start_recording(now, id, i);
                }
            }
            300..=699 => {
                let declined = matches!(code / 100, 4 | 6) && code != 487;
                if code == 487 {
                    return;
                }
                if declined {
                    self.voicemail(now, id, &format!("declined {code}"));
                } else {
                    if let Some(tx) = c.a_tx.take() {
                        let _ = self.ep.answer(now, tx, code, Extra::new());
                    }
                    self.end_call(now, id);
                }
            }
            _ => {}
        }
    }

    fn on_terminated(&mut self, now: Time, ua: Ua, key: CallKey, reason: &EndReason) {
        let Some((id, role)) = self.calls.key_remove(&(ua, key)) else {
            return;
        };
        match role {
            Role::Leg(side) => {
                let live = self.calls.get(id).is_some_and(|c| c.phase != Phase::Ended);
                let ringing_callee = side == Side::Callee
                    && self.calls.get(id).is_some_and(|c| c.phase != Phase::Active);
                if live && !ringing_callee {
                    self.cx.note(
                        now,
                        "leg_ended",
                        format!("call={id} side={side:?} reason={reason:?}").to_lowercase(),
                    );
                    self.end_call(now, id);
                }
            }
            Role::Rs(idx) => {
                let Some(c) = self.calls.get_mut(id) else {
                    return;
                };
                let Some(rec) = c.recs.get_mut(idx) else {
                    return;
                };
                let ours = rec.rs.as_ref().is_some_and(|rs| rs.key == Some(key));
                if !ours {
                    return;
                }
                let closing = rec.rs.as_ref().is_some_and(|rs| rs.closing || rs.gone);
                if let Some(rs) = rec.rs.take() {
                    let ports = rs.fork.ports().to_vec();
                    self.cx.ports.release(&ports);
                }
                if !closing {
                    self.rs_failed(now, id, idx, &format!("{reason:?}"));
                }
            }
        }
    }

    // ---- calls -----------------------------------------------------------------------------

    fn voicemail(&mut self, now: Time, id: u64, why: &str) {
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        if c.phase != Phase::Ringing {
            return;
        }
        c.phase = Phase::Voicemail;
        c.ring_deadline = None;
        let bkey = c.b_key;
        if let Some(k) = bkey
            && self.ep.phase(k) == Some(EpPhase::Outgoing)
        {
            let _ = self.ep.cancel(now, k);
        }
        if !self.answer_caller(now, id) {
            self.end_call(now, id);
            return;
        }
        let greeting = self.cx.assets.greeting.clone();
        let beep = self.cx.assets.voicemail_beep.clone();
        let no_vm_rec = !self.cx.b.records_voicemail;
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        let delay_ticks = (VOICEMAIL_GREETING_DELAY.as_micros() / PTIME.as_micros()) as u64;
        c.media.play_after(delay_ticks, &greeting, true, false);
        let greeting_ticks = greeting.len().div_ceil(FRAME_SAMPLES) as u64;
        let beep_tick = c
            .media
            .play_after(delay_ticks + greeting_ticks, &beep, true, false);
        // Only the mailbox's prompts and the caller's message from here on.
        let mut vm_recs = Vec::new();
        for r in c.recs.drain(..) {
            if r.settings.record_voicemail && !no_vm_rec {
                vm_recs.push(UserRec {
                    voicemail: true,
                    state: RecState::Idle,
                    ..r
                });
            }
        }
        c.recs = vm_recs;
        let n = c.recs.len();
        let detail = format!(
            "call={id} mailbox={} reason={why} greeting_ms={} beep_at={} recorded={}",
            c.callee_ext,
            greeting.len() / 8,
            secs(c.media.tick_time(beep_tick).unwrap_or(now)),
            n
        );
        self.cx.note(now, "voicemail", detail);
        for i in 0..n {
            self.start_recording(now, id, i);
        }
    }

    fn end_call(&mut self, now: Time, id: u64) {
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        if c.phase == Phase::Ended {
            return;
        }
        c.phase = Phase::Ended;
        c.media.stop_clock();
        c.ring_deadline = None;
        c.end_at = None;
        self.calls.mark_ended(id);
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        let (akey, bkey, atx) = (c.a_key, c.b_key, c.a_tx.take());
        let n = c.recs.len();
        if let Some(tx) = atx {
            let _ = self.ep.answer(now, tx, 480, Extra::new());
        }
        for k in [akey, bkey].into_iter().flatten() {
            match self.ep.phase(k) {
                Some(EpPhase::Established) => {
                    let _ = self.ep.bye(now, k, Extra::new());
                }
                Some(EpPhase::Outgoing) => {
                    let _ = self.ep.cancel(now, k);
                }
                _ => {}
            }
        }
        let bye = self.cx.b.ends_rs_with_call;
        if let Some(c) = self.calls.get_mut(id) {
            for r in &mut c.recs {
                if let Some(rs) = r.rs.as_mut() {
                    rs.bye_when_closed = bye;
                }
            }
        }
        for i in 0..n {
            self.stop_recording(now, id, i, false);
        }
        self.cx.note(now, "call_end", format!("call={id}"));
    }

    // ---- recording -------------------------------------------------------------------------

    fn start_recording(&mut self, now: Time, id: u64, idx: usize) {
        let dialect = self.cx.cfg.dialect;
        let shape = RsShape {
            labels: self.cx.b.labels,
            single_stream: self.cx.b.single_stream,
            label_mismatch: self.cx.b.label_mismatch,
            offset_times: self.cx.b.offset_times,
        };
        if !self.cx.b.opens_recording_sessions {
            return;
        }
        let Some(c) = self.calls.get(id) else { return };
        let Some(rec) = c.recs.get(idx) else { return };
        if !matches!(rec.state, RecState::Idle | RecState::Stopped) || rec.rs.is_some() {
            return;
        }
        let s = rec.settings.clone();
        let voicemail = rec.voicemail;
        let ext = rec.ext.clone();
        let party2 = if voicemail {
            format!("sip:voicemail-{}@{}", c.callee_ext, self.cx.cfg.sip_addr)
        } else {
            c.callee_aor.clone()
        };
        let subject = RsSubject {
            user_aor: format!("sip:{ext}@{}", self.cx.cfg.sip_addr),
            service_provider: s.service_provider.clone(),
            external_group: s.external_group.clone(),
            external_identifier: s.external_identifier.clone(),
            originating: rec.side == Side::Caller,
            party1_aor: c.caller_aor.clone(),
            party2_aor: party2,
            dialed: c.callee_ext.clone(),
        };
        let (tick, tick_at) = c.media.next_tick();
        let srs = Uri::parse(&s.srs_uri).ok().and_then(|u| {
            let ip: IpAddr = u.host.trim_matches(['[', ']']).parse().ok()?;
            Some(SocketAddr::new(ip, u.port.unwrap_or(5060)))
        });
        let Some(srs) = srs else {
            self.cx.note(
                now,
                "recording_failed",
                format!(
                    "call={id} user={ext} srs `{}` is not an IP literal",
                    s.srs_uri
                ),
            );
            self.rs_failed(now, id, idx, "unresolvable SRS URI");
            return;
        };
        let Some(ports) = self.cx.ports.alloc(2) else {
            self.rs_failed(now, id, idx, "RTP port pool exhausted");
            return;
        };
        let rs_n = self.next_rs;
        self.next_rs += 1;
        let seed = self.cx.cfg.seed.wrapping_mul(1_000_003).wrapping_add(rs_n);
        let mut docs = RsDocs::new(
            dialect,
            shape,
            &subject,
            seed,
            rs_n,
            self.cx.epoch_at(tick_at),
        );
        let nstreams = docs.sdp_labels.len();
        let offer = docs.sdp(self.cx.cfg.media_ip, &ports[..nstreams], RsSdpState::Active);
        let extra = docs.initial_invite(&offer);
        let key = match self
            .src
            .invite(now, &s.srs_uri, PeerAddr::new(srs, Transport::Udp), extra)
        {
            Ok(k) => k,
            Err(e) => {
                self.cx.ports.release(&ports);
                self.rs_failed(now, id, idx, &e.to_string());
                return;
            }
        };
        self.calls.key_insert((Ua::Src, key), (id, Role::Rs(idx)));
        let fork = Fork::new(ports, nstreams, &mut self.cx.rng);
        let late = self.cx.b.recorded_media_delay_start;
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        let Some(rec) = c.recs.get_mut(idx) else {
            return;
        };
        rec.rs = Some(Rs {
            key: Some(key),
            docs,
            fork,
            offer: Some(offer),
            established: false,
            sdp_sent: RsSdpState::Active,
            sdp_want: RsSdpState::Active,
            reinvite_in_flight: None,
            updates: VecDeque::new(),
            update_in_flight: None,
            closing: false,
            bye_when_closed: true,
            gone: false,
        });
        rec.state = RecState::Recording;
        rec.fork_from = tick_at + late;
        rec.next_reminder = None;
        let detail = format!(
            "call={id} user={ext} mode={} srs={} dialect={:?} voicemail={voicemail} tick={tick}",
            s.mode, s.srs_uri, dialect
        );
        self.cx
            .note(now, "rs_invite", format!("call={id} user={ext} to={srs}"));
        self.cx.note(now, "recording_start", detail);
    }

    /// The recorder accepted the session: the recording is live. The start announcement
    /// plays from the next tick (so it is never played for a recording that failed, and
    /// with the leak fault the whole clip reaches the recorder), its metadata is queued,
    /// and the reminder schedule starts from that tick.
    fn recording_live(&mut self, now: Time, id: u64, idx: usize) {
        let start_clip = self.cx.assets.start.clone();
        let no_ann = !self.cx.b.plays_start_stop;
        let no_md = !self.cx.b.reports_announcements;
        let drift = self.cx.b.reminder_drift_s;
        let no_reminder = !self.cx.b.plays_reminder;
        let Some(c) = self.calls.get(id) else { return };
        let (_, tick_at) = c.media.next_tick();
        let tick_at = tick_at.max(now);
        let played_at = self.cx.epoch_at(tick_at);
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        let Some(rec) = c.recs.get_mut(idx) else {
            return;
        };
        if rec.state != RecState::Recording {
            return;
        }
        let ext = rec.ext.clone();
        let announce = rec.settings.start_stop && !rec.voicemail;
        rec.next_reminder = match rec.settings.repeat {
            Some(i) if !no_reminder && !rec.voicemail => {
                Some(tick_at + Duration::from_secs(u64::from(i) + drift))
            }
            _ => None,
        };
        if let Some(rs) = rec.rs.as_mut()
            && announce
            && !no_md
        {
            rs.updates.push_front(Announcement {
                event: AnnouncementEvent::Start,
                played_at,
                target: AnnouncementTarget::Both,
                prompt: Some(prompt::START.to_owned()),
                session_id: Some(rs.docs.session_id.clone()),
            });
        }
        if announce && !no_ann {
            c.media.play(&start_clip, true, true, true);
            self.cx.obs.push_back(action(
                tick_at,
                "announcement_start",
                format!(
                    "call={id} user={ext} prompt={} to=both end={}",
                    prompt::START,
                    secs(tick_at + Duration::from_micros(start_clip.len() as u64 * 125))
                ),
            ));
        }
    }

    /// Ends a user's recording: the stop announcement (when `announce` and the policy
    /// says so), its metadata, then BYE once the metadata queue is empty.
    fn stop_recording(&mut self, now: Time, id: u64, idx: usize, announce: bool) {
        let stop_clip = self.cx.assets.stop.clone();
        let no_ann = !self.cx.b.plays_start_stop;
        let no_md = !self.cx.b.reports_announcements;
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        let (_, tick_at) = c.media.next_tick();
        let played_at = self.cx.epoch_checked(tick_at);
        let Some(rec) = c.recs.get_mut(idx) else {
            return;
        };
        if !matches!(rec.state, RecState::Recording | RecState::Paused) {
            return;
        }
        rec.state = RecState::Stopped;
        rec.next_reminder = None;
        let ext = rec.ext.clone();
        let announce = announce && rec.settings.start_stop && !rec.voicemail;
        if let Some(rs) = rec.rs.as_mut() {
            if announce
                && !no_md
                && let Ok(at) = played_at
            {
                rs.updates.push_back(Announcement {
                    event: AnnouncementEvent::Stop,
                    played_at: at,
                    target: AnnouncementTarget::Both,
                    prompt: Some(prompt::STOP.to_owned()),
                    session_id: Some(rs.docs.session_id.clone()),
                });
            }
            rs.closing = true;
        }
        if announce && !no_ann {
            c.media.play(&stop_clip, true, true, true);
            self.cx.obs.push_back(action(
                tick_at.max(now),
                "announcement_stop",
                format!("call={id} user={ext} prompt={} to=both", prompt::STOP),
            ));
        }
        self.cx
            .note(now, "recording_stop", format!("call={id} user={ext}"));
        self.flush_rs(now, id, idx);
    }

    fn pause(&mut self, now: Time, id: u64, idx: usize) {
        self.pause_or_resume(now, id, idx, true);
    }

    fn resume(&mut self, now: Time, id: u64, idx: usize) {
        self.pause_or_resume(now, id, idx, false);
    }

    fn pause_or_resume(&mut self, now: Time, id: u64, idx: usize, pause: bool) {
        let style = self.cx.b.pause_style.unwrap_or(self.cx.cfg.pause_style);
        let no_notice = !self.cx.b.plays_pause_notice;
        let no_md = !self.cx.b.reports_announcements;
        let drift = self.cx.b.reminder_drift_s;
        let no_reminder = !self.cx.b.plays_reminder;
        let (clip_pause, clip_resume, beep) = (
            self.cx.assets.pause.clone(),
            self.cx.assets.resume.clone(),
            self.cx.assets.beep.clone(),
        );
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        let (_, tick_at) = c.media.next_tick();
        let played_at = self.cx.epoch_checked(tick_at);
        let Some(rec) = c.recs.get_mut(idx) else {
            return;
        };
        let from = if pause {
            RecState::Recording
        } else {
            RecState::Paused
        };
        if rec.state != from {
            return;
        }
        let ext = rec.ext.clone();
        rec.state = if pause {
            RecState::Paused
        } else {
            RecState::Recording
        };
        rec.next_reminder = match rec.settings.repeat {
            Some(i) if !pause && !no_reminder => {
                Some(tick_at + Duration::from_secs(u64::from(i) + drift))
            }
            _ => None,
        };
        let notice = rec.settings.notification;
        let (event, clip, name) = match (pause, notice) {
            (true, Some(NotificationType::PlayAnnouncement)) => {
                (AnnouncementEvent::Pause, Some(clip_pause), prompt::PAUSE)
            }
            (false, Some(NotificationType::PlayAnnouncement)) => {
                (AnnouncementEvent::Resume, Some(clip_resume), prompt::RESUME)
            }
            (true, Some(NotificationType::Beep)) => {
                (AnnouncementEvent::Pause, Some(beep), prompt::BEEP)
            }
            (false, Some(NotificationType::Beep)) => {
                (AnnouncementEvent::Resume, Some(beep), prompt::BEEP)
            }
            (true, _) => (AnnouncementEvent::Pause, None, ""),
            (false, _) => (AnnouncementEvent::Resume, None, ""),
        };
        if let Some(rs) = rec.rs.as_mut() {
            rs.sdp_want = match (pause, style) {
                (false, _) | (true, PauseStyle::StopRtp) => RsSdpState::Active,
                (true, PauseStyle::ReinviteInactive) => RsSdpState::Inactive,
                (true, PauseStyle::ReinviteHold0000) => RsSdpState::Hold0000,
            };
            if clip.is_some()
                && !no_md
                && let Ok(at) = played_at
            {
                rs.updates.push_back(Announcement {
                    event,
                    played_at: at,
                    target: AnnouncementTarget::Both,
                    prompt: Some(name.to_owned()),
                    session_id: Some(rs.docs.session_id.clone()),
                });
            }
        }
        let what = if pause { "pause" } else { "resume" };
        self.cx.obs.push_back(action(
            now,
            what,
            format!("call={id} user={ext} style={style:?}"),
        ));
        if let Some(clip) = clip
            && !no_notice
        {
            c.media.play(&clip, true, true, false);
            self.cx.obs.push_back(action(
                tick_at.max(now),
                &format!("notice_{what}"),
                format!("call={id} user={ext} prompt={name} to=both"),
            ));
        }
        self.flush_rs(now, id, idx);
    }

    /// Sends what the RS is waiting to send: the next metadata update, a re-INVITE for a
    /// changed SDP state, and the BYE (or CANCEL) once it is closing and idle.
    fn flush_rs(&mut self, now: Time, id: u64, idx: usize) {
        let ip = self.cx.cfg.media_ip;
        let Some(rs) = self
            .calls
            .get_mut(id)
            .and_then(|c| c.recs.get_mut(idx))
            .and_then(|r| r.rs.as_mut())
        else {
            return;
        };
        let Some(key) = rs.key else { return };
        if rs.gone {
            return;
        }
        if !rs.established {
            if rs.closing {
                rs.gone = true;
                let _ = self.src.cancel(now, key);
            }
            return;
        }
        // One request at a time on the RS dialog: an UPDATE sent while a re-INVITE is
        // pending (or the reverse) may be refused with 500 (RFC 3261 §14.2, RFC 3311 §5.2),
        // which would lose the announcement report (POL-05).
        if rs.update_in_flight.is_none()
            && rs.reinvite_in_flight.is_none()
            && let Some(a) = rs.updates.pop_front()
        {
            let ext_id = rs.docs.next_id();
            let doc = announcement_update(rs.docs.dialect, &rs.docs.recording, &a, &ext_id);
            let extra = rs.docs.metadata_update(&doc);
            if let Ok(tx) = self.src.update(now, key, extra) {
                rs.update_in_flight = Some(tx);
                self.cx.obs.push_back(action(
                    now,
                    "metadata_update",
                    format!(
                        "call={id} event={} prompt={}",
                        a.event.as_str(),
                        a.prompt.unwrap_or_default()
                    ),
                ));
            }
        }
        if rs.closing {
            if rs.update_in_flight.is_none() && rs.updates.is_empty() {
                rs.gone = true;
                if rs.bye_when_closed {
                    let _ = self.src.bye(now, key, Extra::new());
                } else {
                    // The `no-rs-bye-at-call-end` fault: the dialog is left open at the
                    // recorder; forget it here so the call can be reaped.
                    self.calls.key_remove(&(Ua::Src, key));
                }
            }
            return;
        }
        if rs.reinvite_in_flight.is_none()
            && rs.update_in_flight.is_none()
            && rs.sdp_want != rs.sdp_sent
        {
            let n = rs.docs.sdp_labels.len();
            let ports = rs.fork.ports().to_vec();
            let want = rs.sdp_want;
            let offer = rs.docs.sdp(ip, &ports[..n], want);
            let extra = rs.docs.reinvite(&offer);
            if let Ok(tx) = self.src.reinvite(now, key, extra) {
                rs.reinvite_in_flight = Some(tx);
                rs.offer = Some(offer);
                rs.sdp_sent = want;
                self.cx.obs.push_back(action(
                    now,
                    "rs_reinvite",
                    format!("call={id} sdp={want:?}").to_lowercase(),
                ));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_rs_response(
        &mut self,
        now: Time,
        id: u64,
        idx: usize,
        key: CallKey,
        tx: TxKey,
        code: u16,
        response: &SipMessage,
    ) {
        let Some(rs) = self
            .calls
            .get_mut(id)
            .and_then(|c| c.recs.get_mut(idx))
            .and_then(|r| r.rs.as_mut())
            .filter(|rs| rs.key == Some(key))
        else {
            return;
        };
        if code < 200 {
            return;
        }
        let Ok(cseq) = response.cseq() else { return };
        let mut answered = false;
        let mut live = false;
        if cseq.method == Method::Invite {
            if rs.reinvite_in_flight == Some(tx) {
                rs.reinvite_in_flight = None;
            } else if (200..300).contains(&code) && !rs.established {
                rs.established = true;
                live = true;
            }
            if (200..300).contains(&code)
                && let (Some(offer), Some(answer)) = (rs.offer.take(), sdp_of(response))
                && let Ok(agreed) = sip::sdp::negotiate(&offer, &answer)
            {
                answered = true;
                for (i, n) in agreed.iter().enumerate() {
                    let target = n.offerer_sends_to.as_ref().and_then(socket_of);
                    rs.fork.negotiated(i, target, law_of(n));
                }
            }
        } else if cseq.method == Method::Update && rs.update_in_flight == Some(tx) {
            rs.update_in_flight = None;
        }
        if answered
            && rs.established
            && let Some(targets) = rs.fork.targets()
        {
            let t: Vec<String> = targets.iter().map(|a| a.to_string()).collect();
            self.cx.note(
                now,
                "rs_answered",
                format!("call={id} code={code} media={}", t.join(",")),
            );
        }
        if live {
            self.recording_live(now, id, idx);
        }
        self.flush_rs(now, id, idx);
    }

    /// POL-13: the recorder failed (rejected, never answered, or dropped the session).
    fn rs_failed(&mut self, now: Time, id: u64, idx: usize, why: &str) {
        let clip = self.cx.assets.stop.clone();
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        if c.phase == Phase::Ended {
            return;
        }
        let (_, tick_at) = c.media.next_tick();
        let Some(rec) = c.recs.get_mut(idx) else {
            return;
        };
        rec.state = RecState::Failed;
        rec.next_reminder = None;
        let behaviour = rec.settings.failure;
        let ext = rec.ext.clone();
        let detail = format!("call={id} user={ext} reason={why} behaviour={behaviour}");
        if !self.cx.b.applies_failure_behaviour {
            // The fault: whatever is configured, the call is dropped at once, silently.
            c.end_at = Some(now);
            self.calls.schedule(id);
            self.cx.note(
                now,
                "recording_failed",
                format!("{detail} ignored: call dropped"),
            );
            return;
        }
        match behaviour {
            FailureBehavior::ProceedWithCallNoAnnouncement => {}
            FailureBehavior::ProceedCallWithAnnouncement => {
                c.media.play(&clip, true, true, false);
            }
            FailureBehavior::EndCallWithAnnouncement => {
                c.media.play(&clip, true, true, false);
                c.end_at = Some(
                    tick_at.max(now)
                        + Duration::from_micros(clip.len() as u64 * 125)
                        + Duration::from_millis(200),
                );
            }
        }
        self.calls.schedule(id);
        self.cx.note(now, "recording_failed", detail);
    }

    // ---- DTMF and feature codes -----------------------------------------------------------

    /// A feature code a party keyed in: applied to that party's recordings whose mode
    /// honours it and whose state it changes.
    fn on_feature_code(&mut self, now: Time, fc: &FeatureCode) {
        let (id, side, code, what) = (fc.id, fc.side, &fc.code, fc.action.as_str());
        if !self.cx.b.honours_feature_codes {
            self.cx.note(
                now,
                "feature_code",
                format!("call={id} code={code} action={what} ignored (fault)"),
            );
            return;
        }
        let Some(c) = self.calls.get(id) else { return };
        let targets: Vec<(usize, RecordMode, RecState)> = c
            .recs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.side == side && !r.voicemail)
            .map(|(i, r)| (i, r.settings.mode, r.state))
            .collect();
        let mut applied = Vec::new();
        for (i, mode, state) in targets {
            let done = match what {
                "start" if mode.user_can_start_stop() => {
                    matches!(state, RecState::Idle | RecState::Stopped)
                }
                "stop" if mode.user_can_start_stop() => {
                    matches!(state, RecState::Recording | RecState::Paused)
                }
                "pause" if mode.user_can_pause() => state == RecState::Recording,
                "resume" if mode.user_can_pause() => state == RecState::Paused,
                _ => false,
            };
            if !done {
                continue;
            }
            applied.push(i);
            match what {
                "start" => self.start_recording(now, id, i),
                "stop" => self.stop_recording(now, id, i, true),
                "pause" => self.pause(now, id, i),
                _ => self.resume(now, id, i),
            }
        }
        self.cx.note(
            now,
            "feature_code",
            format!(
                "call={id} side={} code={code} action={what} applied={}",
                format!("{side:?}").to_lowercase(),
                applied.len()
            ),
        );
    }

    /// Handles every call whose deadline is due: voicemail on a ring timeout, release
    /// after a failure announcement, and the media ticks up to `now`.
    fn ticks(&mut self, now: Time) {
        while let Some(id) = self.calls.pop_due(now) {
            if let Some(c) = self.calls.get(id)
                && c.phase == Phase::Ringing
                && c.ring_deadline.is_some_and(|t| t <= now)
            {
                self.voicemail(now, id, "no answer");
            }
            if let Some(c) = self.calls.get(id)
                && c.end_at.is_some_and(|t| t <= now)
            {
                self.cx.note(
                    now,
                    "call_released",
                    format!("call={id} after failure announcement"),
                );
                self.end_call(now, id);
            }
            while let Some(t) = self.calls.get(id).and_then(|c| c.media.due_tick(now)) {
                self.tick(id, t);
            }
            self.calls.schedule(id);
        }
    }

    /// Media tick of call `id` due at `t`: the recordings say which reminders are due
    /// and which streams fork; the mixer plays, mixes and sends.
    fn tick(&mut self, id: u64, t: Time) {
        let drift = self.cx.b.reminder_drift_s;
        let forks_while_paused = self.cx.b.forks_while_paused;
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        let reminders = due_reminders(&mut c.recs, t, drift);
        let taps = taps(&mut c.recs, t, forks_while_paused);
        let connected = c.phase == Phase::Active;
        c.media
            .tick(&mut self.cx, id, t, connected, reminders, taps);
    }
}

/// The users whose reminder tone is due at `t` (each one's next is scheduled).
fn due_reminders(recs: &mut [UserRec], t: Time, drift: u64) -> Vec<String> {
    let mut reminders = Vec::new();
    for r in recs {
        if r.state == RecState::Recording
            && let Some(at) = r.next_reminder
            && at <= t
        {
            let interval = u64::from(r.settings.repeat.unwrap_or(20)) + drift;
            r.next_reminder = Some(at + Duration::from_secs(interval));
            reminders.push(r.ext.clone());
        }
    }
    reminders
}

/// The recordings' stream feeds for the tick at `t`.
fn taps(recs: &mut [UserRec], t: Time, forks_while_paused: bool) -> impl Iterator<Item = Tap<'_>> {
    recs.iter_mut().filter_map(move |r| {
        let forking = match r.state {
            RecState::Recording => true,
            RecState::Paused => forks_while_paused,
            _ => false,
        } && t >= r.fork_from;
        let voicemail = r.voicemail;
        let rs = r.rs.as_mut().filter(|rs| rs.established && !rs.gone)?;
        Some(Tap {
            fork: &mut rs.fork,
            forking,
            voicemail,
        })
    })
}

impl Node for Platform {
    fn name(&self) -> &str {
        &self.cx.cfg.name
    }

    fn addresses(&self) -> Vec<SocketAddr> {
        let mut v = vec![self.cx.cfg.sip_addr];
        if self.cx.cfg.src_addr() != self.cx.cfg.sip_addr {
            v.push(self.cx.cfg.src_addr());
        }
        v.extend(self.cx.cfg.rtp_addresses());
        v
    }

    fn handle_datagram(&mut self, now: Time, datagram: Datagram) {
        let src_addr = self.cx.cfg.src_addr();
        if datagram.to == self.cx.cfg.sip_addr || datagram.to == src_addr {
            let ua = if src_addr != self.cx.cfg.sip_addr {
                if datagram.to == src_addr {
                    Ua::Src
                } else {
                    Ua::B2bua
                }
            } else {
                self.ua_for(&datagram.bytes)
            };
            self.ua(ua)
                .handle_datagram(now, datagram.from, datagram.transport, &datagram.bytes);
        } else {
            let codes = self
                .mixer
                .on_rtp(&mut self.cx, &mut self.calls, now, &datagram);
            for fc in &codes {
                self.on_feature_code(now, fc);
            }
        }
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Time) {
        self.ep.handle_timeout(now);
        self.src.handle_timeout(now);
        self.pump(now);
        self.ticks(now);
        self.pump(now);
    }

    fn poll_transmit(&mut self) -> Option<Datagram> {
        self.cx.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Time> {
        [
            self.ep.poll_timeout(),
            self.src.poll_timeout(),
            self.calls.next_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn poll_observation(&mut self) -> Option<Observation> {
        self.cx.obs.pop_front()
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
