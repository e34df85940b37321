//! Contracts, groups of four, caps and mobilities: the rules of pairing with their
//! reasons, the group that forms with the third signature, the cap under concurrent
//! signatures, and the annexes' deadline.

use edu_kit::testing::{error_metadata, reason};
use edu_proto::edu::partnerships::v1 as pb;
use edu_proto::edu::partnerships::v1::contract_service_server::ContractService;
use edu_proto::edu::partnerships::v1::group_service_server::GroupService;
use edu_proto::edu::partnerships::v1::progress_service_server::ProgressService;
use edu_proto::edu::partnerships::v1::school_service_server::SchoolService;
use edu_proto::google::r#type::Date;
use tonic::Code;

use crate::common::*;

/// Two innovative schools (BG-22, BG-16), each with an interested non-innovative school,
/// all applied for module 1.
pub(crate) async fn four_schools(fx: &Fixture) {
    fx.year(300, 300).await;
    fx.innovative("alpha", "BG-22").await;
    fx.innovative("beta", "BG-16").await;
    fx.school("alpha-partner", "BG-22").await;
    fx.school("beta-partner", "BG-16").await;
    for id in ["alpha", "beta", "alpha-partner", "beta-partner"] {
        fx.apply(id).await;
    }
    fx.interest("alpha-partner", "alpha")
        .await
        .expect("interest");
    fx.interest("beta-partner", "beta").await.expect("interest");
}

/// The three contracts of the group, signed; returns the group's name.
pub(crate) async fn form_group(fx: &Fixture) -> String {
    let pair = fx.propose("alpha", "beta", None).await.expect("pair");
    fx.sign("beta", &pair.name).await.expect("pair signed");
    let a = fx
        .propose("alpha", "alpha-partner", Some("alpha"))
        .await
        .expect("alpha's partner");
    let signed = fx.sign("alpha-partner", &a.name).await.expect("signed");
    assert!(
        signed.group.is_empty(),
        "two of three contracts make no group"
    );
    let b = fx
        .propose("beta-partner", "beta", Some("beta"))
        .await
        .expect("beta's partner proposes");
    let last = fx.sign("beta", &b.name).await.expect("last signature");
    assert!(
        !last.group.is_empty(),
        "the third signature forms the group"
    );
    last.group
}

