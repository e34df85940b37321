//! Reads (issue 13, target 2): one object read at `concurrency` callers, (a) through the
//! gateway, (b) straight to the service, (c) the same SELECT the service sends, over the
//! bench's own connections, taken as the services take theirs (the kit's warm connections
//! for reads), so that (b)/(c) is what the service adds to its statement. `GetProgramme` is
//! public; `GetCertificate` carries a token to verify and reads the certificate with its
//! child, its current period's kind and its balance summed from the ledger.

use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgArguments, Postgres};
use sqlx::query::Query;
use tonic::transport::Channel;

use edu_kit::auth::dev::DevToken;
use edu_kit::client::with_bearer;
use edu_kit::db::Reads;
use edu_proto::edu::certificates::v1 as pb;
use edu_proto::edu::certificates::v1::certificate_service_client::CertificateServiceClient;
use edu_proto::edu::certificates::v1::programme_service_client::ProgrammeServiceClient;

use super::BenchOptions;
use super::drive::{Outcome, drive_from, pick};
use super::hot_paths;
use super::rounds::{Measured, Meter, Side, alternate};

/// One read's three sides, each measured over alternating rounds.
#[derive(Debug, Clone)]
pub struct ReadReport {
    /// The method.
    pub method: &'static str,
    /// (a) through the gateway.
    pub gateway: Measured,
    /// (b) straight to the service.
    pub service: Measured,
    /// (c) the SELECT over SQL.
    pub sql: Measured,
}

/// Runs both reads: for each, its three sides in alternating rounds, each side for the
/// options' seconds in all.
pub async fn run(
    meter: Meter<'_>,
    gateway: Channel,
    service: Channel,
    options: &BenchOptions,
) -> anyhow::Result<Vec<ReadReport>> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(options.concurrency as u32)
        .min_connections(options.concurrency as u32)
        .test_before_acquire(false)
        .connect_with(meter.admin.connect_options().as_ref().clone())
        .await?;
    let reads = Reads::new(pool.clone());
    // Side (c) sends the services' own statements, taken from the offline query data.
    let programme_select = hot_paths::find("GetProgramme")?.sql;
    let certificate_select = hot_paths::find("GetCertificate")?.sql;
    let (n, m) = (options.children, options.programmes);
    let concurrency = options.concurrency;
    let limit = usize::MAX;
    let programme_name = move |i: usize| {
        let g = 1 + pick(i, m);
        (format!("p{}", 1 + g % super::PROVIDERS), format!("g{g}"))
    };
    let grpc_programme = |channel: Channel| {
        Side::new(move |first: usize, seconds: f64| {
            let channel = channel.clone();
            drive_from(first, concurrency, seconds, limit, move |i| {
                let mut client = ProgrammeServiceClient::new(channel.clone());
                let (provider, id) = programme_name(i);
                async move {
                    let request = tonic::Request::new(pb::GetProgrammeRequest {
                        name: format!("providers/{provider}/programmes/{id}"),
                    });
                    outcome(client.get_programme(request).await.map(|_| ()))
                }
            })
        })
    };
    let programme_sql = Side::new(|first: usize, seconds: f64| {
        let reads = reads.clone();
        let sql = programme_select.clone();
        drive_from(first, concurrency, seconds, limit, move |i| {
            let reads = reads.clone();
            let sql = sql.clone();
            let (provider, id) = programme_name(i);
            async move {
                select(
                    &reads,
                    sqlx::query(AssertSqlSafe(sql)).bind(provider).bind(id),
                )
                .await
            }
        })
    });
    let programme = three_sides(
        "GetProgramme",
        meter,
        [
            grpc_programme(gateway.clone()),
            grpc_programme(service.clone()),
            programme_sql,
        ],
        options,
    )
    .await?;

    let token = DevToken::new("bench-operator")
        .role("certificates.operator")
        .scope("municipality:RU-ALT/bench")
        .sign();
    let grpc_certificate = |channel: Channel| {
        let token = token.clone();
        Side::new(move |first: usize, seconds: f64| {
            let channel = channel.clone();
            let token = token.clone();
            drive_from(first, concurrency, seconds, limit, move |i| {
                let mut client = CertificateServiceClient::new(channel.clone());
                let request = with_bearer(
                    tonic::Request::new(pb::GetCertificateRequest {
                        name: format!("certificates/c{}", 1 + pick(i, n)),
                    }),
                    &token,
                );
                async move { outcome(client.get_certificate(request).await.map(|_| ())) }
            })
        })
    };
    let certificate_sql = Side::new(|first: usize, seconds: f64| {
        let reads = reads.clone();
        let sql = certificate_select.clone();
        drive_from(first, concurrency, seconds, limit, move |i| {
            let reads = reads.clone();
            let sql = sql.clone();
            async move {
                let query = sqlx::query(AssertSqlSafe(sql))
                    .bind(format!("c{}", 1 + pick(i, n)))
                    .bind(jiff_sqlx::ToSqlx::to_sqlx(jiff::Timestamp::now()));
                select(&reads, query).await
            }
        })
    });
    let certificate = three_sides(
        "GetCertificate",
        meter,
        [
            grpc_certificate(gateway),
            grpc_certificate(service),
            certificate_sql,
        ],
        options,
    )
    .await?;
    drop(reads);
    pool.close().await;
    Ok(vec![programme, certificate])
}

/// One read's sides, (a), (b) and (c), in alternating rounds.
async fn three_sides(
    method: &'static str,
    meter: Meter<'_>,
    sides: [Side<'_>; 3],
    options: &BenchOptions,
) -> anyhow::Result<ReadReport> {
    let [gateway, service, sql]: [Measured; 3] = alternate(meter, &sides, options.seconds as f64)
        .await
        .try_into()
        .map_err(|_| anyhow::anyhow!("three sides measured"))?;
    Ok(ReadReport {
        method,
        gateway,
        service,
        sql,
    })
}

/// One SELECT that must find its row, on a warm connection as a service reads.
async fn select(reads: &Reads, query: Query<'_, Postgres, PgArguments>) -> Outcome {
    let Ok(mut conn) = reads.acquire().await else {
        return Outcome::Failed;
    };
    match query.fetch_optional(&mut *conn).await {
        Ok(Some(_)) => {
            conn.finish();
            Outcome::Done
        }
        Ok(None) | Err(_) => Outcome::Failed,
    }
}

fn outcome(result: Result<(), tonic::Status>) -> Outcome {
    match result {
        Ok(()) => Outcome::Done,
        Err(_) => Outcome::Failed,
    }
}
