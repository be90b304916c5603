//! The report of a load run (`recproof load`), rendered from its run directory: the typed
//! results (`results.json`, `load::results::LoadResults`), the intervals
//! (`intervals.jsonl`) and the judged calls (`calls.jsonl`). It writes `index.html` with
//! the run's facts, its thresholds, the harness's verdict on its own health (above which
//! load its figures stop being trustworthy), the failures by class and by requirement,
//! the failed calls with their evidence, and SVG plots over time: rate, concurrency,
//! setup time, answer-to-media, mouth-to-ear and party-to-recorder latency, the
//! recorded-call success ratio, verdict failures per requirement, and the harness's own
//! lateness, CPU and drops.
//!
//! Everything shown is read from those files as the run wrote them: the quantiles of an
//! interval come from its stored histogram, the counts from the stored counts; nothing
//! is judged or re-derived here. Text from the files is escaped (askama), and the SVGs
//! escape theirs.

use crate::{ReportError, io_err};
use askama::Template;
use loadmodel::record::CallRecord;
use loadmodel::results::{HistogramData, IntervalRecord, LoadResults, parse_intervals};
use plotters::prelude::*;
use std::fs;
use std::path::{Path, PathBuf};

const FONT: &str = "sans-serif";
const COLORS: [RGBColor; 8] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
];
/// Failed calls listed on the page (the rest are in calls.jsonl).
pub(crate) const FAILED_CALLS_SHOWN: usize = 100;

/// What [`render_load`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReportSummary {
    /// `index.html`.
    pub index: PathBuf,
    /// Every SVG written.
    pub svgs: Vec<PathBuf>,
    /// Intervals read.
    pub intervals: usize,
    /// Plots that could not be drawn (each replaced by a note).
    pub plot_failures: usize,
}

/// True when `run_dir` holds a load run (its `intervals.jsonl` is there).
pub fn is_load_run(run_dir: &Path) -> bool {
    run_dir.join("intervals.jsonl").is_file()
}

struct Plot {
    title: String,
    src: Option<String>,
    note: Option<String>,
    caption: String,
}

struct Row {
    name: String,
    value: String,
    class: &'static str,
}

struct FailedCall {
    index: u64,
    class: String,
    why: String,
    evidence: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "load.html")]
struct LoadPage {
    tool_version: String,
    generated: String,
    title: String,
    verdict_line: String,
    verdict_class: &'static str,
    facts: Vec<Row>,
    thresholds: Vec<Row>,
    health_line: String,
    health_class: &'static str,
    health_problems: Vec<String>,
    harness: Vec<Row>,
    classes: Vec<Row>,
    requirements: Vec<Row>,
    checks: Vec<Row>,
    plots: Vec<Plot>,
    failed: Vec<FailedCall>,
    failed_more: u64,
}

type Series = (String, Vec<Option<f64>>);

/// A line chart of `series` over the intervals' end times.
fn chart(title: &str, y_desc: &str, x: &[f64], series: &[Series]) -> Result<String, String> {
    let ys = series.iter().flat_map(|(_, v)| v.iter().flatten().copied());
    let (mut lo, mut hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return Err("nothing was measured".to_owned());
    }
    lo = lo.min(0.0);
    if hi - lo < 1e-9 {
        hi = lo + 1.0;
    }
    hi += (hi - lo) * 0.05;
    let x0 = 0.0;
    let x1 = x.iter().copied().fold(1.0, f64::max);
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (1000, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut c = ChartBuilder::on(&root)
            .caption(title, (FONT, 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, lo..hi)
            .map_err(|e| e.to_string())?;
        c.configure_mesh()
            .x_desc("seconds into the run")
            .y_desc(y_desc)
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, (name, values)) in series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let points: Vec<(f64, f64)> = x
                .iter()
                .zip(values)
                .filter_map(|(x, y)| y.map(|y| (*x, y)))
                .collect();
            if points.is_empty() {
                continue;
            }
            let label = crate::util::xml_safe(name);
            c.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            c.draw_series(points.iter().map(|p| Circle::new(*p, 2, color.filled())))
                .map_err(|e| e.to_string())?;
        }
        c.configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 12))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(buf)
}

