//! The hash chain that makes a service's audit trail tamper-evident.
//!
//! # How records are sealed
//!
//! A record is inserted *unsealed* (`chain_seq`, `prev_hash` and `hash` NULL), exactly as a
//! change or a read writes it, so writing one takes no lock and waits for nothing. A
//! background task of every service process, the *sealer* ([`spawn_sealer`]), wakes every
//! `EDU_AUDIT_SEAL_INTERVAL_MS` (1000 by default) and seals what has committed since, in
//! batches of [`SEAL_BATCH`], in record ID order. For each record it sets
//!
//! - `chain_seq` = the last sealed record's `chain_seq` + 1 (1 for the first);
//! - `prev_hash` = the last sealed record's `hash` (32 zero bytes for the first);
//! - `hash` = SHA-256(`prev_hash` ‖ the record's canonical encoding, below).
//!
//! One sealer at a time per schema: each batch is a transaction that first takes
//! `pg_try_advisory_xact_lock(1162106177, hashtext(current_schema()))`, and a process that
//! does not get it leaves the work to the one that has it. A record that commits late (its
//! transaction ran long) is invisible to the sealer until it commits and is simply sealed
//! then, after records written later: the chain's order is the order of sealing, not of
//! writing.
//!
//! The window: a record can be altered or removed without trace only **before it is
//! sealed**, that is within about one seal interval of its commit (longer while no sealer
//! runs). Once sealed, editing it breaks its hash, deleting it breaks the numbering or the
//! next record's link, and moving it breaks the links around it. Records removed from the
//! *end* of the chain leave no break behind: an inspector notes the last `chain_seq` and
//! `hash` of a verification and checks later that the chain still reaches them, and a
//! sealer that finds the chain's end moved back logs an error.
//!
//! # The canonical encoding
//!
//! The bytes hashed after `prev_hash` are the record's columns other than the chain's, in
//! this order:
//!
//! | column        | encoding                                                        |
//! |---------------|-----------------------------------------------------------------|
//! | `id`          | 8-byte big-endian two's complement                              |
//! | `occurred_at` | microseconds since 1970-01-01T00:00:00Z, 8-byte big-endian      |
//! | `actor`       | text                                                            |
//! | `action`      | text                                                            |
//! | `resource`    | text                                                            |
//! | `request_id`  | text                                                            |
//! | `trace_id`    | one byte 0x00 when NULL; else 0x01 followed by it as text       |
//! | `changes`     | text of `changes::text` (Postgres's own printing of the `jsonb`) |
//! | `kind`        | text (`CHANGE` or `READ`)                                       |
//! | `purpose`     | text                                                            |
//! | `rpc`         | text                                                            |
//!
//! where *text* is a 4-byte big-endian length in bytes followed by the UTF-8 bytes.
//! Postgres prints a `jsonb` value the same way however it was written (keys ordered, one
//! space after `,` and `:`), and a dump restores it to the same value, so the encoding can be
//! rebuilt from a restored dump with
//!
//! ```sql
//! SELECT chain_seq, id, (extract(epoch FROM occurred_at) * 1000000)::bigint AS micros,
//!        actor, action, resource, request_id, trace_id, changes::text, kind, purpose, rpc,
//!        prev_hash, hash
//! FROM <service>.audit_log WHERE chain_seq IS NOT NULL ORDER BY chain_seq;
//! ```
//!
//! # Verification
//!
//! [`verify`] walks the sealed records in `chain_seq` order (one snapshot) and reports the
//! first record whose link does not hold: its content does not hash to its `hash`
//! ([`BreakKind::Edited`]); its `chain_seq` skips a number, or its `prev_hash` is the hash of
//! no record any more ([`BreakKind::Missing`]: the record before it was deleted, or rewritten
//! together with its hash); its `prev_hash` is the hash of a record that is elsewhere in the
//! chain ([`BreakKind::Reordered`]). Every service binary runs it as `<service>
//! audit-verify` against any database (a restored dump), and serves it as
//! `AuditService.VerifyAuditChain`.

use std::time::Duration;

use futures::TryStreamExt;
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgRow;
use sqlx::{Connection, PgConnection, PgPool, Row};

/// The `prev_hash` of the first record of a chain.
pub const GENESIS: [u8; 32] = [0; 32];

/// Records sealed per transaction.
pub const SEAL_BATCH: i64 = 1000;

/// The first key of the sealer's advisory lock ("EDUA"); the second is the schema's
/// `hashtext`, so that the services' sealers in one database never wait for each other.
pub const LOCK_CLASS: i32 = 0x4544_5541;

/// The columns a record's hash covers, as the canonical encoding reads them.
const CONTENT_COLUMNS: &str = "id, occurred_at, actor, action, resource, request_id, trace_id, \
                               changes::text AS changes, kind, purpose, rpc";

