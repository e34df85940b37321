//! The public catalogue of winning practices and their replications (rules 8-10).
//!
//! Search uses Postgres full-text search with the `russian` configuration (stemming, case
//! folding) over a generated `tsvector` with a GIN index; results come by relevance
//! (`ts_rank` over the title and summary, `brief`), then newest, then ID, and a page token carries that triple, so paging is
//! stable: every practice appears exactly once across the pages of one query. A
//! replication's moves lock its row.

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use serde::{Deserialize, Serialize};
use serde_json::json;

use edu_kit::audit;
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::{ApiError, CallContext, etag};

use super::{Cursor, Page, Store, corrupt, remember, replay};
use crate::domain::Transition;
use crate::domain::replication::{ReplicationRequest, ReplicationState};

/// A practice in the catalogue, with its replication figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Practice {
    /// The ID in `practices/{id}`.
    pub id: String,
    /// The contest.
    pub contest_id: String,
    /// The winning application.
    pub application_id: String,
    /// Title.
    pub title: String,
    /// Summary.
    pub summary: String,
    /// Description.
    pub description: String,
    /// Nomination ID.
    pub nomination_id: String,
    /// Nomination title.
    pub nomination_title: String,
    /// The team's region.
    pub region_code: String,
    /// The team's public name.
    pub team_display_name: String,
    /// The contest's year.
    pub year: i32,
    /// The announcement.
    pub publish_time: Timestamp,
    /// Replications requested.
    pub replication_count: i64,
    /// Regions that implemented it.
    pub implemented_region_count: i64,
}

struct PracticeRow {
    id: String,
    contest_id: String,
    application_id: String,
    title: String,
    summary: String,
    description: String,
    nomination_id: String,
    nomination_title: String,
    region_code: String,
    team_display_name: String,
    year: i32,
    publish_time: jiff_sqlx::Timestamp,
    replication_count: i64,
    implemented_region_count: i64,
    relevance: f32,
}

impl PracticeRow {
    fn into_domain(self) -> (Practice, f32) {
        (
            Practice {
                id: self.id,
                contest_id: self.contest_id,
                application_id: self.application_id,
                title: self.title,
                summary: self.summary,
                description: self.description,
                nomination_id: self.nomination_id,
                nomination_title: self.nomination_title,
                region_code: self.region_code,
                team_display_name: self.team_display_name,
                year: self.year,
                publish_time: self.publish_time.to_jiff(),
                replication_count: self.replication_count,
                implemented_region_count: self.implemented_region_count,
            },
            self.relevance,
        )
    }
}

/// What a search looks for.
#[derive(Debug, Clone, Default)]
pub struct PracticeQuery {
    /// Words, in the web-search syntax (`"phrase"`, `or`, `-word`); empty for everything.
    pub words: String,
    /// Only this nomination.
    pub nomination_id: Option<String>,
    /// Only this region.
    pub region_code: Option<String>,
    /// Only this contest.
    pub contest_id: Option<String>,
    /// Only this year.
    pub year: Option<i32>,
}

/// Where a page of search results ends: the ordering key of its last practice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchCursor {
    /// Its relevance.
    pub relevance: f32,
    /// Its publication.
    pub time: Timestamp,
    /// Its ID.
    pub id: String,
}

/// A replication of a practice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replication {
    /// The practice.
    pub practice_id: String,
    /// The ID.
    pub id: String,
    /// The replicating region.
    pub region_code: String,
    /// The contact and plan.
    pub request: ReplicationRequest,
    /// Where it is.
    pub state: ReplicationState,
    /// Why it was declined.
    pub decline_reason: String,
    /// Requested.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// The etag's version.
    pub version: i64,
}

