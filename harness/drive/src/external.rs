//! Runs a [`CallPlan`] against an EXTERNAL system under test on real UDP sockets and the
//! wall clock.
//!
//! The harness side is the same as in [`crate::embedded`]: the caller's and callee's
//! phones (`roles::ua::PartyUa`) and one SRS emulator per recorder the SUT is configured
//! with, all driven by `recproof_net::node_runner::NodeRunner` at the addresses an
//! [`ExternalTarget`] names. The SUT is whatever answers at [`ExternalTarget::sut_sip`]
//! (for the reference platform: `recproof platform` run as its own process). Its
//! configuration must send the callee's extension to the harness callee's SIP address
//! and its recordings to the harness recorders.
//!
//! The driver dials the SUT, waits (bounded) for the caller's phone to see the call
//! answered, presses keys and hangs up at the plan's times measured from that answer,
//! then drains for a few seconds. Every wait has a deadline. It returns the same
//! [`CallOutcome`] as the embedded driver (observations in time order; evidence
//! optional: every datagram the harness sent and received, for the pcap, and the audio of
//! every stream). It judges nothing.
//!
//! The seed fixes the audio and the timing; the SIP identifiers (Call-IDs, tags,
//! branches) are drawn fresh for every call ([`crate::fresh_seed`]), so a stateful SUT
//! never sees a new call with the identifiers of an earlier run's.

use crate::embedded::{CallOutcome, DriveError, RecorderMode, StreamAudio};
use crate::plan::{Answer, CallPlan, Party};
use crate::script::{CallScript, ScriptTimings, Step};
use net::node_runner::NodeRunner;
use observe::{Actor, Clock, Event, Observation};
use roles::media_io::{Detectors, MediaContext};
use roles::srs::{SrsConfig, SrsEmulator};
use roles::ua::{AnswerMode, PartyUa, UaConfig};
use sim::Node;
use sip::time::Time;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long after the dial the driver waits for an answer before giving up, unless the
/// target says otherwise ([`ExternalTarget::answer_wait`]).
pub const ANSWER_WAIT: Duration = Duration::from_secs(30);
/// Time after the caller hangs up for BYEs, final RTP and stream ends.
const DRAIN: Duration = Duration::from_secs(3);
/// Step of the answer poll.
const POLL: Duration = Duration::from_millis(20);

/// A recorder (SRS emulator) the harness runs for the SUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalRecorder {
    /// Provider name (`Dubber`), for the expectation and summaries.
    pub provider: String,
    /// SIP address (UDP) the SUT sends recording sessions to.
    pub sip: SocketAddr,
    /// First RTP port of the recorder's pool (on the SIP address's IP).
    pub rtp_port_base: u16,
}

/// Where the SUT and the harness roles are, and what the listeners look for.
#[derive(Debug, Clone)]
pub struct ExternalTarget {
    /// Name of the SUT (for `RunStarted`).
    pub name: String,
    /// The SUT's SIP address.
    pub sut_sip: SocketAddr,
    /// The transport the harness parties use towards the SUT (and put in their
    /// Contacts); requests from the SUT are taken on either.
    pub sut_transport: sip::transaction::Transport,
    /// The harness caller's SIP address.
    pub caller_sip: SocketAddr,
    /// The harness caller's RTP address.
    pub caller_rtp: SocketAddr,
    /// The user part of the caller's URI (a number such as `+4722000001`), or a whole
    /// `sip:` URI.
    pub caller_user: String,
    /// The harness callee's SIP address (the SUT must route the called extension here).
    pub callee_sip: SocketAddr,
    /// The harness callee's RTP address.
    pub callee_rtp: SocketAddr,
    /// The recorders the SUT is configured with.
    pub recorders: Vec<ExternalRecorder>,
    /// The SUT's announcement clips and tones, under the harness's clip names.
    pub detectors: Detectors,
    /// How long to wait for the call to be answered before hanging up (default
    /// [`ANSWER_WAIT`]).
    pub answer_wait: Duration,
}

