//! Rules 1, 2, 4, 5 and 6, one use case at a time, with their refusals.

use edu_certificates::domain::Money;
use edu_certificates::store::{enrolments, people, programmes};
use jiff::civil::date;

use crate::common::*;

fn reason(result: Result<impl std::fmt::Debug, edu_kit::ApiError>) -> String {
    match result {
        Ok(ok) => panic!("expected a refusal, got {ok:?}"),
        Err(e) => edu_kit::testing::reason(&tonic::Status::from(e)),
    }
}

#[tokio::test]
async fn rule_1_age_is_checked_against_the_period_and_a_child_has_one_certificate() {
    let fx = Fixture::new().await;
    period(&fx, Money::from_roubles(6_000), 10).await;
    let toddler = people::Child {
        id: "toddler".into(),
        display_name: "Малыш".into(),
        identity_document: "I-ТО 999999".into(),
        birth_date: date(2021, 1, 1),
        region_code: "RU-ALT".into(),
        municipality_code: "mikhailovsky".into(),
        parent_subject: "parent".into(),
        parent_name: "Родитель".into(),
        consent_time: context().now(),
        create_time: context().now(),
    };
    in_tx!(fx, |tx| people::create_child(&mut tx, &context(), &toddler)
        .await)
    .expect("child");
    assert_eq!(reason(issue(&fx, "toddler").await), "AGE_NOT_ELIGIBLE");
    let child = child(&fx, 1).await;
    issue(&fx, &child).await.expect("issued");
    let again = issue(&fx, &child).await.expect_err("once ever");
    assert_eq!(
        tonic::Status::from(again).code(),
        tonic::Code::AlreadyExists
    );
    assert_eq!(
        fx.scalar("SELECT count(*) FROM certificates.consents")
            .await,
        2,
        "each child's consent was recorded"
    );
}

#[tokio::test]
async fn rule_2_the_quota_funds_the_first_certificates_once_and_the_rest_enrol_for_free() {
    let fx = Fixture::new().await;
    period(&fx, Money::from_roubles(6_000), 2).await;
    let issued = certificates(&fx, 3).await;
    let again = credit(&fx).await;
    assert_eq!((again.funded, again.accounting), (2, 1));
    assert_eq!(
        fx.scalar("SELECT count(*) FROM certificates.ledger WHERE kind = 'CREDIT'")
            .await,
        2,
        "crediting twice credits nothing twice"
    );
    provider(&fx, "dom").await;
    programme(&fx, "dom", "paid", 10, Money::from_roubles(100)).await;
    programme(&fx, "dom", "free", 10, Money::ZERO).await;
    let accounting = &issued[2].id;
    let paid = request(&fx, accounting, "dom", "paid")
        .await
        .expect("requested");
    assert_eq!(reason(accept(&fx, &paid.id).await), "PROGRAMME_NOT_FREE");
    let free = request(&fx, accounting, "dom", "free")
        .await
        .expect("requested");
    accept(&fx, &free.id)
        .await
        .expect("free programmes take anyone");
}

#[tokio::test]
async fn rule_4_an_excluded_provider_takes_no_new_enrolments() {
    let fx = Fixture::new().await;
    period(&fx, Money::from_roubles(6_000), 10).await;
    let issued = certificates(&fx, 1).await;
    provider(&fx, "dom").await;
    programme(&fx, "dom", "chess", 10, Money::from_roubles(100)).await;
    let requested = request(&fx, &issued[0].id, "dom", "chess")
        .await
        .expect("requested");
    in_tx!(fx, |tx| programmes::set_included(
        &mut tx,
        &context(),
        "dom",
        false,
        "проверка"
    )
    .await)
    .expect("excluded");
    assert_eq!(
        reason(accept(&fx, &requested.id).await),
        "PROVIDER_EXCLUDED"
    );
    assert_eq!(
        reason(request(&fx, &issued[0].id, "dom", "chess").await),
        "PROVIDER_EXCLUDED"
    );
}

#[tokio::test]
async fn rule_6_ending_releases_the_months_not_delivered_and_offers_the_seat() {
    let fx = Fixture::new().await;
    period(&fx, Money::from_roubles(6_000), 10).await;
    let issued = certificates(&fx, 2).await;
    provider(&fx, "dom").await;
    programme(&fx, "dom", "choir", 1, Money::from_roubles(200)).await;
    let first = request(&fx, &issued[0].id, "dom", "choir")
        .await
        .expect("requested");
    accept(&fx, &first.id).await.expect("accepted");
    let second = request(&fx, &issued[1].id, "dom", "choir")
        .await
        .expect("requested");
    assert_eq!(second.state, enrolments::EnrolmentState::Waitlisted);

    // September delivered and approved, October delivered; the child leaves on 15 October.
    in_tx!(fx, |tx| enrolments::report_month(
        &mut tx,
        &context(),
        "dom",
        september(),
        std::slice::from_ref(&first.id)
    )
    .await)
    .expect("reported");
    in_tx!(fx, |tx| enrolments::approve_month(
        &mut tx,
        &context(),
        "dom",
        september()
    )
    .await)
    .expect("approved");
    in_tx!(fx, |tx| enrolments::end(
        &mut tx,
        &context(),
        &first.id,
        date(2024, 10, 15)
    )
    .await)
    .expect("ended");
    let sums = balances(&fx).await;
    let (_, credited, reserved, released, charged) = sums[0].clone();
    assert_eq!(charged, 20_000, "September");
    assert_eq!(
        reserved - released - charged,
        20_000,
        "October stays reserved until it is charged"
    );
    assert_eq!(released, 200_000, "November to August");
    assert_eq!(
        credited - charged - (reserved - released - charged),
        560_000
    );

    let offered = in_tx!(fx, |tx| enrolments::fetch(&mut tx, &second.id, false).await)
        .expect("read")
        .expect("exists");
    assert_eq!(
        offered.state,
        enrolments::EnrolmentState::Requested,
        "the seat is offered"
    );
    accept(&fx, &second.id)
        .await
        .expect("the freed seat is taken");
}

#[tokio::test]
async fn rule_7_a_month_is_reported_only_for_enrolments_running_in_it() {
    let fx = Fixture::new().await;
    period(&fx, Money::from_roubles(6_000), 10).await;
    let issued = certificates(&fx, 1).await;
    provider(&fx, "dom").await;
    programme(&fx, "dom", "chess", 10, Money::from_roubles(100)).await;
    let requested = request(&fx, &issued[0].id, "dom", "chess")
        .await
        .expect("requested");
    let refused = in_tx!(fx, |tx| enrolments::report_month(
        &mut tx,
        &context(),
        "dom",
        september(),
        std::slice::from_ref(&requested.id)
    )
    .await);
    assert_eq!(reason(refused), "ENROLMENT_NOT_RUNNING");
}
