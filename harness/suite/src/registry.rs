//! The requirement registry: one table from requirement ID to its title, the checks that
//! judge it, the scenario steps that assert it, the fault profiles that break it, and how
//! far it is judged.
//!
//! It is built from the code's own tables, never written by hand: the titles from
//! `recproof_siprec::REQUIREMENTS` (plus recproof's RP- IDs), the checks from
//! `recproof_checks::CATALOGUE` and the message validator's ID list, the steps from
//! [`crate::steps::STEP_CHECKS`] and [`crate::recorder_steps::RECORDER_STEP_CHECKS`], the
//! faults from `recproof_platform::Fault` and the SRS emulator's `SrsFault`. The status:
//!
//! - **judged end to end**: a step asserts it and a fault breaks it; the suite's
//!   self-test shows a scenario asserting the ID fail on that fault through its own
//!   verdicts (and fails the build when it does not);
//! - **judged on synthetic logs only**: a check judges it (tested on hand-made logs and
//!   captured messages, both ways), but no fault of the reference platform or the SRS
//!   emulator breaks it;
//! - **not judged**: no check judges it yet; nothing may imply otherwise.
//!
//! `recproof requirements` prints it; `docs/requirements.md` is generated from it and a
//! test keeps the file current. This module owns the table and its renderings only.

use checks::recorder::RECORDER_CATALOGUE;
use checks::{CATALOGUE, preconditions};
use platform::Fault;
use roles::srs_fault::SrsFault;
use serde::Serialize;
use siprec::findings::VALIDATED_IDS;

/// How far a requirement is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Coverage {
    /// A step asserts it and a fault breaks it (the self-test shows it failing).
    EndToEnd,
    /// A check judges it, tested on synthetic logs; no fault breaks it.
    SyntheticOnly,
    /// Nothing judges it.
    NotJudged,
}

impl Coverage {
    /// The words the catalogue uses.
    pub fn words(self) -> &'static str {
        match self {
            Self::EndToEnd => "judged end to end",
            Self::SyntheticOnly => "judged on synthetic logs only",
            Self::NotJudged => "not judged",
        }
    }
}

/// One requirement of the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The ID (`POL-04`).
    pub id: &'static str,
    /// Its title.
    pub title: &'static str,
    /// The check ids whose verdicts cite it.
    pub checks: Vec<&'static str>,
    /// The `Then` sentences that assert it.
    pub steps: Vec<&'static str>,
    /// The fault profiles that break it.
    pub faults: Vec<&'static str>,
    /// How far it is judged.
    pub coverage: Coverage,
}

/// recproof's own requirement IDs, with their titles.
pub const RECPROOF_IDS: &[(&str, &str)] = &[
    (
        preconditions::RP_CALL,
        "The test call happened: answered, media both ways, and where the policy records it, a recording session with party audio",
    ),
    (
        checks::latency::RP_LATENCY,
        "Recording does not delay or clip the parties' audio beyond the profile's thresholds",
    ),
];

/// The check ids whose verdicts cite `id` (the platform checks, then the recorder
/// checks).
fn checks_of(id: &str) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = CATALOGUE
        .iter()
        .chain(RECORDER_CATALOGUE)
        .filter(|c| c.requirement == id)
        .map(|c| c.id)
        .collect();
    if VALIDATED_IDS.contains(&id) {
        v.push("message.validate");
    }
    // `recproof validate` judges a captured SRS answer (not part of a suite call yet).
    if SRS_ANSWER_IDS.contains(&id) {
        v.push("validate.srs_answer");
    }
    v
}

/// The IDs `recproof validate` judges on a recorder's answer to an RS INVITE.
const SRS_ANSWER_IDS: &[&str] = &["SRS-02", "SRS-03"];

/// The registry, in catalogue order (checklist IDs, then recproof's).
pub fn registry() -> Vec<Entry> {
    let ids = siprec::REQUIREMENTS
        .iter()
        .map(|r| (r.id, r.title))
        .chain(RECPROOF_IDS.iter().copied());
    ids.map(|(id, title)| {
        let checks = checks_of(id);
        let steps: Vec<&'static str> = crate::steps::STEP_CHECKS
            .iter()
            .chain(crate::recorder_steps::RECORDER_STEP_CHECKS)
            .filter(|(_, cs)| {
                // Every step asserts the preconditions.
                id == preconditions::RP_CALL || cs.iter().any(|c| checks.contains(c))
            })
            .map(|(s, _)| *s)
            .collect();
        let faults: Vec<&'static str> = Fault::ALL
            .iter()
            .filter(|f| f.requirement() == id)
            .map(|f| f.name())
            .chain(
                SrsFault::ALL
                    .iter()
                    .filter(|f| f.requirement() == id)
                    .map(|f| f.name()),
            )
            .collect();
        let coverage = if checks.is_empty() {
            Coverage::NotJudged
        } else if !steps.is_empty() && !faults.is_empty() {
            Coverage::EndToEnd
        } else {
            Coverage::SyntheticOnly
        };
        Entry {
            id,
            title,
            checks,
            steps,
            faults,
            coverage,
        }
    })
    .collect()
}

/// How many IDs have each coverage.
pub fn counts(entries: &[Entry]) -> [(Coverage, usize); 3] {
    [
        Coverage::EndToEnd,
        Coverage::SyntheticOnly,
        Coverage::NotJudged,
    ]
    .map(|c| (c, entries.iter().filter(|e| e.coverage == c).count()))
}

