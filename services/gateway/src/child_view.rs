//! `GetChildView`: what each programme holds about one child, each part the answer of that
//! service's own `GetChildRecords`. The services share no identifier of a child and the
//! gateway keeps none: it passes the caller's description of the child, token and stated
//! purpose to the three services that keep records of children, through [`crate::fanout`],
//! and each finds the child by what it holds, releases what its own tenancy and consent
//! rules allow, and records what it showed, with the purpose, in its own audit trail.
//!
//! The one thing the gateway decides is the answer when nothing was released: a child
//! outside the caller's reach must look like no child at all, so refusals that say "not
//! found" or "not your role" become one NOT_FOUND (or ROLE_REQUIRED, when no service let the
//! caller in at all); an outage is reported in `parts` instead, as it says nothing of the
//! child.

use std::sync::Arc;
use std::time::Duration;

use edu_kit::error::{ErrorKind, reason};
use edu_kit::{ApiError, CallContext};
use edu_proto::edu::aid::v1 as aid;
use edu_proto::edu::api::v1::ChildIdentity;
use edu_proto::edu::certificates::v1 as certificates;
use edu_proto::edu::gateway::v1 as pb;
use edu_proto::edu::mentoring::v1 as mentoring;

use crate::backends::Backends;
use crate::fanout::{Fanout, Purpose, forwarded_metadata};

/// The children's views over the gateway's backends.
#[derive(Debug, Clone)]
pub struct ChildViews {
    fanout: Fanout,
}

impl ChildViews {
    /// Views over `backends`, each part given at most `part_timeout`.
    pub fn new(backends: Arc<Backends>, part_timeout: Duration) -> Self {
        ChildViews {
            fanout: Fanout::new(backends, part_timeout),
        }
    }

    /// The view of the request's child: refused before any service is asked for a caller
    /// without a token or a purpose, or a description that names no child; after the parts,
    /// NOT_FOUND or ROLE_REQUIRED when nothing was released (see [`outcome`]).
    pub async fn view(
        &self,
        request: &tonic::Request<pb::GetChildViewRequest>,
    ) -> Result<pb::ChildView, ApiError> {
        let context = CallContext::of(request)?;
        context.caller()?;
        context.require_purpose()?;
        let identity = identity(request.get_ref().identity.as_ref())?;
        let budget = self.fanout.budget(context.deadline());
        let metadata = forwarded_metadata(request.metadata(), context, Purpose::PassedOn);
        let (certificates, aid, mentoring) = futures::join!(
            self.fanout.part(
                certificates::certificate_service_server::SERVICE_NAME,
                budget,
                &metadata,
                certificates::GetChildRecordsRequest {
                    identity: Some(identity.clone()),
                },
                |channel, request| async move {
                    certificates::certificate_service_client::CertificateServiceClient::new(channel)
                        .get_child_records(request)
                        .await
                },
            ),
            self.fanout.part(
                aid::child_service_server::SERVICE_NAME,
                budget,
                &metadata,
                aid::GetChildRecordsRequest {
                    identity: Some(identity.clone()),
                },
                |channel, request| async move {
                    aid::child_service_client::ChildServiceClient::new(channel)
                        .get_child_records(request)
                        .await
                },
            ),
            self.fanout.part(
                mentoring::participant_service_server::SERVICE_NAME,
                budget,
                &metadata,
                mentoring::GetChildRecordsRequest {
                    identity: Some(identity.clone()),
                },
                |channel, request| async move {
                    mentoring::participant_service_client::ParticipantServiceClient::new(channel)
                        .get_child_records(request)
                        .await
                },
            ),
        );
        let parts = vec![certificates.1, aid.1, mentoring.1];
        outcome(&parts)?;
        let now = context.now();
        Ok(pb::ChildView {
            certificates: certificates.0,
            aid: aid.0,
            mentoring: mentoring.0,
            parts,
            read_time: Some(prost_types::Timestamp {
                seconds: now.as_second(),
                nanos: now.subsec_nanosecond(),
            }),
        })
    }
}

/// The request's description of the child, checked once here rather than three times in
/// the parts: a birth date, and a document or a family and a given name. (Lengths and NUL
/// characters are the pipeline's check, from the contract's limits.)
fn identity(identity: Option<&ChildIdentity>) -> Result<ChildIdentity, ApiError> {
    let identity = identity.ok_or_else(|| {
        ApiError::invalid_field(
            reason::INVALID_FIELDS,
            "identity",
            "required: who the child is",
        )
    })?;
    edu_kit::wire::civil_date(identity.birth_date.as_ref(), "identity.birth_date")?;
    let blank = |s: &str| s.trim().is_empty();
    if blank(&identity.identity_document)
        && (blank(&identity.family_name) || blank(&identity.given_name))
    {
        return Err(ApiError::invalid_field(
            reason::INVALID_FIELDS,
            "identity",
            "required: the identity document, or the family and the given name",
        ));
    }
    Ok(identity.clone())
}

