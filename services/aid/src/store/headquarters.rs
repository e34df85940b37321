//! Regional headquarters and their action plans (rule 1): each region of a campaign has a
//! headquarters (CampaignService creates it), whose staff describe it, plan dated
//! activities, approve the plan and record what happened at each activity.
//!
//! The plan's rules come first, as pure functions ([`check_dates`], [`ensure_plan_not_empty`]
//! and the moves of [`ActivityState`]); the queries follow. Planning an activity takes the
//! campaign's row `FOR KEY SHARE` and its headquarters' `FOR SHARE`, so that it waits for a
//! concurrent change of the campaign's regions or the plan's approval (both lock those rows
//! `FOR UPDATE`) and sees its result: an activity planned during an approval is either
//! counted by it or marked as added after it. Other changes lock the row they change and
//! check its `version` against the caller's etag.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::Page;
use edu_kit::{ApiError, CallContext, audit, resource};

use super::{Store, corrupt};

/// The longest an activity lasts: its last day at most this many days after its first.
pub const MAX_SPAN_DAYS: i32 = 31;

/// Where a region's action plan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlanState {
    /// Being drawn up.
    Draft,
    /// Approved; activities may still be added.
    Approved,
}

impl PlanState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanState::Draft => "DRAFT",
            PlanState::Approved => "APPROVED",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [PlanState::Draft, PlanState::Approved]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// The kinds of activity of an action plan, after the campaign's concept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivityKind {
    /// A meeting.
    Meeting,
    /// A raid to find children at risk of not going to school.
    Raid,
    /// A charity action.
    CharityAction,
    /// A school fair.
    SchoolFair,
    /// A fair visiting remote settlements.
    RemoteSettlementFair,
    /// A round of price monitoring.
    PriceMonitoring,
    /// An information event.
    InformationEvent,
}

impl ActivityKind {
    /// Every kind.
    pub const ALL: [ActivityKind; 7] = [
        ActivityKind::Meeting,
        ActivityKind::Raid,
        ActivityKind::CharityAction,
        ActivityKind::SchoolFair,
        ActivityKind::RemoteSettlementFair,
        ActivityKind::PriceMonitoring,
        ActivityKind::InformationEvent,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Meeting => "MEETING",
            ActivityKind::Raid => "RAID",
            ActivityKind::CharityAction => "CHARITY_ACTION",
            ActivityKind::SchoolFair => "SCHOOL_FAIR",
            ActivityKind::RemoteSettlementFair => "REMOTE_SETTLEMENT_FAIR",
            ActivityKind::PriceMonitoring => "PRICE_MONITORING",
            ActivityKind::InformationEvent => "INFORMATION_EVENT",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// Where an activity is: PLANNED, then HELD (its outcome recorded, and re-recorded) or
/// CANCELLED (with the reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivityState {
    /// Planned; may be changed, held or cancelled.
    Planned,
    /// Took place; its outcome is recorded.
    Held,
    /// Cancelled.
    Cancelled,
}

impl ActivityState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityState::Planned => "PLANNED",
            ActivityState::Held => "HELD",
            ActivityState::Cancelled => "CANCELLED",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [
            ActivityState::Planned,
            ActivityState::Held,
            ActivityState::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }

    /// Only a PLANNED activity changes its kind, title, dates, place or description.
    pub fn ensure_changeable(self) -> Result<(), PlanError> {
        match self {
            ActivityState::Planned => Ok(()),
            state => Err(PlanError::ActivityClosed { state }),
        }
    }

    /// An outcome is recorded for a PLANNED activity, and recorded again (replaced) for a
    /// HELD one; never for a CANCELLED one.
    pub fn ensure_may_hold(self) -> Result<(), PlanError> {
        match self {
            ActivityState::Cancelled => Err(PlanError::TransitionNotAllowed {
                from: self,
                to: ActivityState::Held,
            }),
            _ => Ok(()),
        }
    }