fn quantile(h: &HistogramData, q: f64) -> Option<f64> {
    let hist = h.histogram();
    (!hist.is_empty()).then(|| hist.value_at_quantile(q) as f64 / 1000.0)
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".to_owned(), |v| format!("{v:.2} ms"))
}

fn row(name: impl Into<String>, value: impl Into<String>) -> Row {
    Row {
        name: name.into(),
        value: value.into(),
        class: "",
    }
}

/// Renders the load report of `run_dir` into `index.html` and SVGs beside it.
pub fn render_load(run_dir: &Path) -> Result<LoadReportSummary, ReportError> {
    let results_path = run_dir.join("results.json");
    let text = fs::read_to_string(&results_path).map_err(io_err(&results_path))?;
    let r = LoadResults::parse(&text, &results_path.display().to_string()).map_err(|e| {
        ReportError::Load {
            path: results_path.clone(),
            reason: e.to_string(),
        }
    })?;
    let intervals_path = run_dir.join("intervals.jsonl");
    let itext = fs::read_to_string(&intervals_path).map_err(io_err(&intervals_path))?;
    let intervals =
        parse_intervals(&itext, &intervals_path.display().to_string()).map_err(|reason| {
            ReportError::Load {
                path: intervals_path.clone(),
                reason,
            }
        })?;
    let mut summary = LoadReportSummary {
        index: run_dir.join("index.html"),
        intervals: intervals.len(),
        ..LoadReportSummary::default()
    };
    let x: Vec<f64> = intervals.iter().map(|i| i.at_s).collect();
    let per = |f: &dyn Fn(&IntervalRecord) -> Option<f64>| -> Vec<Option<f64>> {
        intervals.iter().map(f).collect()
    };
    let q = |pick: fn(&IntervalRecord) -> &HistogramData, qq: f64| {
        per(&move |i: &IntervalRecord| quantile(pick(i), qq))
    };
    let media_note = if r.target.mode == "direct" {
        "every decoded frame"
    } else {
        "each stream's p95, as the call's judgement measured it"
    };
    let mut specs: Vec<(&str, &str, &str, String, Vec<Series>)> = vec![
        (
            "rate",
            "Call rate",
            "calls per second",
            format!(
                "Calls started and ended per second, against the target of {} calls/s.",
                r.plan.rate_cps
            ),
            vec![
                (
                    "target".into(),
                    per(&|_: &IntervalRecord| Some(r.plan.rate_cps)),
                ),
                (
                    "started".into(),
                    per(&|i: &IntervalRecord| {
                        (i.length_s > 0.0).then(|| i.figures.started as f64 / i.length_s)
                    }),
                ),
                (
                    "ended".into(),
                    per(&|i: &IntervalRecord| {
                        (i.length_s > 0.0).then(|| i.figures.ended as f64 / i.length_s)
                    }),
                ),
            ],
        ),
        (
            "concurrency",
            "Calls open at once",
            "calls",
            "Calls open at the end of each interval.".into(),
            vec![(
                "open calls".into(),
                per(&|i: &IntervalRecord| Some(f64::from(i.active))),
            )],
        ),
        (
            "setup",
            "Setup time (INVITE to 2xx)",
            "ms",
            "p50 and p99 of the answered calls that ended in each interval (a call is counted when it has been judged).".into(),
            vec![
                ("p50".into(), q(|i| &i.figures.setup_us, 0.5)),
                ("p99".into(), q(|i| &i.figures.setup_us, 0.99)),
            ],
        ),
        (
            "answer-to-media",
            "Answer to first media",
            "ms",
            "Per party, p50 and p99 of the calls ended in each interval.".into(),
            vec![
                ("p50".into(), q(|i| &i.figures.answer_to_media_us, 0.5)),
                ("p99".into(), q(|i| &i.figures.answer_to_media_us, 0.99)),
            ],
        ),
        (
            "mouth-to-ear",
            "Mouth-to-ear latency",
            "ms",
            format!("p50, p95 and p99 over {media_note}."),
            vec![
                ("p50".into(), q(|i| &i.figures.mouth_to_ear_us, 0.5)),
                ("p95".into(), q(|i| &i.figures.mouth_to_ear_us, 0.95)),
                ("p99".into(), q(|i| &i.figures.mouth_to_ear_us, 0.99)),
            ],
        ),
    ];
    if r.target.mode != "direct" {
        specs.push((
            "party-to-recorder",
            "Party-to-recorder latency",
            "ms",
            "p50, p95 and p99 over each recorded stream's p95.".into(),
            vec![
                ("p50".into(), q(|i| &i.figures.party_to_recorder_us, 0.5)),
                ("p95".into(), q(|i| &i.figures.party_to_recorder_us, 0.95)),
                ("p99".into(), q(|i| &i.figures.party_to_recorder_us, 0.99)),
            ],
        ));
        specs.push((
            "recorded",
            "Recorded-call success ratio",
            "% of calls the policy records",
            "Of the calls ended in each interval that the policy records, the share whose \
             recording verdicts all passed."
                .into(),
            vec![(
                "recorded ok".into(),
                per(&|i: &IntervalRecord| {
                    (i.figures.recording_expected > 0).then(|| {
                        100.0 * i.figures.recorded_ok as f64 / i.figures.recording_expected as f64
                    })
                }),
            )],
        ));
    }
    // Verdict failures per requirement, the most frequent first.
    let mut reqs: Vec<(&String, &u64)> = r.totals.failed_requirements.iter().collect();
    reqs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let req_series: Vec<Series> = reqs
        .iter()
        .take(COLORS.len())
        .map(|(req, _)| {
            let req = (*req).clone();
            (
                req.clone(),
                per(&move |i: &IntervalRecord| {
                    Some(*i.figures.failed_requirements.get(&req).unwrap_or(&0) as f64)
                }),
            )
        })
        .collect();
    let failures_series = if req_series.is_empty() {
        vec![(
            "calls failing a verdict".into(),
            per(&|i: &IntervalRecord| Some(i.figures.failed() as f64)),
        )]
    } else {
        req_series
    };
    specs.push((
        "failures",
        "Calls failing a verdict, per requirement",
        "calls per interval",
        "How many of the calls ended in each interval failed a verdict citing each \
         requirement (the most frequent requirements)."
            .into(),
        failures_series,
    ));
    specs.push((
        "lateness",
        "Harness send-schedule lateness",
        "ms",
        "How late the harness's own timers (media sends, call starts) ran: its health, \
         not the SUT's."
            .into(),
        vec![
            ("p50".into(), q(|i| &i.figures.send_lateness_us, 0.5)),
            ("p99".into(), q(|i| &i.figures.send_lateness_us, 0.99)),
            ("max".into(), q(|i| &i.figures.send_lateness_us, 1.0)),
        ],
    ));
    specs.push((
        "cpu",
        "Harness CPU and receive drops",
        "% of a core / datagrams",
        "CPU of the busiest call loop and of the service loops (the embedded platform), and \
         datagrams the kernel dropped on the run's sockets."
            .into(),
        vec![
            (
                "busiest call loop (%)".into(),
                per(&|i: &IntervalRecord| Some(i.health.cpu_share * 100.0)),
            ),
            (
                "service loops (%)".into(),
                per(&|i: &IntervalRecord| Some(i.health.service_cpu_share * 100.0)),
            ),
            (
                "receive drops".into(),
                per(&|i: &IntervalRecord| Some(i.health.receive_drops as f64)),
            ),
        ],
    ));
    let mut plots = Vec::new();
    for (file, title, y, caption, series) in specs {
        let name = format!("{file}.svg");
        match chart(title, y, &x, &series) {
            Ok(svg) => {
                let path = run_dir.join(&name);
                fs::write(&path, svg).map_err(io_err(&path))?;
                summary.svgs.push(path);
                plots.push(Plot {
                    title: title.to_owned(),
                    src: Some(name),
                    note: None,
                    caption,
                });
            }
            Err(e) => {
                summary.plot_failures += 1;
                plots.push(Plot {
                    title: title.to_owned(),
                    src: None,
                    note: Some(e),
                    caption,
                });
            }
        }
    }
    let t = &r.totals;
    let mut facts = vec![
        row(
            "Target",
            match (&r.target.mode[..], &r.target.sut) {
                ("direct", _) => "recproof's caller to recproof's callee, no platform".to_owned(),
                ("embedded", Some(s)) => format!("the embedded reference platform ({s})"),
                (_, Some(s)) => format!("external SUT {s}"),
                (m, None) => m.to_owned(),
            },
        ),
        row(
            "Plan",
            format!(
                "{} calls/s{}, up to {} open, {} calls, hold {}, ramp {} s, seed {}",
                r.plan.rate_cps,
                r.plan
                    .duration_s
                    .map_or(String::new(), |d| format!(" for {d} s")),
                r.plan.concurrency.map_or("-".to_owned(), |c| c.to_string()),
                r.plan.calls.map_or("-".to_owned(), |c| c.to_string()),
                r.plan.hold,
                r.plan.ramp_s,
                r.plan.seed
            ),
        ),
        row("Shards", r.plan.shards.join(", ")),
        row("Started", r.started_at.clone()),
        row(
            "Calls",
            format!(
                "{} started, {} ended: {} passed, {} failed",
                t.started,
                t.ended,
                t.passed,
                t.failed()
            ),
        ),
        row(
            "Media",
            if r.target.media {
                "instrumented audio both ways, every received frame decoded"
            } else {
                "none (signalling only)"
            },
        ),
    ];
    if let Some(m) = &r.plan.mix {
        facts.push(row("Call mix", m.clone()));
    }
    if t.recording_expected > 0 {
        facts.push(row(
            "Recorded calls",
            format!(
                "{} of {} calls the policy records had every recording verdict pass ({:.1} %)",
                t.recorded_ok,
                t.recording_expected,
                100.0 * t.recorded_ok as f64 / t.recording_expected as f64
            ),
        ));
    }
    let thresholds = r
        .threshold_results
        .iter()
        .map(|th| Row {
            name: th.name.clone(),
            value: format!(
                "{} against a limit of {}: {}",
                th.observed
                    .map_or("nothing observed".to_owned(), |o| format!("{o:.4}")),
                th.limit,
                if th.passed { "met" } else { "FAILED" }
            ),
            class: if th.passed { "pass" } else { "fail" },
        })
        .collect();
    let h = &r.harness;
    let harness = vec![
        row("Wall time", format!("{:.1} s", h.elapsed_s)),
        row("Peak calls open", h.peak_active.to_string()),
        row(
            "Peak memory",
            format!(
                "{:.1} MB ({} per open call)",
                h.max_rss_bytes as f64 / 1e6,
                h.memory_per_call_bytes
                    .map_or("-".to_owned(), |b| format!("{:.0} kB", b / 1e3))
            ),
        ),
        row(
            "CPU per call-second",
            format!(
                "call loops {}; service loops {}",
                h.cpu_s_per_call_second
                    .map_or("-".to_owned(), |c| format!("{:.2} ms", c * 1e3)),
                h.service_cpu_s_per_call_second
                    .map_or("-".to_owned(), |c| format!("{:.2} ms", c * 1e3))
            ),
        ),
        row(
            "Event loops",
            h.loops
                .iter()
                .map(|l| {
                    format!(
                        "{} loop: {:.1} s CPU, {} sockets, {} drops",
                        l.role,
                        l.cpu_s,
                        l.sockets,
                        l.receive_drops
                            .map_or("unreadable".to_owned(), |d| d.to_string())
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        row(
            "Send lateness over the run",
            format!(
                "p50 {}, p99 {}, max {}",
                ms(quantile(&t.send_lateness_us, 0.5)),
                ms(quantile(&t.send_lateness_us, 0.99)),
                ms(quantile(&t.send_lateness_us, 1.0))
            ),
        ),
        row(
            "Unmatched traffic",
            format!(
                "{} messages matched no call; {} recording sessions could be tied to no call",
                h.stray_messages, h.unattributed_recordings
            ),
        ),
    ];
    let health = &r.health;
    let health_line = if health.healthy {
        "The harness kept its schedule throughout (no kernel drops on its sockets, send \
         lateness p99 within 5 ms, no loop saturated): the figures below are the SUT's."
            .to_owned()
    } else {
        format!(
            "The harness itself was overloaded at times, so its figures are trustworthy only \
             up to {} open calls{}; beyond that, late sends and drops are the harness's, not \
             the SUT's.",
            health
                .trusted_up_to_active
                .map_or("no".to_owned(), |a| a.to_string()),
            health
                .trusted_up_to_cps
                .map_or(String::new(), |c| format!(" and {c:.1} calls/s"))
        )
    };
    let count_rows = |m: &std::collections::BTreeMap<String, u64>| -> Vec<Row> {
        let mut v: Vec<(&String, &u64)> = m.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.into_iter()
            .map(|(k, n)| Row {
                name: k.clone(),
                value: n.to_string(),
                class: "fail",
            })
            .collect()
    };
    // The failed calls, from the result log as the run wrote it.
    let mut failed = Vec::new();
    let mut failed_more = 0u64;
    if let Ok(text) = fs::read_to_string(run_dir.join("calls.jsonl")) {
        for line in text.lines() {
            let Ok(rec) = serde_json::from_str::<CallRecord>(line) else {
                continue;
            };
            let Some(f) = &rec.failure else {
                continue;
            };
            if failed.len() >= FAILED_CALLS_SHOWN {
                failed_more += 1;
                continue;
            }
            let why: Vec<String> = rec
                .checks
                .iter()
                .filter(|c| c.fails_call)
                .map(|c| {
                    format!(
                        "{} {}: {}",
                        c.requirement.as_deref().unwrap_or("-"),
                        c.id,
                        c.observed
                    )
                })
                .collect();
            failed.push(FailedCall {
                index: rec.index,
                class: f.class_key(),
                why: if why.is_empty() {
                    serde_json::to_string(f).unwrap_or_default()
                } else {
                    why.join(" | ")
                },
                evidence: rec
                    .evidence
                    .iter()
                    .map(|f| {
                        let name = f.rsplit('/').next().unwrap_or(f).to_owned();
                        (f.clone(), name)
                    })
                    .collect(),
            });
        }
    }
    let passed = r.passed();
    let page = LoadPage {
        tool_version: r.tool_version.clone(),
        generated: jiff::Timestamp::now().to_string(),
        title: format!(
            "Load report: {}",
            r.target
                .sut
                .clone()
                .unwrap_or_else(|| r.target.mode.clone())
        ),
        verdict_line: format!(
            "{} of {} calls passed; {}",
            t.passed,
            t.ended,
            if passed {
                "every threshold met"
            } else {
                "a threshold failed"
            }
        ),
        verdict_class: if passed { "pass" } else { "fail" },
        facts,
        thresholds,
        health_line,
        health_class: if health.healthy { "pass" } else { "warn" },
        health_problems: health.problems.clone(),
        harness,
        classes: count_rows(&t.failed_by_class),
        requirements: count_rows(&t.failed_requirements),
        checks: count_rows(&t.failed_checks),
        plots,
        failed,
        failed_more,
    };
    let html = page.render().map_err(|source| ReportError::Template {
        page: "index.html".into(),
        source,
    })?;
    fs::write(&summary.index, html).map_err(io_err(&summary.index))?;
    Ok(summary)
}
