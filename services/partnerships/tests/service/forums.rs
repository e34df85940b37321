//! Rule 9: regional forums. The office agrees a forum with a school of its region, the
//! school registers, the topics are set by one side and agreed by the other, and the office
//! sets the programme and the participants; each refusal with its reason, and what other
//! regions, other schools and the ministry see and may do.

use edu_kit::testing::{bad_fields, error_metadata, reason};
use edu_proto::edu::partnerships::v1 as pb;
use edu_proto::edu::partnerships::v1::forum_service_server::ForumService;
use edu_proto::google::r#type::Date;
use tonic::Code;

use fx::*;

/// Fixtures of these tests: a fresh database with the 2023/2024 year, schools, callers.
mod fx {
    use edu_kit::CallContext;
    use edu_kit::auth::{Caller, Claims};
    use edu_kit::testing::TestDatabase;
    use edu_partnerships::api::{ForumsApi, YearsApi};
    use edu_partnerships::store::Store;
    use edu_partnerships::store::schools::{self, NewSchool};
    use edu_partnerships::{MIGRATOR, SERVICE_NAME};
    use edu_proto::edu::partnerships::v1 as pb;
    use edu_proto::edu::partnerships::v1::forum_service_server::ForumService;
    use edu_proto::edu::partnerships::v1::programme_year_service_server::ProgrammeYearService;
    use edu_proto::google::r#type::Date;
    use jiff::Timestamp;

    /// The year of the tests.
    pub const YEAR: &str = "years/2023-2024";
    /// When the forums are agreed and worked on: autumn 2023.
    pub const AUTUMN: &str = "2023-11-06T10:00:00+02:00";

    /// A fresh database with the year, and the services on it.
    pub struct Fx {
        pub db: TestDatabase,
        pub store: Store,
        pub forums: ForumsApi,
    }

    impl Fx {
        pub async fn new() -> Fx {
            let db = TestDatabase::create(SERVICE_NAME, SERVICE_NAME, &MIGRATOR).await;
            let store = Store::new(db.pool().clone());
            YearsApi::new(store.clone())
                .create_programme_year(request(
                    &ministry(),
                    at("2023-08-01T10:00:00+03:00"),
                    pb::CreateProgrammeYearRequest {
                        programme_year: Some(year_body()),
                        programme_year_id: "2023-2024".into(),
                        request_id: String::new(),
                    },
                ))
                .await
                .expect("year");
            Fx {
                forums: ForumsApi::new(store.clone()),
                store,
                db,
            }
        }

        /// Registers school `id` in `region`.
        pub async fn school(&self, id: &str, region: &str) {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM partnerships.schools")
                .fetch_one(self.db.pool())
                .await
                .expect("count");
            let context = CallContext::new(
                Some(ministry()),
                uuid::Uuid::new_v4().to_string(),
                None,
                at("2023-08-15T10:00:00+03:00"),
            );
            let mut tx = self.store.begin().await.expect("begin");
            schools::create(
                &mut tx,
                &context,
                &NewSchool {
                    id: id.into(),
                    display_name: format!("Училище {id}"),
                    neispuo_code: format!("{:07}", 2_200_000 + n),
                    region_code: region.into(),
                    municipality_code: "SOF46".into(),
                    municipality_name: "Столична".into(),
                    official_email: format!("{id}@edu.mon.bg"),
                },
            )
            .await
            .expect("school");
            tx.commit().await.expect("commit");
        }

        /// The audit log of `resource`, oldest first: (action, actor).
        pub async fn audit(&self, resource: &str) -> Vec<(String, String)> {
            sqlx::query_as("SELECT action, actor FROM audit_log WHERE resource = $1 ORDER BY id")
                .bind(resource)
                .fetch_all(self.db.pool())
                .await
                .expect("audit log")
        }

        /// `caller` records a forum hosted by `school` in `region` at `now`.
        pub async fn create_at(
            &self,
            caller: &Caller,
            now: Timestamp,
            region: &str,
            id: &str,
            school: &str,
        ) -> Result<pb::Forum, tonic::Status> {
            self.forums
                .create_forum(request(
                    caller,
                    now,
                    pb::CreateForumRequest {
                        parent: format!("regions/{region}"),
                        forum: Some(forum_body(school)),
                        forum_id: id.into(),
                        request_id: String::new(),
                    },
                ))
                .await
                .map(|r| r.into_inner())
        }

        /// The office of `region` records forum `id` hosted by `school`.
        pub async fn create(
            &self,
            region: &str,
            id: &str,
            school: &str,
        ) -> Result<pb::Forum, tonic::Status> {
            self.create_at(&office(region), at(AUTUMN), region, id, school)
                .await
        }

