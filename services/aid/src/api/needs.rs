//! `NeedService`: the needs of listed children and the help delivered against them
//! (rule 3). School staff work with their school's children, regional staff with their
//! region's; to anyone else a need or a delivery does not exist. Needs and help name the
//! child only by resource name.

use edu_kit::error::{ErrorKind, FieldProblems, reason as kit_reason};
use edu_kit::idempotency::{self, IdempotencyKey};
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, etag, resource};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::need_service_server::NeedService;
use tonic::{Request, Response, Status};

use super::access::{Viewer, role_required};
use super::donations::reason as donation_reason;
use super::{convert, respond};
use crate::store::needs::{
    self, Coverage, HelpDelivery, HelpFilter, HelpFrom, MAX_NEED_TIYN, MoneyError, Need,
    NeedFilter, NeedItem, NeedKey, NewHelp, NewNeed,
};
use crate::store::{Store, Visibility};

/// Reasons of needs, help and donations, beyond the kit's and the service's shared ones.
pub mod reason {
    pub use crate::api::errors::reason::{CHILD_MERGED, CHILD_REMOVED, DATE_OUT_OF_RANGE};

    use edu_kit::error::Reason;

    /// A second need of the same item for a child.
    pub const NEED_EXISTS: Reason = Reason::new(
        "NEED_EXISTS",
        "У ребёнка уже есть потребность в этом предмете; измените её оценку вместо новой записи.",
    );
    /// A limit or estimate below what is committed.
    pub const NEED_BELOW_COMMITTED: Reason = Reason::new(
        "NEED_BELOW_COMMITTED",
        "На потребность уже распределено больше; лимит не может быть меньше распределённого.",
    );
    /// A commitment past the need's coverage limit.
    pub const NEED_OVER_COVERED: Reason = Reason::new(
        "NEED_OVER_COVERED",
        "Потребность была бы покрыта сверх лимита; превысить его может только региональный штаб, указав причину.",
    );
    /// Help drawing on an allocation to another need.
    pub const ALLOCATION_NOT_FOR_NEED: Reason = Reason::new(
        "ALLOCATION_NOT_FOR_NEED",
        "Это распределение пожертвования сделано на другую потребность.",
    );
    /// Help worth more than the allocation has left, or from a released one.
    pub const ALLOCATION_INSUFFICIENT: Reason = Reason::new(
        "ALLOCATION_INSUFFICIENT",
        "В распределении не осталось столько невыданной помощи.",
    );
}

/// «12 000,00 ₸» from tiyn.
pub fn tenge(tiyn: i64) -> String {
    edu_kit::russian::roubles(tiyn).replace('₽', "₸")
}

