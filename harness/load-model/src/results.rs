//! The typed results of a load run: what `results.json` and `intervals.jsonl` hold, what
//! `recproof load merge` adds up and what the load report renders. Nothing downstream
//! re-derives a figure: the run writes these once, from the engines' counts.
//!
//! Owns: [`LoadResults`] (schema [`LOAD_SCHEMA`]), [`IntervalRecord`] (one line of
//! `intervals.jsonl`), [`FiguresData`] and [`HistogramData`] (a histogram as its non-zero
//! buckets: lossless at the histogram's resolution, so shards merge exactly), the
//! threshold test cases ([`Thresholds`], [`ThresholdResult`]) and the harness's verdict on
//! its own health ([`HealthVerdict`]).
//!
//! Must not touch: sockets, clocks, judging a call.

use crate::stats::{Figures, HIST_MAX_US, Quantiles, new_histogram};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Version of `results.json` and `intervals.jsonl`. Bump on incompatible change; readers
/// refuse other versions.
pub const LOAD_SCHEMA: u32 = 1;

/// A histogram of µs values as its non-zero buckets: `(value, count)` pairs, value being
/// the bucket's highest equivalent value. Rebuilding records every count at its value, so
/// a rebuilt histogram has the same quantiles, and merging rebuilt histograms is the same
/// as merging the originals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HistogramData(pub Vec<(u64, u64)>);

impl HistogramData {
    /// The buckets of `h`.
    pub fn of(h: &Histogram<u64>) -> Self {
        Self(
            h.iter_recorded()
                .map(|v| {
                    (
                        h.highest_equivalent(v.value_iterated_to()),
                        v.count_at_value(),
                    )
                })
                .collect(),
        )
    }

    /// The histogram again (values beyond [`HIST_MAX_US`] are clamped).
    pub fn histogram(&self) -> Histogram<u64> {
        let mut h = new_histogram();
        for &(v, n) in &self.0 {
            h.saturating_record_n(v.clamp(1, HIST_MAX_US), n);
        }
        h
    }

    /// p50/p95/p99/max in ms, `None` when empty.
    pub fn quantiles(&self) -> Option<Quantiles> {
        Figures::summary(&self.histogram())
    }
}

/// [`Figures`] as stored: counts and sparse histograms.
pub type FiguresData = Figures<HistogramData>;

impl FiguresData {
    /// The stored form of `f`.
    pub fn of(f: &Figures) -> Self {
        f.map(HistogramData::of)
    }

    /// The figures again, for merging.
    pub fn figures(&self) -> Figures {
        self.map(HistogramData::histogram)
    }
}

impl Default for FiguresData {
    fn default() -> Self {
        Figures::default().map(HistogramData::of)
    }
}

/// The harness's health over one interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthData {
    /// CPU share of the busiest call loop (1.0 = a whole core).
    pub cpu_share: f64,
    /// CPU share of the service loops (embedded platform and recorder), summed.
    pub service_cpu_share: f64,
    /// Datagrams the kernel dropped on the run's sockets.
    pub receive_drops: u64,
    /// Whether the drop counters could be read.
    pub drops_readable: bool,
}

/// One line of `intervals.jsonl`: what happened between `at_s - length_s` and `at_s`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntervalRecord {
    /// [`LOAD_SCHEMA`].
    pub schema: u32,
    /// Seconds since the run's start, at the interval's end.
    pub at_s: f64,
    /// Length of the interval, seconds.
    pub length_s: f64,
    /// Calls open at its end.
    pub active: u32,
    /// Calls started so far.
    pub started_total: u64,
    /// The harness's health in it.
    pub health: HealthData,
    /// Its figures.
    pub figures: FiguresData,
}

/// What the run targeted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetData {
    /// `direct` (caller to callee, no platform), `embedded` (the reference platform and
    /// recorder on loopback) or `sut` (an external platform).
    pub mode: String,
    /// The SUT's name (the profile's), or the embedded platform's fault/variant.
    pub sut: Option<String>,
    /// Audio both ways.
    pub media: bool,
    /// The embedded platform's fault profile, if any.
    #[serde(default)]
    pub fault: Option<String>,
}

