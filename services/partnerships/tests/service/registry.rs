//! The school registry and the List: registration with its unique fields, changes by the
//! ministry only, innovations changed and deleted, the List leaving the directory, and
//! partner finding closest region first.

use edu_kit::testing::{bad_fields, error_metadata, reason};
use edu_proto::edu::partnerships::v1 as pb;
use edu_proto::edu::partnerships::v1::application_service_server::ApplicationService;
use edu_proto::edu::partnerships::v1::school_service_server::SchoolService;

use crate::common::*;

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

#[tokio::test]
async fn schools_are_registered_once_by_code_and_e_mail_and_changed_by_the_ministry() {
    let fx = Fixture::new().await;
    let first = fx.school("first", "BG-22").await;
    fx.school("second", "BG-16").await;
    let create = |body: pb::School, id: &str| {
        fx.schools.create_school(request(
            &ministry(),
            in_window(),
            pb::CreateSchoolRequest {
                school: Some(body),
                school_id: id.into(),
                request_id: String::new(),
            },
        ))
    };
    let same_code = create(
        pb::School {
            official_email: "other@edu.mon.bg".into(),
            ..first.clone()
        },
        "third",
    )
    .await
    .expect_err("the НЕИСПУО code is taken");
    assert_eq!(reason(&same_code), "ALREADY_EXISTS");
    assert_eq!(
        error_metadata(&same_code, "field").as_deref(),
        Some("neispuo_code")
    );
    let bad = create(
        pb::School {
            neispuo_code: "12".into(),
            region_code: "BG-99".into(),
            official_email: "not an address".into(),
            ..first.clone()
        },
        "fourth",
    )
    .await
    .expect_err("malformed");
    assert_eq!(
        bad_fields(&bad),
        [
            "school.neispuo_code",
            "school.region_code",
            "school.official_email"
        ]
    );

    let update = |caller, email: &str| {
        fx.schools.update_school(request(
            &caller,
            in_window(),
            pb::UpdateSchoolRequest {
                school: Some(pb::School {
                    name: "schools/second".into(),
                    official_email: email.into(),
                    ..Default::default()
                }),
                update_mask: mask(&["official_email"]),
            },
        ))
    };
    let by_school = update(school("second"), "new@edu.mon.bg")
        .await
        .expect_err("a school does not change the registry");
    assert_eq!(reason(&by_school), "ROLE_REQUIRED");
    let taken = update(ministry(), "FIRST@edu.mon.bg")
        .await
        .expect_err("another school's e-mail, whatever its case");
    assert_eq!(
        error_metadata(&taken, "field").as_deref(),
        Some("official_email")
    );
    let changed = update(ministry(), "second-new@edu.mon.bg")
        .await
        .expect("changed")
        .into_inner();
    assert_eq!(changed.official_email, "second-new@edu.mon.bg");
    assert_eq!(changed.region_code, "BG-16", "the region is fixed");
}

