//! `recproof validate`: judge captured SIPREC messages and metadata documents one by one.
//!
//! The rules live in `recproof_siprec::validate`; this module reads files, prints, and
//! maps the outcome to the documented exit codes.

use crate::exit;
use anyhow::Context as _;
use siprec::findings::{Profile, Severity};
use siprec::validate::{InputKind, Report};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `recproof validate`.
#[derive(Debug, clap::Args)]
pub(crate) struct ValidateArgs {
    /// Which dialect to judge against: the RFCs to the letter, or what Webex/BroadWorks
    /// are known to send (their known deviations become WARN instead of FAIL).
    #[arg(long, default_value = "rfc-strict", value_parser = parse_profile)]
    pub(crate) profile: Profile,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Raw SIP requests (INVITE, re-INVITE, UPDATE) or responses as captured, or bare
    /// metadata XML documents.
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// For people.
    Text,
    /// One JSON document for tools.
    Json,
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    s.parse()
}

#[derive(serde::Serialize)]
struct FileReport<'a> {
    file: String,
    #[serde(flatten)]
    report: &'a Report,
    verdict: &'static str,
}

/// Runs the subcommand. Exit 0 without FAIL, 1 with any FAIL, 2 when a file can't be read.
pub(crate) fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let mut reports = Vec::new();
    for path in &args.files {
        let bytes = std::fs::read(path).with_context(|| {
            format!(
                "cannot read `{}` (give the path of a captured SIP message or metadata XML file)",
                path.display()
            )
        })?;
        reports.push((
            path.display().to_string(),
            siprec::validate::validate(&bytes, args.profile),
        ));
    }
    let any_fail = reports.iter().any(|(_, r)| r.failed());
    match args.format {
        Format::Json => {
            let files: Vec<FileReport<'_>> = reports
                .iter()
                .map(|(file, report)| FileReport {
                    file: file.clone(),
                    report,
                    verdict: if report.failed() { "fail" } else { "pass" },
                })
                .collect();
            let doc = serde_json::json!({
                "schema": "recproof.validate/1",
                "profile": args.profile.name(),
                "verdict": if any_fail { "fail" } else { "pass" },
                "files": files,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Format::Text => {
            for (file, report) in &reports {
                print_text(file, report);
            }
            if reports.len() > 1 {
                let failed = reports.iter().filter(|(_, r)| r.failed()).count();
                println!(
                    "{} file(s): {failed} failed, {} passed",
                    reports.len(),
                    reports.len() - failed
                );
            }
        }
    }
    Ok(if any_fail { exit::FAILED } else { exit::OK })
}

fn kind_name(kind: &InputKind) -> String {
    match kind {
        InputKind::InitialInvite => "initial recording-session INVITE".into(),
        InputKind::ReInvite => "re-INVITE".into(),
        InputKind::Update => "UPDATE".into(),
        InputKind::OtherRequest(m) => format!("{m} request"),
        InputKind::Response(c) => format!("{c} response"),
        InputKind::MetadataDocument => "metadata document".into(),
        InputKind::Unreadable => "unreadable input".into(),
    }
}

fn print_text(file: &str, report: &Report) {
    println!(
        "{file}: {} (profile {})",
        kind_name(&report.kind),
        report.profile
    );
    for finding in &report.findings {
        let title = siprec::findings::requirement(finding.requirement)
            .map(|r| r.title)
            .unwrap_or("");
        println!(
            "  {:<4} {:<7} {}",
            finding.severity.to_string(),
            finding.requirement,
            finding.message
        );
        println!("       {:<7} ({title})", "");
        if finding.evidence != siprec::Evidence::None {
            println!("       evidence: {}", finding.evidence);
        }
    }
    let count = |s| report.findings.iter().filter(|f| f.severity == s).count();
    println!(
        "  verdict: {} ({} FAIL, {} WARN, {} INFO)\n",
        if report.failed() { "FAIL" } else { "PASS" },
        count(Severity::Fail),
        count(Severity::Warn),
        count(Severity::Info)
    );
}
