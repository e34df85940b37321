//! Test fixtures: a fresh database, the services on it, callers of each role, and the
//! 2023/2024 year of the source document.

#![allow(dead_code)]

use edu_kit::CallContext;
use edu_kit::auth::{Caller, Claims};
use edu_kit::testing::TestDatabase;
use edu_partnerships::api::{
    ApplicationsApi, ContractsApi, GroupsApi, ProgressApi, SchoolsApi, YearsApi,
};
use edu_partnerships::store::Store;
use edu_partnerships::{MIGRATOR, SERVICE_NAME};
use edu_proto::edu::partnerships::v1 as pb;
use edu_proto::edu::partnerships::v1::application_service_server::ApplicationService;
use edu_proto::edu::partnerships::v1::contract_service_server::ContractService;
use edu_proto::edu::partnerships::v1::programme_year_service_server::ProgrammeYearService;
use edu_proto::edu::partnerships::v1::school_service_server::SchoolService;
use edu_proto::google::r#type::Date;
use jiff::Timestamp;

/// The year of the tests.
pub const YEAR: &str = "years/2023-2024";

/// A fresh database and the services on it.
pub struct Fixture {
    pub db: TestDatabase,
    pub years: YearsApi,
    pub schools: SchoolsApi,
    pub applications: ApplicationsApi,
    pub contracts: ContractsApi,
    pub groups: GroupsApi,
    pub progress: ProgressApi,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let db = TestDatabase::create(SERVICE_NAME, SERVICE_NAME, &MIGRATOR).await;
        let store = Store::new(db.pool().clone());
        Fixture {
            years: YearsApi::new(store.clone()),
            schools: SchoolsApi::new(store.clone()),
            applications: ApplicationsApi::new(store.clone()),
            contracts: ContractsApi::new(store.clone()),
            groups: GroupsApi::new(store.clone()),
            progress: ProgressApi::new(store),
            db,
        }
    }

    /// The 2023/2024 year with the given caps, created before its window.
    pub async fn year(&self, innovative_cap: i32, non_innovative_cap: i32) -> pb::ProgrammeYear {
        self.years
            .create_programme_year(request(
                &ministry(),
                at("2023-08-01T10:00:00+03:00"),
                pb::CreateProgrammeYearRequest {
                    programme_year: Some(year_body(innovative_cap, non_innovative_cap)),
                    programme_year_id: "2023-2024".into(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("year")
            .into_inner()
    }

    /// Registers school `id` in `region`.
    pub async fn school(&self, id: &str, region: &str) -> pb::School {
        let n = self
            .count("SELECT count(*) FROM partnerships.schools")
            .await;
        self.schools
            .create_school(request(
                &ministry(),
                in_window(),
                pb::CreateSchoolRequest {
                    school: Some(pb::School {
                        display_name: format!("Училище {id}"),
                        neispuo_code: format!("{:07}", 2_200_000 + n),
                        region_code: region.into(),
                        municipality_code: "SOF46".into(),
                        municipality_name: "Столична".into(),
                        official_email: format!("{id}@edu.mon.bg"),
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

    /// Registers an innovative school with one innovation, `innovation`.
    pub async fn innovative(&self, id: &str, region: &str) -> pb::School {
        self.school(id, region).await;
        let listed = self
            .schools
            .add_school_to_innovative_list(request(
                &ministry(),
                in_window(),
                pb::AddSchoolToInnovativeListRequest {
                    name: format!("schools/{id}"),
                    basis: "РМС № 123/2023".into(),
                    etag: String::new(),
                },
            ))
            .await
            .expect("listed")
            .into_inner();
        self.schools
            .create_innovation(request(
                &ministry(),
                in_window(),
                pb::CreateInnovationRequest {
                    parent: format!("schools/{id}"),
                    innovation: Some(pb::Innovation {
                        area: pb::InnovationArea::TeachingMethods as i32,
                        title: format!("Иновация на {id}"),
                        description: "Проектно-базирано обучение".into(),
                        ..Default::default()
                    }),
                    innovation_id: "innovation".into(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("innovation");
        listed
    }

    /// School `id` applies for `modules` at `now`.
    pub async fn apply_at(
        &self,
        id: &str,
        modules: &[i32],
        now: Timestamp,
    ) -> Result<pb::Application, tonic::Status> {
        self.applications
            .create_application(request(
                &school(id),
                now,
                pb::CreateApplicationRequest {
                    parent: YEAR.into(),
                    application: Some(pb::Application {
                        school: format!("schools/{id}"),
                        modules: modules.to_vec(),
                        motivation: "Искаме да учим от другите.".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    /// School `id` applies for module 1 within the window.
    pub async fn apply(&self, id: &str) -> pb::Application {
        self.apply_at(id, &[1], in_window()).await.expect("apply")
    }

    /// Non-innovative school `id` declares interest in `innovative`'s innovation.
    pub async fn interest(
        &self,
        id: &str,
        innovative: &str,
    ) -> Result<pb::Interest, tonic::Status> {
        self.applications
            .create_interest(request(
                &school(id),
                in_window(),
                pb::CreateInterestRequest {
                    parent: YEAR.into(),
                    interest: Some(pb::Interest {
                        school: format!("schools/{id}"),
                        innovation: format!("schools/{innovative}/innovations/innovation"),
                        note: String::new(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    /// `proposer` proposes a contract to `counterparty` (naming the innovative party's
    /// innovation when `innovation` is its school).
    pub async fn propose(
        &self,
        proposer: &str,
        counterparty: &str,
        innovation: Option<&str>,
    ) -> Result<pb::Contract, tonic::Status> {
        self.contracts
            .propose_contract(request(
                &school(proposer),
                in_window(),
                pb::ProposeContractRequest {
                    parent: YEAR.into(),
                    contract: Some(pb::Contract {
                        proposer: format!("schools/{proposer}"),
                        counterparty: format!("schools/{counterparty}"),
                        innovation: innovation
                            .map(|s| format!("schools/{s}/innovations/innovation"))
                            .unwrap_or_default(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    /// `signer` signs `contract` at `now`.
    pub async fn sign_at(
        &self,
        signer: &str,
        contract: &str,
        now: Timestamp,
    ) -> Result<pb::Contract, tonic::Status> {
        self.contracts
            .sign_contract(request(
                &school(signer),
                now,
                pb::SignContractRequest {
                    name: contract.into(),
                    etag: String::new(),
                    request_id: uuid::Uuid::new_v4().to_string(),
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    /// `signer` signs `contract` within the window.
    pub async fn sign(&self, signer: &str, contract: &str) -> Result<pb::Contract, tonic::Status> {
        self.sign_at(signer, contract, in_window()).await
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

/// An instant inside the 2023/2024 window.
pub fn in_window() -> Timestamp {
    at("2023-09-15T10:00:00+03:00")
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// The 2023/2024 year of the source document, with the given caps.
pub fn year_body(innovative_cap: i32, non_innovative_cap: i32) -> pb::ProgrammeYear {
    pb::ProgrammeYear {
        display_name: "Иновации в действие 2023/2024".into(),
        time_zone: "Europe/Sofia".into(),
        application_start_date: date(2023, 9, 1),
        application_end_date: date(2023, 10, 21),
        modules: vec![
            pb::ProgrammeModule {
                number: 1,
                display_name: "Модул 1".into(),
            },
            pb::ProgrammeModule {
                number: 2,
                display_name: "Модул 2".into(),
            },
        ],
        innovative_school_cap: innovative_cap,
        non_innovative_school_cap: non_innovative_cap,
        annex_deadline: date(2023, 12, 15),
        max_mobility_days: 4,
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

pub fn ministry() -> Caller {
    caller("ministry", &["partnerships.ministry"], &[])
}

pub fn school(id: &str) -> Caller {
    caller(
        &format!("{id}@edu.mon.bg"),
        &["partnerships.school"],
        &[&format!("school:{id}")],
    )
}

pub fn office(region: &str) -> Caller {
    caller(
        &format!("ruo-{region}"),
        &["partnerships.regional_office"],
        &[&format!("region:{region}")],
    )
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
