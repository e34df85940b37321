//! The audit trail of a service: a record of every change — who (the token's subject),
//! when, in which request, trace and RPC, and what changed — written through the same
//! connection, inside the same transaction, as the change it describes, so that a change and
//! its record commit or vanish together; and a record of every read of personal data (a
//! child, a parent, a participant) — who, when, through which RPC and for which stated
//! purpose ([`read`]).
//!
//! Records are sealed into a hash chain after they commit ([`chain`]), so that an edited,
//! deleted or reordered record is found by verification, and inspectors read them through
//! the `AuditService` every service serves ([`service`]).

pub mod chain;
pub mod service;

use jiff_sqlx::ToSqlx;
use serde_json::Value;
use sqlx::PgConnection;

use crate::context::CallContext;

/// What a record is of, as stored in `audit_log.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A change, written with it.
    Change,
    /// A read of personal data.
    Read,
}

impl Kind {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Change => "CHANGE",
            Kind::Read => "READ",
        }
    }

    /// The kind of a stored value.
    pub fn parse(stored: &str) -> Option<Kind> {
        match stored {
            "CHANGE" => Some(Kind::Change),
            "READ" => Some(Kind::Read),
            _ => None,
        }
    }
}

/// The actor recorded for anonymous calls.
pub const ANONYMOUS: &str = "anonymous";

/// One record of the audit log, as a call makes it. A use case on a hot path may write it
/// in the same statement as its change (binding these fields to the `audit_log` columns of
/// the same names); every other one calls [`record`].
#[derive(Debug, Clone)]
pub struct Record {
    /// The instant the call is judged at.
    pub occurred_at: jiff::Timestamp,
    /// The token's subject, or [`ANONYMOUS`].
    pub actor: String,
    /// What happened, `<resource kind>.<verb>`.
    pub action: String,
    /// The resource name.
    pub resource: String,
    /// The call's request id.
    pub request_id: String,
    /// The call's trace id, when traced.
    pub trace_id: Option<String>,
    /// What changed.
    pub changes: Value,
    /// The RPC, `/package.Service/Method` (empty outside the pipeline).
    pub rpc: String,
}

impl Record {
    /// The record of `action` on `resource` by the call of `context`.
    pub fn new(context: &CallContext, action: &str, resource: &str, changes: Value) -> Self {
        Record {
            occurred_at: context.now(),
            actor: context
                .caller_if_any()
                .map(|c| c.subject())
                .unwrap_or(ANONYMOUS)
                .to_string(),
            action: action.to_string(),
            resource: resource.to_string(),
            request_id: context.request_id().to_string(),
            trace_id: context.trace_id().map(str::to_string),
            changes,
            rpc: context.rpc().to_string(),
        }
    }
}

/// Appends a record to the audit log, in the transaction `conn` belongs to: `action` is
/// what happened (`<resource kind>.<verb>`, for example `contest.opened`), `resource` the
/// resource name, `changes` what changed (new values, or `{"from": …, "to": …}` pairs; stored
/// in the service's schema under the same access rules as the resource itself).
pub async fn record(
    conn: &mut PgConnection,
    context: &CallContext,
    action: &str,
    resource: &str,
    changes: Value,
) -> Result<(), sqlx::Error> {
    let record = Record::new(context, action, resource, changes);
    sqlx::query(
        "INSERT INTO audit_log (occurred_at, actor, action, resource, request_id, trace_id, changes, rpc)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(record.occurred_at.to_sqlx())
    .bind(record.actor)
    .bind(record.action)
    .bind(record.resource)
    .bind(record.request_id)
    .bind(record.trace_id)
    .bind(record.changes)
    .bind(record.rpc)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records that the call of `context` read the personal data of `resources` (resource
/// names, for example `children/7f3a…`): one `READ` record each, with the caller, the call's
/// request, trace and RPC, and the purpose the caller stated ([`crate::context::PURPOSE_HEADER`]),
/// all in one statement on `conn` (a read's own connection commits it at once; inside a
/// transaction it commits, or vanishes, with it). `action` says what was read,
/// `<resource kind>.read` (`child.read`).
///
/// Call it after the read and before answering: a failure fails the call, so no personal
/// data is shown without its record. A resource this call already recorded a read of is not
/// recorded again.
pub async fn read(
    conn: &mut PgConnection,
    context: &CallContext,
    action: &str,
    resources: &[String],
) -> Result<(), sqlx::Error> {
    let fresh = context.first_reads(resources);
    if fresh.is_empty() {
        return Ok(());
    }
    let actor = context
        .caller_if_any()
        .map(|c| c.subject())
        .unwrap_or(ANONYMOUS);
    sqlx::query(
        "INSERT INTO audit_log
             (occurred_at, actor, action, resource, request_id, trace_id, kind, purpose, rpc)
         SELECT $1, $2, $3, resource, $4, $5, 'READ', $6, $7
         FROM unnest($8::text[]) WITH ORDINALITY AS shown(resource, n)
         ORDER BY n",
    )
    .bind(context.now().to_sqlx())
    .bind(actor)
    .bind(action)
    .bind(context.request_id())
    .bind(context.trace_id())
    .bind(context.purpose())
    .bind(context.rpc())
    .bind(&fresh)
    .execute(conn)
    .await?;
    Ok(())
}

/// [`read`] for the call the running task serves ([`CallContext::current`]): for a store
/// function that reads people but is not given the call's context. Outside a call (a
/// background task, a test calling the store directly) nothing is recorded.
pub async fn read_in_call(
    conn: &mut PgConnection,
    action: &str,
    resources: &[String],
) -> Result<(), sqlx::Error> {
    match CallContext::current() {
        Some(context) => read(conn, &context, action, resources).await,
        None => Ok(()),
    }
}
