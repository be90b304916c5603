//! The SIP ladder diagram of a call, as hand-written SVG (plotters has no notion of a
//! sequence diagram): one column per address, ordered caller, platform (the system under
//! test), callee, recorder; one arrow per message in time order, labelled with its method
//! or status, with the first lines of the message as a hover title.
//!
//! This module owns the column assignment and the drawing; every piece of peer text goes
//! through [`crate::util::xml_escape`].

use crate::sip::SipMessage;
use crate::util::{secs, truncate, xml_escape};
use observe::Actor;
use std::fmt::Write as _;

/// Messages drawn at most; the rest are counted in a note.
pub(crate) const MAX_ROWS: usize = 400;

const COL_W: i64 = 200;
const LEFT: i64 = 110;
const TOP: i64 = 70;
const ROW_H: i64 = 26;

/// A column of the ladder.
#[derive(Debug, Clone, PartialEq)]
struct Column {
    role: &'static str,
    address: String,
}

fn role_rank(role: &str) -> u8 {
    match role {
        "caller" => 0,
        "platform" => 1,
        "callee" => 2,
        "recorder" => 3,
        _ => 4,
    }
}

/// Columns: each observing actor's local address is that actor's; every other address
/// is the platform's (the system under test) unless the log came from a capture.
fn columns(msgs: &[SipMessage]) -> Vec<Column> {
    let mut cols: Vec<Column> = Vec::new();
    let mut add = |role: &'static str, address: &str| {
        if !cols.iter().any(|c| c.address == address) {
            cols.push(Column {
                role,
                address: address.to_owned(),
            });
        }
    };
    for m in msgs {
        let role = match m.actor {
            Actor::Caller => "caller",
            Actor::Callee => "callee",
            Actor::Srs => "recorder",
            _ => continue,
        };
        add(role, if m.sent { &m.from } else { &m.to });
    }
    for m in msgs {
        let other = matches!(m.actor, Actor::Capture | Actor::Harness | Actor::Platform);
        for a in [&m.from, &m.to] {
            add(if other { "peer" } else { "platform" }, a);
        }
    }
    cols.sort_by_key(|c| role_rank(c.role));
    cols
}

fn color(class: &str) -> &'static str {
    match class {
        "req" => "#1f3b8f",
        "r1xx" => "#777777",
        "r2xx" => "#2c7a2c",
        "rerr" => "#c01f1f",
        _ => "#888888",
    }
}

/// Draws the ladder of `msgs` (in time order).
pub(crate) fn ladder_svg(msgs: &[SipMessage]) -> String {
    let cols = columns(msgs);
    let shown = &msgs[..msgs.len().min(MAX_ROWS)];
    let width = LEFT + COL_W * cols.len().max(1) as i64 + 40;
    let height = TOP + ROW_H * (shown.len() as i64 + 1) + 40;
    let x_of = |addr: &str| -> i64 {
        let i = cols.iter().position(|c| c.address == addr).unwrap_or(0);
        LEFT + COL_W * i as i64 + COL_W / 2
    };
    let mut o = String::with_capacity(300 + shown.len() * 400);
    let _ = write!(
        o,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">
<title>SIP ladder</title>
<defs>"##
    );
    for class in ["req", "r1xx", "r2xx", "rerr", "unk"] {
        let _ = write!(
            o,
            r##"<marker id="arrow-{class}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{}"/></marker>"##,
            color(class)
        );
    }
    let _ = write!(
        o,
        r##"</defs>
<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>
<text x="{LEFT}" y="20" font-size="15" font-weight="bold">SIP ladder ({} message(s))</text>
"##,
        msgs.len()
    );
    for (i, c) in cols.iter().enumerate() {
        let x = LEFT + COL_W * i as i64 + COL_W / 2;
        let _ = writeln!(
            o,
            r##"<text x="{x}" y="42" text-anchor="middle" font-weight="bold">{}</text><text x="{x}" y="58" text-anchor="middle" fill="#555555">{}</text><line x1="{x}" y1="{TOP}" x2="{x}" y2="{}" stroke="#bbbbbb" stroke-dasharray="4 3"/>"##,
            c.role,
            xml_escape(&truncate(&c.address, 30)),
            height - 20
        );
    }
    for (i, m) in shown.iter().enumerate() {
        let y = TOP + ROW_H * (i as i64 + 1);
        let (x1, x2) = (x_of(&m.from), x_of(&m.to));
        let class = m.class();
        let col = color(class);
        let title: String = m.text.lines().take(12).collect::<Vec<_>>().join("\n");
        let _ = write!(
            o,
            r##"<g class="msg {class}"><title>{}</title><text x="8" y="{}" fill="#555555">{}</text>"##,
            xml_escape(&truncate(&title, 1200)),
            y + 4,
            secs(m.t_us)
        );
        if x1 == x2 {
            let _ = write!(
                o,
                r##"<path d="M{x1},{} h30 v{} h-30" fill="none" stroke="{col}" stroke-width="1.5" marker-end="url(#arrow-{class})"/><text x="{}" y="{}" fill="{col}">{}</text>"##,
                y - 6,
                10,
                x1 + 34,
                y,
                xml_escape(&m.label)
            );
        } else {
            let _ = write!(
                o,
                r##"<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{col}" stroke-width="1.5" marker-end="url(#arrow-{class})"/><text x="{}" y="{}" text-anchor="middle" fill="{col}">{}</text>"##,
                (x1 + x2) / 2,
                y - 5,
                xml_escape(&m.label)
            );
        }
        o.push_str("</g>\n");
    }
    if msgs.len() > shown.len() {
        let _ = writeln!(
            o,
            r##"<text x="{LEFT}" y="{}" fill="#c01f1f">{} more message(s) not drawn; see the message list on the call page.</text>"##,
            height - 8,
            msgs.len() - shown.len()
        );
    }
    o.push_str("</svg>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use observe::{Event, Observation, Payload};

    #[test]
    fn columns_follow_roles_and_text_is_escaped() {
        let obs = vec![
            Observation {
                t_us: 1,
                call: Some("c".into()),
                actor: Actor::Caller,
                event: Event::SipSent {
                    transport: "udp".into(),
                    local: "10.0.0.11:5060".into(),
                    remote: "10.0.0.1:5060".into(),
                    message: Payload::Text("INVITE sip:x SIP/2.0\r\nX: <script>\r\n\r\n".into()),
                },
            },
            Observation {
                t_us: 2,
                call: Some("c".into()),
                actor: Actor::Srs,
                event: Event::SipReceived {
                    transport: "udp".into(),
                    local: "10.0.1.1:5060".into(),
                    remote: "10.0.0.1:5060".into(),
                    message: Payload::Text("<b>X SIP/2.0\r\n\r\n".into()),
                },
            },
        ];
        let msgs = crate::sip::messages(&obs);
        let cols = columns(&msgs);
        assert_eq!(
            cols.iter().map(|c| c.role).collect::<Vec<_>>(),
            vec!["caller", "platform", "recorder"]
        );
        let svg = ladder_svg(&msgs);
        assert!(!svg.contains("<script>"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("&lt;script&gt;"));
    }
}
