//! Regional forums on innovation (rule 9). The regional office records its agreement with a
//! school of its region to host a forum in a year; the school registers its wish to host;
//! the two sides set and agree the topics, which are final once both agreed the same list;
//! then the office sets the programme and the participant schools.
//!
//! Every change locks the forum's row `FOR UPDATE`, asks the API room's `authorize` whether
//! the caller may act on the forum as read under the lock (and as which side), checks the
//! etag, and only then applies the rule, so that a caller who may not see the forum learns
//! nothing from a stale etag or from its state.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use sqlx::types::Json;

use edu_kit::error::reason as kit_reason;
use edu_kit::paging::Page;
use edu_kit::{ApiError, CallContext, audit, etag};

use super::{Store, Visibility, corrupt, schools, years};

/// Most topics a forum has.
pub const MAX_TOPICS: usize = 10;

/// Where a forum is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForumState {
    /// The office recorded its agreement; the school has not registered yet.
    Agreed,
    /// The school registered its wish to host.
    Registered,
}

impl ForumState {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ForumState::Agreed => "AGREED",
            ForumState::Registered => "REGISTERED",
        }
    }

    /// From its stored form.
    pub fn parse(stored: &str) -> Option<ForumState> {
        match stored {
            "AGREED" => Some(ForumState::Agreed),
            "REGISTERED" => Some(ForumState::Registered),
            _ => None,
        }
    }
}

/// One side of a forum: who sets and agrees its topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The regional education office.
    RegionalOffice,
    /// The host school.
    HostSchool,
}

impl Party {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Party::RegionalOffice => "REGIONAL_OFFICE",
            Party::HostSchool => "HOST_SCHOOL",
        }
    }

    /// From its stored form.
    pub fn parse(stored: &str) -> Option<Party> {
        match stored {
            "REGIONAL_OFFICE" => Some(Party::RegionalOffice),
            "HOST_SCHOOL" => Some(Party::HostSchool),
            _ => None,
        }
    }
}

/// One topic of a forum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    /// The topic, 1 to 300 characters.
    pub title: String,
    /// What it covers, up to 2 000 characters.
    pub description: String,
}

/// A regional forum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forum {
    /// Its region, `BG-xx`.
    pub region_code: String,
    /// Its ID within the region.
    pub id: String,
    /// The programme year.
    pub year_id: String,
    /// The host school.
    pub school_id: String,
    /// How many people the host can receive.
    pub capacity: i32,
    /// The host's experience with forums.
    pub experience: String,
    /// Where it is.
    pub state: ForumState,
    /// The topics as last set.
    pub topics: Vec<Topic>,
    /// The side that last set them.
    pub topics_set_by: Option<Party>,
    /// Whether the office agreed the current topics.
    pub office_agreed_topics: bool,
    /// Whether the host school agreed them.
    pub school_agreed_topics: bool,
    /// The programme, set by the office.
    pub programme: String,
    /// The day of the forum.
    pub forum_date: Option<Date>,
    /// Participant schools, in the order they were added; not the host.
    pub participants: Vec<String>,
    /// When the office recorded its agreement.
    pub create_time: Timestamp,
    /// When the school registered.
    pub register_time: Option<Timestamp>,
    /// Last changed.
    pub update_time: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
}

impl Forum {
    /// Whether both sides agreed the current topics.
    pub fn topics_final(&self) -> bool {
        self.office_agreed_topics && self.school_agreed_topics
    }

    /// Whether `party` agreed the current topics.
    pub fn agreed_by(&self, party: Party) -> bool {
        match party {
            Party::RegionalOffice => self.office_agreed_topics,
            Party::HostSchool => self.school_agreed_topics,
        }
    }

    /// Whether school `id` takes part (as a listed participant, not as the host).
    pub fn has_participant(&self, id: &str) -> bool {
        self.participants.iter().any(|p| p == id)
    }

    /// Its resource name.
    pub fn name(&self) -> String {
        name(&self.region_code, &self.id)
    }
}

