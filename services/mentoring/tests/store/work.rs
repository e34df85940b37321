//! The second half of the store: plans and meetings, petitions, monitoring, the yearly
//! report, publications and the road map, each rule with its refusal reason, and the
//! deadlines at 23:59 / 00:00 Saratov time with explicit instants.

use edu_kit::CallContext;
use edu_kit::auth::{Caller, Claims};
use edu_mentoring::domain::completion::{CompletionInitiator, CompletionReason};
use edu_mentoring::domain::consent::{ActorKind, ConsentPurpose};
use edu_mentoring::domain::monitoring::MonitoringSeason;
use edu_mentoring::domain::plan::PlanActivityState;
use edu_mentoring::domain::publication::{PublicationKind, PublicationTiming};
use edu_mentoring::domain::road_map::RoadMapStageKind;
use edu_mentoring::domain::{MentoringForm, PairState, PairType};
use edu_mentoring::store::monitoring::{self, AnswerDraft, PairAssessment};
use edu_mentoring::store::pairs::{self, CompletionDraft, DirectorOrder};
use edu_mentoring::store::petitions::{self, Decision, PetitionDraft, PetitionState};
use edu_mentoring::store::plans::{
    self, ActivityChange, ActivityDraft, MeetingDraft, MeetingFormat,
};
use edu_mentoring::store::publications::{self, PublicationDraft};
use edu_mentoring::store::reports::{self, Section};
use edu_mentoring::store::road_map::{self, StageChange};
use edu_mentoring::store::{consents, institutions};
use jiff::Timestamp;
use jiff::civil::date;

use crate::common::*;

/// The curator acting at `instant`.
fn at(instant: &str) -> CallContext {
    let caller = Caller::from_claims(Claims {
        sub: "curator".into(),
        name: None,
        roles: vec!["mentoring.curator".into()],
        scopes: vec![format!("institution:{INST}")],
    });
    let now: Timestamp = instant.parse().expect("instant");
    CallContext::new(Some(caller), "test", None, now)
}

async fn active_pair(fx: &Fixture, id: &str, mentor: &str, mentee: &str, form: MentoringForm) {
    pair(fx, id, PairType::CounsellorPupil, form, mentor, &[mentee])
        .await
        .expect("pair");
    agreement(fx, id, date(2024, 9, 2), 24).await;
    order(fx, id).await.expect("order");
    activate(fx, id).await.expect("active");
}

async fn add_activity(fx: &Fixture, pair: &str, id: &str, by_mentee: bool) -> plans::PlanActivity {
    in_tx!(fx, |tx| plans::create_activity(
        &mut tx,
        &context(),
        INST,
        pair,
        &ActivityDraft {
            id: id.into(),
            title: "поход выходного дня".into(),
            description: String::new(),
            due_date: date(2025, 3, 1),
        },
        by_mentee,
    )
    .await)
    .expect("activity")
}

async fn change(
    fx: &Fixture,
    pair: &str,
    id: &str,
    change: ActivityChange,
) -> Result<plans::PlanActivity, edu_kit::ApiError> {
    in_tx!(fx, |tx| plans::update_activity(
        &mut tx,
        &context(),
        INST,
        pair,
        id,
        &change,
        ""
    )
    .await)
}

async fn complete_plan_completed(
    fx: &Fixture,
    pair: &str,
) -> Result<pairs::Pair, edu_kit::ApiError> {
    in_tx!(fx, |tx| pairs::complete(
        &mut tx,
        &context(),
        INST,
        pair,
        &CompletionDraft {
            reason: CompletionReason::PlanCompleted,
            initiator: CompletionInitiator::Both,
            explanation: String::new(),
            complete_date: TODAY,
        },
        "",
    )
    .await)
}

