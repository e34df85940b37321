//! Connections kept warm for reads (and for transactions, [`super::transaction`]): the most
//! recently used is handed out first, and a finished read's connection is reused without
//! sqlx's check.
//!
//! Why. sqlx's pool hands out the connection that has been idle longest (its idle queue is
//! first in, first out), so a steady stream of short reads walks over every backend of the
//! pool in turn, and each finds its backend's caches cold. And sqlx checks every connection
//! returned to it with a round trip (a `Sync` answered by `ReadyForQuery`, in a task of its
//! own), so a read of one statement wakes Postgres twice. The read benchmark (`edu-bench
//! suite --only reads`) shows what both cost; the certificates README gives the figures.
//!
//! How. A read that completes hands its connection back with [`ReadConnection::finish`]: it
//! goes onto a stack, and the next read takes the top one. Only a finished read is trusted.
//! A read dropped without `finish` (an error, a cancelled call, a refusal before its last
//! statement) returns its connection through sqlx, whose check drains a half-read answer or
//! closes a broken connection, exactly as before.
//!
//! Bounds. The stack holds at most half the pool, so that connections idle beyond it go back
//! to sqlx's pool and its idle timeout.
//! A connection unused for [`IDLE_LIMIT`], or warm for [`WARM_LIMIT`] in all, goes back to
//! sqlx's pool, where its idle timeout, maximum lifetime and check apply. A connection that
//! died on the stack (Postgres restarted) fails the one read that takes it, which then drops
//! it; sqlx's own idle connections behave the same, as the kit's pool does not test them
//! before use either. sqlx counts warm connections as in use (the `in_use` of
//! `edu_db_pool_connections`), which they are: lent to reads, for at most a second idle.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};

/// How long a warm connection may wait for a read before it goes back to sqlx's pool.
pub const IDLE_LIMIT: Duration = Duration::from_secs(1);

/// How long a connection may stay in the warm cycle before it goes back through sqlx's pool
/// once (its check and its maximum lifetime).
pub const WARM_LIMIT: Duration = Duration::from_secs(60);

/// How often the stack is swept for connections past [`IDLE_LIMIT`].
const SWEEP_INTERVAL: Duration = Duration::from_millis(250);

/// Reads over a pool, with a stack of warm connections. Cheap to clone; clones share it.
#[derive(Debug, Clone)]
pub struct Reads {
    shelf: Arc<Shelf>,
}

#[derive(Debug)]
struct Shelf {
    pool: PgPool,
    /// Oldest at the bottom, most recently used on top.
    stack: Mutex<Vec<Warm>>,
    capacity: usize,
}

#[derive(Debug)]
struct Warm {
    conn: PoolConnection<Postgres>,
    warm_since: Instant,
    shelved_at: Instant,
}

