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
    let actor = context
        .caller_if_any()
        .map(|c| c.subject())
        .unwrap_or(ANONYMOUS);
    sqlx::query(
        "INSERT INTO audit_log (occurred_at, actor, action, resource, request_id, trace_id, changes)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(context.now().to_sqlx())
    .bind(actor)
    .bind(action)
    .bind(resource)
    .bind(context.request_id())
    .bind(context.trace_id())
    .bind(changes)
    .execute(conn)
    .await?;
    Ok(())
}
