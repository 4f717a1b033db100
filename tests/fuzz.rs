//! Property-based fuzzing (proptest) of the two parsers that see hostile bytes:
//! - the request edge: API Gateway and function URL events of valid shape with hostile paths,
//!   methods, headers, content types, bodies (JSON and OAuth forms, every grant) and base64
//!   flags, handed to `Handler::handle_event` as the runtime does;
//! - the upstream answer parsing: Authsignal's validate answer and Auth0's token/error answer,
//!   with arbitrary statuses, headers and bodies served by the stand-ins.
//!
//! Properties: no panic and no invocation error; every answer is one of docs/behaviour.md's, with
//! its headers and a JSON body carrying `error` when it is not a 200; a request the rules
//! rejects reaches no upstream; a 200 only ever carries Auth0's token JSON.
//!
//! CI runs `PROPTEST_CASES` cases per target (defaults below); run longer with e.g.
//! `PROPTEST_CASES=20000 cargo test --release --test fuzz`.

mod support;

use std::sync::OnceLock;

use base64::Engine;
use proptest::prelude::*;
use serde_json::{json, Value};
use support::*;
use wiremock::ResponseTemplate;

/// Statuses docs/behaviour.md allows the function to answer with.
const DOCUMENTED_STATUSES: &[u16] = &[
    200, 400, 401, 403, 404, 405, 409, 413, 422, 429, 500, 502, 503, 504,
];

struct Harness {
    runtime: tokio::runtime::Runtime,
    upstreams: Upstreams,
    handler: authsignal_auth0_bridge::edge::http::Handler,
}

/// One runtime, one pair of stand-ins and one handler for all cases (as a warm Lambda). The
/// stand-ins are shared, so a case holds the lock while it sets them up and calls the handler.
fn harness() -> (&'static Harness, std::sync::MutexGuard<'static, ()>) {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    (shared_harness(), guard)
}

fn shared_harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let upstreams = runtime.block_on(Upstreams::start());
        let vars = with(&upstreams.vars(), &[("UPSTREAM_TIMEOUT_MS", "2000")]);
        let handler = runtime.block_on(handler(&vars));
        Harness {
            runtime,
            upstreams,
            handler,
        }
    })
}

fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("regressions"),
        )),
        ..ProptestConfig::default()
    }
}

/// Form bodies: the bridge's parameters and others, repeated, empty, percent-encoded or not.
fn hostile_form() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("token".to_owned()),
        Just("grant_type".to_owned()),
        Just("refresh_token".to_owned()),
        Just("scope".to_owned()),
        Just("client_secret".to_owned()),
        "[a-z_%+=]{0,12}",
    ];
    let value = prop_oneof![
        Just("refresh_token".to_owned()),
        Just(TOKEN.to_owned()),
        Just(FIXTURE_REFRESH_TOKEN.to_owned()),
        Just(String::new()),
        "(%[0-9A-Fa-f]{2}|%[g-z]{0,2}|[a-zA-Z0-9+._~-]){0,40}",
        "[a-z]{4090,4100}",
        any::<String>(),
    ];
    proptest::collection::vec((name, proptest::option::of(value)), 0..6).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(name, value)| match value {
                Some(value) => format!("{name}={value}"),
                None => name,
            })
            .collect::<Vec<_>>()
            .join("&")
    })
}

