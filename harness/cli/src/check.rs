//! `recproof check`: run the conformance suite (the Gherkin features) and write the run
//! directory (observation log, `results.json`, `cucumber-junit.xml`) and renders its
//! report (`index.html`, `compliance.html`, per-call pages and plots, `junit.xml`).
//!
//! With no `--sut`, the suite runs against the embedded reference platform under the
//! simulated clock (optionally with a `--fault` profile or a legal `--variant`). With
//! `--sut PROFILE.yaml` it runs against that external system under test in real time, one
//! scenario at a time; a scenario whose stated settings no test user of the profile has,
//! or that needs what the profile says the SUT does not offer, is SKIPPED and listed.
//! This module parses arguments, prints the requirement summary (failed scenarios with
//! their asserted and collateral failures apart) and maps the outcome to exit codes: 0
//! nothing failed and at least one scenario ran (skips with a reason are printed but
//! allowed), 1 any scenario failed (a FAIL verdict anywhere in its call fails it) or none
//! ran, 2 bad usage or configuration (including a bad profile).

use crate::exit;
use anyhow::Context as _;
use platform::{Fault, Variant};
use roles::srs_fault::SrsFault;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use suite::{RunResults, SuiteOptions, run_suite};

/// Arguments of `recproof check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// Feature files, or one directory of them (default: the built-in features, written
    /// into the run directory's `features/`; `recproof features export DIR` to edit them).
    #[arg(value_name = "FEATURES")]
    pub(crate) features: Vec<PathBuf>,
    /// An external system under test (SUT profile YAML). Without it the suite runs
    /// against the embedded reference platform.
    #[arg(long, value_name = "PROFILE.yaml")]
    pub(crate) sut: Option<PathBuf>,
    /// Only scenarios matching this tag expression, e.g. `@POL-04 or @POL-06`.
    #[arg(long, value_name = "EXPR")]
    pub(crate) tags: Option<String>,
    /// Run the embedded platform with this fault profile (`recproof platform
    /// --list-faults`); the suite should then fail the scenarios of its requirement.
    #[arg(long, value_name = "NAME")]
    pub(crate) fault: Option<String>,
    /// Run the embedded platform as this legal variant (`recproof platform
    /// --list-variants`): other choices the RFCs allow; every scenario should still pass.
    #[arg(long, value_name = "NAME")]
    pub(crate) variant: Option<String>,
    /// Run directory (default `reports/<timestamp>/`).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// Base seed of the simulation (same seed, same run).
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Scenarios simulated at once.
    #[arg(long, default_value_t = 2)]
    pub(crate) jobs: usize,
    /// Judge a recorder instead of a platform: run the `@recorder` scenarios
    /// (`features/recorder/`), recproof playing the platform against the embedded SRS
    /// emulator; `--fault srs-…` makes the emulator play a recorder bug
    /// (`recproof check --list-recorder-faults`).
    #[arg(long)]
    pub(crate) recorder: bool,
    /// List the recorder faults (`--recorder --fault NAME`) and exit.
    #[arg(long)]
    pub(crate) list_recorder_faults: bool,
}

