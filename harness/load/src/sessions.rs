//! The engine of `recproof load --sut RECORDER.yaml`: recording sessions placed at a
//! recorder under test (a SIPREC SRS) at a rate, many at once, every one judged by the
//! recorder checks when it ends. Sans-IO.
//!
//! Owns: [`SessionsEngine`], which holds the [`CallSchedule`], a slot per concurrent
//! session (a harness SRC, [`HarnessSrc`], driven by the suite's own
//! [`RecorderScript`]: open, hold, BYE, as the recorder scenarios do), one timer heap, and
//! the routing of datagrams by socket: each slot owns its SRC's SIP port and its two RTP
//! ports, so a datagram goes to the slot whose port it reached. The sessions are the
//! suite's valid sessions, in the dialects the profile claims (rotating), each with its
//! own caller and callee AOR (`sip:+1555<index>…`), so the recorder's files of one
//! session are never mistaken for another's.
//!
//! A session ends when its script is done (the BYE answered, or given up on after the
//! settle time); its observations then go out with a [`JudgeJob`] whose
//! [`RecorderJudging`] says how the recorder is held (and how to read its recordings, if
//! the profile says where), and the slot is free again. Memory is flat in the number of
//! sessions.
//!
//! Must not touch: sockets, clocks, threads, files (reading the recordings is the
//! judging thread's, through [`RecorderJudging::recordings`]).

use crate::engine::{Captured, Engine, Finished, SocketId, SocketKind, SocketSpec, Transmit};
use crate::hold::Hold;
use crate::judge::{JudgeJob, RecorderJudging, session_asserted};
use crate::record::CallRecord;
use crate::recorded::splitmix;
use crate::results::FiguresData;
use crate::schedule::{CallSchedule, CallStart, LoadPlan, PlanError};
use crate::stats::{Figures, Stats};
use checks::{CallExpectation, Tolerances};
use drive::recorder::{RecorderPlan, RecorderScript, RsStep, SrcAction};
use media::signal::Modem;
use observe::Observation;
use roles::media_io::{MediaContext, PartyRegistry};
use roles::src::{HarnessSrc, RsRequest, SrcConfig, SrcSubject};
use sim::{Datagram, Node, Transport};
use sip::time::Time;
use siprec::metadata::Dialect;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// RTP ports a slot takes: its two streams on even ports, RTCP's odd ports left free.
const RTP_PER_SLOT: u16 = 4;
/// Longest a session may run beyond its hold before it is judged as it stands: the
/// final-response wait, the BYE's settle time and Timer F slack.
pub const SESSION_OVERRUN: Duration = Duration::from_secs(70);

/// Settings of a run of recording sessions at a recorder under test.
#[derive(Debug, Clone)]
pub struct SessionsConfig {
    /// Rate, concurrency and bounds.
    pub plan: LoadPlan,
    /// How long each session is held after the recorder's 2xx.
    pub hold: Hold,
    /// Seed of the audio and metadata IDs.
    pub seed: u64,
    /// Seed of Call-IDs, tags and branches (fresh per run on real sockets).
    pub sip_seed: u64,
    /// Where the recorder takes recording sessions.
    pub recorder_sip: SocketAddr,
    /// The Request-URI of the RS INVITEs.
    pub recorder_uri: String,
    /// The dialects sessions are written in, in turn (the ones the recorder claims).
    pub dialects: Vec<Dialect>,
    /// The IP of the harness SRCs' SIP and RTP ports.
    pub src_ip: IpAddr,
    /// The SRCs' SIP ports: first and the first past it (one per slot).
    pub sip_ports: (u16, u16),
    /// The SRCs' RTP ports: first and the first past it (four per slot: two streams).
    pub rtp_ports: (u16, u16),
    /// How each session is judged.
    pub judging: RecorderJudging,
    /// Wall-clock time of the run clock's zero (the metadata's times).
    pub epoch: jiff::Timestamp,
    /// Hand out every datagram of every session for its capture.
    pub capture: bool,
}

