//! `DonationService`: donations of money or goods (rule 4), pledged then received, their
//! allocations to children's needs, and what a donor sees of them. A donor reads its own
//! donations, their allocations without the fields that would lead to a child, and a
//! summary that names no child; regional staff work with their region's donations; school
//! staff read the allocations to their school's children.

use edu_kit::error::{FieldProblems, reason as kit_reason};
use edu_kit::idempotency::{self, IdempotencyKey};
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, etag, resource};
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::donation_service_server::DonationService;
use tonic::{Request, Response, Status};

use super::access::{Viewer, role_required};
use super::convert::{self, MAX_NAME_CHARS};
use super::needs::{item_pb, need_key};
use super::respond;
use crate::store::donations::{
    self, Allocation, AllocationFilter, AllocationKey, AllocationState, Donation, DonationFilter,
    DonationKey, DonationKind, DonationReader, DonationState, DonorSummary, MAX_DONATION_TIYN,
    NewAllocation, NewDonation,
};
use crate::store::{Store, Visibility};

/// Reasons of donations and allocations, beyond the kit's, the service's shared ones and
/// those of needs ([`super::needs::reason`]: `NEED_OVER_COVERED`, `CHILD_MERGED`,
/// `CHILD_REMOVED`, `DATE_OUT_OF_RANGE`).
pub mod reason {
    use edu_kit::error::Reason;

    /// Allocating from a donation that was not received.
    pub const DONATION_NOT_RECEIVED: Reason = Reason::new(
        "DONATION_NOT_RECEIVED",
        "Пожертвование ещё не поступило или отменено; распределять можно только поступившее.",
    );
    /// Allocating more than the donation has left.
    pub const DONATION_INSUFFICIENT: Reason = Reason::new(
        "DONATION_INSUFFICIENT",
        "В пожертвовании не осталось столько нераспределённых средств.",
    );
    /// A need of a child outside the donation's region.
    pub const REGION_MISMATCH: Reason = Reason::new(
        "REGION_MISMATCH",
        "Пожертвование предназначено другому региону; распределять его можно только на потребности детей этого региона.",
    );
}

/// Longest goods description and reasons.
const MAX_TEXT_CHARS: usize = 2000;
/// Longest note of an allocation.
const MAX_NOTE_CHARS: usize = 500;

fn kind_pb(k: DonationKind) -> pb::DonationKind {
    match k {
        DonationKind::Money => pb::DonationKind::Money,
        DonationKind::Goods => pb::DonationKind::Goods,
    }
}

fn state_pb(s: DonationState) -> pb::DonationState {
    match s {
        DonationState::Pledged => pb::DonationState::Pledged,
        DonationState::Received => pb::DonationState::Received,
        DonationState::Cancelled => pb::DonationState::Cancelled,
    }
}

fn allocation_state_pb(s: AllocationState) -> pb::AllocationState {
    match s {
        AllocationState::Open => pb::AllocationState::Open,
        AllocationState::Delivered => pb::AllocationState::Delivered,
        AllocationState::Released => pb::AllocationState::Released,
    }
}

