//! Rules 2-4: applications, the deadline in the contest's zone, the per-team limit, frozen
//! submissions, withdrawal, and who may see what.

use edu_kit::auth::Caller;
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::application_service_server::ApplicationService;
use edu_proto::edu::competitions::v1::contest_service_server::ContestService;
use tonic::{Code, Status};

use crate::common::*;

fn draft(contest: &str, team: &str, nomination: &str, title: &str) -> pb::CreateApplicationRequest {
    pb::CreateApplicationRequest {
        parent: contest.into(),
        application: Some(pb::Application {
            team: team.into(),
            nomination_id: nomination.into(),
            title: title.into(),
            summary: "Краткое описание практики".into(),
            ..Default::default()
        }),
        application_id: String::new(),
        request_id: String::new(),
    }
}

async fn create(
    fx: &Fixture,
    who: &Caller,
    now: &str,
    body: pb::CreateApplicationRequest,
) -> Result<pb::Application, Status> {
    fx.applications
        .create_application(request(who, at(now), body))
        .await
        .map(|r| r.into_inner())
}

async fn submit(
    fx: &Fixture,
    who: &Caller,
    now: &str,
    name: &str,
) -> Result<pb::Application, Status> {
    fx.applications
        .submit_application(request(
            who,
            at(now),
            pb::SubmitApplicationRequest {
                name: name.into(),
                etag: String::new(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

/// An open contest, a team in Altai Krai, and its lead.
async fn setup(fx: &Fixture) -> (String, String, Caller) {
    let contest = open_contest(fx, "detstvo", contest_body("Детство без границ")).await;
    let lead = team_person("altai-lead", "RU-ALT");
    let team = regional_team(fx, &lead, "altai", "RU-ALT").await;
    (contest, team, lead)
}

#[tokio::test]
async fn submitted_at_23_59_on_31_january_moscow_time_is_accepted() {
    let fx = Fixture::new().await;
    let (contest, team, lead) = setup(&fx).await;
    let app = create(
        &fx,
        &lead,
        DURING,
        draft(&contest, &team, "health", "Школа здоровья"),
    )
    .await
    .expect("drafted");
    let submitted = submit(&fx, &lead, "2025-01-31T23:59:00+03:00", &app.name)
        .await
        .expect("in time");
    assert_eq!(submitted.state, pb::ApplicationState::Submitted as i32);
    assert_eq!(submitted.region_code, "RU-ALT");
}

#[tokio::test]
async fn submitted_at_midnight_on_1_february_is_refused_with_deadline_passed() {
    let fx = Fixture::new().await;
    let (contest, team, lead) = setup(&fx).await;
    let app = create(
        &fx,
        &lead,
        DURING,
        draft(&contest, &team, "health", "Школа здоровья"),
    )
    .await
    .expect("drafted");
    assert_refused(
        submit(&fx, &lead, "2025-02-01T00:00:00+03:00", &app.name).await,
        Code::FailedPrecondition,
        "DEADLINE_PASSED",
    );
    // The caller's own zone does not matter: 06:30 in Vladivostok on 1 February is 23:30
    // on 31 January in Moscow.
    submit(&fx, &lead, "2025-02-01T06:30:00+10:00", &app.name)
        .await
        .expect("still 31 January in Moscow");
    // Nothing is drafted after the deadline either.
    assert_refused(
        create(
            &fx,
            &lead,
            "2025-02-01T00:00:00+03:00",
            draft(&contest, &team, "family", "Поздно"),
        )
        .await,
        Code::FailedPrecondition,
        "DEADLINE_PASSED",
    );
}

#[tokio::test]
async fn applications_need_an_open_contest() {
    let fx = Fixture::new().await;
    let lead = team_person("lead", "RU-ALT");
    let team = regional_team(&fx, &lead, "altai", "RU-ALT").await;
    fx.contests
        .create_contest(request(
            &organiser(),
            at(BEFORE),
            pb::CreateContestRequest {
                contest: Some(contest_body("Черновик")),
                contest_id: "draft".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("draft");
    assert_refused(
        create(
            &fx,
            &lead,
            DURING,
            draft("contests/draft", &team, "health", "x"),
        )
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );

    let cancelled = open_contest(&fx, "cancelled", contest_body("Отменённый")).await;
    fx.contests
        .cancel_contest(request(
            &organiser(),
            at(DURING),
            pb::CancelContestRequest {
                name: cancelled.clone(),
                reason: "Отменён".into(),
                etag: String::new(),
            },
        ))
        .await
        .expect("cancelled");
    assert_refused(
        create(&fx, &lead, DURING, draft(&cancelled, &team, "health", "x")).await,
        Code::FailedPrecondition,
        "CONTEST_NOT_OPEN",
    );
}

#[tokio::test]
async fn only_members_act_for_a_team() {
    let fx = Fixture::new().await;
    let (contest, team, _) = setup(&fx).await;
    let stranger = team_person("stranger", "RU-ALT");
    assert_refused(
        create(
            &fx,
            &stranger,
            DURING,
            draft(&contest, &team, "health", "Чужая заявка"),
        )
        .await,
        Code::PermissionDenied,
        "NOT_TEAM_MEMBER",
    );
    // The answer is the same for a team that does not exist.
    assert_refused(
        create(
            &fx,
            &stranger,
            DURING,
            draft(&contest, "teams/nobody", "health", "x"),
        )
        .await,
        Code::PermissionDenied,
        "NOT_TEAM_MEMBER",
    );
}

#[tokio::test]
async fn a_team_level_the_contest_excludes_is_refused() {
    let fx = Fixture::new().await;
    let mut body = contest_body("Только муниципальные команды");
    body.eligible_levels = vec![pb::TeamLevel::Municipal as i32];
    let contest = open_contest(&fx, "municipal-only", body).await;
    let lead = team_person("lead", "RU-ALT");
    let team = regional_team(&fx, &lead, "altai", "RU-ALT").await;
    assert_refused(
        create(&fx, &lead, DURING, draft(&contest, &team, "health", "x")).await,
        Code::FailedPrecondition,
        "TEAM_LEVEL_NOT_ELIGIBLE",
    );
}

#[tokio::test]
async fn an_unknown_nomination_and_an_empty_title_are_named() {
    let fx = Fixture::new().await;
    let (contest, team, lead) = setup(&fx).await;
    let status = create(&fx, &lead, DURING, draft(&contest, &team, "space", ""))
        .await
        .expect_err("malformed");
    assert_eq!(
        bad_fields(&status),
        ["application.nomination_id", "application.title"]
    );
}

/// Issue 12, item 6: an empty application names every missing field in one answer, not the
/// team first and the rest after.
#[tokio::test]
async fn an_empty_application_names_every_missing_field_at_once() {
    let fx = Fixture::new().await;
    let (contest, _team, lead) = setup(&fx).await;
    let status = create(
        &fx,
        &lead,
        DURING,
        pb::CreateApplicationRequest {
            parent: contest,
            application: Some(pb::Application::default()),
            application_id: String::new(),
            request_id: String::new(),
        },
    )
    .await
    .expect_err("empty");
    assert_eq!(
        bad_fields(&status),
        [
            "application.team",
            "application.nomination_id",
            "application.title"
        ]
    );
}

#[tokio::test]
async fn twenty_concurrent_drafts_of_one_team_in_one_nomination_make_one_application() {
    let fx = Fixture::new().await;
    let (contest, team, lead) = setup(&fx).await;
    let drafts = (0..20).map(|i| {
        create(
            &fx,
            &lead,
            DURING,
            draft(&contest, &team, "health", &format!("Вариант {i}")),
        )
    });
    let results = futures::future::join_all(drafts).await;
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
        assert_eq!(reason(refused), "APPLICATION_LIMIT_REACHED");
    }
    assert_eq!(accepted, 1);
    assert_eq!(
        fx.count("SELECT count(*) FROM competitions.applications")
            .await,
        1
    );
    // Another nomination is another place.
    create(
        &fx,
        &lead,
        DURING,
        draft(&contest, &team, "family", "Семейный клуб"),
    )
    .await
    .expect("other nomination");
}

#[tokio::test]
async fn the_contest_sets_the_limit_and_concurrency_does_not_exceed_it() {
    let fx = Fixture::new().await;
    let mut body = contest_body("Три заявки на номинацию");
    body.max_applications_per_team = 3;
    let contest = open_contest(&fx, "three", body).await;
    let lead = team_person("lead", "RU-ALT");
    let team = regional_team(&fx, &lead, "altai", "RU-ALT").await;
    let drafts = (0..12).map(|i| {
        create(
            &fx,
            &lead,
            DURING,
            draft(&contest, &team, "health", &format!("Вариант {i}")),
        )
    });
    let accepted = futures::future::join_all(drafts)
        .await
        .into_iter()
        .filter(Result::is_ok)
        .count();
    assert_eq!(accepted, 3);
}

#[tokio::test]
async fn a_withdrawn_application_frees_its_place() {
    let fx = Fixture::new().await;
    let (contest, team, lead) = setup(&fx).await;
    let first = create(
        &fx,
        &lead,
        DURING,
        draft(&contest, &team, "health", "Первая"),
    )
    .await
    .expect("first");
    submit(&fx, &lead, DURING, &first.name)
        .await
        .expect("submitted");
    let withdrawn = fx
        .applications
        .withdraw_application(request(
            &lead,
            at(DURING),
            pb::WithdrawApplicationRequest {
                name: first.name.clone(),
                etag: String::new(),
            },
        ))
        .await
        .expect("withdrawn")
        .into_inner();
    assert_eq!(withdrawn.state, pb::ApplicationState::Withdrawn as i32);
    create(
        &fx,
        &lead,
        DURING,
        draft(&contest, &team, "health", "Вторая"),
    )
    .await
    .expect("the place is free again");
}

#[tokio::test]
async fn a_submitted_application_is_frozen_and_withdrawal_ends_at_the_deadline() {
    let fx = Fixture::new().await;
    let (contest, team, lead) = setup(&fx).await;
    let app = create(
        &fx,
        &lead,
        DURING,
        draft(&contest, &team, "health", "Школа здоровья"),
    )
    .await
    .expect("drafted");
    let submitted = submit(&fx, &lead, DURING, &app.name)
        .await
        .expect("submitted");
    let mut changed = submitted.clone();
    changed.title = "Другое название".into();
    let update = fx
        .applications
        .update_application(request(
            &lead,
            at(DURING),
            pb::UpdateApplicationRequest {
                application: Some(changed),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["title".into()],
                }),
            },
        ))
        .await;
    assert_refused(update, Code::FailedPrecondition, "APPLICATION_FROZEN");
    let late = fx
        .applications
        .withdraw_application(request(
            &lead,
            at("2025-02-01T00:00:00+03:00"),
            pb::WithdrawApplicationRequest {
                name: app.name.clone(),
                etag: String::new(),
            },
        ))
        .await;
    assert_refused(late, Code::FailedPrecondition, "DEADLINE_PASSED");
    let actions: Vec<String> = fx
        .audit(&app.name)
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(actions, ["application.drafted", "application.submitted"]);
}

#[tokio::test]
async fn drafts_change_by_field_mask_until_submitted() {
    let fx = Fixture::new().await;
    let (contest, team, lead) = setup(&fx).await;
    let app = create(
        &fx,
        &lead,
        DURING,
        draft(&contest, &team, "health", "Черновик"),
    )
    .await
    .expect("drafted");
    let mut changed = app.clone();
    changed.title = "Школа здоровья".into();
    changed.summary = "не меняется: нет в маске".into();
    let updated = fx
        .applications
        .update_application(request(
            &lead,
            at(DURING),
            pb::UpdateApplicationRequest {
                application: Some(changed.clone()),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["title".into()],
                }),
            },
        ))
        .await
        .expect("updated")
        .into_inner();
    assert_eq!(updated.title, "Школа здоровья");
    assert_eq!(updated.summary, app.summary);
    let immutable = fx
        .applications
        .update_application(request(
            &lead,
            at(DURING),
            pb::UpdateApplicationRequest {
                application: Some(changed),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["team".into()],
                }),
            },
        ))
        .await
        .expect_err("team is immutable");
    assert_eq!(bad_fields(&immutable), ["update_mask"]);
}

#[tokio::test]
async fn other_teams_do_not_see_an_application_and_organisers_only_read_it() {
    let fx = Fixture::new().await;
    let (contest, team, lead) = setup(&fx).await;
    let app = create(
        &fx,
        &lead,
        DURING,
        draft(&contest, &team, "health", "Школа здоровья"),
    )
    .await
    .expect("drafted");

    let other = team_person("saratov-lead", "RU-SAR");
    regional_team(&fx, &other, "saratov", "RU-SAR").await;
    let get = |who: &Caller| {
        fx.applications.get_application(request(
            who,
            at(DURING),
            pb::GetApplicationRequest {
                name: app.name.clone(),
            },
        ))
    };
    assert_refused(get(&other).await, Code::NotFound, "NOT_FOUND");
    let listed = fx
        .applications
        .list_applications(request(
            &other,
            at(DURING),
            pb::ListApplicationsRequest {
                parent: "contests/-".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.applications.is_empty());

    get(&organiser())
        .await
        .expect("organisers read every application");
    assert_refused(
        submit(&fx, &organiser(), DURING, &app.name).await,
        Code::PermissionDenied,
        "NOT_TEAM_MEMBER",
    );
    assert_refused(
        submit(&fx, &other, DURING, &app.name).await,
        Code::NotFound,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn submissions_racing_a_cancellation_neither_deadlock_nor_go_missing() {
    let fx = Fixture::new().await;
    let contest = open_contest(&fx, "race", contest_body("Гонка")).await;
    let mut apps = Vec::new();
    for i in 0..12 {
        let lead = team_person(&format!("lead-{i}"), "RU-ALT");
        let team = regional_team(&fx, &lead, &format!("team-{i}"), "RU-ALT").await;
        let app = create(
            &fx,
            &lead,
            DURING,
            draft(&contest, &team, "health", "Практика"),
        )
        .await
        .expect("drafted");
        apps.push((lead, app.name));
    }
    let submissions = futures::future::join_all(
        apps.iter()
            .map(|(lead, name)| submit(&fx, lead, DURING, name)),
    );
    let cancel = fx.contests.cancel_contest(request(
        &organiser(),
        at(DURING),
        pb::CancelContestRequest {
            name: contest.clone(),
            reason: "Отмена во время подачи".into(),
            etag: String::new(),
        },
    ));
    let (results, cancelled) = tokio::join!(submissions, cancel);
    cancelled.expect("the cancellation succeeds");
    let mut accepted = 0;
    for result in results {
        match result {
            Ok(_) => accepted += 1,
            Err(status) => assert_eq!(reason(&status), "CONTEST_NOT_OPEN", "{status:?}"),
        }
    }
    assert_eq!(
        fx.count("SELECT count(*) FROM competitions.applications WHERE state = 'SUBMITTED'")
            .await,
        accepted
    );
}
