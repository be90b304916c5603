//! The back-to-back user agent: the platform's user agent towards the parties (Contact
//! `sip:platform@…`), which turns a caller's INVITE into a second call to the callee's
//! phone and keeps the two legs in step.
//!
//! # What this module owns
//!
//! - Routing by extension: an INVITE to `sip:<ext>@…` whose extension is in the
//!   directory starts a call with its own INVITE (own Call-ID, tags and SDP) to that
//!   phone; unknown extension 404, no SDP offer 488, no RTP ports 503.
//! - Both legs' dialogs ([`Legs`]): the caller's INVITE until it is answered, 180 and the
//!   final answer relayed, the SDP answers to a party's offers (re-INVITE or UPDATE only
//!   change that leg's media), CANCEL, BYE and a leg that ends ending the other.
//! - The call's phase (ringing, active, voicemail, ended): answer, voicemail on no
//!   answer or a decline (the mailbox's greeting and beep), and the end of a call,
//!   including the release the failure behaviour asks for.
//!
//! # What it must not touch
//!
//! The recordings ([`crate::recording`]) and the media ([`crate::mixer`]) themselves: it
//! tells the recording controller that a call was answered, went to voicemail or ended,
//! and tells the mixer where a leg sends, when the clock starts and stops, and what the
//! mailbox plays.

use crate::call::{Call, Calls, Phase, Role, Side, Ua};
use crate::config::PlatformConfig;
use crate::mixer::{CallMedia, PTIME};
use crate::recording::{Recorder, Recordings};
use crate::shared::{Incoming, Shared, SipEvent, law_of, sdp_of, secs, socket_of, transmit};
use media::FRAME_SAMPLES;
use rand::Rng;
use sim::{Datagram, Transport};
use sip::endpoint::{
    CallKey, CallPhase as EpPhase, EndReason, Endpoint, EndpointConfig, EndpointEvent, Extra,
    RequestContext,
};
use sip::message::{Method, SipMessage, Uri};
use sip::sdp::{Codec, SdpBuilder, SessionDescription, StreamSpec};
use sip::time::Time;
use sip::transaction::{PeerAddr, TxKey};
use std::net::SocketAddr;
use std::time::Duration;

/// Silence between the voicemail answer and the greeting (lets the deposit's recording
/// session come up first, so the recording holds the whole greeting).
pub const VOICEMAIL_GREETING_DELAY: Duration = Duration::from_millis(200);

/// The SIP side of a call's two legs.
pub(crate) struct Legs {
    /// The caller's dialog.
    a_key: Option<CallKey>,
    /// The callee's dialog.
    b_key: Option<CallKey>,
    /// The caller's INVITE, until it has a final response.
    a_tx: Option<TxKey>,
    /// The caller's SDP offer, until we answer it.
    a_offer: Option<SessionDescription>,
    /// Our offer to the callee, until it answers.
    b_offer: Option<SessionDescription>,
    ringing_relayed: bool,
    /// When an unanswered call goes to voicemail.
    ring_deadline: Option<Time>,
}

impl Legs {
    /// When an unanswered call goes to voicemail.
    pub(crate) fn ring_deadline(&self) -> Option<Time> {
        self.ring_deadline
    }
}

/// The B2BUA's user agent. See the [module docs](self).
pub(crate) struct B2bua {
    ep: Endpoint,
    next_call: u64,
}

impl B2bua {
    /// The B2BUA's user agent on `cfg.sip_addr`.
    pub(crate) fn new(cfg: &PlatformConfig) -> Self {
        let mut ep_cfg = EndpointConfig::new(
            cfg.sip_addr,
            &format!("sip:platform@{}", cfg.sip_addr),
            cfg.seed,
        );
        ep_cfg.user_agent = Some("recproof-platform".to_owned());
        Self {
            ep: Endpoint::new(ep_cfg),
            next_call: 1,
        }
    }

    /// The B2BUA's user agent (for datagrams and timeouts).
    pub(crate) fn endpoint(&mut self) -> &mut Endpoint {
        &mut self.ep
    }

    /// When the B2BUA's user agent next needs a timeout.
    pub(crate) fn poll_timeout(&self) -> Option<Time> {
        self.ep.poll_timeout()
    }

