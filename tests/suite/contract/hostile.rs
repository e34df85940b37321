//! Hostile values in every field of every method (issue 12, items 1-3 and 10): oversized and
//! NUL-bearing strings, unknown enum numbers, extreme numbers and dates, malformed names,
//! random bytes as the body and inside a frame. No answer may be INTERNAL, UNKNOWN or
//! UNAVAILABLE, none may hang, every refusal speaks Russian, a string field's violation is
//! named by its path, and every service is still SERVING afterwards.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};
use tonic::Code;

use super::*;
use crate::harness::TestSuite;

/// One step into a request: a field, and for a list its first item.
#[derive(Clone)]
struct Step {
    field: FieldDescriptor,
}

/// The leaf fields of a request, with their paths, to a depth of three messages.
fn leaves(message: &MessageDescriptor, prefix: Vec<Step>, out: &mut Vec<Vec<Step>>) {
    if prefix.len() > 3 {
        return;
    }
    for field in message.fields() {
        let mut path = prefix.clone();
        path.push(Step {
            field: field.clone(),
        });
        match field.kind() {
            Kind::Message(inner) if !field.is_map() => {
                let wkt = inner.full_name().starts_with("google.");
                if wkt {
                    out.push(path);
                } else {
                    leaves(&inner, path, out);
                }
            }
            _ => out.push(path),
        }
    }
}

