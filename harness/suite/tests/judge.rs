//! Offline judging of a log that carries no expectation (as a `recproof srs` log or an
//! older run would): with a SUT profile, each call is judged against the settings of the
//! profile user it called; without one it is reported as not judged.

use drive::embedded::{EmbeddedCall, run_call};
use drive::plan::CallPlan;
use drive::settings::Settings;
use observe::Log;
use recproof_suite::judge::{ExpectationSource, judge_log};
use std::time::Duration;

/// One embedded call (callee 2001 recorded Always by Dubber), as a log without an
/// `expectation` observation.
fn recorded_call() -> Log {
    let plan = CallPlan::answered("call-0001", "offline", Duration::from_secs(8));
    let outcome = run_call(&EmbeddedCall::new(Settings::default(), plan, None, 7)).expect("call");
    assert!(
        !outcome
            .observations
            .iter()
            .any(|o| matches!(o.event, observe::Event::Expectation { .. })),
        "the driver itself writes no expectation"
    );
    Log {
        observations: outcome.observations,
        problems: Vec::new(),
    }
}

fn profile(dir: &std::path::Path, mode: &str) -> recproof_suite::SutProfile {
    let path = dir.join(format!("profile-{}.yaml", mode.len()));
    // The embedded network's Dubber recorder is 10.0.1.1:5060; the callee is 2001.
    std::fs::write(
        &path,
        format!(
            r#"name: offline
sut: {{ sip: "10.0.0.1:5060" }}
harness:
  caller: {{ sip: "10.0.0.10:5060", rtp: "10.0.0.10:20000" }}
  callee: {{ sip: "10.0.0.11:5060", rtp: "10.0.0.11:20000" }}
  recorders:
    Dubber: {{ sip: "10.0.1.1:5060", rtp_port_base: 30000 }}
caller: "+4722000001"
users:
  - {{ extension: "2001", provider: Dubber, mode: "{mode}", start_stop_announcement: true }}
"#
        ),
    )
    .expect("profile");
    recproof_suite::profile::load(&path).expect("valid profile")
}

#[test]
fn a_log_without_expectations_is_judged_against_the_profile_user_it_called() {
    let log = recorded_call();
    let dir = tempfile::tempdir().expect("tempdir");

    let none = judge_log(&log, None);
    assert!(none.calls.is_empty());
    assert_eq!(none.unjudged.len(), 1);
    assert!(none.unjudged[0].1.contains("--sut"), "{:?}", none.unjudged);

    let always = judge_log(&log, Some(&profile(dir.path(), "Always")));
    assert_eq!(always.calls.len(), 1, "{:?}", always.unjudged);
    assert_eq!(
        always.calls[0].source,
        ExpectationSource::ProfileUser("2001".into())
    );
    let fails: Vec<_> = always.calls[0]
        .verdicts
        .iter()
        .filter(|v| v.status == checks::Status::Fail)
        .map(|v| format!("{} {}", v.requirement, v.summary))
        .collect();
    assert!(
        fails.is_empty(),
        "the call matches its user's settings: {fails:?}"
    );

    // The same log against a user configured Never: the recording is now a violation.
    let never = judge_log(&log, Some(&profile(dir.path(), "Never")));
    assert!(
        never.calls[0]
            .verdicts
            .iter()
            .any(|v| v.requirement == "POL-01" && v.status == checks::Status::Fail),
        "{:?}",
        never.calls[0].verdicts
    );
}
