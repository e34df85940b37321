//! The remaining lists in keyset pages (petitions, monitoring rounds of an institution and
//! of a region, questionnaires, publications, practices), the contract's bounds on the
//! completion, signature and order dates, and the etags of activation and violations.

use std::collections::HashSet;

use edu_kit::paging::{Page, PageRequest};
use edu_kit::{ApiError, etag};
use edu_mentoring::domain::completion::{CompletionInitiator, CompletionReason};
use edu_mentoring::domain::consent::ActorKind;
use edu_mentoring::domain::monitoring::MonitoringSeason;
use edu_mentoring::domain::publication::PublicationKind;
use edu_mentoring::domain::{MentoringForm, PairType};
use edu_mentoring::store::Scope;
use edu_mentoring::store::agreements::{self, AgreementDraft, ViolationDraft};
use edu_mentoring::store::institutions::{self, InstitutionDraft};
use edu_mentoring::store::monitoring::{self, QuestionnaireFilter, RoundFilter};
use edu_mentoring::store::pairs::{self, CompletionDraft, DirectorOrder};
use edu_mentoring::store::petitions::{
    self, Decision, PetitionDraft, PetitionFilter, PetitionState,
};
use edu_mentoring::store::publications::{self, PublicationDraft, PublicationFilter};
use edu_mentoring::store::road_map::{self, Practice, PracticeFilter};
use jiff::Timestamp;
use jiff::civil::date;

use crate::common::*;

type Pair2 = (String, String);

/// Every page of a listing with ID cursors, each page's token bound to `query`: the IDs in
/// order and the first page's token.
async fn pages<T, F, Fut>(query: &[&str], size: i32, mut page: F) -> (Vec<String>, String)
where
    F: FnMut(usize, Option<String>) -> Fut,
    Fut: std::future::Future<Output = (Page<T, String>, Vec<String>)>,
{
    let mut ids = vec![];
    let mut token = String::new();
    let mut first_token = String::new();
    loop {
        let request = PageRequest::<String>::parse(size, &token, query).expect("token");
        let (got, page_ids) = page(request.size, request.after.clone()).await;
        assert!(got.items.len() <= request.size);
        ids.extend(page_ids);
        token = request.next_token(got.next.as_ref());
        if first_token.is_empty() {
            first_token = token.clone();
        }
        if token.is_empty() {
            break;
        }
    }
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no row twice: {ids:?}");
    (ids, first_token)
}

/// The same for listings across institutions, whose cursors are (institution, ID).
async fn pages2<T, F, Fut>(query: &[&str], size: i32, mut page: F) -> (Vec<String>, String)
where
    F: FnMut(usize, Option<Pair2>) -> Fut,
    Fut: std::future::Future<Output = (Page<T, Pair2>, Vec<String>)>,
{
    let mut names = vec![];
    let mut token = String::new();
    let mut first_token = String::new();
    loop {
        let request = PageRequest::<Pair2>::parse(size, &token, query).expect("token");
        let (got, page_names) = page(request.size, request.after.clone()).await;
        assert!(got.items.len() <= request.size);
        names.extend(page_names);
        token = request.next_token(got.next.as_ref());
        if first_token.is_empty() {
            first_token = token.clone();
        }
        if token.is_empty() {
            break;
        }
    }
    let unique: HashSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "no row twice: {names:?}");
    (names, first_token)
}

fn refused_elsewhere<C: serde_like::Cursor>(token: &str, other: &[&str]) {
    let refused = C::parse(token, other).expect_err("a token of another query");
    assert_eq!(refused.reason, "PAGE_TOKEN_INVALID");
}

/// Parsing a token with either cursor type, without naming serde here.
mod serde_like {
    use edu_kit::ApiError;
    use edu_kit::paging::PageRequest;

    pub trait Cursor {
        fn parse(token: &str, query: &[&str]) -> Result<(), ApiError>;
    }
    impl Cursor for String {
        fn parse(token: &str, query: &[&str]) -> Result<(), ApiError> {
            PageRequest::<String>::parse(2, token, query).map(|_| ())
        }
    }
    impl Cursor for super::Pair2 {
        fn parse(token: &str, query: &[&str]) -> Result<(), ApiError> {
            PageRequest::<super::Pair2>::parse(2, token, query).map(|_| ())
        }
    }
}

