//! `PairService` through its handlers: forming the six pair types and groups, who reads which
//! pair, the order and the other changes, activation piece by piece, completion, cancellation
//! and the replacement petitions, each refusal with its reason and metadata, tenancy, roles
//! and redaction.

use edu_kit::auth::Caller;
use edu_kit::testing::{bad_fields, error_metadata, reason};
use edu_mentoring::api::PairsApi;
use edu_mentoring::domain::consent::ActorKind;
use edu_mentoring::domain::{MentoringForm, PairType, ParticipantRole};
use edu_mentoring::store::agreements::{self, ExtensionDraft};
use edu_mentoring::store::consents;
use edu_mentoring::store::petitions::{self, PetitionDraft};
use edu_mentoring::store::plans::{self, ActivityDraft, MeetingDraft, MeetingFormat};
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::pair_service_server::PairService;
use edu_proto::google::r#type::Date as PbDate;
use prost_types::FieldMask;
use tonic::{Code, Status};

use crate::callers::*;
use crate::common::*;

// ---- names, requests and calls ----

fn participant_at(id: &str) -> String {
    format!("institutions/{INST}/participants/{id}")
}

fn pair_at(id: &str) -> String {
    format!("institutions/{INST}/pairs/{id}")
}

fn day(year: i32, month: i32, day: i32) -> PbDate {
    PbDate { year, month, day }
}

fn new_pair(
    pair_type: pb::PairType,
    form: pb::MentoringForm,
    mentor: &str,
    mentees: &[&str],
) -> pb::CreatePairRequest {
    pb::CreatePairRequest {
        parent: format!("institutions/{INST}"),
        pair: Some(pb::Pair {
            pair_type: pair_type as i32,
            form: form as i32,
            mentor: participant_at(mentor),
            mentees: mentees.iter().map(|m| participant_at(m)).collect(),
            goal: "адаптация вожатого первого года в отряде".into(),
            ..pb::Pair::default()
        }),
        request_id: String::new(),
    }
}

fn counsellor_pupil(mentor: &str, mentees: &[&str]) -> pb::CreatePairRequest {
    new_pair(
        pb::PairType::CounsellorPupil,
        pb::MentoringForm::ShortTerm,
        mentor,
        mentees,
    )
}

async fn create(
    api: &PairsApi,
    who: &Caller,
    body: pb::CreatePairRequest,
) -> Result<pb::Pair, Status> {
    api.create_pair(request(who, now(), body))
        .await
        .map(tonic::Response::into_inner)
}

async fn get(api: &PairsApi, who: &Caller, id: &str) -> Result<pb::Pair, Status> {
    api.get_pair(request(
        who,
        now(),
        pb::GetPairRequest { name: pair_at(id) },
    ))
    .await
    .map(tonic::Response::into_inner)
}

async fn list(
    api: &PairsApi,
    who: &Caller,
    body: pb::ListPairsRequest,
) -> Result<pb::ListPairsResponse, Status> {
    api.list_pairs(request(who, now(), body))
        .await
        .map(tonic::Response::into_inner)
}

fn all_pairs() -> pb::ListPairsRequest {
    pb::ListPairsRequest {
        parent: format!("institutions/{INST}"),
        ..pb::ListPairsRequest::default()
    }
}

/// The names listed for `who` (one page of 50).
async fn listed(api: &PairsApi, who: &Caller) -> Vec<String> {
    list(api, who, all_pairs())
        .await
        .expect("list")
        .pairs
        .into_iter()
        .map(|p| p.name)
        .collect()
}

