//! `InstitutionService` (`institution.proto`): the institutions that run a mentoring
//! programme (rule 1), the curator's appointment by the director (choice 5), the road map
//! with its seven stages (rule 11) and the bank of best practices (rule 11, choice 17).
//!
//! Who may do what: the regional centre registers the institutions of its own region (the
//! institution does not exist yet, so the token's regions decide: `SCOPE_REQUIRED` for
//! another) and reads its region's institutions and practices, never a person — the
//! institution's `curator` is a resource name only. The director alone appoints the curator
//! and approves the road map; the director and the appointed curator plan and record the
//! stages and add practices; everyone with standing in an institution reads it, its road
//! map and its practices — a curator token of someone not appointed included, the one
//! service it may call (its acts are `CURATOR_NOT_APPOINTED`). Visibility comes first
//! (`Viewer::of`: `NOT_FOUND` outside the tenant), then the role, then the request's fields.

use std::collections::BTreeMap;

use edu_kit::error::{FieldProblems, quote};
use edu_kit::idempotency::IdempotencyKey;
use edu_kit::paging::PageRequest;
use edu_kit::region::RegionCode;
use edu_kit::{ApiError, CallContext, etag, resource, wire};
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::institution_service_server::InstitutionService;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use sqlx::PgConnection;
use tonic::{Request, Response, Status};

use super::access::{self, Standing, Viewer};
use super::convert::{self, checked};
use super::errors::reason;
use super::{names, once, respond};
use crate::domain::road_map::RoadMapStageKind;
use crate::store::institutions::{self, Institution, InstitutionDraft, InstitutionFilter};
use crate::store::road_map::{self, Practice, PracticeFilter, Stage, StageChange};
use crate::store::{Store, day_in, institution_name};

/// The fields `UpdateRoadMapStage` changes.
const STAGE_FIELDS: [&str; 5] = [
    "activities",
    "planned_start_date",
    "planned_end_date",
    "actual_start_date",
    "actual_end_date",
];

/// The first year a practice may date from: the target model's.
const FIRST_PRACTICE_YEAR: i16 = 2019;

/// The institution service.
#[derive(Debug, Clone)]
pub struct InstitutionsApi {
    store: Store,
}

/// The institutions a caller reads: those of its `institution:` scopes where it has
/// standing, and every institution of the regions it is the regional centre of.
struct Readable {
    ids: Vec<String>,
    regions: Vec<String>,
}

