//! The certificates benchmark command works end to end on a tiny scale: it seeds, drives
//! both sides, and reports figures. No figure is judged here: speed is the machine's.

use edu_devstack::bench::{self, BenchOptions};

use crate::harness::*;

#[tokio::test]
async fn the_benchmark_seeds_drives_both_sides_and_reports() {
    let suite = TestSuite::start().await;
    let admin = suite.database().await;
    let options = BenchOptions {
        children: 500,
        programmes: 20,
        seconds: 1,
        concurrency: 4,
    };
    let report = bench::run(suite.suite(), &admin, suite.gateway().await, options)
        .await
        .expect("the benchmark runs");
    assert!(report.suite_rate > 0.0, "{report:?}");
    assert!(report.reference_rate > 0.0, "{report:?}");
    assert_eq!(report.suite_errors, 0, "{report:?}");
    assert!(report.p99 >= report.p50);
    assert_eq!(report.rss_kib.len(), 3, "the gateway and both services");
    assert!(report.render(&options).contains("ratio (a)/(b)"));
    admin.close().await;
    suite.stop().await;
}
