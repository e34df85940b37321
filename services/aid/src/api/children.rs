//! `ChildService`: the data bank of children (rule 2) and its probable duplicates.
//!
//! Children's records are the suite's most sensitive data. Answers carry the IIN's last
//! four digits only; refusals name fields and random record IDs, never a name, a birth
//! date or an IIN; a school that lists a child another school listed learns only that the
//! child is listed. School staff read their school's children, regional staff their
//! region's; to anyone else a child does not exist, and other roles are refused.
//!
//! A child's needs figures and attendance come from the needs and attendance modules
//! (`with_totals`); ListChildren's uncovered-needs filter still answers as if no need were
//! recorded.
//!
//! GetChildRecords finds one child's records across campaigns by who the child is (the
//! IIN, or the normalised name, and the birth date), for a child's cross-programme view:
//! staff only, a stated purpose, the tenant in the query, one `child.read` per record shown.

use edu_kit::error::{ErrorKind, FieldProblems, reason as kit_reason};
use edu_kit::idempotency::{self, IdempotencyKey};
use edu_kit::paging::{Cursor, PageRequest};
use edu_kit::{ApiError, CallContext, audit, etag};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::child_service_server::ChildService;
use edu_proto::edu::api::v1 as api_pb;
use jiff::civil::Date;
use jiff::{Timestamp, tz};
use tonic::{Request, Response, Status};

use super::access::{Viewer, role_required, scope_required};
use super::{convert, needs as needs_api, respond};
use crate::domain::iin::{Iin, InvalidIin};
use crate::domain::names;
use crate::store::children::{
    self, Category, Child, ChildDraft, ChildError, ChildFilter, ChildState, Consent, Corrected,
    Duplicate, DuplicateAction, DuplicateMatch, DuplicateState, Holder, IdentityKey, Listed,
    Locked, Source,
};
use crate::store::{Store, campaigns, corrupt, needs, schools};

/// The reasons of the data bank's refusals, beyond the kit's and the service's shared
/// ones. Needs, donations and attendance refuse changes to merged and removed records with
/// [`CHILD_MERGED`](reason::CHILD_MERGED) and [`CHILD_REMOVED`](reason::CHILD_REMOVED).
pub mod reason {
    pub use crate::api::errors::reason::{CHILD_MERGED, CHILD_REMOVED};

    use edu_kit::error::Reason;

    /// An IIN that is not twelve digits, carries no date, or fails its check digit
    /// (metadata `check`: `FORMAT`, `DATE`, `CHECK_DIGIT`).
    pub const IIN_INVALID: Reason = Reason::new(
        "IIN_INVALID",
        "ИИН указан неверно: нужны 12 цифр с датой рождения и верной контрольной цифрой.",
    );
    /// An IIN whose birth date is another day than the record's.
    pub const IIN_BIRTH_DATE_MISMATCH: Reason = Reason::new(
        "IIN_BIRTH_DATE_MISMATCH",
        "Дата рождения не совпадает с датой рождения в ИИН.",
    );
    /// The campaign's data bank has the child already.
    pub const CHILD_ALREADY_LISTED: Reason = Reason::new(
        "CHILD_ALREADY_LISTED",
        "Этот ребёнок уже внесён в банк данных акции.",
    );
    /// Merging a record with an IIN into one without.
    pub const SURVIVOR_WITHOUT_IIN: Reason = Reason::new(
        "SURVIVOR_WITHOUT_IIN",
        "При объединении сохраняется запись с ИИН.",
    );
}

impl From<ChildError> for ApiError {
    fn from(error: ChildError) -> Self {
        let message = error.to_string();
        match error {
            ChildError::Merged { child, merged_into } => {
                ApiError::failed_precondition(reason::CHILD_MERGED, message)
                    .with_metadata("child", child)
                    .with_metadata("merged_into", merged_into)
            }
            ChildError::Removed { child } => {
                ApiError::failed_precondition(reason::CHILD_REMOVED, message)
                    .with_metadata("child", child)
            }
            ChildError::DuplicateState { state } => {
                ApiError::failed_precondition(kit_reason::TRANSITION_NOT_ALLOWED, message)
                    .with_metadata("state", state)
            }
            ChildError::SurvivorNotInPair | ChildError::DifferentIins => {
                ApiError::invalid_field(kit_reason::INVALID_FIELDS, "survivor", message)
            }
            ChildError::SurvivorWithoutIin => {
                ApiError::invalid_field(reason::SURVIVOR_WITHOUT_IIN, "survivor", message)
            }
        }
    }
}

/// The fields UpdateChild changes.
pub const CHILD_FIELDS: [&str; 10] = [
    "iin",
    "family_name",
    "given_name",
    "patronymic",
    "birth_date",
    "grade",
    "categories",
    "other_risk_reason",
    "identification_source",
    "school",
];

/// Longest names, the representative's name and the consent document.
const MAX_NAME_CHARS: usize = convert::MAX_NAME_CHARS;
/// Longest reasons: a risk, a removal, a decision.
const MAX_REASON_CHARS: usize = 2000;

/// The child service.
#[derive(Debug, Clone)]
pub struct ChildrenApi {
    store: Store,
}

fn category(c: Category) -> pb::ChildCategory {
    match c {
        Category::LowIncome => pb::ChildCategory::LowIncome,
        Category::LargeFamily => pb::ChildCategory::LargeFamily,
        Category::Orphan => pb::ChildCategory::Orphan,
        Category::WithoutParentalCare => pb::ChildCategory::WithoutParentalCare,
        Category::OtherRisk => pb::ChildCategory::OtherRisk,
    }
}

