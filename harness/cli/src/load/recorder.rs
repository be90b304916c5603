//! `recproof load --recorder` and `recproof load --sut RECORDER.yaml`: recording sessions
//! placed at a recorder at a rate, many at once, each judged by the recorder checks (the
//! ones the recorder scenarios assert on one session: taken, `+sip.srs`, the answer per
//! stream, no RTP back, the answer time, and, when its recordings can be read, each
//! party's audio kept apart).
//!
//! The recorder is the embedded SRS emulator in its recorder-under-test mode on a service
//! loop of this process (`--recorder`, optionally with `--fault srs-…`), or the external
//! one a recorder profile names. The harness SRCs bind a SIP port each from the SRC
//! address up (the profile's `harness.src.sip`, else `--src-sip`), and four RTP ports
//! each from the RTP base up (the profile's `harness.src.rtp_port_base`, else the first of
//! `--rtp-ports`); each event loop takes its slice of both.

use super::{Common, RunArgs, parse_port_range, port_slice};
use anyhow::{Context, bail};
use checks::recorder::RecorderRules;
use load::engine::Engine;
use load::host::NodeHost;
use load::judge::{RecorderJudging, RecordingsReader};
use load::results::TargetData;
use load::sessions::{SessionsConfig, SessionsEngine, session_parties};
use roles::srs::{SrsConfig, SrsEmulator};
use roles::srs_fault::SrsFault;
use siprec::metadata::Dialect;
use std::net::SocketAddr;
use std::sync::Arc;
use suite::recorder_profile::RecorderProfile;

/// The engines of a run against a recorder: what was targeted, the session loops' and
/// the service loops' (the embedded recorder).
type Built = (
    TargetData,
    Vec<Box<dyn Engine + Send>>,
    Vec<Box<dyn Engine + Send>>,
);

/// Where the recorder is and how it is held, whichever it is.
struct RecorderTarget {
    recorder_sip: SocketAddr,
    recorder_uri: String,
    src_sip: SocketAddr,
    src_rtp_base: u16,
    dialects: Vec<Dialect>,
    judging: RecorderJudging,
}

/// Builds a run against the embedded SRS emulator (`--recorder`).
pub(crate) fn build_embedded(args: &RunArgs, c: &Common) -> anyhow::Result<Built> {
    if args.variant.is_some() || args.mix.is_some() {
        bail!("--variant and --mix are the embedded platform's; --recorder runs the SRS emulator");
    }
    let fault = match &args.fault {
        Some(name) => Some(SrsFault::from_name(name).with_context(|| {
            format!(
                "--fault {name}: not a recorder fault; `recproof check --list-recorder-faults` \
                 lists them"
            )
        })?),
        None => None,
    };
    let recorder_sip: SocketAddr = args
        .recorder_sip
        .parse()
        .context("--recorder-sip: give IP:PORT")?;
    let src_sip: SocketAddr = args.src_sip.parse().context("--src-sip: give IP:PORT")?;
    let rtp = parse_port_range(args.rtp_ports.as_deref().unwrap_or("20000-32000"))?;
    let srs_rtp = parse_port_range(&args.srs_rtp_ports)?;
    let slots = c.plan.concurrency.map_or(1, |l| c.share.limit_of(l));
    // The emulator takes as many sessions at once as its RTP pool holds (two ports
    // each); a narrower --srs-rtp-ports makes it refuse the rest with 503 (SRS-14), or
    // with --fault srs-silent-over-capacity leave them unanswered.
    let ports = u32::from(srs_rtp.1 - srs_rtp.0) / 2;
    let capacity = (ports / 2).min(slots);
    if capacity == 0 {
        bail!(
            "--srs-rtp-ports {} holds {ports} RTP port(s) (every 2nd port): the recorder could              take no session (two ports each); widen it",
            args.srs_rtp_ports
        );
    }
    let ctx = roles::media_io::MediaContext::with_default_signal()
        .map_err(|e| anyhow::anyhow!("instrumented signal: {e}"))?;
    let mut sc = SrsConfig::new(recorder_sip, recorder_sip.ip());
    sc.name = "embedded-srs".to_owned();
    sc.strict_input = true;
    sc.fault = fault;
    sc.rtp_port_base = srs_rtp.0 + srs_rtp.0 % 2;
    sc.rtp_port_count = u16::try_from(2 * capacity).unwrap_or(u16::MAX);
    sc.seed = drive::fresh_seed();
    let srs = SrsEmulator::new(sc, ctx).map_err(|e| anyhow::anyhow!("the SRS emulator: {e}"))?;
    let host = NodeHost::new(vec![Box::new(srs)], &[recorder_sip]);
    let target = RecorderTarget {
        recorder_sip,
        recorder_uri: format!("sip:srs@{recorder_sip}"),
        src_sip,
        src_rtp_base: rtp.0,
        dialects: vec![Dialect::Rfc7865, Dialect::BroadWorks],
        // The emulator's own account of what it recorded is in its observations, which a
        // service loop drops: its recordings are not read at load (SRS-12 is judged by
        // the recorder scenarios).
        judging: RecorderJudging {
            rules: RecorderRules {
                capacity: Some(capacity),
                ..RecorderRules::default()
            },
            recordings: None,
        },
    };
    let engines = engines(args, c, &target)?;
    let data = TargetData {
        mode: "recorder".into(),
        sut: Some(drive::recorder::recorder_name(fault)),
        media: true,
        fault: fault.map(|f| f.name().to_owned()),
    };
    Ok((data, engines, vec![Box::new(host)]))
}

