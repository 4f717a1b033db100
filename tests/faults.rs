//! Fault injection against the real `bootstrap` binary, driven through the Lambda Runtime API:
//! each upstream (Secrets Manager, Authsignal, Auth0, and DynamoDB for the replay record: the
//! function runs with replay protection on) misbehaves in every way in
//! `support::faulty`, the function must give the documented answer (docs/behaviour.md), and a fresh invocation
//! after each fault must succeed. Also: rotation to a broken secret and back, and a slow
//! Runtime API. Prints the fault matrix.

mod support;

use std::time::Duration;

use serde_json::json;
use support::faulty::{Fault, FaultyUpstream, ALL_FAULTS};
use support::moto::{get_secret_value_answer, secret_json};
use support::runtime_api::{body, Function, RuntimeApi};
use support::*;

/// Secrets Manager's answer with `secret`.
fn secrets_manager_answer(secret: &str) -> String {
    get_secret_value_answer("bridge/faults", secret)
}

fn good_secret() -> String {
    secret_json(AUTHSIGNAL_SECRET, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET)
}

struct Stage {
    secrets_manager: FaultyUpstream,
    authsignal: FaultyUpstream,
    auth0: FaultyUpstream,
    dynamodb: FaultyUpstream,
    runtime: RuntimeApi,
    function: Function,
}

/// DynamoDB's answer to the replay record's `PutItem` and `DeleteItem` (long enough that a
/// slow drip outlasts the 1 s a DynamoDB call may take).
const DYNAMODB_ANSWER: &str =
    r#"{"ConsumedCapacity":{"TableName":"bridge-faults","CapacityUnits":1.0}}"#;

/// The four faulty stand-ins, all answering well to start with.
struct StandIns {
    secrets_manager: FaultyUpstream,
    authsignal: FaultyUpstream,
    auth0: FaultyUpstream,
    dynamodb: FaultyUpstream,
}

impl StandIns {
    async fn start() -> StandIns {
        let validated =
            json!({"isValid": true, "state": "CHALLENGE_SUCCEEDED", "userId": USER_ID}).to_string();
        StandIns {
            secrets_manager: FaultyUpstream::start(
                &secrets_manager_answer(&good_secret()),
                "application/x-amz-json-1.1",
            )
            .await,
            authsignal: FaultyUpstream::start(&validated, "application/json").await,
            auth0: FaultyUpstream::start(&token_json().to_string(), "application/json").await,
            dynamodb: FaultyUpstream::start(DYNAMODB_ANSWER, "application/x-amz-json-1.0").await,
        }
    }
}

/// The binary against the four faulty stand-ins. The secret is
/// read on every invocation (TTL 0) so Secrets Manager faults show on every request.
async fn stage() -> Stage {
    let stand_ins = StandIns::start().await;
    let runtime = RuntimeApi::start().await;
    let function = Function::start(&runtime, &function_vars(&stand_ins));
    let StandIns {
        secrets_manager,
        authsignal,
        auth0,
        dynamodb,
    } = stand_ins;
    Stage {
        secrets_manager,
        authsignal,
        auth0,
        dynamodb,
        runtime,
        function,
    }
}

