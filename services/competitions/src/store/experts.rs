//! Experts of a contest (rule 5).

use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::audit;
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::{ApiError, CallContext};

use super::contests::{self, Lock};
use super::{Cursor, Page, Store, remember, replay};
use crate::domain::expert::Expert;
use crate::domain::{CompetitionError, Contest};

pub(crate) struct ExpertRow {
    contest_id: String,
    id: String,
    subject: String,
    display_name: String,
    region_code: String,
    organisation: String,
    nomination_ids: Vec<String>,
    create_time: jiff_sqlx::Timestamp,
}

impl ExpertRow {
    fn into_domain(self) -> Expert {
        Expert {
            contest_id: self.contest_id,
            id: self.id,
            subject: self.subject,
            display_name: self.display_name,
            region_code: self.region_code,
            organisation: self.organisation,
            nomination_ids: self.nomination_ids.into_iter().collect(),
            create_time: self.create_time.to_jiff(),
        }
    }
}

pub(crate) fn name(contest_id: &str, id: &str) -> String {
    format!("contests/{contest_id}/experts/{id}")
}

/// Every expert of a contest, in registration order.
pub(crate) async fn all(
    conn: &mut PgConnection,
    contest_id: &str,
) -> Result<Vec<Expert>, ApiError> {
    let rows = sqlx::query_as!(
        ExpertRow,
        "SELECT contest_id, id, subject, display_name, region_code, organisation, nomination_ids, create_time
         FROM competitions.experts WHERE contest_id = $1 ORDER BY create_time, id",
        contest_id
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(ExpertRow::into_domain).collect())
}

/// One expert, by ID.
pub(crate) async fn fetch(
    conn: &mut PgConnection,
    contest_id: &str,
    id: &str,
) -> Result<Option<Expert>, ApiError> {
    let row = sqlx::query_as!(
        ExpertRow,
        "SELECT contest_id, id, subject, display_name, region_code, organisation, nomination_ids, create_time
         FROM competitions.experts WHERE contest_id = $1 AND id = $2",
        contest_id,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(ExpertRow::into_domain))
}

impl Store {
    /// Registers an expert (rule 5): `register` checks the values against the contest,
    /// which is held shared so that it cannot become final meanwhile.
    pub async fn create_expert<R: prost::Message + Default>(
        &self,
        context: &CallContext,
        key: Option<&IdempotencyKey>,
        contest_id: &str,
        register: impl FnOnce(&Contest) -> Result<Expert, CompetitionError>,
        respond: impl FnOnce(&Expert) -> R,
    ) -> Result<R, ApiError> {
        let mut tx = self.begin().await?;
        if let Some(response) = replay(&mut tx, key, context.now()).await? {
            return Ok(response);
        }
        let contest = contests::fetch_locked(&mut tx, contest_id, Lock::Share).await?;
        contest.ensure_reviewing()?;
        let expert = register(&contest).map_err(|e| e.within("expert"))?;
        let nominations: Vec<String> = expert.nomination_ids.iter().cloned().collect();
        let inserted = sqlx::query!(
            "INSERT INTO competitions.experts
                (contest_id, id, subject, display_name, region_code, organisation, nomination_ids, create_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT DO NOTHING",
            expert.contest_id,
            expert.id,
            expert.subject,
            expert.display_name,
            expert.region_code,
            expert.organisation,
            &nominations,
            expert.create_time.to_sqlx(),
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            // An expected conflict, decided from the insert's result: a constraint error would be
            // logged by the server with the key.
            return Err(ApiError::already_exists(format!(
                "{} (or another expert of this contest with the same subject)",
                name(contest_id, &expert.id)
            )));
        }
        // The expert's name is personal data: the audit keeps what decides conflicts.
        audit::record(
            &mut tx,
            context,
            "expert.registered",
            &name(contest_id, &expert.id),
            json!({ "region_code": expert.region_code, "nomination_ids": nominations }),
        )
        .await?;
        let response = respond(&expert);
        remember(&mut tx, key, &response).await?;
        tx.commit().await?;
        Ok(response)
    }

    /// Reads an expert.
    pub async fn expert(&self, contest_id: &str, id: &str) -> Result<Option<Expert>, ApiError> {
        self.reads
            .run(async |conn| Ok(fetch(conn, contest_id, id).await?))
            .await
    }

    /// The expert a subject is in a contest, if any.
    pub async fn expert_by_subject(
        &self,
        contest_id: &str,
        subject: &str,
    ) -> Result<Option<Expert>, ApiError> {
        let mut conn = self.read().await?;
        let row = sqlx::query_as!(
            ExpertRow,
            "SELECT contest_id, id, subject, display_name, region_code, organisation, nomination_ids, create_time
             FROM competitions.experts WHERE contest_id = $1 AND subject = $2",
            contest_id,
            subject
        )
        .fetch_optional(&mut *conn)
        .await?;
        conn.finish();
        Ok(row.map(ExpertRow::into_domain))
    }

    /// Lists a contest's experts in registration order.
    pub async fn list_experts(
        &self,
        contest_id: &str,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page<Expert>, ApiError> {
        let (after_time, after_id) = Cursor::split(after);
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            ExpertRow,
            "SELECT contest_id, id, subject, display_name, region_code, organisation, nomination_ids, create_time
             FROM competitions.experts
             WHERE contest_id = $1 AND ($2::timestamptz IS NULL OR (create_time, id) > ($2, $3::text))
             ORDER BY create_time, id
             LIMIT $4",
            contest_id,
            after_time,
            after_id,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let experts = rows.into_iter().map(ExpertRow::into_domain).collect();
        Ok(Page::from_overfetch(experts, size, |e: &Expert| Cursor {
            time: e.create_time,
            id: e.id.clone(),
        }))
    }

    /// Removes an expert without completed reviews, with their open assignments.
    pub async fn delete_expert(
        &self,
        context: &CallContext,
        contest_id: &str,
        id: &str,
    ) -> Result<(), ApiError> {
        let mut tx = self.begin().await?;
        let contest = contests::fetch_locked(&mut tx, contest_id, Lock::Share).await?;
        contest.ensure_reviewing()?;
        let locked = sqlx::query_scalar!(
            r#"SELECT 1 AS "found!" FROM competitions.experts WHERE contest_id = $1 AND id = $2 FOR UPDATE"#,
            contest_id,
            id
        )
        .fetch_optional(&mut *tx)
        .await?;
        if locked.is_none() {
            return Err(ApiError::not_found(name(contest_id, id)));
        }
        // Completing a review locks the review row, and deleting those rows waits for it:
        // an expert cannot lose a review that completes meanwhile.
        let removed = sqlx::query_scalar!(
            r#"DELETE FROM competitions.reviews WHERE contest_id = $1 AND expert_id = $2
               RETURNING state"#,
            contest_id,
            id
        )
        .fetch_all(&mut *tx)
        .await?;
        if removed.iter().any(|s| s == "COMPLETED") {
            return Err(CompetitionError::ExpertHasCompletedReviews.into());
        }
        sqlx::query!(
            "DELETE FROM competitions.experts WHERE contest_id = $1 AND id = $2",
            contest_id,
            id
        )
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            context,
            "expert.removed",
            &name(contest_id, id),
            json!({ "open_assignments_withdrawn": removed.len() }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
