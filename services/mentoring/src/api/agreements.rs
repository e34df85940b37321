//! `AgreementService` (rule 6; App. 3; choices 10 and 18): agreements recorded once signed
//! by the pair's members or a minor's representative, with tasks and 1 to 36 months (60 at
//! most with extensions); extensions by mutual agreement; violations of clause 2; and
//! termination, MUTUAL or UNILATERAL, the latter refused with `VIOLATIONS_NOT_SYSTEMATIC`
//! below three violations recorded against the other party.
//!
//! Who: the director and the appointed curator record; the pair's mentor, mentees and the
//! guardians of minor mentees read their pair's agreements. The entry is
//! [`Viewer::among_people`]: event consumers and the regional centre, who never see a
//! person, are refused with `ROLE_REQUIRED`, a curator token of someone not appointed with
//! `CURATOR_NOT_APPOINTED`, reads included. A pair the caller does not see does not exist
//! (`NOT_FOUND`), and visibility is settled before the role, so that `ROLE_REQUIRED` never
//! reveals an agreement.
//!
//! The pair's visibility ([`visible_pair`]) is shared with `PlanService`
//! ([`super::plans`]), which asks the same question of the same pair.

use edu_kit::error::{FieldProblems, reason as kit_reason};
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, etag, wire};
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::agreement_service_server::AgreementService;
use sqlx::PgConnection;
use tonic::{Request, Response, Status};

use super::access::Viewer;
use super::convert::{self, checked, past_day};
use super::{names, once, respond};
use crate::domain::agreement::{AgreementEndReason, AgreementState, MAX_MONTHS, MIN_MONTHS};
use crate::domain::consent::{ConsentPurpose, ConsentState};
use crate::domain::{PairKind, PairSide};
use crate::store::agreements::{
    self, Agreement, AgreementDraft, AgreementFilter, ExtensionDraft, Representative,
    TerminationDraft, TerminationRequest, ViolationDraft,
};
use crate::store::institutions::Setting;
use crate::store::pairs::{self, Pair};
use crate::store::{Store, consents, pair_name};

/// The agreement service.
#[derive(Debug, Clone)]
pub struct AgreementsApi {
    store: Store,
}

/// The tasks an agreement lists at most, and the longest task (choice 18; the contract's
/// `Agreement.tasks`).
const MAX_TASKS: usize = crate::domain::agreement::MAX_TASKS;
const MAX_TASK_CHARS: usize = crate::domain::agreement::MAX_TASK_CHARS;

/// Every agreement state with its wire value.
const STATES: [(AgreementState, pb::AgreementState); 2] = [
    (AgreementState::Signed, pb::AgreementState::Signed),
    (AgreementState::Ended, pb::AgreementState::Ended),
];

/// Every termination mode with its wire value.
const MODES: [(Mode, pb::TerminationMode); 2] = [
    (Mode::Mutual, pb::TerminationMode::Mutual),
    (Mode::Unilateral, pb::TerminationMode::Unilateral),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Mutual,
    Unilateral,
}

