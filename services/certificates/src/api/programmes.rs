//! `ProgrammeService`: the registry of providers and programmes (rule 4) and the public
//! programme catalogue.

use edu_kit::auth::Caller;
use edu_kit::error::{FieldProblems, reason as kit_reason};
use edu_kit::idempotency::{IdempotencyKey, once};
use edu_kit::paging::PageRequest;
use edu_kit::region::RegionCode;
use edu_kit::{ApiError, CallContext, resource, wire};
use edu_proto::edu::certificates::v1 as pb;
use edu_proto::edu::certificates::v1::programme_service_server::ProgrammeService;
use tonic::{Request, Response, Status};

use super::access::{acts_for_provider, ensure_operates, operates};
use super::respond;
use crate::domain::Money;
use crate::domain::money::MAX_MONTHLY_PRICE;
use crate::store::Store;
use crate::store::programmes::{self, Programme, ProgrammeQuery, Provider};

/// The catalogue is public; a programme not in it (uncertified, or its provider excluded) is
/// its provider's and its municipality's operator's.
fn may_see_programme(caller: Option<&Caller>, programme: &Programme, included: bool) -> bool {
    (programme.certified && included)
        || caller.is_some_and(|c| {
            acts_for_provider(c, &programme.provider_id)
                || operates(c, &programme.region_code, &programme.municipality_code)
        })
}

/// The programme service.
#[derive(Debug, Clone)]
pub struct ProgrammesApi {
    store: Store,
}

/// The six directions in the order of the `Direction` enum: proto value and stored name.
pub(crate) const DIRECTIONS: [(pb::Direction, &str); 6] = [
    (pb::Direction::Technical, "TECHNICAL"),
    (pb::Direction::NaturalScience, "NATURAL_SCIENCE"),
    (
        pb::Direction::PhysicalCultureAndSports,
        "PHYSICAL_CULTURE_AND_SPORTS",
    ),
    (pb::Direction::Artistic, "ARTISTIC"),
    (
        pb::Direction::TourismAndLocalHistory,
        "TOURISM_AND_LOCAL_HISTORY",
    ),
    (pb::Direction::SocialHumanitarian, "SOCIAL_HUMANITARIAN"),
];

fn direction_name(raw: i32) -> Option<&'static str> {
    DIRECTIONS
        .iter()
        .find(|(d, _)| *d as i32 == raw)
        .map(|(_, name)| *name)
}

fn direction_pb(name: &str) -> i32 {
    DIRECTIONS
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(d, _)| *d as i32)
        .unwrap_or_default()
}

fn provider_pb(p: &Provider) -> pb::Provider {
    pb::Provider {
        name: format!("providers/{}", p.id),
        display_name: p.display_name.clone(),
        tax_id: p.tax_id.clone(),
        region_code: p.region_code.clone(),
        municipality_code: p.municipality_code.clone(),
        included: p.included,
        exclusion_reason: p.exclusion_reason.clone(),
        create_time: Some(wire::timestamp(p.create_time)),
    }
}

fn programme_pb(p: &Programme) -> pb::Programme {
    pb::Programme {
        name: programmes::name(&p.provider_id, &p.id),
        title: p.title.clone(),
        description: p.description.clone(),
        direction: direction_pb(&p.direction),
        min_age: i32::from(p.min_age),
        max_age: i32::from(p.max_age),
        seats: i32::try_from(p.seats).unwrap_or(i32::MAX),
        schedule: p.schedule.clone(),
        monthly_price_kopecks: p.monthly_price.kopecks(),
        certified: p.certified,
        free_seats: i32::try_from(p.seats.saturating_sub(p.taken)).unwrap_or(0),
        rating: if p.rating_count > 0 {
            f64::from(p.rating_sum) / f64::from(p.rating_count)
        } else {
            0.0
        },
        rating_count: p.rating_count,
        region_code: p.region_code.clone(),
        municipality_code: p.municipality_code.clone(),
        create_time: Some(wire::timestamp(p.create_time)),
    }
}

fn text(
    problems: &mut FieldProblems,
    field: &str,
    value: &str,
    required: bool,
    max: usize,
) -> String {
    if (required && value.trim().is_empty()) || value.chars().count() > max {
        problems.add(
            field,
            if required {
                format!("required, at most {max} characters")
            } else {
                format!("at most {max} characters")
            },
        );
    }
    value.trim().to_string()
}

