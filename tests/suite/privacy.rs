//! Issue 11, defect 8: personal data never reaches the database server's log. An expected
//! conflict on a personal value (an identity document, a person's subject) used to raise a
//! unique violation, which Postgres logs with `DETAIL: Key (…)=(…)`; every service now
//! decides such conflicts from `INSERT … ON CONFLICT DO NOTHING`. The test drives the
//! duplicate paths of both services through the gateway and reads the server's log between
//! two markers: no personal value, and no error of the suite's database at all.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use edu_certificates::demo;
use edu_kit::auth::dev::DevToken;
use edu_kit::wire;
use edu_proto::edu::certificates::v1 as cert;
use edu_proto::edu::certificates::v1::certificate_service_client::CertificateServiceClient;
use edu_proto::edu::certificates::v1::programme_service_client::ProgrammeServiceClient;
use edu_proto::edu::competitions::v1 as comp;
use edu_proto::edu::competitions::v1::team_service_client::TeamServiceClient;
use jiff::civil::date;
use sqlx::AssertSqlSafe;
use tonic::Code;

use crate::harness::*;

/// The server's log: `EDU_TEST_POSTGRES_LOG`, else the file the server says it writes, else
/// Debian's default for the running major version.
async fn server_log(pool: &sqlx::PgPool) -> PathBuf {
    if let Ok(path) = std::env::var("EDU_TEST_POSTGRES_LOG") {
        return PathBuf::from(path);
    }
    let (current, data_directory, version): (Option<String>, String, String) = sqlx::query_as(
        "SELECT pg_current_logfile(), current_setting('data_directory'),
                current_setting('server_version_num')",
    )
    .fetch_one(pool)
    .await
    .expect("log settings");
    if let Some(file) = current {
        return PathBuf::from(data_directory).join(file);
    }
    let major = version.get(..2).unwrap_or("15");
    PathBuf::from(format!("/var/log/postgresql/postgresql-{major}-main.log"))
}

