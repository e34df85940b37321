//! `ReportService`: a campaign's figures nationally and per region (rule 9), the region
//! summary the gateway composes, and the printable lists for fairs (report.proto).
//!
//! Reports and summaries count, they never name. The fair lists name children, for the
//! staff handing help over at a fair; each export is audited (who, which list, how many
//! children) and logged without a name.

use std::pin::Pin;

use edu_kit::error::{FieldProblems, reason as kit_reason};
use edu_kit::{ApiError, CallContext, audit};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::report_service_server::ReportService;
use futures::Stream;
use serde_json::json;
use tonic::{Request, Response, Status};

use super::access::{Viewer, role_required, scope_required};
use super::needs::item_of;
use super::prices::trend_point_pb;
use super::{convert, respond};
use crate::domain::regions::REGIONS;
use crate::print::{self, FairListTitle, FairNeed, FairRow};
use crate::store::headquarters::{self, ActivityKind};
use crate::store::needs::NeedItem;
use crate::store::reports::{self, FairChild, FairListFilter, Figures};
use crate::store::{Store, campaigns, schools};

/// The largest chunk of a printable list (report.proto).
pub const MAX_CHUNK_BYTES: usize = 64 * 1024;

/// The stream of a printable list.
type FairListStream =
    Pin<Box<dyn Stream<Item = Result<pb::ExportFairListResponse, Status>> + Send + 'static>>;

/// The report service.
#[derive(Debug, Clone)]
pub struct ReportsApi {
    store: Store,
}

