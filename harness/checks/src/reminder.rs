//! POL-06: the reminder ("this call is recorded") tone keeps its interval while
//! recording, is not heard while paused or not recording, and not at all when disabled.
//!
//! Judged from the tone bursts on `caller.heard` and `callee.heard` at the reminder
//! frequency, against the recording windows of the [`crate::timeline`]. This module owns
//! nothing else.

use crate::expect::ms_us;
use crate::timeline::ToneHeard;
use crate::verdict::{
    Evidence, Measurement, Status, Verdict, and_list, and_list_sentence, secs, secs_range,
};
use crate::{Context, PARTIES, heard, public_check};

public_check!(
    /// POL-06: each interval between consecutive reminder tones a party heard within one
    /// recording window is the configured interval within tolerance; the first comes
    /// `interval` after recording start; none is missing at the end; none is heard while
    /// paused or not recording; none at all when the reminder is disabled.
    reminder_tone,
    reminder_tone_in
);

fn evidence(t: &ToneHeard) -> Evidence {
    Evidence::stream(
        t.start_us,
        t.stream.split('.').next().unwrap_or(""),
        &t.stream,
        format!(
            "tone {:.0} Hz from {} to {} s",
            t.freq_hz,
            secs(t.start_us as i64),
            secs(t.end_us as i64)
        ),
    )
}

