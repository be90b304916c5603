//! recproof's reference platform: the system under test recproof runs against when no
//! other is named.
//!
//! A sans-IO recording back-to-back user agent that behaves as the source article says
//! Webex Calling does and acts as SIPREC recording client
//! (SRC): it routes a caller to a callee by extension, anchors both legs' RTP, and, as
//! the recording policy (`recproof-policy`) says for each party, opens a recording
//! session to the provider's recorder with one stream per party, plays and reports
//! announcements, plays reminder tones, honours feature codes (start, stop, pause,
//! resume), sends unanswered calls to voicemail and records deposits, and applies the
//! configured failure behaviour when the recorder fails.
//!
//! - [`platform::Platform`]: the [`sim::Node`]; start here.
//! - [`config::PlatformConfig`]: addresses, port pool, phone directory, dialect, pause
//!   style, timeouts, fault, seed.
//! - [`fault::Fault`]: the fault profiles, each breaking one requirement (or, for the
//!   whole failures, everything).
//! - [`variant::Variant`]: legal variants, other choices the RFCs allow, against which
//!   every scenario must pass.
//! - [`assets`]: the shipped announcements and the tone constants.
//!
//! Inside, the platform is one state machine per part, each in its own (private)
//! module with a doc comment saying what it owns and what it must not touch:
//!
//! - `platform`: [`platform::Platform`], the thin owner of the parts below; it routes
//!   datagrams and timeouts to them and implements [`sim::Node`].
//! - `b2bua`: the B2BUA: routing by extension, both legs' dialogs, answer, voicemail
//!   and the end of a call.
//! - `mixer`: the media: RTP in per leg (playout buffers, feature codes), the 20 ms
//!   media tick, overlays mixed into what each party hears, frames forked to recording
//!   streams.
//! - `recording`: the recording controller (SRC): one recording session per recorded
//!   user, its SDP and metadata updates, start/stop/pause/resume, failure behaviour.
//! - `rs`: the bytes of a recording session (SDP offers, metadata, multipart body).
//! - `call` (the calls in progress, indexed by dialog and next deadline), `shared`
//!   (configuration, behaviour, assets, rng, RTP ports, output queues) and `behaviour`
//!   (faults and variants as data the parts read).
//!
//! The crate README (`harness/platform/README.md`) describes the behaviour, the audio,
//! the announcement metadata element, the pause styles and the fault table.
//!
//! What this crate must not do: open sockets, read clocks, spawn threads, or judge. It is
//! a real SIP/RTP peer reached only through datagrams (never through function calls from
//! the checks), so the same checks run unchanged against an external system.

pub mod assets;
mod b2bua;
mod behaviour;
mod call;
pub mod config;
pub mod fault;
mod mixer;
pub mod platform;
mod recording;
mod shared;
pub mod variant;

pub use config::{PauseStyle, PlatformConfig};
pub use fault::Fault;
pub use platform::{Platform, PlatformError};
pub use variant::Variant;
