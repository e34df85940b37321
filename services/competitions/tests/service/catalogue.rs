//! Rules 8-11: the public catalogue with Russian full-text search and stable paging,
//! replication by regions, and follow-up invitations of winners.

use std::collections::BTreeSet;

use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::catalogue_service_server::CatalogueService;
use edu_proto::edu::competitions::v1::follow_up_service_server::FollowUpService;
use edu_proto::edu::competitions::v1::review_service_server::ReviewService;
use tonic::Code;

use crate::common::*;

/// An announced contest whose winners are every application given, each reviewed once.
async fn announced(
    fx: &Fixture,
    applications: &[(&str, &str, &str, &str)],
) -> (String, Vec<Submitted>) {
    let (contest, apps) = closed_contest(fx, "detstvo", 1, applications).await;
    let reviewer = register_expert(fx, &contest, "ivan", "RU-XX").await;
    for app in &apps {
        let review = assign(fx, &app.name, &reviewer).await.expect("assigned");
        complete(fx, &expert("ivan"), &review.name, 8, 8)
            .await
            .expect("completed");
    }
    for nomination in ["health", "family"] {
        let winners: Vec<&str> = apps
            .iter()
            .zip(applications)
            .filter(|(_, (_, _, n, _))| *n == nomination)
            .map(|(a, _)| a.name.as_str())
            .collect();
        set_winners(fx, &contest, nomination, &winners, "")
            .await
            .expect("chosen");
    }
    announce(fx, &contest, RESULTS_DAY)
        .await
        .expect("announced");
    (contest, apps)
}

