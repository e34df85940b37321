//! Rules 5-6: experts, assignment without conflicts of interest, balanced automatic
//! assignment, reviews against the rubric, and who sees which application and review.

use std::collections::BTreeMap;

use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::application_service_server::ApplicationService;
use edu_proto::edu::competitions::v1::review_service_server::ReviewService;
use tonic::Code;

use crate::common::*;

/// Three applications: Altai (health), Moscow (health), Tatarstan (family).
async fn three_applications(fx: &Fixture) -> (String, Vec<Submitted>) {
    closed_contest(
        fx,
        "detstvo",
        2,
        &[
            ("altai", "RU-ALT", "health", "Школа здоровья"),
            ("moscow", "RU-MOW", "health", "Здоровое детство"),
            ("kazan", "RU-TA", "family", "Семейный клуб"),
        ],
    )
    .await
}

#[tokio::test]
async fn rule_5_a_manual_assignment_with_a_conflict_of_interest_is_refused() {
    let fx = Fixture::new().await;
    let (contest, apps) = three_applications(&fx).await;
    let altai = &apps[0];

    let from_altai = register_expert(&fx, &contest, "olga", "RU-ALT").await;
    let refused = assign(&fx, &altai.name, &from_altai)
        .await
        .expect_err("same region");
    assert_status(&refused, Code::FailedPrecondition, "CONFLICT_OF_INTEREST");
    assert_eq!(
        error_metadata(&refused, "conflict").as_deref(),
        Some("SAME_REGION")
    );

    // The Altai lead is registered as an expert from another region: still the team's own.
    let member = register_expert(&fx, &contest, "altai-lead", "RU-MOW").await;
    let refused = assign(&fx, &altai.name, &member)
        .await
        .expect_err("team member");
    assert_status(&refused, Code::FailedPrecondition, "CONFLICT_OF_INTEREST");
    assert_eq!(
        error_metadata(&refused, "conflict").as_deref(),
        Some("TEAM_MEMBER")
    );

    let fine = register_expert(&fx, &contest, "ivan", "RU-SPE").await;
    let review = assign(&fx, &altai.name, &fine).await.expect("no conflict");
    assert_eq!(review.state, pb::ReviewState::Assigned as i32);
    let again = assign(&fx, &altai.name, &fine).await.expect_err("twice");
    assert_eq!(again.code(), Code::AlreadyExists);
    assert_eq!(
        fx.count("SELECT count(*) FROM competitions.reviews").await,
        1,
        "the refusals wrote nothing"
    );
}

