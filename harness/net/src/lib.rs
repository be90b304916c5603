//! Thin tokio drivers for recproof.
//!
//! Everything protocol-shaped lives in the sans-IO crates (`recproof-sip`,
//! `recproof-siprec`, `recproof-media`); this crate only moves bytes and time between
//! them and the operating system:
//! - [`transport`]: UDP and TCP SIP transports (Content-Length framing on TCP).
//! - [`node_runner`]: runs sans-IO roles ([`sim::Node`]s) on real UDP sockets.
//! - [`ua`]: the driver loop that runs a sans-IO SIP endpoint on those transports.
//!
//! Drivers read time from tokio's clock (`tokio::time::Instant`), never from
//! `std::time`, so a paused or simulated runtime reaches the cores.

pub mod node_runner;
pub mod transport;
pub mod ua;

pub use transport::{Inbound, InboundKind, SipTransport, Transport, TransportError};
