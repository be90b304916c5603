//! Which load call a recording session belongs to.
//!
//! One recorder (the harness's SRS emulator) records every call of a load run at once, so
//! each new recording session must be tied to its call before its first packet. The only
//! link a platform gives is the recording metadata: its participants' addresses of record
//! (RFC 7865 `<nameID aor=...>`; BroadWorks `<aor>`), which name the parties the harness
//! dialled from and to. Every open call uses its own caller number and callee extension,
//! so those addresses identify the call.
//!
//! Owns: [`CallDirectory`] (the open calls by their parties' numbers) and
//! [`CallDirectory::binder`], the SRS emulator's session binder over it. Numbers are
//! compared by their digits (a platform writes `+4722000123`, `tel:+47...`,
//! `sip:4722000123@host` or the bare extension), exactly first, then by the last
//! [`SUFFIX_DIGITS`] digits.
//!
//! Must not touch: sockets, clocks, judging.

use roles::media_io::{Detectors, MediaContext};
use roles::srs::{SessionBinder, SessionBinding};
use sip::message::SipMessage;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Digits of a number compared when no number matches exactly (national number length,
/// so `+47 22 00 01 23` and `22000123` meet).
pub const SUFFIX_DIGITS: usize = 8;

/// An open call, as the binder sees it.
#[derive(Debug, Clone)]
struct Entry {
    label: String,
    media: MediaContext,
    detectors: Detectors,
}

/// The open calls by the digits of their caller number and callee extension. A number
/// several open calls share (one caller number for every call, say) names none of them:
/// only a number that points to exactly one open call ties a session to it.
#[derive(Debug, Clone, Default)]
pub struct CallDirectory {
    inner: Arc<Mutex<HashMap<String, Vec<Entry>>>>,
}

/// The digits of a number or address (`sip:+4722000123@h` → `4722000123`); the user part
/// only, when it is a URI.
pub fn digits_of(address: &str) -> String {
    let user = address
        .trim()
        .trim_start_matches('<')
        .trim_start_matches("sips:")
        .trim_start_matches("sip:")
        .trim_start_matches("tel:");
    let user = user.split(['@', ';', '>']).next().unwrap_or("");
    user.chars().filter(char::is_ascii_digit).collect()
}

impl CallDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Entry>>> {
        // A poisoned lock only means a panic elsewhere; the map is still valid.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A call opens: its parties' numbers point to its label, media context and what its
    /// recorded streams look for.
    pub fn open(&self, label: &str, parties: &[&str], media: &MediaContext, detectors: &Detectors) {
        let mut map = self.lock();
        for p in parties {
            let d = digits_of(p);
            if !d.is_empty() {
                map.entry(d).or_default().push(Entry {
                    label: label.to_owned(),
                    media: media.clone(),
                    detectors: detectors.clone(),
                });
            }
        }
    }

    /// A call closed: its numbers no longer point anywhere.
    pub fn close(&self, label: &str, parties: &[&str]) {
        let mut map = self.lock();
        for p in parties {
            let d = digits_of(p);
            if let Some(v) = map.get_mut(&d) {
                v.retain(|e| e.label != label);
                if v.is_empty() {
                    map.remove(&d);
                }
            }
        }
    }

    /// The call one of these addresses names, if any.
    pub fn find(&self, addresses: &[String]) -> Option<SessionBinding> {
        let map = self.lock();
        let digits: Vec<String> = addresses.iter().map(|a| digits_of(a)).collect();
        let hit = |e: &Entry| SessionBinding {
            call_label: e.label.clone(),
            media: e.media.clone(),
            detectors: Some(e.detectors.clone()),
        };
        let only = |v: &Vec<Entry>| match v.as_slice() {
            [e] => Some(hit(e)),
            _ => None,
        };
        for d in digits.iter().filter(|d| !d.is_empty()) {
            if let Some(b) = map.get(d).and_then(only) {
                return Some(b);
            }
        }
        for d in digits.iter().filter(|d| d.len() >= SUFFIX_DIGITS) {
            let tail = &d[d.len() - SUFFIX_DIGITS..];
            if let Some(b) = map
                .iter()
                .filter(|(k, _)| k.len() >= SUFFIX_DIGITS && k.ends_with(tail))
                .find_map(|(_, v)| only(v))
            {
                return Some(b);
            }
        }
        None
    }

    /// The SRS emulator's binder over this directory: reads the participants of the RS
    /// INVITE's metadata and ties the session to the call they name.
    pub fn binder(&self) -> SessionBinder {
        let dir = self.clone();
        SessionBinder(Arc::new(move |invite: &SipMessage| {
            dir.find(&participant_aors(invite))
        }))
    }
}

/// The participants' addresses of record in an RS INVITE's metadata (either dialect),
/// and, as a fallback for a platform whose metadata is missing or unreadable, nothing:
/// such a session is tied to no call (and counted as such).
pub fn participant_aors(invite: &SipMessage) -> Vec<String> {
    let Some(ct) = invite.content_type() else {
        return Vec::new();
    };
    let body = invite.body();
    let mut docs: Vec<Vec<u8>> = Vec::new();
    let media_type = sip::multipart::media_type_of(ct);
    if media_type.starts_with("multipart/") {
        if let Ok(parsed) = sip::multipart::parse(ct, body) {
            for p in &parsed.parts {
                if p.media_type().is_some_and(|m| m.contains("rs-metadata")) {
                    docs.push(p.body.to_vec());
                }
            }
        }
    } else if media_type.contains("rs-metadata") {
        docs.push(body.to_vec());
    }
    let mut out = Vec::new();
    for d in docs {
        let Ok(doc) = siprec::metadata::parse(&d) else {
            continue;
        };
        let Some(rec) = doc.recording() else {
            continue;
        };
        for p in &rec.participants {
            for n in &p.name_ids {
                if let Some(a) = &n.aor {
                    out.push(a.clone());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_meet_by_digits_exactly_or_by_their_national_tail() {
        assert_eq!(digits_of("sip:+4722000123@10.0.0.1:5060"), "4722000123");
        assert_eq!(digits_of("tel:+47-22-00-01-23"), "4722000123");
        assert_eq!(digits_of("<sip:3000017@platform;user=phone>"), "3000017");
        let dir = CallDirectory::new();
        let ctx = MediaContext::with_default_signal().expect("signal");
        let det = Detectors::default();
        dir.open("call-7", &["+4722000123", "3000017"], &ctx, &det);
        dir.open("call-8", &["+4722000124", "3000018"], &ctx, &det);
        let find = |a: &str| dir.find(&[a.to_owned()]).map(|b| b.call_label);
        assert_eq!(find("sip:3000017@x").as_deref(), Some("call-7"));
        assert_eq!(find("tel:+4722000124").as_deref(), Some("call-8"));
        assert_eq!(find("sip:0022000124@pstn").as_deref(), Some("call-8"));
        assert_eq!(find("sip:999@x"), None);
        // A number two open calls share names neither; their own extensions still do.
        dir.open("call-9", &["+4722000001", "3000019"], &ctx, &det);
        dir.open("call-10", &["+4722000001", "3000020"], &ctx, &det);
        assert_eq!(find("tel:+4722000001"), None);
        let both = dir
            .find(&["tel:+4722000001".to_owned(), "sip:3000020@x".to_owned()])
            .map(|b| b.call_label);
        assert_eq!(both.as_deref(), Some("call-10"));
        dir.close("call-7", &["+4722000123", "3000017"]);
        assert_eq!(find("sip:3000017@x"), None);
    }
}
