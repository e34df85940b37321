//! The run command's last resort: a private Postgres cluster from the installed server
//! binaries, in a data folder of its own, started and stopped cleanly.

use edu_devstack::postgres::{HOW_TO_GET_POSTGRES, Postgres, Source};

#[tokio::test]
async fn a_private_cluster_starts_from_the_installed_binaries_answers_and_stops() {
    let root = std::env::temp_dir().join(format!("edu-devstack-{}", uuid::Uuid::new_v4().simple()));
    match Postgres::start_private(&root).await {
        Ok(postgres) => {
            assert!(matches!(&postgres.source, Source::Private(dir) if dir.starts_with(&root)));
            let pool = sqlx::PgPool::connect(&postgres.admin_url)
                .await
                .expect("the private cluster answers");
            let version: String = sqlx::query_scalar("SHOW server_version")
                .fetch_one(&pool)
                .await
                .expect("query");
            assert!(!version.is_empty());
            let encoding: String = sqlx::query_scalar("SHOW server_encoding")
                .fetch_one(&pool)
                .await
                .expect("query");
            assert_eq!(encoding, "UTF8", "Cyrillic text needs a UTF-8 cluster");
            pool.close().await;
            postgres.stop().await.expect("stops");
            assert!(
                !root.join("postgres").join("postmaster.pid").exists(),
                "the server is down"
            );
        }
        // A machine without the server binaries must get the one clear message.
        Err(e) => assert_eq!(e.to_string(), HOW_TO_GET_POSTGRES),
    }
    let _ = std::fs::remove_dir_all(&root);
}
