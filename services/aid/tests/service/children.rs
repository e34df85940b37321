//! The data bank of children (rule 2): the IIN and its check digit, one record per child
//! and campaign whichever school lists it (also under concurrent listings), probable
//! duplicates merged, kept apart and reopened, removal that erases, and who reads what
//! (rule 8) — with no child's name or IIN in any refusal.

use edu_aid::api::ChildrenApi;
use edu_aid::domain::iin::Iin;
use edu_aid::store::children::{self, Category, ChildDraft, Consent, Corrected, Listed, Source};
use edu_kit::CallContext;
use edu_kit::testing::{assert_refused, bad_fields, error_metadata, reason};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::child_service_server::ChildService;
use tonic::{Code, Status};

use crate::common::*;

/// A valid IIN, first weights (born 2015-03-13).
const IIN_FIRST_WEIGHTS: &str = "150313518156";
/// A valid IIN whose check digit needs the second weights (born 2012-05-14).
const IIN_SECOND_WEIGHTS: &str = "120514581942";
/// The first one with its last digit mistyped.
const IIN_MISTYPED: &str = "150313518157";

/// A valid IIN for a child born on `year-month-day` (a 21st-century boy), the first serial
/// from `serial` whose check digit exists.
fn iin_for(year: i32, month: i32, day: i32, serial: u32) -> String {
    let weights = |w: [u32; 11], digits: &[u32]| -> u32 {
        digits.iter().zip(w).map(|(d, w)| d * w).sum::<u32>() % 11
    };
    for s in serial..serial + 100 {
        let head = format!("{:02}{:02}{:02}5{:04}", year % 100, month, day, s % 10_000);
        let digits: Vec<u32> = head.bytes().map(|b| u32::from(b - b'0')).collect();
        let check = match weights([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], &digits) {
            10 => weights([3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2], &digits),
            c => c,
        };
        if check != 10 {
            return format!("{head}{check}");
        }
    }
    panic!("no serial gives a check digit")
}

/// Children's names and IINs must appear in no refusal: not in its message, not in its
/// details (field descriptions, metadata, the Russian text).
#[track_caller]
fn assert_no_personal_data(status: &Status, personal: &[&str]) {
    let details = String::from_utf8_lossy(status.details()).to_string();
    for value in personal {
        assert!(
            !status.message().contains(value) && !details.contains(value),
            "a refusal carries personal data: {status:?}"
        );
    }
}

