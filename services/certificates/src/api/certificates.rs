//! `CertificateService`: children with consent, certificates and statements (rules 1-3, 7
//! and 8). Children are personal data: never logged, seen only by their parents and their
//! municipality's operator.

use edu_kit::auth::Caller;
use edu_kit::error::{FieldProblems, reason as kit_reason};
use edu_kit::idempotency::{IdempotencyKey, once};
use edu_kit::paging::PageRequest;
use edu_kit::region::RegionCode;
use edu_kit::{ApiError, CallContext, audit, etag, resource, wire};
use edu_proto::edu::certificates::v1 as pb;
use edu_proto::edu::certificates::v1::certificate_service_server::CertificateService;
use sqlx::PgConnection;
use tonic::{Request, Response, Status};

use super::access::{self, ensure_operates, may_see_child};
use super::enrolments::enrolment_pb;
use super::respond;
use crate::domain::enrolment::CertificateKind;
use crate::domain::{Balance, CertificateError};
use crate::store::people::{self, Certificate, CertificateState, Child, ChildScope};
use crate::store::{Store, enrolments, ledger, periods};

/// The audit trail's action for a read of a child's record (GetChild, each child a
/// ListChildren page shows, the child GetChildRecords finds): one `READ` record per child,
/// so that an inspector listing a child's records finds every call that showed it.
const CHILD_READ: &str = "child.read";

/// The most enrolments GetChildRecords shows; ListEnrolments pages through the rest.
const CHILD_RECORDS_ENROLMENTS: usize = 100;

/// The certificate service.
#[derive(Debug, Clone)]
pub struct CertificatesApi {
    store: Store,
}

fn child_pb(c: &Child) -> pb::Child {
    pb::Child {
        name: format!("children/{}", c.id),
        display_name: c.display_name.clone(),
        identity_document: c.identity_document.clone(),
        birth_date: Some(wire::date(c.birth_date)),
        region_code: c.region_code.clone(),
        municipality_code: c.municipality_code.clone(),
        consent: Some(pb::Consent {
            parent_subject: c.parent_subject.clone(),
            parent_name: c.parent_name.clone(),
            give_time: Some(wire::timestamp(c.consent_time)),
        }),
        create_time: Some(wire::timestamp(c.create_time)),
    }
}

fn balance_pb(b: &Balance) -> pb::Balance {
    pb::Balance {
        credited_kopecks: b.credited.kopecks(),
        reserved_kopecks: b.reserved.kopecks(),
        charged_kopecks: b.charged.kopecks(),
        released_kopecks: b.released.kopecks(),
        available_kopecks: b.available.kopecks(),
    }
}

fn kind_pb(kind: Option<CertificateKind>) -> i32 {
    let kind = match kind {
        None => pb::CertificateKind::Unspecified,
        Some(CertificateKind::Funded) => pb::CertificateKind::Funded,
        Some(CertificateKind::Accounting) => pb::CertificateKind::Accounting,
    };
    kind as i32
}

fn state_pb(state: CertificateState) -> i32 {
    let state = match state {
        CertificateState::Active => pb::CertificateState::Active,
        CertificateState::Suspended => pb::CertificateState::Suspended,
        CertificateState::Closed => pb::CertificateState::Closed,
    };
    state as i32
}

/// A certificate as read in one statement.
fn view_pb(view: &people::CertificateView) -> pb::Certificate {
    let certificate = &view.certificate;
    pb::Certificate {
        name: format!("certificates/{}", certificate.id),
        child: format!("children/{}", certificate.child_id),
        number: certificate.number.clone(),
        state: state_pb(certificate.state),
        period: view
            .period_id
            .as_ref()
            .map(|p| format!("periods/{p}"))
            .unwrap_or_default(),
        kind: kind_pb(view.kind),
        balance: Some(balance_pb(&view.balance)),
        issue_time: Some(wire::timestamp(certificate.issue_time)),
        etag: etag::of(certificate.version),
    }
}

