//! recproof's simulated parties as sans-IO [`sim::Node`]s.
//!
//! The harness plays every role around a system under test: the
//! caller and callee phones, and the recorder (SRS). This crate holds those roles:
//!
//! - [`media_io`]: RTP send and listen streams with the instrumented party signal and the
//!   media detectors; start at [`media_io::MediaContext`], [`media_io::SendStream`] and
//!   [`media_io::ListenStream`].
//! - [`ua`]: [`ua::PartyUa`], a caller or callee phone.
//! - [`srs`]: [`srs::SrsEmulator`], the harness-as-SRS (checklist 0.2).
//!
//! Every role is driven the same way through [`sim::Node`]: datagrams and `now` in,
//! datagrams, observations and a next wake-up out. So the same roles run in
//! [`sim::World`] (simulated clock and network) and, with a socket runner, on a real
//! network. Commands (dial, hang up, DTMF, snapshot request) are methods on the concrete
//! types, reached with [`sim::World::with_node`].
//!
//! What this crate must not do: open sockets, read clocks, spawn threads, or judge. Roles
//! record what they saw as [`observe::Observation`]s; checks judge later. Whatever a peer
//! sends is untrusted: malformed SIP becomes [`observe::Event::SipMalformed`], malformed
//! RTP [`observe::Event::RtpMalformed`], and the role carries on.

pub mod media_io;
pub mod src;
pub mod srs;
pub mod srs_fault;
pub mod ua;
mod wire;
