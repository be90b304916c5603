//! The per-call plots, drawn with plotters' SVG backend (no fonts needed: text is left
//! to the browser): the call timeline, the reminder-interval chart and the latency chart.
//!
//! This module owns turning a call's observations and verdicts into plot data
//! ([`TimelineData`], [`ReminderData`], [`LatencyRow`]) and drawing it. What was judged
//! comes from the results, never re-derived here: the paused bands from the judged
//! timeline, the reminder intervals from the POL-06 verdicts' measurements, the configured
//! interval from the call's expectation and the run's tolerances, the tone names from the
//! expectation's signals (an external SUT's own frequencies; unknown ones stay unnamed). Plot errors come
//! back as text so a page can show a note instead of failing the whole report; the
//! ranges are guarded so degenerate data (one instant, no data, huge values) draws
//! rather than panics. plotters escapes the text it writes.

use crate::group::CallLog;
use crate::results::{ScenarioResult, Verdict};
use crate::sip::{Kind, SipMessage};
use observe::{Event, Source};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// How far a detected tone may be from a known frequency and still count as it.
const FREQ_TOL_HZ: f64 = 40.0;

const FONT: &str = "sans-serif";
const CALLER: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const CALLEE: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
const OTHER_PARTY: RGBColor = RGBColor(0x17, 0xbe, 0xcf);
const ANNOUNCEMENT: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
const REMINDER: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const BEEP: RGBColor = RGBColor(0x94, 0x67, 0xbd);
const TONE: RGBColor = RGBColor(0xe3, 0x77, 0xc2);
const UNKNOWN: RGBColor = RGBColor(0x7f, 0x7f, 0x7f);
const SILENCE: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);
const PAUSED: RGBColor = RGBColor(0xff, 0xe0, 0x66);
const SIP_REQ: RGBColor = RGBColor(0x1f, 0x3b, 0x8f);
const SIP_OK: RGBColor = RGBColor(0x2c, 0x7a, 0x2c);
const SIP_ERR: RGBColor = RGBColor(0xc0, 0x1f, 0x1f);
const SIP_OTHER: RGBColor = RGBColor(0x88, 0x88, 0x88);

type PlotResult = Result<String, String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// What a span on a timeline lane is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SpanKind {
    /// A party's audio (party name).
    Party(String),
    /// An announcement clip.
    Announcement,
    /// The reminder tone.
    Reminder,
    /// The pause/resume beep.
    Beep,
    /// Another tone.
    Tone,
    /// Energy that matched nothing.
    Unknown,
    /// Silence.
    Silence,
}

impl SpanKind {
    fn color(&self) -> RGBColor {
        match self {
            Self::Party(p) if p == "caller" => CALLER,
            Self::Party(p) if p == "callee" => CALLEE,
            Self::Party(_) => OTHER_PARTY,
            Self::Announcement => ANNOUNCEMENT,
            Self::Reminder => REMINDER,
            Self::Beep => BEEP,
            Self::Tone => TONE,
            Self::Unknown => UNKNOWN,
            Self::Silence => SILENCE,
        }
    }

    fn of_tone(freq_hz: f64, freqs: ToneFreqs) -> Self {
        let near = |f: Option<f64>| f.is_some_and(|f| (freq_hz - f).abs() <= FREQ_TOL_HZ);
        if near(freqs.reminder_hz) {
            Self::Reminder
        } else if near(freqs.beep_hz) {
            Self::Beep
        } else {
            Self::Tone
        }
    }
}

/// The reminder and beep frequencies a call's tones are named by: the signals of the
/// expectation the call was judged against (an external SUT's own; unknown stays
/// unnamed, never the reference platform's).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct ToneFreqs {
    pub(crate) reminder_hz: Option<f64>,
    pub(crate) beep_hz: Option<f64>,
}

impl ToneFreqs {
    pub(crate) fn of(scenarios: &[&ScenarioResult]) -> Self {
        scenarios
            .iter()
            .find_map(|s| s.expectation.as_ref())
            .map_or_else(Self::default, |e| Self {
                reminder_hz: e.signals.reminder_hz,
                beep_hz: e.signals.beep_hz,
            })
    }
}