#[tokio::test]
async fn completion_with_plan_completed_reads_the_plan() {
    let fx = Fixture::new().await;
    person(&fx, "m", MENTOR).await;
    person(&fx, "k", PUPIL).await;
    active_pair(&fx, "p", "m", "k", MentoringForm::ShortTerm).await;
    // No plan at all: nothing done.
    let refused = complete_plan_completed(&fx, "p")
        .await
        .expect_err("empty plan");
    assert_eq!(reason(&refused), "PLAN_NOT_COMPLETED");
    let a = add_activity(&fx, "p", "a", false).await;
    assert_eq!(a.state, PlanActivityState::Planned);
    let proposal = add_activity(&fx, "p", "b", true).await;
    assert_eq!(proposal.state, PlanActivityState::Proposed);
    assert!(proposal.proposed_by_mentee);
    let refused = complete_plan_completed(&fx, "p").await.expect_err("open");
    assert_eq!(reason(&refused), "PLAN_NOT_COMPLETED");
    assert_eq!(refused.metadata("open_activities"), Some("2"));
    // DONE needs its result and day; CANCELLED its reason.
    let refused = change(
        &fx,
        "p",
        "a",
        ActivityChange {
            state: Some(PlanActivityState::Done),
            ..ActivityChange::default()
        },
    )
    .await
    .expect_err("no result");
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    // A proposal is not carried out before it is accepted.
    let refused = change(
        &fx,
        "p",
        "b",
        ActivityChange {
            state: Some(PlanActivityState::Done),
            result: Some("сходили".into()),
            done_date: Some(TODAY),
            ..ActivityChange::default()
        },
    )
    .await
    .expect_err("proposed → done");
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
    assert_eq!(refused.metadata("state"), Some("PROPOSED"));
    let done = change(
        &fx,
        "p",
        "a",
        ActivityChange {
            state: Some(PlanActivityState::Done),
            result: Some("сходили".into()),
            done_date: Some(TODAY),
            ..ActivityChange::default()
        },
    )
    .await
    .expect("done");
    assert_eq!(done.state, PlanActivityState::Done);
    // A stale etag is refused.
    let stale = in_tx!(fx, |tx| plans::update_activity(
        &mut tx,
        &context(),
        INST,
        "p",
        "a",
        &ActivityChange {
            result: Some("исправлено".into()),
            ..ActivityChange::default()
        },
        "\"1\""
    )
    .await)
    .expect_err("stale");
    assert_eq!(reason(&stale), "ETAG_MISMATCH");
    // A DONE one's title no longer changes.
    let refused = change(
        &fx,
        "p",
        "a",
        ActivityChange {
            title: Some("другое".into()),
            ..ActivityChange::default()
        },
    )
    .await
    .expect_err("done content");
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
    let refused = change(
        &fx,
        "p",
        "b",
        ActivityChange {
            state: Some(PlanActivityState::Cancelled),
            ..ActivityChange::default()
        },
    )
    .await
    .expect_err("no reason");
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    change(
        &fx,
        "p",
        "b",
        ActivityChange {
            state: Some(PlanActivityState::Cancelled),
            cancel_reason: Some("не актуально".into()),
            ..ActivityChange::default()
        },
    )
    .await
    .expect("declined");
    let completed = complete_plan_completed(&fx, "p")
        .await
        .expect("plan carried out");
    assert_eq!(completed.state, PairState::Completed);
    // Nothing more is recorded for a closed pair.
    let refused = in_tx!(fx, |tx| plans::create_activity(
        &mut tx,
        &context(),
        INST,
        "p",
        &ActivityDraft {
            id: String::new(),
            title: "ещё".into(),
            description: String::new(),
            due_date: date(2025, 3, 1),
        },
        false,
    )
    .await)
    .expect_err("closed");
    assert_eq!(reason(&refused), "PAIR_CLOSED");
}

fn meeting(id: &str) -> MeetingDraft {
    MeetingDraft {
        id: id.into(),
        meet_date: TODAY,
        duration_minutes: Some(45),
        format: MeetingFormat::InPerson,
        topic: "знакомство".into(),
        notes: String::new(),
        plan_activity: None,
        absent_mentees: vec![],
    }
}

