//! recproof's plotted conformance report, rendered from a run directory.
//!
//! A run directory (written by `recproof check`) holds `results.json` (the verdicts),
//! `observations.jsonl` (the observation log) and, per call, evidence files in
//! `calls/<call>/` (`call.pcap`, one WAV per stream). [`render`] reads them and writes,
//! into the same directory, the report for three readers:
//!
//! - `index.html`: run facts, a summary by requirement ID, the scenarios with links to
//!   per-call pages (a large run stays usable: summaries here, details per call);
//! - `calls/<call>.html`: every verdict with its evidence and measurements, a timeline
//!   (`calls/<call>/timeline.svg`), a reminder-interval chart (`reminder.svg`), a latency
//!   chart (`latency.svg`), a SIP ladder (`ladder.svg`), audio players for the call's WAVs
//!   and a link to its pcap;
//! - `compliance.html` (and `compliance-<n>.html` for runs of more than
//!   [`COMPLIANCE_CALLS_PER_PAGE`] calls): one plain-language paragraph per call and
//!   requirement, printable, for legal reviewers;
//! - `junit.xml`: one JUnit test case per scenario (suite `scenarios`) and one per
//!   requirement (suite `requirements`, failing when any verdict of that requirement
//!   failed on any call).
//!
//! A load run directory (written by `recproof load`: `results.json`, `intervals.jsonl`,
//! `calls.jsonl`) gets its own `index.html` with plots over time ([`render_load`]).
//!
//! This crate owns only the rendering: it judges nothing (the checks did) and simulates
//! nothing. Everything it shows from the log is untrusted input (SIP text comes from the
//! system under test), so every page escapes it (askama templates, escaping on) and the
//! SVGs escape their text. Pages work offline: inline CSS, no scripts, no CDN.

mod certification;
mod compliance;
mod group;
mod junit;
mod ladder;
mod load;
mod pages;
mod plots;
mod results;
mod sip;
mod util;

pub use load::{LoadReportSummary, is_load_run, render_load};
use std::path::{Path, PathBuf};

/// Calls per compliance page; larger runs get `compliance-2.html`, `compliance-3.html`...
pub const COMPLIANCE_CALLS_PER_PAGE: usize = 100;

/// What [`render`] wrote and what it found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportSummary {
    /// Scenarios in `results.json`.
    pub scenarios: usize,
    /// Calls with a page (from `results.json` and the log).
    pub calls: usize,
    /// Distinct requirement IDs with at least one verdict.
    pub requirements: usize,
    /// Requirement IDs with at least one FAIL verdict.
    pub requirements_failed: usize,
    /// Verdicts in `results.json`.
    pub verdicts: usize,
    /// FAIL verdicts in `results.json`.
    pub verdicts_failed: usize,
    /// Observations read from `observations.jsonl`.
    pub observations: usize,
    /// Lines of `observations.jsonl` that could not be read and were skipped.
    pub skipped_log_lines: usize,
    /// Observations without a call label that fell in no call's time window.
    pub unassigned_observations: usize,
    /// Plots that could not be drawn (each replaced by a note on its page).
    pub plot_failures: usize,
    /// `index.html`.
    pub index: PathBuf,
    /// The compliance pages, first (`compliance.html`) first.
    pub compliance: Vec<PathBuf>,
    /// `junit.xml` (scenarios and requirements).
    pub junit: PathBuf,
    /// One page per call, `calls/<call>.html`.
    pub call_pages: Vec<PathBuf>,
    /// Every SVG written.
    pub svgs: Vec<PathBuf>,
}

impl ReportSummary {
    /// Every file written, pages first.
    pub fn files(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = vec![self.index.as_path()];
        v.extend(self.compliance.iter().map(PathBuf::as_path));
        v.push(self.junit.as_path());
        v.extend(self.call_pages.iter().map(PathBuf::as_path));
        v.extend(self.svgs.iter().map(PathBuf::as_path));
        v
    }
}

/// Why a report could not be rendered (the run directory is unusable; never a verdict).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read or written.
    #[error("cannot access `{path}`: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `results.json` is not a results document.
    #[error("`{path}` is not a recproof results document: {source}")]
    Results {
        /// The path.
        path: PathBuf,
        /// Why it could not be read (a parse error, another schema version).
        source: checks::results::ResultsError,
    },
    /// A page template failed to render.
    #[error("cannot render `{page}`: {source}")]
    Template {
        /// The page.
        page: String,
        /// The template error.
        source: askama::Error,
    },
    /// The JUnit document could not be serialised.
    #[error("cannot write junit.xml: {0}")]
    Junit(#[from] quick_junit::SerializeError),
    /// A load run's results or intervals could not be read.
    #[error("`{path}` is not a recproof load results file: {reason}")]
    Load {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Renders the report of the run in `run_dir` from its `results.json` and
/// `observations.jsonl` (a missing log gives pages without plots; broken log lines are
/// skipped and counted), writing the pages, SVGs and `junit.xml` into
/// `run_dir`. Rendering it again overwrites the previous report (and `junit.xml`).
pub fn render(run_dir: &Path) -> Result<ReportSummary, ReportError> {
    pages::render_all(run_dir)
}

/// Renders the report of `run_dir` from `results` instead of its `results.json`: for a
/// run that ended before writing one, whose results were rebuilt from its observation
/// log (`recproof report` does that). The log is read from the directory as usual.
pub fn render_results(
    run_dir: &Path,
    results: checks::results::RunResults,
) -> Result<ReportSummary, ReportError> {
    pages::render_with(run_dir, results)
}
