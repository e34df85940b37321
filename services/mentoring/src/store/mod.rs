//! The mentoring schema through sqlx: the only room that knows SQL. Each use case is a
//! function over one transaction (`&mut PgConnection`); the rules are the domain's, run
//! here on what the store found under the locks that make them hold for concurrent callers.
//!
//! Concurrency design. Lock order is always **participants first** (row locks in ID
//! order), **then pairs** (in ID order), then a pair's agreement, then the receipt serial
//! of the institution; no use case takes a lock of an earlier kind after one of a later
//! kind, so no two can deadlock.
//! - Revoking a consent to PERSONAL_DATA locks the person `FOR UPDATE`, then their consent,
//!   then their open pairs, and suspends the ACTIVE ones in the same transaction.
//! - Activating a pair locks every member `FOR SHARE` (in ID order), then the pair, and
//!   only then reads the members' consents, the agreement and the order. `FOR SHARE`
//!   conflicts with the revocation's `FOR UPDATE`, so the two never interleave: an activation
//!   that wins commits ACTIVE before the revocation reads the person's pairs (and is then
//!   suspended by it); one that loses waits, and its next statement (READ COMMITTED: a new
//!   snapshot) sees the consent revoked and answers `CONSENT_MISSING`.
//! - Forming a pair locks each mentee `FOR UPDATE` and the mentor `FOR SHARE` (in ID
//!   order) before it looks for the mentees' open pairs, so of two pairs claiming one mentee
//!   the second waits and then finds the first (`MENTEE_ALREADY_PAIRED`). The partial unique
//!   index `pair_members_one_open_pair_per_mentee` holds the same rule in the database.
//! - Changing a participant (data, role, bank entries, training) or giving a consent locks
//!   the participant `FOR UPDATE`; changes to a pair (order, completion, cancellation) and
//!   to its agreement lock the pair `FOR UPDATE` first.
//! - The pair's work (plan activities, meetings, petitions) locks the pair `FOR UPDATE`
//!   before the sub-resource, so completion counts the plan under the same lock; a
//!   petition's decision locks the new mentor `FOR SHARE` first (participants first), then
//!   the pair, then the petition: of two decisions at once the second finds it decided.
//! - Monitoring: opening a round locks the ACTIVE pairs' members `FOR SHARE`; answering
//!   locks the respondent `FOR SHARE`, then the round `FOR SHARE`; submitting locks the
//!   round `FOR UPDATE`. A revocation withdraws the person's open questionnaires and flags
//!   the publications featuring them in its own transaction, under the person's lock.
//! - The periods a pair was ACTIVE or SUSPENDED (`pair_periods`, which the yearly report
//!   counts) are kept by a trigger on the pair's state, in the transaction of the change.
//!
//! Personal data. A person is read in one place only, [`participants::fetch`], which shows
//! a person whose consent to PERSONAL_DATA is not in force as the domain's redacted view;
//! every read that returns people (participants, consents, pairs, agreements) goes through
//! it.

pub mod agreements;
pub mod callers;
pub mod consents;
pub mod events;
pub mod institutions;
pub mod monitoring;
pub mod pairs;
pub mod participants;
pub mod petitions;
pub mod plans;
pub mod publications;
pub mod reports;
pub mod road_map;
pub mod summary;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use sqlx::PgPool;

use edu_kit::ApiError;
use edu_kit::db::{ReadConnection, Reads, WarmTransaction};

/// The mentoring database.
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

/// Whose resources a listing covers: one institution's, or, with the parent
/// `institutions/-` of the regional centre, those of every institution of a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// One institution, by ID (`NOT_FOUND` when missing).
    Institution(&'a str),
    /// Every institution of a region, by its code (`RU-SAR`).
    Region(&'a str),
}

impl<'a> Scope<'a> {
    /// The query parameters, the institution or the region, after checking that the
    /// institution exists (`NOT_FOUND`); a region without institutions lists nothing.
    pub(crate) async fn parameters(
        self,
        conn: &mut sqlx::PgConnection,
    ) -> Result<(Option<&'a str>, Option<&'a str>), ApiError> {
        match self {
            Scope::Institution(id) => {
                institutions::get(conn, id).await?;
                Ok((Some(id), None))
            }
            Scope::Region(code) => Ok((None, Some(code))),
        }
    }
}

/// A stored value that the domain does not recognise: a bug or a manual edit, never a
/// caller's mistake.
pub(crate) fn corrupt(what: &str, value: &str) -> ApiError {
    ApiError::internal(&std::io::Error::other(format!(
        "stored {what} {value:?} is not valid"
    )))
}

/// A stored enum value through its domain parser.
pub(crate) fn parsed<T>(
    what: &str,
    raw: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, ApiError> {
    parse(raw).ok_or_else(|| corrupt(what, raw))
}

/// The day `now` falls on in the zone named `zone`.
pub(crate) fn day_in(zone: &str, now: Timestamp) -> Result<Date, ApiError> {
    let zone = TimeZone::get(zone).map_err(|_| corrupt("time zone", zone))?;
    Ok(now.to_zoned(zone).date())
}

/// `institutions/{institution}`.
pub fn institution_name(institution: &str) -> String {
    format!("institutions/{institution}")
}

/// `institutions/{institution}/participants/{id}`.
pub fn participant_name(institution: &str, id: &str) -> String {
    format!("institutions/{institution}/participants/{id}")
}

/// `institutions/{institution}/participants/{participant}/consents/{id}`.
pub fn consent_name(institution: &str, participant: &str, id: &str) -> String {
    format!("institutions/{institution}/participants/{participant}/consents/{id}")
}

/// `institutions/{institution}/pairs/{id}`.
pub fn pair_name(institution: &str, id: &str) -> String {
    format!("institutions/{institution}/pairs/{id}")
}

/// `institutions/{institution}/pairs/{pair}/agreements/{id}`.
pub fn agreement_name(institution: &str, pair: &str, id: &str) -> String {
    format!("institutions/{institution}/pairs/{pair}/agreements/{id}")
}

/// IDs sorted and without repeats: the order rows are locked in.
pub(crate) fn lock_order(ids: &[&str]) -> Vec<String> {
    let mut sorted: Vec<String> = ids.iter().map(|id| (*id).to_string()).collect();
    sorted.sort();
    sorted.dedup();
    sorted
}