/// What a record's hash covers: every column but the chain's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// `id`.
    pub id: i64,
    /// `occurred_at`, in microseconds since the Unix epoch.
    pub occurred_at_micros: i64,
    /// `actor`.
    pub actor: String,
    /// `action`.
    pub action: String,
    /// `resource`.
    pub resource: String,
    /// `request_id`.
    pub request_id: String,
    /// `trace_id`.
    pub trace_id: Option<String>,
    /// `changes::text`.
    pub changes: String,
    /// `kind`.
    pub kind: String,
    /// `purpose`.
    pub purpose: String,
    /// `rpc`.
    pub rpc: String,
}

impl Content {
    /// The canonical encoding (see the module doc).
    pub fn encode(&self) -> Vec<u8> {
        fn text(out: &mut Vec<u8>, value: &str) {
            // Postgres text is at most 1 GB, well within a u32.
            let length = u32::try_from(value.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&length.to_be_bytes());
            out.extend_from_slice(value.as_bytes());
        }
        let mut out = Vec::with_capacity(
            64 + self.actor.len()
                + self.action.len()
                + self.resource.len()
                + self.request_id.len()
                + self.changes.len()
                + self.purpose.len()
                + self.rpc.len(),
        );
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&self.occurred_at_micros.to_be_bytes());
        text(&mut out, &self.actor);
        text(&mut out, &self.action);
        text(&mut out, &self.resource);
        text(&mut out, &self.request_id);
        match &self.trace_id {
            None => out.push(0),
            Some(trace_id) => {
                out.push(1);
                text(&mut out, trace_id);
            }
        }
        text(&mut out, &self.changes);
        text(&mut out, &self.kind);
        text(&mut out, &self.purpose);
        text(&mut out, &self.rpc);
        out
    }

    /// The record's hash when chained after a record whose hash is `prev_hash`.
    pub fn hash(&self, prev_hash: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(prev_hash);
        hasher.update(self.encode());
        hasher.finalize().into()
    }

    /// The content of a row that selected [`CONTENT_COLUMNS`].
    pub(crate) fn of(row: &PgRow) -> Result<Content, sqlx::Error> {
        let occurred_at: jiff_sqlx::Timestamp = row.try_get("occurred_at")?;
        Ok(Content {
            id: row.try_get("id")?,
            occurred_at_micros: micros(occurred_at.to_jiff()),
            actor: row.try_get("actor")?,
            action: row.try_get("action")?,
            resource: row.try_get("resource")?,
            request_id: row.try_get("request_id")?,
            trace_id: row.try_get("trace_id")?,
            changes: row.try_get("changes")?,
            kind: row.try_get("kind")?,
            purpose: row.try_get("purpose")?,
            rpc: row.try_get("rpc")?,
        })
    }
}

/// An instant in whole microseconds since the Unix epoch (Postgres keeps no finer).
fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// The last sealed record: its place and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Its `chain_seq`.
    pub chain_seq: i64,
    /// Its `hash`.
    pub hash: Vec<u8>,
}

async fn head(conn: &mut PgConnection) -> Result<Option<Head>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT chain_seq, hash FROM audit_log
         WHERE chain_seq IS NOT NULL ORDER BY chain_seq DESC LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| {
        Ok(Head {
            chain_seq: row.try_get("chain_seq")?,
            hash: row
                .try_get::<Option<Vec<u8>>, _>("hash")?
                .unwrap_or_default(),
        })
    })
    .transpose()
}

/// Seals the records of one schema (the one `pool`'s connections are confined to). Keeps
/// the last head it saw, so that it notices the chain's end moving back (records cut from
/// the end, which no verification can see) and says so in the log.
#[derive(Debug)]
pub struct Sealer {
    pool: PgPool,
    seen: Option<Head>,
}

impl Sealer {
    /// A sealer of the schema `pool` reaches.
    pub fn new(pool: PgPool) -> Self {
        Sealer { pool, seen: None }
    }

    /// Seals every record committed and not yet sealed, batch by batch: the number sealed,
    /// or `None` when another sealer holds the schema's lock (it seals them instead).
    pub async fn seal_pending(&mut self) -> Result<Option<u64>, sqlx::Error> {
        let mut total = 0u64;
        loop {
            match self.seal_batch().await? {
                None if total == 0 => return Ok(None),
                None => return Ok(Some(total)),
                Some(sealed) => {
                    total += sealed;
                    if sealed < SEAL_BATCH.unsigned_abs() {
                        return Ok(Some(total));
                    }
                }
            }
        }
    }

