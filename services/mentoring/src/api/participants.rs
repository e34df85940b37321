//! `ParticipantService` (`participant.proto`): the people of an institution's programme
//! with their roles, bank entries and training (rules 1–2), and their consents with
//! receipts and revocation (rule 1, Appendix 2 of the regulation).
//!
//! The rules this layer keeps (the store keeps the rest under its locks):
//! - consent first: `CreateParticipant` takes the person and their PERSONAL_DATA consent
//!   in one request and one transaction; a minor's consent without a guardian is
//!   `GUARDIAN_CONSENT_REQUIRED` before anything is stored;
//! - who: the director and the appointed curator record and change people and consents;
//!   only the director gives or takes the roles HEAD and CURATOR (`ROLE_REQUIRED`, `field`
//!   = `role`); a participant or guardian reads only their own record and consents (anyone
//!   else's is `NOT_FOUND`, lists leave them out) and revokes their own consent (a minor:
//!   `GUARDIAN_REQUIRED`); the entry is [`Viewer::among_people`]: event consumers and the
//!   regional centre, which never reads a person, are `ROLE_REQUIRED`, a curator token of
//!   someone not appointed `CURATOR_NOT_APPOINTED`;
//! - redaction: every answer maps what the store shows, and the store shows a person
//!   whose consent to PERSONAL_DATA is revoked as their resource name and role only. A
//!   retried request (`request_id`) is answered by reading the resource again, never from
//!   a stored copy, so a replay after a revocation is redacted too, and the idempotency
//!   table holds resource names, not personal data.
//!
//! - a child's records (`GetChildRecords`, the programme's part of the gateway's child
//!   view): the token's roles first (none that reads people: `ROLE_REQUIRED` before any
//!   lookup), then the stated purpose, then the identity, then the lookup, in the SQL
//!   narrowed to the institutions the caller reaches and the people they read there
//!   ([`access::reach`], [`Viewer::people`]); no match, whatever the reason, is one
//!   `NOT_FOUND` that names nobody.
//!
//! Nothing personal is logged: errors name resources by their random IDs only, and the
//! identity a child is looked up by never appears in an error.

use edu_kit::error::{FieldProblems, reason as kit_reason};
use edu_kit::idempotency::{self, IdempotencyKey};
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, etag, wire};
use edu_proto::edu::api::v1 as pb_api;
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::participant_service_server::ParticipantService;
use edu_proto::google::r#type::Date as PbDate;
use jiff::civil::Date;
use sqlx::PgConnection;
use tonic::{Request, Response, Status};

use super::access::{self, PEOPLE_ROLES, Viewer, role_required};
use super::convert::{self, checked, past_day};
use super::{names, pairs as pairs_api, respond};
use crate::domain::MentoringForm;
use crate::domain::consent::{ActorKind, ConsentPurpose, ConsentState, ensure_guardian_for_minor};
use crate::domain::redaction::PersonName;
use crate::store::consents::{self, ConsentDraft, ConsentFilter, Guardian, ShownReceipt};
use crate::store::institutions::Setting;
use crate::store::pairs::{self, PairFilter};
use crate::store::participants::{
    self, Bank, Links, ListFilter, Lock, MenteeProfile, MentorProfile, Participant,
    ParticipantChange, ParticipantDraft, Personal, Training,
};
use crate::store::{Store, participant_name};

/// The fields `UpdateParticipant`'s mask may name (the proto's list).
const CHANGEABLE: [&str; 12] = [
    "family_name",
    "given_name",
    "patronymic",
    "birth_date",
    "role",
    "subject",
    "position",
    "phone",
    "email",
    "mentor_profile",
    "mentee_profile",
    "mentor_training",
];

/// The most competences a bank entry lists (the proto's bound).
const MAX_COMPETENCES: usize = 30;

/// The earliest birth year accepted: a typo (0001-01-01) is refused rather than stored.
/// The kit's [`wire::civil_date`] starts in 2000, too late for adults' birth dates.
const FIRST_BIRTH_YEAR: i16 = 1900;

const PURPOSES: [(ConsentPurpose, pb::ConsentPurpose); 2] = [
    (
        ConsentPurpose::PersonalData,
        pb::ConsentPurpose::PersonalData,
    ),
    (ConsentPurpose::Publication, pb::ConsentPurpose::Publication),
];

const STATES: [(ConsentState, pb::ConsentState); 2] = [
    (ConsentState::Given, pb::ConsentState::Given),
    (ConsentState::Revoked, pb::ConsentState::Revoked),
];

const BANKS: [(Bank, pb::Bank); 2] = [
    (Bank::Mentors, pb::Bank::Mentors),
    (Bank::Mentees, pb::Bank::Mentees),
];

/// The longest page token a list request carries (the proto's bound).
const MAX_PAGE_TOKEN: usize = 4096;

/// The pairs of one child read per statement by GetChildRecords (ListPairs' largest page).
const CHILD_PAIRS_PAGE: usize = 200;