/// What was asked for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanData {
    /// Target rate, calls per second (of the whole run, over every shard).
    pub rate_cps: f64,
    /// Concurrency limit of the whole run.
    pub concurrency: Option<u32>,
    /// Call count of the whole run.
    pub calls: Option<u64>,
    /// Duration bound, seconds.
    pub duration_s: Option<f64>,
    /// Ramp, seconds.
    pub ramp_s: f64,
    /// Hold, as given.
    pub hold: String,
    /// Seed.
    pub seed: u64,
    /// The shards this result covers (`0/1` for an unsplit run; a merge lists all).
    pub shards: Vec<String>,
    /// Event loops per shard.
    pub loops: u32,
    /// The call mix, as given (`None`: one plain recorded call per user).
    #[serde(default)]
    pub mix: Option<String>,
}

/// One event loop's own figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoopData {
    /// `calls` or `service`.
    pub role: String,
    /// CPU time of its thread, seconds.
    pub cpu_s: f64,
    /// Kernel receive drops on its sockets (`None`: unreadable).
    pub receive_drops: Option<u64>,
    /// Sockets it bound.
    pub sockets: usize,
}

/// The harness's account of itself over the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HarnessData {
    /// Wall time, seconds.
    pub elapsed_s: f64,
    /// The event loops.
    pub loops: Vec<LoopData>,
    /// Peak resident memory, bytes (the largest over shards in a merge).
    pub max_rss_bytes: u64,
    /// Peak calls open at once.
    pub peak_active: u32,
    /// Resident memory per concurrent call at the peak, bytes: what the run added to the
    /// process's memory (peak RSS minus RSS at the start) over the peak of open calls.
    pub memory_per_call_bytes: Option<f64>,
    /// CPU seconds of the call loops per second of call held.
    pub cpu_s_per_call_second: Option<f64>,
    /// CPU seconds of the service loops (embedded platform, recorder) per call-second.
    pub service_cpu_s_per_call_second: Option<f64>,
    /// True when Ctrl-C stopped the run.
    pub interrupted: bool,
    /// Messages that matched no call.
    pub stray_messages: u64,
    /// Recording sessions that could be tied to no call.
    #[serde(default)]
    pub unattributed_recordings: u64,
}

/// Whether the harness's own figures can be trusted, and above which load they stop
/// being trustworthy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthVerdict {
    /// True when no interval was unhealthy.
    pub healthy: bool,
    /// What was wrong, interval by interval (first few).
    pub problems: Vec<String>,
    /// The most calls open at once while the harness was still healthy (before the first
    /// unhealthy interval); `None` when it was unhealthy from the start.
    pub trusted_up_to_active: Option<u32>,
    /// The highest started-call rate of an interval while healthy, calls per second.
    pub trusted_up_to_cps: Option<f64>,
}

/// The limits the harness holds itself to; above them its own timing disturbs what it
/// measures. A party's frame counts as sent at its scheduled time, so the harness's own
/// lateness adds to the latency it measures: up to 5 ms at p99 stays far below any
/// latency limit a check applies (tens to hundreds of ms) and below one 20 ms frame,
/// and is shown beside the figures; beyond it, the latency figures are the harness's as
/// much as the SUT's.
pub const HEALTH_LATENESS_P99_MS: f64 = 5.0;
/// CPU share of a loop above which it is saturated.
pub const HEALTH_CPU_SHARE: f64 = 0.95;

impl HealthVerdict {
    /// Judges the harness by its intervals: an interval is unhealthy when the kernel
    /// dropped datagrams on the harness's sockets, when the send schedule ran more than
    /// [`HEALTH_LATENESS_P99_MS`] late at p99, or when a loop used more than
    /// [`HEALTH_CPU_SHARE`] of a core.
    pub fn assess(intervals: &[IntervalRecord]) -> Self {
        let mut v = HealthVerdict {
            healthy: true,
            ..Self::default()
        };
        let mut first_bad = None;
        for (i, r) in intervals.iter().enumerate() {
            let mut why = Vec::new();
            if r.health.receive_drops > 0 {
                why.push(format!(
                    "{} datagrams dropped by the kernel on the harness's sockets",
                    r.health.receive_drops
                ));
            }
            if let Some(q) = r.figures.send_lateness_us.quantiles()
                && q.p99_ms > HEALTH_LATENESS_P99_MS
            {
                why.push(format!(
                    "send schedule {:.2} ms late at p99 (limit {HEALTH_LATENESS_P99_MS} ms)",
                    q.p99_ms
                ));
            }
            if r.health.cpu_share > HEALTH_CPU_SHARE {
                why.push(format!(
                    "an event loop used {:.0} % of a core",
                    r.health.cpu_share * 100.0
                ));
            }
            if !why.is_empty() {
                v.healthy = false;
                first_bad.get_or_insert(i);
                if v.problems.len() < 10 {
                    v.problems
                        .push(format!("at {:.0} s: {}", r.at_s, why.join("; ")));
                }
            }
        }
        let good = &intervals[..first_bad.unwrap_or(intervals.len())];
        v.trusted_up_to_active = good.iter().map(|r| r.active).max();
        v.trusted_up_to_cps = good
            .iter()
            .filter(|r| r.length_s > 0.0)
            .map(|r| r.figures.started as f64 / r.length_s)
            .reduce(f64::max);
        if first_bad == Some(0) {
            v.trusted_up_to_active = None;
            v.trusted_up_to_cps = None;
        }
        v
    }
}

