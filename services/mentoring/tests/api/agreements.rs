//! `AgreementService` through its handlers: agreements recorded signed with their parties
//! and a minor's representative, listed to the pair's members only, extended, violations
//! recorded, terminated by agreement or unilaterally after three violations (in a group:
//! one mentee leaves), every refusal of the contract with its reason, tenancy, redaction.

use edu_kit::testing::{bad_fields, error_metadata, reason};
use edu_mentoring::api::AgreementsApi;
use edu_mentoring::domain::{MentoringForm, PairState, PairType, ParticipantRole};
use edu_mentoring::store::{institutions, pairs};
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::agreement_service_server::AgreementService;
use edu_proto::google::r#type::Date as PbDate;
use tonic::Code;

use crate::callers::{
    curator, director, event_consumer, guardian, now, outsider, participant, regional_centre,
    request,
};
use crate::common::{
    Fixture, INST, MENTOR, PUPIL, activate, agreement, appoint, context, in_tx, order, pair,
    person, ready_pair, revoke, who,
};

fn api(fx: &Fixture) -> AgreementsApi {
    AgreementsApi::new(fx.store.clone())
}

fn day(year: i32, month: i32, day: i32) -> Option<PbDate> {
    Some(PbDate { year, month, day })
}

fn pair_name(pair: &str) -> String {
    format!("institutions/{INST}/pairs/{pair}")
}

fn participant_name(id: &str) -> String {
    format!("institutions/{INST}/participants/{id}")
}

/// A counsellor–pupil pair `id` of `mentor` and minor `kid`, FORMING, without agreement.
async fn forming(fx: &Fixture, id: &str, mentor: &str, kid: &str) {
    person(fx, mentor, MENTOR).await;
    person(fx, kid, PUPIL).await;
    pair(
        fx,
        id,
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        mentor,
        &[kid],
    )
    .await
    .expect("pair");
}

/// An ACTIVE pair `id` of `mentor` and minor `kid`, its agreement signed 2 September 2024.
async fn active(fx: &Fixture, id: &str, mentor: &str, kid: &str) {
    person(fx, mentor, MENTOR).await;
    person(fx, kid, PUPIL).await;
    ready_pair(fx, id, mentor, kid).await;
    activate(fx, id).await.expect("active");
}

fn create_request(pair: &str, request_id: &str) -> pb::CreateAgreementRequest {
    pb::CreateAgreementRequest {
        parent: pair_name(pair),
        agreement: Some(pb::Agreement {
            tasks: vec![
                "повышение уровня социальной адаптации наставляемого в коллективе".into(),
                "подготовка к конкурсу вожатых".into(),
            ],
            duration_months: 12,
            sign_date: day(2024, 9, 2),
            ..Default::default()
        }),
        request_id: request_id.into(),
    }
}

fn list_request(parent: &str) -> pb::ListAgreementsRequest {
    pb::ListAgreementsRequest {
        parent: parent.into(),
        ..Default::default()
    }
}

/// The pair's agreements as the director lists them.
async fn agreements_of(fx: &Fixture, pair: &str) -> Vec<pb::Agreement> {
    api(fx)
        .list_agreements(request(&director(), now(), list_request(&pair_name(pair))))
        .await
        .expect("list")
        .into_inner()
        .agreements
}

async fn signed(fx: &Fixture, pair: &str) -> pb::Agreement {
    agreements_of(fx, pair).await.remove(0)
}

fn violation(name: &str, violator: &str, request_id: &str) -> pb::RecordAgreementViolationRequest {
    pb::RecordAgreementViolationRequest {
        name: name.into(),
        violation: Some(pb::AgreementViolation {
            violator: participant_name(violator),
            description: "пропуск встречи без предупреждения".into(),
            occur_date: day(2025, 2, 10),
            ..Default::default()
        }),
        etag: String::new(),
        request_id: request_id.into(),
    }
}

fn unilateral(name: &str, by: pb::PairSide, mentee: &str) -> pb::TerminateAgreementRequest {
    pb::TerminateAgreementRequest {
        name: name.into(),
        mode: pb::TerminationMode::Unilateral as i32,
        initiator_side: by as i32,
        mentee: if mentee.is_empty() {
            String::new()
        } else {
            participant_name(mentee)
        },
        explanation: "систематическое нарушение п. 2 соглашения".into(),
        ..Default::default()
    }
}

fn mutual(name: &str) -> pb::TerminateAgreementRequest {
    pb::TerminateAgreementRequest {
        name: name.into(),
        mode: pb::TerminationMode::Mutual as i32,
        explanation: "по соглашению сторон".into(),
        ..Default::default()
    }
}

async fn pair_state(fx: &Fixture, pair: &str) -> pairs::Pair {
    let mut conn = fx.store.read().await.expect("conn");
    let setting = institutions::setting(&mut conn, INST, now())
        .await
        .expect("setting");
    pairs::get(&mut conn, &setting, pair).await.expect("pair")
}

