//! `ParticipantService.GetChildRecords`, the programme's part of the gateway's child view:
//! who finds a child by name and birth date (the director, the appointed curator, the
//! guardian of the ward, the pupil themselves), the one `NOT_FOUND` for everyone else and
//! for a redacted child, the order of the refusals (role, purpose, fields, lookup), the
//! pairs as ListPairs shows them, and the `READ` record with the stated purpose.

use edu_kit::CallContext;
use edu_kit::auth::Caller;
use edu_kit::testing::{bad_fields, reason};
use edu_mentoring::api::ParticipantsApi;
use edu_mentoring::domain::ParticipantRole;
use edu_mentoring::store::institutions::{self, InstitutionDraft};
use edu_mentoring::store::participants::{self, ParticipantDraft};
use edu_proto::edu::api::v1::{ChildIdentity, IdentityMatch};
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::participant_service_server::ParticipantService;
use edu_proto::google::r#type::Date as PbDate;
use jiff::civil::date;
use prost::Message;
use tonic::{Code, Status};

use crate::callers::{
    caller, curator, director, event_consumer, guardian, institution_scope, now, participant,
    regional_centre,
};
use crate::common::{
    Fixture, INST, MENTOR, PUPIL, activate, appoint, consent, context, in_tx, person, personal,
    ready_pair, revoke, who,
};

const RPC: &str = "/edu.mentoring.v1.ParticipantService/GetChildRecords";
const PURPOSE: &str = "сведения о программах ребёнка по запросу родителя";

/// Another institution of the region, where a namesake of `k1` born the same day takes part.
const OTHER: &str = "zarya";

fn name_of(institution: &str, id: &str) -> String {
    format!("institutions/{institution}/participants/{id}")
}

/// Who the fixtures' pupil `id` is (`Фамилия-{id} Тест Условный`, born 1 March 2012), spelt
/// as a parent might type it: other case, other order, extra spaces.
fn identity_of(id: &str) -> ChildIdentity {
    ChildIdentity {
        identity_document: "I-РУ 123456".into(),
        family_name: format!("  ФАМИЛИЯ-{}", id.to_uppercase()),
        given_name: "тест".into(),
        patronymic: "условный ".into(),
        birth_date: Some(PbDate {
            year: 2012,
            month: 3,
            day: 1,
        }),
    }
}

/// GetChildRecords by `who`, stating `purpose`, as the pipeline runs it: the call's context
/// (with this RPC and the purpose) in the request, and the handler run inside it, so that
/// reads are recorded.
async fn records(
    fx: &Fixture,
    who: &Caller,
    purpose: &str,
    identity: Option<ChildIdentity>,
) -> Result<pb::ChildRecords, Status> {
    let api = ParticipantsApi::new(fx.store.clone());
    let context = CallContext::new(
        Some(who.clone()),
        uuid::Uuid::new_v4().to_string(),
        None,
        now(),
    )
    .with_rpc(RPC)
    .with_purpose(purpose);
    let mut request = tonic::Request::new(pb::GetChildRecordsRequest { identity });
    request.extensions_mut().insert(context.clone());
    context
        .scope(api.get_child_records(request))
        .await
        .map(tonic::Response::into_inner)
}

async fn records_of(fx: &Fixture, who: &Caller, id: &str) -> Result<pb::ChildRecords, Status> {
    records(fx, who, PURPOSE, Some(identity_of(id))).await
}

#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, expected: &str) -> Status {
    match result {
        Ok(ok) => panic!("expected {code:?} {expected}, got {ok:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            assert_eq!(reason(&status), expected, "{status:?}");
            status
        }
    }
}

/// The participants the records show, by resource name.
fn shown(records: &pb::ChildRecords) -> Vec<String> {
    records
        .records
        .iter()
        .map(|r| {
            r.participant
                .as_ref()
                .map(|p| p.name.clone())
                .unwrap_or_default()
        })
        .collect()
}

