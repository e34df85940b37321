//! The school registry, the List of innovative schools and their innovations, the
//! directory (deliverables 2 and 3) and the partner-finding view.

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::Page;
use edu_kit::{ApiError, CallContext, audit, etag};

use super::Store;
use crate::domain::PartnershipError;
use crate::domain::directory;

/// A school in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct School {
    /// Its ID.
    pub id: String,
    /// Its official name.
    pub display_name: String,
    /// Its НЕИСПУО code.
    pub neispuo_code: String,
    /// Its region, `BG-xx`.
    pub region_code: String,
    /// Its municipality's ЕКАТТЕ code.
    pub municipality_code: String,
    /// Its municipality's name.
    pub municipality_name: String,
    /// Its official e-mail, its sign-in identity.
    pub official_email: String,
    /// On the List of innovative schools.
    pub innovative: bool,
    /// The act that last changed its place on the List.
    pub innovative_list_basis: String,
    /// When its place on the List last changed.
    pub innovative_list_change_time: Option<Timestamp>,
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
    neispuo_code: String,
    region_code: String,
    municipality_code: String,
    municipality_name: String,
    official_email: String,
    innovative: bool,
    innovative_list_basis: String,
    innovative_list_change_time: Option<jiff_sqlx::Timestamp>,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

impl From<SchoolRow> for School {
    fn from(r: SchoolRow) -> School {
        School {
            id: r.id,
            display_name: r.display_name,
            neispuo_code: r.neispuo_code,
            region_code: r.region_code,
            municipality_code: r.municipality_code,
            municipality_name: r.municipality_name,
            official_email: r.official_email,
            innovative: r.innovative,
            innovative_list_basis: r.innovative_list_basis,
            innovative_list_change_time: r.innovative_list_change_time.map(|t| t.to_jiff()),
            create_time: r.create_time.to_jiff(),
            update_time: r.update_time.to_jiff(),
            version: r.version,
        }
    }
}

/// An innovation with what the directory shows of its school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Innovation {
    /// The school's ID.
    pub school_id: String,
    /// The innovation's ID.
    pub id: String,
    /// Its area, as stored (`TEACHING_METHODS`, …).
    pub area: String,
    /// Its title.
    pub title: String,
    /// What the school does differently.
    pub description: String,
    /// The school's display name.
    pub school_display_name: String,
    /// The school's region.
    pub region_code: String,
    /// The school's municipality.
    pub municipality_name: String,
    /// Whether the school is on the List now.
    pub school_innovative: bool,
    /// Described.
    pub create_time: Timestamp,
    /// Last changed.
    pub update_time: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
}

struct InnovationRow {
    school_id: String,
    id: String,
    area: String,
    title: String,
    description: String,
    school_display_name: String,
    region_code: String,
    municipality_name: String,
    school_innovative: bool,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

impl From<InnovationRow> for Innovation {
    fn from(r: InnovationRow) -> Innovation {
        Innovation {
            school_id: r.school_id,
            id: r.id,
            area: r.area,
            title: r.title,
            description: r.description,
            school_display_name: r.school_display_name,
            region_code: r.region_code,
            municipality_name: r.municipality_name,
            school_innovative: r.school_innovative,
            create_time: r.create_time.to_jiff(),
            update_time: r.update_time.to_jiff(),
            version: r.version,
        }
    }
}

/// Where a page of schools ends: Bulgarian order of the display name, then the ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameCursor {
    /// The last display name.
    pub name: String,
    /// The last ID.
    pub id: String,
}

/// Where a page of the directory ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryCursor {
    /// The last school's display name.
    pub school_name: String,
    /// The last title.
    pub title: String,
    /// The last school's ID.
    pub school_id: String,
    /// The last innovation's ID.
    pub id: String,
}

/// What the directory is asked for.
#[derive(Debug, Clone, Default)]
pub struct DirectoryQuery {
    /// A `tsquery` of folded, stemmed prefixes ([`directory::prefix_query`]).
    pub words: Option<String>,
    /// Only this area.
    pub area: Option<String>,
    /// Only this region's schools.
    pub region: Option<String>,
    /// Only this school's.
    pub school: Option<String>,
    /// Only schools on the List (the directory); every innovation otherwise.
    pub listed_only: bool,
}

