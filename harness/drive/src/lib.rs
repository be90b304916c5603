//! recproof's call drivers.
//!
//! Owns the path from "what a scenario wants" to "the observation log of the calls":
//! - [`settings`]: the recording settings in force, rendered as a Webex-style policy;
//! - [`expectation`]: what the checks expect of a call under those settings;
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
pub mod expectation;
pub mod external;
pub mod plan;
pub mod recorder;
pub mod script;
pub mod settings;

/// A seed nobody chose: from the process's random hasher keys (seeded by the OS), the
/// wall clock and the process id. For what must differ between runs (SIP identifiers of
/// real-time calls, a real-socket platform's recording-session IDs), never for what a
/// seed must reproduce.
pub fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.write_u128(now.as_nanos());
    h.write_u32(std::process::id());
    h.finish()
}
