//! Bulk imports of children (import.proto): the record of each upload with its summary,
//! and the outcome of each data row.
//!
//! An upload's rows, their records and events (listed through [`super::children::create`])
//! and its record here commit in one transaction. Its idempotency key is (uploader,
//! request ID), unique; while one upload holds a key (a transaction-scoped advisory lock
//! taken with [`try_hold_request`]), another upload with the same key is refused at once
//! rather than waiting. Rows name the record and the problems' columns and reason codes,
//! never a cell's value.

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::ApiError;

use super::corrupt;

/// The format of an uploaded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma- or semicolon-separated values.
    Csv,
    /// An Office Open XML workbook.
    Xlsx,
}

impl Format {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::Xlsx => "XLSX",
        }
    }

    /// The format a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [Format::Csv, Format::Xlsx]
            .into_iter()
            .find(|f| f.as_str() == raw)
    }
}

/// How one row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Listed as a new record.
    Imported,
    /// The campaign had the child.
    AlreadyListed,
    /// An earlier row of the file is the same child.
    DuplicateInFile,
    /// The row has problems.
    Invalid,
}

impl Outcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Imported => "IMPORTED",
            Outcome::AlreadyListed => "ALREADY_LISTED",
            Outcome::DuplicateInFile => "DUPLICATE_IN_FILE",
            Outcome::Invalid => "INVALID",
        }
    }

    /// The outcome a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        [
            Outcome::Imported,
            Outcome::AlreadyListed,
            Outcome::DuplicateInFile,
            Outcome::Invalid,
        ]
        .into_iter()
        .find(|o| o.as_str() == raw)
    }
}

/// One problem of an INVALID row: a column's key and a reason code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    /// The column's key, for example `iin`.
    pub column: String,
    /// The reason code, for example `IIN_INVALID`.
    pub reason: String,
}

/// The counts of an import's summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Data rows read.
    pub rows: i32,
    /// Rows IMPORTED.
    pub imported: i32,
    /// Of those, flagged as a probable duplicate.
    pub imported_probable_duplicates: i32,
    /// Rows ALREADY_LISTED.
    pub already_listed: i32,
    /// Rows DUPLICATE_IN_FILE.
    pub duplicate_in_file: i32,
    /// Rows INVALID.
    pub invalid: i32,
}

/// One upload as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The random ID.
    pub id: String,
    /// The campaign.
    pub campaign_id: String,
    /// The importing school.
    pub school_id: String,
    /// The school's region.
    pub region_code: String,
    /// The uploader, the token's subject.
    pub actor: String,
    /// The upload's idempotency key.
    pub request_id: String,
    /// The file's name, from the header.
    pub file_name: String,
    /// The file's format.
    pub format: Format,
    /// The bytes received.
    pub size_bytes: i64,
    /// The SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
    /// The summary.
    pub counts: Counts,
    /// When the upload began.
    pub create_time: Timestamp,
    /// When its rows were committed.
    pub complete_time: Timestamp,
}

impl Import {
    /// The resource name.
    pub fn name(&self) -> String {
        name(&self.campaign_id, &self.id)
    }
}

/// The resource name of import `id` of campaign `campaign`.
pub fn name(campaign: &str, id: &str) -> String {
    format!("campaigns/{campaign}/childImports/{id}")
}

/// The outcome of one row, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The row's number, the header being row 1.
    pub row_number: i32,
    /// How it ended.
    pub outcome: Outcome,
    /// The record listed or found, when any.
    pub child_id: Option<String>,
    /// For IMPORTED, whether the new record was flagged.
    pub probable_duplicate: bool,
    /// For DUPLICATE_IN_FILE, the earlier row.
    pub first_row: Option<i32>,
    /// For INVALID, the problems in column order.
    pub problems: Vec<Problem>,
}

/// A recorded row with the school and region of its record (to decide who may see it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRow {
    /// The row.
    pub row: Row,
    /// The school of its record, when it names one.
    pub child_school_id: Option<String>,
    /// The region of its record.
    pub child_region_code: Option<String>,
}

struct ImportRow {
    id: String,
    campaign_id: String,
    school_id: String,
    region_code: String,
    actor: String,
    request_id: String,
    file_name: String,
    format: String,
    size_bytes: i64,
    sha256: String,
    rows: i32,
    imported: i32,
    imported_probable_duplicates: i32,
    already_listed: i32,
    duplicate_in_file: i32,
    invalid: i32,
    create_time: jiff_sqlx::Timestamp,
    complete_time: jiff_sqlx::Timestamp,
}

impl TryFrom<ImportRow> for Import {
    type Error = ApiError;

    fn try_from(r: ImportRow) -> Result<Import, ApiError> {
        Ok(Import {
            format: Format::parse(&r.format).ok_or_else(|| corrupt("import format", &r.format))?,
            id: r.id,
            campaign_id: r.campaign_id,
            school_id: r.school_id,
            region_code: r.region_code,
            actor: r.actor,
            request_id: r.request_id,
            file_name: r.file_name,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            counts: Counts {
                rows: r.rows,
                imported: r.imported,
                imported_probable_duplicates: r.imported_probable_duplicates,
                already_listed: r.already_listed,
                duplicate_in_file: r.duplicate_in_file,
                invalid: r.invalid,
            },
            create_time: r.create_time.to_jiff(),
            complete_time: r.complete_time.to_jiff(),
        })
    }
}

