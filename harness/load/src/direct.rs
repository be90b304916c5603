//! `recproof load --direct`, sans-IO: recproof's caller calls recproof's callee with no
//! platform in between, every call carrying instrumented audio both ways, every frame
//! decoded and every call judged. The side-by-side baseline against SIPp's uac/uas.
//!
//! Owns: [`DirectEngine`], which holds the [`CallSchedule`], one SIP [`Endpoint`] per side
//! for all calls (one socket each, as SIPp does), a slot per concurrent call that owns a
//! fixed pair of RTP ports, one timer heap for every media stream, hang-up and linger of
//! every call, and the [`Stats`]. There is no task, thread or allocation per stream on the
//! timer path; a call's state is one slot in a vector.
//!
//! Driving it: the same rules as [`Endpoint`]: make one change (`handle_datagram`,
//! `handle_timeout`, `stop`), then drain [`DirectEngine::poll_transmit`] and
//! [`DirectEngine::poll_record`], then sleep until [`DirectEngine::poll_timeout`]. Sockets
//! are named by [`SocketId`]; [`DirectEngine::sockets`] lists what the driver must bind
//! before the first call.
//!
//! Must not touch: sockets, clocks, threads, files.

use crate::engine::{Engine, Finished, SocketId, SocketKind, SocketSpec, Transmit};
use crate::frames::{DEFAULT_BANK_BYTES, FrameBank, Payload};
use crate::hold::Hold;
use crate::leg::{LegReceiver, LegSender};
use crate::record::{CallCheck, CallRecord, Failure, LegRecord, LegRules, Verdict, judge_leg};
use crate::results::FiguresData;
use crate::schedule::{CallSchedule, CallStart, LoadPlan, PlanError};
use crate::stats::{Figures, Stats};
use media::FRAME_SAMPLES;
use media::g711::Law;
use media::signal::Modem;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sip::endpoint::{
    CallKey, EndReason, Endpoint, EndpointConfig, EndpointEvent, Extra, RequestContext,
};
use sip::message::Method;
use sip::sdp::{Codec, Direction, SdpBuilder, SessionDescription, StreamSpec};
use sip::time::Time;
use sip::transaction::{PeerAddr, Transport};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Shortest hold of a call with media: shorter calls could not show loss or clipping, so
/// held-for-less draws are raised to this (and say so in their record's `hold_ms`).
pub const MIN_MEDIA_HOLD: Duration = Duration::from_secs(1);
/// How long a call's receivers keep listening after its BYE completed (late packets).
pub const LINGER: Duration = Duration::from_millis(100);
/// Ports between two RTP ports of the pool (RTP on even ports, RTCP's odd port left free).
pub const PORT_STRIDE: u16 = 2;
/// How long a call may take beyond its hold before it is ended as a timeout: INVITE
/// (Timer B, 32 s) plus BYE (Timer F, 32 s) plus slack.
pub const CALL_OVERRUN: Duration = Duration::from_secs(70);

/// Settings of a direct run.
#[derive(Debug, Clone)]
pub struct DirectConfig {
    /// Rate, concurrency and bounds.
    pub plan: LoadPlan,
    /// How long calls are held after the 2xx.
    pub hold: Hold,
    /// Seed of every random choice (hold draws, SSRCs, tags).
    pub seed: u64,
    /// Audio both ways (`false`: `--no-media`, signalling only).
    pub media: bool,
    /// Caller side SIP address.
    pub caller_sip: SocketAddr,
    /// Callee side SIP address.
    pub callee_sip: SocketAddr,
    /// The address RTP ports are bound on.
    pub rtp_ip: IpAddr,
    /// First port of the RTP pool and the first port past it.
    pub rtp_ports: (u16, u16),
    /// Calls open at once that the pool must hold (slots) when the plan sets no
    /// concurrency limit (which then becomes this). With a limit, the slots are this
    /// share's part of it, whatever is given here.
    pub slots: u32,
    /// What the media checks allow.
    pub rules: LegRules,
}

