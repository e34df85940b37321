//! Citizens' appeals (rule 5).
//!
//! Numbering. An appeal is numbered in the transaction that records it, from a counter row
//! per (campaign, region) that the same statement creates or raises by one
//! (`INSERT … ON CONFLICT DO UPDATE`, which holds the row's lock until the transaction
//! ends). Concurrent appeals of one region therefore take their numbers one after another,
//! appeals of different regions do not wait for each other, and a transaction that rolls
//! back rolls its increment back too: the numbers of a region have no gaps. Recording takes
//! the campaign's row `FOR KEY SHARE` first, so that a concurrent change of the campaign
//! (its regions, its end) waits for the appeal or is seen by it.
//!
//! Moves lock the appeal's row `FOR UPDATE` and check its `version` against the caller's
//! etag. The applicant's name and contact are read and written here and nowhere logged:
//! audit records name the appeal, its number and region, never the applicant.

use jiff::{SignedDuration, Timestamp};
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::{Cursor, Page};
use edu_kit::{ApiError, CallContext, audit, resource};

use super::events::{self, EventKind};
use super::{Store, Visibility, campaigns, corrupt, headquarters};
use crate::domain::appeal::{self, AppealCategory, AppealChannel, AppealState};
use crate::domain::campaign::Campaign;

/// An appeal as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Appeal {
    /// Its ID.
    pub id: String,
    /// Its campaign.
    pub campaign_id: String,
    /// Its number, `KZ-75-000042`.
    pub number: String,
    /// How it came in.
    pub channel: AppealChannel,
    /// What it is about.
    pub category: AppealCategory,
    /// The region it concerns.
    pub region_code: String,
    /// Who answers for it.
    pub responsible_person: String,
    /// The applicant's name (personal data); empty when anonymous.
    pub applicant_name: String,
    /// How to reach the applicant (personal data).
    pub applicant_contact: String,
    /// What the applicant asks or reports.
    pub summary: String,
    /// Where it is.
    pub state: AppealState,
    /// The first response; empty while OPEN.
    pub first_response: String,
    /// When it got its first response.
    pub first_response_time: Option<Timestamp>,
    /// The answer; empty unless ANSWERED.
    pub answer: String,
    /// The body it went to; empty unless REDIRECTED.
    pub redirected_to: String,
    /// Why; empty unless REDIRECTED.
    pub redirect_reason: String,
    /// When it was answered or redirected.
    pub close_time: Option<Timestamp>,
    /// When it was recorded: the start of the response clock.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
}

// By hand, so that a debug print (a log line, a failed assertion) never shows the
// applicant.
impl std::fmt::Debug for Appeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appeal")
            .field("id", &self.id)
            .field("campaign_id", &self.campaign_id)
            .field("number", &self.number)
            .field("region_code", &self.region_code)
            .field("state", &self.state)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Appeal {
    /// Its resource name.
    pub fn name(&self) -> String {
        name(&self.campaign_id, &self.id)
    }
}

/// The resource name of appeal `id` of campaign `campaign`.
pub fn name(campaign: &str, id: &str) -> String {
    format!("campaigns/{campaign}/appeals/{id}")
}

/// What a caller records.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAppeal {
    /// How it came in.
    pub channel: AppealChannel,
    /// What it is about.
    pub category: AppealCategory,
    /// The region it concerns (a region of Kazakhstan; the campaign's is checked here).
    pub region_code: String,
    /// Who answers for it.
    pub responsible_person: String,
    /// The applicant's name, or empty.
    pub applicant_name: String,
    /// The applicant's contact, or empty.
    pub applicant_contact: String,
    /// What the applicant asks or reports.
    pub summary: String,
}

impl std::fmt::Debug for NewAppeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAppeal")
            .field("channel", &self.channel)
            .field("category", &self.category)
            .field("region_code", &self.region_code)
            .finish_non_exhaustive()
    }
}

