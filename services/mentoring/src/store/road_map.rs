//! The road map's stages (rule 11; the domain's [`crate::domain::road_map`]): planned by
//! the director and the curator, approved by the director once every stage is planned;
//! and the bank of best practices (choice 17: they name nobody). A stage change locks the
//! institution's row `FOR SHARE` and the stage `FOR UPDATE`; approval locks the
//! institution `FOR NO KEY UPDATE` (which conflicts with `FOR SHARE` but not with the key
//! locks of rows inserted under the institution), so no stage is unplanned under an
//! approval.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff_sqlx::ToSqlx;
use serde_json::json;
use sqlx::PgConnection;

use edu_kit::paging::Page;
use edu_kit::{ApiError, CallContext, audit, etag};

use super::institutions::{self, Institution};
use super::{Scope, institution_name, parsed};
use crate::domain::road_map::{RoadMapStageKind, StageDates, check_approval};
use crate::domain::{FieldError, MentoringError, MentoringForm, PairType};

/// `institutions/{institution}/roadMapStages/{stage}`.
pub fn stage_name(institution: &str, kind: RoadMapStageKind) -> String {
    format!(
        "{}/roadMapStages/{}",
        institution_name(institution),
        kind.id()
    )
}

/// A stage as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Which.
    pub kind: RoadMapStageKind,
    /// The resource name.
    pub name: String,
    /// What is done in it.
    pub activities: String,
    /// Its dates.
    pub dates: StageDates,
    /// Whether its planned end passed without an actual end, on the institution's today.
    pub overdue: bool,
    /// When it last changed.
    pub update_time: Timestamp,
    /// Its version, for etags.
    pub version: i64,
}

/// A change of a stage; `None` leaves a field, `Some(None)` clears a date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StageChange {
    /// What is done in it.
    pub activities: Option<String>,
    /// The planned first day.
    pub planned_start: Option<Option<Date>>,
    /// The planned last day.
    pub planned_end: Option<Option<Date>>,
    /// The day it started.
    pub actual_start: Option<Option<Date>>,
    /// The day it ended.
    pub actual_end: Option<Option<Date>>,
}

/// Plans a stage or records its progress (`UpdateRoadMapStage`). Once the road map is
/// APPROVED only the director (`by_director`) moves planned dates (`ROLE_REQUIRED`, field
/// the planned date).
pub async fn update_stage(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    kind: RoadMapStageKind,
    change: &StageChange,
    by_director: bool,
    supplied_etag: &str,
) -> Result<Stage, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let approved = sqlx::query_scalar!(
        r#"SELECT road_map_state = 'APPROVED' AS "approved!" FROM mentoring.institutions
           WHERE id = $1 FOR SHARE"#,
        institution
    )
    .fetch_one(&mut *conn)
    .await?;
    let name = stage_name(institution, kind);
    let row = sqlx::query!(
        "SELECT activities, planned_start_date, planned_end_date, actual_start_date,
                actual_end_date, version
         FROM mentoring.road_map_stages WHERE institution_id = $1 AND kind = $2 FOR UPDATE",
        institution,
        kind.as_str()
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(name.clone()))?;
    etag::check(supplied_etag, row.version, &name)?;
    let pick = |change: Option<Option<Date>>, stored: Option<jiff_sqlx::Date>| match change {
        Some(value) => value,
        None => stored.map(|d| d.to_jiff()),
    };
    let dates = StageDates {
        planned_start: pick(change.planned_start, row.planned_start_date),
        planned_end: pick(change.planned_end, row.planned_end_date),
        actual_start: pick(change.actual_start, row.actual_start_date),
        actual_end: pick(change.actual_end, row.actual_end_date),
    };
    let mut fields = vec![];
    if let (Some(s), Some(e)) = (dates.planned_start, dates.planned_end)
        && e < s
    {
        fields.push(FieldError::new(
            "road_map_stage.planned_end_date",
            "before its start",
        ));
    }
    match (dates.actual_start, dates.actual_end) {
        (None, Some(_)) => fields.push(FieldError::new(
            "road_map_stage.actual_end_date",
            "an actual end needs an actual start",
        )),
        (Some(s), Some(e)) if e < s => {
            fields.push(FieldError::new(
                "road_map_stage.actual_end_date",
                "before its start",
            ));
        }
        _ => {}
    }
    for (field, day) in [
        ("road_map_stage.actual_start_date", dates.actual_start),
        ("road_map_stage.actual_end_date", dates.actual_end),
    ] {
        if day.is_some_and(|d| d > setting.today) {
            fields.push(FieldError::new(field, "is after today"));
        }
    }
    if change
        .activities
        .as_ref()
        .is_some_and(|a| a.chars().count() > 5000)
    {
        fields.push(FieldError::new(
            "road_map_stage.activities",
            "at most 5 000 characters",
        ));
    }
    if !fields.is_empty() {
        return Err(MentoringError::InvalidFields(fields).into());
    }
    if approved && !by_director {
        for (field, changed) in [
            ("planned_start_date", change.planned_start.is_some()),
            ("planned_end_date", change.planned_end.is_some()),
        ] {
            if changed {
                return Err(ApiError::permission_denied(
                    edu_kit::error::reason::ROLE_REQUIRED,
                    "only the director moves planned dates of an approved road map",
                )
                .with_metadata("field", field));
            }
        }
    }
    sqlx::query!(
        "UPDATE mentoring.road_map_stages
         SET activities = coalesce($3, activities), planned_start_date = $4, planned_end_date = $5,
             actual_start_date = $6, actual_end_date = $7, update_time = $8, version = version + 1
         WHERE institution_id = $1 AND kind = $2",
        institution,
        kind.as_str(),
        change.activities,
        dates.planned_start.map(|d| d.to_sqlx()),
        dates.planned_end.map(|d| d.to_sqlx()),
        dates.actual_start.map(|d| d.to_sqlx()),
        dates.actual_end.map(|d| d.to_sqlx()),
        context.now().to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "road_map_stage.updated",
        &name,
        json!({ "planned": [dates.planned_start.map(|d| d.to_string()), dates.planned_end.map(|d| d.to_string())],
                "actual": [dates.actual_start.map(|d| d.to_string()), dates.actual_end.map(|d| d.to_string())] }),
    )
    .await?;
    stages(conn, institution, setting.today)
        .await?
        .into_iter()
        .find(|s| s.kind == kind)
        .ok_or_else(|| ApiError::not_found(name))
}

