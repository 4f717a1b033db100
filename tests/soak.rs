//! Soak: many sequential invocations of the real `bootstrap` binary through the Runtime API
//! (mixed: sign-ins with replay protection on, invalid tokens, Authsignal and Auth0 errors,
//! refreshes and revocations) against loopback stand-ins, DynamoDB's included.
//! Zero invocation errors, no memory growth after warm-up, stable open file descriptors, and
//! no connection beyond those init opened for the whole run. CI runs the full 10,000 (about 20 s in a
//! debug build); `SOAK_INVOCATIONS=100000 cargo test --release --test soak` runs longer.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::connection_counter::ConnectionCounter;
use support::faulty::FaultyUpstream;
use support::runtime_api::{Function, Outcome, RuntimeApi};
use support::*;
use wiremock::matchers::{body_partial_json, body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

const DEFAULT_INVOCATIONS: usize = 10_000;
const WARM_UP: usize = 300;

/// `VmRSS` and `VmHWM` (peak) of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_mixed_invocations_leak_nothing_and_reuse_connections() {
    let invocations: usize = std::env::var("SOAK_INVOCATIONS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_INVOCATIONS);
    let upstreams = Upstreams::start().await;
    // Authsignal: keyed by token. Auth0: keyed by user.
    for (token, answer) in [
        (
            "soak-invalid",
            ResponseTemplate::new(200).set_body_json(json!({"isValid": false})),
        ),
        (
            "soak-as-error",
            ResponseTemplate::new(500).set_body_string("oops"),
        ),
        (
            "soak-a0-error",
            ResponseTemplate::new(200).set_body_json(
                json!({"isValid": true, "state": "CHALLENGE_SUCCEEDED", "userId": "user-a0-error"}),
            ),
        ),
    ] {
        Mock::given(method("POST"))
            .and(path("/v1/validate"))
            .and(body_partial_json(json!({ "token": token })))
            .respond_with(answer)
            .with_priority(1)
            .mount(&upstreams.authsignal)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("username=user-a0-error&"))
        .respond_with(ResponseTemplate::new(503).set_body_string("unavailable"))
        .with_priority(1)
        .mount(&upstreams.auth0)
        .await;
    upstreams.happy_path().await;
    upstreams.auth0_revoke_answers(revoked()).await;
    // DynamoDB's stand-in acknowledges every write and delete of the replay record (moto would
    // refuse the repeated tokens as replays, which is not what this run measures).
    let dynamodb = FaultyUpstream::start(r#"{}"#, "application/x-amz-json-1.0").await;
    let dynamodb_connections = ConnectionCounter::start(dynamodb.addr).await;

    let (vars, authsignal, auth0) = upstreams.vars_counting_connections().await;
    let dynamodb_url = format!("http://{}", dynamodb_connections.addr);
    let vars = with(
        &vars,
        &[
            ("AWS_LAMBDA_LOG_LEVEL", "ERROR"),
            ("REPLAY_TABLE", "bridge-soak"),
            ("AWS_ENDPOINT_URL_DYNAMODB", &dynamodb_url),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "soak"),
            ("AWS_SECRET_ACCESS_KEY", "soak"),
        ],
    );
    let mut runtime = RuntimeApi::start().await;
    let mut function = Function::start(&runtime, &vars);
    let pid = function.pid();

    let kinds = [
        ("http-api-token.json", None, 200),
        ("rest-api-token.json", None, 200),
        ("http-api-token.json", Some("soak-invalid"), 400),
        ("http-api-token.json", Some("soak-as-error"), 502),
        ("http-api-token.json", Some("soak-a0-error"), 502),
        ("http-api-malformed-body.json", None, 400),
        ("http-api-refresh-form.json", None, 200),
        ("http-api-revoke.json", None, 200),
    ];
    let events: Vec<_> = kinds
        .iter()
        .map(|(fixture, token, status)| {
            let event = match token {
                Some(token) => with_body(event(fixture), &json!({ "token": token }).to_string()),
                None => event(fixture),
            };
            (event, *status)
        })
        .collect();

    let started = Instant::now();
    let mut after_warm_up = None;
    for i in 0..invocations {
        let (event, status) = &events[i % events.len()];
        match runtime.invoke(event, Duration::from_secs(10)).await {
            Outcome::Response(response) => {
                assert_eq!(response["statusCode"], *status, "invocation {i}")
            }
            other => panic!("invocation {i}: {other:?}"),
        }
        if i + 1 == WARM_UP {
            after_warm_up = Some((memory_kib(pid), open_fds(pid)));
        }
    }
    let elapsed = started.elapsed();
    let ((warm_rss, warm_peak), warm_fds) = after_warm_up.expect("warm-up finished");
    let (end_rss, end_peak) = memory_kib(pid);
    let end_fds = open_fds(pid);
    println!(
        "soak: {invocations} invocations in {:.1} s; RSS after warm-up {warm_rss} KiB (peak {warm_peak}), \
         at the end {end_rss} KiB (peak {end_peak}); open fds {warm_fds} -> {end_fds}; \
         connections opened: authsignal {}, auth0 {}, dynamodb {}; DynamoDB calls {}",
        elapsed.as_secs_f64(),
        authsignal.opened(),
        auth0.opened(),
        dynamodb_connections.opened(),
        dynamodb.requests()
    );
    assert!(function.is_running());
    assert!(
        end_peak <= warm_peak + 8 * 1024,
        "peak RSS grew by more than 8 MiB after warm-up"
    );
    assert!(
        end_rss <= warm_rss + 8 * 1024,
        "RSS grew by more than 8 MiB after warm-up"
    );
    assert!(
        end_fds <= warm_fds + 2,
        "open file descriptors grew: {warm_fds} -> {end_fds}"
    );
    assert_eq!(
        (
            authsignal.opened(),
            auth0.opened(),
            dynamodb_connections.opened()
        ),
        (2, 1, 1),
        "the connections init opened, for the whole run (two to Authsignal: /validate and the profile lookup alongside it)"
    );
    // The warm-up delete during init; then a write for each sign-in that passed the challenge
    // (the first two kinds and the Auth0 error), a delete after the Auth0 5xx (its record
    // released): 4 calls per round of 8.
    let dynamodb_calls_per_kind = [1, 1, 0, 0, 2, 0, 0, 0];
    let expected_calls: usize = 1
        + (0..invocations)
            .map(|i| dynamodb_calls_per_kind[i % dynamodb_calls_per_kind.len()])
            .sum::<usize>();
    assert_eq!(dynamodb.requests(), expected_calls, "the replay path ran");
}