/// What GetChildRecords' one refusal for "no such child" and "not yours" names: nothing
/// about the child.
const THE_CHILD: &str = "the child";

/// The participant service.
#[derive(Debug, Clone)]
pub struct ParticipantsApi {
    store: Store,
}

impl ParticipantsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        ParticipantsApi { store }
    }

    async fn create(
        &self,
        request: Request<pb::CreateParticipantRequest>,
    ) -> Result<pb::Participant, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let institution = names::institution(&body.parent, "parent")?;
        let viewer = Viewer::among_people(&self.store, context, &institution).await?;
        viewer.require_staff()?;
        let today = viewer.setting.today;

        // Every malformed field at once, the person's and the consent's.
        let mut problems = FieldProblems::new();
        let empty_participant = pb::Participant::default();
        let from = body.participant.as_ref().unwrap_or_else(|| {
            problems.add("participant", "required");
            &empty_participant
        });
        let empty_consent = pb::Consent::default();
        let given = body.consent.as_ref().unwrap_or_else(|| {
            problems.add("consent", "required");
            &empty_consent
        });
        let role = problems.field(convert::parse_role(from.role, "participant.role"));
        let personal = parse_personal(&mut problems, from, today);
        let draft = parse_consent(&mut problems, given, today);
        // Judged on its own, so that it is named even when another consent field is wrong.
        if let Ok(Some(purpose)) = convert::optional(
            given.purpose,
            "consent.purpose",
            "a consent purpose",
            &PURPOSES,
        ) && purpose != ConsentPurpose::PersonalData
        {
            problems.add(
                "consent.purpose",
                "a participant is recorded with their consent to PERSONAL_DATA",
            );
        }
        if let (Some(personal), Some(draft)) = (&personal, &draft)
            && draft.give_date < personal.birth_date
        {
            problems.add("consent.give_date", "must not be before the birth date");
        }
        problems.finish()?;
        let role = checked(role, "participant.role")?;
        let personal = checked(personal, "participant")?;
        let draft = checked(draft, "consent")?;
        // A minor's own consent is refused before anything about them is stored.
        ensure_guardian_for_minor(
            personal.birth_date,
            draft.give_date,
            draft.guardian.is_some(),
        )?;
        if role.given_by_director_only() {
            viewer.require_director(Some("role"))?;
        }

        let key =
            IdempotencyKey::for_request(context, "CreateParticipant", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let draft_person = ParticipantDraft {
            id: String::new(),
            role,
            personal,
        };
        let done = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            let created =
                participants::create(conn, context, &institution, &draft_person, &draft).await?;
            Ok(name_only(&created.name))
        })
        .await?;
        let (_, id) = names::participant(&done.name, "name")?;
        let shown = shown_one(&mut tx, &viewer.setting, &id).await?;
        tx.commit().await?;
        Ok(shown)
    }

    async fn get(
        &self,
        request: Request<pb::GetParticipantRequest>,
    ) -> Result<pb::Participant, ApiError> {
        let context = CallContext::of(&request)?;
        let (institution, id) = names::participant(&request.get_ref().name, "name")?;
        let viewer = Viewer::among_people(&self.store, context, &institution).await?;
        visible(&viewer, &id)?;
        let mut conn = self.store.read().await?;
        let shown = shown_one(&mut conn, &viewer.setting, &id).await?;
        conn.finish();
        Ok(shown)
    }

    async fn list(
        &self,
        request: Request<pb::ListParticipantsRequest>,
    ) -> Result<pb::ListParticipantsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let institution = names::institution(&body.parent, "parent")?;
        let viewer = Viewer::among_people(&self.store, context, &institution).await?;
        let mut problems = FieldProblems::new();
        let role = problems.field(convert::role_filter(body.role, "role"));
        let bank = problems.field(convert::optional(body.bank, "bank", "a bank", &BANKS));
        let consent_state = problems.field(convert::optional(
            body.consent_state,
            "consent_state",
            "a consent state",
            &STATES,
        ));
        // The two flags narrow one bank each (the proto's «with `bank` = …»).
        if body.trained_only && bank != Some(Some(Bank::Mentors)) {
            problems.add("trained_only", "applies to the bank of mentors: set bank");
        }
        if body.unpaired_only && bank != Some(Some(Bank::Mentees)) {
            problems.add("unpaired_only", "applies to the bank of mentees: set bank");
        }
        page_token_length(&mut problems, &body.page_token);
        problems.finish()?;
        let filter = ListFilter {
            role: role.flatten(),
            bank: bank.flatten(),
            trained_only: body.trained_only,
            unpaired_only: body.unpaired_only,
            consent_state: consent_state.flatten(),
        };
        let paging = PageRequest::<String>::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListParticipants",
                &body.parent,
                &body.role.to_string(),
                &body.bank.to_string(),
                &body.trained_only.to_string(),
                &body.unpaired_only.to_string(),
                &body.consent_state.to_string(),
            ],
        )?;
        // A participant or guardian lists only the records they may read.
        let only = viewer.people();
        let mut conn = self.store.read().await?;
        let page = participants::list_page_of(
            &mut conn,
            &institution,
            &filter,
            only.as_deref(),
            viewer.setting.today,
            paging.size,
            paging.after.clone(),
        )
        .await?;
        let participants = with_links(&mut conn, &institution, &page.items).await?;
        conn.finish();
        Ok(pb::ListParticipantsResponse {
            participants,
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn child_records(
        &self,
        request: Request<pb::GetChildRecordsRequest>,
    ) -> Result<pb::ChildRecords, ApiError> {
        let context = CallContext::of(&request)?;
        // The token alone, before anything is read: the regional centre and event consumers
        // never read a person.
        access::require_one_of(
            context.caller()?,
            &PEOPLE_ROLES,
            "only the director, the appointed curator, a guardian or the participant \
             themselves read a child's records; the regional centre reads figures, never a \
             person",
        )?;
        context.require_purpose()?;
        let (name, birth_date) = child_identity(request.get_ref().identity.as_ref())?;

        let reach = access::reach(&self.store, context).await?;
        let mut conn = self.store.read().await?;
        let mut records = Vec::new();
        for viewer in &reach.viewers {
            // A curator not appointed, or the regional centre, reads nobody there.
            if viewer.require_people_reader().is_err() {
                continue;
            }
            let only = viewer.people();
            let setting = &viewer.setting;
            let found = participants::matching(
                &mut conn,
                viewer.institution(),
                &name,
                birth_date,
                only.as_deref(),
                setting.today,
            )
            .await?;
            for id in found {
                let shown = shown_one(&mut conn, setting, &id).await?;
                // Revoked between the lookup and this read: redacted, so no match.
                if shown.redacted {
                    continue;
                }
                records.push(pb::ChildRecord {
                    participant: Some(shown),
                    matched_by: pb_api::IdentityMatch::NameAndBirthDate as i32,
                    pairs: child_pairs(&mut conn, viewer, &id).await?,
                });
            }
        }
        conn.finish();
        if records.is_empty() {
            return Err(ApiError::not_found(THE_CHILD));
        }
        records.sort_by(|a, b| participant_of(a).cmp(participant_of(b)));
        Ok(pb::ChildRecords {
            records,
            read_time: Some(wire::timestamp(context.now())),
        })
    }

    async fn update(
        &self,
        request: Request<pb::UpdateParticipantRequest>,
    ) -> Result<pb::Participant, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let from = checked(body.participant.as_ref(), "participant")?;
        let (institution, id) = names::participant(&from.name, "participant.name")?;
        let viewer = Viewer::among_people(&self.store, context, &institution).await?;
        visible(&viewer, &id)?;
        viewer.require_staff()?;
        let mask = wire::mask_paths(body.update_mask.as_ref(), &CHANGEABLE)?;
        let today = viewer.setting.today;
        let masked = |field: &str| mask.iter().any(|p| p == field);

        let mut problems = FieldProblems::new();
        let role = if masked("role") {
            problems.field(convert::parse_role(from.role, "participant.role"))
        } else {
            None
        };
        let mut names = Names::default();
        for (field, value, slot) in [
            ("family_name", &from.family_name, &mut names.family_name),
            ("given_name", &from.given_name, &mut names.given_name),
            ("patronymic", &from.patronymic, &mut names.patronymic),
        ] {
            if masked(field) {
                let required = field != "patronymic";
                *slot = Some(problems.text(&format!("participant.{field}"), value, 300, required));
            }
        }
        let birth_date = if masked("birth_date") {
            birth_date(
                &mut problems,
                from.birth_date.as_ref(),
                "participant.birth_date",
                today,
            )
        } else {
            None
        };
        let mut contact = Contact::default();
        if masked("position") {
            contact.position =
                Some(problems.text("participant.position", &from.position, 300, false));
        }
        if masked("phone") {
            contact.phone = Some(problems.text("participant.phone", &from.phone, 50, false));
        }
        if masked("email") {
            contact.email = Some(email(&mut problems, &from.email));
        }
        let subject = masked("subject")
            .then(|| problems.text("participant.subject", &from.subject, 256, false));
        let mentor_profile = masked("mentor_profile").then(|| {
            from.mentor_profile
                .as_ref()
                .map(|p| mentor_profile(&mut problems, p))
        });
        let mentee_profile = masked("mentee_profile").then(|| {
            from.mentee_profile
                .as_ref()
                .map(|p| mentee_profile(&mut problems, p))
        });
        let training = masked("mentor_training").then(|| {
            from.mentor_training
                .as_ref()
                .and_then(|t| training(&mut problems, t, today))
        });
        problems.finish()?;

        let mut tx = self.store.begin().await?;
        // Locked first, so the role read below is the one the change is judged against.
        participants::lock(&mut tx, &institution, &[id.as_str()], Lock::Update).await?;
        let current = participants::get(&mut tx, &institution, &id, today).await?;
        if let Some(role) = role
            && role != current.role
            && (role.given_by_director_only() || current.role.given_by_director_only())
        {
            viewer.require_director(Some("role"))?;
        }
        // The store changes names and contact data as wholes: the fields outside the mask
        // keep what is recorded. A redacted person has nothing to keep, and the store
        // refuses any change about them (`CONSENT_MISSING`) before it writes.
        let recorded = current.personal.as_ref();
        let change = ParticipantChange {
            role,
            name: names.any().then(|| names.merged(recorded.map(|p| &p.name))),
            birth_date,
            contact: contact.any().then(|| contact.merged(recorded)),
            subject,
            mentor_profile,
            mentee_profile,
            training,
        };
        participants::update(&mut tx, context, &institution, &id, &change, &from.etag).await?;
        let shown = shown_one(&mut tx, &viewer.setting, &id).await?;
        tx.commit().await?;
        Ok(shown)
    }

    async fn create_consent(
        &self,
        request: Request<pb::CreateConsentRequest>,
    ) -> Result<pb::Consent, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (institution, participant) = names::participant(&body.parent, "parent")?;
        let viewer = Viewer::among_people(&self.store, context, &institution).await?;
        visible(&viewer, &participant)?;
        viewer.require_staff()?;
        let mut problems = FieldProblems::new();
        let empty = pb::Consent::default();
        let given = body.consent.as_ref().unwrap_or_else(|| {
            problems.add("consent", "required");
            &empty
        });
        let draft = parse_consent(&mut problems, given, viewer.setting.today);
        problems.finish()?;
        let draft = checked(draft, "consent")?;
        let key = IdempotencyKey::for_request(context, "CreateConsent", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let done = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            let given = consents::give(conn, context, &institution, &participant, &draft).await?;
            Ok(consent_name_only(&given.name))
        })
        .await?;
        let shown = consent_by_name(&mut tx, &viewer.setting, &done.name).await?;
        tx.commit().await?;
        Ok(shown)
    }

    async fn list_consents(
        &self,
        request: Request<pb::ListConsentsRequest>,
    ) -> Result<pb::ListConsentsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let (institution, participant) = names::participants_parent(&body.parent, "parent")?;
        let viewer = Viewer::among_people(&self.store, context, &institution).await?;
        if let Some(participant) = &participant {
            visible(&viewer, participant)?;
        }
        let mut problems = FieldProblems::new();
        let purpose = problems.field(convert::optional(
            body.purpose,
            "purpose",
            "a consent purpose",
            &PURPOSES,
        ));
        let state = problems.field(convert::optional(
            body.state,
            "state",
            "a consent state",
            &STATES,
        ));
        page_token_length(&mut problems, &body.page_token);
        problems.finish()?;
        let filter = ConsentFilter {
            purpose: purpose.flatten(),
            state: state.flatten(),
        };
        let paging = PageRequest::<String>::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListConsents",
                &body.parent,
                &body.purpose.to_string(),
                &body.state.to_string(),
            ],
        )?;
        // With `participants/-`, a participant or guardian lists only their own.
        let only = viewer.people();
        let mut conn = self.store.read().await?;
        let page = consents::list_page_of(
            &mut conn,
            &viewer.setting,
            participant.as_deref(),
            only.as_deref(),
            &filter,
            paging.size,
            paging.after.clone(),
        )
        .await?;
        conn.finish();
        Ok(pb::ListConsentsResponse {
            consents: page.items.iter().map(consent).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn revoke_consent(
        &self,
        request: Request<pb::RevokeConsentRequest>,
    ) -> Result<pb::Consent, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let [institution, participant, id] = names::consent(&body.name, "name")?;
        let mut problems = FieldProblems::new();
        let statement = problems.text("statement", &body.statement, 2000, false);
        problems.finish()?;
        let viewer = Viewer::among_people(&self.store, context, &institution).await?;
        visible(&viewer, &participant)?;
        // A participant or guardian revokes for themselves or their ward, staff on paper.
        let actor = viewer.actor()?;
        if actor != ActorKind::Staff && !viewer.acts_for(&participant) {
            viewer.require_staff()?;
        }
        let key = IdempotencyKey::for_request(context, "RevokeConsent", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        if actor == ActorKind::Guardian {
            // A guardian revokes the consents that name them, not another representative's.
            let named = consents::named_guardian(&mut tx, &institution, &participant, &id).await?;
            if named != context.caller()?.subject() {
                return Err(role_required(
                    "a guardian revokes the consents they gave; the staff record the others",
                ));
            }
        }
        let done = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            let revoked = consents::revoke(
                conn,
                context,
                &institution,
                &participant,
                &id,
                actor,
                &statement,
                &body.etag,
            )
            .await?;
            Ok(consent_name_only(&revoked.name))
        })
        .await?;
        let shown = consent_by_name(&mut tx, &viewer.setting, &done.name).await?;
        tx.commit().await?;
        Ok(shown)
    }
}

