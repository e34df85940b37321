//! Needs of listed children and the help delivered against them (rule 3), and the
//! refusals of needs, help and donations ([`MoneyError`]).
//!
//! A need's running sums live on its row: `committed_tiyn` (open allocations less what was
//! released, and budget help) and `delivered_tiyn`; CHECK constraints bind them to the
//! coverage limit, so the database refuses an over-covered need even from a faulty writer.
//! Every change locks the need's row — after the donation's, when a donation is involved —
//! and re-reads the sums under that lock before checking them. A child appears here only by
//! its random ID, school and region: no query of this module reads a name or an IIN.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::error::{ApiError, reason as kit_reason};
use edu_kit::paging::Page;
use edu_kit::{CallContext, audit, etag, resource};

use super::events::{self, EventKind};
use super::{Store, Visibility, campaigns, corrupt};

/// The largest estimate, limit or help value of one need, in tiyn (1 000 000 ₸).
pub const MAX_NEED_TIYN: i64 = 100_000_000;

/// A refusal by the rules of needs, help and donations (rules 3 and 4). Texts never hold a
/// child's name or IIN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The child already has a need of this item (other than `OTHER`).
    #[error("the child already has a need of this item: {need}")]
    NeedExists {
        /// The existing need's resource name.
        need: String,
    },
    /// An estimate or limit below what is already committed.
    #[error("{committed_tiyn} tiyn are committed to the need; its limit may not go below that")]
    NeedBelowCommitted {
        /// What is committed, in tiyn.
        committed_tiyn: i64,
    },
    /// A commitment that would take the need past its coverage limit.
    #[error("the need's coverage limit is {limit_tiyn} tiyn and {committed_tiyn} are committed")]
    NeedOverCovered {
        /// The coverage limit, in tiyn.
        limit_tiyn: i64,
        /// What is committed, in tiyn.
        committed_tiyn: i64,
    },
    /// The child's record was merged into another; it is read-only.
    #[error("the child's record was merged into {merged_into}")]
    ChildMerged {
        /// The surviving record's resource name.
        merged_into: String,
    },
    /// The child's record was removed.
    #[error("the child's record was removed")]
    ChildRemoved,
    /// A date outside the days it may fall on.
    #[error("{field} must fall between {earliest} and {latest}")]
    DateOutOfRange {
        /// The request field.
        field: &'static str,
        /// The first day allowed.
        earliest: Date,
        /// The last day allowed.
        latest: Date,
    },
    /// Help drawing on an allocation to another need.
    #[error("the allocation is to another need")]
    AllocationNotForNeed,
    /// Help worth more than the allocation has left to deliver, or from a released one.
    #[error("the allocation is {state} with {undelivered_tiyn} tiyn left to deliver")]
    AllocationInsufficient {
        /// What is left to deliver, in tiyn.
        undelivered_tiyn: i64,
        /// The allocation's state.
        state: &'static str,
    },
    /// Allocating from a donation that was not received.
    #[error("the donation is {state}; only received value is allocated")]
    DonationNotReceived {
        /// The donation's state.
        state: &'static str,
    },
    /// Allocating more than the donation has left.
    #[error("the donation has {available_tiyn} tiyn left to allocate")]
    DonationInsufficient {
        /// What is left to allocate, in tiyn.
        available_tiyn: i64,
    },
    /// A need of a child outside the donation's region.
    #[error("the donation goes to {donation_region}; the need is in {need_region}")]
    RegionMismatch {
        /// The donation's region.
        donation_region: String,
        /// The child's region.
        need_region: String,
    },
    /// A state machine refused a step.
    #[error("{state} cannot become {to}")]
    TransitionNotAllowed {
        /// The current state.
        state: &'static str,
        /// The state asked for.
        to: &'static str,
    },
}

/// What a child needs for school.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NeedItem {
    /// School uniform.
    Uniform,
    /// Shoes.
    Shoes,
    /// A backpack.
    Backpack,
    /// Stationery.
    Stationery,
    /// Textbooks.
    Textbooks,
    /// Cash help to the family.
    Cash,
    /// Anything else, described.
    Other,
}

impl NeedItem {
    /// Every item, in the order of the API's enum (the order of listings).
    pub const ALL: [NeedItem; 7] = [
        NeedItem::Uniform,
        NeedItem::Shoes,
        NeedItem::Backpack,
        NeedItem::Stationery,
        NeedItem::Textbooks,
        NeedItem::Cash,
        NeedItem::Other,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            NeedItem::Uniform => "UNIFORM",
            NeedItem::Shoes => "SHOES",
            NeedItem::Backpack => "BACKPACK",
            NeedItem::Stationery => "STATIONERY",
            NeedItem::Textbooks => "TEXTBOOKS",
            NeedItem::Cash => "CASH",
            NeedItem::Other => "OTHER",
        }
    }

    /// The item a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.as_str() == raw)
    }

    fn stored(raw: &str) -> Result<Self, ApiError> {
        Self::parse(raw).ok_or_else(|| corrupt("need item", raw))
    }
}

/// How far delivered help covers a need's estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Nothing delivered.
    Uncovered,
    /// Delivered less than the estimate.
    PartlyCovered,
    /// Delivered at least the estimate.
    Covered,
}

impl Coverage {
    /// The name the listing filter compares.
    pub fn as_str(self) -> &'static str {
        match self {
            Coverage::Uncovered => "UNCOVERED",
            Coverage::PartlyCovered => "PARTLY_COVERED",
            Coverage::Covered => "COVERED",
        }
    }
}

/// A raised coverage limit, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverageOverride {
    /// The limit, in tiyn.
    pub limit_tiyn: i64,
    /// Why.
    pub reason: String,
    /// Who: the token subject.
    pub actor: String,
    /// When.
    pub time: Timestamp,
}

