//! Needs and help (rule 3): one need per item and child (but `OTHER`), recorded and read by
//! the child's school and region only; the coverage limit is the estimate unless regional
//! staff raise it with a reason, and nothing — budget help, an allocation, a lowered
//! estimate — takes the committed value past it; help is dated within the campaign, recorded
//! once per request id with its event; lists show each caller its own children's needs in
//! the children's order. Children are inserted as rows here (ChildService is written
//! elsewhere).

use edu_aid::api::NeedsApi;
use edu_kit::auth::Caller;
use edu_kit::testing::{assert_refused, bad_fields, error_metadata, reason};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::need_service_server::NeedService;
use jiff::Timestamp;
use tonic::{Code, Status};

use crate::common::*;

/// A child inserted straight into the data bank.
#[derive(Debug, Clone)]
pub struct ListedChild {
    /// Its ID.
    pub id: String,
    /// Its resource name.
    pub name: String,
    /// Its IIN.
    pub iin: String,
    /// Its family name.
    pub family: String,
    /// Its given name.
    pub given: String,
}

/// Inserts an active child of `school` (in `region`) with `family` name, in `grade`, with an
/// IIN of its own.
pub async fn listed_child(
    fx: &Fixture,
    school: &str,
    region: &str,
    family: &str,
    grade: i16,
) -> ListedChild {
    let id = uuid::Uuid::new_v4().to_string();
    let iin = format!("{:012}", uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000);
    let given = "Айгерим";
    sqlx::query(
        "INSERT INTO aid.children
            (id, campaign_id, school_id, region_code, iin, family_name, given_name, patronymic,
             normalised_name, birth_date, grade, categories, identification_source,
             consent_representative, consent_date, consent_document, create_time, update_time)
         VALUES ($1, 'doroga-v-shkolu-2023', $2, $3, $4, $5, $6, 'Нурлановна',
                 lower($5 || ' ' || $6 || ' нурлановна'), DATE '2015-03-13', $7,
                 ARRAY['LOW_INCOME'], 'SURVEY', 'мать', DATE '2023-08-01', 'заявление № 1',
                 now(), now())",
    )
    .bind(&id)
    .bind(school)
    .bind(region)
    .bind(&iin)
    .bind(family)
    .bind(given)
    .bind(grade)
    .execute(fx.db.pool())
    .await
    .expect("insert child");
    ListedChild {
        name: format!("{CAMPAIGN}/children/{id}"),
        id,
        iin,
        family: family.into(),
        given: given.into(),
    }
}

/// Marks `child` merged into `survivor`.
pub async fn merge_child(fx: &Fixture, child: &ListedChild, survivor: &ListedChild) {
    sqlx::query("UPDATE aid.children SET state = 'MERGED', merged_into = $2 WHERE id = $1")
        .bind(&child.id)
        .bind(&survivor.id)
        .execute(fx.db.pool())
        .await
        .expect("merge child");
}

/// Marks `child` removed, its personal data erased.
pub async fn remove_child(fx: &Fixture, child: &ListedChild) {
    sqlx::query(
        "UPDATE aid.children
         SET state = 'REMOVED', iin = NULL, family_name = NULL, given_name = NULL,
             patronymic = NULL, normalised_name = NULL, birth_date = NULL,
             consent_representative = NULL, consent_date = NULL, consent_document = NULL
         WHERE id = $1",
    )
    .bind(&child.id)
    .execute(fx.db.pool())
    .await
    .expect("remove child");
}

/// The campaign with schools 1 and 2 in Almaty (KZ-75) and school 3 in Astana (KZ-71).
pub async fn setup() -> Fixture {
    let fx = Fixture::new().await;
    fx.campaign().await;
    fx.school("school-1", "KZ-75").await;
    fx.school("school-2", "KZ-75").await;
    fx.school("school-3", "KZ-71").await;
    fx
}

/// The need service of `fx`.
pub fn needs_api(fx: &Fixture) -> NeedsApi {
    NeedsApi::new(fx.store.clone())
}

