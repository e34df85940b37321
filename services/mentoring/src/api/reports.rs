//! `ReportService` (report.proto): the yearly report to the regional mentoring centre (rule
//! 10, choice 15: a calendar year, due 30 December in the institution's zone), its CSV
//! export, and the region summary the gateway composes (issue 17).
//!
//! Rules the handlers keep:
//! - The director and the appointed curator read, submit and export their institution's
//!   reports; the regional centre of the institution's region reads and exports them, and
//!   alone reads its region's summary. Another holder of the curator role is refused in every
//!   method (`CURATOR_NOT_APPOINTED`); participants, guardians and event consumers are
//!   `ROLE_REQUIRED`.
//! - The caller's standing in the institution is settled first, so that an institution
//!   outside the caller's tenant (another region's for the regional centre) is `NOT_FOUND`
//!   before any role is judged.
//! - A DRAFT is read live, its figures in one snapshot; submitting fixes them
//!   (`TRANSITION_NOT_ALLOWED` once submitted), guarded by the etag and the `request_id`.
//! - Nothing here names a person: figures, codes and institution names only, so no answer
//!   needs redaction, and nothing about a person reaches a log line.

use std::pin::Pin;

use edu_kit::error::{FieldProblems, reason as kit_reason};
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::{ApiError, CallContext, etag, wire};
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::report_service_server::ReportService;
use futures::Stream;
use tonic::{Request, Response, Status};

use super::access::{self, Viewer};
use super::convert::{self, checked};
use super::report_csv::{self, MAX_CHUNK_BYTES, row_of};
use super::{names, once, respond};
use crate::domain::{MentoringForm, PairType, ParticipantRole};
use crate::store::institutions::Institution;
use crate::store::reports::{self, Reported, Section, YearlyReport};
use crate::store::summary::{self, InstitutionSummary};
use crate::store::{Store, institution_name, institutions};

/// The stream of an exported yearly report.
type ExportStream =
    Pin<Box<dyn Stream<Item = Result<pb::ExportYearlyReportResponse, Status>> + Send + 'static>>;

/// The report service.
#[derive(Debug, Clone)]
pub struct ReportsApi {
    store: Store,
}

fn state_pb(report: &YearlyReport) -> i32 {
    if report.submitted {
        pb::YearlyReportState::Submitted as i32
    } else {
        pb::YearlyReportState::Draft as i32
    }
}

fn figures_pb(report: &YearlyReport) -> pb::YearlyFigures {
    let total = row_of(report, Section::Total, "ALL");
    pb::YearlyFigures {
        participants: total.participants,
        mentors: total.mentors,
        mentees: total.mentees,
        pairs: total.pairs.unwrap_or(0),
        groups: total.groups.unwrap_or(0),
        activated: report.activated,
        completed: report.completed,
        mentors_trained: report.mentors_trained,
        by_role: ParticipantRole::ALL
            .into_iter()
            .map(|role| {
                let r = row_of(report, Section::Role, role.as_str());
                pb::RoleFigures {
                    role: convert::role(role),
                    participants: r.participants,
                    mentors: r.mentors,
                    mentees: r.mentees,
                }
            })
            .collect(),
        by_form: MentoringForm::ALL
            .into_iter()
            .map(|form| {
                let r = row_of(report, Section::Form, form.as_str());
                pb::FormFigures {
                    form: convert::form(form),
                    pairs: r.pairs.unwrap_or(0),
                    groups: r.groups.unwrap_or(0),
                    participants: r.participants,
                    mentors: r.mentors,
                    mentees: r.mentees,
                }
            })
            .collect(),
        by_pair_type: PairType::ALL
            .into_iter()
            .map(|pair_type| {
                let r = row_of(report, Section::PairType, pair_type.as_str());
                pb::PairTypeFigures {
                    pair_type: convert::pair_type(pair_type),
                    pairs: r.pairs.unwrap_or(0),
                    groups: r.groups.unwrap_or(0),
                    participants: r.participants,
                    mentors: r.mentors,
                    mentees: r.mentees,
                }
            })
            .collect(),
    }
}

fn report_pb(institution: &Institution, report: &YearlyReport) -> pb::YearlyReport {
    pb::YearlyReport {
        name: report.name.clone(),
        year: i32::from(report.year),
        institution_display_name: institution.short_name.clone(),
        region_code: institution.region_code.clone(),
        state: state_pb(report),
        due_date: Some(wire::date(report.due_date)),
        due_time: Some(wire::timestamp(report.due_time)),
        submit_time: report.submit_time.map(wire::timestamp),
        late: report.late,
        overdue: report.overdue,
        figures: Some(figures_pb(report)),
        read_time: Some(wire::timestamp(report.read_time)),
        etag: etag::of(report.version),
    }
}

fn institution_pb(part: InstitutionSummary) -> pb::RegionInstitutionSummary {
    pb::RegionInstitutionSummary {
        institution: institution_name(&part.id),
        display_name: part.short_name,
        active_pairs: part.active_pairs,
        active_groups: part.active_groups,
        mentors: part.mentors,
        mentees: part.mentees,
    }
}