/// A need of a child, with its running sums and its child's school and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// Its ID.
    pub id: String,
    /// Its campaign.
    pub campaign_id: String,
    /// Its child's ID.
    pub child_id: String,
    /// The child's school.
    pub school_id: String,
    /// The child's region.
    pub region_code: String,
    /// What is needed.
    pub item: NeedItem,
    /// Details.
    pub description: String,
    /// The estimated value, in tiyn.
    pub estimated_tiyn: i64,
    /// The raised limit, when there is one.
    pub coverage_override: Option<CoverageOverride>,
    /// Committed: open allocations less what was released, and budget help.
    pub committed_tiyn: i64,
    /// Delivered from every source.
    pub delivered_tiyn: i64,
    /// Recorded.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
}

impl Need {
    /// Its resource name.
    pub fn name(&self) -> String {
        need_name(&self.campaign_id, &self.child_id, &self.id)
    }

    /// The most that may be committed: the estimate, or the override's limit when higher.
    pub fn limit_tiyn(&self) -> i64 {
        self.coverage_override
            .as_ref()
            .map_or(self.estimated_tiyn, |o| {
                o.limit_tiyn.max(self.estimated_tiyn)
            })
    }

    /// How far delivered help covers the estimate.
    pub fn coverage(&self) -> Coverage {
        if self.delivered_tiyn == 0 {
            Coverage::Uncovered
        } else if self.delivered_tiyn < self.estimated_tiyn {
            Coverage::PartlyCovered
        } else {
            Coverage::Covered
        }
    }

    /// `value` more may be committed without passing the limit.
    pub fn ensure_headroom(&self, value: i64) -> Result<(), MoneyError> {
        if value > self.limit_tiyn() - self.committed_tiyn {
            Err(MoneyError::NeedOverCovered {
                limit_tiyn: self.limit_tiyn(),
                committed_tiyn: self.committed_tiyn,
            })
        } else {
            Ok(())
        }
    }
}

/// The parts of a need's resource name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedKey {
    /// The campaign.
    pub campaign: String,
    /// The child.
    pub child: String,
    /// The need.
    pub id: String,
}

impl NeedKey {
    /// Its resource name.
    pub fn name(&self) -> String {
        need_name(&self.campaign, &self.child, &self.id)
    }
}

/// What needs and donations know of a child: where it is listed and its state, never a
/// name, a birth date or an IIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildRef {
    /// Its ID.
    pub id: String,
    /// Its campaign.
    pub campaign_id: String,
    /// The school that lists it.
    pub school_id: String,
    /// The school's region.
    pub region_code: String,
    /// `ACTIVE`, `MERGED` or `REMOVED`.
    pub state: String,
    /// The surviving record, when merged.
    pub merged_into: Option<String>,
}

impl ChildRef {
    /// Needs, help and allocations change only for an active record.
    pub fn ensure_active(&self) -> Result<(), MoneyError> {
        match (self.state.as_str(), &self.merged_into) {
            ("MERGED", Some(into)) => Err(MoneyError::ChildMerged {
                merged_into: child_name(&self.campaign_id, into),
            }),
            ("REMOVED", _) => Err(MoneyError::ChildRemoved),
            _ => Ok(()),
        }
    }
}

/// `campaigns/{campaign}/children/{child}`.
pub fn child_name(campaign: &str, child: &str) -> String {
    format!("campaigns/{campaign}/children/{child}")
}

/// `campaigns/{campaign}/children/{child}/needs/{need}`.
pub fn need_name(campaign: &str, child: &str, need: &str) -> String {
    format!("campaigns/{campaign}/children/{child}/needs/{need}")
}

/// Whether `vis` reaches the children of `school` in `region`.
pub fn sees(vis: &Visibility, school: &str, region: &str) -> bool {
    vis.all || vis.schools.iter().any(|s| s == school) || vis.regions.iter().any(|r| r == region)
}

