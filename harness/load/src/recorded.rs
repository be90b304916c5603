//! The engine of `recproof load` through a platform (the embedded reference platform or
//! an external one, `--sut`), sans-IO: every call is the suite's call, made by the
//! suite's phones and recorded by the suite's SRS emulator, and judged by the suite's
//! checks when it ends.
//!
//! Owns: [`RecordedEngine`], which holds the [`CallSchedule`], a slot per concurrent call
//! (the caller's and callee's [`PartyUa`], the call's [`CallScript`], its observations
//! and its media context), the SRS emulators the platform records to, one timer heap for
//! every node, and the routing of datagrams: the caller phones share one SIP socket and
//! the callee phones another (as SIPp's uac and uas do), so SIP is routed by Call-ID and,
//! for a new INVITE, by the dialled extension; RTP by port (each open call owns one port
//! per party); the recorders' own sockets go to them. Each call uses its own caller
//! number and callee extension from the run's users, which is how the recorder ties a
//! recording session to its call ([`crate::attribution`]).
//!
//! A call ends when its script has drained (hang-up, then a few seconds for BYEs, final
//! RTP and the recording session's end); then its recording sessions' streams are
//! finished and the call is judged ([`crate::judge`]) and handed out as a [`CallRecord`].
//! Its observations are dropped with it: memory is flat in the number of calls.
//!
//! Must not touch: sockets, clocks, threads, files.

use crate::attribution::CallDirectory;
use crate::engine::{Captured, Engine, Finished, SocketId, SocketKind, SocketSpec, Transmit};
use crate::hold::Hold;
use crate::judge::{JudgeJob, asserted_checks};
use crate::record::CallRecord;
use crate::results::FiguresData;
use crate::schedule::{CallSchedule, CallStart, LoadPlan, PlanError};
use crate::stats::{Figures, Stats};
use checks::{CallExpectation, Tolerances};
use drive::plan::{Answer, CallPlan, Party};
use drive::script::{CallScript, ScriptTimings, Step};
use media::signal::{Modem, PartyId};
use observe::Observation;
use roles::media_io::{Detectors, MediaContext, PartyRegistry};
use roles::srs::{SrsBehaviour, SrsConfig, SrsEmulator};
use roles::ua::{AnswerMode, PartyUa, UaConfig};
use sim::{Datagram, Node, Transport};
use sip::message::SipMessage;
use sip::time::Time;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Ports between two RTP ports of a pool (RTP on even ports, RTCP's odd port left free).
pub const PORT_STRIDE: u16 = 2;
/// How long a call may run beyond its plan before the harness gives up on it: answer wait,
/// hold, drain and Timer B/F slack.
pub const CALL_OVERRUN: Duration = Duration::from_secs(70);
/// The earliest a node's next wake-up is queued after the one being handled.
const MIN_STEP: Duration = Duration::from_micros(1);
/// Poll step of a call script while it waits for the answer.
const ANSWER_POLL: Duration = Duration::from_millis(20);

/// One kind of call in the run's mix: what the call does and what the policy says should
/// happen to it.
#[derive(Debug, Clone)]
pub struct CallKind {
    /// Name, for the result log.
    pub name: String,
    /// Relative weight in the mix.
    pub weight: f64,
    /// What the call does (answer, keys after answer); its talk time is the drawn hold.
    pub plan: CallPlan,
    /// What the checks expect of it (its parties are filled in per call).
    pub expectation: CallExpectation,
    /// What its phones' and recorder's listeners look for: the notices this kind of call
    /// can play (the start announcement; pause, resume and stop notices when its plan
    /// presses those codes; the greeting when it goes to voicemail) and the tones.
    pub detectors: Detectors,
    /// The users (indices into [`RecordedConfig::users`]) calls of this kind dial.
    pub users: Vec<usize>,
}

/// A caller/callee pair a call can use: its caller number and the extension it dials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadUser {
    /// The caller's number (user part of its URI) or a whole `sip:` URI.
    pub caller: String,
    /// The extension dialled (the recorded person).
    pub callee: String,
}

/// A recorder the harness plays for the platform.
#[derive(Debug, Clone)]
pub struct RecorderSpec {
    /// Provider name (for the emulator's URI).
    pub provider: String,
    /// Its SIP address.
    pub sip: SocketAddr,
    /// Its RTP pool: first port and the first port past it (even ports are used).
    pub rtp_ports: (u16, u16),
    /// How it answers recording sessions.
    pub behaviour: SrsBehaviour,
}

