//! The mappings every service of the package shares: the package's enums (`common.proto`)
//! between wire and domain, the person as shown, and enum filters. Each service's own
//! messages are mapped in its handler module.

use edu_kit::ApiError;
use edu_kit::error::{quote, reason as kit_reason};
use edu_proto::edu::mentoring::v1 as pb;

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
    (PairType::EducatorCounsellor, pb::PairType::EducatorCounsellor),
    (
        PairType::CounsellorVolunteer,
        pb::PairType::CounsellorVolunteer,
    ),
    (PairType::CounsellorPupil, pb::PairType::CounsellorPupil),
    (PairType::VolunteerPupil, pb::PairType::VolunteerPupil),
];

/// A role on the wire.
pub fn role(role: ParticipantRole) -> i32 {
    ROLES
        .iter()
        .find(|(r, _)| *r == role)
        .map_or(0, |(_, w)| *w as i32)
}

/// A form on the wire.
pub fn form(form: MentoringForm) -> i32 {
    FORMS
        .iter()
        .find(|(f, _)| *f == form)
        .map_or(0, |(_, w)| *w as i32)
}

/// A pair type on the wire.
pub fn pair_type(pair_type: PairType) -> i32 {
    PAIR_TYPES
        .iter()
        .find(|(t, _)| *t == pair_type)
        .map_or(0, |(_, w)| *w as i32)
}

/// A side of a pair on the wire.
pub fn side(side: PairSide) -> i32 {
    match side {
        PairSide::Mentor => pb::PairSide::Mentor as i32,
        PairSide::Mentee => pb::PairSide::Mentee as i32,
    }
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
    required(
        raw,
        field,
        "a side of the pair",
        &[
            (PairSide::Mentor, pb::PairSide::Mentor),
            (PairSide::Mentee, pb::PairSide::Mentee),
        ],
    )
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