/// Takes the key (`actor`, `request_id`) for this transaction; `false` when another
/// upload holds it now.
pub async fn try_hold_request(
    conn: &mut PgConnection,
    actor: &str,
    request_id: &str,
) -> Result<bool, ApiError> {
    let key = format!("aid.child_imports\u{1f}{actor}\u{1f}{request_id}");
    Ok(sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_xact_lock(hashtextextended($1::text, 0)) AS "held!""#,
        key
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// The import recorded under (`actor`, `request_id`).
pub async fn find_by_request(
    conn: &mut PgConnection,
    actor: &str,
    request_id: &str,
) -> Result<Option<Import>, ApiError> {
    sqlx::query_as!(
        ImportRow,
        "SELECT id, campaign_id, school_id, region_code, actor, request_id, file_name, format,
                size_bytes, sha256, rows, imported, imported_probable_duplicates,
                already_listed, duplicate_in_file, invalid, create_time, complete_time
         FROM aid.child_imports WHERE actor = $1 AND request_id = $2",
        actor,
        request_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(Import::try_from)
    .transpose()
}

/// Import `id` of campaign `campaign`.
pub async fn fetch(
    conn: &mut PgConnection,
    campaign: &str,
    id: &str,
) -> Result<Option<Import>, ApiError> {
    sqlx::query_as!(
        ImportRow,
        "SELECT id, campaign_id, school_id, region_code, actor, request_id, file_name, format,
                size_bytes, sha256, rows, imported, imported_probable_duplicates,
                already_listed, duplicate_in_file, invalid, create_time, complete_time
         FROM aid.child_imports WHERE campaign_id = $1 AND id = $2",
        campaign,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(Import::try_from)
    .transpose()
}

/// Records an upload before its rows (its counts zero until [`complete`]).
pub async fn insert(conn: &mut PgConnection, import: &Import) -> Result<(), ApiError> {
    sqlx::query!(
        "INSERT INTO aid.child_imports
             (id, campaign_id, school_id, region_code, actor, request_id, file_name, format,
              size_bytes, sha256, create_time, complete_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        import.id,
        import.campaign_id,
        import.school_id,
        import.region_code,
        import.actor,
        import.request_id,
        import.file_name,
        import.format.as_str(),
        import.size_bytes,
        import.sha256,
        import.create_time.to_sqlx() as _,
        import.complete_time.to_sqlx() as _,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records the outcome of one row of import `import`.
pub async fn record_row(conn: &mut PgConnection, import: &str, row: &Row) -> Result<(), ApiError> {
    let problems = json!(row.problems);
    sqlx::query!(
        "INSERT INTO aid.child_import_rows
             (import_id, row_number, outcome, child_id, probable_duplicate, first_row, problems)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        import,
        row.row_number,
        row.outcome.as_str(),
        row.child_id,
        row.probable_duplicate,
        row.first_row,
        problems,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The row of import `import` that listed record `child`, when one did.
pub async fn row_that_listed(
    conn: &mut PgConnection,
    import: &str,
    child: &str,
) -> Result<Option<i32>, ApiError> {
    Ok(sqlx::query_scalar!(
        "SELECT row_number FROM aid.child_import_rows
         WHERE import_id = $1 AND child_id = $2 AND outcome = 'IMPORTED'
         ORDER BY row_number LIMIT 1",
        import,
        child
    )
    .fetch_optional(&mut *conn)
    .await?)
}

/// Stores the summary of import `id`, completed at `now`.
pub async fn complete(
    conn: &mut PgConnection,
    id: &str,
    counts: &Counts,
    now: Timestamp,
) -> Result<(), ApiError> {
    sqlx::query!(
        "UPDATE aid.child_imports
         SET rows = $2, imported = $3, imported_probable_duplicates = $4, already_listed = $5,
             duplicate_in_file = $6, invalid = $7, complete_time = $8
         WHERE id = $1",
        id,
        counts.rows,
        counts.imported,
        counts.imported_probable_duplicates,
        counts.already_listed,
        counts.duplicate_in_file,
        counts.invalid,
        now.to_sqlx() as _,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Up to `size` rows of import `import` after row `after`, by row number; only `outcome`
/// when given.
pub async fn list_rows(
    conn: &mut PgConnection,
    import: &str,
    outcome: Option<Outcome>,
    after: i32,
    size: usize,
) -> Result<Vec<StoredRow>, ApiError> {
    let rows = sqlx::query!(
        r#"SELECT r.row_number, r.outcome, r.child_id, r.probable_duplicate, r.first_row,
                  r.problems, c.school_id AS "child_school_id?", c.region_code AS "child_region_code?"
           FROM aid.child_import_rows r LEFT JOIN aid.children c ON c.id = r.child_id
           WHERE r.import_id = $1 AND ($2::text IS NULL OR r.outcome = $2)
             AND r.row_number > $3
           ORDER BY r.row_number
           LIMIT $4"#,
        import,
        outcome.map(Outcome::as_str),
        after,
        size as i64,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            let problems: Vec<Problem> = serde_json::from_value(r.problems)
                .map_err(|_| corrupt("import row problems", import))?;
            Ok(StoredRow {
                row: Row {
                    row_number: r.row_number,
                    outcome: Outcome::parse(&r.outcome)
                        .ok_or_else(|| corrupt("import row outcome", &r.outcome))?,
                    child_id: r.child_id,
                    probable_duplicate: r.probable_duplicate,
                    first_row: r.first_row,
                    problems,
                },
                child_school_id: r.child_school_id,
                child_region_code: r.child_region_code,
            })
        })
        .collect()
}
