//! The queries on the hot paths, word for word as the services send them.
//!
//! Each is marked in its SQL with a line `-- hot path: <use case>`. The sqlx offline data
//! (`.sqlx/`, committed, one file per compile-time checked query) holds their exact text
//! and parameter types, so nothing here repeats a service's SQL: the read benchmark sends
//! two of them as its reference (c), and [`super::plans`] asks Postgres how it runs each.

use std::path::{Path, PathBuf};

/// The line that marks a query as on a hot path.
const MARKER: &str = "-- hot path: ";

/// One marked query.
#[derive(Debug, Clone)]
pub struct HotPath {
    /// The use case, as its marker names it (`GetProgramme`, `AcceptEnrolment (hold)`).
    pub use_case: String,
    /// The SQL as the service sends it.
    pub sql: String,
    /// The parameters' types in Postgres spelling (`text`, `int8[]`); empty when Postgres
    /// is to infer them.
    pub parameters: Vec<String>,
}

/// The workspace's sqlx offline data.
fn offline_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.sqlx")
}

/// Every marked query of the offline data, ordered by use case.
pub fn load() -> anyhow::Result<Vec<HotPath>> {
    let root = offline_data();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&root)
        .map_err(|e| anyhow::anyhow!("the sqlx offline data at {}: {e}", root.display()))?
    {
        let path = entry?.path();
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let Some(sql) = json["query"].as_str() else {
            continue;
        };
        let Some(use_case) = use_case(sql) else {
            continue;
        };
        let parameters = json["describe"]["parameters"]["Left"]
            .as_array()
            .map(|types| types.iter().filter_map(|t| t.as_str()).map(postgres_type))
            .into_iter()
            .flatten()
            .collect::<anyhow::Result<Vec<_>>>()?;
        found.push(HotPath {
            use_case,
            sql: sql.to_string(),
            parameters,
        });
    }
    found.sort_by(|a, b| a.use_case.cmp(&b.use_case));
    Ok(found)
}

/// The query marked `use_case`.
pub fn find(use_case: &str) -> anyhow::Result<HotPath> {
    load()?
        .into_iter()
        .find(|path| path.use_case == use_case)
        .ok_or_else(|| anyhow::anyhow!("no query is marked `{MARKER}{use_case}`"))
}

/// The use case a query's marker names.
pub fn use_case(sql: &str) -> Option<String> {
    sql.lines()
        .find_map(|line| line.trim().strip_prefix(MARKER))
        .map(|name| name.trim().to_string())
}

/// sqlx's name of a Postgres type, as Postgres spells it.
fn postgres_type(sqlx_name: &str) -> anyhow::Result<String> {
    let (base, array) = match sqlx_name.strip_suffix("Array") {
        Some(base) => (base, "[]"),
        None => (sqlx_name, ""),
    };
    let base = match base {
        "Bool" => "bool",
        "Int2" => "int2",
        "Int4" => "int4",
        "Int8" => "int8",
        "Float4" => "float4",
        "Float8" => "float8",
        "Text" => "text",
        "Bytea" => "bytea",
        "Date" => "date",
        "Timestamptz" => "timestamptz",
        "Uuid" => "uuid",
        "Jsonb" => "jsonb",
        other => anyhow::bail!("a parameter of type {other}: teach `postgres_type` its name"),
    };
    Ok(format!("{base}{array}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_names_the_use_case() {
        assert_eq!(
            use_case("-- hot path: GetProgramme\nSELECT 1").as_deref(),
            Some("GetProgramme")
        );
        assert_eq!(
            use_case("SELECT 1\n   -- hot path: AcceptEnrolment (hold)  \n").as_deref(),
            Some("AcceptEnrolment (hold)")
        );
        assert_eq!(use_case("SELECT 1 -- a comment"), None);
    }

    #[test]
    fn sqlx_type_names_become_postgres_ones() {
        assert_eq!(postgres_type("Int8Array").expect("known"), "int8[]");
        assert_eq!(postgres_type("Timestamptz").expect("known"), "timestamptz");
        assert!(postgres_type("Interval").is_err());
    }

    /// The hot paths the benchmarks drive are all marked, and the read benchmark finds its
    /// reference (c) among them.
    #[test]
    fn the_benchmarked_use_cases_are_marked() {
        let marked: Vec<String> = load()
            .expect("the offline data")
            .into_iter()
            .map(|path| path.use_case)
            .collect();
        for use_case in [
            "GetProgramme",
            "GetCertificate",
            "AcceptEnrolment (hold)",
            "AcceptEnrolment (ledger)",
            "AcceptEnrolment (write)",
            "SearchPractices (words)",
            "SearchPractices (newest)",
        ] {
            assert!(
                marked.iter().any(|m| m == use_case),
                "{use_case} is not marked; marked: {marked:?}"
            );
        }
    }
}
