//! What a scenario states about the recording settings, and nothing more.
//!
//! A scenario's `Given` steps state some settings ("the callee's recording mode is
//! Always", "the callee's reminder tone is off"); everything it does not state is taken
//! from the system under test as it is. [`Stated`] keeps exactly the stated fields, so:
//!
//! - against an external SUT, the scenario runs on the first profile user whose settings
//!   equal the stated ones on those fields ([`Stated::matches`]), with that user's own
//!   settings for the rest;
//! - against the embedded reference platform, the stated fields go over the platform's
//!   base settings ([`Stated::apply`]).
//!
//! [`Capability`] names what a scenario needs the SUT to offer (voicemail, pause and
//! resume...). A profile can say what its SUT does not offer; a scenario that needs it is
//! then SKIPPED with that reason. Without such a statement it runs, and fails when the
//! behaviour never happens.
//!
//! This module owns that bookkeeping only: no policy rules (the policy crate), no
//! judging.

use drive::plan::{Answer, CallPlan};
use drive::settings::{Reminder, Settings};

/// The default failure behaviour (Webex: proceed with the call, no announcement).
const DEFAULT_FAILURE: &str = "PROCEED_WITH_CALL_NO_ANNOUNCEMENT";

/// The settings a scenario stated (`None`: not stated).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stated {
    /// The organisation's provider.
    pub org_provider: Option<String>,
    /// The callee's location overrides the provider with this one (`None` as a name
    /// included).
    pub location_override: Option<String>,
    /// The callee's recording mode (Webex spelling).
    pub mode: Option<String>,
    /// The start/stop announcement on or off.
    pub start_stop_announcement: Option<bool>,
    /// The pause/resume notification: `Some(None)` for disabled or `None` type.
    pub notification: Option<Option<String>>,
    /// The reminder tone.
    pub reminder: Option<Reminder>,
    /// `recordVoicemailEnabled`.
    pub record_voicemail: Option<bool>,
    /// The failure behaviour (Webex enum).
    pub failure_behavior: Option<String>,
    /// The metadata dialect.
    pub dialect: Option<String>,
}

impl Stated {
    /// The effective provider the statements imply (the location's override, else the
    /// organisation's), when either was stated. `Some("None")` for provider None.
    fn provider(&self) -> Option<&str> {
        self.location_override
            .as_deref()
            .or(self.org_provider.as_deref())
    }

    /// `base` with every stated field put over it.
    pub fn apply(&self, base: &Settings) -> Settings {
        let mut s = base.clone();
        if let Some(p) = &self.org_provider {
            s.org_provider = p.clone();
        }
        if let Some(l) = &self.location_override {
            s.location_override = Some(l.clone());
        }
        if let Some(m) = &self.mode {
            s.mode = m.clone();
        }
        if let Some(a) = self.start_stop_announcement {
            s.start_stop_announcement = a;
        }
        if let Some(n) = &self.notification {
            s.notification = n.clone();
        }
        if let Some(r) = self.reminder {
            s.reminder = r;
        }
        if let Some(v) = self.record_voicemail {
            s.record_voicemail = v;
        }
        if let Some(f) = &self.failure_behavior {
            s.failure_behavior = Some(f.clone());
        }
        if let Some(d) = &self.dialect {
            s.dialect = d.clone();
        }
        s
    }

    /// True when `settings` equal the stated fields (the provider compared as the
    /// effective one; an absent failure behaviour as Webex's default).
    pub fn matches(&self, settings: &Settings) -> bool {
        let provider_ok = self
            .provider()
            .is_none_or(|p| settings.effective_provider().unwrap_or("None") == p);
        let failure = settings
            .failure_behavior
            .as_deref()
            .unwrap_or(DEFAULT_FAILURE);
        provider_ok
            && self.mode.as_ref().is_none_or(|m| *m == settings.mode)
            && self
                .start_stop_announcement
                .is_none_or(|a| a == settings.start_stop_announcement)
            && self
                .notification
                .as_ref()
                .is_none_or(|n| *n == settings.notification)
            && self.reminder.is_none_or(|r| r == settings.reminder)
            && self
                .record_voicemail
                .is_none_or(|v| v == settings.record_voicemail)
            && self
                .failure_behavior
                .as_deref()
                .is_none_or(|f| f == failure)
            && self.dialect.as_ref().is_none_or(|d| *d == settings.dialect)
    }

