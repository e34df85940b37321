//! `PriceService`: price observations of school uniform and supplies (rule 6), recorded by
//! operators (price monitors) and regional staff of their region, and the weekly median
//! trend per item and region and nationally, read by every role of the package.

use edu_kit::error::{FieldProblems, reason as kit_reason};
use edu_kit::idempotency::{self, IdempotencyKey};
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::price_service_server::PriceService;
use tonic::{Request, Response, Status};

use super::access::{Viewer, role_required, scope_required};
use super::{convert, respond};
use crate::store::headquarters::{self, ActivityKind};
use crate::store::prices::{self, ITEMS, MAX_PRICE_TIYN, NewObservation, Observation, TrendPoint};
use crate::store::{Store, campaigns};

/// Reasons of the price service. It has none of its own: it answers with the kit's
/// (`INVALID_FIELDS`, `ROLE_REQUIRED`, `NOT_FOUND`, `PAGE_TOKEN_INVALID`,
/// `REQUEST_ID_REUSED`) and the service's shared ones (`SCOPE_REQUIRED`,
/// `REGION_NOT_IN_CAMPAIGN`, `CAMPAIGN_ENDED`, `DATE_OUT_OF_RANGE`).
pub mod reason {
    pub use crate::api::errors::reason::DATE_OUT_OF_RANGE;
}

/// Longest place name.
const MAX_PLACE_CHARS: usize = 300;
/// Longest note.
const MAX_NOTE_CHARS: usize = 500;

const PB_ITEMS: [pb::PriceItem; 6] = [
    pb::PriceItem::UniformBoys,
    pb::PriceItem::UniformGirls,
    pb::PriceItem::ShirtOrBlouse,
    pb::PriceItem::Shoes,
    pb::PriceItem::Backpack,
    pb::PriceItem::StationerySet,
];

const PB_PLACES: [pb::PlaceKind; 4] = [
    pb::PlaceKind::Shop,
    pb::PlaceKind::Market,
    pb::PlaceKind::SchoolFair,
    pb::PlaceKind::RemoteSettlementFair,
];

fn item_of(raw: i32) -> Option<&'static str> {
    PB_ITEMS
        .iter()
        .position(|i| *i as i32 == raw)
        .map(|p| ITEMS[p])
}

fn item_pb(item: &str) -> i32 {
    ITEMS
        .iter()
        .position(|i| *i == item)
        .map(|p| PB_ITEMS[p] as i32)
        .unwrap_or(0)
}

fn place_of(raw: i32) -> Option<&'static str> {
    PB_PLACES
        .iter()
        .position(|i| *i as i32 == raw)
        .map(|p| prices::PLACE_KINDS[p])
}

fn place_pb(kind: &str) -> i32 {
    prices::PLACE_KINDS
        .iter()
        .position(|i| *i == kind)
        .map(|p| PB_PLACES[p] as i32)
        .unwrap_or(0)
}

fn observation_pb(o: &Observation) -> pb::PriceObservation {
    pb::PriceObservation {
        name: o.name(),
        item: item_pb(o.item),
        region_code: o.region_code.clone(),
        place_kind: place_pb(o.place_kind),
        place_name: o.place_name.clone(),
        price_tiyn: o.price_tiyn,
        observe_date: Some(convert::date(o.observe_date)),
        note: o.note.clone(),
        activity: o
            .activity
            .as_ref()
            .map(|(hq, a)| headquarters::activity_name(&o.campaign_id, hq, a))
            .unwrap_or_default(),
        create_time: Some(convert::timestamp(o.create_time)),
    }
}

/// One week of a price series on the wire.
pub(super) fn trend_point_pb(p: &TrendPoint) -> pb::PriceTrendPoint {
    pb::PriceTrendPoint {
        item: item_pb(p.item),
        region_code: p.region_code.clone().unwrap_or_default(),
        week_start_date: Some(convert::date(p.week_start)),
        observations: i32::try_from(p.observations).unwrap_or(i32::MAX),
        median_tiyn: p.median_tiyn,
        min_tiyn: p.min_tiyn,
        max_tiyn: p.max_tiyn,
        change_from_first_week_tiyn: p.change_tiyn,
    }
}