/// A new school.
#[derive(Debug, Clone)]
pub struct NewSchool {
    /// Its ID.
    pub id: String,
    /// Its official name.
    pub display_name: String,
    /// Its НЕИСПУО code.
    pub neispuo_code: String,
    /// Its region.
    pub region_code: String,
    /// Its municipality's code.
    pub municipality_code: String,
    /// Its municipality's name.
    pub municipality_name: String,
    /// Its official e-mail.
    pub official_email: String,
}

/// Registers a school; `ALREADY_EXISTS` naming the field already registered.
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    school: &NewSchool,
) -> Result<School, ApiError> {
    let inserted = sqlx::query!(
        "INSERT INTO partnerships.schools
            (id, display_name, neispuo_code, region_code, municipality_code, municipality_name,
             official_email, create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         ON CONFLICT DO NOTHING",
        school.id,
        school.display_name,
        school.neispuo_code,
        school.region_code,
        school.municipality_code,
        school.municipality_name,
        school.official_email,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        // The conflicting row has committed (ON CONFLICT waited for it): say which field.
        let taken = sqlx::query_scalar!(
            r#"SELECT CASE WHEN id = $1 THEN 'school_id'
                          WHEN neispuo_code = $2 THEN 'neispuo_code'
                          ELSE 'official_email' END AS "field!"
               FROM partnerships.schools
               WHERE id = $1 OR neispuo_code = $2 OR lower(official_email) = lower($3)
               LIMIT 1"#,
            school.id,
            school.neispuo_code,
            school.official_email,
        )
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or_else(|| "school_id".to_string());
        return Err(ApiError::already_exists(format!("schools/{}", school.id))
            .with_metadata("field", taken));
    }
    audit::record(
        conn,
        context,
        "school.created",
        &format!("schools/{}", school.id),
        json!({ "region_code": school.region_code, "neispuo_code": school.neispuo_code }),
    )
    .await?;
    fetch(conn, &school.id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("schools/{}", school.id)))
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
            "SELECT id, display_name, neispuo_code, region_code, municipality_code,
                    municipality_name, official_email, innovative, innovative_list_basis,
                    innovative_list_change_time, create_time, update_time, version
             FROM partnerships.schools WHERE id = $1 FOR UPDATE",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            SchoolRow,
            "SELECT id, display_name, neispuo_code, region_code, municipality_code,
                    municipality_name, official_email, innovative, innovative_list_basis,
                    innovative_list_change_time, create_time, update_time, version
             FROM partnerships.schools WHERE id = $1",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    Ok(row.map(School::from))
}

/// Schools `ids` held `FOR SHARE` (in ID order, so concurrent holders never deadlock):
/// the List does not change under a proposal or a signature. Missing IDs are left out.
pub async fn share(conn: &mut PgConnection, ids: &[&str]) -> Result<Vec<School>, ApiError> {
    let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    ids.sort();
    let rows = sqlx::query_as!(
        SchoolRow,
        "SELECT id, display_name, neispuo_code, region_code, municipality_code,
                municipality_name, official_email, innovative, innovative_list_basis,
                innovative_list_change_time, create_time, update_time, version
         FROM partnerships.schools WHERE id = ANY($1) ORDER BY id FOR SHARE",
        &ids
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(School::from).collect())
}

