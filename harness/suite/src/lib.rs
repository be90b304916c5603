//! recproof's conformance suite: the Gherkin features in `features/` run with cucumber
//! against the embedded reference platform (simulated clock), with or without a fault
//! profile, or against an external SUT described by a profile ([`profile`]) in real time.
//!
//! Owns the step definitions ([`steps`], thin sentences over `recproof-drive` and
//! `recproof-checks`), the per-scenario world, the mapping from scenario settings to
//! check expectations, and [`run_suite`], which writes the run directory: the observation
//! log (`observations.jsonl`), cucumber's scenario-level `cucumber-junit.xml`, and
//! `results.json` (schema [`RESULTS_SCHEMA`], documented on [`RunResults`]). The report
//! (`recproof-report`, rendered by the CLI) adds `junit.xml` and the HTML pages.
//!
//! It must not judge (the checks do) nor simulate (the drivers do).

pub mod builtin;
mod expectation;
pub mod judge;
pub mod profile;
pub mod recorder_profile;
pub mod recorder_steps;
pub mod recordings;
pub mod registry;
pub mod stated;
pub mod steps;
mod world;

pub use checks::results::{RESULTS_SCHEMA, RunResults, ScenarioResult, ScenarioStatus};
pub use expectation::{dialect_of, expectation, external_expectation, reference_signals};
pub use profile::{ProfileError, SutProfile};
pub use world::CallWorld;

use checks::Tolerances;
use cucumber::tag::Ext as _;
use cucumber::{World as _, WriterExt as _, writer};
use futures::FutureExt as _;
use observe::LogWriter;
use platform::{Fault, Variant};
use stated::Capability;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use world::RunContext;

/// How to run the suite.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    /// Feature files or directories (default: `features/`).
    pub features: Vec<PathBuf>,
    /// Cucumber tag expression (`@POL-04 and not @slow`).
    pub tags: Option<String>,
    /// Fault profile of the embedded platform.
    pub fault: Option<Fault>,
    /// Legal variant of the embedded platform (other choices the RFCs allow).
    pub variant: Option<Variant>,
    /// Base seed.
    pub seed: u64,
    /// Run directory (created).
    pub out: PathBuf,
    /// Scenarios run at once (each call runs on its own blocking thread).
    pub concurrency: usize,
    /// Print cucumber's console output.
    pub console: bool,
    /// Tolerances and thresholds.
    pub tolerances: Tolerances,
    /// Write each call's evidence (`calls/<call>/call.pcap` and one WAV per stream).
    pub evidence: bool,
    /// Run against this external SUT in real time instead of the embedded platform
    /// (`fault` and `seed`'s network effects then do not apply; scenarios run one at a
    /// time).
    pub external: Option<Arc<SutProfile>>,
    /// Handle Ctrl-C: the first one stops new calls (the running ones finish and are
    /// judged, the rest are skipped, and the run directory is written as usual, with
    /// `interrupted: true`); a second one exits the process with status 130. For the CLI;
    /// a library caller keeps the default (off).
    pub ctrl_c: bool,
    /// Show an indicatif progress bar on stderr (scenarios done of selected, passed and
    /// failed so far, each failure as a line) instead of cucumber's step-by-step console.
    /// For a terminal; indicatif draws nothing when stderr is not one.
    pub progress: bool,
    /// Judge a recorder instead of a platform: run the `@recorder` scenarios (recproof
    /// plays the platform against the embedded SRS emulator) and only those. Without it
    /// the `@recorder` scenarios are left out.
    pub recorder: bool,
    /// The recorder bug the embedded SRS emulator plays in a recorder run.
    pub recorder_fault: Option<roles::srs_fault::SrsFault>,
    /// Run the recorder scenarios against this external recorder in real time instead of
    /// the embedded SRS emulator (implies [`SuiteOptions::recorder`]; one scenario at a
    /// time).
    pub external_recorder: Option<Arc<recorder_profile::RecorderProfile>>,
}

impl SuiteOptions {
    /// Defaults: all of `features`, no fault, seed 1, two scenarios at once, console on.
    pub fn new(features: PathBuf, out: PathBuf) -> Self {
        Self {
            features: vec![features],
            tags: None,
            fault: None,
            variant: None,
            seed: 1,
            out,
            concurrency: 2,
            console: true,
            tolerances: Tolerances::default(),
            evidence: true,
            external: None,
            ctrl_c: false,
            progress: false,
            recorder: false,
            recorder_fault: None,
            external_recorder: None,
        }
    }
}