/// The names and birth date a child is looked up by (`identity.*`), every problem named at
/// once; `identity_document` is ignored, the service storing none. The messages repeat no
/// value.
fn child_identity(from: Option<&pb_api::ChildIdentity>) -> Result<(PersonName, Date), ApiError> {
    let from = from.ok_or_else(|| {
        ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            "identity",
            "required: the child's names and birth date",
        )
    })?;
    let mut problems = FieldProblems::new();
    let family_name = problems.text("identity.family_name", &from.family_name, 300, true);
    let given_name = problems.text("identity.given_name", &from.given_name, 300, true);
    let patronymic = problems.text("identity.patronymic", &from.patronymic, 300, false);
    let birth_date = calendar_day(
        &mut problems,
        from.birth_date.as_ref(),
        "identity.birth_date",
    );
    problems.finish()?;
    let name = PersonName {
        family_name,
        given_name,
        patronymic,
    };
    Ok((name, checked(birth_date, "identity.birth_date")?))
}

/// The pairs and groups participant `id` is or was in, as ListPairs shows them to `viewer`
/// (its `participant` filter, every page): people redacted and texts emptied by the store.
async fn child_pairs(
    conn: &mut PgConnection,
    viewer: &Viewer,
    id: &str,
) -> Result<Vec<pb::Pair>, ApiError> {
    let filter = PairFilter {
        member: Some(id.to_string()),
        visible_to: viewer.people(),
        ..PairFilter::default()
    };
    let mut shown = Vec::new();
    let mut after = None;
    loop {
        let page =
            pairs::list_page(conn, &viewer.setting, &filter, CHILD_PAIRS_PAGE, after).await?;
        shown.extend(
            page.items
                .iter()
                .map(|p| pairs_api::pair(p, viewer.setting.today)),
        );
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(shown),
        }
    }
}

