//! `InstitutionService` through its handlers: registering institutions in the regional
//! centre's own region, reading and listing them by standing, the curator's appointment, the
//! road map's stages and approval, and the bank of best practices.

use edu_kit::auth::Caller;
use edu_kit::testing::{bad_fields, error_metadata, reason};
use edu_kit::wire;
use edu_mentoring::api::InstitutionsApi;
use edu_mentoring::domain::{MentoringForm, PairType, ParticipantRole};
use edu_mentoring::store::institutions::{self, InstitutionDraft};
use edu_mentoring::store::road_map::{self, Practice};
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::institution_service_server::InstitutionService;
use jiff::civil::date;
use tonic::{Code, Response, Status};

use crate::callers::{
    at, caller, curator, director, event_consumer, guardian, now, outsider, participant,
    regional_centre, request,
};
use crate::common::{Fixture, INST, PUPIL, appoint, context, in_tx, pair, person, revoke, who};

const MECHTA: &str = "institutions/mechta";
const STAGE_IDS: [&str; 7] = [
    "preparing-conditions",
    "mentee-bank",
    "mentor-bank",
    "selection-and-training",
    "pairs-at-work",
    "completion",
    "information-support",
];

fn api(fx: &Fixture) -> InstitutionsApi {
    InstitutionsApi::new(fx.store.clone())
}

/// Registers institution `id` through the store, as a fixture.
async fn register(fx: &Fixture, id: &str, display_name: &str, region: &str) {
    in_tx!(fx, |tx| institutions::create(
        &mut tx,
        &context(),
        &InstitutionDraft {
            id: id.into(),
            display_name: display_name.into(),
            short_name: String::new(),
            region_code: region.into(),
            time_zone: "Europe/Saratov".into(),
            regulation: String::new(),
        },
    )
    .await)
    .expect("institution");
}

fn participant_name(id: &str) -> String {
    format!("{MECHTA}/participants/{id}")
}

fn stage_name(stage: &str) -> String {
    format!("{MECHTA}/roadMapStages/{stage}")
}

fn day(y: i16, m: i8, d: i8) -> Option<edu_proto::google::r#type::Date> {
    Some(wire::date(date(y, m, d)))
}

fn new_institution() -> pb::CreateInstitutionRequest {
    pb::CreateInstitutionRequest {
        institution: Some(pb::Institution {
            display_name: "МБУ ДО «Дом детского творчества» г. Энгельса".into(),
            short_name: "ДДТ Энгельс".into(),
            region_code: "RU-SAR".into(),
            time_zone: "Europe/Saratov".into(),
            regulation: "Положение о наставничестве, утверждено приказом № 17 от 14.04.2022".into(),
            ..pb::Institution::default()
        }),
        institution_id: "ddt-engels".into(),
        request_id: String::new(),
    }
}

async fn create(
    api: &InstitutionsApi,
    who: &Caller,
    body: pb::CreateInstitutionRequest,
) -> Result<pb::Institution, Status> {
    api.create_institution(request(who, now(), body))
        .await
        .map(Response::into_inner)
}

async fn get(api: &InstitutionsApi, who: &Caller, name: &str) -> Result<pb::Institution, Status> {
    api.get_institution(request(
        who,
        now(),
        pb::GetInstitutionRequest { name: name.into() },
    ))
    .await
    .map(Response::into_inner)
}

async fn list(
    api: &InstitutionsApi,
    who: &Caller,
    body: pb::ListInstitutionsRequest,
) -> Result<pb::ListInstitutionsResponse, Status> {
    api.list_institutions(request(who, now(), body))
        .await
        .map(Response::into_inner)
}

async fn appoint_curator(
    api: &InstitutionsApi,
    who: &Caller,
    body: pb::AppointCuratorRequest,
) -> Result<pb::Institution, Status> {
    api.appoint_curator(request(who, now(), body))
        .await
        .map(Response::into_inner)
}

fn appointment(curator: &str, basis: &str) -> pb::AppointCuratorRequest {
    pb::AppointCuratorRequest {
        name: MECHTA.into(),
        curator: curator.into(),
        basis: basis.into(),
        etag: String::new(),
        request_id: String::new(),
    }
}

async fn update_stage(
    api: &InstitutionsApi,
    who: &Caller,
    stage: pb::RoadMapStage,
    paths: &[&str],
) -> Result<pb::RoadMapStage, Status> {
    api.update_road_map_stage(request(
        who,
        now(),
        pb::UpdateRoadMapStageRequest {
            road_map_stage: Some(stage),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_string()).collect(),
            }),
        },
    ))
    .await
    .map(Response::into_inner)
}

/// A stage change naming `stage`, planned for all of 2025.
fn planned(stage: &str) -> pb::RoadMapStage {
    pb::RoadMapStage {
        name: stage_name(stage),
        planned_start_date: day(2025, 1, 1),
        planned_end_date: day(2025, 12, 31),
        ..pb::RoadMapStage::default()
    }
}

async fn approve(
    api: &InstitutionsApi,
    who: &Caller,
    basis: &str,
    etag: &str,
) -> Result<pb::Institution, Status> {
    api.approve_road_map(request(
        who,
        now(),
        pb::ApproveRoadMapRequest {
            name: MECHTA.into(),
            basis: basis.into(),
            etag: etag.into(),
        },
    ))
    .await
    .map(Response::into_inner)
}

