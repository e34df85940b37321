//! Proto messages to domain values and back, and the resource names of the service.
//! Parsing collects every malformed field, named by its path in the request.

use edu_kit::error::{FieldProblems, quote, reason as kit_reason};
/// Instants and dates on the wire, as everywhere in the suite.
pub use edu_kit::wire::{date, mask_paths, timestamp};
use edu_kit::{ApiError, etag, resource, wire};
use edu_proto::edu::partnerships::v1 as pb;
use jiff::Timestamp;

use crate::domain::year::{CapKind, Module, YearPhase, parse_year_id};
use crate::domain::{Caps, ProgrammeYear};
use crate::store::years::YearRecord;

/// Longest display names and titles.
pub const MAX_NAME_CHARS: usize = 300;

/// A year's ID from its name, `years/{year}`. Any well-formed ID is taken (a name of a
/// year that cannot exist is simply not found, like any other missing one); only
/// CreateProgrammeYear insists on the `yyyy-yyyy` form.
pub fn year_id(name: &str, field: &str) -> Result<String, ApiError> {
    name.strip_prefix("years/")
        .filter(|id| parse_year_id(id).is_ok() || resource::parse_id(id).is_ok())
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                field,
                format!(
                    "expected years/{{year}} with the school year as yyyy-yyyy, got {}",
                    quote(name)
                ),
            )
        })
}

/// A year's ID from a parent that may be `years/-` (every year): `None` for every year.
pub fn year_filter(parent: &str, field: &str) -> Result<Option<String>, ApiError> {
    if parent == "years/-" {
        Ok(None)
    } else {
        year_id(parent, field).map(Some)
    }
}

/// A child of a year, `years/{year}/{collection}/{id}`: the year's and the child's IDs.
pub fn year_child(name: &str, collection: &str, field: &str) -> Result<(String, String), ApiError> {
    let bad = || {
        ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            field,
            format!(
                "expected years/{{year}}/{collection}/{{id}}, got {}",
                quote(name)
            ),
        )
    };
    let rest = name.strip_prefix("years/").ok_or_else(bad)?;
    let (year, rest) = rest.split_once('/').ok_or_else(bad)?;
    let (coll, id) = rest.split_once('/').ok_or_else(bad)?;
    if coll != collection {
        return Err(bad());
    }
    year_id(&format!("years/{year}"), field).map_err(|_| bad())?;
    let id = resource::parse_name(&format!("x/{id}"), "x", field).map_err(|_| bad())?;
    Ok((year.to_string(), id))
}

/// A school's ID from its name, `schools/{school}`.
pub fn school_id(name: &str, field: &str) -> Result<String, ApiError> {
    resource::parse_name(name, "schools", field)
}

/// An innovation's school and ID from its name, `schools/{school}/innovations/{id}`.
pub fn innovation_id(name: &str, field: &str) -> Result<(String, String), ApiError> {
    resource::parse_child_name(name, "schools", "innovations", field)
}

/// The resource name of a school.
pub fn school_name(id: &str) -> String {
    format!("schools/{id}")
}

/// The resource name of an innovation.
pub fn innovation_name(school: &str, id: &str) -> String {
    format!("schools/{school}/innovations/{id}")
}

/// The resource name of a child of a year.
pub fn year_child_name(year: &str, collection: &str, id: &str) -> String {
    format!("years/{year}/{collection}/{id}")
}

/// An optional filter of a list request: `None` for the zero value, else the value
/// `parse` makes of it; `INVALID_ARGUMENT` naming `field` for an unknown one.
pub fn enum_filter<T>(
    raw: i32,
    field: &str,
    parse: impl Fn(i32) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    if raw == 0 {
        return Ok(None);
    }
    parse(raw).map(Some).ok_or_else(|| {
        ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            field,
            format!("{raw} is not a value of this enum"),
        )
    })
}

/// An optional region filter, `BG-xx`.
pub fn region_filter(raw: &str, field: &str) -> Result<Option<String>, ApiError> {
    if raw.is_empty() {
        return Ok(None);
    }
    if crate::domain::regions::is_bulgarian(raw) {
        Ok(Some(raw.to_string()))
    } else {
        Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            field,
            format!("{} is not a Bulgarian region (BG-01 to BG-28)", quote(raw)),
        ))
    }
}

/// Any ISO 3166-2 region code, upper-cased (lower case is accepted): the region summary
/// answers for a region of another country too, with nothing in it, where the other
/// requests take only Bulgarian regions ([`region_filter`]).
pub fn region_code(raw: &str, field: &str) -> Result<String, ApiError> {
    edu_kit::region::RegionCode::parse(raw)
        .map(|r| r.as_str().to_string())
        .map_err(|e| ApiError::invalid_field(kit_reason::INVALID_FIELDS, field, e.to_string()))
}

