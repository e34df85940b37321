//! The mentoring service through the gateway, end to end (issue 16): the demo «Мечта» is
//! loaded as its people would do it — the regional centre registers the centre, the director
//! records everyone with their consent and appoints the curator, pairs are formed, signed,
//! ordered and activated, one completes, a parent revokes a consent — then what each caller
//! may see, the revoked pupil hidden from every answer, the current monitoring round answered,
//! assessed and submitted, the yearly report read, exported as CSV and submitted, the region
//! summary, and the event stream that followed it.

use std::collections::BTreeMap;
use std::time::Duration;

use edu_kit::auth::dev::DevToken;
use edu_mentoring::demo::{self, INSTITUTION_ID, REGION};
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::event_service_client::EventServiceClient;
use edu_proto::edu::mentoring::v1::institution_service_client::InstitutionServiceClient;
use edu_proto::edu::mentoring::v1::monitoring_service_client::MonitoringServiceClient;
use edu_proto::edu::mentoring::v1::pair_service_client::PairServiceClient;
use edu_proto::edu::mentoring::v1::participant_service_client::ParticipantServiceClient;
use edu_proto::edu::mentoring::v1::report_service_client::ReportServiceClient;
use futures::StreamExt;
use prost::Message;
use tonic::Code;

use crate::harness::*;

/// The revoked pupil's family name in the demo: it must appear in no answer.
const REVOKED_FAMILY_NAME: &str = "Пробников";

fn parent() -> String {
    format!("institutions/{INSTITUTION_ID}")
}

/// Every pair a caller sees, through the pages.
async fn pairs_seen(
    pairs: &mut PairServiceClient<tonic::transport::Channel>,
    token: &str,
) -> Vec<pb::Pair> {
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = pairs
            .list_pairs(authorised(
                token,
                pb::ListPairsRequest {
                    parent: parent(),
                    page_size: 4,
                    page_token: page_token.clone(),
                    ..Default::default()
                },
            ))
            .await
            .expect("pairs")
            .into_inner();
        seen.extend(page.pairs);
        if page.next_page_token.is_empty() {
            return seen;
        }
        page_token = page.next_page_token;
    }
}