fn parse_provider(
    id: String,
    sent: &pb::Provider,
    now: jiff::Timestamp,
) -> Result<Provider, ApiError> {
    let mut problems = FieldProblems::new();
    let display_name = text(
        &mut problems,
        "provider.display_name",
        &sent.display_name,
        true,
        300,
    );
    let tax_id = text(&mut problems, "provider.tax_id", &sent.tax_id, true, 12);
    let is_inn = matches!(tax_id.len(), 10 | 12) && tax_id.bytes().all(|b| b.is_ascii_digit());
    if !tax_id.is_empty() && !is_inn {
        problems.add("provider.tax_id", "an ИНН: 10 or 12 digits");
    }
    let municipality_code = text(
        &mut problems,
        "provider.municipality_code",
        &sent.municipality_code,
        true,
        100,
    );
    let region = problems.check("provider.region_code", RegionCode::parse(&sent.region_code));
    problems.finish()?;
    Ok(Provider {
        id,
        display_name,
        tax_id,
        region_code: region.map(|r| r.as_str().to_string()).unwrap_or_default(),
        municipality_code,
        included: true,
        exclusion_reason: String::new(),
        create_time: now,
    })
}

fn parse_programme(
    provider: &Provider,
    id: String,
    sent: &pb::Programme,
    now: jiff::Timestamp,
) -> Result<Programme, ApiError> {
    let mut problems = FieldProblems::new();
    let title = text(&mut problems, "programme.title", &sent.title, true, 300);
    let description = text(
        &mut problems,
        "programme.description",
        &sent.description,
        false,
        5_000,
    );
    let schedule = text(
        &mut problems,
        "programme.schedule",
        &sent.schedule,
        false,
        300,
    );
    let direction = direction_name(sent.direction);
    if direction.is_none() {
        problems.add("programme.direction", "one of the six directions");
    }
    let ages = i16::try_from(sent.min_age)
        .ok()
        .zip(i16::try_from(sent.max_age).ok())
        .filter(|(min, max)| (0..=25).contains(min) && min <= max && *max <= 25);
    if ages.is_none() {
        problems.add(
            "programme.max_age",
            "ages from 0 to 25, min_age at most max_age",
        );
    }
    if !(1..=10_000).contains(&sent.seats) {
        problems.add("programme.seats", "1 to 10 000");
    }
    if !Money::from_kopecks(sent.monthly_price_kopecks).within(MAX_MONTHLY_PRICE) {
        problems.add(
            "programme.monthly_price_kopecks",
            "zero or more, at most 100000000 (1 000 000 roubles)",
        );
    }
    problems.finish()?;
    let (min_age, max_age) = ages.unwrap_or_default();
    Ok(Programme {
        provider_id: provider.id.clone(),
        id,
        title,
        description,
        direction: direction.unwrap_or_default().to_string(),
        min_age,
        max_age,
        seats: u32::try_from(sent.seats).unwrap_or(0),
        taken: 0,
        schedule,
        monthly_price: Money::from_kopecks(sent.monthly_price_kopecks),
        certified: false,
        rating_sum: 0,
        rating_count: 0,
        region_code: provider.region_code.clone(),
        municipality_code: provider.municipality_code.clone(),
        create_time: now,
    })
}

fn bad_id(field: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_field(kit_reason::INVALID_FIELDS, field, e.to_string())
}