async fn create_practice(
    api: &InstitutionsApi,
    who: &Caller,
    practice: pb::Practice,
    request_id: &str,
) -> Result<pb::Practice, Status> {
    api.create_practice(request(
        who,
        now(),
        pb::CreatePracticeRequest {
            parent: MECHTA.into(),
            practice: Some(practice),
            request_id: request_id.into(),
        },
    ))
    .await
    .map(Response::into_inner)
}

async fn list_practices(
    api: &InstitutionsApi,
    who: &Caller,
    body: pb::ListPracticesRequest,
) -> Result<pb::ListPracticesResponse, Status> {
    api.list_practices(request(who, now(), body))
        .await
        .map(Response::into_inner)
}

fn practices_of(parent: &str) -> pb::ListPracticesRequest {
    pb::ListPracticesRequest {
        parent: parent.into(),
        ..pb::ListPracticesRequest::default()
    }
}

fn titles(page: &pb::ListPracticesResponse) -> Vec<&str> {
    page.practices.iter().map(|p| p.title.as_str()).collect()
}

#[tokio::test]
async fn the_regional_centre_registers_an_institution_of_its_region_with_seven_unplanned_stages() {
    let fx = Fixture::new().await;
    let api = api(&fx);
    let centre = regional_centre("RU-SAR");
    let mut body = new_institution();
    body.request_id = "register-ddt-engels".into();
    let created = create(&api, &centre, body.clone())
        .await
        .expect("registered");
    assert_eq!(created.name, "institutions/ddt-engels");
    assert_eq!(
        created.display_name,
        "МБУ ДО «Дом детского творчества» г. Энгельса"
    );
    assert_eq!(created.short_name, "ДДТ Энгельс");
    assert_eq!(
        (created.region_code.as_str(), created.time_zone.as_str()),
        ("RU-SAR", "Europe/Saratov")
    );
    assert!(created.regulation.starts_with("Положение о наставничестве"));
    assert_eq!(created.curator, "");
    assert_eq!(created.curator_appoint_time, None);
    assert_eq!(created.create_time, Some(wire::timestamp(now())));
    assert!(!created.etag.is_empty());
    let road_map = created.road_map.clone().expect("road map");
    assert_eq!(road_map.state, pb::RoadMapState::Draft as i32);
    assert_eq!(road_map.approval_basis, "");
    assert_eq!(road_map.approve_time, None);
    assert_eq!(road_map.overdue_stages, 0);
    let names: Vec<String> = road_map.stages.iter().map(|s| s.name.clone()).collect();
    let expected: Vec<String> = STAGE_IDS
        .iter()
        .map(|s| format!("institutions/ddt-engels/roadMapStages/{s}"))
        .collect();
    assert_eq!(names, expected);
    assert_eq!(
        road_map.stages[0].kind,
        pb::RoadMapStageKind::PreparingConditions as i32
    );
    assert_eq!(
        road_map.stages[6].kind,
        pb::RoadMapStageKind::InformationSupport as i32
    );
    for stage in &road_map.stages {
        assert_eq!(stage.status, pb::RoadMapStageStatus::NotStarted as i32);
        assert_eq!(stage.planned_start_date, None);
        assert!(!stage.overdue);
        assert!(!stage.etag.is_empty());
    }
    // A retry with the same request_id answers the first result…
    let again = create(&api, &centre, body.clone()).await.expect("retried");
    assert_eq!(again, created);
    // …and the same request_id for another request is refused.
    let mut other = body.clone();
    other.institution_id = "ddt-balakovo".into();
    let reused = create(&api, &centre, other).await.expect_err("reused");
    assert_eq!(reused.code(), Code::InvalidArgument);
    assert_eq!(reason(&reused), "REQUEST_ID_REUSED");
    // The centre reads what it registered.
    let read = get(&api, &centre, "institutions/ddt-engels")
        .await
        .expect("read");
    assert_eq!(read, created);
    // Without a short name the institution goes by its full name.
    let mut plain = new_institution();
    plain.institution_id = "ddt-marks".into();
    if let Some(i) = plain.institution.as_mut() {
        i.short_name = String::new();
    }
    let plain = create(&api, &centre, plain).await.expect("registered");
    assert_eq!(plain.short_name, plain.display_name);
}

