//! The cucumber world of one scenario: the settings and call plan the `Given` steps build,
//! the call's observation log once the `When` step ran, and the verdicts the `Then` steps
//! asked for.
//!
//! Run-wide facts (which fault, which seed, where the log goes) come from the
//! [`RunContext`] the suite runner installs for the duration of a run; scenarios get
//! their own call label from it so all calls share one observation log.

use crate::stated::{Capability, Stated};
use checks::recorder::RecorderRules;
use checks::{CallExpectation, Status, Tolerances, Verdict, preconditions};
use drive::embedded::{EmbeddedCall, RecorderMode, run_call};
use drive::external::ExternalCall;
use drive::plan::CallPlan;
use drive::settings::Settings;
use observe::{LogWriter, Observation};
use platform::{Fault, Variant};
use roles::srs_fault::SrsFault;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::BufWriter;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

/// What every scenario of a run shares.
pub(crate) struct RunContext {
    /// The fault profile under test, if any.
    pub(crate) fault: Option<Fault>,
    /// The legal variant of the embedded platform, if any.
    pub(crate) variant: Option<Variant>,
    /// The settings a scenario's unstated fields take (embedded runs).
    pub(crate) base: Settings,
    /// What the SUT does not offer: scenarios needing it are skipped.
    pub(crate) does_not_offer: BTreeSet<Capability>,
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
    /// The recorder bug the embedded SRS emulator plays in a recorder run.
    pub(crate) recorder_fault: Option<SrsFault>,
    /// What a recorder under test is held to.
    pub(crate) recorder_rules: RecorderRules,
    /// Run the recorder scenarios against this external recorder (real time).
    pub(crate) external_recorder: Option<Arc<crate::recorder_profile::RecorderProfile>>,
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
    /// The settings the scenario stated (the rest come from the SUT).
    pub(crate) stated: Stated,
    /// The settings in force, once the call ran: the stated ones over the SUT's.
    pub(crate) settings: Settings,
    /// What the call does.
    pub(crate) plan: CallPlan,
    /// How the recorders answer.
    pub(crate) recorder: RecorderMode,
    /// The call's log, once it ran.
    pub(crate) log: Option<Vec<Observation>>,
    /// What the checks were told to expect, once the call ran.
    pub(crate) expectation: Option<CallExpectation>,
    /// What the checks derived about the call's recording, once it ran.
    pub(crate) timeline: Option<checks::results::TimelineSummary>,
    /// Every verdict the checks gave for the call.
    pub(crate) verdicts: Vec<Verdict>,
    /// The requirements the `Then` steps asserted, in order.
    pub(crate) asserted: Vec<String>,
    /// The check ids the scenario's `Then` steps assert (from their texts, set before it
    /// runs, so a step that never ran because an earlier one failed still counts).
    pub(crate) asserted_checks: Vec<String>,
    /// `Then` steps in the scenario (set before it runs), and how many have run: the
    /// last one also fails on any FAIL verdict no step asserted.
    pub(crate) then_steps: usize,
    pub(crate) then_done: usize,
    /// Why the run could not be set up, if it could not.
    pub(crate) setup_error: Option<String>,
    /// Why the evidence files could not be written, if they could not.
    pub(crate) evidence_error: Option<String>,
    /// Why the scenario was skipped (the SUT does not offer what it needs, or no
    /// profile user has its settings, or the run was interrupted).
    pub(crate) skipped: Option<String>,
    /// The recording sessions the harness SRC opened (recorder scenarios).
    pub(crate) rs_sessions: Vec<checks::results::RsSessionRecord>,
}

impl CallWorld {
    fn new() -> Self {
        Self {
            stated: Stated::default(),
            settings: Settings::default(),
            plan: CallPlan::answered("call-0000", "", Duration::from_secs(10)),
            recorder: RecorderMode::Accept,
            log: None,
            expectation: None,
            timeline: None,
            verdicts: Vec::new(),
            asserted: Vec::new(),
            asserted_checks: Vec::new(),
            then_steps: 0,
            then_done: 0,
            setup_error: None,
            evidence_error: None,
            skipped: None,
            rs_sessions: Vec::new(),
        }
    }

    /// The call label of this scenario.
    pub(crate) fn label(&self) -> &str {
        &self.plan.label
    }