/// Which appeals a listing returns, beyond the caller's visibility.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppealFilter {
    /// Only this region's.
    pub region: Option<String>,
    /// Only in this state.
    pub state: Option<AppealState>,
    /// Only of this category.
    pub category: Option<AppealCategory>,
    /// Only the appeal with this number.
    pub number: Option<String>,
    /// Only appeals overdue at this instant.
    pub overdue_at: Option<Timestamp>,
    /// Only appeals whose first response was late.
    pub responded_late: bool,
}

struct AppealRow {
    id: String,
    campaign_id: String,
    number: String,
    channel: String,
    category: String,
    region_code: String,
    responsible_person: String,
    applicant_name: String,
    applicant_contact: String,
    summary: String,
    state: String,
    first_response: String,
    first_response_time: Option<jiff_sqlx::Timestamp>,
    answer: String,
    redirected_to: String,
    redirect_reason: String,
    close_time: Option<jiff_sqlx::Timestamp>,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

impl TryFrom<AppealRow> for Appeal {
    type Error = ApiError;

    fn try_from(r: AppealRow) -> Result<Appeal, ApiError> {
        Ok(Appeal {
            channel: AppealChannel::parse(&r.channel)
                .ok_or_else(|| corrupt("appeal channel", &r.channel))?,
            category: AppealCategory::parse(&r.category)
                .ok_or_else(|| corrupt("appeal category", &r.category))?,
            state: AppealState::parse(&r.state).ok_or_else(|| corrupt("appeal state", &r.state))?,
            id: r.id,
            campaign_id: r.campaign_id,
            number: r.number,
            region_code: r.region_code,
            responsible_person: r.responsible_person,
            applicant_name: r.applicant_name,
            applicant_contact: r.applicant_contact,
            summary: r.summary,
            first_response: r.first_response,
            first_response_time: r.first_response_time.map(|t| t.to_jiff()),
            answer: r.answer,
            redirected_to: r.redirected_to,
            redirect_reason: r.redirect_reason,
            close_time: r.close_time.map(|t| t.to_jiff()),
            create_time: r.create_time.to_jiff(),
            update_time: r.update_time.to_jiff(),
            version: r.version,
        })
    }
}

/// Records an appeal of campaign `campaign_id`, OPEN and numbered; returns it with the
/// campaign (for its response target). Refuses a region outside the campaign and a
/// campaign that has ended; `NOT_FOUND` for an unknown campaign.
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    campaign_id: &str,
    new: &NewAppeal,
) -> Result<(Appeal, Campaign), ApiError> {
    // Waits for a concurrent change of the campaign; the read below then sees its result.
    headquarters::hold_campaign(conn, campaign_id).await?;
    let campaign = campaigns::get(conn, campaign_id, false).await?;
    campaign.ensure_region(&new.region_code)?;
    campaign.ensure_not_ended(context.now())?;
    let serial = sqlx::query_scalar!(
        "INSERT INTO aid.appeal_counters AS c (campaign_id, region_code, last_number)
         VALUES ($1, $2, 1)
         ON CONFLICT (campaign_id, region_code)
         DO UPDATE SET last_number = c.last_number + 1
         RETURNING last_number",
        campaign_id,
        new.region_code,
    )
    .fetch_one(&mut *conn)
    .await?;
    let id = resource::new_id();
    let number = appeal::number(&new.region_code, serial);
    sqlx::query!(
        "INSERT INTO aid.appeals
            (id, campaign_id, region_code, number, channel, category, responsible_person,
             applicant_name, applicant_contact, summary, state, create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'OPEN', $11, $11)",
        id,
        campaign_id,
        new.region_code,
        number,
        new.channel.as_str(),
        new.category.as_str(),
        new.responsible_person,
        new.applicant_name,
        new.applicant_contact,
        new.summary,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let resource = name(campaign_id, &id);
    audit::record(
        conn,
        context,
        "appeal.created",
        &resource,
        json!({ "number": number, "region_code": new.region_code,
                "channel": new.channel.as_str(), "category": new.category.as_str(),
                "responsible_person": new.responsible_person }),
    )
    .await?;
    let created = fetch(conn, campaign_id, &id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(resource))?;
    Ok((created, campaign))
}

/// An appeal of a campaign; `lock` holds its row `FOR UPDATE`.
pub async fn fetch(
    conn: &mut PgConnection,
    campaign_id: &str,
    id: &str,
    lock: bool,
) -> Result<Option<Appeal>, ApiError> {
    let row = if lock {
        sqlx::query_as!(
            AppealRow,
            "SELECT id, campaign_id, number, channel, category, region_code, responsible_person,
                    applicant_name, applicant_contact, summary, state, first_response,
                    first_response_time, answer, redirected_to, redirect_reason, close_time,
                    create_time, update_time, version
             FROM aid.appeals WHERE campaign_id = $1 AND id = $2 FOR UPDATE",
            campaign_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            AppealRow,
            "SELECT id, campaign_id, number, channel, category, region_code, responsible_person,
                    applicant_name, applicant_contact, summary, state, first_response,
                    first_response_time, answer, redirected_to, redirect_reason, close_time,
                    create_time, update_time, version
             FROM aid.appeals WHERE campaign_id = $1 AND id = $2",
            campaign_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    row.map(Appeal::try_from).transpose()
}

async fn reread(conn: &mut PgConnection, appeal: &Appeal) -> Result<Appeal, ApiError> {
    fetch(conn, &appeal.campaign_id, &appeal.id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(appeal.name()))
}

/// Routes a locked appeal: a new category and responsible person (each when `Some`).
pub async fn route(
    conn: &mut PgConnection,
    context: &CallContext,
    appeal: &Appeal,
    category: Option<AppealCategory>,
    responsible_person: Option<&str>,
) -> Result<Appeal, ApiError> {
    let category = category.unwrap_or(appeal.category);
    let responsible = responsible_person.unwrap_or(&appeal.responsible_person);
    sqlx::query!(
        "UPDATE aid.appeals
         SET category = $3, responsible_person = $4, update_time = $5, version = version + 1
         WHERE campaign_id = $1 AND id = $2",
        appeal.campaign_id,
        appeal.id,
        category.as_str(),
        responsible,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "appeal.routed",
        &appeal.name(),
        json!({ "category": { "from": appeal.category.as_str(), "to": category.as_str() },
                "responsible_person": { "from": appeal.responsible_person, "to": responsible } }),
    )
    .await?;
    reread(conn, appeal).await
}

/// Gives a locked OPEN appeal its first response: IN_PROGRESS, the response clock stopped.
pub async fn start(
    conn: &mut PgConnection,
    context: &CallContext,
    appeal: &Appeal,
    first_response: &str,
) -> Result<Appeal, ApiError> {
    sqlx::query!(
        "UPDATE aid.appeals
         SET state = 'IN_PROGRESS', first_response = $3, first_response_time = $4,
             update_time = $4, version = version + 1
         WHERE campaign_id = $1 AND id = $2",
        appeal.campaign_id,
        appeal.id,
        first_response,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let waited = appeal::time_to_first_response(appeal.create_time, Some(context.now()))
        .unwrap_or(SignedDuration::ZERO);
    audit::record(
        conn,
        context,
        "appeal.started",
        &appeal.name(),
        json!({ "state": { "from": appeal.state.as_str(), "to": "IN_PROGRESS" },
                "time_to_first_response_seconds": waited.as_secs() }),
    )
    .await?;
    reread(conn, appeal).await
}

/// Answers a locked IN_PROGRESS appeal and records the event `APPEAL_ANSWERED` with it.
pub async fn answer(
    conn: &mut PgConnection,
    context: &CallContext,
    appeal: &Appeal,
    answer: &str,
) -> Result<Appeal, ApiError> {
    sqlx::query!(
        "UPDATE aid.appeals
         SET state = 'ANSWERED', answer = $3, close_time = $4, update_time = $4,
             version = version + 1
         WHERE campaign_id = $1 AND id = $2",
        appeal.campaign_id,
        appeal.id,
        answer,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "appeal.answered",
        &appeal.name(),
        json!({ "state": { "from": appeal.state.as_str(), "to": "ANSWERED" } }),
    )
    .await?;
    events::record(
        conn,
        EventKind::AppealAnswered,
        &appeal.name(),
        &appeal.campaign_id,
        &appeal.region_code,
        context.now(),
    )
    .await?;
    reread(conn, appeal).await
}

/// Redirects a locked IN_PROGRESS appeal to the body `to`, for `reason`.
pub async fn redirect(
    conn: &mut PgConnection,
    context: &CallContext,
    appeal: &Appeal,
    to: &str,
    reason: &str,
) -> Result<Appeal, ApiError> {
    sqlx::query!(
        "UPDATE aid.appeals
         SET state = 'REDIRECTED', redirected_to = $3, redirect_reason = $4, close_time = $5,
             update_time = $5, version = version + 1
         WHERE campaign_id = $1 AND id = $2",
        appeal.campaign_id,
        appeal.id,
        to,
        reason,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "appeal.redirected",
        &appeal.name(),
        json!({ "state": { "from": appeal.state.as_str(), "to": "REDIRECTED" },
                "redirected_to": to }),
    )
    .await?;
    reread(conn, appeal).await
}

impl Store {
    /// An appeal of a campaign, with the campaign; `None` when either does not exist.
    pub async fn appeal(
        &self,
        campaign_id: &str,
        id: &str,
    ) -> Result<Option<(Appeal, Campaign)>, ApiError> {
        let mut conn = self.read().await?;
        let Some(campaign) = campaigns::fetch(&mut conn, campaign_id, false).await? else {
            conn.finish();
            return Ok(None);
        };
        let appeal = fetch(&mut conn, campaign_id, id, false).await?;
        conn.finish();
        Ok(appeal.map(|a| (a, campaign)))
    }

    /// Appeals of a campaign that `vis` shows and `filter` keeps, oldest first (then by
    /// ID), with `target` the campaign's response target.
    pub async fn list_appeals(
        &self,
        campaign_id: &str,
        vis: &Visibility,
        filter: &AppealFilter,
        target: SignedDuration,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page<Appeal>, ApiError> {
        let (after_time, after_id) = Cursor::split(after);
        // Overdue at `now`: still OPEN and recorded before `now − target`.
        let overdue_before = filter
            .overdue_at
            .map(|now| now.checked_sub(target).unwrap_or(Timestamp::MIN).to_sqlx());
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            AppealRow,
            r#"SELECT id, campaign_id, number, channel, category, region_code,
                      responsible_person, applicant_name, applicant_contact, summary, state,
                      first_response, first_response_time, answer, redirected_to,
                      redirect_reason, close_time, create_time, update_time, version
               FROM aid.appeals
               WHERE campaign_id = $1
                 AND ($2 OR region_code = ANY ($3))
                 AND ($4::text IS NULL OR region_code = $4)
                 AND ($5::text IS NULL OR state = $5)
                 AND ($6::text IS NULL OR category = $6)
                 AND ($7::text IS NULL OR number = $7)
                 AND ($8::timestamptz IS NULL OR (state = 'OPEN' AND create_time < $8))
                 AND (NOT $9 OR first_response_time > create_time + make_interval(secs => $10))
                 AND ($11::timestamptz IS NULL OR (create_time, id) > ($11, $12::text))
               ORDER BY create_time, id
               LIMIT $13"#,
            campaign_id,
            vis.all,
            &vis.regions,
            filter.region,
            filter.state.map(AppealState::as_str),
            filter.category.map(AppealCategory::as_str),
            filter.number,
            overdue_before as _,
            filter.responded_late,
            target.as_secs_f64(),
            after_time as _,
            after_id,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let items = rows
            .into_iter()
            .map(Appeal::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, size, |a| Cursor {
            time: a.create_time,
            id: a.id.clone(),
        }))
    }
}
