//! What an external recorder wrote, read back for SRS-12 in the forms recorders write:
//! a capture (pcap, as rtpengine writes one per call) whose RTP streams are attributed by
//! the ports the recorder's own SDP answer gave each label, and one stereo WAV whose
//! channels name no party. The session is a real one (an embedded recorder call); the
//! recorder's own account is replaced by what the files hold, and the SRS-12 check judges
//! it: right ports pass, swapped ports fail, a stereo file with a party per channel is
//! "not judged" (apart, but tied to nobody), and a channel holding both parties fails.

use checks::Status;
use checks::recorder::{RecorderRules, STREAMS_APART, attempts, judge_recorder};
use checks::timeline::CallView;
use drive::embedded::RecorderMode;
use drive::recorder::{EmbeddedRecorderCall, RecorderPlan, run_recorder_call};
use media::g711::Law;
use media::pcap::PcapWriter;
use media::rtp::{RtpSender, Ssrc};
use media::signal::{Modem, PartyId, SignalConfig};
use observe::{Actor, Event, Observation};
use recproof_suite::recordings::{RecordingsDir, import};
use roles::src::RsRequest;
use siprec::metadata::Dialect;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

const LABEL: &str = "rec-import";
/// Frames each party is given in the files: more than the session's 6 s.
const FRAMES: u64 = 320;

/// A real 6-second session at the embedded recorder: its log without the recorder's
/// own account of what it recorded, its RS Call-ID and the ports its answer gave.
fn session() -> (Vec<Observation>, String, Vec<u16>) {
    let plan = RecorderPlan::new(LABEL, "import")
        .session(RsRequest::valid(Dialect::Rfc7865), Duration::from_secs(6));
    let out = run_recorder_call(&EmbeddedRecorderCall {
        plan,
        fault: None,
        mode: RecorderMode::Accept,
        seed: 3,
        evidence: false,
    })
    .expect("the embedded recorder call runs");
    let log: Vec<Observation> = out
        .observations
        .into_iter()
        .filter(|o| !(o.actor == Actor::Srs && matches!(o.event, Event::PartyFrames { .. })))
        .collect();
    let view = CallView::new(&log, LABEL);
    let a = attempts(&view).into_iter().next().expect("one session");
    let ports = a
        .final_response
        .as_ref()
        .and_then(|(_, _, m)| checks::timeline::sdp_of(&m.msg))
        .map(|media| media.iter().map(|m| m.port).collect())
        .expect("an SDP answer");
    (log, a.rs_call_id, ports)
}

fn party_pcm(modem: &Modem, party: u8) -> Vec<i16> {
    (0..FRAMES)
        .flat_map(|n| modem.frame(PartyId(party), n))
        .collect()
}

/// A capture of the two parties' RTP, the caller's to `ports[0]` and the callee's to
/// `ports[1]`.
fn write_capture(path: &Path, modem: &Modem, ports: [u16; 2]) {
    let mut w = PcapWriter::new(std::fs::File::create(path).expect("create")).expect("pcap");
    for (k, (party, law, pt)) in [(1u8, Law::Ulaw, 0u8), (2, Law::Alaw, 8)]
        .iter()
        .enumerate()
    {
        let pcm = party_pcm(modem, *party);
        let mut tx = RtpSender::new(Ssrc(0x1000 + k as u32), *pt, 100, 1000);
        let src: SocketAddr = format!("127.0.0.1:{}", 20_000 + 2 * k)
            .parse()
            .expect("addr");
        let dst: SocketAddr = format!("127.0.0.1:{}", ports[k]).parse().expect("addr");
        for (n, frame) in pcm.chunks(160).enumerate() {
            let packet = tx.packetize(&law.encode(frame), 160).expect("rtp");
            let ts = Duration::from_millis(20 * n as u64 + k as u64);
            w.write_udp(ts, src, dst, &packet).expect("write");
        }
    }
}

/// One stereo WAV, `left` on channel 0 and `right` on channel 1.
fn write_stereo(path: &Path, left: &[i16], right: &[i16]) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("wav");
    for (l, r) in left.iter().zip(right) {
        w.write_sample(*l).expect("sample");
        w.write_sample(*r).expect("sample");
    }
    w.finalize().expect("finalize");
}

/// The SRS-12 verdict on the session with what `dir` holds as the recorder's account.
fn judged(log: &[Observation], dir: &Path) -> checks::Verdict {
    let view = CallView::new(log, LABEL);
    let sessions = attempts(&view);
    let rec = RecordingsDir {
        dir: dir.to_path_buf(),
        wait: Duration::from_millis(100),
    };
    let (read, problems) = import(
        &rec,
        &sessions,
        "sip:+15550100@example.com",
        "sip:+15550200@example.com",
        LABEL,
        None,
    );
    assert!(problems.is_empty(), "{problems:?}");
    assert!(!read.is_empty(), "the files were read");
    let mut all = log.to_vec();
    all.extend(read);
    all.sort_by_key(|o| o.t_us);
    let rules = RecorderRules {
        recordings_available: true,
        ..RecorderRules::default()
    };
    judge_recorder(&all, LABEL, &rules)
        .into_iter()
        .find(|v| v.check == STREAMS_APART)
        .expect("judged")
}

#[test]
fn a_capture_is_attributed_by_the_ports_of_the_recorders_own_answer() {
    let (log, call_id, ports) = session();
    let modem = Modem::new(&SignalConfig::default()).expect("modem");
    let file = format!("{}-0001.pcap", call_id.replace('@', "_"));

    let dir = tempfile::tempdir().expect("dir");
    write_capture(&dir.path().join(&file), &modem, [ports[0], ports[1]]);
    let v = judged(&log, dir.path());
    assert_eq!(v.status, Status::Pass, "{}", v.summary);

    let dir = tempfile::tempdir().expect("dir");
    write_capture(&dir.path().join(&file), &modem, [ports[1], ports[0]]);
    let v = judged(&log, dir.path());
    assert_eq!(v.status, Status::Fail, "{}", v.summary);
    assert!(v.summary.contains("label 101"), "{}", v.summary);
}

#[test]
fn a_stereo_file_naming_no_party_is_judged_apart_but_not_attributed() {
    let (log, call_id, _) = session();
    let modem = Modem::new(&SignalConfig::default()).expect("modem");
    let file = format!("{}-mix.wav", call_id.replace('@', "_"));
    let caller = party_pcm(&modem, 1);
    let callee = party_pcm(&modem, 2);

    let dir = tempfile::tempdir().expect("dir");
    write_stereo(&dir.path().join(&file), &caller, &callee);
    let v = judged(&log, dir.path());
    assert_eq!(v.status, Status::NotApplicable, "{}", v.summary);
    assert!(
        v.summary.contains("holds one party only") && v.summary.contains("not judged"),
        "{}",
        v.summary
    );

    // Both parties in channel 0 (one after the other), nothing in channel 1.
    let dir = tempfile::tempdir().expect("dir");
    let half = caller.len() / 2;
    let mixed: Vec<i16> = caller[..half]
        .iter()
        .chain(&callee[half..])
        .copied()
        .collect();
    write_stereo(&dir.path().join(&file), &mixed, &vec![0; caller.len()]);
    let v = judged(&log, dir.path());
    assert_eq!(v.status, Status::Fail, "{}", v.summary);
    assert!(v.summary.contains("holds"), "{}", v.summary);
}
