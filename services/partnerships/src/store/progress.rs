//! Progress for the ministry and the regional offices (deliverable 10): one statement that
//! counts every figure per region and in total.

use std::collections::BTreeMap;

use edu_kit::ApiError;

use super::Store;

/// The figures of one region or of the whole country (or of the region asked for).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// Schools with a submitted application.
    pub schools_applied: i64,
    /// … of them on the List.
    pub innovative_schools_applied: i64,
    /// … of them not on the List.
    pub non_innovative_schools_applied: i64,
    /// Open interest declarations.
    pub interests_declared: i64,
    /// Contracts awaiting a signature.
    pub contracts_proposed: i64,
    /// Signed contracts.
    pub contracts_signed: i64,
    /// Innovative schools that applied and have no signed innovative partner yet.
    pub innovative_schools_seeking_partner: i64,
    /// Groups formed (approved or not).
    pub groups_formed: i64,
    /// Groups approved.
    pub groups_approved: i64,
    /// Mobilities with a filed annex (held or not).
    pub annexes_filed: i64,
    /// Mobilities held.
    pub mobilities_held: i64,
    /// Innovative schools counted against the cap.
    pub innovative_counted: i64,
    /// Non-innovative schools counted against the cap.
    pub non_innovative_counted: i64,
}

impl Figures {
    fn set(&mut self, metric: &str, n: i64) {
        let slot = match metric {
            "applied" => &mut self.schools_applied,
            "applied_innovative" => &mut self.innovative_schools_applied,
            "applied_other" => &mut self.non_innovative_schools_applied,
            "interests" => &mut self.interests_declared,
            "proposed" => &mut self.contracts_proposed,
            "signed" => &mut self.contracts_signed,
            "seeking" => &mut self.innovative_schools_seeking_partner,
            "formed" => &mut self.groups_formed,
            "approved" => &mut self.groups_approved,
            "annexes" => &mut self.annexes_filed,
            "held" => &mut self.mobilities_held,
            "counted_innovative" => &mut self.innovative_counted,
            "counted_other" => &mut self.non_innovative_counted,
            _ => return,
        };
        *slot = n;
    }
}

/// The total (over `region` when given) and each region's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// The total.
    pub total: Figures,
    /// Per region, ascending.
    pub regions: BTreeMap<String, Figures>,
}

impl Store {
    /// Progress of `year`, nationally or in `region`. A contract or group with schools of
    /// two regions counts in each of them, and once in the total.
    pub async fn progress(&self, year: &str, region: Option<&str>) -> Result<Progress, ApiError> {
        let mut conn = self.read().await?;
        let rows = sqlx::query!(
            r#"WITH facts AS (
                   SELECT CASE WHEN s.innovative THEN 'applied_innovative'
                               ELSE 'applied_other' END AS metric,
                          s.region_code AS region, a.school_id AS object
                   FROM partnerships.applications a
                   JOIN partnerships.schools s ON s.id = a.school_id
                   WHERE a.year_id = $1 AND a.state = 'SUBMITTED'
                   UNION ALL
                   SELECT 'applied', s.region_code, a.school_id
                   FROM partnerships.applications a
                   JOIN partnerships.schools s ON s.id = a.school_id
                   WHERE a.year_id = $1 AND a.state = 'SUBMITTED'
                   UNION ALL
                   SELECT 'interests', s.region_code, i.id
                   FROM partnerships.interests i JOIN partnerships.schools s ON s.id = i.school_id
                   WHERE i.year_id = $1 AND i.state = 'DECLARED'
                   UNION ALL
                   SELECT CASE c.state WHEN 'PROPOSED' THEN 'proposed' ELSE 'signed' END,
                          s.region_code, c.id
                   FROM partnerships.contracts c
                   JOIN partnerships.schools s ON s.id IN (c.proposer_id, c.counterparty_id)
                   WHERE c.year_id = $1 AND c.state IN ('PROPOSED', 'SIGNED')
                   UNION ALL
                   SELECT 'seeking', s.region_code, s.id
                   FROM partnerships.applications a
                   JOIN partnerships.schools s ON s.id = a.school_id
                   WHERE a.year_id = $1 AND a.state = 'SUBMITTED' AND s.innovative
                     AND NOT EXISTS (SELECT 1 FROM partnerships.partner_slots p
                                     WHERE p.year_id = $1 AND p.school_id = s.id
                                       AND p.slot = 'INNOVATIVE_PARTNER')
                   UNION ALL
                   SELECT 'formed', r.region, g.id
                   FROM partnerships.groups g, unnest(g.region_codes) AS r(region)
                   WHERE g.year_id = $1
                   UNION ALL
                   SELECT 'approved', r.region, g.id
                   FROM partnerships.groups g, unnest(g.region_codes) AS r(region)
                   WHERE g.year_id = $1 AND g.state = 'APPROVED'
                   UNION ALL
                   SELECT CASE m.state WHEN 'HELD' THEN 'held' ELSE 'annexes' END,
                          s.region_code, m.id
                   FROM partnerships.mobilities m, unnest(m.participants) AS p(school)
                   JOIN partnerships.schools s ON s.id = p.school
                   WHERE m.year_id = $1 AND m.state IN ('ANNEX_FILED', 'HELD')
                   UNION ALL
                   SELECT 'annexes', s.region_code, m.id
                   FROM partnerships.mobilities m, unnest(m.participants) AS p(school)
                   JOIN partnerships.schools s ON s.id = p.school
                   WHERE m.year_id = $1 AND m.state = 'HELD'
                   UNION ALL
                   SELECT CASE WHEN c.innovative THEN 'counted_innovative'
                               ELSE 'counted_other' END,
                          s.region_code, c.school_id
                   FROM partnerships.contracted_schools c
                   JOIN partnerships.schools s ON s.id = c.school_id
                   WHERE c.year_id = $1
               )
               SELECT metric AS "metric!", region, count(DISTINCT object) AS "n!"
               FROM facts
               WHERE $2::text IS NULL OR region = $2
               GROUP BY GROUPING SETS ((metric, region), (metric))"#,
            year,
            region
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        let mut progress = Progress::default();
        for row in rows {
            match row.region {
                Some(r) => progress
                    .regions
                    .entry(r)
                    .or_default()
                    .set(&row.metric, row.n),
                None => progress.total.set(&row.metric, row.n),
            }
        }
        Ok(progress)
    }
}

