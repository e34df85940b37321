//! Applications to a year (rule 1) and interest declarations (rule 3).

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::{Cursor, Page};
use edu_kit::{ApiError, CallContext, audit, etag};

use super::years::YearRecord;
use super::{Store, Visibility, schools};
use crate::domain::PartnershipError;
use crate::domain::pairing::shared_modules;

/// A school's application to a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// Its ID.
    pub id: String,
    /// The year.
    pub year_id: String,
    /// The school.
    pub school_id: String,
    /// Modules applied for, ascending.
    pub modules: Vec<u8>,
    /// Why the school applies.
    pub motivation: String,
    /// `SUBMITTED` or `WITHDRAWN`.
    pub state: String,
    /// Whether the school is on the List now.
    pub innovative: bool,
    /// The school's name.
    pub school_display_name: String,
    /// The school's region.
    pub region_code: String,
    /// Submitted.
    pub create_time: Timestamp,
    /// Withdrawn.
    pub withdraw_time: Option<Timestamp>,
    /// Optimistic-concurrency version.
    pub version: i64,
}

struct ApplicationRow {
    id: String,
    year_id: String,
    school_id: String,
    modules: Vec<i16>,
    motivation: String,
    state: String,
    innovative: bool,
    school_display_name: String,
    region_code: String,
    create_time: jiff_sqlx::Timestamp,
    withdraw_time: Option<jiff_sqlx::Timestamp>,
    version: i64,
}

/// Module numbers as stored.
pub(crate) fn modules_from_sql(stored: &[i16]) -> Vec<u8> {
    stored
        .iter()
        .filter_map(|m| u8::try_from(*m).ok())
        .collect()
}

/// Module numbers for storage.
pub(crate) fn modules_to_sql(modules: &[u8]) -> Vec<i16> {
    modules.iter().map(|m| i16::from(*m)).collect()
}

impl From<ApplicationRow> for Application {
    fn from(r: ApplicationRow) -> Application {
        Application {
            id: r.id,
            year_id: r.year_id,
            school_id: r.school_id,
            modules: modules_from_sql(&r.modules),
            motivation: r.motivation,
            state: r.state,
            innovative: r.innovative,
            school_display_name: r.school_display_name,
            region_code: r.region_code,
            create_time: r.create_time.to_jiff(),
            withdraw_time: r.withdraw_time.map(|t| t.to_jiff()),
            version: r.version,
        }
    }
}

/// The resource name of an application.
pub fn name(year: &str, id: &str) -> String {
    format!("years/{year}/applications/{id}")
}

/// The resource name of an interest.
pub fn interest_name(year: &str, id: &str) -> String {
    format!("years/{year}/interests/{id}")
}

/// The modules `school` applied for in `year`, when it has a submitted application.
pub async fn submitted_modules(
    conn: &mut PgConnection,
    year: &str,
    school: &str,
) -> Result<Option<Vec<u8>>, ApiError> {
    let modules = sqlx::query_scalar!(
        "SELECT modules FROM partnerships.applications
         WHERE year_id = $1 AND school_id = $2 AND state = 'SUBMITTED'",
        year,
        school
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(modules.map(|m| modules_from_sql(&m)))
}

/// A new application.
#[derive(Debug, Clone)]
pub struct NewApplication {
    /// Its ID.
    pub id: String,
    /// The school.
    pub school_id: String,
    /// Modules, ascending, distinct, offered by the year.
    pub modules: Vec<u8>,
    /// Why.
    pub motivation: String,
}

/// Submits an application within the window; `ALREADY_EXISTS` when the school has one
/// that is not withdrawn.
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    year: &YearRecord,
    new: &NewApplication,
) -> Result<Application, ApiError> {
    year.year.ensure_window_open(context.now())?;
    if schools::share(conn, &[&new.school_id]).await?.is_empty() {
        return Err(ApiError::not_found(format!("schools/{}", new.school_id)));
    }
    let inserted = sqlx::query!(
        "INSERT INTO partnerships.applications
            (id, year_id, school_id, modules, motivation, state, create_time)
         VALUES ($1, $2, $3, $4, $5, 'SUBMITTED', $6)
         ON CONFLICT (year_id, school_id) WHERE state = 'SUBMITTED' DO NOTHING",
        new.id,
        year.year.id,
        new.school_id,
        &modules_to_sql(&new.modules),
        new.motivation,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        let existing = sqlx::query_scalar!(
            "SELECT id FROM partnerships.applications
             WHERE year_id = $1 AND school_id = $2 AND state = 'SUBMITTED'",
            year.year.id,
            new.school_id
        )
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or_default();
        return Err(ApiError::already_exists(format!(
            "an application of schools/{} to years/{}",
            new.school_id, year.year.id
        ))
        .with_metadata("application", name(&year.year.id, &existing)));
    }
    let resource = name(&year.year.id, &new.id);
    audit::record(
        conn,
        context,
        "application.submitted",
        &resource,
        json!({ "school": new.school_id, "modules": new.modules }),
    )
    .await?;
    fetch(conn, &year.year.id, &new.id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(resource))
}