/// A certificate with its current period's kind and balance.
async fn certificate_pb(
    conn: &mut PgConnection,
    certificate: &Certificate,
    child: &Child,
    now: jiff::Timestamp,
) -> Result<pb::Certificate, ApiError> {
    let period = periods::current(conn, &child.region_code, &child.municipality_code, now).await?;
    let (period_name, kind, balance) = match &period {
        Some(p) => (
            format!("periods/{}", p.id),
            periods::kind_of(conn, &p.id, &certificate.id).await?,
            ledger::load(conn, &certificate.id, &p.id)
                .await?
                .balance()
                .map_err(CertificateError::from)?,
        ),
        None => (String::new(), None, Balance::default()),
    };
    Ok(pb::Certificate {
        name: format!("certificates/{}", certificate.id),
        child: format!("children/{}", certificate.child_id),
        number: certificate.number.clone(),
        state: state_pb(certificate.state),
        period: period_name,
        kind: kind_pb(kind),
        balance: Some(balance_pb(&balance)),
        issue_time: Some(wire::timestamp(certificate.issue_time)),
        etag: etag::of(certificate.version),
    })
}

fn parse_child(sent: &pb::Child, now: jiff::Timestamp) -> Result<Child, ApiError> {
    let mut problems = FieldProblems::new();
    let text = |problems: &mut FieldProblems, field: &str, value: &str| {
        if value.trim().is_empty() || value.chars().count() > 300 {
            problems.add(field, "required, at most 300 characters");
        }
        value.trim().to_string()
    };
    let display_name = text(&mut problems, "child.display_name", &sent.display_name);
    let identity_document = text(
        &mut problems,
        "child.identity_document",
        &sent.identity_document,
    );
    let municipality_code = text(
        &mut problems,
        "child.municipality_code",
        &sent.municipality_code,
    );
    let region = problems.check("child.region_code", RegionCode::parse(&sent.region_code));
    let birth_date = problems.check(
        "child.birth_date",
        wire::civil_date(sent.birth_date.as_ref(), "child.birth_date").map_err(|_| "a date"),
    );
    let consent = sent.consent.clone().unwrap_or_default();
    let parent_subject = text(
        &mut problems,
        "child.consent.parent_subject",
        &consent.parent_subject,
    );
    let parent_name = text(
        &mut problems,
        "child.consent.parent_name",
        &consent.parent_name,
    );
    let consent_time = problems.check(
        "child.consent.give_time",
        wire::instant(consent.give_time.as_ref(), "child.consent.give_time")
            .map_err(|_| "required: when the parent consented")
            .and_then(|t| {
                if t <= now {
                    Ok(t)
                } else {
                    Err("not in the future")
                }
            }),
    );
    problems.finish()?;
    let (Some(region), Some(birth_date), Some(consent_time)) = (region, birth_date, consent_time)
    else {
        return Err(ApiError::internal(&std::io::Error::other(
            "child parse fell through",
        )));
    };
    Ok(Child {
        id: resource::new_id(),
        display_name,
        identity_document,
        birth_date,
        region_code: region.as_str().into(),
        municipality_code,
        parent_subject,
        parent_name,
        consent_time,
        create_time: now,
    })
}

/// What GetChildRecords compares of `identity`: the identity document (as typed; the
/// query compares its key) and the birth date. The names are not compared: the register
/// keeps one full name as the family wrote it, and the document is what identifies the
/// child.
fn parse_identity(
    identity: Option<&edu_proto::edu::api::v1::ChildIdentity>,
) -> Result<(String, jiff::civil::Date), ApiError> {
    const DOCUMENT: &str = "identity.identity_document";
    let mut problems = FieldProblems::new();
    let document = identity.map(|i| i.identity_document.as_str()).unwrap_or("");
    // The pipeline enforces the contract's limits; checked again here because a handler
    // called in-process skips the pipeline, and Postgres refuses NUL.
    if document.chars().count() > 300 || document.contains('\0') {
        problems.add(DOCUMENT, "at most 300 characters, no NUL");
    } else if edu_kit::names::identity_document_key(document).is_empty() {
        problems.add(
            DOCUMENT,
            "required: the series and number of the child's identity document",
        );
    }
    let birth_date = problems.field(wire::civil_date(
        identity.and_then(|i| i.birth_date.as_ref()),
        "identity.birth_date",
    ));
    problems.finish()?;
    let Some(birth_date) = birth_date else {
        return Err(ApiError::internal(&std::io::Error::other(
            "identity parse fell through",
        )));
    };
    Ok((document.to_string(), birth_date))
}