/// Fields of a year that UpdateProgrammeYear may change.
pub const YEAR_FIELDS: [&str; 9] = [
    "display_name",
    "time_zone",
    "application_start_date",
    "application_end_date",
    "modules",
    "innovative_school_cap",
    "non_innovative_school_cap",
    "annex_deadline",
    "max_mobility_days",
];

/// A year from the request's message: every field checked, each problem named under
/// `prefix` (`programme_year`). `base` supplies the stored values for an update: only the
/// fields in `mask` are taken from the message.
pub fn year_spec(
    id: &str,
    from: &pb::ProgrammeYear,
    base: Option<&ProgrammeYear>,
    mask: &[String],
    now: Timestamp,
) -> Result<ProgrammeYear, ApiError> {
    let mut problems = FieldProblems::new();
    let take = |field: &str| base.is_none() || mask.iter().any(|m| m == field);
    let f = |field: &str| format!("programme_year.{field}");
    let mut year = base.cloned().unwrap_or_else(|| ProgrammeYear {
        id: id.to_string(),
        display_name: String::new(),
        time_zone: String::new(),
        application_start: jiff::civil::date(2000, 1, 1),
        application_end: jiff::civil::date(2000, 1, 1),
        modules: Vec::new(),
        caps: Caps {
            innovative: 0,
            non_innovative: 0,
        },
        annex_deadline: jiff::civil::date(2000, 1, 1),
        max_mobility_days: 0,
        create_time: now,
        update_time: now,
        version: 0,
    });
    if take("display_name") {
        year.display_name =
            problems.text(&f("display_name"), &from.display_name, MAX_NAME_CHARS, true);
    }
    if take("time_zone") {
        if jiff::tz::TimeZone::get(&from.time_zone).is_err() || from.time_zone.is_empty() {
            problems.add(
                f("time_zone"),
                format!("{} is not an IANA time zone", quote(&from.time_zone)),
            );
        }
        year.time_zone = from.time_zone.clone();
    }
    let mut date_field = |field: &str, value: Option<&edu_proto::google::r#type::Date>| {
        problems.field(wire::civil_date(value, &f(field)))
    };
    if take("application_start_date")
        && let Some(d) = date_field(
            "application_start_date",
            from.application_start_date.as_ref(),
        )
    {
        year.application_start = d;
    }
    if take("application_end_date")
        && let Some(d) = date_field("application_end_date", from.application_end_date.as_ref())
    {
        year.application_end = d;
    }
    if take("annex_deadline")
        && let Some(d) = date_field("annex_deadline", from.annex_deadline.as_ref())
    {
        year.annex_deadline = d;
    }
    if take("modules") {
        year.modules = modules(&mut problems, &from.modules);
    }
    let mut bounded = |field: &str, value: i32, max: i32| -> u32 {
        if !(1..=max).contains(&value) {
            problems.add(f(field), format!("must be 1 to {max}"));
        }
        u32::try_from(value).unwrap_or(0)
    };
    if take("innovative_school_cap") {
        year.caps.innovative =
            bounded("innovative_school_cap", from.innovative_school_cap, 100_000);
    }
    if take("non_innovative_school_cap") {
        year.caps.non_innovative = bounded(
            "non_innovative_school_cap",
            from.non_innovative_school_cap,
            100_000,
        );
    }
    if take("max_mobility_days") {
        year.max_mobility_days =
            u8::try_from(bounded("max_mobility_days", from.max_mobility_days, 14)).unwrap_or(0);
    }
    if problems.is_empty() {
        if year.application_end < year.application_start {
            problems.add(
                f("application_end_date"),
                "must not be before application_start_date",
            );
        }
        if year.annex_deadline < year.application_end {
            problems.add(
                f("annex_deadline"),
                "must not be before application_end_date",
            );
        }
    }
    problems.finish()?;
    Ok(year)
}

