//! `ParticipantService` through its handlers: consent first, minors and guardians, the
//! director's roles, banks and training, who sees whom, revocation and redaction in every
//! answer that shows a person.

use edu_kit::auth::Caller;
use edu_kit::testing::{bad_fields, error_metadata, reason};
use edu_mentoring::api::ParticipantsApi;
use edu_mentoring::domain::ParticipantRole;
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::participant_service_server::ParticipantService;
use edu_proto::google::r#type::Date as PbDate;
use tonic::{Code, Status};

use crate::callers::{
    curator, director, event_consumer, guardian, now, outsider, participant, regional_centre,
    request,
};
use crate::common::{
    Fixture, INST, MENTOR, PUPIL, Who, activate, appoint, person, ready_pair, revoke, who,
};

fn api(fx: &Fixture) -> ParticipantsApi {
    ParticipantsApi::new(fx.store.clone())
}

fn institution() -> String {
    format!("institutions/{INST}")
}

fn name_of(id: &str) -> String {
    format!("institutions/{INST}/participants/{id}")
}

fn day(year: i32, month: i32, day: i32) -> PbDate {
    PbDate { year, month, day }
}

/// A fictional adult of `role`.
fn adult(family: &str, role: pb::ParticipantRole) -> pb::Participant {
    pb::Participant {
        family_name: family.into(),
        given_name: "Тест".into(),
        patronymic: "Условный".into(),
        birth_date: Some(day(1990, 4, 2)),
        role: role as i32,
        position: "вожатый 3-го отряда".into(),
        phone: "+7 900 000-00-01".into(),
        email: "test@example.org".into(),
        ..pb::Participant::default()
    }
}

/// A fictional pupil born in 2012: a minor.
fn pupil(family: &str) -> pb::Participant {
    pb::Participant {
        birth_date: Some(day(2012, 3, 1)),
        role: pb::ParticipantRole::Pupil as i32,
        mentee_profile: Some(pb::MenteeProfile {
            request: "адаптация в коллективе отряда".into(),
            ..pb::MenteeProfile::default()
        }),
        ..adult(family, pb::ParticipantRole::Pupil)
    }
}

fn a_guardian(subject: &str) -> pb::Guardian {
    pb::Guardian {
        family_name: "Родителева".into(),
        given_name: "Мама".into(),
        patronymic: String::new(),
        relation: pb::GuardianRelation::Parent as i32,
        subject: subject.into(),
    }
}

/// A consent to `purpose` given on 10 February 2025, by `guardian` when set.
fn consent_to(purpose: pb::ConsentPurpose, guardian: Option<pb::Guardian>) -> pb::Consent {
    pb::Consent {
        purpose: purpose as i32,
        guardian,
        give_date: Some(day(2025, 2, 10)),
        document: "согласие (приложение № 2 к Положению) от 10.02.2025".into(),
        ..pb::Consent::default()
    }
}

fn personal_data(guardian: Option<pb::Guardian>) -> pb::Consent {
    consent_to(pb::ConsentPurpose::PersonalData, guardian)
}

fn create_body(p: pb::Participant, c: pb::Consent) -> pb::CreateParticipantRequest {
    pb::CreateParticipantRequest {
        parent: institution(),
        participant: Some(p),
        consent: Some(c),
        request_id: String::new(),
    }
}

async fn create(
    fx: &Fixture,
    by: &Caller,
    body: pb::CreateParticipantRequest,
) -> Result<pb::Participant, Status> {
    api(fx)
        .create_participant(request(by, now(), body))
        .await
        .map(tonic::Response::into_inner)
}

