//! What a load run writes: `calls.jsonl` (one judged call per line, as calls end),
//! `intervals.jsonl` (each interval's figures with its histograms, for plots and merges),
//! `stats.csv` (the same intervals as a table, and `--stats-csv`), `results.json` (the
//! typed [`LoadResults`]), `junit.xml`, and the live status line on a terminal. It writes
//! what the engines and the driver counted; it judges nothing.

use anyhow::Context;
use load::driver::{Interval, RunSink, RunTotals};
use load::engine::Finished;
use load::record::CallRecord;
use load::results::{
    FiguresData, HarnessData, HealthData, HealthVerdict, IntervalRecord, LOAD_SCHEMA, LoadResults,
    LoopData, PlanData, TargetData, Thresholds,
};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The header of `stats.csv`.
const CSV_HEADER: &str = "elapsed_s,started,ended,passed,failed,active,achieved_cps,setup_p50_ms,\
    setup_p99_ms,m2e_p50_ms,m2e_p99_ms,p2r_p50_ms,p2r_p99_ms,send_late_p50_ms,send_late_p99_ms,\
    send_late_max_ms,rtp_sent,rtp_received,receive_drops,send_errors,cpu_share,service_cpu_share";

/// Which calls keep their evidence (`--evidence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Evidence {
    /// None.
    None,
    /// Every failed call.
    Failed,
    /// Every failed call and every N-th call.
    Sample(u64),
    /// Every call.
    All,
}

impl std::str::FromStr for Evidence {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Self::None),
            "failed" => Ok(Self::Failed),
            "all" => Ok(Self::All),
            _ => s
                .strip_prefix("sample:")
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|n| *n > 0)
                .map(Self::Sample)
                .ok_or_else(|| {
                    format!("--evidence {s}: give failed, sample:N (N >= 1), all or none")
                }),
        }
    }
}

impl Evidence {
    fn keeps(self, rec: &CallRecord) -> bool {
        match self {
            Self::None => false,
            Self::Failed => !rec.passed(),
            Self::Sample(n) => !rec.passed() || rec.index.is_multiple_of(n),
            Self::All => true,
        }
    }
}

/// The sink of a run: files and the live status.
pub(crate) struct FileSink {
    out: PathBuf,
    evidence: Evidence,
    run_started: observe::Observation,
    kept: u64,
    calls: BufWriter<File>,
    intervals_file: BufWriter<File>,
    csv: Vec<BufWriter<File>>,
    bar: indicatif::ProgressBar,
    target_rate: f64,
    completed: u64,
    failed: u64,
    intervals: Vec<IntervalRecord>,
    error: Option<std::io::Error>,
}

fn create(path: &Path) -> anyhow::Result<BufWriter<File>> {
    Ok(BufWriter::new(
        File::create(path).with_context(|| format!("creating {}", path.display()))?,
    ))
}