#[tokio::test]
async fn a_speed_pair_logs_one_meeting_and_only_while_active() {
    let fx = Fixture::new().await;
    person(&fx, "m", MENTOR).await;
    person(&fx, "k", PUPIL).await;
    ready_pair(&fx, "f", "m", "k").await;
    let refused = in_tx!(fx, |tx| plans::create_meeting(
        &mut tx,
        &context(),
        INST,
        "f",
        &meeting("x")
    )
    .await)
    .expect_err("forming");
    assert_eq!(reason(&refused), "PAIR_NOT_ACTIVE");
    assert_eq!(refused.metadata("state"), Some("FORMING"));
    in_tx!(fx, |tx| pairs::cancel(
        &mut tx,
        &context(),
        INST,
        "f",
        "не начнётся",
        ""
    )
    .await)
    .expect("cancelled");
    person(&fx, "k2", PUPIL).await;
    active_pair(&fx, "s", "m", "k2", MentoringForm::Speed).await;
    let mut future = meeting("y");
    future.meet_date = date(2025, 2, 13);
    let refused = in_tx!(fx, |tx| plans::create_meeting(
        &mut tx,
        &context(),
        INST,
        "s",
        &future
    )
    .await)
    .expect_err("tomorrow");
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    let first = in_tx!(fx, |tx| plans::create_meeting(
        &mut tx,
        &context(),
        INST,
        "s",
        &meeting("m1")
    )
    .await)
    .expect("first meeting");
    assert_eq!(first.name, "institutions/mechta/pairs/s/meetings/m1");
    let refused = in_tx!(fx, |tx| plans::create_meeting(
        &mut tx,
        &context(),
        INST,
        "s",
        &meeting("m2")
    )
    .await)
    .expect_err("second");
    assert_eq!(reason(&refused), "SINGLE_MEETING_FORM");
    assert_eq!(refused.metadata("meeting"), Some(first.name.as_str()));
    // Revoked: the pair is suspended, and its texts hidden.
    revoke(&fx, "k2").await.expect("revoked");
    let mut tx = fx.store.begin().await.expect("begin");
    let setting = institutions::setting(&mut tx, INST, context().now())
        .await
        .expect("setting");
    let log = plans::list_meetings(&mut tx, &setting, "s", 10, None)
        .await
        .expect("log");
    assert_eq!(log.items.len(), 1);
    assert!(log.items[0].redacted && log.items[0].topic.is_empty());
    drop(tx);
    let refused = in_tx!(fx, |tx| plans::create_meeting(
        &mut tx,
        &context(),
        INST,
        "s",
        &meeting("m3")
    )
    .await)
    .expect_err("suspended");
    assert_eq!(reason(&refused), "PAIR_NOT_ACTIVE");
    assert_eq!(refused.metadata("state"), Some("SUSPENDED"));
}

fn petition() -> PetitionDraft {
    PetitionDraft {
        mentee: None,
        reason: "не удалось установить личный контакт с наставником".into(),
        filed_by: ActorKind::Guardian,
    }
}

fn grant(new_mentor: &str) -> Decision {
    Decision::Grant {
        new_mentor: new_mentor.into(),
        order: DirectorOrder {
            number: "31-н".into(),
            date: TODAY,
        },
    }
}