async fn get(fx: &Fixture, by: &Caller, id: &str) -> Result<pb::Participant, Status> {
    api(fx)
        .get_participant(request(
            by,
            now(),
            pb::GetParticipantRequest { name: name_of(id) },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn list(
    fx: &Fixture,
    by: &Caller,
    body: pb::ListParticipantsRequest,
) -> Result<pb::ListParticipantsResponse, Status> {
    api(fx)
        .list_participants(request(by, now(), body))
        .await
        .map(tonic::Response::into_inner)
}

fn list_all() -> pb::ListParticipantsRequest {
    pb::ListParticipantsRequest {
        parent: institution(),
        ..pb::ListParticipantsRequest::default()
    }
}

/// The IDs of a page.
fn ids(participants: &[pb::Participant]) -> Vec<String> {
    participants
        .iter()
        .map(|p| p.name.rsplit('/').next().unwrap_or_default().to_string())
        .collect()
}

async fn update(
    fx: &Fixture,
    by: &Caller,
    participant: pb::Participant,
    paths: &[&str],
) -> Result<pb::Participant, Status> {
    api(fx)
        .update_participant(request(
            by,
            now(),
            pb::UpdateParticipantRequest {
                participant: Some(participant),
                update_mask: Some(prost_types::FieldMask {
                    paths: paths.iter().map(|p| (*p).to_string()).collect(),
                }),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn create_consent(
    fx: &Fixture,
    by: &Caller,
    id: &str,
    consent: pb::Consent,
    request_id: &str,
) -> Result<pb::Consent, Status> {
    api(fx)
        .create_consent(request(
            by,
            now(),
            pb::CreateConsentRequest {
                parent: name_of(id),
                consent: Some(consent),
                request_id: request_id.into(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn list_consents(
    fx: &Fixture,
    by: &Caller,
    body: pb::ListConsentsRequest,
) -> Result<pb::ListConsentsResponse, Status> {
    api(fx)
        .list_consents(request(by, now(), body))
        .await
        .map(tonic::Response::into_inner)
}

fn consents_of(parent: &str) -> pb::ListConsentsRequest {
    pb::ListConsentsRequest {
        parent: parent.into(),
        ..pb::ListConsentsRequest::default()
    }
}

async fn revoke_consent(
    fx: &Fixture,
    by: &Caller,
    body: pb::RevokeConsentRequest,
) -> Result<pb::Consent, Status> {
    api(fx)
        .revoke_consent(request(by, now(), body))
        .await
        .map(tonic::Response::into_inner)
}

fn revocation(consent: &str) -> pb::RevokeConsentRequest {
    pb::RevokeConsentRequest {
        name: consent.into(),
        statement: "заявление об отзыве согласия от 12.02.2025".into(),
        ..pb::RevokeConsentRequest::default()
    }
}

/// The name of participant `id`'s consent to PERSONAL_DATA in force, as the director reads it.
async fn consent_name(fx: &Fixture, id: &str) -> String {
    get(fx, &director(), id).await.expect("participant").consent
}

#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, expected: &str) -> Status {
    match result {
        Ok(ok) => panic!("expected {code:?} {expected}, got {ok:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            assert_eq!(reason(&status), expected, "{status:?}");
            status
        }
    }
}

/// An educator `cur` appointed curator by the director; their token then acts.
async fn appointed_curator(fx: &Fixture) -> Caller {
    person(fx, "cur", who(ParticipantRole::Educator)).await;
    appoint(fx, "cur").await;
    curator("cur")
}

const UNTRAINED: Who = Who {
    trained: false,
    ..MENTOR
};

// ---- CreateParticipant ----

#[tokio::test]
async fn create_participant_records_the_person_with_their_consent_and_its_receipt() {
    let fx = Fixture::new().await;
    let mut body = adult("Наставникова", pb::ParticipantRole::Counsellor);
    body.subject = "sub-nast".into();
    body.mentor_profile = Some(pb::MentorProfile {
        competences: vec!["организация отрядной работы".into()],
        request: "готов работать с вожатыми первого года".into(),
        experience: "пять смен".into(),
        preferred_forms: vec![pb::MentoringForm::ShortTerm as i32],
    });
    body.mentor_training = Some(pb::MentorTraining {
        complete_date: Some(day(2024, 8, 20)),
        programme: "установочная сессия наставников, 16 ч".into(),
        record_time: None,
    });
    let created = create(&fx, &director(), create_body(body, personal_data(None)))
        .await
        .expect("created");
    assert!(
        created
            .name
            .starts_with(&format!("{}/participants/", institution()))
    );
    assert_eq!(created.family_name, "Наставникова");
    assert_eq!(created.display_name, "Наставникова Тест Условный");
    assert_eq!(created.birth_date, Some(day(1990, 4, 2)));
    assert_eq!(created.role, pb::ParticipantRole::Counsellor as i32);
    assert_eq!(created.subject, "sub-nast");
    assert_eq!(created.email, "test@example.org");
    assert!(!created.minor && !created.redacted);
    assert!(created.trained, "in the bank of mentors and trained");
    let profile = created.mentor_profile.as_ref().expect("mentor profile");
    assert_eq!(profile.competences, ["организация отрядной работы"]);
    let training = created.mentor_training.as_ref().expect("training");
    assert!(training.record_time.is_some());
    assert!(created.mentee_profile.is_none());
    assert!(
        created
            .consent
            .starts_with(&format!("{}/consents/", created.name))
    );
    assert!(!created.publication_consent);
    assert_eq!(created.mentee_pair, "");
    assert_eq!(created.mentored_pairs, 0);
    assert!(created.create_time.is_some() && created.update_time.is_some());
    assert!(!created.etag.is_empty());

    // The consent was recorded in the same step, with its receipt.
    let listed = list_consents(&fx, &director(), consents_of(&created.name))
        .await
        .expect("consents");
    assert_eq!(listed.consents.len(), 1);
    let consent = &listed.consents[0];
    assert_eq!(consent.name, created.consent);
    assert_eq!(consent.purpose, pb::ConsentPurpose::PersonalData as i32);
    assert_eq!(consent.state, pb::ConsentState::Given as i32);
    assert_eq!(consent.give_date, Some(day(2025, 2, 10)));
    let receipt = consent.receipt.as_ref().expect("receipt");
    assert!(receipt.number.starts_with(&format!("{INST}-2025-")));
    assert!(receipt.text.contains("Наставникова"));
    assert_eq!(receipt.sha256.len(), 64);
    assert!(receipt.issue_time.is_some());
    let subject = consent.subject_person.as_ref().expect("subject");
    assert_eq!(subject.participant, created.name);
    assert_eq!(subject.display_name, "Наставникова Тест Условный");
}

#[tokio::test]
async fn create_participant_names_every_malformed_field() {
    let fx = Fixture::new().await;
    let body = pb::Participant {
        family_name: String::new(),
        given_name: "И".repeat(301),
        birth_date: Some(day(2026, 1, 1)),
        role: 0,
        email: "not an address".into(),
        mentor_training: Some(pb::MentorTraining {
            complete_date: Some(day(2024, 8, 20)),
            programme: "школа".into(),
            record_time: None,
        }),
        mentee_profile: Some(pb::MenteeProfile::default()),
        ..pb::Participant::default()
    };
    let status = refused(
        create(&fx, &director(), create_body(body, personal_data(None))).await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    assert_eq!(
        bad_fields(&status),
        [
            "participant.role",
            "participant.family_name",
            "participant.given_name",
            "participant.birth_date",
            "participant.email",
            "participant.mentee_profile.request",
            "participant.mentor_training",
        ]
    );
    // The consent's fields, of a person otherwise well described (a status names at most
    // eight fields).
    let consent = pb::Consent {
        purpose: pb::ConsentPurpose::Publication as i32,
        give_date: Some(day(2025, 3, 1)),
        guardian: Some(pb::Guardian {
            given_name: String::new(),
            relation: 0,
            ..a_guardian("")
        }),
        ..pb::Consent::default()
    };
    let status = refused(
        create(
            &fx,
            &director(),
            create_body(adult("Верная", pb::ParticipantRole::Volunteer), consent),
        )
        .await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    assert_eq!(
        bad_fields(&status),
        [
            "consent.give_date",
            "consent.guardian.given_name",
            "consent.guardian.relation",
            "consent.purpose",
        ]
    );
    // Nothing about anyone was stored.
    assert!(
        list(&fx, &director(), list_all())
            .await
            .expect("list")
            .participants
            .is_empty()
    );

    let missing = pb::CreateParticipantRequest {
        parent: institution(),
        ..pb::CreateParticipantRequest::default()
    };
    let status = refused(
        create(&fx, &director(), missing).await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    assert!(bad_fields(&status).contains(&"participant".to_string()));
    assert!(bad_fields(&status).contains(&"consent".to_string()));
}

#[tokio::test]
async fn a_minors_consent_is_given_by_a_guardian_or_nothing_is_stored() {
    let fx = Fixture::new().await;
    let status = refused(
        create(
            &fx,
            &director(),
            create_body(pupil("Юная"), personal_data(None)),
        )
        .await,
        Code::InvalidArgument,
        "GUARDIAN_CONSENT_REQUIRED",
    );
    assert_eq!(
        error_metadata(&status, "field").as_deref(),
        Some("consent.guardian")
    );
    assert!(
        list(&fx, &director(), list_all())
            .await
            .expect("list")
            .participants
            .is_empty()
    );

    let created = create(
        &fx,
        &director(),
        create_body(pupil("Юная"), personal_data(Some(a_guardian("parent-x")))),
    )
    .await
    .expect("with a guardian");
    assert!(created.minor);
    let consents = list_consents(&fx, &director(), consents_of(&created.name))
        .await
        .expect("consents");
    let given = &consents.consents[0];
    assert!(given.minor, "under 18 on the give date");
    let g = given.guardian.as_ref().expect("guardian");
    assert_eq!(g.family_name, "Родителева");
    assert_eq!(g.relation, pb::GuardianRelation::Parent as i32);
    assert_eq!(g.subject, "parent-x");
}

#[tokio::test]
async fn only_the_director_records_a_head_or_a_curator() {
    let fx = Fixture::new().await;
    let curator = appointed_curator(&fx).await;
    for role in [pb::ParticipantRole::Head, pb::ParticipantRole::Curator] {
        let status = refused(
            create(
                &fx,
                &curator,
                create_body(adult("Главная", role), personal_data(None)),
            )
            .await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
        assert_eq!(error_metadata(&status, "field").as_deref(), Some("role"));
    }
    // The appointed curator records everyone else.
    let educator = create(
        &fx,
        &curator,
        create_body(
            adult("Воспитателева", pb::ParticipantRole::Educator),
            personal_data(None),
        ),
    )
    .await
    .expect("curator records an educator");
    assert_eq!(educator.role, pb::ParticipantRole::Educator as i32);
    let head = create(
        &fx,
        &director(),
        create_body(
            adult("Главная", pb::ParticipantRole::Head),
            personal_data(None),
        ),
    )
    .await
    .expect("the director records the head");
    assert_eq!(head.role, pb::ParticipantRole::Head as i32);
}

#[tokio::test]
async fn a_curator_not_appointed_is_refused_in_every_method() {
    let fx = Fixture::new().await;
    person(&fx, "m1", MENTOR).await;
    let holder = curator("somebody");
    refused(
        create(
            &fx,
            &holder,
            create_body(
                adult("Вожатова", pb::ParticipantRole::Counsellor),
                personal_data(None),
            ),
        )
        .await,
        Code::PermissionDenied,
        "CURATOR_NOT_APPOINTED",
    );
    refused(
        get(&fx, &holder, "m1").await,
        Code::PermissionDenied,
        "CURATOR_NOT_APPOINTED",
    );
    refused(
        list_consents(&fx, &holder, consents_of(&name_of("m1"))).await,
        Code::PermissionDenied,
        "CURATOR_NOT_APPOINTED",
    );
}

#[tokio::test]
async fn a_subject_signs_in_as_one_participant_only() {
    let fx = Fixture::new().await;
    let mut first = adult("Первая", pb::ParticipantRole::Volunteer);
    first.subject = "same-sub".into();
    create(
        &fx,
        &director(),
        create_body(first.clone(), personal_data(None)),
    )
    .await
    .expect("first");
    let mut second = adult("Вторая", pb::ParticipantRole::Volunteer);
    second.subject = "same-sub".into();
    let status = refused(
        create(&fx, &director(), create_body(second, personal_data(None))).await,
        Code::AlreadyExists,
        "ALREADY_EXISTS",
    );
    assert_eq!(error_metadata(&status, "field").as_deref(), Some("subject"));
}

#[tokio::test]
async fn create_participant_with_a_request_id_is_done_once() {
    let fx = Fixture::new().await;
    let mut body = create_body(
        adult("Повторова", pb::ParticipantRole::Volunteer),
        personal_data(None),
    );
    body.request_id = "create-1".into();
    let first = create(&fx, &director(), body.clone()).await.expect("first");
    let again = create(&fx, &director(), body.clone())
        .await
        .expect("replayed");
    assert_eq!(again.name, first.name);
    assert_eq!(again.display_name, first.display_name);
    let everyone = list(&fx, &director(), list_all()).await.expect("list");
    assert_eq!(everyone.participants.len(), 1);

    // A replay after the person revoked shows them redacted: it reads them again.
    let id = ids(std::slice::from_ref(&first)).remove(0);
    revoke(&fx, &id).await.expect("revoked");
    let replayed = create(&fx, &director(), body.clone())
        .await
        .expect("replayed");
    assert_eq!(replayed.name, first.name);
    assert!(replayed.redacted);
    assert_eq!(replayed.display_name, "");
    assert_eq!(replayed.family_name, "");

    body.participant.as_mut().expect("participant").family_name = "Другая".into();
    refused(
        create(&fx, &director(), body).await,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );
}

#[tokio::test]
async fn only_staff_of_the_institution_record_people() {
    let fx = Fixture::new().await;
    person(&fx, "m1", MENTOR).await;
    let body = || {
        create_body(
            adult("Чужая", pb::ParticipantRole::Volunteer),
            personal_data(None),
        )
    };
    refused(
        create(&fx, &outsider(), body()).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    refused(
        create(&fx, &participant("m1"), body()).await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    refused(
        create(&fx, &regional_centre("RU-SAR"), body()).await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    let mut elsewhere = body();
    elsewhere.parent = "institutions/nowhere".into();
    refused(
        create(&fx, &director(), elsewhere).await,
        Code::NotFound,
        "NOT_FOUND",
    );
}

// ---- GetParticipant ----

#[tokio::test]
async fn get_participant_shows_a_person_to_staff_themselves_and_their_guardian_only() {
    let fx = Fixture::new().await;
    person(&fx, "m1", MENTOR).await;
    person(&fx, "m2", MENTOR).await;
    person(&fx, "k1", PUPIL).await;
    person(&fx, "k2", PUPIL).await;

    let read = get(&fx, &director(), "m1").await.expect("staff read");
    assert_eq!(read.display_name, "Фамилия-m1 Тест Условный");
    assert_eq!(read.phone, "+7 900 000-00-00");
    assert_eq!(read.etag, "\"1\"");
    let own = get(&fx, &participant("m1"), "m1").await.expect("own");
    assert_eq!(own.name, name_of("m1"));
    let ward = get(&fx, &guardian("k1"), "k1").await.expect("ward");
    assert!(ward.minor);
    assert!(ward.mentee_profile.is_some());

    // Anyone else's record does not exist for them.
    for (by, id) in [
        (participant("m1"), "m2"),
        (participant("k1"), "k2"),
        (guardian("k1"), "k2"),
        (guardian("k1"), "m1"),
        (outsider(), "m1"),
    ] {
        refused(get(&fx, &by, id).await, Code::NotFound, "NOT_FOUND");
    }
    refused(
        get(&fx, &director(), "nobody").await,
        Code::NotFound,
        "NOT_FOUND",
    );
    // The regional centre never reads a person, nor does an event consumer.
    refused(
        get(&fx, &regional_centre("RU-SAR"), "m1").await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    let consumer = event_consumer();
    refused(
        get(&fx, &consumer, "m1").await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    refused(
        get(&fx, &regional_centre("RU-MOW"), "m1").await,
        Code::NotFound,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn get_participant_shows_pairs_and_publication_consent() {
    let fx = Fixture::new().await;
    person(&fx, "m1", MENTOR).await;
    person(&fx, "k1", PUPIL).await;
    ready_pair(&fx, "p1", "m1", "k1").await;
    activate(&fx, "p1").await.expect("active");
    let mentor = get(&fx, &director(), "m1").await.expect("mentor");
    assert_eq!(mentor.mentored_pairs, 1);
    assert_eq!(mentor.mentee_pair, "");
    let mentee = get(&fx, &director(), "k1").await.expect("mentee");
    assert_eq!(mentee.mentee_pair, format!("{}/pairs/p1", institution()));
    assert_eq!(mentee.mentored_pairs, 0);

    create_consent(
        &fx,
        &director(),
        "m1",
        consent_to(pb::ConsentPurpose::Publication, None),
        "",
    )
    .await
    .expect("publication consent");
    assert!(
        get(&fx, &director(), "m1")
            .await
            .expect("m1")
            .publication_consent
    );
}

// ---- ListParticipants ----

#[tokio::test]
async fn list_participants_filters_by_bank_training_pairing_role_and_consent() {
    let fx = Fixture::new().await;
    person(&fx, "m-a", MENTOR).await;
    person(&fx, "m-u", UNTRAINED).await;
    person(&fx, "m-gone", MENTOR).await;
    person(&fx, "k1", PUPIL).await;
    person(&fx, "k2", PUPIL).await;
    ready_pair(&fx, "p", "m-a", "k2").await;
    revoke(&fx, "m-gone").await.expect("revoked");

    let by =
        |bank: pb::Bank, trained_only: bool, unpaired_only: bool| pb::ListParticipantsRequest {
            bank: bank as i32,
            trained_only,
            unpaired_only,
            ..list_all()
        };
    let mentors = list(&fx, &director(), by(pb::Bank::Mentors, false, false))
        .await
        .expect("mentors");
    assert_eq!(ids(&mentors.participants), ["m-a", "m-u"]);
    let trained = list(&fx, &director(), by(pb::Bank::Mentors, true, false))
        .await
        .expect("trained");
    assert_eq!(ids(&trained.participants), ["m-a"]);
    assert!(trained.participants[0].trained);
    let mentees = list(&fx, &director(), by(pb::Bank::Mentees, false, false))
        .await
        .expect("mentees");
    assert_eq!(ids(&mentees.participants), ["k1", "k2"]);
    let unpaired = list(&fx, &director(), by(pb::Bank::Mentees, false, true))
        .await
        .expect("unpaired");
    assert_eq!(ids(&unpaired.participants), ["k1"]);
    let pupils = list(
        &fx,
        &director(),
        pb::ListParticipantsRequest {
            role: pb::ParticipantRole::Pupil as i32,
            ..list_all()
        },
    )
    .await
    .expect("pupils");
    assert_eq!(ids(&pupils.participants), ["k1", "k2"]);
    let given = list(
        &fx,
        &director(),
        pb::ListParticipantsRequest {
            consent_state: pb::ConsentState::Given as i32,
            ..list_all()
        },
    )
    .await
    .expect("given");
    assert_eq!(ids(&given.participants), ["k1", "k2", "m-a", "m-u"]);

    // The revoked one: listed last and redacted, only by the consent filter or in full.
    let revoked = list(
        &fx,
        &director(),
        pb::ListParticipantsRequest {
            consent_state: pb::ConsentState::Revoked as i32,
            ..list_all()
        },
    )
    .await
    .expect("revoked");
    assert_eq!(ids(&revoked.participants), ["m-gone"]);
    let gone = &revoked.participants[0];
    assert!(gone.redacted);
    assert_eq!(gone.role, pb::ParticipantRole::Counsellor as i32);
    assert_eq!(
        (
            gone.family_name.as_str(),
            gone.display_name.as_str(),
            gone.phone.as_str()
        ),
        ("", "", "")
    );
    assert!(gone.birth_date.is_none() && gone.mentor_profile.is_none());
    assert!(gone.mentor_training.is_none() && !gone.trained);
    let everyone = list(&fx, &director(), list_all()).await.expect("everyone");
    assert_eq!(
        ids(&everyone.participants).last().map(String::as_str),
        Some("m-gone")
    );
    assert!(everyone.participants.last().is_some_and(|p| p.redacted));

    // The flags narrow their own bank only.
    let status = refused(
        list(&fx, &director(), by(pb::Bank::Unspecified, true, true)).await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    assert_eq!(bad_fields(&status), ["trained_only", "unpaired_only"]);
}

#[tokio::test]
async fn list_participants_pages_and_binds_tokens_to_the_query() {
    let fx = Fixture::new().await;
    for id in ["a1", "a2", "a3", "a4", "a5"] {
        person(&fx, id, MENTOR).await;
    }
    let mut seen = vec![];
    let mut token = String::new();
    loop {
        let page = list(
            &fx,
            &director(),
            pb::ListParticipantsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..list_all()
            },
        )
        .await
        .expect("page");
        assert!(page.participants.len() <= 2);
        seen.extend(ids(&page.participants));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        if seen.len() == 2 {
            // The token of this query does not serve another.
            refused(
                list(
                    &fx,
                    &director(),
                    pb::ListParticipantsRequest {
                        page_size: 2,
                        page_token: token.clone(),
                        bank: pb::Bank::Mentors as i32,
                        ..list_all()
                    },
                )
                .await,
                Code::InvalidArgument,
                "PAGE_TOKEN_INVALID",
            );
        }
    }
    assert_eq!(seen, ["a1", "a2", "a3", "a4", "a5"]);
    let status = refused(
        list(
            &fx,
            &director(),
            pb::ListParticipantsRequest {
                page_token: "t".repeat(4097),
                ..list_all()
            },
        )
        .await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    assert_eq!(bad_fields(&status), ["page_token"]);
}

#[tokio::test]
async fn list_participants_shows_a_participant_or_guardian_only_their_own() {
    let fx = Fixture::new().await;
    person(&fx, "m1", MENTOR).await;
    person(&fx, "m2", MENTOR).await;
    person(&fx, "k1", PUPIL).await;
    person(&fx, "k2", PUPIL).await;
    let own = list(&fx, &participant("m1"), list_all())
        .await
        .expect("own");
    assert_eq!(ids(&own.participants), ["m1"]);
    let wards = list(&fx, &guardian("k2"), list_all()).await.expect("wards");
    assert_eq!(ids(&wards.participants), ["k2"]);
    let filtered = list(
        &fx,
        &participant("m1"),
        pb::ListParticipantsRequest {
            bank: pb::Bank::Mentees as i32,
            ..list_all()
        },
    )
    .await
    .expect("filtered");
    assert!(filtered.participants.is_empty());
    refused(
        list(&fx, &regional_centre("RU-SAR"), list_all()).await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    refused(
        list(&fx, &outsider(), list_all()).await,
        Code::NotFound,
        "NOT_FOUND",
    );
}

// ---- UpdateParticipant ----

#[tokio::test]
async fn update_participant_changes_the_masked_fields_only() {
    let fx = Fixture::new().await;
    person(&fx, "m1", MENTOR).await;
    let before = get(&fx, &director(), "m1").await.expect("m1");
    let changed = update(
        &fx,
        &director(),
        pb::Participant {
            name: name_of("m1"),
            phone: "+7 911 111-11-11".into(),
            family_name: "Не та".into(),
            given_name: "Новое".into(),
            etag: before.etag.clone(),
            ..pb::Participant::default()
        },
        &["phone", "given_name"],
    )
    .await
    .expect("changed");
    assert_eq!(changed.phone, "+7 911 111-11-11");
    assert_eq!(changed.family_name, before.family_name, "outside the mask");
    assert_eq!(changed.patronymic, before.patronymic);
    assert_eq!(changed.display_name, "Фамилия-m1 Новое Условный");
    assert_eq!(changed.position, before.position);
    assert_ne!(changed.etag, before.etag);

    // A stale etag.
    refused(
        update(
            &fx,
            &director(),
            pb::Participant {
                name: name_of("m1"),
                position: "вожатый".into(),
                etag: before.etag,
                ..pb::Participant::default()
            },
            &["position"],
        )
        .await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );

    // Into the bank of mentees, and the training replaced.
    let banked = update(
        &fx,
        &director(),
        pb::Participant {
            name: name_of("m1"),
            mentee_profile: Some(pb::MenteeProfile {
                request: "методика отрядных мероприятий".into(),
                competences: vec!["игротехника".into()],
                preferred_forms: vec![pb::MentoringForm::Virtual as i32],
            }),
            mentor_training: Some(pb::MentorTraining {
                complete_date: Some(day(2025, 1, 20)),
                programme: "школа наставника, 2-й модуль".into(),
                record_time: None,
            }),
            ..pb::Participant::default()
        },
        &["mentee_profile", "mentor_training"],
    )
    .await
    .expect("banked");
    assert_eq!(
        banked.mentee_profile.as_ref().map(|p| p.request.as_str()),
        Some("методика отрядных мероприятий")
    );
    assert_eq!(
        banked
            .mentor_training
            .as_ref()
            .map(|t| t.programme.as_str()),
        Some("школа наставника, 2-й модуль")
    );

    // Out of the bank of mentors: the training stays as history, `trained` goes.
    let left = update(
        &fx,
        &director(),
        pb::Participant {
            name: name_of("m1"),
            ..pb::Participant::default()
        },
        &["mentor_profile"],
    )
    .await
    .expect("left the bank");
    assert!(left.mentor_profile.is_none() && !left.trained);
    assert!(left.mentor_training.is_some());
}

#[tokio::test]
async fn update_participant_refuses_malformed_masks_and_fields() {
    let fx = Fixture::new().await;
    person(&fx, "m1", MENTOR).await;
    person(&fx, "k1", PUPIL).await;
    let status = refused(
        update(
            &fx,
            &director(),
            pb::Participant {
                name: name_of("m1"),
                ..pb::Participant::default()
            },
            &["create_time"],
        )
        .await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    assert_eq!(bad_fields(&status), ["update_mask"]);
    let status = refused(
        update(
            &fx,
            &director(),
            pb::Participant {
                name: name_of("m1"),
                family_name: " ".into(),
                birth_date: Some(day(2030, 1, 1)),
                email: "@".into(),
                mentor_profile: Some(pb::MentorProfile {
                    competences: vec!["туризм".into(), "туризм".into()],
                    ..pb::MentorProfile::default()
                }),
                ..pb::Participant::default()
            },
            &["family_name", "birth_date", "email", "mentor_profile"],
        )
        .await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    assert_eq!(
        bad_fields(&status),
        [
            "participant.family_name",
            "participant.birth_date",
            "participant.email",
            "participant.mentor_profile.competences[1]",
        ]
    );
    // Training for someone outside the bank of mentors, and training cleared.
    let training = pb::MentorTraining {
        complete_date: Some(day(2024, 8, 20)),
        programme: "школа наставника".into(),
        record_time: None,
    };
    let status = refused(
        update(
            &fx,
            &director(),
            pb::Participant {
                name: name_of("k1"),
                mentor_training: Some(training),
                ..pb::Participant::default()
            },
            &["mentor_training"],
        )
        .await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    assert_eq!(bad_fields(&status), ["participant.mentor_training"]);
    let status = refused(
        update(
            &fx,
            &director(),
            pb::Participant {
                name: name_of("m1"),
                ..pb::Participant::default()
            },
            &["mentor_training"],
        )
        .await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    assert_eq!(bad_fields(&status), ["participant.mentor_training"]);
}

#[tokio::test]
async fn only_the_director_gives_or_takes_head_and_curator_and_never_under_an_open_pair() {
    let fx = Fixture::new().await;
    let curator = appointed_curator(&fx).await;
    person(&fx, "m1", MENTOR).await;
    person(&fx, "m2", MENTOR).await;
    person(&fx, "k1", PUPIL).await;
    let to = |id: &str, role: pb::ParticipantRole| pb::Participant {
        name: name_of(id),
        role: role as i32,
        ..pb::Participant::default()
    };
    let status = refused(
        update(
            &fx,
            &curator,
            to("m1", pb::ParticipantRole::Head),
            &["role"],
        )
        .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    assert_eq!(error_metadata(&status, "field").as_deref(), Some("role"));
    let head = update(
        &fx,
        &director(),
        to("m1", pb::ParticipantRole::Head),
        &["role"],
    )
    .await
    .expect("the director gives HEAD");
    assert_eq!(head.role, pb::ParticipantRole::Head as i32);
    // Taking HEAD is the director's too; other roles are the curator's.
    refused(
        update(
            &fx,
            &curator,
            to("m1", pb::ParticipantRole::Educator),
            &["role"],
        )
        .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    let educator = update(
        &fx,
        &curator,
        to("m2", pb::ParticipantRole::Educator),
        &["role"],
    )
    .await
    .expect("the curator changes other roles");
    assert_eq!(educator.role, pb::ParticipantRole::Educator as i32);
    // The curator may change a HEAD's other data.
    update(
        &fx,
        &curator,
        pb::Participant {
            name: name_of("m1"),
            position: "директор".into(),
            ..pb::Participant::default()
        },
        &["position"],
    )
    .await
    .expect("position of the head");

    // Under an open pair neither the role nor the bank entry on that side changes.
    person(&fx, "m3", MENTOR).await;
    ready_pair(&fx, "p1", "m3", "k1").await;
    let status = refused(
        update(
            &fx,
            &director(),
            to("m3", pb::ParticipantRole::Volunteer),
            &["role"],
        )
        .await,
        Code::FailedPrecondition,
        "PARTICIPANT_IN_PAIR",
    );
    assert_eq!(
        error_metadata(&status, "pair"),
        Some(format!("{}/pairs/p1", institution()))
    );
    refused(
        update(
            &fx,
            &director(),
            to("k1", pb::ParticipantRole::Pupil),
            &["mentee_profile"],
        )
        .await,
        Code::FailedPrecondition,
        "PARTICIPANT_IN_PAIR",
    );
}

#[tokio::test]
async fn update_participant_guards_minors_subjects_and_redacted_people() {
    let fx = Fixture::new().await;
    person(&fx, "m1", MENTOR).await;
    person(&fx, "m2", MENTOR).await;
    person(&fx, "gone", MENTOR).await;
    revoke(&fx, "gone").await.expect("revoked");

    // A corrected birth date that makes a minor of someone who consented alone.
    let status = refused(
        update(
            &fx,
            &director(),
            pb::Participant {
                name: name_of("m1"),
                birth_date: Some(day(2010, 1, 1)),
                ..pb::Participant::default()
            },
            &["birth_date"],
        )
        .await,
        Code::InvalidArgument,
        "GUARDIAN_CONSENT_REQUIRED",
    );
    assert_eq!(
        error_metadata(&status, "field").as_deref(),
        Some("participant.birth_date")
    );

    // Another participant's subject.
    let status = refused(
        update(
            &fx,
            &director(),
            pb::Participant {
                name: name_of("m1"),
                subject: "m2".into(),
                ..pb::Participant::default()
            },
            &["subject"],
        )
        .await,
        Code::AlreadyExists,
        "ALREADY_EXISTS",
    );
    assert_eq!(error_metadata(&status, "field").as_deref(), Some("subject"));
    let moved = update(
        &fx,
        &director(),
        pb::Participant {
            name: name_of("m1"),
            subject: "m1-new".into(),
            ..pb::Participant::default()
        },
        &["subject"],
    )
    .await
    .expect("new subject");
    assert_eq!(moved.subject, "m1-new");

    // Nothing is processed about a redacted person.
    let status = refused(
        update(
            &fx,
            &director(),
            pb::Participant {
                name: name_of("gone"),
                phone: "+7 900".into(),
                ..pb::Participant::default()
            },
            &["phone"],
        )
        .await,
        Code::FailedPrecondition,
        "CONSENT_MISSING",
    );
    assert_eq!(
        error_metadata(&status, "purpose").as_deref(),
        Some("PERSONAL_DATA")
    );
    assert_eq!(
        error_metadata(&status, "participant"),
        Some(name_of("gone"))
    );
}

#[tokio::test]
async fn participants_do_not_change_records_and_never_see_others() {
    let fx = Fixture::new().await;
    person(&fx, "m1", MENTOR).await;
    person(&fx, "m2", MENTOR).await;
    let phone = |id: &str| pb::Participant {
        name: name_of(id),
        phone: "+7 900".into(),
        ..pb::Participant::default()
    };
    refused(
        update(&fx, &participant("m1"), phone("m1"), &["phone"]).await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    refused(
        update(&fx, &participant("m1"), phone("m2"), &["phone"]).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    refused(
        update(&fx, &outsider(), phone("m1"), &["phone"]).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    refused(
        update(&fx, &director(), phone("nobody"), &["phone"]).await,
        Code::NotFound,
        "NOT_FOUND",
    );
}

// ---- CreateConsent ----

#[tokio::test]
async fn create_consent_records_publication_and_brings_a_redacted_person_back() {
    let fx = Fixture::new().await;
    person(&fx, "m1", MENTOR).await;
    let publication = create_consent(
        &fx,
        &director(),
        "m1",
        consent_to(pb::ConsentPurpose::Publication, None),
        "pub-1",
    )
    .await
    .expect("publication");
    assert_eq!(publication.purpose, pb::ConsentPurpose::Publication as i32);
    assert_eq!(publication.state, pb::ConsentState::Given as i32);
    assert!(
        publication
            .receipt
            .as_ref()
            .is_some_and(|r| !r.text.is_empty())
    );
    let replayed = create_consent(
        &fx,
        &director(),
        "m1",
        consent_to(pb::ConsentPurpose::Publication, None),
        "pub-1",
    )
    .await
    .expect("replayed");
    assert_eq!(replayed.name, publication.name);
    refused(
        create_consent(
            &fx,
            &director(),
            "m1",
            consent_to(pb::ConsentPurpose::PersonalData, None),
            "pub-1",
        )
        .await,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );
    let status = refused(
        create_consent(
            &fx,
            &director(),
            "m1",
            consent_to(pb::ConsentPurpose::Publication, None),
            "",
        )
        .await,
        Code::AlreadyExists,
        "ALREADY_EXISTS",
    );
    assert_eq!(error_metadata(&status, "consent"), Some(publication.name));

    // Revoked: no consent to PUBLICATION for a redacted person; a new one to PERSONAL_DATA
    // shows them again.
    revoke(&fx, "m1").await.expect("revoked");
    assert!(get(&fx, &director(), "m1").await.expect("m1").redacted);
    let status = refused(
        create_consent(
            &fx,
            &director(),
            "m1",
            consent_to(pb::ConsentPurpose::Publication, None),
            "",
        )
        .await,
        Code::FailedPrecondition,
        "CONSENT_MISSING",
    );
    assert_eq!(
        error_metadata(&status, "purpose").as_deref(),
        Some("PERSONAL_DATA")
    );
    let again = create_consent(
        &fx,
        &director(),
        "m1",
        consent_to(pb::ConsentPurpose::PersonalData, None),
        "",
    )
    .await
    .expect("consent again");
    assert!(!again.redacted);
    let back = get(&fx, &director(), "m1").await.expect("m1");
    assert!(!back.redacted);
    assert_eq!(back.display_name, "Фамилия-m1 Тест Условный");
    assert_eq!(back.consent, again.name);
}

#[tokio::test]
async fn create_consent_refuses_malformed_consents_and_minors_alone() {
    let fx = Fixture::new().await;
    let curator = appointed_curator(&fx).await;
    person(&fx, "k1", PUPIL).await;
    person(&fx, "m1", MENTOR).await;
    let status = refused(
        create_consent(
            &fx,
            &curator,
            "k1",
            pb::Consent {
                purpose: 0,
                give_date: Some(day(2025, 2, 13)),
                guardian: Some(pb::Guardian {
                    family_name: String::new(),
                    ..a_guardian("")
                }),
                document: "д".repeat(301),
                ..pb::Consent::default()
            },
            "",
        )
        .await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    assert_eq!(
        bad_fields(&status),
        [
            "consent.purpose",
            "consent.give_date",
            "consent.guardian.family_name",
            "consent.document",
        ]
    );
    // Before the birth date.
    let status = refused(
        create_consent(
            &fx,
            &curator,
            "k1",
            pb::Consent {
                give_date: Some(day(2011, 1, 1)),
                ..consent_to(
                    pb::ConsentPurpose::Publication,
                    Some(a_guardian("parent-k1")),
                )
            },
            "",
        )
        .await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    assert_eq!(bad_fields(&status), ["consent.give_date"]);
    let status = refused(
        create_consent(
            &fx,
            &curator,
            "k1",
            consent_to(pb::ConsentPurpose::Publication, None),
            "",
        )
        .await,
        Code::InvalidArgument,
        "GUARDIAN_CONSENT_REQUIRED",
    );
    assert_eq!(
        error_metadata(&status, "field").as_deref(),
        Some("consent.guardian")
    );
    let with_guardian = create_consent(
        &fx,
        &curator,
        "k1",
        consent_to(
            pb::ConsentPurpose::Publication,
            Some(a_guardian("parent-k1")),
        ),
        "",
    )
    .await
    .expect("the curator records a guardian's consent");
    assert!(with_guardian.minor);

    refused(
        create_consent(
            &fx,
            &curator,
            "nobody",
            consent_to(pb::ConsentPurpose::Publication, None),
            "",
        )
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    refused(
        create_consent(
            &fx,
            &participant("m1"),
            "m1",
            consent_to(pb::ConsentPurpose::Publication, None),
            "",
        )
        .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    refused(
        create_consent(
            &fx,
            &outsider(),
            "m1",
            consent_to(pb::ConsentPurpose::Publication, None),
            "",
        )
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );
}

// ---- ListConsents ----

#[tokio::test]
async fn list_consents_shows_the_history_to_staff_and_each_person_their_own() {
    let fx = Fixture::new().await;
    person(&fx, "m1", MENTOR).await;
    person(&fx, "m2", MENTOR).await;
    person(&fx, "k1", PUPIL).await;
    create_consent(
        &fx,
        &director(),
        "m1",
        consent_to(pb::ConsentPurpose::Publication, None),
        "",
    )
    .await
    .expect("publication");
    let every = format!("{}/participants/-", institution());

    let all = list_consents(&fx, &director(), consents_of(&every))
        .await
        .expect("all");
    assert_eq!(all.consents.len(), 4);
    // The latest given first: the publication consent of 10 February 2025.
    assert_eq!(
        all.consents[0].purpose,
        pb::ConsentPurpose::Publication as i32
    );
    let publication = list_consents(
        &fx,
        &director(),
        pb::ListConsentsRequest {
            purpose: pb::ConsentPurpose::Publication as i32,
            ..consents_of(&every)
        },
    )
    .await
    .expect("publication");
    assert_eq!(publication.consents.len(), 1);

    let mut seen = vec![];
    let mut token = String::new();
    loop {
        let page = list_consents(
            &fx,
            &director(),
            pb::ListConsentsRequest {
                page_size: 3,
                page_token: token.clone(),
                ..consents_of(&every)
            },
        )
        .await
        .expect("page");
        seen.extend(page.consents.into_iter().map(|c| c.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 4);
    refused(
        list_consents(
            &fx,
            &director(),
            pb::ListConsentsRequest {
                page_token: token_of_first_page(&fx, &every).await,
                state: pb::ConsentState::Revoked as i32,
                ..consents_of(&every)
            },
        )
        .await,
        Code::InvalidArgument,
        "PAGE_TOKEN_INVALID",
    );

    // A participant and a guardian: their own, with `-` too; nobody else's.
    let own = list_consents(&fx, &participant("m1"), consents_of(&every))
        .await
        .expect("own");
    assert_eq!(own.consents.len(), 2);
    assert!(
        own.consents
            .iter()
            .all(|c| c.name.starts_with(&name_of("m1")))
    );
    let ward = list_consents(&fx, &guardian("k1"), consents_of(&name_of("k1")))
        .await
        .expect("ward");
    assert_eq!(ward.consents.len(), 1);
    refused(
        list_consents(&fx, &participant("m1"), consents_of(&name_of("m2"))).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    refused(
        list_consents(&fx, &outsider(), consents_of(&every)).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    refused(
        list_consents(&fx, &director(), consents_of(&name_of("nobody"))).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    refused(
        list_consents(&fx, &regional_centre("RU-SAR"), consents_of(&every)).await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
}

async fn token_of_first_page(fx: &Fixture, every: &str) -> String {
    list_consents(
        fx,
        &director(),
        pb::ListConsentsRequest {
            page_size: 1,
            ..consents_of(every)
        },
    )
    .await
    .expect("first page")
    .next_page_token
}

// ---- RevokeConsent ----

#[tokio::test]
async fn revoking_redacts_the_person_in_every_answer_returns_the_receipt_and_is_audited() {
    let fx = Fixture::new().await;
    person(&fx, "m1", MENTOR).await;
    person(&fx, "k1", PUPIL).await;
    ready_pair(&fx, "p1", "m1", "k1").await;
    activate(&fx, "p1").await.expect("active");
    let consent = consent_name(&fx, "m1").await;

    let revoked = revoke_consent(&fx, &director(), revocation(&consent))
        .await
        .expect("revoked");
    assert_eq!(revoked.name, consent);
    assert_eq!(revoked.state, pb::ConsentState::Revoked as i32);
    assert_eq!(revoked.revoked_by, pb::ActorKind::Staff as i32);
    assert!(revoked.revoke_time.is_some());
    let receipt = revoked
        .revocation_receipt
        .as_ref()
        .expect("revocation receipt");
    assert!(receipt.number.starts_with(&format!("{INST}-2025-")));
    assert_eq!(receipt.sha256.len(), 64);
    // The answer already shows the person redacted: no texts, no names.
    assert!(revoked.redacted);
    assert_eq!(receipt.text, "");
    assert_eq!(revoked.receipt.as_ref().map(|r| r.text.as_str()), Some(""));
    assert_eq!(revoked.revocation_statement, "");
    assert!(!revoked.minor);
    let subject = revoked.subject_person.as_ref().expect("subject");
    assert!(subject.redacted && subject.display_name.is_empty());
    assert_eq!(subject.role, pb::ParticipantRole::Counsellor as i32);

    // Audited (no name in it), with the event, and the pair suspended.
    assert_eq!(
        fx.scalar(
            "SELECT count(*) FROM mentoring.audit_log
             WHERE action = 'consent.revoked' AND actor = 'director'"
        )
        .await,
        1
    );
    assert_eq!(
        fx.scalar(
            "SELECT count(*) FROM mentoring.event_outbox WHERE event_type = 'CONSENT_REVOKED'"
        )
        .await,
        1
    );
    assert_eq!(
        fx.scalar("SELECT count(*) FROM mentoring.pairs WHERE state = 'SUSPENDED'")
            .await,
        1
    );

    // GetParticipant.
    let shown = get(&fx, &director(), "m1").await.expect("m1");
    assert!(shown.redacted);
    assert_eq!(shown.role, pb::ParticipantRole::Counsellor as i32);
    assert_eq!(
        (
            shown.family_name.as_str(),
            shown.given_name.as_str(),
            shown.patronymic.as_str(),
            shown.display_name.as_str(),
            shown.subject.as_str(),
            shown.phone.as_str(),
        ),
        ("", "", "", "", "", "")
    );
    assert!(shown.birth_date.is_none() && shown.mentor_profile.is_none());
    assert!(shown.mentor_training.is_none() && !shown.minor && !shown.trained);
    assert_eq!(shown.consent, consent, "the latest one, revoked");
    // The person themselves sees their record redacted too.
    assert!(
        get(&fx, &participant("m1"), "m1")
            .await
            .expect("own")
            .redacted
    );

    // ListParticipants.
    let listed = list(&fx, &director(), list_all()).await.expect("list");
    let entry = listed
        .participants
        .iter()
        .find(|p| p.name == name_of("m1"))
        .expect("listed");
    assert!(entry.redacted && entry.display_name.is_empty() && entry.phone.is_empty());

    // ListConsents.
    let consents = list_consents(&fx, &director(), consents_of(&name_of("m1")))
        .await
        .expect("consents");
    let entry = &consents.consents[0];
    assert!(entry.redacted);
    assert_eq!(entry.receipt.as_ref().map(|r| r.text.as_str()), Some(""));
    assert!(
        entry
            .subject_person
            .as_ref()
            .is_some_and(|p| p.display_name.is_empty())
    );

    // Revoking again answers it unchanged.
    let again = revoke_consent(&fx, &director(), revocation(&consent))
        .await
        .expect("again");
    assert_eq!(again.etag, revoked.etag);
    assert_eq!(
        again.revocation_receipt.map(|r| r.number),
        Some(receipt.number.clone())
    );
}

#[tokio::test]
async fn an_adult_revokes_their_own_a_minor_does_not_and_a_guardian_revokes_their_wards() {
    let fx = Fixture::new().await;
    person(&fx, "m1", MENTOR).await;
    person(&fx, "m2", MENTOR).await;
    person(&fx, "k1", PUPIL).await;

    // An adult revokes their own consent to PUBLICATION: nothing is redacted.
    let publication = create_consent(
        &fx,
        &director(),
        "m1",
        consent_to(pb::ConsentPurpose::Publication, None),
        "",
    )
    .await
    .expect("publication");
    let own = revoke_consent(&fx, &participant("m1"), revocation(&publication.name))
        .await
        .expect("own");
    assert_eq!(own.revoked_by, pb::ActorKind::Subject as i32);
    assert!(!own.redacted);
    assert_eq!(
        own.revocation_statement,
        "заявление об отзыве согласия от 12.02.2025"
    );
    assert!(
        own.revocation_receipt
            .as_ref()
            .is_some_and(|r| !r.text.is_empty())
    );
    assert!(
        !get(&fx, &director(), "m1")
            .await
            .expect("m1")
            .publication_consent
    );

    // Nobody else's.
    let m2 = consent_name(&fx, "m2").await;
    refused(
        revoke_consent(&fx, &participant("m1"), revocation(&m2)).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    refused(
        revoke_consent(&fx, &regional_centre("RU-SAR"), revocation(&m2)).await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );

    // A minor does not revoke the consent their guardian gave; the guardian does.
    let k1 = consent_name(&fx, "k1").await;
    refused(
        revoke_consent(&fx, &participant("k1"), revocation(&k1)).await,
        Code::PermissionDenied,
        "GUARDIAN_REQUIRED",
    );
    // A consent naming another representative is theirs to revoke, not this guardian's.
    let other = create_consent(
        &fx,
        &director(),
        "k1",
        consent_to(
            pb::ConsentPurpose::Publication,
            Some(a_guardian("parent-other")),
        ),
        "",
    )
    .await
    .expect("another representative's consent");
    refused(
        revoke_consent(&fx, &guardian("k1"), revocation(&other.name)).await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    let by_guardian = revoke_consent(&fx, &guardian("k1"), revocation(&k1))
        .await
        .expect("the guardian revokes");
    assert_eq!(by_guardian.revoked_by, pb::ActorKind::Guardian as i32);
    assert!(by_guardian.redacted);
    assert!(
        by_guardian.guardian.is_none(),
        "the guardian's names are hidden too"
    );
    assert!(
        get(&fx, &guardian("k1"), "k1")
            .await
            .expect("ward")
            .redacted
    );
}

#[tokio::test]
async fn revoke_consent_checks_the_etag_the_statement_and_the_request_id() {
    let fx = Fixture::new().await;
    person(&fx, "m1", MENTOR).await;
    let consent = consent_name(&fx, "m1").await;
    refused(
        revoke_consent(
            &fx,
            &director(),
            pb::RevokeConsentRequest {
                etag: "\"99\"".into(),
                ..revocation(&consent)
            },
        )
        .await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    let status = refused(
        revoke_consent(
            &fx,
            &director(),
            pb::RevokeConsentRequest {
                statement: "з".repeat(2001),
                ..revocation(&consent)
            },
        )
        .await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    assert_eq!(bad_fields(&status), ["statement"]);
    refused(
        revoke_consent(
            &fx,
            &director(),
            revocation(&format!("{}/consents/none", name_of("m1"))),
        )
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );

    let body = pb::RevokeConsentRequest {
        etag: "\"1\"".into(),
        request_id: "revoke-1".into(),
        ..revocation(&consent)
    };
    let first = revoke_consent(&fx, &director(), body.clone())
        .await
        .expect("revoked");
    let replayed = revoke_consent(&fx, &director(), body.clone())
        .await
        .expect("replayed, though the etag is now stale");
    assert_eq!(replayed.name, first.name);
    assert_eq!(replayed.etag, first.etag);
    assert_eq!(
        fx.scalar("SELECT count(*) FROM mentoring.audit_log WHERE action = 'consent.revoked'")
            .await,
        1
    );
    refused(
        revoke_consent(
            &fx,
            &director(),
            pb::RevokeConsentRequest {
                statement: "другое заявление".into(),
                ..body
            },
        )
        .await,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );
}
