//! Regional headquarters and action plans (rule 1): read by every role of the package,
//! changed by their region's staff only; a plan is approved with a live activity; an
//! activity lies within the campaign and lasts at most 31 days after its first day; its
//! outcome is recorded from its first day in the campaign's zone and may be recorded again;
//! a cancelled activity stays cancelled.

use edu_aid::api::HeadquartersApi;
use edu_kit::auth::Caller;
use edu_kit::testing::{assert_refused, bad_fields, error_metadata, reason};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::headquarters_service_server::HeadquartersService;
use jiff::Timestamp;
use tonic::Code;

use crate::common::*;

const ALMATY: &str = "campaigns/doroga-v-shkolu-2023/headquarters/kz-75";
const ASTANA: &str = "campaigns/doroga-v-shkolu-2023/headquarters/kz-71";
const EVERY_REGION: &str = "campaigns/doroga-v-shkolu-2023/headquarters/-";

fn fair(title: &str, start: (i32, i32), end: Option<(i32, i32)>) -> pb::Activity {
    pb::Activity {
        kind: pb::ActivityKind::RemoteSettlementFair as i32,
        title: title.into(),
        start_date: date(2023, start.0, start.1),
        end_date: end.and_then(|(m, d)| date(2023, m, d)),
        place: "с. Кеген, Дом культуры".into(),
        description: "Выездная ярмарка школьных товаров".into(),
        ..Default::default()
    }
}

struct Plans {
    api: HeadquartersApi,
}

impl Plans {
    fn new(fx: &Fixture) -> Self {
        Plans {
            api: HeadquartersApi::new(fx.store.clone()),
        }
    }