impl ReportsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        ReportsApi { store }
    }

    /// The caller in `institution` (`NOT_FOUND` outside it), who must be the director, the
    /// appointed curator, or — when `regional_centre` — the regional centre of its region.
    async fn reader(
        &self,
        context: &CallContext,
        institution: &str,
        regional_centre: bool,
    ) -> Result<Viewer, ApiError> {
        let viewer = Viewer::of(&self.store, context, institution).await?;
        if !(regional_centre && viewer.is_regional_centre()) {
            viewer.require_staff()?;
        }
        Ok(viewer)
    }

    /// The report a Get or Export names, read in one snapshot for a caller who may read it.
    async fn readable(&self, context: &CallContext, name: &str) -> Result<Reported, ApiError> {
        let (institution, year) = names::yearly_report(name, "name")?;
        self.reader(context, &institution, true).await?;
        let year = year.ok_or_else(|| ApiError::not_found(name))?;
        reports::read(&self.store, &institution, year, context.now()).await
    }

    async fn get(
        &self,
        request: Request<pb::GetYearlyReportRequest>,
    ) -> Result<pb::YearlyReport, ApiError> {
        let context = CallContext::of(&request)?;
        let found = self.readable(context, &request.get_ref().name).await?;
        Ok(report_pb(&found.institution, &found.report))
    }

    async fn submit(
        &self,
        request: Request<pb::SubmitYearlyReportRequest>,
    ) -> Result<pb::YearlyReport, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let mut problems = FieldProblems::new();
        let name = problems.field(names::yearly_report(&body.name, "name"));
        let key = problems.field(IdempotencyKey::for_request(
            context,
            "SubmitYearlyReport",
            &body.request_id,
            body,
        ));
        problems.finish()?;
        let (institution, year) = checked(name, "name")?;
        let key = checked(key, "request_id")?;
        // The regional centre reads reports but does not submit them.
        self.reader(context, &institution, false).await?;
        let year = year.ok_or_else(|| ApiError::not_found(body.name.clone()))?;
        let submitted = once(&self.store, key.as_ref(), context.now(), async |conn| {
            let report = reports::submit(conn, context, &institution, year, &body.etag).await?;
            let found = institutions::get(conn, &institution).await?;
            Ok(report_pb(&found, &report))
        })
        .await?;
        tracing::info!(report = %submitted.name, late = submitted.late, "yearly report submitted");
        Ok(submitted)
    }

    /// ExportYearlyReport: the whole file (a few kilobytes), as the stream's messages.
    async fn export(
        &self,
        request: Request<pb::ExportYearlyReportRequest>,
    ) -> Result<Vec<pb::ExportYearlyReportResponse>, ApiError> {
        let context = CallContext::of(&request)?;
        let found = self.readable(context, &request.get_ref().name).await?;
        let bytes = report_csv::render(&found)?;
        let file_name = report_csv::file_name(&found.institution.id, found.report.year);
        tracing::info!(
            report = %found.report.name,
            bytes = bytes.len(),
            "yearly report exported"
        );
        Ok(report_csv::chunks(&bytes, MAX_CHUNK_BYTES, &file_name))
    }

    async fn region_summary(
        &self,
        request: Request<pb::GetRegionSummaryRequest>,
    ) -> Result<pb::RegionSummary, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let region = if body.region_code.is_empty() {
            Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "region_code",
                "required: an ISO 3166-2 code such as RU-SAR",
            ))
        } else {
            convert::region(&body.region_code, "region_code")
        }?;
        let regions = access::regional_centre_regions(context.caller()?)?;
        if !regions.iter().any(|r| r == region.as_str()) {
            return Err(ApiError::not_found(format!("region {region}")));
        }
        let mut conn = self.store.read().await?;
        let found = summary::region(&mut conn, region.as_str()).await?;
        conn.finish();
        Ok(pb::RegionSummary {
            region_code: region.as_str().to_string(),
            institutions: found.institutions.into_iter().map(institution_pb).collect(),
            active_pairs: found.active_pairs,
            active_groups: found.active_groups,
            mentors: found.mentors,
            mentees: found.mentees,
            read_time: Some(wire::timestamp(context.now())),
        })
    }
}

#[tonic::async_trait]
impl ReportService for ReportsApi {
    async fn get_yearly_report(
        &self,
        request: Request<pb::GetYearlyReportRequest>,
    ) -> Result<Response<pb::YearlyReport>, Status> {
        respond(self.get(request).await)
    }

    async fn submit_yearly_report(
        &self,
        request: Request<pb::SubmitYearlyReportRequest>,
    ) -> Result<Response<pb::YearlyReport>, Status> {
        respond(self.submit(request).await)
    }

    type ExportYearlyReportStream = ExportStream;

    async fn export_yearly_report(
        &self,
        request: Request<pb::ExportYearlyReportRequest>,
    ) -> Result<Response<Self::ExportYearlyReportStream>, Status> {
        let messages = self.export(request).await.map_err(Status::from)?;
        let stream: ExportStream = Box::pin(futures::stream::iter(messages.into_iter().map(Ok)));
        Ok(Response::new(stream))
    }

    async fn get_region_summary(
        &self,
        request: Request<pb::GetRegionSummaryRequest>,
    ) -> Result<Response<pb::RegionSummary>, Status> {
        respond(self.region_summary(request).await)
    }
}
