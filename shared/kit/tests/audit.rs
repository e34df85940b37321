//! The tamper-evident audit trail against a real Postgres: records sealed into the chain in
//! order, verification finding what an attacker with SQL access does to sealed records
//! (an edit, a deletion, a reordering), records that commit late sealed after, concurrent
//! sealers sealing each record once, records of reads, and the inspectors' API.

use std::collections::BTreeSet;

use edu_kit::CallContext;
use edu_kit::audit::chain::{self, BreakKind, Content, GENESIS, Sealer};
use edu_kit::audit::service::AuditApi;
use edu_kit::audit::{self, Kind};
use edu_kit::auth::{Caller, Claims};
use edu_kit::testing::{TestDatabase, assert_refused};
use edu_proto::edu::audit::v1 as pb;
use edu_proto::edu::audit::v1::audit_service_server::AuditService;
use futures::StreamExt;
use serde_json::json;
use sqlx::migrate::Migrator;
use sqlx::{PgPool, Row};
use tonic::Code;

static NO_MIGRATIONS: Migrator = Migrator::DEFAULT;

const SCHEMA: &str = "edu_test_audit";

async fn database() -> TestDatabase {
    TestDatabase::create(SCHEMA, SCHEMA, &NO_MIGRATIONS).await
}

fn caller(subject: &str, roles: &[&str]) -> Caller {
    Caller::from_claims(Claims {
        sub: subject.into(),
        name: None,
        roles: roles.iter().map(|r| r.to_string()).collect(),
        scopes: Vec::new(),
    })
}

fn context(subject: &str) -> CallContext {
    CallContext::new(
        Some(caller(subject, &[])),
        uuid::Uuid::new_v4().to_string(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        jiff::Timestamp::now(),
    )
    .with_rpc("/edu.test.v1.TestService/Change")
}

/// Writes `n` change records, one transaction each.
async fn changes(pool: &PgPool, n: usize) {
    for i in 0..n {
        let mut conn = pool.acquire().await.expect("connection");
        audit::record(
            &mut conn,
            &context(&format!("actor-{}", i % 3)),
            "thing.changed",
            &format!("things/t{i}"),
            json!({ "from": i, "to": i + 1, "note": "ä" }),
        )
        .await
        .expect("recorded");
    }
}

async fn seal(pool: &PgPool) -> u64 {
    Sealer::new(pool.clone())
        .seal_pending()
        .await
        .expect("sealed")
        .expect("no other sealer")
}

async fn verify(pool: &PgPool) -> chain::Report {
    let mut conn = pool.acquire().await.expect("connection");
    chain::verify(&mut conn).await.expect("verified")
}

/// Runs `sql` as an attacker with the database's superuser would.
async fn tamper(db: &TestDatabase, sql: &str) {
    let admin = db.admin_pool().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(
        sql.replace("audit_log", &format!("{SCHEMA}.audit_log")),
    ))
    .execute(&admin)
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
    admin.close().await;
}

#[tokio::test]
async fn records_are_sealed_in_id_order_each_hashing_the_one_before() {
    let db = database().await;
    let pool = db.pool();
    changes(pool, 5).await;
    let before = verify(pool).await;
    assert_eq!((before.sealed, before.unsealed), (0, 5));
    assert!(before.holds() && before.head.is_none());

    assert_eq!(seal(pool).await, 5);
    assert_eq!(seal(pool).await, 0, "nothing is sealed twice");
    let rows = sqlx::query(
        "SELECT id, occurred_at, actor, action, resource, request_id, trace_id,
                changes::text AS changes, kind, purpose, rpc, chain_seq, prev_hash, hash
         FROM audit_log ORDER BY chain_seq",
    )
    .fetch_all(pool)
    .await
    .expect("rows");
    let mut prev = GENESIS.to_vec();
    let mut last_id = 0;
    for (i, row) in rows.iter().enumerate() {
        let id: i64 = row.get("id");
        assert!(id > last_id, "sealed in id order");
        last_id = id;
        assert_eq!(row.get::<i64, _>("chain_seq"), i as i64 + 1);
        let prev_hash: Vec<u8> = row.get("prev_hash");
        assert_eq!(prev_hash, prev, "chained to the record before");
        let occurred_at: jiff_sqlx::Timestamp = row.get("occurred_at");
        let content = Content {
            id,
            occurred_at_micros: occurred_at.to_jiff().as_microsecond(),
            actor: row.get("actor"),
            action: row.get("action"),
            resource: row.get("resource"),
            request_id: row.get("request_id"),
            trace_id: row.get("trace_id"),
            changes: row.get("changes"),
            kind: row.get("kind"),
            purpose: row.get("purpose"),
            rpc: row.get("rpc"),
        };
        assert_eq!(content.rpc, "/edu.test.v1.TestService/Change");
        assert_eq!(content.kind, "CHANGE");
        let hash: Vec<u8> = row.get("hash");
        assert_eq!(
            hash,
            content.hash(&prev_hash).to_vec(),
            "the documented hash"
        );
        prev = hash;
    }
    // The documented SQL rebuilds the same microseconds as the sealer hashed.
    let micros: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, (extract(epoch FROM occurred_at) * 1000000)::bigint FROM audit_log ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .expect("micros");
    for (id, micros) in micros {
        let stored: jiff_sqlx::Timestamp =
            sqlx::query_scalar("SELECT occurred_at FROM audit_log WHERE id = $1")
                .bind(id)
                .fetch_one(pool)
                .await
                .expect("instant");
        assert_eq!(stored.to_jiff().as_microsecond(), micros);
    }

    let report = verify(pool).await;
    assert_eq!((report.sealed, report.unsealed), (5, 0));
    assert!(report.holds(), "{report:?}");
    let head = report.head.expect("a head");
    assert_eq!((head.chain_seq, head.hash), (5, prev));
}