impl FileSink {
    /// Opens the run directory's files (and `stats_csv`, if given).
    pub(crate) fn new(
        out: &Path,
        target_rate: f64,
        stats_csv: Option<&Path>,
        evidence: Evidence,
        run_started: observe::Observation,
    ) -> anyhow::Result<Self> {
        let mut csv = vec![create(&out.join("stats.csv"))?];
        if let Some(p) = stats_csv {
            csv.push(create(p)?);
        }
        for c in &mut csv {
            writeln!(c, "{CSV_HEADER}")?;
        }
        let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            indicatif::ProgressBar::new_spinner()
        } else {
            indicatif::ProgressBar::hidden()
        };
        Ok(Self {
            out: out.to_owned(),
            evidence,
            run_started,
            kept: 0,
            calls: create(&out.join("calls.jsonl"))?,
            intervals_file: create(&out.join("intervals.jsonl"))?,
            csv,
            bar,
            target_rate,
            completed: 0,
            failed: 0,
            intervals: Vec::new(),
            error: None,
        })
    }

    /// Flushes everything; returns the intervals for the results and how many calls kept
    /// their evidence.
    pub(crate) fn finish(mut self) -> anyhow::Result<(Vec<IntervalRecord>, u64)> {
        self.bar.finish_and_clear();
        self.calls.flush().context("writing calls.jsonl")?;
        self.intervals_file
            .flush()
            .context("writing intervals.jsonl")?;
        for c in &mut self.csv {
            c.flush().context("writing stats.csv")?;
        }
        if let Some(e) = self.error {
            return Err(e).context("writing the run directory");
        }
        Ok((self.intervals, self.kept))
    }

    /// Keeps a call's evidence under `evidence/call-N/`: its observation log, and its
    /// spooled capture moved there. Returns the files kept, relative to the run directory.
    fn write_evidence(&mut self, call: &Finished) -> std::io::Result<Vec<String>> {
        let rec = &call.record;
        let dir_rel = format!("evidence/call-{}", rec.index);
        let dir = self.out.join(&dir_rel);
        let mut kept = Vec::new();
        if let Some(obs) = call.observations.as_ref().filter(|o| !o.is_empty()) {
            std::fs::create_dir_all(&dir)?;
            let rel = format!("{dir_rel}/observations.jsonl");
            let mut w = observe::LogWriter::new(BufWriter::new(File::create(self.out.join(&rel))?));
            w.append(&self.run_started)?;
            for o in obs {
                w.append(o)?;
            }
            w.into_inner().flush()?;
            kept.push(rel);
        }
        if let Some(spooled) = &call.capture {
            std::fs::create_dir_all(&dir)?;
            let rel = format!("{dir_rel}/call.pcap");
            let pcap = self.out.join(&rel);
            std::fs::rename(spooled, &pcap)?;
            kept.push(rel);
            // Its audio streams as WAV files, to be listened to.
            let wavs = media::capture::write_stream_wavs(&std::fs::read(&pcap)?, &dir)
                .map_err(std::io::Error::other)?;
            for w in wavs {
                if let Some(name) = w.file_name().and_then(|n| n.to_str()) {
                    kept.push(format!("{dir_rel}/{name}"));
                }
            }
        }
        if !kept.is_empty() {
            self.kept += 1;
        }
        Ok(kept)
    }

    fn keep(&mut self, r: std::io::Result<()>) {
        if let Err(e) = r {
            self.error.get_or_insert(e);
        }
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
    fn record(&mut self, call: &Finished) {
        if call.record.passed() {
            self.completed += 1;
        } else {
            self.failed += 1;
        }
        let mut with_path;
        let mut record = &call.record;
        if self.evidence.keeps(record) {
            match self.write_evidence(call) {
                Ok(files) if !files.is_empty() => {
                    with_path = record.clone();
                    with_path.evidence = files;
                    record = &with_path;
                }
                Ok(_) => {}
                Err(e) => self.keep(Err(e)),
            }
        } else if let Some(spooled) = &call.capture {
            // A passed call's capture is not kept.
            let _ = std::fs::remove_file(spooled);
        }
        let r = serde_json::to_writer(&mut self.calls, record)
            .map_err(std::io::Error::other)
            .and_then(|()| self.calls.write_all(b"\n"));
        self.keep(r);
    }

    fn interval(&mut self, i: &Interval<'_>) {
        let f = i.figures;
        let secs = i.length.as_secs_f64().max(1e-6);
        let cps = f.started as f64 / secs;
        let row = format!(
            "{:.3},{},{},{},{},{},{:.1},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.3},{:.3}",
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
            q(&f.party_to_recorder_us, 0.5),
            q(&f.party_to_recorder_us, 0.99),
            q(&f.send_lateness_us, 0.5),
            q(&f.send_lateness_us, 0.99),
            q(&f.send_lateness_us, 1.0),
            f.rtp_sent,
            f.rtp_received,
            i.health.receive_drops,
            f.send_errors,
            i.health.cpu_share,
            i.health.service_cpu_share,
        );
        let mut results = Vec::new();
        for c in &mut self.csv {
            results.push(writeln!(c, "{row}"));
        }
        let rec = IntervalRecord {
            schema: LOAD_SCHEMA,
            at_s: i.at.as_secs_f64(),
            length_s: secs,
            active: i.active,
            started_total: i.started,
            health: HealthData {
                cpu_share: i.health.cpu_share,
                service_cpu_share: i.health.service_cpu_share,
                receive_drops: i.health.receive_drops,
                drops_readable: i.health.drops_readable,
            },
            figures: FiguresData::of(f),
        };
        results.push(
            serde_json::to_writer(&mut self.intervals_file, &rec)
                .map_err(std::io::Error::other)
                .and_then(|()| self.intervals_file.write_all(b"\n")),
        );
        for r in results {
            self.keep(r);
        }
        self.intervals.push(rec);
        let classes: Vec<String> = f
            .failed_by_class
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let reqs: Vec<String> = f
            .failed_requirements
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        self.bar.set_message(format!(
            "{:>6.1}s  rate {cps:.1}/{:.1} cps  open {}  passed {}  failed {}{}{}  setup p99 {} \
             ms  late p99 {} ms  drops {}  cpu {:.0}%{}",
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
            if reqs.is_empty() {
                String::new()
            } else {
                format!(" [verdicts: {}]", reqs.join(", "))
            },
            q(&f.setup_us, 0.99),
            q(&f.send_lateness_us, 0.99),
            i.health.receive_drops,
            i.health.cpu_share * 100.0,
            if i.health.service_cpu_share > 0.0 {
                format!(" platform {:.0}%", i.health.service_cpu_share * 100.0)
            } else {
                String::new()
            }
        ));
        self.bar.tick();
    }
}

