//! `results.json` as the report reads it: the one typed document the suite writes
//! (`recproof_checks::results`), read with its schema version checked, plus the small
//! words and classes the pages print for a status.
//!
//! This module owns no schema of its own; it must not re-derive what was judged.

pub(crate) use checks::results::{RunResults, ScenarioResult, ScenarioStatus};
pub(crate) use checks::{Status, Verdict};

/// The checklist word and CSS class of a verdict status.
pub(crate) trait StatusWords {
    /// `PASS`, `FAIL`, `WARN`, `INFO`, `N/A`.
    fn word(self) -> &'static str;
    /// CSS class.
    fn class(self) -> &'static str;
}

impl StatusWords for Status {
    fn word(self) -> &'static str {
        self.as_str()
    }

    fn class(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::Info => "info",
            Status::NotApplicable => "na",
        }
    }
}

/// The first measurement of a verdict with this name.
pub(crate) fn measurement(v: &Verdict, name: &str) -> Option<f64> {
    v.measurements
        .iter()
        .find(|m| m.name == name)
        .map(|m| m.value)
        .filter(|x| x.is_finite())
}

#[cfg(test)]
mod tests {

    #[test]
    fn another_schema_version_is_refused_with_what_to_do() {
        let err = checks::results::read(br#"{"schema":1,"scenarios":[]}"#).expect_err("old");
        assert!(err.to_string().contains("re-run the suite"), "{err}");
        assert!(checks::results::read(b"not json").is_err());
    }
}