impl InstitutionsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        InstitutionsApi { store }
    }

    async fn create(
        &self,
        request: Request<pb::CreateInstitutionRequest>,
    ) -> Result<pb::Institution, ApiError> {
        let context = CallContext::of(&request)?;
        // The institution does not exist yet: the token's role and regions alone decide.
        let regions = access::regional_centre_regions(context.caller()?)?;
        let body = request.get_ref();
        let given = body.institution.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        let id = problems.check("institution_id", resource::parse_id(&body.institution_id));
        let display_name =
            problems.text("institution.display_name", &given.display_name, 500, true);
        let short_name = problems.text("institution.short_name", &given.short_name, 200, false);
        let region = problems.check("institution.region_code", region_code(&given.region_code));
        if !is_time_zone(&given.time_zone) {
            problems.add(
                "institution.time_zone",
                format!(
                    "{} is not an IANA time zone such as Europe/Saratov",
                    quote(&given.time_zone)
                ),
            );
        }
        let regulation = problems.text("institution.regulation", &given.regulation, 500, false);
        problems.finish()?;
        let id = checked(id, "institution_id")?;
        let region = checked(region, "institution.region_code")?;
        if !regions.iter().any(|r| r == region.as_str()) {
            return Err(ApiError::permission_denied(
                reason::SCOPE_REQUIRED,
                "the regional centre registers institutions of its own region only",
            )
            .with_metadata("region_code", region.as_str()));
        }
        let draft = InstitutionDraft {
            id,
            display_name,
            short_name,
            region_code: region.as_str().to_string(),
            time_zone: given.time_zone.clone(),
            regulation,
        };
        let key =
            IdempotencyKey::for_request(context, "CreateInstitution", &body.request_id, body)?;
        let created = once(&self.store, key.as_ref(), context.now(), async |conn| {
            let created = institutions::create(conn, context, &draft).await?;
            institution_message(conn, &created, context.now()).await
        })
        .await?;
        Ok(created)
    }

    async fn get(
        &self,
        request: Request<pb::GetInstitutionRequest>,
    ) -> Result<pb::Institution, ApiError> {
        let context = CallContext::of(&request)?;
        let id = names::institution(&request.get_ref().name, "name")?;
        // Everyone with standing reads the institution: it names nobody.
        Viewer::of(&self.store, context, &id).await?;
        let mut conn = self.store.read().await?;
        let found = institutions::get(&mut conn, &id).await?;
        let message = institution_message(&mut conn, &found, context.now()).await?;
        conn.finish();
        Ok(message)
    }

    async fn list(
        &self,
        request: Request<pb::ListInstitutionsRequest>,
    ) -> Result<pb::ListInstitutionsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let region = if body.region_code.is_empty() {
            None
        } else {
            Some(convert::region(&body.region_code, "region_code")?)
        };
        let region = region.as_ref().map(RegionCode::as_str);
        let paging = PageRequest::<String>::parse(
            body.page_size,
            &body.page_token,
            &["ListInstitutions", region.unwrap_or_default()],
        )?;
        let readable = readable(&self.store, context).await?;
        let mut conn = self.store.read().await?;
        let page = institutions::list_page(
            &mut conn,
            &InstitutionFilter {
                ids: &readable.ids,
                regions: &readable.regions,
                region,
            },
            paging.size,
            paging.after.clone(),
        )
        .await?;
        let mut shown = Vec::with_capacity(page.items.len());
        for institution in &page.items {
            shown.push(institution_message(&mut conn, institution, context.now()).await?);
        }
        conn.finish();
        Ok(pb::ListInstitutionsResponse {
            institutions: shown,
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn appoint_curator(
        &self,
        request: Request<pb::AppointCuratorRequest>,
    ) -> Result<pb::Institution, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let id = names::institution(&body.name, "name")?;
        let viewer = Viewer::of(&self.store, context, &id).await?;
        viewer.require_director(None)?;
        let mut problems = FieldProblems::new();
        let participant = if body.curator.is_empty() {
            problems.add("curator", "required: the participant appointed");
            None
        } else {
            problems.field(names::participant_of(&id, &body.curator, "curator"))
        };
        let basis = problems.text("basis", &body.basis, 300, true);
        problems.finish()?;
        let participant = checked(participant, "curator")?;
        let key = IdempotencyKey::for_request(context, "AppointCurator", &body.request_id, body)?;
        let appointed = once(&self.store, key.as_ref(), context.now(), async |conn| {
            let appointed =
                institutions::appoint_curator(conn, context, &id, &participant, &basis, &body.etag)
                    .await?;
            institution_message(conn, &appointed, context.now()).await
        })
        .await?;
        Ok(appointed)
    }

    async fn update_stage(
        &self,
        request: Request<pb::UpdateRoadMapStageRequest>,
    ) -> Result<pb::RoadMapStage, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let given = body.road_map_stage.clone().unwrap_or_default();
        let (id, stage_id) =
            names::institution_child(&given.name, "roadMapStages", "road_map_stage.name")?;
        let viewer = Viewer::of(&self.store, context, &id).await?;
        let kind = RoadMapStageKind::from_id(&stage_id)
            .ok_or_else(|| ApiError::not_found(given.name.clone()))?;
        viewer.require_staff()?;
        let mask = wire::mask_paths(body.update_mask.as_ref(), &STAGE_FIELDS)?;
        let mut problems = FieldProblems::new();
        let mut change = StageChange::default();
        for path in &mask {
            let field = format!("road_map_stage.{path}");
            match path.as_str() {
                "activities" => {
                    change.activities = Some(problems.text(&field, &given.activities, 5000, false));
                }
                "planned_start_date" => {
                    change.planned_start = Some(stage_date(
                        &mut problems,
                        given.planned_start_date.as_ref(),
                        &field,
                    ));
                }
                "planned_end_date" => {
                    change.planned_end = Some(stage_date(
                        &mut problems,
                        given.planned_end_date.as_ref(),
                        &field,
                    ));
                }
                "actual_start_date" => {
                    change.actual_start = Some(stage_date(
                        &mut problems,
                        given.actual_start_date.as_ref(),
                        &field,
                    ));
                }
                _ => {
                    change.actual_end = Some(stage_date(
                        &mut problems,
                        given.actual_end_date.as_ref(),
                        &field,
                    ));
                }
            }
        }
        problems.finish()?;
        let mut tx = self.store.begin().await?;
        let stage = road_map::update_stage(
            &mut tx,
            context,
            &id,
            kind,
            &change,
            viewer.standing == Standing::Director,
            &given.etag,
        )
        .await?;
        tx.commit().await?;
        Ok(stage_message(&stage))
    }

    async fn approve(
        &self,
        request: Request<pb::ApproveRoadMapRequest>,
    ) -> Result<pb::Institution, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let id = names::institution(&body.name, "name")?;
        let viewer = Viewer::of(&self.store, context, &id).await?;
        viewer.require_director(None)?;
        let mut problems = FieldProblems::new();
        let basis = problems.text("basis", &body.basis, 300, true);
        problems.finish()?;
        let mut tx = self.store.begin().await?;
        let approved = road_map::approve_by_act(&mut tx, context, &id, &basis, &body.etag).await?;
        let shown = institution_message(&mut tx, &approved, context.now()).await?;
        tx.commit().await?;
        Ok(shown)
    }

    async fn create_practice(
        &self,
        request: Request<pb::CreatePracticeRequest>,
    ) -> Result<pb::Practice, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let id = names::institution(&body.parent, "parent")?;
        let viewer = Viewer::of(&self.store, context, &id).await?;
        viewer.require_staff()?;
        let given = body.practice.clone().unwrap_or_default();
        let this_year = viewer.setting.today.year();
        let mut problems = FieldProblems::new();
        let title = problems.text("practice.title", &given.title, 300, true);
        let summary = problems.text("practice.summary", &given.summary, 10_000, true);
        let results = problems.text("practice.results", &given.results, 5000, false);
        let form = problems
            .field(convert::form_filter(given.form, "practice.form"))
            .flatten();
        let pair_type = problems
            .field(convert::pair_type_filter(
                given.pair_type,
                "practice.pair_type",
            ))
            .flatten();
        // Zero is this year in the institution's zone.
        let year = match given.year {
            0 => this_year,
            raw => i16::try_from(raw).unwrap_or(i16::MAX),
        };
        if !(FIRST_PRACTICE_YEAR..=this_year).contains(&year) {
            problems.add(
                "practice.year",
                format!("from {FIRST_PRACTICE_YEAR} to {this_year}"),
            );
        }
        let materials_uri = convert::web_uri(
            &mut problems,
            "practice.materials_uri",
            &given.materials_uri,
            false,
        );
        problems.finish()?;
        let practice = Practice {
            id: String::new(),
            name: String::new(),
            title,
            summary,
            results,
            form,
            pair_type,
            year,
            materials_uri,
            create_time: None,
        };
        let key = IdempotencyKey::for_request(context, "CreatePractice", &body.request_id, body)?;
        let created = once(&self.store, key.as_ref(), context.now(), async |conn| {
            let created = road_map::create_practice(conn, context, &id, &practice).await?;
            let institution = institutions::get(conn, &id).await?;
            Ok(practice_message(&created, shown_name(&institution)))
        })
        .await?;
        Ok(created)
    }

    async fn list_practices(
        &self,
        request: Request<pb::ListPracticesRequest>,
    ) -> Result<pb::ListPracticesResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let body = request.get_ref();
        let filter = PracticeFilter {
            form: convert::form_filter(body.form, "form")?,
            pair_type: convert::pair_type_filter(body.pair_type, "pair_type")?,
            // A year beyond any a practice may carry matches none.
            year: (body.year > 0).then(|| i16::try_from(body.year).unwrap_or(i16::MAX)),
        };
        let paging = PageRequest::<(String, String)>::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListPractices",
                &body.parent,
                &body.form.to_string(),
                &body.pair_type.to_string(),
                &body.year.max(0).to_string(),
            ],
        )?;
        let readable = match names::institution_or_every(&body.parent, "parent")? {
            None => readable(&self.store, context).await?,
            Some(id) => {
                // Practices name nobody: whoever reads the institution reads them.
                Viewer::of(&self.store, context, &id).await?;
                Readable {
                    ids: vec![id],
                    regions: vec![],
                }
            }
        };
        let mut conn = self.store.read().await?;
        let page = road_map::list_practices_page_of(
            &mut conn,
            &readable.ids,
            &readable.regions,
            &filter,
            paging.size,
            paging.after.clone(),
        )
        .await?;
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut shown = Vec::with_capacity(page.items.len());
        for practice in &page.items {
            let institution = names::institution_id_of(&practice.name);
            if !names.contains_key(institution) {
                let found = institutions::get(&mut conn, institution).await?;
                names.insert(institution.to_string(), shown_name(&found).to_string());
            }
            let name = names
                .get(institution)
                .map(String::as_str)
                .unwrap_or_default();
            shown.push(practice_message(practice, name));
        }
        conn.finish();
        Ok(pb::ListPracticesResponse {
            practices: shown,
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }
}