async fn update(
    api: &PairsApi,
    who: &Caller,
    pair: pb::Pair,
    paths: &[&str],
) -> Result<pb::Pair, Status> {
    api.update_pair(request(
        who,
        now(),
        pb::UpdatePairRequest {
            pair: Some(pair),
            update_mask: Some(FieldMask {
                paths: paths.iter().map(|p| (*p).to_string()).collect(),
            }),
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

fn the_order(number: &str, date: PbDate) -> pb::Pair {
    pb::Pair {
        order: Some(pb::DirectorOrder {
            number: number.into(),
            order_date: Some(date),
            record_time: None,
        }),
        ..pb::Pair::default()
    }
}

async fn record_order(api: &PairsApi, who: &Caller, id: &str) -> Result<pb::Pair, Status> {
    let mut order = the_order("45-о", day(2025, 2, 10));
    order.name = pair_at(id);
    update(api, who, order, &["order"]).await
}

async fn activate_as(
    api: &PairsApi,
    who: &Caller,
    id: &str,
    etag: &str,
    request_id: &str,
) -> Result<pb::Pair, Status> {
    api.activate_pair(request(
        who,
        now(),
        pb::ActivatePairRequest {
            name: pair_at(id),
            etag: etag.into(),
            request_id: request_id.into(),
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

fn completion(
    reason: pb::CompletionReason,
    initiator: pb::CompletionInitiator,
    explanation: &str,
) -> pb::Completion {
    pb::Completion {
        reason: reason as i32,
        initiator: initiator as i32,
        explanation: explanation.into(),
        complete_date: None,
        record_time: None,
    }
}

async fn complete(
    api: &PairsApi,
    who: &Caller,
    id: &str,
    completion: Option<pb::Completion>,
    mentee: &str,
) -> Result<pb::Pair, Status> {
    api.complete_pair(request(
        who,
        now(),
        pb::CompletePairRequest {
            name: pair_at(id),
            completion,
            mentee: if mentee.is_empty() {
                String::new()
            } else {
                participant_at(mentee)
            },
            etag: String::new(),
            request_id: String::new(),
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

async fn cancel(
    api: &PairsApi,
    who: &Caller,
    id: &str,
    reason: &str,
    etag: &str,
) -> Result<pb::Pair, Status> {
    api.cancel_pair(request(
        who,
        now(),
        pb::CancelPairRequest {
            name: pair_at(id),
            reason: reason.into(),
            etag: etag.into(),
            request_id: String::new(),
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

async fn petition(
    api: &PairsApi,
    who: &Caller,
    pair: &str,
    mentee: &str,
    text: &str,
) -> Result<pb::ReplacementPetition, Status> {
    api.create_replacement_petition(request(
        who,
        now(),
        pb::CreateReplacementPetitionRequest {
            parent: pair_at(pair),
            replacement_petition: Some(pb::ReplacementPetition {
                mentee: if mentee.is_empty() {
                    String::new()
                } else {
                    participant_at(mentee)
                },
                reason: text.into(),
                ..pb::ReplacementPetition::default()
            }),
            request_id: String::new(),
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

async fn petitions_of(
    api: &PairsApi,
    who: &Caller,
    parent: &str,
    state: pb::PetitionState,
) -> Result<Vec<pb::ReplacementPetition>, Status> {
    api.list_replacement_petitions(request(
        who,
        now(),
        pb::ListReplacementPetitionsRequest {
            parent: parent.into(),
            state: state as i32,
            page_size: 0,
            page_token: String::new(),
        },
    ))
    .await
    .map(|r| r.into_inner().replacement_petitions)
}

fn grant(name: &str, new_mentor: &str) -> pb::DecideReplacementPetitionRequest {
    pb::DecideReplacementPetitionRequest {
        name: name.into(),
        decision: pb::PetitionDecision::Grant as i32,
        new_mentor: participant_at(new_mentor),
        order: Some(pb::DirectorOrder {
            number: "31-н".into(),
            order_date: Some(day(2025, 2, 12)),
            record_time: None,
        }),
        reason: String::new(),
        etag: String::new(),
        request_id: String::new(),
    }
}

async fn decide(
    api: &PairsApi,
    who: &Caller,
    body: pb::DecideReplacementPetitionRequest,
) -> Result<pb::ReplacementPetition, Status> {
    api.decide_replacement_petition(request(who, now(), body))
        .await
        .map(tonic::Response::into_inner)
}

/// The refusal of a call that must fail.
#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, Status>) -> Status {
    result.expect_err("the call is refused")
}

/// Asserts `status` has `code` and `expected` as its reason.
#[track_caller]
fn assert_reason(status: &Status, code: Code, expected: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(reason(status), expected, "{status:?}");
}

// ---- the scene ----

/// A FORMING counsellor–pupil pair of the fixtures, with agreement and order, activated.
async fn active_pair(fx: &Fixture, id: &str, mentor: &str, mentee: &str) {
    ready_pair(fx, id, mentor, mentee).await;
    activate(fx, id).await.expect("active");
}

/// An ACTIVE group of the fixtures.
async fn active_group(fx: &Fixture, id: &str, pair_type: PairType, mentor: &str, mentees: &[&str]) {
    pair(fx, id, pair_type, MentoringForm::ShortTerm, mentor, mentees)
        .await
        .expect("group");
    agreement(fx, id, jiff::civil::date(2024, 9, 2), 12).await;
    order(fx, id).await.expect("order");
    activate(fx, id).await.expect("active");
}

// ---- CreatePair ----

#[tokio::test]
async fn each_of_the_six_pair_types_forms_with_the_roles_that_fit_it() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    use ParticipantRole::*;
    for (id, role) in [
        ("head", Head),
        ("cur", Curator),
        ("edu", Educator),
        ("cou", Counsellor),
        ("vol", Volunteer),
        ("cur-m", Curator),
        ("spec-m", YoungSpecialist),
        ("cou-m", Counsellor),
        ("vol-m", Volunteer),
        ("pup-a", Pupil),
        ("pup-b", Pupil),
    ] {
        person(&fx, id, who(role)).await;
    }
    let cases = [
        (
            pb::PairType::HeadCurator,
            "head",
            "cur-m",
            pb::ParticipantRole::Curator,
        ),
        (
            pb::PairType::CuratorEducator,
            "cur",
            "spec-m",
            pb::ParticipantRole::YoungSpecialist,
        ),
        (
            pb::PairType::EducatorCounsellor,
            "edu",
            "cou-m",
            pb::ParticipantRole::Counsellor,
        ),
        (
            pb::PairType::CounsellorVolunteer,
            "cou",
            "vol-m",
            pb::ParticipantRole::Volunteer,
        ),
        (
            pb::PairType::CounsellorPupil,
            "cou",
            "pup-a",
            pb::ParticipantRole::Pupil,
        ),
        (
            pb::PairType::VolunteerPupil,
            "vol",
            "pup-b",
            pb::ParticipantRole::Pupil,
        ),
    ];
    for (pair_type, mentor, mentee, mentee_role) in cases {
        let formed = create(
            &api,
            &director(),
            new_pair(pair_type, pb::MentoringForm::ShortTerm, mentor, &[mentee]),
        )
        .await
        .unwrap_or_else(|s| panic!("{pair_type:?}: {s:?}"));
        assert!(
            formed
                .name
                .starts_with(&format!("institutions/{INST}/pairs/"))
        );
        assert_eq!(formed.pair_type, pair_type as i32);
        assert_eq!(formed.form, pb::MentoringForm::ShortTerm as i32);
        assert_eq!(formed.kind, pb::PairKind::Pair as i32);
        assert_eq!(formed.state, pb::PairState::Forming as i32);
        assert_eq!(formed.mentor, participant_at(mentor));
        assert_eq!(formed.mentees, [participant_at(mentee)]);
        let shown = formed.mentor_person.as_ref().expect("mentor person");
        assert_eq!(shown.participant, participant_at(mentor));
        assert_eq!(
            shown.display_name,
            format!("Фамилия-{mentor} Тест Условный")
        );
        assert!(!shown.redacted);
        assert_eq!(formed.mentee_people.len(), 1);
        assert_eq!(formed.mentee_people[0].role, mentee_role as i32);
        assert_eq!(
            formed.mentee_people[0].minor,
            mentee_role == pb::ParticipantRole::Pupil
        );
        assert_eq!(formed.goal, "адаптация вожатого первого года в отряде");
        assert!(formed.order.is_none() && formed.agreement.is_empty());
        assert!(formed.activate_time.is_none() && formed.completion.is_none());
        assert!(formed.create_time.is_some() && !formed.etag.is_empty());
        assert!(!formed.redacted);
    }
    // The REVERSE form reads the type's roles the other way round: a counsellor mentors an
    // educator in an educator–counsellor pair.
    let reverse = create(
        &api,
        &director(),
        new_pair(
            pb::PairType::EducatorCounsellor,
            pb::MentoringForm::Reverse,
            "cou",
            &["edu"],
        ),
    )
    .await
    .expect("reverse");
    assert_eq!(reverse.form, pb::MentoringForm::Reverse as i32);
}

#[tokio::test]
async fn a_misfit_is_refused_naming_both_roles_and_the_expected_ones() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "edu", who(ParticipantRole::Educator)).await;
    person(&fx, "cou", who(ParticipantRole::Counsellor)).await;
    person(&fx, "vol", who(ParticipantRole::Volunteer)).await;
    person(&fx, "k", PUPIL).await;

    let status = refused(create(&api, &director(), counsellor_pupil("edu", &["k"])).await);
    assert_reason(&status, Code::FailedPrecondition, "PAIR_TYPE_ROLE_MISMATCH");
    for (key, value) in [
        ("pair_type", "COUNSELLOR_PUPIL".to_string()),
        ("form", "SHORT_TERM".to_string()),
        ("mentor_role", "EDUCATOR".to_string()),
        ("mentee_role", "PUPIL".to_string()),
        ("expected_mentor_role", "COUNSELLOR".to_string()),
        ("expected_mentee_role", "PUPIL".to_string()),
        ("participant", participant_at("edu")),
    ] {
        assert_eq!(error_metadata(&status, key), Some(value), "{key}");
    }

    // A misfitting mentee is the one named.
    let status = refused(create(&api, &director(), counsellor_pupil("cou", &["vol"])).await);
    assert_reason(&status, Code::FailedPrecondition, "PAIR_TYPE_ROLE_MISMATCH");
    assert_eq!(
        error_metadata(&status, "mentee_role").as_deref(),
        Some("VOLUNTEER")
    );
    assert_eq!(
        error_metadata(&status, "participant"),
        Some(participant_at("vol"))
    );

    // In the REVERSE form the expected roles swap.
    let status = refused(
        create(
            &api,
            &director(),
            new_pair(
                pb::PairType::CounsellorPupil,
                pb::MentoringForm::Reverse,
                "cou",
                &["k"],
            ),
        )
        .await,
    );
    assert_eq!(
        error_metadata(&status, "expected_mentor_role").as_deref(),
        Some("PUPIL")
    );
    assert_eq!(
        error_metadata(&status, "expected_mentee_role").as_deref(),
        Some("COUNSELLOR")
    );
}

#[tokio::test]
async fn a_group_is_formed_with_two_to_thirty_mentees() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cou", MENTOR).await;
    for k in ["k1", "k2", "k3"] {
        person(&fx, k, PUPIL).await;
    }
    let group = create(
        &api,
        &director(),
        counsellor_pupil("cou", &["k1", "k2", "k3"]),
    )
    .await
    .expect("group");
    assert_eq!(group.kind, pb::PairKind::Group as i32);
    assert_eq!(
        group.mentees,
        [
            participant_at("k1"),
            participant_at("k2"),
            participant_at("k3")
        ]
    );
    let shown: Vec<&str> = group
        .mentee_people
        .iter()
        .map(|p| p.participant.as_str())
        .collect();
    assert_eq!(shown, group.mentees);

    let many: Vec<String> = (0..31).map(|i| format!("k{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let status = refused(create(&api, &director(), counsellor_pupil("cou", &many)).await);
    assert_reason(&status, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(bad_fields(&status), ["pair.mentees"]);
}

#[tokio::test]
async fn create_pair_names_every_bad_field_at_once() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cou", MENTOR).await;
    let body = pb::CreatePairRequest {
        parent: format!("institutions/{INST}"),
        pair: Some(pb::Pair {
            mentees: vec![participant_at("k"), participant_at("k"), "k".into()],
            goal: "я".repeat(2001),
            ..pb::Pair::default()
        }),
        request_id: String::new(),
    };
    let status = refused(create(&api, &director(), body).await);
    assert_reason(&status, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(
        bad_fields(&status),
        [
            "pair.pair_type",
            "pair.form",
            "pair.mentor",
            "pair.mentees[1]",
            "pair.mentees[2]",
            "pair.goal"
        ]
    );
    let status = refused(create(&api, &director(), counsellor_pupil("cou", &["cou"])).await);
    assert_eq!(bad_fields(&status), ["pair.mentees[0]"]);
    let status = refused(create(&api, &director(), counsellor_pupil("cou", &[])).await);
    assert_eq!(bad_fields(&status), ["pair.mentees"]);
}

#[tokio::test]
async fn create_pair_refuses_missing_people_and_what_banks_consents_and_training_forbid() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cou", MENTOR).await;
    let mut outside_bank = MENTOR;
    outside_bank.mentor_bank = false;
    person(&fx, "cou-nobank", outside_bank).await;
    let mut untrained = MENTOR;
    untrained.trained = false;
    person(&fx, "cou-new", untrained).await;
    for k in ["k1", "k2", "k3"] {
        person(&fx, k, PUPIL).await;
    }

    let status = refused(create(&api, &director(), counsellor_pupil("cou", &["ghost"])).await);
    assert_reason(&status, Code::NotFound, "NOT_FOUND");
    // A participant of another institution does not exist here.
    let mut elsewhere = counsellor_pupil("cou", &[]);
    if let Some(p) = elsewhere.pair.as_mut() {
        p.mentees = vec!["institutions/elsewhere/participants/k1".into()];
    }
    assert_reason(
        &refused(create(&api, &director(), elsewhere).await),
        Code::NotFound,
        "NOT_FOUND",
    );

    revoke(&fx, "k3").await.expect("revoked");
    let status = refused(create(&api, &director(), counsellor_pupil("cou", &["k3"])).await);
    assert_reason(&status, Code::FailedPrecondition, "CONSENT_MISSING");
    assert_eq!(
        error_metadata(&status, "participant"),
        Some(participant_at("k3"))
    );
    assert_eq!(
        error_metadata(&status, "purpose").as_deref(),
        Some("PERSONAL_DATA")
    );

    let status = refused(create(&api, &director(), counsellor_pupil("cou-nobank", &["k1"])).await);
    assert_reason(&status, Code::FailedPrecondition, "NOT_IN_BANK");
    assert_eq!(
        error_metadata(&status, "participant"),
        Some(participant_at("cou-nobank"))
    );
    assert_eq!(error_metadata(&status, "bank").as_deref(), Some("MENTORS"));

    let status = refused(create(&api, &director(), counsellor_pupil("cou-new", &["k1"])).await);
    assert_reason(&status, Code::FailedPrecondition, "MENTOR_NOT_TRAINED");
    assert_eq!(
        error_metadata(&status, "participant"),
        Some(participant_at("cou-new"))
    );

    let first = create(&api, &director(), counsellor_pupil("cou", &["k1"]))
        .await
        .expect("first");
    let status = refused(create(&api, &director(), counsellor_pupil("cou", &["k2", "k1"])).await);
    assert_reason(&status, Code::FailedPrecondition, "MENTEE_ALREADY_PAIRED");
    assert_eq!(
        error_metadata(&status, "participant"),
        Some(participant_at("k1"))
    );
    assert_eq!(error_metadata(&status, "pair"), Some(first.name));
}

#[tokio::test]
async fn create_pair_answers_a_repeated_request_id_once_and_refuses_it_reused() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cou", MENTOR).await;
    person(&fx, "k", PUPIL).await;
    let mut body = counsellor_pupil("cou", &["k"]);
    body.request_id = "6f1c0d1e-form-1".into();
    let first = create(&api, &director(), body.clone())
        .await
        .expect("formed");
    let again = create(&api, &director(), body.clone())
        .await
        .expect("the same answer");
    assert_eq!(again, first);
    assert_eq!(listed(&api, &director()).await, [first.name]);
    if let Some(p) = body.pair.as_mut() {
        p.goal = "другая цель".into();
    }
    let status = refused(create(&api, &director(), body).await);
    assert_reason(&status, Code::InvalidArgument, "REQUEST_ID_REUSED");
}

#[tokio::test]
async fn staff_form_pairs_and_nobody_else_does() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cur", who(ParticipantRole::Curator)).await;
    person(&fx, "cou", MENTOR).await;
    person(&fx, "k1", PUPIL).await;
    person(&fx, "k2", PUPIL).await;
    let body = || counsellor_pupil("cou", &["k1"]);

    assert_reason(
        &refused(create(&api, &outsider(), body()).await),
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_reason(
        &refused(create(&api, &regional_centre("RU-MOW"), body()).await),
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_reason(
        &refused(create(&api, &regional_centre("RU-SAR"), body()).await),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    let consumer = event_consumer();
    assert_reason(
        &refused(create(&api, &consumer, body()).await),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_reason(
        &refused(create(&api, &participant("cou"), body()).await),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_reason(
        &refused(create(&api, &guardian("k1"), body()).await),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    // The curator acts once the director has appointed them.
    assert_reason(
        &refused(create(&api, &curator("cur"), body()).await),
        Code::PermissionDenied,
        "CURATOR_NOT_APPOINTED",
    );
    appoint(&fx, "cur").await;
    let formed = create(&api, &curator("cur"), body())
        .await
        .expect("the curator forms it");
    assert_eq!(formed.state, pb::PairState::Forming as i32);
    assert_reason(
        &refused(
            create(
                &api,
                &curator("someone-else"),
                counsellor_pupil("cou", &["k2"]),
            )
            .await,
        ),
        Code::PermissionDenied,
        "CURATOR_NOT_APPOINTED",
    );
}

// ---- GetPair, ListPairs ----

#[tokio::test]
async fn a_mentor_reads_the_pairs_they_mentor_and_a_mentee_or_guardian_only_their_own() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cou", MENTOR).await;
    person(&fx, "vol", who(ParticipantRole::Volunteer)).await;
    person(&fx, "vol-m", who(ParticipantRole::Volunteer)).await;
    person(&fx, "lone", who(ParticipantRole::Educator)).await;
    for k in ["k1", "k2", "k3"] {
        person(&fx, k, PUPIL).await;
    }
    let cp = |id: &'static str, mentor: &'static str, mentee: &'static str, t: PairType| {
        let fx = &fx;
        async move {
            pair(fx, id, t, MentoringForm::ShortTerm, mentor, &[mentee])
                .await
                .expect("pair")
        }
    };
    cp("p1", "cou", "k1", PairType::CounsellorPupil).await;
    cp("p2", "cou", "k2", PairType::CounsellorPupil).await;
    cp("p3", "vol", "k3", PairType::VolunteerPupil).await;
    cp("p4", "cou", "vol-m", PairType::CounsellorVolunteer).await;

    assert_eq!(
        listed(&api, &director()).await,
        [pair_at("p1"), pair_at("p2"), pair_at("p3"), pair_at("p4")]
    );
    // The mentor: the pairs they mentor.
    assert_eq!(
        listed(&api, &participant("cou")).await,
        [pair_at("p1"), pair_at("p2"), pair_at("p4")]
    );
    let read = get(&api, &participant("cou"), "p1")
        .await
        .expect("their pair");
    assert_eq!(read.mentees, [participant_at("k1")]);
    assert_reason(
        &refused(get(&api, &participant("cou"), "p3").await),
        Code::NotFound,
        "NOT_FOUND",
    );
    // A mentee: their own pair only.
    assert_eq!(listed(&api, &participant("vol-m")).await, [pair_at("p4")]);
    assert_reason(
        &refused(get(&api, &participant("vol-m"), "p1").await),
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_eq!(listed(&api, &participant("k3")).await, [pair_at("p3")]);
    // A guardian: the minor's.
    assert_eq!(listed(&api, &guardian("k1")).await, [pair_at("p1")]);
    get(&api, &guardian("k1"), "p1")
        .await
        .expect("the ward's pair");
    assert_reason(
        &refused(get(&api, &guardian("k1"), "p2").await),
        Code::NotFound,
        "NOT_FOUND",
    );
    // Someone in no pair sees none.
    assert!(listed(&api, &participant("lone")).await.is_empty());
    assert_reason(
        &refused(get(&api, &participant("lone"), "p1").await),
        Code::NotFound,
        "NOT_FOUND",
    );
    // Outside the tenant, and a pair that does not exist.
    assert_reason(
        &refused(get(&api, &outsider(), "p1").await),
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_reason(
        &refused(list(&api, &outsider(), all_pairs()).await),
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_reason(
        &refused(get(&api, &director(), "nope").await),
        Code::NotFound,
        "NOT_FOUND",
    );
    // The regional centre never reads a pair.
    let centre = regional_centre("RU-SAR");
    assert_reason(
        &refused(get(&api, &centre, "p1").await),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_reason(
        &refused(list(&api, &centre, all_pairs()).await),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    let consumer = event_consumer();
    assert_reason(
        &refused(list(&api, &consumer, all_pairs()).await),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    // A curator token without the appointment reads nothing.
    assert_reason(
        &refused(get(&api, &curator("lone"), "p1").await),
        Code::PermissionDenied,
        "CURATOR_NOT_APPOINTED",
    );
    assert_reason(
        &refused(list(&api, &curator("lone"), all_pairs()).await),
        Code::PermissionDenied,
        "CURATOR_NOT_APPOINTED",
    );
}

#[tokio::test]
async fn list_pairs_filters_and_pages_with_tokens_of_its_own_query() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cou", MENTOR).await;
    person(&fx, "cou2", MENTOR).await;
    for k in ["k1", "k2", "k3", "k4", "k5"] {
        person(&fx, k, PUPIL).await;
    }
    pair(
        &fx,
        "p1",
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        "cou",
        &["k1"],
    )
    .await
    .expect("p1");
    pair(
        &fx,
        "p2",
        PairType::CounsellorPupil,
        MentoringForm::Virtual,
        "cou",
        &["k2", "k3"],
    )
    .await
    .expect("p2");
    active_pair(&fx, "p3", "cou2", "k4").await;
    pair(
        &fx,
        "p4",
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        "cou2",
        &["k5"],
    )
    .await
    .expect("p4");
    // Signed for one month on 2 September: expired by 12 February.
    let lapsed = agreement(&fx, "p4", jiff::civil::date(2024, 9, 2), 1).await;

    let names = |r: pb::ListPairsResponse| r.pairs.into_iter().map(|p| p.name).collect::<Vec<_>>();
    let active = pb::ListPairsRequest {
        state: pb::PairState::Active as i32,
        ..all_pairs()
    };
    assert_eq!(
        names(list(&api, &director(), active).await.expect("active")),
        [pair_at("p3")]
    );
    let groups = pb::ListPairsRequest {
        kind: pb::PairKind::Group as i32,
        ..all_pairs()
    };
    assert_eq!(
        names(list(&api, &director(), groups).await.expect("groups")),
        [pair_at("p2")]
    );
    let virtual_form = pb::ListPairsRequest {
        form: pb::MentoringForm::Virtual as i32,
        ..all_pairs()
    };
    assert_eq!(
        names(list(&api, &director(), virtual_form).await.expect("form")),
        [pair_at("p2")]
    );
    let of_k3 = pb::ListPairsRequest {
        participant: participant_at("k3"),
        ..all_pairs()
    };
    assert_eq!(
        names(list(&api, &director(), of_k3).await.expect("member")),
        [pair_at("p2")]
    );
    let expired = pb::ListPairsRequest {
        agreement_expired_only: true,
        ..all_pairs()
    };
    let expired = list(&api, &director(), expired).await.expect("expired");
    assert_eq!(expired.pairs.len(), 1);
    let p4 = &expired.pairs[0];
    assert_eq!(p4.name, pair_at("p4"));
    assert!(p4.agreement_expired);
    assert_eq!(p4.agreement, lapsed.name);
    assert_eq!(
        p4.agreement_end_date,
        Some(edu_kit::wire::date(lapsed.end_date))
    );
    let bad = pb::ListPairsRequest {
        state: 42,
        participant: "institutions/elsewhere/participants/k1".into(),
        ..all_pairs()
    };
    let status = refused(list(&api, &director(), bad).await);
    assert_reason(&status, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(bad_fields(&status), ["state", "participant"]);

    // Pages of one, oldest first, then by name.
    let mut seen = vec![];
    let mut token = String::new();
    loop {
        let page = list(
            &api,
            &director(),
            pb::ListPairsRequest {
                page_size: 1,
                page_token: token.clone(),
                ..all_pairs()
            },
        )
        .await
        .expect("page");
        seen.extend(page.pairs.into_iter().map(|p| p.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        // A token belongs to its query.
        let other = pb::ListPairsRequest {
            page_size: 1,
            page_token: token.clone(),
            kind: pb::PairKind::Pair as i32,
            ..all_pairs()
        };
        assert_reason(
            &refused(list(&api, &director(), other).await),
            Code::InvalidArgument,
            "PAGE_TOKEN_INVALID",
        );
    }
    assert_eq!(
        seen,
        [pair_at("p1"), pair_at("p2"), pair_at("p3"), pair_at("p4")]
    );
}

#[tokio::test]
async fn a_member_who_revoked_their_consent_is_redacted_in_every_pair_answer() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cou", MENTOR).await;
    person(&fx, "cou2", MENTOR).await;
    for k in ["k", "g1", "g2"] {
        person(&fx, k, PUPIL).await;
    }
    active_pair(&fx, "p", "cou", "k").await;
    let filed = petition(
        &api,
        &guardian("k"),
        "p",
        "",
        "не удалось установить личный контакт",
    )
    .await
    .expect("filed");
    assert_eq!(filed.reason, "не удалось установить личный контакт");
    assert!(
        !filed
            .petitioner
            .as_ref()
            .expect("petitioner")
            .display_name
            .is_empty()
    );

    revoke(&fx, "k").await.expect("revoked");
    for who in [director(), participant("cou")] {
        let shown = get(&api, &who, "p").await.expect("the pair");
        assert_eq!(shown.state, pb::PairState::Suspended as i32);
        let suspension = shown.suspension.as_ref().expect("suspension");
        assert_eq!(suspension.participants, [participant_at("k")]);
        assert!(suspension.suspend_time.is_some());
        assert!(shown.redacted);
        assert_eq!(shown.goal, "");
        assert_eq!(
            shown.mentee_people,
            [pb::Person {
                participant: participant_at("k"),
                role: pb::ParticipantRole::Pupil as i32,
                display_name: String::new(),
                minor: false,
                redacted: true,
            }]
        );
        // The mentor's consent is in force: they are shown.
        let mentor = shown.mentor_person.as_ref().expect("mentor");
        assert!(!mentor.redacted && !mentor.display_name.is_empty());
        assert_eq!(shown.mentees, [participant_at("k")]);
    }
    let page = list(&api, &director(), all_pairs()).await.expect("list");
    assert!(page.pairs[0].redacted && page.pairs[0].mentee_people[0].redacted);
    // The petition's texts and petitioner are hidden too.
    let history = petitions_of(
        &api,
        &director(),
        &pair_at("p"),
        pb::PetitionState::Unspecified,
    )
    .await
    .expect("petitions");
    assert_eq!(history.len(), 1);
    assert!(history[0].redacted);
    assert_eq!(history[0].reason, "");
    let petitioner = history[0].petitioner.as_ref().expect("petitioner");
    assert!(petitioner.redacted && petitioner.display_name.is_empty());

    // A former mentee of a group who revokes: shown redacted among the former mentees, and
    // the group's texts (the completion's explanation) hidden.
    active_group(&fx, "g", PairType::CounsellorPupil, "cou2", &["g1", "g2"]).await;
    let left = complete(
        &api,
        &director(),
        "g",
        Some(completion(
            pb::CompletionReason::ValidReason,
            pb::CompletionInitiator::Mentee,
            "переезд семьи в другой город",
        )),
        "g2",
    )
    .await
    .expect("g2 leaves");
    let former = &left.former_mentees[0];
    assert_eq!(
        former.completion.as_ref().map(|c| c.explanation.as_str()),
        Some("переезд семьи в другой город")
    );
    revoke(&fx, "g2").await.expect("revoked");
    let shown = get(&api, &director(), "g").await.expect("group");
    assert!(shown.redacted);
    assert_eq!(shown.goal, "");
    let former = &shown.former_mentees[0];
    let person = former.person.as_ref().expect("person");
    assert!(person.redacted && person.display_name.is_empty());
    assert_eq!(person.participant, participant_at("g2"));
    let completion = former.completion.as_ref().expect("completion");
    assert_eq!(completion.explanation, "");
    assert_eq!(completion.reason, pb::CompletionReason::ValidReason as i32);
    // The current members are still shown.
    assert!(!shown.mentee_people[0].redacted);
    // The state is unchanged: a former mentee's revocation suspends nothing.
    assert_eq!(shown.state, pb::PairState::Active as i32);
}

// ---- UpdatePair ----

#[tokio::test]
async fn update_pair_changes_form_and_goal_and_only_the_director_records_the_order() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cur", who(ParticipantRole::Curator)).await;
    person(&fx, "cou", MENTOR).await;
    person(&fx, "lone", MENTOR).await;
    person(&fx, "k", PUPIL).await;
    appoint(&fx, "cur").await;
    let formed = pair(
        &fx,
        "p",
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        "cou",
        &["k"],
    )
    .await
    .expect("pair");

    let change = pb::Pair {
        name: pair_at("p"),
        form: pb::MentoringForm::Virtual as i32,
        goal: "  освоение вожатским отрядом новых игр  ".into(),
        etag: edu_kit::etag::of(formed.version),
        ..pb::Pair::default()
    };
    let changed = update(&api, &curator("cur"), change.clone(), &["form", "goal"])
        .await
        .expect("changed");
    assert_eq!(changed.form, pb::MentoringForm::Virtual as i32);
    assert_eq!(changed.goal, "освоение вожатским отрядом новых игр");
    assert_ne!(changed.etag, change.etag);
    // The same etag again is stale now.
    assert_reason(
        &refused(update(&api, &curator("cur"), change.clone(), &["goal"]).await),
        Code::Aborted,
        "ETAG_MISMATCH",
    );

    // The order is the director's.
    let mut order = the_order("45-о", day(2025, 2, 10));
    order.name = pair_at("p");
    let status = refused(update(&api, &curator("cur"), order.clone(), &["order"]).await);
    assert_reason(&status, Code::PermissionDenied, "ROLE_REQUIRED");
    assert_eq!(error_metadata(&status, "field").as_deref(), Some("order"));
    let fixed = update(&api, &director(), order.clone(), &["order"])
        .await
        .expect("ordered");
    let recorded = fixed.order.as_ref().expect("order");
    assert_eq!(recorded.number, "45-о");
    assert_eq!(recorded.order_date, Some(day(2025, 2, 10)));
    assert!(recorded.record_time.is_some());

    // Every bad field at once.
    let mut bad = the_order("", day(2025, 2, 13));
    bad.name = pair_at("p");
    bad.goal = "я".repeat(2001);
    let status = refused(update(&api, &director(), bad, &["order", "form", "goal"]).await);
    assert_reason(&status, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(
        bad_fields(&status),
        [
            "pair.form",
            "pair.goal",
            "pair.order.number",
            "pair.order.order_date"
        ]
    );
    let mut no_order = the_order("1", day(2025, 2, 1));
    no_order.name = pair_at("p");
    no_order.order = None;
    let status = refused(update(&api, &director(), no_order, &["order"]).await);
    assert_eq!(bad_fields(&status), ["pair.order"]);
    let status = refused(update(&api, &director(), change.clone(), &["mentor"]).await);
    assert_eq!(bad_fields(&status), ["update_mask"]);
    let status = refused(update(&api, &director(), change.clone(), &[]).await);
    assert_eq!(bad_fields(&status), ["update_mask"]);

    // A new form is checked for fit again.
    let reverse = pb::Pair {
        name: pair_at("p"),
        form: pb::MentoringForm::Reverse as i32,
        ..pb::Pair::default()
    };
    let status = refused(update(&api, &director(), reverse, &["form"]).await);
    assert_reason(&status, Code::FailedPrecondition, "PAIR_TYPE_ROLE_MISMATCH");
    assert_eq!(error_metadata(&status, "form").as_deref(), Some("REVERSE"));

    // Who may not: the mentor (who sees it), a stranger and an outsider (who do not).
    let goal = pb::Pair {
        name: pair_at("p"),
        goal: "x".into(),
        ..pb::Pair::default()
    };
    assert_reason(
        &refused(update(&api, &participant("cou"), goal.clone(), &["goal"]).await),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_reason(
        &refused(update(&api, &participant("lone"), goal.clone(), &["goal"]).await),
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_reason(
        &refused(update(&api, &outsider(), goal.clone(), &["goal"]).await),
        Code::NotFound,
        "NOT_FOUND",
    );

    // Once ACTIVE the order is fixed; a SPEED form needs at most one meeting logged.
    agreement(&fx, "p", TODAY, 12).await;
    activate(&fx, "p").await.expect("active");
    let status = refused(update(&api, &director(), order, &["order"]).await);
    assert_reason(&status, Code::FailedPrecondition, "TRANSITION_NOT_ALLOWED");
    assert_eq!(error_metadata(&status, "state").as_deref(), Some("ACTIVE"));
    for id in ["m1", "m2"] {
        in_tx!(fx, |tx| plans::create_meeting(
            &mut tx,
            &context(),
            INST,
            "p",
            &MeetingDraft {
                id: id.into(),
                meet_date: TODAY,
                duration_minutes: Some(45),
                format: MeetingFormat::InPerson,
                topic: "знакомство".into(),
                notes: String::new(),
                plan_activity: None,
                absent_mentees: vec![],
            },
        )
        .await)
        .expect("meeting");
    }
    let speed = pb::Pair {
        name: pair_at("p"),
        form: pb::MentoringForm::Speed as i32,
        ..pb::Pair::default()
    };
    let status = refused(update(&api, &director(), speed, &["form"]).await);
    assert_reason(&status, Code::FailedPrecondition, "SINGLE_MEETING_FORM");
    assert_eq!(error_metadata(&status, "meetings").as_deref(), Some("2"));
    let goal_now = update(&api, &director(), goal, &["goal"])
        .await
        .expect("goal of an active pair");
    assert_eq!(goal_now.goal, "x");
}

// ---- ActivatePair ----

#[tokio::test]
async fn activation_refuses_each_missing_piece_in_the_contract_order() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cou", MENTOR).await;
    person(&fx, "k", PUPIL).await;
    pair(
        &fx,
        "p",
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        "cou",
        &["k"],
    )
    .await
    .expect("pair");
    let boss = director();
    let attempt = || activate_as(&api, &boss, "p", "", "");

    // Nothing is there and the mentee's consent is revoked: the consent answers first.
    revoke(&fx, "k").await.expect("revoked");
    let status = refused(attempt().await);
    assert_reason(&status, Code::FailedPrecondition, "CONSENT_MISSING");
    assert_eq!(
        error_metadata(&status, "participant"),
        Some(participant_at("k"))
    );
    assert_eq!(
        error_metadata(&status, "purpose").as_deref(),
        Some("PERSONAL_DATA")
    );

    // The consent again: the agreement is next.
    in_tx!(fx, |tx| consents::give(
        &mut tx,
        &context(),
        INST,
        "k",
        &consent(true)
    )
    .await)
    .expect("consent again");
    assert_reason(
        &refused(attempt().await),
        Code::FailedPrecondition,
        "AGREEMENT_NOT_SIGNED",
    );

    // An agreement that has run out.
    let lapsed = agreement(&fx, "p", jiff::civil::date(2024, 9, 2), 1).await;
    let status = refused(attempt().await);
    assert_reason(&status, Code::FailedPrecondition, "AGREEMENT_EXPIRED");
    assert_eq!(
        error_metadata(&status, "agreement"),
        Some(lapsed.name.clone())
    );
    assert_eq!(
        error_metadata(&status, "end_date"),
        Some(lapsed.end_date.to_string())
    );

    // Extended: the director's order is what is missing.
    in_tx!(fx, |tx| agreements::extend(
        &mut tx,
        &context(),
        INST,
        "p",
        &lapsed.id,
        &ExtensionDraft {
            months: 12,
            basis: "дополнительное соглашение № 1".into(),
            agree_date: TODAY,
        },
        "",
    )
    .await)
    .expect("extended");
    assert_reason(
        &refused(attempt().await),
        Code::FailedPrecondition,
        "ORDER_MISSING",
    );

    // With the order, it is ACTIVE.
    record_order(&api, &director(), "p").await.expect("order");
    let active = attempt().await.expect("active");
    assert_eq!(active.state, pb::PairState::Active as i32);
    assert!(active.activate_time.is_some());
    assert_eq!(active.agreement, lapsed.name);
    assert!(!active.agreement_expired);
    assert_eq!(
        active.order.as_ref().map(|o| o.number.as_str()),
        Some("45-о")
    );

    let status = refused(attempt().await);
    assert_reason(&status, Code::FailedPrecondition, "TRANSITION_NOT_ALLOWED");
    assert_eq!(error_metadata(&status, "state").as_deref(), Some("ACTIVE"));
}

#[tokio::test]
async fn activation_checks_the_etag_the_role_and_the_request_id() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cou", MENTOR).await;
    person(&fx, "k", PUPIL).await;
    ready_pair(&fx, "p", "cou", "k").await;
    let current = get(&api, &director(), "p").await.expect("pair");

    assert_reason(
        &refused(activate_as(&api, &director(), "p", "\"999\"", "").await),
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    assert_reason(
        &refused(activate_as(&api, &participant("cou"), "p", "", "").await),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_reason(
        &refused(activate_as(&api, &guardian("k"), "p", "", "").await),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_reason(
        &refused(activate_as(&api, &outsider(), "p", "", "").await),
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_reason(
        &refused(activate_as(&api, &director(), "nope", "", "").await),
        Code::NotFound,
        "NOT_FOUND",
    );
    let first = activate_as(&api, &director(), "p", &current.etag, "act-1")
        .await
        .expect("active");
    // The same request again answers the same, although the pair is ACTIVE now.
    let again = activate_as(&api, &director(), "p", &current.etag, "act-1")
        .await
        .expect("repeated");
    assert_eq!(again, first);
    assert_reason(
        &refused(activate_as(&api, &director(), "p", "", "act-1").await),
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );
}

// ---- CompletePair ----

#[tokio::test]
async fn completion_takes_a_fitting_reason_and_initiator_and_a_carried_out_plan() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cou", MENTOR).await;
    person(&fx, "k", PUPIL).await;
    person(&fx, "k2", PUPIL).await;
    active_pair(&fx, "p", "cou", "k").await;
    pair(
        &fx,
        "f",
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        "cou",
        &["k2"],
    )
    .await
    .expect("forming");
    use pb::CompletionInitiator as I;
    use pb::CompletionReason as R;

    let status = refused(complete(&api, &director(), "p", None, "").await);
    assert_reason(&status, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(
        bad_fields(&status),
        ["completion", "completion.reason", "completion.initiator"]
    );
    let status = refused(
        complete(
            &api,
            &director(),
            "p",
            Some(completion(R::ValidReason, I::Curator, "")),
            "",
        )
        .await,
    );
    assert_eq!(
        bad_fields(&status),
        ["completion.initiator", "completion.explanation"]
    );
    let status = refused(
        complete(
            &api,
            &director(),
            "p",
            Some(completion(R::AgreementTerminated, I::Both, "x")),
            "",
        )
        .await,
    );
    assert_eq!(bad_fields(&status), ["completion.reason"]);
    let mut tomorrow = completion(R::ForceMajeure, I::Curator, "паводок");
    tomorrow.complete_date = Some(day(2025, 2, 13));
    let status = refused(complete(&api, &director(), "p", Some(tomorrow), "").await);
    assert_eq!(bad_fields(&status), ["completion.complete_date"]);
    // A pair has one mentee: `mentee` is for groups.
    let status = refused(
        complete(
            &api,
            &director(),
            "p",
            Some(completion(R::ValidReason, I::Mentee, "переезд")),
            "k",
        )
        .await,
    );
    assert_eq!(bad_fields(&status), ["mentee"]);

    // The plan must be carried out for PLAN_COMPLETED.
    in_tx!(fx, |tx| plans::create_activity(
        &mut tx,
        &context(),
        INST,
        "p",
        &ActivityDraft {
            id: "a1".into(),
            title: "поход выходного дня".into(),
            description: String::new(),
            due_date: jiff::civil::date(2025, 3, 1),
        },
        false,
    )
    .await)
    .expect("activity");
    let status = refused(
        complete(
            &api,
            &director(),
            "p",
            Some(completion(R::PlanCompleted, I::Both, "")),
            "",
        )
        .await,
    );
    assert_reason(&status, Code::FailedPrecondition, "PLAN_NOT_COMPLETED");
    assert_eq!(
        error_metadata(&status, "open_activities").as_deref(),
        Some("1")
    );

    // A FORMING pair is cancelled, not completed.
    let status = refused(
        complete(
            &api,
            &director(),
            "f",
            Some(completion(R::ValidReason, I::Mentor, "болезнь")),
            "",
        )
        .await,
    );
    assert_reason(&status, Code::FailedPrecondition, "TRANSITION_NOT_ALLOWED");
    assert_eq!(error_metadata(&status, "state").as_deref(), Some("FORMING"));
    assert_reason(
        &refused(
            complete(
                &api,
                &participant("cou"),
                "p",
                Some(completion(R::ValidReason, I::Mentor, "болезнь")),
                "",
            )
            .await,
        ),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );

    // A pending petition lapses with the completion.
    in_tx!(fx, |tx| petitions::create(
        &mut tx,
        &context(),
        INST,
        "p",
        &PetitionDraft {
            mentee: None,
            reason: "не удалось установить контакт".into(),
            filed_by: ActorKind::Staff,
        },
    )
    .await)
    .expect("petition");
    let valid = completion(R::ValidReason, I::Mentee, "переезд семьи в другой город");
    let done = complete(&api, &director(), "p", Some(valid), "")
        .await
        .expect("completed");
    assert_eq!(done.state, pb::PairState::Completed as i32);
    let recorded = done.completion.as_ref().expect("completion");
    assert_eq!(recorded.reason, R::ValidReason as i32);
    assert_eq!(recorded.initiator, I::Mentee as i32);
    assert_eq!(recorded.explanation, "переезд семьи в другой город");
    // Unset, the day is today in Saratov.
    assert_eq!(recorded.complete_date, Some(day(2025, 2, 12)));
    assert!(recorded.record_time.is_some());
    assert_eq!(done.agreement, "", "the agreement in force ended");
    let lapsed = petitions_of(&api, &director(), &pair_at("p"), pb::PetitionState::Lapsed)
        .await
        .expect("petitions");
    assert_eq!(lapsed.len(), 1);

    let status = refused(
        complete(
            &api,
            &director(),
            "p",
            Some(completion(R::ValidReason, I::Mentee, "ещё раз")),
            "",
        )
        .await,
    );
    assert_reason(&status, Code::FailedPrecondition, "TRANSITION_NOT_ALLOWED");
    assert_eq!(
        error_metadata(&status, "state").as_deref(),
        Some("COMPLETED")
    );
}

#[tokio::test]
async fn one_mentee_leaves_a_group_and_the_group_goes_on_until_the_last() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cou", MENTOR).await;
    for k in ["k1", "k2", "k9"] {
        person(&fx, k, PUPIL).await;
    }
    active_group(&fx, "g", PairType::CounsellorPupil, "cou", &["k1", "k2"]).await;
    use pb::CompletionInitiator as I;
    use pb::CompletionReason as R;

    let status = refused(
        complete(
            &api,
            &director(),
            "g",
            Some(completion(R::PlanCompleted, I::Both, "")),
            "k1",
        )
        .await,
    );
    assert_eq!(bad_fields(&status), ["mentee"]);
    let status = refused(
        complete(
            &api,
            &director(),
            "g",
            Some(completion(R::ValidReason, I::Mentee, "переезд")),
            "k9",
        )
        .await,
    );
    assert_reason(&status, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(bad_fields(&status), ["mentee"]);

    let left = complete(
        &api,
        &director(),
        "g",
        Some(completion(R::ValidReason, I::Mentee, "переезд")),
        "k1",
    )
    .await
    .expect("k1 leaves");
    assert_eq!(left.state, pb::PairState::Active as i32);
    assert_eq!(left.mentees, [participant_at("k2")]);
    assert_eq!(left.kind, pb::PairKind::Group as i32);
    assert_eq!(left.former_mentees.len(), 1);
    let former = &left.former_mentees[0];
    assert_eq!(
        former.person.as_ref().map(|p| p.participant.as_str()),
        Some(participant_at("k1").as_str())
    );
    let ended = former.completion.as_ref().expect("their completion");
    assert_eq!(ended.reason, R::ValidReason as i32);
    assert_eq!(ended.complete_date, Some(day(2025, 2, 12)));
    assert!(ended.record_time.is_some());
    // The former mentee's guardian still reads the group.
    get(&api, &guardian("k1"), "g")
        .await
        .expect("their former group");

    let last = complete(
        &api,
        &director(),
        "g",
        Some(completion(R::ForceMajeure, I::Curator, "паводок")),
        "k2",
    )
    .await
    .expect("the last leaves");
    assert_eq!(last.state, pb::PairState::Completed as i32);
}

// ---- CancelPair ----

#[tokio::test]
async fn cancelling_ends_a_forming_pair_once_and_frees_its_mentee() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cou", MENTOR).await;
    person(&fx, "k", PUPIL).await;
    person(&fx, "k2", PUPIL).await;
    pair(
        &fx,
        "p",
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        "cou",
        &["k"],
    )
    .await
    .expect("pair");
    active_pair(&fx, "a", "cou", "k2").await;

    let status = refused(cancel(&api, &director(), "p", "  ", "").await);
    assert_reason(&status, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(bad_fields(&status), ["reason"]);
    assert_reason(
        &refused(cancel(&api, &director(), "p", "выбыл", "\"99\"").await),
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    assert_reason(
        &refused(cancel(&api, &guardian("k"), "p", "выбыл", "").await),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    let cancelled = cancel(
        &api,
        &director(),
        "p",
        "наставляемый выбыл из учреждения",
        "",
    )
    .await
    .expect("cancelled");
    assert_eq!(cancelled.state, pb::PairState::Cancelled as i32);
    assert_eq!(cancelled.cancel_reason, "наставляемый выбыл из учреждения");
    let again = cancel(&api, &director(), "p", "повторно", "")
        .await
        .expect("unchanged");
    assert_eq!(again.etag, cancelled.etag);
    assert_eq!(again.cancel_reason, "наставляемый выбыл из учреждения");
    let status = refused(cancel(&api, &director(), "a", "передумали", "").await);
    assert_reason(&status, Code::FailedPrecondition, "TRANSITION_NOT_ALLOWED");
    assert_eq!(error_metadata(&status, "state").as_deref(), Some("ACTIVE"));
    // The mentee is free to be paired again.
    create(&api, &director(), counsellor_pupil("cou", &["k"]))
        .await
        .expect("paired again");
}

// ---- Replacement petitions ----

#[tokio::test]
async fn a_mentee_petitions_and_the_director_grants_a_new_mentor_kept_in_the_history() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cur", who(ParticipantRole::Curator)).await;
    appoint(&fx, "cur").await;
    person(&fx, "cou", MENTOR).await;
    person(&fx, "cou3", MENTOR).await;
    let mut untrained = MENTOR;
    untrained.trained = false;
    person(&fx, "cou-new", untrained).await;
    let mut outside_bank = MENTOR;
    outside_bank.mentor_bank = false;
    person(&fx, "cou-nobank", outside_bank).await;
    person(&fx, "cou-gone", MENTOR).await;
    revoke(&fx, "cou-gone").await.expect("revoked");
    person(&fx, "vol", who(ParticipantRole::Volunteer)).await;
    person(&fx, "vol2", who(ParticipantRole::Volunteer)).await;
    person(&fx, "lone", who(ParticipantRole::Volunteer)).await;
    pair(
        &fx,
        "p",
        PairType::CounsellorVolunteer,
        MentoringForm::ShortTerm,
        "cou",
        &["vol2"],
    )
    .await
    .expect("pair");
    agreement(&fx, "p", jiff::civil::date(2024, 9, 2), 12).await;
    order(&fx, "p").await.expect("order");
    let why = "не удалось установить личный контакт с наставником";

    let status = refused(petition(&api, &participant("vol2"), "p", "", why).await);
    assert_reason(&status, Code::FailedPrecondition, "PAIR_NOT_ACTIVE");
    assert_eq!(error_metadata(&status, "state").as_deref(), Some("FORMING"));
    activate(&fx, "p").await.expect("active");

    // The mentor may not; a stranger does not see the pair.
    assert_reason(
        &refused(petition(&api, &participant("cou"), "p", "", why).await),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_reason(
        &refused(petition(&api, &participant("lone"), "p", "", why).await),
        Code::NotFound,
        "NOT_FOUND",
    );
    let status = refused(petition(&api, &participant("vol2"), "p", "", "").await);
    assert_reason(&status, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(bad_fields(&status), ["replacement_petition.reason"]);

    let filed = petition(&api, &participant("vol2"), "p", "", why)
        .await
        .expect("filed");
    assert!(
        filed
            .name
            .starts_with(&format!("{}/replacementPetitions/", pair_at("p")))
    );
    assert_eq!(filed.mentee, participant_at("vol2"));
    assert_eq!(filed.filed_by, pb::ActorKind::Subject as i32);
    assert_eq!(filed.state, pb::PetitionState::Pending as i32);
    assert_eq!(filed.reason, why);
    assert_eq!(
        filed.petitioner.as_ref().map(|p| p.participant.as_str()),
        Some(participant_at("vol2").as_str())
    );
    assert_eq!(
        filed.mentor_person.as_ref().map(|p| p.participant.as_str()),
        Some(participant_at("cou").as_str())
    );
    assert!(filed.create_time.is_some() && filed.decide_time.is_none());
    let status = refused(petition(&api, &participant("vol2"), "p", "", why).await);
    assert_reason(&status, Code::AlreadyExists, "ALREADY_EXISTS");
    assert_eq!(
        error_metadata(&status, "petition"),
        Some(filed.name.clone())
    );

    // Only the director decides; the mentor does not know of the petition.
    let to_cou3 = || grant(&filed.name, "cou3");
    assert_reason(
        &refused(decide(&api, &curator("cur"), to_cou3()).await),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_reason(
        &refused(decide(&api, &participant("vol2"), to_cou3()).await),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_reason(
        &refused(decide(&api, &participant("cou"), to_cou3()).await),
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_reason(
        &refused(decide(&api, &outsider(), to_cou3()).await),
        Code::NotFound,
        "NOT_FOUND",
    );

    // Malformed decisions, every field named.
    let mut none = to_cou3();
    none.decision = 0;
    assert_eq!(
        bad_fields(&refused(decide(&api, &director(), none).await)),
        ["decision"]
    );
    let mut bare = to_cou3();
    bare.new_mentor = String::new();
    bare.order = None;
    assert_eq!(
        bad_fields(&refused(decide(&api, &director(), bare).await)),
        ["new_mentor", "order"]
    );
    let mut reject = to_cou3();
    reject.decision = pb::PetitionDecision::Reject as i32;
    assert_eq!(
        bad_fields(&refused(decide(&api, &director(), reject).await)),
        ["reason"]
    );
    assert_eq!(
        bad_fields(&refused(
            decide(&api, &director(), grant(&filed.name, "cou")).await
        )),
        ["new_mentor"]
    );
    assert_eq!(
        bad_fields(&refused(
            decide(&api, &director(), grant(&filed.name, "vol2")).await
        )),
        ["new_mentor"]
    );

    // The new mentor is checked as on forming.
    let status = refused(decide(&api, &director(), grant(&filed.name, "ghost")).await);
    assert_reason(&status, Code::NotFound, "NOT_FOUND");
    let status = refused(decide(&api, &director(), grant(&filed.name, "cou-gone")).await);
    assert_reason(&status, Code::FailedPrecondition, "CONSENT_MISSING");
    assert_eq!(
        error_metadata(&status, "participant"),
        Some(participant_at("cou-gone"))
    );
    let status = refused(decide(&api, &director(), grant(&filed.name, "cou-nobank")).await);
    assert_reason(&status, Code::FailedPrecondition, "NOT_IN_BANK");
    assert_eq!(error_metadata(&status, "bank").as_deref(), Some("MENTORS"));
    let status = refused(decide(&api, &director(), grant(&filed.name, "cou-new")).await);
    assert_reason(&status, Code::FailedPrecondition, "MENTOR_NOT_TRAINED");
    let status = refused(decide(&api, &director(), grant(&filed.name, "vol")).await);
    assert_reason(&status, Code::FailedPrecondition, "PAIR_TYPE_ROLE_MISMATCH");
    assert_eq!(
        error_metadata(&status, "mentor_role").as_deref(),
        Some("VOLUNTEER")
    );
    let mut stale = to_cou3();
    stale.etag = "\"7\"".into();
    assert_reason(
        &refused(decide(&api, &director(), stale).await),
        Code::Aborted,
        "ETAG_MISMATCH",
    );

    let mut granting = to_cou3();
    granting.etag = filed.etag.clone();
    granting.reason = "наставник сменил место работы".into();
    granting.request_id = "decide-1".into();
    let granted = decide(&api, &director(), granting.clone())
        .await
        .expect("granted");
    assert_eq!(granted.state, pb::PetitionState::Granted as i32);
    assert_eq!(
        granted
            .new_mentor_person
            .as_ref()
            .map(|p| p.participant.as_str()),
        Some(participant_at("cou3").as_str())
    );
    let order = granted.order.as_ref().expect("order");
    assert_eq!(
        (order.number.as_str(), order.order_date),
        ("31-н", Some(day(2025, 2, 12)))
    );
    assert_eq!(granted.decision_reason, "наставник сменил место работы");
    assert!(granted.decide_time.is_some());
    // The same request again answers the same; another decision finds it decided.
    assert_eq!(
        decide(&api, &director(), granting).await.expect("repeat"),
        granted
    );
    let mut late = to_cou3();
    late.decision = pb::PetitionDecision::Reject as i32;
    late.reason = "поздно".into();
    let status = refused(decide(&api, &director(), late).await);
    assert_reason(&status, Code::FailedPrecondition, "TRANSITION_NOT_ALLOWED");
    assert_eq!(error_metadata(&status, "state").as_deref(), Some("GRANTED"));

    // The pair is FORMING again with the new mentor and the decision's order.
    let replaced = get(&api, &director(), "p").await.expect("pair");
    assert_eq!(replaced.state, pb::PairState::Forming as i32);
    assert_eq!(replaced.mentor, participant_at("cou3"));
    assert_eq!(
        replaced.order.as_ref().map(|o| o.number.as_str()),
        Some("31-н")
    );
    assert_eq!(replaced.agreement, "");
    // The replaced mentor learns of it from the pair, but reads no petition.
    let seen = get(&api, &participant("cou"), "p")
        .await
        .expect("the replaced mentor");
    assert_eq!(seen.mentor, participant_at("cou3"));
    assert_reason(
        &refused(
            petitions_of(
                &api,
                &participant("cou"),
                &pair_at("p"),
                pb::PetitionState::Unspecified,
            )
            .await,
        ),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    // The history: the mentee and the staff read it.
    for who in [director(), curator("cur"), participant("vol2")] {
        let history = petitions_of(&api, &who, &pair_at("p"), pb::PetitionState::Unspecified)
            .await
            .expect("history");
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].name, filed.name);
        assert_eq!(history[0].state, pb::PetitionState::Granted as i32);
    }
}

#[tokio::test]
async fn a_guardian_petitions_for_their_ward_and_the_director_rejects_with_reasons() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cou", MENTOR).await;
    person(&fx, "k", PUPIL).await;
    person(&fx, "k2", PUPIL).await;
    active_pair(&fx, "p", "cou", "k").await;
    active_pair(&fx, "q", "cou", "k2").await;

    let filed = petition(&api, &guardian("k"), "p", "", "нет контакта с наставником")
        .await
        .expect("filed by the guardian");
    assert_eq!(filed.filed_by, pb::ActorKind::Guardian as i32);
    assert_eq!(filed.mentee, participant_at("k"));
    assert!(filed.petitioner.as_ref().is_some_and(|p| p.minor));
    // A paper petition recorded by the director.
    let paper = petition(&api, &director(), "q", "", "заявление родителя на бумаге")
        .await
        .expect("paper");
    assert_eq!(paper.filed_by, pb::ActorKind::Staff as i32);
    // A guardian reads the ward's petitions only, here and across the institution.
    let mine = petitions_of(
        &api,
        &guardian("k"),
        &format!("institutions/{INST}/pairs/-"),
        pb::PetitionState::Unspecified,
    )
    .await
    .expect("own");
    assert_eq!(
        mine.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        [filed.name.as_str()]
    );
    assert_reason(
        &refused(
            petitions_of(
                &api,
                &guardian("k"),
                &pair_at("q"),
                pb::PetitionState::Unspecified,
            )
            .await,
        ),
        Code::NotFound,
        "NOT_FOUND",
    );

    let rejected = decide(
        &api,
        &director(),
        pb::DecideReplacementPetitionRequest {
            name: filed.name.clone(),
            decision: pb::PetitionDecision::Reject as i32,
            reason: "наставник провёл три встречи, контакт установлен".into(),
            ..pb::DecideReplacementPetitionRequest::default()
        },
    )
    .await
    .expect("rejected");
    assert_eq!(rejected.state, pb::PetitionState::Rejected as i32);
    assert_eq!(
        rejected.decision_reason,
        "наставник провёл три встречи, контакт установлен"
    );
    assert!(rejected.new_mentor_person.is_none() && rejected.order.is_none());
    // The director's queue: what is still PENDING across the institution.
    let queue = petitions_of(
        &api,
        &director(),
        &format!("institutions/{INST}/pairs/-"),
        pb::PetitionState::Pending,
    )
    .await
    .expect("queue");
    assert_eq!(
        queue.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        [paper.name.as_str()]
    );
    // The pair is unchanged by a rejection.
    let p = get(&api, &director(), "p").await.expect("pair");
    assert_eq!(p.state, pb::PairState::Active as i32);
    assert_eq!(p.mentor, participant_at("cou"));
}

#[tokio::test]
async fn in_a_group_a_mentee_petitions_for_themselves_only() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cou", MENTOR).await;
    for v in ["v1", "v2", "v3"] {
        person(&fx, v, who(ParticipantRole::Volunteer)).await;
    }
    active_group(
        &fx,
        "g",
        PairType::CounsellorVolunteer,
        "cou",
        &["v1", "v2"],
    )
    .await;
    let why = "наставник не выходит на связь";

    let status = refused(petition(&api, &participant("v1"), "g", "", why).await);
    assert_reason(&status, Code::InvalidArgument, "INVALID_FIELDS");
    assert_eq!(bad_fields(&status), ["replacement_petition.mentee"]);
    let status = refused(petition(&api, &participant("v1"), "g", "v2", why).await);
    assert_reason(&status, Code::PermissionDenied, "SCOPE_REQUIRED");
    let status = refused(petition(&api, &participant("v1"), "g", "v3", why).await);
    assert_eq!(bad_fields(&status), ["replacement_petition.mentee"]);
    assert_reason(
        &refused(petition(&api, &participant("v3"), "g", "v3", why).await),
        Code::NotFound,
        "NOT_FOUND",
    );

    let own = petition(&api, &participant("v1"), "g", "v1", why)
        .await
        .expect("own");
    let for_v2 = petition(&api, &director(), "g", "v2", why)
        .await
        .expect("paper for v2");
    let names =
        |list: Vec<pb::ReplacementPetition>| list.into_iter().map(|p| p.name).collect::<Vec<_>>();
    let all = pb::PetitionState::Unspecified;
    assert_eq!(
        names(
            petitions_of(&api, &director(), &pair_at("g"), all)
                .await
                .expect("all")
        ),
        [own.name.clone(), for_v2.name.clone()]
    );
    assert_eq!(
        names(
            petitions_of(&api, &participant("v1"), &pair_at("g"), all)
                .await
                .expect("v1")
        ),
        [own.name.as_str()]
    );
    assert_eq!(
        names(
            petitions_of(&api, &participant("v2"), &pair_at("g"), all)
                .await
                .expect("v2")
        ),
        [for_v2.name.as_str()]
    );
    assert_reason(
        &refused(petitions_of(&api, &participant("cou"), &pair_at("g"), all).await),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_reason(
        &refused(petitions_of(&api, &outsider(), &pair_at("g"), all).await),
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_reason(
        &refused(petitions_of(&api, &regional_centre("RU-SAR"), &pair_at("g"), all).await),
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    // Pages of one; a token of another query is refused.
    let first = api
        .list_replacement_petitions(request(
            &director(),
            now(),
            pb::ListReplacementPetitionsRequest {
                parent: pair_at("g"),
                page_size: 1,
                ..pb::ListReplacementPetitionsRequest::default()
            },
        ))
        .await
        .expect("page")
        .into_inner();
    assert_eq!(names(first.replacement_petitions), [own.name.as_str()]);
    assert!(!first.next_page_token.is_empty());
    let status = refused(
        api.list_replacement_petitions(request(
            &director(),
            now(),
            pb::ListReplacementPetitionsRequest {
                parent: pair_at("g"),
                state: pb::PetitionState::Pending as i32,
                page_size: 1,
                page_token: first.next_page_token,
            },
        ))
        .await,
    );
    assert_reason(&status, Code::InvalidArgument, "PAGE_TOKEN_INVALID");

    // Nothing more is recorded for a closed group.
    complete(
        &api,
        &director(),
        "g",
        Some(completion(
            pb::CompletionReason::ForceMajeure,
            pb::CompletionInitiator::Curator,
            "лагерь закрыт на карантин",
        )),
        "",
    )
    .await
    .expect("completed");
    let status = refused(petition(&api, &participant("v1"), "g", "v1", why).await);
    assert_reason(&status, Code::FailedPrecondition, "PAIR_CLOSED");
    assert_eq!(
        error_metadata(&status, "state").as_deref(),
        Some("COMPLETED")
    );
}

#[tokio::test]
async fn completion_cancellation_and_petitions_check_the_etag_and_the_request_id() {
    let fx = Fixture::new().await;
    let api = PairsApi::new(fx.store.clone());
    person(&fx, "cou", MENTOR).await;
    for k in ["k1", "k2", "k3"] {
        person(&fx, k, PUPIL).await;
    }
    active_pair(&fx, "p", "cou", "k1").await;
    active_pair(&fx, "q", "cou", "k3").await;
    pair(
        &fx,
        "f",
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        "cou",
        &["k2"],
    )
    .await
    .expect("forming");
    let finish = |etag: &str, request_id: &str, explanation: &str| pb::CompletePairRequest {
        name: pair_at("p"),
        completion: Some(completion(
            pb::CompletionReason::ValidReason,
            pb::CompletionInitiator::Both,
            explanation,
        )),
        mentee: String::new(),
        etag: etag.into(),
        request_id: request_id.into(),
    };
    let call = |body: pb::CompletePairRequest| api.complete_pair(request(&director(), now(), body));

    assert_reason(
        &refused(call(finish("\"999\"", "", "переезд")).await),
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    let mut missing = finish("", "", "переезд");
    missing.name = pair_at("nope");
    assert_reason(&refused(call(missing).await), Code::NotFound, "NOT_FOUND");
    let done = call(finish("", "complete-1", "переезд"))
        .await
        .expect("completed")
        .into_inner();
    let again = call(finish("", "complete-1", "переезд"))
        .await
        .expect("the same answer")
        .into_inner();
    assert_eq!(again, done);
    assert_reason(
        &refused(call(finish("", "complete-1", "другое")).await),
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );

    let drop_it = |reason: &str, name: &str| pb::CancelPairRequest {
        name: pair_at(name),
        reason: reason.into(),
        etag: String::new(),
        request_id: "cancel-1".into(),
    };
    assert_reason(
        &refused(
            api.cancel_pair(request(&director(), now(), drop_it("выбыл", "nope")))
                .await,
        ),
        Code::NotFound,
        "NOT_FOUND",
    );
    let cancelled = api
        .cancel_pair(request(&director(), now(), drop_it("выбыл", "f")))
        .await
        .expect("cancelled")
        .into_inner();
    assert_eq!(cancelled.state, pb::PairState::Cancelled as i32);
    assert_reason(
        &refused(
            api.cancel_pair(request(&director(), now(), drop_it("иное", "f")))
                .await,
        ),
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );

    let file = |text: &str| pb::CreateReplacementPetitionRequest {
        parent: pair_at("q"),
        replacement_petition: Some(pb::ReplacementPetition {
            reason: text.into(),
            ..pb::ReplacementPetition::default()
        }),
        request_id: "petition-1".into(),
    };
    let filed = api
        .create_replacement_petition(request(&guardian("k3"), now(), file("нет контакта")))
        .await
        .expect("filed")
        .into_inner();
    let repeated = api
        .create_replacement_petition(request(&guardian("k3"), now(), file("нет контакта")))
        .await
        .expect("the same answer, not a second petition")
        .into_inner();
    assert_eq!(repeated, filed);
    assert_reason(
        &refused(
            api.create_replacement_petition(request(&guardian("k3"), now(), file("другое")))
                .await,
        ),
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );
    let reject = |text: &str| pb::DecideReplacementPetitionRequest {
        name: filed.name.clone(),
        decision: pb::PetitionDecision::Reject as i32,
        reason: text.into(),
        request_id: "decide-1".into(),
        ..pb::DecideReplacementPetitionRequest::default()
    };
    decide(&api, &director(), reject("контакт установлен"))
        .await
        .expect("rejected");
    assert_reason(
        &refused(decide(&api, &director(), reject("иначе")).await),
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );
    let mut missing = reject("контакт установлен");
    missing.name = format!("{}/replacementPetitions/nope", pair_at("q"));
    missing.request_id = String::new();
    assert_reason(
        &refused(decide(&api, &director(), missing).await),
        Code::NotFound,
        "NOT_FOUND",
    );
}
