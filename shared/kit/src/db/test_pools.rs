//! Pools on a database of their own, for the tests of warm connections and transactions.

#![allow(clippy::unwrap_used)]

use sqlx::migrate::Migrator;
use sqlx::{PgConnection, PgPool};

use crate::testing::TestDatabase;

static NO_MIGRATIONS: Migrator = Migrator::DEFAULT;

/// A fresh database with the kit's tables only.
pub async fn database() -> TestDatabase {
    TestDatabase::create("edu_test_reads", "edu_test_reads", &NO_MIGRATIONS).await
}

/// A pool of `size` connections on the test database, configured as the kit's pool is
/// (no check before a connection is handed out).
pub async fn pool(db: &TestDatabase, size: u32) -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(size)
        .test_before_acquire(false)
        .connect(db.service_url())
        .await
        .unwrap()
}

/// The server process behind a connection.
pub async fn backend(conn: &mut PgConnection) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(conn)
        .await
        .unwrap()
}