/// What the caller reads: its `institution:` scopes where it has standing (a participant or
/// guardian token the institution does not know has none), and the regions it is the
/// regional centre of. `ROLE_REQUIRED` for a caller without a role that reads institutions.
async fn readable(store: &Store, context: &CallContext) -> Result<Readable, ApiError> {
    let reach = access::reach(store, context).await?;
    let mut ids: Vec<String> = reach.viewers.into_iter().map(|v| v.setting.id).collect();
    ids.sort();
    ids.dedup();
    Ok(Readable {
        ids,
        regions: reach.regions,
    })
}

/// A region code the service registers: ISO 3166-2 of Russia (`RU-SAR`), the target model's
/// country, two or three letters after the hyphen as the database holds them.
fn region_code(raw: &str) -> Result<RegionCode, String> {
    let refused = || {
        format!(
            "{} is not an ISO 3166-2 code of Russia such as RU-SAR",
            quote(raw)
        )
    };
    let code = RegionCode::parse(raw).map_err(|_| refused())?;
    let subdivision = code.as_str().get(3..).unwrap_or_default();
    if code.country() == "RU"
        && (2..=3).contains(&subdivision.len())
        && subdivision.bytes().all(|b| b.is_ascii_uppercase())
    {
        Ok(code)
    } else {
        Err(refused())
    }
}