struct ReplicationRow {
    practice_id: String,
    id: String,
    region_code: String,
    contact_name: String,
    contact_details: String,
    plan: String,
    state: String,
    decline_reason: String,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

impl ReplicationRow {
    fn into_domain(self) -> Result<Replication, ApiError> {
        Ok(Replication {
            state: ReplicationState::parse(&self.state)
                .ok_or_else(|| corrupt("replication state", &self.state))?,
            practice_id: self.practice_id,
            id: self.id,
            region_code: self.region_code,
            request: ReplicationRequest {
                contact_name: self.contact_name,
                contact_details: self.contact_details,
                plan: self.plan,
            },
            decline_reason: self.decline_reason,
            create_time: self.create_time.to_jiff(),
            update_time: self.update_time.to_jiff(),
            version: self.version,
        })
    }
}

/// The replication's resource name.
pub fn replication_name(practice_id: &str, id: &str) -> String {
    format!("practices/{practice_id}/replications/{id}")
}

/// Which replications a listing shows.
#[derive(Debug, Clone, Default)]
pub struct ReplicationFilter {
    /// Only this practice's.
    pub practice_id: Option<String>,
    /// Only in this state.
    pub state: Option<ReplicationState>,
}

/// Whether `words` is one word as the text parser reads it (letters and digits only), so
/// that its search is the one lexeme `to_tsvector` makes of it (none for a stop word, which
/// finds nothing on either path).
fn is_one_word(words: &str) -> bool {
    !words.is_empty() && words.chars().all(char::is_alphanumeric)
}

impl Store {
    /// One page of the catalogue for `query` (see the module doc for the order).
    pub async fn search_practices(
        &self,
        query: &PracticeQuery,
        size: usize,
        after: Option<SearchCursor>,
    ) -> Result<Page<(Practice, f32), SearchCursor>, ApiError> {
        let (after_relevance, after_time, after_id) = match after {
            Some(c) => (Some(c.relevance), Some(c.time.to_sqlx()), Some(c.id)),
            None => (None, None, None),
        };
        let words = query.words.trim();
        let mut conn = self.read().await?;
        let rows = if words.is_empty() {
            // No words: the newest first, read in the order of the listing index, page by
            // page, however large the catalogue.
            sqlx::query_as!(
                PracticeRow,
                r#"-- hot path: SearchPractices (newest)
                          SELECT p.id, p.contest_id, p.application_id, p.title, p.summary, p.description,
                          p.nomination_id, p.nomination_title, p.region_code, p.team_display_name,
                          p.year, p.publish_time, 0::real AS "relevance!",
                          (SELECT count(*) FROM competitions.replications r WHERE r.practice_id = p.id)
                              AS "replication_count!",
                          (SELECT count(DISTINCT r.region_code) FROM competitions.replications r
                           WHERE r.practice_id = p.id AND r.state = 'IMPLEMENTED')
                              AS "implemented_region_count!"
                   FROM competitions.practices p
                   WHERE ($1::text IS NULL OR p.nomination_id = $1)
                     AND ($2::text IS NULL OR p.region_code = $2)
                     AND ($3::text IS NULL OR p.contest_id = $3)
                     AND ($4::int IS NULL OR p.year = $4)
                     AND ($5::timestamptz IS NULL OR p.publish_time < $5
                          OR (p.publish_time = $5 AND p.id > $6::text))
                   ORDER BY p.publish_time DESC, p.id
                   LIMIT $7"#,
                query.nomination_id,
                query.region_code,
                query.contest_id,
                query.year,
                after_time as _,
                after_id,
                edu_kit::paging::overfetch_limit(size),
            )
            .fetch_all(&mut *conn)
            .await?
        } else if is_one_word(words) {
            // One word: the page is a range of the index of each entry's rank for it
            // (migration 20261127000001), in the order the full-text path would give.
            sqlx::query_as!(
                PracticeRow,
                r#"-- hot path: SearchPractices (one word)
                   WITH page AS (
                     SELECT t.practice_id AS id, t.publish_time, t.relevance
                     FROM competitions.practice_terms t
                     WHERE t.lexeme = (SELECT l.lexeme
                                       FROM unnest(to_tsvector('russian', $1)) AS l
                                       LIMIT 1)
                       AND ($2::text IS NULL OR t.nomination_id = $2)
                       AND ($3::text IS NULL OR t.region_code = $3)
                       AND ($4::text IS NULL OR t.contest_id = $4)
                       AND ($5::int IS NULL OR t.year = $5)
                       AND ($6::real IS NULL
                            OR t.relevance < $6
                            OR (t.relevance = $6 AND (t.publish_time < $7
                                                      OR (t.publish_time = $7
                                                          AND t.practice_id > $8::text))))
                     ORDER BY t.relevance DESC, t.publish_time DESC, t.practice_id
                     LIMIT $9)
                   SELECT p.id, p.contest_id, p.application_id, p.title, p.summary, p.description,
                          p.nomination_id, p.nomination_title, p.region_code, p.team_display_name,
                          p.year, p.publish_time, page.relevance AS "relevance!",
                          (SELECT count(*) FROM competitions.replications r WHERE r.practice_id = p.id)
                              AS "replication_count!",
                          (SELECT count(DISTINCT r.region_code) FROM competitions.replications r
                           WHERE r.practice_id = p.id AND r.state = 'IMPLEMENTED')
                              AS "implemented_region_count!"
                   FROM page JOIN competitions.practices p ON p.id = page.id
                   ORDER BY page.relevance DESC, page.publish_time DESC, page.id"#,
                words,
                query.nomination_id,
                query.region_code,
                query.contest_id,
                query.year,
                after_relevance,
                after_time as _,
                after_id,
                edu_kit::paging::overfetch_limit(size),
            )
            .fetch_all(&mut *conn)
            .await?
        } else {
            sqlx::query_as!(
                PracticeRow,
                r#"-- hot path: SearchPractices (words)
                   WITH q AS (SELECT websearch_to_tsquery('russian', $1) AS tsquery),
                   found AS (
                     SELECT p.id, p.publish_time, ts_rank(p.brief, q.tsquery)::real AS relevance
                     FROM competitions.practices p, q
                     WHERE p.search @@ q.tsquery
                       AND ($2::text IS NULL OR p.nomination_id = $2)
                       AND ($3::text IS NULL OR p.region_code = $3)
                       AND ($4::text IS NULL OR p.contest_id = $4)
                       AND ($5::int IS NULL OR p.year = $5)),
                   page AS (
                     SELECT f.* FROM found f
                     WHERE $6::real IS NULL
                        OR f.relevance < $6
                        OR (f.relevance = $6 AND (f.publish_time < $7
                                                  OR (f.publish_time = $7 AND f.id > $8::text)))
                     ORDER BY f.relevance DESC, f.publish_time DESC, f.id
                     LIMIT $9)
                   -- Ranked on the narrow rows; only the page's entries are read whole.
                   SELECT p.id, p.contest_id, p.application_id, p.title, p.summary, p.description,
                          p.nomination_id, p.nomination_title, p.region_code, p.team_display_name,
                          p.year, p.publish_time, page.relevance AS "relevance!",
                          (SELECT count(*) FROM competitions.replications r WHERE r.practice_id = p.id)
                              AS "replication_count!",
                          (SELECT count(DISTINCT r.region_code) FROM competitions.replications r
                           WHERE r.practice_id = p.id AND r.state = 'IMPLEMENTED')
                              AS "implemented_region_count!"
                   FROM page JOIN competitions.practices p ON p.id = page.id
                   ORDER BY page.relevance DESC, page.publish_time DESC, page.id"#,
                words,
                query.nomination_id,
                query.region_code,
                query.contest_id,
                query.year,
                after_relevance,
                after_time as _,
                after_id,
                edu_kit::paging::overfetch_limit(size),
            )
            .fetch_all(&mut *conn)
            .await?
        };
        conn.finish();
        let found = rows.into_iter().map(PracticeRow::into_domain).collect();
        Ok(Page::from_overfetch(found, size, |(p, relevance)| {
            SearchCursor {
                relevance: *relevance,
                time: p.publish_time,
                id: p.id.clone(),
            }
        }))
    }

