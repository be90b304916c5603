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
use crate::script::{CallScript, ScriptTimings, Step};
use crate::settings::{CALLEE_EXTENSION, CALLER_NUMBER, PROVIDERS, Settings, provider_srs_addr};
use observe::{Actor, Clock, Event, Observation};
use platform::{Fault, Platform, PlatformConfig, Variant};
use roles::media_io::{Detectors, MediaContext, ReferenceClip};
use roles::srs::{SrsBehaviour, SrsConfig, SrsEmulator};
use roles::ua::{AnswerMode, PartyUa, UaConfig};
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

impl RecorderMode {
    /// The SRS emulator behaviour that plays this mode (both drivers use it).
    pub fn srs_behaviour(self) -> SrsBehaviour {
        match self {
            Self::Accept => SrsBehaviour::Accept,
            Self::Reject(code) => SrsBehaviour::Reject {
                code,
                after: Duration::from_millis(50),
            },
            Self::Silent => SrsBehaviour::Silent,
        }
    }
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
    /// Run a legal variant of the platform.
    pub variant: Option<Variant>,
    /// Seed of every random choice (network, tags, SSRCs).
    pub seed: u64,
    /// The recorders' behaviour.
    pub recorder: RecorderMode,
    /// One-way latency of every link.
    pub latency: Duration,
    /// Jitter of every link.
    pub jitter: Duration,
    /// Keep evidence: every datagram (for a pcap) and the audio of every stream (WAVs).
    pub evidence: bool,
}

