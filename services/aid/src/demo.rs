//! The demo campaign loaded by `cargo suite up`: «Дорога в школу» 2023 in Almaty, Astana
//! and the Almaty region, with clearly fictional schools and children (valid IINs of
//! invented people, family name «Демо»), their needs, a donation received and allocated
//! with help delivered from it and from the budget, appeals in every state, and an action
//! plan with a school fair held.
//!
//! It all happens through the public API at the instants of the campaign: the calls carry
//! the development clock header, which only a suite in development mode accepts, and the
//! development tokens of the people involved. Loading twice changes nothing: the campaign
//! is created first, and a campaign that exists means the demo is there.

use tonic::transport::Channel;
use tonic::{Code, Status};

use edu_kit::auth::dev::DevToken;
use edu_kit::client::{at_instant, with_bearer};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::appeal_service_client::AppealServiceClient;
use edu_proto::edu::aid::v1::attendance_service_client::AttendanceServiceClient;
use edu_proto::edu::aid::v1::campaign_service_client::CampaignServiceClient;
use edu_proto::edu::aid::v1::child_service_client::ChildServiceClient;
use edu_proto::edu::aid::v1::donation_service_client::DonationServiceClient;
use edu_proto::edu::aid::v1::headquarters_service_client::HeadquartersServiceClient;
use edu_proto::edu::aid::v1::import_service_client::ImportServiceClient;
use edu_proto::edu::aid::v1::need_service_client::NeedServiceClient;
use edu_proto::edu::aid::v1::price_service_client::PriceServiceClient;
use edu_proto::edu::aid::v1::school_service_client::SchoolServiceClient;
use edu_proto::google::r#type::Date;

/// The demo campaign.
pub const CAMPAIGN: &str = "campaigns/doroga-v-shkolu-2023";

/// Before the campaign: the coordinator sets it up.
const SETUP: &str = "2023-07-20T10:00:00+06:00";
/// During the campaign.
const RUNNING: &str = "2023-08-15T10:00:00+06:00";
/// Later in the campaign.
const LATER: &str = "2023-08-25T10:00:00+06:00";

/// Fictional schools: (ID, display name, region, locality).
const SCHOOLS: [(&str, &str, &str, &str); 3] = [
    (
        "demo-almaty-12",
        "Общеобразовательная школа № 12 (демо)",
        "KZ-75",
        "Алмалинский район, г. Алматы",
    ),
    (
        "demo-astana-7",
        "Школа-гимназия № 7 (демо)",
        "KZ-71",
        "район Сарыарка, г. Астана",
    ),
    (
        "demo-talgar-3",
        "Средняя школа № 3 (демо)",
        "KZ-19",
        "г. Талгар, Алматинская область",
    ),
];

/// A fictional child: ID, school, IIN (empty for none), given name, birth date (year,
/// month, day), category.
type DemoChild = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    (i32, i32, i32),
    pb::ChildCategory,
);

/// Fictional children. The last, listed
/// in Astana without an IIN, has the name and birth date of one listed in Almaty: a
/// probable duplicate for the regional staff to decide.
const CHILDREN: [DemoChild; 5] = [
    (
        "demo-aliya",
        "demo-almaty-12",
        "160314601016",
        "Әлия",
        (2016, 3, 14),
        pb::ChildCategory::LargeFamily,
    ),
    (
        "demo-nurlan",
        "demo-almaty-12",
        "150902501024",
        "Нұрлан",
        (2015, 9, 2),
        pb::ChildCategory::LowIncome,
    ),
    (
        "demo-aigerim",
        "demo-astana-7",
        "141123601037",
        "Айгерім",
        (2014, 11, 23),
        pb::ChildCategory::WithoutParentalCare,
    ),
    (
        "demo-timur",
        "demo-talgar-3",
        "130507501043",
        "Тимур",
        (2013, 5, 7),
        pb::ChildCategory::Orphan,
    ),
    (
        "demo-nurlan-astana",
        "demo-astana-7",
        "",
        "Нұрлан",
        (2015, 9, 2),
        pb::ChildCategory::LowIncome,
    ),
];

/// The coordinator's development token.
pub fn coordinator() -> String {
    DevToken::new("demo-coordinator")
        .role("aid.national_coordinator")
        .name("Комитет по охране прав детей (демо)")
        .sign()
}