#[tokio::test]
async fn registering_refuses_bad_fields_another_region_other_roles_and_a_taken_id() {
    let fx = Fixture::new().await;
    let api = api(&fx);
    let centre = regional_centre("RU-SAR");
    let mut bad = new_institution();
    bad.institution_id = "1-Engels".into();
    if let Some(i) = bad.institution.as_mut() {
        i.display_name = "  ".into();
        i.region_code = "Saratov".into();
        i.time_zone = "Mars/Olympus".into();
        i.short_name = "к".repeat(201);
    }
    let refused = create(&api, &centre, bad).await.expect_err("bad fields");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    let mut fields = bad_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            "institution.display_name",
            "institution.region_code",
            "institution.short_name",
            "institution.time_zone",
            "institution_id",
        ]
    );
    // A region outside Russia is not one the service registers.
    let mut foreign = new_institution();
    if let Some(i) = foreign.institution.as_mut() {
        i.region_code = "BG-22".into();
    }
    let refused = create(&api, &centre, foreign).await.expect_err("foreign");
    assert_eq!(bad_fields(&refused), ["institution.region_code"]);
    // A legacy zone name jiff knows but the registry does not keep.
    let mut legacy = new_institution();
    if let Some(i) = legacy.institution.as_mut() {
        i.time_zone = "EST5EDT".into();
    }
    let refused = create(&api, &centre, legacy)
        .await
        .expect_err("legacy zone");
    assert_eq!(bad_fields(&refused), ["institution.time_zone"]);
    // Another region than the centre's own.
    let mut moscow = new_institution();
    if let Some(i) = moscow.institution.as_mut() {
        i.region_code = "RU-MOW".into();
        i.time_zone = "Europe/Moscow".into();
    }
    let refused = create(&api, &centre, moscow)
        .await
        .expect_err("another region");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reason(&refused), "SCOPE_REQUIRED");
    assert_eq!(
        error_metadata(&refused, "region_code").as_deref(),
        Some("RU-MOW")
    );
    // Any other role, the institution's own director included.
    for someone in [director(), participant("v"), outsider()] {
        let refused = create(&api, &someone, new_institution())
            .await
            .expect_err("not the centre");
        assert_eq!(refused.code(), Code::PermissionDenied);
        assert_eq!(reason(&refused), "ROLE_REQUIRED");
    }
    // A taken ID.
    let mut taken = new_institution();
    taken.institution_id = INST.into();
    let refused = create(&api, &centre, taken).await.expect_err("taken");
    assert_eq!(refused.code(), Code::AlreadyExists);
    assert_eq!(reason(&refused), "ALREADY_EXISTS");
    assert_eq!(
        error_metadata(&refused, "field").as_deref(),
        Some("institution_id")
    );
}

#[tokio::test]
async fn an_institution_is_read_by_its_people_and_its_regional_centre_and_names_no_curator() {
    let fx = Fixture::new().await;
    let api = api(&fx);
    person(&fx, "c", who(ParticipantRole::Educator)).await;
    person(&fx, "v", who(ParticipantRole::Volunteer)).await;
    person(&fx, "kid", PUPIL).await;
    appoint(&fx, "c").await;
    for reader in [
        director(),
        curator("c"),
        curator("not-appointed"),
        participant("v"),
        guardian("kid"),
        regional_centre("RU-SAR"),
    ] {
        let read = get(&api, &reader, MECHTA).await.expect("reads");
        assert_eq!(read.name, MECHTA);
        assert_eq!(read.road_map.map(|r| r.stages.len()), Some(7));
        // The curator is a resource name, never a name of a person.
        assert_eq!(read.curator, participant_name("c"));
        assert_eq!(read.curator_appointment_basis, "приказ № 21 от 01.09.2024");
        assert_eq!(read.curator_appoint_time, Some(wire::timestamp(now())));
    }
    // Outside the tenant it does not exist, exactly as a missing one.
    for stranger in [
        outsider(),
        regional_centre("RU-MOW"),
        participant("stranger"),
        guardian("v"),
    ] {
        let refused = get(&api, &stranger, MECHTA).await.expect_err("outside");
        assert_eq!(refused.code(), Code::NotFound);
        assert_eq!(reason(&refused), "NOT_FOUND");
    }
    let missing = get(&api, &regional_centre("RU-SAR"), "institutions/nowhere")
        .await
        .expect_err("missing");
    assert_eq!(reason(&missing), "NOT_FOUND");
    let malformed = get(&api, &director(), "institution/mechta")
        .await
        .expect_err("malformed");
    assert_eq!(bad_fields(&malformed), ["name"]);
}

