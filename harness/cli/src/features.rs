//! `recproof features`: the conformance features built into the binary, listed or
//! written out to edit (and pass back to `recproof check` as arguments).

use anyhow::Context as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `recproof features`.
#[derive(Debug, clap::Args)]
pub(crate) struct FeaturesArgs {
    #[command(subcommand)]
    command: FeaturesCommand,
}

#[derive(Debug, clap::Subcommand)]
enum FeaturesCommand {
    /// List the built-in feature files: path, scenarios, requirement tags, title.
    List,
    /// Write the built-in feature files into DIR (sub-directories kept), to edit and run
    /// with `recproof check DIR`.
    Export {
        /// The directory to write into (created).
        dir: PathBuf,
        /// Overwrite files already there.
        #[arg(long)]
        force: bool,
    },
}

/// Runs `recproof features`.
pub(crate) fn run(args: &FeaturesArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        FeaturesCommand::List => {
            let all = suite::builtin::features();
            println!(
                "{:<36} {:>9}  requirements / title",
                "feature file", "scenarios"
            );
            for f in &all {
                println!(
                    "{:<36} {:>9}  {}",
                    f.path.display(),
                    f.scenarios(),
                    f.requirements().join(" ")
                );
                println!("{:<36} {:>9}  {}", "", "", f.title());
            }
            let scenarios: usize = all.iter().map(|f| f.scenarios()).sum();
            println!(
                "{} feature files, {scenarios} scenarios (built in; `recproof features export DIR` to edit)",
                all.len()
            );
        }
        FeaturesCommand::Export { dir, force } => {
            let written = suite::builtin::export(dir, *force)
                .with_context(|| format!("cannot export the features into `{}`", dir.display()))?;
            println!(
                "wrote {} feature files into {}; run them with `recproof check {}`",
                written.len(),
                dir.display(),
                dir.display()
            );
        }
    }
    Ok(crate::exit::OK)
}
