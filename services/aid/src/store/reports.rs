//! The reports of a campaign (rule 9), the region summary, and the rows of the printable
//! fair lists.
//!
//! Each report is read in one REPEATABLE READ, READ ONLY transaction, so its figures are
//! one snapshot and agree with each other. Figures count children through
//! `aid.child_roots` (migration 20261127000008): a child counts once, with its ACTIVE
//! record and that record's region, however its records were merged; needs, help and
//! attendance checks of a merged record count with the survivor. A removed record counts in
//! no children's figure, while the help it received stays in the money figures (by the
//! region of its record). Every query groups by region and nationally at once (`GROUPING
//! SETS`): a row whose region is NULL is the national one.
//!
//! Nothing here reads a name or an IIN except [`fair_list`], whose rows are printed for the
//! staff handing help over.

use std::collections::HashMap;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use jiff_sqlx::ToSqlx;
use sqlx::PgConnection;

use edu_kit::ApiError;
use edu_kit::db::WarmTransaction;

use super::children::Category;
use super::needs::NeedItem;
use super::prices::{self, TrendPoint};
use super::{Store, attendance, corrupt};
use crate::domain::appeal::AppealCategory;
use crate::domain::campaign::Campaign;

/// The children of the data bank.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChildrenFigures {
    /// ACTIVE records (a merged child counts once, with its survivor).
    pub identified: i64,
    /// By category, in the order of [`Category::ALL`].
    pub by_category: [i64; 5],
    /// Of those, without an IIN.
    pub without_iin: i64,
    /// Probable duplicates OPEN and not superseded.
    pub open_probable_duplicates: i64,
    /// Children with at least one delivery of help.
    pub helped: i64,
}

/// The needs of one item, or of all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NeedTotals {
    /// Needs recorded.
    pub needs: i64,
    /// Delivered at least their estimate.
    pub covered: i64,
    /// Delivered something, less than the estimate.
    pub partly_covered: i64,
    /// Nothing delivered.
    pub uncovered: i64,
    /// With a raised coverage limit.
    pub overridden: i64,
    /// Estimated value, in tiyn.
    pub estimated_tiyn: i64,
    /// Committed, in tiyn.
    pub committed_tiyn: i64,
    /// Delivered, in tiyn.
    pub delivered_tiyn: i64,
}

/// The needs of the children identified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NeedFigures {
    /// All items.
    pub total: NeedTotals,
    /// By item, in the order of [`NeedItem::ALL`].
    pub by_item: [NeedTotals; 7],
}

/// Money and goods raised and spent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DonationFigures {
    /// Donations received.
    pub received: i64,
    /// Money received, in tiyn.
    pub raised_money_tiyn: i64,
    /// Goods received at their value, in tiyn.
    pub raised_goods_tiyn: i64,
    /// Pledged and not received yet, in tiyn.
    pub pledged_open_tiyn: i64,
    /// Allocated to needs less what was released, in tiyn.
    pub allocated_tiyn: i64,
    /// Delivered from money donations, in tiyn.
    pub spent_money_tiyn: i64,
    /// Delivered from goods donations, in tiyn.
    pub spent_goods_tiyn: i64,
    /// Received and not allocated, in tiyn.
    pub available_tiyn: i64,
    /// Help delivered from the budget, in tiyn.
    pub budget_delivered_tiyn: i64,
}

/// Appeals and how fast they were answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppealFigures {
    /// Recorded.
    pub received: i64,
    /// OPEN.
    pub open: i64,
    /// IN_PROGRESS.
    pub in_progress: i64,
    /// ANSWERED.
    pub answered: i64,
    /// REDIRECTED.
    pub redirected: i64,
    /// OPEN past the response target at the report's instant.
    pub overdue: i64,
    /// First response after the target.
    pub responded_late: i64,
    /// Median time to first response, of those responded to.
    pub median_first_response: Option<SignedDuration>,
    /// Its 90th percentile (nearest rank).
    pub p90_first_response: Option<SignedDuration>,
    /// By category, in the order of [`AppealCategory::ALL`].
    pub by_category: [i64; 7],
}

