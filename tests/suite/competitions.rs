//! The competitions service through the gateway: the demo contest, the deadline, and
//! malformed requests.

use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::application_service_client::ApplicationServiceClient;
use edu_proto::edu::competitions::v1::contest_service_client::ContestServiceClient;
use edu_proto::edu::competitions::v1::team_service_client::TeamServiceClient;
use edu_proto::google::r#type::Date;
use tonic::Code;
use tonic_types::StatusExt;

use crate::harness::*;

#[tokio::test]
async fn the_demo_contest_is_readable_through_the_gateway_with_a_dev_token() {
    let suite = TestSuite::start().await;
    let now = jiff::Timestamp::now();
    let loaded = edu_competitions::demo::load(suite.gateway().await, &organiser_token(), now)
        .await
        .expect("demo loads");
    let again = edu_competitions::demo::load(suite.gateway().await, &organiser_token(), now)
        .await
        .expect("loading twice is harmless");
    assert_eq!(loaded.name, again.name);

    // Any team person reads it: it is open.
    let contest = ContestServiceClient::new(suite.gateway().await)
        .get_contest(authorised(
            &team_token("reader", "RU-ALT"),
            pb::GetContestRequest {
                name: loaded.name.clone(),
            },
        ))
        .await
        .expect("readable")
        .into_inner();
    assert_eq!(contest.state, pb::ContestState::Open as i32);
    let titles: Vec<&str> = contest
        .nominations
        .iter()
        .map(|n| n.title.as_str())
        .collect();
    assert_eq!(
        titles,
        [
            "Здоровьесбережение с детства",
            "Благополучие семей с детьми",
            "Всестороннее развитие, обучение, воспитание детей",
            "Качество жизни детей с ограниченными возможностями здоровья, детей с инвалидностью",
            "Инфраструктура детства",
            "Защита детей, оставшихся без попечения родителей",
            "Безопасность детей",
        ]
    );
    let deadline = contest.application_deadline.expect("deadline");
    assert_eq!((deadline.month, deadline.day), (1, 31));
    let results = contest.results_due.expect("results");
    assert_eq!(
        (results.year, results.month, results.day),
        (deadline.year, 3, 22)
    );
    assert_eq!(contest.time_zone, "Europe/Moscow");
    let db = suite.database().await;
    let contests: i64 = sqlx::query_scalar("SELECT count(*) FROM competitions.contests")
        .fetch_one(&db)
        .await
        .expect("count");
    assert_eq!(contests, 1);
    db.close().await;
    suite.stop().await;
}

/// An open contest with the source document's deadline in 2025, a team, and a drafted
/// application; returns the application's name and the team lead's token.
async fn drafted_application(suite: &TestSuite, contest_id: &str) -> (String, String) {
    let organiser = organiser_token();
    let mut contests = ContestServiceClient::new(suite.gateway().await);
    let mut body = edu_competitions::demo::contest(2025);
    body.application_deadline = Some(Date {
        year: 2025,
        month: 1,
        day: 31,
    });
    let contest = contests
        .create_contest(at_instant(
            authorised(
                &organiser,
                pb::CreateContestRequest {
                    contest: Some(body),
                    contest_id: contest_id.into(),
                    request_id: String::new(),
                },
            ),
            "2024-12-01T10:00:00+03:00",
        ))
        .await
        .expect("created")
        .into_inner();
    contests
        .open_contest(at_instant(
            authorised(
                &organiser,
                pb::OpenContestRequest {
                    name: contest.name.clone(),
                    etag: String::new(),
                },
            ),
            "2024-12-01T10:00:00+03:00",
        ))
        .await
        .expect("opened");

    let lead = team_token("altai-lead", "RU-ALT");
    let team = TeamServiceClient::new(suite.gateway().await)
        .create_team(authorised(
            &lead,
            pb::CreateTeamRequest {
                team: Some(pb::Team {
                    display_name: "Команда Алтайского края".into(),
                    level: pb::TeamLevel::Regional as i32,
                    region_code: "RU-ALT".into(),
                    ..Default::default()
                }),
                team_id: String::new(),
                request_id: uuid::Uuid::new_v4().to_string(),
            },
        ))
        .await
        .expect("team")
        .into_inner();
    let application = ApplicationServiceClient::new(suite.gateway().await)
        .create_application(at_instant(
            authorised(
                &lead,
                pb::CreateApplicationRequest {
                    parent: contest.name,
                    application: Some(pb::Application {
                        team: team.name,
                        nomination_id: "health".into(),
                        title: "Школа здоровья для всей семьи".into(),
                        ..Default::default()
                    }),
                    application_id: String::new(),
                    request_id: String::new(),
                },
            ),
            "2025-01-20T12:00:00+03:00",
        ))
        .await
        .expect("drafted")
        .into_inner();
    (application.name, lead)
}

