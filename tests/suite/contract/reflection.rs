//! Reflection on both endpoints (issue 12, item 7): every service either endpoint lists, on
//! the gateway and on each service, can be described on both, with the file that declares it.

use tokio_stream::StreamExt;
use tonic_reflection::pb::{v1, v1alpha};

use crate::harness::TestSuite;

async fn services_v1(channel: tonic::transport::Channel) -> (Vec<String>, Vec<String>) {
    use v1::server_reflection_request::MessageRequest;
    use v1::server_reflection_response::MessageResponse;
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel);
    let ask = |request: MessageRequest| v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([ask(MessageRequest::ListServices(
            String::new(),
        ))]))
        .await
        .expect("v1 list")
        .into_inner();
    let listed: Vec<String> = match responses.next().await {
        Some(Ok(v1::ServerReflectionResponse {
            message_response: Some(MessageResponse::ListServicesResponse(list)),
            ..
        })) => list.service.into_iter().map(|s| s.name).collect(),
        other => panic!("v1 list: {other:?}"),
    };
    let requests: Vec<_> = listed
        .iter()
        .map(|s| ask(MessageRequest::FileContainingSymbol(s.clone())))
        .collect();
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .expect("v1 describe")
        .into_inner();
    let mut undescribed = Vec::new();
    for service in &listed {
        match responses.next().await {
            Some(Ok(v1::ServerReflectionResponse {
                message_response: Some(MessageResponse::FileDescriptorResponse(files)),
                ..
            })) if !files.file_descriptor_proto.is_empty() => {}
            other => undescribed.push(format!("v1 {service}: {other:?}")),
        }
    }
    (listed, undescribed)
}

async fn services_v1alpha(channel: tonic::transport::Channel) -> (Vec<String>, Vec<String>) {
    use v1alpha::server_reflection_request::MessageRequest;
    use v1alpha::server_reflection_response::MessageResponse;
    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let ask = |request: MessageRequest| v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([ask(MessageRequest::ListServices(
            String::new(),
        ))]))
        .await
        .expect("v1alpha list")
        .into_inner();
    let listed: Vec<String> = match responses.next().await {
        Some(Ok(v1alpha::ServerReflectionResponse {
            message_response: Some(MessageResponse::ListServicesResponse(list)),
            ..
        })) => list.service.into_iter().map(|s| s.name).collect(),
        other => panic!("v1alpha list: {other:?}"),
    };
    let requests: Vec<_> = listed
        .iter()
        .map(|s| ask(MessageRequest::FileContainingSymbol(s.clone())))
        .collect();
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .expect("v1alpha describe")
        .into_inner();
    let mut undescribed = Vec::new();
    for service in &listed {
        match responses.next().await {
            Some(Ok(v1alpha::ServerReflectionResponse {
                message_response: Some(MessageResponse::FileDescriptorResponse(files)),
                ..
            })) if !files.file_descriptor_proto.is_empty() => {}
            other => undescribed.push(format!("v1alpha {service}: {other:?}")),
        }
    }
    (listed, undescribed)
}

#[tokio::test]
async fn every_service_listed_on_either_reflection_endpoint_is_described_on_both() {
    let suite = TestSuite::start().await;
    let mut targets = vec![("gateway", suite.gateway().await)];
    for service in edu_devstack::suite::SERVICES {
        targets.push((service.name, suite.service(service.name).await));
    }
    for (name, channel) in targets {
        let (v1_listed, mut problems) = services_v1(channel.clone()).await;
        let (alpha_listed, alpha_problems) = services_v1alpha(channel).await;
        problems.extend(alpha_problems);
        let mut v1_sorted = v1_listed.clone();
        v1_sorted.sort();
        let mut alpha_sorted = alpha_listed.clone();
        alpha_sorted.sort();
        assert_eq!(
            v1_sorted, alpha_sorted,
            "{name}: both endpoints list the same"
        );
        for reflection in [
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ] {
            assert!(
                v1_sorted.iter().any(|s| s == reflection),
                "{name} lists {reflection}"
            );
        }
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
        println!(
            "reflection: {name} lists {} services, each described on v1 and v1alpha",
            v1_sorted.len()
        );
    }
    suite.stop().await;
}
