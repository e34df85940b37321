//! `MonitoringService` through its handlers: rounds opened, listed (also region-wide by the
//! regional centre, who never sees a person), questionnaires answered by their respondent,
//! a guardian or staff on paper, results assessed, rounds submitted on time or late in
//! Saratov's zone; every refusal the contract lists for the api, tenancy and redaction.

use edu_kit::testing::{bad_fields, error_metadata, reason};
use edu_kit::wire;
use edu_mentoring::api::MonitoringApi;
use edu_mentoring::domain::ParticipantRole;
use edu_mentoring::store::institutions::{self, InstitutionDraft};
use edu_mentoring::store::plans::{self, ActivityDraft};
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::monitoring_service_server::MonitoringService;
use jiff::Timestamp;
use jiff::civil::date;
use tonic::Code;

use crate::callers::{
    at, caller, curator, director, event_consumer, guardian, now, outsider, participant,
    regional_centre, request,
};
use crate::common::{
    Fixture, INST, MENTOR, PUPIL, activate, appoint, context, in_tx, person, ready_pair, revoke,
    who,
};

const MAY: &str = "institutions/mechta/monitoringRounds/2025-05";
const DECEMBER_2024: &str = "institutions/mechta/monitoringRounds/2024-12";

fn api(fx: &Fixture) -> MonitoringApi {
    MonitoringApi::new(fx.store.clone())
}

/// Two ACTIVE counsellor–pupil pairs: `p` of mentor `m` and minor `k`, `q` of `m2` and `k2`.
async fn scene() -> Fixture {
    let fx = Fixture::new().await;
    for (mentor, mentee, pair) in [("m", "k", "p"), ("m2", "k2", "q")] {
        person(&fx, mentor, MENTOR).await;
        person(&fx, mentee, PUPIL).await;
        ready_pair(&fx, pair, mentor, mentee).await;
        activate(&fx, pair).await.expect("active");
    }
    fx
}

