//! `PairService` (`proto/edu/mentoring/v1/pair.proto`): pairs and groups (rules 3–5, 8) and,
//! through [`super::petitions`], the mentees' replacement petitions (rule 9).
//!
//! Rules of this layer, the domain's and the store's being theirs:
//! - Tenancy first: the caller's standing in the institution is read before anything else
//!   (outside it every pair is `NOT_FOUND`); then whether they see the pair (staff see
//!   every pair, a participant or guardian only a pair one of their people is or was a
//!   member of), and only then the role, so `ROLE_REQUIRED` never reveals a pair.
//! - The regional centre reads counts only (ReportService) and event consumers only the
//!   event stream: both are `ROLE_REQUIRED` here, without looking at any pair.
//! - The director and the appointed curator form, change, activate, complete and cancel;
//!   the director alone records the order (`ROLE_REQUIRED`, field `order`). A curator token
//!   that is not the appointed curator is `CURATOR_NOT_APPOINTED` in every method.
//! - Answers are mapped from what the store shows: people come redacted from its one read
//!   of people, and the pair's free texts empty when a member is redacted; nothing is added
//!   back here.

use edu_kit::error::{FieldProblems, reason as kit_reason};
use edu_kit::idempotency::{self, IdempotencyKey};
use edu_kit::paging::PageRequest;
use edu_kit::wire::{self, civil_date, mask_paths, timestamp};
use edu_kit::{ApiError, CallContext, etag, resource};
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::pair_service_server::PairService;
use jiff::civil::Date;
use tonic::{Request, Response, Status};

use super::access::{EVENT_CONSUMER, Viewer};
use super::{convert, petitions, respond};
use crate::domain::completion::{
    CompletionInitiator, CompletionReason, CompletionRequest, ensure_well_formed,
};
use crate::domain::{PairKind, PairState};
use crate::store::pairs::{
    self, CompletionDraft, DirectorOrder, EverMember, Pair, PairChange, PairDraft, PairFilter,
};
use crate::store::{Store, pair_name, participant_name};

/// The most mentees a group is formed with (the contract's `pair.mentees`).
const MAX_MENTEES: usize = 30;

/// Every pair state with its wire value.
const PAIR_STATES: [(PairState, pb::PairState); 5] = [
    (PairState::Forming, pb::PairState::Forming),
    (PairState::Active, pb::PairState::Active),
    (PairState::Suspended, pb::PairState::Suspended),
    (PairState::Completed, pb::PairState::Completed),
    (PairState::Cancelled, pb::PairState::Cancelled),
];

/// Every kind with its wire value.
const KINDS: [(PairKind, pb::PairKind); 2] = [
    (PairKind::Pair, pb::PairKind::Pair),
    (PairKind::Group, pb::PairKind::Group),
];

/// Every completion reason with its wire value.
const REASONS: [(CompletionReason, pb::CompletionReason); 5] = [
    (
        CompletionReason::PlanCompleted,
        pb::CompletionReason::PlanCompleted,
    ),
    (
        CompletionReason::ValidReason,
        pb::CompletionReason::ValidReason,
    ),
    (
        CompletionReason::ImproperExecution,
        pb::CompletionReason::ImproperExecution,
    ),
    (
        CompletionReason::ForceMajeure,
        pb::CompletionReason::ForceMajeure,
    ),
    (
        CompletionReason::AgreementTerminated,
        pb::CompletionReason::AgreementTerminated,
    ),
];

/// Every completion initiator with its wire value.
const INITIATORS: [(CompletionInitiator, pb::CompletionInitiator); 4] = [
    (CompletionInitiator::Mentor, pb::CompletionInitiator::Mentor),
    (CompletionInitiator::Mentee, pb::CompletionInitiator::Mentee),
    (CompletionInitiator::Both, pb::CompletionInitiator::Both),
    (
        CompletionInitiator::Curator,
        pb::CompletionInitiator::Curator,
    ),
];

/// The pair service.
#[derive(Debug, Clone)]
pub struct PairsApi {
    store: Store,
}

