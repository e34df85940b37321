//! Reviews: assignments by hand or automatically (rule 5), saved and completed scores
//! (rule 6), and the organiser's view of each expert's progress.
//!
//! A manual assignment holds the contest shared and the application `FOR UPDATE`, and checks
//! the conflict of interest against the team's members as they are in that transaction.
//! The automatic assignment holds the contest `FOR UPDATE`, so two runs cannot both staff
//! the same application from the same counts.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use sqlx::types::Json;

use edu_kit::audit;
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::{ApiError, CallContext, etag};

use super::contests::{self, Lock};
use super::events::{self, EventKind};
use super::{Cursor, Page, Store, corrupt, experts, remember, replay};
use crate::domain::assignment::{
    ApplicationToStaff, assign_automatically, ensure_no_conflict_of_interest, reviews_nomination,
};
use crate::domain::{ApplicationState, CompetitionError, Contest, Review, ReviewState, Transition};

#[derive(Debug, Serialize, Deserialize)]
struct ScoreRow {
    criterion_id: String,
    score: u8,
}

struct ReviewRow {
    contest_id: String,
    application_id: String,
    id: String,
    expert_id: String,
    state: String,
    scores: Json<Vec<ScoreRow>>,
    feedback: String,
    weighted_score: Option<f64>,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    complete_time: Option<jiff_sqlx::Timestamp>,
    version: i64,
}

impl ReviewRow {
    fn into_domain(self) -> Result<Review, ApiError> {
        Ok(Review {
            state: ReviewState::parse(&self.state)
                .ok_or_else(|| corrupt("review state", &self.state))?,
            contest_id: self.contest_id,
            application_id: self.application_id,
            id: self.id,
            expert_id: self.expert_id,
            scores: self
                .scores
                .0
                .into_iter()
                .map(|s| (s.criterion_id, s.score))
                .collect(),
            feedback: self.feedback,
            weighted_score: self.weighted_score,
            create_time: self.create_time.to_jiff(),
            update_time: self.update_time.to_jiff(),
            complete_time: self.complete_time.map(|t| t.to_jiff()),
            version: self.version,
        })
    }
}

/// The review's resource name.
pub fn name(contest_id: &str, application_id: &str, id: &str) -> String {
    format!("contests/{contest_id}/applications/{application_id}/reviews/{id}")
}

fn scores_json(review: &Review) -> Json<Vec<ScoreRow>> {
    Json(
        review
            .scores
            .iter()
            .map(|(c, s)| ScoreRow {
                criterion_id: c.clone(),
                score: *s,
            })
            .collect(),
    )
}