/// Why a forum rule refuses a change; the API room gives each its reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForumError {
    /// A school (`schools/{id}`) that is not in the forum's region.
    #[error("{school} is not in the region {region}")]
    SchoolOutsideRegion {
        /// The school's name.
        school: String,
        /// The forum's region.
        region: String,
    },
    /// Topics or participants before the school registered.
    #[error("the host school has not registered the forum yet")]
    NotRegistered,
    /// Setting topics both sides agreed.
    #[error("both sides agreed the topics; they no longer change")]
    TopicsFinal,
    /// Agreeing topics before any were set.
    #[error("no topics were set yet")]
    NoTopics,
    /// A programme before the topics are final.
    #[error("the topics are not agreed by both sides yet")]
    TopicsNotFinal,
}

struct ForumRow {
    region_code: String,
    id: String,
    year_id: String,
    school_id: String,
    capacity: i32,
    experience: String,
    state: String,
    topics: Json<Vec<Topic>>,
    topics_set_by: Option<String>,
    office_agreed_topics: bool,
    school_agreed_topics: bool,
    programme: String,
    forum_date: Option<jiff_sqlx::Date>,
    participants: Vec<String>,
    create_time: jiff_sqlx::Timestamp,
    register_time: Option<jiff_sqlx::Timestamp>,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

impl ForumRow {
    fn into_forum(self) -> Result<Forum, ApiError> {
        let state =
            ForumState::parse(&self.state).ok_or_else(|| corrupt("forum state", &self.state))?;
        let topics_set_by = match self.topics_set_by {
            Some(p) => Some(Party::parse(&p).ok_or_else(|| corrupt("forum party", &p))?),
            None => None,
        };
        Ok(Forum {
            region_code: self.region_code,
            id: self.id,
            year_id: self.year_id,
            school_id: self.school_id,
            capacity: self.capacity,
            experience: self.experience,
            state,
            topics: self.topics.0,
            topics_set_by,
            office_agreed_topics: self.office_agreed_topics,
            school_agreed_topics: self.school_agreed_topics,
            programme: self.programme,
            forum_date: self.forum_date.map(|d| d.to_jiff()),
            participants: self.participants,
            create_time: self.create_time.to_jiff(),
            register_time: self.register_time.map(|t| t.to_jiff()),
            update_time: self.update_time.to_jiff(),
            version: self.version,
        })
    }
}

/// The resource name of a forum.
pub fn name(region: &str, id: &str) -> String {
    format!("regions/{region}/forums/{id}")
}

/// Where a page of forums ends: the last forum's creation time, region and ID (IDs are
/// unique within a region only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForumCursor {
    /// The last creation time.
    pub time: Timestamp,
    /// The last region.
    pub region: String,
    /// The last ID.
    pub id: String,
}

/// Filters of ListForums.
#[derive(Debug, Clone, Default)]
pub struct ForumFilter {
    /// One region, or every region.
    pub region: Option<String>,
    /// One year.
    pub year: Option<String>,
    /// One host school.
    pub school: Option<String>,
    /// One state.
    pub state: Option<ForumState>,
}

