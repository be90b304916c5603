//! The call mix of a load run (`--mix FILE`): a weighted list of call kinds, each with
//! the recording settings of the person called (Webex's per-user settings) and what the
//! call does (answer, keys pressed after answer). Without a file, [`Mix::default_mix`].
//!
//! ```yaml
//! organization:              # optional; used by the embedded platform
//!   provider: Dubber
//!   dialect: broadworks-compat  # or rfc-strict
//!   failureBehavior: PROCEED_WITH_CALL_NO_ANNOUNCEMENT
//! calls:
//!   - name: always
//!     weight: 70
//!     record: Always           # Webex `record`: Always, "Always with Pause/Resume",
//!                              # "On Demand with User Initiated Start", Never
//!     announcement: true       # start/stop announcement
//!     reminder: 20             # seconds (10-90), `default` (20) or `off`
//!     notification: Beep       # pause/resume notice: Beep, "Play Announcement" or none
//!     answer: 0.5              # ring seconds, `never` (voicemail) or `decline:486`
//!     voicemail: false         # recordVoicemailEnabled
//!   - name: paused
//!     weight: 30
//!     record: Always with Pause/Resume
//!     keys:                    # after answer, seconds
//!       - { at: 6, party: callee, digits: "*48" }
//!       - { at: 12, party: callee, digits: "*49" }
//! ```
//!
//! Owns: [`Mix`] (parsed and checked) and its kinds as the drive crate's [`Settings`] and
//! [`CallPlan`]. Must not touch: sockets, clocks, the policy file format beyond what
//! [`Settings`] renders (the policy crate checks that).

use drive::plan::{Answer, CallPlan, Keypress, Party};
use drive::settings::{Reminder, Settings};
use serde::Deserialize;
use std::time::Duration;

/// Largest mix file read, bytes.
pub const MAX_MIX_BYTES: usize = 256 * 1024;
/// Most kinds in a mix.
pub const MAX_KINDS: usize = 64;

