//! `recproof profile`: write a commented profile template, and check a profile before a
//! run: every field validated (the same loader `recproof check` uses), the harness
//! addresses bindable, and the SUT probed with a SIP OPTIONS over its transport. No call
//! or recording session is placed.

use anyhow::Context as _;
use sip::framing::Framer;
use sip::message::{MessageBuilder, Method, SipMessage};
use sip::transaction::Transport;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The platform profile template (`recproof profile init`).
const SUT_TEMPLATE: &str = include_str!("../../../scenarios/templates/sut-profile.yaml");
/// The recorder profile template (`recproof profile init --recorder`).
const RECORDER_TEMPLATE: &str = include_str!("../../../scenarios/templates/recorder-profile.yaml");
/// How long the OPTIONS probe waits for an answer.
const PROBE_WAIT: Duration = Duration::from_secs(2);

/// Arguments of `recproof profile`.
#[derive(Debug, clap::Args)]
pub(crate) struct ProfileArgs {
    #[command(subcommand)]
    command: ProfileCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ProfileCommand {
    /// Write a commented profile template to fill in.
    Init {
        /// Where to write it.
        #[arg(default_value = "profile.yaml")]
        path: PathBuf,
        /// A recorder profile (recproof plays the platform) instead of a platform one.
        #[arg(long)]
        recorder: bool,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Validate a profile and probe the SUT without placing a call: SIP OPTIONS to it,
    /// the harness addresses bindable, clips readable, users consistent. Exit 1 when
    /// something must be fixed, saying what.
    Check {
        /// The profile.
        path: PathBuf,
    },
}

/// Runs `recproof profile`.
pub(crate) fn run(args: &ProfileArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        ProfileCommand::Init {
            path,
            recorder,
            force,
        } => init(path, *recorder, *force),
        ProfileCommand::Check { path } => check(path),
    }
}

fn init(path: &Path, recorder: bool, force: bool) -> anyhow::Result<ExitCode> {
    if path.exists() && !force {
        anyhow::bail!(
            "`{}` exists; pick another path or pass --force to overwrite it",
            path.display()
        );
    }
    let text = if recorder {
        RECORDER_TEMPLATE
    } else {
        SUT_TEMPLATE
    };
    std::fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))?;
    println!(
        "wrote {}: fill it in, then `recproof profile check {}`",
        path.display(),
        path.display()
    );
    Ok(crate::exit::OK)
}

/// One line of the check's report.
struct Finding {
    ok: bool,
    what: String,
}

