//! Reads of children in the audit trail: GetChild, each child a ListChildren page shows and
//! the child GetChildRecords finds leave a `READ` record naming the child, the reader, the
//! RPC and the purpose the reader stated; a refused read leaves none.

use edu_certificates::api::{CertificatesApi, PeriodsApi};
use edu_kit::CallContext;
use edu_kit::auth::{Caller, Claims};
use edu_kit::wire;
use edu_proto::edu::certificates::v1 as pb;
use edu_proto::edu::certificates::v1::certificate_service_server::CertificateService;
use edu_proto::edu::certificates::v1::period_service_server::PeriodService;
use jiff::civil::date;

use crate::common::{Fixture, certificates, period};

const GET: &str = "/edu.certificates.v1.CertificateService/GetChild";
const LIST: &str = "/edu.certificates.v1.CertificateService/ListChildren";
const RECORDS: &str = "/edu.certificates.v1.CertificateService/GetChildRecords";

fn caller(subject: &str, roles: &[&str], scopes: &[&str]) -> Caller {
    Caller::from_claims(Claims {
        sub: subject.into(),
        name: None,
        roles: roles.iter().map(|r| r.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    })
}

fn operator() -> Caller {
    caller(
        "moc",
        &["certificates.operator"],
        &["municipality:RU-ALT/mikhailovsky"],
    )
}

/// `body` from `who`, with the context the pipeline builds for `rpc`.
fn request<T>(who: &Caller, rpc: &str, purpose: &str, body: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(body);
    request.extensions_mut().insert(
        CallContext::new(
            Some(who.clone()),
            "audit-test",
            None,
            "2024-09-02T10:00:00+07:00".parse().expect("instant"),
        )
        .with_rpc(rpc)
        .with_purpose(purpose),
    );
    request
}

async fn reads(fx: &Fixture) -> Vec<(String, String, String, String, String)> {
    sqlx::query_as(
        "SELECT actor, action, resource, rpc, purpose FROM audit_log
         WHERE kind = 'READ' ORDER BY id",
    )
    .fetch_all(fx.db.pool())
    .await
    .expect("reads")
}

#[tokio::test]
async fn a_child_read_is_recorded_with_its_rpc_and_purpose() {
    let fx = Fixture::new().await;
    PeriodsApi::new(fx.store.clone())
        .create_period(request(
            &operator(),
            "/edu.certificates.v1.PeriodService/CreatePeriod",
            "",
            pb::CreatePeriodRequest {
                period: Some(pb::Period {
                    region_code: "RU-ALT".into(),
                    municipality_code: "mikhailovsky".into(),
                    municipality_name: "Михайловский район".into(),
                    time_zone: "Asia/Barnaul".into(),
                    start_date: Some(wire::date(date(2024, 9, 1))),
                    end_date: Some(wire::date(date(2025, 8, 31))),
                    nominal_kopecks: 600_000,
                    quota: 100,
                    min_age: 5,
                    max_age: 18,
                    currency: "RUB".into(),
                    ..Default::default()
                }),
                period_id: "mikhailovsky-2024".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("period");
    let api = CertificatesApi::new(fx.store.clone());
    let mut names = Vec::new();
    for document in ["I-ТО 000101", "I-ТО 000102"] {
        let child = api
            .create_child(request(
                &operator(),
                "/edu.certificates.v1.CertificateService/CreateChild",
                "",
                pb::CreateChildRequest {
                    child: Some(pb::Child {
                        display_name: "Иванов Пётр".into(),
                        identity_document: document.into(),
                        birth_date: Some(wire::date(date(2015, 3, 1))),
                        region_code: "RU-ALT".into(),
                        municipality_code: "mikhailovsky".into(),
                        consent: Some(pb::Consent {
                            parent_subject: "maria".into(),
                            parent_name: "Иванова Мария".into(),
                            give_time: Some(wire::timestamp(
                                "2024-09-02T09:00:00+07:00".parse().expect("instant"),
                            )),
                        }),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("child")
            .into_inner();
        names.push(child.name);
    }
    assert!(
        reads(&fx).await.is_empty(),
        "creating is a change, not a read"
    );

    let parent = caller("maria", &["certificates.parent"], &[]);
    api.get_child(request(
        &parent,
        GET,
        "запись в кружок",
        pb::GetChildRequest {
            name: names[0].clone(),
        },
    ))
    .await
    .expect("her child");
    assert_eq!(
        reads(&fx).await,
        vec![(
            "maria".to_string(),
            "child.read".to_string(),
            names[0].clone(),
            GET.to_string(),
            "запись в кружок".to_string(),
        )]
    );

    // Someone else's child does not exist for them, and nothing was read.
    let stranger = caller("someone", &["certificates.parent"], &[]);
    api.get_child(request(
        &stranger,
        GET,
        "",
        pb::GetChildRequest {
            name: names[1].clone(),
        },
    ))
    .await
    .expect_err("not theirs");
    assert_eq!(reads(&fx).await.len(), 1);

    // The operator's list: one record per child shown.
    let listed = api
        .list_children(request(
            &operator(),
            LIST,
            "",
            pb::ListChildrenRequest::default(),
        ))
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(listed.children.len(), 2);
    let recorded = reads(&fx).await;
    let mut shown: Vec<String> = recorded[1..].iter().map(|r| r.2.clone()).collect();
    shown.sort();
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(shown, expected);
    assert!(
        recorded[1..]
            .iter()
            .all(|r| r.0 == "moc" && r.3 == LIST && r.4.is_empty())
    );
}

/// GetChildRecords shows the child, the certificate and its enrolments: one READ of the
/// child, with the purpose and the RPC. Without a purpose nothing is looked up or recorded,
/// and a lookup that finds nobody records nothing either.
#[tokio::test]
async fn a_child_records_read_is_one_child_read_with_its_purpose() {
    let fx = Fixture::new().await;
    period(
        &fx,
        edu_certificates::domain::Money::from_roubles(6_000),
        10,
    )
    .await;
    certificates(&fx, 1).await;
    let api = CertificatesApi::new(fx.store.clone());
    let lookup = |purpose: &str, document: &str| {
        request(
            &caller("parent-0", &["certificates.parent"], &[]),
            RECORDS,
            purpose,
            pb::GetChildRecordsRequest {
                identity: Some(edu_proto::edu::api::v1::ChildIdentity {
                    identity_document: document.into(),
                    birth_date: Some(wire::date(date(2015, 3, 1))),
                    ..Default::default()
                }),
            },
        )
    };

    for none in ["", "   "] {
        let refused = api
            .get_child_records(lookup(none, "I-ТО 000000"))
            .await
            .expect_err("no purpose");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert_eq!(edu_kit::testing::reason(&refused), "INVALID_FIELDS");
        assert_eq!(edu_kit::testing::bad_fields(&refused), ["x-edu-purpose"]);
    }
    api.get_child_records(lookup("сверка", "I-ТО 999999"))
        .await
        .expect_err("nobody");
    assert!(
        reads(&fx).await.is_empty(),
        "nothing shown, nothing recorded"
    );

    let found = api
        .get_child_records(lookup("обращение родителя № 17", "i то №000000"))
        .await
        .expect("her child")
        .into_inner();
    assert!(found.certificate.is_some());
    assert_eq!(
        reads(&fx).await,
        vec![(
            "parent-0".to_string(),
            "child.read".to_string(),
            "children/child-0".to_string(),
            RECORDS.to_string(),
            "обращение родителя № 17".to_string(),
        )]
    );
}
