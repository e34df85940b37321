//! Test fixtures: a fresh database, callers of each role, and a contest like the demo's.

#![allow(dead_code)]

use edu_competitions::api::{
    ApplicationsApi, CatalogueApi, ContestsApi, EventsApi, FollowUpsApi, ResultsApi, ReviewsApi,
    TeamsApi,
};
use edu_competitions::store::Store;
use edu_competitions::{MIGRATOR, SERVICE_NAME};
use edu_kit::CallContext;
use edu_kit::auth::{Caller, Claims};
use edu_kit::testing::TestDatabase;
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::contest_service_server::ContestService;
use edu_proto::edu::competitions::v1::team_service_server::TeamService;
use edu_proto::google::r#type::Date;
use jiff::Timestamp;
use tonic::{Code, Status};

/// A fresh database and the services on it.
pub struct Fixture {
    pub db: TestDatabase,
    pub contests: ContestsApi,
    pub teams: TeamsApi,
    pub applications: ApplicationsApi,
    pub reviews: ReviewsApi,
    pub results: ResultsApi,
    pub catalogue: CatalogueApi,
    pub follow_ups: FollowUpsApi,
    pub events: EventsApi,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let db = TestDatabase::create(SERVICE_NAME, SERVICE_NAME, &MIGRATOR).await;
        let store = Store::new(db.pool().clone());
        Fixture {
            contests: ContestsApi::new(store.clone()),
            teams: TeamsApi::new(store.clone()),
            applications: ApplicationsApi::new(store.clone()),
            reviews: ReviewsApi::new(store.clone()),
            results: ResultsApi::new(store.clone()),
            catalogue: CatalogueApi::new(store.clone()),
            follow_ups: FollowUpsApi::new(store.clone()),
            events: EventsApi::new(store),
            db,
        }
    }

    /// The audit log of `resource`, oldest first: (action, actor).
    pub async fn audit(&self, resource: &str) -> Vec<(String, String)> {
        sqlx::query_as("SELECT action, actor FROM audit_log WHERE resource = $1 ORDER BY id")
            .bind(resource)
            .fetch_all(self.db.pool())
            .await
            .expect("audit log")
    }

    /// How many rows `sql` counts.
    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.db.pool())
            .await
            .expect("count")
    }
}

pub fn at(instant: &str) -> Timestamp {
    instant.parse().expect("instant")
}

/// A caller with roles and scopes.
pub fn caller(subject: &str, roles: &[&str], scopes: &[&str]) -> Caller {
    Caller::from_claims(Claims {
        sub: subject.into(),
        name: Some(format!("Имя {subject}")),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    })
}

pub fn organiser() -> Caller {
    caller("organiser", &["competitions.organiser"], &[])
}

pub fn team_person(subject: &str, region: &str) -> Caller {
    caller(
        subject,
        &["competitions.team"],
        &[&format!("region:{region}")],
    )
}

/// An expert (role `competitions.expert`) with subject `subject`.
pub fn expert(subject: &str) -> Caller {
    caller(subject, &["competitions.expert"], &[])
}

/// A request without a token, as the pipeline hands a public method's call to a handler.
pub fn anonymous<T>(now: Timestamp, body: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(body);
    request.extensions_mut().insert(CallContext::new(
        None,
        uuid::Uuid::new_v4().to_string(),
        None,
        now,
    ));
    request
}

/// A request as the pipeline hands it to a handler: with the caller and the instant.
pub fn request<T>(caller: &Caller, now: Timestamp, body: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(body);
    request.extensions_mut().insert(CallContext::new(
        Some(caller.clone()),
        uuid::Uuid::new_v4().to_string(),
        None,
        now,
    ));
    request
}

