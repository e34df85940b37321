//! Groups of four (rule 5), formed by the signature that completes them, and their two
//! mobilities with the annexes (rules 7 and 8).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::{Cursor, Page};
use edu_kit::{ApiError, CallContext, audit, etag, resource};

use super::contracts::name as contract_name;
use super::{Store, Visibility, events, years};
use crate::domain::PartnershipError;
use crate::domain::mobility::{self, MobilityState};
use crate::domain::pairing::ContractKind;

/// A group of four.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Its ID.
    pub id: String,
    /// The year.
    pub year_id: String,
    /// The contract between the two innovative schools.
    pub pair_contract: String,
    /// Side A: innovative school, its partner, their contract.
    pub side_a: (String, String, String),
    /// Side B, likewise.
    pub side_b: (String, String, String),
    /// The innovations of sides A and B, as resource names.
    pub innovations: [String; 2],
    /// The mobilities hosted by sides A and B, their IDs.
    pub mobilities: [String; 2],
    /// The regions of its schools.
    pub region_codes: Vec<String>,
    /// `FORMED` or `APPROVED`.
    pub state: String,
    /// Formed.
    pub form_time: Timestamp,
    /// Approved.
    pub approve_time: Option<Timestamp>,
    /// Optimistic-concurrency version.
    pub version: i64,
}

impl Group {
    /// Its four schools: A, A's partner, B, B's partner.
    pub fn schools(&self) -> [&str; 4] {
        [
            &self.side_a.0,
            &self.side_a.1,
            &self.side_b.0,
            &self.side_b.1,
        ]
    }
}

struct GroupRow {
    id: String,
    year_id: String,
    pair_contract: String,
    innovative_a: String,
    partner_a: String,
    contract_a: String,
    innovative_b: String,
    partner_b: String,
    contract_b: String,
    innovation_a: String,
    innovation_b: String,
    mobility_a: String,
    mobility_b: String,
    region_codes: Vec<String>,
    state: String,
    form_time: jiff_sqlx::Timestamp,
    approve_time: Option<jiff_sqlx::Timestamp>,
    version: i64,
}

impl From<GroupRow> for Group {
    fn from(r: GroupRow) -> Group {
        Group {
            id: r.id,
            year_id: r.year_id,
            pair_contract: r.pair_contract,
            side_a: (r.innovative_a, r.partner_a, r.contract_a),
            side_b: (r.innovative_b, r.partner_b, r.contract_b),
            innovations: [r.innovation_a, r.innovation_b],
            mobilities: [r.mobility_a, r.mobility_b],
            region_codes: r.region_codes,
            state: r.state,
            form_time: r.form_time.to_jiff(),
            approve_time: r.approve_time.map(|t| t.to_jiff()),
            version: r.version,
        }
    }
}

/// A mobility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mobility {
    /// Its ID.
    pub id: String,
    /// Its group.
    pub group_id: String,
    /// The year.
    pub year_id: String,
    /// The hosting innovative school.
    pub host_school: String,
    /// The four schools: host, its partner, the visitor, its partner.
    pub participants: Vec<String>,
    /// First day.
    pub start_date: Option<Date>,
    /// Last day.
    pub end_date: Option<Date>,
    /// The agreed programme.
    pub programme: String,
    /// Its state, `ANNEX_MISSED` once the deadline passed without an annex.
    pub state: MobilityState,
    /// When the annex was filed.
    pub annex_time: Option<Timestamp>,
    /// What the host reported.
    pub held_report: String,
    /// When it was marked held.
    pub held_time: Option<Timestamp>,
    /// The group's three contracts: pair, A's, B's.
    pub contracts: [String; 3],
    /// Created.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
}