fn count(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The enum value at `index` of a list kept "in the order of the enum", zeros included:
/// the proto enums number their values from 1 in that order.
fn enum_at(index: usize) -> i32 {
    i32::try_from(index + 1).unwrap_or(0)
}

fn figures_pb(f: &Figures) -> pb::ReportFigures {
    let c = &f.children;
    let n = &f.needs;
    let d = &f.donations;
    let a = &f.appeals;
    let t = &f.attendance;
    pb::ReportFigures {
        children: Some(pb::ChildrenFigures {
            identified: count(c.identified),
            by_category: c
                .by_category
                .iter()
                .enumerate()
                .map(|(i, v)| pb::CategoryCount {
                    category: enum_at(i),
                    children: count(*v),
                })
                .collect(),
            without_iin: count(c.without_iin),
            open_probable_duplicates: count(c.open_probable_duplicates),
            helped: count(c.helped),
        }),
        needs: Some(pb::NeedFigures {
            needs: count(n.total.needs),
            covered: count(n.total.covered),
            partly_covered: count(n.total.partly_covered),
            uncovered: count(n.total.uncovered),
            overridden: count(n.total.overridden),
            estimated_tiyn: n.total.estimated_tiyn,
            committed_tiyn: n.total.committed_tiyn,
            delivered_tiyn: n.total.delivered_tiyn,
            by_item: n
                .by_item
                .iter()
                .enumerate()
                .map(|(i, v)| pb::NeedItemFigures {
                    item: enum_at(i),
                    needs: count(v.needs),
                    estimated_tiyn: v.estimated_tiyn,
                    delivered_tiyn: v.delivered_tiyn,
                    covered: count(v.covered),
                })
                .collect(),
        }),
        donations: Some(pb::DonationFigures {
            donations_received: count(d.received),
            raised_money_tiyn: d.raised_money_tiyn,
            raised_goods_tiyn: d.raised_goods_tiyn,
            pledged_open_tiyn: d.pledged_open_tiyn,
            allocated_tiyn: d.allocated_tiyn,
            spent_money_tiyn: d.spent_money_tiyn,
            spent_goods_tiyn: d.spent_goods_tiyn,
            available_tiyn: d.available_tiyn,
            budget_delivered_tiyn: d.budget_delivered_tiyn,
        }),
        appeals: Some(pb::AppealFigures {
            received: count(a.received),
            open: count(a.open),
            in_progress: count(a.in_progress),
            answered: count(a.answered),
            redirected: count(a.redirected),
            overdue: count(a.overdue),
            responded_late: count(a.responded_late),
            median_time_to_first_response: a.median_first_response.map(convert::duration),
            p90_time_to_first_response: a.p90_first_response.map(convert::duration),
            by_category: a
                .by_category
                .iter()
                .enumerate()
                .map(|(i, v)| pb::AppealCategoryCount {
                    category: enum_at(i),
                    appeals: count(*v),
                })
                .collect(),
        }),
        attendance: Some(pb::AttendanceFigures {
            checked: count(t.checked),
            not_checked: count(t.not_checked),
            attending: count(t.attending),
            not_attending: count(t.not_attending),
            by_reason: t
                .by_reason
                .iter()
                .enumerate()
                .map(|(i, v)| pb::AbsenceReasonCount {
                    reason: enum_at(i),
                    children: count(*v),
                })
                .collect(),
            awaiting_follow_up: count(t.awaiting_follow_up),
            followed_up: count(t.followed_up),
        }),
    }
}

/// A region of a campaign, named for a NOT_FOUND answer.
fn region_not_found(campaign: &str, region: &str) -> ApiError {
    ApiError::not_found(format!("{} (region {region})", campaigns::name(campaign)))
}

/// The region's name as printed, `Костанайская область (KZ-39)`.
fn region_title(code: &str) -> String {
    match REGIONS.iter().find(|(c, _)| *c == code) {
        Some((_, name)) => format!("{name} ({code})"),
        None => code.to_string(),
    }
}

/// An item as printed; an `OTHER` need by its description.
fn item_label(item: NeedItem, description: &str) -> String {
    match item {
        NeedItem::Uniform => "Школьная форма",
        NeedItem::Shoes => "Обувь",
        NeedItem::Backpack => "Рюкзак",
        NeedItem::Stationery => "Канцелярские товары",
        NeedItem::Textbooks => "Учебники",
        NeedItem::Cash => "Денежная помощь",
        NeedItem::Other if description.is_empty() => "Другое",
        NeedItem::Other => description,
    }
    .to_string()
}

fn fair_row(child: FairChild) -> FairRow {
    let left = |n: &reports::FairNeedRow| (n.estimated_tiyn - n.delivered_tiyn).max(0);
    FairRow {
        estimated_tiyn: child.needs.iter().map(|n| n.estimated_tiyn).sum(),
        committed_tiyn: child.needs.iter().map(|n| n.committed_tiyn).sum(),
        remaining_tiyn: child.needs.iter().map(left).sum(),
        needs: child
            .needs
            .iter()
            .map(|n| FairNeed {
                item: item_label(n.item, &n.description),
                left_tiyn: left(n),
            })
            .collect(),
        school: child.school,
        grade: child.grade,
        family_name: child.family_name,
        given_name: child.given_name,
        patronymic: child.patronymic,
        birth_date: child.birth_date,
    }
}

/// What ExportFairList was asked for, checked.
struct FairListRequest {
    campaign_id: String,
    school_id: Option<String>,
    region: Option<String>,
    pdf: bool,
    item: Option<NeedItem>,
    /// (headquarters, activity) of the fair.
    activity: Option<(String, String)>,
}

fn fair_list_request(body: &pb::ExportFairListRequest) -> Result<FairListRequest, ApiError> {
    let mut problems = FieldProblems::new();
    let campaign_id = problems.field(convert::campaign_id(&body.campaign, "campaign"));
    let school_id = if body.school.is_empty() {
        None
    } else {
        problems.field(convert::school_id(&body.school, "school"))
    };
    let region = if body.region_code.is_empty() {
        None
    } else {
        problems
            .field(convert::region_filter(&body.region_code, "region_code"))
            .flatten()
    };
    match (body.school.is_empty(), body.region_code.is_empty()) {
        (true, true) => problems.add("school", "required: a school or a region_code"),
        (false, false) => problems.add("region_code", "give a school or a region_code, not both"),
        _ => {}
    }
    let pdf = match pb::FairListFormat::try_from(body.format) {
        Ok(pb::FairListFormat::Csv) => Some(false),
        Ok(pb::FairListFormat::Pdf) => Some(true),
        _ => {
            problems.add("format", "required: CSV or PDF");
            None
        }
    };
    let item = problems.field(convert::enum_filter(body.item, "item", item_of));
    let mut activity = None;
    if !body.activity.is_empty()
        && let Some([c, hq, a]) = problems.field(edu_kit::resource::parse_nested(
            &body.activity,
            ["campaigns", "headquarters", "activities"],
            "activity",
        ))
    {
        if campaign_id.as_deref().is_some_and(|id| id != c) {
            problems.add("activity", "not an activity of this campaign");
        }
        activity = Some((hq, a));
    }
    problems.finish()?;
    match (campaign_id, pdf, item) {
        (Some(campaign_id), Some(pdf), Some(item)) => Ok(FairListRequest {
            campaign_id,
            school_id,
            region,
            pdf,
            item,
            activity,
        }),
        _ => Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            "campaign",
            "campaign and format are required",
        )),
    }
}

fn not_a_fair() -> ApiError {
    ApiError::invalid_field(
        kit_reason::INVALID_FIELDS,
        "activity",
        "not a school fair or remote-settlement fair of the list's region",
    )
}

