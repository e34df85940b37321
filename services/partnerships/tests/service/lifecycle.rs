//! What happens around a signature: proposals it makes impossible lapse with the reason a
//! late signature would get, the innovative school chooses among several interested
//! schools, withdrawals of contracts, applications and interests, the List frozen for
//! schools in contracts, retries that count once, and the events recorded with the change.

use edu_kit::testing::{error_metadata, reason};
use edu_proto::edu::partnerships::v1 as pb;
use edu_proto::edu::partnerships::v1::application_service_server::ApplicationService;
use edu_proto::edu::partnerships::v1::contract_service_server::ContractService;
use edu_proto::edu::partnerships::v1::school_service_server::SchoolService;

use crate::common::*;

async fn withdraw_contract(
    fx: &Fixture,
    who: &str,
    name: &str,
) -> Result<pb::Contract, tonic::Status> {
    fx.contracts
        .withdraw_contract(request(
            &school(who),
            in_window(),
            pb::WithdrawContractRequest {
                name: name.into(),
                reason: "Передумали.".into(),
                etag: String::new(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

async fn contract(fx: &Fixture, name: &str) -> pb::Contract {
    fx.contracts
        .get_contract(request(
            &ministry(),
            in_window(),
            pb::GetContractRequest { name: name.into() },
        ))
        .await
        .expect("contract")
        .into_inner()
}

#[tokio::test]
async fn a_signature_lapses_the_proposals_it_makes_impossible() {
    let fx = Fixture::new().await;
    fx.year(300, 300).await;
    for id in ["a", "b", "c"] {
        fx.innovative(id, "BG-22").await;
        fx.apply(id).await;
    }
    for id in ["n1", "n2"] {
        fx.school(id, "BG-22").await;
        fx.apply(id).await;
        fx.interest(id, "a")
            .await
            .expect("interest in a's innovation");
    }
    let ab = fx.propose("a", "b", None).await.expect("a to b");
    let ca = fx.propose("c", "a", None).await.expect("c to a");
    let n1 = fx.propose("n1", "a", Some("a")).await.expect("n1 to a");
    let n2 = fx.propose("n2", "a", Some("a")).await.expect("n2 to a");

    fx.sign("b", &ab.name).await.expect("b signs");
    let lapsed = contract(&fx, &ca.name).await;
    assert_eq!(lapsed.state, pb::ContractState::Lapsed as i32);
    assert_eq!(lapsed.lapse_reason, "ALREADY_HAS_INNOVATIVE_PARTNER");
    assert_eq!(lapsed.superseded_by, ab.name);
    let late = fx.sign("a", &ca.name).await.expect_err("lapsed");
    assert_eq!(reason(&late), "ALREADY_HAS_INNOVATIVE_PARTNER");
    assert_eq!(
        error_metadata(&late, "contract").as_deref(),
        Some(ab.name.as_str())
    );

    // a chooses n2 among the two interested schools; n1's proposal lapses.
    fx.sign("a", &n2.name).await.expect("a chooses n2");
    let n1_now = contract(&fx, &n1.name).await;
    assert_eq!(n1_now.lapse_reason, "ALREADY_HAS_NON_INNOVATIVE_PARTNER");
    let again = withdraw_contract(&fx, "n1", &n1.name)
        .await
        .expect_err("lapsed");
    assert_eq!(reason(&again), "CONTRACT_NOT_PROPOSED");
    assert_eq!(error_metadata(&again, "state").as_deref(), Some("LAPSED"));
    let signed = withdraw_contract(&fx, "a", &n2.name)
        .await
        .expect_err("signed");
    assert_eq!(reason(&signed), "CONTRACT_NOT_PROPOSED");

    // Each signature recorded its event in its own transaction.
    assert_eq!(
        fx.count(
            "SELECT count(*) FROM partnerships.event_outbox WHERE event_type = 'CONTRACT_SIGNED'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn withdrawals_follow_the_contract_and_the_application_takes_its_proposals_with_it() {
    let fx = Fixture::new().await;
    fx.year(300, 300).await;
    for id in ["a", "b"] {
        fx.innovative(id, "BG-22").await;
        fx.apply(id).await;
    }
    fx.school("n", "BG-16").await;
    let n_application = fx.apply("n").await;
    let interest = fx.interest("n", "a").await.expect("interest");

    let ab = fx.propose("a", "b", None).await.expect("a to b");
    let withdrawn = withdraw_contract(&fx, "b", &ab.name)
        .await
        .expect("either school withdraws");
    assert_eq!(withdrawn.state, pb::ContractState::Withdrawn as i32);
    assert_eq!(withdrawn.withdrawn_by, "schools/b");
    withdraw_contract(&fx, "b", &ab.name)
        .await
        .expect("withdrawing twice is harmless");
    let stranger = withdraw_contract(&fx, "n", &ab.name)
        .await
        .expect_err("not a party");
    assert_eq!(stranger.code(), tonic::Code::NotFound);
    // Withdrawn, the two may propose again.
    fx.propose("b", "a", None).await.expect("a new proposal");

    let na = fx.propose("n", "a", Some("a")).await.expect("n to a");
    let in_use = fx
        .applications
        .withdraw_interest(request(
            &school("n"),
            in_window(),
            pb::WithdrawInterestRequest {
                name: interest.name.clone(),
                etag: String::new(),
            },
        ))
        .await
        .expect_err("a contract rests on it");
    assert_eq!(reason(&in_use), "INTEREST_IN_USE");

    let listed = fx
        .schools
        .add_school_to_innovative_list(request(
            &ministry(),
            in_window(),
            pb::AddSchoolToInnovativeListRequest {
                name: "schools/n".into(),
                basis: "РМС".into(),
                etag: String::new(),
            },
        ))
        .await
        .expect_err("n is in an open contract");
    assert_eq!(reason(&listed), "SCHOOL_IN_CONTRACT");

    let out = fx
        .applications
        .withdraw_application(request(
            &school("n"),
            in_window(),
            pb::WithdrawApplicationRequest {
                name: n_application.name.clone(),
                etag: n_application.etag.clone(),
            },
        ))
        .await
        .expect("n withdraws")
        .into_inner();
    assert_eq!(out.state, pb::ApplicationState::Withdrawn as i32);
    let lapsed = contract(&fx, &na.name).await;
    assert_eq!(lapsed.lapse_reason, "NOT_APPLIED");
    let withdrawn_interest = fx
        .applications
        .get_interest(request(
            &school("a"),
            in_window(),
            pb::GetInterestRequest {
                name: interest.name,
            },
        ))
        .await
        .expect("a reads interests in its innovation")
        .into_inner();
    assert_eq!(
        withdrawn_interest.state,
        pb::InterestState::Withdrawn as i32
    );
    // Withdrawn, the school may apply again within the window.
    fx.apply("n").await;

    let ba = fx
        .contracts
        .list_contracts(request(
            &school("a"),
            in_window(),
            pb::ListContractsRequest {
                parent: YEAR.into(),
                state: pb::ContractState::Proposed as i32,
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner()
        .contracts;
    assert_eq!(ba.len(), 1);
    fx.sign("a", &ba[0].name).await.expect("signed");
    let a_application = fx
        .applications
        .list_applications(request(
            &school("a"),
            in_window(),
            pb::ListApplicationsRequest {
                parent: YEAR.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("a's applications")
        .into_inner()
        .applications;
    assert_eq!(a_application.len(), 1, "a school lists only its own");
    let bound = fx
        .applications
        .withdraw_application(request(
            &school("a"),
            in_window(),
            pb::WithdrawApplicationRequest {
                name: a_application[0].name.clone(),
                etag: String::new(),
            },
        ))
        .await
        .expect_err("a signed");
    assert_eq!(reason(&bound), "SCHOOL_HAS_SIGNED_CONTRACT");
}

#[tokio::test]
async fn a_signature_retried_counts_once_and_none_is_accepted_after_the_window() {
    let fx = Fixture::new().await;
    fx.year(300, 300).await;
    for id in ["a", "b", "c", "d"] {
        fx.innovative(id, "BG-22").await;
        fx.apply(id).await;
    }
    let ab = fx.propose("a", "b", None).await.expect("a to b");
    let sign = |request_id: &str, now| {
        fx.contracts.sign_contract(request(
            &school("b"),
            now,
            pb::SignContractRequest {
                name: ab.name.clone(),
                etag: String::new(),
                request_id: request_id.into(),
            },
        ))
    };
    let first = sign("retry-1", in_window())
        .await
        .expect("signed")
        .into_inner();
    let retry = sign("retry-1", in_window())
        .await
        .expect("the retry")
        .into_inner();
    assert_eq!(first, retry);
    assert_eq!(
        fx.count("SELECT innovative_contracted::bigint FROM partnerships.years")
            .await,
        2
    );
    let no_id = sign("", in_window())
        .await
        .expect_err("a request ID is required");
    assert_eq!(reason(&no_id), "INVALID_FIELDS");

    let cd = fx.propose("c", "d", None).await.expect("c to d");
    let late = fx
        .sign_at("d", &cd.name, at("2023-10-22T00:00:00+03:00"))
        .await
        .expect_err("after the window");
    assert_eq!(reason(&late), "WINDOW_CLOSED");
    fx.sign_at("d", &cd.name, at("2023-10-21T23:59:59+03:00"))
        .await
        .expect("the last second of the window");
}
