//! Programme years: parameters fixed once the window opens, and the window's edges at
//! midnight in Sofia.

use edu_kit::testing::{error_metadata, reason};
use edu_proto::edu::partnerships::v1 as pb;
use edu_proto::edu::partnerships::v1::programme_year_service_server::ProgrammeYearService;
use tonic::Code;

use crate::common::*;

#[tokio::test]
async fn the_window_closes_at_midnight_in_sofia() {
    let fx = Fixture::new().await;
    fx.year(300, 300).await;
    for id in ["early", "last-minute", "late"] {
        fx.school(id, "BG-22").await;
    }
    let early = fx
        .apply_at("early", &[1], at("2023-08-31T23:59:00+03:00"))
        .await
        .expect_err("before the window");
    assert_eq!(reason(&early), "WINDOW_NOT_OPEN");
    // 21 October 23:59 Sofia time (UTC+3 in summer) is the last minute of the window.
    fx.apply_at("last-minute", &[1, 2], at("2023-10-21T23:59:00+03:00"))
        .await
        .expect("the last minute");
    let late = fx
        .apply_at("late", &[1], at("2023-10-22T00:00:00+03:00"))
        .await
        .expect_err("after the window");
    assert_eq!(reason(&late), "WINDOW_CLOSED");
    assert_eq!(
        error_metadata(&late, "closes_at").as_deref(),
        Some("2023-10-21T21:00:00Z")
    );
}

#[tokio::test]
async fn a_year_is_fixed_once_its_window_opens() {
    let fx = Fixture::new().await;
    fx.year(300, 300).await;
    let update = |field: &str, now: &str, body: pb::ProgrammeYear| {
        fx.years.update_programme_year(request(
            &ministry(),
            at(now),
            pb::UpdateProgrammeYearRequest {
                programme_year: Some(pb::ProgrammeYear {
                    name: YEAR.into(),
                    ..body
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec![field.to_string()],
                }),
            },
        ))
    };
    let mut body = year_body(300, 300);
    body.innovative_school_cap = 250;
    let before = update(
        "innovative_school_cap",
        "2023-08-31T23:59:00+03:00",
        body.clone(),
    )
    .await
    .expect("before the window")
    .into_inner();
    assert_eq!(before.innovative_school_cap, 250);
    assert_eq!(before.phase, pb::YearPhase::Upcoming as i32);
    body.innovative_school_cap = 200;
    let open = update(
        "innovative_school_cap",
        "2023-09-01T00:00:00+03:00",
        body.clone(),
    )
    .await
    .expect_err("the window opened");
    assert_eq!(reason(&open), "YEAR_OPEN");
    assert_eq!(
        error_metadata(&open, "field").as_deref(),
        Some("innovative_school_cap")
    );
    body.display_name = "Иновации в действие, 2023/2024".into();
    update("display_name", "2023-09-02T00:00:00+03:00", body)
        .await
        .expect("the name changes at any time");
}

#[tokio::test]
async fn years_are_created_by_the_ministry_with_valid_parameters() {
    let fx = Fixture::new().await;
    let create = |caller, id: &str, body| {
        fx.years.create_programme_year(request(
            &caller,
            at("2023-08-01T10:00:00+03:00"),
            pb::CreateProgrammeYearRequest {
                programme_year: Some(body),
                programme_year_id: id.into(),
                request_id: String::new(),
            },
        ))
    };
    let school = create(school("s"), "2023-2024", year_body(300, 300))
        .await
        .expect_err("schools do not create years");
    assert_eq!(reason(&school), "ROLE_REQUIRED");
    let bad_id = create(ministry(), "2023-2025", year_body(300, 300))
        .await
        .expect_err("not a school year");
    assert_eq!(bad_id.code(), Code::InvalidArgument);
    let mut body = year_body(0, 300);
    body.max_mobility_days = 15;
    let bad = create(ministry(), "2023-2024", body)
        .await
        .expect_err("caps and visit length out of range");
    assert_eq!(
        edu_kit::testing::bad_fields(&bad),
        [
            "programme_year.innovative_school_cap",
            "programme_year.max_mobility_days"
        ]
    );
    let created = create(ministry(), "2023-2024", year_body(300, 300))
        .await
        .expect("created")
        .into_inner();
    assert_eq!(created.name, YEAR);
    assert_eq!(created.modules.len(), 2);
    // The annex deadline ends at midnight after 15 December, Sofia winter time (UTC+2).
    assert_eq!(
        created.annex_deadline_time.map(|t| t.seconds),
        Some(at("2023-12-16T00:00:00+02:00").as_second())
    );
}
