//! The partnerships schema through sqlx: the only room that knows SQL.
//!
//! Concurrency design. A signature is where the rules count, so every signature of a year
//! runs under that year's row lock: signing locks the contract `FOR UPDATE`, then the year
//! `FOR UPDATE`, and only then reads both schools' signed contracts and the year's counts
//! of contracted schools, checks the pairing limits (rules 2, 3) and the caps (rule 6),
//! and writes the signature, the partner slots, the counts and, with the third contract,
//! the group (rule 5) before it commits. Concurrent signatures in a year therefore
//! happen one after another, each seeing every earlier one, so no cap is exceeded and no
//! school gains a second partner of a kind, whatever their number; signatures of different
//! years do not wait for each other. Behind the lock the database holds the same rules on
//! its own: a CHECK keeps each count at or below its cap, and `partner_slots` is keyed by
//! (year, school, slot), so a second partner of a kind cannot be written even by a bug.
//!
//! Proposals check the same limits without the lock, as an early answer: a proposal that
//! passes may still be refused at its signature, which decides. Withdrawals lock the
//! contract. Other changes lock the row they change (a mobility, a forum, a group), and a
//! year's parameters change under its lock and only before its window opens.
//!
//! Use cases are functions over a transaction (`&mut PgConnection`), so the API room can
//! claim an idempotency key in the same transaction before calling them.

pub mod applications;
pub mod contracts;
pub mod events;
pub mod forums;
pub mod groups;
pub mod progress;
pub mod schools;
pub mod years;

use sqlx::PgPool;

use edu_kit::ApiError;
use edu_kit::db::{ReadConnection, Reads, WarmTransaction};

/// Whose objects a caller sees: everything (the ministry), or what concerns the given
/// regions (as their office) and schools (as themselves).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visibility {
    /// Everything.
    pub all: bool,
    /// Regions, `BG-xx`.
    pub regions: Vec<String>,
    /// School IDs.
    pub schools: Vec<String>,
}

/// The partnerships database.
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
fn corrupt(what: &str, value: &str) -> ApiError {
    ApiError::internal(&std::io::Error::other(format!(
        "stored {what} {value:?} is not valid"
    )))
}