/// Whether the view answers: yes when a part was released, or when a part failed for a
/// reason that says nothing of the child (unavailable, timed out, failed, or refused for
/// another cause, such as a field one service needs); otherwise, every service having
/// refused with NOT_FOUND or PERMISSION_DENIED or not being deployed, one refusal that does
/// not tell "not yours" from "nobody": NOT_FOUND, or ROLE_REQUIRED when no deployed service
/// let the caller in at all.
fn outcome(parts: &[pb::SummaryPart]) -> Result<(), ApiError> {
    let state = |part: &pb::SummaryPart| pb::PartState::try_from(part.state).ok();
    let refused_with = |part: &pb::SummaryPart, code: &str| {
        state(part) == Some(pb::PartState::Refused) && part.code == code
    };
    let withheld = |part: &pb::SummaryPart| {
        state(part) == Some(pb::PartState::NotDeployed)
            || refused_with(part, "NOT_FOUND")
            || refused_with(part, "PERMISSION_DENIED")
    };
    if !parts.iter().all(withheld) {
        return Ok(());
    }
    if parts.iter().any(|p| refused_with(p, "NOT_FOUND")) {
        return Err(ApiError::not_found("the child"));
    }
    if parts.iter().any(|p| refused_with(p, "PERMISSION_DENIED")) {
        return Err(ApiError::new(
            ErrorKind::PermissionDenied,
            reason::ROLE_REQUIRED,
            "no service that keeps records of children gives the caller's roles access to them",
        ));
    }
    // No service that keeps children's records is deployed: nobody holds the child.
    Err(ApiError::not_found("the child"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use edu_proto::google::r#type::Date;

    fn part(state: pb::PartState, code: &str) -> pb::SummaryPart {
        pb::SummaryPart {
            service: "x".into(),
            state: state as i32,
            code: code.into(),
            reason: String::new(),
            message: String::new(),
        }
    }

    #[test]
    fn nothing_released_is_one_refusal_that_does_not_tell_which() {
        use pb::PartState::*;
        let ok = part(Ok, "");
        let not_found = part(Refused, "NOT_FOUND");
        let role = part(Refused, "PERMISSION_DENIED");
        let absent = part(NotDeployed, "");
        let down = part(Unavailable, "UNAVAILABLE");
        let slow = part(DeadlineExceeded, "DEADLINE_EXCEEDED");
        let invalid = part(Refused, "INVALID_ARGUMENT");
        let code = |parts: &[pb::SummaryPart]| outcome(parts).err().map(|e| e.kind);

        // An operator of another municipality: certificates does not find the child in
        // their reach, the others do not know the role.
        assert_eq!(
            code(&[not_found.clone(), role.clone(), role.clone()]),
            Some(ErrorKind::NotFound)
        );
        assert_eq!(
            code(&[not_found.clone(), not_found.clone(), absent.clone()]),
            Some(ErrorKind::NotFound)
        );
        assert_eq!(
            code(&[role.clone(), role.clone(), absent.clone()]),
            Some(ErrorKind::PermissionDenied)
        );
        assert_eq!(
            code(&[absent.clone(), absent.clone(), absent.clone()]),
            Some(ErrorKind::NotFound)
        );
        // Something released, or a part that failed for a reason that says nothing of the
        // child: the view answers with its parts.
        assert_eq!(code(&[ok.clone(), not_found.clone(), role.clone()]), None);
        assert_eq!(code(&[down, not_found.clone(), role.clone()]), None);
        assert_eq!(code(&[slow, role.clone(), role.clone()]), None);
        assert_eq!(code(&[invalid, not_found, role]), None);
    }

    #[test]
    fn a_child_is_described_by_a_birth_date_and_a_document_or_names() {
        let date = Some(Date {
            year: 2015,
            month: 4,
            day: 12,
        });
        let by_document = ChildIdentity {
            identity_document: "I-ТО 100001".into(),
            birth_date: date,
            ..Default::default()
        };
        assert!(identity(Some(&by_document)).is_ok());
        let by_names = ChildIdentity {
            family_name: "Иванова".into(),
            given_name: "Анна".into(),
            birth_date: date,
            ..Default::default()
        };
        assert!(identity(Some(&by_names)).is_ok());

        let field = |identity_: Option<&ChildIdentity>| {
            identity(identity_)
                .expect_err("refused")
                .fields()
                .first()
                .map(|f| f.field.clone())
        };
        assert_eq!(field(None).as_deref(), Some("identity"));
        let no_date = ChildIdentity {
            birth_date: None,
            ..by_document.clone()
        };
        assert_eq!(
            field(Some(&no_date)).as_deref(),
            Some("identity.birth_date")
        );
        let impossible = ChildIdentity {
            birth_date: Some(Date {
                year: 2015,
                month: 2,
                day: 30,
            }),
            ..by_document
        };
        assert_eq!(
            field(Some(&impossible)).as_deref(),
            Some("identity.birth_date")
        );
        let given_only = ChildIdentity {
            family_name: "  ".into(),
            ..by_names
        };
        assert_eq!(field(Some(&given_only)).as_deref(), Some("identity"));
    }
}
