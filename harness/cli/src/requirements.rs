//! `recproof requirements`: the requirement registry (`recproof_suite::registry`) as
//! text, Markdown (`docs/requirements.md`) or JSON. This module only picks the format.

use std::process::ExitCode;

/// Output formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Format {
    /// One block per ID, for a terminal.
    Text,
    /// The Markdown of `docs/requirements.md`.
    Md,
    /// The registry as JSON (an array of entries).
    Json,
    /// The coverage summary only (the README's block): the IDs per coverage.
    Summary,
}

/// Arguments of `recproof requirements`.
#[derive(Debug, clap::Args)]
pub(crate) struct RequirementsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

/// Runs the subcommand.
pub(crate) fn run(args: &RequirementsArgs) -> anyhow::Result<ExitCode> {
    let r = suite::registry::registry();
    match args.format {
        Format::Text => print!("{}", suite::registry::to_text(&r)),
        Format::Md => print!("{}", suite::registry::to_markdown(&r)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&r)?),
        Format::Summary => print!("{}", suite::registry::readme_summary(&r)),
    }
    Ok(crate::exit::OK)
}
