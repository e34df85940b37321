//! `edu.audit.v1.AuditService` over a service's own audit trail: every service process
//! serves it from here (the kit's app adds it to the service's routes), and the gateway
//! serves it for all of them by forwarding each call to the service the request's `parent`
//! names (`services/{service}`), checking the same role first with [`authorise`].
//!
//! Who may call: the role `<service>.inspector` ([`inspector_role`]), with no tenant scope;
//! inspectors are national. Records name what they concern by resource name only.

use std::pin::Pin;

use futures::Stream;
use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};

use edu_proto::edu::audit::v1 as pb;
use edu_proto::edu::audit::v1::audit_service_server::{AuditService, AuditServiceServer};

use super::Kind;
use super::chain::{self, BreakKind, Content};
use crate::config::Limits;
use crate::error::FieldProblems;
use crate::paging::PageRequest;
use crate::{ApiError, CallContext, resource, wire};

/// The gRPC service's full name.
pub const SERVICE_NAME: &str = edu_proto::edu::audit::v1::audit_service_server::SERVICE_NAME;

/// Records read per query of an export.
const EXPORT_BATCH: i64 = 500;

/// The role that reads `service`'s audit trail, `<service>.inspector`.
pub fn inspector_role(service: &str) -> String {
    format!("{service}.inspector")
}

/// The service a request's `parent` (`services/{service}`) names; `INVALID_ARGUMENT` naming
/// `parent` otherwise.
pub fn service_of(parent: &str) -> Result<String, ApiError> {
    resource::parse_name(parent, "services", "parent")
}

/// The service a request's `parent` names, when the caller holds its inspector role;
/// `INVALID_ARGUMENT` for a malformed `parent`, `UNAUTHENTICATED` without a token,
/// `PERMISSION_DENIED` `ROLE_REQUIRED` without the role.
pub fn authorise(context: &CallContext, parent: &str) -> Result<String, ApiError> {
    let service = service_of(parent)?;
    context.caller()?.require_role(&inspector_role(&service))?;
    Ok(service)
}

/// Which records a listing or an export wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only about this resource name.
    pub resource: Option<String>,
    /// Only by this actor.
    pub actor: Option<String>,
    /// Only at or after this instant.
    pub start: Option<Timestamp>,
    /// Only before this instant.
    pub end: Option<Timestamp>,
    /// Only of this kind.
    pub kind: Option<Kind>,
}

impl Filter {
    /// The filter of a request's fields; `INVALID_ARGUMENT` naming each field that is not
    /// usable.
    pub fn from_request(
        resource: &str,
        actor: &str,
        start_time: Option<&prost_types::Timestamp>,
        end_time: Option<&prost_types::Timestamp>,
        kind: i32,
    ) -> Result<Filter, ApiError> {
        let mut problems = FieldProblems::new();
        let mut instant = |field: &str, t: Option<&prost_types::Timestamp>| match t {
            None => None,
            Some(_) => problems.field(wire::instant(t, field)),
        };
        let start = instant("start_time", start_time);
        let end = instant("end_time", end_time);
        if let (Some(start), Some(end)) = (start, end)
            && end < start
        {
            problems.add("end_time", "must not be before start_time");
        }
        let kind = match pb::AuditRecordKind::try_from(kind) {
            Ok(pb::AuditRecordKind::Unspecified) => None,
            Ok(pb::AuditRecordKind::Change) => Some(Kind::Change),
            Ok(pb::AuditRecordKind::Read) => Some(Kind::Read),
            Err(_) => {
                problems.add("kind", format!("{kind} is not a kind of record"));
                None
            }
        };
        problems.finish()?;
        let text = |value: &str| (!value.is_empty()).then(|| value.to_string());
        Ok(Filter {
            resource: text(resource),
            actor: text(actor),
            start,
            end,
            kind,
        })
    }

    /// The filter's values, for binding page tokens to it.
    fn fingerprint(&self) -> [String; 5] {
        let instant = |t: Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
        [
            self.resource.clone().unwrap_or_default(),
            self.actor.clone().unwrap_or_default(),
            instant(self.start),
            instant(self.end),
            self.kind.map(Kind::as_str).unwrap_or_default().to_string(),
        ]
    }
}

/// One stored record with its chain fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// What its hash covers.
    pub content: Content,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// Its place in the chain, once sealed.
    pub chain_seq: Option<i64>,
    /// The previous record's hash, once sealed.
    pub prev_hash: Option<Vec<u8>>,
    /// Its hash, once sealed.
    pub hash: Option<Vec<u8>>,
}

impl StoredRecord {
    fn of(row: &PgRow) -> Result<StoredRecord, sqlx::Error> {
        let occurred_at: jiff_sqlx::Timestamp = row.try_get("occurred_at")?;
        Ok(StoredRecord {
            content: Content::of(row)?,
            occurred_at: occurred_at.to_jiff(),
            chain_seq: row.try_get("chain_seq")?,
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
        })
    }

