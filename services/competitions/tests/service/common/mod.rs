//! Test fixtures: a fresh database, callers of each role, and a contest like the demo's.

#![allow(dead_code)]

use edu_competitions::api::{ApplicationsApi, ContestsApi, TeamsApi};
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

/// A fresh database and the three services on it.
pub struct Fixture {
    pub db: TestDatabase,
    pub contests: ContestsApi,
    pub teams: TeamsApi,
    pub applications: ApplicationsApi,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let db = TestDatabase::create(SERVICE_NAME, SERVICE_NAME, &MIGRATOR).await;
        let store = Store::new(db.pool().clone());
        Fixture {
            contests: ContestsApi::new(store.clone()),
            teams: TeamsApi::new(store.clone()),
            applications: ApplicationsApi::new(store),
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

pub use edu_kit::testing::{assert_refused, reason};

/// The offending fields of an `INVALID_ARGUMENT` status.
#[track_caller]
pub fn bad_fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    edu_kit::testing::bad_fields(status)
}
