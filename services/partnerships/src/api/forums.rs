//! `ForumService`: regional forums on innovation (rule 9). The regional office records its
//! agreement with a school of its region, the school registers, both sides set and agree
//! the topics, and the office sets the programme and the participants.
//!
//! Who may call: the office of the forum's region, its host school, its participant
//! schools (reading only) and the ministry (reading only). To anyone else a forum does not
//! exist (`NOT_FOUND`, as a missing one); a caller who sees a forum but calls a method that
//! is not its side's is refused with `PERMISSION_DENIED`: `ROLE_REQUIRED` for the office's
//! methods, `NOT_THE_HOST` for a school that is not the host calling the host's.

use edu_kit::error::{FieldProblems, quote, reason as kit_reason};
use edu_kit::idempotency::{self, IdempotencyKey};
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, etag, resource, wire};
use edu_proto::edu::partnerships::v1 as pb;
use edu_proto::edu::partnerships::v1::forum_service_server::ForumService;
use tonic::{Request, Response, Status};

use super::access::{self, Viewer};
use super::errors::reason as partnership_reason;
use super::{convert, respond};
use crate::store::forums::{
    self, Forum, ForumCursor, ForumError, ForumFilter, ForumState, MAX_TOPICS, NewForum, Party,
    Topic,
};
use crate::store::{Store, Visibility, years};

/// Reasons of the forum service, beyond the kit's and `errors::reason`'s
/// (`NOT_THE_HOST`, `SCOPE_REQUIRED`).
pub mod reason {
    use edu_kit::error::Reason;

    /// A school that is not in the forum's region.
    pub const SCHOOL_OUTSIDE_REGION: Reason = Reason::new(
        "SCHOOL_OUTSIDE_REGION",
        "Школа находится не в области этого регионального управления образования.",
    );
    /// Topics, their agreement or participants before the host school registered.
    pub const FORUM_NOT_REGISTERED: Reason = Reason::new(
        "FORUM_NOT_REGISTERED",
        "Принимающая школа ещё не зарегистрировала желание провести форум.",
    );
    /// Setting topics that both sides agreed.
    pub const TOPICS_FINAL: Reason = Reason::new(
        "TOPICS_FINAL",
        "Обе стороны уже согласовали темы форума; они больше не меняются.",
    );
    /// Agreeing topics before any were set.
    pub const FORUM_HAS_NO_TOPICS: Reason = Reason::new(
        "FORUM_HAS_NO_TOPICS",
        "Темы форума ещё не заданы; согласовывать пока нечего.",
    );
    /// A programme before both sides agreed the topics.
    pub const TOPICS_NOT_FINAL: Reason = Reason::new(
        "TOPICS_NOT_FINAL",
        "Темы форума ещё не согласованы обеими сторонами.",
    );
}

impl From<ForumError> for ApiError {
    fn from(error: ForumError) -> Self {
        let message = error.to_string();
        match error {
            ForumError::SchoolOutsideRegion { school, region } => {
                ApiError::failed_precondition(reason::SCHOOL_OUTSIDE_REGION, message)
                    .with_metadata("school", school)
                    .with_metadata("region", region)
            }
            ForumError::NotRegistered => {
                ApiError::failed_precondition(reason::FORUM_NOT_REGISTERED, message)
            }
            ForumError::TopicsFinal => ApiError::failed_precondition(reason::TOPICS_FINAL, message),
            ForumError::NoTopics => {
                ApiError::failed_precondition(reason::FORUM_HAS_NO_TOPICS, message)
            }
            ForumError::TopicsNotFinal => {
                ApiError::failed_precondition(reason::TOPICS_NOT_FINAL, message)
            }
        }
    }
}

/// Longest experience of a host.
const MAX_EXPERIENCE_CHARS: usize = 5000;
/// Longest topic description.
const MAX_DESCRIPTION_CHARS: usize = 2000;
/// Longest programme.
const MAX_PROGRAMME_CHARS: usize = 20_000;
/// Most people a host receives.
const MAX_CAPACITY: i32 = 10_000;

