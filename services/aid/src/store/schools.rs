//! Schools that list children (they outlive campaigns), in Kazakh alphabetical order.

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::Page;
use edu_kit::{ApiError, CallContext, audit, etag};

use super::{Store, Visibility};

/// A school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct School {
    /// Its ID.
    pub id: String,
    /// Its official name.
    pub display_name: String,
    /// Its region, `KZ-xx`.
    pub region_code: String,
    /// Its district and settlement.
    pub locality: String,
    /// Its business identification number, when known.
    pub bin: Option<String>,
    /// Registered.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
}

struct SchoolRow {
    id: String,
    display_name: String,
    region_code: String,
    locality: String,
    bin: Option<String>,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

impl From<SchoolRow> for School {
    fn from(r: SchoolRow) -> School {
        School {
            id: r.id,
            display_name: r.display_name,
            region_code: r.region_code,
            locality: r.locality,
            bin: r.bin,
            create_time: r.create_time.to_jiff(),
            update_time: r.update_time.to_jiff(),
            version: r.version,
        }
    }
}

/// Where a page of schools ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameCursor {
    /// The last display name.
    pub name: String,
    /// The last ID.
    pub id: String,
}

/// Registers a school; `ALREADY_EXISTS` naming the field already registered.
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    school: &School,
) -> Result<School, ApiError> {
    let inserted = sqlx::query!(
        "INSERT INTO aid.schools (id, display_name, region_code, locality, bin, create_time,
                                  update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT DO NOTHING",
        school.id,
        school.display_name,
        school.region_code,
        school.locality,
        school.bin,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let resource = format!("schools/{}", school.id);
    if inserted == 0 {
        let field = sqlx::query_scalar!(
            r#"SELECT CASE WHEN id = $1 THEN 'school_id' ELSE 'bin' END AS "field!"
               FROM aid.schools WHERE id = $1 OR bin = $2 LIMIT 1"#,
            school.id,
            school.bin
        )
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or_else(|| "school_id".to_string());
        return Err(ApiError::already_exists(resource).with_metadata("field", field));
    }
    audit::record(
        conn,
        context,
        "school.created",
        &resource,
        json!({ "region_code": school.region_code }),
    )
    .await?;
    fetch(conn, &school.id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(resource))
}

/// A school; `lock` holds its row `FOR UPDATE`.
pub async fn fetch(
    conn: &mut PgConnection,
    id: &str,
    lock: bool,
) -> Result<Option<School>, ApiError> {
    let row = if lock {
        sqlx::query_as!(
            SchoolRow,
            "SELECT id, display_name, region_code, locality, bin, create_time, update_time,
                    version
             FROM aid.schools WHERE id = $1 FOR UPDATE",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            SchoolRow,
            "SELECT id, display_name, region_code, locality, bin, create_time, update_time,
                    version
             FROM aid.schools WHERE id = $1",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    Ok(row.map(School::from))
}

/// Changes a school's display name and locality (each when `Some`).
pub async fn update(
    conn: &mut PgConnection,
    context: &CallContext,
    id: &str,
    supplied_etag: &str,
    display_name: Option<&str>,
    locality: Option<&str>,
) -> Result<School, ApiError> {
    let resource = format!("schools/{id}");
    let school = fetch(conn, id, true)
        .await?
        .ok_or_else(|| ApiError::not_found(resource.clone()))?;
    etag::check(supplied_etag, school.version, &resource)?;
    sqlx::query!(
        "UPDATE aid.schools
         SET display_name = $2, locality = $3, update_time = $4, version = version + 1
         WHERE id = $1",
        id,
        display_name.unwrap_or(&school.display_name),
        locality.unwrap_or(&school.locality),
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "school.updated",
        &resource,
        json!({ "display_name": display_name, "locality": locality }),
    )
    .await?;
    fetch(conn, id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(resource))
}

impl Store {
    /// A school.
    pub async fn school(&self, id: &str) -> Result<Option<School>, ApiError> {
        self.reads
            .run(async |conn| Ok(fetch(conn, id, false).await?))
            .await
    }

    /// Schools the caller sees, in Kazakh alphabetical order of their names.
    pub async fn list_schools(
        &self,
        vis: &Visibility,
        region: Option<&str>,
        size: usize,
        after: Option<NameCursor>,
    ) -> Result<Page<School, NameCursor>, ApiError> {
        let (after_name, after_id) = after.map(|c| (c.name, c.id)).unzip();
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            SchoolRow,
            r#"SELECT id, display_name, region_code, locality, bin, create_time, update_time,
                      version
               FROM aid.schools
               WHERE ($1::text IS NULL OR region_code = $1)
                 AND ($2 OR region_code = ANY ($3) OR id = ANY ($4))
                 AND ($5::text IS NULL
                      OR (display_name COLLATE "kk-x-icu", id) > ($5 COLLATE "kk-x-icu", $6::text))
               ORDER BY display_name COLLATE "kk-x-icu", id
               LIMIT $7"#,
            region,
            vis.all,
            &vis.regions,
            &vis.schools,
            after_name,
            after_id,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let items: Vec<School> = rows.into_iter().map(School::from).collect();
        Ok(Page::from_overfetch(items, size, |s| NameCursor {
            name: s.display_name.clone(),
            id: s.id.clone(),
        }))
    }
}