fn count(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn donation_pb(d: &Donation) -> pb::Donation {
    pb::Donation {
        name: d.name(),
        kind: kind_pb(d.kind) as i32,
        region_code: d.region_code.clone(),
        donor_display_name: d.donor_display_name.clone(),
        donor_subject: d.donor_subject.clone().unwrap_or_default(),
        pledged_value_tiyn: d.pledged_tiyn,
        goods_description: d.goods_description.clone(),
        state: state_pb(d.state) as i32,
        received_value_tiyn: d.received_tiyn,
        receive_date: d.receive_date.map(convert::date),
        allocated_tiyn: d.allocated_tiyn,
        delivered_tiyn: d.delivered_tiyn,
        available_tiyn: d.available_tiyn(),
        beneficiaries: count(d.beneficiaries),
        cancel_reason: d.cancel_reason.clone(),
        create_time: Some(convert::timestamp(d.create_time)),
        receive_time: d.receive_time.map(convert::timestamp),
        update_time: Some(convert::timestamp(d.update_time)),
        etag: etag::of(d.version),
    }
}

/// An allocation as `viewer` may read it: the fields that lead to a child (need, note,
/// child, school, release reason) only for staff who see the child.
fn allocation_pb(a: &Allocation, viewer: &Viewer) -> pb::Allocation {
    let full = viewer.sees_children_of(&a.school_id, &a.region_code);
    let staff_only = |value: String| if full { value } else { String::new() };
    pb::Allocation {
        name: a.name(),
        need: staff_only(a.need_name()),
        value_tiyn: a.value_tiyn,
        note: staff_only(a.note.clone()),
        state: allocation_state_pb(a.state) as i32,
        delivered_tiyn: a.delivered_tiyn,
        released_tiyn: a.released_tiyn,
        last_delivery_date: a.last_delivery_date.map(convert::date),
        need_item: item_pb(a.need_item) as i32,
        region_code: a.region_code.clone(),
        beneficiary_number: a.beneficiary_number,
        child: staff_only(format!(
            "campaigns/{}/children/{}",
            a.campaign_id, a.child_id
        )),
        school: staff_only(format!("schools/{}", a.school_id)),
        release_reason: staff_only(a.release_reason.clone()),
        create_time: Some(convert::timestamp(a.create_time)),
        update_time: Some(convert::timestamp(a.update_time)),
        etag: etag::of(a.version),
    }
}

fn summary_pb(campaign: &str, s: &DonorSummary, read_time: jiff::Timestamp) -> pb::DonorSummary {
    pb::DonorSummary {
        campaign: format!("campaigns/{campaign}"),
        donations: count(s.donations),
        pledged_open_tiyn: s.pledged_open_tiyn,
        received_money_tiyn: s.received_money_tiyn,
        received_goods_tiyn: s.received_goods_tiyn,
        allocated_tiyn: s.allocated_tiyn,
        delivered_tiyn: s.delivered_tiyn,
        available_tiyn: s.available_tiyn,
        children_helped: count(s.children_helped),
        regions: s
            .regions
            .iter()
            .map(|r| pb::DonorRegionFigures {
                region_code: r.region_code.clone(),
                received_tiyn: r.received_tiyn,
                allocated_tiyn: r.allocated_tiyn,
                delivered_tiyn: r.delivered_tiyn,
                children_helped: count(r.children_helped),
            })
            .collect(),
        items: s
            .items
            .iter()
            .map(|i| pb::DonorItemFigures {
                item: item_pb(i.item) as i32,
                allocated_tiyn: i.allocated_tiyn,
                delivered_tiyn: i.delivered_tiyn,
            })
            .collect(),
        campaign_figures: Some(pb::CampaignFigures {
            children_identified: count(s.campaign.children_identified),
            children_helped: count(s.campaign.children_helped),
            raised_money_tiyn: s.campaign.raised_money_tiyn,
            raised_goods_tiyn: s.campaign.raised_goods_tiyn,
            delivered_from_donations_tiyn: s.campaign.delivered_from_donations_tiyn,
            delivered_from_budget_tiyn: s.campaign.delivered_from_budget_tiyn,
        }),
        read_time: Some(convert::timestamp(read_time)),
    }
}

fn donation_key(name: &str, field: &str) -> Result<DonationKey, ApiError> {
    let (campaign, id) = convert::campaign_child(name, "donations", field)?;
    Ok(DonationKey { campaign, id })
}

fn allocation_key(name: &str, field: &str) -> Result<AllocationKey, ApiError> {
    let [campaign, donation, id] =
        resource::parse_nested(name, ["campaigns", "donations", "allocations"], field)?;
    Ok(AllocationKey {
        campaign,
        donation,
        id,
    })
}

/// Donations are read by donors and regional staff; other roles are refused.
fn require_donor_or_regional(viewer: &Viewer) -> Result<(), ApiError> {
    if viewer.donor.is_none() && viewer.regional.is_empty() {
        Err(role_required())
    } else {
        Ok(())
    }
}

/// Whether the caller reads donation `d`: its donor, its region's staff.
fn reads(viewer: &Viewer, d: &Donation) -> bool {
    d.is_donor(viewer.donor.as_deref()) || viewer.is_regional(&d.region_code)
}

/// A change only the regional staff of the donation's region make: `NOT_FOUND` for a
/// caller who does not read it, `ROLE_REQUIRED` for its donor.
fn staff_change(
    viewer: &Viewer,
    region: &str,
    donor: Option<&str>,
    name: &str,
) -> Result<(), ApiError> {
    if viewer.is_regional(region) {
        Ok(())
    } else if donor.is_some() && donor == viewer.donor.as_deref() {
        Err(role_required())
    } else {
        Err(ApiError::not_found(name))
    }
}

/// A request id that a money-moving call requires.
fn required_request_id(problems: &mut FieldProblems, request_id: &str) {
    if request_id.is_empty() {
        problems.add(
            "request_id",
            "required: this call moves money, and a retry must not repeat it",
        );
    }
}

/// The donation service.
#[derive(Debug, Clone)]
pub struct DonationsApi {
    store: Store,
}

impl DonationsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        DonationsApi { store }
    }

    async fn create(
        &self,
        request: Request<pb::CreateDonationRequest>,
    ) -> Result<pb::Donation, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        require_donor_or_regional(&viewer)?;
        let body = request.get_ref();
        let from = body.donation.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        let campaign = problems.field(convert::campaign_id(&body.parent, "parent"));
        let kind = match pb::DonationKind::try_from(from.kind) {
            Ok(pb::DonationKind::Money) => Some(DonationKind::Money),
            Ok(pb::DonationKind::Goods) => Some(DonationKind::Goods),
            _ => {
                problems.add("donation.kind", "required: MONEY or GOODS");
                None
            }
        };
        if let Some(problem) = convert::region_problem(&from.region_code) {
            problems.add("donation.region_code", problem);
        }
        let donor_display_name = problems.text(
            "donation.donor_display_name",
            &from.donor_display_name,
            MAX_NAME_CHARS,
            true,
        );
        if !(1..=MAX_DONATION_TIYN).contains(&from.pledged_value_tiyn) {
            problems.add(
                "donation.pledged_value_tiyn",
                format!("1 to {MAX_DONATION_TIYN} tiyn"),
            );
        }
        let goods_description = problems.text(
            "donation.goods_description",
            &from.goods_description,
            MAX_TEXT_CHARS,
            kind == Some(DonationKind::Goods),
        );
        if kind == Some(DonationKind::Money) && !goods_description.is_empty() {
            problems.add("donation.goods_description", "empty for money");
        }
        problems.finish()?;
        let (Some(campaign), Some(kind)) = (campaign, kind) else {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "donation",
                "required",
            ));
        };
        // Regional staff record donations of their region for donors without an account;
        // a donor pledges for itself.
        let donor_subject = if viewer.is_regional(&from.region_code) {
            None
        } else if let Some(donor) = &viewer.donor {
            Some(donor.clone())
        } else {
            viewer.require_regional(&from.region_code, false)?;
            None
        };
        let spec = NewDonation {
            kind,
            region_code: from.region_code.clone(),
            donor_display_name,
            donor_subject,
            pledged_tiyn: from.pledged_value_tiyn,
            goods_description,
        };
        let key = IdempotencyKey::for_request(context, "CreateDonation", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let created = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            Ok(donation_pb(
                &donations::create(conn, context, &campaign, &spec).await?,
            ))
        })
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn get(
        &self,
        request: Request<pb::GetDonationRequest>,
    ) -> Result<pb::Donation, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        require_donor_or_regional(&viewer)?;
        let name = &request.get_ref().name;
        let key = donation_key(name, "name")?;
        self.store
            .donation(&key)
            .await?
            .filter(|d| reads(&viewer, d))
            .map(|d| donation_pb(&d))
            .ok_or_else(|| ApiError::not_found(name.clone()))
    }

    fn reader(viewer: &Viewer) -> DonationReader {
        DonationReader {
            donor: viewer.donor.clone(),
            children: Visibility {
                all: false,
                regions: viewer.regional.clone(),
                schools: viewer.schools.clone(),
            },
        }
    }

    async fn list(
        &self,
        request: Request<pb::ListDonationsRequest>,
    ) -> Result<pb::ListDonationsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        require_donor_or_regional(&viewer)?;
        let body = request.get_ref();
        let campaign = convert::campaign_id(&body.parent, "parent")?;
        let region = convert::region_filter(&body.region_code, "region_code")?;
        let kind =
            convert::enum_filter(body.kind, "kind", |raw| {
                match pb::DonationKind::try_from(raw).ok()? {
                    pb::DonationKind::Money => Some(DonationKind::Money),
                    pb::DonationKind::Goods => Some(DonationKind::Goods),
                    pb::DonationKind::Unspecified => None,
                }
            })?;
        let state =
            convert::enum_filter(
                body.state,
                "state",
                |raw| match pb::DonationState::try_from(raw).ok()? {
                    pb::DonationState::Pledged => Some(DonationState::Pledged),
                    pb::DonationState::Received => Some(DonationState::Received),
                    pb::DonationState::Cancelled => Some(DonationState::Cancelled),
                    pb::DonationState::Unspecified => None,
                },
            )?;
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListDonations",
                &body.parent,
                &body.region_code,
                &body.kind.to_string(),
                &body.state.to_string(),
                &body.available_only.to_string(),
            ],
        )?;
        self.store.campaign(&campaign).await?;
        let filter = DonationFilter {
            region,
            kind,
            state,
            available_only: body.available_only,
        };
        let page = self
            .store
            .list_donations(
                &campaign,
                &Self::reader(&viewer),
                &filter,
                paging.size,
                paging.after.clone(),
            )
            .await?;
        Ok(pb::ListDonationsResponse {
            donations: page.items.iter().map(donation_pb).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn receive(
        &self,
        request: Request<pb::ReceiveDonationRequest>,
    ) -> Result<pb::Donation, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        require_donor_or_regional(&viewer)?;
        let body = request.get_ref();
        let mut problems = FieldProblems::new();
        let key = problems.field(donation_key(&body.name, "name"));
        if !(1..=MAX_DONATION_TIYN).contains(&body.received_value_tiyn) {
            problems.add(
                "received_value_tiyn",
                format!("1 to {MAX_DONATION_TIYN} tiyn"),
            );
        }
        let date = problems.field(edu_kit::wire::civil_date(
            body.receive_date.as_ref(),
            "receive_date",
        ));
        required_request_id(&mut problems, &body.request_id);
        problems.finish()?;
        let (Some(key), Some(date)) = (key, date) else {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "name",
                "required",
            ));
        };
        let idempotency_key =
            IdempotencyKey::for_request(context, "ReceiveDonation", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let received = idempotency::once(
            &mut tx,
            idempotency_key.as_ref(),
            context.now(),
            async |conn| {
                let donation = donations::receive(
                    conn,
                    context,
                    &key,
                    &body.etag,
                    |d| {
                        staff_change(
                            &viewer,
                            &d.region_code,
                            d.donor_subject.as_deref(),
                            &key.name(),
                        )
                    },
                    body.received_value_tiyn,
                    date,
                )
                .await?;
                Ok(donation_pb(&donation))
            },
        )
        .await?;
        tx.commit().await?;
        Ok(received)
    }

    async fn cancel(
        &self,
        request: Request<pb::CancelDonationRequest>,
    ) -> Result<pb::Donation, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        require_donor_or_regional(&viewer)?;
        let body = request.get_ref();
        let mut problems = FieldProblems::new();
        let key = problems.field(donation_key(&body.name, "name"));
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
        let cancelled = donations::cancel(
            &mut tx,
            context,
            &key,
            &body.etag,
            |d| {
                if reads(&viewer, d) {
                    Ok(())
                } else {
                    Err(ApiError::not_found(key.name()))
                }
            },
            &why,
        )
        .await?;
        tx.commit().await?;
        Ok(donation_pb(&cancelled))
    }

    async fn allocate(
        &self,
        request: Request<pb::AllocateDonationRequest>,
    ) -> Result<pb::Allocation, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        require_donor_or_regional(&viewer)?;
        let body = request.get_ref();
        let from = body.allocation.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        let key = problems.field(donation_key(&body.parent, "parent"));
        let need = if from.need.is_empty() {
            problems.add("allocation.need", "required: the need to allocate to");
            None
        } else {
            problems.field(need_key(&from.need, "allocation.need"))
        };
        if from.value_tiyn <= 0 {
            problems.add("allocation.value_tiyn", "positive, in tiyn");
        }
        let note = problems.text("allocation.note", &from.note, MAX_NOTE_CHARS, false);
        required_request_id(&mut problems, &body.request_id);
        problems.finish()?;
        let (Some(key), Some(need)) = (key, need) else {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "parent",
                "required",
            ));
        };
        let spec = NewAllocation {
            need,
            value_tiyn: from.value_tiyn,
            note,
        };
        let idempotency_key =
            IdempotencyKey::for_request(context, "AllocateDonation", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let allocated = idempotency::once(
            &mut tx,
            idempotency_key.as_ref(),
            context.now(),
            async |conn| {
                let allocation = donations::allocate(
                    conn,
                    context,
                    &key,
                    |d| {
                        staff_change(
                            &viewer,
                            &d.region_code,
                            d.donor_subject.as_deref(),
                            &key.name(),
                        )
                    },
                    |n| viewer.sees_children_of(&n.school_id, &n.region_code),
                    &spec,
                )
                .await?;
                Ok(allocation_pb(&allocation, &viewer))
            },
        )
        .await?;
        tx.commit().await?;
        Ok(allocated)
    }

    async fn allocations(
        &self,
        request: Request<pb::ListAllocationsRequest>,
    ) -> Result<pb::ListAllocationsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        if viewer.donor.is_none() && viewer.regional.is_empty() && viewer.schools.is_empty() {
            return Err(role_required());
        }
        let body = request.get_ref();
        let (campaign, donation) = match body.parent.strip_suffix("/donations/-") {
            Some(campaign) => (convert::campaign_id(campaign, "parent")?, None),
            None => {
                let key = donation_key(&body.parent, "parent")?;
                (key.campaign.clone(), Some(key))
            }
        };
        // A donor learns nothing of needs: the filter is ignored for one.
        let staff = !viewer.regional.is_empty() || !viewer.schools.is_empty();
        let need = if body.need.is_empty() || !staff {
            None
        } else {
            Some(need_key(&body.need, "need")?.id)
        };
        let state =
            convert::enum_filter(
                body.state,
                "state",
                |raw| match pb::AllocationState::try_from(raw).ok()? {
                    pb::AllocationState::Open => Some(AllocationState::Open),
                    pb::AllocationState::Delivered => Some(AllocationState::Delivered),
                    pb::AllocationState::Released => Some(AllocationState::Released),
                    pb::AllocationState::Unspecified => None,
                },
            )?;
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListAllocations",
                &body.parent,
                if staff { &body.need } else { "" },
                &body.state.to_string(),
            ],
        )?;
        let reader = Self::reader(&viewer);
        match &donation {
            Some(key) => {
                let whole = self
                    .store
                    .donation(key)
                    .await?
                    .is_some_and(|d| reads(&viewer, &d));
                let reaches = !whole
                    && !viewer.schools.is_empty()
                    && self
                        .store
                        .donation_reaches(
                            key,
                            &Visibility {
                                all: false,
                                regions: Vec::new(),
                                schools: viewer.schools.clone(),
                            },
                        )
                        .await?;
                if !whole && !reaches {
                    return Err(ApiError::not_found(body.parent.clone()));
                }
            }
            None => {
                self.store.campaign(&campaign).await?;
            }
        }
        let filter = AllocationFilter {
            donation: donation.map(|k| k.id),
            need,
            state,
        };
        let page = self
            .store
            .list_allocations(
                &campaign,
                &reader,
                &filter,
                paging.size,
                paging.after.clone(),
            )
            .await?;
        Ok(pb::ListAllocationsResponse {
            allocations: page
                .items
                .iter()
                .map(|a| allocation_pb(a, &viewer))
                .collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn release(
        &self,
        request: Request<pb::ReleaseAllocationRequest>,
    ) -> Result<pb::Allocation, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        require_donor_or_regional(&viewer)?;
        let body = request.get_ref();
        let mut problems = FieldProblems::new();
        let key = problems.field(allocation_key(&body.name, "name"));
        let why = problems.text("reason", &body.reason, MAX_TEXT_CHARS, true);
        required_request_id(&mut problems, &body.request_id);
        problems.finish()?;
        let Some(key) = key else {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "name",
                "required",
            ));
        };
        let idempotency_key =
            IdempotencyKey::for_request(context, "ReleaseAllocation", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let released = idempotency::once(
            &mut tx,
            idempotency_key.as_ref(),
            context.now(),
            async |conn| {
                let allocation = donations::release(
                    conn,
                    context,
                    &key,
                    &body.etag,
                    |a| {
                        staff_change(
                            &viewer,
                            &a.donation_region,
                            a.donor_subject.as_deref(),
                            &key.name(),
                        )
                    },
                    &why,
                )
                .await?;
                Ok(allocation_pb(&allocation, &viewer))
            },
        )
        .await?;
        tx.commit().await?;
        Ok(released)
    }

    async fn summary(
        &self,
        request: Request<pb::GetDonorSummaryRequest>,
    ) -> Result<pb::DonorSummary, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let Some(donor) = viewer.donor.clone() else {
            return Err(role_required());
        };
        let campaign = convert::campaign_id(&request.get_ref().campaign, "campaign")?;
        self.store.campaign(&campaign).await?;
        let summary = self.store.donor_summary(&campaign, &donor).await?;
        Ok(summary_pb(&campaign, &summary, context.now()))
    }
}