/// An application of `year`; `lock` holds it `FOR UPDATE`.
pub async fn fetch(
    conn: &mut PgConnection,
    year: &str,
    id: &str,
    lock: bool,
) -> Result<Option<Application>, ApiError> {
    if lock {
        sqlx::query!(
            "SELECT 1 AS found FROM partnerships.applications WHERE id = $1 FOR UPDATE",
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
        &ApplicationFilter::default(),
        Some((year, id)),
        1,
        None,
    )
    .await?
    .into_iter()
    .next())
}

/// Filters of ListApplications.
#[derive(Debug, Clone, Default)]
pub struct ApplicationFilter {
    /// One year, or every year.
    pub year: Option<String>,
    /// One school's.
    pub school: Option<String>,
    /// Schools of one region.
    pub region: Option<String>,
    /// Applications for this module.
    pub module: Option<u8>,
    /// In this state.
    pub state: Option<String>,
}

async fn select(
    conn: &mut PgConnection,
    vis: &Visibility,
    filter: &ApplicationFilter,
    one: Option<(&str, &str)>,
    size: usize,
    after: Option<Cursor>,
) -> Result<Vec<Application>, ApiError> {
    let (one_year, one_id) = one.unzip();
    let (after_time, after_id) = Cursor::split(after);
    let rows = sqlx::query_as!(
        ApplicationRow,
        "SELECT a.id, a.year_id, a.school_id, a.modules, a.motivation, a.state,
                s.innovative, s.display_name AS school_display_name, s.region_code,
                a.create_time, a.withdraw_time, a.version
         FROM partnerships.applications a JOIN partnerships.schools s ON s.id = a.school_id
         WHERE ($1::text IS NULL OR (a.year_id = $1 AND a.id = $2))
           AND ($3::text IS NULL OR a.year_id = $3)
           AND ($4::text IS NULL OR a.school_id = $4)
           AND ($5::text IS NULL OR s.region_code = $5)
           AND ($6::smallint IS NULL OR $6 = ANY (a.modules))
           AND ($7::text IS NULL OR a.state = $7)
           AND ($8 OR s.region_code = ANY ($9) OR a.school_id = ANY ($10))
           AND ($11::timestamptz IS NULL OR (a.create_time, a.id) > ($11, $12::text))
         ORDER BY a.create_time, a.id
         LIMIT $13",
        one_year,
        one_id,
        filter.year,
        filter.school,
        filter.region,
        filter.module.map(i16::from),
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
    Ok(rows.into_iter().map(Application::from).collect())
}

/// Withdraws an application; the school's proposals of the year lapse and its interests
/// are withdrawn with it. Runs under the year's lock, so no signature of the school is in
/// flight.
pub async fn withdraw(
    conn: &mut PgConnection,
    context: &CallContext,
    year: &str,
    id: &str,
    supplied_etag: &str,
) -> Result<Application, ApiError> {
    let now = context.now();
    super::years::get(conn, year, true).await?;
    let resource = name(year, id);
    let app = fetch(conn, year, id, true)
        .await?
        .ok_or_else(|| ApiError::not_found(resource.clone()))?;
    etag::check(supplied_etag, app.version, &resource)?;
    if app.state == "WITHDRAWN" {
        return Ok(app);
    }
    let signed = sqlx::query_scalar!(
        r#"SELECT 'years/' || year_id || '/contracts/' || id AS "name!"
           FROM partnerships.contracts
           WHERE year_id = $1 AND state = 'SIGNED' AND (proposer_id = $2 OR counterparty_id = $2)
           LIMIT 1"#,
        year,
        app.school_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(contract) = signed {
        return Err(PartnershipError::SchoolHasSignedContract { contract }.into());
    }
    sqlx::query!(
        "UPDATE partnerships.applications
         SET state = 'WITHDRAWN', withdraw_time = $2, version = version + 1 WHERE id = $1",
        id,
        now.to_sqlx()
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE partnerships.contracts
         SET state = 'LAPSED', lapse_reason = 'NOT_APPLIED', lapse_school = $2,
             update_time = $3, version = version + 1
         WHERE year_id = $1 AND state = 'PROPOSED' AND (proposer_id = $2 OR counterparty_id = $2)",
        year,
        app.school_id,
        now.to_sqlx()
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE partnerships.interests
         SET state = 'WITHDRAWN', withdraw_time = $3, version = version + 1
         WHERE year_id = $1 AND school_id = $2 AND state = 'DECLARED'",
        year,
        app.school_id,
        now.to_sqlx()
    )
    .execute(&mut *conn)
    .await?;
    audit::record(conn, context, "application.withdrawn", &resource, json!({})).await?;
    fetch(conn, year, id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(resource))
}

/// An interest declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interest {
    /// Its ID.
    pub id: String,
    /// The year.
    pub year_id: String,
    /// The declaring school.
    pub school_id: String,
    /// The innovation's school.
    pub innovation_school_id: String,
    /// The innovation.
    pub innovation_id: String,
    /// What the school wrote.
    pub note: String,
    /// `DECLARED` or `WITHDRAWN`.
    pub state: String,
    /// The open or signed contract resting on it, its ID.
    pub contract: Option<String>,
    /// Declared.
    pub create_time: Timestamp,
    /// Withdrawn.
    pub withdraw_time: Option<Timestamp>,
    /// Optimistic-concurrency version.
    pub version: i64,
}

struct InterestRow {
    id: String,
    year_id: String,
    school_id: String,
    innovation_school_id: String,
    innovation_id: String,
    note: String,
    state: String,
    contract: Option<String>,
    create_time: jiff_sqlx::Timestamp,
    withdraw_time: Option<jiff_sqlx::Timestamp>,
    version: i64,
}

impl From<InterestRow> for Interest {
    fn from(r: InterestRow) -> Interest {
        Interest {
            id: r.id,
            year_id: r.year_id,
            school_id: r.school_id,
            innovation_school_id: r.innovation_school_id,
            innovation_id: r.innovation_id,
            note: r.note,
            state: r.state,
            contract: r.contract,
            create_time: r.create_time.to_jiff(),
            withdraw_time: r.withdraw_time.map(|t| t.to_jiff()),
            version: r.version,
        }
    }
}

/// A new interest declaration.
#[derive(Debug, Clone)]
pub struct NewInterest {
    /// Its ID.
    pub id: String,
    /// The declaring school.
    pub school_id: String,
    /// The innovation's school.
    pub innovation_school_id: String,
    /// The innovation.
    pub innovation_id: String,
    /// What the school writes.
    pub note: String,
}

/// Declares interest (rule 3), checked in the order the contract documents.
pub async fn declare(
    conn: &mut PgConnection,
    context: &CallContext,
    year: &YearRecord,
    new: &NewInterest,
) -> Result<Interest, ApiError> {
    let y = &year.year.id;
    let innovation_name = format!(
        "schools/{}/innovations/{}",
        new.innovation_school_id, new.innovation_id
    );
    year.year.ensure_window_open(context.now())?;
    let held = schools::share(conn, &[&new.school_id, &new.innovation_school_id]).await?;
    let find = |id: &str| held.iter().find(|s| s.id == id);
    let declaring = find(&new.school_id)
        .ok_or_else(|| ApiError::not_found(format!("schools/{}", new.school_id)))?;
    if schools::innovation(conn, &new.innovation_school_id, &new.innovation_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(innovation_name));
    }
    let owner = find(&new.innovation_school_id)
        .ok_or_else(|| ApiError::not_found(innovation_name.clone()))?;
    if declaring.innovative {
        return Err(PartnershipError::SchoolIsInnovative.into());
    }
    if !owner.innovative {
        return Err(PartnershipError::SchoolNotInnovative {
            school: format!("schools/{}", owner.id),
        }
        .into());
    }
    let mut modules = Vec::new();
    for school in [&new.school_id, &new.innovation_school_id] {
        match submitted_modules(conn, y, school).await? {
            Some(m) => modules.push(m),
            None => {
                return Err(PartnershipError::NotApplied {
                    school: format!("schools/{school}"),
                }
                .into());
            }
        }
    }
    if shared_modules(&modules[0], &modules[1]).is_empty() {
        return Err(PartnershipError::ModuleMismatch.into());
    }
    let standing = super::contracts::standing(conn, y, &new.school_id).await?;
    if let Some(contract) = standing.contracted_with {
        return Err(PartnershipError::NonInnovativeAlreadyContracted {
            school: format!("schools/{}", new.school_id),
            contract,
        }
        .into());
    }
    let owner_standing = super::contracts::standing(conn, y, &new.innovation_school_id).await?;
    if let Some(contract) = owner_standing.non_innovative_partner {
        return Err(PartnershipError::AlreadyHasNonInnovativePartner {
            school: format!("schools/{}", new.innovation_school_id),
            contract,
        }
        .into());
    }
    let inserted = sqlx::query!(
        "INSERT INTO partnerships.interests
            (id, year_id, school_id, innovation_school_id, innovation_id, note, state,
             create_time)
         VALUES ($1, $2, $3, $4, $5, $6, 'DECLARED', $7)
         ON CONFLICT (year_id, school_id, innovation_school_id, innovation_id)
            WHERE state = 'DECLARED' DO NOTHING",
        new.id,
        y,
        new.school_id,
        new.innovation_school_id,
        new.innovation_id,
        new.note,
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        let existing = sqlx::query_scalar!(
            "SELECT id FROM partnerships.interests
             WHERE year_id = $1 AND school_id = $2 AND innovation_school_id = $3
               AND innovation_id = $4 AND state = 'DECLARED'",
            y,
            new.school_id,
            new.innovation_school_id,
            new.innovation_id
        )
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or_default();
        return Err(ApiError::already_exists(format!(
            "an interest of schools/{} in {innovation_name}",
            new.school_id
        ))
        .with_metadata("interest", interest_name(y, &existing)));
    }
    let resource = interest_name(y, &new.id);
    audit::record(
        conn,
        context,
        "interest.declared",
        &resource,
        json!({ "school": new.school_id, "innovation": innovation_name }),
    )
    .await?;
    fetch_interest(conn, y, &new.id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(resource))
}