    async fn plan_with(
        &self,
        caller: &Caller,
        now: Timestamp,
        parent: &str,
        activity: pb::Activity,
        request_id: &str,
    ) -> Result<pb::Activity, tonic::Status> {
        self.api
            .create_activity(request(
                caller,
                now,
                pb::CreateActivityRequest {
                    parent: parent.into(),
                    activity: Some(activity),
                    request_id: request_id.into(),
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn plan(&self, parent: &str, activity: pb::Activity) -> pb::Activity {
        let region = if parent == ASTANA { "KZ-71" } else { "KZ-75" };
        self.plan_with(&regional(region), in_campaign(), parent, activity, "")
            .await
            .expect("planned")
    }

    async fn approve(
        &self,
        caller: &Caller,
        name: &str,
        etag: &str,
    ) -> Result<pb::Headquarters, tonic::Status> {
        self.api
            .approve_action_plan(request(
                caller,
                in_campaign(),
                pb::ApproveActionPlanRequest {
                    name: name.into(),
                    basis: "Протокол № 1 от 25.07.2023".into(),
                    etag: etag.into(),
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn record(
        &self,
        now: Timestamp,
        name: &str,
        summary: &str,
        participants: i32,
    ) -> Result<pb::Activity, tonic::Status> {
        self.api
            .record_activity_outcome(request(
                &regional("KZ-75"),
                now,
                pb::RecordActivityOutcomeRequest {
                    name: name.into(),
                    outcome: Some(pb::ActivityOutcome {
                        summary: summary.into(),
                        participants,
                        children_reached: 12,
                        record_time: None,
                    }),
                    etag: String::new(),
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn cancel(&self, name: &str, etag: &str) -> Result<pb::Activity, tonic::Status> {
        self.api
            .cancel_activity(request(
                &regional("KZ-75"),
                in_campaign(),
                pb::CancelActivityRequest {
                    name: name.into(),
                    reason: "Перенесено решением штаба".into(),
                    etag: etag.into(),
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn update(
        &self,
        now: Timestamp,
        activity: pb::Activity,
        paths: &[&str],
    ) -> Result<pb::Activity, tonic::Status> {
        self.api
            .update_activity(request(
                &regional("KZ-75"),
                now,
                pb::UpdateActivityRequest {
                    activity: Some(activity),
                    update_mask: Some(prost_types::FieldMask {
                        paths: paths.iter().map(|p| p.to_string()).collect(),
                    }),
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn list(
        &self,
        parent: &str,
        filter: pb::ListActivitiesRequest,
    ) -> pb::ListActivitiesResponse {
        self.api
            .list_activities(request(
                &donor("patron-1"),
                in_campaign(),
                pb::ListActivitiesRequest {
                    parent: parent.into(),
                    ..filter
                },
            ))
            .await
            .expect("list")
            .into_inner()
    }
}

fn titles(list: &pb::ListActivitiesResponse) -> Vec<&str> {
    list.activities.iter().map(|a| a.title.as_str()).collect()
}

#[tokio::test]
async fn every_role_reads_the_headquarters_by_region_code() {
    let fx = Fixture::new().await;
    fx.campaign().await;
    let plans = Plans::new(&fx);
    let list = |caller: Caller, size: i32, token: String| {
        plans.api.list_headquarters(request(
            &caller,
            in_campaign(),
            pb::ListHeadquartersRequest {
                parent: CAMPAIGN.into(),
                page_size: size,
                page_token: token,
            },
        ))
    };
    for caller in [
        donor("patron-1"),
        school_staff("almaty-12"),
        operator("KZ-19"),
        coordinator(),
    ] {
        let all = list(caller, 0, String::new())
            .await
            .expect("list")
            .into_inner();
        let regions: Vec<&str> = all
            .headquarters
            .iter()
            .map(|h| h.region_code.as_str())
            .collect();
        assert_eq!(regions, ["KZ-19", "KZ-71", "KZ-75"]);
        assert_eq!(all.headquarters[2].name, ALMATY);
        assert_eq!(
            all.headquarters[2].plan_state,
            pb::ActionPlanState::Draft as i32
        );
    }
    let first = list(regional("KZ-75"), 2, String::new())
        .await
        .expect("page 1")
        .into_inner();
    assert_eq!(first.headquarters.len(), 2);
    let second = list(regional("KZ-75"), 2, first.next_page_token)
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(second.headquarters[0].region_code, "KZ-75");
    assert!(second.next_page_token.is_empty());
    assert_refused(
        list(
            caller("stranger", &["mentoring.mentor"], &[]),
            0,
            String::new(),
        )
        .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    let unknown = plans
        .api
        .list_headquarters(request(
            &donor("patron-1"),
            in_campaign(),
            pb::ListHeadquartersRequest {
                parent: "campaigns/doroga-v-shkolu-2030".into(),
                ..Default::default()
            },
        ))
        .await;
    assert_refused(unknown, Code::NotFound, "NOT_FOUND");
}

#[tokio::test]
async fn only_the_regions_staff_change_its_headquarters() {
    let fx = Fixture::new().await;
    fx.campaign().await;
    let plans = Plans::new(&fx);
    let update = |caller: Caller, name: &str, etag: &str, paths: &[&str]| {
        plans.api.update_headquarters(request(
            &caller,
            in_campaign(),
            pb::UpdateHeadquartersRequest {
                headquarters: Some(pb::Headquarters {
                    name: name.into(),
                    display_name: "Штаб акции «Дорога в школу» г. Алматы".into(),
                    chair: "Заместитель акима г. Алматы".into(),
                    contacts: "г. Алматы, пл. Республики, 4; горячая линия 1414".into(),
                    etag: etag.into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: paths.iter().map(|p| p.to_string()).collect(),
                }),
            },
        ))
    };
    let all = ["display_name", "chair", "contacts"];
    let updated = update(regional("KZ-75"), ALMATY, "", &all)
        .await
        .expect("its staff")
        .into_inner();
    assert_eq!(updated.chair, "Заместитель акима г. Алматы");
    assert_eq!(
        updated.display_name,
        "Штаб акции «Дорога в школу» г. Алматы"
    );
    assert_refused(
        update(regional("KZ-71"), ALMATY, "", &all).await,
        Code::PermissionDenied,
        "SCOPE_REQUIRED",
    );
    for other in [operator("KZ-75"), coordinator(), donor("patron-1")] {
        assert_refused(
            update(other, ALMATY, "", &all).await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }
    assert_refused(
        update(regional("KZ-75"), ALMATY, "\"1\"", &["chair"]).await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    update(regional("KZ-75"), ALMATY, &updated.etag, &["chair"])
        .await
        .expect("the current etag");
    let immutable = update(regional("KZ-75"), ALMATY, "", &["plan_state"])
        .await
        .expect_err("output only");
    assert_eq!(bad_fields(&immutable), ["update_mask"]);
    assert_refused(
        update(
            regional("KZ-79"),
            "campaigns/doroga-v-shkolu-2023/headquarters/kz-79",
            "",
            &all,
        )
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn a_plan_is_approved_with_a_live_activity_and_may_grow_after() {
    let fx = Fixture::new().await;
    fx.campaign().await;
    let plans = Plans::new(&fx);
    let staff = regional("KZ-75");
    assert_refused(
        plans.approve(&staff, ALMATY, "").await,
        Code::FailedPrecondition,
        "ACTION_PLAN_EMPTY",
    );
    let cancelled = plans
        .plan(ALMATY, fair("Ярмарка, отменённая", (8, 18), None))
        .await;
    plans.cancel(&cancelled.name, "").await.expect("cancelled");
    assert_refused(
        plans.approve(&staff, ALMATY, "").await,
        Code::FailedPrecondition,
        "ACTION_PLAN_EMPTY",
    );
    let before = plans
        .plan(ALMATY, fair("Ярмарка в с. Кеген", (8, 20), Some((8, 21))))
        .await;
    assert!(!before.added_after_approval);
    assert_eq!(before.state, pb::ActivityState::Planned as i32);
    assert_eq!(before.region_code, "KZ-75");
    assert_refused(
        plans.approve(&regional("KZ-71"), ALMATY, "").await,
        Code::PermissionDenied,
        "SCOPE_REQUIRED",
    );
    assert_refused(
        plans.approve(&operator("KZ-75"), ALMATY, "").await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_refused(
        plans.approve(&staff, ALMATY, "\"7\"").await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );

    let approved = plans.approve(&staff, ALMATY, "").await.expect("approved");
    assert_eq!(approved.plan_state, pb::ActionPlanState::Approved as i32);
    assert_eq!(approved.plan_approval_basis, "Протокол № 1 от 25.07.2023");
    assert_eq!(
        approved.plan_approve_time.as_ref().map(|t| t.seconds),
        Some(in_campaign().as_second())
    );
    assert_eq!(
        (approved.activities_planned, approved.activities_held),
        (2, 0)
    );
    let again = plans
        .approve(&staff, ALMATY, "\"1\"")
        .await
        .expect("approving again changes nothing");
    assert_eq!(again, approved);

    let added = plans
        .plan(ALMATY, fair("Благотворительная акция", (8, 25), None))
        .await;
    assert!(added.added_after_approval);
    let astana = plans.plan(ASTANA, fair("Совещание", (8, 16), None)).await;
    assert!(
        !astana.added_after_approval,
        "Astana's plan is still a draft"
    );
}

#[tokio::test]
async fn activities_lie_within_the_campaign_and_last_at_most_31_days() {
    let fx = Fixture::new().await;
    fx.campaign().await;
    let plans = Plans::new(&fx);
    let staff = regional("KZ-75");
    let plan = |activity, now| plans.plan_with(&staff, now, ALMATY, activity, "");

    let backwards = plan(fair("Назад", (8, 20), Some((8, 19))), in_campaign())
        .await
        .expect_err("end before start");
    assert_eq!(
        (reason(&backwards).as_str(), bad_fields(&backwards)),
        ("INVALID_FIELDS", vec!["activity.end_date".to_string()])
    );
    let long = plan(fair("Долго", (8, 1), Some((9, 2))), in_campaign())
        .await
        .expect_err("32 days after");
    assert_eq!(bad_fields(&long), ["activity.end_date"]);
    plan(fair("Месяц", (8, 1), Some((9, 1))), in_campaign())
        .await
        .expect("31 days after its first day");
    let october = plan(fair("Октябрь", (10, 2), None), in_campaign())
        .await
        .expect_err("after the last day");
    assert_eq!(
        (reason(&october).as_str(), bad_fields(&october)),
        ("DATE_OUT_OF_RANGE", vec!["activity.start_date".to_string()])
    );
    assert_eq!(
        error_metadata(&october, "latest").as_deref(),
        Some("2023-09-30")
    );
    let overrun = plan(fair("Переходит", (9, 28), Some((10, 1))), in_campaign())
        .await
        .expect_err("ends too late");
    assert_eq!(
        (reason(&overrun).as_str(), bad_fields(&overrun)),
        ("DATE_OUT_OF_RANGE", vec!["activity.end_date".to_string()])
    );
    let nothing = plan(pb::Activity::default(), in_campaign())
        .await
        .expect_err("nothing given");
    assert_eq!(
        bad_fields(&nothing),
        ["activity.kind", "activity.title", "activity.start_date"]
    );
    plan(
        fair("Совещание до начала акции", (7, 25), None),
        at("2023-07-20T10:00:00+06:00"),
    )
    .await
    .expect("meetings prepare the campaign");
    let ended = plan(
        fair("Поздно", (9, 30), None),
        at("2023-10-01T00:00:00+06:00"),
    )
    .await
    .expect_err("ended");
    assert_eq!(reason(&ended), "CAMPAIGN_ENDED");
    assert_eq!(
        error_metadata(&ended, "ended_at").as_deref(),
        Some("2023-09-30T18:00:00Z")
    );

    assert_refused(
        plans
            .plan_with(
                &regional("KZ-71"),
                in_campaign(),
                ALMATY,
                fair("Чужой", (8, 20), None),
                "",
            )
            .await,
        Code::PermissionDenied,
        "SCOPE_REQUIRED",
    );
    assert_refused(
        plans
            .plan_with(
                &coordinator(),
                in_campaign(),
                ALMATY,
                fair("Чужой", (8, 20), None),
                "",
            )
            .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_refused(
        plans
            .plan_with(
                &staff,
                in_campaign(),
                "campaigns/doroga-v-shkolu-2023/headquarters/kz-79",
                fair("Нет штаба", (8, 20), None),
                "",
            )
            .await,
        Code::NotFound,
        "NOT_FOUND",
    );

    let first = plans
        .plan_with(
            &staff,
            in_campaign(),
            ALMATY,
            fair("Ярмарка", (8, 20), None),
            "plan-fair-1",
        )
        .await
        .expect("planned");
    let retry = plans
        .plan_with(
            &staff,
            in_campaign(),
            ALMATY,
            fair("Ярмарка", (8, 20), None),
            "plan-fair-1",
        )
        .await
        .expect("a retry");
    assert_eq!(retry.name, first.name);
    assert_refused(
        plans
            .plan_with(
                &staff,
                in_campaign(),
                ALMATY,
                fair("Другая", (8, 20), None),
                "plan-fair-1",
            )
            .await,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );
    assert_eq!(fx.count("SELECT count(*) FROM aid.activities").await, 3);

    // Changes follow the same rules, until the campaign ends.
    let mut moved = first.clone();
    moved.start_date = date(2023, 10, 3);
    let refused = plans
        .update(in_campaign(), moved.clone(), &["start_date"])
        .await
        .expect_err("out of range");
    assert_eq!(reason(&refused), "DATE_OUT_OF_RANGE");
    moved.start_date = date(2023, 8, 22);
    moved.end_date = date(2023, 8, 23);
    moved.title = "Ярмарка, два дня".into();
    let changed = plans
        .update(
            in_campaign(),
            moved.clone(),
            &["start_date", "end_date", "title"],
        )
        .await
        .expect("moved");
    assert_eq!(
        (changed.start_date, changed.end_date, changed.title.as_str()),
        (date(2023, 8, 22), date(2023, 8, 23), "Ярмарка, два дня")
    );
    assert_eq!(
        changed.place, first.place,
        "outside the mask nothing changes"
    );
    assert_refused(
        plans.update(in_campaign(), moved.clone(), &["title"]).await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    moved.etag = changed.etag.clone();
    let late = plans
        .update(at("2023-10-02T10:00:00+06:00"), moved, &["title"])
        .await
        .expect_err("ended");
    assert_eq!(reason(&late), "CAMPAIGN_ENDED");
}

#[tokio::test]
async fn an_outcome_is_recorded_from_the_first_day_and_replaced_later() {
    let fx = Fixture::new().await;
    fx.campaign().await;
    let plans = Plans::new(&fx);
    let fair = plans
        .plan(ALMATY, fair("Ярмарка в с. Кеген", (8, 20), Some((8, 21))))
        .await;

    let early = plans
        .record(
            at("2023-08-19T23:59:00+06:00"),
            &fair.name,
            "Проведена ярмарка",
            300,
        )
        .await
        .expect_err("the day before, in Almaty");
    assert_eq!(
        (early.code(), reason(&early).as_str()),
        (Code::FailedPrecondition, "ACTIVITY_NOT_DUE")
    );
    assert_eq!(
        error_metadata(&early, "start_date").as_deref(),
        Some("2023-08-20")
    );
    let negative = plans
        .record(at("2023-08-20T10:00:00+06:00"), &fair.name, "", -1)
        .await
        .expect_err("no summary, a negative count");
    assert_eq!(
        bad_fields(&negative),
        ["outcome.summary", "outcome.participants"]
    );

    let held = plans
        .record(
            at("2023-08-20T00:00:00+06:00"),
            &fair.name,
            "Проведена ярмарка, 14 торговых точек",
            300,
        )
        .await
        .expect("from midnight of its first day");
    assert_eq!(held.state, pb::ActivityState::Held as i32);
    let outcome = held.outcome.clone().expect("outcome");
    assert_eq!((outcome.participants, outcome.children_reached), (300, 12));
    let replaced = plans
        .record(
            at("2023-10-05T10:00:00+06:00"),
            &fair.name,
            "Проведена ярмарка, 16 торговых точек",
            320,
        )
        .await
        .expect("replaced, after the campaign's end too");
    assert_eq!(replaced.outcome.as_ref().map(|o| o.participants), Some(320));
    assert_eq!(
        fx.count("SELECT count(*) FROM aid.audit_log WHERE action = 'activity.outcome_recorded'")
            .await,
        2,
        "the audit keeps the earlier outcome"
    );
    let earlier: serde_json::Value = sqlx::query_scalar(
        "SELECT changes FROM aid.audit_log WHERE action = 'activity.outcome_recorded' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(fx.db.pool())
    .await
    .expect("audit");
    assert_eq!(earlier["outcome"]["from"]["participants"], 300);

    let closed = plans
        .update(in_campaign(), replaced.clone(), &["title"])
        .await
        .expect_err("held");
    assert_eq!(
        (
            reason(&closed).as_str(),
            error_metadata(&closed, "state").as_deref()
        ),
        ("ACTIVITY_CLOSED", Some("HELD"))
    );
    let uncancellable = plans
        .cancel(&replaced.name, "")
        .await
        .expect_err("it took place");
    assert_eq!(
        (
            reason(&uncancellable).as_str(),
            error_metadata(&uncancellable, "state").as_deref()
        ),
        ("TRANSITION_NOT_ALLOWED", Some("HELD"))
    );

    let headquarters = plans
        .api
        .list_headquarters(request(
            &donor("patron-1"),
            in_campaign(),
            pb::ListHeadquartersRequest {
                parent: CAMPAIGN.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    let almaty = headquarters
        .headquarters
        .iter()
        .find(|h| h.name == ALMATY)
        .expect("Almaty");
    assert_eq!((almaty.activities_planned, almaty.activities_held), (1, 1));
}

#[tokio::test]
async fn a_cancelled_activity_stays_cancelled() {
    let fx = Fixture::new().await;
    fx.campaign().await;
    let plans = Plans::new(&fx);
    let raid = plans
        .plan(
            ALMATY,
            pb::Activity {
                kind: pb::ActivityKind::Raid as i32,
                title: "Рейд «Подросток»".into(),
                start_date: date(2023, 8, 10),
                ..Default::default()
            },
        )
        .await;
    assert_refused(
        plans.cancel(&raid.name, "\"5\"").await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    let blank = plans
        .api
        .cancel_activity(request(
            &regional("KZ-75"),
            in_campaign(),
            pb::CancelActivityRequest {
                name: raid.name.clone(),
                reason: String::new(),
                etag: String::new(),
            },
        ))
        .await
        .expect_err("a cancellation says why");
    assert_eq!(bad_fields(&blank), ["reason"]);
    let cancelled = plans
        .cancel(&raid.name, &raid.etag)
        .await
        .expect("cancelled");
    assert_eq!(cancelled.state, pb::ActivityState::Cancelled as i32);
    assert_eq!(cancelled.cancel_reason, "Перенесено решением штаба");
    let again = plans
        .cancel(&raid.name, &raid.etag)
        .await
        .expect("cancelling again changes nothing");
    assert_eq!(again, cancelled);
    let outcome = plans
        .record(in_campaign(), &raid.name, "Проведён рейд", 10)
        .await
        .expect_err("cancelled");
    assert_eq!(
        (
            reason(&outcome).as_str(),
            error_metadata(&outcome, "state").as_deref()
        ),
        ("TRANSITION_NOT_ALLOWED", Some("CANCELLED"))
    );
    let changed = plans
        .update(in_campaign(), cancelled, &["title"])
        .await
        .expect_err("cancelled");
    assert_eq!(
        (
            reason(&changed).as_str(),
            error_metadata(&changed, "state").as_deref()
        ),
        ("ACTIVITY_CLOSED", Some("CANCELLED"))
    );
}

#[tokio::test]
async fn activities_are_listed_by_start_date_then_name_for_one_region_or_all() {
    let fx = Fixture::new().await;
    fx.campaign().await;
    let plans = Plans::new(&fx);
    let kegen = plans
        .plan(ALMATY, fair("Ярмарка в с. Кеген", (8, 20), Some((8, 21))))
        .await;
    plans
        .plan(ASTANA, fair("Ярмарка в Астане", (8, 20), None))
        .await;
    plans
        .plan(
            ALMATY,
            pb::Activity {
                kind: pb::ActivityKind::Meeting as i32,
                title: "Совещание отделов образования".into(),
                start_date: date(2023, 8, 5),
                ..Default::default()
            },
        )
        .await;
    plans
        .plan(ALMATY, fair("Ярмарка в с. Нарынкол", (9, 2), None))
        .await;
    plans
        .record(
            at("2023-08-22T10:00:00+06:00"),
            &kegen.name,
            "Проведена ярмарка",
            100,
        )
        .await
        .expect("held");

    let every = plans.list(EVERY_REGION, Default::default()).await;
    assert_eq!(
        titles(&every),
        [
            "Совещание отделов образования",
            "Ярмарка в Астане",
            "Ярмарка в с. Кеген",
            "Ярмарка в с. Нарынкол"
        ],
        "by start date, then by name (kz-71 before kz-75)"
    );
    let almaty = plans.list(ALMATY, Default::default()).await;
    assert_eq!(almaty.activities.len(), 3);
    assert!(almaty.activities.iter().all(|a| a.region_code == "KZ-75"));
    let fairs = plans
        .list(
            EVERY_REGION,
            pb::ListActivitiesRequest {
                kind: pb::ActivityKind::RemoteSettlementFair as i32,
                state: pb::ActivityState::Planned as i32,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        titles(&fairs),
        ["Ярмарка в Астане", "Ярмарка в с. Нарынкол"]
    );
    let from = plans
        .list(
            ALMATY,
            pb::ListActivitiesRequest {
                from_date: date(2023, 8, 21),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        titles(&from),
        ["Ярмарка в с. Кеген", "Ярмарка в с. Нарынкол"],
        "ends on or after"
    );

    let first = plans
        .list(
            EVERY_REGION,
            pb::ListActivitiesRequest {
                page_size: 3,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(first.activities.len(), 3);
    let rest = plans
        .list(
            EVERY_REGION,
            pb::ListActivitiesRequest {
                page_size: 3,
                page_token: first.next_page_token.clone(),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(titles(&rest), ["Ярмарка в с. Нарынкол"]);
    assert!(rest.next_page_token.is_empty());
    let foreign_token = plans
        .api
        .list_activities(request(
            &donor("patron-1"),
            in_campaign(),
            pb::ListActivitiesRequest {
                parent: ALMATY.into(),
                page_size: 3,
                page_token: first.next_page_token.clone(),
                ..Default::default()
            },
        ))
        .await;
    assert_refused(foreign_token, Code::InvalidArgument, "PAGE_TOKEN_INVALID");
    for parent in [
        "campaigns/doroga-v-shkolu-2023/headquarters/kz-79",
        "campaigns/doroga-v-shkolu-2030/headquarters/-",
    ] {
        let missing = plans
            .api
            .list_activities(request(
                &donor("patron-1"),
                in_campaign(),
                pb::ListActivitiesRequest {
                    parent: parent.into(),
                    ..Default::default()
                },
            ))
            .await;
        assert_refused(missing, Code::NotFound, "NOT_FOUND");
    }
}
