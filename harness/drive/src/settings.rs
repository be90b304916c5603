//! The recording settings a scenario puts in force, written as a Webex-style policy.
//!
//! The suite's steps say things like "the callee's recording mode is Always" or "the
//! location overrides the provider with Imagicle". [`Settings`] collects those and
//! renders them as the same YAML an administrator would write (`scenarios/*.yaml`), which
//! then goes through `recproof_policy::parse` and all its validation: the suite never
//! builds a policy the file format would refuse.
//!
//! The simulated organisation: a PSTN caller ([`CALLER_NUMBER`]) calls the recorded
//! person ([`CALLEE_EXTENSION`]) at location `hq`, or at `branch` when the location
//! overrides the provider. Every provider's recorder has its own address
//! ([`provider_srs_addr`]) so a check can tell where a recording session went.

use std::fmt::Write as _;
use std::net::SocketAddr;

/// The callee's extension (the recorded person).
pub const CALLEE_EXTENSION: &str = "2001";
/// The caller's number (a PSTN party, not a person of the organisation).
pub const CALLER_NUMBER: &str = "+4722000001";
/// The providers the suite knows, in the Webex API's spelling.
pub const PROVIDERS: [&str; 4] = ["Dubber", "Imagicle", "CallCabinet", "Webex"];

/// Where a provider's recorder listens in the simulated network.
pub fn provider_srs_addr(provider: &str) -> Option<SocketAddr> {
    let host = match provider {
        "Dubber" => 1,
        "Imagicle" => 2,
        "CallCabinet" => 3,
        "Webex" => 4,
        _ => return None,
    };
    Some(SocketAddr::from(([10, 0, 1, host], 5060)))
}

/// Which provider a recorder address belongs to (the inverse of [`provider_srs_addr`]).
pub fn provider_at(addr: SocketAddr) -> Option<&'static str> {
    PROVIDERS
        .into_iter()
        .find(|p| provider_srs_addr(p) == Some(addr))
}

/// The reminder tone setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reminder {
    /// `repeat.enabled: false`.
    Off,
    /// `repeat.enabled: true` without an interval (the default, 20 s).
    DefaultInterval,
    /// `repeat.enabled: true`, `repeat.interval: n`.
    Every(u32),
}

/// The settings of one scenario. `Default` is an organisation recording with Dubber and
/// a callee recorded Always with the announcement on, reminder off, notification off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Organisation provider (`Dubber`, `Imagicle`, `CallCabinet`, `Webex`, `None`).
    pub org_provider: String,
    /// The callee's location overrides the provider with this one (or `None`).
    pub location_override: Option<String>,
    /// Webex `record` value.
    pub mode: String,
    /// Start/stop announcement on (internal and PSTN calls).
    pub start_stop_announcement: bool,
    /// Pause/resume notification type (`Beep`, `Play Announcement`, `None`); `None`
    /// here means the notification is disabled.
    pub notification: Option<String>,
    /// Reminder tone.
    pub reminder: Reminder,
    /// `recordVoicemailEnabled`.
    pub record_voicemail: bool,
    /// Organisation failure behaviour (Webex enum string).
    pub failure_behavior: Option<String>,
    /// Metadata dialect (`broadworks-compat` or `rfc-strict`).
    pub dialect: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            org_provider: "Dubber".into(),
            location_override: None,
            mode: "Always".into(),
            start_stop_announcement: true,
            notification: None,
            reminder: Reminder::Off,
            record_voicemail: false,
            failure_behavior: None,
            dialect: "broadworks-compat".into(),
        }
    }
}

impl Settings {
    /// The callee's location id.
    pub fn callee_location(&self) -> &'static str {
        if self.location_override.is_some() {
            "branch"
        } else {
            "hq"
        }
    }

    /// The provider whose recorder should get the recording, or `None` when nobody
    /// should be recorded by provider choice (POL-11, POL-12).
    pub fn effective_provider(&self) -> Option<&str> {
        let p = self
            .location_override
            .as_deref()
            .unwrap_or(&self.org_provider);
        (p != "None").then_some(p)
    }

    /// The policy YAML for these settings (the format of `scenarios/*.yaml`).
    pub fn to_yaml(&self) -> String {
        let providers: Vec<(String, SocketAddr)> = PROVIDERS
            .iter()
            .filter_map(|p| Some(((*p).to_owned(), provider_srs_addr(p)?)))
            .collect();
        let callee = Person {
            extension: CALLEE_EXTENSION.to_owned(),
            display_name: "Callee Recorded".to_owned(),
            external_id: "callee@recproof.invalid".to_owned(),
        };
        policy_yaml(self, &[(self, &[callee])], &providers)
    }

    /// Parses [`Self::to_yaml`] with the policy crate (every rule of the file format
    /// applies).
    pub fn policy(&self) -> Result<policy::Policy, policy::PolicyErrors> {
        policy::parse(&self.to_yaml(), "scenario settings")
    }
}

/// A person of a generated policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Extension (what callers dial).
    pub extension: String,
    /// Display name.
    pub display_name: String,
    /// BroadWorks external identifier (carried in the recording metadata).
    pub external_id: String,
}