/// The region of a parent, `regions/{region}`; `None` for `regions/-` when `any` allows it.
fn region_parent(parent: &str, field: &str, any: bool) -> Result<Option<String>, ApiError> {
    let bad = || {
        ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            field,
            format!(
                "expected regions/{{region}} with a Bulgarian region BG-01 to BG-28{}, got {}",
                if any { " or regions/-" } else { "" },
                quote(parent)
            ),
        )
    };
    let region = parent.strip_prefix("regions/").ok_or_else(bad)?;
    if any && region == "-" {
        return Ok(None);
    }
    if is_region_token(region) {
        Ok(Some(region.to_string()))
    } else {
        Err(bad())
    }
}

/// Whether a name's region segment is well formed. A region that is not Bulgarian's holds
/// no forum: it is answered like any missing one (NOT_FOUND, an empty list, or the scope
/// the caller lacks), never as a malformed name, so an answer never tells which exist.
fn is_region_token(region: &str) -> bool {
    (1..=63).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A forum's region and ID from its name, `regions/{region}/forums/{forum}`.
fn forum_name(name: &str, field: &str) -> Result<(String, String), ApiError> {
    let bad = || {
        ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            field,
            format!(
                "expected regions/{{region}}/forums/{{forum}}, got {}",
                quote(name)
            ),
        )
    };
    let parts: Vec<&str> = name.split('/').collect();
    let ["regions", region, "forums", id] = parts.as_slice() else {
        return Err(bad());
    };
    if !is_region_token(region) {
        return Err(bad());
    }
    let region = region.to_string();
    let id = resource::parse_name(&format!("forums/{id}"), "forums", field).map_err(|_| bad())?;
    Ok((region, id))
}

/// The topics of a request: 1 to [`MAX_TOPICS`], each with a title.
fn topics(from: &[pb::ForumTopic]) -> Result<Vec<Topic>, ApiError> {
    let mut problems = FieldProblems::new();
    if from.is_empty() || from.len() > MAX_TOPICS {
        problems.add("topics", format!("1 to {MAX_TOPICS} topics"));
    }
    let topics = from
        .iter()
        .enumerate()
        .map(|(i, t)| Topic {
            title: problems.text(
                &format!("topics[{i}].title"),
                &t.title,
                convert::MAX_NAME_CHARS,
                true,
            ),
            description: problems.text(
                &format!("topics[{i}].description"),
                &t.description,
                MAX_DESCRIPTION_CHARS,
                false,
            ),
        })
        .collect();
    problems.finish()?;
    Ok(topics)
}

fn state(s: ForumState) -> pb::ForumState {
    match s {
        ForumState::Agreed => pb::ForumState::Agreed,
        ForumState::Registered => pb::ForumState::Registered,
    }
}

fn party(p: Option<Party>) -> pb::ForumParty {
    match p {
        None => pb::ForumParty::Unspecified,
        Some(Party::RegionalOffice) => pb::ForumParty::RegionalOffice,
        Some(Party::HostSchool) => pb::ForumParty::HostSchool,
    }
}

/// A forum as the API shows it.
pub fn forum(f: &Forum) -> pb::Forum {
    pb::Forum {
        name: f.name(),
        year: years::name(&f.year_id),
        host_school: convert::school_name(&f.school_id),
        capacity: f.capacity,
        experience: f.experience.clone(),
        state: state(f.state) as i32,
        topics: f
            .topics
            .iter()
            .map(|t| pb::ForumTopic {
                title: t.title.clone(),
                description: t.description.clone(),
            })
            .collect(),
        topics_set_by: party(f.topics_set_by) as i32,
        office_agreed_topics: f.office_agreed_topics,
        school_agreed_topics: f.school_agreed_topics,
        topics_final: f.topics_final(),
        programme: f.programme.clone(),
        forum_date: f.forum_date.map(convert::date),
        participant_schools: f
            .participants
            .iter()
            .map(|s| convert::school_name(s))
            .collect(),
        create_time: Some(convert::timestamp(f.create_time)),
        register_time: f.register_time.map(convert::timestamp),
        update_time: Some(convert::timestamp(f.update_time)),
        etag: etag::of(f.version),
    }
}

