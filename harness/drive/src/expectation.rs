//! From the settings a call runs under to what the checks expect on it (the suite and the
//! load simulator both use it; the suite adds an external SUT profile's facts).
//!
//! This is the one place that states what the policy implies for a call: the same facts
//! an external SUT profile states in YAML. It reads [`Settings`] (not the platform's
//! ground truth), so a platform that misreads the policy is caught. What the SUT's
//! notices sound like ([`Signals`]) comes from the reference platform's assets for the
//! embedded run and from the profile alone for an external SUT: no reference value is
//! ever a default for a SUT nobody here wrote.

use crate::embedded::RecorderMode;
use crate::plan::CallPlan;
use crate::settings::{
    CALLEE_EXTENSION, CALLER_NUMBER, Reminder as ReminderSetting, Settings, provider_srs_addr,
};
use checks::{
    Announcements, CallExpectation, Dialect, Failure, FailureBehavior, Parties, PauseNotice,
    RecordMode, Signals, SrsTarget, Voicemail,
};

/// The default reminder interval (Webex: "a tone every 20 seconds by default").
pub const DEFAULT_REMINDER_S: f64 = 20.0;

/// The reference platform's clips (the names the harness listeners give them) and tones.
pub fn reference_signals() -> Signals {
    Signals {
        start_clip: Some("announcement-start".into()),
        stop_clip: Some("announcement-stop".into()),
        pause_clip: Some("announcement-pause".into()),
        resume_clip: Some("announcement-resume".into()),
        // "Recording has stopped." is the only shipped clip that fits a failure.
        failure_clip: Some("announcement-stop".into()),
        greeting_clip: Some("voicemail-greeting".into()),
        reminder_hz: Some(platform::assets::REMINDER_TONE_HZ),
        beep_hz: Some(platform::assets::NOTICE_BEEP_HZ),
    }
}

/// The policy facts of a call under `settings` (everything but where the recorder is,
/// who the parties are and what the notices sound like).
pub fn policy_facts(
    settings: &Settings,
    plan: &CallPlan,
    recorder: RecorderMode,
) -> CallExpectation {
    let mode = match settings.mode.as_str() {
        "Never" => RecordMode::Never,
        "Always with Pause/Resume" => RecordMode::AlwaysWithPauseResume,
        "On Demand with User Initiated Start" => RecordMode::OnDemand,
        _ => RecordMode::Always,
    };
    let reminder_interval_s = match settings.reminder {
        ReminderSetting::Off => None,
        ReminderSetting::DefaultInterval => Some(DEFAULT_REMINDER_S),
        ReminderSetting::Every(n) => Some(f64::from(n)),
    };
    let pause_notice = match settings.notification.as_deref() {
        Some("Beep") => PauseNotice::Beep,
        Some("Play Announcement") => PauseNotice::Announcement,
        _ => PauseNotice::None,
    };
    let voicemail = matches!(
        plan.answer,
        crate::plan::Answer::Never | crate::plan::Answer::Decline(_)
    )
    .then_some(Voicemail {
        recorded: settings.record_voicemail,
    });
    let failure = (recorder != RecorderMode::Accept).then_some(Failure {
        behavior: match settings.failure_behavior.as_deref() {
            Some("PROCEED_CALL_WITH_ANNOUNCEMENT") => FailureBehavior::ProceedCallWithAnnouncement,
            Some("END_CALL_WITH_ANNOUNCEMENT") => FailureBehavior::EndCallWithAnnouncement,
            _ => FailureBehavior::ProceedWithCallNoAnnouncement,
        },
    });
    CallExpectation {
        mode,
        srs: None,
        announcements: Announcements {
            enabled: settings.start_stop_announcement,
            metadata: true,
        },
        reminder_interval_s,
        pause_notice,
        voicemail,
        failure,
        dialect: dialect_of(&settings.dialect),
        ..CallExpectation::default()
    }
}

/// The dialect a settings string names (`rfc-strict`, else BroadWorks).
pub fn dialect_of(name: &str) -> Dialect {
    if name == "rfc-strict" {
        Dialect::RfcStrict
    } else {
        Dialect::BroadworksCompat
    }
}

/// What the checks should expect on an embedded call made with these settings and plan.
pub fn expectation(
    settings: &Settings,
    plan: &CallPlan,
    recorder: RecorderMode,
) -> CallExpectation {
    let mut e = policy_facts(settings, plan, recorder);
    e.srs = settings.effective_provider().map(|p| SrsTarget {
        provider: Some(p.to_owned()),
        address: provider_srs_addr(p).map(|a| a.to_string()),
        uri: provider_srs_addr(p).map(|a| format!("sip:{}@{a}", p.to_lowercase())),
    });
    e.parties = Parties {
        caller: CALLER_NUMBER.to_owned(),
        callee: CALLEE_EXTENSION.to_owned(),
    };
    e.signals = reference_signals();
    e
}
