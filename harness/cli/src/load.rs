//! `recproof load`: the traffic simulator's command line. Parses SIPp-style flags, runs
//! the load engine on one event loop, and writes the run directory: `calls.jsonl` (one
//! judged call per line, streamed), `stats.csv` (one row per interval), `results.json`
//! and `junit.xml` (thresholds as test cases). The engine judges; this module only
//! writes what it was handed and maps thresholds to the exit code.

use anyhow::{Context, bail};
use clap::Args;
use load::direct::{DirectConfig, DirectEngine};
use load::driver::{Interval, RunSink, RunTotals, StopFlag};
use load::record::{CallRecord, LegRules};
use load::stats::Figures;
use load::{Hold, LoadPlan};
use media::signal::{Modem, SignalConfig};
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `recproof load`.
#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// Caller to callee with no platform in between (the baseline against SIPp uac/uas).
    /// Required for now: the embedded-platform and `--sut` targets are not built yet.
    #[arg(long)]
    direct: bool,
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
    /// Caller-side SIP address.
    #[arg(long, default_value = "127.0.0.1:15060")]
    caller_sip: String,
    /// Callee-side SIP address.
    #[arg(long, default_value = "127.0.0.1:15062")]
    callee_sip: String,
    /// RTP port range FIRST-LAST for both parties' pools (even ports are used).
    #[arg(long, default_value = "20000-60000")]
    rtp_ports: String,
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
    /// Seconds between rows of stats.csv and updates of the live status.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Run directory (default reports/load-<timestamp>/).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs `recproof load`.
pub(crate) fn run(args: &LoadArgs) -> anyhow::Result<ExitCode> {
    if !args.direct {
        bail!(
            "only `recproof load --direct` is built so far (caller to callee, no platform); \
             give --direct"
        );
    }
    let hold: Hold = args
        .hold
        .parse()
        .with_context(|| format!("--hold {}", args.hold))?;
    let (lo, hi) = args
        .rtp_ports
        .split_once('-')
        .and_then(|(a, b)| Some((a.parse::<u16>().ok()?, b.parse::<u16>().ok()?)))
        .filter(|(a, b)| a < b)
        .with_context(|| {
            format!(
                "--rtp-ports {}: give FIRST-LAST, e.g. 20000-60000",
                args.rtp_ports
            )
        })?;
    let caller_sip = args
        .caller_sip
        .parse()
        .context("--caller-sip: give IP:PORT")?;
    let callee_sip: std::net::SocketAddr = args
        .callee_sip
        .parse()
        .context("--callee-sip: give IP:PORT")?;
    if !(0.0..=1.0).contains(&args.max_frame_loss) || !(0.0..=1.0).contains(&args.max_failed_ratio)
    {
        bail!("--max-frame-loss and --max-failed-ratio are fractions between 0 and 1");
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
    let slots = args
        .concurrency
        .unwrap_or_else(|| ((args.rate * (mean_hold + 2.0) * 1.5).ceil() as u32).clamp(1, 100_000));
    let plan = LoadPlan {
        rate_cps: args.rate,
        ramp: Duration::try_from_secs_f64(args.ramp).context("--ramp: give seconds")?,
        concurrency: Some(slots),
        calls: args.calls,
        duration: args
            .duration
            .map(Duration::try_from_secs_f64)
            .transpose()
            .context("--duration: give seconds")?,
    };
    let cfg = DirectConfig {
        plan,
        hold,
        seed: args.seed,
        media: !args.no_media,
        caller_sip,
        callee_sip,
        rtp_ip: callee_sip.ip(),
        rtp_ports: (lo, hi),
        slots,
        rules: LegRules {
            max_frame_loss: args.max_frame_loss,
        },
    };
    let modem = Arc::new(Modem::new(&SignalConfig::default()).context("instrumented signal")?);
    let origin = Instant::now();
    let mut engine = DirectEngine::new(cfg, modem, sip::time::Time::ZERO)?;
    let out = match &args.out {
        Some(p) => p.clone(),
        None => PathBuf::from("reports").join(format!(
            "load-{}",
            jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ")
        )),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let stop = StopFlag::default();
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.press()).context("installing the Ctrl-C handler")?;
    }
    let mut sink = FileSink::new(&out, args.rate)?;
    eprintln!(
        "recproof load --direct: {} calls/s, up to {slots} at once, hold {}, {}; writing {}",
        args.rate,
        args.hold,
        if args.no_media {
            "no media"
        } else {
            "media both ways, every frame decoded"
        },
        out.display()
    );
    let totals = load::driver::run(
        &mut engine,
        origin,
        Duration::from_secs_f64(args.interval),
        &stop,
        &mut sink,
    )?;
    sink.finish()?;
    let total = engine.stats().total.clone();
    let outcome = write_results(args, &out, &total, &totals, slots, engine.stray())?;
    eprintln!("{}", outcome.summary);
    Ok(if outcome.passed {
        crate::exit::OK
    } else {
        crate::exit::FAILED
    })
}

