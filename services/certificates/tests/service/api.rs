//! The gRPC handlers: tenant isolation per role (rule 8), idempotent creating calls, and the
//! statement a parent reads.

use edu_certificates::api::{CertificatesApi, PeriodsApi};
use edu_kit::CallContext;
use edu_kit::auth::{Caller, Claims};
use edu_kit::wire;
use edu_proto::edu::certificates::v1 as pb;
use edu_proto::edu::certificates::v1::certificate_service_server::CertificateService;
use edu_proto::edu::certificates::v1::period_service_server::PeriodService;
use jiff::Timestamp;
use jiff::civil::date;
use tonic::{Code, Status};

use crate::common::*;

fn caller(subject: &str, roles: &[&str], scopes: &[&str]) -> Caller {
    Caller::from_claims(Claims {
        sub: subject.into(),
        name: None,
        roles: roles.iter().map(|r| r.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    })
}

fn mikhailovsky_operator() -> Caller {
    caller(
        "moc",
        &["certificates.operator"],
        &["municipality:RU-ALT/mikhailovsky"],
    )
}

fn other_operator() -> Caller {
    caller(
        "moc-rubtsovsk",
        &["certificates.operator"],
        &["municipality:RU-ALT/rubtsovsk"],
    )
}

fn parent(subject: &str) -> Caller {
    caller(subject, &["certificates.parent"], &[])
}

fn at_start() -> Timestamp {
    "2024-09-02T10:00:00+07:00".parse().expect("instant")
}

fn request<T>(who: &Caller, body: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(body);
    request.extensions_mut().insert(CallContext::new(
        Some(who.clone()),
        "test",
        None,
        at_start(),
    ));
    request
}

fn reason(status: &Status) -> String {
    edu_kit::testing::reason(status)
}

fn period_body() -> pb::Period {
    pb::Period {
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
    }
}

fn child_body(document: &str, parent: &str) -> pb::Child {
    pb::Child {
        display_name: "Иванов Пётр".into(),
        identity_document: document.into(),
        birth_date: Some(wire::date(date(2015, 3, 1))),
        region_code: "RU-ALT".into(),
        municipality_code: "mikhailovsky".into(),
        consent: Some(pb::Consent {
            parent_subject: parent.into(),
            parent_name: "Иванова Мария".into(),
            give_time: Some(wire::timestamp(at_start())),
        }),
        ..Default::default()
    }
}

struct Apis {
    periods: PeriodsApi,
    certificates: CertificatesApi,
}

async fn setup(fx: &Fixture) -> Apis {
    let apis = Apis {
        periods: PeriodsApi::new(fx.store.clone()),
        certificates: CertificatesApi::new(fx.store.clone()),
    };
    apis.periods
        .create_period(request(
            &mikhailovsky_operator(),
            pb::CreatePeriodRequest {
                period: Some(period_body()),
                period_id: "mikhailovsky-2024".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("period");
    apis
}

async fn register(apis: &Apis, document: &str, parent: &str) -> Result<pb::Child, Status> {
    apis.certificates
        .create_child(request(
            &mikhailovsky_operator(),
            pb::CreateChildRequest {
                child: Some(child_body(document, parent)),
                request_id: String::new(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn rule_8_each_role_sees_its_own_tenant_only() {
    let fx = Fixture::new().await;
    let apis = setup(&fx).await;
    let refused = apis
        .periods
        .create_period(request(
            &other_operator(),
            pb::CreatePeriodRequest {
                period: Some(period_body()),
                period_id: "not-theirs".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("another municipality");
    assert_eq!(refused.code(), Code::PermissionDenied);

    let child = register(&apis, "I-ТО 000001", "maria")
        .await
        .expect("child");
    let read = |who: Caller| {
        let name = child.name.clone();
        let apis = &apis;
        async move {
            apis.certificates
                .get_child(request(&who, pb::GetChildRequest { name }))
                .await
        }
    };
    read(parent("maria")).await.expect("her child");
    read(mikhailovsky_operator())
        .await
        .expect("the operator's municipality");
    for stranger in [parent("someone"), other_operator(), caller("x", &[], &[])] {
        let status = read(stranger).await.expect_err("not theirs");
        assert_eq!(status.code(), Code::NotFound, "as if it did not exist");
    }
    let listed = apis
        .certificates
        .list_children(request(
            &parent("someone"),
            pb::ListChildrenRequest::default(),
        ))
        .await
        .expect("listed")
        .into_inner();
    assert!(listed.children.is_empty());
}

#[tokio::test]
async fn rule_1_issue_is_idempotent_by_request_id_and_once_per_child() {
    let fx = Fixture::new().await;
    let apis = setup(&fx).await;
    let child = register(&apis, "I-ТО 000002", "maria")
        .await
        .expect("child");
    let issue = |request_id: &str| {
        apis.certificates.issue_certificate(request(
            &mikhailovsky_operator(),
            pb::IssueCertificateRequest {
                child: child.name.clone(),
                request_id: request_id.into(),
            },
        ))
    };
    let replays = futures::future::join_all([issue("r-1"), issue("r-1"), issue("r-1")]).await;
    let names: Vec<String> = replays
        .into_iter()
        .map(|r| r.expect("the first result").into_inner().name)
        .collect();
    assert!(names.iter().all(|n| n == &names[0]), "{names:?}");
    assert_eq!(
        fx.scalar("SELECT count(*) FROM certificates.certificates")
            .await,
        1,
        "one effect"
    );
    let again = issue("r-2").await.expect_err("once per child");
    assert_eq!(again.code(), Code::AlreadyExists);

    let sister = register(&apis, "I-ТО 000022", "maria")
        .await
        .expect("child");
    let reused = apis
        .certificates
        .issue_certificate(request(
            &mikhailovsky_operator(),
            pb::IssueCertificateRequest {
                child: sister.name,
                request_id: "r-1".into(),
            },
        ))
        .await
        .expect_err("another request under the same id");
    assert_eq!(reason(&reused), "REQUEST_ID_REUSED");
}

/// Rule 1 against spelling: a document registered already is ALREADY_EXISTS however it is
/// typed, exactly as the same spelling twice, decided from the insert's result (so the
/// document never reaches the database's log), naming no document, recording nothing.
#[tokio::test]
async fn rule_1_a_registered_document_spelt_another_way_already_exists() {
    let fx = Fixture::new().await;
    let apis = setup(&fx).await;
    register(&apis, "I-ТО 000009", "maria")
        .await
        .expect("child");
    for spelling in [
        "I-ТО 000009",
        "i то №000009",
        "І–TO 000 009",
        "I.T.O. 000009",
    ] {
        let refused = register(&apis, spelling, "someone")
            .await
            .expect_err(spelling);
        assert_eq!(refused.code(), Code::AlreadyExists, "{spelling:?}");
        assert!(
            !refused.message().contains("000009"),
            "{:?}",
            refused.message()
        );
    }
    register(&apis, "I-ТО 000010", "maria")
        .await
        .expect("another document");
    assert_eq!(
        fx.scalar("SELECT count(*) FROM certificates.consents")
            .await,
        2,
        "a refused registration records no consent"
    );
}

#[tokio::test]
async fn a_parent_reads_the_certificate_and_its_statement_after_crediting() {
    let fx = Fixture::new().await;
    let apis = setup(&fx).await;
    let child = register(&apis, "I-ТО 000003", "maria")
        .await
        .expect("child");
    let certificate = apis
        .certificates
        .issue_certificate(request(
            &mikhailovsky_operator(),
            pb::IssueCertificateRequest {
                child: child.name.clone(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("issued")
        .into_inner();
    let credited = apis
        .periods
        .credit_period(request(
            &mikhailovsky_operator(),
            pb::CreditPeriodRequest {
                name: "periods/mikhailovsky-2024".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("credited")
        .into_inner();
    assert_eq!(credited.funded_certificates, 1);

    let statement = apis
        .certificates
        .get_statement(request(
            &parent("maria"),
            pb::GetStatementRequest {
                certificate: certificate.name.clone(),
                period: String::new(),
            },
        ))
        .await
        .expect("her statement")
        .into_inner();
    assert_eq!(statement.entries.len(), 1);
    assert_eq!(statement.kind, pb::CertificateKind::Funded as i32);
    assert_eq!(
        statement.balance.map(|b| b.available_kopecks),
        Some(600_000)
    );
    let stranger = apis
        .certificates
        .get_statement(request(
            &parent("someone"),
            pb::GetStatementRequest {
                certificate: certificate.name,
                period: String::new(),
            },
        ))
        .await
        .expect_err("not hers");
    assert_eq!(stranger.code(), Code::NotFound);
}

#[tokio::test]
async fn malformed_periods_and_children_name_every_bad_field() {
    let fx = Fixture::new().await;
    let apis = setup(&fx).await;
    let mut bad = period_body();
    bad.time_zone = "Mars/Olympus".into();
    bad.end_date = Some(wire::date(date(2024, 8, 1)));
    bad.nominal_kopecks = 0;
    bad.currency = "EUR".into();
    let refused = apis
        .periods
        .create_period(request(
            &mikhailovsky_operator(),
            pb::CreatePeriodRequest {
                period: Some(bad),
                period_id: String::new(),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("invalid");
    assert_eq!(
        edu_kit::testing::bad_fields(&refused),
        [
            "period.time_zone",
            "period.end_date",
            "period.nominal_kopecks",
            "period.currency"
        ]
    );
    let mut child = child_body("", "maria");
    child.consent = None;
    let refused = apis
        .certificates
        .create_child(request(
            &mikhailovsky_operator(),
            pb::CreateChildRequest {
                child: Some(child),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("no consent");
    assert_eq!(
        edu_kit::testing::bad_fields(&refused),
        [
            "child.identity_document",
            "child.consent.parent_subject",
            "child.consent.parent_name",
            "child.consent.give_time"
        ]
    );
    assert_eq!(
        fx.scalar("SELECT count(*) FROM certificates.consents")
            .await,
        0,
        "nothing recorded"
    );
}

mod programmes {
    use super::*;
    use edu_certificates::api::ProgrammesApi;
    use edu_proto::edu::certificates::v1::programme_service_server::ProgrammeService;

    fn provider_caller(id: &str) -> Caller {
        caller(
            &format!("{id}-staff"),
            &["certificates.provider"],
            &[&format!("provider:{id}")],
        )
    }

    fn anonymous<T>(body: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(body);
        request
            .extensions_mut()
            .insert(CallContext::new(None, "test", None, at_start()));
        request
    }

    async fn described(api: &ProgrammesApi, provider: &str, id: &str, title: &str, price: i64) {
        api.create_programme(request(
            &provider_caller(provider),
            pb::CreateProgrammeRequest {
                parent: format!("providers/{provider}"),
                programme: Some(pb::Programme {
                    title: title.into(),
                    direction: pb::Direction::Technical as i32,
                    min_age: 7,
                    max_age: 14,
                    seats: 15,
                    monthly_price_kopecks: price,
                    ..Default::default()
                }),
                programme_id: id.into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("described");
    }

    #[tokio::test]
    async fn rule_4_the_catalogue_shows_certified_programmes_of_included_providers_to_anyone() {
        let fx = Fixture::new().await;
        let api = ProgrammesApi::new(fx.store.clone());
        api.create_provider(request(
            &mikhailovsky_operator(),
            pb::CreateProviderRequest {
                provider: Some(pb::Provider {
                    display_name: "Дом детского творчества".into(),
                    tax_id: "2256001234".into(),
                    region_code: "RU-ALT".into(),
                    municipality_code: "mikhailovsky".into(),
                    ..Default::default()
                }),
                provider_id: "ddt".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("included");
        let foreign = api
            .create_programme(request(
                &provider_caller("other"),
                pb::CreateProgrammeRequest {
                    parent: "providers/ddt".into(),
                    programme: Some(pb::Programme::default()),
                    programme_id: String::new(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect_err("another provider's");
        assert_eq!(foreign.code(), Code::PermissionDenied);
        for (n, title) in ["Робототехника", "Авиамоделирование", "Шахматы"]
            .iter()
            .enumerate()
        {
            described(
                &api,
                "ddt",
                &format!("p{n}"),
                title,
                50_000 * (n as i64 + 1),
            )
            .await;
        }
        let search = |body: pb::SearchProgrammesRequest| {
            let api = &api;
            async move {
                api.search_programmes(anonymous(body))
                    .await
                    .expect("search")
                    .into_inner()
            }
        };
        assert!(
            search(pb::SearchProgrammesRequest::default())
                .await
                .programmes
                .is_empty(),
            "nothing certified yet"
        );
        let hidden = api
            .get_programme(anonymous(pb::GetProgrammeRequest {
                name: "providers/ddt/programmes/p0".into(),
            }))
            .await
            .expect_err("not in the catalogue");
        assert_eq!(hidden.code(), Code::NotFound);
        for n in 0..3 {
            api.certify_programme(request(
                &mikhailovsky_operator(),
                pb::CertifyProgrammeRequest {
                    name: format!("providers/ddt/programmes/p{n}"),
                },
            ))
            .await
            .expect("certified");
        }
        let first = search(pb::SearchProgrammesRequest {
            page_size: 2,
            ..Default::default()
        })
        .await;
        let titles: Vec<&str> = first.programmes.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["Авиамоделирование", "Робототехника"], "by title");
        let rest = search(pb::SearchProgrammesRequest {
            page_size: 2,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await;
        assert_eq!(rest.programmes.len(), 1);
        assert!(rest.next_page_token.is_empty());
        let cheap = search(pb::SearchProgrammesRequest {
            max_monthly_price_kopecks: 100_000,
            age: 10,
            ..Default::default()
        })
        .await;
        assert_eq!(cheap.programmes.len(), 2);
        let too_young = search(pb::SearchProgrammesRequest {
            age: 5,
            ..Default::default()
        })
        .await;
        assert!(too_young.programmes.is_empty());

        api.exclude_provider(request(
            &mikhailovsky_operator(),
            pb::ExcludeProviderRequest {
                name: "providers/ddt".into(),
                reason: "нарушение лицензии".into(),
            },
        ))
        .await
        .expect("excluded");
        assert!(
            search(pb::SearchProgrammesRequest::default())
                .await
                .programmes
                .is_empty(),
            "an excluded provider's programmes leave the catalogue"
        );
    }

    /// Issue 11, defects 4 and 7: a price beyond any real one is refused naming the field,
    /// and certifying a programme the caller may not see answers exactly as a missing one.
    #[tokio::test]
    async fn issue_11_prices_are_bounded_and_a_hidden_programme_is_not_found_for_outsiders() {
        let fx = Fixture::new().await;
        let api = ProgrammesApi::new(fx.store.clone());
        api.create_provider(request(
            &mikhailovsky_operator(),
            pb::CreateProviderRequest {
                provider: Some(pb::Provider {
                    display_name: "Дом детского творчества".into(),
                    tax_id: "2256001234".into(),
                    region_code: "RU-ALT".into(),
                    municipality_code: "mikhailovsky".into(),
                    ..Default::default()
                }),
                provider_id: "ddt".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("included");
        let overflowing = api
            .create_programme(request(
                &provider_caller("ddt"),
                pb::CreateProgrammeRequest {
                    parent: "providers/ddt".into(),
                    programme: Some(pb::Programme {
                        title: "Дорогой кружок".into(),
                        direction: pb::Direction::Technical as i32,
                        min_age: 7,
                        max_age: 14,
                        seats: 15,
                        monthly_price_kopecks: 1 << 62,
                        ..Default::default()
                    }),
                    programme_id: "costly".into(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect_err("2^62 kopecks");
        assert_eq!(overflowing.code(), Code::InvalidArgument);
        assert_eq!(
            edu_kit::testing::bad_fields(&overflowing),
            ["programme.monthly_price_kopecks"]
        );
        described(&api, "ddt", "hidden", "Не сертифицирована", 10_000).await;
        let certify = |who: Caller, name: &str| {
            let api = &api;
            let name = name.to_string();
            async move {
                api.certify_programme(request(&who, pb::CertifyProgrammeRequest { name }))
                    .await
                    .expect_err("not theirs")
            }
        };
        for outsider in [parent("maria"), other_operator()] {
            let hidden = certify(outsider.clone(), "providers/ddt/programmes/hidden").await;
            let missing = certify(outsider, "providers/ddt/programmes/missing").await;
            assert_eq!(
                (hidden.code(), reason(&hidden)),
                (missing.code(), reason(&missing))
            );
            assert_eq!(hidden.code(), Code::NotFound);
        }
        let provider_itself =
            certify(provider_caller("ddt"), "providers/ddt/programmes/hidden").await;
        assert_eq!(
            provider_itself.code(),
            Code::PermissionDenied,
            "the provider sees its programme and may not certify it"
        );
    }
}

mod enrolments {
    use super::*;
    use edu_certificates::api::{EnrolmentsApi, ProgrammesApi};
    use edu_proto::edu::certificates::v1::enrolment_service_server::EnrolmentService;
    use edu_proto::edu::certificates::v1::programme_service_server::ProgrammeService;
    use futures::StreamExt;

    fn provider_caller(id: &str) -> Caller {
        caller(
            &format!("{id}-staff"),
            &["certificates.provider"],
            &[&format!("provider:{id}")],
        )
    }

    /// A funded certificate of Maria's child and a certified programme of "ddt" at 500 a
    /// month; returns the certificate's name.
    /// Maria's request (under the request id `ask`) to enrol `certificate` in the DDT's
    /// `programme` from 2 September 2024: the enrolment's name.
    async fn requested(api: &EnrolmentsApi, certificate: String, programme: &str) -> String {
        api.request_enrolment(request(
            &parent("maria"),
            pb::RequestEnrolmentRequest {
                enrolment: Some(pb::Enrolment {
                    certificate,
                    programme: format!("providers/ddt/programmes/{programme}"),
                    start_date: Some(wire::date(date(2024, 9, 2))),
                    ..Default::default()
                }),
                request_id: "ask".into(),
            },
        ))
        .await
        .expect("requested")
        .into_inner()
        .name
    }

    async fn world(fx: &Fixture) -> (Apis, String) {
        let apis = setup(fx).await;
        let child = register(&apis, "I-ТО 000005", "maria")
            .await
            .expect("child");
        let certificate = apis
            .certificates
            .issue_certificate(request(
                &mikhailovsky_operator(),
                pb::IssueCertificateRequest {
                    child: child.name,
                    request_id: String::new(),
                },
            ))
            .await
            .expect("issued")
            .into_inner();
        apis.periods
            .credit_period(request(
                &mikhailovsky_operator(),
                pb::CreditPeriodRequest {
                    name: "periods/mikhailovsky-2024".into(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("credited");
        let programmes = ProgrammesApi::new(fx.store.clone());
        programmes
            .create_provider(request(
                &mikhailovsky_operator(),
                pb::CreateProviderRequest {
                    provider: Some(pb::Provider {
                        display_name: "Дом детского творчества".into(),
                        tax_id: "2256001234".into(),
                        region_code: "RU-ALT".into(),
                        municipality_code: "mikhailovsky".into(),
                        ..Default::default()
                    }),
                    provider_id: "ddt".into(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("provider");
        programmes
            .create_programme(request(
                &provider_caller("ddt"),
                pb::CreateProgrammeRequest {
                    parent: "providers/ddt".into(),
                    programme: Some(pb::Programme {
                        title: "Робототехника".into(),
                        direction: pb::Direction::Technical as i32,
                        min_age: 7,
                        max_age: 14,
                        seats: 15,
                        monthly_price_kopecks: 50_000,
                        ..Default::default()
                    }),
                    programme_id: "robotics".into(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("programme");
        programmes
            .certify_programme(request(
                &mikhailovsky_operator(),
                pb::CertifyProgrammeRequest {
                    name: "providers/ddt/programmes/robotics".into(),
                },
            ))
            .await
            .expect("certified");
        (apis, certificate.name)
    }

    /// Another certified programme of the provider `ddt`, at `kopecks` a month (a price the
    /// period's nominal covers several times over, or free).
    async fn cheap_programme(fx: &Fixture, id: &str, kopecks: i64) {
        let programmes = ProgrammesApi::new(fx.store.clone());
        programmes
            .create_programme(request(
                &provider_caller("ddt"),
                pb::CreateProgrammeRequest {
                    parent: "providers/ddt".into(),
                    programme: Some(pb::Programme {
                        title: format!("Кружок {id}"),
                        direction: pb::Direction::Technical as i32,
                        min_age: 7,
                        max_age: 14,
                        seats: 15,
                        monthly_price_kopecks: kopecks,
                        ..Default::default()
                    }),
                    programme_id: id.into(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("programme");
        programmes
            .certify_programme(request(
                &mikhailovsky_operator(),
                pb::CertifyProgrammeRequest {
                    name: format!("providers/ddt/programmes/{id}"),
                },
            ))
            .await
            .expect("certified");
    }

    /// Issue 13: AcceptEnrolment checks its request id after locking the enrolment and
    /// stores it with the acceptance's own write. Repeats that race get the one answer and
    /// make one reservation; a retry later reads the stored answer; the id used again for
    /// another enrolment is refused and changes nothing, also when the two race.
    #[tokio::test]
    async fn an_acceptance_happens_once_per_request_id_and_a_reused_id_changes_nothing() {
        let fx = Fixture::new().await;
        let (apis, certificate) = world(&fx).await;
        cheap_programme(&fx, "chess", 100).await;
        cheap_programme(&fx, "drawing", 100).await;
        // Free, for the sister's certificate, which has no credit.
        cheap_programme(&fx, "music", 0).await;
        let sister = register(&apis, "I-ТО 000055", "maria")
            .await
            .expect("child");
        let sisters_certificate = apis
            .certificates
            .issue_certificate(request(
                &mikhailovsky_operator(),
                pb::IssueCertificateRequest {
                    child: sister.name,
                    request_id: String::new(),
                },
            ))
            .await
            .expect("issued")
            .into_inner()
            .name;
        let api = EnrolmentsApi::new(fx.store.clone());
        let mut requested = Vec::new();
        for (programme, certificate) in [
            ("chess", &certificate),
            ("drawing", &certificate),
            ("music", &sisters_certificate),
        ] {
            let enrolment = api
                .request_enrolment(request(
                    &parent("maria"),
                    pb::RequestEnrolmentRequest {
                        enrolment: Some(pb::Enrolment {
                            certificate: certificate.clone(),
                            programme: format!("providers/ddt/programmes/{programme}"),
                            start_date: Some(wire::date(date(2024, 9, 2))),
                            ..Default::default()
                        }),
                        request_id: format!("ask-{programme}"),
                    },
                ))
                .await
                .expect("requested")
                .into_inner();
            requested.push(enrolment.name);
        }
        let accept = |name: &str, request_id: &str| {
            api.accept_enrolment(request(
                &provider_caller("ddt"),
                pb::AcceptEnrolmentRequest {
                    name: name.into(),
                    request_id: request_id.into(),
                },
            ))
        };
        let reservations =
            || fx.scalar("SELECT count(*) FROM certificates.ledger WHERE kind = 'RESERVE'");

        let repeats =
            futures::future::join_all((0..8).map(|_| accept(&requested[0], "acc-1"))).await;
        let answers: Vec<pb::Enrolment> = repeats
            .into_iter()
            .map(|r| r.expect("the one answer").into_inner())
            .collect();
        assert_eq!(answers[0].state, pb::EnrolmentState::Accepted as i32);
        assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
        assert_eq!(reservations().await, 1, "one reservation for eight calls");
        assert_eq!(
            fx.scalar(
                "SELECT count(*) FROM certificates.audit_log WHERE action = 'enrolment.accepted'"
            )
            .await,
            1
        );
        let retry = accept(&requested[0], "acc-1").await.expect("replayed");
        assert_eq!(retry.into_inner(), answers[0], "the stored answer");

        let reused = accept(&requested[1], "acc-1")
            .await
            .expect_err("the id of another request");
        assert_eq!(reason(&reused), "REQUEST_ID_REUSED");
        assert_eq!(reservations().await, 1);

        // Two enrolments of different programmes and certificates under one new id at once:
        // no lock of the acceptance is shared, so they meet at the key's insert (the second
        // waits for the first's commit and is refused there), or the second finds the key
        // already stored. Either way one is accepted and the other changes nothing.
        let (drawing, music) = futures::join!(
            accept(&requested[1], "acc-2"),
            accept(&requested[2], "acc-2")
        );
        let outcomes = [&drawing, &music].map(|r| match r {
            Ok(_) => "accepted".to_string(),
            Err(status) => reason(status),
        });
        let mut sorted = outcomes.clone();
        sorted.sort();
        assert_eq!(sorted, ["REQUEST_ID_REUSED", "accepted"], "{outcomes:?}");
        let still_requested = if outcomes[0] == "accepted" {
            &requested[2]
        } else {
            &requested[1]
        };
        let refused_id = still_requested.trim_start_matches("enrolments/");
        let (reserved, state): (i64, String) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM certificates.ledger WHERE enrolment_id = e.id), e.state
             FROM certificates.enrolments e WHERE e.id = $1",
        )
        .bind(refused_id)
        .fetch_one(fx.store.pool())
        .await
        .expect("the refused enrolment");
        assert_eq!(
            (reserved, state.as_str()),
            (0, "REQUESTED"),
            "the refused one reserved nothing and is still requested"
        );

        // An enrolment accepted before, under a new id: the answer is the accepted enrolment,
        // and the id now belongs to that request.
        let again = accept(&requested[0], "acc-3")
            .await
            .expect("already accepted")
            .into_inner();
        assert_eq!(again.state, pb::EnrolmentState::Accepted as i32);
        let taken = accept(still_requested, "acc-3")
            .await
            .expect_err("the id answers the earlier request");
        assert_eq!(reason(&taken), "REQUEST_ID_REUSED");
    }

    /// The acceptance reads its request's key in the statement that locks, whose snapshot
    /// is taken before it waits. Two repeats that both wait for the programme's lock (held
    /// here from outside) start with a snapshot in which neither has committed: the second
    /// to get the locks finds the enrolment accepted and no key, and must read the key again
    /// rather than refuse its own request id as reused.
    #[tokio::test]
    async fn a_repeat_that_waited_for_the_first_answers_with_its_stored_response() {
        let fx = Fixture::new().await;
        let (_apis, certificate) = world(&fx).await;
        cheap_programme(&fx, "chess", 100).await;
        let api = EnrolmentsApi::new(fx.store.clone());
        let name = requested(&api, certificate, "chess").await;
        let accept = || {
            api.accept_enrolment(request(
                &provider_caller("ddt"),
                pb::AcceptEnrolmentRequest {
                    name: name.clone(),
                    request_id: "acc-waited".into(),
                },
            ))
        };

        let mut outside = fx.db.pool().begin().await.expect("outside transaction");
        sqlx::query(
            "SELECT 1 FROM certificates.programmes
             WHERE provider_id = 'ddt' AND id = 'chess' FOR UPDATE",
        )
        .execute(&mut *outside)
        .await
        .expect("the programme locked from outside");
        let repeats = futures::future::join(
            async {
                let (first, second) = futures::join!(accept(), accept());
                [first, second]
            },
            async {
                // Both acceptances are in their locking statement, waiting, before the lock
                // is let go: each polled until Postgres shows it, not slept on.
                let both_waiting = async {
                    let mut waiting = 0i64;
                    while waiting < 2 {
                        tokio::task::yield_now().await;
                        waiting = sqlx::query_scalar(
                            "SELECT count(*) FROM pg_stat_activity
                             WHERE datname = current_database() AND wait_event_type = 'Lock'
                               AND query LIKE '%AcceptEnrolment (hold)%'",
                        )
                        .fetch_one(fx.db.pool())
                        .await
                        .expect("waiting acceptances");
                    }
                };
                tokio::time::timeout(std::time::Duration::from_secs(30), both_waiting)
                    .await
                    .expect("both acceptances wait for the programme's lock");
                outside.rollback().await.expect("lock let go");
            },
        )
        .await
        .0;
        let answers: Vec<pb::Enrolment> = repeats
            .into_iter()
            .map(|r| r.expect("both answered with the acceptance").into_inner())
            .collect();
        assert_eq!(answers[0], answers[1], "one stored answer");
        assert_eq!(answers[0].state, pb::EnrolmentState::Accepted as i32);
        assert_eq!(
            fx.scalar("SELECT count(*) FROM certificates.ledger WHERE kind = 'RESERVE'")
                .await,
            1
        );
    }

    /// Issue 11, defects 3, 2 and 9: an enrolment listed twice in one report, an end date
    /// out of any calendar, and a list by someone with no role of the service.
    #[tokio::test]
    async fn issue_11_reports_list_each_enrolment_once_and_lists_refuse_strangers() {
        let fx = Fixture::new().await;
        let (_apis, certificate) = world(&fx).await;
        let api = EnrolmentsApi::new(fx.store.clone());
        let requested = api
            .request_enrolment(request(
                &parent("maria"),
                pb::RequestEnrolmentRequest {
                    enrolment: Some(pb::Enrolment {
                        certificate: certificate.clone(),
                        programme: "providers/ddt/programmes/robotics".into(),
                        start_date: Some(wire::date(date(2024, 9, 2))),
                        ..Default::default()
                    }),
                    request_id: "ask".into(),
                },
            ))
            .await
            .expect("requested")
            .into_inner();
        api.accept_enrolment(request(
            &provider_caller("ddt"),
            pb::AcceptEnrolmentRequest {
                name: requested.name.clone(),
                request_id: "accept".into(),
            },
        ))
        .await
        .expect("accepted");
        let twice = api
            .report_month(request(
                &provider_caller("ddt"),
                pb::ReportMonthRequest {
                    provider: "providers/ddt".into(),
                    month: Some(edu_proto::google::r#type::Date {
                        year: 2024,
                        month: 9,
                        day: 0,
                    }),
                    enrolments: vec![requested.name.clone(), requested.name.clone()],
                    request_id: "report".into(),
                },
            ))
            .await
            .expect_err("listed twice");
        assert_eq!(twice.code(), Code::InvalidArgument);
        assert_eq!(edu_kit::testing::bad_fields(&twice), ["enrolments[1]"]);
        let far_future = api
            .end_enrolment(request(
                &parent("maria"),
                pb::EndEnrolmentRequest {
                    name: requested.name.clone(),
                    end_date: Some(edu_proto::google::r#type::Date {
                        year: 9999,
                        month: 12,
                        day: 31,
                    }),
                    request_id: "end".into(),
                },
            ))
            .await
            .expect_err("9999-12-31");
        assert_eq!(edu_kit::testing::bad_fields(&far_future), ["end_date"]);
        let stranger = api
            .list_enrolments(request(
                &caller("someone", &["competitions.team"], &[]),
                pb::ListEnrolmentsRequest::default(),
            ))
            .await
            .expect_err("no role of the service");
        assert_eq!(
            (stranger.code(), reason(&stranger)),
            (Code::PermissionDenied, "ROLE_REQUIRED".to_string())
        );
        let elsewhere = api
            .list_enrolments(request(
                &other_operator(),
                pb::ListEnrolmentsRequest::default(),
            ))
            .await
            .expect("a role whose scopes cover nothing here")
            .into_inner();
        assert!(elsewhere.enrolments.is_empty());
    }

    #[tokio::test]
    async fn a_month_from_request_to_payable_with_each_role_in_its_place() {
        let fx = Fixture::new().await;
        let (_apis, certificate) = world(&fx).await;
        let api = EnrolmentsApi::new(fx.store.clone());
        let ask = |request_id: &str| {
            api.request_enrolment(request(
                &parent("maria"),
                pb::RequestEnrolmentRequest {
                    enrolment: Some(pb::Enrolment {
                        certificate: certificate.clone(),
                        programme: "providers/ddt/programmes/robotics".into(),
                        start_date: Some(wire::date(date(2024, 9, 2))),
                        ..Default::default()
                    }),
                    request_id: request_id.into(),
                },
            ))
        };
        let missing_id = ask("").await.expect_err("money calls need a request id");
        assert_eq!(edu_kit::testing::bad_fields(&missing_id), ["request_id"]);
        let requested = ask("ask-1").await.expect("requested").into_inner();
        let stranger = api
            .request_enrolment(request(
                &parent("someone"),
                pb::RequestEnrolmentRequest {
                    enrolment: Some(pb::Enrolment {
                        certificate: certificate.clone(),
                        programme: "providers/ddt/programmes/robotics".into(),
                        start_date: Some(wire::date(date(2024, 9, 2))),
                        ..Default::default()
                    }),
                    request_id: "ask-2".into(),
                },
            ))
            .await
            .expect_err("not her child");
        assert_eq!(stranger.code(), Code::NotFound);

        let accept = |who: Caller| {
            api.accept_enrolment(request(
                &who,
                pb::AcceptEnrolmentRequest {
                    name: requested.name.clone(),
                    request_id: "accept-1".into(),
                },
            ))
        };
        let by_parent = accept(parent("maria"))
            .await
            .expect_err("the provider accepts");
        assert_eq!(by_parent.code(), Code::PermissionDenied);
        let by_other = accept(provider_caller("other"))
            .await
            .expect_err("not its programme");
        assert_eq!(by_other.code(), Code::NotFound);
        let accepted = accept(provider_caller("ddt"))
            .await
            .expect("accepted")
            .into_inner();
        assert_eq!(accepted.state, pb::EnrolmentState::Accepted as i32);
        assert_eq!(
            accepted.reserved_kopecks,
            12 * 50_000,
            "September to August"
        );

        let rate = || {
            api.rate_enrolment(request(
                &parent("maria"),
                pb::RateEnrolmentRequest {
                    name: requested.name.clone(),
                    rating: 5,
                    comment: "Сыну очень нравится".into(),
                },
            ))
        };
        assert_eq!(
            reason(&rate().await.expect_err("not attended yet")),
            "NOT_ATTENDED"
        );

        api.report_month(request(
            &provider_caller("ddt"),
            pb::ReportMonthRequest {
                provider: "providers/ddt".into(),
                month: Some(wire::date(date(2024, 9, 1))),
                enrolments: vec![requested.name.clone()],
                request_id: "report-09".into(),
            },
        ))
        .await
        .expect("reported");
        let approve = |request_id: &str| {
            api.approve_month(request(
                &mikhailovsky_operator(),
                pb::ApproveMonthRequest {
                    report: "providers/ddt/months/2024-09".into(),
                    request_id: request_id.into(),
                },
            ))
        };
        let first = approve("approve-09").await.expect("approved").into_inner();
        assert_eq!((first.charged, first.payable_kopecks), (1, 50_000));
        let replay = approve("approve-09").await.expect("replayed").into_inner();
        assert_eq!(replay, first, "the same id returns the first result");
        let again = approve("approve-09-again")
            .await
            .expect("no-op")
            .into_inner();
        assert_eq!(
            (again.charged, again.payable_kopecks),
            (0, 50_000),
            "charged once"
        );

        rate().await.expect("rated");
        assert_eq!(reason(&rate().await.expect_err("once")), "ALREADY_RATED");

        let rows: Vec<pb::ExportPayablesResponse> = api
            .export_payables(request(
                &mikhailovsky_operator(),
                pb::ExportPayablesRequest {
                    region_code: "RU-ALT".into(),
                    municipality_code: "mikhailovsky".into(),
                    month: Some(wire::date(date(2024, 9, 1))),
                },
            ))
            .await
            .expect("export")
            .into_inner()
            .map(|r| r.expect("row"))
            .collect()
            .await;
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (
                rows[0].tax_id.as_str(),
                rows[0].enrolment_months,
                rows[0].amount_kopecks
            ),
            ("2256001234", 1, 50_000)
        );
        let foreign_export = api
            .export_payables(request(
                &other_operator(),
                pb::ExportPayablesRequest {
                    region_code: "RU-ALT".into(),
                    municipality_code: "mikhailovsky".into(),
                    month: Some(wire::date(date(2024, 9, 1))),
                },
            ))
            .await
            .err()
            .expect("not their municipality");
        assert_eq!(foreign_export.code(), Code::PermissionDenied);

        use edu_proto::edu::certificates::v1::report_service_server::ReportService;
        let reports = edu_certificates::api::ReportsApi::new(fx.store.clone());
        let budget = reports
            .get_budget_report(request(
                &mikhailovsky_operator(),
                pb::GetBudgetReportRequest {
                    period: "periods/mikhailovsky-2024".into(),
                },
            ))
            .await
            .expect("budget")
            .into_inner();
        let total = budget.total.expect("total");
        assert_eq!(
            (
                total.credited_kopecks,
                total.reserved_kopecks,
                total.charged_kopecks,
                total.released_kopecks
            ),
            (600_000, 550_000, 50_000, 0)
        );
        assert_eq!(budget.by_provider[0].group, "providers/ddt");
        // Issue 11, defect 6: all six directions, keyed and ordered by the Direction enum.
        let directions: Vec<i32> = budget.by_direction.iter().map(|r| r.direction).collect();
        assert_eq!(directions, [1, 2, 3, 4, 5, 6]);
        assert_eq!(budget.by_direction[0].group, "DIRECTION_TECHNICAL");
        assert_eq!(budget.by_direction[3].group, "DIRECTION_ARTISTIC");
        assert_eq!(budget.by_direction[0].charged_kopecks, 50_000);
        let coverage = reports
            .get_coverage_report(request(
                &mikhailovsky_operator(),
                pb::GetCoverageReportRequest {
                    period: "periods/mikhailovsky-2024".into(),
                },
            ))
            .await
            .expect("coverage")
            .into_inner();
        assert_eq!(
            (
                coverage.eligible_children,
                coverage.enrolled_children,
                coverage.coverage
            ),
            (1, 1, 1.0)
        );
        let parent_report = reports
            .get_budget_report(request(
                &parent("maria"),
                pb::GetBudgetReportRequest {
                    period: "periods/mikhailovsky-2024".into(),
                },
            ))
            .await
            .expect_err("the operator's");
        assert_eq!(parent_report.code(), Code::PermissionDenied);
    }

    #[tokio::test]
    async fn rule_1_a_suspended_certificate_enrols_nowhere_and_closing_releases_everything() {
        let fx = Fixture::new().await;
        let (apis, certificate) = world(&fx).await;
        let api = EnrolmentsApi::new(fx.store.clone());
        let move_to = |to: &'static str| {
            let apis = &apis;
            let name = certificate.clone();
            async move {
                let operator = mikhailovsky_operator();
                match to {
                    "suspend" => {
                        apis.certificates
                            .suspend_certificate(request(
                                &operator,
                                pb::SuspendCertificateRequest {
                                    name,
                                    reason: "проверка документов".into(),
                                    etag: String::new(),
                                },
                            ))
                            .await
                    }
                    "resume" => {
                        apis.certificates
                            .resume_certificate(request(
                                &operator,
                                pb::ResumeCertificateRequest {
                                    name,
                                    etag: String::new(),
                                },
                            ))
                            .await
                    }
                    _ => {
                        apis.certificates
                            .close_certificate(request(
                                &operator,
                                pb::CloseCertificateRequest {
                                    name,
                                    reason: "семья переехала".into(),
                                    etag: String::new(),
                                },
                            ))
                            .await
                    }
                }
            }
        };
        let ask = |request_id: &'static str| {
            api.request_enrolment(request(
                &parent("maria"),
                pb::RequestEnrolmentRequest {
                    enrolment: Some(pb::Enrolment {
                        certificate: certificate.clone(),
                        programme: "providers/ddt/programmes/robotics".into(),
                        start_date: Some(wire::date(date(2024, 9, 2))),
                        ..Default::default()
                    }),
                    request_id: request_id.into(),
                },
            ))
        };
        move_to("suspend").await.expect("suspended");
        assert_eq!(
            reason(&ask("while-suspended").await.expect_err("suspended")),
            "CERTIFICATE_NOT_ACTIVE"
        );
        move_to("resume").await.expect("resumed");
        let requested = ask("after-resume").await.expect("requested").into_inner();
        api.accept_enrolment(request(
            &provider_caller("ddt"),
            pb::AcceptEnrolmentRequest {
                name: requested.name.clone(),
                request_id: "accept".into(),
            },
        ))
        .await
        .expect("accepted");

        let closed = move_to("close").await.expect("closed").into_inner();
        assert_eq!(closed.state, pb::CertificateState::Closed as i32);
        let balance = closed.balance.expect("balance");
        assert_eq!(
            (balance.reserved_kopecks, balance.available_kopecks),
            (50_000, 550_000),
            "September, delivered or not, stays reserved until reported; the rest is released"
        );
        let ended = api
            .get_enrolment(request(
                &parent("maria"),
                pb::GetEnrolmentRequest {
                    name: requested.name,
                },
            ))
            .await
            .expect("read")
            .into_inner();
        assert_eq!(ended.state, pb::EnrolmentState::Ended as i32);
        assert_eq!(
            reason(&move_to("resume").await.expect_err("closed for good")),
            "TRANSITION_NOT_ALLOWED"
        );
    }

    /// Issue 17: the region summary the gateway composes, per municipality and in total.
    mod region_summary {
        use super::*;
        use edu_certificates::api::ReportsApi;
        use edu_proto::edu::certificates::v1::report_service_server::ReportService;
        use prost::Message;

        fn region_operator(region: &str) -> Caller {
            caller(
                &format!("operator-{region}"),
                &["certificates.operator"],
                &[&format!("region:{region}")],
            )
        }

        fn saratov_operator() -> Caller {
            caller(
                "moc-saratov",
                &["certificates.operator"],
                &["municipality:RU-SAR/saratov"],
            )
        }

        async fn summary(
            fx: &Fixture,
            who: &Caller,
            region: &str,
        ) -> Result<pb::RegionSummary, Status> {
            ReportsApi::new(fx.store.clone())
                .get_region_summary(request(
                    who,
                    pb::GetRegionSummaryRequest {
                        region_code: region.into(),
                    },
                ))
                .await
                .map(tonic::Response::into_inner)
        }

        async fn issue(apis: &Apis, who: &Caller, child: &pb::Child) -> String {
            apis.certificates
                .issue_certificate(request(
                    who,
                    pb::IssueCertificateRequest {
                        child: child.name.clone(),
                        request_id: String::new(),
                    },
                ))
                .await
                .expect("issued")
                .into_inner()
                .name
        }

        /// A period of another municipality, created by `who`.
        async fn other_period(apis: &Apis, who: &Caller, period: pb::Period, id: &str) {
            apis.periods
                .create_period(request(
                    who,
                    pb::CreatePeriodRequest {
                        period: Some(period),
                        period_id: id.into(),
                        request_id: String::new(),
                    },
                ))
                .await
                .expect("period");
        }

        async fn credit(apis: &Apis, who: &Caller, period: &str) {
            apis.periods
                .credit_period(request(
                    who,
                    pb::CreditPeriodRequest {
                        name: period.into(),
                        request_id: String::new(),
                    },
                ))
                .await
                .expect("credited");
        }

        /// Mikhailovsky in 2024/25: Maria's son, funded, enrolled at 500 a month with
        /// September charged; his sister's certificate, suspended; a third child's,
        /// closed; a fourth child registered without one; and the district's past period,
        /// credited. Rubtsovsk (RU-ALT too) has a period and an uncredited certificate;
        /// Saratov (RU-SAR) a period and a credited certificate.
        async fn scene(fx: &Fixture) {
            let (apis, certificate) = world(fx).await;
            let api = EnrolmentsApi::new(fx.store.clone());
            let enrolment = requested(&api, certificate, "robotics").await;
            api.accept_enrolment(request(
                &provider_caller("ddt"),
                pb::AcceptEnrolmentRequest {
                    name: enrolment.clone(),
                    request_id: "accept".into(),
                },
            ))
            .await
            .expect("accepted");
            api.report_month(request(
                &provider_caller("ddt"),
                pb::ReportMonthRequest {
                    provider: "providers/ddt".into(),
                    month: Some(wire::date(date(2024, 9, 1))),
                    enrolments: vec![enrolment],
                    request_id: "report".into(),
                },
            ))
            .await
            .expect("reported");
            api.approve_month(request(
                &mikhailovsky_operator(),
                pb::ApproveMonthRequest {
                    report: "providers/ddt/months/2024-09".into(),
                    request_id: "approve".into(),
                },
            ))
            .await
            .expect("approved");

            let operator = mikhailovsky_operator();
            let sister = register(&apis, "I-ТО 000006", "maria")
                .await
                .expect("child");
            let sisters = issue(&apis, &operator, &sister).await;
            apis.certificates
                .suspend_certificate(request(
                    &operator,
                    pb::SuspendCertificateRequest {
                        name: sisters,
                        reason: "проверка документов".into(),
                        etag: String::new(),
                    },
                ))
                .await
                .expect("suspended");
            let third = register(&apis, "I-ТО 000007", "olga").await.expect("child");
            let thirds = issue(&apis, &operator, &third).await;
            apis.certificates
                .close_certificate(request(
                    &operator,
                    pb::CloseCertificateRequest {
                        name: thirds,
                        reason: "семья переехала".into(),
                        etag: String::new(),
                    },
                ))
                .await
                .expect("closed");
            register(&apis, "I-ТО 000008", "irina")
                .await
                .expect("a child without a certificate");
            other_period(
                &apis,
                &operator,
                pb::Period {
                    municipality_name: "Михайловский муниципальный район".into(),
                    start_date: Some(wire::date(date(2023, 9, 1))),
                    end_date: Some(wire::date(date(2024, 8, 31))),
                    nominal_kopecks: 400_000,
                    ..period_body()
                },
                "mikhailovsky-2023",
            )
            .await;
            credit(&apis, &operator, "periods/mikhailovsky-2023").await;

            let rubtsovsk = other_operator();
            other_period(
                &apis,
                &rubtsovsk,
                pb::Period {
                    municipality_code: "rubtsovsk".into(),
                    municipality_name: "Рубцовский район".into(),
                    ..period_body()
                },
                "rubtsovsk-2024",
            )
            .await;
            let child = apis
                .certificates
                .create_child(request(
                    &rubtsovsk,
                    pb::CreateChildRequest {
                        child: Some(pb::Child {
                            municipality_code: "rubtsovsk".into(),
                            ..child_body("I-ТО 000009", "olga")
                        }),
                        request_id: String::new(),
                    },
                ))
                .await
                .expect("child")
                .into_inner();
            issue(&apis, &rubtsovsk, &child).await;

            let saratov = saratov_operator();
            other_period(
                &apis,
                &saratov,
                pb::Period {
                    region_code: "RU-SAR".into(),
                    municipality_code: "saratov".into(),
                    municipality_name: "Саратов".into(),
                    time_zone: "Europe/Saratov".into(),
                    ..period_body()
                },
                "saratov-2024",
            )
            .await;
            let child = apis
                .certificates
                .create_child(request(
                    &saratov,
                    pb::CreateChildRequest {
                        child: Some(pb::Child {
                            region_code: "RU-SAR".into(),
                            municipality_code: "saratov".into(),
                            ..child_body("I-ТО 000010", "svetlana")
                        }),
                        request_id: String::new(),
                    },
                ))
                .await
                .expect("child")
                .into_inner();
            issue(&apis, &saratov, &child).await;
            credit(&apis, &saratov, "periods/saratov-2024").await;
        }

        /// (code, name, period, active, children, credited, reserved, charged).
        type Row = (String, String, String, i32, i32, i64, i64, i64);

        fn rows(summary: &pb::RegionSummary) -> Vec<Row> {
            summary
                .municipalities
                .iter()
                .map(|m| {
                    (
                        m.municipality_code.clone(),
                        m.municipality_name.clone(),
                        m.period.clone(),
                        m.active_certificates,
                        m.children_with_certificate,
                        m.credited_kopecks,
                        m.reserved_kopecks,
                        m.charged_kopecks,
                    )
                })
                .collect()
        }

        fn totals(summary: &pb::RegionSummary) -> (i32, i32, i64, i64, i64) {
            (
                summary.active_certificates,
                summary.children_with_certificate,
                summary.credited_kopecks,
                summary.reserved_kopecks,
                summary.charged_kopecks,
            )
        }

        fn row(code: &str, name: &str, counts: (i32, i32), money: (i64, i64, i64)) -> Row {
            (
                code.into(),
                name.into(),
                format!("periods/{code}-2024"),
                counts.0,
                counts.1,
                money.0,
                money.1,
                money.2,
            )
        }

        /// Counts only: the encoded answer holds no name, document or ID of a child or
        /// parent of the scene.
        fn names_nobody(summary: &pb::RegionSummary) {
            let bytes = summary.encode_to_vec();
            for personal in [
                "Иванов",
                "Иванова Мария",
                "I-ТО",
                "maria",
                "olga",
                "children/",
            ] {
                let needle = personal.as_bytes();
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{personal} in the summary"
                );
            }
        }

        #[tokio::test]
        async fn counts_each_municipality_in_its_current_period_and_nothing_else() {
            let fx = Fixture::new().await;
            scene(&fx).await;

            let region = summary(&fx, &region_operator("RU-ALT"), "RU-ALT")
                .await
                .expect("the region's operator");
            names_nobody(&region);
            assert_eq!(region.region_code, "RU-ALT");
            assert_eq!(region.read_time, Some(wire::timestamp(at_start())));
            // Mikhailovsky: one ACTIVE certificate (the suspended and closed ones are not),
            // two children holding one (the suspended one's too), and the 2024 period's
            // money: three credits of 6 000 ₽ (the closed certificate's stays in the
            // budget), 12 months reserved less September charged; the 2023 period's credit
            // and the child without a certificate are not counted, and the name is the
            // latest period's. Rubtsovsk: its certificate, nothing credited. Saratov is
            // another region's.
            let mikhailovsky = row(
                "mikhailovsky",
                "Михайловский район",
                (1, 2),
                (1_800_000, 550_000, 50_000),
            );
            let rubtsovsk = row("rubtsovsk", "Рубцовский район", (1, 1), (0, 0, 0));
            assert_eq!(rows(&region), [mikhailovsky.clone(), rubtsovsk.clone()]);
            assert_eq!(totals(&region), (2, 3, 1_800_000, 550_000, 50_000));

            // The money is the current period's budget, as GetBudgetReport reads it.
            let budget = ReportsApi::new(fx.store.clone())
                .get_budget_report(request(
                    &mikhailovsky_operator(),
                    pb::GetBudgetReportRequest {
                        period: "periods/mikhailovsky-2024".into(),
                    },
                ))
                .await
                .expect("budget")
                .into_inner()
                .total
                .expect("total");
            let entry = &region.municipalities[0];
            assert_eq!(
                (
                    entry.credited_kopecks,
                    entry.reserved_kopecks,
                    entry.charged_kopecks
                ),
                (
                    budget.credited_kopecks,
                    budget.reserved_kopecks,
                    budget.charged_kopecks
                )
            );

            // An operator of some municipalities reads those only, totals included.
            let own = summary(&fx, &mikhailovsky_operator(), "ru-alt")
                .await
                .expect("the municipality's operator");
            assert_eq!(own.region_code, "RU-ALT");
            assert_eq!(rows(&own), [mikhailovsky]);
            assert_eq!(totals(&own), (1, 2, 1_800_000, 550_000, 50_000));
            let two_regions = caller(
                "moc-two",
                &["certificates.operator"],
                &[
                    "municipality:RU-ALT/rubtsovsk",
                    "municipality:RU-SAR/saratov",
                ],
            );
            let theirs = summary(&fx, &two_regions, "RU-ALT")
                .await
                .expect("one municipality of the region");
            assert_eq!(rows(&theirs), [rubtsovsk]);
            assert_eq!(totals(&theirs), (1, 1, 0, 0, 0));

            let saratov = summary(&fx, &saratov_operator(), "RU-SAR")
                .await
                .expect("Saratov's operator");
            names_nobody(&saratov);
            assert_eq!(
                rows(&saratov),
                [row("saratov", "Саратов", (1, 1), (600_000, 0, 0))]
            );
        }

        #[tokio::test]
        async fn a_region_with_nothing_is_empty_and_refusals_follow_the_common_rules() {
            let fx = Fixture::new().await;
            let _apis = setup(&fx).await;

            // Another country's region, well formed, in the caller's scope: an empty
            // summary, not an error.
            let empty = summary(&fx, &region_operator("KZ-75"), "kz-75")
                .await
                .expect("nothing there");
            assert_eq!(empty.region_code, "KZ-75");
            assert!(empty.municipalities.is_empty());
            assert_eq!(totals(&empty), (0, 0, 0, 0, 0));
            assert_eq!(empty.read_time, Some(wire::timestamp(at_start())));

            let operator = mikhailovsky_operator();
            for malformed in ["", "Altai", "RU-ALTAI", "RU_ALT"] {
                let refused = summary(&fx, &operator, malformed)
                    .await
                    .expect_err("not ISO 3166-2");
                assert_eq!(
                    (refused.code(), reason(&refused)),
                    (Code::InvalidArgument, "INVALID_FIELDS".to_string()),
                    "{malformed:?}"
                );
                assert_eq!(edu_kit::testing::bad_fields(&refused), ["region_code"]);
            }
            for outside in ["RU-SAR", "KZ-75"] {
                let refused = summary(&fx, &operator, outside)
                    .await
                    .expect_err("outside the scope");
                assert_eq!(
                    (refused.code(), reason(&refused)),
                    (Code::NotFound, "NOT_FOUND".to_string()),
                    "{outside}"
                );
            }
            let scopeless = caller("moc-none", &["certificates.operator"], &[]);
            let refused = summary(&fx, &scopeless, "RU-ALT")
                .await
                .expect_err("no scope");
            assert_eq!(refused.code(), Code::NotFound);

            // No role that may read a summary: refused before the code is read.
            for (who, code) in [
                (parent("maria"), "RU-ALT"),
                (provider_caller("ddt"), "RU-ALT"),
                (
                    caller("x", &["aid.regional_staff"], &["region:RU-ALT"]),
                    "RU-ALT",
                ),
                (caller("x", &[], &["region:RU-ALT"]), "not a code"),
            ] {
                let refused = summary(&fx, &who, code).await.expect_err("no role");
                assert_eq!(
                    (refused.code(), reason(&refused)),
                    (Code::PermissionDenied, "ROLE_REQUIRED".to_string())
                );
            }
        }
    }
}

/// Issue 11, defects 2 and 4: dates out of any sane calendar and overlapping periods are
/// refused at the edge, naming the field or the other period.
#[tokio::test]
async fn issue_11_periods_take_sane_dates_and_never_overlap() {
    let fx = Fixture::new().await;
    let apis = setup(&fx).await;
    let create = |start: (i32, i32, i32), end: (i32, i32, i32), id: &str| {
        let apis = &apis;
        let id = id.to_string();
        async move {
            apis.periods
                .create_period(request(
                    &mikhailovsky_operator(),
                    pb::CreatePeriodRequest {
                        period: Some(pb::Period {
                            start_date: Some(edu_proto::google::r#type::Date {
                                year: start.0,
                                month: start.1,
                                day: start.2,
                            }),
                            end_date: Some(edu_proto::google::r#type::Date {
                                year: end.0,
                                month: end.1,
                                day: end.2,
                            }),
                            ..period_body()
                        }),
                        period_id: id,
                        request_id: String::new(),
                    },
                ))
                .await
        }
    };
    let ancient = create((1, 1, 1), (2031, 8, 31), "ancient")
        .await
        .expect_err("0001-01-01");
    assert_eq!(ancient.code(), Code::InvalidArgument);
    assert_eq!(
        edu_kit::testing::bad_fields(&ancient),
        ["period.start_date"]
    );
    let inside = create((2025, 3, 1), (2026, 2, 28), "inside")
        .await
        .expect_err("inside the school year");
    assert_eq!(inside.code(), Code::FailedPrecondition);
    assert_eq!(reason(&inside), "PERIOD_OVERLAPS");
    assert_eq!(
        edu_kit::testing::error_metadata(&inside, "period").as_deref(),
        Some("periods/mikhailovsky-2024")
    );
    create((2025, 9, 1), (2026, 8, 31), "next-year")
        .await
        .expect("the next school year");
}