/// Everything one external call needs.
#[derive(Debug, Clone)]
pub struct ExternalCall {
    /// Where everything is.
    pub target: ExternalTarget,
    /// The extension the caller dials (the recorded person).
    pub extension: String,
    /// What the call does.
    pub plan: CallPlan,
    /// What the harness recorders do with recording sessions.
    pub recorder: RecorderMode,
    /// Seed of tags, branches, Call-IDs and SSRCs.
    pub seed: u64,
    /// Keep the audio of every stream (for WAVs).
    pub evidence: bool,
}

fn setup(role: &'static str) -> impl Fn(String) -> DriveError {
    move |reason| DriveError::Setup { role, reason }
}

/// Runs one call in real time on its own single-threaded async runtime (call it from a
/// blocking thread). See the [module docs](self).
pub fn run_call(call: &ExternalCall) -> Result<CallOutcome, DriveError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| setup("runtime")(e.to_string()))?;
    runtime.block_on(run_call_async(call))
}

/// [`run_call`] on the caller's runtime.
pub async fn run_call_async(call: &ExternalCall) -> Result<CallOutcome, DriveError> {
    let started = Instant::now();
    let t = &call.target;
    let ctx = MediaContext::with_default_signal().map_err(|e| setup("media")(e.to_string()))?;
    let label = call.plan.label.clone();

    let mut caller_cfg = UaConfig::caller(t.caller_sip, t.caller_rtp);
    caller_cfg.uri = if t.caller_user.starts_with("sip:") {
        t.caller_user.clone()
    } else {
        format!("sip:{}@{}", t.caller_user, t.caller_sip)
    };
    caller_cfg.call_label = Some(label.clone());
    caller_cfg.scenario = call.plan.scenario.clone();
    caller_cfg.detectors = t.detectors.clone();
    let ids = crate::fresh_seed();
    caller_cfg.seed = call.seed.wrapping_mul(31).wrapping_add(1);
    caller_cfg.sip_seed = Some(ids.wrapping_add(1));
    caller_cfg.sip_transport = t.sut_transport;
    caller_cfg.keep_pcm = call.evidence;
    let mut callee_cfg = UaConfig::callee(t.callee_sip, t.callee_rtp);
    callee_cfg.uri = format!("sip:{}@{}", call.extension, t.callee_sip);
    callee_cfg.call_label = Some(label.clone());
    callee_cfg.scenario = call.plan.scenario.clone();
    callee_cfg.detectors = t.detectors.clone();
    callee_cfg.seed = call.seed.wrapping_mul(31).wrapping_add(2);
    callee_cfg.sip_seed = Some(ids.wrapping_add(2));
    callee_cfg.sip_transport = t.sut_transport;
    callee_cfg.keep_pcm = call.evidence;
    callee_cfg.answer = match call.plan.answer {
        Answer::After(ring) => AnswerMode::Answer { ring },
        Answer::Never => AnswerMode::Never,
        Answer::Decline(code) => AnswerMode::Reject {
            code,
            after: Duration::from_secs(2),
        },
    };
    let mut nodes: Vec<Box<dyn Node>> = vec![
        Box::new(
            PartyUa::new(caller_cfg, ctx.clone()).map_err(|e| setup("caller")(e.to_string()))?,
        ),
        Box::new(
            PartyUa::new(callee_cfg, ctx.clone()).map_err(|e| setup("callee")(e.to_string()))?,
        ),
    ];
    const CALLER: usize = 0;
    const CALLEE: usize = 1;
    for (i, r) in t.recorders.iter().enumerate() {
        let mut cfg = SrsConfig::new(r.sip, r.sip.ip());
        cfg.name = format!("srs-{}", r.provider.to_lowercase());
        cfg.uri = format!("sip:{}@{}", r.provider.to_lowercase(), r.sip);
        cfg.rtp_port_base = r.rtp_port_base;
        cfg.call_label = Some(label.clone());
        cfg.detectors = t.detectors.clone();
        cfg.seed = ids.wrapping_add(100 + i as u64);
        cfg.keep_pcm = call.evidence;
        cfg.behaviour = call.recorder.srs_behaviour();
        nodes.push(Box::new(
            SrsEmulator::new(cfg, ctx.clone()).map_err(|e| setup("srs")(e.to_string()))?,
        ));
    }
    let recorder_count = t.recorders.len();
    let mut runner = NodeRunner::bind(nodes)
        .await
        .map_err(|e| setup("sockets")(e.to_string()))?;
    if call.evidence {
        runner.capture_datagrams();
    }
    let wall_origin = runner
        .origin_wall()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();

    let mut observations = vec![Observation::run_started(
        call.seed,
        t.name.clone(),
        Clock::Real,
    )];
    let mut sink = |o: Observation| observations.push(o);

    // Dial, and wait (bounded) for the answer.
    let target_uri = format!("sip:{}@{}", call.extension, t.sut_sip);
    let now = runner.now();
    let dialed = runner
        .node_mut::<PartyUa>(CALLER)
        .map(|ua| ua.dial(now, &target_uri, t.sut_sip));
    if let Some(Err(e)) = dialed {
        return Err(setup("caller")(format!("cannot dial {target_uri}: {e}")));
    }
    let mut script = CallScript::new(
        &call.plan,
        runner.now(),
        ScriptTimings {
            answer_wait: t.answer_wait,
            poll: POLL,
            drain: DRAIN,
        },
    );
    loop {
        let phase = runner.node_mut::<PartyUa>(CALLER).and_then(|ua| ua.phase());
        let now = runner.now();
        match script.next(now, phase) {
            Step::RunUntil(t) => {
                runner
                    .run(t.since_origin(), std::future::pending(), &mut sink)
                    .await;
            }
            Step::Press { party, digits } => {
                let node = match party {
                    Party::Caller => CALLER,
                    Party::Callee => CALLEE,
                };
                if let Some(ua) = runner.node_mut::<PartyUa>(node) {
                    ua.send_dtmf(now, &digits);
                }
            }
            Step::HangUp => {
                if let Some(ua) = runner.node_mut::<PartyUa>(CALLER) {
                    let _ = ua.hang_up(now);
                }
            }
            Step::Drain(until) => {
                runner
                    .run(until.since_origin(), std::future::pending(), &mut sink)
                    .await;
                break;
            }
        }
    }
    let answered = script.answered_at();

    let mut audio = Vec::new();
    let now = runner.now();
    for (node, name) in [(CALLER, "caller.heard"), (CALLEE, "callee.heard")] {
        if let Some(ua) = runner.node_mut::<PartyUa>(node) {
            while let Some(o) = ua.poll_observation() {
                sink(o);
            }
            if call.evidence
                && let Some(heard) = StreamAudio::heard(ua, name)
            {
                audio.push(heard);
            }
        }
    }
    for node in CALLEE + 1..CALLEE + 1 + recorder_count {
        if let Some(srs) = runner.node_mut::<SrsEmulator>(node) {
            let recorded = StreamAudio::recorded(srs, now);
            while let Some(o) = srs.poll_observation() {
                sink(o);
            }
            if call.evidence {
                audio.extend(recorded);
            }
        }
    }
    Ok(finish_runner(
        runner,
        observations,
        audio,
        answered.map(Time::as_micros),
        started,
        wall_origin,
    ))
}

