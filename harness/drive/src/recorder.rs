//! Runs a recorder plan: the harness SRC ([`roles::src::HarnessSrc`]) opening recording
//! sessions at a recorder: the embedded SRS emulator standing in for a recorder under
//! test (with an optional [`SrsFault`]) in a simulated network and clock
//! ([`run_recorder_call`]), or an external recorder on real UDP sockets and the wall clock
//! ([`run_recorder_call_external`]). Both follow the same sans-IO [`RecorderScript`].
//!
//! A [`RecorderPlan`] is a list of [`RsStep`]s: open a session of some case, talk, pause,
//! resume, send a metadata update, end. The driver waits after each INVITE for its final
//! response (at most [`FINAL_WAIT`]; a recorder that never answers is given up on with a
//! CANCEL and the wait is in the log), skips a refused session's remaining steps until the
//! next open, and returns the observation log. It judges nothing.

use crate::embedded::{CallOutcome, DriveError, RecorderMode, finish_world};
use observe::{Clock, Observation};
use roles::media_io::MediaContext;
use roles::src::{HarnessSrc, RsRequest, SessionPhase, SrcConfig};
use roles::srs::{SrsConfig, SrsEmulator};
use roles::srs_fault::SrsFault;
use sim::{LinkProfile, World};
use sip::time::Time;
use siprec::metadata::Dialect;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use std::time::{Duration, Instant};

/// The harness SRC's SIP address in the simulated network.
pub const SRC_SIP: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)), 5060);
/// The recorder's SIP address in the simulated network.
pub const RECORDER_SIP: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 9)), 5080);
/// Longest wait for the final response to an RS INVITE before the SRC gives up (CANCEL).
/// Longer than SRS-13's answer time, shorter than Timer B (32 s).
pub const FINAL_WAIT: Duration = Duration::from_secs(10);
/// Sessions the embedded recorder takes at once: its pool of 16 RTP ports, two per
/// session (SRS-14's stated capacity in an embedded run).
pub const EMBEDDED_CAPACITY: u32 = 8;
/// When the embedded recorder asks for a metadata snapshot in a session.
pub const SNAPSHOT_AFTER: Duration = Duration::from_secs(3);
/// Time after a BYE or CANCEL for the last responses and stream ends.
const SETTLE: Duration = Duration::from_secs(2);

/// One step of a recorder plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RsStep {
    /// Opens a session (and waits for its final response).
    Open(RsRequest),
    /// Lets the session run (audio flows) for this long.
    Talk(Duration),
    /// Pauses: a re-INVITE with the streams `a=inactive` (true) or at `c=0.0.0.0`.
    Pause {
        /// `a=inactive` (RFC) instead of `c=0.0.0.0` (BroadWorks).
        inactive: bool,
    },
    /// Resumes after a pause.
    Resume,
    /// Sends the complete metadata again in an UPDATE.
    UpdateMetadata,
    /// Sends a partial metadata update in an UPDATE (SRS-06).
    PartialUpdate,
    /// Sends a re-INVITE with the SDP and the complete metadata (SRS-06).
    ReinviteWithMetadata,
    /// Ends the session (BYE).
    End,
    /// Opens this many valid sessions at once, each from its own harness SRC (SRS-14),
    /// lets them run for `talk`, and ends them.
    Burst {
        /// Sessions at once.
        sessions: usize,
        /// How long the taken ones run.
        talk: Duration,
    },
}

/// What one recorder call does: the sessions it opens and what happens in each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecorderPlan {
    /// Harness call label of every observation.
    pub label: String,
    /// Scenario name (for the log).
    pub scenario: String,
    /// The steps, in order.
    pub steps: Vec<RsStep>,
    /// Make the recorder stop recording on its own this long into each session it takes
    /// (SRS-11). Only the embedded recorder can be made to: an external one is not
    /// triggered from here.
    pub recorder_stops_after: Option<Duration>,
}

impl RecorderPlan {
    /// A plan with no steps.
    pub fn new(label: &str, scenario: &str) -> Self {
        Self {
            label: label.to_owned(),
            scenario: scenario.to_owned(),
            steps: Vec::new(),
            recorder_stops_after: None,
        }
    }

