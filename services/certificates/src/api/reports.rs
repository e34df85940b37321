//! `ReportService`: the period's budget and coverage for its municipality's operator
//! (rule 10).

use edu_kit::{ApiError, CallContext, resource};
use edu_proto::edu::certificates::v1 as pb;
use edu_proto::edu::certificates::v1::report_service_server::ReportService;
use tonic::{Request, Response, Status};

use super::access::ensure_operates;
use super::programmes::DIRECTIONS;
use super::respond;
use crate::store::Store;
use crate::store::periods::{self, PeriodRecord};
use crate::store::reports::{self, BudgetRow};

/// The report service.
#[derive(Debug, Clone)]
pub struct ReportsApi {
    store: Store,
}

fn row_pb(row: &BudgetRow) -> pb::BudgetRow {
    pb::BudgetRow {
        group: row.group.clone(),
        direction: pb::Direction::Unspecified as i32,
        credited_kopecks: row.credited.kopecks(),
        reserved_kopecks: row.reserved.kopecks(),
        charged_kopecks: row.charged.kopecks(),
        released_kopecks: row.released.kopecks(),
    }
}

impl ReportsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        ReportsApi { store }
    }

    async fn operated_period(
        &self,
        context: &CallContext,
        name: &str,
    ) -> Result<PeriodRecord, ApiError> {
        let id = resource::parse_name(name, "periods", "period")?;
        let mut conn = self.store.begin().await?;
        let period = periods::fetch(&mut conn, &id, false)
            .await?
            .ok_or_else(|| ApiError::not_found(name.to_string()))?;
        ensure_operates(
            context.caller()?,
            &period.region_code,
            &period.municipality_code,
        )?;
        Ok(period)
    }

    async fn budget(
        &self,
        request: Request<pb::GetBudgetReportRequest>,
    ) -> Result<pb::BudgetReport, ApiError> {
        let context = CallContext::of(&request)?;
        let period = self
            .operated_period(context, &request.get_ref().period)
            .await?;
        let mut conn = self.store.begin().await?;
        let (total, by_provider, by_direction) = reports::budget(&mut conn, &period.id).await?;
        Ok(pb::BudgetReport {
            period: format!("periods/{}", period.id),
            total: Some(row_pb(&total)),
            by_provider: by_provider.iter().map(row_pb).collect(),
            by_direction: DIRECTIONS
                .iter()
                .map(|(direction, stored)| {
                    let row = by_direction
                        .iter()
                        .find(|r| r.group == *stored)
                        .cloned()
                        .unwrap_or_default();
                    pb::BudgetRow {
                        group: direction.as_str_name().to_string(),
                        direction: *direction as i32,
                        ..row_pb(&row)
                    }
                })
                .collect(),
        })
    }

    async fn coverage(
        &self,
        request: Request<pb::GetCoverageReportRequest>,
    ) -> Result<pb::CoverageReport, ApiError> {
        let context = CallContext::of(&request)?;
        let period = self
            .operated_period(context, &request.get_ref().period)
            .await?;
        let mut conn = self.store.begin().await?;
        let (eligible, enrolled) = reports::coverage(&mut conn, &period).await?;
        Ok(pb::CoverageReport {
            period: format!("periods/{}", period.id),
            eligible_children: i32::try_from(eligible).unwrap_or(i32::MAX),
            enrolled_children: i32::try_from(enrolled).unwrap_or(i32::MAX),
            coverage: if eligible > 0 {
                enrolled as f64 / eligible as f64
            } else {
                0.0
            },
        })
    }
}

#[tonic::async_trait]
impl ReportService for ReportsApi {
    async fn get_budget_report(
        &self,
        request: Request<pb::GetBudgetReportRequest>,
    ) -> Result<Response<pb::BudgetReport>, Status> {
        respond(self.budget(request).await)
    }

    async fn get_coverage_report(
        &self,
        request: Request<pb::GetCoverageReportRequest>,
    ) -> Result<Response<pb::CoverageReport>, Status> {
        respond(self.coverage(request).await)
    }
}