/// One programme year's part of a region summary: counts only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionYear {
    /// The year's ID.
    pub id: String,
    /// Its display name.
    pub display_name: String,
    /// Schools of the region with a submitted application.
    pub schools_applied: i64,
    /// Schools of the region in at least one signed contract.
    pub schools_partnered: i64,
    /// Groups with a school of the region, approved or not.
    pub groups_formed: i64,
    /// … of them approved.
    pub groups_approved: i64,
    /// Held mobilities of those groups.
    pub mobilities_held: i64,
}

impl Store {
    /// The region summary of `region` (or only of `year`): one entry per year in which a
    /// school of the region applied, signed or is in a group, the latest window first.
    ///
    /// One statement, so one snapshot. Each count is reached through an index from the
    /// year and the region: the region's schools by `schools_region`, their submitted
    /// applications by `applications_one_submitted` (year, school; at most one per school,
    /// so the count is of schools), their signatures by `contracted_schools`' key (a school
    /// is written there once per year at its first signature, and a signed contract is
    /// never withdrawn), the year's groups by `groups_listing` and their mobilities by
    /// (group, host). Groups are matched on `region_codes`, the regions of their four
    /// schools, as GetProgress and ListGroups match them, so the figures agree.
    pub async fn region_summary(
        &self,
        region: &str,
        year: Option<&str>,
    ) -> Result<Vec<RegionYear>, ApiError> {
        let mut conn = self.read().await?;
        let rows = sqlx::query!(
            r#"SELECT y.id, y.display_name, ap.n AS "applied!", pa.n AS "partnered!",
                      gr.formed AS "formed!", gr.approved AS "approved!", gr.held AS "held!"
               FROM partnerships.years y
               CROSS JOIN LATERAL (
                   SELECT count(*) AS n
                   FROM partnerships.schools s
                   JOIN partnerships.applications a
                     ON a.year_id = y.id AND a.school_id = s.id AND a.state = 'SUBMITTED'
                   WHERE s.region_code = $1) ap
               CROSS JOIN LATERAL (
                   SELECT count(*) AS n
                   FROM partnerships.schools s
                   JOIN partnerships.contracted_schools c
                     ON c.year_id = y.id AND c.school_id = s.id
                   WHERE s.region_code = $1) pa
               CROSS JOIN LATERAL (
                   SELECT count(*) AS formed,
                          count(*) FILTER (WHERE g.state = 'APPROVED') AS approved,
                          COALESCE(sum(m.held), 0)::bigint AS held
                   FROM partnerships.groups g
                   CROSS JOIN LATERAL (
                       SELECT count(*) AS held FROM partnerships.mobilities m
                       WHERE m.group_id = g.id AND m.state = 'HELD') m
                   WHERE g.year_id = y.id AND $1 = ANY (g.region_codes)) gr
               WHERE ($2::text IS NULL OR y.id = $2)
                 AND (ap.n > 0 OR pa.n > 0 OR gr.formed > 0)
               ORDER BY y.application_start DESC, y.id DESC"#,
            region,
            year
        )
        .fetch_all(&mut *conn)
        .await?;
        conn.finish();
        Ok(rows
            .into_iter()
            .map(|r| RegionYear {
                id: r.id,
                display_name: r.display_name,
                schools_applied: r.applied,
                schools_partnered: r.partnered,
                groups_formed: r.formed,
                groups_approved: r.approved,
                mobilities_held: r.held,
            })
            .collect())
    }
}
