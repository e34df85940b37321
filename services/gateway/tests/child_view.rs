//! The child's cross-programme view against fake services whose behaviour each test sets:
//! answering, refusing with a code, or stalling far past the part's deadline. The gateway
//! passes the caller's token and purpose on, reports every part, and turns "nothing was
//! released" into one refusal that does not tell a child out of reach from no child at all.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{serve, start_gateway_with};
use edu_devstack::process::Process;
use edu_kit::auth::dev::DevToken;
use edu_kit::context::PURPOSE_HEADER;
use edu_proto::edu::api::v1::ChildIdentity;
use edu_proto::edu::gateway::v1 as pb;
use edu_proto::edu::gateway::v1::gateway_service_client::GatewayServiceClient;
use edu_proto::google::r#type::Date;
use http_body_util::StreamBody;
use hyper::body::{Bytes, Frame};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::service::Routes;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

/// How long a stalled service takes: far past the part's deadline.
const STALL: Duration = Duration::from_secs(30);
/// The part deadline the gateway is started with.
const PART_TIMEOUT_MS: &str = "400";
/// The services asked, with the backend name each has and the gRPC service it serves.
const SERVICES: [(&str, &str); 3] = [
    ("certificates", "edu.certificates.v1.CertificateService"),
    ("aid", "edu.aid.v1.ChildService"),
    ("mentoring", "edu.mentoring.v1.ParticipantService"),
];

/// What a fake service does with a call.
#[derive(Debug, Clone)]
enum Behaviour {
    /// Answers with an empty message (every field at its default).
    Answer,
    /// Refuses with this code.
    Refuse(Code),
    /// Answers only after [`STALL`].
    Stall,
}

/// One fake service: its behaviour, set by the test, and the metadata of every call that
/// reached it.
#[derive(Debug, Clone)]
struct Fake {
    behaviour: Arc<Mutex<Behaviour>>,
    seen: Arc<Mutex<Vec<MetadataMap>>>,
}

impl Fake {
    fn new() -> Self {
        Fake {
            behaviour: Arc::new(Mutex::new(Behaviour::Answer)),
            seen: Arc::default(),
        }
    }

    fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().expect("lock") = behaviour;
    }

    fn calls(&self) -> Vec<MetadataMap> {
        self.seen.lock().expect("lock").clone()
    }

    /// Answers any unary call on its own, as a gRPC server would: an empty message (which
    /// decodes as any message with its defaults), or a status.
    async fn answer(
        self,
        request: http::Request<axum::body::Body>,
    ) -> http::Response<axum::body::Body> {
        let (parts, _) = request.into_parts();
        self.seen
            .lock()
            .expect("lock")
            .push(MetadataMap::from_headers(parts.headers));
        let behaviour = self.behaviour.lock().expect("lock").clone();
        match behaviour {
            Behaviour::Refuse(code) => {
                let mut details = tonic_types::ErrorDetails::new();
                details.set_error_info(reason_of(code), "edu.suite", []);
                Status::with_error_details(code, "refused by the fake", details)
                    .into_http::<axum::body::Body>()
            }
            Behaviour::Stall => {
                tokio::time::sleep(STALL).await;
                empty_message()
            }
            Behaviour::Answer => empty_message(),
        }
    }
}

fn reason_of(code: Code) -> &'static str {
    match code {
        Code::NotFound => "NOT_FOUND",
        Code::PermissionDenied => "ROLE_REQUIRED",
        Code::InvalidArgument => "INVALID_FIELDS",
        _ => "FAKE",
    }
}

/// A gRPC answer carrying one empty message and status OK.
fn empty_message() -> http::Response<axum::body::Body> {
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
    let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = vec![
        // The length-prefixed message: not compressed, zero bytes long.
        Ok(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0]))),
        Ok(Frame::trailers(trailers)),
    ];
    http::Response::builder()
        .header("content-type", "application/grpc")
        .body(axum::body::Body::new(StreamBody::new(
            futures::stream::iter(frames),
        )))
        .expect("a response")
}

/// The three fakes and the gateway in front of them.
struct Scene {
    gateway: Process,
    channel: tonic::transport::Channel,
    certificates: Fake,
    aid: Fake,
    mentoring: Fake,
}

impl Scene {
    async fn start() -> Scene {
        let (certificates, aid, mentoring) = (Fake::new(), Fake::new(), Fake::new());
        let mut backends = Vec::new();
        for ((name, _), fake) in SERVICES.iter().zip([&certificates, &aid, &mentoring]) {
            let fake = fake.clone();
            let router = axum::Router::new().fallback(move |request| fake.clone().answer(request));
            let addr = serve(Routes::from(router)).await;
            backends.push(format!("{name}={addr}"));
        }
        let (gateway, channel) = start_gateway_with(
            &backends.join(","),
            &[("EDU_GATEWAY_SUMMARY_PART_TIMEOUT_MS", PART_TIMEOUT_MS)],
            &SERVICES.map(|(_, service)| service),
        )
        .await;
        Scene {
            gateway,
            channel,
            certificates,
            aid,
            mentoring,
        }
    }

    fn set(&self, certificates: Behaviour, aid: Behaviour, mentoring: Behaviour) {
        self.certificates.set(certificates);
        self.aid.set(aid);
        self.mentoring.set(mentoring);
    }

    fn client(&self) -> GatewayServiceClient<tonic::transport::Channel> {
        GatewayServiceClient::new(self.channel.clone())
    }

    async fn stop(self) {
        self.gateway
            .stop(Duration::from_secs(10))
            .await
            .expect("stops");
    }
}

