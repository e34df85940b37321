//! Attendance checks (rule 7). A check is recorded against a locked ACTIVE child; a check
//! that found the child not attending waits for its follow-up (AWAITING) until someone
//! records what was done (DONE), which locks the check and compares its version. A check's
//! school and region are its child's. Nothing here holds a child's name or IIN.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::Page;
use edu_kit::{ApiError, CallContext, audit, resource};

use super::{Visibility, corrupt};

/// The reasons a child does not attend, as stored.
pub const REASONS: [&str; 7] = [
    "LACKS_CLOTHES_OR_SUPPLIES",
    "ILLNESS",
    "FAMILY_MOVED",
    "FAMILY_CIRCUMSTANCES",
    "CHILD_WORKING",
    "WHEREABOUTS_UNKNOWN",
    "OTHER",
];

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The child attends.
    Attends,
    /// The child does not attend.
    DoesNotAttend,
}

impl Outcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Attends => "ATTENDS",
            Outcome::DoesNotAttend => "DOES_NOT_ATTEND",
        }
    }

    /// The outcome a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [Outcome::Attends, Outcome::DoesNotAttend]
            .into_iter()
            .find(|o| o.as_str() == raw)
    }
}

/// Whether someone must follow a check up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FollowUpState {
    /// The child attends.
    NotNeeded,
    /// Not followed up yet.
    Awaiting,
    /// Followed up.
    Done,
}

impl FollowUpState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FollowUpState::NotNeeded => "NOT_NEEDED",
            FollowUpState::Awaiting => "AWAITING",
            FollowUpState::Done => "DONE",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [
            FollowUpState::NotNeeded,
            FollowUpState::Awaiting,
            FollowUpState::Done,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// A child's attendance as its latest check found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChildAttendanceState {
    /// No check yet.
    NotChecked,
    /// Attends.
    Attends,
    /// Does not attend.
    DoesNotAttend,
}

/// What was done about a child found not attending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    /// What was done.
    pub action: String,
    /// How it ended.
    pub result: String,
    /// The day.
    pub date: Date,
    /// Who recorded it.
    pub actor: String,
    /// When.
    pub record_time: Timestamp,
}

/// A check as a caller records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCheck {
    /// The day.
    pub check_date: Date,
    /// What it found.
    pub outcome: Outcome,
    /// Why the child does not attend, one of [`REASONS`].
    pub absence_reason: Option<&'static str>,
    /// More on the reason.
    pub absence_note: String,
}

/// A stored check with its child's school and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Its random ID.
    pub id: String,
    /// The campaign.
    pub campaign_id: String,
    /// The child's ID.
    pub child_id: String,
    /// The child's school.
    pub school_id: String,
    /// The child's region.
    pub region_code: String,
    /// The day.
    pub check_date: Date,
    /// What it found.
    pub outcome: Outcome,
    /// Why the child does not attend.
    pub absence_reason: Option<&'static str>,
    /// More on the reason.
    pub absence_note: String,
    /// Whether it must be followed up.
    pub follow_up_state: FollowUpState,
    /// The follow-up, once DONE.
    pub follow_up: Option<FollowUp>,
    /// Recorded.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
}

impl Check {
    /// The resource name.
    pub fn name(&self) -> String {
        name(&self.campaign_id, &self.child_id, &self.id)
    }
}

/// The resource name of check `id` of child `child` of campaign `campaign`.
pub fn name(campaign: &str, child: &str, id: &str) -> String {
    format!("campaigns/{campaign}/children/{child}/attendanceChecks/{id}")
}

struct CheckRow {
    id: String,
    campaign_id: String,
    child_id: String,
    school_id: String,
    region_code: String,
    check_date: jiff_sqlx::Date,
    outcome: String,
    absence_reason: Option<String>,
    absence_note: String,
    follow_up_state: String,
    follow_up_action: Option<String>,
    follow_up_result: Option<String>,
    follow_up_date: Option<jiff_sqlx::Date>,
    follow_up_actor: Option<String>,
    follow_up_time: Option<jiff_sqlx::Timestamp>,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

impl TryFrom<CheckRow> for Check {
    type Error = ApiError;