    /// The record on the wire.
    pub fn to_pb(&self) -> pb::AuditRecord {
        let c = &self.content;
        let kind = match Kind::parse(&c.kind) {
            Some(Kind::Change) => pb::AuditRecordKind::Change,
            Some(Kind::Read) => pb::AuditRecordKind::Read,
            None => pb::AuditRecordKind::Unspecified,
        };
        pb::AuditRecord {
            record_id: c.id,
            kind: kind as i32,
            occur_time: Some(wire::timestamp(self.occurred_at)),
            actor: c.actor.clone(),
            action: c.action.clone(),
            resource: c.resource.clone(),
            request_id: c.request_id.clone(),
            trace_id: c.trace_id.clone().unwrap_or_default(),
            changes: c.changes.clone(),
            purpose: c.purpose.clone(),
            rpc: c.rpc.clone(),
            sealed: self.chain_seq.is_some(),
            chain_seq: self.chain_seq.unwrap_or_default(),
            prev_hash: self.prev_hash.clone().unwrap_or_default(),
            hash: self.hash.clone().unwrap_or_default(),
        }
    }
}

/// Up to `limit` records matching `filter` with an ID above `after`, in ID order. Only the
/// filters given are in the statement, so each shape is planned for its own index
/// (resource, actor, time, or the primary key).
pub async fn records(
    pool: &PgPool,
    filter: &Filter,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredRecord>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new(
        "SELECT id, occurred_at, actor, action, resource, request_id, trace_id,
                changes::text AS changes, kind, purpose, rpc, chain_seq, prev_hash, hash
         FROM audit_log WHERE id > ",
    );
    query.push_bind(after);
    if let Some(resource) = &filter.resource {
        query.push(" AND resource = ").push_bind(resource.clone());
    }
    if let Some(actor) = &filter.actor {
        query.push(" AND actor = ").push_bind(actor.clone());
    }
    if let Some(start) = filter.start {
        query
            .push(" AND occurred_at >= ")
            .push_bind(start.to_sqlx());
    }
    if let Some(end) = filter.end {
        query.push(" AND occurred_at < ").push_bind(end.to_sqlx());
    }
    if let Some(kind) = filter.kind {
        query.push(" AND kind = ").push_bind(kind.as_str());
    }
    query.push(" ORDER BY id LIMIT ").push_bind(limit);
    let rows = query.build().fetch_all(pool).await?;
    rows.iter().map(StoredRecord::of).collect()
}

/// The kit's `AuditService` over one service's trail.
#[derive(Debug, Clone)]
pub struct AuditApi {
    pool: PgPool,
    service: &'static str,
}

/// An export as the service's messages.
pub type ExportStream =
    Pin<Box<dyn Stream<Item = Result<pb::ExportAuditRecordsResponse, Status>> + Send + 'static>>;

impl AuditApi {
    /// The API of `service`'s trail, in the schema `pool` reaches.
    pub fn new(pool: PgPool, service: &'static str) -> Self {
        AuditApi { pool, service }
    }

    /// The API as a gRPC service, with the process's message limits.
    pub fn server(self, limits: &Limits) -> AuditServiceServer<AuditApi> {
        AuditServiceServer::new(self)
            .max_decoding_message_size(limits.max_message_bytes)
            .max_encoding_message_size(limits.max_message_bytes)
    }

    /// Checks the caller may read the trail `parent` names, and that it is this service's.
    fn admit<T>(&self, request: &Request<T>, parent: &str) -> Result<(), ApiError> {
        let context = CallContext::of(request)?;
        let service = authorise(context, parent)?;
        if service != self.service {
            return Err(ApiError::not_found(parent.to_string()));
        }
        Ok(())
    }

    async fn list(
        &self,
        request: Request<pb::ListAuditRecordsRequest>,
    ) -> Result<pb::ListAuditRecordsResponse, ApiError> {
        let body = request.get_ref();
        self.admit(&request, &body.parent)?;
        let filter = Filter::from_request(
            &body.resource,
            &body.actor,
            body.start_time.as_ref(),
            body.end_time.as_ref(),
            body.kind,
        )?;
        let [resource, actor, start, end, kind] = filter.fingerprint();
        let paging = PageRequest::<i64>::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListAuditRecords",
                &body.parent,
                &resource,
                &actor,
                &start,
                &end,
                &kind,
            ],
        )?;
        let size = paging.size;
        let mut found = records(
            &self.pool,
            &filter,
            paging.after.unwrap_or(0),
            crate::paging::overfetch_limit(size),
        )
        .await?;
        let next = if found.len() > size {
            found.truncate(size);
            found.last().map(|r| r.content.id)
        } else {
            None
        };
        Ok(pb::ListAuditRecordsResponse {
            records: found.iter().map(StoredRecord::to_pb).collect(),
            next_page_token: paging.next_token(next.as_ref()),
        })
    }

    fn export(
        &self,
        request: &Request<pb::ExportAuditRecordsRequest>,
    ) -> Result<ExportStream, ApiError> {
        let body = request.get_ref();
        self.admit(request, &body.parent)?;
        let filter = Filter::from_request(
            &body.resource,
            &body.actor,
            body.start_time.as_ref(),
            body.end_time.as_ref(),
            body.kind,
        )?;
        let (sender, mut receiver) = mpsc::channel(EXPORT_BATCH as usize);
        tokio::spawn(pump(self.pool.clone(), filter, sender));
        Ok(Box::pin(futures::stream::poll_fn(move |cx| {
            receiver.poll_recv(cx)
        })))
    }

    async fn verify(
        &self,
        request: Request<pb::VerifyAuditChainRequest>,
    ) -> Result<pb::AuditChainReport, ApiError> {
        let body = request.get_ref();
        self.admit(&request, &body.parent)?;
        let now = CallContext::of(&request)?.now();
        let mut conn = self.pool.acquire().await?;
        let report = chain::verify(&mut conn).await?;
        Ok(report_pb(&body.parent, &report, now))
    }
}