fn create(
    parent: &str,
    season: pb::MonitoringSeason,
    year: i32,
) -> pb::CreateMonitoringRoundRequest {
    pb::CreateMonitoringRoundRequest {
        parent: parent.into(),
        monitoring_round: Some(pb::MonitoringRound {
            season: season as i32,
            year,
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

/// The round due 20 May 2025 with the standard questions, opened by the director.
async fn open_may(fx: &Fixture) -> pb::MonitoringRound {
    api(fx)
        .create_monitoring_round(request(
            &director(),
            now(),
            create("institutions/mechta", pb::MonitoringSeason::May, 2025),
        ))
        .await
        .expect("round")
        .into_inner()
}

fn questionnaire(round: &str, id: &str) -> String {
    format!("{round}/questionnaires/{id}")
}

fn result(round: &str, pair: &str) -> String {
    format!("{round}/pairResults/{pair}")
}

fn score(question: &str, score: i32) -> pb::Answer {
    pb::Answer {
        question_id: question.into(),
        score,
        text: String::new(),
    }
}

fn text(question: &str, text: &str) -> pb::Answer {
    pb::Answer {
        question_id: question.into(),
        score: 0,
        text: text.into(),
    }
}

fn answer(name: &str, answers: Vec<pb::Answer>) -> pb::SubmitQuestionnaireRequest {
    pb::SubmitQuestionnaireRequest {
        name: name.into(),
        answers,
        etag: String::new(),
        request_id: String::new(),
    }
}

fn list_questionnaires(parent: &str) -> pb::ListQuestionnairesRequest {
    pb::ListQuestionnairesRequest {
        parent: parent.into(),
        ..Default::default()
    }
}

fn list_results(parent: &str) -> pb::ListPairResultsRequest {
    pb::ListPairResultsRequest {
        parent: parent.into(),
        ..Default::default()
    }
}

fn list_rounds(parent: &str) -> pb::ListMonitoringRoundsRequest {
    pb::ListMonitoringRoundsRequest {
        parent: parent.into(),
        ..Default::default()
    }
}

fn assess(
    name: &str,
    assessment: pb::PairAssessment,
    conclusion: &str,
) -> pb::UpdatePairResultRequest {
    pb::UpdatePairResultRequest {
        pair_result: Some(pb::PairResult {
            name: name.into(),
            assessment: assessment as i32,
            conclusion: conclusion.into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: if conclusion.is_empty() {
                vec!["assessment".into()]
            } else {
                vec!["assessment".into(), "conclusion".into()]
            },
        }),
    }
}

fn submit(name: &str) -> pb::SubmitMonitoringRoundRequest {
    pb::SubmitMonitoringRoundRequest {
        name: name.into(),
        ..Default::default()
    }
}

/// Both pairs of `round` assessed EFFECTIVE by the director.
async fn assess_both(fx: &Fixture, round: &str) {
    for pair in ["p", "q"] {
        api(fx)
            .update_pair_result(request(
                &director(),
                now(),
                assess(&result(round, pair), pb::PairAssessment::Effective, ""),
            ))
            .await
            .expect("assessed");
    }
}

fn names_of(page: &pb::ListQuestionnairesResponse) -> Vec<String> {
    page.questionnaires.iter().map(|q| q.name.clone()).collect()
}

fn round_names(page: &pb::ListMonitoringRoundsResponse) -> Vec<String> {
    page.monitoring_rounds
        .iter()
        .map(|r| r.name.clone())
        .collect()
}

/// The centre registered in August 2024, so that the round of December 2024 may be opened.
async fn registered_in_2024(fx: &Fixture) {
    sqlx::query("UPDATE mentoring.institutions SET create_time = '2024-08-01T10:00:00+04:00'")
        .execute(fx.db.pool())
        .await
        .expect("backdated");
}

fn assert_status<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: Code,
    expected: &str,
) -> tonic::Status {
    let status = result.expect_err(expected);
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(reason(&status), expected, "{status:?}");
    status
}

// ---- CreateMonitoringRound -------------------------------------------------------------

#[tokio::test]
async fn create_monitoring_round_opens_the_round_with_the_standard_questions() {
    let fx = scene().await;
    let round = open_may(&fx).await;
    assert_eq!(round.name, MAY);
    assert_eq!(round.season, pb::MonitoringSeason::May as i32);
    assert_eq!(round.year, 2025);
    assert_eq!(round.due_date, Some(wire::date(date(2025, 5, 20))));
    assert_eq!(
        round.due_time,
        Some(wire::timestamp(at("2025-05-21T00:00:00+04:00")))
    );
    assert_eq!(round.state, pb::MonitoringRoundState::Open as i32);
    assert!(!round.late && !round.overdue && round.submit_time.is_none());
    assert_eq!((round.pairs, round.pairs_assessed), (2, 0));
    assert_eq!(
        (round.questionnaires, round.questionnaires_answered),
        (4, 0)
    );
    let ids: Vec<&str> = round.questions.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "satisfaction",
            "meetings_regularity",
            "usefulness",
            "progress",
            "suggestions"
        ]
    );
    assert_eq!(round.questions[2].audience, pb::PairSide::Mentee as i32);
    assert_eq!(round.questions[4].kind, pb::QuestionKind::Text as i32);
    assert_eq!(round.region_code, "RU-SAR");
    assert_eq!(round.create_time, Some(wire::timestamp(now())));
    assert!(!round.etag.is_empty());

    // Questions of the curator's own.
    let mut custom = create("institutions/mechta", pb::MonitoringSeason::December, 2025);
    if let Some(r) = custom.monitoring_round.as_mut() {
        r.questions = vec![pb::Question {
            id: "mood".into(),
            text: "Как настроение?".into(),
            kind: pb::QuestionKind::Scale as i32,
            audience: pb::PairSide::Mentee as i32,
        }];
    }
    let december = api(&fx)
        .create_monitoring_round(request(&director(), now(), custom))
        .await
        .expect("custom round")
        .into_inner();
    assert_eq!(
        december.name,
        "institutions/mechta/monitoringRounds/2025-12"
    );
    assert_eq!(december.questions.len(), 1);
    assert_eq!(december.questions[0].id, "mood");
    assert_eq!(december.questions[0].audience, pb::PairSide::Mentee as i32);
}

#[tokio::test]
async fn create_monitoring_round_names_every_bad_field() {
    let fx = scene().await;
    let question = |id: &str, text: &str, kind: pb::QuestionKind| pb::Question {
        id: id.into(),
        text: text.into(),
        kind: kind as i32,
        audience: 0,
    };
    let refused = api(&fx)
        .create_monitoring_round(request(
            &director(),
            now(),
            pb::CreateMonitoringRoundRequest {
                parent: "institutions/mechta".into(),
                monitoring_round: Some(pb::MonitoringRound {
                    season: 0,
                    year: 2031,
                    questions: vec![
                        question("Bad Id", "", pb::QuestionKind::Unspecified),
                        question("dup", &"я".repeat(501), pb::QuestionKind::Scale),
                        question("dup", "Ещё раз?", pb::QuestionKind::Text),
                    ],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await;
    let status = assert_status(refused, Code::InvalidArgument, "INVALID_FIELDS");
    let mut fields = bad_fields(&status);
    fields.sort();
    assert_eq!(
        fields,
        [
            "monitoring_round.questions[0].id",
            "monitoring_round.questions[0].kind",
            "monitoring_round.questions[0].text",
            "monitoring_round.questions[1].text",
            "monitoring_round.questions[2].id",
            "monitoring_round.season",
            "monitoring_round.year",
        ]
    );
    // A year before the centre was registered (2025).
    let refused = api(&fx)
        .create_monitoring_round(request(
            &director(),
            now(),
            create("institutions/mechta", pb::MonitoringSeason::December, 2024),
        ))
        .await;
    let status = assert_status(refused, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(bad_fields(&status), ["monitoring_round.year"]);
    let refused = api(&fx)
        .create_monitoring_round(request(
            &director(),
            now(),
            create("mechta", pb::MonitoringSeason::May, 2025),
        ))
        .await;
    let status = assert_status(refused, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(bad_fields(&status), ["parent"]);
}

#[tokio::test]
async fn create_monitoring_round_refuses_an_existing_round_and_replays_its_request_id() {
    let fx = scene().await;
    let mut first = create("institutions/mechta", pb::MonitoringSeason::May, 2025);
    first.request_id = "round-may-2025".into();
    let created = api(&fx)
        .create_monitoring_round(request(&director(), now(), first.clone()))
        .await
        .expect("round")
        .into_inner();
    // The same request again answers the first response.
    let replayed = api(&fx)
        .create_monitoring_round(request(&director(), now(), first.clone()))
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(replayed, created);
    // Another request under the same id.
    let mut other = create("institutions/mechta", pb::MonitoringSeason::December, 2025);
    other.request_id = first.request_id.clone();
    let refused = api(&fx)
        .create_monitoring_round(request(&director(), now(), other))
        .await;
    assert_status(refused, Code::InvalidArgument, "REQUEST_ID_REUSED");
    // The round of that season and year exists.
    let refused = api(&fx)
        .create_monitoring_round(request(
            &director(),
            now(),
            create("institutions/mechta", pb::MonitoringSeason::May, 2025),
        ))
        .await;
    let status = assert_status(refused, Code::AlreadyExists, "ALREADY_EXISTS");
    assert_eq!(
        error_metadata(&status, "monitoring_round").as_deref(),
        Some(MAY)
    );
}

#[tokio::test]
async fn create_monitoring_round_is_the_work_of_the_institutions_staff() {
    let fx = scene().await;
    let call = |who: edu_kit::auth::Caller, parent: &'static str| {
        let fx = &fx;
        async move {
            api(fx)
                .create_monitoring_round(request(
                    &who,
                    now(),
                    create(parent, pb::MonitoringSeason::May, 2025),
                ))
                .await
        }
    };
    assert_status(
        call(outsider(), "institutions/mechta").await,
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_status(
        call(director(), "institutions/nowhere").await,
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_status(
        call(participant("m"), "institutions/mechta").await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_status(
        call(guardian("k"), "institutions/mechta").await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_status(
        call(regional_centre("RU-SAR"), "institutions/mechta").await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_status(
        call(event_consumer(), "institutions/mechta").await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    // The curator acts once the director has appointed them.
    person(&fx, "cur", who(ParticipantRole::Curator)).await;
    assert_status(
        call(curator("cur"), "institutions/mechta").await,
        Code::PermissionDenied,
        "CURATOR_NOT_APPOINTED",
    );
    appoint(&fx, "cur").await;
    let round = call(curator("cur"), "institutions/mechta")
        .await
        .expect("the curator opens it")
        .into_inner();
    assert_eq!(round.name, MAY);
}

// ---- ListMonitoringRounds --------------------------------------------------------------

#[tokio::test]
async fn list_monitoring_rounds_pages_the_institutions_rounds_latest_due_first() {
    let fx = scene().await;
    open_may(&fx).await;
    api(&fx)
        .create_monitoring_round(request(
            &director(),
            now(),
            create("institutions/mechta", pb::MonitoringSeason::December, 2025),
        ))
        .await
        .expect("december");
    let first = api(&fx)
        .list_monitoring_rounds(request(
            &director(),
            now(),
            pb::ListMonitoringRoundsRequest {
                page_size: 1,
                ..list_rounds("institutions/mechta")
            },
        ))
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(
        round_names(&first),
        ["institutions/mechta/monitoringRounds/2025-12"]
    );
    assert!(!first.next_page_token.is_empty());
    let second = api(&fx)
        .list_monitoring_rounds(request(
            &director(),
            now(),
            pb::ListMonitoringRoundsRequest {
                page_size: 1,
                page_token: first.next_page_token.clone(),
                ..list_rounds("institutions/mechta")
            },
        ))
        .await
        .expect("second page")
        .into_inner();
    assert_eq!(round_names(&second), [MAY]);
    assert!(second.next_page_token.is_empty());
    // The token of another query.
    let refused = api(&fx)
        .list_monitoring_rounds(request(
            &director(),
            now(),
            pb::ListMonitoringRoundsRequest {
                page_size: 1,
                season: pb::MonitoringSeason::May as i32,
                page_token: first.next_page_token,
                ..list_rounds("institutions/mechta")
            },
        ))
        .await;
    assert_status(refused, Code::InvalidArgument, "PAGE_TOKEN_INVALID");
    // Filters: a season; OPEN; overdue at 00:00 of 21 May in Saratov.
    let may = api(&fx)
        .list_monitoring_rounds(request(
            &director(),
            now(),
            pb::ListMonitoringRoundsRequest {
                season: pb::MonitoringSeason::May as i32,
                ..list_rounds("institutions/mechta")
            },
        ))
        .await
        .expect("may")
        .into_inner();
    assert_eq!(round_names(&may), [MAY]);
    let submitted = api(&fx)
        .list_monitoring_rounds(request(
            &director(),
            now(),
            pb::ListMonitoringRoundsRequest {
                state: pb::MonitoringRoundState::Submitted as i32,
                ..list_rounds("institutions/mechta")
            },
        ))
        .await
        .expect("submitted")
        .into_inner();
    assert!(submitted.monitoring_rounds.is_empty());
    for (instant, expected) in [
        ("2025-05-20T23:59:00+04:00", vec![]),
        ("2025-05-21T00:00:00+04:00", vec![MAY.to_string()]),
    ] {
        let late = api(&fx)
            .list_monitoring_rounds(request(
                &director(),
                at(instant),
                pb::ListMonitoringRoundsRequest {
                    late_only: true,
                    ..list_rounds("institutions/mechta")
                },
            ))
            .await
            .expect("late")
            .into_inner();
        assert_eq!(round_names(&late), expected, "{instant}");
        assert!(late.monitoring_rounds.iter().all(|r| r.overdue));
    }
    let refused = api(&fx)
        .list_monitoring_rounds(request(
            &director(),
            now(),
            pb::ListMonitoringRoundsRequest {
                state: 9,
                ..list_rounds("institutions/mechta")
            },
        ))
        .await;
    let status = assert_status(refused, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(bad_fields(&status), ["state"]);
}

#[tokio::test]
async fn list_monitoring_rounds_shows_the_regional_centre_its_region_without_people() {
    let fx = scene().await;
    open_may(&fx).await;
    for (id, region) in [("rassvet", "RU-SAR"), ("moskva", "RU-MOW")] {
        in_tx!(fx, |tx| institutions::create(
            &mut tx,
            &context(),
            &InstitutionDraft {
                id: id.into(),
                display_name: format!("Учреждение {id}"),
                short_name: id.into(),
                region_code: region.into(),
                time_zone: "Europe/Saratov".into(),
                regulation: "Положение о наставничестве".into(),
            },
        )
        .await)
        .expect("institution");
        let their_director = caller(
            &format!("director-{id}"),
            &["mentoring.director"],
            &[&format!("institution:{id}")],
        );
        api(&fx)
            .create_monitoring_round(request(
                &their_director,
                now(),
                create(
                    &format!("institutions/{id}"),
                    pb::MonitoringSeason::May,
                    2025,
                ),
            ))
            .await
            .expect("their round");
    }
    // The curator's summary is given on submission; the centre does not read it.
    assess_both(&fx, MAY).await;
    api(&fx)
        .submit_monitoring_round(request(
            &director(),
            now(),
            pb::SubmitMonitoringRoundRequest {
                summary: "Итоги: куратор отмечает пару наставника Фамилия-m".into(),
                ..submit(MAY)
            },
        ))
        .await
        .expect("submitted");

    let centre = regional_centre("RU-SAR");
    let mut names = vec![];
    let mut token = String::new();
    loop {
        let page = api(&fx)
            .list_monitoring_rounds(request(
                &centre,
                now(),
                pb::ListMonitoringRoundsRequest {
                    page_size: 1,
                    page_token: token.clone(),
                    ..list_rounds("institutions/-")
                },
            ))
            .await
            .expect("region")
            .into_inner();
        for round in &page.monitoring_rounds {
            assert_eq!(round.region_code, "RU-SAR");
            assert!(round.summary.is_empty(), "no free text for the centre");
        }
        names.extend(round_names(&page));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        names,
        [MAY, "institutions/rassvet/monitoringRounds/2025-05"]
    );
    let mechta = api(&fx)
        .list_monitoring_rounds(request(&centre, now(), list_rounds("institutions/mechta")))
        .await
        .expect("one institution")
        .into_inner();
    assert_eq!(round_names(&mechta), [MAY]);
    let round = &mechta.monitoring_rounds[0];
    assert_eq!(round.state, pb::MonitoringRoundState::Submitted as i32);
    assert_eq!(
        (round.pairs, round.pairs_assessed, round.questionnaires),
        (2, 2, 4)
    );
    assert!(round.summary.is_empty());
    // The director reads the summary.
    let own = api(&fx)
        .list_monitoring_rounds(request(
            &director(),
            now(),
            list_rounds("institutions/mechta"),
        ))
        .await
        .expect("director")
        .into_inner();
    assert!(own.monitoring_rounds[0].summary.starts_with("Итоги"));
    // The director's `institutions/-` is their own institution.
    let everywhere = api(&fx)
        .list_monitoring_rounds(request(&director(), now(), list_rounds("institutions/-")))
        .await
        .expect("director, every institution")
        .into_inner();
    assert_eq!(round_names(&everywhere), [MAY]);

    // Another region's centre: its own institutions only; «Мечта» does not exist for it.
    let moscow = regional_centre("RU-MOW");
    let theirs = api(&fx)
        .list_monitoring_rounds(request(&moscow, now(), list_rounds("institutions/-")))
        .await
        .expect("moscow")
        .into_inner();
    assert_eq!(
        round_names(&theirs),
        ["institutions/moskva/monitoringRounds/2025-05"]
    );
    let refused = api(&fx)
        .list_monitoring_rounds(request(&moscow, now(), list_rounds("institutions/mechta")))
        .await;
    assert_status(refused, Code::NotFound, "NOT_FOUND");
    let refused = api(&fx)
        .list_monitoring_rounds(request(
            &outsider(),
            now(),
            list_rounds("institutions/mechta"),
        ))
        .await;
    assert_status(refused, Code::NotFound, "NOT_FOUND");
    for who in [participant("m"), guardian("k")] {
        for parent in ["institutions/mechta", "institutions/-"] {
            let refused = api(&fx)
                .list_monitoring_rounds(request(&who, now(), list_rounds(parent)))
                .await;
            assert_status(refused, Code::PermissionDenied, "ROLE_REQUIRED");
        }
    }
    let refused = api(&fx)
        .list_monitoring_rounds(request(
            &event_consumer(),
            now(),
            list_rounds("institutions/-"),
        ))
        .await;
    assert_status(refused, Code::PermissionDenied, "ROLE_REQUIRED");
}

// ---- ListQuestionnaires ----------------------------------------------------------------

#[tokio::test]
async fn list_questionnaires_shows_staff_every_one_and_members_their_own() {
    let fx = scene().await;
    open_may(&fx).await;
    let all = api(&fx)
        .list_questionnaires(request(&director(), now(), list_questionnaires(MAY)))
        .await
        .expect("all")
        .into_inner();
    assert_eq!(
        names_of(&all),
        ["p-m", "p-k", "q-m2", "q-k2"].map(|id| questionnaire(MAY, id))
    );
    let mentor = &all.questionnaires[0];
    assert_eq!(mentor.pair, "institutions/mechta/pairs/p");
    assert_eq!(mentor.side, pb::PairSide::Mentor as i32);
    assert_eq!(mentor.state, pb::QuestionnaireState::Sent as i32);
    let respondent = mentor.respondent.as_ref().expect("respondent");
    assert_eq!(respondent.participant, "institutions/mechta/participants/m");
    assert_eq!(respondent.display_name, "Фамилия-m Тест Условный");
    assert!(!respondent.redacted && !mentor.redacted);
    assert!(
        all.questionnaires[1]
            .respondent
            .as_ref()
            .is_some_and(|r| r.minor)
    );

    // A participant their own; a guardian the minor's.
    let own = api(&fx)
        .list_questionnaires(request(&participant("m"), now(), list_questionnaires(MAY)))
        .await
        .expect("own")
        .into_inner();
    assert_eq!(names_of(&own), [questionnaire(MAY, "p-m")]);
    let ward = api(&fx)
        .list_questionnaires(request(&guardian("k2"), now(), list_questionnaires(MAY)))
        .await
        .expect("ward's")
        .into_inner();
    assert_eq!(names_of(&ward), [questionnaire(MAY, "q-k2")]);

    // Filters and pages.
    let of_q = api(&fx)
        .list_questionnaires(request(
            &director(),
            now(),
            pb::ListQuestionnairesRequest {
                pair: "institutions/mechta/pairs/q".into(),
                state: pb::QuestionnaireState::Sent as i32,
                ..list_questionnaires(MAY)
            },
        ))
        .await
        .expect("q's")
        .into_inner();
    assert_eq!(
        names_of(&of_q),
        ["q-m2", "q-k2"].map(|id| questionnaire(MAY, id))
    );
    let first = api(&fx)
        .list_questionnaires(request(
            &director(),
            now(),
            pb::ListQuestionnairesRequest {
                page_size: 3,
                ..list_questionnaires(MAY)
            },
        ))
        .await
        .expect("first")
        .into_inner();
    assert_eq!(first.questionnaires.len(), 3);
    let rest = api(&fx)
        .list_questionnaires(request(
            &director(),
            now(),
            pb::ListQuestionnairesRequest {
                page_size: 3,
                page_token: first.next_page_token.clone(),
                ..list_questionnaires(MAY)
            },
        ))
        .await
        .expect("rest")
        .into_inner();
    assert_eq!(names_of(&rest), [questionnaire(MAY, "q-k2")]);
    let refused = api(&fx)
        .list_questionnaires(request(
            &director(),
            now(),
            pb::ListQuestionnairesRequest {
                page_size: 3,
                page_token: first.next_page_token,
                state: pb::QuestionnaireState::Answered as i32,
                ..list_questionnaires(MAY)
            },
        ))
        .await;
    assert_status(refused, Code::InvalidArgument, "PAGE_TOKEN_INVALID");
    let refused = api(&fx)
        .list_questionnaires(request(
            &director(),
            now(),
            pb::ListQuestionnairesRequest {
                pair: "institutions/elsewhere/pairs/q".into(),
                ..list_questionnaires(MAY)
            },
        ))
        .await;
    let status = assert_status(refused, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(bad_fields(&status), ["pair"]);

    // Tenancy and roles.
    let refused = api(&fx)
        .list_questionnaires(request(
            &director(),
            now(),
            list_questionnaires("institutions/mechta/monitoringRounds/2025-12"),
        ))
        .await;
    assert_status(refused, Code::NotFound, "NOT_FOUND");
    let refused = api(&fx)
        .list_questionnaires(request(&outsider(), now(), list_questionnaires(MAY)))
        .await;
    assert_status(refused, Code::NotFound, "NOT_FOUND");
    let refused = api(&fx)
        .list_questionnaires(request(
            &regional_centre("RU-SAR"),
            now(),
            list_questionnaires(MAY),
        ))
        .await;
    assert_status(refused, Code::PermissionDenied, "ROLE_REQUIRED");
    let refused = api(&fx)
        .list_questionnaires(request(&curator("m"), now(), list_questionnaires(MAY)))
        .await;
    assert_status(refused, Code::PermissionDenied, "CURATOR_NOT_APPOINTED");
}

#[tokio::test]
async fn list_questionnaires_redacts_a_respondent_after_revocation() {
    let fx = scene().await;
    open_may(&fx).await;
    // The minor's parent answers, then revokes the consent; the mentor of q revokes before
    // answering.
    api(&fx)
        .submit_questionnaire(request(
            &guardian("k"),
            now(),
            answer(&questionnaire(MAY, "p-k"), vec![score("satisfaction", 9)]),
        ))
        .await
        .expect("answered");
    revoke(&fx, "k").await.expect("revoked");
    revoke(&fx, "m2").await.expect("revoked");
    let all = api(&fx)
        .list_questionnaires(request(&director(), now(), list_questionnaires(MAY)))
        .await
        .expect("all")
        .into_inner();
    let by_id = |id: &str| {
        all.questionnaires
            .iter()
            .find(|q| q.name == questionnaire(MAY, id))
            .expect("questionnaire")
            .clone()
    };
    let answered = by_id("p-k");
    assert_eq!(answered.state, pb::QuestionnaireState::Answered as i32);
    assert!(answered.redacted && answered.answers.is_empty());
    let person = answered.respondent.expect("respondent");
    assert_eq!(person.participant, "institutions/mechta/participants/k");
    assert!(person.redacted && person.display_name.is_empty() && !person.minor);
    let withdrawn = by_id("q-m2");
    assert_eq!(withdrawn.state, pb::QuestionnaireState::Withdrawn as i32);
    assert!(withdrawn.redacted);
    assert!(
        withdrawn
            .respondent
            .is_some_and(|r| r.display_name.is_empty())
    );
    // The others are untouched.
    let untouched = by_id("p-m");
    assert!(!untouched.redacted);
    assert_eq!(
        untouched.respondent.expect("respondent").display_name,
        "Фамилия-m Тест Условный"
    );
}

// ---- SubmitQuestionnaire ---------------------------------------------------------------

#[tokio::test]
async fn submit_questionnaire_records_who_answered_in_the_rounds_order() {
    let fx = scene().await;
    open_may(&fx).await;
    let mine = api(&fx)
        .submit_questionnaire(request(
            &participant("m"),
            now(),
            answer(
                &questionnaire(MAY, "p-m"),
                vec![
                    text("suggestions", "Больше походов"),
                    score("satisfaction", 8),
                ],
            ),
        ))
        .await
        .expect("the mentor answers")
        .into_inner();
    assert_eq!(mine.state, pb::QuestionnaireState::Answered as i32);
    assert_eq!(mine.answered_by, pb::ActorKind::Subject as i32);
    assert_eq!(mine.answer_time, Some(wire::timestamp(now())));
    let order: Vec<&str> = mine
        .answers
        .iter()
        .map(|a| a.question_id.as_str())
        .collect();
    assert_eq!(order, ["satisfaction", "suggestions"]);
    assert_eq!(mine.answers[0].score, 8);
    assert_eq!(mine.answers[1].text, "Больше походов");
    // Answering again replaces the answers; the etag is checked.
    let again = api(&fx)
        .submit_questionnaire(request(
            &participant("m"),
            now(),
            pb::SubmitQuestionnaireRequest {
                etag: mine.etag.clone(),
                ..answer(&questionnaire(MAY, "p-m"), vec![score("progress", 6)])
            },
        ))
        .await
        .expect("answered again")
        .into_inner();
    assert_eq!(again.answers.len(), 1);
    assert_ne!(again.etag, mine.etag);

    let parent = api(&fx)
        .submit_questionnaire(request(
            &guardian("k"),
            now(),
            answer(&questionnaire(MAY, "p-k"), vec![score("usefulness", 10)]),
        ))
        .await
        .expect("the guardian answers")
        .into_inner();
    assert_eq!(parent.answered_by, pb::ActorKind::Guardian as i32);
    let paper = api(&fx)
        .submit_questionnaire(request(
            &director(),
            now(),
            answer(&questionnaire(MAY, "q-k2"), vec![score("satisfaction", 7)]),
        ))
        .await
        .expect("a paper questionnaire")
        .into_inner();
    assert_eq!(paper.answered_by, pb::ActorKind::Staff as i32);

    // Nobody answers another's questionnaire: it does not exist for them.
    for (who, id) in [
        (participant("m"), "p-k"),
        (participant("m2"), "p-m"),
        (guardian("k"), "q-k2"),
        (outsider(), "p-m"),
    ] {
        let refused = api(&fx)
            .submit_questionnaire(request(
                &who,
                now(),
                answer(&questionnaire(MAY, id), vec![score("satisfaction", 1)]),
            ))
            .await;
        assert_status(refused, Code::NotFound, "NOT_FOUND");
    }
    let refused = api(&fx)
        .submit_questionnaire(request(
            &regional_centre("RU-SAR"),
            now(),
            answer(&questionnaire(MAY, "p-m"), vec![score("satisfaction", 1)]),
        ))
        .await;
    assert_status(refused, Code::PermissionDenied, "ROLE_REQUIRED");
    let refused = api(&fx)
        .submit_questionnaire(request(
            &curator("m2"),
            now(),
            answer(&questionnaire(MAY, "p-m"), vec![score("satisfaction", 1)]),
        ))
        .await;
    assert_status(refused, Code::PermissionDenied, "CURATOR_NOT_APPOINTED");
}

#[tokio::test]
async fn submit_questionnaire_refuses_bad_answers_stale_etags_and_reused_ids() {
    let fx = scene().await;
    open_may(&fx).await;
    let name = questionnaire(MAY, "p-m");
    let refused = api(&fx)
        .submit_questionnaire(request(
            &participant("m"),
            now(),
            answer(
                &name,
                vec![
                    score("satisfaction", 11),
                    score("usefulness", 5),
                    text("progress", "хорошо"),
                    score("satisfaction", 3),
                ],
            ),
        ))
        .await;
    let status = assert_status(refused, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(
        bad_fields(&status),
        ["answers[0]", "answers[1]", "answers[2]", "answers[3]"]
    );
    let refused = api(&fx)
        .submit_questionnaire(request(&participant("m"), now(), answer(&name, vec![])))
        .await;
    let status = assert_status(refused, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(bad_fields(&status), ["answers"]);
    let refused = api(&fx)
        .submit_questionnaire(request(
            &participant("m"),
            now(),
            answer(
                "institutions/mechta/monitoringRounds/2025_06/questionnaires/p-m",
                vec![score("satisfaction", 5)],
            ),
        ))
        .await;
    let status = assert_status(refused, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(bad_fields(&status), ["name"]);
    // A well-formed round ID that is no season names a round that cannot exist.
    let refused = api(&fx)
        .submit_questionnaire(request(
            &participant("m"),
            now(),
            answer(
                "institutions/mechta/monitoringRounds/2025-06/questionnaires/p-m",
                vec![score("satisfaction", 5)],
            ),
        ))
        .await;
    assert_status(refused, Code::NotFound, "NOT_FOUND");

    let refused = api(&fx)
        .submit_questionnaire(request(
            &participant("m"),
            now(),
            pb::SubmitQuestionnaireRequest {
                etag: "\"99\"".into(),
                ..answer(&name, vec![score("satisfaction", 5)])
            },
        ))
        .await;
    assert_status(refused, Code::Aborted, "ETAG_MISMATCH");

    let mut first = answer(&name, vec![score("satisfaction", 5)]);
    first.request_id = "answer-1".into();
    let answered = api(&fx)
        .submit_questionnaire(request(&participant("m"), now(), first.clone()))
        .await
        .expect("answered")
        .into_inner();
    let replayed = api(&fx)
        .submit_questionnaire(request(&participant("m"), now(), first.clone()))
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(replayed, answered);
    let refused = api(&fx)
        .submit_questionnaire(request(
            &participant("m"),
            now(),
            pb::SubmitQuestionnaireRequest {
                request_id: first.request_id.clone(),
                ..answer(&name, vec![score("satisfaction", 6)])
            },
        ))
        .await;
    assert_status(refused, Code::InvalidArgument, "REQUEST_ID_REUSED");
}

#[tokio::test]
async fn submit_questionnaire_refuses_a_withdrawn_one_a_revoked_respondent_and_a_submitted_round() {
    let fx = scene().await;
    open_may(&fx).await;
    // The revocation withdrew the unanswered questionnaire.
    revoke(&fx, "m2").await.expect("revoked");
    let refused = api(&fx)
        .submit_questionnaire(request(
            &director(),
            now(),
            answer(&questionnaire(MAY, "q-m2"), vec![score("satisfaction", 5)]),
        ))
        .await;
    let status = assert_status(refused, Code::FailedPrecondition, "TRANSITION_NOT_ALLOWED");
    assert_eq!(
        error_metadata(&status, "state").as_deref(),
        Some("WITHDRAWN")
    );

    // Nothing more is recorded about a person who revoked after answering.
    api(&fx)
        .submit_questionnaire(request(
            &guardian("k"),
            now(),
            answer(&questionnaire(MAY, "p-k"), vec![score("satisfaction", 9)]),
        ))
        .await
        .expect("answered");
    revoke(&fx, "k").await.expect("revoked");
    let refused = api(&fx)
        .submit_questionnaire(request(
            &director(),
            now(),
            answer(&questionnaire(MAY, "p-k"), vec![score("satisfaction", 2)]),
        ))
        .await;
    let status = assert_status(refused, Code::FailedPrecondition, "CONSENT_MISSING");
    assert_eq!(
        error_metadata(&status, "participant").as_deref(),
        Some("institutions/mechta/participants/k")
    );

    assess_both(&fx, MAY).await;
    let submitted_at = at("2025-05-20T18:00:00+04:00");
    api(&fx)
        .submit_monitoring_round(request(&director(), submitted_at, submit(MAY)))
        .await
        .expect("submitted");
    let refused = api(&fx)
        .submit_questionnaire(request(
            &participant("m"),
            now(),
            answer(&questionnaire(MAY, "p-m"), vec![score("satisfaction", 5)]),
        ))
        .await;
    let status = assert_status(
        refused,
        Code::FailedPrecondition,
        "MONITORING_ROUND_SUBMITTED",
    );
    assert_eq!(
        error_metadata(&status, "submitted_at").as_deref(),
        Some(submitted_at.to_string().as_str())
    );
}

// ---- ListPairResults -------------------------------------------------------------------

#[tokio::test]
async fn list_pair_results_carries_each_pairs_figures() {
    let fx = scene().await;
    // p's plan: one activity past its due day, one ahead.
    for (id, due) in [("a1", date(2025, 1, 31)), ("a2", date(2025, 4, 30))] {
        in_tx!(fx, |tx| plans::create_activity(
            &mut tx,
            &context(),
            INST,
            "p",
            &ActivityDraft {
                id: id.into(),
                title: "Поход выходного дня".into(),
                description: String::new(),
                due_date: due,
            },
            false,
        )
        .await)
        .expect("activity");
    }
    open_may(&fx).await;
    for (who, id, satisfaction) in [(participant("m"), "p-m", 8), (guardian("k"), "p-k", 5)] {
        api(&fx)
            .submit_questionnaire(request(
                &who,
                now(),
                answer(
                    &questionnaire(MAY, id),
                    vec![score("satisfaction", satisfaction)],
                ),
            ))
            .await
            .expect("answered");
    }
    let page = api(&fx)
        .list_pair_results(request(&director(), now(), list_results(MAY)))
        .await
        .expect("results")
        .into_inner();
    let names: Vec<&str> = page.pair_results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, [result(MAY, "p"), result(MAY, "q")]);
    let p = &page.pair_results[0];
    assert_eq!(p.pair, "institutions/mechta/pairs/p");
    assert_eq!(p.pair_type, pb::PairType::CounsellorPupil as i32);
    assert_eq!(p.form, pb::MentoringForm::ShortTerm as i32);
    let mentor = p.mentor_person.as_ref().expect("mentor");
    assert_eq!(mentor.participant, "institutions/mechta/participants/m");
    assert_eq!(mentor.display_name, "Фамилия-m Тест Условный");
    assert_eq!((p.questionnaires, p.questionnaires_answered), (2, 2));
    let averages: Vec<(&str, i32)> = p
        .averages
        .iter()
        .map(|a| (a.question_id.as_str(), a.answers))
        .collect();
    assert_eq!(
        averages,
        [
            ("satisfaction", 2),
            ("meetings_regularity", 0),
            ("usefulness", 0),
            ("progress", 0)
        ]
    );
    assert!((p.averages[0].mean - 6.5).abs() < 1e-9);
    assert_eq!(
        (
            p.plan_activities,
            p.plan_activities_done,
            p.plan_activities_overdue
        ),
        (2, 0, 1)
    );
    assert_eq!(p.meetings, 0);
    assert_eq!(p.assessment, pb::PairAssessment::Unspecified as i32);
    assert!(!p.redacted && !p.etag.is_empty());
    assert_eq!(page.pair_results[1].questionnaires_answered, 0);

    // Filters and pages.
    assess_one(&fx, "p", pb::PairAssessment::PartlyEffective).await;
    let unassessed = api(&fx)
        .list_pair_results(request(
            &director(),
            now(),
            pb::ListPairResultsRequest {
                unassessed_only: true,
                ..list_results(MAY)
            },
        ))
        .await
        .expect("unassessed")
        .into_inner();
    assert_eq!(unassessed.pair_results.len(), 1);
    assert_eq!(unassessed.pair_results[0].name, result(MAY, "q"));
    let partly = api(&fx)
        .list_pair_results(request(
            &director(),
            now(),
            pb::ListPairResultsRequest {
                assessment: pb::PairAssessment::PartlyEffective as i32,
                pair_type: pb::PairType::CounsellorPupil as i32,
                ..list_results(MAY)
            },
        ))
        .await
        .expect("partly")
        .into_inner();
    assert_eq!(partly.pair_results.len(), 1);
    assert_eq!(partly.pair_results[0].name, result(MAY, "p"));
    let other_type = api(&fx)
        .list_pair_results(request(
            &director(),
            now(),
            pb::ListPairResultsRequest {
                pair_type: pb::PairType::HeadCurator as i32,
                ..list_results(MAY)
            },
        ))
        .await
        .expect("other type")
        .into_inner();
    assert!(other_type.pair_results.is_empty());
    let first = api(&fx)
        .list_pair_results(request(
            &director(),
            now(),
            pb::ListPairResultsRequest {
                page_size: 1,
                ..list_results(MAY)
            },
        ))
        .await
        .expect("first")
        .into_inner();
    assert_eq!(first.pair_results[0].name, result(MAY, "p"));
    let second = api(&fx)
        .list_pair_results(request(
            &director(),
            now(),
            pb::ListPairResultsRequest {
                page_size: 1,
                page_token: first.next_page_token.clone(),
                ..list_results(MAY)
            },
        ))
        .await
        .expect("second")
        .into_inner();
    assert_eq!(second.pair_results[0].name, result(MAY, "q"));
    assert!(second.next_page_token.is_empty());
    let refused = api(&fx)
        .list_pair_results(request(
            &director(),
            now(),
            pb::ListPairResultsRequest {
                page_size: 1,
                page_token: first.next_page_token,
                unassessed_only: true,
                ..list_results(MAY)
            },
        ))
        .await;
    assert_status(refused, Code::InvalidArgument, "PAGE_TOKEN_INVALID");
}

async fn assess_one(fx: &Fixture, pair: &str, assessment: pb::PairAssessment) -> pb::PairResult {
    api(fx)
        .update_pair_result(request(
            &director(),
            now(),
            assess(&result(MAY, pair), assessment, ""),
        ))
        .await
        .expect("assessed")
        .into_inner()
}

#[tokio::test]
async fn list_pair_results_is_for_staff_and_redacts_the_mentor_after_revocation() {
    let fx = scene().await;
    open_may(&fx).await;
    api(&fx)
        .update_pair_result(request(
            &director(),
            now(),
            assess(
                &result(MAY, "q"),
                pb::PairAssessment::NotEffective,
                "Сменить форму на виртуальную",
            ),
        ))
        .await
        .expect("assessed with a conclusion");
    revoke(&fx, "m2").await.expect("revoked");
    let page = api(&fx)
        .list_pair_results(request(&director(), now(), list_results(MAY)))
        .await
        .expect("results")
        .into_inner();
    let q = page
        .pair_results
        .iter()
        .find(|r| r.name == result(MAY, "q"))
        .expect("q");
    let mentor = q.mentor_person.as_ref().expect("mentor");
    assert_eq!(mentor.participant, "institutions/mechta/participants/m2");
    assert!(mentor.redacted && mentor.display_name.is_empty());
    assert!(q.redacted && q.conclusion.is_empty());
    assert_eq!(q.assessment, pb::PairAssessment::NotEffective as i32);
    // The withdrawn questionnaire is not counted.
    assert_eq!(q.questionnaires, 1);
    let p = page
        .pair_results
        .iter()
        .find(|r| r.name == result(MAY, "p"))
        .expect("p");
    assert!(!p.redacted);

    for (who, code, expected) in [
        (participant("m"), Code::PermissionDenied, "ROLE_REQUIRED"),
        (guardian("k"), Code::PermissionDenied, "ROLE_REQUIRED"),
        (
            regional_centre("RU-SAR"),
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        ),
        (
            curator("m"),
            Code::PermissionDenied,
            "CURATOR_NOT_APPOINTED",
        ),
        (outsider(), Code::NotFound, "NOT_FOUND"),
    ] {
        let refused = api(&fx)
            .list_pair_results(request(&who, now(), list_results(MAY)))
            .await;
        assert_status(refused, code, expected);
    }
    let refused = api(&fx)
        .list_pair_results(request(
            &director(),
            now(),
            list_results("institutions/mechta/monitoringRounds/2024-12"),
        ))
        .await;
    assert_status(refused, Code::NotFound, "NOT_FOUND");
}

// ---- UpdatePairResult ------------------------------------------------------------------

#[tokio::test]
async fn update_pair_result_assesses_and_concludes_in_an_open_round() {
    let fx = scene().await;
    open_may(&fx).await;
    let before = api(&fx)
        .list_pair_results(request(&director(), now(), list_results(MAY)))
        .await
        .expect("results")
        .into_inner()
        .pair_results[0]
        .clone();
    let mut change = assess(
        &result(MAY, "p"),
        pb::PairAssessment::Effective,
        "План выполняется",
    );
    if let Some(r) = change.pair_result.as_mut() {
        r.etag = before.etag.clone();
    }
    let updated = api(&fx)
        .update_pair_result(request(&director(), now(), change.clone()))
        .await
        .expect("assessed")
        .into_inner();
    assert_eq!(updated.name, result(MAY, "p"));
    assert_eq!(updated.assessment, pb::PairAssessment::Effective as i32);
    assert_eq!(updated.conclusion, "План выполняется");
    assert_ne!(updated.etag, before.etag);
    assert_eq!(updated.update_time, Some(wire::timestamp(now())));
    assert!(
        updated
            .mentor_person
            .is_some_and(|m| m.display_name == "Фамилия-m Тест Условный")
    );
    // The old etag is stale now.
    let refused = api(&fx)
        .update_pair_result(request(&director(), now(), change))
        .await;
    assert_status(refused, Code::Aborted, "ETAG_MISMATCH");

    // Only assessment and conclusion change; a conclusion has a limit.
    let mut outside = assess(&result(MAY, "p"), pb::PairAssessment::Effective, "");
    outside.update_mask = Some(prost_types::FieldMask {
        paths: vec!["pair_type".into()],
    });
    let refused = api(&fx)
        .update_pair_result(request(&director(), now(), outside))
        .await;
    let status = assert_status(refused, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(bad_fields(&status), ["update_mask"]);
    let long = assess(
        &result(MAY, "p"),
        pb::PairAssessment::Unspecified,
        &"в".repeat(5001),
    );
    let refused = api(&fx)
        .update_pair_result(request(&director(), now(), long))
        .await;
    let status = assert_status(refused, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(
        bad_fields(&status),
        ["pair_result.assessment", "pair_result.conclusion"]
    );

    for (who, code, expected) in [
        (participant("m"), Code::PermissionDenied, "ROLE_REQUIRED"),
        (
            regional_centre("RU-SAR"),
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        ),
        (outsider(), Code::NotFound, "NOT_FOUND"),
    ] {
        let refused = api(&fx)
            .update_pair_result(request(
                &who,
                now(),
                assess(&result(MAY, "p"), pb::PairAssessment::Effective, ""),
            ))
            .await;
        assert_status(refused, code, expected);
    }
    let refused = api(&fx)
        .update_pair_result(request(
            &director(),
            now(),
            assess(&result(MAY, "nope"), pb::PairAssessment::Effective, ""),
        ))
        .await;
    assert_status(refused, Code::NotFound, "NOT_FOUND");
}

#[tokio::test]
async fn update_pair_result_refuses_a_conclusion_about_a_redacted_pair_and_a_submitted_round() {
    let fx = scene().await;
    open_may(&fx).await;
    revoke(&fx, "k2").await.expect("revoked");
    let refused = api(&fx)
        .update_pair_result(request(
            &director(),
            now(),
            assess(
                &result(MAY, "q"),
                pb::PairAssessment::Effective,
                "Вывод о паре",
            ),
        ))
        .await;
    let status = assert_status(refused, Code::FailedPrecondition, "CONSENT_MISSING");
    assert_eq!(
        error_metadata(&status, "participant").as_deref(),
        Some("institutions/mechta/participants/k2")
    );
    assert_eq!(
        error_metadata(&status, "purpose").as_deref(),
        Some("PERSONAL_DATA")
    );
    // Its assessment may still be set.
    let q = assess_one(&fx, "q", pb::PairAssessment::Effective).await;
    assert!(q.redacted);
    assert_eq!(q.assessment, pb::PairAssessment::Effective as i32);

    assess_one(&fx, "p", pb::PairAssessment::Effective).await;
    let submitted_at = at("2025-05-19T12:00:00+04:00");
    api(&fx)
        .submit_monitoring_round(request(&director(), submitted_at, submit(MAY)))
        .await
        .expect("submitted");
    let refused = api(&fx)
        .update_pair_result(request(
            &director(),
            now(),
            assess(&result(MAY, "p"), pb::PairAssessment::NotEffective, ""),
        ))
        .await;
    let status = assert_status(
        refused,
        Code::FailedPrecondition,
        "MONITORING_ROUND_SUBMITTED",
    );
    assert_eq!(
        error_metadata(&status, "submitted_at").as_deref(),
        Some(submitted_at.to_string().as_str())
    );
}

// ---- SubmitMonitoringRound -------------------------------------------------------------

/// The round of December 2024 with both pairs assessed, submitted by the director at
/// `instant`.
async fn submit_december_at(instant: &str) -> (Fixture, pb::MonitoringRound) {
    let fx = scene().await;
    registered_in_2024(&fx).await;
    api(&fx)
        .create_monitoring_round(request(
            &director(),
            at("2024-12-01T10:00:00+04:00"),
            create("institutions/mechta", pb::MonitoringSeason::December, 2024),
        ))
        .await
        .expect("december round");
    assess_both(&fx, DECEMBER_2024).await;
    let round = api(&fx)
        .submit_monitoring_round(request(
            &director(),
            at(instant),
            pb::SubmitMonitoringRoundRequest {
                summary: "Все пары работают".into(),
                ..submit(DECEMBER_2024)
            },
        ))
        .await
        .expect("submitted, never refused for lateness")
        .into_inner();
    (fx, round)
}

#[tokio::test]
async fn submit_monitoring_round_is_late_from_0000_after_the_due_day_in_saratov() {
    let (fx, on_time) = submit_december_at("2024-12-20T23:59:00+04:00").await;
    assert_eq!(on_time.name, DECEMBER_2024);
    assert_eq!(on_time.state, pb::MonitoringRoundState::Submitted as i32);
    assert!(!on_time.late);
    assert_eq!(
        on_time.submit_time,
        Some(wire::timestamp(at("2024-12-20T23:59:00+04:00")))
    );
    assert_eq!(on_time.due_date, Some(wire::date(date(2024, 12, 20))));
    assert_eq!(on_time.summary, "Все пары работают");
    assert_eq!(on_time.pairs_assessed, 2);
    // The event, in the transaction of the submission.
    assert_eq!(
        fx.scalar(
            "SELECT count(*) FROM mentoring.event_outbox
             WHERE event_type = 'MONITORING_SUBMITTED'
               AND resource = 'institutions/mechta/monitoringRounds/2024-12'"
        )
        .await,
        1
    );

    let (_fx, late) = submit_december_at("2024-12-21T00:00:00+04:00").await;
    assert!(late.late);
    let expected: Timestamp = "2024-12-20T20:00:00Z".parse().expect("utc");
    assert_eq!(late.submit_time, Some(wire::timestamp(expected)));
}

#[tokio::test]
async fn submit_monitoring_round_refusals() {
    let fx = scene().await;
    let round = open_may(&fx).await;
    let refused = api(&fx)
        .submit_monitoring_round(request(&director(), now(), submit(MAY)))
        .await;
    let status = assert_status(refused, Code::FailedPrecondition, "PAIR_RESULTS_INCOMPLETE");
    assert_eq!(error_metadata(&status, "unassessed").as_deref(), Some("2"));
    assert_eq!(
        error_metadata(&status, "pair_result").as_deref(),
        Some(result(MAY, "p").as_str())
    );
    assess_both(&fx, MAY).await;
    let refused = api(&fx)
        .submit_monitoring_round(request(
            &director(),
            now(),
            pb::SubmitMonitoringRoundRequest {
                summary: "и".repeat(5001),
                ..submit(MAY)
            },
        ))
        .await;
    let status = assert_status(refused, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(bad_fields(&status), ["summary"]);
    // Assessing its pairs leaves the round's own etag as opened; another one is stale.
    assert!(!round.etag.is_empty());
    let refused = api(&fx)
        .submit_monitoring_round(request(
            &director(),
            now(),
            pb::SubmitMonitoringRoundRequest {
                etag: "\"42\"".into(),
                ..submit(MAY)
            },
        ))
        .await;
    assert_status(refused, Code::Aborted, "ETAG_MISMATCH");
    for (who, code, expected) in [
        (participant("m"), Code::PermissionDenied, "ROLE_REQUIRED"),
        (
            regional_centre("RU-SAR"),
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        ),
        (
            curator("m"),
            Code::PermissionDenied,
            "CURATOR_NOT_APPOINTED",
        ),
        (outsider(), Code::NotFound, "NOT_FOUND"),
    ] {
        let refused = api(&fx)
            .submit_monitoring_round(request(&who, now(), submit(MAY)))
            .await;
        assert_status(refused, code, expected);
    }

    let first = pb::SubmitMonitoringRoundRequest {
        request_id: "submit-may".into(),
        etag: round.etag.clone(),
        ..submit(MAY)
    };
    let submitted = api(&fx)
        .submit_monitoring_round(request(&director(), now(), first.clone()))
        .await
        .expect("submitted")
        .into_inner();
    let replayed = api(&fx)
        .submit_monitoring_round(request(&director(), now(), first.clone()))
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(replayed, submitted);
    let refused = api(&fx)
        .submit_monitoring_round(request(
            &director(),
            now(),
            pb::SubmitMonitoringRoundRequest {
                summary: "другой".into(),
                ..first
            },
        ))
        .await;
    assert_status(refused, Code::InvalidArgument, "REQUEST_ID_REUSED");
    let refused = api(&fx)
        .submit_monitoring_round(request(&director(), now(), submit(MAY)))
        .await;
    let status = assert_status(refused, Code::FailedPrecondition, "TRANSITION_NOT_ALLOWED");
    assert_eq!(
        error_metadata(&status, "state").as_deref(),
        Some("SUBMITTED")
    );
    assert_eq!(
        fx.scalar(
            "SELECT count(*) FROM mentoring.event_outbox WHERE event_type = 'MONITORING_SUBMITTED'"
        )
        .await,
        1
    );
}
