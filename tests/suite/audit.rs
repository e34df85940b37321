//! The tamper-evident audit trail end to end (issue 18, item 5): reads of a child and of a
//! participant through the gateway, with a stated purpose, appear in their services' trails;
//! an inspector lists a resource's records, exports and verifies a service's chain through
//! the gateway; everyone else is refused; and a record edited in the database directly is
//! found, by VerifyAuditChain and by the `audit-verify` command an inspector runs against the
//! database.

use std::time::Duration;

use edu_certificates::demo as certificates_demo;
use edu_kit::auth::dev::DevToken;
use edu_mentoring::demo as mentoring_demo;
use edu_proto::edu::audit::v1 as pb;
use edu_proto::edu::audit::v1::audit_service_client::AuditServiceClient;
use edu_proto::edu::certificates::v1 as cert;
use edu_proto::edu::certificates::v1::certificate_service_client::CertificateServiceClient;
use edu_proto::edu::mentoring::v1 as ment;
use edu_proto::edu::mentoring::v1::participant_service_client::ParticipantServiceClient;
use futures::StreamExt;
use tonic::Code;

use crate::harness::*;

const GET_CHILD: &str = "/edu.certificates.v1.CertificateService/GetChild";
const GET_PARTICIPANT: &str = "/edu.mentoring.v1.ParticipantService/GetParticipant";

