//! A simulated phone: the caller or callee of a harness call, as a [`Node`].
//!
//! # What this module owns
//!
//! [`PartyUa`] owns one SIP address and one RTP address, a sans-IO
//! [`Endpoint`], at most one call at a time, and that call's media: a [`SendStream`]
//! playing the party's instrumented signal from answer (callee: when it sends its 200;
//! caller: when the 200 arrives) and a [`ListenStream`] named `<name>.heard` (`caller.heard`,
//! `callee.heard`) that decodes what the phone hears. It answers as its [`AnswerMode`]
//! says, follows re-INVITE and UPDATE offers (hold by `a=sendonly`/`a=inactive` or
//! `c=0.0.0.0`, resume), answers BYE, CANCEL and in-dialog INFO/OPTIONS, and takes commands:
//! [`PartyUa::dial`], [`PartyUa::hang_up`], [`PartyUa::send_dtmf`], [`PartyUa::hold`],
//! [`PartyUa::resume`].
//!
//! Observations (all with the configured call label): every SIP message sent and
//! received ([`Event::SipSent`], [`Event::SipReceived`], [`Event::SipMalformed`]),
//! [`Event::CallStarted`] when it dials or an INVITE arrives, [`Event::CallEnded`] when the
//! call is over, and the media observations of its streams (see [`crate::media_io`]).
//!
//! # What it must not touch
//!
//! No sockets, clocks or threads; no judging (a rejected call is recorded, not failed).
//! It speaks only what a plain phone speaks: no SIPREC, no `record-aware` (SRC-19 is
//! not exercised by this UA).
//!
//! # Deviations
//!
//! - RFC 3264 §8.4 puts a call on hold with `a=sendonly`; [`PartyUa::hold`] does that.
//!   Incoming holds of any style are honoured through [`sip::sdp::negotiate`] (no media
//!   towards a `c=0.0.0.0` or non-receiving stream).
//! - Early media (SDP in 18x) is not played or decoded separately: the listen stream takes
//!   whatever RTP arrives on the port from the first packet on.
//! - Only the first m-line is used for audio; further m-lines are declined (port 0).

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
    CallKey, EndReason, Endpoint, EndpointConfig, EndpointError, EndpointEvent, Extra,
    RequestContext,
};
use sip::message::{Method, SipMessage};
use sip::sdp::{Codec, Direction, Negotiated, SdpBuilder, SessionDescription, StreamSpec};
use sip::time::Time;
use sip::transaction::{PeerAddr, TxKey};
use std::any::Any;
use std::net::SocketAddr;
use std::time::Duration;

/// How a [`PartyUa`] treats an incoming INVITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerMode {
    /// 180 at once, then 200 with an SDP answer after `ring`.
    Answer {
        /// Ringing time before the 200.
        ring: Duration,
    },
    /// 180 at once, then this final status after `after`.
    Reject {
        /// Status code (300-699).
        code: u16,
        /// Delay before the rejection.
        after: Duration,
    },
    /// 180 and nothing else (no-answer and voicemail scenarios).
    Never,
}