/// `DATE_OUT_OF_RANGE` naming `field`.
pub(super) fn date_out_of_range(
    field: &str,
    earliest: jiff::civil::Date,
    latest: jiff::civil::Date,
) -> ApiError {
    ApiError::invalid_field(
        reason::DATE_OUT_OF_RANGE,
        field,
        format!("from {earliest} to {latest}"),
    )
    .with_metadata("earliest", earliest.to_string())
    .with_metadata("latest", latest.to_string())
    .in_russian(format!(
        "Дата должна быть не раньше {} и не позже {}.",
        earliest.strftime("%d.%m.%Y"),
        latest.strftime("%d.%m.%Y")
    ))
}

/// The observation's fields, each checked under `price_observation.`; the activity as
/// (campaign, headquarters, activity).
fn new_observation(
    from: &pb::PriceObservation,
) -> Result<(NewObservation, Option<String>), ApiError> {
    let mut problems = FieldProblems::new();
    let item = item_of(from.item);
    if item.is_none() {
        problems.add("price_observation.item", "required: the item observed");
    }
    let place_kind = place_of(from.place_kind);
    if place_kind.is_none() {
        problems.add(
            "price_observation.place_kind",
            "required: the kind of place",
        );
    }
    if from.region_code.is_empty() {
        problems.add(
            "price_observation.region_code",
            "required: the region, for example KZ-75",
        );
    } else if let Some(problem) = convert::region_problem(&from.region_code) {
        problems.add("price_observation.region_code", problem);
    }
    let place_name = problems.text(
        "price_observation.place_name",
        &from.place_name,
        MAX_PLACE_CHARS,
        true,
    );
    let note = problems.text("price_observation.note", &from.note, MAX_NOTE_CHARS, false);
    if !(1..=MAX_PRICE_TIYN).contains(&from.price_tiyn) {
        problems.add("price_observation.price_tiyn", "from 1 to 100 000 000 tiyn");
    }
    let observe_date = problems.field(edu_kit::wire::civil_date(
        from.observe_date.as_ref(),
        "price_observation.observe_date",
    ));
    let mut activity = None;
    let mut activity_campaign = None;
    if !from.activity.is_empty()
        && let Some([c, hq, a]) = problems.field(edu_kit::resource::parse_nested(
            &from.activity,
            ["campaigns", "headquarters", "activities"],
            "price_observation.activity",
        ))
    {
        activity = Some((hq, a));
        activity_campaign = Some(c);
    }
    problems.finish()?;
    match (item, place_kind, observe_date) {
        (Some(item), Some(place_kind), Some(observe_date)) => Ok((
            NewObservation {
                item,
                region_code: from.region_code.clone(),
                place_kind,
                place_name,
                price_tiyn: from.price_tiyn,
                observe_date,
                note,
                activity,
            },
            activity_campaign,
        )),
        _ => Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            "price_observation",
            "item, place kind and date are required",
        )),
    }
}

fn not_monitoring() -> ApiError {
    ApiError::invalid_field(
        kit_reason::INVALID_FIELDS,
        "price_observation.activity",
        "not a price-monitoring activity of the observation's region",
    )
}

/// The price service.
#[derive(Debug, Clone)]
pub struct PricesApi {
    store: Store,
}

