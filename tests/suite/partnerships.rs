//! The partnerships service through the gateway, end to end (issue 14): the ministry opens
//! the year, schools apply and declare interest, the contracts are signed and the group of
//! four forms, the ministry approves it, the hosts plan their visits and file the annexes,
//! and the progress figures and the event stream say so. The calls carry the development
//! clock header, as a suite in development mode accepts, to live through the 2023/2024 year.

use std::time::Duration;

use edu_kit::auth::dev::DevToken;
use edu_partnerships::demo::{ministry, school};
use edu_proto::edu::partnerships::v1 as pb;
use edu_proto::edu::partnerships::v1::application_service_client::ApplicationServiceClient;
use edu_proto::edu::partnerships::v1::contract_service_client::ContractServiceClient;
use edu_proto::edu::partnerships::v1::event_service_client::EventServiceClient;
use edu_proto::edu::partnerships::v1::group_service_client::GroupServiceClient;
use edu_proto::edu::partnerships::v1::programme_year_service_client::ProgrammeYearServiceClient;
use edu_proto::edu::partnerships::v1::progress_service_client::ProgressServiceClient;
use edu_proto::edu::partnerships::v1::school_service_client::SchoolServiceClient;
use edu_proto::google::r#type::Date;
use futures::StreamExt;

use crate::harness::*;

const YEAR: &str = "years/2023-2024";
const SETUP: &str = "2023-08-01T10:00:00+03:00";
const WINDOW: &str = "2023-09-20T10:00:00+03:00";
const PLANNING: &str = "2023-11-06T10:00:00+02:00";

fn call<T>(token: &str, instant: &str, body: T) -> tonic::Request<T> {
    at_instant(authorised(token, body), instant)
}

/// (ID, region, innovative)
const SCHOOLS: [(&str, &str, bool); 4] = [
    ("e2e-ruse", "BG-18", true),
    ("e2e-sliven", "BG-20", true),
    ("e2e-ruse-partner", "BG-18", false),
    ("e2e-sliven-partner", "BG-20", false),
];

