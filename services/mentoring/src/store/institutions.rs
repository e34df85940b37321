//! Institutions (rule 1) with their road map's seven stages (rule 11), the listing of those a
//! caller reads, and the curator's appointment by the director (choice 5).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::Page;
use edu_kit::{ApiError, CallContext, audit, etag};

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
    /// When the curator was appointed.
    pub curator_appoint_time: Option<Timestamp>,
    /// DRAFT or APPROVED.
    pub road_map_state: String,
    /// The director's act approving the road map; empty while DRAFT.
    pub road_map_approval_basis: String,
    /// When the road map was approved.
    pub road_map_approve_time: Option<Timestamp>,
    /// When it was registered.
    pub create_time: Timestamp,
    /// When it, its curator or its road map's approval last changed.
    pub update_time: Timestamp,
    /// Its version, for etags.
    pub version: i64,
}

/// An institution's stored columns, as both its reads select them.
struct InstitutionRow {
    id: String,
    display_name: String,
    short_name: String,
    region_code: String,
    time_zone: String,
    regulation: String,
    curator_id: Option<String>,
    curator_appointment_basis: String,
    curator_appoint_time: Option<jiff_sqlx::Timestamp>,
    road_map_state: String,
    road_map_approval_basis: String,
    road_map_approve_time: Option<jiff_sqlx::Timestamp>,
    create_time: jiff_sqlx::Timestamp,
    update_time: jiff_sqlx::Timestamp,
    version: i64,
}

impl From<InstitutionRow> for Institution {
    fn from(row: InstitutionRow) -> Self {
        Institution {
            curator: row.curator_id.map(|c| participant_name(&row.id, &c)),
            id: row.id,
            display_name: row.display_name,
            short_name: row.short_name,
            region_code: row.region_code,
            time_zone: row.time_zone,
            regulation: row.regulation,
            curator_appointment_basis: row.curator_appointment_basis,
            curator_appoint_time: row.curator_appoint_time.map(|t| t.to_jiff()),
            road_map_state: row.road_map_state,
            road_map_approval_basis: row.road_map_approval_basis,
            road_map_approve_time: row.road_map_approve_time.map(|t| t.to_jiff()),
            create_time: row.create_time.to_jiff(),
            update_time: row.update_time.to_jiff(),
            version: row.version,
        }
    }
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
    let row = sqlx::query_as!(
        InstitutionRow,
        "SELECT id, display_name, short_name, region_code, time_zone, regulation, curator_id,
                curator_appointment_basis, curator_appoint_time, road_map_state,
                road_map_approval_basis, road_map_approve_time, create_time, update_time, version
         FROM mentoring.institutions WHERE id = $1",
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(institution_name(id)))?;
    Ok(row.into())
}

/// Which institutions `ListInstitutions` covers: those named, and every institution of the
/// regions named (the regional centre's), narrowed to one region when `region` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InstitutionFilter<'a> {
    /// Institutions by ID (the caller's `institution:` scopes where they have standing).
    pub ids: &'a [String],
    /// Every institution of these regions (the regional centre's).
    pub regions: &'a [String],
    /// Only this region.
    pub region: Option<&'a str>,
}

/// A page of `ListInstitutions`: at most `size` after the institution `after`, in the `ru`
/// ICU collation of their full names, then by ID.
pub async fn list_page(
    conn: &mut PgConnection,
    filter: &InstitutionFilter<'_>,
    size: usize,
    after: Option<String>,
) -> Result<Page<Institution, String>, ApiError> {
    let rows = sqlx::query_as!(
        InstitutionRow,
        r#"SELECT i.id, i.display_name, i.short_name, i.region_code, i.time_zone, i.regulation,
                  i.curator_id, i.curator_appointment_basis, i.curator_appoint_time,
                  i.road_map_state, i.road_map_approval_basis, i.road_map_approve_time,
                  i.create_time, i.update_time, i.version
           FROM mentoring.institutions i
           WHERE (i.id = ANY($1) OR i.region_code = ANY($2))
             AND ($3::text IS NULL OR i.region_code = $3)
             AND ($4::text IS NULL OR (i.display_name COLLATE "ru-x-icu", i.id COLLATE "C") > (
                     SELECT c.display_name COLLATE "ru-x-icu", c.id COLLATE "C"
                     FROM mentoring.institutions c WHERE c.id = $4))
           ORDER BY i.display_name COLLATE "ru-x-icu", i.id COLLATE "C"
           LIMIT $5"#,
        filter.ids,
        filter.regions,
        filter.region,
        after,
        edu_kit::paging::overfetch_limit(size),
    )
    .fetch_all(&mut *conn)
    .await?;
    let items: Vec<Institution> = rows.into_iter().map(Institution::from).collect();
    Ok(Page::from_overfetch(items, size, |i| i.id.clone()))
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
/// under the participant's lock; a staff member of another role becomes CURATOR. The
/// institution's row is locked after the participant's (participants first), `FOR NO KEY
/// UPDATE` so that rows referencing it are still inserted meanwhile, and its etag checked
/// there. Appointing the current curator again with the same basis answers the institution
/// unchanged.
pub async fn appoint_curator(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    participant: &str,
    basis: &str,
    supplied_etag: &str,
) -> Result<Institution, ApiError> {
    let setting = setting(conn, institution, context.now()).await?;
    participants::lock(
        conn,
        &setting.id,
        &[participant],
        participants::Lock::Update,
    )
    .await?;
    let current = sqlx::query!(
        "SELECT curator_id, curator_appointment_basis, version FROM mentoring.institutions
         WHERE id = $1 FOR NO KEY UPDATE",
        institution
    )
    .fetch_one(&mut *conn)
    .await?;
    etag::check(
        supplied_etag,
        current.version,
        &institution_name(institution),
    )?;
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
    if current.curator_id.as_deref() == Some(participant)
        && current.curator_appointment_basis == basis
    {
        return get(conn, institution).await;
    }
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