/// The path as a `BadRequest` names it: `enrolment.programme`, `enrolments[0]`.
fn rendered(path: &[Step]) -> String {
    path.iter()
        .map(|s| {
            if s.field.is_list() {
                format!("{}[0]", s.field.name())
            } else {
                s.field.name().to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Sets `value` at `path` in `message`, creating the messages and list items on the way.
fn set_at(message: &mut DynamicMessage, path: &[Step], value: Value) {
    let (step, rest) = path.split_first().expect("a path");
    if rest.is_empty() {
        let value = if step.field.is_list() {
            Value::List(vec![value])
        } else {
            value
        };
        message.set_field(&step.field, value);
        return;
    }
    let Kind::Message(inner) = step.field.kind() else {
        return;
    };
    let slot = message.get_field_mut(&step.field);
    if step.field.is_list() {
        let items = slot.as_list_mut().expect("a list");
        if items.is_empty() {
            items.push(Value::Message(DynamicMessage::new(inner.clone())));
        }
        if let Some(Value::Message(item)) = items.first_mut() {
            set_at(item, rest, value);
        }
    } else {
        if !matches!(slot, Value::Message(_)) {
            *slot = Value::Message(DynamicMessage::new(inner.clone()));
        }
        if let Value::Message(item) = slot {
            set_at(item, rest, value);
        }
    }
}

/// A hostile variant of a request and what it must be answered with.
struct Case {
    what: String,
    body: Bytes,
    /// The field a refusal must name, when the limits forbid the value outright.
    must_name: Option<String>,
}

/// A string field's `(edu.api.v1.max_length)`, 256 without it.
fn max_length(field: &FieldDescriptor, annotations: &Annotations) -> usize {
    let options = field.options();
    let extension = &annotations.max_length;
    if options.has_extension(extension) {
        options
            .get_extension(extension)
            .as_i32()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(256)
    } else {
        256
    }
}

/// Deterministic noise (xorshift), so that a failure can be replayed.
fn noise(seed: u64, length: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn cases(
    method: &prost_reflect::MethodDescriptor,
    annotations: &Annotations,
    names: &dyn Fn(&str, bool) -> Option<String>,
) -> Vec<Case> {
    let input = method.input();
    let base = plausible(&input, annotations, names, 0);
    let mut out = Vec::new();
    for (n, length) in [0usize, 3, 64].into_iter().enumerate() {
        out.push(Case {
            what: format!("{length} random bytes as the body"),
            body: Bytes::from(noise(n as u64 + 1, length)),
            must_name: None,
        });
        out.push(Case {
            what: format!("{length} random bytes in a frame"),
            body: frame(&noise(n as u64 + 7, length)),
            must_name: None,
        });
    }
    let mut paths = Vec::new();
    leaves(&input, Vec::new(), &mut paths);
    for path in paths {
        let leaf = &path.last().expect("leaf").field;
        let field = rendered(&path);
        // A value inside an output-only field is ignored, so only its answer is judged.
        let checked = !path.iter().any(|s| annotations.output_only(&s.field));
        let mut variant = |what: &str, value: Value, must_name: bool| {
            let mut message = base.clone();
            set_at(&mut message, &path, value);
            out.push(Case {
                what: format!("{field}: {what}"),
                body: frame(&encode(&message)),
                must_name: (must_name && checked).then(|| field.clone()),
            });
        };
        match leaf.kind() {
            Kind::String => {
                let limit = max_length(leaf, annotations);
                variant(
                    &format!("{} characters, one over its limit", limit + 1),
                    Value::String("я".repeat(limit + 1)),
                    true,
                );
                variant("a NUL character", Value::String("a\0b".into()), true);
                if annotations.reference(leaf).is_some() {
                    for malformed in ["x", "contests//a", "../../etc/passwd", "Contests/A B/"] {
                        variant(malformed, Value::String(malformed.into()), false);
                    }
                }
            }
            Kind::Bytes => {
                // 64 KiB, over the default limit; a field that takes more (an upload's
                // chunk) must accept it.
                let limit = max_length(leaf, annotations);
                variant(
                    "64 KiB",
                    Value::Bytes(Bytes::from(vec![0; 65_536])),
                    limit < 65_536,
                )
            }
            Kind::Enum(_) => variant("an unknown number", Value::EnumNumber(9_999), true),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                for n in [i32::MIN, -1, i32::MAX] {
                    variant(&n.to_string(), Value::I32(n), false);
                }
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                for n in [i64::MIN, -1, 1 << 62, i64::MAX] {
                    variant(&n.to_string(), Value::I64(n), false);
                }
            }
            Kind::Double => {
                for x in [f64::NAN, f64::INFINITY, -1e308] {
                    variant(&x.to_string(), Value::F64(x), false);
                }
            }
            Kind::Message(inner) if inner.full_name() == "google.type.Date" => {
                for (y, m, d) in [
                    (0, 0, 0),
                    (1, 1, 1),
                    (9999, 12, 31),
                    (2025, 2, 30),
                    (-5, 99, -1),
                ] {
                    let mut date = DynamicMessage::new(inner.clone());
                    date.set_field_by_name("year", Value::I32(y));
                    date.set_field_by_name("month", Value::I32(m));
                    date.set_field_by_name("day", Value::I32(d));
                    variant(&format!("{y}-{m}-{d}"), Value::Message(date), false);
                }
            }
            Kind::Message(inner) if inner.full_name() == "google.protobuf.Timestamp" => {
                for (seconds, nanos) in [(i64::MIN, 0), (i64::MAX, 999_999_999), (0, -1)] {
                    let mut t = DynamicMessage::new(inner.clone());
                    t.set_field_by_name("seconds", Value::I64(seconds));
                    t.set_field_by_name("nanos", Value::I32(nanos));
                    variant(&format!("{seconds}s {nanos}ns"), Value::Message(t), false);
                }
            }
            Kind::Message(inner) if inner.full_name() == "google.protobuf.FieldMask" => {
                let mut mask = DynamicMessage::new(inner.clone());
                mask.set_field_by_name(
                    "paths",
                    Value::List(vec![Value::String("я".repeat(20_000))]),
                );
                variant("a 20 000-character path", Value::Message(mask), false);
            }
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn hostile_values_in_every_field_of_every_method_never_break_a_service() {
    let suite = TestSuite::start().await;
    let world = super::access::World::load(&suite).await;
    let pool = pool();
    let annotations = Annotations::of(&pool);
    let methods = methods(&pool);
    let token = world.everyone();
    let channel = suite.gateway().await;
    let names = |kind: &str, parent: bool| world.any_name(kind, parent);

    let mut all = Vec::new();
    for method in &methods {
        for case in cases(method, &annotations, &names) {
            all.push((path(method), case));
        }
    }
    let total = all.len();
    let refused = AtomicUsize::new(0);
    let failures: Vec<String> = futures::stream::iter(all)
        .map(|(path, case)| {
            let channel = &channel;
            let token = &token;
            let refused = &refused;
            async move {
                let answer = call_raw(
                    channel,
                    &path,
                    Some(token),
                    case.body,
                    Duration::from_secs(3),
                )
                .await;
                if answer.code != Code::Ok {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
                let mut wrong = Vec::new();
                if matches!(
                    answer.code,
                    Code::Internal | Code::Unknown | Code::DataLoss | Code::Unavailable
                ) {
                    wrong.push(format!("answered {:?}: {}", answer.code, answer.message));
                }
                if answer.code != Code::Ok && !answer.russian {
                    wrong.push(format!(
                        "refused {:?} {} without a Russian LocalizedMessage",
                        answer.code, answer.reason
                    ));
                }
                if let Some(field) = &case.must_name
                    && !(answer.code == Code::InvalidArgument && answer.fields.contains(field))
                {
                    wrong.push(format!(
                        "did not name {field}: {:?} {} {:?}",
                        answer.code, answer.reason, answer.fields
                    ));
                }
                wrong
                    .into_iter()
                    .map(|w| format!("{path} with {}: {w}", case.what))
                    .collect::<Vec<_>>()
            }
        })
        .buffer_unordered(16)
        .flat_map(futures::stream::iter)
        .collect()
        .await;

    // Nothing a caller sent took a service out of the gateway's rotation.
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for service in edu_devstack::suite::SERVICES {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.probe_service.into(),
            })
            .await
            .expect("health")
            .into_inner()
            .status();
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving,
            "{} after the hostile calls",
            service.name
        );
    }
    println!(
        "contract: {} methods of {} services, {total} hostile calls, {} refused, {} wrong",
        methods.len(),
        methods
            .iter()
            .map(|m| m.parent_service().full_name().to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        refused.load(Ordering::Relaxed),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {total} hostile calls were answered wrongly:\n{}",
        failures.len(),
        failures.join("\n")
    );
    suite.stop().await;
}