/// A child of `campaign` as needs see it; `lock` holds its row `FOR SHARE`, so that it is
/// not removed or merged while a need is recorded for it.
pub async fn child(
    conn: &mut PgConnection,
    campaign: &str,
    id: &str,
    lock: bool,
) -> Result<Option<ChildRef>, ApiError> {
    let found = if lock {
        sqlx::query_as!(
            ChildRef,
            "SELECT id, campaign_id, school_id, region_code, state, merged_into
             FROM aid.children WHERE id = $1 AND campaign_id = $2 FOR SHARE",
            id,
            campaign
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            ChildRef,
            "SELECT id, campaign_id, school_id, region_code, state, merged_into
             FROM aid.children WHERE id = $1 AND campaign_id = $2",
            id,
            campaign
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    Ok(found)
}

struct NeedRow {
    id: String,
    campaign_id: String,
    child_id: String,
    school_id: String,
    region_code: String,
    item: String,
    description: String,
    estimated_tiyn: i64,
    override_limit_tiyn: Option<i64>,
    override_reason: Option<String>,
    override_actor: Option<String>,
    override_time: Option<jiff_sqlx::Timestamp>,
    committed_tiyn: i64,
    delivered_tiyn: i64,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

impl TryFrom<NeedRow> for Need {
    type Error = ApiError;

    fn try_from(r: NeedRow) -> Result<Need, ApiError> {
        let coverage_override = match (
            r.override_limit_tiyn,
            r.override_reason,
            r.override_actor,
            r.override_time,
        ) {
            (Some(limit_tiyn), Some(reason), Some(actor), Some(time)) => Some(CoverageOverride {
                limit_tiyn,
                reason,
                actor,
                time: time.to_jiff(),
            }),
            _ => None,
        };
        Ok(Need {
            item: NeedItem::stored(&r.item)?,
            id: r.id,
            campaign_id: r.campaign_id,
            child_id: r.child_id,
            school_id: r.school_id,
            region_code: r.region_code,
            description: r.description,
            estimated_tiyn: r.estimated_tiyn,
            coverage_override,
            committed_tiyn: r.committed_tiyn,
            delivered_tiyn: r.delivered_tiyn,
            create_time: r.create_time.to_jiff(),
            update_time: r.update_time.to_jiff(),
            version: r.version,
        })
    }
}

/// A need; `lock` holds its row `FOR UPDATE` (never its child's).
pub async fn fetch(
    conn: &mut PgConnection,
    key: &NeedKey,
    lock: bool,
) -> Result<Option<Need>, ApiError> {
    let row = if lock {
        sqlx::query_as!(
            NeedRow,
            "SELECT n.id, n.campaign_id, n.child_id, c.school_id, c.region_code, n.item,
                    n.description, n.estimated_tiyn, n.override_limit_tiyn, n.override_reason,
                    n.override_actor, n.override_time, n.committed_tiyn, n.delivered_tiyn,
                    n.create_time, n.update_time, n.version
             FROM aid.needs n JOIN aid.children c ON c.id = n.child_id
             WHERE n.id = $1 AND n.child_id = $2 AND n.campaign_id = $3
             FOR UPDATE OF n",
            key.id,
            key.child,
            key.campaign
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            NeedRow,
            "SELECT n.id, n.campaign_id, n.child_id, c.school_id, c.region_code, n.item,
                    n.description, n.estimated_tiyn, n.override_limit_tiyn, n.override_reason,
                    n.override_actor, n.override_time, n.committed_tiyn, n.delivered_tiyn,
                    n.create_time, n.update_time, n.version
             FROM aid.needs n JOIN aid.children c ON c.id = n.child_id
             WHERE n.id = $1 AND n.child_id = $2 AND n.campaign_id = $3",
            key.id,
            key.child,
            key.campaign
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    row.map(Need::try_from).transpose()
}

/// A need `visible` to the caller, locked `FOR UPDATE` when `lock`; `NOT_FOUND` otherwise.
async fn visible_need(
    conn: &mut PgConnection,
    key: &NeedKey,
    lock: bool,
    visible: impl FnOnce(&Need) -> bool,
) -> Result<Need, ApiError> {
    fetch(conn, key, lock)
        .await?
        .filter(visible)
        .ok_or_else(|| ApiError::not_found(key.name()))
}

/// What CreateNeed records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNeed {
    /// What is needed.
    pub item: NeedItem,
    /// Details.
    pub description: String,
    /// The estimate, in tiyn, 1 to [`MAX_NEED_TIYN`].
    pub estimated_tiyn: i64,
}

/// Records a need of child `child` of `campaign`, which `visible` says the caller sees
/// (`NOT_FOUND` otherwise): the child must be active, the campaign not ended, and the item
/// not yet needed by the child (but `OTHER`).
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    campaign: &str,
    child_id: &str,
    visible: impl FnOnce(&ChildRef) -> bool,
    spec: &NewNeed,
) -> Result<Need, ApiError> {
    let found = child(conn, campaign, child_id, true)
        .await?
        .filter(visible)
        .ok_or_else(|| ApiError::not_found(child_name(campaign, child_id)))?;
    found.ensure_active()?;
    campaigns::get(conn, campaign, false)
        .await?
        .ensure_not_ended(context.now())?;
    let id = resource::new_id();
    let inserted = sqlx::query!(
        "INSERT INTO aid.needs (id, campaign_id, child_id, item, description, estimated_tiyn,
                                create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
         ON CONFLICT DO NOTHING",
        id,
        campaign,
        child_id,
        spec.item.as_str(),
        spec.description,
        spec.estimated_tiyn,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        let existing = sqlx::query_scalar!(
            "SELECT id FROM aid.needs WHERE child_id = $1 AND item = $2 AND item <> 'OTHER'",
            child_id,
            spec.item.as_str()
        )
        .fetch_one(&mut *conn)
        .await?;
        return Err(MoneyError::NeedExists {
            need: need_name(campaign, child_id, &existing),
        }
        .into());
    }
    let key = NeedKey {
        campaign: campaign.to_string(),
        child: child_id.to_string(),
        id,
    };
    audit::record(
        conn,
        context,
        "need.created",
        &key.name(),
        json!({ "item": spec.item.as_str(), "estimated_value_tiyn": spec.estimated_tiyn }),
    )
    .await?;
    visible_need(conn, &key, false, |_| true).await
}

/// Changes a need's description and estimate (each when `Some`). `check` refuses a caller
/// who may not (`NOT_FOUND` when it does not see the need). The estimate may not leave the
/// limit below what is committed.
pub async fn update(
    conn: &mut PgConnection,
    context: &CallContext,
    key: &NeedKey,
    supplied_etag: &str,
    check: impl FnOnce(&Need) -> Result<(), ApiError>,
    description: Option<&str>,
    estimated_tiyn: Option<i64>,
) -> Result<Need, ApiError> {
    let need = fetch(conn, key, true)
        .await?
        .ok_or_else(|| ApiError::not_found(key.name()))?;
    check(&need)?;
    etag::check(supplied_etag, need.version, &key.name())?;
    active_child(conn, &need).await?;
    campaigns::get(conn, &need.campaign_id, false)
        .await?
        .ensure_not_ended(context.now())?;
    let description = description.unwrap_or(&need.description);
    if need.item == NeedItem::Other && description.is_empty() {
        return Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            "need.description",
            "required for OTHER",
        ));
    }
    let estimated = estimated_tiyn.unwrap_or(need.estimated_tiyn);
    let limit = need
        .coverage_override
        .as_ref()
        .map_or(estimated, |o| o.limit_tiyn.max(estimated));
    if limit < need.committed_tiyn {
        return Err(MoneyError::NeedBelowCommitted {
            committed_tiyn: need.committed_tiyn,
        }
        .into());
    }
    sqlx::query!(
        "UPDATE aid.needs
         SET description = $2, estimated_tiyn = $3, update_time = $4, version = version + 1
         WHERE id = $1",
        need.id,
        description,
        estimated,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "need.updated",
        &key.name(),
        json!({ "estimated_value_tiyn": { "from": need.estimated_tiyn, "to": estimated },
                "description_changed": description != need.description }),
    )
    .await?;
    visible_need(conn, key, false, |_| true).await
}

/// Raises a need's coverage limit to `limit_tiyn` (above the estimate, not below what is
/// committed), recording who, when and why. `check` refuses a caller who may not.
pub async fn override_coverage(
    conn: &mut PgConnection,
    context: &CallContext,
    key: &NeedKey,
    supplied_etag: &str,
    check: impl FnOnce(&Need) -> Result<(), ApiError>,
    limit_tiyn: i64,
    reason: &str,
) -> Result<Need, ApiError> {
    let need = fetch(conn, key, true)
        .await?
        .ok_or_else(|| ApiError::not_found(key.name()))?;
    check(&need)?;
    etag::check(supplied_etag, need.version, &key.name())?;
    active_child(conn, &need).await?;
    campaigns::get(conn, &need.campaign_id, false)
        .await?
        .ensure_not_ended(context.now())?;
    if limit_tiyn <= need.estimated_tiyn {
        return Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            "limit_tiyn",
            format!("must be above the estimate, {} tiyn", need.estimated_tiyn),
        ));
    }
    if limit_tiyn < need.committed_tiyn {
        return Err(MoneyError::NeedBelowCommitted {
            committed_tiyn: need.committed_tiyn,
        }
        .into());
    }
    let actor = context
        .caller_if_any()
        .map(|c| c.subject().to_string())
        .unwrap_or_else(|| audit::ANONYMOUS.to_string());
    sqlx::query!(
        "UPDATE aid.needs
         SET override_limit_tiyn = $2, override_reason = $3, override_actor = $4,
             override_time = $5, update_time = $5, version = version + 1
         WHERE id = $1",
        need.id,
        limit_tiyn,
        reason,
        actor,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "need.coverage_overridden",
        &key.name(),
        json!({ "limit_tiyn": { "from": need.limit_tiyn(), "to": limit_tiyn },
                "reason": reason }),
    )
    .await?;
    visible_need(conn, key, false, |_| true).await
}

