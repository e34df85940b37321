//! The audit record of every change: who (the token's subject), when, in which request and
//! trace, and what changed. Written through the same connection, inside the same
//! transaction, as the change it describes, so that a change and its record commit or vanish
//! together.

use jiff_sqlx::ToSqlx;
use serde_json::Value;
use sqlx::PgConnection;

use crate::context::CallContext;

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
        "INSERT INTO audit_log (occurred_at, actor, action, resource, request_id, trace_id, changes)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(record.occurred_at.to_sqlx())
    .bind(record.actor)
    .bind(record.action)
    .bind(record.resource)
    .bind(record.request_id)
    .bind(record.trace_id)
    .bind(record.changes)
    .execute(conn)
    .await?;
    Ok(())
}
