//! Applications: drafted, changed, submitted and withdrawn under the contest's and the
//! team's locks (see the module doc of [`crate::store`]).

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::audit;
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::{ApiError, CallContext, etag};

use super::contests::{self, Lock};
use super::events::{self, EventKind};
use super::{Cursor, Page, Store, corrupt, remember, replay, teams};
use crate::domain::{
    Application, ApplicationContent, ApplicationState, CompetitionError, Contest, Transition,
};

struct ApplicationRow {
    contest_id: String,
    id: String,
    team_id: String,
    nomination_id: String,
    title: String,
    summary: String,
    description: String,
    state: String,
    region_code: String,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    submit_time: Option<jiff_sqlx::Timestamp>,
    withdraw_time: Option<jiff_sqlx::Timestamp>,
    version: i64,
}

impl ApplicationRow {
    fn into_domain(self) -> Result<Application, ApiError> {
        let state = ApplicationState::parse(&self.state)
            .ok_or_else(|| corrupt("application state", &self.state))?;
        Ok(Application {
            contest_id: self.contest_id,
            id: self.id,
            team_id: self.team_id,
            region_code: self.region_code,
            content: ApplicationContent {
                nomination_id: self.nomination_id,
                title: self.title,
                summary: self.summary,
                description: self.description,
            },
            state,
            create_time: self.create_time.to_jiff(),
            update_time: self.update_time.to_jiff(),
            submit_time: self.submit_time.map(|t| t.to_jiff()),
            withdraw_time: self.withdraw_time.map(|t| t.to_jiff()),
            version: self.version,
        })
    }
}

fn name(contest_id: &str, id: &str) -> String {
    format!("contests/{contest_id}/applications/{id}")
}

