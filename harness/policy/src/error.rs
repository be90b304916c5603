//! Problems found while loading a policy file, each tied to a file position.
//!
//! Owns [`Position`], [`Rule`], [`Problem`], [`PolicyErrors`] and [`UnknownPerson`].
//! It must not decide *what* is wrong (that is `validate` and `yaml`); it only carries
//! and prints the findings. Messages are lowercase, the thing at
//! fault in backticks, the valid choices listed, and what to do about it.

use std::fmt;

/// Where in which file a problem is, as `origin:line:column` (1-based, characters).
///
/// `line == 0` means "the whole file" (for example a file that could not be read); it
/// prints as the origin alone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The name the caller gave the text: a path for [`crate::load`], anything for
    /// [`crate::parse`].
    pub origin: String,
    /// 1-based line; 0 when unknown.
    pub line: u64,
    /// 1-based column in characters; 0 when unknown.
    pub column: u64,
}

impl Position {
    /// A position that names only the file, for problems that have no better place.
    #[must_use]
    pub fn file(origin: &str) -> Self {
        Self {
            origin: origin.to_owned(),
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.origin)
        } else {
            write!(f, "{}:{}:{}", self.origin, self.line, self.column)
        }
    }
}

/// Which rule a [`Problem`] breaks, so callers and tests can match on the cause rather
/// than on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// The file could not be read.
    Read,
    /// Not YAML, or YAML of the wrong shape (a list where a mapping belongs, text where a
    /// number belongs, a required key missing, a key given twice).
    Syntax,
    /// A key this format does not know. Field names are the Webex API's own camelCase
    /// names, so this is almost always a typo that would otherwise silently do nothing.
    UnknownField,
    /// The input exceeds a safety budget (size, nesting depth, alias expansion): a hostile
    /// or generated file, never a hand-written policy.
    ResourceLimit,
    /// A value that is not one of the accepted spellings (`record`, `notification.type`,
    /// `failureBehavior`, `transport`, `dialect`, `licenseType`).
    UnknownValue,
    /// A recording vendor name that does not exist, as a `vendor` value or a `providers`
    /// key.
    UnknownProvider,
    /// A vendor in use has no `providers` entry, so the harness would not know where its
    /// recorder (SRS) listens.
    MissingProvider,
    /// A vendor that is not offered in the organisation's region (CallCabinet outside US).
    RegionRestricted,
    /// `repeat.interval` outside the profile's range (`limits`).
    RepeatInterval,
    /// The `limits` section itself is impossible (min above max, zero).
    Limits,
    /// A person's `location` names no location in `locations`.
    UnknownLocation,
    /// An extension, person id or location id given twice.
    Duplicate,
    /// A licence that does not allow call recording with the effective vendor (POL-14).
    Licence,
    /// A feature access code that is empty, not made of DTMF symbols, or used twice.
    FeatureCode,
    /// Settings that contradict each other (an override flag without the value it
    /// overrides with, or a value that the flag makes ignored).
    Inconsistent,
    /// A value of the right type that cannot be right (an empty id, an SRS address that is
    /// not a SIP URI, a negative delay).
    InvalidValue,
}

/// One thing wrong with a policy file: where, which rule, and a message that says what is
/// wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct Problem {
    /// Where the offending value is (its first character).
    pub at: Position,
    /// The rule broken.
    pub rule: Rule,
    /// What is wrong and what to do, without the position prefix.
    pub message: String,
}

/// Every problem found in one policy file, sorted by position.
///
/// Displays one problem per line as `file:line:column: message`, ready for a terminal or
/// an editor's quickfix list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyErrors {
    /// The problems, in file order. Never empty when returned as an error.
    pub problems: Vec<Problem>,
}

impl PolicyErrors {
    /// Whether any problem breaks `rule` (handy in tests and in the CLI's exit-code
    /// mapping).
    #[must_use]
    pub fn has(&self, rule: Rule) -> bool {
        self.problems.iter().any(|p| p.rule == rule)
    }
}

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// A scenario or call plan named an extension that the policy does not define.
///
/// Returned by [`crate::Policy::require_person`]; its message lists the extensions that do
/// exist so the user can fix the reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no person with extension `{extension}` in policy `{origin}` (known extensions: {}){}; \
     add the person under `people:` or fix the extension",
    known_list(.known),
    did_you_mean_suffix(.suggestion)
)]
pub struct UnknownPerson {
    /// The extension that was asked for.
    pub extension: String,
    /// The policy file's origin name.
    pub origin: String,
    /// Every extension the policy defines, in file order.
    pub known: Vec<String>,
    /// The closest known extension, if one is close.
    pub suggestion: Option<String>,
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "none".to_owned()
    } else {
        known.join(", ")
    }
}

fn did_you_mean_suffix(s: &Option<String>) -> String {
    s.as_ref()
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}
