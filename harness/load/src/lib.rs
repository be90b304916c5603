//! recproof's load engine: many calls at once, every call real and judged.
//!
//! The sans-IO core, fed bytes and time:
//! - [`schedule`]: when each call starts (SIPp's `-r`, `-l`, `-m`, a linear ramp and a
//!   duration bound), and [`hold`]: how long each call is held, reproducible per call;
//! - [`frames`]: the instrumented audio, encoded once and shared by every stream;
//! - [`leg`]: one direction of one call's audio, sent and analysed frame by frame;
//! - [`record`]: how a direct call's legs are judged (the record types, like [`stats`]
//!   and [`results`], are `recproof-load-model`'s, re-exported);
//! - [`direct`]: the engine of `recproof load --direct` (caller to callee, no platform);
//! - [`recorded`]: the engine of a run through a platform (the embedded reference
//!   platform or `--sut`): the suite's phones and recorder, every call judged by the
//!   suite's checks ([`judge`]), recording sessions tied to their calls by
//!   [`attribution`];
//! - [`sessions`]: the engine of a run against a recorder under test (`--sut` with a
//!   recorder profile): the suite's harness SRC placing recording sessions, each judged
//!   by the recorder checks;
//! - [`host`]: a host of role nodes (the embedded platform) as a service loop's engine;
//! - [`results`]: the typed results every run writes and `merge` adds up.
//! - [`engine::Finished`]: a finished call as an engine hands it out (its record, its
//!   observations for evidence, and its judgement still to do).
//!
//! The I/O: [`driver`] binds the sockets each engine asks for ([`engine`] is the
//! contract) and runs each on an event loop of its own thread (no task or thread per call
//! or stream). It is the only module here that touches sockets or the clock.

pub mod attribution;
pub mod direct;
pub mod driver;
pub mod engine;
pub mod frames;
pub mod hold;
pub mod host;
pub mod judge;
pub mod leg;
pub mod mix;
pub mod record;
pub mod recorded;
pub mod schedule;
pub mod sessions;

pub use hold::{Hold, HoldParseError};
/// The typed results (`recproof-load-model`), under the paths the engine's users know.
pub use loadmodel::{results, stats};
pub use schedule::{CallSchedule, CallStart, LoadPlan, PlanError, Share, ShareParseError};