/// A span of audio on one lane.
#[derive(Debug, Clone)]
pub(crate) struct Span {
    lane: usize,
    start_us: u64,
    end_us: u64,
    kind: SpanKind,
    /// Drawn as a narrow band over the segments (detector events: tone bursts, clips).
    detail: bool,
}

/// Everything the timeline draws.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimelineData {
    /// Lane names, top to bottom (below the SIP lane).
    pub(crate) lanes: Vec<String>,
    spans: Vec<Span>,
    /// Paused windows (as the checks judged them), drawn on recorder lanes.
    paused: Vec<(u64, u64)>,
    start_us: u64,
    end_us: u64,
    freqs: ToneFreqs,
}

fn lane_order(name: &str) -> (u8, String) {
    let rank = match name {
        "caller.heard" => 0,
        "callee.heard" => 1,
        n if n.starts_with("srs.") => 3,
        _ => 2,
    };
    (rank, name.to_owned())
}

/// Collects the timeline of a call: its media observations, the paused windows the
/// checks judged, tones named by the call's expectation.
pub(crate) fn timeline_data(call: &CallLog, scenarios: &[&ScenarioResult]) -> TimelineData {
    let freqs = ToneFreqs::of(scenarios);
    let mut raw: Vec<(String, u64, u64, SpanKind, bool)> = Vec::new();
    let paused: Vec<(u64, u64)> = scenarios
        .iter()
        .find_map(|s| s.timeline.as_ref())
        .map(|t| t.paused.clone())
        .unwrap_or_default();
    for o in &call.observations {
        match &o.event {
            Event::MediaSegment {
                stream,
                source,
                start_us,
                end_us,
                ..
            } => {
                let kind = match source {
                    Source::Party { party, .. } => SpanKind::Party(party.clone()),
                    Source::Announcement { .. } => SpanKind::Announcement,
                    Source::Tone { freq_hz } => SpanKind::of_tone(*freq_hz, freqs),
                    Source::Unknown => SpanKind::Unknown,
                };
                raw.push((stream.clone(), *start_us, *end_us, kind, false));
            }
            Event::ToneBurst {
                stream,
                freq_hz,
                start_us,
                end_us,
            } => raw.push((
                stream.clone(),
                *start_us,
                *end_us,
                SpanKind::of_tone(*freq_hz, freqs),
                true,
            )),
            Event::ClipMatch {
                stream,
                start_us,
                end_us,
                ..
            } => raw.push((
                stream.clone(),
                *start_us,
                *end_us,
                SpanKind::Announcement,
                true,
            )),
            Event::Silence {
                stream,
                start_us,
                end_us,
            } => raw.push((stream.clone(), *start_us, *end_us, SpanKind::Silence, false)),
            _ => {}
        }
    }
    let mut lanes: Vec<String> = raw.iter().map(|r| r.0.clone()).collect();
    lanes.sort_by_key(|l| lane_order(l));
    lanes.dedup();
    let mut start_us = call.start_us;
    let mut end_us = call.end_us;
    let spans = raw
        .into_iter()
        .filter_map(|(stream, s, e, kind, detail)| {
            let lane = lanes.iter().position(|l| *l == stream)?;
            let (s, e) = (s.min(e), s.max(e));
            start_us = start_us.min(s);
            end_us = end_us.max(e);
            Some(Span {
                lane,
                start_us: s,
                end_us: e,
                kind,
                detail,
            })
        })
        .collect();
    TimelineData {
        lanes,
        spans,
        paused,
        start_us,
        end_us,
        freqs,
    }
}

fn s(t_us: u64) -> f64 {
    t_us as f64 / 1e6
}

/// The x range in seconds, never empty.
fn x_range(start_us: u64, end_us: u64) -> (f64, f64) {
    let (a, b) = (s(start_us), s(end_us.max(start_us)));
    let span = (b - a).max(1.0);
    (a - span * 0.01, a + span * 1.02)
}