/// Why a direct run cannot start; the message says what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DirectError {
    /// The plan itself is wrong.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The RTP port range is too small for the concurrency.
    #[error(
        "--rtp-ports {lo}-{hi} holds {have} RTP ports (every {PORT_STRIDE}nd port), but \
         {slots} concurrent calls with media need {need} (one per party per call): widen \
         the range or lower --concurrency"
    )]
    PortRange {
        /// First port.
        lo: u16,
        /// Past the last.
        hi: u16,
        /// Ports the range holds.
        have: u32,
        /// Ports needed.
        need: u32,
        /// Concurrent calls.
        slots: u32,
    },
    /// No slot: a concurrency of 0 cannot run a call.
    #[error("the run would hold 0 concurrent calls: give --concurrency 1 or more")]
    NoSlots,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    CallerSend,
    CalleeSend,
    Hangup,
    Linger,
    Overrun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Inviting,
    Talking,
    Ending,
    Lingering,
}

#[derive(Debug)]
struct Call {
    index: u64,
    epoch: u32,
    phase: Phase,
    invite_at: Time,
    start_lateness: Duration,
    hold: Duration,
    caller: Option<CallKey>,
    callee: Option<CallKey>,
    call_id: Option<String>,
    setup: Option<Duration>,
    bye_status: Option<u16>,
    failure: Option<Failure>,
    /// Caller to callee: sent by the caller, heard by the callee.
    up_tx: Option<LegSender>,
    up_rx: Option<LegReceiver>,
    up_sending: bool,
    /// Callee to caller.
    down_tx: Option<LegSender>,
    down_rx: Option<LegReceiver>,
    down_sending: bool,
    caller_remote_rtp: Option<SocketAddr>,
    callee_remote_rtp: Option<SocketAddr>,
    ended_at: Option<Time>,
}

/// The sans-IO engine of a direct run.
pub struct DirectEngine {
    cfg: DirectConfig,
    schedule: CallSchedule,
    caller: Endpoint,
    callee: Endpoint,
    sockets: Vec<SocketSpec>,
    slots: Vec<Option<Call>>,
    epochs: Vec<u32>,
    free: VecDeque<u32>,
    by_caller_key: HashMap<CallKey, u32>,
    by_callee_key: HashMap<CallKey, u32>,
    timers: BinaryHeap<Reverse<(Time, u32, u32, TimerKind)>>,
    transmits: VecDeque<Transmit>,
    records: VecDeque<CallRecord>,
    bank: FrameBank,
    payload: Payload,
    rng: SmallRng,
    stats: Stats,
    stray: u64,
}

impl std::fmt::Debug for DirectEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectEngine")
            .field("slots", &self.slots.len())
            .field("active", &self.schedule.active())
            .finish()
    }
}

const CALLER_SIP: SocketId = SocketId(0);
const CALLEE_SIP: SocketId = SocketId(1);

