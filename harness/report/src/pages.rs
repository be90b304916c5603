//! The HTML pages (askama templates in `templates/`, escaping on) and the order in which
//! the report is written.
//!
//! This module owns the page models (plain strings, prepared here so the templates hold
//! no logic beyond loops), reading the run directory and writing the files. It draws
//! nothing itself ([`crate::plots`], [`crate::ladder`]) and judges nothing.

use crate::compliance::{self, outcome, statements};
use crate::group::{CallLog, Grouped, group};
use crate::results::{
    RunResults, ScenarioResult, ScenarioStatus, Status, StatusWords as _, Verdict,
};
use crate::sip::SipMessage;
use crate::util::{requirement_key, secs, slug, url_segment};
use crate::{COMPLIANCE_CALLS_PER_PAGE, ReportError, ReportSummary, io_err, junit, ladder, plots};
use askama::Template;
use observe::{Actor, Event};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Links listed per requirement on the index before "and N more".
const LINKS_PER_REQUIREMENT: usize = 12;

struct Link {
    href: String,
    text: String,
    class: &'static str,
}

struct ReqRow {
    id: String,
    all_na: bool,
    title: &'static str,
    class: &'static str,
    pass: usize,
    fail: usize,
    warn: usize,
    info: usize,
    na: usize,
    links: Vec<Link>,
    more: usize,
}

struct ScenarioRow {
    call: String,
    href: Option<String>,
    status: String,
    status_class: &'static str,
    feature: String,
    scenario: String,
    failure: Option<String>,
    failed_reqs: String,
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    tool_version: String,
    generated: String,
    sut: String,
    clock_line: String,
    seed_line: String,
    call_time_label: &'static str,
    schema: u32,
    passed: usize,
    failed: usize,
    skipped: usize,
    call_seconds: String,
    wall_seconds: String,
    log_line: String,
    verdict_line: String,
    verdict_class: &'static str,
    compliance_href: String,
    has_cucumber_junit: bool,
    has_certification: bool,
    run_latency: Option<String>,
    has_log: bool,
    reqs: Vec<ReqRow>,
    scenarios: Vec<ScenarioRow>,
    extra_calls: Vec<Link>,
}

struct ScenarioFacts {
    scenario: String,
    feature: String,
    status: String,
    status_class: &'static str,
    tags: String,
    asserted: String,
    failure: Option<String>,
    skip_reason: Option<String>,
}

/// An audio file of a call's evidence, with the words its player is captioned with.
pub(crate) struct Audio {
    /// File name.
    pub(crate) name: String,
    /// Caption.
    pub(crate) label: String,
    /// Link, relative to the page.
    pub(crate) src: String,
}

struct Figure {
    id: &'static str,
    title: &'static str,
    src: Option<String>,
    note: String,
    caption: &'static str,
}

struct EvidenceView {
    t: String,
    actor: String,
    stream: Option<String>,
    detail: String,
}

struct MeasurementView {
    name: String,
    value: String,
    unit: String,
}

struct VerdictView {
    anchor: Option<String>,
    requirement: String,
    title: &'static str,
    check: String,
    word: &'static str,
    class: &'static str,
    summary: String,
    evidence: Vec<EvidenceView>,
    measurements: Vec<MeasurementView>,
}

struct StreamRow {
    stream: String,
    actor: String,
    packets: u64,
    lost: i64,
    duplicates: u64,
    reordered: u64,
    jitter: String,
    ssrc_changes: u64,
}

struct SipView {
    t: String,
    actor: String,
    direction: &'static str,
    from: String,
    to: String,
    transport: String,
    class: &'static str,
    label: String,
    call_id: Option<String>,
    text: String,
}

struct ActionView {
    t: String,
    action: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "call.html")]
struct CallPage {
    tool_version: String,
    generated: String,
    call: String,
    compliance_href: String,
    prev: Option<String>,
    next: Option<String>,
    scenarios: Vec<ScenarioFacts>,
    window: String,
    verdict_counts: String,
    audio: Vec<Audio>,
    pcap: Option<String>,
    evidence_error: Option<String>,
    figures: Vec<Figure>,
    verdicts: Vec<VerdictView>,
    streams: Vec<StreamRow>,
    sip: Vec<SipView>,
    actions: Vec<ActionView>,
}

