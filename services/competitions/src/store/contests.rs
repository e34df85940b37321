//! Contests, their nominations and their rubric.

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use serde::Deserialize;
use serde_json::json;
use sqlx::PgConnection;
use sqlx::types::Json;

use edu_kit::audit;
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::{ApiError, CallContext, etag};

use super::{Cursor, Page, Store, corrupt, remember, replay};
use crate::domain::contest::SpecField;
use crate::domain::deadline::time_zone;
use crate::domain::{
    CompetitionError, Contest, ContestSpec, ContestState, Criterion, Nomination, TeamLevel,
    Transition,
};

#[derive(Debug, Deserialize)]
struct NominationRow {
    id: String,
    title: String,
    description: String,
}

#[derive(Debug, Deserialize)]
struct CriterionRow {
    id: String,
    title: String,
    description: String,
    min_score: u8,
    max_score: u8,
    weight: u8,
}

struct ContestRow {
    id: String,
    title: String,
    description: String,
    organiser: String,
    state: String,
    time_zone: String,
    application_deadline: jiff_sqlx::Date,
    results_due: jiff_sqlx::Date,
    eligible_levels: Vec<String>,
    max_applications_per_team: i16,
    experts_per_application: i16,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    open_time: Option<jiff_sqlx::Timestamp>,
    close_time: Option<jiff_sqlx::Timestamp>,
    announce_time: Option<jiff_sqlx::Timestamp>,
    cancel_time: Option<jiff_sqlx::Timestamp>,
    cancel_reason: Option<String>,
    version: i64,
    nominations: Json<Vec<NominationRow>>,
    criteria: Json<Vec<CriterionRow>>,
}

impl ContestRow {
    /// Stored contests were checked when written; reading trusts them rather than re-running
    /// today's validation, which may be stricter than the rules they were created under.
    fn into_domain(self) -> Result<Contest, ApiError> {
        let state = ContestState::parse(&self.state)
            .ok_or_else(|| corrupt("contest state", &self.state))?;
        let zone = time_zone(&self.time_zone).map_err(|_| corrupt("time zone", &self.time_zone))?;
        let eligible_levels = self
            .eligible_levels
            .iter()
            .map(|l| TeamLevel::parse(l).ok_or_else(|| corrupt("team level", l)))
            .collect::<Result<BTreeSet<_>, _>>()?;
        Ok(Contest {
            id: self.id,
            spec: ContestSpec {
                title: self.title,
                description: self.description,
                organiser: self.organiser,
                time_zone_name: self.time_zone,
                time_zone: zone,
                application_deadline: self.application_deadline.to_jiff(),
                results_due: self.results_due.to_jiff(),
                nominations: self
                    .nominations
                    .0
                    .into_iter()
                    .map(|n| Nomination {
                        id: n.id,
                        title: n.title,
                        description: n.description,
                    })
                    .collect(),
                eligible_levels,
                max_applications_per_team: self.max_applications_per_team as u8,
                experts_per_application: self.experts_per_application as u8,
                criteria: self
                    .criteria
                    .0
                    .into_iter()
                    .map(|c| Criterion {
                        id: c.id,
                        title: c.title,
                        description: c.description,
                        min_score: c.min_score,
                        max_score: c.max_score,
                        weight: c.weight,
                    })
                    .collect(),
            },
            state,
            create_time: self.create_time.to_jiff(),
            update_time: self.update_time.to_jiff(),
            open_time: self.open_time.map(|t| t.to_jiff()),
            close_time: self.close_time.map(|t| t.to_jiff()),
            announce_time: self.announce_time.map(|t| t.to_jiff()),
            cancel_time: self.cancel_time.map(|t| t.to_jiff()),
            cancel_reason: self.cancel_reason,
            version: self.version,
        })
    }
}

/// How a use case holds a contest row while it works.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lock {
    /// Others may read and hold it shared, but not change it (work that depends on its state).
    Share,
    /// Nobody else holds it (changing it).
    Update,
}

/// Locks contest `id`; `false` when it does not exist.
pub(crate) async fn lock(
    conn: &mut PgConnection,
    id: &str,
    lock: Lock,
) -> Result<bool, sqlx::Error> {
    let found = match lock {
        Lock::Share => {
            sqlx::query_scalar!(
                r#"SELECT 1 AS "found!" FROM competitions.contests WHERE id = $1 FOR SHARE"#,
                id
            )
            .fetch_optional(&mut *conn)
            .await?
        }
        Lock::Update => {
            sqlx::query_scalar!(
                r#"SELECT 1 AS "found!" FROM competitions.contests WHERE id = $1 FOR UPDATE"#,
                id
            )
            .fetch_optional(&mut *conn)
            .await?
        }
    };
    Ok(found.is_some())
}