impl EmbeddedCall {
    /// A call with 10 ms links and 1 ms jitter.
    pub fn new(settings: Settings, plan: CallPlan, fault: Option<Fault>, seed: u64) -> Self {
        Self {
            settings,
            plan,
            fault,
            variant: None,
            seed,
            recorder: RecorderMode::Accept,
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(1),
            evidence: false,
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
    /// Every datagram sent, with its send time (when evidence was asked for).
    pub capture: Vec<(Time, sim::Datagram)>,
    /// The audio of every stream: what each party heard and what each recorder stream
    /// received (when evidence was asked for).
    pub audio: Vec<StreamAudio>,
    /// The wall-clock instant of the run clock's zero, since the Unix epoch: the pcap's
    /// timestamps start there (the platform's fixed epoch for a simulated call).
    pub wall_origin: Duration,
}

/// The decoded audio of one stream, for a WAV.
#[derive(Debug, Clone)]
pub struct StreamAudio {
    /// Stream name (`caller.heard`, `srs.1`...).
    pub stream: String,
    /// Run time of the first sample, µs.
    pub start_us: u64,
    /// 8 kHz mono PCM.
    pub pcm: Vec<i16>,
}

impl StreamAudio {
    /// What a party's phone heard (`caller.heard` / `callee.heard`), if it kept it.
    pub(crate) fn heard(ua: &mut PartyUa, stream: &str) -> Option<Self> {
        ua.take_heard_pcm().map(|pcm| Self {
            stream: stream.to_owned(),
            start_us: pcm.start_us,
            pcm: pcm.samples,
        })
    }

    /// Every stream an SRS emulator recorded (`srs.<label>`), ending open streams at `now`.
    pub(crate) fn recorded(srs: &mut SrsEmulator, now: Time) -> Vec<Self> {
        srs.finish_streams(now);
        srs.take_recordings()
            .into_iter()
            .map(|rec| Self {
                stream: rec.stream,
                start_us: rec.pcm.start_us,
                pcm: rec.pcm.samples,
            })
            .collect()
    }
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

/// The name a run gives the embedded platform (`embedded-reference`, with ` variant=…`
/// and ` fault=…` when set).
pub fn embedded_name(fault: Option<Fault>, variant: Option<Variant>) -> String {
    let mut s = "embedded-reference".to_owned();
    if let Some(v) = variant {
        s.push_str(&format!(" variant={}", v.name()));
    }
    if let Some(f) = fault {
        s.push_str(&format!(" fault={}", f.name()));
    }
    s
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
    if call.evidence {
        world.capture_datagrams();
    }
    world.set_default_link(LinkProfile::latency(call.latency).jitter(call.jitter));
    let label = call.plan.label.clone();

    // The platform.
    let caller_sip = SocketAddr::new(IpAddr::V4(CALLER_HOST), 5060);
    let callee_sip = SocketAddr::new(IpAddr::V4(CALLEE_HOST), 5060);
    let mut pcfg = PlatformConfig::new(policy, PLATFORM_SIP, PLATFORM_SIP.ip());
    pcfg.directory
        .insert(CALLEE_EXTENSION.to_owned(), callee_sip);
    pcfg.fault = call.fault;
    pcfg.variant = call.variant;
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
    caller_cfg.keep_pcm = call.evidence;
    let mut callee_cfg =
        UaConfig::callee(callee_sip, SocketAddr::new(IpAddr::V4(CALLEE_HOST), 30000));
    callee_cfg.uri = format!("sip:{CALLEE_EXTENSION}@{callee_sip}");
    callee_cfg.call_label = Some(label.clone());
    callee_cfg.scenario = call.plan.scenario.clone();
    callee_cfg.detectors = detectors.clone();
    callee_cfg.seed = call.seed.wrapping_mul(31).wrapping_add(2);
    callee_cfg.keep_pcm = call.evidence;
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
    let mut recorders = Vec::new();
    for (i, provider) in PROVIDERS.into_iter().enumerate() {
        let Some(addr) = provider_srs_addr(provider) else {
            continue;
        };
        let mut cfg = SrsConfig::new(addr, addr.ip());
        cfg.call_label = Some(label.clone());
        cfg.detectors = detectors.clone();
        cfg.seed = call.seed.wrapping_add(100 + i as u64);
        cfg.keep_pcm = call.evidence;
        cfg.behaviour = call.recorder.srs_behaviour();
        let srs = SrsEmulator::new(cfg, ctx.clone()).map_err(|e| setup("srs")(e.to_string()))?;
        recorders.push(world.add(Box::new(srs)));
    }

    let observations = vec![Observation::run_started(
        call.seed,
        embedded_name(call.fault, call.variant),
        Clock::Simulated,
    )];

    // Dial, and wait for the answer.
    let target_uri = format!("sip:{CALLEE_EXTENSION}@{PLATFORM_SIP}");
    world.with_node::<PartyUa, _>(caller, |ua, now| ua.dial(now, &target_uri, PLATFORM_SIP));
    let mut script = CallScript::new(
        &call.plan,
        world.now(),
        ScriptTimings {
            answer_wait: ANSWER_WAIT,
            poll: Duration::from_millis(20),
            drain: DRAIN,
        },
    );
    loop {
        let phase = world.node_mut::<PartyUa>(caller).and_then(|ua| ua.phase());
        match script.next(world.now(), phase) {
            Step::RunUntil(t) => {
                world.run_until(t);
            }
            Step::Press { party, digits } => {
                let node = match party {
                    Party::Caller => caller,
                    Party::Callee => callee,
                };
                world.with_node::<PartyUa, _>(node, |ua, now| ua.send_dtmf(now, &digits));
            }
            Step::HangUp => {
                world.with_node::<PartyUa, _>(caller, |ua, now| ua.hang_up(now));
            }
            Step::Drain(until) => {
                world.run_until(until);
                break;
            }
        }
    }
    let answered = script.answered_at();
    let mut audio = Vec::new();
    if call.evidence {
        for (node, name) in [(caller, "caller.heard"), (callee, "callee.heard")] {
            if let Some(heard) = world
                .node_mut::<PartyUa>(node)
                .and_then(|ua| StreamAudio::heard(ua, name))
            {
                audio.push(heard);
            }
        }
    }
    // A recording session the SRC never ended still has open streams: end them so their
    // media observations (spans, frame reports) are in the log, evidence or not.
    Ok(finish_world(
        world,
        &recorders,
        observations,
        audio,
        call.evidence,
        answered.map(Time::as_micros),
        started,
    ))
}

/// Ends a simulated run: ends the recorders' open streams (their media observations are
/// in the log, evidence or not; their audio joins `audio` when `evidence`), collects the
/// world's observations in time order after `observations` (the run's first line) with
/// the closing `RunEnded`, and the capture.
pub(crate) fn finish_world(
    mut world: World,
    recorders: &[sim::NodeId],
    mut observations: Vec<Observation>,
    mut audio: Vec<StreamAudio>,
    evidence: bool,
    answered_us: Option<u64>,
    started: Instant,
) -> CallOutcome {
    for node in recorders {
        let now = world.now();
        if let Some(srs) = world.node_mut::<SrsEmulator>(*node) {
            let recorded = StreamAudio::recorded(srs, now);
            if evidence {
                audio.extend(recorded);
            }
        }
        world.poke(*node);
    }
    let capture = world.take_capture();
    let simulated = world.now().since_origin();
    observations.extend(world.take_observations());
    observations.sort_by_key(|o| o.t_us);
    observations.push(Observation {
        t_us: world.now().as_micros(),
        call: None,
        actor: Actor::Harness,
        event: Event::RunEnded { interrupted: false },
    });
    CallOutcome {
        observations,
        answered_us,
        simulated,
        wall: started.elapsed(),
        capture,
        audio,
        wall_origin: Duration::from_secs(
            u64::try_from(platform::config::DEFAULT_EPOCH_SECONDS).unwrap_or_default(),
        ),
    }
}

/// Why evidence files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// A file could not be created or written.
    #[error("cannot write `{path}`: {reason}")]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
}

/// Writes a call's evidence into `dir`: `call.pcap` (every SIP and RTP datagram, as sent
/// or received, timestamped from [`CallOutcome::wall_origin`]: the wall clock in real
/// time, the platform's fixed epoch when simulated) and one WAV per stream
/// (`caller.heard.wav`, `srs.1.wav`...). Returns the files written.
pub fn write_evidence(
    outcome: &CallOutcome,
    dir: &std::path::Path,
) -> Result<Vec<std::path::PathBuf>, EvidenceError> {
    let fail = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |e: &dyn std::fmt::Display| EvidenceError::Write {
            path: path.clone(),
            reason: e.to_string(),
        }
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir)(&e))?;
    let mut written = Vec::new();
    let epoch = outcome.wall_origin;
    if !outcome.capture.is_empty() {
        let path = dir.join("call.pcap");
        let file = std::fs::File::create(&path).map_err(|e| fail(&path)(&e))?;
        let mut pcap = media::pcap::PcapWriter::new(std::io::BufWriter::new(file))
            .map_err(|e| fail(&path)(&e))?;
        for (t, d) in &outcome.capture {
            let at = epoch + t.since_origin();
            match d.transport {
                sim::Transport::Udp => pcap.write_udp(at, d.from, d.to, &d.bytes),
                sim::Transport::Tcp => pcap.write_tcp(at, d.from, d.to, &d.bytes),
            }
            .map_err(|e| fail(&path)(&e))?;
        }
        use std::io::Write as _;
        pcap.into_inner().flush().map_err(|e| fail(&path)(&e))?;
        written.push(path);
    }
    for a in &outcome.audio {
        let safe: String = a
            .stream
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{safe}.wav"));
        media::wav::write_wav_file(&path, media::SAMPLE_RATE, &a.pcm)
            .map_err(|e| fail(&path)(&e))?;
        written.push(path);
    }
    Ok(written)
}
