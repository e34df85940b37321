//! Appeals (rule 5): numbered at once without gaps per region, also under concurrent
//! recording; OPEN → IN_PROGRESS → ANSWERED or REDIRECTED and no other move; the overdue and
//! late flags by the set clock against the campaign's current target; another region's
//! appeal does not exist for operators and regional staff; the applicant is never in an
//! error.

use edu_aid::api::AppealsApi;
use edu_aid::domain::appeal::{AppealCategory, AppealChannel};
use edu_aid::store::appeals::{self, NewAppeal};
use edu_kit::CallContext;
use edu_kit::auth::Caller;
use edu_kit::testing::{assert_refused, bad_fields, error_metadata, reason};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::appeal_service_server::AppealService;
use edu_proto::edu::aid::v1::campaign_service_server::CampaignService;
use jiff::{SignedDuration, Timestamp};
use tonic::Code;

use crate::common::*;

/// When the first appeal of a test is recorded.
const T: &str = "2023-08-10T09:00:00+06:00";

fn after(hours: i64, seconds: i64) -> Timestamp {
    at(T) + SignedDuration::from_hours(hours) + SignedDuration::from_secs(seconds)
}

fn secs(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref().map(|t| t.seconds).unwrap_or_default()
}

fn body(region: &str) -> pb::Appeal {
    pb::Appeal {
        channel: pb::AppealChannel::Hotline as i32,
        category: pb::AppealCategory::RequestForHelp as i32,
        region_code: region.into(),
        responsible_person: "Ахметова А. К., отдел образования Алмалинского района".into(),
        applicant_name: "Сейткалиева Жанар".into(),
        applicant_contact: "+7 701 000 00 00".into(),
        summary: "Многодетная семья просит помочь со школьной формой для троих детей.".into(),
        ..Default::default()
    }
}

struct Appeals {
    api: AppealsApi,
}

impl Appeals {
    fn new(fx: &Fixture) -> Self {
        Appeals {
            api: AppealsApi::new(fx.store.clone()),
        }
    }

