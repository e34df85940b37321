//! Price observations (rule 6) and their weekly trend. Observations are facts, inserted
//! once and never changed; the trend is one statement over them (one snapshot), its
//! medians computed by Postgres with `percentile_cont(0.5)`, rounded half up to a tiyn.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::Page;
use edu_kit::{ApiError, CallContext, audit, resource};

use super::corrupt;

/// The items observed, in the order of the API's enum.
pub const ITEMS: [&str; 6] = [
    "UNIFORM_BOYS",
    "UNIFORM_GIRLS",
    "SHIRT_OR_BLOUSE",
    "SHOES",
    "BACKPACK",
    "STATIONERY_SET",
];

/// The kinds of place.
pub const PLACE_KINDS: [&str; 4] = ["SHOP", "MARKET", "SCHOOL_FAIR", "REMOTE_SETTLEMENT_FAIR"];

/// The highest price of one item, in tiyn.
pub const MAX_PRICE_TIYN: i64 = 100_000_000;

/// An observation as a caller records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewObservation {
    /// One of [`ITEMS`].
    pub item: &'static str,
    /// The region.
    pub region_code: String,
    /// One of [`PLACE_KINDS`].
    pub place_kind: &'static str,
    /// The place.
    pub place_name: String,
    /// The price in tiyn.
    pub price_tiyn: i64,
    /// The day.
    pub observe_date: Date,
    /// What exactly.
    pub note: String,
    /// The price-monitoring activity, (headquarters, activity).
    pub activity: Option<(String, String)>,
}

/// A stored observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Its random ID.
    pub id: String,
    /// Its campaign.
    pub campaign_id: String,
    /// One of [`ITEMS`].
    pub item: &'static str,
    /// The region.
    pub region_code: String,
    /// One of [`PLACE_KINDS`].
    pub place_kind: &'static str,
    /// The place.
    pub place_name: String,
    /// The price in tiyn.
    pub price_tiyn: i64,
    /// The day.
    pub observe_date: Date,
    /// What exactly.
    pub note: String,
    /// The activity, (headquarters, activity).
    pub activity: Option<(String, String)>,
    /// Recorded.
    pub create_time: Timestamp,
}

impl Observation {
    /// The resource name.
    pub fn name(&self) -> String {
        name(&self.campaign_id, &self.id)
    }
}

/// The resource name of observation `id` of campaign `campaign`.
pub fn name(campaign: &str, id: &str) -> String {
    format!("campaigns/{campaign}/priceObservations/{id}")
}

struct ObservationRow {
    id: String,
    campaign_id: String,
    item: String,
    region_code: String,
    place_kind: String,
    place_name: String,
    price_tiyn: i64,
    observe_date: jiff_sqlx::Date,
    note: String,
    activity_headquarters: Option<String>,
    activity_id: Option<String>,
    create_time: jiff_sqlx::Timestamp,
}