/// The `READ` records: actor, action, resource, RPC, purpose.
async fn reads(fx: &Fixture) -> Vec<(String, String, String, String, String)> {
    sqlx::query_as(
        "SELECT actor, action, resource, rpc, purpose FROM audit_log
         WHERE kind = 'READ' ORDER BY id",
    )
    .fetch_all(fx.db.pool())
    .await
    .expect("reads")
}

/// A mentor `m1` with pupils `k1` (in the ACTIVE pair `p`) and `k2`, both born on 1 March
/// 2012, the same day.
async fn scene() -> Fixture {
    let fx = Fixture::new().await;
    person(&fx, "m1", MENTOR).await;
    person(&fx, "k1", PUPIL).await;
    person(&fx, "k2", PUPIL).await;
    ready_pair(&fx, "p", "m1", "k1").await;
    activate(&fx, "p").await.expect("active");
    fx
}

/// Registers the institution `zarya` with `k9`, a namesake of `k1` born the same day.
async fn namesake_elsewhere(fx: &Fixture) {
    in_tx!(fx, |tx| institutions::create(
        &mut tx,
        &context(),
        &InstitutionDraft {
            id: OTHER.into(),
            display_name: "МАУ ДОЛ «Заря»".into(),
            short_name: "Заря".into(),
            region_code: "RU-SAR".into(),
            time_zone: "Europe/Saratov".into(),
            regulation: "Положение о наставничестве".into(),
        },
    )
    .await)
    .expect("institution");
    in_tx!(fx, |tx| participants::create(
        &mut tx,
        &context(),
        OTHER,
        &ParticipantDraft {
            id: "k9".into(),
            role: ParticipantRole::Pupil,
            personal: personal("Фамилия-k1", date(2012, 3, 1)),
        },
        &consent(true),
    )
    .await)
    .expect("namesake");
}

#[tokio::test]
async fn a_guardian_gets_their_ward_with_the_pairs() {
    let fx = scene().await;
    let found = records_of(&fx, &guardian("k1"), "k1")
        .await
        .expect("the ward");

    assert_eq!(shown(&found), vec![name_of(INST, "k1")]);
    let record = &found.records[0];
    assert_eq!(record.matched_by, IdentityMatch::NameAndBirthDate as i32);
    let child = record.participant.as_ref().expect("participant");
    // As GetParticipant shows the ward to their guardian.
    assert_eq!(child.display_name, "Фамилия-k1 Тест Условный");
    assert!(child.minor);
    assert!(!child.redacted);
    assert_eq!(child.mentee_pair, format!("institutions/{INST}/pairs/p"));
    let pairs: Vec<&str> = record.pairs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(pairs, vec![format!("institutions/{INST}/pairs/p")]);
    let pair = &record.pairs[0];
    assert_eq!(pair.state, pb::PairState::Active as i32);
    assert_eq!(pair.goal, "адаптация в отряде");
    assert_eq!(
        pair.mentor_person.as_ref().map(|m| m.display_name.as_str()),
        Some("Фамилия-m1 Тест Условный")
    );
    assert_eq!(found.read_time, Some(edu_kit::wire::timestamp(now())));

    // `k2`, born the same day, is another child: the names are compared, not only the date.
    let other = records_of(&fx, &guardian("k2"), "k2")
        .await
        .expect("k2's ward");
    assert_eq!(shown(&other), vec![name_of(INST, "k2")]);
    assert!(other.records[0].pairs.is_empty());
}

