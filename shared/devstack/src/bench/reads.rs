//! Reads (issue 13, target 2): one object read at `concurrency` callers, (a) through the
//! gateway, (b) straight to the service, (c) the same SELECT the service sends, over the
//! bench's own connections. `GetProgramme` is public; `GetCertificate` carries a token to
//! verify and reads the certificate with its child, its current period's kind and its
//! balance summed from the ledger.

use sqlx::PgPool;
use tonic::transport::Channel;

use edu_kit::auth::dev::DevToken;
use edu_kit::client::with_bearer;
use edu_proto::edu::certificates::v1 as pb;
use edu_proto::edu::certificates::v1::certificate_service_client::CertificateServiceClient;
use edu_proto::edu::certificates::v1::programme_service_client::ProgrammeServiceClient;

use super::BenchOptions;
use super::drive::{Driven, Outcome, drive, pick};

/// The store's read of a programme (`store::programmes::fetch`), word for word; a test
/// checks that the service sends this very text (it is in `.sqlx/`).
pub const PROGRAMME_SQL: &str =
    "SELECT p.provider_id, p.id, p.title, p.description, p.direction, p.min_age, p.max_age,
                    p.seats, p.taken, p.schedule, p.monthly_price, p.certified, p.rating_sum,
                    p.rating_count, v.region_code, v.municipality_code, p.create_time, v.included
             FROM certificates.programmes p JOIN certificates.providers v ON v.id = p.provider_id
             WHERE p.provider_id = $1 AND p.id = $2";

/// The store's read of a certificate with its child, current period, kind and balance
/// (`store::people::certificate_view`), word for word, checked as the programme's.
pub const CERTIFICATE_SQL: &str = r#"SELECT c.id, c.child_id, c.number, c.state, c.issue_time, c.version,
                  ch.display_name, ch.identity_document, ch.birth_date, ch.region_code,
                  ch.municipality_code, co.parent_subject, co.parent_name, co.give_time,
                  ch.create_time AS child_create_time, per.id AS "period_id?", pc.kind AS "kind?",
                  COALESCE(s.credits, 0)::bigint AS "credits!", COALESCE(s.reserves, 0)::bigint AS "reserves!",
                  COALESCE(s.releases, 0)::bigint AS "releases!", COALESCE(s.charges, 0)::bigint AS "charges!"
           FROM certificates.certificates c
           JOIN certificates.children ch ON ch.id = c.child_id
           JOIN certificates.consents co ON co.id = ch.consent_id
           LEFT JOIN LATERAL (
               SELECT p.id FROM certificates.periods p
               WHERE p.region_code = ch.region_code AND p.municipality_code = ch.municipality_code
                 AND p.start_date <= ($2::timestamptz AT TIME ZONE p.time_zone)::date
                 AND p.end_date >= ($2::timestamptz AT TIME ZONE p.time_zone)::date
               LIMIT 1) per ON true
           LEFT JOIN certificates.period_certificates pc
             ON pc.period_id = per.id AND pc.certificate_id = c.id
           LEFT JOIN LATERAL (
               SELECT sum(l.amount) FILTER (WHERE l.kind = 'CREDIT') AS credits,
                      sum(l.amount) FILTER (WHERE l.kind = 'RESERVE') AS reserves,
                      sum(l.amount) FILTER (WHERE l.kind = 'RELEASE') AS releases,
                      sum(l.amount) FILTER (WHERE l.kind = 'CHARGE') AS charges
               FROM certificates.ledger l
               WHERE l.certificate_id = c.id AND l.period_id = per.id) s ON true
           WHERE c.id = $1"#;

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
            let (provider, id) = programme_name(i);
            async move {
                let read = sqlx::query(PROGRAMME_SQL)
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
            async move {
                let read = sqlx::query(CERTIFICATE_SQL)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQL of side (c) is what the service sends: the compile-time checked queries of
    /// the workspace hold these very texts.
    #[test]
    fn side_c_runs_the_services_own_select() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.sqlx");
        let queries: Vec<String> = std::fs::read_dir(&root)
            .expect(".sqlx")
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
            .filter_map(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .filter_map(|json| json["query"].as_str().map(str::to_string))
            .collect();
        for sql in [PROGRAMME_SQL, CERTIFICATE_SQL] {
            assert!(
                queries.iter().any(|q| q == sql),
                "not a query of the service: {sql}"
            );
        }
    }
}
