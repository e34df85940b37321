//! Each rule's refusal with its reason code, through the store's use cases.

use edu_mentoring::domain::PairSide;
use edu_mentoring::domain::consent::{ActorKind, ConsentPurpose, ConsentState};
use edu_mentoring::domain::{MentoringForm, PairState, PairType, ParticipantRole};
use edu_mentoring::store::agreements::{self, TerminationDraft};
use edu_mentoring::store::participants::{self, ParticipantDraft};
use edu_mentoring::store::{consents, institutions, pairs};
use jiff::civil::date;

use crate::common::*;

#[tokio::test]
async fn nothing_about_a_person_is_stored_without_their_consent() {
    let fx = Fixture::new().await;
    // A minor's own consent: refused, and nothing of the person is kept.
    let refused = in_tx!(fx, |tx| participants::create(
        &mut tx,
        &context(),
        INST,
        &ParticipantDraft {
            id: "kid".into(),
            role: ParticipantRole::Pupil,
            personal: personal("Малышева", date(2012, 3, 1)),
        },
        &consent(false),
    )
    .await)
    .expect_err("a minor alone");
    assert_eq!(reason(&refused), "GUARDIAN_CONSENT_REQUIRED");
    assert_eq!(refused.metadata("field"), Some("consent.guardian"));
    // A consent to PUBLICATION is not the one a person is recorded with.
    let mut publication = consent(false);
    publication.purpose = ConsentPurpose::Publication;
    let refused = in_tx!(fx, |tx| participants::create(
        &mut tx,
        &context(),
        INST,
        &ParticipantDraft {
            id: "adult".into(),
            role: ParticipantRole::Volunteer,
            personal: personal("Взрослая", date(2000, 1, 1)),
        },
        &publication,
    )
    .await)
    .expect_err("publication only");
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    assert_eq!(
        fx.scalar("SELECT count(*) FROM mentoring.participants")
            .await,
        0
    );
    // The database holds it too: a person written without a consent fails at commit.
    let mut tx = fx.db.pool().begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO mentoring.participants (institution_id, id, role, family_name, given_name,
             birth_date, first_consent_id, create_time, update_time)
         VALUES ('mechta', 'ghost', 'PUPIL', 'Призрак', 'Тест', '2012-01-01', 'none', now(), now())",
    )
    .execute(&mut *tx)
    .await
    .expect("deferred");
    assert!(
        tx.commit().await.is_err(),
        "no participant without a consent"
    );
    assert_eq!(
        fx.scalar("SELECT count(*) FROM mentoring.participants")
            .await,
        0
    );
}

