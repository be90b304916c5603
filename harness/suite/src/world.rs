//! The cucumber world of one scenario: the settings and call plan the `Given` steps build,
//! the call's observation log once the `When` step ran, and the verdicts the `Then` steps
//! asked for.
//!
//! Run-wide facts (which fault, which seed, where the log goes) come from the
//! [`RunContext`] the suite runner installs for the duration of a run; scenarios get
//! their own call label from it so all calls share one observation log.

use checks::{Status, Tolerances, Verdict};
use drive::embedded::{EmbeddedCall, RecorderMode, run_call};
use drive::external::ExternalCall;
use drive::plan::CallPlan;
use drive::settings::Settings;
use observe::{LogWriter, Observation};
use platform::Fault;
use std::fs::File;
use std::io::BufWriter;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

/// What every scenario of a run shares.
pub(crate) struct RunContext {
    /// The fault profile under test, if any.
    pub(crate) fault: Option<Fault>,
    /// Base seed; each call derives its own from it and its number.
    pub(crate) seed: u64,
    /// Next call number.
    pub(crate) next_call: AtomicU64,
    /// The run's observation log.
    pub(crate) log: Mutex<Option<LogWriter<BufWriter<File>>>>,
    /// Simulated call time covered, µs.
    pub(crate) simulated_us: AtomicU64,
    /// Tolerances and thresholds.
    pub(crate) tolerances: Tolerances,
    /// Write each call's pcap and WAVs under `<run dir>/calls/<call>/`, when set.
    pub(crate) evidence_dir: Option<std::path::PathBuf>,
    /// Run against this external SUT (real time) instead of the embedded platform.
    pub(crate) external: Option<Arc<crate::profile::SutProfile>>,
    /// Set on Ctrl-C: calls not yet started are skipped, the ones running finish.
    pub(crate) interrupted: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for RunContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext")
            .field("fault", &self.fault)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

static CONTEXT: RwLock<Option<Arc<RunContext>>> = RwLock::new(None);

/// Installs the context of the run about to start (the runner holds the run lock).
pub(crate) fn install(ctx: Option<Arc<RunContext>>) {
    *CONTEXT.write().unwrap_or_else(PoisonError::into_inner) = ctx;
}

fn context() -> Option<Arc<RunContext>> {
    CONTEXT
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// One scenario's state. See the [module docs](self).
#[derive(Debug, cucumber::World)]
#[world(init = Self::new)]
pub struct CallWorld {
    /// The settings in force.
    pub(crate) settings: Settings,
    /// What the call does.
    pub(crate) plan: CallPlan,
    /// How the recorders answer.
    pub(crate) recorder: RecorderMode,
    /// The call goes to voicemail (the callee never answers).
    pub(crate) expects_voicemail: bool,
    /// The call's log, once it ran.
    pub(crate) log: Option<Vec<Observation>>,
    /// Every verdict the checks gave for the call.
    pub(crate) verdicts: Vec<Verdict>,
    /// The requirements the `Then` steps asserted, in order.
    pub(crate) asserted: Vec<String>,
    /// Why the run could not be set up, if it could not.
    pub(crate) setup_error: Option<String>,
    /// Why the evidence files could not be written, if they could not.
    pub(crate) evidence_error: Option<String>,
    /// External runs: why the scenario was skipped (no profile user has its settings).
    pub(crate) skipped: Option<String>,
    /// The scenario states its metadata dialect; otherwise an external SUT's own
    /// dialect (from its profile) applies.
    pub(crate) dialect_stated: bool,
}

impl CallWorld {
    fn new() -> Self {
        Self {
            settings: Settings::default(),
            plan: CallPlan::answered("call-0000", "", Duration::from_secs(10)),
            recorder: RecorderMode::Accept,
            expects_voicemail: false,
            log: None,
            verdicts: Vec::new(),
            asserted: Vec::new(),
            setup_error: None,
            evidence_error: None,
            skipped: None,
            dialect_stated: false,
        }
    }

    /// The call label of this scenario.
    pub(crate) fn label(&self) -> &str {
        &self.plan.label
    }

    /// Runs the call on a blocking thread (the simulation is CPU-bound), appends its log
    /// to the run's log and judges it.
    pub(crate) async fn run(&mut self) {
        let Some(ctx) = context() else {
            self.setup_error = Some("no suite run is active".into());
            return;
        };
        if ctx.interrupted.load(Ordering::Relaxed) {
            self.skipped = Some("not run: the run was interrupted (Ctrl-C)".to_owned());
            return;
        }
        let n = ctx.next_call.fetch_add(1, Ordering::Relaxed) + 1;
        self.plan.label = format!("call-{n:04}");
        let seed = ctx.seed.wrapping_add(n.wrapping_mul(0x9E37_79B9));
        if let Some(profile) = ctx.external.clone() {
            self.run_external(&ctx, &profile, seed).await;
            return;
        }
        let call = EmbeddedCall {
            recorder: self.recorder,
            evidence: ctx.evidence_dir.is_some(),
            ..EmbeddedCall::new(self.settings.clone(), self.plan.clone(), ctx.fault, seed)
        };
        let outcome = tokio::task::spawn_blocking(move || run_call(&call)).await;
        let outcome = match outcome {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => {
                self.setup_error = Some(e.to_string());
                return;
            }
            Err(e) => {
                self.setup_error = Some(format!("the simulated call crashed: {e}"));
                return;
            }
        };
        let expect = crate::expectation::expectation(&self.settings, &self.plan, self.recorder);
        self.finish(&ctx, outcome, &expect);
    }

    /// External SUT: calls the profile user with this scenario's settings in real time,
    /// or marks the scenario skipped when no user has them.
    async fn run_external(
        &mut self,
        ctx: &RunContext,
        profile: &crate::profile::SutProfile,
        seed: u64,
    ) {
        if !self.dialect_stated {
            self.settings.dialect = profile.dialect.clone();
        }
        let Some(user) = profile.user_for(&self.settings) else {
            let why = format!(
                "SKIPPED: the SUT profile `{}` has no user {}; add one to `users:` to run this scenario",
                profile.path.display(),
                crate::profile::describe(&self.settings)
            );
            eprintln!("{why}");
            self.skipped = Some(why);
            return;
        };
        let call = ExternalCall {
            target: profile.target.clone(),
            extension: user.extension.clone(),
            plan: self.plan.clone(),
            recorder: self.recorder,
            seed,
            evidence: ctx.evidence_dir.is_some(),
        };
        let outcome = tokio::task::spawn_blocking(move || drive::external::run_call(&call)).await;
        let outcome = match outcome {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => {
                self.setup_error = Some(e.to_string());
                return;
            }
            Err(e) => {
                self.setup_error = Some(format!("the real-time call crashed: {e}"));
                return;
            }
        };
        let expect = crate::expectation::external_expectation(
            &self.settings,
            &self.plan,
            self.recorder,
            profile,
        );
        self.finish(ctx, outcome, &expect);
    }

    /// Appends the call's log to the run's, writes the evidence and judges the call.
    fn finish(
        &mut self,
        ctx: &RunContext,
        outcome: drive::embedded::CallOutcome,
        expect: &checks::CallExpectation,
    ) {
        ctx.simulated_us.fetch_add(
            u64::try_from(outcome.simulated.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        if let Some(log) = ctx
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            // The expectation goes into the call's block (after its RunStarted) so
            // `recproof judge` can re-run the checks on the log alone.
            let expectation = Observation {
                t_us: outcome.observations.first().map_or(0, |o| o.t_us),
                call: Some(self.label().to_owned()),
                actor: observe::Actor::Harness,
                event: observe::Event::Expectation {
                    expectation: serde_json::to_value(expect).unwrap_or_default(),
                    tolerances: serde_json::to_value(&ctx.tolerances).unwrap_or_default(),
                },
            };
            let starts_block = outcome
                .observations
                .first()
                .is_some_and(|o| matches!(o.event, observe::Event::RunStarted { .. }));
            if !starts_block {
                let _ = log.append(&expectation);
            }
            for (i, o) in outcome.observations.iter().enumerate() {
                // A full disk must not turn into a verdict; the run's summary says the log
                // is incomplete when the count is short.
                let _ = log.append(o);
                if i == 0 && starts_block {
                    let _ = log.append(&expectation);
                }
            }
        }
        if let Some(dir) = &ctx.evidence_dir {
            // Evidence is for people; a write failure is reported on the scenario but
            // does not change a verdict.
            if let Err(e) = drive::embedded::write_evidence(&outcome, &dir.join(self.label())) {
                self.evidence_error = Some(e.to_string());
            }
        }
        self.verdicts =
            checks::judge_call(&outcome.observations, self.label(), expect, &ctx.tolerances);
        self.log = Some(outcome.observations);
    }

    fn ran(&self) -> Result<(), String> {
        if let Some(e) = &self.setup_error {
            return Err(format!("the call could not be run: {e}"));
        }
        if self.log.is_none() {
            return Err("no call was made in this scenario (a `When` step is missing)".into());
        }
        Ok(())
    }

    /// Asserts that every verdict of these requirements passed (WARN, INFO and N/A do not
    /// fail a step) and that at least one verdict exists for them.
    pub(crate) fn require(&mut self, requirements: &[&str]) {
        if self.skipped.is_some() {
            return;
        }
        if let Err(e) = self.ran() {
            panic!("{e}");
        }
        self.asserted
            .extend(requirements.iter().map(|r| (*r).to_owned()));
        let relevant: Vec<&Verdict> = self
            .verdicts
            .iter()
            .filter(|v| requirements.contains(&v.requirement.as_str()))
            .collect();
        assert!(
            !relevant.is_empty(),
            "no check judged {} on {}: a requirement nobody judged is not a pass",
            requirements.join("/"),
            self.label()
        );
        let failed: Vec<String> = relevant
            .iter()
            .filter(|v| v.status == Status::Fail)
            .map(|v| format!("{} {}: {}", v.requirement, v.status, v.summary))
            .collect();
        assert!(failed.is_empty(), "{}", failed.join("\n"));
    }

    /// Asserts the single-message rules (SRC-02..13, SRC-23, MD-) on every recording
    /// session request: whatever IDs the validator reported, none failed.
    pub(crate) fn require_single_message_rules(&mut self) {
        if self.skipped.is_some() {
            return;
        }
        if let Err(e) = self.ran() {
            panic!("{e}");
        }
        let ids: Vec<String> = self
            .verdicts
            .iter()
            .filter(|v| v.check == "message.validate")
            .map(|v| v.requirement.clone())
            .collect();
        assert!(
            !ids.is_empty(),
            "no recording session request was validated on {}",
            self.label()
        );
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        self.require(&refs);
    }

    /// Asserts the latency measurements (recproof's `RP-LATENCY`).
    pub(crate) fn require_latency(&mut self) {
        self.require(&["RP-LATENCY"]);
    }

    /// Asserts that the recording session reached this provider's recorder.
    pub(crate) fn require_provider(&mut self, provider: &str) {
        if self.skipped.is_some() {
            return;
        }
        if let Err(e) = self.ran() {
            panic!("{e}");
        }
        // The step names the provider the scenario's own settings imply; a mismatch is a
        // mistake in the feature text, not in the SUT. The recorder actually reached is
        // judged by POL-11 against these settings.
        assert_eq!(
            self.settings.effective_provider(),
            Some(provider),
            "the scenario's settings do not send recordings to `{provider}`"
        );
    }

    /// The verdicts, for the run's record.
    pub(crate) fn verdicts(&self) -> &[Verdict] {
        &self.verdicts
    }
}