/// The attendance checks after school started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttendanceFigures {
    /// Children with at least one check.
    pub checked: i64,
    /// Children without one.
    pub not_checked: i64,
    /// Children whose latest check found them attending.
    pub attending: i64,
    /// Children whose latest check found them not attending.
    pub not_attending: i64,
    /// Those by reason, in the order of [`attendance::REASONS`].
    pub by_reason: [i64; 7],
    /// Children with a follow-up awaited.
    pub awaiting_follow_up: i64,
    /// Checks followed up.
    pub followed_up: i64,
}

/// The figures of one scope: the country or a region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// Children identified and helped.
    pub children: ChildrenFigures,
    /// Their needs.
    pub needs: NeedFigures,
    /// Donations and the budget.
    pub donations: DonationFigures,
    /// Appeals.
    pub appeals: AppealFigures,
    /// Attendance.
    pub attendance: AttendanceFigures,
}

/// A campaign's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The figures of the report's scope.
    pub figures: Figures,
    /// In a national report, every region of the campaign in code order; empty otherwise.
    pub regions: Vec<(String, Figures)>,
    /// The weekly medians of prices (national and every region's, or the region's).
    pub price_trend: Vec<TrendPoint>,
}

/// The figures keyed by region; `None` is the national row.
type ByRegion = HashMap<Option<String>, Figures>;

fn position<T: PartialEq + Copy>(all: &[T], value: T) -> Option<usize> {
    all.iter().position(|x| *x == value)
}