fn participant_of(record: &pb::ChildRecord) -> &str {
    record.participant.as_ref().map_or("", |p| p.name.as_str())
}

/// A page token within the proto's bound (the wire's codec checks it too; this holds it
/// for every caller of the handler).
fn page_token_length(problems: &mut FieldProblems, token: &str) {
    if token.chars().count() > MAX_PAGE_TOKEN {
        problems.add("page_token", format!("at most {MAX_PAGE_TOKEN} characters"));
    }
}

/// Participant `id` exists for the caller only if they see them: staff see everyone, a
/// participant themselves, a guardian their wards; to anyone else `NOT_FOUND`, exactly as
/// a missing one.
fn visible(viewer: &Viewer, id: &str) -> Result<(), ApiError> {
    if viewer.sees_person(id) {
        Ok(())
    } else {
        Err(ApiError::not_found(participant_name(
            viewer.institution(),
            id,
        )))
    }
}

/// What an idempotent call stores as its answer: the resource's name only, so that no
/// personal data sits in the idempotency table and a replay reads the resource again, as
/// shown now (redacted if the person has revoked since).
fn name_only(name: &str) -> pb::Participant {
    pb::Participant {
        name: name.to_string(),
        ..pb::Participant::default()
    }
}

fn consent_name_only(name: &str) -> pb::Consent {
    pb::Consent {
        name: name.to_string(),
        ..pb::Consent::default()
    }
}

