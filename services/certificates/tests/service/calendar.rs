//! Issue 11: the calendar and the monthly cycle. Each test failed before its fix.

use edu_certificates::domain::Money;
use edu_certificates::domain::period::{Period, YearMonth};
use edu_certificates::store::enrolments::{self, EnrolmentState};
use edu_certificates::store::periods::{self, PeriodRecord};
use futures::future::join_all;
use jiff::civil::date;

use crate::common::*;

fn reason(result: Result<impl std::fmt::Debug, edu_kit::ApiError>) -> String {
    match result {
        Ok(ok) => panic!("expected a refusal, got {ok:?}"),
        Err(e) => edu_kit::testing::reason(&tonic::Status::from(e)),
    }
}

fn month(year: i16, month: i8) -> YearMonth {
    YearMonth { year, month }
}

#[tokio::test]
async fn defect_1_a_back_dated_start_is_refused_and_no_month_before_the_acceptance_is_paid() {
    let fx = Fixture::new().await;
    period(&fx, Money::from_roubles(60_000), 10).await;
    let issued = certificates(&fx, 2).await;
    provider(&fx, "dom").await;
    programme(&fx, "dom", "chess", 10, Money::from_roubles(500)).await;

    // The case: asked on 25 November for a start on 2 September.
    let november_25 = context_at("2024-11-25T10:00:00+07:00");
    let back_dated = in_tx!(fx, |tx| enrolments::request(
        &mut tx,
        &november_25,
        &issued[0].id,
        "dom",
        "chess",
        date(2024, 9, 2)
    )
    .await);
    assert_eq!(reason(back_dated), "START_IN_PAST");

    // Asked on 25 November for the 26th, accepted only on 2 December: December to August,
    // nine months, are reserved; November is not, and cannot be reported.
    let requested = in_tx!(fx, |tx| enrolments::request(
        &mut tx,
        &november_25,
        &issued[0].id,
        "dom",
        "chess",
        date(2024, 11, 26)
    )
    .await)
    .expect("requested");
    let december_2 = context_at("2024-12-02T10:00:00+07:00");
    let accepted = in_tx!(fx, |tx| enrolments::accept(
        &mut tx,
        &december_2,
        &requested.id
    )
    .await)
    .expect("accepted");
    assert_eq!(accepted.start_date, date(2024, 12, 2));
    assert_eq!(accepted.reserved, Money::from_roubles(500 * 9));
    let january = context_at("2025-01-05T10:00:00+07:00");
    let november = in_tx!(fx, |tx| enrolments::report_month(
        &mut tx,
        &january,
        "dom",
        month(2024, 11),
        std::slice::from_ref(&requested.id)
    )
    .await);
    assert_eq!(reason(november), "ENROLMENT_NOT_RUNNING");

    // Asked and accepted on the same day for that day: the rest of the year, ten months.
    let second = in_tx!(fx, |tx| enrolments::request(
        &mut tx,
        &november_25,
        &issued[1].id,
        "dom",
        "chess",
        date(2024, 11, 25)
    )
    .await)
    .expect("requested");
    let accepted = in_tx!(fx, |tx| enrolments::accept(
        &mut tx,
        &november_25,
        &second.id
    )
    .await)
    .expect("accepted");
    assert_eq!(accepted.reserved, Money::from_roubles(500 * 10));

    // A month that has not begun is not reported yet.
    let early = in_tx!(fx, |tx| enrolments::report_month(
        &mut tx,
        &january,
        "dom",
        month(2025, 2),
        std::slice::from_ref(&second.id)
    )
    .await);
    assert_eq!(reason(early), "MONTH_NOT_BEGUN");
}

fn next_year(id: &str, start: jiff::civil::Date, end: jiff::civil::Date) -> PeriodRecord {
    PeriodRecord {
        id: id.into(),
        region_code: "RU-ALT".into(),
        municipality_code: "mikhailovsky".into(),
        municipality_name: "Михайловский район".into(),
        time_zone: "Asia/Barnaul".into(),
        period: Period {
            start,
            end,
            nominal: Money::from_roubles(6_000),
            quota: 10,
            min_age: 5,
            max_age: 18,
        },
        currency: "RUB".into(),
        credit_time: None,
        create_time: context().now(),
    }
}

#[tokio::test]
async fn defect_2_periods_of_a_municipality_never_overlap_even_when_created_at_once() {
    let fx = Fixture::new().await;
    period(&fx, Money::from_roubles(6_000), 10).await;
    let inside = next_year("inside", date(2025, 3, 1), date(2026, 2, 28));
    let refused = in_tx!(fx, |tx| periods::create(&mut tx, &context(), &inside).await)
        .expect_err("overlaps the school year");
    assert_eq!(reason(Err::<(), _>(refused.clone())), "PERIOD_OVERLAPS");
    assert_eq!(
        refused.metadata("period"),
        Some("periods/mikhailovsky-2024")
    );

    // Twenty operators create twenty overlapping periods at once: one wins.
    let attempts = (0..20).map(|n| {
        let fx = &fx;
        async move {
            let record = next_year(
                &format!("race-{n}"),
                date(2025, 9, 1 + n % 5),
                date(2026, 8, 31),
            );
            in_tx!(fx, |tx| periods::create(&mut tx, &context(), &record).await)
        }
    });
    let results = join_all(attempts).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for refused in results.into_iter().filter_map(Result::err) {
        assert_eq!(reason(Err::<(), _>(refused)), "PERIOD_OVERLAPS");
    }
    assert_eq!(
        fx.scalar("SELECT count(*) FROM certificates.periods").await,
        2
    );
}