/// The director approves the road map once every stage has both planned dates, without
/// recording an act: [`approve_by_act`] with an empty basis.
pub async fn approve(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    supplied_etag: &str,
) -> Result<Institution, ApiError> {
    approve_by_act(conn, context, institution, "", supplied_etag).await
}

/// The director approves the road map by the act `basis` (`ApproveRoadMap`) once every stage
/// has both planned dates (the domain's check, `ROAD_MAP_INCOMPLETE` naming the first stage
/// without them). Approving an APPROVED one answers it unchanged.
pub async fn approve_by_act(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    basis: &str,
    supplied_etag: &str,
) -> Result<Institution, ApiError> {
    let row = sqlx::query!(
        "SELECT road_map_state, version FROM mentoring.institutions WHERE id = $1
         FOR NO KEY UPDATE",
        institution
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(institution_name(institution)))?;
    etag::check(supplied_etag, row.version, &institution_name(institution))?;
    if row.road_map_state == "APPROVED" {
        return institutions::get(conn, institution).await;
    }
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let found = stages(conn, institution, setting.today).await?;
    let dates: Vec<(RoadMapStageKind, StageDates)> =
        found.iter().map(|s| (s.kind, s.dates)).collect();
    check_approval(&institution_name(institution), &dates)?;
    let now = context.now();
    sqlx::query!(
        "UPDATE mentoring.institutions
         SET road_map_state = 'APPROVED', road_map_approval_basis = $3,
             road_map_approve_time = $2, update_time = $2, version = version + 1
         WHERE id = $1",
        institution,
        now.to_sqlx(),
        basis,
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        context,
        "road_map.approved",
        &institution_name(institution),
        json!({}),
    )
    .await?;
    institutions::get(conn, institution).await
}