/// The settings that point the binary at the four stand-ins.
fn function_vars(stand_ins: &StandIns) -> Vec<(String, String)> {
    let StandIns {
        secrets_manager,
        authsignal,
        auth0,
        dynamodb,
    } = stand_ins;
    [
        ("SECRET_ID", "bridge/faults".to_owned()),
        ("SECRET_CACHE_TTL_SECONDS", "0".to_owned()),
        ("AUTHSIGNAL_API_URL", format!("{}/v1", authsignal.url())),
        ("AUTH0_DOMAIN", auth0.url()),
        ("UPSTREAM_TIMEOUT_MS", "500".to_owned()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", secrets_manager.url()),
        ("REPLAY_TABLE", "bridge-faults".to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The documented answer to each fault of each upstream: Secrets Manager failing or timing out
/// is a 500; Authsignal, Auth0 or DynamoDB unreachable, broken or wrong is a 502, slow is a 504.
fn expected(upstream: &str, fault: Fault) -> (u64, &'static str) {
    if upstream == "secrets_manager" {
        return (500, "server_error");
    }
    if upstream == "dynamodb" && fault == Fault::WrongShape {
        // The bridge reads nothing from a successful write's answer: any JSON object is
        // DynamoDB saying the record was written.
        return (200, "");
    }
    match fault {
        Fault::NoHeaders | Fault::BodyStallsHalfway | Fault::SlowDrip => {
            (504, "temporarily_unavailable")
        }
        _ => (502, "temporarily_unavailable"),
    }
}

#[tokio::test]
async fn every_upstream_fault_gets_the_documented_answer_and_the_next_request_succeeds() {
    let mut stage = stage().await;
    let first = stage.runtime.respond(&event("http-api-token.json")).await;
    assert_eq!(first["statusCode"], 200, "{first}");

    let mut matrix = Vec::new();
    for upstream in ["secrets_manager", "authsignal", "auth0", "dynamodb"] {
        for fault in ALL_FAULTS {
            let server = match upstream {
                "secrets_manager" => &stage.secrets_manager,
                "dynamodb" => &stage.dynamodb,
                "authsignal" => &stage.authsignal,
                _ => &stage.auth0,
            };
            server.set(fault).await;
            let started = std::time::Instant::now();
            let response = stage.runtime.respond(&event("http-api-token.json")).await;
            let took = started.elapsed();
            let status = response["statusCode"].as_u64().unwrap();
            let error = body(&response)["error"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            server.set(Fault::None).await;
            let after = stage.runtime.respond(&event("http-api-token.json")).await;
            let recovered = after["statusCode"].as_u64().unwrap();
            matrix.push(format!(
                "{upstream:<16} {fault:<18?} -> {status} {error:<24} in {:>4} ms; next request {recovered}",
                took.as_millis()
            ));
            assert_eq!(
                (status, error.as_str()),
                expected(upstream, fault),
                "{upstream} {fault:?}"
            );
            assert!(
                took < Duration::from_secs(5),
                "{upstream} {fault:?} took {took:?}"
            );
            assert_eq!(
                recovered, 200,
                "{upstream} {fault:?}: the next request failed: {after}"
            );
        }
    }
    println!(
        "fault matrix (UPSTREAM_TIMEOUT_MS=500):\n{}",
        matrix.join("\n")
    );
    let output = stage.function.output().join("\n");
    assert!(
        output.contains("AWS answer announced over 256 KiB"),
        "the 50 MB Secrets Manager answer was refused by its announced size, not read"
    );
    assert!(stage.function.is_running(), "no crash");
    assert!(
        stage
            .function
            .output()
            .iter()
            .all(|line| !line.contains("panicked")),
        "no panic in the log"
    );
}

#[tokio::test]
async fn a_rotation_to_a_broken_secret_is_a_clear_500_until_it_is_fixed() {
    let mut stage = stage().await;
    assert_eq!(
        stage.runtime.respond(&event("http-api-token.json")).await["statusCode"],
        200
    );

    for broken in ["not json at all", r#"{"AUTHSIGNAL_SECRET":"only-one-key"}"#] {
        stage
            .secrets_manager
            .set_good_body(&secrets_manager_answer(broken));
        for _ in 0..2 {
            let response = stage.runtime.respond(&event("http-api-token.json")).await;
            assert_eq!(response["statusCode"], 500, "{broken}");
            assert_eq!(body(&response)["error"], "server_error");
        }
    }
    stage
        .secrets_manager
        .set_good_body(&secrets_manager_answer(&good_secret()));
    let response = stage.runtime.respond(&event("http-api-token.json")).await;
    assert_eq!(
        response["statusCode"], 200,
        "recovers once the secret is fixed: {response}"
    );
    assert!(stage.function.is_running());
}

#[tokio::test]
async fn a_slow_runtime_api_does_not_break_the_function() {
    let mut stage = stage().await;
    stage.runtime.slow_down(Duration::from_millis(1500));
    for _ in 0..2 {
        let response = stage.runtime.respond(&event("http-api-token.json")).await;
        assert_eq!(response["statusCode"], 200);
    }
    stage.runtime.slow_down(Duration::ZERO);
    assert_eq!(
        stage.runtime.respond(&event("http-api-token.json")).await["statusCode"],
        200
    );
    assert!(stage.function.is_running());
}

/// docs/behaviour.md, "Time, caching and connections": during init the connections open and the
/// replay table is touched while the secret is read, not after it. Secrets Manager here never
/// answers, so init spends its whole 2 s budget on it: had the rest waited for the secret,
/// nothing would reach Authsignal, Auth0 or DynamoDB before those 2 s were up.
#[tokio::test]
async fn init_opens_the_connections_while_the_secret_is_read() {
    let stand_ins = StandIns::start().await;
    stand_ins.secrets_manager.set(Fault::NoHeaders).await;
    let runtime = RuntimeApi::start().await;
    let started = std::time::Instant::now();
    // Each call may take longer than init's budget: the secret read holds init for all of it.
    let vars = with(
        &function_vars(&stand_ins),
        &[("UPSTREAM_TIMEOUT_MS", "5000")],
    );
    let mut function = Function::start(&runtime, &vars);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let seen = (
        stand_ins.authsignal.requests(),
        stand_ins.auth0.requests(),
        stand_ins.dynamodb.requests(),
    );
    let first_poll = runtime.first_poll().await;
    function.terminate();
    assert!(
        seen.0 >= 1 && seen.1 >= 1 && seen.2 >= 1,
        "within 1 s of start (init waits up to 2 s for the secret): Authsignal {}, Auth0 {}, DynamoDB {}",
        seen.0,
        seen.1,
        seen.2
    );
    assert!(
        first_poll.duration_since(started) >= Duration::from_millis(1500),
        "the secret read still had init's budget"
    );
}