/// The thresholds a run is held to (each one a JUnit test case).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Highest fraction of failed calls (`--max-failed-ratio`, default 0).
    pub max_failed_ratio: f64,
    /// Highest p99 setup time, ms.
    pub max_setup_p99_ms: Option<f64>,
    /// Highest p99 mouth-to-ear latency, ms.
    pub max_mouth_to_ear_p99_ms: Option<f64>,
    /// Highest p99 party-to-recorder latency, ms.
    pub max_party_to_recorder_p99_ms: Option<f64>,
    /// Highest p99 answer-to-media, ms.
    pub max_answer_to_media_p99_ms: Option<f64>,
    /// Lowest recorded-call success ratio (of calls the policy records).
    pub min_recorded_ratio: Option<f64>,
}

/// One threshold as judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// What it limits.
    pub name: String,
    /// The limit.
    pub limit: f64,
    /// What was observed; `None` when nothing was (which fails the threshold: it could
    /// not be judged).
    pub observed: Option<f64>,
    /// Whether it held.
    pub passed: bool,
}

impl Thresholds {
    /// Judges every threshold on the run's totals.
    pub fn judge(&self, f: &FiguresData) -> Vec<ThresholdResult> {
        let ratio = (f.ended > 0).then(|| f.failed() as f64 / f.ended as f64);
        let mut out = vec![ThresholdResult {
            name: "failed call ratio".into(),
            limit: self.max_failed_ratio,
            observed: ratio,
            passed: ratio.is_some_and(|r| r <= self.max_failed_ratio),
        }];
        let p99 = |h: &HistogramData| h.quantiles().map(|q| q.p99_ms);
        for (name, limit, observed) in [
            (
                "setup time p99 (ms)",
                self.max_setup_p99_ms,
                p99(&f.setup_us),
            ),
            (
                "mouth-to-ear p99 (ms)",
                self.max_mouth_to_ear_p99_ms,
                p99(&f.mouth_to_ear_us),
            ),
            (
                "party-to-recorder p99 (ms)",
                self.max_party_to_recorder_p99_ms,
                p99(&f.party_to_recorder_us),
            ),
            (
                "answer-to-media p99 (ms)",
                self.max_answer_to_media_p99_ms,
                p99(&f.answer_to_media_us),
            ),
        ] {
            if let Some(limit) = limit {
                out.push(ThresholdResult {
                    name: name.into(),
                    limit,
                    observed,
                    passed: observed.is_some_and(|o| o <= limit),
                });
            }
        }
        if let Some(limit) = self.min_recorded_ratio {
            let observed = (f.recording_expected > 0)
                .then(|| f.recorded_ok as f64 / f.recording_expected as f64);
            out.push(ThresholdResult {
                name: "recorded-call success ratio".into(),
                limit,
                observed,
                passed: observed.is_some_and(|o| o >= limit),
            });
        }
        out
    }
}

/// `results.json`: the whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadResults {
    /// [`LOAD_SCHEMA`].
    pub schema: u32,
    /// recproof version that wrote it.
    pub tool_version: String,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// What was targeted.
    pub target: TargetData,
    /// What was asked for.
    pub plan: PlanData,
    /// The run's totals.
    pub totals: FiguresData,
    /// The harness's account of itself.
    pub harness: HarnessData,
    /// Whether its figures can be trusted.
    pub health: HealthVerdict,
    /// The thresholds as given.
    pub thresholds: Thresholds,
    /// Each threshold as judged.
    pub threshold_results: Vec<ThresholdResult>,
}

/// Why a results file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// Not JSON of the expected shape.
    #[error("{path}: not a recproof load results file: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// Another schema version.
    #[error(
        "{path}: results schema {found}, this recproof reads {LOAD_SCHEMA}; use the recproof \
         version that wrote it"
    )]
    Schema {
        /// The file.
        path: String,
        /// The version found.
        found: u32,
    },
}