fn identity() -> ChildIdentity {
    ChildIdentity {
        identity_document: "I-ТО 100001".into(),
        family_name: "Иванова".into(),
        given_name: "Анна".into(),
        patronymic: String::new(),
        birth_date: Some(Date {
            year: 2015,
            month: 4,
            day: 12,
        }),
    }
}

fn view_request(
    token: &str,
    purpose: Option<&str>,
    identity: ChildIdentity,
) -> Request<pb::GetChildViewRequest> {
    let mut request = Request::new(pb::GetChildViewRequest {
        identity: Some(identity),
    });
    let bearer: MetadataValue<_> = format!("Bearer {token}").parse().expect("ascii");
    request.metadata_mut().insert("authorization", bearer);
    if let Some(purpose) = purpose {
        request
            .metadata_mut()
            .insert(PURPOSE_HEADER, purpose.parse().expect("ascii"));
    }
    request
}

fn token() -> String {
    DevToken::new("guardian-1")
        .role("certificates.parent")
        .role("mentoring.guardian")
        .sign()
}

fn states(view: &pb::ChildView) -> Vec<(String, pb::PartState, String)> {
    view.parts
        .iter()
        .map(|p| (p.service.clone(), p.state(), p.code.clone()))
        .collect()
}

#[tokio::test]
async fn every_part_says_how_it_went_and_carries_the_caller_and_the_purpose() {
    let scene = Scene::start().await;
    scene.set(
        Behaviour::Answer,
        Behaviour::Stall,
        Behaviour::Refuse(Code::NotFound),
    );
    let token = token();
    let started = Instant::now();
    let view = scene
        .client()
        .get_child_view(view_request(&token, Some("case%20review%2042"), identity()))
        .await
        .expect("a part was released: the view answers")
        .into_inner();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the stalled service did not hold the answer up: {:?}",
        started.elapsed()
    );
    assert_eq!(
        states(&view),
        [
            ("certificates".into(), pb::PartState::Ok, String::new()),
            (
                "aid".into(),
                pb::PartState::DeadlineExceeded,
                "DEADLINE_EXCEEDED".into()
            ),
            (
                "mentoring".into(),
                pb::PartState::Refused,
                "NOT_FOUND".into()
            ),
        ]
    );
    assert!(view.certificates.is_some(), "the released part is set");
    assert!(view.aid.is_none() && view.mentoring.is_none());

    // Every service saw the caller's token and purpose, unchanged.
    for fake in [&scene.certificates, &scene.aid, &scene.mentoring] {
        let calls = fake.calls();
        assert_eq!(calls.len(), 1);
        let text = |key: &str| {
            calls[0]
                .get(key)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        assert_eq!(text("authorization"), Some(format!("Bearer {token}")));
        assert_eq!(
            text(PURPOSE_HEADER).as_deref(),
            Some("case%20review%2042"),
            "the purpose as the caller stated it"
        );
    }
    scene.stop().await;
}

#[tokio::test]
async fn nothing_released_is_one_refusal_and_a_missing_purpose_asks_nobody() {
    let scene = Scene::start().await;
    let token = token();
    let mut client = scene.client();

    // No purpose, or a child described by nothing usable: refused before any service.
    let refused = client
        .get_child_view(view_request(&token, None, identity()))
        .await
        .expect_err("no purpose");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(edu_kit::testing::reason(&refused), "INVALID_FIELDS");
    let fields = |status: &Status| -> Vec<String> {
        status
            .get_error_details()
            .bad_request()
            .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
            .unwrap_or_default()
    };
    assert_eq!(fields(&refused), [PURPOSE_HEADER]);
    let no_date = ChildIdentity {
        birth_date: None,
        ..identity()
    };
    let refused = client
        .get_child_view(view_request(&token, Some("review"), no_date))
        .await
        .expect_err("no birth date");
    assert_eq!(fields(&refused), ["identity.birth_date"]);
    for fake in [&scene.certificates, &scene.aid, &scene.mentoring] {
        assert!(fake.calls().is_empty(), "a refused call asks no service");
    }

    // An operator of another municipality: certificates does not find the child within
    // their reach, the other services do not know the role. One NOT_FOUND.
    scene.set(
        Behaviour::Refuse(Code::NotFound),
        Behaviour::Refuse(Code::PermissionDenied),
        Behaviour::Refuse(Code::PermissionDenied),
    );
    let refused = client
        .get_child_view(view_request(&token, Some("review"), identity()))
        .await
        .expect_err("nothing released");
    assert_eq!(refused.code(), Code::NotFound);
    assert_eq!(edu_kit::testing::reason(&refused), "NOT_FOUND");
    assert!(
        !refused.message().contains("100001") && !refused.message().contains("Иванова"),
        "the refusal names nothing of the child: {}",
        refused.message()
    );

    // No service let the caller in at all.
    scene.set(
        Behaviour::Refuse(Code::PermissionDenied),
        Behaviour::Refuse(Code::PermissionDenied),
        Behaviour::Refuse(Code::PermissionDenied),
    );
    let refused = client
        .get_child_view(view_request(&token, Some("review"), identity()))
        .await
        .expect_err("no role anywhere");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(edu_kit::testing::reason(&refused), "ROLE_REQUIRED");

    // An outage says nothing of the child: the view answers with its parts.
    scene.set(
        Behaviour::Refuse(Code::NotFound),
        Behaviour::Refuse(Code::Unavailable),
        Behaviour::Refuse(Code::PermissionDenied),
    );
    let view = client
        .get_child_view(view_request(&token, Some("review"), identity()))
        .await
        .expect("an outage is reported in the parts")
        .into_inner();
    assert_eq!(view.parts[1].state(), pb::PartState::Unavailable);
    scene.stop().await;
}
