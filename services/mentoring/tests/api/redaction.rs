//! Issue 16, point 2, across the whole API: once a pupil's consent is revoked, their name and
//! their guardian's appear in no answer of any RPC that returns people or texts about them —
//! participants, consents, a child's records, pairs, petitions, agreements, plans, meetings, questionnaires,
//! pair results, publications, the yearly report and its CSV, the region summary — while the
//! figures still count them. Each answer is encoded as it would go on the wire and searched
//! for the names, so a field added later cannot leak them unnoticed.

use edu_kit::CallContext;
use edu_kit::auth::Caller;
use edu_mentoring::api::{
    AgreementsApi, InstitutionsApi, MonitoringApi, PairsApi, ParticipantsApi, PlansApi,
    PublicationsApi, ReportsApi,
};
use edu_proto::edu::api::v1::ChildIdentity;
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::agreement_service_server::AgreementService;
use edu_proto::edu::mentoring::v1::institution_service_server::InstitutionService;
use edu_proto::edu::mentoring::v1::monitoring_service_server::MonitoringService;
use edu_proto::edu::mentoring::v1::pair_service_server::PairService;
use edu_proto::edu::mentoring::v1::participant_service_server::ParticipantService;
use edu_proto::edu::mentoring::v1::plan_service_server::PlanService;
use edu_proto::edu::mentoring::v1::publication_service_server::PublicationService;
use edu_proto::edu::mentoring::v1::report_service_server::ReportService;
use futures::StreamExt;
use jiff::civil::{Date, date};
use prost::Message;

use crate::callers::{at, director, guardian, now, regional_centre, request};
use crate::common::{Fixture, INST, MENTOR, PUPIL, activate, person, ready_pair, revoke};

/// The pupil's family name (the fixtures name everyone `Фамилия-{id}`).
const PUPIL_NAME: &str = "Фамилия-kid";
/// The family name of the pupil's parent, who gave the consent.
const GUARDIAN_NAME: &str = "Родителева";

/// An hour after the scene: the yearly report counts what happened before the instant read.
fn later() -> jiff::Timestamp {
    at("2025-02-12T11:00:00+04:00")
}

fn institution() -> String {
    format!("institutions/{INST}")
}

fn pair() -> String {
    format!("{}/pairs/p", institution())
}

/// Fails when the encoded answer `what` names the pupil or their parent.
fn assert_names_nobody(what: &str, answer: &(impl Message + std::fmt::Debug)) {
    let bytes = answer.encode_to_vec();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains(PUPIL_NAME),
        "{what} names the pupil: {answer:?}"
    );
    assert!(
        !text.contains(GUARDIAN_NAME),
        "{what} names the parent: {answer:?}"
    );
}

/// GetChildRecords by `who` for the fixtures' person with family name `family` (`Тест
/// Условный`) born on `birth`, with a stated purpose.
async fn child_records(
    api: &ParticipantsApi,
    who: &Caller,
    family: &str,
    birth: Date,
) -> Result<tonic::Response<pb::ChildRecords>, tonic::Status> {
    let mut call = request(
        who,
        now(),
        pb::GetChildRecordsRequest {
            identity: Some(ChildIdentity {
                family_name: family.into(),
                given_name: "Тест".into(),
                patronymic: "Условный".into(),
                birth_date: Some(edu_kit::wire::date(birth)),
                ..Default::default()
            }),
        },
    );
    call.extensions_mut().insert(
        CallContext::new(Some(who.clone()), "redaction", None, now())
            .with_purpose("проверка отзыва согласия"),
    );
    api.get_child_records(call).await
}