impl PairsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        PairsApi { store }
    }

    async fn create(&self, request: Request<pb::CreatePairRequest>) -> Result<pb::Pair, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let institution = resource::parse_name(&body.parent, "institutions", "parent")?;
        let viewer = viewer(&self.store, context, &institution).await?;
        viewer.require_staff()?;
        let draft = body.pair.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        if body.pair.is_none() {
            problems.add("pair", "required: the pair to form");
        }
        let pair_type = problems.field(convert::parse_pair_type(draft.pair_type, "pair.pair_type"));
        let form = problems.field(convert::parse_form(draft.form, "pair.form"));
        let mentor = if draft.mentor.is_empty() {
            problems.add("pair.mentor", "required: the mentor");
            None
        } else {
            problems.field(participant_ref(&draft.mentor, "pair.mentor"))
        };
        if draft.mentees.is_empty() {
            problems.add("pair.mentees", "a pair or group needs at least one mentee");
        } else if draft.mentees.len() > MAX_MENTEES {
            problems.add(
                "pair.mentees",
                format!("a group has at most {MAX_MENTEES} mentees"),
            );
        }
        let mut mentees = Vec::with_capacity(draft.mentees.len());
        for (i, name) in draft.mentees.iter().enumerate() {
            let field = format!("pair.mentees[{i}]");
            if draft.mentees[..i].contains(name) {
                problems.add(field, "is given twice");
            } else if *name == draft.mentor {
                problems.add(field, "the mentor is not among the mentees");
            } else if let Some(found) = problems.field(participant_ref(name, &field)) {
                mentees.push(found);
            }
        }
        let goal = problems.text("pair.goal", &draft.goal, 2000, false);
        problems.finish()?;
        let (pair_type, form) = (vouched(pair_type)?, vouched(form)?);
        // A member of another institution does not exist here.
        let mentor = in_institution(vouched(mentor)?, &institution)?;
        let mentees = mentees
            .into_iter()
            .map(|m| in_institution(m, &institution))
            .collect::<Result<Vec<_>, _>>()?;
        let draft = PairDraft {
            id: String::new(),
            pair_type,
            form,
            mentor,
            mentees,
            goal,
        };
        let key = IdempotencyKey::for_request(context, "CreatePair", &body.request_id, body)?;
        let today = viewer.setting.today;
        let mut tx = self.store.begin().await?;
        let created = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            Ok(pair(
                &pairs::create(conn, context, &institution, &draft).await?,
                today,
            ))
        })
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn get(&self, request: Request<pb::GetPairRequest>) -> Result<pb::Pair, ApiError> {
        let context = CallContext::of(&request)?;
        let (institution, id) = pair_ref(&request.get_ref().name, "name")?;
        let viewer = viewer(&self.store, context, &institution).await?;
        let (found, _) = readable_pair(&self.store, &viewer, &id).await?;
        require_reader(&viewer)?;
        Ok(pair(&found, viewer.setting.today))
    }

    async fn list(
        &self,
        request: Request<pb::ListPairsRequest>,
    ) -> Result<pb::ListPairsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let institution = resource::parse_name(&body.parent, "institutions", "parent")?;
        let viewer = viewer(&self.store, context, &institution).await?;
        require_reader(&viewer)?;
        let mut problems = FieldProblems::new();
        let state = problems
            .field(convert::optional(
                body.state,
                "state",
                "a pair state",
                &PAIR_STATES,
            ))
            .flatten();
        let pair_type = problems
            .field(convert::pair_type_filter(body.pair_type, "pair_type"))
            .flatten();
        let form = problems
            .field(convert::form_filter(body.form, "form"))
            .flatten();
        let kind = problems
            .field(convert::optional(body.kind, "kind", "a pair kind", &KINDS))
            .flatten();
        let member = if body.participant.is_empty() {
            None
        } else {
            problems
                .field(participant_ref(&body.participant, "participant"))
                .and_then(|(of, id)| {
                    if of == institution {
                        Some(id)
                    } else {
                        problems.add("participant", "not a participant of the parent");
                        None
                    }
                })
        };
        problems.finish()?;
        let paging = PageRequest::<String>::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListPairs",
                &body.parent,
                &body.state.to_string(),
                &body.pair_type.to_string(),
                &body.form.to_string(),
                &body.kind.to_string(),
                &body.participant,
                &body.agreement_expired_only.to_string(),
            ],
        )?;
        let filter = PairFilter {
            state,
            pair_type,
            form,
            kind,
            member,
            agreement_expired_only: body.agreement_expired_only,
            visible_to: viewer.people(),
        };
        let mut conn = self.store.read().await?;
        let page = pairs::list_page(
            &mut conn,
            &viewer.setting,
            &filter,
            paging.size,
            paging.after.clone(),
        )
        .await?;
        Ok(pb::ListPairsResponse {
            pairs: page
                .items
                .iter()
                .map(|p| pair(p, viewer.setting.today))
                .collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn update(&self, request: Request<pb::UpdatePairRequest>) -> Result<pb::Pair, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let changed = body.pair.clone().unwrap_or_default();
        let (institution, id) = pair_ref(&changed.name, "pair.name")?;
        let viewer = viewer(&self.store, context, &institution).await?;
        readable_pair(&self.store, &viewer, &id).await?;
        viewer.require_staff()?;
        let mut problems = FieldProblems::new();
        let paths = problems
            .field(mask_paths(
                body.update_mask.as_ref(),
                &["form", "goal", "order"],
            ))
            .unwrap_or_default();
        let has = |path: &str| paths.iter().any(|p| p == path);
        if has("order") {
            // Checked before the fields so the curator learns it is the director's act.
            viewer.require_director(Some("order"))?;
        }
        let form = if has("form") {
            problems.field(convert::parse_form(changed.form, "pair.form"))
        } else {
            None
        };
        let goal = has("goal").then(|| problems.text("pair.goal", &changed.goal, 2000, false));
        let order = if has("order") {
            order_of(
                &mut problems,
                changed.order.as_ref(),
                "pair.order",
                viewer.setting.today,
            )
        } else {
            None
        };
        problems.finish()?;
        let change = PairChange { form, goal };
        let today = viewer.setting.today;
        let mut tx = self.store.begin().await?;
        let mut supplied = changed.etag.as_str();
        let mut updated = None;
        if change.form.is_some() || change.goal.is_some() {
            updated =
                Some(pairs::update(&mut tx, context, &institution, &id, &change, supplied).await?);
            // The etag named the pair before this call; the order below follows in the
            // same transaction, under the same lock.
            supplied = "";
        }
        if let Some(order) = &order {
            updated = Some(
                pairs::record_order(&mut tx, context, &institution, &id, order, supplied).await?,
            );
        }
        let updated = updated.ok_or_else(|| {
            ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "update_mask",
                "nothing to change",
            )
        })?;
        tx.commit().await?;
        Ok(pair(&updated, today))
    }

    async fn activate(
        &self,
        request: Request<pb::ActivatePairRequest>,
    ) -> Result<pb::Pair, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (institution, id) = pair_ref(&body.name, "name")?;
        let viewer = viewer(&self.store, context, &institution).await?;
        readable_pair(&self.store, &viewer, &id).await?;
        viewer.require_staff()?;
        let key = IdempotencyKey::for_request(context, "ActivatePair", &body.request_id, body)?;
        let today = viewer.setting.today;
        let mut tx = self.store.begin().await?;
        let activated = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            Ok(pair(
                &pairs::activate(conn, context, &institution, &id, &body.etag).await?,
                today,
            ))
        })
        .await?;
        tx.commit().await?;
        Ok(activated)
    }

    async fn complete(
        &self,
        request: Request<pb::CompletePairRequest>,
    ) -> Result<pb::Pair, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (institution, id) = pair_ref(&body.name, "name")?;
        let viewer = viewer(&self.store, context, &institution).await?;
        readable_pair(&self.store, &viewer, &id).await?;
        viewer.require_staff()?;
        let today = viewer.setting.today;
        let completion = body.completion.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        if body.completion.is_none() {
            problems.add("completion", "required: the reason and initiator");
        }
        let reason = problems.field(convert::required(
            completion.reason,
            "completion.reason",
            "a completion reason",
            &REASONS,
        ));
        let initiator = problems.field(convert::required(
            completion.initiator,
            "completion.initiator",
            "a completion initiator",
            &INITIATORS,
        ));
        let explanation = problems.text(
            "completion.explanation",
            &completion.explanation,
            2000,
            false,
        );
        let complete_date = match &completion.complete_date {
            None => Some(today),
            Some(day) => problems.field(not_after(
                civil_date(Some(day), "completion.complete_date"),
                today,
                "completion.complete_date",
            )),
        };
        let mentee = if body.mentee.is_empty() {
            None
        } else {
            problems
                .field(participant_ref(&body.mentee, "mentee"))
                .and_then(|(of, mentee)| {
                    if of == institution {
                        Some(mentee)
                    } else {
                        problems.add("mentee", "not a current mentee of the group");
                        None
                    }
                })
        };
        // The domain's own checks of the completion join the rest, so every bad field is
        // named at once.
        if let (Some(reason), Some(initiator)) = (reason, initiator)
            && let Err(refusal) = ensure_well_formed(&CompletionRequest {
                reason,
                initiator,
                explanation: &explanation,
                one_mentee: !body.mentee.is_empty(),
            })
        {
            for field in refusal.field_errors() {
                problems.add(field.field.clone(), field.message.clone());
            }
        }
        problems.finish()?;
        let draft = CompletionDraft {
            reason: vouched(reason)?,
            initiator: vouched(initiator)?,
            explanation,
            complete_date: vouched(complete_date)?,
        };
        let key = IdempotencyKey::for_request(context, "CompletePair", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let completed = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            let done = match &mentee {
                Some(mentee) => {
                    pairs::complete_mentee(
                        conn,
                        context,
                        &institution,
                        &id,
                        mentee,
                        &draft,
                        &body.etag,
                    )
                    .await?
                }
                None => {
                    pairs::complete(conn, context, &institution, &id, &draft, &body.etag).await?
                }
            };
            Ok(pair(&done, today))
        })
        .await?;
        tx.commit().await?;
        Ok(completed)
    }

    async fn cancel(&self, request: Request<pb::CancelPairRequest>) -> Result<pb::Pair, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (institution, id) = pair_ref(&body.name, "name")?;
        let viewer = viewer(&self.store, context, &institution).await?;
        readable_pair(&self.store, &viewer, &id).await?;
        viewer.require_staff()?;
        let mut problems = FieldProblems::new();
        let reason = problems.text("reason", &body.reason, 2000, true);
        problems.finish()?;
        let key = IdempotencyKey::for_request(context, "CancelPair", &body.request_id, body)?;
        let today = viewer.setting.today;
        let mut tx = self.store.begin().await?;
        let cancelled = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            Ok(pair(
                &pairs::cancel(conn, context, &institution, &id, &reason, &body.etag).await?,
                today,
            ))
        })
        .await?;
        tx.commit().await?;
        Ok(cancelled)
    }
}