        /// `caller` reads forum `name`.
        pub async fn get(&self, caller: &Caller, name: &str) -> Result<pb::Forum, tonic::Status> {
            self.forums
                .get_forum(request(
                    caller,
                    at(AUTUMN),
                    pb::GetForumRequest { name: name.into() },
                ))
                .await
                .map(|r| r.into_inner())
        }

        /// `caller` registers forum `name`.
        pub async fn register(
            &self,
            caller: &Caller,
            name: &str,
            etag: &str,
        ) -> Result<pb::Forum, tonic::Status> {
            self.forums
                .register_forum(request(
                    caller,
                    at(AUTUMN),
                    pb::RegisterForumRequest {
                        name: name.into(),
                        etag: etag.into(),
                    },
                ))
                .await
                .map(|r| r.into_inner())
        }

        /// `caller` sets the topics of forum `name`.
        pub async fn set_topics(
            &self,
            caller: &Caller,
            name: &str,
            topics: Vec<pb::ForumTopic>,
            etag: &str,
        ) -> Result<pb::Forum, tonic::Status> {
            self.forums
                .set_forum_topics(request(
                    caller,
                    at(AUTUMN),
                    pb::SetForumTopicsRequest {
                        name: name.into(),
                        topics,
                        etag: etag.into(),
                    },
                ))
                .await
                .map(|r| r.into_inner())
        }

        /// `caller` agrees the topics of forum `name` as read in `etag`.
        pub async fn agree(
            &self,
            caller: &Caller,
            name: &str,
            etag: &str,
        ) -> Result<pb::Forum, tonic::Status> {
            self.forums
                .agree_forum_topics(request(
                    caller,
                    at(AUTUMN),
                    pb::AgreeForumTopicsRequest {
                        name: name.into(),
                        etag: etag.into(),
                    },
                ))
                .await
                .map(|r| r.into_inner())
        }

        /// `caller` sets the programme of forum `name`.
        pub async fn programme(
            &self,
            caller: &Caller,
            name: &str,
            programme: &str,
            day: Date,
            etag: &str,
        ) -> Result<pb::Forum, tonic::Status> {
            self.forums
                .set_forum_programme(request(
                    caller,
                    at(AUTUMN),
                    pb::SetForumProgrammeRequest {
                        name: name.into(),
                        programme: programme.into(),
                        forum_date: Some(day),
                        etag: etag.into(),
                    },
                ))
                .await
                .map(|r| r.into_inner())
        }

        /// `caller` adds school `school` to forum `name`.
        pub async fn add(
            &self,
            caller: &Caller,
            name: &str,
            school: &str,
            etag: &str,
        ) -> Result<pb::Forum, tonic::Status> {
            self.forums
                .add_forum_participant(request(
                    caller,
                    at(AUTUMN),
                    pb::AddForumParticipantRequest {
                        name: name.into(),
                        school: format!("schools/{school}"),
                        etag: etag.into(),
                    },
                ))
                .await
                .map(|r| r.into_inner())
        }

        /// `caller` removes school `school` from forum `name`.
        pub async fn remove(
            &self,
            caller: &Caller,
            name: &str,
            school: &str,
            etag: &str,
        ) -> Result<pb::Forum, tonic::Status> {
            self.forums
                .remove_forum_participant(request(
                    caller,
                    at(AUTUMN),
                    pb::RemoveForumParticipantRequest {
                        name: name.into(),
                        school: format!("schools/{school}"),
                        etag: etag.into(),
                    },
                ))
                .await
                .map(|r| r.into_inner())
        }

        /// `caller` lists the forums under `parent`.
        pub async fn list(
            &self,
            caller: &Caller,
            body: pb::ListForumsRequest,
        ) -> Result<pb::ListForumsResponse, tonic::Status> {
            self.forums
                .list_forums(request(caller, at(AUTUMN), body))
                .await
                .map(|r| r.into_inner())
        }

        /// A forum of `region` hosted by `school`, registered, with topics the host set and
        /// the office agreed: final.
        pub async fn final_forum(&self, region: &str, id: &str, school: &str) -> pb::Forum {
            let created = self.create(region, id, school).await.expect("created");
            let registered = self
                .register(&host(school), &created.name, &created.etag)
                .await
                .expect("registered");
            let set = self
                .set_topics(&host(school), &created.name, topics(2), &registered.etag)
                .await
                .expect("topics");
            self.agree(&office(region), &created.name, &set.etag)
                .await
                .expect("agreed")
        }
    }