#[tokio::test]
async fn innovations_change_and_leave_the_directory_with_their_school() {
    let fx = Fixture::new().await;
    fx.year(300, 300).await;
    fx.innovative("lab", "BG-22").await;
    fx.innovative("garden", "BG-16").await;
    fx.school("visitor", "BG-16").await;
    fx.apply("lab").await;
    fx.apply("visitor").await;
    let search = |query: &str| {
        fx.schools.search_innovations(request(
            &school("visitor"),
            in_window(),
            pb::SearchInnovationsRequest {
                query: query.into(),
                ..Default::default()
            },
        ))
    };
    let renamed = fx
        .schools
        .update_innovation(request(
            &ministry(),
            in_window(),
            pb::UpdateInnovationRequest {
                innovation: Some(pb::Innovation {
                    name: "schools/garden/innovations/innovation".into(),
                    title: "Роботика в началния етап".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["title"]),
            },
        ))
        .await
        .expect("renamed")
        .into_inner();
    assert_eq!(renamed.title, "Роботика в началния етап");
    let found = search("роботиката").await.expect("search").into_inner();
    assert_eq!(found.innovations.len(), 1);

    let interest = fx.interest("visitor", "lab").await.expect("interest");
    let in_use = fx
        .schools
        .delete_innovation(request(
            &ministry(),
            in_window(),
            pb::DeleteInnovationRequest {
                name: "schools/lab/innovations/innovation".into(),
                etag: String::new(),
            },
        ))
        .await
        .expect_err("an interest names it");
    assert_eq!(reason(&in_use), "INNOVATION_IN_USE");
    assert_eq!(
        error_metadata(&in_use, "resource").as_deref(),
        Some(interest.name.as_str())
    );
    fx.schools
        .delete_innovation(request(
            &ministry(),
            in_window(),
            pb::DeleteInnovationRequest {
                name: "schools/garden/innovations/innovation".into(),
                etag: String::new(),
            },
        ))
        .await
        .expect("nothing names garden's");
    assert!(
        search("роботика")
            .await
            .expect("search")
            .into_inner()
            .innovations
            .is_empty()
    );

    // Off the List: lab's innovations leave the directory, the interest in them is withdrawn.
    fx.schools
        .remove_school_from_innovative_list(request(
            &ministry(),
            in_window(),
            pb::RemoveSchoolFromInnovativeListRequest {
                name: "schools/lab".into(),
                basis: "РМС за промяна (тест)".into(),
                etag: String::new(),
            },
        ))
        .await
        .expect("removed");
    assert!(
        search("")
            .await
            .expect("search")
            .into_inner()
            .innovations
            .is_empty()
    );
    let withdrawn = fx
        .applications
        .get_interest(request(
            &school("visitor"),
            in_window(),
            pb::GetInterestRequest {
                name: interest.name,
            },
        ))
        .await
        .expect("the visitor reads its interest")
        .into_inner();
    assert_eq!(withdrawn.state, pb::InterestState::Withdrawn as i32);
}

#[tokio::test]
async fn partners_are_found_closest_region_first() {
    let fx = Fixture::new().await;
    fx.year(300, 300).await;
    // Sofia asks; Pernik is next door, Plovdiv further, Varna across the country.
    for (id, region) in [
        ("sofia", "BG-22"),
        ("varna", "BG-03"),
        ("plovdiv", "BG-16"),
        ("pernik", "BG-14"),
    ] {
        fx.innovative(id, region).await;
        fx.apply(id).await;
    }
    fx.school("interested", "BG-28").await;
    fx.apply("interested").await;
    fx.interest("interested", "sofia").await.expect("interest");
    fx.innovative("other-module", "BG-22").await;
    fx.apply_at("other-module", &[2], in_window())
        .await
        .expect("module 2 only");

    let find = |kind: pb::CandidateKind| {
        fx.schools.find_partners(request(
            &school("sofia"),
            in_window(),
            pb::FindPartnersRequest {
                school: "schools/sofia".into(),
                year: YEAR.into(),
                kind: kind as i32,
                ..Default::default()
            },
        ))
    };
    let all = find(pb::CandidateKind::Unspecified)
        .await
        .expect("partners")
        .into_inner();
    let order: Vec<(&str, i32)> = all
        .candidates
        .iter()
        .map(|c| (c.school.as_str(), c.distance_km))
        .collect();
    assert_eq!(order.len(), 4, "{order:?}");
    assert_eq!(order[0].0, "schools/pernik");
    assert_eq!(
        order.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [
            "schools/pernik",
            "schools/plovdiv",
            "schools/interested",
            "schools/varna"
        ]
    );
    assert!(order.windows(2).all(|w| w[0].1 <= w[1].1));
    let interested = &all.candidates[2];
    assert_eq!(
        interested.innovations,
        ["schools/sofia/innovations/innovation"]
    );
    let only_interested = find(pb::CandidateKind::InterestedNonInnovative)
        .await
        .expect("interested only")
        .into_inner();
    assert_eq!(only_interested.candidates.len(), 1);
    let for_another = fx
        .schools
        .find_partners(request(
            &school("varna"),
            in_window(),
            pb::FindPartnersRequest {
                school: "schools/sofia".into(),
                year: YEAR.into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("varna asks for sofia");
    assert_eq!(reason(&for_another), "SCOPE_REQUIRED");
}