/// The need's child must be active.
async fn active_child(conn: &mut PgConnection, need: &Need) -> Result<(), ApiError> {
    child(conn, &need.campaign_id, &need.child_id, false)
        .await?
        .ok_or_else(|| corrupt("need's child", &need.child_id))?
        .ensure_active()?;
    Ok(())
}

/// Where help came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelpFrom {
    /// An allocation of a donation to the same need.
    Allocation {
        /// The donation.
        donation: String,
        /// The allocation.
        id: String,
    },
    /// The budget, named.
    Budget(String),
}

/// What RecordHelpDelivery records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHelp {
    /// The source.
    pub from: HelpFrom,
    /// Its value, in tiyn, 1 to [`MAX_NEED_TIYN`].
    pub value_tiyn: i64,
    /// The day it was handed over.
    pub delivery_date: Date,
    /// What was handed over.
    pub description: String,
}

/// Help delivered against a need, with the need's item and its child's school and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpDelivery {
    /// Its ID.
    pub id: String,
    /// The campaign.
    pub campaign_id: String,
    /// The child.
    pub child_id: String,
    /// The need.
    pub need_id: String,
    /// The allocation drawn on, for help from a donation.
    pub allocation_id: Option<String>,
    /// The donation, for help from a donation.
    pub donation_id: Option<String>,
    /// The budget, for budget help.
    pub budget_source: String,
    /// Its value, in tiyn.
    pub value_tiyn: i64,
    /// The day it was handed over.
    pub delivery_date: Date,
    /// What was handed over.
    pub description: String,
    /// The need's item.
    pub item: NeedItem,
    /// The child's school.
    pub school_id: String,
    /// The child's region.
    pub region_code: String,
    /// Recorded.
    pub create_time: Timestamp,
}

impl HelpDelivery {
    /// Its resource name.
    pub fn name(&self) -> String {
        format!(
            "{}/helpDeliveries/{}",
            need_name(&self.campaign_id, &self.child_id, &self.need_id),
            self.id
        )
    }
}

struct HelpRow {
    id: String,
    campaign_id: String,
    child_id: String,
    need_id: String,
    allocation_id: Option<String>,
    donation_id: Option<String>,
    budget_source: String,
    value_tiyn: i64,
    delivery_date: jiff_sqlx::Date,
    description: String,
    item: String,
    school_id: String,
    region_code: String,
    create_time: jiff_sqlx::Timestamp,
}

impl TryFrom<HelpRow> for HelpDelivery {
    type Error = ApiError;

    fn try_from(r: HelpRow) -> Result<HelpDelivery, ApiError> {
        Ok(HelpDelivery {
            item: NeedItem::stored(&r.item)?,
            id: r.id,
            campaign_id: r.campaign_id,
            child_id: r.child_id,
            need_id: r.need_id,
            allocation_id: r.allocation_id,
            donation_id: r.donation_id,
            budget_source: r.budget_source,
            value_tiyn: r.value_tiyn,
            delivery_date: r.delivery_date.to_jiff(),
            description: r.description,
            school_id: r.school_id,
            region_code: r.region_code,
            create_time: r.create_time.to_jiff(),
        })
    }
}

/// The allocation help draws on, as help needs it.
struct DrawnAllocation {
    need_id: String,
    school_id: String,
    region_code: String,
    state: String,
    value_tiyn: i64,
    delivered_tiyn: i64,
    released_tiyn: i64,
}

