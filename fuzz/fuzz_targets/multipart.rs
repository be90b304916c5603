//! `multipart::parse` on an arbitrary body under a fuzzer-chosen Content-Type, then a
//! Builder round trip of whatever parts came out.
//!
//! Input layout: byte 0 picks the Content-Type shape; for the `boundary=` shapes (4 and 5)
//! the next byte is the boundary length `n` (0..=15) and the next `n` bytes are the
//! boundary; the rest is the body.
//!
//! Asserts: no panic; part offsets within the body; at most `MAX_PARTS + 1` parts; when
//! the parse is clean (1..=`MAX_PARTS` parts; a printable boundary without quote,
//! backslash or `;` that occurs in no part header or body; printable part headers; no
//! part body ending in CR) a body rebuilt with `Builder` in both styles parses to the same
//! number of parts with the same bodies.

#![no_main]

use libfuzzer_sys::fuzz_target;
use recproof_sip::multipart::{self, Builder, Parsed, Style};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (content_type, body) = match selector % 6 {
        0 => ("multipart/mixed;boundary=b".to_owned(), rest),
        1 => (
            "multipart/mixed; boundary=\"unique-boundary-1\"".to_owned(),
            rest,
        ),
        2 => ("application/sdp".to_owned(), rest),
        3 => ("multipart/mixed".to_owned(), rest),
        _ => {
            let Some((&n, rest)) = rest.split_first() else {
                return;
            };
            let n = usize::from(n % 16).min(rest.len());
            let (boundary, body) = rest.split_at(n);
            let boundary = String::from_utf8_lossy(boundary);
            let ct = if selector % 6 == 4 {
                format!("multipart/mixed;boundary={boundary}")
            } else {
                format!("multipart/mixed; boundary=\"{boundary}\"")
            };
            (ct, body)
        }
    };
    let Ok(parsed) = multipart::parse(&content_type, body) else {
        return;
    };
    assert!(parsed.parts.len() <= multipart::MAX_PARTS + 1);
    for part in &parsed.parts {
        assert!(
            part.offset <= body.len(),
            "part offset {} beyond {}",
            part.offset,
            body.len()
        );
        let _ = (part.media_type(), part.disposition(), part.is_metadata());
        let _ = part.header("Content-Type");
    }
    let _ = (parsed.sdp(), parsed.metadata());
    if clean(&parsed) {
        round_trip(&parsed);
    }
});

/// Whether the parts can be rebuilt without the boundary or a line end being confused
/// with content. A body with no parts is left out too: the builder's lone close delimiter
/// reads back as one empty part.
fn clean(parsed: &Parsed) -> bool {
    let boundary = parsed.boundary.as_str();
    let printable = |s: &str| s.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
    (1..=multipart::MAX_PARTS).contains(&parsed.parts.len())
        && boundary.len() <= 70
        && boundary
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b';'))
        && parsed.parts.iter().all(|p| {
            !p.body
                .windows(boundary.len())
                .any(|w| w == boundary.as_bytes())
                && p.body.last() != Some(&b'\r')
                && p.headers.iter().all(|(n, v)| {
                    !n.is_empty()
                        && n.bytes().all(|b| b.is_ascii_graphic() && b != b':')
                        && printable(v)
                        && !n.contains(boundary)
                        && !v.contains(boundary)
                })
        })
}

fn round_trip(parsed: &Parsed) {
    let boundary = parsed.boundary.as_str();
    for style in [
        Style::default(),
        Style {
            space_after_colon: false,
            line_end: "\n",
        },
    ] {
        let mut b = Builder::new().style(style);
        for p in &parsed.parts {
            let headers: Vec<(&str, &str)> = p
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            b = b.part(&headers, p.body.to_vec());
        }
        let rebuilt = b.build(boundary);
        let ct = format!("multipart/mixed;boundary=\"{boundary}\"");
        let again = multipart::parse(&ct, &rebuilt).unwrap_or_else(|e| {
            panic!(
                "rebuilt body does not parse: {e}\n{:?}",
                String::from_utf8_lossy(&rebuilt)
            )
        });
        assert_eq!(again.parts.len(), parsed.parts.len(), "part count changed");
        for (a, b) in again.parts.iter().zip(&parsed.parts) {
            assert_eq!(a.body, b.body, "part body changed");
        }
    }
}