struct MobilityRow {
    id: String,
    group_id: String,
    year_id: String,
    host_school: String,
    participants: Vec<String>,
    start_date: Option<jiff_sqlx::Date>,
    end_date: Option<jiff_sqlx::Date>,
    programme: String,
    state: String,
    annex_missed: bool,
    annex_time: Option<jiff_sqlx::Timestamp>,
    held_report: String,
    held_time: Option<jiff_sqlx::Timestamp>,
    pair_contract: String,
    contract_a: String,
    contract_b: String,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

impl MobilityRow {
    fn into_mobility(self) -> Mobility {
        let stored = MobilityState::parse(&self.state).unwrap_or(MobilityState::Planning);
        Mobility {
            id: self.id,
            group_id: self.group_id,
            year_id: self.year_id,
            host_school: self.host_school,
            participants: self.participants,
            start_date: self.start_date.map(|d| d.to_jiff()),
            end_date: self.end_date.map(|d| d.to_jiff()),
            programme: self.programme,
            state: if stored == MobilityState::Planning && self.annex_missed {
                MobilityState::AnnexMissed
            } else {
                stored
            },
            annex_time: self.annex_time.map(|t| t.to_jiff()),
            held_report: self.held_report,
            held_time: self.held_time.map(|t| t.to_jiff()),
            contracts: [self.pair_contract, self.contract_a, self.contract_b],
            create_time: self.create_time.to_jiff(),
            update_time: self.update_time.to_jiff(),
            version: self.version,
        }
    }
}

/// The resource name of a group.
pub fn name(year: &str, id: &str) -> String {
    format!("years/{year}/groups/{id}")
}

/// The resource name of a mobility.
pub fn mobility_name(year: &str, group: &str, id: &str) -> String {
    format!("years/{year}/groups/{group}/mobilities/{id}")
}

/// After a signature that involved innovative school `innovative`: when the two
/// innovative schools have signed with each other and each with its non-innovative
/// partner, the group forms with its two mobilities, in the signature's transaction
/// (which holds the year's lock, so two signatures cannot both form it).
pub async fn form_if_complete(
    conn: &mut PgConnection,
    context: &CallContext,
    year: &str,
    _kind: ContractKind,
    innovative: &str,
) -> Result<Option<Group>, ApiError> {
    let Some(pair) = sqlx::query!(
        "SELECT partner_id, contract_id FROM partnerships.partner_slots
         WHERE year_id = $1 AND school_id = $2 AND slot = 'INNOVATIVE_PARTNER'",
        year,
        innovative
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let mut sides = Vec::new();
    for school in [innovative.to_string(), pair.partner_id.clone()] {
        let Some(slot) = sqlx::query!(
            "SELECT partner_id, contract_id FROM partnerships.partner_slots
             WHERE year_id = $1 AND school_id = $2 AND slot = 'NON_INNOVATIVE_PARTNER'",
            year,
            school
        )
        .fetch_optional(&mut *conn)
        .await?
        else {
            return Ok(None);
        };
        sides.push((school, slot.partner_id, slot.contract_id));
    }
    sides.sort();
    let (a, b) = (&sides[0], &sides[1]);
    let id = resource::new_id();
    let now = context.now();
    let inserted = sqlx::query!(
        "INSERT INTO partnerships.groups
            (id, year_id, pair_contract, innovative_a, partner_a, contract_a, innovative_b,
             partner_b, contract_b, region_codes, state, form_time)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9,
                ARRAY(SELECT DISTINCT region_code FROM partnerships.schools
                      WHERE id IN ($4, $5, $7, $8) ORDER BY 1),
                'FORMED', $10
         ON CONFLICT DO NOTHING",
        id,
        year,
        pair.contract_id,
        a.0,
        a.1,
        a.2,
        b.0,
        b.1,
        b.2,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(None);
    }
    sqlx::query!(
        "UPDATE partnerships.contracts SET group_id = $1 WHERE id IN ($2, $3, $4)",
        id,
        pair.contract_id,
        a.2,
        b.2
    )
    .execute(&mut *conn)
    .await?;
    for (host, visitor) in [(a, b), (b, a)] {
        sqlx::query!(
            "INSERT INTO partnerships.mobilities
                (id, group_id, year_id, host_school, participants, state, create_time,
                 update_time)
             VALUES ($1, $2, $3, $4, $5, 'PLANNING', $6, $6)",
            resource::new_id(),
            id,
            year,
            host.0,
            &[
                host.0.clone(),
                host.1.clone(),
                visitor.0.clone(),
                visitor.1.clone()
            ],
            now.to_sqlx()
        )
        .execute(&mut *conn)
        .await?;
    }
    let resource = name(year, &id);
    audit::record(
        conn,
        context,
        "group.formed",
        &resource,
        json!({ "schools": [a.0, a.1, b.0, b.1] }),
    )
    .await?;
    events::record(conn, events::EventKind::GroupFormed, &resource, year, now).await?;
    fetch(conn, year, &id, false).await
}

/// A group of `year`; `lock` holds it `FOR UPDATE`.
pub async fn fetch(
    conn: &mut PgConnection,
    year: &str,
    id: &str,
    lock: bool,
) -> Result<Option<Group>, ApiError> {
    if lock {
        sqlx::query!(
            "SELECT 1 AS found FROM partnerships.groups WHERE id = $1 FOR UPDATE",
            id
        )
        .fetch_optional(&mut *conn)
        .await?;
    }
    let vis = Visibility {
        all: true,
        ..Visibility::default()
    };
    Ok(select(
        conn,
        &vis,
        &GroupFilter::default(),
        Some((year, id)),
        1,
        None,
    )
    .await?
    .into_iter()
    .next())
}

/// Filters of ListGroups.
#[derive(Debug, Clone, Default)]
pub struct GroupFilter {
    /// One year, or every year.
    pub year: Option<String>,
    /// With a school of this region.
    pub region: Option<String>,
    /// In this state.
    pub state: Option<String>,
}

async fn select(
    conn: &mut PgConnection,
    vis: &Visibility,
    filter: &GroupFilter,
    one: Option<(&str, &str)>,
    size: usize,
    after: Option<Cursor>,
) -> Result<Vec<Group>, ApiError> {
    let (one_year, one_id) = one.unzip();
    let (after_time, after_id) = Cursor::split(after);
    let rows = sqlx::query_as!(
        GroupRow,
        r#"SELECT id, year_id, pair_contract, innovative_a, partner_a, contract_a, innovative_b,
                partner_b, contract_b,
                (SELECT 'schools/' || c.innovation_school_id || '/innovations/' || c.innovation_id
                 FROM partnerships.contracts c WHERE c.id = g.contract_a) AS "innovation_a!",
                (SELECT 'schools/' || c.innovation_school_id || '/innovations/' || c.innovation_id
                 FROM partnerships.contracts c WHERE c.id = g.contract_b) AS "innovation_b!",
                (SELECT m.id FROM partnerships.mobilities m
                 WHERE m.group_id = g.id AND m.host_school = g.innovative_a) AS "mobility_a!",
                (SELECT m.id FROM partnerships.mobilities m
                 WHERE m.group_id = g.id AND m.host_school = g.innovative_b) AS "mobility_b!",
                region_codes, state, form_time, approve_time, version
         FROM partnerships.groups g
         WHERE ($1::text IS NULL OR (year_id = $1 AND id = $2))
           AND ($3::text IS NULL OR year_id = $3)
           AND ($4::text IS NULL OR $4 = ANY (region_codes))
           AND ($5::text IS NULL OR state = $5)
           AND ($6 OR region_codes && $7
                OR ARRAY[innovative_a, partner_a, innovative_b, partner_b] && $8)
           AND ($9::timestamptz IS NULL OR (form_time, id) > ($9, $10::text))
         ORDER BY form_time, id
         LIMIT $11"#,
        one_year,
        one_id,
        filter.year,
        filter.region,
        filter.state,
        vis.all,
        &vis.regions,
        &vis.schools,
        after_time as _,
        after_id,
        size as i64,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(Group::from).collect())
}

/// The ministry approves a group.
pub async fn approve(
    conn: &mut PgConnection,
    context: &CallContext,
    year: &str,
    id: &str,
    supplied_etag: &str,
) -> Result<Group, ApiError> {
    let resource = name(year, id);
    let group = fetch(conn, year, id, true)
        .await?
        .ok_or_else(|| ApiError::not_found(resource.clone()))?;
    etag::check(supplied_etag, group.version, &resource)?;
    if group.state == "APPROVED" {
        return Ok(group);
    }
    let now = context.now();
    sqlx::query!(
        "UPDATE partnerships.groups
         SET state = 'APPROVED', approve_time = $2, version = version + 1 WHERE id = $1",
        id,
        now.to_sqlx()
    )
    .execute(&mut *conn)
    .await?;
    audit::record(conn, context, "group.approved", &resource, json!({})).await?;
    events::record(conn, events::EventKind::GroupApproved, &resource, year, now).await?;
    fetch(conn, year, id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(resource))
}

/// Filters of ListMobilities.
#[derive(Debug, Clone, Default)]
pub struct MobilityFilter {
    /// The year.
    pub year: String,
    /// One group, or every group of the year.
    pub group: Option<String>,
}

async fn select_mobilities(
    conn: &mut PgConnection,
    vis: &Visibility,
    filter: &MobilityFilter,
    one: Option<&str>,
    now: Timestamp,
    size: usize,
    after: Option<(Option<Date>, String)>,
) -> Result<Vec<Mobility>, ApiError> {
    let (after_set, after_date, after_id) = match after {
        Some((d, id)) => (Some(d.is_some()), d.map(|d| d.to_sqlx()), Some(id)),
        None => (None, None, None),
    };
    let rows = sqlx::query_as!(
        MobilityRow,
        r#"SELECT m.id, m.group_id, m.year_id, m.host_school, m.participants, m.start_date,
                  m.end_date, m.programme, m.state,
                  ((y.annex_deadline + 1)::timestamp AT TIME ZONE y.time_zone) <= $4
                      AS "annex_missed!",
                  m.annex_time, m.held_report, m.held_time, g.pair_contract, g.contract_a,
                  g.contract_b, m.create_time, m.update_time, m.version
           FROM partnerships.mobilities m
           JOIN partnerships.groups g ON g.id = m.group_id
           JOIN partnerships.years y ON y.id = m.year_id
           WHERE m.year_id = $1
             AND ($2::text IS NULL OR m.group_id = $2)
             AND ($3::text IS NULL OR m.id = $3)
             AND ($5 OR g.region_codes && $6
                  OR ARRAY[g.innovative_a, g.partner_a, g.innovative_b, g.partner_b] && $7)
             AND ($8::bool IS NULL
                  OR (m.start_date IS NULL, m.start_date, m.id)
                     > (NOT $8, $9::date, $10::text))
           ORDER BY m.start_date IS NULL, m.start_date, m.id
           LIMIT $11"#,
        filter.year,
        filter.group,
        one,
        now.to_sqlx(),
        vis.all,
        &vis.regions,
        &vis.schools,
        after_set,
        after_date as _,
        after_id,
        size as i64,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(MobilityRow::into_mobility).collect())
}

/// A mobility; `lock` holds it `FOR UPDATE`.
pub async fn fetch_mobility(
    conn: &mut PgConnection,
    year: &str,
    group: &str,
    id: &str,
    now: Timestamp,
    lock: bool,
) -> Result<Option<Mobility>, ApiError> {
    if lock {
        sqlx::query!(
            "SELECT 1 AS found FROM partnerships.mobilities WHERE id = $1 FOR UPDATE",
            id
        )
        .fetch_optional(&mut *conn)
        .await?;
    }
    let vis = Visibility {
        all: true,
        ..Visibility::default()
    };
    let filter = MobilityFilter {
        year: year.to_string(),
        group: Some(group.to_string()),
    };
    Ok(
        select_mobilities(conn, &vis, &filter, Some(id), now, 1, None)
            .await?
            .into_iter()
            .next(),
    )
}

/// What the host changes on its mobility.
#[derive(Debug, Clone, Default)]
pub struct MobilityChange {
    /// New first day, when in the mask.
    pub start_date: Option<Option<Date>>,
    /// New last day, when in the mask.
    pub end_date: Option<Option<Date>>,
    /// New programme, when in the mask.
    pub programme: Option<String>,
}

/// The locked mobility of `host`, refused unless it is the host's and still planned
/// before the annex deadline.
async fn hosted(
    conn: &mut PgConnection,
    context: &CallContext,
    year: &years::YearRecord,
    group: &str,
    id: &str,
    host: &[String],
    supplied_etag: &str,
) -> Result<Mobility, ApiError> {
    let resource = mobility_name(&year.year.id, group, id);
    let m = fetch_mobility(conn, &year.year.id, group, id, context.now(), true)
        .await?
        .ok_or_else(|| ApiError::not_found(resource.clone()))?;
    if !host.contains(&m.host_school) {
        return Err(PartnershipError::NotTheHost.into());
    }
    etag::check(supplied_etag, m.version, &resource)?;
    Ok(m)
}

/// The host records dates and programme (rule 7), until the annex or its deadline.
#[allow(clippy::too_many_arguments)]
pub async fn update_mobility(
    conn: &mut PgConnection,
    context: &CallContext,
    year_id: &str,
    group: &str,
    id: &str,
    host: &[String],
    supplied_etag: &str,
    change: &MobilityChange,
) -> Result<Mobility, ApiError> {
    let year = years::get(conn, year_id, false).await?;
    // The group's row orders the two hosts' changes, so their dates are checked against
    // each other's last word.
    fetch(conn, year_id, group, true).await?;
    let m = hosted(conn, context, &year, group, id, host, supplied_etag).await?;
    if m.state == MobilityState::AnnexFiled || m.state == MobilityState::Held {
        return Err(PartnershipError::AnnexAlreadyFiled.into());
    }
    year.year.ensure_annexes_open(context.now())?;
    let start = change.start_date.unwrap_or(m.start_date);
    let end = change.end_date.unwrap_or(m.end_date);
    let programme = change.programme.clone().unwrap_or(m.programme.clone());
    if let (Some(s), Some(e)) = (start, end) {
        if e < s {
            return Err(ApiError::invalid_field(
                edu_kit::error::reason::INVALID_FIELDS,
                "mobility.end_date",
                "must not be before start_date",
            ));
        }
        mobility::ensure_length(s, e, year.year.max_mobility_days)?;
        let other = sqlx::query!(
            "SELECT id, start_date, end_date FROM partnerships.mobilities
             WHERE group_id = $1 AND id <> $2",
            group,
            id
        )
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(o) = other
            && let (Some(os), Some(oe)) = (o.start_date, o.end_date)
            && s <= oe.to_jiff()
            && os.to_jiff() <= e
        {
            return Err(PartnershipError::MobilitiesOverlap {
                mobility: mobility_name(year_id, group, &o.id),
            }
            .into());
        }
    }
    sqlx::query!(
        "UPDATE partnerships.mobilities
         SET start_date = $2, end_date = $3, programme = $4, update_time = $5,
             version = version + 1
         WHERE id = $1",
        id,
        start.map(|d| d.to_sqlx()) as _,
        end.map(|d| d.to_sqlx()) as _,
        programme,
        context.now().to_sqlx()
    )
    .execute(&mut *conn)
    .await?;
    let resource = mobility_name(year_id, group, id);
    audit::record(
        conn,
        context,
        "mobility.updated",
        &resource,
        json!({ "start_date": start.map(|d| d.to_string()),
                "end_date": end.map(|d| d.to_string()) }),
    )
    .await?;
    fetch_mobility(conn, year_id, group, id, context.now(), false)
        .await?
        .ok_or_else(|| ApiError::not_found(resource))
}

/// The host files the annex (rule 8) by the end of the deadline day.
pub async fn file_annex(
    conn: &mut PgConnection,
    context: &CallContext,
    year_id: &str,
    group: &str,
    id: &str,
    host: &[String],
    supplied_etag: &str,
) -> Result<Mobility, ApiError> {
    let year = years::get(conn, year_id, false).await?;
    let m = hosted(conn, context, &year, group, id, host, supplied_etag).await?;
    if m.state == MobilityState::AnnexFiled || m.state == MobilityState::Held {
        return Ok(m);
    }
    year.year.ensure_annexes_open(context.now())?;
    mobility::ensure_annex_complete(m.start_date, m.end_date, &m.programme)?;
    let now = context.now();
    sqlx::query!(
        "UPDATE partnerships.mobilities
         SET state = 'ANNEX_FILED', annex_time = $2, update_time = $2, version = version + 1
         WHERE id = $1",
        id,
        now.to_sqlx()
    )
    .execute(&mut *conn)
    .await?;
    let resource = mobility_name(year_id, group, id);
    audit::record(conn, context, "mobility.annex_filed", &resource, json!({})).await?;
    events::record(conn, events::EventKind::AnnexFiled, &resource, year_id, now).await?;
    fetch_mobility(conn, year_id, group, id, now, false)
        .await?
        .ok_or_else(|| ApiError::not_found(resource))
}

/// The host records that the visit took place.
#[allow(clippy::too_many_arguments)]
pub async fn mark_held(
    conn: &mut PgConnection,
    context: &CallContext,
    year_id: &str,
    group: &str,
    id: &str,
    host: &[String],
    supplied_etag: &str,
    report: &str,
) -> Result<Mobility, ApiError> {
    let year = years::get(conn, year_id, false).await?;
    let m = hosted(conn, context, &year, group, id, host, supplied_etag).await?;
    match m.state {
        MobilityState::Held => return Ok(m),
        MobilityState::AnnexFiled => {}
        _ => return Err(PartnershipError::AnnexNotFiled.into()),
    }
    let g = fetch(conn, year_id, group, false)
        .await?
        .ok_or_else(|| ApiError::not_found(name(year_id, group)))?;
    if g.state != "APPROVED" {
        return Err(PartnershipError::GroupNotApproved.into());
    }
    if let Some(end) = m.end_date {
        mobility::ensure_over(end, year.year.today(context.now()))?;
    }
    let now = context.now();
    sqlx::query!(
        "UPDATE partnerships.mobilities
         SET state = 'HELD', held_report = $2, held_time = $3, update_time = $3,
             version = version + 1
         WHERE id = $1",
        id,
        report,
        now.to_sqlx()
    )
    .execute(&mut *conn)
    .await?;
    let resource = mobility_name(year_id, group, id);
    audit::record(conn, context, "mobility.held", &resource, json!({})).await?;
    fetch_mobility(conn, year_id, group, id, now, false)
        .await?
        .ok_or_else(|| ApiError::not_found(resource))
}

/// The names of a group's contracts, for the annex.
pub fn contract_names(year: &str, m: &Mobility) -> Vec<String> {
    m.contracts.iter().map(|c| contract_name(year, c)).collect()
}

impl Store {
    /// A group.
    pub async fn group(&self, year: &str, id: &str) -> Result<Option<Group>, ApiError> {
        self.reads
            .run(async |conn| Ok(fetch(conn, year, id, false).await?))
            .await
    }

    /// Groups the caller sees, in the order they formed.
    pub async fn list_groups(
        &self,
        vis: &Visibility,
        filter: &GroupFilter,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page<Group>, ApiError> {
        let mut conn = self.read().await?;
        let items = select(&mut conn, vis, filter, None, size + 1, after).await?;
        conn.finish();
        Ok(Page::from_overfetch(items, size, |g| Cursor {
            time: g.form_time,
            id: g.id.clone(),
        }))
    }

    /// A mobility.
    pub async fn mobility(
        &self,
        year: &str,
        group: &str,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<Mobility>, ApiError> {
        self.reads
            .run(async |conn| Ok(fetch_mobility(conn, year, group, id, now, false).await?))
            .await
    }

    /// Mobilities the caller sees, by start date (unset last), then by ID.
    pub async fn list_mobilities(
        &self,
        vis: &Visibility,
        filter: &MobilityFilter,
        now: Timestamp,
        size: usize,
        after: Option<(Option<Date>, String)>,
    ) -> Result<Page<Mobility, (Option<Date>, String)>, ApiError> {
        let mut conn = self.read().await?;
        let items = select_mobilities(&mut conn, vis, filter, None, now, size + 1, after).await?;
        conn.finish();
        Ok(Page::from_overfetch(items, size, |m| {
            (m.start_date, m.id.clone())
        }))
    }
}