fn category_of(raw: i32) -> Option<Category> {
    Category::ALL
        .into_iter()
        .find(|c| category(*c) as i32 == raw)
}

fn source(s: Source) -> pb::IdentificationSource {
    match s {
        Source::Survey => pb::IdentificationSource::Survey,
        Source::SocialPassport => pb::IdentificationSource::SocialPassport,
        Source::Raid => pb::IdentificationSource::Raid,
        Source::Appeal => pb::IdentificationSource::Appeal,
        Source::GuardianshipAuthority => pb::IdentificationSource::GuardianshipAuthority,
        Source::FamilyApplication => pb::IdentificationSource::FamilyApplication,
    }
}

fn source_of(raw: i32) -> Option<Source> {
    Source::ALL.into_iter().find(|s| source(*s) as i32 == raw)
}

fn child_state(s: ChildState) -> pb::ChildState {
    match s {
        ChildState::Active => pb::ChildState::Active,
        ChildState::Merged => pb::ChildState::Merged,
        ChildState::Removed => pb::ChildState::Removed,
    }
}

fn duplicate_state(s: DuplicateState) -> pb::DuplicateState {
    match s {
        DuplicateState::Open => pb::DuplicateState::Open,
        DuplicateState::Merged => pb::DuplicateState::Merged,
        DuplicateState::KeptApart => pb::DuplicateState::KeptApart,
    }
}

fn duplicate_match(m: DuplicateMatch) -> pb::DuplicateMatch {
    match m {
        DuplicateMatch::SameNameAndBirthDate => pb::DuplicateMatch::SameNameAndBirthDate,
        DuplicateMatch::SameIin => pb::DuplicateMatch::SameIin,
    }
}

fn duplicate_action(a: DuplicateAction) -> pb::DuplicateAction {
    match a {
        DuplicateAction::Merge => pb::DuplicateAction::Merge,
        DuplicateAction::KeepApart => pb::DuplicateAction::KeepApart,
        DuplicateAction::Reopen => pb::DuplicateAction::Reopen,
    }
}

/// The audit trail's action for a read of a child's record (GetChild, and each child a
/// ListChildren page shows): one `READ` record per child, so that an inspector listing a
/// child's records finds every call that showed it.
const CHILD_READ: &str = "child.read";

/// A child's record as its school's and region's staff read it.
/// The children's needs figures (estimated, committed, delivered), from the needs module.
async fn with_totals(
    conn: &mut sqlx::PgConnection,
    mut answers: Vec<pb::Child>,
    ids: &[String],
) -> Result<Vec<pb::Child>, ApiError> {
    let totals = crate::store::needs::totals_for_children(conn, ids).await?;
    let attendance = crate::store::attendance::latest_for_children(conn, ids).await?;
    for (answer, id) in answers.iter_mut().zip(ids) {
        if let Some((state, open)) = attendance.get(id) {
            use crate::store::attendance::ChildAttendanceState as A;
            answer.attendance = match state {
                A::NotChecked => pb::ChildAttendance::NotChecked,
                A::Attends => pb::ChildAttendance::Attends,
                A::DoesNotAttend => pb::ChildAttendance::DoesNotAttend,
            } as i32;
            answer.attendance_follow_up_open = *open;
        }
        if let Some((estimated, committed, delivered)) = totals.get(id) {
            answer.needs_estimated_tiyn = *estimated;
            answer.needs_committed_tiyn = *committed;
            answer.help_delivered_tiyn = *delivered;
        }
    }
    Ok(answers)
}

fn child_pb(c: &Child) -> pb::Child {
    pb::Child {
        name: c.name(),
        iin: String::new(),
        iin_suffix: c.iin_suffix.clone().unwrap_or_default(),
        family_name: c.family_name.clone().unwrap_or_default(),
        given_name: c.given_name.clone().unwrap_or_default(),
        patronymic: c.patronymic.clone().unwrap_or_default(),
        birth_date: c.birth_date.map(convert::date),
        grade: i32::from(c.grade),
        categories: c.categories.iter().map(|x| category(*x) as i32).collect(),
        other_risk_reason: c.other_risk_reason.clone(),
        identification_source: source(c.identification_source) as i32,
        school: format!("schools/{}", c.school_id),
        consent: c.consent.as_ref().map(|k| pb::Consent {
            representative_name: k.representative_name.clone(),
            give_date: Some(convert::date(k.give_date)),
            document: k.document.clone(),
        }),
        region_code: c.region_code.clone(),
        school_display_name: c.school_display_name.clone(),
        state: child_state(c.state) as i32,
        merged_into: c
            .merged_into
            .as_deref()
            .map(|m| children::name(&c.campaign_id, m))
            .unwrap_or_default(),
        probable_duplicate: c.probable_duplicate,
        // Filled in by `with_totals` where the answer is read.
        needs_estimated_tiyn: 0,
        needs_committed_tiyn: 0,
        help_delivered_tiyn: 0,
        attendance: pb::ChildAttendance::NotChecked as i32,
        attendance_follow_up_open: false,
        remove_reason: c.remove_reason.clone(),
        create_time: Some(convert::timestamp(c.create_time)),
        update_time: Some(convert::timestamp(c.update_time)),
        etag: etag::of(c.version),
    }
}

