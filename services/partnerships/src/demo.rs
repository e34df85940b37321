//! The demo programme loaded by `cargo suite up`: the 2023/2024 year of «Иновации в
//! действие» with clearly fictional schools in four regions — one complete, approved
//! group with both mobilities planned, an innovative school in Varna still looking for a
//! partner, and a school that declared interest in its innovation.
//!
//! It all happens through the public API at the instants of that year: the calls carry the
//! development clock header, which only a suite in development mode accepts, and the
//! development tokens of the people involved. Loading twice changes nothing: the year is
//! created first, and a year that exists means the demo is there.

use tonic::transport::Channel;
use tonic::{Code, Status};

use edu_kit::auth::dev::DevToken;
use edu_kit::client::{at_instant, with_bearer};
use edu_proto::edu::partnerships::v1 as pb;
use edu_proto::edu::partnerships::v1::application_service_client::ApplicationServiceClient;
use edu_proto::edu::partnerships::v1::contract_service_client::ContractServiceClient;
use edu_proto::edu::partnerships::v1::forum_service_client::ForumServiceClient;
use edu_proto::edu::partnerships::v1::group_service_client::GroupServiceClient;
use edu_proto::edu::partnerships::v1::programme_year_service_client::ProgrammeYearServiceClient;
use edu_proto::edu::partnerships::v1::school_service_client::SchoolServiceClient;
use edu_proto::google::r#type::Date;

/// The demo year.
pub const YEAR: &str = "years/2023-2024";

/// Fictional schools: (ID, display name, НЕИСПУО code, region, municipality code,
/// municipality, innovation (ID, title, description) when on the List).
type SchoolRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<(&'static str, &'static str, &'static str)>,
);

const SCHOOLS: [SchoolRow; 6] = [
    (
        "demo-sofia-stem",
        "СУ „Иновация“ (демо)",
        "2299001",
        "BG-22",
        "SOF46",
        "Столична",
        Some((
            "stem-lab",
            "STEM център и интегрирани уроци",
            "Интегрирани уроци по природни науки и математика в STEM център; учениците работят по проекти в смесени групи.",
        )),
    ),
    (
        "demo-plovdiv-project",
        "ПГ „Проектно учене“ (демо)",
        "1699002",
        "BG-16",
        "PDV22",
        "Пловдив",
        Some((
            "project-learning",
            "Проектно-базирано обучение в прогимназиален етап",
            "Учебната седмица завършва с междупредметен проект, представен пред родители.",
        )),
    ),
    (
        "demo-varna-sea",
        "ОУ „Морско училище“ (демо)",
        "0399003",
        "BG-03",
        "VAR06",
        "Варна",
        Some((
            "outdoor-learning",
            "Учене сред природата",
            "Уроци на открито по биология и география край морето, с дигитални дневници на наблюденията.",
        )),
    ),
    (
        "demo-sofia-partner",
        "ОУ „Ново начало“ (демо)",
        "2299004",
        "BG-22",
        "SOF46",
        "Столична",
        None,
    ),
    (
        "demo-plovdiv-partner",
        "СУ „Тракия“ (демо)",
        "1699005",
        "BG-16",
        "PDV22",
        "Пловдив",
        None,
    ),
    (
        "demo-burgas-coast",
        "ОУ „Бряг“ (демо)",
        "0299006",
        "BG-02",
        "BGS04",
        "Бургас",
        None,
    ),
];

/// Before the window: the ministry sets the year up.
const SETUP: &str = "2023-08-01T10:00:00+03:00";
/// Within the window.
const WINDOW: &str = "2023-09-20T10:00:00+03:00";
/// After the window, before the annex deadline.
const PLANNING: &str = "2023-11-06T10:00:00+02:00";

/// The ministry's development token.
pub fn ministry() -> String {
    DevToken::new("demo-ministry")
        .role("partnerships.ministry")
        .name("Министерство на образованието и науката (демо)")
        .sign()
}

/// A school's development token.
pub fn school(id: &str) -> String {
    DevToken::new(format!("{id}@edu.mon.bg"))
        .role("partnerships.school")
        .scope(format!("school:{id}"))
        .sign()
}