/// Why a run of sessions cannot start; the message says what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionsError {
    /// The plan itself is wrong.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A port range is too small for the concurrency.
    #[error(
        "the harness SRCs' {what} ports {lo}-{hi} hold {have} slot(s), but {slots} sessions \
         at once need {slots}: widen the range or lower --concurrency"
    )]
    PortRange {
        /// `SIP` or `RTP`.
        what: &'static str,
        /// First port.
        lo: u16,
        /// Past the last.
        hi: u16,
        /// Slots the range holds.
        have: u32,
        /// Concurrent sessions.
        slots: u32,
    },
    /// No dialect to write sessions in.
    #[error("the recorder claims no dialect: list at least one under recorder.dialects")]
    NoDialect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    /// The SRC's own wake-up (transactions, audio frames).
    Src,
    /// The script's next step.
    Script,
    /// The session ran too long.
    Overrun,
}

struct Session {
    index: u64,
    label: String,
    invite_at: Time,
    start_lateness: Duration,
    hold: Duration,
    src: HarnessSrc,
    script: RecorderScript,
    src_queued: Option<Time>,
    script_at: Option<Time>,
    obs: Vec<Observation>,
}

/// The sans-IO engine of a run of recording sessions at a recorder under test.
pub struct SessionsEngine {
    cfg: SessionsConfig,
    schedule: CallSchedule,
    sockets: Vec<SocketSpec>,
    slots: Vec<Option<Session>>,
    epochs: Vec<u32>,
    free: VecDeque<u32>,
    timers: BinaryHeap<Reverse<(Time, u32, u32, Who)>>,
    transmits: VecDeque<Transmit>,
    records: VecDeque<Finished>,
    captures: VecDeque<Captured>,
    modem: Arc<Modem>,
    asserted: Vec<&'static str>,
    stats: Stats,
    stray: u64,
}

impl std::fmt::Debug for SessionsEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionsEngine")
            .field("slots", &self.slots.len())
            .field("active", &self.schedule.active())
            .finish()
    }
}

impl SessionsEngine {
    /// An engine for `cfg` whose first session is due at `start`; `modem` makes the
    /// parties' instrumented audio.
    pub fn new(cfg: SessionsConfig, modem: Arc<Modem>, start: Time) -> Result<Self, SessionsError> {
        if cfg.dialects.is_empty() {
            return Err(SessionsError::NoDialect);
        }
        let schedule = CallSchedule::new(cfg.plan.clone(), start)?;
        let slots = schedule.limit().unwrap_or(1).max(1);
        let sip_have = u32::from(cfg.sip_ports.1.saturating_sub(cfg.sip_ports.0));
        if sip_have < slots {
            return Err(SessionsError::PortRange {
                what: "SIP",
                lo: cfg.sip_ports.0,
                hi: cfg.sip_ports.1,
                have: sip_have,
                slots,
            });
        }
        let rtp_first = cfg.rtp_ports.0 + cfg.rtp_ports.0 % 2;
        let rtp_have =
            u32::from(cfg.rtp_ports.1.saturating_sub(rtp_first)) / u32::from(RTP_PER_SLOT);
        if rtp_have < slots {
            return Err(SessionsError::PortRange {
                what: "RTP",
                lo: cfg.rtp_ports.0,
                hi: cfg.rtp_ports.1,
                have: rtp_have,
                slots,
            });
        }
        // Slot k: socket 3k its SIP, 3k+1 and 3k+2 its two streams.
        let mut sockets = Vec::with_capacity(slots as usize * 3);
        for k in 0..slots {
            let sip = cfg.sip_ports.0 + k as u16;
            let rtp = rtp_first + (k as u16) * RTP_PER_SLOT;
            for (port, kind, owner) in [
                (sip, SocketKind::Sip, "harness SRC SIP"),
                (rtp, SocketKind::Rtp, "harness SRC RTP"),
                (rtp + 2, SocketKind::Rtp, "harness SRC RTP"),
            ] {
                sockets.push(SocketSpec {
                    id: SocketId(sockets.len() as u32),
                    addr: SocketAddr::new(cfg.src_ip, port),
                    kind,
                    owner,
                });
            }
        }
        let asserted = session_asserted(&cfg.judging.rules);
        Ok(Self {
            schedule,
            sockets,
            slots: (0..slots).map(|_| None).collect(),
            epochs: vec![0; slots as usize],
            free: (0..slots).collect(),
            timers: BinaryHeap::new(),
            transmits: VecDeque::new(),
            records: VecDeque::new(),
            captures: VecDeque::new(),
            modem,
            asserted,
            stats: Stats::default(),
            stray: 0,
            cfg,
        })
    }

