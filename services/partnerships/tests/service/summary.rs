//! The region summary the gateway composes (issue 17): per year, the region's schools that
//! applied and partnered and the groups that include one of them, counted against a scene
//! with things that must not count (other regions, withdrawn applications, unsigned
//! contracts, another year); the empty answer for a region with nothing; every refusal;
//! and no name in the answer.

use edu_kit::testing::{bad_fields, reason};
use edu_proto::edu::partnerships::v1 as pb;
use edu_proto::edu::partnerships::v1::application_service_server::ApplicationService;
use edu_proto::edu::partnerships::v1::group_service_server::GroupService;
use edu_proto::edu::partnerships::v1::programme_year_service_server::ProgrammeYearService;
use edu_proto::edu::partnerships::v1::progress_service_server::ProgressService;
use edu_proto::google::r#type::Date;
use jiff::Timestamp;
use prost::Message;
use tonic::Code;

use crate::common::*;
use crate::contracts::{form_group, four_schools, update_mobility};

/// The instant of the summaries read in these tests.
fn read_at() -> Timestamp {
    at("2024-09-20T10:00:00+03:00")
}

async fn summary(
    fx: &Fixture,
    caller: &edu_kit::auth::Caller,
    region_code: &str,
    year: &str,
) -> Result<pb::RegionSummary, tonic::Status> {
    fx.progress
        .get_region_summary(request(
            caller,
            read_at(),
            pb::GetRegionSummaryRequest {
                region_code: region_code.into(),
                year: year.into(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

/// (year, applied, partnered, groups, approved, held) of each entry, in order.
fn figures(s: &pb::RegionSummary) -> Vec<(&str, i32, i32, i32, i32, i32)> {
    s.years
        .iter()
        .map(|y| {
            (
                y.year.as_str(),
                y.schools_applied,
                y.schools_partnered,
                y.groups_formed,
                y.groups_approved,
                y.mobilities_held,
            )
        })
        .collect()
}

/// The scene. In 2023/2024: the group of alpha, alpha-partner (BG-22), beta, beta-partner
/// (BG-16), approved, alpha's visit held; in BG-22 also gamma and gamma-fan, applied with
/// a contract only proposed, quitter, whose application is withdrawn, and idle, who never
/// applied; in BG-03 a group of four of its own, not approved. In 2024/2025: alpha applied.
async fn scene(fx: &Fixture) {
    four_schools(fx).await;
    let group = form_group(fx).await;

    fx.innovative("gamma", "BG-22").await;
    fx.school("gamma-fan", "BG-22").await;
    fx.school("quitter", "BG-22").await;
    fx.school("idle", "BG-22").await;
    for id in ["gamma", "gamma-fan"] {
        fx.apply(id).await;
    }
    fx.interest("gamma-fan", "gamma").await.expect("interest");
    let proposed = fx
        .propose("gamma", "gamma-fan", Some("gamma"))
        .await
        .expect("proposed");
    assert_eq!(proposed.state, pb::ContractState::Proposed as i32);
    let quitter = fx.apply("quitter").await;
    fx.applications
        .withdraw_application(request(
            &school("quitter"),
            in_window(),
            pb::WithdrawApplicationRequest {
                name: quitter.name,
                etag: String::new(),
            },
        ))
        .await
        .expect("withdrawn");

    fx.innovative("delta", "BG-03").await;
    fx.innovative("epsilon", "BG-03").await;
    fx.school("delta-partner", "BG-03").await;
    fx.school("epsilon-partner", "BG-03").await;
    for id in ["delta", "epsilon", "delta-partner", "epsilon-partner"] {
        fx.apply(id).await;
    }
    fx.interest("delta-partner", "delta")
        .await
        .expect("interest");
    fx.interest("epsilon-partner", "epsilon")
        .await
        .expect("interest");
    for (proposer, counterparty, innovation, signer) in [
        ("delta", "epsilon", None, "epsilon"),
        ("delta", "delta-partner", Some("delta"), "delta-partner"),
        ("epsilon-partner", "epsilon", Some("epsilon"), "epsilon"),
    ] {
        let c = fx
            .propose(proposer, counterparty, innovation)
            .await
            .expect("proposal");
        fx.sign(signer, &c.name).await.expect("signature");
    }

    // Alpha's visit: planned, its annex filed, the group approved, the visit held.
    let detail = fx
        .groups
        .get_group(request(
            &ministry(),
            in_window(),
            pb::GetGroupRequest {
                name: group.clone(),
            },
        ))
        .await
        .expect("group")
        .into_inner();
    let alpha_visit = detail.sides[0].hosted_mobility.clone();
    update_mobility(fx, "alpha", &alpha_visit, (2024, 3, 11), (2024, 3, 14))
        .await
        .expect("planned");
    fx.groups
        .file_annex(request(
            &school("alpha"),
            at("2023-12-01T10:00:00+02:00"),
            pb::FileAnnexRequest {
                name: alpha_visit.clone(),
                etag: String::new(),
                request_id: uuid::Uuid::new_v4().to_string(),
            },
        ))
        .await
        .expect("annex");
    fx.groups
        .approve_group(request(
            &ministry(),
            in_window(),
            pb::ApproveGroupRequest {
                name: group,
                etag: String::new(),
            },
        ))
        .await
        .expect("approved");
    fx.groups
        .mark_mobility_held(request(
            &school("alpha"),
            at("2024-03-14T18:00:00+02:00"),
            pb::MarkMobilityHeldRequest {
                name: alpha_visit,
                report: "Проведено.".into(),
                etag: String::new(),
            },
        ))
        .await
        .expect("held");

    // The next year, in which only alpha has applied so far.
    let d = |year, month, day| Some(Date { year, month, day });
    fx.years
        .create_programme_year(request(
            &ministry(),
            at("2024-08-01T10:00:00+03:00"),
            pb::CreateProgrammeYearRequest {
                programme_year: Some(pb::ProgrammeYear {
                    display_name: "Иновации в действие 2024/2025".into(),
                    application_start_date: d(2024, 9, 1),
                    application_end_date: d(2024, 10, 21),
                    annex_deadline: d(2024, 12, 15),
                    ..year_body(300, 300)
                }),
                programme_year_id: "2024-2025".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("the next year");
    fx.applications
        .create_application(request(
            &school("alpha"),
            at("2024-09-15T10:00:00+03:00"),
            pb::CreateApplicationRequest {
                parent: "years/2024-2025".into(),
                application: Some(pb::Application {
                    school: "schools/alpha".into(),
                    modules: vec![1],
                    motivation: "Отново.".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("alpha applies again");
}

#[tokio::test]
async fn region_summary_counts_each_year_of_the_region_and_nothing_else() {
    let fx = Fixture::new().await;
    scene(&fx).await;

    let sofia = summary(&fx, &ministry(), "BG-22", "")
        .await
        .expect("the ministry");
    assert_eq!(sofia.region_code, "BG-22");
    // Applied: alpha, alpha-partner, gamma, gamma-fan (not quitter, withdrawn, nor idle);
    // partnered: alpha and alpha-partner (not gamma's proposal); the BG-03 group is not
    // the region's. The latest year first.
    assert_eq!(
        figures(&sofia),
        [
            ("years/2024-2025", 1, 0, 0, 0, 0),
            ("years/2023-2024", 4, 2, 1, 1, 1),
        ]
    );
    assert_eq!(
        sofia
            .years
            .iter()
            .map(|y| y.display_name.as_str())
            .collect::<Vec<_>>(),
        [
            "Иновации в действие 2024/2025",
            "Иновации в действие 2023/2024"
        ]
    );
    let read = sofia.read_time.expect("read time");
    assert_eq!(
        (read.seconds, read.nanos),
        (read_at().as_second(), 0),
        "read_time is the call's instant"
    );

    // The group joins two regions and counts in each; a year without the region's schools
    // is left out.
    let plovdiv = summary(&fx, &ministry(), "BG-16", "").await.expect("BG-16");
    assert_eq!(figures(&plovdiv), [("years/2023-2024", 2, 2, 1, 1, 1)]);
    let varna = summary(&fx, &ministry(), "BG-03", "").await.expect("BG-03");
    assert_eq!(figures(&varna), [("years/2023-2024", 4, 4, 1, 0, 0)]);

    // The region's office reads the same; lower case is taken and upper-cased.
    let office_view = summary(&fx, &office("BG-22"), "bg-22", "")
        .await
        .expect("the region's office");
    assert_eq!(office_view.region_code, "BG-22");
    assert_eq!(figures(&office_view), figures(&sofia));

    // One year only.
    let one = summary(&fx, &ministry(), "BG-22", "years/2023-2024")
        .await
        .expect("one year");
    assert_eq!(figures(&one), [("years/2023-2024", 4, 2, 1, 1, 1)]);
    let none_there = summary(&fx, &ministry(), "BG-16", "years/2024-2025")
        .await
        .expect("a year without the region's schools");
    assert!(none_there.years.is_empty());
}

#[tokio::test]
async fn region_summary_of_a_region_with_nothing_is_empty() {
    let fx = Fixture::new().await;
    four_schools(&fx).await;
    // Another country's region, and a Bulgarian one without a school: no years, no error.
    for code in ["RU-ALT", "BG-05"] {
        let empty = summary(&fx, &ministry(), code, "")
            .await
            .unwrap_or_else(|e| panic!("{code}: {e:?}"));
        assert_eq!(empty.region_code, code);
        assert!(empty.years.is_empty(), "{code}: {:?}", empty.years);
        assert!(empty.read_time.is_some());
    }
    let lower = summary(&fx, &ministry(), "ru-alt", "")
        .await
        .expect("lower case");
    assert_eq!(lower.region_code, "RU-ALT");
}

#[tokio::test]
async fn region_summary_refuses_bad_codes_other_regions_and_other_roles() {
    let fx = Fixture::new().await;
    four_schools(&fx).await;

    for code in ["", "BG22", "BG-2222", "Sofia", "B1-22"] {
        let bad = summary(&fx, &ministry(), code, "")
            .await
            .expect_err("not ISO 3166-2");
        assert_eq!(bad.code(), Code::InvalidArgument, "{code:?}");
        assert_eq!(reason(&bad), "INVALID_FIELDS", "{code:?}");
        assert_eq!(bad_fields(&bad), ["region_code"], "{code:?}");
    }
    let bad_year = summary(&fx, &ministry(), "BG-22", "2023")
        .await
        .expect_err("not years/{year}");
    assert_eq!(reason(&bad_year), "INVALID_FIELDS");
    assert_eq!(bad_fields(&bad_year), ["year"]);
    let missing_year = summary(&fx, &ministry(), "BG-22", "years/2030-2031")
        .await
        .expect_err("no such year");
    assert_eq!(missing_year.code(), Code::NotFound);
    assert_eq!(reason(&missing_year), "NOT_FOUND");

    // Outside an office's scope: NOT_FOUND, whether the region holds anything (BG-22) or
    // not (RU-ALT), and whether a year asked for exists or not.
    for (code, year) in [
        ("BG-22", ""),
        ("RU-ALT", ""),
        ("BG-22", "years/2023-2024"),
        ("BG-22", "years/2030-2031"),
    ] {
        let elsewhere = summary(&fx, &office("BG-03"), code, year)
            .await
            .expect_err("another region");
        assert_eq!(elsewhere.code(), Code::NotFound, "{code} {year}");
        assert_eq!(reason(&elsewhere), "NOT_FOUND", "{code} {year}");
    }

    // A school, an office without a region, the event consumer, another service's role.
    for who in [
        school("alpha"),
        caller("ruo", &["partnerships.regional_office"], &[]),
        caller("feed", &["partnerships.event_consumer"], &[]),
        caller(
            "aid",
            &["aid.national_coordinator", "aid.regional_staff"],
            &["region:BG-22"],
        ),
    ] {
        let refused = summary(&fx, &who, "BG-22", "")
            .await
            .expect_err("no role for the summary");
        assert_eq!(refused.code(), Code::PermissionDenied, "{who:?}");
        assert_eq!(reason(&refused), "ROLE_REQUIRED", "{who:?}");
    }
}

#[tokio::test]
async fn region_summary_names_no_school_and_no_person() {
    let fx = Fixture::new().await;
    scene(&fx).await;
    let bytes = summary(&fx, &ministry(), "BG-22", "")
        .await
        .expect("summary")
        .encode_to_vec();
    assert!(!bytes.is_empty());
    let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    // School names, IDs and resource names, sign-in e-mails, innovation titles, the
    // motivation of an application and the report of a visit.
    for needle in [
        "Училище",
        "alpha",
        "gamma",
        "schools/",
        "@edu.mon.bg",
        "Иновация на",
        "Искаме да учим",
        "Проведено",
    ] {
        assert!(!contains(needle), "{needle:?} is in the summary");
    }
}
