//! Information support (rule 12; §1.3): the media plan's publications. A press release is
//! due in its window D−5 … D−3, a post-release in D … D+1 (the domain's
//! [`crate::domain::deadlines`]); lateness is flagged (`late`, OVERDUE), never refused.
//! Publishing needs every featured person's consents in force (the domain's
//! [`check_featured`]), read under their locks; a revocation flags the publications that
//! feature the person.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::Page;
use edu_kit::{ApiError, CallContext, audit, etag};

use super::institutions::{self, Setting};
use super::participants::{self, Lock};
use super::{corrupt, institution_name, parsed, participant_name};
use crate::domain::publication::{
    Featured, MAX_FEATURED, PublicationKind, PublicationState, PublicationTiming, check_featured,
    timing,
};
use crate::domain::redaction::{PersonView, shown_text};
use crate::domain::{FieldError, MentoringError, Transition};

/// `institutions/{institution}/publications/{id}`.
pub fn publication_name(institution: &str, id: &str) -> String {
    format!("{}/publications/{id}", institution_name(institution))
}

/// A publication as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicationDraft {
    /// The ID; a new one when empty.
    pub id: String,
    /// The kind.
    pub kind: PublicationKind,
    /// Its title.
    pub title: String,
    /// The event it covers (press and post-releases).
    pub event_title: String,
    /// The event's day (press and post-releases).
    pub event_date: Option<Date>,
    /// Channels: WEBSITE, VK, EXTERNAL.
    pub channels: Vec<String>,
    /// Featured participants, by ID.
    pub featured: Vec<String>,
}

/// A publication as shown at the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// The ID.
    pub id: String,
    /// The resource name.
    pub name: String,
    /// The kind.
    pub kind: PublicationKind,
    /// Its title.
    pub title: String,
    /// The event it covers.
    pub event_title: String,
    /// The event's day.
    pub event_date: Option<Date>,
    /// Channels: WEBSITE, VK, EXTERNAL, as planned.
    pub channels: Vec<String>,
    /// The featured people, in the order planned.
    pub featured_people: Vec<PersonView>,
    /// Where it is.
    pub state: PublicationState,
    /// The window's first day and due day, for kinds with a deadline.
    pub window: Option<(Date, Date)>,
    /// When the window closes: 00:00 after the due day in the institution's zone.
    pub due_time: Option<Timestamp>,
    /// Its link once published.
    pub uri: String,
    /// When it went out.
    pub publish_time: Option<Timestamp>,
    /// How it stands against its window.
    pub timing: PublicationTiming,
    /// Published late, or overdue.
    pub late: bool,
    /// A featured person revoked a consent since it was planned.
    pub consent_revoked: bool,
    /// Why it was cancelled; empty unless CANCELLED.
    pub cancel_reason: String,
    /// Whether a featured person is redacted: the texts (title, event, link, cancel reason)
    /// may describe them, so they are empty, as a pair's are (choice 8).
    pub redacted: bool,
    /// When it was planned.
    pub create_time: Timestamp,
    /// When it last changed.
    pub update_time: Timestamp,
    /// Its version, for etags.
    pub version: i64,
}