    /// Seals up to [`SEAL_BATCH`] records in one transaction; `None` when another sealer
    /// holds the lock.
    async fn seal_batch(&mut self) -> Result<Option<u64>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let locked: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1, hashtext(current_schema()))")
                .bind(LOCK_CLASS)
                .fetch_one(&mut *tx)
                .await?;
        if !locked {
            return Ok(None);
        }
        let head = head(&mut tx).await?;
        self.check_unmoved(&mut tx, head.as_ref()).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONTENT_COLUMNS} FROM audit_log
             WHERE chain_seq IS NULL ORDER BY id LIMIT $1"
        )))
        .bind(SEAL_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            self.seen = head;
            return Ok(Some(0));
        }
        let (mut seq, mut prev) = match &head {
            Some(h) => (h.chain_seq, h.hash.clone()),
            None => (0, GENESIS.to_vec()),
        };
        let (mut ids, mut seqs, mut prevs, mut hashes) = (
            Vec::with_capacity(rows.len()),
            Vec::with_capacity(rows.len()),
            Vec::with_capacity(rows.len()),
            Vec::with_capacity(rows.len()),
        );
        for row in &rows {
            let content = Content::of(row)?;
            let hash = content.hash(&prev).to_vec();
            seq += 1;
            ids.push(content.id);
            seqs.push(seq);
            prevs.push(std::mem::replace(&mut prev, hash.clone()));
            hashes.push(hash);
        }
        sqlx::query(
            "UPDATE audit_log a
             SET chain_seq = s.chain_seq, prev_hash = s.prev_hash, hash = s.hash
             FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[])
                  AS s(id, chain_seq, prev_hash, hash)
             WHERE a.id = s.id AND a.chain_seq IS NULL",
        )
        .bind(&ids)
        .bind(&seqs)
        .bind(&prevs)
        .bind(&hashes)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.seen = Some(Head {
            chain_seq: seq,
            hash: prev,
        });
        Ok(Some(ids.len() as u64))
    }

    /// Logs an error when the record this sealer last saw at the chain's end is gone or has
    /// another hash: sealed records were cut or rewritten since.
    async fn check_unmoved(
        &self,
        conn: &mut PgConnection,
        head: Option<&Head>,
    ) -> Result<(), sqlx::Error> {
        let Some(seen) = &self.seen else {
            return Ok(());
        };
        if head == Some(seen) {
            return Ok(());
        }
        let stored: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT hash FROM audit_log WHERE chain_seq = $1")
                .bind(seen.chain_seq)
                .fetch_optional(&mut *conn)
                .await?;
        if stored.flatten().as_deref() != Some(seen.hash.as_slice()) {
            tracing::error!(
                chain_seq = seen.chain_seq,
                "the audit chain no longer holds the record this sealer saw at its end: sealed records were removed or rewritten; run audit-verify"
            );
        }
        Ok(())
    }
}

/// Seals the schema's records every `interval`, for as long as the process runs.
pub fn spawn_sealer(pool: PgPool, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut sealer = Sealer::new(pool);
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match sealer.seal_pending().await {
                Ok(Some(sealed)) if sealed > 0 => {
                    tracing::debug!(sealed, "sealed audit records")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not seal audit records"),
            }
        }
    })
}

/// How the chain breaks at a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakKind {
    /// The record's content or hash no longer matches the hash it was sealed with.
    Edited,
    /// A record before it is gone: a gap in `chain_seq`, or its `prev_hash` is the hash of
    /// no record (the one before it was deleted, or rewritten with a new hash).
    Missing,
    /// Its `prev_hash` is the hash of a record elsewhere in the chain, or its `chain_seq`
    /// runs backwards: records were moved.
    Reordered,
}

impl BreakKind {
    /// The name an inspector reads.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakKind::Edited => "EDITED",
            BreakKind::Missing => "MISSING",
            BreakKind::Reordered => "REORDERED",
        }
    }
}

/// The first record whose link does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Break {
    /// Its `chain_seq`.
    pub chain_seq: i64,
    /// Its `id`.
    pub id: i64,
    /// How the chain breaks there.
    pub kind: BreakKind,
}

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Records sealed into the chain.
    pub sealed: i64,
    /// Records not sealed yet.
    pub unsealed: i64,
    /// The last sealed record, when any is.
    pub head: Option<Head>,
    /// The first break, when the chain does not hold.
    pub first_break: Option<Break>,
}

