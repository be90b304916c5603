//! The run's figures: counters and HdrHistograms, for the whole run and per interval
//! (the live status, `--stats-csv` and the plots over time).
//!
//! Owns: [`Figures`] (counts of calls by outcome and failure class, verdict failures per
//! check, packets, and histograms of setup time, mouth-to-ear latency, RTP send lateness
//! and call start lateness) and [`Stats`], which keeps one `Figures` for the run and one
//! for the current interval. Histograms record µs, 1 µs to 1 h, 3 significant digits.
//!
//! Must not touch: sockets, clocks, or how a call is judged (it counts what
//! [`crate::record`] decided).

use crate::record::CallRecord;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Highest value a histogram holds, µs (one hour).
pub const HIST_MAX_US: u64 = 3_600_000_000;

/// A histogram of µs values with the run's bounds.
pub fn new_histogram() -> Histogram<u64> {
    // Constant bounds hdrhistogram accepts (low 1, high >= 2 * low, 3 digits): this
    // cannot fail at run time.
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("constant histogram bounds")
}

/// Counts and distributions over some span of a run. `H` is how a distribution is held:
/// a live [`Histogram`] while the run counts, or its stored form
/// ([`crate::results::HistogramData`]) in the result files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures<H = Histogram<u64>> {
    /// Calls whose INVITE left.
    pub started: u64,
    /// Calls whose INVITE got a 2xx.
    pub answered: u64,
    /// Calls that ended (passed or failed).
    pub ended: u64,
    /// Calls that passed.
    pub passed: u64,
    /// Failed calls by failure class (`timeout`, `rejected 503`...).
    pub failed_by_class: BTreeMap<String, u64>,
    /// Calls with a failed check, per check id.
    pub failed_checks: BTreeMap<String, u64>,
    /// Calls with a failed verdict, per requirement ID (`POL-04`, `RP-CALL`...).
    pub failed_requirements: BTreeMap<String, u64>,
    /// Ended calls the policy expected to be recorded.
    pub recording_expected: u64,
    /// Of those, calls whose recording was judged present and complete (every recording
    /// verdict passed).
    pub recorded_ok: u64,
    /// RTP packets sent.
    pub rtp_sent: u64,
    /// Datagrams received on RTP ports.
    pub rtp_received: u64,
    /// SIP messages sent.
    pub sip_sent: u64,
    /// SIP datagrams received.
    pub sip_received: u64,
    /// Datagrams the driver could not send (socket buffer full or an error).
    pub send_errors: u64,
    /// INVITE to 2xx, µs.
    pub setup_us: H,
    /// Mouth-to-ear latency of every decoded frame, µs.
    pub mouth_to_ear_us: H,
    /// How late each RTP packet left against its schedule, µs.
    pub send_lateness_us: H,
    /// How late each call started against its due time, µs.
    pub start_lateness_us: H,
    /// Answer to the first party media heard, per party, µs.
    pub answer_to_media_us: H,
    /// Party-to-recorder latency of every recorded frame, µs.
    pub party_to_recorder_us: H,
}

impl<H> Figures<H> {
    /// The same counts with every distribution converted by `f`.
    pub fn map<T>(&self, f: impl Fn(&H) -> T) -> Figures<T> {
        Figures {
            started: self.started,
            answered: self.answered,
            ended: self.ended,
            passed: self.passed,
            failed_by_class: self.failed_by_class.clone(),
            failed_checks: self.failed_checks.clone(),
            failed_requirements: self.failed_requirements.clone(),
            recording_expected: self.recording_expected,
            recorded_ok: self.recorded_ok,
            rtp_sent: self.rtp_sent,
            rtp_received: self.rtp_received,
            sip_sent: self.sip_sent,
            sip_received: self.sip_received,
            send_errors: self.send_errors,
            setup_us: f(&self.setup_us),
            mouth_to_ear_us: f(&self.mouth_to_ear_us),
            send_lateness_us: f(&self.send_lateness_us),
            start_lateness_us: f(&self.start_lateness_us),
            answer_to_media_us: f(&self.answer_to_media_us),
            party_to_recorder_us: f(&self.party_to_recorder_us),
        }
    }