/// One record of a probable duplicate, as the deciding regional staff compare it.
fn record_pb(c: &Child) -> pb::DuplicateRecord {
    pb::DuplicateRecord {
        child: c.name(),
        family_name: c.family_name.clone().unwrap_or_default(),
        given_name: c.given_name.clone().unwrap_or_default(),
        patronymic: c.patronymic.clone().unwrap_or_default(),
        birth_date: c.birth_date.map(convert::date),
        iin_suffix: c.iin_suffix.clone().unwrap_or_default(),
        grade: i32::from(c.grade),
        categories: c.categories.iter().map(|x| category(*x) as i32).collect(),
        school: format!("schools/{}", c.school_id),
        school_display_name: c.school_display_name.clone(),
        region_code: c.region_code.clone(),
        state: child_state(c.state) as i32,
        create_time: Some(convert::timestamp(c.create_time)),
    }
}

fn duplicate_pb(d: &Duplicate) -> pb::ProbableDuplicate {
    let child = |id: &str| children::name(&d.campaign_id, id);
    pb::ProbableDuplicate {
        name: d.name(),
        r#match: duplicate_match(d.match_) as i32,
        records: d.records.iter().map(record_pb).collect(),
        state: duplicate_state(d.state) as i32,
        survivor: d.survivor.as_deref().map(child).unwrap_or_default(),
        superseded: d.superseded(),
        decisions: d
            .decisions
            .iter()
            .map(|x| pb::DuplicateDecision {
                action: duplicate_action(x.action) as i32,
                reason: x.reason.clone(),
                survivor: x.survivor.as_deref().map(child).unwrap_or_default(),
                actor: x.actor.clone(),
                decide_time: Some(convert::timestamp(x.decide_time)),
            })
            .collect(),
        region_codes: d.region_codes(),
        create_time: Some(convert::timestamp(d.create_time)),
        update_time: Some(convert::timestamp(d.update_time)),
        etag: etag::of(d.version),
    }
}

/// Probable duplicates are decided by regional staff only.
fn require_regional_staff(viewer: &Viewer) -> Result<(), ApiError> {
    if viewer.regional.is_empty() {
        Err(role_required())
    } else {
        Ok(())
    }
}

fn sees(viewer: &Viewer, child: &Child) -> bool {
    viewer.sees_children_of(&child.school_id, &child.region_code)
}

fn sees_pair(viewer: &Viewer, pair: &Duplicate) -> bool {
    pair.records
        .iter()
        .any(|r| viewer.is_regional(&r.region_code))
}

/// `ALREADY_EXISTS CHILD_ALREADY_LISTED`, naming the record only to a caller who reads it.
fn already_listed(viewer: &Viewer, holder: &Holder) -> ApiError {
    let error = ApiError::new(
        ErrorKind::AlreadyExists,
        reason::CHILD_ALREADY_LISTED,
        "the child is already listed in this campaign",
    );
    if viewer.sees_children_of(&holder.school_id, &holder.region_code) {
        error.with_metadata("child", holder.name.clone())
    } else {
        error
    }
}

fn iin_invalid(problem: InvalidIin) -> ApiError {
    iin_invalid_at("child.iin", problem)
}

/// `INVALID_ARGUMENT IIN_INVALID` naming `field`, with the failed `check`; never the digits.
fn iin_invalid_at(field: &str, problem: InvalidIin) -> ApiError {
    let check = match problem {
        InvalidIin::Format => "FORMAT",
        InvalidIin::BirthDate => "DATE",
        InvalidIin::CheckDigit => "CHECK_DIGIT",
    };
    ApiError::invalid_field(reason::IIN_INVALID, field, problem.to_string())
        .with_metadata("check", check)
}

/// The most help deliveries one [`pb::ChildRecord`] carries, newest first; ListHelpDeliveries
/// pages through the rest.
const MAX_HELP_SHOWN: usize = 100;

/// Who GetChildRecords looks up, from the request's `identity`. Twelve digits in
/// `identity_document`, however spaced or hyphenated, are the child's IIN; any other
/// document is one aid never holds, and is left aside. Refuses in this order:
/// `INVALID_FIELDS` (no identity; no birth date; neither an IIN nor both a family and a
/// given name), `IIN_INVALID`, `IIN_BIRTH_DATE_MISMATCH`, each naming its field and never a
/// value.
fn identity_key(identity: Option<&api_pb::ChildIdentity>) -> Result<IdentityKey, ApiError> {
    let Some(identity) = identity else {
        return Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            "identity",
            "required: who the child is",
        ));
    };
    let mut problems = FieldProblems::new();
    let birth_date = problems.field(edu_kit::wire::civil_date(
        identity.birth_date.as_ref(),
        "identity.birth_date",
    ));
    let document = names::identity_document_key(&identity.identity_document);
    let iin = (document.len() == 12 && document.bytes().all(|b| b.is_ascii_digit()))
        .then(|| Iin::parse(&document));
    let (family, given) = (identity.family_name.trim(), identity.given_name.trim());
    let normalised_name = (!family.is_empty() && !given.is_empty())
        .then(|| names::normalise_parts(family, given, identity.patronymic.trim()));
    if iin.is_none() && normalised_name.is_none() {
        problems.add(
            "identity",
            "required: the child's IIN, or both the family and the given name",
        );
    }
    problems.finish()?;
    let Some(birth_date) = birth_date else {
        return Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            "identity.birth_date",
            "required",
        ));
    };
    let iin = iin
        .transpose()
        .map_err(|problem| iin_invalid_at("identity.identity_document", problem))?;
    if let Some(iin) = &iin
        && iin.birth_date() != birth_date
    {
        return Err(ApiError::invalid_field(
            reason::IIN_BIRTH_DATE_MISMATCH,
            "identity.identity_document",
            "the IIN carries another day than the birth date",
        ));
    }
    Ok(IdentityKey {
        iin,
        normalised_name,
        birth_date,
    })
}

