//! Transactions on warm connections ([`super::reads`]): a transaction that committed or
//! rolled back hands its connection to the next read or transaction, without sqlx's check.
//!
//! Why. sqlx's `PgPool::begin` takes the connection idle longest, and when the transaction
//! ends, the connection goes back through sqlx's check of every returned connection: one more
//! round trip (a `Sync` answered by `ReadyForQuery`) after the `COMMIT`. A use case of four
//! statements paid six round trips; on warm connections it pays five.
//!
//! Safety. A transaction is ended by Postgres's own transaction manager, as sqlx's are (it
//! tracks the depth, so a nested `begin` on the connection makes a savepoint). Only a
//! transaction whose `COMMIT` or `ROLLBACK` answered keeps its connection warm: the connection
//! is then idle, outside any transaction, every answer read. A transaction dropped without
//! either (an error, a refusal, a cancelled call) queues its `ROLLBACK` and returns the
//! connection through sqlx's check, which sends it and waits for every answer, as sqlx's own
//! transactions do.

use sqlx::postgres::PgTransactionManager;
use sqlx::{PgConnection, SqlSafeStr};
use sqlx_core::transaction::TransactionManager;

use super::reads::{ReadConnection, Reads};

/// A transaction on a connection lent by [`Reads`]. It derefs to the connection, like
/// sqlx's `Transaction`; end it with [`commit`](Self::commit) (or
/// [`rollback`](Self::rollback)), or drop it to roll back.
#[derive(Debug)]
pub struct WarmTransaction {
    /// Always `Some` until `commit`, `rollback` or `drop` takes it.
    conn: Option<ReadConnection>,
}

impl Reads {
    /// Begins a transaction (READ COMMITTED) on a warm connection.
    pub async fn begin(&self) -> Result<WarmTransaction, sqlx::Error> {
        self.begin_with(None).await
    }

    /// Begins a transaction whose statements all read one snapshot (`BEGIN ISOLATION LEVEL
    /// REPEATABLE READ`), in the one round trip of its `BEGIN`.
    pub async fn begin_snapshot(&self) -> Result<WarmTransaction, sqlx::Error> {
        self.begin_with(Some("BEGIN ISOLATION LEVEL REPEATABLE READ"))
            .await
    }

    async fn begin_with(
        &self,
        statement: Option<&'static str>,
    ) -> Result<WarmTransaction, sqlx::Error> {
        // A BEGIN that fails or is cancelled closes its connection (`Beginning`).
        let mut beginning = Beginning(Some(self.acquire().await?));
        if let Some(conn) = beginning.0.as_mut() {
            PgTransactionManager::begin(conn, statement.map(SqlSafeStr::into_sql_str)).await?;
        }
        Ok(WarmTransaction {
            conn: beginning.0.take(),
        })
    }
}

impl WarmTransaction {
    /// Commits; the connection then waits warm for the next read or transaction.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.end(Ending::Commit).await
    }

    /// Rolls back; the connection then waits warm for the next read or transaction.
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        self.end(Ending::Rollback).await
    }

    async fn end(&mut self, ending: Ending) -> Result<(), sqlx::Error> {
        if let Some(conn) = self.conn.as_mut() {
            // Failed or cancelled here, the transaction is still open to the manager, and
            // `drop` queues a ROLLBACK (harmless if the COMMIT did reach Postgres).
            match ending {
                Ending::Commit => PgTransactionManager::commit(conn).await?,
                Ending::Rollback => PgTransactionManager::rollback(conn).await?,
            }
        }
        if let Some(conn) = self.conn.take() {
            conn.finish();
        }
        Ok(())
    }
}

enum Ending {
    Commit,
    Rollback,
}

/// A connection whose `BEGIN` is under way. Postgres's transaction manager counts a
/// transaction only once its `BEGIN` has answered, and rolls back only what it counted: a
/// `BEGIN` that failed, or was cancelled after it was sent, would leave the connection inside
/// a transaction when sqlx's check takes it back (sqlx's own `PgPool::begin` does just that),
/// and the next user's `BEGIN` would find a transaction in progress. Such a connection is
/// closed instead of returned.
struct Beginning(Option<ReadConnection>);

impl Drop for Beginning {
    fn drop(&mut self) {
        if let Some(conn) = self.0.as_mut() {
            conn.close_on_drop();
        }
    }
}

impl Drop for WarmTransaction {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            // Queued, not sent: sqlx's check of the returned connection sends it and reads
            // every answer before anyone else can take the connection.
            PgTransactionManager::start_rollback(&mut conn);
        }
    }
}

const TAKEN: &str = "a transaction's connection is only taken by commit, rollback and drop";

impl std::ops::Deref for WarmTransaction {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn.as_deref().expect(TAKEN)
    }
}

impl std::ops::DerefMut for WarmTransaction {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.as_deref_mut().expect(TAKEN)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use futures::FutureExt;
    use sqlx::{Connection, PgPool};

    use super::*;
    use crate::db::test_pools::{backend, database, pool};

    async fn table(pool: &PgPool) {
        sqlx::query("CREATE TABLE notes (body text PRIMARY KEY)")
            .execute(pool)
            .await
            .unwrap();
    }

