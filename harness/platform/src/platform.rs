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

use crate::assets::{self, Assets};
use crate::behaviour::Behaviour;
use crate::call::{Call, Calls, Phase, Role, Side, Ua};
use crate::config::PlatformConfig;
use crate::mixer::{CallMedia, Mixer};
use crate::recording::{Recorder, Recordings};
use crate::shared::{Ports, Shared, SipEvent, action, law_of, sdp_of, secs, socket_of};
use bytes::Bytes;
use media::FRAME_SAMPLES;
use observe::Observation;
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
use std::any::Any;
use std::collections::VecDeque;
use std::net::SocketAddr;
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

/// The reference platform. See the [module docs](self) and the crate README.
pub struct Platform {
    /// Configuration, behaviour, assets, rng, RTP ports and the output queues.
    cx: Shared,
    /// The calls in progress, indexed by dialog and by deadline.
    calls: Calls,
    ep: Endpoint,
    next_call: u64,
    /// The SRC: recording sessions.
    rec: Recorder,
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
        let rec = Recorder::new(&cfg, &b);
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
            next_call: 1,
            rec,
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

    // ---- SIP -----------------------------------------------------------------------------

    fn ua(&mut self, ua: Ua) -> &mut Endpoint {
        match ua {
            Ua::B2bua => &mut self.ep,
            Ua::Src => self.rec.endpoint(),
        }
    }

    fn pump(&mut self, now: Time) {
        loop {
            let mut any = false;
            while let Some(ev) = self.ep.poll_event() {
                any = true;
                self.on_event(now, ev);
            }
            while let Some(ev) = self.rec.poll_event() {
                any = true;
                self.rec.on_event(&mut self.cx, &mut self.calls, now, ev);
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
            while let Some(d) = self.rec.poll_transmit(self.cx.cfg.src_addr()) {
                any = true;
                self.cx.out.push_back(d);
            }
            if !any {
                break;
            }
        }
        self.calls.reap(&mut self.cx.ports);
    }

    /// Which user agent a datagram on the SIP address is for (by Call-ID).
    fn ua_for(&self, bytes: &Bytes) -> Ua {
        if self.rec.owns(bytes) {
            Ua::Src
        } else {
            Ua::B2bua
        }
    }

    fn on_event(&mut self, now: Time, ev: EndpointEvent) {
        match self.cx.triage(&mut self.ep, now, ev) {
            Some(SipEvent::Request {
                key,
                tx,
                request,
                context,
            }) => self.on_request(now, key, tx, &request, context),
            Some(SipEvent::Response { key, response, .. }) => {
                self.on_response(now, key, &response);
            }
            Some(SipEvent::Terminated { key, reason }) => {
                self.on_terminated(now, key, &reason);
            }
            None => {}
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
        let recs = Recordings::for_call(&self.cx, &caller_ext, &callee_ext);
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
        let recorded = call.recs.summary();
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

    fn on_response(&mut self, now: Time, key: CallKey, response: &SipMessage) {
        let Some((id, role)) = self.calls.role(&(Ua::B2bua, key)) else {
            return;
        };
        let Some(code) = response.status() else {
            return;
        };
        let Ok(cseq) = response.cseq() else { return };
        if role == Role::Leg(Side::Callee) && cseq.method == Method::Invite {
            self.on_callee_response(now, id, key, code, response);
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
                self.rec
                    .start_automatic(&mut self.cx, &mut self.calls, now, id);
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

    fn on_terminated(&mut self, now: Time, key: CallKey, reason: &EndReason) {
        let Some((id, Role::Leg(side))) = self.calls.key_remove(&(Ua::B2bua, key)) else {
            return;
        };
        let live = self.calls.get(id).is_some_and(|c| c.phase != Phase::Ended);
        let ringing_callee =
            side == Side::Callee && self.calls.get(id).is_some_and(|c| c.phase != Phase::Active);
        if live && !ringing_callee {
            self.cx.note(
                now,
                "leg_ended",
                format!("call={id} side={side:?} reason={reason:?}").to_lowercase(),
            );
            self.end_call(now, id);
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
        let records_voicemail = self.cx.b.records_voicemail;
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
        let n = c.recs.keep_for_voicemail(records_voicemail);
        let detail = format!(
            "call={id} mailbox={} reason={why} greeting_ms={} beep_at={} recorded={}",
            c.callee_ext,
            greeting.len() / 8,
            secs(c.media.tick_time(beep_tick).unwrap_or(now)),
            n
        );
        self.cx.note(now, "voicemail", detail);
        self.rec.start_all(&mut self.cx, &mut self.calls, now, id);
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
        c.recs.cancel_release();
        self.calls.mark_ended(id);
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        let (akey, bkey, atx) = (c.a_key, c.b_key, c.a_tx.take());
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
        self.rec.end_of_call(&mut self.cx, &mut self.calls, now, id);
        self.cx.note(now, "call_end", format!("call={id}"));
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
                && c.recs.release_due(now)
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
        let reminders = c.recs.due_reminders(t, drift);
        let taps = c.recs.taps(t, forks_while_paused);
        let connected = c.phase == Phase::Active;
        c.media
            .tick(&mut self.cx, id, t, connected, reminders, taps);
    }
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
                self.rec
                    .on_feature_code(&mut self.cx, &mut self.calls, now, fc);
            }
        }
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Time) {
        self.ep.handle_timeout(now);
        self.rec.endpoint().handle_timeout(now);
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
            self.rec.poll_timeout(),
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
