//! `ResultsService`: rankings, winners and the announcement (rules 6-8).
//!
//! Before the announcement only the organiser sees scores, rankings and winners; everyone
//! else is told the results are not announced. After it, results are public: reading them
//! needs no token. The region summary the gateway composes needs one, and counts winners
//! of announced contests only, whoever asks.

use edu_kit::auth::Caller;
use edu_kit::error::reason as kit_reason;
use edu_kit::region::RegionCode;
use edu_kit::{ApiError, CallContext, resource};
use edu_proto::edu::competitions::v1 as pb;
use edu_proto::edu::competitions::v1::results_service_server::ResultsService;
use futures::Stream;
use std::pin::Pin;
use tonic::{Request, Response, Status};

use super::access::{
    ORGANISER, ensure_may_read_region, ensure_may_read_region_summaries, is_organiser,
};
use super::{convert, respond};
use crate::domain::scoring::TieBreak;
use crate::domain::{CompetitionError, Contest, ContestState};
use crate::store::Store;
use crate::store::results::{NominationRanking, Placed, RegionContest};

/// The results service.
#[derive(Debug, Clone)]
pub struct ResultsApi {
    store: Store,
}

impl ResultsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        ResultsApi { store }
    }

    /// A contest whose results `caller` may read: the organiser's always, anyone's once
    /// announced. Drafts do not exist beyond organisers.
    async fn readable(&self, caller: Option<&Caller>, name: &str) -> Result<Contest, ApiError> {
        let id = resource::parse_name(name, "contests", "contest")?;
        let organiser = caller.is_some_and(is_organiser);
        let contest = self
            .store
            .contest(&id)
            .await?
            .filter(|c| organiser || c.is_visible_beyond_organisers())
            .ok_or_else(|| ApiError::not_found(format!("contests/{id}")))?;
        if organiser || contest.state == ContestState::Announced {
            Ok(contest)
        } else {
            Err(CompetitionError::ResultsNotAnnounced.into())
        }
    }

    async fn get_ranking(
        &self,
        request: Request<pb::GetRankingRequest>,
    ) -> Result<pb::Ranking, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let contest = self
            .readable(context.caller_if_any(), &body.contest)
            .await?;
        let ranking = self.store.ranking(&contest, &body.nomination_id).await?;
        Ok(ranking_pb(&contest.id, &ranking))
    }

    async fn set_winners(
        &self,
        request: Request<pb::SetWinnersRequest>,
    ) -> Result<pb::Ranking, ApiError> {
        let context = CallContext::of(&request)?;
        context.caller()?.require_role(ORGANISER)?;
        let body = request.get_ref();
        let contest_id = resource::parse_name(&body.contest, "contests", "contest")?;
        let applications = body
            .applications
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let (contest, id) = resource::parse_child_name(
                    name,
                    "contests",
                    "applications",
                    &format!("applications[{i}]"),
                )?;
                if contest == contest_id {
                    Ok(id)
                } else {
                    Err(ApiError::invalid_field(
                        edu_kit::error::reason::INVALID_FIELDS,
                        format!("applications[{i}]"),
                        "not an application of this contest",
                    ))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (contest, ranking) = self
            .store
            .set_winners(
                context,
                &contest_id,
                &body.nomination_id,
                &applications,
                &body.departure_reason,
            )
            .await?;
        Ok(ranking_pb(&contest.id, &ranking))
    }

    async fn announce(
        &self,
        request: Request<pb::AnnounceResultsRequest>,
    ) -> Result<pb::AnnounceResultsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        context.caller()?.require_role(ORGANISER)?;
        let body = request.get_ref();
        let id = resource::parse_name(&body.name, "contests", "name")?;
        let announcement = self.store.announce(context, &id, &body.etag).await?;
        Ok(pb::AnnounceResultsResponse {
            contest: Some(convert::contest(&announcement.contest)),
            announced_late: announcement.late,
            published_practices: announcement
                .practice_ids
                .iter()
                .map(|p| format!("practices/{p}"))
                .collect(),
        })
    }

    async fn get_results(
        &self,
        request: Request<pb::GetResultsRequest>,
    ) -> Result<pb::Results, ApiError> {
        let context = CallContext::of(&request)?;
        let contest = self
            .readable(context.caller_if_any(), &request.get_ref().contest)
            .await?;
        if contest.state != ContestState::Announced {
            return Err(CompetitionError::ResultsNotAnnounced.into());
        }
        let rankings = self.store.rankings(&contest).await?;
        Ok(pb::Results {
            contest: format!("contests/{}", contest.id),
            announce_time: contest.announce_time.map(convert::timestamp),
            announced_late: contest.announced_late(),
            rankings: rankings
                .iter()
                .map(|r| ranking_pb(&contest.id, r))
                .collect(),
        })
    }

    async fn export(
        &self,
        request: Request<pb::ExportResultsRequest>,
    ) -> Result<Vec<pb::ExportResultsResponse>, ApiError> {
        let context = CallContext::of(&request)?;
        let contest = self
            .readable(context.caller_if_any(), &request.get_ref().contest)
            .await?;
        let rankings = self.store.rankings(&contest).await?;
        Ok(rankings
            .iter()
            .flat_map(|ranking| {
                let title = contest
                    .nomination(&ranking.nomination_id)
                    .map(|n| n.title.clone())
                    .unwrap_or_default();
                let contest_id = contest.id.clone();
                ranking
                    .placed
                    .iter()
                    .map(move |p| pb::ExportResultsResponse {
                        nomination_id: ranking.nomination_id.clone(),
                        nomination_title: title.clone(),
                        application: Some(placed_pb(&contest_id, p)),
                    })
            })
            .collect())
    }

    async fn region_summary(
        &self,
        request: Request<pb::GetRegionSummaryRequest>,
    ) -> Result<pb::RegionSummary, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        // The role first: a caller who may read no region learns nothing from the code.
        ensure_may_read_region_summaries(caller)?;
        let raw = request.get_ref().region_code.as_str();
        let region = if raw.is_empty() {
            Err("required: the region, for example RU-ALT".to_string())
        } else {
            RegionCode::parse(raw).map_err(|e| e.to_string())
        }
        .map_err(|problem| {
            ApiError::invalid_field(kit_reason::INVALID_FIELDS, "region_code", problem)
        })?;
        ensure_may_read_region(caller, &region)?;
        let now = context.now();
        let contests = self.store.region_summary(region.as_str()).await?;
        let total_applications = contests.iter().map(|c| c.applications).sum();
        let total_winners = contests.iter().map(|c| c.winners).sum();
        Ok(pb::RegionSummary {
            region_code: region.to_string(),
            contests: contests.iter().map(region_contest_pb).collect(),
            total_applications: count(total_applications),
            total_winners: count(total_winners),
            read_time: Some(convert::timestamp(now)),
        })
    }
}

