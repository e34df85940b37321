//! Makes creating calls safe to retry (AIP-155). A call with a `request_id` claims the key
//! `(caller, method, request_id)` inside its own transaction before changing anything:
//!
//! - the first call inserts the key, does its work and stores its response, all in one
//!   transaction; if it fails, the key vanishes with the rest and a retry starts afresh;
//! - a concurrent repeat blocks on the key's row until the first commits, then reads the
//!   stored response instead of doing the work again;
//! - a repeat with a different request under the same id is refused.
//!
//! Requests are compared by a SHA-256 of their protobuf encoding; the generated code orders
//! map entries (prost `btree_map`), so equal requests encode equally.

use std::time::Duration;

use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool, Row};

use crate::context::CallContext;
use crate::error::{ApiError, reason};

/// How long keys are kept: a retry later than this creates anew.
pub const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The key of one idempotent call.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    caller: String,
    method: &'static str,
    request_id: String,
    request_hash: Vec<u8>,
}

impl IdempotencyKey {
    /// The key for `request` when its `request_id` is set; `None` when it is empty (the call
    /// is then not deduplicated). `INVALID_ARGUMENT` for an unusable id.
    pub fn for_request<M: prost::Message>(
        context: &CallContext,
        method: &'static str,
        request_id: &str,
        request: &M,
    ) -> Result<Option<Self>, ApiError> {
        if request_id.is_empty() {
            return Ok(None);
        }
        if request_id.len() > 128 || !request_id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::invalid_field(
                reason::INVALID_FIELDS,
                "request_id",
                "must be at most 128 printable ASCII characters; a UUID is recommended",
            ));
        }
        let caller = context
            .caller_if_any()
            .map(|c| c.subject().to_string())
            .unwrap_or_default();
        Ok(Some(IdempotencyKey {
            caller,
            method,
            request_id: request_id.to_string(),
            request_hash: Sha256::digest(request.encode_to_vec()).to_vec(),
        }))
    }
}

/// What claiming a key found.
#[derive(Debug)]
pub enum Claim<R> {
    /// The key is new: do the work, then [`complete`].
    New,
    /// The same request was done before: return this response and change nothing.
    Replay(R),
}

/// Claims `key` in the transaction `conn` belongs to. Must come before the work it guards.
pub async fn claim<R: prost::Message + Default>(
    conn: &mut PgConnection,
    key: &IdempotencyKey,
    now: Timestamp,
) -> Result<Claim<R>, ApiError> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (caller, method, request_id, request_hash, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING",
    )
    .bind(&key.caller)
    .bind(key.method)
    .bind(&key.request_id)
    .bind(&key.request_hash)
    .bind(now.to_sqlx())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::New);
    }
    // The conflicting row has committed (ON CONFLICT waited for it): read what it stored.
    match read_stored(conn, key).await? {
        Some(response) => Ok(Claim::Replay(response)),
        None => Err(ApiError::internal(&std::io::Error::other(
            "idempotency key conflicted but cannot be read",
        ))),
    }
}

