//! Campaigns (rule 1), created and changed by the national coordinator; creating one, or
//! adding a region, creates that region's headquarters.

use jiff::SignedDuration;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::Page;
use edu_kit::{ApiError, CallContext, audit, etag};

use super::Store;
use crate::domain::AidError;
use crate::domain::campaign::Campaign;

struct CampaignRow {
    id: String,
    display_name: String,
    time_zone: String,
    start_date: jiff_sqlx::Date,
    end_date: jiff_sqlx::Date,
    school_start_date: jiff_sqlx::Date,
    region_codes: Vec<String>,
    appeal_response_seconds: i64,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

impl From<CampaignRow> for Campaign {
    fn from(r: CampaignRow) -> Campaign {
        Campaign {
            id: r.id,
            display_name: r.display_name,
            time_zone: r.time_zone,
            start_date: r.start_date.to_jiff(),
            end_date: r.end_date.to_jiff(),
            school_start_date: r.school_start_date.to_jiff(),
            region_codes: r.region_codes,
            appeal_response_target: SignedDuration::from_secs(r.appeal_response_seconds),
            create_time: r.create_time.to_jiff(),
            update_time: r.update_time.to_jiff(),
            version: r.version,
        }
    }
}

/// The resource name of campaign `id`.
pub fn name(id: &str) -> String {
    format!("campaigns/{id}")
}

/// A campaign; `lock` holds its row `FOR UPDATE`.
pub async fn fetch(
    conn: &mut PgConnection,
    id: &str,
    lock: bool,
) -> Result<Option<Campaign>, ApiError> {
    let row = if lock {
        sqlx::query_as!(
            CampaignRow,
            "SELECT id, display_name, time_zone, start_date, end_date, school_start_date,
                    region_codes, appeal_response_seconds, create_time, update_time, version
             FROM aid.campaigns WHERE id = $1 FOR UPDATE",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            CampaignRow,
            "SELECT id, display_name, time_zone, start_date, end_date, school_start_date,
                    region_codes, appeal_response_seconds, create_time, update_time, version
             FROM aid.campaigns WHERE id = $1",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    Ok(row.map(Campaign::from))
}

/// A campaign or `NOT_FOUND`.
pub async fn get(conn: &mut PgConnection, id: &str, lock: bool) -> Result<Campaign, ApiError> {
    fetch(conn, id, lock)
        .await?
        .ok_or_else(|| ApiError::not_found(name(id)))
}

async fn add_headquarters(
    conn: &mut PgConnection,
    context: &CallContext,
    campaign: &str,
    regions: &[String],
) -> Result<(), ApiError> {
    for region in regions {
        // Until the headquarters names itself, it goes by its region's name.
        let region_name = crate::domain::regions::REGIONS
            .iter()
            .find(|(code, _)| code == region)
            .map(|(_, name)| *name)
            .unwrap_or(region.as_str());
        sqlx::query!(
            "INSERT INTO aid.headquarters (campaign_id, id, region_code, display_name,
                                           create_time, update_time)
             VALUES ($1, lower($2), $2, $3, $4, $4)
             ON CONFLICT DO NOTHING",
            campaign,
            region,
            region_name,
            context.now().to_sqlx(),
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Creates a campaign with a headquarters per region; `ALREADY_EXISTS` when its ID is
/// taken.
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    c: &Campaign,
) -> Result<Campaign, ApiError> {
    let inserted = sqlx::query!(
        "INSERT INTO aid.campaigns
            (id, display_name, time_zone, start_date, end_date, school_start_date, region_codes,
             appeal_response_seconds, create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT DO NOTHING",
        c.id,
        c.display_name,
        c.time_zone,
        c.start_date.to_sqlx(),
        c.end_date.to_sqlx(),
        c.school_start_date.to_sqlx(),
        &c.region_codes,
        c.appeal_response_target.as_secs(),
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(ApiError::already_exists(name(&c.id)));
    }
    add_headquarters(conn, context, &c.id, &c.region_codes).await?;
    audit::record(
        conn,
        context,
        "campaign.created",
        &name(&c.id),
        json!({ "start_date": c.start_date.to_string(), "end_date": c.end_date.to_string(),
                "region_codes": c.region_codes }),
    )
    .await?;
    get(conn, &c.id, false).await
}

/// Replaces a campaign's parameters with what `change` builds from the stored campaign
/// (it refuses fields fixed by the campaign's phase); regions added get a headquarters,
/// regions removed must hold no record of the campaign.
pub async fn update(
    conn: &mut PgConnection,
    context: &CallContext,
    id: &str,
    supplied_etag: &str,
    change: impl FnOnce(&Campaign) -> Result<Campaign, ApiError>,
) -> Result<Campaign, ApiError> {
    let stored = get(conn, id, true).await?;
    etag::check(supplied_etag, stored.version, &name(id))?;
    let next = change(&stored)?;
    for removed in stored
        .region_codes
        .iter()
        .filter(|r| !next.region_codes.contains(r))
    {
        let used = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM aid.children WHERE campaign_id = $1 AND region_code = $2)
                   OR EXISTS (SELECT 1 FROM aid.activities a JOIN aid.headquarters h
                                ON h.campaign_id = a.campaign_id AND h.id = a.headquarters_id
                              WHERE a.campaign_id = $1 AND h.region_code = $2)
                   OR EXISTS (SELECT 1 FROM aid.appeals WHERE campaign_id = $1 AND region_code = $2)
                   OR EXISTS (SELECT 1 FROM aid.donations WHERE campaign_id = $1 AND region_code = $2)
                   AS "used!""#,
            id,
            removed
        )
        .fetch_one(&mut *conn)
        .await?;
        if used {
            return Err(AidError::RegionInUse {
                region: removed.clone(),
            }
            .into());
        }
        sqlx::query!(
            "DELETE FROM aid.headquarters WHERE campaign_id = $1 AND region_code = $2",
            id,
            removed
        )
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query!(
        "UPDATE aid.campaigns
         SET display_name = $2, time_zone = $3, start_date = $4, end_date = $5,
             school_start_date = $6, region_codes = $7, appeal_response_seconds = $8,
             update_time = $9, version = version + 1
         WHERE id = $1",
        id,
        next.display_name,
        next.time_zone,
        next.start_date.to_sqlx(),
        next.end_date.to_sqlx(),
        next.school_start_date.to_sqlx(),
        &next.region_codes,
        next.appeal_response_target.as_secs(),
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    add_headquarters(conn, context, id, &next.region_codes).await?;
    audit::record(
        conn,
        context,
        "campaign.updated",
        &name(id),
        json!({ "display_name": next.display_name, "end_date": next.end_date.to_string(),
                "region_codes": next.region_codes }),
    )
    .await?;
    get(conn, id, false).await
}

impl Store {
    /// A campaign, or `NOT_FOUND`.
    pub async fn campaign(&self, id: &str) -> Result<Campaign, ApiError> {
        self.reads
            .run(async |conn| Ok(get(conn, id, false).await?))
            .await
    }

    /// Campaigns, the latest start first, then by ID; the cursor is the last campaign's ID.
    pub async fn list_campaigns(
        &self,
        region: Option<&str>,
        phase: Option<&str>,
        now: jiff::Timestamp,
        size: usize,
        after: Option<String>,
    ) -> Result<Page<Campaign, String>, ApiError> {
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            CampaignRow,
            "SELECT id, display_name, time_zone, start_date, end_date, school_start_date,
                    region_codes, appeal_response_seconds, create_time, update_time, version
             FROM aid.campaigns
             WHERE ($1::text IS NULL OR $1 = ANY (region_codes))
               AND ($2::text IS NULL OR (start_date, id) < (
                   SELECT start_date, id FROM aid.campaigns WHERE id = $2))
               AND ($4::text IS NULL
                    OR ($4 = 'UPCOMING' AND $5 < (start_date::timestamp AT TIME ZONE time_zone))
                    OR ($4 = 'RUNNING' AND $5 >= (start_date::timestamp AT TIME ZONE time_zone)
                        AND $5 < ((end_date + 1)::timestamp AT TIME ZONE time_zone))
                    OR ($4 = 'ENDED' AND $5 >= ((end_date + 1)::timestamp AT TIME ZONE time_zone)))
             ORDER BY start_date DESC, id DESC
             LIMIT $3",
            region,
            after,
            edu_kit::paging::overfetch_limit(size),
            phase,
            now.to_sqlx() as _,
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let items: Vec<Campaign> = rows.into_iter().map(Campaign::from).collect();
        Ok(Page::from_overfetch(items, size, |c| c.id.clone()))
    }
}
