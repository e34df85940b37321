//! `EnrolmentService`: requests, acceptance with reservation, the waiting list, ending,
//! the monthly cycle, ratings and the payables export (rules 5-9).
//!
//! Who may call: the parent of the certificate's child requests, ends and rates; the
//! programme's provider accepts, declines, ends and reports months; the municipality's
//! operator approves months and exports payables. Anyone else is told the enrolment does not
//! exist. Money-moving calls require a `request_id`.

use std::pin::Pin;

use edu_kit::auth::{Caller, Scope};
use edu_kit::error::{FieldProblems, reason as kit_reason};
use edu_kit::idempotency::{self, IdempotencyKey, KeyRecord, once};
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, etag, resource, wire};
use edu_proto::edu::certificates::v1 as pb;
use edu_proto::edu::certificates::v1::enrolment_service_server::EnrolmentService;
use futures::Stream;
use sqlx::PgConnection;
use tonic::{Request, Response, Status};

use super::access::{self, acts_for_provider, ensure_operates, is_parent_of, operates};
use super::respond;
use crate::domain::period::YearMonth;
use crate::store::enrolments::{self, Enrolment, EnrolmentFilter, EnrolmentScope, EnrolmentState};
use crate::store::people::{self, Child};
use crate::store::{Store, programmes};

/// The enrolment service.
#[derive(Debug, Clone)]
pub struct EnrolmentsApi {
    store: Store,
}

/// The part a caller plays for an enrolment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Parent,
    Provider,
    Operator,
}

fn state_pb(state: EnrolmentState) -> i32 {
    let state = match state {
        EnrolmentState::Requested => pb::EnrolmentState::Requested,
        EnrolmentState::Waitlisted => pb::EnrolmentState::Waitlisted,
        EnrolmentState::Accepted => pb::EnrolmentState::Accepted,
        EnrolmentState::Declined => pb::EnrolmentState::Declined,
        EnrolmentState::Ended => pb::EnrolmentState::Ended,
    };
    state as i32
}

pub(super) fn enrolment_pb(e: &Enrolment, waiting_position: i32) -> pb::Enrolment {
    pb::Enrolment {
        name: format!("enrolments/{}", e.id),
        certificate: format!("certificates/{}", e.certificate_id),
        programme: programmes::name(&e.provider_id, &e.programme_id),
        start_date: Some(wire::date(e.start_date)),
        state: state_pb(e.state),
        waiting_position,
        reserved_kopecks: e.reserved.kopecks(),
        rating: e.rating.map(i32::from).unwrap_or(0),
        rating_comment: e.rating_comment.clone(),
        create_time: Some(wire::timestamp(e.create_time)),
        update_time: Some(wire::timestamp(e.update_time)),
        etag: etag::of(e.version),
    }
}

fn required_request_id(request_id: &str) -> Result<(), ApiError> {
    if request_id.is_empty() {
        Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            "request_id",
            "required for calls that move money or seats: a UUID per intended action",
        ))
    } else {
        Ok(())
    }
}

fn month_of(
    date: Option<&edu_proto::google::r#type::Date>,
    field: &str,
) -> Result<YearMonth, ApiError> {
    let (year, month) = wire::month(date, field)?;
    Ok(YearMonth { year, month })
}

/// A month report's name, `providers/{provider}/months/{yyyy-mm}`: the provider's ID and
/// the month.
fn parse_report_name(name: &str) -> Result<(String, YearMonth), ApiError> {
    let bad = || {
        ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            "report",
            "expected providers/{provider}/months/{yyyy-mm}",
        )
    };
    let (provider_name, month) = name.rsplit_once("/months/").ok_or_else(bad)?;
    let provider_id = resource::parse_name(provider_name, "providers", "report")?;
    let (year, m) = month.split_once('-').ok_or_else(bad)?;
    let year = (year.len() == 4)
        .then(|| year.parse::<i16>().ok())
        .flatten()
        .filter(|y| wire::YEARS.contains(y))
        .ok_or_else(bad)?;
    let month = (m.len() == 2)
        .then(|| m.parse::<i8>().ok())
        .flatten()
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(bad)?;
    Ok((provider_id, YearMonth { year, month }))
}

fn report_name(provider_id: &str, month: YearMonth) -> String {
    format!(
        "providers/{provider_id}/months/{:04}-{:02}",
        month.year, month.month
    )
}