    async fn note(conn: &mut PgConnection, body: &str) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO notes (body) VALUES ($1)")
            .bind(body)
            .execute(conn)
            .await
            .map(|_| ())
    }

    async fn notes(reads: &Reads) -> Vec<String> {
        reads
            .run(async |conn| {
                sqlx::query_scalar("SELECT body FROM notes ORDER BY body")
                    .fetch_all(conn)
                    .await
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_committed_transaction_keeps_its_connection_warm_for_the_next() {
        let db = database().await;
        let reads = Reads::new(pool(&db, 8).await);
        table(reads.pool()).await;
        let mut tx = reads.begin().await.unwrap();
        let pid = backend(&mut tx).await;
        note(&mut tx, "first").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(reads.warm(), 1);

        let mut next = reads.begin().await.unwrap();
        assert_eq!(backend(&mut next).await, pid, "the same connection, warm");
        note(&mut next, "second").await.unwrap();
        next.rollback().await.unwrap();
        assert_eq!(reads.warm(), 1, "a rollback that answered keeps it too");
        assert_eq!(notes(&reads).await, ["first"]);
    }

    /// A pool of one connection keeps nothing warm, so every transaction below takes the
    /// one connection back through sqlx's check: what it sees is what the previous one left.
    async fn single(db: &crate::testing::TestDatabase) -> Reads {
        let reads = Reads::new(pool(db, 1).await);
        table(reads.pool()).await;
        reads
    }

    /// On a pool of one ([`single`]): no note is left (the same and only connection would
    /// see its own insert were its transaction still open), and the next transaction
    /// commits.
    async fn left_nothing_and_serves_the_next(reads: &Reads) {
        assert_eq!(notes(reads).await, Vec::<String>::new());
        let mut tx = reads.begin().await.unwrap();
        note(&mut tx, "after").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(notes(reads).await, ["after"]);
    }

    #[tokio::test]
    async fn a_transaction_dropped_without_commit_is_rolled_back_before_the_connection_is_reused() {
        let db = database().await;
        let reads = single(&db).await;
        let mut tx = reads.begin().await.unwrap();
        note(&mut tx, "abandoned").await.unwrap();
        drop(tx);
        assert_eq!(reads.warm(), 0);

        left_nothing_and_serves_the_next(&reads).await;
    }

    #[tokio::test]
    async fn a_failed_or_cancelled_transaction_leaves_nothing_behind() {
        let db = database().await;
        let reads = single(&db).await;
        let mut failed = reads.begin().await.unwrap();
        note(&mut failed, "before the failure").await.unwrap();
        note(&mut failed, "before the failure")
            .await
            .expect_err("a duplicate key aborts the transaction");
        drop(failed);

        let mut cancelled = reads.begin().await.unwrap();
        note(&mut cancelled, "before the cancel").await.unwrap();
        let slow = sqlx::query("SELECT pg_sleep(0.3)").execute(&mut *cancelled);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), slow)
                .await
                .is_err()
        );
        drop(cancelled);

        left_nothing_and_serves_the_next(&reads).await;
    }

    #[tokio::test]
    async fn a_begin_cancelled_before_it_answered_closes_its_connection() {
        let db = database().await;
        let reads = Reads::new(pool(&db, 8).await);
        let mut cancelled = 0;
        while cancelled < 3 {
            let mut warm = reads.acquire().await.unwrap();
            let pid = backend(&mut warm).await;
            warm.finish();
            // Polled once: the warm connection is taken at once and its BEGIN sent, and the
            // answer is not read yet (if it was, this round proves nothing and is skipped).
            match reads.begin().now_or_never() {
                Some(tx) => drop(tx),
                None => {
                    cancelled += 1;
                    // Were it returned, it would sit "idle in transaction" in the pool;
                    // closed, its backend leaves. Polled, not slept on.
                    let gone = async {
                        while sqlx::query_scalar::<_, i64>(
                            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                        )
                        .bind(pid)
                        .fetch_one(db.pool())
                        .await
                        .unwrap()
                            > 0
                        {
                            tokio::task::yield_now().await;
                        }
                    };
                    tokio::time::timeout(Duration::from_secs(10), gone)
                        .await
                        .expect("the connection of the cancelled BEGIN is closed");
                }
            }
        }
    }

    #[tokio::test]
    async fn a_nested_begin_is_a_savepoint_of_the_warm_transaction() {
        let db = database().await;
        let reads = Reads::new(pool(&db, 8).await);
        table(reads.pool()).await;
        let mut tx = reads.begin().await.unwrap();
        note(&mut tx, "outer").await.unwrap();
        {
            let mut inner = (*tx).begin().await.unwrap();
            note(&mut inner, "inner").await.unwrap();
            inner.rollback().await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(notes(&reads).await, ["outer"]);
        assert_eq!(reads.warm(), 1);
    }

    #[tokio::test]
    async fn a_snapshot_transaction_is_repeatable_read_from_its_begin() {
        let db = database().await;
        let reads = Reads::new(pool(&db, 8).await);
        async fn isolation(tx: &mut WarmTransaction) -> String {
            sqlx::query_scalar("SHOW transaction_isolation")
                .fetch_one(&mut **tx)
                .await
                .unwrap()
        }
        let mut tx = reads.begin_snapshot().await.unwrap();
        assert_eq!(isolation(&mut tx).await, "repeatable read");
        tx.commit().await.unwrap();
        let mut plain = reads.begin().await.unwrap();
        assert_eq!(
            isolation(&mut plain).await,
            "read committed",
            "the warm connection does not keep it"
        );
    }
}