impl ProgrammesApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        ProgrammesApi { store }
    }

    /// A provider, for its municipality's operator.
    async fn operated_provider(&self, caller: &Caller, name: &str) -> Result<Provider, ApiError> {
        let id = resource::parse_name(name, "providers", "name")?;
        let mut conn = self.store.read().await?;
        let provider = programmes::provider(&mut conn, &id).await?;
        conn.finish();
        let provider = provider.ok_or_else(|| ApiError::not_found(name.to_string()))?;
        ensure_operates(caller, &provider.region_code, &provider.municipality_code)?;
        Ok(provider)
    }

    async fn create_provider(
        &self,
        request: Request<pb::CreateProviderRequest>,
    ) -> Result<pb::Provider, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let id = resource::id_or_new(&body.provider_id).map_err(|e| bad_id("provider_id", e))?;
        let provider = parse_provider(
            id,
            &body.provider.clone().unwrap_or_default(),
            context.now(),
        )?;
        ensure_operates(
            context.caller()?,
            &provider.region_code,
            &provider.municipality_code,
        )?;
        let key = IdempotencyKey::for_request(context, "CreateProvider", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let response = once(&mut tx, key.as_ref(), context.now(), async |tx| {
            programmes::create_provider(&mut *tx, context, &provider).await?;
            Ok(provider_pb(&provider))
        })
        .await?;
        tx.commit().await?;
        Ok(response)
    }

    async fn get_provider(
        &self,
        request: Request<pb::GetProviderRequest>,
    ) -> Result<pb::Provider, ApiError> {
        let context = CallContext::of(&request)?;
        context.caller()?;
        let name = &request.get_ref().name;
        let id = resource::parse_name(name, "providers", "name")?;
        let mut conn = self.store.read().await?;
        let provider = programmes::provider(&mut conn, &id).await?;
        conn.finish();
        let provider = provider.ok_or_else(|| ApiError::not_found(name.clone()))?;
        Ok(provider_pb(&provider))
    }

    async fn list_providers(
        &self,
        request: Request<pb::ListProvidersRequest>,
    ) -> Result<pb::ListProvidersResponse, ApiError> {
        let context = CallContext::of(&request)?;
        context.caller()?;
        let body = request.get_ref();
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &["ListProviders", &body.region_code, &body.municipality_code],
        )?;
        let optional = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let mut conn = self.store.read().await?;
        let page = programmes::list_providers(
            &mut conn,
            optional(&body.region_code).as_deref(),
            optional(&body.municipality_code).as_deref(),
            paging.size,
            paging.after.clone(),
        )
        .await?;
        conn.finish();
        Ok(pb::ListProvidersResponse {
            providers: page.items.iter().map(provider_pb).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn set_included(
        &self,
        context: &CallContext,
        name: &str,
        included: bool,
        reason: &str,
    ) -> Result<pb::Provider, ApiError> {
        let provider = self.operated_provider(context.caller()?, name).await?;
        if !included && reason.trim().is_empty() {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "reason",
                "required: the provider is told why",
            ));
        }
        let mut tx = self.store.begin().await?;
        if provider.included != included {
            programmes::set_included(&mut tx, context, &provider.id, included, reason.trim())
                .await?;
        }
        let updated = programmes::provider(&mut tx, &provider.id)
            .await?
            .ok_or_else(|| ApiError::not_found(name.to_string()))?;
        tx.commit().await?;
        Ok(provider_pb(&updated))
    }

    async fn create_programme(
        &self,
        request: Request<pb::CreateProgrammeRequest>,
    ) -> Result<pb::Programme, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let body = request.get_ref();
        let provider_id = resource::parse_name(&body.parent, "providers", "parent")?;
        if !acts_for_provider(caller, &provider_id) {
            return Err(ApiError::permission_denied(
                kit_reason::ROLE_REQUIRED,
                format!("only providers/{provider_id} describes its programmes"),
            ));
        }
        let id = resource::id_or_new(&body.programme_id).map_err(|e| bad_id("programme_id", e))?;
        let key = IdempotencyKey::for_request(context, "CreateProgramme", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let provider = programmes::provider(&mut tx, &provider_id)
            .await?
            .ok_or_else(|| ApiError::not_found(body.parent.clone()))?;
        let programme = parse_programme(
            &provider,
            id,
            &body.programme.clone().unwrap_or_default(),
            context.now(),
        )?;
        let response = once(&mut tx, key.as_ref(), context.now(), async |tx| {
            programmes::create_programme(&mut *tx, context, &programme).await?;
            Ok(programme_pb(&programme))
        })
        .await?;
        tx.commit().await?;
        Ok(response)
    }

    async fn get_programme(
        &self,
        request: Request<pb::GetProgrammeRequest>,
    ) -> Result<pb::Programme, ApiError> {
        let context = CallContext::of(&request)?;
        let name = &request.get_ref().name;
        let (provider_id, id) =
            resource::parse_child_name(name, "providers", "programmes", "name")?;
        let mut conn = self.store.read().await?;
        let found = programmes::fetch(&mut conn, &provider_id, &id, false).await?;
        conn.finish();
        let (programme, included) = found.ok_or_else(|| ApiError::not_found(name.clone()))?;
        if may_see_programme(context.caller_if_any(), &programme, included) {
            Ok(programme_pb(&programme))
        } else {
            Err(ApiError::not_found(name.clone()))
        }
    }

    async fn certify(
        &self,
        request: Request<pb::CertifyProgrammeRequest>,
    ) -> Result<pb::Programme, ApiError> {
        let context = CallContext::of(&request)?;
        let name = &request.get_ref().name;
        let (provider_id, id) =
            resource::parse_child_name(name, "providers", "programmes", "name")?;
        let mut tx = self.store.begin().await?;
        let (programme, included) = programmes::fetch(&mut tx, &provider_id, &id, true)
            .await?
            .ok_or_else(|| ApiError::not_found(name.clone()))?;
        // Visibility before role: a programme the caller may not see does not exist for them.
        if !may_see_programme(context.caller_if_any(), &programme, included) {
            return Err(ApiError::not_found(name.clone()));
        }
        ensure_operates(
            context.caller()?,
            &programme.region_code,
            &programme.municipality_code,
        )?;
        if !programme.certified {
            programmes::certify(&mut tx, context, &provider_id, &id).await?;
        }
        let (certified, _) = programmes::fetch(&mut tx, &provider_id, &id, false)
            .await?
            .ok_or_else(|| ApiError::not_found(name.clone()))?;
        tx.commit().await?;
        Ok(programme_pb(&certified))
    }

    async fn search(
        &self,
        request: Request<pb::SearchProgrammesRequest>,
    ) -> Result<pb::SearchProgrammesResponse, ApiError> {
        let body = request.get_ref();
        let mut problems = FieldProblems::new();
        let direction = match body.direction {
            0 => None,
            raw => {
                let name = direction_name(raw);
                if name.is_none() {
                    problems.add("direction", "one of the six directions");
                }
                name
            }
        };
        let age = match body.age {
            0 => None,
            raw => problems.check("age", i16::try_from(raw).map_err(|_| "0 to 25")),
        };
        if body.max_monthly_price_kopecks < 0 {
            problems.add("max_monthly_price_kopecks", "zero or more");
        }
        if !(0.0..=5.0).contains(&body.min_rating) {
            problems.add("min_rating", "0 to 5");
        }
        problems.finish()?;
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "SearchProgrammes",
                &body.direction.to_string(),
                &body.age.to_string(),
                &body.region_code,
                &body.municipality_code,
                &body.free_seats_only.to_string(),
                &body.max_monthly_price_kopecks.to_string(),
                &body.min_rating.to_string(),
            ],
        )?;
        let optional = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let query = ProgrammeQuery {
            direction: direction.map(str::to_string),
            age,
            region_code: optional(&body.region_code),
            municipality_code: optional(&body.municipality_code),
            free_seats_only: body.free_seats_only,
            max_monthly_price: (body.max_monthly_price_kopecks > 0)
                .then(|| Money::from_kopecks(body.max_monthly_price_kopecks)),
            min_rating: (body.min_rating > 0.0).then_some(body.min_rating),
        };
        let mut conn = self.store.read().await?;
        let page = programmes::search(&mut conn, &query, paging.size, paging.after.clone()).await?;
        conn.finish();
        Ok(pb::SearchProgrammesResponse {
            programmes: page.items.iter().map(programme_pb).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }
}

