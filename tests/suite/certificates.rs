//! The certificates story end to end through the gateway: a period, certificates, enrolment,
//! a monthly charge, and the reports — driven by the Mikhailovsky demo
//! (`edu_certificates::demo`) as a client would, then checked stage by stage.

use edu_certificates::demo;
use edu_kit::auth::dev::DevToken;
use edu_kit::wire;
use edu_proto::edu::certificates::v1 as pb;
use edu_proto::edu::certificates::v1::certificate_service_client::CertificateServiceClient;
use edu_proto::edu::certificates::v1::enrolment_service_client::EnrolmentServiceClient;
use edu_proto::edu::certificates::v1::programme_service_client::ProgrammeServiceClient;
use edu_proto::edu::certificates::v1::report_service_client::ReportServiceClient;
use tonic::Code;

use crate::harness::*;

fn operator() -> String {
    DevToken::new("e2e-moc")
        .role("certificates.operator")
        .scope(format!(
            "municipality:{}/{}",
            demo::REGION,
            demo::MUNICIPALITY
        ))
        .sign()
}

#[tokio::test]
async fn period_certificate_enrolment_charge_and_report_through_the_gateway() {
    let suite = TestSuite::start().await;
    let period = demo::load(suite.gateway().await)
        .await
        .expect("the demo loads");
    let again = demo::load(suite.gateway().await)
        .await
        .expect("loading twice is harmless");
    assert_eq!(period, again);
    const DURING: &str = "2024-10-05T10:00:00+07:00";

    // Every change the demo made through the gateway names the RPC that made it, the
    // acceptances (written by the hot path's own statement) included.
    let db = suite.database().await;
    let changes: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, rpc FROM certificates.audit_log WHERE kind = 'CHANGE' ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .expect("the demo's audit records");
    let accepted = "/edu.certificates.v1.EnrolmentService/AcceptEnrolment";
    assert!(
        changes
            .iter()
            .any(|(action, rpc)| action == "enrolment.accepted" && rpc == accepted),
        "{changes:?}"
    );
    assert!(
        changes
            .iter()
            .all(|(_, rpc)| rpc.starts_with("/edu.certificates.v1.")),
        "{changes:?}"
    );
    db.close().await;

    // The catalogue is public: every certified programme, without a token.
    let catalogue = ProgrammeServiceClient::new(suite.gateway().await)
        .search_programmes(tonic::Request::new(pb::SearchProgrammesRequest::default()))
        .await
        .expect("public catalogue")
        .into_inner();
    assert_eq!(catalogue.programmes.len(), 7);
    let directions: std::collections::BTreeSet<i32> =
        catalogue.programmes.iter().map(|p| p.direction).collect();
    assert_eq!(directions.len(), 6, "all six directions");

    // A parent sees her child's certificate, credited and charged for September.
    let parent = demo::parent(0);
    let mut certificates = CertificateServiceClient::new(suite.gateway().await);
    let mine = certificates
        .list_certificates(at_instant(
            authorised(&parent, pb::ListCertificatesRequest::default()),
            DURING,
        ))
        .await
        .expect("her certificates")
        .into_inner()
        .certificates;
    assert_eq!(mine.len(), 1);
    let statement = certificates
        .get_statement(at_instant(
            authorised(
                &parent,
                pb::GetStatementRequest {
                    certificate: mine[0].name.clone(),
                    period: period.clone(),
                },
            ),
            DURING,
        ))
        .await
        .expect("her statement")
        .into_inner();
    let balance = statement.balance.expect("balance");
    assert_eq!(balance.credited_kopecks, 1_200_000);
    assert_eq!(
        balance.charged_kopecks,
        50_000 + 30_000,
        "September of robotics and chess"
    );
    assert_eq!(
        balance.available_kopecks,
        balance.credited_kopecks - balance.charged_kopecks - balance.reserved_kopecks
    );
    let other_parent = certificates
        .get_statement(at_instant(
            authorised(
                &demo::parent(1),
                pb::GetStatementRequest {
                    certificate: mine[0].name.clone(),
                    period: period.clone(),
                },
            ),
            DURING,
        ))
        .await
        .expect_err("not his child");
    assert_eq!(other_parent.code(), Code::NotFound);

    // The accounting certificate (beyond the quota of 5) was refused the paid programme.
    let sixth = EnrolmentServiceClient::new(suite.gateway().await)
        .list_enrolments(at_instant(
            authorised(&demo::parent(5), pb::ListEnrolmentsRequest::default()),
            DURING,
        ))
        .await
        .expect("his enrolments")
        .into_inner()
        .enrolments;
    assert_eq!(sixth.len(), 1);
    assert_eq!(sixth[0].state, pb::EnrolmentState::Requested as i32);

    // The finance body's export and the operator's reports.
    let mut enrolments = EnrolmentServiceClient::new(suite.gateway().await);
    let mut payables = enrolments
        .export_payables(at_instant(
            authorised(
                &operator(),
                pb::ExportPayablesRequest {
                    region_code: demo::REGION.into(),
                    municipality_code: demo::MUNICIPALITY.into(),
                    month: Some(wire::date(jiff::civil::date(2024, 9, 1))),
                },
            ),
            DURING,
        ))
        .await
        .expect("export")
        .into_inner();
    let mut total = 0;
    while let Some(row) = payables.message().await.expect("row") {
        total += row.amount_kopecks;
    }
    let budget = ReportServiceClient::new(suite.gateway().await)
        .get_budget_report(at_instant(
            authorised(
                &operator(),
                pb::GetBudgetReportRequest {
                    period: period.clone(),
                },
            ),
            DURING,
        ))
        .await
        .expect("budget")
        .into_inner();
    let budget_total = budget.total.expect("total");
    assert_eq!(
        budget_total.charged_kopecks, total,
        "payables are the charges"
    );
    assert_eq!(
        budget_total.credited_kopecks,
        5 * 1_200_000,
        "five funded certificates"
    );
    let coverage = ReportServiceClient::new(suite.gateway().await)
        .get_coverage_report(at_instant(
            authorised(&operator(), pb::GetCoverageReportRequest { period }),
            DURING,
        ))
        .await
        .expect("coverage")
        .into_inner();
    assert_eq!(
        (coverage.eligible_children, coverage.enrolled_children),
        (6, 5)
    );
    suite.stop().await;
}
