//! The client SDKs of `sdk/` against a live suite: each language's example drafts a contest
//! through the gateway as an organiser, reads it back, and decodes the `google.rpc` reasons of
//! two refusals (`DEADLINE_PASSED` under the development clock, `ALREADY_EXISTS`). The Rust
//! example's own `run` is called here; the Python and TypeScript examples run as child
//! processes, as their READMEs say, with `EDU_GATEWAY` and `EDU_TOKEN`.
//!
//! They need the generated SDKs: `npm install && sdk/generate.sh` (`.ci/run` does both). When
//! those are missing the test fails and says so.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crate::harness::*;

#[allow(dead_code)]
#[path = "../../sdk/rust/examples/contest.rs"]
mod rust_example;

const WHAT_TO_RUN: &str = "run `npm install && sdk/generate.sh` from the repository's root \
     (it generates the Python and TypeScript SDKs from proto/, installs the Python one into \
     .local/sdk-venv and compiles the TypeScript one; .ci/run does the same)";

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The Python of the SDK virtualenv and `node`, once it is known they can run the examples.
struct Runtimes {
    python: PathBuf,
    node: PathBuf,
}

impl Runtimes {
    /// Finds them, or fails saying what is missing and what to run.
    async fn find() -> Runtimes {
        let root = root();
        let venv = std::env::var_os("EDU_SDK_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".local/sdk-venv"));
        let python = venv.join("bin/python");
        let node = PathBuf::from("node");
        let mut missing = Vec::new();
        if !python.exists() {
            missing.push(format!("the SDK virtualenv ({})", venv.display()));
        } else if !succeeds(
            &python,
            &[
                "-c",
                "import edu_suite_client, edu.competitions.v1.contest_pb2_grpc",
            ],
        )
        .await
        {
            missing.push(format!(
                "the Python SDK installed in {} (edu_suite_client and the generated edu package)",
                venv.display()
            ));
        }
        if !succeeds(&node, &["--version"]).await {
            missing.push("node (Node.js 20 or later) on PATH".to_string());
        }
        for needed in [
            "node_modules/@connectrpc/connect-node",
            "sdk/typescript/dist/src/gen/edu/competitions/v1/contest_pb.js",
            "sdk/typescript/dist/examples/contest.js",
        ] {
            if !root.join(needed).exists() {
                missing.push(needed.to_string());
            }
        }
        assert!(
            missing.is_empty(),
            "the SDK examples cannot run: missing {}; {WHAT_TO_RUN}",
            missing.join(", ")
        );
        Runtimes { python, node }
    }
}

async fn succeeds(program: &Path, args: &[&str]) -> bool {
    tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .is_ok_and(|output| output.status.success())
}

/// Runs one example as a child process against the gateway and returns what it printed,
/// failing with its output unless it exits 0 within a minute.
async fn run_example(
    language: &str,
    program: &Path,
    script: &str,
    gateway: &str,
    token: &str,
) -> String {
    let mut command = tokio::process::Command::new(program);
    command
        .arg(root().join(script))
        .current_dir(root())
        .env("EDU_GATEWAY", gateway)
        .env("EDU_TOKEN", token)
        .kill_on_drop(true);
    let output: Output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .unwrap_or_else(|_| panic!("the {language} example did not finish within a minute"))
        .unwrap_or_else(|e| {
            panic!(
                "the {language} example did not start ({}): {e}",
                program.display()
            )
        });
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the {language} example exited with {}:\n{stdout}\n{stderr}\n\
         (if the SDK is stale or missing, {WHAT_TO_RUN})",
        output.status
    );
    stdout
}

/// Every example prints the created and read contest and the two reasons it decoded.
fn assert_told(language: &str, printed: &str) {
    for expected in [
        "created contests/sdk-",
        "read contests/sdk-",
        "OpenContest after the deadline: refused, reason DEADLINE_PASSED",
        "по московскому времени",
        "opened contests/sdk-",
        "CreateContest with the same ID: refused, reason ALREADY_EXISTS",
        &format!("{language} example: ok"),
    ] {
        assert!(
            printed.contains(expected),
            "the {language} example did not print {expected:?}:\n{printed}"
        );
    }
}

#[tokio::test]
async fn each_sdk_example_creates_reads_and_decodes_refusals_through_the_gateway() {
    let runtimes = Runtimes::find().await;
    let suite = TestSuite::start().await;
    let gateway = suite.gateway_addr().to_string();
    let token = organiser_token();

    let mut printed = Vec::new();
    if let Err(e) = rust_example::run(&gateway, &token, |line| printed.push(line.to_string())).await
    {
        panic!(
            "the rust example failed: {e}\nit printed:\n{}",
            printed.join("\n")
        );
    }
    assert_told("rust", &printed.join("\n"));

    let python = run_example(
        "python",
        &runtimes.python,
        "sdk/python/examples/contest.py",
        &gateway,
        &token,
    )
    .await;
    assert_told("python", &python);

    let typescript = run_example(
        "typescript",
        &runtimes.node,
        "sdk/typescript/dist/examples/contest.js",
        &gateway,
        &token,
    )
    .await;
    assert_told("typescript", &typescript);

    // Three contests, one per language, each opened once: the examples wrote what they said.
    let db = suite.database().await;
    let opened: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM competitions.contests WHERE id LIKE 'sdk-%' AND state = 'OPEN'",
    )
    .fetch_one(&db)
    .await
    .expect("count");
    assert_eq!(opened, 3);
    db.close().await;
    suite.stop().await;
}