/// The registry as plain text (one block per ID).
pub fn to_text(entries: &[Entry]) -> String {
    let mut s = String::new();
    for (c, n) in counts(entries) {
        s.push_str(&format!("{n:>3} {}\n", c.words()));
    }
    s.push('\n');
    for e in entries {
        s.push_str(&format!(
            "{:<11} {:<30} {}\n",
            e.id,
            e.coverage.words(),
            e.title
        ));
        if !e.checks.is_empty() {
            s.push_str(&format!("            checks: {}\n", e.checks.join(", ")));
        }
        if !e.faults.is_empty() {
            s.push_str(&format!("            faults: {}\n", e.faults.join(", ")));
        }
    }
    s
}

fn cell(items: &[&str]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items
            .iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The registry as the Markdown of `docs/requirements.md`.
pub fn to_markdown(entries: &[Entry]) -> String {
    let mut s = String::from(
        "# Requirements recproof judges\n\n\
         Generated by `recproof requirements --format md` from the code's own tables (the \
         requirement titles, the checks' catalogue, the scenario steps, the fault profiles); \
         a test fails when this file is out of date. Regenerate with \
         `cargo run -- requirements --format md > docs/requirements.md`.\n\n\
         Each requirement has an ID: `SRC-` for the recording client (the platform), `SRS-` \
         for the recording server (the recorder), `MD-` for the recording metadata \
         (RFC 7865), `POL-` for the Webex Calling recording policy, `SIP-` for SIP framing \
         rules, and recproof's own `RP-` IDs. Coverage:\n\n\
         - **judged end to end**: a scenario step asserts it and a fault profile of the \
         reference platform (or, for `SRS-` IDs, of the SRS emulator standing in for a \
         recorder under test, `recproof check --recorder`) breaks it; the suite's self-test \
         shows a scenario asserting it fail on that fault through its own verdicts;\n\
         - **judged on synthetic logs only**: a check judges it (tested both ways on \
         hand-made logs and captured messages), but no fault profile breaks it yet;\n\
         - **not judged**: nothing judges it yet.\n\n\
         Two dialects: `rfc-strict` judges against RFC 7866 (SIPREC protocol), RFC 7865 \
         (metadata) and RFC 9806 (the `application/rs-metadata+xml` type) to the letter; \
         `broadworks-compat` is what Webex Calling and BroadWorks send (no `Require: \
         siprec`, a `;src` Contact parameter instead of `+sip.src`, the pre-RFC \
         `recording_metadata` schema with `urn:uuid:` IDs and a BroadWorks extension), \
         whose known deviations are WARN instead of FAIL.\n\n",
    );
    for (c, n) in counts(entries) {
        s.push_str(&format!("- {} IDs {}\n", n, c.words()));
    }
    s.push_str("\n| ID | Requirement | Coverage | Checks | Faults that break it |\n");
    s.push_str("|---|---|---|---|---|\n");
    for e in entries {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            e.id,
            e.title.replace('|', "\\|"),
            e.coverage.words(),
            cell(&e.checks),
            cell(&e.faults)
        ));
    }
    s.push_str("\n## Steps that assert each requirement\n\n");
    s.push_str(
        "Every `Then` step also asserts the call's preconditions (RP-CALL), and the last \
         one of a scenario fails on any FAIL verdict of its call.\n\n",
    );
    for e in entries
        .iter()
        .filter(|e| !e.steps.is_empty() && e.id != preconditions::RP_CALL)
    {
        s.push_str(&format!("- **{}**: ", e.id));
        s.push_str(
            &e.steps
                .iter()
                .map(|st| format!("\"{st}\""))
                .collect::<Vec<_>>()
                .join("; "),
        );
        s.push('\n');
    }
    s
}

/// The README's summary block (between its `requirements` markers).
pub fn readme_summary(entries: &[Entry]) -> String {
    let mut s = String::new();
    for (c, n) in counts(entries) {
        let ids: Vec<&str> = entries
            .iter()
            .filter(|e| e.coverage == c)
            .map(|e| e.id)
            .collect();
        s.push_str(&format!("- **{} {}**: {}\n", n, c.words(), ids.join(", ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_names_a_registered_requirement_with_a_check() {
        let r = registry();
        for f in Fault::ALL {
            let e = r
                .iter()
                .find(|e| e.id == f.requirement())
                .unwrap_or_else(|| panic!("{} breaks unknown {}", f.name(), f.requirement()));
            assert_eq!(e.coverage, Coverage::EndToEnd, "{}", e.id);
        }
        for f in SrsFault::ALL {
            let e = r
                .iter()
                .find(|e| e.id == f.requirement())
                .unwrap_or_else(|| panic!("{} breaks unknown {}", f.name(), f.requirement()));
            assert_eq!(e.coverage, Coverage::EndToEnd, "{}", e.id);
        }
        for c in RECORDER_CATALOGUE {
            assert!(r.iter().any(|e| e.id == c.requirement), "{}", c.id);
        }
        // Every catalogue check cites a registered requirement (message.validate's vary).
        for c in CATALOGUE.iter().filter(|c| c.id != "message.validate") {
            assert!(r.iter().any(|e| e.id == c.requirement), "{}", c.id);
        }
        let pol08 = r.iter().find(|e| e.id == "POL-08").expect("POL-08");
        assert_eq!(pol08.coverage, Coverage::NotJudged);
    }
}