/// Plans a publication (`CreatePublication`): PLANNED. A window in the past is flagged when
/// read, never refused.
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    draft: &PublicationDraft,
) -> Result<Publication, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let mut fields = vec![];
    if draft.title.trim().is_empty() || draft.title.chars().count() > 300 {
        fields.push(FieldError::new("publication.title", "1 to 300 characters"));
    }
    if draft.kind.needs_event() && draft.event_date.is_none() {
        fields.push(FieldError::new(
            "publication.event_date",
            "a press or post-release needs the event's day",
        ));
    }
    if draft.channels.is_empty()
        || draft
            .channels
            .iter()
            .any(|c| !["WEBSITE", "VK", "EXTERNAL"].contains(&c.as_str()))
    {
        fields.push(FieldError::new(
            "publication.channels",
            "one or more of WEBSITE, VK, EXTERNAL",
        ));
    }
    if draft.featured.len() > MAX_FEATURED {
        fields.push(FieldError::new(
            "publication.featured_participants",
            "at most 50",
        ));
    }
    if !fields.is_empty() {
        return Err(MentoringError::InvalidFields(fields).into());
    }
    // The featured people exist (NOT_FOUND naming the first missing).
    participants::people(conn, institution, &draft.featured, setting.today).await?;
    let id = if draft.id.is_empty() {
        edu_kit::resource::new_id()
    } else {
        draft.id.clone()
    };
    let now = context.now();
    let inserted = sqlx::query!(
        "INSERT INTO mentoring.publications
             (institution_id, id, kind, title, event_title, event_date, channels, featured,
              create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT DO NOTHING",
        institution,
        id,
        draft.kind.as_str(),
        draft.title,
        draft.event_title,
        draft.event_date.map(|d| d.to_sqlx()),
        &draft.channels,
        &draft.featured,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let name = publication_name(institution, &id);
    if inserted.rows_affected() == 0 {
        return Err(ApiError::already_exists(name));
    }
    audit::record(
        conn,
        context,
        "publication.created",
        &name,
        json!({ "kind": draft.kind.as_str(),
                "event_date": draft.event_date.map(|d| d.to_string()) }),
    )
    .await?;
    get(conn, &setting, &id, now).await
}

/// Publishes a PLANNED publication at the call's instant: [`publish_at`] `context.now()`.
pub async fn publish(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    id: &str,
    uri: &str,
    supplied_etag: &str,
) -> Result<Publication, ApiError> {
    publish_at(
        conn,
        context,
        institution,
        id,
        uri,
        context.now(),
        supplied_etag,
    )
    .await
}

/// Publishes a PLANNED publication (`PublishPublication`), recorded as gone out at
/// `published` (the caller checked it is not in the future), with its link: the featured
/// people locked `FOR SHARE` (participants first), then their consents checked by the
/// domain. Its timing is judged by the domain against `published`; a late one is flagged,
/// not refused.
pub async fn publish_at(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    id: &str,
    uri: &str,
    published: Timestamp,
    supplied_etag: &str,
) -> Result<Publication, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let name = publication_name(institution, id);
    if uri.trim().is_empty() || uri.chars().count() > 2000 {
        return Err(MentoringError::InvalidFields(vec![FieldError::new(
            "uri",
            "the link it was published at",
        )])
        .into());
    }
    let featured = sqlx::query_scalar!(
        "SELECT featured FROM mentoring.publications WHERE institution_id = $1 AND id = $2",
        institution,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(name.clone()))?;
    let ids: Vec<&str> = featured.iter().map(String::as_str).collect();
    participants::lock(conn, institution, &ids, Lock::Share).await?;
    let row = sqlx::query!(
        "SELECT state, featured, version FROM mentoring.publications
         WHERE institution_id = $1 AND id = $2 FOR UPDATE",
        institution,
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    if row.featured != featured {
        return Err(ApiError::new(
            edu_kit::error::ErrorKind::Aborted,
            edu_kit::error::reason::CONCURRENT_CHANGE,
            "the featured people changed; retry",
        ));
    }
    etag::check(supplied_etag, row.version, &name)?;
    parsed("publication state", &row.state, PublicationState::parse)?.ensure_publishable()?;
    let consents = sqlx::query!(
        r#"SELECT p.id,
                  EXISTS (SELECT 1 FROM mentoring.consents c WHERE c.institution_id = p.institution_id
                          AND c.participant_id = p.id AND c.purpose = 'PERSONAL_DATA'
                          AND c.state = 'GIVEN') AS "personal_data!",
                  EXISTS (SELECT 1 FROM mentoring.consents c WHERE c.institution_id = p.institution_id
                          AND c.participant_id = p.id AND c.purpose = 'PUBLICATION'
                          AND c.state = 'GIVEN') AS "publication!"
           FROM mentoring.participants p WHERE p.institution_id = $1 AND p.id = ANY($2)"#,
        institution,
        &featured
    )
    .fetch_all(&mut *conn)
    .await?;
    let names: Vec<String> = featured
        .iter()
        .map(|f| participant_name(institution, f))
        .collect();
    let people: Vec<Featured<'_>> = featured
        .iter()
        .zip(&names)
        .map(|(f, name)| {
            let found = consents.iter().find(|c| &c.id == f);
            Featured {
                participant: name,
                personal_data: found.is_some_and(|c| c.personal_data),
                publication: found.is_some_and(|c| c.publication),
            }
        })
        .collect();
    check_featured(&people)?;
    let now = context.now();
    sqlx::query!(
        "UPDATE mentoring.publications
         SET state = 'PUBLISHED', uri = $3, publish_time = $4, update_time = $5,
             version = version + 1
         WHERE institution_id = $1 AND id = $2",
        institution,
        id,
        uri,
        published.to_sqlx(),
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let shown = get(conn, &setting, id, now).await?;
    audit::record(
        conn,
        context,
        "publication.published",
        &name,
        json!({ "timing": shown.timing.as_str() }),
    )
    .await?;
    Ok(shown)
}

/// Cancels a PLANNED publication (`CancelPublication`); a CANCELLED one is answered
/// unchanged, a PUBLISHED one refused.
pub async fn cancel(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    id: &str,
    reason: &str,
    supplied_etag: &str,
) -> Result<Publication, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let name = publication_name(institution, id);
    let row = sqlx::query!(
        "SELECT state, version FROM mentoring.publications
         WHERE institution_id = $1 AND id = $2 FOR UPDATE",
        institution,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(name.clone()))?;
    etag::check(supplied_etag, row.version, &name)?;
    let state = parsed("publication state", &row.state, PublicationState::parse)?;
    let now = context.now();
    if state.cancel()? == Transition::Changed {
        sqlx::query!(
            "UPDATE mentoring.publications
             SET state = 'CANCELLED', cancel_reason = $3, update_time = $4, version = version + 1
             WHERE institution_id = $1 AND id = $2",
            institution,
            id,
            reason,
            now.to_sqlx(),
        )
        .execute(&mut *conn)
        .await?;
        audit::record(conn, context, "publication.cancelled", &name, json!({})).await?;
    }
    get(conn, &setting, id, now).await
}

/// Flags the publications featuring a person who revoked a consent (the person is locked).
pub(crate) async fn flag_featuring(
    conn: &mut PgConnection,
    institution: &str,
    participant: &str,
    now: Timestamp,
) -> Result<u64, ApiError> {
    let done = sqlx::query!(
        "UPDATE mentoring.publications
         SET consent_revoked = true, update_time = $3, version = version + 1
         WHERE institution_id = $1 AND $2 = ANY(featured) AND state <> 'CANCELLED'
           AND NOT consent_revoked",
        institution,
        participant,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// One publication as it stands at `now`.
pub async fn get(
    conn: &mut PgConnection,
    setting: &Setting,
    id: &str,
    now: Timestamp,
) -> Result<Publication, ApiError> {
    list_where(conn, setting, Some(id), false, now)
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found(publication_name(&setting.id, id)))
}

/// The media plan as it stands at `now`, by creation; `late_only` keeps the late and
/// overdue ones.
pub async fn list(
    conn: &mut PgConnection,
    setting: &Setting,
    late_only: bool,
    now: Timestamp,
) -> Result<Vec<Publication>, ApiError> {
    list_where(conn, setting, None, late_only, now).await
}

/// The filters of `ListPublications`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublicationFilter {
    /// This kind only.
    pub kind: Option<PublicationKind>,
    /// This state only.
    pub state: Option<PublicationState>,
    /// Only those flagged late (published late, or overdue) at the call.
    pub late_only: bool,
    /// Only those flagged `consent_withdrawn`.
    pub consent_withdrawn_only: bool,
}

/// A page of `ListPublications`: at most `size` after the publication `after`, by event
/// day (those without one by the day they were planned, in the institution's zone), the
/// latest first, then by ID; each as [`get`] shows it at `now`, which also judges
/// `late_only` through the domain.
pub async fn list_page(
    conn: &mut PgConnection,
    setting: &Setting,
    filter: &PublicationFilter,
    now: Timestamp,
    size: usize,
    after: Option<String>,
) -> Result<Page<Publication, String>, ApiError> {
    let mut items: Vec<Publication> = vec![];
    let mut from = after;
    loop {
        let ids = sqlx::query_scalar!(
            r#"WITH keyed AS (
                   SELECT p.id, p.kind, p.state, p.consent_revoked,
                          coalesce(p.event_date, (p.create_time AT TIME ZONE $2)::date) AS day
                   FROM mentoring.publications p
                   WHERE p.institution_id = $1)
               SELECT k.id AS "id!" FROM keyed k
               WHERE ($3::text IS NULL OR k.kind = $3)
                 AND ($4::text IS NULL OR k.state = $4)
                 AND (NOT $5 OR k.consent_revoked)
                 AND ($6::text IS NULL OR EXISTS (
                         SELECT 1 FROM keyed c WHERE c.id = $6
                           AND (k.day < c.day OR (k.day = c.day AND k.id > c.id))))
               ORDER BY k.day DESC, k.id
               LIMIT $7"#,
            setting.id,
            setting.time_zone,
            filter.kind.map(PublicationKind::as_str),
            filter.state.map(PublicationState::as_str),
            filter.consent_withdrawn_only,
            from,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        let exhausted = ids.len() <= size;
        for id in ids {
            let shown = get(conn, setting, &id, now).await?;
            from = Some(id);
            if !filter.late_only || shown.late {
                items.push(shown);
                if items.len() > size {
                    break;
                }
            }
        }
        if items.len() > size || exhausted {
            break;
        }
    }
    Ok(Page::from_overfetch(items, size, |p| p.id.clone()))
}

async fn list_where(
    conn: &mut PgConnection,
    setting: &Setting,
    only: Option<&str>,
    late_only: bool,
    now: Timestamp,
) -> Result<Vec<Publication>, ApiError> {
    let institution = setting.id.as_str();
    let zone =
        TimeZone::get(&setting.time_zone).map_err(|_| corrupt("time zone", &setting.time_zone))?;
    let rows = sqlx::query!(
        "SELECT id, kind, title, event_title, event_date, channels, featured, state, uri,
                publish_time, consent_revoked, cancel_reason, create_time, update_time, version
         FROM mentoring.publications
         WHERE institution_id = $1 AND ($2::text IS NULL OR id = $2)
         ORDER BY create_time, id",
        institution,
        only
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut shown = Vec::with_capacity(rows.len());
    for row in rows {
        let kind = parsed("publication kind", &row.kind, PublicationKind::parse)?;
        let state = parsed("publication state", &row.state, PublicationState::parse)?;
        let event_date = row.event_date.map(|d| d.to_jiff());
        let publish_time = row.publish_time.map(|t| t.to_jiff());
        let timing = timing(kind, state, event_date, publish_time, now, &zone);
        if late_only && !timing.is_late() {
            continue;
        }
        let window = event_date.and_then(|d| kind.window(d));
        let featured_people =
            participants::people(conn, institution, &row.featured, setting.today).await?;
        let redacted = featured_people.iter().any(|p| p.redacted);
        shown.push(Publication {
            name: publication_name(institution, &row.id),
            kind,
            title: shown_text(&row.title, redacted).to_string(),
            event_title: shown_text(&row.event_title, redacted).to_string(),
            event_date,
            channels: row.channels,
            featured_people,
            state,
            window: window.map(|w| (w.first_day, w.due_day)),
            due_time: window.map(|w| w.closes_at(&zone)),
            uri: shown_text(&row.uri, redacted).to_string(),
            publish_time,
            timing,
            late: timing.is_late(),
            consent_revoked: row.consent_revoked,
            cancel_reason: shown_text(&row.cancel_reason, redacted).to_string(),
            redacted,
            create_time: row.create_time.to_jiff(),
            update_time: row.update_time.to_jiff(),
            version: row.version,
            id: row.id,
        });
    }
    Ok(shown)
}