#[tonic::async_trait]
impl DonationService for DonationsApi {
    async fn create_donation(
        &self,
        request: Request<pb::CreateDonationRequest>,
    ) -> Result<Response<pb::Donation>, Status> {
        respond(self.create(request).await)
    }

    async fn get_donation(
        &self,
        request: Request<pb::GetDonationRequest>,
    ) -> Result<Response<pb::Donation>, Status> {
        respond(self.get(request).await)
    }

    async fn list_donations(
        &self,
        request: Request<pb::ListDonationsRequest>,
    ) -> Result<Response<pb::ListDonationsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn receive_donation(
        &self,
        request: Request<pb::ReceiveDonationRequest>,
    ) -> Result<Response<pb::Donation>, Status> {
        respond(self.receive(request).await)
    }

    async fn cancel_donation(
        &self,
        request: Request<pb::CancelDonationRequest>,
    ) -> Result<Response<pb::Donation>, Status> {
        respond(self.cancel(request).await)
    }

    async fn allocate_donation(
        &self,
        request: Request<pb::AllocateDonationRequest>,
    ) -> Result<Response<pb::Allocation>, Status> {
        respond(self.allocate(request).await)
    }

    async fn list_allocations(
        &self,
        request: Request<pb::ListAllocationsRequest>,
    ) -> Result<Response<pb::ListAllocationsResponse>, Status> {
        respond(self.allocations(request).await)
    }

    async fn release_allocation(
        &self,
        request: Request<pb::ReleaseAllocationRequest>,
    ) -> Result<Response<pb::Allocation>, Status> {
        respond(self.release(request).await)
    }

    async fn get_donor_summary(
        &self,
        request: Request<pb::GetDonorSummaryRequest>,
    ) -> Result<Response<pb::DonorSummary>, Status> {
        respond(self.summary(request).await)
    }
}
