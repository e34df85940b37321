//! Each service's role touches only its own schema.

use edu_kit::db::provision;
use edu_kit::testing::TestDatabase;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

static NO_MIGRATIONS: Migrator = Migrator::DEFAULT;

#[tokio::test]
async fn a_services_role_cannot_read_or_write_another_services_schema() {
    let db = TestDatabase::create("edu_test_alpha", "edu_test_alpha", &NO_MIGRATIONS).await;
    let admin_url = edu_kit::testing::admin_url();
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(
            std::str::FromStr::from_str(&admin_url)
                .map(|o: sqlx::postgres::PgConnectOptions| o.database(db.name()))
                .expect("admin URL"),
        )
        .await
        .expect("admin");
    provision::role_and_schema(&admin, "edu_test_beta", None, "edu_test_beta")
        .await
        .expect("beta");
    sqlx::query("CREATE TABLE edu_test_beta.secrets (v text)")
        .execute(&admin)
        .await
        .expect("table");
    sqlx::query("ALTER TABLE edu_test_beta.secrets OWNER TO edu_test_beta")
        .execute(&admin)
        .await
        .expect("owner");

    let alpha = db.pool();
    let read = sqlx::query("SELECT * FROM edu_test_beta.secrets")
        .execute(alpha)
        .await;
    let err = read.expect_err("alpha may not read beta's schema");
    assert!(err.to_string().contains("permission denied"), "{err}");
    let create = sqlx::query("CREATE TABLE public.sneaky (v text)")
        .execute(alpha)
        .await;
    assert!(create.is_err(), "nobody creates tables in public");
    sqlx::query("CREATE TABLE edu_test_alpha.own (v text)")
        .execute(alpha)
        .await
        .expect("its own schema is its own");
    admin.close().await;
}

#[tokio::test]
async fn a_pool_can_require_tls_from_the_url() {
    let admin = edu_kit::testing::admin_url();
    let ssl_on: String = {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(&admin)
            .await
            .expect("admin");
        let on = sqlx::query_scalar("SHOW ssl")
            .fetch_one(&pool)
            .await
            .expect("show ssl");
        pool.close().await;
        on
    };
    let separator = if admin.contains('?') { '&' } else { '?' };
    let config = edu_kit::config::DatabaseConfig {
        url: edu_kit::config::Secret::new(format!("{admin}{separator}sslmode=require")),
        password: None,
        max_connections: 1,
        acquire_timeout: std::time::Duration::from_secs(5),
        migrate_on_start: false,
    };
    let pool = edu_kit::db::pool(&config, "public", "edu-tls-test").expect("pool");
    let result: Result<bool, _> =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&pool)
            .await;
    if ssl_on == "on" {
        assert!(
            result.expect("a TLS connection"),
            "the connection is encrypted"
        );
    } else {
        // A server without TLS must refuse rather than fall back to plain text.
        assert!(
            result.is_err(),
            "sslmode=require never falls back to plain text"
        );
    }
    pool.close().await;
}
