//! Every legal variant changes what the platform puts on the wire the way it says, and
//! nothing else breaks: the recorder still gets both parties' audio.

mod common;

use common::*;
use recproof_platform::Variant;

fn text(r: &Received) -> String {
    String::from_utf8_lossy(&r.raw).into_owned()
}

fn initial_invite(out: &Outcome) -> String {
    out.dubber
        .iter()
        .find(|r| r.method == "INVITE" && !r.in_dialog)
        .map(text)
        .expect("an RS INVITE reached the recorder")
}

#[test]
fn every_variant_shows_on_the_wire_and_still_records_both_parties() {
    let mut problems = Vec::new();
    for &v in Variant::ALL {
        // 2002 is Always with Pause/Resume: the pause styles need a pause.
        let mut s = Scenario::call("1001", "2002", 20_000);
        s.dtmf = vec![(6_000, Who::Callee, "*48"), (12_000, Who::Callee, "*49")];
        s.variant = Some(v);
        let out = run(&s);
        let invite = initial_invite(&out);
        let reinvites = out
            .dubber
            .iter()
            .filter(|r| r.method == "INVITE" && r.in_dialog)
            .map(text)
            .collect::<Vec<_>>();
        let (shown, what) = match v {
            Variant::LabelsOneZero => (
                invite.contains("a=label:1\r\n") && invite.contains("a=label:0\r\n"),
                "SDP labels 1 and 0",
            ),
            Variant::LabelsAB => (
                invite.contains("a=label:a\r\n") && invite.contains("a=label:b\r\n"),
                "SDP labels a and b",
            ),
            Variant::OffsetTimes => (
                invite.contains("+00:00</") && !invite.contains("Z</start-time>"),
                "metadata times with +00:00",
            ),
            Variant::SeparateSrcPort => (
                invite.contains("SIP/2.0/UDP 10.0.0.10:5061"),
                "the RS INVITE sent from port 5061",
            ),
            Variant::PauseByStoppingRtp => (reinvites.is_empty(), "no re-INVITE at pause"),
            Variant::PauseByHold0000 => (
                reinvites.iter().any(|r| r.contains("c=IN IP4 0.0.0.0")),
                "a re-INVITE with c=0.0.0.0",
            ),
            Variant::NoStartStopAnnouncement => (
                out.clips("callee.heard", recproof_platform::assets::prompt::START)
                    .is_empty(),
                "no start announcement heard",
            ),
        };
        if !shown {
            problems.push(format!("{}: expected {what}", v.name()));
        }
        let labels: Vec<&str> = match v {
            Variant::LabelsOneZero => vec!["srs.1", "srs.0"],
            Variant::LabelsAB => vec!["srs.a", "srs.b"],
            _ => vec!["srs.1", "srs.2"],
        };
        if out.party_frames(labels[0], "caller") < 200
            || out.party_frames(labels[1], "callee") < 200
        {
            problems.push(format!(
                "{}: the recorder did not get both parties ({} caller frames on {}, {} callee frames on {})",
                v.name(),
                out.party_frames(labels[0], "caller"),
                labels[0],
                out.party_frames(labels[1], "callee"),
                labels[1]
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
