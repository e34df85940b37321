//! Rules 6-7: rankings, the choice of winners, and the one atomic announcement: nothing is
//! visible to teams and experts before it, results and feedback are after, and concurrent
//! announcements make one.

use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::results_service_server::ResultsService;
use edu_proto::edu::competitions::v1::review_service_server::ReviewService;
use futures::StreamExt;
use tonic::Code;

use crate::common::*;

/// A closed contest whose two health applications (Altai, Moscow) and one family
/// application (Tatarstan) were each reviewed by one expert from St Petersburg: Moscow
/// scores 90, Altai 70, Tatarstan 50.
async fn reviewed(fx: &Fixture) -> (String, Vec<Submitted>) {
    let (contest, apps) = closed_contest(
        fx,
        "detstvo",
        1,
        &[
            ("altai", "RU-ALT", "health", "Школа здоровья"),
            ("moscow", "RU-MOW", "health", "Здоровое детство"),
            ("kazan", "RU-TA", "family", "Семейный клуб"),
        ],
    )
    .await;
    let ivan_name = register_expert(fx, &contest, "ivan", "RU-SPE").await;
    for (app, (relevance, impact)) in apps.iter().zip([(7, 7), (9, 9), (5, 5)]) {
        let review = assign(fx, &app.name, &ivan_name).await.expect("assigned");
        complete(fx, &expert("ivan"), &review.name, relevance, impact)
            .await
            .expect("completed");
    }
    (contest, apps)
}

async fn ranking(
    fx: &Fixture,
    who: Option<&edu_kit::auth::Caller>,
    contest: &str,
    nomination: &str,
) -> Result<pb::Ranking, tonic::Status> {
    let body = pb::GetRankingRequest {
        contest: contest.into(),
        nomination_id: nomination.into(),
    };
    let call = match who {
        Some(who) => request(who, at(RESULTS_DAY), body),
        None => anonymous(at(RESULTS_DAY), body),
    };
    fx.results.get_ranking(call).await.map(|r| r.into_inner())
}

#[tokio::test]
async fn rule_6_the_ranking_orders_by_the_weighted_score_of_completed_reviews() {
    let fx = Fixture::new().await;
    let (contest, apps) = reviewed(&fx).await;
    let health = ranking(&fx, Some(&organiser()), &contest, "health")
        .await
        .expect("ranking");
    let order: Vec<(&str, f64, i32)> = health
        .applications
        .iter()
        .map(|a| (a.application.as_str(), a.score, a.rank))
        .collect();
    assert_eq!(
        order,
        [
            (apps[1].name.as_str(), 90.0, 1),
            (apps[0].name.as_str(), 70.0, 2)
        ]
    );
    assert!(health.applications.iter().all(|a| !a.winner));
}

