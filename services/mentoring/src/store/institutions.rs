//! Institutions (rule 1) with their road map's seven stages (rule 11), and the curator's
//! appointment by the director (choice 5).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::{ApiError, CallContext, audit};

use super::{day_in, institution_name, participant_name, participants};
use crate::domain::road_map::RoadMapStageKind;
use crate::domain::roles::{Appointee, ParticipantRole, check_curator_appointment};

/// An institution as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionDraft {
    /// Its ID, for example `mechta-saratov`.
    pub id: String,
    /// Its full name.
    pub display_name: String,
    /// Its short name.
    pub short_name: String,
    /// Its region, `RU-xx`.
    pub region_code: String,
    /// Its IANA time zone.
    pub time_zone: String,
    /// The regulation it runs under.
    pub regulation: String,
}

/// An institution as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Institution {
    /// Its ID.
    pub id: String,
    /// Its full name.
    pub display_name: String,
    /// Its short name.
    pub short_name: String,
    /// Its region, `RU-xx`.
    pub region_code: String,
    /// Its IANA time zone.
    pub time_zone: String,
    /// The regulation it runs under.
    pub regulation: String,
    /// The appointed curator's resource name (never their name).
    pub curator: Option<String>,
    /// The basis of the appointment (the director's order).
    pub curator_appointment_basis: String,
    /// DRAFT or APPROVED.
    pub road_map_state: String,
    /// When it was registered.
    pub create_time: Timestamp,
    /// Its version, for etags.
    pub version: i64,
}

/// What a use case needs to know about the institution it works in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Its ID.
    pub id: String,
    /// Its full name, for receipts.
    pub display_name: String,
    /// Its region, for events.
    pub region_code: String,
    /// Its zone.
    pub time_zone: String,
    /// Today in its zone, at the call's instant.
    pub today: Date,
}

/// Registers an institution with its seven road-map stages, unplanned.
pub async fn create(
    conn: &mut PgConnection,
    context: &CallContext,
    draft: &InstitutionDraft,
) -> Result<Institution, ApiError> {
    if TimeZone::get(&draft.time_zone).is_err() {
        return Err(ApiError::invalid_field(
            edu_kit::error::reason::INVALID_FIELDS,
            "institution.time_zone",
            "not an IANA time zone",
        ));
    }
    let now = context.now();
    let inserted = sqlx::query!(
        "INSERT INTO mentoring.institutions
             (id, display_name, short_name, region_code, time_zone, regulation, create_time, update_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
         ON CONFLICT (id) DO NOTHING",
        draft.id,
        draft.display_name,
        draft.short_name,
        draft.region_code,
        draft.time_zone,
        draft.regulation,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::already_exists(institution_name(&draft.id))
            .with_metadata("field", "institution_id"));
    }
    let kinds: Vec<String> = RoadMapStageKind::ALL
        .iter()
        .map(|k| k.as_str().to_string())
        .collect();
    sqlx::query!(
        "INSERT INTO mentoring.road_map_stages (institution_id, kind, update_time)
         SELECT $1, kind, $3 FROM unnest($2::text[]) AS kind",
        draft.id,
        &kinds,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "institution.created",
        &institution_name(&draft.id),
        json!({ "region_code": draft.region_code, "time_zone": draft.time_zone }),
    )
    .await?;
    get(conn, &draft.id).await
}

/// An institution by ID.
pub async fn get(conn: &mut PgConnection, id: &str) -> Result<Institution, ApiError> {
    let row = sqlx::query!(
        "SELECT id, display_name, short_name, region_code, time_zone, regulation, curator_id,
                curator_appointment_basis, road_map_state, create_time, version
         FROM mentoring.institutions WHERE id = $1",
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(institution_name(id)))?;
    Ok(Institution {
        curator: row.curator_id.map(|c| participant_name(&row.id, &c)),
        id: row.id,
        display_name: row.display_name,
        short_name: row.short_name,
        region_code: row.region_code,
        time_zone: row.time_zone,
        regulation: row.regulation,
        curator_appointment_basis: row.curator_appointment_basis,
        road_map_state: row.road_map_state,
        create_time: row.create_time.to_jiff(),
        version: row.version,
    })
}

/// The institution a use case works in, with today in its zone; `NOT_FOUND` if missing.
pub async fn setting(
    conn: &mut PgConnection,
    id: &str,
    now: Timestamp,
) -> Result<Setting, ApiError> {
    let row = sqlx::query!(
        "SELECT display_name, region_code, time_zone FROM mentoring.institutions WHERE id = $1",
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(institution_name(id)))?;
    Ok(Setting {
        id: id.to_string(),
        today: day_in(&row.time_zone, now)?,
        display_name: row.display_name,
        region_code: row.region_code,
        time_zone: row.time_zone,
    })
}

/// The director appoints a curator (choice 5): the domain's check on what the store found
/// under the participant's lock; a staff member of another role becomes CURATOR.
pub async fn appoint_curator(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    participant: &str,
    basis: &str,
) -> Result<Institution, ApiError> {
    let setting = setting(conn, institution, context.now()).await?;
    participants::lock(
        conn,
        &setting.id,
        &[participant],
        participants::Lock::Update,
    )
    .await?;
    let facts = participants::facts(conn, &setting.id, &[participant]).await?;
    let found = facts
        .first()
        .ok_or_else(|| ApiError::not_found(participant_name(institution, participant)))?;
    let name = participant_name(institution, participant);
    check_curator_appointment(&Appointee {
        participant: &name,
        role: found.role,
        consent_in_force: found.consent_in_force,
        open_pair: found.open_pair.as_deref(),
    })?;
    let now = context.now();
    sqlx::query!(
        "UPDATE mentoring.participants SET role = $3, update_time = $4, version = version + 1
         WHERE institution_id = $1 AND id = $2 AND role <> $3",
        institution,
        participant,
        ParticipantRole::Curator.as_str(),
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE mentoring.institutions
         SET curator_id = $2, curator_appointment_basis = $3, curator_appoint_time = $4,
             update_time = $4, version = version + 1
         WHERE id = $1",
        institution,
        participant,
        basis,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "institution.curator_appointed",
        &institution_name(institution),
        json!({ "curator": name }),
    )
    .await?;
    get(conn, institution).await
}