/// Writes `marker` to the server's log and waits until it is there; returns the log's
/// length after it.
async fn mark(pool: &sqlx::PgPool, log: &PathBuf, marker: &str) -> usize {
    sqlx::query(AssertSqlSafe(format!(
        "DO $$ BEGIN RAISE LOG '{marker}'; END $$"
    )))
    .execute(pool)
    .await
    .expect("marker");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_else(|e| {
            panic!(
                "the test reads the Postgres server log at {} (set EDU_TEST_POSTGRES_LOG): {e}",
                log.display()
            )
        });
        if let Some(at) = text.find(marker) {
            return at + marker.len();
        }
        assert!(
            Instant::now() < deadline,
            "{marker} never reached {}: not this server's log (set EDU_TEST_POSTGRES_LOG)",
            log.display()
        );
        // The server writes its log asynchronously to us; wait for the line, not a guess.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn duplicate_personal_values_leave_no_trace_in_the_database_log() {
    let suite = TestSuite::start().await;
    let pool = suite.database().await;
    let log = server_log(&pool).await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let start = mark(&pool, &log, &format!("edu-privacy-start-{run}")).await;

    // Certificates: the same child (identity document) twice, a certificate issued twice,
    // and a provider with a tax ID already registered.
    demo::load(suite.gateway().await).await.expect("demo");
    let operator = DevToken::new("e2e-moc")
        .role("certificates.operator")
        .scope(format!(
            "municipality:{}/{}",
            demo::REGION,
            demo::MUNICIPALITY
        ))
        .sign();
    let document = format!("II-ПР {}", &run[..8]);
    let mut certificates = CertificateServiceClient::new(suite.gateway().await);
    let child = |request_id: &str| cert::CreateChildRequest {
        child: Some(cert::Child {
            display_name: "Тестовый Ребёнок".into(),
            identity_document: document.clone(),
            birth_date: Some(wire::date(date(2015, 3, 1))),
            region_code: demo::REGION.into(),
            municipality_code: demo::MUNICIPALITY.into(),
            consent: Some(cert::Consent {
                parent_subject: format!("parent-{run}"),
                parent_name: "Тестовая Мать".into(),
                give_time: Some(wire::timestamp("2024-09-01T00:00:00Z".parse().expect("t"))),
            }),
            ..Default::default()
        }),
        request_id: request_id.into(),
    };
    const DURING: &str = "2024-10-05T10:00:00+07:00";
    let first = certificates
        .create_child(at_instant(authorised(&operator, child("first")), DURING))
        .await
        .expect("registered")
        .into_inner();
    let again = certificates
        .create_child(at_instant(authorised(&operator, child("second")), DURING))
        .await
        .expect_err("the same document");
    assert_eq!(again.code(), Code::AlreadyExists);
    for request_id in ["issue-1", "issue-2"] {
        let issued = certificates
            .issue_certificate(at_instant(
                authorised(
                    &operator,
                    cert::IssueCertificateRequest {
                        child: first.name.clone(),
                        request_id: request_id.into(),
                    },
                ),
                DURING,
            ))
            .await;
        if request_id == "issue-2" {
            assert_eq!(issued.expect_err("once ever").code(), Code::AlreadyExists);
        } else {
            issued.expect("issued");
        }
    }
    let tax_id = format!(
        "99{}",
        &run[..8].replace(|c: char| !c.is_ascii_digit(), "7")
    );
    for (id, expected) in [("privacy-a", Code::Ok), ("privacy-b", Code::AlreadyExists)] {
        let created = ProgrammeServiceClient::new(suite.gateway().await)
            .create_provider(authorised(
                &operator,
                cert::CreateProviderRequest {
                    provider: Some(cert::Provider {
                        display_name: "ИП Тестов".into(),
                        tax_id: tax_id.clone(),
                        region_code: demo::REGION.into(),
                        municipality_code: demo::MUNICIPALITY.into(),
                        ..Default::default()
                    }),
                    provider_id: id.into(),
                    request_id: String::new(),
                },
            ))
            .await;
        assert_eq!(created.err().map_or(Code::Ok, |s| s.code()), expected);
    }

    // Competitions: a team, and the same person (subject) added to it twice.
    let lead = team_token("privacy-lead", "RU-ALT");
    let mut teams = TeamServiceClient::new(suite.gateway().await);
    let team = teams
        .create_team(authorised(
            &lead,
            comp::CreateTeamRequest {
                team: Some(comp::Team {
                    display_name: "Команда приватности".into(),
                    level: comp::TeamLevel::Regional as i32,
                    region_code: "RU-ALT".into(),
                    ..Default::default()
                }),
                team_id: format!("privacy-{}", &run[..8]),
                request_id: String::new(),
            },
        ))
        .await
        .expect("team")
        .into_inner();
    let person = format!("snils-{run}");
    for (n, expected) in [(1, Code::Ok), (2, Code::AlreadyExists)] {
        let added = teams
            .create_team_member(authorised(
                &lead,
                comp::CreateTeamMemberRequest {
                    parent: team.name.clone(),
                    member: Some(comp::TeamMember {
                        subject: person.clone(),
                        display_name: format!("Участник {n}"),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await;
        assert_eq!(added.err().map_or(Code::Ok, |s| s.code()), expected);
    }

    let end = mark(&pool, &log, &format!("edu-privacy-end-{run}")).await;
    let text = std::fs::read_to_string(&log).expect("log");
    let between = &text[start..end];
    for personal in [document.as_str(), person.as_str(), tax_id.as_str()] {
        assert!(
            !between.contains(personal),
            "{personal} is in the server log:\n{between}"
        );
    }
    let errors: Vec<&str> = between
        .lines()
        .filter(|line| line.contains(suite.database_name()) && line.contains("ERROR"))
        .collect();
    assert!(
        errors.is_empty(),
        "the suite's services raised errors in the database:\n{}",
        errors.join("\n")
    );
    suite.stop().await;
}