/// The seven stages in the road map's order, as they stand on `today`.
pub async fn stages(
    conn: &mut PgConnection,
    institution: &str,
    today: Date,
) -> Result<Vec<Stage>, ApiError> {
    let rows = sqlx::query!(
        "SELECT kind, activities, planned_start_date, planned_end_date, actual_start_date,
                actual_end_date, update_time, version
         FROM mentoring.road_map_stages WHERE institution_id = $1",
        institution
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut stages = Vec::with_capacity(rows.len());
    for row in rows {
        let kind = parsed("road map stage", &row.kind, RoadMapStageKind::parse)?;
        let dates = StageDates {
            planned_start: row.planned_start_date.map(|d| d.to_jiff()),
            planned_end: row.planned_end_date.map(|d| d.to_jiff()),
            actual_start: row.actual_start_date.map(|d| d.to_jiff()),
            actual_end: row.actual_end_date.map(|d| d.to_jiff()),
        };
        stages.push(Stage {
            kind,
            name: stage_name(institution, kind),
            activities: row.activities,
            overdue: dates.is_overdue(today),
            dates,
            update_time: row.update_time.to_jiff(),
            version: row.version,
        });
    }
    stages.sort_by_key(|s| s.kind);
    Ok(stages)
}

/// A best practice as recorded (Appendix 1); it names nobody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Practice {
    /// The ID; a new one when empty.
    pub id: String,
    /// The resource name, `institutions/{institution}/practices/{id}` (output; ignored when
    /// recording).
    pub name: String,
    /// Its title.
    pub title: String,
    /// What it is.
    pub summary: String,
    /// What it achieved.
    pub results: String,
    /// The form it was practised in.
    pub form: Option<MentoringForm>,
    /// The pair type.
    pub pair_type: Option<PairType>,
    /// The year, from 2019.
    pub year: i16,
    /// A link to the materials.
    pub materials_uri: String,
    /// When recorded (output).
    pub create_time: Option<Timestamp>,
}

