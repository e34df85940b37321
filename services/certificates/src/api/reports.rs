//! `ReportService`: the period's budget and coverage for its municipality's operator
//! (rule 10), and the region summary the gateway composes (report.proto). Reports and the
//! summary count, they never name.

use edu_kit::error::reason as kit_reason;
use edu_kit::region::RegionCode;
use edu_kit::{ApiError, CallContext, resource, wire};
use edu_proto::edu::certificates::v1 as pb;
use edu_proto::edu::certificates::v1::report_service_server::ReportService;
use tonic::{Request, Response, Status};

use super::access::{OPERATOR, ensure_operates, summary_municipalities};
use super::programmes::DIRECTIONS;
use super::respond;
use crate::domain::Money;
use crate::store::Store;
use crate::store::periods::{self, PeriodRecord};
use crate::store::reports::{self, BudgetRow, MunicipalitySummary};

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

/// A count as the wire carries it; a count past `i32` (never in a region's register) is
/// shown at the bound rather than wrapped.
fn count(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn municipality_pb(m: &MunicipalitySummary) -> pb::RegionMunicipalitySummary {
    pb::RegionMunicipalitySummary {
        municipality_code: m.municipality_code.clone(),
        municipality_name: m.municipality_name.clone(),
        period: m
            .period_id
            .as_ref()
            .map(|id| format!("periods/{id}"))
            .unwrap_or_default(),
        active_certificates: count(m.active_certificates),
        children_with_certificate: count(m.children_with_certificate),
        credited_kopecks: m.balance.credited.kopecks(),
        reserved_kopecks: m.balance.reserved.kopecks(),
        charged_kopecks: m.balance.charged.kopecks(),
    }
}

/// The region code of a summary request, upper-cased; `INVALID_FIELDS` naming
/// `region_code` when it is empty or not ISO 3166-2.
fn summary_region(raw: &str) -> Result<RegionCode, ApiError> {
    let invalid = |description: String| {
        ApiError::invalid_field(kit_reason::INVALID_FIELDS, "region_code", description)
    };
    if raw.trim().is_empty() {
        return Err(invalid("required: the region, for example RU-ALT".into()));
    }
    RegionCode::parse(raw).map_err(|e| invalid(e.to_string()))
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

    async fn region_summary(
        &self,
        request: Request<pb::GetRegionSummaryRequest>,
    ) -> Result<pb::RegionSummary, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        // The role first: a caller who may never read a summary learns nothing of the
        // request, not even whether its code is well formed.
        caller.require_role(OPERATOR)?;
        let region = summary_region(&request.get_ref().region_code)?;
        let only = summary_municipalities(caller, &region)?;
        let now = context.now();
        // One statement: its figures are one snapshot, without a transaction.
        let found = {
            let mut conn = self.store.read().await?;
            let found =
                reports::region_summary(&mut conn, region.as_str(), only.as_deref(), now).await?;
            conn.finish();
            found
        };
        // Totals over the entries returned, with the checked sums of `Money`.
        let total = |f: fn(&MunicipalitySummary) -> Money| {
            Money::total(found.iter().map(f))
                .map(Money::kopecks)
                .map_err(|e| ApiError::internal(&e))
        };
        let credited = total(|m| m.balance.credited)?;
        let reserved = total(|m| m.balance.reserved)?;
        let charged = total(|m| m.balance.charged)?;
        let sum = |f: fn(&MunicipalitySummary) -> i64| {
            count(found.iter().map(f).fold(0, i64::saturating_add))
        };
        Ok(pb::RegionSummary {
            region_code: region.as_str().to_string(),
            active_certificates: sum(|m| m.active_certificates),
            children_with_certificate: sum(|m| m.children_with_certificate),
            credited_kopecks: credited,
            reserved_kopecks: reserved,
            charged_kopecks: charged,
            municipalities: found.iter().map(municipality_pb).collect(),
            read_time: Some(wire::timestamp(now)),
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

    async fn get_region_summary(
        &self,
        request: Request<pb::GetRegionSummaryRequest>,
    ) -> Result<Response<pb::RegionSummary>, Status> {
        respond(self.region_summary(request).await)
    }
}