/// The caller in `institution` for this service: `ROLE_REQUIRED` for an event consumer
/// (whose token names no institution) and for the regional centre (counts only, never a
/// pair), checked without looking at any pair; `NOT_FOUND` outside the tenant.
pub(super) async fn viewer(
    store: &Store,
    context: &CallContext,
    institution: &str,
) -> Result<Viewer, ApiError> {
    let caller = context.caller()?;
    let only_events = caller.has_role(EVENT_CONSUMER)
        && caller
            .roles()
            .all(|r| r == EVENT_CONSUMER || !r.starts_with("mentoring."));
    if only_events {
        return Err(role_required(
            "event consumers read the event stream (EventService) only",
        ));
    }
    let viewer = Viewer::of(store, context, institution).await?;
    if viewer.is_regional_centre() {
        return Err(role_required(
            "the regional centre reads the institutions' figures (ReportService), never a pair",
        ));
    }
    Ok(viewer)
}

/// A read by staff: a curator token that is not the appointed curator is refused
/// (`CURATOR_NOT_APPOINTED`) in every method, reads included. Participants and guardians
/// read what their visibility gives them.
pub(super) fn require_reader(viewer: &Viewer) -> Result<(), ApiError> {
    if viewer.reads_as_staff() {
        viewer.require_staff()?;
    }
    Ok(())
}