#[tokio::test]
async fn each_caller_lists_the_institutions_it_reads_in_russian_order() {
    let fx = Fixture::new().await;
    let api = api(&fx);
    person(&fx, "v", who(ParticipantRole::Volunteer)).await;
    register(&fx, "rodnik", "Родник", "RU-SAR").await;
    register(&fx, "alye-parusa", "Алые паруса", "RU-SAR").await;
    register(&fx, "moskva", "Центр наставничества", "RU-MOW").await;
    let centre = regional_centre("RU-SAR");
    let ids = |page: &pb::ListInstitutionsResponse| -> Vec<String> {
        page.institutions.iter().map(|i| i.name.clone()).collect()
    };
    let first = list(
        &api,
        &centre,
        pb::ListInstitutionsRequest {
            page_size: 2,
            ..Default::default()
        },
    )
    .await
    .expect("first page");
    assert_eq!(ids(&first), ["institutions/alye-parusa", MECHTA]);
    assert!(!first.next_page_token.is_empty());
    assert_eq!(
        first.institutions[1]
            .road_map
            .as_ref()
            .map(|r| r.stages.len()),
        Some(7)
    );
    let second = list(
        &api,
        &centre,
        pb::ListInstitutionsRequest {
            page_size: 2,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("second page");
    assert_eq!(ids(&second), ["institutions/rodnik"]);
    assert_eq!(second.next_page_token, "");
    // A token is good only for its own query.
    let refused = list(
        &api,
        &centre,
        pb::ListInstitutionsRequest {
            region_code: "RU-SAR".into(),
            page_size: 2,
            page_token: first.next_page_token.clone(),
        },
    )
    .await
    .expect_err("another query");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(reason(&refused), "PAGE_TOKEN_INVALID");
    // The region filter narrows what the caller reads; it never widens it.
    let moscow = list(
        &api,
        &centre,
        pb::ListInstitutionsRequest {
            region_code: "RU-MOW".into(),
            ..Default::default()
        },
    )
    .await
    .expect("filtered");
    assert!(moscow.institutions.is_empty());
    let abroad = list(
        &api,
        &centre,
        pb::ListInstitutionsRequest {
            region_code: "BG-22".into(),
            ..Default::default()
        },
    )
    .await
    .expect("any ISO 3166-2 code filters");
    assert!(abroad.institutions.is_empty());
    let refused = list(
        &api,
        &centre,
        pb::ListInstitutionsRequest {
            region_code: "Саратов".into(),
            ..Default::default()
        },
    )
    .await
    .expect_err("not a region");
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    assert_eq!(bad_fields(&refused), ["region_code"]);
    // Staff and participants read their own institution only; a stranger nothing.
    for reader in [director(), participant("v")] {
        let own = list(&api, &reader, pb::ListInstitutionsRequest::default())
            .await
            .expect("own");
        assert_eq!(ids(&own), [MECHTA]);
    }
    for stranger in [outsider(), participant("stranger")] {
        let none = list(&api, &stranger, pb::ListInstitutionsRequest::default())
            .await
            .expect("nothing");
        assert!(none.institutions.is_empty());
    }
    // Moscow's centre reads Moscow's.
    let own = list(
        &api,
        &regional_centre("RU-MOW"),
        pb::ListInstitutionsRequest::default(),
    )
    .await
    .expect("moscow");
    assert_eq!(ids(&own), ["institutions/moskva"]);
    // Without a role of this service.
    let refused = list(
        &api,
        &caller("organiser", &["competitions.organiser"], &["region:RU-SAR"]),
        pb::ListInstitutionsRequest::default(),
    )
    .await
    .expect_err("no role");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reason(&refused), "ROLE_REQUIRED");
}

#[tokio::test]
async fn the_director_appoints_the_curator_who_acts_from_then_on() {
    let fx = Fixture::new().await;
    let api = api(&fx);
    person(&fx, "c", who(ParticipantRole::Educator)).await;
    let progress = pb::RoadMapStage {
        name: stage_name("mentor-bank"),
        activities: "анкетирование потенциальных наставников".into(),
        ..pb::RoadMapStage::default()
    };
    // Before the appointment the curator's token does not act.
    let refused = update_stage(&api, &curator("c"), progress.clone(), &["activities"])
        .await
        .expect_err("not appointed");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reason(&refused), "CURATOR_NOT_APPOINTED");
    let before = get(&api, &director(), MECHTA).await.expect("read");
    let mut body = appointment(&participant_name("c"), "приказ № 21 от 01.09.2024");
    body.request_id = "appoint-c".into();
    body.etag = before.etag.clone();
    let appointed = appoint_curator(&api, &director(), body.clone())
        .await
        .expect("appointed");
    assert_eq!(appointed.curator, participant_name("c"));
    assert_eq!(
        appointed.curator_appointment_basis,
        "приказ № 21 от 01.09.2024"
    );
    assert_eq!(appointed.curator_appoint_time, Some(wire::timestamp(now())));
    assert_ne!(appointed.etag, before.etag);
    assert_eq!(
        fx.scalar(
            "SELECT count(*) FROM mentoring.participants WHERE id = 'c' AND role = 'CURATOR'"
        )
        .await,
        1
    );
    // The same request again answers the first result; another under its ID is refused.
    let again = appoint_curator(&api, &director(), body.clone())
        .await
        .expect("retried");
    assert_eq!(again, appointed);
    let mut other = body.clone();
    other.basis = "приказ № 22 от 02.09.2024".into();
    let reused = appoint_curator(&api, &director(), other)
        .await
        .expect_err("reused");
    assert_eq!(reason(&reused), "REQUEST_ID_REUSED");
    // Appointing the curator again on the same basis changes nothing.
    let same = appoint_curator(
        &api,
        &director(),
        appointment(&participant_name("c"), "приказ № 21 от 01.09.2024"),
    )
    .await
    .expect("unchanged");
    assert_eq!(same.etag, appointed.etag);
    // A stale etag is refused.
    let mut stale = appointment(&participant_name("c"), "приказ № 22 от 02.09.2024");
    stale.etag = before.etag.clone();
    let refused = appoint_curator(&api, &director(), stale)
        .await
        .expect_err("stale");
    assert_eq!(refused.code(), Code::Aborted);
    assert_eq!(reason(&refused), "ETAG_MISMATCH");
    // Now the curator acts…
    let stage = update_stage(&api, &curator("c"), progress, &["activities"])
        .await
        .expect("the appointed curator records progress");
    assert_eq!(stage.activities, "анкетирование потенциальных наставников");
    // …but does not appoint.
    let refused = appoint_curator(
        &api,
        &curator("c"),
        appointment(&participant_name("c"), "приказ № 23"),
    )
    .await
    .expect_err("the curator");
    assert_eq!(reason(&refused), "ROLE_REQUIRED");
}