/// The response stored under `key`, if a committed call stored one; `REQUEST_ID_REUSED` when
/// the key was used for a different request.
async fn read_stored<R: prost::Message + Default>(
    conn: &mut PgConnection,
    key: &IdempotencyKey,
) -> Result<Option<R>, ApiError> {
    let row = sqlx::query(
        "SELECT request_hash, response FROM idempotency_keys
         WHERE caller = $1 AND method = $2 AND request_id = $3",
    )
    .bind(&key.caller)
    .bind(key.method)
    .bind(&key.request_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let seen = SeenKey {
        request_hash: row.try_get("request_hash")?,
        response: row.try_get("response")?,
    };
    seen.replay(key).map(Some)
}

/// A key's row as a statement read it: what the first request under the key stored.
#[derive(Debug, Clone)]
pub struct SeenKey {
    /// The SHA-256 of the request that stored the key.
    pub request_hash: Vec<u8>,
    /// Its encoded response (`None` only while a [`claim`]ed key's work is in progress).
    pub response: Option<Vec<u8>>,
}

impl SeenKey {
    /// The key's row from the columns a statement read with a `LEFT JOIN` on it (both
    /// `None` when it had no row).
    pub fn from_columns(request_hash: Option<Vec<u8>>, response: Option<Vec<u8>>) -> Option<Self> {
        request_hash.map(|request_hash| SeenKey {
            request_hash,
            response,
        })
    }

    /// The stored response for a repeat of `key`; `REQUEST_ID_REUSED` when the key was used
    /// for a different request.
    fn replay<R: prost::Message + Default>(self, key: &IdempotencyKey) -> Result<R, ApiError> {
        if self.request_hash != key.request_hash {
            return Err(reused());
        }
        let bytes = self.response.ok_or_else(|| {
            ApiError::internal(&std::io::Error::other(
                "idempotency key committed without a response",
            ))
        })?;
        R::decode(bytes.as_slice()).map_err(|e| ApiError::internal(&e))
    }
}

/// The refusal of a `request_id` already used for a different request.
pub fn reused() -> ApiError {
    ApiError::invalid_field(
        reason::REQUEST_ID_REUSED,
        "request_id",
        "was already used for a different request; choose a new request_id",
    )
}

/// Stores the response of a call that claimed `key`, in the same transaction as its work.
pub async fn complete<R: prost::Message>(
    conn: &mut PgConnection,
    key: &IdempotencyKey,
    response: &R,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE idempotency_keys SET response = $4
         WHERE caller = $1 AND method = $2 AND request_id = $3",
    )
    .bind(&key.caller)
    .bind(key.method)
    .bind(&key.request_id)
    .bind(response.encode_to_vec())
    .execute(conn)
    .await?;
    Ok(())
}

/// Claims the optional key of a call: `Some(response)` when the same request was done
/// before (return it and change nothing), `None` when the work is to be done.
pub async fn replay<R: prost::Message + Default>(
    conn: &mut PgConnection,
    key: Option<&IdempotencyKey>,
    now: Timestamp,
) -> Result<Option<R>, ApiError> {
    match key {
        None => Ok(None),
        Some(key) => match claim::<R>(conn, key, now).await? {
            Claim::New => Ok(None),
            Claim::Replay(response) => Ok(Some(response)),
        },
    }
}

/// Stores the response under the optional key of a call, in the transaction of its work.
pub async fn remember<R: prost::Message>(
    conn: &mut PgConnection,
    key: Option<&IdempotencyKey>,
    response: &R,
) -> Result<(), ApiError> {
    match key {
        None => Ok(()),
        Some(key) => complete(conn, key, response).await,
    }
}

/// Runs a creating or money-moving use case once per key, in the transaction `conn` is in:
/// a repeat returns the first response and does nothing; otherwise `work` runs and its
/// response is stored with it. The caller commits.
pub async fn once<R, W>(
    conn: &mut PgConnection,
    key: Option<&IdempotencyKey>,
    now: Timestamp,
    work: W,
) -> Result<R, ApiError>
where
    R: prost::Message + Default,
    W: AsyncFnOnce(&mut PgConnection) -> Result<R, ApiError>,
{
    if let Some(done) = replay(conn, key, now).await? {
        return Ok(done);
    }
    let response = work(conn).await?;
    remember(conn, key, &response).await?;
    Ok(response)
}

/// Lock-first idempotency, for a hot use case whose work begins by locking the one row that
/// every repeat of the request locks too (the request names it, and the key's hash covers the
/// request): `Some(response)` when the same request was done before (return it and change
/// nothing), `None` when the work is to be done. The work then stores its response with
/// [`KeyRecord`] in its own write statement.
///
/// It saves [`once`]'s two writes of the key (claimed, then answered) and its round trips:
/// repeats of one request are serialised by the row lock; a different request under the same
/// id holds another lock and is caught when the key's insert conflicts (see [`KeyRecord`]).
/// The key's row is read by the locking statement itself (`seen`, `None` when there was
/// none), with
///
/// ```sql
/// (SELECT k.request_hash FROM idempotency_keys k
///  WHERE k.caller = $caller AND k.method = $method AND k.request_id = $request_id)
/// ```
///
/// and the same for `response` (bound with [`lookup_columns`]), or a `LEFT JOIN` of the key. That statement's snapshot was taken before it waited for
/// its locks, so a repeat that committed while it waited is missing from `seen`, though the
/// rows it locked show the repeat's work. The use case therefore says whether what it holds
/// is `already_done` (the state a completed repeat leaves, such as an enrolment already
/// accepted), and only then is the key read again, in a statement of its own whose snapshot
/// follows the locks. Work not yet done cannot have been done by a repeat, so the first call
/// of a request reads its key once, inside the locking statement.
pub async fn stored_beside_lock<R: prost::Message + Default>(
    conn: &mut PgConnection,
    key: Option<&IdempotencyKey>,
    seen: Option<SeenKey>,
    already_done: bool,
) -> Result<Option<R>, ApiError> {
    let Some(key) = key else {
        return Ok(None);
    };
    match seen {
        Some(seen) => seen.replay(key).map(Some),
        None if already_done => read_stored(conn, key).await,
        None => Ok(None),
    }
}