/// Settings of a [`PartyUa`].
#[derive(Debug, Clone)]
pub struct UaConfig {
    /// Party name: `caller` or `callee`. The listen stream is `<name>.heard`, the sent
    /// stream `<name>.sent`, and the party is registered under this name.
    pub name: String,
    /// Actor of the observations.
    pub actor: Actor,
    /// Harness call label (`call-0001`) put on every observation.
    pub call_label: Option<String>,
    /// Scenario name for [`Event::CallStarted`].
    pub scenario: String,
    /// SIP address (UDP).
    pub sip_addr: SocketAddr,
    /// RTP address.
    pub rtp_addr: SocketAddr,
    /// Our URI (`sip:caller@10.0.0.1:5060`); also the Contact.
    pub uri: String,
    /// Party id carried by the instrumented frames.
    pub party: PartyId,
    /// Codecs offered or accepted, in preference order.
    pub codecs: Vec<Codec>,
    /// Incoming-call behaviour.
    pub answer: AnswerMode,
    /// What the listen stream detects besides party frames.
    pub detectors: Detectors,
    /// Keep what the phone heard as PCM (for WAV evidence; [`PartyUa::take_heard_pcm`]).
    pub keep_pcm: bool,
    /// Seed of the audio (SSRCs, instrumented signal) and, unless [`UaConfig::sip_seed`]
    /// is set, of tags, branches and Call-IDs.
    pub seed: u64,
    /// Seed of tags, branches and Call-IDs when it must differ from [`UaConfig::seed`]:
    /// a real-time run draws a fresh one, so a stateful SUT never sees the identifiers of
    /// an earlier run, while the seed still fixes the audio and timing.
    pub sip_seed: Option<u64>,
    /// The transport of the calls this phone places (and of its Contact): UDP unless a
    /// SUT profile says its SIP is on TCP. Calls to it are answered on whatever they
    /// arrive on.
    pub sip_transport: Transport,
}

impl UaConfig {
    /// A caller (party 1) with PCMU, PCMA and telephone-event/101, answering after 1 s
    /// should anyone call it.
    pub fn caller(sip_addr: SocketAddr, rtp_addr: SocketAddr) -> Self {
        Self::party("caller", Actor::Caller, PartyId(1), sip_addr, rtp_addr)
    }

    /// A callee (party 2) that rings for 1 s, then answers.
    pub fn callee(sip_addr: SocketAddr, rtp_addr: SocketAddr) -> Self {
        Self::party("callee", Actor::Callee, PartyId(2), sip_addr, rtp_addr)
    }

    fn party(
        name: &str,
        actor: Actor,
        party: PartyId,
        sip_addr: SocketAddr,
        rtp_addr: SocketAddr,
    ) -> Self {
        Self {
            name: name.to_owned(),
            actor,
            call_label: None,
            scenario: String::new(),
            sip_addr,
            rtp_addr,
            uri: format!("sip:{name}@{sip_addr}"),
            party,
            codecs: vec![Codec::Pcmu, Codec::Pcma, Codec::TelephoneEvent(101)],
            answer: AnswerMode::Answer {
                ring: Duration::from_secs(1),
            },
            detectors: Detectors::default(),
            keep_pcm: false,
            seed: u64::from(party.0),
            sip_seed: None,
            sip_transport: Transport::Udp,
        }
    }
}

/// Why a command was refused.
#[derive(Debug, thiserror::Error)]
pub enum UaError {
    /// A call is already in progress (one call at a time).
    #[error("a call is already in progress")]
    Busy,
    /// No call to act on.
    #[error("no call in progress")]
    NoCall,
    /// The SIP core refused.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// A media configuration error (harness set-up).
    #[error(transparent)]
    Media(#[from] MediaError),
}

/// Where the one call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPhase {
    /// We sent an INVITE; no final response yet.
    Dialing,
    /// An INVITE arrived; we have not answered finally.
    Ringing,
    /// Answered (2xx sent or received).
    Active,
    /// We sent BYE (or CANCEL); waiting for the end.
    Ending,
}

#[derive(Debug)]
struct Call {
    key: CallKey,
    phase: CallPhase,
    /// Our offer awaiting an answer (INVITE, re-INVITE, UPDATE, or the offer in a 200).
    local_offer: Option<SessionDescription>,
    /// The unanswered incoming INVITE and its offer.
    incoming: Option<(TxKey, Option<SessionDescription>)>,
    /// When to send the final response to `incoming`.
    respond_at: Option<(Time, u16)>,
}

/// A caller or callee phone. See the [module docs](self).
pub struct PartyUa {
    cfg: UaConfig,
    ctx: MediaContext,
    ep: Endpoint,
    wire: Wire,
    call: Option<Call>,
    send: Option<SendStream>,
    listen: Option<ListenStream>,
    sdp_version: u64,
    calls_made: u64,
}

