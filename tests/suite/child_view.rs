//! A child's cross-programme view end to end (issue 17, item 2): one child known to the
//! certificates service (a certificate in the demo municipality) and to the mentoring service
//! (the demo centre's pupil), asked for through the gateway by the parent, by operators of
//! two municipalities, and without a purpose. Each service releases what its own rules allow,
//! and records what it showed, with the purpose, in its own audit trail.

use edu_certificates::demo as certificates_demo;
use edu_kit::auth::dev::DevToken;
use edu_kit::client::at_instant;
use edu_kit::wire;
use edu_mentoring::demo as mentoring_demo;
use edu_proto::edu::api::v1::{ChildIdentity, IdentityMatch};
use edu_proto::edu::audit::v1 as audit;
use edu_proto::edu::audit::v1::audit_service_client::AuditServiceClient;
use edu_proto::edu::certificates::v1 as cert;
use edu_proto::edu::certificates::v1::certificate_service_client::CertificateServiceClient;
use edu_proto::edu::gateway::v1 as pb;
use edu_proto::edu::gateway::v1::gateway_service_client::GatewayServiceClient;
use tonic::Code;

use crate::harness::*;

/// The demo centre's pupil the view is about, as the mentoring demo registers him.
const PUPIL: &str = "pupil-1";
const FAMILY_NAME: &str = "Эскизов";
const GIVEN_NAME: &str = "Миша";
const BIRTH: (i16, i8, i8) = (2012, 5, 5);
/// His birth certificate, as the certificates service registers it, and as a caller who
/// types it differently writes it.
const DOCUMENT: &str = "II-ЭС 500001";
const DOCUMENT_RETYPED: &str = "ii эс №500001";
const PURPOSE: &str = "проверка по обращению родителя";
/// When the child is registered: a day of the certificates demo's period.
const REGISTERED: &str = "2024-09-10T10:00:00+07:00";

fn identity() -> ChildIdentity {
    ChildIdentity {
        identity_document: DOCUMENT_RETYPED.into(),
        family_name: FAMILY_NAME.into(),
        given_name: GIVEN_NAME.into(),
        patronymic: String::new(),
        birth_date: Some(wire::date(jiff::civil::date(BIRTH.0, BIRTH.1, BIRTH.2))),
    }
}

fn view_request(identity: ChildIdentity) -> pb::GetChildViewRequest {
    pb::GetChildViewRequest {
        identity: Some(identity),
    }
}

/// The pupil's parent, as both services know them: the mentoring demo's guardian, who also
/// gave the certificates service its consent.
fn parent() -> String {
    DevToken::new(format!("demo-mentoring-parent-{PUPIL}"))
        .role("certificates.parent")
        .role("mentoring.guardian")
        .scope(format!("institution:{}", mentoring_demo::INSTITUTION_ID))
        .sign()
}

fn operator_of(municipality: &str) -> String {
    DevToken::new(format!("e2e-operator-{municipality}"))
        .role("certificates.operator")
        .scope(format!(
            "municipality:{}/{municipality}",
            certificates_demo::REGION
        ))
        .sign()
}

fn state(view: &pb::ChildView, service: &str) -> (pb::PartState, String) {
    let part = view
        .parts
        .iter()
        .find(|p| p.service == service)
        .unwrap_or_else(|| panic!("no {service} part in {:#?}", view.parts));
    (part.state(), part.code.clone())
}