/// The printed file in chunks; the first carries its type and name.
fn chunks(bytes: Vec<u8>, content_type: &str, file_name: &str) -> Vec<pb::ExportFairListResponse> {
    let mut out: Vec<pb::ExportFairListResponse> = bytes
        .chunks(MAX_CHUNK_BYTES)
        .map(|chunk| pb::ExportFairListResponse {
            data: chunk.to_vec(),
            ..Default::default()
        })
        .collect();
    if out.is_empty() {
        out.push(pb::ExportFairListResponse::default());
    }
    if let Some(first) = out.first_mut() {
        first.content_type = content_type.to_string();
        first.file_name = file_name.to_string();
    }
    out
}

impl ReportsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        ReportsApi { store }
    }

    async fn report(
        &self,
        request: Request<pb::GetCampaignReportRequest>,
    ) -> Result<pb::CampaignReport, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let campaign_id = convert::campaign_id(&body.campaign, "campaign")?;
        let region = convert::region_filter(&body.region_code, "region_code")?;
        match &region {
            None => viewer.require_coordinator()?,
            Some(r) if !viewer.coordinator && !viewer.is_regional(r) => {
                if viewer.regional.is_empty() {
                    return Err(role_required());
                }
                return Err(region_not_found(&campaign_id, r));
            }
            Some(_) => {}
        }
        let campaign = {
            let mut conn = self.store.read().await?;
            let campaign = campaigns::get(&mut conn, &campaign_id, false).await?;
            conn.finish();
            campaign
        };
        if let Some(r) = &region
            && !campaign.has_region(r)
        {
            return Err(region_not_found(&campaign_id, r));
        }
        let now = context.now();
        let report =
            reports::campaign_report(&self.store, &campaign, region.as_deref(), now).await?;
        Ok(pb::CampaignReport {
            campaign: campaigns::name(&campaign.id),
            region_code: region.unwrap_or_default(),
            figures: Some(figures_pb(&report.figures)),
            regions: report
                .regions
                .iter()
                .map(|(code, f)| pb::RegionReport {
                    region_code: code.clone(),
                    figures: Some(figures_pb(f)),
                })
                .collect(),
            price_trend: report.price_trend.iter().map(trend_point_pb).collect(),
            read_time: Some(convert::timestamp(now)),
        })
    }

    async fn region_summary(
        &self,
        request: Request<pb::GetRegionSummaryRequest>,
    ) -> Result<pb::RegionSummary, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let mut problems = FieldProblems::new();
        if body.region_code.is_empty() {
            problems.add("region_code", "required: the region, for example KZ-75");
        }
        let region = problems
            .field(convert::region_filter(&body.region_code, "region_code"))
            .flatten();
        let campaign_id = if body.campaign.is_empty() {
            None
        } else {
            problems.field(convert::campaign_id(&body.campaign, "campaign"))
        };
        problems.finish()?;
        let Some(region) = region else {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "region_code",
                "required: the region, for example KZ-75",
            ));
        };
        if !viewer.coordinator && !viewer.is_regional(&region) {
            if viewer.regional.is_empty() {
                return Err(role_required());
            }
            return Err(ApiError::not_found(format!("region {region}")));
        }
        if let Some(id) = &campaign_id {
            let mut conn = self.store.read().await?;
            campaigns::get(&mut conn, id, false).await?;
            conn.finish();
        }
        let now = context.now();
        let found = reports::region_summary(&self.store, &region, campaign_id.as_deref()).await?;
        Ok(pb::RegionSummary {
            region_code: region,
            campaigns: found
                .into_iter()
                .map(|c| pb::RegionCampaignSummary {
                    campaign: campaigns::name(&c.id),
                    display_name: c.display_name,
                    start_date: Some(convert::date(c.start_date)),
                    end_date: Some(convert::date(c.end_date)),
                    children_identified: count(c.identified),
                    children_helped: count(c.helped),
                    help_delivered_tiyn: c.delivered_tiyn,
                })
                .collect(),
            read_time: Some(convert::timestamp(now)),
        })
    }

    /// ExportFairList: the whole file, in chunks.
    pub async fn fair_list(
        &self,
        request: Request<pb::ExportFairListRequest>,
    ) -> Result<Vec<pb::ExportFairListResponse>, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        let asked = fair_list_request(request.get_ref())?;
        let body = request.get_ref();
        // School staff learn nothing of another school, not even whether it exists.
        if viewer.regional.is_empty() {
            match &asked.school_id {
                Some(id) if viewer.is_school(id) => {}
                Some(_) => return Err(scope_required(&format!("the school {}", body.school))),
                None => {
                    return Err(scope_required(&format!("the region {}", body.region_code)));
                }
            }
        }
        let mut conn = self.store.read().await?;
        let campaign = campaigns::get(&mut conn, &asked.campaign_id, false).await?;
        let (region, scope_title, scope_key) = match (&asked.school_id, &asked.region) {
            (Some(id), _) => {
                let school = schools::fetch(&mut conn, id, false)
                    .await?
                    .filter(|s| viewer.sees_children_of(&s.id, &s.region_code))
                    .ok_or_else(|| ApiError::not_found(body.school.clone()))?;
                let title = if school.locality.is_empty() {
                    school.display_name.clone()
                } else {
                    format!("{}, {}", school.display_name, school.locality)
                };
                (school.region_code, title, school.id)
            }
            (None, Some(r)) => {
                if !viewer.is_regional(r) || !campaign.has_region(r) {
                    return Err(region_not_found(&campaign.id, r));
                }
                (r.clone(), region_title(r), r.to_lowercase())
            }
            (None, None) => return Err(role_required()),
        };
        let activity = match &asked.activity {
            None => None,
            Some((hq, a)) => {
                let found = headquarters::fetch_activity(&mut conn, &campaign.id, hq, a, false)
                    .await?
                    .ok_or_else(|| ApiError::not_found(body.activity.clone()))?;
                let fair = matches!(
                    found.kind,
                    ActivityKind::SchoolFair | ActivityKind::RemoteSettlementFair
                );
                if !fair || found.region_code != region {
                    return Err(not_a_fair());
                }
                let when = match found.end_date {
                    Some(end) if end != found.start_date => {
                        format!("{} – {}", print::date(found.start_date), print::date(end))
                    }
                    _ => print::date(found.start_date),
                };
                Some(if found.place.is_empty() {
                    format!("{}, {when}", found.title)
                } else {
                    format!("{}, {}, {when}", found.title, found.place)
                })
            }
        };
        conn.finish();

        let filter = FairListFilter {
            campaign: campaign.id.clone(),
            school: asked.school_id.clone(),
            region: asked.school_id.is_none().then(|| region.clone()),
            item: asked.item,
            include_covered: body.include_covered,
        };
        let rows: Vec<FairRow> = reports::fair_list(&self.store, &filter)
            .await?
            .into_iter()
            .map(fair_row)
            .collect();
        let now = context.now();
        let title = FairListTitle {
            campaign: campaign.display_name.clone(),
            scope: scope_title,
            activity,
            printed_on: campaign.today(now),
        };
        let children = rows.len();
        let (bytes, content_type, extension) = if asked.pdf {
            let bytes = tokio::task::spawn_blocking(move || print::pdf::render(&title, &rows))
                .await
                .map_err(|e| ApiError::internal(&e))?
                .map_err(|e| ApiError::internal(&e))?;
            (bytes, "application/pdf", "pdf")
        } else {
            let bytes = print::csv::render(&rows).map_err(|e| ApiError::internal(&e))?;
            (bytes, "text/csv; charset=utf-8", "csv")
        };
        let file_name = format!("fair-list-{scope_key}-{}.{extension}", campaign.today(now));

        // Printing names children: who printed which list is kept (no name in it).
        let resource = match &asked.school_id {
            Some(_) => format!(
                "{}/fairLists/{}",
                campaigns::name(&campaign.id),
                body.school
            ),
            None => format!("{}/fairLists/{region}", campaigns::name(&campaign.id)),
        };
        let mut tx = self.store.begin().await?;
        audit::record(
            &mut tx,
            context,
            "fair_list.exported",
            &resource,
            json!({ "format": extension, "children": children,
                    "item": asked.item.map(NeedItem::as_str),
                    "include_covered": body.include_covered,
                    "activity": body.activity }),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            list = %resource,
            format = extension,
            children,
            bytes = bytes.len(),
            "fair list exported"
        );
        Ok(chunks(bytes, content_type, &file_name))
    }
}

#[tonic::async_trait]
impl ReportService for ReportsApi {
    async fn get_campaign_report(
        &self,
        request: Request<pb::GetCampaignReportRequest>,
    ) -> Result<Response<pb::CampaignReport>, Status> {
        respond(self.report(request).await)
    }

    async fn get_region_summary(
        &self,
        request: Request<pb::GetRegionSummaryRequest>,
    ) -> Result<Response<pb::RegionSummary>, Status> {
        respond(self.region_summary(request).await)
    }

    type ExportFairListStream = FairListStream;

    async fn export_fair_list(
        &self,
        request: Request<pb::ExportFairListRequest>,
    ) -> Result<Response<Self::ExportFairListStream>, Status> {
        let messages = self.fair_list(request).await.map_err(Status::from)?;
        let stream: FairListStream = Box::pin(futures::stream::iter(messages.into_iter().map(Ok)));
        Ok(Response::new(stream))
    }
}
