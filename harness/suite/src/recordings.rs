//! Reads what an external recorder wrote: the recordings of the sessions the harness SRC
//! opened, as the recorder's own account for SRS-12.
//!
//! # What this module owns
//!
//! [`import`]: after a recorder call, for every session the recorder answered 2xx, it
//! waits (bounded) for the recordings in the profile's `recordings.dir` whose names carry
//! that session's Call-ID: WAV files (one per stream, or one with a channel per stream)
//! and captures (pcap or pcapng, as rtpengine's `recording-method = pcap` writes one per
//! call). It decodes the instrumented party frames in each (every channel of a
//! multi-channel file, every RTP stream of a capture) and returns them as
//! [`Event::PartyFrames`] observations of [`Actor::Srs`], the same shape the embedded SRS
//! emulator logs. A stream is attributed only by what the recorder itself wrote:
//! - a WAV file by its name: the offered label it carries (`srs.<label>`) or the AoR user
//!   part of a participant (that participant's label); every channel of such a file is
//!   that label's recording;
//! - an RTP stream of a capture by the port it reached, which the recorder's own SDP
//!   answer gave one offered label;
//! - anything else is `srs.unattributed.<file>` (a multi-channel file naming nobody: one
//!   per channel, `#ch<k>`), so the check can see whether the parties were kept apart but
//!   not to whom the recorder tied them. The profile never says which file is which
//!   party.
//!
//! Each file read is copied beside the call's evidence as `recorder-<file>` (when the run
//! keeps evidence), so the report plays what the recorder wrote.
//!
//! It must not judge (`recproof_checks::recorder` does) nor touch the recorder's files.

use checks::recorder::RsAttempt;
use media::analysis::{AnalysisConfig, analyze_file};
use observe::{Actor, Event, Observation};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where an external recorder writes its recordings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingsDir {
    /// The directory (read only).
    pub dir: PathBuf,
    /// How long after a session ends its files may take to appear.
    pub wait: Duration,
}

/// The party names the harness SRC's streams carry, by m-line (stream 1 the caller's,
/// stream 2 the callee's).
const PARTIES: [&str; 2] = ["caller", "callee"];

/// Observations of what the recorder wrote for `sessions` (see the module docs), and a
/// line per problem (a file that could not be read) for the scenario's record.
pub fn import(
    rec: &RecordingsDir,
    sessions: &[RsAttempt],
    caller_aor: &str,
    callee_aor: &str,
    call: &str,
    copy_to: Option<&Path>,
) -> (Vec<Observation>, Vec<String>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let answered: Vec<&RsAttempt> = sessions
        .iter()
        .filter(|a| {
            a.final_response
                .as_ref()
                .is_some_and(|(c, _, _)| (200..300).contains(c))
        })
        .collect();
    let deadline = Instant::now() + rec.wait;
    for a in answered {
        let files = loop {
            let found = files_of(&rec.dir, &a.rs_call_id);
            if !found.is_empty() || Instant::now() >= deadline {
                break found;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let users = [user_part(caller_aor), user_part(callee_aor)];
        for file in files {
            // Kept beside the call's evidence as `recorder-<file>`, for the report's
            // players: what the recorder itself wrote.
            if let (Some(dir), Some(name)) = (copy_to, file.file_name()) {
                let target = dir.join(format!("recorder-{}", name.to_string_lossy()));
                if let Err(e) =
                    std::fs::create_dir_all(dir).and_then(|()| std::fs::copy(&file, &target))
                {
                    problems.push(format!("cannot keep {}: {e}", file.display()));
                }
            }
            let report = match analyze_file(&file, &AnalysisConfig::default()) {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!("{}: {e}", file.display()));
                    continue;
                }
            };
            let name = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let stream = stream_of(&name, &a.rs_call_id, &a.labels, &users);
            let answer_ports = answer_ports(a);
            for (k, s) in report.streams.iter().enumerate() {
                let stream = match &s.rtp {
                    // A capture (as rtpengine writes): each RTP stream is the label whose
                    // port the recorder's own SDP answer gave for it.
                    Some(rtp) => answer_ports
                        .iter()
                        .position(|p| *p == rtp.dst.port())
                        .and_then(|i| a.labels.get(i))
                        .map_or_else(
                            || format!("srs.unattributed.{name} {}", s.name),
                            |l| format!("srs.{l}"),
                        ),
                    // Several channels in a file that names a label: all of them are that
                    // label's recording. In a file that names none, each channel is a
                    // recording of its own, attributed to nobody.
                    None if report.streams.len() > 1 && stream.starts_with("srs.unattributed.") => {
                        format!("{stream}#ch{k}")
                    }
                    None => stream.clone(),
                };
                for p in &s.instrumented {
                    let party = PARTIES
                        .get(usize::from(p.party.0).wrapping_sub(1))
                        .copied()
                        .unwrap_or("unknown");
                    out.push(Observation {
                        t_us: a.invite_us.unwrap_or_default(),
                        call: Some(call.to_owned()),
                        actor: Actor::Srs,
                        event: Event::PartyFrames {
                            stream: stream.clone(),
                            party: party.to_owned(),
                            party_id: p.party.0,
                            frames: p.frames,
                            first_frame: p.first_frame,
                            last_frame: p.last_frame,
                            lost: p.lost,
                            duplicates: p.duplicates,
                            reordered: p.reordered,
                            front_clip_ms: p.front_clip_ms,
                            latency: None,
                        },
                    });
                }
            }
        }
    }
    (out, problems)
}