fn legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    items: &[(&str, RGBColor)],
) -> Result<(), String> {
    let mut x = 10i32;
    for (label, color) in items {
        area.draw(&Rectangle::new([(x, 8), (x + 14, 22)], color.filled()))
            .map_err(err)?;
        area.draw(&Text::new(
            label.to_string(),
            (x + 18, 15),
            TextStyle::from((FONT, 13).into_font())
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(err)?;
        x += 26 + (label.chars().count() as i32) * 7;
    }
    Ok(())
}

/// Draws the timeline: the SIP lane on top (a tick per message, labels where they fit),
/// then one lane per stream (what each party heard, what the recorder received).
pub(crate) fn timeline_svg(data: &TimelineData, sip: &[SipMessage]) -> PlotResult {
    const WIDTH: u32 = 1200;
    const LANE_PX: u32 = 34;
    const SIP_UNITS: f64 = 2.5;
    let n = data.lanes.len();
    let mut start_us = data.start_us;
    let mut end_us = data.end_us;
    for m in sip {
        start_us = start_us.min(m.t_us);
        end_us = end_us.max(m.t_us);
    }
    let (x0, x1) = x_range(start_us, end_us);
    let total = n as f64 + SIP_UNITS;
    let plot_h = (total * LANE_PX as f64).ceil() as u32;
    let height = plot_h + 50 + 40 + 34;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (upper, lower) = root.split_vertically(height - 34);
        let mut chart = ChartBuilder::on(&upper)
            .caption(
                "Call timeline: SIP, what each party heard, what the recorder received",
                (FONT, 20),
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(130)
            .build_cartesian_2d(x0..x1, 0f64..total)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .x_desc("time on the run clock (s)")
            .x_label_formatter(&|v| format!("{v:.1}"))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(err)?;
        // Lane k (0 = top stream lane) spans [n-k-1, n-k]; SIP spans [n, n+SIP_UNITS].
        let lane_y = |k: usize| ((n - k - 1) as f64, (n - k) as f64);
        let label_style = TextStyle::from((FONT, 14).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        // Lane separators and names.
        for k in 0..=n {
            let y = k as f64;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x0, y), (x1, y)],
                    RGBColor(0xee, 0xee, 0xee),
                )))
                .map_err(err)?;
        }
        let name_at = |name: &str, y: f64| -> Result<(), String> {
            let (px, py) = chart.backend_coord(&(x0, y));
            upper
                .draw(&Text::new(
                    crate::util::xml_safe(&crate::util::truncate(name, 18)),
                    (px - 8, py),
                    label_style.clone(),
                ))
                .map_err(err)
        };
        name_at("SIP", n as f64 + SIP_UNITS / 2.0)?;
        for (k, lane) in data.lanes.iter().enumerate() {
            let (a, b) = lane_y(k);
            name_at(lane, (a + b) / 2.0)?;
        }
        // Paused windows on the recorder lanes.
        let min_w = (x1 - x0) / 600.0;
        for (p0, p1) in &data.paused {
            for (k, lane) in data.lanes.iter().enumerate() {
                if lane.starts_with("srs.") {
                    let (a, b) = lane_y(k);
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(s(*p0), a + 0.05), ((s(*p1)).max(s(*p0) + min_w), b - 0.05)],
                            PAUSED.mix(0.6).filled(),
                        )))
                        .map_err(err)?;
                }
            }
        }
        // Segments, then detector events as narrower bands on top.
        for detail in [false, true] {
            chart
                .draw_series(
                    data.spans
                        .iter()
                        .filter(|sp| sp.detail == detail)
                        .map(|sp| {
                            let (a, b) = lane_y(sp.lane);
                            let (lo, hi) = match (detail, &sp.kind) {
                                (_, SpanKind::Silence) => (a + 0.15, a + 0.3),
                                (false, _) => (a + 0.2, b - 0.2),
                                (true, _) => (a + 0.32, b - 0.32),
                            };
                            let x_a = s(sp.start_us);
                            let x_b = s(sp.end_us).max(x_a + min_w);
                            let style = if detail {
                                sp.kind.color().filled().stroke_width(1)
                            } else {
                                sp.kind.color().mix(0.75).filled()
                            };
                            Rectangle::new([(x_a, lo), (x_b, hi)], style)
                        }),
                )
                .map_err(err)?;
        }
        // SIP ticks and labels (three rows; a label that would overlap is left out, the
        // ladder has them all).
        let tick_y = n as f64;
        let rows = [tick_y + 0.85, tick_y + 1.45, tick_y + 2.05];
        let mut row_end = [i32::MIN; 3];
        let (right_px, _) = chart.backend_coord(&(x1, tick_y));
        for m in sip {
            let color = match m.kind {
                Kind::Request => SIP_REQ,
                Kind::Response(c) if (200..300).contains(&c) => SIP_OK,
                Kind::Response(c) if c >= 300 => SIP_ERR,
                _ => SIP_OTHER,
            };
            let x = s(m.t_us);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, tick_y + 0.05), (x, tick_y + 0.55)],
                    color.stroke_width(2),
                )))
                .map_err(err)?;
            let label = crate::util::truncate(&m.label, 22);
            let width = label.chars().count() as i32 * 7;
            let (px, _) = chart.backend_coord(&(x, tick_y));
            // Near the right edge the label ends at the tick instead of starting there.
            let (left, hpos) = if px + width > right_px {
                (px - width, HPos::Right)
            } else {
                (px, HPos::Left)
            };
            if let Some(r) = (0..3).find(|r| row_end[*r] < left) {
                row_end[r] = left + width + 6;
                let (_, py) = chart.backend_coord(&(x, rows[r]));
                upper
                    .draw(&Text::new(
                        crate::util::xml_safe(&label),
                        (px, py),
                        TextStyle::from((FONT, 12).into_font())
                            .color(&color)
                            .pos(Pos::new(hpos, VPos::Center)),
                    ))
                    .map_err(err)?;
            }
        }
        let hz =
            |f: Option<f64>| f.map_or_else(|| "(unknown Hz)".to_owned(), |f| format!("{f:.0} Hz"));
        let reminder_label = format!("reminder tone {}", hz(data.freqs.reminder_hz));
        let beep_label = format!("beep {}", hz(data.freqs.beep_hz));
        legend(
            &lower,
            &[
                ("caller audio", CALLER),
                ("callee audio", CALLEE),
                ("announcement", ANNOUNCEMENT),
                (&reminder_label, REMINDER),
                (&beep_label, BEEP),
                ("other tone", TONE),
                ("unknown", UNKNOWN),
                ("silence", SILENCE),
                ("paused", PAUSED),
            ],
        )?;
        root.present().map_err(err)?;
    }
    Ok(buf)
}

