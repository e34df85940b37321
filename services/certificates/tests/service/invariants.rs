//! The randomised invariant test: many certificates, many programmes, rounds of random
//! operations run concurrently in random order; after each round the money and the seats
//! must add up.

use edu_certificates::domain::Money;
use edu_certificates::domain::period::YearMonth;
use edu_certificates::store::enrolments;
use futures::future::join_all;
use jiff::civil::date;

use crate::common::*;

/// A small deterministic generator, so that a failure reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[derive(Debug)]
enum Op {
    Request(usize, usize),
    Accept(String),
    End(String),
    Charge(String, i8),
}

async fn ids_in(fx: &Fixture, state: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT id FROM certificates.enrolments WHERE state = $1 ORDER BY id")
        .bind(state)
        .fetch_all(fx.db.pool())
        .await
        .expect("ids")
}

async fn check_invariants(fx: &Fixture, round: usize) {
    // Per certificate: outstanding reservations and the available balance never negative.
    let negative: i64 = fx
        .scalar(
            "SELECT count(*) FROM (
               SELECT certificate_id,
                      sum(amount) FILTER (WHERE kind = 'CREDIT') AS credited,
                      COALESCE(sum(amount) FILTER (WHERE kind = 'RESERVE'), 0)
                        - COALESCE(sum(amount) FILTER (WHERE kind = 'RELEASE'), 0)
                        - COALESCE(sum(amount) FILTER (WHERE kind = 'CHARGE'), 0) AS reserved,
                      COALESCE(sum(amount) FILTER (WHERE kind = 'CHARGE'), 0) AS charged
               FROM certificates.ledger GROUP BY certificate_id) b
             WHERE reserved < 0 OR COALESCE(credited, 0) - charged - reserved < 0",
        )
        .await;
    assert_eq!(negative, 0, "round {round}: a balance went negative");
    // Per enrolment: no charge without its reservation behind it.
    let uncovered = fx
        .scalar(
            "SELECT count(*) FROM (
               SELECT enrolment_id,
                      COALESCE(sum(amount) FILTER (WHERE kind = 'RESERVE'), 0)
                        - COALESCE(sum(amount) FILTER (WHERE kind = 'RELEASE'), 0)
                        - COALESCE(sum(amount) FILTER (WHERE kind = 'CHARGE'), 0) AS left
               FROM certificates.ledger WHERE enrolment_id IS NOT NULL GROUP BY enrolment_id) e
             WHERE e.left < 0",
        )
        .await;
    assert_eq!(
        uncovered, 0,
        "round {round}: a charge beyond its reservation"
    );
    // Seats: never over, and `taken` is the accepted count.
    let over = fx
        .scalar(
            "SELECT count(*) FROM certificates.programmes p
             WHERE p.taken > p.seats OR p.taken <> (
               SELECT count(*) FROM certificates.enrolments e
               WHERE e.provider_id = p.provider_id AND e.programme_id = p.id
                 AND e.state = 'ACCEPTED')",
        )
        .await;
    assert_eq!(over, 0, "round {round}: seats do not add up");
}

#[tokio::test]
async fn money_and_seats_add_up_after_every_round_of_random_concurrent_operations() {
    let fx = Fixture::new().await;
    // Small balances and few seats, so that refusals happen often.
    period(&fx, Money::from_roubles(3_000), 15).await;
    let issued = certificates(&fx, 20).await;
    provider(&fx, "dom").await;
    for n in 0..5 {
        programme(
            &fx,
            "dom",
            &format!("p{n}"),
            3,
            Money::from_roubles(100 + 50 * n as i64),
        )
        .await;
    }
    let mut rng = Rng(0x5eed_2024);
    for round in 0..12 {
        // Targets come from the state the round starts with, so that every kind of
        // operation keeps meeting enrolments it can act on (and some it cannot).
        let requested = ids_in(&fx, "REQUESTED").await;
        let accepted = ids_in(&fx, "ACCEPTED").await;
        let ops: Vec<Op> = (0..25)
            .map(|_| match rng.below(8) {
                0..=2 => Op::Request(rng.below(issued.len()), rng.below(5)),
                3 | 4 if !requested.is_empty() => {
                    Op::Accept(requested[rng.below(requested.len())].clone())
                }
                5 if !accepted.is_empty() => Op::End(accepted[rng.below(accepted.len())].clone()),
                6 | 7 if !accepted.is_empty() => Op::Charge(
                    accepted[rng.below(accepted.len())].clone(),
                    9 + rng.below(4) as i8,
                ),
                _ => Op::Request(rng.below(issued.len()), rng.below(5)),
            })
            .collect();
        let runs = ops.iter().map(|op| {
            let fx = &fx;
            let issued = &issued;
            async move {
                match op {
                    Op::Request(c, p) => {
                        let _ = request(fx, &issued[*c].id, "dom", &format!("p{p}")).await;
                    }
                    Op::Accept(e) => {
                        let _ = accept(fx, e).await;
                    }
                    Op::End(e) => {
                        let _ = in_tx!(fx, |tx| enrolments::end(
                            &mut tx,
                            &context(),
                            e,
                            date(2024, 11, 30)
                        )
                        .await);
                    }
                    Op::Charge(e, month) => {
                        let month = YearMonth {
                            year: 2024,
                            month: *month,
                        };
                        let reported = in_tx!(fx, |tx| enrolments::report_month(
                            &mut tx,
                            &context(),
                            "dom",
                            month,
                            std::slice::from_ref(e)
                        )
                        .await);
                        if reported.is_ok() {
                            let _ = in_tx!(fx, |tx| enrolments::approve_month(
                                &mut tx,
                                &context(),
                                "dom",
                                month
                            )
                            .await);
                        }
                    }
                }
            }
        });
        join_all(runs).await;
        check_invariants(&fx, round).await;
    }
    let charges = fx
        .scalar("SELECT count(*) FROM certificates.ledger WHERE kind = 'CHARGE'")
        .await;
    let accepted = fx
        .scalar("SELECT count(*) FROM certificates.ledger WHERE kind = 'RESERVE'")
        .await;
    assert!(
        accepted > 0 && charges > 0,
        "the rounds exercised money: {accepted} reservations, {charges} charges"
    );
}