fn modules(problems: &mut FieldProblems, from: &[pb::ProgrammeModule]) -> Vec<Module> {
    if from.is_empty() || from.len() > 10 {
        problems.add("programme_year.modules", "1 to 10 modules");
    }
    let mut parsed: Vec<Module> = Vec::new();
    for (i, m) in from.iter().enumerate() {
        let field = format!("programme_year.modules[{i}]");
        let Ok(number) = u8::try_from(m.number) else {
            problems.add(format!("{field}.number"), "must be 1 to 99");
            continue;
        };
        if !(1..=99).contains(&number) {
            problems.add(format!("{field}.number"), "must be 1 to 99");
        } else if parsed.iter().any(|p| p.number == number) {
            problems.add(
                format!("{field}.number"),
                format!("module {number} is listed twice"),
            );
        }
        let name = problems.text(
            &format!("{field}.display_name"),
            &m.display_name,
            MAX_NAME_CHARS,
            false,
        );
        parsed.push(Module {
            number,
            display_name: if name.is_empty() {
                format!("Модул {number}")
            } else {
                name
            },
        });
    }
    parsed.sort_by_key(|m| m.number);
    parsed
}

fn phase(p: YearPhase) -> pb::YearPhase {
    match p {
        YearPhase::Upcoming => pb::YearPhase::Upcoming,
        YearPhase::WindowOpen => pb::YearPhase::WindowOpen,
        YearPhase::Planning => pb::YearPhase::Planning,
        YearPhase::Delivery => pb::YearPhase::Delivery,
    }
}

/// A cap's kind on the wire.
pub fn cap_kind(kind: CapKind) -> pb::CapKind {
    match kind {
        CapKind::Innovative => pb::CapKind::InnovativeSchools,
        CapKind::NonInnovative => pb::CapKind::NonInnovativeSchools,
    }
}

/// A year as the API shows it at `now`.
pub fn year(record: &YearRecord, now: Timestamp) -> pb::ProgrammeYear {
    let y = &record.year;
    pb::ProgrammeYear {
        name: format!("years/{}", y.id),
        display_name: y.display_name.clone(),
        time_zone: y.time_zone.clone(),
        application_start_date: Some(date(y.application_start)),
        application_end_date: Some(date(y.application_end)),
        application_open_time: Some(timestamp(y.opens_at())),
        application_close_time: Some(timestamp(y.closes_at())),
        modules: y
            .modules
            .iter()
            .map(|m| pb::ProgrammeModule {
                number: i32::from(m.number),
                display_name: m.display_name.clone(),
            })
            .collect(),
        innovative_school_cap: i32::try_from(y.caps.innovative).unwrap_or(i32::MAX),
        non_innovative_school_cap: i32::try_from(y.caps.non_innovative).unwrap_or(i32::MAX),
        annex_deadline: Some(date(y.annex_deadline)),
        annex_deadline_time: Some(timestamp(y.annexes_close_at())),
        max_mobility_days: i32::from(y.max_mobility_days),
        phase: phase(y.phase(now)) as i32,
        create_time: Some(timestamp(y.create_time)),
        update_time: Some(timestamp(y.update_time)),
        etag: etag::of(y.version),
    }
}

use crate::store::applications::{Application, Interest};
use crate::store::contracts::Contract;
use crate::store::groups::{Group, Mobility};
use crate::store::schools::{Candidate, Innovation, School};

/// A school as the API shows it.
pub fn school(s: &School) -> pb::School {
    pb::School {
        name: school_name(&s.id),
        display_name: s.display_name.clone(),
        neispuo_code: s.neispuo_code.clone(),
        region_code: s.region_code.clone(),
        municipality_code: s.municipality_code.clone(),
        municipality_name: s.municipality_name.clone(),
        official_email: s.official_email.clone(),
        innovative: s.innovative,
        innovative_list_basis: s.innovative_list_basis.clone(),
        innovative_list_change_time: s.innovative_list_change_time.map(timestamp),
        create_time: Some(timestamp(s.create_time)),
        update_time: Some(timestamp(s.update_time)),
        etag: etag::of(s.version),
    }
}

/// Innovation areas: stored name and wire value.
const AREAS: [(&str, pb::InnovationArea); 5] = [
    ("CURRICULUM_CONTENT", pb::InnovationArea::CurriculumContent),
    (
        "LEARNING_ORGANISATION",
        pb::InnovationArea::LearningOrganisation,
    ),
    ("TEACHING_METHODS", pb::InnovationArea::TeachingMethods),
    (
        "LEARNING_ENVIRONMENT",
        pb::InnovationArea::LearningEnvironment,
    ),
    ("SCHOOL_MANAGEMENT", pb::InnovationArea::SchoolManagement),
];

/// The stored name of an area on the wire; `None` for an unknown or unset one.
pub fn area_from(raw: i32) -> Option<&'static str> {
    AREAS
        .iter()
        .find(|(_, a)| *a as i32 == raw)
        .map(|(name, _)| *name)
}

