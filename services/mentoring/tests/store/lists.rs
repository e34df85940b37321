//! What the API is built on besides the use cases: `ListParticipants` with its filters and
//! keyset pages (redacted people shown redacted, last), the other lists' pages, the etag
//! checks of the changes people make by hand, and one mentee leaving a group.

use std::collections::HashSet;

use edu_kit::paging::{Page, PageRequest};
use edu_kit::{ApiError, etag};
use edu_mentoring::domain::completion::{CompletionInitiator, CompletionReason};
use edu_mentoring::domain::consent::{ActorKind, ConsentState};
use edu_mentoring::domain::monitoring::MonitoringSeason;
use edu_mentoring::domain::{MentoringForm, PairKind, PairState, PairType, ParticipantRole};
use edu_mentoring::store::agreements::{self, AgreementFilter, ExtensionDraft, TerminationDraft};
use edu_mentoring::store::consents::{self, ConsentFilter};
use edu_mentoring::store::pairs::{self, CompletionDraft, DirectorOrder, PairChange, PairFilter};
use edu_mentoring::store::participants::{
    self, Bank, ListFilter, MenteeProfile, MentorProfile, ParticipantChange, ParticipantDraft,
    Training,
};
use edu_mentoring::store::{institutions, monitoring};
use jiff::civil::date;

use crate::common::*;

/// Records `id` with the family name `family` as `who` (adults only).
async fn named(fx: &Fixture, id: &str, family: &str, who: Who) {
    let mut p = personal(family, date(1990, 1, 1));
    p.mentor_profile = who.mentor_bank.then(MentorProfile::default);
    p.mentee_profile = who.mentee_bank.then(MenteeProfile::default);
    p.training = (who.mentor_bank && who.trained).then(|| Training {
        complete_date: date(2024, 8, 20),
        programme: "Школа наставника".into(),
    });
    in_tx!(fx, |tx| participants::create(
        &mut tx,
        &context(),
        INST,
        &ParticipantDraft {
            id: id.into(),
            role: who.role,
            personal: p,
        },
        &consent(false),
    )
    .await)
    .expect("participant");
}

/// Every page of a listing, as the API reads them: each page's token bound to `query`.
/// Answers the IDs in order and the first page's token.
async fn all_pages<T, F, Fut>(query: &[&str], size: i32, mut page: F) -> (Vec<String>, String)
where
    F: FnMut(usize, Option<String>) -> Fut,
    Fut: std::future::Future<Output = (Page<T, String>, Vec<String>)>,
{
    let mut ids = vec![];
    let mut token = String::new();
    let mut first_token = String::new();
    loop {
        let request = PageRequest::<String>::parse(size, &token, query).expect("token");
        let (got, page_ids) = page(request.size, request.after.clone()).await;
        assert!(got.items.len() <= request.size);
        ids.extend(page_ids);
        token = request.next_token(got.next.as_ref());
        if first_token.is_empty() {
            first_token = token.clone();
        }
        if token.is_empty() {
            break;
        }
    }
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no row twice: {ids:?}");
    (ids, first_token)
}

async fn participants_pages(fx: &Fixture, filter: ListFilter, size: i32) -> (Vec<String>, String) {
    let query = ["ListParticipants".to_string(), format!("{filter:?}")];
    let parts: Vec<&str> = query.iter().map(String::as_str).collect();
    all_pages(&parts, size, |size, after| async move {
        let mut conn = fx.store.read().await.expect("conn");
        let page = participants::list_page(&mut conn, INST, &filter, TODAY, size, after)
            .await
            .expect("page");
        let ids = page.items.iter().map(|p| p.id.clone()).collect();
        (page, ids)
    })
    .await
}