#[tokio::test]
async fn the_demo_centre_runs_through_the_gateway_and_a_revoked_pupil_appears_nowhere() {
    let suite = TestSuite::start().await;
    let channel = suite.gateway().await;
    let consumer = DevToken::new("e2e-mentoring-events")
        .role("mentoring.event_consumer")
        .sign();
    let mut events = EventServiceClient::new(channel.clone())
        .watch_events(authorised(&consumer, pb::WatchEventsRequest::default()))
        .await
        .expect("the event stream")
        .into_inner();

    demo::load(channel.clone()).await.expect("the demo");
    let again = demo::load(channel.clone())
        .await
        .expect("loading twice is harmless");
    assert!(again[0].contains("already loaded"), "{again:?}");

    // The director sees every pair: one ACTIVE of each of the six types and a group, one
    // COMPLETED, one SUSPENDED by the revocation.
    let director = demo::director();
    let mut pairs = PairServiceClient::new(channel.clone());
    let all = pairs_seen(&mut pairs, &director).await;
    assert_eq!(all.len(), 9, "{all:#?}");
    let mut by_state: BTreeMap<i32, usize> = BTreeMap::new();
    for pair in &all {
        *by_state.entry(pair.state).or_default() += 1;
    }
    assert_eq!(by_state.get(&(pb::PairState::Active as i32)), Some(&7));
    assert_eq!(by_state.get(&(pb::PairState::Completed as i32)), Some(&1));
    assert_eq!(by_state.get(&(pb::PairState::Suspended as i32)), Some(&1));
    let active_types: std::collections::BTreeSet<i32> = all
        .iter()
        .filter(|p| p.state == pb::PairState::Active as i32)
        .map(|p| p.pair_type)
        .collect();
    assert_eq!(active_types.len(), 6, "one ACTIVE pair of every type");
    assert!(
        all.iter()
            .any(|p| p.kind == pb::PairKind::Group as i32 && p.mentees.len() == 3)
    );
    let suspended = all
        .iter()
        .find(|p| p.state == pb::PairState::Suspended as i32)
        .expect("the suspended pair");
    assert!(
        suspended.redacted,
        "a pair with a redacted member hides its texts"
    );
    assert!(suspended.goal.is_empty());
    assert!(
        suspended
            .mentee_people
            .iter()
            .all(|m| m.redacted && m.display_name.is_empty())
    );

    // The revoked pupil's name is in no answer: not in the pairs, not in the participants.
    let mut participants = ParticipantServiceClient::new(channel.clone());
    let people = participants
        .list_participants(authorised(
            &director,
            pb::ListParticipantsRequest {
                parent: parent(),
                page_size: 100,
                ..Default::default()
            },
        ))
        .await
        .expect("participants")
        .into_inner();
    assert_eq!(people.participants.len(), 15);
    assert_eq!(people.participants.iter().filter(|p| p.redacted).count(), 1);
    for answer in [
        people.encode_to_vec(),
        pb::ListPairsResponse {
            pairs: all.clone(),
            next_page_token: String::new(),
        }
        .encode_to_vec(),
    ] {
        assert!(
            !String::from_utf8_lossy(&answer).contains(REVOKED_FAMILY_NAME),
            "the revoked pupil's name leaked"
        );
    }

    // A parent sees only their own child's pair; a counsellor the pairs they are in; another
    // institution's director nothing of «Мечта».
    let own = pairs_seen(&mut pairs, &demo::guardian("pupil-1")).await;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].pair_type, pb::PairType::CounsellorPupil as i32);
    let counsellor = pairs_seen(&mut pairs, &demo::participant("counsellor")).await;
    assert_eq!(counsellor.len(), 4, "mentee of one, mentor of three");
    let elsewhere = DevToken::new("e2e-other-director")
        .role("mentoring.director")
        .scope("institution:elsewhere")
        .sign();
    let refused = pairs
        .get_pair(authorised(
            &elsewhere,
            pb::GetPairRequest {
                name: all[0].name.clone(),
            },
        ))
        .await
        .expect_err("outside the tenant");
    assert_eq!(refused.code(), Code::NotFound);

    // The current monitoring round is OPEN with the seven ACTIVE pairs.
    let rounds = MonitoringServiceClient::new(channel.clone())
        .list_monitoring_rounds(authorised(
            &director,
            pb::ListMonitoringRoundsRequest {
                parent: parent(),
                ..Default::default()
            },
        ))
        .await
        .expect("rounds")
        .into_inner()
        .monitoring_rounds;
    assert_eq!(rounds.len(), 1);
    assert_eq!(rounds[0].state, pb::MonitoringRoundState::Open as i32);
    assert_eq!(rounds[0].pairs, 7);

    // The counsellor answers their questionnaire of the round; the director assesses every
    // pair and submits the round, before its deadline (20 December or 20 May).
    let mut monitoring = MonitoringServiceClient::new(channel.clone());
    let counsellor_token = demo::participant("counsellor");
    let own = monitoring
        .list_questionnaires(authorised(
            &counsellor_token,
            pb::ListQuestionnairesRequest {
                parent: rounds[0].name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("own questionnaires")
        .into_inner()
        .questionnaires;
    assert!(!own.is_empty());
    let answered = monitoring
        .submit_questionnaire(authorised(
            &counsellor_token,
            pb::SubmitQuestionnaireRequest {
                name: own[0].name.clone(),
                answers: vec![pb::Answer {
                    question_id: "satisfaction".into(),
                    score: 9,
                    text: String::new(),
                }],
                etag: String::new(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("answered")
        .into_inner();
    assert_eq!(answered.answered_by, pb::ActorKind::Subject as i32);
    let results = monitoring
        .list_pair_results(authorised(
            &director,
            pb::ListPairResultsRequest {
                parent: rounds[0].name.clone(),
                page_size: 50,
                ..Default::default()
            },
        ))
        .await
        .expect("pair results")
        .into_inner()
        .pair_results;
    assert_eq!(results.len(), 7);
    for result in results {
        monitoring
            .update_pair_result(authorised(
                &director,
                pb::UpdatePairResultRequest {
                    pair_result: Some(pb::PairResult {
                        name: result.name,
                        assessment: pb::PairAssessment::Effective as i32,
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["assessment".into()],
                    }),
                },
            ))
            .await
            .expect("assessed");
    }
    let submitted = monitoring
        .submit_monitoring_round(authorised(
            &director,
            pb::SubmitMonitoringRoundRequest {
                name: rounds[0].name.clone(),
                summary: "Все пары работают".into(),
                etag: String::new(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("the round submitted")
        .into_inner();
    assert_eq!(submitted.state, pb::MonitoringRoundState::Submitted as i32);
    assert!(!submitted.late, "submitted before its due day");

    // The regional centre reads the region's figures and the yearly report's CSV, which
    // name nobody; the year of the demo's pairs is the year its September fell in.
    let centre = demo::regional_centre();
    let institutions = InstitutionServiceClient::new(channel.clone())
        .list_institutions(authorised(
            &centre,
            pb::ListInstitutionsRequest {
                region_code: REGION.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("institutions")
        .into_inner();
    assert_eq!(institutions.institutions.len(), 1);
    let mut reports = ReportServiceClient::new(channel.clone());
    let summary = reports
        .get_region_summary(authorised(
            &centre,
            pb::GetRegionSummaryRequest {
                region_code: REGION.into(),
            },
        ))
        .await
        .expect("the region summary")
        .into_inner();
    assert_eq!(summary.active_pairs + summary.active_groups, 7);
    assert_eq!(summary.active_groups, 1);
    let year = all
        .iter()
        .filter_map(|p| p.activate_time.as_ref())
        .map(|t| jiff::Timestamp::from_second(t.seconds).expect("instant"))
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).year())
        .next()
        .expect("an activation");
    let mut csv = Vec::new();
    let mut chunks = reports
        .export_yearly_report(authorised(
            &centre,
            pb::ExportYearlyReportRequest {
                name: format!("{}/yearlyReports/{year}", parent()),
            },
        ))
        .await
        .expect("the yearly report's CSV")
        .into_inner();
    while let Some(chunk) = chunks.next().await {
        csv.extend(chunk.expect("a chunk").data);
    }
    let text = String::from_utf8(csv).expect("UTF-8");
    let rows: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 21, "a header and 20 data rows:\n{text}");
    assert!(!text.contains(REVOKED_FAMILY_NAME));
    let report_name = format!("{}/yearlyReports/{year}", parent());
    let report = reports
        .get_yearly_report(authorised(
            &director,
            pb::GetYearlyReportRequest {
                name: report_name.clone(),
            },
        ))
        .await
        .expect("the yearly report")
        .into_inner();
    let figures = report.figures.expect("figures");
    assert_eq!(
        figures.pairs + figures.groups,
        9,
        "every pair that worked this year"
    );
    assert!(figures.mentees >= 10, "{figures:?}");
    let submitted = reports
        .submit_yearly_report(authorised(
            &director,
            pb::SubmitYearlyReportRequest {
                name: report_name,
                etag: report.etag,
                request_id: String::new(),
            },
        ))
        .await
        .expect("the yearly report submitted")
        .into_inner();
    assert_eq!(submitted.state, pb::YearlyReportState::Submitted as i32);

    // The stream carried every activation, the completion and the revocation.
    let mut seen: BTreeMap<i32, usize> = BTreeMap::new();
    while seen.values().sum::<usize>() < 12 {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("the events arrive")
            .expect("the stream stays open")
            .expect("an event");
        assert_eq!(event.region_code, REGION);
        *seen.entry(event.r#type).or_default() += 1;
    }
    assert_eq!(seen.get(&(pb::EventType::PairActivated as i32)), Some(&9));
    assert_eq!(seen.get(&(pb::EventType::PairCompleted as i32)), Some(&1));
    assert_eq!(seen.get(&(pb::EventType::ConsentRevoked as i32)), Some(&1));
    assert_eq!(
        seen.get(&(pb::EventType::MonitoringSubmitted as i32)),
        Some(&1)
    );

    suite.stop().await;
}