#[tokio::test]
async fn defect_3_a_months_report_grows_and_every_reported_month_is_charged_once() {
    let fx = Fixture::new().await;
    period(&fx, Money::from_roubles(6_000), 10).await;
    let issued = certificates(&fx, 3).await;
    provider(&fx, "dom").await;
    programme(&fx, "dom", "chess", 10, Money::from_roubles(300)).await;
    let mut ids = Vec::new();
    for certificate in &issued {
        let requested = request(&fx, &certificate.id, "dom", "chess")
            .await
            .expect("requested");
        accept(&fx, &requested.id).await.expect("accepted");
        ids.push(requested.id);
    }
    let october = context_at("2024-10-02T10:00:00+07:00");
    let report = |ids: Vec<String>| {
        let fx = &fx;
        let october = &october;
        async move {
            in_tx!(fx, |tx| enrolments::report_month(
                &mut tx,
                october,
                "dom",
                september(),
                &ids
            )
            .await)
            .expect("reported")
        }
    };
    let approve = || async {
        in_tx!(fx, |tx| enrolments::approve_month(
            &mut tx,
            &october,
            "dom",
            september()
        )
        .await)
        .expect("approved")
    };
    // The case: e1, then e2 for the same month; the approval charges both.
    let first = report(vec![ids[0].clone()]).await;
    assert_eq!((first.added, first.amount), (1, Money::from_roubles(300)));
    let second = report(vec![ids[1].clone(), ids[0].clone()]).await;
    assert_eq!(
        (second.added, second.amount),
        (1, Money::from_roubles(600)),
        "e1 is in the report once"
    );
    assert_eq!(approve().await, (2, Money::from_roubles(600)));
    // Reported after the approval: the next approval charges it, and only it.
    let third = report(vec![ids[2].clone()]).await;
    assert_eq!((third.added, third.amount), (1, Money::from_roubles(900)));
    assert_eq!(approve().await, (1, Money::from_roubles(900)));
    assert_eq!(
        approve().await,
        (0, Money::from_roubles(900)),
        "nothing twice"
    );
    assert_eq!(
        fx.scalar("SELECT count(*) FROM certificates.ledger WHERE kind = 'CHARGE'")
            .await,
        3
    );
}

#[tokio::test]
async fn defect_5_requests_that_find_no_seat_wait_in_the_order_they_were_made() {
    let fx = Fixture::new().await;
    period(&fx, Money::from_roubles(6_000), 10).await;
    let issued = certificates(&fx, 4).await;
    provider(&fx, "dom").await;
    programme(&fx, "dom", "choir", 1, Money::from_roubles(100)).await;
    let mut requested = Vec::new();
    for certificate in &issued[..3] {
        let enrolment = request(&fx, &certificate.id, "dom", "choir")
            .await
            .expect("requested");
        assert_eq!(enrolment.state, EnrolmentState::Requested, "a seat is free");
        requested.push(enrolment.id);
    }
    // The only seat goes to the second request; the first and the third wait, in order.
    accept(&fx, &requested[1]).await.expect("accepted");
    assert_eq!(reason(accept(&fx, &requested[0]).await), "NO_SEATS_LEFT");
    let later = request(&fx, &issued[3].id, "dom", "choir")
        .await
        .expect("requested");
    async fn positions(fx: &Fixture, ids: Vec<String>) -> Vec<(EnrolmentState, i32)> {
        let mut out = Vec::new();
        for id in ids {
            let enrolment = in_tx!(fx, |tx| enrolments::fetch(&mut tx, &id, false).await)
                .expect("read")
                .expect("exists");
            let position = in_tx!(fx, |tx| enrolments::waiting_position(&mut tx, &enrolment)
                .await)
            .expect("position");
            out.push((enrolment.state, position));
        }
        out
    }
    let waiting = vec![requested[0].clone(), requested[2].clone(), later.id.clone()];
    assert_eq!(
        positions(&fx, waiting.clone()).await,
        [
            (EnrolmentState::Waitlisted, 1),
            (EnrolmentState::Waitlisted, 2),
            (EnrolmentState::Waitlisted, 3)
        ]
    );
    // The seat frees: the first request made gets it, and only it; the rest keep order.
    in_tx!(fx, |tx| enrolments::end(
        &mut tx,
        &context(),
        &requested[1],
        date(2024, 9, 30)
    )
    .await)
    .expect("ended");
    assert_eq!(
        positions(&fx, waiting.clone()).await,
        [
            (EnrolmentState::Requested, 0),
            (EnrolmentState::Waitlisted, 1),
            (EnrolmentState::Waitlisted, 2)
        ]
    );
    assert_eq!(
        reason(accept(&fx, &requested[2]).await),
        "TRANSITION_NOT_ALLOWED",
        "the first in line goes first"
    );
    // The first declines: the seat passes to the next in line.
    let first = in_tx!(fx, |tx| enrolments::fetch(&mut tx, &requested[0], false)
        .await)
    .expect("read")
    .expect("exists");
    in_tx!(fx, |tx| enrolments::decline(
        &mut tx,
        &context(),
        &first,
        "переезд"
    )
    .await)
    .expect("declined");
    accept(&fx, &requested[2]).await.expect("next in line");
}
