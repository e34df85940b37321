//! `PlanService` through its handlers: the mentor and staff plan, a mentee or guardian
//! proposes, activities move by `state`, meetings are logged for an ACTIVE pair (one for a
//! SPEED pair), the pair's members alone see them, and a redacted member hides the texts.

use edu_kit::auth::Caller;
use edu_kit::testing::{bad_fields, error_metadata, reason};
use edu_mentoring::api::PlansApi;
use edu_mentoring::domain::{MentoringForm, PairType, ParticipantRole};
use edu_mentoring::store::pairs;
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::plan_service_server::PlanService;
use edu_proto::google::r#type::Date as PbDate;
use prost_types::FieldMask;
use tonic::Code;

use crate::callers::{
    curator, director, event_consumer, guardian, now, outsider, participant, regional_centre,
    request,
};
use crate::common::{
    Fixture, INST, MENTOR, PUPIL, activate, agreement, appoint, context, in_tx, order, pair,
    person, ready_pair, revoke, who,
};

fn api(fx: &Fixture) -> PlansApi {
    PlansApi::new(fx.store.clone())
}

fn day(year: i32, month: i32, day: i32) -> Option<PbDate> {
    Some(PbDate { year, month, day })
}

fn pair_name(pair: &str) -> String {
    format!("institutions/{INST}/pairs/{pair}")
}

fn participant_name(id: &str) -> String {
    format!("institutions/{INST}/participants/{id}")
}

/// A counsellor–pupil pair `id` of `mentor` and minor `kid`, FORMING with its agreement and
/// order.
async fn forming(fx: &Fixture, id: &str, mentor: &str, kid: &str) {
    person(fx, mentor, MENTOR).await;
    person(fx, kid, PUPIL).await;
    ready_pair(fx, id, mentor, kid).await;
}

/// The same pair, ACTIVE since today (12 February 2025).
async fn active(fx: &Fixture, id: &str, mentor: &str, kid: &str) {
    forming(fx, id, mentor, kid).await;
    activate(fx, id).await.expect("active");
}