/// Reminder intervals of one call.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ReminderData {
    /// Measured intervals per party (s), in order.
    pub(crate) intervals: Vec<(String, Vec<f64>)>,
    /// Configured interval and tolerance (s), from the call's expectation and the run's
    /// tolerances.
    pub(crate) configured: Option<(f64, f64)>,
}

impl ReminderData {
    /// True when there is nothing to plot.
    pub(crate) fn is_empty(&self) -> bool {
        self.intervals.iter().all(|(_, v)| v.is_empty())
    }
}

/// The reminder intervals the POL-06 check measured (its `reminder_interval.<party>`
/// measurements), and the configured interval with its tolerance: from the call's
/// expectation and the run's tolerances.
pub(crate) fn reminder_data(
    scenarios: &[&ScenarioResult],
    tolerances: &checks::Tolerances,
) -> ReminderData {
    let configured = scenarios
        .iter()
        .find_map(|s| s.expectation.as_ref()?.reminder_interval_s)
        .map(|i| (i, tolerances.reminder_interval_ms / 1e3));
    let mut intervals: Vec<(String, Vec<f64>)> = Vec::new();
    for v in scenarios
        .iter()
        .flat_map(|s| &s.verdicts)
        .filter(|v| v.requirement == "POL-06")
    {
        for m in &v.measurements {
            let Some(party) = m.name.strip_prefix("reminder_interval.") else {
                continue;
            };
            if !m.value.is_finite() {
                continue;
            }
            match intervals.iter_mut().find(|(p, _)| p == party) {
                Some((_, list)) => list.push(m.value),
                None => intervals.push((party.to_owned(), vec![m.value])),
            }
        }
    }
    ReminderData {
        intervals,
        configured,
    }
}