#[tokio::test]
async fn create_agreement_records_it_signed_with_parties_and_a_minors_representative() {
    let fx = Fixture::new().await;
    forming(&fx, "p", "mentor", "kid").await;
    let created = api(&fx)
        .create_agreement(request(&director(), now(), create_request("p", "create-1")))
        .await
        .expect("created")
        .into_inner();
    assert!(
        created
            .name
            .starts_with(&format!("{}/agreements/", pair_name("p")))
    );
    assert_eq!(created.state, pb::AgreementState::Signed as i32);
    assert_eq!(created.tasks.len(), 2);
    assert_eq!(created.duration_months, 12);
    assert_eq!(created.total_months, 12);
    assert_eq!(created.sign_date, day(2024, 9, 2));
    assert_eq!(created.end_date, day(2025, 9, 1));
    assert!(!created.expired && !created.redacted);
    assert!(!created.etag.is_empty());
    assert!(created.create_time.is_some() && created.update_time.is_some());
    assert_eq!(created.end_reason, 0);
    // The mentor first, then the mentee, signed for by the parent of their consent.
    let [mentor, kid] = created.parties.as_slice() else {
        panic!("two parties: {:?}", created.parties);
    };
    let mentor_person = mentor.person.as_ref().expect("person");
    assert_eq!(mentor_person.participant, participant_name("mentor"));
    assert!(!mentor_person.display_name.is_empty());
    assert_eq!(mentor.side, pb::PairSide::Mentor as i32);
    assert!(mentor.representative_name.is_empty());
    assert_eq!(mentor.representative_relation, 0);
    let kid_person = kid.person.as_ref().expect("person");
    assert_eq!(kid_person.participant, participant_name("kid"));
    assert!(kid_person.minor);
    assert_eq!(kid.side, pb::PairSide::Mentee as i32);
    assert_eq!(kid.representative_name, "Родителева Мама");
    assert_eq!(
        kid.representative_relation,
        pb::GuardianRelation::Parent as i32
    );
    assert!(!kid.left);

    // The same request again answers the same agreement; another body under the same ID
    // is refused.
    let again = api(&fx)
        .create_agreement(request(&director(), now(), create_request("p", "create-1")))
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(again.name, created.name);
    assert_eq!(agreements_of(&fx, "p").await.len(), 1);
    let mut other = create_request("p", "create-1");
    other.agreement.as_mut().expect("agreement").duration_months = 6;
    let refused = api(&fx)
        .create_agreement(request(&director(), now(), other))
        .await
        .expect_err("reused");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(reason(&refused), "REQUEST_ID_REUSED");
}

