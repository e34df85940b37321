//! The individual plan and the meeting log of a pair or group (rule 7, choice 13; rule 3:
//! a SPEED pair meets once). Every change locks the pair first, so that a plan change, a
//! meeting and the pair's completion (which counts the plan) see one another in order.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::Page;
use edu_kit::{ApiError, CallContext, audit, etag};

use super::institutions::{self, Setting};
use super::pairs::{self, Locked};
use super::{pair_name, parsed, participant_name};
use crate::domain::completion::PlanProgress;
use crate::domain::pairs::meetings::ensure_meeting_allowed;
use crate::domain::pairs::state::PairWork;
use crate::domain::plan::PlanActivityState;
use crate::domain::redaction::shown_text;
use crate::domain::{FieldError, MentoringError};

/// `institutions/{institution}/pairs/{pair}/planActivities/{id}`.
pub fn activity_name(institution: &str, pair: &str, id: &str) -> String {
    format!("{}/planActivities/{id}", pair_name(institution, pair))
}

/// `institutions/{institution}/pairs/{pair}/meetings/{id}`.
pub fn meeting_name(institution: &str, pair: &str, id: &str) -> String {
    format!("{}/meetings/{id}", pair_name(institution, pair))
}

/// An activity as added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityDraft {
    /// The ID; a new one when empty.
    pub id: String,
    /// What is to be done.
    pub title: String,
    /// Details.
    pub description: String,
    /// By when.
    pub due_date: Date,
}

/// A change of an activity; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActivityChange {
    /// A new title.
    pub title: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new due date.
    pub due_date: Option<Date>,
    /// A move: PLANNED (accepted), CANCELLED (with `cancel_reason`), DONE (with `result`
    /// and `done_date`).
    pub state: Option<PlanActivityState>,
    /// The result (moving to DONE, or correcting a DONE one's).
    pub result: Option<String>,
    /// The day it was carried out.
    pub done_date: Option<Date>,
    /// Why it was cancelled or declined.
    pub cancel_reason: Option<String>,
}

/// A plan activity as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanActivity {
    /// The ID.
    pub id: String,
    /// The resource name.
    pub name: String,
    /// The title; empty when the pair is redacted.
    pub title: String,
    /// The description; empty when the pair is redacted.
    pub description: String,
    /// The due date.
    pub due_date: Date,
    /// The state.
    pub state: PlanActivityState,
    /// Whether a mentee or guardian proposed it.
    pub proposed_by_mentee: bool,
    /// The result; empty when the pair is redacted.
    pub result: String,
    /// The day it was carried out.
    pub done_date: Option<Date>,
    /// Whether PLANNED past its due date, on the institution's today.
    pub overdue: bool,
    /// Why it was cancelled; empty when the pair is redacted.
    pub cancel_reason: String,
    /// Whether the pair is redacted.
    pub redacted: bool,
    /// When it was added.
    pub create_time: Timestamp,
    /// When it last changed.
    pub update_time: Timestamp,
    /// Its version, for etags.
    pub version: i64,
}

/// The plan's counts for completion (PROPOSED and PLANNED open, DONE done).
pub(crate) async fn progress(
    conn: &mut PgConnection,
    institution: &str,
    pair: &str,
) -> Result<PlanProgress, ApiError> {
    let row = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE state IN ('PROPOSED', 'PLANNED')) AS "open!",
                  count(*) FILTER (WHERE state = 'DONE') AS "done!"
           FROM mentoring.plan_activities WHERE institution_id = $1 AND pair_id = $2"#,
        institution,
        pair
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(PlanProgress {
        open: u32::try_from(row.open).unwrap_or(u32::MAX),
        done: u32::try_from(row.done).unwrap_or(u32::MAX),
    })
}

