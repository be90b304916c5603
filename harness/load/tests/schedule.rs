//! The schedule driven as the load driver drives it, under simulated time: wake at
//! `poll_timeout` or at the earliest call end, start what `poll_start` gives, end calls
//! after their hold. Checked: the start count and the achieved concurrency (rate x hold,
//! Little's law), the limit, the bounds, Ctrl-C, and the ramp's arrival curve.

use proptest::prelude::*;
use recproof_load::{CallSchedule, Hold, LoadPlan, PlanError, Share};
use sip::time::Time;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

/// What a simulated run saw.
#[derive(Debug, Default)]
struct Run {
    starts: Vec<Time>,
    peak_active: u32,
    max_lateness: Duration,
}

/// The global indices and due times a schedule starts when nothing holds it back.
fn starts_of(plan: LoadPlan) -> Vec<(u64, Time)> {
    let mut schedule = CallSchedule::new(plan, Time::ZERO).expect("plan");
    let mut out = Vec::new();
    for _ in 0..1_000_000 {
        let Some(t) = schedule.poll_timeout() else {
            return out;
        };
        while let Some(s) = schedule.poll_start(t) {
            out.push((s.index, s.due));
            schedule.call_ended();
        }
    }
    panic!("the schedule did not end");
}

/// Runs `plan` to its end with every call held `hold` (drawn with seed 1), stopping new
/// calls at `stop_at` if given. Bounded: at most 10 million wake-ups.
fn simulate(plan: LoadPlan, hold: Hold, stop_at: Option<Time>) -> Run {
    let mut schedule = CallSchedule::new(plan, Time::ZERO).expect("plan");
    let mut ends: BinaryHeap<Reverse<Time>> = BinaryHeap::new();
    let mut run = Run::default();
    let mut now = Time::ZERO;
    for _ in 0..10_000_000 {
        if stop_at.is_some_and(|t| now >= t) {
            schedule.stop();
        }
        while ends.peek().is_some_and(|Reverse(t)| *t <= now) {
            ends.pop();
            schedule.call_ended();
        }
        while let Some(start) = schedule.poll_start(now) {
            run.starts.push(now);
            run.max_lateness = run.max_lateness.max(start.lateness);
            ends.push(Reverse(now + hold.sample(1, start.index)));
        }
        run.peak_active = run.peak_active.max(schedule.active());
        if schedule.is_finished() {
            return run;
        }
        let next = [
            schedule.poll_timeout(),
            ends.peek().map(|Reverse(t)| *t),
            stop_at,
        ]
        .into_iter()
        .flatten()
        .filter(|t| *t > now)
        .min()
        .expect("an unfinished schedule has something to wait for");
        now = next;
    }
    panic!("the simulated run did not end");
}

fn plan(rate: f64) -> LoadPlan {
    LoadPlan {
        rate_cps: rate,
        ramp: Duration::ZERO,
        concurrency: None,
        calls: None,
        duration: None,
        share: Share::WHOLE,
    }
}

#[test]
fn concurrency_settles_at_rate_times_hold() {
    let run = simulate(
        LoadPlan {
            calls: Some(10_000),
            ..plan(100.0)
        },
        Hold::Fixed(Duration::from_secs(8)),
        None,
    );
    assert_eq!(run.starts.len(), 10_000);
    // 100 calls/s held 8 s: 800 open (801 at the instant a start and an end coincide).
    assert!(
        (800..=801).contains(&run.peak_active),
        "{}",
        run.peak_active
    );
    assert_eq!(run.max_lateness, Duration::ZERO);
    // The last call is due in its slot, between 9,999 / 100 s and 10,000 / 100 s.
    let last = *run.starts.last().expect("starts");
    assert!(
        last >= Time::from_micros(99_990_000) && last < Time::from_micros(100_000_000),
        "{last:?}"
    );
}

