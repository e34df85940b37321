//! The certificates schema through sqlx: the only room that knows SQL.
//!
//! Concurrency design. Every money-moving use case is one transaction at READ COMMITTED that
//! locks rows in one order — period, then programme, then certificate (several certificates
//! in ID order) — so that concurrent calls serialise where a rule counts, and never deadlock:
//!
//! - accepting an enrolment locks its programme `FOR UPDATE` (seats are counted and taken
//!   under it) and then its certificate `FOR UPDATE` (the balance is summed from the ledger
//!   and the reservation written under it);
//! - a month's charge is a ledger row unique on (enrolment, month), and approving a month
//!   locks the report `FOR UPDATE` first, so a second approval finds it approved;
//! - a second issue for a child meets the unique child of `certificates` (`ALREADY_EXISTS`);
//! - the balance is never stored apart from the ledger: it is summed from the entries under
//!   the certificate's lock, so the two cannot disagree.
//!
//! Use cases are functions over a transaction (`&mut PgConnection`), so the API room can
//! claim an idempotency key in the same transaction before calling them.

pub mod enrolments;
pub mod ledger;
pub mod people;
pub mod periods;
pub mod programmes;
pub mod reports;

use sqlx::PgPool;

use edu_kit::ApiError;
use edu_kit::db::{ReadConnection, Reads, WarmTransaction};

/// The certificates database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
    reads: Reads,
}

impl Store {
    /// A store on `pool` (the service's role, confined to its schema).
    pub fn new(pool: PgPool) -> Self {
        Store {
            reads: Reads::new(pool.clone()),
            pool,
        }
    }

    /// The pool, for readiness and metrics.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A transaction for one use case, on a warm connection (the kit's `WarmTransaction`).
    pub async fn begin(&self) -> Result<WarmTransaction, ApiError> {
        Ok(self.reads.begin().await?)
    }

    /// A transaction whose statements all read one snapshot (REPEATABLE READ): for a read
    /// of several statements that must agree, such as a child's certificate, its balance and
    /// its enrolments. It may write its audit records, and commits them.
    pub async fn snapshot(&self) -> Result<WarmTransaction, ApiError> {
        Ok(self.reads.begin_snapshot().await?)
    }

    /// A connection for a read: no transaction, so no BEGIN and ROLLBACK around it (a read
    /// of several statements that must agree takes [`Store::begin`]). Call
    /// [`ReadConnection::finish`] once its last statement has answered.
    pub async fn read(&self) -> Result<ReadConnection, ApiError> {
        Ok(self.reads.acquire().await?)
    }
}

/// A stored value that the domain does not recognise: a bug or a manual edit, never a
/// caller's mistake.
fn corrupt(what: &str, value: &str) -> ApiError {
    ApiError::internal(&std::io::Error::other(format!(
        "stored {what} {value:?} is not valid"
    )))
}