#[tokio::test]
async fn an_edited_record_breaks_its_hash() {
    let db = database().await;
    changes(db.pool(), 6).await;
    seal(db.pool()).await;
    tamper(
        &db,
        "UPDATE audit_log SET actor = 'someone-else' WHERE chain_seq = 3",
    )
    .await;
    let report = verify(db.pool()).await;
    let broken = report.first_break.expect("a break");
    assert_eq!((broken.chain_seq, broken.kind), (3, BreakKind::Edited));

    // Rewriting `changes` with the same meaning but other spelling is an edit too.
    let db = database().await;
    changes(db.pool(), 3).await;
    seal(db.pool()).await;
    tamper(
        &db,
        "UPDATE audit_log SET changes = '{\"to\": 2, \"from\": 1, \"note\": \"x\"}' WHERE chain_seq = 2",
    )
    .await;
    let broken = verify(db.pool()).await.first_break.expect("a break");
    assert_eq!((broken.chain_seq, broken.kind), (2, BreakKind::Edited));

    // An edit that recomputes the record's hash breaks the next record's link instead.
    let db = database().await;
    changes(db.pool(), 4).await;
    seal(db.pool()).await;
    tamper(
        &db,
        "UPDATE audit_log SET hash = sha256(hash) WHERE chain_seq = 4",
    )
    .await;
    let broken = verify(db.pool()).await.first_break.expect("a break");
    assert_eq!((broken.chain_seq, broken.kind), (4, BreakKind::Edited));
}

#[tokio::test]
async fn a_deleted_record_leaves_a_gap_or_a_dangling_link() {
    let db = database().await;
    changes(db.pool(), 6).await;
    seal(db.pool()).await;
    let deleted_id: i64 = sqlx::query_scalar("SELECT id FROM audit_log WHERE chain_seq = 3")
        .fetch_one(db.pool())
        .await
        .expect("id");
    tamper(&db, "DELETE FROM audit_log WHERE chain_seq = 3").await;
    let report = verify(db.pool()).await;
    assert_eq!(report.sealed, 5);
    let broken = report.first_break.expect("a break");
    assert_eq!((broken.chain_seq, broken.kind), (4, BreakKind::Missing));
    assert_ne!(broken.id, deleted_id);

    // Closing the gap by renumbering leaves record 4 chained to a hash nobody has.
    tamper(
        &db,
        "UPDATE audit_log SET chain_seq = -chain_seq WHERE chain_seq > 3;
         UPDATE audit_log SET chain_seq = -chain_seq - 1 WHERE chain_seq < 0",
    )
    .await;
    let broken = verify(db.pool()).await.first_break.expect("a break");
    assert_eq!((broken.chain_seq, broken.kind), (3, BreakKind::Missing));

    // The first record deleted: the chain starts with a dangling link.
    let db = database().await;
    changes(db.pool(), 3).await;
    seal(db.pool()).await;
    tamper(
        &db,
        "DELETE FROM audit_log WHERE chain_seq = 1;
         UPDATE audit_log SET chain_seq = chain_seq - 1",
    )
    .await;
    let broken = verify(db.pool()).await.first_break.expect("a break");
    assert_eq!((broken.chain_seq, broken.kind), (1, BreakKind::Missing));

    // Unsealing a record (to edit it and have it sealed again) is a deletion from the chain.
    let db = database().await;
    changes(db.pool(), 4).await;
    seal(db.pool()).await;
    tamper(
        &db,
        "UPDATE audit_log SET chain_seq = NULL, prev_hash = NULL, hash = NULL, actor = 'x'
         WHERE chain_seq = 2",
    )
    .await;
    seal(db.pool()).await;
    let broken = verify(db.pool()).await.first_break.expect("a break");
    assert_eq!((broken.chain_seq, broken.kind), (3, BreakKind::Missing));
}