/// Settings of a recorded-call run.
#[derive(Debug, Clone)]
pub struct RecordedConfig {
    /// Rate, concurrency and bounds.
    pub plan: LoadPlan,
    /// How long calls are held after the answer.
    pub hold: Hold,
    /// Seed of the audio and every random choice (the SIP identifiers also mix in
    /// `sip_seed`).
    pub seed: u64,
    /// Seed of Call-IDs, tags and branches (fresh per run on real sockets).
    pub sip_seed: u64,
    /// The mix of call kinds.
    pub kinds: Vec<CallKind>,
    /// The users calls spread over.
    pub users: Vec<LoadUser>,
    /// Where the platform takes calls.
    pub sut_sip: SocketAddr,
    /// The caller phones' shared SIP address.
    pub caller_sip: SocketAddr,
    /// The callee phones' shared SIP address (the platform routes every extension here).
    pub callee_sip: SocketAddr,
    /// The address the phones' RTP ports are on.
    pub rtp_ip: IpAddr,
    /// The phones' RTP pool: first port and the first past it.
    pub rtp_ports: (u16, u16),
    /// The recorders.
    pub recorders: Vec<RecorderSpec>,
    /// What the recorders look for on a session no call claims.
    pub detectors: Detectors,
    /// How strict the checks are.
    pub tolerances: Tolerances,
    /// How long to wait for an answer.
    pub answer_wait: Duration,
    /// Time after the hang-up for BYEs, final RTP and the recording session's end.
    pub drain: Duration,
    /// Hand out every datagram of every call for its capture ([`Engine::poll_capture`]).
    pub capture: bool,
}

/// Why a recorded run cannot start; the message says what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordedError {
    /// The plan itself is wrong.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The phones' RTP range is too small for the concurrency.
    #[error(
        "--rtp-ports {lo}-{hi} holds {have} RTP ports (every 2nd port), but {slots} \
         concurrent calls need {need} for the phones (one per party per call): widen the \
         range or lower --concurrency"
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
    /// A recorder's pool is too small.
    #[error(
        "the {provider} recorder's RTP pool {lo}-{hi} holds {have} ports, but {slots} \
         concurrent recorded calls need {need} (two streams each): widen it or lower \
         --concurrency"
    )]
    RecorderPool {
        /// Provider.
        provider: String,
        /// First port.
        lo: u16,
        /// Past the last.
        hi: u16,
        /// Ports it holds.
        have: u32,
        /// Ports needed.
        need: u32,
        /// Concurrent calls.
        slots: u32,
    },
    /// Fewer users than concurrent calls: two open calls would share a number, and the
    /// recorder could not tell their recordings apart.
    #[error(
        "{users} users for {slots} concurrent calls: every open call needs its own caller \
         number and extension; add users (a range or a CSV) or lower --concurrency"
    )]
    Users {
        /// Users given.
        users: usize,
        /// Concurrent calls.
        slots: u32,
    },
    /// The mix is empty or has no weight.
    #[error("the call mix has no kind with a positive weight and users")]
    EmptyMix,
    /// A role could not be built (a detector's reference clip is unusable...).
    #[error("{0}")]
    Role(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Caller,
    Callee,
    Script,
    Drain,
    Overrun,
    Srs(u32),
}

struct Call {
    index: u64,
    epoch: u32,
    kind: usize,
    user: usize,
    label: String,
    invite_at: Time,
    start_lateness: Duration,
    hold: Duration,
    caller: PartyUa,
    callee: PartyUa,
    caller_queued: Option<Time>,
    callee_queued: Option<Time>,
    script: CallScript,
    script_at: Option<Time>,
    draining: bool,
    call_ids: Vec<String>,
    rs_call_ids: Vec<String>,
    obs: Vec<Observation>,
}

/// The sans-IO engine of a run through a platform.
pub struct RecordedEngine {
    cfg: RecordedConfig,
    schedule: CallSchedule,
    sockets: Vec<SocketSpec>,
    by_addr: HashMap<SocketAddr, SocketId>,
    slots: Vec<Option<Call>>,
    epochs: Vec<u32>,
    free: VecDeque<u32>,
    free_users: Vec<VecDeque<usize>>,
    by_call_id: HashMap<String, u32>,
    by_callee: HashMap<String, u32>,
    by_label: HashMap<String, u32>,
    srs: Vec<SrsEmulator>,
    srs_queued: Vec<Option<Time>>,
    /// Which recorder each socket belongs to (by socket index).
    srs_socket: Vec<Option<usize>>,
    directory: CallDirectory,
    timers: BinaryHeap<Reverse<(Time, u32, u32, Who)>>,
    transmits: VecDeque<Transmit>,
    records: VecDeque<Finished>,
    captures: VecDeque<Captured>,
    modem: Arc<Modem>,
    asserted: Vec<Vec<&'static str>>,
    stats: Stats,
    stray: u64,
    unattributed: u64,
    weights: Vec<f64>,
}

impl std::fmt::Debug for RecordedEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordedEngine")
            .field("slots", &self.slots.len())
            .field("active", &self.schedule.active())
            .finish()
    }
}

const CALLER_SIP: SocketId = SocketId(0);
const CALLEE_SIP: SocketId = SocketId(1);

