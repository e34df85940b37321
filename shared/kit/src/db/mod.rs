//! Each service's Postgres: a pool of its own login role, confined to its own schema by
//! `search_path`, named in `pg_stat_activity` by `application_name`; migrations (the kit's
//! tables, then the service's); warm connections for reads ([`reads`]) and transactions ([`transaction`]); and provisioning of
//! role and schema for local runs and tests.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};

use crate::config::DatabaseConfig;

pub mod reads;
#[cfg(test)]
mod test_pools;
pub mod transaction;

pub use reads::{ReadConnection, Reads};
pub use transaction::WarmTransaction;

/// The kit's own tables (audit log, idempotency keys), created in each service's schema and
/// tracked in a migrations table of their own (`_edu_kit_migrations`, set in the kit's
/// `sqlx.toml`) so that they never collide with the service's version numbers.
static KIT_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL does not parse.
    #[error("database URL: {0}")]
    Url(sqlx::Error),
    /// A statement failed.
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A name that cannot be used as a Postgres identifier.
    #[error("{0:?} is not a plain identifier (lower-case letters, digits, underscores)")]
    Identifier(String),
}

/// Connection options for the service's role and schema. A URL that names no user connects
/// as the role named after the schema (the suite's convention), so that one URL in a shared
/// configuration serves every service.
pub fn connect_options(
    config: &DatabaseConfig,
    schema: &str,
    application_name: &str,
) -> Result<PgConnectOptions, DbError> {
    let url = config.url.expose();
    let mut options = PgConnectOptions::from_str(url)
        .map_err(DbError::Url)?
        .application_name(application_name)
        // A service's statements are short and many run at once: parallel workers would
        // only add process start-ups and contention to each of them.
        .options([
            ("search_path", schema),
            ("max_parallel_workers_per_gather", "0"),
        ]);
    if !names_a_user(url) {
        options = options.username(schema);
    }
    if let Some(password) = &config.password {
        options = options.password(password.expose());
    }
    Ok(options)
}

/// Whether a Postgres URL names its user, in the authority (`user@host`) or as a parameter.
fn names_a_user(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (authority, query) = match rest.split_once('?') {
        Some((before, query)) => (before.split('/').next().unwrap_or(""), query),
        None => (rest.split('/').next().unwrap_or(""), ""),
    };
    authority.contains('@') || query.split('&').any(|pair| pair.starts_with("user="))
}

/// A lazily connecting pool: the process starts even while the database is down, and
/// readiness says NOT_SERVING until it answers.
pub fn pool(
    config: &DatabaseConfig,
    schema: &str,
    application_name: &str,
) -> Result<PgPool, DbError> {
    let options = connect_options(config, schema, application_name)?;
    Ok(PgPoolOptions::new()
        .max_connections(config.max_connections)
        .min_connections(0)
        .acquire_timeout(config.acquire_timeout)
        .idle_timeout(Some(Duration::from_secs(300)))
        .test_before_acquire(false)
        .connect_lazy_with(options))
}

/// Applies the kit's migrations, then the service's. Concurrent callers (replicas starting
/// together) are serialised by sqlx's advisory lock.
pub async fn migrate(pool: &PgPool, service: &Migrator) -> Result<(), DbError> {
    KIT_MIGRATIONS.run(pool).await?;
    service.run(pool).await?;
    Ok(())
}