/// Adds a school to the List (`innovative`) or removes it, by the act `basis`. Refused
/// while the school is a party to an open contract of a year whose annex deadline has not
/// passed. Interest declarations the change makes meaningless are withdrawn with it.
pub async fn set_innovative(
    conn: &mut PgConnection,
    context: &CallContext,
    id: &str,
    supplied_etag: &str,
    innovative: bool,
    basis: &str,
) -> Result<School, ApiError> {
    let now = context.now();
    let school = fetch(conn, id, true)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("schools/{id}")))?;
    etag::check(supplied_etag, school.version, &format!("schools/{id}"))?;
    if school.innovative == innovative {
        return Ok(school);
    }
    let open = sqlx::query_scalar!(
        r#"SELECT 'years/' || c.year_id || '/contracts/' || c.id AS "name!"
           FROM partnerships.contracts c JOIN partnerships.years y ON y.id = c.year_id
           WHERE (c.proposer_id = $1 OR c.counterparty_id = $1)
             AND c.state IN ('PROPOSED', 'SIGNED')
             AND ((y.annex_deadline + 1)::timestamp AT TIME ZONE y.time_zone) > $2
           LIMIT 1"#,
        id,
        now.to_sqlx() as _,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(contract) = open {
        return Err(PartnershipError::SchoolInContract { contract }.into());
    }
    sqlx::query!(
        "UPDATE partnerships.schools
         SET innovative = $2, innovative_list_basis = $3, innovative_list_change_time = $4,
             update_time = $4, version = version + 1
         WHERE id = $1",
        id,
        innovative,
        basis,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    // A listed school no longer declares interest; no one keeps an interest in the
    // innovations of a school that left the List.
    sqlx::query!(
        "UPDATE partnerships.interests
         SET state = 'WITHDRAWN', withdraw_time = $2, version = version + 1
         WHERE state = 'DECLARED' AND (school_id = $1 OR innovation_school_id = $1)",
        id,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        if innovative {
            "school.listed"
        } else {
            "school.delisted"
        },
        &format!("schools/{id}"),
        json!({ "innovative": innovative, "basis": basis }),
    )
    .await?;
    fetch(conn, id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("schools/{id}")))
}

/// What UpdateSchool changes: each `Some` field.
#[derive(Debug, Clone, Default)]
pub struct SchoolChange {
    /// New display name.
    pub display_name: Option<String>,
    /// New municipality code.
    pub municipality_code: Option<String>,
    /// New municipality name.
    pub municipality_name: Option<String>,
    /// New official e-mail.
    pub official_email: Option<String>,
}