#[tokio::test]
async fn a_guardian_of_another_ward_gets_the_same_not_found_as_for_no_child() {
    let fx = scene().await;
    let not_theirs = refused(
        records_of(&fx, &guardian("k2"), "k1").await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let mut nobody = identity_of("k1");
    nobody.family_name = "Несуществующая".into();
    let missing = refused(
        records(&fx, &guardian("k2"), PURPOSE, Some(nobody)).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let mut wrong_day = identity_of("k1");
    wrong_day.birth_date = Some(PbDate {
        year: 2012,
        month: 3,
        day: 2,
    });
    let other_day = refused(
        records(&fx, &director(), PURPOSE, Some(wrong_day)).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    for status in [&missing, &other_day] {
        assert_eq!(status.message(), not_theirs.message());
        assert_eq!(status.details(), not_theirs.details());
    }
    // The refusal names no personal value.
    let text = format!(
        "{} {}",
        not_theirs.message(),
        String::from_utf8_lossy(not_theirs.details())
    )
    .to_lowercase();
    assert!(!text.contains("фамилия"), "{text}");
    assert!(!text.contains("2012"), "{text}");
    assert!(
        reads(&fx).await.is_empty(),
        "nothing shown, nothing recorded"
    );
}

#[tokio::test]
async fn the_director_and_the_appointed_curator_get_the_child_in_their_institutions_only() {
    let fx = scene().await;
    person(&fx, "c1", who(ParticipantRole::Educator)).await;
    appoint(&fx, "c1").await;
    namesake_elsewhere(&fx).await;

    for staff in [director(), curator("c1")] {
        let found = records_of(&fx, &staff, "k1").await.expect("the child");
        // The namesake in «Заря» is outside their institution and never read.
        assert_eq!(shown(&found), vec![name_of(INST, "k1")]);
        assert_eq!(found.records[0].pairs.len(), 1);
    }
    // A curator the director did not appoint reads nobody: «Мечта» is left out.
    refused(
        records_of(&fx, &curator("someone"), "k1").await,
        Code::NotFound,
        "NOT_FOUND",
    );

    // A director of both institutions gets one record in each, by resource name.
    let both = caller(
        "director-both",
        &["mentoring.director"],
        &[&institution_scope(), &format!("institution:{OTHER}")],
    );
    let found = records_of(&fx, &both, "k1").await.expect("both");
    assert_eq!(
        shown(&found),
        vec![name_of(INST, "k1"), name_of(OTHER, "k9")]
    );
    assert!(
        found
            .records
            .iter()
            .all(|r| r.matched_by == IdentityMatch::NameAndBirthDate as i32)
    );
}

#[tokio::test]
async fn the_regional_centre_and_event_consumers_are_refused_before_any_lookup() {
    let fx = scene().await;
    for someone in [regional_centre("RU-SAR"), event_consumer()] {
        refused(
            records_of(&fx, &someone, "k1").await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
        // By the token alone: before the purpose and the fields are looked at.
        refused(
            records(&fx, &someone, "", None).await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }
    assert!(reads(&fx).await.is_empty());
}

#[tokio::test]
async fn a_pupil_signed_in_gets_their_own_records_and_no_one_else_s() {
    let fx = scene().await;
    let own = records_of(&fx, &participant("k1"), "k1")
        .await
        .expect("own");
    assert_eq!(shown(&own), vec![name_of(INST, "k1")]);
    assert_eq!(own.records[0].pairs.len(), 1);

    // Another pupil, and the mentor of the pair, do not read the child's record here.
    for someone in [participant("k2"), participant("m1")] {
        refused(
            records_of(&fx, &someone, "k1").await,
            Code::NotFound,
            "NOT_FOUND",
        );
    }
}

#[tokio::test]
async fn after_revoke_consent_the_child_is_not_found_to_anyone() {
    let fx = scene().await;
    let found = records_of(&fx, &guardian("k1"), "k1")
        .await
        .expect("the ward");
    let consent = found.records[0]
        .participant
        .as_ref()
        .map(|p| p.consent.clone())
        .expect("consent");

    // The guardian revokes the consent they gave.
    let api = ParticipantsApi::new(fx.store.clone());
    api.revoke_consent(crate::callers::request(
        &guardian("k1"),
        now(),
        pb::RevokeConsentRequest {
            name: consent,
            statement: "заявление об отзыве согласия".into(),
            etag: String::new(),
            request_id: String::new(),
        },
    ))
    .await
    .expect("revoked");

    for someone in [guardian("k1"), director(), participant("k1")] {
        refused(
            records_of(&fx, &someone, "k1").await,
            Code::NotFound,
            "NOT_FOUND",
        );
    }
}

#[tokio::test]
async fn a_pair_whose_other_member_is_redacted_comes_back_with_its_texts_redacted() {
    let fx = scene().await;
    revoke(&fx, "m1").await.expect("the mentor revoked");

    let found = records_of(&fx, &guardian("k1"), "k1")
        .await
        .expect("the ward");
    let record = &found.records[0];
    assert!(!record.participant.as_ref().expect("participant").redacted);
    let pair = &record.pairs[0];
    assert_eq!(pair.state, pb::PairState::Suspended as i32);
    assert!(pair.redacted);
    assert_eq!(pair.goal, "");
    let mentor = pair.mentor_person.as_ref().expect("mentor");
    assert!(mentor.redacted);
    assert_eq!(mentor.display_name, "");
    assert_eq!(mentor.participant, name_of(INST, "m1"));
    let bytes = found.encode_to_vec();
    assert!(
        !String::from_utf8_lossy(&bytes).contains("Фамилия-m1"),
        "{found:?}"
    );
}

#[tokio::test]
async fn no_purpose_is_refused_naming_the_header_and_nothing_is_recorded() {
    let fx = scene().await;
    for purpose in ["", "   "] {
        let status = refused(
            records(&fx, &director(), purpose, Some(identity_of("k1"))).await,
            Code::InvalidArgument,
            "INVALID_FIELDS",
        );
        assert_eq!(bad_fields(&status), vec!["x-edu-purpose"]);
        // The purpose comes before the fields.
        let status = refused(
            records(&fx, &director(), purpose, None).await,
            Code::InvalidArgument,
            "INVALID_FIELDS",
        );
        assert_eq!(bad_fields(&status), vec!["x-edu-purpose"]);
    }
    assert!(reads(&fx).await.is_empty());
}

#[tokio::test]
async fn the_names_and_the_birth_date_are_required_and_the_document_is_ignored() {
    let fx = scene().await;
    let status = refused(
        records(&fx, &director(), PURPOSE, None).await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    assert_eq!(bad_fields(&status), vec!["identity"]);

    let blank = ChildIdentity {
        identity_document: "I-РУ 123456".into(),
        family_name: " ".into(),
        given_name: String::new(),
        patronymic: "Условный".into(),
        birth_date: Some(PbDate {
            year: 2012,
            month: 2,
            day: 30,
        }),
    };
    let status = refused(
        records(&fx, &director(), PURPOSE, Some(blank)).await,
        Code::InvalidArgument,
        "INVALID_FIELDS",
    );
    assert_eq!(
        bad_fields(&status),
        vec![
            "identity.family_name",
            "identity.given_name",
            "identity.birth_date"
        ]
    );
    // No value is echoed.
    let text = format!(
        "{} {}",
        status.message(),
        String::from_utf8_lossy(status.details())
    );
    assert!(!text.contains("Условный"), "{text}");

    // Without a document, or with any other, the child is found the same.
    let mut without = identity_of("k1");
    without.identity_document = String::new();
    let found = records(&fx, &director(), PURPOSE, Some(without))
        .await
        .expect("found");
    assert_eq!(shown(&found), vec![name_of(INST, "k1")]);
}

#[tokio::test]
async fn a_participant_read_is_recorded_with_the_rpc_and_the_purpose() {
    let fx = scene().await;
    records_of(&fx, &guardian("k1"), "k1")
        .await
        .expect("the ward");
    assert_eq!(
        reads(&fx).await,
        vec![(
            "parent-k1".to_string(),
            "participant.read".to_string(),
            name_of(INST, "k1"),
            RPC.to_string(),
            PURPOSE.to_string(),
        )]
    );
}
