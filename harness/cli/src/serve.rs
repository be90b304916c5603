//! `recproof platform` and `recproof srs`: run the reference platform or the SRS emulator
//! standalone on real sockets, so SIPp, a real SRC or a real SRS can be pointed at them.
//!
//! Both run the same sans-IO nodes the simulated suite uses, under
//! `recproof_net::node_runner`. Observations stream to a JSONL log (the schema of
//! `recproof-observe`) as they happen; Ctrl-C or `--duration` ends the run and keeps the
//! log. This module only parses arguments, wires files and prints.

use anyhow::Context as _;
use net::node_runner::{NodeRunner, RunEnd};
use observe::{Actor, Clock, Event, LogWriter, Observation};
use platform::{Fault, PauseStyle, Platform, PlatformConfig, Variant};
use sim::Node;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The TCP bounds of a node served on real sockets (`recproof platform`, `recproof srs`):
/// what a peer's connections may hold before the harness closes them with a finding.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TcpArgs {
    /// Seconds a SIP message on TCP may take to arrive once it has begun, and a new
    /// connection to send its first message (slow or silent peers are closed after it).
    #[arg(long, default_value_t = 32, value_name = "SECONDS")]
    pub(crate) tcp_message_timeout: u64,
    /// TCP connections held open with one peer address at once.
    #[arg(long, default_value_t = 2048, value_name = "N")]
    pub(crate) tcp_max_per_peer: usize,
}

impl TcpArgs {
    fn limits(&self) -> net::node_runner::TcpLimits {
        let time = Duration::from_secs(self.tcp_message_timeout.max(1));
        net::node_runner::TcpLimits {
            per_peer: self.tcp_max_per_peer.max(1),
            message_time: time,
            first_message_time: time,
            ..net::node_runner::TcpLimits::default()
        }
    }
}

/// Arguments of `recproof platform`.
#[derive(Debug, clap::Args)]
pub(crate) struct PlatformArgs {
    /// The recording policy (YAML, Webex field names; see scenarios/README.md).
    #[arg(long, value_name = "FILE", required_unless_present_any = ["list_faults", "list_variants"])]
    pub(crate) config: Option<PathBuf>,
    /// Run a fault profile: a variant that breaks exactly one requirement.
    #[arg(long, value_name = "NAME")]
    pub(crate) fault: Option<String>,
    /// List the fault profiles with the requirement each breaks, and exit.
    #[arg(long)]
    pub(crate) list_faults: bool,
    /// Run a legal variant: other choices the RFCs allow (stream labels, time offsets,
    /// a second SRC port, pause styles, no start/stop announcement).
    #[arg(long, value_name = "NAME")]
    pub(crate) variant: Option<String>,
    /// List the legal variants and exit.
    #[arg(long)]
    pub(crate) list_variants: bool,
    /// Seed of tags, Call-IDs, SSRCs and metadata IDs (default: a fresh one per run, so
    /// a restarted platform never reuses its recording sessions' identifiers).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// SIP address to listen on (UDP and TCP).
    #[arg(long, default_value = "127.0.0.1:5060", value_name = "ADDR")]
    pub(crate) listen: SocketAddr,
    /// IP for the platform's RTP ports (default: the --listen IP).
    #[arg(long, value_name = "IP")]
    pub(crate) media_ip: Option<IpAddr>,
    /// First RTP port of the platform's pool.
    #[arg(long, default_value_t = 40000)]
    pub(crate) rtp_port_base: u16,
    /// RTP ports in the pool (even ports from the base: base, base + 2, ...). A call
    /// takes 2, plus 2 per recording session: the default (40000-40798, below the
    /// recorder's 41000) holds 100 recorded calls; give more (and another base) for more.
    #[arg(long, default_value_t = 400)]
    pub(crate) rtp_port_count: u16,
    /// Where each extension's phone is: `EXT=IP:PORT`, repeatable (no REGISTER needed);
    /// `*=IP:PORT` routes every extension not listed there (a load generator's callees).
    #[arg(long = "directory", value_name = "EXT=ADDR", value_parser = parse_directory)]
    pub(crate) directory: Vec<(String, SocketAddr)>,
    /// How pauses keep audio from the recorder (`stop-rtp`, `reinvite-inactive`,
    /// `reinvite-hold`).
    #[arg(long, value_name = "STYLE")]
    pub(crate) pause_style: Option<String>,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    pub(crate) duration: Option<u64>,
    /// Write the platform's observations (JSONL) here.
    #[arg(long, value_name = "FILE")]
    pub(crate) log: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) tcp: TcpArgs,
}