async fn search(
    fx: &Fixture,
    query: &str,
    page_size: i32,
    token: &str,
) -> pb::SearchPracticesResponse {
    fx.catalogue
        .search_practices(anonymous(
            at(RESULTS_DAY),
            pb::SearchPracticesRequest {
                query: query.into(),
                page_size,
                page_token: token.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("search")
        .into_inner()
}

#[tokio::test]
async fn rule_9_search_finds_russian_words_in_any_form_and_case_without_a_token() {
    let fx = Fixture::new().await;
    announced(
        &fx,
        &[
            (
                "altai",
                "RU-ALT",
                "family",
                "Благополучие семьи начинается с детства",
            ),
            ("moscow", "RU-MOW", "health", "ЗДОРОВЬЕСБЕРЕЖЕНИЕ в школах"),
            ("kazan", "RU-TA", "health", "Спортивные выходные"),
        ],
    )
    .await;
    let titles = |r: pb::SearchPracticesResponse| -> Vec<String> {
        r.practices.into_iter().map(|p| p.title).collect()
    };
    assert_eq!(
        titles(search(&fx, "семьи", 0, "").await),
        ["Благополучие семьи начинается с детства"]
    );
    assert_eq!(
        titles(search(&fx, "семья", 0, "").await),
        ["Благополучие семьи начинается с детства"],
        "another form of the same word"
    );
    assert_eq!(
        titles(search(&fx, "здоровьесбережения", 0, "").await),
        ["ЗДОРОВЬЕСБЕРЕЖЕНИЕ в школах"],
        "any case, any form"
    );
    assert!(search(&fx, "космос", 0, "").await.practices.is_empty());
    assert_eq!(search(&fx, "", 0, "").await.practices.len(), 3);

    let filtered = fx
        .catalogue
        .search_practices(anonymous(
            at(RESULTS_DAY),
            pb::SearchPracticesRequest {
                nomination_id: "health".into(),
                region_code: "RU-TA".into(),
                year: 2025,
                ..Default::default()
            },
        ))
        .await
        .expect("filtered")
        .into_inner();
    assert_eq!(titles(filtered), ["Спортивные выходные"]);
}

#[tokio::test]
async fn rule_9_paging_returns_every_practice_exactly_once() {
    let fx = Fixture::new().await;
    let teams: Vec<(String, String)> = (0..12)
        .map(|i| (format!("team-{i:02}"), format!("RU-T{i:02}")))
        .collect();
    let applications: Vec<(&str, &str, &str, &str)> = teams
        .iter()
        .enumerate()
        .map(|(i, (team, region))| {
            let title = if i % 2 == 0 {
                "Семейный клуб выходного дня"
            } else {
                "Клуб для семей с детьми"
            };
            (team.as_str(), region.as_str(), "family", title)
        })
        .collect();
    announced(&fx, &applications).await;
    for query in ["", "клубы"] {
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let page = search(&fx, query, 5, &token).await;
            assert!(page.practices.len() <= 5);
            seen.extend(page.practices.into_iter().map(|p| p.name));
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        let distinct: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(seen.len(), 12, "{query:?}: every practice");
        assert_eq!(distinct.len(), 12, "{query:?}: once");
    }
    let wrong = fx
        .catalogue
        .search_practices(anonymous(
            at(RESULTS_DAY),
            pb::SearchPracticesRequest {
                query: "другое".into(),
                page_token: search(&fx, "", 5, "").await.next_page_token,
                ..Default::default()
            },
        ))
        .await
        .expect_err("token of another query");
    assert_status(&wrong, Code::InvalidArgument, "PAGE_TOKEN_INVALID");
}

/// The order the full-text path gives a query, straight from the catalogue table.
async fn ranked_by_full_text(fx: &Fixture, query: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT 'practices/' || p.id
         FROM competitions.practices p, websearch_to_tsquery('russian', $1) q
         WHERE p.search @@ q
         ORDER BY ts_rank(p.brief, q)::real DESC, p.publish_time DESC, p.id",
    )
    .bind(query)
    .fetch_all(fx.db.pool())
    .await
    .expect("reference order")
}

#[tokio::test]
async fn a_one_word_search_ranks_and_pages_as_the_full_text_search_does() {
    let fx = Fixture::new().await;
    let teams: Vec<(String, String)> = (0..9)
        .map(|i| (format!("team-{i:02}"), format!("RU-T{i:02}")))
        .collect();
    // The word in the title once or twice, in another form, or not at all (then only the
    // description, written from the title, may hold it).
    let titles = [
        "Клуб выходного дня",
        "Клуб клубов: семейный клуб",
        "Семейные клубы района",
        "Школа юного эколога",
        "Клуб юных экологов",
        "Экология в каждом доме",
        "Клубное движение школ",
        "Дворовый клуб «Ромашка»",
        "Семья и школа вместе",
    ];
    let applications: Vec<(&str, &str, &str, &str)> = teams
        .iter()
        .zip(titles)
        .enumerate()
        .map(|(i, ((team, region), title))| {
            let nomination = if i % 2 == 0 { "family" } else { "health" };
            (team.as_str(), region.as_str(), nomination, title)
        })
        .collect();
    announced(&fx, &applications).await;
    for word in ["клуб", "КЛУБЫ", "эколог", "школа", "и", "космос"] {
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let page = search(&fx, word, 2, &token).await;
            seen.extend(page.practices.into_iter().map(|p| p.name));
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        assert_eq!(seen, ranked_by_full_text(&fx, word).await, "{word:?}");
    }
    assert!(
        !ranked_by_full_text(&fx, "клуб").await.is_empty(),
        "the reference finds something"
    );
    // Two words take the full-text path, and agree with it too.
    let both: Vec<String> = search(&fx, "семейный клуб", 20, "")
        .await
        .practices
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(both, ranked_by_full_text(&fx, "семейный клуб").await);
}

fn replication_request(practice: &str, region: &str) -> pb::CreateReplicationRequest {
    pb::CreateReplicationRequest {
        parent: practice.into(),
        replication: Some(pb::Replication {
            region_code: region.into(),
            contact_name: "Петрова Анна, начальник отдела".into(),
            contact_details: "petrova@example.org".into(),
            plan: "Пилот в трёх школах в 2026 году".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

#[tokio::test]
async fn rule_10_a_region_replicates_a_practice_through_the_allowed_states_only() {
    let fx = Fixture::new().await;
    announced(&fx, &[("altai", "RU-ALT", "family", "Семейный клуб")]).await;
    let practice = search(&fx, "", 0, "").await.practices.remove(0);
    let tver = team_person("tver", "RU-TVE");

    let outside = fx
        .catalogue
        .create_replication(request(
            &tver,
            at(RESULTS_DAY),
            replication_request(&practice.name, "RU-MOW"),
        ))
        .await
        .expect_err("not Tver's region");
    assert_status(&outside, Code::PermissionDenied, "SCOPE_REQUIRED");
    let replication = fx
        .catalogue
        .create_replication(request(
            &tver,
            at(RESULTS_DAY),
            replication_request(&practice.name, "RU-TVE"),
        ))
        .await
        .expect("requested")
        .into_inner();
    assert_eq!(replication.state, pb::ReplicationState::Requested as i32);
    let twice = fx
        .catalogue
        .create_replication(request(
            &tver,
            at(RESULTS_DAY),
            replication_request(&practice.name, "RU-TVE"),
        ))
        .await
        .expect_err("already pursued");
    assert_eq!(twice.code(), Code::AlreadyExists);

    let name = replication.name.clone();
    let complete = |who| {
        fx.catalogue.complete_replication(request(
            who,
            at(RESULTS_DAY),
            pb::CompleteReplicationRequest {
                name: name.clone(),
                etag: String::new(),
            },
        ))
    };
    let skipped = complete(&tver).await.expect_err("not started");
    assert_status(&skipped, Code::FailedPrecondition, "TRANSITION_NOT_ALLOWED");
    fx.catalogue
        .start_replication(request(
            &tver,
            at(RESULTS_DAY),
            pb::StartReplicationRequest {
                name: name.clone(),
                etag: replication.etag.clone(),
            },
        ))
        .await
        .expect("started");
    let pskov = team_person("pskov", "RU-PSK");
    let other_region = complete(&pskov)
        .await
        .expect_err("Pskov does not move Tver's");
    assert_status(&other_region, Code::PermissionDenied, "SCOPE_REQUIRED");
    let done = complete(&tver).await.expect("implemented").into_inner();
    assert_eq!(done.state, pb::ReplicationState::Implemented as i32);
    let declined = fx
        .catalogue
        .decline_replication(request(
            &tver,
            at(RESULTS_DAY),
            pb::DeclineReplicationRequest {
                name: name.clone(),
                reason: "передумали".into(),
                etag: String::new(),
            },
        ))
        .await
        .expect_err("implemented is final");
    assert_status(
        &declined,
        Code::FailedPrecondition,
        "TRANSITION_NOT_ALLOWED",
    );

    let shown = fx
        .catalogue
        .get_practice(anonymous(
            at(RESULTS_DAY),
            pb::GetPracticeRequest {
                name: practice.name.clone(),
            },
        ))
        .await
        .expect("practice")
        .into_inner();
    assert_eq!(
        (shown.replication_count, shown.implemented_region_count),
        (1, 1)
    );

    // Another region sees the replication, not its contact.
    let seen_by_pskov = fx
        .catalogue
        .list_replications(request(
            &team_person("pskov", "RU-PSK"),
            at(RESULTS_DAY),
            pb::ListReplicationsRequest {
                parent: practice.name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("listed")
        .into_inner()
        .replications;
    assert_eq!(seen_by_pskov.len(), 1);
    assert_eq!(seen_by_pskov[0].contact_name, "");
    let seen_by_organiser = fx
        .catalogue
        .get_replication(request(
            &organiser(),
            at(RESULTS_DAY),
            pb::GetReplicationRequest { name },
        ))
        .await
        .expect("read")
        .into_inner();
    assert_eq!(seen_by_organiser.contact_details, "petrova@example.org");
}

#[tokio::test]
async fn rule_11_winners_are_invited_and_answer_and_attendance_is_recorded() {
    let fx = Fixture::new().await;
    let (contest, apps) = closed_contest(
        &fx,
        "detstvo",
        1,
        &[
            ("altai", "RU-ALT", "family", "Семейный клуб"),
            ("moscow", "RU-MOW", "family", "Клуб выходного дня"),
        ],
    )
    .await;
    let reviewer = register_expert(&fx, &contest, "ivan", "RU-XX").await;
    for (app, score) in apps.iter().zip([9, 5]) {
        let review = assign(&fx, &app.name, &reviewer).await.expect("assigned");
        complete(&fx, &expert("ivan"), &review.name, score, score)
            .await
            .expect("completed");
    }
    set_winners(&fx, &contest, "family", &[&apps[0].name], "")
        .await
        .expect("chosen");
    set_winners(&fx, &contest, "health", &[], "")
        .await
        .expect("none ranked");

    let invite = |application: &str| {
        fx.follow_ups.create_invitation(request(
            &organiser(),
            at(RESULTS_DAY),
            pb::CreateInvitationRequest {
                parent: contest.clone(),
                invitation: Some(pb::Invitation {
                    application: application.into(),
                    kind: pb::FollowUpKind::Accelerator as i32,
                    title: "Акселератор АСИ, весенний поток".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
    };
    let too_early = invite(&apps[0].name).await.expect_err("not announced");
    assert_status(&too_early, Code::FailedPrecondition, "NOT_A_WINNER");
    announce(&fx, &contest, RESULTS_DAY)
        .await
        .expect("announced");
    let not_winner = invite(&apps[1].name).await.expect_err("second place");
    assert_status(&not_winner, Code::FailedPrecondition, "NOT_A_WINNER");
    let invitation = invite(&apps[0].name).await.expect("invited").into_inner();
    assert_eq!(invitation.state, pb::InvitationState::Invited as i32);

    let attend = || {
        fx.follow_ups.mark_invitation_attended(request(
            &organiser(),
            at(RESULTS_DAY),
            pb::MarkInvitationAttendedRequest {
                name: invitation.name.clone(),
            },
        ))
    };
    let not_yet = attend().await.expect_err("not accepted");
    assert_status(&not_yet, Code::FailedPrecondition, "TRANSITION_NOT_ALLOWED");
    let answer = |who, accept| {
        fx.follow_ups.respond_to_invitation(request(
            who,
            at(RESULTS_DAY),
            pb::RespondToInvitationRequest {
                name: invitation.name.clone(),
                accept,
            },
        ))
    };
    let stranger = answer(&apps[1].lead, true).await.expect_err("another team");
    assert_eq!(stranger.code(), Code::NotFound);
    let accepted = answer(&apps[0].lead, true)
        .await
        .expect("accepted")
        .into_inner();
    assert_eq!(accepted.state, pb::InvitationState::Accepted as i32);
    let attended = attend().await.expect("attended").into_inner();
    assert_eq!(attended.state, pb::InvitationState::Attended as i32);

    let listed_by_other = fx
        .follow_ups
        .list_invitations(request(
            &apps[1].lead,
            at(RESULTS_DAY),
            pb::ListInvitationsRequest {
                parent: contest.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("listed")
        .into_inner();
    assert!(listed_by_other.invitations.is_empty());

    // The organiser's view of experts' progress after all this.
    let workloads = fx
        .reviews
        .list_expert_workloads(request(
            &organiser(),
            at(RESULTS_DAY),
            pb::ListExpertWorkloadsRequest {
                parent: contest,
                ..Default::default()
            },
        ))
        .await
        .expect("workloads")
        .into_inner()
        .workloads;
    assert_eq!(
        workloads
            .iter()
            .map(|w| (w.assigned, w.completed))
            .collect::<Vec<_>>(),
        [(2, 2)]
    );
}
