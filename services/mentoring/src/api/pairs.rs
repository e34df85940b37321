//! `PairService` (`proto/edu/mentoring/v1/pair.proto`): pairs and groups (rules 3–5, 8) and,
//! through [`super::petitions`], the mentees' replacement petitions (rule 9).
//!
//! Rules of this layer, the domain's and the store's being theirs:
//! - The entry is [`Viewer::among_people`]: event consumers (the event stream only) and the
//!   regional centre (counts only, ReportService) are `ROLE_REQUIRED` without looking at
//!   any pair, and a curator token that is not the appointed curator is
//!   `CURATOR_NOT_APPOINTED` in every method. Tenancy comes before the rest: outside the
//!   institution every pair is `NOT_FOUND`; then whether they see the pair (staff see
//!   every pair, a participant or guardian only a pair one of their people is or was a
//!   member of), and only then the role, so `ROLE_REQUIRED` never reveals a pair.
//! - The director and the appointed curator form, change, activate, complete and cancel;
//!   the director alone records the order (`ROLE_REQUIRED`, field `order`).
//! - Answers are mapped from what the store shows: people come redacted from its one read
//!   of people, and the pair's free texts empty when a member is redacted; nothing is added
//!   back here.

use edu_kit::error::{FieldProblems, reason as kit_reason};
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::paging::PageRequest;
use edu_kit::wire::{self, mask_paths, timestamp};
use edu_kit::{ApiError, CallContext, etag};
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::pair_service_server::PairService;
use jiff::civil::Date;
use tonic::{Request, Response, Status};

