//! `recproof_import::import` over arbitrary bytes: a capture read into an observation log
//! (TCP reassembly, SIP classification into legs and calls, SDP-driven RTP streams, the
//! listeners' detectors), as `recproof judge CAPTURE.pcap` does with a file it was given.
//!
//! Asserts: no panic; the log opens with `run_started` and closes with `run_ended`, its
//! times never go backwards, and every call the importer reports has a `capture_imported`
//! line.

#![no_main]

use libfuzzer_sys::fuzz_target;
use recproof_import::{ImportConfig, import};

fuzz_target!(|data: &[u8]| {
    let cfg = ImportConfig {
        capture_name: "fuzz.pcap".into(),
        sut: vec!["10.0.0.1:5060".parse().expect("address")],
        ..ImportConfig::default()
    };
    let Ok(imported) = import(data, &cfg) else {
        return;
    };
    let obs = &imported.observations;
    assert!(matches!(
        obs.first().map(|o| &o.event),
        Some(recproof_observe::Event::RunStarted { .. })
    ));
    assert!(matches!(
        obs.last().map(|o| &o.event),
        Some(recproof_observe::Event::RunEnded { .. })
    ));
    assert!(obs[1..obs.len() - 1].windows(2).all(|w| w[0].t_us <= w[1].t_us));
    for c in &imported.calls {
        assert!(obs.iter().any(|o| o.call.as_deref() == Some(c.label.as_str())
            && matches!(o.event, recproof_observe::Event::CaptureImported { .. })));
    }
});