impl Report {
    /// Whether the chain holds.
    pub fn holds(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Walks the chain of the schema `conn` is confined to in `chain_seq` order, in one
/// read-only snapshot, and reports the first break (see the module doc).
pub async fn verify(conn: &mut PgConnection) -> Result<Report, sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let (sealed, unsealed): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE chain_seq IS NOT NULL),
                count(*) FILTER (WHERE chain_seq IS NULL)
         FROM audit_log",
    )
    .fetch_one(&mut *tx)
    .await?;
    let head = head(&mut tx).await?;

    // The record whose link failed, and for a failed link the hash it points to.
    let mut failed: Option<(Break, Option<Vec<u8>>)> = None;
    {
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT chain_seq, prev_hash, hash, {CONTENT_COLUMNS} FROM audit_log
             WHERE chain_seq IS NOT NULL ORDER BY chain_seq"
        )))
        .fetch(&mut *tx);
        let mut expected_seq = 1i64;
        let mut expected_prev = GENESIS.to_vec();
        while let Some(row) = rows.try_next().await? {
            let chain_seq: i64 = row.try_get("chain_seq")?;
            let content = Content::of(&row)?;
            let at = |kind| Break {
                chain_seq,
                id: content.id,
                kind,
            };
            if chain_seq != expected_seq {
                let kind = if chain_seq > expected_seq {
                    BreakKind::Missing
                } else {
                    BreakKind::Reordered
                };
                failed = Some((at(kind), None));
                break;
            }
            let prev_hash: Option<Vec<u8>> = row.try_get("prev_hash")?;
            let hash: Option<Vec<u8>> = row.try_get("hash")?;
            let (Some(prev_hash), Some(hash)) = (prev_hash, hash) else {
                failed = Some((at(BreakKind::Edited), None));
                break;
            };
            if content.hash(&prev_hash).as_slice() != hash.as_slice() {
                failed = Some((at(BreakKind::Edited), None));
                break;
            }
            if prev_hash != expected_prev {
                failed = Some((at(BreakKind::Missing), Some(prev_hash)));
                break;
            }
            expected_prev = hash;
            expected_seq += 1;
        }
    }
    // A link to a hash that is not the previous record's: moved if a record elsewhere in the
    // chain has that hash (or it is the start of the chain), missing otherwise.
    let first_break = match failed {
        None => None,
        Some((found, None)) => Some(found),
        Some((found, Some(points_to))) => {
            let elsewhere = points_to.as_slice() == GENESIS.as_slice()
                || sqlx::query_scalar::<_, i64>(
                    "SELECT chain_seq FROM audit_log WHERE hash = $1 AND chain_seq IS NOT NULL LIMIT 1",
                )
                .bind(&points_to)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            Some(Break {
                kind: if elsewhere {
                    BreakKind::Reordered
                } else {
                    BreakKind::Missing
                },
                ..found
            })
        }
    };
    tx.commit().await?;
    Ok(Report {
        sealed,
        unsealed,
        head,
        first_break,
    })
}

/// Lower-case hex, for reports.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> Content {
        Content {
            id: 7,
            occurred_at_micros: 1_736_935_200_123_456,
            actor: "inspector-1".into(),
            action: "child.read".into(),
            resource: "children/abc".into(),
            request_id: "req-1".into(),
            trace_id: None,
            changes: "{}".into(),
            kind: "READ".into(),
            purpose: "проверка".into(),
            rpc: "/edu.certificates.v1.CertificateService/GetChild".into(),
        }
    }

    #[test]
    fn the_encoding_is_length_prefixed_in_column_order() {
        let c = content();
        let encoded = c.encode();
        let mut expected = Vec::new();
        expected.extend_from_slice(&7i64.to_be_bytes());
        expected.extend_from_slice(&1_736_935_200_123_456i64.to_be_bytes());
        for text in ["inspector-1", "child.read", "children/abc", "req-1"] {
            expected.extend_from_slice(&(text.len() as u32).to_be_bytes());
            expected.extend_from_slice(text.as_bytes());
        }
        expected.push(0);
        for text in [
            "{}",
            "READ",
            "проверка",
            "/edu.certificates.v1.CertificateService/GetChild",
        ] {
            expected.extend_from_slice(&(text.len() as u32).to_be_bytes());
            expected.extend_from_slice(text.as_bytes());
        }
        assert_eq!(encoded, expected);
    }

    #[test]
    fn every_field_and_the_previous_hash_change_the_hash() {
        let base = content();
        let h = base.hash(&GENESIS);
        assert_ne!(base.hash(&[1; 32]), h, "prev_hash");
        let variants = [
            Content {
                id: 8,
                ..base.clone()
            },
            Content {
                occurred_at_micros: base.occurred_at_micros + 1,
                ..base.clone()
            },
            Content {
                actor: "someone-else".into(),
                ..base.clone()
            },
            Content {
                trace_id: Some(String::new()),
                ..base.clone()
            },
            Content {
                purpose: String::new(),
                ..base.clone()
            },
            // Moving bytes between adjacent fields changes the encoding: lengths come first.
            Content {
                action: "child.rea".into(),
                resource: "dchildren/abc".into(),
                ..base.clone()
            },
        ];
        for variant in variants {
            assert_ne!(variant.hash(&GENESIS), h, "{variant:?}");
        }
    }
}
