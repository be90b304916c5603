//! `recproof report RUN_DIR` renders a run directory's report again (from its
//! `results.json` and observation log), and `recproof judge LOG.jsonl [--sut PROFILE]`
//! re-runs the checks offline on a saved observation log.
//!
//! This module parses arguments, prints and maps outcomes to exit codes. Rendering is
//! `recproof-report`; offline judging is `recproof_suite::judge`.

use crate::exit;
use anyhow::Context as _;
use checks::Status;
use clap::{Args, ValueEnum};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// `recproof report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// A run directory written by `recproof check` (holding results.json and
    /// observations.jsonl).
    pub(crate) run_dir: PathBuf,
}

/// Renders the report; exit 0 when written, 2 when the run directory is unusable.
pub(crate) fn run_report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    if report::is_load_run(&args.run_dir) {
        let r = report::render_load(&args.run_dir).with_context(|| {
            format!(
                "cannot render the load report of `{}`",
                args.run_dir.display()
            )
        })?;
        println!(
            "load run: {} interval(s), {} plot(s){} in {:.2} s",
            r.intervals,
            r.svgs.len(),
            if r.plot_failures > 0 {
                format!(", {} plot(s) not drawn", r.plot_failures)
            } else {
                String::new()
            },
            started.elapsed().as_secs_f64()
        );
        println!("report: {}", r.index.display());
        return Ok(exit::OK);
    }
    let results_missing = !args.run_dir.join("results.json").exists()
        && args.run_dir.join("observations.jsonl").exists();
    let r = if results_missing {
        // A run killed before it wrote results.json: judge its log again and render that,
        // marked incomplete.
        let path = args.run_dir.join("observations.jsonl");
        let bytes = std::fs::read(&path)
            .with_context(|| format!("cannot read the log `{}`", path.display()))?;
        let text = String::from_utf8_lossy(&bytes);
        let log = observe::read_log(text.as_bytes())
            .with_context(|| format!("cannot read the log `{}`", path.display()))?;
        let judged = suite::judge::judge_log(&log, None);
        match suite::judge::imported_from(&log) {
            Some(capture) => eprintln!(
                "{} holds the log built from the capture {capture}: rendering its verdicts, \
                 {} call(s) judged, {} not judged, {} unreadable line(s)",
                args.run_dir.display(),
                judged.calls.len(),
                judged.unjudged.len(),
                log.problems.len()
            ),
            None => eprintln!(
                "{} has no results.json (the run ended before writing it): rendering from its \
                 observation log alone, {} call(s) judged again, {} not judged, {} unreadable \
                 line(s); the report is marked incomplete",
                args.run_dir.display(),
                judged.calls.len(),
                judged.unjudged.len(),
                log.problems.len()
            ),
        }
        report::render_results(&args.run_dir, suite::judge::rebuilt_results(&log, &judged))
            .with_context(|| {
                format!(
                    "cannot render the report of `{}` from its log",
                    args.run_dir.display()
                )
            })?
    } else {
        report::render(&args.run_dir).with_context(|| {
            format!(
                "cannot render the report of `{}` (is it a run directory of `recproof check`?)",
                args.run_dir.display()
            )
        })?
    };
    println!(
        "{} scenario(s), {} call page(s), {} plot(s), {} compliance page(s); {} requirement(s), {} failed; {} observation(s){}{} in {:.2} s",
        r.scenarios,
        r.call_pages.len(),
        r.svgs.len(),
        r.compliance.len(),
        r.requirements,
        r.requirements_failed,
        r.observations,
        if r.skipped_log_lines > 0 {
            format!(", {} unreadable log line(s) skipped", r.skipped_log_lines)
        } else {
            String::new()
        },
        if r.plot_failures > 0 {
            format!(", {} plot(s) could not be drawn", r.plot_failures)
        } else {
            String::new()
        },
        started.elapsed().as_secs_f64()
    );
    println!("report: {}", r.index.display());
    Ok(exit::OK)
}

/// Output format of `recproof judge`.
#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub(crate) enum Format {
    /// One line per verdict and a summary by requirement.
    #[default]
    Text,
    /// `{"calls": [{"call", "expectation_from", "verdicts": [...]}], "unjudged": [...]}`.
    Json,
}

/// `recproof judge`.
#[derive(Debug, Args)]
pub(crate) struct JudgeArgs {
    /// An observation log (`observations.jsonl` of a run directory, or of `recproof srs`),
    /// a run directory (its `observations.jsonl` is judged), or a packet capture (pcap or
    /// pcapng: the SIP calls and SIPREC sessions in it are read into a log and judged).
    pub(crate) log: PathBuf,
    /// SUT profile: its tolerances replace the recorded ones, and calls the log has no
    /// expectation for are judged against the settings of the profile user they called.
    /// For a capture it also says which address is the SUT and what its announcements
    /// and tones sound like.
    #[arg(long, value_name = "PROFILE.yaml")]
    pub(crate) sut: Option<PathBuf>,
    /// For a capture of a recproof run: the run directory, whose calls' expectations
    /// (matched by the caller's Call-ID) and platform address are used.
    #[arg(long, value_name = "RUN_DIR")]
    pub(crate) expectations: Option<PathBuf>,
    /// For a capture: write the observation log built from it here (`recproof report`
    /// can render a directory holding it as `observations.jsonl`).
    #[arg(long, value_name = "LOG.jsonl")]
    pub(crate) save_log: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
}