    /// A whole session: open `req`, talk for `talk`, end.
    pub fn session(mut self, req: RsRequest, talk: Duration) -> Self {
        self.steps
            .extend([RsStep::Open(req), RsStep::Talk(talk), RsStep::End]);
        self
    }

    /// Appends a step.
    pub fn step(mut self, step: RsStep) -> Self {
        self.steps.push(step);
        self
    }

    /// The most sessions a [`RsStep::Burst`] of the plan opens at once (0 without one):
    /// the extra harness SRCs a driver sets up.
    pub fn burst_size(&self) -> usize {
        self.steps
            .iter()
            .map(|s| match s {
                RsStep::Burst { sessions, .. } => *sessions,
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }

    /// The dialects its sessions are written in (`rfc-strict`, `broadworks-compat`).
    pub fn dialects(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self
            .steps
            .iter()
            .filter_map(|s| match s {
                RsStep::Open(req) => Some(roles::src::dialect_name(req.dialect)),
                RsStep::Burst { .. } => Some(roles::src::dialect_name(Dialect::Rfc7865)),
                _ => None,
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// What a driver does next for a [`RecorderScript`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SrcAction {
    /// Let time run to this instant.
    RunUntil(Time),
    /// Give the harness SRC this command now.
    Command(SrcCommand),
    /// Give burst SRC `k` (0-based, [`RsStep::Burst`]) this command now.
    BurstCommand(usize, SrcCommand),
    /// The plan is done (every session ended or given up on).
    Done,
}

/// A command for the harness SRC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SrcCommand {
    /// [`HarnessSrc::open`].
    Open(RsRequest),
    /// [`HarnessSrc::pause`].
    Pause {
        /// `a=inactive` instead of `c=0.0.0.0`.
        inactive: bool,
    },
    /// [`HarnessSrc::resume`].
    Resume,
    /// [`HarnessSrc::update_metadata`].
    UpdateMetadata,
    /// [`HarnessSrc::update_partial_metadata`].
    PartialUpdate,
    /// [`HarnessSrc::reinvite_with_metadata`].
    ReinviteWithMetadata,
    /// [`HarnessSrc::end`].
    End,
    /// [`HarnessSrc::abandon`].
    Abandon,
}

impl SrcCommand {
    /// Gives the command to the SRC. A refusal (no session to pause, say) is harmless:
    /// the log shows what was and was not sent.
    pub fn apply(&self, src: &mut HarnessSrc, now: Time) {
        let _ = match self {
            Self::Open(req) => src.open(now, req),
            Self::Pause { inactive } => src.pause(now, *inactive),
            Self::Resume => src.resume(now),
            Self::UpdateMetadata => src.update_metadata(now),
            Self::PartialUpdate => src.update_partial_metadata(now),
            Self::ReinviteWithMetadata => src.reinvite_with_metadata(now),
            Self::End => src.end(now),
            Self::Abandon => {
                src.abandon(now);
                Ok(())
            }
        };
    }
}

/// When a [`RecorderPlan`]'s steps happen: sans-IO, shared by the embedded and the
/// real-time drivers. Fed the time and where the SRC's session stands, it says what to
/// do next: after an open, poll until the final response (at most [`FINAL_WAIT`]); on a
/// refusal or no answer, end (CANCEL) and skip to the next open; after an end, let
/// [`SETTLE`] pass and abandon a session that still has not ended.
#[derive(Debug, Clone)]
pub struct RecorderScript {
    steps: std::collections::VecDeque<RsStep>,
    state: ScriptState,
    skipping: bool,
    /// Actions due before anything else (a burst's opens, ends, abandons).
    pending: std::collections::VecDeque<SrcAction>,
    /// Burst SRCs in use by the current burst.
    burst: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScriptState {
    /// Ready for the next step.
    Ready,
    /// An INVITE is out; its final response is due by this time.
    AwaitingFinal(Time),
    /// Time passes until this instant, then the next step.
    Waiting(Time),
    /// A BYE or CANCEL is out; settled by this time.
    Settling(Time),
    /// A burst's INVITEs are out; their final responses are due by `deadline`, then the
    /// taken sessions run until `deadline + talk`... (see [`RecorderScript::next`]).
    AwaitingBurst {
        /// Latest final response.
        deadline: Time,
        /// How long the taken sessions then run.
        talk: Duration,
    },
    /// A burst runs until this instant, then every burst SRC ends.
    BurstTalk(Time),
    /// The burst's BYEs and CANCELs are out; settled by this time, then abandoned.
    BurstSettling(Time),
    /// Everything done.
    Done,
}

/// Step of the final-response poll.
const POLL: Duration = Duration::from_millis(20);
/// Time after a pause, resume or metadata update for its transaction.
const EXCHANGE: Duration = Duration::from_millis(500);

impl RecorderScript {
    /// A script for `plan`.
    pub fn new(plan: &RecorderPlan) -> Self {
        Self {
            steps: plan.steps.iter().cloned().collect(),
            state: ScriptState::Ready,
            skipping: false,
            pending: std::collections::VecDeque::new(),
            burst: 0,
        }
    }

    /// What to do at `now`, the SRC's session being in `phase` and the burst SRCs' in
    /// `burst` (by index).
    pub fn next(
        &mut self,
        now: Time,
        phase: Option<SessionPhase>,
        burst: &[Option<SessionPhase>],
    ) -> SrcAction {
        loop {
            if let Some(a) = self.pending.pop_front() {
                return a;
            }
            match self.state {
                ScriptState::AwaitingBurst { deadline, talk } => {
                    let inviting = burst
                        .iter()
                        .take(self.burst)
                        .any(|p| *p == Some(SessionPhase::Inviting));
                    if inviting && now < deadline {
                        return SrcAction::RunUntil((now + POLL).min(deadline));
                    }
                    self.state = ScriptState::BurstTalk(now + talk);
                }
                ScriptState::BurstTalk(until) => {
                    if now < until {
                        return SrcAction::RunUntil(until);
                    }
                    self.pending.extend(
                        (0..self.burst).map(|k| SrcAction::BurstCommand(k, SrcCommand::End)),
                    );
                    self.state = ScriptState::BurstSettling(now + SETTLE);
                }
                ScriptState::BurstSettling(until) => {
                    if now < until {
                        return SrcAction::RunUntil(until);
                    }
                    self.pending.extend(
                        (0..self.burst).map(|k| SrcAction::BurstCommand(k, SrcCommand::Abandon)),
                    );
                    self.burst = 0;
                    self.state = ScriptState::Ready;
                }
                _ => {}
            }
            if !self.pending.is_empty() {
                continue;
            }
            match self.state {
                ScriptState::AwaitingBurst { .. }
                | ScriptState::BurstTalk(_)
                | ScriptState::BurstSettling(_) => continue,
                ScriptState::Done => return SrcAction::Done,
                ScriptState::AwaitingFinal(deadline) => {
                    if phase == Some(SessionPhase::Inviting) && now < deadline {
                        return SrcAction::RunUntil((now + POLL).min(deadline));
                    }
                    self.skipping = phase != Some(SessionPhase::Active);
                    if self.skipping {
                        // Refused (over already) or never answered: end it (CANCEL).
                        return self.end(now);
                    }
                    self.state = ScriptState::Ready;
                }
                ScriptState::Waiting(until) => {
                    if now < until {
                        return SrcAction::RunUntil(until);
                    }
                    self.state = ScriptState::Ready;
                }
                ScriptState::Settling(until) => {
                    if now < until {
                        return SrcAction::RunUntil(until);
                    }
                    self.state = ScriptState::Ready;
                    if phase.is_some() {
                        return SrcAction::Command(SrcCommand::Abandon);
                    }
                }
                ScriptState::Ready => {
                    let Some(step) = self.steps.pop_front() else {
                        if phase.is_some() {
                            return self.end(now);
                        }
                        self.state = ScriptState::Done;
                        return SrcAction::Done;
                    };
                    match step {
                        RsStep::Open(req) => {
                            if phase.is_some() {
                                // The plan left a session open: end it first.
                                self.steps.push_front(RsStep::Open(req));
                                return self.end(now);
                            }
                            self.skipping = false;
                            self.state = ScriptState::AwaitingFinal(now + FINAL_WAIT);
                            return SrcAction::Command(SrcCommand::Open(req));
                        }
                        RsStep::Burst { sessions, talk } => {
                            self.skipping = false;
                            self.burst = sessions;
                            self.pending.extend((0..sessions).map(|k| {
                                SrcAction::BurstCommand(
                                    k,
                                    SrcCommand::Open(RsRequest::of(
                                        roles::src::RsCase::Load,
                                        Dialect::Rfc7865,
                                    )),
                                )
                            }));
                            self.state = ScriptState::AwaitingBurst {
                                deadline: now + FINAL_WAIT,
                                talk,
                            };
                        }
                        _ if self.skipping => {}
                        RsStep::Talk(d) => self.state = ScriptState::Waiting(now + d),
                        RsStep::Pause { inactive } => {
                            self.state = ScriptState::Waiting(now + EXCHANGE);
                            return SrcAction::Command(SrcCommand::Pause { inactive });
                        }
                        RsStep::Resume => {
                            self.state = ScriptState::Waiting(now + EXCHANGE);
                            return SrcAction::Command(SrcCommand::Resume);
                        }
                        RsStep::UpdateMetadata => {
                            self.state = ScriptState::Waiting(now + EXCHANGE);
                            return SrcAction::Command(SrcCommand::UpdateMetadata);
                        }
                        RsStep::PartialUpdate => {
                            self.state = ScriptState::Waiting(now + EXCHANGE);
                            return SrcAction::Command(SrcCommand::PartialUpdate);
                        }
                        RsStep::ReinviteWithMetadata => {
                            self.state = ScriptState::Waiting(now + EXCHANGE);
                            return SrcAction::Command(SrcCommand::ReinviteWithMetadata);
                        }
                        RsStep::End => return self.end(now),
                    }
                }
            }
        }
    }

    fn end(&mut self, now: Time) -> SrcAction {
        self.state = ScriptState::Settling(now + SETTLE);
        SrcAction::Command(SrcCommand::End)
    }
}

/// Everything an embedded recorder call needs.
#[derive(Debug, Clone)]
pub struct EmbeddedRecorderCall {
    /// What the SRC does.
    pub plan: RecorderPlan,
    /// A recorder bug for the emulator to play.
    pub fault: Option<SrsFault>,
    /// How the emulator answers sessions at all (accept; reject every one; never answer).
    pub mode: RecorderMode,
    /// Seed of every random choice.
    pub seed: u64,
    /// Keep every datagram and the recorder's audio for evidence.
    pub evidence: bool,
}

/// Runs one recorder call. See the [module docs](self).
pub fn run_recorder_call(call: &EmbeddedRecorderCall) -> Result<CallOutcome, DriveError> {
    let started = Instant::now();
    let setup = |role: &'static str| move |reason: String| DriveError::Setup { role, reason };
    let ctx = MediaContext::with_default_signal().map_err(|e| setup("media")(e.to_string()))?;
    let mut world = World::new(call.seed);
    if call.evidence {
        world.capture_datagrams();
    }
    world.set_default_link(
        LinkProfile::latency(Duration::from_millis(10)).jitter(Duration::from_millis(1)),
    );
    let label = call.plan.label.clone();

    let mut srs_cfg = SrsConfig::new(RECORDER_SIP, RECORDER_SIP.ip());
    srs_cfg.call_label = Some(label.clone());
    srs_cfg.seed = call.seed.wrapping_add(7);
    srs_cfg.keep_pcm = call.evidence;
    srs_cfg.strict_input = true;
    srs_cfg.rtp_port_count = u16::try_from(EMBEDDED_CAPACITY * 2).unwrap_or(16);
    // A recorder under test asks for a snapshot in every session long enough (SRS-07).
    srs_cfg.snapshot_after = Some(SNAPSHOT_AFTER);
    srs_cfg.stop_after = call.plan.recorder_stops_after;
    srs_cfg.fault = call.fault;
    srs_cfg.behaviour = call.mode.srs_behaviour();
    let srs = SrsEmulator::new(srs_cfg, ctx.clone()).map_err(|e| setup("srs")(e.to_string()))?;
    let srs = world.add(Box::new(srs));

    let mut src_cfg = SrcConfig::new(SRC_SIP, RECORDER_SIP);
    src_cfg.call_label = Some(label.clone());
    src_cfg.seed = call.seed.wrapping_mul(31).wrapping_add(5);
    src_cfg.epoch = jiff::Timestamp::from_second(platform::config::DEFAULT_EPOCH_SECONDS)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let epoch = src_cfg.epoch;
    let src = world.add(Box::new(HarnessSrc::new(src_cfg, ctx.clone())));
    // The burst SRCs (SRS-14), each on its own host.
    let burst: Vec<sim::NodeId> = (0..call.plan.burst_size())
        .map(|k| {
            let host = Ipv4Addr::new(10, 0, 2, u8::try_from(1 + k % 250).unwrap_or(1));
            let mut cfg = SrcConfig::new(SocketAddr::new(IpAddr::V4(host), 5060), RECORDER_SIP);
            cfg.name = format!("src-burst-{k}");
            cfg.call_label = Some(label.clone());
            cfg.seed = call.seed.wrapping_mul(37).wrapping_add(100 + k as u64);
            cfg.epoch = epoch;
            world.add(Box::new(HarnessSrc::new(cfg, ctx.clone())))
        })
        .collect();

    let observations = vec![Observation::run_started(
        call.seed,
        recorder_name(call.fault),
        Clock::Simulated,
    )];

    let mut script = RecorderScript::new(&call.plan);
    loop {
        let now = world.now();
        let phase = world.node_mut::<HarnessSrc>(src).and_then(|s| s.phase());
        let phases: Vec<Option<SessionPhase>> = burst
            .iter()
            .map(|id| world.node_mut::<HarnessSrc>(*id).and_then(|s| s.phase()))
            .collect();
        match script.next(now, phase, &phases) {
            SrcAction::RunUntil(t) => world.run_until(t),
            SrcAction::Command(cmd) => {
                world.with_node::<HarnessSrc, _>(src, |s, now| cmd.apply(s, now));
            }
            SrcAction::BurstCommand(k, cmd) => {
                if let Some(id) = burst.get(k) {
                    world.with_node::<HarnessSrc, _>(*id, |s, now| cmd.apply(s, now));
                }
            }
            SrcAction::Done => break,
        }
    }
    Ok(finish_world(
        world,
        &[srs],
        observations,
        Vec::new(),
        call.evidence,
        None,
        started,
    ))
}

/// The name a run gives the embedded recorder (`embedded-srs`, with ` fault=…`).
pub fn recorder_name(fault: Option<SrsFault>) -> String {
    match fault {
        Some(f) => format!("embedded-srs fault={}", f.name()),
        None => "embedded-srs".to_owned(),
    }
}

/// Where an external recorder and the harness SRC are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalRecorderTarget {
    /// Name of the recorder (for `RunStarted`).
    pub name: String,
    /// The recorder's SIP address.
    pub recorder_sip: SocketAddr,
    /// The transport the harness SRC uses towards it.
    pub recorder_transport: sip::transaction::Transport,
    /// The Request-URI of RS INVITEs (default `sip:srs@<recorder_sip>`).
    pub recorder_uri: Option<String>,
    /// The harness SRC's SIP address.
    pub src_sip: SocketAddr,
    /// The harness SRC's first RTP port (stream 2 uses the next even port).
    pub src_rtp_port_base: u16,
}

/// Everything one external recorder call needs.
#[derive(Debug, Clone)]
pub struct ExternalRecorderCall {
    /// Where everything is.
    pub target: ExternalRecorderTarget,
    /// What the SRC does.
    pub plan: RecorderPlan,
    /// Seed of the audio; the SIP identifiers are drawn fresh ([`crate::fresh_seed`]).
    pub seed: u64,
    /// Keep every datagram for the pcap.
    pub evidence: bool,
}

/// Runs one recorder call against an external recorder in real time, on its own
/// single-threaded runtime (call it from a blocking thread).
pub fn run_recorder_call_external(call: &ExternalRecorderCall) -> Result<CallOutcome, DriveError> {
    let setup = |role: &'static str| move |reason: String| DriveError::Setup { role, reason };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| setup("runtime")(e.to_string()))?;
    runtime.block_on(async {
        let started = Instant::now();
        let t = &call.target;
        let ctx = MediaContext::with_default_signal().map_err(|e| setup("media")(e.to_string()))?;
        let mut cfg = SrcConfig::new(t.src_sip, t.recorder_sip);
        cfg.call_label = Some(call.plan.label.clone());
        cfg.rtp_port_base = t.src_rtp_port_base;
        if let Some(uri) = &t.recorder_uri {
            cfg.target_uri = uri.clone();
        }
        cfg.seed = call.seed.wrapping_mul(31).wrapping_add(5);
        cfg.sip_seed = Some(crate::fresh_seed());
        cfg.sip_transport = t.recorder_transport;
        let mut nodes: Vec<Box<dyn sim::Node>> = vec![Box::new(HarnessSrc::new(cfg, ctx.clone()))];
        // The burst SRCs (SRS-14): the next SIP ports after the SRC's, and four RTP ports
        // each after its two.
        let burst = call.plan.burst_size();
        for k in 0..burst {
            let port = |base: u16, step: usize| {
                u16::try_from(usize::from(base) + step)
                    .map_err(|_| setup("burst SRC")(format!("port {base} + {step} is past 65535")))
            };
            let sip = SocketAddr::new(t.src_sip.ip(), port(t.src_sip.port(), 1 + k)?);
            let mut cfg = SrcConfig::new(sip, t.recorder_sip);
            cfg.name = format!("src-burst-{k}");
            cfg.call_label = Some(call.plan.label.clone());
            cfg.rtp_port_base = port(t.src_rtp_port_base, 4 * (k + 1))?;
            if let Some(uri) = &t.recorder_uri {
                cfg.target_uri = uri.clone();
            }
            cfg.seed = call.seed.wrapping_mul(37).wrapping_add(100 + k as u64);
            cfg.sip_seed = Some(crate::fresh_seed());
            cfg.sip_transport = t.recorder_transport;
            nodes.push(Box::new(HarnessSrc::new(cfg, ctx.clone())));
        }
        let mut runner = net::node_runner::NodeRunner::bind(nodes)
            .await
            .map_err(|e| setup("sockets")(e.to_string()))?;
        if call.evidence {
            runner.capture_datagrams();
        }
        let origin = runner.origin_wall();
        let wall_origin = origin
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        if let Ok(epoch) = jiff::Timestamp::try_from(origin) {
            for i in 0..=burst {
                if let Some(src) = runner.node_mut::<HarnessSrc>(i) {
                    src.set_epoch(epoch);
                }
            }
        }
        let mut observations = vec![Observation::run_started(
            call.seed,
            t.name.clone(),
            Clock::Real,
        )];
        let mut sink = |o: Observation| observations.push(o);
        let mut script = RecorderScript::new(&call.plan);
        loop {
            let now = runner.now();
            let phase = runner.node_mut::<HarnessSrc>(0).and_then(|s| s.phase());
            let phases: Vec<Option<SessionPhase>> = (1..=burst)
                .map(|i| runner.node_mut::<HarnessSrc>(i).and_then(|s| s.phase()))
                .collect();
            match script.next(now, phase, &phases) {
                SrcAction::RunUntil(until) => {
                    runner
                        .run(until.since_origin(), std::future::pending(), &mut sink)
                        .await;
                }
                SrcAction::Command(cmd) => {
                    if let Some(src) = runner.node_mut::<HarnessSrc>(0) {
                        cmd.apply(src, now);
                    }
                }
                SrcAction::BurstCommand(k, cmd) => {
                    if let Some(src) = runner.node_mut::<HarnessSrc>(1 + k) {
                        cmd.apply(src, now);
                    }
                }
                SrcAction::Done => break,
            }
        }
        // Let the last messages go out and be logged.
        let until = runner.now() + Duration::from_millis(200);
        runner
            .run(until.since_origin(), std::future::pending(), &mut sink)
            .await;
        Ok(crate::external::finish_runner(
            runner,
            observations,
            Vec::new(),
            None,
            started,
            wall_origin,
        ))
    })
}
