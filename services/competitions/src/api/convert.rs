//! Proto messages to domain values and back. Parsing collects every malformed field, named
//! by its path in the request.

use edu_kit::error::{FieldProblem, quote, reason as kit_reason};
/// Instants on the wire, as everywhere in the suite.
pub use edu_kit::wire::timestamp;
use edu_kit::{ApiError, etag, wire};
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::google::r#type::Date as PbDate;

use crate::domain::contest::{
    ContestSpecInput, CriterionInput, NominationInput, RawDate, SpecField,
};
use crate::domain::{
    Application, ApplicationState, Contest, ContestState, Team, TeamLevel, TeamMember,
    TeamMemberRole,
};

/// Update masks, as everywhere in the suite.
pub use edu_kit::wire::mask_paths;

fn raw_date(d: Option<&PbDate>) -> RawDate {
    d.map(|d| RawDate {
        year: d.year,
        month: d.month,
        day: d.day,
    })
    .unwrap_or_default()
}

/// A contest's state on the wire.
pub fn contest_state(s: ContestState) -> pb::ContestState {
    match s {
        ContestState::Draft => pb::ContestState::Draft,
        ContestState::Open => pb::ContestState::Open,
        ContestState::Closed => pb::ContestState::Closed,
        ContestState::Announced => pb::ContestState::Announced,
        ContestState::Cancelled => pb::ContestState::Cancelled,
    }
}

/// A state filter of a list request: `None` for unspecified.
pub fn contest_state_filter(raw: i32) -> Result<Option<ContestState>, ApiError> {
    match pb::ContestState::try_from(raw) {
        Ok(pb::ContestState::Unspecified) => Ok(None),
        Ok(pb::ContestState::Draft) => Ok(Some(ContestState::Draft)),
        Ok(pb::ContestState::Open) => Ok(Some(ContestState::Open)),
        Ok(pb::ContestState::Closed) => Ok(Some(ContestState::Closed)),
        Ok(pb::ContestState::Announced) => Ok(Some(ContestState::Announced)),
        Ok(pb::ContestState::Cancelled) => Ok(Some(ContestState::Cancelled)),
        Err(_) => Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            "state",
            format!("{raw} is not a contest state"),
        )),
    }
}

fn team_level(l: TeamLevel) -> pb::TeamLevel {
    match l {
        TeamLevel::Regional => pb::TeamLevel::Regional,
        TeamLevel::Municipal => pb::TeamLevel::Municipal,
    }
}

/// A team level from the wire; `None` for unspecified or unknown values.
pub fn team_level_from(raw: i32) -> Option<TeamLevel> {
    match pb::TeamLevel::try_from(raw) {
        Ok(pb::TeamLevel::Regional) => Some(TeamLevel::Regional),
        Ok(pb::TeamLevel::Municipal) => Some(TeamLevel::Municipal),
        _ => None,
    }
}

/// A contest as callers see it.
pub fn contest(c: &Contest) -> pb::Contest {
    let spec = &c.spec;
    pb::Contest {
        name: format!("contests/{}", c.id),
        title: spec.title.clone(),
        description: spec.description.clone(),
        organiser: spec.organiser.clone(),
        state: contest_state(c.state) as i32,
        time_zone: spec.time_zone_name.clone(),
        application_deadline: Some(wire::date(spec.application_deadline)),
        application_deadline_time: Some(wire::timestamp(c.deadline().closes_at())),
        results_due: Some(wire::date(spec.results_due)),
        nominations: spec
            .nominations
            .iter()
            .map(|n| pb::Nomination {
                id: n.id.clone(),
                title: n.title.clone(),
                description: n.description.clone(),
            })
            .collect(),
        eligible_levels: spec
            .eligible_levels
            .iter()
            .map(|l| team_level(*l) as i32)
            .collect(),
        max_applications_per_team: i32::from(spec.max_applications_per_team),
        experts_per_application: i32::from(spec.experts_per_application),
        criteria: spec
            .criteria
            .iter()
            .map(|k| pb::Criterion {
                id: k.id.clone(),
                title: k.title.clone(),
                description: k.description.clone(),
                min_score: i32::from(k.min_score),
                max_score: i32::from(k.max_score),
                weight: i32::from(k.weight),
            })
            .collect(),
        create_time: Some(wire::timestamp(c.create_time)),
        update_time: Some(wire::timestamp(c.update_time)),
        open_time: c.open_time.map(timestamp),
        close_time: c.close_time.map(timestamp),
        announce_time: c.announce_time.map(timestamp),
        cancel_time: c.cancel_time.map(timestamp),
        cancel_reason: c.cancel_reason.clone().unwrap_or_default(),
        etag: etag::of(c.version),
    }
}

/// Copies one field of a proto contest into the domain input.
fn set_spec_field(input: &mut ContestSpecInput, field: SpecField, from: &pb::Contest) {
    match field {
        SpecField::Title => input.title = from.title.clone(),
        SpecField::Description => input.description = from.description.clone(),
        SpecField::Organiser => input.organiser = from.organiser.clone(),
        SpecField::TimeZone => input.time_zone = from.time_zone.clone(),
        SpecField::ApplicationDeadline => {
            input.application_deadline = raw_date(from.application_deadline.as_ref())
        }
        SpecField::ResultsDue => input.results_due = raw_date(from.results_due.as_ref()),
        SpecField::Nominations => {
            input.nominations = from
                .nominations
                .iter()
                .map(|n| NominationInput {
                    id: n.id.clone(),
                    title: n.title.clone(),
                    description: n.description.clone(),
                })
                .collect()
        }
        SpecField::EligibleLevels => {
            input.eligible_levels = from
                .eligible_levels
                .iter()
                .map(|l| team_level_from(*l))
                .collect()
        }
        SpecField::MaxApplicationsPerTeam => {
            input.max_applications_per_team = from.max_applications_per_team
        }
        SpecField::ExpertsPerApplication => {
            input.experts_per_application = from.experts_per_application
        }
        SpecField::Criteria => {
            input.criteria = from
                .criteria
                .iter()
                .map(|k| CriterionInput {
                    id: k.id.clone(),
                    title: k.title.clone(),
                    description: k.description.clone(),
                    min_score: k.min_score,
                    max_score: k.max_score,
                    weight: k.weight,
                })
                .collect()
        }
    }
}

