//! `recproof load --sut PROFILE.yaml`: load against an external platform. The harness
//! plays the callers, the callees and the recorders the profile names, on the addresses
//! the profile gives (the SUT must route every load extension to the callee address and
//! record to the recorders), and spreads calls over the profile's users: every user's
//! `extension` and `extensions:` range, and `load.users_csv`, each open call on its own
//! extension (and its own caller number where `load.callers` gives a range).
//!
//! Without `--mix`, each profile user is a kind of call (answered, no keys), weighted by
//! how many extensions have its settings. With `--mix`, each kind of the mix calls the
//! users whose settings are the kind's (the SUT's configuration is what it is: a kind no
//! user matches is refused).

use super::embedded::{Built, kind_detectors};
use super::{Common, RunArgs, parse_port_range};
use anyhow::{Context, bail};
use drive::embedded::RecorderMode;
use drive::plan::{Answer, CallPlan};
use load::mix::{Mix, MixKind};
use load::recorded::{CallKind, LoadUser, RecordedConfig, RecordedEngine, RecorderSpec};
use load::results::TargetData;
use roles::srs::SrsBehaviour;
use std::sync::Arc;
use std::time::Duration;
use suite::SutProfile;

/// Whether a profile user's settings are what a mix kind states.
fn settings_match(a: &drive::settings::Settings, b: &drive::settings::Settings) -> bool {
    a.mode == b.mode
        && a.start_stop_announcement == b.start_stop_announcement
        && a.notification == b.notification
        && a.reminder == b.reminder
        && a.record_voicemail == b.record_voicemail
}

/// Builds the call loop of a run against the SUT the profile describes.
pub(crate) fn build(
    args: &RunArgs,
    c: &Common,
    profile: &SutProfile,
    mix: Option<&Mix>,
) -> anyhow::Result<Built> {
    if args.fault.is_some() || args.variant.is_some() {
        bail!("--fault and --variant are the embedded platform's; an external SUT is what it is");
    }
    let slots = c.plan.concurrency.map_or(1, |l| c.share.limit_of(l));
    let mut target = profile.target.clone();
    if let Some(ip) = args.bind_ip {
        target.caller_sip.set_ip(ip);
        target.callee_sip.set_ip(ip);
        target.caller_rtp.set_ip(ip);
        target.callee_rtp.set_ip(ip);
        for r in &mut target.recorders {
            r.sip.set_ip(ip);
        }
    }
    let t = &target;
    let entries = &profile.load.users;
    let callers = &profile.load.callers;
    let users: Vec<LoadUser> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| LoadUser {
            caller: e.caller.clone().unwrap_or_else(|| {
                callers
                    .get(i % callers.len().max(1))
                    .cloned()
                    .unwrap_or_else(|| t.caller_user.clone())
            }),
            callee: e.extension.clone(),
        })
        .collect();
    let plain = |name: &str| CallPlan {
        label: String::new(),
        scenario: format!("load: {name}"),
        answer: Answer::After(Duration::ZERO),
        keypresses: vec![],
        talk: Duration::from_secs(20),
    };
    // Kinds: the mix's (matched to users by settings) or one per profile user.
    let mut kinds_in: Vec<(MixKind, Vec<usize>)> = Vec::new();
    match mix {
        Some(m) => {
            for k in &m.kinds {
                let matching: Vec<usize> = entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| {
                        profile
                            .users
                            .get(e.settings_of)
                            .is_some_and(|u| settings_match(&u.settings, &k.settings))
                    })
                    .map(|(i, _)| i)
                    .collect();
                if matching.is_empty() {
                    bail!(
                        "mix kind `{}` states settings no user of {} has (mode {}, announcement \
                         {}, reminder {:?}); give the profile a user with them",
                        k.name,
                        profile.path.display(),
                        k.settings.mode,
                        k.settings.start_stop_announcement,
                        k.settings.reminder
                    );
                }
                let mut k = k.clone();
                // The SUT's own provider and dialect, not the mix's.
                if let Some(first) = profile.users.get(entries[matching[0]].settings_of) {
                    k.settings.org_provider = first.settings.org_provider.clone();
                    k.settings.dialect = first.settings.dialect.clone();
                    k.settings.failure_behavior = first.settings.failure_behavior.clone();
                }
                kinds_in.push((k, matching));
            }
        }
        None => {
            for (ui, u) in profile.users.iter().enumerate() {
                let matching: Vec<usize> = entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.settings_of == ui)
                    .map(|(i, _)| i)
                    .collect();
                if matching.is_empty() {
                    continue;
                }
                kinds_in.push((
                    MixKind {
                        name: format!("user {}", u.extension),
                        weight: matching.len() as f64,
                        settings: u.settings.clone(),
                        plan: plain(&u.settings.mode),
                    },
                    matching,
                ));
            }
        }
    }
    let mut kinds = Vec::new();
    for (k, matching) in kinds_in {
        let e = suite::external_expectation(
            &k.settings,
            &k.plan,
            RecorderMode::Accept,
            profile,
            &users[matching[0]].callee,
        );
        kinds.push(CallKind {
            detectors: kind_detectors(&t.detectors, &k),
            name: k.name,
            weight: k.weight,
            plan: k.plan,
            expectation: e,
            users: matching,
        });
    }
    if users.len() < slots as usize {
        bail!(
            "{} has {} load users for {slots} concurrent calls: every open call needs its own \
             extension. Give users an `extensions:` range or a `load.users_csv`, or lower \
             --concurrency",
            profile.path.display(),
            users.len()
        );
    }
    let recorders: Vec<RecorderSpec> = t
        .recorders
        .iter()
        .map(|r| {
            // The profile's RTP base, with a pool sized for the concurrency.
            let hi = u32::from(r.rtp_port_base) + 4 * slots + 4;
            RecorderSpec {
                provider: r.provider.clone(),
                sip: r.sip,
                rtp_ports: (r.rtp_port_base, hi.min(65_535) as u16),
                behaviour: SrsBehaviour::Accept,
            }
        })
        .collect();
    let phones = parse_port_range(args.rtp_ports.as_deref().unwrap_or("20000-32000"))?;
    let modem = Arc::new(
        media::signal::Modem::new(&media::signal::SignalConfig::default())
            .context("instrumented signal")?,
    );
    let cfg = RecordedConfig {
        plan: c.plan.clone(),
        hold: c.hold,
        seed: args.seed,
        sip_seed: drive::fresh_seed(),
        kinds,
        users,
        sut_sip: t.sut_sip,
        caller_sip: t.caller_sip,
        callee_sip: t.callee_sip,
        rtp_ip: t.caller_rtp.ip(),
        rtp_ports: phones,
        recorders,
        detectors: t.detectors.clone(),
        tolerances: profile.tolerances.clone(),
        answer_wait: t.answer_wait,
        drain: Duration::from_secs(3),
        capture: args.captures(),
    };
    let engine = RecordedEngine::new(cfg, modem, sip::time::Time::ZERO)?;
    let target = TargetData {
        mode: "sut".into(),
        sut: Some(profile.name.clone()),
        media: true,
        fault: None,
    };
    Ok((target, vec![Box::new(engine)], Vec::new()))
}