impl LoadResults {
    /// Reads `results.json` text, checking the schema version.
    pub fn parse(text: &str, path: &str) -> Result<Self, ResultsError> {
        let r: LoadResults = serde_json::from_str(text).map_err(|source| ResultsError::Parse {
            path: path.to_owned(),
            source,
        })?;
        if r.schema != LOAD_SCHEMA {
            return Err(ResultsError::Schema {
                path: path.to_owned(),
                found: r.schema,
            });
        }
        Ok(r)
    }

    /// Whether every threshold held.
    pub fn passed(&self) -> bool {
        self.threshold_results.iter().all(|t| t.passed)
    }

    /// The run's call-seconds: calls ended times their mean hold (from the totals).
    pub fn call_seconds(&self, mean_hold_s: f64) -> f64 {
        self.totals.ended as f64 * mean_hold_s
    }
}

/// Parses `intervals.jsonl` text; lines of another schema or unreadable are refused with
/// their line number.
pub fn parse_intervals(text: &str, path: &str) -> Result<Vec<IntervalRecord>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: IntervalRecord = serde_json::from_str(line)
            .map_err(|e| format!("{path}:{}: not an interval record: {e}", i + 1))?;
        if r.schema != LOAD_SCHEMA {
            return Err(format!(
                "{path}:{}: schema {}, this recproof reads {LOAD_SCHEMA}",
                i + 1,
                r.schema
            ));
        }
        out.push(r);
    }
    Ok(out)
}

/// Merges the intervals of several shards: interval `k` of each shard covers the same
/// span (shards start together), so counts add and histograms merge; the health takes the
/// worst loop's CPU share and sums drops.
pub fn merge_intervals(shards: &[Vec<IntervalRecord>]) -> Vec<IntervalRecord> {
    let n = shards.iter().map(Vec::len).max().unwrap_or(0);
    (0..n)
        .map(|k| {
            let mut figures = Figures::default();
            let mut out = IntervalRecord {
                schema: LOAD_SCHEMA,
                ..IntervalRecord::default()
            };
            for r in shards.iter().filter_map(|s| s.get(k)) {
                figures.merge(&r.figures.figures());
                out.at_s = out.at_s.max(r.at_s);
                out.length_s = out.length_s.max(r.length_s);
                out.active += r.active;
                out.started_total += r.started_total;
                out.health.cpu_share = out.health.cpu_share.max(r.health.cpu_share);
                out.health.service_cpu_share += r.health.service_cpu_share;
                out.health.receive_drops += r.health.receive_drops;
                out.health.drops_readable |= r.health.drops_readable;
            }
            out.figures = FiguresData::of(&figures);
            out
        })
        .collect()
}