#[tokio::test]
async fn participants_are_listed_by_bank_and_filters_in_alphabetical_pages() {
    let fx = Fixture::new().await;
    // In the `ru` collation Ё sorts after Е, while byte order puts it before А.
    named(&fx, "m-zh", "Жуков", MENTOR).await;
    named(&fx, "m-yo", "Ёлкина", MENTOR).await;
    named(&fx, "m-a", "Абрамов", MENTOR).await;
    named(
        &fx,
        "m-ya",
        "Яковлев",
        Who {
            trained: false,
            ..MENTOR
        },
    )
    .await;
    named(&fx, "m-e", "Егоров", MENTOR).await;
    for kid in ["k1", "k2", "k3", "k4"] {
        person(&fx, kid, PUPIL).await;
    }
    ready_pair(&fx, "p", "m-a", "k2").await;
    // A revoked mentor: redacted, and out of every bank listing.
    named(&fx, "m-gone", "Аааев", MENTOR).await;
    revoke(&fx, "m-gone").await.expect("revoked");

    let mentors = ListFilter {
        bank: Some(Bank::Mentors),
        ..ListFilter::default()
    };
    let (ids, token) = participants_pages(&fx, mentors, 2).await;
    assert_eq!(ids, ["m-a", "m-e", "m-yo", "m-zh", "m-ya"]);
    let trained = ListFilter {
        trained_only: true,
        ..mentors
    };
    let (ids, _) = participants_pages(&fx, trained, 2).await;
    assert_eq!(ids, ["m-a", "m-e", "m-yo", "m-zh"]);
    let unpaired = ListFilter {
        bank: Some(Bank::Mentees),
        unpaired_only: true,
        ..ListFilter::default()
    };
    let (ids, _) = participants_pages(&fx, unpaired, 1).await;
    assert_eq!(ids, ["k1", "k3", "k4"]);
    let pupils = ListFilter {
        role: Some(ParticipantRole::Pupil),
        ..ListFilter::default()
    };
    let (ids, _) = participants_pages(&fx, pupils, 3).await;
    assert_eq!(ids, ["k1", "k2", "k3", "k4"]);
    // Everyone, the redacted last; pages of every size give the same rows.
    let (everyone, _) = participants_pages(&fx, ListFilter::default(), 50).await;
    assert_eq!(everyone.len(), 10);
    assert_eq!(everyone.last().map(String::as_str), Some("m-gone"));
    for size in [1, 3, 4] {
        assert_eq!(
            participants_pages(&fx, ListFilter::default(), size).await.0,
            everyone
        );
    }
    let revoked = ListFilter {
        consent_state: Some(ConsentState::Revoked),
        ..ListFilter::default()
    };
    let mut conn = fx.store.read().await.expect("conn");
    let page = participants::list_page(&mut conn, INST, &revoked, TODAY, 10, None)
        .await
        .expect("revoked");
    assert_eq!(page.items.len(), 1);
    assert!(page.items[0].redacted && page.items[0].personal.is_none());
    assert!(page.items[0].person.display_name.is_empty());
    let given = ListFilter {
        consent_state: Some(ConsentState::Given),
        ..ListFilter::default()
    };
    let page = participants::list_page(&mut conn, INST, &given, TODAY, 50, None)
        .await
        .expect("given");
    assert_eq!(page.items.len(), 9);
    assert!(
        page.items
            .iter()
            .all(|p| !p.redacted && p.personal.is_some())
    );

    // A token of the mentors' listing is refused for the mentees'.
    let other = ["ListParticipants".to_string(), format!("{unpaired:?}")];
    let parts: Vec<&str> = other.iter().map(String::as_str).collect();
    let refused = PageRequest::<String>::parse(2, &token, &parts).expect_err("another query");
    assert_eq!(refused.reason, "PAGE_TOKEN_INVALID");
    assert!(PageRequest::<String>::parse(-1, "", &parts).is_err());
    assert_eq!(
        PageRequest::<String>::parse(10_000, "", &parts)
            .expect("clamped")
            .size,
        200
    );
}