async fn institution(fx: &Fixture, id: &str, region: &str) {
    in_tx!(fx, |tx| institutions::create(
        &mut tx,
        &context(),
        &InstitutionDraft {
            id: id.into(),
            display_name: format!("Учреждение {id}"),
            short_name: id.into(),
            region_code: region.into(),
            time_zone: "Europe/Saratov".into(),
            regulation: "Положение о наставничестве".into(),
        },
    )
    .await)
    .expect("institution");
}

async fn round(fx: &Fixture, institution: &str, season: MonitoringSeason, year: i16) {
    in_tx!(fx, |tx| monitoring::create_round(
        &mut tx,
        &context(),
        institution,
        season,
        year,
        &[]
    )
    .await)
    .expect("round");
}

#[tokio::test]
async fn petitions_and_questionnaires_page_in_the_contracts_order() {
    let fx = Fixture::new().await;
    person(&fx, "m", MENTOR).await;
    for (i, kid) in ["k1", "k2", "k3"].iter().enumerate() {
        person(&fx, kid, PUPIL).await;
        let id = format!("p{}", i + 1);
        ready_pair(&fx, &id, "m", kid).await;
        activate(&fx, &id).await.expect("active");
    }
    round(&fx, INST, MonitoringSeason::December, 2025).await;
    for pair in ["p3", "p1", "p2"] {
        in_tx!(fx, |tx| petitions::create(
            &mut tx,
            &context(),
            INST,
            pair,
            &PetitionDraft {
                mentee: None,
                reason: "нет контакта с наставником".into(),
                filed_by: ActorKind::Guardian,
            }
        )
        .await)
        .expect("petition");
    }
    let mut conn = fx.store.read().await.expect("conn");
    let setting = institutions::setting(&mut conn, INST, context().now())
        .await
        .expect("setting");
    let everything: Vec<String> = petitions::list(&mut conn, &setting, None, None)
        .await
        .expect("all")
        .into_iter()
        .map(|p| p.id)
        .collect();
    drop(conn);

    // Every pair's petitions (`pairs/-`), oldest first, in pages of one and two.
    for size in [1, 2] {
        let query = [
            "ListReplacementPetitions",
            "institutions/mechta/pairs/-",
            "",
        ];
        let (ids, token) = pages(&query, size, |size, after| {
            let fx = &fx;
            async move {
                let mut conn = fx.store.read().await.expect("conn");
                let setting = institutions::setting(&mut conn, INST, context().now())
                    .await
                    .expect("setting");
                let page = petitions::list_page(
                    &mut conn,
                    &setting,
                    None,
                    &PetitionFilter::default(),
                    size,
                    after,
                )
                .await
                .expect("petitions");
                let ids = page.items.iter().map(|p| p.id.clone()).collect();
                (page, ids)
            }
        })
        .await;
        assert_eq!(ids, everything);
        refused_elsewhere::<String>(
            &token,
            &[
                "ListReplacementPetitions",
                "institutions/mechta/pairs/-",
                "PENDING",
            ],
        );
    }
    let mut conn = fx.store.read().await.expect("conn");
    let of_p2 = petitions::list_page(
        &mut conn,
        &setting,
        Some("p2"),
        &PetitionFilter {
            state: Some(PetitionState::Pending),
            ..PetitionFilter::default()
        },
        10,
        None,
    )
    .await
    .expect("p2's");
    assert_eq!(of_p2.items.len(), 1);
    assert!(of_p2.next.is_none());
    let of_k3 = petitions::list_page(
        &mut conn,
        &setting,
        None,
        &PetitionFilter {
            mentee: Some("k3".into()),
            ..PetitionFilter::default()
        },
        10,
        None,
    )
    .await
    .expect("k3's");
    assert_eq!(of_k3.items.len(), 1);
    assert!(of_k3.items[0].name.contains("/pairs/p3/"));
    let missing = petitions::list_page(
        &mut conn,
        &setting,
        Some("nope"),
        &PetitionFilter::default(),
        10,
        None,
    )
    .await
    .expect_err("no such pair");
    assert_eq!(reason(&missing), "NOT_FOUND");

    // The round's questionnaires: by pair, mentor first.
    let query = [
        "ListQuestionnaires",
        "institutions/mechta/monitoringRounds/2025-12",
    ];
    let (ids, token) = pages(&query, 4, |size, after| {
        let fx = &fx;
        async move {
            let mut conn = fx.store.read().await.expect("conn");
            let setting = institutions::setting(&mut conn, INST, context().now())
                .await
                .expect("setting");
            let page = monitoring::list_questionnaires_page(
                &mut conn,
                &setting,
                "2025-12",
                &QuestionnaireFilter::default(),
                size,
                after,
            )
            .await
            .expect("questionnaires");
            let ids = page
                .items
                .iter()
                .map(|q| format!("{}|{:?}|{}", q.pair, q.side, q.id))
                .collect();
            (page, ids)
        }
    })
    .await;
    let keys: Vec<String> = ids
        .iter()
        .map(|k| k.rsplit_once('|').expect("key").0.to_string())
        .collect();
    assert_eq!(
        keys,
        [
            "institutions/mechta/pairs/p1|Mentor",
            "institutions/mechta/pairs/p1|Mentee",
            "institutions/mechta/pairs/p2|Mentor",
            "institutions/mechta/pairs/p2|Mentee",
            "institutions/mechta/pairs/p3|Mentor",
            "institutions/mechta/pairs/p3|Mentee",
        ]
    );
    refused_elsewhere::<String>(
        &token,
        &[
            "ListQuestionnaires",
            "institutions/mechta/monitoringRounds/2025-05",
        ],
    );
    let of_p2 = monitoring::list_questionnaires_page(
        &mut conn,
        &setting,
        "2025-12",
        &QuestionnaireFilter {
            pair: Some("p2".into()),
            state: Some("SENT".into()),
            ..QuestionnaireFilter::default()
        },
        1,
        None,
    )
    .await
    .expect("p2's");
    assert_eq!(of_p2.items.len(), 1);
    assert!(of_p2.next.is_some());
    let of_k1 = monitoring::list_questionnaires_page(
        &mut conn,
        &setting,
        "2025-12",
        &QuestionnaireFilter {
            respondent: Some("k1".into()),
            ..QuestionnaireFilter::default()
        },
        10,
        None,
    )
    .await
    .expect("k1's");
    assert_eq!(of_k1.items.len(), 1);
    let missing = monitoring::list_questionnaires_page(
        &mut conn,
        &setting,
        "2024-05",
        &QuestionnaireFilter::default(),
        10,
        None,
    )
    .await
    .expect_err("no such round");
    assert_eq!(reason(&missing), "NOT_FOUND");
}

