//! Campaigns and schools: data, regions as current ISO codes, dates fixed once it starts.

use edu_kit::testing::{bad_fields, error_metadata, reason};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::campaign_service_server::CampaignService;
use edu_proto::edu::aid::v1::school_service_server::SchoolService;

use crate::common::*;

#[tokio::test]
async fn a_campaign_is_created_by_the_coordinator_with_current_region_codes() {
    let fx = Fixture::new().await;
    let mut body = campaign_body();
    body.region_codes = vec!["KZ-ALA".into(), "KZ-75".into(), "KZ-75".into()];
    let create = |caller, body| {
        fx.campaigns.create_campaign(request(
            &caller,
            at("2023-07-01T10:00:00+06:00"),
            pb::CreateCampaignRequest {
                campaign: Some(body),
                campaign_id: "doroga-v-shkolu-2023".into(),
                request_id: String::new(),
            },
        ))
    };
    let staff = create(regional("KZ-75"), campaign_body())
        .await
        .expect_err("regional staff do not create campaigns");
    assert_eq!(reason(&staff), "ROLE_REQUIRED");
    let old_codes = create(coordinator(), body)
        .await
        .expect_err("a withdrawn code");
    assert_eq!(
        bad_fields(&old_codes),
        ["campaign.region_codes[0]", "campaign.region_codes[2]"]
    );
    let created = create(coordinator(), campaign_body())
        .await
        .expect("created")
        .into_inner();
    assert_eq!(created.region_codes, ["KZ-19", "KZ-71", "KZ-75"]);
    assert_eq!(created.phase, pb::CampaignPhase::Upcoming as i32);
    assert_eq!(fx.count("SELECT count(*) FROM aid.headquarters").await, 3);
}

#[tokio::test]
async fn dates_are_fixed_once_the_campaign_starts() {
    let fx = Fixture::new().await;
    let created = fx.campaign().await;
    let update = |now: &str, field: &str, body: pb::Campaign| {
        fx.campaigns.update_campaign(request(
            &coordinator(),
            at(now),
            pb::UpdateCampaignRequest {
                campaign: Some(pb::Campaign {
                    name: CAMPAIGN.into(),
                    ..body
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec![field.into()],
                }),
            },
        ))
    };
    let mut body = campaign_body();
    body.start_date = date(2023, 8, 2);
    let started = update("2023-08-01T00:00:00+06:00", "start_date", body.clone())
        .await
        .expect_err("it started at midnight in Almaty");
    assert_eq!(reason(&started), "CAMPAIGN_STARTED");
    assert_eq!(
        error_metadata(&started, "field").as_deref(),
        Some("start_date")
    );
    update("2023-07-31T23:59:00+06:00", "start_date", body.clone())
        .await
        .expect("the minute before");
    body.region_codes.push("KZ-79".into());
    let grown = update("2023-08-10T10:00:00+06:00", "region_codes", body)
        .await
        .expect("a region joins while it runs")
        .into_inner();
    assert_eq!(grown.region_codes.len(), 4);
    assert_ne!(grown.etag, created.etag);
    assert_eq!(fx.count("SELECT count(*) FROM aid.headquarters").await, 4);
}

#[tokio::test]
async fn schools_are_seen_by_their_staff_their_region_and_the_coordinator() {
    let fx = Fixture::new().await;
    fx.school("almaty-12", "KZ-75").await;
    fx.school("astana-3", "KZ-71").await;
    let get = |caller| {
        fx.schools.get_school(request(
            &caller,
            in_campaign(),
            pb::GetSchoolRequest {
                name: "schools/almaty-12".into(),
            },
        ))
    };
    get(school_staff("almaty-12")).await.expect("its staff");
    get(regional("KZ-75")).await.expect("its region");
    let elsewhere = get(regional("KZ-71")).await.expect_err("another region");
    assert_eq!(elsewhere.code(), tonic::Code::NotFound);
    let other_school = get(school_staff("astana-3"))
        .await
        .expect_err("another school");
    assert_eq!(other_school.code(), tonic::Code::NotFound);
    let listed = fx
        .schools
        .list_schools(request(
            &regional("KZ-71"),
            in_campaign(),
            pb::ListSchoolsRequest::default(),
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.schools.len(), 1);
    let foreign = fx
        .schools
        .create_school(request(
            &regional("KZ-71"),
            in_campaign(),
            pb::CreateSchoolRequest {
                school: Some(pb::School {
                    display_name: "Школа".into(),
                    region_code: "KZ-75".into(),
                    locality: "Алматы".into(),
                    ..Default::default()
                }),
                school_id: String::new(),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("Astana's staff register in Astana");
    assert_eq!(reason(&foreign), "SCOPE_REQUIRED");
}
