//! `recproof load merge RUN_DIR...`: the run directories of a sharded run (`--shard i/n`,
//! one per process or machine) added up into one: counts summed, histograms merged
//! losslessly (each shard stores its histograms bucket by bucket), intervals merged by
//! index (shards start together), thresholds and the harness's health judged again on the
//! merged figures, and every shard's `calls.jsonl` concatenated.

use anyhow::{Context, bail};
use clap::Args;
use load::results::{LoadResults, merge_intervals, merge_results, parse_intervals};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `recproof load merge`.
#[derive(Debug, Args)]
pub(crate) struct MergeArgs {
    /// The shards' run directories, or a directory holding them (`shard-*/`, as `--shards`
    /// writes them).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where to write the merged run directory.
    #[arg(long)]
    out: PathBuf,
}

/// The run directories `dirs` name: each itself, or, for a directory without
/// `results.json`, its `shard-*` subdirectories in order.
fn expand(dirs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for d in dirs {
        if d.join("results.json").is_file() {
            out.push(d.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(d)
            .with_context(|| format!("reading {}", d.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("shard-"))
                    && p.join("results.json").is_file()
            })
            .collect();
        if found.is_empty() {
            bail!(
                "{} holds neither results.json nor shard-*/results.json: give the shards' run \
                 directories",
                d.display()
            );
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// Runs the merge; exit 1 when a threshold fails on the merged figures.
pub(crate) fn run(args: &MergeArgs) -> anyhow::Result<ExitCode> {
    let dirs = expand(&args.dirs)?;
    let args = &MergeArgs {
        dirs,
        out: args.out.clone(),
    };
    let mut shards = Vec::new();
    let mut intervals = Vec::new();
    for dir in &args.dirs {
        let path = dir.join("results.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {} (is it a load run directory?)", path.display()))?;
        shards.push(LoadResults::parse(&text, &path.display().to_string())?);
        let ipath = dir.join("intervals.jsonl");
        let itext = std::fs::read_to_string(&ipath)
            .with_context(|| format!("reading {}", ipath.display()))?;
        intervals.push(
            parse_intervals(&itext, &ipath.display().to_string()).map_err(anyhow::Error::msg)?,
        );
    }
    let first = &shards[0];
    for (s, dir) in shards.iter().zip(&args.dirs).skip(1) {
        if s.plan.seed != first.plan.seed
            || s.plan.rate_cps != first.plan.rate_cps
            || s.target.mode != first.target.mode
        {
            bail!(
                "{} is not a shard of the same run as {} (its target, rate or seed differ)",
                dir.display(),
                args.dirs[0].display()
            );
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in &shards {
        for sh in &s.plan.shards {
            if !seen.insert(sh.clone()) {
                bail!("shard {sh} appears twice among the directories; give each shard once");
            }
        }
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let merged_intervals = merge_intervals(&intervals);
    let merged = merge_results(&shards, &merged_intervals);
    let mut calls = std::io::BufWriter::new(
        std::fs::File::create(args.out.join("calls.jsonl")).context("creating calls.jsonl")?,
    );
    for dir in &args.dirs {
        let mut f = std::fs::File::open(dir.join("calls.jsonl"))
            .with_context(|| format!("reading {}", dir.join("calls.jsonl").display()))?;
        std::io::copy(&mut f, &mut calls).context("writing calls.jsonl")?;
    }
    calls.flush()?;
    let mut ifile = std::io::BufWriter::new(
        std::fs::File::create(args.out.join("intervals.jsonl"))
            .context("creating intervals.jsonl")?,
    );
    for r in &merged_intervals {
        serde_json::to_writer(&mut ifile, r)?;
        ifile.write_all(b"\n")?;
    }
    ifile.flush()?;
    super::output::write_results(&args.out, &merged)?;
    let report = report::render_load(&args.out).context("rendering the merged report")?;
    eprintln!(
        "merged {} shard(s) ({}) into {}: {}",
        shards.len(),
        merged.plan.shards.join(", "),
        args.out.display(),
        super::output::summary(&merged)
    );
    eprintln!("report: {}", report.index.display());
    Ok(if merged.passed() {
        crate::exit::OK
    } else {
        crate::exit::FAILED
    })
}