/// Whether the viewer reads the forum: the office of its region, its host, its
/// participants, the ministry.
fn sees(viewer: &Viewer, f: &Forum) -> bool {
    viewer.ministry
        || viewer.is_office_of(&f.region_code)
        || viewer.is_school(&f.school_id)
        || f.participants.iter().any(|p| viewer.is_school(p))
}

/// `NOT_FOUND` for a forum the viewer does not read, exactly as for a missing one.
fn visible(viewer: &Viewer, f: &Forum) -> Result<(), ApiError> {
    if sees(viewer, f) {
        Ok(())
    } else {
        Err(ApiError::not_found(f.name()))
    }
}

/// The viewer must be the office of the forum's region.
fn as_office(viewer: &Viewer, f: &Forum) -> Result<(), ApiError> {
    visible(viewer, f)?;
    if viewer.is_office_of(&f.region_code) {
        Ok(())
    } else {
        Err(ApiError::permission_denied(
            kit_reason::ROLE_REQUIRED,
            format!(
                "only the regional office of {} ({}) may do this",
                f.region_code,
                access::REGIONAL_OFFICE
            ),
        ))
    }
}

/// The viewer must be the forum's host school.
fn as_host(viewer: &Viewer, f: &Forum) -> Result<(), ApiError> {
    visible(viewer, f)?;
    if viewer.is_school(&f.school_id) {
        Ok(())
    } else {
        Err(ApiError::permission_denied(
            partnership_reason::NOT_THE_HOST,
            format!("only the host school, schools/{}, may do this", f.school_id),
        ))
    }
}

/// The side the viewer acts for on the topics: the office of the region (first, when a
/// token carries both) or the host school.
fn as_side(viewer: &Viewer, f: &Forum) -> Result<Party, ApiError> {
    visible(viewer, f)?;
    if viewer.is_office_of(&f.region_code) {
        Ok(Party::RegionalOffice)
    } else if viewer.is_school(&f.school_id) {
        Ok(Party::HostSchool)
    } else if !viewer.schools.is_empty() {
        Err(ApiError::permission_denied(
            partnership_reason::NOT_THE_HOST,
            format!(
                "only the host school, schools/{}, and the regional office of {} set and agree the topics",
                f.school_id, f.region_code
            ),
        ))
    } else {
        Err(ApiError::permission_denied(
            kit_reason::ROLE_REQUIRED,
            format!(
                "only the regional office of {} and the host school set and agree the topics",
                f.region_code
            ),
        ))
    }
}

/// What the viewer sees in listings.
fn visibility(viewer: &Viewer) -> Visibility {
    Visibility {
        all: viewer.ministry,
        regions: viewer.regions.clone(),
        schools: viewer.schools.clone(),
    }
}

/// The forum service.
#[derive(Debug, Clone)]
pub struct ForumsApi {
    store: Store,
}