struct ParagraphView {
    requirement: String,
    title: &'static str,
    outcome: &'static str,
    class: &'static str,
    text: String,
    href: Option<String>,
}

struct ComplianceCall {
    call: String,
    href: Option<String>,
    scenario: String,
    feature: String,
    status: String,
    status_class: &'static str,
    audio: Vec<Audio>,
    paragraphs: Vec<ParagraphView>,
    protocol: Option<String>,
    not_applicable: String,
}

struct PageLink {
    number: usize,
    href: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "compliance.html")]
struct CompliancePage {
    tool_version: String,
    generated: String,
    sut: String,
    clock: String,
    calls_total: usize,
    verdict_line: String,
    verdict_class: &'static str,
    page: usize,
    pages: Vec<PageLink>,
    calls: Vec<ComplianceCall>,
}

fn scenario_status_class(status: ScenarioStatus) -> &'static str {
    match status {
        ScenarioStatus::Passed => "pass",
        ScenarioStatus::Failed => "fail",
        ScenarioStatus::Skipped => "warn",
    }
}

fn write(path: &Path, contents: &str, written: &mut Vec<PathBuf>) -> Result<(), ReportError> {
    fs::write(path, contents).map_err(io_err(path))?;
    written.push(path.to_path_buf());
    Ok(())
}

fn template_err(page: &str) -> impl FnOnce(askama::Error) -> ReportError + '_ {
    move |source| ReportError::Template {
        page: page.to_owned(),
        source,
    }
}

fn compliance_file(page: usize) -> String {
    if page <= 1 {
        "compliance.html".to_owned()
    } else {
        format!("compliance-{page}.html")
    }
}

fn format_value(value: Option<f64>, unit: &str) -> String {
    match value {
        None => "—".to_owned(),
        Some(v) if !v.is_finite() => v.to_string(),
        Some(v) => match unit {
            "s" => format!("{v:.3}"),
            "ms" => format!("{v:.1}"),
            _ if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
            _ => format!("{v:.3}"),
        },
    }
}

fn seconds(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1} s")
    } else {
        "—".to_owned()
    }
}

fn stream_label(stem: &str) -> String {
    match stem {
        "caller.heard" => "What the caller heard".to_owned(),
        "callee.heard" => "What the callee heard".to_owned(),
        s => match s.strip_prefix("srs.") {
            Some(label) => format!("What the recorder received on stream {label}"),
            None => match s.strip_prefix("recorder-") {
                Some(file) => format!("What the recorder wrote: {file}"),
                None => s.to_owned(),
            },
        },
    }
}

/// WAVs and the pcap in `dir` (names percent-encoded for links relative to `prefix`).
pub(crate) fn evidence_files(dir: &Path, prefix: &str) -> (Vec<Audio>, Option<String>) {
    let mut audio = Vec::new();
    let mut pcap = None;
    let Ok(entries) = fs::read_dir(dir) else {
        return (audio, pcap);
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort_by_key(|n| {
        let rank = match n.as_str() {
            "caller.heard.wav" => 0,
            "callee.heard.wav" => 1,
            _ => 2,
        };
        (rank, n.clone())
    });
    for name in names {
        let lower = name.to_ascii_lowercase();
        let src = format!("{prefix}{}", url_segment(&name));
        if let Some(stem) = lower.strip_suffix(".wav") {
            let stem = &name[..stem.len()];
            audio.push(Audio {
                label: stream_label(stem),
                name,
                src,
            });
        } else if lower == "call.pcap" || (pcap.is_none() && lower.ends_with(".pcap")) {
            pcap = Some(src);
        }
    }
    (audio, pcap)
}

/// A call's identity in the report.
struct CallEntry {
    label: String,
    slug: String,
    scenarios: Vec<usize>,
}

/// Orders the calls (scenarios' calls first, in run order, then calls only in the log)
/// and gives each a unique file name.
fn call_entries(results: &RunResults, grouped: &Grouped) -> Vec<CallEntry> {
    let mut entries: Vec<CallEntry> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, s) in results.scenarios.iter().enumerate() {
        let Some(call) = &s.call else { continue };
        let at = *index.entry(call.clone()).or_insert_with(|| {
            entries.push(CallEntry {
                label: call.clone(),
                slug: String::new(),
                scenarios: Vec::new(),
            });
            entries.len() - 1
        });
        entries[at].scenarios.push(i);
    }
    for call in grouped.calls.keys() {
        if !index.contains_key(call) {
            index.insert(call.clone(), entries.len());
            entries.push(CallEntry {
                label: call.clone(),
                slug: String::new(),
                scenarios: Vec::new(),
            });
        }
    }
    let mut used: HashSet<String> = HashSet::new();
    for e in &mut entries {
        let base = slug(&e.label);
        let mut candidate = base.clone();
        let mut n = 2;
        while !used.insert(candidate.to_ascii_lowercase()) {
            candidate = format!("{base}-{n}");
            n += 1;
        }
        e.slug = candidate;
    }
    entries
}

