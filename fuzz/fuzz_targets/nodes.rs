//! Structure-aware: a sequence of datagrams and timer ticks fed into the two nodes a
//! peer talks to, the SRS emulator (in its recorder-under-test mode) and the reference
//! platform, as their real-socket drivers would.
//!
//! Input layout: a first byte picks the SRS mode (bit 0: strict input); then records
//! `[target: u8][step in ms: u8][len: u8][len bytes]`, each one datagram after the clock
//! moves `step` ms (firing whatever timers are due). `target % 4`: 0 the SRS's SIP
//! address, 1 its first RTP port, 2 the platform's SIP address, 3 its first RTP port; a
//! datagram starting with a seed message (`target & 4`) is prefixed with a well-formed
//! INVITE head so the parser gets past the start line more often.
//!
//! Asserts: no panic and no hang (overflow checks on with `-a`); after each step
//! everything queued is drained, and what one datagram makes a node queue is bounded
//! (at most 64 datagrams and 64 observations), so no input can make either node grow
//! its queues without limit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use recproof_platform::{Platform, PlatformConfig};
use recproof_roles::media_io::MediaContext;
use recproof_roles::srs::{SrsConfig, SrsEmulator};
use recproof_sim::{Datagram, Node, Transport};
use recproof_sip::time::Time;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

const POLICY: &str = include_str!("../../scenarios/org-dubber-default.yaml");
const HEAD: &[u8] = b"INVITE sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-f\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: f@x\r\nCSeq: 1 INVITE\r\n";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 9)))
}

fn ctx() -> MediaContext {
    static CTX: OnceLock<MediaContext> = OnceLock::new();
    CTX.get_or_init(|| MediaContext::with_default_signal().expect("the default signal"))
        .clone()
}

/// The policy, parsed once (parsing and validating it costs more than a short input).
fn policy() -> Option<recproof_policy::Policy> {
    static POLICY_PARSED: OnceLock<Option<recproof_policy::Policy>> = OnceLock::new();
    POLICY_PARSED
        .get_or_init(|| recproof_policy::parse(POLICY, "fuzz").ok())
        .clone()
}

/// Drains what `node` queued; panics when one input made it queue too much.
fn drain(node: &mut dyn Node) {
    let sent = std::iter::from_fn(|| node.poll_transmit()).take(10_000).count();
    let logged = std::iter::from_fn(|| node.poll_observation())
        .take(10_000)
        .count();
    assert!(sent <= 64, "{} queued {sent} datagrams for one input", node.name());
    assert!(logged <= 64, "{} logged {logged} lines for one input", node.name());
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let srs_sip = addr("127.0.0.1:5080");
    let mut scfg = SrsConfig::new(srs_sip, srs_sip.ip());
    scfg.strict_input = mode & 1 == 1;
    scfg.rtp_port_base = 42_000;
    scfg.rtp_port_count = 8;
    let Ok(mut srs) = SrsEmulator::new(scfg, ctx()) else {
        return;
    };
    let Some(policy) = policy() else {
        return;
    };
    let platform_sip = addr("127.0.0.1:5070");
    let mut pcfg = PlatformConfig::new(policy, platform_sip, platform_sip.ip());
    pcfg.rtp_port_base = 44_000;
    pcfg.rtp_port_count = 16;
    let Ok(mut platform) = Platform::new(pcfg) else {
        return;
    };
    let mut now = Time::ZERO;
    drain(&mut srs);
    drain(&mut platform);
    while let [target, step, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (payload, tail) = tail.split_at(n);
        rest = tail;
        now = now + Duration::from_millis(u64::from(*step));
        for node in [&mut srs as &mut dyn Node, &mut platform as &mut dyn Node] {
            if node.poll_timeout().is_some_and(|t| t <= now) {
                node.handle_timeout(now);
            }
            drain(node);
        }
        let mut bytes = Vec::with_capacity(HEAD.len() + payload.len());
        if target & 4 == 4 {
            bytes.extend_from_slice(HEAD);
        }
        bytes.extend_from_slice(payload);
        let (node, to): (&mut dyn Node, SocketAddr) = match target % 4 {
            0 => (&mut srs, srs_sip),
            1 => (&mut srs, addr("127.0.0.1:42000")),
            2 => (&mut platform, platform_sip),
            _ => (&mut platform, addr("127.0.0.1:44000")),
        };
        node.handle_datagram(
            now,
            Datagram {
                from: addr("127.0.0.1:9"),
                to,
                transport: Transport::Udp,
                bytes: bytes.into(),
            },
        );
        drain(node);
    }
});