/// A read-only snapshot for one report.
async fn snapshot(store: &Store) -> Result<WarmTransaction, ApiError> {
    let mut tx = store.begin().await?;
    sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// The report of `campaign` at `now`: nationally (with a row per region) when `region` is
/// `None`, otherwise for that region of the campaign.
pub async fn campaign_report(
    store: &Store,
    campaign: &Campaign,
    region: Option<&str>,
    now: Timestamp,
) -> Result<Report, ApiError> {
    let mut tx = snapshot(store).await?;
    let mut by_region = ByRegion::new();
    children(&mut tx, &campaign.id, region, &mut by_region).await?;
    needs(&mut tx, &campaign.id, region, &mut by_region).await?;
    donations(&mut tx, &campaign.id, region, &mut by_region).await?;
    appeals(&mut tx, campaign, region, now, &mut by_region).await?;
    attendance(&mut tx, &campaign.id, region, &mut by_region).await?;
    let price_trend = prices::trend(&mut tx, &campaign.id, region, None).await?;
    tx.commit().await?;

    let figures = by_region.remove(&None).unwrap_or_default();
    let regions = match region {
        Some(_) => Vec::new(),
        None => {
            let mut codes = campaign.region_codes.clone();
            codes.sort();
            codes
                .into_iter()
                .map(|code| {
                    let f = by_region.remove(&Some(code.clone())).unwrap_or_default();
                    (code, f)
                })
                .collect()
        }
    };
    Ok(Report {
        figures,
        regions,
        price_trend,
    })
}

async fn children(
    conn: &mut PgConnection,
    campaign: &str,
    region: Option<&str>,
    out: &mut ByRegion,
) -> Result<(), ApiError> {
    let rows = sqlx::query!(
        r#"WITH helped AS (
               SELECT DISTINCT r.root_id
               FROM aid.help_deliveries h
               JOIN aid.needs n ON n.id = h.need_id
               JOIN aid.child_roots($1) r ON r.child_id = n.child_id
               WHERE h.campaign_id = $1
           )
           SELECT c.region_code AS "region_code?",
                  count(*) AS "identified!",
                  count(*) FILTER (WHERE 'LOW_INCOME' = ANY (c.categories)) AS "low_income!",
                  count(*) FILTER (WHERE 'LARGE_FAMILY' = ANY (c.categories)) AS "large_family!",
                  count(*) FILTER (WHERE 'ORPHAN' = ANY (c.categories)) AS "orphan!",
                  count(*) FILTER (WHERE 'WITHOUT_PARENTAL_CARE' = ANY (c.categories))
                      AS "without_care!",
                  count(*) FILTER (WHERE 'OTHER_RISK' = ANY (c.categories)) AS "other_risk!",
                  count(*) FILTER (WHERE c.iin IS NULL) AS "without_iin!",
                  count(h.root_id) AS "helped!"
           FROM aid.children c
           LEFT JOIN helped h ON h.root_id = c.id
           WHERE c.campaign_id = $1 AND c.state = 'ACTIVE'
             AND ($2::text IS NULL OR c.region_code = $2)
           GROUP BY GROUPING SETS ((c.region_code), ())"#,
        campaign,
        region,
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let f = &mut out.entry(r.region_code).or_default().children;
        f.identified = r.identified;
        f.by_category = [
            r.low_income,
            r.large_family,
            r.orphan,
            r.without_care,
            r.other_risk,
        ];
        debug_assert_eq!(Category::ALL.len(), f.by_category.len());
        f.without_iin = r.without_iin;
        f.helped = r.helped;
    }
    // A pair counts in each region of its two records, and once nationally. Superseded
    // pairs (a record merged into a third one, or removed) are not open work any more.
    let pairs = sqlx::query!(
        r#"SELECT x.region_code AS "region_code?", count(DISTINCT p.id) AS "pairs!"
           FROM aid.probable_duplicates p
           JOIN aid.children a ON a.id = p.child_a
           JOIN aid.children b ON b.id = p.child_b
           CROSS JOIN LATERAL (VALUES (a.region_code), (b.region_code)) AS x (region_code)
           WHERE p.campaign_id = $1 AND p.state = 'OPEN'
             AND a.state = 'ACTIVE' AND b.state = 'ACTIVE'
             AND ($2::text IS NULL OR x.region_code = $2)
           GROUP BY GROUPING SETS ((x.region_code), ())"#,
        campaign,
        region,
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in pairs {
        out.entry(r.region_code)
            .or_default()
            .children
            .open_probable_duplicates = r.pairs;
    }
    Ok(())
}

async fn needs(
    conn: &mut PgConnection,
    campaign: &str,
    region: Option<&str>,
    out: &mut ByRegion,
) -> Result<(), ApiError> {
    let rows = sqlx::query!(
        r#"SELECT rc.region_code AS "region_code?", n.item AS "item?",
                  count(*) AS "needs!",
                  count(*) FILTER (WHERE n.delivered_tiyn >= n.estimated_tiyn) AS "covered!",
                  count(*) FILTER (WHERE n.delivered_tiyn > 0
                                     AND n.delivered_tiyn < n.estimated_tiyn) AS "partly!",
                  count(*) FILTER (WHERE n.delivered_tiyn = 0) AS "uncovered!",
                  count(*) FILTER (WHERE n.override_limit_tiyn IS NOT NULL) AS "overridden!",
                  sum(n.estimated_tiyn)::bigint AS "estimated!",
                  sum(n.committed_tiyn)::bigint AS "committed!",
                  sum(n.delivered_tiyn)::bigint AS "delivered!"
           FROM aid.needs n
           JOIN aid.child_roots($1) r ON r.child_id = n.child_id
           JOIN aid.children rc ON rc.id = r.root_id
           WHERE n.campaign_id = $1 AND ($2::text IS NULL OR rc.region_code = $2)
           GROUP BY GROUPING SETS ((rc.region_code, n.item), (rc.region_code), (n.item), ())"#,
        campaign,
        region,
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let totals = NeedTotals {
            needs: r.needs,
            covered: r.covered,
            partly_covered: r.partly,
            uncovered: r.uncovered,
            overridden: r.overridden,
            estimated_tiyn: r.estimated,
            committed_tiyn: r.committed,
            delivered_tiyn: r.delivered,
        };
        let f = &mut out.entry(r.region_code).or_default().needs;
        match r.item {
            None => f.total = totals,
            Some(item) => {
                let item = NeedItem::parse(&item).ok_or_else(|| corrupt("need item", &item))?;
                if let Some(p) = position(&NeedItem::ALL, item) {
                    f.by_item[p] = totals;
                }
            }
        }
    }
    Ok(())
}

async fn donations(
    conn: &mut PgConnection,
    campaign: &str,
    region: Option<&str>,
    out: &mut ByRegion,
) -> Result<(), ApiError> {
    let rows = sqlx::query!(
        r#"SELECT region_code AS "region_code?",
                  count(*) FILTER (WHERE state = 'RECEIVED') AS "received!",
                  COALESCE(sum(received_tiyn) FILTER (WHERE kind = 'MONEY'), 0)::bigint
                      AS "raised_money!",
                  COALESCE(sum(received_tiyn) FILTER (WHERE kind = 'GOODS'), 0)::bigint
                      AS "raised_goods!",
                  COALESCE(sum(pledged_tiyn) FILTER (WHERE state = 'PLEDGED'), 0)::bigint
                      AS "pledged_open!",
                  COALESCE(sum(allocated_tiyn), 0)::bigint AS "allocated!",
                  COALESCE(sum(delivered_tiyn) FILTER (WHERE kind = 'MONEY'), 0)::bigint
                      AS "spent_money!",
                  COALESCE(sum(delivered_tiyn) FILTER (WHERE kind = 'GOODS'), 0)::bigint
                      AS "spent_goods!",
                  COALESCE(sum(received_tiyn - allocated_tiyn)
                           FILTER (WHERE state = 'RECEIVED'), 0)::bigint AS "available!"
           FROM aid.donations
           WHERE campaign_id = $1 AND ($2::text IS NULL OR region_code = $2)
           GROUP BY GROUPING SETS ((region_code), ())"#,
        campaign,
        region,
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let f = &mut out.entry(r.region_code).or_default().donations;
        f.received = r.received;
        f.raised_money_tiyn = r.raised_money;
        f.raised_goods_tiyn = r.raised_goods;
        f.pledged_open_tiyn = r.pledged_open;
        f.allocated_tiyn = r.allocated;
        f.spent_money_tiyn = r.spent_money;
        f.spent_goods_tiyn = r.spent_goods;
        f.available_tiyn = r.available;
    }
    // Budget help by the region of the record it went to, removed records included.
    let budget = sqlx::query!(
        r#"SELECT c.region_code AS "region_code?", sum(h.value_tiyn)::bigint AS "delivered!"
           FROM aid.help_deliveries h
           JOIN aid.needs n ON n.id = h.need_id
           JOIN aid.children c ON c.id = n.child_id
           WHERE h.campaign_id = $1 AND h.source = 'BUDGET'
             AND ($2::text IS NULL OR c.region_code = $2)
           GROUP BY GROUPING SETS ((c.region_code), ())"#,
        campaign,
        region,
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in budget {
        out.entry(r.region_code)
            .or_default()
            .donations
            .budget_delivered_tiyn = r.delivered;
    }
    Ok(())
}

fn seconds(s: Option<f64>) -> Option<SignedDuration> {
    s.filter(|s| s.is_finite())
        .map(|s| SignedDuration::from_millis((s * 1000.0).round() as i64))
}

async fn appeals(
    conn: &mut PgConnection,
    campaign: &Campaign,
    region: Option<&str>,
    now: Timestamp,
    out: &mut ByRegion,
) -> Result<(), ApiError> {
    // The same rule as domain::appeal: overdue while OPEN strictly after the target, late
    // when the first response came after it; both under the campaign's current target.
    let rows = sqlx::query!(
        r#"SELECT region_code AS "region_code?", category AS "category?",
                  count(*) AS "received!",
                  count(*) FILTER (WHERE state = 'OPEN') AS "open!",
                  count(*) FILTER (WHERE state = 'IN_PROGRESS') AS "in_progress!",
                  count(*) FILTER (WHERE state = 'ANSWERED') AS "answered!",
                  count(*) FILTER (WHERE state = 'REDIRECTED') AS "redirected!",
                  count(*) FILTER (WHERE state = 'OPEN'
                      AND $3 > create_time + make_interval(secs => $4)) AS "overdue!",
                  count(*) FILTER (WHERE first_response_time
                      > create_time + make_interval(secs => $4)) AS "late!",
                  percentile_cont(0.5) WITHIN GROUP (
                      ORDER BY extract(epoch FROM first_response_time - create_time)::float8)
                      AS "median?",
                  percentile_disc(0.9) WITHIN GROUP (
                      ORDER BY extract(epoch FROM first_response_time - create_time)::float8)
                      AS "p90?"
           FROM aid.appeals
           WHERE campaign_id = $1 AND ($2::text IS NULL OR region_code = $2)
           GROUP BY GROUPING SETS ((region_code, category), (region_code), (category), ())"#,
        &campaign.id,
        region,
        now.to_sqlx() as _,
        campaign.appeal_response_target.as_secs_f64(),
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let f = &mut out.entry(r.region_code).or_default().appeals;
        match r.category {
            Some(category) => {
                let category = AppealCategory::parse(&category)
                    .ok_or_else(|| corrupt("appeal category", &category))?;
                if let Some(p) = position(&AppealCategory::ALL, category) {
                    f.by_category[p] = r.received;
                }
            }
            None => {
                f.received = r.received;
                f.open = r.open;
                f.in_progress = r.in_progress;
                f.answered = r.answered;
                f.redirected = r.redirected;
                f.overdue = r.overdue;
                f.responded_late = r.late;
                f.median_first_response = seconds(r.median);
                f.p90_first_response = seconds(r.p90);
            }
        }
    }
    Ok(())
}

async fn attendance(
    conn: &mut PgConnection,
    campaign: &str,
    region: Option<&str>,
    out: &mut ByRegion,
) -> Result<(), ApiError> {
    // Each child's latest check among those of all its records.
    let rows = sqlx::query!(
        r#"WITH checks AS (
               SELECT r.root_id, a.check_date, a.create_time, a.id, a.outcome,
                      a.absence_reason, a.follow_up_state
               FROM aid.attendance_checks a
               JOIN aid.child_roots($1) r ON r.child_id = a.child_id
               WHERE a.campaign_id = $1
           ), latest AS (
               SELECT DISTINCT ON (root_id) root_id, outcome, absence_reason
               FROM checks
               ORDER BY root_id, check_date DESC, create_time DESC, id DESC
           ), per_child AS (
               SELECT root_id,
                      bool_or(follow_up_state = 'AWAITING') AS awaiting,
                      count(*) FILTER (WHERE follow_up_state = 'DONE') AS followed_up
               FROM checks GROUP BY root_id
           )
           SELECT c.region_code AS "region_code?",
                  count(l.root_id) AS "checked!",
                  count(*) FILTER (WHERE l.root_id IS NULL) AS "not_checked!",
                  count(*) FILTER (WHERE l.outcome = 'ATTENDS') AS "attending!",
                  count(*) FILTER (WHERE l.outcome = 'DOES_NOT_ATTEND') AS "not_attending!",
                  array_agg(l.absence_reason) FILTER (WHERE l.outcome = 'DOES_NOT_ATTEND')
                      AS "reasons?",
                  count(*) FILTER (WHERE p.awaiting) AS "awaiting!",
                  COALESCE(sum(p.followed_up), 0)::bigint AS "followed_up!"
           FROM aid.children c
           LEFT JOIN latest l ON l.root_id = c.id
           LEFT JOIN per_child p ON p.root_id = c.id
           WHERE c.campaign_id = $1 AND c.state = 'ACTIVE'
             AND ($2::text IS NULL OR c.region_code = $2)
           GROUP BY GROUPING SETS ((c.region_code), ())"#,
        campaign,
        region,
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let f = &mut out.entry(r.region_code).or_default().attendance;
        f.checked = r.checked;
        f.not_checked = r.not_checked;
        f.attending = r.attending;
        f.not_attending = r.not_attending;
        for reason in r.reasons.unwrap_or_default() {
            let p = attendance::REASONS
                .iter()
                .position(|x| *x == reason)
                .ok_or_else(|| corrupt("absence reason", &reason))?;
            f.by_reason[p] += 1;
        }
        f.awaiting_follow_up = r.awaiting;
        f.followed_up = r.followed_up;
    }
    Ok(())
}

/// One campaign's part of a region summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionCampaign {
    /// The campaign's ID.
    pub id: String,
    /// Its display name.
    pub display_name: String,
    /// Its first day.
    pub start_date: Date,
    /// Its last day.
    pub end_date: Date,
    /// Children identified in the region.
    pub identified: i64,
    /// Of those, helped.
    pub helped: i64,
    /// Help delivered to records of the region, in tiyn.
    pub delivered_tiyn: i64,
}

