//! From the scenario's settings to what the checks expect on the call.
//!
//! This is the one place that states, for the embedded reference platform, what the
//! policy implies for a call: the same facts an external SUT profile would state in
//! YAML. It reads [`Settings`] (not the platform's ground truth), so a platform that
//! misreads the policy is caught.

use checks::{
    Announcements, CallExpectation, Dialect, Failure, FailureBehavior, PauseNotice, RecordMode,
    Reminder, SrsTarget, Voicemail,
};
use drive::embedded::RecorderMode;
use drive::plan::CallPlan;
use drive::settings::{Reminder as ReminderSetting, Settings, provider_srs_addr};

/// The default reminder interval (seed: "a tone every 20 seconds by default").
const DEFAULT_REMINDER_S: f64 = 20.0;

/// What the checks should expect on a call made with these settings and plan.
pub fn expectation(
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
    let srs = settings.effective_provider().map(|p| SrsTarget {
        provider: Some(p.to_owned()),
        address: provider_srs_addr(p).map(|a| a.to_string()),
        uri: provider_srs_addr(p).map(|a| format!("sip:{}@{a}", p.to_lowercase())),
    });
    let reminder = match settings.reminder {
        ReminderSetting::Off => None,
        ReminderSetting::DefaultInterval => Some(DEFAULT_REMINDER_S),
        ReminderSetting::Every(n) => Some(f64::from(n)),
    }
    .map(|interval_s| Reminder {
        interval_s,
        freq_hz: platform::assets::REMINDER_TONE_HZ,
    });
    let pause_notice = match settings.notification.as_deref() {
        Some("Beep") => PauseNotice::Beep {
            freq_hz: platform::assets::NOTICE_BEEP_HZ,
        },
        Some("Play Announcement") => PauseNotice::Announcement {
            pause_clip: "announcement-pause".into(),
            resume_clip: "announcement-resume".into(),
        },
        _ => PauseNotice::None,
    };
    let voicemail = matches!(
        plan.answer,
        drive::plan::Answer::Never | drive::plan::Answer::Decline(_)
    )
    .then(|| Voicemail {
        recorded: settings.record_voicemail,
        greeting_clip: "voicemail-greeting".into(),
    });
    let failure = (recorder != RecorderMode::Accept).then(|| Failure {
        behavior: match settings.failure_behavior.as_deref() {
            Some("PROCEED_CALL_WITH_ANNOUNCEMENT") => FailureBehavior::ProceedCallWithAnnouncement,
            Some("END_CALL_WITH_ANNOUNCEMENT") => FailureBehavior::EndCallWithAnnouncement,
            _ => FailureBehavior::ProceedWithCallNoAnnouncement,
        },
        clip: "announcement-stop".into(),
    });
    CallExpectation {
        mode,
        srs,
        announcements: Announcements {
            enabled: settings.start_stop_announcement,
            ..Announcements::default()
        },
        reminder,
        pause_notice,
        voicemail,
        failure,
        dialect: if settings.dialect == "rfc-strict" {
            Dialect::RfcStrict
        } else {
            Dialect::BroadworksCompat
        },
        ..CallExpectation::default()
    }
}

/// [`expectation`] for an external SUT: the same policy facts, with the profile's
/// recorder addresses, tone frequencies, dialect and announcement-metadata setting.
pub fn external_expectation(
    settings: &Settings,
    plan: &CallPlan,
    recorder: RecorderMode,
    profile: &crate::profile::SutProfile,
) -> CallExpectation {
    let mut e = expectation(settings, plan, recorder);
    e.srs = settings.effective_provider().map(|p| {
        let addr = profile.recorder(p);
        SrsTarget {
            provider: Some(p.to_owned()),
            address: addr.map(|a| a.to_string()),
            uri: addr.map(|a| format!("sip:{}@{a}", p.to_lowercase())),
        }
    });
    if let Some(r) = e.reminder.as_mut() {
        r.freq_hz = profile.reminder_tone_hz;
    }
    if let PauseNotice::Beep { freq_hz } = &mut e.pause_notice {
        *freq_hz = profile.beep_hz;
    }
    e.announcements.metadata = profile.announcement_metadata;
    e.dialect = if profile.dialect == "rfc-strict" {
        Dialect::RfcStrict
    } else {
        Dialect::BroadworksCompat
    };
    e
}
