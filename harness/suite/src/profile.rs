//! SUT profiles: the YAML that points the suite at an EXTERNAL system under test.
//!
//! A profile names the SUT's SIP address, where the harness phones and recorders listen
//! (the SUT must be configured to match), the SUT's announcement clips and tone
//! frequencies, the metadata dialect, optional tolerances, and which test users have
//! which recording settings. The format is documented in `scenarios/README.md` ("SUT
//! profiles"); `scenarios/sut-recproof-platform.yaml` is an example.
//!
//! [`load`] reads and validates a profile; every problem is reported with the file name
//! and what to fix ([`ProfileError`]), never a panic. [`SutProfile::user_for`] picks the
//! test user whose settings equal what a scenario states (and nothing more).
//!
//! Nothing about the reference platform is a default here: the listeners look only for
//! the clips and tones the profile gives, a check that needs one the profile lacks says
//! it cannot judge, and omitted tolerances take the documented real-time defaults
//! ([`Tolerances::real_time`]), not the simulated platform's tight ones.

use crate::stated::{Capability, Stated};
use checks::{Signals, Tolerances};
use drive::external::{ExternalRecorder, ExternalTarget};
use drive::settings::{PROVIDERS, Reminder, Settings};
use roles::media_io::{Detectors, ReferenceClip};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Clip names a profile may give (the names the checks use).
pub const CLIP_NAMES: [&str; 6] = [
    "announcement-start",
    "announcement-stop",
    "announcement-pause",
    "announcement-resume",
    "announcement-failure",
    "voicemail-greeting",
];

const MODES: [&str; 4] = [
    "Always",
    "Never",
    "Always with Pause/Resume",
    "On Demand with User Initiated Start",
];
const NOTIFICATIONS: [&str; 3] = ["Beep", "Play Announcement", "None"];
const FAILURE_BEHAVIOURS: [&str; 3] = [
    "PROCEED_WITH_CALL_NO_ANNOUNCEMENT",
    "PROCEED_CALL_WITH_ANNOUNCEMENT",
    "END_CALL_WITH_ANNOUNCEMENT",
];
const DIALECTS: [&str; 2] = ["broadworks-compat", "rfc-strict"];

/// Why a profile cannot be used. Displays as `profile `FILE`: problem; problem`.
#[derive(Debug, thiserror::Error)]
#[error("SUT profile `{}`: {}", path.display(), problems.join("; "))]
pub struct ProfileError {
    /// The profile file.
    pub path: PathBuf,
    /// Every problem found, each saying what to fix.
    pub problems: Vec<String>,
}

/// One test user of the SUT and the settings it is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileUser {
    /// The extension the harness caller dials.
    pub extension: String,
    /// The user's recording settings (provider as `org_provider`, the profile's
    /// dialect).
    pub settings: Settings,
}

/// One user a load run can call: the extension dialled, the caller number it is called
/// from (when the profile gives one per user), and which profile user's settings it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadUserEntry {
    /// The caller number (`None`: one from `load.callers`, or the profile's `caller`).
    pub caller: Option<String>,
    /// The extension dialled.
    pub extension: String,
    /// Index into [`SutProfile::users`]: whose settings this extension has.
    pub settings_of: usize,
}

/// What a load run spreads its calls over (`recproof load --sut`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadUsers {
    /// Caller numbers (`load.callers`, a range): each open call uses its own.
    pub callers: Vec<String>,
    /// Every extension of every user (`extensions:` ranges expanded) and of
    /// `load.users_csv`.
    pub users: Vec<LoadUserEntry>,
}

/// Most numbers a range or a users CSV may give.
pub const MAX_LOAD_USERS: usize = 100_000;

/// Expands a number range `A-B` (digits, an optional leading `+` on both, the same
/// length): `+4722000100-+4722000103` is four numbers.
pub fn number_range(text: &str) -> Result<Vec<String>, String> {
    let (a, b) = text
        .split_once('-')
        .ok_or_else(|| format!("`{text}` is not a range FIRST-LAST"))?;
    let (a, b) = (a.trim(), b.trim());
    let plus = a.starts_with('+');
    let (da, db) = (a.trim_start_matches('+'), b.trim_start_matches('+'));
    if plus != b.starts_with('+')
        || da.len() != db.len()
        || da.is_empty()
        || !da.chars().chain(db.chars()).all(|c| c.is_ascii_digit())
    {
        return Err(format!(
            "`{text}`: give two numbers of the same length, e.g. 3000-3999 or +4722000100-+4722000999"
        ));
    }
    let (x, y): (u128, u128) = match (da.parse(), db.parse()) {
        (Ok(x), Ok(y)) if x <= y => (x, y),
        _ => {
            return Err(format!(
                "`{text}`: the last number must not be below the first"
            ));
        }
    };
    if y - x >= MAX_LOAD_USERS as u128 {
        return Err(format!("`{text}`: more than {MAX_LOAD_USERS} numbers"));
    }
    Ok((x..=y)
        .map(|n| {
            format!(
                "{}{n:0width$}",
                if plus { "+" } else { "" },
                width = da.len()
            )
        })
        .collect())
}