async fn submit_at(
    suite: &TestSuite,
    lead: &str,
    name: &str,
    instant: &str,
) -> Result<pb::Application, tonic::Status> {
    ApplicationServiceClient::new(suite.gateway().await)
        .submit_application(at_instant(
            authorised(
                lead,
                pb::SubmitApplicationRequest {
                    name: name.into(),
                    etag: String::new(),
                },
            ),
            instant,
        ))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn an_application_submitted_at_23_59_on_31_january_moscow_time_is_accepted() {
    let suite = TestSuite::start().await;
    let (name, lead) = drafted_application(&suite, "in-time").await;
    let submitted = submit_at(&suite, &lead, &name, "2025-01-31T23:59:00+03:00")
        .await
        .expect("accepted");
    assert_eq!(submitted.state, pb::ApplicationState::Submitted as i32);
    suite.stop().await;
}

#[tokio::test]
async fn an_application_submitted_at_00_00_on_1_february_is_refused_with_deadline_passed() {
    let suite = TestSuite::start().await;
    let (name, lead) = drafted_application(&suite, "too-late").await;
    let refused = submit_at(&suite, &lead, &name, "2025-02-01T00:00:00+03:00")
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let details = refused.get_error_details();
    let info = details
        .error_info()
        .expect("the status details pass through the gateway");
    assert_eq!(info.reason, "DEADLINE_PASSED");
    assert_eq!(info.domain, "edu.suite");
    assert_eq!(
        info.metadata.get("closes_at").map(String::as_str),
        Some("2025-01-31T21:00:00Z")
    );
    suite.stop().await;
}

#[tokio::test]
async fn a_malformed_request_names_the_offending_fields() {
    let suite = TestSuite::start().await;
    let mut body = edu_competitions::demo::contest(2030);
    body.title = String::new();
    body.time_zone = "Moscow".into();
    body.application_deadline = Some(Date {
        year: 2030,
        month: 2,
        day: 30,
    });
    body.nominations[2].title = "  ".into();
    let status = ContestServiceClient::new(suite.gateway().await)
        .create_contest(authorised(
            &organiser_token(),
            pb::CreateContestRequest {
                contest: Some(body),
                contest_id: String::new(),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("malformed");
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    let fields: Vec<&str> = details
        .bad_request()
        .expect("BadRequest details")
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "contest.title",
            "contest.time_zone",
            "contest.application_deadline",
            "contest.nominations[2].title"
        ]
    );
    suite.stop().await;
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_refused_and_changes_nothing() {
    let suite = TestSuite::start().await;
    let mut body = edu_competitions::demo::contest(2031);
    // 5 MiB of description: over the default limit of 4 MiB.
    body.description = "д".repeat(5 * 1024 * 1024 / 2);
    let status = ContestServiceClient::new(suite.gateway().await)
        .create_contest(authorised(
            &organiser_token(),
            pb::CreateContestRequest {
                contest: Some(body),
                contest_id: "huge".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("too large");
    // RESOURCE_EXHAUSTED, as the gRPC specification has it, naming the limit; refused by the
    // gateway before any backend sees the message.
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(edu_kit::testing::reason(&status), "MESSAGE_TOO_LARGE");
    assert_eq!(
        edu_kit::testing::error_metadata(&status, "limit_bytes").as_deref(),
        Some("4194304")
    );
    let db = suite.database().await;
    let contests: i64 = sqlx::query_scalar("SELECT count(*) FROM competitions.contests")
        .fetch_one(&db)
        .await
        .expect("count");
    assert_eq!(contests, 0);
    db.close().await;
    suite.stop().await;
}
