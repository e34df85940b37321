//! How Postgres runs the hot paths (issue 13, target 3): every query marked on a hot path
//! (see [`super::hot_paths`]) and the public programme catalogue's statement, each prepared
//! as the service prepares it and explained in the generic plan Postgres settles on for a
//! statement run many times (`plan_cache_mode = force_generic_plan`, so the plan cannot
//! lean on one call's values). A sequential scan of a large table there is a cost that
//! grows with the data: [`QueryPlan::large_scans`] names them, and a test fails on any.

use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use edu_certificates::store::programmes::{ProgrammeQuery, search_statement};

use super::hot_paths::{self, HotPath};

/// A table with more rows than this is large: reading it whole on every call costs more
/// the more it holds. (Reference tables such as periods stay far below it.)
pub const LARGE_TABLE_ROWS: f64 = 1_000.0;

/// One statement's plan.
#[derive(Debug, Clone)]
pub struct QueryPlan {
    /// The use case.
    pub use_case: String,
    /// `EXPLAIN` as Postgres prints it, without costs.
    pub text: String,
    /// Tables of more than [`LARGE_TABLE_ROWS`] rows the plan reads whole, with their rows.
    pub large_scans: Vec<(String, f64)>,
}

/// The statements explained: the marked queries, then the catalogue's statement for the
/// filters the benchmark gives, for none and for all (one generic plan per combination).
pub fn statements() -> anyhow::Result<Vec<HotPath>> {
    let mut statements = hot_paths::load()?;
    let catalogue = |use_case: &str, query: ProgrammeQuery| HotPath {
        use_case: use_case.to_string(),
        sql: search_statement(&query, 20, None)
            .sql()
            .as_str()
            .to_string(),
        parameters: Vec::new(),
    };
    statements.push(catalogue(
        "SearchProgrammes (no filter)",
        ProgrammeQuery::default(),
    ));
    statements.push(catalogue(
        "SearchProgrammes (direction, age)",
        ProgrammeQuery {
            direction: Some("TECHNICAL".into()),
            age: Some(10),
            ..Default::default()
        },
    ));
    statements.push(catalogue(
        "SearchProgrammes (every filter)",
        ProgrammeQuery {
            direction: Some("TECHNICAL".into()),
            age: Some(10),
            region_code: Some("RU-ALT".into()),
            municipality_code: Some("bench".into()),
            free_seats_only: true,
            max_monthly_price: Some(edu_certificates::domain::Money::from_kopecks(100_000)),
            min_rating: Some(4.0),
        },
    ));
    Ok(statements)
}

/// Explains every statement of [`statements`] in the database `admin` reaches.
pub async fn explain_all(admin: &PgPool) -> anyhow::Result<Vec<QueryPlan>> {
    let mut conn = admin.acquire().await?;
    sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
        .execute(&mut *conn)
        .await?;
    let mut plans = Vec::new();
    for statement in statements()? {
        let plan = explain(&mut conn, &statement)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", statement.use_case))?;
        plans.push(plan);
    }
    sqlx::raw_sql("RESET plan_cache_mode")
        .execute(&mut *conn)
        .await?;
    Ok(plans)
}

/// Prepares `statement`, explains its generic plan, and forgets it again.
async fn explain(conn: &mut PgConnection, statement: &HotPath) -> anyhow::Result<QueryPlan> {
    let types = if statement.parameters.is_empty() {
        String::new()
    } else {
        format!("({})", statement.parameters.join(", "))
    };
    sqlx::raw_sql(AssertSqlSafe(format!(
        "PREPARE hot_path{types} AS {}",
        statement.sql
    )))
    .execute(&mut *conn)
    .await?;
    let parameters: i32 = sqlx::query_scalar(
        "SELECT coalesce(cardinality(parameter_types), 0)
         FROM pg_prepared_statements WHERE name = 'hot_path'",
    )
    .fetch_one(&mut *conn)
    .await?;
    // A generic plan does not depend on the values; NULLs stand in for every one.
    let execute = if parameters == 0 {
        "EXECUTE hot_path".to_string()
    } else {
        format!(
            "EXECUTE hot_path({})",
            vec!["NULL"; parameters as usize].join(", ")
        )
    };
    let json: Value = sqlx::query_scalar(AssertSqlSafe(format!(
        "EXPLAIN (FORMAT JSON, VERBOSE) {execute}"
    )))
    .fetch_one(&mut *conn)
    .await?;
    let lines: Vec<String> =
        sqlx::query_scalar(AssertSqlSafe(format!("EXPLAIN (COSTS OFF) {execute}")))
            .fetch_all(&mut *conn)
            .await?;
    sqlx::raw_sql("DEALLOCATE hot_path")
        .execute(&mut *conn)
        .await?;

    let mut scanned = Vec::new();
    if let Some(root) = json.get(0).and_then(|p| p.get("Plan")) {
        sequential_scans(root, &mut scanned);
    }
    let mut large_scans = Vec::new();
    for table in scanned {
        let rows: Option<f32> =
            sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)")
                .bind(&table)
                .fetch_optional(&mut *conn)
                .await?;
        let rows = f64::from(rows.unwrap_or(0.0));
        if rows > LARGE_TABLE_ROWS {
            large_scans.push((table, rows));
        }
    }
    Ok(QueryPlan {
        use_case: statement.use_case.clone(),
        text: lines.join("\n"),
        large_scans,
    })
}

/// The tables (`schema.table`) a plan node and its children read by sequential scan.
fn sequential_scans(node: &Value, into: &mut Vec<String>) {
    if node["Node Type"] == "Seq Scan"
        && let (Some(schema), Some(table)) =
            (node["Schema"].as_str(), node["Relation Name"].as_str())
    {
        into.push(format!("{schema}.{table}"));
    }
    if let Some(children) = node["Plans"].as_array() {
        for child in children {
            sequential_scans(child, into);
        }
    }
}

/// The plans for the README: each use case, then its plan indented.
pub fn render(plans: &[QueryPlan]) -> String {
    let mut out = String::new();
    for plan in plans {
        out += &format!("{}\n", plan.use_case);
        for line in plan.text.lines() {
            out += &format!("    {line}\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_scans_are_found_at_any_depth() {
        let plan: Value = serde_json::json!({
            "Node Type": "Nested Loop",
            "Plans": [
                {"Node Type": "Index Scan", "Schema": "s", "Relation Name": "a"},
                {"Node Type": "Hash", "Plans": [
                    {"Node Type": "Seq Scan", "Schema": "s", "Relation Name": "b"}
                ]}
            ]
        });
        let mut found = Vec::new();
        sequential_scans(&plan, &mut found);
        assert_eq!(found, vec!["s.b".to_string()]);
    }
}