/// Filters of ListInterests.
#[derive(Debug, Clone, Default)]
pub struct InterestFilter {
    /// One year, or every year.
    pub year: Option<String>,
    /// Declared by this school.
    pub school: Option<String>,
    /// In innovations of this school.
    pub innovative_school: Option<String>,
    /// In this innovation (school, ID).
    pub innovation: Option<(String, String)>,
    /// In this state.
    pub state: Option<String>,
}

/// An interest of `year`; `lock` holds it `FOR UPDATE`.
pub async fn fetch_interest(
    conn: &mut PgConnection,
    year: &str,
    id: &str,
    lock: bool,
) -> Result<Option<Interest>, ApiError> {
    if lock {
        sqlx::query!(
            "SELECT 1 AS found FROM partnerships.interests WHERE id = $1 FOR UPDATE",
            id
        )
        .fetch_optional(&mut *conn)
        .await?;
    }
    let vis = Visibility {
        all: true,
        ..Visibility::default()
    };
    Ok(select_interests(
        conn,
        &vis,
        &InterestFilter::default(),
        Some((year, id)),
        1,
        None,
    )
    .await?
    .into_iter()
    .next())
}

async fn select_interests(
    conn: &mut PgConnection,
    vis: &Visibility,
    filter: &InterestFilter,
    one: Option<(&str, &str)>,
    size: usize,
    after: Option<Cursor>,
) -> Result<Vec<Interest>, ApiError> {
    let (one_year, one_id) = one.unzip();
    let (after_time, after_id) = Cursor::split(after);
    let (innovation_school, innovation_id) = filter.innovation.clone().unzip();
    let rows = sqlx::query_as!(
        InterestRow,
        "SELECT i.id, i.year_id, i.school_id, i.innovation_school_id, i.innovation_id, i.note,
                i.state,
                (SELECT c.id FROM partnerships.contracts c
                 WHERE c.interest_id = i.id AND c.state IN ('PROPOSED', 'SIGNED')
                 LIMIT 1) AS contract,
                i.create_time, i.withdraw_time, i.version
         FROM partnerships.interests i
         JOIN partnerships.schools d ON d.id = i.school_id
         JOIN partnerships.schools o ON o.id = i.innovation_school_id
         WHERE ($1::text IS NULL OR (i.year_id = $1 AND i.id = $2))
           AND ($3::text IS NULL OR i.year_id = $3)
           AND ($4::text IS NULL OR i.school_id = $4)
           AND ($5::text IS NULL OR i.innovation_school_id = $5)
           AND ($6::text IS NULL OR (i.innovation_school_id = $6 AND i.innovation_id = $7))
           AND ($8::text IS NULL OR i.state = $8)
           AND ($9 OR d.region_code = ANY ($10) OR o.region_code = ANY ($10)
                OR i.school_id = ANY ($11) OR i.innovation_school_id = ANY ($11))
           AND ($12::timestamptz IS NULL OR (i.create_time, i.id) > ($12, $13::text))
         ORDER BY i.create_time, i.id
         LIMIT $14",
        one_year,
        one_id,
        filter.year,
        filter.school,
        filter.innovative_school,
        innovation_school,
        innovation_id,
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
    Ok(rows.into_iter().map(Interest::from).collect())
}

/// Withdraws an interest; refused while a contract rests on it.
pub async fn withdraw_interest(
    conn: &mut PgConnection,
    context: &CallContext,
    year: &str,
    id: &str,
    supplied_etag: &str,
) -> Result<Interest, ApiError> {
    let resource = interest_name(year, id);
    let interest = fetch_interest(conn, year, id, true)
        .await?
        .ok_or_else(|| ApiError::not_found(resource.clone()))?;
    etag::check(supplied_etag, interest.version, &resource)?;
    if interest.state == "WITHDRAWN" {
        return Ok(interest);
    }
    if let Some(contract) = &interest.contract {
        return Err(PartnershipError::InterestInUse {
            contract: format!("years/{year}/contracts/{contract}"),
        }
        .into());
    }
    sqlx::query!(
        "UPDATE partnerships.interests
         SET state = 'WITHDRAWN', withdraw_time = $2, version = version + 1 WHERE id = $1",
        id,
        context.now().to_sqlx()
    )
    .execute(&mut *conn)
    .await?;
    audit::record(conn, context, "interest.withdrawn", &resource, json!({})).await?;
    fetch_interest(conn, year, id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(resource))
}

impl Store {
    /// An application.
    pub async fn application(&self, year: &str, id: &str) -> Result<Option<Application>, ApiError> {
        self.reads
            .run(async |conn| Ok(fetch(conn, year, id, false).await?))
            .await
    }

    /// Applications the caller sees, oldest first.
    pub async fn list_applications(
        &self,
        vis: &Visibility,
        filter: &ApplicationFilter,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page<Application>, ApiError> {
        let mut conn = self.read().await?;
        let items = select(&mut conn, vis, filter, None, size + 1, after).await?;
        conn.finish();
        Ok(Page::from_overfetch(items, size, |a| Cursor {
            time: a.create_time,
            id: a.id.clone(),
        }))
    }

    /// An interest.
    pub async fn interest(&self, year: &str, id: &str) -> Result<Option<Interest>, ApiError> {
        self.reads
            .run(async |conn| Ok(fetch_interest(conn, year, id, false).await?))
            .await
    }

    /// Interests the caller sees, oldest first.
    pub async fn list_interests(
        &self,
        vis: &Visibility,
        filter: &InterestFilter,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page<Interest>, ApiError> {
        let mut conn = self.read().await?;
        let items = select_interests(&mut conn, vis, filter, None, size + 1, after).await?;
        conn.finish();
        Ok(Page::from_overfetch(items, size, |i| Cursor {
            time: i.create_time,
            id: i.id.clone(),
        }))
    }
}
