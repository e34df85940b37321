//! Tests generated from the contracts: every method of every service in `proto/`, read from
//! the descriptor set the binaries serve, so that a method added tomorrow is covered the day
//! it is added (issue 12, item 10). `hostile` sends hostile values in every field; `access`
//! calls every method as every kind of stranger; `reflection` walks both reflection
//! endpoints. The helpers here build requests from descriptors and call a method by its
//! path with raw bytes, so that any body at all can be sent.

// The figures these tests print (methods, calls, failures) are part of what they report.
#![allow(clippy::print_stdout)]

mod access;
mod hostile;
mod reflection;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use prost::Message;
use prost_reflect::{
    DescriptorPool, DynamicMessage, ExtensionDescriptor, FieldDescriptor, Kind, MessageDescriptor,
    MethodDescriptor, ReflectMessage, Value,
};
use tonic::Code;
use tonic::transport::Channel;
use tower::{Service, ServiceExt};

/// The suite's contracts as a descriptor pool.
pub fn pool() -> DescriptorPool {
    DescriptorPool::decode(edu_proto::FILE_DESCRIPTOR_SET).expect("the descriptor set decodes")
}

/// Every method of the suite's services (`edu.*`), in a stable order.
pub fn methods(pool: &DescriptorPool) -> Vec<MethodDescriptor> {
    let mut methods: Vec<MethodDescriptor> = pool
        .services()
        .filter(|s| s.package_name().starts_with("edu."))
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .collect();
    methods.sort_by_key(path);
    methods
}

/// `/package.Service/Method`.
pub fn path(method: &MethodDescriptor) -> String {
    format!("/{}/{}", method.parent_service().full_name(), method.name())
}

/// Whether the method answers without a token.
pub fn is_public(method: &MethodDescriptor) -> bool {
    edu_proto::PUBLIC_METHODS.contains(&path(method).as_str())
}

/// What a call answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status; `Ok` for a call that succeeded.
    pub code: Code,
    /// `ErrorInfo.reason`, empty without one.
    pub reason: String,
    /// The status message.
    pub message: String,
    /// Whether the refusal carried a Russian `LocalizedMessage`.
    pub russian: bool,
    /// The `BadRequest` field paths.
    pub fields: Vec<String>,
    /// The response messages (for a unary call, at most one).
    pub messages: Vec<Bytes>,
}

impl Answer {
    /// `(code, reason)`, what two answers are compared by.
    pub fn outcome(&self) -> (Code, String) {
        (self.code, self.reason.clone())
    }
}

/// How long a test call may take before it counts as a hang: the call's own deadline (sent
/// as `grpc-timeout`) plus this.
const HANG_MARGIN: Duration = Duration::from_secs(5);

/// Calls `path` with `body` as the raw HTTP/2 request body (a gRPC frame or anything else),
/// a bearer `token` when given, and a deadline of `deadline`. Panics when no status arrives
/// in time: that is a hang.
pub async fn call_raw(
    channel: &Channel,
    path: &str,
    token: Option<&str>,
    body: Bytes,
    deadline: Duration,
) -> Answer {
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://gateway{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header(
            "grpc-timeout",
            edu_kit::pipeline::format_grpc_timeout(deadline),
        );
    if let Some(token) = token {
        // With a stated purpose, so that the reads that release personal data only for one
        // (a child's records) are judged on who asks and what, like every other method.
        request = request
            .header("authorization", format!("Bearer {token}"))
            .header(edu_kit::context::PURPOSE_HEADER, "contract-check");
    }
    let request = request
        .body(tonic::body::Body::new(http_body_util::Full::new(body)))
        .expect("request");
    let exchange = async {
        let mut channel = channel.clone();
        let response = channel
            .ready()
            .await
            .expect("channel ready")
            .call(request)
            .await
            .unwrap_or_else(|e| panic!("{path}: the call failed without a status: {e}"));
        let (parts, body) = response.into_parts();
        if let Some(status) = tonic::Status::from_header_map(&parts.headers) {
            return answer(status, Vec::new());
        }
        let collected = body
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{path}: the response broke off without a status: {e}"));
        let trailers = collected.trailers().cloned().unwrap_or_default();
        let frames = split_frames(collected.to_bytes());
        let status = tonic::Status::from_header_map(&trailers)
            .unwrap_or_else(|| panic!("{path}: the response ended without a grpc-status"));
        answer(status, frames)
    };
    tokio::time::timeout(deadline + HANG_MARGIN, exchange)
        .await
        .unwrap_or_else(|_| panic!("{path}: no status within {deadline:?} + {HANG_MARGIN:?}"))
}