/// Re-runs the checks; exit 1 when any verdict FAILs, else 2 when the log cannot be read
/// or any call in it cannot be judged, else 0.
pub(crate) fn run_judge(args: &JudgeArgs) -> anyhow::Result<ExitCode> {
    let path = if args.log.is_dir() {
        args.log.join("observations.jsonl")
    } else {
        args.log.clone()
    };
    let bytes = std::fs::read(&path)
        .with_context(|| format!("cannot read the log `{}`", path.display()))?;
    if crate::capture::is_capture(&bytes) {
        return crate::capture::judge_capture(args, &bytes);
    }
    if args.expectations.is_some() || args.save_log.is_some() {
        anyhow::bail!(
            "`{}` is an observation log, not a capture: --expectations and --save-log are for judging a pcap or pcapng",
            path.display()
        );
    }
    // Lossy: one line that is not UTF-8 is one skipped line, not an unreadable log.
    let text = String::from_utf8_lossy(&bytes);
    let log = observe::read_log(text.as_bytes())
        .with_context(|| format!("cannot read the log `{}`", path.display()))?;
    for p in &log.problems {
        eprintln!(
            "warning: {} line {} skipped: {}",
            path.display(),
            p.line,
            p.reason
        );
    }
    let profile = match &args.sut {
        Some(path) => Some(suite::profile::load(path).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    let judged = suite::judge::judge_log(&log, profile.as_ref());
    finish_judge(&judged, &path, log.observations.len(), args.format)
}

/// Prints what [`suite::judge::judge_log`] found and maps it to the exit code.
pub(crate) fn finish_judge(
    judged: &suite::judge::JudgedLog,
    path: &std::path::Path,
    observations: usize,
    format: Format,
) -> anyhow::Result<ExitCode> {
    for (call, why) in &judged.unjudged {
        eprintln!("warning: call {call} not judged: {why}");
    }
    if judged.calls.is_empty() {
        anyhow::bail!(
            "no call in `{}` could be judged ({} observation(s), {} call(s) without an expectation)",
            path.display(),
            observations,
            judged.unjudged.len()
        );
    }
    let any_fail = judged
        .calls
        .iter()
        .flat_map(|c| &c.verdicts)
        .any(|v| v.status == Status::Fail);
    match format {
        Format::Json => {
            let doc = serde_json::json!({
                "log": path.display().to_string(),
                "calls": judged.calls.iter().map(|c| serde_json::json!({
                    "call": c.call,
                    "expectation_from": match &c.source {
                        suite::judge::ExpectationSource::Log => "log".to_owned(),
                        suite::judge::ExpectationSource::ProfileUser(ext) => format!("profile user {ext}"),
                    },
                    "verdicts": c.verdicts,
                })).collect::<Vec<_>>(),
                "unjudged": judged.unjudged.iter().map(|(c, why)| serde_json::json!({"call": c, "reason": why})).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Format::Text => print_text(judged),
    }
    if any_fail {
        return Ok(exit::FAILED);
    }
    if !judged.unjudged.is_empty() {
        // Nothing failed, but not everything was judged: a gate must not pass on that.
        eprintln!(
            "error: {} call(s) could not be judged (see the warnings above); nothing failed among the {} judged",
            judged.unjudged.len(),
            judged.calls.len()
        );
        return Ok(ExitCode::from(exit::USAGE_CODE));
    }
    Ok(exit::OK)
}

fn print_text(judged: &suite::judge::JudgedLog) {
    let mut by_req: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    for c in &judged.calls {
        let from = match &c.source {
            suite::judge::ExpectationSource::Log => "the expectation in the log".to_owned(),
            suite::judge::ExpectationSource::ProfileUser(ext) => {
                format!("the profile user {ext}'s settings")
            }
        };
        println!("{} (judged against {from})", c.call);
        for v in &c.verdicts {
            println!(
                "  {:<4} {:<10} {}: {}",
                v.status.to_string(),
                v.requirement,
                v.check,
                v.summary
            );
            let e = by_req.entry(v.requirement.as_str()).or_default();
            match v.status {
                Status::Pass => e[0] += 1,
                Status::Fail => e[1] += 1,
                _ => e[2] += 1,
            }
        }
    }
    println!("\nrequirement   pass  fail other");
    for (req, [pass, fail, other]) in &by_req {
        println!("{req:<12} {pass:>5} {fail:>5} {other:>5}");
    }
    println!(
        "{} call(s) judged, {} not judged",
        judged.calls.len(),
        judged.unjudged.len()
    );
}