/// Runs the subcommand.
pub(crate) fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    if args.list_recorder_faults {
        for f in SrsFault::ALL {
            println!("{:<28} {}  {}", f.name(), f.requirement(), f.description());
        }
        return Ok(ExitCode::SUCCESS);
    }
    // A profile with `role: recorder` names an external recorder: the recorder
    // scenarios run against it.
    let external_recorder = match &args.sut {
        Some(path) if suite::recorder_profile::is_recorder_profile(path) => {
            if args.fault.is_some() || args.variant.is_some() {
                anyhow::bail!(
                    "--fault and --variant apply to the embedded recorder and platform only; \
                     an external recorder (--sut with `role: recorder`) runs as it is"
                );
            }
            Some(std::sync::Arc::new(
                suite::recorder_profile::load(path).map_err(|e| anyhow::anyhow!("{e}"))?,
            ))
        }
        _ => None,
    };
    if args.recorder && args.variant.is_some() {
        anyhow::bail!("--variant is a platform variant; it does not apply to --recorder");
    }
    if args.recorder && args.sut.is_some() && external_recorder.is_none() {
        anyhow::bail!(
            "--recorder with --sut needs a recorder profile (`role: recorder`; see \
             scenarios/README.md, \"Recorder profiles\"); without --sut it runs against the \
             embedded SRS emulator"
        );
    }
    let recorder_fault = match (&args.fault, args.recorder) {
        (Some(name), true) => Some(SrsFault::from_name(name).with_context(|| {
            format!(
                "unknown recorder fault `{name}`; `recproof check --list-recorder-faults` lists them"
            )
        })?),
        _ => None,
    };
    let external = match &args.sut {
        Some(_) if external_recorder.is_some() => None,
        Some(path) => {
            if args.fault.is_some() || args.variant.is_some() {
                anyhow::bail!(
                    "--fault and --variant apply to the embedded platform only; an external \
                     SUT (--sut) runs as it is configured (omit them, or start \
                     `recproof platform --fault NAME` as the SUT)"
                );
            }
            Some(std::sync::Arc::new(
                suite::profile::load(path).map_err(|e| anyhow::anyhow!("{e}"))?,
            ))
        }
        None => None,
    };
    let fault = match &args.fault {
        Some(_) if args.recorder => None,
        Some(name) => Some(Fault::from_name(name).with_context(|| {
            format!("unknown fault `{name}`; `recproof platform --list-faults` lists them")
        })?),
        None => None,
    };
    let variant = match &args.variant {
        Some(name) => Some(Variant::from_name(name).with_context(|| {
            format!("unknown variant `{name}`; `recproof platform --list-variants` lists them")
        })?),
        None => None,
    };
    let out = args.out.clone().unwrap_or_else(|| {
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        PathBuf::from("reports").join(stamp)
    });
    let features = if args.features.is_empty() {
        // The built-in set, written beside the results: what ran is part of the evidence,
        // and it works from any directory.
        let dir = out.join("features");
        let written = suite::builtin::export(&dir, true).with_context(|| {
            format!(
                "cannot write the built-in features into `{}`",
                dir.display()
            )
        })?;
        eprintln!(
            "features: the {} built-in files, written to {}",
            written.len(),
            dir.display()
        );
        vec![dir]
    } else {
        args.features.clone()
    };
    let mut opts = SuiteOptions::new(PathBuf::new(), out.clone());
    opts.features = features;
    opts.tags = args.tags.clone();
    opts.fault = fault;
    opts.variant = variant;
    opts.seed = args.seed;
    opts.concurrency = args.jobs;
    opts.ctrl_c = true;
    opts.recorder = args.recorder || external_recorder.is_some();
    opts.recorder_fault = recorder_fault;
    opts.external_recorder = external_recorder;
    // A bar on a terminal; cucumber's step-by-step console when piped (CI logs).
    opts.progress = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::io::IsTerminal::is_terminal(&std::io::stdout());
    if let Some(profile) = &external {
        opts.tolerances = profile.tolerances.clone();
        opts.external = Some(profile.clone());
    }
    let results = run_suite(&opts).map_err(|e| anyhow::anyhow!("{e}"))?;
    print_summary(&results);
    println!("run directory: {}", out.display());
    // The report is for people; a failure to write it does not change the verdicts (the
    // exit code), but it is never silent.
    match report::render(&out) {
        Ok(r) => {
            if out.join("certification.html").is_file() {
                println!(
                    "recorder certification: {}",
                    out.join("certification.html").display()
                );
            }
            println!(
                "report: {} ({} call page(s); compliance summary: {})",
                r.index.display(),
                r.call_pages.len(),
                r.compliance
                    .first()
                    .map_or_else(String::new, |p| p.display().to_string())
            );
        }
        Err(e) => eprintln!(
            "warning: the report could not be rendered ({e}); `recproof report {}` retries",
            out.display()
        ),
    }
    if results.interrupted {
        let not_run = results
            .scenarios
            .iter()
            .filter(|s| {
                s.skip_reason
                    .as_deref()
                    .is_some_and(|r| r.contains("interrupted"))
            })
            .count();
        println!(
            "interrupted: {not_run} scenario(s) not run; what ran was judged and is in the run directory"
        );
        return Ok(exit::FAILED);
    }
    if results.passed + results.failed + results.skipped == 0 {
        anyhow::bail!("no scenario matched (check the FEATURES paths and --tags)");
    }
    print_skips(&results);
    Ok(if results.passed_gate() {
        exit::OK
    } else {
        exit::FAILED
    })
}

