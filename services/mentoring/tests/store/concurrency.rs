//! The races of the store's lock order, many rounds each, without sleeps.

use edu_mentoring::domain::{MentoringForm, PairType};

use crate::common::*;

#[tokio::test]
async fn activation_racing_a_revocation_never_leaves_an_active_pair_with_a_revoked_member() {
    let fx = Fixture::new().await;
    let (mut activated_first, mut refused) = (0, 0);
    for round in 0..30 {
        let mentor = format!("m{round}");
        let kid = format!("k{round}");
        let pair_id = format!("p{round}");
        person(&fx, &mentor, MENTOR).await;
        person(&fx, &kid, PUPIL).await;
        ready_pair(&fx, &pair_id, &mentor, &kid).await;
        // Revoke the mentor in even rounds, the mentee in odd ones.
        let revoked = if round % 2 == 0 { &mentor } else { &kid };
        let (activation, revocation) =
            futures::join!(activate(&fx, &pair_id), revoke(&fx, revoked));
        revocation.expect("a revocation always succeeds");
        match activation {
            Ok(_) => activated_first += 1,
            Err(e) => {
                assert_eq!(reason(&e), "CONSENT_MISSING", "{e:?}");
                refused += 1;
            }
        }
    }
    assert_eq!(activated_first + refused, 30);
    // The invariant, whichever order each round took.
    assert_eq!(
        fx.scalar(
            "SELECT count(*) FROM mentoring.pairs p
             JOIN mentoring.pair_members m ON m.institution_id = p.institution_id AND m.pair_id = p.id
             WHERE p.state = 'ACTIVE'
               AND NOT EXISTS (SELECT 1 FROM mentoring.consents c
                               WHERE c.institution_id = m.institution_id
                                 AND c.participant_id = m.participant_id
                                 AND c.purpose = 'PERSONAL_DATA' AND c.state = 'GIVEN')"
        )
        .await,
        0
    );
    // Every pair that was activated first was suspended by the revocation.
    assert_eq!(
        fx.scalar("SELECT count(*) FROM mentoring.pairs WHERE state = 'SUSPENDED'")
            .await,
        activated_first
    );
    eprintln!("activated first: {activated_first}, refused: {refused}");
}

#[tokio::test]
async fn two_pairs_claiming_one_mentee_at_once_form_exactly_one() {
    let fx = Fixture::new().await;
    person(&fx, "a", MENTOR).await;
    person(&fx, "b", MENTOR).await;
    for round in 0..30 {
        let kid = format!("k{round}");
        person(&fx, &kid, PUPIL).await;
        let (x, y) = (format!("x{round}"), format!("y{round}"));
        let mentees = [kid.as_str()];
        let (first, second) = futures::join!(
            pair(
                &fx,
                &x,
                PairType::CounsellorPupil,
                MentoringForm::ShortTerm,
                "a",
                &mentees
            ),
            pair(
                &fx,
                &y,
                PairType::CounsellorPupil,
                MentoringForm::ShortTerm,
                "b",
                &mentees
            ),
        );
        let results = [first, second];
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        let loser = results
            .iter()
            .find_map(|r| r.as_ref().err())
            .expect("one refused");
        assert_eq!(reason(loser), "MENTEE_ALREADY_PAIRED");
    }
    assert_eq!(fx.scalar("SELECT count(*) FROM mentoring.pairs").await, 30);
}