/// A validated SUT profile.
#[derive(Debug, Clone)]
pub struct SutProfile {
    /// The profile's `name` (results.json `sut`).
    pub name: String,
    /// The file it was read from.
    pub path: PathBuf,
    /// Where the SUT and the harness roles are.
    pub target: ExternalTarget,
    /// The test users.
    pub users: Vec<ProfileUser>,
    /// Metadata dialect (`broadworks-compat` or `rfc-strict`).
    pub dialect: String,
    /// The tolerances: [`Tolerances::real_time`] with the profile's `tolerances:` over it.
    pub tolerances: Tolerances,
    /// What the SUT's notices sound like, as far as the profile says (clip names of the
    /// clips it gives, its tone frequencies).
    pub signals: Signals,
    /// Whether the SUT reports announcements in the recording metadata in recproof's
    /// format (POL-05); `false`: what arrives is only recorded.
    pub announcement_metadata: bool,
    /// What the SUT does not offer (`does_not_offer:`): scenarios that need it are
    /// SKIPPED with that reason.
    pub does_not_offer: BTreeSet<Capability>,
    /// The users and caller numbers a load run spreads its calls over.
    pub load: LoadUsers,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    sut: RawSut,
    harness: RawHarness,
    #[serde(default)]
    audio: RawAudio,
    #[serde(default)]
    dialect: Option<String>,
    #[serde(default)]
    tolerances: Option<serde_json::Value>,
    #[serde(default)]
    does_not_offer: Vec<String>,
    caller: String,
    users: Vec<RawUser>,
    #[serde(default)]
    load: Option<RawLoad>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    /// A range of caller numbers, one per open load call.
    #[serde(default)]
    callers: Option<String>,
    /// SIPp `-inf`-style CSV: `caller;extension;settings-of-extension` per line.
    #[serde(default)]
    users_csv: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSut {
    sip: String,
    /// `udp` (default) or `tcp`.
    #[serde(default)]
    transport: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParty {
    sip: String,
    rtp: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecorder {
    sip: String,
    rtp_port_base: u16,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHarness {
    caller: RawParty,
    callee: RawParty,
    recorders: BTreeMap<String, RawRecorder>,
    #[serde(default)]
    answer_wait_s: Option<f64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAudio {
    #[serde(default)]
    clips: BTreeMap<String, String>,
    #[serde(default)]
    reminder_tone_hz: Option<f64>,
    #[serde(default)]
    beep_hz: Option<f64>,
    #[serde(default)]
    announcement_metadata: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawReminder {
    Seconds(u32),
    Word(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    extension: String,
    /// More extensions with the same settings (a range), for load runs.
    #[serde(default)]
    extensions: Option<String>,
    provider: String,
    mode: String,
    start_stop_announcement: bool,
    #[serde(default)]
    reminder: Option<RawReminder>,
    #[serde(default)]
    notification: Option<String>,
    #[serde(default)]
    record_voicemail: bool,
    #[serde(default)]
    failure_behavior: Option<String>,
}

/// Reads and validates a profile. Clip paths are relative to the profile's directory.
pub fn load(path: &Path) -> Result<SutProfile, ProfileError> {
    let fail = |problems: Vec<String>| ProfileError {
        path: path.to_owned(),
        problems,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(vec![format!("cannot read the file: {e}")]))?;
    let raw: RawProfile = serde_saphyr::from_str(&text).map_err(|e| {
        fail(vec![format!(
            "{e} (expected keys: name, sut, harness, audio, dialect, tolerances, does_not_offer, caller, users, load; see scenarios/README.md)"
        )])
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut problems = Vec::new();
    let sut_transport = crate::recorder_profile::transport_field(
        "sut.transport",
        raw.sut.transport.as_deref(),
        &mut problems,
    );
    let mut addr = |what: &str, s: &str| -> SocketAddr {
        s.parse().unwrap_or_else(|_| {
            problems.push(format!(
                "{what}: `{s}` is not IP:PORT (e.g. 127.0.0.1:5060)"
            ));
            SocketAddr::from(([0, 0, 0, 0], 0))
        })
    };
    let sut_sip = addr("sut.sip", &raw.sut.sip);
    let caller_sip = addr("harness.caller.sip", &raw.harness.caller.sip);
    let caller_rtp = addr("harness.caller.rtp", &raw.harness.caller.rtp);
    let callee_sip = addr("harness.callee.sip", &raw.harness.callee.sip);
    let callee_rtp = addr("harness.callee.rtp", &raw.harness.callee.rtp);
    let mut recorders = Vec::new();
    for (provider, r) in &raw.harness.recorders {
        let sip = addr(&format!("harness.recorders.{provider}.sip"), &r.sip);
        recorders.push(ExternalRecorder {
            provider: provider.clone(),
            sip,
            rtp_port_base: r.rtp_port_base,
        });
    }
    if raw.name.trim().is_empty() {
        problems.push("name: give the SUT a name (it goes into results.json)".into());
    }
    for p in raw.harness.recorders.keys() {
        if !PROVIDERS.contains(&p.as_str()) {
            problems.push(format!(
                "harness.recorders: unknown provider `{p}`; use one of {}",
                PROVIDERS.join(", ")
            ));
        }
    }
    let dialect = raw
        .dialect
        .clone()
        .unwrap_or_else(|| "broadworks-compat".into());
    if !DIALECTS.contains(&dialect.as_str()) {
        problems.push(format!(
            "dialect: `{dialect}` is not one of {}",
            DIALECTS.join(", ")
        ));
    }
    // The clips, each loaded once: a file given under two names (the failure
    // announcement is often the stop announcement) is one detector, and both names refer
    // to it.
    let mut clips: Vec<ReferenceClip> = Vec::new();
    let mut loaded: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for (name, file) in &raw.audio.clips {
        if !CLIP_NAMES.contains(&name.as_str()) {
            problems.push(format!(
                "audio.clips: unknown clip `{name}`; use one of {}",
                CLIP_NAMES.join(", ")
            ));
            continue;
        }
        let file_path = base.join(file);
        let key = file_path
            .canonicalize()
            .unwrap_or_else(|_| file_path.clone());
        if let Some(first) = loaded.get(&key) {
            names.insert(name.clone(), first.clone());
            continue;
        }
        match std::fs::read(&file_path)
            .map_err(|e| e.to_string())
            .and_then(|b| media::wav::read_wav(&b).map_err(|e| e.to_string()))
        {
            Ok(a) if a.sample_rate == 8000 && !a.channels.is_empty() => {
                clips.push(ReferenceClip {
                    name: name.clone(),
                    pcm: a.channels[0].clone().into(),
                });
                loaded.insert(key, name.clone());
                names.insert(name.clone(), name.clone());
            }
            Ok(a) => problems.push(format!(
                "audio.clips.{name}: `{}` is {} Hz; give an 8000 Hz WAV",
                file_path.display(),
                a.sample_rate
            )),
            Err(e) => problems.push(format!(
                "audio.clips.{name}: cannot read `{}` as WAV ({e}); paths are relative to the profile",
                file_path.display()
            )),
        }
    }
    let clip = |n: &str| names.get(n).cloned();
    let signals = Signals {
        start_clip: clip("announcement-start"),
        stop_clip: clip("announcement-stop"),
        pause_clip: clip("announcement-pause"),
        resume_clip: clip("announcement-resume"),
        failure_clip: clip("announcement-failure"),
        greeting_clip: clip("voicemail-greeting"),
        reminder_hz: raw.audio.reminder_tone_hz,
        beep_hz: raw.audio.beep_hz,
    };
    for (what, hz) in [
        ("audio.reminder_tone_hz", signals.reminder_hz),
        ("audio.beep_hz", signals.beep_hz),
    ] {
        if let Some(hz) = hz
            && !(100.0..=3900.0).contains(&hz)
        {
            problems.push(format!("{what}: {hz} Hz is outside 100-3900 Hz"));
        }
    }
    let mut does_not_offer = BTreeSet::new();
    for c in &raw.does_not_offer {
        match Capability::from_name(c) {
            Some(c) => {
                does_not_offer.insert(c);
            }
            None => problems.push(format!(
                "does_not_offer: unknown `{c}`; use any of {}",
                Capability::ALL.map(Capability::name).join(", ")
            )),
        }
    }
    if raw.caller.trim().is_empty() {
        problems.push("caller: give the number or sip: URI the harness caller uses".into());
    }
    if raw.users.is_empty() {
        problems.push("users: list at least one test user".into());
    }
    let mut users = Vec::new();
    for (i, u) in raw.users.iter().enumerate() {
        let at = format!("users[{i}] (extension {})", u.extension);
        if u.extension.trim().is_empty() {
            problems.push(format!("users[{i}]: extension is empty"));
        }
        if u.provider != "None" && !PROVIDERS.contains(&u.provider.as_str()) {
            problems.push(format!(
                "{at}: provider `{}` is not one of {}, None",
                u.provider,
                PROVIDERS.join(", ")
            ));
        } else if u.provider != "None" && !raw.harness.recorders.contains_key(&u.provider) {
            problems.push(format!(
                "{at}: provider `{}` has no recorder under harness.recorders; add one",
                u.provider
            ));
        }
        if !MODES.contains(&u.mode.as_str()) {
            problems.push(format!(
                "{at}: mode `{}` is not one of {}",
                u.mode,
                MODES.join(", ")
            ));
        }
        if let Some(n) = &u.notification
            && !NOTIFICATIONS.contains(&n.as_str())
        {
            problems.push(format!(
                "{at}: notification `{n}` is not one of {}",
                NOTIFICATIONS.join(", ")
            ));
        }
        if let Some(f) = &u.failure_behavior
            && !FAILURE_BEHAVIOURS.contains(&f.as_str())
        {
            problems.push(format!(
                "{at}: failure_behavior `{f}` is not one of {}",
                FAILURE_BEHAVIOURS.join(", ")
            ));
        }
        let reminder = match &u.reminder {
            None => Reminder::Off,
            Some(RawReminder::Seconds(n)) => Reminder::Every(*n),
            Some(RawReminder::Word(w)) if w == "off" => Reminder::Off,
            Some(RawReminder::Word(w)) if w == "default" => Reminder::DefaultInterval,
            Some(RawReminder::Word(w)) => {
                problems.push(format!(
                    "{at}: reminder `{w}` must be off, default or a number of seconds"
                ));
                Reminder::Off
            }
        };
        users.push(ProfileUser {
            extension: u.extension.clone(),
            settings: Settings {
                org_provider: u.provider.clone(),
                location_override: None,
                mode: u.mode.clone(),
                start_stop_announcement: u.start_stop_announcement,
                notification: u.notification.clone().filter(|n| n != "None"),
                reminder,
                record_voicemail: u.record_voicemail,
                failure_behavior: u.failure_behavior.clone(),
                dialect: dialect.clone(),
            },
        });
    }
    let load = load_users(&raw, &users, base, &mut problems);
    let tolerances = match Tolerances::real_time_with(
        raw.tolerances.as_ref().unwrap_or(&serde_json::Value::Null),
    ) {
        Ok(t) => {
            tolerance_problems(&t, &mut problems);
            t
        }
        Err(e) => {
            problems.push(format!(
                "tolerances: {e} (fields: checks::Tolerances, in scenarios/README.md)"
            ));
            Tolerances::real_time()
        }
    };
    let answer_wait = match raw.harness.answer_wait_s {
        None => drive::external::ANSWER_WAIT,
        Some(s) if s.is_finite() && (1.0..=600.0).contains(&s) => {
            std::time::Duration::from_secs_f64(s)
        }
        Some(s) => {
            problems.push(format!(
                "harness.answer_wait_s: {s} is outside 1-600 seconds"
            ));
            drive::external::ANSWER_WAIT
        }
    };
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    let detectors = Detectors {
        tones_hz: [signals.reminder_hz, signals.beep_hz]
            .into_iter()
            .flatten()
            .collect(),
        clips,
        silence: None,
    };
    Ok(SutProfile {
        name: raw.name.clone(),
        path: path.to_owned(),
        target: ExternalTarget {
            name: raw.name,
            sut_sip,
            sut_transport,
            caller_sip,
            caller_rtp,
            caller_user: raw.caller,
            callee_sip,
            callee_rtp,
            recorders,
            detectors,
            answer_wait,
        },
        users,
        dialect,
        tolerances,
        signals,
        announcement_metadata: raw.audio.announcement_metadata,
        does_not_offer,
        load,
    })
}

/// The load run's users: every user's `extension` and `extensions` range, then the
/// `load.users_csv` lines (`caller;extension;settings-of-extension`, a first line
/// `SEQUENTIAL`, `RANDOM` or `USER` as SIPp writes it is skipped), and `load.callers`.
fn load_users(
    raw: &RawProfile,
    users: &[ProfileUser],
    base: &Path,
    problems: &mut Vec<String>,
) -> LoadUsers {
    let mut out = LoadUsers::default();
    let mut seen = BTreeSet::new();
    let mut add = |out: &mut LoadUsers, problems: &mut Vec<String>, e: LoadUserEntry| {
        if out.users.len() >= MAX_LOAD_USERS {
            return;
        }
        if seen.insert(e.extension.clone()) {
            out.users.push(e);
        } else {
            problems.push(format!(
                "extension {} is listed twice for load runs; every load user needs its own",
                e.extension
            ));
        }
    };
    for (i, u) in raw.users.iter().enumerate() {
        let mut exts = vec![u.extension.clone()];
        if let Some(r) = &u.extensions {
            match number_range(r) {
                Ok(v) => exts.extend(v.into_iter().filter(|x| *x != u.extension)),
                Err(e) => problems.push(format!("users[{i}].extensions: {e}")),
            }
        }
        for extension in exts {
            add(
                &mut out,
                problems,
                LoadUserEntry {
                    caller: None,
                    extension,
                    settings_of: i,
                },
            );
        }
    }
    let Some(l) = &raw.load else {
        return out;
    };
    if let Some(r) = &l.callers {
        match number_range(r) {
            Ok(v) => out.callers = v,
            Err(e) => problems.push(format!("load.callers: {e}")),
        }
    }
    if let Some(csv) = &l.users_csv {
        let path = base.join(csv);
        match std::fs::read_to_string(&path) {
            Err(e) => problems.push(format!(
                "load.users_csv: cannot read `{}` ({e}); paths are relative to the profile",
                path.display()
            )),
            Ok(text) => {
                for (n, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty()
                        || line.starts_with('#')
                        || (n == 0 && ["SEQUENTIAL", "RANDOM", "USER"].contains(&line))
                    {
                        continue;
                    }
                    let f: Vec<&str> = line.split(';').map(str::trim).collect();
                    let at = format!("load.users_csv line {}", n + 1);
                    let (Some(caller), Some(ext)) = (f.first(), f.get(1)) else {
                        problems.push(format!("{at}: give caller;extension;settings-of"));
                        continue;
                    };
                    let of = f.get(2).copied().unwrap_or("");
                    let settings_of = if of.is_empty() {
                        Some(0)
                    } else {
                        users.iter().position(|u| u.extension == of)
                    };
                    let Some(settings_of) = settings_of else {
                        problems.push(format!(
                            "{at}: `{of}` is no user's extension; the third field names the \
                             profile user whose settings this extension has"
                        ));
                        continue;
                    };
                    add(
                        &mut out,
                        problems,
                        LoadUserEntry {
                            caller: (!caller.is_empty()).then(|| (*caller).to_owned()),
                            extension: (*ext).to_owned(),
                            settings_of,
                        },
                    );
                }
            }
        }
    }
    out
}

/// Every tolerance must be a finite number from 0 to one hour (in its unit): a negative
/// value fails every check, NaN reads as 0, and a huge one overflows the checks' time
/// arithmetic.
fn tolerance_problems(t: &Tolerances, problems: &mut Vec<String>) {
    const LIMIT: f64 = 3_600_000.0;
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(t) else {
        problems.push("tolerances: cannot be read back; check the values".into());
        return;
    };
    for (name, value) in fields {
        match value.as_f64() {
            Some(v) if (0.0..=LIMIT).contains(&v) => {}
            Some(v) => problems.push(format!(
                "tolerances.{name}: {v} is outside 0-{LIMIT}; give a non-negative number"
            )),
            // serde_json writes NaN and infinities as null.
            None if value.is_null() => problems.push(format!(
                "tolerances.{name}: not a finite number; give a non-negative number"
            )),
            None => {}
        }
    }
}

impl SutProfile {
    /// The first test user whose settings equal what the scenario states (unstated
    /// settings are the user's own).
    pub fn user_for(&self, stated: &Stated) -> Option<&ProfileUser> {
        self.users.iter().find(|u| stated.matches(&u.settings))
    }

    /// The recorder address of a provider.
    pub fn recorder(&self, provider: &str) -> Option<SocketAddr> {
        self.target
            .recorders
            .iter()
            .find(|r| r.provider == provider)
            .map(|r| r.sip)
    }
}