/// Locks contest `id` and reads it; `NOT_FOUND` when it does not exist.
pub(crate) async fn fetch_locked(
    conn: &mut PgConnection,
    id: &str,
    mode: Lock,
) -> Result<Contest, ApiError> {
    let missing = || ApiError::not_found(name(id));
    if !lock(conn, id, mode).await? {
        return Err(missing());
    }
    fetch(conn, id).await?.ok_or_else(missing)
}

/// Reads contest `id`, whatever its state.
pub(crate) async fn fetch(conn: &mut PgConnection, id: &str) -> Result<Option<Contest>, ApiError> {
    let filter = ContestFilter {
        state: None,
        include_drafts: true,
    };
    Ok(select(conn, &filter, Some(id), 1, None)
        .await?
        .into_iter()
        .next())
}

/// The one query that reads contests with their nominations and rubric: by ID, or a page of
/// a listing (newest first).
async fn select(
    conn: &mut PgConnection,
    filter: &ContestFilter,
    id: Option<&str>,
    limit: usize,
    after: Option<Cursor>,
) -> Result<Vec<Contest>, ApiError> {
    let state = filter.state.map(|s| s.as_str());
    let (after_time, after_id) = Cursor::split(after);
    let rows = sqlx::query_as!(
        ContestRow,
        r#"SELECT c.id, c.title, c.description, c.organiser, c.state, c.time_zone,
                  c.application_deadline, c.results_due, c.eligible_levels,
                  c.max_applications_per_team, c.experts_per_application,
                  c.create_time, c.update_time, c.open_time, c.close_time, c.announce_time,
                  c.cancel_time, c.cancel_reason, c.version,
                  COALESCE((SELECT jsonb_agg(jsonb_build_object('id', n.id, 'title', n.title,
                                     'description', n.description) ORDER BY n.position)
                            FROM competitions.nominations n WHERE n.contest_id = c.id), '[]'::jsonb)
                      AS "nominations!: Json<Vec<NominationRow>>",
                  COALESCE((SELECT jsonb_agg(jsonb_build_object('id', k.id, 'title', k.title,
                                     'description', k.description, 'min_score', k.min_score,
                                     'max_score', k.max_score, 'weight', k.weight) ORDER BY k.position)
                            FROM competitions.criteria k WHERE k.contest_id = c.id), '[]'::jsonb)
                      AS "criteria!: Json<Vec<CriterionRow>>"
           FROM competitions.contests c
           WHERE ($1::text IS NULL OR c.id = $1)
             AND ($2::text IS NULL OR c.state = $2)
             AND ($3 OR c.state <> 'DRAFT')
             AND ($4::timestamptz IS NULL OR (c.create_time, c.id) < ($4, $5::text))
           ORDER BY c.create_time DESC, c.id DESC
           LIMIT $6"#,
        id,
        state,
        filter.include_drafts,
        after_time,
        after_id,
        limit as i64,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(ContestRow::into_domain).collect()
}

/// Inserts a contest with its nominations and criteria; `false` when its ID is taken.
async fn insert(conn: &mut PgConnection, contest: &Contest) -> Result<bool, sqlx::Error> {
    let spec = &contest.spec;
    let levels: Vec<String> = spec
        .eligible_levels
        .iter()
        .map(|l| l.as_str().to_string())
        .collect();
    let inserted = sqlx::query!(
        "INSERT INTO competitions.contests
            (id, title, description, organiser, state, time_zone, application_deadline, results_due,
             eligible_levels, max_applications_per_team, experts_per_application,
             create_time, update_time, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT DO NOTHING",
        contest.id,
        spec.title,
        spec.description,
        spec.organiser,
        contest.state.as_str(),
        spec.time_zone_name,
        spec.application_deadline.to_sqlx(),
        spec.results_due.to_sqlx(),
        &levels,
        i16::from(spec.max_applications_per_team),
        i16::from(spec.experts_per_application),
        contest.create_time.to_sqlx(),
        contest.update_time.to_sqlx(),
        contest.version,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    insert_nominations(conn, contest).await?;
    insert_criteria(conn, contest).await?;
    Ok(true)
}

async fn insert_nominations(conn: &mut PgConnection, contest: &Contest) -> Result<(), sqlx::Error> {
    let nominations = &contest.spec.nominations;
    let ids: Vec<String> = nominations.iter().map(|n| n.id.clone()).collect();
    let positions: Vec<i16> = (0..nominations.len() as i16).collect();
    let titles: Vec<String> = nominations.iter().map(|n| n.title.clone()).collect();
    let descriptions: Vec<String> = nominations.iter().map(|n| n.description.clone()).collect();
    sqlx::query!(
        "INSERT INTO competitions.nominations (contest_id, id, position, title, description)
         SELECT $1, * FROM UNNEST($2::text[], $3::int2[], $4::text[], $5::text[])",
        contest.id,
        &ids,
        &positions,
        &titles,
        &descriptions,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn insert_criteria(conn: &mut PgConnection, contest: &Contest) -> Result<(), sqlx::Error> {
    let criteria = &contest.spec.criteria;
    let ids: Vec<String> = criteria.iter().map(|c| c.id.clone()).collect();
    let positions: Vec<i16> = (0..criteria.len() as i16).collect();
    let titles: Vec<String> = criteria.iter().map(|c| c.title.clone()).collect();
    let descriptions: Vec<String> = criteria.iter().map(|c| c.description.clone()).collect();
    let mins: Vec<i16> = criteria.iter().map(|c| i16::from(c.min_score)).collect();
    let maxes: Vec<i16> = criteria.iter().map(|c| i16::from(c.max_score)).collect();
    let weights: Vec<i16> = criteria.iter().map(|c| i16::from(c.weight)).collect();
    sqlx::query!(
        "INSERT INTO competitions.criteria
            (contest_id, id, position, title, description, min_score, max_score, weight)
         SELECT $1, * FROM UNNEST($2::text[], $3::int2[], $4::text[], $5::text[], $6::int2[], $7::int2[], $8::int2[])",
        contest.id,
        &ids,
        &positions,
        &titles,
        &descriptions,
        &mins,
        &maxes,
        &weights,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes the contest's own columns (definition, state, times, version).
pub(crate) async fn save(conn: &mut PgConnection, contest: &Contest) -> Result<(), sqlx::Error> {
    let spec = &contest.spec;
    let levels: Vec<String> = spec
        .eligible_levels
        .iter()
        .map(|l| l.as_str().to_string())
        .collect();
    sqlx::query!(
        "UPDATE competitions.contests SET
            title = $2, description = $3, organiser = $4, state = $5, time_zone = $6,
            application_deadline = $7, results_due = $8, eligible_levels = $9,
            max_applications_per_team = $10, experts_per_application = $11,
            update_time = $12, open_time = $13, close_time = $14, announce_time = $15,
            cancel_time = $16, cancel_reason = $17, version = $18
         WHERE id = $1",
        contest.id,
        spec.title,
        spec.description,
        spec.organiser,
        contest.state.as_str(),
        spec.time_zone_name,
        spec.application_deadline.to_sqlx(),
        spec.results_due.to_sqlx(),
        &levels,
        i16::from(spec.max_applications_per_team),
        i16::from(spec.experts_per_application),
        contest.update_time.to_sqlx(),
        contest.open_time.map(|t| t.to_sqlx()),
        contest.close_time.map(|t| t.to_sqlx()),
        contest.announce_time.map(|t| t.to_sqlx()),
        contest.cancel_time.map(|t| t.to_sqlx()),
        contest.cancel_reason,
        contest.version,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Which contests a listing shows.
#[derive(Debug, Clone, Default)]
pub struct ContestFilter {
    /// Only this state.
    pub state: Option<ContestState>,
    /// Whether drafts are shown (organisers only).
    pub include_drafts: bool,
}

pub(crate) fn name(id: &str) -> String {
    format!("contests/{id}")
}

impl Store {
    /// Creates a contest; `respond` renders the response that a retry with the same
    /// request id gets back.
    pub async fn create_contest<R: prost::Message + Default>(
        &self,
        context: &CallContext,
        key: Option<&IdempotencyKey>,
        contest: Contest,
        respond: impl FnOnce(&Contest) -> R,
    ) -> Result<R, ApiError> {
        let mut tx = self.begin().await?;
        if let Some(response) = replay(&mut tx, key, context.now()).await? {
            return Ok(response);
        }
        if !insert(&mut tx, &contest).await? {
            return Err(ApiError::already_exists(name(&contest.id)));
        }
        audit::record(
            &mut tx,
            context,
            "contest.created",
            &name(&contest.id),
            json!({
                "title": contest.spec.title,
                "time_zone": contest.spec.time_zone_name,
                "application_deadline": contest.spec.application_deadline.to_string(),
                "results_due": contest.spec.results_due.to_string(),
                "nominations": contest.spec.nominations.iter().map(|n| &n.id).collect::<Vec<_>>(),
            }),
        )
        .await?;
        let response = respond(&contest);
        remember(&mut tx, key, &response).await?;
        tx.commit().await?;
        Ok(response)
    }

    /// Reads a contest.
    pub async fn contest(&self, id: &str) -> Result<Option<Contest>, ApiError> {
        self.reads
            .run(async |conn| Ok(fetch(conn, id).await?))
            .await
    }

    /// Lists contests, newest first.
    pub async fn list_contests(
        &self,
        filter: &ContestFilter,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page<Contest>, ApiError> {
        let mut conn = self.read().await?;
        let contests = select(&mut conn, filter, None, size + 1, after).await?;
        conn.finish();
        Ok(Page::from_overfetch(contests, size, |c| Cursor {
            time: c.create_time,
            id: c.id.clone(),
        }))
    }

    /// Changes a contest's definition: `revise` builds the new definition from the current
    /// contest (merging an update mask), and the domain decides what may change.
    pub async fn update_contest(
        &self,
        context: &CallContext,
        id: &str,
        supplied_etag: &str,
        revise: impl FnOnce(&Contest) -> Result<ContestSpec, ApiError>,
    ) -> Result<Contest, ApiError> {
        let mut tx = self.begin().await?;
        if !lock(&mut tx, id, Lock::Update).await? {
            return Err(ApiError::not_found(name(id)));
        }
        let mut contest = fetch(&mut tx, id)
            .await?
            .ok_or_else(|| ApiError::not_found(name(id)))?;
        etag::check(supplied_etag, contest.version, &name(id))?;
        let spec = revise(&contest)?;
        let changed = contest.revise(spec, context.now())?;
        if changed.is_empty() {
            return Ok(contest);
        }
        save(&mut tx, &contest).await?;
        if changed.contains(&SpecField::Nominations) {
            sqlx::query!(
                "DELETE FROM competitions.nominations WHERE contest_id = $1",
                id
            )
            .execute(&mut *tx)
            .await?;
            insert_nominations(&mut tx, &contest).await?;
        }
        if changed.contains(&SpecField::Criteria) {
            sqlx::query!(
                "DELETE FROM competitions.criteria WHERE contest_id = $1",
                id
            )
            .execute(&mut *tx)
            .await?;
            insert_criteria(&mut tx, &contest).await?;
        }
        audit::record(
            &mut tx,
            context,
            "contest.updated",
            &name(id),
            json!({ "fields": changed.iter().map(|f| f.name()).collect::<Vec<_>>() }),
        )
        .await?;
        tx.commit().await?;
        Ok(contest)
    }

    /// Moves a contest through its life cycle with `transition` (open, close, cancel),
    /// recorded as `action`.
    pub async fn transition_contest(
        &self,
        context: &CallContext,
        id: &str,
        supplied_etag: &str,
        action: &'static str,
        transition: impl FnOnce(&mut Contest, Timestamp) -> Result<Transition, CompetitionError>,
    ) -> Result<Contest, ApiError> {
        let mut tx = self.begin().await?;
        if !lock(&mut tx, id, Lock::Update).await? {
            return Err(ApiError::not_found(name(id)));
        }
        let current = fetch(&mut tx, id)
            .await?
            .ok_or_else(|| ApiError::not_found(name(id)))?;
        let mut contest = current.clone();
        // A repeated transition is a no-op whatever etag the retry carries.
        if transition(&mut contest, context.now())? == Transition::Unchanged {
            return Ok(current);
        }
        etag::check(supplied_etag, current.version, &name(id))?;
        let before = current.state;
        save(&mut tx, &contest).await?;
        audit::record(
            &mut tx,
            context,
            action,
            &name(id),
            json!({
                "state": { "from": before.as_str(), "to": contest.state.as_str() },
                "reason": contest.cancel_reason,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(contest)
    }
}
