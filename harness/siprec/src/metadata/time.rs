//! `xs:dateTime` values as RFC 7865 uses them (`start-time`, `associate-time`, …).
//!
//! The model keeps the text as it was written ([`XsDateTime`]) so a document round-trips
//! and evidence shows what the peer sent; [`XsDateTime::value`] checks it. The lexical form
//! is checked by hand because jiff's parser is deliberately more lenient than
//! `xs:dateTime` (it takes a space instead of `T`, bracketed time-zone annotations, …);
//! the value itself (valid day of month, range) is then checked by jiff.

use serde::Serialize;
use std::cmp::Ordering;

/// An `xs:dateTime` as written in the document (whitespace collapsed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct XsDateTime(pub String);

/// What an [`XsDateTime`] denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeValue {
    /// The text carries a time zone (`Z` or an offset): an instant.
    Instant(jiff::Timestamp),
    /// No time zone: a wall-clock time whose instant is unknown (MD-13 WARN).
    Local(jiff::civil::DateTime),
}

impl TimeValue {
    /// True when the text carried `Z` or an offset.
    pub fn has_timezone(&self) -> bool {
        matches!(self, Self::Instant(_))
    }

    /// Orders two values when that is meaningful: two instants, or two local times (taken
    /// to share a time zone). An instant and a local time cannot be ordered.
    pub fn partial_cmp_with(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Self::Instant(a), Self::Instant(b)) => Some(a.cmp(b)),
            (Self::Local(a), Self::Local(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

/// Why an [`XsDateTime`] is not a usable time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// The text does not have the `xs:dateTime` shape.
    #[error(
        "`{text}` is not an xs:dateTime (expected YYYY-MM-DDThh:mm:ss[.fraction][Z|+hh:mm|-hh:mm])"
    )]
    Lexical {
        /// The text as written.
        text: String,
    },
    /// The shape is right but the date or time does not exist (e.g. 30 February), or lies
    /// outside the years jiff supports (-9999..=9999).
    #[error("`{text}` is not a valid date and time: {reason}")]
    Value {
        /// The text as written.
        text: String,
        /// jiff's explanation.
        reason: String,
    },
}

impl XsDateTime {
    /// Wraps text.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The RFC 3339 form of an instant, in UTC with `Z` (what recproof itself sends).
    pub fn from_timestamp(ts: jiff::Timestamp) -> Self {
        Self(ts.to_string())
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks the text and returns its value.
    pub fn value(&self) -> Result<TimeValue, TimeError> {
        let text = self.0.as_str();
        let lexical = lex(text).ok_or_else(|| TimeError::Lexical {
            text: text.to_owned(),
        })?;
        // jiff takes at most nanoseconds; extra fraction digits are cut, not rounded.
        let canonical = match lexical.fraction {
            Some((start, end)) if end - start > 9 => {
                let head = text.get(..start + 9).unwrap_or(text);
                let tail = text.get(end..).unwrap_or("");
                format!("{head}{tail}")
            }
            _ => text.to_owned(),
        };
        let value_err = |reason: String| TimeError::Value {
            text: text.to_owned(),
            reason,
        };
        if lexical.has_tz {
            canonical
                .parse::<jiff::Timestamp>()
                .map(TimeValue::Instant)
                .map_err(|e| value_err(e.to_string()))
        } else {
            canonical
                .parse::<jiff::civil::DateTime>()
                .map(TimeValue::Local)
                .map_err(|e| value_err(e.to_string()))
        }
    }
}

impl From<jiff::Timestamp> for XsDateTime {
    fn from(ts: jiff::Timestamp) -> Self {
        Self::from_timestamp(ts)
    }
}

struct Lexical {
    has_tz: bool,
    /// Byte range of the fraction digits, if any.
    fraction: Option<(usize, usize)>,
}

/// `-?YYYY-MM-DDThh:mm:ss(.s+)?(Z|(+|-)hh:mm)?` (XML Schema 1.1 Part 2 §3.3.7.2).
fn lex(s: &str) -> Option<Lexical> {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let year_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let year_len = i - year_start;
    if year_len < 4 || (year_len > 4 && b.get(year_start) == Some(&b'0')) {
        return None;
    }
    let eat = |i: &mut usize, c: u8| -> Option<()> { (b.get(*i) == Some(&c)).then(|| *i += 1) };
    let digits2 = |i: &mut usize| -> Option<()> {
        (b.get(*i).is_some_and(u8::is_ascii_digit) && b.get(*i + 1).is_some_and(u8::is_ascii_digit))
            .then(|| *i += 2)
    };
    eat(&mut i, b'-')?;
    digits2(&mut i)?;
    eat(&mut i, b'-')?;
    digits2(&mut i)?;
    eat(&mut i, b'T')?;
    digits2(&mut i)?;
    eat(&mut i, b':')?;
    digits2(&mut i)?;
    eat(&mut i, b':')?;
    digits2(&mut i)?;
    let mut fraction = None;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        fraction = Some((start, i));
    }
    let has_tz = match b.get(i) {
        None => false,
        Some(b'Z') => {
            i += 1;
            true
        }
        Some(b'+' | b'-') => {
            i += 1;
            digits2(&mut i)?;
            eat(&mut i, b':')?;
            digits2(&mut i)?;
            true
        }
        Some(_) => return None,
    };
    (i == b.len()).then_some(Lexical { has_tz, fraction })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_xs_datetime_shapes() {
        for ok in [
            "2025-01-15T10:00:00Z",
            "2024-05-13T03:55:43+00:00",
            "2017-03-29T13:56:13-04:00",
            "2016-05-06T07:57:48.526Z",
            "2025-01-15T10:00:00.1234567891Z",
        ] {
            let v = XsDateTime::new(ok).value();
            assert!(matches!(v, Ok(TimeValue::Instant(_))), "{ok}: {v:?}");
        }
        assert!(matches!(
            XsDateTime::new("2025-01-15T10:00:00").value(),
            Ok(TimeValue::Local(_))
        ));
    }

    #[test]
    fn rejects_what_xs_datetime_rejects() {
        for bad in [
            "2025-01-15 10:00:00Z",
            "2025-01-15T10:00Z",
            "2025-01-15",
            "25-01-15T10:00:00Z",
            "2025-01-15T10:00:00z",
            "2025-01-15T10:00:00+0100",
            "2025-01-15T10:00:00.Z",
            "02025-01-15T10:00:00Z",
            "",
        ] {
            assert!(
                matches!(XsDateTime::new(bad).value(), Err(TimeError::Lexical { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            XsDateTime::new("2025-02-30T10:00:00Z").value(),
            Err(TimeError::Value { .. })
        ));
    }

    #[test]
    fn orders_instants_across_offsets() {
        let a = XsDateTime::new("2025-01-15T10:00:00Z").value().ok();
        let b = XsDateTime::new("2025-01-15T11:30:00+01:00").value().ok();
        let (Some(a), Some(b)) = (a, b) else {
            panic!("both parse");
        };
        assert_eq!(a.partial_cmp_with(&b), Some(Ordering::Less));
        let local = XsDateTime::new("2025-01-15T10:00:00").value().ok();
        assert_eq!(local.and_then(|l| l.partial_cmp_with(&a)), None);
    }
}