impl CertificatesApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        CertificatesApi { store }
    }

    /// A child `caller` may see; to anyone else it does not exist.
    async fn visible_child(
        conn: &mut PgConnection,
        caller: &Caller,
        id: &str,
    ) -> Result<Child, ApiError> {
        people::child(conn, id)
            .await?
            .filter(|c| may_see_child(caller, c))
            .ok_or_else(|| ApiError::not_found(format!("children/{id}")))
    }

    /// A certificate `caller` may see, with its child.
    async fn visible_certificate(
        conn: &mut PgConnection,
        caller: &Caller,
        name: &str,
        field: &str,
    ) -> Result<(Certificate, Child), ApiError> {
        let id = resource::parse_name(name, "certificates", field)?;
        let missing = || ApiError::not_found(format!("certificates/{id}"));
        let certificate = people::certificate(conn, &id, false)
            .await?
            .ok_or_else(missing)?;
        let child = people::child(conn, &certificate.child_id)
            .await?
            .filter(|c| may_see_child(caller, c))
            .ok_or_else(missing)?;
        Ok((certificate, child))
    }

    /// The children a caller may list: an operator's municipality, or a parent's own; `None`
    /// for a role of the service whose scopes cover no children (an empty list).
    fn scope(caller: &Caller) -> Result<Option<ChildScope>, ApiError> {
        if caller.has_role(access::OPERATOR) {
            let municipality = caller.scopes().iter().find_map(|s| match s {
                edu_kit::auth::Scope::Municipality { region, code } => {
                    Some((region.as_str().to_string(), code.clone()))
                }
                _ => None,
            });
            if let Some((region_code, municipality_code)) = municipality {
                return Ok(Some(ChildScope::Municipality {
                    region_code,
                    municipality_code,
                }));
            }
        }
        if caller.has_role(access::PARENT) {
            return Ok(Some(ChildScope::Parent(caller.subject().to_string())));
        }
        if access::has_any_role(caller) {
            return Ok(None);
        }
        Err(access::no_role("listing children and certificates"))
    }

    async fn create_child(
        &self,
        request: Request<pb::CreateChildRequest>,
    ) -> Result<pb::Child, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let child = parse_child(&body.child.clone().unwrap_or_default(), context.now())?;
        ensure_operates(
            context.caller()?,
            &child.region_code,
            &child.municipality_code,
        )?;
        let key = IdempotencyKey::for_request(context, "CreateChild", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let response = once(&mut tx, key.as_ref(), context.now(), async |tx| {
            people::create_child(&mut *tx, context, &child).await?;
            Ok(child_pb(&child))
        })
        .await?;
        tx.commit().await?;
        Ok(response)
    }

    async fn get_child(
        &self,
        request: Request<pb::GetChildRequest>,
    ) -> Result<pb::Child, ApiError> {
        let context = CallContext::of(&request)?;
        let id = resource::parse_name(&request.get_ref().name, "children", "name")?;
        let mut conn = self.store.read().await?;
        let child = Self::visible_child(&mut conn, context.caller()?, &id).await?;
        audit::read(&mut conn, context, CHILD_READ, &[format!("children/{id}")]).await?;
        conn.finish();
        Ok(child_pb(&child))
    }

    /// A child found by who they are, with their certificate and its enrolments, for the
    /// cross-programme view. Checks in the suite's order for GetChildRecords: the role from
    /// the token, the purpose, the request, then a lookup restricted to the caller's children
    /// in its query, so that no child and another's child are one NOT_FOUND.
    async fn get_child_records(
        &self,
        request: Request<pb::GetChildRecordsRequest>,
    ) -> Result<pb::ChildRecords, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        access::ensure_reads_children(caller, "reading a child's records")?;
        context.require_purpose()?;
        let (document, birth_date) = parse_identity(request.get_ref().identity.as_ref())?;
        // One snapshot: the balance and the enrolments' reservations agree.
        let mut tx = self.store.snapshot().await?;
        let child =
            people::child_by_identity(&mut tx, &access::reach(caller), &document, birth_date)
                .await?
                // The query applied rule 8 already; the one row found is held to it again as
                // every read of a child is.
                .filter(|c| may_see_child(caller, c))
                // Names nothing the caller sent: the document and the date are personal data.
                .ok_or_else(|| ApiError::not_found("the child"))?;
        let certificate = match people::certificate_of_child(&mut tx, &child.id).await? {
            Some(id) => people::certificate_view(&mut tx, &id, context.now()).await?,
            None => None,
        };
        let (enrolments, enrolments_truncated) = match &certificate {
            Some(view) => {
                enrolments::newest_of_certificate(
                    &mut tx,
                    &view.certificate.id,
                    CHILD_RECORDS_ENROLMENTS,
                )
                .await?
            }
            None => (Vec::new(), false),
        };
        let mut shown = Vec::with_capacity(enrolments.len());
        for enrolment in &enrolments {
            let position = enrolments::waiting_position(&mut tx, enrolment).await?;
            shown.push(enrolment_pb(enrolment, position));
        }
        // The certificate and its enrolments are the child's record: one READ of the child,
        // as GetCertificate and ListEnrolments record none of their own.
        audit::read(
            &mut tx,
            context,
            CHILD_READ,
            &[format!("children/{}", child.id)],
        )
        .await?;
        tx.commit().await?;
        Ok(pb::ChildRecords {
            child: Some(child_pb(&child)),
            certificate: certificate.as_ref().map(view_pb),
            enrolments: shown,
            enrolments_truncated,
            read_time: Some(wire::timestamp(context.now())),
        })
    }

    async fn list_children(
        &self,
        request: Request<pb::ListChildrenRequest>,
    ) -> Result<pb::ListChildrenResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let Some(scope) = Self::scope(context.caller()?)? else {
            return Ok(pb::ListChildrenResponse::default());
        };
        let body = request.get_ref();
        let paging = PageRequest::parse(body.page_size, &body.page_token, &["ListChildren"])?;
        let mut conn = self.store.read().await?;
        let page =
            people::list_children(&mut conn, &scope, paging.size, paging.after.clone()).await?;
        let shown: Vec<String> = page
            .items
            .iter()
            .map(|c| format!("children/{}", c.id))
            .collect();
        audit::read(&mut conn, context, CHILD_READ, &shown).await?;
        conn.finish();
        Ok(pb::ListChildrenResponse {
            children: page.items.iter().map(child_pb).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn issue(
        &self,
        request: Request<pb::IssueCertificateRequest>,
    ) -> Result<pb::Certificate, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let body = request.get_ref();
        let child_id = resource::parse_name(&body.child, "children", "child")?;
        let key = IdempotencyKey::for_request(context, "IssueCertificate", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let child = Self::visible_child(&mut tx, caller, &child_id).await?;
        ensure_operates(caller, &child.region_code, &child.municipality_code)?;
        let response = once(&mut tx, key.as_ref(), context.now(), async |tx| {
            let period = periods::current(
                &mut *tx,
                &child.region_code,
                &child.municipality_code,
                context.now(),
            )
            .await?
            .ok_or(crate::domain::CertificateError::NoCurrentPeriod)?;
            let certificate =
                people::issue(&mut *tx, context, &child_id, period.today(context.now())).await?;
            certificate_pb(&mut *tx, &certificate, &child, context.now()).await
        })
        .await?;
        tx.commit().await?;
        Ok(response)
    }

    async fn get_certificate(
        &self,
        request: Request<pb::GetCertificateRequest>,
    ) -> Result<pb::Certificate, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let name = &request.get_ref().name;
        let id = resource::parse_name(name, "certificates", "name")?;
        let mut conn = self.store.read().await?;
        // One statement: the certificate, its child (who may see it), its period and balance.
        let view = people::certificate_view(&mut conn, &id, context.now()).await?;
        conn.finish();
        let view = view
            .filter(|v| may_see_child(caller, &v.child))
            .ok_or_else(|| ApiError::not_found(format!("certificates/{id}")))?;
        Ok(view_pb(&view))
    }

    async fn list_certificates(
        &self,
        request: Request<pb::ListCertificatesRequest>,
    ) -> Result<pb::ListCertificatesResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let Some(scope) = Self::scope(context.caller()?)? else {
            return Ok(pb::ListCertificatesResponse::default());
        };
        let body = request.get_ref();
        let state = match pb::CertificateState::try_from(body.state) {
            Ok(pb::CertificateState::Unspecified) => None,
            Ok(pb::CertificateState::Active) => Some(CertificateState::Active),
            Ok(pb::CertificateState::Suspended) => Some(CertificateState::Suspended),
            Ok(pb::CertificateState::Closed) => Some(CertificateState::Closed),
            Err(_) => {
                return Err(ApiError::invalid_field(
                    kit_reason::INVALID_FIELDS,
                    "state",
                    "not a certificate state",
                ));
            }
        };
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &["ListCertificates", &body.state.to_string()],
        )?;
        let mut conn = self.store.read().await?;
        let page =
            people::list_certificates(&mut conn, &scope, state, paging.size, paging.after.clone())
                .await?;
        let mut certificates = Vec::with_capacity(page.items.len());
        for certificate in &page.items {
            let child = people::child(&mut conn, &certificate.child_id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("children/{}", certificate.child_id)))?;
            certificates.push(certificate_pb(&mut conn, certificate, &child, context.now()).await?);
        }
        conn.finish();
        Ok(pb::ListCertificatesResponse {
            certificates,
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    /// Suspends, resumes or closes a certificate, by its municipality's operator.
    async fn move_to(
        &self,
        context: &CallContext,
        name: &str,
        supplied_etag: &str,
        to: CertificateState,
    ) -> Result<pb::Certificate, ApiError> {
        let caller = context.caller()?;
        let mut tx = self.store.begin().await?;
        let (current, child) = Self::visible_certificate(&mut tx, caller, name, "name").await?;
        ensure_operates(caller, &child.region_code, &child.municipality_code)?;
        if current.state != to {
            etag::check(supplied_etag, current.version, name)?;
        }
        let moved = if to == CertificateState::Closed {
            let today = periods::current(
                &mut tx,
                &child.region_code,
                &child.municipality_code,
                context.now(),
            )
            .await?
            .map(|p| p.today(context.now()))
            .unwrap_or_else(|| context.now().to_zoned(jiff::tz::TimeZone::UTC).date());
            enrolments::close_certificate(&mut tx, context, &current.id, today).await?
        } else {
            people::set_state(&mut tx, context, &current.id, to).await?
        };
        let response = certificate_pb(&mut tx, &moved, &child, context.now()).await?;
        tx.commit().await?;
        Ok(response)
    }

    async fn statement(
        &self,
        request: Request<pb::GetStatementRequest>,
    ) -> Result<pb::Statement, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let mut conn = self.store.read().await?;
        let (certificate, child) = Self::visible_certificate(
            &mut conn,
            context.caller()?,
            &body.certificate,
            "certificate",
        )
        .await?;
        let period = match body.period.as_str() {
            "" => periods::current(
                &mut conn,
                &child.region_code,
                &child.municipality_code,
                context.now(),
            )
            .await?
            .ok_or(crate::domain::CertificateError::NoCurrentPeriod)?,
            name => {
                let id = resource::parse_name(name, "periods", "period")?;
                periods::fetch(&mut conn, &id, false)
                    .await?
                    .ok_or_else(|| ApiError::not_found(name.to_string()))?
            }
        };
        let lines = people::statement(&mut conn, &certificate.id, &period.id).await?;
        let balance = ledger::load(&mut conn, &certificate.id, &period.id)
            .await?
            .balance()
            .map_err(CertificateError::from)?;
        let kind = periods::kind_of(&mut conn, &period.id, &certificate.id).await?;
        conn.finish();
        Ok(pb::Statement {
            certificate: format!("certificates/{}", certificate.id),
            period: format!("periods/{}", period.id),
            kind: kind_pb(kind),
            entries: lines
                .iter()
                .map(|l| pb::LedgerEntry {
                    kind: match l.kind.as_str() {
                        "CREDIT" => pb::EntryKind::Credit,
                        "RESERVE" => pb::EntryKind::Reserve,
                        "RELEASE" => pb::EntryKind::Release,
                        _ => pb::EntryKind::Charge,
                    } as i32,
                    amount_kopecks: l.amount.kopecks(),
                    enrolment: l
                        .enrolment_id
                        .as_ref()
                        .map(|e| format!("enrolments/{e}"))
                        .unwrap_or_default(),
                    programme_title: l.programme_title.clone().unwrap_or_default(),
                    month: l.month.map(wire::date),
                    record_time: Some(wire::timestamp(l.record_time)),
                })
                .collect(),
            balance: Some(balance_pb(&balance)),
        })
    }
}

