//! The SDK example: as a competitions organiser, drafts a contest through the gateway, reads
//! it back, tries to open it after its deadline under the development clock (refused,
//! `DEADLINE_PASSED`), opens it before the deadline, and creates it a second time (refused,
//! `ALREADY_EXISTS`). Prints each step; exits non-zero when anything is not as expected.
//!
//! ```sh
//! export EDU_GATEWAY=127.0.0.1:50051
//! export EDU_TOKEN=$(cargo suite token --role competitions.organiser --subject me)
//! cargo run -p edu-client --example contest
//! ```
//!
//! The end-to-end test (`tests/suite/sdk.rs`) runs this very `run` against a live suite.

#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use edu_client::competitions::v1::contest_service_client::ContestServiceClient;
use edu_client::competitions::v1::{
    Contest, ContestState, CreateContestRequest, GetContestRequest, Nomination, OpenContestRequest,
    TeamLevel,
};
use edu_client::google::r#type::Date;
use edu_client::{Gateway, Refusal, at_instant};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The development clock of the example: ten days before the draft's deadline.
const BEFORE_DEADLINE: &str = "2030-01-21T10:00:00+03:00";
/// Five days after it.
const AFTER_DEADLINE: &str = "2030-02-05T10:00:00+03:00";

#[tokio::main]
async fn main() -> ExitCode {
    let gateway =
        std::env::var("EDU_GATEWAY").unwrap_or_else(|_| edu_client::LOCAL_GATEWAY.to_string());
    let Ok(token) = std::env::var("EDU_TOKEN") else {
        eprintln!(
            "set EDU_TOKEN to a token of the role competitions.organiser, e.g. \
             $(cargo suite token --role competitions.organiser --subject me)"
        );
        return ExitCode::from(2);
    };
    match run(&gateway, &token, |line| println!("{line}")).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("contest example failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the example against the gateway at `gateway` with an organiser's `token`, telling
/// each step to `say`.
pub async fn run(gateway: &str, token: &str, mut say: impl FnMut(&str)) -> Result<(), Error> {
    // One connection; every call carries the token and the development clock.
    let gateway = Gateway::connect(gateway)
        .await?
        .with_token(token)?
        .at_instant(BEFORE_DEADLINE)?;
    let mut contests = ContestServiceClient::new(gateway.channel());

    let id = format!(
        "sdk-rust-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let draft = Contest {
        title: "Конкурс практик: пример Rust SDK".into(),
        organiser: "Пример клиента".into(),
        time_zone: "Europe/Moscow".into(),
        application_deadline: Some(Date {
            year: 2030,
            month: 1,
            day: 31,
        }),
        results_due: Some(Date {
            year: 2030,
            month: 3,
            day: 22,
        }),
        nominations: vec![Nomination {
            id: "health".into(),
            title: "Здоровьесбережение с детства".into(),
            description: String::new(),
        }],
        eligible_levels: vec![TeamLevel::Regional as i32],
        ..Default::default()
    };
    let create = |request_id: String| CreateContestRequest {
        contest: Some(draft.clone()),
        contest_id: id.clone(),
        request_id,
    };

    let created = contests
        .create_contest(create(uuid::Uuid::new_v4().to_string()))
        .await
        .map_err(|s| format!("CreateContest: {}", Refusal::of(&s)))?
        .into_inner();
    say(&format!("created {} ({:?})", created.name, created.state()));

    let read = contests
        .get_contest(GetContestRequest {
            name: created.name.clone(),
        })
        .await
        .map_err(|s| format!("GetContest: {}", Refusal::of(&s)))?
        .into_inner();
    if read.state() != ContestState::Draft || read.title != draft.title {
        return Err(format!("read back {:?} {:?}", read.state(), read.title).into());
    }
    say(&format!(
        "read {}: {:?}, {:?}, deadline {}",
        read.name,
        read.title,
        read.state(),
        read.application_deadline_time
            .map(|t| t.to_string())
            .unwrap_or_default()
    ));

    // The clock of this one call is after the deadline: the contest cannot open.
    let late = at_instant(
        edu_client::tonic::Request::new(OpenContestRequest {
            name: read.name.clone(),
            etag: read.etag.clone(),
        }),
        AFTER_DEADLINE,
    )?;
    expect_refusal(
        &mut say,
        "OpenContest after the deadline",
        contests.open_contest(late).await,
        "DEADLINE_PASSED",
    )?;

    let opened = contests
        .open_contest(OpenContestRequest {
            name: read.name.clone(),
            etag: read.etag.clone(),
        })
        .await
        .map_err(|s| format!("OpenContest: {}", Refusal::of(&s)))?
        .into_inner();
    if opened.state() != ContestState::Open {
        return Err(format!("opened as {:?}", opened.state()).into());
    }
    say(&format!("opened {} ({:?})", opened.name, opened.state()));

    // The same ID with another request ID is a second contest, which cannot be.
    expect_refusal(
        &mut say,
        "CreateContest with the same ID",
        contests
            .create_contest(create(uuid::Uuid::new_v4().to_string()))
            .await,
        "ALREADY_EXISTS",
    )?;
    say("rust example: ok");
    Ok(())
}

/// Checks that a call was refused with `reason` and says so.
fn expect_refusal<T>(
    say: &mut impl FnMut(&str),
    what: &str,
    outcome: Result<T, edu_client::tonic::Status>,
    reason: &str,
) -> Result<(), Error> {
    match outcome {
        Ok(_) => Err(format!("{what}: succeeded, expected {reason}").into()),
        Err(status) => {
            let refusal = Refusal::of(&status);
            if !refusal.is(reason) {
                return Err(format!("{what}: {refusal}, expected {reason}").into());
            }
            say(&format!("{what}: refused, reason {reason} ({refusal})"));
            Ok(())
        }
    }
}