async fn select(
    conn: &mut PgConnection,
    vis: &Visibility,
    filter: &ForumFilter,
    one: Option<(&str, &str)>,
    size: usize,
    after: Option<ForumCursor>,
) -> Result<Vec<Forum>, ApiError> {
    let (one_region, one_id) = one.unzip();
    let (after_time, after_region, after_id) = match after {
        Some(c) => (Some(c.time.to_sqlx()), Some(c.region), Some(c.id)),
        None => (None, None, None),
    };
    let rows = sqlx::query_as!(
        ForumRow,
        r#"SELECT region_code, id, year_id, school_id, capacity, experience, state,
                  topics AS "topics: Json<Vec<Topic>>", topics_set_by, office_agreed_topics,
                  school_agreed_topics, programme, forum_date, participants, create_time,
                  register_time, update_time, version
           FROM partnerships.forums
           WHERE ($1::text IS NULL OR (region_code = $1 AND id = $2))
             AND ($3::text IS NULL OR region_code = $3)
             AND ($4::text IS NULL OR year_id = $4)
             AND ($5::text IS NULL OR school_id = $5)
             AND ($6::text IS NULL OR state = $6)
             AND ($7 OR region_code = ANY ($8) OR school_id = ANY ($9) OR participants && $9)
             AND ($10::timestamptz IS NULL
                  OR (create_time, region_code, id) > ($10, $11::text, $12::text))
           ORDER BY create_time, region_code, id
           LIMIT $13"#,
        one_region,
        one_id,
        filter.region,
        filter.year,
        filter.school,
        filter.state.map(ForumState::as_str),
        vis.all,
        &vis.regions,
        &vis.schools,
        after_time as _,
        after_region,
        after_id,
        size as i64,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(ForumRow::into_forum).collect()
}

/// A forum of `region`; `lock` holds it `FOR UPDATE`.
pub async fn fetch(
    conn: &mut PgConnection,
    region: &str,
    id: &str,
    lock: bool,
) -> Result<Option<Forum>, ApiError> {
    if lock {
        sqlx::query!(
            "SELECT 1 AS found FROM partnerships.forums
             WHERE region_code = $1 AND id = $2 FOR UPDATE",
            region,
            id
        )
        .fetch_optional(&mut *conn)
        .await?;
    }
    let vis = Visibility {
        all: true,
        ..Visibility::default()
    };
    Ok(select(
        conn,
        &vis,
        &ForumFilter::default(),
        Some((region, id)),
        1,
        None,
    )
    .await?
    .into_iter()
    .next())
}

/// The forum as just written.
async fn reread(conn: &mut PgConnection, region: &str, id: &str) -> Result<Forum, ApiError> {
    fetch(conn, region, id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(name(region, id)))
}

/// The forum locked `FOR UPDATE`, once `authorize` let the caller act on it (returning as
/// what) and the etag matched: `NOT_FOUND` when there is none.
async fn locked<A>(
    conn: &mut PgConnection,
    region: &str,
    id: &str,
    supplied_etag: &str,
    authorize: impl FnOnce(&Forum) -> Result<A, ApiError>,
) -> Result<(Forum, A), ApiError> {
    let resource = name(region, id);
    let forum = fetch(conn, region, id, true)
        .await?
        .ok_or_else(|| ApiError::not_found(resource.clone()))?;
    let acting = authorize(&forum)?;
    etag::check(supplied_etag, forum.version, &resource)?;
    Ok((forum, acting))
}

/// A new forum, as the office agreed it.
#[derive(Debug, Clone)]
pub struct NewForum {
    /// Its region.
    pub region_code: String,
    /// Its ID.
    pub id: String,
    /// The year.
    pub year_id: String,
    /// The host school, of the region.
    pub school_id: String,
    /// 1 to 10 000 people.
    pub capacity: i32,
    /// The host's experience.
    pub experience: String,
}

/// The office records its agreement with a school of its region: a forum in state AGREED.
/// `NOT_FOUND` for the year or the school, [`ForumError::SchoolOutsideRegion`], and
/// `ALREADY_EXISTS` (metadata `forum`) when the school has a forum in the year or the ID is
/// taken in the region.
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    new: &NewForum,
) -> Result<Forum, ApiError> {
    years::get(conn, &new.year_id, false).await?;
    // Held FOR SHARE: the school's region does not change under the agreement.
    let school = schools::share(conn, &[&new.school_id])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found(format!("schools/{}", new.school_id)))?;
    if school.region_code != new.region_code {
        return Err(ForumError::SchoolOutsideRegion {
            school: format!("schools/{}", school.id),
            region: new.region_code.clone(),
        }
        .into());
    }
    let now = context.now();
    let inserted = sqlx::query!(
        "INSERT INTO partnerships.forums
            (region_code, id, year_id, school_id, capacity, experience, state, create_time,
             update_time)
         VALUES ($1, $2, $3, $4, $5, $6, 'AGREED', $7, $7)
         ON CONFLICT DO NOTHING",
        new.region_code,
        new.id,
        new.year_id,
        new.school_id,
        new.capacity,
        new.experience,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        // The conflicting row has committed (ON CONFLICT waited for it): the school's forum
        // of the year, else the forum that holds the ID.
        let existing = sqlx::query!(
            "SELECT region_code, id FROM partnerships.forums
             WHERE year_id = $1 AND school_id = $2",
            new.year_id,
            new.school_id
        )
        .fetch_optional(&mut *conn)
        .await?;
        return Err(match existing {
            Some(f) => ApiError::already_exists(format!(
                "a forum of schools/{} in years/{}",
                new.school_id, new.year_id
            ))
            .with_metadata("forum", name(&f.region_code, &f.id)),
            None => ApiError::already_exists(name(&new.region_code, &new.id))
                .with_metadata("forum", name(&new.region_code, &new.id)),
        });
    }
    let resource = name(&new.region_code, &new.id);
    audit::record(
        conn,
        context,
        "forum.created",
        &resource,
        json!({ "year": new.year_id, "school": new.school_id, "capacity": new.capacity }),
    )
    .await?;
    reread(conn, &new.region_code, &new.id).await
}

