//! Donations of money or goods (rule 4), pledged then received, their allocations to needs
//! of children, and what a donor's contributions became.
//!
//! A donation's running sums live on its row: `allocated_tiyn` (its allocations less what
//! was released) and `delivered_tiyn`, bound by CHECK constraints to its received value.
//! Allocating locks the donation's row, then the need's, re-reads both rows' sums and checks
//! them before it writes: concurrent allocations of one donation run one after another, each
//! seeing the earlier ones, so a donation is never allocated beyond its value and a need
//! never committed beyond its limit. Releasing and delivering lock in the same order
//! (donation, need, allocation). The child's state is read after the need's lock without
//! locking the child's row: removing a child ([`release_for_child`]) locks the child's needs
//! after marking it removed, so an allocation either commits first and is released, or
//! reads the child removed and is refused. A donor is a token subject; what a donor reads
//! names no child — the API leaves out the fields that would.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::{Cursor, Page};
use edu_kit::{ApiError, CallContext, audit, etag, resource};

use super::events::{self, EventKind};
use super::needs::{self, MoneyError, NeedItem, NeedKey};
use super::{Store, Visibility, campaigns, corrupt};

/// The largest value of one donation, in tiyn (1 000 000 000 ₸).
pub const MAX_DONATION_TIYN: i64 = 100_000_000_000;

/// Money or goods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DonationKind {
    /// Money.
    Money,
    /// Goods with a value.
    Goods,
}

impl DonationKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DonationKind::Money => "MONEY",
            DonationKind::Goods => "GOODS",
        }
    }

    fn stored(raw: &str) -> Result<Self, ApiError> {
        match raw {
            "MONEY" => Ok(DonationKind::Money),
            "GOODS" => Ok(DonationKind::Goods),
            _ => Err(corrupt("donation kind", raw)),
        }
    }
}

/// Where a donation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DonationState {
    /// Pledged; nothing received.
    Pledged,
    /// Received; its received value may be allocated.
    Received,
    /// The pledge will not arrive.
    Cancelled,
}

impl DonationState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DonationState::Pledged => "PLEDGED",
            DonationState::Received => "RECEIVED",
            DonationState::Cancelled => "CANCELLED",
        }
    }

    fn stored(raw: &str) -> Result<Self, ApiError> {
        [
            DonationState::Pledged,
            DonationState::Received,
            DonationState::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
        .ok_or_else(|| corrupt("donation state", raw))
    }
}

/// Where an allocation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocationState {
    /// Committed to the need; help may be delivered from it.
    Open,
    /// Delivered in full.
    Delivered,
    /// Its undelivered remainder went back to the donation.
    Released,
}

impl AllocationState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AllocationState::Open => "OPEN",
            AllocationState::Delivered => "DELIVERED",
            AllocationState::Released => "RELEASED",
        }
    }

    fn stored(raw: &str) -> Result<Self, ApiError> {
        [
            AllocationState::Open,
            AllocationState::Delivered,
            AllocationState::Released,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
        .ok_or_else(|| corrupt("allocation state", raw))
    }
}

/// A donation to one region of a campaign, with its running sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Donation {
    /// Its ID.
    pub id: String,
    /// Its campaign.
    pub campaign_id: String,
    /// The region it goes to.
    pub region_code: String,
    /// Money or goods.
    pub kind: DonationKind,
    /// The donor as it wishes to be named.
    pub donor_display_name: String,
    /// The pledging donor's token subject; `None` when staff recorded it.
    pub donor_subject: Option<String>,
    /// The value pledged, in tiyn.
    pub pledged_tiyn: i64,
    /// What the goods are; empty for money.
    pub goods_description: String,
    /// Where it is.
    pub state: DonationState,
    /// The value received, in tiyn; 0 before.
    pub received_tiyn: i64,
    /// The day it was received.
    pub receive_date: Option<Date>,
    /// When the receipt was recorded.
    pub receive_time: Option<Timestamp>,
    /// Committed by its allocations, less what was released.
    pub allocated_tiyn: i64,
    /// Delivered through its allocations.
    pub delivered_tiyn: i64,
    /// Children its allocations reach (a merged record counted with its survivor).
    pub beneficiaries: i64,
    /// Why the pledge was cancelled.
    pub cancel_reason: String,
    /// Pledged.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
}

impl Donation {
    /// Its resource name.
    pub fn name(&self) -> String {
        donation_name(&self.campaign_id, &self.id)
    }

    /// Still to allocate.
    pub fn available_tiyn(&self) -> i64 {
        self.received_tiyn - self.allocated_tiyn
    }

    /// Whether `donor` pledged it.
    pub fn is_donor(&self, donor: Option<&str>) -> bool {
        donor.is_some() && self.donor_subject.as_deref() == donor
    }
}

/// `campaigns/{campaign}/donations/{donation}`.
pub fn donation_name(campaign: &str, id: &str) -> String {
    format!("campaigns/{campaign}/donations/{id}")
}

/// `campaigns/{campaign}/donations/{donation}/allocations/{allocation}`.
pub fn allocation_name(campaign: &str, donation: &str, id: &str) -> String {
    format!("campaigns/{campaign}/donations/{donation}/allocations/{id}")
}