#[tokio::test]
async fn reordered_records_break_the_links() {
    let db = database().await;
    changes(db.pool(), 6).await;
    seal(db.pool()).await;
    let (third, fourth): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT id FROM audit_log WHERE chain_seq = 3),
                (SELECT id FROM audit_log WHERE chain_seq = 4)",
    )
    .fetch_one(db.pool())
    .await
    .expect("ids");
    tamper(
        &db,
        "UPDATE audit_log SET chain_seq = 0 WHERE chain_seq = 3;
         UPDATE audit_log SET chain_seq = 3 WHERE chain_seq = 4;
         UPDATE audit_log SET chain_seq = 4 WHERE chain_seq = 0",
    )
    .await;
    let report = verify(db.pool()).await;
    let broken = report.first_break.expect("a break");
    assert_eq!(
        (broken.chain_seq, broken.id, broken.kind),
        (3, fourth, BreakKind::Reordered)
    );
    assert_ne!(broken.id, third);

    // The first record moved later: the chain starts with a link to a record further on.
    let db = database().await;
    changes(db.pool(), 3).await;
    seal(db.pool()).await;
    tamper(
        &db,
        "UPDATE audit_log SET chain_seq = 0 WHERE chain_seq = 1;
         UPDATE audit_log SET chain_seq = 1 WHERE chain_seq = 2;
         UPDATE audit_log SET chain_seq = 2 WHERE chain_seq = 0",
    )
    .await;
    let broken = verify(db.pool()).await.first_break.expect("a break");
    assert_eq!((broken.chain_seq, broken.kind), (1, BreakKind::Reordered));
}

#[tokio::test]
async fn a_record_that_commits_late_is_sealed_after_those_sealed_before() {
    let db = database().await;
    let pool = db.pool();
    changes(pool, 2).await;
    // A transaction writes its record and stays open while later records commit.
    let mut late = pool.begin().await.expect("transaction");
    audit::record(
        &mut late,
        &context("slow"),
        "thing.changed",
        "things/late",
        json!({}),
    )
    .await
    .expect("recorded");
    let late_id: i64 = sqlx::query_scalar("SELECT max(id) FROM audit_log")
        .fetch_one(&mut *late)
        .await
        .expect("id");
    changes(pool, 2).await;
    assert_eq!(
        seal(pool).await,
        4,
        "the open transaction's record is not visible yet"
    );
    late.commit().await.expect("commit");
    let report = verify(pool).await;
    assert_eq!((report.sealed, report.unsealed), (4, 1));
    assert!(report.holds());

    assert_eq!(seal(pool).await, 1);
    let (seq, max_id): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT chain_seq FROM audit_log WHERE id = $1), (SELECT max(id) FROM audit_log)",
    )
    .bind(late_id)
    .fetch_one(pool)
    .await
    .expect("seq");
    assert_eq!(seq, 5, "sealed last, though written before others");
    assert!(late_id < max_id);
    let report = verify(pool).await;
    assert_eq!((report.sealed, report.unsealed), (5, 0));
    assert!(report.holds(), "{report:?}");
}