impl DirectEngine {
    /// An engine for `cfg` whose first call is due at `start`; `modem` makes the audio.
    pub fn new(mut cfg: DirectConfig, modem: Arc<Modem>, start: Time) -> Result<Self, DirectError> {
        if cfg.plan.concurrency.is_none() {
            cfg.plan.concurrency = Some(cfg.slots);
        }
        let schedule = CallSchedule::new(cfg.plan.clone(), start)?;
        cfg.slots = schedule.limit().unwrap_or(cfg.slots);
        if cfg.slots == 0 {
            return Err(DirectError::NoSlots);
        }
        let mut sockets = vec![
            SocketSpec {
                id: CALLER_SIP,
                addr: cfg.caller_sip,
                kind: SocketKind::Sip,
                owner: "caller SIP",
            },
            SocketSpec {
                id: CALLEE_SIP,
                addr: cfg.callee_sip,
                kind: SocketKind::Sip,
                owner: "callee SIP",
            },
        ];
        if cfg.media {
            let (lo, hi) = cfg.rtp_ports;
            let first = lo + lo % PORT_STRIDE;
            let have = u32::from(hi.saturating_sub(first)).div_ceil(u32::from(PORT_STRIDE));
            let need = cfg.slots.saturating_mul(2);
            if have < need {
                return Err(DirectError::PortRange {
                    lo,
                    hi,
                    have,
                    need,
                    slots: cfg.slots,
                });
            }
            for (i, owner) in [(0, "caller RTP"), (1, "callee RTP")] {
                for s in 0..cfg.slots {
                    let n = i * cfg.slots + s;
                    let port = first + (n as u16) * PORT_STRIDE;
                    sockets.push(SocketSpec {
                        id: SocketId(sockets.len() as u32),
                        addr: SocketAddr::new(cfg.rtp_ip, port),
                        kind: SocketKind::Rtp,
                        owner,
                    });
                }
            }
        }
        let caller = Endpoint::new(EndpointConfig::new(
            cfg.caller_sip,
            &format!("sip:caller@{}", cfg.caller_sip),
            cfg.seed,
        ));
        let callee = Endpoint::new(EndpointConfig::new(
            cfg.callee_sip,
            &format!("sip:callee@{}", cfg.callee_sip),
            cfg.seed ^ 0x9E37_79B9_7F4A_7C15,
        ));
        let n = cfg.slots as usize;
        Ok(Self {
            bank: FrameBank::new(modem, Law::Ulaw, DEFAULT_BANK_BYTES),
            rng: SmallRng::seed_from_u64(cfg.seed),
            schedule,
            caller,
            callee,
            sockets,
            slots: (0..n).map(|_| None).collect(),
            epochs: vec![0; n],
            free: (0..cfg.slots).collect(),
            by_caller_key: HashMap::with_capacity(n),
            by_callee_key: HashMap::with_capacity(n),
            timers: BinaryHeap::with_capacity(n * 3),
            transmits: VecDeque::new(),
            records: VecDeque::new(),
            payload: [0; FRAME_SAMPLES],
            stats: Stats::default(),
            stray: 0,
            cfg,
        })
    }

    /// The run's figures (the live status reads them; the driver takes intervals).
    pub fn stats(&mut self) -> &mut Stats {
        &mut self.stats
    }

    /// The schedule (rate, limits) being run.
    pub fn plan(&self) -> &LoadPlan {
        self.schedule.plan()
    }

    /// Frames the bank had to generate live (past its cache).
    pub fn frames_generated_live(&self) -> u64 {
        self.bank.generated_live()
    }
}

impl Engine for DirectEngine {
    /// Every socket the driver must bind, SIP first.
    fn sockets(&self) -> &[SocketSpec] {
        &self.sockets
    }

    /// Calls open now.
    fn active(&self) -> u32 {
        self.schedule.active()
    }

    /// Calls started so far.
    fn started(&self) -> u64 {
        self.schedule.started()
    }

    /// Messages that matched no call (counted, not judged: they belong to no call).
    fn stray(&self) -> u64 {
        self.stray
    }

    /// True when every call that will start has started, ended and been recorded.
    fn is_finished(&self) -> bool {
        self.schedule.is_finished() && self.records.is_empty() && self.transmits.is_empty()
    }

    /// Starts no more calls; open calls run to the end of their hold.
    fn stop(&mut self) {
        self.schedule.stop();
    }

    /// Starts no more calls and hangs up every open call now (a second Ctrl-C).
    fn hang_up_all(&mut self, now: Time) {
        self.schedule.stop();
        for slot in 0..self.slots.len() as u32 {
            self.hang_up(now, slot);
        }
    }

    /// The next datagram to send.
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next finished call's record.
    fn poll_record(&mut self) -> Option<Finished> {
        self.records.pop_front().map(Finished::judged)
    }