struct DonationRow {
    id: String,
    campaign_id: String,
    region_code: String,
    kind: String,
    donor_display_name: String,
    donor_subject: Option<String>,
    pledged_tiyn: i64,
    goods_description: String,
    state: String,
    received_tiyn: i64,
    receive_date: Option<jiff_sqlx::Date>,
    receive_time: Option<jiff_sqlx::Timestamp>,
    allocated_tiyn: i64,
    delivered_tiyn: i64,
    beneficiaries: i64,
    cancel_reason: String,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

impl TryFrom<DonationRow> for Donation {
    type Error = ApiError;

    fn try_from(r: DonationRow) -> Result<Donation, ApiError> {
        Ok(Donation {
            kind: DonationKind::stored(&r.kind)?,
            state: DonationState::stored(&r.state)?,
            id: r.id,
            campaign_id: r.campaign_id,
            region_code: r.region_code,
            donor_display_name: r.donor_display_name,
            donor_subject: r.donor_subject,
            pledged_tiyn: r.pledged_tiyn,
            goods_description: r.goods_description,
            received_tiyn: r.received_tiyn,
            receive_date: r.receive_date.map(|d| d.to_jiff()),
            receive_time: r.receive_time.map(|t| t.to_jiff()),
            allocated_tiyn: r.allocated_tiyn,
            delivered_tiyn: r.delivered_tiyn,
            beneficiaries: r.beneficiaries,
            cancel_reason: r.cancel_reason,
            create_time: r.create_time.to_jiff(),
            update_time: r.update_time.to_jiff(),
            version: r.version,
        })
    }
}

/// The parts of a donation's resource name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DonationKey {
    /// The campaign.
    pub campaign: String,
    /// The donation.
    pub id: String,
}

impl DonationKey {
    /// Its resource name.
    pub fn name(&self) -> String {
        donation_name(&self.campaign, &self.id)
    }
}

/// The parts of an allocation's resource name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationKey {
    /// The campaign.
    pub campaign: String,
    /// The donation.
    pub donation: String,
    /// The allocation.
    pub id: String,
}

impl AllocationKey {
    /// Its resource name.
    pub fn name(&self) -> String {
        allocation_name(&self.campaign, &self.donation, &self.id)
    }
}

/// A donation; `lock` holds its row `FOR UPDATE`.
pub async fn fetch(
    conn: &mut PgConnection,
    key: &DonationKey,
    lock: bool,
) -> Result<Option<Donation>, ApiError> {
    let row = if lock {
        sqlx::query_as!(
            DonationRow,
            r#"SELECT d.id, d.campaign_id, d.region_code, d.kind, d.donor_display_name,
                      d.donor_subject, d.pledged_tiyn, d.goods_description, d.state,
                      d.received_tiyn, d.receive_date, d.receive_time, d.allocated_tiyn,
                      d.delivered_tiyn, d.cancel_reason, d.create_time, d.update_time, d.version,
                      (SELECT count(DISTINCT aid.child_root(a.child_id))
                       FROM aid.allocations a
                       WHERE a.donation_id = d.id AND a.value_tiyn > a.released_tiyn)
                          AS "beneficiaries!"
               FROM aid.donations d
               WHERE d.id = $1 AND d.campaign_id = $2
               FOR UPDATE OF d"#,
            key.id,
            key.campaign
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            DonationRow,
            r#"SELECT d.id, d.campaign_id, d.region_code, d.kind, d.donor_display_name,
                      d.donor_subject, d.pledged_tiyn, d.goods_description, d.state,
                      d.received_tiyn, d.receive_date, d.receive_time, d.allocated_tiyn,
                      d.delivered_tiyn, d.cancel_reason, d.create_time, d.update_time, d.version,
                      (SELECT count(DISTINCT aid.child_root(a.child_id))
                       FROM aid.allocations a
                       WHERE a.donation_id = d.id AND a.value_tiyn > a.released_tiyn)
                          AS "beneficiaries!"
               FROM aid.donations d
               WHERE d.id = $1 AND d.campaign_id = $2"#,
            key.id,
            key.campaign
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    row.map(Donation::try_from).transpose()
}

async fn reread(conn: &mut PgConnection, key: &DonationKey) -> Result<Donation, ApiError> {
    fetch(conn, key, false)
        .await?
        .ok_or_else(|| ApiError::not_found(key.name()))
}

/// What CreateDonation records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDonation {
    /// Money or goods.
    pub kind: DonationKind,
    /// The region it goes to.
    pub region_code: String,
    /// The donor as it wishes to be named.
    pub donor_display_name: String,
    /// The pledging donor's subject; `None` when staff record it.
    pub donor_subject: Option<String>,
    /// The value pledged, 1 to [`MAX_DONATION_TIYN`].
    pub pledged_tiyn: i64,
    /// What the goods are; empty for money.
    pub goods_description: String,
}

/// Records a pledge to a region of a running or upcoming campaign: PLEDGED.
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    campaign: &str,
    spec: &NewDonation,
) -> Result<Donation, ApiError> {
    let c = campaigns::get(conn, campaign, false).await?;
    c.ensure_region(&spec.region_code)?;
    c.ensure_not_ended(context.now())?;
    let key = DonationKey {
        campaign: campaign.to_string(),
        id: resource::new_id(),
    };
    sqlx::query!(
        "INSERT INTO aid.donations (id, campaign_id, region_code, kind, donor_display_name,
                                    donor_subject, pledged_tiyn, goods_description,
                                    create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        key.id,
        campaign,
        spec.region_code,
        spec.kind.as_str(),
        spec.donor_display_name,
        spec.donor_subject,
        spec.pledged_tiyn,
        spec.goods_description,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "donation.pledged",
        &key.name(),
        json!({ "kind": spec.kind.as_str(), "region_code": spec.region_code,
                "pledged_value_tiyn": spec.pledged_tiyn,
                "donor_subject": spec.donor_subject }),
    )
    .await?;
    reread(conn, &key).await
}