impl PricesApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        PricesApi { store }
    }

    async fn record(
        &self,
        request: Request<pb::RecordPriceObservationRequest>,
    ) -> Result<pb::PriceObservation, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        if viewer.operator.is_empty() && viewer.regional.is_empty() {
            return Err(role_required());
        }
        let body = request.get_ref();
        let campaign_id = convert::campaign_id(&body.parent, "parent")?;
        let (new, activity_campaign) =
            new_observation(&body.price_observation.clone().unwrap_or_default())?;
        if !viewer.is_operator(&new.region_code) && !viewer.is_regional(&new.region_code) {
            return Err(scope_required(&format!("the region {}", new.region_code)));
        }
        let key =
            IdempotencyKey::for_request(context, "RecordPriceObservation", &body.request_id, body)?;
        let now = context.now();
        let mut tx = self.store.begin().await?;
        let recorded = idempotency::once(&mut tx, key.as_ref(), now, async |conn| {
            let campaign = campaigns::get(conn, &campaign_id, false).await?;
            campaign.ensure_region(&new.region_code)?;
            campaign.ensure_not_ended(now)?;
            let (earliest, latest) = (
                campaign.start_date,
                campaign.end_date.min(campaign.today(now)),
            );
            if new.observe_date < earliest || new.observe_date > latest {
                return Err(date_out_of_range(
                    "price_observation.observe_date",
                    earliest,
                    latest,
                ));
            }
            if let Some((hq, a)) = &new.activity {
                if activity_campaign.as_deref() != Some(campaign_id.as_str()) {
                    return Err(not_monitoring());
                }
                let found = headquarters::fetch_activity(conn, &campaign_id, hq, a, false)
                    .await?
                    .filter(|x| {
                        x.kind == ActivityKind::PriceMonitoring && x.region_code == new.region_code
                    });
                if found.is_none() {
                    return Err(not_monitoring());
                }
            }
            let created = prices::create(conn, context, &campaign_id, &new).await?;
            Ok(observation_pb(&created))
        })
        .await?;
        tx.commit().await?;
        Ok(recorded)
    }

    async fn list(
        &self,
        request: Request<pb::ListPriceObservationsRequest>,
    ) -> Result<pb::ListPriceObservationsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        if !viewer.coordinator && viewer.operator.is_empty() && viewer.regional.is_empty() {
            return Err(role_required());
        }
        let body = request.get_ref();
        let campaign_id = convert::campaign_id(&body.parent, "parent")?;
        let region = convert::region_filter(&body.region_code, "region_code")?;
        let item = convert::enum_filter(body.item, "item", item_of)?;
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListPriceObservations",
                &body.parent,
                &body.region_code,
                &body.item.to_string(),
            ],
        )?;
        let mut conn = self.store.read().await?;
        campaigns::get(&mut conn, &campaign_id, false).await?;
        let page = prices::list(
            &mut conn,
            &campaign_id,
            region.as_deref(),
            item,
            paging.size,
            paging.after.clone(),
        )
        .await?;
        conn.finish();
        Ok(pb::ListPriceObservationsResponse {
            price_observations: page.items.iter().map(observation_pb).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn trend(
        &self,
        request: Request<pb::GetPriceTrendRequest>,
    ) -> Result<pb::PriceTrend, ApiError> {
        let context = CallContext::of(&request)?;
        Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let campaign_id = convert::campaign_id(&body.campaign, "campaign")?;
        let region = if body.region_code.is_empty() {
            None
        } else {
            Some(convert::region(&body.region_code, "region_code")?)
        };
        let item = convert::enum_filter(body.item, "item", item_of)?;
        let mut conn = self.store.read().await?;
        campaigns::get(&mut conn, &campaign_id, false).await?;
        let points = prices::trend(&mut conn, &campaign_id, region.as_deref(), item).await?;
        conn.finish();
        Ok(pb::PriceTrend {
            campaign: campaigns::name(&campaign_id),
            points: points.iter().map(trend_point_pb).collect(),
            read_time: Some(convert::timestamp(context.now())),
        })
    }
}

#[tonic::async_trait]
impl PriceService for PricesApi {
    async fn record_price_observation(
        &self,
        request: Request<pb::RecordPriceObservationRequest>,
    ) -> Result<Response<pb::PriceObservation>, Status> {
        respond(self.record(request).await)
    }

    async fn list_price_observations(
        &self,
        request: Request<pb::ListPriceObservationsRequest>,
    ) -> Result<Response<pb::ListPriceObservationsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn get_price_trend(
        &self,
        request: Request<pb::GetPriceTrendRequest>,
    ) -> Result<Response<pb::PriceTrend>, Status> {
        respond(self.trend(request).await)
    }
}