fn pool_size((lo, hi): (u16, u16)) -> (u16, u32) {
    let first = lo + lo % PORT_STRIDE;
    (
        first,
        u32::from(hi.saturating_sub(first)).div_ceil(u32::from(PORT_STRIDE)),
    )
}

impl RecordedEngine {
    /// An engine for `cfg` whose first call is due at `start`; `modem` makes the audio.
    pub fn new(
        mut cfg: RecordedConfig,
        modem: Arc<Modem>,
        start: Time,
    ) -> Result<Self, RecordedError> {
        let schedule = CallSchedule::new(cfg.plan.clone(), start)?;
        let slots = schedule.limit().unwrap_or(1).max(1);
        cfg.kinds.retain(|k| k.weight > 0.0 && !k.users.is_empty());
        if cfg.kinds.is_empty() {
            return Err(RecordedError::EmptyMix);
        }
        if cfg.users.len() < slots as usize {
            return Err(RecordedError::Users {
                users: cfg.users.len(),
                slots,
            });
        }
        let (first, have) = pool_size(cfg.rtp_ports);
        if have < slots * 2 {
            return Err(RecordedError::PortRange {
                lo: cfg.rtp_ports.0,
                hi: cfg.rtp_ports.1,
                have,
                need: slots * 2,
                slots,
            });
        }
        let mut sockets = vec![
            SocketSpec {
                id: CALLER_SIP,
                addr: cfg.caller_sip,
                kind: SocketKind::Sip,
                owner: "caller phones' SIP",
            },
            SocketSpec {
                id: CALLEE_SIP,
                addr: cfg.callee_sip,
                kind: SocketKind::Sip,
                owner: "callee phones' SIP",
            },
        ];
        for (i, owner) in [(0u32, "caller RTP"), (1, "callee RTP")] {
            for s in 0..slots {
                let port = first + ((i * slots + s) as u16) * PORT_STRIDE;
                sockets.push(SocketSpec {
                    id: SocketId(sockets.len() as u32),
                    addr: SocketAddr::new(cfg.rtp_ip, port),
                    kind: SocketKind::Rtp,
                    owner,
                });
            }
        }
        let directory = CallDirectory::new();
        let base_ctx = MediaContext {
            modem: modem.clone(),
            registry: PartyRegistry::new(),
        };
        let mut srs = Vec::new();
        for (k, r) in cfg.recorders.iter().enumerate() {
            let (rfirst, rhave) = pool_size(r.rtp_ports);
            if rhave < slots * 2 {
                return Err(RecordedError::RecorderPool {
                    provider: r.provider.clone(),
                    lo: r.rtp_ports.0,
                    hi: r.rtp_ports.1,
                    have: rhave,
                    need: slots * 2,
                    slots,
                });
            }
            let mut sc = SrsConfig::new(r.sip, r.sip.ip());
            sc.name = format!("srs-{}", r.provider.to_lowercase());
            sc.uri = format!("sip:{}@{}", r.provider.to_lowercase(), r.sip);
            sc.rtp_port_base = rfirst;
            sc.rtp_port_count = u16::try_from(rhave).unwrap_or(u16::MAX);
            sc.detectors = cfg.detectors.clone();
            sc.seed = cfg.sip_seed.wrapping_add(100 + k as u64);
            sc.behaviour = r.behaviour;
            sc.binder = Some(directory.binder());
            let node = SrsEmulator::new(sc, base_ctx.clone())
                .map_err(|e| RecordedError::Role(format!("recorder {}: {e}", r.provider)))?;
            for a in node.addresses() {
                sockets.push(SocketSpec {
                    id: SocketId(sockets.len() as u32),
                    addr: a,
                    kind: if a == r.sip {
                        SocketKind::Sip
                    } else {
                        SocketKind::Rtp
                    },
                    owner: if a == r.sip {
                        "recorder SIP"
                    } else {
                        "recorder RTP"
                    },
                });
            }
            srs.push(node);
        }
        let by_addr: HashMap<SocketAddr, SocketId> =
            sockets.iter().map(|s| (s.addr, s.id)).collect();
        let mut srs_socket = vec![None; sockets.len()];
        for (k, node) in srs.iter().enumerate() {
            for a in node.addresses() {
                if let Some(id) = by_addr.get(&a) {
                    srs_socket[id.0 as usize] = Some(k);
                }
            }
        }
        let n = slots as usize;
        let asserted = cfg
            .kinds
            .iter()
            .map(|k| asserted_checks(&k.expectation, &k.plan))
            .collect();
        let free_users = cfg
            .kinds
            .iter()
            .map(|k| k.users.iter().copied().collect())
            .collect();
        let weights = cfg.kinds.iter().map(|k| k.weight).collect();
        // Prepare every kind's reference clips now (FFT plans and spectra, shared by all
        // listeners): done lazily, the first call would stall the loop for ~100 ms.
        for k in &cfg.kinds {
            roles::media_io::ListenStream::new(
                roles::media_io::ListenConfig {
                    detectors: k.detectors.clone(),
                    ..roles::media_io::ListenConfig::new(
                        "warm-up",
                        observe::Actor::Harness,
                        None,
                        cfg.caller_sip,
                    )
                },
                &base_ctx,
            )
            .map_err(|e| RecordedError::Role(format!("call kind {}: {e}", k.name)))?;
        }
        Ok(Self {
            srs_queued: vec![None; srs.len()],
            srs_socket,
            srs,
            schedule,
            sockets,
            by_addr,
            slots: (0..n).map(|_| None).collect(),
            epochs: vec![0; n],
            free: (0..slots).collect(),
            free_users,
            by_call_id: HashMap::new(),
            by_callee: HashMap::new(),
            by_label: HashMap::new(),
            directory,
            timers: BinaryHeap::new(),
            transmits: VecDeque::new(),
            records: VecDeque::new(),
            captures: VecDeque::new(),
            modem,
            asserted,
            stats: Stats::default(),
            stray: 0,
            unattributed: 0,
            weights,
            cfg,
        })
    }

