//! Rule 1: contests and their life cycle.

use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::contest_service_server::ContestService;
use tonic::Code;

use crate::common::*;
use edu_proto::google::r#type as pb_date;

fn create(body: pb::Contest, id: &str, request_id: &str) -> pb::CreateContestRequest {
    pb::CreateContestRequest {
        contest: Some(body),
        contest_id: id.into(),
        request_id: request_id.into(),
    }
}

#[tokio::test]
async fn a_contest_is_created_as_a_draft_with_its_nominations_in_order() {
    let fx = Fixture::new().await;
    let contest = fx
        .contests
        .create_contest(request(
            &organiser(),
            at(BEFORE),
            create(contest_body("Детство без границ"), "detstvo", ""),
        ))
        .await
        .expect("created")
        .into_inner();
    assert_eq!(contest.name, "contests/detstvo");
    assert_eq!(contest.state, pb::ContestState::Draft as i32);
    assert_eq!(
        contest
            .nominations
            .iter()
            .map(|n| n.id.as_str())
            .collect::<Vec<_>>(),
        ["health", "family"]
    );
    // The deadline day ends at midnight Moscow time: 21:00 UTC.
    assert_eq!(
        contest.application_deadline_time.expect("deadline").seconds,
        at("2025-01-31T21:00:00Z").as_second()
    );

    let read = fx
        .contests
        .get_contest(request(
            &organiser(),
            at(BEFORE),
            pb::GetContestRequest {
                name: contest.name.clone(),
            },
        ))
        .await
        .expect("read")
        .into_inner();
    assert_eq!(read, contest);
    assert_eq!(
        fx.audit("contests/detstvo").await,
        [("contest.created".to_string(), "organiser".to_string())]
    );
}

#[tokio::test]
async fn only_organisers_create_contests() {
    let fx = Fixture::new().await;
    let result = fx
        .contests
        .create_contest(request(
            &team_person("t1", "RU-ALT"),
            at(BEFORE),
            create(contest_body("x"), "", ""),
        ))
        .await;
    assert_refused(result, Code::PermissionDenied, "ROLE_REQUIRED");
}

#[tokio::test]
async fn a_malformed_contest_names_every_offending_field() {
    let fx = Fixture::new().await;
    let mut body = contest_body("");
    body.time_zone = "Mars/Olympus".into();
    body.results_due = None;
    body.nominations[1].title = String::new();
    let status = fx
        .contests
        .create_contest(request(
            &organiser(),
            at(BEFORE),
            create(body, "Not An Id", ""),
        ))
        .await
        .expect_err("malformed");
    assert_eq!(bad_fields(&status), ["contest_id"]);

    let mut body = contest_body("");
    body.time_zone = "Mars/Olympus".into();
    body.results_due = None;
    body.nominations[1].title = String::new();
    let status = fx
        .contests
        .create_contest(request(&organiser(), at(BEFORE), create(body, "", "")))
        .await
        .expect_err("malformed");
    assert_eq!(
        bad_fields(&status),
        [
            "contest.title",
            "contest.time_zone",
            "contest.results_due",
            "contest.nominations[1].title"
        ]
    );
    assert_eq!(
        fx.count("SELECT count(*) FROM competitions.contests").await,
        0,
        "nothing is half-created"
    );
}

#[tokio::test]
async fn drafts_are_invisible_beyond_organisers() {
    let fx = Fixture::new().await;
    fx.contests
        .create_contest(request(
            &organiser(),
            at(BEFORE),
            create(contest_body("Черновик"), "draft", ""),
        ))
        .await
        .expect("created");
    let outsider = team_person("t1", "RU-ALT");
    let result = fx
        .contests
        .get_contest(request(
            &outsider,
            at(BEFORE),
            pb::GetContestRequest {
                name: "contests/draft".into(),
            },
        ))
        .await;
    assert_refused(result, Code::NotFound, "NOT_FOUND");
    let listed = fx
        .contests
        .list_contests(request(
            &outsider,
            at(BEFORE),
            pb::ListContestsRequest::default(),
        ))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.contests.is_empty());
    let listed = fx
        .contests
        .list_contests(request(
            &organiser(),
            at(BEFORE),
            pb::ListContestsRequest::default(),
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.contests.len(), 1);
}