#[tokio::test]
async fn monitoring_rounds_page_for_an_institution_and_for_its_region() {
    let fx = Fixture::new().await;
    institution(&fx, "rassvet", "RU-SAR").await;
    institution(&fx, "moskva", "RU-MOW").await;
    for (season, year) in [
        (MonitoringSeason::May, 2025),
        (MonitoringSeason::December, 2025),
        (MonitoringSeason::May, 2026),
        (MonitoringSeason::December, 2026),
    ] {
        round(&fx, INST, season, year).await;
    }
    round(&fx, "rassvet", MonitoringSeason::December, 2025).await;
    round(&fx, "rassvet", MonitoringSeason::May, 2026).await;
    round(&fx, "moskva", MonitoringSeason::May, 2026).await;

    let list = |scope: Scope<'static>, filter: RoundFilter, now: Timestamp, size: i32| {
        let fx = &fx;
        let query = [
            "ListMonitoringRounds".to_string(),
            format!("{scope:?}"),
            format!("{filter:?}"),
        ];
        async move {
            let parts: Vec<&str> = query.iter().map(String::as_str).collect();
            pages2(&parts, size, |size, after| async move {
                let mut conn = fx.store.read().await.expect("conn");
                let page =
                    monitoring::list_rounds_page(&mut conn, scope, &filter, now, size, after)
                        .await
                        .expect("rounds");
                let names = page.items.iter().map(|r| r.name.clone()).collect();
                (page, names)
            })
            .await
        }
    };
    let now = context().now();
    let (names, _) = list(Scope::Institution(INST), RoundFilter::default(), now, 3).await;
    assert_eq!(
        names,
        [
            "institutions/mechta/monitoringRounds/2026-12",
            "institutions/mechta/monitoringRounds/2026-05",
            "institutions/mechta/monitoringRounds/2025-12",
            "institutions/mechta/monitoringRounds/2025-05",
        ]
    );
    let expected_region = [
        "institutions/mechta/monitoringRounds/2026-12",
        "institutions/mechta/monitoringRounds/2026-05",
        "institutions/rassvet/monitoringRounds/2026-05",
        "institutions/mechta/monitoringRounds/2025-12",
        "institutions/rassvet/monitoringRounds/2025-12",
        "institutions/mechta/monitoringRounds/2025-05",
    ];
    for size in [1, 2, 4, 50] {
        let (names, token) = list(Scope::Region("RU-SAR"), RoundFilter::default(), now, size).await;
        assert_eq!(names, expected_region, "pages of {size}");
        if size < 6 {
            refused_elsewhere::<Pair2>(
                &token,
                &[
                    "ListMonitoringRounds",
                    &format!("{:?}", Scope::Institution(INST)),
                    &format!("{:?}", RoundFilter::default()),
                ],
            );
        }
    }
    let of_2026 = RoundFilter {
        year: Some(2026),
        season: Some(MonitoringSeason::May),
        ..RoundFilter::default()
    };
    let (names, _) = list(Scope::Region("RU-SAR"), of_2026, now, 1).await;
    assert_eq!(
        names,
        [
            "institutions/mechta/monitoringRounds/2026-05",
            "institutions/rassvet/monitoringRounds/2026-05",
        ]
    );
    // On 10 January 2026 the rounds of 2025 are overdue, the others not yet due.
    let later: Timestamp = "2026-01-10T12:00:00+04:00".parse().expect("instant");
    let late = RoundFilter {
        late_only: true,
        ..RoundFilter::default()
    };
    for size in [1, 2] {
        let (names, _) = list(Scope::Region("RU-SAR"), late, later, size).await;
        assert_eq!(
            names,
            [
                "institutions/mechta/monitoringRounds/2025-12",
                "institutions/rassvet/monitoringRounds/2025-12",
                "institutions/mechta/monitoringRounds/2025-05",
            ]
        );
    }
    let submitted = RoundFilter {
        submitted: Some(true),
        ..RoundFilter::default()
    };
    let (names, _) = list(Scope::Region("RU-SAR"), submitted, now, 2).await;
    assert!(names.is_empty());
    let mut conn = fx.store.read().await.expect("conn");
    let missing = monitoring::list_rounds_page(
        &mut conn,
        Scope::Institution("nope"),
        &RoundFilter::default(),
        now,
        10,
        None,
    )
    .await
    .expect_err("no such institution");
    assert_eq!(reason(&missing), "NOT_FOUND");
}

