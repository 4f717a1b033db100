//! End to end: the compiled `bootstrap` binary, driven through a Lambda Runtime API double,
//! against loopback stand-ins for Authsignal and Auth0 (wiremock) and, for the tests marked
//! as needing moto, Secrets Manager (moto's server, through the real AWS SDK).

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::dpop::{with_dpop, DpopKey};
use support::moto::{create_secret, secret_json, Moto};
use support::runtime_api::{body, kept_by_lambda, Function, Outcome, RuntimeApi};
use support::*;
use wiremock::matchers::{body_partial_json, body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

/// Waits until the summary lines of `count` invocations are printed (output is read by threads).
async fn summaries(function: &Function, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let lines = function.summaries();
        if lines.len() >= count {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("expected {count} summary lines in {:#?}", function.output());
}

#[tokio::test]
async fn the_bootstrap_binary_answers_every_event_source_through_the_runtime_api() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    upstreams.auth0_revoke_answers(revoked()).await;
    let mut runtime = RuntimeApi::start().await;
    let vars = with(&upstreams.vars(), &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    let mut function = Function::start(&runtime, &vars);

    for fixture in [
        "http-api-token.json",
        "rest-api-token.json",
        "function-url-token.json",
        "http-api-token-base64.json",
    ] {
        let response = runtime.respond(&event(fixture)).await;
        assert_eq!(response["statusCode"], 200, "{fixture}: {response}");
        assert_eq!(body(&response), token_json(), "{fixture}");
    }
    let rest = runtime.respond(&event("rest-api-token.json")).await;
    assert_eq!(
        rest["multiValueHeaders"]["cache-control"],
        json!(["no-store"])
    );
    let http = runtime.respond(&event("http-api-token.json")).await;
    assert_eq!(http["headers"]["pragma"], "no-cache");
    assert!(http["headers"]["x-request-id"]
        .as_str()
        .unwrap()
        .starts_with("e2e-"));

    let get = runtime.respond(&event("http-api-get.json")).await;
    assert_eq!(
        (get["statusCode"].as_u64(), get["headers"]["allow"].as_str()),
        (Some(405), Some("POST"))
    );
    let malformed = runtime
        .respond(&event("http-api-malformed-body.json"))
        .await;
    assert_eq!(malformed["statusCode"], 400);
    assert_eq!(body(&malformed)["error"], "invalid_request");

    let mut broken_base64 = event("http-api-token.json");
    broken_base64["body"] = json!("%%% not base64 %%%");
    broken_base64["isBase64Encoded"] = json!(true);
    let response = runtime.respond(&broken_base64).await;
    assert_eq!(
        response["statusCode"], 400,
        "a 400, not an invocation error"
    );

    // Not an HTTP event at all: lambda_http rejects it before our code runs; the function
    // reports an invocation error and keeps serving.
    match runtime
        .invoke(&json!({"hello": "world"}), Duration::from_secs(5))
        .await
    {
        Outcome::Error(_) => {}
        other => panic!("expected an invocation error, got {other:?}"),
    }
    let after = runtime.respond(&event("http-api-token.json")).await;
    assert_eq!(after["statusCode"], 200);
    assert!(function.is_running());

    // The rest of the session: refresh (JSON, and a base64 form as API Gateway delivers it),
    // then sign-out.
    for fixture in ["http-api-refresh.json", "http-api-refresh-form.json"] {
        let response = runtime.respond(&event(fixture)).await;
        assert_eq!(response["statusCode"], 200, "{fixture}: {response}");
        assert_eq!(body(&response), token_json(), "{fixture}");
    }
    let response = runtime.respond(&event("http-api-revoke.json")).await;
    assert_eq!(
        (response["statusCode"].as_u64(), response["body"].as_str()),
        (Some(200), Some("{}"))
    );
    let unknown = runtime
        .respond(&at_path(event("http-api-refresh.json"), "/refresh"))
        .await;
    assert_eq!(unknown["statusCode"], 404);
    let refreshes = upstreams
        .auth0_requests()
        .await
        .into_iter()
        .filter(|request| form(request)["grant_type"] == "refresh_token")
        .count();
    assert_eq!(refreshes, 2);
    assert_eq!(upstreams.auth0_revoke_requests().await.len(), 1);

    summaries(&function, 14).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let lines = function.summaries();
    assert_eq!(lines.len(), 14, "one summary line per HTTP invocation");
    let operations: Vec<&str> = lines
        .iter()
        .map(|line| line["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        operations[10..],
        ["refresh", "refresh", "revoke", "unknown"],
        "the summary line names the operation"
    );
    assert!(operations[..6]
        .iter()
        .all(|operation| *operation == "sign_in"));
    assert_eq!(lines[0]["cold_start"], true);
    assert!(lines[1..].iter().all(|line| line["cold_start"] == false));
    assert_eq!(lines[0]["outcome"], "success");
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["user_id"], USER_ID);
    // Powertools-style fields, from the Lambda environment and the runtime's context.
    assert_eq!(lines[0]["function_name"], "authsignal-auth0-bridge");
    assert!(lines[0]["function_request_id"]
        .as_str()
        .unwrap()
        .starts_with("e2e-0001-"));
    assert!(lines[0]["xray_trace_id"]
        .as_str()
        .unwrap()
        .starts_with("Root=1-67a0b1c2"));
    assert!(lines[0]["authsignal_ms"].as_f64().unwrap() > 0.0);
    assert!(lines[0]["auth0_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(lines[6]["outcome"], "invalid_request");
    function.stop();
}

/// The REST API (payload 1.0) events of the WAF-protected edge (`EdgeProtection=waf`), one per
/// route, through the binary: each gets its answer in the 1.0 format, and the caller's IP from
/// the event's `requestContext.identity` reaches Auth0.
#[tokio::test]
async fn every_route_answers_rest_api_events_and_forwards_the_callers_ip() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    upstreams.auth0_revoke_answers(revoked()).await;
    let mut runtime = RuntimeApi::start().await;
    let _function = Function::start(&runtime, &upstreams.vars());

    let signed_in = runtime.respond(&event("rest-api-token.json")).await;
    assert_eq!(signed_in["statusCode"], 200, "{signed_in}");
    assert_eq!(body(&signed_in), token_json());
    assert_eq!(
        signed_in["multiValueHeaders"]["cache-control"],
        json!(["no-store"])
    );
    let refreshed = runtime.respond(&event("rest-api-refresh-form.json")).await;
    assert_eq!(refreshed["statusCode"], 200, "{refreshed}");
    let revoked = runtime.respond(&event("rest-api-revoke.json")).await;
    assert_eq!(
        (revoked["statusCode"].as_u64(), revoked["body"].as_str()),
        (Some(200), Some("{}"))
    );
    let get = runtime.respond(&event("rest-api-get.json")).await;
    assert_eq!(
        (
            get["statusCode"].as_u64(),
            &get["multiValueHeaders"]["allow"]
        ),
        (Some(405), &json!(["POST"]))
    );

    let grants: Vec<String> = upstreams
        .auth0_requests()
        .await
        .iter()
        .map(|request| {
            assert_eq!(
                request.headers.get("auth0-forwarded-for").unwrap(),
                "198.51.100.7",
                "the caller's IP, from requestContext.identity.sourceIp"
            );
            form(request)["grant_type"].clone()
        })
        .collect();
    assert_eq!(
        grants,
        [
            "http://auth0.com/oauth/grant-type/password-realm",
            "refresh_token"
        ]
    );
    let revocations = upstreams.auth0_revoke_requests().await;
    let sent: Value = serde_json::from_slice(&revocations[0].body).unwrap();
    assert_eq!(sent["token"], FIXTURE_REFRESH_TOKEN);
}

#[tokio::test]
async fn warm_invocations_reuse_one_connection_per_upstream() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let (vars, authsignal, auth0) = upstreams.vars_counting_connections().await;
    let mut runtime = RuntimeApi::start().await;
    let _function = Function::start(&runtime, &vars);
    // Init opens the connections before the first event is even asked for: two to Authsignal,
    // for `/validate` and the profile lookup that runs alongside it, one to Auth0.
    runtime.first_poll().await;
    assert_eq!(
        (authsignal.opened(), auth0.opened()),
        (2, 1),
        "connections opened during init"
    );
    for _ in 0..20 {
        let response = runtime.respond(&event("http-api-token.json")).await;
        assert_eq!(response["statusCode"], 200);
    }
    assert_eq!(
        (authsignal.opened(), auth0.opened()),
        (2, 1),
        "no new connection for 20 invocations"
    );
}

#[tokio::test]
async fn the_log_level_and_format_follow_the_lambda_variables() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;

    // Text format by default, INFO level: the summary line is there, not as JSON.
    let mut runtime = RuntimeApi::start().await;
    let mut function = Function::start(&runtime, &upstreams.vars());
    runtime.respond(&event("http-api-token.json")).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let output = function.stop();
    let summary: Vec<&String> = output
        .iter()
        .filter(|line| line.contains("exchange finished"))
        .collect();
    assert_eq!(summary.len(), 1, "{output:#?}");
    assert!(
        serde_json::from_str::<Value>(summary[0]).is_err(),
        "text, not JSON: {}",
        summary[0]
    );
    assert!(
        summary[0].contains("outcome=\"success\"") || summary[0].contains("outcome=success"),
        "{}",
        summary[0]
    );

    // AWS_LAMBDA_LOG_LEVEL=ERROR drops INFO lines, and wins over RUST_LOG.
    let mut runtime = RuntimeApi::start().await;
    let vars = with(
        &upstreams.vars(),
        &[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "ERROR"),
            ("RUST_LOG", "trace"),
        ],
    );
    let mut function = Function::start(&runtime, &vars);
    runtime.respond(&event("http-api-token.json")).await;
    let broken = with_body(event("http-api-token.json"), r#"{"token":"x"}"#);
    upstreams.authsignal.reset().await;
    upstreams
        .authsignal_answers(ResponseTemplate::new(401))
        .await;
    runtime.respond(&broken).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let output = function.stop();
    // Metrics survive Lambda's own level filter at the function's level: they carry the lowest
    // level it keeps (ERROR here), never FATAL, and the raised level is said once at start-up.
    let kept = kept_by_lambda(&output, "ERROR");
    let metrics: Vec<&Value> = kept
        .iter()
        .filter(|line| line.get("_aws").is_some())
        .collect();
    assert_eq!(metrics.len(), 2, "EMF documents kept at ERROR");
    assert!(
        metrics.iter().all(|line| line["level"] == "ERROR"),
        "{metrics:?}"
    );
    let reports = kept
        .iter()
        .filter(|line| {
            line["message"]
                .as_str()
                .is_some_and(|m| m.contains("metrics lines carry level ERROR"))
        })
        .count();
    assert_eq!(reports, 1, "{output:#?}");
    let output: Vec<String> = output
        .into_iter()
        .filter(|line| !line.contains("\"_aws\"") && !line.contains("metrics lines carry"))
        .collect();
    let lines: Vec<Value> = output
        .iter()
        .map(|line| serde_json::from_str(line).expect("JSON lines"))
        .collect();
    assert!(
        lines.iter().all(|line| line["level"] == "ERROR"),
        "{output:#?}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|line| line["message"] == "exchange finished")
            .count(),
        1,
        "only the 500's summary"
    );
}

#[tokio::test]
async fn a_bad_setting_is_logged_once_and_every_request_gets_500() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let mut runtime = RuntimeApi::start().await;
    let vars = with(
        &upstreams.vars(),
        &[
            ("AUTH0_DOMAIN", "http://tenant.auth0.com"),
            ("UPSTREAM_TIMEOUT_MS", "soon"),
        ],
    );
    let mut function = Function::start(&runtime, &vars);
    for _ in 0..3 {
        let response = runtime.respond(&event("http-api-token.json")).await;
        assert_eq!(response["statusCode"], 500);
        assert_eq!(body(&response)["error"], "server_error");
    }
    assert!(function.is_running(), "no crash loop");
    let output = function.stop().join("\n");
    assert_eq!(
        output.matches("AUTH0_DOMAIN must use https://").count(),
        1,
        "{output}"
    );
    assert_eq!(
        output
            .matches("UPSTREAM_TIMEOUT_MS must be a whole number")
            .count(),
        1
    );
    assert!(upstreams.authsignal_requests().await.is_empty());

    // Incomplete credentials (no SECRET_ID) are reported once at start-up too.
    let mut runtime = RuntimeApi::start().await;
    let vars = without(&upstreams.vars(), "AUTH0_CLIENT_SECRET");
    let mut function = Function::start(&runtime, &vars);
    for _ in 0..2 {
        let response = runtime.respond(&event("http-api-token.json")).await;
        assert_eq!(response["statusCode"], 500);
    }
    let output = function.stop().join("\n");
    assert_eq!(
        output.matches("the credentials are incomplete").count(),
        1,
        "{output}"
    );
    assert!(output.contains("AUTH0_CLIENT_SECRET"));
    assert!(upstreams.authsignal_requests().await.is_empty());
}

