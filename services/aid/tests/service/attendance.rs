//! Attendance checks from the school start date (rule 7): a child found not attending is
//! flagged with the reason and stays listed until someone records the follow-up; who may
//! record and read; every refusal with its reason; ListChildren's attendance figures.

use edu_aid::api::{AttendanceApi, ChildrenApi};
use edu_kit::auth::Caller;
use edu_kit::testing::{assert_refused, bad_fields, error_metadata, reason};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::attendance_service_server::AttendanceService;
use edu_proto::edu::aid::v1::child_service_server::ChildService;
use jiff::Timestamp;
use tonic::{Code, Status};

use crate::common::*;

const IIN_A: &str = "150313518156";
const IIN_B: &str = "160314601016";

fn now() -> Timestamp {
    at("2023-09-12T12:00:00+06:00")
}

async fn listed(
    children: &ChildrenApi,
    school: &str,
    iin: &str,
    born: (i32, i32, i32),
) -> pb::Child {
    children
        .create_child(request(
            &school_staff(school),
            in_campaign(),
            pb::CreateChildRequest {
                parent: CAMPAIGN.into(),
                child: Some(pb::Child {
                    iin: iin.into(),
                    family_name: "Тестова".into(),
                    given_name: "Айгерим".into(),
                    birth_date: date(born.0, born.1, born.2),
                    grade: 2,
                    categories: vec![pb::ChildCategory::LowIncome as i32],
                    identification_source: pb::IdentificationSource::Survey as i32,
                    school: format!("schools/{school}"),
                    consent: Some(pb::Consent {
                        representative_name: "Законный представитель".into(),
                        give_date: date(2023, 8, 3),
                        document: String::new(),
                    }),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("listed")
        .into_inner()
}

fn absent(reason: pb::AbsenceReason, note: &str, day: i32) -> pb::AttendanceCheck {
    pb::AttendanceCheck {
        check_date: date(2023, 9, day),
        outcome: pb::AttendanceOutcome::DoesNotAttend as i32,
        absence_reason: reason as i32,
        absence_note: note.into(),
        ..Default::default()
    }
}

fn attends(day: i32) -> pb::AttendanceCheck {
    pb::AttendanceCheck {
        check_date: date(2023, 9, day),
        outcome: pb::AttendanceOutcome::Attends as i32,
        ..Default::default()
    }
}

async fn check(
    api: &AttendanceApi,
    caller: &Caller,
    child: &str,
    body: pb::AttendanceCheck,
) -> Result<pb::AttendanceCheck, Status> {
    api.record_attendance_check(request(
        caller,
        now(),
        pb::RecordAttendanceCheckRequest {
            parent: child.into(),
            attendance_check: Some(body),
            request_id: String::new(),
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

async fn follow_up(
    api: &AttendanceApi,
    caller: &Caller,
    name: &str,
    day: i32,
    etag: &str,
) -> Result<pb::AttendanceCheck, Status> {
    api.record_attendance_follow_up(request(
        caller,
        now(),
        pb::RecordAttendanceFollowUpRequest {
            name: name.into(),
            follow_up: Some(pb::AttendanceFollowUp {
                action: "посещение семьи социальным педагогом, выдан комплект формы".into(),
                result: "с 11.09 посещает школу".into(),
                follow_up_date: date(2023, 9, day),
                ..Default::default()
            }),
            etag: etag.into(),
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

async fn list(
    api: &AttendanceApi,
    caller: &Caller,
    parent: &str,
    state: pb::FollowUpState,
) -> Result<Vec<pb::AttendanceCheck>, Status> {
    api.list_attendance_checks(request(
        caller,
        now(),
        pb::ListAttendanceChecksRequest {
            parent: parent.into(),
            follow_up_state: state as i32,
            ..Default::default()
        },
    ))
    .await
    .map(|r| r.into_inner().attendance_checks)
}

async fn setup() -> (Fixture, AttendanceApi, ChildrenApi, pb::Child, pb::Child) {
    let fx = Fixture::new().await;
    fx.campaign().await;
    fx.school("almaty-12", "KZ-75").await;
    fx.school("astana-7", "KZ-71").await;
    let children = ChildrenApi::new(fx.store.clone());
    let a = listed(&children, "almaty-12", IIN_A, (2015, 3, 13)).await;
    let b = listed(&children, "astana-7", IIN_B, (2016, 3, 14)).await;
    let api = AttendanceApi::new(fx.store.clone());
    (fx, api, children, a, b)
}

async fn child_list(
    children: &ChildrenApi,
    caller: &Caller,
    body: pb::ListChildrenRequest,
) -> Vec<pb::Child> {
    children
        .list_children(request(caller, now(), body))
        .await
        .expect("children")
        .into_inner()
        .children
}

#[tokio::test]
async fn a_child_not_attending_stays_listed_until_followed_up() {
    let (_fx, api, children, a, b) = setup().await;
    let staff = school_staff("almaty-12");
    let flagged = check(
        &api,
        &staff,
        &a.name,
        absent(pb::AbsenceReason::LacksClothesOrSupplies, "", 4),
    )
    .await
    .expect("recorded");
    assert_eq!(flagged.follow_up_state, pb::FollowUpState::Awaiting as i32);
    assert_eq!(flagged.school, "schools/almaty-12");
    assert_eq!(flagged.region_code, "KZ-75");
    assert!(
        flagged
            .name
            .starts_with(&format!("{}/attendanceChecks/", a.name))
    );
    check(&api, &regional("KZ-71"), &b.name, attends(5))
        .await
        .expect("attends");

    // A later check finding the child at school does not close the follow-up.
    let later = check(&api, &staff, &a.name, attends(11))
        .await
        .expect("attends now");
    assert_eq!(later.follow_up_state, pb::FollowUpState::NotNeeded as i32);
    let awaiting = list(
        &api,
        &regional("KZ-75"),
        &format!("{CAMPAIGN}/children/-"),
        pb::FollowUpState::Awaiting,
    )
    .await
    .expect("awaiting");
    assert_eq!(
        awaiting.iter().map(|k| k.name.clone()).collect::<Vec<_>>(),
        std::slice::from_ref(&flagged.name)
    );

    let read = child_list(
        &children,
        &staff,
        pb::ListChildrenRequest {
            parent: CAMPAIGN.into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(read[0].attendance, pb::ChildAttendance::Attends as i32);
    assert!(read[0].attendance_follow_up_open);
    let open = child_list(
        &children,
        &regional("KZ-75"),
        pb::ListChildrenRequest {
            parent: CAMPAIGN.into(),
            follow_up_open_only: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(open.len(), 1);

    // Follow-up: a stale etag, a date before the check, then done.
    assert_refused(
        follow_up(&api, &staff, &flagged.name, 10, "W/\"99\"").await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    let early = follow_up(&api, &staff, &flagged.name, 3, "")
        .await
        .expect_err("before the check");
    assert_eq!(reason(&early), "DATE_OUT_OF_RANGE");
    assert_eq!(bad_fields(&early), ["follow_up.follow_up_date"]);
    assert_eq!(
        error_metadata(&early, "earliest").as_deref(),
        Some("2023-09-04")
    );
    assert_eq!(
        error_metadata(&early, "latest").as_deref(),
        Some("2023-09-12")
    );
    assert_refused(
        follow_up(&api, &school_staff("astana-7"), &flagged.name, 10, "").await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let done = follow_up(&api, &staff, &flagged.name, 10, &flagged.etag)
        .await
        .expect("followed up");
    assert_eq!(done.follow_up_state, pb::FollowUpState::Done as i32);
    let f = done.follow_up.clone().expect("follow-up");
    assert_eq!(f.actor, "staff-almaty-12");
    assert_eq!(f.result, "с 11.09 посещает школу");
    let again = follow_up(&api, &staff, &flagged.name, 10, "").await;
    assert_eq!(
        error_metadata(again.as_ref().expect_err("done"), "follow_up_state").as_deref(),
        Some("DONE")
    );
    assert_refused(again, Code::FailedPrecondition, "TRANSITION_NOT_ALLOWED");
    assert_refused(
        follow_up(&api, &staff, &later.name, 12, "").await,
        Code::FailedPrecondition,
        "TRANSITION_NOT_ALLOWED",
    );

    assert!(
        list(
            &api,
            &staff,
            &format!("{CAMPAIGN}/children/-"),
            pb::FollowUpState::Awaiting
        )
        .await
        .expect("none")
        .is_empty()
    );
    let read = child_list(
        &children,
        &staff,
        pb::ListChildrenRequest {
            parent: CAMPAIGN.into(),
            ..Default::default()
        },
    )
    .await;
    assert!(!read[0].attendance_follow_up_open);
}

#[tokio::test]
async fn checks_are_refused_with_their_reasons_and_hidden_from_others() {
    let (_fx, api, children, a, b) = setup().await;
    let staff = school_staff("almaty-12");
    for caller in [coordinator(), operator("KZ-75"), donor("patron")] {
        assert_refused(
            check(&api, &caller, &a.name, attends(4)).await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
        assert_refused(
            list(
                &api,
                &caller,
                &format!("{CAMPAIGN}/children/-"),
                pb::FollowUpState::Unspecified,
            )
            .await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }
    // Another school's and another region's child does not exist.
    assert_refused(
        check(&api, &staff, &b.name, attends(4)).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_refused(
        check(&api, &regional("KZ-75"), &b.name, attends(4)).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_refused(
        list(&api, &staff, &b.name, pb::FollowUpState::Unspecified).await,
        Code::NotFound,
        "NOT_FOUND",
    );

    for (body, field) in [
        (
            pb::AttendanceCheck {
                check_date: date(2023, 9, 4),
                ..Default::default()
            },
            "attendance_check.outcome",
        ),
        (
            absent(pb::AbsenceReason::Unspecified, "", 4),
            "attendance_check.absence_reason",
        ),
        (
            absent(pb::AbsenceReason::Other, "", 4),
            "attendance_check.absence_note",
        ),
        (
            pb::AttendanceCheck {
                absence_reason: pb::AbsenceReason::Illness as i32,
                ..attends(4)
            },
            "attendance_check.absence_reason",
        ),
    ] {
        let refused = check(&api, &staff, &a.name, body)
            .await
            .expect_err("invalid");
        assert_eq!(reason(&refused), "INVALID_FIELDS");
        assert_eq!(bad_fields(&refused), [field]);
    }
    check(
        &api,
        &staff,
        &a.name,
        absent(pb::AbsenceReason::Other, "уехали на сезонные работы", 4),
    )
    .await
    .expect("OTHER with a note");

    // From the school start date, not after today.
    for day in [(8, 31), (9, 13)] {
        let body = pb::AttendanceCheck {
            check_date: date(2023, day.0, day.1),
            ..attends(1)
        };
        let refused = check(&api, &staff, &a.name, body)
            .await
            .expect_err("out of range");
        assert_eq!(reason(&refused), "DATE_OUT_OF_RANGE");
        assert_eq!(bad_fields(&refused), ["attendance_check.check_date"]);
        assert_eq!(
            error_metadata(&refused, "earliest").as_deref(),
            Some("2023-09-01")
        );
        assert_eq!(
            error_metadata(&refused, "latest").as_deref(),
            Some("2023-09-12")
        );
    }
    // Accepted after the campaign's end.
    let late = api
        .record_attendance_check(request(
            &staff,
            at("2023-10-05T10:00:00+06:00"),
            pb::RecordAttendanceCheckRequest {
                parent: a.name.clone(),
                attendance_check: Some(pb::AttendanceCheck {
                    check_date: date(2023, 10, 5),
                    ..attends(1)
                }),
                request_id: String::new(),
            },
        ))
        .await;
    assert!(late.is_ok(), "{late:?}");

    // A removed record takes no check.
    children
        .remove_child(request(
            &staff,
            now(),
            pb::RemoveChildRequest {
                name: a.name.clone(),
                reason: "внесён по ошибке".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("removed");
    let refused = check(&api, &staff, &a.name, attends(5))
        .await
        .expect_err("removed");
    assert_eq!(reason(&refused), "CHILD_REMOVED");
    assert!(!refused.message().contains(IIN_A) && !refused.message().contains("Тестова"));

    // Each caller lists what it may read.
    let mine = list(
        &api,
        &regional("KZ-71"),
        &format!("{CAMPAIGN}/children/-"),
        pb::FollowUpState::Unspecified,
    )
    .await
    .expect("listed");
    assert!(mine.is_empty(), "the Almaty checks are not Astana's");
    let almaty = list(
        &api,
        &regional("KZ-75"),
        &format!("{CAMPAIGN}/children/-"),
        pb::FollowUpState::Unspecified,
    )
    .await
    .expect("listed");
    assert_eq!(almaty.len(), 2);
    let days: Vec<(i32, i32)> = almaty
        .iter()
        .map(|k| {
            k.check_date
                .as_ref()
                .map(|d| (d.month, d.day))
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(days, [(9, 4), (10, 5)], "by check date");
}