/// Bodies an attacker might send: arbitrary text, JSON-shaped text, deep nesting, huge tokens,
/// forms, every grant.
fn hostile_body() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just(json!(TOKEN)),
        any::<String>().prop_map(Value::String),
        "[a-zA-Z0-9._-]{0,5000}".prop_map(Value::String),
        any::<i64>().prop_map(|n| json!(n)),
        Just(Value::Null),
        Just(json!(["a"])),
        Just(json!({"nested": TOKEN})),
    ];
    prop_oneof![
        any::<String>(),
        ".{0,64}",
        token
            .clone()
            .prop_map(|token| json!({ "token": token }).to_string()),
        (token, "[a-z]{1,8}", any::<String>())
            .prop_map(|(token, key, value)| { json!({ "token": token, key: value }).to_string() }),
        (1usize..400).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
        (1usize..400).prop_map(|depth| format!(
            r#"{{"token":{}"x"{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )),
        (8000usize..12000).prop_map(|size| format!(r#"{{"token":"{}"}}"#, "t".repeat(size))),
        Just(String::new()),
        hostile_form(),
        (
            prop_oneof![
                Just(json!("refresh_token")),
                Just(json!("password")),
                Just(Value::Null),
                Just(json!(1))
            ],
            prop_oneof![
                Just(json!(FIXTURE_REFRESH_TOKEN)),
                Just(json!("")),
                Just(json!(["r"])),
                any::<String>().prop_map(Value::String)
            ],
            proptest::option::of(prop_oneof![
                Just(json!("openid")),
                Just(json!(7)),
                "[a-z ]{1020,1030}".prop_map(Value::String)
            ]),
        )
            .prop_map(|(grant, refresh_token, scope)| {
                let mut body = json!({"grant_type": grant, "refresh_token": refresh_token});
                if let Some(scope) = scope {
                    body["scope"] = scope;
                }
                body.to_string()
            }),
        Just(r#"{"token":"a","token":"b"}"#.to_owned()),
    ]
}

fn header_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,20}"
}

prop_compose! {
    /// An API Gateway (HTTP API, function URL or REST API) event with hostile parts.
    fn hostile_event()(
        fixture in prop_oneof![
            Just("http-api-token.json"),
            Just("function-url-token.json"),
            Just("rest-api-token.json"),
        ],
        method in prop_oneof![
            6 => Just("POST".to_owned()),
            1 => Just("GET".to_owned()),
            1 => Just("PUT".to_owned()),
            1 => Just("OPTIONS".to_owned()),
            1 => "[A-Z]{1,10}",
        ],
        path in prop_oneof![
            3 => Just("/token".to_owned()),
            2 => Just("/revoke".to_owned()),
            1 => Just("/".to_owned()),
            1 => Just("/prod/token/".to_owned()),
            1 => Just("/v1/revoke".to_owned()),
            1 => "/[ -~]{0,20}",
        ],
        content_type in prop_oneof![
            Just("application/json".to_owned()),
            Just("application/x-www-form-urlencoded".to_owned()),
            Just("application/x-www-form-urlencoded; charset=UTF-8".to_owned()),
            Just("application/x-www-form-urlencoded; charset=latin1".to_owned()),
            "[ -~]{0,40}",
        ],
        body in hostile_body(),
        encode in any::<bool>(),
        garble_base64 in any::<bool>(),
        drop_body in any::<bool>(),
        headers in proptest::collection::vec((header_name(), "[ -~]{0,40}"), 0..6),
        query in "[ -~]{0,40}",
        source_ip in prop_oneof![Just("203.0.113.10".to_owned()), Just("::1".to_owned()), "[ -~]{0,20}"],
    ) -> Value {
        let mut event = at_path(event(fixture), &path);
        let rest = fixture.starts_with("rest");
        if rest {
            event["httpMethod"] = json!(method);
            event["requestContext"]["identity"]["sourceIp"] = json!(source_ip);
            event["queryStringParameters"] = json!({ "q": query });
            event["headers"]["Content-Type"] = json!(content_type);
        } else {
            event["requestContext"]["http"]["method"] = json!(method);
            event["requestContext"]["http"]["sourceIp"] = json!(source_ip);
            event["rawQueryString"] = json!(query);
            event["headers"]["content-type"] = json!(content_type);
        }
        for (name, value) in headers {
            event["headers"][name.as_str()] = json!(value);
        }
        if drop_body {
            event.as_object_mut().unwrap().remove("body");
        } else if encode {
            let mut encoded = base64::engine::general_purpose::STANDARD.encode(&body);
            if garble_base64 {
                encoded.insert(encoded.len() / 2, '%');
            }
            event["body"] = json!(encoded);
            event["isBase64Encoded"] = json!(true);
        } else {
            event["body"] = json!(body);
            event["isBase64Encoded"] = json!(false);
        }
        event
    }
}

/// Checks the documented invariants on one answer; returns its status.
fn check_answer(response: &Value) -> u16 {
    let answer = Answer::from_gateway_response(response);
    assert!(
        DOCUMENTED_STATUSES.contains(&answer.status),
        "status {}",
        answer.status
    );
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(answer.header("pragma"), Some("no-cache"));
    assert_eq!(answer.header("x-request-id"), Some(REQUEST_ID));
    let body = answer.json();
    if answer.status == 200 {
        assert!(
            body["access_token"] == ACCESS_TOKEN || body == json!({}),
            "a 200 carries Auth0's tokens or a revocation's empty object only: {}",
            answer.text
        );
    } else {
        assert!(
            body["error"].is_string(),
            "non-2xx without error: {}",
            answer.text
        );
    }
    if answer.status == 405 {
        assert_eq!(answer.header("allow"), Some("POST"));
    }
    answer.status
}

proptest! {
    #![proptest_config(cases(2048))]

    #[test]
    fn every_hostile_request_gets_a_documented_answer(event in hostile_event()) {
        let (harness, _one_case_at_a_time) = harness();
        harness.runtime.block_on(async {
            harness.upstreams.authsignal.reset().await;
            harness.upstreams.auth0.reset().await;
            harness.upstreams.happy_path().await;
            harness.upstreams.auth0_revoke_answers(revoked()).await;
            let response = call_raw(&harness.handler, &event).await;
            let status = check_answer(&response);
            let answer = Answer::from_gateway_response(&response);
            let rejected_by_edge = matches!(status, 404 | 405 | 413)
                || (status == 400
                    && ["invalid_request", "unsupported_grant_type"].contains(&answer.error().as_str()));
            if status == 200 && answer.text == "{}" {
                assert_eq!(harness.upstreams.auth0_revoke_requests().await.len(), 1);
            }
            // Every request of any method (the helpers count only POSTs).
            let upstream_calls = harness.upstreams.authsignal.received_requests().await.unwrap().len()
                + harness.upstreams.auth0.received_requests().await.unwrap().len();
            if rejected_by_edge {
                assert_eq!(upstream_calls, 0, "a rejected request reached an upstream");
            }
        });
    }
}

/// Arbitrary upstream answers: statuses, a few headers, bodies from garbage to near-valid JSON.
fn upstream_answer() -> impl Strategy<Value = (u16, Option<String>, Vec<u8>)> {
    let status = prop_oneof![
        Just(200u16),
        Just(201),
        Just(204),
        Just(301),
        Just(400),
        Just(401),
        Just(403),
        Just(404),
        Just(429),
        Just(500),
        Just(503),
        100u16..600,
    ];
    let retry_after = proptest::option::of(prop_oneof!["[0-9]{1,12}", "[ -~]{0,20}"]);
    let body = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        any::<String>().prop_map(String::into_bytes),
        Just(br#"{"isValid":true,"state":"CHALLENGE_SUCCEEDED","userId":"u"}"#.to_vec()),
        Just(br#"{"isValid":true,"state":"CHALLENGE_SUCCEEDED"}"#.to_vec()),
        Just(br#"{"isValid":"true","userId":5}"#.to_vec()),
        Just(br#"{"access_token":"x"}"#.to_vec()),
        Just(br#"{"access_token":7,"error":"e"}"#.to_vec()),
        Just(br#"{"error":"invalid_grant","error_description":"no"}"#.to_vec()),
        Just(br#"{"error":{"nested":true}}"#.to_vec()),
        (1usize..300)
            .prop_map(|depth| format!("{}1{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()),
    ];
    (status, retry_after, body)
}

fn template(status: u16, retry_after: &Option<String>, body: &[u8]) -> ResponseTemplate {
    let mut answer = ResponseTemplate::new(status).set_body_raw(body.to_vec(), "application/json");
    if let Some(value) = retry_after {
        answer = answer.insert_header("retry-after", value.as_str());
    }
    answer
}

/// What an answer built from Auth0's `body` may be: a 200 with Auth0's bytes and a string
/// `access_token`; Auth0's own 4xx OAuth error passed through, or one of the documented errors;
/// `Retry-After` only on a 429; never a secret.
fn check_auth0_answer(answer: &Answer, body: &[u8]) {
    if answer.status == 200 {
        assert_eq!(answer.text.as_bytes(), body);
        assert!(answer.json()["access_token"].is_string());
    } else {
        let passthrough = (400..500).contains(&answer.status) && answer.text.as_bytes() == body;
        assert!(
            DOCUMENTED_STATUSES.contains(&answer.status) || passthrough,
            "status {}",
            answer.status
        );
        assert!(answer.json()["error"].is_string(), "{}", answer.text);
        assert_eq!(answer.header("cache-control"), Some("no-store"));
    }
    if let Some(seconds) = answer.header("retry-after") {
        assert_eq!(answer.status, 429);
        assert!(seconds.parse::<u64>().is_ok());
    }
    for secret in [AUTHSIGNAL_SECRET, AUTH0_CLIENT_SECRET] {
        assert!(!answer.text.contains(secret));
    }
}

proptest! {
    #![proptest_config(cases(1024))]

    #[test]
    fn every_authsignal_answer_is_turned_into_a_documented_answer(
        (status, retry_after, body) in upstream_answer()
    ) {
        let (harness, _one_case_at_a_time) = harness();
        harness.runtime.block_on(async {
            harness.upstreams.authsignal.reset().await;
            harness.upstreams.auth0.reset().await;
            harness.upstreams.authsignal_answers(template(status, &retry_after, &body)).await;
            harness.upstreams.auth0_answers(tokens()).await;
            let response = call_raw(&harness.handler, &event("http-api-token.json")).await;
            let answered = check_answer(&response);
            let auth0_called = !harness.upstreams.auth0_requests().await.is_empty();
            if auth0_called {
                // Only a succeeded challenge with a user id reaches Auth0.
                let verdict: Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(verdict["state"], "CHALLENGE_SUCCEEDED");
                assert!(verdict["userId"].is_string());
            } else {
                assert_ne!(answered, 200);
            }
        });
    }

    #[test]
    fn every_auth0_answer_is_turned_into_a_documented_answer(
        (status, retry_after, body) in upstream_answer()
    ) {
        let (harness, _one_case_at_a_time) = harness();
        harness.runtime.block_on(async {
            harness.upstreams.authsignal.reset().await;
            harness.upstreams.auth0.reset().await;
            harness.upstreams.authsignal_answers(challenge_succeeded()).await;
            harness.upstreams.auth0_answers(template(status, &retry_after, &body)).await;
            let response = call_raw(&harness.handler, &event("http-api-token.json")).await;
            check_auth0_answer(&Answer::from_gateway_response(&response), &body);
        });
    }

    #[test]
    fn every_auth0_answer_to_a_refresh_or_revocation_is_turned_into_a_documented_answer(
        fixture in prop_oneof![
            Just("http-api-refresh.json"),
            Just("http-api-refresh-form.json"),
            Just("http-api-revoke.json"),
        ],
        (status, retry_after, body) in upstream_answer()
    ) {
        let (harness, _one_case_at_a_time) = harness();
        harness.runtime.block_on(async {
            harness.upstreams.authsignal.reset().await;
            harness.upstreams.auth0.reset().await;
            harness.upstreams.auth0_answers(template(status, &retry_after, &body)).await;
            harness.upstreams.auth0_revoke_answers(template(status, &retry_after, &body)).await;
            let response = call_raw(&harness.handler, &event(fixture)).await;
            let answer = Answer::from_gateway_response(&response);
            if answer.status == 200 && fixture.contains("revoke") {
                // Revoked, or Auth0 said the token is not a live one (RFC 7009).
                assert_eq!(answer.text, "{}");
                let about_the_token = serde_json::from_slice::<Value>(&body).is_ok_and(|value| {
                    ["invalid_grant", "invalid_token", "unsupported_token_type"]
                        .contains(&value["error"].as_str().unwrap_or_default())
                });
                assert!((200..300).contains(&status) || (matches!(status, 400 | 403) && about_the_token), "{status}");
            } else {
                check_auth0_answer(&answer, &body);
            }
            assert!(harness.upstreams.authsignal.received_requests().await.unwrap().is_empty());
            assert!(!answer.text.contains(FIXTURE_REFRESH_TOKEN));
        });
    }
}
