//! Parse plus validate a 2-4 KB SIPREC INVITE (issue 2's figure).
//!
//! Run: `cargo bench -p recproof-benches --bench sip_validate`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn vector(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../harness/siprec/tests/data/validate/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("siprec_invite");
    for (name, profile) in [
        ("rfc_initial_invite.sip", siprec::Profile::RfcStrict),
        (
            "webex_initial_invite.sip",
            siprec::Profile::BroadworksCompat,
        ),
    ] {
        let bytes = vector(name);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(format!("parse_only/{name}"), |b| {
            b.iter(|| sip::SipMessage::parse(black_box(bytes.clone())))
        });
        group.bench_function(format!("parse_and_validate/{name}"), |b| {
            b.iter(|| siprec::validate::validate(black_box(&bytes), profile))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
