//! `PeriodService`: funding periods and crediting (rule 2).

use edu_kit::error::FieldProblems;
use edu_kit::idempotency::{IdempotencyKey, once};
use edu_kit::paging::PageRequest;
use edu_kit::region::RegionCode;
use edu_kit::{ApiError, CallContext, resource, wire};
use edu_proto::edu::certificates::v1 as pb;
use edu_proto::edu::certificates::v1::period_service_server::PeriodService;
use tonic::{Request, Response, Status};

use super::access::ensure_operates;
use super::respond;
use crate::domain::Money;
use crate::domain::money::MAX_NOMINAL;
use crate::domain::period::Period;
use crate::store::Store;
use crate::store::periods::{self, PeriodRecord};

/// The period service.
#[derive(Debug, Clone)]
pub struct PeriodsApi {
    store: Store,
}

/// A period as callers see it.
pub fn period_pb(p: &PeriodRecord) -> pb::Period {
    pb::Period {
        name: format!("periods/{}", p.id),
        region_code: p.region_code.clone(),
        municipality_code: p.municipality_code.clone(),
        municipality_name: p.municipality_name.clone(),
        time_zone: p.time_zone.clone(),
        start_date: Some(wire::date(p.period.start)),
        end_date: Some(wire::date(p.period.end)),
        nominal_kopecks: p.period.nominal.kopecks(),
        quota: i32::try_from(p.period.quota).unwrap_or(i32::MAX),
        min_age: i32::from(p.period.min_age),
        max_age: i32::from(p.period.max_age),
        currency: p.currency.clone(),
        credit_time: p.credit_time.map(wire::timestamp),
        create_time: Some(wire::timestamp(p.create_time)),
    }
}

/// Checks a period as sent; every problem at once.
fn parse_period(
    id: String,
    sent: &pb::Period,
    now: jiff::Timestamp,
) -> Result<PeriodRecord, ApiError> {
    let mut problems = FieldProblems::new();
    let region = problems.check("period.region_code", RegionCode::parse(&sent.region_code));
    for (field, value) in [
        ("period.municipality_code", &sent.municipality_code),
        ("period.municipality_name", &sent.municipality_name),
    ] {
        if value.trim().is_empty() || value.chars().count() > 200 {
            problems.add(field, "required, at most 200 characters");
        }
    }
    if jiff::tz::TimeZone::get(&sent.time_zone).is_err() {
        problems.add("period.time_zone", "an IANA time zone such as Asia/Barnaul");
    }
    let start = problems.check(
        "period.start_date",
        wire::civil_date(sent.start_date.as_ref(), "period.start_date").map_err(|_| "a date"),
    );
    let end = problems.check(
        "period.end_date",
        wire::civil_date(sent.end_date.as_ref(), "period.end_date").map_err(|_| "a date"),
    );
    if let (Some(start), Some(end)) = (start, end)
        && end <= start
    {
        problems.add("period.end_date", "after the start date");
    }
    let nominal = Money::from_kopecks(sent.nominal_kopecks);
    if !nominal.is_positive() || !nominal.within(MAX_NOMINAL) {
        problems.add(
            "period.nominal_kopecks",
            "positive, at most 1000000000 (10 000 000 roubles)",
        );
    }
    if sent.quota < 0 {
        problems.add("period.quota", "zero or more");
    }
    let ages = i16::try_from(sent.min_age)
        .ok()
        .zip(i16::try_from(sent.max_age).ok())
        .filter(|(min, max)| (0..=25).contains(min) && min <= max && *max <= 25);
    if ages.is_none() {
        problems.add(
            "period.max_age",
            "ages from 0 to 25, min_age at most max_age",
        );
    }
    if sent.currency != "RUB" {
        problems.add("period.currency", "RUB");
    }
    problems.finish()?;
    let (Some(region), Some(start), Some(end), Some((min_age, max_age))) =
        (region, start, end, ages)
    else {
        // Every missing value was recorded as a problem above.
        return Err(ApiError::internal(&std::io::Error::other(
            "period parse fell through",
        )));
    };
    Ok(PeriodRecord {
        id,
        region_code: region.as_str().into(),
        municipality_code: sent.municipality_code.trim().into(),
        municipality_name: sent.municipality_name.trim().into(),
        time_zone: sent.time_zone.clone(),
        period: Period {
            start,
            end,
            nominal,
            quota: u32::try_from(sent.quota).unwrap_or(0),
            min_age,
            max_age,
        },
        currency: sent.currency.clone(),
        credit_time: None,
        create_time: now,
    })
}