impl ForumsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        ForumsApi { store }
    }

    async fn create(
        &self,
        request: Request<pb::CreateForumRequest>,
    ) -> Result<pb::Forum, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let viewer = Viewer::of(caller)?;
        if !caller.has_role(access::REGIONAL_OFFICE) {
            return Err(ApiError::permission_denied(
                kit_reason::ROLE_REQUIRED,
                format!(
                    "only a regional office ({}) records a forum",
                    access::REGIONAL_OFFICE
                ),
            ));
        }
        let body = request.get_ref();
        let region = region_parent(&body.parent, "parent", false)?.ok_or_else(|| {
            ApiError::invalid_field(kit_reason::INVALID_FIELDS, "parent", "one region")
        })?;
        viewer.require_office_of(&region)?;
        let draft = body.forum.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        let year = problems.field(convert::year_id(&draft.year, "forum.year"));
        let school = problems.field(convert::school_id(&draft.host_school, "forum.host_school"));
        if !(1..=MAX_CAPACITY).contains(&draft.capacity) {
            problems.add("forum.capacity", format!("must be 1 to {MAX_CAPACITY}"));
        }
        let experience = problems.text(
            "forum.experience",
            &draft.experience,
            MAX_EXPERIENCE_CHARS,
            true,
        );
        let id = problems.check("forum_id", resource::id_or_new(&body.forum_id));
        problems.finish()?;
        let (Some(year_id), Some(school_id), Some(id)) = (year, school, id) else {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "forum",
                "year and host_school are required",
            ));
        };
        let new = NewForum {
            region_code: region,
            id,
            year_id,
            school_id,
            capacity: draft.capacity,
            experience,
        };
        let key = IdempotencyKey::for_request(context, "CreateForum", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let created = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            Ok(forum(&forums::create(conn, context, &new).await?))
        })
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn get(&self, request: Request<pb::GetForumRequest>) -> Result<pb::Forum, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let name = &request.get_ref().name;
        let (region, id) = forum_name(name, "name")?;
        self.store
            .forum(&region, &id)
            .await?
            .filter(|f| sees(&viewer, f))
            .map(|f| forum(&f))
            .ok_or_else(|| ApiError::not_found(name.clone()))
    }

    async fn list(
        &self,
        request: Request<pb::ListForumsRequest>,
    ) -> Result<pb::ListForumsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let filter =
            ForumFilter {
                region: region_parent(&body.parent, "parent", true)?,
                year: if body.year.is_empty() {
                    None
                } else {
                    Some(convert::year_id(&body.year, "year")?)
                },
                school: if body.host_school.is_empty() {
                    None
                } else {
                    Some(convert::school_id(&body.host_school, "host_school")?)
                },
                state: convert::enum_filter(body.state, "state", |raw| {
                    match pb::ForumState::try_from(raw) {
                        Ok(pb::ForumState::Agreed) => Some(ForumState::Agreed),
                        Ok(pb::ForumState::Registered) => Some(ForumState::Registered),
                        _ => None,
                    }
                })?,
            };
        let state = body.state.to_string();
        let paging = PageRequest::<ForumCursor>::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListForums",
                &body.parent,
                &body.year,
                &body.host_school,
                &state,
            ],
        )?;
        let page = self
            .store
            .list_forums(
                &visibility(&viewer),
                &filter,
                paging.size,
                paging.after.clone(),
            )
            .await?;
        Ok(pb::ListForumsResponse {
            forums: page.items.iter().map(forum).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn register(
        &self,
        request: Request<pb::RegisterForumRequest>,
    ) -> Result<pb::Forum, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let (region, id) = forum_name(&body.name, "name")?;
        let mut tx = self.store.begin().await?;
        let record = forums::register(&mut tx, context, &region, &id, &body.etag, |f| {
            as_host(&viewer, f)
        })
        .await?;
        tx.commit().await?;
        Ok(forum(&record))
    }

    async fn set_topics(
        &self,
        request: Request<pb::SetForumTopicsRequest>,
    ) -> Result<pb::Forum, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let (region, id) = forum_name(&body.name, "name")?;
        let topics = topics(&body.topics)?;
        let mut tx = self.store.begin().await?;
        let record = forums::set_topics(&mut tx, context, &region, &id, &body.etag, &topics, |f| {
            as_side(&viewer, f)
        })
        .await?;
        tx.commit().await?;
        Ok(forum(&record))
    }

    async fn agree_topics(
        &self,
        request: Request<pb::AgreeForumTopicsRequest>,
    ) -> Result<pb::Forum, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let (region, id) = forum_name(&body.name, "name")?;
        if body.etag.is_empty() {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "etag",
                "required: the forum's etag as read, naming the topics agreed",
            ));
        }
        let mut tx = self.store.begin().await?;
        let record = forums::agree_topics(&mut tx, context, &region, &id, &body.etag, |f| {
            as_side(&viewer, f)
        })
        .await?;
        tx.commit().await?;
        Ok(forum(&record))
    }

    async fn set_programme(
        &self,
        request: Request<pb::SetForumProgrammeRequest>,
    ) -> Result<pb::Forum, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let (region, id) = forum_name(&body.name, "name")?;
        let mut problems = FieldProblems::new();
        let programme = problems.text("programme", &body.programme, MAX_PROGRAMME_CHARS, true);
        let day = problems.field(wire::civil_date(body.forum_date.as_ref(), "forum_date"));
        problems.finish()?;
        let Some(day) = day else {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "forum_date",
                "required",
            ));
        };
        let mut tx = self.store.begin().await?;
        let record = forums::set_programme(
            &mut tx,
            context,
            &region,
            &id,
            &body.etag,
            &programme,
            day,
            |f| as_office(&viewer, f),
        )
        .await?;
        tx.commit().await?;
        Ok(forum(&record))
    }

    async fn add_participant(
        &self,
        request: Request<pb::AddForumParticipantRequest>,
    ) -> Result<pb::Forum, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let (region, id) = forum_name(&body.name, "name")?;
        let school = convert::school_id(&body.school, "school")?;
        let mut tx = self.store.begin().await?;
        let record =
            forums::add_participant(&mut tx, context, &region, &id, &body.etag, &school, |f| {
                as_office(&viewer, f)
            })
            .await?;
        tx.commit().await?;
        Ok(forum(&record))
    }

    async fn remove_participant(
        &self,
        request: Request<pb::RemoveForumParticipantRequest>,
    ) -> Result<pb::Forum, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let (region, id) = forum_name(&body.name, "name")?;
        let school = convert::school_id(&body.school, "school")?;
        let mut tx = self.store.begin().await?;
        let record =
            forums::remove_participant(&mut tx, context, &region, &id, &body.etag, &school, |f| {
                as_office(&viewer, f)
            })
            .await?;
        tx.commit().await?;
        Ok(forum(&record))
    }
}