/// Adds an activity to a FORMING or ACTIVE pair's plan (`CreatePlanActivity`): PLANNED, or
/// PROPOSED when `by_mentee` (a mentee or guardian proposes it, §6.2).
pub async fn create_activity(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    pair: &str,
    draft: &ActivityDraft,
    by_mentee: bool,
) -> Result<PlanActivity, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let locked = pairs::lock_for_work(conn, &setting, pair).await?;
    let mut fields = vec![];
    check_texts(&mut fields, Some(&draft.title), Some(&draft.description));
    check_due_date(&mut fields, draft.due_date, &locked);
    finish(fields)?;
    locked.state.ensure_allows(PairWork::PlanChange)?;
    let id = if draft.id.is_empty() {
        edu_kit::resource::new_id()
    } else {
        draft.id.clone()
    };
    let state = if by_mentee {
        PlanActivityState::Proposed
    } else {
        PlanActivityState::Planned
    };
    let now = context.now();
    let inserted = sqlx::query!(
        "INSERT INTO mentoring.plan_activities
             (institution_id, id, pair_id, title, description, due_date, state,
              proposed_by_mentee, create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT DO NOTHING",
        institution,
        id,
        pair,
        draft.title,
        draft.description,
        draft.due_date.to_sqlx(),
        state.as_str(),
        by_mentee,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let name = activity_name(institution, pair, &id);
    if inserted.rows_affected() == 0 {
        return Err(ApiError::already_exists(name));
    }
    audit::record(
        conn,
        context,
        "plan_activity.created",
        &name,
        json!({ "state": state.as_str(), "due_date": draft.due_date.to_string() }),
    )
    .await?;
    get_activity(conn, &setting, pair, &id).await
}

/// Changes an activity (`UpdatePlanActivity`) under the pair's lock: its texts and due
/// date while open, or a move by `state` (the domain's moves), or a DONE one's result.
pub async fn update_activity(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    pair: &str,
    id: &str,
    change: &ActivityChange,
    supplied_etag: &str,
) -> Result<PlanActivity, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let locked = pairs::lock_for_work(conn, &setting, pair).await?;
    let name = activity_name(institution, pair, id);
    let row = sqlx::query!(
        "SELECT state, version FROM mentoring.plan_activities
         WHERE institution_id = $1 AND pair_id = $2 AND id = $3 FOR UPDATE",
        institution,
        pair,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(name.clone()))?;
    etag::check(supplied_etag, row.version, &name)?;
    let current = parsed("plan activity state", &row.state, PlanActivityState::parse)?;
    // The fields first, as the contract orders the refusals.
    let mut fields = vec![];
    check_texts(
        &mut fields,
        change.title.as_ref(),
        change.description.as_ref(),
    );
    if let Some(due) = change.due_date {
        check_due_date(&mut fields, due, &locked);
    }
    let target = change.state.filter(|s| *s != current);
    match target {
        Some(PlanActivityState::Done) => {
            if change.result.as_deref().is_none_or(|r| r.trim().is_empty()) {
                fields.push(FieldError::new(
                    "plan_activity.result",
                    "DONE needs the result",
                ));
            }
            check_done_date(&mut fields, change.done_date, &locked, &setting);
        }
        Some(PlanActivityState::Cancelled) => {
            if change
                .cancel_reason
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
            {
                fields.push(FieldError::new(
                    "plan_activity.cancel_reason",
                    "CANCELLED needs the reason",
                ));
            }
        }
        _ => {
            if change.done_date.is_some() {
                check_done_date(&mut fields, change.done_date, &locked, &setting);
            }
        }
    }
    finish(fields)?;
    if let Some(to) = target {
        current.ensure_may_become(to)?;
    }
    if change.title.is_some() || change.description.is_some() || change.due_date.is_some() {
        current.ensure_content_changeable()?;
    }
    if target.is_none() && (change.result.is_some() || change.done_date.is_some()) {
        current.ensure_result_correctable()?;
    }
    // A reason without a move: the activity is CANCELLED already, and does not change.
    if target.is_none() && change.cancel_reason.is_some() {
        current.ensure_content_changeable()?;
    }
    locked.state.ensure_allows(PairWork::PlanChange)?;
    let now = context.now();
    let new_state = target.unwrap_or(current);
    sqlx::query!(
        "UPDATE mentoring.plan_activities SET
             title = coalesce($4, title),
             description = coalesce($5, description),
             due_date = coalesce($6, due_date),
             state = $7,
             result = coalesce($8, result),
             done_date = coalesce($9, done_date),
             cancel_reason = coalesce($10, cancel_reason),
             update_time = $11, version = version + 1
         WHERE institution_id = $1 AND pair_id = $2 AND id = $3",
        institution,
        pair,
        id,
        change.title,
        change.description,
        change.due_date.map(|d| d.to_sqlx()),
        new_state.as_str(),
        change.result,
        change.done_date.map(|d| d.to_sqlx()),
        change.cancel_reason,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "plan_activity.updated",
        &name,
        json!({ "from": current.as_str(), "to": new_state.as_str(),
                "due_date": change.due_date.map(|d| d.to_string()),
                "done_date": change.done_date.map(|d| d.to_string()) }),
    )
    .await?;
    get_activity(conn, &setting, pair, id).await
}