    fn slot_of_socket(&self, id: SocketId) -> Option<(u32, Party)> {
        let slots = self.slots.len() as u32;
        let n = id.0.checked_sub(2)?;
        if n < slots {
            Some((n, Party::Caller))
        } else if n < 2 * slots {
            Some((n - slots, Party::Callee))
        } else {
            None
        }
    }

    fn srs_of_socket(&self, id: SocketId) -> Option<usize> {
        self.srs_socket.get(id.0 as usize).copied().flatten()
    }

    /// The kind of call `index` (a weighted draw, reproducible per seed and index).
    fn kind_for(&self, index: u64) -> usize {
        let total: f64 = self.weights.iter().sum();
        let mut x = (splitmix(self.cfg.seed ^ index.wrapping_mul(0x9E37_79B9)) as f64
            / u64::MAX as f64)
            * total;
        for (i, w) in self.weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        self.weights.len().saturating_sub(1)
    }

    fn push_timer(&mut self, at: Time, slot: u32, epoch: u32, who: Who) {
        self.timers.push(Reverse((at, slot, epoch, who)));
    }

    fn start_call(&mut self, now: Time, start: CallStart) {
        self.stats.count_start(start.lateness);
        let first_kind = self.kind_for(start.index);
        // The drawn kind, or the next kind with a free user.
        let picked = (0..self.cfg.kinds.len())
            .map(|k| (first_kind + k) % self.cfg.kinds.len())
            .find_map(|k| self.free_users[k].pop_front().map(|u| (k, u)));
        let (Some(slot), Some((kind, user))) = (self.free.pop_front(), picked) else {
            self.harness_failure(now, start, "no free call slot or user");
            return;
        };
        let label = format!("call-{}", start.index);
        let ctx = MediaContext {
            modem: self.modem.clone(),
            registry: PartyRegistry::new(),
        };
        // Party ids rotate over calls, so another call's audio heard here decodes as a
        // party nobody registered on this call: foreign, not this call's caller.
        let pair = (start.index % 127) as u8;
        let (caller_party, callee_party) = (PartyId(2 * pair + 1), PartyId(2 * pair + 2));
        let u = &self.cfg.users[user];
        let k = &self.cfg.kinds[kind];
        let caller_rtp = self.sockets[(2 + slot) as usize].addr;
        let callee_rtp = self.sockets[(2 + self.slots.len() as u32 + slot) as usize].addr;
        let mut caller_cfg = UaConfig::caller(self.cfg.caller_sip, caller_rtp);
        caller_cfg.uri = if u.caller.starts_with("sip:") {
            u.caller.clone()
        } else {
            format!("sip:{}@{}", u.caller, self.cfg.caller_sip)
        };
        caller_cfg.party = caller_party;
        caller_cfg.call_label = Some(label.clone());
        caller_cfg.scenario = k.name.clone();
        caller_cfg.detectors = k.detectors.clone();
        caller_cfg.seed = self.cfg.seed.wrapping_mul(31).wrapping_add(start.index * 2);
        caller_cfg.sip_seed = Some(splitmix(self.cfg.sip_seed ^ (start.index * 2 + 1)));
        let mut callee_cfg = UaConfig::callee(self.cfg.callee_sip, callee_rtp);
        callee_cfg.uri = format!("sip:{}@{}", u.callee, self.cfg.callee_sip);
        callee_cfg.party = callee_party;
        callee_cfg.call_label = Some(label.clone());
        callee_cfg.scenario = k.name.clone();
        callee_cfg.detectors = k.detectors.clone();
        callee_cfg.seed = self
            .cfg
            .seed
            .wrapping_mul(31)
            .wrapping_add(start.index * 2 + 1);
        callee_cfg.sip_seed = Some(splitmix(self.cfg.sip_seed ^ (start.index * 2 + 2)));
        callee_cfg.answer = match k.plan.answer {
            Answer::After(ring) => AnswerMode::Answer { ring },
            Answer::Never => AnswerMode::Never,
            Answer::Decline(code) => AnswerMode::Reject {
                code,
                after: Duration::from_secs(2),
            },
        };
        let (caller, callee) = match (
            PartyUa::new(caller_cfg, ctx.clone()),
            PartyUa::new(callee_cfg, ctx.clone()),
        ) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                self.free.push_back(slot);
                self.free_users[kind].push_back(user);
                self.harness_failure(now, start, &format!("a phone could not be built: {e}"));
                return;
            }
        };
        let mut hold = self.cfg.hold.sample(self.cfg.seed, start.index);
        hold = hold.max(Duration::from_secs(1));
        let mut plan = k.plan.clone();
        plan.label = label.clone();
        plan.talk = Duration::ZERO;
        // Held as drawn, and at least a second past the plan's last key.
        plan.talk = hold.max(plan.last_action() + Duration::from_secs(1));
        let script = CallScript::new(
            &plan,
            now,
            ScriptTimings {
                answer_wait: self.cfg.answer_wait,
                poll: ANSWER_POLL,
                drain: self.cfg.drain,
            },
        );
        let epoch = self.epochs[slot as usize].wrapping_add(1);
        self.epochs[slot as usize] = epoch;
        self.directory.open(
            &label,
            &[u.caller.as_str(), u.callee.as_str()],
            &ctx,
            &self.cfg.kinds[kind].detectors,
        );
        self.by_callee.insert(u.callee.clone(), slot);
        self.by_label.insert(label.clone(), slot);
        let target_uri = format!("sip:{}@{}", u.callee, self.cfg.sut_sip);
        let sut = self.cfg.sut_sip;
        let overrun = now + self.cfg.answer_wait + plan.talk + self.cfg.drain + CALL_OVERRUN;
        let mut call = Call {
            index: start.index,
            epoch,
            kind,
            user,
            label,
            invite_at: now,
            start_lateness: start.lateness,
            hold: plan.talk,
            caller,
            callee,
            caller_queued: None,
            callee_queued: None,
            script,
            script_at: None,
            draining: false,
            call_ids: Vec::new(),
            rs_call_ids: Vec::new(),
            obs: Vec::new(),
        };
        let dialled = call.caller.dial(now, &target_uri, sut);
        self.slots[slot as usize] = Some(call);
        self.push_timer(overrun, slot, epoch, Who::Overrun);
        if let Err(e) = dialled
            && let Some(c) = self.call_mut(slot)
        {
            c.obs
                .push(harness_note(now, &c.label, &format!("could not dial: {e}")));
        }
        self.drain_party(now, slot, Party::Caller);
        self.drain_party(now, slot, Party::Callee);
        self.run_script(now, slot);
    }

    fn harness_failure(&mut self, now: Time, start: CallStart, what: &str) {
        let rec = CallRecord::harness_failure(
            start.index,
            ms(now),
            start.lateness.as_secs_f64() * 1000.0,
            what,
        );
        self.records.push_back(Finished::judged(rec));
        self.schedule.call_ended();
    }

    fn call_mut(&mut self, slot: u32) -> Option<&mut Call> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    /// Asks the call's script what to do now, and does it.
    fn run_script(&mut self, now: Time, slot: u32) {
        for _ in 0..64 {
            let Some(c) = self.call_mut(slot) else {
                return;
            };
            if c.draining {
                return;
            }
            let phase = c.caller.phase();
            match c.script.next(now, phase) {
                Step::RunUntil(t) => {
                    let epoch = c.epoch;
                    if c.script_at != Some(t) {
                        c.script_at = Some(t);
                        self.push_timer(t, slot, epoch, Who::Script);
                    }
                    return;
                }
                Step::Press { party, digits } => {
                    match party {
                        Party::Caller => c.caller.send_dtmf(now, &digits),
                        Party::Callee => c.callee.send_dtmf(now, &digits),
                    };
                    self.drain_party(now, slot, party);
                }
                Step::HangUp => {
                    let _ = c.caller.hang_up(now);
                    self.drain_party(now, slot, Party::Caller);
                }
                Step::Drain(t) => {
                    c.draining = true;
                    let epoch = c.epoch;
                    self.push_timer(t, slot, epoch, Who::Drain);
                    return;
                }
            }
        }
    }

    /// Moves what a phone produced into transmits, the call's observations and the timer
    /// heap.
    fn drain_party(&mut self, now: Time, slot: u32, party: Party) {
        let Some(c) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        let (ua, queued) = match party {
            Party::Caller => (&mut c.caller, &mut c.caller_queued),
            Party::Callee => (&mut c.callee, &mut c.callee_queued),
        };
        let mut learned = Vec::new();
        let capture = self.cfg.capture;
        let index = c.index;
        while let Some(d) = ua.poll_transmit() {
            let Some(&socket) = self.by_addr.get(&d.from) else {
                continue;
            };
            if capture {
                self.captures.push_back(Captured {
                    call: index,
                    at: now,
                    from: d.from,
                    to: d.to,
                    payload: d.bytes.clone(),
                });
            }
            if socket.0 < 2 {
                self.stats.both(|f| f.sip_sent += 1);
                if let Some(id) = call_id_of(&d.bytes)
                    && !c.call_ids.contains(&id)
                {
                    learned.push(id);
                }
            } else {
                self.stats.both(|f| f.rtp_sent += 1);
            }
            self.transmits.push_back(Transmit {
                socket,
                to: d.to,
                payload: d.bytes,
            });
        }
        while let Some(o) = ua.poll_observation() {
            c.obs.push(o);
        }
        // Never at or before `now`: a node that still reports a past deadline after it was
        // handled must not spin the timer loop.
        let next = ua.poll_timeout().map(|t| t.max(now + MIN_STEP));
        let requeue = match (next, *queued) {
            (Some(t), Some(q)) => t < q,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if requeue {
            *queued = next;
        }
        let epoch = c.epoch;
        for id in learned {
            c.call_ids.push(id.clone());
            self.by_call_id.insert(id, slot);
        }
        if let (true, Some(t)) = (requeue, next) {
            let who = match party {
                Party::Caller => Who::Caller,
                Party::Callee => Who::Callee,
            };
            self.push_timer(t, slot, epoch, who);
        }
    }

    /// Moves what a recorder produced into transmits, the calls' observations and the
    /// timer heap.
    fn drain_srs(&mut self, now: Time, k: usize) {
        let Some(node) = self.srs.get_mut(k) else {
            return;
        };
        let mut sent = Vec::new();
        while let Some(d) = node.poll_transmit() {
            if self.cfg.capture {
                sent.push(d.clone());
            }
            if let Some(&socket) = self.by_addr.get(&d.from) {
                self.stats.both(|f| f.sip_sent += 1);
                self.transmits.push_back(Transmit {
                    socket,
                    to: d.to,
                    payload: d.bytes,
                });
            }
        }
        let mut routed = Vec::new();
        while let Some(o) = node.poll_observation() {
            routed.push(o);
        }
        let next = node.poll_timeout().map(|t| t.max(now + MIN_STEP));
        for d in sent {
            if let Some(slot) = self.srs_slot(k, d.from.port(), &d.bytes) {
                self.capture(slot, now, d.from, d.to, &d.bytes);
            }
        }
        for o in routed {
            let slot = o.call.as_ref().and_then(|l| self.by_label.get(l)).copied();
            match slot.and_then(|s| self.slots.get_mut(s as usize).and_then(Option::as_mut)) {
                Some(c) => {
                    if let observe::Event::Metadata { rs_call_id, .. } = &o.event
                        && !c.rs_call_ids.contains(rs_call_id)
                    {
                        c.rs_call_ids.push(rs_call_id.clone());
                    }
                    c.obs.push(o);
                }
                None => {
                    if matches!(o.event, observe::Event::CallStarted { .. }) {
                        self.unattributed += 1;
                    }
                }
            }
        }
        let queued = &mut self.srs_queued[k];
        let requeue = match (next, *queued) {
            (Some(t), Some(q)) => t < q,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if requeue {
            *queued = next;
            if let Some(t) = next {
                self.push_timer(t, 0, 0, Who::Srs(k as u32));
            }
        }
    }

    /// The call is over: finish its recording sessions' streams, judge it, hand out its
    /// record and free its slot.
    fn finish(&mut self, now: Time, slot: u32) {
        let rs_ids: Vec<String> = self
            .call_mut(slot)
            .map(|c| c.rs_call_ids.clone())
            .unwrap_or_default();
        for k in 0..self.srs.len() {
            let mut any = false;
            for id in &rs_ids {
                any |= self.srs[k].finish_session(now, id);
            }
            if any {
                self.drain_srs(now, k);
            }
        }
        self.drain_party(now, slot, Party::Caller);
        self.drain_party(now, slot, Party::Callee);
        let Some(mut call) = self.slots.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        self.epochs[slot as usize] = call.epoch.wrapping_add(1);
        self.free.push_back(slot);
        self.free_users[call.kind].push_back(call.user);
        self.schedule.call_ended();
        for id in &call.call_ids {
            self.by_call_id.remove(id);
        }
        let u = self.cfg.users[call.user].clone();
        if self.by_callee.get(&u.callee) == Some(&slot) {
            self.by_callee.remove(&u.callee);
        }
        self.by_label.remove(&call.label);
        self.directory
            .close(&call.label, &[u.caller.as_str(), u.callee.as_str()]);
        call.obs.sort_by_key(|o| o.t_us);
        let mut expectation = self.cfg.kinds[call.kind].expectation.clone();
        expectation.parties = checks::Parties {
            caller: u.caller.clone(),
            callee: u.callee.clone(),
        };
        let rec = CallRecord {
            call_id: call.call_ids.first().cloned(),
            hold_ms: call.hold.as_secs_f64() * 1000.0,
            duration_ms: now.saturating_duration_since(call.invite_at).as_secs_f64() * 1000.0,
            ..CallRecord::started(
                call.index,
                ms(call.invite_at),
                call.start_lateness.as_secs_f64() * 1000.0,
            )
        };
        let finished = Finished {
            record: rec,
            observations: None,
            capture: None,
            judgement: Some(Box::new(JudgeJob {
                label: call.label.clone(),
                expectation,
                tolerances: self.cfg.tolerances.clone(),
                asserted: self.asserted[call.kind].clone(),
                observations: std::mem::take(&mut call.obs),
                recorder: None,
            })),
        };
        self.records.push_back(finished);
    }
}

impl RecordedEngine {
    /// Keeps a datagram of call `slot` for its capture, when capturing.
    fn capture(
        &mut self,
        slot: u32,
        at: Time,
        from: SocketAddr,
        to: SocketAddr,
        payload: &bytes::Bytes,
    ) {
        if !self.cfg.capture {
            return;
        }
        if let Some(c) = self.slots.get(slot as usize).and_then(Option::as_ref) {
            self.captures.push_back(Captured {
                call: c.index,
                at,
                from,
                to,
                payload: payload.clone(),
            });
        }
    }

    /// The slot of the call a recorder's datagram on `port` or with this SIP message
    /// belongs to (through the recorder's own binding of sessions to calls).
    fn srs_slot(&self, k: usize, port: u16, bytes: &[u8]) -> Option<u32> {
        let node = self.srs.get(k)?;
        let label = match node.call_label_of_port(port) {
            Some(l) => Some(l.to_owned()),
            None => call_id_of(bytes).and_then(|id| node.call_label_of(&id).map(str::to_owned)),
        }?;
        self.by_label.get(&label).copied()
    }
}

fn harness_note(now: Time, label: &str, what: &str) -> Observation {
    Observation {
        t_us: now.as_micros(),
        call: Some(label.to_owned()),
        actor: observe::Actor::Harness,
        event: observe::Event::PlatformAction {
            action: "harness".to_owned(),
            detail: what.to_owned(),
        },
    }
}

fn ms(t: Time) -> f64 {
    t.as_micros() as f64 / 1000.0
}

/// A reproducible 64-bit mix (SplitMix64's finaliser) of `x`.
pub(crate) fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The Call-ID of a SIP message, if it parses.
fn call_id_of(bytes: &[u8]) -> Option<String> {
    let m = SipMessage::parse(bytes::Bytes::copy_from_slice(bytes)).ok()?;
    m.call_id().ok().map(str::to_owned)
}

/// The user part of a Request-URI (`sip:3000017@host` → `3000017`).
fn uri_user(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("sips:")
        .or_else(|| uri.strip_prefix("sip:"))
        .or_else(|| uri.strip_prefix("tel:"))?;
    rest.split(['@', ';']).next().filter(|u| !u.is_empty())
}

impl Engine for RecordedEngine {
    fn sockets(&self) -> &[SocketSpec] {
        &self.sockets
    }

    fn handle_datagram(&mut self, now: Time, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        let Some(spec) = self.sockets.get(socket.0 as usize) else {
            return;
        };
        let to = spec.addr;
        let datagram = Datagram {
            from,
            to,
            transport: Transport::Udp,
            bytes: bytes::Bytes::copy_from_slice(bytes),
        };
        if socket == CALLER_SIP || socket == CALLEE_SIP {
            self.stats.both(|f| f.sip_received += 1);
            let Ok(msg) = SipMessage::parse(datagram.bytes.clone()) else {
                self.stray += 1;
                return;
            };
            let by_id = msg
                .call_id()
                .ok()
                .and_then(|id| self.by_call_id.get(id).copied());
            let slot = by_id.or_else(|| {
                (socket == CALLEE_SIP && msg.method() == Some(&sip::message::Method::Invite))
                    .then(|| msg.request_uri().and_then(uri_user))
                    .flatten()
                    .and_then(|user| self.by_callee.get(user).copied())
            });
            let Some(slot) = slot else {
                self.stray += 1;
                return;
            };
            if by_id.is_none()
                && let Ok(id) = msg.call_id()
                && let Some(c) = self.call_mut(slot)
            {
                let id = id.to_owned();
                if !c.call_ids.contains(&id) {
                    c.call_ids.push(id.clone());
                }
                self.by_call_id.insert(id, slot);
            }
            self.capture(slot, now, from, to, &datagram.bytes);
            let party = if socket == CALLER_SIP {
                Party::Caller
            } else {
                Party::Callee
            };
            if let Some(c) = self.call_mut(slot) {
                match party {
                    Party::Caller => c.caller.handle_datagram(now, datagram),
                    Party::Callee => c.callee.handle_datagram(now, datagram),
                }
            }
            self.drain_party(now, slot, party);
            self.run_script(now, slot);
            return;
        }
        if let Some((slot, party)) = self.slot_of_socket(socket) {
            self.stats.both(|f| f.rtp_received += 1);
            self.capture(slot, now, from, to, &datagram.bytes);
            let Some(c) = self.call_mut(slot) else {
                self.stray += 1;
                return;
            };
            match party {
                Party::Caller => c.caller.handle_datagram(now, datagram),
                Party::Callee => c.callee.handle_datagram(now, datagram),
            }
            self.drain_party(now, slot, party);
            return;
        }
        if let Some(k) = self.srs_of_socket(socket) {
            if spec.kind == SocketKind::Sip {
                self.stats.both(|f| f.sip_received += 1);
            } else {
                self.stats.both(|f| f.rtp_received += 1);
            }
            if self.cfg.capture {
                let bytes = datagram.bytes.clone();
                // Bound to its call only once the recorder has seen it (a new session's
                // INVITE), so the datagram is matched after it was handled.
                self.srs[k].handle_datagram(now, datagram);
                if let Some(slot) = self.srs_slot(k, to.port(), &bytes) {
                    self.capture(slot, now, from, to, &bytes);
                }
            } else {
                self.srs[k].handle_datagram(now, datagram);
            }
            self.drain_srs(now, k);
            return;
        }
        self.stray += 1;
    }

    fn handle_timeout(&mut self, now: Time) {
        while let Some(start) = self.schedule.poll_start(now) {
            self.start_call(now, start);
        }
        while let Some(&Reverse((at, slot, epoch, who))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            if let Who::Srs(k) = who {
                let k = k as usize;
                if self.srs_queued.get(k).copied().flatten() != Some(at) {
                    continue;
                }
                self.srs_queued[k] = None;
                if let Some(node) = self.srs.get_mut(k) {
                    node.handle_timeout(now);
                }
                self.drain_srs(now, k);
                continue;
            }
            if self.epochs.get(slot as usize) != Some(&epoch) {
                continue;
            }
            match who {
                Who::Caller | Who::Callee => {
                    let party = if who == Who::Caller {
                        Party::Caller
                    } else {
                        Party::Callee
                    };
                    let Some(c) = self.call_mut(slot) else {
                        continue;
                    };
                    let queued = match party {
                        Party::Caller => &mut c.caller_queued,
                        Party::Callee => &mut c.callee_queued,
                    };
                    if *queued != Some(at) {
                        continue;
                    }
                    *queued = None;
                    // The loop's lateness against the wake-up it queued (a phone's send
                    // schedule is among its wake-ups).
                    let late = now.saturating_duration_since(at).as_micros() as u64;
                    self.stats.record(|f| &mut f.send_lateness_us, late);
                    let Some(c) = self.call_mut(slot) else {
                        continue;
                    };
                    match party {
                        Party::Caller => c.caller.handle_timeout(now),
                        Party::Callee => c.callee.handle_timeout(now),
                    }
                    self.drain_party(now, slot, party);
                    self.run_script(now, slot);
                }
                Who::Script => {
                    let Some(c) = self.call_mut(slot) else {
                        continue;
                    };
                    if c.script_at == Some(at) {
                        c.script_at = None;
                    }
                    // A draining call waits for its drain deadline only.
                    if !c.draining {
                        self.run_script(now, slot);
                    }
                }
                Who::Drain => self.finish(now, slot),
                Who::Overrun => {
                    if let Some(c) = self.call_mut(slot) {
                        let label = c.label.clone();
                        c.obs.push(harness_note(
                            now,
                            &label,
                            "the call did not end within its plan plus 70 s; judged as it stood",
                        ));
                    }
                    self.finish(now, slot);
                }
                Who::Srs(_) => {}
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
            if let Some(c) = self.call_mut(slot)
                && !c.draining
            {
                let _ = c.caller.hang_up(now);
                let epoch = c.epoch;
                c.draining = true;
                let until = now + self.cfg.drain;
                self.drain_party(now, slot, Party::Caller);
                self.push_timer(until, slot, epoch, Who::Drain);
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

    fn unattributed(&self) -> u64 {
        self.unattributed
    }

    fn poll_capture(&mut self) -> Option<Captured> {
        self.captures.pop_front()
    }

    fn count_send_errors(&mut self, errors: u64) {
        self.stats.both(|f| f.send_errors += errors);
    }
}
