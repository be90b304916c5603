//! Sans-IO SIP for recproof.
//!
//! recproof has to see every retransmission, send wrong things on purpose (fault
//! profiles) and run under a simulated clock, so it keeps its own small SIP core instead
//! of a stack that hides those things.
//!
//! The module list is a map of the code:
//! - [`message`]: parse, inspect and build messages; raw bytes kept; compact headers;
//!   Content-Length checks. rsip lives behind this facade.
//! - [`framing`]: find message boundaries in a TCP byte stream (Content-Length framing).
//! - [`sdp`]: SDP offer/answer for recording sessions (sdp-types underneath).
//! - [`multipart`]: multipart/mixed SIPREC bodies, built byte-exactly and parsed leniently.
//! - [`transaction`]: RFC 3261 §17 client and server transactions with timers A-K (+ RFC 6026 L, M).
//! - [`dialog`]: RFC 3261 §12 dialogs (tags, CSeq, route set, target refresh).
//! - [`endpoint`]: a sans-IO user agent core (transactions + dialogs) the harness roles drive.
//! - [`time`]: the [`time::Time`] instant every core takes as `now`.
//!
//! Nothing here opens a socket, reads a clock or spawns a task: time is an argument and
//! output is returned. The tokio drivers are in `recproof-net`.

pub mod dialog;
pub mod endpoint;
pub mod framing;
pub mod message;
pub mod multipart;
pub mod sdp;
pub mod time;
pub mod transaction;

pub use message::{HeaderError, LengthIssue, MessageBuilder, Method, ParseError, SipMessage};