/// A contest with the demo's dates: deadline 31 January 2025 (Moscow), results by 22 March.
pub fn contest_body(title: &str) -> pb::Contest {
    pb::Contest {
        title: title.into(),
        organiser: "Агентство стратегических инициатив".into(),
        time_zone: "Europe/Moscow".into(),
        application_deadline: Some(Date {
            year: 2025,
            month: 1,
            day: 31,
        }),
        results_due: Some(Date {
            year: 2025,
            month: 3,
            day: 22,
        }),
        nominations: vec![
            pb::Nomination {
                id: "health".into(),
                title: "Здоровьесбережение с детства".into(),
                description: String::new(),
            },
            pb::Nomination {
                id: "family".into(),
                title: "Благополучие семей с детьми".into(),
                description: String::new(),
            },
        ],
        ..Default::default()
    }
}

/// Before the contest opens.
pub const BEFORE: &str = "2024-12-01T10:00:00+03:00";
/// While it accepts applications.
pub const DURING: &str = "2025-01-15T12:00:00+03:00";

/// Creates and opens a contest; returns its name.
pub async fn open_contest(fx: &Fixture, id: &str, body: pb::Contest) -> String {
    let created = fx
        .contests
        .create_contest(request(
            &organiser(),
            at(BEFORE),
            pb::CreateContestRequest {
                contest: Some(body),
                contest_id: id.into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("create contest")
        .into_inner();
    fx.contests
        .open_contest(request(
            &organiser(),
            at(BEFORE),
            pb::OpenContestRequest {
                name: created.name.clone(),
                etag: String::new(),
            },
        ))
        .await
        .expect("open contest");
    created.name
}

/// Registers a regional team led by `lead`; returns its name.
pub async fn regional_team(fx: &Fixture, lead: &Caller, id: &str, region: &str) -> String {
    fx.teams
        .create_team(request(
            lead,
            at(BEFORE),
            pb::CreateTeamRequest {
                team: Some(pb::Team {
                    display_name: format!("Команда {region}"),
                    level: pb::TeamLevel::Regional as i32,
                    region_code: region.into(),
                    ..Default::default()
                }),
                team_id: id.into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("create team")
        .into_inner()
        .name
}

pub use edu_kit::testing::{assert_refused, error_metadata, reason};

/// Asserts that `status` is `code` with the `ErrorInfo` reason `expected`.
#[track_caller]
pub fn assert_status(status: &Status, code: Code, expected: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(reason(status), expected, "{status:?}");
}

/// The offending fields of an `INVALID_ARGUMENT` status.
#[track_caller]
pub fn bad_fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    edu_kit::testing::bad_fields(status)
}

/// After the deadline, while experts review.
pub const REVIEWING: &str = "2025-02-10T12:00:00+03:00";
/// On the results day.
pub const RESULTS_DAY: &str = "2025-03-22T12:00:00+03:00";

/// The rubric of the review tests: relevance 0-10 (weight 3), impact 0-10 (weight 1).
pub fn rubric() -> Vec<pb::Criterion> {
    [("relevance", 3), ("impact", 1)]
        .iter()
        .map(|(id, weight)| pb::Criterion {
            id: (*id).into(),
            title: (*id).into(),
            description: String::new(),
            min_score: 0,
            max_score: 10,
            weight: *weight,
        })
        .collect()
}

/// A submitted application and the lead of its team.
pub struct Submitted {
    pub name: String,
    pub team: String,
    pub lead: Caller,
}

/// A contest with the review rubric and `experts_per_application`, one submitted
/// application per `(team id, region, nomination, title)`, closed for review.
pub async fn closed_contest(
    fx: &Fixture,
    id: &str,
    experts_per_application: i32,
    applications: &[(&str, &str, &str, &str)],
) -> (String, Vec<Submitted>) {
    let mut body = contest_body("Детство без границ");
    body.criteria = rubric();
    body.experts_per_application = experts_per_application;
    let contest = open_contest(fx, id, body).await;
    let mut submitted = Vec::new();
    for (team_id, region, nomination, title) in applications {
        let lead = team_person(&format!("{team_id}-lead"), region);
        let team = regional_team(fx, &lead, team_id, region).await;
        let draft = fx
            .applications
            .create_application(request(
                &lead,
                at(DURING),
                pb::CreateApplicationRequest {
                    parent: contest.clone(),
                    application: Some(pb::Application {
                        team: team.clone(),
                        nomination_id: (*nomination).into(),
                        title: (*title).into(),
                        summary: format!("{title}: краткое описание"),
                        description: "Практика реализуется в регионе с 2022 года.".into(),
                        ..Default::default()
                    }),
                    application_id: String::new(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("drafted")
            .into_inner();
        use edu_proto::edu::competitions::v1::application_service_server::ApplicationService;
        fx.applications
            .submit_application(request(
                &lead,
                at(DURING),
                pb::SubmitApplicationRequest {
                    name: draft.name.clone(),
                    etag: String::new(),
                },
            ))
            .await
            .expect("submitted");
        submitted.push(Submitted {
            name: draft.name,
            team,
            lead,
        });
    }
    fx.contests
        .close_contest(request(
            &organiser(),
            at(REVIEWING),
            pb::CloseContestRequest {
                name: contest.clone(),
                etag: String::new(),
            },
        ))
        .await
        .expect("closed");
    (contest, submitted)
}

/// Registers an expert; returns the expert's name.
pub async fn register_expert(fx: &Fixture, contest: &str, subject: &str, region: &str) -> String {
    use edu_proto::edu::competitions::v1::review_service_server::ReviewService;
    fx.reviews
        .create_expert(request(
            &organiser(),
            at(REVIEWING),
            pb::CreateExpertRequest {
                parent: contest.into(),
                expert: Some(pb::Expert {
                    subject: subject.into(),
                    display_name: format!("Эксперт {subject}"),
                    region_code: region.into(),
                    organisation: "МГППУ".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("expert registered")
        .into_inner()
        .name
}

/// Assigns an expert by hand.
pub async fn assign(fx: &Fixture, application: &str, expert: &str) -> Result<pb::Review, Status> {
    use edu_proto::edu::competitions::v1::review_service_server::ReviewService;
    fx.reviews
        .create_review(request(
            &organiser(),
            at(REVIEWING),
            pb::CreateReviewRequest {
                parent: application.into(),
                review: Some(pb::Review {
                    expert: expert.into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

/// The expert scores (relevance, impact), writes feedback and completes the review.
pub async fn complete(
    fx: &Fixture,
    who: &Caller,
    review: &str,
    relevance: i32,
    impact: i32,
) -> Result<pb::Review, Status> {
    use edu_proto::edu::competitions::v1::review_service_server::ReviewService;
    fx.reviews
        .update_review(request(
            who,
            at(REVIEWING),
            pb::UpdateReviewRequest {
                review: Some(pb::Review {
                    name: review.into(),
                    scores: vec![
                        pb::CriterionScore {
                            criterion_id: "relevance".into(),
                            score: relevance,
                        },
                        pb::CriterionScore {
                            criterion_id: "impact".into(),
                            score: impact,
                        },
                    ],
                    feedback: "Практика хорошо описана; стоит добавить измеримые результаты."
                        .into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["scores".into(), "feedback".into()],
                }),
            },
        ))
        .await?;
    fx.reviews
        .complete_review(request(
            who,
            at(REVIEWING),
            pb::CompleteReviewRequest {
                name: review.into(),
                etag: String::new(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

/// Chooses `winners` in `nomination`, with a reason when given.
pub async fn set_winners(
    fx: &Fixture,
    contest: &str,
    nomination: &str,
    winners: &[&str],
    reason: &str,
) -> Result<pb::Ranking, Status> {
    use edu_proto::edu::competitions::v1::results_service_server::ResultsService;
    fx.results
        .set_winners(request(
            &organiser(),
            at(RESULTS_DAY),
            pb::SetWinnersRequest {
                contest: contest.into(),
                nomination_id: nomination.into(),
                applications: winners.iter().map(|w| w.to_string()).collect(),
                departure_reason: reason.into(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

/// Announces the results at `now`.
pub async fn announce(
    fx: &Fixture,
    contest: &str,
    now: &str,
) -> Result<pb::AnnounceResultsResponse, Status> {
    use edu_proto::edu::competitions::v1::results_service_server::ResultsService;
    fx.results
        .announce_results(request(
            &organiser(),
            at(now),
            pb::AnnounceResultsRequest {
                name: contest.into(),
                etag: String::new(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}