impl AgreementsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        AgreementsApi { store }
    }

    async fn create(
        &self,
        request: Request<pb::CreateAgreementRequest>,
    ) -> Result<pb::Agreement, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (institution, pair) = names::pair(&body.parent, "parent")?;
        let viewer = Viewer::among_people(&self.store, context, &institution).await?;
        let shown = visible_pair(&self.store, &viewer, &pair).await?;
        viewer.require_staff()?;
        let draft = body.agreement.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        if body.agreement.is_none() {
            problems.add("agreement", "required");
        }
        let tasks = tasks(&mut problems, &draft.tasks);
        let months = months(
            &mut problems,
            "agreement.duration_months",
            draft.duration_months,
        );
        let sign_date = past_day(
            &mut problems,
            draft.sign_date.as_ref(),
            "agreement.sign_date",
            viewer.setting.today,
        );
        problems.finish()?;
        let duration_months = checked(months, "agreement.duration_months")?;
        let sign_date = checked(sign_date, "agreement.sign_date")?;
        let key = IdempotencyKey::for_request(context, "CreateAgreement", &body.request_id, body)?;
        let today = viewer.setting.today;
        let created = once(&self.store, key.as_ref(), context.now(), async |conn| {
            let representatives = representatives(conn, &viewer.setting, &shown).await?;
            let created = agreements::create(
                conn,
                context,
                &institution,
                &pair,
                &AgreementDraft {
                    tasks,
                    duration_months,
                    sign_date,
                    representatives,
                },
            )
            .await?;
            Ok(agreement(&created, today))
        })
        .await?;
        Ok(created)
    }

    async fn list(
        &self,
        request: Request<pb::ListAgreementsRequest>,
    ) -> Result<pb::ListAgreementsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (institution, pair) = names::pairs_parent(&body.parent, "parent")?;
        let viewer = Viewer::among_people(&self.store, context, &institution).await?;
        if let Some(pair) = &pair {
            visible_pair(&self.store, &viewer, pair).await?;
        }
        let filter = AgreementFilter {
            state: convert::optional(body.state, "state", "an agreement state", &STATES)?,
            expired_only: body.expired_only,
            // `pairs/-` lists every pair to staff, and the caller's own pairs to a member or
            // guardian: those one of their people is or was a member of.
            members: if pair.is_none() {
                viewer.people()
            } else {
                None
            },
        };
        let paging = PageRequest::<String>::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListAgreements",
                &body.parent,
                &body.state.to_string(),
                &body.expired_only.to_string(),
            ],
        )?;
        let mut conn = self.store.read().await?;
        let page = agreements::list_page(
            &mut conn,
            &viewer.setting,
            pair.as_deref(),
            &filter,
            paging.size,
            paging.after.clone(),
        )
        .await?;
        conn.finish();
        Ok(pb::ListAgreementsResponse {
            agreements: page
                .items
                .iter()
                .map(|a| agreement(a, viewer.setting.today))
                .collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn extend(
        &self,
        request: Request<pb::ExtendAgreementRequest>,
    ) -> Result<pb::Agreement, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (viewer, [institution, pair, id], _) = self.writable(context, &body.name).await?;
        let extension = body.extension.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        if body.extension.is_none() {
            problems.add("extension", "required");
        }
        let months = months(&mut problems, "extension.months", extension.months);
        let basis = problems.text("extension.basis", &extension.basis, 300, true);
        let agree_date = past_day(
            &mut problems,
            extension.agree_date.as_ref(),
            "extension.agree_date",
            viewer.setting.today,
        );
        problems.finish()?;
        let months = checked(months, "extension.months")?;
        let agree_date = checked(agree_date, "extension.agree_date")?;
        let key = IdempotencyKey::for_request(context, "ExtendAgreement", &body.request_id, body)?;
        let today = viewer.setting.today;
        let extended = once(&self.store, key.as_ref(), context.now(), async |conn| {
            let extended = agreements::extend(
                conn,
                context,
                &institution,
                &pair,
                &id,
                &ExtensionDraft {
                    months,
                    basis,
                    agree_date,
                },
                &body.etag,
            )
            .await?;
            Ok(agreement(&extended, today))
        })
        .await?;
        Ok(extended)
    }

    async fn record_violation(
        &self,
        request: Request<pb::RecordAgreementViolationRequest>,
    ) -> Result<pb::Agreement, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (viewer, [institution, pair, id], _) = self.writable(context, &body.name).await?;
        let violation = body.violation.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        if body.violation.is_none() {
            problems.add("violation", "required");
        }
        let violator = problems.field(names::participant_of(
            &institution,
            &violation.violator,
            "violation.violator",
        ));
        let description =
            problems.text("violation.description", &violation.description, 2000, true);
        let occur_date = past_day(
            &mut problems,
            violation.occur_date.as_ref(),
            "violation.occur_date",
            viewer.setting.today,
        );
        problems.finish()?;
        let violator = checked(violator, "violation.violator")?;
        let occur_date = checked(occur_date, "violation.occur_date")?;
        let key = IdempotencyKey::for_request(
            context,
            "RecordAgreementViolation",
            &body.request_id,
            body,
        )?;
        let today = viewer.setting.today;
        let recorded = once(&self.store, key.as_ref(), context.now(), async |conn| {
            let recorded = agreements::record_violation(
                conn,
                context,
                &institution,
                &pair,
                &id,
                &ViolationDraft {
                    violator,
                    description,
                    occur_date,
                },
                &body.etag,
            )
            .await?;
            Ok(agreement(&recorded, today))
        })
        .await?;
        Ok(recorded)
    }

    async fn terminate(
        &self,
        request: Request<pb::TerminateAgreementRequest>,
    ) -> Result<pb::Agreement, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (viewer, [institution, pair, id], shown) = self.writable(context, &body.name).await?;
        let mut problems = FieldProblems::new();
        let mode = problems.field(convert::required(
            body.mode,
            "mode",
            "a termination mode",
            &MODES,
        ));
        let explanation = problems.text("explanation", &body.explanation, 2000, true);
        let end_date = match &body.end_date {
            Some(day) => past_day(&mut problems, Some(day), "end_date", viewer.setting.today),
            None => None,
        };
        let mut unilateral = None;
        if mode == Some(Mode::Unilateral) {
            let by = problems.field(convert::parse_side(body.initiator_side, "initiator_side"));
            let mentee = if body.mentee.is_empty() {
                if shown.kind == PairKind::Group {
                    problems.add(
                        "mentee",
                        "required for a group: the mentee whose relation with the mentor ends",
                    );
                }
                None
            } else {
                problems.field(names::participant_of(&institution, &body.mentee, "mentee"))
            };
            unilateral = by.map(|by| (by, mentee));
        }
        problems.finish()?;
        let mentor = names::last_id(&shown.mentor_person.participant).to_string();
        // For a pair the mentee may be left out: its only current mentee.
        let (termination_by, mentee) = match unilateral {
            None => (None, None),
            Some((by, mentee)) => {
                let mentee = mentee.or_else(|| {
                    shown
                        .mentee_people
                        .first()
                        .map(|m| names::last_id(&m.participant).to_string())
                });
                (Some(by), mentee)
            }
        };
        let termination = match (termination_by, &mentee) {
            (None, _) => TerminationDraft::Mutual,
            (Some(PairSide::Mentor), Some(mentee)) => TerminationDraft::Unilateral {
                by: PairSide::Mentor,
                violator: mentee,
            },
            (Some(PairSide::Mentor), None) => {
                return Err(ApiError::invalid_field(
                    kit_reason::INVALID_FIELDS,
                    "mentee",
                    "the pair has no current mentee",
                ));
            }
            (Some(PairSide::Mentee), _) => TerminationDraft::Unilateral {
                by: PairSide::Mentee,
                violator: &mentor,
            },
        };
        let key =
            IdempotencyKey::for_request(context, "TerminateAgreement", &body.request_id, body)?;
        let today = viewer.setting.today;
        let ended = once(&self.store, key.as_ref(), context.now(), async |conn| {
            let ended = agreements::terminate_as(
                conn,
                context,
                &institution,
                &pair,
                &id,
                &TerminationRequest {
                    termination,
                    mentee: mentee.as_deref(),
                    explanation: &explanation,
                    end_date,
                    supplied_etag: &body.etag,
                },
            )
            .await?;
            Ok(agreement(&ended, today))
        })
        .await?;
        Ok(ended)
    }

    /// The agreement `name` to change, once the caller may, with the caller, its three IDs
    /// and its pair: the agreement must exist for those who see the pair (`NOT_FOUND`), and
    /// only staff change it (`ROLE_REQUIRED`).
    async fn writable(
        &self,
        context: &CallContext,
        name: &str,
    ) -> Result<(Viewer, [String; 3], Pair), ApiError> {
        let ids = names::pair_child(name, "agreements", "name")?;
        let [institution, pair, id] = &ids;
        let viewer = Viewer::among_people(&self.store, context, institution).await?;
        let shown = visible_pair(&self.store, &viewer, pair).await?;
        let mut conn = self.store.read().await?;
        agreements::get(&mut conn, &viewer.setting, pair, id).await?;
        viewer.require_staff()?;
        conn.finish();
        Ok((viewer, ids, shown))
    }
}

