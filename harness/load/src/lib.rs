//! recproof's load engine: many calls at once, every call real and judged.
//!
//! The sans-IO core, fed bytes and time:
//! - [`schedule`]: when each call starts (SIPp's `-r`, `-l`, `-m`, a linear ramp and a
//!   duration bound), and [`hold`]: how long each call is held, reproducible per call;
//! - [`frames`]: the instrumented audio, encoded once and shared by every stream;
//! - [`leg`]: one direction of one call's audio, sent and analysed frame by frame;
//! - [`record`]: a call's verdicts and its line in the result log; [`stats`]: the run's
//!   counters and histograms;
//! - [`direct`]: the engine of `recproof load --direct` (caller to callee, no platform).
//!
//! The I/O: [`driver`] binds the sockets an engine asks for and runs it on one thread
//! with one readiness poll (no task or thread per call or stream). It is the only module
//! here that touches sockets or the clock.

pub mod direct;
pub mod driver;
pub mod engine;
pub mod frames;
pub mod hold;
pub mod leg;
pub mod record;
pub mod results;
pub mod schedule;
pub mod stats;

pub use hold::{Hold, HoldParseError};
pub use schedule::{CallSchedule, CallStart, LoadPlan, PlanError, Share, ShareParseError};