/// The stream of an export.
type PayablesStream =
    Pin<Box<dyn Stream<Item = Result<pb::ExportPayablesResponse, Status>> + Send + 'static>>;

impl EnrolmentsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        EnrolmentsApi { store }
    }

    /// An enrolment with the part `caller` plays for it; to anyone else it does not exist.
    async fn visible(
        conn: &mut PgConnection,
        caller: &Caller,
        name: &str,
    ) -> Result<(Enrolment, Child, Part), ApiError> {
        let id = resource::parse_name(name, "enrolments", "name")?;
        let missing = || ApiError::not_found(format!("enrolments/{id}"));
        let (enrolment, child) = enrolments::with_child(conn, &id)
            .await?
            .ok_or_else(missing)?;
        let part = Self::part_of(caller, &enrolment, &child).ok_or_else(missing)?;
        Ok((enrolment, child, part))
    }

    /// The part `caller` plays for an enrolment; `None` when it is none of theirs.
    fn part_of(caller: &Caller, enrolment: &Enrolment, child: &Child) -> Option<Part> {
        if is_parent_of(caller, child) {
            Some(Part::Parent)
        } else if acts_for_provider(caller, &enrolment.provider_id) {
            Some(Part::Provider)
        } else if operates(caller, &child.region_code, &child.municipality_code) {
            Some(Part::Operator)
        } else {
            None
        }
    }

    fn only(part: Part, allowed: &[Part], what: &str) -> Result<(), ApiError> {
        if allowed.contains(&part) {
            Ok(())
        } else {
            Err(ApiError::permission_denied(
                kit_reason::ROLE_REQUIRED,
                format!("{what} is not yours to do"),
            ))
        }
    }

    async fn request_enrolment(
        &self,
        request: Request<pb::RequestEnrolmentRequest>,
    ) -> Result<pb::Enrolment, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let body = request.get_ref();
        required_request_id(&body.request_id)?;
        let sent = body.enrolment.clone().unwrap_or_default();
        let certificate_id =
            resource::parse_name(&sent.certificate, "certificates", "enrolment.certificate")?;
        let (provider_id, programme_id) = resource::parse_child_name(
            &sent.programme,
            "providers",
            "programmes",
            "enrolment.programme",
        )?;
        let start = wire::civil_date(sent.start_date.as_ref(), "enrolment.start_date")?;
        let key = IdempotencyKey::for_request(context, "RequestEnrolment", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let missing = || ApiError::not_found(format!("certificates/{certificate_id}"));
        let certificate = people::certificate(&mut tx, &certificate_id, false)
            .await?
            .ok_or_else(missing)?;
        let child = people::child(&mut tx, &certificate.child_id)
            .await?
            .ok_or_else(missing)?;
        if !is_parent_of(caller, &child) {
            return Err(missing());
        }
        let response = once(&mut tx, key.as_ref(), context.now(), async |tx| {
            let enrolment = enrolments::request(
                &mut *tx,
                context,
                &certificate_id,
                &provider_id,
                &programme_id,
                start,
            )
            .await?;
            let position = if enrolment.state == EnrolmentState::Waitlisted {
                enrolments::waiting_position(&mut *tx, &enrolment).await?
            } else {
                0
            };
            Ok(enrolment_pb(&enrolment, position))
        })
        .await?;
        tx.commit().await?;
        Ok(response)
    }

    async fn get(
        &self,
        request: Request<pb::GetEnrolmentRequest>,
    ) -> Result<pb::Enrolment, ApiError> {
        let context = CallContext::of(&request)?;
        let mut conn = self.store.read().await?;
        let (enrolment, _, _) =
            Self::visible(&mut conn, context.caller()?, &request.get_ref().name).await?;
        let position = enrolments::waiting_position(&mut conn, &enrolment).await?;
        conn.finish();
        Ok(enrolment_pb(&enrolment, position))
    }

    async fn list(
        &self,
        request: Request<pb::ListEnrolmentsRequest>,
    ) -> Result<pb::ListEnrolmentsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let body = request.get_ref();
        let scope = if let Some(provider) = caller.scopes().iter().find_map(|s| match s {
            Scope::Provider(id) if caller.has_role(access::PROVIDER) => Some(id.clone()),
            _ => None,
        }) {
            EnrolmentScope::Provider(provider)
        } else if let Some((region_code, municipality_code)) =
            caller.scopes().iter().find_map(|s| match s {
                Scope::Municipality { region, code } if caller.has_role(access::OPERATOR) => {
                    Some((region.as_str().to_string(), code.clone()))
                }
                _ => None,
            })
        {
            EnrolmentScope::Municipality {
                region_code,
                municipality_code,
            }
        } else if caller.has_role(access::PARENT) {
            EnrolmentScope::Parent(caller.subject().to_string())
        } else if access::has_any_role(caller) {
            return Ok(pb::ListEnrolmentsResponse::default());
        } else {
            return Err(access::no_role("listing enrolments"));
        };
        let state = match pb::EnrolmentState::try_from(body.state) {
            Ok(pb::EnrolmentState::Unspecified) => None,
            Ok(pb::EnrolmentState::Requested) => Some(EnrolmentState::Requested),
            Ok(pb::EnrolmentState::Waitlisted) => Some(EnrolmentState::Waitlisted),
            Ok(pb::EnrolmentState::Accepted) => Some(EnrolmentState::Accepted),
            Ok(pb::EnrolmentState::Declined) => Some(EnrolmentState::Declined),
            Ok(pb::EnrolmentState::Ended) => Some(EnrolmentState::Ended),
            Err(_) => {
                return Err(ApiError::invalid_field(
                    kit_reason::INVALID_FIELDS,
                    "state",
                    "not an enrolment state",
                ));
            }
        };
        let certificate_id = match body.certificate.as_str() {
            "" => None,
            name => Some(resource::parse_name(name, "certificates", "certificate")?),
        };
        let programme = match body.programme.as_str() {
            "" => None,
            name => Some(resource::parse_child_name(
                name,
                "providers",
                "programmes",
                "programme",
            )?),
        };
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListEnrolments",
                &body.certificate,
                &body.programme,
                &body.state.to_string(),
            ],
        )?;
        let filter = EnrolmentFilter {
            scope,
            certificate_id,
            programme,
            state,
        };
        let mut conn = self.store.read().await?;
        let page = enrolments::list(&mut conn, &filter, paging.size, paging.after.clone()).await?;
        let mut listed = Vec::with_capacity(page.items.len());
        for enrolment in &page.items {
            let position = enrolments::waiting_position(&mut conn, enrolment).await?;
            listed.push(enrolment_pb(enrolment, position));
        }
        conn.finish();
        Ok(pb::ListEnrolmentsResponse {
            enrolments: listed,
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn accept(
        &self,
        request: Request<pb::AcceptEnrolmentRequest>,
    ) -> Result<pb::Enrolment, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let body = request.get_ref();
        required_request_id(&body.request_id)?;
        let id = resource::parse_name(&body.name, "enrolments", "name")?;
        let key = IdempotencyKey::for_request(context, "AcceptEnrolment", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        // The hot path, with the kit's lock-first idempotency: one statement locks and reads
        // what the acceptance and the caller's authorisation need, and the request's key, so
        // repeats of this request (which name this enrolment) wait here; the key is read again
        // only when the enrolment is already accepted (a repeat may have committed while this
        // one waited), and the one write statement stores the key with its response. A
        // refusal rolls everything back.
        let mut held = enrolments::hold(&mut tx, &id, key.as_ref())
            .await?
            .ok_or_else(|| ApiError::not_found(format!("enrolments/{id}")))?;
        let part = Self::part_of(caller, &held.enrolment, &held.child)
            .ok_or_else(|| ApiError::not_found(format!("enrolments/{id}")))?;
        Self::only(part, &[Part::Provider], "accepting an enrolment")?;
        let already_accepted = held.enrolment.state == EnrolmentState::Accepted;
        let seen = held.seen_key.take();
        if let Some(done) =
            idempotency::stored_beside_lock(&mut tx, key.as_ref(), seen, already_accepted).await?
        {
            return Ok(done);
        }
        let accepted = enrolments::accept_held(&mut tx, context, held, |accepted| {
            KeyRecord::of(key.as_ref(), &enrolment_pb(accepted, 0))
        })
        .await?;
        tx.commit().await?;
        Ok(enrolment_pb(&accepted, 0))
    }

    async fn decline(
        &self,
        request: Request<pb::DeclineEnrolmentRequest>,
    ) -> Result<pb::Enrolment, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        if body.reason.trim().is_empty() {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "reason",
                "required: the parent is told why",
            ));
        }
        let mut tx = self.store.begin().await?;
        let (enrolment, _, part) = Self::visible(&mut tx, context.caller()?, &body.name).await?;
        Self::only(part, &[Part::Provider], "declining an enrolment")?;
        let declined =
            enrolments::decline(&mut tx, context, &enrolment, body.reason.trim()).await?;
        tx.commit().await?;
        Ok(enrolment_pb(&declined, 0))
    }

    async fn end(
        &self,
        request: Request<pb::EndEnrolmentRequest>,
    ) -> Result<pb::Enrolment, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        required_request_id(&body.request_id)?;
        let end_date = wire::civil_date(body.end_date.as_ref(), "end_date")?;
        let key = IdempotencyKey::for_request(context, "EndEnrolment", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let (enrolment, _, part) = Self::visible(&mut tx, context.caller()?, &body.name).await?;
        Self::only(part, &[Part::Parent, Part::Provider], "ending an enrolment")?;
        if end_date < enrolment.start_date {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "end_date",
                "on or after the start date",
            ));
        }
        let response = once(&mut tx, key.as_ref(), context.now(), async |tx| {
            let ended = enrolments::end(&mut *tx, context, &enrolment.id, end_date).await?;
            Ok(enrolment_pb(&ended, 0))
        })
        .await?;
        tx.commit().await?;
        Ok(response)
    }

    async fn report_month(
        &self,
        request: Request<pb::ReportMonthRequest>,
    ) -> Result<pb::ReportMonthResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        required_request_id(&body.request_id)?;
        let provider_id = resource::parse_name(&body.provider, "providers", "provider")?;
        if !acts_for_provider(context.caller()?, &provider_id) {
            return Err(ApiError::permission_denied(
                kit_reason::ROLE_REQUIRED,
                format!("only providers/{provider_id} reports its months"),
            ));
        }
        let month = month_of(body.month.as_ref(), "month")?;
        let mut problems = FieldProblems::new();
        let mut ids: Vec<String> = Vec::with_capacity(body.enrolments.len());
        for (i, name) in body.enrolments.iter().enumerate() {
            let field = format!("enrolments[{i}]");
            if let Some(id) = problems.check(
                &field,
                resource::parse_name(name, "enrolments", &field).map_err(|e| e.message),
            ) {
                if ids.contains(&id) {
                    problems.add(
                        field,
                        "listed twice: each enrolment is reported once a month",
                    );
                } else {
                    ids.push(id);
                }
            }
        }
        problems.finish()?;
        let key = IdempotencyKey::for_request(context, "ReportMonth", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let response = once(&mut tx, key.as_ref(), context.now(), async |tx| {
            let reported =
                enrolments::report_month(&mut *tx, context, &provider_id, month, &ids).await?;
            Ok(pb::ReportMonthResponse {
                report: report_name(&provider_id, month),
                amount_kopecks: reported.amount.kopecks(),
                added: i32::try_from(reported.added).unwrap_or(i32::MAX),
            })
        })
        .await?;
        tx.commit().await?;
        Ok(response)
    }

    async fn approve_month(
        &self,
        request: Request<pb::ApproveMonthRequest>,
    ) -> Result<pb::ApproveMonthResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        required_request_id(&body.request_id)?;
        let (provider_id, month) = parse_report_name(&body.report)?;
        let key = IdempotencyKey::for_request(context, "ApproveMonth", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let provider = programmes::provider(&mut tx, &provider_id)
            .await?
            .ok_or_else(|| ApiError::not_found(report_name(&provider_id, month)))?;
        ensure_operates(
            context.caller()?,
            &provider.region_code,
            &provider.municipality_code,
        )?;
        let response = once(&mut tx, key.as_ref(), context.now(), async |tx| {
            let (charged, payable) =
                enrolments::approve_month(&mut *tx, context, &provider_id, month).await?;
            Ok(pb::ApproveMonthResponse {
                charged: i32::try_from(charged).unwrap_or(i32::MAX),
                payable_kopecks: payable.kopecks(),
            })
        })
        .await?;
        tx.commit().await?;
        Ok(response)
    }

    async fn rate(
        &self,
        request: Request<pb::RateEnrolmentRequest>,
    ) -> Result<pb::Enrolment, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let rating = i16::try_from(body.rating)
            .ok()
            .filter(|r| (1..=5).contains(r))
            .ok_or_else(|| {
                ApiError::invalid_field(kit_reason::INVALID_FIELDS, "rating", "1 to 5")
            })?;
        if body.comment.chars().count() > 2_000 {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "comment",
                "at most 2 000 characters",
            ));
        }
        let mut tx = self.store.begin().await?;
        let (enrolment, _, part) = Self::visible(&mut tx, context.caller()?, &body.name).await?;
        Self::only(part, &[Part::Parent], "rating a programme")?;
        enrolments::rate(&mut tx, context, &enrolment.id, rating, body.comment.trim()).await?;
        let rated = enrolments::fetch(&mut tx, &enrolment.id, false)
            .await?
            .ok_or_else(|| ApiError::not_found(body.name.clone()))?;
        tx.commit().await?;
        Ok(enrolment_pb(&rated, 0))
    }

    async fn payables(
        &self,
        request: Request<pb::ExportPayablesRequest>,
    ) -> Result<Vec<pb::ExportPayablesResponse>, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        ensure_operates(
            context.caller()?,
            &body.region_code,
            &body.municipality_code,
        )?;
        let month = month_of(body.month.as_ref(), "month")?;
        let mut conn = self.store.read().await?;
        let rows =
            enrolments::payables(&mut conn, &body.region_code, &body.municipality_code, month)
                .await?;
        conn.finish();
        Ok(rows
            .into_iter()
            .map(|p| pb::ExportPayablesResponse {
                provider: format!("providers/{}", p.provider_id),
                tax_id: p.tax_id,
                enrolment_months: i32::try_from(p.enrolment_months).unwrap_or(i32::MAX),
                amount_kopecks: p.amount.kopecks(),
            })
            .collect())
    }
}