#[tokio::test]
async fn a_granted_petition_replaces_the_mentor_and_keeps_the_history() {
    let fx = Fixture::new().await;
    person(&fx, "m", MENTOR).await;
    person(&fx, "k", PUPIL).await;
    let mut untrained = MENTOR;
    untrained.trained = false;
    person(&fx, "u", untrained).await;
    person(&fx, "n", MENTOR).await;
    ready_pair(&fx, "p", "m", "k").await;
    let refused = in_tx!(fx, |tx| petitions::create(
        &mut tx,
        &context(),
        INST,
        "p",
        &petition()
    )
    .await)
    .expect_err("forming");
    assert_eq!(reason(&refused), "PAIR_NOT_ACTIVE");
    activate(&fx, "p").await.expect("active");
    let filed = in_tx!(fx, |tx| petitions::create(
        &mut tx,
        &context(),
        INST,
        "p",
        &petition()
    )
    .await)
    .expect("filed");
    assert_eq!(filed.state, PetitionState::Pending);
    assert_eq!(
        filed.mentor_person.participant,
        "institutions/mechta/participants/m"
    );
    let again = in_tx!(fx, |tx| petitions::create(
        &mut tx,
        &context(),
        INST,
        "p",
        &petition()
    )
    .await)
    .expect_err("pending already");
    assert_eq!(reason(&again), "ALREADY_EXISTS");
    assert_eq!(again.metadata("petition"), Some(filed.name.as_str()));
    let decide = |decision: Decision| {
        let fx = &fx;
        let id = filed.id.clone();
        async move {
            in_tx!(fx, |tx| petitions::decide(
                &mut tx,
                &context(),
                INST,
                "p",
                &id,
                &decision,
                ""
            )
            .await)
        }
    };
    let refused = decide(grant("u")).await.expect_err("untrained");
    assert_eq!(reason(&refused), "MENTOR_NOT_TRAINED");
    let refused = decide(grant("m")).await.expect_err("the same mentor");
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    let granted = decide(grant("n")).await.expect("granted");
    assert_eq!(granted.state, PetitionState::Granted);
    assert_eq!(
        granted
            .new_mentor_person
            .as_ref()
            .map(|p| p.participant.as_str()),
        Some("institutions/mechta/participants/n")
    );
    let refused = decide(Decision::Reject {
        reason: "поздно".into(),
    })
    .await
    .expect_err("decided");
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
    assert_eq!(refused.metadata("state"), Some("GRANTED"));
    // The pair is FORMING with the new mentor and the decision's order; its agreement ended.
    let mut tx = fx.store.begin().await.expect("begin");
    let setting = institutions::setting(&mut tx, INST, context().now())
        .await
        .expect("setting");
    let p = pairs::get(&mut tx, &setting, "p").await.expect("pair");
    assert_eq!(p.state, PairState::Forming);
    assert_eq!(
        p.mentor_person.participant,
        "institutions/mechta/participants/n"
    );
    assert_eq!(p.order.as_ref().map(|o| o.number.as_str()), Some("31-н"));
    let history = petitions::list(&mut tx, &setting, Some("p"), None)
        .await
        .expect("history");
    assert_eq!(history.len(), 1);
    drop(tx);
    assert_eq!(
        fx.scalar("SELECT count(*) FROM mentoring.agreements WHERE end_reason = 'MENTOR_REPLACED'")
            .await,
        1
    );
    // A new agreement and activation: the old mentor pairs again elsewhere freely.
    agreement(&fx, "p", TODAY, 12).await;
    activate(&fx, "p")
        .await
        .expect("active with the new mentor");
}

