//! The main story of a contest, end to end through the gateway: the contest opens, teams
//! submit, experts are assigned and review, the results are announced, the catalogue is
//! searched without a token, a region asks to replicate a practice, and other systems follow
//! it all on the event stream.
//!
//! The demo's previous cycle (`edu_competitions::demo::announced`) drives the story through
//! the public API like any client; this test checks, stage by stage, what the suite shows
//! for it afterwards.

use std::collections::BTreeMap;
use std::time::Duration;

use edu_kit::auth::dev::DevToken;
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::application_service_client::ApplicationServiceClient;
use edu_proto::edu::competitions::v1::catalogue_service_client::CatalogueServiceClient;
use edu_proto::edu::competitions::v1::contest_service_client::ContestServiceClient;
use edu_proto::edu::competitions::v1::event_service_client::EventServiceClient;
use edu_proto::edu::competitions::v1::results_service_client::ResultsServiceClient;
use edu_proto::edu::competitions::v1::review_service_client::ReviewServiceClient;
use tonic::Code;

use crate::harness::*;

#[tokio::test]
async fn a_contest_from_opening_to_replication_through_the_gateway() {
    let suite = TestSuite::start().await;
    let organiser = organiser_token();
    let now = jiff::Timestamp::now();
    let contest = edu_competitions::demo::announced::load(suite.gateway().await, &organiser, now)
        .await
        .expect("the story plays");
    let again = edu_competitions::demo::announced::load(suite.gateway().await, &organiser, now)
        .await
        .expect("playing it twice is harmless");
    assert_eq!(contest, again);

    // The contest went through to ANNOUNCED, with six submitted applications.
    let read = ContestServiceClient::new(suite.gateway().await)
        .get_contest(authorised(
            &organiser,
            pb::GetContestRequest {
                name: contest.clone(),
            },
        ))
        .await
        .expect("contest")
        .into_inner();
    assert_eq!(read.state, pb::ContestState::Announced as i32);
    let submitted = ApplicationServiceClient::new(suite.gateway().await)
        .list_applications(authorised(
            &organiser,
            pb::ListApplicationsRequest {
                parent: contest.clone(),
                state: pb::ApplicationState::Submitted as i32,
                ..Default::default()
            },
        ))
        .await
        .expect("applications")
        .into_inner()
        .applications;
    assert_eq!(submitted.len(), 6);

    // Every application got its three experts, and every review was completed.
    let workloads = ReviewServiceClient::new(suite.gateway().await)
        .list_expert_workloads(authorised(
            &organiser,
            pb::ListExpertWorkloadsRequest {
                parent: contest.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("workloads")
        .into_inner()
        .workloads;
    let assigned: i32 = workloads.iter().map(|w| w.assigned).sum();
    let completed: i32 = workloads.iter().map(|w| w.completed).sum();
    assert_eq!((assigned, completed), (18, 18));

    // The results are public: no token needed.
    let results = ResultsServiceClient::new(suite.gateway().await)
        .get_results(tonic::Request::new(pb::GetResultsRequest {
            contest: contest.clone(),
        }))
        .await
        .expect("public results")
        .into_inner();
    let winners: Vec<&str> = results
        .rankings
        .iter()
        .flat_map(|r| r.applications.iter().filter(|a| a.winner))
        .map(|a| a.title.as_str())
        .collect();
    assert_eq!(
        winners.len(),
        3,
        "one per nomination with applications: {winners:?}"
    );

    // The catalogue finds words in any grammatical form, without a token.
    let mut catalogue = CatalogueServiceClient::new(suite.gateway().await);
    let found = catalogue
        .search_practices(tonic::Request::new(pb::SearchPracticesRequest {
            query: "семья".into(),
            ..Default::default()
        }))
        .await
        .expect("search")
        .into_inner()
        .practices;
    let mut nominations: Vec<&str> = found.iter().map(|p| p.nomination_id.as_str()).collect();
    nominations.sort();
    assert_eq!(
        nominations,
        ["family", "health"],
        "«семей» and «семьи» both match «семья»; the safety practice does not: {found:?}"
    );
    let all = catalogue
        .search_practices(tonic::Request::new(pb::SearchPracticesRequest::default()))
        .await
        .expect("everything")
        .into_inner()
        .practices;
    assert_eq!(all.len(), 3);

    // Tver asked to replicate the first practice and started; the practice shows it.
    let replicated: Vec<&pb::Practice> = all.iter().filter(|p| p.replication_count == 1).collect();
    assert_eq!(replicated.len(), 1);
    let replications = catalogue
        .list_replications(authorised(
            &team_token("demo-tver-lead", "RU-TVE"),
            pb::ListReplicationsRequest {
                parent: replicated[0].name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("replications")
        .into_inner()
        .replications;
    assert_eq!(replications.len(), 1);
    assert_eq!(
        replications[0].state,
        pb::ReplicationState::InProgress as i32
    );
    assert_eq!(replications[0].contact_details, "demo@example.org");

    // A replication needs a token.
    let anonymous = catalogue
        .list_replications(tonic::Request::new(pb::ListReplicationsRequest {
            parent: "practices/-".into(),
            ..Default::default()
        }))
        .await
        .expect_err("not public");
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    // Other systems followed it all on the event stream.
    let consumer = DevToken::new("notifications")
        .role("competitions.event_consumer")
        .sign();
    let mut stream = EventServiceClient::new(suite.gateway().await)
        .watch_events(authorised(&consumer, pb::WatchEventsRequest::default()))
        .await
        .expect("stream")
        .into_inner();
    let mut counts: BTreeMap<i32, usize> = BTreeMap::new();
    while counts.values().sum::<usize>() < 6 + 18 + 1 {
        let event = tokio::time::timeout(Duration::from_secs(60), stream.message())
            .await
            .expect("the events arrive")
            .expect("the stream stays open")
            .expect("an event");
        *counts.entry(event.r#type).or_default() += 1;
    }
    assert_eq!(
        counts,
        BTreeMap::from([
            (pb::EventType::ApplicationSubmitted as i32, 6),
            (pb::EventType::ReviewCompleted as i32, 18),
            (pb::EventType::WinnersAnnounced as i32, 1),
        ])
    );
    drop(stream);
    crate::telemetry::assert_dashboard_series_exist(&suite).await;
    suite.stop().await;
}
