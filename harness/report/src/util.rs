//! Small text helpers shared by the pages and plots: file-name slugs, URL path
//! encoding, time formatting, truncation and XML escaping for the hand-written SVG.

/// A file-system- and URL-safe name for a call label (`call-0001` stays as it is).
pub(crate) fn slug(label: &str) -> String {
    let s: String = label
        .chars()
        .take(80)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.chars().all(|c| c == '.') {
        format!("call_{}", s.len())
    } else {
        s
    }
}

/// Percent-encodes one path segment (a file name) for an `href`/`src`.
pub(crate) fn url_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// µs on the run clock as seconds with millisecond precision (`1.042 s`).
pub(crate) fn secs(t_us: u64) -> String {
    format!("{:.3} s", t_us as f64 / 1e6)
}

/// At most `max` characters, with an ellipsis when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Escapes text for XML/HTML content and attribute values.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Characters XML 1.0 does not allow at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Strips characters XML cannot carry (plotters escapes markup but not these).
pub(crate) fn xml_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if ((c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
                || matches!(c, '\u{FFFE}' | '\u{FFFF}')
            {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// Natural order for requirement IDs (`POL-2` before `POL-10`), then plain text.
pub(crate) fn requirement_key(id: &str) -> (u8, String, u64, String) {
    let group = match id.split('-').next().unwrap_or("") {
        "POL" => 0,
        "SRC" => 1,
        "SRS" => 2,
        "MD" => 3,
        "RP" => 4,
        _ => 5,
    };
    let (prefix, num) = match id.rsplit_once('-') {
        Some((p, n)) => match n.parse::<u64>() {
            Ok(n) => (p.to_owned(), n),
            Err(_) => (id.to_owned(), 0),
        },
        None => (id.to_owned(), 0),
    };
    (group, prefix, num, id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_urls_are_safe() {
        assert_eq!(slug("call-0001"), "call-0001");
        assert_eq!(slug("../etc/passwd"), ".._etc_passwd");
        assert_eq!(slug(".."), "call_2");
        assert_eq!(slug(""), "call_0");
        assert_eq!(url_segment("srs.1 a\"<.wav"), "srs.1%20a%22%3C.wav");
        assert_eq!(
            xml_escape("<a href='x'>&\u{1}"),
            "&lt;a href=&#39;x&#39;&gt;&amp;\u{FFFD}"
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
        let mut ids = vec!["SRC-2", "POL-10", "POL-2", "RP-LATENCY", "MD-01"];
        ids.sort_by_key(|i| requirement_key(i));
        assert_eq!(ids, vec!["POL-2", "POL-10", "SRC-2", "MD-01", "RP-LATENCY"]);
    }
}