/// A reminder setting as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum ReminderText {
    Seconds(u32),
    Word(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyText {
    at: f64,
    #[serde(default = "callee")]
    party: String,
    digits: String,
}

fn callee() -> String {
    "callee".to_owned()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum AnswerText {
    Ring(f64),
    Word(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryText {
    name: String,
    #[serde(default = "one")]
    weight: f64,
    #[serde(default = "always")]
    record: String,
    #[serde(default = "yes")]
    announcement: bool,
    reminder: Option<ReminderText>,
    notification: Option<String>,
    answer: Option<AnswerText>,
    #[serde(default)]
    voicemail: bool,
    #[serde(default)]
    keys: Vec<KeyText>,
    /// The person's location overrides the provider with this one (`None`: not
    /// recorded by provider choice).
    location_provider: Option<String>,
}

fn one() -> f64 {
    1.0
}
fn always() -> String {
    "Always".to_owned()
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgText {
    provider: Option<String>,
    dialect: Option<String>,
    #[serde(rename = "failureBehavior")]
    failure_behavior: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MixText {
    #[serde(default)]
    organization: Option<OrgText>,
    calls: Vec<EntryText>,
}

/// One kind of call of the mix.
#[derive(Debug, Clone)]
pub struct MixKind {
    /// Its name.
    pub name: String,
    /// Its weight.
    pub weight: f64,
    /// The settings of the person called (and the organisation's).
    pub settings: Settings,
    /// What the call does; `talk` is replaced by each call's drawn hold.
    pub plan: CallPlan,
}

/// The mix of a run.
#[derive(Debug, Clone)]
pub struct Mix {
    /// The organisation's settings (provider, dialect, failure behaviour).
    pub org: Settings,
    /// The kinds.
    pub kinds: Vec<MixKind>,
    /// Where it came from (`default`, or the file).
    pub origin: String,
}

/// Why a mix file was refused; the message names the entry and what to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct MixError {
    /// The file.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

/// The Webex `record` values the mix takes.
pub const RECORD_MODES: [&str; 4] = [
    "Always",
    "Always with Pause/Resume",
    "On Demand with User Initiated Start",
    "Never",
];

impl Mix {
    /// Every call recorded Always with the start announcement on and a reminder tone
    /// every 10 s (the shortest interval allowed, so calls of ordinary length hear it),
    /// answered after 0.2 s, organisation provider Dubber.
    pub fn default_mix() -> Self {
        let settings = Settings {
            reminder: Reminder::Every(10),
            ..Settings::default()
        };
        Self {
            org: Settings::default(),
            kinds: vec![MixKind {
                name: "recorded".to_owned(),
                weight: 1.0,
                plan: plan_of(&settings, Answer::After(Duration::from_millis(200)), vec![]),
                settings,
            }],
            origin: "default".to_owned(),
        }
    }

    /// Parses a mix file's text.
    pub fn parse(text: &str, origin: &str) -> Result<Self, MixError> {
        let err = |message: String| MixError {
            origin: origin.to_owned(),
            message,
        };
        if text.len() > MAX_MIX_BYTES {
            return Err(err(format!(
                "the file is {} bytes; a mix is at most {MAX_MIX_BYTES}",
                text.len()
            )));
        }
        let raw: MixText = serde_saphyr::from_str(text).map_err(|e| err(e.to_string()))?;
        if raw.calls.is_empty() || raw.calls.len() > MAX_KINDS {
            return Err(err(format!(
                "`calls:` lists {} kinds; give 1 to {MAX_KINDS}",
                raw.calls.len()
            )));
        }
        let o = raw.organization.unwrap_or_default();
        let org = Settings {
            org_provider: o.provider.unwrap_or_else(|| "Dubber".to_owned()),
            dialect: o.dialect.unwrap_or_else(|| "broadworks-compat".to_owned()),
            failure_behavior: o.failure_behavior,
            ..Settings::default()
        };
        let mut kinds = Vec::new();
        for e in raw.calls {
            let at = |m: String| err(format!("call kind `{}`: {m}", e.name));
            if !(e.weight.is_finite() && e.weight >= 0.0) {
                return Err(at(format!("weight {} must be 0 or more", e.weight)));
            }
            if !RECORD_MODES.contains(&e.record.as_str()) {
                return Err(at(format!(
                    "record `{}`: give one of {}",
                    e.record,
                    RECORD_MODES.join(", ")
                )));
            }
            let reminder = match e.reminder {
                None => Reminder::Off,
                Some(ReminderText::Seconds(n)) if (10..=90).contains(&n) => Reminder::Every(n),
                Some(ReminderText::Seconds(n)) => {
                    return Err(at(format!("reminder {n}: give 10 to 90 seconds")));
                }
                Some(ReminderText::Word(w)) => match w.as_str() {
                    "off" => Reminder::Off,
                    "default" => Reminder::DefaultInterval,
                    other => {
                        return Err(at(format!(
                            "reminder `{other}`: give seconds (10-90), `default` or `off`"
                        )));
                    }
                },
            };
            let notification = match e.notification.as_deref() {
                None | Some("none") | Some("None") => None,
                Some(n @ ("Beep" | "Play Announcement")) => Some(n.to_owned()),
                Some(other) => {
                    return Err(at(format!(
                        "notification `{other}`: give Beep, \"Play Announcement\" or none"
                    )));
                }
            };
            let answer = match e.answer {
                None => Answer::After(Duration::from_millis(200)),
                Some(AnswerText::Ring(s)) if s.is_finite() && (0.0..=60.0).contains(&s) => {
                    Answer::After(Duration::from_secs_f64(s))
                }
                Some(AnswerText::Ring(s)) => {
                    return Err(at(format!("answer {s}: give ring seconds, 0 to 60")));
                }
                Some(AnswerText::Word(w)) if w == "never" => Answer::Never,
                Some(AnswerText::Word(w)) => match w
                    .strip_prefix("decline:")
                    .and_then(|c| c.parse::<u16>().ok())
                {
                    Some(code) if (300..700).contains(&code) => Answer::Decline(code),
                    _ => {
                        return Err(at(format!(
                            "answer `{w}`: give ring seconds, `never` or `decline:CODE` \
                             (300-699)"
                        )));
                    }
                },
            };
            let mut keys = Vec::new();
            for k in e.keys {
                let party = match k.party.as_str() {
                    "caller" => Party::Caller,
                    "callee" => Party::Callee,
                    other => return Err(at(format!("key party `{other}`: caller or callee"))),
                };
                if !(k.at.is_finite() && (0.0..=3600.0).contains(&k.at)) {
                    return Err(at(format!("key at {}: give 0 to 3600 seconds", k.at)));
                }
                if k.digits.is_empty() || !k.digits.chars().all(|c| "0123456789*#ABCD".contains(c))
                {
                    return Err(at(format!("key digits `{}`: 0-9, *, #, A-D", k.digits)));
                }
                keys.push(Keypress {
                    party,
                    after_answer: Duration::from_secs_f64(k.at),
                    digits: k.digits,
                });
            }
            let settings = Settings {
                mode: e.record.clone(),
                start_stop_announcement: e.announcement,
                notification,
                reminder,
                record_voicemail: e.voicemail,
                location_override: e.location_provider.clone(),
                ..org.clone()
            };
            kinds.push(MixKind {
                plan: plan_of(&settings, answer, keys),
                name: e.name,
                weight: e.weight,
                settings,
            });
        }
        if !kinds.iter().any(|k| k.weight > 0.0) {
            return Err(err("every kind has weight 0".to_owned()));
        }
        Ok(Self {
            org,
            kinds,
            origin: origin.to_owned(),
        })
    }
}

fn plan_of(settings: &Settings, answer: Answer, keypresses: Vec<Keypress>) -> CallPlan {
    CallPlan {
        label: String::new(),
        scenario: format!("load: {}", settings.mode),
        answer,
        keypresses,
        talk: Duration::from_secs(20),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_file_reads_into_settings_and_plans_and_bad_entries_are_named() {
        let m = Mix::parse(
            "organization: { provider: Imagicle, dialect: rfc-strict }\n\
             calls:\n\
             \x20 - { name: a, weight: 3, reminder: 20, notification: Beep }\n\
             \x20 - name: p\n\
             \x20   record: Always with Pause/Resume\n\
             \x20   answer: never\n\
             \x20   keys: [ { at: 5, digits: \"*48\" } ]\n",
            "mix.yaml",
        )
        .expect("valid");
        assert_eq!(m.kinds.len(), 2);
        assert_eq!(m.kinds[0].settings.org_provider, "Imagicle");
        assert_eq!(m.kinds[0].settings.reminder, Reminder::Every(20));
        assert_eq!(m.kinds[1].plan.answer, Answer::Never);
        assert_eq!(m.kinds[1].plan.keypresses[0].party, Party::Callee);
        for (bad, says) in [
            ("calls: []", "give 1 to"),
            (
                "calls: [ { name: x, record: Sometimes } ]",
                "record `Sometimes`",
            ),
            ("calls: [ { name: x, reminder: 5 } ]", "10 to 90"),
            (
                "calls: [ { name: x, answer: \"decline:99\" } ]",
                "decline:CODE",
            ),
            (
                "calls: [ { name: x, keys: [ { at: 1, digits: \"9x\" } ] } ]",
                "digits",
            ),
            ("calls: [ { name: x, colour: red } ]", "colour"),
        ] {
            let e = Mix::parse(bad, "m").expect_err(bad);
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
    }
}