#[tokio::test]
async fn a_year_goes_from_applications_to_annexes_and_progress_through_the_gateway() {
    let suite = TestSuite::start().await;
    let channel = suite.gateway().await;
    let ministry = ministry();
    let consumer = DevToken::new("e2e-partnerships-events")
        .role("partnerships.event_consumer")
        .sign();
    let mut events = EventServiceClient::new(channel.clone())
        .watch_events(authorised(&consumer, pb::WatchEventsRequest::default()))
        .await
        .expect("the event stream")
        .into_inner();

    ProgrammeYearServiceClient::new(channel.clone())
        .create_programme_year(call(
            &ministry,
            SETUP,
            pb::CreateProgrammeYearRequest {
                programme_year: Some(edu_partnerships::demo::year()),
                programme_year_id: "2023-2024".into(),
                request_id: "e2e-year".into(),
            },
        ))
        .await
        .expect("the year");
    let mut schools = SchoolServiceClient::new(channel.clone());
    for (i, (id, region, innovative)) in SCHOOLS.into_iter().enumerate() {
        schools
            .create_school(call(
                &ministry,
                SETUP,
                pb::CreateSchoolRequest {
                    school: Some(pb::School {
                        display_name: format!("Училище {id} (тест)"),
                        neispuo_code: format!("{:07}", 1_800_000 + i),
                        region_code: region.into(),
                        municipality_code: "X".into(),
                        municipality_name: "Община".into(),
                        official_email: format!("{id}@edu.mon.bg"),
                        ..Default::default()
                    }),
                    school_id: id.into(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("a school");
        if innovative {
            schools
                .add_school_to_innovative_list(call(
                    &ministry,
                    SETUP,
                    pb::AddSchoolToInnovativeListRequest {
                        name: format!("schools/{id}"),
                        basis: "РМС (тест)".into(),
                        etag: String::new(),
                    },
                ))
                .await
                .expect("listed");
            schools
                .create_innovation(call(
                    &ministry,
                    SETUP,
                    pb::CreateInnovationRequest {
                        parent: format!("schools/{id}"),
                        innovation: Some(pb::Innovation {
                            area: pb::InnovationArea::LearningEnvironment as i32,
                            title: "Дигитална класна стая".into(),
                            ..Default::default()
                        }),
                        innovation_id: "digital".into(),
                        request_id: String::new(),
                    },
                ))
                .await
                .expect("an innovation");
        }
    }
    let mut applications = ApplicationServiceClient::new(channel.clone());
    for (id, ..) in SCHOOLS {
        applications
            .create_application(call(
                &school(id),
                WINDOW,
                pb::CreateApplicationRequest {
                    parent: YEAR.into(),
                    application: Some(pb::Application {
                        school: format!("schools/{id}"),
                        modules: vec![1],
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("an application");
    }
    for (partner, innovative) in [
        ("e2e-ruse-partner", "e2e-ruse"),
        ("e2e-sliven-partner", "e2e-sliven"),
    ] {
        applications
            .create_interest(call(
                &school(partner),
                WINDOW,
                pb::CreateInterestRequest {
                    parent: YEAR.into(),
                    interest: Some(pb::Interest {
                        school: format!("schools/{partner}"),
                        innovation: format!("schools/{innovative}/innovations/digital"),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("an interest");
    }
    let mut contracts = ContractServiceClient::new(channel.clone());
    let mut group = String::new();
    for (proposer, counterparty, innovation) in [
        ("e2e-ruse", "e2e-sliven", ""),
        (
            "e2e-ruse",
            "e2e-ruse-partner",
            "schools/e2e-ruse/innovations/digital",
        ),
        (
            "e2e-sliven-partner",
            "e2e-sliven",
            "schools/e2e-sliven/innovations/digital",
        ),
    ] {
        let proposed = contracts
            .propose_contract(call(
                &school(proposer),
                WINDOW,
                pb::ProposeContractRequest {
                    parent: YEAR.into(),
                    contract: Some(pb::Contract {
                        proposer: format!("schools/{proposer}"),
                        counterparty: format!("schools/{counterparty}"),
                        innovation: innovation.into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("a proposal")
            .into_inner();
        group = contracts
            .sign_contract(call(
                &school(counterparty),
                WINDOW,
                pb::SignContractRequest {
                    name: proposed.name,
                    etag: proposed.etag,
                    request_id: format!("e2e-sign-{proposer}-{counterparty}"),
                },
            ))
            .await
            .expect("a signature")
            .into_inner()
            .group;
    }
    assert!(!group.is_empty(), "the third signature forms the group");

    let mut groups = GroupServiceClient::new(channel.clone());
    let approved = groups
        .approve_group(call(
            &ministry,
            PLANNING,
            pb::ApproveGroupRequest {
                name: group.clone(),
                etag: String::new(),
            },
        ))
        .await
        .expect("approved")
        .into_inner();
    assert_eq!(approved.state, pb::GroupState::Approved as i32);
    for (side, (start, end)) in [(0, (11, 14)), (1, (18, 21))] {
        let host = approved.sides[side]
            .innovative_school
            .trim_start_matches("schools/")
            .to_string();
        let mobility = approved.sides[side].hosted_mobility.clone();
        let day = |d| {
            Some(Date {
                year: 2024,
                month: 3,
                day: d,
            })
        };
        groups
            .update_mobility(call(
                &school(&host),
                PLANNING,
                pb::UpdateMobilityRequest {
                    mobility: Some(pb::Mobility {
                        name: mobility.clone(),
                        start_date: day(start),
                        end_date: day(end),
                        programme: "Открити уроци и общ проект.".into(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["start_date".into(), "end_date".into(), "programme".into()],
                    }),
                },
            ))
            .await
            .expect("the visit planned");
        let filed = groups
            .file_annex(call(
                &school(&host),
                "2023-12-15T23:59:00+02:00",
                pb::FileAnnexRequest {
                    name: mobility,
                    etag: String::new(),
                    request_id: format!("e2e-annex-{host}"),
                },
            ))
            .await
            .expect("the annex, in the last minute")
            .into_inner();
        assert_eq!(filed.state, pb::MobilityState::AnnexFiled as i32);
    }

    let progress = ProgressServiceClient::new(channel.clone())
        .get_progress(call(
            &ministry,
            "2024-01-10T10:00:00+02:00",
            pb::GetProgressRequest {
                year: YEAR.into(),
                region_code: String::new(),
            },
        ))
        .await
        .expect("progress")
        .into_inner();
    let figures = progress.figures.expect("figures");
    assert_eq!(
        (
            figures.schools_applied,
            figures.interests_declared,
            figures.contracts_signed,
            figures.groups_formed,
            figures.groups_approved,
            figures.annexes_filed
        ),
        (4, 2, 3, 1, 1, 2)
    );
    let regions: Vec<&str> = progress
        .regions
        .iter()
        .map(|r| r.region_code.as_str())
        .collect();
    assert_eq!(regions, ["BG-18", "BG-20"]);
    let cap = progress.non_innovative_cap.expect("cap");
    assert_eq!((cap.counted, cap.headroom), (2, 298));

    // The stream: three signatures, the group formed and approved, two annexes, in order.
    let mut kinds = Vec::new();
    while kinds.len() < 7 {
        let event = tokio::time::timeout(Duration::from_secs(60), events.next())
            .await
            .expect("the events arrive")
            .expect("the stream stays open")
            .expect("an event");
        assert_eq!(event.year, YEAR);
        kinds.push(event.r#type);
    }
    use pb::EventType::*;
    assert_eq!(
        kinds,
        [
            ContractSigned,
            ContractSigned,
            ContractSigned,
            GroupFormed,
            GroupApproved,
            AnnexFiled,
            AnnexFiled
        ]
        .map(|k| k as i32)
    );
    suite.stop().await;
}

#[tokio::test]
async fn the_demo_loads_once_and_shows_a_group_a_school_seeking_a_partner_and_a_forum() {
    let suite = TestSuite::start().await;
    let group = edu_partnerships::demo::load(suite.gateway().await)
        .await
        .expect("the demo");
    let again = edu_partnerships::demo::load(suite.gateway().await)
        .await
        .expect("loading twice is harmless");
    assert_eq!(group, again);
    let channel = suite.gateway().await;
    let read = GroupServiceClient::new(channel.clone())
        .get_group(call(
            &ministry(),
            PLANNING,
            pb::GetGroupRequest { name: group },
        ))
        .await
        .expect("the group")
        .into_inner();
    assert_eq!(read.state, pb::GroupState::Approved as i32);
    let partners = SchoolServiceClient::new(channel)
        .find_partners(call(
            &school("demo-varna-sea"),
            WINDOW,
            pb::FindPartnersRequest {
                school: "schools/demo-varna-sea".into(),
                year: YEAR.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("partners for Varna")
        .into_inner();
    let candidates: Vec<(&str, i32)> = partners
        .candidates
        .iter()
        .map(|c| (c.school.as_str(), c.kind))
        .collect();
    // Burgas declared interest in Varna's innovation; no innovative school is free.
    assert_eq!(
        candidates,
        [(
            "schools/demo-burgas-coast",
            pb::CandidateKind::InterestedNonInnovative as i32
        )]
    );
    assert!(partners.candidates[0].distance_km > 0);
    let pool = suite.database().await;
    let forums: i64 = sqlx::query_scalar("SELECT count(*) FROM partnerships.forums")
        .fetch_one(&pool)
        .await
        .expect("forums");
    assert_eq!(forums, 1);
    pool.close().await;
    suite.stop().await;
}
