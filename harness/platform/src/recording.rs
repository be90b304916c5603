//! The recording controller: the platform as SIPREC SRC. One recording per recorded
//! user of a call, each with at most one recording session (RS) to that user's
//! recorder at a time.
//!
//! # What this module owns
//!
//! - Who is recorded on a call and how ([`Recordings::for_call`]: the policy resolved
//!   for each party with the call's direction and reach, and the faults that change who
//!   is recorded and where).
//! - Each recording's state (idle, recording, paused, stopped, failed), its reminder
//!   schedule and when its streams start forking.
//! - Each RS on the wire ([`Recorder`], the SRC's user agent with its own Contact and
//!   Call-IDs): the INVITE with SDP and metadata, the metadata updates reporting
//!   announcements (one at a time, in order; the BYE waits for the last), the
//!   re-INVITEs of a pause style, BYE or CANCEL at the end, and what a recorder sends.
//! - Start, stop, pause and resume (at answer, at the call's end, and by feature code),
//!   and the failure behaviour when a recorder rejects, never answers or drops a
//!   session (POL-13), including releasing the call after its announcement.
//!
//! # What it must not touch
//!
//! The call legs and their dialogs ([`crate::b2bua`]) and the media itself
//! ([`crate::mixer`]): it asks the mixer to play clips and hands the tick its taps and
//! due reminders; it reads the call's phase, never changes it. What goes into the RS
//! documents is built by [`crate::rs`].

