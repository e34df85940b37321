//! Rules 6-7: rankings, the choice of winners, and the one atomic announcement: nothing is
//! visible to teams and experts before it, results and feedback are after, and concurrent
//! announcements make one. And the region summary the gateway composes (issue 17): counts
//! per contest, winners once announced, no one named.

use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::application_service_server::ApplicationService;
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

/// The region summary of `region` as `who` sees it, asked at the results day.
async fn summary(
    fx: &Fixture,
    who: &edu_kit::auth::Caller,
    region: &str,
) -> Result<pb::RegionSummary, tonic::Status> {
    fx.results
        .get_region_summary(request(
            who,
            at(RESULTS_DAY),
            pb::GetRegionSummaryRequest {
                region_code: region.into(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

/// Drafts an application of `team` in «Детство без границ 2026» and, when `submitted`,
/// submits it; returns its name.
async fn apply_2026(
    fx: &Fixture,
    lead: &edu_kit::auth::Caller,
    team: &str,
    nomination: &str,
    title: &str,
    submitted: bool,
) -> String {
    let draft = fx
        .applications
        .create_application(request(
            lead,
            at(DURING),
            pb::CreateApplicationRequest {
                parent: "contests/detstvo-2026".into(),
                application: Some(pb::Application {
                    team: team.into(),
                    nomination_id: nomination.into(),
                    title: title.into(),
                    summary: format!("{title}: краткое описание"),
                    ..Default::default()
                }),
                application_id: String::new(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("drafted")
        .into_inner();
    if submitted {
        fx.applications
            .submit_application(request(
                lead,
                at(DURING),
                pb::SubmitApplicationRequest {
                    name: draft.name.clone(),
                    etag: String::new(),
                },
            ))
            .await
            .expect("submitted");
    }
    draft.name
}

/// The region summary's scene. «Детство без границ» (deadline 31 January 2025), closed and
/// reviewed as in [`reviewed`] but with Altai twice: Altai's «Школа здоровья» (health, 70)
/// loses to Moscow's «Здоровое детство» (90); the second Altai team's «Семейный клуб»
/// (family, 50, alone) wins; the winners are chosen, not announced. «Детство без границ
/// 2026» (deadline 31 January 2026), open: Altai submits one application, drafts another,
/// and its second team submits one and withdraws it; Moscow submits one.
async fn summary_scene(fx: &Fixture) -> (String, Vec<Submitted>) {
    let (contest, apps) = closed_contest(
        fx,
        "detstvo",
        1,
        &[
            ("altai", "RU-ALT", "health", "Школа здоровья"),
            ("moscow", "RU-MOW", "health", "Здоровое детство"),
            ("altai-2", "RU-ALT", "family", "Семейный клуб"),
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
    set_winners(fx, &contest, "health", &[&apps[1].name], "")
        .await
        .expect("chosen");
    set_winners(fx, &contest, "family", &[&apps[2].name], "")
        .await
        .expect("chosen");

    let mut body = contest_body("Детство без границ 2026");
    body.application_deadline = Some(edu_proto::google::r#type::Date {
        year: 2026,
        month: 1,
        day: 31,
    });
    body.results_due = Some(edu_proto::google::r#type::Date {
        year: 2026,
        month: 3,
        day: 22,
    });
    open_contest(fx, "detstvo-2026", body).await;
    let (altai, moscow, altai_2) = (&apps[0], &apps[1], &apps[2]);
    apply_2026(
        fx,
        &altai.lead,
        &altai.team,
        "health",
        "Школа здоровья 2.0",
        true,
    )
    .await;
    apply_2026(fx, &altai.lead, &altai.team, "family", "Черновик", false).await;
    let withdrawn = apply_2026(
        fx,
        &altai_2.lead,
        &altai_2.team,
        "health",
        "Отозванная практика",
        true,
    )
    .await;
    fx.applications
        .withdraw_application(request(
            &altai_2.lead,
            at(DURING),
            pb::WithdrawApplicationRequest {
                name: withdrawn,
                etag: String::new(),
            },
        ))
        .await
        .expect("withdrawn");
    apply_2026(
        fx,
        &moscow.lead,
        &moscow.team,
        "health",
        "Московская практика",
        true,
    )
    .await;
    (contest, apps)
}

/// (contest, state, applications, winners, results announced) of each entry, in order.
fn entries(s: &pb::RegionSummary) -> Vec<(&str, pb::ContestState, i32, i32, bool)> {
    s.contests
        .iter()
        .map(|c| {
            (
                c.contest.as_str(),
                c.state(),
                c.applications,
                c.winners,
                c.results_announced,
            )
        })
        .collect()
}

#[tokio::test]
async fn the_region_summary_counts_submitted_applications_and_winners_once_announced() {
    let fx = Fixture::new().await;
    let (contest, apps) = summary_scene(&fx).await;

    let chosen = summary(&fx, &organiser(), "RU-ALT").await.expect("summary");
    assert_eq!(
        entries(&chosen),
        [
            ("contests/detstvo-2026", pb::ContestState::Open, 1, 0, false),
            ("contests/detstvo", pb::ContestState::Closed, 2, 0, false),
        ],
        "the latest deadline first; a draft and a withdrawn application do not count; \
         winners chosen but not announced count as none"
    );
    assert_eq!((chosen.total_applications, chosen.total_winners), (3, 0));

    announce(&fx, &contest, RESULTS_DAY)
        .await
        .expect("announced");
    // The region's own team person reads it, the code given in lower case.
    let altai = summary(&fx, &apps[0].lead, "ru-alt")
        .await
        .expect("summary");
    assert_eq!(altai.region_code, "RU-ALT");
    assert_eq!(
        entries(&altai),
        [
            ("contests/detstvo-2026", pb::ContestState::Open, 1, 0, false),
            ("contests/detstvo", pb::ContestState::Announced, 2, 1, true),
        ]
    );
    assert_eq!(altai.contests[1].title, "Детство без границ");
    assert_eq!(altai.contests[0].title, "Детство без границ 2026");
    assert_eq!((altai.total_applications, altai.total_winners), (3, 1));
    assert_eq!(
        altai.read_time.as_ref().map(|t| (t.seconds, t.nanos)),
        Some((at(RESULTS_DAY).as_second(), 0)),
        "the call's instant"
    );

    let moscow = summary(&fx, &organiser(), "RU-MOW").await.expect("summary");
    assert_eq!(
        entries(&moscow),
        [
            ("contests/detstvo-2026", pb::ContestState::Open, 1, 0, false),
            ("contests/detstvo", pb::ContestState::Announced, 1, 1, true),
        ],
        "another region's applications count there and only there"
    );
    assert_eq!((moscow.total_applications, moscow.total_winners), (2, 1));
}

#[tokio::test]
async fn the_region_summary_of_a_region_without_applications_is_empty() {
    let fx = Fixture::new().await;
    let (contest, _) = summary_scene(&fx).await;
    announce(&fx, &contest, RESULTS_DAY)
        .await
        .expect("announced");
    // Kazakhstan's Almaty: another country's region; St Petersburg: only the expert's.
    for region in ["KZ-75", "RU-SPE"] {
        let empty = summary(&fx, &organiser(), region)
            .await
            .expect("an empty summary, not an error");
        assert_eq!(empty.region_code, region);
        assert!(empty.contests.is_empty(), "{empty:?}");
        assert_eq!((empty.total_applications, empty.total_winners), (0, 0));
        assert!(empty.read_time.is_some());
    }
    let own = summary(&fx, &team_person("spb-lead", "RU-SPE"), "RU-SPE")
        .await
        .expect("a team person's own region without applications");
    assert!(own.contests.is_empty());
}

#[tokio::test]
async fn the_region_summary_refuses_bad_codes_regions_outside_the_scope_and_other_roles() {
    let fx = Fixture::new().await;
    for bad in ["", "Altai", "RU_ALT", "RUS-ALT"] {
        let refused = summary(&fx, &organiser(), bad)
            .await
            .expect_err("malformed");
        assert_status(&refused, Code::InvalidArgument, "INVALID_FIELDS");
        assert_eq!(bad_fields(&refused), ["region_code"], "{bad:?}");
    }

    let altai = team_person("altai-lead", "RU-ALT");
    for other in ["RU-MOW", "KZ-75"] {
        let refused = summary(&fx, &altai, other)
            .await
            .expect_err("outside the scope");
        assert_status(&refused, Code::NotFound, "NOT_FOUND");
    }

    let municipal = caller(
        "barnaul-lead",
        &["competitions.team"],
        &["municipality:RU-ALT/01701000"],
    );
    let stranger = caller("stranger", &["aid.regional_staff"], &["region:RU-ALT"]);
    for who in [expert("ivan"), municipal, stranger] {
        for region in ["RU-ALT", "Altai"] {
            let refused = summary(&fx, &who, region)
                .await
                .expect_err("no role that reads summaries");
            assert_status(&refused, Code::PermissionDenied, "ROLE_REQUIRED");
        }
    }
}

#[tokio::test]
async fn the_region_summary_names_no_team_person_or_application() {
    let fx = Fixture::new().await;
    let (contest, _) = summary_scene(&fx).await;
    announce(&fx, &contest, RESULTS_DAY)
        .await
        .expect("announced");
    for region in ["RU-ALT", "RU-MOW"] {
        let answer = summary(&fx, &organiser(), region).await.expect("summary");
        let bytes = prost::Message::encode_to_vec(&answer);
        let found = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(
            found("Детство без границ"),
            "the search sees the contests' titles"
        );
        for name in [
            // Teams, their people, the expert, and the applications' titles.
            "Команда RU-ALT",
            "Команда RU-MOW",
            "Имя altai-lead",
            "Имя moscow-lead",
            "Эксперт ivan",
            "Школа здоровья",
            "Здоровое детство",
            "Семейный клуб",
            "Московская практика",
            "teams/",
            "applications/",
        ] {
            assert!(!found(name), "{name:?} in the summary of {region}");
        }
    }
}