/// The host school registers its wish to host: AGREED → REGISTERED; a registered forum is
/// returned unchanged.
pub async fn register(
    conn: &mut PgConnection,
    context: &CallContext,
    region: &str,
    id: &str,
    supplied_etag: &str,
    authorize: impl FnOnce(&Forum) -> Result<(), ApiError>,
) -> Result<Forum, ApiError> {
    let (forum, ()) = locked(conn, region, id, supplied_etag, authorize).await?;
    if forum.state == ForumState::Registered {
        return Ok(forum);
    }
    let now = context.now();
    sqlx::query!(
        "UPDATE partnerships.forums
         SET state = 'REGISTERED', register_time = $3, update_time = $3, version = version + 1
         WHERE region_code = $1 AND id = $2",
        region,
        id,
        now.to_sqlx()
    )
    .execute(&mut *conn)
    .await?;
    audit::record(conn, context, "forum.registered", &forum.name(), json!({})).await?;
    reread(conn, region, id).await
}

/// The side `authorize` names sets the topics (1 to [`MAX_TOPICS`], checked by the caller):
/// its agreement with them, the other side's cleared. Refused before the registration and
/// once the topics are final.
pub async fn set_topics(
    conn: &mut PgConnection,
    context: &CallContext,
    region: &str,
    id: &str,
    supplied_etag: &str,
    topics: &[Topic],
    authorize: impl FnOnce(&Forum) -> Result<Party, ApiError>,
) -> Result<Forum, ApiError> {
    let (forum, party) = locked(conn, region, id, supplied_etag, authorize).await?;
    if forum.state != ForumState::Registered {
        return Err(ForumError::NotRegistered.into());
    }
    if forum.topics_final() {
        return Err(ForumError::TopicsFinal.into());
    }
    sqlx::query!(
        "UPDATE partnerships.forums
         SET topics = $3, topics_set_by = $4, office_agreed_topics = $5,
             school_agreed_topics = $6, update_time = $7, version = version + 1
         WHERE region_code = $1 AND id = $2",
        region,
        id,
        Json(topics) as _,
        party.as_str(),
        party == Party::RegionalOffice,
        party == Party::HostSchool,
        context.now().to_sqlx()
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "forum.topics_set",
        &forum.name(),
        json!({ "by": party.as_str(),
                "topics": topics.iter().map(|t| t.title.as_str()).collect::<Vec<_>>() }),
    )
    .await?;
    reread(conn, region, id).await
}

/// The side `authorize` names agrees the topics as they stand in the etag checked; agreeing
/// again returns the forum unchanged. Refused before the registration and without topics.
pub async fn agree_topics(
    conn: &mut PgConnection,
    context: &CallContext,
    region: &str,
    id: &str,
    supplied_etag: &str,
    authorize: impl FnOnce(&Forum) -> Result<Party, ApiError>,
) -> Result<Forum, ApiError> {
    let (forum, party) = locked(conn, region, id, supplied_etag, authorize).await?;
    if forum.state != ForumState::Registered {
        return Err(ForumError::NotRegistered.into());
    }
    if forum.topics.is_empty() {
        return Err(ForumError::NoTopics.into());
    }
    if forum.agreed_by(party) {
        return Ok(forum);
    }
    sqlx::query!(
        "UPDATE partnerships.forums
         SET office_agreed_topics = office_agreed_topics OR $3,
             school_agreed_topics = school_agreed_topics OR $4,
             update_time = $5, version = version + 1
         WHERE region_code = $1 AND id = $2",
        region,
        id,
        party == Party::RegionalOffice,
        party == Party::HostSchool,
        context.now().to_sqlx()
    )
    .execute(&mut *conn)
    .await?;
    let agreed = reread(conn, region, id).await?;
    audit::record(
        conn,
        context,
        "forum.topics_agreed",
        &forum.name(),
        json!({ "by": party.as_str(), "final": agreed.topics_final() }),
    )
    .await?;
    Ok(agreed)
}