#[tokio::test]
async fn publications_page_by_event_day_the_latest_first() {
    let fx = Fixture::new().await;
    let plan = |id: &str, kind: PublicationKind, day: Option<jiff::civil::Date>| PublicationDraft {
        id: id.into(),
        kind,
        title: "Слёт наставников".into(),
        event_title: "слёт".into(),
        event_date: day,
        channels: vec!["VK".into()],
        featured: vec![],
    };
    for draft in [
        plan("a", PublicationKind::PressRelease, Some(date(2025, 3, 10))),
        plan("b", PublicationKind::PostRelease, Some(date(2025, 4, 1))),
        plan("e", PublicationKind::Digest, None),
        plan("c", PublicationKind::Digest, None),
        plan("d", PublicationKind::Longread, Some(date(2025, 1, 20))),
    ] {
        in_tx!(fx, |tx| publications::create(
            &mut tx,
            &context(),
            INST,
            &draft
        )
        .await)
        .expect("planned");
    }
    let list = |filter: PublicationFilter, now: Timestamp, size: i32| {
        let fx = &fx;
        let query = ["ListPublications".to_string(), format!("{filter:?}")];
        async move {
            let parts: Vec<&str> = query.iter().map(String::as_str).collect();
            pages(&parts, size, |size, after| async move {
                let mut conn = fx.store.read().await.expect("conn");
                let setting = institutions::setting(&mut conn, INST, now)
                    .await
                    .expect("setting");
                let page = publications::list_page(&mut conn, &setting, &filter, now, size, after)
                    .await
                    .expect("publications");
                let ids = page.items.iter().map(|p| p.id.clone()).collect();
                (page, ids)
            })
            .await
        }
    };
    let now = context().now();
    for size in [1, 2, 3, 50] {
        let (ids, token) = list(PublicationFilter::default(), now, size).await;
        // b (1 April), a (10 March), c and e (planned 12 February, by ID), d (20 January).
        assert_eq!(ids, ["b", "a", "c", "e", "d"], "pages of {size}");
        if size < 5 {
            let other = format!(
                "{:?}",
                PublicationFilter {
                    late_only: true,
                    ..PublicationFilter::default()
                }
            );
            refused_elsewhere::<String>(&token, &["ListPublications", &other]);
        }
    }
    let digests = PublicationFilter {
        kind: Some(PublicationKind::Digest),
        ..PublicationFilter::default()
    };
    assert_eq!(list(digests, now, 1).await.0, ["c", "e"]);
    // At 00:00 of 12 March the press release (window 5–7 March) is overdue.
    let later: Timestamp = "2025-03-12T00:00:00+04:00".parse().expect("instant");
    let late = PublicationFilter {
        late_only: true,
        ..PublicationFilter::default()
    };
    for size in [1, 2] {
        assert_eq!(list(late, later, size).await.0, ["a"]);
    }
    let withdrawn = PublicationFilter {
        consent_withdrawn_only: true,
        ..PublicationFilter::default()
    };
    assert!(list(withdrawn, now, 2).await.0.is_empty());
}