/// The latest day anywhere at `now`: the day to check dates against when the campaign (and
/// so its zone) is unknown, so that no valid date is refused.
fn latest_today(now: Timestamp) -> Date {
    now.to_zoned(tz::TimeZone::fixed(tz::offset(14))).date()
}

/// The record as stored, as the base of a correction.
fn draft_of(locked: &Locked) -> Result<ChildDraft, ApiError> {
    let c = &locked.child;
    let missing = || corrupt("personal data of active child", &c.id);
    Ok(ChildDraft {
        iin: locked.iin.clone(),
        family_name: c.family_name.clone().ok_or_else(missing)?,
        given_name: c.given_name.clone().ok_or_else(missing)?,
        patronymic: c.patronymic.clone().unwrap_or_default(),
        birth_date: c.birth_date.ok_or_else(missing)?,
        grade: c.grade,
        categories: c.categories.clone(),
        other_risk_reason: c.other_risk_reason.clone(),
        identification_source: c.identification_source,
        school_id: c.school_id.clone(),
        consent: c.consent.clone().ok_or_else(missing)?,
    })
}

/// A record from the request's `child`, every field checked under `child.`: for a listing
/// (`base` `None`) every field, for a correction the fields of `mask` over `base`. Refuses
/// in the listing's order: `INVALID_FIELDS` naming every bad field, then `IIN_INVALID`,
/// then `IIN_BIRTH_DATE_MISMATCH`. `today` is the campaign's day.
pub(crate) fn child_spec(
    from: &pb::Child,
    base: Option<&ChildDraft>,
    mask: &[String],
    today: Date,
) -> Result<ChildDraft, ApiError> {
    let take = |field: &str| base.is_none() || mask.iter().any(|m| m == field);
    let f = |field: &str| format!("child.{field}");
    let mut problems = FieldProblems::new();
    let mut d = base.cloned().unwrap_or_else(|| ChildDraft {
        iin: None,
        family_name: String::new(),
        given_name: String::new(),
        patronymic: String::new(),
        birth_date: today,
        grade: 0,
        categories: Vec::new(),
        other_risk_reason: String::new(),
        identification_source: Source::SocialPassport,
        school_id: String::new(),
        consent: Consent {
            representative_name: String::new(),
            give_date: today,
            document: String::new(),
        },
    });
    let mut iin_problem = None;
    if take("iin") {
        d.iin = None;
        if !from.iin.trim().is_empty() {
            match Iin::parse(&from.iin) {
                Ok(iin) => d.iin = Some(iin),
                Err(problem) => iin_problem = Some(problem),
            }
        }
    }
    if take("family_name") {
        d.family_name = problems.text(&f("family_name"), &from.family_name, MAX_NAME_CHARS, true);
    }
    if take("given_name") {
        d.given_name = problems.text(&f("given_name"), &from.given_name, MAX_NAME_CHARS, true);
    }
    if take("patronymic") {
        d.patronymic = problems.text(&f("patronymic"), &from.patronymic, MAX_NAME_CHARS, false);
    }
    if take("birth_date")
        && let Some(born) = problems.field(edu_kit::wire::civil_date(
            from.birth_date.as_ref(),
            &f("birth_date"),
        ))
    {
        if born > today {
            problems.add(f("birth_date"), "not after today");
        }
        d.birth_date = born;
    }
    if take("grade") {
        match i16::try_from(from.grade) {
            Ok(grade) if (0..=11).contains(&grade) => d.grade = grade,
            _ => problems.add(f("grade"), "0 (the pre-school class) to 11"),
        }
    }
    if take("categories") {
        d.categories = Vec::new();
        if from.categories.is_empty() {
            problems.add(f("categories"), "required: one or more categories");
        }
        for (i, raw) in from.categories.iter().enumerate() {
            match category_of(*raw) {
                None => problems.add(format!("child.categories[{i}]"), "not a category"),
                Some(c) if d.categories.contains(&c) => {
                    problems.add(format!("child.categories[{i}]"), "given twice")
                }
                Some(c) => d.categories.push(c),
            }
        }
    }
    if take("other_risk_reason") {
        d.other_risk_reason = problems.text(
            &f("other_risk_reason"),
            &from.other_risk_reason,
            MAX_REASON_CHARS,
            false,
        );
    } else if take("categories") && !d.categories.contains(&Category::OtherRisk) {
        // Leaving OTHER_RISK drops its reason.
        d.other_risk_reason.clear();
    }
    if take("categories") || take("other_risk_reason") {
        let other = d.categories.contains(&Category::OtherRisk);
        if other && d.other_risk_reason.is_empty() {
            problems.add(
                f("other_risk_reason"),
                "required with CHILD_CATEGORY_OTHER_RISK",
            );
        } else if !other && !d.other_risk_reason.is_empty() {
            problems.add(
                f("other_risk_reason"),
                "only with CHILD_CATEGORY_OTHER_RISK; leave it empty",
            );
        }
    }
    if take("identification_source") {
        match source_of(from.identification_source) {
            Some(s) => d.identification_source = s,
            None => problems.add(
                f("identification_source"),
                "required: how the child was identified",
            ),
        }
    }
    if take("school")
        && let Some(id) = problems.field(convert::school_id(&from.school, &f("school")))
    {
        d.school_id = id;
    }
    if base.is_none() {
        match &from.consent {
            None => problems.add(f("consent"), "required: the legal representative's consent"),
            Some(consent) => {
                d.consent.representative_name = problems.text(
                    "child.consent.representative_name",
                    &consent.representative_name,
                    MAX_NAME_CHARS,
                    true,
                );
                d.consent.document = problems.text(
                    "child.consent.document",
                    &consent.document,
                    MAX_NAME_CHARS,
                    false,
                );
                if let Some(given) = problems.field(edu_kit::wire::civil_date(
                    consent.give_date.as_ref(),
                    "child.consent.give_date",
                )) {
                    if given > today {
                        problems.add("child.consent.give_date", "not after today");
                    }
                    d.consent.give_date = given;
                }
            }
        }
    }
    problems.finish()?;
    if let Some(problem) = iin_problem {
        return Err(iin_invalid(problem));
    }
    if (take("iin") || take("birth_date"))
        && let Some(iin) = &d.iin
        && iin.birth_date() != d.birth_date
    {
        return Err(ApiError::invalid_field(
            reason::IIN_BIRTH_DATE_MISMATCH,
            "child.birth_date",
            "another day than the birth date the IIN carries",
        ));
    }
    Ok(d)
}