#[tokio::test]
async fn the_third_signature_forms_a_group_of_four_and_no_fifth_school_joins() {
    let fx = Fixture::new().await;
    four_schools(&fx).await;
    let group_name = form_group(&fx).await;

    let group = fx
        .groups
        .get_group(request(
            &school("alpha-partner"),
            in_window(),
            pb::GetGroupRequest {
                name: group_name.clone(),
            },
        ))
        .await
        .expect("a member reads its group")
        .into_inner();
    assert_eq!(group.state, pb::GroupState::Formed as i32);
    assert_eq!(group.region_codes, ["BG-16", "BG-22"]);
    let schools: Vec<&str> = group
        .sides
        .iter()
        .flat_map(|s| {
            [
                s.innovative_school.as_str(),
                s.non_innovative_school.as_str(),
            ]
        })
        .collect();
    assert_eq!(
        schools,
        [
            "schools/alpha",
            "schools/alpha-partner",
            "schools/beta",
            "schools/beta-partner"
        ]
    );

    // A fifth school: a third innovative school cannot pair with either innovative one,
    // and a non-innovative school cannot join a side that has its partner.
    fx.innovative("gamma", "BG-03").await;
    fx.school("fifth", "BG-22").await;
    fx.apply("gamma").await;
    fx.apply("fifth").await;
    let second_partner = fx
        .propose("gamma", "alpha", None)
        .await
        .expect_err("alpha has an innovative partner");
    assert_eq!(reason(&second_partner), "ALREADY_HAS_INNOVATIVE_PARTNER");
    assert_eq!(
        error_metadata(&second_partner, "school").as_deref(),
        Some("schools/alpha")
    );
    let no_interest = fx
        .propose("gamma", "fifth", Some("gamma"))
        .await
        .expect_err("fifth declared no interest in gamma's innovation");
    assert_eq!(reason(&no_interest), "INTEREST_NOT_DECLARED");
    let full = fx
        .interest("fifth", "alpha")
        .await
        .expect_err("alpha already has its non-innovative partner");
    assert_eq!(reason(&full), "ALREADY_HAS_NON_INNOVATIVE_PARTNER");
    let taken = fx
        .propose("gamma", "beta-partner", Some("gamma"))
        .await
        .expect_err("beta-partner is in a contract");
    assert_eq!(reason(&taken), "INTEREST_NOT_DECLARED");
    let pair_of_others = fx
        .propose("fifth", "alpha-partner", None)
        .await
        .expect_err("two non-innovative schools");
    assert_eq!(reason(&pair_of_others), "NON_INNOVATIVE_PAIR");

    // Only the ministry approves; a school of the group sees it but may not.
    let by_school = fx
        .groups
        .approve_group(request(
            &school("alpha"),
            in_window(),
            pb::ApproveGroupRequest {
                name: group_name.clone(),
                etag: String::new(),
            },
        ))
        .await
        .expect_err("schools do not approve");
    assert_eq!(reason(&by_school), "ROLE_REQUIRED");
    let approved = fx
        .groups
        .approve_group(request(
            &ministry(),
            in_window(),
            pb::ApproveGroupRequest {
                name: group_name.clone(),
                etag: group.etag.clone(),
            },
        ))
        .await
        .expect("approved")
        .into_inner();
    assert_eq!(approved.state, pb::GroupState::Approved as i32);
}

