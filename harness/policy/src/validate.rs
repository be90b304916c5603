//! From the spanned raw tree to a [`Policy`], collecting every problem on the way.
//!
//! Owns the policy rules and their messages: defaults, closed value sets, the vendor and
//! region rules, cross-references between people, locations and providers, ranges, and
//! feature codes. It never stops at the first problem: each check records a [`Problem`]
//! at the offending value's position and carries on with a stand-in value, so the user
//! sees every mistake in one run. It must not do I/O or touch YAML syntax (`yaml` does).

use std::collections::{BTreeMap, HashMap};

use serde_saphyr::Spanned;

use crate::error::{PolicyErrors, Position, Problem, Rule};
use crate::model::{
    CallRecordingAccess, ComplianceAnnouncement, DEFAULT_REPEAT_INTERVAL, Dialect, FailureBehavior,
    FeatureCodes, LicenseType, Limits, Location, LocationCallRecording,
    LocationComplianceAnnouncement, Notification, NotificationType, OrgCallRecording, Organization,
    Person, PersonCallRecording, Policy, RecordMode, Repeat, SelectiveCallRecording, SrsEndpoint,
    StartStopAnnouncement, Transport, Vendor,
};
use crate::raw::{
    RawAccess, RawCompliance, RawFeatureCodes, RawLimits, RawLocation, RawLocationCompliance,
    RawPerson, RawPersonRecording, RawPolicy, RawProvider, RawSelective,
};

/// A closed set of values read from text (implemented by `choice_enum!` in `model`).
pub(crate) trait Choice: Sized + Copy + 'static {
    /// What the value is, for messages ("record mode", "vendor").
    const WHAT: &'static str;
    /// Every accepted spelling and its value.
    fn all() -> &'static [(&'static str, Self)];
}

/// The closest candidate to `input` if it is plausibly a typo of it: equal ignoring case,
/// a prefix of it (`recordVoicemail` → `recordVoicemailEnabled`), or within a small edit
/// distance.
pub(crate) fn closest<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = input.to_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        let cl = c.to_lowercase();
        let d = if cl == lower {
            0
        } else if lower.len() >= 4 && cl.starts_with(&lower) {
            1
        } else {
            edit_distance(&lower, &cl)
        };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let limit = (input.chars().count() / 3).max(2);
    best.filter(|(d, _)| *d <= limit).map(|(_, c)| c)
}

/// Levenshtein distance over characters (inputs are short field and value names).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Collects problems for one file.
struct Ctx<'a> {
    origin: &'a str,
    problems: Vec<Problem>,
}

impl Ctx<'_> {
    fn pos<T>(&self, s: &Spanned<T>) -> Position {
        let l = &s.referenced;
        if l.line() == 0 {
            Position::file(self.origin)
        } else {
            Position {
                origin: self.origin.to_owned(),
                line: l.line(),
                column: l.column(),
            }
        }
    }

    /// Records a problem at `s`. When the value came through a YAML alias, the position is
    /// the alias (which names the person or location affected) and the message says where
    /// the anchored value itself is, since that is what must be edited.
    fn report<T>(&mut self, s: &Spanned<T>, rule: Rule, mut message: String) {
        if s.defined != s.referenced && s.defined.line() != 0 {
            message.push_str(&format!(
                " (the value comes from the YAML anchor at line {}, column {})",
                s.defined.line(),
                s.defined.column()
            ));
        }
        let at = self.pos(s);
        self.problems.push(Problem { at, rule, message });
    }

    /// Reads one of a closed set of values, or reports it with the choices and a
    /// suggestion.
    fn choice<T: Choice>(&mut self, s: &Spanned<String>, field: &str, rule: Rule) -> Option<T> {
        let input = s.value.as_str();
        if let Some((_, v)) = T::all().iter().find(|(name, _)| *name == input) {
            return Some(*v);
        }
        let names: Vec<&str> = T::all().iter().map(|(n, _)| *n).collect();
        let hint = closest(input, names.iter().copied())
            .map(|c| format!("did you mean `{c}`? "))
            .unwrap_or_default();
        let list = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        self.report(
            s,
            rule,
            format!(
                "{field} is `{input}`, which is not a known {}; accepted values: {list} \
                 (exact spelling, case and spaces included); {hint}use one of them",
                T::WHAT
            ),
        );
        None
    }
}