/// The representatives who sign for the pair's minor members (App. 3: «родитель (законный
/// представитель)»): the guardian of each one's consent to personal data in force.
async fn representatives(
    conn: &mut PgConnection,
    setting: &Setting,
    pair: &Pair,
) -> Result<Vec<Representative>, ApiError> {
    let mut found = Vec::new();
    for member in std::iter::once(&pair.mentor_person).chain(&pair.mentee_people) {
        if !member.minor || member.redacted {
            continue;
        }
        let id = names::last_id(&member.participant);
        let guardian = consents::list(conn, setting, id)
            .await?
            .into_iter()
            .filter(|c| c.purpose == ConsentPurpose::PersonalData && c.state == ConsentState::Given)
            .find_map(|c| c.guardian);
        if let Some(guardian) = guardian {
            found.push(Representative {
                participant: id.to_string(),
                name: guardian.name.display_name(),
                relation: guardian.relation,
            });
        }
    }
    Ok(found)
}

/// The tasks of a new agreement, trimmed: 1 to 20, each 1 to 500 characters.
fn tasks(problems: &mut FieldProblems, raw: &[String]) -> Vec<String> {
    if raw.is_empty() || raw.len() > MAX_TASKS {
        problems.add("agreement.tasks", format!("list 1 to {MAX_TASKS} tasks"));
    }
    raw.iter()
        .enumerate()
        .map(|(i, task)| {
            problems.text(&format!("agreement.tasks[{i}]"), task, MAX_TASK_CHARS, true)
        })
        .collect()
}

/// A number of months, 1 to 36 (an agreement as signed, or one extension).
fn months(problems: &mut FieldProblems, field: &str, raw: i32) -> Option<u32> {
    match u32::try_from(raw) {
        Ok(months) if (MIN_MONTHS..=MAX_MONTHS).contains(&months) => Some(months),
        _ => {
            problems.add(field, format!("{MIN_MONTHS} to {MAX_MONTHS} months"));
            None
        }
    }
}

