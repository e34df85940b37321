//! The callers of the API tests and the requests they send. The fixtures' participants
//! sign in with their ID as token subject, a minor's parent as `parent-{id}`.

#![allow(dead_code)]

use edu_kit::CallContext;
use edu_kit::auth::{Caller, Claims};
use jiff::Timestamp;

use crate::common::INST;

/// A caller with `roles` and `scopes`.
pub fn caller(subject: &str, roles: &[&str], scopes: &[&str]) -> Caller {
    Caller::from_claims(Claims {
        sub: subject.into(),
        name: None,
        roles: roles.iter().map(|r| (*r).to_string()).collect(),
        scopes: scopes.iter().map(|s| (*s).to_string()).collect(),
    })
}

/// The director of «Мечта».
pub fn director() -> Caller {
    caller("director", &["mentoring.director"], &[&institution_scope()])
}

/// A holder of the curator role in «Мечта» signing in as `subject` (the fixtures'
/// appointed curator is whoever `appoint_curator` named; see the tests).
pub fn curator(subject: &str) -> Caller {
    caller(subject, &["mentoring.curator"], &[&institution_scope()])
}

/// Participant `id` signed in as themselves.
pub fn participant(id: &str) -> Caller {
    caller(id, &["mentoring.participant"], &[&institution_scope()])
}

/// The parent of minor `id`, signed in.
pub fn guardian(id: &str) -> Caller {
    caller(
        &format!("parent-{id}"),
        &["mentoring.guardian"],
        &[&institution_scope()],
    )
}

/// The regional mentoring centre of `region`.
pub fn regional_centre(region: &str) -> Caller {
    caller(
        &format!("centre-{region}"),
        &["mentoring.regional_centre"],
        &[&format!("region:{region}")],
    )
}

/// A consumer of the change-event stream: no institution, no other role.
pub fn event_consumer() -> Caller {
    caller("events", &["mentoring.event_consumer"], &[])
}

/// The director of another institution: outside «Мечта»'s tenant.
pub fn outsider() -> Caller {
    caller(
        "director-elsewhere",
        &["mentoring.director"],
        &["institution:elsewhere"],
    )
}

/// `institution:mechta`.
pub fn institution_scope() -> String {
    format!("institution:{INST}")
}

/// 12 February 2025, 10:00 in Saratov: the fixtures' "now".
pub fn now() -> Timestamp {
    at("2025-02-12T10:00:00+04:00")
}

/// An instant.
pub fn at(instant: &str) -> Timestamp {
    instant.parse().expect("instant")
}

/// `body` sent by `caller` at `now`, with the call context the pipeline would attach.
pub fn request<T>(caller: &Caller, now: Timestamp, body: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(body);
    request.extensions_mut().insert(CallContext::new(
        Some(caller.clone()),
        uuid::Uuid::new_v4().to_string(),
        None,
        now,
    ));
    request
}