fn known(list: &[&'static str], raw: &str, what: &str) -> Result<&'static str, ApiError> {
    list.iter()
        .copied()
        .find(|x| *x == raw)
        .ok_or_else(|| corrupt(what, raw))
}

impl TryFrom<ObservationRow> for Observation {
    type Error = ApiError;

    fn try_from(r: ObservationRow) -> Result<Self, ApiError> {
        Ok(Observation {
            item: known(&ITEMS, &r.item, "price item")?,
            place_kind: known(&PLACE_KINDS, &r.place_kind, "place kind")?,
            id: r.id,
            campaign_id: r.campaign_id,
            region_code: r.region_code,
            place_name: r.place_name,
            price_tiyn: r.price_tiyn,
            observe_date: r.observe_date.to_jiff(),
            note: r.note,
            activity: r.activity_headquarters.zip(r.activity_id),
            create_time: r.create_time.to_jiff(),
        })
    }
}

/// Records an observation of campaign `campaign` (checked by the caller) and audits it.
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    campaign: &str,
    new: &NewObservation,
) -> Result<Observation, ApiError> {
    let id = resource::new_id();
    let (hq, activity) = new.activity.clone().unzip();
    let row = sqlx::query_as!(
        ObservationRow,
        "INSERT INTO aid.price_observations
             (id, campaign_id, item, region_code, place_kind, place_name, price_tiyn,
              observe_date, note, activity_headquarters, activity_id, create_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         RETURNING id, campaign_id, item, region_code, place_kind, place_name, price_tiyn,
                   observe_date, note, activity_headquarters, activity_id, create_time",
        id,
        campaign,
        new.item,
        new.region_code,
        new.place_kind,
        new.place_name,
        new.price_tiyn,
        new.observe_date.to_sqlx(),
        new.note,
        hq,
        activity,
        context.now().to_sqlx(),
    )
    .fetch_one(&mut *conn)
    .await?;
    let created = Observation::try_from(row)?;
    audit::record(
        conn,
        context,
        "price_observation.recorded",
        &created.name(),
        json!({ "item": new.item, "region_code": new.region_code,
                "price_tiyn": new.price_tiyn, "observe_date": new.observe_date.to_string() }),
    )
    .await?;
    Ok(created)
}

/// Where a page of observations ends: the last one's date and ID.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObservationCursor {
    /// Its date.
    pub date: Date,
    /// Its ID.
    pub id: String,
}

/// Observations of a campaign, by date, then by ID (their names' order).
pub async fn list(
    conn: &mut PgConnection,
    campaign: &str,
    region: Option<&str>,
    item: Option<&str>,
    size: usize,
    after: Option<ObservationCursor>,
) -> Result<Page<Observation, ObservationCursor>, ApiError> {
    let (after_date, after_id) = after.map(|c| (c.date.to_sqlx(), c.id)).unzip();
    let rows = sqlx::query_as!(
        ObservationRow,
        "SELECT id, campaign_id, item, region_code, place_kind, place_name, price_tiyn,
                observe_date, note, activity_headquarters, activity_id, create_time
         FROM aid.price_observations
         WHERE campaign_id = $1
           AND ($2::text IS NULL OR region_code = $2)
           AND ($3::text IS NULL OR item = $3)
           AND ($4::date IS NULL OR (observe_date, id) > ($4, $5::text))
         ORDER BY observe_date, id
         LIMIT $6",
        campaign,
        region,
        item,
        after_date as _,
        after_id,
        edu_kit::paging::overfetch_limit(size),
    )
    .fetch_all(&mut *conn)
    .await?;
    let items = rows
        .into_iter()
        .map(Observation::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, size, |o| ObservationCursor {
        date: o.observe_date,
        id: o.id.clone(),
    }))
}

/// One week of one series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendPoint {
    /// One of [`ITEMS`].
    pub item: &'static str,
    /// The region; `None` for the national series.
    pub region_code: Option<String>,
    /// The week's Monday.
    pub week_start: Date,
    /// Observations in the week.
    pub observations: i64,
    /// The median, rounded half up.
    pub median_tiyn: i64,
    /// The lowest price.
    pub min_tiyn: i64,
    /// The highest price.
    pub max_tiyn: i64,
    /// The median minus the series' first week's median.
    pub change_tiyn: i64,
}

/// The weekly trend of a campaign: per item and region, and nationally unless `region`
/// is set; by item (enum order), national first, then region, then week.
pub async fn trend(
    conn: &mut PgConnection,
    campaign: &str,
    region: Option<&str>,
    item: Option<&str>,
) -> Result<Vec<TrendPoint>, ApiError> {
    let rows = sqlx::query!(
        r#"WITH weekly AS (
               SELECT item, region_code, week,
                      count(*) AS observations,
                      round((percentile_cont(0.5) WITHIN GROUP (ORDER BY price_tiyn))::numeric)::bigint
                          AS median,
                      min(price_tiyn) AS min_price,
                      max(price_tiyn) AS max_price
               FROM (SELECT item, region_code, price_tiyn,
                            date_trunc('week', observe_date::timestamp)::date AS week
                     FROM aid.price_observations
                     WHERE campaign_id = $1
                       AND ($2::text IS NULL OR region_code = $2)
                       AND ($3::text IS NULL OR item = $3)) o
               GROUP BY GROUPING SETS ((item, region_code, week), (item, week))
           )
           SELECT item AS "item!", region_code AS "region_code?", week AS "week!",
                  observations AS "observations!", median AS "median!",
                  min_price AS "min_price!", max_price AS "max_price!",
                  (median - first_value(median) OVER (
                       PARTITION BY item, region_code ORDER BY week)) AS "change!"
           FROM weekly
           WHERE $2::text IS NULL OR region_code IS NOT NULL
           ORDER BY array_position($4::text[], item), region_code NULLS FIRST, week"#,
        campaign,
        region,
        item,
        &ITEMS.map(String::from) as &[String],
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(TrendPoint {
                item: known(&ITEMS, &r.item, "price item")?,
                region_code: r.region_code,
                week_start: r.week.to_jiff(),
                observations: r.observations,
                median_tiyn: r.median,
                min_tiyn: r.min_price,
                max_tiyn: r.max_price,
                change_tiyn: r.change,
            })
        })
        .collect()
}