/// Builds a run against the external recorder a recorder profile names.
pub(crate) fn build_external(
    args: &RunArgs,
    c: &Common,
    profile: &RecorderProfile,
) -> anyhow::Result<Built> {
    if args.fault.is_some() || args.variant.is_some() || args.mix.is_some() {
        bail!(
            "--fault, --variant and --mix are the embedded targets'; an external recorder is \
             what it is"
        );
    }
    let t = &profile.target;
    let mut src_sip = t.src_sip;
    if let Some(ip) = args.bind_ip {
        src_sip.set_ip(ip);
    }
    let dialects: Vec<Dialect> = profile
        .dialects
        .iter()
        .map(|d| {
            if d == "broadworks-compat" {
                Dialect::BroadWorks
            } else {
                Dialect::Rfc7865
            }
        })
        .collect();
    let recordings: Option<RecordingsReader> = profile.recordings.clone().map(|dir| {
        let read: RecordingsReader = Arc::new(move |obs: &[observe::Observation], label: &str| {
            let view = checks::CallView::new(obs, label);
            let sessions = checks::recorder::attempts(&view);
            let index = label
                .strip_prefix("call-")
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_default();
            let (caller, callee) = session_parties(index);
            let (read, problems) =
                suite::recordings::import(&dir, &sessions, &caller, &callee, label, None);
            let mut out = read;
            out.extend(problems.into_iter().map(|p| observe::Observation {
                t_us: obs.last().map_or(0, |o| o.t_us),
                call: Some(label.to_owned()),
                actor: observe::Actor::Harness,
                event: observe::Event::PlatformAction {
                    action: "harness".to_owned(),
                    detail: format!("recording not read: {p}"),
                },
            }));
            out
        });
        read
    });
    let target = RecorderTarget {
        recorder_sip: t.recorder_sip,
        recorder_uri: t
            .recorder_uri
            .clone()
            .unwrap_or_else(|| format!("sip:srs@{}", t.recorder_sip)),
        src_sip,
        src_rtp_base: t.src_rtp_port_base,
        dialects,
        judging: RecorderJudging {
            rules: profile.rules,
            recordings,
        },
    };
    let engines = engines(args, c, &target)?;
    let data = TargetData {
        mode: "recorder".into(),
        sut: Some(profile.name.clone()),
        media: true,
        fault: None,
    };
    Ok((data, engines, Vec::new()))
}

/// One session loop per event loop, each on its slice of the SRC ports.
fn engines(
    args: &RunArgs,
    c: &Common,
    t: &RecorderTarget,
) -> anyhow::Result<Vec<Box<dyn Engine + Send>>> {
    let slots = c.plan.concurrency.map_or(1, |l| c.share.limit_of(l));
    let sip_range = (
        t.src_sip.port(),
        u16::try_from(u32::from(t.src_sip.port()) + slots + 2 * c.loops).with_context(|| {
            format!(
                "the SRC SIP ports from {} run past 65535 for {slots} sessions at once",
                t.src_sip
            )
        })?,
    );
    let rtp_range = (
        t.src_rtp_base,
        u16::try_from(u32::from(t.src_rtp_base) + 4 * slots + 4 * c.loops).with_context(|| {
            format!(
                "the SRC RTP ports from {} run past 65535 for {slots} sessions at once",
                t.src_rtp_base
            )
        })?,
    );
    let modem = Arc::new(
        media::signal::Modem::new(&media::signal::SignalConfig::default())
            .context("instrumented signal")?,
    );
    let epoch = jiff::Timestamp::now();
    let sip_seed = drive::fresh_seed();
    let mut out: Vec<Box<dyn Engine + Send>> = Vec::new();
    for (k, share) in c.share.split(c.loops).into_iter().enumerate() {
        let k = k as u32;
        let plan = load::LoadPlan {
            share,
            ..c.plan.clone()
        };
        let cfg = SessionsConfig {
            plan,
            hold: c.hold,
            seed: args.seed,
            sip_seed: sip_seed.wrapping_add(u64::from(k) << 40),
            recorder_sip: t.recorder_sip,
            recorder_uri: t.recorder_uri.clone(),
            dialects: t.dialects.clone(),
            src_ip: t.src_sip.ip(),
            sip_ports: port_slice(sip_range, k, c.loops),
            rtp_ports: port_slice(rtp_range, k, c.loops),
            judging: t.judging.clone(),
            epoch,
            capture: args.captures(),
        };
        let engine = SessionsEngine::new(cfg, modem.clone(), sip::time::Time::ZERO)?;
        out.push(Box::new(engine));
    }
    Ok(out)
}