#[tokio::test]
async fn a_childs_view_releases_each_programmes_part_by_its_own_rules() {
    let suite = TestSuite::start().await;
    let gateway = suite.gateway().await;
    certificates_demo::load(gateway.clone())
        .await
        .expect("the certificates demo");
    mentoring_demo::load(gateway.clone())
        .await
        .expect("the mentoring demo");

    // The pupil gets a certificate in the demo municipality, his parent consenting.
    let operator = operator_of(certificates_demo::MUNICIPALITY);
    let mut register = CertificateServiceClient::new(gateway.clone());
    let child = register
        .create_child(at_instant(
            authorised(
                &operator,
                cert::CreateChildRequest {
                    child: Some(cert::Child {
                        display_name: format!("{GIVEN_NAME} {FAMILY_NAME}"),
                        identity_document: DOCUMENT.into(),
                        birth_date: identity().birth_date,
                        region_code: certificates_demo::REGION.into(),
                        municipality_code: certificates_demo::MUNICIPALITY.into(),
                        consent: Some(cert::Consent {
                            parent_subject: format!("demo-mentoring-parent-{PUPIL}"),
                            parent_name: "Родитель Миши (демо)".into(),
                            give_time: Some(wire::timestamp(REGISTERED.parse().expect("instant"))),
                        }),
                        ..Default::default()
                    }),
                    request_id: "e2e-child-view-child".into(),
                },
            ),
            REGISTERED,
        ))
        .await
        .expect("the child is registered")
        .into_inner();
    register
        .issue_certificate(at_instant(
            authorised(
                &operator,
                cert::IssueCertificateRequest {
                    child: child.name.clone(),
                    request_id: "e2e-child-view-certificate".into(),
                },
            ),
            REGISTERED,
        ))
        .await
        .expect("a certificate");

    let mut views = GatewayServiceClient::new(gateway.clone());

    // Without a purpose nothing is asked of anyone.
    let refused = views
        .get_child_view(authorised(&parent(), view_request(identity())))
        .await
        .expect_err("no purpose");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(edu_kit::testing::reason(&refused), "INVALID_FIELDS");
    assert!(
        refused.message().contains("x-edu-purpose"),
        "{}",
        refused.message()
    );

    // The parent: the certificate and the mentoring record; aid has no parents' role.
    let view = views
        .get_child_view(with_purpose(&parent(), PURPOSE, view_request(identity())))
        .await
        .expect("the parent's view")
        .into_inner();
    assert_eq!(
        state(&view, "certificates").0,
        pb::PartState::Ok,
        "{view:#?}"
    );
    assert_eq!(state(&view, "mentoring").0, pb::PartState::Ok, "{view:#?}");
    assert_eq!(
        state(&view, "aid"),
        (pb::PartState::Refused, "PERMISSION_DENIED".into()),
        "{view:#?}"
    );
    let certificates = view.certificates.as_ref().expect("the certificates part");
    assert_eq!(
        certificates.child.as_ref().map(|c| c.name.as_str()),
        Some(child.name.as_str()),
        "found by the document however it is typed"
    );
    assert!(certificates.certificate.is_some(), "with its certificate");
    let mentoring = view.mentoring.as_ref().expect("the mentoring part");
    assert_eq!(mentoring.records.len(), 1, "{mentoring:#?}");
    let record = &mentoring.records[0];
    assert_eq!(
        record.matched_by(),
        IdentityMatch::NameAndBirthDate,
        "the mentoring service holds no document"
    );
    let participant = record.participant.as_ref().expect("the participant");
    assert_eq!(participant.family_name, FAMILY_NAME);
    assert!(!record.pairs.is_empty(), "his pair: {record:#?}");

    // The operator of the child's municipality sees the certificate; the operator of another
    // municipality learns nothing, not even that the child exists.
    let view = views
        .get_child_view(with_purpose(&operator, PURPOSE, view_request(identity())))
        .await
        .expect("the municipality's operator")
        .into_inner();
    assert_eq!(state(&view, "certificates").0, pb::PartState::Ok);
    let stranger = operator_of("another-municipality");
    let refused = views
        .get_child_view(with_purpose(&stranger, PURPOSE, view_request(identity())))
        .await
        .expect_err("another municipality");
    assert_eq!(refused.code(), Code::NotFound);
    assert_eq!(edu_kit::testing::reason(&refused), "NOT_FOUND");
    let nobody = ChildIdentity {
        identity_document: "II-ЭС 999999".into(),
        ..identity()
    };
    let unknown = views
        .get_child_view(with_purpose(&operator, PURPOSE, view_request(nobody)))
        .await
        .expect_err("no such child");
    assert_eq!(
        (unknown.code(), unknown.message()),
        (refused.code(), refused.message()),
        "a child out of reach and no child at all are told apart by nothing"
    );

    // Each service recorded what it showed the parent, with the purpose.
    let mut trails = AuditServiceClient::new(gateway.clone());
    let records = list_audit_records(
        &mut trails,
        &inspector(),
        audit::ListAuditRecordsRequest {
            parent: "services/certificates".into(),
            resource: child.name.clone(),
            kind: audit::AuditRecordKind::Read as i32,
            ..Default::default()
        },
    )
    .await
    .expect("the child's reads");
    let read = records
        .iter()
        .find(|r| {
            r.rpc == "/edu.certificates.v1.CertificateService/GetChildRecords"
                && r.actor == format!("demo-mentoring-parent-{PUPIL}")
        })
        .unwrap_or_else(|| panic!("the parent's read in {records:#?}"));
    assert_eq!(read.purpose, PURPOSE);
    let records = list_audit_records(
        &mut trails,
        &inspector(),
        audit::ListAuditRecordsRequest {
            parent: "services/mentoring".into(),
            resource: participant.name.clone(),
            kind: audit::AuditRecordKind::Read as i32,
            ..Default::default()
        },
    )
    .await
    .expect("the participant's reads");
    let read = records
        .iter()
        .find(|r| r.rpc == "/edu.mentoring.v1.ParticipantService/GetChildRecords")
        .unwrap_or_else(|| panic!("the parent's read in {records:#?}"));
    assert_eq!(read.purpose, PURPOSE);
    suite.stop().await;
}
