//! `recproof load` against the embedded reference platform (the default target): the
//! platform and the harness's recorders on loopback real sockets in this process, the
//! platform on a service loop of its own, the calls on the call loop.
//!
//! Builds, from the call mix: the users (a caller number and an extension per kind and
//! concurrent call, so every open call is told apart by its numbers), the policy the
//! platform runs (every extension with its kind's settings), what the checks expect of
//! each kind, and what its listeners look for (only the notices the kind can play).

use super::{Common, RunArgs, parse_port_range, port_slice};
use anyhow::{Context, bail};
use checks::SrsTarget;
use drive::embedded::RecorderMode;
use drive::settings::{Person, policy_yaml};
use load::engine::Engine;
use load::host::NodeHost;
use load::mix::{Mix, MixKind};
use load::recorded::{CallKind, LoadUser, RecordedConfig, RecordedEngine, RecorderSpec};
use load::results::TargetData;
use platform::{Fault, Platform, PlatformConfig, Variant};
use roles::media_io::Detectors;
use roles::srs::SrsBehaviour;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The extension of concurrent call `slot` of kind `kind`.
pub(crate) fn extension(kind: usize, slot: u32) -> String {
    format!("{:02}{slot:06}", 30 + kind)
}

/// The caller number of concurrent call `slot` of kind `kind`.
pub(crate) fn caller_number(kind: usize, slot: u32) -> String {
    format!("+4721{kind:02}{slot:06}")
}

/// What a kind's listeners look for: the tones, and of the platform's clips only the
/// ones this kind can play (every listener with every clip would cost five correlators
/// per stream for notices the call never triggers).
pub(crate) fn kind_detectors(all: &Detectors, kind: &MixKind) -> Detectors {
    let s = &kind.settings;
    let codes = checks::FeatureCodes::default();
    let pressed = |c: &str| kind.plan.keypresses.iter().any(|k| k.digits == c);
    let voicemail = !matches!(kind.plan.answer, drive::plan::Answer::After(_));
    let mut wanted = Vec::new();
    if s.start_stop_announcement {
        wanted.push("announcement-start");
        if pressed(&codes.stop)
            || s.failure_behavior
                .as_deref()
                .is_some_and(|f| f.contains("ANNOUNCEMENT"))
        {
            wanted.push("announcement-stop");
        }
    }
    if s.notification.as_deref() == Some("Play Announcement")
        && (pressed(&codes.pause) || pressed(&codes.resume))
    {
        wanted.extend(["announcement-pause", "announcement-resume"]);
    }
    if voicemail {
        wanted.push("voicemail-greeting");
    }
    Detectors {
        tones_hz: all.tones_hz.clone(),
        clips: all
            .clips
            .iter()
            .filter(|c| wanted.contains(&c.name.as_str()))
            .cloned()
            .collect(),
        silence: all.silence.clone(),
    }
}

/// The engines of a run: what was targeted, the call loops' engines and the service
/// loops' (the embedded platform).
pub(crate) type Built = (
    TargetData,
    Vec<Box<dyn Engine + Send>>,
    Vec<Box<dyn Engine + Send>>,
);

