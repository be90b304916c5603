//! `metadata::parse` on arbitrary bytes, then the single-document rules under both
//! profiles, the evidence helpers, and a write/re-read round trip.
//!
//! Asserts: no panic; a parse error still makes a finding; `check_document` runs on
//! anything `parse` accepted; a recording written back with `to_xml` parses again as a
//! recording.

#![no_main]

use libfuzzer_sys::fuzz_target;
use recproof_siprec::Profile;
use recproof_siprec::metadata;

fuzz_target!(|data: &[u8]| {
    let doc = match metadata::parse(data) {
        Ok(doc) => doc,
        Err(e) => {
            let _ = metadata::parse_error_finding(&e, data, 0).to_string();
            return;
        }
    };
    for profile in [Profile::RfcStrict, Profile::BroadworksCompat] {
        for f in metadata::check_document(&doc, profile, None) {
            let _ = f.to_string();
        }
    }
    let _ = metadata::facts(&doc);
    let _ = doc.stream_label_evidence();
    let _ = doc.send_evidence();
    if let Some(recording) = doc.recording() {
        let xml = metadata::to_xml(recording, doc.dialect);
        let again = metadata::parse(xml.as_bytes())
            .unwrap_or_else(|e| panic!("written metadata does not parse again: {e}\n{xml}"));
        assert!(
            again.recording().is_some(),
            "rewritten recording read back as {:?}",
            again.body
        );
    }
    if let Some(request) = doc.snapshot_request() {
        let xml = metadata::snapshot_request_to_xml(request);
        let again = metadata::parse(xml.as_bytes()).unwrap_or_else(|e| {
            panic!("written snapshot request does not parse again: {e}\n{xml}")
        });
        assert!(
            again.snapshot_request().is_some(),
            "rewritten request read back as {:?}",
            again.body
        );
    }
});