/// A page token's text (URL-safe base64 without padding).
fn decode_token(token: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let (mut bits, mut count, mut out) = (0u32, 0u32, Vec::new());
    for b in token.bytes() {
        let value = ALPHABET.iter().position(|a| *a == b).expect("base64");
        bits = (bits << 6) | value as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn api(fx: &Fixture) -> ChildrenApi {
    ChildrenApi::new(fx.store.clone())
}

/// A child as a school lists it.
fn child(school: &str, iin: &str, family: &str, given: &str, born: (i32, i32, i32)) -> pb::Child {
    pb::Child {
        iin: iin.into(),
        family_name: family.into(),
        given_name: given.into(),
        patronymic: String::new(),
        birth_date: date(born.0, born.1, born.2),
        grade: 2,
        categories: vec![pb::ChildCategory::LowIncome as i32],
        identification_source: pb::IdentificationSource::Survey as i32,
        school: format!("schools/{school}"),
        consent: Some(pb::Consent {
            representative_name: "Законный представитель".into(),
            give_date: date(2023, 8, 3),
            document: "заявление № 15".into(),
        }),
        ..Default::default()
    }
}

fn create_request(body: pb::Child) -> pb::CreateChildRequest {
    pb::CreateChildRequest {
        parent: CAMPAIGN.into(),
        child: Some(body),
        request_id: String::new(),
    }
}

async fn list(
    api: &ChildrenApi,
    caller: &edu_kit::auth::Caller,
    body: pb::Child,
) -> Result<pb::Child, Status> {
    api.create_child(request(caller, in_campaign(), create_request(body)))
        .await
        .map(tonic::Response::into_inner)
}

async fn get(
    api: &ChildrenApi,
    caller: &edu_kit::auth::Caller,
    name: &str,
) -> Result<pb::Child, Status> {
    api.get_child(request(
        caller,
        in_campaign(),
        pb::GetChildRequest { name: name.into() },
    ))
    .await
    .map(tonic::Response::into_inner)
}

async fn list_all(
    api: &ChildrenApi,
    caller: &edu_kit::auth::Caller,
    filter: pb::ListChildrenRequest,
) -> Result<Vec<pb::Child>, Status> {
    api.list_children(request(
        caller,
        in_campaign(),
        pb::ListChildrenRequest {
            parent: CAMPAIGN.into(),
            ..filter
        },
    ))
    .await
    .map(|r| r.into_inner().children)
}

async fn update(
    api: &ChildrenApi,
    caller: &edu_kit::auth::Caller,
    body: pb::Child,
    fields: &[&str],
) -> Result<pb::Child, Status> {
    api.update_child(request(
        caller,
        in_campaign(),
        pb::UpdateChildRequest {
            child: Some(body),
            update_mask: Some(prost_types::FieldMask {
                paths: fields.iter().map(|f| f.to_string()).collect(),
            }),
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

async fn duplicates(
    api: &ChildrenApi,
    caller: &edu_kit::auth::Caller,
    state: pb::DuplicateState,
) -> Result<Vec<pb::ProbableDuplicate>, Status> {
    api.list_probable_duplicates(request(
        caller,
        in_campaign(),
        pb::ListProbableDuplicatesRequest {
            parent: CAMPAIGN.into(),
            state: state as i32,
            ..Default::default()
        },
    ))
    .await
    .map(|r| r.into_inner().probable_duplicates)
}

async fn merge(
    api: &ChildrenApi,
    caller: &edu_kit::auth::Caller,
    pair: &str,
    survivor: &str,
    reason: &str,
) -> Result<pb::ProbableDuplicate, Status> {
    api.merge_probable_duplicate(request(
        caller,
        in_campaign(),
        pb::MergeProbableDuplicateRequest {
            name: pair.into(),
            survivor: survivor.into(),
            reason: reason.into(),
            ..Default::default()
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

async fn reopen(
    api: &ChildrenApi,
    caller: &edu_kit::auth::Caller,
    pair: &str,
) -> Result<pb::ProbableDuplicate, Status> {
    api.reopen_probable_duplicate(request(
        caller,
        in_campaign(),
        pb::ReopenProbableDuplicateRequest {
            name: pair.into(),
            reason: "решение пересмотрено".into(),
            etag: String::new(),
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

async fn keep_apart(
    api: &ChildrenApi,
    caller: &edu_kit::auth::Caller,
    pair: &str,
) -> Result<pb::ProbableDuplicate, Status> {
    api.keep_probable_duplicate_apart(request(
        caller,
        in_campaign(),
        pb::KeepProbableDuplicateApartRequest {
            name: pair.into(),
            reason: "разные родители, разные адреса".into(),
            etag: String::new(),
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

/// The campaign with schools in Almaty (two), Astana and Shymkent (not in the campaign).
async fn setup() -> (Fixture, ChildrenApi) {
    let fx = Fixture::new().await;
    fx.campaign().await;
    fx.school("almaty-12", "KZ-75").await;
    fx.school("almaty-40", "KZ-75").await;
    fx.school("astana-7", "KZ-71").await;
    fx.school("shymkent-1", "KZ-79").await;
    let api = api(&fx);
    (fx, api)
}

#[tokio::test]
async fn the_iin_is_checked_with_its_check_digit_and_never_returned() {
    let (_fx, api) = setup().await;
    let staff = school_staff("almaty-12");
    let first = list(
        &api,
        &staff,
        child(
            "almaty-12",
            IIN_FIRST_WEIGHTS,
            "Сейтқали",
            "Әлия",
            (2015, 3, 13),
        ),
    )
    .await
    .expect("a valid IIN, first weights");
    assert_eq!(first.iin, "", "the IIN is write-only");
    assert_eq!(first.iin_suffix, "8156");
    assert_eq!(first.state, pb::ChildState::Active as i32);
    assert_eq!(first.region_code, "KZ-75");
    assert_eq!(first.school_display_name, "Школа almaty-12");
    assert_eq!(first.attendance, pb::ChildAttendance::NotChecked as i32);
    let second = list(
        &api,
        &staff,
        child(
            "almaty-12",
            IIN_SECOND_WEIGHTS,
            "Омаров",
            "Нұрлан",
            (2012, 5, 14),
        ),
    )
    .await
    .expect("a valid IIN whose check digit needs the second weights");
    assert_eq!(second.iin_suffix, "1942");

    for (iin, check) in [
        (IIN_MISTYPED, "CHECK_DIGIT"),
        ("150313158156", "CHECK_DIGIT"),
        ("15031351815", "FORMAT"),
        ("15031351815a", "FORMAT"),
        ("150231518156", "DATE"),
    ] {
        let refused = list(
            &api,
            &staff,
            child("almaty-12", iin, "Ахметова", "Дана", (2015, 3, 13)),
        )
        .await
        .expect_err("an invalid IIN");
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(reason(&refused), "IIN_INVALID", "{iin}");
        assert_eq!(bad_fields(&refused), ["child.iin"]);
        assert_eq!(
            error_metadata(&refused, "check").as_deref(),
            Some(check),
            "{iin}"
        );
        assert_no_personal_data(&refused, &[iin, "Ахметова", "Дана"]);
    }

    // A valid IIN of another day than the birth date.
    let mismatch = list(
        &api,
        &staff,
        child(
            "almaty-12",
            IIN_FIRST_WEIGHTS,
            "Ахметова",
            "Дана",
            (2015, 3, 14),
        ),
    )
    .await
    .expect_err("the IIN says 13 March");
    assert_eq!(reason(&mismatch), "IIN_BIRTH_DATE_MISMATCH");
    assert_eq!(bad_fields(&mismatch), ["child.birth_date"]);
    assert_no_personal_data(&mismatch, &[IIN_FIRST_WEIGHTS, "2015-03", "Ахметова"]);
}

#[tokio::test]
async fn every_bad_field_is_named_at_once_before_the_iin() {
    let (fx, api) = setup().await;
    let staff = school_staff("almaty-12");
    let mut body = child("almaty-12", IIN_MISTYPED, "", "Дана", (2015, 3, 13));
    body.given_name = "Д".repeat(301);
    body.grade = 12;
    body.categories = vec![
        pb::ChildCategory::Orphan as i32,
        pb::ChildCategory::OtherRisk as i32,
        pb::ChildCategory::Orphan as i32,
    ];
    body.consent = Some(pb::Consent {
        representative_name: "Опекун".into(),
        give_date: date(2023, 8, 16),
        document: String::new(),
    });
    body.identification_source = 0;
    let refused = list(&api, &staff, body).await.expect_err("many bad fields");
    assert_eq!(reason(&refused), "INVALID_FIELDS", "before IIN_INVALID");
    assert_eq!(
        bad_fields(&refused),
        [
            "child.family_name",
            "child.given_name",
            "child.grade",
            "child.categories[2]",
            "child.other_risk_reason",
            "child.identification_source",
            "child.consent.give_date",
        ]
    );
    let mut no_category = child("almaty-12", "", "Ахметова", "Дана", (2015, 3, 13));
    no_category.categories.clear();
    no_category.consent = None;
    let refused = list(&api, &staff, no_category)
        .await
        .expect_err("no category");
    assert_eq!(bad_fields(&refused), ["child.categories", "child.consent"]);
    assert_eq!(fx.count("SELECT count(*) FROM aid.children").await, 0);
}

#[tokio::test]
async fn the_same_child_from_two_schools_is_one_record_and_the_second_school_learns_nothing() {
    let (fx, api) = setup().await;
    let almaty = school_staff("almaty-12");
    let astana = school_staff("astana-7");
    let first = list(
        &api,
        &almaty,
        child(
            "almaty-12",
            IIN_FIRST_WEIGHTS,
            "Сейтқали",
            "Әлия",
            (2015, 3, 13),
        ),
    )
    .await
    .expect("listed by the first school");

    // The second school, in another region, lists the same IIN under another spelling.
    let again = list(
        &api,
        &astana,
        child(
            "astana-7",
            IIN_FIRST_WEIGHTS,
            "Сейткали",
            "Алия",
            (2015, 3, 13),
        ),
    )
    .await
    .expect_err("one IIN is one record");
    assert_eq!(again.code(), Code::AlreadyExists);
    assert_eq!(reason(&again), "CHILD_ALREADY_LISTED");
    assert_eq!(
        error_metadata(&again, "child"),
        None,
        "nothing of the first record"
    );
    assert_no_personal_data(
        &again,
        &[
            IIN_FIRST_WEIGHTS,
            "Сейтқали",
            "Әлия",
            "almaty-12",
            "KZ-75",
            first.name.as_str(),
        ],
    );
    assert_eq!(fx.count("SELECT count(*) FROM aid.children").await, 1);
    assert_eq!(
        fx.count("SELECT count(*) FROM event_outbox WHERE event_type = 'CHILD_LISTED'")
            .await,
        1
    );
    // The second school sees nothing of the record: not by name, not in its lists.
    assert_refused(
        get(&api, &astana, &first.name).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    assert!(
        list_all(&api, &astana, Default::default())
            .await
            .expect("its list")
            .is_empty()
    );
    assert_refused(
        get(&api, &regional("KZ-71"), &first.name).await,
        Code::NotFound,
        "NOT_FOUND",
    );

    // Those who may read the record are told which it is.
    let mine = list(
        &api,
        &almaty,
        child(
            "almaty-12",
            IIN_FIRST_WEIGHTS,
            "Сейтқали",
            "Әлия",
            (2015, 3, 13),
        ),
    )
    .await
    .expect_err("listed again by its school");
    assert_eq!(
        error_metadata(&mine, "child").as_deref(),
        Some(first.name.as_str())
    );
    let region = list(
        &api,
        &regional("KZ-75"),
        child(
            "almaty-40",
            IIN_FIRST_WEIGHTS,
            "Сейтқали",
            "Әлия",
            (2015, 3, 13),
        ),
    )
    .await
    .expect_err("listed again in its region");
    assert_eq!(
        error_metadata(&region, "child").as_deref(),
        Some(first.name.as_str())
    );
    let read = get(&api, &regional("KZ-75"), &first.name)
        .await
        .expect("the region's staff read it");
    assert_eq!(read.family_name, "Сейтқали");
    assert_eq!(read.iin, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_listings_of_one_iin_give_one_record() {
    let (fx, api) = setup().await;
    let iin = iin_for(2016, 9, 1, 4242);
    let calls = (0..12).map(|i| {
        let api = api.clone();
        let (school, staff) = if i % 2 == 0 {
            ("almaty-12", school_staff("almaty-12"))
        } else {
            ("astana-7", school_staff("astana-7"))
        };
        // Different spellings: nothing but the IIN's unique index makes them one child.
        let body = child(school, &iin, &format!("Беков{i}"), "Ерлан", (2016, 9, 1));
        tokio::spawn(async move { list(&api, &staff, body).await })
    });
    let results: Vec<Result<pb::Child, Status>> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|joined| joined.expect("task"))
        .collect();
    let listed = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(listed, 1, "{results:?}");
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(reason(refused), "CHILD_ALREADY_LISTED", "{refused:?}");
    }
    assert_eq!(fx.count("SELECT count(*) FROM aid.children").await, 1);
    assert_eq!(
        fx.count("SELECT count(*) FROM event_outbox WHERE event_type = 'CHILD_LISTED'")
            .await,
        1
    );

    // Without an IIN, one school listing the same child concurrently also gets one record.
    let calls = (0..6).map(|_| {
        let api = api.clone();
        let staff = school_staff("almaty-40");
        let body = child("almaty-40", "", "Жанұзақова", "Аружан", (2014, 2, 2));
        tokio::spawn(async move { list(&api, &staff, body).await })
    });
    let results: Vec<Result<pb::Child, Status>> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|joined| joined.expect("task"))
        .collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert_eq!(fx.count("SELECT count(*) FROM aid.children").await, 2);
}

#[tokio::test]
async fn a_school_listing_its_child_again_without_an_iin_finds_its_record() {
    let (fx, api) = setup().await;
    let staff = school_staff("almaty-12");
    let first = list(
        &api,
        &staff,
        child("almaty-12", "", "Королёва", "Анна", (2014, 6, 1)),
    )
    .await
    .expect("listed without an IIN");
    assert_eq!(first.iin_suffix, "");
    assert!(!first.probable_duplicate);
    // Case, «ё», a hyphen and extra spaces do not make another child.
    let again = list(
        &api,
        &staff,
        child("almaty-12", "", "  королева ", "АННА", (2014, 6, 1)),
    )
    .await
    .expect_err("the school's own record");
    assert_eq!(reason(&again), "CHILD_ALREADY_LISTED");
    assert_eq!(
        error_metadata(&again, "child").as_deref(),
        Some(first.name.as_str())
    );
    let hyphen = list(
        &api,
        &staff,
        child("almaty-12", "", "Иванова-Петрова", "Мария", (2014, 6, 1)),
    )
    .await
    .expect("another child");
    let spaced = list(
        &api,
        &staff,
        child("almaty-12", "", "Иванова  Петрова", "Мария", (2014, 6, 1)),
    )
    .await
    .expect_err("the hyphen is a space");
    assert_eq!(
        error_metadata(&spaced, "child").as_deref(),
        Some(hyphen.name.as_str())
    );
    // Kazakh letters are letters of their own.
    list(
        &api,
        &staff,
        child("almaty-12", "", "Королёва", "Әнна", (2014, 6, 1)),
    )
    .await
    .expect("ә is not а");
    assert_eq!(fx.count("SELECT count(*) FROM aid.children").await, 3);
    assert_eq!(
        fx.count("SELECT count(*) FROM aid.probable_duplicates")
            .await,
        0
    );
}

#[tokio::test]
async fn a_probable_duplicate_across_regions_is_merged_audited_and_reopened() {
    let (fx, api) = setup().await;
    let almaty = school_staff("almaty-12");
    let without = list(
        &api,
        &almaty,
        child("almaty-12", "", "Сейтқали", "Әлия", (2015, 3, 13)),
    )
    .await
    .expect("listed without an IIN");
    let with = list(
        &api,
        &school_staff("astana-7"),
        child(
            "astana-7",
            IIN_FIRST_WEIGHTS,
            "сейтқали",
            "әлия",
            (2015, 3, 13),
        ),
    )
    .await
    .expect("listed with an IIN by another school: a new record, flagged");
    assert!(with.probable_duplicate);
    let mine = get(&api, &almaty, &without.name).await.expect("its record");
    assert!(
        mine.probable_duplicate,
        "the school learns the flag, no more"
    );

    // Regional staff of either region decide; school staff and other regions do not.
    assert_refused(
        duplicates(&api, &almaty, pb::DuplicateState::Unspecified).await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert!(
        duplicates(&api, &regional("KZ-19"), pb::DuplicateState::Unspecified)
            .await
            .expect("another region")
            .is_empty()
    );
    let listed = duplicates(&api, &regional("KZ-75"), pb::DuplicateState::Unspecified)
        .await
        .expect("open duplicates");
    assert_eq!(listed.len(), 1);
    let pair = &listed[0];
    assert_eq!(
        pair.r#match,
        pb::DuplicateMatch::SameNameAndBirthDate as i32
    );
    assert_eq!(pair.region_codes, ["KZ-71", "KZ-75"]);
    assert_eq!(
        pair.records
            .iter()
            .map(|r| r.child.as_str())
            .collect::<Vec<_>>(),
        [without.name.as_str(), with.name.as_str()],
        "the earlier listed first, also the record of another region"
    );
    assert_eq!(pair.records[1].iin_suffix, "8156");
    assert_eq!(pair.records[1].family_name, "сейтқали");
    assert_refused(
        merge(
            &api,
            &regional("KZ-19"),
            &pair.name,
            &with.name,
            "одна и та же девочка",
        )
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let no_reason = merge(&api, &regional("KZ-75"), &pair.name, &with.name, " ")
        .await
        .expect_err("no reason");
    assert_eq!(bad_fields(&no_reason), ["reason"]);
    let without_iin = merge(
        &api,
        &regional("KZ-75"),
        &pair.name,
        &without.name,
        "одна девочка",
    )
    .await
    .expect_err("the record with the IIN survives");
    assert_eq!(reason(&without_iin), "SURVIVOR_WITHOUT_IIN");
    assert_eq!(bad_fields(&without_iin), ["survivor"]);
    let stale = api
        .merge_probable_duplicate(request(
            &regional("KZ-71"),
            in_campaign(),
            pb::MergeProbableDuplicateRequest {
                name: pair.name.clone(),
                survivor: with.name.clone(),
                reason: "одна девочка".into(),
                etag: "\"7\"".into(),
                request_id: String::new(),
            },
        ))
        .await;
    assert_refused(stale, Code::Aborted, "ETAG_MISMATCH");

    let merged = merge(
        &api,
        &regional("KZ-71"),
        &pair.name,
        &with.name,
        "одна девочка",
    )
    .await
    .expect("merged by the other region's staff");
    assert_eq!(merged.state, pb::DuplicateState::Merged as i32);
    assert_eq!(merged.survivor, with.name);
    assert!(!merged.superseded);
    assert_eq!(merged.decisions.len(), 1);
    assert_eq!(
        merged.decisions[0].action,
        pb::DuplicateAction::Merge as i32
    );
    assert_eq!(merged.decisions[0].actor, "staff-KZ-71");
    assert_eq!(merged.decisions[0].reason, "одна девочка");
    assert_eq!(
        fx.count("SELECT count(*) FROM audit_log WHERE action = 'probable_duplicate.merge'")
            .await,
        1
    );
    let read = get(&api, &almaty, &without.name)
        .await
        .expect("still readable");
    assert_eq!(read.state, pb::ChildState::Merged as i32);
    assert_eq!(read.merged_into, with.name);
    assert!(!read.probable_duplicate);
    let mut change = read.clone();
    change.grade = 3;
    let read_only = update(&api, &almaty, change, &["grade"])
        .await
        .expect_err("a merged record is read-only");
    assert_eq!(reason(&read_only), "CHILD_MERGED");
    assert_eq!(
        error_metadata(&read_only, "merged_into").as_deref(),
        Some(with.name.as_str())
    );
    let twice = merge(&api, &regional("KZ-75"), &pair.name, &with.name, "ещё раз")
        .await
        .expect_err("decided");
    assert_eq!(reason(&twice), "TRANSITION_NOT_ALLOWED");
    assert_eq!(error_metadata(&twice, "state").as_deref(), Some("MERGED"));

    // Reversible: reopened, the merged record is ACTIVE again.
    let reopened = reopen(&api, &regional("KZ-75"), &pair.name)
        .await
        .expect("reopened");
    assert_eq!(reopened.state, pb::DuplicateState::Open as i32);
    assert_eq!(reopened.survivor, "");
    assert_eq!(reopened.decisions.len(), 2);
    let back = get(&api, &almaty, &without.name).await.expect("its record");
    assert_eq!(back.state, pb::ChildState::Active as i32);
    assert!(back.probable_duplicate);
    assert_refused(
        reopen(&api, &regional("KZ-75"), &pair.name).await,
        Code::FailedPrecondition,
        "TRANSITION_NOT_ALLOWED",
    );

    // Kept apart, the two are not flagged again for the same match.
    let apart = keep_apart(&api, &regional("KZ-75"), &pair.name)
        .await
        .expect("kept apart");
    assert_eq!(apart.state, pb::DuplicateState::KeptApart as i32);
    assert!(
        duplicates(&api, &regional("KZ-75"), pb::DuplicateState::Unspecified)
            .await
            .expect("open ones")
            .is_empty()
    );
    assert_eq!(
        duplicates(&api, &regional("KZ-75"), pb::DuplicateState::KeptApart)
            .await
            .expect("kept apart ones")
            .len(),
        1
    );
    let mut renamed = back.clone();
    renamed.given_name = "Алия".into();
    let mut renamed = update(&api, &almaty, renamed, &["given_name"])
        .await
        .expect("renamed");
    renamed.given_name = "Әлия".into();
    let renamed_back = update(&api, &almaty, renamed, &["given_name"])
        .await
        .expect("renamed back");
    assert!(!renamed_back.probable_duplicate);
    assert_eq!(
        fx.count("SELECT count(*) FROM aid.probable_duplicates")
            .await,
        1
    );
    assert_eq!(
        fx.count("SELECT count(*) FROM aid.duplicate_decisions")
            .await,
        3,
        "merge, reopen, keep apart: every decision kept"
    );
}

#[tokio::test]
async fn records_with_different_iins_are_never_flagged() {
    let (fx, api) = setup().await;
    let staff = school_staff("almaty-12");
    list(
        &api,
        &staff,
        child(
            "almaty-12",
            &iin_for(2015, 3, 13, 100),
            "Ким",
            "Виктор",
            (2015, 3, 13),
        ),
    )
    .await
    .expect("one child");
    let other = list(
        &api,
        &school_staff("astana-7"),
        child(
            "astana-7",
            &iin_for(2015, 3, 13, 200),
            "Ким",
            "Виктор",
            (2015, 3, 13),
        ),
    )
    .await
    .expect("another child of the same name and birth date");
    assert!(!other.probable_duplicate);
    assert_eq!(
        fx.count("SELECT count(*) FROM aid.probable_duplicates")
            .await,
        0
    );
}

#[tokio::test]
async fn an_iin_another_record_holds_is_refused_and_the_two_are_flagged() {
    let (fx, api) = setup().await;
    let holder = list(
        &api,
        &school_staff("astana-7"),
        child(
            "astana-7",
            IIN_SECOND_WEIGHTS,
            "Омаров",
            "Нұрлан",
            (2012, 5, 14),
        ),
    )
    .await
    .expect("with the IIN");
    let almaty = school_staff("almaty-12");
    let without = list(
        &api,
        &almaty,
        child("almaty-12", "", "Омаров", "Нурлан", (2012, 5, 14)),
    )
    .await
    .expect("without an IIN, another spelling: not flagged");
    assert!(!without.probable_duplicate);
    let mut change = without.clone();
    change.iin = IIN_SECOND_WEIGHTS.into();
    let refused = update(&api, &almaty, change, &["iin"])
        .await
        .expect_err("the IIN is the other record's");
    assert_eq!(reason(&refused), "CHILD_ALREADY_LISTED");
    assert_eq!(
        error_metadata(&refused, "child"),
        None,
        "another school's record"
    );
    assert_no_personal_data(
        &refused,
        &[IIN_SECOND_WEIGHTS, holder.name.as_str(), "astana-7"],
    );
    let unchanged = get(&api, &almaty, &without.name).await.expect("its record");
    assert_eq!(unchanged.iin_suffix, "");
    assert!(
        unchanged.probable_duplicate,
        "flagged for the regional staff"
    );
    let pairs = duplicates(&api, &regional("KZ-71"), pb::DuplicateState::Unspecified)
        .await
        .expect("flagged");
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].r#match, pb::DuplicateMatch::SameIin as i32);
    merge(
        &api,
        &regional("KZ-75"),
        &pairs[0].name,
        &holder.name,
        "тот же ИИН",
    )
    .await
    .expect("merged into the record with the IIN");
    assert_eq!(
        fx.count("SELECT count(*) FROM aid.children WHERE state = 'MERGED'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_survivor_merged_into_a_third_record_blocks_reopening() {
    let (_fx, api) = setup().await;
    let a = list(
        &api,
        &school_staff("almaty-12"),
        child("almaty-12", "", "Ли", "Мария", (2013, 1, 9)),
    )
    .await
    .expect("a");
    let b = list(
        &api,
        &school_staff("almaty-40"),
        child("almaty-40", "", "Ли", "Мария", (2013, 1, 9)),
    )
    .await
    .expect("b");
    let c = list(
        &api,
        &school_staff("astana-7"),
        child(
            "astana-7",
            &iin_for(2013, 1, 9, 7),
            "Ли",
            "Мария",
            (2013, 1, 9),
        ),
    )
    .await
    .expect("c");
    let staff = regional("KZ-75");
    let pairs = duplicates(&api, &staff, pb::DuplicateState::Unspecified)
        .await
        .expect("three pairs");
    assert_eq!(pairs.len(), 3);
    let pair_of = |x: &str, y: &str| -> String {
        pairs
            .iter()
            .find(|p| {
                let names: Vec<&str> = p.records.iter().map(|r| r.child.as_str()).collect();
                names.contains(&x) && names.contains(&y)
            })
            .map(|p| p.name.clone())
            .expect("pair")
    };
    let (ab, bc, ac) = (
        pair_of(&a.name, &b.name),
        pair_of(&b.name, &c.name),
        pair_of(&a.name, &c.name),
    );
    merge(&api, &staff, &ab, &b.name, "одна девочка")
        .await
        .expect("a into b");
    let superseded = merge(&api, &staff, &ac, &c.name, "одна девочка")
        .await
        .expect_err("a was merged into b since");
    assert_eq!(reason(&superseded), "CHILD_MERGED");
    assert_eq!(
        error_metadata(&superseded, "child").as_deref(),
        Some(a.name.as_str())
    );
    assert_eq!(
        error_metadata(&superseded, "merged_into").as_deref(),
        Some(b.name.as_str())
    );
    merge(&api, &staff, &bc, &c.name, "одна девочка")
        .await
        .expect("b into c");
    let blocked = reopen(&api, &staff, &ab)
        .await
        .expect_err("b was merged into c since");
    assert_eq!(reason(&blocked), "CHILD_MERGED");
    assert_eq!(
        error_metadata(&blocked, "child").as_deref(),
        Some(b.name.as_str())
    );
    assert_eq!(
        error_metadata(&blocked, "merged_into").as_deref(),
        Some(c.name.as_str())
    );
    let all_merged = duplicates(&api, &staff, pb::DuplicateState::Merged)
        .await
        .expect("merged ones");
    let first = all_merged.iter().find(|p| p.name == ab).expect("a-b");
    assert!(first.superseded);
    reopen(&api, &staff, &bc).await.expect("b-c first");
    reopen(&api, &staff, &ab).await.expect("then a-b");
}

#[tokio::test]
async fn removal_erases_the_personal_data_and_frees_the_iin() {
    let (fx, api) = setup().await;
    let staff = school_staff("almaty-12");
    let listed = list(
        &api,
        &staff,
        child(
            "almaty-12",
            IIN_FIRST_WEIGHTS,
            "Сейтқали",
            "Әлия",
            (2015, 3, 13),
        ),
    )
    .await
    .expect("listed");
    list(
        &api,
        &school_staff("astana-7"),
        child("astana-7", "", "Сейтқали", "Әлия", (2015, 3, 13)),
    )
    .await
    .expect("a probable duplicate");
    let remove = |reason: &str, etag: &str| {
        api.remove_child(request(
            &staff,
            at("2023-10-05T10:00:00+06:00"),
            pb::RemoveChildRequest {
                name: listed.name.clone(),
                reason: reason.into(),
                etag: etag.into(),
                request_id: String::new(),
            },
        ))
    };
    let no_reason = remove("", "").await.expect_err("a reason is required");
    assert_eq!(bad_fields(&no_reason), ["reason"]);
    assert_refused(
        remove("семья отозвала согласие", "\"9\"").await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    let removed = remove("семья отозвала согласие", &listed.etag)
        .await
        .expect("removed after the campaign's end too")
        .into_inner();
    assert_eq!(removed.state, pb::ChildState::Removed as i32);
    assert_eq!(removed.remove_reason, "семья отозвала согласие");
    assert_eq!(
        (
            removed.family_name.as_str(),
            removed.given_name.as_str(),
            removed.iin_suffix.as_str()
        ),
        ("", "", "")
    );
    assert_eq!(removed.birth_date, None);
    assert_eq!(removed.consent, None);
    assert_eq!(
        fx.count(
            "SELECT count(*) FROM aid.children WHERE state = 'REMOVED' AND iin IS NULL
               AND family_name IS NULL AND given_name IS NULL AND normalised_name IS NULL
               AND birth_date IS NULL AND consent_representative IS NULL"
        )
        .await,
        1
    );
    let again = remove("ещё раз", "").await.expect("unchanged").into_inner();
    assert_eq!(again.etag, removed.etag);
    // Its open probable duplicate is superseded: no longer listed, no longer flagged.
    assert!(
        duplicates(&api, &regional("KZ-75"), pb::DuplicateState::Unspecified)
            .await
            .expect("open ones")
            .is_empty()
    );
    let open = duplicates(&api, &regional("KZ-75"), pb::DuplicateState::Open)
        .await
        .expect("open ones, superseded included");
    assert!(open[0].superseded);
    assert_refused(
        keep_apart(&api, &regional("KZ-75"), &open[0].name).await,
        Code::FailedPrecondition,
        "CHILD_REMOVED",
    );
    // The IIN may be listed again.
    list(
        &api,
        &staff,
        child(
            "almaty-12",
            IIN_FIRST_WEIGHTS,
            "Сейтқали",
            "Әлия",
            (2015, 3, 13),
        ),
    )
    .await
    .expect("listed again");
    let removed_list = list_all(
        &api,
        &staff,
        pb::ListChildrenRequest {
            state: pb::ChildState::Removed as i32,
            ..Default::default()
        },
    )
    .await
    .expect("removed ones");
    assert_eq!(removed_list.len(), 1);
}

#[tokio::test]
async fn children_are_read_by_their_school_and_region_only() {
    let (_fx, api) = setup().await;
    let almaty = school_staff("almaty-12");
    let listed = list(
        &api,
        &almaty,
        child(
            "almaty-12",
            IIN_FIRST_WEIGHTS,
            "Сейтқали",
            "Әлия",
            (2015, 3, 13),
        ),
    )
    .await
    .expect("listed");
    for caller in [coordinator(), operator("KZ-75"), donor("donor-1")] {
        assert_refused(
            get(&api, &caller, &listed.name).await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
        assert_refused(
            list_all(&api, &caller, Default::default()).await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
        assert_refused(
            list(
                &api,
                &caller,
                child("almaty-12", "", "Ким", "Ли", (2015, 1, 1)),
            )
            .await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }
    for caller in [school_staff("almaty-40"), regional("KZ-71")] {
        assert_refused(
            get(&api, &caller, &listed.name).await,
            Code::NotFound,
            "NOT_FOUND",
        );
    }
    assert_refused(
        list(
            &api,
            &almaty,
            child("almaty-40", "", "Ким", "Ли", (2015, 1, 1)),
        )
        .await,
        Code::PermissionDenied,
        "SCOPE_REQUIRED",
    );
    assert_refused(
        list(
            &api,
            &regional("KZ-71"),
            child("almaty-40", "", "Ким", "Ли", (2015, 1, 1)),
        )
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let outside = list(
        &api,
        &regional("KZ-79"),
        child("shymkent-1", "", "Ким", "Ли", (2015, 1, 1)),
    )
    .await
    .expect_err("Shymkent is not in the campaign");
    assert_eq!(reason(&outside), "REGION_NOT_IN_CAMPAIGN");
    assert_eq!(
        error_metadata(&outside, "region_code").as_deref(),
        Some("KZ-79")
    );

    // Only regional staff move a child, within their region.
    let mut moved = listed.clone();
    moved.school = "schools/almaty-40".into();
    let refused = update(&api, &almaty, moved.clone(), &["school"])
        .await
        .expect_err("school staff do not move children");
    assert_eq!(reason(&refused), "ROLE_REQUIRED");
    assert_eq!(error_metadata(&refused, "field").as_deref(), Some("school"));
    let mut away = listed.clone();
    away.school = "schools/astana-7".into();
    assert_refused(
        update(&api, &regional("KZ-75"), away, &["school"]).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let there = update(&api, &regional("KZ-75"), moved, &["school"])
        .await
        .expect("moved in the region");
    assert_eq!(there.school, "schools/almaty-40");
    assert_refused(
        get(&api, &almaty, &listed.name).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    get(&api, &school_staff("almaty-40"), &listed.name)
        .await
        .expect("the new school reads it");
}

#[tokio::test]
async fn corrections_recheck_the_record_and_refuse_stale_writes() {
    let (_fx, api) = setup().await;
    let staff = school_staff("almaty-12");
    let listed = list(
        &api,
        &staff,
        child(
            "almaty-12",
            IIN_FIRST_WEIGHTS,
            "Сейтқали",
            "Әлия",
            (2015, 3, 13),
        ),
    )
    .await
    .expect("listed");
    let mut change = listed.clone();
    change.birth_date = date(2015, 3, 14);
    let mismatch = update(&api, &staff, change, &["birth_date"])
        .await
        .expect_err("the stored IIN says 13 March");
    assert_eq!(reason(&mismatch), "IIN_BIRTH_DATE_MISMATCH");
    let mut change = listed.clone();
    change.categories = vec![pb::ChildCategory::OtherRisk as i32];
    let no_risk = update(&api, &staff, change.clone(), &["categories"])
        .await
        .expect_err("OTHER_RISK needs its reason");
    assert_eq!(bad_fields(&no_risk), ["child.other_risk_reason"]);
    change.other_risk_reason = "семья в трудной жизненной ситуации".into();
    let changed = update(&api, &staff, change, &["categories", "other_risk_reason"])
        .await
        .expect("changed");
    assert_ne!(changed.etag, listed.etag);
    let mut stale = listed.clone();
    stale.grade = 3;
    assert_refused(
        update(&api, &staff, stale, &["grade"]).await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    let mut consent = changed.clone();
    consent.consent = None;
    let immutable = update(&api, &staff, consent, &["consent"])
        .await
        .expect_err("the consent never changes");
    assert_eq!(bad_fields(&immutable), ["update_mask"]);
    let mut clear = changed.clone();
    clear.iin = String::new();
    let cleared = update(&api, &staff, clear, &["iin"])
        .await
        .expect("an IIN may be cleared");
    assert_eq!(cleared.iin_suffix, "");
    let mut late = cleared.clone();
    late.grade = 4;
    let ended = api
        .update_child(request(
            &staff,
            at("2023-10-01T00:00:00+06:00"),
            pb::UpdateChildRequest {
                child: Some(late),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["grade".into()],
                }),
            },
        ))
        .await
        .expect_err("the campaign ended");
    assert_eq!(reason(&ended), "CAMPAIGN_ENDED");
}

#[tokio::test]
async fn a_listing_is_retried_safely_and_refused_after_the_end() {
    let (fx, api) = setup().await;
    let staff = school_staff("almaty-12");
    let call = |body: pb::Child, id: &str, now: &str| {
        api.create_child(request(
            &staff,
            at(now),
            pb::CreateChildRequest {
                parent: CAMPAIGN.into(),
                child: Some(body),
                request_id: id.into(),
            },
        ))
    };
    let body = child(
        "almaty-12",
        IIN_FIRST_WEIGHTS,
        "Сейтқали",
        "Әлия",
        (2015, 3, 13),
    );
    let first = call(body.clone(), "r-1", "2023-08-15T10:00:00+06:00")
        .await
        .expect("listed")
        .into_inner();
    let retried = call(body.clone(), "r-1", "2023-08-15T10:01:00+06:00")
        .await
        .expect("the retry answers the first listing")
        .into_inner();
    assert_eq!(retried, first);
    assert_eq!(fx.count("SELECT count(*) FROM aid.children").await, 1);
    assert_eq!(
        fx.count("SELECT count(*) FROM idempotency_keys WHERE response IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        fx.count(
            "SELECT count(*) FROM idempotency_keys
             WHERE position(convert_to('Сейтқали', 'UTF8') in response) > 0"
        )
        .await,
        0,
        "the kept response names no child"
    );
    let mut other = body.clone();
    other.grade = 5;
    assert_refused(
        call(other, "r-1", "2023-08-15T10:02:00+06:00").await,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );
    let late = call(
        child("almaty-12", "", "Ким", "Ли", (2015, 1, 1)),
        "",
        "2023-10-01T00:00:00+06:00",
    )
    .await
    .expect_err("after the end");
    assert_eq!(reason(&late), "CAMPAIGN_ENDED");
    assert!(error_metadata(&late, "ended_at").is_some());
    let missing = api
        .create_child(request(
            &staff,
            in_campaign(),
            pb::CreateChildRequest {
                parent: "campaigns/none".into(),
                child: Some(child("almaty-12", "", "Ким", "Ли", (2015, 1, 1))),
                request_id: String::new(),
            },
        ))
        .await;
    assert_refused(missing, Code::NotFound, "NOT_FOUND");
}

#[tokio::test]
async fn children_are_listed_in_kazakh_order_page_by_page() {
    let (_fx, api) = setup().await;
    let staff = regional("KZ-75");
    for (school, family, grade, iin) in [
        ("almaty-40", "Бекова", 2, ""),
        ("almaty-12", "Бекова", 2, ""),
        ("almaty-12", "Әлиев", 2, ""),
        ("almaty-12", "Айтбаев", 2, "150313518156"),
        ("almaty-12", "Яковлев", 1, ""),
    ] {
        let mut body = child(school, iin, family, "Дана", (2015, 3, 13));
        body.grade = grade;
        list(&api, &staff, body).await.expect("listed");
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = api
            .list_children(request(
                &staff,
                in_campaign(),
                pb::ListChildrenRequest {
                    parent: CAMPAIGN.into(),
                    page_size: 2,
                    page_token: token.clone(),
                    ..Default::default()
                },
            ))
            .await
            .expect("a page")
            .into_inner();
        let cursor = decode_token(&page.next_page_token);
        for c in &page.children {
            assert!(
                !cursor.contains(&c.family_name) && !cursor.contains(&c.given_name),
                "a page token carries no name: {cursor}"
            );
            seen.push((c.school.clone(), c.grade, c.family_name.clone()));
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        seen,
        [
            ("schools/almaty-12".to_string(), 1, "Яковлев".to_string()),
            ("schools/almaty-12".to_string(), 2, "Айтбаев".to_string()),
            ("schools/almaty-12".to_string(), 2, "Әлиев".to_string()),
            ("schools/almaty-12".to_string(), 2, "Бекова".to_string()),
            ("schools/almaty-40".to_string(), 2, "Бекова".to_string()),
        ]
    );
    let filtered = |filter: pb::ListChildrenRequest| list_all(&api, &staff, filter);
    assert_eq!(
        filtered(pb::ListChildrenRequest {
            without_iin_only: true,
            ..Default::default()
        })
        .await
        .expect("without an IIN")
        .len(),
        4
    );
    assert_eq!(
        filtered(pb::ListChildrenRequest {
            school: "schools/almaty-40".into(),
            ..Default::default()
        })
        .await
        .expect("one school")
        .len(),
        1
    );
    assert_eq!(
        filtered(pb::ListChildrenRequest {
            category: pb::ChildCategory::Orphan as i32,
            ..Default::default()
        })
        .await
        .expect("no orphan")
        .len(),
        0
    );
    assert_eq!(
        filtered(pb::ListChildrenRequest {
            attendance: pb::ChildAttendance::NotChecked as i32,
            ..Default::default()
        })
        .await
        .expect("none checked yet")
        .len(),
        5
    );
    assert!(
        filtered(pb::ListChildrenRequest {
            uncovered_needs_only: true,
            ..Default::default()
        })
        .await
        .expect("no needs yet")
        .is_empty()
    );
    let bad_token = filtered(pb::ListChildrenRequest {
        page_token: "bm90IGEgdG9rZW4".into(),
        ..Default::default()
    })
    .await
    .expect_err("not a token");
    assert_eq!(reason(&bad_token), "PAGE_TOKEN_INVALID");
    assert!(
        list_all(&api, &school_staff("astana-7"), Default::default())
            .await
            .expect("another region's school")
            .is_empty()
    );
}

/// A record as the store takes it: born 2015-03-13 with [`IIN_FIRST_WEIGHTS`].
fn draft(school: &str, family: &str) -> ChildDraft {
    ChildDraft {
        iin: Some(Iin::parse(IIN_FIRST_WEIGHTS).expect("valid")),
        family_name: family.into(),
        given_name: "Әлия".into(),
        patronymic: String::new(),
        birth_date: jiff::civil::date(2015, 3, 13),
        grade: 2,
        categories: vec![Category::LowIncome],
        other_risk_reason: String::new(),
        identification_source: Source::Survey,
        school_id: school.into(),
        consent: Consent {
            representative_name: "Мать".into(),
            give_date: jiff::civil::date(2023, 8, 3),
            document: String::new(),
        },
    }
}

/// The call context of a school's staff inside the campaign.
fn context(staff: &str) -> CallContext {
    CallContext::new(Some(school_staff(staff)), "request", None, in_campaign())
}

/// The campaign's ID.
const CAMPAIGN_ID: &str = "doroga-v-shkolu-2023";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_waits_for_an_uncommitted_one_of_the_same_iin_and_finds_it() {
    let (fx, _api) = setup().await;
    let campaign = CAMPAIGN_ID;
    let mut first = fx.store.begin().await.expect("first transaction");
    let Listed::New(created) = children::create(
        &mut first,
        &context("almaty-12"),
        campaign,
        "KZ-75",
        &draft("almaty-12", "Сейтқали"),
    )
    .await
    .expect("inserted, not committed yet") else {
        panic!("a new record")
    };
    let store = fx.store.clone();
    let (second_draft, second_context) = (draft("astana-7", "Сейткали"), context("astana-7"));
    let second = tokio::spawn(async move {
        let mut tx = store.begin().await.expect("second transaction");
        let listed = children::create(&mut tx, &second_context, campaign, "KZ-71", &second_draft)
            .await
            .expect("answered");
        tx.commit().await.expect("commit");
        listed
    });
    wait_for_a_lock_wait(&fx).await;
    assert!(
        !second.is_finished(),
        "the second listing waits on the unique index"
    );
    first.commit().await.expect("commit the first");
    match second.await.expect("task") {
        Listed::Existing(holder) => {
            assert_eq!(holder.name, created.name());
            assert_eq!(holder.school_id, "almaty-12");
        }
        Listed::New(_) => panic!("one IIN became two records"),
    }
    assert_eq!(fx.count("SELECT count(*) FROM aid.children").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_an_iin_a_concurrent_listing_takes_first_is_an_answer_not_a_failure() {
    let (fx, api) = setup().await;
    let without = list(
        &api,
        &school_staff("almaty-12"),
        child("almaty-12", "", "Омаров", "Нурлан", (2015, 3, 13)),
    )
    .await
    .expect("without an IIN");
    let (_, id) = without.name.rsplit_once('/').expect("an ID");
    // A listing of the IIN by another school, inserted but not committed yet.
    let mut listing = fx.store.begin().await.expect("listing transaction");
    let Listed::New(created) = children::create(
        &mut listing,
        &context("astana-7"),
        CAMPAIGN_ID,
        "KZ-71",
        &draft("astana-7", "Ахметова"),
    )
    .await
    .expect("inserted") else {
        panic!("a new record")
    };
    // The correction does not see it yet, and its UPDATE waits on the unique index.
    let store = fx.store.clone();
    let id = id.to_string();
    let correction = tokio::spawn(async move {
        let mut tx = store.begin().await.expect("correction transaction");
        let locked = children::lock(&mut tx, CAMPAIGN_ID, &id)
            .await
            .expect("read")
            .expect("the record");
        let mut next = draft("almaty-12", "Омаров");
        next.given_name = "Нурлан".into();
        let corrected = children::update(
            &mut tx,
            &context("almaty-12"),
            &locked,
            &next,
            "KZ-75",
            &["iin".to_string()],
        )
        .await
        .expect("answered, the transaction still usable");
        tx.commit().await.expect("commit");
        corrected
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !correction.is_finished(),
        "the UPDATE waits for the listing"
    );
    listing.commit().await.expect("commit the listing");
    match correction.await.expect("task") {
        Corrected::IinHeld(holder) => assert_eq!(holder.name, created.name()),
        Corrected::Changed(_) => panic!("one IIN on two records"),
    }
    let unchanged = get(&api, &school_staff("almaty-12"), &without.name)
        .await
        .expect("its record");
    assert_eq!(unchanged.iin_suffix, "");
    assert!(unchanged.probable_duplicate, "the two are flagged SAME_IIN");
    assert_eq!(
        fx.count("SELECT count(*) FROM aid.probable_duplicates WHERE match = 'SAME_IIN'")
            .await,
        1
    );
}

/// Locks this backend holds in Postgres's shared lock table (row locks live in the rows).
async fn shared_locks(tx: &mut sqlx::PgConnection) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()")
        .fetch_one(tx)
        .await
        .expect("pg_locks")
}

#[tokio::test]
async fn a_transaction_listing_many_children_holds_no_more_shared_locks_than_one_listing() {
    // An import lists every row of an upload (up to 200 000) in one transaction; a lock per
    // child in the shared lock table ran it out of memory past about 12 700 rows.
    let (fx, _api) = setup().await;
    let mut tx = fx.store.begin().await.expect("transaction");
    let mut listed = Vec::new();
    for i in 0..60u32 {
        let mut child = draft("almaty-12", &format!("Ребёнок{i:03}"));
        child.iin = Some(Iin::parse(&iin_for(2015, 3, 13, i * 101)).expect("valid"));
        children::create(&mut tx, &context("almaty-12"), CAMPAIGN_ID, "KZ-75", &child)
            .await
            .expect("listed");
        if i == 4 || i == 59 {
            listed.push(shared_locks(&mut tx).await);
        }
    }
    assert_eq!(listed[0], listed[1], "locks after 5 and after 60 children");
    tx.commit().await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_without_an_iin_waits_for_an_uncommitted_one_of_the_same_name_and_date() {
    let (fx, _api) = setup().await;
    let without_iin = |school: &str| ChildDraft {
        iin: None,
        ..draft(school, "Жұмабекова")
    };
    let mut first = fx.store.begin().await.expect("first transaction");
    let Listed::New(created) = children::create(
        &mut first,
        &context("almaty-12"),
        CAMPAIGN_ID,
        "KZ-75",
        &without_iin("almaty-12"),
    )
    .await
    .expect("first listing") else {
        panic!("a new record")
    };
    let store = fx.store.clone();
    let second_draft = without_iin("almaty-12");
    let second = tokio::spawn(async move {
        let mut tx = store.begin().await.expect("second transaction");
        let listed = children::create(
            &mut tx,
            &context("almaty-12"),
            CAMPAIGN_ID,
            "KZ-75",
            &second_draft,
        )
        .await
        .expect("answered");
        tx.commit().await.expect("commit");
        listed
    });
    // The second listing waits for the first, which holds the identity.
    wait_for_a_lock_wait(&fx).await;
    assert!(!second.is_finished());
    first.commit().await.expect("commit the first");
    match second.await.expect("the second listing") {
        Listed::Existing(holder) => assert!(holder.name.ends_with(&created.id)),
        Listed::New(_) => panic!("the same school listed the same child twice"),
    }
}

/// Returns once another session of the test's database waits for a lock (the second of
/// two racing listings), so the first commits only after the race has really happened.
async fn wait_for_a_lock_wait(fx: &Fixture) {
    for _ in 0..2_000 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(fx.db.pool())
        .await
        .expect("pg_stat_activity");
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("no listing ever waited for the other");
}