    /// Whether cancelling changes anything: a PLANNED activity is cancelled, a CANCELLED one
    /// stays as it is; a HELD one took place and is refused.
    pub fn needs_cancelling(self) -> Result<bool, PlanError> {
        match self {
            ActivityState::Planned => Ok(true),
            ActivityState::Cancelled => Ok(false),
            ActivityState::Held => Err(PlanError::TransitionNotAllowed {
                from: self,
                to: ActivityState::Cancelled,
            }),
        }
    }
}

impl std::fmt::Display for ActivityState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which date of an activity a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateField {
    /// `start_date`.
    Start,
    /// `end_date`.
    End,
}

impl DateField {
    /// The field's name.
    pub fn as_str(self) -> &'static str {
        match self {
            DateField::Start => "start_date",
            DateField::End => "end_date",
        }
    }
}

/// What the action plan's rules refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Approving a plan without a PLANNED or HELD activity.
    #[error("the action plan has no planned or held activity to approve")]
    PlanEmpty,
    /// Changing an activity that is HELD or CANCELLED.
    #[error("the activity is {state}; only a PLANNED activity changes")]
    ActivityClosed {
        /// Its state.
        state: ActivityState,
    },
    /// Recording the outcome of an activity before its first day.
    #[error("the activity starts on {start_date}; its outcome is recorded from that day")]
    NotDue {
        /// Its first day.
        start_date: Date,
    },
    /// A move the state machine does not have.
    #[error("an activity cannot go from {from} to {to}")]
    TransitionNotAllowed {
        /// The current state.
        from: ActivityState,
        /// The state asked for.
        to: ActivityState,
    },
    /// An end before the start, or an activity longer than [`MAX_SPAN_DAYS`].
    #[error("{}: {problem}", .field.as_str())]
    Span {
        /// The date at fault.
        field: DateField,
        /// What is wrong.
        problem: String,
    },
    /// A day after the campaign's last.
    #[error("{} {date} is after the campaign's last day {latest}", .field.as_str())]
    DateOutOfRange {
        /// The date at fault.
        field: DateField,
        /// Its value.
        date: Date,
        /// The campaign's last day.
        latest: Date,
    },
}

/// An activity's dates: its last day (its first when `end` is unset) not before its first,
/// at most [`MAX_SPAN_DAYS`] after it, and neither after the campaign's `last_day`.
pub fn check_dates(start: Date, end: Option<Date>, last_day: Date) -> Result<(), PlanError> {
    if let Some(end) = end {
        if end < start {
            return Err(PlanError::Span {
                field: DateField::End,
                problem: "not before start_date".to_string(),
            });
        }
        if (end - start).get_days() > MAX_SPAN_DAYS {
            return Err(PlanError::Span {
                field: DateField::End,
                problem: format!("at most {MAX_SPAN_DAYS} days after start_date"),
            });
        }
    }
    if start > last_day {
        return Err(PlanError::DateOutOfRange {
            field: DateField::Start,
            date: start,
            latest: last_day,
        });
    }
    if let Some(end) = end
        && end > last_day
    {
        return Err(PlanError::DateOutOfRange {
            field: DateField::End,
            date: end,
            latest: last_day,
        });
    }
    Ok(())
}

/// What happened is recorded from the activity's first day (in the campaign's zone) on.
pub fn ensure_due(start: Date, today: Date) -> Result<(), PlanError> {
    if today < start {
        Err(PlanError::NotDue { start_date: start })
    } else {
        Ok(())
    }
}

/// A plan is approved with at least one activity that is PLANNED or HELD (`live`).
pub fn ensure_plan_not_empty(live: i64) -> Result<(), PlanError> {
    if live > 0 {
        Ok(())
    } else {
        Err(PlanError::PlanEmpty)
    }
}

