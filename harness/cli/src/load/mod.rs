//! `recproof load`: the traffic simulator's command line. Parses SIPp-style flags, builds
//! one engine per event loop (each a share of the run), runs them with the load driver,
//! and writes the run directory ([`output`]). `recproof load merge` adds shards' run
//! directories up ([`merge`]). The engines judge; this module only wires and writes.

mod embedded;
mod merge;
mod output;
mod recorder;
mod sut;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use load::direct::{DirectConfig, DirectEngine};
use load::driver::StopFlag;
use load::engine::Engine;
use load::record::LegRules;
use load::results::{PlanData, TargetData, Thresholds};
use load::{Hold, LoadPlan, Share};
use media::signal::{Modem, SignalConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `recproof load`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct LoadArgs {
    #[command(subcommand)]
    command: Option<LoadCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum LoadCommand {
    /// Merge the run directories of a sharded run (`--shard i/n`) into one: counts
    /// summed, histograms merged losslessly, thresholds judged again.
    Merge(merge::MergeArgs),
}

/// The flags of a load run.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Caller to callee with no platform in between (the baseline against SIPp uac/uas).
    #[arg(long, conflicts_with = "sut")]
    direct: bool,
    /// Load an external platform described by this SUT profile (the harness plays the
    /// callers, callees and recorders the profile names), or, with a recorder profile
    /// (`role: recorder`), an external recorder (the harness plays the platform, placing
    /// recording sessions); default: the embedded reference platform on loopback.
    #[arg(long, value_name = "PROFILE.yaml")]
    sut: Option<PathBuf>,
    /// Load a recorder instead of a platform: recording sessions placed at the embedded
    /// SRS emulator (with --fault srs-…, one of its recorder faults), each judged by the
    /// recorder checks. With --sut RECORDER.yaml the recorder is the profile's.
    #[arg(long, conflicts_with = "direct")]
    recorder: bool,
    /// Calls started per second (SIPp -r).
    #[arg(short = 'r', long, default_value_t = 10.0)]
    rate: f64,
    /// Most calls open at once (SIPp -l); default: rate x (mean hold + 2 s) x 1.5.
    #[arg(short = 'l', long)]
    concurrency: Option<u32>,
    /// Calls to place in all (SIPp -m).
    #[arg(short = 'm', long)]
    calls: Option<u64>,
    /// Start no call after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Seconds over which the rate climbs from 0 to --rate.
    #[arg(long, default_value_t = 0.0)]
    ramp: f64,
    /// Call length after the answer: seconds, or uniform:A-B, exp:MEAN, normal:MEAN,SD.
    /// With media, calls are held at least 1 s.
    #[arg(long, default_value = "20")]
    hold: String,
    /// Signalling only: no RTP (the SDP offers an inactive stream).
    #[arg(long)]
    no_media: bool,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// This process runs share INDEX of COUNT of the run (e.g. 0/4): its own calls, port
    /// range and Call-ID space; `recproof load merge` adds the shards' run directories up.
    #[arg(long, default_value = "0/1", conflicts_with = "shards")]
    shard: String,
    /// This process is one of COUNT shards and takes its index from the environment
    /// variable JOB_COMPLETION_INDEX (a Kubernetes Indexed Job sets it); its run
    /// directory is `--out`/shard-INDEX-of-COUNT, so every pod can share one volume.
    #[arg(long, value_name = "COUNT")]
    shards: Option<u32>,
    /// Event loops (threads) in this process, each running its share of the calls;
    /// default: one per core.
    #[arg(long)]
    threads: Option<u32>,
    /// Caller-side SIP address (loop k uses the port + 4k).
    #[arg(long, default_value = "127.0.0.1:15060")]
    caller_sip: String,
    /// Callee-side SIP address (loop k uses the port + 4k).
    #[arg(long, default_value = "127.0.0.1:15062")]
    callee_sip: String,
    /// With --recorder: the first SIP address of the harness SRCs (one port per session
    /// at once, counting up; each event loop takes its slice). A recorder profile gives
    /// its own (`harness.src.sip`).
    #[arg(long, default_value = "127.0.0.1:16000")]
    src_sip: String,
    /// RTP port range FIRST-LAST of the harness's phones (even ports are used); a shard
    /// takes its slice of it, and each loop a slice of that. Default 20000-60000 with
    /// --direct, else 20000-32000.
    #[arg(long)]
    rtp_ports: Option<String>,
    /// With --sut: bind the harness's phones and recorders on this IP instead of the
    /// profile's (keeping its ports): a pod's own address on Kubernetes.
    #[arg(long, value_name = "IP")]
    bind_ip: Option<std::net::IpAddr>,
    /// Where the embedded platform takes calls (SIP).
    #[arg(long, default_value = "127.0.0.1:15070")]
    platform_sip: String,
    /// The first recorder's SIP address (a recorder per provider, 2 ports apart).
    #[arg(long, default_value = "127.0.0.1:15080")]
    recorder_sip: String,
    /// RTP port range of the harness's recorders (the platform records to them).
    #[arg(long, default_value = "32000-44000")]
    srs_rtp_ports: String,
    /// RTP port range of the embedded platform (two legs and two recorded streams per
    /// call).
    #[arg(long, default_value = "44000-64000")]
    platform_rtp_ports: String,
    /// The call mix: a YAML file of weighted call kinds (recording settings of the person
    /// called, answer, keys after answer); default: every call recorded Always with the
    /// start announcement and a reminder tone every 10 s.
    #[arg(long, value_name = "FILE")]
    mix: Option<PathBuf>,
    /// Run the embedded platform with this fault profile (each breaks one requirement;
    /// `recproof platform --list-faults`).
    #[arg(long, value_name = "NAME")]
    fault: Option<String>,
    /// Run the embedded platform with this legal variant (`recproof platform
    /// --list-variants`).
    #[arg(long, value_name = "NAME")]
    variant: Option<String>,
    /// Highest fraction of a leg's frames that may go unheard before the leg fails.
    #[arg(long, default_value_t = 0.0)]
    max_frame_loss: f64,
    /// Threshold: highest fraction of failed calls (0 = any failed call fails the run).
    #[arg(long, default_value_t = 0.0)]
    max_failed_ratio: f64,
    /// Threshold: highest p99 setup time (INVITE to 2xx), ms.
    #[arg(long)]
    max_setup_p99_ms: Option<f64>,
    /// Threshold: highest p99 mouth-to-ear latency, ms.
    #[arg(long)]
    max_mouth_to_ear_p99_ms: Option<f64>,
    /// Threshold: highest p99 party-to-recorder latency, ms.
    #[arg(long)]
    max_party_to_recorder_p99_ms: Option<f64>,
    /// Threshold: highest p99 answer-to-media time, ms.
    #[arg(long)]
    max_answer_to_media_p99_ms: Option<f64>,
    /// Threshold: lowest fraction of to-be-recorded calls whose recording passed.
    #[arg(long)]
    min_recorded_ratio: Option<f64>,
    /// Seconds between rows of stats.csv and updates of the live status.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// A CSV file: one row every second (as --interval) with the live figures.
    #[arg(long)]
    stats_csv: Option<PathBuf>,
    /// Which calls keep their evidence under evidence/call-N/ (through a platform: the
    /// call's whole observation log, judgeable again with `recproof judge`, its pcap and
    /// a WAV per RTP stream): failed, sample:N (failed calls and every N-th), all or none.
    #[arg(long, default_value = "failed")]
    evidence: String,
    /// Do not spool the calls' packets. By default, through a platform, every call's
    /// packets (SIP and RTP of its phones and recorders) are spooled to disk as a pcap
    /// while it runs; a call that keeps its evidence (--evidence) keeps it as
    /// evidence/call-N/call.pcap with a WAV file per RTP stream, the others' are deleted
    /// when they end. Spooling costs a disk write per packet (about 14 % more call-loop
    /// CPU); capacity runs may turn it off.
    #[arg(long)]
    no_capture: bool,
    /// Run directory (default reports/load-<timestamp>/).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs `recproof load` or `recproof load merge`.
pub(crate) fn run(args: &LoadArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        Some(LoadCommand::Merge(m)) => merge::run(m),
        None => run_load(&args.run),
    }
}

/// The environment variable `--shards` reads the shard index from (what a Kubernetes
/// Indexed Job sets in every pod).
pub(crate) const SHARD_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

impl RunArgs {
    /// Whether the calls' packets are spooled for their evidence: by default, unless
    /// --no-capture or --evidence none.
    fn captures(&self) -> bool {
        !self.no_capture && self.evidence != "none"
    }
}

/// The flags every target shares, checked.
pub(crate) struct Common {
    hold: Hold,
    plan: LoadPlan,
    share: Share,
    loops: u32,
    thresholds: Thresholds,
    interval: Duration,
    out: PathBuf,
}

fn parse_port_range(text: &str) -> anyhow::Result<(u16, u16)> {
    text.split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?)))
        .filter(|(a, b)| a < b)
        .with_context(|| format!("--rtp-ports {text}: give FIRST-LAST, e.g. 20000-60000"))
}