    /// The B2BUA's next event.
    pub(crate) fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.ep.poll_event()
    }

    /// The B2BUA's next datagram, sent from `from`.
    pub(crate) fn poll_transmit(&mut self, from: SocketAddr) -> Option<Datagram> {
        transmit(&mut self.ep, from)
    }

    /// An event of the B2BUA's user agent.
    pub(crate) fn on_event(
        &mut self,
        cx: &mut Shared,
        calls: &mut Calls,
        rec: &mut Recorder,
        now: Time,
        ev: EndpointEvent,
    ) {
        match cx.triage(&mut self.ep, now, ev) {
            Some(SipEvent::Request(req)) => self.on_request(cx, calls, rec, now, req),
            Some(SipEvent::Response { key, response, .. }) => {
                self.on_response(cx, calls, rec, now, key, &response);
            }
            Some(SipEvent::Terminated { key, reason }) => {
                self.on_terminated(cx, calls, rec, now, key, &reason);
            }
            None => {}
        }
    }

    /// Call `id`'s deadline came: voicemail when it rang out, release when the failure
    /// behaviour's announcement is over.
    pub(crate) fn on_deadline(
        &mut self,
        cx: &mut Shared,
        calls: &mut Calls,
        rec: &mut Recorder,
        now: Time,
        id: u64,
    ) {
        if let Some(c) = calls.get(id)
            && c.phase == Phase::Ringing
            && c.legs.ring_deadline.is_some_and(|t| t <= now)
        {
            self.voicemail(cx, calls, rec, now, id, "no answer");
        }
        if let Some(c) = calls.get(id)
            && c.recs.release_due(now)
        {
            cx.note(
                now,
                "call_released",
                format!("call={id} after failure announcement"),
            );
            self.end_call(cx, calls, rec, now, id);
        }
    }

    fn on_request(
        &mut self,
        cx: &mut Shared,
        calls: &mut Calls,
        rec: &mut Recorder,
        now: Time,
        req: Incoming,
    ) {
        let Incoming {
            key,
            tx,
            request,
            context,
        } = req;
        let method = request.method().cloned();
        match context {
            RequestContext::NewCall => {
                if let Some(key) = key {
                    self.new_call(cx, calls, now, key, tx, &request);
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
                let found = calls
                    .iter()
                    .find(|c| c.legs.a_tx == Some(inv))
                    .map(|c| c.id);
                let _ = self.ep.answer(now, inv, 487, Extra::new());
                if let Some(id) = found {
                    if let Some(c) = calls.get_mut(id) {
                        c.legs.a_tx = None;
                    }
                    cx.note(now, "call_cancelled", format!("call={id}"));
                    self.end_call(cx, calls, rec, now, id);
                }
            }
            RequestContext::InDialog => {
                let Some((id, Role::Leg(side))) = key.and_then(|k| calls.role(&(Ua::B2bua, k)))
                else {
                    let _ = self.ep.answer(now, tx, 481, Extra::new());
                    return;
                };
                match method {
                    Some(Method::Bye) => {
                        let _ = self.ep.answer(now, tx, 200, Extra::new());
                        cx.note(
                            now,
                            "bye_received",
                            format!("call={id} from={side:?}").to_lowercase(),
                        );
                        self.end_call(cx, calls, rec, now, id);
                    }
                    Some(Method::Invite | Method::Update) => {
                        if let Some(c) = calls.get_mut(id) {
                            self.on_leg_reoffer(cx, c, now, side, tx, &request);
                        }
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
    fn answer_sdp(
        cx: &mut Shared,
        offer: &SessionDescription,
        port: u16,
    ) -> Option<SessionDescription> {
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
        let version = cx.rng.random_range(1..1_000_000u64);
        let mut b = SdpBuilder::new(cx.cfg.media_ip, u64::from(port) + 9000, version);
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

    /// Our SDP offer to the callee on `port`.
    fn offer_sdp(cx: &Shared, port: u16) -> SessionDescription {
        SdpBuilder::new(cx.cfg.media_ip, u64::from(port) + 9000, 1)
            .stream(StreamSpec::audio(port))
            .build()
    }

    /// A caller's INVITE: routed by extension to the callee's phone.
    fn new_call(
        &mut self,
        cx: &mut Shared,
        calls: &mut Calls,
        now: Time,
        key: CallKey,
        tx: TxKey,
        request: &SipMessage,
    ) {
        if !cx.b.answers_calls {
            // The fault: the INVITE is left unanswered (a CANCEL still gets its 487).
            cx.note(
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
        let Some(contact) = cx.cfg.phone_of(&callee_ext) else {
            cx.note(
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
        let Some(ports) = cx.ports.alloc(2) else {
            cx.note(now, "call_rejected", "503: RTP port pool exhausted".into());
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
        let callee_aor = format!("sip:{callee_ext}@{}", cx.cfg.sip_addr);
        let media = CallMedia::new([ports[0], ports[1]], &mut cx.rng);
        calls.key_insert((Ua::B2bua, key), (id, Role::Leg(Side::Caller)));
        cx.ports.bind(ports[0], id, Side::Caller);
        cx.ports.bind(ports[1], id, Side::Callee);

        // Who is recorded on this call.
        let recs = Recordings::for_call(cx, &caller_ext, &callee_ext);
        let b_offer = Self::offer_sdp(cx, ports[1]);
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
            legs: Legs {
                a_key: Some(key),
                b_key: None,
                a_tx: Some(tx),
                a_offer: Some(offer),
                b_offer: Some(b_offer),
                ringing_relayed: false,
                ring_deadline: Some(now + cx.cfg.no_answer_timeout),
            },
            media,
            recs,
            queued: None,
        };
        match self
            .ep
            .invite(now, &target, PeerAddr::new(contact, Transport::Udp), extra)
        {
            Ok(bkey) => {
                call.legs.b_key = Some(bkey);
                calls.key_insert((Ua::B2bua, bkey), (id, Role::Leg(Side::Callee)));
            }
            Err(e) => {
                cx.note(now, "call_rejected", format!("call={id} 500: {e}"));
                let _ = self.ep.answer(now, tx, 500, Extra::new());
                call.legs.a_tx = None;
                call.phase = Phase::Ended;
                calls.mark_ended(id);
            }
        }
        let recorded = call.recs.summary();
        calls.insert(call);
        calls.schedule(id);
        cx.note(
            now,
            "call_routed",
            format!(
                "call={id} caller={caller_ext} callee={callee_ext} contact={contact} recorded=[{}]",
                recorded.join(",")
            ),
        );
    }

    /// A party's re-INVITE or UPDATE: answered by the platform itself, changing only
    /// that leg's media.
    fn on_leg_reoffer(
        &mut self,
        cx: &mut Shared,
        c: &mut Call,
        now: Time,
        side: Side,
        tx: TxKey,
        request: &SipMessage,
    ) {
        let port = c.media.port(side);
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
        let Some(answer) = Self::answer_sdp(cx, &offer, port) else {
            let _ = self.ep.answer(now, tx, 488, Extra::new());
            return;
        };
        let extra = Extra::new().body(sip::multipart::SDP, answer.to_bytes());
        if self.ep.answer(now, tx, 200, extra).is_ok()
            && let Ok(agreed) = sip::sdp::negotiate(&offer, &answer)
            && let Some(n) = agreed.first()
        {
            let remote = n.answerer_sends_to.as_ref().and_then(socket_of);
            c.media.connect(side, remote, law_of(n), n.telephone_event);
        }
    }

    /// Answers the caller 200 with our SDP and starts the media clock.
    fn answer_caller(&mut self, cx: &mut Shared, calls: &mut Calls, now: Time, id: u64) -> bool {
        let Some(c) = calls.get_mut(id) else {
            return false;
        };
        let (Some(tx), Some(offer)) = (c.legs.a_tx.take(), c.legs.a_offer.take()) else {
            return false;
        };
        let port = c.media.port(Side::Caller);
        let Some(answer) = Self::answer_sdp(cx, &offer, port) else {
            let _ = self.ep.answer(now, tx, 488, Extra::new());
            return false;
        };
        let extra = Extra::new().body(sip::multipart::SDP, answer.to_bytes());
        if self.ep.answer(now, tx, 200, extra).is_err() {
            return false;
        }
        if let Ok(agreed) = sip::sdp::negotiate(&offer, &answer)
            && let Some(n) = agreed.first()
        {
            let remote = n.answerer_sends_to.as_ref().and_then(socket_of);
            c.media
                .connect(Side::Caller, remote, law_of(n), n.telephone_event);
        }
        c.media.start_clock(now);
        c.legs.ring_deadline = None;
        calls.schedule(id);
        true
    }

    /// A response on a leg: the callee's answer to our INVITE (ringing, answer, or a
    /// refusal that sends the call to voicemail or ends it).
    fn on_response(
        &mut self,
        cx: &mut Shared,
        calls: &mut Calls,
        rec: &mut Recorder,
        now: Time,
        key: CallKey,
        response: &SipMessage,
    ) {
        let Some((id, role)) = calls.role(&(Ua::B2bua, key)) else {
            return;
        };
        let Some(code) = response.status() else {
            return;
        };
        let Ok(cseq) = response.cseq() else { return };
        if role != Role::Leg(Side::Callee) || cseq.method != Method::Invite {
            return;
        }
        let Some(c) = calls.get_mut(id) else {
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
                if !c.legs.ringing_relayed
                    && let Some(tx) = c.legs.a_tx
                {
                    c.legs.ringing_relayed = true;
                    let _ = self.ep.answer(now, tx, 180, Extra::new());
                }
            }
            200..=299 => {
                if let (Some(offer), Some(answer)) = (c.legs.b_offer.take(), sdp_of(response))
                    && let Ok(agreed) = sip::sdp::negotiate(&offer, &answer)
                    && let Some(n) = agreed.first()
                {
                    let remote = n.offerer_sends_to.as_ref().and_then(socket_of);
                    c.media
                        .connect(Side::Callee, remote, law_of(n), n.telephone_event);
                }
                if !self.answer_caller(cx, calls, now, id) {
                    self.end_call(cx, calls, rec, now, id);
                    return;
                }
                if let Some(c) = calls.get_mut(id) {
                    c.phase = Phase::Active;
                }
                cx.note(now, "call_answered", format!("call={id}"));
                rec.start_automatic(cx, calls, now, id);
            }
            300..=699 => {
                let declined = matches!(code / 100, 4 | 6) && code != 487;
                if code == 487 {
                    return;
                }
                if declined {
                    self.voicemail(cx, calls, rec, now, id, &format!("declined {code}"));
                } else {
                    if let Some(tx) = c.legs.a_tx.take() {
                        let _ = self.ep.answer(now, tx, code, Extra::new());
                    }
                    self.end_call(cx, calls, rec, now, id);
                }
            }
            _ => {}
        }
    }

    /// A leg's dialog ended: the call ends (unless it is the callee's leg of a call
    /// that was never connected to it).
    fn on_terminated(
        &mut self,
        cx: &mut Shared,
        calls: &mut Calls,
        rec: &mut Recorder,
        now: Time,
        key: CallKey,
        reason: &EndReason,
    ) {
        let Some((id, Role::Leg(side))) = calls.key_remove(&(Ua::B2bua, key)) else {
            return;
        };
        let live = calls.get(id).is_some_and(|c| c.phase != Phase::Ended);
        let ringing_callee =
            side == Side::Callee && calls.get(id).is_some_and(|c| c.phase != Phase::Active);
        if live && !ringing_callee {
            cx.note(
                now,
                "leg_ended",
                format!("call={id} side={side:?} reason={reason:?}").to_lowercase(),
            );
            self.end_call(cx, calls, rec, now, id);
        }
    }

    /// The callee did not answer or declined: the callee leg is cancelled, the platform
    /// answers the caller and plays the mailbox's greeting and beep, and the deposit
    /// recordings start.
    fn voicemail(
        &mut self,
        cx: &mut Shared,
        calls: &mut Calls,
        rec: &mut Recorder,
        now: Time,
        id: u64,
        why: &str,
    ) {
        let Some(c) = calls.get_mut(id) else {
            return;
        };
        if c.phase != Phase::Ringing {
            return;
        }
        c.phase = Phase::Voicemail;
        c.legs.ring_deadline = None;
        let bkey = c.legs.b_key;
        if let Some(k) = bkey
            && self.ep.phase(k) == Some(EpPhase::Outgoing)
        {
            let _ = self.ep.cancel(now, k);
        }
        if !self.answer_caller(cx, calls, now, id) {
            self.end_call(cx, calls, rec, now, id);
            return;
        }
        let greeting = cx.assets.greeting.clone();
        let beep = cx.assets.voicemail_beep.clone();
        let records_voicemail = cx.b.records_voicemail;
        let Some(c) = calls.get_mut(id) else {
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
        cx.note(now, "voicemail", detail);
        rec.start_all(cx, calls, now, id);
    }

    /// Ends the call: the caller's pending INVITE gets 480, established legs BYE, a
    /// callee still ringing CANCEL; the media clock stops and the recordings stop.
    fn end_call(
        &mut self,
        cx: &mut Shared,
        calls: &mut Calls,
        rec: &mut Recorder,
        now: Time,
        id: u64,
    ) {
        let Some(c) = calls.get_mut(id) else {
            return;
        };
        if c.phase == Phase::Ended {
            return;
        }
        c.phase = Phase::Ended;
        c.media.stop_clock();
        c.legs.ring_deadline = None;
        c.recs.cancel_release();
        let (akey, bkey, atx) = (c.legs.a_key, c.legs.b_key, c.legs.a_tx.take());
        calls.mark_ended(id);
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
        rec.end_of_call(cx, calls, now, id);
        cx.note(now, "call_end", format!("call={id}"));
    }
}