impl From<MoneyError> for ApiError {
    fn from(error: MoneyError) -> Self {
        let message = error.to_string();
        let precondition =
            |reason| ApiError::new(ErrorKind::FailedPrecondition, reason, message.clone());
        match error {
            MoneyError::NeedExists { need } => ApiError::new(
                ErrorKind::AlreadyExists,
                reason::NEED_EXISTS,
                message.clone(),
            )
            .with_metadata("need", need),
            MoneyError::NeedBelowCommitted { committed_tiyn } => {
                precondition(reason::NEED_BELOW_COMMITTED)
                    .with_metadata("committed_tiyn", committed_tiyn.to_string())
                    .in_russian(format!(
                        "На потребность уже распределено {}; лимит не может быть меньше.",
                        tenge(committed_tiyn)
                    ))
            }
            MoneyError::NeedOverCovered {
                limit_tiyn,
                committed_tiyn,
            } => precondition(reason::NEED_OVER_COVERED)
                .with_metadata("limit_tiyn", limit_tiyn.to_string())
                .with_metadata("committed_tiyn", committed_tiyn.to_string())
                .in_russian(format!(
                    "Лимит потребности {}, уже распределено {}; можно добавить не больше {}.",
                    tenge(limit_tiyn),
                    tenge(committed_tiyn),
                    tenge(limit_tiyn - committed_tiyn)
                )),
            MoneyError::ChildMerged { merged_into } => {
                precondition(reason::CHILD_MERGED).with_metadata("merged_into", merged_into)
            }
            MoneyError::ChildRemoved => precondition(reason::CHILD_REMOVED),
            MoneyError::DateOutOfRange {
                field,
                earliest,
                latest,
            } => ApiError::invalid_field(
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
            )),
            MoneyError::AllocationNotForNeed => ApiError::invalid_field(
                reason::ALLOCATION_NOT_FOR_NEED,
                "help_delivery.allocation",
                message,
            ),
            MoneyError::AllocationInsufficient {
                undelivered_tiyn,
                state,
            } => precondition(reason::ALLOCATION_INSUFFICIENT)
                .with_metadata("undelivered_tiyn", undelivered_tiyn.to_string())
                .with_metadata("state", state)
                .in_russian(format!(
                    "В распределении осталось невыданной помощи на {}.",
                    tenge(undelivered_tiyn)
                )),
            MoneyError::DonationNotReceived { state } => {
                precondition(donation_reason::DONATION_NOT_RECEIVED).with_metadata("state", state)
            }
            MoneyError::DonationInsufficient { available_tiyn } => {
                precondition(donation_reason::DONATION_INSUFFICIENT)
                    .with_metadata("available_tiyn", available_tiyn.to_string())
                    .in_russian(format!(
                        "В пожертвовании осталось нераспределённых {}.",
                        tenge(available_tiyn)
                    ))
            }
            MoneyError::RegionMismatch {
                donation_region,
                need_region,
            } => precondition(donation_reason::REGION_MISMATCH)
                .with_metadata("donation_region", donation_region)
                .with_metadata("need_region", need_region),
            MoneyError::TransitionNotAllowed { state, to } => {
                ApiError::transition_not_allowed(state, to).with_metadata("state", state)
            }
        }
    }
}

/// Longest descriptions and reasons.
const MAX_TEXT_CHARS: usize = 2000;
/// Longest name of a budget.
const MAX_BUDGET_CHARS: usize = 300;
/// Fields of a need that UpdateNeed may change.
const NEED_FIELDS: [&str; 2] = ["description", "estimated_value_tiyn"];

/// The item of the API's enum; `None` for the zero value or an unknown one.
pub(super) fn item_of(raw: i32) -> Option<NeedItem> {
    match pb::NeedItem::try_from(raw).ok()? {
        pb::NeedItem::Unspecified => None,
        pb::NeedItem::Uniform => Some(NeedItem::Uniform),
        pb::NeedItem::Shoes => Some(NeedItem::Shoes),
        pb::NeedItem::Backpack => Some(NeedItem::Backpack),
        pb::NeedItem::Stationery => Some(NeedItem::Stationery),
        pb::NeedItem::Textbooks => Some(NeedItem::Textbooks),
        pb::NeedItem::Cash => Some(NeedItem::Cash),
        pb::NeedItem::Other => Some(NeedItem::Other),
    }
}

/// The API's value of an item.
pub(super) fn item_pb(item: NeedItem) -> pb::NeedItem {
    match item {
        NeedItem::Uniform => pb::NeedItem::Uniform,
        NeedItem::Shoes => pb::NeedItem::Shoes,
        NeedItem::Backpack => pb::NeedItem::Backpack,
        NeedItem::Stationery => pb::NeedItem::Stationery,
        NeedItem::Textbooks => pb::NeedItem::Textbooks,
        NeedItem::Cash => pb::NeedItem::Cash,
        NeedItem::Other => pb::NeedItem::Other,
    }
}

fn coverage_pb(c: Coverage) -> pb::NeedCoverage {
    match c {
        Coverage::Uncovered => pb::NeedCoverage::Uncovered,
        Coverage::PartlyCovered => pb::NeedCoverage::PartlyCovered,
        Coverage::Covered => pb::NeedCoverage::Covered,
    }
}