    fn session_mut(&mut self, slot: u32) -> Option<&mut Session> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    fn push_timer(&mut self, at: Time, slot: u32, who: Who) {
        let epoch = self.epochs.get(slot as usize).copied().unwrap_or(0);
        self.timers.push(Reverse((at, slot, epoch, who)));
    }

    fn start_session(&mut self, now: Time, start: CallStart) {
        self.stats.count_start(start.lateness);
        let Some(slot) = self.free.pop_front() else {
            let rec = CallRecord::harness_failure(
                start.index,
                ms(now),
                start.lateness.as_secs_f64() * 1000.0,
                "no free session slot",
            );
            self.records.push_back(Finished::judged(rec));
            self.schedule.call_ended();
            return;
        };
        let label = format!("call-{}", start.index);
        let base = slot as usize * 3;
        let (Some(sip), Some(rtp)) = (self.sockets.get(base), self.sockets.get(base + 1)) else {
            // Every slot has its sockets (they are made together); never leak the slot.
            self.free.push_back(slot);
            self.schedule.call_ended();
            return;
        };
        let mut cfg = SrcConfig::new(sip.addr, self.cfg.recorder_sip);
        cfg.name = format!("src-{slot}");
        cfg.call_label = Some(label.clone());
        cfg.media_ip = rtp.addr.ip();
        cfg.rtp_port_base = rtp.addr.port();
        cfg.target_uri = self.cfg.recorder_uri.clone();
        // Each session records its own pair of parties, so the recorder's files of one
        // session name AORs no other session has.
        let (caller_aor, callee_aor) = session_parties(start.index);
        cfg.subject = SrcSubject {
            caller_aor,
            callee_aor,
        };
        cfg.epoch = self.cfg.epoch;
        cfg.seed = self.cfg.seed.wrapping_mul(31).wrapping_add(start.index);
        cfg.sip_seed = Some(splitmix(self.cfg.sip_seed ^ start.index));
        let ctx = MediaContext {
            modem: self.modem.clone(),
            registry: PartyRegistry::new(),
        };
        let dialect = self.cfg.dialects[(start.index % self.cfg.dialects.len() as u64) as usize];
        let hold = self.cfg.hold.sample(self.cfg.seed, start.index);
        let plan = RecorderPlan::new(&label, "load")
            .step(RsStep::Open(RsRequest::valid(dialect)))
            .step(RsStep::Talk(hold))
            .step(RsStep::End);
        let session = Session {
            index: start.index,
            label,
            invite_at: now,
            start_lateness: start.lateness,
            hold,
            src: HarnessSrc::new(cfg, ctx),
            script: RecorderScript::new(&plan),
            src_queued: None,
            script_at: None,
            obs: Vec::new(),
        };
        if let Some(s) = self.slots.get_mut(slot as usize) {
            *s = Some(session);
        }
        self.push_timer(now + hold + SESSION_OVERRUN, slot, Who::Overrun);
        self.run_script(now, slot);
    }

