//! Test support: status assertions, and a fresh Postgres database per test, provisioned exactly as production is
//! (the service's own login role owning its own schema) and migrated, and dropped again when
//! the test ends. Tests run against the real server, never a mock.

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgPool};
use std::str::FromStr;

use crate::config::{DatabaseConfig, Secret};
use crate::db;

/// The `ErrorInfo` reason of a status; empty when it has none.
pub fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// A value of the `ErrorInfo` metadata of a status.
pub fn error_metadata(status: &tonic::Status, key: &str) -> Option<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .error_info()
        .and_then(|i| i.metadata.get(key).cloned())
}

/// The offending fields of a status's `BadRequest` details.
pub fn bad_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// Asserts that a call was refused with `code` and the `ErrorInfo` reason `expected`.
#[track_caller]
pub fn assert_refused<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: tonic::Code,
    expected: impl AsRef<str>,
) {
    let expected = expected.as_ref();
    match result {
        Ok(ok) => panic!("expected {code:?} {expected}, got {ok:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            assert_eq!(reason(&status), expected, "{status:?}");
        }
    }
}

/// The administrator URL tests use: `EDU_TEST_ADMIN_DATABASE_URL`, else `DATABASE_URL`, else
/// the local server's `postgres` superuser.
pub fn admin_url() -> String {
    std::env::var("EDU_TEST_ADMIN_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    admin_url: String,
    service_url: String,
    pool: PgPool,
}

impl TestDatabase {
    /// Creates a database, provisions `role` and `schema` in it, and applies the kit's and
    /// the service's migrations as that role.
    #[allow(clippy::expect_used)]
    pub async fn create(role: &str, schema: &str, migrator: &Migrator) -> TestDatabase {
        let admin_url = admin_url();
        let name = format!("edu_test_{}", uuid::Uuid::new_v4().simple());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!("tests need Postgres at {admin_url} (set EDU_TEST_ADMIN_DATABASE_URL): {e}")
            });
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;

        let (service_url, pool) = provision(&admin_url, &name, role, schema, migrator).await;
        TestDatabase {
            name,
            admin_url,
            service_url,
            pool,
        }
    }

    /// A pool of the service's role, confined to its schema.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The URL of the service's role in this database, for starting a real binary on it.
    pub fn service_url(&self) -> &str {
        &self.service_url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Provisions another service's role and schema in this database and applies its
    /// migrations, as the suite's database holds every service; returns that service's pool.
    pub async fn add_service(&self, role: &str, schema: &str, migrator: &Migrator) -> PgPool {
        provision(&self.admin_url, &self.name, role, schema, migrator)
            .await
            .1
    }

    /// A pool of the server's superuser in this database, for seeding what no service
    /// would write and for asking the planner.
    #[allow(clippy::expect_used)]
    pub async fn admin_pool(&self) -> PgPool {
        let options = PgConnectOptions::from_str(&self.admin_url)
            .expect("admin URL")
            .database(&self.name);
        PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .expect("connect as the superuser")
    }
}

/// Provisions `role` and `schema` in database `name` and migrates them as that role;
/// returns the role's URL and a pool confined to its schema.
#[allow(clippy::expect_used)]
async fn provision(
    admin_url: &str,
    name: &str,
    role: &str,
    schema: &str,
    migrator: &Migrator,
) -> (String, PgPool) {
    let options = PgConnectOptions::from_str(admin_url)
        .expect("admin URL")
        .database(name);
    let admin_here = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await
        .expect("connect");
    db::provision::role_and_schema(&admin_here, role, None, schema)
        .await
        .expect("provision");
    admin_here.close().await;

    let service_options = options.username(role);
    let service_url = format!(
        "postgres://{role}@{}:{}/{name}",
        service_options.get_host(),
        service_options.get_port()
    );
    let config = DatabaseConfig {
        url: Secret::new(service_url.clone()),
        password: None,
        // Tests run in parallel against one server; keep well under its 100 connections.
        max_connections: 10,
        acquire_timeout: std::time::Duration::from_secs(10),
        migrate_on_start: false,
    };
    let pool = db::pool(&config, schema, "edu-test").expect("pool");
    db::migrate(&pool, migrator).await.expect("migrate");
    (service_url, pool)
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin_url = self.admin_url.clone();
        // Drop runs on the test's runtime thread, which this blocks: the cleanup runs on a
        // thread and runtime of its own and must not wait for anything of the test's (its
        // pool's connections are ended by the server, `WITH (FORCE)`). It is waited for, so no
        // database outlives its test.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(admin) = PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&admin_url)
                    .await
                {
                    let _ = sqlx::query(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&admin)
                    .await;
                    admin.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}