#[tokio::test]
async fn practices_page_by_year_then_title_in_russian_order() {
    let fx = Fixture::new().await;
    institution(&fx, "rassvet", "RU-SAR").await;
    institution(&fx, "moskva", "RU-MOW").await;
    let practice = |id: &str, title: &str, year: i16| Practice {
        id: id.into(),
        name: String::new(),
        title: title.into(),
        summary: "Что сделано".into(),
        results: String::new(),
        form: Some(MentoringForm::ShortTerm),
        pair_type: None,
        year,
        materials_uri: String::new(),
        create_time: None,
    };
    for (institution, p) in [
        (INST, practice("yolka", "Ёлка", 2024)),
        (INST, practice("yakhta", "Яхта", 2024)),
        (INST, practice("beg", "Бег", 2023)),
        (INST, practice("azbuka", "Азбука", 2024)),
        ("rassvet", practice("vektor", "Вектор", 2024)),
        ("moskva", practice("zima", "Зима", 2024)),
    ] {
        in_tx!(fx, |tx| road_map::create_practice(
            &mut tx,
            &context(),
            institution,
            &p
        )
        .await)
        .expect("practice");
    }
    let list = |scope: Scope<'static>, filter: PracticeFilter, size: i32| {
        let fx = &fx;
        let query = [
            "ListPractices".to_string(),
            format!("{scope:?}"),
            format!("{filter:?}"),
        ];
        async move {
            let parts: Vec<&str> = query.iter().map(String::as_str).collect();
            pages2(&parts, size, |size, after| async move {
                let mut conn = fx.store.read().await.expect("conn");
                let page = road_map::list_practices_page(&mut conn, scope, &filter, size, after)
                    .await
                    .expect("practices");
                let names = page.items.iter().map(|p| p.name.clone()).collect();
                (page, names)
            })
            .await
        }
    };
    // Ё sorts after В in the `ru` collation (byte order would put it first).
    let expected = [
        "institutions/mechta/practices/azbuka",
        "institutions/rassvet/practices/vektor",
        "institutions/mechta/practices/yolka",
        "institutions/mechta/practices/yakhta",
        "institutions/mechta/practices/beg",
    ];
    for size in [1, 2, 50] {
        let (names, token) = list(Scope::Region("RU-SAR"), PracticeFilter::default(), size).await;
        assert_eq!(names, expected, "pages of {size}");
        if size < 5 {
            refused_elsewhere::<Pair2>(
                &token,
                &[
                    "ListPractices",
                    &format!("{:?}", Scope::Region("RU-MOW")),
                    &format!("{:?}", PracticeFilter::default()),
                ],
            );
        }
    }
    let (names, _) = list(Scope::Institution(INST), PracticeFilter::default(), 3).await;
    assert_eq!(names.len(), 4);
    assert!(names.iter().all(|n| n.starts_with("institutions/mechta/")));
    let of_2023 = PracticeFilter {
        year: Some(2023),
        ..PracticeFilter::default()
    };
    assert_eq!(
        list(Scope::Region("RU-SAR"), of_2023, 1).await.0,
        ["institutions/mechta/practices/beg"]
    );
    let reverse = PracticeFilter {
        form: Some(MentoringForm::Reverse),
        ..PracticeFilter::default()
    };
    assert!(list(Scope::Region("RU-SAR"), reverse, 1).await.0.is_empty());
}