#[tokio::test]
async fn the_signing_key_is_named_at_start_up_or_its_problem_reported_once() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    upstreams.auth0_answers(refreshed_tokens()).await;
    let json_logs = [("AWS_LAMBDA_LOG_FORMAT", "JSON")];

    // A usable key: its kid, for the operator to find in the connection's BRIDGE_PUBLIC_KEYS.
    let mut runtime = RuntimeApi::start().await;
    let mut function = Function::start(&runtime, &with(&upstreams.vars(), &json_logs));
    assert_eq!(
        runtime.respond(&event("http-api-token.json")).await["statusCode"],
        200
    );
    let output = function.stop();
    let named = output
        .iter()
        .filter(|line| line.contains(SIGNING_KEY_ID) && line.contains("BRIDGE_PUBLIC_KEYS"))
        .count();
    assert_eq!(named, 1, "{output:#?}");

    // A key that is not one: one ERROR at start-up, then every sign-in the configuration 500
    // without a call to Authsignal; refreshes still work.
    let mut runtime = RuntimeApi::start().await;
    let broken = with(
        &upstreams.vars(),
        &[("BRIDGE_SIGNING_KEY", "REPLACE_ME"), json_logs[0]],
    );
    let mut function = Function::start(&runtime, &broken);
    let validations = upstreams.authsignal_requests().await.len();
    for _ in 0..2 {
        let response = runtime.respond(&event("http-api-token.json")).await;
        assert_eq!(response["statusCode"], 500);
        assert_eq!(body(&response)["error"], "server_error");
    }
    assert_eq!(upstreams.authsignal_requests().await.len(), validations);
    assert_eq!(
        runtime.respond(&event("http-api-refresh.json")).await["statusCode"],
        200
    );
    assert!(function.is_running(), "no crash loop");
    let output = function.stop();
    let errors: Vec<&String> = output
        .iter()
        .filter(|line| {
            line.contains(r#""level":"ERROR""#) && line.contains("no usable BRIDGE_SIGNING_KEY")
        })
        .collect();
    assert_eq!(errors.len(), 1, "{output:#?}");
    assert!(errors[0].contains("BRIDGE_SIGNING_KEY in the environment is not a PEM"));
    assert!(output.iter().all(|line| !line.contains("REPLACE_ME")));

    // With nothing cached (a TTL of 0) the key is still read, and its problem reported, at
    // start-up: before the first request, not only in that request's answer.
    let mut runtime = RuntimeApi::start().await;
    let uncached = with(&broken, &[("SECRET_CACHE_TTL_SECONDS", "0")]);
    let mut function = Function::start(&runtime, &uncached);
    let response = runtime.respond(&event("http-api-token.json")).await;
    assert_eq!(response["statusCode"], 500);
    let output = function.stop();
    let reported = output.iter().position(|line| {
        line.contains(r#""level":"ERROR""#) && line.contains("no usable BRIDGE_SIGNING_KEY")
    });
    let summary = output
        .iter()
        .position(|line| line.contains(r#""status":500"#));
    assert!(
        matches!((reported, summary), (Some(r), Some(s)) if r < s),
        "{output:#?}"
    );
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn credentials_come_from_secrets_manager_and_a_failing_cold_start_recovers() {
    let moto = Moto::start();
    let admin = moto.admin().await;
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let mut runtime = RuntimeApi::start().await;
    let mut vars = with(
        &upstreams.vars(),
        &[
            ("SECRET_ID", "bridge/e2e"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            // Only the secret may supply credentials.
            ("AUTHSIGNAL_SECRET", "wrong"),
            ("AUTH0_CLIENT_SECRET", "wrong"),
        ],
    );
    vars.extend(moto.env());
    let mut function = Function::start(&runtime, &vars);

    // The secret does not exist yet: 500, and the function keeps running.
    let response = runtime.respond(&event("http-api-token.json")).await;
    assert_eq!(
        (
            response["statusCode"].as_u64(),
            body(&response)["error"].as_str()
        ),
        (Some(500), Some("server_error"))
    );

    create_secret(
        &admin,
        "bridge/e2e",
        &secret_json(AUTHSIGNAL_SECRET, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET),
    )
    .await;
    let response = runtime.respond(&event("http-api-token.json")).await;
    assert_eq!(
        response["statusCode"], 200,
        "recovered without a restart: {response}"
    );
    assert_eq!(body(&response), token_json());
    let form = form(&upstreams.auth0_requests().await[0]);
    assert_eq!(form["client_secret"], AUTH0_CLIENT_SECRET);

    // Within the TTL the secret is not read again: deleting it changes nothing.
    admin
        .delete_secret()
        .secret_id("bridge/e2e")
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    for _ in 0..3 {
        let response = runtime.respond(&event("http-api-token.json")).await;
        assert_eq!(
            response["statusCode"], 200,
            "served from the cache: {response}"
        );
    }
    assert!(function.is_running());

    // The summary says how long reading the secret took, only when it was read.
    let lines = summaries(&function, 5).await;
    assert!(
        lines[0]["secrets_manager_ms"].as_f64().is_some(),
        "{}",
        lines[0]
    );
    assert!(
        lines[1]["secrets_manager_ms"].as_f64().is_some(),
        "{}",
        lines[1]
    );
    assert!(lines[2..]
        .iter()
        .all(|line| line.get("secrets_manager_ms").is_none()));
}

/// One invocation of the full run: what the app sends and what it must get.
struct Case {
    /// The canary the app sends (an Authsignal token or a refresh token).
    canary: &'static str,
    event: Value,
    status: u64,
    outcome: &'static str,
    operation: &'static str,
}

impl Case {
    fn sign_in(canary: &'static str, status: u64, outcome: &'static str) -> Case {
        Case {
            canary,
            event: sign_in_event(canary),
            status,
            outcome,
            operation: "sign_in",
        }
    }

    fn refresh(canary: &'static str, status: u64, outcome: &'static str) -> Case {
        Case {
            canary,
            event: refresh_event(canary),
            status,
            outcome,
            operation: "refresh",
        }
    }

    fn revoke(canary: &'static str, status: u64, outcome: &'static str) -> Case {
        let mut event = with_body(event("http-api-revoke.json"), &format!("token={canary}"));
        event["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
        Case {
            canary,
            event,
            status,
            outcome,
            operation: "revoke",
        }
    }

    /// The same request with the app's DPoP proof (a canary: it must never be logged).
    fn with_dpop_proof(mut self) -> Case {
        self.event = with_dpop(self.event, DPOP_PROOF);
        self
    }

    fn reaches_authsignal(&self) -> bool {
        self.operation == "sign_in" && self.outcome != "invalid_request"
    }

    fn reaches_auth0(&self) -> bool {
        self.operation != "sign_in"
            || ["mfa", "a0", "-ok-"]
                .iter()
                .any(|marker| self.canary.contains(marker))
    }
}

/// Checks the EMF document of each invocation: structure, dimensions and values per outcome.
fn check_metrics(documents: &[Value], cases: &[Case]) {
    assert_eq!(
        documents.len(),
        cases.len(),
        "one metrics document per invocation"
    );
    for (index, (document, case)) in documents.iter().zip(cases).enumerate() {
        let token = case.canary;
        // Logged at TRACE: the metrics line carries INFO, the lowest level Lambda keeps at any
        // setting up to INFO, so no alarm on ERROR or FATAL sees a healthy function.
        assert_eq!(document["level"], "INFO", "{token}");
        let aws = &document["_aws"];
        assert!(
            aws["Timestamp"]
                .as_u64()
                .is_some_and(|ms| ms > 1_700_000_000_000),
            "{token}"
        );
        let directives = aws["CloudWatchMetrics"]
            .as_array()
            .expect("CloudWatchMetrics");
        for directive in directives {
            assert_eq!(directive["Namespace"], "AuthsignalAuth0Bridge", "{token}");
            let sets = directive["Dimensions"].as_array().unwrap();
            assert!(
                sets.iter()
                    .any(|set| set.as_array().unwrap().contains(&json!("Operation"))),
                "{token}: every metric is also published per operation"
            );
            for dimension_set in sets {
                for key in dimension_set.as_array().unwrap() {
                    let key = key.as_str().unwrap();
                    assert!(
                        ["Service", "Operation", "Outcome", "Dpop"].contains(&key),
                        "low-cardinality dimensions only: {key}"
                    );
                    assert!(
                        document[key].is_string(),
                        "{token}: dimension {key} missing"
                    );
                }
            }
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                let unit = metric["Unit"].as_str().unwrap();
                let expected_unit = if name.ends_with("Latency") {
                    "Milliseconds"
                } else {
                    "Count"
                };
                assert_eq!(unit, expected_unit, "{token}: {name}");
                assert!(
                    document[name].is_number(),
                    "{token}: declared {name} without a value"
                );
            }
        }
        assert_eq!(document["Service"], "authsignal-auth0-bridge", "{token}");
        assert_eq!(document["Outcome"], case.outcome, "{token}");
        assert_eq!(document["Operation"], case.operation, "{token}");
        assert_eq!(document["Exchanges"], 1, "{token}");
        assert_eq!(
            document.get("ColdStart").is_some(),
            index == 0,
            "{token}: ColdStart only first"
        );
        assert_eq!(
            document["AuthsignalLatency"].is_number(),
            case.reaches_authsignal(),
            "{token}"
        );
        assert_eq!(
            document["Auth0Latency"].is_number(),
            case.reaches_auth0(),
            "{token}"
        );
        // The first rejection re-reads the secret; the second comes within 30 s: not re-read.
        let refreshed = token.contains("as401");
        assert_eq!(
            document["CredentialsRefresh"].is_number(),
            refreshed,
            "{token}"
        );
        for forbidden in ["user_id", "token", "ip"] {
            assert!(
                document.get(forbidden).is_none(),
                "{token}: {forbidden} in metrics"
            );
        }
    }
}

/// Every failure case, keyed by the token the app sends.
async fn mount_failure_cases(upstreams: &Upstreams) {
    let authsignal = |token: &str, answer: ResponseTemplate| {
        Mock::given(method("POST"))
            .and(path("/v1/validate"))
            .and(body_partial_json(json!({ "token": token })))
            .respond_with(answer)
    };
    let succeeded_for = |user: &str| {
        ResponseTemplate::new(200)
            .set_body_json(json!({"isValid": true, "state": "CHALLENGE_SUCCEEDED", "userId": user}))
    };
    for (token, answer) in [
        ("canary-tok-ok-1a", challenge_succeeded()),
        (
            "canary-tok-invalid-2b",
            ResponseTemplate::new(200).set_body_json(json!({"isValid": false})),
        ),
        (
            "canary-tok-as401-3c",
            ResponseTemplate::new(401).set_body_json(json!({"error": "unauthorized"})),
        ),
        (
            "canary-tok-as429-4d",
            ResponseTemplate::new(429).insert_header("retry-after", "3"),
        ),
        (
            "canary-tok-as500-5e",
            ResponseTemplate::new(500).set_body_string("oops"),
        ),
        (
            "canary-tok-ashtml-6f",
            ResponseTemplate::new(200).set_body_string("<html></html>"),
        ),
        (
            "canary-tok-asslow-7a",
            challenge_succeeded().set_delay(Duration::from_secs(2)),
        ),
        ("canary-tok-mfa-8b", succeeded_for("user-mfa")),
        ("canary-tok-a0401-9c", succeeded_for("user-badclient")),
        ("canary-tok-a0429-0d", succeeded_for("user-ratelimited")),
        ("canary-tok-a0slow-1e", succeeded_for("user-slow")),
    ] {
        authsignal(token, answer).mount(&upstreams.authsignal).await;
    }
    let auth0 = |user: &str, answer: ResponseTemplate| {
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .and(body_string_contains(format!("username={user}&").as_str()))
            .respond_with(answer)
    };
    for (refresh_token, answer) in [
        ("canary-rt-ok-2b7c", refreshed_tokens()),
        ("canary-rt-unknown-9d1e", unknown_refresh_token()),
    ] {
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .and(body_string_contains(
                format!("refresh_token={refresh_token}&").as_str(),
            ))
            .respond_with(answer)
            .mount(&upstreams.auth0)
            .await;
    }
    for (refresh_token, answer) in [
        ("canary-rt-revoke-4f2a", revoked()),
        ("canary-rt-gone-6a3b", unknown_refresh_token()),
    ] {
        Mock::given(method("POST"))
            .and(path("/oauth/revoke"))
            .and(body_partial_json(json!({ "token": refresh_token })))
            .respond_with(answer)
            .mount(&upstreams.auth0)
            .await;
    }
    for (user, answer) in [
        (USER_ID, tokens()),
        ("user-mfa", ResponseTemplate::new(403).set_body_json(json!({"error": "mfa_required", "error_description": "Multifactor authentication required", "mfa_token": "canary-mfa-token-2f"}))),
        ("user-badclient", ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client", "error_description": "Unauthorized"}))),
        ("user-ratelimited", ResponseTemplate::new(429).insert_header("x-ratelimit-reset", "1").set_body_json(json!({"error": "too_many_attempts"}))),
        ("user-slow", tokens().set_delay(Duration::from_secs(2))),
    ] {
        auth0(user, answer).mount(&upstreams.auth0).await;
    }
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn logs_of_a_full_run_at_trace_level_contain_no_secret_or_token() {
    let moto = Moto::start();
    let admin = moto.admin().await;
    create_secret(
        &admin,
        "bridge/logs",
        &secret_json(AUTHSIGNAL_SECRET, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET),
    )
    .await;
    let upstreams = Upstreams::start().await;
    mount_failure_cases(&upstreams).await;
    let mut runtime = RuntimeApi::start().await;
    let mut vars = with(
        &upstreams.vars(),
        &[
            ("SECRET_ID", "bridge/logs"),
            ("AUTHSIGNAL_SECRET", ""),
            ("AUTH0_CLIENT_SECRET", ""),
            ("UPSTREAM_TIMEOUT_MS", "500"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        ],
    );
    vars.extend(moto.env());
    let mut function = Function::start(&runtime, &vars);

    let cases = [
        Case::sign_in("canary-tok-ok-1a", 200, "success"),
        Case::sign_in("canary-tok-invalid-2b", 400, "invalid_grant"),
        Case::sign_in("canary-tok-as401-3c", 500, "server_error"),
        Case::sign_in("canary-tok-as429-4d", 429, "rate_limited"),
        Case::sign_in("canary-tok-as500-5e", 502, "upstream_unavailable"),
        Case::sign_in("canary-tok-ashtml-6f", 502, "upstream_unavailable"),
        Case::sign_in("canary-tok-asslow-7a", 504, "upstream_timeout"),
        Case::sign_in("canary-tok-mfa-8b", 403, "auth0_rejected"),
        Case::sign_in("canary-tok-a0401-9c", 500, "server_error"),
        Case::sign_in("canary-tok-a0429-0d", 429, "rate_limited"),
        Case::sign_in("canary-tok-a0slow-1e", 504, "upstream_timeout"),
        Case::sign_in("canary-tok-ok-1a", 200, "success").with_dpop_proof(),
        Case::refresh("canary-rt-ok-2b7c", 200, "success").with_dpop_proof(),
        Case::refresh("canary-rt-unknown-9d1e", 403, "auth0_rejected"),
        Case::revoke("canary-rt-revoke-4f2a", 200, "success"),
        Case::revoke("canary-rt-gone-6a3b", 200, "nothing_to_revoke"),
    ];
    for case in &cases {
        let response = runtime.respond(&case.event).await;
        assert_eq!(
            response["statusCode"], case.status,
            "{}: {response}",
            case.canary
        );
    }
    let lines = summaries(&function, cases.len()).await;
    for (line, case) in lines.iter().zip(&cases) {
        assert_eq!(
            (
                line["operation"].as_str(),
                line["outcome"].as_str(),
                line["status"].as_u64()
            ),
            (Some(case.operation), Some(case.outcome), Some(case.status)),
            "{}",
            case.canary
        );
    }

    check_metrics(&function.metrics(), &cases);

    let output = function.stop().join("\n");
    let debug_lines = output
        .lines()
        .filter(|line| line.contains(r#""level":"DEBUG""#))
        .count();
    assert!(
        debug_lines >= cases.len(),
        "DEBUG output was captured: {debug_lines}"
    );
    let mut forbidden = canaries();
    forbidden.extend(cases.iter().map(|case| case.canary.to_owned()));
    forbidden.push("canary-mfa-token-2f".to_owned());
    for canary in forbidden {
        let leaks: Vec<&str> = output
            .lines()
            .filter(|line| line.contains(&canary))
            .collect();
        assert!(
            leaks.is_empty(),
            "the log contains `{canary}`:\n{}",
            leaks.join("\n")
        );
    }
}

/// docs/behaviour.md, "Configuration and logs": a DPoP proof is never logged, at any level,
/// whatever becomes of the request.
#[tokio::test]
async fn a_dpop_proof_is_never_logged_at_any_level() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let mut runtime = RuntimeApi::start().await;
    let vars = with(
        &upstreams.vars(),
        &[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        ],
    );
    let mut function = Function::start(&runtime, &vars);
    let proof = DpopKey::new().proof(&format!("{}/oauth/token", upstreams.auth0.uri()), None);
    let repeated = with_dpop(event("http-api-token.json"), &format!("{proof},{proof}"));
    for (request, status) in [
        (with_dpop(event("http-api-token.json"), &proof), 200),
        (with_dpop(refresh_event(FIXTURE_REFRESH_TOKEN), &proof), 200),
        (repeated, 400),
    ] {
        assert_eq!(runtime.respond(&request).await["statusCode"], status);
    }
    let output = function.stop();
    let forwarded = output
        .iter()
        .filter(|line| line.contains("exchange finished") && line.contains(r#""dpop":"forwarded""#))
        .count();
    assert_eq!(forwarded, 2, "the proof went to Auth0: {output:#?}");
    for part in std::iter::once(proof.as_str()).chain(proof.split('.')) {
        let leaks: Vec<&String> = output.iter().filter(|line| line.contains(part)).collect();
        assert!(leaks.is_empty(), "the log holds the proof: {leaks:#?}");
    }
}

/// docs/behaviour.md, "Refresh and revocation": a revocation Auth0 says did nothing is 200 for
/// the app and one WARN for the operator naming Auth0's code, never the token.
#[tokio::test]
async fn a_revocation_that_did_nothing_is_a_warn_with_auth0s_code_only() {
    let upstreams = Upstreams::start().await;
    upstreams
        .auth0_revoke_answers(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant",
            "error_description": "canary-revocation-description-7c"
        })))
        .await;
    let mut runtime = RuntimeApi::start().await;
    let vars = with(&upstreams.vars(), &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    let mut function = Function::start(&runtime, &vars);
    let response = runtime.respond(&revoke_event(FIXTURE_REFRESH_TOKEN)).await;
    assert_eq!(
        (response["statusCode"].as_u64(), body(&response)),
        (Some(200), json!({}))
    );
    let output = function.stop();
    let warnings: Vec<&String> = output
        .iter()
        .filter(|line| line.contains(r#""level":"WARN""#) && line.contains("did not revoke"))
        .collect();
    assert_eq!(warnings.len(), 1, "{output:#?}");
    assert!(
        warnings[0].contains(r#""auth0_error":"invalid_grant""#),
        "{}",
        warnings[0]
    );
    for secret in [FIXTURE_REFRESH_TOKEN, "canary-revocation-description-7c"] {
        assert!(
            !output.iter().any(|line| line.contains(secret)),
            "{output:#?}"
        );
    }
}

#[tokio::test]
async fn a_404_from_authsignal_is_invalid_grant_for_the_app_and_an_error_for_the_operator() {
    let upstreams = Upstreams::start().await;
    upstreams
        .authsignal_answers(ResponseTemplate::new(404).set_body_json(json!({"error": "not_found"})))
        .await;
    let mut runtime = RuntimeApi::start().await;
    let vars = with(&upstreams.vars(), &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    let mut function = Function::start(&runtime, &vars);
    let response = runtime.respond(&event("http-api-token.json")).await;
    assert_eq!(
        (
            response["statusCode"].as_u64(),
            body(&response)["error"].as_str()
        ),
        (Some(400), Some("invalid_grant"))
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let hint = function
        .json_logs()
        .into_iter()
        .find(|line| {
            line["message"]
                .as_str()
                .is_some_and(|m| m.contains("check AUTHSIGNAL_API_URL"))
        })
        .expect("a hint for the operator");
    assert_eq!(hint["level"], "ERROR");
    function.stop();
}

#[tokio::test]
async fn verification_methods_are_checked_and_the_refused_one_is_named_for_the_operator() {
    let upstreams = Upstreams::start().await;
    upstreams.auth0_answers(tokens()).await;
    for (token, verification) in [
        ("canary-passkey-token", "PASSKEY"),
        ("canary-sms-token", "SMS"),
    ] {
        Mock::given(method("POST"))
            .and(path("/v1/validate"))
            .and(body_partial_json(json!({ "token": token })))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "isValid": true, "state": "CHALLENGE_SUCCEEDED", "userId": USER_ID,
                "verificationMethod": verification
            })))
            .mount(&upstreams.authsignal)
            .await;
    }
    let mut runtime = RuntimeApi::start().await;
    let vars = with(
        &upstreams.vars(),
        &[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AUTHSIGNAL_VERIFICATION_METHODS", "PASSKEY,FACE_ID"),
        ],
    );
    let mut function = Function::start(&runtime, &vars);
    let passkey = runtime
        .respond(&sign_in_event("canary-passkey-token"))
        .await;
    assert_eq!(passkey["statusCode"], 200);
    let sms = runtime.respond(&sign_in_event("canary-sms-token")).await;
    assert_eq!(
        (sms["statusCode"].as_u64(), body(&sms)["error"].as_str()),
        (Some(400), Some("invalid_grant"))
    );
    let lines = summaries(&function, 2).await;
    assert_eq!(
        lines[1]["detail"],
        "challenge not accepted: verification method SMS is not allowed"
    );
    let output = function.stop();
    // A name Authsignal does not document is accepted, with one WARN at start-up.
    let warnings: Vec<&String> = output
        .iter()
        .filter(|line| line.contains("FACE_ID") && line.contains(r#""level":"WARN""#))
        .collect();
    assert_eq!(warnings.len(), 1, "{output:#?}");
}