#[tokio::test]
async fn rule_5_automatic_assignment_staffs_every_application_balanced_and_without_conflicts() {
    let fx = Fixture::new().await;
    let (contest, apps) = three_applications(&fx).await;
    let mut experts = BTreeMap::new();
    for (subject, region) in [
        ("e-alt", "RU-ALT"),
        ("e-mow", "RU-MOW"),
        ("e-ta", "RU-TA"),
        ("e-spe", "RU-SPE"),
    ] {
        experts.insert(
            register_expert(&fx, &contest, subject, region).await,
            region,
        );
    }
    let done = fx
        .reviews
        .auto_assign_experts(request(
            &organiser(),
            at(REVIEWING),
            pb::AutoAssignExpertsRequest {
                parent: contest.clone(),
                request_id: "auto-1".into(),
            },
        ))
        .await
        .expect("assigned")
        .into_inner();
    assert_eq!(done.created_reviews.len(), 6, "3 applications × 2 experts");
    assert!(done.understaffed_applications.is_empty());
    let regions = ["RU-ALT", "RU-MOW", "RU-TA"];
    let mut load: BTreeMap<&str, usize> = BTreeMap::new();
    for review in &done.created_reviews {
        let app = apps
            .iter()
            .position(|a| review.name.starts_with(&a.name))
            .expect("one of ours");
        assert_ne!(
            experts[&review.expert], regions[app],
            "{review:?} conflicts"
        );
        *load.entry(review.expert.as_str()).or_default() += 1;
    }
    let (min, max) = (load.values().min(), load.values().max());
    assert!(
        max.zip(min).is_some_and(|(max, min)| max - min <= 1),
        "{load:?}"
    );

    let second = fx
        .reviews
        .auto_assign_experts(request(
            &organiser(),
            at(REVIEWING),
            pb::AutoAssignExpertsRequest {
                parent: contest.clone(),
                request_id: "auto-2".into(),
            },
        ))
        .await
        .expect("assigned again")
        .into_inner();
    assert!(second.created_reviews.is_empty(), "everyone is staffed");

    let workloads = fx
        .reviews
        .list_expert_workloads(request(
            &organiser(),
            at(REVIEWING),
            pb::ListExpertWorkloadsRequest {
                parent: contest.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("workloads")
        .into_inner()
        .workloads;
    assert_eq!(workloads.iter().map(|w| w.assigned).sum::<i32>(), 6);
    assert!(workloads.iter().all(|w| w.completed == 0));
}

#[tokio::test]
async fn rule_5_automatic_assignment_reports_what_it_cannot_staff_and_needs_a_closed_contest() {
    let fx = Fixture::new().await;
    let (contest, apps) = three_applications(&fx).await;
    register_expert(&fx, &contest, "e-alt", "RU-ALT").await;
    let done = fx
        .reviews
        .auto_assign_experts(request(
            &organiser(),
            at(REVIEWING),
            pb::AutoAssignExpertsRequest {
                parent: contest.clone(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("assigned")
        .into_inner();
    assert_eq!(
        done.created_reviews.len(),
        2,
        "the Altai expert reviews the other two"
    );
    assert_eq!(
        done.understaffed_applications.len(),
        3,
        "each needs two experts free of conflicts"
    );
    assert!(done.understaffed_applications.contains(&apps[0].name));

    let open = open_contest(&fx, "open", contest_body("Открытый")).await;
    let refused = fx
        .reviews
        .auto_assign_experts(request(
            &organiser(),
            at(DURING),
            pb::AutoAssignExpertsRequest {
                parent: open,
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("still open");
    assert_status(&refused, Code::FailedPrecondition, "CONTEST_NOT_CLOSED");
}

#[tokio::test]
async fn rule_5_an_expert_reads_and_lists_only_the_applications_assigned_to_them() {
    let fx = Fixture::new().await;
    let (contest, apps) = three_applications(&fx).await;
    let expert_name = register_expert(&fx, &contest, "ivan", "RU-SPE").await;
    assign(&fx, &apps[0].name, &expert_name)
        .await
        .expect("assigned");
    let ivan = expert("ivan");

    let read = fx
        .applications
        .get_application(request(
            &ivan,
            at(REVIEWING),
            pb::GetApplicationRequest {
                name: apps[0].name.clone(),
            },
        ))
        .await
        .expect("assigned to him")
        .into_inner();
    assert_eq!(read.title, "Школа здоровья");
    let refused = fx
        .applications
        .get_application(request(
            &ivan,
            at(REVIEWING),
            pb::GetApplicationRequest {
                name: apps[1].name.clone(),
            },
        ))
        .await
        .expect_err("not assigned");
    assert_eq!(refused.code(), Code::NotFound, "as if it did not exist");

    let listed = fx
        .applications
        .list_applications(request(
            &ivan,
            at(REVIEWING),
            pb::ListApplicationsRequest {
                parent: contest.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("listed")
        .into_inner();
    let names: Vec<&str> = listed
        .applications
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, [apps[0].name.as_str()]);

    // Another contest's expert with the same role sees nothing.
    let stranger = fx
        .applications
        .get_application(request(
            &expert("someone-else"),
            at(REVIEWING),
            pb::GetApplicationRequest {
                name: apps[0].name.clone(),
            },
        ))
        .await
        .expect_err("not theirs");
    assert_eq!(stranger.code(), Code::NotFound);
}

#[tokio::test]
async fn rule_6_a_review_scores_every_criterion_within_its_scale_then_is_fixed() {
    let fx = Fixture::new().await;
    let (contest, apps) = three_applications(&fx).await;
    let ivan_name = register_expert(&fx, &contest, "ivan", "RU-SPE").await;
    let review = assign(&fx, &apps[0].name, &ivan_name)
        .await
        .expect("assigned");
    let ivan = expert("ivan");

    let out_of_scale = complete(&fx, &ivan, &review.name, 11, 5)
        .await
        .expect_err("11 > 10");
    assert_eq!(bad_fields(&out_of_scale), ["review.scores[0].score"]);

    let incomplete = fx
        .reviews
        .complete_review(request(
            &ivan,
            at(REVIEWING),
            pb::CompleteReviewRequest {
                name: review.name.clone(),
                etag: String::new(),
            },
        ))
        .await
        .expect_err("nothing scored");
    assert_eq!(bad_fields(&incomplete), ["scores", "feedback"]);

    let done = complete(&fx, &ivan, &review.name, 8, 4)
        .await
        .expect("completed");
    assert_eq!(done.state, pb::ReviewState::Completed as i32);
    assert_eq!(done.weighted_score, 70.0, "(8×3 + 4×1) / 4 × 10");

    let frozen = complete(&fx, &ivan, &review.name, 1, 1)
        .await
        .expect_err("completed");
    assert_status(&frozen, Code::FailedPrecondition, "REVIEW_COMPLETED");
    let withdrawn = fx
        .reviews
        .delete_review(request(
            &organiser(),
            at(REVIEWING),
            pb::DeleteReviewRequest {
                name: review.name.clone(),
            },
        ))
        .await
        .expect_err("completed");
    assert_status(&withdrawn, Code::FailedPrecondition, "REVIEW_COMPLETED");
    let removed = fx
        .reviews
        .delete_expert(request(
            &organiser(),
            at(REVIEWING),
            pb::DeleteExpertRequest { name: ivan_name },
        ))
        .await
        .expect_err("has a completed review");
    assert_status(
        &removed,
        Code::FailedPrecondition,
        "EXPERT_HAS_COMPLETED_REVIEWS",
    );
}

#[tokio::test]
async fn only_the_assigned_expert_writes_a_review_and_others_do_not_see_it() {
    let fx = Fixture::new().await;
    let (contest, apps) = three_applications(&fx).await;
    let ivan_name = register_expert(&fx, &contest, "ivan", "RU-SPE").await;
    register_expert(&fx, &contest, "petr", "RU-SPE").await;
    let review = assign(&fx, &apps[0].name, &ivan_name)
        .await
        .expect("assigned");

    let by_organiser = complete(&fx, &organiser(), &review.name, 5, 5)
        .await
        .expect_err("the organiser does not score");
    assert_status(&by_organiser, Code::PermissionDenied, "NOT_AN_EXPERT");
    let by_other_expert = fx
        .reviews
        .get_review(request(
            &expert("petr"),
            at(REVIEWING),
            pb::GetReviewRequest {
                name: review.name.clone(),
            },
        ))
        .await
        .expect_err("not his");
    assert_eq!(by_other_expert.code(), Code::NotFound);
    let by_team = fx
        .reviews
        .get_review(request(
            &apps[0].lead,
            at(REVIEWING),
            pb::GetReviewRequest {
                name: review.name.clone(),
            },
        ))
        .await
        .expect_err("before the announcement");
    assert_eq!(by_team.code(), Code::NotFound);

    let petr_sees = fx
        .reviews
        .list_reviews(request(
            &expert("petr"),
            at(REVIEWING),
            pb::ListReviewsRequest {
                parent: format!("{contest}/applications/-"),
                ..Default::default()
            },
        ))
        .await
        .expect("listed")
        .into_inner();
    assert!(petr_sees.reviews.is_empty());
    let ivan_sees = fx
        .reviews
        .list_reviews(request(
            &expert("ivan"),
            at(REVIEWING),
            pb::ListReviewsRequest {
                parent: format!("{contest}/applications/-"),
                ..Default::default()
            },
        ))
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(ivan_sees.reviews.len(), 1);
}

#[tokio::test]
async fn experts_and_assignments_are_the_organisers() {
    let fx = Fixture::new().await;
    let (contest, apps) = three_applications(&fx).await;
    let refused = fx
        .reviews
        .create_expert(request(
            &apps[0].lead,
            at(REVIEWING),
            pb::CreateExpertRequest {
                parent: contest.clone(),
                expert: Some(pb::Expert {
                    subject: "friend".into(),
                    display_name: "Друг".into(),
                    region_code: "RU-MOW".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("a team person");
    assert_status(&refused, Code::PermissionDenied, "ROLE_REQUIRED");
    let invalid = fx
        .reviews
        .create_expert(request(
            &organiser(),
            at(REVIEWING),
            pb::CreateExpertRequest {
                parent: contest.clone(),
                expert: Some(pb::Expert {
                    subject: "x".into(),
                    display_name: " ".into(),
                    region_code: "Moscow".into(),
                    nomination_ids: vec!["sport".into()],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("invalid");
    assert_eq!(
        bad_fields(&invalid),
        [
            "expert.display_name",
            "expert.region_code",
            "expert.nomination_ids[0]"
        ]
    );
}

#[tokio::test]
async fn assignments_need_a_submitted_application_of_the_experts_nominations_and_a_rubric() {
    let fx = Fixture::new().await;
    // An open contest without a rubric: reviews may start on submitted applications.
    let contest = open_contest(&fx, "early", contest_body("Без критериев")).await;
    let lead = team_person("altai-lead", "RU-ALT");
    let team = regional_team(&fx, &lead, "altai", "RU-ALT").await;
    let draft = fx
        .applications
        .create_application(request(
            &lead,
            at(DURING),
            pb::CreateApplicationRequest {
                parent: contest.clone(),
                application: Some(pb::Application {
                    team,
                    nomination_id: "health".into(),
                    title: "Школа здоровья".into(),
                    ..Default::default()
                }),
                application_id: String::new(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("drafted")
        .into_inner();
    let ivan = register_expert(&fx, &contest, "ivan", "RU-SPE").await;
    let refused = assign(&fx, &draft.name, &ivan).await.expect_err("a draft");
    assert_status(
        &refused,
        Code::FailedPrecondition,
        "APPLICATION_NOT_SUBMITTED",
    );

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
    let family_only = fx
        .reviews
        .create_expert(request(
            &organiser(),
            at(DURING),
            pb::CreateExpertRequest {
                parent: contest.clone(),
                expert: Some(pb::Expert {
                    subject: "olga".into(),
                    display_name: "Ольга".into(),
                    region_code: "RU-SPE".into(),
                    nomination_ids: vec!["family".into()],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("registered")
        .into_inner();
    let refused = assign(&fx, &draft.name, &family_only.name)
        .await
        .expect_err("health is not hers");
    assert_status(
        &refused,
        Code::FailedPrecondition,
        "EXPERT_NOT_IN_NOMINATION",
    );

    let review = assign(&fx, &draft.name, &ivan)
        .await
        .expect("assigned early");
    fx.reviews
        .update_review(request(
            &expert("ivan"),
            at(DURING),
            pb::UpdateReviewRequest {
                review: Some(pb::Review {
                    name: review.name.clone(),
                    feedback: "Хорошо".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["feedback".into()],
                }),
            },
        ))
        .await
        .expect("saved");
    let refused = fx
        .reviews
        .complete_review(request(
            &expert("ivan"),
            at(DURING),
            pb::CompleteReviewRequest {
                name: review.name,
                etag: String::new(),
            },
        ))
        .await
        .expect_err("nothing to score against");
    assert_status(&refused, Code::FailedPrecondition, "CONTEST_HAS_NO_RUBRIC");
}
