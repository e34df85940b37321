//! The mappings every service of the package shares: the package's enums (`common.proto`)
//! between wire and domain through one table each, enum filters, the person as shown,
//! counts, and the field checks several services make (a day that has come, a web link, a
//! value the checks vouched for). Each service's own messages are mapped in its handler
//! module, its own enums through [`wire`], [`required`] and [`optional`].

use edu_kit::ApiError;
use edu_kit::error::{FieldProblems, quote, reason as kit_reason};
use edu_kit::region::RegionCode;
use edu_kit::wire::civil_date;
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::google::r#type::Date as PbDate;
use jiff::civil::Date;

use crate::domain::consent::{ActorKind, GuardianRelation};
use crate::domain::pairs::PairSide;
use crate::domain::redaction::PersonView;
use crate::domain::{MentoringForm, PairType, ParticipantRole};

/// Every participant role with its wire value.
const ROLES: [(ParticipantRole, pb::ParticipantRole); 8] = [
    (ParticipantRole::Head, pb::ParticipantRole::Head),
    (ParticipantRole::Curator, pb::ParticipantRole::Curator),
    (ParticipantRole::Educator, pb::ParticipantRole::Educator),
    (ParticipantRole::Counsellor, pb::ParticipantRole::Counsellor),
    (ParticipantRole::Volunteer, pb::ParticipantRole::Volunteer),
    (ParticipantRole::Pupil, pb::ParticipantRole::Pupil),
    (
        ParticipantRole::YoungSpecialist,
        pb::ParticipantRole::YoungSpecialist,
    ),
    (ParticipantRole::Teacher, pb::ParticipantRole::Teacher),
];

/// Every form with its wire value.
const FORMS: [(MentoringForm, pb::MentoringForm); 5] = [
    (MentoringForm::Virtual, pb::MentoringForm::Virtual),
    (MentoringForm::ShortTerm, pb::MentoringForm::ShortTerm),
    (MentoringForm::Reverse, pb::MentoringForm::Reverse),
    (MentoringForm::Situational, pb::MentoringForm::Situational),
    (MentoringForm::Speed, pb::MentoringForm::Speed),
];

/// Every pair type with its wire value.
const PAIR_TYPES: [(PairType, pb::PairType); 6] = [
    (PairType::HeadCurator, pb::PairType::HeadCurator),
    (PairType::CuratorEducator, pb::PairType::CuratorEducator),
    (
        PairType::EducatorCounsellor,
        pb::PairType::EducatorCounsellor,
    ),
    (
        PairType::CounsellorVolunteer,
        pb::PairType::CounsellorVolunteer,
    ),
    (PairType::CounsellorPupil, pb::PairType::CounsellorPupil),
    (PairType::VolunteerPupil, pb::PairType::VolunteerPupil),
];

/// Both sides of a pair with their wire values.
const SIDES: [(PairSide, pb::PairSide); 2] = [
    (PairSide::Mentor, pb::PairSide::Mentor),
    (PairSide::Mentee, pb::PairSide::Mentee),
];

/// Who acted for a person, with the wire value.
const ACTORS: [(ActorKind, pb::ActorKind); 3] = [
    (ActorKind::Subject, pb::ActorKind::Subject),
    (ActorKind::Guardian, pb::ActorKind::Guardian),
    (ActorKind::Staff, pb::ActorKind::Staff),
];

/// Every guardian's relation to the minor with its wire value.
const RELATIONS: [(GuardianRelation, pb::GuardianRelation); 4] = [
    (GuardianRelation::Parent, pb::GuardianRelation::Parent),
    (
        GuardianRelation::AdoptiveParent,
        pb::GuardianRelation::AdoptiveParent,
    ),
    (GuardianRelation::Guardian, pb::GuardianRelation::Guardian),
    (
        GuardianRelation::OtherLegalRepresentative,
        pb::GuardianRelation::OtherLegalRepresentative,
    ),
];

/// A role on the wire.
pub fn role(role: ParticipantRole) -> i32 {
    wire(role, &ROLES)
}

/// A form on the wire.
pub fn form(form: MentoringForm) -> i32 {
    wire(form, &FORMS)
}

/// A pair type on the wire.
pub fn pair_type(pair_type: PairType) -> i32 {
    wire(pair_type, &PAIR_TYPES)
}

/// A side of a pair on the wire.
pub fn side(side: PairSide) -> i32 {
    wire(side, &SIDES)
}

/// Who acted for a person, on the wire.
pub fn actor(actor: ActorKind) -> i32 {
    wire(actor, &ACTORS)
}

/// A guardian's relation on the wire.
pub fn relation(relation: GuardianRelation) -> i32 {
    wire(relation, &RELATIONS)
}

/// The wire value of domain value `value` among `pairs` (`0`, unspecified, for a value the
/// table lacks, which every table here excludes by listing each value).
pub fn wire<D: PartialEq + Copy, W: Copy + Into<i32>>(value: D, pairs: &[(D, W)]) -> i32 {
    pairs
        .iter()
        .find(|(d, _)| *d == value)
        .map_or(0, |(_, w)| (*w).into())
}

/// A required role from the wire: `INVALID_FIELDS` naming `field` when unset or unknown.
pub fn parse_role(raw: i32, field: &str) -> Result<ParticipantRole, ApiError> {
    required(raw, field, "a participant role", &ROLES)
}