fn area(stored: &str) -> pb::InnovationArea {
    AREAS
        .iter()
        .find(|(name, _)| *name == stored)
        .map(|(_, a)| *a)
        .unwrap_or(pb::InnovationArea::Unspecified)
}

/// An innovation as the API shows it.
pub fn innovation(i: &Innovation) -> pb::Innovation {
    pb::Innovation {
        name: innovation_name(&i.school_id, &i.id),
        area: area(&i.area) as i32,
        title: i.title.clone(),
        description: i.description.clone(),
        school_display_name: i.school_display_name.clone(),
        region_code: i.region_code.clone(),
        municipality_name: i.municipality_name.clone(),
        school_innovative: i.school_innovative,
        create_time: Some(timestamp(i.create_time)),
        update_time: Some(timestamp(i.update_time)),
        etag: etag::of(i.version),
    }
}

/// A partner candidate as the API shows it.
pub fn candidate(year: &str, asking: &str, c: &Candidate) -> pb::PartnerCandidate {
    pb::PartnerCandidate {
        school: school_name(&c.school.id),
        display_name: c.school.display_name.clone(),
        region_code: c.school.region_code.clone(),
        municipality_name: c.school.municipality_name.clone(),
        kind: if c.kind == "INNOVATIVE" {
            pb::CandidateKind::Innovative
        } else {
            pb::CandidateKind::InterestedNonInnovative
        } as i32,
        shared_modules: c.shared_modules.iter().map(|m| i32::from(*m)).collect(),
        distance_km: c.distance_km,
        innovations: c
            .innovations
            .iter()
            .map(|i| innovation_name(asking, i))
            .collect(),
        proposed_contract: c
            .proposed_contract
            .as_deref()
            .map(|id| year_child_name(year, "contracts", id))
            .unwrap_or_default(),
    }
}

/// An application as the API shows it.
pub fn application(a: &Application) -> pb::Application {
    pb::Application {
        name: year_child_name(&a.year_id, "applications", &a.id),
        school: school_name(&a.school_id),
        modules: a.modules.iter().map(|m| i32::from(*m)).collect(),
        motivation: a.motivation.clone(),
        state: match a.state.as_str() {
            "SUBMITTED" => pb::ApplicationState::Submitted,
            _ => pb::ApplicationState::Withdrawn,
        } as i32,
        innovative: a.innovative,
        school_display_name: a.school_display_name.clone(),
        region_code: a.region_code.clone(),
        create_time: Some(timestamp(a.create_time)),
        withdraw_time: a.withdraw_time.map(timestamp),
        etag: etag::of(a.version),
    }
}

/// An interest declaration as the API shows it.
pub fn interest(i: &Interest) -> pb::Interest {
    pb::Interest {
        name: year_child_name(&i.year_id, "interests", &i.id),
        school: school_name(&i.school_id),
        innovation: innovation_name(&i.innovation_school_id, &i.innovation_id),
        innovative_school: school_name(&i.innovation_school_id),
        note: i.note.clone(),
        state: match i.state.as_str() {
            "DECLARED" => pb::InterestState::Declared,
            _ => pb::InterestState::Withdrawn,
        } as i32,
        contract: i
            .contract
            .as_deref()
            .map(|c| year_child_name(&i.year_id, "contracts", c))
            .unwrap_or_default(),
        create_time: Some(timestamp(i.create_time)),
        withdraw_time: i.withdraw_time.map(timestamp),
        etag: etag::of(i.version),
    }
}

/// Contract states: stored name and wire value.
pub const CONTRACT_STATES: [(&str, pb::ContractState); 4] = [
    ("PROPOSED", pb::ContractState::Proposed),
    ("SIGNED", pb::ContractState::Signed),
    ("WITHDRAWN", pb::ContractState::Withdrawn),
    ("LAPSED", pb::ContractState::Lapsed),
];

/// Contract kinds: stored name and wire value.
pub const CONTRACT_KINDS: [(&str, pb::ContractKind); 2] = [
    ("INNOVATIVE_PAIR", pb::ContractKind::InnovativePair),
    (
        "INNOVATIVE_AND_NON_INNOVATIVE",
        pb::ContractKind::InnovativeAndNonInnovative,
    ),
];

