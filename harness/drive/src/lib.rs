//! recproof's call drivers.
//!
//! Owns the path from "what a scenario wants" to "the observation log of the calls":
//! - [`settings`]: the recording settings in force, rendered as a Webex-style policy;
//! - [`plan`]: what one call does (answer, keys, talk time);
//! - [`script`]: when a driver dials, presses keys, hangs up and drains (sans-IO, shared
//!   by both drivers);
//! - [`embedded`]: runs a plan against the embedded reference platform, the harness
//!   phones and the SRS emulators in a simulated network and clock;
//! - [`external`]: runs a plan against an external system under test on real sockets
//!   and the wall clock.
//!
//! It must not judge (that is `recproof-checks`) or format reports. It only wires roles
//! together and records what they observe.

pub mod embedded;
pub mod external;
pub mod plan;
pub mod script;
pub mod settings;