#[tonic::async_trait]
impl EnrolmentService for EnrolmentsApi {
    async fn request_enrolment(
        &self,
        request: Request<pb::RequestEnrolmentRequest>,
    ) -> Result<Response<pb::Enrolment>, Status> {
        respond(self.request_enrolment(request).await)
    }

    async fn get_enrolment(
        &self,
        request: Request<pb::GetEnrolmentRequest>,
    ) -> Result<Response<pb::Enrolment>, Status> {
        respond(self.get(request).await)
    }

    async fn list_enrolments(
        &self,
        request: Request<pb::ListEnrolmentsRequest>,
    ) -> Result<Response<pb::ListEnrolmentsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn accept_enrolment(
        &self,
        request: Request<pb::AcceptEnrolmentRequest>,
    ) -> Result<Response<pb::Enrolment>, Status> {
        respond(self.accept(request).await)
    }

    async fn decline_enrolment(
        &self,
        request: Request<pb::DeclineEnrolmentRequest>,
    ) -> Result<Response<pb::Enrolment>, Status> {
        respond(self.decline(request).await)
    }

    async fn end_enrolment(
        &self,
        request: Request<pb::EndEnrolmentRequest>,
    ) -> Result<Response<pb::Enrolment>, Status> {
        respond(self.end(request).await)
    }

    async fn report_month(
        &self,
        request: Request<pb::ReportMonthRequest>,
    ) -> Result<Response<pb::ReportMonthResponse>, Status> {
        respond(self.report_month(request).await)
    }

    async fn approve_month(
        &self,
        request: Request<pb::ApproveMonthRequest>,
    ) -> Result<Response<pb::ApproveMonthResponse>, Status> {
        respond(self.approve_month(request).await)
    }

    async fn rate_enrolment(
        &self,
        request: Request<pb::RateEnrolmentRequest>,
    ) -> Result<Response<pb::Enrolment>, Status> {
        respond(self.rate(request).await)
    }

    type ExportPayablesStream = PayablesStream;

    async fn export_payables(
        &self,
        request: Request<pb::ExportPayablesRequest>,
    ) -> Result<Response<Self::ExportPayablesStream>, Status> {
        let rows = self.payables(request).await.map_err(Status::from)?;
        let stream: PayablesStream = Box::pin(futures::stream::iter(rows.into_iter().map(Ok)));
        Ok(Response::new(stream))
    }
}
