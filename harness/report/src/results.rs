//! `results.json` read back: a lenient mirror of `recproof_suite::RunResults`.
//!
//! This module owns only the deserialisation. The suite writes the document (this crate
//! must not depend on the suite and its test runner); every field has a default so an
//! older or partial document still renders, and a measurement without a number is kept
//! as `None`.

use serde::Deserialize;

/// The run document.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RunResults {
    pub(crate) schema: u32,
    pub(crate) tool_version: String,
    pub(crate) sut: String,
    pub(crate) seed: u64,
    pub(crate) clock: String,
    pub(crate) scenarios: Vec<ScenarioResult>,
    pub(crate) passed: usize,
    pub(crate) failed: usize,
    pub(crate) skipped: usize,
    pub(crate) simulated_call_seconds: f64,
    pub(crate) wall_seconds: f64,
    pub(crate) interrupted: bool,
}

/// One scenario.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ScenarioResult {
    pub(crate) feature: String,
    pub(crate) scenario: String,
    pub(crate) tags: Vec<String>,
    pub(crate) status: String,
    pub(crate) failure: Option<String>,
    pub(crate) call: Option<String>,
    pub(crate) asserted: Vec<String>,
    pub(crate) verdicts: Vec<Verdict>,
    pub(crate) evidence_error: Option<String>,
    pub(crate) skip_reason: Option<String>,
}

/// One verdict.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Verdict {
    pub(crate) requirement: String,
    pub(crate) check: String,
    pub(crate) call: Option<String>,
    pub(crate) status: Status,
    pub(crate) summary: String,
    pub(crate) evidence: Vec<Evidence>,
    pub(crate) measurements: Vec<Measurement>,
}

impl Verdict {
    /// The first measurement with this name.
    pub(crate) fn measurement(&self, name: &str) -> Option<f64> {
        self.measurements
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.value)
    }
}

/// A verdict's outcome; anything unknown is kept as [`Status::Other`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    Pass,
    Fail,
    Warn,
    Info,
    NotApplicable,
    #[default]
    #[serde(other)]
    Other,
}

impl Status {
    /// The checklist word.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Warn => "WARN",
            Self::Info => "INFO",
            Self::NotApplicable => "N/A",
            Self::Other => "?",
        }
    }

    /// CSS class.
    pub(crate) fn class(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::NotApplicable => "na",
            Self::Other => "other",
        }
    }
}

/// One observation a verdict rests on.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Evidence {
    pub(crate) t_us: u64,
    pub(crate) actor: String,
    pub(crate) stream: Option<String>,
    pub(crate) detail: String,
}

/// One measured number.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Measurement {
    pub(crate) name: String,
    pub(crate) value: Option<f64>,
    pub(crate) unit: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_and_unknown_fields_still_parse() {
        let r: RunResults = serde_json::from_str(
            r#"{"schema":1,"scenarios":[{"call":"c1","verdicts":[{"requirement":"POL-06","status":"brand_new",
                "measurements":[{"name":"x","value":null,"unit":"s"}]}]}],"extra":true}"#,
        )
        .expect("parses");
        let v = &r.scenarios[0].verdicts[0];
        assert_eq!(v.status, Status::Other);
        assert_eq!(v.measurements[0].value, None);
        assert_eq!(r.sut, "");
    }
}
