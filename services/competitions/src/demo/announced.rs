//! The previous cycle of the contest, played through to the end so that rankings, the
//! catalogue and replication are there to look at: clearly fictional teams from six regions
//! submit practices, four experts from other regions review them, the organiser chooses the
//! winners and announces them on the results day, and a seventh region asks to replicate a
//! winning practice.
//!
//! It all happens through the public API, at the instants of that cycle: the calls carry the
//! development clock header, which only a suite in development mode accepts, and the
//! development tokens of the people involved.

use jiff::Timestamp;
use tonic::transport::Channel;
use tonic::{Code, Status};

use edu_kit::auth::dev::DevToken;
use edu_kit::client::{at_instant, with_bearer};
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::application_service_client::ApplicationServiceClient;
use edu_proto::edu::competitions::v1::catalogue_service_client::CatalogueServiceClient;
use edu_proto::edu::competitions::v1::contest_service_client::ContestServiceClient;
use edu_proto::edu::competitions::v1::results_service_client::ResultsServiceClient;
use edu_proto::edu::competitions::v1::review_service_client::ReviewServiceClient;
use edu_proto::edu::competitions::v1::team_service_client::TeamServiceClient;

/// Fictional teams: (ID, region, display name, nomination, title, summary).
const TEAMS: [(&str, &str, &str, &str, &str, &str); 6] = [
    (
        "demo-altai",
        "RU-ALT",
        "Команда «Алтайские каникулы» (демо)",
        "health",
        "Школа здоровья для всей семьи",
        "Еженедельные занятия по здоровьесбережению для детей и родителей в сельских школах.",
    ),
    (
        "demo-tatarstan",
        "RU-TA",
        "Команда «Казанский двор» (демо)",
        "health",
        "Здоровые перемены",
        "Подвижные перемены и питьевой режим в начальной школе.",
    ),
    (
        "demo-yaroslavl",
        "RU-YAR",
        "Команда «Ярославская семья» (демо)",
        "family",
        "Семейный клуб выходного дня",
        "Поддержка семей с детьми: консультации, совместный досуг, наставничество.",
    ),
    (
        "demo-perm",
        "RU-PER",
        "Команда «Пермский край детям» (демо)",
        "family",
        "Благополучие семей с детьми в малых городах",
        "Социальный контракт и сопровождение многодетных семей.",
    ),
    (
        "demo-kaliningrad",
        "RU-KGD",
        "Команда «Балтийский маяк» (демо)",
        "safety",
        "Безопасный путь в школу",
        "Маршруты безопасности и обучение детей правилам дорожного движения.",
    ),
    (
        "demo-moscow",
        "RU-MOW",
        "Команда «Московские дворы» (демо)",
        "safety",
        "Безопасность детей в цифровой среде",
        "Занятия по цифровой гигиене для школьников и родителей.",
    ),
];

/// Fictional experts: (subject, name, region, organisation). None shares a region with a
/// team, so each application can get all three of its experts.
const EXPERTS: [(&str, &str, &str, &str); 4] = [
    (
        "demo-expert-spb",
        "Эксперт Северова (демо)",
        "RU-SPE",
        "Педагогический университет",
    ),
    (
        "demo-expert-nsk",
        "Эксперт Сибирцев (демо)",
        "RU-NVS",
        "Институт развития образования",
    ),
    (
        "demo-expert-ekb",
        "Эксперт Уральская (демо)",
        "RU-SVE",
        "Педагогический университет",
    ),
    (
        "demo-expert-krd",
        "Эксперт Кубанов (демо)",
        "RU-KDA",
        "Центр психолого-педагогической помощи",
    ),
];

/// A request as `token` at `instant`.
fn call<T>(body: T, token: &str, instant: &str) -> tonic::Request<T> {
    at_instant(with_bearer(tonic::Request::new(body), token), instant)
}

fn token(subject: &str, role: &str, region: Option<&str>) -> String {
    let mut token = DevToken::new(subject).role(role).name(subject);
    if let Some(region) = region {
        token = token.scope(format!("region:{region}"));
    }
    token.sign()
}

