//! `edu.gateway.v1.GatewayService`: what the gateway tells operators about itself, and the
//! views composed from the services: the region summary ([`crate::summary`]) and the child's
//! cross-programme view ([`crate::child_view`]).

use std::sync::Arc;
use std::time::Duration;

use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext};
use edu_proto::edu::gateway::v1 as pb;
use edu_proto::edu::gateway::v1::gateway_service_server::GatewayService;
use tonic::{Request, Response, Status};

use crate::backends::Backends;
use crate::child_view::ChildViews;
use crate::summary::RegionSummaries;

/// Operators of the suite.
pub const OPERATOR: &str = "gateway.operator";

/// The gateway's own API.
#[derive(Debug, Clone)]
pub struct GatewayApi {
    backends: Arc<Backends>,
    summaries: RegionSummaries,
    children: ChildViews,
}

impl GatewayApi {
    /// The API over `backends`, giving each part of a view (a region summary, a child's
    /// view) at most `part_timeout`.
    pub fn new(backends: Arc<Backends>, part_timeout: Duration) -> Self {
        GatewayApi {
            summaries: RegionSummaries::new(Arc::clone(&backends), part_timeout),
            children: ChildViews::new(Arc::clone(&backends), part_timeout),
            backends,
        }
    }

    fn list(
        &self,
        request: &Request<pb::ListBackendsRequest>,
    ) -> Result<pb::ListBackendsResponse, ApiError> {
        CallContext::of(request)?.caller()?.require_role(OPERATOR)?;
        let body = request.get_ref();
        let paging: PageRequest<String> =
            PageRequest::parse(body.page_size, &body.page_token, &["ListBackends"])?;
        let (size, after) = (paging.size, paging.after.clone());
        let mut backends: Vec<pb::Backend> = self
            .backends
            .all()
            .filter(|b| after.as_deref().is_none_or(|after| b.name() > after))
            .take(size + 1)
            .map(|b| pb::Backend {
                name: format!("backends/{}", b.name()),
                packages: b.packages().to_vec(),
                target: b.target().to_string(),
                endpoints: b
                    .endpoints()
                    .iter()
                    .map(|e| {
                        let (checked, error) = e.last_check();
                        pb::Endpoint {
                            address: e.addr().to_string(),
                            state: if checked.is_none() {
                                pb::EndpointState::Unspecified
                            } else if e.is_serving() {
                                pb::EndpointState::Serving
                            } else {
                                pb::EndpointState::NotServing
                            } as i32,
                            check_time: checked.map(|t| prost_types::Timestamp {
                                seconds: t.as_second(),
                                nanos: t.subsec_nanosecond(),
                            }),
                            error: error.unwrap_or_default(),
                        }
                    })
                    .collect(),
            })
            .collect();
        let next_page_token = if backends.len() > size {
            backends.truncate(size);
            let last = backends
                .last()
                .map(|b| b.name.trim_start_matches("backends/").to_string());
            paging.next_token(last.as_ref())
        } else {
            String::new()
        };
        Ok(pb::ListBackendsResponse {
            backends,
            next_page_token,
        })
    }
}

#[tonic::async_trait]
impl GatewayService for GatewayApi {
    async fn list_backends(
        &self,
        request: Request<pb::ListBackendsRequest>,
    ) -> Result<Response<pb::ListBackendsResponse>, Status> {
        self.list(&request).map(Response::new).map_err(Status::from)
    }

    async fn get_region_summary(
        &self,
        request: Request<pb::GetRegionSummaryRequest>,
    ) -> Result<Response<pb::RegionSummary>, Status> {
        edu_kit::error::respond(self.summaries.summary(&request).await)
    }

    async fn get_child_view(
        &self,
        request: Request<pb::GetChildViewRequest>,
    ) -> Result<Response<pb::ChildView>, Status> {
        edu_kit::error::respond(self.children.view(&request).await)
    }
}
