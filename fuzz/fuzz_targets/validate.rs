//! `validate::validate` on arbitrary bytes under both profiles.
//!
//! Asserts: no panic; an unreadable input yields at least one finding; evidence never
//! quotes more than the input holds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use recproof_siprec::Profile;
use recproof_siprec::validate::{InputKind, validate};

fuzz_target!(|data: &[u8]| {
    for profile in [Profile::RfcStrict, Profile::BroadworksCompat] {
        let report = validate(data, profile);
        assert_eq!(report.profile, profile);
        if report.kind == InputKind::Unreadable {
            assert!(
                !report.findings.is_empty(),
                "unreadable input without a finding"
            );
        }
        for f in &report.findings {
            let _ = f.to_string();
        }
        let _ = report.failed();
    }
});