#[tonic::async_trait]
impl ProgrammeService for ProgrammesApi {
    async fn create_provider(
        &self,
        request: Request<pb::CreateProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        respond(self.create_provider(request).await)
    }

    async fn get_provider(
        &self,
        request: Request<pb::GetProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        respond(self.get_provider(request).await)
    }

    async fn list_providers(
        &self,
        request: Request<pb::ListProvidersRequest>,
    ) -> Result<Response<pb::ListProvidersResponse>, Status> {
        respond(self.list_providers(request).await)
    }

    async fn exclude_provider(
        &self,
        request: Request<pb::ExcludeProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let body = request.get_ref();
        let result = match CallContext::of(&request) {
            Ok(context) => {
                self.set_included(context, &body.name, false, &body.reason)
                    .await
            }
            Err(e) => Err(e),
        };
        respond(result)
    }

    async fn include_provider(
        &self,
        request: Request<pb::IncludeProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let body = request.get_ref();
        let result = match CallContext::of(&request) {
            Ok(context) => self.set_included(context, &body.name, true, "").await,
            Err(e) => Err(e),
        };
        respond(result)
    }

    async fn create_programme(
        &self,
        request: Request<pb::CreateProgrammeRequest>,
    ) -> Result<Response<pb::Programme>, Status> {
        respond(self.create_programme(request).await)
    }

    async fn get_programme(
        &self,
        request: Request<pb::GetProgrammeRequest>,
    ) -> Result<Response<pb::Programme>, Status> {
        respond(self.get_programme(request).await)
    }

    async fn certify_programme(
        &self,
        request: Request<pb::CertifyProgrammeRequest>,
    ) -> Result<Response<pb::Programme>, Status> {
        respond(self.certify(request).await)
    }

    async fn search_programmes(
        &self,
        request: Request<pb::SearchProgrammesRequest>,
    ) -> Result<Response<pb::SearchProgrammesResponse>, Status> {
        respond(self.search(request).await)
    }
}