/// Merges the results of several shards of one run into one: counts are the sums,
/// histograms the lossless merge, the harness figures added up (memory: the largest
/// shard's), thresholds judged again on the merged totals, health judged again on the
/// merged intervals.
pub fn merge_results(shards: &[LoadResults], intervals: &[IntervalRecord]) -> LoadResults {
    let mut totals = Figures::default();
    let mut out = shards.first().cloned().unwrap_or_default();
    out.plan.shards.clear();
    out.harness = HarnessData::default();
    for s in shards {
        totals.merge(&s.totals.figures());
        out.plan.shards.extend(s.plan.shards.iter().cloned());
        let h = &s.harness;
        out.harness.elapsed_s = out.harness.elapsed_s.max(h.elapsed_s);
        out.harness.loops.extend(h.loops.iter().cloned());
        out.harness.max_rss_bytes = out.harness.max_rss_bytes.max(h.max_rss_bytes);
        out.harness.interrupted |= h.interrupted;
        out.harness.stray_messages += h.stray_messages;
        out.harness.unattributed_recordings += h.unattributed_recordings;
        out.started_at = out.started_at.clone().min(s.started_at.clone());
    }
    out.plan.shards.sort();
    out.totals = FiguresData::of(&totals);
    out.harness.peak_active = intervals.iter().map(|r| r.active).max().unwrap_or(0);
    let add = |f: fn(&HarnessData) -> Option<f64>| -> Option<f64> {
        let v: Vec<f64> = shards.iter().filter_map(|s| f(&s.harness)).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    out.harness.cpu_s_per_call_second = add(|h| h.cpu_s_per_call_second);
    out.harness.service_cpu_s_per_call_second = add(|h| h.service_cpu_s_per_call_second);
    out.harness.memory_per_call_bytes = add(|h| h.memory_per_call_bytes);
    out.health = HealthVerdict::assess(intervals);
    out.threshold_results = out.thresholds.judge(&out.totals);
    out
}

/// The JUnit XML of a run: one test case per threshold, and one per requirement with the
/// number of calls that failed it (a requirement no call failed is a passing case).
pub fn junit(results: &LoadResults) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("recproof load");
    let mut thresholds = TestSuite::new("load.thresholds");
    for t in &results.threshold_results {
        let status = if t.passed {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(match t.observed {
                Some(o) => format!("observed {o:.4} against a limit of {}", t.limit),
                None => format!(
                    "nothing was observed, so the limit of {} could not be judged",
                    t.limit
                ),
            });
            s
        };
        thresholds.add_test_case(TestCase::new(t.name.clone(), status));
    }
    report.add_test_suite(thresholds);
    let mut reqs = TestSuite::new("load.requirements");
    for (req, n) in &results.totals.failed_requirements {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
        s.set_message(format!(
            "{n} of {} judged calls failed a verdict citing {req}",
            results.totals.ended
        ));
        reqs.add_test_case(TestCase::new(req.clone(), s));
    }
    if !reqs.test_cases.is_empty() {
        report.add_test_suite(reqs);
    }
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- junit could not be written: {e} -->\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_histograms_rebuild_with_the_same_quantiles_and_merge_losslessly() {
        let mut a = new_histogram();
        let mut b = new_histogram();
        for v in [1u64, 7, 150, 999, 1_000, 20_000, 20_000, 3_000_000] {
            a.record(v).expect("in range");
        }
        for v in [5u64, 80_000, 80_001] {
            b.record(v).expect("in range");
        }
        let ra = HistogramData::of(&a).histogram();
        for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
            assert_eq!(ra.value_at_quantile(q), a.value_at_quantile(q), "q {q}");
        }
        let mut direct = a.clone();
        direct.add(&b).expect("same bounds");
        let mut rebuilt = HistogramData::of(&a).histogram();
        rebuilt
            .add(HistogramData::of(&b).histogram())
            .expect("same bounds");
        assert_eq!(rebuilt.len(), direct.len());
        for q in [0.1, 0.5, 0.95, 0.99, 1.0] {
            assert_eq!(rebuilt.value_at_quantile(q), direct.value_at_quantile(q));
        }
    }

    #[test]
    fn health_names_the_load_above_which_figures_are_not_trusted() {
        let row = |at: f64, active: u32, drops: u64, cpu: f64| IntervalRecord {
            schema: LOAD_SCHEMA,
            at_s: at,
            length_s: 1.0,
            active,
            health: HealthData {
                cpu_share: cpu,
                receive_drops: drops,
                drops_readable: true,
                ..HealthData::default()
            },
            figures: FiguresData {
                started: u64::from(active) / 2,
                ..FiguresData::default()
            },
            ..IntervalRecord::default()
        };
        let v = HealthVerdict::assess(&[row(1.0, 100, 0, 0.3), row(2.0, 200, 0, 0.5)]);
        assert!(v.healthy);
        assert_eq!(v.trusted_up_to_active, Some(200));
        let v = HealthVerdict::assess(&[
            row(1.0, 100, 0, 0.3),
            row(2.0, 200, 0, 0.6),
            row(3.0, 300, 12, 0.7),
            row(4.0, 400, 0, 0.99),
        ]);
        assert!(!v.healthy);
        assert_eq!(v.trusted_up_to_active, Some(200));
        assert_eq!(v.problems.len(), 2, "{:?}", v.problems);
        assert!(
            v.problems[0].contains("12 datagrams dropped"),
            "{:?}",
            v.problems
        );
        let v = HealthVerdict::assess(&[row(1.0, 100, 1, 0.3)]);
        assert_eq!(v.trusted_up_to_active, None);
    }

    #[test]
    fn a_threshold_with_nothing_observed_fails() {
        let t = Thresholds {
            max_failed_ratio: 0.0,
            max_mouth_to_ear_p99_ms: Some(20.0),
            min_recorded_ratio: Some(1.0),
            ..Thresholds::default()
        };
        let r = t.judge(&FiguresData::default());
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(|t| !t.passed), "{r:?}");
        let f = FiguresData {
            ended: 10,
            passed: 10,
            recording_expected: 10,
            recorded_ok: 10,
            mouth_to_ear_us: HistogramData(vec![(5_000, 10)]),
            ..FiguresData::default()
        };
        assert!(t.judge(&f).iter().all(|t| t.passed));
    }
}