/// What every campaign that includes `region` (or only `campaign`) did there, the latest
/// start first, in one snapshot.
pub async fn region_summary(
    store: &Store,
    region: &str,
    campaign: Option<&str>,
) -> Result<Vec<RegionCampaign>, ApiError> {
    let mut tx = snapshot(store).await?;
    let rows = sqlx::query!(
        r#"SELECT cp.id, cp.display_name, cp.start_date, cp.end_date,
                  (SELECT count(*) FROM aid.children c
                   WHERE c.campaign_id = cp.id AND c.state = 'ACTIVE'
                     AND c.region_code = $1) AS "identified!",
                  (SELECT count(DISTINCT r.root_id)
                   FROM aid.help_deliveries h
                   JOIN aid.needs n ON n.id = h.need_id
                   JOIN aid.child_roots(cp.id) r ON r.child_id = n.child_id
                   JOIN aid.children rc ON rc.id = r.root_id
                   WHERE h.campaign_id = cp.id AND rc.region_code = $1) AS "helped!",
                  (SELECT COALESCE(sum(h.value_tiyn), 0)::bigint
                   FROM aid.help_deliveries h
                   JOIN aid.needs n ON n.id = h.need_id
                   JOIN aid.children c ON c.id = n.child_id
                   WHERE h.campaign_id = cp.id AND c.region_code = $1) AS "delivered!"
           FROM aid.campaigns cp
           WHERE $1 = ANY (cp.region_codes) AND ($2::text IS NULL OR cp.id = $2)
           ORDER BY cp.start_date DESC, cp.id DESC"#,
        region,
        campaign,
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| RegionCampaign {
            id: r.id,
            display_name: r.display_name,
            start_date: r.start_date.to_jiff(),
            end_date: r.end_date.to_jiff(),
            identified: r.identified,
            helped: r.helped,
            delivered_tiyn: r.delivered,
        })
        .collect())
}