    pub fn at(instant: &str) -> Timestamp {
        instant.parse().expect("instant")
    }

    pub fn date(year: i32, month: i32, day: i32) -> Option<Date> {
        Some(Date { year, month, day })
    }

    /// The 2023/2024 year of the source document.
    pub fn year_body() -> pb::ProgrammeYear {
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
            innovative_school_cap: 300,
            non_innovative_school_cap: 300,
            annex_deadline: date(2023, 12, 15),
            max_mobility_days: 4,
            ..Default::default()
        }
    }

    /// What the office agrees with a host `school`.
    pub fn forum_body(school: &str) -> pb::Forum {
        pb::Forum {
            year: YEAR.into(),
            host_school: format!("schools/{school}"),
            capacity: 120,
            experience: "Домакин на два регионални форума за иновации (2021, 2022).".into(),
            ..Default::default()
        }
    }

    /// `n` topics.
    pub fn topics(n: usize) -> Vec<pb::ForumTopic> {
        (1..=n)
            .map(|i| pb::ForumTopic {
                title: format!("Проектно-базирано обучение, част {i}"),
                description: "Опит от прогимназиалния етап".into(),
            })
            .collect()
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

    /// School `id`, signed in with its official e-mail.
    pub fn host(id: &str) -> Caller {
        caller(
            &format!("{id}@edu.mon.bg"),
            &["partnerships.school"],
            &[&format!("school:{id}")],
        )
    }

    /// The regional office of `region`.
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
}

#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code, expected: &str) {
    match result {
        Ok(ok) => panic!("expected {code:?} {expected}, got {ok:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            assert_eq!(reason(&status), expected, "{status:?}");
        }
    }
}

#[track_caller]
fn refusal<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> tonic::Status {
    result.expect_err("refused")
}

