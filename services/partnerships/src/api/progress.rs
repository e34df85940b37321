//! `ProgressService`: the figures of a year for the ministry and the regional offices
//! (deliverable 10), and the region summary the gateway composes (issue 17). Both count,
//! they never name.

use edu_kit::error::{FieldProblems, reason as kit_reason};
use edu_kit::{ApiError, CallContext};
use edu_proto::edu::partnerships::v1 as pb;
use edu_proto::edu::partnerships::v1::progress_service_server::ProgressService;
use tonic::{Request, Response, Status};

use super::access::Viewer;
use super::{convert, respond};
use crate::domain::year::CapKind;
use crate::store::progress::{Figures, RegionYear};
use crate::store::{Store, years};

/// The progress service.
#[derive(Debug, Clone)]
pub struct ProgressApi {
    store: Store,
}

fn figures(f: &Figures) -> pb::ProgressFigures {
    let n = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
    pb::ProgressFigures {
        schools_applied: n(f.schools_applied),
        innovative_schools_applied: n(f.innovative_schools_applied),
        non_innovative_schools_applied: n(f.non_innovative_schools_applied),
        interests_declared: n(f.interests_declared),
        contracts_proposed: n(f.contracts_proposed),
        contracts_signed: n(f.contracts_signed),
        innovative_schools_seeking_partner: n(f.innovative_schools_seeking_partner),
        groups_formed: n(f.groups_formed),
        groups_approved: n(f.groups_approved),
        annexes_filed: n(f.annexes_filed),
        mobilities_held: n(f.mobilities_held),
    }
}

fn region_year(y: RegionYear) -> pb::RegionYearSummary {
    let n = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
    pb::RegionYearSummary {
        year: years::name(&y.id),
        display_name: y.display_name,
        schools_applied: n(y.schools_applied),
        schools_partnered: n(y.schools_partnered),
        groups_formed: n(y.groups_formed),
        groups_approved: n(y.groups_approved),
        mobilities_held: n(y.mobilities_held),
    }
}

impl ProgressApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        ProgressApi { store }
    }

    async fn get(
        &self,
        request: Request<pb::GetProgressRequest>,
    ) -> Result<pb::Progress, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let year_id = convert::year_id(&body.year, "year")?;
        let region = convert::region_filter(&body.region_code, "region_code")?;
        match &region {
            None => viewer.require_ministry()?,
            Some(r) if !viewer.ministry && !viewer.is_office_of(r) => {
                if viewer.regions.is_empty() {
                    viewer.require_ministry()?;
                }
                return Err(ApiError::not_found(format!("the progress of {r}")));
            }
            Some(_) => {}
        }
        let year = self.store.year(&year_id).await?;
        let progress = self.store.progress(&year_id, region.as_deref()).await?;
        let cap = |kind: CapKind, limit: u32, counted: u32| pb::CapUsage {
            kind: convert::cap_kind(kind) as i32,
            limit: i32::try_from(limit).unwrap_or(i32::MAX),
            counted: i32::try_from(counted).unwrap_or(i32::MAX),
            headroom: i32::try_from(limit.saturating_sub(counted)).unwrap_or(i32::MAX),
        };
        Ok(pb::Progress {
            year: body.year.clone(),
            region_code: region.clone().unwrap_or_default(),
            figures: Some(figures(&progress.total)),
            innovative_cap: Some(cap(
                CapKind::Innovative,
                year.year.caps.innovative,
                year.contracted.innovative,
            )),
            non_innovative_cap: Some(cap(
                CapKind::NonInnovative,
                year.year.caps.non_innovative,
                year.contracted.non_innovative,
            )),
            regions: if region.is_some() {
                Vec::new()
            } else {
                progress
                    .regions
                    .iter()
                    .map(|(code, f)| pb::RegionProgress {
                        region_code: code.clone(),
                        figures: Some(figures(f)),
                        innovative_schools_counted: i32::try_from(f.innovative_counted)
                            .unwrap_or(i32::MAX),
                        non_innovative_schools_counted: i32::try_from(f.non_innovative_counted)
                            .unwrap_or(i32::MAX),
                    })
                    .collect()
            },
            read_time: Some(convert::timestamp(context.now())),
        })
    }

    async fn region_summary(
        &self,
        request: Request<pb::GetRegionSummaryRequest>,
    ) -> Result<pb::RegionSummary, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        // Every malformed field at once and before the access check, as in every service's
        // summary: the gateway sends them all the same request, and a malformed code is
        // the caller's mistake whoever the caller is.
        let mut problems = FieldProblems::new();
        let region = if body.region_code.trim().is_empty() {
            problems.add("region_code", "required: the region, for example BG-22");
            None
        } else {
            problems.field(convert::region_code(&body.region_code, "region_code"))
        };
        let year_id = if body.year.is_empty() {
            None
        } else {
            problems.field(convert::year_id(&body.year, "year"))
        };
        problems.finish()?;
        let Some(region) = region else {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "region_code",
                "required: the region, for example BG-22",
            ));
        };
        viewer.require_region_figures(&region, &format!("region {region}"))?;
        // The year only once the caller may read the region, so that a stranger learns
        // nothing of which years exist.
        if let Some(id) = &year_id {
            self.store.year(id).await?;
        }
        let years = self
            .store
            .region_summary(&region, year_id.as_deref())
            .await?;
        Ok(pb::RegionSummary {
            region_code: region,
            years: years.into_iter().map(region_year).collect(),
            read_time: Some(convert::timestamp(context.now())),
        })
    }
}

#[tonic::async_trait]
impl ProgressService for ProgressApi {
    async fn get_progress(
        &self,
        request: Request<pb::GetProgressRequest>,
    ) -> Result<Response<pb::Progress>, Status> {
        respond(self.get(request).await)
    }

    async fn get_region_summary(
        &self,
        request: Request<pb::GetRegionSummaryRequest>,
    ) -> Result<Response<pb::RegionSummary>, Status> {
        respond(self.region_summary(request).await)
    }
}