/// How GetChildRecords found a record: by the IIN (the record's or one merged into it), or
/// by name and birth date.
fn matched_by(by_iin: bool) -> api_pb::IdentityMatch {
    if by_iin {
        api_pb::IdentityMatch::Document
    } else {
        api_pb::IdentityMatch::NameAndBirthDate
    }
}

/// `pairs` by their key, each key's values in their order.
fn group<T>(pairs: Vec<(String, T)>) -> std::collections::HashMap<String, Vec<T>> {
    let mut groups = std::collections::HashMap::<String, Vec<T>>::new();
    for (key, value) in pairs {
        groups.entry(key).or_default().push(value);
    }
    groups
}

/// A required reason of 1 to 2 000 characters.
fn required_reason(raw: &str) -> Result<String, ApiError> {
    let mut problems = FieldProblems::new();
    let text = problems.text("reason", raw, MAX_REASON_CHARS, true);
    problems.finish()?;
    Ok(text)
}

impl ChildrenApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        ChildrenApi { store }
    }

    async fn create(
        &self,
        request: Request<pb::CreateChildRequest>,
    ) -> Result<pb::Child, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        let body = request.get_ref();
        let now = context.now();
        let campaign_id = convert::campaign_id(&body.parent, "parent")?;
        let from = body.child.clone().unwrap_or_default();
        let key = IdempotencyKey::for_request(context, "CreateChild", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        children::hold_campaign(&mut tx, &campaign_id).await?;
        let campaign = campaigns::fetch(&mut tx, &campaign_id, false).await?;
        let today = campaign
            .as_ref()
            .map(|c| c.today(now))
            .unwrap_or_else(|| latest_today(now));
        let draft = child_spec(&from, None, &[], today)?;
        if !viewer.is_school(&draft.school_id) && viewer.regional.is_empty() {
            return Err(scope_required(&format!("the school {}", from.school)));
        }
        if let Some(done) = idempotency::replay::<pb::Child>(&mut tx, key.as_ref(), now).await? {
            let (campaign, id) = convert::campaign_child(&done.name, "children", "name")?;
            return children::fetch(&mut tx, &campaign, &id)
                .await?
                .filter(|c| sees(&viewer, c))
                .map(|c| child_pb(&c))
                .ok_or_else(|| ApiError::not_found(done.name));
        }
        let campaign = campaign.ok_or_else(|| ApiError::not_found(body.parent.clone()))?;
        let school = schools::fetch(&mut tx, &draft.school_id, false)
            .await?
            .filter(|s| viewer.sees_children_of(&s.id, &s.region_code))
            .ok_or_else(|| ApiError::not_found(from.school.clone()))?;
        campaign.ensure_region(&school.region_code)?;
        campaign.ensure_not_ended(now)?;
        let child =
            match children::create(&mut tx, context, &campaign.id, &school.region_code, &draft)
                .await?
            {
                Listed::New(child) => child,
                Listed::Existing(holder) => return Err(already_listed(&viewer, &holder)),
            };
        let listed = child_pb(&child);
        // Only the record's name is kept with the key, never its personal data (removal
        // erases a child for good); a replay reads the record as it is then.
        let kept = pb::Child {
            name: listed.name.clone(),
            ..Default::default()
        };
        idempotency::remember(&mut tx, key.as_ref(), &kept).await?;
        tx.commit().await?;
        Ok(listed)
    }

    async fn get(&self, request: Request<pb::GetChildRequest>) -> Result<pb::Child, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        let name = &request.get_ref().name;
        let (campaign, id) = convert::campaign_child(name, "children", "name")?;
        let mut conn = self.store.read().await?;
        let child = children::fetch(&mut conn, &campaign, &id)
            .await?
            .filter(|c| sees(&viewer, c))
            .ok_or_else(|| ApiError::not_found(name.clone()))?;
        audit::read(&mut conn, context, CHILD_READ, &[child.name()]).await?;
        let mut answers = with_totals(
            &mut conn,
            vec![child_pb(&child)],
            std::slice::from_ref(&child.id),
        )
        .await?;
        conn.finish();
        Ok(answers.remove(0))
    }

    async fn records(
        &self,
        request: Request<pb::GetChildRecordsRequest>,
    ) -> Result<pb::ChildRecords, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        context.require_purpose()?;
        let key = identity_key(request.get_ref().identity.as_ref())?;
        // One snapshot, so that the records, their needs, the help and the figures agree;
        // not READ ONLY, since the reads are recorded in it.
        let mut tx = self.store.begin().await?;
        children::repeatable_read(&mut tx).await?;
        let found = children::find_by_identity(&mut tx, &key, &viewer.children()).await?;
        if found.is_empty() {
            // One answer for a child listed nowhere and one listed only elsewhere; it names
            // nothing the caller sent.
            return Err(ApiError::not_found("the child"));
        }
        let ids: Vec<String> = found.iter().map(|f| f.child.id.clone()).collect();
        let mut needs_of = group(needs::of_records(&mut tx, &ids).await?);
        let mut help_of =
            group(needs::help_of_records(&mut tx, &ids, MAX_HELP_SHOWN as i64 + 1).await?);
        let shown: Vec<String> = found.iter().map(|f| f.child.name()).collect();
        audit::read(&mut tx, context, CHILD_READ, &shown).await?;
        let answers = with_totals(
            &mut tx,
            found.iter().map(|f| child_pb(&f.child)).collect(),
            &ids,
        )
        .await?;
        tx.commit().await?;
        let records = found
            .iter()
            .zip(answers)
            .map(|(f, child)| {
                let mut help = help_of.remove(&f.child.id).unwrap_or_default();
                let truncated = help.len() > MAX_HELP_SHOWN;
                help.truncate(MAX_HELP_SHOWN);
                pb::ChildRecord {
                    child: Some(child),
                    matched_by: matched_by(f.by_iin) as i32,
                    needs: needs_of
                        .remove(&f.child.id)
                        .unwrap_or_default()
                        .iter()
                        .map(needs_api::need_pb)
                        .collect(),
                    help_deliveries: help.iter().map(needs_api::help_pb).collect(),
                    help_deliveries_truncated: truncated,
                }
            })
            .collect();
        Ok(pb::ChildRecords {
            records,
            read_time: Some(convert::timestamp(context.now())),
        })
    }

    async fn list(
        &self,
        request: Request<pb::ListChildrenRequest>,
    ) -> Result<pb::ListChildrenResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        let body = request.get_ref();
        let campaign_id = convert::campaign_id(&body.parent, "parent")?;
        let school = if body.school.is_empty() {
            None
        } else {
            Some(convert::school_id(&body.school, "school")?)
        };
        let filter = ChildFilter {
            school,
            region: convert::region_filter(&body.region_code, "region_code")?,
            category: convert::enum_filter(body.category, "category", category_of)?,
            state: convert::enum_filter(body.state, "state", |raw| {
                [ChildState::Active, ChildState::Merged, ChildState::Removed]
                    .into_iter()
                    .find(|s| child_state(*s) as i32 == raw)
            })?,
            without_iin_only: body.without_iin_only,
            probable_duplicate_only: body.probable_duplicate_only,
            attendance: convert::enum_filter(body.attendance, "attendance", |raw| {
                match pb::ChildAttendance::try_from(raw).ok()? {
                    pb::ChildAttendance::Unspecified => None,
                    pb::ChildAttendance::NotChecked => Some("NOT_CHECKED"),
                    pb::ChildAttendance::Attends => Some("ATTENDS"),
                    pb::ChildAttendance::DoesNotAttend => Some("DOES_NOT_ATTEND"),
                }
            })?,
            follow_up_open_only: body.follow_up_open_only,
        };
        let fingerprint = [
            "ListChildren".to_string(),
            body.parent.clone(),
            body.school.clone(),
            body.region_code.clone(),
            body.category.to_string(),
            body.state.to_string(),
            body.without_iin_only.to_string(),
            body.probable_duplicate_only.to_string(),
            body.uncovered_needs_only.to_string(),
            body.attendance.to_string(),
            body.follow_up_open_only.to_string(),
        ];
        let parts: Vec<&str> = fingerprint.iter().map(String::as_str).collect();
        let paging = PageRequest::<String>::parse(body.page_size, &body.page_token, &parts)?;
        let mut conn = self.store.read().await?;
        campaigns::get(&mut conn, &campaign_id, false).await?;
        // No uncovered need is recorded yet.
        let nothing_yet = body.uncovered_needs_only;
        if nothing_yet {
            return Ok(pb::ListChildrenResponse::default());
        }
        let page = children::list(
            &mut conn,
            &campaign_id,
            &viewer.children(),
            &filter,
            paging.size,
            paging.after.clone(),
        )
        .await?;
        let shown: Vec<String> = page.items.iter().map(Child::name).collect();
        audit::read(&mut conn, context, CHILD_READ, &shown).await?;
        let children = with_totals(
            &mut conn,
            page.items.iter().map(child_pb).collect(),
            &page.items.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        )
        .await?;
        conn.finish();
        Ok(pb::ListChildrenResponse {
            children,
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn update(
        &self,
        request: Request<pb::UpdateChildRequest>,
    ) -> Result<pb::Child, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        let body = request.get_ref();
        let from = body.child.clone().unwrap_or_default();
        let (campaign_id, id) = convert::campaign_child(&from.name, "children", "child.name")?;
        let mask = convert::mask_paths(body.update_mask.as_ref(), &CHILD_FIELDS)?;
        let moves = mask.iter().any(|m| m == "school");
        let move_refused = || role_required().with_metadata("field", "school");
        if moves && viewer.regional.is_empty() {
            return Err(move_refused());
        }
        let now = context.now();
        let mut tx = self.store.begin().await?;
        let not_found = || ApiError::not_found(from.name.clone());
        children::hold_campaign(&mut tx, &campaign_id).await?;
        let campaign = campaigns::fetch(&mut tx, &campaign_id, false)
            .await?
            .ok_or_else(not_found)?;
        let locked = children::lock(&mut tx, &campaign_id, &id)
            .await?
            .filter(|l| sees(&viewer, &l.child))
            .ok_or_else(not_found)?;
        let current = &locked.child;
        if moves && !viewer.is_regional(&current.region_code) {
            return Err(move_refused());
        }
        etag::check(&from.etag, current.version, &from.name)?;
        current.ensure_active()?;
        campaign.ensure_not_ended(now)?;
        let base = draft_of(&locked)?;
        let next = child_spec(&from, Some(&base), &mask, campaign.today(now))?;
        let region = if next.school_id == current.school_id {
            current.region_code.clone()
        } else {
            let school = schools::fetch(&mut tx, &next.school_id, false)
                .await?
                .filter(|s| viewer.is_regional(&s.region_code))
                .ok_or_else(|| ApiError::not_found(from.school.clone()))?;
            campaign.ensure_region(&school.region_code)?;
            school.region_code
        };
        match children::update(&mut tx, context, &locked, &next, &region, &mask).await? {
            Corrected::Changed(child) => {
                tx.commit().await?;
                Ok(child_pb(&child))
            }
            Corrected::IinHeld(holder) => {
                // The flag of the two records stays; the change does not happen.
                tx.commit().await?;
                Err(already_listed(&viewer, &holder))
            }
        }
    }

    async fn remove(
        &self,
        request: Request<pb::RemoveChildRequest>,
    ) -> Result<pb::Child, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        let body = request.get_ref();
        let (campaign_id, id) = convert::campaign_child(&body.name, "children", "name")?;
        let reason = required_reason(&body.reason)?;
        let key = IdempotencyKey::for_request(context, "RemoveChild", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let removed = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            let locked = children::lock(conn, &campaign_id, &id)
                .await?
                .filter(|l| sees(&viewer, &l.child))
                .ok_or_else(|| ApiError::not_found(body.name.clone()))?;
            if locked.child.state == ChildState::Removed {
                return Ok(child_pb(&locked.child));
            }
            etag::check(&body.etag, locked.child.version, &body.name)?;
            let removed = children::remove(conn, context, &locked, &reason).await?;
            // The undelivered remainder of the child's allocations returns to the
            // donations, in this transaction.
            crate::store::donations::release_for_child(conn, context, &id).await?;
            Ok(child_pb(&removed))
        })
        .await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn list_duplicates(
        &self,
        request: Request<pb::ListProbableDuplicatesRequest>,
    ) -> Result<pb::ListProbableDuplicatesResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        require_regional_staff(&viewer)?;
        let body = request.get_ref();
        let campaign_id = convert::campaign_id(&body.parent, "parent")?;
        let state = convert::enum_filter(body.state, "state", |raw| {
            [
                DuplicateState::Open,
                DuplicateState::Merged,
                DuplicateState::KeptApart,
            ]
            .into_iter()
            .find(|s| duplicate_state(*s) as i32 == raw)
        })?;
        let region = convert::region_filter(&body.region_code, "region_code")?;
        let paging = PageRequest::<Cursor>::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListProbableDuplicates",
                &body.parent,
                &body.state.to_string(),
                &body.region_code,
            ],
        )?;
        let regions: Vec<String> = match region {
            Some(r) if viewer.is_regional(&r) => vec![r],
            Some(_) => Vec::new(),
            None => viewer.regional.clone(),
        };
        let mut conn = self.store.read().await?;
        campaigns::get(&mut conn, &campaign_id, false).await?;
        let page = children::list_duplicates(
            &mut conn,
            &campaign_id,
            &regions,
            state,
            paging.size,
            paging.after.clone(),
        )
        .await?;
        conn.finish();
        Ok(pb::ListProbableDuplicatesResponse {
            probable_duplicates: page.items.iter().map(duplicate_pb).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    /// Locks a probable duplicate the caller decides on: `NOT_FOUND` unless a record of it
    /// is of the caller's region; `ABORTED` for a stale etag.
    async fn lock_pair(
        conn: &mut sqlx::PgConnection,
        viewer: &Viewer,
        name: &str,
        supplied_etag: &str,
    ) -> Result<Duplicate, ApiError> {
        let (campaign, id) = convert::campaign_child(name, "probableDuplicates", "name")?;
        let pair = children::fetch_duplicate(conn, &campaign, &id, true)
            .await?
            .filter(|p| sees_pair(viewer, p))
            .ok_or_else(|| ApiError::not_found(name.to_string()))?;
        etag::check(supplied_etag, pair.version, name)?;
        Ok(pair)
    }

    async fn merge(
        &self,
        request: Request<pb::MergeProbableDuplicateRequest>,
    ) -> Result<pb::ProbableDuplicate, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        require_regional_staff(&viewer)?;
        let body = request.get_ref();
        let mut problems = FieldProblems::new();
        let pair_name = problems.field(convert::campaign_child(
            &body.name,
            "probableDuplicates",
            "name",
        ));
        let survivor = problems.field(convert::campaign_child(
            &body.survivor,
            "children",
            "survivor",
        ));
        let reason = problems.text("reason", &body.reason, MAX_REASON_CHARS, true);
        // Whether the survivor is one of the pair is checked once the pair is found and
        // visible: a stranger learns nothing from the answer (NOT_FOUND either way).
        let _ = &pair_name;
        problems.finish()?;
        let survivor_id = survivor.map(|(_, id)| id).unwrap_or_default();
        let key =
            IdempotencyKey::for_request(context, "MergeProbableDuplicate", &body.request_id, body)?;
        let now = context.now();
        let mut tx = self.store.begin().await?;
        if let Some(done) =
            idempotency::replay::<pb::ProbableDuplicate>(&mut tx, key.as_ref(), now).await?
        {
            let (campaign, id) = convert::campaign_child(&done.name, "probableDuplicates", "name")?;
            return children::fetch_duplicate(&mut tx, &campaign, &id, false)
                .await?
                .filter(|p| sees_pair(&viewer, p))
                .map(|p| duplicate_pb(&p))
                .ok_or_else(|| ApiError::not_found(done.name));
        }
        let pair = Self::lock_pair(&mut tx, &viewer, &body.name, &body.etag).await?;
        let merged =
            duplicate_pb(&children::merge(&mut tx, context, &pair, &survivor_id, &reason).await?);
        // As for a listing, only the name is kept with the key.
        let kept = pb::ProbableDuplicate {
            name: merged.name.clone(),
            ..Default::default()
        };
        idempotency::remember(&mut tx, key.as_ref(), &kept).await?;
        tx.commit().await?;
        Ok(merged)
    }

    async fn keep_apart(
        &self,
        request: Request<pb::KeepProbableDuplicateApartRequest>,
    ) -> Result<pb::ProbableDuplicate, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        require_regional_staff(&viewer)?;
        let body = request.get_ref();
        convert::campaign_child(&body.name, "probableDuplicates", "name")?;
        let reason = required_reason(&body.reason)?;
        let mut tx = self.store.begin().await?;
        let pair = Self::lock_pair(&mut tx, &viewer, &body.name, &body.etag).await?;
        let kept = children::keep_apart(&mut tx, context, &pair, &reason).await?;
        tx.commit().await?;
        Ok(duplicate_pb(&kept))
    }

    async fn reopen(
        &self,
        request: Request<pb::ReopenProbableDuplicateRequest>,
    ) -> Result<pb::ProbableDuplicate, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        require_regional_staff(&viewer)?;
        let body = request.get_ref();
        convert::campaign_child(&body.name, "probableDuplicates", "name")?;
        let reason = required_reason(&body.reason)?;
        let mut tx = self.store.begin().await?;
        let pair = Self::lock_pair(&mut tx, &viewer, &body.name, &body.etag).await?;
        let reopened = children::reopen(&mut tx, context, &pair, &reason).await?;
        tx.commit().await?;
        Ok(duplicate_pb(&reopened))
    }
}