/// One activity as shown.
pub async fn get_activity(
    conn: &mut PgConnection,
    setting: &Setting,
    pair: &str,
    id: &str,
) -> Result<PlanActivity, ApiError> {
    let filter = ActivityFilter {
        only: Some(id.to_string()),
        ..ActivityFilter::default()
    };
    list_activities(conn, setting, pair, &filter, 1, None)
        .await?
        .items
        .pop()
        .ok_or_else(|| ApiError::not_found(activity_name(&setting.id, pair, id)))
}

/// What activities are listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    /// One state only.
    pub state: Option<PlanActivityState>,
    /// PLANNED past their due date only.
    pub overdue_only: bool,
    /// One activity only.
    pub only: Option<String>,
}

/// A pair's plan by due date, then ID; a page of at most `size` after the activity `after`.
pub async fn list_activities(
    conn: &mut PgConnection,
    setting: &Setting,
    pair: &str,
    filter: &ActivityFilter,
    size: usize,
    after: Option<String>,
) -> Result<Page<PlanActivity, String>, ApiError> {
    let institution = setting.id.as_str();
    ensure_pair_exists(conn, institution, pair).await?;
    let redacted = pairs::is_redacted(conn, institution, pair).await?;
    let rows = sqlx::query!(
        "SELECT a.id, a.title, a.description, a.due_date, a.state, a.proposed_by_mentee,
                a.result, a.done_date, a.cancel_reason, a.create_time, a.update_time, a.version
         FROM mentoring.plan_activities a
         WHERE a.institution_id = $1 AND a.pair_id = $2
           AND ($3::text IS NULL OR a.state = $3)
           AND (NOT $4 OR (a.state = 'PLANNED' AND a.due_date < $5))
           AND ($6::text IS NULL OR a.id = $6)
           AND ($7::text IS NULL OR (a.due_date, a.id) > (
                   SELECT b.due_date, b.id FROM mentoring.plan_activities b
                   WHERE b.institution_id = $1 AND b.pair_id = $2 AND b.id = $7))
         ORDER BY a.due_date, a.id
         LIMIT $8",
        institution,
        pair,
        filter.state.map(PlanActivityState::as_str),
        filter.overdue_only,
        setting.today.to_sqlx(),
        filter.only,
        after,
        i64::try_from(size + 1).unwrap_or(i64::MAX),
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let state = parsed("plan activity state", &row.state, PlanActivityState::parse)?;
        let due_date = row.due_date.to_jiff();
        items.push(PlanActivity {
            name: activity_name(institution, pair, &row.id),
            title: shown_text(&row.title, redacted).to_string(),
            description: shown_text(&row.description, redacted).to_string(),
            due_date,
            state,
            proposed_by_mentee: row.proposed_by_mentee,
            result: shown_text(&row.result, redacted).to_string(),
            done_date: row.done_date.map(|d| d.to_jiff()),
            overdue: state.is_overdue(due_date, setting.today),
            cancel_reason: shown_text(&row.cancel_reason, redacted).to_string(),
            redacted,
            create_time: row.create_time.to_jiff(),
            update_time: row.update_time.to_jiff(),
            version: row.version,
            id: row.id,
        });
    }
    Ok(Page::from_overfetch(items, size, |a| a.id.clone()))
}

/// How a meeting took place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MeetingFormat {
    /// In person.
    InPerson,
    /// Remotely.
    Online,
}

impl MeetingFormat {
    /// The stored name: the proto value name without its `MEETING_FORMAT_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingFormat::InPerson => "IN_PERSON",
            MeetingFormat::Online => "ONLINE",
        }
    }

    /// The format a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [MeetingFormat::InPerson, MeetingFormat::Online]
            .into_iter()
            .find(|f| f.as_str() == raw)
    }
}

/// A meeting as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingDraft {
    /// The ID; a new one when empty.
    pub id: String,
    /// The day it took place.
    pub meet_date: Date,
    /// How long, 1 to 600 minutes, when known.
    pub duration_minutes: Option<i32>,
    /// How.
    pub format: MeetingFormat,
    /// What about.
    pub topic: String,
    /// Notes.
    pub notes: String,
    /// The plan activity it served, by ID.
    pub plan_activity: Option<String>,
    /// Mentees of a group who were absent, by ID.
    pub absent_mentees: Vec<String>,
}