    /// When to call [`Self::handle_timeout`] next.
    fn poll_timeout(&self) -> Option<Time> {
        [
            self.timers.peek().map(|Reverse((t, ..))| *t),
            self.schedule.poll_timeout(),
            self.caller.poll_timeout(),
            self.callee.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// A datagram arrived on `socket` from `from`.
    fn handle_datagram(&mut self, now: Time, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        match socket {
            CALLER_SIP => {
                self.stats.both(|f| f.sip_received += 1);
                self.caller
                    .handle_datagram(now, from, Transport::Udp, bytes);
                self.pump(now);
            }
            CALLEE_SIP => {
                self.stats.both(|f| f.sip_received += 1);
                self.callee
                    .handle_datagram(now, from, Transport::Udp, bytes);
                self.pump(now);
            }
            SocketId(n) => {
                self.stats.both(|f| f.rtp_received += 1);
                let Some(idx) = (n as usize).checked_sub(2) else {
                    return;
                };
                let slots = self.slots.len();
                let (slot, caller_side) = if idx < slots {
                    (idx, true)
                } else {
                    (idx - slots, false)
                };
                let Some(Some(call)) = self.slots.get_mut(slot) else {
                    self.stray += 1;
                    return;
                };
                // The caller's port hears the callee (down leg); the callee's the caller.
                let rx = if caller_side {
                    &mut call.down_rx
                } else {
                    &mut call.up_rx
                };
                match rx {
                    Some(rx) => {
                        let stats = &mut self.stats;
                        rx.handle_datagram(now, bytes, |us| {
                            stats.record(|f| &mut f.mouth_to_ear_us, us);
                        });
                    }
                    None => self.stray += 1,
                }
            }
        }
    }

    /// Time passed: start due calls, send due frames, hang up, end lingering calls.
    fn handle_timeout(&mut self, now: Time) {
        while let Some(start) = self.schedule.poll_start(now) {
            self.start_call(now, start);
        }
        if self.caller.poll_timeout().is_some_and(|t| t <= now) {
            self.caller.handle_timeout(now);
        }
        if self.callee.poll_timeout().is_some_and(|t| t <= now) {
            self.callee.handle_timeout(now);
        }
        self.pump(now);
        while let Some(&Reverse((at, slot, epoch, kind))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            if self.epochs.get(slot as usize) != Some(&epoch) {
                continue;
            }
            match kind {
                TimerKind::CallerSend | TimerKind::CalleeSend => {
                    self.send_frames(now, slot, epoch, kind == TimerKind::CallerSend);
                }
                TimerKind::Hangup => self.hang_up(now, slot),
                TimerKind::Linger => self.finish(now, slot),
                TimerKind::Overrun => {
                    self.fail(
                        slot,
                        Failure::Timeout {
                            what: "the call did not end within its hold plus 70 s".into(),
                        },
                    );
                    self.end(now, slot);
                }
            }
            self.pump(now);
        }
    }

    fn take_interval(&mut self) -> FiguresData {
        self.stats.take_interval()
    }

    fn totals(&self) -> &Figures {
        &self.stats.total
    }

    fn count_send_errors(&mut self, errors: u64) {
        self.stats.both(|f| f.send_errors += errors);
    }
}

impl DirectEngine {
    fn start_call(&mut self, now: Time, start: CallStart) {
        self.stats.count_start(start.lateness);
        let Some(slot) = self.free.pop_front() else {
            // Cannot happen while the schedule's limit equals the slot count; counted as
            // the harness's failure if it ever does.
            let rec = CallRecord::harness_failure(
                start.index,
                ms(now),
                start.lateness.as_secs_f64() * 1000.0,
                "no free call slot",
            );
            self.records.push_back(rec);
            self.schedule.call_ended();
            return;
        };
        let epoch = self.epochs[slot as usize].wrapping_add(1);
        self.epochs[slot as usize] = epoch;
        let mut hold = self.cfg.hold.sample(self.cfg.seed, start.index);
        if self.cfg.media {
            hold = hold.max(MIN_MEDIA_HOLD);
        }
        let offer = self.sdp(true, slot, Direction::SendRecv);
        let uri = format!("sip:load-{slot}-{}@{}", start.index, self.cfg.callee_sip);
        let target = PeerAddr::new(self.cfg.callee_sip, Transport::Udp);
        let extra = Extra::new().body(sip::multipart::SDP, offer.to_bytes());
        let mut call = Call {
            index: start.index,
            epoch,
            phase: Phase::Inviting,
            invite_at: now,
            start_lateness: start.lateness,
            hold,
            caller: None,
            callee: None,
            call_id: None,
            setup: None,
            bye_status: None,
            failure: None,
            up_tx: None,
            up_rx: None,
            up_sending: false,
            down_tx: None,
            down_rx: None,
            down_sending: false,
            caller_remote_rtp: None,
            callee_remote_rtp: None,
            ended_at: None,
        };
        match self.caller.invite(now, &uri, target, extra) {
            Ok(key) => {
                call.caller = Some(key);
                self.by_caller_key.insert(key, slot);
            }
            Err(e) => {
                call.failure = Some(Failure::Harness {
                    what: format!("could not build the INVITE: {e}"),
                });
            }
        }
        if self.cfg.media {
            let (caller_party, callee_party) = FrameBank::parties_of(start.index);
            let modem = self.bank.modem();
            call.up_rx = Some(LegReceiver::new(modem.clone(), caller_party));
            call.down_rx = Some(LegReceiver::new(modem.clone(), callee_party));
        }
        let failed = call.failure.is_some();
        self.slots[slot as usize] = Some(call);
        self.push_timer(now + hold + CALL_OVERRUN, slot, epoch, TimerKind::Overrun);
        if failed {
            self.end(now, slot);
        }
    }

    fn sdp(&mut self, caller_side: bool, slot: u32, direction: Direction) -> SessionDescription {
        let port = if self.cfg.media {
            let base = if caller_side { 2 } else { 2 + self.cfg.slots };
            self.sockets
                .get((base + slot) as usize)
                .map_or(9, |s| s.addr.port())
        } else {
            9
        };
        let direction = if self.cfg.media {
            direction
        } else {
            Direction::Inactive
        };
        let session_id = self.rng.random_range(1..u64::from(u32::MAX));
        SdpBuilder::new(self.cfg.rtp_ip, session_id, 1)
            .stream(
                StreamSpec::audio(port)
                    .codecs(vec![Codec::Pcmu])
                    .direction(direction),
            )
            .build()
    }

    fn push_timer(&mut self, at: Time, slot: u32, epoch: u32, kind: TimerKind) {
        self.timers.push(Reverse((at, slot, epoch, kind)));
    }

    fn call_mut(&mut self, slot: u32) -> Option<&mut Call> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    fn fail(&mut self, slot: u32, failure: Failure) {
        if let Some(c) = self.call_mut(slot) {
            c.failure.get_or_insert(failure);
        }
    }

    /// Drains both endpoints into transmits and call state.
    fn pump(&mut self, now: Time) {
        loop {
            let mut progressed = false;
            while let Some(t) = self.caller.poll_transmit() {
                progressed = true;
                self.stats.both(|f| f.sip_sent += 1);
                self.transmits.push_back(Transmit {
                    socket: CALLER_SIP,
                    to: t.to,
                    payload: t.bytes,
                });
            }
            while let Some(t) = self.callee.poll_transmit() {
                progressed = true;
                self.stats.both(|f| f.sip_sent += 1);
                self.transmits.push_back(Transmit {
                    socket: CALLEE_SIP,
                    to: t.to,
                    payload: t.bytes,
                });
            }
            if let Some(ev) = self.caller.poll_event() {
                progressed = true;
                self.on_caller_event(now, ev);
            }
            if let Some(ev) = self.callee.poll_event() {
                progressed = true;
                self.on_callee_event(now, ev);
            }
            if !progressed {
                break;
            }
        }
    }

    fn on_caller_event(&mut self, now: Time, ev: EndpointEvent) {
        match ev {
            EndpointEvent::Response {
                call: Some(key),
                response,
                ..
            } => {
                let Some(&slot) = self.by_caller_key.get(&key) else {
                    return;
                };
                let code = response.status().unwrap_or(0);
                let Some(call) = self.call_mut(slot) else {
                    return;
                };
                if call.call_id.is_none() {
                    call.call_id = response.call_id().ok().map(str::to_owned);
                }
                match call.phase {
                    Phase::Inviting if (200..300).contains(&code) => {
                        let setup = now.saturating_duration_since(call.invite_at);
                        call.setup = Some(setup);
                        call.phase = Phase::Talking;
                        let remote = SessionDescription::parse(response.body())
                            .ok()
                            .and_then(|sdp| rtp_target(&sdp));
                        call.caller_remote_rtp = remote;
                        let (hold, epoch) = (call.hold, call.epoch);

                        if self.cfg.media {
                            if remote.is_none() {
                                self.fail(
                                    slot,
                                    Failure::Unexpected {
                                        what: "the 2xx carried no usable SDP answer".into(),
                                    },
                                );
                            } else {
                                self.start_sender(now, slot, true);
                            }
                        }
                        self.push_timer(now + hold, slot, epoch, TimerKind::Hangup);
                    }
                    Phase::Ending if code >= 200 => call.bye_status = Some(code),
                    _ => {}
                }
            }
            EndpointEvent::DialogTerminated { call: key, reason } => {
                let Some(slot) = self.by_caller_key.remove(&key) else {
                    return;
                };
                let failure = match reason {
                    EndReason::ByeSent => None,
                    EndReason::RejectedByPeer(code) => Some(Failure::Rejected { code }),
                    EndReason::TimedOut(t) => Some(Failure::Timeout {
                        what: format!("no final response ({t:?})"),
                    }),
                    EndReason::TransportError => Some(Failure::Transport),
                    EndReason::ByeReceived => Some(Failure::Unexpected {
                        what: "the callee side hung up before the hold ended".into(),
                    }),
                    other => Some(Failure::Unexpected {
                        what: format!("the call ended: {other}"),
                    }),
                };
                if let Some(f) = failure {
                    self.fail(slot, f);
                }
                self.end(now, slot);
            }
            EndpointEvent::IncomingRequest { tx, request, .. } => {
                // The callee side never sends requests in a direct run except a BYE on
                // failure paths; answer what comes so nothing is left hanging.
                let code = if request.method() == Some(&Method::Bye) {
                    200
                } else {
                    405
                };
                let _ = self.caller.answer(now, tx, code, Extra::new());
            }
            EndpointEvent::TransportError {
                call: Some(key), ..
            } => {
                if let Some(&slot) = self.by_caller_key.get(&key) {
                    self.fail(slot, Failure::Transport);
                }
            }
            EndpointEvent::Malformed { .. }
            | EndpointEvent::Unroutable { .. }
            | EndpointEvent::Stray { .. } => {
                self.stray += 1;
            }
            _ => {}
        }
    }

    fn on_callee_event(&mut self, now: Time, ev: EndpointEvent) {
        match ev {
            EndpointEvent::IncomingRequest {
                call,
                tx,
                request,
                context,
                ..
            } => {
                match (context, request.method()) {
                    (RequestContext::NewCall, Some(Method::Invite)) => {
                        let slot = request.request_uri().and_then(slot_of_uri).and_then(
                            |(slot, index)| {
                                self.slots
                                    .get(slot as usize)
                                    .and_then(Option::as_ref)
                                    .filter(|c| c.index == index && c.callee.is_none())
                                    .map(|_| slot)
                            },
                        );
                        let (Some(slot), Some(key)) = (slot, call) else {
                            self.stray += 1;
                            let _ = self.callee.answer(now, tx, 404, Extra::new());
                            return;
                        };
                        let remote = SessionDescription::parse(request.body())
                            .ok()
                            .and_then(|sdp| rtp_target(&sdp));
                        let answer = self.sdp(false, slot, Direction::SendRecv);
                        let extra = Extra::new().body(sip::multipart::SDP, answer.to_bytes());
                        if let Some(c) = self.call_mut(slot) {
                            c.callee = Some(key);
                            c.callee_remote_rtp = remote;
                        }
                        self.by_callee_key.insert(key, slot);
                        if self.callee.answer(now, tx, 200, extra).is_ok() && self.cfg.media {
                            if remote.is_some() {
                                self.start_sender(now, slot, false);
                            } else {
                                self.fail(
                                    slot,
                                    Failure::Unexpected {
                                        what: "the INVITE carried no usable SDP offer".into(),
                                    },
                                );
                            }
                        }
                    }
                    (RequestContext::InDialog, Some(Method::Bye)) => {
                        if let Some(&slot) = call.as_ref().and_then(|k| self.by_callee_key.get(k))
                            && let Some(c) = self.call_mut(slot)
                        {
                            c.up_sending = false;
                            c.down_sending = false;
                        }
                        let _ = self.callee.answer(now, tx, 200, Extra::new());
                    }
                    _ => {
                        self.stray += 1;
                        let _ = self.callee.answer(now, tx, 405, Extra::new());
                    }
                }
            }
            EndpointEvent::DialogTerminated { call, .. } => {
                self.by_callee_key.remove(&call);
            }
            EndpointEvent::Malformed { .. }
            | EndpointEvent::Unroutable { .. }
            | EndpointEvent::Stray { .. } => {
                self.stray += 1;
            }
            _ => {}
        }
    }

    /// Starts a party's sender (`caller_side`: the caller's, on the up leg) and arms the
    /// peer's receiver with the sender's schedule.
    fn start_sender(&mut self, now: Time, slot: u32, caller_side: bool) {
        let ssrc: u32 = self.rng.random();
        let seq0: u16 = self.rng.random();
        let ts0: u32 = self.rng.random();
        let Some(call) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        let (caller_party, callee_party) = FrameBank::parties_of(call.index);
        let epoch = call.epoch;
        let (party, tx, rx, sending, kind) = if caller_side {
            (
                caller_party,
                &mut call.up_tx,
                &mut call.up_rx,
                &mut call.up_sending,
                TimerKind::CallerSend,
            )
        } else {
            (
                callee_party,
                &mut call.down_tx,
                &mut call.down_rx,
                &mut call.down_sending,
                TimerKind::CalleeSend,
            )
        };
        *tx = Some(LegSender::new(party, ssrc, seq0, ts0, now));
        if let Some(rx) = rx.as_mut() {
            rx.set_media_start(now);
        }
        *sending = true;
        self.push_timer(now, slot, epoch, kind);
    }

    fn send_frames(&mut self, now: Time, slot: u32, epoch: u32, caller_side: bool) {
        let socket = if caller_side {
            SocketId(2 + slot)
        } else {
            SocketId(2 + self.cfg.slots + slot)
        };
        let Some(call) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        let (sending, tx, to) = if caller_side {
            (call.up_sending, call.up_tx.as_mut(), call.caller_remote_rtp)
        } else {
            (
                call.down_sending,
                call.down_tx.as_mut(),
                call.callee_remote_rtp,
            )
        };
        let (Some(tx), Some(to), true) = (tx, to, sending) else {
            return;
        };
        let mut sent = 0;
        while tx.next_due() <= now {
            let late = now.saturating_duration_since(tx.next_due()).as_micros() as u64;
            self.bank
                .payload(tx.party(), tx.next_frame(), &mut self.payload);
            if let Some(pkt) = tx.next_packet(&self.payload) {
                self.transmits.push_back(Transmit {
                    socket,
                    to,
                    payload: pkt,
                });
                sent += 1;
            }
            self.stats
                .total
                .send_lateness_us
                .saturating_record(late.max(1));
            self.stats
                .interval
                .send_lateness_us
                .saturating_record(late.max(1));
        }
        let next = tx.next_due();
        self.stats.both(|f| f.rtp_sent += sent);
        let kind = if caller_side {
            TimerKind::CallerSend
        } else {
            TimerKind::CalleeSend
        };
        self.push_timer(next, slot, epoch, kind);
    }

    fn hang_up(&mut self, now: Time, slot: u32) {
        let Some(call) = self.call_mut(slot) else {
            return;
        };
        match call.phase {
            Phase::Talking => {
                call.phase = Phase::Ending;
                call.up_sending = false;
                let key = call.caller;
                if let Some(key) = key
                    && self.caller.bye(now, key, Extra::new()).is_err()
                {
                    self.fail(
                        slot,
                        Failure::Unexpected {
                            what: "the dialog could not be hung up".into(),
                        },
                    );
                    self.end(now, slot);
                }
            }
            Phase::Inviting => {
                self.fail(
                    slot,
                    Failure::Timeout {
                        what: "the run was stopped before the call was answered".into(),
                    },
                );
                self.end(now, slot);
            }
            Phase::Ending | Phase::Lingering => {}
        }
    }

    /// The call is over on the wire: stop sending, let late packets arrive, then judge.
    fn end(&mut self, now: Time, slot: u32) {
        let Some(call) = self.call_mut(slot) else {
            return;
        };
        if call.phase == Phase::Lingering {
            return;
        }
        call.phase = Phase::Lingering;
        call.up_sending = false;
        call.down_sending = false;
        call.ended_at = Some(now);
        let epoch = call.epoch;
        let (caller_key, callee_key) = (call.caller.take(), call.callee.take());
        if let Some(k) = caller_key {
            self.by_caller_key.remove(&k);
        }
        if let Some(k) = callee_key {
            self.by_callee_key.remove(&k);
        }
        self.push_timer(now + LINGER, slot, epoch, TimerKind::Linger);
    }

    /// Judges the call, writes its record and frees its slot.
    fn finish(&mut self, now: Time, slot: u32) {
        let Some(mut call) = self.slots.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        self.epochs[slot as usize] = call.epoch.wrapping_add(1);
        self.free.push_back(slot);
        self.schedule.call_ended();
        let mut checks = Vec::new();
        let established = call.setup.is_some();
        checks.push(CallCheck::own(
            "call.answered",
            if established {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            match (call.setup, &call.failure) {
                (Some(s), _) => format!("2xx {:.1} ms after the INVITE", s.as_secs_f64() * 1000.0),
                (None, Some(f)) => format!("no 2xx: {}", f.class_key()),
                (None, None) => "no 2xx".into(),
            },
        ));
        if established {
            let ok = call.bye_status.is_some_and(|c| (200..300).contains(&c));
            checks.push(CallCheck::own(
                "call.hung_up",
                if ok { Verdict::Pass } else { Verdict::Fail },
                match call.bye_status {
                    Some(c) => format!("the BYE got {c}"),
                    None => "the BYE got no final response".into(),
                },
            ));
        }
        let mut legs = Vec::new();
        if self.cfg.media && established {
            for (direction, tx, rx) in [
                ("caller->callee", &call.up_tx, call.up_rx.as_mut()),
                ("callee->caller", &call.down_tx, call.down_rx.as_mut()),
            ] {
                let sent = tx.as_ref().map_or(0, LegSender::sent);
                let counts = rx.map(LegReceiver::counts).unwrap_or_default();
                let rec = LegRecord {
                    direction: direction.to_owned(),
                    sent,
                    counts,
                };
                checks.extend(judge_leg(&rec, self.cfg.rules));
                legs.push(rec);
            }
        }
        if call.failure.is_none() {
            let failed: Vec<String> = checks
                .iter()
                .filter(|c| c.fails_call)
                .map(|c| c.id.clone())
                .collect();
            if !failed.is_empty() {
                call.failure = Some(Failure::Verdict { checks: failed });
            }
        }
        let ended = call.ended_at.unwrap_or(now);
        let rec = CallRecord {
            index: call.index,
            call_id: call.call_id.take(),
            start_ms: ms(call.invite_at),
            setup_ms: call.setup.map(|d| d.as_secs_f64() * 1000.0),
            hold_ms: call.hold.as_secs_f64() * 1000.0,
            duration_ms: ended
                .saturating_duration_since(call.invite_at)
                .as_secs_f64()
                * 1000.0,
            bye_status: call.bye_status,
            start_lateness_ms: call.start_lateness.as_secs_f64() * 1000.0,
            legs,
            recording_ok: None,
            evidence: Vec::new(),
            latency: Default::default(),
            checks,
            failure: call.failure.take(),
        };
        self.records.push_back(rec);
    }
}

fn ms(t: Time) -> f64 {
    t.as_micros() as f64 / 1000.0
}

/// Parses `sip:load-<slot>-<index>@...`.
fn slot_of_uri(uri: &str) -> Option<(u32, u64)> {
    let user = uri.strip_prefix("sip:load-")?.split('@').next()?;
    let (slot, index) = user.split_once('-')?;
    Some((slot.parse().ok()?, index.parse().ok()?))
}

/// Where the first audio stream of `sdp` wants RTP.
fn rtp_target(sdp: &SessionDescription) -> Option<SocketAddr> {
    let m = sdp
        .media()
        .into_iter()
        .find(|m| m.kind == "audio" && m.port != 0)?;
    let ip: IpAddr = m.connection.as_deref()?.parse().ok()?;
    (!ip.is_unspecified()).then(|| SocketAddr::new(ip, m.port))
}