    /// Asks the session's script what to do now, and does it.
    fn run_script(&mut self, now: Time, slot: u32) {
        for _ in 0..64 {
            let Some(s) = self.session_mut(slot) else {
                return;
            };
            let phase = s.src.phase();
            match s.script.next(now, phase, &[]) {
                SrcAction::RunUntil(t) => {
                    if s.script_at != Some(t) {
                        s.script_at = Some(t);
                        self.push_timer(t, slot, Who::Script);
                    }
                    self.drain(now, slot);
                    return;
                }
                SrcAction::Command(cmd) => {
                    cmd.apply(&mut s.src, now);
                    self.drain(now, slot);
                }
                SrcAction::BurstCommand(..) => {}
                SrcAction::Done => {
                    self.drain(now, slot);
                    self.finish(now, slot);
                    return;
                }
            }
        }
    }

    /// Moves what the slot's SRC sent and observed out, and queues its next wake-up.
    fn drain(&mut self, now: Time, slot: u32) {
        let base = slot as usize * 3;
        let Some(s) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        while let Some(d) = s.src.poll_transmit() {
            let socket = (base..base + 3)
                .find(|&i| self.sockets.get(i).is_some_and(|x| x.addr == d.from))
                .map(|i| SocketId(i as u32));
            let Some(socket) = socket else {
                self.stray += 1;
                continue;
            };
            if socket.0 as usize == base {
                self.stats.both(|f| f.sip_sent += 1);
            } else {
                self.stats.both(|f| f.rtp_sent += 1);
            }
            if self.cfg.capture {
                self.captures.push_back(Captured {
                    call: s.index,
                    at: now,
                    from: d.from,
                    to: d.to,
                    payload: d.bytes.clone(),
                });
            }
            self.transmits.push_back(Transmit {
                socket,
                to: d.to,
                payload: d.bytes,
            });
        }
        while let Some(o) = s.src.poll_observation() {
            s.obs.push(o);
        }
        let next = s.src.poll_timeout();
        if let Some(t) = next
            && s.src_queued.is_none_or(|q| t < q)
        {
            s.src_queued = Some(t);
            self.push_timer(t, slot, Who::Src);
        }
    }

    /// Ends the session in `slot`: its record goes out to be judged, the slot is free.
    fn finish(&mut self, now: Time, slot: u32) {
        let Some(mut s) = self.slots.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        if let Some(e) = self.epochs.get_mut(slot as usize) {
            *e = e.wrapping_add(1);
        }
        self.free.push_back(slot);
        self.schedule.call_ended();
        self.stats.both(|f| f.ended += 1);
        while let Some(o) = s.src.poll_observation() {
            s.obs.push(o);
        }
        let call_id = s.obs.iter().find_map(|o| match &o.event {
            observe::Event::RsCase { rs_call_id, .. } => Some(rs_call_id.clone()),
            _ => None,
        });
        let rec = CallRecord {
            call_id,
            hold_ms: s.hold.as_secs_f64() * 1000.0,
            duration_ms: now.saturating_duration_since(s.invite_at).as_secs_f64() * 1000.0,
            ..CallRecord::started(
                s.index,
                ms(s.invite_at),
                s.start_lateness.as_secs_f64() * 1000.0,
            )
        };
        s.obs.sort_by_key(|o| o.t_us);
        self.records.push_back(Finished {
            record: rec,
            observations: None,
            capture: None,
            judgement: Some(Box::new(JudgeJob {
                label: s.label,
                expectation: CallExpectation::default(),
                tolerances: Tolerances::real_time(),
                asserted: self.asserted.clone(),
                observations: s.obs,
                recorder: Some(self.cfg.judging.clone()),
            })),
        });
    }
}

impl Engine for SessionsEngine {
    fn sockets(&self) -> &[SocketSpec] {
        &self.sockets
    }

    fn handle_datagram(&mut self, now: Time, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        let Some(spec) = self.sockets.get(socket.0 as usize) else {
            return;
        };
        let to = spec.addr;
        let kind = spec.kind;
        let slot = socket.0 / 3;
        match kind {
            SocketKind::Sip => self.stats.both(|f| f.sip_received += 1),
            SocketKind::Rtp => self.stats.both(|f| f.rtp_received += 1),
        }
        let capture = self.cfg.capture;
        let Some(s) = self.session_mut(slot) else {
            // A late retransmission or RTP to a slot whose session has ended.
            self.stray += 1;
            return;
        };
        let payload = bytes::Bytes::copy_from_slice(bytes);
        let index = s.index;
        s.src.handle_datagram(
            now,
            Datagram {
                from,
                to,
                transport: Transport::Udp,
                bytes: payload.clone(),
            },
        );
        if capture {
            self.captures.push_back(Captured {
                call: index,
                at: now,
                from,
                to,
                payload,
            });
        }
        self.drain(now, slot);
        if kind == SocketKind::Sip {
            self.run_script(now, slot);
        }
    }