/// Which children a fair list holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FairListFilter {
    /// The campaign's ID.
    pub campaign: String,
    /// Only this school's children (by their ACTIVE record's school).
    pub school: Option<String>,
    /// Only this region's children.
    pub region: Option<String>,
    /// Only needs of this item (and so only children with one).
    pub item: Option<NeedItem>,
    /// Every need, covered ones included; otherwise only needs delivered below their
    /// estimate (and so only children with one).
    pub include_covered: bool,
}

/// One need of a child on a fair list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FairNeedRow {
    /// Its item.
    pub item: NeedItem,
    /// An `OTHER` need's description.
    pub description: String,
    /// Its estimate, in tiyn.
    pub estimated_tiyn: i64,
    /// Committed to it, in tiyn.
    pub committed_tiyn: i64,
    /// Delivered, in tiyn.
    pub delivered_tiyn: i64,
}

/// A child on a fair list, with the needs printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FairChild {
    /// The school's display name.
    pub school: String,
    /// The grade.
    pub grade: Option<i16>,
    /// Family name.
    pub family_name: String,
    /// Given name.
    pub given_name: String,
    /// Patronymic.
    pub patronymic: String,
    /// Birth date.
    pub birth_date: Date,
    /// The needs, by item.
    pub needs: Vec<FairNeedRow>,
}

