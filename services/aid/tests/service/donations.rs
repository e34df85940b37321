//! Donations (rule 4): pledged by a donor for itself or by regional staff for a donor
//! without an account, received once (with its event) or cancelled; allocated only from
//! received value, never beyond it — also under 30 concurrent allocations against the real
//! Postgres — and never past a need's limit; help drawn on an allocation to the same need;
//! the undelivered remainder released; a donor reads its own contributions and a summary,
//! and never a child's name, IIN, school or resource name.

use edu_aid::api::{DonationsApi, NeedsApi};
use edu_kit::CallContext;
use edu_kit::auth::Caller;
use edu_kit::testing::{assert_refused, bad_fields, error_metadata, reason};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::donation_service_server::DonationService;
use edu_proto::edu::aid::v1::need_service_server::NeedService;
use jiff::Timestamp;
use tonic::{Code, Status};

use crate::common::*;
use crate::needs::{
    ListedChild, budget_help, create_need, listed_child, needs_api, record_help, remove_child,
    setup,
};

fn api(fx: &Fixture) -> DonationsApi {
    DonationsApi::new(fx.store.clone())
}

/// Staff of both Almaty (KZ-75) and Astana (KZ-71).
fn two_regions() -> Caller {
    caller(
        "staff-two",
        &["aid.regional_staff"],
        &["region:KZ-75", "region:KZ-71"],
    )
}

pub fn money(region: &str, value: i64) -> pb::Donation {
    pb::Donation {
        kind: pb::DonationKind::Money as i32,
        region_code: region.into(),
        donor_display_name: "ТОО «Канцтовары Плюс»".into(),
        pledged_value_tiyn: value,
        ..Default::default()
    }
}