/// The columns a locking statement binds to read the optional `key`'s row beside its locks
/// (see [`stored_beside_lock`]): caller, method and request id, all `None` without a key,
/// so that the join finds nothing.
pub fn lookup_columns(key: Option<&IdempotencyKey>) -> (Option<&str>, Option<&str>, Option<&str>) {
    match key {
        None => (None, None, None),
        Some(key) => (
            Some(key.caller.as_str()),
            Some(key.method),
            Some(key.request_id.as_str()),
        ),
    }
}

/// The row a lock-first use case (see [`stored_beside_lock`]) inserts for its key, with its response, in
/// the statement that writes its work:
///
/// ```sql
/// key AS (INSERT INTO idempotency_keys (caller, method, request_id, request_hash, response, created_at)
///         SELECT $caller, $method, $request_id, $request_hash, $response, $now
///         WHERE $caller::text IS NOT NULL
///         ON CONFLICT DO NOTHING RETURNING 1)
/// ```
///
/// and the statement returns `(SELECT count(*) FROM key)`: when a key was given and nothing
/// was inserted, another request took the id first, and the call answers [`reused`] (its
/// transaction rolls back).
#[derive(Debug, Clone, Default)]
pub struct KeyRecord {
    /// The caller's subject, `None` when the call has no key.
    pub caller: Option<String>,
    /// The method.
    pub method: Option<&'static str>,
    /// The caller's request id.
    pub request_id: Option<String>,
    /// The SHA-256 of the request.
    pub request_hash: Option<Vec<u8>>,
    /// The encoded response.
    pub response: Option<Vec<u8>>,
}

impl KeyRecord {
    /// The record of `response` under the optional `key`; all `None` without a key.
    pub fn of<R: prost::Message>(key: Option<&IdempotencyKey>, response: &R) -> Self {
        match key {
            None => KeyRecord::default(),
            Some(key) => KeyRecord {
                caller: Some(key.caller.clone()),
                method: Some(key.method),
                request_id: Some(key.request_id.clone()),
                request_hash: Some(key.request_hash.clone()),
                response: Some(response.encode_to_vec()),
            },
        }
    }

    /// Stores this record in a statement of its own, for a lock-first use case that ends
    /// without its write statement (the work was already done by another request): the
    /// key then answers repeats with this response like any other.
    pub async fn store(&self, conn: &mut PgConnection, now: Timestamp) -> Result<(), ApiError> {
        if self.caller.is_none() {
            return Ok(());
        }
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys
                 (caller, method, request_id, request_hash, response, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT DO NOTHING",
        )
        .bind(&self.caller)
        .bind(self.method)
        .bind(&self.request_id)
        .bind(&self.request_hash)
        .bind(&self.response)
        .bind(now.to_sqlx())
        .execute(conn)
        .await?
        .rows_affected();
        self.check_inserted(i64::try_from(inserted).unwrap_or(i64::MAX))
    }

    /// Checks the count of rows the write statement's `key` inserted.
    pub fn check_inserted(&self, inserted: i64) -> Result<(), ApiError> {
        if self.caller.is_some() && inserted == 0 {
            return Err(reused());
        }
        Ok(())
    }
}

/// Deletes keys older than [`RETENTION`] every hour, for as long as the process runs.
pub fn spawn_expiry(pool: PgPool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(3600));
        loop {
            ticker.tick().await;
            let cutoff = Timestamp::now() - RETENTION;
            match sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                .bind(cutoff.to_sqlx())
                .execute(&pool)
                .await
            {
                Ok(done) if done.rows_affected() > 0 => {
                    tracing::info!(deleted = done.rows_affected(), "expired idempotency keys")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not expire idempotency keys"),
            }
        }
    })
}