/// A need as CreateNeed takes it.
pub fn need_body(item: pb::NeedItem, estimate: i64) -> pb::Need {
    pb::Need {
        item: item as i32,
        description: if item == pb::NeedItem::Other {
            "зимняя куртка".into()
        } else {
            "рост 128".into()
        },
        estimated_value_tiyn: estimate,
        ..Default::default()
    }
}

/// Creates a need of `child` as `caller`.
pub async fn create_need(
    api: &NeedsApi,
    caller: &Caller,
    child: &ListedChild,
    item: pb::NeedItem,
    estimate: i64,
) -> Result<pb::Need, Status> {
    api.create_need(request(
        caller,
        in_campaign(),
        pb::CreateNeedRequest {
            parent: child.name.clone(),
            need: Some(need_body(item, estimate)),
            request_id: String::new(),
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

/// Budget help of `value` against `need`, handed over on 10 August.
pub fn budget_help(need: &str, value: i64, request_id: &str) -> pb::RecordHelpDeliveryRequest {
    pb::RecordHelpDeliveryRequest {
        parent: need.into(),
        help_delivery: Some(pb::HelpDelivery {
            source: pb::HelpSource::Budget as i32,
            budget_source: "местный бюджет, акимат г. Алматы".into(),
            value_tiyn: value,
            delivery_date: date(2023, 8, 10),
            description: "школьная форма".into(),
            ..Default::default()
        }),
        request_id: request_id.into(),
    }
}

/// Records help as `caller` at `now`.
pub async fn record_help(
    api: &NeedsApi,
    caller: &Caller,
    now: Timestamp,
    body: pb::RecordHelpDeliveryRequest,
) -> Result<pb::HelpDelivery, Status> {
    api.record_help_delivery(request(caller, now, body))
        .await
        .map(tonic::Response::into_inner)
}

async fn get_need(api: &NeedsApi, caller: &Caller, name: &str) -> Result<pb::Need, Status> {
    api.get_need(request(
        caller,
        in_campaign(),
        pb::GetNeedRequest { name: name.into() },
    ))
    .await
    .map(tonic::Response::into_inner)
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

#[tokio::test]
async fn a_need_is_recorded_once_per_item_by_the_childs_school_and_region() {
    let fx = setup().await;
    let api = needs_api(&fx);
    let child = listed_child(&fx, "school-1", "KZ-75", "Ахметова", 2).await;
    let create = |caller: Caller, body: pb::Need, request_id: &str, now: Timestamp| {
        api.create_need(request(
            &caller,
            now,
            pb::CreateNeedRequest {
                parent: child.name.clone(),
                need: Some(body),
                request_id: request_id.into(),
            },
        ))
    };

    for caller in [coordinator(), operator("KZ-75"), donor("donor-1")] {
        assert_refused(
            create(
                caller,
                need_body(pb::NeedItem::Uniform, 1_500_000),
                "",
                in_campaign(),
            )
            .await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }
    for caller in [school_staff("school-2"), regional("KZ-71")] {
        assert_refused(
            create(
                caller,
                need_body(pb::NeedItem::Uniform, 1_500_000),
                "",
                in_campaign(),
            )
            .await,
            Code::NotFound,
            "NOT_FOUND",
        );
    }
    let bad = create(
        school_staff("school-1"),
        pb::Need {
            item: pb::NeedItem::Other as i32,
            estimated_value_tiyn: 100_000_001,
            ..Default::default()
        },
        "",
        in_campaign(),
    )
    .await
    .expect_err("no description, too dear");
    assert_eq!(reason(&bad), "INVALID_FIELDS");
    assert_eq!(
        bad_fields(&bad),
        ["need.description", "need.estimated_value_tiyn"]
    );
    let bad = create(
        school_staff("school-1"),
        pb::Need::default(),
        "",
        in_campaign(),
    )
    .await
    .expect_err("nothing");
    assert_eq!(bad_fields(&bad), ["need.item", "need.estimated_value_tiyn"]);

    let uniform = create(
        school_staff("school-1"),
        need_body(pb::NeedItem::Uniform, 1_500_000),
        "need-1",
        in_campaign(),
    )
    .await
    .expect("the school records it")
    .into_inner();
    assert!(uniform.name.starts_with(&format!("{}/needs/", child.name)));
    assert_eq!(uniform.coverage_limit_tiyn, 1_500_000);
    assert_eq!(uniform.coverage, pb::NeedCoverage::Uncovered as i32);
    assert_eq!(uniform.school, "schools/school-1");
    assert_eq!(uniform.region_code, "KZ-75");
    let again = create(
        school_staff("school-1"),
        need_body(pb::NeedItem::Uniform, 1_500_000),
        "need-1",
        in_campaign(),
    )
    .await
    .expect("a retry")
    .into_inner();
    assert_eq!(again, uniform, "a retry answers the first response");
    assert_refused(
        create(
            school_staff("school-1"),
            need_body(pb::NeedItem::Shoes, 1_500_000),
            "need-1",
            in_campaign(),
        )
        .await,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );
    let twice = create(
        regional("KZ-75"),
        need_body(pb::NeedItem::Uniform, 900_000),
        "",
        in_campaign(),
    )
    .await
    .expect_err("a second uniform");
    assert_eq!(twice.code(), Code::AlreadyExists);
    assert_eq!(reason(&twice), "NEED_EXISTS");
    assert_eq!(
        error_metadata(&twice, "need").as_deref(),
        Some(uniform.name.as_str())
    );
    for _ in 0..2 {
        create(
            regional("KZ-75"),
            need_body(pb::NeedItem::Other, 700_000),
            "",
            in_campaign(),
        )
        .await
        .expect("OTHER may come twice");
    }
    assert_eq!(fx.count("SELECT count(*) FROM aid.needs").await, 3);
    assert_eq!(
        fx.count("SELECT count(*) FROM audit_log WHERE action = 'need.created'")
            .await,
        3
    );

    let ended = create(
        school_staff("school-1"),
        need_body(pb::NeedItem::Shoes, 800_000),
        "",
        at("2023-10-01T00:00:00+06:00"),
    )
    .await
    .expect_err("the campaign ended at midnight in Almaty");
    assert_eq!(reason(&ended), "CAMPAIGN_ENDED");
    assert!(error_metadata(&ended, "ended_at").is_some());

    let survivor = listed_child(&fx, "school-1", "KZ-75", "Ахметова", 2).await;
    let merged = listed_child(&fx, "school-1", "KZ-75", "Ахметова", 2).await;
    merge_child(&fx, &merged, &survivor).await;
    let refused = create_need(
        &api,
        &school_staff("school-1"),
        &merged,
        pb::NeedItem::Shoes,
        1,
    )
    .await
    .expect_err("merged away");
    assert_eq!(reason(&refused), "CHILD_MERGED");
    assert_eq!(
        error_metadata(&refused, "merged_into").as_deref(),
        Some(survivor.name.as_str())
    );
    let removed = listed_child(&fx, "school-1", "KZ-75", "Бекова", 3).await;
    remove_child(&fx, &removed).await;
    assert_refused(
        create_need(
            &api,
            &school_staff("school-1"),
            &removed,
            pb::NeedItem::Shoes,
            1,
        )
        .await,
        Code::FailedPrecondition,
        "CHILD_REMOVED",
    );
    let missing = ListedChild {
        name: format!("{CAMPAIGN}/children/{}", uuid::Uuid::new_v4()),
        ..removed
    };
    assert_refused(
        create_need(&api, &regional("KZ-75"), &missing, pb::NeedItem::Shoes, 1).await,
        Code::NotFound,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn a_need_is_read_by_its_childs_school_and_region_only() {
    let fx = setup().await;
    let api = needs_api(&fx);
    let child = listed_child(&fx, "school-1", "KZ-75", "Ахметова", 2).await;
    let need = create_need(
        &api,
        &school_staff("school-1"),
        &child,
        pb::NeedItem::Backpack,
        600_000,
    )
    .await
    .expect("need");
    for caller in [school_staff("school-1"), regional("KZ-75")] {
        assert_eq!(
            get_need(&api, &caller, &need.name).await.expect("read"),
            need
        );
    }
    for caller in [
        school_staff("school-2"),
        school_staff("school-3"),
        regional("KZ-71"),
    ] {
        let hidden = get_need(&api, &caller, &need.name)
            .await
            .expect_err("hidden");
        assert_eq!(hidden.code(), Code::NotFound);
        let missing = get_need(
            &api,
            &caller,
            &format!("{}/needs/{}", child.name, uuid::Uuid::new_v4()),
        )
        .await
        .expect_err("missing");
        assert_eq!(reason(&hidden), reason(&missing), "as a missing one");
    }
    for caller in [coordinator(), donor("donor-1"), operator("KZ-75")] {
        assert_refused(
            get_need(&api, &caller, &need.name).await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }
}

#[tokio::test]
async fn an_estimate_never_drops_below_what_is_committed() {
    let fx = setup().await;
    let api = needs_api(&fx);
    let child = listed_child(&fx, "school-1", "KZ-75", "Ахметова", 2).await;
    let need = create_need(
        &api,
        &school_staff("school-1"),
        &child,
        pb::NeedItem::Uniform,
        1_000_000,
    )
    .await
    .expect("need");
    record_help(
        &api,
        &school_staff("school-1"),
        in_campaign(),
        budget_help(&need.name, 600_000, "h-1"),
    )
    .await
    .expect("budget help");
    let update = |caller: Caller, estimate: i64, etag: &str, paths: &[&str]| {
        api.update_need(request(
            &caller,
            in_campaign(),
            pb::UpdateNeedRequest {
                need: Some(pb::Need {
                    name: need.name.clone(),
                    description: "рост 134".into(),
                    estimated_value_tiyn: estimate,
                    etag: etag.into(),
                    ..Default::default()
                }),
                update_mask: mask(paths),
            },
        ))
    };
    let below = update(
        school_staff("school-1"),
        500_000,
        "",
        &["estimated_value_tiyn"],
    )
    .await
    .expect_err("below the committed 6 000 ₸");
    assert_eq!(below.code(), Code::FailedPrecondition);
    assert_eq!(reason(&below), "NEED_BELOW_COMMITTED");
    assert_eq!(
        error_metadata(&below, "committed_tiyn").as_deref(),
        Some("600000")
    );
    assert_refused(
        update(school_staff("school-1"), 0, "", &["estimated_value_tiyn"]).await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    assert_refused(
        update(school_staff("school-1"), 700_000, "", &["item"]).await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    assert_refused(
        update(
            school_staff("school-2"),
            700_000,
            "",
            &["estimated_value_tiyn"],
        )
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let stale = need.etag.clone();
    let changed = update(
        school_staff("school-1"),
        600_000,
        "",
        &["estimated_value_tiyn", "description"],
    )
    .await
    .expect("down to what is committed")
    .into_inner();
    assert_eq!(changed.estimated_value_tiyn, 600_000);
    assert_eq!(changed.description, "рост 134");
    assert_eq!(changed.coverage, pb::NeedCoverage::Covered as i32);
    assert_refused(
        update(
            school_staff("school-1"),
            700_000,
            &stale,
            &["estimated_value_tiyn"],
        )
        .await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    update(
        regional("KZ-75"),
        700_000,
        &changed.etag,
        &["estimated_value_tiyn"],
    )
    .await
    .expect("with the current etag");
    remove_child(&fx, &child).await;
    assert_refused(
        update(
            school_staff("school-1"),
            800_000,
            "",
            &["estimated_value_tiyn"],
        )
        .await,
        Code::FailedPrecondition,
        "CHILD_REMOVED",
    );
}

#[tokio::test]
async fn only_regional_staff_raise_a_coverage_limit_and_only_with_a_reason() {
    let fx = setup().await;
    let api = needs_api(&fx);
    let child = listed_child(&fx, "school-1", "KZ-75", "Ахметова", 2).await;
    let need = create_need(
        &api,
        &school_staff("school-1"),
        &child,
        pb::NeedItem::Uniform,
        1_000_000,
    )
    .await
    .expect("need");
    let raise = |caller: Caller, limit: i64, why: &str| {
        api.override_need_coverage(request(
            &caller,
            in_campaign(),
            pb::OverrideNeedCoverageRequest {
                name: need.name.clone(),
                limit_tiyn: limit,
                reason: why.into(),
                etag: String::new(),
            },
        ))
    };
    const WHY: &str = "форма нужного размера дороже оценки";
    assert_refused(
        raise(school_staff("school-1"), 1_500_000, WHY).await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_refused(
        raise(regional("KZ-71"), 1_500_000, WHY).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let bad = raise(regional("KZ-75"), 100_000_001, " ")
        .await
        .expect_err("bad");
    assert_eq!(bad_fields(&bad), ["limit_tiyn", "reason"]);
    let not_above = raise(regional("KZ-75"), 1_000_000, WHY)
        .await
        .expect_err("not above");
    assert_eq!(bad_fields(&not_above), ["limit_tiyn"]);

    // Without an override, budget help stops at the estimate.
    record_help(
        &api,
        &school_staff("school-1"),
        in_campaign(),
        budget_help(&need.name, 900_000, "h-1"),
    )
    .await
    .expect("within the estimate");
    let over = record_help(
        &api,
        &school_staff("school-1"),
        in_campaign(),
        budget_help(&need.name, 200_000, "h-2"),
    )
    .await
    .expect_err("past the estimate");
    assert_eq!(reason(&over), "NEED_OVER_COVERED");
    assert_eq!(
        error_metadata(&over, "limit_tiyn").as_deref(),
        Some("1000000")
    );
    assert_eq!(
        error_metadata(&over, "committed_tiyn").as_deref(),
        Some("900000")
    );

    let raised = raise(regional("KZ-75"), 1_200_000, WHY)
        .await
        .expect("raised")
        .into_inner();
    assert_eq!(raised.coverage_limit_tiyn, 1_200_000);
    let recorded = raised.coverage_override.expect("recorded");
    assert_eq!(recorded.reason, WHY);
    assert_eq!(recorded.actor, "staff-KZ-75");
    assert_eq!(
        fx.count("SELECT count(*) FROM audit_log WHERE action = 'need.coverage_overridden'")
            .await,
        1
    );
    let helped = record_help(
        &api,
        &school_staff("school-1"),
        in_campaign(),
        budget_help(&need.name, 200_000, "h-3"),
    )
    .await
    .expect("within the raised limit");
    assert_eq!(helped.value_tiyn, 200_000);
    let now = get_need(&api, &regional("KZ-75"), &need.name)
        .await
        .expect("need");
    assert_eq!(
        (now.committed_tiyn, now.delivered_tiyn),
        (1_100_000, 1_100_000)
    );
    assert_eq!(now.coverage, pb::NeedCoverage::Covered as i32);
    let below = raise(regional("KZ-75"), 1_050_000, WHY)
        .await
        .expect_err("below committed");
    assert_eq!(reason(&below), "NEED_BELOW_COMMITTED");
    assert_eq!(
        error_metadata(&below, "committed_tiyn").as_deref(),
        Some("1100000")
    );

    // The database holds the rule too.
    let direct = sqlx::query("UPDATE aid.needs SET committed_tiyn = 1300000 WHERE id = $1")
        .bind(need.name.rsplit('/').next().expect("id"))
        .execute(fx.db.pool())
        .await;
    assert!(direct.is_err(), "a CHECK refuses an over-covered need");
}

#[tokio::test]
async fn budget_help_is_dated_within_the_campaign_and_recorded_once_with_its_event() {
    let fx = setup().await;
    let api = needs_api(&fx);
    let child = listed_child(&fx, "school-1", "KZ-75", "Ахметова", 2).await;
    let need = create_need(
        &api,
        &school_staff("school-1"),
        &child,
        pb::NeedItem::Shoes,
        800_000,
    )
    .await
    .expect("need");
    let staff = school_staff("school-1");

    let mut body = budget_help(&need.name, 0, "");
    if let Some(h) = body.help_delivery.as_mut() {
        h.source = 0;
    }
    let bad = record_help(&api, &staff, in_campaign(), body)
        .await
        .expect_err("bad");
    assert_eq!(
        bad_fields(&bad),
        [
            "help_delivery.source",
            "help_delivery.value_tiyn",
            "request_id"
        ]
    );
    let mut body = budget_help(&need.name, 100, "h-0");
    if let Some(h) = body.help_delivery.as_mut() {
        h.budget_source = String::new();
    }
    let bad = record_help(&api, &staff, in_campaign(), body)
        .await
        .expect_err("no budget");
    assert_eq!(bad_fields(&bad), ["help_delivery.budget_source"]);
    let mut body = budget_help(&need.name, 100, "h-0");
    if let Some(h) = body.help_delivery.as_mut() {
        h.source = pb::HelpSource::Donation as i32;
        h.budget_source = String::new();
    }
    let bad = record_help(&api, &staff, in_campaign(), body)
        .await
        .expect_err("no allocation");
    assert_eq!(bad_fields(&bad), ["help_delivery.allocation"]);

    for (day, earliest, latest) in [
        ((2023, 7, 31), "2023-08-01", "2023-08-15"),
        ((2023, 8, 16), "2023-08-01", "2023-08-15"),
    ] {
        let mut body = budget_help(&need.name, 100_000, "h-date");
        if let Some(h) = body.help_delivery.as_mut() {
            h.delivery_date = date(day.0, day.1, day.2);
        }
        let out = record_help(&api, &staff, in_campaign(), body)
            .await
            .expect_err("out of range");
        assert_eq!(reason(&out), "DATE_OUT_OF_RANGE");
        assert_eq!(bad_fields(&out), ["help_delivery.delivery_date"]);
        assert_eq!(error_metadata(&out, "earliest").as_deref(), Some(earliest));
        assert_eq!(error_metadata(&out, "latest").as_deref(), Some(latest));
    }
    assert_refused(
        record_help(
            &api,
            &school_staff("school-2"),
            in_campaign(),
            budget_help(&need.name, 100, "h-x"),
        )
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );

    let first = record_help(
        &api,
        &staff,
        in_campaign(),
        budget_help(&need.name, 300_000, "h-1"),
    )
    .await
    .expect("recorded");
    assert_eq!(first.source, pb::HelpSource::Budget as i32);
    assert_eq!(first.item, pb::NeedItem::Shoes as i32);
    assert!(
        first
            .name
            .starts_with(&format!("{}/helpDeliveries/", need.name))
    );
    assert!(first.allocation.is_empty() && first.donation.is_empty());
    let retry = record_help(
        &api,
        &staff,
        in_campaign(),
        budget_help(&need.name, 300_000, "h-1"),
    )
    .await
    .expect("a retry");
    assert_eq!(retry, first);
    assert_eq!(
        fx.count("SELECT count(*) FROM aid.help_deliveries").await,
        1
    );
    assert_eq!(
        fx.count("SELECT count(*) FROM event_outbox WHERE event_type = 'HELP_DELIVERED'")
            .await,
        1
    );
    let read = get_need(&api, &staff, &need.name).await.expect("need");
    assert_eq!(
        (read.committed_tiyn, read.delivered_tiyn),
        (300_000, 300_000)
    );
    assert_eq!(read.coverage, pb::NeedCoverage::PartlyCovered as i32);

    // After the campaign's end, help is still recorded, dated up to today.
    let mut late = budget_help(&need.name, 500_000, "h-2");
    if let Some(h) = late.help_delivery.as_mut() {
        h.delivery_date = date(2023, 10, 3);
    }
    record_help(
        &api,
        &regional("KZ-75"),
        at("2023-10-05T12:00:00+06:00"),
        late,
    )
    .await
    .expect("after the end");
    let read = get_need(&api, &staff, &need.name).await.expect("need");
    assert_eq!(read.delivered_tiyn, 800_000);
    assert_eq!(read.coverage, pb::NeedCoverage::Covered as i32);
    // The event names resources only.
    let resources: Vec<String> =
        sqlx::query_scalar("SELECT resource || ' ' || parent FROM event_outbox")
            .fetch_all(fx.db.pool())
            .await
            .expect("events");
    for r in resources {
        assert!(!r.contains(&child.family) && !r.contains(&child.iin), "{r}");
    }
}

async fn all_needs(api: &NeedsApi, caller: &Caller, filter: pb::ListNeedsRequest) -> Vec<pb::Need> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = api
            .list_needs(request(
                caller,
                in_campaign(),
                pb::ListNeedsRequest {
                    page_size: 2,
                    page_token: token,
                    ..filter.clone()
                },
            ))
            .await
            .expect("page")
            .into_inner();
        out.extend(page.needs);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

#[tokio::test]
async fn lists_show_each_caller_its_childrens_needs_in_the_childrens_order() {
    let fx = setup().await;
    let api = needs_api(&fx);
    // School 2 («Школа school-2») sorts after school 1; within a school, grade then names.
    let b1 = listed_child(&fx, "school-1", "KZ-75", "Жумабаев", 3).await;
    let a1 = listed_child(&fx, "school-1", "KZ-75", "Әлиев", 3).await;
    let c1 = listed_child(&fx, "school-1", "KZ-75", "Сериков", 1).await;
    let d2 = listed_child(&fx, "school-2", "KZ-75", "Абаев", 1).await;
    let e3 = listed_child(&fx, "school-3", "KZ-71", "Абаев", 1).await;
    let staff1 = school_staff("school-1");
    for child in [&b1, &a1, &c1] {
        for item in [pb::NeedItem::Stationery, pb::NeedItem::Uniform] {
            create_need(&api, &staff1, child, item, 400_000)
                .await
                .expect("need");
        }
    }
    create_need(
        &api,
        &school_staff("school-2"),
        &d2,
        pb::NeedItem::Cash,
        400_000,
    )
    .await
    .expect("need");
    create_need(&api, &regional("KZ-71"), &e3, pb::NeedItem::Cash, 400_000)
        .await
        .expect("need");
    let every = |parent: &str| pb::ListNeedsRequest {
        parent: parent.into(),
        ..Default::default()
    };
    let all = format!("{CAMPAIGN}/children/-");
    let mine = all_needs(&api, &staff1, every(&all)).await;
    let order: Vec<(String, i32)> = mine
        .iter()
        .map(|n| (n.name.split('/').nth(3).expect("child").to_string(), n.item))
        .collect();
    let stationery = pb::NeedItem::Stationery as i32;
    let uniform = pb::NeedItem::Uniform as i32;
    // Grade 1 first; in grade 3, «Әлиев» before «Жумабаев» (in Kazakh order Ә follows А and
    // precedes Б); by item in the order of NeedItem.
    assert_eq!(
        order,
        [
            (c1.id.clone(), uniform),
            (c1.id.clone(), stationery),
            (a1.id.clone(), uniform),
            (a1.id.clone(), stationery),
            (b1.id.clone(), uniform),
            (b1.id.clone(), stationery),
        ]
    );
    let region = all_needs(&api, &regional("KZ-75"), every(&all)).await;
    assert_eq!(region.len(), 7, "the region's two schools");
    assert!(region.last().is_some_and(|n| n.name.contains(&d2.id)));
    assert_eq!(
        all_needs(&api, &regional("KZ-71"), every(&all)).await.len(),
        1
    );
    let one_child = all_needs(&api, &regional("KZ-75"), every(&b1.name)).await;
    assert_eq!(one_child.len(), 2);
    let filtered = all_needs(
        &api,
        &regional("KZ-75"),
        pb::ListNeedsRequest {
            school: "schools/school-1".into(),
            item: uniform,
            ..every(&all)
        },
    )
    .await;
    assert_eq!(filtered.len(), 3);
    record_help(
        &api,
        &staff1,
        in_campaign(),
        budget_help(&mine[0].name, 400_000, "h-1"),
    )
    .await
    .expect("help");
    let open = all_needs(
        &api,
        &staff1,
        pb::ListNeedsRequest {
            open_for_allocation_only: true,
            ..every(&all)
        },
    )
    .await;
    assert_eq!(open.len(), 5);
    let covered = all_needs(
        &api,
        &staff1,
        pb::ListNeedsRequest {
            coverage: pb::NeedCoverage::Covered as i32,
            ..every(&all)
        },
    )
    .await;
    assert_eq!(covered.len(), 1);
    for caller in [school_staff("school-2"), regional("KZ-71")] {
        assert_refused(
            api.list_needs(request(&caller, in_campaign(), every(&b1.name)))
                .await,
            Code::NotFound,
            "NOT_FOUND",
        );
    }
    assert_refused(
        api.list_needs(request(
            &staff1,
            in_campaign(),
            every("campaigns/another/children/-"),
        ))
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_refused(
        api.list_needs(request(
            &staff1,
            in_campaign(),
            pb::ListNeedsRequest {
                page_token: "garbage".into(),
                ..every(&all)
            },
        ))
        .await,
        Code::InvalidArgument,
        "PAGE_TOKEN_INVALID",
    );

    // Help deliveries across every need the caller reads.
    let help = api
        .list_help_deliveries(request(
            &regional("KZ-75"),
            in_campaign(),
            pb::ListHelpDeliveriesRequest {
                parent: format!("{CAMPAIGN}/children/-/needs/-"),
                ..Default::default()
            },
        ))
        .await
        .expect("help")
        .into_inner();
    assert_eq!(help.help_deliveries.len(), 1);
    let none = api
        .list_help_deliveries(request(
            &regional("KZ-71"),
            in_campaign(),
            pb::ListHelpDeliveriesRequest {
                parent: format!("{CAMPAIGN}/children/-/needs/-"),
                ..Default::default()
            },
        ))
        .await
        .expect("help")
        .into_inner();
    assert!(none.help_deliveries.is_empty());
    assert_refused(
        api.list_help_deliveries(request(
            &regional("KZ-71"),
            in_campaign(),
            pb::ListHelpDeliveriesRequest {
                parent: mine[0].name.clone(),
                ..Default::default()
            },
        ))
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn totals_for_children_sum_each_childs_needs() {
    let fx = setup().await;
    let api = needs_api(&fx);
    let a = listed_child(&fx, "school-1", "KZ-75", "Ахметова", 2).await;
    let b = listed_child(&fx, "school-1", "KZ-75", "Бекова", 2).await;
    let staff = school_staff("school-1");
    let n1 = create_need(&api, &staff, &a, pb::NeedItem::Uniform, 1_000_000)
        .await
        .expect("need");
    create_need(&api, &staff, &a, pb::NeedItem::Shoes, 500_000)
        .await
        .expect("need");
    record_help(
        &api,
        &staff,
        in_campaign(),
        budget_help(&n1.name, 250_000, "h-1"),
    )
    .await
    .expect("help");
    let mut conn = fx.db.pool().acquire().await.expect("conn");
    let totals =
        edu_aid::store::needs::totals_for_children(&mut conn, &[a.id.clone(), b.id.clone()])
            .await
            .expect("totals");
    assert_eq!(totals.get(&a.id), Some(&(1_500_000, 250_000, 250_000)));
    assert_eq!(totals.get(&b.id), None);
}
