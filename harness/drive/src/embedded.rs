//! Runs a [`CallPlan`] against the embedded reference platform in a simulated network
//! and clock.
//!
//! The world: the reference platform (`recproof-platform`, with an optional fault), the
//! caller's and callee's phones (`roles::ua::PartyUa`), and one SRS emulator per
//! provider address of [`crate::settings`] (so a recording session sent to the wrong
//! provider is seen, not lost). Every role listens for the platform's announcement clips
//! and tones, so a leak into the recording is observed the same way a heard announcement
//! is. Links have a small latency and jitter; everything is seeded, so a seed gives the
//! same log every time.
//!
//! The driver presses keys and hangs up at the plan's times measured from the moment the
//! caller's phone sees the call answered. It returns the observation log; it judges
//! nothing.

use crate::plan::{Answer, CallPlan, Party};
use crate::settings::{CALLEE_EXTENSION, CALLER_NUMBER, PROVIDERS, Settings, provider_srs_addr};
use observe::{Actor, Clock, Event, Observation, SCHEMA_VERSION};
use platform::{Fault, Platform, PlatformConfig};
use roles::media_io::{Detectors, MediaContext, ReferenceClip};
use roles::srs::{SrsBehaviour, SrsConfig, SrsEmulator};
use roles::ua::{AnswerMode, CallPhase, PartyUa, UaConfig};
use sim::{LinkProfile, World};
use sip::time::Time;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The platform's SIP address in the simulated network.
pub const PLATFORM_SIP: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 5060);
const CALLER_HOST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 10);
const CALLEE_HOST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 11);
/// How long after the dial the driver waits for an answer before giving up.
const ANSWER_WAIT: Duration = Duration::from_secs(60);
/// Time after the caller hangs up for BYEs, final RTP and stream ends.
const DRAIN: Duration = Duration::from_secs(4);

/// What the recorder of the effective provider does with recording sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecorderMode {
    /// Accepts (the normal case).
    #[default]
    Accept,
    /// Rejects with this status.
    Reject(u16),
    /// Never answers.
    Silent,
}

/// Everything one embedded call needs.
#[derive(Debug, Clone)]
pub struct EmbeddedCall {
    /// The recording settings in force.
    pub settings: Settings,
    /// What the call does.
    pub plan: CallPlan,
    /// Run a fault profile of the platform instead of the clean one.
    pub fault: Option<Fault>,
    /// Seed of every random choice (network, tags, SSRCs).
    pub seed: u64,
    /// The recorders' behaviour.
    pub recorder: RecorderMode,
    /// One-way latency of every link.
    pub latency: Duration,
    /// Jitter of every link.
    pub jitter: Duration,
}

impl EmbeddedCall {
    /// A call with 10 ms links and 1 ms jitter.
    pub fn new(settings: Settings, plan: CallPlan, fault: Option<Fault>, seed: u64) -> Self {
        Self {
            settings,
            plan,
            fault,
            seed,
            recorder: RecorderMode::Accept,
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(1),
        }
    }
}

/// The result of a run: the log and what it cost.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// Every observation, in time order.
    pub observations: Vec<Observation>,
    /// When the caller saw the call answered (µs on the run clock), if it was.
    pub answered_us: Option<u64>,
    /// Simulated time covered.
    pub simulated: Duration,
    /// Wall time spent.
    pub wall: Duration,
}

/// Why an embedded run could not be set up (never a verdict: a misbehaving platform is
/// observed, not an error).
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// The settings do not make a valid policy.
    #[error("the scenario's settings are not a valid policy: {0}")]
    Policy(String),
    /// A role could not be built.
    #[error("cannot set up `{role}`: {reason}")]
    Setup {
        /// Which role.
        role: &'static str,
        /// Why.
        reason: String,
    },
}

fn setup(role: &'static str) -> impl Fn(String) -> DriveError {
    move |reason| DriveError::Setup { role, reason }
}

/// What every harness listener looks for: the platform's clips and tones. The clip names
/// are the harness's (the file names without `.wav`), the names the checks expect.
pub fn detectors() -> Result<Detectors, DriveError> {
    let a = platform::assets::Assets::load().map_err(|e| setup("assets")(e.to_string()))?;
    let clip = |name: &str, pcm: &std::sync::Arc<[i16]>| ReferenceClip {
        name: name.to_owned(),
        pcm: pcm.clone(),
    };
    Ok(Detectors {
        tones_hz: vec![
            platform::assets::REMINDER_TONE_HZ,
            platform::assets::NOTICE_BEEP_HZ,
        ],
        clips: vec![
            clip("announcement-start", &a.start),
            clip("announcement-stop", &a.stop),
            clip("announcement-pause", &a.pause),
            clip("announcement-resume", &a.resume),
            clip("voicemail-greeting", &a.greeting),
        ],
        silence: None,
    })
}