    async fn create_with(
        &self,
        caller: &Caller,
        now: Timestamp,
        appeal: pb::Appeal,
        request_id: &str,
    ) -> Result<pb::Appeal, tonic::Status> {
        self.api
            .create_appeal(request(
                caller,
                now,
                pb::CreateAppealRequest {
                    parent: CAMPAIGN.into(),
                    appeal: Some(appeal),
                    request_id: request_id.into(),
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn create(&self, caller: &Caller, now: Timestamp, region: &str) -> pb::Appeal {
        self.create_with(caller, now, body(region), "")
            .await
            .expect("appeal recorded")
    }

    async fn get(
        &self,
        caller: &Caller,
        now: Timestamp,
        name: &str,
    ) -> Result<pb::Appeal, tonic::Status> {
        self.api
            .get_appeal(request(
                caller,
                now,
                pb::GetAppealRequest { name: name.into() },
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn list(
        &self,
        caller: &Caller,
        now: Timestamp,
        filter: pb::ListAppealsRequest,
    ) -> Result<pb::ListAppealsResponse, tonic::Status> {
        self.api
            .list_appeals(request(
                caller,
                now,
                pb::ListAppealsRequest {
                    parent: CAMPAIGN.into(),
                    ..filter
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn start(
        &self,
        caller: &Caller,
        now: Timestamp,
        name: &str,
        etag: &str,
    ) -> Result<pb::Appeal, tonic::Status> {
        self.api
            .start_appeal(request(
                caller,
                now,
                pb::StartAppealRequest {
                    name: name.into(),
                    first_response:
                        "Обращение принято, с семьёй свяжется социальный педагог школы.".into(),
                    etag: etag.into(),
                    request_id: String::new(),
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn answer(
        &self,
        caller: &Caller,
        now: Timestamp,
        name: &str,
        request_id: &str,
    ) -> Result<pb::Appeal, tonic::Status> {
        self.api
            .answer_appeal(request(
                caller,
                now,
                pb::AnswerAppealRequest {
                    name: name.into(),
                    answer: "Семье выдана школьная форма по линии акции.".into(),
                    etag: String::new(),
                    request_id: request_id.into(),
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn redirect(
        &self,
        caller: &Caller,
        now: Timestamp,
        name: &str,
        why: &str,
    ) -> Result<pb::Appeal, tonic::Status> {
        self.api
            .redirect_appeal(request(
                caller,
                now,
                pb::RedirectAppealRequest {
                    name: name.into(),
                    redirected_to:
                        "Управление координации занятости и социальных программ г. Алматы".into(),
                    reason: why.into(),
                    etag: String::new(),
                    request_id: String::new(),
                },
            ))
            .await
            .map(|r| r.into_inner())
    }
}

fn numbers(list: &pb::ListAppealsResponse) -> Vec<&str> {
    list.appeals.iter().map(|a| a.number.as_str()).collect()
}

#[tokio::test]
async fn an_appeal_is_numbered_at_once_per_region_and_a_retry_keeps_its_number() {
    let fx = Fixture::new().await;
    fx.campaign().await;
    let appeals = Appeals::new(&fx);
    let first = appeals
        .create_with(&operator("KZ-75"), at(T), body("KZ-75"), "hotline-call-1")
        .await
        .expect("recorded");
    assert_eq!(first.number, "KZ-75-000001");
    assert_eq!(first.state, pb::AppealState::Open as i32);
    assert_eq!(secs(&first.create_time), at(T).as_second());
    assert_eq!(secs(&first.response_due_time), after(24, 0).as_second());
    assert!(!first.overdue && !first.responded_late);
    assert!(first.first_response_time.is_none() && first.time_to_first_response.is_none());
    assert_eq!(first.applicant_name, "Сейткалиева Жанар");

    let retry = appeals
        .create_with(
            &operator("KZ-75"),
            after(0, 30),
            body("KZ-75"),
            "hotline-call-1",
        )
        .await
        .expect("a retry");
    assert_eq!(
        (retry.name.as_str(), retry.number.as_str()),
        (first.name.as_str(), "KZ-75-000001")
    );
    assert_eq!(fx.count("SELECT count(*) FROM aid.appeals").await, 1);
    let mut other = body("KZ-75");
    other.summary = "Другое обращение".into();
    assert_refused(
        appeals
            .create_with(&operator("KZ-75"), after(0, 40), other, "hotline-call-1")
            .await,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );

    let second = appeals
        .create(&operator("KZ-75"), after(1, 0), "KZ-75")
        .await;
    assert_eq!(second.number, "KZ-75-000002");
    let astana = appeals.create(&coordinator(), after(1, 0), "KZ-71").await;
    assert_eq!(astana.number, "KZ-71-000001", "each region counts its own");
}

#[tokio::test]
async fn concurrent_appeals_of_a_region_get_consecutive_numbers_without_gaps() {
    let fx = Fixture::new().await;
    fx.campaign().await;
    let appeals = Appeals::new(&fx);
    let callers = [operator("KZ-75"), regional("KZ-75"), coordinator()];
    let created = futures::future::join_all((0..8).map(|i| {
        let caller = callers[i % callers.len()].clone();
        let appeals = &appeals;
        async move { appeals.create(&caller, after(0, i as i64), "KZ-75").await }
    }))
    .await;
    let mut got: Vec<String> = created.into_iter().map(|a| a.number).collect();
    got.sort();
    let expected: Vec<String> = (1..=8).map(|n| format!("KZ-75-{n:06}")).collect();
    assert_eq!(got, expected);

    // A number taken by a transaction that rolls back is given to the next appeal.
    let context = CallContext::new(Some(operator("KZ-75")), "rolled-back", None, after(1, 0));
    let new = NewAppeal {
        channel: AppealChannel::TrustPhone,
        category: AppealCategory::Question,
        region_code: "KZ-75".into(),
        responsible_person: "Дежурный оператор".into(),
        applicant_name: String::new(),
        applicant_contact: String::new(),
        summary: "Вопрос".into(),
    };
    let mut tx = fx.store.begin().await.expect("transaction");
    let (abandoned, _) = appeals::create(&mut tx, &context, "doroga-v-shkolu-2023", &new)
        .await
        .expect("numbered");
    assert_eq!(abandoned.number, "KZ-75-000009");
    tx.rollback().await.expect("rollback");
    let next = appeals
        .create(&operator("KZ-75"), after(2, 0), "KZ-75")
        .await;
    assert_eq!(next.number, "KZ-75-000009");
    assert_eq!(fx.count("SELECT count(*) FROM aid.appeals").await, 9);
}

#[tokio::test]
async fn appeals_move_open_in_progress_then_answered_or_redirected() {
    let fx = Fixture::new().await;
    fx.campaign().await;
    let appeals = Appeals::new(&fx);
    let op = operator("KZ-75");
    let a = appeals.create(&op, at(T), "KZ-75").await;

    for refused in [
        appeals.answer(&op, after(1, 0), &a.name, "").await,
        appeals
            .redirect(&op, after(1, 0), &a.name, "Не в компетенции штаба")
            .await,
    ] {
        let status = refused.expect_err("an OPEN appeal is started first");
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (Code::FailedPrecondition, "TRANSITION_NOT_ALLOWED")
        );
        assert_eq!(error_metadata(&status, "state").as_deref(), Some("OPEN"));
    }
    let empty = appeals
        .api
        .start_appeal(request(
            &op,
            after(2, 0),
            pb::StartAppealRequest {
                name: a.name.clone(),
                first_response: "  ".into(),
                etag: String::new(),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("no first response");
    assert_eq!(bad_fields(&empty), ["first_response"]);
    assert_refused(
        appeals.start(&op, after(2, 0), &a.name, "\"99\"").await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );

    let started = appeals
        .start(&op, after(2, 0), &a.name, &a.etag)
        .await
        .expect("started");
    assert_eq!(started.state, pb::AppealState::InProgress as i32);
    assert_eq!(secs(&started.first_response_time), after(2, 0).as_second());
    assert_eq!(
        started.time_to_first_response.as_ref().map(|d| d.seconds),
        Some(7200)
    );
    assert!(!started.responded_late && !started.overdue);
    assert_ne!(started.etag, a.etag);
    let again = appeals
        .start(&op, after(3, 0), &a.name, "")
        .await
        .expect_err("started once");
    assert_eq!(
        error_metadata(&again, "state").as_deref(),
        Some("IN_PROGRESS")
    );

    let answered = appeals
        .answer(&op, after(5, 0), &a.name, "answer-1")
        .await
        .expect("answered");
    assert_eq!(answered.state, pb::AppealState::Answered as i32);
    assert_eq!(secs(&answered.close_time), after(5, 0).as_second());
    assert!(!answered.answer.is_empty());
    let retried = appeals
        .answer(&op, after(5, 1), &a.name, "answer-1")
        .await
        .expect("a retry");
    assert_eq!(retried, answered);
    assert_eq!(
        fx.count("SELECT count(*) FROM aid.event_outbox WHERE event_type = 'APPEAL_ANSWERED'")
            .await,
        1,
        "one event, from the answer's transaction"
    );
    let (resource, region): (String, Option<String>) =
        sqlx::query_as("SELECT resource, region_code FROM aid.event_outbox")
            .fetch_one(fx.db.pool())
            .await
            .expect("event");
    assert_eq!(resource, a.name);
    assert_eq!(
        region.as_deref(),
        Some(a.region_code.as_str()),
        "the appeal's region"
    );

    let closed = appeals
        .redirect(&op, after(6, 0), &a.name, "Повторно")
        .await
        .expect_err("ANSWERED is final");
    assert_eq!(reason(&closed), "TRANSITION_NOT_ALLOWED");
    assert_eq!(
        error_metadata(&closed, "state").as_deref(),
        Some("ANSWERED")
    );
    let routed = appeals
        .api
        .update_appeal(request(
            &op,
            after(6, 0),
            pb::UpdateAppealRequest {
                appeal: Some(pb::Appeal {
                    name: a.name.clone(),
                    category: pb::AppealCategory::Complaint as i32,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["category".into()],
                }),
            },
        ))
        .await
        .expect_err("a closed appeal is not routed");
    assert_eq!(
        (routed.code(), reason(&routed).as_str()),
        (Code::FailedPrecondition, "APPEAL_CLOSED")
    );
    assert_eq!(
        error_metadata(&routed, "state").as_deref(),
        Some("ANSWERED")
    );

    // Redirection, after the campaign's end too; a new appeal is refused then.
    let b = appeals
        .create(&regional("KZ-75"), after(1, 0), "KZ-75")
        .await;
    appeals
        .start(&op, after(3, 0), &b.name, "")
        .await
        .expect("started");
    let no_reason = appeals
        .redirect(&op, at("2023-10-05T10:00:00+06:00"), &b.name, "")
        .await
        .expect_err("a redirection says why");
    assert_eq!(bad_fields(&no_reason), ["reason"]);
    let redirected = appeals
        .redirect(
            &op,
            at("2023-10-05T10:00:00+06:00"),
            &b.name,
            "Вопрос о пособиях, не о школе",
        )
        .await
        .expect("redirected after the end");
    assert_eq!(redirected.state, pb::AppealState::Redirected as i32);
    assert!(!redirected.redirected_to.is_empty() && redirected.close_time.is_some());
    let ended = appeals
        .create_with(&op, at("2023-10-01T00:00:00+06:00"), body("KZ-75"), "")
        .await
        .expect_err("the campaign ended at midnight in Almaty");
    assert_eq!(reason(&ended), "CAMPAIGN_ENDED");
    assert_eq!(
        error_metadata(&ended, "ended_at").as_deref(),
        Some("2023-09-30T18:00:00Z")
    );
}

#[tokio::test]
async fn an_open_appeal_is_overdue_past_the_response_target_by_the_set_clock() {
    let fx = Fixture::new().await;
    fx.campaign().await;
    let appeals = Appeals::new(&fx);
    let op = operator("KZ-75");
    let late = appeals.create(&op, at(T), "KZ-75").await;
    let waiting = appeals.create(&op, after(1, 0), "KZ-75").await;
    let prompt = appeals.create(&op, after(2, 0), "KZ-75").await;
    appeals
        .start(&op, after(3, 0), &prompt.name, "")
        .await
        .expect("answered in an hour");

    let at_due = appeals
        .get(&op, after(24, 0), &late.name)
        .await
        .expect("read");
    assert!(!at_due.overdue, "due at 24 h, overdue only past it");
    let past_due = appeals
        .get(&op, after(24, 1), &late.name)
        .await
        .expect("read");
    assert!(past_due.overdue);
    let overdue = |now| {
        appeals.list(
            &op,
            now,
            pb::ListAppealsRequest {
                overdue_only: true,
                ..Default::default()
            },
        )
    };
    assert_eq!(
        numbers(&overdue(after(24, 1)).await.expect("list")),
        ["KZ-75-000001"]
    );
    assert_eq!(
        numbers(&overdue(after(25, 1)).await.expect("list")),
        ["KZ-75-000001", "KZ-75-000002"],
        "oldest first"
    );

    let started = appeals
        .start(&op, after(26, 0), &late.name, "")
        .await
        .expect("started late");
    assert!(started.responded_late && !started.overdue);
    assert_eq!(
        started.time_to_first_response.as_ref().map(|d| d.seconds),
        Some(26 * 3600)
    );
    assert_eq!(
        numbers(&overdue(after(30, 0)).await.expect("list")),
        ["KZ-75-000002"]
    );
    let late_list = appeals
        .list(
            &op,
            after(30, 0),
            pb::ListAppealsRequest {
                responded_late_only: true,
                ..Default::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(numbers(&late_list), ["KZ-75-000001"]);
    let prompt_now = appeals
        .get(&op, after(30, 0), &prompt.name)
        .await
        .expect("read");
    assert!(!prompt_now.responded_late && !prompt_now.overdue);

    // Judged against the campaign's current target: 48 hours from now on.
    let mut campaign = campaign_body();
    campaign.name = CAMPAIGN.into();
    campaign.appeal_response_target = Some(prost_types::Duration {
        seconds: 48 * 3600,
        nanos: 0,
    });
    fx.campaigns
        .update_campaign(request(
            &coordinator(),
            after(30, 0),
            pb::UpdateCampaignRequest {
                campaign: Some(campaign),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["appeal_response_target".into()],
                }),
            },
        ))
        .await
        .expect("target changed");
    let relaxed = appeals
        .get(&op, after(30, 0), &waiting.name)
        .await
        .expect("read");
    assert!(!relaxed.overdue);
    assert_eq!(secs(&relaxed.response_due_time), after(49, 0).as_second());
    assert!(
        overdue(after(30, 0))
            .await
            .expect("list")
            .appeals
            .is_empty()
    );
    let not_late = appeals
        .get(&op, after(30, 0), &late.name)
        .await
        .expect("read");
    assert!(!not_late.responded_late);
}

#[tokio::test]
async fn another_regions_appeal_does_not_exist_for_operators_and_regional_staff() {
    let fx = Fixture::new().await;
    fx.campaign().await;
    let appeals = Appeals::new(&fx);
    let a = appeals.create(&operator("KZ-75"), at(T), "KZ-75").await;
    appeals.create(&operator("KZ-71"), at(T), "KZ-71").await;

    for caller in [operator("KZ-71"), regional("KZ-71")] {
        assert_refused(
            appeals.get(&caller, after(1, 0), &a.name).await,
            Code::NotFound,
            "NOT_FOUND",
        );
        assert_refused(
            appeals.start(&caller, after(1, 0), &a.name, "").await,
            Code::NotFound,
            "NOT_FOUND",
        );
        let listed = appeals
            .list(&caller, after(1, 0), Default::default())
            .await
            .expect("list");
        assert_eq!(numbers(&listed), ["KZ-71-000001"]);
        assert_refused(
            appeals
                .create_with(&caller, after(1, 0), body("KZ-75"), "")
                .await,
            Code::PermissionDenied,
            "SCOPE_REQUIRED",
        );
    }
    appeals
        .get(&regional("KZ-75"), after(1, 0), &a.name)
        .await
        .expect("its region's staff");
    let national = appeals
        .list(&coordinator(), after(1, 0), Default::default())
        .await
        .expect("list");
    assert_eq!(
        national.appeals.len(),
        2,
        "the coordinator keeps the national hotline"
    );

    for caller in [school_staff("almaty-12"), donor("patron-1")] {
        assert_refused(
            appeals.get(&caller, after(1, 0), &a.name).await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
        assert_refused(
            appeals.list(&caller, after(1, 0), Default::default()).await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
        assert_refused(
            appeals
                .create_with(&caller, after(1, 0), body("KZ-75"), "")
                .await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }

    let outside = appeals
        .create_with(&coordinator(), after(1, 0), body("KZ-79"), "")
        .await
        .expect_err("Shymkent is not in the campaign");
    assert_eq!(reason(&outside), "REGION_NOT_IN_CAMPAIGN");
    assert_eq!(
        error_metadata(&outside, "region_code").as_deref(),
        Some("KZ-79")
    );
    let unknown = appeals
        .api
        .create_appeal(request(
            &coordinator(),
            after(1, 0),
            pb::CreateAppealRequest {
                parent: "campaigns/doroga-v-shkolu-2030".into(),
                appeal: Some(body("KZ-75")),
                request_id: String::new(),
            },
        ))
        .await;
    assert_refused(unknown, Code::NotFound, "NOT_FOUND");
    let empty = appeals
        .create_with(&coordinator(), after(1, 0), pb::Appeal::default(), "")
        .await
        .expect_err("nothing given");
    assert_eq!(
        bad_fields(&empty),
        [
            "appeal.channel",
            "appeal.category",
            "appeal.region_code",
            "appeal.responsible_person",
            "appeal.summary"
        ]
    );

    // The applicant is personal data: no refusal repeats it.
    let mut long = body("KZ-75");
    long.applicant_name = format!("Сейткалиева Жанар {}", "ы".repeat(300));
    long.applicant_contact = "zhanar@example.kz".into();
    let refused = appeals
        .create_with(&operator("KZ-75"), after(1, 0), long, "")
        .await
        .expect_err("too long");
    assert_eq!(bad_fields(&refused), ["appeal.applicant_name"]);
    let shown = format!("{refused:?}");
    assert!(
        !shown.contains("Сейткалиева") && !shown.contains("zhanar@"),
        "{shown}"
    );
    let hidden = appeals
        .get(&operator("KZ-71"), after(1, 0), &a.name)
        .await
        .expect_err("hidden");
    assert!(!format!("{hidden:?}").contains("Сейткалиева"));
}

#[tokio::test]
async fn appeals_are_listed_oldest_first_filtered_and_paged() {
    let fx = Fixture::new().await;
    fx.campaign().await;
    let appeals = Appeals::new(&fx);
    let op = operator("KZ-75");
    appeals.create(&op, at(T), "KZ-75").await;
    let mut prices = body("KZ-75");
    prices.category = pb::AppealCategory::Prices as i32;
    prices.channel = pb::AppealChannel::PublicReception as i32;
    appeals
        .create_with(&op, after(0, 60), prices, "")
        .await
        .expect("recorded");
    let third = appeals.create(&op, after(0, 120), "KZ-75").await;
    appeals.create(&coordinator(), after(0, 180), "KZ-71").await;
    appeals
        .start(&op, after(1, 0), &third.name, "")
        .await
        .expect("started");

    let coordinator = coordinator();
    let first = appeals
        .list(
            &coordinator,
            after(2, 0),
            pb::ListAppealsRequest {
                page_size: 3,
                ..Default::default()
            },
        )
        .await
        .expect("page 1");
    assert_eq!(
        numbers(&first),
        ["KZ-75-000001", "KZ-75-000002", "KZ-75-000003"]
    );
    let second = appeals
        .list(
            &coordinator,
            after(2, 0),
            pb::ListAppealsRequest {
                page_size: 3,
                page_token: first.next_page_token.clone(),
                ..Default::default()
            },
        )
        .await
        .expect("page 2");
    assert_eq!(numbers(&second), ["KZ-71-000001"]);
    assert!(second.next_page_token.is_empty());
    assert_refused(
        appeals
            .list(
                &coordinator,
                after(2, 0),
                pb::ListAppealsRequest {
                    page_size: 3,
                    page_token: first.next_page_token.clone(),
                    region_code: "KZ-75".into(),
                    ..Default::default()
                },
            )
            .await,
        Code::InvalidArgument,
        "PAGE_TOKEN_INVALID",
    );

    let filtered = |filter: pb::ListAppealsRequest| appeals.list(&coordinator, after(2, 0), filter);
    let by_region = filtered(pb::ListAppealsRequest {
        region_code: "KZ-71".into(),
        ..Default::default()
    });
    assert_eq!(numbers(&by_region.await.expect("list")), ["KZ-71-000001"]);
    let by_category = filtered(pb::ListAppealsRequest {
        category: pb::AppealCategory::Prices as i32,
        ..Default::default()
    });
    assert_eq!(numbers(&by_category.await.expect("list")), ["KZ-75-000002"]);
    let by_state = filtered(pb::ListAppealsRequest {
        state: pb::AppealState::InProgress as i32,
        ..Default::default()
    });
    assert_eq!(numbers(&by_state.await.expect("list")), ["KZ-75-000003"]);
    let by_number = filtered(pb::ListAppealsRequest {
        number: "KZ-75-000002".into(),
        ..Default::default()
    });
    let found = by_number.await.expect("list");
    assert_eq!(numbers(&found), ["KZ-75-000002"]);
    assert_eq!(
        found.appeals[0].channel,
        pb::AppealChannel::PublicReception as i32
    );

    let unknown = appeals
        .api
        .list_appeals(request(
            &coordinator,
            after(2, 0),
            pb::ListAppealsRequest {
                parent: "campaigns/doroga-v-shkolu-2030".into(),
                ..Default::default()
            },
        ))
        .await;
    assert_refused(unknown, Code::NotFound, "NOT_FOUND");
}

#[tokio::test]
async fn routing_changes_category_and_responsible_person_under_the_etag() {
    let fx = Fixture::new().await;
    fx.campaign().await;
    let appeals = Appeals::new(&fx);
    let op = operator("KZ-75");
    let a = appeals.create(&op, at(T), "KZ-75").await;
    let route = |etag: &str, paths: &[&str], responsible: &str| {
        appeals.api.update_appeal(request(
            &op,
            after(1, 0),
            pb::UpdateAppealRequest {
                appeal: Some(pb::Appeal {
                    name: a.name.clone(),
                    category: pb::AppealCategory::ChildOutOfSchool as i32,
                    responsible_person: responsible.into(),
                    etag: etag.into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: paths.iter().map(|p| p.to_string()).collect(),
                }),
            },
        ))
    };
    let routed = route(
        &a.etag,
        &["category", "responsible_person"],
        "Социальный педагог школы № 12",
    )
    .await
    .expect("routed")
    .into_inner();
    assert_eq!(routed.category, pb::AppealCategory::ChildOutOfSchool as i32);
    assert_eq!(routed.responsible_person, "Социальный педагог школы № 12");
    assert_eq!(
        (routed.number.as_str(), routed.state),
        ("KZ-75-000001", pb::AppealState::Open as i32)
    );
    assert_refused(
        route(&a.etag, &["category"], "").await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    let blank = route("", &["responsible_person"], " ")
        .await
        .expect_err("someone answers for it");
    assert_eq!(bad_fields(&blank), ["appeal.responsible_person"]);
    let summary = route("", &["summary"], "")
        .await
        .expect_err("the summary is immutable");
    assert_eq!(bad_fields(&summary), ["update_mask"]);
}