fn flag(s: &Option<Spanned<bool>>, default: bool) -> bool {
    s.as_ref().map_or(default, |s| s.value)
}

fn text(s: &Option<Spanned<String>>) -> Option<String> {
    s.as_ref().map(|s| s.value.clone())
}

/// Turns the raw tree into a validated policy, or returns every problem found.
pub(crate) fn build(raw: RawPolicy, origin: &str) -> Result<Policy, PolicyErrors> {
    let mut cx = Ctx {
        origin,
        problems: Vec::new(),
    };

    let limits = limits(&mut cx, raw.limits.as_ref());
    let dialect = raw
        .dialect
        .as_ref()
        .and_then(|d| cx.choice::<Dialect>(d, "dialect", Rule::UnknownValue))
        .unwrap_or(Dialect::BroadworksCompat);
    let feature_codes = feature_codes(&mut cx, raw.feature_codes.as_ref());

    let org_raw = &raw.organization;
    let organization = organization(&mut cx, org_raw);
    let providers = providers(&mut cx, raw.providers.as_ref());

    // Vendors in use: each needs an SRS address, and CallCabinet needs a US organisation.
    let region_ok = organization
        .region
        .as_deref()
        .is_some_and(|r| r.eq_ignore_ascii_case("US"));
    let check_vendor = |cx: &mut Ctx<'_>, v: Vendor, at: &Spanned<()>, needs_srs: bool| {
        if v == Vendor::CallCabinet && !region_ok {
            let region = match &organization.region {
                Some(r) => format!("is `{r}`"),
                None => "is not set".to_owned(),
            };
            cx.report(
                at,
                Rule::RegionRestricted,
                format!(
                    "vendor `CallCabinet` is offered only to organisations hosted in the US \
                     region (seed), but organization.region {region} — choose another vendor, \
                     or set organization.region to `US` if the organisation is US-hosted"
                ),
            );
        }
        if needs_srs && v != Vendor::None && !providers.contains_key(&v) {
            cx.report(
                at,
                Rule::MissingProvider,
                format!(
                    "vendor `{v}` has no entry under `providers`, so the harness does not know \
                     where its recorder (SRS) listens — add `providers: {{ {v}: {{ srs: \
                     \"sip:recorder@127.0.0.1:5080\" }} }}` (a harness setting, not a Webex \
                     field)"
                ),
            );
        }
    };
    {
        // Point at the vendor value if written, else at the callRecording block, else at
        // `organization` (the default Dubber was implied).
        let at = org_raw
            .value
            .call_recording
            .as_ref()
            .map(|c| c.value.vendor.as_ref().map_or(unit(c), unit))
            .unwrap_or_else(|| unit(org_raw));
        check_vendor(
            &mut cx,
            organization.call_recording.vendor,
            &at,
            organization.call_recording.enabled,
        );
    }

    let raw_locations = raw.locations.as_deref().unwrap_or_default();
    let raw_people = raw.people.as_deref().unwrap_or_default();
    let mut locations = Vec::with_capacity(raw_locations.len());
    let mut location_ids: HashMap<String, Position> = HashMap::new();
    for raw_loc in raw_locations {
        let loc = location(&mut cx, raw_loc);
        if let Some(first) = location_ids.get(&loc.id) {
            let first = first.clone();
            cx.report(
                &raw_loc.value.id,
                Rule::Duplicate,
                format!(
                    "location id `{}` is defined twice (first at line {}, column {}); ids must \
                     be unique — rename one",
                    loc.id, first.line, first.column
                ),
            );
        } else {
            location_ids.insert(loc.id.clone(), cx.pos(&raw_loc.value.id));
        }
        if let (false, Some(v)) = (
            loc.call_recording.org_default_enabled,
            loc.call_recording.vendor,
        ) && let Some(at) = raw_loc
            .value
            .call_recording
            .as_ref()
            .and_then(|c| c.value.vendor.as_ref())
        {
            check_vendor(&mut cx, v, &unit(at), organization.call_recording.enabled);
        }
        locations.push(loc);
    }

    let mut people = Vec::with_capacity(raw_people.len());
    let mut extensions: HashMap<String, Position> = HashMap::new();
    let mut person_ids: HashMap<String, Position> = HashMap::new();
    let mut known_locations: Vec<&str> = Vec::new();
    for l in &locations {
        if !known_locations.contains(&l.id.as_str()) {
            known_locations.push(&l.id);
        }
    }
    for raw_person in raw_people {
        let person = person(&mut cx, raw_person, &limits);
        let p = &raw_person.value;
        if let Some(first) = extensions.get(&person.extension) {
            let first = first.clone();
            cx.report(
                &p.extension,
                Rule::Duplicate,
                format!(
                    "extension `{}` is used twice (first at line {}, column {}); extensions \
                     must be unique — change one of them",
                    person.extension, first.line, first.column
                ),
            );
        } else {
            extensions.insert(person.extension.clone(), cx.pos(&p.extension));
        }
        if let (Some(id), Some(raw_id)) = (&person.id, &p.id) {
            if let Some(first) = person_ids.get(id) {
                let first = first.clone();
                cx.report(
                    raw_id,
                    Rule::Duplicate,
                    format!(
                        "person id `{id}` is used twice (first at line {}, column {}); person \
                         ids must be unique — fix or remove one",
                        first.line, first.column
                    ),
                );
            } else {
                person_ids.insert(id.clone(), cx.pos(raw_id));
            }
        }
        let loc = locations.iter().find(|l| l.id == person.location);
        match loc {
            None => {
                let hint = closest(&person.location, known_locations.iter().copied())
                    .map(|c| format!("did you mean `{c}`? "))
                    .unwrap_or_default();
                let known = if known_locations.is_empty() {
                    "none are defined".to_owned()
                } else {
                    format!("known location ids: {}", known_locations.join(", "))
                };
                cx.report(
                    &p.location,
                    Rule::UnknownLocation,
                    format!(
                        "person `{}`: location `{}` is not defined ({known}); {hint}add it \
                         under `locations:` or fix the id",
                        person.extension, person.location
                    ),
                );
            }
            Some(loc) => {
                // POL-14: a Standard licence records only with the Webex vendor.
                let vendor = effective_vendor(&organization, loc);
                if person.license_type == LicenseType::Standard
                    && person.call_recording.enabled
                    && organization.call_recording.enabled
                    && !matches!(vendor, Vendor::Webex | Vendor::None)
                    && let Some(at) = &p.license_type
                {
                    cx.report(
                        at,
                        Rule::Licence,
                        format!(
                            "person `{}` has a Standard licence, which may use call recording \
                             only when the vendor is Webex (POL-14), but the vendor at location \
                             `{}` is `{vendor}` — set licenseType: Professional, make the \
                             vendor Webex, or set callRecording.enabled: false",
                            person.extension, loc.id
                        ),
                    );
                }
            }
        }
        people.push(person);
    }

    if cx.problems.is_empty() {
        Ok(Policy {
            origin: origin.to_owned(),
            organization,
            providers,
            locations,
            people,
            feature_codes,
            limits,
            dialect,
        })
    } else {
        let mut problems = cx.problems;
        problems.sort_by(|a, b| (&a.at, a.message.as_str()).cmp(&(&b.at, b.message.as_str())));
        Err(PolicyErrors { problems })
    }
}

