//! `SipMessage::parse` on arbitrary bytes, then every accessor.
//!
//! Asserts: no panic; for a parsed message the raw bytes are the input, and the body is
//! the slice of the input at `body_offset`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use recproof_sip::SipMessage;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = SipMessage::parse(data.to_vec()) else {
        return;
    };
    let _ = msg.start_line();
    let _ = (
        msg.method(),
        msg.status(),
        msg.request_uri(),
        msg.is_request(),
    );
    let _ = msg.call_id();
    let _ = msg.cseq();
    let _ = msg.from_header().map(|f| f.tag().map(str::to_owned));
    let _ = msg.to_header().map(|t| t.tag().map(str::to_owned));
    let _ = msg.contacts();
    let _ = msg.contact();
    let _ = msg.record_route();
    if let Ok(vias) = msg.vias() {
        for via in vias {
            let _ = (via.branch, via.port);
        }
    }
    let _ = msg.top_via();
    let _ = msg.header_list("Require");
    let _ = msg.header_list("Supported");
    let _ = msg.content_type();
    let _ = msg.to_string();
    if let Some(issue) = msg.length_issue() {
        let _ = issue.to_string();
    }
    for h in msg.headers() {
        assert!(
            h.offset < data.len(),
            "header offset {} out of bounds",
            h.offset
        );
    }

    assert_eq!(msg.raw().as_ref(), data, "raw() must be the input");
    let body = msg.body();
    assert!(body.len() <= data.len());
    let start = msg.body_offset();
    assert!(start + body.len() <= data.len(), "body beyond the input");
    assert_eq!(
        &data[start..start + body.len()],
        body.as_ref(),
        "body is not a sub-slice"
    );
});