pub(crate) async fn update_mobility(
    fx: &Fixture,
    host: &str,
    name: &str,
    start: (i32, i32, i32),
    end: (i32, i32, i32),
) -> Result<pb::Mobility, tonic::Status> {
    let d = |(year, month, day)| Some(Date { year, month, day });
    fx.groups
        .update_mobility(request(
            &school(host),
            in_window(),
            pb::UpdateMobilityRequest {
                mobility: Some(pb::Mobility {
                    name: name.into(),
                    start_date: d(start),
                    end_date: d(end),
                    programme: "Открити уроци, работа по проекти, обща изложба.".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["start_date".into(), "end_date".into(), "programme".into()],
                }),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn mobilities_last_at_most_four_days_and_annexes_close_at_midnight_in_sofia() {
    let fx = Fixture::new().await;
    four_schools(&fx).await;
    let group_name = form_group(&fx).await;
    let group = fx
        .groups
        .get_group(request(
            &ministry(),
            in_window(),
            pb::GetGroupRequest {
                name: group_name.clone(),
            },
        ))
        .await
        .expect("group")
        .into_inner();
    let alpha_visit = &group.sides[0].hosted_mobility;
    let beta_visit = &group.sides[1].hosted_mobility;

    let five = update_mobility(&fx, "alpha", alpha_visit, (2024, 3, 11), (2024, 3, 15))
        .await
        .expect_err("five days");
    assert_eq!(reason(&five), "MOBILITY_TOO_LONG");
    assert_eq!(error_metadata(&five, "max_days").as_deref(), Some("4"));
    let four = update_mobility(&fx, "alpha", alpha_visit, (2024, 3, 11), (2024, 3, 14))
        .await
        .expect("four days");
    assert_eq!(four.participant_schools.len(), 4);
    let not_host = update_mobility(&fx, "beta", alpha_visit, (2024, 3, 11), (2024, 3, 12))
        .await
        .expect_err("beta does not host alpha's visit");
    assert_eq!(reason(&not_host), "NOT_THE_HOST");
    let overlap = update_mobility(&fx, "beta", beta_visit, (2024, 3, 14), (2024, 3, 16))
        .await
        .expect_err("the same four schools are in Sofia on 14 March");
    assert_eq!(reason(&overlap), "MOBILITIES_OVERLAP");
    update_mobility(&fx, "beta", beta_visit, (2024, 4, 22), (2024, 4, 25))
        .await
        .expect("beta's visit");

    let file = |host: &str, name: &str, now: &str| {
        fx.groups.file_annex(request(
            &school(host),
            at(now),
            pb::FileAnnexRequest {
                name: name.to_string(),
                etag: String::new(),
                request_id: uuid::Uuid::new_v4().to_string(),
            },
        ))
    };
    // 15 December 23:59 Sofia time (UTC+2 in winter) is the last minute for annexes.
    let filed = file("alpha", alpha_visit, "2023-12-15T23:59:00+02:00")
        .await
        .expect("the last minute")
        .into_inner();
    assert_eq!(filed.state, pb::MobilityState::AnnexFiled as i32);
    let annex = filed.annex.expect("annex");
    assert_eq!(annex.schools.len(), 4);
    assert_eq!(annex.contracts.len(), 3);
    let late = file("beta", beta_visit, "2023-12-16T00:00:00+02:00")
        .await
        .expect_err("after the deadline");
    assert_eq!(reason(&late), "ANNEX_DEADLINE_PASSED");

    // Held only once the group is approved and the visit is over.
    let held = |now: &str| {
        fx.groups.mark_mobility_held(request(
            &school("alpha"),
            at(now),
            pb::MarkMobilityHeldRequest {
                name: alpha_visit.clone(),
                report: "Проведено.".into(),
                etag: String::new(),
            },
        ))
    };
    let unapproved = held("2024-03-20T10:00:00+02:00")
        .await
        .expect_err("not approved");
    assert_eq!(reason(&unapproved), "GROUP_NOT_APPROVED");
    fx.groups
        .approve_group(request(
            &ministry(),
            in_window(),
            pb::ApproveGroupRequest {
                name: group_name,
                etag: String::new(),
            },
        ))
        .await
        .expect("approved");
    let early = held("2024-03-13T10:00:00+02:00")
        .await
        .expect_err("still under way");
    assert_eq!(reason(&early), "MOBILITY_NOT_OVER");
    held("2024-03-14T18:00:00+02:00")
        .await
        .expect("held on its last day");

    let progress = fx
        .progress
        .get_progress(request(
            &ministry(),
            at("2024-03-20T10:00:00+02:00"),
            pb::GetProgressRequest {
                year: YEAR.into(),
                region_code: String::new(),
            },
        ))
        .await
        .expect("progress")
        .into_inner();
    let figures = progress.figures.expect("figures");
    assert_eq!(
        (
            figures.schools_applied,
            figures.contracts_signed,
            figures.groups_formed,
            figures.groups_approved,
            figures.annexes_filed,
            figures.mobilities_held
        ),
        (4, 3, 1, 1, 1, 1)
    );
    let cap = progress.innovative_cap.expect("cap");
    assert_eq!((cap.limit, cap.counted, cap.headroom), (300, 2, 298));
    assert_eq!(progress.regions.len(), 2);
    let regional = fx
        .progress
        .get_progress(request(
            &office("BG-03"),
            in_window(),
            pb::GetProgressRequest {
                year: YEAR.into(),
                region_code: "BG-22".into(),
            },
        ))
        .await
        .expect_err("another region's office");
    assert_eq!(regional.code(), Code::NotFound);
}

#[tokio::test]
async fn a_school_acts_only_for_itself_and_an_office_only_in_its_region() {
    let fx = Fixture::new().await;
    four_schools(&fx).await;
    let pair = fx.propose("alpha", "beta", None).await.expect("pair");
    let for_another = fx
        .contracts
        .propose_contract(request(
            &school("alpha-partner"),
            in_window(),
            pb::ProposeContractRequest {
                parent: YEAR.into(),
                contract: Some(pb::Contract {
                    proposer: "schools/alpha".into(),
                    counterparty: "schools/beta".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("a school proposes only for itself");
    assert_eq!(reason(&for_another), "SCOPE_REQUIRED");
    let own = fx
        .sign("alpha", &pair.name)
        .await
        .expect_err("the proposer does not sign");
    assert_eq!(reason(&own), "NOT_THE_COUNTERPARTY");
    let get = |caller| {
        fx.contracts.get_contract(request(
            &caller,
            in_window(),
            pb::GetContractRequest {
                name: pair.name.clone(),
            },
        ))
    };
    get(office("BG-22")).await.expect("alpha's office reads it");
    get(ministry()).await.expect("the ministry reads it");
    let elsewhere = get(office("BG-03")).await.expect_err("Varna's office");
    assert_eq!(elsewhere.code(), Code::NotFound);
    let outsider = get(school("alpha-partner")).await.expect_err("not a party");
    assert_eq!(outsider.code(), Code::NotFound);
    let listing = fx
        .contracts
        .list_contracts(request(
            &office("BG-03"),
            in_window(),
            pb::ListContractsRequest {
                parent: "years/-".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert!(listing.contracts.is_empty());
    let list_change = fx
        .schools
        .add_school_to_innovative_list(request(
            &office("BG-22"),
            in_window(),
            pb::AddSchoolToInnovativeListRequest {
                name: "schools/alpha-partner".into(),
                basis: "—".into(),
                etag: String::new(),
            },
        ))
        .await
        .expect_err("only the ministry changes the List");
    assert_eq!(reason(&list_change), "ROLE_REQUIRED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_signatures_never_exceed_a_cap_of_ten() {
    let fx = Fixture::new().await;
    fx.year(10, 300).await;
    let mut contracts = Vec::new();
    for i in 0..40 {
        let (a, b) = (format!("p{i}-a"), format!("p{i}-b"));
        for id in [&a, &b] {
            fx.innovative(id, "BG-22").await;
            fx.apply(id).await;
        }
        contracts.push((
            b.clone(),
            fx.propose(&a, &b, None).await.expect("proposal").name,
        ));
    }
    let fx = std::sync::Arc::new(fx);
    let signatures: Vec<_> = contracts
        .into_iter()
        .map(|(signer, name)| {
            let fx = fx.clone();
            tokio::spawn(async move { fx.sign(&signer, &name).await })
        })
        .collect();
    let mut signed = 0;
    for signature in signatures {
        match signature.await.expect("task") {
            Ok(_) => signed += 1,
            Err(status) => {
                assert_eq!(reason(&status), "CAP_REACHED", "{status:?}");
                assert_eq!(
                    error_metadata(&status, "cap").as_deref(),
                    Some("CAP_KIND_INNOVATIVE_SCHOOLS")
                );
            }
        }
    }
    // Each signature brings two innovative schools: five fit under a cap of ten.
    assert_eq!(signed, 5);
    assert_eq!(
        fx.count("SELECT count(*) FROM partnerships.contracted_schools")
            .await,
        10
    );
    assert_eq!(
        fx.count("SELECT innovative_contracted::bigint FROM partnerships.years")
            .await,
        10
    );
    // Contracting stopped: a new proposal between fresh schools is refused up front.
    fx.innovative("late-a", "BG-22").await;
    fx.innovative("late-b", "BG-22").await;
    fx.apply("late-a").await;
    fx.apply("late-b").await;
    let late = fx
        .propose("late-a", "late-b", None)
        .await
        .expect_err("cap reached");
    assert_eq!(reason(&late), "CAP_REACHED");
    let found = fx
        .schools
        .find_partners(request(
            &school("late-a"),
            in_window(),
            pb::FindPartnersRequest {
                school: "schools/late-a".into(),
                year: YEAR.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("partners")
        .into_inner();
    assert!(
        found
            .candidates
            .iter()
            .any(|c| c.school == "schools/late-b")
    );
}