#[tokio::test]
async fn appointing_refuses_bad_fields_strangers_and_whom_the_regulation_excludes() {
    let fx = Fixture::new().await;
    let api = api(&fx);
    person(&fx, "kid", PUPIL).await;
    person(&fx, "gone", who(ParticipantRole::Educator)).await;
    revoke(&fx, "gone").await.expect("revoked");
    person(&fx, "e", who(ParticipantRole::Educator)).await;
    person(&fx, "k", who(ParticipantRole::Counsellor)).await;
    pair(
        &fx,
        "p1",
        PairType::EducatorCounsellor,
        MentoringForm::ShortTerm,
        "e",
        &["k"],
    )
    .await
    .expect("pair");
    let refused = appoint_curator(&api, &director(), appointment("", " "))
        .await
        .expect_err("empty");
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    assert_eq!(bad_fields(&refused), ["curator", "basis"]);
    let refused = appoint_curator(
        &api,
        &director(),
        appointment("institutions/elsewhere/participants/e", "приказ"),
    )
    .await
    .expect_err("another institution's");
    assert_eq!(bad_fields(&refused), ["curator"]);
    // Visibility before the role: outside the tenant NOT_FOUND, inside ROLE_REQUIRED.
    let refused = appoint_curator(
        &api,
        &outsider(),
        appointment(&participant_name("e"), "приказ"),
    )
    .await
    .expect_err("outsider");
    assert_eq!(refused.code(), Code::NotFound);
    for someone in [participant("k"), regional_centre("RU-SAR")] {
        let refused = appoint_curator(
            &api,
            &someone,
            appointment(&participant_name("e"), "приказ"),
        )
        .await
        .expect_err("not the director");
        assert_eq!(refused.code(), Code::PermissionDenied);
        assert_eq!(reason(&refused), "ROLE_REQUIRED");
    }
    let refused = appoint_curator(
        &api,
        &director(),
        appointment(&participant_name("ghost"), "приказ"),
    )
    .await
    .expect_err("missing");
    assert_eq!(refused.code(), Code::NotFound);
    let refused = appoint_curator(
        &api,
        &director(),
        appointment(&participant_name("kid"), "приказ"),
    )
    .await
    .expect_err("a pupil");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "PARTICIPANT_ROLE_MISMATCH");
    assert_eq!(error_metadata(&refused, "role").as_deref(), Some("PUPIL"));
    let refused = appoint_curator(
        &api,
        &director(),
        appointment(&participant_name("gone"), "приказ"),
    )
    .await
    .expect_err("redacted");
    assert_eq!(reason(&refused), "CONSENT_MISSING");
    assert_eq!(
        error_metadata(&refused, "participant"),
        Some(participant_name("gone"))
    );
    assert_eq!(
        error_metadata(&refused, "purpose").as_deref(),
        Some("PERSONAL_DATA")
    );
    let refused = appoint_curator(
        &api,
        &director(),
        appointment(&participant_name("e"), "приказ"),
    )
    .await
    .expect_err("mentoring a pair");
    assert_eq!(reason(&refused), "PARTICIPANT_IN_PAIR");
    assert_eq!(
        error_metadata(&refused, "pair").as_deref(),
        Some("institutions/mechta/pairs/p1")
    );
    assert_eq!(
        fx.scalar("SELECT count(*) FROM mentoring.institutions WHERE curator_id IS NOT NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn staff_plan_stages_and_record_their_progress() {
    let fx = Fixture::new().await;
    let api = api(&fx);
    person(&fx, "v", who(ParticipantRole::Volunteer)).await;
    let mut plan = planned("mentor-bank");
    plan.planned_start_date = day(2025, 1, 10);
    plan.planned_end_date = day(2025, 1, 31);
    plan.activities = "анкетирование, согласия наставников".into();
    let stage = update_stage(
        &api,
        &director(),
        plan,
        &["activities", "planned_start_date", "planned_end_date"],
    )
    .await
    .expect("planned");
    assert_eq!(stage.name, stage_name("mentor-bank"));
    assert_eq!(stage.kind, pb::RoadMapStageKind::MentorBank as i32);
    assert_eq!(stage.activities, "анкетирование, согласия наставников");
    assert_eq!(
        (stage.planned_start_date, stage.planned_end_date),
        (day(2025, 1, 10), day(2025, 1, 31))
    );
    assert_eq!(stage.status, pb::RoadMapStageStatus::NotStarted as i32);
    // Its planned end (31 January) is before today (12 February) and it has not ended.
    assert!(stage.overdue);
    assert_eq!(stage.update_time, Some(wire::timestamp(now())));
    let read = get(&api, &director(), MECHTA).await.expect("read");
    assert_eq!(read.road_map.as_ref().map(|r| r.overdue_stages), Some(1));
    // Progress with the etag just read.
    let started = update_stage(
        &api,
        &director(),
        pb::RoadMapStage {
            name: stage_name("mentor-bank"),
            actual_start_date: day(2025, 1, 15),
            etag: stage.etag.clone(),
            ..pb::RoadMapStage::default()
        },
        &["actual_start_date"],
    )
    .await
    .expect("started");
    assert_eq!(started.status, pb::RoadMapStageStatus::InProgress as i32);
    assert_eq!(started.activities, "анкетирование, согласия наставников");
    let done = update_stage(
        &api,
        &director(),
        pb::RoadMapStage {
            name: stage_name("mentor-bank"),
            actual_end_date: day(2025, 2, 10),
            ..pb::RoadMapStage::default()
        },
        &["actual_end_date"],
    )
    .await
    .expect("done");
    assert_eq!(done.status, pb::RoadMapStageStatus::Done as i32);
    assert!(!done.overdue);
    // A date in the mask and unset in the stage is cleared.
    let reopened = update_stage(
        &api,
        &director(),
        pb::RoadMapStage {
            name: stage_name("mentor-bank"),
            ..pb::RoadMapStage::default()
        },
        &["actual_end_date"],
    )
    .await
    .expect("cleared");
    assert_eq!(reopened.actual_end_date, None);
    assert_eq!(reopened.status, pb::RoadMapStageStatus::InProgress as i32);
    // A stale etag.
    let mut stale = planned("mentor-bank");
    stale.etag = stage.etag.clone();
    let refused = update_stage(&api, &director(), stale, &["planned_start_date"])
        .await
        .expect_err("stale");
    assert_eq!(refused.code(), Code::Aborted);
    assert_eq!(reason(&refused), "ETAG_MISMATCH");
    // Fields: outside the mask's list, an empty mask, an end before its start, an actual
    // date after today, a text over its limit.
    let refused = update_stage(&api, &director(), planned("mentor-bank"), &["kind"])
        .await
        .expect_err("not changeable");
    assert_eq!(bad_fields(&refused), ["update_mask"]);
    let refused = update_stage(&api, &director(), planned("mentor-bank"), &[])
        .await
        .expect_err("empty mask");
    assert_eq!(bad_fields(&refused), ["update_mask"]);
    let mut backwards = planned("completion");
    backwards.planned_end_date = day(2024, 12, 31);
    let refused = update_stage(
        &api,
        &director(),
        backwards,
        &["planned_start_date", "planned_end_date"],
    )
    .await
    .expect_err("backwards");
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    assert_eq!(bad_fields(&refused), ["road_map_stage.planned_end_date"]);
    let future = pb::RoadMapStage {
        name: stage_name("completion"),
        actual_start_date: day(2025, 2, 13),
        activities: "ы".repeat(5001),
        ..pb::RoadMapStage::default()
    };
    let refused = update_stage(&api, &director(), future.clone(), &["actual_start_date"])
        .await
        .expect_err("tomorrow");
    assert_eq!(bad_fields(&refused), ["road_map_stage.actual_start_date"]);
    let refused = update_stage(&api, &director(), future, &["activities"])
        .await
        .expect_err("too long");
    assert_eq!(bad_fields(&refused), ["road_map_stage.activities"]);
    let end_only = pb::RoadMapStage {
        name: stage_name("completion"),
        actual_end_date: day(2025, 2, 1),
        ..pb::RoadMapStage::default()
    };
    let refused = update_stage(&api, &director(), end_only, &["actual_end_date"])
        .await
        .expect_err("an end without a start");
    assert_eq!(bad_fields(&refused), ["road_map_stage.actual_end_date"]);
    // A stage that does not exist, and callers who may not.
    let refused = update_stage(
        &api,
        &director(),
        planned("nonsense"),
        &["planned_start_date"],
    )
    .await
    .expect_err("no such stage");
    assert_eq!(refused.code(), Code::NotFound);
    let refused = update_stage(
        &api,
        &outsider(),
        planned("completion"),
        &["planned_start_date"],
    )
    .await
    .expect_err("outsider");
    assert_eq!(refused.code(), Code::NotFound);
    for someone in [participant("v"), regional_centre("RU-SAR")] {
        let refused = update_stage(
            &api,
            &someone,
            planned("completion"),
            &["planned_start_date"],
        )
        .await
        .expect_err("not staff");
        assert_eq!(refused.code(), Code::PermissionDenied);
        assert_eq!(reason(&refused), "ROLE_REQUIRED");
    }
}

#[tokio::test]
async fn the_director_approves_a_planned_road_map_and_alone_moves_its_dates_after() {
    let fx = Fixture::new().await;
    let api = api(&fx);
    person(&fx, "c", who(ParticipantRole::Educator)).await;
    appoint(&fx, "c").await;
    let refused = approve(&api, &director(), "", "")
        .await
        .expect_err("no basis");
    assert_eq!(bad_fields(&refused), ["basis"]);
    let refused = approve(&api, &curator("c"), "приказ № 18", "")
        .await
        .expect_err("the curator");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reason(&refused), "ROLE_REQUIRED");
    let refused = approve(&api, &outsider(), "приказ № 18", "")
        .await
        .expect_err("outsider");
    assert_eq!(refused.code(), Code::NotFound);
    let refused = approve(&api, &director(), "приказ № 18", "")
        .await
        .expect_err("unplanned");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "ROAD_MAP_INCOMPLETE");
    assert_eq!(
        error_metadata(&refused, "stage"),
        Some(stage_name("preparing-conditions"))
    );
    // The curator plans every stage.
    for stage in STAGE_IDS {
        update_stage(
            &api,
            &curator("c"),
            planned(stage),
            &["planned_start_date", "planned_end_date"],
        )
        .await
        .expect("planned");
    }
    let before = get(&api, &director(), MECHTA).await.expect("read");
    let refused = approve(&api, &director(), "приказ № 18", "\"1\"")
        .await
        .expect_err("stale");
    assert_eq!(reason(&refused), "ETAG_MISMATCH");
    let approved = approve(&api, &director(), "приказ № 18 от 14.04.2022", &before.etag)
        .await
        .expect("approved");
    let road_map = approved.road_map.clone().expect("road map");
    assert_eq!(road_map.state, pb::RoadMapState::Approved as i32);
    assert_eq!(road_map.approval_basis, "приказ № 18 от 14.04.2022");
    assert_eq!(road_map.approve_time, Some(wire::timestamp(now())));
    assert_ne!(approved.etag, before.etag);
    // Approving again returns it unchanged.
    let again = approve(&api, &director(), "приказ № 19", "")
        .await
        .expect("again");
    assert_eq!(again, approved);
    // The curator no longer moves planned dates, but records progress…
    let mut moved = planned("mentor-bank");
    moved.planned_start_date = day(2025, 2, 1);
    let refused = update_stage(&api, &curator("c"), moved.clone(), &["planned_start_date"])
        .await
        .expect_err("the curator moves a planned date");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reason(&refused), "ROLE_REQUIRED");
    assert_eq!(
        error_metadata(&refused, "field").as_deref(),
        Some("planned_start_date")
    );
    let progress = pb::RoadMapStage {
        name: stage_name("mentor-bank"),
        actual_start_date: day(2025, 2, 3),
        ..pb::RoadMapStage::default()
    };
    update_stage(&api, &curator("c"), progress, &["actual_start_date"])
        .await
        .expect("progress");
    // …while the director does.
    let stage = update_stage(&api, &director(), moved, &["planned_start_date"])
        .await
        .expect("the director moves it");
    assert_eq!(stage.planned_start_date, day(2025, 2, 1));
}

