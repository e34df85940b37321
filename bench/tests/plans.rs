//! Issue 13, target 3: every hot-path statement uses an index. The certificates and
//! competitions schemas are migrated into one database, seeded as the benchmark seeds them
//! (at a fifth of its default size: enough that reading a table whole costs far more than
//! its index, as the planner knows from the statistics), and each statement's generic plan
//! is read for sequential scans of tables over a thousand rows.

use edu_bench::plans::{self, LARGE_TABLE_ROWS};
use edu_bench::{BenchOptions, enrolment, search, settle};
use edu_kit::testing::TestDatabase;

#[tokio::test]
async fn no_hot_path_reads_a_large_table_whole() {
    let db = TestDatabase::create(
        edu_certificates::SERVICE_NAME,
        edu_certificates::SERVICE_NAME,
        &edu_certificates::MIGRATOR,
    )
    .await;
    db.add_service(
        edu_competitions::SERVICE_NAME,
        edu_competitions::SERVICE_NAME,
        &edu_competitions::MIGRATOR,
    )
    .await;
    let admin = db.admin_pool().await;
    let options = BenchOptions {
        children: 20_000,
        programmes: 500,
        entries: 5_000,
        seconds: 1,
        concurrency: 1,
        parts: edu_bench::Parts::ALL,
    };
    enrolment::seed(&admin, &options)
        .await
        .expect("seed enrolments");
    search::seed(&admin, options.entries)
        .await
        .expect("seed the catalogues");
    settle(&admin).await.expect("vacuum and analyse");

    let explained = plans::explain_all(&admin).await.expect("explain");
    let use_cases: Vec<&str> = explained.iter().map(|p| p.use_case.as_str()).collect();
    for expected in [
        "AcceptEnrolment (hold)",
        "AcceptEnrolment (write)",
        "GetCertificate",
        "GetProgramme",
        "SearchPractices (words)",
        "SearchProgrammes (direction, age)",
    ] {
        assert!(use_cases.contains(&expected), "{expected} not explained");
    }
    let large_scans: Vec<String> = explained
        .iter()
        .flat_map(|plan| {
            plan.large_scans.iter().map(move |(table, rows)| {
                format!(
                    "{} reads {table} ({rows:.0} rows) whole:\n{}",
                    plan.use_case, plan.text
                )
            })
        })
        .collect();
    assert!(
        large_scans.is_empty(),
        "sequential scans of tables over {LARGE_TABLE_ROWS} rows:\n{}",
        large_scans.join("\n\n")
    );
    admin.close().await;
}