/// A donation locked for a change, after `check` accepted the caller (`NOT_FOUND` when
/// there is none).
async fn locked(
    conn: &mut PgConnection,
    key: &DonationKey,
    check: impl FnOnce(&Donation) -> Result<(), ApiError>,
) -> Result<Donation, ApiError> {
    let donation = fetch(conn, key, true)
        .await?
        .ok_or_else(|| ApiError::not_found(key.name()))?;
    check(&donation)?;
    Ok(donation)
}

/// Records that a pledged donation arrived, `received_tiyn` on `date` (from the day of the
/// pledge in the campaign's zone to today), and the event `DONATION_RECEIVED`.
pub async fn receive(
    conn: &mut PgConnection,
    context: &CallContext,
    key: &DonationKey,
    supplied_etag: &str,
    check: impl FnOnce(&Donation) -> Result<(), ApiError>,
    received_tiyn: i64,
    date: Date,
) -> Result<Donation, ApiError> {
    let now = context.now();
    let donation = locked(conn, key, check).await?;
    etag::check(supplied_etag, donation.version, &key.name())?;
    if donation.state != DonationState::Pledged {
        return Err(MoneyError::TransitionNotAllowed {
            state: donation.state.as_str(),
            to: DonationState::Received.as_str(),
        }
        .into());
    }
    let campaign = campaigns::get(conn, &key.campaign, false).await?;
    let earliest = campaign.today(donation.create_time);
    let latest = campaign.today(now);
    if date < earliest || date > latest {
        return Err(MoneyError::DateOutOfRange {
            field: "receive_date",
            earliest,
            latest,
        }
        .into());
    }
    sqlx::query!(
        "UPDATE aid.donations
         SET state = 'RECEIVED', received_tiyn = $2, receive_date = $3, receive_time = $4,
             update_time = $4, version = version + 1
         WHERE id = $1",
        key.id,
        received_tiyn,
        date.to_sqlx(),
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    events::record(
        conn,
        EventKind::DonationReceived,
        &key.name(),
        &key.campaign,
        &donation.region_code,
        now,
    )
    .await?;
    audit::record(
        conn,
        context,
        "donation.received",
        &key.name(),
        json!({ "received_value_tiyn": received_tiyn, "receive_date": date.to_string() }),
    )
    .await?;
    reread(conn, key).await
}

/// Cancels a pledge: CANCELLED. A cancelled donation is returned unchanged; a received one
/// cannot be cancelled.
pub async fn cancel(
    conn: &mut PgConnection,
    context: &CallContext,
    key: &DonationKey,
    supplied_etag: &str,
    check: impl FnOnce(&Donation) -> Result<(), ApiError>,
    reason: &str,
) -> Result<Donation, ApiError> {
    let donation = locked(conn, key, check).await?;
    if donation.state == DonationState::Cancelled {
        return Ok(donation);
    }
    etag::check(supplied_etag, donation.version, &key.name())?;
    if donation.state != DonationState::Pledged {
        return Err(MoneyError::TransitionNotAllowed {
            state: donation.state.as_str(),
            to: DonationState::Cancelled.as_str(),
        }
        .into());
    }
    sqlx::query!(
        "UPDATE aid.donations
         SET state = 'CANCELLED', cancel_reason = $2, update_time = $3, version = version + 1
         WHERE id = $1",
        key.id,
        reason,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "donation.cancelled",
        &key.name(),
        json!({ "reason": reason }),
    )
    .await?;
    reread(conn, key).await
}

/// Part of a donation committed to one need: the link from donor to child. Joined with the
/// need's item, the child's school and region, and the donation's region and donor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// Its ID.
    pub id: String,
    /// The campaign.
    pub campaign_id: String,
    /// The donation.
    pub donation_id: String,
    /// The need.
    pub need_id: String,
    /// The need's child.
    pub child_id: String,
    /// The child's school.
    pub school_id: String,
    /// The child's region.
    pub region_code: String,
    /// The need's item.
    pub need_item: NeedItem,
    /// The value committed, in tiyn.
    pub value_tiyn: i64,
    /// The staff's note.
    pub note: String,
    /// Where it is.
    pub state: AllocationState,
    /// Delivered from it.
    pub delivered_tiyn: i64,
    /// Released back to the donation.
    pub released_tiyn: i64,
    /// The day of the latest help from it.
    pub last_delivery_date: Option<Date>,
    /// The child's number within the donation.
    pub beneficiary_number: i32,
    /// Why it was released.
    pub release_reason: String,
    /// Made.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// The donation's region.
    pub donation_region: String,
    /// The donation's donor, when it pledged with an account.
    pub donor_subject: Option<String>,
}

impl Allocation {
    /// Its resource name.
    pub fn name(&self) -> String {
        allocation_name(&self.campaign_id, &self.donation_id, &self.id)
    }