    fn try_from(r: CheckRow) -> Result<Self, ApiError> {
        let absence_reason = r
            .absence_reason
            .map(|raw| {
                REASONS
                    .iter()
                    .copied()
                    .find(|x| *x == raw)
                    .ok_or_else(|| corrupt("absence reason", &raw))
            })
            .transpose()?;
        let follow_up = match (r.follow_up_action, r.follow_up_date, r.follow_up_time) {
            (Some(action), Some(date), Some(time)) => Some(FollowUp {
                action,
                result: r.follow_up_result.unwrap_or_default(),
                date: date.to_jiff(),
                actor: r.follow_up_actor.unwrap_or_default(),
                record_time: time.to_jiff(),
            }),
            _ => None,
        };
        Ok(Check {
            outcome: Outcome::parse(&r.outcome)
                .ok_or_else(|| corrupt("attendance outcome", &r.outcome))?,
            follow_up_state: FollowUpState::parse(&r.follow_up_state)
                .ok_or_else(|| corrupt("follow-up state", &r.follow_up_state))?,
            id: r.id,
            campaign_id: r.campaign_id,
            child_id: r.child_id,
            school_id: r.school_id,
            region_code: r.region_code,
            check_date: r.check_date.to_jiff(),
            absence_reason,
            absence_note: r.absence_note,
            follow_up,
            create_time: r.create_time.to_jiff(),
            update_time: r.update_time.to_jiff(),
            version: r.version,
        })
    }
}

/// Check `id` of child `child` of campaign `campaign`; `lock` holds its row `FOR UPDATE`.
pub async fn fetch(
    conn: &mut PgConnection,
    campaign: &str,
    child: &str,
    id: &str,
    lock: bool,
) -> Result<Option<Check>, ApiError> {
    let row = if lock {
        sqlx::query_as!(
            CheckRow,
            "SELECT k.id, k.campaign_id, k.child_id, c.school_id, c.region_code, k.check_date,
                    k.outcome, k.absence_reason, k.absence_note, k.follow_up_state,
                    k.follow_up_action, k.follow_up_result, k.follow_up_date,
                    k.follow_up_actor, k.follow_up_time, k.create_time, k.update_time,
                    k.version
             FROM aid.attendance_checks k JOIN aid.children c ON c.id = k.child_id
             WHERE k.campaign_id = $1 AND k.child_id = $2 AND k.id = $3
             FOR UPDATE OF k",
            campaign,
            child,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            CheckRow,
            "SELECT k.id, k.campaign_id, k.child_id, c.school_id, c.region_code, k.check_date,
                    k.outcome, k.absence_reason, k.absence_note, k.follow_up_state,
                    k.follow_up_action, k.follow_up_result, k.follow_up_date,
                    k.follow_up_actor, k.follow_up_time, k.create_time, k.update_time,
                    k.version
             FROM aid.attendance_checks k JOIN aid.children c ON c.id = k.child_id
             WHERE k.campaign_id = $1 AND k.child_id = $2 AND k.id = $3",
            campaign,
            child,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    row.map(Check::try_from).transpose()
}

/// Records a check of a locked ACTIVE child (checked by the caller) and audits it; a
/// child found not attending awaits a follow-up.
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    campaign: &str,
    child: &str,
    new: &NewCheck,
) -> Result<Check, ApiError> {
    let id = resource::new_id();
    let state = match new.outcome {
        Outcome::Attends => FollowUpState::NotNeeded,
        Outcome::DoesNotAttend => FollowUpState::Awaiting,
    };
    sqlx::query!(
        "INSERT INTO aid.attendance_checks
             (id, campaign_id, child_id, check_date, outcome, absence_reason, absence_note,
              follow_up_state, create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        id,
        campaign,
        child,
        new.check_date.to_sqlx(),
        new.outcome.as_str(),
        new.absence_reason,
        new.absence_note,
        state.as_str(),
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let resource = name(campaign, child, &id);
    audit::record(
        conn,
        context,
        "attendance_check.recorded",
        &resource,
        json!({ "check_date": new.check_date.to_string(), "outcome": new.outcome.as_str(),
                "absence_reason": new.absence_reason }),
    )
    .await?;
    fetch(conn, campaign, child, &id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(resource))
}

/// Records the follow-up of a locked AWAITING check (checked by the caller): DONE.
pub async fn follow_up(
    conn: &mut PgConnection,
    context: &CallContext,
    check: &Check,
    action: &str,
    result: &str,
    date: Date,
) -> Result<Check, ApiError> {
    let actor = context
        .caller_if_any()
        .map(|c| c.subject().to_string())
        .unwrap_or_else(|| audit::ANONYMOUS.to_string());
    sqlx::query!(
        "UPDATE aid.attendance_checks
         SET follow_up_state = 'DONE', follow_up_action = $2, follow_up_result = $3,
             follow_up_date = $4, follow_up_actor = $5, follow_up_time = $6,
             update_time = $6, version = version + 1
         WHERE id = $1",
        check.id,
        action,
        result,
        date.to_sqlx(),
        actor,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "attendance_check.followed_up",
        &check.name(),
        json!({ "follow_up_state": { "from": check.follow_up_state.as_str(), "to": "DONE" },
                "follow_up_date": date.to_string() }),
    )
    .await?;
    fetch(conn, &check.campaign_id, &check.child_id, &check.id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(check.name()))
}

/// What a listing of checks filters on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckFilter {
    /// Only this child's.
    pub child: Option<String>,
    /// Only of this school's children.
    pub school: Option<String>,
    /// Only of this region's children.
    pub region: Option<String>,
    /// Only with this outcome.
    pub outcome: Option<Outcome>,
    /// Only in this state.
    pub follow_up_state: Option<FollowUpState>,
}

/// Where a page of checks ends.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckCursor {
    /// The last check's date.
    pub date: Date,
    /// Its child.
    pub child: String,
    /// Its ID.
    pub id: String,
}

/// Checks of campaign `campaign` of children `vis` reads, by check date, then by name.
pub async fn list(
    conn: &mut PgConnection,
    campaign: &str,
    vis: &Visibility,
    filter: &CheckFilter,
    size: usize,
    after: Option<CheckCursor>,
) -> Result<Page<Check, CheckCursor>, ApiError> {
    let (after_date, after_child, after_id) = match after {
        Some(c) => (Some(c.date.to_sqlx()), Some(c.child), Some(c.id)),
        None => (None, None, None),
    };
    let rows = sqlx::query_as!(
        CheckRow,
        "SELECT k.id, k.campaign_id, k.child_id, c.school_id, c.region_code, k.check_date,
                k.outcome, k.absence_reason, k.absence_note, k.follow_up_state,
                k.follow_up_action, k.follow_up_result, k.follow_up_date,
                k.follow_up_actor, k.follow_up_time, k.create_time, k.update_time, k.version
         FROM aid.attendance_checks k JOIN aid.children c ON c.id = k.child_id
         WHERE k.campaign_id = $1
           AND ($2 OR c.region_code = ANY ($3) OR c.school_id = ANY ($4))
           AND ($5::text IS NULL OR k.child_id = $5)
           AND ($6::text IS NULL OR c.school_id = $6)
           AND ($7::text IS NULL OR c.region_code = $7)
           AND ($8::text IS NULL OR k.outcome = $8)
           AND ($9::text IS NULL OR k.follow_up_state = $9)
           AND ($10::date IS NULL
                OR (k.check_date, k.child_id, k.id) > ($10, $11::text, $12::text))
         ORDER BY k.check_date, k.child_id, k.id
         LIMIT $13",
        campaign,
        vis.all,
        &vis.regions,
        &vis.schools,
        filter.child,
        filter.school,
        filter.region,
        filter.outcome.map(Outcome::as_str),
        filter.follow_up_state.map(FollowUpState::as_str),
        after_date as _,
        after_child,
        after_id,
        edu_kit::paging::overfetch_limit(size),
    )
    .fetch_all(&mut *conn)
    .await?;
    let items = rows
        .into_iter()
        .map(Check::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, size, |k| CheckCursor {
        date: k.check_date,
        child: k.child_id.clone(),
        id: k.id.clone(),
    }))
}

/// Each child's attendance as its latest check found it (by check date, then recording),
/// and whether a follow-up of any of its checks is still open; children without a check
/// are absent from the map.
pub async fn latest_for_children(
    conn: &mut PgConnection,
    child_ids: &[String],
) -> Result<HashMap<String, (ChildAttendanceState, bool)>, ApiError> {
    if child_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query!(
        r#"SELECT DISTINCT ON (child_id) child_id, outcome,
                  EXISTS (SELECT 1 FROM aid.attendance_checks o
                          WHERE o.child_id = k.child_id AND o.follow_up_state = 'AWAITING')
                      AS "open!"
           FROM aid.attendance_checks k
           WHERE child_id = ANY ($1)
           ORDER BY child_id, check_date DESC, create_time DESC, id DESC"#,
        child_ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let state = match Outcome::parse(&r.outcome) {
            Some(Outcome::Attends) => ChildAttendanceState::Attends,
            Some(Outcome::DoesNotAttend) => ChildAttendanceState::DoesNotAttend,
            None => return Err(corrupt("attendance outcome", &r.outcome)),
        };
        out.insert(r.child_id, (state, r.open));
    }
    Ok(out)
}
