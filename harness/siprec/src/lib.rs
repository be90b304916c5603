//! SIPREC for recproof: the recording-session layer on top of [`sip`].
//!
//! - [`findings`]: the requirement catalogue, severities, profiles and evidence every
//!   checker shares. Start here to see what a verdict looks like.
//! - [`metadata`]: RFC 7865 and BroadWorks/Webex recording metadata in one model, XML in
//!   and out, and the single-document MD- rules.
//! - [`validate`]: single-message validation of a recording-session request (SRC-02..13,
//!   SRC-23) as `recproof validate` runs it.
//!
//! Sans-IO: nothing here opens a file or a socket or reads a clock.

pub mod findings;
pub mod metadata;
pub mod rs;
pub mod validate;

pub use findings::{Evidence, Finding, Profile, REQUIREMENTS, Requirement, Severity};