fn check(path: &Path) -> anyhow::Result<ExitCode> {
    let mut findings = Vec::new();
    let (sut, transport, binds, uri) = if suite::recorder_profile::is_recorder_profile(path) {
        let p = suite::recorder_profile::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
        let t = &p.target;
        findings.push(Finding {
            ok: true,
            what: format!(
                "recorder profile `{}` is valid (claims {})",
                p.name,
                p.dialects.join(", ")
            ),
        });
        let rtp =
            [0, 2].map(|k| SocketAddr::new(t.src_sip.ip(), t.src_rtp_port_base.saturating_add(k)));
        let binds = vec![
            ("harness SRC SIP".to_owned(), vec![t.src_sip]),
            ("harness SRC RTP".to_owned(), rtp.to_vec()),
        ];
        let uri = t
            .recorder_uri
            .clone()
            .unwrap_or_else(|| format!("sip:srs@{}", t.recorder_sip));
        (t.recorder_sip, t.recorder_transport, binds, uri)
    } else {
        let p = suite::profile::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
        let t = &p.target;
        findings.push(Finding {
            ok: true,
            what: format!(
                "platform profile `{}` is valid: {} user(s), {} recorder(s), {} clip(s) readable",
                p.name,
                p.users.len(),
                t.recorders.len(),
                t.detectors.clips.len()
            ),
        });
        let mut binds = vec![
            (
                "harness caller".to_owned(),
                vec![t.caller_sip, t.caller_rtp],
            ),
            (
                "harness callee".to_owned(),
                vec![t.callee_sip, t.callee_rtp],
            ),
        ];
        for r in &t.recorders {
            let mut addrs = vec![r.sip];
            addrs.extend((0..16u16).filter_map(|i| {
                Some(SocketAddr::new(
                    r.sip.ip(),
                    r.rtp_port_base.checked_add(i.checked_mul(2)?)?,
                ))
            }));
            binds.push((format!("harness recorder for {}", r.provider), addrs));
        }
        let uri = format!("sip:{}", t.sut_sip);
        (t.sut_sip, t.sut_transport, binds, uri)
    };
    for (who, addrs) in &binds {
        findings.push(bindable(who, addrs));
    }
    let local = binds
        .first()
        .and_then(|(_, a)| a.first())
        .copied()
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    findings.push(probe(sut, transport, &uri, local));
    let mut failed = 0;
    for f in &findings {
        println!("{} {}", if f.ok { "ok  " } else { "FIX " }, f.what);
        failed += usize::from(!f.ok);
    }
    if failed == 0 {
        println!(
            "{}: ready; run `recproof check --sut {}`",
            path.display(),
            path.display()
        );
        Ok(crate::exit::OK)
    } else {
        println!("{}: {failed} thing(s) to fix", path.display());
        Ok(crate::exit::FAILED)
    }
}

/// Whether every address of one harness role can be bound now (UDP; SIP ones also TCP).
fn bindable(who: &str, addrs: &[SocketAddr]) -> Finding {
    let mut taken = Vec::new();
    for (k, a) in addrs.iter().enumerate() {
        let udp = UdpSocket::bind(a).err();
        // The first address of a role is its SIP one, which also takes TCP.
        let tcp = (k == 0)
            .then(|| std::net::TcpListener::bind(a).err())
            .flatten();
        if let Some(e) = udp.or(tcp) {
            taken.push(format!("{a} ({e})"));
        }
    }
    if taken.is_empty() {
        Finding {
            ok: true,
            what: format!("{who}: {} address(es) free to bind", addrs.len()),
        }
    } else {
        Finding {
            ok: false,
            what: format!(
                "{who}: cannot bind {}; stop what uses them or pick other ports in the profile",
                taken.join(", ")
            ),
        }
    }
}

/// Sends one OPTIONS to the SUT and waits for its answer.
fn probe(sut: SocketAddr, transport: Transport, uri: &str, local: SocketAddr) -> Finding {
    let call_id = format!("probe-{}@recproof", drive::fresh_seed());
    let via_transport = match transport {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
    };
    let branch = format!("z9hG4bK-probe{}", drive::fresh_seed() % 1_000_000);
    let built = MessageBuilder::request(&Method::Options, uri)
        .header(
            "Via",
            &format!("SIP/2.0/{via_transport} {local};branch={branch};rport"),
        )
        .header("Max-Forwards", "70")
        .header("From", &format!("<sip:probe@{local}>;tag=probe"))
        .header("To", &format!("<{uri}>"))
        .header("Call-ID", &call_id)
        .header("CSeq", "1 OPTIONS")
        .header("Contact", &format!("<sip:probe@{local}>"))
        .header("Accept", "application/sdp")
        .header("Content-Length", "0")
        .build();
    let request = match built {
        Ok(m) => m.raw().to_vec(),
        Err(e) => {
            return Finding {
                ok: false,
                what: format!("cannot build the OPTIONS probe for `{uri}`: {e}"),
            };
        }
    };
    let answer = match transport {
        Transport::Udp => probe_udp(sut, local, &request, &call_id),
        Transport::Tcp => probe_tcp(sut, &request, &call_id),
    };
    let how = format!("OPTIONS to {sut} over {via_transport}");
    match answer {
        Ok(msg) => {
            let code = msg.status().unwrap_or(0);
            let server = msg
                .header_value("Server")
                .or_else(|| msg.header_value("User-Agent"))
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            // Any final answer shows a SIP element is there and answers this address;
            // an OPTIONS may be refused by policy (403/405) and still prove that.
            Finding {
                ok: code >= 200,
                what: format!("{how}: answered {code}{server}"),
            }
        }
        Err(why) => Finding {
            ok: false,
            what: format!(
                "{how}: {why}; is the SUT running and reachable there, over that transport?"
            ),
        },
    }
}

