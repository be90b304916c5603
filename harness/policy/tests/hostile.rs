//! Hostile input: budgets stop alias bombs, deep nesting and huge files fast, and no
//! input makes `parse` panic.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use recproof_policy::{Rule, parse};

/// Generous for a debug build on a 2-core machine; the real cost is microseconds.
const FAST: Duration = Duration::from_secs(2);

/// The policy types are shallow and not recursive, so the strict schema rejects the
/// classic bomb at the first value of the wrong type, before any alias expands.
#[test]
fn billion_laughs_is_rejected_fast() {
    let mut text = String::from(
        "organization:\n  name: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = 'a';
    for name in ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] {
        let refs = vec![format!("*{prev}"); 9].join(",");
        text.push_str(&format!("x{name}: &{name} [{refs}]\n"));
        prev = name;
    }
    let start = Instant::now();
    let e = parse(&text, "bomb.yaml").expect_err("rejected");
    assert!(start.elapsed() < FAST, "took {:?}", start.elapsed());
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!((e.problems[0].at.line, e.problems[0].at.column), (2, 12));
}

#[test]
fn wide_alias_amplification_hits_the_budget() {
    // The amplification that does fit the schema: one anchored callRecording block reused
    // by very many people. Each alias replays the block; the per-anchor expansion budget
    // (10,000 uses) stops it.
    let mut text = String::from(
        "organization: {}\nproviders:\n  Dubber: { srs: \"sip:r@127.0.0.1\" }\nlocations: [{id: \
         hq}]\npeople:\n  - extension: \"1\"\n    location: hq\n    callRecording: &c { enabled: \
         true, record: Always, notification: { enabled: true }, repeat: { enabled: true } }\n",
    );
    for i in 0..30_000 {
        text.push_str(&format!(
            "  - {{ extension: \"{}\", location: hq, callRecording: *c }}\n",
            i + 2
        ));
    }
    let start = Instant::now();
    let e = parse(&text, "wide.yaml").expect_err("rejected");
    assert!(start.elapsed() < FAST * 5, "took {:?}", start.elapsed());
    assert!(e.has(Rule::ResourceLimit), "{e}");
    assert!(
        e.to_string().contains("alias expansion limit exceeded"),
        "{e}"
    );
}

#[test]
fn deep_nesting_is_rejected_without_stack_overflow() {
    let text = format!(
        "organization:\n  name: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let start = Instant::now();
    let e = parse(&text, "deep.yaml").expect_err("rejected");
    assert!(start.elapsed() < FAST, "took {:?}", start.elapsed());
    assert_eq!(e.problems.len(), 1, "{e}");
}

#[test]
fn oversized_text_is_refused_before_parsing() {
    let text = format!("organization: {{}}\n#{}\n", "x".repeat(5 * 1024 * 1024));
    let e = parse(&text, "big.yaml").expect_err("rejected");
    assert!(e.has(Rule::ResourceLimit), "{e}");
    assert_eq!(e.problems[0].at.line, 0);
}

const VALID: &str = include_str!("../../../scenarios/location-override.yaml");

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = parse(&text, "fuzz.yaml");
    }

    #[test]
    fn mutated_valid_policy_never_panics(
        pos in 0usize..VALID.len(),
        len in 0usize..40,
        insert in "[\\[\\]{}*&:#'\"\\- \\n!|>%@`a-zA-Z0-9]{0,8}",
    ) {
        let mut bytes = VALID.as_bytes().to_vec();
        let end = (pos + len).min(bytes.len());
        bytes.splice(pos..end, insert.bytes());
        if let Ok(text) = String::from_utf8(bytes) {
            match parse(&text, "mutated.yaml") {
                Ok(_) => {}
                // Every problem has a message and, when it has a line, a column.
                Err(e) => prop_assert!(e.problems.iter().all(|p| !p.message.is_empty()
                    && (p.at.line == 0 || p.at.column > 0))),
            }
        }
    }
}