#[tokio::test]
async fn rule_7_scores_rankings_and_feedback_are_hidden_until_the_announcement() {
    let fx = Fixture::new().await;
    let (contest, apps) = reviewed(&fx).await;
    let lead = &apps[0].lead;

    for who in [Some(lead), Some(&expert("ivan")), None] {
        let hidden = ranking(&fx, who, &contest, "health")
            .await
            .expect_err("not announced");
        assert_status(&hidden, Code::FailedPrecondition, "RESULTS_NOT_ANNOUNCED");
    }
    let team_reviews = || {
        fx.reviews.list_reviews(request(
            lead,
            at(RESULTS_DAY),
            pb::ListReviewsRequest {
                parent: apps[0].name.clone(),
                ..Default::default()
            },
        ))
    };
    let before = team_reviews().await.expect("listed").into_inner();
    assert!(
        before.reviews.is_empty(),
        "no feedback before the announcement"
    );
    let results = fx
        .results
        .get_results(anonymous(
            at(RESULTS_DAY),
            pb::GetResultsRequest {
                contest: contest.clone(),
            },
        ))
        .await
        .expect_err("not announced");
    assert_status(&results, Code::FailedPrecondition, "RESULTS_NOT_ANNOUNCED");

    set_winners(&fx, &contest, "health", &[&apps[1].name], "")
        .await
        .expect("chosen");
    set_winners(&fx, &contest, "family", &[&apps[2].name], "")
        .await
        .expect("chosen");
    announce(&fx, &contest, RESULTS_DAY)
        .await
        .expect("announced");

    let public = ranking(&fx, None, &contest, "health")
        .await
        .expect("public now");
    assert_eq!(public.applications[0].score, 90.0);
    assert!(public.applications[0].winner);
    let after = team_reviews().await.expect("listed").into_inner();
    assert_eq!(after.reviews.len(), 1, "the team reads its feedback");
    assert!(after.reviews[0].feedback.starts_with("Практика"));
    assert_eq!(after.reviews[0].expert, "", "reviews stay blind");
    let other_team = fx
        .reviews
        .list_reviews(request(
            &apps[1].lead,
            at(RESULTS_DAY),
            pb::ListReviewsRequest {
                parent: apps[0].name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("listed")
        .into_inner();
    assert!(
        other_team.reviews.is_empty(),
        "another team's feedback stays theirs"
    );
}

#[tokio::test]
async fn rule_7_winners_other_than_the_top_need_a_reason_and_are_chosen_in_a_closed_contest() {
    let fx = Fixture::new().await;
    let (contest, apps) = reviewed(&fx).await;
    let refused = set_winners(&fx, &contest, "health", &[&apps[0].name], " ")
        .await
        .expect_err("not the top");
    assert_status(
        &refused,
        Code::FailedPrecondition,
        "DEPARTURE_REASON_REQUIRED",
    );
    let chosen = set_winners(
        &fx,
        &contest,
        "health",
        &[&apps[0].name],
        "Практика уже тиражируется в трёх регионах",
    )
    .await
    .expect("with a reason");
    assert_eq!(
        chosen.departure_reason,
        "Практика уже тиражируется в трёх регионах"
    );
    assert!(chosen.applications[1].winner && !chosen.applications[0].winner);
    let wrong = set_winners(&fx, &contest, "health", &[&apps[2].name], "x")
        .await
        .expect_err("another nomination's application");
    assert_eq!(bad_fields(&wrong), ["applications[0]"]);

    let open = open_contest(&fx, "open", contest_body("Открытый")).await;
    let too_early = set_winners(&fx, &open, "health", &[], "")
        .await
        .expect_err("open");
    assert_status(&too_early, Code::FailedPrecondition, "CONTEST_NOT_CLOSED");
}

#[tokio::test]
async fn rule_7_every_ranked_nomination_has_its_winners_before_the_announcement() {
    let fx = Fixture::new().await;
    let (contest, apps) = reviewed(&fx).await;
    set_winners(&fx, &contest, "health", &[&apps[1].name], "")
        .await
        .expect("chosen");
    let refused = announce(&fx, &contest, RESULTS_DAY)
        .await
        .expect_err("family has no winners");
    assert_status(&refused, Code::FailedPrecondition, "WINNERS_NOT_SET");
    assert_eq!(
        error_metadata(&refused, "nomination_id").as_deref(),
        Some("family")
    );
    assert_eq!(
        fx.count("SELECT count(*) FROM competitions.practices")
            .await,
        0,
        "nothing half-done"
    );
}

#[tokio::test]
async fn rule_7_twenty_concurrent_announcements_make_exactly_one() {
    let fx = Fixture::new().await;
    let (contest, apps) = reviewed(&fx).await;
    set_winners(&fx, &contest, "health", &[&apps[1].name], "")
        .await
        .expect("chosen");
    set_winners(&fx, &contest, "family", &[&apps[2].name], "")
        .await
        .expect("chosen");

    let calls = (0..20).map(|_| announce(&fx, &contest, RESULTS_DAY));
    let answers = futures::future::join_all(calls).await;
    let answers: Vec<pb::AnnounceResultsResponse> = answers
        .into_iter()
        .map(|a| a.expect("every caller gets the announcement"))
        .collect();
    let first = &answers[0];
    assert_eq!(first.published_practices.len(), 2);
    assert!(
        answers
            .iter()
            .all(|a| a.published_practices == first.published_practices)
    );
    assert!(!first.announced_late);
    assert_eq!(
        first.contest.as_ref().map(|c| c.state),
        Some(pb::ContestState::Announced as i32)
    );

    assert_eq!(
        fx.count("SELECT count(*) FROM competitions.practices")
            .await,
        2
    );
    assert_eq!(
        fx.count(
            "SELECT count(*) FROM competitions.event_outbox WHERE event_type = 'WINNERS_ANNOUNCED'"
        )
        .await,
        1
    );
    let announced = fx
        .audit(&contest)
        .await
        .into_iter()
        .filter(|(action, _)| action == "contest.announced")
        .count();
    assert_eq!(announced, 1);

    let frozen = set_winners(&fx, &contest, "health", &[&apps[0].name], "поздно")
        .await
        .expect_err("announced");
    assert_status(&frozen, Code::FailedPrecondition, "CONTEST_FINAL");
}

#[tokio::test]
async fn rule_7_an_announcement_after_the_results_day_is_allowed_and_flagged() {
    let fx = Fixture::new().await;
    let (contest, apps) = reviewed(&fx).await;
    set_winners(&fx, &contest, "health", &[&apps[1].name], "")
        .await
        .expect("chosen");
    set_winners(&fx, &contest, "family", &[&apps[2].name], "")
        .await
        .expect("chosen");
    let late = announce(&fx, &contest, "2025-03-23T00:00:00+03:00")
        .await
        .expect("announced");
    assert!(late.announced_late, "after the end of 22 March in Moscow");

    let results = fx
        .results
        .get_results(anonymous(
            at(RESULTS_DAY),
            pb::GetResultsRequest {
                contest: contest.clone(),
            },
        ))
        .await
        .expect("public")
        .into_inner();
    assert!(results.announced_late);
    let nominations: Vec<&str> = results
        .rankings
        .iter()
        .map(|r| r.nomination_id.as_str())
        .collect();
    assert_eq!(nominations, ["health", "family"], "the contest's order");

    let rows: Vec<pb::ExportResultsResponse> = fx
        .results
        .export_results(anonymous(
            at(RESULTS_DAY),
            pb::ExportResultsRequest { contest },
        ))
        .await
        .expect("export")
        .into_inner()
        .map(|row| row.expect("row"))
        .collect()
        .await;
    assert_eq!(rows.len(), 3, "one row per ranked application");
    assert_eq!(rows[0].nomination_title, "Здоровьесбережение с детства");
}
