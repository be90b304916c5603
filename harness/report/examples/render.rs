//! Renders the report of a run directory: `cargo run -p recproof-report --example render -- RUN_DIR`.

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: render RUN_DIR");
        std::process::exit(2);
    };
    let t = Instant::now();
    match recproof_report::render(&dir) {
        Ok(s) => {
            println!(
                "{} call page(s), {} SVG(s), {} compliance page(s), {} requirement(s) ({} failed), {} skipped log line(s), {} unassigned observation(s), {} plot failure(s) in {:.2} s",
                s.call_pages.len(),
                s.svgs.len(),
                s.compliance.len(),
                s.requirements,
                s.requirements_failed,
                s.skipped_log_lines,
                s.unassigned_observations,
                s.plot_failures,
                t.elapsed().as_secs_f64()
            );
            println!("{}", s.index.display());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