    /// Reads a practice.
    pub async fn practice(&self, id: &str) -> Result<Option<Practice>, ApiError> {
        let mut conn = self.read().await?;
        let row = sqlx::query_as!(
            PracticeRow,
            r#"SELECT p.id, p.contest_id, p.application_id, p.title, p.summary, p.description,
                      p.nomination_id, p.nomination_title, p.region_code, p.team_display_name,
                      p.year, p.publish_time, 0::real AS "relevance!",
                      (SELECT count(*) FROM competitions.replications r WHERE r.practice_id = p.id)
                          AS "replication_count!",
                      (SELECT count(DISTINCT r.region_code) FROM competitions.replications r
                       WHERE r.practice_id = p.id AND r.state = 'IMPLEMENTED')
                          AS "implemented_region_count!"
               FROM competitions.practices p WHERE p.id = $1"#,
            id
        )
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        Ok(row.map(|r| r.into_domain().0))
    }

    /// Rule 10: a region asks to replicate a practice; one request per region and practice
    /// at a time (after a decline it may ask again).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_replication<R: prost::Message + Default>(
        &self,
        context: &CallContext,
        key: Option<&IdempotencyKey>,
        practice_id: &str,
        id: String,
        region_code: &str,
        request: ReplicationRequest,
        respond: impl FnOnce(&Replication) -> R,
    ) -> Result<R, ApiError> {
        let mut tx = self.begin().await?;
        if let Some(response) = replay(&mut tx, key, context.now()).await? {
            return Ok(response);
        }
        let found = sqlx::query_scalar!(
            r#"SELECT 1 AS "found!" FROM competitions.practices WHERE id = $1 FOR SHARE"#,
            practice_id
        )
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Err(ApiError::not_found(format!("practices/{practice_id}")));
        }
        let now = context.now();
        let replication = Replication {
            practice_id: practice_id.into(),
            id,
            region_code: region_code.into(),
            request,
            state: ReplicationState::Requested,
            decline_reason: String::new(),
            create_time: now,
            update_time: now,
            version: 1,
        };
        let inserted = sqlx::query!(
            "INSERT INTO competitions.replications
                (practice_id, id, region_code, contact_name, contact_details, plan, state,
                 create_time, update_time, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT DO NOTHING",
            replication.practice_id,
            replication.id,
            replication.region_code,
            replication.request.contact_name,
            replication.request.contact_details,
            replication.request.plan,
            replication.state.as_str(),
            now.to_sqlx(),
            now.to_sqlx(),
            replication.version,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let name = replication_name(practice_id, &replication.id);
        if inserted == 0 {
            // An expected conflict, decided from the insert's result: a constraint error would be
            // logged by the server with the key.
            return Err(ApiError::already_exists(format!(
                "{name}, or a replication of practices/{practice_id} by {region_code} that is not declined"
            )));
        }
        // The contact is personal data and stays out of the audit log.
        audit::record(
            &mut tx,
            context,
            "replication.requested",
            &name,
            json!({ "region_code": region_code }),
        )
        .await?;
        let response = respond(&replication);
        remember(&mut tx, key, &response).await?;
        tx.commit().await?;
        Ok(response)
    }

    /// Reads a replication.
    pub async fn replication(
        &self,
        practice_id: &str,
        id: &str,
    ) -> Result<Option<Replication>, ApiError> {
        let mut conn = self.read().await?;
        let row = sqlx::query_as!(
            ReplicationRow,
            "SELECT practice_id, id, region_code, contact_name, contact_details, plan, state,
                    decline_reason, create_time, update_time, version
             FROM competitions.replications WHERE practice_id = $1 AND id = $2",
            practice_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        row.map(ReplicationRow::into_domain).transpose()
    }

    /// Lists replications in the order they were requested.
    pub async fn list_replications(
        &self,
        filter: &ReplicationFilter,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page<Replication>, ApiError> {
        let (after_time, after_id) = Cursor::split(after);
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            ReplicationRow,
            "SELECT practice_id, id, region_code, contact_name, contact_details, plan, state,
                    decline_reason, create_time, update_time, version
             FROM competitions.replications
             WHERE ($1::text IS NULL OR practice_id = $1)
               AND ($2::text IS NULL OR state = $2)
               AND ($3::timestamptz IS NULL OR (create_time, practice_id || '/' || id) > ($3, $4::text))
             ORDER BY create_time, practice_id || '/' || id
             LIMIT $5",
            filter.practice_id,
            filter.state.map(|s| s.as_str()),
            after_time,
            after_id,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let replications = rows
            .into_iter()
            .map(ReplicationRow::into_domain)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(replications, size, |r| Cursor {
            time: r.create_time,
            id: format!("{}/{}", r.practice_id, r.id),
        }))
    }

    /// Rule 10: moves a replication to `to` under its row lock; `decline_reason` goes with
    /// a decline. A repeated move is a no-op.
    pub async fn move_replication(
        &self,
        context: &CallContext,
        practice_id: &str,
        id: &str,
        supplied_etag: &str,
        to: ReplicationState,
        decline_reason: Option<String>,
    ) -> Result<Replication, ApiError> {
        let name = replication_name(practice_id, id);
        let mut tx = self.begin().await?;
        let row = sqlx::query_as!(
            ReplicationRow,
            "SELECT practice_id, id, region_code, contact_name, contact_details, plan, state,
                    decline_reason, create_time, update_time, version
             FROM competitions.replications WHERE practice_id = $1 AND id = $2 FOR UPDATE",
            practice_id,
            id
        )
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::not_found(name.clone()))?;
        let current = row.into_domain()?;
        if current.state.move_to(to)? == Transition::Unchanged {
            return Ok(current);
        }
        etag::check(supplied_etag, current.version, &name)?;
        let mut moved = current.clone();
        moved.state = to;
        moved.decline_reason = decline_reason.unwrap_or_default();
        moved.update_time = context.now();
        moved.version += 1;
        sqlx::query!(
            "UPDATE competitions.replications
             SET state = $3, decline_reason = $4, update_time = $5, version = $6
             WHERE practice_id = $1 AND id = $2",
            practice_id,
            id,
            moved.state.as_str(),
            moved.decline_reason,
            moved.update_time.to_sqlx(),
            moved.version,
        )
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            context,
            "replication.moved",
            &name,
            json!({ "state": { "from": current.state.as_str(), "to": to.as_str() } }),
        )
        .await?;
        tx.commit().await?;
        Ok(moved)
    }
}