/// Changes a school's details; another school's e-mail is `ALREADY_EXISTS` (field
/// `official_email`), also when a concurrent change took it first.
pub async fn update(
    conn: &mut PgConnection,
    context: &CallContext,
    id: &str,
    supplied_etag: &str,
    change: &SchoolChange,
) -> Result<School, ApiError> {
    let name = format!("schools/{id}");
    let school = fetch(conn, id, true)
        .await?
        .ok_or_else(|| ApiError::not_found(name.clone()))?;
    etag::check(supplied_etag, school.version, &name)?;
    let email_taken =
        || ApiError::already_exists(name.clone()).with_metadata("field", "official_email");
    let updated = sqlx::query!(
        "UPDATE partnerships.schools
         SET display_name = $2, municipality_code = $3, municipality_name = $4,
             official_email = $5, update_time = $6, version = version + 1
         WHERE id = $1",
        id,
        change.display_name.as_ref().unwrap_or(&school.display_name),
        change
            .municipality_code
            .as_ref()
            .unwrap_or(&school.municipality_code),
        change
            .municipality_name
            .as_ref()
            .unwrap_or(&school.municipality_name),
        change
            .official_email
            .as_ref()
            .unwrap_or(&school.official_email),
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await;
    match updated {
        Ok(_) => {}
        // The e-mail index is the only unique one this statement can break.
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("23505") => {
            return Err(email_taken());
        }
        Err(e) => return Err(e.into()),
    }
    audit::record(
        conn,
        context,
        "school.updated",
        &name,
        json!({ "display_name": change.display_name, "municipality_code": change.municipality_code,
                "municipality_name": change.municipality_name,
                "official_email_changed": change.official_email.is_some() }),
    )
    .await?;
    fetch(conn, id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(name))
}

/// What UpdateInnovation changes: each `Some` field.
#[derive(Debug, Clone, Default)]
pub struct InnovationChange {
    /// New area, as stored.
    pub area: Option<String>,
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
}

async fn lock_innovation(
    conn: &mut PgConnection,
    school_id: &str,
    id: &str,
    supplied_etag: &str,
) -> Result<Innovation, ApiError> {
    let name = format!("schools/{school_id}/innovations/{id}");
    sqlx::query!(
        "SELECT 1 AS found FROM partnerships.innovations WHERE school_id = $1 AND id = $2 FOR UPDATE",
        school_id,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let current = innovation(conn, school_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(name.clone()))?;
    etag::check(supplied_etag, current.version, &name)?;
    Ok(current)
}

/// Changes an innovation's area, title or description (and so what the directory finds).
pub async fn update_innovation(
    conn: &mut PgConnection,
    context: &CallContext,
    school_id: &str,
    id: &str,
    supplied_etag: &str,
    change: &InnovationChange,
) -> Result<Innovation, ApiError> {
    let current = lock_innovation(conn, school_id, id, supplied_etag).await?;
    let title = change.title.clone().unwrap_or(current.title);
    let description = change.description.clone().unwrap_or(current.description);
    let area = change.area.clone().unwrap_or(current.area);
    let search_text = directory::fold(&format!("{title} {description}"));
    sqlx::query!(
        "UPDATE partnerships.innovations
         SET area = $3, title = $4, description = $5, search_text = $6, update_time = $7,
             version = version + 1
         WHERE school_id = $1 AND id = $2",
        school_id,
        id,
        area,
        title,
        description,
        search_text,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let name = format!("schools/{school_id}/innovations/{id}");
    audit::record(
        conn,
        context,
        "innovation.updated",
        &name,
        json!({ "area": area, "title": title }),
    )
    .await?;
    innovation(conn, school_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(name))
}

/// Deletes an innovation no interest declaration names (contracts name one only through
/// an interest).
pub async fn delete_innovation(
    conn: &mut PgConnection,
    context: &CallContext,
    school_id: &str,
    id: &str,
    supplied_etag: &str,
) -> Result<(), ApiError> {
    lock_innovation(conn, school_id, id, supplied_etag).await?;
    let used = sqlx::query_scalar!(
        r#"SELECT 'years/' || year_id || '/interests/' || id AS "name!"
           FROM partnerships.interests
           WHERE innovation_school_id = $1 AND innovation_id = $2
           LIMIT 1"#,
        school_id,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(resource) = used {
        return Err(PartnershipError::InnovationInUse { resource }.into());
    }
    sqlx::query!(
        "DELETE FROM partnerships.innovations WHERE school_id = $1 AND id = $2",
        school_id,
        id
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "innovation.deleted",
        &format!("schools/{school_id}/innovations/{id}"),
        json!({}),
    )
    .await?;
    Ok(())
}

/// A new innovation of a school on the List.
#[derive(Debug, Clone)]
pub struct NewInnovation {
    /// The school's ID.
    pub school_id: String,
    /// The innovation's ID.
    pub id: String,
    /// Its area, as stored.
    pub area: String,
    /// Its title.
    pub title: String,
    /// Its description.
    pub description: String,
}

/// Describes an innovation; the school must be on the List.
pub async fn create_innovation(
    conn: &mut PgConnection,
    context: &CallContext,
    new: &NewInnovation,
) -> Result<Innovation, ApiError> {
    let school = share(conn, &[&new.school_id])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found(format!("schools/{}", new.school_id)))?;
    if !school.innovative {
        return Err(PartnershipError::SchoolNotInnovative {
            school: format!("schools/{}", school.id),
        }
        .into());
    }
    let search_text = directory::fold(&format!("{} {}", new.title, new.description));
    let inserted = sqlx::query!(
        "INSERT INTO partnerships.innovations
            (school_id, id, area, title, description, search_text, create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
         ON CONFLICT DO NOTHING",
        new.school_id,
        new.id,
        new.area,
        new.title,
        new.description,
        search_text,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let name = format!("schools/{}/innovations/{}", new.school_id, new.id);
    if inserted == 0 {
        return Err(ApiError::already_exists(name));
    }
    audit::record(
        conn,
        context,
        "innovation.created",
        &name,
        json!({ "area": new.area, "title": new.title }),
    )
    .await?;
    innovation(conn, &new.school_id, &new.id)
        .await?
        .ok_or_else(|| ApiError::not_found(name))
}

/// An innovation with its school's directory fields.
pub async fn innovation(
    conn: &mut PgConnection,
    school_id: &str,
    id: &str,
) -> Result<Option<Innovation>, ApiError> {
    let row = sqlx::query_as!(
        InnovationRow,
        "SELECT i.school_id, i.id, i.area, i.title, i.description,
                s.display_name AS school_display_name, s.region_code, s.municipality_name,
                s.innovative AS school_innovative, i.create_time, i.update_time, i.version
         FROM partnerships.innovations i JOIN partnerships.schools s ON s.id = i.school_id
         WHERE i.school_id = $1 AND i.id = $2",
        school_id,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(Innovation::from))
}

/// A candidate partner of the partner-finding view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The candidate school.
    pub school: School,
    /// `INNOVATIVE` or `INTERESTED`.
    pub kind: String,
    /// Modules both applied for.
    pub shared_modules: Vec<u8>,
    /// Between the regions' centres, in km.
    pub distance_km: i32,
    /// The asking school's innovations the candidate declared interest in (IDs).
    pub innovations: Vec<String>,
    /// A PROPOSED contract between the two, its ID.
    pub proposed_contract: Option<String>,
}

/// Where a page of candidates ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateCursor {
    /// The last distance.
    pub distance_km: i32,
    /// The last display name.
    pub name: String,
    /// The last ID.
    pub id: String,
}

impl Store {
    /// A school.
    pub async fn school(&self, id: &str) -> Result<Option<School>, ApiError> {
        self.reads
            .run(async |conn| Ok(fetch(conn, id, false).await?))
            .await
    }

    /// Schools in Bulgarian order of their names.
    pub async fn list_schools(
        &self,
        region: Option<&str>,
        municipality: Option<&str>,
        innovative_only: bool,
        size: usize,
        after: Option<NameCursor>,
    ) -> Result<Page<School, NameCursor>, ApiError> {
        let (after_name, after_id) = after.map(|c| (c.name, c.id)).unzip();
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            SchoolRow,
            r#"SELECT id, display_name, neispuo_code, region_code, municipality_code,
                      municipality_name, official_email, innovative, innovative_list_basis,
                      innovative_list_change_time, create_time, update_time, version
               FROM partnerships.schools
               WHERE ($1::text IS NULL OR region_code = $1)
                 AND ($2::text IS NULL OR municipality_code = $2)
                 AND (NOT $3 OR innovative)
                 AND ($4::text IS NULL
                      OR (display_name COLLATE "bg-x-icu", id) > ($4 COLLATE "bg-x-icu", $5::text))
               ORDER BY display_name COLLATE "bg-x-icu", id
               LIMIT $6"#,
            region,
            municipality,
            innovative_only,
            after_name,
            after_id,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let schools: Vec<School> = rows.into_iter().map(School::from).collect();
        Ok(Page::from_overfetch(schools, size, |s| NameCursor {
            name: s.display_name.clone(),
            id: s.id.clone(),
        }))
    }

    /// An innovation.
    pub async fn innovation(
        &self,
        school_id: &str,
        id: &str,
    ) -> Result<Option<Innovation>, ApiError> {
        self.reads
            .run(async |conn| Ok(innovation(conn, school_id, id).await?))
            .await
    }

    /// Innovations by school name, then title, in Bulgarian order: the directory (words,
    /// area, region, school) and the plain listing of a school's innovations.
    pub async fn search_innovations(
        &self,
        query: &DirectoryQuery,
        size: usize,
        after: Option<DirectoryCursor>,
    ) -> Result<Page<Innovation, DirectoryCursor>, ApiError> {
        let (a_school_name, a_title, a_school, a_id) = match after {
            Some(c) => (
                Some(c.school_name),
                Some(c.title),
                Some(c.school_id),
                Some(c.id),
            ),
            None => (None, None, None, None),
        };
        let mut conn = self.read().await?;
        let rows = sqlx::query_as!(
            InnovationRow,
            r#"SELECT i.school_id, i.id, i.area, i.title, i.description,
                      s.display_name AS school_display_name, s.region_code, s.municipality_name,
                      s.innovative AS school_innovative, i.create_time, i.update_time, i.version
               FROM partnerships.innovations i JOIN partnerships.schools s ON s.id = i.school_id
               WHERE ($1::text IS NULL OR i.search @@ to_tsquery('simple', $1))
                 AND ($2::text IS NULL OR i.area = $2)
                 AND ($3::text IS NULL OR s.region_code = $3)
                 AND ($4::text IS NULL OR i.school_id = $4)
                 AND (NOT $5 OR s.innovative)
                 AND ($6::text IS NULL
                      OR (s.display_name COLLATE "bg-x-icu", i.title COLLATE "bg-x-icu",
                          i.school_id, i.id)
                       > ($6 COLLATE "bg-x-icu", $7::text COLLATE "bg-x-icu", $8::text, $9::text))
               ORDER BY s.display_name COLLATE "bg-x-icu", i.title COLLATE "bg-x-icu",
                        i.school_id, i.id
               LIMIT $10"#,
            query.words,
            query.area,
            query.region,
            query.school,
            query.listed_only,
            a_school_name,
            a_title,
            a_school,
            a_id,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let items: Vec<Innovation> = rows.into_iter().map(Innovation::from).collect();
        Ok(Page::from_overfetch(items, size, |i| DirectoryCursor {
            school_name: i.school_display_name.clone(),
            title: i.title.clone(),
            school_id: i.school_id.clone(),
            id: i.id.clone(),
        }))
    }

    /// The partner-finding view: the schools `school` (innovative, applied to `year`) may
    /// still contract with, closest region first, then in Bulgarian order of their names.
    pub async fn find_partners(
        &self,
        year: &str,
        school: &str,
        kind: Option<&str>,
        size: usize,
        after: Option<CandidateCursor>,
    ) -> Result<Page<Candidate, CandidateCursor>, ApiError> {
        let (codes, lats, lons) = crate::domain::regions::centres();
        let (a_distance, a_name, a_id) = match after {
            Some(c) => (Some(c.distance_km), Some(c.name), Some(c.id)),
            None => (None, None, None),
        };
        let mut conn = self.read().await?;
        let rows = sqlx::query!(
            r#"WITH centres AS (
                   SELECT * FROM unnest($3::text[], $4::float8[], $5::float8[]) AS c(code, lat, lon)
               ),
               me AS (
                   SELECT s.id, s.region_code, a.modules,
                          EXISTS (SELECT 1 FROM partnerships.partner_slots p
                                  WHERE p.year_id = $1 AND p.school_id = s.id
                                    AND p.slot = 'INNOVATIVE_PARTNER') AS has_innovative,
                          EXISTS (SELECT 1 FROM partnerships.partner_slots p
                                  WHERE p.year_id = $1 AND p.school_id = s.id
                                    AND p.slot = 'NON_INNOVATIVE_PARTNER') AS has_other
                   FROM partnerships.schools s
                   JOIN partnerships.applications a
                     ON a.school_id = s.id AND a.year_id = $1 AND a.state = 'SUBMITTED'
                   WHERE s.id = $2
               ),
               candidates AS (
                   SELECT s.id, 'INNOVATIVE' AS kind, a.modules, '{}'::text[] AS innovations
                   FROM me, partnerships.schools s
                   JOIN partnerships.applications a
                     ON a.school_id = s.id AND a.year_id = $1 AND a.state = 'SUBMITTED'
                   WHERE s.innovative AND s.id <> me.id AND a.modules && me.modules
                     AND NOT me.has_innovative
                     AND NOT EXISTS (SELECT 1 FROM partnerships.partner_slots p
                                     WHERE p.year_id = $1 AND p.school_id = s.id
                                       AND p.slot = 'INNOVATIVE_PARTNER')
                   UNION ALL
                   SELECT s.id, 'INTERESTED', a.modules,
                          array_agg(DISTINCT i.innovation_id ORDER BY i.innovation_id)
                   FROM me, partnerships.schools s
                   JOIN partnerships.applications a
                     ON a.school_id = s.id AND a.year_id = $1 AND a.state = 'SUBMITTED'
                   JOIN partnerships.interests i
                     ON i.school_id = s.id AND i.year_id = $1 AND i.state = 'DECLARED'
                   WHERE NOT s.innovative AND i.innovation_school_id = me.id
                     AND a.modules && me.modules AND NOT me.has_other
                     AND NOT EXISTS (SELECT 1 FROM partnerships.partner_slots p
                                     WHERE p.year_id = $1 AND p.school_id = s.id
                                       AND p.slot = 'CONTRACTED')
                   GROUP BY s.id, a.modules
               ),
               placed AS (
                   SELECT c.id, c.kind, c.innovations,
                          ARRAY(SELECT unnest(c.modules) INTERSECT SELECT unnest(me.modules)
                                ORDER BY 1) AS shared,
                          round(2 * 6371 * asin(sqrt(
                              power(sin(radians(cc.lat - mc.lat) / 2), 2)
                              + cos(radians(mc.lat)) * cos(radians(cc.lat))
                                * power(sin(radians(cc.lon - mc.lon) / 2), 2))))::int AS distance
                   FROM candidates c
                   CROSS JOIN me
                   JOIN partnerships.schools s ON s.id = c.id
                   JOIN centres mc ON mc.code = me.region_code
                   JOIN centres cc ON cc.code = s.region_code
               )
               SELECT s.id, s.display_name, s.neispuo_code, s.region_code, s.municipality_code,
                      s.municipality_name, s.official_email, s.innovative,
                      s.innovative_list_basis, s.innovative_list_change_time, s.create_time,
                      s.update_time, s.version,
                      p.kind AS "kind!", p.innovations AS "innovations!",
                      p.shared AS "shared!", p.distance AS "distance!",
                      (SELECT k.id FROM partnerships.contracts k
                       WHERE k.year_id = $1 AND k.state = 'PROPOSED'
                         AND ((k.proposer_id = $2 AND k.counterparty_id = s.id)
                              OR (k.proposer_id = s.id AND k.counterparty_id = $2))
                       LIMIT 1) AS proposed
               FROM placed p JOIN partnerships.schools s ON s.id = p.id
               WHERE ($6::text IS NULL OR p.kind = $6)
                 AND ($7::int IS NULL
                      OR (p.distance, s.display_name COLLATE "bg-x-icu", s.id)
                       > ($7, $8::text COLLATE "bg-x-icu", $9::text))
               ORDER BY p.distance, s.display_name COLLATE "bg-x-icu", s.id
               LIMIT $10"#,
            year,
            school,
            &codes,
            &lats,
            &lons,
            kind,
            a_distance,
            a_name,
            a_id,
            edu_kit::paging::overfetch_limit(size),
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let items: Vec<Candidate> = rows
            .into_iter()
            .map(|r| Candidate {
                school: School::from(SchoolRow {
                    id: r.id,
                    display_name: r.display_name,
                    neispuo_code: r.neispuo_code,
                    region_code: r.region_code,
                    municipality_code: r.municipality_code,
                    municipality_name: r.municipality_name,
                    official_email: r.official_email,
                    innovative: r.innovative,
                    innovative_list_basis: r.innovative_list_basis,
                    innovative_list_change_time: r.innovative_list_change_time,
                    create_time: r.create_time,
                    update_time: r.update_time,
                    version: r.version,
                }),
                kind: r.kind,
                shared_modules: r
                    .shared
                    .iter()
                    .filter_map(|m| u8::try_from(*m).ok())
                    .collect(),
                distance_km: r.distance,
                innovations: r.innovations,
                proposed_contract: r.proposed,
            })
            .collect();
        Ok(Page::from_overfetch(items, size, |c| CandidateCursor {
            distance_km: c.distance_km,
            name: c.school.display_name.clone(),
            id: c.school.id.clone(),
        }))
    }
}