#[tokio::test]
async fn pairs_agreements_and_consents_page_without_repeats_or_gaps() {
    let fx = Fixture::new().await;
    person(&fx, "mentor", MENTOR).await;
    let kids = ["k1", "k2", "k3", "k4", "k5"];
    for kid in kids {
        person(&fx, kid, PUPIL).await;
    }
    for (i, kid) in kids.iter().enumerate() {
        ready_pair(&fx, &format!("p{i}"), "mentor", kid).await;
    }
    activate(&fx, "p0").await.expect("active");

    let query = ["ListPairs", "institutions/mechta"];
    let (ids, token) = all_pages(&query, 2, |size, after| {
        let fx = &fx;
        async move {
            let mut conn = fx.store.read().await.expect("conn");
            let setting = institutions::setting(&mut conn, INST, context().now())
                .await
                .expect("setting");
            let page = pairs::list_page(&mut conn, &setting, &PairFilter::default(), size, after)
                .await
                .expect("pairs");
            let ids = page.items.iter().map(|p| p.id.clone()).collect();
            (page, ids)
        }
    })
    .await;
    assert_eq!(ids, ["p0", "p1", "p2", "p3", "p4"]);
    assert!(
        PageRequest::<String>::parse(2, &token, &["ListPairs", "institutions/mechta", "ACTIVE"])
            .is_err()
    );

    let mut conn = fx.store.read().await.expect("conn");
    let setting = institutions::setting(&mut conn, INST, context().now())
        .await
        .expect("setting");
    let forming = PairFilter {
        state: Some(PairState::Forming),
        kind: Some(PairKind::Pair),
        ..PairFilter::default()
    };
    let page = pairs::list_page(&mut conn, &setting, &forming, 10, None)
        .await
        .expect("forming");
    assert_eq!(page.items.len(), 4);
    let of_k3 = PairFilter {
        member: Some("k3".into()),
        ..PairFilter::default()
    };
    let page = pairs::list_page(&mut conn, &setting, &of_k3, 10, None)
        .await
        .expect("k3's");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, "p2");

    // Every pair's agreements, and every participant's consents (`-`).
    let mut seen = vec![];
    let mut after = None;
    loop {
        let page = agreements::list_page(
            &mut conn,
            &setting,
            None,
            &AgreementFilter::default(),
            2,
            after,
        )
        .await
        .expect("agreements");
        seen.extend(page.items.iter().map(|a| a.id.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 5);
    let one = agreements::list_page(
        &mut conn,
        &setting,
        Some("p1"),
        &AgreementFilter::default(),
        10,
        None,
    )
    .await
    .expect("p1's");
    assert_eq!(one.items.len(), 1);

    let mut seen = vec![];
    let mut after = None;
    loop {
        let page = consents::list_page(
            &mut conn,
            &setting,
            None,
            &ConsentFilter::default(),
            4,
            after,
        )
        .await
        .expect("consents");
        seen.extend(page.items.iter().map(|c| c.id.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 6);
    let revoked = consents::list_page(
        &mut conn,
        &setting,
        Some("k1"),
        &ConsentFilter {
            state: Some(ConsentState::Revoked),
            ..ConsentFilter::default()
        },
        10,
        None,
    )
    .await
    .expect("none revoked");
    assert!(revoked.items.is_empty());
}

fn stale(error: &ApiError) {
    assert_eq!(reason(error), "ETAG_MISMATCH");
    assert_eq!(error.kind, edu_kit::error::ErrorKind::Aborted);
}

const STALE: &str = "\"999\"";

#[tokio::test]
async fn a_stale_etag_is_refused_on_each_change_by_hand() {
    let fx = Fixture::new().await;
    let mentor = person(&fx, "mentor", MENTOR).await;
    person(&fx, "kid", PUPIL).await;
    person(&fx, "kid2", PUPIL).await;

    // Participant.
    let change = ParticipantChange {
        contact: Some(("педагог".into(), "+7 900".into(), String::new())),
        ..ParticipantChange::default()
    };
    let refused = in_tx!(fx, |tx| participants::update(
        &mut tx,
        &context(),
        INST,
        "mentor",
        &change,
        STALE
    )
    .await)
    .expect_err("stale");
    stale(&refused);
    let changed = in_tx!(fx, |tx| participants::update(
        &mut tx,
        &context(),
        INST,
        "mentor",
        &change,
        &etag::of(mentor.version)
    )
    .await)
    .expect("current etag");
    assert_eq!(changed.version, mentor.version + 1);

    // Pair: form and goal, the order, cancellation.
    let formed = pair(
        &fx,
        "p",
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        "mentor",
        &["kid"],
    )
    .await
    .expect("pair");
    let to_virtual = PairChange {
        form: Some(MentoringForm::Virtual),
        goal: Some("новая цель".into()),
    };
    let refused = in_tx!(fx, |tx| pairs::update(
        &mut tx,
        &context(),
        INST,
        "p",
        &to_virtual,
        STALE
    )
    .await)
    .expect_err("stale");
    stale(&refused);
    let updated = in_tx!(fx, |tx| pairs::update(
        &mut tx,
        &context(),
        INST,
        "p",
        &to_virtual,
        &etag::of(formed.version)
    )
    .await)
    .expect("form and goal");
    assert_eq!(
        (updated.form, updated.goal.as_str()),
        (MentoringForm::Virtual, "новая цель")
    );
    let order = DirectorOrder {
        number: "17-н".into(),
        date: date(2024, 9, 2),
    };
    let refused = in_tx!(fx, |tx| pairs::record_order(
        &mut tx,
        &context(),
        INST,
        "p",
        &order,
        &etag::of(formed.version)
    )
    .await)
    .expect_err("the etag before the form change");
    stale(&refused);
    in_tx!(fx, |tx| pairs::record_order(
        &mut tx,
        &context(),
        INST,
        "p",
        &order,
        &etag::of(updated.version)
    )
    .await)
    .expect("order");

    // Agreement: extension and termination.
    let signed = agreement(&fx, "p", date(2024, 9, 2), 12).await;
    activate(&fx, "p").await.expect("active");
    let extension = ExtensionDraft {
        months: 3,
        basis: "доп. соглашение".into(),
        agree_date: TODAY,
    };
    let refused = in_tx!(fx, |tx| agreements::extend(
        &mut tx,
        &context(),
        INST,
        "p",
        &signed.id,
        &extension,
        STALE
    )
    .await)
    .expect_err("stale");
    stale(&refused);
    let extended = in_tx!(fx, |tx| agreements::extend(
        &mut tx,
        &context(),
        INST,
        "p",
        &signed.id,
        &extension,
        &etag::of(signed.version)
    )
    .await)
    .expect("extended");
    let refused = in_tx!(fx, |tx| agreements::terminate(
        &mut tx,
        &context(),
        INST,
        "p",
        &signed.id,
        TerminationDraft::Mutual,
        "по соглашению сторон",
        &etag::of(signed.version)
    )
    .await)
    .expect_err("the etag before the extension");
    stale(&refused);

    // Completion of the pair, then the termination with the current etag.
    let completion = CompletionDraft {
        reason: CompletionReason::ValidReason,
        initiator: CompletionInitiator::Both,
        explanation: "переезд".into(),
        complete_date: TODAY,
    };
    let refused = in_tx!(fx, |tx| pairs::complete(
        &mut tx,
        &context(),
        INST,
        "p",
        &completion,
        &etag::of(updated.version)
    )
    .await)
    .expect_err("stale");
    stale(&refused);
    let refused = in_tx!(fx, |tx| agreements::terminate(
        &mut tx,
        &context(),
        INST,
        "p",
        &signed.id,
        TerminationDraft::Mutual,
        "по соглашению сторон",
        &etag::of(extended.version)
    )
    .await);
    assert!(refused.is_ok(), "the current etag: {refused:?}");

    // Cancellation of a FORMING pair.
    let second = pair(
        &fx,
        "q",
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        "mentor",
        &["kid2"],
    )
    .await
    .expect("pair");
    let refused = in_tx!(fx, |tx| pairs::cancel(
        &mut tx,
        &context(),
        INST,
        "q",
        "не начнётся",
        STALE
    )
    .await)
    .expect_err("stale");
    stale(&refused);
    in_tx!(fx, |tx| pairs::cancel(
        &mut tx,
        &context(),
        INST,
        "q",
        "не начнётся",
        &etag::of(second.version)
    )
    .await)
    .expect("cancelled");

    // Consent revocation.
    let consent = {
        let mut conn = fx.store.read().await.expect("conn");
        let setting = institutions::setting(&mut conn, INST, context().now())
            .await
            .expect("setting");
        consents::list(&mut conn, &setting, "kid2")
            .await
            .expect("consents")
            .remove(0)
    };
    let refused = in_tx!(fx, |tx| consents::revoke(
        &mut tx,
        &context(),
        INST,
        "kid2",
        &consent.id,
        ActorKind::Staff,
        "заявление",
        STALE
    )
    .await)
    .expect_err("stale");
    stale(&refused);
    let revoked = in_tx!(fx, |tx| consents::revoke(
        &mut tx,
        &context(),
        INST,
        "kid2",
        &consent.id,
        ActorKind::Staff,
        "заявление",
        &etag::of(consent.version)
    )
    .await)
    .expect("revoked");
    assert_eq!(revoked.state, ConsentState::Revoked);
}

async fn leave(
    fx: &Fixture,
    group: &str,
    mentee: &str,
    reason_: CompletionReason,
) -> Result<pairs::Pair, ApiError> {
    let initiator = if reason_ == CompletionReason::ValidReason {
        CompletionInitiator::Mentee
    } else {
        CompletionInitiator::Curator
    };
    in_tx!(fx, |tx| pairs::complete_mentee(
        &mut tx,
        &context(),
        INST,
        group,
        mentee,
        &CompletionDraft {
            reason: reason_,
            initiator,
            explanation: "переезд семьи".into(),
            complete_date: TODAY,
        },
        ""
    )
    .await)
}

#[tokio::test]
async fn a_mentee_leaves_a_group_and_the_last_one_leaving_completes_it() {
    let fx = Fixture::new().await;
    person(&fx, "mentor", MENTOR).await;
    for kid in ["k1", "k2", "k3", "solo"] {
        person(&fx, kid, PUPIL).await;
    }
    pair(
        &fx,
        "g",
        PairType::CounsellorPupil,
        MentoringForm::Virtual,
        "mentor",
        &["k1", "k2", "k3"],
    )
    .await
    .expect("group");
    agreement(&fx, "g", date(2024, 9, 2), 12).await;
    order(&fx, "g").await.expect("order");
    activate(&fx, "g").await.expect("active");
    ready_pair(&fx, "p", "mentor", "solo").await;
    activate(&fx, "p").await.expect("active");
    in_tx!(fx, |tx| monitoring::create_round(
        &mut tx,
        &context(),
        INST,
        MonitoringSeason::December,
        2025,
        &[]
    )
    .await)
    .expect("round");

    // Refusals: a plan completion for one mentee, someone not in the group, a pair.
    let refused = leave(&fx, "g", "k1", CompletionReason::PlanCompleted)
        .await
        .expect_err("the plan is the group's");
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    let refused = leave(&fx, "g", "solo", CompletionReason::ValidReason)
        .await
        .expect_err("not in the group");
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    let refused = leave(&fx, "g", "nobody", CompletionReason::ValidReason)
        .await
        .expect_err("nobody");
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    let refused = leave(&fx, "p", "solo", CompletionReason::ValidReason)
        .await
        .expect_err("a pair");
    assert_eq!(reason(&refused), "INVALID_FIELDS");

    let before = fx
        .scalar(
            "SELECT count(*) FROM mentoring.questionnaires WHERE pair_id = 'g' AND state = 'SENT'",
        )
        .await;
    let group = leave(&fx, "g", "k1", CompletionReason::ValidReason)
        .await
        .expect("k1 leaves");
    assert_eq!(group.state, PairState::Active);
    assert_eq!(group.mentee_people.len(), 2);
    assert_eq!(group.former_mentees.len(), 1);
    assert!(group.former_mentees[0].person.participant.ends_with("/k1"));
    assert_eq!(
        group.former_mentees[0].completion,
        Some((
            CompletionReason::ValidReason,
            CompletionInitiator::Mentee,
            TODAY
        ))
    );
    assert_eq!(
        fx.scalar("SELECT count(*) FROM mentoring.questionnaires WHERE participant_id = 'k1' AND state = 'WITHDRAWN'")
            .await,
        1
    );
    assert_eq!(
        fx.scalar(
            "SELECT count(*) FROM mentoring.questionnaires WHERE pair_id = 'g' AND state = 'SENT'"
        )
        .await,
        before - 1
    );
    // k1 is free to be paired again, and out of the group's listing by member only as former.
    pair(
        &fx,
        "new",
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        "mentor",
        &["k1"],
    )
    .await
    .expect("k1 paired again");
    let refused = leave(&fx, "g", "k1", CompletionReason::ValidReason)
        .await
        .expect_err("already left");
    assert_eq!(reason(&refused), "INVALID_FIELDS");

    let group = leave(&fx, "g", "k2", CompletionReason::ForceMajeure)
        .await
        .expect("k2 leaves");
    assert_eq!(group.state, PairState::Active);
    assert_eq!(group.mentee_people.len(), 1);
    let before_events = fx
        .scalar("SELECT count(*) FROM mentoring.event_outbox WHERE event_type = 'PAIR_COMPLETED'")
        .await;
    let group = leave(&fx, "g", "k3", CompletionReason::ValidReason)
        .await
        .expect("the last one");
    assert_eq!(group.state, PairState::Completed);
    assert_eq!(
        group.completion,
        Some((CompletionReason::ValidReason, CompletionInitiator::Mentee))
    );
    assert_eq!(group.former_mentees.len(), 2);
    assert_eq!(
        fx.scalar(
            "SELECT count(*) FROM mentoring.event_outbox WHERE event_type = 'PAIR_COMPLETED'"
        )
        .await,
        before_events + 1
    );
    assert_eq!(
        fx.scalar(
            "SELECT count(*) FROM mentoring.agreements WHERE pair_id = 'g' AND state = 'SIGNED'"
        )
        .await,
        0
    );
}
