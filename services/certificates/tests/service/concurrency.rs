//! The races of rules 1, 5, 6 and 7, with many simultaneous callers against the real
//! Postgres.

use edu_certificates::domain::Money;
use edu_certificates::store::enrolments;
use futures::future::join_all;

use crate::common::*;

fn reason(error: &edu_kit::ApiError) -> String {
    edu_kit::testing::reason(&tonic::Status::from(error.clone()))
}

#[tokio::test]
async fn fifty_concurrent_acceptances_on_a_balance_that_covers_ten_accept_exactly_ten() {
    let fx = Fixture::new().await;
    // 500 a month for the whole year is 6 000; the nominal covers ten of them.
    let price = Money::from_roubles(500);
    period(&fx, Money::from_roubles(60_000), 100).await;
    let certificate = certificates(&fx, 1).await.remove(0);
    provider(&fx, "dom-tvorchestva").await;
    let mut requests = Vec::new();
    for n in 0..50 {
        let id = format!("p{n}");
        programme(&fx, "dom-tvorchestva", &id, 5, price).await;
        requests.push(
            request(&fx, &certificate.id, "dom-tvorchestva", &id)
                .await
                .expect("requested")
                .id,
        );
    }
    let results = join_all(requests.iter().map(|id| accept(&fx, id))).await;
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    let short = results
        .iter()
        .filter(|r| {
            r.as_ref()
                .is_err_and(|e| reason(e) == "INSUFFICIENT_BALANCE")
        })
        .count();
    assert_eq!((accepted, short), (10, 40), "{results:?}");

    let sums = balances(&fx).await;
    let (_, credited, reserved, released, charged) = sums[0].clone();
    assert_eq!(credited, 6_000_000);
    assert_eq!(
        reserved - released - charged,
        6_000_000,
        "ten reservations of 6 000"
    );
    assert_eq!(
        fx.scalar("SELECT count(*) FROM certificates.ledger WHERE kind = 'RESERVE'")
            .await,
        10,
        "the refused wrote nothing"
    );
}

#[tokio::test]
async fn a_hundred_concurrent_acceptances_into_twenty_seats_take_exactly_twenty() {
    let fx = Fixture::new().await;
    period(&fx, Money::from_roubles(6_000), 200).await;
    let issued = certificates(&fx, 100).await;
    provider(&fx, "sport-school").await;
    programme(
        &fx,
        "sport-school",
        "football",
        20,
        Money::from_roubles(300),
    )
    .await;
    let mut requests = Vec::new();
    for certificate in &issued {
        requests.push(
            request(&fx, &certificate.id, "sport-school", "football")
                .await
                .expect("requested")
                .id,
        );
    }
    let results = join_all(requests.iter().map(|id| accept(&fx, id))).await;
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    let full = results
        .iter()
        .filter(|r| r.as_ref().is_err_and(|e| reason(e) == "NO_SEATS_LEFT"))
        .count();
    assert_eq!((accepted, full), (20, 80));
    assert_eq!(
        fx.scalar("SELECT taken::bigint FROM certificates.programmes")
            .await,
        20
    );
    assert_eq!(
        fx.scalar("SELECT count(*) FROM certificates.enrolments WHERE state = 'ACCEPTED'")
            .await,
        20
    );
    // Issue 11, defect 5: the 80 refused are not stranded as open requests; they wait, in
    // the order their requests were made.
    let waiting: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM certificates.enrolments WHERE state = 'WAITLISTED' ORDER BY create_time, id",
    )
    .fetch_all(fx.store.pool())
    .await
    .expect("waiting list");
    let refused_in_request_order: Vec<String> = requests
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_err())
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(waiting, refused_in_request_order);
    assert_eq!(
        fx.scalar("SELECT count(*) FROM certificates.enrolments WHERE state = 'REQUESTED'")
            .await,
        0
    );
}

#[tokio::test]
async fn two_concurrent_issues_for_one_child_make_one_certificate() {
    let fx = Fixture::new().await;
    period(&fx, Money::from_roubles(6_000), 10).await;
    let child = child(&fx, 1).await;
    let results = join_all([issue(&fx, &child), issue(&fx, &child)]).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    let refused = results
        .iter()
        .find_map(|r| r.as_ref().err())
        .expect("one refused");
    assert_eq!(
        tonic::Status::from(refused.clone()).code(),
        tonic::Code::AlreadyExists
    );
    assert_eq!(
        fx.scalar("SELECT count(*) FROM certificates.certificates")
            .await,
        1
    );
}

#[tokio::test]
async fn a_month_approved_twice_at_once_is_charged_once() {
    let fx = Fixture::new().await;
    period(&fx, Money::from_roubles(6_000), 10).await;
    let issued = certificates(&fx, 3).await;
    provider(&fx, "robot-club").await;
    programme(&fx, "robot-club", "robotics", 10, Money::from_roubles(400)).await;
    let mut enrolled = Vec::new();
    for certificate in &issued {
        let id = request(&fx, &certificate.id, "robot-club", "robotics")
            .await
            .expect("requested")
            .id;
        accept(&fx, &id).await.expect("accepted");
        enrolled.push(id);
    }
    in_tx!(fx, |tx| enrolments::report_month(
        &mut tx,
        &context(),
        "robot-club",
        september(),
        &enrolled
    )
    .await)
    .expect("reported");
    let approve = || {
        let fx = &fx;
        async move {
            in_tx!(fx, |tx| enrolments::approve_month(
                &mut tx,
                &context(),
                "robot-club",
                september()
            )
            .await)
        }
    };
    let results = join_all([approve(), approve()]).await;
    let charged: Vec<u32> = results
        .iter()
        .map(|r| r.as_ref().expect("approved").0)
        .collect();
    assert_eq!(charged.iter().sum::<u32>(), 3, "{charged:?}");
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().expect("approved").1 == Money::from_roubles(1_200))
    );
    assert_eq!(
        fx.scalar("SELECT count(*) FROM certificates.ledger WHERE kind = 'CHARGE'")
            .await,
        3
    );
}
