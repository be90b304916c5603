//! Reading the text with serde-saphyr: the safety budget and the translation of its
//! errors into [`Problem`]s.
//!
//! Owns the parser options. It must not know any policy rule; it only turns "could not
//! deserialize" into a positioned, actionable message. serde stops at the first
//! structural error, so this stage yields at most one problem; semantic problems are all
//! collected later by `validate`.

use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Error, MessageFormatter as _};

use crate::error::{Position, Problem, Rule};
use crate::raw::RawPolicy;

/// Largest policy file accepted, in bytes. A policy for thousands of people is well
/// under this; anything bigger is generated or hostile.
pub(crate) const MAX_INPUT_BYTES: usize = 4 * 1024 * 1024;

/// Parser options: one document, duplicate keys rejected, and budgets sized for config
/// files so that alias bombs and deep nesting fail in microseconds (see the `limits`
/// tests). Anchors and aliases stay usable for sharing a `callRecording:` block between
/// people.
fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_documents: 1,
            max_depth: 32,
            max_events: 1_000_000,
            max_nodes: 250_000,
            max_aliases: 20_000,
            max_anchors: 10_000,
            max_total_scalar_bytes: MAX_INPUT_BYTES,
            max_merge_keys: 1_000,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 500_000,
            max_replay_stack_depth: 16,
            max_alias_expansions_per_anchor: 10_000,
        },
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::Error,
        // Snippets repeat the file text inside every error; we print positions instead.
        with_snippet: false,
    }
}

/// Deserializes the raw policy, or explains the one structural problem that stopped it.
pub(crate) fn read(text: &str, origin: &str) -> Result<RawPolicy, Problem> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(Problem {
            at: Position::file(origin),
            rule: Rule::ResourceLimit,
            message: format!(
                "the file is {} bytes; policy files are limited to {MAX_INPUT_BYTES} bytes — \
                 split it or check that the right file was given",
                text.len()
            ),
        });
    }
    serde_saphyr::from_str_with_options::<RawPolicy>(text, options())
        .map_err(|e| translate(&e, origin))
}

/// Strips the wrappers serde-saphyr puts around the error that actually happened.
fn original(mut err: &Error) -> &Error {
    loop {
        match err {
            Error::WithSnippet { error, .. } | Error::AliasError { error, .. } => err = error,
            other => return other,
        }
    }
}

fn translate(err: &Error, origin: &str) -> Problem {
    let loc = err.location().or_else(|| original(err).location());
    let at = match loc {
        Some(l) if l.line() > 0 => Position {
            origin: origin.to_owned(),
            line: l.line(),
            column: l.column(),
        },
        _ => Position::file(origin),
    };
    let inner = original(err);
    let (rule, message) = match inner {
        Error::SerdeUnknownField {
            field, expected, ..
        } => {
            let hint = crate::validate::closest(field, expected.iter().copied())
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            (
                Rule::UnknownField,
                format!(
                    "unknown field `{field}` (known fields here: {}); {hint}field names are \
                     the Webex API's camelCase names, see scenarios/README.md",
                    expected.join(", ")
                ),
            )
        }
        Error::SerdeMissingField { field, .. } => (
            Rule::Syntax,
            format!("missing field `{field}`; add it (see scenarios/README.md for the format)"),
        ),
        Error::Budget {
            breach: BudgetBreach::Documents { .. },
            ..
        }
        | Error::MultipleDocuments { .. } => (
            Rule::Syntax,
            "more than one YAML document (`---`); a policy file holds exactly one — split it \
             into several files"
                .to_owned(),
        ),
        Error::Eof { .. } => (
            Rule::Syntax,
            "the file has no settings; a policy needs at least an `organization:` section (see \
             scenarios/README.md)"
                .to_owned(),
        ),
        Error::Budget { breach, .. } => (
            Rule::ResourceLimit,
            format!(
                "the file exceeds a parser safety budget ({breach:?}); policy files are small \
                 and shallow, so this is a generated or hostile file (for example an alias \
                 bomb) — write the settings out plainly"
            ),
        ),
        Error::AliasReplayLimitExceeded { .. }
        | Error::AliasExpansionLimitExceeded { .. }
        | Error::AliasReplayStackDepthExceeded { .. }
        | Error::AliasReplayCounterOverflow { .. } => (
            Rule::ResourceLimit,
            format!(
                "{}; YAML aliases expand to more than a policy file needs (an alias bomb?) — \
                 write the settings out plainly",
                plain_message(inner)
            ),
        ),
        Error::UnknownAnchor { .. } => (
            Rule::Syntax,
            "alias references an unknown anchor; a value that starts with `*` is a YAML alias, \
             so quote feature codes: `start: \"*44\"`"
                .to_owned(),
        ),
        Error::DuplicateMappingKey { .. } => (
            Rule::Duplicate,
            format!(
                "{}; each key may appear once — merge the two entries",
                plain_message(inner)
                    .trim_end_matches(", set DuplicateKeyPolicy in Options if acceptable")
            ),
        ),
        other => (
            Rule::Syntax,
            format!(
                "{}; fix the YAML here (see scenarios/README.md for the format)",
                plain_message(other)
            ),
        ),
    };
    Problem { at, rule, message }
}

/// serde-saphyr's own wording, without its location suffix and with control characters
/// escaped (its docs ask callers of `format_message` to sanitise).
fn plain_message(err: &Error) -> String {
    let msg = serde_saphyr::DefaultMessageFormatter.format_message(err);
    msg.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_debug().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}
