//! Programme years (deliverable 1): created and changed by the ministry, fixed once their
//! window opens.

use jiff_sqlx::ToSqlx;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use sqlx::types::Json;

use edu_kit::paging::Page;
use edu_kit::{ApiError, CallContext, audit, etag};

use super::{Store, corrupt};
use crate::domain::year::{Contracted, Module};
use crate::domain::{Caps, ProgrammeYear};

/// A year with its counts of contracted schools (rule 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearRecord {
    /// The parameters.
    pub year: ProgrammeYear,
    /// Schools of each kind in signed contracts.
    pub contracted: Contracted,
}

#[derive(Debug, Serialize, Deserialize)]
struct ModuleJson {
    number: u8,
    display_name: String,
}

struct YearRow {
    id: String,
    display_name: String,
    time_zone: String,
    application_start: jiff_sqlx::Date,
    application_end: jiff_sqlx::Date,
    modules: Json<Vec<ModuleJson>>,
    innovative_cap: i32,
    non_innovative_cap: i32,
    annex_deadline: jiff_sqlx::Date,
    max_mobility_days: i16,
    innovative_contracted: i32,
    non_innovative_contracted: i32,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn sql_count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl YearRow {
    fn into_record(self) -> Result<YearRecord, ApiError> {
        Ok(YearRecord {
            year: ProgrammeYear {
                id: self.id,
                display_name: self.display_name,
                time_zone: self.time_zone,
                application_start: self.application_start.to_jiff(),
                application_end: self.application_end.to_jiff(),
                modules: self
                    .modules
                    .0
                    .into_iter()
                    .map(|m| Module {
                        number: m.number,
                        display_name: m.display_name,
                    })
                    .collect(),
                caps: Caps {
                    innovative: count(self.innovative_cap),
                    non_innovative: count(self.non_innovative_cap),
                },
                annex_deadline: self.annex_deadline.to_jiff(),
                max_mobility_days: u8::try_from(self.max_mobility_days).map_err(|_| {
                    corrupt("max_mobility_days", &self.max_mobility_days.to_string())
                })?,
                create_time: self.create_time.to_jiff(),
                update_time: self.update_time.to_jiff(),
                version: self.version,
            },
            contracted: Contracted {
                innovative: count(self.innovative_contracted),
                non_innovative: count(self.non_innovative_contracted),
            },
        })
    }
}

fn modules_json(modules: &[Module]) -> Json<Vec<ModuleJson>> {
    Json(
        modules
            .iter()
            .map(|m| ModuleJson {
                number: m.number,
                display_name: m.display_name.clone(),
            })
            .collect(),
    )
}

/// The resource name of year `id`.
pub fn name(id: &str) -> String {
    format!("years/{id}")
}

/// Creates a year; `ALREADY_EXISTS` when its ID is taken.
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    year: &ProgrammeYear,
) -> Result<YearRecord, ApiError> {
    let inserted = sqlx::query!(
        "INSERT INTO partnerships.years
            (id, display_name, time_zone, application_start, application_end, modules,
             innovative_cap, non_innovative_cap, annex_deadline, max_mobility_days,
             create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
         ON CONFLICT DO NOTHING",
        year.id,
        year.display_name,
        year.time_zone,
        year.application_start.to_sqlx(),
        year.application_end.to_sqlx(),
        modules_json(&year.modules) as _,
        sql_count(year.caps.innovative),
        sql_count(year.caps.non_innovative),
        year.annex_deadline.to_sqlx(),
        i16::from(year.max_mobility_days),
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(ApiError::already_exists(name(&year.id)));
    }
    audit::record(
        conn,
        context,
        "year.created",
        &name(&year.id),
        json!({ "application_start": year.application_start.to_string(),
                "application_end": year.application_end.to_string(),
                "innovative_cap": year.caps.innovative,
                "non_innovative_cap": year.caps.non_innovative }),
    )
    .await?;
    get(conn, &year.id, false).await
}

/// A year; `lock` holds its row `FOR UPDATE` (signatures and changes take it).
pub async fn fetch(
    conn: &mut PgConnection,
    id: &str,
    lock: bool,
) -> Result<Option<YearRecord>, ApiError> {
    let row = if lock {
        sqlx::query_as!(
            YearRow,
            r#"SELECT id, display_name, time_zone, application_start, application_end,
                    modules AS "modules: Json<Vec<ModuleJson>>",
                    innovative_cap, non_innovative_cap, annex_deadline, max_mobility_days,
                    innovative_contracted, non_innovative_contracted, create_time, update_time,
                    version
             FROM partnerships.years WHERE id = $1 FOR UPDATE"#,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            YearRow,
            r#"SELECT id, display_name, time_zone, application_start, application_end,
                    modules AS "modules: Json<Vec<ModuleJson>>",
                    innovative_cap, non_innovative_cap, annex_deadline, max_mobility_days,
                    innovative_contracted, non_innovative_contracted, create_time, update_time,
                    version
             FROM partnerships.years WHERE id = $1"#,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    row.map(YearRow::into_record).transpose()
}

/// A year or `NOT_FOUND`.
pub async fn get(conn: &mut PgConnection, id: &str, lock: bool) -> Result<YearRecord, ApiError> {
    fetch(conn, id, lock)
        .await?
        .ok_or_else(|| ApiError::not_found(name(id)))
}

/// Replaces a year's parameters with `next`, which `change` builds from the stored year
/// and which may refuse (a field fixed once the window opened).
pub async fn update(
    conn: &mut PgConnection,
    context: &CallContext,
    id: &str,
    supplied_etag: &str,
    change: impl FnOnce(&ProgrammeYear) -> Result<ProgrammeYear, ApiError>,
) -> Result<YearRecord, ApiError> {
    let stored = get(conn, id, true).await?;
    etag::check(supplied_etag, stored.year.version, &name(id))?;
    let year = change(&stored.year)?;
    sqlx::query!(
        "UPDATE partnerships.years
         SET display_name = $2, time_zone = $3, application_start = $4, application_end = $5,
             modules = $6, innovative_cap = $7, non_innovative_cap = $8, annex_deadline = $9,
             max_mobility_days = $10, update_time = $11, version = version + 1
         WHERE id = $1",
        id,
        year.display_name,
        year.time_zone,
        year.application_start.to_sqlx(),
        year.application_end.to_sqlx(),
        modules_json(&year.modules) as _,
        sql_count(year.caps.innovative),
        sql_count(year.caps.non_innovative),
        year.annex_deadline.to_sqlx(),
        i16::from(year.max_mobility_days),
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "year.updated",
        &name(id),
        json!({ "display_name": year.display_name,
                "application_start": year.application_start.to_string(),
                "application_end": year.application_end.to_string() }),
    )
    .await?;
    get(conn, id, false).await
}

impl Store {
    /// A year, or `NOT_FOUND`.
    pub async fn year(&self, id: &str) -> Result<YearRecord, ApiError> {
        self.reads
            .run(async |conn| Ok(get(conn, id, false).await?))
            .await
    }

    /// Years, newest window first; the cursor is the last year's ID (IDs of school years
    /// sort as their windows do).
    pub async fn list_years(
        &self,
        size: usize,
        after: Option<String>,
    ) -> Result<Page<YearRecord, String>, ApiError> {
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            YearRow,
            r#"SELECT id, display_name, time_zone, application_start, application_end,
                    modules AS "modules: Json<Vec<ModuleJson>>",
                    innovative_cap, non_innovative_cap, annex_deadline, max_mobility_days,
                    innovative_contracted, non_innovative_contracted, create_time, update_time,
                    version
             FROM partnerships.years
             WHERE $1::text IS NULL OR (application_start, id) < (
                 SELECT application_start, id FROM partnerships.years WHERE id = $1)
             ORDER BY application_start DESC, id DESC
             LIMIT $2"#,
            after,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let records = rows
            .into_iter()
            .map(YearRow::into_record)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(records, size, |r| r.year.id.clone()))
    }
}