#[test]
fn the_limit_holds_calls_back_and_they_start_late() {
    let run = simulate(
        LoadPlan {
            calls: Some(2_000),
            concurrency: Some(100),
            ..plan(100.0)
        },
        Hold::Fixed(Duration::from_secs(8)),
        None,
    );
    assert_eq!(run.starts.len(), 2_000);
    assert_eq!(run.peak_active, 100);
    // 100 slots of 8 s admit 12.5 calls/s, not 100: the last call is late by most of the
    // run (2,000 calls need 160 s of slots against 20 s of schedule).
    assert!(
        run.max_lateness > Duration::from_secs(130),
        "{:?}",
        run.max_lateness
    );
}

#[test]
fn the_duration_bounds_the_starts() {
    let run = simulate(
        LoadPlan {
            duration: Some(Duration::from_secs(10)),
            ..plan(50.0)
        },
        Hold::Fixed(Duration::from_secs(1)),
        None,
    );
    // Due at 0, 0.02, ... 9.98 s: 500 calls, none at 10 s.
    assert_eq!(run.starts.len(), 500);
    assert!(run.starts.iter().all(|t| *t < Time::from_secs(10)));
}

#[test]
fn stop_starts_nothing_more_and_open_calls_still_end() {
    let run = simulate(
        LoadPlan {
            calls: Some(1_000),
            ..plan(10.0)
        },
        "exp:5".parse().expect("hold"),
        Some(Time::from_millis(4_950)),
    );
    // Due at 0, 0.1, ... 4.9 s before the stop at 4.95 s.
    assert_eq!(run.starts.len(), 50);
}

#[test]
fn the_ramp_follows_the_arrival_curve() {
    let schedule = CallSchedule::new(
        LoadPlan {
            ramp: Duration::from_secs(10),
            calls: Some(5_000),
            ..plan(100.0)
        },
        Time::ZERO,
    )
    .expect("plan");
    // Each call starts inside its own slot (between the times the curve gives its index
    // and the next index), so the arrival curve is followed to within one call.
    let at = |k| schedule.due_offset(k).as_secs_f64();
    let within_slot = |k: u64, lo: f64, hi: f64| {
        let t = at(k);
        assert!(
            t >= lo - 1e-9 && t < hi,
            "call {k} at {t}, not in [{lo}, {hi})"
        );
    };
    // Half-way up the ramp the rate is 50/s and 100 x 5^2 / (2 x 10) = 125 calls were due:
    // call 125 starts between 5 s and the 126th call's curve time, sqrt(2 x 10 x 126 / 100).
    within_slot(125, 5.0, (2.0_f64 * 10.0 * 126.0 / 100.0).sqrt());
    // The ramp ends at 10 s after 500 calls; then 100/s.
    within_slot(500, 10.0, 10.01);
    within_slot(600, 11.0, 11.01);
}

#[test]
fn starts_spread_over_the_20_ms_frame_at_a_rate_that_divides_it() {
    // At 50 calls/s, starts k / rate apart would all fall on the same 20 ms phase, and
    // every call's media frames would be due in the same instant.
    let starts = starts_of(LoadPlan {
        calls: Some(1_000),
        ..plan(50.0)
    });
    let mut per_ms = [0u32; 20];
    for (_, t) in &starts {
        per_ms[((t.as_micros() / 1_000) % 20) as usize] += 1;
    }
    // 1,000 calls over 20 one-millisecond phases: 50 each, give or take a few.
    assert!(per_ms.iter().all(|&n| (40..=60).contains(&n)), "{per_ms:?}");
    // In order, each in its own slot: the rate is unchanged.
    for (k, t) in &starts {
        let lo = Time::from_micros(k * 20_000);
        assert!(
            *t >= lo && *t < lo + Duration::from_millis(20),
            "{k}: {t:?}"
        );
    }
}