/// Applies migrations, retrying while the database is not yet reachable (a pod often starts
/// before its database), for at most `patience`.
pub async fn migrate_when_reachable(
    pool: &PgPool,
    service: &Migrator,
    patience: Duration,
) -> Result<(), DbError> {
    let started = std::time::Instant::now();
    let mut wait = Duration::from_millis(200);
    loop {
        match migrate(pool, service).await {
            Ok(()) => return Ok(()),
            Err(DbError::Sql(e))
            | Err(DbError::Migrate(sqlx::migrate::MigrateError::Execute(e)))
                if is_unreachable(&e) && started.elapsed() < patience =>
            {
                tracing::warn!(error = %e, "database not reachable yet; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}

fn is_unreachable(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut)
        || matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("57P03"))
}

/// Opens one connection outside the pool (readiness checks use it, so that a saturated pool
/// does not make a healthy process look dead).
pub async fn single_connection(options: &PgConnectOptions) -> Result<PgConnection, sqlx::Error> {
    PgConnection::connect_with(options).await
}

/// Provisioning of a service's login role and schema, as an operator's migration job or the
/// local run command does it with an administrator's connection.
pub mod provision {
    use super::*;

    /// Checks that `name` can be used unquoted: lower-case ASCII letters, digits and `_`,
    /// starting with a letter, at most 63 bytes.
    pub fn identifier(name: &str) -> Result<&str, DbError> {
        let ok = !name.is_empty()
            && name.len() <= 63
            && name.as_bytes()[0].is_ascii_lowercase()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(name)
        } else {
            Err(DbError::Identifier(name.to_string()))
        }
    }

    /// Quotes a string literal for SQL that cannot take parameters (`ALTER ROLE … PASSWORD`).
    pub fn literal(value: &str) -> String {
        format!("'{}'", value.replace('\'', "''"))
    }

    // Identifiers are checked by `identifier` and passwords quoted by `literal`; DDL takes no
    // bind parameters.

    /// Creates (or updates) the login role `role` and the schema `schema` it owns, in the
    /// database `admin` is connected to. The role gets no rights elsewhere: other services'
    /// schemas belong to other roles, and `public` is not writable (Postgres 15 default, made
    /// explicit here for older servers). Safe to run again and concurrently.
    pub async fn role_and_schema(
        admin: &PgPool,
        role: &str,
        password: Option<&str>,
        schema: &str,
    ) -> Result<(), DbError> {
        let role = identifier(role)?;
        let schema = identifier(schema)?;
        let create = match password {
            Some(p) => format!("CREATE ROLE {role} LOGIN PASSWORD {}", literal(p)),
            None => format!("CREATE ROLE {role} LOGIN"),
        };
        if let Err(e) = sqlx::query(AssertSqlSafe(create)).execute(admin).await {
            // Roles are cluster-wide: another database's provisioning may have created it,
            // possibly at this very moment.
            if !is_duplicate(&e) {
                return Err(e.into());
            }
            if let Some(p) = password {
                alter_role_password(admin, role, p).await?;
            }
        }
        if let Err(e) = sqlx::query(AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role}"
        )))
        .execute(admin)
        .await
            && !is_duplicate(&e)
        {
            return Err(e.into());
        }
        sqlx::query("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            .execute(admin)
            .await?;
        for extension in EXTENSIONS {
            if let Err(e) = sqlx::query(AssertSqlSafe(format!(
                "CREATE EXTENSION IF NOT EXISTS {extension}"
            )))
            .execute(admin)
            .await
                && !is_duplicate(&e)
            {
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Extensions the services' schemas use, installed by the administrator because a
    /// service's role may not create them: `btree_gist` for exclusion constraints that keep
    /// date ranges of one owner apart (a municipality's periods).
    pub const EXTENSIONS: [&str; 1] = ["btree_gist"];

    /// Sets a role's password. Roles are catalogue rows shared by the whole cluster, and two
    /// provisioning runs updating the same row at once make one fail with "tuple concurrently
    /// updated"; that one simply tries again.
    async fn alter_role_password(
        admin: &PgPool,
        role: &str,
        password: &str,
    ) -> Result<(), DbError> {
        let sql = format!("ALTER ROLE {role} LOGIN PASSWORD {}", literal(password));
        let mut attempt = 0;
        loop {
            match sqlx::query(AssertSqlSafe(sql.clone())).execute(admin).await {
                Ok(_) => return Ok(()),
                Err(sqlx::Error::Database(db))
                    if db.code().as_deref() == Some("XX000") && attempt < 10 =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn is_duplicate(error: &sqlx::Error) -> bool {
        matches!(error, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("42710") | Some("23505") | Some("42P06")))
    }
}

#[cfg(test)]
mod tests {
    use super::provision::*;
    use super::*;
    use crate::config::{DATABASE_URL, Env};

    fn options_for(url: &str) -> PgConnectOptions {
        let config =
            DatabaseConfig::from_env(&Env::from_map([(DATABASE_URL, url)])).expect("config");
        connect_options(&config, "competitions", "competitions").expect("options")
    }

    #[test]
    fn a_url_without_a_user_connects_as_the_services_role() {
        assert_eq!(
            options_for("postgres://db:5432/edu?sslmode=require").get_username(),
            "competitions"
        );
        assert_eq!(
            options_for("postgres://db/edu").get_username(),
            "competitions"
        );
        assert_eq!(
            options_for("postgres://other@db/edu").get_username(),
            "other"
        );
        assert_eq!(
            options_for("postgres://other:pw@db/edu").get_username(),
            "other"
        );
        assert_eq!(
            options_for("postgres://db/edu?user=other").get_username(),
            "other"
        );
    }

    #[test]
    fn identifiers_are_plain_or_refused() {
        assert!(identifier("competitions").is_ok());
        assert!(identifier("edu_test_1").is_ok());
        for bad in ["", "Comp", "a-b", "1a", "a;drop", &"a".repeat(64)] {
            assert!(identifier(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn literals_escape_quotes() {
        assert_eq!(literal("it's"), "'it''s'");
    }
}