fn common(args: &RunArgs) -> anyhow::Result<Common> {
    let hold: Hold = args
        .hold
        .parse()
        .with_context(|| format!("--hold {}", args.hold))?;
    let share: Share = match args.shards {
        None => args.shard.parse()?,
        Some(count) => {
            let var = std::env::var(SHARD_INDEX_ENV).with_context(|| {
                format!(
                    "--shards {count}: the shard index is read from {SHARD_INDEX_ENV}, which is \
                     not set (a Kubernetes Indexed Job sets it; elsewhere give --shard INDEX/COUNT)"
                )
            })?;
            let index: u32 = var.trim().parse().with_context(|| {
                format!("{SHARD_INDEX_ENV}={var}: not a shard index (0, 1, 2...)")
            })?;
            Share::new(index, count).with_context(|| {
                format!("{SHARD_INDEX_ENV}={index} is not below --shards {count}")
            })?
        }
    };
    for (name, v) in [
        ("--max-frame-loss", args.max_frame_loss),
        ("--max-failed-ratio", args.max_failed_ratio),
        (
            "--min-recorded-ratio",
            args.min_recorded_ratio.unwrap_or(1.0),
        ),
    ] {
        if !(0.0..=1.0).contains(&v) {
            bail!("{name} {v}: give a fraction between 0 and 1");
        }
    }
    if !(args.interval > 0.0 && args.interval <= 60.0) {
        bail!(
            "--interval {}: give seconds between 0 and 60",
            args.interval
        );
    }
    let mean_hold = hold
        .mean()
        .as_secs_f64()
        .max(if args.no_media { 0.0 } else { 1.0 });
    let concurrency = args
        .concurrency
        .unwrap_or_else(|| ((args.rate * (mean_hold + 2.0) * 1.5).ceil() as u32).clamp(1, 100_000));
    let loops = match args.threads {
        Some(0) => bail!("--threads 0: give at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
    }
    // Never more loops than calls a loop could hold.
    .min(concurrency.max(1));
    let plan = LoadPlan {
        rate_cps: args.rate,
        ramp: Duration::try_from_secs_f64(args.ramp).context("--ramp: give seconds")?,
        concurrency: Some(concurrency),
        calls: args.calls,
        duration: args
            .duration
            .map(Duration::try_from_secs_f64)
            .transpose()
            .context("--duration: give seconds")?,
        share,
    };
    // The whole plan is checked once here, so a bad flag is reported before any socket.
    load::CallSchedule::new(plan.clone(), sip::time::Time::ZERO)?;
    let out = match &args.out {
        Some(p) if args.shards.is_some() => {
            p.join(format!("shard-{}-of-{}", share.index, share.count))
        }
        Some(p) => p.clone(),
        None => PathBuf::from("reports").join(format!(
            "load-{}{}",
            jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ"),
            if share.count > 1 {
                format!("-shard{}of{}", share.index, share.count)
            } else {
                String::new()
            }
        )),
    };
    Ok(Common {
        hold,
        plan,
        share,
        loops,
        thresholds: Thresholds {
            max_failed_ratio: args.max_failed_ratio,
            max_setup_p99_ms: args.max_setup_p99_ms,
            max_mouth_to_ear_p99_ms: args.max_mouth_to_ear_p99_ms,
            max_party_to_recorder_p99_ms: args.max_party_to_recorder_p99_ms,
            max_answer_to_media_p99_ms: args.max_answer_to_media_p99_ms,
            min_recorded_ratio: args.min_recorded_ratio,
        },
        interval: Duration::from_secs_f64(args.interval),
        out,
    })
}

/// `addr` with its port moved up by `by`.
fn port_plus(addr: SocketAddr, by: u32, flag: &str) -> anyhow::Result<SocketAddr> {
    let port = u32::from(addr.port()) + by;
    let port = u16::try_from(port)
        .ok()
        .with_context(|| format!("{flag} {addr}: loop ports past 65535; give a lower port"))?;
    Ok(SocketAddr::new(addr.ip(), port))
}

/// The `k`-th of `n` equal slices of the port range `lo..hi`, aligned to even ports.
fn port_slice((lo, hi): (u16, u16), k: u32, n: u32) -> (u16, u16) {
    let len = u32::from(hi - lo);
    let piece = len / n.max(1);
    let a = u32::from(lo) + k * piece;
    let a = a + a % 2;
    let b = u32::from(lo) + (k + 1) * piece;
    (a.min(65_535) as u16, b.min(65_535) as u16)
}

fn run_load(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let mut c = common(args)?;
    if !args.direct {
        if args.no_media {
            bail!(
                "--no-media is for --direct runs: a call through a platform is judged on its \
                 recording, which needs media"
            );
        }
        let mix = match &args.mix {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading the mix {}", p.display()))?;
                load::mix::Mix::parse(&text, &p.display().to_string())?
            }
            None => load::mix::Mix::default_mix(),
        };
        let recorder_profile = args
            .sut
            .as_deref()
            .filter(|p| suite::recorder_profile::is_recorder_profile(p));
        if args.recorder || recorder_profile.is_some() {
            let (target, engines, services) = match recorder_profile {
                Some(path) => {
                    let profile =
                        suite::recorder_profile::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
                    recorder::build_external(args, &c, &profile)?
                }
                None if args.sut.is_some() => bail!(
                    "--recorder with --sut needs a recorder profile (`role: recorder`); {} is a                      platform profile",
                    args.sut
                        .as_deref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ),
                None => recorder::build_embedded(args, &c)?,
            };
            return run_engines(args, &c, target, engines, services, None);
        }
        let (target, engines, services) = match &args.sut {
            Some(path) => {
                let profile = suite::profile::load(path)?;
                if args.concurrency.is_none() {
                    // Without -l, no more calls open at once than the SUT has users.
                    let users = u32::try_from(profile.load.users.len()).unwrap_or(u32::MAX);
                    c.plan.concurrency = c.plan.concurrency.map(|l| l.min(users.max(1)));
                }
                sut::build(args, &c, &profile, args.mix.as_ref().map(|_| &mix))?
            }
            None => embedded::build(args, &c, &mix)?,
        };
        let origin = Some(mix.origin.clone());
        return run_engines(args, &c, target, engines, services, origin);
    }
    if args.fault.is_some() || args.variant.is_some() || args.mix.is_some() {
        bail!("--fault, --variant and --mix are for runs through a platform, not --direct");
    }
    let rtp_range = parse_port_range(args.rtp_ports.as_deref().unwrap_or("20000-60000"))?;
    let caller_sip: SocketAddr = args
        .caller_sip
        .parse()
        .context("--caller-sip: give IP:PORT")?;
    let callee_sip: SocketAddr = args
        .callee_sip
        .parse()
        .context("--callee-sip: give IP:PORT")?;
    let modem = Arc::new(Modem::new(&SignalConfig::default()).context("instrumented signal")?);
    let shard_range = port_slice(rtp_range, c.share.index, c.share.count);
    if !args.no_media {
        // One RTP port per party per open call, every second port: checked for the whole
        // shard before it is cut up per loop, so the message speaks of the flags given.
        let open = c.plan.concurrency.map_or(1, |l| c.share.limit_of(l));
        let need = open * 2 + 2 * c.loops;
        let have = u32::from(shard_range.1 - shard_range.0) / 2;
        if have < need {
            bail!(
                "--rtp-ports {} gives this shard {have} RTP ports (every 2nd port of its \
                 slice), but {open} concurrent calls with media need {} (one per party per \
                 call) plus slack for {} event loop(s): widen the range or lower \
                 --concurrency",
                args.rtp_ports.as_deref().unwrap_or("20000-60000"),
                open * 2,
                c.loops
            );
        }
    }
    let mut engines: Vec<Box<dyn Engine + Send>> = Vec::new();
    for (k, share) in c.share.split(c.loops).into_iter().enumerate() {
        let k = k as u32;
        let plan = LoadPlan {
            share,
            ..c.plan.clone()
        };
        let slots = plan.concurrency.map(|l| share.limit_of(l)).unwrap_or(1);
        let cfg = DirectConfig {
            plan,
            hold: c.hold,
            seed: args.seed,
            media: !args.no_media,
            caller_sip: port_plus(caller_sip, 4 * k, "--caller-sip")?,
            callee_sip: port_plus(callee_sip, 4 * k, "--callee-sip")?,
            rtp_ip: callee_sip.ip(),
            rtp_ports: port_slice(shard_range, k, c.loops),
            slots,
            rules: LegRules {
                max_frame_loss: args.max_frame_loss,
            },
        };
        let engine = DirectEngine::new(cfg, modem.clone(), sip::time::Time::ZERO).map_err(|e| {
            anyhow::anyhow!(
                "{e}{}",
                if c.loops > 1 || c.share.count > 1 {
                    format!(
                        " (the range is split over {} shard(s) x {} event loop(s))",
                        c.share.count, c.loops
                    )
                } else {
                    String::new()
                }
            )
        })?;
        engines.push(Box::new(engine));
    }
    let target = TargetData {
        mode: "direct".into(),
        sut: None,
        media: !args.no_media,
        fault: None,
    };
    run_engines(args, &c, target, engines, Vec::new(), None)
}