#[tokio::test]
async fn after_a_revocation_no_answer_of_any_rpc_names_the_person_or_their_guardian() {
    let fx = Fixture::new().await;
    person(&fx, "mentor", MENTOR).await;
    person(&fx, "kid", PUPIL).await;
    ready_pair(&fx, "p", "mentor", "kid").await;
    activate(&fx, "p").await.expect("active");
    let director = director();

    // Texts about the pupil, written while their consent was in force: a plan activity, a
    // meeting's notes, their parent's petition, a press release featuring them, and the
    // questionnaires of a monitoring round.
    let plans = PlansApi::new(fx.store.clone());
    plans
        .create_plan_activity(request(
            &director,
            now(),
            pb::CreatePlanActivityRequest {
                parent: pair(),
                plan_activity: Some(pb::PlanActivity {
                    title: format!("Выступление: {PUPIL_NAME}"),
                    description: format!("{PUPIL_NAME} готовит номер к закрытию смены"),
                    due_date: Some(edu_kit::wire::date(jiff::civil::date(2025, 3, 1))),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("a plan activity");
    plans
        .create_meeting(request(
            &director,
            now(),
            pb::CreateMeetingRequest {
                parent: pair(),
                meeting: Some(pb::Meeting {
                    meet_date: Some(edu_kit::wire::date(jiff::civil::date(2025, 2, 12))),
                    duration_minutes: 40,
                    format: pb::MeetingFormat::InPerson as i32,
                    topic: format!("Разговор с {PUPIL_NAME}"),
                    notes: format!("{PUPIL_NAME} скучает по дому"),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("a meeting");
    let pairs = PairsApi::new(fx.store.clone());
    pairs
        .create_replacement_petition(request(
            &guardian("kid"),
            now(),
            pb::CreateReplacementPetitionRequest {
                parent: pair(),
                replacement_petition: Some(pb::ReplacementPetition {
                    reason: format!("{GUARDIAN_NAME}: ребёнку нужен другой наставник"),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("a petition");
    let publications = PublicationsApi::new(fx.store.clone());
    publications
        .create_publication(request(
            &director,
            now(),
            pb::CreatePublicationRequest {
                parent: institution(),
                publication: Some(pb::Publication {
                    kind: pb::PublicationKind::PressRelease as i32,
                    title: format!("{PUPIL_NAME} — лучший юный экскурсовод"),
                    event_title: "Слёт наставников".into(),
                    event_date: Some(edu_kit::wire::date(jiff::civil::date(2025, 3, 20))),
                    channels: vec![pb::PublicationChannel::Website as i32],
                    featured_participants: vec![format!("{}/participants/kid", institution())],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("a publication");
    let monitoring = MonitoringApi::new(fx.store.clone());
    let round = monitoring
        .create_monitoring_round(request(
            &director,
            now(),
            pb::CreateMonitoringRoundRequest {
                parent: institution(),
                monitoring_round: Some(pb::MonitoringRound {
                    season: pb::MonitoringSeason::May as i32,
                    year: 2025,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("a round")
        .into_inner();

    revoke(&fx, "kid").await.expect("revoked");

    let participants = ParticipantsApi::new(fx.store.clone());
    let kid = format!("{}/participants/kid", institution());
    let shown = participants
        .get_participant(request(
            &director,
            now(),
            pb::GetParticipantRequest { name: kid.clone() },
        ))
        .await
        .expect("the pupil")
        .into_inner();
    assert!(shown.redacted);
    assert_names_nobody("GetParticipant", &shown);
    assert_names_nobody(
        "ListParticipants",
        &participants
            .list_participants(request(
                &director,
                now(),
                pb::ListParticipantsRequest {
                    parent: institution(),
                    ..Default::default()
                },
            ))
            .await
            .expect("participants")
            .into_inner(),
    );
    assert_names_nobody(
        "ListConsents",
        &participants
            .list_consents(request(
                &director,
                now(),
                pb::ListConsentsRequest {
                    parent: kid.clone(),
                    ..Default::default()
                },
            ))
            .await
            .expect("consents")
            .into_inner(),
    );

    // A child's records: the redacted pupil matches nobody's lookup, and the mentor's
    // records show their pair with the pupil redacted.
    let refused = child_records(&participants, &director, PUPIL_NAME, date(2012, 3, 1))
        .await
        .expect_err("a redacted pupil matches nobody");
    assert_eq!(refused.code(), tonic::Code::NotFound);
    assert!(!refused.message().contains(PUPIL_NAME));
    let mentor_records =
        child_records(&participants, &director, "Фамилия-mentor", date(1995, 5, 5))
            .await
            .expect("the mentor's records")
            .into_inner();
    assert!(mentor_records.records[0].pairs[0].redacted);
    assert_names_nobody("GetChildRecords", &mentor_records);

    let shown_pair = pairs
        .get_pair(request(
            &director,
            now(),
            pb::GetPairRequest { name: pair() },
        ))
        .await
        .expect("the pair")
        .into_inner();
    assert_eq!(shown_pair.state, pb::PairState::Suspended as i32);
    assert_names_nobody("GetPair", &shown_pair);
    assert_names_nobody(
        "ListPairs",
        &pairs
            .list_pairs(request(
                &director,
                now(),
                pb::ListPairsRequest {
                    parent: institution(),
                    ..Default::default()
                },
            ))
            .await
            .expect("pairs")
            .into_inner(),
    );
    assert_names_nobody(
        "ListReplacementPetitions",
        &pairs
            .list_replacement_petitions(request(
                &director,
                now(),
                pb::ListReplacementPetitionsRequest {
                    parent: pair(),
                    ..Default::default()
                },
            ))
            .await
            .expect("petitions")
            .into_inner(),
    );
    assert_names_nobody(
        "ListAgreements",
        &AgreementsApi::new(fx.store.clone())
            .list_agreements(request(
                &director,
                now(),
                pb::ListAgreementsRequest {
                    parent: pair(),
                    ..Default::default()
                },
            ))
            .await
            .expect("agreements")
            .into_inner(),
    );
    assert_names_nobody(
        "ListPlanActivities",
        &plans
            .list_plan_activities(request(
                &director,
                now(),
                pb::ListPlanActivitiesRequest {
                    parent: pair(),
                    ..Default::default()
                },
            ))
            .await
            .expect("plan")
            .into_inner(),
    );
    assert_names_nobody(
        "ListMeetings",
        &plans
            .list_meetings(request(
                &director,
                now(),
                pb::ListMeetingsRequest {
                    parent: pair(),
                    ..Default::default()
                },
            ))
            .await
            .expect("meetings")
            .into_inner(),
    );
    assert_names_nobody(
        "ListQuestionnaires",
        &monitoring
            .list_questionnaires(request(
                &director,
                now(),
                pb::ListQuestionnairesRequest {
                    parent: round.name.clone(),
                    ..Default::default()
                },
            ))
            .await
            .expect("questionnaires")
            .into_inner(),
    );
    assert_names_nobody(
        "ListPairResults",
        &monitoring
            .list_pair_results(request(
                &director,
                now(),
                pb::ListPairResultsRequest {
                    parent: round.name.clone(),
                    ..Default::default()
                },
            ))
            .await
            .expect("pair results")
            .into_inner(),
    );
    assert_names_nobody(
        "ListMonitoringRounds",
        &monitoring
            .list_monitoring_rounds(request(
                &director,
                now(),
                pb::ListMonitoringRoundsRequest {
                    parent: institution(),
                    ..Default::default()
                },
            ))
            .await
            .expect("rounds")
            .into_inner(),
    );
    let media = publications
        .list_publications(request(
            &director,
            now(),
            pb::ListPublicationsRequest {
                parent: institution(),
                ..Default::default()
            },
        ))
        .await
        .expect("publications")
        .into_inner();
    assert!(media.publications.iter().all(|p| p.consent_withdrawn));
    assert_names_nobody("ListPublications", &media);

    // The figures still count the pupil, and name nobody.
    let reports = ReportsApi::new(fx.store.clone());
    let report_name = format!("{}/yearlyReports/2025", institution());
    let report = reports
        .get_yearly_report(request(
            &director,
            later(),
            pb::GetYearlyReportRequest {
                name: report_name.clone(),
            },
        ))
        .await
        .expect("the yearly report")
        .into_inner();
    assert_eq!(report.figures.as_ref().map(|f| f.mentees), Some(1));
    assert_names_nobody("GetYearlyReport", &report);
    let mut chunks = reports
        .export_yearly_report(request(
            &director,
            now(),
            pb::ExportYearlyReportRequest { name: report_name },
        ))
        .await
        .expect("the CSV")
        .into_inner();
    while let Some(chunk) = chunks.next().await {
        assert_names_nobody("ExportYearlyReport", &chunk.expect("a chunk"));
    }
    assert_names_nobody(
        "GetRegionSummary",
        &reports
            .get_region_summary(request(
                &regional_centre("RU-SAR"),
                now(),
                pb::GetRegionSummaryRequest {
                    region_code: "RU-SAR".into(),
                },
            ))
            .await
            .expect("the region summary")
            .into_inner(),
    );
    assert_names_nobody(
        "GetInstitution",
        &InstitutionsApi::new(fx.store.clone())
            .get_institution(request(
                &director,
                now(),
                pb::GetInstitutionRequest {
                    name: institution(),
                },
            ))
            .await
            .expect("the institution")
            .into_inner(),
    );
}