/// The pair `id` with every member it ever had, as `viewer` may read it: `NOT_FOUND` when
/// missing, and when none of the caller's people is or was a member.
pub(super) async fn readable_pair(
    store: &Store,
    viewer: &Viewer,
    id: &str,
) -> Result<(Pair, Vec<EverMember>), ApiError> {
    let mut conn = store.read().await?;
    let found = pairs::get(&mut conn, &viewer.setting, id).await?;
    let members = pairs::members_ever(&mut conn, viewer.institution(), id).await?;
    if viewer.sees_members(members.iter().map(|m| m.id.as_str())) {
        Ok((found, members))
    } else {
        Err(ApiError::not_found(pair_name(viewer.institution(), id)))
    }
}

/// `institutions/{institution}/pairs/{pair}`: the two IDs.
pub(super) fn pair_ref(name: &str, field: &str) -> Result<(String, String), ApiError> {
    let [institution, pair] = resource::parse_nested(name, ["institutions", "pairs"], field)?;
    Ok((institution, pair))
}

/// `institutions/{institution}/participants/{participant}`: the two IDs.
pub(super) fn participant_ref(name: &str, field: &str) -> Result<(String, String), ApiError> {
    let [institution, participant] =
        resource::parse_nested(name, ["institutions", "participants"], field)?;
    Ok((institution, participant))
}