/// The children of a fair list in print order: by school (the `kk` ICU collation of its
/// name), grade (unknown last), family name, given name and patronymic, each with the
/// needs of all its records (merged ones included) in item order.
pub async fn fair_list(store: &Store, filter: &FairListFilter) -> Result<Vec<FairChild>, ApiError> {
    let mut conn = store.read().await?;
    let rows = sqlx::query!(
        r#"SELECT rc.id AS "child_id!", s.display_name AS "school!", rc.grade,
                  rc.family_name AS "family_name!", rc.given_name AS "given_name!",
                  COALESCE(rc.patronymic, '') AS "patronymic!", rc.birth_date AS "birth_date!",
                  n.item, n.description, n.estimated_tiyn, n.committed_tiyn, n.delivered_tiyn
           FROM aid.children rc
           JOIN aid.schools s ON s.id = rc.school_id
           JOIN aid.child_roots($1) r ON r.root_id = rc.id
           JOIN aid.needs n ON n.child_id = r.child_id
           WHERE rc.campaign_id = $1 AND rc.state = 'ACTIVE'
             AND ($2::text IS NULL OR rc.school_id = $2)
             AND ($3::text IS NULL OR rc.region_code = $3)
             AND ($4::text IS NULL OR n.item = $4)
             AND ($5 OR n.delivered_tiyn < n.estimated_tiyn)
           ORDER BY s.display_name COLLATE "kk-x-icu", s.id, rc.grade NULLS LAST,
                    rc.family_name COLLATE "kk-x-icu", rc.given_name COLLATE "kk-x-icu",
                    COALESCE(rc.patronymic, '') COLLATE "kk-x-icu", rc.id,
                    array_position($6::text[], n.item), n.id"#,
        &filter.campaign,
        filter.school.as_deref(),
        filter.region.as_deref(),
        filter.item.map(NeedItem::as_str),
        filter.include_covered,
        &NeedItem::ALL.map(|i| i.as_str().to_string()) as &[String],
    )
    .fetch_all(&mut *conn)
    .await?;
    conn.finish();
    let mut children: Vec<FairChild> = Vec::new();
    let mut last: Option<String> = None;
    for r in rows {
        let need = FairNeedRow {
            item: NeedItem::parse(&r.item).ok_or_else(|| corrupt("need item", &r.item))?,
            description: r.description,
            estimated_tiyn: r.estimated_tiyn,
            committed_tiyn: r.committed_tiyn,
            delivered_tiyn: r.delivered_tiyn,
        };
        match children.last_mut() {
            Some(child) if last.as_deref() == Some(r.child_id.as_str()) => child.needs.push(need),
            _ => {
                children.push(FairChild {
                    school: r.school,
                    grade: r.grade,
                    family_name: r.family_name,
                    given_name: r.given_name,
                    patronymic: r.patronymic,
                    birth_date: r.birth_date.to_jiff(),
                    needs: vec![need],
                });
                last = Some(r.child_id);
            }
        }
    }
    Ok(children)
}
