//! Price observations and the weekly median trend (rule 6): who records and reads, every
//! refusal with its reason, and medians of odd and even counts rounded half up.

use edu_aid::api::PricesApi;
use edu_kit::auth::Caller;
use edu_kit::testing::{assert_refused, bad_fields, error_metadata, reason};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::price_service_server::PriceService;
use jiff::Timestamp;
use tonic::{Code, Status};

use crate::common::*;

fn observation(
    item: pb::PriceItem,
    region: &str,
    price: i64,
    day: (i32, i32),
) -> pb::PriceObservation {
    pb::PriceObservation {
        item: item as i32,
        region_code: region.into(),
        place_kind: pb::PlaceKind::Market as i32,
        place_name: "рынок «Алтын Орда»".into(),
        price_tiyn: price,
        observe_date: date(2023, day.0, day.1),
        note: "размер 134".into(),
        ..Default::default()
    }
}

async fn record(
    api: &PricesApi,
    caller: &Caller,
    now: Timestamp,
    body: pb::PriceObservation,
) -> Result<pb::PriceObservation, Status> {
    api.record_price_observation(request(
        caller,
        now,
        pb::RecordPriceObservationRequest {
            parent: CAMPAIGN.into(),
            price_observation: Some(body),
            request_id: String::new(),
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

async fn trend(
    api: &PricesApi,
    caller: &Caller,
    region: &str,
    item: pb::PriceItem,
) -> Result<pb::PriceTrend, Status> {
    api.get_price_trend(request(
        caller,
        at("2023-09-20T12:00:00+06:00"),
        pb::GetPriceTrendRequest {
            campaign: CAMPAIGN.into(),
            region_code: region.into(),
            item: item as i32,
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

/// item, region, week, observations, median, min, max, change.
type Row<'a> = (i32, &'a str, String, i32, i64, i64, i64, i64);

async fn setup() -> (Fixture, PricesApi) {
    let fx = Fixture::new().await;
    fx.campaign().await;
    let api = PricesApi::new(fx.store.clone());
    (fx, api)
}

#[tokio::test]
async fn the_trend_gives_weekly_medians_per_region_and_nationally() {
    let (_fx, api) = setup().await;
    let now = at("2023-09-20T12:00:00+06:00");
    let boys = pb::PriceItem::UniformBoys;
    // Week of Mon 31 July (the campaign starts on Tuesday 1 August): Almaty 1000 and 1001,
    // Astana 3000. Week of 7 August: Almaty 1200, 1300, 1500.
    for (region, price, day) in [
        ("KZ-75", 1000, (8, 1)),
        ("KZ-75", 1001, (8, 6)),
        ("KZ-71", 3000, (8, 2)),
        ("KZ-75", 1500, (8, 7)),
        ("KZ-75", 1200, (8, 13)),
        ("KZ-75", 1300, (8, 9)),
    ] {
        let caller = if region == "KZ-75" {
            operator("KZ-75")
        } else {
            regional("KZ-71")
        };
        record(&api, &caller, now, observation(boys, region, price, day))
            .await
            .expect("recorded");
    }
    record(
        &api,
        &operator("KZ-75"),
        now,
        observation(pb::PriceItem::Shoes, "KZ-75", 9000, (8, 1)),
    )
    .await
    .expect("shoes");

    let all = trend(&api, &donor("patron"), "", pb::PriceItem::Unspecified)
        .await
        .expect("every role reads the trend");
    let rows: Vec<Row> = all
        .points
        .iter()
        .map(|p| {
            let d = p.week_start_date.expect("week");
            (
                p.item,
                p.region_code.as_str(),
                format!("{}-{:02}-{:02}", d.year, d.month, d.day),
                p.observations,
                p.median_tiyn,
                p.min_tiyn,
                p.max_tiyn,
                p.change_from_first_week_tiyn,
            )
        })
        .collect();
    let b = boys as i32;
    let s = pb::PriceItem::Shoes as i32;
    assert_eq!(
        rows,
        vec![
            // National: 1000, 1001, 3000 → 1001; then 1200, 1300, 1500 → 1300.
            (b, "", "2023-07-31".into(), 3, 1001, 1000, 3000, 0),
            (b, "", "2023-08-07".into(), 3, 1300, 1200, 1500, 299),
            (b, "KZ-71", "2023-07-31".into(), 1, 3000, 3000, 3000, 0),
            // 1000 and 1001: the mean 1000.5 rounds half up.
            (b, "KZ-75", "2023-07-31".into(), 2, 1001, 1000, 1001, 0),
            (b, "KZ-75", "2023-08-07".into(), 3, 1300, 1200, 1500, 299),
            (s, "", "2023-07-31".into(), 1, 9000, 9000, 9000, 0),
            (s, "KZ-75", "2023-07-31".into(), 1, 9000, 9000, 9000, 0),
        ]
    );
    assert_eq!(all.campaign, CAMPAIGN);
    assert!(all.read_time.is_some());

    let almaty = trend(&api, &coordinator(), "KZ-75", boys)
        .await
        .expect("one series");
    assert_eq!(almaty.points.len(), 2, "no national row with a region");
    assert!(almaty.points.iter().all(|p| p.region_code == "KZ-75"));

    assert_refused(
        trend(&api, &coordinator(), "KZ-ALA", boys).await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    let missing = api
        .get_price_trend(request(
            &coordinator(),
            now,
            pb::GetPriceTrendRequest {
                campaign: "campaigns/none".into(),
                ..Default::default()
            },
        ))
        .await;
    assert_refused(missing, Code::NotFound, "NOT_FOUND");
}

#[tokio::test]
async fn observations_are_recorded_for_the_callers_region_within_the_campaign() {
    let (_fx, api) = setup().await;
    let now = at("2023-08-15T12:00:00+06:00");
    let boys = pb::PriceItem::UniformBoys;
    let ok = record(
        &api,
        &operator("KZ-75"),
        now,
        observation(boys, "KZ-75", 2_500_000, (8, 15)),
    )
    .await
    .expect("recorded");
    assert!(
        ok.name
            .starts_with("campaigns/doroga-v-shkolu-2023/priceObservations/")
    );
    assert_eq!(ok.price_tiyn, 2_500_000);

    for caller in [donor("patron"), school_staff("almaty-12"), coordinator()] {
        assert_refused(
            record(&api, &caller, now, observation(boys, "KZ-75", 100, (8, 15))).await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }
    assert_refused(
        record(
            &api,
            &operator("KZ-75"),
            now,
            observation(boys, "KZ-71", 100, (8, 15)),
        )
        .await,
        Code::PermissionDenied,
        "SCOPE_REQUIRED",
    );
    let outside = record(
        &api,
        &operator("KZ-79"),
        now,
        observation(boys, "KZ-79", 100, (8, 15)),
    )
    .await;
    assert_eq!(
        error_metadata(outside.as_ref().expect_err("refused"), "region_code").as_deref(),
        Some("KZ-79")
    );
    assert_refused(outside, Code::FailedPrecondition, "REGION_NOT_IN_CAMPAIGN");

    let mut bad = observation(pb::PriceItem::Unspecified, "KZ-75", 0, (8, 15));
    bad.place_name = String::new();
    bad.place_kind = 0;
    let refused = record(&api, &operator("KZ-75"), now, bad)
        .await
        .expect_err("invalid");
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    let mut fields = bad_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            "price_observation.item",
            "price_observation.place_kind",
            "price_observation.place_name",
            "price_observation.price_tiyn"
        ]
    );
    assert_refused(
        record(
            &api,
            &operator("KZ-75"),
            now,
            observation(boys, "KZ-75", 100_000_001, (8, 15)),
        )
        .await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );

    // Not before the first day, not after today.
    for day in [(7, 31), (8, 16)] {
        let refused = record(
            &api,
            &operator("KZ-75"),
            now,
            observation(boys, "KZ-75", 100, day),
        )
        .await
        .expect_err("out of range");
        assert_eq!(reason(&refused), "DATE_OUT_OF_RANGE");
        assert_eq!(bad_fields(&refused), ["price_observation.observe_date"]);
        assert_eq!(
            error_metadata(&refused, "earliest").as_deref(),
            Some("2023-08-01")
        );
        assert_eq!(
            error_metadata(&refused, "latest").as_deref(),
            Some("2023-08-15")
        );
    }
    let after_end = record(
        &api,
        &operator("KZ-75"),
        at("2023-10-01T00:00:00+06:00"),
        observation(boys, "KZ-75", 100, (9, 30)),
    )
    .await;
    assert_refused(after_end, Code::FailedPrecondition, "CAMPAIGN_ENDED");

    let mut with_activity = observation(boys, "KZ-75", 100, (8, 15));
    with_activity.activity =
        "campaigns/doroga-v-shkolu-2023/headquarters/kz-75/activities/none".into();
    assert_refused(
        record(&api, &operator("KZ-75"), now, with_activity).await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );

    let missing = api
        .record_price_observation(request(
            &operator("KZ-75"),
            now,
            pb::RecordPriceObservationRequest {
                parent: "campaigns/none".into(),
                price_observation: Some(observation(boys, "KZ-75", 100, (8, 15))),
                request_id: String::new(),
            },
        ))
        .await;
    assert_refused(missing, Code::NotFound, "NOT_FOUND");
}

#[tokio::test]
async fn observations_are_listed_by_date_with_pages_and_filters() {
    let (_fx, api) = setup().await;
    let now = at("2023-08-20T12:00:00+06:00");
    for (item, region, day) in [
        (pb::PriceItem::Shoes, "KZ-75", (8, 12)),
        (pb::PriceItem::Backpack, "KZ-75", (8, 3)),
        (pb::PriceItem::Shoes, "KZ-71", (8, 5)),
    ] {
        let caller = operator(region);
        record(&api, &caller, now, observation(item, region, 5000, day))
            .await
            .expect("recorded");
    }
    let list = |caller: Caller, region: &str, item: pb::PriceItem, token: String| {
        let api = api.clone();
        let region = region.to_string();
        async move {
            api.list_price_observations(request(
                &caller,
                now,
                pb::ListPriceObservationsRequest {
                    parent: CAMPAIGN.into(),
                    region_code: region,
                    item: item as i32,
                    page_size: 2,
                    page_token: token,
                },
            ))
            .await
            .map(tonic::Response::into_inner)
        }
    };
    let first = list(coordinator(), "", pb::PriceItem::Unspecified, String::new())
        .await
        .expect("coordinator reads");
    let days: Vec<i32> = first
        .price_observations
        .iter()
        .map(|o| o.observe_date.expect("date").day)
        .collect();
    assert_eq!(days, [3, 5]);
    let second = list(
        coordinator(),
        "",
        pb::PriceItem::Unspecified,
        first.next_page_token.clone(),
    )
    .await
    .expect("page two");
    assert_eq!(second.price_observations.len(), 1);
    assert!(second.next_page_token.is_empty());
    assert_refused(
        list(
            coordinator(),
            "KZ-75",
            pb::PriceItem::Unspecified,
            first.next_page_token,
        )
        .await,
        Code::InvalidArgument,
        "PAGE_TOKEN_INVALID",
    );
    // Operators of one region read every region's observations.
    let shoes = list(
        operator("KZ-71"),
        "KZ-75",
        pb::PriceItem::Shoes,
        String::new(),
    )
    .await
    .expect("filtered");
    assert_eq!(shoes.price_observations.len(), 1);
    assert_refused(
        list(
            donor("patron"),
            "",
            pb::PriceItem::Unspecified,
            String::new(),
        )
        .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
}