/// [`reminder_tone`] on a prepared context.
pub fn reminder_tone_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let Some(freq) = ctx.expect.signals.reminder_hz else {
        return vec![ctx.verdict(
            "POL-06",
            "reminder.interval",
            Status::NotApplicable,
            "Not judged: the reminder tone's frequency is not known (the SUT profile gives none), so reminder tones cannot be told apart.",
        )];
    };
    let bursts = |party: &str| -> Vec<ToneHeard> {
        let mut v: Vec<ToneHeard> = ctx
            .view
            .tones(|s| s == heard(party))
            .into_iter()
            .filter(|t| (t.freq_hz - freq).abs() <= ctx.tol.tone_freq_hz)
            .collect();
        // Merge detector fragments of one burst.
        v.dedup_by(|b, a| b.start_us < a.end_us + 100_000);
        v
    };
    let Some(interval_s) = ctx.expect.reminder_interval_s else {
        if let Some(v) = ctx.unanswered(
            "POL-06",
            "reminder.interval",
            "no tone could have been heard",
        ) {
            return vec![v];
        }
        let heard_any: Vec<ToneHeard> = PARTIES.iter().flat_map(|p| bursts(p)).collect();
        if heard_any.is_empty() {
            return vec![ctx.verdict(
                "POL-06",
                "reminder.interval",
                Status::Pass,
                format!(
                    "Neither party heard a reminder tone ({freq:.0} Hz), as configured (reminder off)."
                ),
            )];
        }
        return vec![
            ctx.verdict(
                "POL-06",
                "reminder.interval",
                Status::Fail,
                format!(
                    "The parties heard {} reminder tone(s) ({freq:.0} Hz), the first at {}, although the reminder is off.",
                    heard_any.len(),
                    ctx.at(heard_any.iter().map(|t| t.start_us).min().unwrap_or(0))
                ),
            )
            .with_evidence(heard_any.iter().map(evidence)),
        ];
    };
    let interval = (interval_s * 1e6).round() as i64;
    let tol = ms_us(ctx.tol.reminder_interval_ms);
    let first_tol = ms_us(ctx.tol.reminder_first_ms);
    let windows = ctx.timeline.recording_windows();
    let paused = ctx.timeline.paused_windows();
    let grace = ms_us(ctx.tol.feature_reaction_ms).max(0) as u64;
    let spec = format!("{} s ± {} s", trim(interval_s), secs(tol));

    let mut problems = Vec::new();
    let mut evidence_out = Vec::new();
    let mut measurements = Vec::new();
    let mut all_intervals = Vec::new();
    let mut counts = Vec::new();
    let mut first_offsets = Vec::new();
    for party in PARTIES {
        let b = bursts(party);
        counts.push(format!("{party} {}", b.len()));
        evidence_out.extend(b.iter().map(evidence));
        for t in &b {
            if let Some((p0, p1, _)) = paused
                .iter()
                .find(|(p0, p1, _)| t.start_us >= p0 + grace && t.start_us < *p1)
            {
                problems.push(format!(
                    "the {party} heard a reminder tone at {} while recording was paused ({} to {})",
                    ctx.at(t.start_us),
                    ctx.at(*p0),
                    ctx.at(*p1)
                ));
            } else if !windows
                .iter()
                .any(|(w0, w1)| t.start_us >= *w0 && t.start_us <= w1 + grace)
                && !paused
                    .iter()
                    .any(|(p0, p1, _)| t.start_us >= *p0 && t.start_us < *p1)
            {
                problems.push(format!(
                    "the {party} heard a reminder tone at {} while the call was not being recorded",
                    ctx.at(t.start_us)
                ));
            }
        }
        let mut bad_intervals = Vec::new();
        for (wi, (w0, w1)) in windows.iter().enumerate() {
            let inside: Vec<&ToneHeard> = b
                .iter()
                .filter(|t| t.start_us >= *w0 && t.start_us <= *w1)
                .collect();
            match inside.first() {
                Some(f) => {
                    let off = f.start_us as i64 - *w0 as i64;
                    if wi == 0 {
                        first_offsets.push(off);
                        measurements.push(Measurement::new(
                            format!("reminder_first.{party}"),
                            off as f64 / 1e6,
                            "s",
                        ));
                    }
                    let late = off > interval + first_tol;
                    let early = wi == 0 && off < interval - first_tol;
                    if late || early {
                        problems.push(format!(
                            "the {party}'s first reminder came {} s after recording started at {} (expected {} s ± {} s)",
                            secs(off),
                            ctx.at(*w0),
                            trim(interval_s),
                            secs(first_tol)
                        ));
                    }
                }
                None => {
                    if (*w1 as i64 - *w0 as i64) > interval + first_tol {
                        problems.push(format!(
                            "the {party} heard no reminder tone in the {} s of recording from {}",
                            secs(*w1 as i64 - *w0 as i64),
                            ctx.at(*w0)
                        ));
                    }
                }
            }
            for pair in inside.windows(2) {
                let d = pair[1].start_us as i64 - pair[0].start_us as i64;
                all_intervals.push(d);
                measurements.push(Measurement::new(
                    format!("reminder_interval.{party}"),
                    d as f64 / 1e6,
                    "s",
                ));
                if (d - interval).abs() > tol {
                    bad_intervals.push(secs(d));
                }
            }
            if let Some(last) = inside.last()
                && (*w1 as i64) > last.start_us as i64 + interval + tol
            {
                problems.push(format!(
                    "the {party} heard no reminder tone after the one at {} although recording went on until {}",
                    ctx.at(last.start_us),
                    ctx.at(*w1)
                ));
            }
        }
        if !bad_intervals.is_empty() {
            let all: Vec<String> = b
                .windows(2)
                .map(|p| secs(p[1].start_us as i64 - p[0].start_us as i64))
                .collect();
            problems.push(format!(
                "the {party} heard reminder tones {} s apart; the configured interval is {spec}",
                and_list(&all)
            ));
        }
    }
    if windows.is_empty() && problems.is_empty() {
        return vec![ctx.verdict(
            "POL-06",
            "reminder.interval",
            Status::NotApplicable,
            "Not judged: the call was never recorded, so no reminder tone was due.",
        )];
    }
    if problems.is_empty() {
        let range = match (all_intervals.iter().min(), all_intervals.iter().max()) {
            (Some(lo), Some(hi)) => format!("every {} s", secs_range(*lo, *hi)),
            _ => {
                "when due (no two tones fell in one recording window, so no interval was measured)"
                    .to_owned()
            }
        };
        let first = match (first_offsets.iter().min(), first_offsets.iter().max()) {
            (Some(lo), Some(hi)) => format!(
                "; the first came {} s after recording started",
                secs_range(*lo, *hi)
            ),
            _ => String::new(),
        };
        return vec![
            ctx.verdict(
                "POL-06",
                "reminder.interval",
                Status::Pass,
                format!(
                    "Both parties heard the reminder tone {range} (configured {spec}; tones heard: {}){first}.",
                    counts.join(", ")
                ),
            )
            .with_evidence(evidence_out)
            .with_measurements(measurements),
        ];
    }
    let s = and_list_sentence(&problems);
    vec![
        ctx.verdict("POL-06", "reminder.interval", Status::Fail, format!("{s}."))
            .with_evidence(evidence_out)
            .with_measurements(measurements),
    ]
}

/// `20` for 20.0, `12.5` for 12.5.
fn trim(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}