/// A region's staff token.
pub fn regional(region: &str) -> String {
    DevToken::new(format!("demo-staff-{region}"))
        .role("aid.regional_staff")
        .scope(format!("region:{region}"))
        .sign()
}

/// A school's staff token.
pub fn school(id: &str) -> String {
    DevToken::new(format!("demo-staff-{id}"))
        .role("aid.school_staff")
        .scope(format!("school:{id}"))
        .sign()
}

/// A hotline operator's token.
pub fn operator(region: &str) -> String {
    DevToken::new(format!("demo-operator-{region}"))
        .role("aid.operator")
        .scope(format!("region:{region}"))
        .sign()
}

/// The demo donor's token.
pub fn donor() -> String {
    DevToken::new("demo-donor-1")
        .role("aid.donor")
        .name("ТОО «Добрый сосед» (демо)")
        .sign()
}

fn call<T>(token: &str, instant: &str, body: T) -> tonic::Request<T> {
    at_instant(with_bearer(tonic::Request::new(body), token), instant)
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// The 2023 campaign of the source document.
pub fn campaign() -> pb::Campaign {
    pb::Campaign {
        display_name: "Республиканская акция «Дорога в школу» — 2023 (демо)".into(),
        time_zone: "Asia/Almaty".into(),
        start_date: date(2023, 8, 1),
        end_date: date(2023, 9, 30),
        school_start_date: date(2023, 9, 1),
        region_codes: vec!["KZ-75".into(), "KZ-71".into(), "KZ-19".into()],
        appeal_response_target: Some(prost_types::Duration {
            seconds: 24 * 3600,
            nanos: 0,
        }),
        ..Default::default()
    }
}

/// Loads the demo through `channel` (the gateway); returns the campaign's name.
pub async fn load(channel: Channel) -> Result<String, Status> {
    let coordinator = coordinator();
    let created = CampaignServiceClient::new(channel.clone())
        .create_campaign(call(
            &coordinator,
            SETUP,
            pb::CreateCampaignRequest {
                campaign: Some(campaign()),
                campaign_id: "doroga-v-shkolu-2023".into(),
                request_id: String::new(),
            },
        ))
        .await;
    match created {
        Ok(_) => {}
        Err(status) if status.code() == Code::AlreadyExists => return Ok(CAMPAIGN.into()),
        Err(status) => return Err(status),
    }
    let mut schools = SchoolServiceClient::new(channel.clone());
    for (id, name, region, locality) in SCHOOLS {
        schools
            .create_school(call(
                &coordinator,
                SETUP,
                pb::CreateSchoolRequest {
                    school: Some(pb::School {
                        display_name: name.into(),
                        region_code: region.into(),
                        locality: locality.into(),
                        ..Default::default()
                    }),
                    school_id: id.into(),
                    request_id: format!("demo-{id}"),
                },
            ))
            .await?;
    }
    action_plan(&channel).await?;
    let mut children = ChildServiceClient::new(channel.clone());
    let mut needs = NeedServiceClient::new(channel.clone());
    let mut uniform_needs = Vec::new();
    let mut listed = Vec::new();
    for (id, school_id, iin, given_name, (y, m, d), category) in CHILDREN {
        let child = children
            .create_child(call(
                &school(school_id),
                RUNNING,
                pb::CreateChildRequest {
                    parent: CAMPAIGN.into(),
                    child: Some(pb::Child {
                        iin: iin.into(),
                        family_name: "Демо".into(),
                        given_name: given_name.into(),
                        birth_date: date(y, m, d),
                        grade: 2023 - y - 6,
                        categories: vec![category as i32],
                        identification_source: pb::IdentificationSource::SocialPassport as i32,
                        school: format!("schools/{school_id}"),
                        consent: Some(pb::Consent {
                            representative_name: "Законный представитель (демо)".into(),
                            give_date: date(2023, 8, 3),
                            document: "заявление (демо)".into(),
                        }),
                        ..Default::default()
                    }),
                    request_id: format!("demo-child-{id}"),
                },
            ))
            .await?
            .into_inner();
        if iin.is_empty() {
            // The probable duplicate waits for a decision before anything is recorded.
            continue;
        }
        listed.push((school_id, child.name.clone()));
        for (item, value, description) in [
            (pb::NeedItem::Uniform, 2_500_000, "Школьная форма"),
            (pb::NeedItem::Backpack, 1_200_000, "Рюкзак"),
        ] {
            let need = needs
                .create_need(call(
                    &school(school_id),
                    RUNNING,
                    pb::CreateNeedRequest {
                        parent: child.name.clone(),
                        need: Some(pb::Need {
                            item: item as i32,
                            description: description.into(),
                            estimated_value_tiyn: value,
                            ..Default::default()
                        }),
                        request_id: format!("demo-need-{id}-{}", item as i32),
                    },
                ))
                .await?
                .into_inner();
            if item == pb::NeedItem::Uniform {
                uniform_needs.push((school_id, need.name));
            }
        }
    }
    donations(&channel, &uniform_needs).await?;
    appeals(&channel).await?;
    prices(&channel).await?;
    attendance(&channel, &listed).await?;
    import(&channel).await?;
    Ok(CAMPAIGN.into())
}

/// Talgar's school uploads its social passport: one new child, one already listed, and a
/// row with a mistyped IIN.
async fn import(channel: &Channel) -> Result<(), Status> {
    let file = "iin,family_name,given_name,birth_date,grade,categories,representative_name,consent_date\n\
                160130501061,Демо,Аружан,30.01.2016,1,LARGE_FAMILY,Законный представитель (демо),04.08.2023\n\
                130507501043,Демо,Тимур,07.05.2013,4,ORPHAN,Законный представитель (демо),04.08.2023\n\
                160130501062,Демо,Ерасыл,30.01.2016,1,LOW_INCOME,Законный представитель (демо),04.08.2023\n";
    let messages = vec![
        pb::ImportChildrenRequest {
            part: Some(pb::import_children_request::Part::Header(
                pb::ImportHeader {
                    parent: CAMPAIGN.into(),
                    school: "schools/demo-talgar-3".into(),
                    format: pb::ImportFormat::Csv as i32,
                    file_name: "social-passport.csv".into(),
                    size_bytes: i64::try_from(file.len()).unwrap_or(i64::MAX),
                    request_id: "demo-import-talgar".into(),
                },
            )),
        },
        pb::ImportChildrenRequest {
            part: Some(pb::import_children_request::Part::Chunk(
                file.as_bytes().to_vec(),
            )),
        },
    ];
    ImportServiceClient::new(channel.clone())
        .import_children(call(
            &school("demo-talgar-3"),
            LATER,
            futures::stream::iter(messages),
        ))
        .await?;
    Ok(())
}

/// Monitors' observations of the boys' uniform in Almaty and Astana over three weeks.
async fn prices(channel: &Channel) -> Result<(), Status> {
    let mut prices = PriceServiceClient::new(channel.clone());
    for (i, (region, day, price)) in [
        ("KZ-75", 3, 1_850_000),
        ("KZ-75", 10, 1_900_000),
        ("KZ-75", 17, 1_990_000),
        ("KZ-71", 4, 2_100_000),
        ("KZ-71", 11, 2_150_000),
        ("KZ-71", 18, 2_150_000),
    ]
    .into_iter()
    .enumerate()
    {
        prices
            .record_price_observation(call(
                &operator(region),
                LATER,
                pb::RecordPriceObservationRequest {
                    parent: CAMPAIGN.into(),
                    price_observation: Some(pb::PriceObservation {
                        item: pb::PriceItem::UniformBoys as i32,
                        region_code: region.into(),
                        place_kind: pb::PlaceKind::Market as i32,
                        place_name: "Городской рынок (демо)".into(),
                        price_tiyn: price,
                        observe_date: date(2023, 8, day),
                        ..Default::default()
                    }),
                    request_id: format!("demo-price-{i}"),
                },
            ))
            .await?;
    }
    Ok(())
}

/// When school starts: every listed child attends but Talgar's Тимур, whose family lacks
/// his supplies, awaiting follow-up.
async fn attendance(channel: &Channel, listed: &[(&str, String)]) -> Result<(), Status> {
    let mut attendance = AttendanceServiceClient::new(channel.clone());
    for (i, (school_id, child)) in listed.iter().enumerate() {
        let absent = *school_id == "demo-talgar-3";
        attendance
            .record_attendance_check(call(
                &school(school_id),
                "2023-09-05T10:00:00+06:00",
                pb::RecordAttendanceCheckRequest {
                    parent: child.clone(),
                    attendance_check: Some(pb::AttendanceCheck {
                        check_date: date(2023, 9, 5),
                        outcome: if absent {
                            pb::AttendanceOutcome::DoesNotAttend
                        } else {
                            pb::AttendanceOutcome::Attends
                        } as i32,
                        absence_reason: if absent {
                            pb::AbsenceReason::LacksClothesOrSupplies as i32
                        } else {
                            0
                        },
                        ..Default::default()
                    }),
                    request_id: format!("demo-attendance-{i}"),
                },
            ))
            .await?;
    }
    Ok(())
}

/// Almaty's action plan: a school fair, held, and a raid to come; approved.
async fn action_plan(channel: &Channel) -> Result<(), Status> {
    let staff = regional("KZ-75");
    let mut headquarters = HeadquartersServiceClient::new(channel.clone());
    let hq = format!("{CAMPAIGN}/headquarters/kz-75");
    let fair = headquarters
        .create_activity(call(
            &staff,
            SETUP,
            pb::CreateActivityRequest {
                parent: hq.clone(),
                activity: Some(pb::Activity {
                    kind: pb::ActivityKind::SchoolFair as i32,
                    title: "Школьная ярмарка (демо)".into(),
                    start_date: date(2023, 8, 12),
                    place: "ТРЦ, г. Алматы".into(),
                    ..Default::default()
                }),
                request_id: "demo-fair".into(),
            },
        ))
        .await?
        .into_inner();
    headquarters
        .create_activity(call(
            &staff,
            SETUP,
            pb::CreateActivityRequest {
                parent: hq.clone(),
                activity: Some(pb::Activity {
                    kind: pb::ActivityKind::Raid as i32,
                    title: "Рейд «Подросток» (демо)".into(),
                    start_date: date(2023, 9, 5),
                    ..Default::default()
                }),
                request_id: "demo-raid".into(),
            },
        ))
        .await?;
    headquarters
        .approve_action_plan(call(
            &staff,
            SETUP,
            pb::ApproveActionPlanRequest {
                name: hq,
                basis: "Протокол заседания штаба № 1 (демо)".into(),
                etag: String::new(),
            },
        ))
        .await?;
    headquarters
        .record_activity_outcome(call(
            &staff,
            RUNNING,
            pb::RecordActivityOutcomeRequest {
                name: fair.name,
                outcome: Some(pb::ActivityOutcome {
                    summary: "Ярмарка прошла; семьи получили канцтовары со скидкой (демо).".into(),
                    participants: 240,
                    children_reached: 85,
                    ..Default::default()
                }),
                etag: String::new(),
            },
        ))
        .await?;
    Ok(())
}

/// A donation of 100 000 ₸ to Almaty, received and allocated to the uniforms of Almaty's
/// children, delivered; Astana's uniform paid by the budget.
async fn donations(channel: &Channel, uniform_needs: &[(&str, String)]) -> Result<(), Status> {
    let mut donations = DonationServiceClient::new(channel.clone());
    let pledged = donations
        .create_donation(call(
            &donor(),
            RUNNING,
            pb::CreateDonationRequest {
                parent: CAMPAIGN.into(),
                donation: Some(pb::Donation {
                    kind: pb::DonationKind::Money as i32,
                    region_code: "KZ-75".into(),
                    donor_display_name: "ТОО «Добрый сосед» (демо)".into(),
                    pledged_value_tiyn: 10_000_000,
                    ..Default::default()
                }),
                request_id: "demo-donation".into(),
            },
        ))
        .await?
        .into_inner();
    let staff = regional("KZ-75");
    donations
        .receive_donation(call(
            &staff,
            RUNNING,
            pb::ReceiveDonationRequest {
                name: pledged.name.clone(),
                received_value_tiyn: 10_000_000,
                receive_date: date(2023, 8, 15),
                request_id: "demo-receive".into(),
                ..Default::default()
            },
        ))
        .await?;
    let mut needs = NeedServiceClient::new(channel.clone());
    for (i, (school_id, need)) in uniform_needs.iter().enumerate() {
        if *school_id == "demo-almaty-12" {
            let allocation = donations
                .allocate_donation(call(
                    &staff,
                    RUNNING,
                    pb::AllocateDonationRequest {
                        parent: pledged.name.clone(),
                        allocation: Some(pb::Allocation {
                            need: need.clone(),
                            value_tiyn: 2_500_000,
                            note: "Форма к 1 сентября".into(),
                            ..Default::default()
                        }),
                        request_id: format!("demo-allocate-{i}"),
                    },
                ))
                .await?
                .into_inner();
            needs
                .record_help_delivery(call(
                    &school(school_id),
                    LATER,
                    pb::RecordHelpDeliveryRequest {
                        parent: need.clone(),
                        help_delivery: Some(pb::HelpDelivery {
                            source: pb::HelpSource::Donation as i32,
                            allocation: allocation.name,
                            value_tiyn: 2_500_000,
                            delivery_date: date(2023, 8, 24),
                            description: "Форма выдана (демо)".into(),
                            ..Default::default()
                        }),
                        request_id: format!("demo-help-{i}"),
                    },
                ))
                .await?;
        } else if *school_id == "demo-astana-7" {
            needs
                .record_help_delivery(call(
                    &school(school_id),
                    LATER,
                    pb::RecordHelpDeliveryRequest {
                        parent: need.clone(),
                        help_delivery: Some(pb::HelpDelivery {
                            source: pb::HelpSource::Budget as i32,
                            budget_source: "Местный бюджет г. Астаны (демо)".into(),
                            value_tiyn: 2_300_000,
                            delivery_date: date(2023, 8, 24),
                            description: "Форма за счёт бюджета (демо)".into(),
                            ..Default::default()
                        }),
                        request_id: format!("demo-help-{i}"),
                    },
                ))
                .await?;
        }
    }
    Ok(())
}

/// Four appeals to Almaty's hotline, one in each state.
async fn appeals(channel: &Channel) -> Result<(), Status> {
    let operator = operator("KZ-75");
    let mut appeals = AppealServiceClient::new(channel.clone());
    let mut created = Vec::new();
    for (i, summary) in [
        "Просьба помочь с формой для троих детей (демо)",
        "Ребёнок соседей не ходит в школу (демо)",
        "Вопрос о сроках выдачи помощи (демо)",
        "Жалоба на цены в магазине (демо)",
    ]
    .into_iter()
    .enumerate()
    {
        let appeal = appeals
            .create_appeal(call(
                &operator,
                RUNNING,
                pb::CreateAppealRequest {
                    parent: CAMPAIGN.into(),
                    appeal: Some(pb::Appeal {
                        channel: pb::AppealChannel::Hotline as i32,
                        category: pb::AppealCategory::RequestForHelp as i32,
                        region_code: "KZ-75".into(),
                        responsible_person: "Оператор горячей линии (демо)".into(),
                        applicant_name: "Заявитель (демо)".into(),
                        summary: summary.into(),
                        ..Default::default()
                    }),
                    request_id: format!("demo-appeal-{i}"),
                },
            ))
            .await?
            .into_inner();
        created.push(appeal.name);
    }
    // The first stays OPEN; the others are taken up, the third is then answered and the
    // fourth redirected.
    for name in &created[1..] {
        appeals
            .start_appeal(call(
                &operator,
                RUNNING,
                pb::StartAppealRequest {
                    name: name.clone(),
                    first_response: "Обращение принято в работу (демо).".into(),
                    ..Default::default()
                },
            ))
            .await?;
    }
    appeals
        .answer_appeal(call(
            &operator,
            LATER,
            pb::AnswerAppealRequest {
                name: created[2].clone(),
                answer: "Помощь будет выдана до 25 августа (демо).".into(),
                ..Default::default()
            },
        ))
        .await?;
    appeals
        .redirect_appeal(call(
            &operator,
            LATER,
            pb::RedirectAppealRequest {
                name: created[3].clone(),
                redirected_to: "Департамент торговли г. Алматы (демо)".into(),
                reason: "Вопрос цен вне компетенции штаба (демо).".into(),
                ..Default::default()
            },
        ))
        .await?;
    Ok(())
}

/// The `demo` subcommand: [`load`], and what it loaded, for the developer.
pub async fn describe(channel: Channel) -> Result<Vec<String>, Status> {
    let campaign = load(channel).await?;
    Ok(vec![format!(
        "{campaign}, «Дорога в школу» 2023 in Almaty, Astana and the Almaty region: \
         fictional children, needs, a donation received and delivered, appeals"
    )])
}
