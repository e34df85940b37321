//! Reads of people in the audit trail: a participant read through the API, with the call
//! context the pipeline builds and runs the handler in, leaves one `READ` record naming the
//! participant, the reader, the RPC and the purpose the reader stated; a refused read leaves
//! none; a list leaves one per participant it shows.

use edu_kit::CallContext;
use edu_kit::auth::Caller;
use edu_mentoring::api::ParticipantsApi;
use edu_proto::edu::mentoring::v1 as pb;
use edu_proto::edu::mentoring::v1::participant_service_server::ParticipantService;

use crate::callers::{director, now, outsider};
use crate::common::{Fixture, INST, MENTOR, PUPIL, person};

const GET: &str = "/edu.mentoring.v1.ParticipantService/GetParticipant";
const LIST: &str = "/edu.mentoring.v1.ParticipantService/ListParticipants";

/// `body` from `who` as the pipeline hands it to the handler: the call's context in the
/// request, and the handler run inside it.
async fn call<T, R, F>(who: &Caller, rpc: &str, purpose: &str, body: T, handler: F) -> R
where
    F: AsyncFnOnce(tonic::Request<T>) -> R,
{
    let context = CallContext::new(Some(who.clone()), "audit-test", None, now())
        .with_rpc(rpc)
        .with_purpose(purpose);
    let mut request = tonic::Request::new(body);
    request.extensions_mut().insert(context.clone());
    context.scope(handler(request)).await
}

async fn reads(fx: &Fixture) -> Vec<(String, String, String, String, String)> {
    sqlx::query_as(
        "SELECT actor, action, resource, rpc, purpose FROM audit_log
         WHERE kind = 'READ' ORDER BY id",
    )
    .fetch_all(fx.db.pool())
    .await
    .expect("reads")
}

#[tokio::test]
async fn a_participant_read_is_recorded_with_its_rpc_and_purpose() {
    let fx = Fixture::new().await;
    person(&fx, "m1", MENTOR).await;
    person(&fx, "k1", PUPIL).await;
    let api = ParticipantsApi::new(fx.store.clone());
    let name = format!("institutions/{INST}/participants/m1");

    call(
        &director(),
        GET,
        "проверка заявки на наставничество",
        pb::GetParticipantRequest { name: name.clone() },
        async |r| api.get_participant(r).await,
    )
    .await
    .expect("read");
    assert_eq!(
        reads(&fx).await,
        vec![(
            "director".to_string(),
            "participant.read".to_string(),
            name.clone(),
            GET.to_string(),
            "проверка заявки на наставничество".to_string(),
        )]
    );

    // A refused read shows nothing and records nothing.
    call(
        &outsider(),
        GET,
        "",
        pb::GetParticipantRequest { name: name.clone() },
        async |r| api.get_participant(r).await,
    )
    .await
    .expect_err("not theirs");
    assert_eq!(reads(&fx).await.len(), 1);

    // A list records each participant it shows, without a purpose when none is stated.
    let listed = call(
        &director(),
        LIST,
        "",
        pb::ListParticipantsRequest {
            parent: format!("institutions/{INST}"),
            ..Default::default()
        },
        async |r| api.list_participants(r).await,
    )
    .await
    .expect("listed")
    .into_inner();
    assert_eq!(listed.participants.len(), 2);
    let recorded = reads(&fx).await;
    let shown: Vec<&str> = recorded[1..].iter().map(|r| r.2.as_str()).collect();
    let expected: Vec<String> = listed.participants.iter().map(|p| p.name.clone()).collect();
    assert_eq!(shown, expected);
    assert!(recorded[1..].iter().all(|r| r.3 == LIST && r.4.is_empty()));
}