fn allocation_state(raw: &str) -> Result<&'static str, ApiError> {
    ["OPEN", "DELIVERED", "RELEASED"]
        .into_iter()
        .find(|s| *s == raw)
        .ok_or_else(|| corrupt("allocation state", raw))
}

/// Records help delivered against need `key`, which `visible` says the caller sees
/// (`NOT_FOUND` otherwise), and the event `HELP_DELIVERED`. Help from an allocation draws
/// on it (the donation, the need and the allocation are locked in that order, and the
/// value must not pass what the allocation has left to deliver); budget help commits its
/// value to the need, within its limit. `sees_child(school, region)` says whether the
/// caller may learn that an allocation it names is to another need.
pub async fn record_help(
    conn: &mut PgConnection,
    context: &CallContext,
    key: &NeedKey,
    visible: impl FnOnce(&Need) -> bool,
    sees_child: impl FnOnce(&str, &str) -> bool,
    help: &NewHelp,
) -> Result<HelpDelivery, ApiError> {
    let now = context.now();
    let campaign = campaigns::fetch(conn, &key.campaign, false)
        .await?
        .ok_or_else(|| ApiError::not_found(key.name()))?;
    let (earliest, latest) = (campaign.start_date, campaign.today(now));
    if help.delivery_date < earliest || help.delivery_date > latest {
        return Err(MoneyError::DateOutOfRange {
            field: "help_delivery.delivery_date",
            earliest,
            latest,
        }
        .into());
    }
    // Lock order: the donation, then the need, then the allocation.
    let donation_found = match &help.from {
        HelpFrom::Allocation { donation, .. } => sqlx::query_scalar!(
            "SELECT id FROM aid.donations WHERE id = $1 AND campaign_id = $2 FOR UPDATE",
            donation,
            key.campaign
        )
        .fetch_optional(&mut *conn)
        .await?
        .is_some(),
        HelpFrom::Budget(_) => false,
    };
    let need = visible_need(conn, key, true, visible).await?;
    active_child(conn, &need).await?;
    let (allocation_id, donation_id, budget_source) = match &help.from {
        HelpFrom::Allocation { donation, id } => {
            let allocation_name = format!(
                "campaigns/{}/donations/{donation}/allocations/{id}",
                key.campaign
            );
            let drawn = if donation_found {
                sqlx::query_as!(
                    DrawnAllocation,
                    "SELECT a.need_id, c.school_id, c.region_code, a.state, a.value_tiyn,
                            a.delivered_tiyn, a.released_tiyn
                     FROM aid.allocations a JOIN aid.children c ON c.id = a.child_id
                     WHERE a.id = $1 AND a.donation_id = $2
                     FOR UPDATE OF a",
                    id,
                    donation
                )
                .fetch_optional(&mut *conn)
                .await?
            } else {
                None
            };
            let drawn = drawn.ok_or_else(|| ApiError::not_found(allocation_name.clone()))?;
            if drawn.need_id != need.id {
                return Err(if sees_child(&drawn.school_id, &drawn.region_code) {
                    MoneyError::AllocationNotForNeed.into()
                } else {
                    ApiError::not_found(allocation_name)
                });
            }
            let state = allocation_state(&drawn.state)?;
            let undelivered = if state == "OPEN" {
                drawn.value_tiyn - drawn.delivered_tiyn - drawn.released_tiyn
            } else {
                0
            };
            if help.value_tiyn > undelivered {
                return Err(MoneyError::AllocationInsufficient {
                    undelivered_tiyn: undelivered,
                    state,
                }
                .into());
            }
            sqlx::query!(
                "UPDATE aid.allocations
                 SET delivered_tiyn = delivered_tiyn + $2,
                     state = CASE WHEN delivered_tiyn + $2 = value_tiyn THEN 'DELIVERED'
                                  ELSE 'OPEN' END,
                     last_delivery_date = GREATEST(last_delivery_date, $3),
                     update_time = $4, version = version + 1
                 WHERE id = $1",
                id,
                help.value_tiyn,
                help.delivery_date.to_sqlx(),
                now.to_sqlx(),
            )
            .execute(&mut *conn)
            .await?;
            sqlx::query!(
                "UPDATE aid.donations
                 SET delivered_tiyn = delivered_tiyn + $2, update_time = $3,
                     version = version + 1
                 WHERE id = $1",
                donation,
                help.value_tiyn,
                now.to_sqlx(),
            )
            .execute(&mut *conn)
            .await?;
            sqlx::query!(
                "UPDATE aid.needs
                 SET delivered_tiyn = delivered_tiyn + $2, update_time = $3,
                     version = version + 1
                 WHERE id = $1",
                need.id,
                help.value_tiyn,
                now.to_sqlx(),
            )
            .execute(&mut *conn)
            .await?;
            (Some(id.clone()), Some(donation.clone()), String::new())
        }
        HelpFrom::Budget(source) => {
            need.ensure_headroom(help.value_tiyn)?;
            sqlx::query!(
                "UPDATE aid.needs
                 SET committed_tiyn = committed_tiyn + $2, delivered_tiyn = delivered_tiyn + $2,
                     update_time = $3, version = version + 1
                 WHERE id = $1",
                need.id,
                help.value_tiyn,
                now.to_sqlx(),
            )
            .execute(&mut *conn)
            .await?;
            (None, None, source.clone())
        }
    };
    let delivery = HelpDelivery {
        id: resource::new_id(),
        campaign_id: need.campaign_id.clone(),
        child_id: need.child_id.clone(),
        need_id: need.id.clone(),
        allocation_id,
        donation_id,
        budget_source,
        value_tiyn: help.value_tiyn,
        delivery_date: help.delivery_date,
        description: help.description.clone(),
        item: need.item,
        school_id: need.school_id.clone(),
        region_code: need.region_code.clone(),
        create_time: now,
    };
    sqlx::query!(
        "INSERT INTO aid.help_deliveries (id, campaign_id, need_id, source, allocation_id,
                                          donation_id, budget_source, value_tiyn,
                                          delivery_date, description, create_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        delivery.id,
        delivery.campaign_id,
        delivery.need_id,
        if delivery.allocation_id.is_some() {
            "DONATION"
        } else {
            "BUDGET"
        },
        delivery.allocation_id,
        delivery.donation_id,
        delivery.budget_source,
        delivery.value_tiyn,
        delivery.delivery_date.to_sqlx(),
        delivery.description,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let name = delivery.name();
    events::record(
        conn,
        EventKind::HelpDelivered,
        &name,
        &delivery.campaign_id,
        &delivery.region_code,
        now,
    )
    .await?;
    audit::record(
        conn,
        context,
        "help.delivered",
        &name,
        json!({ "value_tiyn": delivery.value_tiyn,
                "source": if delivery.allocation_id.is_some() { "DONATION" } else { "BUDGET" },
                "allocation": delivery.allocation_id,
                "donation": delivery.donation_id,
                "delivery_date": delivery.delivery_date.to_string() }),
    )
    .await?;
    Ok(delivery)
}

/// Estimated, committed and delivered tiyn of the needs of each of `child_ids` (children
/// without needs are left out).
pub async fn totals_for_children(
    conn: &mut PgConnection,
    child_ids: &[String],
) -> Result<HashMap<String, (i64, i64, i64)>, ApiError> {
    let rows = sqlx::query!(
        r#"SELECT child_id,
                  SUM(estimated_tiyn)::bigint AS "estimated!",
                  SUM(committed_tiyn)::bigint AS "committed!",
                  SUM(delivered_tiyn)::bigint AS "delivered!"
           FROM aid.needs WHERE child_id = ANY ($1)
           GROUP BY child_id"#,
        child_ids
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.child_id, (r.estimated, r.committed, r.delivered)))
        .collect())
}