#[tokio::test]
async fn create_agreement_names_every_bad_field() {
    let fx = Fixture::new().await;
    forming(&fx, "p", "mentor", "kid").await;
    let bad = pb::CreateAgreementRequest {
        parent: pair_name("p"),
        agreement: Some(pb::Agreement {
            tasks: vec![" ".into(), "з".repeat(501)],
            duration_months: 37,
            sign_date: None,
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let refused = api(&fx)
        .create_agreement(request(&director(), now(), bad))
        .await
        .expect_err("bad");
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    let fields = bad_fields(&refused);
    for field in [
        "agreement.tasks[0]",
        "agreement.tasks[1]",
        "agreement.duration_months",
        "agreement.sign_date",
    ] {
        assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
    }

    // No task, or more than twenty; a sign date after today, or before the pair was formed.
    let mut none = create_request("p", "");
    none.agreement.as_mut().expect("agreement").tasks.clear();
    let mut many = create_request("p", "");
    many.agreement.as_mut().expect("agreement").tasks = vec!["задача".into(); 21];
    let mut tomorrow = create_request("p", "");
    tomorrow.agreement.as_mut().expect("agreement").sign_date = day(2025, 2, 13);
    let mut early = create_request("p", "");
    early.agreement.as_mut().expect("agreement").sign_date = day(2024, 8, 31);
    for (body, field) in [
        (none, "agreement.tasks"),
        (many, "agreement.tasks"),
        (tomorrow, "agreement.sign_date"),
        (early, "agreement.sign_date"),
    ] {
        let refused = api(&fx)
            .create_agreement(request(&director(), now(), body))
            .await
            .expect_err(field);
        assert_eq!(reason(&refused), "INVALID_FIELDS");
        assert_eq!(bad_fields(&refused), vec![field.to_string()]);
    }
    // Without the agreement at all.
    let refused = api(&fx)
        .create_agreement(request(
            &director(),
            now(),
            pb::CreateAgreementRequest {
                parent: pair_name("p"),
                ..Default::default()
            },
        ))
        .await
        .expect_err("no agreement");
    assert!(bad_fields(&refused).contains(&"agreement".to_string()));
    // A parent that is not a pair's name.
    let refused = api(&fx)
        .create_agreement(request(
            &director(),
            now(),
            pb::CreateAgreementRequest {
                parent: "pairs/p".into(),
                ..create_request("p", "")
            },
        ))
        .await
        .expect_err("bad parent");
    assert_eq!(bad_fields(&refused), vec!["parent".to_string()]);
}

#[tokio::test]
async fn create_agreement_is_refused_while_one_is_in_force_for_a_closed_pair_or_a_redacted_party() {
    let fx = Fixture::new().await;
    forming(&fx, "p", "mentor", "kid").await;
    api(&fx)
        .create_agreement(request(&director(), now(), create_request("p", "")))
        .await
        .expect("first");
    let existing = signed(&fx, "p").await;
    let refused = api(&fx)
        .create_agreement(request(&director(), now(), create_request("p", "")))
        .await
        .expect_err("one in force");
    assert_eq!(refused.code(), Code::AlreadyExists);
    assert_eq!(reason(&refused), "ALREADY_EXISTS");
    assert_eq!(
        error_metadata(&refused, "agreement"),
        Some(existing.name.clone())
    );

    // A cancelled pair records nothing.
    person(&fx, "kid2", PUPIL).await;
    pair(
        &fx,
        "q",
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        "mentor",
        &["kid2"],
    )
    .await
    .expect("pair");
    in_tx!(fx, |tx| pairs::cancel(
        &mut tx,
        &context(),
        INST,
        "q",
        "пара не сложилась",
        ""
    )
    .await)
    .expect("cancelled");
    let refused = api(&fx)
        .create_agreement(request(&director(), now(), create_request("q", "")))
        .await
        .expect_err("closed");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "PAIR_CLOSED");
    assert_eq!(
        error_metadata(&refused, "state").as_deref(),
        Some("CANCELLED")
    );

    // A party whose consent is revoked cannot sign.
    person(&fx, "kid3", PUPIL).await;
    pair(
        &fx,
        "r",
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        "mentor",
        &["kid3"],
    )
    .await
    .expect("pair");
    revoke(&fx, "kid3").await.expect("revoked");
    let refused = api(&fx)
        .create_agreement(request(&director(), now(), create_request("r", "")))
        .await
        .expect_err("redacted party");
    assert_eq!(reason(&refused), "CONSENT_MISSING");
    assert_eq!(
        error_metadata(&refused, "participant"),
        Some(participant_name("kid3"))
    );
    assert_eq!(
        error_metadata(&refused, "purpose").as_deref(),
        Some("PERSONAL_DATA")
    );
}

#[tokio::test]
async fn agreements_are_recorded_by_staff_only() {
    let fx = Fixture::new().await;
    forming(&fx, "p", "mentor", "kid").await;
    person(&fx, "stranger", PUPIL).await;
    for (who, code, expected) in [
        (outsider(), Code::NotFound, "NOT_FOUND"),
        (participant("stranger"), Code::NotFound, "NOT_FOUND"),
        (
            participant("mentor"),
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        ),
        (guardian("kid"), Code::PermissionDenied, "ROLE_REQUIRED"),
        (
            regional_centre("RU-SAR"),
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        ),
        (event_consumer(), Code::PermissionDenied, "ROLE_REQUIRED"),
        (
            curator("someone"),
            Code::PermissionDenied,
            "CURATOR_NOT_APPOINTED",
        ),
    ] {
        let refused = api(&fx)
            .create_agreement(request(&who, now(), create_request("p", "")))
            .await
            .expect_err(expected);
        assert_eq!(
            (refused.code(), reason(&refused).as_str()),
            (code, expected)
        );
    }
    // A pair of another institution's name does not exist to the director either.
    let refused = api(&fx)
        .create_agreement(request(
            &director(),
            now(),
            pb::CreateAgreementRequest {
                parent: "institutions/elsewhere/pairs/p".into(),
                ..create_request("p", "")
            },
        ))
        .await
        .expect_err("elsewhere");
    assert_eq!(reason(&refused), "NOT_FOUND");

    // Once appointed, the curator records it.
    person(&fx, "cur", who(ParticipantRole::Educator)).await;
    appoint(&fx, "cur").await;
    let created = api(&fx)
        .create_agreement(request(&curator("cur"), now(), create_request("p", "")))
        .await
        .expect("by the curator")
        .into_inner();
    assert_eq!(created.state, pb::AgreementState::Signed as i32);
}

#[tokio::test]
async fn agreements_are_listed_to_the_pairs_members_only() {
    let fx = Fixture::new().await;
    active(&fx, "p", "mentor", "kid").await;
    active(&fx, "q", "mentor2", "kid2").await;
    let list = |who: edu_kit::auth::Caller, parent: String| {
        let fx = &fx;
        async move {
            api(fx)
                .list_agreements(request(&who, now(), list_request(&parent)))
                .await
        }
    };
    for who in [
        director(),
        participant("mentor"),
        participant("kid"),
        guardian("kid"),
    ] {
        let shown = list(who, pair_name("p"))
            .await
            .expect("listed")
            .into_inner();
        assert_eq!(shown.agreements.len(), 1);
        assert_eq!(shown.agreements[0].parties.len(), 2);
    }
    for (who, expected) in [
        (participant("kid2"), "NOT_FOUND"),
        (guardian("kid2"), "NOT_FOUND"),
        (participant("mentor2"), "NOT_FOUND"),
        (outsider(), "NOT_FOUND"),
        (regional_centre("RU-SAR"), "ROLE_REQUIRED"),
        (curator("someone"), "CURATOR_NOT_APPOINTED"),
    ] {
        let refused = list(who, pair_name("p")).await.expect_err(expected);
        assert_eq!(reason(&refused), expected);
    }
    // Every pair: all to staff, their own to a member or guardian.
    let every = format!("institutions/{INST}/pairs/-");
    let all = list(director(), every.clone())
        .await
        .expect("all")
        .into_inner();
    assert_eq!(all.agreements.len(), 2);
    for who in [participant("kid"), guardian("kid"), participant("mentor")] {
        let own = list(who, every.clone()).await.expect("own").into_inner();
        assert_eq!(own.agreements.len(), 1);
        assert!(own.agreements[0].name.starts_with(&pair_name("p")));
    }
    let refused = list(regional_centre("RU-SAR"), every.clone())
        .await
        .expect_err("centre");
    assert_eq!(reason(&refused), "ROLE_REQUIRED");
    let refused = list(outsider(), every.clone()).await.expect_err("outsider");
    assert_eq!(reason(&refused), "NOT_FOUND");
}

#[tokio::test]
async fn list_agreements_filters_and_pages() {
    let fx = Fixture::new().await;
    active(&fx, "p", "mentor", "kid").await;
    active(&fx, "q", "mentor2", "kid2").await;
    let every = format!("institutions/{INST}/pairs/-");
    let first = api(&fx)
        .list_agreements(request(
            &director(),
            now(),
            pb::ListAgreementsRequest {
                page_size: 1,
                ..list_request(&every)
            },
        ))
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(first.agreements.len(), 1);
    assert!(!first.next_page_token.is_empty());
    let second = api(&fx)
        .list_agreements(request(
            &director(),
            now(),
            pb::ListAgreementsRequest {
                page_size: 1,
                page_token: first.next_page_token.clone(),
                ..list_request(&every)
            },
        ))
        .await
        .expect("second page")
        .into_inner();
    assert_eq!(second.agreements.len(), 1);
    assert_ne!(second.agreements[0].name, first.agreements[0].name);
    assert!(second.next_page_token.is_empty());
    // The token belongs to its query.
    let refused = api(&fx)
        .list_agreements(request(
            &director(),
            now(),
            pb::ListAgreementsRequest {
                page_size: 1,
                page_token: first.next_page_token,
                state: pb::AgreementState::Signed as i32,
                ..list_request(&every)
            },
        ))
        .await
        .expect_err("other query");
    assert_eq!(reason(&refused), "PAGE_TOKEN_INVALID");
    // Filters: nothing ENDED, nothing expired yet.
    for body in [
        pb::ListAgreementsRequest {
            state: pb::AgreementState::Ended as i32,
            ..list_request(&every)
        },
        pb::ListAgreementsRequest {
            expired_only: true,
            ..list_request(&every)
        },
    ] {
        let shown = api(&fx)
            .list_agreements(request(&director(), now(), body))
            .await
            .expect("filtered")
            .into_inner();
        assert!(shown.agreements.is_empty());
    }
    let refused = api(&fx)
        .list_agreements(request(
            &director(),
            now(),
            pb::ListAgreementsRequest {
                state: 9,
                ..list_request(&every)
            },
        ))
        .await
        .expect_err("unknown state");
    assert_eq!(bad_fields(&refused), vec!["state".to_string()]);
}

#[tokio::test]
async fn list_agreements_shows_a_revoked_party_redacted_and_hides_the_texts() {
    let fx = Fixture::new().await;
    forming(&fx, "p", "mentor", "kid").await;
    api(&fx)
        .create_agreement(request(&director(), now(), create_request("p", "")))
        .await
        .expect("created");
    revoke(&fx, "kid").await.expect("revoked");
    for who in [director(), participant("mentor")] {
        let shown = api(&fx)
            .list_agreements(request(&who, now(), list_request(&pair_name("p"))))
            .await
            .expect("listed")
            .into_inner()
            .agreements
            .remove(0);
        assert!(shown.redacted);
        assert!(shown.tasks.is_empty());
        let mentor = shown.parties[0].person.as_ref().expect("mentor");
        assert!(!mentor.redacted && !mentor.display_name.is_empty());
        let kid = &shown.parties[1];
        let kid_person = kid.person.as_ref().expect("kid");
        assert_eq!(kid_person.participant, participant_name("kid"));
        assert_eq!(kid_person.role, pb::ParticipantRole::Pupil as i32);
        assert!(kid_person.redacted && kid_person.display_name.is_empty() && !kid_person.minor);
        // The representative's name would say who the child is.
        assert!(kid.representative_name.is_empty());
        assert_eq!(kid.representative_relation, 0);
        // Dates and months stay.
        assert_eq!(shown.sign_date, day(2024, 9, 2));
        assert_eq!(shown.duration_months, 12);
    }
}

#[tokio::test]
async fn extend_agreement_adds_months_and_keeps_each_extension() {
    let fx = Fixture::new().await;
    active(&fx, "p", "mentor", "kid").await;
    let current = signed(&fx, "p").await;
    let extend = |months: i32, agree: Option<PbDate>, etag: &str, request_id: &str| {
        pb::ExtendAgreementRequest {
            name: current.name.clone(),
            extension: Some(pb::AgreementExtension {
                months,
                basis: "дополнительное соглашение от 01.02.2025".into(),
                agree_date: agree,
                ..Default::default()
            }),
            etag: etag.into(),
            request_id: request_id.into(),
        }
    };
    let extended = api(&fx)
        .extend_agreement(request(
            &director(),
            now(),
            extend(6, day(2025, 2, 1), &current.etag, "ext-1"),
        ))
        .await
        .expect("extended")
        .into_inner();
    assert_eq!(extended.total_months, 18);
    assert_eq!(extended.duration_months, 12);
    assert_eq!(extended.end_date, day(2026, 3, 1));
    assert_eq!(extended.extensions.len(), 1);
    assert_eq!(extended.extensions[0].months, 6);
    assert_eq!(extended.extensions[0].agree_date, day(2025, 2, 1));
    assert!(extended.extensions[0].record_time.is_some());
    assert_ne!(extended.etag, current.etag);
    // A replay answers the same; the stale etag is refused.
    let replay = api(&fx)
        .extend_agreement(request(
            &director(),
            now(),
            extend(6, day(2025, 2, 1), &current.etag, "ext-1"),
        ))
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(replay.total_months, 18);
    let refused = api(&fx)
        .extend_agreement(request(
            &director(),
            now(),
            extend(6, day(2025, 2, 1), &current.etag, ""),
        ))
        .await
        .expect_err("stale");
    assert_eq!(refused.code(), Code::Aborted);
    assert_eq!(reason(&refused), "ETAG_MISMATCH");
    let refused = api(&fx)
        .extend_agreement(request(
            &director(),
            now(),
            extend(7, day(2025, 2, 1), "", "ext-1"),
        ))
        .await
        .expect_err("reused");
    assert_eq!(reason(&refused), "REQUEST_ID_REUSED");

    // 18 + 36 = 54 is allowed, seven more would make 61.
    api(&fx)
        .extend_agreement(request(
            &director(),
            now(),
            extend(36, day(2025, 2, 1), "", ""),
        ))
        .await
        .expect("to 54");
    let refused = api(&fx)
        .extend_agreement(request(
            &director(),
            now(),
            extend(7, day(2025, 2, 1), "", ""),
        ))
        .await
        .expect_err("over 60");
    assert_eq!(bad_fields(&refused), vec!["extension.months".to_string()]);
    // Every bad field at once; and a day before the signature.
    let refused = api(&fx)
        .extend_agreement(request(
            &director(),
            now(),
            pb::ExtendAgreementRequest {
                name: current.name.clone(),
                extension: Some(pb::AgreementExtension {
                    months: 0,
                    basis: String::new(),
                    agree_date: day(2025, 3, 1),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect_err("bad");
    assert_eq!(
        bad_fields(&refused),
        vec![
            "extension.months".to_string(),
            "extension.basis".to_string(),
            "extension.agree_date".to_string()
        ]
    );
    let refused = api(&fx)
        .extend_agreement(request(
            &director(),
            now(),
            extend(1, day(2024, 9, 1), "", ""),
        ))
        .await
        .expect_err("before the signature");
    assert_eq!(
        bad_fields(&refused),
        vec!["extension.agree_date".to_string()]
    );

    // Only staff extend; the mentor sees it, a stranger does not; an unknown agreement
    // does not exist.
    let refused = api(&fx)
        .extend_agreement(request(
            &participant("mentor"),
            now(),
            extend(1, day(2025, 2, 1), "", ""),
        ))
        .await
        .expect_err("mentor");
    assert_eq!(reason(&refused), "ROLE_REQUIRED");
    let refused = api(&fx)
        .extend_agreement(request(
            &outsider(),
            now(),
            extend(1, day(2025, 2, 1), "", ""),
        ))
        .await
        .expect_err("outsider");
    assert_eq!(reason(&refused), "NOT_FOUND");
    let refused = api(&fx)
        .extend_agreement(request(
            &participant("mentor"),
            now(),
            pb::ExtendAgreementRequest {
                name: format!("{}/agreements/nothing", pair_name("p")),
                ..extend(1, day(2025, 2, 1), "", "")
            },
        ))
        .await
        .expect_err("missing");
    assert_eq!(reason(&refused), "NOT_FOUND");

    // An ended agreement is not extended.
    api(&fx)
        .terminate_agreement(request(&director(), now(), mutual(&current.name)))
        .await
        .expect("ended");
    let refused = api(&fx)
        .extend_agreement(request(
            &director(),
            now(),
            extend(1, day(2025, 2, 1), "", ""),
        ))
        .await
        .expect_err("ended");
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
    assert_eq!(error_metadata(&refused, "state").as_deref(), Some("ENDED"));
}

#[tokio::test]
async fn three_violations_make_a_unilateral_termination_possible() {
    let fx = Fixture::new().await;
    active(&fx, "p", "mentor", "kid").await;
    let name = signed(&fx, "p").await.name;
    let terminate = || {
        let fx = &fx;
        let name = name.clone();
        async move {
            api(fx)
                .terminate_agreement(request(
                    &director(),
                    now(),
                    unilateral(&name, pb::PairSide::Mentor, ""),
                ))
                .await
        }
    };
    for n in 0..3 {
        let refused = terminate().await.expect_err("not systematic");
        assert_eq!(refused.code(), Code::FailedPrecondition);
        assert_eq!(reason(&refused), "VIOLATIONS_NOT_SYSTEMATIC");
        assert_eq!(
            error_metadata(&refused, "violator"),
            Some(participant_name("kid"))
        );
        assert_eq!(error_metadata(&refused, "violations"), Some(n.to_string()));
        assert_eq!(error_metadata(&refused, "required").as_deref(), Some("3"));
        let recorded = api(&fx)
            .record_agreement_violation(request(
                &director(),
                now(),
                violation(&name, "kid", &format!("v-{n}")),
            ))
            .await
            .expect("recorded")
            .into_inner();
        assert_eq!(recorded.violations.len(), n + 1);
        let last = recorded.violations.last().expect("violation");
        assert_eq!(last.violator, participant_name("kid"));
        assert_eq!(last.violator_side, pb::PairSide::Mentee as i32);
        assert_eq!(last.description, "пропуск встречи без предупреждения");
        assert_eq!(last.occur_date, day(2025, 2, 10));
    }
    // The mentee's side cannot terminate on the mentee's violations.
    let refused = api(&fx)
        .terminate_agreement(request(
            &director(),
            now(),
            unilateral(&name, pb::PairSide::Mentee, ""),
        ))
        .await
        .expect_err("the mentor has none");
    assert_eq!(reason(&refused), "VIOLATIONS_NOT_SYSTEMATIC");
    assert_eq!(
        error_metadata(&refused, "violator"),
        Some(participant_name("mentor"))
    );

    let ended = terminate().await.expect("terminated").into_inner();
    assert_eq!(ended.state, pb::AgreementState::Ended as i32);
    assert_eq!(
        ended.end_reason,
        pb::AgreementEndReason::TerminatedUnilaterally as i32
    );
    assert_eq!(ended.terminated_by, pb::PairSide::Mentor as i32);
    assert_eq!(
        ended.end_explanation,
        "систематическое нарушение п. 2 соглашения"
    );
    assert!(ended.end_time.is_some());
    let completed = pair_state(&fx, "p").await;
    assert_eq!(completed.state, PairState::Completed);
    assert_eq!(
        completed.completion.map(|(r, i)| (r.as_str(), i.as_str())),
        Some(("AGREEMENT_TERMINATED", "MENTOR"))
    );
    // Nothing more for an ended agreement.
    let refused = terminate().await.expect_err("ended");
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
    let refused = api(&fx)
        .record_agreement_violation(request(&director(), now(), violation(&name, "kid", "")))
        .await
        .expect_err("ended");
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
    assert_eq!(error_metadata(&refused, "state").as_deref(), Some("ENDED"));
}

#[tokio::test]
async fn record_agreement_violation_refusals() {
    let fx = Fixture::new().await;
    active(&fx, "p", "mentor", "kid").await;
    person(&fx, "stranger", PUPIL).await;
    let current = signed(&fx, "p").await;
    let name = current.name.clone();
    // Every bad field at once: a violator of another institution, no description, no day.
    let refused = api(&fx)
        .record_agreement_violation(request(
            &director(),
            now(),
            pb::RecordAgreementViolationRequest {
                name: name.clone(),
                violation: Some(pb::AgreementViolation {
                    violator: "institutions/elsewhere/participants/kid".into(),
                    description: " ".into(),
                    occur_date: None,
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect_err("bad");
    assert_eq!(
        bad_fields(&refused),
        vec![
            "violation.violator".to_string(),
            "violation.description".to_string(),
            "violation.occur_date".to_string()
        ]
    );
    // Not a party; a day after today, or before the signature.
    let refused = api(&fx)
        .record_agreement_violation(request(
            &director(),
            now(),
            violation(&name, "stranger", ""),
        ))
        .await
        .expect_err("not a party");
    assert_eq!(bad_fields(&refused), vec!["violation.violator".to_string()]);
    for (occur, field) in [
        (day(2025, 2, 13), "violation.occur_date"),
        (day(2024, 9, 1), "violation.occur_date"),
    ] {
        let mut body = violation(&name, "kid", "");
        body.violation.as_mut().expect("violation").occur_date = occur;
        let refused = api(&fx)
            .record_agreement_violation(request(&director(), now(), body))
            .await
            .expect_err(field);
        assert_eq!(bad_fields(&refused), vec![field.to_string()]);
    }
    // A stale etag; staff only.
    let mut stale = violation(&name, "kid", "");
    stale.etag = "\"0\"".into();
    let refused = api(&fx)
        .record_agreement_violation(request(&director(), now(), stale))
        .await
        .expect_err("stale");
    assert_eq!(reason(&refused), "ETAG_MISMATCH");
    for (who, expected) in [
        (guardian("kid"), "ROLE_REQUIRED"),
        (participant("stranger"), "NOT_FOUND"),
        (curator("someone"), "CURATOR_NOT_APPOINTED"),
    ] {
        let refused = api(&fx)
            .record_agreement_violation(request(&who, now(), violation(&name, "kid", "")))
            .await
            .expect_err(expected);
        assert_eq!(reason(&refused), expected);
    }
    // The request ID guards a retry.
    api(&fx)
        .record_agreement_violation(request(&director(), now(), violation(&name, "kid", "v")))
        .await
        .expect("recorded");
    api(&fx)
        .record_agreement_violation(request(&director(), now(), violation(&name, "kid", "v")))
        .await
        .expect("replayed");
    assert_eq!(signed(&fx, "p").await.violations.len(), 1);
    let refused = api(&fx)
        .record_agreement_violation(request(&director(), now(), violation(&name, "mentor", "v")))
        .await
        .expect_err("reused");
    assert_eq!(reason(&refused), "REQUEST_ID_REUSED");
    // A redacted violator: their consent is revoked (the pair is suspended, the agreement
    // stays signed).
    revoke(&fx, "kid").await.expect("revoked");
    let refused = api(&fx)
        .record_agreement_violation(request(&director(), now(), violation(&name, "kid", "")))
        .await
        .expect_err("redacted");
    assert_eq!(reason(&refused), "CONSENT_MISSING");
    assert_eq!(
        error_metadata(&refused, "participant"),
        Some(participant_name("kid"))
    );
    // The recorded description is hidden now that the pair is redacted.
    let shown = signed(&fx, "p").await;
    assert!(shown.redacted);
    assert!(shown.violations[0].description.is_empty());
    assert_eq!(shown.violations[0].violator, participant_name("kid"));
}

#[tokio::test]
async fn a_mutual_termination_completes_the_pair_on_the_day_given() {
    let fx = Fixture::new().await;
    active(&fx, "p", "mentor", "kid").await;
    let current = signed(&fx, "p").await;
    // Every bad field at once.
    let refused = api(&fx)
        .terminate_agreement(request(
            &director(),
            now(),
            pb::TerminateAgreementRequest {
                name: current.name.clone(),
                mode: 0,
                explanation: String::new(),
                end_date: day(2025, 2, 13),
                ..Default::default()
            },
        ))
        .await
        .expect_err("bad");
    assert_eq!(
        bad_fields(&refused),
        vec![
            "mode".to_string(),
            "explanation".to_string(),
            "end_date".to_string()
        ]
    );
    let refused = api(&fx)
        .terminate_agreement(request(
            &director(),
            now(),
            pb::TerminateAgreementRequest {
                initiator_side: 0,
                ..unilateral(&current.name, pb::PairSide::Mentor, "")
            },
        ))
        .await
        .expect_err("no side");
    assert_eq!(bad_fields(&refused), vec!["initiator_side".to_string()]);
    let refused = api(&fx)
        .terminate_agreement(request(
            &director(),
            now(),
            pb::TerminateAgreementRequest {
                end_date: day(2024, 9, 1),
                ..mutual(&current.name)
            },
        ))
        .await
        .expect_err("before the signature");
    assert_eq!(bad_fields(&refused), vec!["end_date".to_string()]);
    let refused = api(&fx)
        .terminate_agreement(request(
            &director(),
            now(),
            pb::TerminateAgreementRequest {
                etag: "\"0\"".into(),
                ..mutual(&current.name)
            },
        ))
        .await
        .expect_err("stale");
    assert_eq!(reason(&refused), "ETAG_MISMATCH");
    let refused = api(&fx)
        .terminate_agreement(request(&participant("kid"), now(), mutual(&current.name)))
        .await
        .expect_err("mentee");
    assert_eq!(reason(&refused), "ROLE_REQUIRED");

    let ended = api(&fx)
        .terminate_agreement(request(
            &director(),
            now(),
            pb::TerminateAgreementRequest {
                end_date: day(2025, 2, 10),
                etag: current.etag.clone(),
                request_id: "end".into(),
                ..mutual(&current.name)
            },
        ))
        .await
        .expect("ended")
        .into_inner();
    assert_eq!(ended.state, pb::AgreementState::Ended as i32);
    assert_eq!(
        ended.end_reason,
        pb::AgreementEndReason::TerminatedByAgreement as i32
    );
    assert_eq!(ended.terminated_by, 0);
    assert_eq!(ended.end_date, day(2025, 2, 10));
    assert!(!ended.expired);
    let completed = pair_state(&fx, "p").await;
    assert_eq!(completed.state, PairState::Completed);
    assert_eq!(
        completed.completion.map(|(r, i)| (r.as_str(), i.as_str())),
        Some(("AGREEMENT_TERMINATED", "BOTH"))
    );
    // The retry answers the termination again rather than refusing it.
    let replay = api(&fx)
        .terminate_agreement(request(
            &director(),
            now(),
            pb::TerminateAgreementRequest {
                end_date: day(2025, 2, 10),
                etag: current.etag.clone(),
                request_id: "end".into(),
                ..mutual(&current.name)
            },
        ))
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(replay.name, ended.name);
    assert_eq!(replay.state, pb::AgreementState::Ended as i32);
    let refused = api(&fx)
        .terminate_agreement(request(
            &director(),
            now(),
            pb::TerminateAgreementRequest {
                request_id: "end".into(),
                ..mutual(&current.name)
            },
        ))
        .await
        .expect_err("reused");
    assert_eq!(reason(&refused), "REQUEST_ID_REUSED");
    let refused = api(&fx)
        .terminate_agreement(request(&director(), now(), mutual(&current.name)))
        .await
        .expect_err("ended");
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
}

#[tokio::test]
async fn a_unilateral_termination_in_a_group_lets_one_mentee_leave() {
    let fx = Fixture::new().await;
    person(&fx, "mentor", MENTOR).await;
    person(&fx, "kid1", PUPIL).await;
    person(&fx, "kid2", PUPIL).await;
    pair(
        &fx,
        "g",
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        "mentor",
        &["kid1", "kid2"],
    )
    .await
    .expect("group");
    agreement(&fx, "g", jiff::civil::date(2024, 9, 2), 12).await;
    order(&fx, "g").await.expect("order");
    activate(&fx, "g").await.expect("active");
    let name = signed(&fx, "g").await.name;
    // In a group the mentee must be named.
    let refused = api(&fx)
        .terminate_agreement(request(
            &director(),
            now(),
            unilateral(&name, pb::PairSide::Mentor, ""),
        ))
        .await
        .expect_err("no mentee");
    assert_eq!(bad_fields(&refused), vec!["mentee".to_string()]);
    for n in 0..3 {
        api(&fx)
            .record_agreement_violation(request(
                &director(),
                now(),
                violation(&name, "kid1", &format!("v{n}")),
            ))
            .await
            .expect("violation");
    }
    let left = api(&fx)
        .terminate_agreement(request(
            &director(),
            now(),
            unilateral(&name, pb::PairSide::Mentor, "kid1"),
        ))
        .await
        .expect("one mentee leaves")
        .into_inner();
    // The agreement stays in force for the other mentee.
    assert_eq!(left.state, pb::AgreementState::Signed as i32);
    let kid1 = left
        .parties
        .iter()
        .find(|p| {
            p.person
                .as_ref()
                .is_some_and(|x| x.participant == participant_name("kid1"))
        })
        .expect("kid1");
    assert!(kid1.left);
    let kid2 = left
        .parties
        .iter()
        .find(|p| {
            p.person
                .as_ref()
                .is_some_and(|x| x.participant == participant_name("kid2"))
        })
        .expect("kid2");
    assert!(!kid2.left);
    let group = pair_state(&fx, "g").await;
    assert_eq!(group.state, PairState::Active);
    assert_eq!(
        group
            .mentee_people
            .iter()
            .map(|m| m.participant.clone())
            .collect::<Vec<_>>(),
        vec![participant_name("kid2")]
    );
    assert_eq!(group.former_mentees.len(), 1);
    // The one who left is no party to record against any more.
    let refused = api(&fx)
        .record_agreement_violation(request(&director(), now(), violation(&name, "kid1", "")))
        .await
        .expect_err("left");
    assert_eq!(bad_fields(&refused), vec!["violation.violator".to_string()]);
}
