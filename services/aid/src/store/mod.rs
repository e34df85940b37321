//! The aid schema through sqlx: the only room that knows SQL.
//!
//! Concurrency design. Every change locks the rows whose totals it checks before it reads
//! them: allocating from a donation locks the donation, then the need, so concurrent
//! allocations of one donation happen one after another and each sees the sum of the
//! earlier ones — a donation is never allocated beyond its value, a need never committed
//! beyond its limit; CHECK constraints on the stored sums hold the same rules in the
//! database. Listing a child with an IIN relies on the unique index of (campaign, IIN): of
//! two concurrent listings one inserts and the other finds the child already listed.
//! Other changes lock the row they change (a campaign, a child, an appeal) and check its
//! `version` against the caller's etag.
//!
//! Use cases are functions over a transaction (`&mut PgConnection`), so the API room can
//! claim an idempotency key in the same transaction before calling them.

pub mod appeals;
pub mod attendance;
pub mod campaigns;
pub mod children;
pub mod donations;
pub mod events;
pub mod headquarters;
pub mod imports;
pub mod needs;
pub mod prices;
pub mod reports;
pub mod schools;

use sqlx::PgPool;

use edu_kit::ApiError;
use edu_kit::db::{ReadConnection, Reads, WarmTransaction};

/// Whose objects a caller sees: everything of the given kind, or what concerns the given
/// regions and schools.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visibility {
    /// Every region.
    pub all: bool,
    /// Regions, `KZ-xx`.
    pub regions: Vec<String>,
    /// School IDs.
    pub schools: Vec<String>,
}

/// The aid database.
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

    /// The pool, for readiness, metrics and the event feed.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A transaction for one use case, on a warm connection (the kit's `WarmTransaction`).
    pub async fn begin(&self) -> Result<WarmTransaction, ApiError> {
        Ok(self.reads.begin().await?)
    }

    /// A connection for a read, without a transaction; [`ReadConnection::finish`] once its
    /// last statement has answered.
    pub async fn read(&self) -> Result<ReadConnection, ApiError> {
        Ok(self.reads.acquire().await?)
    }
}

/// A stored value that the domain does not recognise: a bug or a manual edit, never a
/// caller's mistake.
pub(crate) fn corrupt(what: &str, value: &str) -> ApiError {
    ApiError::internal(&std::io::Error::other(format!(
        "stored {what} {value:?} is not valid"
    )))
}