/// Why a suite could not run (bad usage or configuration; never a verdict).
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// A features path does not exist.
    #[error("no feature file or directory at `{0}`")]
    NoFeatures(PathBuf),
    /// The tag expression does not parse.
    #[error("bad --tags expression `{expr}`: {reason} (example: `@POL-04 and not @slow`)")]
    Tags {
        /// The expression.
        expr: String,
        /// Why.
        reason: String,
    },
    /// The run directory or a file in it cannot be written.
    #[error("cannot write `{path}`: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// One run at a time per process: the step context is process-wide.
static RUN_LOCK: Mutex<()> = Mutex::new(());

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SuiteError + '_ {
    move |source| SuiteError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Runs the features and writes the run directory. See the [crate docs](crate).
pub fn run_suite(opts: &SuiteOptions) -> Result<RunResults, SuiteError> {
    let _guard = RUN_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let started = Instant::now();
    let started_at = jiff::Timestamp::now().to_string();
    let (root, only) = feature_selection(&opts.features)?;
    let tags = match &opts.tags {
        Some(expr) => Some(
            expr.parse::<cucumber::gherkin::tagexpr::TagOperation>()
                .map_err(|e| SuiteError::Tags {
                    expr: expr.clone(),
                    reason: e.to_string(),
                })?,
        ),
        None => None,
    };
    std::fs::create_dir_all(&opts.out).map_err(io_err(&opts.out))?;
    let log_path = opts.out.join("observations.jsonl");
    let log = File::create(&log_path).map_err(io_err(&log_path))?;
    let junit_path = opts.out.join("cucumber-junit.xml");
    let junit = File::create(&junit_path).map_err(io_err(&junit_path))?;

    let (base, does_not_offer) = match (&opts.external, opts.variant) {
        (Some(p), _) => (
            drive::settings::Settings::default(),
            p.does_not_offer.clone(),
        ),
        (None, v) => embedded_base(v),
    };
    let ctx = Arc::new(RunContext {
        fault: opts.fault,
        variant: opts.variant,
        base,
        does_not_offer,
        seed: opts.seed,
        next_call: AtomicU64::new(0),
        log: Mutex::new(Some(LogWriter::new(BufWriter::new(log)))),
        simulated_us: AtomicU64::new(0),
        tolerances: opts.tolerances.clone(),
        evidence_dir: opts.evidence.then(|| opts.out.join("calls")),
        external: opts.external.clone(),
        interrupted: Arc::default(),
        recorder_fault: opts.recorder_fault,
        recorder_rules: opts.external_recorder.as_ref().map_or(
            checks::recorder::RecorderRules {
                capacity: Some(drive::recorder::EMBEDDED_CAPACITY),
                recordings_available: true,
                ..checks::recorder::RecorderRules::default()
            },
            |p| p.rules,
        ),
        external_recorder: opts.external_recorder.clone(),
    });
    let real_time = opts.external.is_some() || opts.external_recorder.is_some();
    let concurrency = if real_time {
        1
    } else {
        opts.concurrency.max(1)
    };
    world::install(Some(ctx.clone()));
    let records: Arc<Mutex<Vec<ScenarioResult>>> = Arc::default();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(SuiteError::Runtime)?;
    let sink = records.clone();
    let bar = opts.progress.then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} scenarios {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    });
    let console: Box<dyn std::io::Write> = if opts.console && bar.is_none() {
        Box::new(std::io::stdout())
    } else {
        Box::new(std::io::sink())
    };
    if opts.ctrl_c {
        let flag = ctx.interrupted.clone();
        runtime.spawn(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
            eprintln!(
                "\ninterrupted: finishing the call(s) in progress, skipping the rest (Ctrl-C again to quit now)"
            );
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        });
    }
    let (after_bar, filter_bar) = (bar.clone(), bar.clone());
    let recorder = opts.recorder || opts.external_recorder.is_some();
    runtime.block_on(async {
        CallWorld::cucumber()
            .max_concurrent_scenarios(concurrency)
            .with_writer(
                writer::Basic::raw(console, writer::Coloring::Never, 0)
                    .summarized()
                    .tee::<CallWorld, _>(writer::JUnit::for_tee(junit, 0))
                    .normalized(),
            )
            .before(|_feature, _rule, scenario, world| {
                // What the scenario claims, from its `Then` steps' texts; the last one also
                // answers for collateral FAILs.
                let thens: Vec<&cucumber::gherkin::Step> = scenario
                    .steps
                    .iter()
                    .filter(|s| s.ty == cucumber::gherkin::StepType::Then)
                    .collect();
                world.then_steps = thens.len();
                for step in thens {
                    for c in steps::checks_for_step(&step.value)
                        .iter()
                        .chain(recorder_steps::checks_for_step(&step.value))
                    {
                        if !world.asserted_checks.iter().any(|a| a == c) {
                            world.asserted_checks.push((*c).to_owned());
                        }
                    }
                }
                async {}.boxed_local()
            })
            .after(move |feature, _rule, scenario, finished, world| {
                let sink = sink.clone();
                let bar = after_bar.clone();
                async move {
                    record(&sink, feature, scenario, finished, world.map(|w| &*w));
                    if let Some(bar) = bar {
                        show_progress(&bar, &sink);
                    }
                }
                .boxed_local()
            })
            // Last: each builder step above resets the CLI options, and without them
            // cucumber would parse the process's own arguments.
            .with_default_cli()
            .filter_run(root, move |feature, rule, scenario| {
                let in_selection = only.as_ref().is_none_or(|files| {
                    feature
                        .path
                        .as_ref()
                        .and_then(|p| p.canonicalize().ok())
                        .is_some_and(|p| files.contains(&p))
                });
                let tagged = tags.as_ref().is_none_or(|t| {
                    t.eval(
                        feature
                            .tags
                            .iter()
                            .chain(rule.iter().flat_map(|r| &r.tags))
                            .chain(scenario.tags.iter()),
                    )
                });
                let recorder_scenario = feature
                    .tags
                    .iter()
                    .chain(rule.iter().flat_map(|r| &r.tags))
                    .chain(scenario.tags.iter())
                    .any(|t| t.trim_start_matches('@') == "recorder");
                let selected = in_selection && tagged && recorder_scenario == recorder;
                if selected && let Some(bar) = &filter_bar {
                    bar.inc_length(1);
                }
                selected
            })
            .await;
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    world::install(None);
    if let Some(log) = ctx
        .log
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        use std::io::Write as _;
        let _ = log.into_inner().flush();
    }
    let scenarios = std::mem::take(&mut *records.lock().unwrap_or_else(PoisonError::into_inner));
    let count = |s: ScenarioStatus| scenarios.iter().filter(|r| r.status == s).count();
    let results = RunResults {
        schema: RESULTS_SCHEMA,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        sut: match (&opts.external, &opts.external_recorder) {
            (Some(p), _) => p.name.clone(),
            (None, Some(r)) => r.name.clone(),
            (None, None) if opts.recorder => drive::recorder::recorder_name(opts.recorder_fault),
            (None, None) => drive::embedded::embedded_name(opts.fault, opts.variant),
        },
        seed: opts.seed,
        clock: if real_time {
            "real".into()
        } else {
            "simulated".into()
        },
        passed: count(ScenarioStatus::Passed),
        failed: count(ScenarioStatus::Failed),
        skipped: count(ScenarioStatus::Skipped),
        scenarios,
        call_seconds: Duration::from_micros(ctx.simulated_us.load(Ordering::Relaxed)).as_secs_f64(),
        wall_seconds: started.elapsed().as_secs_f64(),
        interrupted: ctx.interrupted.load(std::sync::atomic::Ordering::Relaxed),
        tolerances: opts.tolerances.clone(),
        started_at,
        profile: opts
            .external
            .as_ref()
            .map(|p| p.path.clone())
            .or_else(|| opts.external_recorder.as_ref().map(|p| p.path.clone()))
            .map(|path| profile_ref(&path)),
    };
    let results_path = opts.out.join("results.json");
    let file = File::create(&results_path).map_err(io_err(&results_path))?;
    serde_json::to_writer_pretty(BufWriter::new(file), &results).map_err(|e| SuiteError::Io {
        path: results_path.clone(),
        source: e.into(),
    })?;
    Ok(results)
}

