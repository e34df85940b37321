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
