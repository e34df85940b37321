//! The registry of providers and their programmes (rule 4).

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::{ApiError, CallContext, audit};

use crate::domain::{CertificateError, Money};

/// A provider in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// The ID in `providers/{id}`.
    pub id: String,
    /// Public name.
    pub display_name: String,
    /// Taxpayer number.
    pub tax_id: String,
    /// Region.
    pub region_code: String,
    /// Municipality.
    pub municipality_code: String,
    /// In the registry.
    pub included: bool,
    /// Why excluded.
    pub exclusion_reason: String,
    /// Included first.
    pub create_time: Timestamp,
}

/// A programme of a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Programme {
    /// The provider.
    pub provider_id: String,
    /// The ID in `providers/{provider}/programmes/{id}`.
    pub id: String,
    /// Title.
    pub title: String,
    /// What the children do.
    pub description: String,
    /// One of the six directions, as stored.
    pub direction: String,
    /// Youngest age admitted.
    pub min_age: i16,
    /// Oldest age admitted.
    pub max_age: i16,
    /// Seats.
    pub seats: u32,
    /// Seats taken by accepted enrolments.
    pub taken: u32,
    /// When it meets, in words.
    pub schedule: String,
    /// Monthly price.
    pub monthly_price: Money,
    /// Certified.
    pub certified: bool,
    /// Sum of the parents' ratings.
    pub rating_sum: i32,
    /// How many ratings.
    pub rating_count: i32,
    /// The provider's region (read from the provider).
    pub region_code: String,
    /// The provider's municipality (read from the provider).
    pub municipality_code: String,
    /// Described.
    pub create_time: Timestamp,
}

/// Includes a provider.
pub async fn create_provider(
    conn: &mut PgConnection,
    context: &CallContext,
    provider: &Provider,
) -> Result<(), ApiError> {
    let inserted = sqlx::query!(
        "INSERT INTO certificates.providers
            (id, display_name, tax_id, region_code, municipality_code, create_time)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT DO NOTHING",
        provider.id,
        provider.display_name,
        provider.tax_id,
        provider.region_code,
        provider.municipality_code,
        provider.create_time.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        // Expected conflicts are decided from the insert's result, not from a constraint
        // error the server would log with the key.
        return Err(ApiError::already_exists(format!(
            "providers/{} (or a provider with the same tax ID)",
            provider.id
        )));
    }
    audit::record(
        conn,
        context,
        "provider.included",
        &format!("providers/{}", provider.id),
        json!({ "tax_id": provider.tax_id, "display_name": provider.display_name }),
    )
    .await?;
    Ok(())
}

/// Excludes or includes a provider again.
pub async fn set_included(
    conn: &mut PgConnection,
    context: &CallContext,
    id: &str,
    included: bool,
    reason: &str,
) -> Result<(), ApiError> {
    let changed = sqlx::query!(
        "UPDATE certificates.providers SET included = $2, exclusion_reason = $3 WHERE id = $1",
        id,
        included,
        if included { "" } else { reason },
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(ApiError::not_found(format!("providers/{id}")));
    }
    audit::record(
        conn,
        context,
        if included {
            "provider.included"
        } else {
            "provider.excluded"
        },
        &format!("providers/{id}"),
        json!({ "reason": reason }),
    )
    .await?;
    Ok(())
}

/// Describes a programme.
pub async fn create_programme(
    conn: &mut PgConnection,
    context: &CallContext,
    programme: &Programme,
) -> Result<(), ApiError> {
    let inserted = sqlx::query!(
        "INSERT INTO certificates.programmes
            (provider_id, id, title, description, direction, min_age, max_age, seats, schedule,
             monthly_price, create_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT DO NOTHING",
        programme.provider_id,
        programme.id,
        programme.title,
        programme.description,
        programme.direction,
        programme.min_age,
        programme.max_age,
        i32::try_from(programme.seats).unwrap_or(i32::MAX),
        programme.schedule,
        programme.monthly_price.kopecks(),
        programme.create_time.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(ApiError::already_exists(name(
            &programme.provider_id,
            &programme.id,
        )));
    }
    audit::record(
        conn,
        context,
        "programme.described",
        &name(&programme.provider_id, &programme.id),
        json!({
            "title": programme.title,
            "seats": programme.seats,
            "monthly_price_kopecks": programme.monthly_price.kopecks(),
        }),
    )
    .await?;
    Ok(())
}

/// Certifies a programme.
pub async fn certify(
    conn: &mut PgConnection,
    context: &CallContext,
    provider_id: &str,
    id: &str,
) -> Result<(), ApiError> {
    let changed = sqlx::query!(
        "UPDATE certificates.programmes SET certified = true WHERE provider_id = $1 AND id = $2",
        provider_id,
        id
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(ApiError::not_found(name(provider_id, id)));
    }
    audit::record(
        conn,
        context,
        "programme.certified",
        &name(provider_id, id),
        json!({}),
    )
    .await?;
    Ok(())
}

/// The programme's resource name.
pub fn name(provider_id: &str, id: &str) -> String {
    format!("providers/{provider_id}/programmes/{id}")
}

#[derive(sqlx::FromRow)]
pub(super) struct ProgrammeRow {
    pub(super) provider_id: String,
    pub(super) id: String,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) direction: String,
    pub(super) min_age: i16,
    pub(super) max_age: i16,
    pub(super) seats: i32,
    pub(super) taken: i32,
    pub(super) schedule: String,
    pub(super) monthly_price: i64,
    pub(super) certified: bool,
    pub(super) rating_sum: i32,
    pub(super) rating_count: i32,
    pub(super) region_code: String,
    pub(super) municipality_code: String,
    pub(super) create_time: jiff_sqlx::Timestamp,
    pub(super) included: bool,
}