/// Plays the 2025 cycle unless its contest exists already; returns the contest's name.
pub async fn load(channel: Channel, organiser: &str, _now: Timestamp) -> Result<String, Status> {
    let year = 2025;
    let id = super::contest_id(year);
    let name = format!("contests/{id}");
    let mut contests = ContestServiceClient::new(channel.clone());
    let created = contests
        .create_contest(call(
            pb::CreateContestRequest {
                contest: Some(super::contest(year)),
                contest_id: id.clone(),
                // No request id: a second load must meet ALREADY_EXISTS, not a replay.
                request_id: String::new(),
            },
            organiser,
            "2024-12-01T10:00:00+03:00",
        ))
        .await;
    match created {
        Ok(_) => {}
        Err(status) if status.code() == Code::AlreadyExists => return Ok(name),
        Err(status) => return Err(status),
    }
    contests
        .open_contest(call(
            pb::OpenContestRequest {
                name: name.clone(),
                etag: String::new(),
            },
            organiser,
            "2024-12-01T10:00:00+03:00",
        ))
        .await?;

    let mut teams = TeamServiceClient::new(channel.clone());
    let mut applications = ApplicationServiceClient::new(channel.clone());
    for (team_id, region, display_name, nomination, title, summary) in TEAMS {
        let lead = token(
            &format!("{team_id}-lead"),
            "competitions.team",
            Some(region),
        );
        let team = teams
            .create_team(call(
                pb::CreateTeamRequest {
                    team: Some(pb::Team {
                        display_name: display_name.into(),
                        level: pb::TeamLevel::Regional as i32,
                        region_code: region.into(),
                        ..Default::default()
                    }),
                    team_id: team_id.into(),
                    request_id: format!("demo-{team_id}"),
                },
                &lead,
                "2024-12-10T10:00:00+03:00",
            ))
            .await?
            .into_inner();
        let application = applications
            .create_application(call(
                pb::CreateApplicationRequest {
                    parent: name.clone(),
                    application: Some(pb::Application {
                        team: team.name,
                        nomination_id: nomination.into(),
                        title: title.into(),
                        summary: summary.into(),
                        description: format!(
                            "{summary} Практика вымышлена для демонстрации каталога."
                        ),
                        ..Default::default()
                    }),
                    application_id: team_id.into(),
                    request_id: String::new(),
                },
                &lead,
                "2025-01-20T10:00:00+03:00",
            ))
            .await?
            .into_inner();
        applications
            .submit_application(call(
                pb::SubmitApplicationRequest {
                    name: application.name,
                    etag: String::new(),
                },
                &lead,
                "2025-01-25T10:00:00+03:00",
            ))
            .await?;
    }
    contests
        .close_contest(call(
            pb::CloseContestRequest {
                name: name.clone(),
                etag: String::new(),
            },
            organiser,
            "2025-02-03T10:00:00+03:00",
        ))
        .await?;

    review(&channel, organiser, &name).await?;
    announce(&channel, organiser, &name).await?;
    Ok(name)
}