/// Inserts a review; `false` when the expert reviews the application already (or the ID is
/// taken), decided from the insert's result rather than from a constraint error.
async fn insert(conn: &mut PgConnection, review: &Review) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "INSERT INTO competitions.reviews
            (contest_id, application_id, id, expert_id, state, create_time, update_time, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT DO NOTHING",
        review.contest_id,
        review.application_id,
        review.id,
        review.expert_id,
        review.state.as_str(),
        review.create_time.to_sqlx(),
        review.update_time.to_sqlx(),
        review.version,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

async fn fetch(
    conn: &mut PgConnection,
    contest_id: &str,
    application_id: &str,
    id: &str,
    for_update: bool,
) -> Result<Option<Review>, ApiError> {
    let row = if for_update {
        sqlx::query_as!(
            ReviewRow,
            r#"SELECT contest_id, application_id, id, expert_id, state,
                      scores AS "scores!: Json<Vec<ScoreRow>>", feedback, weighted_score,
                      create_time, update_time, complete_time, version
               FROM competitions.reviews
               WHERE contest_id = $1 AND application_id = $2 AND id = $3
               FOR UPDATE"#,
            contest_id,
            application_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            ReviewRow,
            r#"SELECT contest_id, application_id, id, expert_id, state,
                      scores AS "scores!: Json<Vec<ScoreRow>>", feedback, weighted_score,
                      create_time, update_time, complete_time, version
               FROM competitions.reviews
               WHERE contest_id = $1 AND application_id = $2 AND id = $3"#,
            contest_id,
            application_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    row.map(ReviewRow::into_domain).transpose()
}

struct StaffRow {
    id: String,
    nomination_id: String,
    region_code: String,
    state: String,
    members: Vec<String>,
    assigned: Vec<String>,
}

/// What the assignment needs to know of a contest's applications (one, or every submitted
/// one): the team's region and members' subjects, and the experts already assigned.
async fn staffing(
    conn: &mut PgConnection,
    contest_id: &str,
    application_id: Option<&str>,
) -> Result<Vec<(ApplicationState, ApplicationToStaff)>, ApiError> {
    let rows = sqlx::query_as!(
        StaffRow,
        r#"SELECT a.id, a.nomination_id, a.region_code, a.state,
                  COALESCE((SELECT array_agg(m.subject) FROM competitions.team_members m
                            WHERE m.team_id = a.team_id), '{}') AS "members!",
                  COALESCE((SELECT array_agg(r.expert_id) FROM competitions.reviews r
                            WHERE r.contest_id = a.contest_id AND r.application_id = a.id), '{}')
                      AS "assigned!"
           FROM competitions.applications a
           WHERE a.contest_id = $1
             AND (($2::text IS NULL AND a.state = 'SUBMITTED') OR a.id = $2)
           ORDER BY a.id"#,
        contest_id,
        application_id,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            let state = ApplicationState::parse(&row.state)
                .ok_or_else(|| corrupt("application state", &row.state))?;
            Ok((
                state,
                ApplicationToStaff {
                    id: row.id,
                    nomination_id: row.nomination_id,
                    team_region_code: row.region_code,
                    team_member_subjects: row.members.into_iter().collect(),
                    assigned_expert_ids: row.assigned.into_iter().collect(),
                },
            ))
        })
        .collect()
}

/// Which reviews a listing shows.
#[derive(Debug, Clone, Default)]
pub struct ReviewFilter {
    /// The contest.
    pub contest_id: String,
    /// Only this application's.
    pub application_id: Option<String>,
    /// Only this expert's.
    pub expert_id: Option<String>,
    /// Only in this state.
    pub state: Option<ReviewState>,
    /// Only reviews written by the expert this subject is (an expert's own view).
    pub expert_subject: Option<String>,
    /// Only completed reviews of applications of teams this subject is a member of, once
    /// the contest is announced (a team's view).
    pub team_member: Option<String>,
}

/// One expert's workload in a contest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// The expert.
    pub expert_id: String,
    /// Reviews assigned.
    pub assigned: i64,
    /// Of those, completed.
    pub completed: i64,
    /// When the expert was registered (the listing's order).
    pub create_time: Timestamp,
}

/// What an automatic assignment did.
#[derive(Debug, Clone, Default)]
pub struct AutoAssigned {
    /// The reviews it created.
    pub created: Vec<Review>,
    /// Applications still short of experts.
    pub understaffed: Vec<String>,
}

impl Store {
    /// Rule 5: assigns one expert to one submitted application, refusing a conflict of
    /// interest.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_review<R: prost::Message + Default>(
        &self,
        context: &CallContext,
        key: Option<&IdempotencyKey>,
        contest_id: &str,
        application_id: &str,
        expert_id: &str,
        id: String,
        respond: impl FnOnce(&Review) -> R,
    ) -> Result<R, ApiError> {
        let mut tx = self.begin().await?;
        if let Some(response) = replay(&mut tx, key, context.now()).await? {
            return Ok(response);
        }
        let contest = contests::fetch_locked(&mut tx, contest_id, Lock::Share).await?;
        contest.ensure_reviewing()?;
        let locked = sqlx::query_scalar!(
            r#"SELECT 1 AS "found!" FROM competitions.applications
               WHERE contest_id = $1 AND id = $2 FOR UPDATE"#,
            contest_id,
            application_id
        )
        .fetch_optional(&mut *tx)
        .await?;
        let missing_application = || {
            ApiError::not_found(format!(
                "contests/{contest_id}/applications/{application_id}"
            ))
        };
        if locked.is_none() {
            return Err(missing_application());
        }
        let (state, application) = staffing(&mut tx, contest_id, Some(application_id))
            .await?
            .pop()
            .ok_or_else(missing_application)?;
        if state != ApplicationState::Submitted {
            return Err(CompetitionError::ApplicationNotSubmitted { state }.into());
        }
        let expert = experts::fetch(&mut tx, contest_id, expert_id)
            .await?
            .ok_or_else(|| ApiError::not_found(experts::name(contest_id, expert_id)))?;
        let profile = expert.profile();
        if !reviews_nomination(&profile, &application) {
            return Err(CompetitionError::ExpertNotInNomination {
                nomination_id: application.nomination_id,
            }
            .into());
        }
        ensure_no_conflict_of_interest(&profile, &application)?;
        let review = Review::assign(contest_id, application_id, id, expert_id, context.now());
        if !insert(&mut tx, &review).await? {
            return Err(ApiError::already_exists(format!(
                "a review of contests/{contest_id}/applications/{application_id} by {}",
                experts::name(contest_id, expert_id)
            )));
        }
        audit::record(
            &mut tx,
            context,
            "review.assigned",
            &name(contest_id, application_id, &review.id),
            json!({ "expert": experts::name(contest_id, expert_id), "automatic": false }),
        )
        .await?;
        let response = respond(&review);
        remember(&mut tx, key, &response).await?;
        tx.commit().await?;
        Ok(response)
    }

    /// Rule 5: tops every submitted application of a closed contest up to the contest's
    /// number of experts, balanced and without conflicts of interest.
    pub async fn auto_assign<R: prost::Message + Default>(
        &self,
        context: &CallContext,
        key: Option<&IdempotencyKey>,
        contest_id: &str,
        respond: impl FnOnce(&AutoAssigned) -> R,
    ) -> Result<R, ApiError> {
        let mut tx = self.begin().await?;
        if let Some(response) = replay(&mut tx, key, context.now()).await? {
            return Ok(response);
        }
        let contest = contests::fetch_locked(&mut tx, contest_id, Lock::Update).await?;
        contest.ensure_closed()?;
        let experts: Vec<_> = experts::all(&mut tx, contest_id)
            .await?
            .iter()
            .map(|e| e.profile())
            .collect();
        let applications: Vec<ApplicationToStaff> = staffing(&mut tx, contest_id, None)
            .await?
            .into_iter()
            .map(|(_, a)| a)
            .collect();
        let load: BTreeMap<String, usize> = sqlx::query!(
            r#"SELECT expert_id, count(*) AS "count!" FROM competitions.reviews
               WHERE contest_id = $1 GROUP BY expert_id"#,
            contest_id
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|row| (row.expert_id, usize::try_from(row.count).unwrap_or(0)))
        .collect();
        let plan = assign_automatically(
            &experts,
            &applications,
            usize::from(contest.spec.experts_per_application),
            &load,
        );
        let mut result = AutoAssigned {
            created: Vec::with_capacity(plan.created.len()),
            understaffed: plan.understaffed,
        };
        for (application_id, expert_id) in plan.created {
            let review = Review::assign(
                contest_id,
                &application_id,
                edu_kit::resource::new_id(),
                &expert_id,
                context.now(),
            );
            // The plan assigns only experts without a review of the application, under the
            // contest's lock; a conflict here would be a bug in the plan.
            if !insert(&mut tx, &review).await? {
                return Err(ApiError::internal(&std::io::Error::other(
                    "automatic assignment planned a review that exists",
                )));
            }
            result.created.push(review);
        }
        audit::record(
            &mut tx,
            context,
            "reviews.auto_assigned",
            &contests::name(contest_id),
            json!({
                "created": result.created.len(),
                "understaffed": result.understaffed,
            }),
        )
        .await?;
        let response = respond(&result);
        remember(&mut tx, key, &response).await?;
        tx.commit().await?;
        Ok(response)
    }

    /// Reads a review.
    pub async fn review(
        &self,
        contest_id: &str,
        application_id: &str,
        id: &str,
    ) -> Result<Option<Review>, ApiError> {
        self.reads
            .run(async |conn| Ok(fetch(conn, contest_id, application_id, id, false).await?))
            .await
    }

    /// Every review of an application.
    pub async fn reviews_of(
        &self,
        contest_id: &str,
        application_id: &str,
    ) -> Result<Vec<Review>, ApiError> {
        let filter = ReviewFilter {
            contest_id: contest_id.into(),
            application_id: Some(application_id.into()),
            ..Default::default()
        };
        Ok(self.list_reviews(&filter, 1_000, None).await?.items)
    }

    /// Lists reviews in the order they were assigned.
    pub async fn list_reviews(
        &self,
        filter: &ReviewFilter,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page<Review>, ApiError> {
        let (after_time, after_id) = Cursor::split(after);
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            ReviewRow,
            r#"SELECT r.contest_id, r.application_id, r.id, r.expert_id, r.state,
                      r.scores AS "scores!: Json<Vec<ScoreRow>>", r.feedback, r.weighted_score,
                      r.create_time, r.update_time, r.complete_time, r.version
               FROM competitions.reviews r
               WHERE r.contest_id = $1
                 AND ($2::text IS NULL OR r.application_id = $2)
                 AND ($3::text IS NULL OR r.expert_id = $3)
                 AND ($4::text IS NULL OR r.state = $4)
                 AND ($5::text IS NULL OR EXISTS (
                        SELECT 1 FROM competitions.experts e
                        WHERE e.contest_id = r.contest_id AND e.id = r.expert_id AND e.subject = $5))
                 AND ($6::text IS NULL OR (r.state = 'COMPLETED' AND EXISTS (
                        SELECT 1 FROM competitions.applications a
                        JOIN competitions.team_members m ON m.team_id = a.team_id
                        JOIN competitions.contests c ON c.id = a.contest_id
                        WHERE a.contest_id = r.contest_id AND a.id = r.application_id
                          AND m.subject = $6 AND c.state = 'ANNOUNCED')))
                 AND ($7::timestamptz IS NULL
                      OR (r.create_time, r.application_id || '/' || r.id) > ($7, $8::text))
               ORDER BY r.create_time, r.application_id || '/' || r.id
               LIMIT $9"#,
            filter.contest_id,
            filter.application_id,
            filter.expert_id,
            filter.state.map(|s| s.as_str()),
            filter.expert_subject,
            filter.team_member,
            after_time,
            after_id,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let reviews = rows
            .into_iter()
            .map(ReviewRow::into_domain)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(reviews, size, |r| Cursor {
            time: r.create_time,
            id: format!("{}/{}", r.application_id, r.id),
        }))
    }

    /// Saves or completes a review with `change` (rule 6), recorded as `action`; a
    /// completion also publishes `REVIEW_COMPLETED`.
    #[allow(clippy::too_many_arguments)]
    pub async fn change_review(
        &self,
        context: &CallContext,
        contest_id: &str,
        application_id: &str,
        id: &str,
        supplied_etag: &str,
        action: &'static str,
        change: impl FnOnce(&mut Review, &Contest, Timestamp) -> Result<Transition, CompetitionError>,
    ) -> Result<Review, ApiError> {
        let review_name = name(contest_id, application_id, id);
        let mut tx = self.begin().await?;
        let contest = contests::fetch_locked(&mut tx, contest_id, Lock::Share).await?;
        let current = fetch(&mut tx, contest_id, application_id, id, true)
            .await?
            .ok_or_else(|| ApiError::not_found(review_name.clone()))?;
        contest.ensure_reviewing()?;
        etag::check(supplied_etag, current.version, &review_name)?;
        let mut review = current.clone();
        if change(&mut review, &contest, context.now())? == Transition::Unchanged {
            return Ok(current);
        }
        sqlx::query!(
            "UPDATE competitions.reviews SET state = $4, scores = $5, feedback = $6,
                    weighted_score = $7, update_time = $8, complete_time = $9, version = $10
             WHERE contest_id = $1 AND application_id = $2 AND id = $3",
            contest_id,
            application_id,
            id,
            review.state.as_str(),
            scores_json(&review) as _,
            review.feedback,
            review.weighted_score,
            review.update_time.to_sqlx(),
            review.complete_time.map(|t| t.to_sqlx()),
            review.version,
        )
        .execute(&mut *tx)
        .await?;
        // Scores and feedback stay out of the audit log: it records who moved the review.
        audit::record(
            &mut tx,
            context,
            action,
            &review_name,
            json!({ "state": { "from": current.state.as_str(), "to": review.state.as_str() } }),
        )
        .await?;
        if review.state == ReviewState::Completed {
            events::record(
                &mut tx,
                EventKind::ReviewCompleted,
                &review_name,
                contest_id,
                context.now(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(review)
    }

    /// Withdraws an assignment that is not completed.
    pub async fn delete_review(
        &self,
        context: &CallContext,
        contest_id: &str,
        application_id: &str,
        id: &str,
    ) -> Result<(), ApiError> {
        let review_name = name(contest_id, application_id, id);
        let mut tx = self.begin().await?;
        let contest = contests::fetch_locked(&mut tx, contest_id, Lock::Share).await?;
        let review = fetch(&mut tx, contest_id, application_id, id, true)
            .await?
            .ok_or_else(|| ApiError::not_found(review_name.clone()))?;
        contest.ensure_reviewing()?;
        review.ensure_open()?;
        sqlx::query!(
            "DELETE FROM competitions.reviews WHERE contest_id = $1 AND application_id = $2 AND id = $3",
            contest_id,
            application_id,
            id
        )
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            context,
            "review.withdrawn",
            &review_name,
            json!({ "expert": experts::name(contest_id, &review.expert_id) }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Each expert's assigned and completed reviews, in registration order.
    pub async fn workloads(
        &self,
        contest_id: &str,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page<Workload>, ApiError> {
        let (after_time, after_id) = Cursor::split(after);
        let mut conn = self.read().await?;
        let rows = sqlx::query!(
            r#"SELECT e.id, e.create_time,
                      count(r.id) AS "assigned!",
                      count(r.id) FILTER (WHERE r.state = 'COMPLETED') AS "completed!"
               FROM competitions.experts e
               LEFT JOIN competitions.reviews r ON r.contest_id = e.contest_id AND r.expert_id = e.id
               WHERE e.contest_id = $1
                 AND ($2::timestamptz IS NULL OR (e.create_time, e.id) > ($2, $3::text))
               GROUP BY e.id, e.create_time
               ORDER BY e.create_time, e.id
               LIMIT $4"#,
            contest_id,
            after_time,
            after_id,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let workloads = rows
            .into_iter()
            .map(|row| Workload {
                expert_id: row.id,
                assigned: row.assigned,
                completed: row.completed,
                create_time: row.create_time.to_jiff(),
            })
            .collect();
        Ok(Page::from_overfetch(workloads, size, |w: &Workload| {
            Cursor {
                time: w.create_time,
                id: w.expert_id.clone(),
            }
        }))
    }
}