/// External runs: the scenarios the SUT profile could not run (no user with their
/// settings). They do not fail the run, but they are never silent.
fn print_skips(r: &RunResults) {
    let skipped: Vec<_> = r
        .scenarios
        .iter()
        .filter(|s| s.status == suite::ScenarioStatus::Skipped)
        .collect();
    if skipped.is_empty() {
        return;
    }
    println!("\n{} scenario(s) SKIPPED against the SUT:", skipped.len());
    for s in skipped {
        println!(
            "  {} / {}: {}",
            s.feature,
            s.scenario,
            s.skip_reason
                .as_deref()
                .unwrap_or("a step has no definition (this fails the run)")
        );
    }
    if r.passed == 0 {
        println!("no scenario ran against the SUT: the run does not pass");
    }
}

fn print_summary(r: &RunResults) {
    let mut by_req: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
    for v in r.scenarios.iter().flat_map(|s| &s.verdicts) {
        let e = by_req.entry(v.requirement.as_str()).or_default();
        match v.status {
            checks::Status::Pass => e[0] += 1,
            checks::Status::Fail => e[1] += 1,
            checks::Status::NotApplicable => e[3] += 1,
            _ => e[2] += 1,
        }
    }
    println!();
    println!("verdicts by requirement (other = WARN or INFO; n/a = not applicable or not judged)");
    println!("requirement   pass  fail other   n/a");
    for (req, [pass, fail, other, na]) in &by_req {
        println!("{req:<12} {pass:>5} {fail:>5} {other:>5} {na:>5}");
    }
    let failed: Vec<_> = r
        .scenarios
        .iter()
        .filter(|s| s.status == suite::ScenarioStatus::Failed)
        .collect();
    if !failed.is_empty() {
        println!("\nfailed scenarios (asserted FAIL | asserted but not judged | collateral FAIL):");
        for s in failed {
            let ids = |it: &mut dyn Iterator<Item = &checks::Verdict>| {
                let mut v: Vec<String> = it.map(|v| v.requirement.clone()).collect();
                v.sort();
                v.dedup();
                if v.is_empty() {
                    "-".to_owned()
                } else {
                    v.join(" ")
                }
            };
            println!(
                "  {} / {}: {} | {} | {}",
                s.feature,
                s.scenario,
                ids(&mut s.asserted_failures()),
                ids(&mut s.asserted_not_judged()),
                ids(&mut s.collateral_failures())
            );
        }
    }
    let clock = if r.clock == "real" {
        "call-seconds in real time"
    } else {
        "simulated call-seconds"
    };
    println!(
        "\n{} scenarios: {} passed, {} failed, {} skipped; {:.0} {clock} in {:.1} s wall ({:.0}x); sut: {}",
        r.passed + r.failed + r.skipped,
        r.passed,
        r.failed,
        r.skipped,
        r.call_seconds,
        r.wall_seconds,
        r.call_seconds / r.wall_seconds.max(1e-9),
        r.sut
    );
}
