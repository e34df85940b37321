//! The source document's programme as demo data: the Mikhailovsky district of Altai Krai
//! (`RU-ALT`, `Asia/Barnaul`), school year 2024/25, with clearly fictional providers,
//! programmes in all six directions, children with certificates, enrolments, and September
//! delivered, approved and charged.
//!
//! Loaded through the public API as its people would, at the instants of that school year
//! (the development clock header, accepted only by a suite in development mode), with their
//! development tokens. The period has a fixed ID: a second load finds it and changes nothing.

use tonic::transport::Channel;
use tonic::{Code, Status};

use edu_kit::auth::dev::DevToken;
use edu_kit::client::{at_instant, with_bearer};
use edu_kit::wire;
use edu_proto::edu::certificates::v1 as pb;
use edu_proto::edu::certificates::v1::certificate_service_client::CertificateServiceClient;
use edu_proto::edu::certificates::v1::enrolment_service_client::EnrolmentServiceClient;
use edu_proto::edu::certificates::v1::period_service_client::PeriodServiceClient;
use edu_proto::edu::certificates::v1::programme_service_client::ProgrammeServiceClient;
use jiff::civil::date;

/// The period's ID.
pub const PERIOD_ID: &str = "mikhailovsky-2024-2025";
/// The region.
pub const REGION: &str = "RU-ALT";
/// The municipality.
pub const MUNICIPALITY: &str = "mikhailovsky";

/// Fictional providers: (ID, name, ИНН).
const PROVIDERS: [(&str, &str, &str); 3] = [
    ("demo-ddt", "Дом детского творчества (демо)", "2256000001"),
    (
        "demo-sport",
        "Детско-юношеская спортивная школа (демо)",
        "2256000002",
    ),
    ("demo-centre", "Центр «Открытия» (демо)", "2256000003"),
];

/// Programmes: (provider, ID, title, direction, seats, monthly price in roubles).
const PROGRAMMES: [(&str, &str, &str, pb::Direction, i32, i64); 7] = [
    (
        "demo-ddt",
        "robotics",
        "Робототехника для начинающих",
        pb::Direction::Technical,
        12,
        500,
    ),
    (
        "demo-ddt",
        "young-naturalist",
        "Юный натуралист",
        pb::Direction::NaturalScience,
        15,
        300,
    ),
    (
        "demo-sport",
        "football",
        "Футбол",
        pb::Direction::PhysicalCultureAndSports,
        20,
        400,
    ),
    (
        "demo-ddt",
        "choir",
        "Детский хор",
        pb::Direction::Artistic,
        25,
        0,
    ),
    (
        "demo-centre",
        "local-history",
        "Краеведческий клуб «Кулунда»",
        pb::Direction::TourismAndLocalHistory,
        15,
        350,
    ),
    (
        "demo-centre",
        "volunteers",
        "Школа волонтёров",
        pb::Direction::SocialHumanitarian,
        20,
        250,
    ),
    (
        "demo-sport",
        "chess",
        "Шахматы",
        pb::Direction::PhysicalCultureAndSports,
        10,
        300,
    ),
];

/// Fictional children: (name, document, birth year, the programmes they enrol in).
const CHILDREN: [(&str, &str, i16, &[&str]); 6] = [
    (
        "Алексей Демонстрационный",
        "I-ТО 100001",
        2013,
        &["robotics", "chess"],
    ),
    (
        "Мария Примерова",
        "I-ТО 100002",
        2015,
        &["choir", "young-naturalist"],
    ),
    ("Иван Образцов", "I-ТО 100003", 2012, &["football"]),
    ("Софья Тестова", "I-ТО 100004", 2016, &["choir"]),
    (
        "Дмитрий Вымышленный",
        "I-ТО 100005",
        2010,
        &["local-history", "volunteers"],
    ),
    ("Анна Пробная", "I-ТО 100006", 2014, &["robotics"]),
];

const START: &str = "2024-09-02T10:00:00+07:00";
const OCTOBER: &str = "2024-10-03T10:00:00+07:00";