/// A participant reference's ID when it is of `institution`; a participant of another
/// institution does not exist here (`NOT_FOUND`).
pub(super) fn in_institution(
    (of, id): (String, String),
    institution: &str,
) -> Result<String, ApiError> {
    if of == institution {
        Ok(id)
    } else {
        Err(ApiError::not_found(participant_name(&of, &id)))
    }
}

/// The ID at the end of a resource name the store gave.
pub(super) fn last_id(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// A director's order from the wire (`field` = `pair.order` or `order`): its number (1 to
/// 100 characters) and date (not after `today`), every problem recorded.
pub(super) fn order_of(
    problems: &mut FieldProblems,
    order: Option<&pb::DirectorOrder>,
    field: &str,
    today: Date,
) -> Option<DirectorOrder> {
    let Some(order) = order else {
        problems.add(field, "required: the order's number and date");
        return None;
    };
    let number_field = format!("{field}.number");
    let number = problems.text(&number_field, &order.number, 100, true);
    let date_field = format!("{field}.order_date");
    let date = problems.field(not_after(
        civil_date(order.order_date.as_ref(), &date_field),
        today,
        &date_field,
    ))?;
    (!number.is_empty() && number.chars().count() <= 100).then_some(DirectorOrder { number, date })
}

/// A parsed day that must not come after `today` (the institution's).
fn not_after(day: Result<Date, ApiError>, today: Date, field: &str) -> Result<Date, ApiError> {
    let day = day?;
    if day > today {
        Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            field,
            "must not be after today",
        ))
    } else {
        Ok(day)
    }
}

/// A value the field checks vouched for: once `FieldProblems::finish` has passed, every
/// parsed field is there, so a gap is this module's bug, answered as INTERNAL rather than
/// with a panic.
pub(super) fn vouched<T>(value: Option<T>) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::internal(&std::io::Error::other("a checked field is missing")))
}

/// `ROLE_REQUIRED` with `text`.
pub(super) fn role_required(text: &str) -> ApiError {
    ApiError::permission_denied(kit_reason::ROLE_REQUIRED, text.to_string())
}

/// A domain value on the wire among `pairs` (`0` when missing, which the tables exclude).
pub(super) fn wire_value<D: PartialEq + Copy, W: Copy + Into<i32>>(
    value: D,
    pairs: &[(D, W)],
) -> i32 {
    pairs
        .iter()
        .find(|(d, _)| *d == value)
        .map_or(0, |(_, w)| (*w).into())
}

