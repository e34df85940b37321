//! `GetRegionSummary`: one region's figures from every service, each part the answer of that
//! service's own `GetRegionSummary`. The gateway adds no figure of its own and counts nothing:
//! it asks the five services in parallel through [`crate::fanout`] and says per part what
//! came of it.

use std::sync::Arc;
use std::time::Duration;

use edu_kit::error::reason;
use edu_kit::region::RegionCode;
use edu_kit::{ApiError, CallContext};
use edu_proto::edu::aid::v1 as aid;
use edu_proto::edu::certificates::v1 as certificates;
use edu_proto::edu::competitions::v1 as competitions;
use edu_proto::edu::gateway::v1 as pb;
use edu_proto::edu::mentoring::v1 as mentoring;
use edu_proto::edu::partnerships::v1 as partnerships;

use crate::backends::Backends;
use crate::fanout::{Fanout, Purpose, forwarded_metadata};

/// The region summaries over the gateway's backends.
#[derive(Debug, Clone)]
pub struct RegionSummaries {
    fanout: Fanout,
}

impl RegionSummaries {
    /// Summaries over `backends`, each part given at most `part_timeout`.
    pub fn new(backends: Arc<Backends>, part_timeout: Duration) -> Self {
        RegionSummaries {
            fanout: Fanout::new(backends, part_timeout),
        }
    }

    /// The summary of the request's region: refused only for a caller without a token or a
    /// malformed region code; every part's failure is reported in `parts` instead.
    pub async fn summary(
        &self,
        request: &tonic::Request<pb::GetRegionSummaryRequest>,
    ) -> Result<pb::RegionSummary, ApiError> {
        let context = CallContext::of(request)?;
        context.caller()?;
        let region = region_code(&request.get_ref().region_code)?;
        let budget = self.fanout.budget(context.deadline());
        let metadata = forwarded_metadata(request.metadata(), context, Purpose::NotPassedOn);
        let code = || region.as_str().to_string();
        let (competitions, certificates, partnerships, aid, mentoring) = futures::join!(
            self.fanout.part(
                competitions::results_service_server::SERVICE_NAME,
                budget,
                &metadata,
                competitions::GetRegionSummaryRequest {
                    region_code: code()
                },
                |channel, request| async move {
                    competitions::results_service_client::ResultsServiceClient::new(channel)
                        .get_region_summary(request)
                        .await
                },
            ),
            self.fanout.part(
                certificates::report_service_server::SERVICE_NAME,
                budget,
                &metadata,
                certificates::GetRegionSummaryRequest {
                    region_code: code()
                },
                |channel, request| async move {
                    certificates::report_service_client::ReportServiceClient::new(channel)
                        .get_region_summary(request)
                        .await
                },
            ),
            self.fanout.part(
                partnerships::progress_service_server::SERVICE_NAME,
                budget,
                &metadata,
                partnerships::GetRegionSummaryRequest {
                    region_code: code(),
                    year: String::new(),
                },
                |channel, request| async move {
                    partnerships::progress_service_client::ProgressServiceClient::new(channel)
                        .get_region_summary(request)
                        .await
                },
            ),
            self.fanout.part(
                aid::report_service_server::SERVICE_NAME,
                budget,
                &metadata,
                aid::GetRegionSummaryRequest {
                    region_code: code(),
                    campaign: String::new(),
                },
                |channel, request| async move {
                    aid::report_service_client::ReportServiceClient::new(channel)
                        .get_region_summary(request)
                        .await
                },
            ),
            self.fanout.part(
                mentoring::report_service_server::SERVICE_NAME,
                budget,
                &metadata,
                mentoring::GetRegionSummaryRequest {
                    region_code: code()
                },
                |channel, request| async move {
                    mentoring::report_service_client::ReportServiceClient::new(channel)
                        .get_region_summary(request)
                        .await
                },
            ),
        );
        let now = context.now();
        Ok(pb::RegionSummary {
            region_code: code(),
            competitions: competitions.0,
            certificates: certificates.0,
            partnerships: partnerships.0,
            aid: aid.0,
            mentoring: mentoring.0,
            parts: vec![
                competitions.1,
                certificates.1,
                partnerships.1,
                aid.1,
                mentoring.1,
            ],
            read_time: Some(prost_types::Timestamp {
                seconds: now.as_second(),
                nanos: now.subsec_nanosecond(),
            }),
        })
    }
}

/// The request's region, upper-cased; `INVALID_FIELDS` naming `region_code` when it is empty
/// or not ISO 3166-2. Checked here, so that a malformed code is refused once rather than
/// five times in the parts.
fn region_code(raw: &str) -> Result<RegionCode, ApiError> {
    let invalid = |description: String| {
        ApiError::invalid_field(reason::INVALID_FIELDS, "region_code", description)
    };
    if raw.trim().is_empty() {
        return Err(invalid("required: the region, for example RU-ALT".into()));
    }
    RegionCode::parse(raw).map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_codes_are_upper_cased_or_refused_naming_the_field() {
        assert_eq!(region_code("ru-sar").expect("valid").as_str(), "RU-SAR");
        for bad in ["", "  ", "Saratov", "RU-SARA"] {
            let error = region_code(bad).expect_err(bad);
            assert_eq!(error.reason.code(), "INVALID_FIELDS");
            assert_eq!(error.fields()[0].field, "region_code");
        }
    }
}