fn verdict_line(results: &RunResults, failed_reqs: usize) -> (String, &'static str) {
    if results.scenarios.is_empty() {
        return ("No scenario ran.".to_owned(), "warn");
    }
    // Counted from the scenarios, not the document's totals (a partial results.json
    // may lack them).
    let total = results.scenarios.len();
    let failed = results
        .scenarios
        .iter()
        .filter(|s| s.status == ScenarioStatus::Failed)
        .count();
    let skipped = results
        .scenarios
        .iter()
        .filter(|s| s.status == ScenarioStatus::Skipped)
        .count();
    let interrupted = if results.interrupted {
        "The run was interrupted (Ctrl-C, or it ended before writing its results): it is incomplete. "
    } else {
        ""
    };
    if failed == 0 && failed_reqs == 0 && skipped == 0 && !results.interrupted {
        (
            format!("All {total} scenario(s) passed and no requirement failed."),
            "pass",
        )
    } else if failed == 0 && failed_reqs == 0 {
        (
            format!(
                "{interrupted}{} of {total} scenario(s) passed and none failed; {skipped} did not run (see the scenario list).",
                total - skipped
            ),
            "warn",
        )
    } else {
        (
            format!(
                "{interrupted}{} of {total} scenario(s) failed{}; {failed_reqs} requirement(s) failed on at least one call.",
                failed,
                if skipped > 0 {
                    format!(" and {skipped} did not run")
                } else {
                    String::new()
                }
            ),
            "fail",
        )
    }
}

fn read_results(run_dir: &Path) -> Result<RunResults, ReportError> {
    let path = run_dir.join("results.json");
    let bytes = fs::read(&path).map_err(io_err(&path))?;
    checks::results::read(&bytes).map_err(|source| ReportError::Results { path, source })
}

fn read_log(run_dir: &Path) -> Result<(Option<Grouped>, usize), ReportError> {
    let path = run_dir.join("observations.jsonl");
    let file = match fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((None, 0)),
        Err(e) => return Err(io_err(&path)(e)),
    };
    // `read_log` stops at an I/O error (including a line that is not UTF-8); read bytes
    // and decode lossily so one bad line is one problem, not a failed report.
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::BufReader::new(file), &mut bytes)
        .map_err(io_err(&path))?;
    let text = String::from_utf8_lossy(&bytes);
    let log = observe::read_log(text.as_bytes()).map_err(io_err(&path))?;
    let problems = log.problems.len();
    Ok((Some(group(log)), problems))
}

/// Renders everything; see [`crate::render`].
pub(crate) fn render_all(run_dir: &Path) -> Result<ReportSummary, ReportError> {
    render_with(run_dir, read_results(run_dir)?)
}