/// A pair or group as answered, on `today` (the institution's day, for `agreement_expired`).
pub(super) fn pair(p: &Pair, today: Date) -> pb::Pair {
    pb::Pair {
        name: p.name.clone(),
        pair_type: convert::pair_type(p.pair_type),
        form: convert::form(p.form),
        kind: wire_value(p.kind, &KINDS),
        mentor: p.mentor_person.participant.clone(),
        mentees: p
            .mentee_people
            .iter()
            .map(|m| m.participant.clone())
            .collect(),
        mentor_person: Some(convert::person(&p.mentor_person)),
        mentee_people: p.mentee_people.iter().map(convert::person).collect(),
        goal: p.goal.clone(),
        state: wire_value(p.state, &PAIR_STATES),
        order: p.order.as_ref().map(|o| pb::DirectorOrder {
            number: o.number.clone(),
            order_date: Some(wire::date(o.date)),
            record_time: p.order_record_time.map(timestamp),
        }),
        agreement: p
            .agreement
            .as_ref()
            .map(|a| a.name.clone())
            .unwrap_or_default(),
        agreement_end_date: p.agreement.as_ref().map(|a| wire::date(a.end_date)),
        agreement_expired: p.agreement.as_ref().is_some_and(|a| a.end_date < today),
        activate_time: p.first_activate_time.map(timestamp),
        suspension: p
            .suspension
            .as_ref()
            .map(|(at, participants)| pb::Suspension {
                participants: participants.clone(),
                suspend_time: Some(timestamp(*at)),
            }),
        completion: p.completion.map(|(reason, initiator)| pb::Completion {
            reason: wire_value(reason, &REASONS),
            initiator: wire_value(initiator, &INITIATORS),
            explanation: p.completion_explanation.clone(),
            complete_date: p.complete_date.map(wire::date),
            record_time: p.complete_time.map(timestamp),
        }),
        cancel_reason: p.cancel_reason.clone(),
        former_mentees: p
            .former_mentees
            .iter()
            .map(|f| pb::FormerMentee {
                person: Some(convert::person(&f.person)),
                completion: f.completion.map(|(reason, initiator, day)| pb::Completion {
                    reason: wire_value(reason, &REASONS),
                    initiator: wire_value(initiator, &INITIATORS),
                    explanation: f.explanation.clone(),
                    complete_date: Some(wire::date(day)),
                    record_time: f.left_time.map(timestamp),
                }),
            })
            .collect(),
        redacted: p.redacted,
        create_time: Some(timestamp(p.create_time)),
        update_time: Some(timestamp(p.update_time)),
        etag: etag::of(p.version),
    }
}

#[tonic::async_trait]
impl PairService for PairsApi {
    async fn create_pair(
        &self,
        request: Request<pb::CreatePairRequest>,
    ) -> Result<Response<pb::Pair>, Status> {
        respond(self.create(request).await)
    }

    async fn get_pair(
        &self,
        request: Request<pb::GetPairRequest>,
    ) -> Result<Response<pb::Pair>, Status> {
        respond(self.get(request).await)
    }

    async fn list_pairs(
        &self,
        request: Request<pb::ListPairsRequest>,
    ) -> Result<Response<pb::ListPairsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn update_pair(
        &self,
        request: Request<pb::UpdatePairRequest>,
    ) -> Result<Response<pb::Pair>, Status> {
        respond(self.update(request).await)
    }

    async fn activate_pair(
        &self,
        request: Request<pb::ActivatePairRequest>,
    ) -> Result<Response<pb::Pair>, Status> {
        respond(self.activate(request).await)
    }

    async fn complete_pair(
        &self,
        request: Request<pb::CompletePairRequest>,
    ) -> Result<Response<pb::Pair>, Status> {
        respond(self.complete(request).await)
    }

    async fn cancel_pair(
        &self,
        request: Request<pb::CancelPairRequest>,
    ) -> Result<Response<pb::Pair>, Status> {
        respond(self.cancel(request).await)
    }

    async fn create_replacement_petition(
        &self,
        request: Request<pb::CreateReplacementPetitionRequest>,
    ) -> Result<Response<pb::ReplacementPetition>, Status> {
        respond(petitions::create(&self.store, request).await)
    }

    async fn list_replacement_petitions(
        &self,
        request: Request<pb::ListReplacementPetitionsRequest>,
    ) -> Result<Response<pb::ListReplacementPetitionsResponse>, Status> {
        respond(petitions::list(&self.store, request).await)
    }

    async fn decide_replacement_petition(
        &self,
        request: Request<pb::DecideReplacementPetitionRequest>,
    ) -> Result<Response<pb::ReplacementPetition>, Status> {
        respond(petitions::decide(&self.store, request).await)
    }
}