    /// Runs the call on a blocking thread (the simulation is CPU-bound), appends its log
    /// to the run's log and judges it. Skips it (with the reason) when the SUT does not
    /// offer what the scenario needs, or, for an external SUT, no test user has the
    /// stated settings.
    pub(crate) async fn run(&mut self) {
        let Some(ctx) = context() else {
            self.setup_error = Some("no suite run is active".into());
            return;
        };
        if ctx.interrupted.load(Ordering::Relaxed) {
            self.skipped = Some("not run: the run was interrupted (Ctrl-C)".to_owned());
            return;
        }
        let needs = Capability::needed(
            &self.stated,
            &self.plan,
            self.recorder != RecorderMode::Accept,
        );
        let missing: Vec<&str> = needs
            .iter()
            .filter(|c| ctx.does_not_offer.contains(c))
            .map(|c| c.name())
            .collect();
        if !missing.is_empty() {
            let why = format!(
                "SKIPPED: the SUT does not offer {} (`does_not_offer`), which this scenario needs",
                missing.join(", ")
            );
            eprintln!("{why}");
            self.skipped = Some(why);
            return;
        }
        if let Some(profile) = ctx.external.clone() {
            self.run_external(&ctx, &profile).await;
            return;
        }
        let (n, seed) = self.next_call(&ctx);
        let _ = n;
        self.settings = self.stated.apply(&ctx.base);
        let call = EmbeddedCall {
            recorder: self.recorder,
            evidence: ctx.evidence_dir.is_some(),
            variant: ctx.variant,
            ..EmbeddedCall::new(self.settings.clone(), self.plan.clone(), ctx.fault, seed)
        };
        let outcome = tokio::task::spawn_blocking(move || run_call(&call)).await;
        let Some(outcome) = self.ran_or_note(outcome, "the simulated call crashed") else {
            return;
        };
        let expect = crate::expectation::expectation(&self.settings, &self.plan, self.recorder);
        self.finish(&ctx, outcome, expect);
    }

    /// Runs a recorder plan (the harness as SRC) against the recorder under test: the
    /// external recorder of the run's recorder profile in real time (a scenario in a
    /// dialect it does not claim is SKIPPED), else the embedded SRS emulator (with the
    /// run's recorder fault, if any); appends the log and judges it with the recorder
    /// checks.
    pub(crate) async fn run_recorder(&mut self, plan: drive::recorder::RecorderPlan) {
        let Some(ctx) = context() else {
            self.setup_error = Some("no suite run is active".into());
            return;
        };
        if ctx.interrupted.load(Ordering::Relaxed) {
            self.skipped = Some("not run: the run was interrupted (Ctrl-C)".to_owned());
            return;
        }
        if ctx.external.is_some() {
            let why = "SKIPPED: a platform profile (--sut without `role: recorder`) runs the platform scenarios; give a recorder profile to run this one".to_owned();
            eprintln!("{why}");
            self.skipped = Some(why);
            return;
        }
        if ctx.external_recorder.is_some() && plan.recorder_stops_after.is_some() {
            let why = "SKIPPED: this scenario makes the recorder stop on its own, which only the embedded recorder can be made to do; stop an external recorder by hand (storage full, licence end) during a call and judge the log with `recproof judge`".to_owned();
            eprintln!("{why}");
            self.skipped = Some(why);
            return;
        }
        if let Some(profile) = &ctx.external_recorder {
            let unclaimed: Vec<&str> = plan
                .dialects()
                .into_iter()
                .filter(|d| !profile.dialects.iter().any(|c| c == d))
                .collect();
            if !unclaimed.is_empty() {
                let why = format!(
                    "SKIPPED: the recorder profile `{}` does not claim the {} dialect(s) this scenario sends (`recorder.dialects`)",
                    profile.path.display(),
                    unclaimed.join(", ")
                );
                eprintln!("{why}");
                self.skipped = Some(why);
                return;
            }
        }
        let (_, seed) = self.next_call(&ctx);
        let plan = drive::recorder::RecorderPlan {
            label: self.label().to_owned(),
            ..plan
        };
        let evidence = ctx.evidence_dir.is_some();
        let outcome = match ctx.external_recorder.clone() {
            Some(profile) => {
                let call = drive::recorder::ExternalRecorderCall {
                    target: profile.target.clone(),
                    plan,
                    seed,
                    evidence,
                };
                let label = self.label().to_owned();
                let keep = ctx.evidence_dir.as_ref().map(|d| d.join(&label));
                let joined = tokio::task::spawn_blocking(move || {
                    let mut outcome = drive::recorder::run_recorder_call_external(&call)?;
                    // The recorder's own account of what it recorded, when it can be read.
                    let mut problems = Vec::new();
                    if let Some(rec) = &profile.recordings {
                        let view = checks::CallView::new(&outcome.observations, &label);
                        let sessions = checks::recorder::attempts(&view);
                        let subject = roles::src::SrcConfig::new(
                            profile.target.src_sip,
                            profile.target.recorder_sip,
                        )
                        .subject;
                        let (obs, p) = crate::recordings::import(
                            rec,
                            &sessions,
                            &subject.caller_aor,
                            &subject.callee_aor,
                            &label,
                            keep.as_deref(),
                        );
                        outcome.observations.extend(obs);
                        outcome.observations.sort_by_key(|o| o.t_us);
                        problems = p;
                    }
                    Ok((outcome, problems))
                })
                .await;
                let joined = joined.map(|r| {
                    r.map(|(outcome, problems)| {
                        if !problems.is_empty() {
                            self.evidence_error = Some(format!(
                                "recordings that could not be read: {}",
                                problems.join("; ")
                            ));
                        }
                        outcome
                    })
                });
                self.ran_or_note(joined, "the real-time recorder call crashed")
            }
            None => {
                let call = drive::recorder::EmbeddedRecorderCall {
                    plan,
                    fault: ctx.recorder_fault,
                    mode: RecorderMode::Accept,
                    seed,
                    evidence,
                };
                let joined =
                    tokio::task::spawn_blocking(move || drive::recorder::run_recorder_call(&call))
                        .await;
                self.ran_or_note(joined, "the simulated recorder call crashed")
            }
        };
        let Some(outcome) = outcome else {
            return;
        };
        let rules = ctx.recorder_rules;
        self.append_log(
            &ctx,
            &outcome,
            serde_json::json!({ "recorder": rules }),
            serde_json::Value::Null,
        );
        self.verdicts =
            checks::recorder::judge_recorder(&outcome.observations, self.label(), &rules);
        self.rs_sessions = checks::recorder::session_records(&outcome.observations, self.label());
        self.log = Some(outcome.observations);
    }

