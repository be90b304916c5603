//! The sans-IO core of `recproof load`: the traffic shape of a load run.
//!
//! Owns: when each call of a run is due ([`schedule::CallSchedule`], SIPp's `-r`, `-l`,
//! `-m` and a linear ramp, plus a duration bound) and how long each call is held
//! ([`hold::Hold`], fixed or drawn from a distribution, reproducible per call from the
//! seed). Both are fed time and return decisions, so the same code runs under the
//! simulated clock in tests and under the real clock in the load driver.
//!
//! Must not touch: sockets, tokio, SIP or media. What a started call does is the roles'
//! business; this crate only says when to start it and when it should hang up.

pub mod hold;
pub mod schedule;

pub use hold::{Hold, HoldParseError};
pub use schedule::{CallSchedule, CallStart, LoadPlan, PlanError};