#[tokio::test]
async fn a_minors_consent_is_given_and_revoked_by_the_guardian() {
    let fx = Fixture::new().await;
    let kid = person(&fx, "kid", PUPIL).await;
    assert!(kid.person.minor);
    assert_eq!(kid.person.display_name, "Фамилия-kid Тест Условный");
    let setting = {
        let mut conn = fx.store.read().await.expect("conn");
        institutions::setting(&mut conn, INST, context().now())
            .await
            .expect("setting")
    };
    let listed = {
        let mut conn = fx.store.read().await.expect("conn");
        consents::list(&mut conn, &setting, "kid")
            .await
            .expect("consents")
    };
    assert_eq!(listed.len(), 1);
    assert!(listed[0].given_by_guardian);
    assert!(
        listed[0]
            .receipt
            .text
            .contains("Законный представитель: Родителева Мама")
    );
    assert_eq!(listed[0].receipt.number, "mechta-2025-000001");
    // The minor alone may not revoke it.
    let refused = in_tx!(fx, |tx| consents::revoke(
        &mut tx,
        &context(),
        INST,
        "kid",
        &listed[0].id,
        ActorKind::Subject,
        "",
        "",
    )
    .await)
    .expect_err("a minor alone");
    assert_eq!(reason(&refused), "GUARDIAN_REQUIRED");
    let revoked = in_tx!(fx, |tx| consents::revoke(
        &mut tx,
        &context(),
        INST,
        "kid",
        &listed[0].id,
        ActorKind::Guardian,
        "",
        "",
    )
    .await)
    .expect("the guardian revokes");
    assert_eq!(revoked.state, ConsentState::Revoked);
    // Revoking again answers it unchanged: one audit record, one event.
    revoke(&fx, "kid").await.expect("again");
    assert_eq!(
        fx.scalar("SELECT count(*) FROM mentoring.audit_log WHERE action = 'consent.revoked'")
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
}

#[tokio::test]
async fn each_of_the_six_pair_types_fits_and_a_misfit_is_refused() {
    let fx = Fixture::new().await;
    use ParticipantRole::*;
    let cases = [
        (PairType::HeadCurator, Head, Curator),
        (PairType::CuratorEducator, Curator, Educator),
        (PairType::EducatorCounsellor, Educator, Counsellor),
        (PairType::CounsellorVolunteer, Counsellor, Volunteer),
        (PairType::CounsellorPupil, Counsellor, Pupil),
        (PairType::VolunteerPupil, Volunteer, Pupil),
    ];
    for (i, (pair_type, mentor_role, mentee_role)) in cases.into_iter().enumerate() {
        let mentor = format!("m{i}");
        let mentee = format!("e{i}");
        person(&fx, &mentor, who(mentor_role)).await;
        person(&fx, &mentee, who(mentee_role)).await;
        let formed = pair(
            &fx,
            &format!("p{i}"),
            pair_type,
            MentoringForm::Situational,
            &mentor,
            &[&mentee],
        )
        .await
        .expect("fits");
        assert_eq!(formed.state, PairState::Forming);
        assert_eq!(formed.mentee_people.len(), 1);
    }
    person(&fx, "vol", who(Volunteer)).await;
    person(&fx, "cou", who(Counsellor)).await;
    let refused = pair(
        &fx,
        "bad",
        PairType::CounsellorPupil,
        MentoringForm::Situational,
        "vol",
        &["cou"],
    )
    .await
    .expect_err("misfit");
    assert_eq!(reason(&refused), "PAIR_TYPE_ROLE_MISMATCH");
    assert_eq!(refused.metadata("mentor_role"), Some("VOLUNTEER"));
    assert_eq!(refused.metadata("mentee_role"), Some("COUNSELLOR"));
}

#[tokio::test]
async fn forming_refuses_outside_the_bank_untrained_and_already_paired() {
    let fx = Fixture::new().await;
    person(&fx, "mentor", MENTOR).await;
    person(
        &fx,
        "untrained",
        Who {
            trained: false,
            ..MENTOR
        },
    )
    .await;
    person(
        &fx,
        "nobank",
        Who {
            mentor_bank: false,
            ..MENTOR
        },
    )
    .await;
    person(&fx, "kid", PUPIL).await;
    person(
        &fx,
        "outsider",
        Who {
            mentee_bank: false,
            ..PUPIL
        },
    )
    .await;
    let form = |mentor: &'static str, mentee: &'static str, id: &'static str| {
        let fx = &fx;
        async move {
            pair(
                fx,
                id,
                PairType::CounsellorPupil,
                MentoringForm::ShortTerm,
                mentor,
                &[mentee],
            )
            .await
        }
    };
    let refused = form("nobank", "kid", "a").await.expect_err("no bank");
    assert_eq!(reason(&refused), "NOT_IN_BANK");
    assert_eq!(refused.metadata("bank"), Some("MENTORS"));
    let refused = form("mentor", "outsider", "a").await.expect_err("no bank");
    assert_eq!(reason(&refused), "NOT_IN_BANK");
    assert_eq!(refused.metadata("bank"), Some("MENTEES"));
    let refused = form("untrained", "kid", "a").await.expect_err("untrained");
    assert_eq!(reason(&refused), "MENTOR_NOT_TRAINED");
    form("mentor", "kid", "a").await.expect("formed");
    let refused = form("mentor", "kid", "b").await.expect_err("paired");
    assert_eq!(reason(&refused), "MENTEE_ALREADY_PAIRED");
    assert_eq!(
        refused.metadata("pair"),
        Some("institutions/mechta/pairs/a")
    );
    // Cancelled, the mentee is free again.
    in_tx!(fx, |tx| pairs::cancel(
        &mut tx,
        &context(),
        INST,
        "a",
        "передумали",
        ""
    )
    .await)
    .expect("cancelled");
    form("mentor", "kid", "b").await.expect("free again");
    // A redacted mentee is not paired.
    person(&fx, "kid2", PUPIL).await;
    revoke(&fx, "kid2").await.expect("revoked");
    let refused = form("mentor", "kid2", "c").await.expect_err("redacted");
    assert_eq!(reason(&refused), "CONSENT_MISSING");
}