/// [`render_all`] with the results given.
pub(crate) fn render_with(
    run_dir: &Path,
    results: RunResults,
) -> Result<ReportSummary, ReportError> {
    let (grouped, skipped_lines) = read_log(run_dir)?;
    let has_log = grouped.is_some();
    let grouped = grouped.unwrap_or_default();
    let generated = jiff::Timestamp::now()
        .strftime("%Y-%m-%d %H:%M:%S UTC")
        .to_string();
    let tool_version = if results.tool_version.is_empty() {
        grouped
            .run
            .as_ref()
            .map(|r| r.tool_version.clone())
            .unwrap_or_default()
    } else {
        results.tool_version.clone()
    };
    let entries = call_entries(&results, &grouped);
    let slug_of: HashMap<&str, &str> = entries
        .iter()
        .map(|e| (e.label.as_str(), e.slug.as_str()))
        .collect();
    let calls_dir = run_dir.join("calls");
    fs::create_dir_all(&calls_dir).map_err(io_err(&calls_dir))?;

    let mut summary = ReportSummary {
        scenarios: results.scenarios.len(),
        calls: entries.len(),
        observations: grouped.observations,
        skipped_log_lines: skipped_lines,
        unassigned_observations: grouped.unassigned,
        ..ReportSummary::default()
    };
    let mut written = Vec::new();

    // Requirement JUnit.
    let (junit_xml, failed_reqs) = junit::run_junit(&results)?;
    let junit_path = run_dir.join("junit.xml");
    write(&junit_path, &junit_xml, &mut written)?;
    summary.junit = junit_path;
    let by_req = junit::by_requirement(&results);
    summary.requirements = by_req.len();
    summary.requirements_failed = failed_reqs;
    summary.verdicts = results.scenarios.iter().map(|s| s.verdicts.len()).sum();
    summary.verdicts_failed = results
        .scenarios
        .iter()
        .flat_map(|s| &s.verdicts)
        .filter(|v| v.status == Status::Fail)
        .count();
    let (line, class) = verdict_line(&results, failed_reqs);

    // Per-call pages.
    let empty = CallLog::default();
    for (i, e) in entries.iter().enumerate() {
        let call_log = grouped.calls.get(&e.label).unwrap_or(&empty);
        let scenarios: Vec<&ScenarioResult> =
            e.scenarios.iter().map(|i| &results.scenarios[*i]).collect();
        let page = call_page(
            run_dir,
            e,
            call_log,
            &scenarios,
            &results.tolerances,
            has_log,
            CallNav {
                prev: i
                    .checked_sub(1)
                    .map(|p| format!("{}.html", url_segment(&entries[p].slug))),
                next: entries
                    .get(i + 1)
                    .map(|n| format!("{}.html", url_segment(&n.slug))),
                tool_version: &tool_version,
                generated: &generated,
                compliance_href: compliance_file(i / COMPLIANCE_CALLS_PER_PAGE + 1),
            },
            &mut summary,
        )?;
        let path = calls_dir.join(format!("{}.html", e.slug));
        write(&path, &page, &mut written)?;
        summary.call_pages.push(path);
    }

    // Latency across the run (index figure).
    let per_call: Vec<Vec<plots::LatencyRow>> = entries
        .iter()
        .map(|e| {
            let call_log = grouped.calls.get(&e.label).unwrap_or(&empty);
            let scenarios: Vec<&ScenarioResult> =
                e.scenarios.iter().map(|i| &results.scenarios[*i]).collect();
            plots::latency_rows(call_log, &call_verdicts(&scenarios))
        })
        .collect();
    let run_rows = plots::run_latency_rows(&per_call);
    let run_latency = if run_rows.is_empty() {
        None
    } else {
        match plots::latency_svg(&run_rows) {
            Ok(svg) => {
                let path = run_dir.join("latency.svg");
                fs::write(&path, svg).map_err(io_err(&path))?;
                summary.svgs.push(path);
                Some("latency.svg".to_owned())
            }
            Err(_) => {
                summary.plot_failures += 1;
                None
            }
        }
    };

    // Index.
    let reqs = by_req
        .iter()
        .map(|((_, _, _, id), verdicts)| {
            let count = |s: Status| verdicts.iter().filter(|v| v.status == s).count();
            // The calls where it failed, then the scenarios that name it (tags, asserted).
            let mut calls: Vec<(&str, bool)> = Vec::new();
            for v in verdicts.iter().filter(|v| v.status == Status::Fail) {
                if let Some(c) = v.call.as_deref()
                    && !calls.iter().any(|(x, _)| *x == c)
                {
                    calls.push((c, true));
                }
            }
            for s in &results.scenarios {
                let names = s
                    .tags
                    .iter()
                    .chain(&s.asserted)
                    .any(|t| t.trim_start_matches('@') == id.as_str());
                if let Some(c) = s.call.as_deref()
                    && names
                    && !calls.iter().any(|(x, _)| *x == c)
                {
                    calls.push((c, false));
                }
            }
            // Single-message rules no scenario names still have verdicts on every call:
            // link the calls that judged it (WARN/INFO first, as those need a look).
            if calls.is_empty() {
                let mut judged: Vec<&Verdict> = verdicts
                    .iter()
                    .copied()
                    .filter(|v| v.status != Status::NotApplicable)
                    .collect();
                judged.sort_by_key(|v| std::cmp::Reverse(severity_rank(v.status)));
                for v in judged {
                    if let Some(c) = v.call.as_deref()
                        && !calls.iter().any(|(x, _)| *x == c)
                    {
                        calls.push((c, false));
                    }
                }
            }
            let links: Vec<Link> = calls
                .iter()
                .filter_map(|(c, failed)| {
                    let s = slug_of.get(c)?;
                    Some(Link {
                        href: format!("calls/{}.html#{}", url_segment(s), anchor(id)),
                        text: (*c).to_owned(),
                        class: if *failed { "fail" } else { "" },
                    })
                })
                .collect();
            let more = links.len().saturating_sub(LINKS_PER_REQUIREMENT);
            let fail = count(Status::Fail);
            ReqRow {
                id: id.clone(),
                title: compliance::title(id),
                class: if fail > 0 {
                    "fail"
                } else if count(Status::Warn) > 0 {
                    "warn"
                } else if count(Status::Pass) > 0 {
                    "pass"
                } else {
                    "other"
                },
                all_na: verdicts.iter().all(|v| v.status == Status::NotApplicable),
                pass: count(Status::Pass),
                fail,
                warn: count(Status::Warn),
                info: count(Status::Info),
                na: count(Status::NotApplicable),
                links: links.into_iter().take(LINKS_PER_REQUIREMENT).collect(),
                more,
            }
        })
        .collect();
    let scenarios = results
        .scenarios
        .iter()
        .map(|s| {
            let ids = |it: &mut dyn Iterator<Item = &Verdict>| {
                let mut v: Vec<&str> = it.map(|v| v.requirement.as_str()).collect();
                v.sort_by_key(|r| requirement_key(r));
                v.dedup();
                v.join(", ")
            };
            let asserted = ids(&mut s.asserted_failures());
            let not_judged = ids(&mut s.asserted_not_judged());
            let collateral = ids(&mut s.collateral_failures());
            let mut failed = Vec::new();
            if !asserted.is_empty() {
                failed.push(asserted);
            }
            if !not_judged.is_empty() {
                failed.push(format!("not judged: {not_judged}"));
            }
            if !collateral.is_empty() {
                failed.push(format!("collateral: {collateral}"));
            }
            ScenarioRow {
                call: s.call.clone().unwrap_or_else(|| "—".to_owned()),
                href: s
                    .call
                    .as_deref()
                    .and_then(|c| slug_of.get(c))
                    .map(|sl| format!("calls/{}.html", url_segment(sl))),
                status: s.status.as_str().to_owned(),
                status_class: scenario_status_class(s.status),
                feature: s.feature.clone(),
                scenario: s.scenario.clone(),
                failure: s.failure.clone().or_else(|| s.skip_reason.clone()),
                failed_reqs: failed.join("; "),
            }
        })
        .collect();
    let extra_calls = entries
        .iter()
        .filter(|e| e.scenarios.is_empty())
        .map(|e| Link {
            href: format!("calls/{}.html", url_segment(&e.slug)),
            text: e.label.clone(),
            class: "",
        })
        .collect();
    let run = grouped.run.as_ref();
    let pick = |a: &str, b: Option<String>| {
        if a.is_empty() {
            b.unwrap_or_else(|| "—".to_owned())
        } else {
            a.to_owned()
        }
    };
    let sut = pick(&results.sut, run.map(|r| r.sut.clone()));
    let clock = pick(
        &results.clock,
        run.map(|r| format!("{:?}", r.clock).to_ascii_lowercase()),
    );
    let seed = if results.seed == 0 {
        run.map_or(0, |r| r.seed)
    } else {
        results.seed
    };
    let log_line = if has_log {
        let mut l = format!("{} observation(s)", grouped.observations);
        if skipped_lines > 0 {
            l.push_str(&format!("; {skipped_lines} unreadable line(s) skipped"));
        }
        if grouped.unassigned > 0 {
            l.push_str(&format!(
                "; {} unlabelled observation(s) outside every call's time window",
                grouped.unassigned
            ));
        }
        if let Some(r) = run {
            l.push_str(&format!(" (log schema {})", r.schema));
        }
        l
    } else {
        "observations.jsonl is missing: pages show verdicts only, without plots".to_owned()
    };
    let real = clock == "real";
    let index = IndexPage {
        tool_version: tool_version.clone(),
        generated: generated.clone(),
        sut: sut.clone(),
        clock_line: if real {
            "real (the wall clock; calls in real time against the SUT)".to_owned()
        } else {
            "simulated (a deterministic network and clock; call time runs faster than wall time)"
                .to_owned()
        },
        seed_line: if real {
            format!("{seed} (fixes the test audio and timing; SIP identifiers are drawn fresh for every call)")
        } else {
            format!("{seed} (the same seed gives the same run)")
        },
        call_time_label: if real { "Call time" } else { "Simulated call time" },
        schema: results.schema,
        passed: results.passed,
        failed: results.failed,
        skipped: results.skipped,
        call_seconds: seconds(results.call_seconds),
        wall_seconds: seconds(results.wall_seconds),
        log_line,
        verdict_line: line.clone(),
        verdict_class: class,
        compliance_href: compliance_file(1),
        has_cucumber_junit: run_dir.join("cucumber-junit.xml").is_file(),
        has_certification: crate::certification::is_recorder_run(&results),
        run_latency,
        has_log,
        reqs,
        scenarios,
        extra_calls,
    }
    .render()
    .map_err(template_err("index.html"))?;
    let index_path = run_dir.join("index.html");
    write(&index_path, &index, &mut written)?;
    summary.index = index_path;

    // Recorder certification page.
    if crate::certification::is_recorder_run(&results) {
        let slugs: BTreeMap<String, String> = entries
            .iter()
            .map(|e| (e.label.clone(), e.slug.clone()))
            .collect();
        let html = crate::certification::render(
            run_dir,
            &results,
            &slugs,
            &tool_version,
            &generated,
            &compliance_file(1),
        )
        .map_err(template_err("certification.html"))?;
        write(&run_dir.join("certification.html"), &html, &mut written)?;
    }

    // Compliance pages.
    let chunks: Vec<&[CallEntry]> = if entries.is_empty() {
        vec![&[]]
    } else {
        entries.chunks(COMPLIANCE_CALLS_PER_PAGE).collect()
    };
    let page_count = chunks.len();
    for (p, chunk) in chunks.iter().enumerate() {
        let calls = chunk
            .iter()
            .map(|e| compliance_call(run_dir, e, &results))
            .collect();
        let page = CompliancePage {
            tool_version: tool_version.clone(),
            generated: generated.clone(),
            sut: sut.clone(),
            clock: clock.clone(),
            calls_total: entries.len(),
            verdict_line: line.clone(),
            verdict_class: class,
            page: p + 1,
            pages: (1..=page_count)
                .map(|n| PageLink {
                    number: n,
                    href: compliance_file(n),
                    current: n == p + 1,
                })
                .collect(),
            calls,
        }
        .render()
        .map_err(template_err("compliance.html"))?;
        let path = run_dir.join(compliance_file(p + 1));
        write(&path, &page, &mut written)?;
        summary.compliance.push(path);
    }
    Ok(summary)
}