/// Whether `name` is an IANA zone jiff knows, written as an area and locations
/// (`Europe/Saratov`, `UTC`) as the database holds zones; legacy forms such as `EST5EDT` are
/// refused rather than failing at the insert.
fn is_time_zone(name: &str) -> bool {
    let mut parts = name.split('/');
    let area_ok = parts.next().is_some_and(|area| {
        !area.is_empty() && area.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_')
    });
    let locations_ok = parts.all(|part| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-'))
    });
    area_ok && locations_ok && TimeZone::get(name).is_ok()
}

/// A stage's date from the request: cleared when unset, else a calendar date (recorded as a
/// problem of `field` when it is not one).
fn stage_date(
    problems: &mut FieldProblems,
    given: Option<&edu_proto::google::r#type::Date>,
    field: &str,
) -> Option<Date> {
    given.and_then(|d| problems.field(wire::civil_date(Some(d), field)))
}

/// The name an institution goes by in the regional centre's views: its short name, or its
/// full name when it has none.
fn shown_name(institution: &Institution) -> &str {
    if institution.short_name.is_empty() {
        &institution.display_name
    } else {
        &institution.short_name
    }
}

/// An institution on the wire, with its road map as it stands at `now` in its zone.
async fn institution_message(
    conn: &mut PgConnection,
    institution: &Institution,
    now: Timestamp,
) -> Result<pb::Institution, ApiError> {
    let today = day_in(&institution.time_zone, now)?;
    let stages = road_map::stages(conn, &institution.id, today).await?;
    let approved = institution.road_map_state == "APPROVED";
    Ok(pb::Institution {
        name: institution_name(&institution.id),
        display_name: institution.display_name.clone(),
        short_name: shown_name(institution).to_string(),
        region_code: institution.region_code.clone(),
        time_zone: institution.time_zone.clone(),
        regulation: institution.regulation.clone(),
        curator: institution.curator.clone().unwrap_or_default(),
        curator_appointment_basis: institution.curator_appointment_basis.clone(),
        curator_appoint_time: institution.curator_appoint_time.map(wire::timestamp),
        road_map: Some(pb::RoadMap {
            state: if approved {
                pb::RoadMapState::Approved
            } else {
                pb::RoadMapState::Draft
            } as i32,
            approval_basis: institution.road_map_approval_basis.clone(),
            approve_time: institution.road_map_approve_time.map(wire::timestamp),
            overdue_stages: convert::count(stages.iter().filter(|s| s.overdue).count()),
            stages: stages.iter().map(stage_message).collect(),
        }),
        create_time: Some(wire::timestamp(institution.create_time)),
        update_time: Some(wire::timestamp(institution.update_time)),
        etag: etag::of(institution.version),
    })
}