/// The position of any spanned value, without its value (so positions of different types
/// can be passed around together).
fn unit<T>(s: &Spanned<T>) -> Spanned<()> {
    Spanned::new((), s.referenced, s.defined)
}

/// The vendor a location's people get (POL-11): the location's override, else the
/// organisation's default.
pub(crate) fn effective_vendor(org: &Organization, loc: &Location) -> Vendor {
    match (
        loc.call_recording.org_default_enabled,
        loc.call_recording.vendor,
    ) {
        (false, Some(v)) => v,
        _ => org.call_recording.vendor,
    }
}

fn limits(cx: &mut Ctx<'_>, raw: Option<&Spanned<RawLimits>>) -> Limits {
    let mut limits = Limits::default();
    let Some(raw) = raw else { return limits };
    let mut ok = true;
    let mut read = |cx: &mut Ctx<'_>, s: &Option<Spanned<i64>>, name: &str, dst: &mut u32| {
        if let Some(s) = s {
            match u32::try_from(s.value) {
                Ok(v) if v >= 1 => *dst = v,
                _ => {
                    ok = false;
                    cx.report(
                        s,
                        Rule::Limits,
                        format!(
                            "limits.{name} is {}; it must be a whole number of seconds, at \
                             least 1 (seed: 10-90, newer Webex API: 10-1800)",
                            s.value
                        ),
                    );
                }
            }
        }
    };
    read(
        cx,
        &raw.value.repeat_interval_min,
        "repeatIntervalMin",
        &mut limits.repeat_interval_min,
    );
    read(
        cx,
        &raw.value.repeat_interval_max,
        "repeatIntervalMax",
        &mut limits.repeat_interval_max,
    );
    if ok && limits.repeat_interval_min > limits.repeat_interval_max {
        let at = raw
            .value
            .repeat_interval_min
            .as_ref()
            .map_or_else(|| unit(raw), unit);
        cx.report(
            &at,
            Rule::Limits,
            format!(
                "limits.repeatIntervalMin ({}) is above limits.repeatIntervalMax ({}); make \
                 min <= max (seed: 10-90)",
                limits.repeat_interval_min, limits.repeat_interval_max
            ),
        );
    }
    limits
}

