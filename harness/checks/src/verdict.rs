//! Verdicts: what a check says about one requirement on one call, with its proof.
//!
//! This module owns the output vocabulary of the crate ([`Verdict`], [`Status`],
//! [`Evidence`], [`Measurement`]) and the small builders the checks use. It judges
//! nothing and reads no log: the checks in the sibling modules do.

use serde::{Deserialize, Serialize};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The requirement was met.
    Pass,
    /// The requirement was broken (checklist word FAIL).
    Fail,
    /// Works with the known platforms but is non-standard (checklist word WARN).
    Warn,
    /// Recorded, not judged (checklist word INFO).
    Info,
    /// The requirement does not apply to this call (e.g. pause checks on a call that was
    /// never paused).
    NotApplicable,
}

impl Status {
    /// The spelling reports use (`PASS`, `FAIL`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Warn => "WARN",
            Self::Info => "INFO",
            Self::NotApplicable => "N/A",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One observation a verdict rests on, pointing back into the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Time of the observation, µs since run start (the log's clock).
    pub t_us: u64,
    /// Who observed it (`caller`, `callee`, `srs`, ...).
    pub actor: String,
    /// The stream it concerns (`caller.heard`, `srs.1`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// What was seen: a message excerpt, a frame count, a clip name and score.
    pub detail: String,
}

impl Evidence {
    /// Evidence about a stream.
    pub fn stream(t_us: u64, actor: &str, stream: &str, detail: impl Into<String>) -> Self {
        Self {
            t_us,
            actor: actor.to_owned(),
            stream: Some(stream.to_owned()),
            detail: detail.into(),
        }
    }

    /// Evidence not tied to a stream (a SIP message, a key press).
    pub fn at(t_us: u64, actor: &str, detail: impl Into<String>) -> Self {
        Self {
            t_us,
            actor: actor.to_owned(),
            stream: None,
            detail: detail.into(),
        }
    }
}

/// A number a check measured, so reports can plot and compare it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// What was measured (`reminder_interval.caller`, `mouth_to_ear_p95.callee`...).
    pub name: String,
    /// The value. A non-finite value is written as JSON `null` (serde_json's choice) and
    /// read back as NaN, so such a document still reads.
    #[serde(deserialize_with = "f64_or_nan")]
    pub value: f64,
    /// Its unit (`s`, `ms`, `frames`, `count`).
    pub unit: String,
}

fn f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl Measurement {
    /// Builds a measurement.
    pub fn new(name: impl Into<String>, value: f64, unit: &str) -> Self {
        Self {
            name: name.into(),
            value,
            unit: unit.to_owned(),
        }
    }
}

/// The judgement of one check on one call: which requirement, how it came out, a
/// sentence a non-engineer understands, and the observations and numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Checklist ID (`POL-04`, `SRC-17`) or a recproof `RP-` ID (see the crate docs).
    pub requirement: String,
    /// Stable identifier of the check that produced it (`announcement.not_recorded`).
    pub check: String,
    /// The harness call judged (`call-0001`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    /// Outcome.
    pub status: Status,
    /// One plain-language sentence with the measured numbers.
    pub summary: String,
    /// The observations it rests on.
    pub evidence: Vec<Evidence>,
    /// The numbers it measured.
    pub measurements: Vec<Measurement>,
}

impl Verdict {
    /// A verdict with no evidence yet.
    pub fn new(
        requirement: &str,
        check: &str,
        call: &str,
        status: Status,
        summary: impl Into<String>,
    ) -> Self {
        Self {
            requirement: requirement.to_owned(),
            check: check.to_owned(),
            call: Some(call.to_owned()),
            status,
            summary: summary.into(),
            evidence: Vec::new(),
            measurements: Vec::new(),
        }
    }

    /// Adds evidence.
    pub fn with_evidence(mut self, evidence: impl IntoIterator<Item = Evidence>) -> Self {
        self.evidence.extend(evidence);
        self
    }

    /// Adds measurements.
    pub fn with_measurements(mut self, m: impl IntoIterator<Item = Measurement>) -> Self {
        self.measurements.extend(m);
        self
    }

    /// True when the status is [`Status::Fail`].
    pub fn failed(&self) -> bool {
        self.status == Status::Fail
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} [{}]: {}",
            self.status, self.requirement, self.check, self.summary
        )
    }
}

/// Seconds with two decimals, the way summaries print times (`12.34`).
pub(crate) fn secs(us: i64) -> String {
    format!("{:.2}", us as f64 / 1e6)
}

/// Milliseconds with no decimals (`87`; never `-0`).
pub(crate) fn ms(us: i64) -> String {
    let v = (us as f64 / 1e3).round();
    format!("{:.0}", if v == 0.0 { 0.0 } else { v })
}

/// Seconds with two decimals and a sign when negative (`-0.02`; never `-0.00`).
pub(crate) fn signed_secs(us: i64) -> String {
    let v = (us as f64 / 1e4).round() / 100.0;
    format!("{:.2}", if v == 0.0 { 0.0 } else { v })
}

/// A range of signed seconds, or one value when both ends print the same (`0.04`,
/// `0.02 to 0.05`).
pub(crate) fn secs_range(lo: i64, hi: i64) -> String {
    let (a, b) = (signed_secs(lo), signed_secs(hi));
    if a == b { a } else { format!("{a} to {b}") }
}

/// A list `a, b and c`.
/// [`and_list`] as the start of a sentence: the first letter capitalised (char-safe:
/// the items may quote what a peer sent).
pub(crate) fn and_list_sentence(items: &[String]) -> String {
    let s = and_list(items);
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => s,
    }
}

pub(crate) fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod sentence_tests {
    use super::and_list_sentence;

    #[test]
    fn capitalises_the_first_character_even_when_it_is_not_ascii() {
        assert_eq!(
            and_list_sentence(&["a".into(), "b".into()]),
            "A and b".to_owned()
        );
        // A byte slice `s[..1]` would panic here.
        assert_eq!(and_list_sentence(&["ølen x".into()]), "Ølen x");
        assert_eq!(and_list_sentence(&[]), "");
    }
}