    /// Failed calls in all.
    pub fn failed(&self) -> u64 {
        self.failed_by_class.values().sum()
    }
}

impl Default for Figures {
    fn default() -> Self {
        Self {
            started: 0,
            answered: 0,
            ended: 0,
            passed: 0,
            failed_by_class: BTreeMap::new(),
            failed_checks: BTreeMap::new(),
            failed_requirements: BTreeMap::new(),
            recording_expected: 0,
            recorded_ok: 0,
            rtp_sent: 0,
            rtp_received: 0,
            sip_sent: 0,
            sip_received: 0,
            send_errors: 0,
            setup_us: new_histogram(),
            mouth_to_ear_us: new_histogram(),
            send_lateness_us: new_histogram(),
            start_lateness_us: new_histogram(),
            answer_to_media_us: new_histogram(),
            party_to_recorder_us: new_histogram(),
        }
    }
}

impl Figures {
    /// Back to zero, keeping the histograms' memory.
    pub fn reset(&mut self) {
        self.started = 0;
        self.answered = 0;
        self.ended = 0;
        self.passed = 0;
        self.failed_by_class.clear();
        self.failed_checks.clear();
        self.failed_requirements.clear();
        self.recording_expected = 0;
        self.recorded_ok = 0;
        self.rtp_sent = 0;
        self.rtp_received = 0;
        self.sip_sent = 0;
        self.sip_received = 0;
        self.send_errors = 0;
        for h in [
            &mut self.setup_us,
            &mut self.mouth_to_ear_us,
            &mut self.send_lateness_us,
            &mut self.start_lateness_us,
            &mut self.answer_to_media_us,
            &mut self.party_to_recorder_us,
        ] {
            h.reset();
        }
    }

    /// Counts an ended (and judged) call: its outcome, the checks and requirements that
    /// failed it, its recording, its setup time and latency figures.
    pub fn count_call(&mut self, rec: &CallRecord) {
        self.ended += 1;
        if let Some(ms) = rec.setup_ms {
            self.answered += 1;
            self.setup_us
                .saturating_record(((ms * 1000.0).max(1.0)) as u64);
        }
        for (h, values) in [
            (
                &mut self.answer_to_media_us,
                &rec.latency.answer_to_media_us,
            ),
            (&mut self.mouth_to_ear_us, &rec.latency.mouth_to_ear_p95_us),
            (
                &mut self.party_to_recorder_us,
                &rec.latency.party_to_recorder_p95_us,
            ),
        ] {
            for &v in values {
                h.saturating_record(v.max(1));
            }
        }
        match &rec.failure {
            None => self.passed += 1,
            Some(f) => *self.failed_by_class.entry(f.class_key()).or_default() += 1,
        }
        let mut requirements: Vec<&str> = Vec::new();
        for c in rec.checks.iter().filter(|c| c.fails_call) {
            *self.failed_checks.entry(c.id.clone()).or_default() += 1;
            if let Some(r) = c.requirement.as_deref()
                && !requirements.contains(&r)
            {
                requirements.push(r);
            }
        }
        for r in requirements {
            *self.failed_requirements.entry(r.to_owned()).or_default() += 1;
        }
        if let Some(ok) = rec.recording_ok {
            self.recording_expected += 1;
            self.recorded_ok += u64::from(ok);
        }
    }