fn call<T>(token: &str, instant: &str, body: T) -> tonic::Request<T> {
    at_instant(with_bearer(tonic::Request::new(body), token), instant)
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// The 2023/2024 year of the source document.
pub fn year() -> pb::ProgrammeYear {
    pb::ProgrammeYear {
        display_name: "Иновации в действие 2023/2024".into(),
        time_zone: "Europe/Sofia".into(),
        application_start_date: date(2023, 9, 1),
        application_end_date: date(2023, 10, 21),
        modules: vec![
            pb::ProgrammeModule {
                number: 1,
                display_name: "Модул 1".into(),
            },
            pb::ProgrammeModule {
                number: 2,
                display_name: "Модул 2".into(),
            },
        ],
        innovative_school_cap: 300,
        non_innovative_school_cap: 300,
        annex_deadline: date(2023, 12, 15),
        max_mobility_days: 4,
        ..Default::default()
    }
}

/// Loads the demo through `channel` (the gateway); returns the group's name.
pub async fn load(channel: Channel) -> Result<String, Status> {
    let ministry = ministry();
    let mut years = ProgrammeYearServiceClient::new(channel.clone());
    let created = years
        .create_programme_year(call(
            &ministry,
            SETUP,
            pb::CreateProgrammeYearRequest {
                programme_year: Some(year()),
                programme_year_id: "2023-2024".into(),
                request_id: String::new(),
            },
        ))
        .await;
    match created {
        Ok(_) => {}
        Err(status) if status.code() == Code::AlreadyExists => {
            return existing_group(channel).await;
        }
        Err(status) => return Err(status),
    }
    let mut schools = SchoolServiceClient::new(channel.clone());
    for (id, name, code, region, municipality_code, municipality, innovation) in SCHOOLS {
        schools
            .create_school(call(
                &ministry,
                SETUP,
                pb::CreateSchoolRequest {
                    school: Some(pb::School {
                        display_name: name.into(),
                        neispuo_code: code.into(),
                        region_code: region.into(),
                        municipality_code: municipality_code.into(),
                        municipality_name: municipality.into(),
                        official_email: format!("{id}@edu.mon.bg"),
                        ..Default::default()
                    }),
                    school_id: id.into(),
                    request_id: format!("demo-{id}"),
                },
            ))
            .await?;
        if let Some((innovation_id, title, description)) = innovation {
            schools
                .add_school_to_innovative_list(call(
                    &ministry,
                    SETUP,
                    pb::AddSchoolToInnovativeListRequest {
                        name: format!("schools/{id}"),
                        basis: "Решение на Министерския съвет (демо)".into(),
                        etag: String::new(),
                    },
                ))
                .await?;
            schools
                .create_innovation(call(
                    &ministry,
                    SETUP,
                    pb::CreateInnovationRequest {
                        parent: format!("schools/{id}"),
                        innovation: Some(pb::Innovation {
                            area: pb::InnovationArea::TeachingMethods as i32,
                            title: title.into(),
                            description: description.into(),
                            ..Default::default()
                        }),
                        innovation_id: innovation_id.into(),
                        request_id: format!("demo-{id}-{innovation_id}"),
                    },
                ))
                .await?;
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
                        modules: vec![1, 2],
                        motivation: "Искаме да обменим опит с други училища (демо).".into(),
                        ..Default::default()
                    }),
                    request_id: format!("demo-apply-{id}"),
                },
            ))
            .await?;
    }
    for (partner, innovation) in [
        (
            "demo-sofia-partner",
            "schools/demo-sofia-stem/innovations/stem-lab",
        ),
        (
            "demo-plovdiv-partner",
            "schools/demo-plovdiv-project/innovations/project-learning",
        ),
        (
            "demo-burgas-coast",
            "schools/demo-varna-sea/innovations/outdoor-learning",
        ),
    ] {
        applications
            .create_interest(call(
                &school(partner),
                WINDOW,
                pb::CreateInterestRequest {
                    parent: YEAR.into(),
                    interest: Some(pb::Interest {
                        school: format!("schools/{partner}"),
                        innovation: innovation.into(),
                        note: "Бихме искали да видим иновацията на място.".into(),
                        ..Default::default()
                    }),
                    request_id: format!("demo-interest-{partner}"),
                },
            ))
            .await?;
    }
    // The three contracts of the group, each signed by the school it was proposed to.
    let mut contracts = ContractServiceClient::new(channel.clone());
    let mut group = String::new();
    for (proposer, counterparty, innovation) in [
        ("demo-sofia-stem", "demo-plovdiv-project", ""),
        (
            "demo-sofia-stem",
            "demo-sofia-partner",
            "schools/demo-sofia-stem/innovations/stem-lab",
        ),
        (
            "demo-plovdiv-project",
            "demo-plovdiv-partner",
            "schools/demo-plovdiv-project/innovations/project-learning",
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
                        note: "Предлагаме сътрудничество по Модул 1 (демо).".into(),
                        ..Default::default()
                    }),
                    request_id: format!("demo-propose-{proposer}-{counterparty}"),
                },
            ))
            .await?
            .into_inner();
        let signed = contracts
            .sign_contract(call(
                &school(counterparty),
                WINDOW,
                pb::SignContractRequest {
                    name: proposed.name,
                    etag: String::new(),
                    request_id: format!("demo-sign-{proposer}-{counterparty}"),
                },
            ))
            .await?
            .into_inner();
        group = signed.group;
    }
    let mut groups = GroupServiceClient::new(channel.clone());
    let formed = groups
        .approve_group(call(
            &ministry,
            PLANNING,
            pb::ApproveGroupRequest {
                name: group.clone(),
                etag: String::new(),
            },
        ))
        .await?
        .into_inner();
    // Both mobilities planned: four days each, a month apart.
    for (side, (start, end), programme) in [
        (
            0,
            ((2024, 3, 11), (2024, 3, 14)),
            "Открити уроци в STEM центъра, съвместен проект, представяне пред родители.",
        ),
        (
            1,
            ((2024, 4, 22), (2024, 4, 25)),
            "Проектна седмица, наблюдение на уроци, обща изложба.",
        ),
    ] {
        let host = formed.sides[side]
            .innovative_school
            .trim_start_matches("schools/");
        let d = |(y, m, day): (i32, i32, i32)| date(y, m, day);
        groups
            .update_mobility(call(
                &school(host),
                PLANNING,
                pb::UpdateMobilityRequest {
                    mobility: Some(pb::Mobility {
                        name: formed.sides[side].hosted_mobility.clone(),
                        start_date: d(start),
                        end_date: d(end),
                        programme: programme.into(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["start_date".into(), "end_date".into(), "programme".into()],
                    }),
                },
            ))
            .await?;
    }
    // A regional forum in Varna: the office agrees it with the school, which registers.
    let office = DevToken::new("demo-ruo-varna")
        .role("partnerships.regional_office")
        .scope("region:BG-03")
        .name("РУО – Варна (демо)")
        .sign();
    let mut forums = ForumServiceClient::new(channel);
    let forum = forums
        .create_forum(call(
            &office,
            WINDOW,
            pb::CreateForumRequest {
                parent: "regions/BG-03".into(),
                forum: Some(pb::Forum {
                    year: YEAR.into(),
                    host_school: "schools/demo-varna-sea".into(),
                    capacity: 120,
                    experience: "Два регионални форума за учене сред природата (демо).".into(),
                    ..Default::default()
                }),
                forum_id: "demo-varna-forum".into(),
                request_id: "demo-varna-forum".into(),
            },
        ))
        .await?
        .into_inner();
    forums
        .register_forum(call(
            &school("demo-varna-sea"),
            WINDOW,
            pb::RegisterForumRequest {
                name: forum.name,
                etag: String::new(),
            },
        ))
        .await?;
    Ok(group)
}

async fn existing_group(channel: Channel) -> Result<String, Status> {
    let groups = GroupServiceClient::new(channel)
        .list_groups(call(
            &ministry(),
            PLANNING,
            pb::ListGroupsRequest {
                parent: YEAR.into(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    Ok(groups
        .groups
        .first()
        .map(|g| g.name.clone())
        .unwrap_or_default())
}

/// The `demo` subcommand: [`load`], and what it loaded, for the developer.
pub async fn describe(channel: Channel) -> Result<Vec<String>, Status> {
    let group = load(channel).await?;
    Ok(vec![format!(
        "«Иновации в действие» 2023/2024 with six fictional schools in four regions; \
         {group} is approved with both mobilities planned"
    )])
}