async fn fetch(
    conn: &mut PgConnection,
    contest_id: &str,
    id: &str,
    for_update: bool,
) -> Result<Option<Application>, ApiError> {
    let row = if for_update {
        sqlx::query_as!(
            ApplicationRow,
            "SELECT contest_id, id, team_id, nomination_id, title, summary, description, state, region_code,
                    create_time, update_time, submit_time, withdraw_time, version
             FROM competitions.applications WHERE contest_id = $1 AND id = $2 FOR UPDATE",
            contest_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            ApplicationRow,
            "SELECT contest_id, id, team_id, nomination_id, title, summary, description, state, region_code,
                    create_time, update_time, submit_time, withdraw_time, version
             FROM competitions.applications WHERE contest_id = $1 AND id = $2",
            contest_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    row.map(ApplicationRow::into_domain).transpose()
}

/// The team's applications in a nomination that count towards its limit.
async fn count_active(
    conn: &mut PgConnection,
    contest_id: &str,
    team_id: &str,
    nomination_id: &str,
    except: Option<&str>,
) -> Result<u32, ApiError> {
    let count = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM competitions.applications
           WHERE contest_id = $1 AND team_id = $2 AND nomination_id = $3 AND state <> 'WITHDRAWN'
             AND ($4::text IS NULL OR id <> $4)"#,
        contest_id,
        team_id,
        nomination_id,
        except,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

async fn save(conn: &mut PgConnection, app: &Application) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE competitions.applications SET
            nomination_id = $3, title = $4, summary = $5, description = $6, state = $7,
            update_time = $8, submit_time = $9, withdraw_time = $10, version = $11
         WHERE contest_id = $1 AND id = $2",
        app.contest_id,
        app.id,
        app.content.nomination_id,
        app.content.title,
        app.content.summary,
        app.content.description,
        app.state.as_str(),
        app.update_time.to_sqlx(),
        app.submit_time.map(|t| t.to_sqlx()),
        app.withdraw_time.map(|t| t.to_sqlx()),
        app.version,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The fields of an application as the caller sent them.
#[derive(Debug, Clone, Default)]
pub struct ContentInput {
    /// Nomination ID.
    pub nomination_id: String,
    /// Title.
    pub title: String,
    /// Summary.
    pub summary: String,
    /// Description.
    pub description: String,
}

impl ContentInput {
    fn parse(&self, contest: &Contest) -> Result<ApplicationContent, CompetitionError> {
        ApplicationContent::parse(
            contest,
            &self.nomination_id,
            &self.title,
            &self.summary,
            &self.description,
        )
        .map_err(|e| e.within("application"))
    }
}

/// An application to draft: where, for whom, and what it says.
#[derive(Debug, Clone)]
pub struct NewApplication {
    /// The contest.
    pub contest_id: String,
    /// The application's ID.
    pub id: String,
    /// The applying team.
    pub team_id: String,
    /// Its content as sent.
    pub content: ContentInput,
}

/// Which applications a listing shows.
#[derive(Debug, Clone, Default)]
pub struct ApplicationFilter {
    /// Only this contest.
    pub contest: Option<String>,
    /// Only this team.
    pub team: Option<String>,
    /// Only this nomination.
    pub nomination: Option<String>,
    /// Only this state.
    pub state: Option<ApplicationState>,
    /// Only applications of teams this subject is a member of (`None` for organisers).
    pub member: Option<String>,
    /// Only applications this subject reviews as an expert (`None` for organisers). With
    /// `member` also set, either kind of link shows an application.
    pub assigned_to: Option<String>,
}

impl Store {
    /// Drafts an application (rules 2 and 3). The contest is held shared and the team
    /// exclusively, so the limit count and the insert cannot interleave with a competing
    /// draft of the same team.
    pub async fn create_application<R: prost::Message + Default>(
        &self,
        context: &CallContext,
        key: Option<&IdempotencyKey>,
        new: NewApplication,
        respond: impl FnOnce(&Application) -> R,
    ) -> Result<R, ApiError> {
        let NewApplication {
            contest_id,
            id,
            team_id,
            content: input,
        } = new;
        let (contest_id, team_id) = (contest_id.as_str(), team_id.as_str());
        let mut tx = self.begin().await?;
        if let Some(response) = replay(&mut tx, key, context.now()).await? {
            return Ok(response);
        }
        let contest = match contests::lock(&mut tx, contest_id, Lock::Share).await? {
            true => contests::fetch(&mut tx, contest_id).await?,
            false => None,
        }
        .filter(Contest::is_visible_beyond_organisers)
        .ok_or_else(|| ApiError::not_found(format!("contests/{contest_id}")))?;
        if !teams::lock(&mut tx, team_id).await? {
            return Err(ApiError::not_found(format!("teams/{team_id}")));
        }
        let team = teams::fetch(&mut tx, team_id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("teams/{team_id}")))?;
        let content = input.parse(&contest)?;
        let active =
            count_active(&mut tx, contest_id, team_id, &content.nomination_id, None).await?;
        let app = Application::draft(id, &contest, &team, content, active, context.now())?;
        let inserted = sqlx::query!(
            "INSERT INTO competitions.applications
                (contest_id, id, team_id, nomination_id, title, summary, description, state, region_code,
                 create_time, update_time, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT DO NOTHING",
            app.contest_id,
            app.id,
            app.team_id,
            app.content.nomination_id,
            app.content.title,
            app.content.summary,
            app.content.description,
            app.state.as_str(),
            app.region_code,
            app.create_time.to_sqlx(),
            app.update_time.to_sqlx(),
            app.version,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            // An expected conflict, decided from the insert's result: a constraint error would be
            // logged by the server with the key.
            return Err(ApiError::already_exists(name(contest_id, &app.id)));
        }
        audit::record(
            &mut tx,
            context,
            "application.drafted",
            &name(contest_id, &app.id),
            json!({
                "team": format!("teams/{}", app.team_id),
                "nomination_id": app.content.nomination_id,
                "title": app.content.title,
            }),
        )
        .await?;
        let response = respond(&app);
        remember(&mut tx, key, &response).await?;
        tx.commit().await?;
        Ok(response)
    }

    /// Reads an application.
    pub async fn application(
        &self,
        contest_id: &str,
        id: &str,
    ) -> Result<Option<Application>, ApiError> {
        self.reads
            .run(async |conn| Ok(fetch(conn, contest_id, id, false).await?))
            .await
    }

    /// Lists applications in the order they were drafted.
    pub async fn list_applications(
        &self,
        filter: &ApplicationFilter,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page<Application>, ApiError> {
        let (after_time, after_id) = Cursor::split(after);
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            ApplicationRow,
            r#"SELECT a.contest_id, a.id, a.team_id, a.nomination_id, a.title, a.summary, a.description,
                      a.state, a.region_code, a.create_time, a.update_time, a.submit_time, a.withdraw_time, a.version
               FROM competitions.applications a
               WHERE ($1::text IS NULL OR a.contest_id = $1)
                 AND ($2::text IS NULL OR a.team_id = $2)
                 AND ($3::text IS NULL OR a.nomination_id = $3)
                 AND ($4::text IS NULL OR a.state = $4)
                 AND (($5::text IS NULL AND $9::text IS NULL)
                      OR EXISTS (SELECT 1 FROM competitions.team_members m
                                 WHERE m.team_id = a.team_id AND m.subject = $5)
                      OR EXISTS (SELECT 1 FROM competitions.reviews r
                                 JOIN competitions.experts e
                                   ON e.contest_id = r.contest_id AND e.id = r.expert_id
                                 WHERE r.contest_id = a.contest_id AND r.application_id = a.id
                                   AND e.subject = $9))
                 AND ($6::timestamptz IS NULL OR (a.create_time, a.contest_id || '/' || a.id) > ($6, $7::text))
               ORDER BY a.create_time, a.contest_id || '/' || a.id
               LIMIT $8"#,
            filter.contest,
            filter.team,
            filter.nomination,
            filter.state.map(|s| s.as_str()),
            filter.member,
            after_time,
            after_id,
            edu_kit::paging::overfetch_limit(size),
            filter.assigned_to,
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let apps = rows
            .into_iter()
            .map(ApplicationRow::into_domain)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(apps, size, |a| Cursor {
            time: a.create_time,
            id: format!("{}/{}", a.contest_id, a.id),
        }))
    }

    /// Changes a draft (rule 4). `merge` builds the new content from the current one (the
    /// update mask); moving to another nomination counts against the limit there under the
    /// team's lock.
    pub async fn update_application(
        &self,
        context: &CallContext,
        contest_id: &str,
        id: &str,
        supplied_etag: &str,
        merge: impl FnOnce(&Application) -> ContentInput,
    ) -> Result<Application, ApiError> {
        let mut tx = self.begin().await?;
        let (contest, mut app) = lock_application(&mut tx, contest_id, id).await?;
        etag::check(supplied_etag, app.version, &name(contest_id, id))?;
        let content = merge(&app).parse(&contest)?;
        let active_in_new = if content.nomination_id != app.content.nomination_id {
            teams::lock(&mut tx, &app.team_id).await?;
            Some(
                count_active(
                    &mut tx,
                    contest_id,
                    &app.team_id,
                    &content.nomination_id,
                    Some(id),
                )
                .await?,
            )
        } else {
            None
        };
        let before = app.content.clone();
        if app.revise(&contest, content, active_in_new, context.now())? == Transition::Unchanged {
            return Ok(app);
        }
        save(&mut tx, &app).await?;
        let changed: Vec<&str> = [
            (
                "nomination_id",
                before.nomination_id != app.content.nomination_id,
            ),
            ("title", before.title != app.content.title),
            ("summary", before.summary != app.content.summary),
            ("description", before.description != app.content.description),
        ]
        .into_iter()
        .filter_map(|(field, changed)| changed.then_some(field))
        .collect();
        audit::record(
            &mut tx,
            context,
            "application.updated",
            &name(contest_id, id),
            json!({ "fields": changed }),
        )
        .await?;
        tx.commit().await?;
        Ok(app)
    }

    /// Submits or withdraws an application with `transition` (rules 2 and 4), recorded as
    /// `action`. A repeated transition is a no-op.
    pub async fn transition_application(
        &self,
        context: &CallContext,
        contest_id: &str,
        id: &str,
        supplied_etag: &str,
        action: &'static str,
        transition: impl FnOnce(
            &mut Application,
            &Contest,
            Timestamp,
        ) -> Result<Transition, CompetitionError>,
    ) -> Result<Application, ApiError> {
        let mut tx = self.begin().await?;
        let (contest, current) = lock_application(&mut tx, contest_id, id).await?;
        let mut app = current.clone();
        if transition(&mut app, &contest, context.now())? == Transition::Unchanged {
            return Ok(current);
        }
        etag::check(supplied_etag, current.version, &name(contest_id, id))?;
        save(&mut tx, &app).await?;
        audit::record(
            &mut tx,
            context,
            action,
            &name(contest_id, id),
            json!({ "state": { "from": current.state.as_str(), "to": app.state.as_str() } }),
        )
        .await?;
        if app.state == ApplicationState::Submitted {
            events::record(
                &mut tx,
                EventKind::ApplicationSubmitted,
                &name(contest_id, id),
                contest_id,
                context.now(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(app)
    }
}

/// Holds the contest shared and the application exclusively, in the store's lock order.
async fn lock_application(
    conn: &mut PgConnection,
    contest_id: &str,
    id: &str,
) -> Result<(Contest, Application), ApiError> {
    let missing = || ApiError::not_found(name(contest_id, id));
    if !contests::lock(conn, contest_id, Lock::Share).await? {
        return Err(missing());
    }
    let contest = contests::fetch(conn, contest_id)
        .await?
        .ok_or_else(missing)?;
    let app = fetch(conn, contest_id, id, true)
        .await?
        .ok_or_else(missing)?;
    Ok((contest, app))
}