/// Draws each measured interval against the configured one and its tolerance band.
pub(crate) fn reminder_svg(data: &ReminderData) -> PlotResult {
    let n = data
        .intervals
        .iter()
        .map(|(_, v)| v.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let values = data.intervals.iter().flat_map(|(_, v)| v.iter().copied());
    let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if let Some((c, t)) = data.configured {
        lo = lo.min(c - t);
        hi = hi.max(c + t);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return Err("no intervals to plot".to_owned());
    }
    let pad = ((hi - lo) * 0.4).max(data.configured.map_or(0.05, |(_, t)| t * 1.5).max(0.01));
    // Head room above the data for the legend.
    let (y0, y1) = (lo - pad, hi + pad + (hi - lo + 2.0 * pad) * 0.6);
    let x_range = 0.5..(n as f64 + 0.5);
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (800, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let caption = match data.configured {
            Some((c, t)) => format!("Reminder-tone intervals (configured {c} s ± {t} s)"),
            None => "Reminder-tone intervals (configured interval unknown)".to_owned(),
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x_range.clone(), y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("interval number")
            .y_desc("interval (s)")
            .x_labels(n.min(20))
            .x_label_formatter(&|v| {
                if (v - v.round()).abs() < 1e-6 && *v >= 1.0 {
                    format!("{v:.0}")
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| format!("{v:.3}"))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(err)?;
        if let Some((c, t)) = data.configured {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x_range.start, c - t), (x_range.end, c + t)],
                    RGBColor(0x2c, 0xa0, 0x2c).mix(0.15).filled(),
                )))
                .map_err(err)?
                .label(format!("tolerance ± {t} s"))
                .legend(|(x, y)| {
                    Rectangle::new(
                        [(x, y - 5), (x + 14, y + 5)],
                        RGBColor(0x2c, 0xa0, 0x2c).mix(0.15).filled(),
                    )
                });
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x_range.start, c), (x_range.end, c)],
                    RGBColor(0x2c, 0xa0, 0x2c).stroke_width(2),
                )))
                .map_err(err)?
                .label(format!("configured {c} s"))
                .legend(|(x, y)| {
                    PathElement::new(
                        vec![(x, y), (x + 14, y)],
                        RGBColor(0x2c, 0xa0, 0x2c).stroke_width(2),
                    )
                });
        }
        for (i, (party, list)) in data.intervals.iter().enumerate() {
            let color = match party.as_str() {
                "caller" => CALLER,
                "callee" => CALLEE,
                _ => {
                    let (r, g, b) = Palette99::pick(i).to_rgba().rgb();
                    RGBColor(r, g, b)
                }
            };
            let offset = (i as f64 - 0.5) * 0.08;
            let pts: Vec<(f64, f64)> = list
                .iter()
                .enumerate()
                .map(|(k, v)| (k as f64 + 1.0 + offset, *v))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.mix(0.5).stroke_width(1)))
                .map_err(err)?;
            let conf = data.configured;
            chart
                .draw_series(pts.iter().map(|(x, y)| {
                    let out = conf.is_some_and(|(c, t)| (y - c).abs() > t + 1e-9);
                    let style = if out {
                        REMINDER.filled()
                    } else {
                        color.filled()
                    };
                    Circle::new((*x, *y), if out { 6 } else { 4 }, style)
                }))
                .map_err(err)?
                .label(format!("heard by the {}", crate::util::xml_safe(party)))
                .legend(move |(x, y)| Circle::new((x + 7, y), 4, color.filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(buf)
}

/// One row of the latency chart (values in ms).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LatencyRow {
    /// A distribution (min, p50, p95, max).
    Dist {
        label: String,
        min: f64,
        p50: f64,
        p95: f64,
        max: f64,
    },
    /// A single number.
    Value { label: String, ms: f64 },
}

impl LatencyRow {
    fn label(&self) -> &str {
        match self {
            Self::Dist { label, .. } | Self::Value { label, .. } => label,
        }
    }

    fn extent(&self) -> (f64, f64) {
        match self {
            Self::Dist { min, max, .. } => (*min, *max),
            Self::Value { ms, .. } => (ms.min(0.0), ms.max(0.0)),
        }
    }
}