/// The IDs of a pair's members, mentor and mentees, current and former: whoever of them is
/// the caller's (as themselves or as a guardian) sees the pair.
fn member_ids(pair: &Pair) -> Vec<&str> {
    std::iter::once(&pair.mentor_person)
        .chain(&pair.mentee_people)
        .chain(pair.former_mentees.iter().map(|f| &f.person))
        .map(|p| names::last_id(&p.participant))
        .collect()
}

/// The pair `pair` of the caller's institution, when the caller sees it: staff every pair,
/// a participant or guardian the pairs one of their people is or was a member of;
/// `NOT_FOUND` otherwise, exactly as for a missing pair.
pub(super) async fn visible_pair(
    store: &Store,
    viewer: &Viewer,
    pair: &str,
) -> Result<Pair, ApiError> {
    let mut conn = store.read().await?;
    let shown = pairs::get(&mut conn, &viewer.setting, pair).await?;
    if !viewer.sees_members(member_ids(&shown).into_iter()) {
        return Err(ApiError::not_found(pair_name(viewer.institution(), pair)));
    }
    conn.finish();
    Ok(shown)
}

/// An agreement on the wire, `expired` judged on `today`.
fn agreement(a: &Agreement, today: jiff::civil::Date) -> pb::Agreement {
    pb::Agreement {
        name: a.name.clone(),
        parties: a
            .parties
            .iter()
            .zip(&a.party_terms)
            .map(|((person, side), terms)| pb::AgreementParty {
                person: Some(convert::person(person)),
                side: convert::side(*side),
                representative_name: terms
                    .representative
                    .as_ref()
                    .map(|(name, _)| name.clone())
                    .unwrap_or_default(),
                representative_relation: terms
                    .representative
                    .as_ref()
                    .map_or(0, |(_, relation)| convert::relation(*relation)),
                left: terms.left,
            })
            .collect(),
        tasks: a.tasks.clone(),
        duration_months: convert::count(a.term.duration_months),
        sign_date: Some(wire::date(a.term.sign_date)),
        state: convert::wire(a.state, &STATES),
        end_date: Some(wire::date(a.end_date)),
        total_months: convert::count(a.term.total_months()),
        expired: a.state == AgreementState::Signed && a.end_date < today,
        extensions: a
            .extensions
            .iter()
            .map(|e| pb::AgreementExtension {
                months: convert::count(e.months),
                basis: e.basis.clone(),
                agree_date: Some(wire::date(e.agree_date)),
                record_time: Some(wire::timestamp(e.record_time)),
            })
            .collect(),
        violations: a
            .violations
            .iter()
            .map(|v| pb::AgreementViolation {
                violator: v.violator.clone(),
                violator_side: convert::side(v.violator_side),
                description: v.description.clone(),
                occur_date: Some(wire::date(v.occur_date)),
                record_time: Some(wire::timestamp(v.record_time)),
            })
            .collect(),
        end_reason: a.end_reason.map_or(0, end_reason),
        terminated_by: a.terminated_by.map_or(0, convert::side),
        end_explanation: a.end_explanation.clone(),
        end_time: a.end_time.map(wire::timestamp),
        redacted: a.redacted,
        create_time: Some(wire::timestamp(a.create_time)),
        update_time: Some(wire::timestamp(a.update_time)),
        etag: etag::of(a.version),
    }
}

/// The stored names are the wire names without their enum's prefix.
fn end_reason(reason: AgreementEndReason) -> i32 {
    pb::AgreementEndReason::from_str_name(&format!("AGREEMENT_END_REASON_{}", reason.as_str()))
        .map_or(0, |r| r as i32)
}

#[tonic::async_trait]
impl AgreementService for AgreementsApi {
    async fn create_agreement(
        &self,
        request: Request<pb::CreateAgreementRequest>,
    ) -> Result<Response<pb::Agreement>, Status> {
        respond(self.create(request).await)
    }

    async fn list_agreements(
        &self,
        request: Request<pb::ListAgreementsRequest>,
    ) -> Result<Response<pb::ListAgreementsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn extend_agreement(
        &self,
        request: Request<pb::ExtendAgreementRequest>,
    ) -> Result<Response<pb::Agreement>, Status> {
        respond(self.extend(request).await)
    }

    async fn record_agreement_violation(
        &self,
        request: Request<pb::RecordAgreementViolationRequest>,
    ) -> Result<Response<pb::Agreement>, Status> {
        respond(self.record_violation(request).await)
    }

    async fn terminate_agreement(
        &self,
        request: Request<pb::TerminateAgreementRequest>,
    ) -> Result<Response<pb::Agreement>, Status> {
        respond(self.terminate(request).await)
    }
}