impl std::fmt::Debug for PartyUa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartyUa")
            .field("name", &self.cfg.name)
            .field("call", &self.call)
            .finish()
    }
}

impl PartyUa {
    /// A phone with no call. Fails only on a harness configuration error (a reference
    /// clip the detectors cannot use).
    pub fn new(cfg: UaConfig, ctx: MediaContext) -> Result<Self, UaError> {
        // Validate the detector set-up once, so a call never fails on it later.
        ListenStream::new(
            ListenConfig::new("probe", cfg.actor, None, cfg.rtp_addr),
            &ctx,
        )?;
        let mut ep_cfg =
            EndpointConfig::new(cfg.sip_addr, &cfg.uri, cfg.sip_seed.unwrap_or(cfg.seed));
        ep_cfg.user_agent = Some(format!("recproof-{}", cfg.name));
        if cfg.sip_transport == Transport::Tcp {
            ep_cfg.contact = format!("<{};transport=tcp>", cfg.uri);
        }
        Ok(Self {
            ep: Endpoint::new(ep_cfg),
            wire: Wire::new(cfg.actor, cfg.sip_addr),
            ctx,
            cfg,
            call: None,
            send: None,
            listen: None,
            sdp_version: 0,
            calls_made: 0,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &UaConfig {
        &self.cfg
    }

    /// Where the current call stands, `None` without one.
    pub fn phase(&self) -> Option<CallPhase> {
        self.call.as_ref().map(|c| c.phase)
    }

    /// Starts a call: INVITE to `target_uri` via `target` with an SDP offer (sendrecv,
    /// the configured codecs).
    pub fn dial(&mut self, now: Time, target_uri: &str, target: SocketAddr) -> Result<(), UaError> {
        if self.call.is_some() {
            return Err(UaError::Busy);
        }
        let offer = self.offer(Direction::SendRecv);
        let extra = Extra::new().body(sip::multipart::SDP, offer.to_bytes());
        let key = self.ep.invite(
            now,
            target_uri,
            PeerAddr::new(target, self.cfg.sip_transport),
            extra,
        )?;
        self.begin_call(
            now,
            key,
            CallPhase::Dialing,
            self.cfg.uri.clone(),
            target_uri,
        )?;
        if let Some(c) = self.call.as_mut() {
            c.local_offer = Some(offer);
        }
        self.pump(now);
        Ok(())
    }

    /// Ends the call: BYE when answered, CANCEL while dialing, 603 while ringing.
    pub fn hang_up(&mut self, now: Time) -> Result<(), UaError> {
        let call = self.call.as_mut().ok_or(UaError::NoCall)?;
        let key = call.key;
        match call.phase {
            CallPhase::Active => {
                call.phase = CallPhase::Ending;
                self.ep.bye(now, key, Extra::new())?;
            }
            CallPhase::Dialing => {
                call.phase = CallPhase::Ending;
                self.ep.cancel(now, key)?;
            }
            CallPhase::Ringing => {
                if let Some((tx, _)) = call.incoming.take() {
                    call.respond_at = None;
                    self.ep.answer(now, tx, 603, Extra::new())?;
                }
            }
            CallPhase::Ending => {}
        }
        self.pump(now);
        Ok(())
    }

    /// Sends DTMF digits as RFC 4733 events on the call's RTP stream. Returns how many
    /// digits were queued (0 before media starts or without negotiated telephone-event).
    pub fn send_dtmf(&mut self, now: Time, digits: &str) -> usize {
        let n = self.send.as_mut().map_or(0, |s| s.send_dtmf(digits));
        self.pump(now);
        n
    }

    /// Puts the call on hold: a re-INVITE offering `a=sendonly` (RFC 3264 §8.4).
    pub fn hold(&mut self, now: Time) -> Result<(), UaError> {
        self.reoffer(now, Direction::SendOnly)
    }

    /// Takes the call off hold: a re-INVITE offering `a=sendrecv`.
    pub fn resume(&mut self, now: Time) -> Result<(), UaError> {
        self.reoffer(now, Direction::SendRecv)
    }

    /// Sends a re-INVITE with a new offer in the given direction.
    pub fn reoffer(&mut self, now: Time, direction: Direction) -> Result<(), UaError> {
        let key = match &self.call {
            Some(c) if c.phase == CallPhase::Active => c.key,
            _ => return Err(UaError::NoCall),
        };
        let offer = self.offer(direction);
        let extra = Extra::new().body(sip::multipart::SDP, offer.to_bytes());
        self.ep.reinvite(now, key, extra)?;
        if let Some(c) = self.call.as_mut() {
            c.local_offer = Some(offer);
        }
        self.pump(now);
        Ok(())
    }

    // ---- internals -----------------------------------------------------------------

    fn label(&self) -> Option<String> {
        self.cfg.call_label.clone()
    }

    fn offer(&mut self, direction: Direction) -> SessionDescription {
        self.sdp_version += 1;
        SdpBuilder::new(self.cfg.rtp_addr.ip(), self.session_id(), self.sdp_version)
            .stream(
                StreamSpec::audio(self.cfg.rtp_addr.port())
                    .codecs(self.cfg.codecs.clone())
                    .direction(direction),
            )
            .build()
    }

    fn session_id(&self) -> u64 {
        1000 + self.cfg.seed
    }

    /// Our answer to `offer`: the first m-line accepted with the first offered codec we
    /// have (plus telephone-event when both have it), the rest declined. `None` when
    /// nothing can be accepted (488).
    fn answer_to(&mut self, offer: &SessionDescription) -> Option<SessionDescription> {
        let media = offer.media();
        let first = media.first()?;
        if first.is_declined() {
            return None;
        }
        let offered = first.codecs();
        let audio = offered
            .iter()
            .copied()
            .find(|c| !matches!(c, Codec::TelephoneEvent(_)) && self.cfg.codecs.contains(c))?;
        let mut codecs = vec![audio];
        let we_do_te = self
            .cfg
            .codecs
            .iter()
            .any(|c| matches!(c, Codec::TelephoneEvent(_)));
        if let Some(te) = offered
            .iter()
            .copied()
            .find(|c| matches!(c, Codec::TelephoneEvent(_)))
            && we_do_te
        {
            codecs.push(te);
        }
        self.sdp_version += 1;
        let mut b = SdpBuilder::new(self.cfg.rtp_addr.ip(), self.session_id(), self.sdp_version);
        for m in &media {
            let mut spec = if m.index == first.index {
                StreamSpec::audio(self.cfg.rtp_addr.port())
                    .codecs(codecs.clone())
                    .direction(m.direction.answer())
            } else {
                StreamSpec::audio(0).codecs(vec![Codec::Pcmu])
            };
            spec.label = m.label.clone();
            b = b.stream(spec);
        }
        Some(b.build())
    }

    fn begin_call(
        &mut self,
        now: Time,
        key: CallKey,
        phase: CallPhase,
        caller: String,
        callee: &str,
    ) -> Result<(), UaError> {
        self.calls_made += 1;
        let listen = ListenStream::new(
            ListenConfig {
                detectors: self.cfg.detectors.clone(),
                keep_pcm: self.cfg.keep_pcm,
                ..ListenConfig::new(
                    &format!("{}.heard", self.cfg.name),
                    self.cfg.actor,
                    self.label(),
                    self.cfg.rtp_addr,
                )
            },
            &self.ctx,
        )?;
        self.listen = Some(listen);
        self.send = None;
        self.call = Some(Call {
            key,
            phase,
            local_offer: None,
            incoming: None,
            respond_at: None,
        });
        self.wire.note(
            now,
            self.label(),
            Event::CallStarted {
                caller,
                callee: callee.to_owned(),
                scenario: self.cfg.scenario.clone(),
            },
        );
        Ok(())
    }

    /// What the phone heard on its last call, as 8 kHz PCM with the run time of the first
    /// sample (only with [`UaConfig::keep_pcm`]); taking it empties it.
    pub fn take_heard_pcm(&mut self) -> Option<crate::media_io::RecordedPcm> {
        self.listen.as_mut().and_then(ListenStream::take_pcm)
    }

    fn end_call(&mut self, now: Time, reason: &EndReason) {
        if let Some(s) = self.send.as_mut() {
            s.stop();
        }
        self.drain_media();
        if let Some(l) = self.listen.as_mut() {
            l.finish(now);
        }
        self.drain_media();
        self.call = None;
        let reason = reason.to_string();
        self.wire
            .note(now, self.label(), Event::CallEnded { reason });
    }

    /// Applies an offer/answer result to the media: start sending (once), point the
    /// stream where the agreement says (nowhere on hold), set codec and DTMF type.
    fn apply(&mut self, now: Time, agreed: Option<&Negotiated>, we_offered: bool) {
        let Some(agreed) = agreed else { return };
        let target = if we_offered {
            agreed.offerer_sends_to.as_ref()
        } else {
            agreed.answerer_sends_to.as_ref()
        }
        .and_then(socket_of);
        let law = match agreed.codec {
            Some(Codec::Pcma) => Law::Alaw,
            _ => Law::Ulaw,
        };
        if self.send.is_none() {
            let cfg = SendConfig {
                stream: format!("{}.sent", self.cfg.name),
                actor: self.cfg.actor,
                call: self.label(),
                local: self.cfg.rtp_addr,
                law,
                telephone_event: agreed.telephone_event,
                seed: self
                    .cfg
                    .seed
                    .wrapping_mul(0x9E37_79B9)
                    .wrapping_add(self.calls_made),
            };
            let source = AudioSource::party(&self.ctx, self.cfg.party, &self.cfg.name);
            let mut s = SendStream::new(cfg, source, &self.ctx);
            s.start(now);
            self.send = Some(s);
        }
        if let Some(s) = self.send.as_mut() {
            s.set_remote(target);
            s.set_law(law);
            s.set_telephone_event(agreed.telephone_event);
        }
        if let Some(l) = self.listen.as_mut() {
            l.set_telephone_event(agreed.telephone_event);
        }
    }

    fn is_ours(&self, key: Option<CallKey>) -> bool {
        key.is_some() && self.call.as_ref().map(|c| c.key) == key
    }

    /// Sends the final response the answer mode scheduled.
    fn respond(&mut self, now: Time) -> Result<(), EndpointError> {
        let Some(call) = self.call.as_mut() else {
            return Ok(());
        };
        let Some((at, code)) = call.respond_at else {
            return Ok(());
        };
        if now < at {
            return Ok(());
        }
        call.respond_at = None;
        let Some((tx, offer)) = call.incoming.take() else {
            return Ok(());
        };
        if code >= 300 {
            return self.ep.answer(now, tx, code, Extra::new());
        }
        match offer {
            Some(offer) => match self.answer_to(&offer) {
                Some(answer) => {
                    let extra = Extra::new().body(sip::multipart::SDP, answer.to_bytes());
                    self.ep.answer(now, tx, 200, extra)?;
                    if let Some(c) = self.call.as_mut() {
                        c.phase = CallPhase::Active;
                    }
                    let agreed = sip::sdp::negotiate(&offer, &answer).ok();
                    self.apply(now, agreed.as_ref().and_then(|a| a.first()), false);
                    Ok(())
                }
                None => self.ep.answer(now, tx, 488, Extra::new()),
            },
            None => {
                // No offer in the INVITE: ours goes in the 200, the answer in the ACK.
                let offer = self.offer(Direction::SendRecv);
                let extra = Extra::new().body(sip::multipart::SDP, offer.to_bytes());
                self.ep.answer(now, tx, 200, extra)?;
                if let Some(c) = self.call.as_mut() {
                    c.phase = CallPhase::Active;
                    c.local_offer = Some(offer);
                }
                Ok(())
            }
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
                if let Some((status, finding)) = refusal_of(&from, &request, &context, &check) {
                    if let Some(finding) = finding {
                        self.wire.refusal_finding(now, self.label(), finding);
                    }
                    if let Some(code) = status {
                        let _ = self.ep.answer(now, tx, code, Extra::new());
                    }
                    return;
                }
                self.on_request(now, call, tx, &request, context);
            }
            EndpointEvent::Response { call, response, .. } if self.is_ours(call) => {
                self.on_response(now, &response);
            }
            EndpointEvent::AckReceived { call, ack, .. } => {
                if !self.is_ours(Some(call)) {
                    return;
                }
                let offer = self.call.as_mut().and_then(|c| c.local_offer.take());
                if let (Some(offer), Some(answer)) = (offer, sdp_of(&ack)) {
                    let agreed = sip::sdp::negotiate(&offer, &answer).ok();
                    self.apply(now, agreed.as_ref().and_then(|a| a.first()), true);
                }
            }
            EndpointEvent::AckTimeout { call } => {
                let _ = self.ep.bye(now, call, Extra::new());
            }
            EndpointEvent::DialogTerminated { call, reason } if self.is_ours(Some(call)) => {
                self.end_call(now, &reason);
            }
            _ => {}
        }
    }

    fn on_request(
        &mut self,
        now: Time,
        call: Option<CallKey>,
        tx: TxKey,
        request: &SipMessage,
        context: RequestContext,
    ) {
        let method = request.method().cloned();
        match context {
            RequestContext::NewCall => {
                let Some(key) = call else { return };
                if self.call.is_some() {
                    let _ = self.ep.answer(now, tx, 486, Extra::new());
                    return;
                }
                let from = request
                    .from_header()
                    .map(|f| f.uri.text)
                    .unwrap_or_default();
                let callee = self.cfg.uri.clone();
                if self
                    .begin_call(now, key, CallPhase::Ringing, from, &callee)
                    .is_err()
                {
                    let _ = self.ep.answer(now, tx, 500, Extra::new());
                    return;
                }
                let offer = sdp_of(request);
                let respond_at = match self.cfg.answer {
                    AnswerMode::Answer { ring } => Some((now + ring, 200)),
                    AnswerMode::Reject { code, after } => Some((now + after, code)),
                    AnswerMode::Never => None,
                };
                if let Some(c) = self.call.as_mut() {
                    c.incoming = Some((tx, offer));
                    c.respond_at = respond_at;
                }
                let _ = self.ep.answer(now, tx, 180, Extra::new());
                let _ = self.respond(now);
            }
            RequestContext::Cancel {
                invite,
                invite_pending,
            } => {
                let _ = self.ep.answer(now, tx, 200, Extra::new());
                if let Some(inv) = invite.filter(|_| invite_pending) {
                    if let Some(c) = self.call.as_mut()
                        && c.incoming.as_ref().is_some_and(|(t, _)| *t == inv)
                    {
                        c.incoming = None;
                        c.respond_at = None;
                    }
                    let _ = self.ep.answer(now, inv, 487, Extra::new());
                }
            }
            RequestContext::InDialog if self.is_ours(call) => match method {
                Some(Method::Invite | Method::Update) => self.on_reoffer(now, tx, request),
                Some(Method::Bye | Method::Info | Method::Options | Method::Notify) => {
                    let _ = self.ep.answer(now, tx, 200, Extra::new());
                }
                _ => {
                    let _ = self.ep.answer(now, tx, 405, Extra::new());
                }
            },
            RequestContext::InDialog => {
                let _ = self.ep.answer(now, tx, 481, Extra::new());
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

    /// A re-INVITE or UPDATE in our dialog.
    fn on_reoffer(&mut self, now: Time, tx: TxKey, request: &SipMessage) {
        match sdp_of(request) {
            Some(offer) => match self.answer_to(&offer) {
                Some(answer) => {
                    let extra = Extra::new().body(sip::multipart::SDP, answer.to_bytes());
                    if self.ep.answer(now, tx, 200, extra).is_ok() {
                        let agreed = sip::sdp::negotiate(&offer, &answer).ok();
                        self.apply(now, agreed.as_ref().and_then(|a| a.first()), false);
                    }
                }
                None => {
                    let _ = self.ep.answer(now, tx, 488, Extra::new());
                }
            },
            None if request.method() == Some(&Method::Invite) => {
                let offer = self.offer(Direction::SendRecv);
                let extra = Extra::new().body(sip::multipart::SDP, offer.to_bytes());
                if self.ep.answer(now, tx, 200, extra).is_ok()
                    && let Some(c) = self.call.as_mut()
                {
                    c.local_offer = Some(offer);
                }
            }
            None => {
                let _ = self.ep.answer(now, tx, 200, Extra::new());
            }
        }
    }

    fn on_response(&mut self, now: Time, response: &SipMessage) {
        let Some(code) = response.status() else {
            return;
        };
        let Ok(cseq) = response.cseq() else { return };
        if code < 200 || !matches!(cseq.method, Method::Invite | Method::Update) {
            return;
        }
        let Some(call) = self.call.as_mut() else {
            return;
        };
        if cseq.method == Method::Invite && code < 300 && call.phase == CallPhase::Dialing {
            call.phase = CallPhase::Active;
        }
        let offer = call.local_offer.take();
        if code >= 300 {
            return;
        }
        if let (Some(offer), Some(answer)) = (offer, sdp_of(response)) {
            let agreed = sip::sdp::negotiate(&offer, &answer).ok();
            self.apply(now, agreed.as_ref().and_then(|a| a.first()), true);
        }
    }

    fn drain_media(&mut self) {
        if let Some(s) = self.send.as_mut() {
            while let Some(d) = s.poll_transmit() {
                self.wire.out.push_back(d);
            }
            while let Some(o) = s.poll_observation() {
                self.wire.obs.push_back(o);
            }
        }
        if let Some(l) = self.listen.as_mut() {
            while let Some(o) = l.poll_observation() {
                self.wire.obs.push_back(o);
            }
        }
    }

    /// Processes endpoint events until none are left, then queues what is to be sent.
    fn pump(&mut self, now: Time) {
        while let Some(ev) = self.ep.poll_event() {
            self.on_event(now, ev);
        }
        let label = self.label();
        self.wire.drain(now, label, &mut self.ep);
        self.drain_media();
    }
}

impl Node for PartyUa {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn sip_addresses(&self) -> Vec<SocketAddr> {
        vec![self.cfg.sip_addr]
    }

    fn addresses(&self) -> Vec<SocketAddr> {
        vec![self.cfg.sip_addr, self.cfg.rtp_addr]
    }

    fn handle_datagram(&mut self, now: Time, datagram: Datagram) {
        if datagram.to == self.cfg.rtp_addr {
            if let Some(l) = self.listen.as_mut() {
                l.handle_datagram(now, datagram.from, &datagram.bytes);
            }
        } else {
            self.wire.received(now, self.label(), &datagram);
            self.ep
                .handle_datagram(now, datagram.from, datagram.transport, &datagram.bytes);
        }
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Time) {
        self.ep.handle_timeout(now);
        self.pump(now);
        let _ = self.respond(now);
        if let Some(s) = self.send.as_mut() {
            s.handle_timeout(now);
        }
        if let Some(l) = self.listen.as_mut() {
            l.handle_timeout(now);
        }
        self.pump(now);
    }

    fn poll_transmit(&mut self) -> Option<Datagram> {
        self.wire.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Time> {
        [
            self.ep.poll_timeout(),
            self.send.as_ref().and_then(SendStream::poll_timeout),
            self.listen.as_ref().and_then(ListenStream::poll_timeout),
            self.call
                .as_ref()
                .and_then(|c| c.respond_at.map(|(t, _)| t)),
        ]
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