/// A verification's report on the wire.
pub fn report_pb(parent: &str, report: &chain::Report, now: Timestamp) -> pb::AuditChainReport {
    pb::AuditChainReport {
        parent: parent.to_string(),
        sealed_count: report.sealed,
        unsealed_count: report.unsealed,
        last_chain_seq: report.head.as_ref().map_or(0, |h| h.chain_seq),
        last_hash: report
            .head
            .as_ref()
            .map(|h| h.hash.clone())
            .unwrap_or_default(),
        first_break: report.first_break.map(|b| pb::AuditChainBreak {
            chain_seq: b.chain_seq,
            record_id: b.id,
            kind: match b.kind {
                BreakKind::Edited => pb::AuditChainBreakKind::Edited,
                BreakKind::Missing => pb::AuditChainBreakKind::Missing,
                BreakKind::Reordered => pb::AuditChainBreakKind::Reordered,
            } as i32,
        }),
        verify_time: Some(wire::timestamp(now)),
    }
}

/// Sends every record matching `filter` into `out`, batch by batch, until the last or until
/// the caller goes away.
async fn pump(
    pool: PgPool,
    filter: Filter,
    out: mpsc::Sender<Result<pb::ExportAuditRecordsResponse, Status>>,
) {
    let mut after = 0;
    loop {
        let batch = match records(&pool, &filter, after, EXPORT_BATCH).await {
            Ok(batch) => batch,
            Err(e) => {
                let _ = out.send(Err(Status::from(ApiError::from(e)))).await;
                return;
            }
        };
        for record in &batch {
            let message = pb::ExportAuditRecordsResponse {
                record: Some(record.to_pb()),
            };
            if out.send(Ok(message)).await.is_err() {
                return;
            }
            after = record.content.id;
        }
        if batch.len() < EXPORT_BATCH as usize {
            return;
        }
    }
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn list_audit_records(
        &self,
        request: Request<pb::ListAuditRecordsRequest>,
    ) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
        crate::error::respond(self.list(request).await)
    }

    type ExportAuditRecordsStream = ExportStream;

    async fn export_audit_records(
        &self,
        request: Request<pb::ExportAuditRecordsRequest>,
    ) -> Result<Response<ExportStream>, Status> {
        crate::error::respond(self.export(&request))
    }

    async fn verify_audit_chain(
        &self,
        request: Request<pb::VerifyAuditChainRequest>,
    ) -> Result<Response<pb::AuditChainReport>, Status> {
        crate::error::respond(self.verify(request).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_name_a_service() {
        assert_eq!(service_of("services/aid").ok().as_deref(), Some("aid"));
        for bad in ["", "services/", "aid", "services/Aid", "institutions/aid"] {
            assert!(service_of(bad).is_err(), "{bad:?}");
        }
        assert_eq!(inspector_role("mentoring"), "mentoring.inspector");
    }

    #[test]
    fn filters_name_each_unusable_field() {
        let far = prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        };
        let refused = Filter::from_request("", "", Some(&far), None, 9).expect_err("refused");
        let fields: Vec<&str> = refused.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["start_time", "kind"]);
        let later = prost_types::Timestamp {
            seconds: 2_000_000_000,
            nanos: 0,
        };
        let earlier = prost_types::Timestamp {
            seconds: 1_000_000_000,
            nanos: 0,
        };
        let refused =
            Filter::from_request("", "", Some(&later), Some(&earlier), 0).expect_err("refused");
        assert_eq!(refused.fields()[0].field, "end_time");
        let filter =
            Filter::from_request("children/a", "", None, None, 2).expect("a usable filter");
        assert_eq!(filter.resource.as_deref(), Some("children/a"));
        assert_eq!(filter.actor, None);
        assert_eq!(filter.kind, Some(Kind::Read));
    }
}