// The count of rounds that found the lock taken is printed: it shows the sealers did meet.
#[allow(clippy::print_stdout)]
#[tokio::test]
async fn concurrent_sealers_seal_each_record_once() {
    let db = database().await;
    let pool = db.pool().clone();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for i in 0..150 {
                    let mut conn = pool.acquire().await.expect("connection");
                    audit::record(
                        &mut conn,
                        &context(&format!("writer-{w}")),
                        "thing.changed",
                        &format!("things/w{w}-{i}"),
                        json!({ "i": i }),
                    )
                    .await
                    .expect("recorded");
                }
            })
        })
        .collect();
    let busy = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sealers: Vec<_> = (0..4)
        .map(|_| {
            let pool = pool.clone();
            let busy = busy.clone();
            tokio::spawn(async move {
                let mut sealer = Sealer::new(pool);
                for _ in 0..40 {
                    if sealer.seal_pending().await.expect("sealed").is_none() {
                        busy.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for task in writers.into_iter().chain(sealers) {
        task.await.expect("task");
    }
    seal(&pool).await;
    let (rows, sealed, distinct, max): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(chain_seq), count(DISTINCT chain_seq), max(chain_seq) FROM audit_log",
    )
    .fetch_one(&pool)
    .await
    .expect("counts");
    assert_eq!((rows, sealed, distinct, max), (600, 600, 600, 600));
    let report = verify(&pool).await;
    assert!(report.holds(), "{report:?}");
    println!(
        "{} of 160 sealing rounds found another sealer at work",
        busy.load(std::sync::atomic::Ordering::Relaxed)
    );
}

#[tokio::test]
async fn reads_are_recorded_with_their_rpc_and_purpose_once_per_call() {
    let db = database().await;
    let pool = db.pool();
    let call = context("operator-1")
        .with_rpc("/edu.certificates.v1.CertificateService/GetChild")
        .with_purpose("проверка обращения 42");
    let mut conn = pool.acquire().await.expect("connection");
    audit::read(
        &mut conn,
        &call,
        "child.read",
        &["children/a".into(), "children/b".into()],
    )
    .await
    .expect("recorded");
    audit::read(&mut conn, &call, "child.read", &["children/b".into()])
        .await
        .expect("nothing new");
    // A store function without the context finds it while the call runs, and nowhere else.
    audit::read_in_call(&mut conn, "child.read", &["children/c".into()])
        .await
        .expect("outside a call: nothing");
    call.clone()
        .scope(audit::read_in_call(
            &mut conn,
            "child.read",
            &["children/c".into(), "children/a".into()],
        ))
        .await
        .expect("recorded");
    let rows: Vec<(String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT kind, actor, action, resource, rpc, purpose FROM audit_log ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("rows");
    let expected = |resource: &str| {
        (
            "READ".to_string(),
            "operator-1".to_string(),
            "child.read".to_string(),
            resource.to_string(),
            "/edu.certificates.v1.CertificateService/GetChild".to_string(),
            "проверка обращения 42".to_string(),
        )
    };
    assert_eq!(
        rows,
        vec![
            expected("children/a"),
            expected("children/b"),
            expected("children/c")
        ]
    );
    drop(conn);
    seal(pool).await;
    assert!(verify(pool).await.holds(), "reads are chained like changes");
}

fn request<T>(who: &Caller, body: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(body);
    request.extensions_mut().insert(CallContext::new(
        Some(who.clone()),
        "req",
        None,
        jiff::Timestamp::now(),
    ));
    request
}

#[tokio::test]
async fn inspectors_list_export_and_verify_and_nobody_else_does() {
    let db = database().await;
    let pool = db.pool();
    changes(pool, 7).await;
    let mut conn = pool.acquire().await.expect("connection");
    audit::read(
        &mut conn,
        &context("parent-1").with_purpose("why"),
        "child.read",
        &["things/t1".into()],
    )
    .await
    .expect("read");
    drop(conn);
    seal(pool).await;
    changes(pool, 1).await;

    let api = AuditApi::new(pool.clone(), "certificates");
    let inspector = caller("inspector", &["certificates.inspector"]);
    let parent = "services/certificates".to_string();

    // By resource: the change and the read of things/t1.
    let listed = api
        .list_audit_records(request(
            &inspector,
            pb::ListAuditRecordsRequest {
                parent: parent.clone(),
                resource: "things/t1".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("listed")
        .into_inner();
    let kinds: Vec<i32> = listed.records.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            pb::AuditRecordKind::Change as i32,
            pb::AuditRecordKind::Read as i32
        ]
    );
    let read = &listed.records[1];
    assert_eq!(
        (read.actor.as_str(), read.purpose.as_str(), read.sealed),
        ("parent-1", "why", true)
    );
    assert_eq!(read.hash.len(), 32);

    // By actor and kind, page by page.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = api
            .list_audit_records(request(
                &inspector,
                pb::ListAuditRecordsRequest {
                    parent: parent.clone(),
                    actor: "actor-0".into(),
                    kind: pb::AuditRecordKind::Change as i32,
                    page_size: 2,
                    page_token: token.clone(),
                    ..Default::default()
                },
            ))
            .await
            .expect("a page")
            .into_inner();
        seen.extend(page.records.iter().map(|r| r.resource.clone()));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ["things/t0", "things/t3", "things/t6", "things/t0"]);
    // A token belongs to its filters.
    assert_refused(
        api.list_audit_records(request(
            &inspector,
            pb::ListAuditRecordsRequest {
                parent: parent.clone(),
                actor: "actor-1".into(),
                page_token: token,
                ..Default::default()
            },
        ))
        .await,
        Code::InvalidArgument,
        "PAGE_TOKEN_INVALID",
    );

    // By time: nothing in the future.
    let future =
        edu_kit::wire::timestamp(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1));
    let none = api
        .list_audit_records(request(
            &inspector,
            pb::ListAuditRecordsRequest {
                parent: parent.clone(),
                start_time: Some(future),
                ..Default::default()
            },
        ))
        .await
        .expect("listed")
        .into_inner();
    assert!(none.records.is_empty());

    // The export streams everything, the last record not sealed yet.
    let exported: Vec<pb::AuditRecord> = api
        .export_audit_records(request(
            &inspector,
            pb::ExportAuditRecordsRequest {
                parent: parent.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("export")
        .into_inner()
        .map(|m| m.expect("a record").record.expect("record"))
        .collect()
        .await;
    assert_eq!(exported.len(), 9);
    assert!(exported[..8].iter().all(|r| r.sealed));
    assert!(!exported[8].sealed && exported[8].hash.is_empty());
    // The export carries what each hash covers: an inspector re-checks the chain from it.
    let mut prev = GENESIS.to_vec();
    for record in &exported[..8] {
        let t = record.occur_time.expect("time");
        let content = Content {
            id: record.record_id,
            occurred_at_micros: t.seconds * 1_000_000 + i64::from(t.nanos / 1000),
            actor: record.actor.clone(),
            action: record.action.clone(),
            resource: record.resource.clone(),
            request_id: record.request_id.clone(),
            trace_id: (!record.trace_id.is_empty()).then(|| record.trace_id.clone()),
            changes: record.changes.clone(),
            kind: if record.kind == pb::AuditRecordKind::Read as i32 {
                Kind::Read
            } else {
                Kind::Change
            }
            .as_str()
            .to_string(),
            purpose: record.purpose.clone(),
            rpc: record.rpc.clone(),
        };
        assert_eq!(record.prev_hash, prev);
        assert_eq!(record.hash, content.hash(&prev).to_vec());
        prev = record.hash.clone();
    }

    let report = api
        .verify_audit_chain(request(
            &inspector,
            pb::VerifyAuditChainRequest {
                parent: parent.clone(),
            },
        ))
        .await
        .expect("verified")
        .into_inner();
    assert_eq!(
        (
            report.sealed_count,
            report.unsealed_count,
            report.last_chain_seq
        ),
        (8, 1, 8)
    );
    assert_eq!(report.last_hash, prev);
    assert!(report.first_break.is_none());

    // Everyone else: no role, another service's inspector, another service's trail.
    for who in [
        caller("parent", &["certificates.parent"]),
        caller("aid-inspector", &["aid.inspector"]),
    ] {
        assert_refused(
            api.verify_audit_chain(request(
                &who,
                pb::VerifyAuditChainRequest {
                    parent: parent.clone(),
                },
            ))
            .await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
        assert_refused(
            api.list_audit_records(request(
                &who,
                pb::ListAuditRecordsRequest {
                    parent: parent.clone(),
                    ..Default::default()
                },
            ))
            .await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }
    let both = caller("both", &["certificates.inspector", "aid.inspector"]);
    assert_refused(
        api.verify_audit_chain(request(
            &both,
            pb::VerifyAuditChainRequest {
                parent: "services/aid".into(),
            },
        ))
        .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_refused(
        api.verify_audit_chain(request(
            &both,
            pb::VerifyAuditChainRequest {
                parent: "certificates".into(),
            },
        ))
        .await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );

    // After an edit the API reports the break.
    tamper(
        &db,
        "UPDATE audit_log SET resource = 'things/other' WHERE chain_seq = 5",
    )
    .await;
    let report = api
        .verify_audit_chain(request(&inspector, pb::VerifyAuditChainRequest { parent }))
        .await
        .expect("verified")
        .into_inner();
    let broken = report.first_break.expect("a break");
    assert_eq!(
        (broken.chain_seq, broken.kind),
        (5, pb::AuditChainBreakKind::Edited as i32)
    );
    let distinct: BTreeSet<i64> = exported.iter().map(|r| r.record_id).collect();
    assert_eq!(distinct.len(), 9);
}