fn practice(title: &str, year: i32) -> pb::Practice {
    pb::Practice {
        title: title.into(),
        summary: "Вожатые-наставники ведут новичков через первую смену.".into(),
        results: "Адаптация без конфликтов в отрядах.".into(),
        form: pb::MentoringForm::ShortTerm as i32,
        pair_type: pb::PairType::CounsellorPupil as i32,
        year,
        materials_uri: "https://mechta-saratov.ru/nastavnichestvo".into(),
        ..pb::Practice::default()
    }
}

/// Records a practice of institution `institution` through the store.
async fn recorded_practice(fx: &Fixture, institution: &str, title: &str, year: i16) {
    in_tx!(fx, |tx| road_map::create_practice(
        &mut tx,
        &context(),
        institution,
        &Practice {
            id: String::new(),
            name: String::new(),
            title: title.into(),
            summary: "Описание практики.".into(),
            results: String::new(),
            form: None,
            pair_type: None,
            year,
            materials_uri: String::new(),
            create_time: None,
        },
    )
    .await)
    .expect("practice");
}

#[tokio::test]
async fn staff_add_practices_with_checked_fields() {
    let fx = Fixture::new().await;
    let api = api(&fx);
    person(&fx, "v", who(ParticipantRole::Volunteer)).await;
    let created = create_practice(
        &api,
        &director(),
        practice("Школа вожатого", 0),
        "practice-1",
    )
    .await
    .expect("created");
    assert!(created.name.starts_with("institutions/mechta/practices/"));
    assert_eq!(created.title, "Школа вожатого");
    assert_eq!(created.form, pb::MentoringForm::ShortTerm as i32);
    assert_eq!(created.pair_type, pb::PairType::CounsellorPupil as i32);
    // Zero is this year in Saratov.
    assert_eq!(created.year, 2025);
    assert_eq!(created.institution_display_name, "Мечта");
    assert_eq!(
        created.materials_uri,
        "https://mechta-saratov.ru/nastavnichestvo"
    );
    assert_eq!(created.create_time, Some(wire::timestamp(now())));
    let again = create_practice(
        &api,
        &director(),
        practice("Школа вожатого", 0),
        "practice-1",
    )
    .await
    .expect("retried");
    assert_eq!(again, created);
    let reused = create_practice(&api, &director(), practice("Другая", 0), "practice-1")
        .await
        .expect_err("reused");
    assert_eq!(reason(&reused), "REQUEST_ID_REUSED");
    // Every bad field at once.
    let mut bad = practice("", 2018);
    bad.summary = String::new();
    bad.materials_uri = "ftp://mechta-saratov.ru/files".into();
    bad.form = 42;
    let refused = create_practice(&api, &director(), bad, "")
        .await
        .expect_err("bad fields");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    assert_eq!(
        bad_fields(&refused),
        [
            "practice.title",
            "practice.summary",
            "practice.form",
            "practice.year",
            "practice.materials_uri",
        ]
    );
    let refused = create_practice(&api, &director(), practice("Будущее", 2026), "")
        .await
        .expect_err("next year");
    assert_eq!(bad_fields(&refused), ["practice.year"]);
    // Who may not.
    let refused = create_practice(&api, &outsider(), practice("Чужая", 0), "")
        .await
        .expect_err("outsider");
    assert_eq!(refused.code(), Code::NotFound);
    for someone in [participant("v"), regional_centre("RU-SAR")] {
        let refused = create_practice(&api, &someone, practice("Чужая", 0), "")
            .await
            .expect_err("not staff");
        assert_eq!(reason(&refused), "ROLE_REQUIRED");
    }
    let refused = create_practice(&api, &curator("not-appointed"), practice("Чужая", 0), "")
        .await
        .expect_err("not appointed");
    assert_eq!(reason(&refused), "CURATOR_NOT_APPOINTED");
}

