//! The region summary (contract report.proto, `GetRegionSummary`; the gateway's region
//! view of issue 17): what mentoring does in one region now, per institution of the region
//! its ACTIVE pairs and groups and their distinct current mentors and mentees, counted.
//! Only institutions are named; the members are counted inside the one statement and
//! never leave it.

use sqlx::PgConnection;

use edu_kit::ApiError;

/// One institution's part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionSummary {
    /// Its ID.
    pub id: String,
    /// Its short name.
    pub short_name: String,
    /// Its ACTIVE pairs.
    pub active_pairs: i32,
    /// Its ACTIVE groups.
    pub active_groups: i32,
    /// Distinct mentors of those.
    pub mentors: i32,
    /// Distinct current mentees of those.
    pub mentees: i32,
}

/// What mentoring does in a region.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegionSummary {
    /// Per institution, by short name in the `ru` collation (then ID); empty when the
    /// region has none.
    pub institutions: Vec<InstitutionSummary>,
    /// ACTIVE pairs of the region.
    pub active_pairs: i32,
    /// ACTIVE groups of the region.
    pub active_groups: i32,
    /// Distinct mentors of those. Participants belong to one institution each, so the
    /// region's distinct count is the sum of the institutions'.
    pub mentors: i32,
    /// Distinct current mentees of those.
    pub mentees: i32,
}

/// The summary of region `region` (an ISO 3166-2 code) as it stands now, in one statement
/// (one snapshot). A region without institutions has an empty summary.
pub async fn region(conn: &mut PgConnection, region: &str) -> Result<RegionSummary, ApiError> {
    // Members who left a group (`left_time`) are no longer in it; the mentor never leaves.
    let rows = sqlx::query!(
        r#"SELECT i.id, i.short_name,
                  count(DISTINCT p.id) FILTER (WHERE p.kind = 'PAIR') AS "active_pairs!",
                  count(DISTINCT p.id) FILTER (WHERE p.kind = 'GROUP') AS "active_groups!",
                  count(DISTINCT m.participant_id) FILTER (WHERE m.side = 'MENTOR') AS "mentors!",
                  count(DISTINCT m.participant_id) FILTER (WHERE m.side = 'MENTEE') AS "mentees!"
           FROM mentoring.institutions i
           LEFT JOIN mentoring.pairs p
                  ON p.institution_id = i.id AND p.state = 'ACTIVE'
           LEFT JOIN mentoring.pair_members m
                  ON m.institution_id = p.institution_id AND m.pair_id = p.id
                 AND m.left_time IS NULL
           WHERE i.region_code = $1
           GROUP BY i.id, i.short_name
           ORDER BY i.short_name COLLATE "ru-x-icu", i.id"#,
        region,
    )
    .fetch_all(&mut *conn)
    .await?;
    let n = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
    let mut summary = RegionSummary::default();
    for row in rows {
        let part = InstitutionSummary {
            id: row.id,
            short_name: row.short_name,
            active_pairs: n(row.active_pairs),
            active_groups: n(row.active_groups),
            mentors: n(row.mentors),
            mentees: n(row.mentees),
        };
        summary.active_pairs = summary.active_pairs.saturating_add(part.active_pairs);
        summary.active_groups = summary.active_groups.saturating_add(part.active_groups);
        summary.mentors = summary.mentors.saturating_add(part.mentors);
        summary.mentees = summary.mentees.saturating_add(part.mentees);
        summary.institutions.push(part);
    }
    Ok(summary)
}