/// Runs the engines (and services) with Ctrl-C handling and the output sink; writes the
/// results and maps the thresholds to the exit code.
fn run_engines(
    args: &RunArgs,
    c: &Common,
    target: TargetData,
    engines: Vec<Box<dyn Engine + Send>>,
    services: Vec<Box<dyn Engine + Send>>,
    mix: Option<String>,
) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&c.out).with_context(|| format!("creating {}", c.out.display()))?;
    let stop = StopFlag::default();
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.press()).context("installing the Ctrl-C handler")?;
    }
    let plan = PlanData {
        rate_cps: c.plan.rate_cps,
        concurrency: c.plan.concurrency,
        calls: c.plan.calls,
        duration_s: c.plan.duration.map(|d| d.as_secs_f64()),
        ramp_s: c.plan.ramp.as_secs_f64(),
        hold: args.hold.clone(),
        seed: args.seed,
        shards: vec![c.share.to_string()],
        loops: engines.len() as u32,
        mix,
    };
    let evidence: output::Evidence = args.evidence.parse().map_err(anyhow::Error::msg)?;
    let run_started = observe::Observation::run_started(
        args.seed,
        target.sut.clone().unwrap_or_else(|| target.mode.clone()),
        observe::Clock::Real,
    );
    let mut sink = output::FileSink::new(
        &c.out,
        args.rate,
        args.stats_csv.as_deref(),
        evidence,
        run_started,
    )?;
    eprintln!(
        "recproof load ({}): {} calls/s, up to {} at once, hold {}, {}; shard {}, {} event \
         loop(s); writing {}",
        target.mode,
        args.rate,
        c.plan.concurrency.unwrap_or(0),
        args.hold,
        if args.no_media {
            "no media"
        } else {
            "media both ways, every frame decoded"
        },
        c.share,
        engines.len(),
        c.out.display()
    );
    let started_at = jiff::Timestamp::now().to_string();
    let origin = Instant::now();
    // --direct calls are not captured: only the recorded engine spools packets.
    let spool = (args.captures() && !args.direct).then(|| c.out.join(".spool"));
    if let Some(dir) = &spool {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let totals = load::driver::run(
        engines,
        services,
        origin,
        c.interval,
        &stop,
        spool.as_deref(),
        &mut sink,
    )?;
    if let Some(dir) = &spool {
        // Empty unless the run was cut short; what is left there belonged to no record.
        let _ = std::fs::remove_dir_all(dir);
    }
    let (intervals, kept) = sink.finish()?;
    let results = output::results(
        target,
        plan,
        started_at,
        &totals,
        &intervals,
        c.hold.mean().as_secs_f64(),
        c.thresholds.clone(),
    );
    output::write_results(&c.out, &results)?;
    let report = report::render_load(&c.out).context("rendering the load report")?;
    eprintln!("{}", output::summary(&results));
    eprintln!("report: {}", report.index.display());
    if kept > 0 {
        eprintln!(
            "evidence of {kept} call(s) kept under {} (judge one again with `recproof judge \
             DIR/evidence/call-N`)",
            c.out.join("evidence").display()
        );
    }
    Ok(if results.passed() {
        crate::exit::OK
    } else {
        crate::exit::FAILED
    })
}
