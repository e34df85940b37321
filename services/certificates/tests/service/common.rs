//! Fixtures: the demo municipality's period, children with certificates, providers and
//! programmes, and one helper per use case that runs it in its own transaction.

#![allow(dead_code)]

use edu_certificates::domain::Money;
use edu_certificates::domain::period::{Period, YearMonth};
use edu_certificates::store::Store;
use edu_certificates::store::enrolments::{self, Enrolment};
use edu_certificates::store::people::{self, Certificate, Child};
use edu_certificates::store::periods::{self, Credited, PeriodRecord};
use edu_certificates::store::programmes::{self, Programme, Provider};
use edu_certificates::{MIGRATOR, SERVICE_NAME};
use edu_kit::auth::{Caller, Claims};
use edu_kit::testing::TestDatabase;
use edu_kit::{ApiError, CallContext};
use jiff::Timestamp;
use jiff::civil::{Date, date};

pub struct Fixture {
    pub db: TestDatabase,
    pub store: Store,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let db = TestDatabase::create(SERVICE_NAME, SERVICE_NAME, &MIGRATOR).await;
        let store = Store::new(db.pool().clone());
        Fixture { db, store }
    }

    pub async fn scalar(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.db.pool())
            .await
            .expect("scalar")
    }
}

/// The operator of the Mikhailovsky district, on 1 September 2024.
pub fn context() -> CallContext {
    context_at("2024-09-01T09:00:00+07:00")
}

/// The operator of the Mikhailovsky district, at `instant` (RFC 3339).
pub fn context_at(instant: &str) -> CallContext {
    let caller = Caller::from_claims(Claims {
        sub: "operator".into(),
        name: None,
        roles: vec!["certificates.operator".into()],
        scopes: vec!["municipality:RU-ALT/mikhailovsky".into()],
    });
    let now: Timestamp = instant.parse().expect("instant");
    CallContext::new(Some(caller), "test", None, now)
}

/// Runs one use case in its own transaction, committed when it succeeds.
macro_rules! in_tx {
    ($fx:expr, |$tx:ident| $body:expr) => {{
        let mut $tx = $fx.store.begin().await.expect("begin");
        let result = $body;
        if result.is_ok() {
            $tx.commit().await.expect("commit");
        }
        result
    }};
}
pub(crate) use in_tx;

pub const FIRST_DAY: Date = date(2024, 9, 1);

/// Mikhailovsky district, school year 2024/25, with `nominal` and `quota`.
pub async fn period(fx: &Fixture, nominal: Money, quota: u32) -> PeriodRecord {
    let record = PeriodRecord {
        id: "mikhailovsky-2024".into(),
        region_code: "RU-ALT".into(),
        municipality_code: "mikhailovsky".into(),
        municipality_name: "Михайловский район".into(),
        time_zone: "Asia/Barnaul".into(),
        period: Period {
            start: FIRST_DAY,
            end: date(2025, 8, 31),
            nominal,
            quota,
            min_age: 5,
            max_age: 18,
        },
        currency: "RUB".into(),
        credit_time: None,
        create_time: context().now(),
    };
    in_tx!(fx, |tx| periods::create(&mut tx, &context(), &record).await).expect("period");
    record
}

/// A child of the district, born on 1 March 2015, with a consent; returns the child's ID.
pub async fn child(fx: &Fixture, n: usize) -> String {
    let child = Child {
        id: format!("child-{n}"),
        display_name: format!("Ребёнок {n}"),
        identity_document: format!("I-ТО {n:06}"),
        birth_date: date(2015, 3, 1),
        region_code: "RU-ALT".into(),
        municipality_code: "mikhailovsky".into(),
        parent_subject: format!("parent-{n}"),
        parent_name: format!("Родитель {n}"),
        consent_time: context().now(),
        create_time: context().now(),
    };
    in_tx!(fx, |tx| people::create_child(&mut tx, &context(), &child)
        .await)
    .expect("child");
    child.id
}

