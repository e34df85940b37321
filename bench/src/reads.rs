//! Reads (issue 13, target 2): one object read at `concurrency` callers, (a) through the
//! gateway, (b) straight to the service, (c) the same SELECT the service sends, over the
//! bench's own connections. `GetProgramme` is public; `GetCertificate` carries a token to
//! verify and reads the certificate with its child, its current period's kind and its
//! balance summed from the ledger.

use sqlx::{AssertSqlSafe, PgPool};
use tonic::transport::Channel;

use edu_kit::auth::dev::DevToken;
use edu_kit::client::with_bearer;
use edu_proto::edu::certificates::v1 as pb;
use edu_proto::edu::certificates::v1::certificate_service_client::CertificateServiceClient;
use edu_proto::edu::certificates::v1::programme_service_client::ProgrammeServiceClient;

use super::BenchOptions;
use super::drive::{Driven, Outcome, drive, pick};
use super::hot_paths;

/// One read's three sides.
#[derive(Debug, Clone)]
pub struct ReadReport {
    /// The method.
    pub method: &'static str,
    /// (a) through the gateway.
    pub gateway: Driven,
    /// (b) straight to the service.
    pub service: Driven,
    /// (c) the SELECT over SQL.
    pub sql: Driven,
}

/// Runs both reads, each side for the options' seconds.
pub async fn run(
    admin: &PgPool,
    gateway: Channel,
    service: Channel,
    options: &BenchOptions,
) -> anyhow::Result<Vec<ReadReport>> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(options.concurrency as u32)
        .min_connections(options.concurrency as u32)
        .connect_with(admin.connect_options().as_ref().clone())
        .await?;
    // Side (c) sends the services' own statements, taken from the offline query data.
    let programme_select = hot_paths::find("GetProgramme")?.sql;
    let certificate_select = hot_paths::find("GetCertificate")?.sql;
    let (n, m) = (options.children, options.programmes);
    let seconds = options.seconds as f64;
    let concurrency = options.concurrency;
    let limit = usize::MAX;
    let programme_name = move |i: usize| {
        let g = 1 + pick(i, m);
        (format!("p{}", 1 + g % super::PROVIDERS), format!("g{g}"))
    };
    let grpc_programme = |channel: Channel| {
        drive(concurrency, seconds, limit, move |i| {
            let mut client = ProgrammeServiceClient::new(channel.clone());
            let (provider, id) = programme_name(i);
            async move {
                let request = tonic::Request::new(pb::GetProgrammeRequest {
                    name: format!("providers/{provider}/programmes/{id}"),
                });
                outcome(client.get_programme(request).await.map(|_| ()))
            }
        })
    };
    let programme_gateway = grpc_programme(gateway.clone()).await;
    let programme_service = grpc_programme(service.clone()).await;
    let programme_sql = drive(concurrency, seconds, limit, {
        let pool = pool.clone();
        move |i| {
            let pool = pool.clone();
            let sql = programme_select.clone();
            let (provider, id) = programme_name(i);
            async move {
                let read = sqlx::query(AssertSqlSafe(sql))
                    .bind(provider)
                    .bind(id)
                    .fetch_optional(&pool)
                    .await;
                if matches!(read, Ok(Some(_))) {
                    Outcome::Done
                } else {
                    Outcome::Failed
                }
            }
        }
    })
    .await;

    let token = DevToken::new("bench-operator")
        .role("certificates.operator")
        .scope("municipality:RU-ALT/bench")
        .sign();
    let grpc_certificate = |channel: Channel| {
        let token = token.clone();
        drive(concurrency, seconds, limit, move |i| {
            let mut client = CertificateServiceClient::new(channel.clone());
            let request = with_bearer(
                tonic::Request::new(pb::GetCertificateRequest {
                    name: format!("certificates/c{}", 1 + pick(i, n)),
                }),
                &token,
            );
            async move { outcome(client.get_certificate(request).await.map(|_| ())) }
        })
    };
    let certificate_gateway = grpc_certificate(gateway).await;
    let certificate_service = grpc_certificate(service).await;
    let certificate_sql = drive(concurrency, seconds, limit, {
        let pool = pool.clone();
        move |i| {
            let pool = pool.clone();
            let sql = certificate_select.clone();
            async move {
                let read = sqlx::query(AssertSqlSafe(sql))
                    .bind(format!("c{}", 1 + pick(i, n)))
                    .bind(jiff_sqlx::ToSqlx::to_sqlx(jiff::Timestamp::now()))
                    .fetch_optional(&pool)
                    .await;
                if matches!(read, Ok(Some(_))) {
                    Outcome::Done
                } else {
                    Outcome::Failed
                }
            }
        }
    })
    .await;
    pool.close().await;
    Ok(vec![
        ReadReport {
            method: "GetProgramme",
            gateway: programme_gateway,
            service: programme_service,
            sql: programme_sql,
        },
        ReadReport {
            method: "GetCertificate",
            gateway: certificate_gateway,
            service: certificate_service,
            sql: certificate_sql,
        },
    ])
}

fn outcome(result: Result<(), tonic::Status>) -> Outcome {
    match result {
        Ok(()) => Outcome::Done,
        Err(_) => Outcome::Failed,
    }
}
