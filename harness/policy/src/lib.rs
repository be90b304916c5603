//! Recording-policy configuration for recproof: who is recorded, by which vendor's
//! recorder, and with which announcements, as a Webex Calling organisation would set it.
//!
//! A policy file is YAML that uses the Webex API's own field names, so an administrator
//! can paste what their organisation has (`callRecording`, `record: "Always with
//! Pause/Resume"`, `notification.type: "Play Announcement"`, …). The format is described
//! in `scenarios/README.md`, with examples beside it.
//!
//! The main type is [`Policy`]. Get one with [`parse`] (text in, no I/O) or [`load`]
//! (reads a file), then ask it about a person with [`Policy::resolve`]:
//!
//! ```
//! let yaml = r#"
//! organization:
//!   name: Acme
//!   region: US
//!   callRecording: { vendor: Dubber }
//! providers:
//!   Dubber: { srs: "sip:recorder@127.0.0.1:5080" }
//! locations:
//!   - id: hq
//! people:
//!   - extension: "1001"
//!     location: hq
//!     callRecording:
//!       enabled: true
//!       record: Always
//!       repeat: { enabled: true }
//! "#;
//! let policy = recproof_policy::parse(yaml, "acme.yaml")?;
//! let alice = policy.resolve("1001").expect("defined above");
//! let active = alice.active().expect("recorded");
//! assert_eq!(active.srs.srs, "sip:recorder@127.0.0.1:5080");
//! assert_eq!(active.repeat_interval, Some(20)); // the seed's default
//! # Ok::<(), recproof_policy::PolicyErrors>(())
//! ```
//!
//! A file with mistakes yields [`PolicyErrors`]: every problem found, each as
//! `file:line:column: message` with what to do about it, e.g.
//! `acme.yaml:14:17: person `1001`: callRecording.repeat.interval is 5 s; the profile
//! allows 10-90 s (seed default 20) — set it within the range or change
//! limits.repeatIntervalMin`.
//!
//! Invariants a [`Policy`] keeps (the types are `#[non_exhaustive]`, so only this crate
//! builds one): every person's location exists; extensions and ids are unique; every
//! vendor in use has a `providers` entry; CallCabinet only in a US organisation; repeat
//! intervals within `limits`; feature codes distinct DTMF strings.
//!
//! What this crate does not do: place calls, play tones, or judge anything. It is a
//! leaf: no tokio, no sockets; [`load`] is the only function that touches the
//! filesystem. The reference platform and the checks read the resolved settings.
//!
//! Map of the code:
//! - `raw`: the file's shape (serde, every value `Spanned` with its line and column).
//! - `yaml`: serde-saphyr options (budgets against alias bombs) and its error mapping.
//! - `validate`: defaults and rules; collects every problem. Start here for a rule.
//! - `model`: the public, validated types.
//! - `resolve`: organisation → location → person precedence and per-call decisions.
//! - `error`: positions, rules and messages.

mod error;
mod model;
mod raw;
mod resolve;
mod validate;
mod yaml;

use std::path::Path;

pub use error::{PolicyErrors, Position, Problem, Rule, UnknownPerson};
pub use model::{
    CallRecordingAccess, ComplianceAnnouncement, Dialect, FailureBehavior, FeatureCodes,
    LicenseType, Limits, Location, LocationCallRecording, LocationComplianceAnnouncement,
    Notification, NotificationType, OrgCallRecording, Organization, Person, PersonCallRecording,
    Policy, RecordMode, Repeat, SelectiveCallRecording, SrsEndpoint, StartStopAnnouncement,
    Transport, Vendor,
};
pub use resolve::{
    ActiveRecording, AnnouncementPlan, CallType, Direction, Level, NotRecorded, PlatformIdentity,
    Reach, Recording, ResolvedUser,
};

/// Parses and validates a policy from text. `origin` names the text in messages (a path,
/// or anything).
///
/// Sans-IO: use this from tests and from callers that already hold the text.
///
/// # Errors
/// [`PolicyErrors`] with every problem found. A YAML syntax or shape error stops the
/// parse, so it comes alone; all semantic problems are reported together.
pub fn parse(text: &str, origin: &str) -> Result<Policy, PolicyErrors> {
    let raw = yaml::read(text, origin).map_err(|p| PolicyErrors { problems: vec![p] })?;
    validate::build(raw, origin)
}

/// Reads a policy file and [`parse`]s it, naming it by its path in messages.
///
/// # Errors
/// [`PolicyErrors`] holding one [`Rule::Read`] problem if the file cannot be read (or is
/// larger than a policy file can be), else whatever [`parse`] finds.
pub fn load(path: impl AsRef<Path>) -> Result<Policy, PolicyErrors> {
    let path = path.as_ref();
    let origin = path.display().to_string();
    let read_problem = |message: String| PolicyErrors {
        problems: vec![Problem {
            at: Position::file(&origin),
            rule: Rule::Read,
            message,
        }],
    };
    // Refuse oversized files before reading them into memory.
    if let Ok(meta) = std::fs::metadata(path)
        && meta.len() > yaml::MAX_INPUT_BYTES as u64
    {
        return Err(PolicyErrors {
            problems: vec![Problem {
                at: Position::file(&origin),
                rule: Rule::ResourceLimit,
                message: format!(
                    "the file is {} bytes; policy files are limited to {} bytes — check that \
                     the right file was given",
                    meta.len(),
                    yaml::MAX_INPUT_BYTES
                ),
            }],
        });
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        read_problem(format!(
            "cannot read the policy file ({e}); check the path (relative paths start at the \
             current directory) and that it is UTF-8 text"
        ))
    })?;
    parse(&text, &origin)
}