/// The profile's path and the SHA-256 of its bytes (empty when it can no longer be read).
fn profile_ref(path: &Path) -> checks::results::ProfileRef {
    use sha2::Digest as _;
    let sha256 = std::fs::read(path)
        .map(|bytes| {
            sha2::Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .unwrap_or_default();
    checks::results::ProfileRef {
        path: path.display().to_string(),
        sha256,
    }
}

/// The settings an embedded scenario's unstated fields take, and what the platform does
/// not offer, for a variant.
fn embedded_base(variant: Option<Variant>) -> (drive::settings::Settings, BTreeSet<Capability>) {
    let mut base = drive::settings::Settings::default();
    let mut missing = BTreeSet::new();
    if variant == Some(Variant::NoStartStopAnnouncement) {
        base.start_stop_announcement = false;
        missing.insert(Capability::StartStopAnnouncement);
    }
    (base, missing)
}

/// The directory cucumber walks, and the feature files to keep (None = all in it).
fn feature_selection(
    paths: &[PathBuf],
) -> Result<(PathBuf, Option<BTreeSet<PathBuf>>), SuiteError> {
    let mut files = BTreeSet::new();
    let mut dir = None;
    for p in paths {
        let canon = p
            .canonicalize()
            .map_err(|_| SuiteError::NoFeatures(p.clone()))?;
        if canon.is_dir() {
            if paths.len() == 1 {
                return Ok((canon, None));
            }
            return Err(SuiteError::NoFeatures(p.clone()));
        }
        dir.get_or_insert_with(|| canon.parent().map(Path::to_path_buf).unwrap_or_default());
        files.insert(canon);
    }
    match dir {
        Some(d) => Ok((d, Some(files))),
        None => Err(SuiteError::NoFeatures(PathBuf::from("features"))),
    }
}

/// Advances the bar after a scenario: counts so far, and the failed scenario as a line.
fn show_progress(bar: &indicatif::ProgressBar, sink: &Mutex<Vec<ScenarioResult>>) {
    let records = sink.lock().unwrap_or_else(PoisonError::into_inner);
    let count = |st: ScenarioStatus| records.iter().filter(|r| r.status == st).count();
    if let Some(last) = records.last()
        && last.status == ScenarioStatus::Failed
    {
        bar.println(format!("FAILED {} / {}", last.feature, last.scenario));
    }
    bar.set_message(format!(
        "({} passed, {} failed, {} skipped)",
        count(ScenarioStatus::Passed),
        count(ScenarioStatus::Failed),
        count(ScenarioStatus::Skipped)
    ));
    bar.inc(1);
}

fn record(
    sink: &Mutex<Vec<ScenarioResult>>,
    feature: &cucumber::gherkin::Feature,
    scenario: &cucumber::gherkin::Scenario,
    finished: &cucumber::event::ScenarioFinished,
    world: Option<&CallWorld>,
) {
    use cucumber::event::ScenarioFinished as F;
    let skip_reason = world.and_then(|w| w.skipped.clone());
    let (status, failure) = match finished {
        F::StepPassed if skip_reason.is_some() => (ScenarioStatus::Skipped, None),
        F::StepPassed => (ScenarioStatus::Passed, None),
        F::StepSkipped => (ScenarioStatus::Skipped, None),
        F::StepFailed(_, _, err) => (ScenarioStatus::Failed, Some(err.to_string())),
        F::BeforeHookFailed(_) => (ScenarioStatus::Failed, Some("a before hook failed".into())),
    };
    let result = ScenarioResult {
        feature: feature.name.clone(),
        scenario: scenario.name.clone(),
        tags: feature
            .tags
            .iter()
            .chain(scenario.tags.iter())
            .cloned()
            .collect(),
        status,
        failure,
        call: world
            .filter(|w| w.log.is_some())
            .map(|w| w.label().to_owned()),
        asserted: world.map(|w| w.asserted.clone()).unwrap_or_default(),
        asserted_checks: world.map(|w| w.asserted_checks.clone()).unwrap_or_default(),
        verdicts: world.map(|w| w.verdicts().to_vec()).unwrap_or_default(),
        expectation: world.and_then(|w| w.expectation.clone()),
        timeline: world.and_then(|w| w.timeline.clone()),
        evidence_error: world.and_then(|w| w.evidence_error.clone()),
        skip_reason,
        rs_sessions: world.map(|w| w.rs_sessions.clone()).unwrap_or_default(),
    };
    sink.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(result);
}