/// Registers the experts, assigns them automatically, and has each complete their reviews.
async fn review(channel: &Channel, organiser: &str, contest: &str) -> Result<(), Status> {
    const REVIEWING: &str = "2025-02-20T10:00:00+03:00";
    let mut reviews = ReviewServiceClient::new(channel.clone());
    for (subject, display_name, region, organisation) in EXPERTS {
        reviews
            .create_expert(call(
                pb::CreateExpertRequest {
                    parent: contest.into(),
                    expert: Some(pb::Expert {
                        subject: subject.into(),
                        display_name: display_name.into(),
                        region_code: region.into(),
                        organisation: organisation.into(),
                        ..Default::default()
                    }),
                    request_id: format!("demo-{subject}"),
                },
                organiser,
                REVIEWING,
            ))
            .await?;
    }
    let assigned = reviews
        .auto_assign_experts(call(
            pb::AutoAssignExpertsRequest {
                parent: contest.into(),
                request_id: "demo-auto-assign".into(),
            },
            organiser,
            REVIEWING,
        ))
        .await?
        .into_inner();
    let criteria = super::contest(2025).criteria;
    for (i, assignment) in assigned.created_reviews.iter().enumerate() {
        let subject = expert_subject(&mut reviews, organiser, &assignment.expert).await?;
        let expert = token(&subject, "competitions.expert", None);
        // Varied, fixed scores: the ranking differs between nominations, the same each run.
        let scores = criteria
            .iter()
            .enumerate()
            .map(|(k, c)| pb::CriterionScore {
                criterion_id: c.id.clone(),
                score: 5 + ((i * 3 + k * 2) % 6) as i32,
            })
            .collect();
        reviews
            .update_review(call(
                pb::UpdateReviewRequest {
                    review: Some(pb::Review {
                        name: assignment.name.clone(),
                        scores,
                        feedback: "Практика описана ясно; для тиражирования стоит добавить \
                                   измеримые результаты и смету."
                            .into(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["scores".into(), "feedback".into()],
                    }),
                },
                &expert,
                REVIEWING,
            ))
            .await?;
        reviews
            .complete_review(call(
                pb::CompleteReviewRequest {
                    name: assignment.name.clone(),
                    etag: String::new(),
                },
                &expert,
                REVIEWING,
            ))
            .await?;
    }
    Ok(())
}

async fn expert_subject(
    reviews: &mut ReviewServiceClient<Channel>,
    organiser: &str,
    expert: &str,
) -> Result<String, Status> {
    Ok(reviews
        .get_expert(call(
            pb::GetExpertRequest {
                name: expert.into(),
            },
            organiser,
            "2025-02-20T10:00:00+03:00",
        ))
        .await?
        .into_inner()
        .subject)
}

/// Chooses the top of each ranked nomination, announces on the results day, and has a
/// region ask to replicate the first practice.
async fn announce(channel: &Channel, organiser: &str, contest: &str) -> Result<(), Status> {
    const RESULTS_DAY: &str = "2025-03-20T12:00:00+03:00";
    let mut results = ResultsServiceClient::new(channel.clone());
    for (nomination, _) in super::NOMINATIONS {
        let ranking = results
            .get_ranking(call(
                pb::GetRankingRequest {
                    contest: contest.into(),
                    nomination_id: nomination.into(),
                },
                organiser,
                RESULTS_DAY,
            ))
            .await?
            .into_inner();
        if ranking.applications.is_empty() {
            continue;
        }
        results
            .set_winners(call(
                pb::SetWinnersRequest {
                    contest: contest.into(),
                    nomination_id: nomination.into(),
                    applications: vec![ranking.applications[0].application.clone()],
                    departure_reason: String::new(),
                },
                organiser,
                RESULTS_DAY,
            ))
            .await?;
    }
    // Nominations without applications need no choice.
    let announced = results
        .announce_results(call(
            pb::AnnounceResultsRequest {
                name: contest.into(),
                etag: String::new(),
            },
            organiser,
            RESULTS_DAY,
        ))
        .await?
        .into_inner();
    let Some(practice) = announced.published_practices.first() else {
        return Ok(());
    };
    let tver = token("demo-tver-lead", "competitions.team", Some("RU-TVE"));
    let replication = CatalogueServiceClient::new(channel.clone())
        .create_replication(call(
            pb::CreateReplicationRequest {
                parent: practice.clone(),
                replication: Some(pb::Replication {
                    region_code: "RU-TVE".into(),
                    contact_name: "Контактное лицо (демо)".into(),
                    contact_details: "demo@example.org".into(),
                    plan: "Пилот в двух районах области в 2025/26 учебном году".into(),
                    ..Default::default()
                }),
                request_id: "demo-replication-tver".into(),
            },
            &tver,
            "2025-04-01T10:00:00+03:00",
        ))
        .await?
        .into_inner();
    CatalogueServiceClient::new(channel.clone())
        .start_replication(call(
            pb::StartReplicationRequest {
                name: replication.name,
                etag: String::new(),
            },
            &tver,
            "2025-05-01T10:00:00+03:00",
        ))
        .await?;
    Ok(())
}