pub async fn issue(fx: &Fixture, child_id: &str) -> Result<Certificate, ApiError> {
    in_tx!(fx, |tx| people::issue(
        &mut tx,
        &context(),
        child_id,
        FIRST_DAY
    )
    .await)
}

pub async fn credit(fx: &Fixture) -> Credited {
    in_tx!(fx, |tx| periods::credit(
        &mut tx,
        &context(),
        "mikhailovsky-2024"
    )
    .await)
    .expect("credited")
    .1
}

/// `count` children with certificates, then the period credited.
pub async fn certificates(fx: &Fixture, count: usize) -> Vec<Certificate> {
    let mut issued = Vec::new();
    for n in 0..count {
        let child = child(fx, n).await;
        issued.push(issue(fx, &child).await.expect("issued"));
    }
    credit(fx).await;
    issued
}

pub async fn provider(fx: &Fixture, id: &str) {
    let provider = Provider {
        id: id.into(),
        display_name: format!("Центр {id}"),
        tax_id: format!("tax-{id}"),
        region_code: "RU-ALT".into(),
        municipality_code: "mikhailovsky".into(),
        included: true,
        exclusion_reason: String::new(),
        create_time: context().now(),
    };
    in_tx!(fx, |tx| programmes::create_provider(
        &mut tx,
        &context(),
        &provider
    )
    .await)
    .expect("provider");
}

/// A certified programme of `provider` with `seats` at `price` a month.
pub async fn programme(fx: &Fixture, provider: &str, id: &str, seats: u32, price: Money) {
    let programme = Programme {
        provider_id: provider.into(),
        id: id.into(),
        title: format!("Кружок {id}"),
        description: String::new(),
        direction: "TECHNICAL".into(),
        min_age: 5,
        max_age: 18,
        seats,
        taken: 0,
        schedule: String::new(),
        monthly_price: price,
        certified: false,
        rating_sum: 0,
        rating_count: 0,
        region_code: "RU-ALT".into(),
        municipality_code: "mikhailovsky".into(),
        create_time: context().now(),
    };
    in_tx!(fx, |tx| programmes::create_programme(
        &mut tx,
        &context(),
        &programme
    )
    .await)
    .expect("programme");
    in_tx!(fx, |tx| programmes::certify(
        &mut tx,
        &context(),
        provider,
        id
    )
    .await)
    .expect("certified");
}

pub async fn request(
    fx: &Fixture,
    certificate: &str,
    provider: &str,
    programme: &str,
) -> Result<Enrolment, ApiError> {
    in_tx!(fx, |tx| enrolments::request(
        &mut tx,
        &context(),
        certificate,
        provider,
        programme,
        FIRST_DAY
    )
    .await)
}

pub async fn accept(fx: &Fixture, enrolment: &str) -> Result<Enrolment, ApiError> {
    in_tx!(fx, |tx| enrolments::accept(&mut tx, &context(), enrolment)
        .await)
}

pub fn september() -> YearMonth {
    YearMonth {
        year: 2024,
        month: 9,
    }
}

/// The ledger sums of every certificate against what the domain derives: (available,
/// credited − charged − reserved) per certificate.
pub async fn balances(fx: &Fixture) -> Vec<(String, i64, i64, i64, i64)> {
    sqlx::query_as(
        "SELECT certificate_id,
                COALESCE(sum(amount) FILTER (WHERE kind = 'CREDIT'), 0)::bigint,
                COALESCE(sum(amount) FILTER (WHERE kind = 'RESERVE'), 0)::bigint,
                COALESCE(sum(amount) FILTER (WHERE kind = 'RELEASE'), 0)::bigint,
                COALESCE(sum(amount) FILTER (WHERE kind = 'CHARGE'), 0)::bigint
         FROM certificates.ledger GROUP BY certificate_id ORDER BY certificate_id",
    )
    .fetch_all(fx.db.pool())
    .await
    .expect("balances")
}