#[tokio::test]
async fn practices_are_read_by_whoever_reads_the_institution_and_region_wide_by_its_centre() {
    let fx = Fixture::new().await;
    let api = api(&fx);
    person(&fx, "v", who(ParticipantRole::Volunteer)).await;
    person(&fx, "kid", PUPIL).await;
    register(&fx, "rodnik", "Родник", "RU-SAR").await;
    register(&fx, "moskva", "Центр наставничества", "RU-MOW").await;
    for (title, year) in [
        ("Вожатый рядом", 2024),
        ("Адаптация", 2025),
        ("Берег", 2025),
    ] {
        create_practice(&api, &director(), practice(title, year), "")
            .await
            .expect("created");
    }
    recorded_practice(&fx, "rodnik", "Родниковая тропа", 2023).await;
    recorded_practice(&fx, "moskva", "Московская", 2025).await;
    // Everyone in the institution reads its practices, the latest year first, then by title.
    for reader in [
        director(),
        participant("v"),
        guardian("kid"),
        regional_centre("RU-SAR"),
    ] {
        let page = list_practices(&api, &reader, practices_of(MECHTA))
            .await
            .expect("read");
        assert_eq!(titles(&page), ["Адаптация", "Берег", "Вожатый рядом"]);
    }
    // The regional centre's bank of its region, in pages.
    let centre = regional_centre("RU-SAR");
    let first = list_practices(
        &api,
        &centre,
        pb::ListPracticesRequest {
            page_size: 2,
            ..practices_of("institutions/-")
        },
    )
    .await
    .expect("first page");
    assert_eq!(titles(&first), ["Адаптация", "Берег"]);
    assert_eq!(first.practices[0].institution_display_name, "Мечта");
    let second = list_practices(
        &api,
        &centre,
        pb::ListPracticesRequest {
            page_size: 2,
            page_token: first.next_page_token.clone(),
            ..practices_of("institutions/-")
        },
    )
    .await
    .expect("second page");
    assert_eq!(titles(&second), ["Вожатый рядом", "Родниковая тропа"]);
    assert_eq!(second.practices[1].institution_display_name, "Родник");
    assert_eq!(second.next_page_token, "");
    let refused = list_practices(
        &api,
        &centre,
        pb::ListPracticesRequest {
            page_size: 2,
            year: 2025,
            page_token: first.next_page_token.clone(),
            ..practices_of("institutions/-")
        },
    )
    .await
    .expect_err("another query");
    assert_eq!(reason(&refused), "PAGE_TOKEN_INVALID");
    // Filters.
    let of_2025 = list_practices(
        &api,
        &centre,
        pb::ListPracticesRequest {
            year: 2025,
            form: pb::MentoringForm::ShortTerm as i32,
            ..practices_of("institutions/-")
        },
    )
    .await
    .expect("filtered");
    assert_eq!(titles(&of_2025), ["Адаптация", "Берег"]);
    // `institutions/-` is whatever the caller reads: the director their own institution.
    let own = list_practices(&api, &director(), practices_of("institutions/-"))
        .await
        .expect("own");
    assert_eq!(titles(&own), ["Адаптация", "Берег", "Вожатый рядом"]);
    let moscow = list_practices(
        &api,
        &regional_centre("RU-MOW"),
        practices_of("institutions/-"),
    )
    .await
    .expect("moscow");
    assert_eq!(titles(&moscow), ["Московская"]);
    // Outside the tenant the institution does not exist.
    for stranger in [
        regional_centre("RU-MOW"),
        outsider(),
        participant("stranger"),
    ] {
        let refused = list_practices(&api, &stranger, practices_of(MECHTA))
            .await
            .expect_err("outside");
        assert_eq!(refused.code(), Code::NotFound);
        assert_eq!(reason(&refused), "NOT_FOUND");
    }
    let refused = list_practices(&api, &event_consumer(), practices_of("institutions/-"))
        .await
        .expect_err("no reading role");
    assert_eq!(reason(&refused), "ROLE_REQUIRED");
    // The clock of a later year makes its practices possible.
    let later = api
        .create_practice(request(
            &director(),
            at("2026-01-10T10:00:00+04:00"),
            pb::CreatePracticeRequest {
                parent: MECHTA.into(),
                practice: Some(practice("Новый год", 2026)),
                request_id: String::new(),
            },
        ))
        .await
        .expect("this year")
        .into_inner();
    assert_eq!(later.year, 2026);
}
