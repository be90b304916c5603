//! recproof's load engine: many calls at once, every call real and judged.
//!
//! The sans-IO core, fed bytes and time:
//! - [`schedule`]: when each call starts (SIPp's `-r`, `-l`, `-m`, a linear ramp and a
//!   duration bound), and [`hold`]: how long each call is held, reproducible per call;
//! - [`frames`]: the instrumented audio, encoded once and shared by every stream;
//! - [`leg`]: one direction of one call's audio, sent and analysed frame by frame;
//! - [`record`]: a call's verdicts and its line in the result log; [`stats`]: the run's
//!   counters and histograms;
//! - [`direct`]: the engine of `recproof load --direct` (caller to callee, no platform);
//! - [`recorded`]: the engine of a run through a platform (the embedded reference
//!   platform or `--sut`): the suite's phones and recorder, every call judged by the
//!   suite's checks ([`judge`]), recording sessions tied to their calls by
//!   [`attribution`];
//! - [`host`]: a host of role nodes (the embedded platform) as a service loop's engine;
//! - [`results`]: the typed results every run writes and `merge` adds up.
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
pub mod results;
pub mod schedule;
pub mod stats;

pub use hold::{Hold, HoldParseError};
pub use schedule::{CallSchedule, CallStart, LoadPlan, PlanError, Share, ShareParseError};
