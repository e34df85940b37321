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

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use edu_kit::ApiError;

/// The competitions database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// A store on `pool` (the service's role, confined to its schema).
    pub fn new(pool: PgPool) -> Self {
        Store { pool }
    }

    /// The pool, for readiness and metrics.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Where a page of a listing ends: the ordering key of its last item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The creation time of the last item.
    pub time: Timestamp,
    /// Its ID, breaking ties between equal times.
    pub id: String,
}

impl Cursor {
    /// The cursor as query parameters: the time and the ID, both `NULL` on the first page.
    fn split(cursor: Option<Cursor>) -> (Option<jiff_sqlx::Timestamp>, Option<String>) {
        match cursor {
            Some(c) => (Some(jiff_sqlx::ToSqlx::to_sqlx(c.time)), Some(c.id)),
            None => (None, None),
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<T, C = Cursor> {
    /// The items, at most the page size.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<C>,
}

impl<T, C> Page<T, C> {
    /// A page from up to `size + 1` fetched items: the extra one only says that there is
    /// more.
    fn from_overfetch(mut items: Vec<T>, size: usize, cursor_of: impl Fn(&T) -> C) -> Self {
        let more = items.len() > size;
        items.truncate(size);
        let next = if more {
            items.last().map(cursor_of)
        } else {
            None
        };
        Page { items, next }
    }
}

pub(crate) use edu_kit::db::is_unique_violation;
pub(crate) use edu_kit::idempotency::{remember, replay};

/// A stored value that the domain does not recognise: a bug or a manual edit, never a
/// caller's mistake.
fn corrupt(what: &str, value: &str) -> ApiError {
    ApiError::internal(&std::io::Error::other(format!(
        "stored {what} {value:?} is not valid"
    )))
}