/// One participant as shown now, on the wire.
async fn shown_one(
    conn: &mut PgConnection,
    setting: &Setting,
    id: &str,
) -> Result<pb::Participant, ApiError> {
    let shown = participants::get(conn, &setting.id, id, setting.today).await?;
    let mut wire = with_links(conn, &setting.id, std::slice::from_ref(&shown)).await?;
    wire.pop()
        .ok_or_else(|| ApiError::not_found(participant_name(&setting.id, id)))
}

/// One consent, by its resource name, as shown now.
async fn consent_by_name(
    conn: &mut PgConnection,
    setting: &Setting,
    name: &str,
) -> Result<pb::Consent, ApiError> {
    let [_, participant, id] = names::consent(name, "name")?;
    Ok(consent(
        &consents::get(conn, setting, &participant, &id).await?,
    ))
}

/// These participants on the wire, each with what it is linked to.
async fn with_links(
    conn: &mut PgConnection,
    institution: &str,
    shown: &[Participant],
) -> Result<Vec<pb::Participant>, ApiError> {
    let ids: Vec<String> = shown.iter().map(|p| p.id.clone()).collect();
    let links = participants::links(conn, institution, &ids).await?;
    Ok(shown
        .iter()
        .map(|p| {
            let linked = links.iter().find(|(id, _)| id == &p.id).map(|(_, l)| l);
            participant(p, linked)
        })
        .collect())
}