struct FileSink {
    calls: BufWriter<File>,
    csv: BufWriter<File>,
    bar: indicatif::ProgressBar,
    target_rate: f64,
    completed: u64,
    failed: u64,
}

impl FileSink {
    fn new(out: &std::path::Path, target_rate: f64) -> anyhow::Result<Self> {
        let open = |name: &str| -> anyhow::Result<BufWriter<File>> {
            let p = out.join(name);
            Ok(BufWriter::new(
                File::create(&p).with_context(|| format!("creating {}", p.display()))?,
            ))
        };
        let mut csv = open("stats.csv")?;
        writeln!(
            csv,
            "elapsed_s,started,ended,passed,failed,active,achieved_cps,setup_p50_ms,setup_p99_ms,\
             m2e_p50_ms,m2e_p99_ms,send_late_p50_ms,send_late_p99_ms,send_late_max_ms,\
             rtp_sent,rtp_received,receive_drops,send_errors,cpu_share"
        )?;
        let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            indicatif::ProgressBar::new_spinner()
        } else {
            indicatif::ProgressBar::hidden()
        };
        Ok(Self {
            calls: open("calls.jsonl")?,
            csv,
            bar,
            target_rate,
            completed: 0,
            failed: 0,
        })
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        self.bar.finish_and_clear();
        self.calls.flush()?;
        self.csv.flush()?;
        Ok(())
    }
}

fn q(h: &hdrhistogram::Histogram<u64>, quantile: f64) -> String {
    if h.is_empty() {
        String::new()
    } else {
        format!("{:.3}", h.value_at_quantile(quantile) as f64 / 1000.0)
    }
}

impl RunSink for FileSink {
    fn record(&mut self, record: &CallRecord) {
        if record.passed() {
            self.completed += 1;
        } else {
            self.failed += 1;
        }
        // A write error surfaces at `finish` (BufWriter keeps it); the run goes on.
        let _ = serde_json::to_writer(&mut self.calls, record);
        let _ = self.calls.write_all(b"\n");
    }

    fn interval(&mut self, i: &Interval<'_>) {
        let f = i.figures;
        let cps = f.started as f64 / i.length.as_secs_f64().max(1e-6);
        let _ = writeln!(
            self.csv,
            "{:.3},{},{},{},{},{},{:.1},{},{},{},{},{},{},{},{},{},{},{},{:.3}",
            i.at.as_secs_f64(),
            f.started,
            f.ended,
            f.passed,
            f.failed(),
            i.active,
            cps,
            q(&f.setup_us, 0.5),
            q(&f.setup_us, 0.99),
            q(&f.mouth_to_ear_us, 0.5),
            q(&f.mouth_to_ear_us, 0.99),
            q(&f.send_lateness_us, 0.5),
            q(&f.send_lateness_us, 0.99),
            q(&f.send_lateness_us, 1.0),
            f.rtp_sent,
            f.rtp_received,
            i.health.receive_drops,
            f.send_errors,
            i.health.cpu_share,
        );
        let classes: Vec<String> = f
            .failed_by_class
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        self.bar.set_message(format!(
            "{:>6.1}s  rate {cps:.1}/{:.1} cps  open {}  passed {}  failed {}{}  setup p99 {} ms  \
             late p99 {} ms  drops {}  cpu {:.0}%",
            i.at.as_secs_f64(),
            self.target_rate,
            i.active,
            self.completed,
            self.failed,
            if classes.is_empty() {
                String::new()
            } else {
                format!(" ({})", classes.join(", "))
            },
            q(&f.setup_us, 0.99),
            q(&f.send_lateness_us, 0.99),
            i.health.receive_drops,
            i.health.cpu_share * 100.0
        ));
        self.bar.tick();
    }
}

#[derive(Serialize)]
struct Threshold {
    name: String,
    limit: f64,
    observed: Option<f64>,
    passed: bool,
}

struct Outcome {
    passed: bool,
    summary: String,
}