/// The stored name of a wire enum value, by a table of both.
pub fn stored<E: Copy + Into<i32>>(table: &[(&'static str, E)], raw: i32) -> Option<&'static str> {
    table
        .iter()
        .find(|(_, e)| (*e).into() == raw)
        .map(|(name, _)| *name)
}

fn wire<E: Copy + Into<i32>>(table: &[(&'static str, E)], stored: &str) -> i32 {
    table
        .iter()
        .find(|(name, _)| *name == stored)
        .map(|(_, e)| (*e).into())
        .unwrap_or(0)
}

/// A contract as the API shows it.
pub fn contract(c: &Contract) -> pb::Contract {
    let y = &c.year_id;
    pb::Contract {
        name: year_child_name(y, "contracts", &c.id),
        proposer: school_name(&c.proposer_id),
        counterparty: school_name(&c.counterparty_id),
        innovation: c
            .innovation
            .as_ref()
            .map(|(s, i)| innovation_name(s, i))
            .unwrap_or_default(),
        note: c.note.clone(),
        kind: wire(&CONTRACT_KINDS, &c.kind),
        state: wire(&CONTRACT_STATES, &c.state),
        interest: c
            .interest_id
            .as_deref()
            .map(|i| year_child_name(y, "interests", i))
            .unwrap_or_default(),
        shared_modules: c.shared_modules.iter().map(|m| i32::from(*m)).collect(),
        group: c
            .group_id
            .as_deref()
            .map(|g| year_child_name(y, "groups", g))
            .unwrap_or_default(),
        withdrawn_by: c
            .withdrawn_by
            .as_deref()
            .map(school_name)
            .unwrap_or_default(),
        withdraw_reason: c.withdraw_reason.clone(),
        lapse_reason: c.lapse_reason.clone(),
        superseded_by: c
            .superseded_by
            .as_deref()
            .map(|s| year_child_name(y, "contracts", s))
            .unwrap_or_default(),
        create_time: Some(timestamp(c.create_time)),
        sign_time: c.sign_time.map(timestamp),
        update_time: Some(timestamp(c.update_time)),
        etag: etag::of(c.version),
    }
}

/// A group as the API shows it.
pub fn group(g: &Group) -> pb::Group {
    let y = &g.year_id;
    let side =
        |(innovative, partner, contract): &(String, String, String), i: usize| pb::GroupSide {
            innovative_school: school_name(innovative),
            non_innovative_school: school_name(partner),
            contract: year_child_name(y, "contracts", contract),
            innovation: g.innovations[i].clone(),
            hosted_mobility: format!("years/{y}/groups/{}/mobilities/{}", g.id, g.mobilities[i]),
        };
    pb::Group {
        name: year_child_name(y, "groups", &g.id),
        state: if g.state == "APPROVED" {
            pb::GroupState::Approved
        } else {
            pb::GroupState::Formed
        } as i32,
        sides: vec![side(&g.side_a, 0), side(&g.side_b, 1)],
        pair_contract: year_child_name(y, "contracts", &g.pair_contract),
        region_codes: g.region_codes.clone(),
        form_time: Some(timestamp(g.form_time)),
        approve_time: g.approve_time.map(timestamp),
        etag: etag::of(g.version),
    }
}

/// Mobility states: domain and wire value.
pub fn mobility_state(s: crate::domain::mobility::MobilityState) -> pb::MobilityState {
    use crate::domain::mobility::MobilityState as S;
    match s {
        S::Planning => pb::MobilityState::Planning,
        S::AnnexFiled => pb::MobilityState::AnnexFiled,
        S::Held => pb::MobilityState::Held,
        S::AnnexMissed => pb::MobilityState::AnnexMissed,
    }
}

/// A mobility as the API shows it.
pub fn mobility(m: &Mobility) -> pb::Mobility {
    let y = &m.year_id;
    let participants: Vec<String> = m.participants.iter().map(|s| school_name(s)).collect();
    pb::Mobility {
        name: format!("years/{y}/groups/{}/mobilities/{}", m.group_id, m.id),
        host_school: school_name(&m.host_school),
        participant_schools: participants.clone(),
        start_date: m.start_date.map(date),
        end_date: m.end_date.map(date),
        programme: m.programme.clone(),
        state: mobility_state(m.state) as i32,
        annex: m.annex_time.map(|t| pb::Annex {
            start_date: m.start_date.map(date),
            end_date: m.end_date.map(date),
            programme: m.programme.clone(),
            schools: participants,
            contracts: crate::store::groups::contract_names(y, m),
            file_time: Some(timestamp(t)),
        }),
        held_report: m.held_report.clone(),
        held_time: m.held_time.map(timestamp),
        create_time: Some(timestamp(m.create_time)),
        update_time: Some(timestamp(m.update_time)),
        etag: etag::of(m.version),
    }
}