#[tokio::test]
async fn concurrent_retries_of_one_create_make_one_contest() {
    let fx = Fixture::new().await;
    let calls = (0..10).map(|_| {
        fx.contests.create_contest(request(
            &organiser(),
            at(BEFORE),
            create(contest_body("Повтор"), "", "retry-1"),
        ))
    });
    let results = futures::future::join_all(calls).await;
    let names: std::collections::BTreeSet<String> = results
        .into_iter()
        .map(|r| r.expect("every retry succeeds").into_inner().name)
        .collect();
    assert_eq!(names.len(), 1, "every retry gets the first result");
    assert_eq!(
        fx.count("SELECT count(*) FROM competitions.contests").await,
        1
    );
    assert_eq!(
        fx.count("SELECT count(*) FROM audit_log WHERE action = 'contest.created'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_request_id_reused_for_another_request_is_refused() {
    let fx = Fixture::new().await;
    fx.contests
        .create_contest(request(
            &organiser(),
            at(BEFORE),
            create(contest_body("Первый"), "", "same-id"),
        ))
        .await
        .expect("first");
    let result = fx
        .contests
        .create_contest(request(
            &organiser(),
            at(BEFORE),
            create(contest_body("Другой"), "", "same-id"),
        ))
        .await;
    assert_refused(result, Code::InvalidArgument, "REQUEST_ID_REUSED");
}

#[tokio::test]
async fn a_taken_contest_id_already_exists() {
    let fx = Fixture::new().await;
    fx.contests
        .create_contest(request(
            &organiser(),
            at(BEFORE),
            create(contest_body("Первый"), "taken", ""),
        ))
        .await
        .expect("first");
    let result = fx
        .contests
        .create_contest(request(
            &organiser(),
            at(BEFORE),
            create(contest_body("Второй"), "taken", ""),
        ))
        .await;
    assert_refused(result, Code::AlreadyExists, "ALREADY_EXISTS");
    assert_eq!(
        fx.audit("contests/taken").await.len(),
        1,
        "the refused create left no audit record"
    );
}

#[tokio::test]
async fn nominations_are_fixed_once_open_but_the_wording_is_not() {
    let fx = Fixture::new().await;
    let name = open_contest(&fx, "fixed", contest_body("Детство без границ")).await;
    let mut changed = contest_body("Детство без границ");
    changed.name = name.clone();
    changed.nominations.pop();
    let result = fx
        .contests
        .update_contest(request(
            &organiser(),
            at(DURING),
            pb::UpdateContestRequest {
                contest: Some(changed.clone()),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["nominations".into()],
                }),
            },
        ))
        .await;
    assert_refused(result, Code::FailedPrecondition, "CONTEST_NOT_DRAFT");

    changed.title = "Детство без границ — 2025".into();
    let updated = fx
        .contests
        .update_contest(request(
            &organiser(),
            at(DURING),
            pb::UpdateContestRequest {
                contest: Some(changed),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["title".into()],
                }),
            },
        ))
        .await
        .expect("the title may change")
        .into_inner();
    assert_eq!(updated.title, "Детство без границ — 2025");
    assert_eq!(
        updated.nominations.len(),
        2,
        "fields outside the mask keep their values"
    );
    let actions: Vec<String> = fx.audit(&name).await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        actions,
        ["contest.created", "contest.opened", "contest.updated"]
    );
}

/// Issue 12, item 6: a malformed value is named as such even in a field that can no longer
/// change; the state is judged once the request is well formed.
#[tokio::test]
async fn a_malformed_date_of_an_open_contest_is_invalid_before_it_is_frozen() {
    let fx = Fixture::new().await;
    let name = open_contest(&fx, "frozen", contest_body("Детство без границ")).await;
    let update = |deadline: pb_date::Date| {
        let mut changed = contest_body("Детство без границ");
        changed.name = name.clone();
        changed.application_deadline = Some(deadline);
        fx.contests.update_contest(request(
            &organiser(),
            at(DURING),
            pb::UpdateContestRequest {
                contest: Some(changed),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["application_deadline".into()],
                }),
            },
        ))
    };
    let malformed = update(pb_date::Date {
        year: 2025,
        month: 13,
        day: 40,
    })
    .await
    .expect_err("no such date");
    assert_eq!(malformed.code(), Code::InvalidArgument, "{malformed:?}");
    assert_eq!(bad_fields(&malformed), ["contest.application_deadline"]);
    assert_refused(
        update(pb_date::Date {
            year: 2025,
            month: 2,
            day: 15,
        })
        .await,
        Code::FailedPrecondition,
        "CONTEST_NOT_DRAFT",
    );
}