    /// Its need's resource name.
    pub fn need_name(&self) -> String {
        needs::need_name(&self.campaign_id, &self.child_id, &self.need_id)
    }
}

struct AllocationRow {
    id: String,
    campaign_id: String,
    donation_id: String,
    need_id: String,
    child_id: String,
    school_id: String,
    region_code: String,
    need_item: String,
    value_tiyn: i64,
    note: String,
    state: String,
    delivered_tiyn: i64,
    released_tiyn: i64,
    last_delivery_date: Option<jiff_sqlx::Date>,
    beneficiary_number: i32,
    release_reason: String,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
    donation_region: String,
    donor_subject: Option<String>,
}

impl TryFrom<AllocationRow> for Allocation {
    type Error = ApiError;

    fn try_from(r: AllocationRow) -> Result<Allocation, ApiError> {
        Ok(Allocation {
            need_item: NeedItem::parse(&r.need_item)
                .ok_or_else(|| corrupt("need item", &r.need_item))?,
            state: AllocationState::stored(&r.state)?,
            id: r.id,
            campaign_id: r.campaign_id,
            donation_id: r.donation_id,
            need_id: r.need_id,
            child_id: r.child_id,
            school_id: r.school_id,
            region_code: r.region_code,
            value_tiyn: r.value_tiyn,
            note: r.note,
            delivered_tiyn: r.delivered_tiyn,
            released_tiyn: r.released_tiyn,
            last_delivery_date: r.last_delivery_date.map(|d| d.to_jiff()),
            beneficiary_number: r.beneficiary_number,
            release_reason: r.release_reason,
            create_time: r.create_time.to_jiff(),
            update_time: r.update_time.to_jiff(),
            version: r.version,
            donation_region: r.donation_region,
            donor_subject: r.donor_subject,
        })
    }
}

