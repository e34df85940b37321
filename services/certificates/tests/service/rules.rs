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

/// Rule 1's key: the migration's `certificates.identity_document_key`, which the stored
/// key, the unique index and GetChildRecords use, is the suite's
/// `edu_kit::names::identity_document_key`, for spellings of documents (Cyrillic and Latin
/// look-alikes, dashes, `№`, spaces, compatibility forms) and for every character alone of
/// the Basic Multilingual Plane and of the look-alike letters and digits beyond it.
#[tokio::test]
async fn rule_1_the_document_key_is_the_same_in_sql_and_in_rust() {
    use edu_kit::names::identity_document_key;

    let fx = Fixture::new().await;
    let demo = [
        "I-ТО 100001",
        "I-ТО 100002",
        "I-ТО 100003",
        "I-ТО 100004",
        "I-ТО 100005",
        "I-ТО 100006",
    ];
    let spellings = [
        "i то №100001",
        "I–TO 100001",
        "І-ТО  100 001",
        "i.to.100001",
        "I—ТО\u{a0}100001",
        "I\u{2011}TO\u{2009}100001",
        "Ⅰ-ТО 100001",
        "Ⅱ-ТО 100001",
        "Ｉ－ＴＯ　１００００１",
        "I-ТО\t100001\n",
        "№ 123",
        "No 123",
        "Nо 123",
        "АВЕКМНОРСТХУІ авекмнорстхуі",
        "ёЁ ѓ ї ў",
        "Й И\u{306}",
        "45 07 123456",
        "880101300123",
        "𝟏𝟐𝟑 ① ½ Ⅻ ﬁ",
        "ß ǅ é ә",
        "1\u{2212}2",
        " № . - ",
        "",
    ];
    let sent: Vec<String> = demo
        .iter()
        .chain(spellings.iter())
        .map(|s| s.to_string())
        .collect();
    let keys: Vec<String> = sqlx::query_scalar(
        "SELECT certificates.identity_document_key(d)
         FROM unnest($1::text[]) WITH ORDINALITY AS t(d, n) ORDER BY n",
    )
    .bind(&sent)
    .fetch_all(fx.db.pool())
    .await
    .expect("keys");
    for (document, key) in sent.iter().zip(&keys) {
        assert_eq!(key, &identity_document_key(document), "{document:?}");
    }
    assert_eq!(identity_document_key("i то №100001"), "ITO100001");
    assert_eq!(identity_document_key("Ⅱ-ТО 100001"), "IITO100001");

    let every: Vec<(i32, String)> = sqlx::query_as(
        "SELECT n, certificates.identity_document_key(chr(n))
         FROM generate_series(1, 131071) AS n
         WHERE n < 55296 OR n BETWEEN 57344 AND 65535
            OR n BETWEEN 119808 AND 120831 OR n BETWEEN 127232 AND 127487",
    )
    .fetch_all(fx.db.pool())
    .await
    .expect("every character");
    assert!(every.len() > 60_000);
    // Characters Unicode assigned after the database's normalisation tables were made
    // (Postgres 15 has Unicode 14), which Rust's newer tables decompose: no document is
    // written in them. Unicode never changes the normalisation of an assigned character, so
    // a newer Postgres can only shorten this list.
    const NEWER_THAN_THE_DATABASE: [i32; 8] = [
        0x0558, 0x058B, 0x058C, 0x209D, 0x209E, 0x209F, 0xA7F1, 0x1D6A6,
    ];
    let differ: Vec<(i32, &String)> = every
        .iter()
        .filter(|(n, key)| {
            let c = char::from_u32(u32::try_from(*n).expect("positive")).expect("a character");
            *key != identity_document_key(&c.to_string())
        })
        .map(|(n, key)| (*n, key))
        .collect();
    for (n, key) in &differ {
        assert!(
            NEWER_THAN_THE_DATABASE.contains(n),
            "U+{n:04X}: SQL {key:?}, Rust {:?} ({} differ)",
            identity_document_key(
                &char::from_u32(u32::try_from(*n).expect("positive"))
                    .expect("a character")
                    .to_string()
            ),
            differ.len()
        );
        assert_eq!(
            key.chars().map(u32::from).collect::<Vec<_>>(),
            [u32::try_from(*n).expect("positive")],
            "the database leaves a character it does not know as it is"
        );
    }

    // The stored key is the function's.
    let registered = child(&fx, 7).await;
    let stored: String =
        sqlx::query_scalar("SELECT identity_document_key FROM certificates.children WHERE id = $1")
            .bind(&registered)
            .fetch_one(fx.db.pool())
            .await
            .expect("stored");
    assert_eq!(stored, identity_document_key("I-ТО 000007"));
}