/// A participant on the wire: the store has already emptied a redacted person's personal
/// data (`personal` is `None`), so only the name, role, links and times remain.
fn participant(p: &Participant, links: Option<&Links>) -> pb::Participant {
    let mut out = pb::Participant {
        name: p.name.clone(),
        role: convert::role(p.role),
        display_name: p.person.display_name.clone(),
        minor: p.person.minor,
        trained: p.trained,
        redacted: p.redacted,
        create_time: Some(wire::timestamp(p.create_time)),
        etag: etag::of(p.version),
        ..pb::Participant::default()
    };
    if let Some(links) = links {
        out.mentee_pair = links.mentee_pair.clone().unwrap_or_default();
        out.mentored_pairs = convert::count(links.mentored_pairs);
        out.consent = links.consent.clone().unwrap_or_default();
        out.publication_consent = links.publication_consent;
        out.update_time = Some(wire::timestamp(links.update_time));
    }
    if let Some(personal) = &p.personal {
        out.family_name = personal.name.family_name.clone();
        out.given_name = personal.name.given_name.clone();
        out.patronymic = personal.name.patronymic.clone();
        out.birth_date = Some(wire::date(personal.birth_date));
        out.subject = personal.subject.clone();
        out.position = personal.position.clone();
        out.phone = personal.phone.clone();
        out.email = personal.email.clone();
        out.mentor_profile = personal.mentor_profile.as_ref().map(|m| pb::MentorProfile {
            competences: m.competences.clone(),
            request: m.request.clone(),
            experience: m.experience.clone(),
            preferred_forms: m
                .preferred_forms
                .iter()
                .map(|f| convert::form(*f))
                .collect(),
        });
        out.mentee_profile = personal.mentee_profile.as_ref().map(|m| pb::MenteeProfile {
            request: m.request.clone(),
            competences: m.competences.clone(),
            preferred_forms: m
                .preferred_forms
                .iter()
                .map(|f| convert::form(*f))
                .collect(),
        });
        out.mentor_training = personal.training.as_ref().map(|t| pb::MentorTraining {
            complete_date: Some(wire::date(t.complete_date)),
            programme: t.programme.clone(),
            record_time: links
                .and_then(|l| l.training_record_time)
                .map(wire::timestamp),
        });
    }
    out
}

/// A consent on the wire, as the store shows it (the guardian, the statement and the
/// receipts' texts already empty while the subject is redacted).
fn consent(c: &consents::Consent) -> pb::Consent {
    pb::Consent {
        name: c.name.clone(),
        purpose: convert::wire(c.purpose, &PURPOSES),
        guardian: c.guardian.as_ref().map(|g| pb::Guardian {
            family_name: g.name.family_name.clone(),
            given_name: g.name.given_name.clone(),
            patronymic: g.name.patronymic.clone(),
            relation: convert::relation(g.relation),
            subject: g.subject.clone(),
        }),
        give_date: Some(wire::date(c.give_date)),
        document: c.document.clone(),
        state: convert::wire(c.state, &STATES),
        subject_person: Some(convert::person(&c.subject_person)),
        minor: c.minor,
        receipt: Some(receipt(&c.receipt)),
        create_time: Some(wire::timestamp(c.create_time)),
        revoke_time: c.revoke_time.map(wire::timestamp),
        revoked_by: c.revoked_by.map_or(0, convert::actor),
        revocation_statement: c.revocation_statement.clone(),
        revocation_receipt: c.revocation_receipt.as_ref().map(receipt),
        redacted: c.redacted,
        etag: etag::of(c.version),
    }
}

fn receipt(r: &ShownReceipt) -> pb::ConsentReceipt {
    pb::ConsentReceipt {
        number: r.number.clone(),
        issue_time: Some(wire::timestamp(r.issue_time)),
        text: r.text.clone(),
        sha256: r.sha256.clone(),
    }
}

/// The person's data of a `CreateParticipant` request; `None` when some field is wrong
/// (each one recorded in `problems`).
fn parse_personal(
    problems: &mut FieldProblems,
    from: &pb::Participant,
    today: Date,
) -> Option<Personal> {
    let family_name = problems.text("participant.family_name", &from.family_name, 300, true);
    let given_name = problems.text("participant.given_name", &from.given_name, 300, true);
    let patronymic = problems.text("participant.patronymic", &from.patronymic, 300, false);
    let birth = birth_date(
        problems,
        from.birth_date.as_ref(),
        "participant.birth_date",
        today,
    );
    let subject = problems.text("participant.subject", &from.subject, 256, false);
    let position = problems.text("participant.position", &from.position, 300, false);
    let phone = problems.text("participant.phone", &from.phone, 50, false);
    let email = email(problems, &from.email);
    let mentor = from
        .mentor_profile
        .as_ref()
        .map(|p| mentor_profile(problems, p));
    let mentee = from
        .mentee_profile
        .as_ref()
        .map(|p| mentee_profile(problems, p));
    let training = from
        .mentor_training
        .as_ref()
        .and_then(|t| training(problems, t, today));
    if from.mentor_training.is_some() && mentor.is_none() {
        problems.add(
            "participant.mentor_training",
            "training is recorded for a member of the bank of mentors",
        );
    }
    Some(Personal {
        name: PersonName {
            family_name,
            given_name,
            patronymic,
        },
        birth_date: birth?,
        subject,
        position,
        phone,
        email,
        mentor_profile: mentor,
        mentee_profile: mentee,
        training,
    })
}