#[tokio::test]
async fn two_decisions_on_one_petition_at_once_apply_exactly_one() {
    let fx = Fixture::new().await;
    person(&fx, "a", MENTOR).await;
    person(&fx, "b", MENTOR).await;
    let (mut grants, mut rejects) = (0, 0);
    for round in 0..15 {
        let (m, k, p) = (
            format!("m{round}"),
            format!("k{round}"),
            format!("p{round}"),
        );
        person(&fx, &m, MENTOR).await;
        person(&fx, &k, PUPIL).await;
        active_pair(&fx, &p, &m, &k, MentoringForm::ShortTerm).await;
        let filed = in_tx!(fx, |tx| petitions::create(
            &mut tx,
            &context(),
            INST,
            &p,
            &petition()
        )
        .await)
        .expect("filed");
        let new_mentor = if round % 2 == 0 { "a" } else { "b" };
        let first = grant(new_mentor);
        let second = Decision::Reject {
            reason: "оставить наставника".into(),
        };
        let (x, y) = futures::join!(
            async {
                in_tx!(fx, |tx| petitions::decide(
                    &mut tx,
                    &context(),
                    INST,
                    &p,
                    &filed.id,
                    &first,
                    ""
                )
                .await)
            },
            async {
                in_tx!(fx, |tx| petitions::decide(
                    &mut tx,
                    &context(),
                    INST,
                    &p,
                    &filed.id,
                    &second,
                    ""
                )
                .await)
            },
        );
        let results = [x, y];
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        let loser = results
            .iter()
            .find_map(|r| r.as_ref().err())
            .expect("one refused");
        assert_eq!(reason(loser), "TRANSITION_NOT_ALLOWED");
        match results
            .iter()
            .find_map(|r| r.as_ref().ok())
            .map(|w| w.state)
        {
            Some(PetitionState::Granted) => grants += 1,
            Some(PetitionState::Rejected) => rejects += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(grants + rejects, 15);
    // Every pair has exactly one current mentor, and FORMING exactly when granted.
    assert_eq!(
        fx.scalar("SELECT count(*) FROM mentoring.pairs WHERE state = 'FORMING'")
            .await,
        grants
    );
    assert_eq!(
        fx.scalar(
            "SELECT count(*) FROM (SELECT pair_id FROM mentoring.pair_members
             WHERE side = 'MENTOR' AND left_time IS NULL GROUP BY pair_id HAVING count(*) = 1) x"
        )
        .await,
        15
    );
    eprintln!("granted first: {grants}, rejected first: {rejects}");
}

#[tokio::test]
async fn monitoring_rounds_are_late_from_0000_after_the_due_day_in_saratov() {
    let fx = Fixture::new().await;
    person(&fx, "m", MENTOR).await;
    person(&fx, "k", PUPIL).await;
    person(&fx, "k2", PUPIL).await;
    active_pair(&fx, "p", "m", "k", MentoringForm::ShortTerm).await;
    active_pair(&fx, "q", "m", "k2", MentoringForm::ShortTerm).await;
    let round = in_tx!(fx, |tx| monitoring::create_round(
        &mut tx,
        &context(),
        INST,
        MonitoringSeason::December,
        2025,
        &[]
    )
    .await)
    .expect("round");
    assert_eq!(round.name, "institutions/mechta/monitoringRounds/2025-12");
    assert_eq!((round.pairs, round.questionnaires), (2, 4));
    assert_eq!(round.due_date, date(2025, 12, 20));
    let again = in_tx!(fx, |tx| monitoring::create_round(
        &mut tx,
        &context(),
        INST,
        MonitoringSeason::December,
        2025,
        &[]
    )
    .await)
    .expect_err("exists");
    assert_eq!(reason(&again), "ALREADY_EXISTS");
    // A revocation withdraws the person's open questionnaires, in the same transaction.
    revoke(&fx, "k2").await.expect("revoked");
    assert_eq!(
        fx.scalar("SELECT count(*) FROM mentoring.questionnaires WHERE participant_id = 'k2' AND state = 'WITHDRAWN'")
            .await,
        1
    );
    let mut tx = fx.store.begin().await.expect("begin");
    let setting = institutions::setting(&mut tx, INST, context().now())
        .await
        .expect("setting");
    let sheets = monitoring::list_questionnaires(&mut tx, &setting, "2025-12", None)
        .await
        .expect("sheets");
    drop(tx);
    let withdrawn = sheets
        .iter()
        .find(|s| s.respondent.participant.ends_with("/k2"))
        .expect("k2's");
    assert!(withdrawn.respondent.redacted && withdrawn.respondent.display_name.is_empty());
    let refused = in_tx!(fx, |tx| monitoring::submit_questionnaire(
        &mut tx,
        &context(),
        INST,
        "2025-12",
        &withdrawn.id,
        &[AnswerDraft {
            question_id: "satisfaction".into(),
            score: Some(8),
            text: None
        }],
        ActorKind::Staff,
        ""
    )
    .await)
    .expect_err("withdrawn");
    assert_eq!(reason(&refused), "TRANSITION_NOT_ALLOWED");
    let mentee = sheets
        .iter()
        .find(|s| s.respondent.participant.ends_with("/k"))
        .expect("k's");
    let refused = in_tx!(fx, |tx| monitoring::submit_questionnaire(
        &mut tx,
        &context(),
        INST,
        "2025-12",
        &mentee.id,
        &[
            AnswerDraft {
                question_id: "satisfaction".into(),
                score: Some(11),
                text: None
            },
            AnswerDraft {
                question_id: "progress".into(),
                score: Some(5),
                text: None
            }
        ],
        ActorKind::Guardian,
        ""
    )
    .await)
    .expect_err("out of range, mentors' question");
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    in_tx!(fx, |tx| monitoring::submit_questionnaire(
        &mut tx,
        &context(),
        INST,
        "2025-12",
        &mentee.id,
        &[AnswerDraft {
            question_id: "satisfaction".into(),
            score: Some(9),
            text: None
        }],
        ActorKind::Guardian,
        ""
    )
    .await)
    .expect("answered");
    let submit = |instant: &'static str, round: &'static str| {
        let fx = &fx;
        async move {
            in_tx!(fx, |tx| monitoring::submit_round(
                &mut tx,
                &at(instant),
                INST,
                round,
                "",
                ""
            )
            .await)
        }
    };
    let refused = submit("2025-12-20T23:59:00+04:00", "2025-12")
        .await
        .expect_err("unassessed");
    assert_eq!(reason(&refused), "PAIR_RESULTS_INCOMPLETE");
    assert_eq!(refused.metadata("unassessed"), Some("2"));
    for pair in ["p", "q"] {
        in_tx!(fx, |tx| monitoring::update_pair_result(
            &mut tx,
            &context(),
            INST,
            "2025-12",
            pair,
            Some(PairAssessment::Effective),
            None,
            ""
        )
        .await)
        .expect("assessed");
    }
    // A conclusion about the redacted pair is refused; its assessment was taken.
    let refused = in_tx!(fx, |tx| monitoring::update_pair_result(
        &mut tx,
        &context(),
        INST,
        "2025-12",
        "q",
        None,
        Some("вывод"),
        ""
    )
    .await)
    .expect_err("redacted pair");
    assert_eq!(reason(&refused), "CONSENT_MISSING");
    let on_time = submit("2025-12-20T23:59:00+04:00", "2025-12")
        .await
        .expect("submitted");
    assert!(on_time.submitted && !on_time.late);
    let refused = in_tx!(fx, |tx| monitoring::update_pair_result(
        &mut tx,
        &context(),
        INST,
        "2025-12",
        "p",
        Some(PairAssessment::NotEffective),
        None,
        ""
    )
    .await)
    .expect_err("submitted");
    assert_eq!(reason(&refused), "MONITORING_ROUND_SUBMITTED");
    // The May round submitted at 00:00 of 21 May in Saratov is late, and still accepted.
    in_tx!(fx, |tx| monitoring::create_round(
        &mut tx,
        &context(),
        INST,
        MonitoringSeason::May,
        2026,
        &[]
    )
    .await)
    .expect("may round");
    in_tx!(fx, |tx| monitoring::update_pair_result(
        &mut tx,
        &context(),
        INST,
        "2026-05",
        "p",
        Some(PairAssessment::PartlyEffective),
        None,
        ""
    )
    .await)
    .expect("assessed");
    let late = submit("2026-05-21T00:00:00+04:00", "2026-05")
        .await
        .expect("late, not refused");
    assert!(late.late);
    // The same instant in another zone's clock is the same instant.
    assert_eq!(
        late.submit_time,
        Some("2026-05-20T20:00:00Z".parse().expect("utc"))
    );
    assert_eq!(
        fx.scalar(
            "SELECT count(*) FROM mentoring.event_outbox WHERE event_type = 'MONITORING_SUBMITTED'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn the_yearly_report_counts_a_revoked_person_without_naming_them() {
    let fx = Fixture::new().await;
    person(&fx, "m", MENTOR).await;
    person(&fx, "k", PUPIL).await;
    person(&fx, "k2", PUPIL).await;
    person(&fx, "idle", PUPIL).await;
    active_pair(&fx, "p", "m", "k", MentoringForm::ShortTerm).await;
    active_pair(&fx, "q", "m", "k2", MentoringForm::Virtual).await;
    // A FORMING pair never at work does not count.
    person(&fx, "m2", MENTOR).await;
    ready_pair(&fx, "f", "m2", "idle").await;
    revoke(&fx, "k2").await.expect("revoked");
    let report = {
        let mut tx = fx.store.begin().await.expect("begin");
        reports::get(
            &mut tx,
            INST,
            2025,
            "2025-06-01T12:00:00+04:00".parse().expect("instant"),
        )
        .await
        .expect("report")
    };
    assert_eq!(report.rows.len(), 20);
    let row = |section: Section, code: &str| {
        report
            .rows
            .iter()
            .find(|r| r.section == section && r.code == code)
            .cloned()
            .expect("row")
    };
    let total = row(Section::Total, "ALL");
    assert_eq!(
        (total.participants, total.mentors, total.mentees),
        (3, 1, 2)
    );
    assert_eq!((total.pairs, total.groups), (Some(2), Some(0)));
    let pupils = row(Section::Role, "PUPIL");
    assert_eq!(
        (pupils.participants, pupils.mentees, pupils.pairs),
        (2, 2, None)
    );
    assert_eq!(row(Section::Form, "VIRTUAL").participants, 2);
    assert_eq!(row(Section::PairType, "COUNSELLOR_PUPIL").pairs, Some(2));
    assert_eq!(report.activated, 2);
    // No row names anyone: only codes.
    for r in &report.rows {
        assert!(
            !["m", "k", "k2", "m2", "idle"].contains(&r.code.as_str()),
            "{r:?}"
        );
    }
    // A year before the registration does not exist.
    let mut tx = fx.store.begin().await.expect("begin");
    let missing = reports::get(&mut tx, INST, 2024, context().now())
        .await
        .expect_err("2024");
    assert_eq!(reason(&missing), "NOT_FOUND");
    drop(tx);
    // Submitted at 23:59 of 30 December in Saratov: on time; a second time: refused.
    let on_time = in_tx!(fx, |tx| reports::submit(
        &mut tx,
        &at("2025-12-30T23:59:00+04:00"),
        INST,
        2025,
        "\"0\""
    )
    .await)
    .expect("submitted");
    assert!(on_time.submitted && !on_time.late);
    assert_eq!(on_time.rows, report.rows);
    let again = in_tx!(fx, |tx| reports::submit(
        &mut tx,
        &at("2025-12-31T00:00:00+04:00"),
        INST,
        2025,
        ""
    )
    .await)
    .expect_err("submitted already");
    assert_eq!(reason(&again), "TRANSITION_NOT_ALLOWED");
    // Another institution's report at 00:00 of 31 December: late, not refused.
    let other = Fixture::new().await;
    let late = in_tx!(other, |tx| reports::submit(
        &mut tx,
        &at("2025-12-31T00:00:00+04:00"),
        INST,
        2025,
        ""
    )
    .await)
    .expect("late");
    assert!(late.late);
}

#[tokio::test]
async fn publications_are_flagged_late_never_refused() {
    let fx = Fixture::new().await;
    person(
        &fx,
        "v",
        who(edu_mentoring::domain::ParticipantRole::Volunteer),
    )
    .await;
    let plan = |id: &str, kind: PublicationKind, featured: Vec<String>| PublicationDraft {
        id: id.into(),
        kind,
        title: "Слёт наставников".into(),
        event_title: "слёт".into(),
        event_date: Some(date(2025, 3, 10)),
        channels: vec!["VK".into()],
        featured,
    };
    for (id, kind) in [
        ("on-time", PublicationKind::PressRelease),
        ("late", PublicationKind::PressRelease),
        ("post", PublicationKind::PostRelease),
    ] {
        in_tx!(fx, |tx| publications::create(
            &mut tx,
            &context(),
            INST,
            &plan(id, kind, vec![])
        )
        .await)
        .expect("planned");
    }
    in_tx!(fx, |tx| publications::create(
        &mut tx,
        &context(),
        INST,
        &plan("people", PublicationKind::Digest, vec!["v".into()])
    )
    .await)
    .expect("planned");
    // Window D−5 … D−3: 5 to 7 March; 23:59 of 7 March in Saratov is on time…
    let shown = in_tx!(fx, |tx| publications::publish(
        &mut tx,
        &at("2025-03-07T23:59:00+04:00"),
        INST,
        "on-time",
        "https://vk.com/wall1",
        ""
    )
    .await)
    .expect("published");
    assert_eq!(
        (shown.timing, shown.late),
        (PublicationTiming::OnTime, false)
    );
    assert_eq!(shown.window, Some((date(2025, 3, 5), date(2025, 3, 7))));
    // …00:00 of 8 March is late, and published all the same.
    let shown = in_tx!(fx, |tx| publications::publish(
        &mut tx,
        &at("2025-03-08T00:00:00+04:00"),
        INST,
        "late",
        "https://vk.com/wall2",
        ""
    )
    .await)
    .expect("late but published");
    assert_eq!((shown.timing, shown.late), (PublicationTiming::Late, true));
    // The post-release D … D+1 still planned at 00:00 of 12 March is overdue.
    let mut tx = fx.store.begin().await.expect("begin");
    let setting = institutions::setting(&mut tx, INST, context().now())
        .await
        .expect("setting");
    let late = publications::list(
        &mut tx,
        &setting,
        true,
        "2025-03-12T00:00:00+04:00".parse().expect("instant"),
    )
    .await
    .expect("late list");
    drop(tx);
    let names: Vec<&str> = late.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(names, ["late", "post"]);
    assert_eq!(late[1].timing, PublicationTiming::Overdue);
    // Featuring someone needs their consent to PUBLICATION.
    let refused = in_tx!(fx, |tx| publications::publish(
        &mut tx,
        &context(),
        INST,
        "people",
        "https://vk.com/wall3",
        ""
    )
    .await)
    .expect_err("no publication consent");
    assert_eq!(reason(&refused), "CONSENT_MISSING");
    assert_eq!(refused.metadata("purpose"), Some("PUBLICATION"));
    let mut publication = consent(false);
    publication.purpose = ConsentPurpose::Publication;
    in_tx!(fx, |tx| consents::give(
        &mut tx,
        &context(),
        INST,
        "v",
        &publication
    )
    .await)
    .expect("consent");
    in_tx!(fx, |tx| publications::publish(
        &mut tx,
        &context(),
        INST,
        "people",
        "https://vk.com/wall3",
        ""
    )
    .await)
    .expect("published");
    // A revocation flags it.
    revoke(&fx, "v").await.expect("revoked");
    assert_eq!(
        fx.scalar("SELECT count(*) FROM mentoring.publications WHERE consent_revoked")
            .await,
        1
    );
}

#[tokio::test]
async fn the_road_map_is_approved_once_planned_and_then_moved_by_the_director_only() {
    let fx = Fixture::new().await;
    let refused = in_tx!(fx, |tx| road_map::approve(&mut tx, &context(), INST, "")
        .await)
    .expect_err("unplanned");
    assert_eq!(reason(&refused), "ROAD_MAP_INCOMPLETE");
    assert_eq!(
        refused.metadata("stage"),
        Some("institutions/mechta/roadMapStages/preparing-conditions")
    );
    let plan = StageChange {
        planned_start: Some(Some(date(2025, 1, 1))),
        planned_end: Some(Some(date(2025, 12, 31))),
        ..StageChange::default()
    };
    for kind in RoadMapStageKind::ALL {
        in_tx!(fx, |tx| road_map::update_stage(
            &mut tx,
            &context(),
            INST,
            kind,
            &plan,
            false,
            ""
        )
        .await)
        .expect("planned");
    }
    let bad = StageChange {
        actual_end: Some(Some(date(2025, 2, 1))),
        ..StageChange::default()
    };
    let refused = in_tx!(fx, |tx| road_map::update_stage(
        &mut tx,
        &context(),
        INST,
        RoadMapStageKind::MentorBank,
        &bad,
        false,
        ""
    )
    .await)
    .expect_err("end without start");
    assert_eq!(reason(&refused), "INVALID_FIELDS");
    let approved = in_tx!(fx, |tx| road_map::approve(&mut tx, &context(), INST, "")
        .await)
    .expect("approved");
    assert_eq!(approved.road_map_state, "APPROVED");
    let refused = in_tx!(fx, |tx| road_map::update_stage(
        &mut tx,
        &context(),
        INST,
        RoadMapStageKind::MentorBank,
        &plan,
        false,
        ""
    )
    .await)
    .expect_err("curator moves a planned date");
    assert_eq!(reason(&refused), "ROLE_REQUIRED");
    let progress = StageChange {
        actual_start: Some(Some(date(2025, 1, 10))),
        ..StageChange::default()
    };
    let stage = in_tx!(fx, |tx| road_map::update_stage(
        &mut tx,
        &context(),
        INST,
        RoadMapStageKind::MentorBank,
        &progress,
        false,
        ""
    )
    .await)
    .expect("progress");
    let stale = in_tx!(fx, |tx| road_map::update_stage(
        &mut tx,
        &context(),
        INST,
        RoadMapStageKind::MentorBank,
        &progress,
        true,
        "\"1\""
    )
    .await)
    .expect_err("stale");
    assert_eq!(reason(&stale), "ETAG_MISMATCH");
    assert!(stage.version > 1);
}