/// A meeting as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meeting {
    /// The ID.
    pub id: String,
    /// The resource name.
    pub name: String,
    /// The day it took place.
    pub meet_date: Date,
    /// How long.
    pub duration_minutes: Option<i32>,
    /// How.
    pub format: MeetingFormat,
    /// The topic; empty when the pair is redacted.
    pub topic: String,
    /// The notes; empty when the pair is redacted.
    pub notes: String,
    /// The plan activity it served, by resource name.
    pub plan_activity: Option<String>,
    /// The absent mentees, by resource name.
    pub absent_mentees: Vec<String>,
    /// Whether the pair is redacted.
    pub redacted: bool,
    /// When it was logged.
    pub create_time: Timestamp,
}

/// Logs a meeting of an ACTIVE pair or group (`CreateMeeting`); a SPEED pair logs one
/// (`SINGLE_MEETING_FORM`), counted under the pair's lock.
pub async fn create_meeting(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    pair: &str,
    draft: &MeetingDraft,
) -> Result<Meeting, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let locked = pairs::lock_for_work(conn, &setting, pair).await?;
    let mut fields = vec![];
    if draft.meet_date > setting.today {
        fields.push(FieldError::new("meeting.meet_date", "is after today"));
    }
    if let Some(first) = locked.first_activation
        && draft.meet_date < super::day_in(&setting.time_zone, first)?
    {
        fields.push(FieldError::new(
            "meeting.meet_date",
            "is before the pair's first activation",
        ));
    }
    if draft.topic.trim().is_empty() || draft.topic.chars().count() > 300 {
        fields.push(FieldError::new("meeting.topic", "1 to 300 characters"));
    }
    if draft.notes.chars().count() > 5000 {
        fields.push(FieldError::new("meeting.notes", "at most 5 000 characters"));
    }
    if draft
        .duration_minutes
        .is_some_and(|m| !(1..=600).contains(&m))
    {
        fields.push(FieldError::new(
            "meeting.duration_minutes",
            "1 to 600 minutes",
        ));
    }
    let mentees: Vec<String> = pairs::current_members(conn, institution, pair)
        .await?
        .into_iter()
        .filter(|(_, mentor)| !mentor)
        .map(|(m, _)| m)
        .collect();
    for (i, absent) in draft.absent_mentees.iter().enumerate() {
        if !mentees.contains(absent) {
            fields.push(FieldError::new(
                format!("meeting.absent_mentees[{i}]"),
                "not a current mentee of the pair",
            ));
        }
    }
    if let Some(activity) = &draft.plan_activity {
        let found = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM mentoring.plan_activities
               WHERE institution_id = $1 AND pair_id = $2 AND id = $3"#,
            institution,
            pair,
            activity
        )
        .fetch_one(&mut *conn)
        .await?;
        if found == 0 {
            fields.push(FieldError::new(
                "meeting.plan_activity",
                "not an activity of this pair",
            ));
        }
    }
    finish(fields)?;
    locked.state.ensure_allows(PairWork::Meeting)?;
    let first_logged = sqlx::query_scalar!(
        "SELECT id FROM mentoring.meetings WHERE institution_id = $1 AND pair_id = $2
         ORDER BY meet_date, create_time, id LIMIT 1",
        institution,
        pair
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(|m| meeting_name(institution, pair, &m));
    ensure_meeting_allowed(locked.form, first_logged.as_deref())?;
    let id = if draft.id.is_empty() {
        edu_kit::resource::new_id()
    } else {
        draft.id.clone()
    };
    let now = context.now();
    let inserted = sqlx::query!(
        "INSERT INTO mentoring.meetings
             (institution_id, id, pair_id, meet_date, duration_minutes, format, topic, notes,
              plan_activity_id, absent_mentees, create_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT DO NOTHING",
        institution,
        id,
        pair,
        draft.meet_date.to_sqlx(),
        draft.duration_minutes,
        draft.format.as_str(),
        draft.topic,
        draft.notes,
        draft.plan_activity,
        &draft.absent_mentees,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let name = meeting_name(institution, pair, &id);
    if inserted.rows_affected() == 0 {
        return Err(ApiError::already_exists(name));
    }
    audit::record(
        conn,
        context,
        "meeting.created",
        &name,
        json!({ "meet_date": draft.meet_date.to_string(), "format": draft.format.as_str() }),
    )
    .await?;
    list_meetings(conn, &setting, pair, usize::MAX - 1, None)
        .await?
        .items
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| ApiError::not_found(name))
}

/// A pair's meetings, the latest first, then by ID; a page after the meeting `after`.
pub async fn list_meetings(
    conn: &mut PgConnection,
    setting: &Setting,
    pair: &str,
    size: usize,
    after: Option<String>,
) -> Result<Page<Meeting, String>, ApiError> {
    let institution = setting.id.as_str();
    ensure_pair_exists(conn, institution, pair).await?;
    let redacted = pairs::is_redacted(conn, institution, pair).await?;
    let rows = sqlx::query!(
        "SELECT m.id, m.meet_date, m.duration_minutes, m.format, m.topic, m.notes,
                m.plan_activity_id, m.absent_mentees, m.create_time
         FROM mentoring.meetings m
         WHERE m.institution_id = $1 AND m.pair_id = $2
           AND ($3::text IS NULL OR (m.meet_date, m.id) < (
                   SELECT n.meet_date, n.id FROM mentoring.meetings n
                   WHERE n.institution_id = $1 AND n.pair_id = $2 AND n.id = $3))
         ORDER BY m.meet_date DESC, m.id DESC
         LIMIT $4",
        institution,
        pair,
        after,
        edu_kit::paging::overfetch_limit(size),
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(Meeting {
            name: meeting_name(institution, pair, &row.id),
            meet_date: row.meet_date.to_jiff(),
            duration_minutes: row.duration_minutes,
            format: parsed("meeting format", &row.format, MeetingFormat::parse)?,
            topic: shown_text(&row.topic, redacted).to_string(),
            notes: shown_text(&row.notes, redacted).to_string(),
            plan_activity: row
                .plan_activity_id
                .map(|a| activity_name(institution, pair, &a)),
            absent_mentees: row
                .absent_mentees
                .iter()
                .map(|m| participant_name(institution, m))
                .collect(),
            redacted,
            create_time: row.create_time.to_jiff(),
            id: row.id,
        });
    }
    Ok(Page::from_overfetch(items, size, |m| m.id.clone()))
}

async fn ensure_pair_exists(
    conn: &mut PgConnection,
    institution: &str,
    pair: &str,
) -> Result<(), ApiError> {
    let found = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM mentoring.pairs WHERE institution_id = $1 AND id = $2"#,
        institution,
        pair
    )
    .fetch_one(&mut *conn)
    .await?;
    if found == 0 {
        return Err(ApiError::not_found(pair_name(institution, pair)));
    }
    Ok(())
}