fn probe_udp(
    sut: SocketAddr,
    local: SocketAddr,
    request: &[u8],
    call_id: &str,
) -> Result<SipMessage, String> {
    // From the harness caller's address when it is free (what the SUT will see), else
    // from any port on its IP.
    let socket = UdpSocket::bind(local)
        .or_else(|_| UdpSocket::bind(SocketAddr::new(local.ip(), 0)))
        .map_err(|e| format!("cannot bind a socket to send from ({e})"))?;
    // Connected, so an ICMP port unreachable comes back as an error to report.
    socket
        .connect(sut)
        .map_err(|e| format!("cannot reach it ({e})"))?;
    socket
        .send(request)
        .map_err(|e| format!("cannot send ({e})"))?;
    let until = Instant::now() + PROBE_WAIT;
    let mut buf = vec![0u8; 65_535];
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        socket
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .map_err(|e| e.to_string())?;
        match socket.recv(&mut buf) {
            Ok(n) => {
                if let Some(m) = final_answer(&buf[..n], call_id) {
                    return Ok(m);
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionRefused) => {
                return Err("refused (nothing listens there: ICMP port unreachable)".into());
            }
            Err(_) => {}
        }
    }
    Err(format!("no answer within {} s", PROBE_WAIT.as_secs()))
}

fn probe_tcp(sut: SocketAddr, request: &[u8], call_id: &str) -> Result<SipMessage, String> {
    let mut stream = TcpStream::connect_timeout(&sut, PROBE_WAIT)
        .map_err(|e| format!("cannot connect ({e})"))?;
    stream
        .write_all(request)
        .map_err(|e| format!("cannot send ({e})"))?;
    let until = Instant::now() + PROBE_WAIT;
    let mut framer = Framer::new();
    let mut buf = vec![0u8; 65_535];
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut buf) {
            Ok(0) => return Err("the SUT closed the connection without answering".into()),
            Ok(n) => framer.push(&buf[..n]),
            Err(_) => continue,
        }
        loop {
            match framer.next_message() {
                Ok(Some(m)) => {
                    if let Some(m) = final_answer(&m, call_id) {
                        return Ok(m);
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(format!("answered bytes that cannot be framed ({e})")),
            }
        }
    }
    Err(format!("no answer within {} s", PROBE_WAIT.as_secs()))
}

/// The bytes as a final response to the probe (its Call-ID, status 200 or more).
fn final_answer(bytes: &[u8], call_id: &str) -> Option<SipMessage> {
    let m = SipMessage::parse(bytes.to_vec()).ok()?;
    (m.status().is_some_and(|c| c >= 200) && m.header_value("Call-ID") == Some(call_id))
        .then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each template loads as written (a user fills in a valid file, never a broken one).
    #[test]
    fn the_templates_are_valid_profiles() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sut = dir.path().join("sut.yaml");
        std::fs::write(&sut, SUT_TEMPLATE).expect("write");
        assert!(!suite::recorder_profile::is_recorder_profile(&sut));
        suite::profile::load(&sut).expect("the platform template loads");
        let rec = dir.path().join("rec.yaml");
        std::fs::write(&rec, RECORDER_TEMPLATE).expect("write");
        assert!(suite::recorder_profile::is_recorder_profile(&rec));
        suite::recorder_profile::load(&rec).expect("the recorder template loads");
    }
}
