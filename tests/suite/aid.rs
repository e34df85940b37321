//! The aid service through the gateway, end to end (issue 15): the demo campaign — schools
//! list children, needs are recorded, a donation is received, allocated and delivered, the
//! budget helps too, appeals move through every state — then what each caller may see, and
//! the event stream that followed it. The calls carry the development clock header, as a
//! suite in development mode accepts, to live through the 2023 campaign.

use std::time::Duration;

use edu_aid::demo::{CAMPAIGN, coordinator, donor, regional, school};
use edu_kit::auth::dev::DevToken;
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::child_service_client::ChildServiceClient;
use edu_proto::edu::aid::v1::donation_service_client::DonationServiceClient;
use edu_proto::edu::aid::v1::event_service_client::EventServiceClient;
use edu_proto::edu::aid::v1::report_service_client::ReportServiceClient;
use futures::StreamExt;
use prost::Message;

use crate::harness::*;

const LATER: &str = "2023-08-26T10:00:00+06:00";

fn call<T>(token: &str, body: T) -> tonic::Request<T> {
    at_instant(authorised(token, body), LATER)
}

#[tokio::test]
async fn the_demo_campaign_runs_through_the_gateway_and_a_donor_sees_no_child() {
    let suite = TestSuite::start().await;
    let channel = suite.gateway().await;
    let consumer = DevToken::new("e2e-aid-events")
        .role("aid.event_consumer")
        .sign();
    let mut events = EventServiceClient::new(channel.clone())
        .watch_events(authorised(&consumer, pb::WatchEventsRequest::default()))
        .await
        .expect("the event stream")
        .into_inner();

    let loaded = edu_aid::demo::load(channel.clone())
        .await
        .expect("the demo");
    let again = edu_aid::demo::load(channel.clone())
        .await
        .expect("loading twice is harmless");
    assert_eq!(loaded, again);

    // Each school sees its own children; Almaty's staff see Almaty's, not Astana's.
    let mut children = ChildServiceClient::new(channel.clone());
    let list = |token: String| {
        let mut children = children.clone();
        async move {
            children
                .list_children(call(
                    &token,
                    pb::ListChildrenRequest {
                        parent: CAMPAIGN.into(),
                        ..Default::default()
                    },
                ))
                .await
                .expect("children")
                .into_inner()
                .children
        }
    };
    assert_eq!(list(school("demo-almaty-12")).await.len(), 2);
    assert_eq!(list(regional("KZ-75")).await.len(), 2);
    let astana = list(regional("KZ-71")).await;
    assert_eq!(astana.len(), 2);
    assert!(
        astana.iter().any(|c| c.iin_suffix == "1037"),
        "answers carry only the IIN's last four digits"
    );
    assert!(astana.iter().all(|c| c.iin.is_empty()));
    // Astana's Нұрлан, listed without an IIN, shares name and birth date with Almaty's.
    assert!(astana.iter().any(|c| c.probable_duplicate));
    let hidden = children
        .get_child(call(
            &regional("KZ-71"),
            pb::GetChildRequest {
                name: list(school("demo-almaty-12")).await[0].name.clone(),
            },
        ))
        .await
        .expect_err("Almaty's child, to Astana's staff");
    assert_eq!(hidden.code(), tonic::Code::NotFound);

    // The donor sees what the donation became, and no child's name or IIN anywhere.
    let mut donations = DonationServiceClient::new(channel.clone());
    let summary = donations
        .get_donor_summary(call(
            &donor(),
            pb::GetDonorSummaryRequest {
                campaign: CAMPAIGN.into(),
            },
        ))
        .await
        .expect("the donor's summary")
        .into_inner();
    assert_eq!(summary.received_money_tiyn, 10_000_000);
    assert_eq!(summary.delivered_tiyn, 5_000_000);
    assert_eq!(summary.children_helped, 2);
    let own = donations
        .list_donations(call(
            &donor(),
            pb::ListDonationsRequest {
                parent: CAMPAIGN.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("the donor's donations")
        .into_inner();
    let allocations = donations
        .list_allocations(call(
            &donor(),
            pb::ListAllocationsRequest {
                parent: own.donations[0].name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("the donor's allocations")
        .into_inner();
    assert_eq!(allocations.allocations.len(), 2);
    let seen = [
        summary.encode_to_vec(),
        own.encode_to_vec(),
        allocations.encode_to_vec(),
    ]
    .concat();
    let seen = String::from_utf8_lossy(&seen);
    for secret in ["Әлия", "Нұрлан", "Демо", "160314601016", "150902501024"] {
        assert!(!seen.contains(secret), "a donor's answers hold {secret}");
    }

    // The coordinator's report counts what the demo did, and names no child.
    let mut reports = ReportServiceClient::new(channel.clone());
    let report = reports
        .get_campaign_report(call(
            &coordinator(),
            pb::GetCampaignReportRequest {
                campaign: CAMPAIGN.into(),
                region_code: String::new(),
            },
        ))
        .await
        .expect("the national report")
        .into_inner();
    assert_eq!(report.regions.len(), 3);
    let figures = report.figures.clone().unwrap_or_default();
    let children = figures.children.unwrap_or_default();
    assert!(
        children.identified >= 5 && children.helped >= 2,
        "{children:?}"
    );
    assert_eq!(figures.donations.unwrap_or_default().donations_received, 1);
    let appeals = figures.appeals.unwrap_or_default();
    assert!(appeals.answered >= 1 && appeals.median_time_to_first_response.is_some());
    let seen = String::from_utf8_lossy(&report.encode_to_vec()).into_owned();
    for secret in ["Әлия", "Нұрлан", "Демо", "160314601016", "150902501024"] {
        assert!(!seen.contains(secret), "the report holds {secret}");
    }

    // Almaty's school prints its fair list as a PDF, streamed through the gateway.
    let mut printed = reports
        .export_fair_list(call(
            &school("demo-almaty-12"),
            pb::ExportFairListRequest {
                campaign: CAMPAIGN.into(),
                school: "schools/demo-almaty-12".into(),
                format: pb::FairListFormat::Pdf as i32,
                include_covered: true,
                ..Default::default()
            },
        ))
        .await
        .expect("the fair list")
        .into_inner();
    let mut pdf = Vec::new();
    let mut content_type = String::new();
    while let Some(chunk) = printed.next().await {
        let chunk = chunk.expect("a chunk");
        if content_type.is_empty() {
            content_type = chunk.content_type;
        }
        assert!(chunk.data.len() <= 64 * 1024);
        pdf.extend_from_slice(&chunk.data);
    }
    assert_eq!(content_type, "application/pdf");
    let text = pdf_extract::extract_text_from_mem(&pdf).expect("text in the PDF");
    assert!(
        text.contains("Әлия"),
        "the list names the school's children"
    );
    assert!(!text.contains("160314601016"), "and never their IIN");

    // The stream: five children listed and one imported, the donation received, three
    // deliveries, one appeal answered.
    let mut counts = std::collections::BTreeMap::new();
    while counts.values().sum::<usize>() < 11 {
        let event = tokio::time::timeout(Duration::from_secs(60), events.next())
            .await
            .expect("the events arrive")
            .expect("the stream stays open")
            .expect("an event");
        assert_eq!(event.campaign, CAMPAIGN);
        assert!(
            ["KZ-75", "KZ-71", "KZ-19"].contains(&event.region_code.as_str()),
            "each event names its region: {event:?}"
        );
        *counts.entry(event.r#type).or_insert(0) += 1;
    }
    use pb::EventType::*;
    assert_eq!(counts.get(&(ChildListed as i32)), Some(&6));
    assert_eq!(counts.get(&(DonationReceived as i32)), Some(&1));
    assert_eq!(counts.get(&(HelpDelivered as i32)), Some(&3));
    assert_eq!(counts.get(&(AppealAnswered as i32)), Some(&1));
    suite.stop().await;
}