fn check_texts(fields: &mut Vec<FieldError>, title: Option<&String>, description: Option<&String>) {
    if let Some(title) = title
        && (title.trim().is_empty() || title.chars().count() > 300)
    {
        fields.push(FieldError::new(
            "plan_activity.title",
            "1 to 300 characters",
        ));
    }
    if description.is_some_and(|d| d.chars().count() > 2000) {
        fields.push(FieldError::new(
            "plan_activity.description",
            "at most 2 000 characters",
        ));
    }
}

fn check_due_date(fields: &mut Vec<FieldError>, due: Date, locked: &Locked) {
    if due < locked.formed {
        fields.push(FieldError::new(
            "plan_activity.due_date",
            "is before the day the pair was formed",
        ));
    }
}

fn check_done_date(
    fields: &mut Vec<FieldError>,
    done: Option<Date>,
    locked: &Locked,
    setting: &Setting,
) {
    match done {
        None => fields.push(FieldError::new(
            "plan_activity.done_date",
            "DONE needs the day",
        )),
        Some(day) if day > setting.today => {
            fields.push(FieldError::new("plan_activity.done_date", "is after today"))
        }
        Some(day) if day < locked.formed => fields.push(FieldError::new(
            "plan_activity.done_date",
            "is before the day the pair was formed",
        )),
        Some(_) => {}
    }
}

fn finish(fields: Vec<FieldError>) -> Result<(), ApiError> {
    if fields.is_empty() {
        Ok(())
    } else {
        Err(MentoringError::InvalidFields(fields).into())
    }
}
