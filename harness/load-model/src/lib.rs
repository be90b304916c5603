//! The typed results of `recproof load`: one model between the load engine that writes
//! them, `recproof load merge` that adds shards up, and the report that renders them.
//!
//! - [`record`]: a judged call, one line of `calls.jsonl`;
//! - [`stats`]: the run's counts and histograms ([`stats::Figures`]);
//! - [`results`]: `results.json` ([`results::LoadResults`]), `intervals.jsonl`
//!   ([`results::IntervalRecord`]), thresholds, the harness's health verdict, and the
//!   lossless merge of shards.
//!
//! Must not touch: sockets, clocks, judging a call (the load engine's), rendering (the
//! report's). It is a leaf of plain data and arithmetic, so the report can read it
//! without the engine's dependencies.

pub mod record;
pub mod results;
pub mod stats;