    /// The outcome of a call run on a blocking thread, or `None` with the set-up error
    /// noted (a role could not be built, or the thread panicked: `crashed` says which
    /// kind of call).
    fn ran_or_note(
        &mut self,
        joined: Result<
            Result<drive::embedded::CallOutcome, drive::embedded::DriveError>,
            tokio::task::JoinError,
        >,
        crashed: &str,
    ) -> Option<drive::embedded::CallOutcome> {
        match joined {
            Ok(Ok(outcome)) => Some(outcome),
            Ok(Err(e)) => {
                self.setup_error = Some(e.to_string());
                None
            }
            Err(e) => {
                self.setup_error = Some(format!("{crashed}: {e}"));
                None
            }
        }
    }

    /// Numbers the call and derives its seed (audio and timing; real-time runs draw
    /// fresh SIP identifiers on top, see `drive::external`).
    fn next_call(&mut self, ctx: &RunContext) -> (u64, u64) {
        let n = ctx.next_call.fetch_add(1, Ordering::Relaxed) + 1;
        self.plan.label = format!("call-{n:04}");
        (n, ctx.seed.wrapping_add(n.wrapping_mul(0x9E37_79B9)))
    }

    /// External SUT: calls the profile user with this scenario's stated settings in real
    /// time, or marks the scenario skipped when no user has them.
    async fn run_external(&mut self, ctx: &RunContext, profile: &crate::profile::SutProfile) {
        let Some(user) = profile.user_for(&self.stated) else {
            let why = format!(
                "SKIPPED: the SUT profile `{}` has no user with {}; add one to `users:` to run this scenario",
                profile.path.display(),
                self.stated.describe()
            );
            eprintln!("{why}");
            self.skipped = Some(why);
            return;
        };
        let (_, seed) = self.next_call(ctx);
        self.settings = user.settings.clone();
        let extension = user.extension.clone();
        let call = ExternalCall {
            target: profile.target.clone(),
            extension: extension.clone(),
            plan: self.plan.clone(),
            recorder: self.recorder,
            seed,
            evidence: ctx.evidence_dir.is_some(),
        };
        let outcome = tokio::task::spawn_blocking(move || drive::external::run_call(&call)).await;
        let Some(outcome) = self.ran_or_note(outcome, "the real-time call crashed") else {
            return;
        };
        let expect = crate::expectation::external_expectation(
            &self.settings,
            &self.plan,
            self.recorder,
            profile,
            &extension,
        );
        self.finish(ctx, outcome, expect);
    }