pub(super) fn need_pb(n: &Need) -> pb::Need {
    pb::Need {
        name: n.name(),
        item: item_pb(n.item) as i32,
        description: n.description.clone(),
        estimated_value_tiyn: n.estimated_tiyn,
        coverage_limit_tiyn: n.limit_tiyn(),
        committed_tiyn: n.committed_tiyn,
        delivered_tiyn: n.delivered_tiyn,
        coverage: coverage_pb(n.coverage()) as i32,
        coverage_override: n.coverage_override.as_ref().map(|o| pb::CoverageOverride {
            limit_tiyn: o.limit_tiyn,
            reason: o.reason.clone(),
            actor: o.actor.clone(),
            override_time: Some(convert::timestamp(o.time)),
        }),
        school: format!("schools/{}", n.school_id),
        region_code: n.region_code.clone(),
        create_time: Some(convert::timestamp(n.create_time)),
        update_time: Some(convert::timestamp(n.update_time)),
        etag: etag::of(n.version),
    }
}

pub(super) fn help_pb(h: &HelpDelivery) -> pb::HelpDelivery {
    let (source, allocation, donation) = match (&h.donation_id, &h.allocation_id) {
        (Some(donation), Some(allocation)) => (
            pb::HelpSource::Donation,
            format!(
                "campaigns/{}/donations/{donation}/allocations/{allocation}",
                h.campaign_id
            ),
            format!("campaigns/{}/donations/{donation}", h.campaign_id),
        ),
        _ => (pb::HelpSource::Budget, String::new(), String::new()),
    };
    pb::HelpDelivery {
        name: h.name(),
        source: source as i32,
        allocation,
        budget_source: h.budget_source.clone(),
        value_tiyn: h.value_tiyn,
        delivery_date: Some(convert::date(h.delivery_date)),
        description: h.description.clone(),
        donation,
        item: item_pb(h.item) as i32,
        school: format!("schools/{}", h.school_id),
        region_code: h.region_code.clone(),
        create_time: Some(convert::timestamp(h.create_time)),
    }
}

/// A need's name, `campaigns/{campaign}/children/{child}/needs/{need}`.
pub(super) fn need_key(name: &str, field: &str) -> Result<NeedKey, ApiError> {
    let [campaign, child, id] =
        resource::parse_nested(name, ["campaigns", "children", "needs"], field)?;
    Ok(NeedKey {
        campaign,
        child,
        id,
    })
}

/// Whether the caller sees the children of `need`'s school.
fn sees(viewer: &Viewer, need: &Need) -> bool {
    viewer.sees_children_of(&need.school_id, &need.region_code)
}

/// A money field: `min` to `max` tiyn.
fn tiyn(problems: &mut FieldProblems, field: &str, value: i64, min: i64, max: i64) {
    if !(min..=max).contains(&value) {
        problems.add(field, format!("{min} to {max} tiyn"));
    }
}

/// The need service.
#[derive(Debug, Clone)]
pub struct NeedsApi {
    store: Store,
}