fn invalid(error: &ApiError, field: &str) {
    assert_eq!(reason(error), "INVALID_FIELDS", "{error:?}");
    assert!(
        error.fields().iter().any(|f| f.field == field),
        "{field} named: {error:?}"
    );
}

fn completion(day: jiff::civil::Date) -> CompletionDraft {
    CompletionDraft {
        reason: CompletionReason::ValidReason,
        initiator: CompletionInitiator::Both,
        explanation: "переезд".into(),
        complete_date: day,
    }
}

#[tokio::test]
async fn completion_signature_and_order_dates_are_bounded() {
    let fx = Fixture::new().await;
    person(&fx, "m", MENTOR).await;
    for kid in ["k1", "k2", "k3", "k4"] {
        person(&fx, kid, PUPIL).await;
    }
    ready_pair(&fx, "p", "m", "k1").await;
    activate(&fx, "p").await.expect("active");
    let tomorrow = date(2025, 2, 13);
    let before_activation = date(2025, 2, 11);

    // CompletePair: not after today, not before the first activation (12 February).
    for day in [tomorrow, before_activation] {
        let refused = in_tx!(fx, |tx| pairs::complete(
            &mut tx,
            &context(),
            INST,
            "p",
            &completion(day),
            ""
        )
        .await)
        .expect_err("out of bounds");
        invalid(&refused, "completion.complete_date");
    }
    let done = in_tx!(fx, |tx| pairs::complete(
        &mut tx,
        &context(),
        INST,
        "p",
        &completion(TODAY),
        ""
    )
    .await)
    .expect("completed today");
    assert_eq!(done.state, edu_mentoring::domain::PairState::Completed);

    // One mentee leaving a group: the same bounds.
    pair(
        &fx,
        "g",
        PairType::CounsellorPupil,
        MentoringForm::Virtual,
        "m",
        &["k2", "k3"],
    )
    .await
    .expect("group");
    agreement(&fx, "g", date(2024, 9, 2), 12).await;
    order(&fx, "g").await.expect("order");
    activate(&fx, "g").await.expect("active");
    let mut leaving = completion(tomorrow);
    leaving.initiator = CompletionInitiator::Mentee;
    for day in [tomorrow, before_activation] {
        leaving.complete_date = day;
        let refused = in_tx!(fx, |tx| pairs::complete_mentee(
            &mut tx,
            &context(),
            INST,
            "g",
            "k2",
            &leaving,
            ""
        )
        .await)
        .expect_err("out of bounds");
        invalid(&refused, "completion.complete_date");
    }
    leaving.complete_date = TODAY;
    in_tx!(fx, |tx| pairs::complete_mentee(
        &mut tx,
        &context(),
        INST,
        "g",
        "k2",
        &leaving,
        ""
    )
    .await)
    .expect("k2 leaves today");

    // CreateAgreement: not before the pair was formed (1 September 2024), not after today.
    pair(
        &fx,
        "q",
        PairType::CounsellorPupil,
        MentoringForm::ShortTerm,
        "m",
        &["k4"],
    )
    .await
    .expect("pair");
    for day in [date(2024, 8, 31), tomorrow] {
        let refused = in_tx!(fx, |tx| agreements::create(
            &mut tx,
            &context(),
            INST,
            "q",
            &AgreementDraft {
                tasks: vec!["адаптация".into()],
                duration_months: 12,
                sign_date: day,
                representatives: vec![],
            },
        )
        .await)
        .expect_err("out of bounds");
        invalid(&refused, "agreement.sign_date");
    }
    agreement(&fx, "q", date(2024, 9, 1), 12).await;

    // The director's order: not dated after today.
    let refused = in_tx!(fx, |tx| pairs::record_order(
        &mut tx,
        &context(),
        INST,
        "q",
        &DirectorOrder {
            number: "18-н".into(),
            date: tomorrow,
        },
        ""
    )
    .await)
    .expect_err("dated tomorrow");
    invalid(&refused, "pair.order.order_date");

    // A grant's order: the same.
    let filed = in_tx!(fx, |tx| petitions::create(
        &mut tx,
        &context(),
        INST,
        "g",
        &PetitionDraft {
            mentee: Some("k3".into()),
            reason: "нет контакта".into(),
            filed_by: ActorKind::Staff,
        }
    )
    .await)
    .expect("petition");
    let refused = in_tx!(fx, |tx| petitions::decide(
        &mut tx,
        &context(),
        INST,
        "g",
        &filed.id,
        &Decision::Grant {
            new_mentor: "m".into(),
            order: DirectorOrder {
                number: "19-н".into(),
                date: tomorrow,
            },
        },
        ""
    )
    .await)
    .expect_err("dated tomorrow");
    invalid(&refused, "order.order_date");
}