/// An allocation; `lock` holds its row `FOR UPDATE` (lock its donation and need first).
pub async fn fetch_allocation(
    conn: &mut PgConnection,
    key: &AllocationKey,
    lock: bool,
) -> Result<Option<Allocation>, ApiError> {
    let row = if lock {
        sqlx::query_as!(
            AllocationRow,
            r#"SELECT a.id, a.campaign_id, a.donation_id, a.need_id, a.child_id, c.school_id,
                      c.region_code, n.item AS need_item, a.value_tiyn, a.note, a.state,
                      a.delivered_tiyn, a.released_tiyn, a.last_delivery_date,
                      a.beneficiary_number, a.release_reason, a.create_time, a.update_time,
                      a.version, d.region_code AS donation_region, d.donor_subject
               FROM aid.allocations a
               JOIN aid.donations d ON d.id = a.donation_id
               JOIN aid.needs n ON n.id = a.need_id
               JOIN aid.children c ON c.id = a.child_id
               WHERE a.id = $1 AND a.donation_id = $2 AND a.campaign_id = $3
               FOR UPDATE OF a"#,
            key.id,
            key.donation,
            key.campaign
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            AllocationRow,
            r#"SELECT a.id, a.campaign_id, a.donation_id, a.need_id, a.child_id, c.school_id,
                      c.region_code, n.item AS need_item, a.value_tiyn, a.note, a.state,
                      a.delivered_tiyn, a.released_tiyn, a.last_delivery_date,
                      a.beneficiary_number, a.release_reason, a.create_time, a.update_time,
                      a.version, d.region_code AS donation_region, d.donor_subject
               FROM aid.allocations a
               JOIN aid.donations d ON d.id = a.donation_id
               JOIN aid.needs n ON n.id = a.need_id
               JOIN aid.children c ON c.id = a.child_id
               WHERE a.id = $1 AND a.donation_id = $2 AND a.campaign_id = $3"#,
            key.id,
            key.donation,
            key.campaign
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    row.map(Allocation::try_from).transpose()
}

/// What AllocateDonation commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAllocation {
    /// The need.
    pub need: NeedKey,
    /// The value, positive.
    pub value_tiyn: i64,
    /// The staff's note.
    pub note: String,
}

/// Allocates part of a received donation to a need of a child of its region: OPEN.
/// `check` accepts the caller for the donation (or refuses: `NOT_FOUND` when it does not
/// see it); `sees_need` says whether it sees the need. The donation's row is locked, then
/// the need's; both rows' sums are re-read under the locks and checked in the order of the
/// contract, the first failure answering.
pub async fn allocate(
    conn: &mut PgConnection,
    context: &CallContext,
    key: &DonationKey,
    check: impl FnOnce(&Donation) -> Result<(), ApiError>,
    sees_need: impl FnOnce(&needs::Need) -> bool,
    spec: &NewAllocation,
) -> Result<Allocation, ApiError> {
    let now = context.now();
    let donation = locked(conn, key, check).await?;
    let need = if spec.need.campaign == key.campaign {
        needs::fetch(conn, &spec.need, true)
            .await?
            .filter(sees_need)
    } else {
        None
    }
    .ok_or_else(|| ApiError::not_found(spec.need.name()))?;
    if donation.state != DonationState::Received {
        return Err(MoneyError::DonationNotReceived {
            state: donation.state.as_str(),
        }
        .into());
    }
    if need.region_code != donation.region_code {
        return Err(MoneyError::RegionMismatch {
            donation_region: donation.region_code.clone(),
            need_region: need.region_code.clone(),
        }
        .into());
    }
    needs::child(conn, &need.campaign_id, &need.child_id, false)
        .await?
        .ok_or_else(|| corrupt("need's child", &need.child_id))?
        .ensure_active()?;
    if spec.value_tiyn > donation.available_tiyn() {
        return Err(MoneyError::DonationInsufficient {
            available_tiyn: donation.available_tiyn(),
        }
        .into());
    }
    need.ensure_headroom(spec.value_tiyn)?;
    // Under the donation's lock, the child keeps the number it has in this donation, or
    // takes the next.
    let beneficiary_number = sqlx::query_scalar!(
        r#"SELECT COALESCE(
                  (SELECT beneficiary_number FROM aid.allocations
                   WHERE donation_id = $1 AND child_id = $2 LIMIT 1),
                  (SELECT COALESCE(max(beneficiary_number), 0) + 1 FROM aid.allocations
                   WHERE donation_id = $1)) AS "number!""#,
        key.id,
        need.child_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let allocation = AllocationKey {
        campaign: key.campaign.clone(),
        donation: key.id.clone(),
        id: resource::new_id(),
    };
    sqlx::query!(
        "INSERT INTO aid.allocations (id, campaign_id, donation_id, need_id, child_id,
                                      value_tiyn, note, beneficiary_number, create_time,
                                      update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        allocation.id,
        key.campaign,
        key.id,
        need.id,
        need.child_id,
        spec.value_tiyn,
        spec.note,
        beneficiary_number,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE aid.donations
         SET allocated_tiyn = allocated_tiyn + $2, update_time = $3, version = version + 1
         WHERE id = $1",
        key.id,
        spec.value_tiyn,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE aid.needs
         SET committed_tiyn = committed_tiyn + $2, update_time = $3, version = version + 1
         WHERE id = $1",
        need.id,
        spec.value_tiyn,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "allocation.created",
        &allocation.name(),
        json!({ "value_tiyn": spec.value_tiyn, "need": need.name() }),
    )
    .await?;
    fetch_allocation(conn, &allocation, false)
        .await?
        .ok_or_else(|| ApiError::not_found(allocation.name()))
}

/// Releases what an allocation has not delivered: RELEASED. A released one is returned
/// unchanged; a delivered one cannot be released. Locks the donation, the need, then the
/// allocation.
pub async fn release(
    conn: &mut PgConnection,
    context: &CallContext,
    key: &AllocationKey,
    supplied_etag: &str,
    check: impl FnOnce(&Allocation) -> Result<(), ApiError>,
    reason: &str,
) -> Result<Allocation, ApiError> {
    let not_found = || ApiError::not_found(key.name());
    sqlx::query_scalar!(
        "SELECT id FROM aid.donations WHERE id = $1 AND campaign_id = $2 FOR UPDATE",
        key.donation,
        key.campaign
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(not_found)?;
    // The allocation's need never changes: read it, lock it, then lock the allocation.
    let need_id = sqlx::query_scalar!(
        "SELECT need_id FROM aid.allocations WHERE id = $1 AND donation_id = $2",
        key.id,
        key.donation
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(not_found)?;
    sqlx::query_scalar!("SELECT id FROM aid.needs WHERE id = $1 FOR UPDATE", need_id)
        .fetch_one(&mut *conn)
        .await?;
    let allocation = fetch_allocation(conn, key, true)
        .await?
        .ok_or_else(not_found)?;
    check(&allocation)?;
    if allocation.state == AllocationState::Released {
        return Ok(allocation);
    }
    etag::check(supplied_etag, allocation.version, &key.name())?;
    if allocation.state == AllocationState::Delivered {
        return Err(MoneyError::TransitionNotAllowed {
            state: allocation.state.as_str(),
            to: AllocationState::Released.as_str(),
        }
        .into());
    }
    release_locked(conn, context, &allocation, reason).await?;
    fetch_allocation(conn, key, false)
        .await?
        .ok_or_else(not_found)
}

/// Releases the undelivered remainder of an open allocation whose donation, need and own
/// rows the transaction holds locked.
async fn release_locked(
    conn: &mut PgConnection,
    context: &CallContext,
    allocation: &Allocation,
    reason: &str,
) -> Result<(), ApiError> {
    let now = context.now();
    let remainder = allocation.value_tiyn - allocation.delivered_tiyn;
    sqlx::query!(
        "UPDATE aid.allocations
         SET state = 'RELEASED', released_tiyn = $2, release_reason = $3, update_time = $4,
             version = version + 1
         WHERE id = $1",
        allocation.id,
        remainder,
        reason,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE aid.donations
         SET allocated_tiyn = allocated_tiyn - $2, update_time = $3, version = version + 1
         WHERE id = $1",
        allocation.donation_id,
        remainder,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE aid.needs
         SET committed_tiyn = committed_tiyn - $2, update_time = $3, version = version + 1
         WHERE id = $1",
        allocation.need_id,
        remainder,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "allocation.released",
        &allocation.name(),
        json!({ "released_tiyn": remainder, "reason": reason }),
    )
    .await?;
    Ok(())
}

/// The reason recorded on allocations released because their child was removed.
pub const CHILD_REMOVED_REASON: &str = "Ребёнок исключён из банка данных.";

/// Releases the undelivered remainder of every open allocation to needs of child
/// `child_id`, in the transaction that removes the child (which has marked it removed).
/// Locks in the store's order: the donations concerned, then the child's needs, then the
/// allocations. Once the needs are locked no allocation to them can start; one committed
/// to another donation between the two steps sends the locking back to a savepoint, which
/// lets the needs go, and it starts again with that donation too — never waiting for a
/// donation while holding a need.
pub async fn release_for_child(
    conn: &mut PgConnection,
    context: &CallContext,
    child_id: &str,
) -> Result<(), ApiError> {
    let mut donations: Vec<String> = Vec::new();
    let open = loop {
        sqlx::query("SAVEPOINT release_for_child")
            .execute(&mut *conn)
            .await?;
        lock_donations(conn, &donations).await?;
        sqlx::query_scalar!(
            "SELECT id FROM aid.needs WHERE child_id = $1 ORDER BY id FOR UPDATE",
            child_id
        )
        .fetch_all(&mut *conn)
        .await?;
        let open = sqlx::query!(
            "SELECT id, donation_id, campaign_id FROM aid.allocations
             WHERE child_id = $1 AND state = 'OPEN' ORDER BY id",
            child_id
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut late: Vec<String> = open
            .iter()
            .filter(|a| !donations.contains(&a.donation_id))
            .map(|a| a.donation_id.clone())
            .collect();
        if late.is_empty() {
            sqlx::query("RELEASE SAVEPOINT release_for_child")
                .execute(&mut *conn)
                .await?;
            break open;
        }
        sqlx::query("ROLLBACK TO SAVEPOINT release_for_child")
            .execute(&mut *conn)
            .await?;
        donations.append(&mut late);
        donations.sort();
        donations.dedup();
    };
    for a in open {
        let key = AllocationKey {
            campaign: a.campaign_id,
            donation: a.donation_id,
            id: a.id,
        };
        if let Some(allocation) = fetch_allocation(conn, &key, true).await?
            && allocation.state == AllocationState::Open
        {
            release_locked(conn, context, &allocation, CHILD_REMOVED_REASON).await?;
        }
    }
    Ok(())
}

async fn lock_donations(conn: &mut PgConnection, ids: &[String]) -> Result<(), ApiError> {
    if !ids.is_empty() {
        sqlx::query_scalar!(
            "SELECT id FROM aid.donations WHERE id = ANY ($1) ORDER BY id FOR UPDATE",
            ids
        )
        .fetch_all(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Who reads donations and allocations: a donor (its own), regional staff (their regions'),
/// school staff (allocations to their schools' children).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DonationReader {
    /// The donor, by token subject.
    pub donor: Option<String>,
    /// Regions and schools whose children the reader sees.
    pub children: Visibility,
}

/// The filters of a listing of donations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DonationFilter {
    /// Only donations to this region.
    pub region: Option<String>,
    /// Only donations of this kind.
    pub kind: Option<DonationKind>,
    /// Only donations in this state.
    pub state: Option<DonationState>,
    /// Only donations with value to allocate.
    pub available_only: bool,
}

/// The filters of a listing of allocations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllocationFilter {
    /// Only the allocations of this donation.
    pub donation: Option<String>,
    /// Only allocations to this need.
    pub need: Option<String>,
    /// Only allocations in this state.
    pub state: Option<AllocationState>,
}

/// A donor's figures in one region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionFigures {
    /// The region.
    pub region_code: String,
    /// Received there.
    pub received_tiyn: i64,
    /// Allocated there.
    pub allocated_tiyn: i64,
    /// Delivered there.
    pub delivered_tiyn: i64,
    /// Children helped there.
    pub children_helped: i64,
}

/// A donor's figures for one kind of need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFigures {
    /// The kind of need.
    pub item: NeedItem,
    /// Allocated to such needs.
    pub allocated_tiyn: i64,
    /// Delivered against them.
    pub delivered_tiyn: i64,
}

/// The campaign's national figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignFigures {
    /// Children in the data bank (active records).
    pub children_identified: i64,
    /// Of those, children who received help.
    pub children_helped: i64,
    /// Money received.
    pub raised_money_tiyn: i64,
    /// Goods received, at their value.
    pub raised_goods_tiyn: i64,
    /// Help delivered from donations.
    pub delivered_from_donations_tiyn: i64,
    /// Help delivered from the budget.
    pub delivered_from_budget_tiyn: i64,
}

/// What a donor's contributions to a campaign became. Names no child.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DonorSummary {
    /// The donor's donations, in every state.
    pub donations: i64,
    /// Pledged and not received.
    pub pledged_open_tiyn: i64,
    /// Money received.
    pub received_money_tiyn: i64,
    /// Goods received.
    pub received_goods_tiyn: i64,
    /// Allocated.
    pub allocated_tiyn: i64,
    /// Delivered.
    pub delivered_tiyn: i64,
    /// Received and not allocated.
    pub available_tiyn: i64,
    /// Children the donor's allocations reach.
    pub children_helped: i64,
    /// By region.
    pub regions: Vec<RegionFigures>,
    /// By kind of need, in the order of the API's enum.
    pub items: Vec<ItemFigures>,
    /// The campaign's figures.
    pub campaign: CampaignFigures,
}

impl Store {
    /// A donation, or `None`.
    pub async fn donation(&self, key: &DonationKey) -> Result<Option<Donation>, ApiError> {
        self.reads
            .run(async |conn| Ok(fetch(conn, key, false).await?))
            .await
    }

    /// An allocation, or `None`.
    pub async fn allocation(&self, key: &AllocationKey) -> Result<Option<Allocation>, ApiError> {
        self.reads
            .run(async |conn| Ok(fetch_allocation(conn, key, false).await?))
            .await
    }

    /// Whether `reader` sees an allocation of donation `key` through the children it sees.
    pub async fn donation_reaches(
        &self,
        key: &DonationKey,
        vis: &Visibility,
    ) -> Result<bool, ApiError> {
        let mut conn = self.read().await?;
        let found = sqlx::query_scalar!(
            r#"SELECT EXISTS (
                   SELECT 1 FROM aid.allocations a JOIN aid.children c ON c.id = a.child_id
                   WHERE a.donation_id = $1 AND a.campaign_id = $2
                     AND (c.school_id = ANY ($3) OR c.region_code = ANY ($4))) AS "found!""#,
            key.id,
            key.campaign,
            &vis.schools,
            &vis.regions,
        )
        .fetch_one(&mut *conn)
        .await?;
        conn.finish();
        Ok(found)
    }

    /// The donations of `campaign` that `reader` reads (its own as a donor, its regions'
    /// as staff), newest first.
    pub async fn list_donations(
        &self,
        campaign: &str,
        reader: &DonationReader,
        filter: &DonationFilter,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page<Donation, Cursor>, ApiError> {
        let (after_time, after_id) = Cursor::split(after);
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            DonationRow,
            r#"SELECT d.id, d.campaign_id, d.region_code, d.kind, d.donor_display_name,
                      d.donor_subject, d.pledged_tiyn, d.goods_description, d.state,
                      d.received_tiyn, d.receive_date, d.receive_time, d.allocated_tiyn,
                      d.delivered_tiyn, d.cancel_reason, d.create_time, d.update_time, d.version,
                      (SELECT count(DISTINCT aid.child_root(a.child_id))
                       FROM aid.allocations a
                       WHERE a.donation_id = d.id AND a.value_tiyn > a.released_tiyn)
                          AS "beneficiaries!"
               FROM aid.donations d
               WHERE d.campaign_id = $1
                 AND (d.donor_subject = $2 OR d.region_code = ANY ($3))
                 AND ($4::text IS NULL OR d.region_code = $4)
                 AND ($5::text IS NULL OR d.kind = $5)
                 AND ($6::text IS NULL OR d.state = $6)
                 AND (NOT $7 OR (d.state = 'RECEIVED' AND d.received_tiyn > d.allocated_tiyn))
                 AND ($8::timestamptz IS NULL OR (d.create_time, d.id) < ($8, $9::text))
               ORDER BY d.create_time DESC, d.id DESC
               LIMIT $10"#,
            campaign,
            reader.donor,
            &reader.children.regions,
            filter.region,
            filter.kind.map(DonationKind::as_str),
            filter.state.map(DonationState::as_str),
            filter.available_only,
            after_time as _,
            after_id,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let items = rows
            .into_iter()
            .map(Donation::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, size, |d| Cursor {
            time: d.create_time,
            id: d.id.clone(),
        }))
    }

    /// The allocations of `campaign` that `reader` reads (those of its donations as a
    /// donor, of its regions' donations as regional staff, to its schools' children as
    /// school staff), oldest first.
    pub async fn list_allocations(
        &self,
        campaign: &str,
        reader: &DonationReader,
        filter: &AllocationFilter,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page<Allocation, Cursor>, ApiError> {
        let (after_time, after_id) = Cursor::split(after);
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            AllocationRow,
            r#"SELECT a.id, a.campaign_id, a.donation_id, a.need_id, a.child_id, c.school_id,
                      c.region_code, n.item AS need_item, a.value_tiyn, a.note, a.state,
                      a.delivered_tiyn, a.released_tiyn, a.last_delivery_date,
                      a.beneficiary_number, a.release_reason, a.create_time, a.update_time,
                      a.version, d.region_code AS donation_region, d.donor_subject
               FROM aid.allocations a
               JOIN aid.donations d ON d.id = a.donation_id
               JOIN aid.needs n ON n.id = a.need_id
               JOIN aid.children c ON c.id = a.child_id
               WHERE a.campaign_id = $1
                 AND ($2::text IS NULL OR a.donation_id = $2)
                 AND (d.donor_subject = $3 OR d.region_code = ANY ($4)
                      OR c.school_id = ANY ($5))
                 AND ($6::text IS NULL OR a.need_id = $6)
                 AND ($7::text IS NULL OR a.state = $7)
                 AND ($8::timestamptz IS NULL OR (a.create_time, a.id) > ($8, $9::text))
               ORDER BY a.create_time, a.id
               LIMIT $10"#,
            campaign,
            filter.donation,
            reader.donor,
            &reader.children.regions,
            &reader.children.schools,
            filter.need,
            filter.state.map(AllocationState::as_str),
            after_time as _,
            after_id,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let items = rows
            .into_iter()
            .map(Allocation::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, size, |a| Cursor {
            time: a.create_time,
            id: a.id.clone(),
        }))
    }

    /// What `donor`'s contributions to `campaign` became, and the campaign's figures, read
    /// in one snapshot.
    pub async fn donor_summary(
        &self,
        campaign: &str,
        donor: &str,
    ) -> Result<DonorSummary, ApiError> {
        let mut tx = self.begin().await?;
        sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let own = sqlx::query!(
            r#"SELECT count(*) AS "donations!",
                      COALESCE(sum(pledged_tiyn) FILTER (WHERE state = 'PLEDGED'), 0)::bigint
                          AS "pledged_open!",
                      COALESCE(sum(received_tiyn) FILTER (WHERE kind = 'MONEY'), 0)::bigint
                          AS "received_money!",
                      COALESCE(sum(received_tiyn) FILTER (WHERE kind = 'GOODS'), 0)::bigint
                          AS "received_goods!",
                      COALESCE(sum(allocated_tiyn), 0)::bigint AS "allocated!",
                      COALESCE(sum(delivered_tiyn), 0)::bigint AS "delivered!",
                      COALESCE(sum(received_tiyn - allocated_tiyn), 0)::bigint AS "available!"
               FROM aid.donations WHERE campaign_id = $1 AND donor_subject = $2"#,
            campaign,
            donor
        )
        .fetch_one(&mut *tx)
        .await?;
        let helped = sqlx::query!(
            r#"SELECT d.region_code AS "region_code?",
                      count(DISTINCT aid.child_root(a.child_id)) AS "children!"
               FROM aid.allocations a
               JOIN aid.donations d ON d.id = a.donation_id
               WHERE d.campaign_id = $1 AND d.donor_subject = $2
                 AND a.value_tiyn > a.released_tiyn
               GROUP BY GROUPING SETS ((d.region_code), ())"#,
            campaign,
            donor
        )
        .fetch_all(&mut *tx)
        .await?;
        let helped_in: HashMap<Option<String>, i64> = helped
            .into_iter()
            .map(|r| (r.region_code, r.children))
            .collect();
        let regions = sqlx::query!(
            r#"SELECT region_code,
                      COALESCE(sum(received_tiyn), 0)::bigint AS "received!",
                      COALESCE(sum(allocated_tiyn), 0)::bigint AS "allocated!",
                      COALESCE(sum(delivered_tiyn), 0)::bigint AS "delivered!"
               FROM aid.donations WHERE campaign_id = $1 AND donor_subject = $2
               GROUP BY region_code ORDER BY region_code"#,
            campaign,
            donor
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| RegionFigures {
            children_helped: helped_in
                .get(&Some(r.region_code.clone()))
                .copied()
                .unwrap_or(0),
            region_code: r.region_code,
            received_tiyn: r.received,
            allocated_tiyn: r.allocated,
            delivered_tiyn: r.delivered,
        })
        .collect();
        let by_item = sqlx::query!(
            r#"SELECT n.item,
                      COALESCE(sum(a.value_tiyn - a.released_tiyn), 0)::bigint AS "allocated!",
                      COALESCE(sum(a.delivered_tiyn), 0)::bigint AS "delivered!"
               FROM aid.allocations a
               JOIN aid.donations d ON d.id = a.donation_id
               JOIN aid.needs n ON n.id = a.need_id
               WHERE d.campaign_id = $1 AND d.donor_subject = $2
               GROUP BY n.item"#,
            campaign,
            donor
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut items = Vec::new();
        for item in NeedItem::ALL {
            if let Some(r) = by_item.iter().find(|r| r.item == item.as_str()) {
                items.push(ItemFigures {
                    item,
                    allocated_tiyn: r.allocated,
                    delivered_tiyn: r.delivered,
                });
            }
        }
        let figures = sqlx::query!(
            r#"SELECT
                 (SELECT count(*) FROM aid.children
                  WHERE campaign_id = $1 AND state = 'ACTIVE') AS "identified!",
                 (SELECT count(DISTINCT r.root_id)
                  FROM aid.needs n JOIN aid.child_roots($1) r ON r.child_id = n.child_id
                  WHERE n.campaign_id = $1 AND n.delivered_tiyn > 0) AS "helped!",
                 (SELECT COALESCE(sum(received_tiyn), 0)::bigint FROM aid.donations
                  WHERE campaign_id = $1 AND kind = 'MONEY') AS "money!",
                 (SELECT COALESCE(sum(received_tiyn), 0)::bigint FROM aid.donations
                  WHERE campaign_id = $1 AND kind = 'GOODS') AS "goods!",
                 (SELECT COALESCE(sum(value_tiyn), 0)::bigint FROM aid.help_deliveries
                  WHERE campaign_id = $1 AND source = 'DONATION') AS "from_donations!",
                 (SELECT COALESCE(sum(value_tiyn), 0)::bigint FROM aid.help_deliveries
                  WHERE campaign_id = $1 AND source = 'BUDGET') AS "from_budget!""#,
            campaign
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(DonorSummary {
            donations: own.donations,
            pledged_open_tiyn: own.pledged_open,
            received_money_tiyn: own.received_money,
            received_goods_tiyn: own.received_goods,
            allocated_tiyn: own.allocated,
            delivered_tiyn: own.delivered,
            available_tiyn: own.available,
            children_helped: helped_in.get(&None).copied().unwrap_or(0),
            regions,
            items,
            campaign: CampaignFigures {
                children_identified: figures.identified,
                children_helped: figures.helped,
                raised_money_tiyn: figures.money,
                raised_goods_tiyn: figures.goods,
                delivered_from_donations_tiyn: figures.from_donations,
                delivered_from_budget_tiyn: figures.from_budget,
            },
        })
    }
}