use crate::assets::prompt;
use crate::behaviour::Behaviour;
use crate::call::{Calls, Phase, Role, Side, Ua};
use crate::config::{PauseStyle, PlatformConfig};
use crate::mixer::{CallMedia, FeatureAction, FeatureCode, Fork, Tap};
use crate::shared::{
    Incoming, Shared, SipEvent, action, law_of, sdp_of, secs, socket_of, transmit,
};
use bytes::Bytes;
use policy::{
    CallType, Direction as CallDirection, FailureBehavior, NotRecorded, NotificationType,
    RecordMode, Recording as PolicyRecording,
};
use sim::{Datagram, Transport};
use sip::endpoint::RequestContext;
use sip::endpoint::{CallKey, EndReason, Endpoint, EndpointConfig, EndpointEvent, Extra};
use sip::message::{Method, SipMessage, Uri};
use sip::sdp::SessionDescription;
use sip::time::Time;
use sip::transaction::{PeerAddr, TxKey};
use siprec::metadata::announcement::{
    Announcement, AnnouncementEvent, AnnouncementTarget, announcement_update,
};
use siprec::rs::{RsDocs, RsSdpState, RsShape, RsSubject, src_contact};
use std::collections::{HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The transport towards a provider's recorder: TCP when the provider says so or its URI
/// carries `;transport=tcp`.
fn transport_to(srs: &policy::SrsEndpoint) -> Transport {
    let in_uri = Uri::parse(&srs.srs)
        .ok()
        .and_then(|u| u.transport())
        .is_some_and(|t| t.eq_ignore_ascii_case("tcp"));
    if srs.transport == policy::Transport::Tcp || in_uri {
        Transport::Tcp
    } else {
        Transport::Udp
    }
}

/// A user's recording settings for one call (policy resolution plus faults).
#[derive(Debug, Clone)]
struct RecSettings {
    srs_uri: String,
    /// How to reach the recorder: the provider's `transport`, or the URI's own
    /// `;transport=` parameter.
    srs_transport: Transport,
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
struct Rs {
    key: Option<CallKey>,
    docs: RsDocs,
    /// The session's RTP (ports, targets, senders), fed by the mixer.
    fork: Fork,
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

impl Rs {
    /// The metadata report of `prompt`, played to both parties at `played_at`.
    fn announcement(
        &self,
        event: AnnouncementEvent,
        played_at: jiff::Timestamp,
        prompt: &str,
    ) -> Announcement {
        Announcement {
            event,
            played_at,
            target: AnnouncementTarget::Both,
            prompt: Some(prompt.to_owned()),
            session_id: Some(self.docs.session_id.clone()),
        }
    }
}

/// One recorded user's side of a call.
struct UserRec {
    ext: String,
    side: Side,
    settings: RecSettings,
    voicemail: bool,
    state: RecState,
    rs: Option<Rs>,
    next_reminder: Option<Time>,
    fork_from: Time,
}

impl UserRec {
    /// The first reminder when recording (re)starts at `from`, if the user has them.
    fn first_reminder(&self, from: Time, drift: u64) -> Option<Time> {
        let i = self.settings.repeat?;
        Some(from + Duration::from_secs(u64::from(i) + drift))
    }
}

/// The recordings of one call (one per recorded user) and the release the failure
/// behaviour asked for.
#[derive(Default)]
pub(crate) struct Recordings {
    users: Vec<UserRec>,
    /// When the failure behaviour releases the call (after its announcement).
    release_at: Option<Time>,
}

impl Recordings {
    /// Who is recorded on a call from `caller_ext` to `callee_ext`, and how.
    pub(crate) fn for_call(cx: &Shared, caller_ext: &str, callee_ext: &str) -> Self {
        let known = |ext: &str| cx.cfg.policy.person_by_extension(ext).is_some();
        let internal = known(caller_ext) && known(callee_ext);
        let reach = if internal {
            policy::Reach::Internal
        } else {
            policy::Reach::Pstn
        };
        let mut users = Vec::new();
        for (ext, side, dir) in [
            (caller_ext, Side::Caller, CallDirection::Outbound),
            (callee_ext, Side::Callee, CallDirection::Inbound),
        ] {
            let ct = CallType {
                direction: dir,
                reach,
            };
            if let Some(settings) = settings_for(&cx.cfg, &cx.b, ext, ct) {
                users.push(UserRec {
                    ext: ext.to_owned(),
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
        Self {
            users,
            release_at: None,
        }
    }

    /// `ext:mode` of each recorded user, for the routing report.
    pub(crate) fn summary(&self) -> Vec<String> {
        self.users
            .iter()
            .map(|r| format!("{}:{}", r.ext, r.settings.mode))
            .collect()
    }

    /// The call went to voicemail: only the recordings of users who record deposits
    /// stay, as deposit recordings not started yet. Returns how many.
    pub(crate) fn keep_for_voicemail(&mut self, records_voicemail: bool) -> usize {
        let mut vm_recs = Vec::new();
        for r in self.users.drain(..) {
            if r.settings.record_voicemail && records_voicemail {
                vm_recs.push(UserRec {
                    voicemail: true,
                    state: RecState::Idle,
                    ..r
                });
            }
        }
        self.users = vm_recs;
        self.users.len()
    }

    /// When the failure behaviour releases the call.
    pub(crate) fn release_at(&self) -> Option<Time> {
        self.release_at
    }

    /// The failure behaviour's release is due at `now`.
    pub(crate) fn release_due(&self, now: Time) -> bool {
        self.release_at.is_some_and(|t| t <= now)
    }

    /// The call ended another way: no release is pending.
    pub(crate) fn cancel_release(&mut self) {
        self.release_at = None;
    }

    /// The ports of the sessions still held (returned when the call is reaped).
    pub(crate) fn session_ports(&self) -> Vec<u16> {
        self.users
            .iter()
            .filter_map(|r| r.rs.as_ref())
            .flat_map(|rs| rs.fork.ports().iter().copied())
            .collect()
    }

    /// The users whose reminder tone is due at `t` (each one's next is scheduled).
    pub(crate) fn due_reminders(&mut self, t: Time, drift: u64) -> Vec<String> {
        let mut reminders = Vec::new();
        for r in &mut self.users {
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

    /// The sessions' stream feeds for the tick at `t`: every established session not
    /// ended, forking while recording (or, with `forks_while_paused`, paused) from its
    /// start.
    pub(crate) fn taps(
        &mut self,
        t: Time,
        forks_while_paused: bool,
    ) -> impl Iterator<Item = Tap<'_>> {
        self.users.iter_mut().filter_map(move |r| {
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
}

/// Call `id`'s media and its recording `idx`, with the time of the call's next tick.
fn media_and_rec(
    calls: &mut Calls,
    id: u64,
    idx: usize,
) -> Option<(&mut CallMedia, &mut UserRec, Time)> {
    let c = calls.get_mut(id)?;
    let (_, tick_at) = c.media.next_tick();
    let rec = c.recs.users.get_mut(idx)?;
    Some((&mut c.media, rec, tick_at))
}

/// The recording settings of `ext` on this call, or `None` when this side is not
/// recorded. Applies the faults that change who is recorded and where.
fn settings_for(
    cfg: &PlatformConfig,
    b: &Behaviour,
    ext: &str,
    call: CallType,
) -> Option<RecSettings> {
    let mut s = settings_for_inner(cfg, b, ext, call)?;
    // BroadWorks always has the three identity values (the schema requires them);
    // when the policy leaves them out, make them up the way a provisioning system
    // would: the organisation, the location, the user at the platform.
    let p = &cfg.policy;
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
        .get_or_insert(format!("{ext}@{}", cfg.sip_addr.ip()));
    Some(s)
}

fn settings_for_inner(
    cfg: &PlatformConfig,
    b: &Behaviour,
    ext: &str,
    call: CallType,
) -> Option<RecSettings> {
    let p = &cfg.policy;
    let user = p.resolve(ext)?;
    let person = p.person_by_extension(ext)?;
    let pcr = &person.call_recording;
    let start_stop_of = |ss: &policy::StartStopAnnouncement| match call.reach {
        policy::Reach::Internal => ss.internal_calls_enabled,
        policy::Reach::Pstn => ss.pstn_calls_enabled,
    };
    let from_person = |srs: &policy::SrsEndpoint, mode: RecordMode| RecSettings {
        srs_uri: srs.srs.clone(),
        srs_transport: transport_to(srs),
        mode,
        start_stop: start_stop_of(&pcr.start_stop_announcement) && b.offers_start_stop,
        notification: (pcr.notification.enabled && pcr.notification.kind != NotificationType::None)
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
            if !b.records_always_users && a.mode == RecordMode::Always {
                return None;
            }
            let mut srs = &a.srs;
            if b.ignores_location_override && user.vendor_from == policy::Level::Location {
                srs = org_srs?;
            }
            Some(RecSettings {
                srs_uri: srs.srs.clone(),
                srs_transport: transport_to(srs),
                mode: a.mode,
                start_stop: user.announcements(call).start_stop && b.offers_start_stop,
                notification: a.notification,
                repeat: a.repeat_interval,
                record_voicemail: a.record_voicemail,
                failure: a.failure_behavior,
                service_provider: user.identity.service_provider.clone(),
                external_group: user.identity.external_group.clone(),
                external_identifier: user.identity.external_identifier.clone(),
            })
        }
        PolicyRecording::Off(NotRecorded::ModeNever) if b.records_never_users => {
            let srs = p.providers.get(&user.vendor)?;
            Some(from_person(srs, RecordMode::Always))
        }
        PolicyRecording::Off(NotRecorded::LocationVendorNone)
            if b.ignores_location_override && pcr.enabled && pcr.record != RecordMode::Never =>
        {
            Some(from_person(org_srs?, pcr.record))
        }
        PolicyRecording::Off(
            NotRecorded::LocationVendorNone | NotRecorded::OrganizationVendorNone,
        ) if b.records_provider_none && pcr.enabled && pcr.record != RecordMode::Never => {
            Some(from_person(p.providers.values().next()?, pcr.record))
        }
        PolicyRecording::Off(_) => None,
    }
}

/// Most recording-session Call-IDs remembered. The platform holds at most a few thousand
/// sessions at once (its RTP pool bounds it), so the oldest of 65,536 belong to sessions
/// long over; forgetting them keeps memory flat over a run of any length.
const MAX_SRC_CALL_IDS: usize = 65_536;

/// The SRC: its user agent and the sessions it runs. See the [module docs](self).
pub(crate) struct Recorder {
    src: Endpoint,
    /// The Call-IDs the SRC sent: what comes back with one is the SRC's.
    src_call_ids: HashSet<String>,
    /// The same, oldest first, so the oldest is forgotten past [`MAX_SRC_CALL_IDS`].
    src_call_order: std::collections::VecDeque<String>,
    next_rs: u64,
}

impl Recorder {
    /// The SRC's user agent on `cfg.src_addr()`, with the dialect's SRC marker in its
    /// Contact unless `b` leaves it out.
    pub(crate) fn new(cfg: &PlatformConfig, b: &Behaviour) -> Self {
        let src_addr = cfg.src_addr();
        let mut src_cfg = EndpointConfig::new(
            src_addr,
            &format!("sip:src@{src_addr}"),
            cfg.seed ^ 0xA5A5_A5A5,
        );
        src_cfg.contact = src_contact(cfg.dialect, b.src_marker, src_addr);
        src_cfg.user_agent = Some("recproof-platform-src".to_owned());
        Self {
            src: Endpoint::new(src_cfg),
            src_call_ids: HashSet::new(),
            src_call_order: std::collections::VecDeque::new(),
            next_rs: 1,
        }
    }

    /// The SRC's user agent (for datagrams and timeouts).
    pub(crate) fn endpoint(&mut self) -> &mut Endpoint {
        &mut self.src
    }

    /// When the SRC's user agent next needs a timeout.
    pub(crate) fn poll_timeout(&self) -> Option<Time> {
        self.src.poll_timeout()
    }

    /// Whether a datagram on the SIP address is the SRC's (its Call-ID is one the SRC
    /// sent).
    pub(crate) fn owns(&self, bytes: &Bytes) -> bool {
        matches!(SipMessage::parse(bytes.clone()),
            Ok(msg) if msg.call_id().is_ok_and(|id| self.src_call_ids.contains(id)))
    }

    /// The SRC's next event.
    pub(crate) fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.src.poll_event()
    }

    /// The SRC's next datagram, sent from `from` (its Call-ID is remembered).
    pub(crate) fn poll_transmit(&mut self, from: SocketAddr) -> Option<Datagram> {
        let d = transmit(&mut self.src, from)?;
        if let Ok(msg) = SipMessage::parse(d.bytes.clone())
            && let Ok(id) = msg.call_id()
            && !self.src_call_ids.contains(id)
        {
            self.src_call_ids.insert(id.to_owned());
            self.src_call_order.push_back(id.to_owned());
            if self.src_call_order.len() > MAX_SRC_CALL_IDS
                && let Some(old) = self.src_call_order.pop_front()
            {
                self.src_call_ids.remove(&old);
            }
        }
        Some(d)
    }

    /// An event of the SRC's user agent.
    pub(crate) fn on_event(
        &mut self,
        cx: &mut Shared,
        calls: &mut Calls,
        now: Time,
        ev: EndpointEvent,
    ) {
        match cx.triage(&mut self.src, now, ev) {
            Some(SipEvent::Request(req)) => self.on_request(calls, now, req),
            Some(SipEvent::Response { key, tx, response }) => {
                self.on_response(cx, calls, now, key, tx, &response);
            }
            Some(SipEvent::Terminated { key, reason }) => {
                self.on_terminated(cx, calls, now, key, &reason);
            }
            None => {}
        }
    }

    /// A request from a recorder: BYE ends the session (the failure behaviour follows
    /// when the dialog then terminates and it was not ours to end), re-INVITE is
    /// refused, the rest is acknowledged.
    fn on_request(&mut self, calls: &Calls, now: Time, req: Incoming) {
        let Incoming {
            key,
            tx,
            request,
            context,
        } = req;
        let known = key.is_some_and(|k| calls.role(&(Ua::Src, k)).is_some());
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

    /// A response from a recorder: the session's answer (the recording goes live),
    /// a re-INVITE's or an UPDATE's final response (the next request may go).
    fn on_response(
        &mut self,
        cx: &mut Shared,
        calls: &mut Calls,
        now: Time,
        key: CallKey,
        tx: TxKey,
        response: &SipMessage,
    ) {
        let Some((id, Role::Rs(idx))) = calls.role(&(Ua::Src, key)) else {
            return;
        };
        let Some(code) = response.status() else {
            return;
        };
        let Some(rs) = calls
            .get_mut(id)
            .and_then(|c| c.recs.users.get_mut(idx))
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
            cx.note(
                now,
                "rs_answered",
                format!("call={id} code={code} media={}", t.join(",")),
            );
        }
        if live {
            self.live(cx, calls, now, id, idx);
        }
        self.flush(cx, calls, now, id, idx);
    }

    /// A session's dialog ended: its ports go back to the pool, and when we were not
    /// ending it (rejected, Timer B, BYE from the recorder) the failure behaviour applies.
    fn on_terminated(
        &mut self,
        cx: &mut Shared,
        calls: &mut Calls,
        now: Time,
        key: CallKey,
        reason: &EndReason,
    ) {
        let Some((id, Role::Rs(idx))) = calls.key_remove(&(Ua::Src, key)) else {
            return;
        };
        let Some(c) = calls.get_mut(id) else {
            return;
        };
        let Some(rec) = c.recs.users.get_mut(idx) else {
            return;
        };
        let ours = rec.rs.as_ref().is_some_and(|rs| rs.key == Some(key));
        if !ours {
            return;
        }
        let closing = rec.rs.as_ref().is_some_and(|rs| rs.closing || rs.gone);
        if let Some(rs) = rec.rs.take() {
            cx.ports.release(rs.fork.ports());
        }
        if !closing {
            self.failed(cx, calls, now, id, idx, &format!("{reason:?}"));
        }
    }

    /// The call was answered: the recordings whose mode starts automatically start.
    pub(crate) fn start_automatic(
        &mut self,
        cx: &mut Shared,
        calls: &mut Calls,
        now: Time,
        id: u64,
    ) {
        let autos: Vec<usize> = calls
            .get(id)
            .map(|c| {
                c.recs
                    .users
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.settings.mode.starts_automatically())
                    .map(|(i, _)| i)
                    .collect()
            })
            .unwrap_or_default();
        for i in autos {
            self.start(cx, calls, now, id, i);
        }
    }

    /// Starts every recording of the call (the deposit recordings of a voicemail).
    pub(crate) fn start_all(&mut self, cx: &mut Shared, calls: &mut Calls, now: Time, id: u64) {
        let n = calls.get(id).map_or(0, |c| c.recs.users.len());
        for i in 0..n {
            self.start(cx, calls, now, id, i);
        }
    }

    /// The call ended: every recording stops (no stop announcement, nobody is left to
    /// hear it), and each session ends with BYE unless `b` leaves it open.
    pub(crate) fn end_of_call(&mut self, cx: &mut Shared, calls: &mut Calls, now: Time, id: u64) {
        let bye = cx.b.ends_rs_with_call;
        let Some(c) = calls.get_mut(id) else {
            return;
        };
        let n = c.recs.users.len();
        for r in &mut c.recs.users {
            if let Some(rs) = r.rs.as_mut() {
                rs.bye_when_closed = bye;
            }
        }
        for i in 0..n {
            self.stop(cx, calls, now, id, i, false);
        }
    }

    /// A feature code a party keyed in: applied to that party's recordings whose mode
    /// honours it and whose state it changes.
    pub(crate) fn on_feature_code(
        &mut self,
        cx: &mut Shared,
        calls: &mut Calls,
        now: Time,
        fc: &FeatureCode,
    ) {
        let (id, side, code, what) = (fc.id, fc.side, &fc.code, fc.action);
        if !cx.b.honours_feature_codes {
            cx.note(
                now,
                "feature_code",
                format!(
                    "call={id} code={code} action={} ignored (fault)",
                    what.as_str()
                ),
            );
            return;
        }
        let Some(c) = calls.get(id) else { return };
        let targets: Vec<(usize, RecordMode, RecState)> = c
            .recs
            .users
            .iter()
            .enumerate()
            .filter(|(_, r)| r.side == side && !r.voicemail)
            .map(|(i, r)| (i, r.settings.mode, r.state))
            .collect();
        let mut applied = Vec::new();
        for (i, mode, state) in targets {
            let done = match what {
                FeatureAction::Start if mode.user_can_start_stop() => {
                    matches!(state, RecState::Idle | RecState::Stopped)
                }
                FeatureAction::Stop if mode.user_can_start_stop() => {
                    matches!(state, RecState::Recording | RecState::Paused)
                }
                FeatureAction::Pause if mode.user_can_pause() => state == RecState::Recording,
                FeatureAction::Resume if mode.user_can_pause() => state == RecState::Paused,
                _ => false,
            };
            if !done {
                continue;
            }
            applied.push(i);
            match what {
                FeatureAction::Start => self.start(cx, calls, now, id, i),
                FeatureAction::Stop => self.stop(cx, calls, now, id, i, true),
                FeatureAction::Pause => self.pause_or_resume(cx, calls, now, id, i, true),
                FeatureAction::Resume => self.pause_or_resume(cx, calls, now, id, i, false),
            }
        }
        cx.note(
            now,
            "feature_code",
            format!(
                "call={id} side={} code={code} action={} applied={}",
                format!("{side:?}").to_lowercase(),
                what.as_str(),
                applied.len()
            ),
        );
    }

    /// Opens recording `idx` of call `id`: a session to the user's recorder with the
    /// INVITE (SDP and metadata) sent; recorded media forks once the recorder answers.
    fn start(&mut self, cx: &mut Shared, calls: &mut Calls, now: Time, id: u64, idx: usize) {
        let dialect = cx.cfg.dialect;
        let shape = RsShape {
            labels: cx.b.labels,
            single_stream: cx.b.single_stream,
            label_mismatch: cx.b.label_mismatch,
            offset_times: cx.b.offset_times,
        };
        if !cx.b.opens_recording_sessions {
            return;
        }
        let Some(c) = calls.get(id) else { return };
        let Some(rec) = c.recs.users.get(idx) else {
            return;
        };
        if !matches!(rec.state, RecState::Idle | RecState::Stopped) || rec.rs.is_some() {
            return;
        }
        let s = rec.settings.clone();
        let voicemail = rec.voicemail;
        let ext = rec.ext.clone();
        let party2 = if voicemail {
            format!("sip:voicemail-{}@{}", c.callee_ext, cx.cfg.sip_addr)
        } else {
            c.callee_aor.clone()
        };
        let subject = RsSubject {
            user_aor: format!("sip:{ext}@{}", cx.cfg.sip_addr),
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
            cx.note(
                now,
                "recording_failed",
                format!(
                    "call={id} user={ext} srs `{}` is not an IP literal",
                    s.srs_uri
                ),
            );
            self.failed(cx, calls, now, id, idx, "unresolvable SRS URI");
            return;
        };
        let Some(ports) = cx.ports.alloc(2) else {
            self.failed(cx, calls, now, id, idx, "RTP port pool exhausted");
            return;
        };
        let rs_n = self.next_rs;
        self.next_rs += 1;
        let seed = cx.cfg.seed.wrapping_mul(1_000_003).wrapping_add(rs_n);
        let mut docs = RsDocs::new(dialect, shape, &subject, seed, rs_n, cx.epoch_at(tick_at));
        let nstreams = docs.sdp_labels.len();
        let offer = docs.sdp(cx.cfg.media_ip, &ports[..nstreams], RsSdpState::Active);
        let extra = docs.initial_invite(&offer);
        let key = match self
            .src
            .invite(now, &s.srs_uri, PeerAddr::new(srs, s.srs_transport), extra)
        {
            Ok(k) => k,
            Err(e) => {
                cx.ports.release(&ports);
                self.failed(cx, calls, now, id, idx, &e.to_string());
                return;
            }
        };
        calls.key_insert((Ua::Src, key), (id, Role::Rs(idx)));
        let fork = Fork::new(ports, nstreams, &mut cx.rng);
        let late = cx.b.recorded_media_delay_start;
        let Some(c) = calls.get_mut(id) else {
            return;
        };
        let Some(rec) = c.recs.users.get_mut(idx) else {
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
        cx.note(now, "rs_invite", format!("call={id} user={ext} to={srs}"));
        cx.note(now, "recording_start", detail);
    }

    /// The recorder accepted the session: the recording is live. The start announcement
    /// plays from the next tick (so it is never played for a recording that failed, and
    /// with the leak fault the whole clip reaches the recorder), its metadata is queued,
    /// and the reminder schedule starts from that tick.
    fn live(&mut self, cx: &mut Shared, calls: &mut Calls, now: Time, id: u64, idx: usize) {
        let start_clip = cx.assets.start.clone();
        let no_ann = !cx.b.plays_start_stop;
        let no_md = !cx.b.reports_announcements;
        let drift = cx.b.reminder_drift_s;
        let no_reminder = !cx.b.plays_reminder;
        let Some((media, rec, tick_at)) = media_and_rec(calls, id, idx) else {
            return;
        };
        let tick_at = tick_at.max(now);
        let played_at = cx.epoch_at(tick_at);
        if rec.state != RecState::Recording {
            return;
        }
        let ext = rec.ext.clone();
        let announce = rec.settings.start_stop && !rec.voicemail;
        rec.next_reminder = if !no_reminder && !rec.voicemail {
            rec.first_reminder(tick_at, drift)
        } else {
            None
        };
        if let Some(rs) = rec.rs.as_mut()
            && announce
            && !no_md
        {
            let a = rs.announcement(AnnouncementEvent::Start, played_at, prompt::START);
            rs.updates.push_front(a);
        }
        if announce && !no_ann {
            media.play(&start_clip, true, true, true);
            cx.obs.push_back(action(
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
    fn stop(
        &mut self,
        cx: &mut Shared,
        calls: &mut Calls,
        now: Time,
        id: u64,
        idx: usize,
        announce: bool,
    ) {
        let stop_clip = cx.assets.stop.clone();
        let no_ann = !cx.b.plays_start_stop;
        let no_md = !cx.b.reports_announcements;
        let Some((media, rec, tick_at)) = media_and_rec(calls, id, idx) else {
            return;
        };
        let played_at = cx.epoch_checked(tick_at);
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
                let a = rs.announcement(AnnouncementEvent::Stop, at, prompt::STOP);
                rs.updates.push_back(a);
            }
            rs.closing = true;
        }
        if announce && !no_ann {
            media.play(&stop_clip, true, true, true);
            cx.obs.push_back(action(
                tick_at.max(now),
                "announcement_stop",
                format!("call={id} user={ext} prompt={} to=both", prompt::STOP),
            ));
        }
        cx.note(now, "recording_stop", format!("call={id} user={ext}"));
        self.flush(cx, calls, now, id, idx);
    }

    /// Pauses (`pause`) or resumes a recording: the pause style's SDP state, the notice
    /// the policy asks for and its metadata, the reminder schedule.
    fn pause_or_resume(
        &mut self,
        cx: &mut Shared,
        calls: &mut Calls,
        now: Time,
        id: u64,
        idx: usize,
        pause: bool,
    ) {
        let style = cx.b.pause_style.unwrap_or(cx.cfg.pause_style);
        let no_notice = !cx.b.plays_pause_notice;
        let no_md = !cx.b.reports_announcements;
        let drift = cx.b.reminder_drift_s;
        let no_reminder = !cx.b.plays_reminder;
        let (clip_pause, clip_resume, beep) = (
            cx.assets.pause.clone(),
            cx.assets.resume.clone(),
            cx.assets.beep.clone(),
        );
        let Some((media, rec, tick_at)) = media_and_rec(calls, id, idx) else {
            return;
        };
        let played_at = cx.epoch_checked(tick_at);
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
        rec.next_reminder = if !pause && !no_reminder {
            rec.first_reminder(tick_at, drift)
        } else {
            None
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
                let a = rs.announcement(event, at, name);
                rs.updates.push_back(a);
            }
        }
        let what = if pause { "pause" } else { "resume" };
        cx.obs.push_back(action(
            now,
            what,
            format!("call={id} user={ext} style={style:?}"),
        ));
        if let Some(clip) = clip
            && !no_notice
        {
            media.play(&clip, true, true, false);
            cx.obs.push_back(action(
                tick_at.max(now),
                &format!("notice_{what}"),
                format!("call={id} user={ext} prompt={name} to=both"),
            ));
        }
        self.flush(cx, calls, now, id, idx);
    }

    /// Sends what the RS is waiting to send: the next metadata update, a re-INVITE for a
    /// changed SDP state, and the BYE (or CANCEL) once it is closing and idle.
    fn flush(&mut self, cx: &mut Shared, calls: &mut Calls, now: Time, id: u64, idx: usize) {
        let ip = cx.cfg.media_ip;
        let Some(rs) = calls
            .get_mut(id)
            .and_then(|c| c.recs.users.get_mut(idx))
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
                cx.obs.push_back(action(
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
                    calls.key_remove(&(Ua::Src, key));
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
                cx.obs.push_back(action(
                    now,
                    "rs_reinvite",
                    format!("call={id} sdp={want:?}").to_lowercase(),
                ));
            }
        }
    }

    /// POL-13: the recorder failed (rejected, never answered, or dropped the session).
    fn failed(
        &mut self,
        cx: &mut Shared,
        calls: &mut Calls,
        now: Time,
        id: u64,
        idx: usize,
        why: &str,
    ) {
        let clip = cx.assets.stop.clone();
        let Some(c) = calls.get_mut(id) else {
            return;
        };
        if c.phase == Phase::Ended {
            return;
        }
        let (_, tick_at) = c.media.next_tick();
        let Some(rec) = c.recs.users.get_mut(idx) else {
            return;
        };
        rec.state = RecState::Failed;
        rec.next_reminder = None;
        let behaviour = rec.settings.failure;
        let ext = rec.ext.clone();
        let detail = format!("call={id} user={ext} reason={why} behaviour={behaviour}");
        if !cx.b.applies_failure_behaviour {
            // The fault: whatever is configured, the call is dropped at once, silently.
            c.recs.release_at = Some(now);
            calls.schedule(id);
            cx.note(
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
                c.recs.release_at = Some(
                    tick_at.max(now)
                        + Duration::from_micros(clip.len() as u64 * 125)
                        + Duration::from_millis(200),
                );
            }
        }
        calls.schedule(id);
        cx.note(now, "recording_failed", detail);
    }
}