impl Reads {
    /// Reads over `pool`, keeping at most half its connections warm. Within a Tokio runtime
    /// it starts the sweep that returns idle connections; it ends with the last clone.
    pub fn new(pool: PgPool) -> Reads {
        let capacity = pool.options().get_max_connections() as usize / 2;
        let shelf = Arc::new(Shelf {
            pool,
            stack: Mutex::new(Vec::with_capacity(capacity)),
            capacity,
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(sweep_while_used(Arc::downgrade(&shelf)));
        }
        Reads { shelf }
    }

    /// The pool the connections come from.
    pub fn pool(&self) -> &PgPool {
        &self.shelf.pool
    }

    /// A connection for a read: the most recently finished one, else one from the pool.
    pub async fn acquire(&self) -> Result<ReadConnection, sqlx::Error> {
        let (conn, warm_since) = match self.shelf.take() {
            Some(warm) => (warm.conn, warm.warm_since),
            None => (self.shelf.pool.acquire().await?, Instant::now()),
        };
        Ok(ReadConnection {
            conn,
            warm_since,
            shelf: Arc::clone(&self.shelf),
        })
    }

    /// Runs `read` on a connection and finishes it when `read` succeeds: a read that is one
    /// call. A read that fails or is cancelled returns its connection through sqlx.
    pub async fn run<T, E: From<sqlx::Error>>(
        &self,
        read: impl AsyncFnOnce(&mut PgConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.acquire().await?;
        let value = read(&mut conn).await?;
        conn.finish();
        Ok(value)
    }

    /// How many connections wait on the stack.
    pub fn warm(&self) -> usize {
        self.shelf.lock().len()
    }

    /// What the sweep does at `now`, for tests that cannot wait for the clock.
    #[cfg(test)]
    fn sweep(&self, now: Instant) {
        self.shelf.sweep(now);
    }
}

/// A connection lent for one read. It derefs to the connection; call [`finish`] once the
/// read's last statement has answered, to hand it to the next read. Dropped without
/// `finish`, it goes back through sqlx's pool and its check.
///
/// [`finish`]: ReadConnection::finish
#[derive(Debug)]
pub struct ReadConnection {
    conn: PoolConnection<Postgres>,
    warm_since: Instant,
    shelf: Arc<Shelf>,
}

impl ReadConnection {
    /// The read has completed: every statement sent on this connection has been answered in
    /// full. The connection goes onto the stack for the next read (or back to sqlx's pool
    /// when the stack is full, the pool closed, or the connection warm for too long).
    pub fn finish(self) {
        let ReadConnection {
            conn,
            warm_since,
            shelf,
        } = self;
        shelf.put(conn, warm_since, Instant::now());
    }

    /// Closes the connection when it is dropped, instead of returning it to the pool: for a
    /// connection whose state is not known (a transaction's `BEGIN` that did not answer).
    pub(super) fn close_on_drop(&mut self) {
        self.conn.close_on_drop();
    }
}

impl std::ops::Deref for ReadConnection {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for ReadConnection {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

impl Shelf {
    fn lock(&self) -> MutexGuard<'_, Vec<Warm>> {
        // The stack is only pushed and popped under the lock; a panic elsewhere leaves it
        // consistent.
        self.stack.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(&self) -> Option<Warm> {
        if self.pool.is_closed() {
            return None;
        }
        self.lock().pop()
    }

    fn put(&self, conn: PoolConnection<Postgres>, warm_since: Instant, now: Instant) {
        if self.pool.is_closed() || now.duration_since(warm_since) >= WARM_LIMIT {
            return drop(conn);
        }
        let warm = Warm {
            conn,
            warm_since,
            shelved_at: now,
        };
        let coldest = {
            let mut stack = self.lock();
            if self.capacity == 0 {
                Some(warm)
            } else if stack.len() < self.capacity {
                stack.push(warm);
                None
            } else {
                // Full: the newcomer is the warmest, so the one idle longest makes room.
                stack.push(warm);
                Some(stack.remove(0))
            }
        };
        // Dropped outside the lock: sqlx's return spawns its check.
        drop(coldest);
    }

    fn sweep(&self, now: Instant) {
        let stale: Vec<Warm> = {
            let mut stack = self.lock();
            let count = match self.pool.is_closed() {
                true => stack.len(),
                // Shelved in order, so the stale ones are at the bottom.
                false => stack
                    .iter()
                    .take_while(|w| now.duration_since(w.shelved_at) >= IDLE_LIMIT)
                    .count(),
            };
            stack.drain(..count).collect()
        };
        drop(stale);
    }
}

/// Sweeps the stack until the last [`Reads`] of it is dropped.
async fn sweep_while_used(shelf: Weak<Shelf>) {
    let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(shelf) = shelf.upgrade() else {
            return;
        };
        shelf.sweep(Instant::now());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::db::test_pools::{backend, database, pool};

    #[tokio::test]
    async fn the_most_recently_finished_connection_serves_the_next_read() {
        let db = database().await;
        let reads = Reads::new(pool(&db, 8).await);
        let mut first = reads.acquire().await.unwrap();
        let mut second = reads.acquire().await.unwrap();
        let (a, b) = (backend(&mut first).await, backend(&mut second).await);
        assert_ne!(a, b);
        first.finish();
        second.finish();
        assert_eq!(reads.warm(), 2);

        let mut next = reads.acquire().await.unwrap();
        assert_eq!(backend(&mut next).await, b, "last in, first out");
        let mut after = reads.acquire().await.unwrap();
        assert_eq!(backend(&mut after).await, a);
        assert_eq!(reads.warm(), 0);
    }

    #[tokio::test]
    async fn run_keeps_the_connection_of_a_read_that_succeeded_only() {
        let db = database().await;
        let reads = Reads::new(pool(&db, 8).await);
        let pid = reads
            .run(async |conn| Ok::<_, sqlx::Error>(backend(conn).await))
            .await;
        assert!(pid.is_ok());
        assert_eq!(reads.warm(), 1);
        let failed = reads
            .run(async |conn| {
                sqlx::query("SELECT no_such_column")
                    .execute(&mut *conn)
                    .await
                    .map(|_| ())
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(
            reads.warm(),
            0,
            "the failed read took the warm one and did not return it"
        );
    }

    #[tokio::test]
    async fn a_read_dropped_unfinished_or_cancelled_is_not_kept() {
        let db = database().await;
        let reads = Reads::new(pool(&db, 8).await);
        let mut failed = reads.acquire().await.unwrap();
        sqlx::query("SELECT no_such_column")
            .execute(&mut *failed)
            .await
            .unwrap_err();
        drop(failed);

        let mut cancelled = reads.acquire().await.unwrap();
        let slow = sqlx::query("SELECT pg_sleep(2)").execute(&mut *cancelled);
        tokio::time::timeout(Duration::from_millis(50), slow)
            .await
            .unwrap_err();
        drop(cancelled);

        assert_eq!(reads.warm(), 0);
        // sqlx's check drained the cancelled read's connection or closed it: reads go on.
        let mut next = reads.acquire().await.unwrap();
        backend(&mut next).await;
    }

    #[tokio::test]
    async fn a_connection_that_died_on_the_stack_fails_one_read_and_is_replaced() {
        let db = database().await;
        let reads = Reads::new(pool(&db, 8).await);
        let mut conn = reads.acquire().await.unwrap();
        let dead = backend(&mut conn).await;
        conn.finish();
        let admin = db.admin_pool().await;
        let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1, 5000)")
            .bind(dead)
            .fetch_one(&admin)
            .await
            .unwrap();
        assert!(terminated);

        let mut stale = reads.acquire().await.unwrap();
        sqlx::query("SELECT 1")
            .execute(&mut *stale)
            .await
            .unwrap_err();
        drop(stale);

        let mut fresh = reads.acquire().await.unwrap();
        assert_ne!(backend(&mut fresh).await, dead);
        fresh.finish();
        assert_eq!(reads.warm(), 1);
    }

    #[tokio::test]
    async fn at_most_half_the_pool_is_kept_and_transactions_still_find_connections() {
        let db = database().await;
        let pool = pool(&db, 4).await;
        let reads = Reads::new(pool.clone());
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(reads.acquire().await.unwrap());
        }
        let mut pids = Vec::new();
        for conn in &mut held {
            pids.push(backend(conn).await);
        }
        for conn in held {
            conn.finish();
        }
        assert_eq!(reads.warm(), 2);
        // The two kept are the two finished last.
        let mut top = reads.acquire().await.unwrap();
        assert_eq!(backend(&mut top).await, pids[3]);
        top.finish();

        // The other half of the pool is free for writes while reads keep theirs.
        let mut one = pool.begin().await.unwrap();
        let mut two = pool.begin().await.unwrap();
        backend(&mut one).await;
        backend(&mut two).await;
    }

    #[tokio::test]
    async fn a_pool_of_one_keeps_nothing_warm() {
        let db = database().await;
        let pool = pool(&db, 1).await;
        let reads = Reads::new(pool.clone());
        reads.acquire().await.unwrap().finish();
        assert_eq!(reads.warm(), 0);
        pool.begin().await.unwrap();
    }

    #[tokio::test]
    async fn idle_connections_go_back_to_the_pool_and_long_warm_ones_take_its_path_once() {
        let db = database().await;
        let reads = Reads::new(pool(&db, 8).await);
        let first = reads.acquire().await.unwrap();
        let second = reads.acquire().await.unwrap();
        let before = Instant::now();
        first.finish();
        second.finish();
        reads.sweep(before + IDLE_LIMIT / 2);
        assert_eq!(reads.warm(), 2, "neither idle long enough");
        reads.sweep(Instant::now() + IDLE_LIMIT);
        assert_eq!(reads.warm(), 0);

        let mut long = reads.acquire().await.unwrap();
        long.warm_since = Instant::now() - WARM_LIMIT;
        long.finish();
        assert_eq!(
            reads.warm(),
            0,
            "warm for WARM_LIMIT: back through sqlx once"
        );
    }

    #[tokio::test]
    async fn a_closed_pool_gets_every_warm_connection_back() {
        let db = database().await;
        let pool = pool(&db, 8).await;
        let reads = Reads::new(pool.clone());
        let (a, b) = (
            reads.acquire().await.unwrap(),
            reads.acquire().await.unwrap(),
        );
        a.finish();
        b.finish();
        assert_eq!(reads.warm(), 2);
        // `close` waits for every connection, so it completes only once the sweep has
        // returned the warm ones.
        pool.close().await;
        assert_eq!(reads.warm(), 0);
        assert!(reads.acquire().await.is_err());
    }
}