#[tokio::test]
async fn activation_is_blocked_by_each_missing_piece_in_turn() {
    let fx = Fixture::new().await;
    person(&fx, "mentor", MENTOR).await;
    person(&fx, "kid", PUPIL).await;
    pair(
        &fx,
        "p",
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        "mentor",
        &["kid"],
    )
    .await
    .expect("pair");
    // No agreement.
    assert_eq!(
        reason(&activate(&fx, "p").await.expect_err("x")),
        "AGREEMENT_NOT_SIGNED"
    );
    // An expired agreement (signed for one month in September).
    let expired = agreement(&fx, "p", date(2024, 9, 2), 1).await;
    let refused = activate(&fx, "p").await.expect_err("expired");
    assert_eq!(reason(&refused), "AGREEMENT_EXPIRED");
    assert_eq!(refused.metadata("end_date"), Some("2024-10-01"));
    // Extended into today: the order is what is missing now.
    in_tx!(fx, |tx| agreements::extend(
        &mut tx,
        &context(),
        INST,
        "p",
        &expired.id,
        &agreements::ExtensionDraft {
            months: 12,
            basis: "доп. соглашение".into(),
            agree_date: date(2025, 2, 1)
        },
        ""
    )
    .await)
    .expect("extended");
    assert_eq!(
        reason(&activate(&fx, "p").await.expect_err("x")),
        "ORDER_MISSING"
    );
    order(&fx, "p").await.expect("order");
    let active = activate(&fx, "p").await.expect("active");
    assert_eq!(active.state, PairState::Active);
    // Active: activating again is not a move.
    assert_eq!(
        reason(&activate(&fx, "p").await.expect_err("x")),
        "TRANSITION_NOT_ALLOWED"
    );
    // A member's revocation suspends it; resuming finds the consent missing.
    revoke(&fx, "kid").await.expect("revoked");
    let refused = activate(&fx, "p").await.expect_err("no consent");
    assert_eq!(reason(&refused), "CONSENT_MISSING");
    assert_eq!(
        refused.metadata("participant"),
        Some("institutions/mechta/participants/kid")
    );
    assert_eq!(
        fx.scalar(
            "SELECT count(*) FROM mentoring.event_outbox WHERE event_type = 'PAIR_ACTIVATED'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn revocation_suspends_pairs_and_groups_and_redacts_every_read_of_people() {
    let fx = Fixture::new().await;
    person(&fx, "mentor", MENTOR).await;
    person(&fx, "kid", PUPIL).await;
    person(&fx, "kid2", PUPIL).await;
    person(&fx, "kid3", PUPIL).await;
    ready_pair(&fx, "p", "mentor", "kid").await;
    activate(&fx, "p").await.expect("active");
    pair(
        &fx,
        "g",
        PairType::CounsellorPupil,
        MentoringForm::Virtual,
        "mentor",
        &["kid2", "kid3"],
    )
    .await
    .expect("group");
    agreement(&fx, "g", date(2024, 9, 2), 12).await;
    order(&fx, "g").await.expect("order");
    activate(&fx, "g").await.expect("active");

    revoke(&fx, "mentor").await.expect("revoked");

    let mut conn = fx.store.read().await.expect("conn");
    let setting = institutions::setting(&mut conn, INST, context().now())
        .await
        .expect("setting");
    // Every read that returns people.
    let shown = participants::get(&mut conn, INST, "mentor", TODAY)
        .await
        .expect("get");
    assert!(shown.redacted && shown.personal.is_none() && shown.person.display_name.is_empty());
    assert_eq!(shown.role, ParticipantRole::Counsellor);
    let listed = participants::list(&mut conn, INST, None, TODAY)
        .await
        .expect("list");
    let mentor = listed.iter().find(|p| p.id == "mentor").expect("listed");
    assert!(mentor.redacted && mentor.personal.is_none());
    assert_eq!(listed.len(), 4, "counted still");
    let consents_shown = consents::list(&mut conn, &setting, "mentor")
        .await
        .expect("consents");
    assert!(
        consents_shown
            .iter()
            .all(|c| c.redacted && c.receipt.text.is_empty())
    );
    assert!(
        consents_shown[0]
            .revocation_receipt
            .as_ref()
            .is_some_and(|r| r.text.is_empty())
    );
    for pair_shown in pairs::list(&mut conn, &setting).await.expect("pairs") {
        assert_eq!(pair_shown.state, PairState::Suspended, "{}", pair_shown.id);
        assert!(pair_shown.mentor_person.redacted);
        assert!(pair_shown.redacted && pair_shown.goal.is_empty());
        assert!(
            pair_shown
                .mentee_people
                .iter()
                .all(|p| !p.redacted && !p.display_name.is_empty())
        );
    }
    for agreement_shown in agreements::list(&mut conn, &setting, "g")
        .await
        .expect("agreements")
    {
        assert!(agreement_shown.redacted && agreement_shown.tasks.is_empty());
        assert!(agreement_shown.parties[0].0.redacted);
        assert_eq!(agreement_shown.parties[0].1, PairSide::Mentor);
    }
    // No read above holds the name.
    let everything = format!(
        "{:?}{:?}{:?}{:?}",
        participants::list(&mut conn, INST, None, TODAY)
            .await
            .expect("list"),
        consents::list(&mut conn, &setting, "mentor")
            .await
            .expect("consents"),
        pairs::list(&mut conn, &setting).await.expect("pairs"),
        agreements::list(&mut conn, &setting, "p")
            .await
            .expect("agreements"),
    );
    assert!(!everything.contains("Фамилия-mentor"));
    assert!(everything.contains("Фамилия-kid2"));
    assert_eq!(
        fx.scalar("SELECT count(*) FROM mentoring.audit_log WHERE action = 'consent.revoked'")
            .await,
        1
    );
    // A change about a redacted person is refused.
    let refused = in_tx!(fx, |tx| participants::update(
        &mut tx,
        &context(),
        INST,
        "mentor",
        &participants::ParticipantChange {
            contact: Some(("".into(), "".into(), "".into())),
            ..Default::default()
        },
        "",
    )
    .await)
    .expect_err("redacted");
    assert_eq!(reason(&refused), "CONSENT_MISSING");
}

#[tokio::test]
async fn agreements_extend_record_violations_and_terminate_after_three() {
    let fx = Fixture::new().await;
    person(&fx, "mentor", MENTOR).await;
    person(&fx, "kid", PUPIL).await;
    ready_pair(&fx, "p", "mentor", "kid").await;
    activate(&fx, "p").await.expect("active");
    let signed = {
        let mut conn = fx.store.read().await.expect("conn");
        let setting = institutions::setting(&mut conn, INST, context().now())
            .await
            .expect("s");
        agreements::list(&mut conn, &setting, "p")
            .await
            .expect("list")
            .remove(0)
    };
    // A second agreement while one is in force.
    let mut tx = fx.store.begin().await.expect("begin");
    let refused = agreements::create(
        &mut tx,
        &context(),
        INST,
        "p",
        &agreements::AgreementDraft {
            tasks: vec!["ещё".into()],
            duration_months: 3,
            sign_date: TODAY,
            representatives: vec![],
        },
    )
    .await
    .expect_err("one in force");
    drop(tx);
    assert_eq!(reason(&refused), "ALREADY_EXISTS");
    // Out-of-bounds extension.
    let refused = in_tx!(fx, |tx| agreements::extend(
        &mut tx,
        &context(),
        INST,
        "p",
        &signed.id,
        &agreements::ExtensionDraft {
            months: 49,
            basis: "доп".into(),
            agree_date: TODAY
        },
        ""
    )
    .await)
    .expect_err("over 60");
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    let terminate = || {
        let fx = &fx;
        let id = signed.id.clone();
        async move {
            in_tx!(fx, |tx| agreements::terminate(
                &mut tx,
                &context(),
                INST,
                "p",
                &id,
                TerminationDraft::Unilateral {
                    by: PairSide::Mentor,
                    violator: "kid"
                },
                "систематические нарушения",
                "",
            )
            .await)
        }
    };
    for n in 0..3 {
        let refused = terminate().await.expect_err("not systematic");
        assert_eq!(reason(&refused), "VIOLATIONS_NOT_SYSTEMATIC");
        assert_eq!(refused.metadata("violations"), Some(n.to_string().as_str()));
        in_tx!(fx, |tx| agreements::record_violation(
            &mut tx,
            &context(),
            INST,
            "p",
            &signed.id,
            &agreements::ViolationDraft {
                violator: "kid".into(),
                description: "пропуск встречи".into(),
                occur_date: TODAY
            },
            ""
        )
        .await)
        .expect("violation");
    }
    let ended = terminate().await.expect("terminated");
    assert_eq!(ended.state.as_str(), "ENDED");
    let mut conn = fx.store.read().await.expect("conn");
    let setting = institutions::setting(&mut conn, INST, context().now())
        .await
        .expect("s");
    let completed = pairs::get(&mut conn, &setting, "p").await.expect("pair");
    assert_eq!(completed.state, PairState::Completed);
    assert_eq!(
        completed.completion.map(|(r, i)| (r.as_str(), i.as_str())),
        Some(("AGREEMENT_TERMINATED", "MENTOR"))
    );
    assert_eq!(
        fx.scalar(
            "SELECT count(*) FROM mentoring.event_outbox WHERE event_type = 'PAIR_COMPLETED'"
        )
        .await,
        1
    );
    // Nothing more for an ended agreement.
    let refused = terminate().await.expect_err("ended");
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
}

#[tokio::test]
async fn completion_is_checked_by_the_domain_and_emits_an_event() {
    use edu_mentoring::domain::completion::{CompletionInitiator, CompletionReason};
    let fx = Fixture::new().await;
    person(&fx, "mentor", MENTOR).await;
    person(&fx, "kid", PUPIL).await;
    ready_pair(&fx, "p", "mentor", "kid").await;
    let complete = |reason_: CompletionReason, initiator: CompletionInitiator| {
        let fx = &fx;
        async move {
            in_tx!(fx, |tx| pairs::complete(
                &mut tx,
                &context(),
                INST,
                "p",
                &pairs::CompletionDraft {
                    reason: reason_,
                    initiator,
                    explanation: "переезд".into(),
                    complete_date: TODAY,
                },
                "",
            )
            .await)
        }
    };
    let refused = complete(CompletionReason::ValidReason, CompletionInitiator::Mentee)
        .await
        .expect_err("forming");
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
    activate(&fx, "p").await.expect("active");
    let refused = complete(CompletionReason::PlanCompleted, CompletionInitiator::Both)
        .await
        .expect_err("no plan");
    assert_eq!(reason(&refused), "PLAN_NOT_COMPLETED");
    let done = complete(CompletionReason::ValidReason, CompletionInitiator::Mentee)
        .await
        .expect("completed");
    assert_eq!(done.state, PairState::Completed);
    assert_eq!(
        fx.scalar("SELECT count(*) FROM mentoring.agreements WHERE state = 'ENDED'")
            .await,
        1
    );
    assert_eq!(
        fx.scalar(
            "SELECT count(*) FROM mentoring.event_outbox WHERE event_type = 'PAIR_COMPLETED'"
        )
        .await,
        1
    );
}