/// The office sets the programme and the day, once the topics are final.
#[allow(clippy::too_many_arguments)]
pub async fn set_programme(
    conn: &mut PgConnection,
    context: &CallContext,
    region: &str,
    id: &str,
    supplied_etag: &str,
    programme: &str,
    forum_date: Date,
    authorize: impl FnOnce(&Forum) -> Result<(), ApiError>,
) -> Result<Forum, ApiError> {
    let (forum, ()) = locked(conn, region, id, supplied_etag, authorize).await?;
    if !forum.topics_final() {
        return Err(ForumError::TopicsNotFinal.into());
    }
    sqlx::query!(
        "UPDATE partnerships.forums
         SET programme = $3, forum_date = $4, update_time = $5, version = version + 1
         WHERE region_code = $1 AND id = $2",
        region,
        id,
        programme,
        forum_date.to_sqlx(),
        context.now().to_sqlx()
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "forum.programme_set",
        &forum.name(),
        json!({ "forum_date": forum_date.to_string() }),
    )
    .await?;
    reread(conn, region, id).await
}

/// The office adds participant school `school` of the forum's region; adding it again
/// returns the forum unchanged. Refused before the registration, for the host
/// (`INVALID_FIELDS` on `school`), for a school outside the region, and `NOT_FOUND` for a
/// school that does not exist.
pub async fn add_participant(
    conn: &mut PgConnection,
    context: &CallContext,
    region: &str,
    id: &str,
    supplied_etag: &str,
    school: &str,
    authorize: impl FnOnce(&Forum) -> Result<(), ApiError>,
) -> Result<Forum, ApiError> {
    let (forum, ()) = locked(conn, region, id, supplied_etag, authorize).await?;
    if forum.state != ForumState::Registered {
        return Err(ForumError::NotRegistered.into());
    }
    if forum.school_id == school {
        return Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            "school",
            "the host takes part without being listed",
        ));
    }
    let found = schools::fetch(conn, school, false)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("schools/{school}")))?;
    if found.region_code != forum.region_code {
        return Err(ForumError::SchoolOutsideRegion {
            school: format!("schools/{school}"),
            region: forum.region_code.clone(),
        }
        .into());
    }
    if forum.has_participant(school) {
        return Ok(forum);
    }
    sqlx::query!(
        "UPDATE partnerships.forums
         SET participants = array_append(participants, $3), update_time = $4,
             version = version + 1
         WHERE region_code = $1 AND id = $2",
        region,
        id,
        school,
        context.now().to_sqlx()
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "forum.participant_added",
        &forum.name(),
        json!({ "school": school }),
    )
    .await?;
    reread(conn, region, id).await
}

/// The office removes participant school `school`; a school that does not take part
/// leaves the forum unchanged.
pub async fn remove_participant(
    conn: &mut PgConnection,
    context: &CallContext,
    region: &str,
    id: &str,
    supplied_etag: &str,
    school: &str,
    authorize: impl FnOnce(&Forum) -> Result<(), ApiError>,
) -> Result<Forum, ApiError> {
    let (forum, ()) = locked(conn, region, id, supplied_etag, authorize).await?;
    if !forum.has_participant(school) {
        return Ok(forum);
    }
    sqlx::query!(
        "UPDATE partnerships.forums
         SET participants = array_remove(participants, $3), update_time = $4,
             version = version + 1
         WHERE region_code = $1 AND id = $2",
        region,
        id,
        school,
        context.now().to_sqlx()
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "forum.participant_removed",
        &forum.name(),
        json!({ "school": school }),
    )
    .await?;
    reread(conn, region, id).await
}

impl Store {
    /// A forum, whoever may see it.
    pub async fn forum(&self, region: &str, id: &str) -> Result<Option<Forum>, ApiError> {
        self.reads
            .run(async |conn| Ok(fetch(conn, region, id, false).await?))
            .await
    }

    /// Forums the caller sees, oldest first.
    pub async fn list_forums(
        &self,
        vis: &Visibility,
        filter: &ForumFilter,
        size: usize,
        after: Option<ForumCursor>,
    ) -> Result<Page<Forum, ForumCursor>, ApiError> {
        let mut conn = self.read().await?;
        let items = select(&mut conn, vis, filter, None, size + 1, after).await?;
        conn.finish();
        Ok(Page::from_overfetch(items, size, |f| ForumCursor {
            time: f.create_time,
            region: f.region_code.clone(),
            id: f.id.clone(),
        }))
    }
}
