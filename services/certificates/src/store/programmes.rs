//! The registry of providers and their programmes (rule 4).

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::db::is_unique_violation;
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
    /// Monthly price.
    pub monthly_price: Money,
    /// Certified.
    pub certified: bool,
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
         VALUES ($1, $2, $3, $4, $5, $6)",
        provider.id,
        provider.display_name,
        provider.tax_id,
        provider.region_code,
        provider.municipality_code,
        provider.create_time.to_sqlx(),
    )
    .execute(&mut *conn)
    .await;
    if let Err(e) = inserted {
        return Err(if is_unique_violation(&e) {
            ApiError::already_exists(format!(
                "providers/{} (or a provider with tax ID {})",
                provider.id, provider.tax_id
            ))
        } else {
            e.into()
        });
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
            (provider_id, id, title, direction, min_age, max_age, seats, monthly_price, create_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        programme.provider_id,
        programme.id,
        programme.title,
        programme.direction,
        programme.min_age,
        programme.max_age,
        i32::try_from(programme.seats).unwrap_or(i32::MAX),
        programme.monthly_price.kopecks(),
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await;
    if let Err(e) = inserted {
        return Err(if is_unique_violation(&e) {
            ApiError::already_exists(name(&programme.provider_id, &programme.id))
        } else {
            e.into()
        });
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

struct ProgrammeRow {
    provider_id: String,
    id: String,
    title: String,
    direction: String,
    min_age: i16,
    max_age: i16,
    seats: i32,
    taken: i32,
    monthly_price: i64,
    certified: bool,
    included: bool,
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
            "SELECT p.provider_id, p.id, p.title, p.direction, p.min_age, p.max_age, p.seats,
                    p.taken, p.monthly_price, p.certified, v.included
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
            "SELECT p.provider_id, p.id, p.title, p.direction, p.min_age, p.max_age, p.seats,
                    p.taken, p.monthly_price, p.certified, v.included
             FROM certificates.programmes p JOIN certificates.providers v ON v.id = p.provider_id
             WHERE p.provider_id = $1 AND p.id = $2",
            provider_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    Ok(row.map(|r| {
        (
            Programme {
                provider_id: r.provider_id,
                id: r.id,
                title: r.title,
                direction: r.direction,
                min_age: r.min_age,
                max_age: r.max_age,
                seats: u32::try_from(r.seats).unwrap_or(0),
                taken: u32::try_from(r.taken).unwrap_or(0),
                monthly_price: Money::from_kopecks(r.monthly_price),
                certified: r.certified,
            },
            r.included,
        )
    }))
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