impl ProgrammeRow {
    pub(super) fn into_domain(self) -> (Programme, bool) {
        (
            Programme {
                provider_id: self.provider_id,
                id: self.id,
                title: self.title,
                description: self.description,
                direction: self.direction,
                min_age: self.min_age,
                max_age: self.max_age,
                seats: u32::try_from(self.seats).unwrap_or(0),
                taken: u32::try_from(self.taken).unwrap_or(0),
                schedule: self.schedule,
                monthly_price: Money::from_kopecks(self.monthly_price),
                certified: self.certified,
                rating_sum: self.rating_sum,
                rating_count: self.rating_count,
                region_code: self.region_code,
                municipality_code: self.municipality_code,
                create_time: self.create_time.to_jiff(),
            },
            self.included,
        )
    }
}

/// A programme with whether its provider is included; `lock` holds the programme row
/// `FOR UPDATE` (seats are counted and taken under it).
pub async fn fetch(
    conn: &mut PgConnection,
    provider_id: &str,
    id: &str,
    lock: bool,
) -> Result<Option<(Programme, bool)>, ApiError> {
    let row = if lock {
        sqlx::query_as!(
            ProgrammeRow,
            "SELECT p.provider_id, p.id, p.title, p.description, p.direction, p.min_age, p.max_age,
                    p.seats, p.taken, p.schedule, p.monthly_price, p.certified, p.rating_sum,
                    p.rating_count, v.region_code, v.municipality_code, p.create_time, v.included
             FROM certificates.programmes p JOIN certificates.providers v ON v.id = p.provider_id
             WHERE p.provider_id = $1 AND p.id = $2
             FOR UPDATE OF p",
            provider_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            ProgrammeRow,
            "-- hot path: GetProgramme
                    SELECT p.provider_id, p.id, p.title, p.description, p.direction, p.min_age, p.max_age,
                    p.seats, p.taken, p.schedule, p.monthly_price, p.certified, p.rating_sum,
                    p.rating_count, v.region_code, v.municipality_code, p.create_time, v.included
             FROM certificates.programmes p JOIN certificates.providers v ON v.id = p.provider_id
             WHERE p.provider_id = $1 AND p.id = $2",
            provider_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    Ok(row.map(ProgrammeRow::into_domain))
}

/// Rule 4: only certified programmes of included providers take enrolments.
pub fn ensure_open_for_enrolment(
    programme: &Programme,
    provider_included: bool,
) -> Result<(), CertificateError> {
    if !provider_included {
        Err(CertificateError::ProviderExcluded)
    } else if !programme.certified {
        Err(CertificateError::ProgrammeNotCertified)
    } else {
        Ok(())
    }
}

struct ProviderRow {
    id: String,
    display_name: String,
    tax_id: String,
    region_code: String,
    municipality_code: String,
    included: bool,
    exclusion_reason: String,
    create_time: jiff_sqlx::Timestamp,
}

impl ProviderRow {
    fn into_domain(self) -> Provider {
        Provider {
            id: self.id,
            display_name: self.display_name,
            tax_id: self.tax_id,
            region_code: self.region_code,
            municipality_code: self.municipality_code,
            included: self.included,
            exclusion_reason: self.exclusion_reason,
            create_time: self.create_time.to_jiff(),
        }
    }
}

/// Reads a provider.
pub async fn provider(conn: &mut PgConnection, id: &str) -> Result<Option<Provider>, ApiError> {
    let row = sqlx::query_as!(
        ProviderRow,
        "SELECT id, display_name, tax_id, region_code, municipality_code, included,
                exclusion_reason, create_time
         FROM certificates.providers WHERE id = $1",
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(ProviderRow::into_domain))
}

/// Lists providers in registration order, optionally of one region or municipality.
pub async fn list_providers(
    conn: &mut PgConnection,
    region_code: Option<&str>,
    municipality_code: Option<&str>,
    size: usize,
    after: Option<edu_kit::paging::Cursor>,
) -> Result<edu_kit::paging::Page<Provider>, ApiError> {
    let (after_time, after_id) = edu_kit::paging::Cursor::split(after);
    let rows = sqlx::query_as!(
        ProviderRow,
        "SELECT id, display_name, tax_id, region_code, municipality_code, included,
                exclusion_reason, create_time
         FROM certificates.providers
         WHERE ($1::text IS NULL OR region_code = $1)
           AND ($2::text IS NULL OR municipality_code = $2)
           AND ($3::timestamptz IS NULL OR (create_time, id) > ($3, $4::text))
         ORDER BY create_time, id
         LIMIT $5",
        region_code,
        municipality_code,
        after_time,
        after_id,
        edu_kit::paging::overfetch_limit(size),
    )
    .fetch_all(&mut *conn)
    .await?;
    let providers = rows.into_iter().map(ProviderRow::into_domain).collect();
    Ok(edu_kit::paging::Page::from_overfetch(
        providers,
        size,
        |p: &Provider| edu_kit::paging::Cursor {
            time: p.create_time,
            id: p.id.clone(),
        },
    ))
}

/// What the public catalogue filters on.
#[derive(Debug, Clone, Default)]
pub struct ProgrammeQuery {
    /// Only this direction, as stored.
    pub direction: Option<String>,
    /// Only programmes admitting this age.
    pub age: Option<i16>,
    /// Only this region.
    pub region_code: Option<String>,
    /// Only this municipality (with the region).
    pub municipality_code: Option<String>,
    /// Only with a free seat.
    pub free_seats_only: bool,
    /// At most this monthly price.
    pub max_monthly_price: Option<Money>,
    /// At least this mean rating.
    pub min_rating: Option<f64>,
}

/// Where a catalogue page ends: the title and ID of its last programme.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TitleCursor {
    /// Title.
    pub title: String,
    /// `provider/programme`.
    pub key: String,
}

/// Rule 4 and the public catalogue: certified programmes of included providers, by title
/// then ID, so that paging is stable while ratings and seats change.
pub async fn search(
    conn: &mut PgConnection,
    query: &ProgrammeQuery,
    size: usize,
    after: Option<TitleCursor>,
) -> Result<edu_kit::paging::Page<Programme, TitleCursor>, ApiError> {
    let mut sql = search_statement(query, size, after);
    let rows: Vec<ProgrammeRow> = sql.build_query_as().fetch_all(&mut *conn).await?;
    let programmes = rows.into_iter().map(|r| r.into_domain().0).collect();
    Ok(edu_kit::paging::Page::from_overfetch(
        programmes,
        size,
        |p: &Programme| TitleCursor {
            title: p.title.clone(),
            key: format!("{}/{}", p.provider_id, p.id),
        },
    ))
}

/// The statement of [`search`]: public, so that the benchmark can ask Postgres for its plan.
pub fn search_statement(
    query: &ProgrammeQuery,
    size: usize,
    after: Option<TitleCursor>,
) -> sqlx::QueryBuilder<sqlx::Postgres> {
    // The statement names only the filters given: one generic plan per combination, each
    // reading the catalogue in title order from `programmes_catalogue` and stopping at a
    // page. (One statement with `$n IS NULL OR …` for every filter gets a generic plan that
    // cannot tell a filter given from one absent, and sorts the whole catalogue.)
    let mut sql = sqlx::QueryBuilder::<sqlx::Postgres>::new(
        "-- hot path: SearchProgrammes
         SELECT p.provider_id, p.id, p.title, p.description, p.direction, p.min_age, p.max_age,
                p.seats, p.taken, p.schedule, p.monthly_price, p.certified, p.rating_sum,
                p.rating_count, v.region_code, v.municipality_code, p.create_time, v.included
         FROM certificates.programmes p JOIN certificates.providers v ON v.id = p.provider_id
         WHERE p.certified AND v.included",
    );
    if let Some(direction) = &query.direction {
        sql.push(" AND p.direction = ").push_bind(direction.clone());
    }
    if let Some(age) = query.age {
        sql.push(" AND p.min_age <= ")
            .push_bind(age)
            .push(" AND p.max_age >= ")
            .push_bind(age);
    }
    if let Some(region) = &query.region_code {
        sql.push(" AND v.region_code = ").push_bind(region.clone());
    }
    if let Some(municipality) = &query.municipality_code {
        sql.push(" AND v.municipality_code = ")
            .push_bind(municipality.clone());
    }
    if query.free_seats_only {
        sql.push(" AND p.taken < p.seats");
    }
    if let Some(price) = query.max_monthly_price {
        sql.push(" AND p.monthly_price <= ")
            .push_bind(price.kopecks());
    }
    if let Some(rating) = query.min_rating {
        sql.push(" AND p.rating_count > 0 AND p.rating_sum::float8 / p.rating_count >= ")
            .push_bind(rating);
    }
    if let Some(TitleCursor { title, key }) = after {
        sql.push(" AND (p.title, p.provider_id || '/' || p.id) > (")
            .push_bind(title)
            .push(", ")
            .push_bind(key)
            .push(")");
    }
    sql.push(" ORDER BY p.title, p.provider_id || '/' || p.id LIMIT ")
        .push_bind(edu_kit::paging::overfetch_limit(size));
    sql
}