impl PeriodsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        PeriodsApi { store }
    }

    async fn create(
        &self,
        request: Request<pb::CreatePeriodRequest>,
    ) -> Result<pb::Period, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let body = request.get_ref();
        let sent = body.period.clone().unwrap_or_default();
        let id = resource::id_or_new(&body.period_id).map_err(|e| {
            ApiError::invalid_field(
                edu_kit::error::reason::INVALID_FIELDS,
                "period_id",
                e.to_string(),
            )
        })?;
        let record = parse_period(id, &sent, context.now())?;
        ensure_operates(caller, &record.region_code, &record.municipality_code)?;
        let key = IdempotencyKey::for_request(context, "CreatePeriod", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let response = once(&mut tx, key.as_ref(), context.now(), async |tx| {
            periods::create(&mut *tx, context, &record).await?;
            Ok(period_pb(&record))
        })
        .await?;
        tx.commit().await?;
        Ok(response)
    }

    async fn get(&self, request: Request<pb::GetPeriodRequest>) -> Result<pb::Period, ApiError> {
        let context = CallContext::of(&request)?;
        context.caller()?;
        let name = &request.get_ref().name;
        let id = resource::parse_name(name, "periods", "name")?;
        let mut conn = self.store.read().await?;
        let record = periods::fetch(&mut conn, &id, false).await?;
        conn.finish();
        let record = record.ok_or_else(|| ApiError::not_found(name.clone()))?;
        Ok(period_pb(&record))
    }

    async fn list(
        &self,
        request: Request<pb::ListPeriodsRequest>,
    ) -> Result<pb::ListPeriodsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        context.caller()?;
        let body = request.get_ref();
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &["ListPeriods", &body.region_code, &body.municipality_code],
        )?;
        let optional = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let mut conn = self.store.read().await?;
        let page = periods::list(
            &mut conn,
            optional(&body.region_code).as_deref(),
            optional(&body.municipality_code).as_deref(),
            paging.size,
            paging.after.clone(),
        )
        .await?;
        conn.finish();
        Ok(pb::ListPeriodsResponse {
            periods: page.items.iter().map(period_pb).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn credit(
        &self,
        request: Request<pb::CreditPeriodRequest>,
    ) -> Result<pb::CreditPeriodResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let caller = context.caller()?;
        let body = request.get_ref();
        let id = resource::parse_name(&body.name, "periods", "name")?;
        let key = IdempotencyKey::for_request(context, "CreditPeriod", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let seen = periods::fetch(&mut tx, &id, false)
            .await?
            .ok_or_else(|| ApiError::not_found(body.name.clone()))?;
        ensure_operates(caller, &seen.region_code, &seen.municipality_code)?;
        let response = once(&mut tx, key.as_ref(), context.now(), async |tx| {
            let (record, credited) = periods::credit(&mut *tx, context, &id).await?;
            Ok(pb::CreditPeriodResponse {
                period: Some(period_pb(&record)),
                funded_certificates: i32::try_from(credited.funded).unwrap_or(i32::MAX),
                accounting_certificates: i32::try_from(credited.accounting).unwrap_or(i32::MAX),
            })
        })
        .await?;
        tx.commit().await?;
        Ok(response)
    }
}

#[tonic::async_trait]
impl PeriodService for PeriodsApi {
    async fn create_period(
        &self,
        request: Request<pb::CreatePeriodRequest>,
    ) -> Result<Response<pb::Period>, Status> {
        respond(self.create(request).await)
    }

    async fn get_period(
        &self,
        request: Request<pb::GetPeriodRequest>,
    ) -> Result<Response<pb::Period>, Status> {
        respond(self.get(request).await)
    }

    async fn list_periods(
        &self,
        request: Request<pb::ListPeriodsRequest>,
    ) -> Result<Response<pb::ListPeriodsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn credit_period(
        &self,
        request: Request<pb::CreditPeriodRequest>,
    ) -> Result<Response<pb::CreditPeriodResponse>, Status> {
        respond(self.credit(request).await)
    }
}