#[tokio::test]
async fn a_stale_etag_is_aborted() {
    let fx = Fixture::new().await;
    let created = fx
        .contests
        .create_contest(request(
            &organiser(),
            at(BEFORE),
            create(contest_body("Версия"), "etag", ""),
        ))
        .await
        .expect("created")
        .into_inner();
    let mut first = created.clone();
    first.title = "Первая правка".into();
    let mask = || {
        Some(prost_types::FieldMask {
            paths: vec!["title".into()],
        })
    };
    fx.contests
        .update_contest(request(
            &organiser(),
            at(BEFORE),
            pb::UpdateContestRequest {
                contest: Some(first),
                update_mask: mask(),
            },
        ))
        .await
        .expect("first edit");
    let mut second = created;
    second.title = "Вторая правка по старой версии".into();
    let result = fx
        .contests
        .update_contest(request(
            &organiser(),
            at(BEFORE),
            pb::UpdateContestRequest {
                contest: Some(second),
                update_mask: mask(),
            },
        ))
        .await;
    assert_refused(result, Code::Aborted, "ETAG_MISMATCH");
}

#[tokio::test]
async fn a_contest_closes_only_after_its_deadline() {
    let fx = Fixture::new().await;
    let name = open_contest(&fx, "closing", contest_body("Закрытие")).await;
    let close = |now: &str| {
        fx.contests.close_contest(request(
            &organiser(),
            at(now),
            pb::CloseContestRequest {
                name: name.clone(),
                etag: String::new(),
            },
        ))
    };
    assert_refused(
        close("2025-01-31T23:59:00+03:00").await,
        Code::FailedPrecondition,
        "DEADLINE_NOT_PASSED",
    );
    let closed = close("2025-02-01T00:00:00+03:00")
        .await
        .expect("closes")
        .into_inner();
    assert_eq!(closed.state, pb::ContestState::Closed as i32);
}

#[tokio::test]
async fn concurrent_opens_open_once() {
    let fx = Fixture::new().await;
    fx.contests
        .create_contest(request(
            &organiser(),
            at(BEFORE),
            create(contest_body("Открытие"), "opening", ""),
        ))
        .await
        .expect("created");
    let opens = (0..10).map(|_| {
        fx.contests.open_contest(request(
            &organiser(),
            at(BEFORE),
            pb::OpenContestRequest {
                name: "contests/opening".into(),
                etag: String::new(),
            },
        ))
    });
    for result in futures::future::join_all(opens).await {
        assert_eq!(
            result.expect("every open succeeds").into_inner().state,
            pb::ContestState::Open as i32
        );
    }
    assert_eq!(
        fx.count("SELECT count(*) FROM audit_log WHERE action = 'contest.opened'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_cancelled_contest_needs_a_reason_and_stays_cancelled() {
    let fx = Fixture::new().await;
    let name = open_contest(&fx, "cancel", contest_body("Отмена")).await;
    let cancel = |reason: &str| {
        fx.contests.cancel_contest(request(
            &organiser(),
            at(DURING),
            pb::CancelContestRequest {
                name: name.clone(),
                reason: reason.into(),
                etag: String::new(),
            },
        ))
    };
    let status = cancel("").await.expect_err("needs a reason");
    assert_eq!(bad_fields(&status), ["reason"]);
    let cancelled = cancel("Финансирование отозвано")
        .await
        .expect("cancelled")
        .into_inner();
    assert_eq!(cancelled.state, pb::ContestState::Cancelled as i32);
    assert_eq!(cancelled.cancel_reason, "Финансирование отозвано");
    let reopen = fx
        .contests
        .open_contest(request(
            &organiser(),
            at(DURING),
            pb::OpenContestRequest {
                name: name.clone(),
                etag: String::new(),
            },
        ))
        .await;
    assert_refused(reopen, Code::FailedPrecondition, "CONTEST_FINAL");
}

#[tokio::test]
async fn paging_returns_every_contest_exactly_once() {
    let fx = Fixture::new().await;
    for i in 0..7 {
        fx.contests
            .create_contest(request(
                &organiser(),
                at(BEFORE),
                create(contest_body(&format!("Конкурс {i}")), &format!("c{i}"), ""),
            ))
            .await
            .expect("created");
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = fx
            .contests
            .list_contests(request(
                &organiser(),
                at(BEFORE),
                pb::ListContestsRequest {
                    page_size: 3,
                    page_token: token.clone(),
                    state: 0,
                },
            ))
            .await
            .expect("page")
            .into_inner();
        assert!(page.contests.len() <= 3);
        seen.extend(page.contests.into_iter().map(|c| c.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(seen.len(), 7);
    assert_eq!(unique.len(), 7);

    let bad = fx
        .contests
        .list_contests(request(
            &organiser(),
            at(BEFORE),
            pb::ListContestsRequest {
                page_size: 3,
                page_token: token,
                state: pb::ContestState::Open as i32,
            },
        ))
        .await;
    assert_refused(bad, Code::InvalidArgument, "PAGE_TOKEN_INVALID");
}