#[tokio::test]
async fn a_forum_goes_from_agreement_to_programme_and_participants() {
    let fx = Fx::new().await;
    for (id, region) in [("s1", "BG-22"), ("s2", "BG-22"), ("s3", "BG-22")] {
        fx.school(id, region).await;
    }

    // The office records its agreement.
    let created = fx
        .create("BG-22", "sofia-2023", "s1")
        .await
        .expect("created");
    let name = "regions/BG-22/forums/sofia-2023";
    assert_eq!(created.name, name);
    assert_eq!(created.year, YEAR);
    assert_eq!(created.host_school, "schools/s1");
    assert_eq!(created.capacity, 120);
    assert_eq!(created.state, pb::ForumState::Agreed as i32);
    assert!(created.topics.is_empty());
    assert_eq!(created.topics_set_by, pb::ForumParty::Unspecified as i32);
    assert!(!created.topics_final);
    assert!(created.register_time.is_none());
    assert_eq!(
        created.create_time.expect("create time").seconds,
        at(AUTUMN).as_second()
    );
    assert_eq!(
        fx.get(&host("s1"), name).await.expect("host reads"),
        created
    );

    // The school registers its wish to host; again, nothing changes.
    let registered = fx
        .register(&host("s1"), name, &created.etag)
        .await
        .expect("registered");
    assert_eq!(registered.state, pb::ForumState::Registered as i32);
    assert!(registered.register_time.is_some());
    assert_ne!(registered.etag, created.etag);
    let again = fx
        .register(&host("s1"), name, &registered.etag)
        .await
        .expect("registered again");
    assert_eq!(again, registered);

    // The school proposes topics: its agreement, not yet the office's.
    let by_school = fx
        .set_topics(&host("s1"), name, topics(2), &registered.etag)
        .await
        .expect("school sets topics");
    assert_eq!(by_school.topics, topics(2));
    assert_eq!(by_school.topics_set_by, pb::ForumParty::HostSchool as i32);
    assert!(by_school.school_agreed_topics && !by_school.office_agreed_topics);
    assert!(!by_school.topics_final);

    // The office sets another list in turn, which clears the school's agreement.
    let by_office = fx
        .set_topics(&office("BG-22"), name, topics(3), &by_school.etag)
        .await
        .expect("office sets topics");
    assert_eq!(by_office.topics.len(), 3);
    assert_eq!(
        by_office.topics_set_by,
        pb::ForumParty::RegionalOffice as i32
    );
    assert!(by_office.office_agreed_topics && !by_office.school_agreed_topics);

    // The school agrees the office's list: final. Agreeing again changes nothing.
    let agreed = fx
        .agree(&host("s1"), name, &by_office.etag)
        .await
        .expect("school agrees");
    assert!(agreed.office_agreed_topics && agreed.school_agreed_topics);
    assert!(agreed.topics_final);
    assert_eq!(agreed.topics, by_office.topics);
    let again = fx
        .agree(&host("s1"), name, &agreed.etag)
        .await
        .expect("agrees again");
    assert_eq!(again, agreed);

    // The office sets the programme, as often as needed.
    let first = fx
        .programme(
            &office("BG-22"),
            name,
            "09:30 Откриване; 10:00 Работа по групи",
            Date {
                year: 2024,
                month: 3,
                day: 14,
            },
            &agreed.etag,
        )
        .await
        .expect("programme");
    assert_eq!(first.programme, "09:30 Откриване; 10:00 Работа по групи");
    assert_eq!(first.forum_date, date(2024, 3, 14));
    let programmed = fx
        .programme(
            &office("BG-22"),
            name,
            "09:00 Откриване; 09:30 Работа по групи",
            Date {
                year: 2024,
                month: 3,
                day: 15,
            },
            &first.etag,
        )
        .await
        .expect("programme changed");
    assert_eq!(programmed.forum_date, date(2024, 3, 15));

    // The office adds participants, in order; adding one again changes nothing.
    let one = fx
        .add(&office("BG-22"), name, "s2", &programmed.etag)
        .await
        .expect("s2 added");
    let two = fx
        .add(&office("BG-22"), name, "s3", &one.etag)
        .await
        .expect("s3 added");
    assert_eq!(two.participant_schools, ["schools/s2", "schools/s3"]);
    let again = fx
        .add(&office("BG-22"), name, "s2", &two.etag)
        .await
        .expect("s2 again");
    assert_eq!(again, two);

    // A participant reads the forum it takes part in; the ministry reads every forum.
    assert_eq!(fx.get(&host("s2"), name).await.expect("participant"), two);
    assert_eq!(fx.get(&ministry(), name).await.expect("ministry"), two);

    // The office removes a participant; removing it again changes nothing, and it no
    // longer sees the forum.
    let removed = fx
        .remove(&office("BG-22"), name, "s2", &two.etag)
        .await
        .expect("s2 removed");
    assert_eq!(removed.participant_schools, ["schools/s3"]);
    let again = fx
        .remove(&office("BG-22"), name, "s2", &removed.etag)
        .await
        .expect("s2 removed again");
    assert_eq!(again, removed);
    refused(fx.get(&host("s2"), name).await, Code::NotFound, "NOT_FOUND");

    // Every change is in the audit log, by whom it was made.
    let actions: Vec<(String, String)> = fx.audit(name).await;
    assert_eq!(
        actions
            .iter()
            .map(|(a, who)| format!("{a} {who}"))
            .collect::<Vec<_>>(),
        [
            "forum.created ruo-BG-22",
            "forum.registered s1@edu.mon.bg",
            "forum.topics_set s1@edu.mon.bg",
            "forum.topics_set ruo-BG-22",
            "forum.topics_agreed s1@edu.mon.bg",
            "forum.programme_set ruo-BG-22",
            "forum.programme_set ruo-BG-22",
            "forum.participant_added ruo-BG-22",
            "forum.participant_added ruo-BG-22",
            "forum.participant_removed ruo-BG-22",
        ]
    );
}