/// A required form from the wire.
pub fn parse_form(raw: i32, field: &str) -> Result<MentoringForm, ApiError> {
    required(raw, field, "a mentoring form", &FORMS)
}

/// A required pair type from the wire.
pub fn parse_pair_type(raw: i32, field: &str) -> Result<PairType, ApiError> {
    required(raw, field, "a pair type", &PAIR_TYPES)
}

/// A required side from the wire.
pub fn parse_side(raw: i32, field: &str) -> Result<PairSide, ApiError> {
    required(raw, field, "a side of the pair", &SIDES)
}

/// A required guardian's relation from the wire.
pub fn parse_relation(raw: i32, field: &str) -> Result<GuardianRelation, ApiError> {
    required(raw, field, "a guardian's relation", &RELATIONS)
}

/// An optional role filter (`0` = any).
pub fn role_filter(raw: i32, field: &str) -> Result<Option<ParticipantRole>, ApiError> {
    optional(raw, field, "a participant role", &ROLES)
}

/// An optional form filter (`0` = any).
pub fn form_filter(raw: i32, field: &str) -> Result<Option<MentoringForm>, ApiError> {
    optional(raw, field, "a mentoring form", &FORMS)
}

/// An optional pair-type filter (`0` = any).
pub fn pair_type_filter(raw: i32, field: &str) -> Result<Option<PairType>, ApiError> {
    optional(raw, field, "a pair type", &PAIR_TYPES)
}

/// An optional side (`0` = either).
pub fn side_filter(raw: i32, field: &str) -> Result<Option<PairSide>, ApiError> {
    optional(raw, field, "a side of the pair", &SIDES)
}

/// The domain value of wire value `raw` among `pairs`; `INVALID_FIELDS` when unset or
/// unknown.
pub fn required<D: Copy, W: Copy + Into<i32>>(
    raw: i32,
    field: &str,
    what: &str,
    pairs: &[(D, W)],
) -> Result<D, ApiError> {
    optional(raw, field, what, pairs)?.ok_or_else(|| {
        ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            field,
            format!("{what} is required"),
        )
    })
}

/// The domain value of wire value `raw` among `pairs`, `None` for `0` (unspecified);
/// `INVALID_FIELDS` when unknown.
pub fn optional<D: Copy, W: Copy + Into<i32>>(
    raw: i32,
    field: &str,
    what: &str,
    pairs: &[(D, W)],
) -> Result<Option<D>, ApiError> {
    if raw == 0 {
        return Ok(None);
    }
    pairs
        .iter()
        .find(|(_, w)| (*w).into() == raw)
        .map(|(d, _)| Some(*d))
        .ok_or_else(|| {
            ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                field,
                format!("{} is not {what}", quote(&raw.to_string())),
            )
        })
}

/// A person as shown: their resource name and role always, the rest only while their
/// consent to personal data is in force (the store has redacted the view already).
pub fn person(view: &PersonView) -> pb::Person {
    pb::Person {
        participant: view.participant.clone(),
        role: role(view.role),
        display_name: view.display_name.clone(),
        minor: view.minor,
        redacted: view.redacted,
    }
}

/// An ISO 3166-2 region code from the wire (any country's: one of another country simply
/// matches nothing); `INVALID_FIELDS` naming `field` otherwise.
pub fn region(raw: &str, field: &str) -> Result<RegionCode, ApiError> {
    RegionCode::parse(raw)
        .map_err(|e| ApiError::invalid_field(kit_reason::INVALID_FIELDS, field, e.to_string()))
}

/// A count on the wire, saturating: figures never wrap.
pub fn count<N: TryInto<i32>>(n: N) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

/// A value the field checks parsed: once [`FieldProblems::finish`] has passed, every parsed
/// field is there. Were one missing, the caller's field is named (`INVALID_FIELDS`,
/// `required`) rather than the handler panicking.
pub fn checked<T>(value: Option<T>, field: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::invalid_field(kit_reason::INVALID_FIELDS, field, "required"))
}

/// A required day that has come: a calendar date not after `today` (the institution's).
/// Each problem is recorded under `field`; the store checks the day against the resource's
/// own days.
pub fn past_day(
    problems: &mut FieldProblems,
    raw: Option<&PbDate>,
    field: &str,
    today: Date,
) -> Option<Date> {
    let day = problems.field(civil_date(raw, field))?;
    if day > today {
        problems.add(field, "must not be after today");
        return None;
    }
    Some(day)
}

/// A link field, trimmed: at most 2000 characters, and when given an absolute `https` or
/// `http` URL (each problem recorded under `field`).
pub fn web_uri(problems: &mut FieldProblems, field: &str, raw: &str, required: bool) -> String {
    let uri = problems.text(field, raw, 2000, required);
    if !uri.is_empty() && !is_web_uri(&uri) {
        problems.add(field, "an https or http URL");
    }
    uri
}

/// Whether `uri` is an absolute `https` or `http` URL with a host, without spaces or
/// control characters: what the contract accepts as a link.
fn is_web_uri(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    (scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http"))
        && !host.is_empty()
        && !uri.chars().any(|c| c.is_whitespace() || c.is_control())
}
