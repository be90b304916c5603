//! Settings of one reference platform instance.
//!
//! Owns [`PlatformConfig`] and the small choices it holds ([`PauseStyle`]). The
//! recording policy itself is `recproof-policy`'s [`policy::Policy`]; this module only
//! says where the platform listens, which phones it can reach, and how it speaks SIPREC.
//! It must not interpret the policy (that is the recording controller's job).

use crate::fault::Fault;
use crate::variant::Variant;
use siprec::metadata::Dialect;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How the platform keeps party audio from the recorder while recording is paused
/// (SRC-17). In every style no party RTP is sent on the recording streams while paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PauseStyle {
    /// Keep the recording session's SDP as it is and just stop sending RTP.
    StopRtp,
    /// Re-INVITE the recorder with both streams `a=inactive`, `a=sendonly` again on
    /// resume. The default.
    #[default]
    ReinviteInactive,
    /// Re-INVITE with a media-level `c=IN IP4 0.0.0.0` (the BroadWorks pause sample,
    /// checklist SRC-17), the real address again on resume.
    ReinviteHold0000,
}

impl PauseStyle {
    /// Every style with its CLI name.
    pub const ALL: &'static [(&'static str, PauseStyle)] = &[
        ("stop-rtp", Self::StopRtp),
        ("reinvite-inactive", Self::ReinviteInactive),
        ("reinvite-hold-0000", Self::ReinviteHold0000),
    ];

    /// The style with this CLI name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }
}

/// Everything one platform instance needs. Build with [`PlatformConfig::new`] and adjust
/// the public fields.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    /// The recording policy (organisation, locations, people, providers, feature codes).
    pub policy: policy::Policy,
    /// Where the platform receives SIP (UDP).
    pub sip_addr: SocketAddr,
    /// The address in the platform's SDP; RTP ports are on it.
    pub media_ip: IpAddr,
    /// First RTP port of the pool (rounded up to even).
    pub rtp_port_base: u16,
    /// Number of RTP ports in the pool: `base`, `base + 2`, ... (even ports, so each
    /// stream's RTCP port, the next odd one, is never another stream's RTP port). A call
    /// takes 2 (one per leg) plus 2 per recording session; a call that finds no free port
    /// is refused with 503.
    pub rtp_port_count: u16,
    /// Extension → the SIP address of the phone that answers it (what a REGISTER would
    /// have told a real platform; the harness fills it in). The key `*` routes every
    /// extension not listed (a trunk to a load generator's callee side).
    pub directory: BTreeMap<String, SocketAddr>,
    /// Metadata dialect and the SRC markers that go with it. Defaults to the policy's
    /// `dialect` (BroadWorks unless the file says `rfc-strict`).
    pub dialect: Dialect,
    /// How pause keeps audio from the recorder.
    pub pause_style: PauseStyle,
    /// Ringing time before an unanswered call goes to voicemail (default 12 s).
    pub no_answer_timeout: Duration,
    /// The fault profile, if any.
    pub fault: Option<Fault>,
    /// The legal variant, if any.
    pub variant: Option<Variant>,
    /// Seed of tags, Call-IDs, SSRCs and metadata IDs: the same seed and inputs give the
    /// same bytes. On real sockets draw a fresh one per run, so a restarted platform does
    /// not reuse its recording sessions' Call-IDs and Session-IDs.
    pub seed: u64,
    /// The wall-clock instant of time zero, for metadata times (`start-time`,
    /// announcement `played-at`). On real sockets: the wall clock when the runner started
    /// (so metadata times are UTC wall-clock); simulated: a fixed date.
    pub epoch: jiff::Timestamp,
    /// Name in logs.
    pub name: String,
}

/// The epoch used when none is set: 2026-01-01T00:00:00Z.
pub const DEFAULT_EPOCH_SECONDS: i64 = 1_767_225_600;

impl PlatformConfig {
    /// Defaults around a policy and the platform's SIP and media addresses: RTP pool
    /// 40000.. with 64 ports, empty directory, the policy's dialect, re-INVITE inactive
    /// pauses, 12 s no-answer timeout, no fault, seed 7.
    pub fn new(policy: policy::Policy, sip_addr: SocketAddr, media_ip: IpAddr) -> Self {
        let dialect = match policy.dialect {
            policy::Dialect::RfcStrict => Dialect::Rfc7865,
            _ => Dialect::BroadWorks,
        };
        Self {
            policy,
            sip_addr,
            media_ip,
            rtp_port_base: 40000,
            rtp_port_count: 64,
            directory: BTreeMap::new(),
            dialect,
            pause_style: PauseStyle::default(),
            no_answer_timeout: Duration::from_secs(12),
            fault: None,
            variant: None,
            seed: 7,
            epoch: jiff::Timestamp::from_second(DEFAULT_EPOCH_SECONDS)
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            name: "platform".to_owned(),
        }
    }

    /// Every RTP address of the pool: even ports from the base up.
    pub fn rtp_addresses(&self) -> Vec<SocketAddr> {
        let base = self.rtp_port_base.saturating_add(self.rtp_port_base % 2);
        (0..self.rtp_port_count)
            .filter_map(|i| base.checked_add(i.checked_mul(2)?))
            .map(|p| SocketAddr::new(self.media_ip, p))
            .collect()
    }

    /// Where the SRC user agent receives SIP: the platform's SIP address, or the next
    /// port up with the `separate-src-port` variant.
    pub fn src_addr(&self) -> SocketAddr {
        if self.variant == Some(Variant::SeparateSrcPort) {
            SocketAddr::new(self.sip_addr.ip(), self.sip_addr.port().wrapping_add(1))
        } else {
            self.sip_addr
        }
    }

    /// Where the phone of `extension` is: its directory entry, else the `*` entry.
    pub fn phone_of(&self, extension: &str) -> Option<SocketAddr> {
        self.directory
            .get(extension)
            .or_else(|| self.directory.get("*"))
            .copied()
    }

    /// True when `fault` is the active fault.
    pub fn has(&self, fault: Fault) -> bool {
        self.fault == Some(fault)
    }
}