#[tonic::async_trait]
impl ForumService for ForumsApi {
    async fn create_forum(
        &self,
        request: Request<pb::CreateForumRequest>,
    ) -> Result<Response<pb::Forum>, Status> {
        respond(self.create(request).await)
    }

    async fn get_forum(
        &self,
        request: Request<pb::GetForumRequest>,
    ) -> Result<Response<pb::Forum>, Status> {
        respond(self.get(request).await)
    }

    async fn list_forums(
        &self,
        request: Request<pb::ListForumsRequest>,
    ) -> Result<Response<pb::ListForumsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn register_forum(
        &self,
        request: Request<pb::RegisterForumRequest>,
    ) -> Result<Response<pb::Forum>, Status> {
        respond(self.register(request).await)
    }

    async fn set_forum_topics(
        &self,
        request: Request<pb::SetForumTopicsRequest>,
    ) -> Result<Response<pb::Forum>, Status> {
        respond(self.set_topics(request).await)
    }

    async fn agree_forum_topics(
        &self,
        request: Request<pb::AgreeForumTopicsRequest>,
    ) -> Result<Response<pb::Forum>, Status> {
        respond(self.agree_topics(request).await)
    }

    async fn set_forum_programme(
        &self,
        request: Request<pb::SetForumProgrammeRequest>,
    ) -> Result<Response<pb::Forum>, Status> {
        respond(self.set_programme(request).await)
    }

    async fn add_forum_participant(
        &self,
        request: Request<pb::AddForumParticipantRequest>,
    ) -> Result<Response<pb::Forum>, Status> {
        respond(self.add_participant(request).await)
    }

    async fn remove_forum_participant(
        &self,
        request: Request<pb::RemoveForumParticipantRequest>,
    ) -> Result<Response<pb::Forum>, Status> {
        respond(self.remove_participant(request).await)
    }
}