/// The definition of a contest to create.
pub fn new_contest_spec(from: &pb::Contest) -> ContestSpecInput {
    let mut input = ContestSpecInput::default();
    for field in SpecField::ALL {
        set_spec_field(&mut input, field, from);
    }
    input
}

/// The fields an update mask names; `*` names them all.
pub fn spec_fields(mask: Option<&prost_types::FieldMask>) -> Result<Vec<SpecField>, ApiError> {
    let paths = mask.map(|m| m.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        return Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            "update_mask",
            "name the fields to change",
        ));
    }
    if paths.iter().any(|p| p == "*") {
        return Ok(SpecField::ALL.to_vec());
    }
    let mut fields = Vec::new();
    let mut unknown = Vec::new();
    for path in paths {
        match SpecField::parse(path) {
            Some(field) => fields.push(field),
            None => unknown.push(FieldProblem {
                field: "update_mask".into(),
                description: format!("{} is not a field that can be changed", quote(path)),
            }),
        }
    }
    if unknown.is_empty() {
        Ok(fields)
    } else {
        Err(ApiError::invalid_fields(unknown))
    }
}

/// The current definition with the masked fields taken from the request.
pub fn merged_spec(
    current: &Contest,
    from: &pb::Contest,
    fields: &[SpecField],
) -> ContestSpecInput {
    let mut input = current.spec.to_input();
    for field in fields {
        set_spec_field(&mut input, *field, from);
    }
    input
}

/// A team as callers see it.
pub fn team(t: &Team) -> pb::Team {
    let municipality = t.spec.municipality.as_ref();
    pb::Team {
        name: format!("teams/{}", t.id),
        display_name: t.spec.display_name.clone(),
        level: team_level(t.spec.level) as i32,
        region_code: t.spec.region.as_str().to_string(),
        municipality_code: municipality.map(|m| m.code.clone()).unwrap_or_default(),
        municipality_name: municipality.map(|m| m.name.clone()).unwrap_or_default(),
        member_count: i32::try_from(t.member_count).unwrap_or(i32::MAX),
        create_time: Some(wire::timestamp(t.create_time)),
        update_time: Some(wire::timestamp(t.update_time)),
        etag: etag::of(t.version),
    }
}

fn member_role(r: TeamMemberRole) -> pb::TeamMemberRole {
    match r {
        TeamMemberRole::Lead => pb::TeamMemberRole::Lead,
        TeamMemberRole::Member => pb::TeamMemberRole::Member,
    }
}

/// A member role from the wire; unspecified means MEMBER.
pub fn member_role_from(raw: i32) -> Option<TeamMemberRole> {
    match pb::TeamMemberRole::try_from(raw) {
        Ok(pb::TeamMemberRole::Lead) => Some(TeamMemberRole::Lead),
        Ok(pb::TeamMemberRole::Member) | Ok(pb::TeamMemberRole::Unspecified) => {
            Some(TeamMemberRole::Member)
        }
        Err(_) => None,
    }
}

/// A team member as callers see them.
pub fn member(m: &TeamMember) -> pb::TeamMember {
    pb::TeamMember {
        name: format!("teams/{}/members/{}", m.team_id, m.id),
        subject: m.subject.clone(),
        display_name: m.display_name.clone(),
        position: m.position.clone(),
        role: member_role(m.role) as i32,
        create_time: Some(wire::timestamp(m.create_time)),
    }
}

fn application_state(s: ApplicationState) -> pb::ApplicationState {
    match s {
        ApplicationState::Draft => pb::ApplicationState::Draft,
        ApplicationState::Submitted => pb::ApplicationState::Submitted,
        ApplicationState::Withdrawn => pb::ApplicationState::Withdrawn,
    }
}

/// An application state filter: `None` for unspecified.
pub fn application_state_filter(raw: i32) -> Result<Option<ApplicationState>, ApiError> {
    match pb::ApplicationState::try_from(raw) {
        Ok(pb::ApplicationState::Unspecified) => Ok(None),
        Ok(pb::ApplicationState::Draft) => Ok(Some(ApplicationState::Draft)),
        Ok(pb::ApplicationState::Submitted) => Ok(Some(ApplicationState::Submitted)),
        Ok(pb::ApplicationState::Withdrawn) => Ok(Some(ApplicationState::Withdrawn)),
        Err(_) => Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            "state",
            format!("{raw} is not an application state"),
        )),
    }
}

/// An application as callers see it.
pub fn application(a: &Application) -> pb::Application {
    pb::Application {
        name: format!("contests/{}/applications/{}", a.contest_id, a.id),
        team: format!("teams/{}", a.team_id),
        nomination_id: a.content.nomination_id.clone(),
        title: a.content.title.clone(),
        summary: a.content.summary.clone(),
        description: a.content.description.clone(),
        state: application_state(a.state) as i32,
        region_code: a.region_code.clone(),
        create_time: Some(wire::timestamp(a.create_time)),
        update_time: Some(wire::timestamp(a.update_time)),
        submit_time: a.submit_time.map(timestamp),
        withdraw_time: a.withdraw_time.map(timestamp),
        etag: etag::of(a.version),
    }
}