/// A count on the wire: saturating at `i32::MAX`, never wrapping to a negative figure.
fn count(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn region_contest_pb(c: &RegionContest) -> pb::RegionContestSummary {
    pb::RegionContestSummary {
        contest: format!("contests/{}", c.id),
        title: c.title.clone(),
        state: convert::contest_state(c.state) as i32,
        applications: count(c.applications),
        winners: count(c.winners),
        results_announced: c.state == ContestState::Announced,
    }
}

fn placed_pb(contest_id: &str, p: &Placed) -> pb::RankedApplication {
    pb::RankedApplication {
        application: format!(
            "contests/{contest_id}/applications/{}",
            p.ranked.application.application_id
        ),
        title: p.title.clone(),
        team: format!("teams/{}", p.team_id),
        region_code: p.region_code.clone(),
        // Published with two decimals, the precision ties are judged at.
        score: p
            .ranked
            .application
            .score
            .map(|s| (s * 100.0).round() / 100.0)
            .unwrap_or_default(),
        completed_reviews: i32::try_from(p.ranked.application.completed_reviews)
            .unwrap_or(i32::MAX),
        rank: i32::try_from(p.ranked.rank).unwrap_or(i32::MAX),
        tie_break: p.ranked.tie_break.clone(),
        tie_break_rule: match p.ranked.rule {
            TieBreak::NoTie => pb::TieBreakRule::NoTie,
            TieBreak::CompletedReviews => pb::TieBreakRule::CompletedReviews,
            TieBreak::SubmitTime => pb::TieBreakRule::SubmitTime,
            TieBreak::ApplicationId => pb::TieBreakRule::ApplicationId,
        } as i32,
        winner: p.winner,
    }
}

fn ranking_pb(contest_id: &str, ranking: &NominationRanking) -> pb::Ranking {
    pb::Ranking {
        contest: format!("contests/{contest_id}"),
        nomination_id: ranking.nomination_id.clone(),
        applications: ranking
            .placed
            .iter()
            .map(|p| placed_pb(contest_id, p))
            .collect(),
        departure_reason: ranking.departure_reason.clone(),
    }
}

/// The stream of an export.
type ExportStream =
    Pin<Box<dyn Stream<Item = Result<pb::ExportResultsResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl ResultsService for ResultsApi {
    async fn get_ranking(
        &self,
        request: Request<pb::GetRankingRequest>,
    ) -> Result<Response<pb::Ranking>, Status> {
        respond(self.get_ranking(request).await)
    }

    async fn set_winners(
        &self,
        request: Request<pb::SetWinnersRequest>,
    ) -> Result<Response<pb::Ranking>, Status> {
        respond(self.set_winners(request).await)
    }

    async fn announce_results(
        &self,
        request: Request<pb::AnnounceResultsRequest>,
    ) -> Result<Response<pb::AnnounceResultsResponse>, Status> {
        respond(self.announce(request).await)
    }

    async fn get_results(
        &self,
        request: Request<pb::GetResultsRequest>,
    ) -> Result<Response<pb::Results>, Status> {
        respond(self.get_results(request).await)
    }

    async fn get_region_summary(
        &self,
        request: Request<pb::GetRegionSummaryRequest>,
    ) -> Result<Response<pb::RegionSummary>, Status> {
        respond(self.region_summary(request).await)
    }

    type ExportResultsStream = ExportStream;

    /// The rows are read in one go (a contest ranks hundreds of applications, not
    /// millions) and streamed, so a client writes them out as they come.
    async fn export_results(
        &self,
        request: Request<pb::ExportResultsRequest>,
    ) -> Result<Response<Self::ExportResultsStream>, Status> {
        let rows = self.export(request).await.map_err(Status::from)?;
        let stream: ExportStream = Box::pin(futures::stream::iter(rows.into_iter().map(Ok)));
        Ok(Response::new(stream))
    }
}