/// Runs one call. See the [module docs](self).
pub fn run_call(call: &EmbeddedCall) -> Result<CallOutcome, DriveError> {
    let started = Instant::now();
    let policy = call
        .settings
        .policy()
        .map_err(|e| DriveError::Policy(e.to_string()))?;
    let ctx = MediaContext::with_default_signal().map_err(|e| setup("media")(e.to_string()))?;
    let detectors = detectors()?;
    let mut world = World::new(call.seed);
    world.set_default_link(LinkProfile::latency(call.latency).jitter(call.jitter));
    let label = call.plan.label.clone();

    // The platform.
    let caller_sip = SocketAddr::new(IpAddr::V4(CALLER_HOST), 5060);
    let callee_sip = SocketAddr::new(IpAddr::V4(CALLEE_HOST), 5060);
    let mut pcfg = PlatformConfig::new(policy, PLATFORM_SIP, PLATFORM_SIP.ip());
    pcfg.directory
        .insert(CALLEE_EXTENSION.to_owned(), callee_sip);
    pcfg.fault = call.fault;
    pcfg.seed = call.seed;
    let platform = Platform::new(pcfg).map_err(|e| setup("platform")(e.to_string()))?;
    world.add(Box::new(platform));

    // The phones.
    let mut caller_cfg =
        UaConfig::caller(caller_sip, SocketAddr::new(IpAddr::V4(CALLER_HOST), 30000));
    caller_cfg.uri = format!("sip:{CALLER_NUMBER}@{caller_sip}");
    caller_cfg.call_label = Some(label.clone());
    caller_cfg.scenario = call.plan.scenario.clone();
    caller_cfg.detectors = detectors.clone();
    caller_cfg.seed = call.seed.wrapping_mul(31).wrapping_add(1);
    let mut callee_cfg =
        UaConfig::callee(callee_sip, SocketAddr::new(IpAddr::V4(CALLEE_HOST), 30000));
    callee_cfg.uri = format!("sip:{CALLEE_EXTENSION}@{callee_sip}");
    callee_cfg.call_label = Some(label.clone());
    callee_cfg.scenario = call.plan.scenario.clone();
    callee_cfg.detectors = detectors.clone();
    callee_cfg.seed = call.seed.wrapping_mul(31).wrapping_add(2);
    callee_cfg.answer = match call.plan.answer {
        Answer::After(ring) => AnswerMode::Answer { ring },
        Answer::Never => AnswerMode::Never,
        Answer::Decline(code) => AnswerMode::Reject {
            code,
            after: Duration::from_secs(2),
        },
    };
    let caller = world.add(Box::new(
        PartyUa::new(caller_cfg, ctx.clone()).map_err(|e| setup("caller")(e.to_string()))?,
    ));
    let callee = world.add(Box::new(
        PartyUa::new(callee_cfg, ctx.clone()).map_err(|e| setup("callee")(e.to_string()))?,
    ));

    // One recorder per provider address.
    for (i, provider) in PROVIDERS.into_iter().enumerate() {
        let Some(addr) = provider_srs_addr(provider) else {
            continue;
        };
        let mut cfg = SrsConfig::new(addr, addr.ip());
        cfg.call_label = Some(label.clone());
        cfg.detectors = detectors.clone();
        cfg.seed = call.seed.wrapping_add(100 + i as u64);
        cfg.behaviour = match call.recorder {
            RecorderMode::Accept => SrsBehaviour::Accept,
            RecorderMode::Reject(code) => SrsBehaviour::Reject {
                code,
                after: Duration::from_millis(50),
            },
            RecorderMode::Silent => SrsBehaviour::Silent,
        };
        let srs = SrsEmulator::new(cfg, ctx.clone()).map_err(|e| setup("srs")(e.to_string()))?;
        world.add(Box::new(srs));
    }

    let mut observations = vec![Observation {
        t_us: 0,
        call: None,
        actor: Actor::Harness,
        event: Event::RunStarted {
            schema: SCHEMA_VERSION,
            seed: call.seed,
            sut: call.fault.map_or_else(
                || "embedded-reference".to_owned(),
                |f| format!("embedded-reference fault={}", f.name()),
            ),
            clock: Clock::Simulated,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        },
    }];

    // Dial, and wait for the answer.
    let target_uri = format!("sip:{CALLEE_EXTENSION}@{PLATFORM_SIP}");
    world.with_node::<PartyUa, _>(caller, |ua, now| ua.dial(now, &target_uri, PLATFORM_SIP));
    let give_up = world.now() + ANSWER_WAIT;
    let mut answered = None;
    while world.now() < give_up {
        world.run_for(Duration::from_millis(20));
        match world.node_mut::<PartyUa>(caller).and_then(|ua| ua.phase()) {
            Some(CallPhase::Active) => {
                answered = Some(world.now());
                break;
            }
            None => break, // the call failed or ended before an answer
            _ => {}
        }
    }

    if let Some(answer) = answered {
        let mut presses = call.plan.keypresses.clone();
        presses.sort_by_key(|k| k.after_answer);
        for k in &presses {
            world.run_until(answer + k.after_answer);
            let node = match k.party {
                Party::Caller => caller,
                Party::Callee => callee,
            };
            world.with_node::<PartyUa, _>(node, |ua, now| ua.send_dtmf(now, &k.digits));
        }
        world.run_until(answer + call.plan.talk);
        world.with_node::<PartyUa, _>(caller, |ua, now| ua.hang_up(now));
    }
    world.run_for(DRAIN);
    let simulated = world.now().since_origin();
    observations.extend(world.take_observations());
    observations.sort_by_key(|o| o.t_us);
    observations.push(Observation {
        t_us: world.now().as_micros(),
        call: None,
        actor: Actor::Harness,
        event: Event::RunEnded { interrupted: false },
    });
    Ok(CallOutcome {
        observations,
        answered_us: answered.map(Time::as_micros),
        simulated,
        wall: started.elapsed(),
    })
}