    fn handle_timeout(&mut self, now: Time) {
        while let Some(start) = self.schedule.poll_start(now) {
            self.start_session(now, start);
        }
        while let Some(&Reverse((at, slot, epoch, who))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            if self.epochs.get(slot as usize) != Some(&epoch) {
                continue;
            }
            match who {
                Who::Src => {
                    let Some(s) = self.session_mut(slot) else {
                        continue;
                    };
                    if s.src_queued != Some(at) {
                        continue;
                    }
                    s.src_queued = None;
                    s.src.handle_timeout(now);
                    let late = now.saturating_duration_since(at).as_micros() as u64;
                    self.stats.record(|f| &mut f.send_lateness_us, late);
                    self.drain(now, slot);
                    self.run_script(now, slot);
                }
                Who::Script => {
                    let Some(s) = self.session_mut(slot) else {
                        continue;
                    };
                    if s.script_at == Some(at) {
                        s.script_at = None;
                    }
                    self.run_script(now, slot);
                }
                Who::Overrun => {
                    if let Some(s) = self.session_mut(slot) {
                        s.src.abandon(now);
                        let label = s.label.clone();
                        s.obs.push(Observation {
                            t_us: now.as_micros(),
                            call: Some(label),
                            actor: observe::Actor::Harness,
                            event: observe::Event::PlatformAction {
                                action: "harness".to_owned(),
                                detail: "the session did not end within its hold plus 70 s; \
                                         judged as it stood"
                                    .to_owned(),
                            },
                        });
                    }
                    self.drain(now, slot);
                    self.finish(now, slot);
                }
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_timeout(&self) -> Option<Time> {
        [
            self.timers.peek().map(|Reverse((t, ..))| *t),
            self.schedule.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn poll_record(&mut self) -> Option<Finished> {
        self.records.pop_front()
    }

    fn stop(&mut self) {
        self.schedule.stop();
    }

    fn hang_up_all(&mut self, now: Time) {
        self.schedule.stop();
        for slot in 0..self.slots.len() as u32 {
            if let Some(s) = self.session_mut(slot) {
                let _ = s.src.end(now);
                self.drain(now, slot);
            }
        }
    }

    fn is_finished(&self) -> bool {
        self.schedule.is_finished() && self.records.is_empty() && self.transmits.is_empty()
    }

    fn take_interval(&mut self) -> FiguresData {
        self.stats.take_interval()
    }

    fn totals(&self) -> &Figures {
        &self.stats.total
    }

    fn active(&self) -> u32 {
        self.schedule.active()
    }

    fn started(&self) -> u64 {
        self.schedule.started()
    }

    fn stray(&self) -> u64 {
        self.stray
    }

    fn poll_capture(&mut self) -> Option<Captured> {
        self.captures.pop_front()
    }

    fn count_send_errors(&mut self, errors: u64) {
        self.stats.both(|f| f.send_errors += errors);
    }
}

/// The caller's and callee's AORs the metadata of session `index` names (its label is
/// `call-<index>`): distinct for every session of a run, so a recorder's file named after
/// a participant belongs to one session only.
pub fn session_parties(index: u64) -> (String, String) {
    let n = 2 * (index % 5_000_000);
    (
        format!("sip:+1555{n:07}@recproof.invalid"),
        format!("sip:+1555{:07}@recproof.invalid", n + 1),
    )
}

fn ms(t: Time) -> f64 {
    t.as_micros() as f64 / 1000.0
}
