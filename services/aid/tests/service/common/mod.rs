//! Test fixtures: a fresh database with the 2023 campaign, schools, and callers of each
//! role. Each test module builds the services it calls from `fx.store`.

#![allow(dead_code)]

use edu_aid::api::{CampaignsApi, SchoolsApi};
use edu_aid::store::Store;
use edu_aid::{MIGRATOR, SERVICE_NAME};
use edu_kit::CallContext;
use edu_kit::auth::{Caller, Claims};
use edu_kit::testing::TestDatabase;
use edu_proto::edu::aid::v1 as pb;
use edu_proto::edu::aid::v1::campaign_service_server::CampaignService;
use edu_proto::edu::aid::v1::school_service_server::SchoolService;
use edu_proto::google::r#type::Date;
use jiff::Timestamp;

/// The campaign of the tests.
pub const CAMPAIGN: &str = "campaigns/doroga-v-shkolu-2023";

/// A fresh database, its store and the campaign and school services on it.
pub struct Fixture {
    pub db: TestDatabase,
    pub store: Store,
    pub campaigns: CampaignsApi,
    pub schools: SchoolsApi,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let db = TestDatabase::create(SERVICE_NAME, SERVICE_NAME, &MIGRATOR).await;
        let store = Store::new(db.pool().clone());
        Fixture {
            campaigns: CampaignsApi::new(store.clone()),
            schools: SchoolsApi::new(store.clone()),
            store,
            db,
        }
    }

    /// The 2023 campaign (1 August – 30 September, Asia/Almaty, school from 1 September) in
    /// Almaty (KZ-75), Astana (KZ-71) and the Almaty region (KZ-19), appeals answered
    /// within 24 hours; created before it starts.
    pub async fn campaign(&self) -> pb::Campaign {
        self.campaigns
            .create_campaign(request(
                &coordinator(),
                at("2023-07-01T10:00:00+06:00"),
                pb::CreateCampaignRequest {
                    campaign: Some(campaign_body()),
                    campaign_id: "doroga-v-shkolu-2023".into(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("campaign")
            .into_inner()
    }

    /// Registers school `id` in `region` as the coordinator.
    pub async fn school(&self, id: &str, region: &str) -> pb::School {
        self.schools
            .create_school(request(
                &coordinator(),
                in_campaign(),
                pb::CreateSchoolRequest {
                    school: Some(pb::School {
                        display_name: format!("Школа {id}"),
                        region_code: region.into(),
                        locality: "г. Алматы".into(),
                        ..Default::default()
                    }),
                    school_id: id.into(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("school")
            .into_inner()
    }

    /// How many rows `sql` counts.
    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.db.pool())
            .await
            .expect("count")
    }
}

pub fn at(instant: &str) -> Timestamp {
    instant.parse().expect("instant")
}

/// An instant inside the campaign.
pub fn in_campaign() -> Timestamp {
    at("2023-08-15T10:00:00+06:00")
}

pub fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// The 2023 campaign of the source document.
pub fn campaign_body() -> pb::Campaign {
    pb::Campaign {
        display_name: "Республиканская акция «Дорога в школу» — 2023".into(),
        time_zone: "Asia/Almaty".into(),
        start_date: date(2023, 8, 1),
        end_date: date(2023, 9, 30),
        school_start_date: date(2023, 9, 1),
        region_codes: vec!["KZ-75".into(), "KZ-71".into(), "KZ-19".into()],
        appeal_response_target: Some(prost_types::Duration {
            seconds: 24 * 3600,
            nanos: 0,
        }),
        ..Default::default()
    }
}

/// A caller with roles and scopes.
pub fn caller(subject: &str, roles: &[&str], scopes: &[&str]) -> Caller {
    Caller::from_claims(Claims {
        sub: subject.into(),
        name: None,
        roles: roles.iter().map(|r| r.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    })
}

pub fn coordinator() -> Caller {
    caller("coordinator", &["aid.national_coordinator"], &[])
}

pub fn regional(region: &str) -> Caller {
    caller(
        &format!("staff-{region}"),
        &["aid.regional_staff"],
        &[&format!("region:{region}")],
    )
}

pub fn school_staff(id: &str) -> Caller {
    caller(
        &format!("staff-{id}"),
        &["aid.school_staff"],
        &[&format!("school:{id}")],
    )
}

pub fn operator(region: &str) -> Caller {
    caller(
        &format!("operator-{region}"),
        &["aid.operator"],
        &[&format!("region:{region}")],
    )
}

pub fn donor(subject: &str) -> Caller {
    caller(subject, &["aid.donor"], &[])
}

/// A request as the pipeline hands it to a handler: with the caller and the instant.
pub fn request<T>(caller: &Caller, now: Timestamp, body: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(body);
    request.extensions_mut().insert(CallContext::new(
        Some(caller.clone()),
        uuid::Uuid::new_v4().to_string(),
        None,
        now,
    ));
    request
}