/// A road-map stage on the wire.
fn stage_message(stage: &Stage) -> pb::RoadMapStage {
    let status = match (stage.dates.actual_start, stage.dates.actual_end) {
        (_, Some(_)) => pb::RoadMapStageStatus::Done,
        (Some(_), None) => pb::RoadMapStageStatus::InProgress,
        (None, None) => pb::RoadMapStageStatus::NotStarted,
    };
    pb::RoadMapStage {
        name: stage.name.clone(),
        kind: stage_kind(stage.kind) as i32,
        activities: stage.activities.clone(),
        planned_start_date: stage.dates.planned_start.map(wire::date),
        planned_end_date: stage.dates.planned_end.map(wire::date),
        actual_start_date: stage.dates.actual_start.map(wire::date),
        actual_end_date: stage.dates.actual_end.map(wire::date),
        status: status as i32,
        overdue: stage.overdue,
        update_time: Some(wire::timestamp(stage.update_time)),
        etag: etag::of(stage.version),
    }
}

/// A stage's kind on the wire.
fn stage_kind(kind: RoadMapStageKind) -> pb::RoadMapStageKind {
    match kind {
        RoadMapStageKind::PreparingConditions => pb::RoadMapStageKind::PreparingConditions,
        RoadMapStageKind::MenteeBank => pb::RoadMapStageKind::MenteeBank,
        RoadMapStageKind::MentorBank => pb::RoadMapStageKind::MentorBank,
        RoadMapStageKind::SelectionAndTraining => pb::RoadMapStageKind::SelectionAndTraining,
        RoadMapStageKind::PairsAtWork => pb::RoadMapStageKind::PairsAtWork,
        RoadMapStageKind::Completion => pb::RoadMapStageKind::Completion,
        RoadMapStageKind::InformationSupport => pb::RoadMapStageKind::InformationSupport,
    }
}

/// A practice on the wire, with the name its institution goes by.
fn practice_message(practice: &Practice, institution: &str) -> pb::Practice {
    pb::Practice {
        name: practice.name.clone(),
        title: practice.title.clone(),
        summary: practice.summary.clone(),
        results: practice.results.clone(),
        form: practice.form.map_or(0, convert::form),
        pair_type: practice.pair_type.map_or(0, convert::pair_type),
        year: i32::from(practice.year),
        materials_uri: practice.materials_uri.clone(),
        institution_display_name: institution.to_string(),
        create_time: practice.create_time.map(wire::timestamp),
    }
}

#[tonic::async_trait]
impl InstitutionService for InstitutionsApi {
    async fn create_institution(
        &self,
        request: Request<pb::CreateInstitutionRequest>,
    ) -> Result<Response<pb::Institution>, Status> {
        respond(self.create(request).await)
    }

    async fn get_institution(
        &self,
        request: Request<pb::GetInstitutionRequest>,
    ) -> Result<Response<pb::Institution>, Status> {
        respond(self.get(request).await)
    }

    async fn list_institutions(
        &self,
        request: Request<pb::ListInstitutionsRequest>,
    ) -> Result<Response<pb::ListInstitutionsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn appoint_curator(
        &self,
        request: Request<pb::AppointCuratorRequest>,
    ) -> Result<Response<pb::Institution>, Status> {
        respond(self.appoint_curator(request).await)
    }

    async fn update_road_map_stage(
        &self,
        request: Request<pb::UpdateRoadMapStageRequest>,
    ) -> Result<Response<pb::RoadMapStage>, Status> {
        respond(self.update_stage(request).await)
    }

    async fn approve_road_map(
        &self,
        request: Request<pb::ApproveRoadMapRequest>,
    ) -> Result<Response<pb::Institution>, Status> {
        respond(self.approve(request).await)
    }

    async fn create_practice(
        &self,
        request: Request<pb::CreatePracticeRequest>,
    ) -> Result<Response<pb::Practice>, Status> {
        respond(self.create_practice(request).await)
    }

    async fn list_practices(
        &self,
        request: Request<pb::ListPracticesRequest>,
    ) -> Result<Response<pb::ListPracticesResponse>, Status> {
        respond(self.list_practices(request).await)
    }
}