/// A region's headquarters, with the overview of its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headquarters {
    /// Its campaign.
    pub campaign_id: String,
    /// Its ID, the region code in lower case.
    pub id: String,
    /// Its region.
    pub region_code: String,
    /// Its name.
    pub display_name: String,
    /// Who chairs it.
    pub chair: String,
    /// How to reach it.
    pub contacts: String,
    /// Where its plan is.
    pub plan_state: PlanState,
    /// The act approving the plan.
    pub plan_approval_basis: String,
    /// When the plan was approved.
    pub plan_approve_time: Option<Timestamp>,
    /// Activities in every state.
    pub activities: i64,
    /// Of those, HELD.
    pub activities_held: i64,
    /// Created.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
}

impl Headquarters {
    /// Its resource name.
    pub fn name(&self) -> String {
        headquarters_name(&self.campaign_id, &self.id)
    }
}

/// The resource name of headquarters `id` of campaign `campaign`.
pub fn headquarters_name(campaign: &str, id: &str) -> String {
    format!("campaigns/{campaign}/headquarters/{id}")
}

/// The resource name of an activity.
pub fn activity_name(campaign: &str, headquarters: &str, id: &str) -> String {
    format!("campaigns/{campaign}/headquarters/{headquarters}/activities/{id}")
}

/// What was recorded about a HELD activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What happened.
    pub summary: String,
    /// People who took part.
    pub participants: i32,
    /// Children reached.
    pub children_reached: i32,
    /// When it was recorded.
    pub record_time: Timestamp,
}

/// An activity of an action plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// Its ID.
    pub id: String,
    /// Its campaign.
    pub campaign_id: String,
    /// Its headquarters.
    pub headquarters_id: String,
    /// The headquarters' region.
    pub region_code: String,
    /// Its kind.
    pub kind: ActivityKind,
    /// Its title.
    pub title: String,
    /// Its first day.
    pub start_date: Date,
    /// Its last day, when not the first.
    pub end_date: Option<Date>,
    /// Where.
    pub place: String,
    /// What is planned.
    pub description: String,
    /// Where it is.
    pub state: ActivityState,
    /// What happened, once HELD.
    pub outcome: Option<Outcome>,
    /// Why it was cancelled.
    pub cancel_reason: String,
    /// Whether it was planned after the plan's approval.
    pub added_after_approval: bool,
    /// Planned.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
}

impl Activity {
    /// Its resource name.
    pub fn name(&self) -> String {
        activity_name(&self.campaign_id, &self.headquarters_id, &self.id)
    }
}

/// What a caller plans or changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivitySpec {
    /// Its kind.
    pub kind: ActivityKind,
    /// Its title.
    pub title: String,
    /// Its first day.
    pub start_date: Date,
    /// Its last day, when not the first.
    pub end_date: Option<Date>,
    /// Where.
    pub place: String,
    /// What is planned.
    pub description: String,
}

impl ActivitySpec {
    /// The stored activity's values.
    pub fn of(a: &Activity) -> Self {
        ActivitySpec {
            kind: a.kind,
            title: a.title.clone(),
            start_date: a.start_date,
            end_date: a.end_date,
            place: a.place.clone(),
            description: a.description.clone(),
        }
    }
}

/// Which activities a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    /// One headquarters' only; every region's when `None`.
    pub headquarters: Option<String>,
    /// Only of this kind.
    pub kind: Option<ActivityKind>,
    /// Only in this state.
    pub state: Option<ActivityState>,
    /// Only those that end on or after this day.
    pub from_date: Option<Date>,
}

/// Where a page of activities ends: its last item's start date and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityCursor {
    /// The last start date.
    pub start_date: Date,
    /// The last headquarters' ID.
    pub headquarters_id: String,
    /// The last ID.
    pub id: String,
}

struct HeadquartersRow {
    campaign_id: String,
    id: String,
    region_code: String,
    display_name: String,
    chair: String,
    contacts: String,
    plan_state: String,
    plan_approval_basis: String,
    plan_approve_time: Option<jiff_sqlx::Timestamp>,
    activities: i64,
    activities_held: i64,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

impl TryFrom<HeadquartersRow> for Headquarters {
    type Error = ApiError;