/// The latency rows of a call: mouth-to-ear and party-to-recorder distributions from the
/// `party_frames` summaries, answer-to-media (RP-LATENCY) and front clipping (POL-01)
/// from the verdicts' measurements.
pub(crate) fn latency_rows(call: &CallLog, verdicts: &[&Verdict]) -> Vec<LatencyRow> {
    let mut rows = Vec::new();
    for o in &call.observations {
        if let Event::PartyFrames {
            stream,
            party,
            latency: Some(l),
            ..
        } = &o.event
        {
            let kind = if stream.starts_with("srs.") {
                "party-to-recorder"
            } else {
                "mouth-to-ear"
            };
            rows.push(LatencyRow::Dist {
                label: format!("{kind}: {party} on {stream}"),
                min: l.min_us as f64 / 1e3,
                p50: l.p50_us as f64 / 1e3,
                p95: l.p95_us as f64 / 1e3,
                max: l.max_us as f64 / 1e3,
            });
        }
    }
    rows.sort_by(|a, b| a.label().cmp(b.label()));
    for v in verdicts {
        let on = crate::results::measurement(v, "recording_on").map(|x| x > 0.5);
        for m in &v.measurements {
            let value = m.value;
            if !value.is_finite() {
                continue;
            }
            let ms = match m.unit.as_str() {
                "s" => value * 1e3,
                "us" | "µs" => value / 1e3,
                _ => value,
            };
            let label = if let Some(p) = m.name.strip_prefix("answer_to_media.") {
                match on {
                    Some(true) => format!("answer-to-media (recording on): {p}"),
                    Some(false) => format!("answer-to-media (recording off): {p}"),
                    None => format!("answer-to-media: {p}"),
                }
            } else if let Some(p) = m.name.strip_prefix("recording_added_delay.") {
                format!("delay added by recording: {p}")
            } else if let Some(st) = m.name.strip_prefix("front_clip.") {
                format!("front clipping: {st}")
            } else {
                continue;
            };
            rows.push(LatencyRow::Value { label, ms });
        }
    }
    rows
}

/// The run's latency across calls: for each kind of row (mouth-to-ear, party-to-recorder,
/// answer-to-media with and without recording, front clipping...), the distribution of
/// the per-call values (a distribution row contributes its p95), so a reader sees at a
/// glance whether recording adds start delay across the run.
pub(crate) fn run_latency_rows(per_call: &[Vec<LatencyRow>]) -> Vec<LatencyRow> {
    let mut kinds: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for rows in per_call {
        for row in rows {
            let kind = row
                .label()
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
            let v = match row {
                LatencyRow::Dist { p95, .. } => *p95,
                LatencyRow::Value { ms, .. } => *ms,
            };
            if v.is_finite() {
                kinds.entry(kind).or_default().push(v);
            }
        }
    }
    kinds
        .into_iter()
        .map(|(kind, mut values)| {
            values.sort_by(f64::total_cmp);
            let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
            let per = if kind.starts_with("mouth") || kind.starts_with("party") {
                "p95 per stream"
            } else if kind.starts_with("front") {
                "per stream"
            } else if kind.starts_with("answer") {
                "per party"
            } else {
                "per call"
            };
            LatencyRow::Dist {
                label: format!("{kind} ({per}, n={})", values.len()),
                min: values[0],
                p50: at(0.5),
                p95: at(0.95),
                max: values[values.len() - 1],
            }
        })
        .collect()
}