/// The RTP port the recorder's SDP answer gave each m-line (0 where it gave none).
fn answer_ports(a: &RsAttempt) -> Vec<u16> {
    a.final_response
        .as_ref()
        .and_then(|(_, _, m)| checks::timeline::sdp_of(&m.msg))
        .map(|media| media.iter().map(|m| m.port).collect())
        .unwrap_or_default()
}

/// Whether a file is a recording this module reads: WAV, or a capture (pcap, pcapng).
fn is_recording(path: &Path) -> bool {
    path.extension().is_some_and(|x| {
        ["wav", "pcap", "pcapng"]
            .iter()
            .any(|e| x.eq_ignore_ascii_case(e))
    })
}

/// The recordings in `dir` whose names carry the Call-ID (as written, with `/\:@` as
/// `_`, or its part before `@`).
fn files_of(dir: &Path, call_id: &str) -> Vec<PathBuf> {
    let sanitized = call_id.replace(['/', '\\', ':', '@'], "_");
    let head = call_id.split('@').next().unwrap_or(call_id);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            is_recording(p)
                && p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.contains(&sanitized) || (!head.is_empty() && n.contains(head))
                })
        })
        .collect();
    v.sort();
    v
}

/// The stream name of a file: `srs.<label>` for the offered label or participant it
/// names (after the Call-ID is taken out of the name), else `srs.unattributed.<name>`.
fn stream_of(name: &str, call_id: &str, labels: &[String], users: &[&str; 2]) -> String {
    let sanitized = call_id.replace(['/', '\\', ':', '@'], "_");
    let head = call_id.split('@').next().unwrap_or(call_id);
    let rest = name.replace(&sanitized, " ");
    let rest = if head.is_empty() {
        rest
    } else {
        rest.replace(head, " ")
    };
    let tokens: Vec<&str> = rest
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    if let Some(l) = labels.iter().find(|l| tokens.contains(&l.as_str())) {
        return format!("srs.{l}");
    }
    for (i, u) in users.iter().enumerate() {
        let digits = u.trim_start_matches('+');
        if !digits.is_empty()
            && tokens.contains(&digits)
            && let Some(l) = labels.get(i)
        {
            return format!("srs.{l}");
        }
    }
    format!("srs.unattributed.{name}")
}

/// `+15550100` of `sip:+15550100@example.com`.
fn user_part(aor: &str) -> &str {
    let s = aor
        .strip_prefix("sips:")
        .or_else(|| aor.strip_prefix("sip:"))
        .unwrap_or(aor);
    s.split('@').next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_attributed_by_the_label_or_the_participant_its_name_carries() {
        let labels = vec!["101".to_owned(), "102".to_owned()];
        let users = ["+15550100", "+15550200"];
        let id = "a1b2c3@127.0.0.1";
        assert_eq!(
            stream_of("a1b2c3_127.0.0.1-srs.101", id, &labels, &users),
            "srs.101"
        );
        assert_eq!(
            stream_of("rec-a1b2c3-15550200", id, &labels, &users),
            "srs.102"
        );
        assert_eq!(
            stream_of("a1b2c3-left", id, &labels, &users),
            "srs.unattributed.a1b2c3-left"
        );
        // A label inside the Call-ID does not count.
        assert_eq!(
            stream_of("x101y-mix", "x101y@h", &labels, &users),
            "srs.unattributed.x101y-mix"
        );
        assert_eq!(user_part("sip:+15550100@example.com"), "+15550100");
    }
}