/// The needs of each of the ACTIVE records `roots` and of the records merged into it (down
/// its chains of merges), each with the root it counts for: by root, then by item (in the
/// API's order), then by name.
pub async fn of_records(
    conn: &mut PgConnection,
    roots: &[String],
) -> Result<Vec<(String, Need)>, ApiError> {
    let rows = sqlx::query!(
        r#"WITH RECURSIVE tree (child_id, root_id) AS (
               SELECT c.id, c.id FROM aid.children c WHERE c.id = ANY ($1)
               UNION ALL
               SELECT c.id, t.root_id
               FROM aid.children c JOIN tree t ON c.merged_into = t.child_id
               WHERE c.state = 'MERGED'
           )
           SELECT t.root_id AS "root_id!", n.id, n.campaign_id, n.child_id, c.school_id,
                  c.region_code, n.item, n.description, n.estimated_tiyn,
                  n.override_limit_tiyn, n.override_reason, n.override_actor,
                  n.override_time, n.committed_tiyn, n.delivered_tiyn, n.create_time,
                  n.update_time, n.version
           FROM tree t
           JOIN aid.needs n ON n.child_id = t.child_id
           JOIN aid.children c ON c.id = n.child_id
           ORDER BY t.root_id,
                    array_position(ARRAY['UNIFORM', 'SHOES', 'BACKPACK', 'STATIONERY',
                                         'TEXTBOOKS', 'CASH', 'OTHER'], n.item),
                    n.child_id, n.id"#,
        roots
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            let need = Need::try_from(NeedRow {
                id: r.id,
                campaign_id: r.campaign_id,
                child_id: r.child_id,
                school_id: r.school_id,
                region_code: r.region_code,
                item: r.item,
                description: r.description,
                estimated_tiyn: r.estimated_tiyn,
                override_limit_tiyn: r.override_limit_tiyn,
                override_reason: r.override_reason,
                override_actor: r.override_actor,
                override_time: r.override_time,
                committed_tiyn: r.committed_tiyn,
                delivered_tiyn: r.delivered_tiyn,
                create_time: r.create_time,
                update_time: r.update_time,
                version: r.version,
            })?;
            Ok((r.root_id, need))
        })
        .collect()
}

/// The help delivered against the needs [`of_records`] gives for `roots`, each with the
/// root it counts for: per root the newest `per_root` (by delivery date, then recording
/// time, then ID, all descending), by root.
pub async fn help_of_records(
    conn: &mut PgConnection,
    roots: &[String],
    per_root: i64,
) -> Result<Vec<(String, HelpDelivery)>, ApiError> {
    let rows = sqlx::query!(
        r#"WITH RECURSIVE tree (child_id, root_id) AS (
               SELECT c.id, c.id FROM aid.children c WHERE c.id = ANY ($1)
               UNION ALL
               SELECT c.id, t.root_id
               FROM aid.children c JOIN tree t ON c.merged_into = t.child_id
               WHERE c.state = 'MERGED'
           ), ranked AS (
               SELECT t.root_id, h.id, h.campaign_id, n.child_id, h.need_id, h.allocation_id,
                      h.donation_id, h.budget_source, h.value_tiyn, h.delivery_date,
                      h.description, n.item, c.school_id, c.region_code, h.create_time,
                      row_number() OVER (PARTITION BY t.root_id
                                         ORDER BY h.delivery_date DESC, h.create_time DESC,
                                                  h.id DESC) AS rank
               FROM tree t
               JOIN aid.needs n ON n.child_id = t.child_id
               JOIN aid.help_deliveries h ON h.need_id = n.id
               JOIN aid.children c ON c.id = n.child_id
           )
           SELECT root_id AS "root_id!", id AS "id!", campaign_id AS "campaign_id!",
                  child_id AS "child_id!", need_id AS "need_id!", allocation_id,
                  donation_id, budget_source AS "budget_source!",
                  value_tiyn AS "value_tiyn!", delivery_date AS "delivery_date!",
                  description AS "description!", item AS "item!",
                  school_id AS "school_id!", region_code AS "region_code!",
                  create_time AS "create_time!"
           FROM ranked WHERE rank <= $2
           ORDER BY root_id, rank"#,
        roots,
        per_root,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            let help = HelpDelivery::try_from(HelpRow {
                id: r.id,
                campaign_id: r.campaign_id,
                child_id: r.child_id,
                need_id: r.need_id,
                allocation_id: r.allocation_id,
                donation_id: r.donation_id,
                budget_source: r.budget_source,
                value_tiyn: r.value_tiyn,
                delivery_date: r.delivery_date,
                description: r.description,
                item: r.item,
                school_id: r.school_id,
                region_code: r.region_code,
                create_time: r.create_time,
            })?;
            Ok((r.root_id, help))
        })
        .collect()
}

