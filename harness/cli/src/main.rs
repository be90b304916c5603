//! `recproof`: SIPREC call-recording compliance harness and traffic simulator.
//!
//! The binary only parses arguments, reads and writes files, and maps outcomes to exit
//! codes ([`exit`]); every rule and protocol lives in the library crates.

mod analyze;
mod capture;
mod check;
mod features;
mod load;
mod profile;
mod report;
mod requirements;
mod serve;
mod validate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit codes, part of the CLI's contract (documented in the README).
pub(crate) mod exit {
    use std::process::ExitCode;
    /// Everything passed.
    pub(crate) const OK: ExitCode = ExitCode::SUCCESS;
    /// A check or validation found a FAIL.
    pub(crate) const FAILED: ExitCode = ExitCode::FAILURE;
    /// Exit status for bad usage, unreadable input or configuration: nothing was judged.
    /// (clap uses the same code for argument errors.)
    pub(crate) const USAGE_CODE: u8 = 2;
}

/// recproof: compliance test harness and traffic simulator for SIP call recording (SIPREC).
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate captured SIPREC messages (INVITE, re-INVITE, UPDATE, responses) or
    /// metadata XML against the checklist; exit 1 on any FAIL.
    Validate(validate::ValidateArgs),
    /// Analyse recordings (WAV) or captures (pcap): tones, a reference clip such as an
    /// announcement, silences, instrumented party frames and RTP statistics.
    Analyze(analyze::AnalyzeArgs),
    /// Run the conformance suite (the built-in features, or feature files given) against
    /// the embedded reference platform or an external SUT (--sut) and write a run
    /// directory with its report (index.html, compliance.html, junit.xml, results.json,
    /// observation log, pcap and WAVs); exit 1 on any failed scenario.
    Check(check::CheckArgs),
    /// List the built-in conformance features, or export them to edit.
    Features(features::FeaturesArgs),
    /// Write a profile template, or check a profile and probe its SUT without a call.
    Profile(profile::ProfileArgs),
    /// Render the report of a run directory again from its results and observation log.
    Report(report::ReportArgs),
    /// Re-run the checks offline on a saved observation log, or judge a packet capture
    /// (pcap/pcapng) of calls and SIPREC sessions; exit 1 on any FAIL.
    Judge(report::JudgeArgs),
    /// Run the reference platform (a recording B2BUA, SIPREC SRC) on real sockets.
    Platform(serve::PlatformArgs),
    /// Run the SRS emulator (a SIPREC recorder) on real sockets.
    Srs(serve::SrsArgs),
    /// Print the requirement registry: every requirement ID with its checks, asserting
    /// steps, breaking faults and coverage (docs/requirements.md is this, as Markdown).
    Requirements(requirements::RequirementsArgs),
    /// Place many calls at once (SIPp-style -r, -l, -m), every call carrying instrumented
    /// audio both ways and judged; writes calls.jsonl, stats.csv, results.json and
    /// junit.xml (thresholds as test cases); exit 1 when a threshold fails.
    Load(Box<load::LoadArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Check(args) => check::run(args),
        Command::Features(args) => features::run(args),
        Command::Profile(args) => profile::run(args),
        Command::Report(args) => report::run_report(args),
        Command::Judge(args) => report::run_judge(args),
        Command::Platform(args) => serve::run_platform(args),
        Command::Srs(args) => serve::run_srs(args),
        Command::Requirements(args) => requirements::run(args),
        Command::Load(args) => load::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit::USAGE_CODE)
        }
    }
}