/// Draws the latency rows: a box from p50 to p95 with whiskers to min and max for the
/// distributions, a bar for the single numbers.
pub(crate) fn latency_svg(rows: &[LatencyRow]) -> PlotResult {
    if rows.is_empty() {
        return Err("no latency data".to_owned());
    }
    const ROW_PX: u32 = 30;
    let n = rows.len();
    let (lo, hi) = rows.iter().fold((0f64, 1f64), |(a, b), r| {
        let (x, y) = r.extent();
        (a.min(x), b.max(y))
    });
    let (x0, x1) = (lo - (hi - lo) * 0.02, hi + (hi - lo) * 0.05);
    let height = n as u32 * ROW_PX + 110;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (1000, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Latency (ms): box p50-p95, whiskers min-max; bars are single values",
                (FONT, 18),
            )
            .margin(12)
            .margin_right(200)
            .x_label_area_size(40)
            .y_label_area_size(320)
            .build_cartesian_2d(x0..x1, 0f64..n as f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .x_desc("milliseconds")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(err)?;
        let style = TextStyle::from((FONT, 13).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        let value_style = TextStyle::from((FONT, 12).into_font())
            .color(&RGBColor(0x33, 0x33, 0x33))
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (i, row) in rows.iter().enumerate() {
            let yc = (n - i) as f64 - 0.5;
            let (px, py) = chart.backend_coord(&(x0, yc));
            root.draw(&Text::new(
                crate::util::xml_safe(&crate::util::truncate(row.label(), 48)),
                (px - 8, py),
                style.clone(),
            ))
            .map_err(err)?;
            let (text, end) = match row {
                LatencyRow::Dist {
                    min, p50, p95, max, ..
                } => {
                    let color = if row.label().starts_with("party-to-recorder") {
                        BEEP
                    } else {
                        CALLER
                    };
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(*min, yc), (*max, yc)],
                            color.stroke_width(1),
                        )))
                        .map_err(err)?;
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(*p50, yc - 0.3), ((*p95).max(*p50), yc + 0.3)],
                            color.mix(0.6).filled(),
                        )))
                        .map_err(err)?;
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(*p50, yc - 0.35), (*p50, yc + 0.35)],
                            BLACK.stroke_width(2),
                        )))
                        .map_err(err)?;
                    (format!("p50 {p50:.1} · p95 {p95:.1} · max {max:.1}"), *max)
                }
                LatencyRow::Value { ms, .. } => {
                    let color = if row.label().starts_with("front") {
                        ANNOUNCEMENT
                    } else {
                        CALLEE
                    };
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(ms.min(0.0), yc - 0.25), (ms.max(0.0), yc + 0.25)],
                            color.mix(0.7).filled(),
                        )))
                        .map_err(err)?;
                    (format!("{ms:.1} ms"), ms.max(0.0))
                }
            };
            let (tx, ty) = chart.backend_coord(&(end, yc));
            root.draw(&Text::new(text, (tx + 6, ty), value_style.clone()))
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tones_are_named_by_the_calls_signals_and_unknown_ones_stay_unnamed() {
        assert_eq!(ToneFreqs::of(&[]), ToneFreqs::default());
        let f = ToneFreqs::default();
        assert_eq!(
            SpanKind::of_tone(1400.0, f),
            SpanKind::Tone,
            "no reference default"
        );
        let f = ToneFreqs {
            reminder_hz: Some(440.0),
            beep_hz: Some(850.0),
        };
        assert_eq!(SpanKind::of_tone(445.0, f), SpanKind::Reminder);
        assert_eq!(SpanKind::of_tone(850.0, f), SpanKind::Beep);
        assert_eq!(SpanKind::of_tone(1400.0, f), SpanKind::Tone);
    }

    #[test]
    fn run_latency_aggregates_each_kind_over_the_calls() {
        let call = |on: f64, m2e_p95: f64| {
            vec![
                LatencyRow::Dist {
                    label: "mouth-to-ear: caller on callee.heard".into(),
                    min: 1.0,
                    p50: 2.0,
                    p95: m2e_p95,
                    max: 99.0,
                },
                LatencyRow::Value {
                    label: "answer-to-media (recording on): caller".into(),
                    ms: on,
                },
            ]
        };
        let rows = run_latency_rows(&[call(10.0, 40.0), call(30.0, 60.0), call(20.0, 50.0)]);
        assert_eq!(rows.len(), 2);
        let LatencyRow::Dist {
            label,
            min,
            p50,
            max,
            ..
        } = &rows[0]
        else {
            panic!("{rows:?}")
        };
        assert!(label.starts_with("answer-to-media (recording on) (per party, n=3)"));
        assert_eq!((*min, *p50, *max), (10.0, 20.0, 30.0));
        let LatencyRow::Dist { min, max, .. } = &rows[1] else {
            panic!("{rows:?}")
        };
        assert_eq!(
            (*min, *max),
            (40.0, 60.0),
            "p95 of each stream, not its max"
        );
        assert!(run_latency_rows(&[]).is_empty());
    }

    #[test]
    fn degenerate_data_draws_or_errs_without_panic() {
        let r = ReminderData {
            intervals: vec![("caller".into(), vec![5.0])],
            configured: None,
        };
        assert!(reminder_svg(&r).is_ok());
        assert!(reminder_svg(&ReminderData::default()).is_err());
        assert!(latency_svg(&[]).is_err());
        let rows = vec![LatencyRow::Value {
            label: "<x>".into(),
            ms: 0.0,
        }];
        let svg = latency_svg(&rows).expect("draws");
        assert!(svg.contains("&lt;x&gt;"));
        assert!(timeline_svg(&TimelineData::default(), &[]).is_ok());
    }
}