/// Arguments of `recproof srs`.
#[derive(Debug, clap::Args)]
pub(crate) struct SrsArgs {
    /// SIP address to listen on (UDP and TCP).
    #[arg(long, default_value = "127.0.0.1:5080", value_name = "ADDR")]
    pub(crate) listen: SocketAddr,
    /// IP for the recorder's RTP ports (default: the --listen IP).
    #[arg(long, value_name = "IP")]
    pub(crate) media_ip: Option<IpAddr>,
    /// First RTP port of the recorder's pool.
    #[arg(long, default_value_t = 41000)]
    pub(crate) rtp_port_base: u16,
    /// RTP ports in the pool (every second port from the base; one per recorded stream).
    #[arg(long, default_value_t = 400)]
    pub(crate) rtp_port_count: u16,
    /// Directory for the observation log (`observations.jsonl`).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Reject every recording session with this status (failure-behaviour tests).
    #[arg(long, value_name = "CODE", conflicts_with = "silent")]
    pub(crate) reject: Option<u16>,
    /// Never answer recording sessions (Timer B failure tests).
    #[arg(long)]
    pub(crate) silent: bool,
    /// Stand in for a recorder under test (what `recproof check --recorder` runs
    /// against, here on real sockets): refuse an INVITE without SIPREC metadata or marker
    /// (488) and metadata that is not well-formed or whose references dangle (400).
    #[arg(long)]
    pub(crate) strict: bool,
    /// Play a recorder bug (`recproof check --list-recorder-faults`); implies --strict.
    #[arg(long, value_name = "NAME")]
    pub(crate) fault: Option<String>,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    pub(crate) duration: Option<u64>,
    #[command(flatten)]
    pub(crate) tcp: TcpArgs,
}