    fn try_from(r: HeadquartersRow) -> Result<Headquarters, ApiError> {
        Ok(Headquarters {
            plan_state: PlanState::parse(&r.plan_state)
                .ok_or_else(|| corrupt("plan state", &r.plan_state))?,
            campaign_id: r.campaign_id,
            id: r.id,
            region_code: r.region_code,
            display_name: r.display_name,
            chair: r.chair,
            contacts: r.contacts,
            plan_approval_basis: r.plan_approval_basis,
            plan_approve_time: r.plan_approve_time.map(|t| t.to_jiff()),
            activities: r.activities,
            activities_held: r.activities_held,
            create_time: r.create_time.to_jiff(),
            update_time: r.update_time.to_jiff(),
            version: r.version,
        })
    }
}

struct ActivityRow {
    id: String,
    campaign_id: String,
    headquarters_id: String,
    region_code: String,
    kind: String,
    title: String,
    start_date: jiff_sqlx::Date,
    end_date: Option<jiff_sqlx::Date>,
    place: String,
    description: String,
    state: String,
    outcome_summary: Option<String>,
    outcome_participants: Option<i32>,
    outcome_children: Option<i32>,
    outcome_time: Option<jiff_sqlx::Timestamp>,
    cancel_reason: String,
    added_after_approval: bool,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

impl TryFrom<ActivityRow> for Activity {
    type Error = ApiError;