/// Orders statuses for the index links: the ones that need a look first.
fn severity_rank(s: Status) -> u8 {
    match s {
        Status::Fail => 4,
        Status::Warn => 2,
        Status::Info => 1,
        Status::Pass | Status::NotApplicable => 0,
    }
}

/// The id of a requirement's first verdict row on a call page.
fn anchor(requirement: &str) -> String {
    format!("req-{}", slug(requirement))
}

struct CallNav<'a> {
    prev: Option<String>,
    next: Option<String>,
    tool_version: &'a str,
    generated: &'a str,
    compliance_href: String,
}

fn call_verdicts<'a>(scenarios: &[&'a ScenarioResult]) -> Vec<&'a Verdict> {
    scenarios.iter().flat_map(|s| &s.verdicts).collect()
}

#[allow(clippy::too_many_arguments)]
fn call_page(
    run_dir: &Path,
    e: &CallEntry,
    log: &CallLog,
    scenarios: &[&ScenarioResult],
    tolerances: &checks::Tolerances,
    has_log: bool,
    nav: CallNav<'_>,
    summary: &mut ReportSummary,
) -> Result<String, ReportError> {
    let dir = run_dir.join("calls").join(&e.slug);
    let prefix = format!("{}/", url_segment(&e.slug));
    let verdicts = call_verdicts(scenarios);
    let sip: Vec<SipMessage> = crate::sip::messages(&log.observations);
    let (audio, pcap) = evidence_files(&dir, &prefix);

    // Plots.
    let mut figures = Vec::new();
    let mut svgs: Vec<(&'static str, String)> = Vec::new();
    let mut figure = |id: &'static str,
                      title: &'static str,
                      caption: &'static str,
                      drawn: Result<String, String>,
                      summary: &mut ReportSummary| {
        match drawn {
            Ok(svg) => {
                let file = format!("{id}.svg");
                figures.push(Figure {
                    id,
                    title,
                    src: Some(format!("{prefix}{file}")),
                    note: String::new(),
                    caption,
                });
                svgs.push((id, svg));
            }
            Err(note) => {
                if !note.starts_with("no ") {
                    summary.plot_failures += 1;
                }
                figures.push(Figure {
                    id,
                    title,
                    src: None,
                    note,
                    caption,
                });
            }
        }
    };
    if has_log && !log.observations.is_empty() {
        let data = plots::timeline_data(log, scenarios);
        figure(
            "timeline",
            "Timeline",
            "One lane per stream: what each party heard and what the recorder received on each recorded stream (shaded yellow where recording was paused), with the SIP messages on top.",
            plots::timeline_svg(&data, &sip),
            summary,
        );
        let reminder = plots::reminder_data(scenarios, tolerances);
        let drawn = if reminder.is_empty() {
            Err("no reminder tones were heard on this call".to_owned())
        } else {
            plots::reminder_svg(&reminder)
        };
        figure(
            "reminder",
            "Reminder-tone intervals",
            "Each measured interval between reminder tones (POL-06) against the configured interval and its tolerance band; points outside the band are drawn larger, in red.",
            drawn,
            summary,
        );
        let rows = plots::latency_rows(log, &verdicts);
        figure(
            "latency",
            "Latency",
            "Mouth-to-ear and party-to-recorder latency per stream (p50 to p95 box, min to max whiskers), answer-to-media delay and front clipping (RP-LATENCY, POL-01).",
            plots::latency_svg(&rows),
            summary,
        );
        let drawn = if sip.is_empty() {
            Err("no SIP messages were observed on this call".to_owned())
        } else {
            Ok(ladder::ladder_svg(&sip))
        };
        figure(
            "ladder",
            "SIP ladder",
            "Every SIP message of the call in time order, between the caller, the platform, the callee and the recorder (hover an arrow for the message's first lines).",
            drawn,
            summary,
        );
    } else {
        figure(
            "timeline",
            "Timeline",
            "",
            Err(if has_log {
                "no observations of this call in the log".to_owned()
            } else {
                "no observation log in the run directory".to_owned()
            }),
            summary,
        );
    }
    if !svgs.is_empty() {
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    }
    for (id, svg) in svgs {
        let path = dir.join(format!("{id}.svg"));
        fs::write(&path, svg).map_err(io_err(&path))?;
        summary.svgs.push(path);
    }

    // Verdicts.
    let mut seen_req: HashSet<&str> = HashSet::new();
    let verdict_views = verdicts
        .iter()
        .map(|v| VerdictView {
            anchor: seen_req
                .insert(v.requirement.as_str())
                .then(|| anchor(&v.requirement)),
            requirement: v.requirement.clone(),
            title: compliance::title(&v.requirement),
            check: v.check.clone(),
            word: v.status.word(),
            class: v.status.class(),
            summary: v.summary.clone(),
            evidence: v
                .evidence
                .iter()
                .map(|ev| EvidenceView {
                    t: secs(ev.t_us),
                    actor: ev.actor.clone(),
                    stream: ev.stream.clone(),
                    detail: ev.detail.clone(),
                })
                .collect(),
            measurements: v
                .measurements
                .iter()
                .map(|m| MeasurementView {
                    name: m.name.clone(),
                    value: format_value(Some(m.value), &m.unit),
                    unit: m.unit.clone(),
                })
                .collect(),
        })
        .collect();
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for v in &verdicts {
        *counts.entry(v.status.word()).or_default() += 1;
    }
    let verdict_counts = if counts.is_empty() {
        "none".to_owned()
    } else {
        counts
            .iter()
            .map(|(w, n)| format!("{n} {w}"))
            .collect::<Vec<_>>()
            .join(", ")
    };

    let mut streams = Vec::new();
    let mut actions = Vec::new();
    for o in &log.observations {
        match &o.event {
            Event::RtpStats {
                stream,
                packets,
                lost,
                duplicates,
                reordered,
                jitter_ms,
                ssrc_changes,
            } => streams.push(StreamRow {
                stream: stream.clone(),
                actor: actor_name(o.actor).to_owned(),
                packets: *packets,
                lost: *lost,
                duplicates: *duplicates,
                reordered: *reordered,
                jitter: format!("{jitter_ms:.2}"),
                ssrc_changes: *ssrc_changes,
            }),
            Event::PlatformAction { action, detail } => actions.push(ActionView {
                t: secs(o.t_us),
                action: action.clone(),
                detail: detail.clone(),
            }),
            _ => {}
        }
    }
    let sip_views = sip
        .iter()
        .map(|m| SipView {
            t: secs(m.t_us),
            actor: actor_name(m.actor).to_owned(),
            direction: if m.sent { "sent" } else { "received" },
            from: m.from.clone(),
            to: m.to.clone(),
            transport: m.transport.clone(),
            class: m.class(),
            label: m.label.clone(),
            call_id: m.call_id.clone(),
            text: crate::util::truncate(&m.text, 64 * 1024),
        })
        .collect();
    let window = if log.observations.is_empty() {
        "no observations".to_owned()
    } else {
        format!(
            "{} to {} on the run clock ({} observation(s))",
            secs(log.start_us),
            secs(log.end_us),
            log.observations.len()
        )
    };
    CallPage {
        tool_version: nav.tool_version.to_owned(),
        generated: nav.generated.to_owned(),
        call: e.label.clone(),
        compliance_href: nav.compliance_href,
        prev: nav.prev,
        next: nav.next,
        scenarios: scenarios
            .iter()
            .map(|s| ScenarioFacts {
                scenario: s.scenario.clone(),
                feature: s.feature.clone(),
                status: s.status.as_str().to_owned(),
                status_class: scenario_status_class(s.status),
                tags: s.tags.join(", "),
                asserted: s.asserted.join(", "),
                failure: s.failure.clone(),
                skip_reason: s.skip_reason.clone(),
            })
            .collect(),
        window,
        verdict_counts,
        audio,
        pcap,
        evidence_error: scenarios.iter().find_map(|s| s.evidence_error.clone()),
        figures,
        verdicts: verdict_views,
        streams,
        sip: sip_views,
        actions,
    }
    .render()
    .map_err(template_err("call.html"))
}

fn actor_name(a: Actor) -> &'static str {
    match a {
        Actor::Caller => "caller",
        Actor::Callee => "callee",
        Actor::Srs => "recorder",
        Actor::Platform => "platform",
        Actor::Harness => "harness",
        Actor::Capture => "capture",
        Actor::Src => "src",
    }
}