#[tokio::test]
async fn activation_and_violations_refuse_a_stale_etag() {
    let fx = Fixture::new().await;
    person(&fx, "m", MENTOR).await;
    person(&fx, "kid", PUPIL).await;
    ready_pair(&fx, "p", "m", "kid").await;
    let ready = {
        let mut conn = fx.store.read().await.expect("conn");
        let setting = institutions::setting(&mut conn, INST, context().now())
            .await
            .expect("setting");
        pairs::get(&mut conn, &setting, "p").await.expect("pair")
    };
    let refused = in_tx!(fx, |tx| pairs::activate(
        &mut tx,
        &context(),
        INST,
        "p",
        &etag::of(ready.version - 1)
    )
    .await)
    .expect_err("stale");
    assert_eq!(reason(&refused), "ETAG_MISMATCH");
    assert_eq!(refused.kind, edu_kit::error::ErrorKind::Aborted);
    let active = in_tx!(fx, |tx| pairs::activate(
        &mut tx,
        &context(),
        INST,
        "p",
        &etag::of(ready.version)
    )
    .await)
    .expect("current etag");
    assert!(active.version > ready.version);

    let signed = {
        let mut conn = fx.store.read().await.expect("conn");
        let setting = institutions::setting(&mut conn, INST, context().now())
            .await
            .expect("setting");
        agreements::list(&mut conn, &setting, "p")
            .await
            .expect("agreements")
            .remove(0)
    };
    let violation = ViolationDraft {
        violator: "kid".into(),
        description: "пропуск встречи".into(),
        occur_date: TODAY,
    };
    let record = |etag: String| {
        let fx = &fx;
        let violation = violation.clone();
        let id = signed.id.clone();
        async move {
            in_tx!(fx, |tx| agreements::record_violation(
                &mut tx,
                &context(),
                INST,
                "p",
                &id,
                &violation,
                &etag
            )
            .await)
        }
    };
    let refused = record("\"999\"".into()).await.expect_err("stale");
    assert_eq!(reason(&refused), "ETAG_MISMATCH");
    let first = record(etag::of(signed.version)).await.expect("current");
    assert_eq!(first.version, signed.version + 1);
    assert_eq!(first.violations.len(), 1);
    // The recorded violation moved the version: the etag read before it is stale now.
    let refused = record(etag::of(signed.version))
        .await
        .expect_err("stale after the first");
    assert_eq!(reason(&refused), "ETAG_MISMATCH");
    record(etag::of(first.version)).await.expect("current");
}