#[test]
fn plans_that_cannot_run_or_would_not_end_are_refused() {
    let bounded = LoadPlan {
        calls: Some(1),
        ..plan(1.0)
    };
    let refused = |p: LoadPlan| CallSchedule::new(p, Time::ZERO).expect_err("refused");
    assert_eq!(refused(plan(10.0)), PlanError::Unbounded);
    assert_eq!(
        refused(LoadPlan {
            rate_cps: f64::NAN,
            ..bounded.clone()
        })
        .to_string()
        .split(':')
        .next(),
        Some("--rate NaN")
    );
    assert_eq!(
        refused(LoadPlan {
            rate_cps: 0.0,
            ..bounded.clone()
        }),
        PlanError::Rate(0.0)
    );
    assert_eq!(
        refused(LoadPlan {
            concurrency: Some(0),
            ..bounded.clone()
        }),
        PlanError::ZeroConcurrency
    );
    assert_eq!(
        refused(LoadPlan {
            calls: Some(0),
            ..bounded.clone()
        }),
        PlanError::ZeroCalls
    );
    assert_eq!(
        refused(LoadPlan {
            duration: Some(Duration::ZERO),
            ..bounded
        }),
        PlanError::ZeroDuration
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the plan: starts never exceed the count or the limit, never come before
    /// their due time, are in order, and the run ends.
    #[test]
    fn bounds_hold_for_any_plan(
        rate in 0.5f64..2_000.0,
        ramp_ms in 0u64..5_000,
        limit in proptest::option::of(1u32..300),
        calls in 1u64..3_000,
        hold_ms in 0u64..4_000,
    ) {
        let plan = LoadPlan {
            rate_cps: rate,
            ramp: Duration::from_millis(ramp_ms),
            concurrency: limit,
            calls: Some(calls),
            duration: None,
            share: Share::WHOLE,
        };
        let schedule = CallSchedule::new(plan.clone(), Time::ZERO).expect("plan");
        let run = simulate(plan, Hold::Fixed(Duration::from_millis(hold_ms)), None);
        prop_assert_eq!(run.starts.len() as u64, calls);
        if let Some(l) = limit {
            prop_assert!(run.peak_active <= l);
        }
        for (k, t) in run.starts.iter().enumerate() {
            prop_assert!(*t >= Time::from_duration(schedule.due_offset(k as u64)));
        }
        prop_assert!(run.starts.windows(2).all(|w| w[0] <= w[1]));
        for k in 1..calls.min(500) {
            prop_assert!(schedule.due_offset(k) >= schedule.due_offset(k - 1));
        }
    }
}

#[test]
fn shares_together_start_exactly_the_calls_of_the_whole_plan() {
    let whole = LoadPlan {
        calls: Some(1_001),
        ramp: Duration::from_secs(3),
        concurrency: Some(10),
        ..plan(250.0)
    };
    let all = starts_of(whole.clone());
    assert_eq!(all.len(), 1_001);
    for n in [2u32, 3, 7] {
        let mut merged: Vec<(u64, Time)> = (0..n)
            .flat_map(|i| {
                let share = Share::new(i, n).expect("share");
                let limit = share.limit_of(10);
                assert!(limit >= 1);
                starts_of(LoadPlan {
                    share,
                    ..whole.clone()
                })
            })
            .collect();
        merged.sort();
        assert_eq!(merged, all, "{n} shares");
        let limits: u32 = (0..n)
            .map(|i| Share { index: i, count: n }.limit_of(10))
            .sum();
        assert_eq!(limits, 10, "the limits of {n} shares add up to the whole");
    }
    // Loops inside a shard are shares of the global space too.
    let inner = Share::new(1, 2).expect("share").split(3);
    assert_eq!(inner[2], Share { index: 5, count: 6 });
    assert_eq!("3/4".parse::<Share>(), Ok(Share { index: 3, count: 4 }));
    assert!("4/4".parse::<Share>().is_err());
    assert!("x".parse::<Share>().is_err());
}
