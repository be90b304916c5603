//! `recproof analyze`: what is in a recording or a capture a vendor hands us.
//!
//! The analysis lives in `recproof_media::analysis` (tones, reference-clip matches,
//! silences, instrumented frames, RTP statistics); this module reads the arguments, prints
//! text or one JSON document, and maps the outcome to exit codes: 0 when every file was
//! analysed, 2 when a file (or the reference clip) could not be read.

use std::path::PathBuf;
use std::process::ExitCode;

use media::analysis::{
    AnalysisConfig, AnalysisError, Report, StreamReport, analyze_file, load_reference,
};

/// Exit status when an input cannot be read (same value as the CLI's usage code).
const UNREADABLE: u8 = 2;

/// Arguments of `recproof analyze`.
#[derive(Debug, clap::Args)]
pub(crate) struct AnalyzeArgs {
    /// WAV files (PCM 8/16/24/32-bit, float or G.711, any common rate, one stream per
    /// channel) or pcap/pcapng captures (every G.711 RTP stream in them).
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// Tone frequencies to detect, in Hz, comma separated (e.g. `1400` or `440,480`).
    /// Without it no tone detection is done.
    #[arg(long, value_delimiter = ',', value_name = "HZ[,HZ...]")]
    pub(crate) tone: Vec<f64>,
    /// A WAV clip (e.g. the recording announcement) to find in every stream.
    #[arg(long, value_name = "CLIP.wav")]
    pub(crate) reference: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// For people.
    Text,
    /// One JSON document for tools.
    Json,
}

/// A file that could not be analysed, as reported in JSON output.
#[derive(Debug, serde::Serialize)]
struct FileError {
    file: String,
    error: String,
}

/// The JSON document: the media report plus the files that could not be read.
#[derive(Debug, serde::Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    report: &'a Report,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FileError>,
}

/// Runs the subcommand. Exit 0 when every file was analysed, 2 when any could not be read.
pub(crate) fn run(args: &AnalyzeArgs) -> anyhow::Result<ExitCode> {
    if let Some(bad) = args
        .tone
        .iter()
        .find(|f| !(f.is_finite() && **f > 0.0 && **f < 4000.0))
    {
        eprintln!(
            "error: tone frequency `{bad}` Hz is outside 0-4000 Hz (streams are analysed at 8 kHz)"
        );
        return Ok(ExitCode::from(UNREADABLE));
    }
    let mut cfg = AnalysisConfig {
        tones_hz: args.tone.clone(),
        ..AnalysisConfig::default()
    };
    if let Some(path) = &args.reference {
        match load_reference(path) {
            Ok(pcm) => cfg.reference = Some(pcm),
            Err(e) => {
                eprintln!("error: {}", chain(&e));
                eprintln!(
                    "  (hint: --reference needs a WAV file holding the announcement alone, at least 50 ms long)"
                );
                return Ok(ExitCode::from(UNREADABLE));
            }
        }
    }
    let mut all = Report::default();
    let mut errors = Vec::new();
    for path in &args.files {
        match analyze_file(path, &cfg) {
            Ok(r) => {
                all.streams.extend(r.streams);
                all.cross_stream_latency.extend(r.cross_stream_latency);
            }
            Err(e) => {
                eprintln!("error: {}", chain(&e));
                eprintln!("  (hint: {})", hint(&e));
                errors.push(FileError {
                    file: path.display().to_string(),
                    error: chain(&e),
                });
            }
        }
    }
    let failed = errors.len();
    match args.format {
        Format::Json => {
            let out = Output {
                report: &all,
                errors,
            };
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Text => print_text(&all, &cfg),
    }
    Ok(if failed > 0 {
        ExitCode::from(UNREADABLE)
    } else {
        ExitCode::SUCCESS
    })
}

/// The error and its causes on one line.
fn chain(e: &AnalysisError) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// What to do about an error.
fn hint(e: &AnalysisError) -> &'static str {
    match e {
        AnalysisError::Read { .. } => "check the path and that the file is readable",
        AnalysisError::UnknownFormat(_) => {
            "give a WAV file or a pcap/pcapng capture; convert other formats with `sox` or `editcap`"
        }
        AnalysisError::Wav { .. } => {
            "the WAV header or encoding is not usable; re-export as 16-bit PCM (`sox in.wav -b 16 -e signed out.wav`)"
        }
        AnalysisError::Pcap { .. } => {
            "the capture is damaged or uses an unsupported link type; re-save it with `editcap -F pcap`"
        }
        _ => "see the message above",
    }
}