/// The typed results of a finished run.
pub(crate) fn results(
    target: TargetData,
    plan: PlanData,
    started_at: String,
    totals: &RunTotals,
    intervals: &[IntervalRecord],
    mean_hold_s: f64,
    thresholds: Thresholds,
) -> LoadResults {
    let figures = FiguresData::of(&totals.figures);
    let call_seconds = figures.ended as f64 * mean_hold_s;
    let per_call_second =
        |cpu: std::time::Duration| (call_seconds > 0.0).then(|| cpu.as_secs_f64() / call_seconds);
    let peak_active = intervals.iter().map(|r| r.active).max().unwrap_or(0);
    let mut loops: Vec<LoopData> = totals
        .loops
        .iter()
        .map(|l| LoopData {
            role: "calls".into(),
            cpu_s: l.cpu.as_secs_f64(),
            receive_drops: l.drops_readable.then_some(l.receive_drops),
            sockets: l.sockets,
        })
        .collect();
    loops.extend(totals.services.iter().map(|l| LoopData {
        role: "service".into(),
        cpu_s: l.cpu.as_secs_f64(),
        receive_drops: l.drops_readable.then_some(l.receive_drops),
        sockets: l.sockets,
    }));
    let threshold_results = thresholds.judge(&figures);
    LoadResults {
        schema: LOAD_SCHEMA,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        started_at,
        target,
        plan,
        totals: figures,
        harness: HarnessData {
            elapsed_s: totals.elapsed.as_secs_f64(),
            loops,
            max_rss_bytes: totals.max_rss_bytes,
            peak_active,
            memory_per_call_bytes: (peak_active > 0).then(|| {
                totals
                    .max_rss_bytes
                    .saturating_sub(totals.rss_at_start_bytes) as f64
                    / f64::from(peak_active)
            }),
            cpu_s_per_call_second: per_call_second(totals.cpu()),
            service_cpu_s_per_call_second: (!totals.services.is_empty())
                .then(|| per_call_second(totals.service_cpu()))
                .flatten(),
            interrupted: totals.interrupted,
            stray_messages: totals.stray,
            unattributed_recordings: totals.unattributed,
        },
        health: HealthVerdict::assess(intervals),
        thresholds,
        threshold_results,
    }
}

/// Writes `results.json` and `junit.xml` into `out`.
pub(crate) fn write_results(out: &Path, results: &LoadResults) -> anyhow::Result<()> {
    let path = out.join("results.json");
    std::fs::write(&path, serde_json::to_vec_pretty(results)?)
        .with_context(|| format!("writing {}", path.display()))?;
    let path: PathBuf = out.join("junit.xml");
    std::fs::write(&path, load::results::junit(results))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The one-paragraph summary printed at the end.
pub(crate) fn summary(r: &LoadResults) -> String {
    let t = &r.totals;
    let p99 = |h: &load::results::HistogramData| {
        h.quantiles()
            .map_or("-".to_owned(), |q| format!("{:.3}", q.p99_ms))
    };
    let mut s = format!(
        "{} started, {} passed, {} failed {:?}; setup p99 {} ms; mouth-to-ear p99 {} ms; send \
         lateness p99 {} ms; receive drops {}; call-loop CPU {:.1} s over {:.1} s",
        t.started,
        t.passed,
        t.failed(),
        t.failed_by_class,
        p99(&t.setup_us),
        p99(&t.mouth_to_ear_us),
        p99(&t.send_lateness_us),
        r.harness
            .loops
            .iter()
            .filter_map(|l| l.receive_drops)
            .reduce(|a, b| a + b)
            .map_or("unreadable".to_owned(), |d| d.to_string()),
        r.harness
            .loops
            .iter()
            .filter(|l| l.role == "calls")
            .map(|l| l.cpu_s)
            .sum::<f64>(),
        r.harness.elapsed_s,
    );
    if !t.failed_requirements.is_empty() {
        s.push_str(&format!(
            "; calls failing a verdict, per requirement: {:?}",
            t.failed_requirements
        ));
    }
    if !r.health.healthy {
        s.push_str(&format!(
            "; the harness was overloaded ({}), so its figures are trustworthy only up to {} \
             open calls",
            r.health.problems.first().map_or("", String::as_str),
            r.health
                .trusted_up_to_active
                .map_or("no".to_owned(), |a| a.to_string())
        ));
    }
    s.push_str(if r.passed() {
        "; every threshold met"
    } else {
        "; a threshold failed (see junit.xml)"
    });
    s
}