#[tonic::async_trait]
impl ChildService for ChildrenApi {
    async fn create_child(
        &self,
        request: Request<pb::CreateChildRequest>,
    ) -> Result<Response<pb::Child>, Status> {
        respond(self.create(request).await)
    }

    async fn get_child(
        &self,
        request: Request<pb::GetChildRequest>,
    ) -> Result<Response<pb::Child>, Status> {
        respond(self.get(request).await)
    }

    async fn get_child_records(
        &self,
        request: Request<pb::GetChildRecordsRequest>,
    ) -> Result<Response<pb::ChildRecords>, Status> {
        respond(self.records(request).await)
    }

    async fn list_children(
        &self,
        request: Request<pb::ListChildrenRequest>,
    ) -> Result<Response<pb::ListChildrenResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn update_child(
        &self,
        request: Request<pb::UpdateChildRequest>,
    ) -> Result<Response<pb::Child>, Status> {
        respond(self.update(request).await)
    }

    async fn remove_child(
        &self,
        request: Request<pb::RemoveChildRequest>,
    ) -> Result<Response<pb::Child>, Status> {
        respond(self.remove(request).await)
    }

    async fn list_probable_duplicates(
        &self,
        request: Request<pb::ListProbableDuplicatesRequest>,
    ) -> Result<Response<pb::ListProbableDuplicatesResponse>, Status> {
        respond(self.list_duplicates(request).await)
    }

    async fn merge_probable_duplicate(
        &self,
        request: Request<pb::MergeProbableDuplicateRequest>,
    ) -> Result<Response<pb::ProbableDuplicate>, Status> {
        respond(self.merge(request).await)
    }

    async fn keep_probable_duplicate_apart(
        &self,
        request: Request<pb::KeepProbableDuplicateApartRequest>,
    ) -> Result<Response<pb::ProbableDuplicate>, Status> {
        respond(self.keep_apart(request).await)
    }

    async fn reopen_probable_duplicate(
        &self,
        request: Request<pb::ReopenProbableDuplicateRequest>,
    ) -> Result<Response<pb::ProbableDuplicate>, Status> {
        respond(self.reopen(request).await)
    }
}
