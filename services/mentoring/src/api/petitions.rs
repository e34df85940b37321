//! The replacement petitions of `PairService` (rule 9; `pair.proto`): served by
//! [`super::PairsApi`], kept here so each file holds one resource.
//!
//! Who: a current mentee of the pair files for themselves, the guardian of a minor mentee
//! for the minor, the director or the curator a paper petition; for another mentee of the
//! group a mentee or guardian is `SCOPE_REQUIRED`, and the mentor `ROLE_REQUIRED` (they do
//! not read petitions about them either). The director alone decides. A mentee or guardian
//! lists only the mentee's own petitions; staff list a pair's, or with `pairs/-` every
//! pair's (the director's queue with `state` PENDING).

use edu_kit::error::FieldProblems;
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::paging::PageRequest;
use edu_kit::wire::{self, timestamp};
use edu_kit::{ApiError, CallContext, etag};
use edu_proto::edu::mentoring::v1 as pb;
use tonic::Request;

use super::access::{Viewer, role_required};
use super::convert::{self, checked};
use super::errors::reason;
use super::pairs::{order_of, readable_pair};
use super::{names, once};
use crate::domain::consent::ActorKind;
use crate::store::Store;
use crate::store::petitions::{
    self, Decision, Petition, PetitionDraft, PetitionFilter, PetitionState, petition_name,
};

/// Every petition state with its wire value.
const STATES: [(PetitionState, pb::PetitionState); 4] = [
    (PetitionState::Pending, pb::PetitionState::Pending),
    (PetitionState::Granted, pb::PetitionState::Granted),
    (PetitionState::Rejected, pb::PetitionState::Rejected),
    (PetitionState::Lapsed, pb::PetitionState::Lapsed),
];

/// The director's decision on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Grant,
    Reject,
}

const VERDICTS: [(Verdict, pb::PetitionDecision); 2] = [
    (Verdict::Grant, pb::PetitionDecision::Grant),
    (Verdict::Reject, pb::PetitionDecision::Reject),
];

/// `CreateReplacementPetition`.
pub(super) async fn create(
    store: &Store,
    request: Request<pb::CreateReplacementPetitionRequest>,
) -> Result<pb::ReplacementPetition, ApiError> {
    let context = CallContext::of(&request)?;
    let body = request.get_ref();
    let (institution, pair) = names::pair(&body.parent, "parent")?;
    let viewer = Viewer::among_people(store, context, &institution).await?;
    let (_, members) = readable_pair(store, &viewer, &pair).await?;
    let current_mentees: Vec<&str> = members
        .iter()
        .filter(|m| !m.mentor && m.current)
        .map(|m| m.id.as_str())
        .collect();
    let filed_by = viewer.actor()?;
    if filed_by != ActorKind::Staff && !current_mentees.iter().any(|m| viewer.acts_for(m)) {
        // The mentor, or a mentee who has left the group: they see the pair, but only its
        // current mentees (or their guardians) petition.
        return Err(role_required(
            "only a current mentee of the pair, their guardian or the staff file a petition",
        ));
    }
    let draft = body.replacement_petition.clone().unwrap_or_default();
    let mut problems = FieldProblems::new();
    if body.replacement_petition.is_none() {
        problems.add(
            "replacement_petition",
            "required: the mentee and the reason",
        );
    }
    let mentee = if draft.mentee.is_empty() {
        None
    } else {
        problems.field(names::participant_of(
            &institution,
            &draft.mentee,
            "replacement_petition.mentee",
        ))
    };
    let reason = problems.text("replacement_petition.reason", &draft.reason, 2000, true);
    problems.finish()?;
    if filed_by != ActorKind::Staff
        && let Some(mentee) = &mentee
        && !viewer.acts_for(mentee)
        && current_mentees.contains(&mentee.as_str())
    {
        return Err(ApiError::permission_denied(
            reason::SCOPE_REQUIRED,
            "a mentee, or their guardian, petitions for that mentee only",
        )
        .in_russian(
            "Ходатайство подаёт сам наставляемый или его законный представитель, а не другой \
             участник группы.",
        ));
    }
    let draft = PetitionDraft {
        mentee,
        reason,
        filed_by,
    };
    let key =
        IdempotencyKey::for_request(context, "CreateReplacementPetition", &body.request_id, body)?;
    let filed = once(store, key.as_ref(), context.now(), async |conn| {
        Ok(petition(
            &petitions::create(conn, context, &institution, &pair, &draft).await?,
        ))
    })
    .await?;
    Ok(filed)
}