fn call<T>(body: T, token: &str, instant: &str) -> tonic::Request<T> {
    at_instant(with_bearer(tonic::Request::new(body), token), instant)
}

fn operator() -> String {
    DevToken::new("demo-moc")
        .role("certificates.operator")
        .scope(format!("municipality:{REGION}/{MUNICIPALITY}"))
        .name("Муниципальный опорный центр (демо)")
        .sign()
}

fn provider(id: &str) -> String {
    DevToken::new(format!("{id}-staff"))
        .role("certificates.provider")
        .scope(format!("provider:{id}"))
        .sign()
}

/// A parent's development token: the parent of the demo child `n`.
pub fn parent(n: usize) -> String {
    DevToken::new(format!("demo-parent-{n}"))
        .role("certificates.parent")
        .sign()
}

/// Loads the demo unless its period exists; returns the period's name.
pub async fn load(channel: Channel) -> Result<String, Status> {
    let operator = operator();
    let name = format!("periods/{PERIOD_ID}");
    let mut periods = PeriodServiceClient::new(channel.clone());
    let created = periods
        .create_period(call(
            pb::CreatePeriodRequest {
                period: Some(pb::Period {
                    region_code: REGION.into(),
                    municipality_code: MUNICIPALITY.into(),
                    municipality_name: "Михайловский район".into(),
                    time_zone: "Asia/Barnaul".into(),
                    start_date: Some(wire::date(date(2024, 9, 1))),
                    end_date: Some(wire::date(date(2025, 8, 31))),
                    nominal_kopecks: 1_200_000,
                    quota: 5,
                    min_age: 5,
                    max_age: 18,
                    currency: "RUB".into(),
                    ..Default::default()
                }),
                period_id: PERIOD_ID.into(),
                request_id: String::new(),
            },
            &operator,
            START,
        ))
        .await;
    match created {
        Ok(_) => {}
        Err(status) if status.code() == Code::AlreadyExists => return Ok(name),
        Err(status) => return Err(status),
    }

    let mut registry = ProgrammeServiceClient::new(channel.clone());
    for (id, display_name, tax_id) in PROVIDERS {
        registry
            .create_provider(call(
                pb::CreateProviderRequest {
                    provider: Some(pb::Provider {
                        display_name: display_name.into(),
                        tax_id: tax_id.into(),
                        region_code: REGION.into(),
                        municipality_code: MUNICIPALITY.into(),
                        ..Default::default()
                    }),
                    provider_id: id.into(),
                    request_id: format!("demo-{id}"),
                },
                &operator,
                START,
            ))
            .await?;
    }
    for (provider_id, id, title, direction, seats, price) in PROGRAMMES {
        registry
            .create_programme(call(
                pb::CreateProgrammeRequest {
                    parent: format!("providers/{provider_id}"),
                    programme: Some(pb::Programme {
                        title: title.into(),
                        description: format!("{title}: занятия два раза в неделю (демо)."),
                        direction: direction as i32,
                        min_age: 6,
                        max_age: 17,
                        seats,
                        schedule: "вт, чт 16:00–17:30".into(),
                        monthly_price_kopecks: price * 100,
                        ..Default::default()
                    }),
                    programme_id: id.into(),
                    request_id: format!("demo-{provider_id}-{id}"),
                },
                &provider(provider_id),
                START,
            ))
            .await?;
        registry
            .certify_programme(call(
                pb::CertifyProgrammeRequest {
                    name: format!("providers/{provider_id}/programmes/{id}"),
                },
                &operator,
                START,
            ))
            .await?;
    }

    let mut register = CertificateServiceClient::new(channel.clone());
    let mut certificates = Vec::new();
    for (n, (display_name, document, birth_year, _)) in CHILDREN.iter().enumerate() {
        let child = register
            .create_child(call(
                pb::CreateChildRequest {
                    child: Some(pb::Child {
                        display_name: (*display_name).into(),
                        identity_document: (*document).into(),
                        birth_date: Some(wire::date(date(*birth_year, 4, 15))),
                        region_code: REGION.into(),
                        municipality_code: MUNICIPALITY.into(),
                        consent: Some(pb::Consent {
                            parent_subject: format!("demo-parent-{n}"),
                            parent_name: format!("Родитель {n} (демо)"),
                            give_time: Some(wire::timestamp(
                                START.parse().map_err(|_| Status::internal("instant"))?,
                            )),
                        }),
                        ..Default::default()
                    }),
                    request_id: format!("demo-child-{n}"),
                },
                &operator,
                START,
            ))
            .await?
            .into_inner();
        let certificate = register
            .issue_certificate(call(
                pb::IssueCertificateRequest {
                    child: child.name,
                    request_id: format!("demo-certificate-{n}"),
                },
                &operator,
                START,
            ))
            .await?
            .into_inner();
        certificates.push(certificate.name);
    }
    periods
        .credit_period(call(
            pb::CreditPeriodRequest {
                name: name.clone(),
                request_id: "demo-credit".into(),
            },
            &operator,
            START,
        ))
        .await?;

    let mut enrolments = EnrolmentServiceClient::new(channel);
    let mut september: Vec<(String, String)> = Vec::new();
    for (n, (_, _, _, wanted)) in CHILDREN.iter().enumerate() {
        for programme_id in *wanted {
            let (provider_id, ..) = PROGRAMMES
                .iter()
                .find(|p| p.1 == *programme_id)
                .ok_or_else(|| Status::internal("demo programme"))?;
            let requested = enrolments
                .request_enrolment(call(
                    pb::RequestEnrolmentRequest {
                        enrolment: Some(pb::Enrolment {
                            certificate: certificates[n].clone(),
                            programme: format!("providers/{provider_id}/programmes/{programme_id}"),
                            start_date: Some(wire::date(date(2024, 9, 2))),
                            ..Default::default()
                        }),
                        request_id: format!("demo-request-{n}-{programme_id}"),
                    },
                    &parent(n),
                    START,
                ))
                .await?
                .into_inner();
            // Beyond the quota a paid programme is refused: the demo shows that too.
            let accepted = enrolments
                .accept_enrolment(call(
                    pb::AcceptEnrolmentRequest {
                        name: requested.name.clone(),
                        request_id: format!("demo-accept-{n}-{programme_id}"),
                    },
                    &provider(provider_id),
                    START,
                ))
                .await;
            match accepted {
                Ok(_) => september.push((provider_id.to_string(), requested.name)),
                Err(status) if status.code() == Code::FailedPrecondition => {}
                Err(status) => return Err(status),
            }
        }
    }
    for (provider_id, ..) in PROVIDERS {
        let delivered: Vec<String> = september
            .iter()
            .filter(|(p, _)| p == provider_id)
            .map(|(_, e)| e.clone())
            .collect();
        if delivered.is_empty() {
            continue;
        }
        let report = enrolments
            .report_month(call(
                pb::ReportMonthRequest {
                    provider: format!("providers/{provider_id}"),
                    month: Some(wire::date(date(2024, 9, 1))),
                    enrolments: delivered,
                    request_id: format!("demo-report-{provider_id}-2024-09"),
                },
                &provider(provider_id),
                OCTOBER,
            ))
            .await?
            .into_inner();
        enrolments
            .approve_month(call(
                pb::ApproveMonthRequest {
                    report: report.report,
                    request_id: format!("demo-approve-{provider_id}-2024-09"),
                },
                &operator,
                OCTOBER,
            ))
            .await?;
    }
    Ok(name)
}

/// The `demo` subcommand: [`load`], and what it loaded, for the developer.
pub async fn describe(channel: Channel) -> Result<Vec<String>, Status> {
    let period = load(channel).await?;
    Ok(vec![format!(
        "{period}, the Mikhailovsky district's school year 2024/25, with providers, \
         programmes in six directions, certificates and September charged"
    )])
}