/// Records a practice in the bank (`CreatePractice`).
pub async fn create_practice(
    conn: &mut PgConnection,
    context: &CallContext,
    institution: &str,
    practice: &Practice,
) -> Result<Practice, ApiError> {
    let setting = institutions::setting(conn, institution, context.now()).await?;
    let mut fields = vec![];
    if practice.title.trim().is_empty() || practice.title.chars().count() > 300 {
        fields.push(FieldError::new("practice.title", "1 to 300 characters"));
    }
    if practice.summary.trim().is_empty() || practice.summary.chars().count() > 10_000 {
        fields.push(FieldError::new(
            "practice.summary",
            "1 to 10 000 characters",
        ));
    }
    if practice.year < 2019 || practice.year > setting.today.year() {
        fields.push(FieldError::new("practice.year", "from 2019 to this year"));
    }
    if !fields.is_empty() {
        return Err(MentoringError::InvalidFields(fields).into());
    }
    let id = if practice.id.is_empty() {
        edu_kit::resource::new_id()
    } else {
        practice.id.clone()
    };
    let now = context.now();
    let inserted = sqlx::query!(
        "INSERT INTO mentoring.practices
             (institution_id, id, title, summary, results, form, pair_type, year, materials_uri,
              create_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT DO NOTHING",
        institution,
        id,
        practice.title,
        practice.summary,
        practice.results,
        practice.form.map(MentoringForm::as_str),
        practice.pair_type.map(PairType::as_str),
        practice.year,
        practice.materials_uri,
        now.to_sqlx(),
    )
    .execute(&mut *conn)
    .await?;
    let name = practice_name(institution, &id);
    if inserted.rows_affected() == 0 {
        return Err(ApiError::already_exists(name));
    }
    audit::record(conn, context, "practice.created", &name, json!({})).await?;
    Ok(Practice {
        id,
        name,
        create_time: Some(now),
        ..practice.clone()
    })
}

/// The institution's practices, by creation.
pub async fn list_practices(
    conn: &mut PgConnection,
    institution: &str,
) -> Result<Vec<Practice>, ApiError> {
    let rows = sqlx::query!(
        "SELECT id, title, summary, results, form, pair_type, year, materials_uri, create_time
         FROM mentoring.practices WHERE institution_id = $1 ORDER BY create_time, id",
        institution
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut practices = Vec::with_capacity(rows.len());
    for row in rows {
        practices.push(practice_of(
            institution,
            PracticeRow {
                id: row.id,
                title: row.title,
                summary: row.summary,
                results: row.results,
                form: row.form,
                pair_type: row.pair_type,
                year: row.year,
                materials_uri: row.materials_uri,
                create_time: row.create_time.to_jiff(),
            },
        )?);
    }
    Ok(practices)
}

/// The filters of `ListPractices`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PracticeFilter {
    /// This form only.
    pub form: Option<MentoringForm>,
    /// This pair type only.
    pub pair_type: Option<PairType>,
    /// This year only.
    pub year: Option<i16>,
}

/// A page of `ListPractices` of one institution, or of every institution of a region
/// (`institutions/-` for the regional centre's bank): at most `size` after the practice
/// `after` (institution ID, practice ID), the latest year first, then by title in the `ru`
/// ICU collation, then by name.
pub async fn list_practices_page(
    conn: &mut PgConnection,
    scope: Scope<'_>,
    filter: &PracticeFilter,
    size: usize,
    after: Option<(String, String)>,
) -> Result<Page<Practice, (String, String)>, ApiError> {
    let (institution, region) = scope.parameters(conn).await?;
    let institutions: Vec<String> = institution.into_iter().map(str::to_string).collect();
    let regions: Vec<String> = region.into_iter().map(str::to_string).collect();
    list_practices_page_of(conn, &institutions, &regions, filter, size, after).await
}

/// A page of `ListPractices` over the institutions `institutions` and every institution of
/// the regions `regions` (the parent `institutions/-`: whatever the caller reads), in the
/// order of [`list_practices_page`]. Nothing is checked to exist: an unknown institution
/// simply has no practices.
pub async fn list_practices_page_of(
    conn: &mut PgConnection,
    institutions: &[String],
    regions: &[String],
    filter: &PracticeFilter,
    size: usize,
    after: Option<(String, String)>,
) -> Result<Page<Practice, (String, String)>, ApiError> {
    let (after_institution, after_id) = after.unzip();
    let rows = sqlx::query!(
        r#"WITH keyed AS (
               SELECT p.institution_id, p.id, p.title, p.summary, p.results, p.form,
                      p.pair_type, p.year, p.materials_uri, p.create_time,
                      -p.year AS k1, p.title COLLATE "ru-x-icu" AS k2,
                      p.institution_id COLLATE "C" AS k3, p.id COLLATE "C" AS k4
               FROM mentoring.practices p
               JOIN mentoring.institutions i ON i.id = p.institution_id
               WHERE p.institution_id = ANY($1) OR i.region_code = ANY($2))
           SELECT k.institution_id AS "institution_id!", k.id AS "id!", k.title AS "title!",
                  k.summary AS "summary!", k.results AS "results!", k.form, k.pair_type,
                  k.year AS "year!", k.materials_uri AS "materials_uri!",
                  k.create_time AS "create_time!"
           FROM keyed k
           WHERE ($3::text IS NULL OR k.form = $3)
             AND ($4::text IS NULL OR k.pair_type = $4)
             AND ($5::smallint IS NULL OR k.year = $5)
             AND ($7::text IS NULL OR (k.k1, k.k2, k.k3, k.k4) > (
                     SELECT c.k1, c.k2, c.k3, c.k4 FROM keyed c
                     WHERE c.institution_id = $6 AND c.id = $7))
           ORDER BY k.k1, k.k2, k.k3, k.k4
           LIMIT $8"#,
        institutions,
        regions,
        filter.form.map(MentoringForm::as_str),
        filter.pair_type.map(PairType::as_str),
        filter.year,
        after_institution,
        after_id,
        edu_kit::paging::overfetch_limit(size),
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let shown = practice_of(
            &row.institution_id,
            PracticeRow {
                id: row.id,
                title: row.title,
                summary: row.summary,
                results: row.results,
                form: row.form,
                pair_type: row.pair_type,
                year: row.year,
                materials_uri: row.materials_uri,
                create_time: row.create_time.to_jiff(),
            },
        )?;
        items.push((row.institution_id, shown));
    }
    let page = Page::from_overfetch(items, size, |(institution, practice)| {
        (institution.clone(), practice.id.clone())
    });
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|(_, practice)| practice)
            .collect(),
        next: page.next,
    })
}

/// A practice's stored columns.
struct PracticeRow {
    id: String,
    title: String,
    summary: String,
    results: String,
    form: Option<String>,
    pair_type: Option<String>,
    year: i16,
    materials_uri: String,
    create_time: Timestamp,
}

fn practice_of(institution: &str, row: PracticeRow) -> Result<Practice, ApiError> {
    Ok(Practice {
        name: practice_name(institution, &row.id),
        id: row.id,
        title: row.title,
        summary: row.summary,
        results: row.results,
        form: match row.form.as_deref() {
            Some(raw) => Some(parsed("form", raw, MentoringForm::parse)?),
            None => None,
        },
        pair_type: match row.pair_type.as_deref() {
            Some(raw) => Some(parsed("pair type", raw, PairType::parse)?),
            None => None,
        },
        year: row.year,
        materials_uri: row.materials_uri,
        create_time: Some(row.create_time),
    })
}

/// `institutions/{institution}/practices/{id}`.
pub fn practice_name(institution: &str, id: &str) -> String {
    format!("{}/practices/{id}", institution_name(institution))
}