    /// The stated settings in words, for a skip message (`mode Always, reminder off`).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = self.provider() {
            parts.push(format!("provider {p}"));
        }
        if let Some(m) = &self.mode {
            parts.push(format!("recorded `{m}`"));
        }
        if let Some(a) = self.start_stop_announcement {
            parts.push(format!(
                "start/stop announcement {}",
                if a { "on" } else { "off" }
            ));
        }
        if let Some(n) = &self.notification {
            parts.push(format!(
                "pause/resume notification {}",
                n.as_deref().unwrap_or("None")
            ));
        }
        if let Some(r) = self.reminder {
            parts.push(format!("reminder {}", reminder_words(r)));
        }
        if let Some(v) = self.record_voicemail {
            parts.push(format!(
                "voicemail recording {}",
                if v { "on" } else { "off" }
            ));
        }
        if let Some(f) = &self.failure_behavior {
            parts.push(format!("failure behaviour {f}"));
        }
        if let Some(d) = &self.dialect {
            parts.push(format!("dialect {d}"));
        }
        if parts.is_empty() {
            "(no settings stated)".into()
        } else {
            parts.join(", ")
        }
    }
}

/// A reminder setting in words.
pub fn reminder_words(r: Reminder) -> String {
    match r {
        Reminder::Off => "off".into(),
        Reminder::DefaultInterval => "on with the default interval".into(),
        Reminder::Every(n) => format!("every {n} s"),
    }
}

/// Something a scenario needs the SUT to offer. The profile spelling is the kebab-case
/// name ([`Capability::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// A start/stop announcement.
    StartStopAnnouncement,
    /// The reminder tone.
    ReminderTone,
    /// Pause and resume by feature code.
    PauseResume,
    /// On Demand recording (start and stop codes).
    OnDemand,
    /// A pause/resume notice (beep or announcement).
    PauseNotice,
    /// A mailbox for unanswered calls.
    Voicemail,
    /// A configurable behaviour when the recorder fails.
    FailureBehaviour,
}

impl Capability {
    /// Every capability.
    pub const ALL: [Capability; 7] = [
        Self::StartStopAnnouncement,
        Self::ReminderTone,
        Self::PauseResume,
        Self::OnDemand,
        Self::PauseNotice,
        Self::Voicemail,
        Self::FailureBehaviour,
    ];

    /// The profile spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::StartStopAnnouncement => "start-stop-announcement",
            Self::ReminderTone => "reminder-tone",
            Self::PauseResume => "pause-resume",
            Self::OnDemand => "on-demand",
            Self::PauseNotice => "pause-notice",
            Self::Voicemail => "voicemail",
            Self::FailureBehaviour => "failure-behaviour",
        }
    }

    /// The capability with this profile spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// What a scenario with these statements and this plan needs, judged from what it
    /// states and does (a reminder it states on, a mode it states, a call nobody answers,
    /// a recorder made to fail).
    pub fn needed(stated: &Stated, plan: &CallPlan, recorder_fails: bool) -> Vec<Self> {
        let mut v = Vec::new();
        if stated.start_stop_announcement == Some(true) {
            v.push(Self::StartStopAnnouncement);
        }
        if stated.reminder.is_some_and(|r| r != Reminder::Off) {
            v.push(Self::ReminderTone);
        }
        match stated.mode.as_deref() {
            Some("Always with Pause/Resume") => v.push(Self::PauseResume),
            Some("On Demand with User Initiated Start") => v.push(Self::OnDemand),
            _ => {}
        }
        if stated.notification.as_ref().is_some_and(Option::is_some) {
            v.push(Self::PauseNotice);
        }
        if matches!(plan.answer, Answer::Never | Answer::Decline(_)) {
            v.push(Self::Voicemail);
        }
        if recorder_fails {
            v.push(Self::FailureBehaviour);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_matches_on_the_stated_fields_only() {
        let user = Settings {
            start_stop_announcement: false,
            reminder: Reminder::Every(30),
            ..Settings::default()
        };
        // States nothing about announcements or reminders: matches.
        let stated = Stated {
            org_provider: Some("Dubber".into()),
            mode: Some("Always".into()),
            ..Stated::default()
        };
        assert!(stated.matches(&user));
        // States the announcement on: does not.
        let ann = Stated {
            start_stop_announcement: Some(true),
            ..stated.clone()
        };
        assert!(!ann.matches(&user));
        // The provider is compared as the effective one.
        let none = Stated {
            org_provider: Some("Dubber".into()),
            location_override: Some("None".into()),
            ..Stated::default()
        };
        assert!(!none.matches(&user));
        assert!(none.matches(&Settings {
            org_provider: "None".into(),
            ..user.clone()
        }));
        // Applying keeps the base's unstated fields.
        let s = ann.apply(&user);
        assert!(s.start_stop_announcement);
        assert_eq!(s.reminder, Reminder::Every(30));
        assert_eq!(
            Capability::needed(
                &ann,
                &CallPlan::answered("c", "", Default::default()),
                false
            ),
            vec![Capability::StartStopAnnouncement]
        );
    }
}
