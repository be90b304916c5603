//! Splits an observation log into calls.
//!
//! A log may hold several runs one after another (the suite runs each scenario on its own
//! clock, so each starts with `run_started` at t = 0), and some observations carry no
//! call label (the reference platform's own actions, some recorder events). This module
//! owns the rule that gives those a call: within one run (the lines between two
//! `run_started`), an unlabelled observation belongs to the call whose time window (its
//! first to last labelled observation) contains it; when several do, to the one that
//! started last; when none does and the run has a single call, to that call. Anything
//! else is counted as unassigned. Run bookkeeping (`run_started`, `run_ended`) belongs
//! to no call.

use observe::{Clock, Event, Log, Observation};
use std::collections::BTreeMap;

/// The first `run_started` of the log.
#[derive(Debug, Clone)]
pub(crate) struct RunFacts {
    pub(crate) sut: String,
    pub(crate) seed: u64,
    pub(crate) clock: Clock,
    pub(crate) tool_version: String,
    pub(crate) schema: u32,
}

/// One call's observations, in time order (file order for equal times).
#[derive(Debug, Clone, Default)]
pub(crate) struct CallLog {
    pub(crate) observations: Vec<Observation>,
    /// First labelled observation, µs on the run clock.
    pub(crate) start_us: u64,
    /// Last labelled observation.
    pub(crate) end_us: u64,
}

/// A log split by call.
#[derive(Debug, Clone, Default)]
pub(crate) struct Grouped {
    pub(crate) calls: BTreeMap<String, CallLog>,
    pub(crate) run: Option<RunFacts>,
    pub(crate) unassigned: usize,
    pub(crate) observations: usize,
}

/// Splits `log` (consumed) into calls.
pub(crate) fn group(log: Log) -> Grouped {
    let mut out = Grouped {
        observations: log.observations.len(),
        ..Grouped::default()
    };
    let mut segment: Vec<Observation> = Vec::new();
    for o in log.observations {
        match &o.event {
            Event::RunStarted {
                schema,
                seed,
                sut,
                clock,
                tool_version,
            } => {
                if out.run.is_none() {
                    out.run = Some(RunFacts {
                        sut: sut.clone(),
                        seed: *seed,
                        clock: *clock,
                        tool_version: tool_version.clone(),
                        schema: *schema,
                    });
                }
                flush(&mut segment, &mut out);
            }
            Event::RunEnded { .. } => {}
            _ => segment.push(o),
        }
    }
    flush(&mut segment, &mut out);
    for c in out.calls.values_mut() {
        c.observations.sort_by_key(|o| o.t_us);
    }
    out
}

fn flush(segment: &mut Vec<Observation>, out: &mut Grouped) {
    let obs = std::mem::take(segment);
    let mut windows: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for o in &obs {
        if let Some(c) = &o.call {
            let w = windows.entry(c.clone()).or_insert((o.t_us, o.t_us));
            w.0 = w.0.min(o.t_us);
            w.1 = w.1.max(o.t_us);
        }
    }
    for o in obs {
        let target = match &o.call {
            Some(c) => Some(c.clone()),
            None => windows
                .iter()
                .filter(|(_, (a, b))| *a <= o.t_us && o.t_us <= *b)
                .max_by_key(|(_, (a, _))| *a)
                .map(|(c, _)| c.clone())
                .or_else(|| {
                    if windows.len() == 1 {
                        windows.keys().next().cloned()
                    } else {
                        None
                    }
                }),
        };
        let Some(call) = target else {
            out.unassigned += 1;
            continue;
        };
        let (a, b) = windows.get(&call).copied().unwrap_or((o.t_us, o.t_us));
        let entry = out.calls.entry(call).or_insert_with(|| CallLog {
            observations: Vec::new(),
            start_us: a,
            end_us: b,
        });
        entry.start_us = entry.start_us.min(a);
        entry.end_us = entry.end_us.max(b);
        entry.observations.push(o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use observe::{Actor, Observation};

    fn obs(t_us: u64, call: Option<&str>, event: Event) -> Observation {
        Observation {
            t_us,
            call: call.map(str::to_owned),
            actor: if call.is_some() {
                Actor::Caller
            } else {
                Actor::Platform
            },
            event,
        }
    }

    fn action(a: &str) -> Event {
        Event::PlatformAction {
            action: a.into(),
            detail: String::new(),
        }
    }

    fn started() -> Event {
        Event::RunStarted {
            schema: 1,
            seed: 1,
            sut: "x".into(),
            clock: Clock::Simulated,
            tool_version: "0".into(),
        }
    }

    fn ended() -> Event {
        Event::CallEnded {
            reason: "bye".into(),
        }
    }

    #[test]
    fn unlabelled_observations_follow_the_call_window_per_run() {
        let log = Log {
            observations: vec![
                obs(0, None, started()),
                obs(0, Some("a"), action("x")),
                obs(5, None, action("in a")),
                obs(10, Some("a"), ended()),
                obs(20, None, action("after a, single call")),
                obs(0, None, started()),
                obs(0, Some("b"), action("x")),
                obs(3, Some("c"), action("x")),
                obs(4, None, action("b and c: c started last")),
                obs(6, Some("b"), ended()),
                obs(9, Some("c"), ended()),
                obs(50, None, action("nobody")),
            ],
            problems: Vec::new(),
        };
        let g = group(log);
        assert_eq!(g.calls["a"].observations.len(), 4);
        assert_eq!(g.calls["b"].observations.len(), 2);
        assert_eq!(g.calls["c"].observations.len(), 3);
        assert_eq!(g.unassigned, 1);
        assert_eq!((g.calls["c"].start_us, g.calls["c"].end_us), (3, 9));
        assert!(g.run.is_some());
    }
}
