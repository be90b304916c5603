//! What the checks expect of a call on an external SUT: the policy facts of the settings
//! (from `recproof-drive`, where the embedded expectation lives too) with the SUT
//! profile's recorder addresses, parties, signals and announcement-metadata setting.

use checks::Parties;
use checks::{CallExpectation, SrsTarget};
use drive::embedded::RecorderMode;
use drive::expectation::policy_facts;
pub use drive::expectation::{dialect_of, expectation, reference_signals};
use drive::plan::CallPlan;
use drive::settings::Settings;

/// [`expectation`] for an external SUT: the same policy facts, with the profile's
/// recorder addresses, parties, signals and announcement-metadata setting.
pub fn external_expectation(
    settings: &Settings,
    plan: &CallPlan,
    recorder: RecorderMode,
    profile: &crate::profile::SutProfile,
    extension: &str,
) -> CallExpectation {
    let mut e = policy_facts(settings, plan, recorder);
    e.srs = settings.effective_provider().map(|p| {
        let addr = profile.recorder(p);
        SrsTarget {
            provider: Some(p.to_owned()),
            address: addr.map(|a| a.to_string()),
            uri: addr.map(|a| format!("sip:{}@{a}", p.to_lowercase())),
        }
    });
    e.parties = Parties {
        caller: profile.target.caller_user.clone(),
        callee: extension.to_owned(),
    };
    e.signals = profile.signals.clone();
    e.announcements.metadata = profile.announcement_metadata;
    e
}