    fn try_from(r: ActivityRow) -> Result<Activity, ApiError> {
        let outcome = r.outcome_time.map(|t| Outcome {
            summary: r.outcome_summary.clone().unwrap_or_default(),
            participants: r.outcome_participants.unwrap_or(0),
            children_reached: r.outcome_children.unwrap_or(0),
            record_time: t.to_jiff(),
        });
        Ok(Activity {
            kind: ActivityKind::parse(&r.kind).ok_or_else(|| corrupt("activity kind", &r.kind))?,
            state: ActivityState::parse(&r.state)
                .ok_or_else(|| corrupt("activity state", &r.state))?,
            id: r.id,
            campaign_id: r.campaign_id,
            headquarters_id: r.headquarters_id,
            region_code: r.region_code,
            title: r.title,
            start_date: r.start_date.to_jiff(),
            end_date: r.end_date.map(|d| d.to_jiff()),
            place: r.place,
            description: r.description,
            outcome,
            cancel_reason: r.cancel_reason,
            added_after_approval: r.added_after_approval,
            create_time: r.create_time.to_jiff(),
            update_time: r.update_time.to_jiff(),
            version: r.version,
        })
    }
}

/// A headquarters with its plan's overview.
pub async fn fetch_headquarters(
    conn: &mut PgConnection,
    campaign_id: &str,
    id: &str,
) -> Result<Option<Headquarters>, ApiError> {
    let row = sqlx::query_as!(
        HeadquartersRow,
        r#"SELECT h.campaign_id, h.id, h.region_code, h.display_name, h.chair, h.contacts,
                  h.plan_state, h.plan_approval_basis, h.plan_approve_time,
                  n.activities AS "activities!", n.held AS "activities_held!",
                  h.create_time, h.update_time, h.version
           FROM aid.headquarters h
           CROSS JOIN LATERAL (
               SELECT count(*) AS activities, count(*) FILTER (WHERE a.state = 'HELD') AS held
               FROM aid.activities a
               WHERE a.campaign_id = h.campaign_id AND a.headquarters_id = h.id) n
           WHERE h.campaign_id = $1 AND h.id = $2"#,
        campaign_id,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    row.map(Headquarters::try_from).transpose()
}

/// Locks a headquarters' row (`FOR UPDATE` when `exclusive`, else `FOR SHARE`) and reads
/// it; `None` when it does not exist.
pub async fn lock_headquarters(
    conn: &mut PgConnection,
    campaign_id: &str,
    id: &str,
    exclusive: bool,
) -> Result<Option<Headquarters>, ApiError> {
    let found = if exclusive {
        sqlx::query_scalar!(
            "SELECT id FROM aid.headquarters WHERE campaign_id = $1 AND id = $2 FOR UPDATE",
            campaign_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_scalar!(
            "SELECT id FROM aid.headquarters WHERE campaign_id = $1 AND id = $2 FOR SHARE",
            campaign_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    if found.is_none() {
        return Ok(None);
    }
    fetch_headquarters(conn, campaign_id, id).await
}

async fn reread_headquarters(
    conn: &mut PgConnection,
    hq: &Headquarters,
) -> Result<Headquarters, ApiError> {
    fetch_headquarters(conn, &hq.campaign_id, &hq.id)
        .await?
        .ok_or_else(|| ApiError::not_found(hq.name()))
}

/// Changes a locked headquarters' name, chair and contacts (each when `Some`).
pub async fn update_headquarters(
    conn: &mut PgConnection,
    context: &CallContext,
    hq: &Headquarters,
    display_name: Option<&str>,
    chair: Option<&str>,
    contacts: Option<&str>,
) -> Result<Headquarters, ApiError> {
    sqlx::query!(
        "UPDATE aid.headquarters
         SET display_name = $3, chair = $4, contacts = $5, update_time = $6,
             version = version + 1
         WHERE campaign_id = $1 AND id = $2",
        hq.campaign_id,
        hq.id,
        display_name.unwrap_or(&hq.display_name),
        chair.unwrap_or(&hq.chair),
        contacts.unwrap_or(&hq.contacts),
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "headquarters.updated",
        &hq.name(),
        json!({ "display_name": display_name, "chair": chair, "contacts": contacts }),
    )
    .await?;
    reread_headquarters(conn, hq).await
}

/// Activities of a headquarters that are PLANNED or HELD.
pub async fn live_activities(conn: &mut PgConnection, hq: &Headquarters) -> Result<i64, ApiError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM aid.activities
           WHERE campaign_id = $1 AND headquarters_id = $2 AND state IN ('PLANNED', 'HELD')"#,
        hq.campaign_id,
        hq.id
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// Approves a locked headquarters' DRAFT plan with the act `basis`.
pub async fn approve_plan(
    conn: &mut PgConnection,
    context: &CallContext,
    hq: &Headquarters,
    basis: &str,
) -> Result<Headquarters, ApiError> {
    sqlx::query!(
        "UPDATE aid.headquarters
         SET plan_state = 'APPROVED', plan_approval_basis = $3, plan_approve_time = $4,
             update_time = $4, version = version + 1
         WHERE campaign_id = $1 AND id = $2",
        hq.campaign_id,
        hq.id,
        basis,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "headquarters.plan_approved",
        &hq.name(),
        json!({ "plan_state": { "from": hq.plan_state.as_str(), "to": "APPROVED" },
                "basis": basis }),
    )
    .await?;
    reread_headquarters(conn, hq).await
}

/// Takes the campaign's row `FOR KEY SHARE`, so that a concurrent change of its regions
/// waits for this transaction; `false` when there is no such campaign.
pub async fn hold_campaign(conn: &mut PgConnection, campaign_id: &str) -> Result<bool, ApiError> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM aid.campaigns WHERE id = $1 FOR KEY SHARE",
        campaign_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .is_some())
}

/// Plans an activity of a headquarters held `FOR SHARE`: PLANNED, marked as added after
/// the approval when the plan is APPROVED.
pub async fn create_activity(
    conn: &mut PgConnection,
    context: &CallContext,
    hq: &Headquarters,
    spec: &ActivitySpec,
) -> Result<Activity, ApiError> {
    let id = resource::new_id();
    let after_approval = hq.plan_state == PlanState::Approved;
    sqlx::query!(
        "INSERT INTO aid.activities
            (id, campaign_id, headquarters_id, kind, title, start_date, end_date, place,
             description, state, added_after_approval, create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'PLANNED', $10, $11, $11)",
        id,
        hq.campaign_id,
        hq.id,
        spec.kind.as_str(),
        spec.title,
        spec.start_date.to_sqlx(),
        spec.end_date.map(|d| d.to_sqlx()) as _,
        spec.place,
        spec.description,
        after_approval,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let name = activity_name(&hq.campaign_id, &hq.id, &id);
    audit::record(
        conn,
        context,
        "activity.created",
        &name,
        json!({ "kind": spec.kind.as_str(), "title": spec.title,
                "start_date": spec.start_date.to_string(),
                "end_date": spec.end_date.map(|d| d.to_string()),
                "added_after_approval": after_approval }),
    )
    .await?;
    fetch_activity(conn, &hq.campaign_id, &hq.id, &id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(name))
}

/// An activity of a headquarters; `lock` holds its row `FOR UPDATE`.
pub async fn fetch_activity(
    conn: &mut PgConnection,
    campaign_id: &str,
    headquarters_id: &str,
    id: &str,
    lock: bool,
) -> Result<Option<Activity>, ApiError> {
    let row = if lock {
        sqlx::query_as!(
            ActivityRow,
            r#"SELECT a.id, a.campaign_id, a.headquarters_id, h.region_code AS "region_code!",
                      a.kind, a.title, a.start_date, a.end_date, a.place, a.description,
                      a.state, a.outcome_summary, a.outcome_participants, a.outcome_children,
                      a.outcome_time, a.cancel_reason, a.added_after_approval, a.create_time,
                      a.update_time, a.version
               FROM aid.activities a
               JOIN aid.headquarters h
                 ON h.campaign_id = a.campaign_id AND h.id = a.headquarters_id
               WHERE a.campaign_id = $1 AND a.headquarters_id = $2 AND a.id = $3
               FOR UPDATE OF a"#,
            campaign_id,
            headquarters_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            ActivityRow,
            r#"SELECT a.id, a.campaign_id, a.headquarters_id, h.region_code AS "region_code!",
                      a.kind, a.title, a.start_date, a.end_date, a.place, a.description,
                      a.state, a.outcome_summary, a.outcome_participants, a.outcome_children,
                      a.outcome_time, a.cancel_reason, a.added_after_approval, a.create_time,
                      a.update_time, a.version
               FROM aid.activities a
               JOIN aid.headquarters h
                 ON h.campaign_id = a.campaign_id AND h.id = a.headquarters_id
               WHERE a.campaign_id = $1 AND a.headquarters_id = $2 AND a.id = $3"#,
            campaign_id,
            headquarters_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    row.map(Activity::try_from).transpose()
}

async fn reread_activity(conn: &mut PgConnection, a: &Activity) -> Result<Activity, ApiError> {
    fetch_activity(conn, &a.campaign_id, &a.headquarters_id, &a.id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(a.name()))
}

/// Replaces a locked PLANNED activity's plan with `spec`.
pub async fn update_activity(
    conn: &mut PgConnection,
    context: &CallContext,
    a: &Activity,
    spec: &ActivitySpec,
) -> Result<Activity, ApiError> {
    sqlx::query!(
        "UPDATE aid.activities
         SET kind = $2, title = $3, start_date = $4, end_date = $5, place = $6,
             description = $7, update_time = $8, version = version + 1
         WHERE id = $1",
        a.id,
        spec.kind.as_str(),
        spec.title,
        spec.start_date.to_sqlx(),
        spec.end_date.map(|d| d.to_sqlx()) as _,
        spec.place,
        spec.description,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "activity.updated",
        &a.name(),
        json!({ "kind": spec.kind.as_str(), "title": spec.title,
                "start_date": spec.start_date.to_string(),
                "end_date": spec.end_date.map(|d| d.to_string()),
                "place": spec.place }),
    )
    .await?;
    reread_activity(conn, a).await
}

/// Records what happened at a locked PLANNED or HELD activity: HELD with this outcome. The
/// audit record keeps the outcome it replaces.
pub async fn record_outcome(
    conn: &mut PgConnection,
    context: &CallContext,
    a: &Activity,
    summary: &str,
    participants: i32,
    children_reached: i32,
) -> Result<Activity, ApiError> {
    sqlx::query!(
        "UPDATE aid.activities
         SET state = 'HELD', outcome_summary = $2, outcome_participants = $3,
             outcome_children = $4, outcome_time = $5, update_time = $5,
             version = version + 1
         WHERE id = $1",
        a.id,
        summary,
        participants,
        children_reached,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let earlier = a.outcome.as_ref().map(|o| {
        json!({ "summary": o.summary, "participants": o.participants,
                "children_reached": o.children_reached,
                "record_time": o.record_time.to_string() })
    });
    audit::record(
        conn,
        context,
        "activity.outcome_recorded",
        &a.name(),
        json!({ "state": { "from": a.state.as_str(), "to": "HELD" },
                "outcome": { "from": earlier,
                             "to": { "summary": summary, "participants": participants,
                                     "children_reached": children_reached } } }),
    )
    .await?;
    reread_activity(conn, a).await
}

/// Cancels a locked PLANNED activity for `reason`.
pub async fn cancel_activity(
    conn: &mut PgConnection,
    context: &CallContext,
    a: &Activity,
    reason: &str,
) -> Result<Activity, ApiError> {
    sqlx::query!(
        "UPDATE aid.activities
         SET state = 'CANCELLED', cancel_reason = $2, update_time = $3, version = version + 1
         WHERE id = $1",
        a.id,
        reason,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "activity.cancelled",
        &a.name(),
        json!({ "state": { "from": a.state.as_str(), "to": "CANCELLED" }, "reason": reason }),
    )
    .await?;
    reread_activity(conn, a).await
}

impl Store {
    /// A headquarters with its plan's overview.
    pub async fn headquarters(
        &self,
        campaign_id: &str,
        id: &str,
    ) -> Result<Option<Headquarters>, ApiError> {
        self.reads
            .run(async |conn| Ok(fetch_headquarters(conn, campaign_id, id).await?))
            .await
    }

    /// The headquarters of a campaign by region code; the cursor is the last region code.
    pub async fn list_headquarters(
        &self,
        campaign_id: &str,
        size: usize,
        after: Option<String>,
    ) -> Result<Page<Headquarters, String>, ApiError> {
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            HeadquartersRow,
            r#"SELECT h.campaign_id, h.id, h.region_code, h.display_name, h.chair, h.contacts,
                      h.plan_state, h.plan_approval_basis, h.plan_approve_time,
                      n.activities AS "activities!", n.held AS "activities_held!",
                      h.create_time, h.update_time, h.version
               FROM aid.headquarters h
               CROSS JOIN LATERAL (
                   SELECT count(*) AS activities,
                          count(*) FILTER (WHERE a.state = 'HELD') AS held
                   FROM aid.activities a
                   WHERE a.campaign_id = h.campaign_id AND a.headquarters_id = h.id) n
               WHERE h.campaign_id = $1 AND ($2::text IS NULL OR h.region_code > $2)
               ORDER BY h.region_code
               LIMIT $3"#,
            campaign_id,
            after,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let items = rows
            .into_iter()
            .map(Headquarters::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, size, |h| h.region_code.clone()))
    }

    /// Activities of a campaign that `filter` keeps, by start date, then by name.
    pub async fn list_activities(
        &self,
        campaign_id: &str,
        filter: &ActivityFilter,
        size: usize,
        after: Option<ActivityCursor>,
    ) -> Result<Page<Activity, ActivityCursor>, ApiError> {
        let (after_date, after_hq, after_id) = match after {
            Some(c) => (
                Some(c.start_date.to_sqlx()),
                Some(c.headquarters_id),
                Some(c.id),
            ),
            None => (None, None, None),
        };
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            ActivityRow,
            r#"SELECT a.id, a.campaign_id, a.headquarters_id, h.region_code AS "region_code!",
                      a.kind, a.title, a.start_date, a.end_date, a.place, a.description,
                      a.state, a.outcome_summary, a.outcome_participants, a.outcome_children,
                      a.outcome_time, a.cancel_reason, a.added_after_approval, a.create_time,
                      a.update_time, a.version
               FROM aid.activities a
               JOIN aid.headquarters h
                 ON h.campaign_id = a.campaign_id AND h.id = a.headquarters_id
               WHERE a.campaign_id = $1
                 AND ($2::text IS NULL OR a.headquarters_id = $2)
                 AND ($3::text IS NULL OR a.kind = $3)
                 AND ($4::text IS NULL OR a.state = $4)
                 AND ($5::date IS NULL OR coalesce(a.end_date, a.start_date) >= $5)
                 AND ($6::date IS NULL
                      OR (a.start_date, a.headquarters_id, a.id) > ($6, $7::text, $8::text))
               ORDER BY a.start_date, a.headquarters_id, a.id
               LIMIT $9"#,
            campaign_id,
            filter.headquarters,
            filter.kind.map(ActivityKind::as_str),
            filter.state.map(ActivityState::as_str),
            filter.from_date.map(|d| d.to_sqlx()) as _,
            after_date as _,
            after_hq,
            after_id,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let items = rows
            .into_iter()
            .map(Activity::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, size, |a| ActivityCursor {
            start_date: a.start_date,
            headquarters_id: a.headquarters_id.clone(),
            id: a.id.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ActivityState::*;
    use jiff::civil::date;

    #[test]
    fn an_activity_lasts_at_most_31_days_within_the_campaign() {
        let last = date(2023, 9, 30);
        assert!(check_dates(date(2023, 8, 1), None, last).is_ok());
        assert!(check_dates(date(2023, 8, 1), Some(date(2023, 9, 1)), last).is_ok());
        assert!(matches!(
            check_dates(date(2023, 8, 1), Some(date(2023, 9, 2)), last),
            Err(PlanError::Span {
                field: DateField::End,
                ..
            })
        ));
        assert!(matches!(
            check_dates(date(2023, 8, 10), Some(date(2023, 8, 9)), last),
            Err(PlanError::Span {
                field: DateField::End,
                ..
            })
        ));
        assert_eq!(
            check_dates(date(2023, 10, 1), None, last),
            Err(PlanError::DateOutOfRange {
                field: DateField::Start,
                date: date(2023, 10, 1),
                latest: last
            })
        );
        assert!(matches!(
            check_dates(date(2023, 9, 25), Some(date(2023, 10, 2)), last),
            Err(PlanError::DateOutOfRange {
                field: DateField::End,
                ..
            })
        ));
        // A meeting before the campaign's first day prepares it.
        assert!(check_dates(date(2023, 7, 20), None, last).is_ok());
    }

    #[test]
    fn activities_are_held_or_cancelled_from_planned_only() {
        assert!(Planned.ensure_changeable().is_ok());
        assert_eq!(
            Held.ensure_changeable(),
            Err(PlanError::ActivityClosed { state: Held })
        );
        assert!(Cancelled.ensure_changeable().is_err());
        assert!(Planned.ensure_may_hold().is_ok());
        assert!(
            Held.ensure_may_hold().is_ok(),
            "a second outcome replaces the first"
        );
        assert_eq!(
            Cancelled.ensure_may_hold(),
            Err(PlanError::TransitionNotAllowed {
                from: Cancelled,
                to: Held
            })
        );
        assert_eq!(Planned.needs_cancelling(), Ok(true));
        assert_eq!(Cancelled.needs_cancelling(), Ok(false));
        assert!(Held.needs_cancelling().is_err());
    }

    #[test]
    fn an_outcome_is_due_from_the_first_day_and_a_plan_needs_an_activity() {
        assert!(ensure_due(date(2023, 8, 20), date(2023, 8, 19)).is_err());
        assert!(ensure_due(date(2023, 8, 20), date(2023, 8, 20)).is_ok());
        assert_eq!(ensure_plan_not_empty(0), Err(PlanError::PlanEmpty));
        assert!(ensure_plan_not_empty(1).is_ok());
    }
}