pub async fn pledge(
    api: &DonationsApi,
    caller: &Caller,
    now: Timestamp,
    body: pb::Donation,
) -> Result<pb::Donation, Status> {
    api.create_donation(request(
        caller,
        now,
        pb::CreateDonationRequest {
            parent: CAMPAIGN.into(),
            donation: Some(body),
            request_id: String::new(),
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

fn receipt(name: &str, value: i64, request_id: &str) -> pb::ReceiveDonationRequest {
    pb::ReceiveDonationRequest {
        name: name.into(),
        received_value_tiyn: value,
        receive_date: date(2023, 8, 12),
        etag: String::new(),
        request_id: request_id.into(),
    }
}

async fn receive(
    api: &DonationsApi,
    caller: &Caller,
    body: pb::ReceiveDonationRequest,
) -> Result<pb::Donation, Status> {
    api.receive_donation(request(caller, in_campaign(), body))
        .await
        .map(tonic::Response::into_inner)
}

/// A donation of `value` tiyn to `region` pledged by `donor` and received in full.
pub async fn received(
    api: &DonationsApi,
    donor_subject: &str,
    region: &str,
    value: i64,
) -> pb::Donation {
    let pledged = pledge(
        api,
        &donor(donor_subject),
        at("2023-08-05T10:00:00+06:00"),
        money(region, value),
    )
    .await
    .expect("pledge");
    receive(
        api,
        &regional(region),
        receipt(&pledged.name, value, &format!("receive-{}", pledged.name)),
    )
    .await
    .expect("receipt")
}

fn allocation_request(
    donation: &str,
    need: &str,
    value: i64,
    request_id: &str,
) -> pb::AllocateDonationRequest {
    pb::AllocateDonationRequest {
        parent: donation.into(),
        allocation: Some(pb::Allocation {
            need: need.into(),
            value_tiyn: value,
            note: "2 рюкзака из партии".into(),
            ..Default::default()
        }),
        request_id: request_id.into(),
    }
}

pub async fn allocate(
    api: &DonationsApi,
    caller: &Caller,
    donation: &str,
    need: &str,
    value: i64,
) -> Result<pb::Allocation, Status> {
    api.allocate_donation(request(
        caller,
        in_campaign(),
        allocation_request(donation, need, value, &uuid::Uuid::new_v4().to_string()),
    ))
    .await
    .map(tonic::Response::into_inner)
}

async fn get_donation(
    api: &DonationsApi,
    caller: &Caller,
    name: &str,
) -> Result<pb::Donation, Status> {
    api.get_donation(request(
        caller,
        in_campaign(),
        pb::GetDonationRequest { name: name.into() },
    ))
    .await
    .map(tonic::Response::into_inner)
}

async fn allocations(
    api: &DonationsApi,
    caller: &Caller,
    parent: &str,
) -> Result<Vec<pb::Allocation>, Status> {
    api.list_allocations(request(
        caller,
        in_campaign(),
        pb::ListAllocationsRequest {
            parent: parent.into(),
            ..Default::default()
        },
    ))
    .await
    .map(|r| r.into_inner().allocations)
}

pub fn donation_help(
    need: &str,
    allocation: &str,
    value: i64,
    request_id: &str,
) -> pb::RecordHelpDeliveryRequest {
    pb::RecordHelpDeliveryRequest {
        parent: need.into(),
        help_delivery: Some(pb::HelpDelivery {
            source: pb::HelpSource::Donation as i32,
            allocation: allocation.into(),
            value_tiyn: value,
            delivery_date: date(2023, 8, 14),
            description: "рюкзак, пенал, 12 тетрадей".into(),
            ..Default::default()
        }),
        request_id: request_id.into(),
    }
}

#[tokio::test]
async fn a_donor_pledges_for_itself_and_staff_record_donations_of_their_region() {
    let fx = setup().await;
    let api = api(&fx);
    let now = in_campaign();
    let own = pledge(&api, &donor("donor-1"), now, money("KZ-75", 50_000_000))
        .await
        .expect("a donor pledges");
    assert_eq!(own.donor_subject, "donor-1");
    assert_eq!(own.state, pb::DonationState::Pledged as i32);
    assert_eq!(
        (
            own.received_value_tiyn,
            own.allocated_tiyn,
            own.available_tiyn
        ),
        (0, 0, 0)
    );
    let recorded = pledge(&api, &regional("KZ-75"), now, money("KZ-75", 10_000_000))
        .await
        .expect("staff record one");
    assert!(recorded.donor_subject.is_empty());
    assert_refused(
        pledge(&api, &regional("KZ-71"), now, money("KZ-75", 1)).await,
        Code::PermissionDenied,
        "SCOPE_REQUIRED",
    );
    for caller in [school_staff("school-1"), coordinator(), operator("KZ-75")] {
        assert_refused(
            pledge(&api, &caller, now, money("KZ-75", 1)).await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }
    let bad = pledge(
        &api,
        &donor("donor-1"),
        now,
        pb::Donation {
            kind: pb::DonationKind::Goods as i32,
            region_code: "KZ-ALA".into(),
            donor_display_name: " ".into(),
            pledged_value_tiyn: 100_000_000_001,
            ..Default::default()
        },
    )
    .await
    .expect_err("bad");
    assert_eq!(
        bad_fields(&bad),
        [
            "donation.region_code",
            "donation.donor_display_name",
            "donation.pledged_value_tiyn",
            "donation.goods_description"
        ]
    );
    let bad = pledge(
        &api,
        &donor("donor-1"),
        now,
        pb::Donation {
            kind: 0,
            ..money("KZ-75", 1)
        },
    )
    .await
    .expect_err("no kind");
    assert_eq!(bad_fields(&bad), ["donation.kind"]);
    let outside = pledge(&api, &donor("donor-1"), now, money("KZ-79", 1))
        .await
        .expect_err("Shymkent is not in the campaign");
    assert_eq!(reason(&outside), "REGION_NOT_IN_CAMPAIGN");
    assert_eq!(
        error_metadata(&outside, "region_code").as_deref(),
        Some("KZ-79")
    );
    assert_refused(
        pledge(
            &api,
            &donor("donor-1"),
            at("2023-10-01T00:00:00+06:00"),
            money("KZ-75", 1),
        )
        .await,
        Code::FailedPrecondition,
        "CAMPAIGN_ENDED",
    );
    assert_refused(
        api.create_donation(request(
            &donor("donor-1"),
            now,
            pb::CreateDonationRequest {
                parent: "campaigns/another".into(),
                donation: Some(money("KZ-75", 1)),
                request_id: String::new(),
            },
        ))
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let goods = pledge(
        &api,
        &donor("donor-2"),
        now,
        pb::Donation {
            kind: pb::DonationKind::Goods as i32,
            goods_description: "50 рюкзаков".into(),
            ..money("KZ-71", 25_000_000)
        },
    )
    .await
    .expect("goods");

    // Who reads which.
    assert_eq!(
        get_donation(&api, &donor("donor-1"), &own.name)
            .await
            .expect("own"),
        own
    );
    get_donation(&api, &regional("KZ-75"), &own.name)
        .await
        .expect("the region's staff");
    for caller in [donor("donor-2"), regional("KZ-71")] {
        assert_refused(
            get_donation(&api, &caller, &own.name).await,
            Code::NotFound,
            "NOT_FOUND",
        );
    }
    assert_refused(
        get_donation(&api, &school_staff("school-1"), &own.name).await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    let list = |caller: Caller| {
        let api = api.clone();
        async move {
            api.list_donations(request(
                &caller,
                in_campaign(),
                pb::ListDonationsRequest {
                    parent: CAMPAIGN.into(),
                    ..Default::default()
                },
            ))
            .await
            .expect("list")
            .into_inner()
            .donations
            .into_iter()
            .map(|d| d.name)
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(donor("donor-1")).await, [own.name.as_str()]);
    assert_eq!(
        list(regional("KZ-75")).await,
        [recorded.name.as_str(), own.name.as_str()]
    );
    assert_eq!(list(regional("KZ-71")).await, [goods.name.as_str()]);
}

#[tokio::test]
async fn a_pledge_is_received_once_with_its_event_or_cancelled() {
    let fx = setup().await;
    let api = api(&fx);
    let pledged = pledge(
        &api,
        &donor("donor-1"),
        at("2023-08-05T10:00:00+06:00"),
        money("KZ-75", 50_000_000),
    )
    .await
    .expect("pledge");
    assert_refused(
        receive(&api, &donor("donor-1"), receipt(&pledged.name, 1, "r-1")).await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_refused(
        receive(&api, &regional("KZ-71"), receipt(&pledged.name, 1, "r-1")).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let bad = receive(&api, &regional("KZ-75"), receipt(&pledged.name, 0, ""))
        .await
        .expect_err("bad");
    assert_eq!(bad_fields(&bad), ["received_value_tiyn", "request_id"]);
    for (day, request_id) in [((2023, 8, 4), "r-early"), ((2023, 8, 16), "r-late")] {
        let mut body = receipt(&pledged.name, 45_000_000, request_id);
        body.receive_date = date(day.0, day.1, day.2);
        let out = receive(&api, &regional("KZ-75"), body)
            .await
            .expect_err("out of range");
        assert_eq!(reason(&out), "DATE_OUT_OF_RANGE");
        assert_eq!(bad_fields(&out), ["receive_date"]);
        assert_eq!(
            error_metadata(&out, "earliest").as_deref(),
            Some("2023-08-05")
        );
        assert_eq!(
            error_metadata(&out, "latest").as_deref(),
            Some("2023-08-15")
        );
    }
    let mut stale = receipt(&pledged.name, 45_000_000, "r-stale");
    stale.etag = "\"99\"".into();
    assert_refused(
        receive(&api, &regional("KZ-75"), stale).await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    let got = receive(
        &api,
        &regional("KZ-75"),
        receipt(&pledged.name, 45_000_000, "r-1"),
    )
    .await
    .expect("received, less than pledged");
    assert_eq!(got.state, pb::DonationState::Received as i32);
    assert_eq!(
        (got.received_value_tiyn, got.available_tiyn),
        (45_000_000, 45_000_000)
    );
    assert_eq!(got.receive_date, date(2023, 8, 12));
    assert!(got.receive_time.is_some());
    assert_eq!(
        receive(
            &api,
            &regional("KZ-75"),
            receipt(&pledged.name, 45_000_000, "r-1")
        )
        .await
        .expect("a retry"),
        got
    );
    let again = receive(
        &api,
        &regional("KZ-75"),
        receipt(&pledged.name, 45_000_000, "r-2"),
    )
    .await
    .expect_err("twice");
    assert_eq!(reason(&again), "TRANSITION_NOT_ALLOWED");
    assert_eq!(error_metadata(&again, "state").as_deref(), Some("RECEIVED"));
    assert_eq!(
        fx.count("SELECT count(*) FROM event_outbox WHERE event_type = 'DONATION_RECEIVED'")
            .await,
        1
    );

    let cancel = |caller: Caller, name: String, why: &str| {
        let api = api.clone();
        let why = why.to_string();
        async move {
            api.cancel_donation(request(
                &caller,
                in_campaign(),
                pb::CancelDonationRequest {
                    name,
                    reason: why,
                    etag: String::new(),
                },
            ))
            .await
            .map(tonic::Response::into_inner)
        }
    };
    let refused = cancel(donor("donor-1"), got.name.clone(), "передумал")
        .await
        .expect_err("received");
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
    assert_eq!(
        error_metadata(&refused, "state").as_deref(),
        Some("RECEIVED")
    );
    let other = pledge(
        &api,
        &donor("donor-1"),
        in_campaign(),
        money("KZ-75", 1_000_000),
    )
    .await
    .expect("pledge");
    assert_refused(
        cancel(donor("donor-1"), other.name.clone(), "").await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    assert_refused(
        cancel(donor("donor-2"), other.name.clone(), "нет").await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let cancelled = cancel(donor("donor-1"), other.name.clone(), "не поступит")
        .await
        .expect("cancelled");
    assert_eq!(cancelled.state, pb::DonationState::Cancelled as i32);
    assert_eq!(cancelled.cancel_reason, "не поступит");
    assert_eq!(
        cancel(regional("KZ-75"), other.name.clone(), "ещё раз")
            .await
            .expect("unchanged"),
        cancelled
    );
    assert_refused(
        receive(
            &api,
            &regional("KZ-75"),
            receipt(&other.name, 1_000_000, "r-3"),
        )
        .await,
        Code::FailedPrecondition,
        "TRANSITION_NOT_ALLOWED",
    );
    // A receipt is accepted after the campaign's end.
    let late = pledge(
        &api,
        &donor("donor-1"),
        in_campaign(),
        money("KZ-75", 1_000_000),
    )
    .await
    .expect("pledge");
    let mut body = receipt(&late.name, 1_000_000, "r-4");
    body.receive_date = date(2023, 10, 2);
    api.receive_donation(request(
        &regional("KZ-75"),
        at("2023-10-03T10:00:00+06:00"),
        body,
    ))
    .await
    .expect("after the end");
}

#[tokio::test]
async fn an_allocation_is_checked_in_the_contracts_order() {
    let fx = setup().await;
    let api = api(&fx);
    let needs = needs_api(&fx);
    let almaty = listed_child(&fx, "school-1", "KZ-75", "Ахметова", 2).await;
    let astana = listed_child(&fx, "school-3", "KZ-71", "Бекова", 2).await;
    let uniform = create_need(
        &needs,
        &school_staff("school-1"),
        &almaty,
        pb::NeedItem::Uniform,
        1_000_000,
    )
    .await
    .expect("need");
    let shoes = create_need(
        &needs,
        &school_staff("school-1"),
        &almaty,
        pb::NeedItem::Shoes,
        500_000,
    )
    .await
    .expect("need");
    let far = create_need(
        &needs,
        &regional("KZ-71"),
        &astana,
        pb::NeedItem::Uniform,
        1_000_000,
    )
    .await
    .expect("need");
    let staff = regional("KZ-75");
    let pledged = pledge(
        &api,
        &donor("donor-1"),
        at("2023-08-05T10:00:00+06:00"),
        money("KZ-75", 1_200_000),
    )
    .await
    .expect("pledge");

    let bad = api
        .allocate_donation(request(
            &staff,
            in_campaign(),
            pb::AllocateDonationRequest {
                parent: pledged.name.clone(),
                allocation: Some(pb::Allocation::default()),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("nothing");
    assert_eq!(
        bad_fields(&bad),
        ["allocation.need", "allocation.value_tiyn", "request_id"]
    );
    assert_refused(
        allocate(&api, &donor("donor-1"), &pledged.name, &uniform.name, 100).await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_refused(
        allocate(
            &api,
            &school_staff("school-1"),
            &pledged.name,
            &uniform.name,
            100,
        )
        .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_refused(
        allocate(&api, &regional("KZ-71"), &pledged.name, &uniform.name, 100).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    // The need of another region is not found by staff who do not see it.
    assert_refused(
        allocate(&api, &staff, &pledged.name, &far.name, 100).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let not_received = allocate(&api, &staff, &pledged.name, &uniform.name, 100)
        .await
        .expect_err("pledged only");
    assert_eq!(reason(&not_received), "DONATION_NOT_RECEIVED");
    assert_eq!(
        error_metadata(&not_received, "state").as_deref(),
        Some("PLEDGED")
    );
    let donation = receive(&api, &staff, receipt(&pledged.name, 1_200_000, "r-1"))
        .await
        .expect("received");
    let mismatch = allocate(&api, &two_regions(), &donation.name, &far.name, 100)
        .await
        .expect_err("Astana's child");
    assert_eq!(reason(&mismatch), "REGION_MISMATCH");
    assert_eq!(
        error_metadata(&mismatch, "donation_region").as_deref(),
        Some("KZ-75")
    );
    assert_eq!(
        error_metadata(&mismatch, "need_region").as_deref(),
        Some("KZ-71")
    );
    let insufficient = allocate(&api, &staff, &donation.name, &uniform.name, 1_200_001)
        .await
        .expect_err("more than received");
    assert_eq!(reason(&insufficient), "DONATION_INSUFFICIENT");
    assert_eq!(
        error_metadata(&insufficient, "available_tiyn").as_deref(),
        Some("1200000")
    );
    let over = allocate(&api, &staff, &donation.name, &shoes.name, 600_000)
        .await
        .expect_err("past the shoes' estimate");
    assert_eq!(reason(&over), "NEED_OVER_COVERED");
    assert_eq!(
        error_metadata(&over, "limit_tiyn").as_deref(),
        Some("500000")
    );
    assert_eq!(
        error_metadata(&over, "committed_tiyn").as_deref(),
        Some("0")
    );
    assert_refused(
        allocate(&api, &staff, &donation.name, &shoes.name, i64::MAX).await,
        Code::FailedPrecondition,
        "DONATION_INSUFFICIENT",
    );

    let first = allocate(&api, &staff, &donation.name, &uniform.name, 700_000)
        .await
        .expect("allocated");
    assert_eq!(first.state, pb::AllocationState::Open as i32);
    assert_eq!(first.need, uniform.name);
    assert_eq!(first.child, almaty.name);
    assert_eq!(first.beneficiary_number, 1);
    let second = allocate(&api, &staff, &donation.name, &shoes.name, 500_000)
        .await
        .expect("the same child's shoes");
    assert_eq!(
        second.beneficiary_number, 1,
        "the same child keeps its number"
    );
    let after = get_donation(&api, &staff, &donation.name)
        .await
        .expect("donation");
    assert_eq!(
        (
            after.allocated_tiyn,
            after.available_tiyn,
            after.beneficiaries
        ),
        (1_200_000, 0, 1)
    );
    assert_refused(
        allocate(&api, &staff, &donation.name, &uniform.name, 1).await,
        Code::FailedPrecondition,
        "DONATION_INSUFFICIENT",
    );
    // A second child gets the next number.
    let other = listed_child(&fx, "school-2", "KZ-75", "Серикова", 4).await;
    let backpack = create_need(&needs, &staff, &other, pb::NeedItem::Backpack, 300_000)
        .await
        .expect("need");
    let more = received(&api, "donor-1", "KZ-75", 2_000_000).await;
    allocate(&api, &staff, &more.name, &uniform.name, 100_000)
        .await
        .expect("uniform");
    let numbered = allocate(&api, &staff, &more.name, &backpack.name, 300_000)
        .await
        .expect("backpack");
    assert_eq!(numbered.beneficiary_number, 2);
    // Removed children receive nothing.
    let removed = listed_child(&fx, "school-2", "KZ-75", "Досова", 4).await;
    let their = create_need(&needs, &staff, &removed, pb::NeedItem::Cash, 300_000)
        .await
        .expect("need");
    remove_child(&fx, &removed).await;
    assert_refused(
        allocate(&api, &staff, &more.name, &their.name, 100).await,
        Code::FailedPrecondition,
        "CHILD_REMOVED",
    );
    // A retry allocates once.
    let body = allocation_request(&more.name, &uniform.name, 1, "same");
    let once = api
        .allocate_donation(request(&staff, in_campaign(), body.clone()))
        .await
        .expect("allocated")
        .into_inner();
    let twice = api
        .allocate_donation(request(&staff, in_campaign(), body))
        .await
        .expect("the retry")
        .into_inner();
    assert_eq!(once, twice);
    assert_eq!(
        fx.count("SELECT count(*) FROM aid.allocations WHERE value_tiyn = 1")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_concurrent_allocations_of_a_donation_covering_five_make_exactly_five() {
    let fx = setup().await;
    let api = api(&fx);
    let needs = needs_api(&fx);
    let staff = regional("KZ-75");
    // 30 needs of 10 000 ₸: six children, five items each.
    let mut targets = Vec::new();
    for i in 0..6 {
        let child = listed_child(&fx, "school-1", "KZ-75", &format!("Ребёнок{i}"), 2).await;
        for item in [
            pb::NeedItem::Uniform,
            pb::NeedItem::Shoes,
            pb::NeedItem::Backpack,
            pb::NeedItem::Stationery,
            pb::NeedItem::Textbooks,
        ] {
            targets.push(
                create_need(&needs, &staff, &child, item, 1_000_000)
                    .await
                    .expect("need")
                    .name,
            );
        }
    }
    let donation = received(&api, "donor-1", "KZ-75", 5_000_000).await;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, need) in targets.iter().enumerate() {
        let (api, staff, name, need) = (
            api.clone(),
            staff.clone(),
            donation.name.clone(),
            need.clone(),
        );
        tasks.spawn(async move {
            api.allocate_donation(request(
                &staff,
                in_campaign(),
                allocation_request(&name, &need, 1_000_000, &format!("race-{i}")),
            ))
            .await
        });
    }
    // Meanwhile a reader never sees the donation allocated beyond its value.
    let pool = fx.db.pool().clone();
    let watcher = tokio::spawn(async move {
        let mut worst = 0i64;
        for _ in 0..50 {
            let (allocated, received): (i64, i64) =
                sqlx::query_as("SELECT allocated_tiyn, received_tiyn FROM aid.donations")
                    .fetch_one(&pool)
                    .await
                    .expect("read");
            worst = worst.max(allocated - received);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        worst
    });
    let (mut made, mut refused) = (0, 0);
    while let Some(result) = tasks.join_next().await {
        match result.expect("task") {
            Ok(_) => made += 1,
            Err(status) => {
                assert_eq!(reason(&status), "DONATION_INSUFFICIENT", "{status:?}");
                refused += 1;
            }
        }
    }
    assert_eq!((made, refused), (5, 25));
    assert!(
        watcher.await.expect("watcher") <= 0,
        "never allocated beyond its value"
    );
    let after = get_donation(&api, &staff, &donation.name)
        .await
        .expect("donation");
    assert_eq!((after.allocated_tiyn, after.available_tiyn), (5_000_000, 0));
    assert_eq!(after.beneficiaries as usize, {
        let list = allocations(&api, &staff, &donation.name)
            .await
            .expect("list");
        assert_eq!(list.len(), 5);
        let mut children: Vec<String> = list.into_iter().map(|a| a.child).collect();
        children.sort();
        children.dedup();
        children.len()
    });
    assert_eq!(
        fx.count("SELECT COALESCE(sum(value_tiyn), 0)::bigint FROM aid.allocations")
            .await,
        5_000_000
    );
    // The database refuses it too.
    let direct = sqlx::query("UPDATE aid.donations SET allocated_tiyn = received_tiyn + 1")
        .execute(fx.db.pool())
        .await;
    assert!(direct.is_err(), "a CHECK holds allocated ≤ received");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_concurrent_allocations_to_one_need_stop_at_its_limit() {
    let fx = setup().await;
    let api = api(&fx);
    let needs = needs_api(&fx);
    let staff = regional("KZ-75");
    let child = listed_child(&fx, "school-1", "KZ-75", "Ахметова", 2).await;
    let need = create_need(&needs, &staff, &child, pb::NeedItem::Cash, 500_000)
        .await
        .expect("need");
    let mut donations = Vec::new();
    for i in 0..3 {
        donations.push(
            received(&api, &format!("donor-{i}"), "KZ-75", 10_000_000)
                .await
                .name,
        );
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..30 {
        let (api, staff, donation, need) = (
            api.clone(),
            staff.clone(),
            donations[i % 3].clone(),
            need.name.clone(),
        );
        tasks.spawn(async move {
            api.allocate_donation(request(
                &staff,
                in_campaign(),
                allocation_request(&donation, &need, 100_000, &format!("race-{i}")),
            ))
            .await
        });
    }
    let mut made = 0;
    while let Some(result) = tasks.join_next().await {
        match result.expect("task") {
            Ok(_) => made += 1,
            Err(status) => assert_eq!(reason(&status), "NEED_OVER_COVERED", "{status:?}"),
        }
    }
    assert_eq!(made, 5);
    assert_eq!(
        fx.count("SELECT committed_tiyn FROM aid.needs").await,
        500_000,
        "committed exactly up to the limit"
    );
    assert_eq!(
        fx.count("SELECT sum(allocated_tiyn)::bigint FROM aid.donations")
            .await,
        500_000
    );
}

#[tokio::test]
async fn help_from_a_donation_draws_on_an_allocation_to_the_same_need() {
    let fx = setup().await;
    let api = api(&fx);
    let needs: NeedsApi = needs_api(&fx);
    let staff = regional("KZ-75");
    let school = school_staff("school-1");
    let child = listed_child(&fx, "school-1", "KZ-75", "Ахметова", 2).await;
    let uniform = create_need(&needs, &school, &child, pb::NeedItem::Uniform, 1_000_000)
        .await
        .expect("need");
    let shoes = create_need(&needs, &school, &child, pb::NeedItem::Shoes, 1_000_000)
        .await
        .expect("need");
    let donation = received(&api, "donor-1", "KZ-75", 3_000_000).await;
    let to_uniform = allocate(&api, &staff, &donation.name, &uniform.name, 800_000)
        .await
        .expect("allocated");
    let not_for = record_help(
        &needs,
        &school,
        in_campaign(),
        donation_help(&shoes.name, &to_uniform.name, 100, "h-0"),
    )
    .await
    .expect_err("another need's allocation");
    assert_eq!(not_for.code(), Code::InvalidArgument);
    assert_eq!(reason(&not_for), "ALLOCATION_NOT_FOR_NEED");
    assert_eq!(bad_fields(&not_for), ["help_delivery.allocation"]);
    let missing = format!("{}/allocations/{}", donation.name, uuid::Uuid::new_v4());
    assert_refused(
        record_help(
            &needs,
            &school,
            in_campaign(),
            donation_help(&uniform.name, &missing, 100, "h-1"),
        )
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let too_much = record_help(
        &needs,
        &school,
        in_campaign(),
        donation_help(&uniform.name, &to_uniform.name, 800_001, "h-2"),
    )
    .await
    .expect_err("more than allocated");
    assert_eq!(reason(&too_much), "ALLOCATION_INSUFFICIENT");
    assert_eq!(
        error_metadata(&too_much, "undelivered_tiyn").as_deref(),
        Some("800000")
    );
    assert_eq!(error_metadata(&too_much, "state").as_deref(), Some("OPEN"));

    let part = record_help(
        &needs,
        &school,
        in_campaign(),
        donation_help(&uniform.name, &to_uniform.name, 500_000, "h-3"),
    )
    .await
    .expect("delivered from the allocation");
    assert_eq!(part.source, pb::HelpSource::Donation as i32);
    assert_eq!(part.allocation, to_uniform.name);
    assert_eq!(part.donation, donation.name);
    let list = allocations(&api, &school, &donation.name)
        .await
        .expect("school staff read them");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].delivered_tiyn, 500_000);
    assert_eq!(list[0].last_delivery_date, date(2023, 8, 14));
    let need_now = needs
        .get_need(request(
            &school,
            in_campaign(),
            pb::GetNeedRequest {
                name: uniform.name.clone(),
            },
        ))
        .await
        .expect("need")
        .into_inner();
    assert_eq!(
        (need_now.committed_tiyn, need_now.delivered_tiyn),
        (800_000, 500_000)
    );
    // Budget help is limited by what the allocation already commits.
    let over = record_help(
        &needs,
        &school,
        in_campaign(),
        budget_help(&uniform.name, 200_001, "h-4"),
    )
    .await
    .expect_err("past the limit");
    assert_eq!(reason(&over), "NEED_OVER_COVERED");

    // Release returns the undelivered 3 000 ₸ to the donation and frees the need.
    let release = |caller: Caller, name: String, request_id: &str| {
        let api = api.clone();
        let request_id = request_id.to_string();
        async move {
            api.release_allocation(request(
                &caller,
                in_campaign(),
                pb::ReleaseAllocationRequest {
                    name,
                    reason: "остаток не нужен".into(),
                    etag: String::new(),
                    request_id,
                },
            ))
            .await
            .map(tonic::Response::into_inner)
        }
    };
    assert_refused(
        release(school.clone(), to_uniform.name.clone(), "x-1").await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_refused(
        release(donor("donor-1"), to_uniform.name.clone(), "x-1").await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_refused(
        release(staff.clone(), to_uniform.name.clone(), "").await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    let released = release(staff.clone(), to_uniform.name.clone(), "x-2")
        .await
        .expect("released");
    assert_eq!(released.state, pb::AllocationState::Released as i32);
    assert_eq!(
        (released.delivered_tiyn, released.released_tiyn),
        (500_000, 300_000)
    );
    assert_eq!(released.release_reason, "остаток не нужен");
    assert_eq!(
        release(staff.clone(), to_uniform.name.clone(), "x-3")
            .await
            .expect("unchanged"),
        released
    );
    let d = get_donation(&api, &staff, &donation.name)
        .await
        .expect("donation");
    assert_eq!(
        (d.allocated_tiyn, d.delivered_tiyn, d.available_tiyn),
        (500_000, 500_000, 2_500_000)
    );
    let gone = record_help(
        &needs,
        &school,
        in_campaign(),
        donation_help(&uniform.name, &to_uniform.name, 1, "h-5"),
    )
    .await
    .expect_err("released");
    assert_eq!(reason(&gone), "ALLOCATION_INSUFFICIENT");
    assert_eq!(error_metadata(&gone, "state").as_deref(), Some("RELEASED"));
    assert_eq!(
        error_metadata(&gone, "undelivered_tiyn").as_deref(),
        Some("0")
    );

    // Delivered in full: DELIVERED, and no longer releasable.
    let to_shoes = allocate(&api, &staff, &donation.name, &shoes.name, 400_000)
        .await
        .expect("shoes");
    record_help(
        &needs,
        &staff,
        in_campaign(),
        donation_help(&shoes.name, &to_shoes.name, 400_000, "h-6"),
    )
    .await
    .expect("all of it");
    let delivered = allocations(&api, &staff, &donation.name)
        .await
        .expect("list")
        .into_iter()
        .find(|a| a.name == to_shoes.name)
        .expect("shoes");
    assert_eq!(delivered.state, pb::AllocationState::Delivered as i32);
    let refused = release(staff.clone(), to_shoes.name.clone(), "x-4")
        .await
        .expect_err("delivered");
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
    assert_eq!(
        error_metadata(&refused, "state").as_deref(),
        Some("DELIVERED")
    );
    assert_eq!(
        fx.count("SELECT count(*) FROM event_outbox WHERE event_type = 'HELP_DELIVERED'")
            .await,
        2
    );
}

#[tokio::test]
async fn removing_a_child_releases_its_undelivered_allocations() {
    let fx = setup().await;
    let api = api(&fx);
    let needs = needs_api(&fx);
    let staff = regional("KZ-75");
    let child = listed_child(&fx, "school-1", "KZ-75", "Ахметова", 2).await;
    let uniform = create_need(&needs, &staff, &child, pb::NeedItem::Uniform, 1_000_000)
        .await
        .expect("need");
    let shoes = create_need(&needs, &staff, &child, pb::NeedItem::Shoes, 1_000_000)
        .await
        .expect("need");
    let one = received(&api, "donor-1", "KZ-75", 2_000_000).await;
    let two = received(&api, "donor-2", "KZ-75", 2_000_000).await;
    let a = allocate(&api, &staff, &one.name, &uniform.name, 600_000)
        .await
        .expect("a");
    allocate(&api, &staff, &two.name, &shoes.name, 700_000)
        .await
        .expect("b");
    record_help(
        &needs,
        &staff,
        in_campaign(),
        donation_help(&uniform.name, &a.name, 200_000, "h-1"),
    )
    .await
    .expect("help");

    let mut tx = fx.db.pool().begin().await.expect("tx");
    sqlx::query("SELECT id FROM aid.children WHERE id = $1 FOR UPDATE")
        .bind(&child.id)
        .execute(&mut *tx)
        .await
        .expect("lock child");
    let context = CallContext::new(Some(staff.clone()), "remove", None, in_campaign());
    edu_aid::store::donations::release_for_child(&mut tx, &context, &child.id)
        .await
        .expect("released");
    tx.commit().await.expect("commit");

    let list = allocations(&api, &staff, &format!("{CAMPAIGN}/donations/-"))
        .await
        .expect("list");
    assert!(
        list.iter()
            .all(|a| a.state == pb::AllocationState::Released as i32)
    );
    let one = get_donation(&api, &staff, &one.name).await.expect("one");
    assert_eq!(
        (one.allocated_tiyn, one.delivered_tiyn),
        (200_000, 200_000),
        "what was delivered stays"
    );
    let two = get_donation(&api, &staff, &two.name).await.expect("two");
    assert_eq!((two.allocated_tiyn, two.available_tiyn), (0, 2_000_000));
    assert_eq!(
        fx.count("SELECT sum(committed_tiyn)::bigint FROM aid.needs")
            .await,
        200_000
    );
}

/// Removes `child` as the children's store will: its row locked and marked removed, its
/// open allocations released, in one transaction.
async fn remove_with_release(pool: sqlx::PgPool, child: String, staff: Caller) {
    let mut tx = pool.begin().await.expect("tx");
    sqlx::query("SELECT id FROM aid.children WHERE id = $1 FOR UPDATE")
        .bind(&child)
        .execute(&mut *tx)
        .await
        .expect("lock child");
    sqlx::query("UPDATE aid.children SET state = 'REMOVED' WHERE id = $1")
        .bind(&child)
        .execute(&mut *tx)
        .await
        .expect("removed");
    let context = CallContext::new(Some(staff), "remove", None, in_campaign());
    edu_aid::store::donations::release_for_child(&mut tx, &context, &child)
        .await
        .expect("released");
    tx.commit().await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_child_removed_amid_allocations_keeps_no_open_allocation() {
    let fx = setup().await;
    let api = api(&fx);
    let needs = needs_api(&fx);
    let staff = regional("KZ-75");
    let child = listed_child(&fx, "school-1", "KZ-75", "Ахметова", 2).await;
    let mut targets = Vec::new();
    for item in [
        pb::NeedItem::Uniform,
        pb::NeedItem::Shoes,
        pb::NeedItem::Backpack,
    ] {
        targets.push(
            create_need(&needs, &staff, &child, item, 5_000_000)
                .await
                .expect("need")
                .name,
        );
    }
    let mut gifts = Vec::new();
    for i in 0..3 {
        gifts.push(
            received(&api, &format!("donor-{i}"), "KZ-75", 50_000_000)
                .await
                .name,
        );
    }
    // Six allocations are open when the removal starts; eighteen race it, each to one of
    // three donations (the removal locks those it finds, then the needs, and starts again
    // when a donation it did not lock got an allocation meanwhile).
    let allocation = |i: usize| {
        let (api, caller) = (api.clone(), staff.clone());
        let (gift, need) = (gifts[i % 3].clone(), targets[(i / 3) % 3].clone());
        async move {
            api.allocate_donation(request(
                &caller,
                in_campaign(),
                allocation_request(&gift, &need, 100_000, &format!("amid-{i}")),
            ))
            .await
            .map(|_| ())
        }
    };
    for i in 0..6 {
        allocation(i).await.expect("before the removal");
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 6..24 {
        tasks.spawn(allocation(i));
        if i == 9 {
            let (pool, id, staff) = (fx.db.pool().clone(), child.id.clone(), staff.clone());
            tasks.spawn(async move {
                remove_with_release(pool, id, staff).await;
                Ok(())
            });
        }
    }
    let mut refused = 0;
    while let Some(result) = tasks.join_next().await {
        if let Err(status) = result.expect("task") {
            assert_eq!(reason(&status), "CHILD_REMOVED", "{status:?}");
            refused += 1;
        }
    }
    let made = fx.count("SELECT count(*) FROM aid.allocations").await;
    assert_eq!(
        made + refused,
        24,
        "each made before the removal or refused after it"
    );
    assert_eq!(
        fx.count("SELECT count(*) FROM aid.allocations WHERE state = 'OPEN'")
            .await,
        0,
        "every allocation made before the removal was released with it"
    );
    assert_eq!(
        fx.count(
            "SELECT count(*) FROM aid.needs n
             WHERE committed_tiyn <> (SELECT COALESCE(sum(value_tiyn - released_tiyn), 0)
                                      FROM aid.allocations a WHERE a.need_id = n.id)"
        )
        .await,
        0
    );
    assert_eq!(
        fx.count(
            "SELECT count(*) FROM aid.donations d
             WHERE allocated_tiyn <> (SELECT COALESCE(sum(value_tiyn - released_tiyn), 0)
                                      FROM aid.allocations a WHERE a.donation_id = d.id)"
        )
        .await,
        0
    );
}

/// Every text a donor receives must hold none of these.
#[track_caller]
fn assert_names_no_child(answer: &impl std::fmt::Debug, child: &ListedChild) {
    let text = format!("{answer:?}");
    for secret in [
        &child.family,
        &child.given,
        &child.iin,
        &child.id,
        &"school-".to_string(),
    ] {
        assert!(
            !text.contains(secret.as_str()),
            "{secret} in a donor's answer: {text}"
        );
    }
}

#[tokio::test]
async fn a_donor_never_sees_a_childs_name_or_iin_and_reads_what_its_gifts_became() {
    let fx = setup().await;
    let api = api(&fx);
    let needs = needs_api(&fx);
    let staff = regional("KZ-75");
    let a = listed_child(&fx, "school-1", "KZ-75", "Ахметова", 2).await;
    let b = listed_child(&fx, "school-2", "KZ-75", "Бекова", 3).await;
    let c = listed_child(&fx, "school-3", "KZ-71", "Сейтова", 1).await;
    let a_uniform = create_need(&needs, &staff, &a, pb::NeedItem::Uniform, 1_000_000)
        .await
        .expect("need");
    let a_shoes = create_need(&needs, &staff, &a, pb::NeedItem::Shoes, 500_000)
        .await
        .expect("need");
    let b_uniform = create_need(&needs, &staff, &b, pb::NeedItem::Uniform, 1_000_000)
        .await
        .expect("need");
    let c_cash = create_need(
        &needs,
        &regional("KZ-71"),
        &c,
        pb::NeedItem::Cash,
        2_000_000,
    )
    .await
    .expect("need");
    budget_help_for(&needs, &c_cash.name).await;

    let money_gift = received(&api, "donor-1", "KZ-75", 3_000_000).await;
    let goods = pledge(
        &api,
        &donor("donor-1"),
        at("2023-08-05T10:00:00+06:00"),
        pb::Donation {
            kind: pb::DonationKind::Goods as i32,
            goods_description: "20 рюкзаков".into(),
            ..money("KZ-71", 1_000_000)
        },
    )
    .await
    .expect("goods");
    let goods = receive(
        &api,
        &regional("KZ-71"),
        receipt(&goods.name, 1_000_000, "r-goods"),
    )
    .await
    .expect("goods received");
    let open_pledge = pledge(
        &api,
        &donor("donor-1"),
        in_campaign(),
        money("KZ-75", 400_000),
    )
    .await
    .expect("pledge");
    let someone_else = received(&api, "donor-2", "KZ-75", 1_000_000).await;
    let x1 = allocate(&api, &staff, &money_gift.name, &a_uniform.name, 1_000_000)
        .await
        .expect("a uniform");
    allocate(&api, &staff, &money_gift.name, &a_shoes.name, 500_000)
        .await
        .expect("a shoes");
    allocate(&api, &staff, &money_gift.name, &b_uniform.name, 600_000)
        .await
        .expect("b uniform");
    allocate(&api, &regional("KZ-71"), &goods.name, &c_cash.name, 300_000)
        .await
        .expect("c cash");
    allocate(&api, &staff, &someone_else.name, &b_uniform.name, 400_000)
        .await
        .expect("other donor");
    record_help(
        &needs,
        &staff,
        in_campaign(),
        donation_help(&a_uniform.name, &x1.name, 1_000_000, "h-1"),
    )
    .await
    .expect("delivered");

    let me = donor("donor-1");
    let mine = allocations(&api, &me, &money_gift.name)
        .await
        .expect("its donation's allocations");
    assert_eq!(mine.len(), 3);
    for allocation in &mine {
        assert!(allocation.need.is_empty() && allocation.child.is_empty());
        assert!(allocation.school.is_empty() && allocation.note.is_empty());
        assert!(allocation.beneficiary_number >= 1);
        assert_names_no_child(allocation, &a);
        assert_names_no_child(allocation, &b);
    }
    assert_eq!(
        mine.iter()
            .map(|x| x.beneficiary_number)
            .collect::<Vec<_>>(),
        [1, 1, 2]
    );
    let every = allocations(&api, &me, &format!("{CAMPAIGN}/donations/-"))
        .await
        .expect("every");
    assert_eq!(every.len(), 4, "its own donations' allocations only");
    for allocation in &every {
        for child in [&a, &b, &c] {
            assert_names_no_child(allocation, child);
        }
    }
    assert_refused(
        allocations(&api, &me, &someone_else.name).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    // Staff see the links a donor does not.
    let staff_view = allocations(&api, &staff, &money_gift.name)
        .await
        .expect("staff");
    assert!(
        staff_view
            .iter()
            .all(|x| !x.child.is_empty() && !x.need.is_empty())
    );
    let school_view = allocations(
        &api,
        &school_staff("school-2"),
        &format!("{CAMPAIGN}/donations/-"),
    )
    .await
    .expect("school 2");
    assert_eq!(
        school_view.len(),
        2,
        "the allocations to its child, from both donors"
    );
    assert_refused(
        allocations(&api, &school_staff("school-3"), &money_gift.name).await,
        Code::NotFound,
        "NOT_FOUND",
    );

    let donation = get_donation(&api, &me, &money_gift.name)
        .await
        .expect("donation");
    assert_eq!(donation.beneficiaries, 2);
    let summary = api
        .get_donor_summary(request(
            &me,
            in_campaign(),
            pb::GetDonorSummaryRequest {
                campaign: CAMPAIGN.into(),
            },
        ))
        .await
        .expect("summary")
        .into_inner();
    for child in [&a, &b, &c] {
        assert_names_no_child(&summary, child);
        assert_names_no_child(&donation, child);
    }
    assert_eq!(summary.donations, 3);
    assert_eq!(summary.pledged_open_tiyn, 400_000);
    assert_eq!(
        (summary.received_money_tiyn, summary.received_goods_tiyn),
        (3_000_000, 1_000_000)
    );
    assert_eq!(
        (summary.allocated_tiyn, summary.delivered_tiyn),
        (2_400_000, 1_000_000)
    );
    assert_eq!(summary.available_tiyn, 1_600_000);
    assert_eq!(summary.children_helped, 3);
    let regions: Vec<(String, i64, i64, i32)> = summary
        .regions
        .iter()
        .map(|r| {
            (
                r.region_code.clone(),
                r.received_tiyn,
                r.allocated_tiyn,
                r.children_helped,
            )
        })
        .collect();
    assert_eq!(
        regions,
        [
            ("KZ-71".to_string(), 1_000_000, 300_000, 1),
            ("KZ-75".to_string(), 3_000_000, 2_100_000, 2)
        ]
    );
    let items: Vec<(i32, i64, i64)> = summary
        .items
        .iter()
        .map(|i| (i.item, i.allocated_tiyn, i.delivered_tiyn))
        .collect();
    assert_eq!(
        items,
        [
            (pb::NeedItem::Uniform as i32, 1_600_000, 1_000_000),
            (pb::NeedItem::Shoes as i32, 500_000, 0),
            (pb::NeedItem::Cash as i32, 300_000, 0),
        ]
    );
    let figures = summary.campaign_figures.expect("figures");
    assert_eq!(figures.children_identified, 3);
    assert_eq!(
        figures.children_helped, 2,
        "a by the donation, c by the budget"
    );
    assert_eq!(
        (figures.raised_money_tiyn, figures.raised_goods_tiyn),
        (4_000_000, 1_000_000)
    );
    assert_eq!(
        (
            figures.delivered_from_donations_tiyn,
            figures.delivered_from_budget_tiyn
        ),
        (1_000_000, 100_000)
    );
    assert!(summary.read_time.is_some());
    for caller in [staff.clone(), coordinator(), school_staff("school-1")] {
        assert_refused(
            api.get_donor_summary(request(
                &caller,
                in_campaign(),
                pb::GetDonorSummaryRequest {
                    campaign: CAMPAIGN.into(),
                },
            ))
            .await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }
    assert_refused(
        api.get_donor_summary(request(
            &me,
            in_campaign(),
            pb::GetDonorSummaryRequest {
                campaign: "campaigns/another".into(),
            },
        ))
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    // Nothing a donor reads of the other donor's gift.
    let lonely = api
        .get_donor_summary(request(
            &donor("donor-3"),
            in_campaign(),
            pb::GetDonorSummaryRequest {
                campaign: CAMPAIGN.into(),
            },
        ))
        .await
        .expect("empty summary")
        .into_inner();
    assert_eq!((lonely.donations, lonely.children_helped), (0, 0));
    assert!(lonely.regions.is_empty() && lonely.items.is_empty());
    let _ = open_pledge;
}

async fn budget_help_for(needs: &NeedsApi, need: &str) {
    record_help(
        needs,
        &regional("KZ-71"),
        in_campaign(),
        budget_help(need, 100_000, "budget-1"),
    )
    .await
    .expect("budget help");
}