/// A consent of a request (`consent.*`): purpose, give date (not after today), guardian,
/// document; `None` when some field is wrong.
fn parse_consent(
    problems: &mut FieldProblems,
    from: &pb::Consent,
    today: Date,
) -> Option<ConsentDraft> {
    let purpose = problems.field(convert::required(
        from.purpose,
        "consent.purpose",
        "a consent purpose",
        &PURPOSES,
    ));
    let give_date = past_day(
        problems,
        from.give_date.as_ref(),
        "consent.give_date",
        today,
    );
    let guardian = from.guardian.as_ref().map(|g| guardian(problems, g));
    let document = problems.text("consent.document", &from.document, 300, false);
    let guardian = match guardian {
        Some(g) => Some(g?),
        None => None,
    };
    Some(ConsentDraft {
        purpose: purpose?,
        guardian,
        give_date: give_date?,
        document,
    })
}

fn guardian(problems: &mut FieldProblems, from: &pb::Guardian) -> Option<Guardian> {
    let family_name = problems.text("consent.guardian.family_name", &from.family_name, 300, true);
    let given_name = problems.text("consent.guardian.given_name", &from.given_name, 300, true);
    let patronymic = problems.text("consent.guardian.patronymic", &from.patronymic, 300, false);
    let relation = problems.field(convert::parse_relation(
        from.relation,
        "consent.guardian.relation",
    ));
    let subject = problems.text("consent.guardian.subject", &from.subject, 256, false);
    Some(Guardian {
        name: PersonName {
            family_name,
            given_name,
            patronymic,
        },
        relation: relation?,
        subject,
    })
}

/// A birth date: a real day from 1900 on, not after today.
fn birth_date(
    problems: &mut FieldProblems,
    from: Option<&PbDate>,
    field: &str,
    today: Date,
) -> Option<Date> {
    match calendar_day(problems, from, field) {
        Some(d) if d > today => {
            problems.add(field, "must not be after today");
            None
        }
        parsed => parsed,
    }
}

/// A real day from 1900 on (birth dates; a typo such as 0001-01-01 is refused).
fn calendar_day(problems: &mut FieldProblems, from: Option<&PbDate>, field: &str) -> Option<Date> {
    let parsed = from.and_then(|d| {
        let year = i16::try_from(d.year).ok()?;
        let month = i8::try_from(d.month).ok()?;
        let day = i8::try_from(d.day).ok()?;
        if year < FIRST_BIRTH_YEAR {
            return None;
        }
        Date::new(year, month, day).ok()
    });
    if parsed.is_none() {
        problems.add(
            field,
            "required: a calendar date with year, month and day, from 1900-01-01",
        );
    }
    parsed
}

/// An e-mail address, trimmed; empty is allowed.
fn email(problems: &mut FieldProblems, value: &str) -> String {
    let email = problems.text("participant.email", value, 254, false);
    if !email.is_empty() && !is_email(&email) {
        problems.add("participant.email", "an e-mail address");
    }
    email
}

/// Whether `email` looks like an address: one `@`, a dot in the domain, no spaces.
fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn mentor_profile(problems: &mut FieldProblems, from: &pb::MentorProfile) -> MentorProfile {
    let field = "participant.mentor_profile";
    MentorProfile {
        competences: competences(
            problems,
            &format!("{field}.competences"),
            &from.competences,
            true,
        ),
        request: problems.text(&format!("{field}.request"), &from.request, 2000, false),
        experience: problems.text(
            &format!("{field}.experience"),
            &from.experience,
            2000,
            false,
        ),
        preferred_forms: forms(
            problems,
            &format!("{field}.preferred_forms"),
            &from.preferred_forms,
        ),
    }
}

fn mentee_profile(problems: &mut FieldProblems, from: &pb::MenteeProfile) -> MenteeProfile {
    let field = "participant.mentee_profile";
    MenteeProfile {
        request: problems.text(&format!("{field}.request"), &from.request, 2000, true),
        competences: competences(
            problems,
            &format!("{field}.competences"),
            &from.competences,
            false,
        ),
        preferred_forms: forms(
            problems,
            &format!("{field}.preferred_forms"),
            &from.preferred_forms,
        ),
    }
}