    /// Appends the call's log to the run's, writes the evidence and judges the call.
    fn finish(
        &mut self,
        ctx: &RunContext,
        outcome: drive::embedded::CallOutcome,
        expect: CallExpectation,
    ) {
        self.append_log(
            ctx,
            &outcome,
            serde_json::to_value(&expect).unwrap_or_default(),
            serde_json::to_value(&ctx.tolerances).unwrap_or_default(),
        );
        let (verdicts, timeline) = checks::judge_call_summarized(
            &outcome.observations,
            self.label(),
            &expect,
            &ctx.tolerances,
        );
        self.verdicts = verdicts;
        self.timeline = Some(timeline);
        self.expectation = Some(expect);
        self.log = Some(outcome.observations);
    }

    /// Appends the call's log to the run's, with its expectation, and writes the
    /// evidence.
    fn append_log(
        &mut self,
        ctx: &RunContext,
        outcome: &drive::embedded::CallOutcome,
        expectation: serde_json::Value,
        tolerances: serde_json::Value,
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
                    expectation,
                    tolerances,
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
            if let Err(e) = drive::embedded::write_evidence(outcome, &dir.join(self.label())) {
                self.evidence_error = Some(e.to_string());
            }
        }
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

    /// The judgement contract of a `Then` step: it passes only when
    ///
    /// - no precondition of the call FAILed (answered, media to each party, and where the
    ///   policy records the call, a recording session with party audio);
    /// - every check it names gave at least one verdict, and each is PASS (WARN only for
    ///   the dialect rules of `message.validate`): NOT APPLICABLE and INFO fail it as
    ///   "not judged", FAIL fails it;
    /// - when it is the scenario's last `Then` step, no other verdict of the call FAILed
    ///   (collateral failures are listed apart).
    pub(crate) fn assert_checks(&mut self, checks: &[&str]) {
        if self.skipped.is_some() {
            return;
        }
        if let Err(e) = self.ran() {
            panic!("{e}");
        }
        self.then_done += 1;
        let mut problems = Vec::new();
        for v in self
            .verdicts
            .iter()
            .filter(|v| preconditions::is_precondition(&v.check))
        {
            if v.status == Status::Fail {
                problems.push(format!(
                    "precondition failed, so nothing here is judged: {v}"
                ));
            }
        }
        for c in checks {
            let found: Vec<&Verdict> = self.verdicts.iter().filter(|v| v.check == *c).collect();
            if found.is_empty() {
                problems.push(format!(
                    "check `{c}` gave no verdict on {}: a claim nobody judged is not a pass",
                    self.label()
                ));
            }
            for v in found {
                if !self.asserted.contains(&v.requirement) {
                    self.asserted.push(v.requirement.clone());
                }
                match v.status {
                    Status::Pass => {}
                    Status::Warn if *c == "message.validate" => {}
                    Status::Fail => problems.push(v.to_string()),
                    Status::Warn | Status::Info | Status::NotApplicable => {
                        problems.push(format!("not judged (a claim must PASS): {v}"))
                    }
                }
            }
        }
        if self.then_done >= self.then_steps {
            for v in self.verdicts.iter().filter(|v| {
                v.status == Status::Fail
                    && !preconditions::is_precondition(&v.check)
                    && !self.asserted_checks.contains(&v.check)
            }) {
                problems.push(format!(
                    "collateral FAIL (no step of this scenario asserts it, but any FAIL fails the call): {v}"
                ));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    /// Fails the step when the scenario's own settings contradict its text (a mistake in
    /// the feature file, not in the SUT).
    pub(crate) fn consistent(&self, ok: bool, what: impl FnOnce() -> String) {
        if self.skipped.is_none() && self.expectation.is_some() {
            assert!(
                ok,
                "the scenario's settings do not match its text: {}",
                what()
            );
        }
    }

    /// The verdicts, for the run's record.
    pub(crate) fn verdicts(&self) -> &[Verdict] {
        &self.verdicts
    }
}