fn compliance_call(run_dir: &Path, e: &CallEntry, results: &RunResults) -> ComplianceCall {
    let scenarios: Vec<&ScenarioResult> =
        e.scenarios.iter().map(|i| &results.scenarios[*i]).collect();
    let verdicts = call_verdicts(&scenarios);
    let st = statements(&verdicts);
    let page = format!("calls/{}.html", url_segment(&e.slug));
    let (audio, _) = evidence_files(
        &run_dir.join("calls").join(&e.slug),
        &format!("calls/{}/", url_segment(&e.slug)),
    );
    let first = scenarios.first();
    ComplianceCall {
        call: e.label.clone(),
        href: Some(page.clone()),
        scenario: first.map_or_else(|| "(no scenario)".to_owned(), |s| s.scenario.clone()),
        feature: first.map_or_else(String::new, |s| s.feature.clone()),
        status: first.map_or_else(|| "—".to_owned(), |s| s.status.as_str().to_owned()),
        status_class: first.map_or("other", |s| scenario_status_class(s.status)),
        audio,
        protocol: st.protocol,
        paragraphs: st
            .paragraphs
            .into_iter()
            .map(|p| ParagraphView {
                href: Some(format!("{page}#{}", anchor(&p.requirement))),
                outcome: outcome(p.status),
                class: p.status.class(),
                requirement: p.requirement,
                title: p.title,
                text: p.text,
            })
            .collect(),
        not_applicable: st.not_applicable.join(", "),
    }
}