fn print_text(report: &Report, cfg: &AnalysisConfig) {
    if cfg.tones_hz.is_empty() {
        println!("(tone detection off: pass --tone HZ[,HZ...] to look for tones)");
    }
    for s in &report.streams {
        print_stream(s, cfg);
    }
    if !report.cross_stream_latency.is_empty() {
        println!("latency between streams (instrumented frames):");
        for x in &report.cross_stream_latency {
            println!(
                "  party {}: {} -> {}: {} frames, min {:.2} / median {:.2} / p95 {:.2} / max {:.2} ms",
                x.party,
                x.from,
                x.to,
                x.frames,
                x.latency.min_ms,
                x.latency.p50_ms,
                x.latency.p95_ms,
                x.latency.max_ms
            );
        }
    }
}

fn print_stream(s: &StreamReport, cfg: &AnalysisConfig) {
    println!(
        "{}: {:.3} s, {} at {} Hz, level {:.1} dBFS",
        s.name, s.duration_s, s.encoding, s.sample_rate_hz, s.level_dbfs
    );
    if let Some(r) = &s.rtp {
        println!(
            "  rtp: ssrc {} pt {}, first packet at {:.3} s, {} packets, {} missing ({:.2} %), {} duplicates, {} reordered, jitter {:.2} ms (max {:.2}), {} ssrc changes",
            r.ssrc,
            r.payload_type,
            r.first_packet_s,
            r.packets,
            r.missing,
            r.loss_fraction * 100.0,
            r.duplicates,
            r.reordered,
            r.jitter_ms,
            r.max_jitter_ms,
            r.ssrc_changes
        );
        for d in &r.dtmf {
            println!(
                "  dtmf: {} at ts {} for {} samples{}",
                d.digit
                    .map_or_else(|| format!("event {}", d.event), String::from),
                d.start_ts,
                d.duration,
                if d.ended { "" } else { " (no end packet)" }
            );
        }
    }
    if !cfg.tones_hz.is_empty() {
        if s.tones.is_empty() {
            println!("  tones: none");
        }
        let mut prev: Option<f64> = None;
        for t in &s.tones {
            let gap = prev.map_or(String::new(), |p| {
                format!(", {:.3} s after the previous", t.start_s - p)
            });
            println!(
                "  tone {} Hz: {:.3} - {:.3} s ({:.0} ms, {:.1} dBFS{gap})",
                t.freq_hz,
                t.start_s,
                t.end_s,
                (t.end_s - t.start_s) * 1000.0,
                t.level_dbfs
            );
            prev = Some(t.start_s);
        }
    }
    if cfg.reference.is_some() {
        if s.reference_matches.is_empty() {
            println!("  reference clip: not found");
        }
        for m in &s.reference_matches {
            println!(
                "  reference clip at {:.3} s (score {:.2})",
                m.start_s, m.score
            );
        }
    }
    for z in &s.silences {
        println!(
            "  silence: {:.3} - {:.3} s ({:.1} s)",
            z.start_s,
            z.end_s,
            z.end_s - z.start_s
        );
    }
    for p in &s.instrumented {
        println!(
            "  instrumented party {}: frames {}-{} ({} received, {} lost, {} reordered, {} duplicates), front clip {:.1} ms",
            p.party.0,
            p.first_frame,
            p.last_frame,
            p.frames,
            p.lost,
            p.reordered,
            p.duplicates,
            p.front_clip_ms
        );
    }
}
