//! GetChildRecords, the certificates part of a child's cross-programme view: the child is
//! found by the identity document, however it is spelt, and the birth date; the child's
//! parents and municipality's operator get the child, the certificate and its enrolments;
//! anyone else with a role that reads children hears that the child does not exist, in
//! exactly the words a child never registered gets.

use edu_certificates::api::CertificatesApi;
use edu_certificates::domain::Money;
use edu_certificates::store::enrolments;
use edu_kit::CallContext;
use edu_kit::auth::{Caller, Claims};
use edu_kit::wire;
use edu_proto::edu::api::v1::ChildIdentity;
use edu_proto::edu::certificates::v1 as pb;
use edu_proto::edu::certificates::v1::certificate_service_server::CertificateService;
use jiff::civil::{Date, date};
use tonic::{Code, Status};

use crate::common::*;

const RPC: &str = "/edu.certificates.v1.CertificateService/GetChildRecords";
const BORN: Date = date(2015, 3, 1);

fn caller(subject: &str, roles: &[&str], scopes: &[&str]) -> Caller {
    Caller::from_claims(Claims {
        sub: subject.into(),
        name: None,
        roles: roles.iter().map(|r| r.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    })
}

fn parent(subject: &str) -> Caller {
    caller(subject, &["certificates.parent"], &[])
}

fn operator(scope: &str) -> Caller {
    caller("moc", &["certificates.operator"], &[scope])
}

fn mikhailovsky_operator() -> Caller {
    operator("municipality:RU-ALT/mikhailovsky")
}

/// A lookup of `document` born `born` by `who`, stating `purpose`, on 2 September 2024.
fn lookup(
    who: &Caller,
    purpose: &str,
    document: &str,
    born: Option<Date>,
) -> tonic::Request<pb::GetChildRecordsRequest> {
    let mut request = tonic::Request::new(pb::GetChildRecordsRequest {
        identity: Some(ChildIdentity {
            identity_document: document.into(),
            // Names are not compared: none of these is the register's «Ребёнок 0».
            family_name: "Кто-то".into(),
            given_name: "Другой".into(),
            birth_date: born.map(wire::date),
            ..Default::default()
        }),
    });
    request.extensions_mut().insert(
        CallContext::new(
            Some(who.clone()),
            "records-test",
            None,
            "2024-09-02T10:00:00+07:00".parse().expect("instant"),
        )
        .with_rpc(RPC)
        .with_purpose(purpose),
    );
    request
}

async fn records(
    api: &CertificatesApi,
    who: &Caller,
    document: &str,
    born: Date,
) -> Result<pb::ChildRecords, Status> {
    api.get_child_records(lookup(who, "сверка зачислений", document, Some(born)))
        .await
        .map(|r| r.into_inner())
}

/// Child 0 of the district (document `I-ТО 000000`, born 1 March 2015, consented for by
/// `parent-0`) with a funded certificate, robotics accepted on 1 September at 9:00 and chess
/// requested at 10:00; child 1 (`I-ТО 000001`, `parent-1`) without a certificate.
async fn world(fx: &Fixture) -> CertificatesApi {
    period(fx, Money::from_roubles(6_000), 10).await;
    let issued = certificates(fx, 1).await;
    child(fx, 1).await;
    provider(fx, "dom").await;
    programme(fx, "dom", "robotics", 10, Money::from_roubles(100)).await;
    programme(fx, "dom", "chess", 10, Money::from_roubles(50)).await;
    let robotics = request(fx, &issued[0].id, "dom", "robotics")
        .await
        .expect("requested");
    accept(fx, &robotics.id).await.expect("accepted");
    in_tx!(fx, |tx| enrolments::request(
        &mut tx,
        &context_at("2024-09-01T10:00:00+07:00"),
        &issued[0].id,
        "dom",
        "chess",
        FIRST_DAY
    )
    .await)
    .expect("requested later");
    CertificatesApi::new(fx.store.clone())
}

fn programmes(found: &pb::ChildRecords) -> Vec<(&str, i32)> {
    found
        .enrolments
        .iter()
        .map(|e| (e.programme.as_str(), e.state))
        .collect()
}

#[tokio::test]
async fn the_parent_finds_the_child_by_a_respelled_document_with_certificate_and_enrolments() {
    let fx = Fixture::new().await;
    let api = world(&fx).await;
    for spelling in [
        "I-ТО 000000",
        "i то №000000",
        "І–TO 000 000",
        "Ⅰ ТО №０００００0",
    ] {
        let found = records(&api, &parent("parent-0"), spelling, BORN)
            .await
            .unwrap_or_else(|e| panic!("{spelling:?}: {e:?}"));
        let child = found.child.as_ref().expect("the child");
        assert_eq!(child.name, "children/child-0", "{spelling:?}");
        assert_eq!(child.identity_document, "I-ТО 000000", "as registered");
        let certificate = found.certificate.as_ref().expect("the certificate");
        assert_eq!(certificate.child, "children/child-0");
        assert_eq!(certificate.state, pb::CertificateState::Active as i32);
        assert_eq!(certificate.kind, pb::CertificateKind::Funded as i32);
        assert_eq!(certificate.period, "periods/mikhailovsky-2024");
        assert_eq!(
            programmes(&found),
            [
                (
                    "providers/dom/programmes/chess",
                    pb::EnrolmentState::Requested as i32
                ),
                (
                    "providers/dom/programmes/robotics",
                    pb::EnrolmentState::Accepted as i32
                ),
            ],
            "newest first"
        );
        assert!(!found.enrolments_truncated);
        let balance = certificate.balance.expect("the balance");
        assert_eq!(balance.credited_kopecks, 600_000);
        assert!(balance.reserved_kopecks > 0);
        assert_eq!(
            balance.reserved_kopecks, found.enrolments[1].reserved_kopecks,
            "the balance and the enrolments are one snapshot"
        );
        assert_eq!(
            found.read_time,
            Some(wire::timestamp(
                "2024-09-02T10:00:00+07:00".parse().expect("instant")
            ))
        );
    }
    let without = records(&api, &parent("parent-1"), "I-ТО 000001", BORN)
        .await
        .expect("child 1");
    assert_eq!(
        without.child.map(|c| c.name).as_deref(),
        Some("children/child-1")
    );
    assert!(without.certificate.is_none(), "none issued");
    assert!(without.enrolments.is_empty() && !without.enrolments_truncated);
}

#[tokio::test]
async fn a_parent_named_by_a_child_scope_and_the_municipality_operator_find_the_child() {
    let fx = Fixture::new().await;
    let api = world(&fx).await;
    for who in [
        caller("grandmother", &["certificates.parent"], &["child:child-0"]),
        mikhailovsky_operator(),
        operator("region:RU-ALT"),
    ] {
        let found = records(&api, &who, "i-то 000000", BORN)
            .await
            .unwrap_or_else(|e| panic!("{who:?}: {e:?}"));
        assert_eq!(
            found.child.map(|c| c.name).as_deref(),
            Some("children/child-0")
        );
        assert!(found.certificate.is_some());
        assert_eq!(found.enrolments.len(), 2);
    }
}

/// The one answer for "not yours" and "no such child": the same code, reason, message and
/// details, naming nothing the caller sent.
#[tokio::test]
async fn another_municipality_a_wrong_birth_date_and_an_unknown_document_are_one_not_found() {
    let fx = Fixture::new().await;
    let api = world(&fx).await;
    let unknown = records(&api, &parent("parent-0"), "I-ТО 999999", BORN)
        .await
        .expect_err("no such child");
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(edu_kit::testing::reason(&unknown), "NOT_FOUND");
    for sent in ["000000", "999999", "2015"] {
        assert!(!unknown.message().contains(sent), "{:?}", unknown.message());
    }
    let refusals = [
        (
            "an operator of another municipality",
            operator("municipality:RU-ALT/rubtsovsk"),
            BORN,
        ),
        (
            "an operator of another region",
            operator("region:RU-NSK"),
            BORN,
        ),
        ("another parent", parent("someone"), BORN),
        (
            "another child's parent",
            caller("parent-1", &["certificates.parent"], &["child:child-1"]),
            BORN,
        ),
        (
            "the right parent, a wrong birth date",
            parent("parent-0"),
            date(2015, 3, 2),
        ),
        (
            "the right operator, a wrong birth date",
            mikhailovsky_operator(),
            date(2016, 3, 1),
        ),
        (
            "an operator whose scopes cover nothing",
            caller("moc", &["certificates.operator"], &[]),
            BORN,
        ),
    ];
    for (who, caller, born) in refusals {
        let refused = records(&api, &caller, "I-ТО 000000", born)
            .await
            .expect_err(who);
        assert_eq!(
            (refused.code(), refused.message(), refused.details()),
            (unknown.code(), unknown.message(), unknown.details()),
            "{who}"
        );
    }
}

#[tokio::test]
async fn the_role_is_checked_first_then_the_purpose_then_the_identity() {
    let fx = Fixture::new().await;
    let api = world(&fx).await;
    let provider = caller("dom-staff", &["certificates.provider"], &["provider:dom"]);
    for who in [
        provider,
        caller("x", &[], &[]),
        caller("aid", &["aid.school_staff"], &[]),
    ] {
        // Neither the purpose nor the identity is looked at before the role.
        for purpose in ["сверка", ""] {
            let refused = api
                .get_child_records(lookup(&who, purpose, "", None))
                .await
                .expect_err("no role that reads children");
            assert_eq!(refused.code(), Code::PermissionDenied, "{who:?}");
            assert_eq!(edu_kit::testing::reason(&refused), "ROLE_REQUIRED");
        }
    }

    let no_purpose = api
        .get_child_records(lookup(&parent("parent-0"), " ", "", None))
        .await
        .expect_err("no purpose");
    assert_eq!(no_purpose.code(), Code::InvalidArgument);
    assert_eq!(edu_kit::testing::reason(&no_purpose), "INVALID_FIELDS");
    assert_eq!(edu_kit::testing::bad_fields(&no_purpose), ["x-edu-purpose"]);

    for (document, born, fields) in [
        ("", Some(BORN), vec!["identity.identity_document"]),
        (" № - . ", Some(BORN), vec!["identity.identity_document"]),
        ("I-ТО 000000", None, vec!["identity.birth_date"]),
        (
            "",
            None,
            vec!["identity.identity_document", "identity.birth_date"],
        ),
    ] {
        let refused = api
            .get_child_records(lookup(&parent("parent-0"), "сверка", document, born))
            .await
            .expect_err("invalid identity");
        assert_eq!(refused.code(), Code::InvalidArgument, "{document:?}");
        assert_eq!(
            edu_kit::testing::bad_fields(&refused),
            fields,
            "{document:?}"
        );
    }
    let mut absent = lookup(&parent("parent-0"), "сверка", "", None);
    absent.get_mut().identity = None;
    let refused = api
        .get_child_records(absent)
        .await
        .expect_err("no identity");
    assert_eq!(
        edu_kit::testing::bad_fields(&refused),
        ["identity.identity_document", "identity.birth_date"]
    );
}

#[tokio::test]
async fn at_most_100_enrolments_are_shown_newest_first_and_the_rest_is_flagged() {
    let fx = Fixture::new().await;
    let api = world(&fx).await;
    // 101 more enrolments of the certificate, one a minute after the two of the world.
    sqlx::query(
        "INSERT INTO certificates.enrolments
             (id, certificate_id, provider_id, programme_id, period_id, start_date, state,
              monthly_price, create_time, update_time)
         SELECT 'bulk-' || lpad(n::text, 3, '0'), c.id, 'dom', 'chess', 'mikhailovsky-2024',
                DATE '2024-09-01', 'DECLINED', 5000,
                TIMESTAMPTZ '2024-09-01 12:00+07' + n * INTERVAL '1 minute',
                TIMESTAMPTZ '2024-09-01 12:00+07' + n * INTERVAL '1 minute'
         FROM certificates.certificates c, generate_series(1, 101) AS n
         WHERE c.child_id = 'child-0'",
    )
    .execute(fx.db.pool())
    .await
    .expect("enrolments");
    let found = records(&api, &parent("parent-0"), "I-ТО 000000", BORN)
        .await
        .expect("found");
    assert_eq!(found.enrolments.len(), 100);
    assert!(found.enrolments_truncated);
    assert_eq!(found.enrolments[0].name, "enrolments/bulk-101");
    assert_eq!(found.enrolments[99].name, "enrolments/bulk-002");
}