/// Where a page of needs ends: its last need's child, item and ID. The child's place in
/// the order is read from the child's record, so no name travels in a page token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedCursor {
    /// The last need's child.
    pub child: String,
    /// Its item's rank, 1 for `UNIFORM`.
    pub rank: i32,
    /// Its ID.
    pub id: String,
}

/// The filters of a listing of needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NeedFilter {
    /// Only the needs of this child.
    pub child: Option<String>,
    /// Only those of this school's children.
    pub school: Option<String>,
    /// Only those of this region's children.
    pub region: Option<String>,
    /// Only needs of this item.
    pub item: Option<NeedItem>,
    /// Only needs with this coverage.
    pub coverage: Option<Coverage>,
    /// Only needs with headroom under their limit.
    pub open_for_allocation_only: bool,
}

/// Where a page of help deliveries ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpCursor {
    /// The last delivery's date.
    pub date: Date,
    /// Its ID.
    pub id: String,
}

/// The filters of a listing of help deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelpFilter {
    /// Only the deliveries against this need.
    pub need: Option<String>,
    /// Only those drawing on this allocation (of this donation).
    pub allocation: Option<(String, String)>,
    /// Only those from donations (`true`) or the budget (`false`).
    pub from_donation: Option<bool>,
}

impl Store {
    /// A need `visible` to the caller, or `NOT_FOUND`.
    pub async fn need(
        &self,
        key: &NeedKey,
        visible: impl FnOnce(&Need) -> bool,
    ) -> Result<Need, ApiError> {
        self.reads
            .run(async |conn| Ok(visible_need(conn, key, false, visible).await?))
            .await
    }

    /// A child of `campaign` as needs see it.
    pub async fn need_child(&self, campaign: &str, id: &str) -> Result<Option<ChildRef>, ApiError> {
        self.reads
            .run(async |conn| Ok(child(conn, campaign, id, false).await?))
            .await
    }