#[tonic::async_trait]
impl CertificateService for CertificatesApi {
    async fn create_child(
        &self,
        request: Request<pb::CreateChildRequest>,
    ) -> Result<Response<pb::Child>, Status> {
        respond(self.create_child(request).await)
    }

    async fn get_child(
        &self,
        request: Request<pb::GetChildRequest>,
    ) -> Result<Response<pb::Child>, Status> {
        respond(self.get_child(request).await)
    }

    async fn get_child_records(
        &self,
        request: Request<pb::GetChildRecordsRequest>,
    ) -> Result<Response<pb::ChildRecords>, Status> {
        respond(self.get_child_records(request).await)
    }

    async fn list_children(
        &self,
        request: Request<pb::ListChildrenRequest>,
    ) -> Result<Response<pb::ListChildrenResponse>, Status> {
        respond(self.list_children(request).await)
    }

    async fn issue_certificate(
        &self,
        request: Request<pb::IssueCertificateRequest>,
    ) -> Result<Response<pb::Certificate>, Status> {
        respond(self.issue(request).await)
    }

    async fn get_certificate(
        &self,
        request: Request<pb::GetCertificateRequest>,
    ) -> Result<Response<pb::Certificate>, Status> {
        respond(self.get_certificate(request).await)
    }

    async fn list_certificates(
        &self,
        request: Request<pb::ListCertificatesRequest>,
    ) -> Result<Response<pb::ListCertificatesResponse>, Status> {
        respond(self.list_certificates(request).await)
    }