#[tokio::test]
async fn creating_refuses_schools_outside_the_region_second_forums_and_bad_fields() {
    let fx = Fx::new().await;
    fx.school("s1", "BG-22").await;
    fx.school("p1", "BG-16").await;

    let outside = refusal(fx.create("BG-22", "plovdiv", "p1").await);
    assert_eq!(outside.code(), Code::FailedPrecondition);
    assert_eq!(reason(&outside), "SCHOOL_OUTSIDE_REGION");
    assert_eq!(
        error_metadata(&outside, "school").as_deref(),
        Some("schools/p1")
    );

    let first = fx.create("BG-22", "first", "s1").await.expect("first");
    let second = refusal(fx.create("BG-22", "second", "s1").await);
    assert_eq!(second.code(), Code::AlreadyExists);
    assert_eq!(reason(&second), "ALREADY_EXISTS");
    assert_eq!(
        error_metadata(&second, "forum").as_deref(),
        Some(first.name.as_str())
    );
    // The same ID in the region is taken too.
    fx.school("s2", "BG-22").await;
    refused(
        fx.create("BG-22", "first", "s2").await,
        Code::AlreadyExists,
        "ALREADY_EXISTS",
    );
    // A server-chosen ID when none is given.
    let chosen = fx.create("BG-22", "", "s2").await.expect("server ID");
    assert!(chosen.name.starts_with("regions/BG-22/forums/"));

    // Unknown year or school.
    fx.school("s3", "BG-22").await;
    let mut body = forum_body("s3");
    body.year = "years/2030-2031".into();
    refused(
        fx.forums
            .create_forum(request(
                &office("BG-22"),
                at(AUTUMN),
                pb::CreateForumRequest {
                    parent: "regions/BG-22".into(),
                    forum: Some(body),
                    forum_id: "nope".into(),
                    request_id: String::new(),
                },
            ))
            .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    refused(
        fx.create("BG-22", "ghost", "ghost").await,
        Code::NotFound,
        "NOT_FOUND",
    );

    // Every malformed field is named.
    let bad = refusal(
        fx.forums
            .create_forum(request(
                &office("BG-22"),
                at(AUTUMN),
                pb::CreateForumRequest {
                    parent: "regions/BG-22".into(),
                    forum: Some(pb::Forum {
                        year: "2023".into(),
                        host_school: "s3".into(),
                        capacity: 10_001,
                        experience: "  ".into(),
                        ..Default::default()
                    }),
                    forum_id: "Bad_Id".into(),
                    request_id: String::new(),
                },
            ))
            .await,
    );
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(reason(&bad), "INVALID_FIELDS");
    let mut fields = bad_fields(&bad);
    fields.sort();
    assert_eq!(
        fields,
        [
            "forum.capacity",
            "forum.experience",
            "forum.host_school",
            "forum.year",
            "forum_id"
        ]
    );
    // A malformed parent is named; a region the office does not serve is its scope.
    refused(
        fx.create_at(&office("BG-22"), at(AUTUMN), "BG 22", "x", "s3")
            .await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    refused(
        fx.create_at(&office("BG-22"), at(AUTUMN), "BG-99", "x", "s3")
            .await,
        Code::PermissionDenied,
        "SCOPE_REQUIRED",
    );
}

#[tokio::test]
async fn create_forum_with_a_request_id_is_done_once() {
    let fx = Fx::new().await;
    fx.school("s1", "BG-22").await;
    let create = |experience: &str| pb::CreateForumRequest {
        parent: "regions/BG-22".into(),
        forum: Some(pb::Forum {
            experience: experience.into(),
            ..forum_body("s1")
        }),
        forum_id: String::new(),
        request_id: "5f0c6a2e-forum".into(),
    };
    let first = fx
        .forums
        .create_forum(request(&office("BG-22"), at(AUTUMN), create("Опит")))
        .await
        .expect("first")
        .into_inner();
    let retry = fx
        .forums
        .create_forum(request(&office("BG-22"), at(AUTUMN), create("Опит")))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retry, first);
    refused(
        fx.forums
            .create_forum(request(&office("BG-22"), at(AUTUMN), create("Друг опит")))
            .await,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );
}

#[tokio::test]
async fn the_rules_refuse_steps_out_of_order() {
    let fx = Fx::new().await;
    for (id, region) in [("s1", "BG-22"), ("s2", "BG-22"), ("p1", "BG-16")] {
        fx.school(id, region).await;
    }
    let office = office("BG-22");
    let created = fx.create("BG-22", "forum", "s1").await.expect("created");
    let name = created.name.as_str();

    // Before the school registered: no topics, no agreement, no participants.
    refused(
        fx.set_topics(&office, name, topics(1), "").await,
        Code::FailedPrecondition,
        "FORUM_NOT_REGISTERED",
    );
    refused(
        fx.agree(&host("s1"), name, &created.etag).await,
        Code::FailedPrecondition,
        "FORUM_NOT_REGISTERED",
    );
    refused(
        fx.add(&office, name, "s2", "").await,
        Code::FailedPrecondition,
        "FORUM_NOT_REGISTERED",
    );
    refused(
        fx.programme(
            &office,
            name,
            "Програма",
            Date {
                year: 2024,
                month: 3,
                day: 14,
            },
            "",
        )
        .await,
        Code::FailedPrecondition,
        "TOPICS_NOT_FINAL",
    );

    // A stale etag is refused.
    let registered = fx
        .register(&host("s1"), name, &created.etag)
        .await
        .expect("registered");
    refused(
        fx.register(&host("s1"), name, &created.etag).await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );

    // Nothing to agree yet, and the programme waits for final topics.
    refused(
        fx.agree(&office, name, &registered.etag).await,
        Code::FailedPrecondition,
        "FORUM_HAS_NO_TOPICS",
    );
    // Agreeing names the version read.
    refused(
        fx.agree(&office, name, "").await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );

    // Topics: 1 to 10, each with a title.
    for bad in [vec![], topics(11)] {
        let status = refusal(fx.set_topics(&office, name, bad, "").await);
        assert_eq!(reason(&status), "INVALID_FIELDS");
        assert_eq!(bad_fields(&status), ["topics"]);
    }
    let mut untitled = topics(2);
    untitled[1].title = " ".into();
    let status = refusal(fx.set_topics(&office, name, untitled, "").await);
    assert_eq!(reason(&status), "INVALID_FIELDS");
    assert_eq!(bad_fields(&status), ["topics[1].title"]);

    let set = fx
        .set_topics(&host("s1"), name, topics(2), &registered.etag)
        .await
        .expect("topics");
    refused(
        fx.programme(
            &office,
            name,
            "Програма",
            Date {
                year: 2024,
                month: 3,
                day: 14,
            },
            "",
        )
        .await,
        Code::FailedPrecondition,
        "TOPICS_NOT_FINAL",
    );
    // The office agrees only the topics it read: a list set since is refused.
    let changed = fx
        .set_topics(&host("s1"), name, topics(3), &set.etag)
        .await
        .expect("topics changed");
    refused(
        fx.agree(&office, name, &set.etag).await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    refused(
        fx.set_topics(&office, name, topics(1), &set.etag).await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    let agreed = fx
        .agree(&office, name, &changed.etag)
        .await
        .expect("agreed");
    assert!(agreed.topics_final);

    // Final topics no longer change, whoever asks.
    for side in [office.clone(), host("s1")] {
        refused(
            fx.set_topics(&side, name, topics(1), "").await,
            Code::FailedPrecondition,
            "TOPICS_FINAL",
        );
    }
    refused(
        fx.programme(
            &office,
            name,
            "Програма",
            Date {
                year: 2024,
                month: 3,
                day: 14,
            },
            "\"1\"",
        )
        .await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    let programme = refusal(
        fx.forums
            .set_forum_programme(request(
                &office,
                at(AUTUMN),
                pb::SetForumProgrammeRequest {
                    name: name.into(),
                    programme: String::new(),
                    forum_date: None,
                    etag: String::new(),
                },
            ))
            .await,
    );
    let mut fields = bad_fields(&programme);
    fields.sort();
    assert_eq!(fields, ["forum_date", "programme"]);

    // Participants: of the region, existing, not the host.
    let outside = refusal(fx.add(&office, name, "p1", "").await);
    assert_eq!(outside.code(), Code::FailedPrecondition);
    assert_eq!(reason(&outside), "SCHOOL_OUTSIDE_REGION");
    assert_eq!(
        error_metadata(&outside, "school").as_deref(),
        Some("schools/p1")
    );
    let the_host = refusal(fx.add(&office, name, "s1", "").await);
    assert_eq!(the_host.code(), Code::InvalidArgument);
    assert_eq!(reason(&the_host), "INVALID_FIELDS");
    assert_eq!(bad_fields(&the_host), ["school"]);
    refused(
        fx.add(&office, name, "ghost", "").await,
        Code::NotFound,
        "NOT_FOUND",
    );
    refused(
        fx.add(&office, name, "s2", &created.etag).await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    refused(
        fx.remove(&office, name, "s2", &created.etag).await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    refused(
        fx.get(&office, "regions/BG-22/forums/missing").await,
        Code::NotFound,
        "NOT_FOUND",
    );
    refused(
        fx.get(&office, "forums/forum").await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
}

#[tokio::test]
async fn only_the_forum_s_sides_act_on_it_and_others_do_not_see_it() {
    let fx = Fx::new().await;
    for (id, region) in [("s1", "BG-22"), ("s2", "BG-22"), ("s9", "BG-22")] {
        fx.school(id, region).await;
    }
    let plovdiv = office("BG-16");

    // Creating: only an office, only in its region.
    refused(
        fx.create_at(&plovdiv, at(AUTUMN), "BG-22", "forum", "s1")
            .await,
        Code::PermissionDenied,
        "SCOPE_REQUIRED",
    );
    refused(
        fx.create_at(&host("s1"), at(AUTUMN), "BG-22", "forum", "s1")
            .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    refused(
        fx.create_at(&ministry(), at(AUTUMN), "BG-22", "forum", "s1")
            .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );

    let forum = fx.final_forum("BG-22", "forum", "s1").await;
    let name = forum.name.as_str();
    let forum = fx
        .add(&office("BG-22"), name, "s2", &forum.etag)
        .await
        .expect("participant");

    // To another region's office and to an unrelated school the forum does not exist.
    for stranger in [plovdiv.clone(), host("s9")] {
        refused(fx.get(&stranger, name).await, Code::NotFound, "NOT_FOUND");
        refused(
            fx.register(&stranger, name, "").await,
            Code::NotFound,
            "NOT_FOUND",
        );
        refused(
            fx.set_topics(&stranger, name, topics(1), "").await,
            Code::NotFound,
            "NOT_FOUND",
        );
        refused(
            fx.agree(&stranger, name, &forum.etag).await,
            Code::NotFound,
            "NOT_FOUND",
        );
        refused(
            fx.programme(
                &stranger,
                name,
                "П",
                Date {
                    year: 2024,
                    month: 3,
                    day: 1,
                },
                "",
            )
            .await,
            Code::NotFound,
            "NOT_FOUND",
        );
        refused(
            fx.add(&stranger, name, "s9", "").await,
            Code::NotFound,
            "NOT_FOUND",
        );
        refused(
            fx.remove(&stranger, name, "s2", "").await,
            Code::NotFound,
            "NOT_FOUND",
        );
        // Not even a stale etag tells it apart from a missing forum.
        refused(
            fx.remove(&stranger, name, "s2", "\"1\"").await,
            Code::NotFound,
            "NOT_FOUND",
        );
    }

    // The host and a participant see it but may not call the office's methods.
    for school in [host("s1"), host("s2")] {
        fx.get(&school, name).await.expect("sees it");
        refused(
            fx.programme(
                &school,
                name,
                "П",
                Date {
                    year: 2024,
                    month: 3,
                    day: 1,
                },
                "",
            )
            .await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
        refused(
            fx.add(&school, name, "s9", "").await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
        refused(
            fx.remove(&school, name, "s2", "").await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }
    // Only the host registers; a participant does not set or agree topics.
    refused(
        fx.register(&office("BG-22"), name, "").await,
        Code::PermissionDenied,
        "NOT_THE_HOST",
    );
    refused(
        fx.register(&host("s2"), name, "").await,
        Code::PermissionDenied,
        "NOT_THE_HOST",
    );
    refused(
        fx.agree(&host("s2"), name, &forum.etag).await,
        Code::PermissionDenied,
        "NOT_THE_HOST",
    );
    // The ministry reads, and only reads.
    assert_eq!(fx.get(&ministry(), name).await.expect("ministry"), forum);
    refused(
        fx.set_topics(&ministry(), name, topics(1), "").await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    refused(
        fx.add(&ministry(), name, "s9", "").await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    refused(
        fx.register(&ministry(), name, "").await,
        Code::PermissionDenied,
        "NOT_THE_HOST",
    );
}

#[tokio::test]
async fn lists_show_each_caller_the_forums_it_reads_oldest_first() {
    let fx = Fx::new().await;
    for (id, region) in [
        ("s1", "BG-22"),
        ("s2", "BG-22"),
        ("s3", "BG-22"),
        ("p1", "BG-16"),
    ] {
        fx.school(id, region).await;
    }
    let sofia = office("BG-22");
    let plovdiv = office("BG-16");
    let a = fx
        .create_at(&sofia, at("2023-11-01T10:00:00+02:00"), "BG-22", "a", "s1")
        .await
        .expect("a");
    let b = fx
        .create_at(
            &plovdiv,
            at("2023-11-02T10:00:00+02:00"),
            "BG-16",
            "b",
            "p1",
        )
        .await
        .expect("b");
    let c = fx
        .create_at(&sofia, at("2023-11-03T10:00:00+02:00"), "BG-22", "c", "s2")
        .await
        .expect("c");
    fx.register(&host("s2"), &c.name, "")
        .await
        .expect("c registered");
    let c = fx
        .add(&sofia, &c.name, "s3", "")
        .await
        .expect("s3 takes part in c");
    let names =
        |r: &pb::ListForumsResponse| r.forums.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    let list = |parent: &str| pb::ListForumsRequest {
        parent: parent.into(),
        ..Default::default()
    };

    // The ministry reads every region's, oldest first, a page at a time.
    let first = fx
        .list(
            &ministry(),
            pb::ListForumsRequest {
                page_size: 2,
                ..list("regions/-")
            },
        )
        .await
        .expect("first page");
    assert_eq!(names(&first), [a.name.clone(), b.name.clone()]);
    assert!(!first.next_page_token.is_empty());
    let second = fx
        .list(
            &ministry(),
            pb::ListForumsRequest {
                page_size: 2,
                page_token: first.next_page_token.clone(),
                ..list("regions/-")
            },
        )
        .await
        .expect("second page");
    assert_eq!(names(&second), [c.name.as_str()]);
    assert!(second.next_page_token.is_empty());
    // A token belongs to its query.
    refused(
        fx.list(
            &ministry(),
            pb::ListForumsRequest {
                page_size: 2,
                page_token: first.next_page_token.clone(),
                ..list("regions/BG-22")
            },
        )
        .await,
        Code::InvalidArgument,
        "PAGE_TOKEN_INVALID",
    );

    // An office reads its region's only, whatever it asks for.
    let own = fx.list(&sofia, list("regions/-")).await.expect("sofia");
    assert_eq!(names(&own), [a.name.clone(), c.name.clone()]);
    assert_eq!(
        names(&fx.list(&sofia, list("regions/BG-22")).await.expect("BG-22")),
        [a.name.clone(), c.name.clone()]
    );
    assert!(
        fx.list(&sofia, list("regions/BG-16"))
            .await
            .expect("BG-16")
            .forums
            .is_empty()
    );
    assert_eq!(
        names(&fx.list(&plovdiv, list("regions/-")).await.expect("plovdiv")),
        [b.name.as_str()]
    );

    // A school reads the forum it hosts and the ones it takes part in.
    assert_eq!(
        names(&fx.list(&host("s1"), list("regions/-")).await.expect("s1")),
        [a.name.as_str()]
    );
    assert_eq!(
        names(&fx.list(&host("s3"), list("regions/-")).await.expect("s3")),
        [c.name.as_str()]
    );

    // Filters: year, host school, state.
    assert_eq!(
        names(
            &fx.list(
                &ministry(),
                pb::ListForumsRequest {
                    host_school: "schools/p1".into(),
                    ..list("regions/-")
                },
            )
            .await
            .expect("by host")
        ),
        [b.name.as_str()]
    );
    assert_eq!(
        names(
            &fx.list(
                &ministry(),
                pb::ListForumsRequest {
                    state: pb::ForumState::Registered as i32,
                    year: YEAR.into(),
                    ..list("regions/-")
                },
            )
            .await
            .expect("registered")
        ),
        [c.name.as_str()]
    );
    assert!(
        fx.list(
            &ministry(),
            pb::ListForumsRequest {
                year: "years/2024-2025".into(),
                ..list("regions/-")
            },
        )
        .await
        .expect("other year")
        .forums
        .is_empty()
    );
    // A region that holds no forum lists none; a malformed parent is named.
    assert!(
        fx.list(&ministry(), list("regions/XX"))
            .await
            .expect("no such region")
            .forums
            .is_empty()
    );
    let malformed = refusal(fx.list(&ministry(), list("schools/s1")).await);
    assert_eq!(reason(&malformed), "INVALID_FIELDS");
    assert_eq!(bad_fields(&malformed), ["parent"]);
}

#[tokio::test]
async fn concurrent_changes_on_one_version_are_one_after_the_other() {
    let fx = Fx::new().await;
    for (id, region) in [("s1", "BG-22"), ("s2", "BG-22")] {
        fx.school(id, region).await;
    }

    // Two agreements with the same school at once: one forum.
    let (one, two) = tokio::join!(
        fx.create("BG-22", "one", "s1"),
        fx.create("BG-22", "two", "s1")
    );
    let (won, lost) = match (one, two) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        other => panic!("expected one forum, got {other:?}"),
    };
    assert_eq!(lost.code(), Code::AlreadyExists);
    assert_eq!(
        error_metadata(&lost, "forum").as_deref(),
        Some(won.name.as_str())
    );

    // The host changes the topics while the office agrees the version both read: the
    // forum's lock orders them, and the later one finds its version gone.
    let name = won.name.as_str();
    let registered = fx
        .register(&host("s1"), name, "")
        .await
        .expect("registered");
    let read = fx
        .set_topics(&host("s1"), name, topics(2), &registered.etag)
        .await
        .expect("topics");
    let office = office("BG-22");
    let school = host("s1");
    let (changed, agreed) = tokio::join!(
        fx.set_topics(&school, name, topics(3), &read.etag),
        fx.agree(&office, name, &read.etag)
    );
    match (changed, agreed) {
        (Ok(changed), Err(status)) => {
            assert_eq!(reason(&status), "ETAG_MISMATCH");
            assert!(!changed.office_agreed_topics);
        }
        (Err(status), Ok(agreed)) => {
            assert_eq!(reason(&status), "ETAG_MISMATCH");
            assert!(agreed.topics_final);
            assert_eq!(agreed.topics, topics(2));
        }
        other => panic!("expected exactly one change, got {other:?}"),
    }
}