fn write_results(
    args: &LoadArgs,
    out: &std::path::Path,
    f: &Figures,
    totals: &RunTotals,
    slots: u32,
    stray: u64,
) -> anyhow::Result<Outcome> {
    let ended = f.ended.max(1) as f64;
    let failed_ratio = f.failed() as f64 / ended;
    let mut thresholds = vec![Threshold {
        name: "failed call ratio".into(),
        limit: args.max_failed_ratio,
        observed: Some(failed_ratio),
        passed: f.ended > 0 && failed_ratio <= args.max_failed_ratio,
    }];
    let p99 = |h: &hdrhistogram::Histogram<u64>| {
        (!h.is_empty()).then(|| h.value_at_quantile(0.99) as f64 / 1000.0)
    };
    for (name, limit, h) in [
        ("setup time p99 (ms)", args.max_setup_p99_ms, &f.setup_us),
        (
            "mouth-to-ear p99 (ms)",
            args.max_mouth_to_ear_p99_ms,
            &f.mouth_to_ear_us,
        ),
    ] {
        if let Some(limit) = limit {
            let observed = p99(h);
            // No value observed is not a pass: the threshold could not be judged.
            thresholds.push(Threshold {
                name: name.into(),
                limit,
                observed,
                passed: observed.is_some_and(|o| o <= limit),
            });
        }
    }
    let cpu_per_call_second = {
        let call_seconds: f64 = f.ended as f64
            * args
                .hold
                .parse::<Hold>()
                .map_or(0.0, |h| h.mean().as_secs_f64());
        (call_seconds > 0.0).then(|| totals.cpu.as_secs_f64() / call_seconds)
    };
    let results = serde_json::json!({
        "mode": "direct",
        "media": !args.no_media,
        "target_rate_cps": args.rate,
        "slots": slots,
        "started": f.started,
        "answered": f.answered,
        "ended": f.ended,
        "passed": f.passed,
        "failed": f.failed(),
        "failed_by_class": f.failed_by_class,
        "failed_checks": f.failed_checks,
        "stray_messages": stray,
        "setup": Figures::summary(&f.setup_us),
        "mouth_to_ear": Figures::summary(&f.mouth_to_ear_us),
        "send_lateness": Figures::summary(&f.send_lateness_us),
        "start_lateness": Figures::summary(&f.start_lateness_us),
        "rtp_sent": f.rtp_sent,
        "rtp_received": f.rtp_received,
        "send_errors": f.send_errors,
        "harness": {
            "elapsed_s": totals.elapsed.as_secs_f64(),
            "event_loop_cpu_s": totals.cpu.as_secs_f64(),
            "cpu_s_per_call_second": cpu_per_call_second,
            "receive_drops": totals.drops_readable.then_some(totals.receive_drops),
            "max_rss_bytes": totals.max_rss_bytes,
            "interrupted": totals.interrupted,
        },
        "thresholds": thresholds,
    });
    let path = out.join("results.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&results)?)
        .with_context(|| format!("writing {}", path.display()))?;
    let passed = thresholds.iter().all(|t| t.passed);
    let mut junit = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failures = thresholds.iter().filter(|t| !t.passed).count();
    junit.push_str(&format!(
        "<testsuites><testsuite name=\"recproof load\" tests=\"{}\" failures=\"{failures}\">\n",
        thresholds.len()
    ));
    for t in &thresholds {
        let observed = t
            .observed
            .map_or("nothing observed".to_owned(), |o| format!("{o:.4}"));
        junit.push_str(&format!(
            "  <testcase classname=\"load.thresholds\" name=\"{}\">",
            xml_escape(&t.name)
        ));
        if !t.passed {
            junit.push_str(&format!(
                "<failure message=\"observed {} against a limit of {}\"/>",
                xml_escape(&observed),
                t.limit
            ));
        }
        junit.push_str("</testcase>\n");
    }
    junit.push_str("</testsuite></testsuites>\n");
    std::fs::write(out.join("junit.xml"), junit).context("writing junit.xml")?;
    let summary = format!(
        "{} started, {} passed, {} failed {:?}; setup p99 {} ms; mouth-to-ear p99 {} ms; send \
         lateness p99 {} ms; receive drops {}; event loop CPU {:.1} s over {:.1} s; {}",
        f.started,
        f.passed,
        f.failed(),
        f.failed_by_class,
        q(&f.setup_us, 0.99),
        q(&f.mouth_to_ear_us, 0.99),
        q(&f.send_lateness_us, 0.99),
        if totals.drops_readable {
            totals.receive_drops.to_string()
        } else {
            "unreadable".into()
        },
        totals.cpu.as_secs_f64(),
        totals.elapsed.as_secs_f64(),
        if passed {
            "every threshold met"
        } else {
            "a threshold failed (see junit.xml)"
        }
    );
    Ok(Outcome { passed, summary })
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