/// `ListReplacementPetitions`.
pub(super) async fn list(
    store: &Store,
    request: Request<pb::ListReplacementPetitionsRequest>,
) -> Result<pb::ListReplacementPetitionsResponse, ApiError> {
    let context = CallContext::of(&request)?;
    let body = request.get_ref();
    let (institution, pair) = names::pairs_parent(&body.parent, "parent")?;
    let viewer = Viewer::among_people(store, context, &institution).await?;
    if let Some(pair) = &pair {
        let (_, members) = readable_pair(store, &viewer, pair).await?;
        // The mentor sees the pair but not the petitions about them.
        let a_mentee = members
            .iter()
            .any(|m| !m.mentor && viewer.sees_person(&m.id));
        if !a_mentee {
            return Err(role_required(
                "the petitions of a pair are read by the staff and by its mentees",
            ));
        }
    }
    let mut problems = FieldProblems::new();
    let state = problems
        .field(convert::optional(
            body.state,
            "state",
            "a petition state",
            &STATES,
        ))
        .flatten();
    problems.finish()?;
    let paging = PageRequest::<String>::parse(
        body.page_size,
        &body.page_token,
        &[
            "ListReplacementPetitions",
            &body.parent,
            &body.state.to_string(),
        ],
    )?;
    let filter = PetitionFilter {
        state,
        mentee: None,
        mentees: viewer.people(),
    };
    let mut conn = store.read().await?;
    let page = petitions::list_page(
        &mut conn,
        &viewer.setting,
        pair.as_deref(),
        &filter,
        paging.size,
        paging.after.clone(),
    )
    .await?;
    conn.finish();
    Ok(pb::ListReplacementPetitionsResponse {
        replacement_petitions: page.items.iter().map(petition).collect(),
        next_page_token: paging.next_token(page.next.as_ref()),
    })
}

/// `DecideReplacementPetition`.
pub(super) async fn decide(
    store: &Store,
    request: Request<pb::DecideReplacementPetitionRequest>,
) -> Result<pb::ReplacementPetition, ApiError> {
    let context = CallContext::of(&request)?;
    let body = request.get_ref();
    let [institution, pair, id] = names::pair_child(&body.name, "replacementPetitions", "name")?;
    let viewer = Viewer::among_people(store, context, &institution).await?;
    let found = {
        let mut conn = store.read().await?;
        let found = petitions::get(&mut conn, &viewer.setting, &pair, &id).await?;
        conn.finish();
        found
    };
    // Only staff and the petitioning mentee (or their guardian) know of a petition.
    if !(viewer.is_staff() || viewer.acts_for(names::last_id(&found.petitioner.participant))) {
        return Err(ApiError::not_found(petition_name(&institution, &pair, &id)));
    }
    viewer.require_staff()?;
    viewer.require_director(None)?;
    let (setting, today) = (viewer.setting.clone(), viewer.setting.today);
    let mut problems = FieldProblems::new();
    let verdict = problems.field(convert::required(
        body.decision,
        "decision",
        "a decision",
        &VERDICTS,
    ));
    let reason = problems.text(
        "reason",
        &body.reason,
        2000,
        verdict == Some(Verdict::Reject),
    );
    let mut new_mentor = None;
    let mut order = None;
    if verdict == Some(Verdict::Grant) {
        if body.new_mentor.is_empty() {
            problems.add("new_mentor", "a grant names the new mentor");
        } else {
            new_mentor = problems.field(names::participant(&body.new_mentor, "new_mentor"));
        }
        order = order_of(&mut problems, body.order.as_ref(), "order", today);
    }
    problems.finish()?;
    let decision = match checked(verdict, "decision")? {
        Verdict::Grant => Decision::Grant {
            // A mentor of another institution does not exist here.
            new_mentor: names::participant_here(&institution, checked(new_mentor, "new_mentor")?)?,
            order: checked(order, "order")?,
        },
        Verdict::Reject => Decision::Reject {
            reason: reason.clone(),
        },
    };
    let key =
        IdempotencyKey::for_request(context, "DecideReplacementPetition", &body.request_id, body)?;
    let decided = once(store, key.as_ref(), context.now(), async |conn| {
        let mut decided = petitions::decide(
            conn,
            context,
            &institution,
            &pair,
            &id,
            &decision,
            &body.etag,
        )
        .await?;
        // A grant's reasons are optional; the store's decision keeps a rejection's only.
        if matches!(decision, Decision::Grant { .. }) && !reason.is_empty() {
            decided = petitions::keep_grant_reason(conn, &setting, &pair, &id, &reason).await?;
        }
        Ok(petition(&decided))
    })
    .await?;
    Ok(decided)
}

/// A petition as answered (its people and texts as the store showed them).
fn petition(p: &Petition) -> pb::ReplacementPetition {
    pb::ReplacementPetition {
        name: p.name.clone(),
        mentee: p.petitioner.participant.clone(),
        petitioner: Some(convert::person(&p.petitioner)),
        filed_by: convert::actor(p.filed_by),
        reason: p.reason.clone(),
        mentor_person: Some(convert::person(&p.mentor_person)),
        state: convert::wire(p.state, &STATES),
        new_mentor_person: p.new_mentor_person.as_ref().map(convert::person),
        order: p.order.as_ref().map(|o| pb::DirectorOrder {
            number: o.number.clone(),
            order_date: Some(wire::date(o.date)),
            record_time: p.decide_time.map(timestamp),
        }),
        decision_reason: p.decision_reason.clone(),
        decide_time: p.decide_time.map(timestamp),
        redacted: p.redacted,
        create_time: Some(timestamp(p.create_time)),
        etag: etag::of(p.version),
    }
}