impl NeedsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        NeedsApi { store }
    }

    async fn create(&self, request: Request<pb::CreateNeedRequest>) -> Result<pb::Need, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        let body = request.get_ref();
        let from = body.need.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        let parent = problems.field(convert::campaign_child(&body.parent, "children", "parent"));
        let item = item_of(from.item);
        if item.is_none() {
            problems.add("need.item", "required: one of NeedItem");
        }
        let description = problems.text(
            "need.description",
            &from.description,
            MAX_TEXT_CHARS,
            item == Some(NeedItem::Other),
        );
        tiyn(
            &mut problems,
            "need.estimated_value_tiyn",
            from.estimated_value_tiyn,
            1,
            MAX_NEED_TIYN,
        );
        problems.finish()?;
        let (Some((campaign, child)), Some(item)) = (parent, item) else {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "parent",
                "required",
            ));
        };
        let spec = NewNeed {
            item,
            description,
            estimated_tiyn: from.estimated_value_tiyn,
        };
        let key = IdempotencyKey::for_request(context, "CreateNeed", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let created = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            let need = needs::create(
                conn,
                context,
                &campaign,
                &child,
                |c| viewer.sees_children_of(&c.school_id, &c.region_code),
                &spec,
            )
            .await?;
            Ok(need_pb(&need))
        })
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn get(&self, request: Request<pb::GetNeedRequest>) -> Result<pb::Need, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        let key = need_key(&request.get_ref().name, "name")?;
        let need = self.store.need(&key, |n| sees(&viewer, n)).await?;
        Ok(need_pb(&need))
    }

    async fn list(
        &self,
        request: Request<pb::ListNeedsRequest>,
    ) -> Result<pb::ListNeedsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        let body = request.get_ref();
        let (campaign, child) = match body.parent.strip_suffix("/children/-") {
            Some(campaign) => (convert::campaign_id(campaign, "parent")?, None),
            None => {
                let (campaign, child) =
                    convert::campaign_child(&body.parent, "children", "parent")?;
                (campaign, Some(child))
            }
        };
        let school = if body.school.is_empty() {
            None
        } else {
            Some(convert::school_id(&body.school, "school")?)
        };
        let region = convert::region_filter(&body.region_code, "region_code")?;
        let item = convert::enum_filter(body.item, "item", item_of)?;
        let coverage =
            convert::enum_filter(
                body.coverage,
                "coverage",
                |raw| match pb::NeedCoverage::try_from(raw).ok()? {
                    pb::NeedCoverage::Uncovered => Some(Coverage::Uncovered),
                    pb::NeedCoverage::PartlyCovered => Some(Coverage::PartlyCovered),
                    pb::NeedCoverage::Covered => Some(Coverage::Covered),
                    pb::NeedCoverage::Unspecified => None,
                },
            )?;
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListNeeds",
                &body.parent,
                &body.school,
                &body.region_code,
                &body.item.to_string(),
                &body.coverage.to_string(),
                &body.open_for_allocation_only.to_string(),
            ],
        )?;
        match &child {
            Some(child) => {
                self.store
                    .need_child(&campaign, child)
                    .await?
                    .filter(|c| viewer.sees_children_of(&c.school_id, &c.region_code))
                    .ok_or_else(|| ApiError::not_found(body.parent.clone()))?;
            }
            None => {
                self.store.campaign(&campaign).await?;
            }
        }
        let filter = NeedFilter {
            child,
            school,
            region,
            item,
            coverage,
            open_for_allocation_only: body.open_for_allocation_only,
        };
        let page = self
            .store
            .list_needs(
                &campaign,
                &viewer.children(),
                &filter,
                paging.size,
                paging.after.clone(),
            )
            .await?;
        Ok(pb::ListNeedsResponse {
            needs: page.items.iter().map(need_pb).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn update(&self, request: Request<pb::UpdateNeedRequest>) -> Result<pb::Need, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        let body = request.get_ref();
        let from = body.need.clone().unwrap_or_default();
        let key = need_key(&from.name, "need.name")?;
        let mask = convert::mask_paths(body.update_mask.as_ref(), &NEED_FIELDS)?;
        let mut problems = FieldProblems::new();
        let description = mask
            .iter()
            .any(|m| m == "description")
            .then(|| problems.text("need.description", &from.description, MAX_TEXT_CHARS, false));
        let estimate = mask
            .iter()
            .any(|m| m == "estimated_value_tiyn")
            .then_some(from.estimated_value_tiyn);
        if let Some(value) = estimate {
            tiyn(
                &mut problems,
                "need.estimated_value_tiyn",
                value,
                1,
                MAX_NEED_TIYN,
            );
        }
        problems.finish()?;
        let mut tx = self.store.begin().await?;
        let updated = needs::update(
            &mut tx,
            context,
            &key,
            &from.etag,
            |n| {
                if sees(&viewer, n) {
                    Ok(())
                } else {
                    Err(ApiError::not_found(key.name()))
                }
            },
            description.as_deref(),
            estimate,
        )
        .await?;
        tx.commit().await?;
        Ok(need_pb(&updated))
    }

    async fn override_coverage(
        &self,
        request: Request<pb::OverrideNeedCoverageRequest>,
    ) -> Result<pb::Need, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        let body = request.get_ref();
        let mut problems = FieldProblems::new();
        let key = problems.field(need_key(&body.name, "name"));
        tiyn(
            &mut problems,
            "limit_tiyn",
            body.limit_tiyn,
            1,
            MAX_NEED_TIYN,
        );
        let why = problems.text("reason", &body.reason, MAX_TEXT_CHARS, true);
        problems.finish()?;
        let Some(key) = key else {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "name",
                "required",
            ));
        };
        let mut tx = self.store.begin().await?;
        let updated = needs::override_coverage(
            &mut tx,
            context,
            &key,
            &body.etag,
            |n| {
                if !sees(&viewer, n) {
                    Err(ApiError::not_found(key.name()))
                } else if !viewer.is_regional(&n.region_code) {
                    Err(role_required())
                } else {
                    Ok(())
                }
            },
            body.limit_tiyn,
            &why,
        )
        .await?;
        tx.commit().await?;
        Ok(need_pb(&updated))
    }

    async fn record_help(
        &self,
        request: Request<pb::RecordHelpDeliveryRequest>,
    ) -> Result<pb::HelpDelivery, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        let body = request.get_ref();
        let from = body.help_delivery.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        let key = problems.field(need_key(&body.parent, "parent"));
        let source = match pb::HelpSource::try_from(from.source) {
            Ok(pb::HelpSource::Donation) => {
                if !from.budget_source.is_empty() {
                    problems.add(
                        "help_delivery.budget_source",
                        "only for help from the budget",
                    );
                }
                if from.allocation.is_empty() {
                    problems.add(
                        "help_delivery.allocation",
                        "required for help from a donation",
                    );
                    None
                } else {
                    problems
                        .field(resource::parse_nested(
                            &from.allocation,
                            ["campaigns", "donations", "allocations"],
                            "help_delivery.allocation",
                        ))
                        .and_then(|[campaign, donation, id]| {
                            if key.as_ref().is_some_and(|k| k.campaign != campaign) {
                                problems.add(
                                    "help_delivery.allocation",
                                    "an allocation of the need's campaign",
                                );
                                None
                            } else {
                                Some(HelpFrom::Allocation { donation, id })
                            }
                        })
                }
            }
            Ok(pb::HelpSource::Budget) => {
                if !from.allocation.is_empty() {
                    problems.add("help_delivery.allocation", "only for help from a donation");
                }
                let budget = problems.text(
                    "help_delivery.budget_source",
                    &from.budget_source,
                    MAX_BUDGET_CHARS,
                    true,
                );
                Some(HelpFrom::Budget(budget))
            }
            _ => {
                problems.add("help_delivery.source", "required: DONATION or BUDGET");
                None
            }
        };
        tiyn(
            &mut problems,
            "help_delivery.value_tiyn",
            from.value_tiyn,
            1,
            MAX_NEED_TIYN,
        );
        let date = problems.field(edu_kit::wire::civil_date(
            from.delivery_date.as_ref(),
            "help_delivery.delivery_date",
        ));
        let description = problems.text(
            "help_delivery.description",
            &from.description,
            MAX_TEXT_CHARS,
            false,
        );
        if body.request_id.is_empty() {
            problems.add(
                "request_id",
                "required: help moves money, and a retry must not record it twice",
            );
        }
        problems.finish()?;
        let (Some(key), Some(source), Some(date)) = (key, source, date) else {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "help_delivery",
                "required",
            ));
        };
        let help = NewHelp {
            from: source,
            value_tiyn: from.value_tiyn,
            delivery_date: date,
            description,
        };
        let idempotency_key =
            IdempotencyKey::for_request(context, "RecordHelpDelivery", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let recorded = idempotency::once(
            &mut tx,
            idempotency_key.as_ref(),
            context.now(),
            async |conn| {
                let delivery = needs::record_help(
                    conn,
                    context,
                    &key,
                    |n| sees(&viewer, n),
                    |school, region| viewer.sees_children_of(school, region),
                    &help,
                )
                .await?;
                Ok(help_pb(&delivery))
            },
        )
        .await?;
        tx.commit().await?;
        Ok(recorded)
    }

    async fn list_help(
        &self,
        request: Request<pb::ListHelpDeliveriesRequest>,
    ) -> Result<pb::ListHelpDeliveriesResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        viewer.require_staff()?;
        let body = request.get_ref();
        let (campaign, need) = match body.parent.strip_suffix("/children/-/needs/-") {
            Some(campaign) => (convert::campaign_id(campaign, "parent")?, None),
            None => {
                let key = need_key(&body.parent, "parent")?;
                (key.campaign.clone(), Some(key))
            }
        };
        let allocation = if body.allocation.is_empty() {
            None
        } else {
            let [in_campaign, donation, id] = resource::parse_nested(
                &body.allocation,
                ["campaigns", "donations", "allocations"],
                "allocation",
            )?;
            // An allocation of another campaign matches nothing here; it is not refused, so
            // that the answer says nothing of what exists beyond the parent.
            Some((id, donation, in_campaign == campaign))
        };
        let from_donation =
            convert::enum_filter(
                body.source,
                "source",
                |raw| match pb::HelpSource::try_from(raw).ok()? {
                    pb::HelpSource::Donation => Some(true),
                    pb::HelpSource::Budget => Some(false),
                    pb::HelpSource::Unspecified => None,
                },
            )?;
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListHelpDeliveries",
                &body.parent,
                &body.allocation,
                &body.source.to_string(),
            ],
        )?;
        match &need {
            Some(key) => {
                self.store.need(key, |n| sees(&viewer, n)).await?;
            }
            None => {
                self.store.campaign(&campaign).await?;
            }
        }
        let allocation = match allocation {
            Some((_, _, false)) => {
                return Ok(pb::ListHelpDeliveriesResponse::default());
            }
            Some((id, donation, true)) => Some((id, donation)),
            None => None,
        };
        let filter = HelpFilter {
            need: need.map(|k| k.id),
            allocation,
            from_donation,
        };
        let vis: Visibility = viewer.children();
        let page = self
            .store
            .list_help(&campaign, &vis, &filter, paging.size, paging.after.clone())
            .await?;
        Ok(pb::ListHelpDeliveriesResponse {
            help_deliveries: page.items.iter().map(help_pb).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }
}