    async fn suspend_certificate(
        &self,
        request: Request<pb::SuspendCertificateRequest>,
    ) -> Result<Response<pb::Certificate>, Status> {
        let body = request.get_ref();
        let result = match CallContext::of(&request) {
            Ok(_) if body.reason.trim().is_empty() => Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "reason",
                "required: the family is told why",
            )),
            Ok(context) => {
                self.move_to(context, &body.name, &body.etag, CertificateState::Suspended)
                    .await
            }
            Err(e) => Err(e),
        };
        respond(result)
    }

    async fn resume_certificate(
        &self,
        request: Request<pb::ResumeCertificateRequest>,
    ) -> Result<Response<pb::Certificate>, Status> {
        let body = request.get_ref();
        let result = match CallContext::of(&request) {
            Ok(context) => {
                self.move_to(context, &body.name, &body.etag, CertificateState::Active)
                    .await
            }
            Err(e) => Err(e),
        };
        respond(result)
    }

    async fn close_certificate(
        &self,
        request: Request<pb::CloseCertificateRequest>,
    ) -> Result<Response<pb::Certificate>, Status> {
        let body = request.get_ref();
        let result = match CallContext::of(&request) {
            Ok(_) if body.reason.trim().is_empty() => Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "reason",
                "required: the family is told why",
            )),
            Ok(context) => {
                self.move_to(context, &body.name, &body.etag, CertificateState::Closed)
                    .await
            }
            Err(e) => Err(e),
        };
        respond(result)
    }

    async fn get_statement(
        &self,
        request: Request<pb::GetStatementRequest>,
    ) -> Result<Response<pb::Statement>, Status> {
        respond(self.statement(request).await)
    }
}