fn activity_request(pair: &str, title: &str, due: Option<PbDate>) -> pb::CreatePlanActivityRequest {
    pb::CreatePlanActivityRequest {
        parent: pair_name(pair),
        plan_activity: Some(pb::PlanActivity {
            title: title.into(),
            description: "вместе с отрядом".into(),
            due_date: due,
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

async fn add(fx: &Fixture, who: &Caller, pair: &str, title: &str) -> pb::PlanActivity {
    api(fx)
        .create_plan_activity(request(
            who,
            now(),
            activity_request(pair, title, day(2025, 3, 1)),
        ))
        .await
        .expect("added")
        .into_inner()
}

fn meeting_request(pair: &str, topic: &str) -> pb::CreateMeetingRequest {
    pb::CreateMeetingRequest {
        parent: pair_name(pair),
        meeting: Some(pb::Meeting {
            meet_date: day(2025, 2, 12),
            duration_minutes: 45,
            format: pb::MeetingFormat::InPerson as i32,
            topic: topic.into(),
            notes: "договорились о подготовке огонька".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

fn update(activity: pb::PlanActivity, paths: &[&str]) -> pb::UpdatePlanActivityRequest {
    pb::UpdatePlanActivityRequest {
        plan_activity: Some(activity),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|p| (*p).to_string()).collect(),
        }),
    }
}

async fn list_activities(fx: &Fixture, who: &Caller, pair: &str) -> Vec<pb::PlanActivity> {
    api(fx)
        .list_plan_activities(request(
            who,
            now(),
            pb::ListPlanActivitiesRequest {
                parent: pair_name(pair),
                ..Default::default()
            },
        ))
        .await
        .expect("plan")
        .into_inner()
        .plan_activities
}

async fn list_meetings(fx: &Fixture, who: &Caller, pair: &str) -> Vec<pb::Meeting> {
    api(fx)
        .list_meetings(request(
            who,
            now(),
            pb::ListMeetingsRequest {
                parent: pair_name(pair),
                ..Default::default()
            },
        ))
        .await
        .expect("meetings")
        .into_inner()
        .meetings
}

#[tokio::test]
async fn the_mentor_plans_and_a_mentee_or_guardian_proposes() {
    let fx = Fixture::new().await;
    forming(&fx, "p", "mentor", "kid").await;
    let planned = add(&fx, &participant("mentor"), "p", "подготовка огонька").await;
    assert!(
        planned
            .name
            .starts_with(&format!("{}/planActivities/", pair_name("p")))
    );
    assert_eq!(planned.state, pb::PlanActivityState::Planned as i32);
    assert!(!planned.proposed_by_mentee && !planned.overdue && !planned.redacted);
    assert_eq!(planned.title, "подготовка огонька");
    assert_eq!(planned.description, "вместе с отрядом");
    assert_eq!(planned.due_date, day(2025, 3, 1));
    assert!(planned.create_time.is_some() && planned.update_time.is_some());
    assert!(!planned.etag.is_empty());
    for who in [participant("kid"), guardian("kid")] {
        let proposed = add(&fx, &who, "p", "поход выходного дня").await;
        assert_eq!(proposed.state, pb::PlanActivityState::Proposed as i32);
        assert!(proposed.proposed_by_mentee);
    }
    let by_staff = add(&fx, &director(), "p", "итоговая встреча").await;
    assert_eq!(by_staff.state, pb::PlanActivityState::Planned as i32);

    // A retry with the same request ID adds nothing; another body under it is refused.
    let mut body = activity_request("p", "отрядная свечка", day(2025, 3, 2));
    body.request_id = "add-1".into();
    let first = api(&fx)
        .create_plan_activity(request(&participant("mentor"), now(), body.clone()))
        .await
        .expect("first")
        .into_inner();
    let again = api(&fx)
        .create_plan_activity(request(&participant("mentor"), now(), body.clone()))
        .await
        .expect("again")
        .into_inner();
    assert_eq!(first.name, again.name);
    assert_eq!(list_activities(&fx, &director(), "p").await.len(), 5);
    body.plan_activity.as_mut().expect("activity").title = "другое".into();
    let refused = api(&fx)
        .create_plan_activity(request(&participant("mentor"), now(), body))
        .await
        .expect_err("reused");
    assert_eq!(reason(&refused), "REQUEST_ID_REUSED");
}

#[tokio::test]
async fn create_plan_activity_names_every_bad_field() {
    let fx = Fixture::new().await;
    forming(&fx, "p", "mentor", "kid").await;
    let refused = api(&fx)
        .create_plan_activity(request(
            &director(),
            now(),
            pb::CreatePlanActivityRequest {
                parent: pair_name("p"),
                plan_activity: Some(pb::PlanActivity {
                    title: " ".into(),
                    description: "д".repeat(2001),
                    due_date: None,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("bad");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    assert_eq!(
        bad_fields(&refused),
        vec![
            "plan_activity.title".to_string(),
            "plan_activity.description".to_string(),
            "plan_activity.due_date".to_string()
        ]
    );
    // A title over 300 characters; a due date before the pair was formed (1 Sep 2024).
    for (body, field) in [
        (
            activity_request("p", &"т".repeat(301), day(2025, 3, 1)),
            "plan_activity.title",
        ),
        (
            activity_request("p", "огонёк", day(2024, 8, 31)),
            "plan_activity.due_date",
        ),
    ] {
        let refused = api(&fx)
            .create_plan_activity(request(&director(), now(), body))
            .await
            .expect_err(field);
        assert_eq!(bad_fields(&refused), vec![field.to_string()]);
    }
}

#[tokio::test]
async fn the_plan_changes_only_while_the_pair_is_forming_or_active() {
    let fx = Fixture::new().await;
    active(&fx, "p", "mentor", "kid").await;
    let planned = add(&fx, &director(), "p", "огонёк").await;
    // The mentee's revocation suspends the pair.
    revoke(&fx, "kid").await.expect("revoked");
    let refused = api(&fx)
        .create_plan_activity(request(
            &director(),
            now(),
            activity_request("p", "огонёк", day(2025, 3, 1)),
        ))
        .await
        .expect_err("suspended");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "PAIR_NOT_ACTIVE");
    assert_eq!(
        error_metadata(&refused, "state").as_deref(),
        Some("SUSPENDED")
    );
    let mut moved = planned.clone();
    moved.due_date = day(2025, 4, 1);
    let refused = api(&fx)
        .update_plan_activity(request(&director(), now(), update(moved, &["due_date"])))
        .await
        .expect_err("suspended");
    assert_eq!(reason(&refused), "PAIR_NOT_ACTIVE");

    // A cancelled pair: nothing is recorded.
    person(&fx, "kid2", PUPIL).await;
    pair(
        &fx,
        "q",
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        "mentor",
        &["kid2"],
    )
    .await
    .expect("pair");
    let of_q = add(&fx, &director(), "q", "огонёк").await;
    in_tx!(fx, |tx| pairs::cancel(
        &mut tx,
        &context(),
        INST,
        "q",
        "не сложилась",
        ""
    )
    .await)
    .expect("cancelled");
    let refused = api(&fx)
        .create_plan_activity(request(
            &director(),
            now(),
            activity_request("q", "огонёк", day(2025, 3, 1)),
        ))
        .await
        .expect_err("closed");
    assert_eq!(reason(&refused), "PAIR_CLOSED");
    assert_eq!(
        error_metadata(&refused, "state").as_deref(),
        Some("CANCELLED")
    );
    let mut renamed = of_q;
    renamed.title = "другое".into();
    let refused = api(&fx)
        .update_plan_activity(request(&director(), now(), update(renamed, &["title"])))
        .await
        .expect_err("closed");
    assert_eq!(reason(&refused), "PAIR_CLOSED");
}

#[tokio::test]
async fn only_the_pairs_members_and_staff_reach_its_plan() {
    let fx = Fixture::new().await;
    forming(&fx, "p", "mentor", "kid").await;
    person(&fx, "stranger", PUPIL).await;
    add(&fx, &director(), "p", "огонёк").await;
    for (who, code, expected) in [
        (outsider(), Code::NotFound, "NOT_FOUND"),
        (participant("stranger"), Code::NotFound, "NOT_FOUND"),
        (guardian("stranger"), Code::NotFound, "NOT_FOUND"),
        (
            regional_centre("RU-SAR"),
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        ),
        (event_consumer(), Code::PermissionDenied, "ROLE_REQUIRED"),
        (
            curator("someone"),
            Code::PermissionDenied,
            "CURATOR_NOT_APPOINTED",
        ),
    ] {
        let refused = api(&fx)
            .create_plan_activity(request(
                &who,
                now(),
                activity_request("p", "огонёк", day(2025, 3, 1)),
            ))
            .await
            .expect_err(expected);
        assert_eq!(
            (refused.code(), reason(&refused).as_str()),
            (code, expected)
        );
        let refused = api(&fx)
            .list_plan_activities(request(
                &who,
                now(),
                pb::ListPlanActivitiesRequest {
                    parent: pair_name("p"),
                    ..Default::default()
                },
            ))
            .await
            .expect_err(expected);
        assert_eq!(reason(&refused), expected);
        let refused = api(&fx)
            .list_meetings(request(
                &who,
                now(),
                pb::ListMeetingsRequest {
                    parent: pair_name("p"),
                    ..Default::default()
                },
            ))
            .await
            .expect_err(expected);
        assert_eq!(reason(&refused), expected);
    }
    for who in [
        director(),
        participant("mentor"),
        participant("kid"),
        guardian("kid"),
    ] {
        assert_eq!(list_activities(&fx, &who, "p").await.len(), 1);
        assert!(list_meetings(&fx, &who, "p").await.is_empty());
    }
    // The appointed curator plans as staff.
    person(&fx, "cur", who(ParticipantRole::Educator)).await;
    appoint(&fx, "cur").await;
    let planned = add(&fx, &curator("cur"), "p", "поход").await;
    assert_eq!(planned.state, pb::PlanActivityState::Planned as i32);
}

#[tokio::test]
async fn update_plan_activity_accepts_completes_and_cancels() {
    let fx = Fixture::new().await;
    forming(&fx, "p", "mentor", "kid").await;
    let proposed = add(&fx, &participant("kid"), "p", "поход").await;
    let mentor = participant("mentor");
    // The mentee sees the plan but does not change it; an unknown activity is not there.
    let mut accept = proposed.clone();
    accept.state = pb::PlanActivityState::Planned as i32;
    let refused = api(&fx)
        .update_plan_activity(request(
            &participant("kid"),
            now(),
            update(accept.clone(), &["state"]),
        ))
        .await
        .expect_err("mentee");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reason(&refused), "ROLE_REQUIRED");
    let mut missing = accept.clone();
    missing.name = format!("{}/planActivities/nothing", pair_name("p"));
    let refused = api(&fx)
        .update_plan_activity(request(
            &guardian("kid"),
            now(),
            update(missing, &["state"]),
        ))
        .await
        .expect_err("missing");
    assert_eq!(reason(&refused), "NOT_FOUND");
    let refused = api(&fx)
        .update_plan_activity(request(
            &outsider(),
            now(),
            update(accept.clone(), &["state"]),
        ))
        .await
        .expect_err("outsider");
    assert_eq!(reason(&refused), "NOT_FOUND");
    // A PROPOSED activity is not carried out before it is accepted.
    let mut done_early = proposed.clone();
    done_early.state = pb::PlanActivityState::Done as i32;
    done_early.result = "сходили".into();
    done_early.done_date = day(2025, 2, 1);
    let refused = api(&fx)
        .update_plan_activity(request(
            &mentor,
            now(),
            update(done_early, &["state", "result", "done_date"]),
        ))
        .await
        .expect_err("proposed");
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
    assert_eq!(
        error_metadata(&refused, "state").as_deref(),
        Some("PROPOSED")
    );

    // Accepted by the mentor.
    let accepted = api(&fx)
        .update_plan_activity(request(&mentor, now(), update(accept, &["state"])))
        .await
        .expect("accepted")
        .into_inner();
    assert_eq!(accepted.state, pb::PlanActivityState::Planned as i32);
    assert!(accepted.proposed_by_mentee);
    // A stale etag, a field outside the list, DONE without its result and day, or a day
    // after today.
    let refused = api(&fx)
        .update_plan_activity(request(
            &mentor,
            now(),
            update(proposed.clone(), &["title"]),
        ))
        .await
        .expect_err("stale");
    assert_eq!(refused.code(), Code::Aborted);
    assert_eq!(reason(&refused), "ETAG_MISMATCH");
    let refused = api(&fx)
        .update_plan_activity(request(&mentor, now(), update(accepted.clone(), &["goal"])))
        .await
        .expect_err("not changeable");
    assert_eq!(bad_fields(&refused), vec!["update_mask".to_string()]);
    let mut bare_done = accepted.clone();
    bare_done.state = pb::PlanActivityState::Done as i32;
    let refused = api(&fx)
        .update_plan_activity(request(&mentor, now(), update(bare_done, &["state"])))
        .await
        .expect_err("no result");
    assert_eq!(
        bad_fields(&refused),
        vec![
            "plan_activity.result".to_string(),
            "plan_activity.done_date".to_string()
        ]
    );
    let mut future = accepted.clone();
    future.state = pb::PlanActivityState::Done as i32;
    future.result = "сходили".into();
    future.done_date = day(2025, 2, 13);
    let refused = api(&fx)
        .update_plan_activity(request(
            &mentor,
            now(),
            update(future, &["state", "result", "done_date"]),
        ))
        .await
        .expect_err("tomorrow");
    assert_eq!(
        bad_fields(&refused),
        vec!["plan_activity.done_date".to_string()]
    );

    // Carried out, with its result; the result corrected later.
    let mut done = accepted.clone();
    done.state = pb::PlanActivityState::Done as i32;
    done.result = "поход проведён".into();
    done.done_date = day(2025, 2, 10);
    let done = api(&fx)
        .update_plan_activity(request(
            &mentor,
            now(),
            update(done, &["state", "result", "done_date"]),
        ))
        .await
        .expect("done")
        .into_inner();
    assert_eq!(done.state, pb::PlanActivityState::Done as i32);
    assert_eq!(done.result, "поход проведён");
    assert_eq!(done.done_date, day(2025, 2, 10));
    let mut corrected = done.clone();
    corrected.result = "поход проведён, наставляемый вёл группу".into();
    let corrected = api(&fx)
        .update_plan_activity(request(&director(), now(), update(corrected, &["result"])))
        .await
        .expect("corrected")
        .into_inner();
    assert_eq!(corrected.result, "поход проведён, наставляемый вёл группу");
    // A DONE activity's title does not change.
    let mut retitled = corrected.clone();
    retitled.title = "другое".into();
    let refused = api(&fx)
        .update_plan_activity(request(&mentor, now(), update(retitled, &["title"])))
        .await
        .expect_err("done");
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
    assert_eq!(error_metadata(&refused, "state").as_deref(), Some("DONE"));

    // Cancelled with a reason (and not without one); a cancelled activity stays as it is.
    let planned = add(&fx, &mentor, "p", "экскурсия").await;
    let mut cancel = planned.clone();
    cancel.state = pb::PlanActivityState::Cancelled as i32;
    let refused = api(&fx)
        .update_plan_activity(request(&mentor, now(), update(cancel.clone(), &["state"])))
        .await
        .expect_err("no reason");
    assert_eq!(
        bad_fields(&refused),
        vec!["plan_activity.cancel_reason".to_string()]
    );
    let mut reason_alone = planned.clone();
    reason_alone.cancel_reason = "погода".into();
    let refused = api(&fx)
        .update_plan_activity(request(
            &mentor,
            now(),
            update(reason_alone, &["cancel_reason"]),
        ))
        .await
        .expect_err("reason without the move");
    assert_eq!(
        bad_fields(&refused),
        vec!["plan_activity.cancel_reason".to_string()]
    );
    cancel.cancel_reason = "экскурсию отменил музей".into();
    let cancelled = api(&fx)
        .update_plan_activity(request(
            &mentor,
            now(),
            update(cancel, &["state", "cancel_reason"]),
        ))
        .await
        .expect("cancelled")
        .into_inner();
    assert_eq!(cancelled.state, pb::PlanActivityState::Cancelled as i32);
    assert_eq!(cancelled.cancel_reason, "экскурсию отменил музей");
    let mut again = cancelled.clone();
    again.cancel_reason = "другая причина".into();
    let refused = api(&fx)
        .update_plan_activity(request(
            &mentor,
            now(),
            update(again, &["state", "cancel_reason"]),
        ))
        .await
        .expect_err("cancelled");
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
    let mut redated = cancelled;
    redated.due_date = day(2025, 5, 1);
    let refused = api(&fx)
        .update_plan_activity(request(&mentor, now(), update(redated, &["due_date"])))
        .await
        .expect_err("cancelled");
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
}

#[tokio::test]
async fn list_plan_activities_filters_and_pages() {
    let fx = Fixture::new().await;
    forming(&fx, "p", "mentor", "kid").await;
    let overdue = api(&fx)
        .create_plan_activity(request(
            &director(),
            now(),
            activity_request("p", "знакомство", day(2025, 1, 15)),
        ))
        .await
        .expect("overdue")
        .into_inner();
    assert!(overdue.overdue);
    add(&fx, &director(), "p", "огонёк").await;
    add(&fx, &participant("kid"), "p", "поход").await;
    // By due date: the overdue one first.
    let all = list_activities(&fx, &director(), "p").await;
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].name, overdue.name);
    let list = |body: pb::ListPlanActivitiesRequest| {
        let fx = &fx;
        async move {
            api(fx)
                .list_plan_activities(request(&director(), now(), body))
                .await
        }
    };
    let base = pb::ListPlanActivitiesRequest {
        parent: pair_name("p"),
        ..Default::default()
    };
    let only_overdue = list(pb::ListPlanActivitiesRequest {
        overdue_only: true,
        ..base.clone()
    })
    .await
    .expect("overdue")
    .into_inner();
    assert_eq!(only_overdue.plan_activities.len(), 1);
    let proposals = list(pb::ListPlanActivitiesRequest {
        state: pb::PlanActivityState::Proposed as i32,
        ..base.clone()
    })
    .await
    .expect("proposals")
    .into_inner();
    assert_eq!(proposals.plan_activities.len(), 1);
    assert!(proposals.plan_activities[0].proposed_by_mentee);
    let first = list(pb::ListPlanActivitiesRequest {
        page_size: 2,
        ..base.clone()
    })
    .await
    .expect("page")
    .into_inner();
    assert_eq!(first.plan_activities.len(), 2);
    let second = list(pb::ListPlanActivitiesRequest {
        page_size: 2,
        page_token: first.next_page_token.clone(),
        ..base.clone()
    })
    .await
    .expect("page")
    .into_inner();
    assert_eq!(second.plan_activities.len(), 1);
    assert!(second.next_page_token.is_empty());
    let refused = list(pb::ListPlanActivitiesRequest {
        page_size: 2,
        page_token: first.next_page_token,
        overdue_only: true,
        ..base
    })
    .await
    .expect_err("other query");
    assert_eq!(reason(&refused), "PAGE_TOKEN_INVALID");
}

#[tokio::test]
async fn meetings_are_logged_for_an_active_pair_by_its_mentor_and_staff() {
    let fx = Fixture::new().await;
    forming(&fx, "p", "mentor", "kid").await;
    let activity = add(&fx, &participant("mentor"), "p", "огонёк").await;
    // Not before activation.
    let refused = api(&fx)
        .create_meeting(request(
            &participant("mentor"),
            now(),
            meeting_request("p", "знакомство"),
        ))
        .await
        .expect_err("forming");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "PAIR_NOT_ACTIVE");
    assert_eq!(
        error_metadata(&refused, "state").as_deref(),
        Some("FORMING")
    );
    activate(&fx, "p").await.expect("active");

    let mut body = meeting_request("p", "знакомство");
    body.request_id = "meet-1".into();
    body.meeting.as_mut().expect("meeting").plan_activity = activity.name.clone();
    let logged = api(&fx)
        .create_meeting(request(&participant("mentor"), now(), body.clone()))
        .await
        .expect("logged")
        .into_inner();
    assert!(
        logged
            .name
            .starts_with(&format!("{}/meetings/", pair_name("p")))
    );
    assert_eq!(logged.meet_date, day(2025, 2, 12));
    assert_eq!(logged.duration_minutes, 45);
    assert_eq!(logged.format, pb::MeetingFormat::InPerson as i32);
    assert_eq!(logged.topic, "знакомство");
    assert_eq!(logged.notes, "договорились о подготовке огонька");
    assert_eq!(logged.plan_activity, activity.name);
    assert!(logged.absent_mentees.is_empty() && !logged.redacted);
    assert!(logged.create_time.is_some());
    // A retry logs nothing new; another body under the same ID is refused.
    let again = api(&fx)
        .create_meeting(request(&participant("mentor"), now(), body.clone()))
        .await
        .expect("again")
        .into_inner();
    assert_eq!(again.name, logged.name);
    body.meeting.as_mut().expect("meeting").topic = "другое".into();
    let refused = api(&fx)
        .create_meeting(request(&participant("mentor"), now(), body))
        .await
        .expect_err("reused");
    assert_eq!(reason(&refused), "REQUEST_ID_REUSED");
    let second = api(&fx)
        .create_meeting(request(
            &director(),
            now(),
            meeting_request("p", "подготовка"),
        ))
        .await
        .expect("by staff")
        .into_inner();
    // The latest first, then by name (both today).
    let log = list_meetings(&fx, &guardian("kid"), "p").await;
    assert_eq!(log.len(), 2);
    let mut names = vec![logged.name.clone(), second.name.clone()];
    names.sort();
    names.reverse();
    assert_eq!(
        log.iter().map(|m| m.name.clone()).collect::<Vec<_>>(),
        names
    );
    // Paging.
    let page = api(&fx)
        .list_meetings(request(
            &director(),
            now(),
            pb::ListMeetingsRequest {
                parent: pair_name("p"),
                page_size: 1,
                ..Default::default()
            },
        ))
        .await
        .expect("page")
        .into_inner();
    assert_eq!(page.meetings.len(), 1);
    let rest = api(&fx)
        .list_meetings(request(
            &director(),
            now(),
            pb::ListMeetingsRequest {
                parent: pair_name("p"),
                page_size: 1,
                page_token: page.next_page_token.clone(),
            },
        ))
        .await
        .expect("rest")
        .into_inner();
    assert_eq!(rest.meetings.len(), 1);
    assert!(rest.next_page_token.is_empty());
    let refused = api(&fx)
        .list_meetings(request(
            &director(),
            now(),
            pb::ListMeetingsRequest {
                parent: pair_name("p"),
                page_size: 1,
                page_token: "not-a-token".into(),
            },
        ))
        .await
        .expect_err("a damaged token");
    assert_eq!(reason(&refused), "PAGE_TOKEN_INVALID");

    // The mentee and the guardian read the log but do not write it.
    for who in [participant("kid"), guardian("kid")] {
        let refused = api(&fx)
            .create_meeting(request(&who, now(), meeting_request("p", "знакомство")))
            .await
            .expect_err("mentee");
        assert_eq!(refused.code(), Code::PermissionDenied);
        assert_eq!(reason(&refused), "ROLE_REQUIRED");
    }
}

#[tokio::test]
async fn create_meeting_names_every_bad_field() {
    let fx = Fixture::new().await;
    active(&fx, "p", "mentor", "kid").await;
    person(&fx, "stranger", PUPIL).await;
    let refused = api(&fx)
        .create_meeting(request(
            &director(),
            now(),
            pb::CreateMeetingRequest {
                parent: pair_name("p"),
                meeting: Some(pb::Meeting {
                    meet_date: day(2025, 2, 13),
                    duration_minutes: 601,
                    format: 0,
                    topic: String::new(),
                    notes: "н".repeat(5001),
                    plan_activity: format!("{}/planActivities/a1", pair_name("other")),
                    absent_mentees: vec!["kid".into()],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("bad");
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    assert_eq!(
        bad_fields(&refused),
        vec![
            "meeting.meet_date".to_string(),
            "meeting.duration_minutes".to_string(),
            "meeting.format".to_string(),
            "meeting.topic".to_string(),
            "meeting.notes".to_string(),
            "meeting.plan_activity".to_string(),
            "meeting.absent_mentees[0]".to_string()
        ]
    );
    // The store's checks: before the first activation (today), an absent mentee who is not
    // one, an activity the pair does not have.
    let mut body = meeting_request("p", "знакомство");
    let meeting = body.meeting.as_mut().expect("meeting");
    meeting.meet_date = day(2025, 2, 11);
    meeting.absent_mentees = vec![participant_name("stranger")];
    meeting.plan_activity = format!("{}/planActivities/nothing", pair_name("p"));
    let refused = api(&fx)
        .create_meeting(request(&director(), now(), body))
        .await
        .expect_err("store");
    assert_eq!(
        bad_fields(&refused),
        vec![
            "meeting.meet_date".to_string(),
            "meeting.absent_mentees[0]".to_string(),
            "meeting.plan_activity".to_string()
        ]
    );
}

#[tokio::test]
async fn a_speed_pair_logs_one_meeting_and_a_closed_pair_none() {
    let fx = Fixture::new().await;
    person(&fx, "mentor", MENTOR).await;
    person(&fx, "kid", PUPIL).await;
    pair(
        &fx,
        "s",
        PairType::CounsellorPupil,
        MentoringForm::Speed,
        "mentor",
        &["kid"],
    )
    .await
    .expect("speed pair");
    agreement(&fx, "s", jiff::civil::date(2024, 9, 2), 12).await;
    order(&fx, "s").await.expect("order");
    activate(&fx, "s").await.expect("active");
    let first = api(&fx)
        .create_meeting(request(
            &participant("mentor"),
            now(),
            meeting_request("s", "встреча"),
        ))
        .await
        .expect("the one meeting")
        .into_inner();
    let refused = api(&fx)
        .create_meeting(request(
            &participant("mentor"),
            now(),
            meeting_request("s", "ещё"),
        ))
        .await
        .expect_err("second");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "SINGLE_MEETING_FORM");
    assert_eq!(error_metadata(&refused, "meeting"), Some(first.name));

    person(&fx, "kid2", PUPIL).await;
    pair(
        &fx,
        "q",
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        "mentor",
        &["kid2"],
    )
    .await
    .expect("pair");
    in_tx!(fx, |tx| pairs::cancel(
        &mut tx,
        &context(),
        INST,
        "q",
        "не сложилась",
        ""
    )
    .await)
    .expect("cancelled");
    let refused = api(&fx)
        .create_meeting(request(&director(), now(), meeting_request("q", "встреча")))
        .await
        .expect_err("closed");
    assert_eq!(reason(&refused), "PAIR_CLOSED");
    assert_eq!(
        error_metadata(&refused, "state").as_deref(),
        Some("CANCELLED")
    );
    // The log of a closed pair is still read.
    assert!(list_meetings(&fx, &director(), "q").await.is_empty());
}

#[tokio::test]
async fn a_redacted_member_hides_the_plan_and_meeting_texts() {
    let fx = Fixture::new().await;
    active(&fx, "p", "mentor", "kid").await;
    let planned = add(&fx, &participant("mentor"), "p", "огонёк").await;
    api(&fx)
        .create_meeting(request(
            &participant("mentor"),
            now(),
            meeting_request("p", "знакомство"),
        ))
        .await
        .expect("logged");
    revoke(&fx, "kid").await.expect("revoked");
    for who in [director(), participant("mentor"), guardian("kid")] {
        let plan = list_activities(&fx, &who, "p").await;
        let [shown] = plan.as_slice() else {
            panic!("one activity: {plan:?}");
        };
        assert!(shown.redacted);
        assert!(shown.title.is_empty() && shown.description.is_empty());
        assert_eq!(shown.name, planned.name);
        assert_eq!(shown.due_date, day(2025, 3, 1));
        assert_eq!(shown.state, pb::PlanActivityState::Planned as i32);
        let log = list_meetings(&fx, &who, "p").await;
        let [meeting] = log.as_slice() else {
            panic!("one meeting: {log:?}");
        };
        assert!(meeting.redacted);
        assert!(meeting.topic.is_empty() && meeting.notes.is_empty());
        assert_eq!(meeting.meet_date, day(2025, 2, 12));
        assert_eq!(meeting.duration_minutes, 45);
    }
}