/// Builds the engines of an embedded run: the call loop and the platform's service loop.
pub(crate) fn build(args: &RunArgs, c: &Common, mix: &Mix) -> anyhow::Result<Built> {
    if c.loops > 1 || c.share.count > 1 {
        // One recorder per provider serves every call; it lives on the call loop.
        eprintln!(
            "note: a run through a platform uses one call loop (the recorder ties each \
             recording session to its call on that loop); --threads and the shard's \
             loops are ignored"
        );
    }
    let platform_sip: SocketAddr = args
        .platform_sip
        .parse()
        .context("--platform-sip: give IP:PORT")?;
    let recorder_sip: SocketAddr = args
        .recorder_sip
        .parse()
        .context("--recorder-sip: give IP:PORT")?;
    let ip = platform_sip.ip();
    let slots = c.plan.concurrency.map_or(1, |l| c.share.limit_of(l));
    let phones = parse_port_range(args.rtp_ports.as_deref().unwrap_or("20000-32000"))?;
    let srs_range = parse_port_range(&args.srs_rtp_ports)?;
    let platform_range = parse_port_range(&args.platform_rtp_ports)?;
    // Users: one caller number and extension per kind and concurrent call.
    let mut users = Vec::new();
    let mut people: Vec<(usize, Vec<Person>)> = Vec::new();
    let mut kinds = Vec::new();
    let all = drive::embedded::detectors().map_err(|e| anyhow::anyhow!("{e}"))?;
    // Providers: the organisation's and every location override, each with its own
    // recorder.
    let mut providers: Vec<String> = vec![mix.org.org_provider.clone()];
    for k in &mix.kinds {
        if let Some(p) = &k.settings.location_override
            && !providers.contains(p)
        {
            providers.push(p.clone());
        }
    }
    providers.retain(|p| p != "None");
    let recorders: Vec<RecorderSpec> = providers
        .iter()
        .enumerate()
        .map(|(i, p)| RecorderSpec {
            provider: p.clone(),
            sip: SocketAddr::new(recorder_sip.ip(), recorder_sip.port() + 2 * i as u16),
            rtp_ports: port_slice(srs_range, i as u32, providers.len().max(1) as u32),
            behaviour: SrsBehaviour::Accept,
        })
        .collect();
    let provider_addr: BTreeMap<String, SocketAddr> = recorders
        .iter()
        .map(|r| (r.provider.clone(), r.sip))
        .collect();
    for (ki, k) in mix.kinds.iter().enumerate() {
        let mut persons = Vec::new();
        let mut idx = Vec::new();
        for slot in 0..slots {
            idx.push(users.len());
            let ext = extension(ki, slot);
            users.push(LoadUser {
                caller: caller_number(ki, slot),
                callee: ext.clone(),
            });
            persons.push(Person::numbered(&ext));
        }
        people.push((ki, persons));
        let mut e = drive::expectation::expectation(&k.settings, &k.plan, RecorderMode::Accept);
        e.srs = k.settings.effective_provider().map(|p| {
            let addr = provider_addr.get(p);
            SrsTarget {
                provider: Some(p.to_owned()),
                address: addr.map(ToString::to_string),
                uri: addr.map(|a| format!("sip:{}@{a}", p.to_lowercase())),
            }
        });
        kinds.push(CallKind {
            name: k.name.clone(),
            weight: k.weight,
            plan: k.plan.clone(),
            expectation: e,
            detectors: kind_detectors(&all, k),
            users: idx,
        });
    }
    let groups: Vec<(&drive::settings::Settings, &[Person])> = people
        .iter()
        .map(|(ki, p)| (&mix.kinds[*ki].settings, p.as_slice()))
        .collect();
    let provider_list: Vec<(String, SocketAddr)> = provider_addr.into_iter().collect();
    let yaml = policy_yaml(&mix.org, &groups, &provider_list);
    let policy = policy::parse(&yaml, "the load run's generated policy")
        .map_err(|e| anyhow::anyhow!("the mix gives a policy the platform refuses: {e}"))?;
    let callee_sip: SocketAddr = args
        .callee_sip
        .parse()
        .context("--callee-sip: give IP:PORT")?;
    let caller_sip: SocketAddr = args
        .caller_sip
        .parse()
        .context("--caller-sip: give IP:PORT")?;
    let mut pc = PlatformConfig::new(policy, platform_sip, ip);
    let (pfirst, pcount) = (
        platform_range.0 + platform_range.0 % 2,
        (platform_range.1 - platform_range.0) / 2,
    );
    // Two ports per call (one per leg) and two per recording session.
    if u32::from(pcount) < slots * 4 {
        bail!(
            "--platform-rtp-ports {} holds {pcount} ports; {slots} concurrent recorded calls \
             need {} (two legs and two recorded streams each): widen it or lower \
             --concurrency",
            args.platform_rtp_ports,
            slots * 4
        );
    }
    pc.rtp_port_base = pfirst;
    pc.rtp_port_count = pcount;
    pc.directory = users
        .iter()
        .map(|u| (u.callee.clone(), callee_sip))
        .collect();
    pc.seed = drive::fresh_seed();
    pc.epoch = jiff::Timestamp::now();
    pc.no_answer_timeout = Duration::from_secs(4);
    if let Some(name) = &args.fault {
        pc.fault = Some(Fault::from_name(name).with_context(|| {
            format!("unknown fault `{name}`; `recproof platform --list-faults` lists them")
        })?);
    }
    if let Some(name) = &args.variant {
        pc.variant = Some(Variant::from_name(name).with_context(|| {
            format!("unknown variant `{name}`; `recproof platform --list-variants` lists them")
        })?);
    }
    let sut_name = drive::embedded::embedded_name(pc.fault, pc.variant);
    let src_addr = pc.src_addr();
    let platform = Platform::new(pc).map_err(|e| anyhow::anyhow!("embedded platform: {e}"))?;
    let modem = Arc::new(
        media::signal::Modem::new(&media::signal::SignalConfig::default())
            .context("instrumented signal")?,
    );
    let cfg = RecordedConfig {
        plan: c.plan.clone(),
        hold: c.hold,
        seed: args.seed,
        sip_seed: drive::fresh_seed(),
        kinds,
        users,
        sut_sip: platform_sip,
        caller_sip,
        callee_sip,
        rtp_ip: ip,
        rtp_ports: phones,
        recorders,
        detectors: all,
        // Real-time tolerances, but the reminder timed as tightly as loopback allows: the
        // embedded platform's tones are on the wall clock to a few ms here, so ±1 s would
        // hide a drift the suite catches.
        tolerances: checks::Tolerances {
            reminder_interval_ms: 300.0,
            ..checks::Tolerances::real_time()
        },
        answer_wait: Duration::from_secs(10),
        drain: Duration::from_secs(2),
        capture: args.captures(),
    };
    let engine = RecordedEngine::new(cfg, modem, sip::time::Time::ZERO)?;
    let host = NodeHost::new(vec![Box::new(platform)], &[platform_sip, src_addr]);
    let target = TargetData {
        mode: "embedded".into(),
        sut: Some(sut_name),
        media: true,
        fault: args.fault.clone(),
    };
    Ok((target, vec![Box::new(engine)], vec![Box::new(host)]))
}