use super::access::Viewer;
use super::convert::{self, checked, past_day};
use super::{names, once, petitions, respond};
use crate::domain::completion::{
    CompletionInitiator, CompletionReason, CompletionRequest, ensure_well_formed,
};
use crate::domain::{PairKind, PairState};
use crate::store::pairs::{
    self, CompletionDraft, DirectorOrder, EverMember, Pair, PairChange, PairDraft, PairFilter,
};
use crate::store::{Store, pair_name};

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

    /// The pair `name` (request field `field`) for an act of staff: the caller must see it
    /// (`NOT_FOUND` otherwise, as a missing one), and only then be staff. The viewer and the
    /// institution's and pair's IDs.
    async fn staff_pair(
        &self,
        context: &CallContext,
        name: &str,
        field: &str,
    ) -> Result<(Viewer, String, String), ApiError> {
        let (institution, id) = names::pair(name, field)?;
        let viewer = Viewer::among_people(&self.store, context, &institution).await?;
        readable_pair(&self.store, &viewer, &id).await?;
        viewer.require_staff()?;
        Ok((viewer, institution, id))
    }

    async fn create(&self, request: Request<pb::CreatePairRequest>) -> Result<pb::Pair, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let institution = names::institution(&body.parent, "parent")?;
        let viewer = Viewer::among_people(&self.store, context, &institution).await?;
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
            problems.field(names::participant(&draft.mentor, "pair.mentor"))
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
            } else if let Some(found) = problems.field(names::participant(name, &field)) {
                mentees.push(found);
            }
        }
        let goal = problems.text("pair.goal", &draft.goal, 2000, false);
        problems.finish()?;
        let pair_type = checked(pair_type, "pair.pair_type")?;
        let form = checked(form, "pair.form")?;
        // A member of another institution does not exist here.
        let mentor = names::participant_here(&institution, checked(mentor, "pair.mentor")?)?;
        let mentees = mentees
            .into_iter()
            .map(|m| names::participant_here(&institution, m))
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
        let created = once(&self.store, key.as_ref(), context.now(), async |conn| {
            Ok(pair(
                &pairs::create(conn, context, &institution, &draft).await?,
                today,
            ))
        })
        .await?;
        Ok(created)
    }

    async fn get(&self, request: Request<pb::GetPairRequest>) -> Result<pb::Pair, ApiError> {
        let context = CallContext::of(&request)?;
        let (institution, id) = names::pair(&request.get_ref().name, "name")?;
        let viewer = Viewer::among_people(&self.store, context, &institution).await?;
        let (found, _) = readable_pair(&self.store, &viewer, &id).await?;
        Ok(pair(&found, viewer.setting.today))
    }

    async fn list(
        &self,
        request: Request<pb::ListPairsRequest>,
    ) -> Result<pb::ListPairsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let institution = names::institution(&body.parent, "parent")?;
        let viewer = Viewer::among_people(&self.store, context, &institution).await?;
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
            problems.field(names::participant_of(
                &institution,
                &body.participant,
                "participant",
            ))
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
        conn.finish();
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
        let (viewer, institution, id) =
            self.staff_pair(context, &changed.name, "pair.name").await?;
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
        let (viewer, institution, id) = self.staff_pair(context, &body.name, "name").await?;
        let key = IdempotencyKey::for_request(context, "ActivatePair", &body.request_id, body)?;
        let today = viewer.setting.today;
        let activated = once(&self.store, key.as_ref(), context.now(), async |conn| {
            Ok(pair(
                &pairs::activate(conn, context, &institution, &id, &body.etag).await?,
                today,
            ))
        })
        .await?;
        Ok(activated)
    }

    async fn complete(
        &self,
        request: Request<pb::CompletePairRequest>,
    ) -> Result<pb::Pair, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (viewer, institution, id) = self.staff_pair(context, &body.name, "name").await?;
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
            Some(day) => past_day(&mut problems, Some(day), "completion.complete_date", today),
        };
        let mentee = if body.mentee.is_empty() {
            None
        } else {
            problems.field(names::participant_of(&institution, &body.mentee, "mentee"))
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
            reason: checked(reason, "completion.reason")?,
            initiator: checked(initiator, "completion.initiator")?,
            explanation,
            complete_date: checked(complete_date, "completion.complete_date")?,
        };
        let key = IdempotencyKey::for_request(context, "CompletePair", &body.request_id, body)?;
        let completed = once(&self.store, key.as_ref(), context.now(), async |conn| {
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
        Ok(completed)
    }

    async fn cancel(&self, request: Request<pb::CancelPairRequest>) -> Result<pb::Pair, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (viewer, institution, id) = self.staff_pair(context, &body.name, "name").await?;
        let mut problems = FieldProblems::new();
        let reason = problems.text("reason", &body.reason, 2000, true);
        problems.finish()?;
        let key = IdempotencyKey::for_request(context, "CancelPair", &body.request_id, body)?;
        let today = viewer.setting.today;
        let cancelled = once(&self.store, key.as_ref(), context.now(), async |conn| {
            Ok(pair(
                &pairs::cancel(conn, context, &institution, &id, &reason, &body.etag).await?,
                today,
            ))
        })
        .await?;
        Ok(cancelled)
    }
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
    conn.finish();
    if viewer.sees_members(members.iter().map(|m| m.id.as_str())) {
        Ok((found, members))
    } else {
        Err(ApiError::not_found(pair_name(viewer.institution(), id)))
    }
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
    let date = past_day(problems, order.order_date.as_ref(), &date_field, today)?;
    (!number.is_empty() && number.chars().count() <= 100).then_some(DirectorOrder { number, date })
}

/// A pair or group as answered, on `today` (the institution's day, for `agreement_expired`).
pub(super) fn pair(p: &Pair, today: Date) -> pb::Pair {
    pb::Pair {
        name: p.name.clone(),
        pair_type: convert::pair_type(p.pair_type),
        form: convert::form(p.form),
        kind: convert::wire(p.kind, &KINDS),
        mentor: p.mentor_person.participant.clone(),
        mentees: p
            .mentee_people
            .iter()
            .map(|m| m.participant.clone())
            .collect(),
        mentor_person: Some(convert::person(&p.mentor_person)),
        mentee_people: p.mentee_people.iter().map(convert::person).collect(),
        goal: p.goal.clone(),
        state: convert::wire(p.state, &PAIR_STATES),
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
            reason: convert::wire(reason, &REASONS),
            initiator: convert::wire(initiator, &INITIATORS),
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
                    reason: convert::wire(reason, &REASONS),
                    initiator: convert::wire(initiator, &INITIATORS),
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