impl Person {
    /// A person known only by an extension (`Recorded <ext>`, `<ext>@recproof.invalid`).
    pub fn numbered(extension: &str) -> Self {
        Self {
            extension: extension.to_owned(),
            display_name: format!("Recorded {extension}"),
            external_id: format!("{extension}@recproof.invalid"),
        }
    }
}

/// A policy in the format of `scenarios/*.yaml` with many people: the organisation's
/// settings from `org` (provider, failure behaviour, dialect, a location override),
/// every extension of each group with that group's personal settings (mode,
/// announcement, notification, reminder, voicemail), and the given providers' recorder
/// addresses. What the load simulator gives the embedded platform.
pub fn policy_yaml(
    org: &Settings,
    people: &[(&Settings, &[Person])],
    providers: &[(String, SocketAddr)],
) -> String {
    let mut y = String::new();
    let _ = writeln!(y, "organization:\n  name: recproof suite\n  region: US");
    let _ = writeln!(y, "  callRecording:\n    vendor: {}", org.org_provider);
    if let Some(fb) = &org.failure_behavior {
        let _ = writeln!(y, "    failureBehavior: {fb}");
    }
    let _ = writeln!(y, "providers:");
    for (p, addr) in providers {
        let _ = writeln!(y, "  {p}:\n    srs: \"sip:{}@{addr}\"", p.to_lowercase());
    }
    let _ = writeln!(y, "dialect: {}", org.dialect);
    let _ = writeln!(y, "locations:\n  - id: hq\n    name: Headquarters");
    if let Some(v) = people
        .iter()
        .find_map(|(s, _)| s.location_override.as_deref())
    {
        let _ = writeln!(
            y,
            "  - id: branch\n    name: Branch\n    callRecording:\n      orgDefaultEnabled: false\n      vendor: {v}"
        );
    }
    let _ = writeln!(y, "people:");
    for (settings, persons) in people {
        for p in persons.iter() {
            person_yaml(&mut y, settings, p);
        }
    }
    y
}

/// One person of [`policy_yaml`] with `s`'s personal settings.
fn person_yaml(y: &mut String, s: &Settings, p: &Person) {
    let _ = writeln!(
        y,
        "  - extension: \"{}\"\n    displayName: {}\n    location: {}",
        p.extension,
        p.display_name,
        s.callee_location()
    );
    let _ = writeln!(y, "    callRecording:\n      enabled: true");
    let _ = writeln!(y, "      record: {}", s.mode);
    let _ = writeln!(y, "      recordVoicemailEnabled: {}", s.record_voicemail);
    let a = s.start_stop_announcement;
    let _ = writeln!(
        y,
        "      startStopAnnouncementEnabled: {a}\n      startStopAnnouncement:\n        internalCallsEnabled: {a}\n        pstnCallsEnabled: {a}"
    );
    match &s.notification {
        Some(kind) => {
            let _ = writeln!(
                y,
                "      notification:\n        enabled: true\n        type: {kind}"
            );
        }
        None => {
            let _ = writeln!(y, "      notification:\n        enabled: false");
        }
    }
    match s.reminder {
        Reminder::Off => {
            let _ = writeln!(y, "      repeat:\n        enabled: false");
        }
        Reminder::DefaultInterval => {
            let _ = writeln!(y, "      repeat:\n        enabled: true");
        }
        Reminder::Every(n) => {
            let _ = writeln!(
                y,
                "      repeat:\n        enabled: true\n        interval: {n}"
            );
        }
    }
    let _ = writeln!(
        y,
        "      serviceProvider: RECPROOFSP\n      externalGroup: RECPROOFGRP\n      externalIdentifier: {}",
        p.external_id
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_settings_parse_and_resolve_to_an_always_recorded_callee() {
        let s = Settings::default();
        let p = s.policy().expect("valid policy");
        let user = p.resolve(CALLEE_EXTENSION).expect("callee known");
        let active = user.active().expect("recorded");
        assert_eq!(active.srs.srs, "sip:dubber@10.0.1.1:5060");
        assert_eq!(active.repeat_interval, None);
    }

    #[test]
    fn overrides_intervals_and_none_provider_go_through_the_policy_rules() {
        let s = Settings {
            location_override: Some("Imagicle".into()),
            reminder: Reminder::Every(90),
            notification: Some("Play Announcement".into()),
            ..Settings::default()
        };
        let p = s.policy().expect("valid");
        let active = p
            .resolve(CALLEE_EXTENSION)
            .and_then(|u| u.active().cloned())
            .expect("recorded");
        assert_eq!(active.srs.srs, "sip:imagicle@10.0.1.2:5060");
        assert_eq!(active.repeat_interval, Some(90));
        assert_eq!(s.effective_provider(), Some("Imagicle"));

        let none = Settings {
            location_override: Some("None".into()),
            ..Settings::default()
        };
        let p = none.policy().expect("valid");
        assert!(
            p.resolve(CALLEE_EXTENSION)
                .expect("known")
                .active()
                .is_none()
        );
        assert_eq!(none.effective_provider(), None);

        // 5 s is outside the seed's 10-90 s range: the policy rules refuse it.
        let bad = Settings {
            reminder: Reminder::Every(5),
            ..Settings::default()
        };
        assert!(bad.policy().is_err());
        assert_eq!(
            provider_at(SocketAddr::from(([10, 0, 1, 2], 5060))),
            Some("Imagicle")
        );
    }
}