/// A feature code as read: absent, present but null, or text.
type NullableCode = Option<Spanned<Option<String>>>;

/// DTMF symbols a phone can dial.
fn is_dtmf(c: char) -> bool {
    c.is_ascii_digit() || c == '*' || c == '#'
}

fn feature_codes(cx: &mut Ctx<'_>, raw: Option<&Spanned<RawFeatureCodes>>) -> FeatureCodes {
    let mut codes = FeatureCodes::default();
    let Some(raw) = raw else { return codes };
    let r = &raw.value;
    let mut seen: Vec<(String, &'static str)> = Vec::new();
    let fields: [(&'static str, &NullableCode, &mut String); 4] = [
        ("start", &r.start, &mut codes.start),
        ("stop", &r.stop, &mut codes.stop),
        ("pause", &r.pause, &mut codes.pause),
        ("resume", &r.resume, &mut codes.resume),
    ];
    for (name, s, dst) in fields {
        let Some(s) = s else {
            seen.push((dst.clone(), name));
            continue;
        };
        let Some(code) = &s.value else {
            cx.report(
                s,
                Rule::FeatureCode,
                format!(
                    "featureCodes.{name} is empty; a `#` after a space starts a YAML comment \
                     and a leading `*` an alias, so quote codes: `{name}: \"*44\"`"
                ),
            );
            continue;
        };
        if code.is_empty() || code.chars().count() > 16 || !code.chars().all(is_dtmf) {
            cx.report(
                s,
                Rule::FeatureCode,
                format!(
                    "featureCodes.{name} is `{code}`; a feature code is 1-16 DTMF symbols \
                     (0-9, *, #), e.g. \"*44\" — fix the code"
                ),
            );
            continue;
        }
        if let Some((_, other)) = seen.iter().find(|(c, _)| c == code) {
            cx.report(
                s,
                Rule::FeatureCode,
                format!(
                    "featureCodes.{name} is `{code}`, the same as featureCodes.{other}; the \
                     platform could not tell them apart — give each action its own code"
                ),
            );
        }
        seen.push((code.clone(), name));
        dst.clone_from(code);
    }
    codes
}

fn failure_behavior(
    cx: &mut Ctx<'_>,
    s: &Option<Spanned<String>>,
    field: &str,
) -> Option<FailureBehavior> {
    s.as_ref()
        .and_then(|s| cx.choice::<FailureBehavior>(s, field, Rule::UnknownValue))
}

fn organization(cx: &mut Ctx<'_>, raw: &Spanned<crate::raw::RawOrganization>) -> Organization {
    let o = &raw.value;
    let mut call_recording = OrgCallRecording {
        enabled: true,
        vendor: Vendor::Dubber,
        storage_region: None,
        failure_behavior: FailureBehavior::ProceedWithCallNoAnnouncement,
    };
    if let Some(cr) = &o.call_recording {
        let c = &cr.value;
        call_recording.enabled = flag(&c.enabled, true);
        if let Some(v) = c.vendor.as_ref().and_then(|v| {
            cx.choice::<Vendor>(
                v,
                "organization.callRecording.vendor",
                Rule::UnknownProvider,
            )
        }) {
            call_recording.vendor = v;
        }
        call_recording.storage_region = text(&c.storage_region);
        if let Some(f) = failure_behavior(
            cx,
            &c.failure_behavior,
            "organization.callRecording.failureBehavior",
        ) {
            call_recording.failure_behavior = f;
        }
    }
    if let Some(r) = &o.region
        && r.value.trim().is_empty()
    {
        cx.report(
            r,
            Rule::InvalidValue,
            "organization.region is empty; give the hosting region code (`US`, `EU`, `UK`, …) \
             or remove the key"
                .to_owned(),
        );
    }
    let compliance_announcement = o
        .compliance_announcement
        .as_ref()
        .map(|c| compliance(cx, &c.value, "organization.complianceAnnouncement"))
        .unwrap_or_default();
    Organization {
        name: text(&o.name).unwrap_or_default(),
        id: text(&o.id),
        region: text(&o.region).filter(|r| !r.trim().is_empty()),
        call_recording,
        compliance_announcement,
    }
}

fn delay(cx: &mut Ctx<'_>, s: &Option<Spanned<i64>>, field: &str) -> u32 {
    let default = ComplianceAnnouncement::default().delay_in_seconds;
    let Some(s) = s else { return default };
    u32::try_from(s.value).unwrap_or_else(|_| {
        cx.report(
            s,
            Rule::InvalidValue,
            format!(
                "{field}.delayInSeconds is {}; it is a whole number of seconds, 0 or more — fix \
                 the delay",
                s.value
            ),
        );
        default
    })
}

fn compliance(cx: &mut Ctx<'_>, c: &RawCompliance, field: &str) -> ComplianceAnnouncement {
    ComplianceAnnouncement {
        inbound_pstn_calls_enabled: flag(&c.inbound, false),
        outbound_pstn_calls_enabled: flag(&c.outbound, false),
        outbound_pstn_calls_delay_enabled: flag(&c.outbound_delay, false),
        delay_in_seconds: delay(cx, &c.delay_in_seconds, field),
    }
}

fn location_compliance(
    cx: &mut Ctx<'_>,
    c: &RawLocationCompliance,
    field: &str,
) -> LocationComplianceAnnouncement {
    LocationComplianceAnnouncement {
        use_org_settings_enabled: flag(&c.use_org_settings_enabled, true),
        settings: ComplianceAnnouncement {
            inbound_pstn_calls_enabled: flag(&c.inbound, false),
            outbound_pstn_calls_enabled: flag(&c.outbound, false),
            outbound_pstn_calls_delay_enabled: flag(&c.outbound_delay, false),
            delay_in_seconds: delay(cx, &c.delay_in_seconds, field),
        },
    }
}

fn providers(
    cx: &mut Ctx<'_>,
    raw: Option<&HashMap<Spanned<String>, Spanned<RawProvider>>>,
) -> BTreeMap<Vendor, SrsEndpoint> {
    let mut out = BTreeMap::new();
    for (key, p) in raw.into_iter().flatten() {
        let vendor = cx.choice::<Vendor>(key, "a `providers` key", Rule::UnknownProvider);
        if vendor == Some(Vendor::None) {
            cx.report(
                key,
                Rule::UnknownProvider,
                "`None` means no recording, so it has no recorder to reach — remove this \
                 `providers` entry"
                    .to_owned(),
            );
            continue;
        }
        // Check the entry even under a misspelt key, so one run shows every mistake.
        let name = &key.value;
        let srs = &p.value.srs;
        let uri = srs.value.trim();
        let rest = uri
            .strip_prefix("sips:")
            .or_else(|| uri.strip_prefix("sip:"));
        if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
            cx.report(
                srs,
                Rule::InvalidValue,
                format!(
                    "providers.{name}.srs is `{}`, which is not a SIP URI; write the \
                     recorder's address as `sip:user@host:port`, e.g. \
                     `sip:recorder@127.0.0.1:5080`",
                    srs.value
                ),
            );
        }
        let transport = p
            .value
            .transport
            .as_ref()
            .and_then(|t| {
                cx.choice::<Transport>(
                    t,
                    &format!("providers.{name}.transport"),
                    Rule::UnknownValue,
                )
            })
            .unwrap_or(Transport::Udp);
        let Some(vendor) = vendor else { continue };
        out.insert(
            vendor,
            SrsEndpoint {
                srs: uri.to_owned(),
                transport,
            },
        );
    }
    out
}

fn location(cx: &mut Ctx<'_>, raw: &Spanned<RawLocation>) -> Location {
    let l = &raw.value;
    let id = l.id.value.trim().to_owned();
    if id.is_empty() {
        cx.report(
            &l.id,
            Rule::InvalidValue,
            "location id is empty; give each location a unique id that people can refer to"
                .to_owned(),
        );
    }
    let mut call_recording = LocationCallRecording {
        org_default_enabled: true,
        vendor: None,
        storage_region: None,
        org_storage_region_enabled: true,
        failure_behavior: None,
        org_failure_behavior_enabled: true,
    };
    if let Some(cr) = &l.call_recording {
        let c = &cr.value;
        let field = |f: &str| format!("location `{id}`: callRecording.{f}");
        call_recording.org_default_enabled = flag(&c.org_default_enabled, true);
        call_recording.vendor = c
            .vendor
            .as_ref()
            .and_then(|v| cx.choice::<Vendor>(v, &field("vendor"), Rule::UnknownProvider));
        call_recording.storage_region = text(&c.storage_region);
        call_recording.org_storage_region_enabled = flag(&c.org_storage_region_enabled, true);
        call_recording.failure_behavior =
            failure_behavior(cx, &c.failure_behavior, &field("failureBehavior"));
        call_recording.org_failure_behavior_enabled = flag(&c.org_failure_behavior_enabled, true);

        match (&c.vendor, &c.org_default_enabled) {
            (Some(v), _) if call_recording.org_default_enabled => cx.report(
                v,
                Rule::Inconsistent,
                format!(
                    "{} `{}` has no effect: orgDefaultEnabled is {}, so the location inherits \
                     the organisation's vendor — set orgDefaultEnabled: false to override, or \
                     remove vendor",
                    field("vendor"),
                    v.value,
                    if c.org_default_enabled.is_some() {
                        "true"
                    } else {
                        "true (the default)"
                    }
                ),
            ),
            (None, Some(flag)) if !flag.value => cx.report(
                flag,
                Rule::Inconsistent,
                format!(
                    "{} is false but no vendor is given — add vendor: Dubber, Imagicle, \
                     CallCabinet, Webex or None, or set orgDefaultEnabled: true",
                    field("orgDefaultEnabled")
                ),
            ),
            _ => {}
        }
        if let Some(flag) = &c.org_failure_behavior_enabled
            && !flag.value
            && c.failure_behavior.is_none()
        {
            cx.report(
                flag,
                Rule::Inconsistent,
                format!(
                    "{} is false but no failureBehavior is given — add failureBehavior (e.g. \
                     PROCEED_WITH_CALL_NO_ANNOUNCEMENT) or set orgFailureBehaviorEnabled: true",
                    field("orgFailureBehaviorEnabled")
                ),
            );
        }
        if let Some(flag) = &c.org_storage_region_enabled
            && !flag.value
            && c.storage_region.is_none()
        {
            cx.report(
                flag,
                Rule::Inconsistent,
                format!(
                    "{} is false but no storageRegion is given — add storageRegion (e.g. US) \
                     or set orgStorageRegionEnabled: true",
                    field("orgStorageRegionEnabled")
                ),
            );
        }
    }
    let compliance_announcement = l
        .compliance_announcement
        .as_ref()
        .map(|c| {
            location_compliance(
                cx,
                &c.value,
                &format!("location `{id}`: complianceAnnouncement"),
            )
        })
        .unwrap_or(LocationComplianceAnnouncement {
            use_org_settings_enabled: true,
            settings: ComplianceAnnouncement::default(),
        });
    Location {
        name: text(&l.name).unwrap_or_else(|| id.clone()),
        id,
        call_recording,
        compliance_announcement,
    }
}

fn person(cx: &mut Ctx<'_>, raw: &Spanned<RawPerson>, limits: &Limits) -> Person {
    let p = &raw.value;
    let extension = p.extension.value.trim().to_owned();
    if extension.is_empty() || !extension.chars().all(|c| c.is_ascii_digit()) {
        cx.report(
            &p.extension,
            Rule::InvalidValue,
            format!(
                "extension `{}` is not a dialable extension; use digits only, e.g. \"1001\"",
                p.extension.value
            ),
        );
    }
    let license_type = p
        .license_type
        .as_ref()
        .and_then(|l| {
            cx.choice::<LicenseType>(
                l,
                &format!("person `{extension}`: licenseType"),
                Rule::UnknownValue,
            )
        })
        .unwrap_or(LicenseType::Professional);
    let call_recording = match &p.call_recording {
        Some(cr) => person_recording(cx, &cr.value, &extension, limits),
        None => person_recording(cx, &empty_person_recording(), &extension, limits),
    };
    Person {
        id: text(&p.id),
        display_name: text(&p.display_name).unwrap_or_else(|| extension.clone()),
        location: p.location.value.trim().to_owned(),
        extension,
        license_type,
        call_recording,
    }
}

fn empty_person_recording() -> RawPersonRecording {
    RawPersonRecording {
        enabled: None,
        record: None,
        record_voicemail_enabled: None,
        start_stop_announcement_enabled: None,
        start_stop_announcement: None,
        notification: None,
        repeat: None,
        service_provider: None,
        external_group: None,
        external_identifier: None,
        selective_call_recording_settings: None,
        call_recording_access_settings: None,
    }
}

fn person_recording(
    cx: &mut Ctx<'_>,
    c: &RawPersonRecording,
    ext: &str,
    limits: &Limits,
) -> PersonCallRecording {
    let field = |f: &str| format!("person `{ext}`: callRecording.{f}");
    let record = c
        .record
        .as_ref()
        .and_then(|r| cx.choice::<RecordMode>(r, &field("record"), Rule::UnknownValue))
        .unwrap_or(RecordMode::Never);

    let legacy_announcement = flag(&c.start_stop_announcement_enabled, false);
    let start_stop_announcement = match &c.start_stop_announcement {
        Some(s) => StartStopAnnouncement {
            internal_calls_enabled: flag(&s.value.internal_calls_enabled, legacy_announcement),
            pstn_calls_enabled: flag(&s.value.pstn_calls_enabled, legacy_announcement),
        },
        None => StartStopAnnouncement {
            internal_calls_enabled: legacy_announcement,
            pstn_calls_enabled: legacy_announcement,
        },
    };

    let notification = match &c.notification {
        None => Notification {
            enabled: false,
            kind: NotificationType::Beep,
        },
        Some(n) => Notification {
            enabled: flag(&n.value.enabled, false),
            kind: n
                .value
                .kind
                .as_ref()
                .and_then(|k| {
                    cx.choice::<NotificationType>(
                        k,
                        &field("notification.type"),
                        Rule::UnknownValue,
                    )
                })
                .unwrap_or(NotificationType::Beep),
        },
    };

    let mut repeat = Repeat {
        enabled: false,
        interval: DEFAULT_REPEAT_INTERVAL,
    };
    if let Some(r) = &c.repeat {
        repeat.enabled = flag(&r.value.enabled, false);
        let (lo, hi) = (limits.repeat_interval_min, limits.repeat_interval_max);
        let limits_ok = lo <= hi;
        match &r.value.interval {
            Some(i) => {
                let in_range = u32::try_from(i.value)
                    .ok()
                    .filter(|v| !limits_ok || (lo..=hi).contains(v));
                match in_range {
                    Some(v) => repeat.interval = v,
                    None => {
                        let which = if i.value < i64::from(lo) {
                            "limits.repeatIntervalMin"
                        } else {
                            "limits.repeatIntervalMax"
                        };
                        cx.report(
                            i,
                            Rule::RepeatInterval,
                            format!(
                                "{} is {} s; the profile allows {lo}-{hi} s (seed default \
                                 {DEFAULT_REPEAT_INTERVAL}) — set it within the range or change \
                                 {which}",
                                field("repeat.interval"),
                                i.value
                            ),
                        );
                    }
                }
            }
            None if repeat.enabled
                && limits_ok
                && !(lo..=hi).contains(&DEFAULT_REPEAT_INTERVAL) =>
            {
                cx.report(
                    r,
                    Rule::RepeatInterval,
                    format!(
                        "{} is on without an interval, and the default \
                         {DEFAULT_REPEAT_INTERVAL} s is outside the profile's {lo}-{hi} s — add \
                         an interval within the range",
                        field("repeat")
                    ),
                );
            }
            None => {}
        }
    }

    PersonCallRecording {
        enabled: flag(&c.enabled, false),
        record,
        record_voicemail_enabled: flag(&c.record_voicemail_enabled, false),
        start_stop_announcement_enabled: legacy_announcement,
        start_stop_announcement,
        notification,
        repeat,
        service_provider: text(&c.service_provider),
        external_group: text(&c.external_group),
        external_identifier: text(&c.external_identifier),
        selective_call_recording_settings: c
            .selective_call_recording_settings
            .as_ref()
            .map(|s| selective(&s.value))
            .unwrap_or_default(),
        call_recording_access_settings: c
            .call_recording_access_settings
            .as_ref()
            .map(|a| access(&a.value)),
    }
}

fn selective(s: &RawSelective) -> SelectiveCallRecording {
    SelectiveCallRecording {
        record_inbound_internal_calls_enabled: flag(&s.record_inbound_internal_calls_enabled, true),
        record_inbound_external_calls_enabled: flag(&s.record_inbound_external_calls_enabled, true),
        record_outbound_internal_calls_enabled: flag(
            &s.record_outbound_internal_calls_enabled,
            true,
        ),
        record_outbound_external_calls_enabled: flag(
            &s.record_outbound_external_calls_enabled,
            true,
        ),
    }
}

fn access(a: &RawAccess) -> CallRecordingAccess {
    CallRecordingAccess {
        view_and_play_recordings_enabled: flag(&a.view_and_play_recordings_enabled, false),
        download_recordings_enabled: flag(&a.download_recordings_enabled, false),
        delete_recordings_enabled: flag(&a.delete_recordings_enabled, false),
        share_recordings_enabled: flag(&a.share_recordings_enabled, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_case_and_small_typos() {
        let names = ["Dubber", "Imagicle", "CallCabinet", "Webex", "None"];
        assert_eq!(closest("dubber", names), Some("Dubber"));
        assert_eq!(closest("Imagicel", names), Some("Imagicle"));
        assert_eq!(closest("Call Cabinet", names), Some("CallCabinet"));
        assert_eq!(closest("Verint", names), None);
    }

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