/// Ends a real-time run: takes the capture, closes the sockets, puts `observations` (the
/// run's first line and what the nodes logged) in time order with the closing `RunEnded`.
pub(crate) fn finish_runner(
    mut runner: NodeRunner,
    mut observations: Vec<Observation>,
    audio: Vec<StreamAudio>,
    answered_us: Option<u64>,
    started: Instant,
    wall_origin: Duration,
) -> CallOutcome {
    let end = runner.now();
    let capture = runner.take_capture();
    let drops = runner.receive_drops();
    drop(runner);
    observations.sort_by_key(|o| o.t_us);
    // Logged whenever the kernel's count can be read, zero included, under the call's
    // label so the call's precondition (`precondition.harness_intact`) finds it.
    if let Some(drops) = drops {
        let call = observations.iter().find_map(|o| o.call.clone());
        observations.push(Observation {
            t_us: end.as_micros(),
            call,
            actor: Actor::Harness,
            event: Event::HarnessReceiveDrops { datagrams: drops },
        });
    }
    observations.push(Observation {
        t_us: end.as_micros(),
        call: None,
        actor: Actor::Harness,
        event: Event::RunEnded { interrupted: false },
    });
    CallOutcome {
        observations,
        answered_us,
        simulated: end.since_origin(),
        wall: started.elapsed(),
        capture,
        audio,
        wall_origin,
    }
}