fn answer(status: tonic::Status, messages: Vec<Bytes>) -> Answer {
    use tonic_types::StatusExt;
    let details = status.get_error_details();
    Answer {
        code: status.code(),
        reason: details
            .error_info()
            .map(|i| i.reason.clone())
            .unwrap_or_default(),
        message: status.message().to_string(),
        russian: details
            .localized_message()
            .is_some_and(|m| m.locale == "ru-RU" && !m.message.is_empty()),
        fields: details
            .bad_request()
            .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
            .unwrap_or_default(),
        messages,
    }
}

/// A message as one gRPC frame.
pub fn frame(message: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(message.len() + 5);
    out.push(0);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    Bytes::from(out)
}

fn split_frames(mut body: Bytes) -> Vec<Bytes> {
    let mut frames = Vec::new();
    while body.len() >= 5 {
        let length = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        if body.len() < 5 + length {
            break;
        }
        frames.push(body.slice(5..5 + length));
        body = body.slice(5 + length..);
    }
    frames
}

/// The extensions the generators read from the descriptors.
pub struct Annotations {
    /// `(edu.api.v1.max_length)`.
    pub max_length: ExtensionDescriptor,
    behaviour: ExtensionDescriptor,
    reference: ExtensionDescriptor,
    resource: ExtensionDescriptor,
}

impl Annotations {
    /// The extensions of `pool`.
    pub fn of(pool: &DescriptorPool) -> Self {
        let get = |name: &str| {
            pool.get_extension_by_name(name)
                .unwrap_or_else(|| panic!("{name} is not in the descriptor set"))
        };
        Annotations {
            max_length: get("edu.api.v1.max_length"),
            behaviour: get("google.api.field_behavior"),
            reference: get("google.api.resource_reference"),
            resource: get("google.api.resource"),
        }
    }

    /// Whether the field is OUTPUT_ONLY (ignored in requests).
    pub fn output_only(&self, field: &FieldDescriptor) -> bool {
        let options = field.options();
        options.has_extension(&self.behaviour)
            && match options.get_extension(&self.behaviour).as_ref() {
                Value::List(values) => values.iter().any(|v| v.as_enum_number() == Some(3)),
                other => other.as_enum_number() == Some(3),
            }
    }

    /// The resource a string field refers to: `(type, is_parent)` for `type` or
    /// `child_type` references, and for the `name` field of a resource message.
    pub fn reference(&self, field: &FieldDescriptor) -> Option<(String, bool)> {
        let options = field.options();
        if options.has_extension(&self.reference)
            && let Value::Message(reference) = options.get_extension(&self.reference).as_ref()
        {
            let text = |name: &str| {
                reference
                    .get_field_by_name(name)
                    .and_then(|v| v.as_str().map(str::to_string))
                    .filter(|s| !s.is_empty())
            };
            if let Some(kind) = text("type") {
                return Some((kind, false));
            }
            if let Some(kind) = text("child_type") {
                return Some((kind, true));
            }
        }
        if field.name() == "name" {
            return self
                .resource_type(field.parent_message())
                .map(|t| (t, false));
        }
        None
    }

    /// The `google.api.resource` type of a message, if it is a resource.
    pub fn resource_type(&self, message: &MessageDescriptor) -> Option<String> {
        let options = message.options();
        if !options.has_extension(&self.resource) {
            return None;
        }
        match options.get_extension(&self.resource).as_ref() {
            Value::Message(resource) => resource
                .get_field_by_name("type")
                .and_then(|v| v.as_str().map(str::to_string)),
            _ => None,
        }
    }

    /// Every resource type and its first pattern, `contests/{contest}/applications/{application}`.
    pub fn patterns(&self, pool: &DescriptorPool) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for message in pool.all_messages() {
            let options = message.options();
            if !options.has_extension(&self.resource) {
                continue;
            }
            if let Value::Message(resource) = options.get_extension(&self.resource).as_ref() {
                let kind = resource
                    .get_field_by_name("type")
                    .and_then(|v| v.as_str().map(str::to_string));
                let pattern = resource.get_field_by_name("pattern").and_then(|v| {
                    v.as_list()
                        .and_then(|l| l.first())
                        .and_then(|p| p.as_str().map(str::to_string))
                });
                if let (Some(kind), Some(pattern)) = (kind, pattern) {
                    out.push((kind, pattern));
                }
            }
        }
        out
    }
}

