//! The benchmark command works end to end on a tiny scale: it seeds, drives every side, and
//! reports figures. No figure is judged here: speed is the machine's.

use edu_bench::{self as bench, BenchOptions};

use crate::harness::*;

#[tokio::test]
async fn the_benchmark_seeds_drives_every_side_and_reports() {
    let suite = TestSuite::start().await;
    let admin = suite.database().await;
    let options = BenchOptions {
        children: 500,
        programmes: 20,
        entries: 300,
        seconds: 1,
        concurrency: 4,
        parts: bench::Parts::ALL,
    };
    let report = bench::run(suite.suite(), &admin, suite.gateway().await, options)
        .await
        .expect("the benchmark runs");
    let enrolment = report.enrolment.as_ref().expect("the enrolment ran");
    assert!(enrolment.suite.rate() > 0.0, "{report:?}");
    assert!(enrolment.reference.rate() > 0.0, "{report:?}");
    assert_eq!(
        enrolment.suite.failures + enrolment.reference.failures,
        0,
        "{report:?}"
    );
    assert_eq!(
        (enrolment.suite.refusals, enrolment.reference.refusals),
        (0, 0),
        "the seed funds every acceptance on both sides: {report:?}"
    );
    assert!(enrolment.suite.percentile(0.99) >= enrolment.suite.percentile(0.5));
    for read in &report.reads {
        for side in [&read.gateway, &read.service, &read.sql] {
            assert!(side.driven.rate() > 0.0, "{}: {report:?}", read.method);
            assert_eq!(side.driven.failures, 0, "{}: {report:?}", read.method);
            assert_eq!(side.round_rates.len(), bench::rounds::ROUNDS);
            assert!(
                side.cpu_ms
                    .iter()
                    .any(|(name, ms)| name == "postgres" && *ms > 0.0),
                "each side's CPU is measured: {report:?}"
            );
        }
    }
    for search in &report.searches {
        assert!(search.driven.rate() > 0.0, "{}", search.method);
        assert_eq!(search.driven.failures, 0, "{}", search.method);
    }
    assert_eq!(
        report.memory.len(),
        1 + edu_devstack::suite::SERVICES.len(),
        "the gateway and every service"
    );
    let rendered = report.render(&options);
    assert!(rendered.contains("ratio (a)/(b)"), "{rendered}");
    assert!(rendered.contains("statements per acceptance"), "{rendered}");
    assert!(rendered.contains("CPU ms per read, (a)"), "{rendered}");
    let explained = report.plans.as_ref().expect("the plans are read");
    assert!(
        explained.len() >= 10,
        "every hot path explained: {rendered}"
    );
    assert!(rendered.contains("hot-path plans"), "{rendered}");
    admin.close().await;
    suite.stop().await;
}