#[tonic::async_trait]
impl NeedService for NeedsApi {
    async fn create_need(
        &self,
        request: Request<pb::CreateNeedRequest>,
    ) -> Result<Response<pb::Need>, Status> {
        respond(self.create(request).await)
    }

    async fn get_need(
        &self,
        request: Request<pb::GetNeedRequest>,
    ) -> Result<Response<pb::Need>, Status> {
        respond(self.get(request).await)
    }

    async fn list_needs(
        &self,
        request: Request<pb::ListNeedsRequest>,
    ) -> Result<Response<pb::ListNeedsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn update_need(
        &self,
        request: Request<pb::UpdateNeedRequest>,
    ) -> Result<Response<pb::Need>, Status> {
        respond(self.update(request).await)
    }

    async fn override_need_coverage(
        &self,
        request: Request<pb::OverrideNeedCoverageRequest>,
    ) -> Result<Response<pb::Need>, Status> {
        respond(self.override_coverage(request).await)
    }

    async fn record_help_delivery(
        &self,
        request: Request<pb::RecordHelpDeliveryRequest>,
    ) -> Result<Response<pb::HelpDelivery>, Status> {
        respond(self.record_help(request).await)
    }

    async fn list_help_deliveries(
        &self,
        request: Request<pb::ListHelpDeliveriesRequest>,
    ) -> Result<Response<pb::ListHelpDeliveriesResponse>, Status> {
        respond(self.list_help(request).await)
    }
}
