//! The competitions schema through sqlx: the only room that knows SQL. Queries are checked
//! at compile time against the migrations (offline data in `.sqlx/`). Each use case runs in
//! one transaction that takes its locks in one order — contest, then team, then application
//! — so that concurrent calls serialise where a rule counts or checks state, and never
//! deadlock:
//!
//! - drafting, changing, submitting or withdrawing an application holds its contest `FOR
//!   SHARE`, so the contest cannot close or be cancelled halfway through;
//! - drafting an application, or moving it to another nomination, holds its team `FOR
//!   UPDATE`, so two drafts of one team cannot both pass the per-nomination limit;
//! - every change writes its audit record, and a creating call its idempotency key, in the
//!   same transaction.

pub mod applications;
pub mod catalogue;
pub mod contests;
pub mod events;
pub mod experts;
pub mod follow_ups;
pub mod results;
pub mod reviews;
pub mod teams;

use sqlx::PgPool;

use edu_kit::ApiError;
use edu_kit::db::{ReadConnection, Reads, WarmTransaction};

/// The competitions database.
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

    /// A connection for a read, without a transaction; [`ReadConnection::finish`] once its
    /// last statement has answered.
    async fn read(&self) -> Result<ReadConnection, ApiError> {
        Ok(self.reads.acquire().await?)
    }

    /// A transaction for one use case, on a warm connection (the kit's `WarmTransaction`).
    async fn begin(&self) -> Result<WarmTransaction, ApiError> {
        Ok(self.reads.begin().await?)
    }
}

pub use edu_kit::paging::{Cursor, Page};

pub(crate) use edu_kit::idempotency::{remember, replay};

/// A stored value that the domain does not recognise: a bug or a manual edit, never a
/// caller's mistake.
fn corrupt(what: &str, value: &str) -> ApiError {
    ApiError::internal(&std::io::Error::other(format!(
        "stored {what} {value:?} is not valid"
    )))
}