/// A name of `pattern` that nothing has: every variable a fresh ID.
pub fn missing_name(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                format!(
                    "missing-{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..12]
                )
            } else {
                segment.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The parent of a name: without its last collection and ID.
pub fn parent_of(name: &str) -> String {
    let parts: Vec<&str> = name.split('/').collect();
    parts[..parts.len().saturating_sub(2)].join("/")
}

/// Fills a request with plausible values, so that calls get past the first field checks:
/// identifiers, a region and a municipality of the demo, dates in the programme's calendar,
/// the first value of every enum, one item in every list. `names` gives the value of a field
/// that refers to a resource, by (type, is_parent).
pub fn plausible(
    message: &MessageDescriptor,
    annotations: &Annotations,
    names: &dyn Fn(&str, bool) -> Option<String>,
    depth: usize,
) -> DynamicMessage {
    let mut out = DynamicMessage::new(message.clone());
    if message.full_name() == "google.type.Date" {
        for (field, value) in [("year", 2025), ("month", 1), ("day", 15)] {
            out.set_field_by_name(field, Value::I32(value));
        }
        return out;
    }
    if message.full_name() == "google.protobuf.Timestamp" {
        out.set_field_by_name("seconds", Value::I64(1_736_935_200));
        return out;
    }
    if depth > 3 {
        return out;
    }
    for field in message.fields() {
        if annotations.output_only(&field) || field.containing_oneof().is_some() {
            continue;
        }
        let value = match field.kind() {
            Kind::String => {
                let text = match annotations.reference(&field) {
                    Some((kind, parent)) => names(&kind, parent).unwrap_or_default(),
                    None => plausible_text(field.name()),
                };
                Value::String(text)
            }
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(plausible_number(&field)),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                Value::I64(i64::from(plausible_number(&field)))
            }
            Kind::Uint32 | Kind::Fixed32 => Value::U32(1),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(1),
            Kind::Bool => Value::Bool(false),
            Kind::Double => Value::F64(1.0),
            Kind::Float => Value::F32(1.0),
            Kind::Bytes => Value::Bytes(Bytes::from_static(b"x")),
            Kind::Enum(e) => Value::EnumNumber(
                e.values()
                    .map(|v| v.number())
                    .find(|n| *n != 0)
                    .unwrap_or(0),
            ),
            Kind::Message(inner) => {
                if field.is_map() {
                    continue;
                }
                if inner.full_name() == "google.protobuf.FieldMask" {
                    continue;
                }
                Value::Message(plausible(&inner, annotations, names, depth + 1))
            }
        };
        let value = if field.is_list() {
            Value::List(vec![value])
        } else {
            value
        };
        out.set_field(&field, value);
    }
    out
}

fn plausible_text(field: &str) -> String {
    match field {
        "request_id" => uuid::Uuid::new_v4().to_string(),
        "etag" | "page_token" | "cursor" | "after_cursor" | "query" => String::new(),
        f if f.ends_with("region_code") => "RU-ALT".into(),
        f if f.ends_with("municipality_code") => "mikhailovsky".into(),
        "time_zone" => "Europe/Moscow".into(),
        "currency" => "RUB".into(),
        f if f.ends_with("_id") => format!(
            "contract-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ),
        _ => "Проверка контракта".into(),
    }
}

fn plausible_number(field: &FieldDescriptor) -> i32 {
    match field.name() {
        "page_size" => 10,
        _ => 1,
    }
}

/// Encodes a dynamic message.
pub fn encode(message: &DynamicMessage) -> Vec<u8> {
    message.encode_to_vec()
}

/// The `name`s of the resources in a response message, at any depth.
pub fn names_in(message: &DynamicMessage, annotations: &Annotations) -> Vec<String> {
    let mut out = Vec::new();
    let descriptor = message.descriptor();
    if annotations.resource_type(&descriptor).is_some()
        && let Some(name) = message.get_field_by_name("name")
        && let Some(text) = name.as_str()
        && !text.is_empty()
    {
        out.push(text.to_string());
    }
    for field in descriptor.fields() {
        if let Kind::Message(_) = field.kind() {
            let value = message.get_field(&field);
            match value.as_ref() {
                Value::Message(inner) => out.extend(names_in(inner, annotations)),
                Value::List(items) => {
                    for item in items {
                        if let Value::Message(inner) = item {
                            out.extend(names_in(inner, annotations));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}