fn parse_directory(s: &str) -> Result<(String, SocketAddr), String> {
    let (ext, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected EXT=IP:PORT, e.g. 2001=127.0.0.1:5072"))?;
    let addr = addr
        .parse()
        .map_err(|e| format!("`{addr}` is not IP:PORT: {e}"))?;
    Ok((ext.to_owned(), addr))
}

/// Prints the fault catalogue.
fn list_faults() -> ExitCode {
    println!("{:<34} {:<8} what it breaks", "fault", "breaks");
    for f in Fault::ALL {
        println!(
            "{:<34} {:<8} {}",
            f.name(),
            f.requirement(),
            f.description()
        );
    }
    crate::exit::OK
}

/// Prints the legal variants.
fn list_variants() -> ExitCode {
    println!("{:<28} what changes", "variant");
    for v in Variant::ALL {
        println!("{:<28} {}", v.name(), v.description());
    }
    crate::exit::OK
}

/// Runs `recproof platform`.
pub(crate) fn run_platform(args: &PlatformArgs) -> anyhow::Result<ExitCode> {
    if args.list_faults {
        return Ok(list_faults());
    }
    if args.list_variants {
        return Ok(list_variants());
    }
    let Some(path) = &args.config else {
        anyhow::bail!("--config FILE is required (a recording policy, see scenarios/)");
    };
    let policy = policy::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let media_ip = args.media_ip.unwrap_or(args.listen.ip());
    let mut cfg = PlatformConfig::new(policy, args.listen, media_ip);
    cfg.rtp_port_base = args.rtp_port_base;
    cfg.rtp_port_count = args.rtp_port_count;
    cfg.directory = args.directory.iter().cloned().collect::<BTreeMap<_, _>>();
    // On real sockets: fresh identifiers every run, and metadata times from the wall
    // clock (run time zero is now, give or take the bind).
    cfg.seed = args.seed.unwrap_or_else(drive::fresh_seed);
    cfg.epoch = jiff::Timestamp::now();
    if let Some(name) = &args.variant {
        cfg.variant = Some(Variant::from_name(name).with_context(|| {
            format!("unknown variant `{name}`; `recproof platform --list-variants` lists them")
        })?);
    }
    if let Some(name) = &args.fault {
        cfg.fault = Some(Fault::from_name(name).with_context(|| {
            format!("unknown fault `{name}`; `recproof platform --list-faults` lists them")
        })?);
    }
    if let Some(style) = &args.pause_style {
        cfg.pause_style = PauseStyle::from_name(style).with_context(|| {
            let names: Vec<&str> = PauseStyle::ALL.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown pause style `{style}`; use one of {}",
                names.join(", ")
            )
        })?;
    }
    let node = Platform::new(cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
    let log = match &args.log {
        Some(p) => {
            Some(File::create(p).with_context(|| format!("cannot create log `{}`", p.display()))?)
        }
        None => None,
    };
    eprintln!(
        "recproof platform: SIP on udp and tcp {}{}{}; Ctrl-C to stop",
        args.listen,
        args.fault
            .as_deref()
            .map(|f| format!(", fault `{f}`"))
            .unwrap_or_default(),
        args.variant
            .as_deref()
            .map(|v| format!(", variant `{v}`"))
            .unwrap_or_default()
    );
    serve(
        Box::new(node),
        "platform",
        log,
        args.duration,
        args.tcp.limits(),
        None,
        None,
    )
}

/// Runs `recproof srs`.
pub(crate) fn run_srs(args: &SrsArgs) -> anyhow::Result<ExitCode> {
    use roles::media_io::MediaContext;
    use roles::srs::{SrsBehaviour, SrsConfig, SrsEmulator};
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create `{}`", args.out.display()))?;
    let media_ip = args.media_ip.unwrap_or(args.listen.ip());
    let mut cfg = SrsConfig::new(args.listen, media_ip);
    cfg.rtp_port_base = args.rtp_port_base;
    cfg.rtp_port_count = args.rtp_port_count;
    cfg.keep_pcm = true;
    // Fresh tags and SDP session ids every run.
    cfg.seed = drive::fresh_seed();
    cfg.behaviour = match (args.reject, args.silent) {
        (Some(code), _) => SrsBehaviour::Reject {
            code,
            after: Duration::ZERO,
        },
        (None, true) => SrsBehaviour::Silent,
        (None, false) => SrsBehaviour::Accept,
    };
    if let Some(name) = &args.fault {
        cfg.fault = Some(roles::srs_fault::SrsFault::from_name(name).with_context(|| {
            format!("unknown recorder fault `{name}`; `recproof check --list-recorder-faults` lists them")
        })?);
    }
    cfg.strict_input = args.strict || cfg.fault.is_some();
    let ctx = MediaContext::with_default_signal().map_err(|e| anyhow::anyhow!("{e}"))?;
    let node = SrsEmulator::new(cfg, ctx).map_err(|e| anyhow::anyhow!("{e}"))?;
    let path = args.out.join("observations.jsonl");
    let log = File::create(&path).with_context(|| format!("cannot create `{}`", path.display()))?;
    eprintln!(
        "recproof srs: SIP on udp and tcp {}, log {}; Ctrl-C to stop",
        args.listen,
        path.display()
    );
    let out = args.out.clone();
    let tick_out = args.out.clone();
    serve(
        Box::new(node),
        "srs",
        Some(log),
        args.duration,
        args.tcp.limits(),
        Some(Box::new(
            move |runner: &mut NodeRunner, sink: &mut dyn FnMut(Observation)| {
                finish_srs(runner, sink, &out)
            },
        )),
        Some(Box::new(move |runner: &mut NodeRunner| {
            write_recordings(runner, &tick_out, false)
        })),
    )
}

/// At the end of an SRS run: close the streams still open (their summaries go to the
/// log) and write one WAV per recorded stream.
fn finish_srs(
    runner: &mut NodeRunner,
    sink: &mut dyn FnMut(Observation),
    out: &std::path::Path,
) -> anyhow::Result<()> {
    use roles::srs::SrsEmulator;
    let now = runner.now();
    let Some(srs) = runner.node_mut::<SrsEmulator>(0) else {
        return Ok(());
    };
    srs.finish_streams(now);
    while let Some(o) = srs.poll_observation() {
        sink(o);
    }
    write_recordings(runner, out, true)
}

/// Writes the WAV of every recorded stream whose session has ended since the last call
/// (and, with `live_too`, of the sessions still open: the run is ending) as
/// `<RS Call-ID>-srs.<label>.wav` (the Call-ID's `/\:@` as `_`), as a recorder writes
/// its files when a recording ends.
fn write_recordings(
    runner: &mut NodeRunner,
    out: &std::path::Path,
    live_too: bool,
) -> anyhow::Result<()> {
    let Some(srs) = runner.node_mut::<roles::srs::SrsEmulator>(0) else {
        return Ok(());
    };
    let recordings = if live_too {
        srs.take_recordings()
    } else {
        srs.take_ended_recordings()
    };
    for rec in recordings {
        let name = format!(
            "{}-{}.wav",
            rec.rs_call_id.replace(['/', '\\', ':', '@'], "_"),
            rec.stream
        );
        let path = out.join(name);
        media::wav::write_wav_file(&path, media::SAMPLE_RATE, &rec.pcm.samples)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        eprintln!("recproof srs: wrote {}", path.display());
    }
    Ok(())
}

/// Work done after the run ends and before the log is closed.
type Finish = Box<dyn FnOnce(&mut NodeRunner, &mut dyn FnMut(Observation)) -> anyhow::Result<()>>;

/// Work done about every second while the node runs (the SRS writes the files of the
/// recordings that ended).
type Tick = Box<dyn FnMut(&mut NodeRunner) -> anyhow::Result<()>>;

/// Runs one node on real sockets until Ctrl-C or the duration, streaming observations.
fn serve(
    node: Box<dyn Node>,
    what: &str,
    log: Option<File>,
    duration: Option<u64>,
    tcp: net::node_runner::TcpLimits,
    finish: Option<Finish>,
    mut tick: Option<Tick>,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut writer = log.map(|f| LogWriter::new(BufWriter::new(f)));
        if let Some(w) = writer.as_mut() {
            w.append(&Observation::run_started(
                0,
                format!("recproof {what}"),
                Clock::Real,
            ))?;
        }
        let mut runner = NodeRunner::bind_with(vec![node], tcp)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let run_for = duration.map_or(
            Duration::from_secs(u64::from(u32::MAX)),
            Duration::from_secs,
        );
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        tokio::pin!(stop);
        let mut write_error = None;
        let end = loop {
            // Run in slices of a second when there is periodic work, else in one go.
            let until = match tick {
                Some(_) => (runner.now().since_origin() + Duration::from_secs(1)).min(run_for),
                None => run_for,
            };
            let end = runner
                .run(until, stop.as_mut(), |o| {
                    if let Some(w) = writer.as_mut()
                        && let Err(e) = w.append(&o)
                    {
                        write_error.get_or_insert(e);
                    }
                })
                .await;
            if let Some(t) = tick.as_mut() {
                t(&mut runner)?;
            }
            if end == RunEnd::Interrupted || until >= run_for {
                break end;
            }
        };
        if let Some(finish) = finish {
            finish(&mut runner, &mut |o| {
                if let Some(w) = writer.as_mut()
                    && let Err(e) = w.append(&o)
                {
                    write_error.get_or_insert(e);
                }
            })?;
        }
        let drops = runner.receive_drops().unwrap_or(0);
        if let Some(w) = writer.as_mut()
            && drops > 0
        {
            w.append(&Observation {
                t_us: runner.now().as_micros(),
                call: None,
                actor: Actor::Harness,
                event: Event::HarnessReceiveDrops { datagrams: drops },
            })?;
        }
        if let Some(w) = writer.as_mut() {
            w.append(&Observation {
                t_us: runner.now().as_micros(),
                call: None,
                actor: Actor::Harness,
                event: Event::RunEnded {
                    interrupted: end == RunEnd::Interrupted,
                },
            })?;
        }
        if let Some(e) = write_error {
            return Err(anyhow::Error::new(e).context("writing the observation log failed"));
        }
        let s = runner.stats();
        eprintln!(
            "recproof {what}: stopped ({}); {} datagrams in, {} out, {} observations{}",
            if end == RunEnd::Interrupted {
                "interrupted"
            } else {
                "duration reached"
            },
            s.received,
            s.sent,
            s.observations,
            match runner.receive_drops() {
                Some(0) => String::new(),
                Some(n) => format!(
                    "; {n} datagrams dropped in our own receive buffers (we did not read fast \
                     enough: harness-side loss, logged)"
                ),
                None => "; receive-buffer drops could not be read".to_owned(),
            }
        );
        Ok(crate::exit::OK)
    })
}
