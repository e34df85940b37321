//! The change-event stream: backed by the outbox, resumable from a cursor without gaps or
//! duplicates, complete under concurrent writers, and never ahead of a transaction still in
//! flight.

use std::collections::BTreeSet;
use std::time::Duration;

use edu_kit::outbox::{Cursor, events_after};
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::application_service_server::ApplicationService;
use edu_proto::edu::competitions::v1::event_service_server::EventService;
use futures::StreamExt;
use tonic::Code;

use crate::common::*;

fn consumer() -> edu_kit::auth::Caller {
    caller("notifications", &["competitions.event_consumer"], &[])
}

type Events = <edu_competitions::api::EventsApi as EventService>::WatchEventsStream;

async fn watch(fx: &Fixture, after: &str) -> Events {
    fx.events
        .watch_events(request(
            &consumer(),
            at(REVIEWING),
            pb::WatchEventsRequest {
                after_cursor: after.into(),
                types: Vec::new(),
            },
        ))
        .await
        .expect("stream")
        .into_inner()
}

/// The next `n` events; a failure, not a wait, if they do not come within a minute.
async fn take(stream: &mut Events, n: usize) -> Vec<pb::WatchEventsResponse> {
    let mut events = Vec::new();
    while events.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(60), stream.next())
            .await
            .expect("the events arrive")
            .expect("the stream stays open")
            .expect("an event");
        events.push(next);
    }
    events
}

/// Six teams, each with a drafted application in an open contest; returns their
/// applications and leads.
async fn drafts(fx: &Fixture, count: usize) -> (String, Vec<(String, edu_kit::auth::Caller)>) {
    let contest = open_contest(fx, "detstvo", contest_body("Детство без границ")).await;
    let mut drafted = Vec::new();
    for i in 0..count {
        let lead = team_person(&format!("lead-{i}"), &format!("RU-R{i:02}"));
        let team = regional_team(fx, &lead, &format!("team-{i}"), &format!("RU-R{i:02}")).await;
        let app = fx
            .applications
            .create_application(request(
                &lead,
                at(DURING),
                pb::CreateApplicationRequest {
                    parent: contest.clone(),
                    application: Some(pb::Application {
                        team,
                        nomination_id: "health".into(),
                        title: format!("Практика {i}"),
                        ..Default::default()
                    }),
                    application_id: String::new(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("drafted")
            .into_inner();
        drafted.push((app.name, lead));
    }
    (contest, drafted)
}

async fn submit(fx: &Fixture, name: &str, lead: &edu_kit::auth::Caller) {
    fx.applications
        .submit_application(request(
            lead,
            at(DURING),
            pb::SubmitApplicationRequest {
                name: name.into(),
                etag: String::new(),
            },
        ))
        .await
        .expect("submitted");
}

#[tokio::test]
async fn the_stream_resumes_from_a_cursor_without_gaps_or_duplicates() {
    let fx = Fixture::new().await;
    let (_, drafted) = drafts(&fx, 6).await;
    for (name, lead) in &drafted[..4] {
        submit(&fx, name, lead).await;
    }
    let mut first = watch(&fx, "").await;
    let seen = take(&mut first, 2).await;
    drop(first);

    let mut resumed = watch(&fx, &seen[1].cursor).await;
    let mut rest = take(&mut resumed, 2).await;
    // Live: events committed while the stream waits arrive on it.
    for (name, lead) in &drafted[4..] {
        submit(&fx, name, lead).await;
    }
    rest.extend(take(&mut resumed, 2).await);

    let resources: Vec<&str> = seen
        .iter()
        .chain(&rest)
        .map(|e| e.resource.as_str())
        .collect();
    let submitted: Vec<&str> = drafted.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(resources, submitted, "every event once, in commit order");
    assert!(
        seen.iter()
            .chain(&rest)
            .all(|e| e.r#type == pb::EventType::ApplicationSubmitted as i32)
    );
    // Submitting again is a no-op and invents no event.
    submit(&fx, &drafted[0].0, &drafted[0].1).await;
    assert_eq!(
        fx.count("SELECT count(*) FROM competitions.event_outbox")
            .await,
        6
    );
}

#[tokio::test]
async fn concurrent_writers_lose_no_event() {
    let fx = Fixture::new().await;
    let (_, drafted) = drafts(&fx, 20).await;
    let mut stream = watch(&fx, "").await;
    futures::future::join_all(drafted.iter().map(|(name, lead)| submit(&fx, name, lead))).await;
    let events = take(&mut stream, 20).await;
    let resources: BTreeSet<&str> = events.iter().map(|e| e.resource.as_str()).collect();
    let submitted: BTreeSet<&str> = drafted.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(resources, submitted);
    let cursors: BTreeSet<&str> = events.iter().map(|e| e.cursor.as_str()).collect();
    assert_eq!(cursors.len(), 20, "no duplicates");
}

#[tokio::test]
async fn an_event_is_not_served_past_a_transaction_still_in_flight() {
    let fx = Fixture::new().await;
    let (_, drafted) = drafts(&fx, 1).await;

    // A change is under way: its transaction has written (so holds a transaction ID) but
    // not committed.
    let mut in_flight = fx.db.pool().begin().await.expect("begin");
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *in_flight)
        .await
        .expect("xid");
    // A later change commits first.
    submit(&fx, &drafted[0].0, &drafted[0].1).await;
    let held = events_after(fx.db.pool(), Cursor::default(), &[], 10)
        .await
        .expect("read");
    assert!(
        held.is_empty(),
        "the committed event waits behind the older transaction: {held:?}"
    );
    // Written as a replica of the previous version writes it, into the old table, whose
    // trigger forwards it to the kit's outbox in this transaction.
    sqlx::query(
        "INSERT INTO competitions.outbox (event_type, resource, contest_id, event_time)
         VALUES ('REVIEW_COMPLETED', 'contests/detstvo/applications/x/reviews/y', 'detstvo', now())",
    )
    .execute(&mut *in_flight)
    .await
    .expect("insert");
    in_flight.commit().await.expect("commit");

    // Both are served once no older transaction runs anywhere on the server; other tests
    // sharing the server may hold the horizon back for a moment, so look until they are.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let served = loop {
        let served = events_after(fx.db.pool(), Cursor::default(), &[], 10)
            .await
            .expect("read");
        if served.len() == 2 || std::time::Instant::now() > deadline {
            break served;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let kinds: Vec<&str> = served.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        kinds,
        ["REVIEW_COMPLETED", "APPLICATION_SUBMITTED"],
        "in transaction order, the older first"
    );
}

#[tokio::test]
async fn only_event_consumers_watch_and_cursors_are_checked() {
    let fx = Fixture::new().await;
    let refused = fx
        .events
        .watch_events(request(
            &organiser(),
            at(REVIEWING),
            pb::WatchEventsRequest::default(),
        ))
        .await
        .err()
        .expect("not a consumer");
    assert_status(&refused, Code::PermissionDenied, "ROLE_REQUIRED");
    let bad = fx
        .events
        .watch_events(request(
            &consumer(),
            at(REVIEWING),
            pb::WatchEventsRequest {
                after_cursor: "yesterday".into(),
                types: Vec::new(),
            },
        ))
        .await
        .err()
        .expect("not a cursor");
    assert_eq!(bad_fields(&bad), ["after_cursor"]);
}