    /// Adds `other` into `self` (counts summed, histograms merged losslessly).
    pub fn merge(&mut self, other: &Figures) {
        self.started += other.started;
        self.answered += other.answered;
        self.ended += other.ended;
        self.passed += other.passed;
        for (k, v) in &other.failed_by_class {
            *self.failed_by_class.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.failed_checks {
            *self.failed_checks.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.failed_requirements {
            *self.failed_requirements.entry(k.clone()).or_default() += v;
        }
        self.recording_expected += other.recording_expected;
        self.recorded_ok += other.recorded_ok;
        self.rtp_sent += other.rtp_sent;
        self.rtp_received += other.rtp_received;
        self.sip_sent += other.sip_sent;
        self.sip_received += other.sip_received;
        self.send_errors += other.send_errors;
        // Same bounds on both sides, so `add` cannot fail.
        let _ = self.setup_us.add(&other.setup_us);
        let _ = self.mouth_to_ear_us.add(&other.mouth_to_ear_us);
        let _ = self.send_lateness_us.add(&other.send_lateness_us);
        let _ = self.start_lateness_us.add(&other.start_lateness_us);
        let _ = self.answer_to_media_us.add(&other.answer_to_media_us);
        let _ = self.party_to_recorder_us.add(&other.party_to_recorder_us);
    }

    /// The quantile summary of a histogram, in ms.
    pub fn summary(h: &Histogram<u64>) -> Option<Quantiles> {
        (!h.is_empty()).then(|| Quantiles {
            count: h.len(),
            p50_ms: h.value_at_quantile(0.50) as f64 / 1000.0,
            p95_ms: h.value_at_quantile(0.95) as f64 / 1000.0,
            p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
            max_ms: h.max() as f64 / 1000.0,
        })
    }
}

/// p50/p95/p99/max of a distribution, ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quantiles {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Highest.
    pub max_ms: f64,
}

/// The run's figures and the current interval's.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Since the start of the run.
    pub total: Figures,
    /// Since the last [`Stats::take_interval`].
    pub interval: Figures,
}

impl Stats {
    /// Applies `f` to both the run's and the interval's figures.
    pub fn both(&mut self, f: impl Fn(&mut Figures)) {
        f(&mut self.total);
        f(&mut self.interval);
    }

    /// Counts a call started `lateness` behind its due time, in both spans.
    pub fn count_start(&mut self, lateness: std::time::Duration) {
        self.both(|f| f.started += 1);
        self.record(
            |f| &mut f.start_lateness_us,
            u64::try_from(lateness.as_micros()).unwrap_or(u64::MAX),
        );
    }

    /// Records a value (µs) in the histogram `pick` selects, in both spans.
    pub fn record(&mut self, pick: fn(&mut Figures) -> &mut Histogram<u64>, us: u64) {
        pick(&mut self.total).saturating_record(us.max(1));
        pick(&mut self.interval).saturating_record(us.max(1));
    }

    /// The interval's figures, starting a new interval. The interval's histograms are
    /// emptied in place (no allocation on the loop's thread) and handed out sparse.
    pub fn take_interval(&mut self) -> crate::results::FiguresData {
        let data = crate::results::FiguresData::of(&self.interval);
        self.interval.reset();
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{CallCheck, Failure, Verdict};

    fn rec(failure: Option<Failure>, failed_check: Option<&str>) -> CallRecord {
        CallRecord {
            checks: failed_check
                .map(|id| CallCheck::own(id, Verdict::Fail, ""))
                .into_iter()
                .collect(),
            failure,
            ..CallRecord::started(0, 0.0, 0.0)
        }
    }

    #[test]
    fn calls_are_counted_by_class_and_check_and_merge_adds_up() {
        let mut s = Stats::default();
        let both = |s: &mut Stats, r: CallRecord| {
            s.total.count_call(&r);
            s.interval.count_call(&r);
        };
        both(&mut s, rec(None, None));
        both(&mut s, rec(Some(Failure::Rejected { code: 503 }), None));
        both(
            &mut s,
            rec(
                Some(Failure::Verdict {
                    checks: vec!["media.front[caller->callee]".into()],
                }),
                Some("media.front[caller->callee]"),
            ),
        );
        s.record(|f| &mut f.setup_us, 1_500);
        let i = s.take_interval().figures();
        assert_eq!((i.ended, i.passed, i.failed()), (3, 1, 2));
        assert_eq!(i.failed_by_class.get("rejected 503"), Some(&1));
        assert_eq!(i.failed_checks.get("media.front[caller->callee]"), Some(&1));
        assert_eq!(s.interval.ended, 0, "a new interval starts empty");
        let mut merged = Figures::default();
        merged.merge(&s.total);
        merged.merge(&s.total);
        assert_eq!((merged.ended, merged.failed()), (6, 4));
        assert_eq!(merged.setup_us.len(), 2);
        let q = Figures::summary(&merged.setup_us).expect("values");
        assert!((q.p50_ms - 1.5).abs() < 0.01, "{q:?}");
    }
}