    /// The needs of `campaign` that `vis` reaches, by child as ChildService.ListChildren
    /// orders them (school, grade, family, given and patronymic names in Kazakh order, a
    /// missing value first, then ID), then by item and ID. The page token holds the last
    /// need's child ID, never a name: the child's place is read from its record.
    pub async fn list_needs(
        &self,
        campaign: &str,
        vis: &Visibility,
        filter: &NeedFilter,
        size: usize,
        after: Option<NeedCursor>,
    ) -> Result<Page<Need, NeedCursor>, ApiError> {
        let (after_child, after_rank, after_id) = match after {
            Some(c) => (Some(c.child), Some(c.rank), Some(c.id)),
            None => (None, None, None),
        };
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            NeedRow,
            r#"SELECT n.id, n.campaign_id, n.child_id, c.school_id, c.region_code, n.item,
                      n.description, n.estimated_tiyn, n.override_limit_tiyn, n.override_reason,
                      n.override_actor, n.override_time, n.committed_tiyn, n.delivered_tiyn,
                      n.create_time, n.update_time, n.version
               FROM aid.needs n
               JOIN aid.children c ON c.id = n.child_id
               JOIN aid.schools s ON s.id = c.school_id
               WHERE n.campaign_id = $1
                 AND ($2::text IS NULL OR n.child_id = $2)
                 AND ($3 OR c.school_id = ANY ($4) OR c.region_code = ANY ($5))
                 AND ($6::text IS NULL OR c.school_id = $6)
                 AND ($7::text IS NULL OR c.region_code = $7)
                 AND ($8::text IS NULL OR n.item = $8)
                 AND ($9::text IS NULL OR $9 = CASE
                        WHEN n.delivered_tiyn = 0 THEN 'UNCOVERED'
                        WHEN n.delivered_tiyn < n.estimated_tiyn THEN 'PARTLY_COVERED'
                        ELSE 'COVERED' END)
                 AND (NOT $10 OR n.committed_tiyn
                        < GREATEST(n.estimated_tiyn, COALESCE(n.override_limit_tiyn, 0)))
                 AND ($11::text IS NULL
                      OR (s.display_name COLLATE "kk-x-icu", COALESCE(c.grade, -1),
                          COALESCE(c.family_name, '') COLLATE "kk-x-icu",
                          COALESCE(c.given_name, '') COLLATE "kk-x-icu",
                          COALESCE(c.patronymic, '') COLLATE "kk-x-icu",
                          c.id,
                          array_position(ARRAY['UNIFORM', 'SHOES', 'BACKPACK', 'STATIONERY',
                                               'TEXTBOOKS', 'CASH', 'OTHER'], n.item),
                          n.id)
                         > (SELECT s2.display_name, COALESCE(c2.grade, -1),
                                   COALESCE(c2.family_name, ''), COALESCE(c2.given_name, ''),
                                   COALESCE(c2.patronymic, ''), c2.id, $12::integer, $13::text
                            FROM aid.children c2 JOIN aid.schools s2 ON s2.id = c2.school_id
                            WHERE c2.id = $11))
               ORDER BY s.display_name COLLATE "kk-x-icu", COALESCE(c.grade, -1),
                        COALESCE(c.family_name, '') COLLATE "kk-x-icu",
                        COALESCE(c.given_name, '') COLLATE "kk-x-icu",
                        COALESCE(c.patronymic, '') COLLATE "kk-x-icu",
                        c.id,
                        array_position(ARRAY['UNIFORM', 'SHOES', 'BACKPACK', 'STATIONERY',
                                             'TEXTBOOKS', 'CASH', 'OTHER'], n.item),
                        n.id
               LIMIT $14"#,
            campaign,
            filter.child,
            vis.all,
            &vis.schools,
            &vis.regions,
            filter.school,
            filter.region,
            filter.item.map(NeedItem::as_str),
            filter.coverage.map(Coverage::as_str),
            filter.open_for_allocation_only,
            after_child,
            after_rank,
            after_id,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let items = rows
            .into_iter()
            .map(Need::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, size, |n| NeedCursor {
            child: n.child_id.clone(),
            rank: item_rank(n.item),
            id: n.id.clone(),
        }))
    }

    /// The help delivered against needs of `campaign` that `vis` reaches, by delivery date,
    /// then by ID.
    pub async fn list_help(
        &self,
        campaign: &str,
        vis: &Visibility,
        filter: &HelpFilter,
        size: usize,
        after: Option<HelpCursor>,
    ) -> Result<Page<HelpDelivery, HelpCursor>, ApiError> {
        let (after_date, after_id) = match after {
            Some(c) => (Some(c.date.to_sqlx()), Some(c.id)),
            None => (None, None),
        };
        let (allocation, donation) = filter.allocation.clone().unzip();
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            HelpRow,
            r#"SELECT h.id, h.campaign_id, n.child_id, h.need_id, h.allocation_id, h.donation_id,
                      h.budget_source, h.value_tiyn, h.delivery_date, h.description, n.item,
                      c.school_id, c.region_code, h.create_time
               FROM aid.help_deliveries h
               JOIN aid.needs n ON n.id = h.need_id
               JOIN aid.children c ON c.id = n.child_id
               WHERE h.campaign_id = $1
                 AND ($2::text IS NULL OR h.need_id = $2)
                 AND ($3 OR c.school_id = ANY ($4) OR c.region_code = ANY ($5))
                 AND ($6::text IS NULL OR (h.allocation_id = $6 AND h.donation_id = $7))
                 AND ($8::bool IS NULL OR (h.source = 'DONATION') = $8)
                 AND ($9::date IS NULL OR (h.delivery_date, h.id) > ($9, $10::text))
               ORDER BY h.delivery_date, h.id
               LIMIT $11"#,
            campaign,
            filter.need,
            vis.all,
            &vis.schools,
            &vis.regions,
            allocation,
            donation,
            filter.from_donation,
            after_date as _,
            after_id,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let items = rows
            .into_iter()
            .map(HelpDelivery::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, size, |h| HelpCursor {
            date: h.delivery_date,
            id: h.id.clone(),
        }))
    }
}

/// An item's place in listings, 1 for `UNIFORM`.
pub fn item_rank(item: NeedItem) -> i32 {
    NeedItem::ALL
        .iter()
        .position(|i| *i == item)
        .map_or(0, |p| p as i32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(estimated: i64, limit: Option<i64>, committed: i64, delivered: i64) -> Need {
        Need {
            id: "n".into(),
            campaign_id: "c".into(),
            child_id: "ch".into(),
            school_id: "s".into(),
            region_code: "KZ-75".into(),
            item: NeedItem::Uniform,
            description: String::new(),
            estimated_tiyn: estimated,
            coverage_override: limit.map(|limit_tiyn| CoverageOverride {
                limit_tiyn,
                reason: "размер".into(),
                actor: "staff".into(),
                time: Timestamp::UNIX_EPOCH,
            }),
            committed_tiyn: committed,
            delivered_tiyn: delivered,
            create_time: Timestamp::UNIX_EPOCH,
            update_time: Timestamp::UNIX_EPOCH,
            version: 1,
        }
    }

    #[test]
    fn the_limit_is_the_estimate_unless_an_override_raises_it() {
        assert_eq!(need(1000, None, 0, 0).limit_tiyn(), 1000);
        assert_eq!(need(1000, Some(1500), 0, 0).limit_tiyn(), 1500);
        // An estimate raised past an old override is its own limit.
        assert_eq!(need(2000, Some(1500), 0, 0).limit_tiyn(), 2000);
        assert!(need(1000, None, 600, 0).ensure_headroom(400).is_ok());
        assert_eq!(
            need(1000, None, 600, 0).ensure_headroom(401),
            Err(MoneyError::NeedOverCovered {
                limit_tiyn: 1000,
                committed_tiyn: 600
            })
        );
        assert!(need(1000, Some(1200), 1000, 0).ensure_headroom(200).is_ok());
    }

    #[test]
    fn coverage_compares_what_was_delivered_with_the_estimate() {
        assert_eq!(need(1000, None, 500, 0).coverage(), Coverage::Uncovered);
        assert_eq!(
            need(1000, None, 500, 500).coverage(),
            Coverage::PartlyCovered
        );
        assert_eq!(
            need(1000, Some(1200), 1200, 1200).coverage(),
            Coverage::Covered
        );
    }

    #[test]
    fn items_rank_in_the_order_of_the_api() {
        assert_eq!(item_rank(NeedItem::Uniform), 1);
        assert_eq!(item_rank(NeedItem::Other), 7);
        for item in NeedItem::ALL {
            assert_eq!(NeedItem::parse(item.as_str()), Some(item));
        }
    }
}