/// Competences: up to 30 distinct entries of 1 to 200 characters, at least one when
/// `required`.
fn competences(
    problems: &mut FieldProblems,
    field: &str,
    from: &[String],
    required: bool,
) -> Vec<String> {
    if required && from.is_empty() {
        problems.add(field, "at least one competence");
    }
    if from.len() > MAX_COMPETENCES {
        problems.add(field, format!("at most {MAX_COMPETENCES} competences"));
    }
    let mut out: Vec<String> = Vec::with_capacity(from.len());
    for (i, entry) in from.iter().enumerate() {
        let entry = problems.text(&format!("{field}[{i}]"), entry, 200, true);
        if !entry.is_empty() && out.contains(&entry) {
            problems.add(format!("{field}[{i}]"), "listed twice");
        }
        out.push(entry);
    }
    out
}

/// Preferred forms: known and distinct.
fn forms(problems: &mut FieldProblems, field: &str, from: &[i32]) -> Vec<MentoringForm> {
    let mut out = Vec::with_capacity(from.len());
    for (i, raw) in from.iter().enumerate() {
        let at = format!("{field}[{i}]");
        if let Some(form) = problems.field(convert::parse_form(*raw, &at)) {
            if out.contains(&form) {
                problems.add(at, "listed twice");
            }
            out.push(form);
        }
    }
    out
}

/// A training: a completion day not after today and its programme.
fn training(
    problems: &mut FieldProblems,
    from: &pb::MentorTraining,
    today: Date,
) -> Option<Training> {
    let field = "participant.mentor_training";
    let complete_date = past_day(
        problems,
        from.complete_date.as_ref(),
        &format!("{field}.complete_date"),
        today,
    );
    let programme = problems.text(&format!("{field}.programme"), &from.programme, 500, true);
    Some(Training {
        complete_date: complete_date?,
        programme,
    })
}

/// The names an update's mask changes; the store takes the three as one.
#[derive(Debug, Default)]
struct Names {
    family_name: Option<String>,
    given_name: Option<String>,
    patronymic: Option<String>,
}

impl Names {
    fn any(&self) -> bool {
        self.family_name.is_some() || self.given_name.is_some() || self.patronymic.is_some()
    }

    /// The new names, the ones outside the mask as recorded.
    fn merged(self, recorded: Option<&PersonName>) -> PersonName {
        let kept = |f: fn(&PersonName) -> &String| recorded.map(f).cloned().unwrap_or_default();
        PersonName {
            family_name: self.family_name.unwrap_or_else(|| kept(|n| &n.family_name)),
            given_name: self.given_name.unwrap_or_else(|| kept(|n| &n.given_name)),
            patronymic: self.patronymic.unwrap_or_else(|| kept(|n| &n.patronymic)),
        }
    }
}

/// The contact data an update's mask changes; the store takes the three as one.
#[derive(Debug, Default)]
struct Contact {
    position: Option<String>,
    phone: Option<String>,
    email: Option<String>,
}

impl Contact {
    fn any(&self) -> bool {
        self.position.is_some() || self.phone.is_some() || self.email.is_some()
    }

    /// The new contact data, the fields outside the mask as recorded.
    fn merged(self, recorded: Option<&Personal>) -> (String, String, String) {
        let kept = |f: fn(&Personal) -> &String| recorded.map(f).cloned().unwrap_or_default();
        (
            self.position.unwrap_or_else(|| kept(|p| &p.position)),
            self.phone.unwrap_or_else(|| kept(|p| &p.phone)),
            self.email.unwrap_or_else(|| kept(|p| &p.email)),
        )
    }
}

#[tonic::async_trait]
impl ParticipantService for ParticipantsApi {
    async fn create_participant(
        &self,
        request: Request<pb::CreateParticipantRequest>,
    ) -> Result<Response<pb::Participant>, Status> {
        respond(self.create(request).await)
    }

    async fn get_participant(
        &self,
        request: Request<pb::GetParticipantRequest>,
    ) -> Result<Response<pb::Participant>, Status> {
        respond(self.get(request).await)
    }

    async fn list_participants(
        &self,
        request: Request<pb::ListParticipantsRequest>,
    ) -> Result<Response<pb::ListParticipantsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn get_child_records(
        &self,
        request: Request<pb::GetChildRecordsRequest>,
    ) -> Result<Response<pb::ChildRecords>, Status> {
        respond(self.child_records(request).await)
    }

    async fn update_participant(
        &self,
        request: Request<pb::UpdateParticipantRequest>,
    ) -> Result<Response<pb::Participant>, Status> {
        respond(self.update(request).await)
    }

    async fn create_consent(
        &self,
        request: Request<pb::CreateConsentRequest>,
    ) -> Result<Response<pb::Consent>, Status> {
        respond(self.create_consent(request).await)
    }

    async fn list_consents(
        &self,
        request: Request<pb::ListConsentsRequest>,
    ) -> Result<Response<pb::ListConsentsResponse>, Status> {
        respond(self.list_consents(request).await)
    }

    async fn revoke_consent(
        &self,
        request: Request<pb::RevokeConsentRequest>,
    ) -> Result<Response<pb::Consent>, Status> {
        respond(self.revoke_consent(request).await)
    }
}