/// The chain of `service` once every record written so far is sealed.
async fn sealed_chain(
    audit: &mut AuditServiceClient<tonic::transport::Channel>,
    service: &str,
) -> pb::AuditChainReport {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let report = audit
            .verify_audit_chain(authorised(
                &inspector(),
                pb::VerifyAuditChainRequest {
                    parent: format!("services/{service}"),
                },
            ))
            .await
            .expect("verified")
            .into_inner();
        if report.unsealed_count == 0 || std::time::Instant::now() > deadline {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `<service> audit-verify --database-url <the suite's database>`, as an inspector runs it
/// against a restored dump: the exit code and what it printed.
async fn audit_verify(suite: &TestSuite, service: &str) -> (Option<i32>, String) {
    let admin = edu_kit::testing::admin_url();
    let (without_query, query) = admin.split_once('?').unwrap_or((&admin, ""));
    let (server, _) = without_query
        .rsplit_once('/')
        .expect("a database in the URL");
    let url = if query.is_empty() {
        format!("{server}/{}", suite.database_name())
    } else {
        format!("{server}/{}?{query}", suite.database_name())
    };
    let output = tokio::process::Command::new(edu_devstack::binaries_dir().join(service))
        .args(["audit-verify", "--database-url", &url])
        .env_remove("EDU_DATABASE_URL")
        .output()
        .await
        .expect("audit-verify runs");
    (
        output.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[tokio::test]
async fn inspectors_read_and_verify_every_services_trail_through_the_gateway() {
    let suite =
        TestSuite::start_with(vec![("EDU_AUDIT_SEAL_INTERVAL_MS".into(), "100".into())]).await;
    let gateway = suite.gateway().await;
    certificates_demo::load(gateway.clone())
        .await
        .expect("the certificates demo");
    mentoring_demo::load(gateway.clone())
        .await
        .expect("the mentoring demo");

    // A parent reads her child, saying why; a director reads a participant, saying why.
    let parent = certificates_demo::parent(0);
    let mut children = CertificateServiceClient::new(gateway.clone());
    let child = children
        .list_children(authorised(&parent, cert::ListChildrenRequest::default()))
        .await
        .expect("her children")
        .into_inner()
        .children
        .remove(0)
        .name;
    children
        .get_child(with_purpose(
            &parent,
            "запись в кружок",
            cert::GetChildRequest {
                name: child.clone(),
            },
        ))
        .await
        .expect("her child");
    let mut participants = ParticipantServiceClient::new(gateway.clone());
    let director = mentoring_demo::director();
    let person = participants
        .list_participants(authorised(
            &director,
            ment::ListParticipantsRequest {
                parent: format!("institutions/{}", mentoring_demo::INSTITUTION_ID),
                ..Default::default()
            },
        ))
        .await
        .expect("the participants")
        .into_inner()
        .participants
        .remove(0)
        .name;
    participants
        .get_participant(with_purpose(
            &director,
            "case-review 17",
            ment::GetParticipantRequest {
                name: person.clone(),
            },
        ))
        .await
        .expect("a participant");

    // The inspector finds each read among the resource's records.
    let mut audit = AuditServiceClient::new(gateway.clone());
    let records = list_audit_records(
        &mut audit,
        &inspector(),
        pb::ListAuditRecordsRequest {
            parent: "services/certificates".into(),
            resource: child.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("the child's records");
    let read = records
        .iter()
        .find(|r| r.rpc == GET_CHILD)
        .unwrap_or_else(|| panic!("the read of {child} in {records:#?}"));
    assert_eq!(read.kind, pb::AuditRecordKind::Read as i32);
    assert_eq!(read.actor, "demo-parent-0");
    assert_eq!(read.action, "child.read");
    assert_eq!(read.purpose, "запись в кружок");
    assert!(
        records
            .iter()
            .any(|r| r.kind == pb::AuditRecordKind::Change as i32),
        "the child's registration is in the trail too"
    );
    let theirs = list_audit_records(
        &mut audit,
        &inspector(),
        pb::ListAuditRecordsRequest {
            parent: "services/certificates".into(),
            actor: "demo-parent-0".into(),
            kind: pb::AuditRecordKind::Read as i32,
            ..Default::default()
        },
    )
    .await
    .expect("the parent's reads");
    assert!(theirs.len() >= 2, "the list and the read: {theirs:#?}");
    assert!(theirs.iter().all(|r| r.action == "child.read"));
    let records = list_audit_records(
        &mut audit,
        &inspector(),
        pb::ListAuditRecordsRequest {
            parent: "services/mentoring".into(),
            resource: person.clone(),
            kind: pb::AuditRecordKind::Read as i32,
            ..Default::default()
        },
    )
    .await
    .expect("the participant's reads");
    let read = records
        .iter()
        .find(|r| r.rpc == GET_PARTICIPANT)
        .unwrap_or_else(|| panic!("the read of {person} in {records:#?}"));
    assert_eq!(
        (read.actor.as_str(), read.purpose.as_str()),
        ("demo-mentoring-director", "case-review 17")
    );

    // Every chain holds once sealed; the export carries the whole trail.
    let certificates = sealed_chain(&mut audit, "certificates").await;
    assert_eq!(certificates.unsealed_count, 0, "{certificates:?}");
    assert!(certificates.sealed_count > 10, "{certificates:?}");
    assert!(certificates.first_break.is_none(), "{certificates:?}");
    assert_eq!(certificates.last_hash.len(), 32);
    let mentoring = sealed_chain(&mut audit, "mentoring").await;
    assert!(mentoring.first_break.is_none(), "{mentoring:?}");
    let exported: Vec<pb::AuditRecord> = audit
        .export_audit_records(authorised(
            &inspector(),
            pb::ExportAuditRecordsRequest {
                parent: "services/certificates".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("the export")
        .into_inner()
        .map(|m| m.expect("a record").record.expect("record"))
        .collect()
        .await;
    assert!(exported.len() as i64 >= certificates.sealed_count);
    assert!(exported.windows(2).all(|w| w[0].record_id < w[1].record_id));
    // Each service serves its own trail directly too.
    let aid = AuditServiceClient::new(suite.service("aid").await)
        .verify_audit_chain(authorised(
            &inspector(),
            pb::VerifyAuditChainRequest {
                parent: "services/aid".into(),
            },
        ))
        .await
        .expect("aid's own chain")
        .into_inner();
    assert!(aid.first_break.is_none());

    // Nobody else reads a trail.
    let verify = |token: Option<String>, parent: &str| {
        let mut audit = audit.clone();
        let body = pb::VerifyAuditChainRequest {
            parent: parent.into(),
        };
        async move {
            let request = match &token {
                Some(token) => authorised(token, body),
                None => tonic::Request::new(body),
            };
            audit.verify_audit_chain(request).await
        }
    };
    assert_refused(
        verify(Some(parent.clone()), "services/certificates").await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_refused(
        verify(Some(director.clone()), "services/mentoring").await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    let aid_inspector = DevToken::new("aid-inspector").role("aid.inspector").sign();
    assert_refused(
        verify(Some(aid_inspector.clone()), "services/certificates").await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_refused(
        audit
            .clone()
            .list_audit_records(authorised(
                &aid_inspector,
                pb::ListAuditRecordsRequest {
                    parent: "services/certificates".into(),
                    resource: child.clone(),
                    ..Default::default()
                },
            ))
            .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_refused(
        verify(None, "services/certificates").await,
        Code::Unauthenticated,
        "TOKEN_MISSING",
    );
    let nobody = DevToken::new("x").role("gateway.inspector").sign();
    assert_refused(
        verify(Some(nobody), "services/gateway").await,
        Code::NotFound,
        "NOT_FOUND",
    );

    // The chain holds for the inspector's own command as well.
    let (code, printed) = audit_verify(&suite, "certificates").await;
    assert_eq!(code, Some(0), "{printed}");
    assert!(printed.contains("the chain holds"), "{printed}");

    // Someone with access to the database rewrites who did something.
    let pool = suite.database().await;
    let edited: i64 = sqlx::query_scalar(
        "UPDATE certificates.audit_log SET actor = 'someone-else'
         WHERE chain_seq = 3 RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .expect("edited");
    pool.close().await;
    let report = audit
        .verify_audit_chain(authorised(
            &inspector(),
            pb::VerifyAuditChainRequest {
                parent: "services/certificates".into(),
            },
        ))
        .await
        .expect("verified")
        .into_inner();
    let broken = report.first_break.expect("the edit is found");
    assert_eq!(
        (broken.chain_seq, broken.record_id, broken.kind),
        (3, edited, pb::AuditChainBreakKind::Edited as i32)
    );
    let (code, printed) = audit_verify(&suite, "certificates").await;
    assert_eq!(code, Some(2), "{printed}");
    assert!(
        printed.contains("BROKEN at chain_seq 3") && printed.contains("EDITED"),
        "{printed}"
    );
    // The other services' chains are untouched.
    let (code, printed) = audit_verify(&suite, "mentoring").await;
    assert_eq!(code, Some(0), "{printed}");
    suite.stop().await;
}
