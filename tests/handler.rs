//! Handler tests: one per row of the answer table (docs/api.md, docs/behaviour.md) (and the request rules), built
//! from the `events/` fixtures, with wiremock standing in for Authsignal and Auth0.
//!
//! The fixtures are deserialised into `lambda_http`'s event type and handed to
//! `Handler::handle_event`, the function the runtime calls, rather than turned into an
//! `http::Request` with `lambda_http::request::from_str`: production does not use that
//! conversion (it panics on some valid events, see `src/http.rs`), so the tests do not either.

mod support;

use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use support::*;
use wiremock::ResponseTemplate;

fn http_api() -> Value {
    event("http-api-token.json")
}

// ---- success ---------------------------------------------------------------------------------

#[tokio::test]
async fn success_returns_auth0s_token_json_unchanged() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let handler = handler(&upstreams.vars()).await;

    let answer = call(&handler, &http_api()).await;

    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.text,
        token_json().to_string(),
        "byte-for-byte passthrough"
    );
}

#[tokio::test]
async fn authsignal_gets_basic_auth_and_the_token_as_json() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    call(&handler(&upstreams.vars()).await, &http_api()).await;

    let requests = upstreams.authsignal_requests().await;
    assert_eq!(requests.len(), 1);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{AUTHSIGNAL_SECRET}:"));
    assert_eq!(
        requests[0].headers.get("authorization").unwrap(),
        &format!("Basic {basic}")
    );
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        body,
        json!({ "token": TOKEN }),
        "no action unless AUTHSIGNAL_ACTION is set"
    );
}

#[tokio::test]
async fn authsignal_gets_the_action_when_one_is_configured() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let vars = with(
        &upstreams.vars(),
        &[("AUTHSIGNAL_ACTION", "signInWithPasskey")],
    );
    let answer = call(&handler(&vars).await, &http_api()).await;
    assert_eq!(answer.status, 200);
    let body: Value =
        serde_json::from_slice(&upstreams.authsignal_requests().await[0].body).unwrap();
    assert_eq!(
        body,
        json!({ "token": TOKEN, "action": "signInWithPasskey" })
    );
}

#[tokio::test]
async fn auth0_gets_the_password_realm_grant_with_the_user_and_the_bridges_assertion() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let vars = with(
        &upstreams.vars(),
        &[("AUTH0_AUDIENCE", "https://api.example.com")],
    );
    call(&handler(&vars).await, &http_api()).await;

    let requests = upstreams.auth0_requests().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].headers.get("content-type").unwrap(),
        "application/x-www-form-urlencoded"
    );
    let form = form(&requests[0]);
    let expected: Vec<(&str, &str)> = vec![
        (
            "grant_type",
            "http://auth0.com/oauth/grant-type/password-realm",
        ),
        ("realm", "authsignal"),
        ("username", USER_ID),
        ("client_id", AUTH0_CLIENT_ID),
        ("client_secret", AUTH0_CLIENT_SECRET),
        ("scope", "openid profile email"),
        ("audience", "https://api.example.com"),
    ];
    for (name, value) in &expected {
        assert_eq!(form.get(*name).map(String::as_str), Some(*value), "{name}");
    }
    // The password is the assertion the bridge signed for this user (tests/sign_in_proof.rs).
    assert_eq!(assertion_claims(&requests[0])["sub"], USER_ID);
    assert_eq!(form.len(), expected.len() + 1);
}

#[tokio::test]
async fn the_password_grant_omits_the_realm() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let vars = with(
        &upstreams.vars(),
        &[("AUTH0_GRANT_TYPE", "password"), ("AUTH0_REALM", "x")],
    );
    assert_eq!(call(&handler(&vars).await, &http_api()).await.status, 200);
    let form = form(&upstreams.auth0_requests().await[0]);
    assert_eq!(form["grant_type"], "password");
    assert!(!form.contains_key("realm"));
    assert!(
        !form.contains_key("audience"),
        "no audience unless AUTH0_AUDIENCE is set"
    );
}

#[tokio::test]
async fn the_callers_ip_is_forwarded_to_auth0_from_each_event_source() {
    for (fixture, ip) in [
        ("http-api-token.json", "203.0.113.10"),
        ("function-url-token.json", "203.0.113.10"),
        ("rest-api-token.json", "198.51.100.7"),
    ] {
        let upstreams = Upstreams::start().await;
        upstreams.happy_path().await;
        let answer = call(&handler(&upstreams.vars()).await, &event(fixture)).await;
        assert_eq!(answer.status, 200, "{fixture}");
        let request = &upstreams.auth0_requests().await[0];
        assert_eq!(
            request.headers.get("auth0-forwarded-for").unwrap(),
            ip,
            "{fixture}"
        );
    }
}

#[tokio::test]
async fn the_callers_ip_is_not_forwarded_when_turned_off() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let vars = with(&upstreams.vars(), &[("AUTH0_FORWARD_CLIENT_IP", "false")]);
    assert_eq!(call(&handler(&vars).await, &http_api()).await.status, 200);
    assert!(upstreams.auth0_requests().await[0]
        .headers
        .get("auth0-forwarded-for")
        .is_none());
}

#[tokio::test]
async fn a_client_supplied_forwarded_for_header_is_not_trusted() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let mut event = http_api();
    event["headers"]["x-forwarded-for"] = json!("1.2.3.4");
    event["headers"]["auth0-forwarded-for"] = json!("1.2.3.4");
    call(&handler(&upstreams.vars()).await, &event).await;
    let request = &upstreams.auth0_requests().await[0];
    assert_eq!(
        request.headers.get("auth0-forwarded-for").unwrap(),
        "203.0.113.10"
    );
}

#[tokio::test]
async fn every_event_source_and_base64_bodies_succeed() {
    for fixture in [
        "http-api-token.json",
        "http-api-token-base64.json",
        "rest-api-token.json",
        "function-url-token.json",
    ] {
        let upstreams = Upstreams::start().await;
        upstreams.happy_path().await;
        let answer = call(&handler(&upstreams.vars()).await, &event(fixture)).await;
        assert_eq!((fixture, answer.status), (fixture, 200));
        assert_eq!(answer.json()["access_token"], ACCESS_TOKEN);
    }
}

// ---- request rules -------------------------------------------------------------------------

#[tokio::test]
async fn a_method_other_than_post_is_405_with_allow_post() {
    let upstreams = Upstreams::start().await;
    let handler = handler(&upstreams.vars()).await;
    for verb in ["GET", "PUT", "DELETE", "OPTIONS", "PATCH"] {
        let mut event = event("http-api-get.json");
        event["requestContext"]["http"]["method"] = json!(verb);
        let answer = call(&handler, &event).await;
        assert_eq!(answer.status, 405, "{verb}");
        assert_eq!(answer.header("allow"), Some("POST"));
        assert_eq!(answer.error(), "invalid_request");
    }
    let mut rest = event("rest-api-token.json");
    rest["httpMethod"] = json!("GET");
    assert_eq!(call(&handler, &rest).await.status, 405);
    assert!(upstreams.authsignal_requests().await.is_empty());
}

#[tokio::test]
async fn a_body_over_8_kib_is_413() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let handler = handler(&upstreams.vars()).await;
    let padded = |size: usize| {
        let head = format!(r#"{{"token":"{TOKEN}","pad":""#);
        let pad = "x".repeat(size - head.len() - 2);
        format!("{head}{pad}\"}}")
    };
    let at_limit = padded(8192);
    assert_eq!(at_limit.len(), 8192);
    assert_eq!(
        call(&handler, &with_body(http_api(), &at_limit))
            .await
            .status,
        200
    );

    let over = padded(8193);
    let answer = call(&handler, &with_body(http_api(), &over)).await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.error(), "invalid_request");
    assert_eq!(
        upstreams.authsignal_requests().await.len(),
        1,
        "only the first reached Authsignal"
    );
}

#[tokio::test]
async fn the_body_limit_is_measured_after_base64_decoding() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let handler = handler(&upstreams.vars()).await;
    let encode = |text: &str| {
        let mut event = http_api();
        event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(text));
        event["isBase64Encoded"] = json!(true);
        event
    };
    // 8192 bytes decoded is 10924 characters encoded: over 8 KiB on the wire, still accepted.
    let at_limit = format!(
        r#"{{"token":"{TOKEN}"}}{}"#,
        " ".repeat(8192 - TOKEN.len() - 12)
    );
    assert_eq!(at_limit.len(), 8192);
    assert_eq!(call(&handler, &encode(&at_limit)).await.status, 200);
    let over = format!("{at_limit} ");
    assert_eq!(call(&handler, &encode(&over)).await.status, 413);
}

#[tokio::test]
async fn a_bad_body_is_400_invalid_request_saying_what_is_wrong() {
    let upstreams = Upstreams::start().await;
    let handler = handler(&upstreams.vars()).await;
    let long_token = "t".repeat(4097);
    let long = format!(r#"{{"token":"{long_token}"}}"#);
    let nested = format!(r#"{{"token":{}{}}}"#, "[".repeat(4_000), "]".repeat(4_000));
    let cases: Vec<(&str, &str)> = vec![
        ("", "body is empty"),
        ("   ", "body is empty"),
        ("token=abc", "body is not valid JSON"),
        (r#"{"token": "abc""#, "body is not valid JSON"),
        (&nested, "body is not valid JSON"),
        ("[\"abc\"]", "body must be a JSON object"),
        ("\"abc\"", "body must be a JSON object"),
        ("null", "body must be a JSON object"),
        ("{}", "token is missing"),
        (r#"{"token":null}"#, "token is missing"),
        (r#"{"Token":"abc"}"#, "token is missing"),
        (r#"{"token":123}"#, "token must be a string"),
        (r#"{"token":["abc"]}"#, "token must be a string"),
        (r#"{"token":""}"#, "token is missing or empty"),
        (&long, "token is longer than 4096 bytes"),
    ];
    for (body, description) in cases {
        let answer = call(&handler, &with_body(http_api(), body)).await;
        assert_eq!(answer.status, 400, "{body:.40}");
        assert_eq!(answer.error(), "invalid_request", "{body:.40}");
        let text = answer.json()["error_description"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(text.starts_with(description), "{body:.40}: {text}");
    }
    let fixture = call(&handler, &event("http-api-malformed-body.json")).await;
    assert_eq!(
        (fixture.status, fixture.error().as_str()),
        (400, "invalid_request")
    );
    assert!(
        upstreams.authsignal_requests().await.is_empty(),
        "no upstream call for a bad request"
    );
}

#[tokio::test]
async fn a_token_of_exactly_4096_bytes_is_accepted() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let body = format!(r#"{{"token":"{}"}}"#, "t".repeat(4096));
    let answer = call(
        &handler(&upstreams.vars()).await,
        &with_body(http_api(), &body),
    )
    .await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn a_broken_base64_body_is_400_not_an_invocation_error() {
    let upstreams = Upstreams::start().await;
    let handler = handler(&upstreams.vars()).await;
    let mut event = http_api();
    event["body"] = json!("eyJ0b2tlbiI6!!not-base64!!");
    event["isBase64Encoded"] = json!(true);
    let response = call_raw(&handler, &event).await;
    assert_eq!(response["statusCode"], 400);
    assert_eq!(response["headers"]["x-request-id"], REQUEST_ID);
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn odd_but_valid_events_get_an_answer_not_a_panic() {
    // `lambda_http`'s own conversion to `http::Request` panics on each of these.
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let handler = handler(&upstreams.vars()).await;
    let mut quoted_query = http_api();
    quoted_query["rawQueryString"] = json!("a=\"<b>\"&c={}");
    let mut bad_host = http_api();
    bad_host["headers"]["host"] = json!("exa mple.com:99999");
    bad_host["headers"]["x-forwarded-proto"] = json!("not a scheme");
    let mut odd_path = event("rest-api-token.json");
    odd_path["path"] = json!("/to ken/\"x\"/token");
    odd_path["queryStringParameters"] = json!({"a b": "\"<>\""});
    for event in [quoted_query, bad_host, odd_path] {
        let answer = call(&handler, &event).await;
        assert_eq!(answer.status, 200, "{event}");
    }
}

#[tokio::test]
async fn answers_use_the_event_sources_response_format() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let handler = handler(&upstreams.vars()).await;

    let rest = call_raw(&handler, &event("rest-api-token.json")).await;
    assert_eq!(rest["statusCode"], 200);
    assert_eq!(
        rest["multiValueHeaders"]["cache-control"],
        json!(["no-store"])
    );
    assert_eq!(rest["isBase64Encoded"], false);
    let body: Value = serde_json::from_str(rest["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["access_token"], ACCESS_TOKEN);

    let http = call_raw(&handler, &event("function-url-token.json")).await;
    assert_eq!(http["statusCode"], 200);
    assert_eq!(http["headers"]["cache-control"], "no-store");
    assert_eq!(http["headers"]["content-type"], "application/json");
}

// ---- Authsignal's verdict ------------------------------------------------------------------

async fn authsignal_verdict(answer: ResponseTemplate, vars: &[(&str, &str)]) -> (Answer, usize) {
    let upstreams = Upstreams::start().await;
    upstreams.authsignal_answers(answer).await;
    upstreams.auth0_answers(tokens()).await;
    let handler = handler(&with(&upstreams.vars(), vars)).await;
    let answer = call(&handler, &http_api()).await;
    (answer, upstreams.auth0_requests().await.len())
}

#[tokio::test]
async fn an_authsignal_token_that_is_not_valid_is_400_invalid_grant() {
    let verdicts = [
        json!({"isValid": false, "state": "CHALLENGE_SUCCEEDED", "userId": USER_ID}),
        json!({"isValid": false, "error": "Token is invalid or expired"}),
        json!({"isValid": true, "state": "CHALLENGE_FAILED", "userId": USER_ID}),
        json!({"isValid": true, "state": "CHALLENGE_REQUIRED", "userId": USER_ID}),
        json!({"isValid": true, "state": "ALLOW", "userId": USER_ID}),
    ];
    for verdict in verdicts {
        let (answer, auth0_calls) =
            authsignal_verdict(ResponseTemplate::new(200).set_body_json(&verdict), &[]).await;
        assert_eq!(
            (answer.status, answer.error().as_str()),
            (400, "invalid_grant"),
            "{verdict}"
        );
        assert_eq!(
            auth0_calls, 0,
            "Auth0 is only called after a succeeded challenge"
        );
    }
}

#[tokio::test]
async fn a_token_for_another_action_is_400_invalid_grant() {
    let verdict = json!({"isValid": true, "state": "CHALLENGE_SUCCEEDED", "userId": USER_ID, "action": "transferFunds"});
    let (answer, auth0_calls) = authsignal_verdict(
        ResponseTemplate::new(200).set_body_json(&verdict),
        &[("AUTHSIGNAL_ACTION", "signInWithPasskey")],
    )
    .await;
    assert_eq!(
        (answer.status, answer.error().as_str()),
        (400, "invalid_grant")
    );
    assert_eq!(auth0_calls, 0);

    let legacy = json!({"isValid": true, "state": "CHALLENGE_SUCCEEDED", "userId": USER_ID, "actionCode": "signInWithPasskey"});
    let (answer, _) = authsignal_verdict(
        ResponseTemplate::new(200).set_body_json(&legacy),
        &[("AUTHSIGNAL_ACTION", "signInWithPasskey")],
    )
    .await;
    assert_eq!(answer.status, 200, "the older actionCode field is read too");
}

#[tokio::test]
async fn a_challenge_passed_with_a_method_outside_the_allow_list_is_400_invalid_grant() {
    let verdict = |method: Option<&str>| {
        let mut verdict =
            json!({"isValid": true, "state": "CHALLENGE_SUCCEEDED", "userId": USER_ID});
        if let Some(method) = method {
            verdict["verificationMethod"] = json!(method);
        }
        ResponseTemplate::new(200).set_body_json(verdict)
    };
    let allow = [(
        "AUTHSIGNAL_VERIFICATION_METHODS",
        " PASSKEY , SECURITY_KEY ",
    )];
    for method in [Some("SMS"), Some("EMAIL_OTP"), Some("passkey"), None] {
        let (answer, auth0_calls) = authsignal_verdict(verdict(method), &allow).await;
        assert_eq!(
            (answer.status, answer.error().as_str()),
            (400, "invalid_grant"),
            "{method:?}"
        );
        assert_eq!(auth0_calls, 0, "{method:?}");
    }
    for method in ["PASSKEY", "SECURITY_KEY"] {
        let (answer, _) = authsignal_verdict(verdict(Some(method)), &allow).await;
        assert_eq!(answer.status, 200, "{method}");
    }
    // Unset: any method (and none) passes, with or without replay protection.
    let (answer, _) = authsignal_verdict(verdict(Some("SMS")), &[]).await;
    assert_eq!(answer.status, 200);
    let (answer, _) = authsignal_verdict(verdict(None), &[]).await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn authsignal_refusing_the_token_is_400_invalid_grant() {
    for status in [400, 404, 409, 422] {
        let body = json!({"error": "invalid_request", "errorDescription": "token expired"});
        let (answer, auth0_calls) =
            authsignal_verdict(ResponseTemplate::new(status).set_body_json(body), &[]).await;
        assert_eq!(
            (answer.status, answer.error().as_str()),
            (400, "invalid_grant"),
            "{status}"
        );
        assert_eq!(auth0_calls, 0);
    }
}

#[tokio::test]
async fn authsignal_rate_limiting_is_429_with_its_retry_after() {
    let (answer, _) = authsignal_verdict(
        ResponseTemplate::new(429)
            .insert_header("retry-after", "17")
            .set_body_json(json!({"error": "too_many_requests"})),
        &[],
    )
    .await;
    assert_eq!(
        (answer.status, answer.error().as_str()),
        (429, "temporarily_unavailable")
    );
    assert_eq!(answer.header("retry-after"), Some("17"));

    let (answer, _) = authsignal_verdict(ResponseTemplate::new(429), &[]).await;
    assert_eq!(answer.status, 429);
    assert_eq!(
        answer.header("retry-after"),
        None,
        "none when Authsignal sent none"
    );
}

#[tokio::test]
async fn authsignal_rejecting_our_secret_is_500_server_error_when_a_refresh_brings_nothing_new() {
    // Environment credentials cannot change, so the refresh finds nothing new and the call is
    // not retried. (Rotation with a real refresh: tests/secrets_manager.rs.)
    for status in [401, 403] {
        let upstreams = Upstreams::start().await;
        upstreams
            .authsignal_answers(ResponseTemplate::new(status).set_body_json(
                json!({"error": "unauthorized", "errorDescription": "The request is unauthorized."}),
            ))
            .await;
        upstreams.auth0_answers(tokens()).await;
        let answer = call(&handler(&upstreams.vars()).await, &http_api()).await;
        assert_eq!(
            (answer.status, answer.error().as_str()),
            (500, "server_error"),
            "{status}"
        );
        assert_eq!(
            upstreams.authsignal_requests().await.len(),
            1,
            "no retry with the same secret"
        );
        assert!(upstreams.auth0_requests().await.is_empty());
    }
}

// ---- Auth0's answer ------------------------------------------------------------------------

async fn auth0_answer(answer: ResponseTemplate) -> Answer {
    let upstreams = Upstreams::start().await;
    upstreams.authsignal_answers(challenge_succeeded()).await;
    upstreams.auth0_answers(answer).await;
    call(&handler(&upstreams.vars()).await, &http_api()).await
}

#[tokio::test]
async fn an_auth0_oauth_error_is_passed_through_with_its_status() {
    let cases = [
        (
            403,
            json!({"error": "invalid_grant", "error_description": "Wrong email or password."}),
        ),
        (
            403,
            json!({"error": "unauthorized_client", "error_description": "Grant type 'http://auth0.com/oauth/grant-type/password-realm' not allowed for the client."}),
        ),
        (
            403,
            json!({"error": "mfa_required", "error_description": "Multifactor authentication required", "mfa_token": "Fe26.2*mfa"}),
        ),
        (
            400,
            json!({"error": "invalid_request", "error_description": "Missing required parameter: username"}),
        ),
        (
            403,
            json!({"error": "access_denied", "error_description": "Unauthorized"}),
        ),
    ];
    for (status, body) in cases {
        let raw = body.to_string();
        let answer = auth0_answer(
            ResponseTemplate::new(status).set_body_raw(raw.clone(), "application/json"),
        )
        .await;
        assert_eq!(answer.status, status);
        assert_eq!(answer.text, raw, "Auth0's body unchanged");
        assert_eq!(answer.header("retry-after"), None);
    }
}

#[tokio::test]
async fn an_auth0_answer_echoing_our_client_secret_is_not_passed_on() {
    for status in [200, 400, 403] {
        let echo = json!({
            "error": "invalid_request",
            "error_description": format!("bad client_secret={AUTH0_CLIENT_SECRET}"),
            "access_token": ACCESS_TOKEN,
        });
        let answer = auth0_answer(ResponseTemplate::new(status).set_body_json(echo)).await;
        assert_eq!(
            (answer.status, answer.error().as_str()),
            (502, "temporarily_unavailable"),
            "{status}"
        );
        assert!(!answer.text.contains(AUTH0_CLIENT_SECRET));
    }
}

#[tokio::test]
async fn auth0_rate_limiting_is_429_with_retry_after() {
    let body = json!({"error": "too_many_attempts", "error_description": "Your account has been blocked after multiple consecutive login attempts."}).to_string();
    let own = auth0_answer(
        ResponseTemplate::new(429)
            .insert_header("retry-after", "42")
            .insert_header("x-ratelimit-reset", "9999999999")
            .set_body_raw(body.clone(), "application/json"),
    )
    .await;
    assert_eq!((own.status, own.header("retry-after")), (429, Some("42")));
    assert_eq!(own.text, body);

    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    let computed = auth0_answer(
        ResponseTemplate::new(429)
            .insert_header("x-ratelimit-limit", "10")
            .insert_header("x-ratelimit-remaining", "0")
            .insert_header("x-ratelimit-reset", reset.to_string().as_str())
            .set_body_raw(body.clone(), "application/json"),
    )
    .await;
    let seconds: u64 = computed.header("retry-after").unwrap().parse().unwrap();
    assert!((58..=60).contains(&seconds), "{seconds}");

    let past = auth0_answer(
        ResponseTemplate::new(429)
            .insert_header("x-ratelimit-reset", "1000")
            .set_body_raw(body.clone(), "application/json"),
    )
    .await;
    assert_eq!(past.header("retry-after"), Some("1"), "at least 1");

    let none =
        auth0_answer(ResponseTemplate::new(429).set_body_raw(body, "application/json")).await;
    assert_eq!((none.status, none.header("retry-after")), (429, None));
}

#[tokio::test]
async fn auth0_rejecting_our_client_credentials_is_500_server_error_when_a_refresh_brings_nothing_new(
) {
    for code in ["invalid_client", "access_denied"] {
        let body = json!({"error": code, "error_description": "Unauthorized"});
        let upstreams = Upstreams::start().await;
        upstreams.authsignal_answers(challenge_succeeded()).await;
        upstreams
            .auth0_answers(ResponseTemplate::new(401).set_body_json(body))
            .await;
        let answer = call(&handler(&upstreams.vars()).await, &http_api()).await;
        assert_eq!(
            (answer.status, answer.error().as_str()),
            (500, "server_error"),
            "{code}"
        );
        assert!(
            !answer.text.contains("Unauthorized"),
            "Auth0's text is not passed on"
        );
        assert_eq!(
            upstreams.auth0_requests().await.len(),
            1,
            "no retry with the same secret"
        );
    }
}

// ---- upstream failures ---------------------------------------------------------------------

#[tokio::test]
async fn an_unusable_upstream_answer_is_502_temporarily_unavailable() {
    let broken = || {
        vec![
            ResponseTemplate::new(500).set_body_json(json!({"error": "server_error"})),
            ResponseTemplate::new(503).set_body_string("Service Unavailable"),
            ResponseTemplate::new(200).set_body_raw("<html>maintenance</html>", "text/html"),
            ResponseTemplate::new(200).set_body_json(json!({"unexpected": true})),
            ResponseTemplate::new(200).set_body_raw(vec![b'x'; 200 * 1024], "application/json"),
            ResponseTemplate::new(302).insert_header("location", "https://example.com/"),
        ]
    };
    for answer in broken() {
        let (got, _) = authsignal_verdict(answer, &[]).await;
        assert_eq!(
            (got.status, got.error().as_str()),
            (502, "temporarily_unavailable"),
            "authsignal"
        );
    }
    let shapeless = ResponseTemplate::new(200)
        .set_body_json(json!({"isValid": true, "state": "CHALLENGE_SUCCEEDED"}));
    let (got, auth0_calls) = authsignal_verdict(shapeless, &[]).await;
    assert_eq!(
        (got.status, auth0_calls),
        (502, 0),
        "isValid without userId"
    );

    for answer in broken() {
        let got = auth0_answer(answer).await;
        assert_eq!(
            (got.status, got.error().as_str()),
            (502, "temporarily_unavailable"),
            "auth0"
        );
    }
}

#[tokio::test]
async fn an_unreachable_upstream_is_502() {
    // A port that was just free: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let vars = with(
        &upstreams.vars(),
        &[("AUTHSIGNAL_API_URL", &format!("http://{closed}/v1"))],
    );
    let answer = call(&handler(&vars).await, &http_api()).await;
    assert_eq!(
        (answer.status, answer.error().as_str()),
        (502, "temporarily_unavailable")
    );

    let vars = with(
        &upstreams.vars(),
        &[("AUTH0_DOMAIN", &format!("http://{closed}"))],
    );
    let answer = call(&handler(&vars).await, &http_api()).await;
    assert_eq!(
        (answer.status, answer.error().as_str()),
        (502, "temporarily_unavailable")
    );
}

#[tokio::test]
async fn a_slow_upstream_is_504_after_the_upstream_timeout() {
    let slow = || tokens().set_delay(Duration::from_secs(3));
    let upstreams = Upstreams::start().await;
    upstreams
        .authsignal_answers(challenge_succeeded().set_delay(Duration::from_secs(3)))
        .await;
    let vars = with(&upstreams.vars(), &[("UPSTREAM_TIMEOUT_MS", "200")]);
    let started = std::time::Instant::now();
    let answer = call(&handler(&vars).await, &http_api()).await;
    assert_eq!(
        (answer.status, answer.error().as_str()),
        (504, "temporarily_unavailable")
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "cut off at the timeout"
    );

    let upstreams = Upstreams::start().await;
    upstreams.authsignal_answers(challenge_succeeded()).await;
    upstreams.auth0_answers(slow()).await;
    let vars = with(&upstreams.vars(), &[("UPSTREAM_TIMEOUT_MS", "200")]);
    let answer = call(&handler(&vars).await, &http_api()).await;
    assert_eq!(answer.status, 504);
}

#[tokio::test]
async fn a_call_gets_no_more_than_the_time_left_before_the_lambda_deadline() {
    let upstreams = Upstreams::start().await;
    upstreams
        .authsignal_answers(challenge_succeeded().set_delay(Duration::from_secs(3)))
        .await;
    // 5 s allowed per call, but the Lambda deadline is 1.2 s away (0.7 s after the margin).
    let vars = with(&upstreams.vars(), &[("UPSTREAM_TIMEOUT_MS", "5000")]);
    let started = std::time::Instant::now();
    let answer = call_with_budget(
        &handler(&vars).await,
        &http_api(),
        Duration::from_millis(1200),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(answer.status, 504);
    assert!(
        took < Duration::from_millis(1000),
        "answered before the deadline: {took:?}"
    );
}

#[tokio::test]
async fn no_call_starts_once_the_budget_is_spent() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    // Deadline inside the safety margin: no time for any call.
    let answer = call_with_budget(
        &handler(&upstreams.vars()).await,
        &http_api(),
        Duration::from_millis(400),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error().as_str()),
        (504, "temporarily_unavailable")
    );
    assert!(upstreams.authsignal_requests().await.is_empty());
}

// ---- our own configuration -----------------------------------------------------------------

#[tokio::test]
async fn missing_credentials_are_500_server_error() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let vars = without(&upstreams.vars(), "AUTH0_CLIENT_SECRET");
    let answer = call(&handler(&vars).await, &http_api()).await;
    assert_eq!(
        (answer.status, answer.error().as_str()),
        (500, "server_error")
    );
    assert!(upstreams.authsignal_requests().await.is_empty());
}

#[tokio::test]
async fn an_invalid_setting_answers_every_request_with_500() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let vars = with(
        &upstreams.vars(),
        &[("AUTHSIGNAL_API_URL", "http://api.authsignal.com/v1")],
    );
    let handler = handler(&vars).await;
    let too_large = with_body(http_api(), &"x".repeat(9000));
    let mut broken_base64 = http_api();
    broken_base64["body"] = json!("!!!");
    broken_base64["isBase64Encoded"] = json!(true);
    let events = [
        event("http-api-token.json"),
        event("http-api-get.json"),
        event("rest-api-token.json"),
        event("http-api-revoke.json"),
        at_path(event("http-api-refresh.json"), "/unknown"),
        too_large,
        broken_base64,
    ];
    for event in events {
        let answer = call(&handler, &event).await;
        assert_eq!(
            (answer.status, answer.error().as_str()),
            (500, "server_error")
        );
    }
    assert!(upstreams.authsignal_requests().await.is_empty());
}

// ---- routes ----------------------------------------------------------------------------------

#[tokio::test]
async fn the_last_path_segment_picks_the_endpoint_with_stages_base_paths_and_a_trailing_slash() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    upstreams.auth0_revoke_answers(revoked()).await;
    let handler = handler(&upstreams.vars()).await;
    for (fixture, path) in [
        ("http-api-token.json", "/token"),
        ("http-api-token.json", "/token/"),
        ("http-api-token.json", "/auth/v1/token"),
        ("rest-api-token.json", "/prod/token"),
        ("function-url-token.json", "/"),
        ("function-url-token.json", ""),
    ] {
        let answer = call(&handler, &at_path(event(fixture), path)).await;
        assert_eq!(answer.status, 200, "{fixture} {path}");
        assert_eq!(answer.json()["access_token"], ACCESS_TOKEN);
    }
    for path in ["/revoke", "/v1/revoke/", "/prod/revoke"] {
        let answer = call(&handler, &at_path(event("http-api-revoke.json"), path)).await;
        assert_eq!(
            (path, answer.status, answer.text.as_str()),
            (path, 200, "{}")
        );
    }
    assert_eq!(upstreams.auth0_requests().await.len(), 6);
    assert_eq!(upstreams.auth0_revoke_requests().await.len(), 3);
}

#[tokio::test]
async fn any_other_path_is_404_unknown_endpoint_and_reaches_no_upstream() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    upstreams.auth0_revoke_answers(revoked()).await;
    let handler = handler(&upstreams.vars()).await;
    for fixture in [
        "http-api-refresh.json",
        "http-api-token.json",
        "http-api-revoke.json",
    ] {
        for path in [
            "/tokens",
            "/Token",
            "/token/x",
            "/oauth/token2",
            "/tok%65n",
            "/revoke.json",
        ] {
            let answer = call(&handler, &at_path(event(fixture), path)).await;
            assert_eq!(answer.status, 404, "{fixture} {path}");
            assert_eq!(
                answer.json(),
                json!({"error": "invalid_request", "error_description": "unknown endpoint"})
            );
        }
    }
    // The route is checked before the method.
    let get = at_path(event("http-api-get.json"), "/elsewhere");
    assert_eq!(call(&handler, &get).await.status, 404);
    let rest = at_path(event("rest-api-token.json"), "/prod/refresh");
    assert_eq!(call(&handler, &rest).await.status, 404);
    assert!(upstreams.untouched().await);
}

#[tokio::test]
async fn method_size_and_body_rules_apply_to_the_revocation_endpoint_too() {
    let upstreams = Upstreams::start().await;
    let handler = handler(&upstreams.vars()).await;
    let mut get = event("http-api-revoke.json");
    get["requestContext"]["http"]["method"] = json!("GET");
    let answer = call(&handler, &get).await;
    assert_eq!((answer.status, answer.header("allow")), (405, Some("POST")));
    let huge = format!("token={}", "t".repeat(8 * 1024));
    let answer = call(&handler, &form_body(event("http-api-revoke.json"), &huge)).await;
    assert_eq!(answer.status, 413);
    for (body, description) in [
        ("", "body is empty"),
        ("token_type_hint=refresh_token", "token is missing or empty"),
        ("token=", "token is missing or empty"),
        ("token=a&token=b", "token is sent twice"),
        (r#"{"token":5}"#, "token must be a string"),
    ] {
        let answer = call(&handler, &form_body(event("http-api-revoke.json"), body)).await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(answer.error(), "invalid_request");
        let text = answer.json()["error_description"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(text.starts_with(description), "{body}: {text}");
    }
    assert!(upstreams.untouched().await);
}

// ---- body encodings --------------------------------------------------------------------------

/// `event` with a form body (not base64-encoded) and the form content type.
fn form_body(mut event: Value, body: &str) -> Value {
    event["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
    with_body(event, body)
}

#[tokio::test]
async fn a_sign_in_can_be_an_oauth_form_as_api_gateway_delivers_it_base64_encoded() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let handler = handler(&upstreams.vars()).await;
    let form = format!(
        "token={}",
        url::form_urlencoded::byte_serialize(TOKEN.as_bytes()).collect::<String>()
    );
    let mut event = form_body(http_api(), &form);
    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(&form));
    event["isBase64Encoded"] = json!(true);
    let answer = call(&handler, &event).await;
    assert_eq!(answer.status, 200);
    let sent: Value =
        serde_json::from_slice(&upstreams.authsignal_requests().await[0].body).unwrap();
    assert_eq!(sent["token"], TOKEN);
}

#[tokio::test]
async fn json_labelled_as_a_form_is_read_as_json_and_a_form_needs_its_content_type() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let handler = handler(&upstreams.vars()).await;
    // What `curl -d '{"token":"..."}'` sends.
    let curl = form_body(http_api(), &format!(" {{\"token\":\"{TOKEN}\"}}"));
    assert_eq!(call(&handler, &curl).await.status, 200);
    // A form labelled as JSON (or not labelled) is read as JSON, and is not JSON.
    for content_type in ["application/json", "text/plain"] {
        let mut event = with_body(http_api(), "token=abc");
        event["headers"]["content-type"] = json!(content_type);
        let answer = call(&handler, &event).await;
        assert_eq!(answer.status, 400);
        assert_eq!(answer.json()["error_description"], "body is not valid JSON");
    }
    assert_eq!(upstreams.authsignal_requests().await.len(), 1);
}

#[tokio::test]
async fn repeated_parameters_foreign_charsets_and_non_utf8_bytes_are_400() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let handler = handler(&upstreams.vars()).await;
    let base64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut cases = vec![
        (
            form_body(http_api(), "token=a&token=b"),
            "token is sent twice",
        ),
        (
            with_body(http_api(), r#"{"token":"a","token":"b"}"#),
            "token is sent twice",
        ),
        (
            form_body(
                event("http-api-refresh.json"),
                "grant_type=refresh_token&refresh_token=a&refresh_token=b",
            ),
            "refresh_token is sent twice",
        ),
        (form_body(http_api(), "token=%E9t%E9"), "form is not UTF-8"),
    ];
    let mut latin1 = form_body(http_api(), "token=abc");
    latin1["headers"]["content-type"] =
        json!("application/x-www-form-urlencoded; charset=ISO-8859-1");
    cases.push((latin1, "only the UTF-8 charset is accepted"));
    let mut raw_bytes = form_body(http_api(), "");
    raw_bytes["body"] = json!(base64(b"token=caf\xe9"));
    raw_bytes["isBase64Encoded"] = json!(true);
    cases.push((raw_bytes, "form is not UTF-8"));
    let mut json_bytes = with_body(http_api(), "");
    json_bytes["body"] = json!(base64(b"{\"token\":\"caf\xe9\"}"));
    json_bytes["isBase64Encoded"] = json!(true);
    cases.push((json_bytes, "body is not valid JSON"));
    for (event, description) in cases {
        let answer = call(&handler, &event).await;
        assert_eq!(answer.status, 400, "{description}");
        assert_eq!(answer.error(), "invalid_request");
        let text = answer.json()["error_description"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(text.starts_with(description), "{description}: {text}");
    }
    assert!(upstreams.authsignal_requests().await.is_empty());
    assert!(upstreams.auth0_requests().await.is_empty());
}

#[tokio::test]
async fn empty_or_null_parameters_count_as_omitted() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let handler = handler(&upstreams.vars()).await;
    // An empty or null grant_type is a sign-in.
    for event in [
        form_body(http_api(), &format!("grant_type=&token={TOKEN}")),
        with_body(
            http_api(),
            &json!({"grant_type": null, "token": TOKEN}).to_string(),
        ),
        with_body(
            http_api(),
            &json!({"grant_type": "", "token": TOKEN}).to_string(),
        ),
    ] {
        assert_eq!(call(&handler, &event).await.status, 200);
    }
    // An empty scope is not sent.
    upstreams.auth0.reset().await;
    upstreams.auth0_answers(refreshed_tokens()).await;
    let refresh = form_body(
        event("http-api-refresh.json"),
        &format!("grant_type=refresh_token&refresh_token={FIXTURE_REFRESH_TOKEN}&scope="),
    );
    assert_eq!(call(&handler, &refresh).await.status, 200);
    assert!(!form(&upstreams.auth0_requests().await[0]).contains_key("scope"));
}

// ---- the refresh grant -----------------------------------------------------------------------

#[tokio::test]
async fn a_refresh_redeems_the_refresh_token_with_the_bridges_client_credentials_in_both_encodings()
{
    for fixture in ["http-api-refresh.json", "http-api-refresh-form.json"] {
        let upstreams = Upstreams::start().await;
        upstreams.happy_path().await;
        upstreams.auth0.reset().await;
        upstreams.auth0_answers(refreshed_tokens()).await;
        let answer = call(&handler(&upstreams.vars()).await, &event(fixture)).await;

        assert_eq!(answer.status, 200, "{fixture}");
        assert_eq!(
            answer.text,
            refreshed_token_json().to_string(),
            "byte-for-byte, rotated token included"
        );
        assert!(
            upstreams.authsignal_requests().await.is_empty(),
            "Authsignal is not called"
        );
        let requests = upstreams.auth0_requests().await;
        assert_eq!(requests.len(), 1);
        assert_eq!(
            requests[0].headers.get("content-type").unwrap(),
            "application/x-www-form-urlencoded"
        );
        assert_eq!(
            requests[0].headers.get("auth0-forwarded-for").unwrap(),
            "203.0.113.10"
        );
        let sent = form(&requests[0]);
        let expected = [
            ("grant_type", "refresh_token"),
            ("refresh_token", FIXTURE_REFRESH_TOKEN),
            ("client_id", AUTH0_CLIENT_ID),
            ("client_secret", AUTH0_CLIENT_SECRET),
        ];
        for (name, value) in expected {
            assert_eq!(
                sent.get(name).map(String::as_str),
                Some(value),
                "{fixture}: {name}"
            );
        }
        assert_eq!(sent.len(), expected.len(), "{fixture}: {sent:?}");
    }
}

#[tokio::test]
async fn a_refresh_passes_a_narrowed_scope_and_never_the_callers_client_credentials() {
    let upstreams = Upstreams::start().await;
    upstreams.auth0_answers(refreshed_tokens()).await;
    let handler = handler(&upstreams.vars()).await;
    let body = format!(
        "grant_type=refresh_token&refresh_token={FIXTURE_REFRESH_TOKEN}&scope=openid+email\
         &client_id=app-client&client_secret=app-made-up-secret&audience=https%3A%2F%2Fevil"
    );
    let answer = call(&handler, &form_body(event("http-api-refresh.json"), &body)).await;
    assert_eq!(answer.status, 200);
    let request = &upstreams.auth0_requests().await[0];
    let sent = form(request);
    assert_eq!(sent["scope"], "openid email");
    assert_eq!(sent["client_id"], AUTH0_CLIENT_ID);
    assert_eq!(sent["client_secret"], AUTH0_CLIENT_SECRET);
    assert!(!sent.contains_key("audience"));
    let raw = String::from_utf8_lossy(&request.body);
    assert!(
        !raw.contains("app-made-up-secret") && !raw.contains("app-client"),
        "{raw}"
    );
    // An Authorization header the app sends is not forwarded either.
    assert!(request.headers.get("authorization").is_none());
}

#[tokio::test]
async fn a_refresh_answer_without_a_new_refresh_token_is_passed_through() {
    let upstreams = Upstreams::start().await;
    let without_rotation = json!({
        "access_token": REFRESHED_ACCESS_TOKEN,
        "expires_in": 86400,
        "token_type": "Bearer",
        "scope": "openid"
    });
    upstreams
        .auth0_answers(
            ResponseTemplate::new(200)
                .set_body_raw(without_rotation.to_string(), "application/json"),
        )
        .await;
    let answer = call(
        &handler(&upstreams.vars()).await,
        &event("http-api-refresh.json"),
    )
    .await;
    assert_eq!(
        (answer.status, answer.text),
        (200, without_rotation.to_string())
    );
}

#[tokio::test]
async fn an_unknown_expired_or_reused_refresh_token_is_auth0s_403_invalid_grant_unchanged() {
    let upstreams = Upstreams::start().await;
    upstreams.auth0_answers(unknown_refresh_token()).await;
    let answer = call(
        &handler(&upstreams.vars()).await,
        &event("http-api-refresh-form.json"),
    )
    .await;
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.json(),
        json!({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."})
    );
}

#[tokio::test]
async fn any_other_grant_type_is_400_unsupported_grant_type_without_an_upstream_call() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let handler = handler(&upstreams.vars()).await;
    for body in [
        "grant_type=password&username=u&password=p".to_owned(),
        "grant_type=client_credentials".to_owned(),
        "grant_type=http%3A%2F%2Fauth0.com%2Foauth%2Fgrant-type%2Fpassword-realm".to_owned(),
        format!("grant_type=authorization_code&token={TOKEN}"),
    ] {
        let answer = call(&handler, &form_body(http_api(), &body)).await;
        assert_eq!(
            (answer.status, answer.error().as_str()),
            (400, "unsupported_grant_type"),
            "{body}"
        );
    }
    let answer = call(
        &handler,
        &with_body(http_api(), r#"{"grant_type":"mfa-oob"}"#),
    )
    .await;
    assert_eq!(answer.error(), "unsupported_grant_type");
    assert!(upstreams.authsignal_requests().await.is_empty());
    assert!(upstreams.auth0_requests().await.is_empty());
}

#[tokio::test]
async fn a_revocation_shaped_body_at_the_token_endpoint_is_400_and_reaches_no_upstream() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let handler = handler(&upstreams.vars()).await;
    // The revocation fixture's own body, and a refresh sent without its grant type.
    let revocation = event("http-api-revoke.json");
    let at_the_token_endpoint = at_path(revocation, "/token");
    let answer = call(&handler, &at_the_token_endpoint).await;
    assert_eq!(
        (answer.status, answer.error().as_str()),
        (400, "invalid_request")
    );
    for body in [
        format!(r#"{{"token":"{FIXTURE_REFRESH_TOKEN}","token_type_hint":"refresh_token"}}"#),
        format!(r#"{{"refresh_token":"{FIXTURE_REFRESH_TOKEN}"}}"#),
        format!(r#"{{"token":"{TOKEN}","refresh_token":"{FIXTURE_REFRESH_TOKEN}"}}"#),
    ] {
        let answer = call(&handler, &with_body(http_api(), &body)).await;
        assert_eq!(
            (answer.status, answer.error().as_str()),
            (400, "invalid_request"),
            "{body}"
        );
        assert!(answer.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("refresh_token or token_type_hint"));
    }
    assert!(
        upstreams.untouched().await,
        "the refresh token reached nobody"
    );
}

#[tokio::test]
async fn a_refresh_without_a_usable_refresh_token_is_400_invalid_request() {
    let upstreams = Upstreams::start().await;
    let handler = handler(&upstreams.vars()).await;
    let long = "r".repeat(4097);
    for (body, description) in [
        (
            r#"{"grant_type":"refresh_token"}"#.to_owned(),
            "refresh_token is missing or empty",
        ),
        (
            r#"{"grant_type":"refresh_token","refresh_token":null}"#.to_owned(),
            "refresh_token is missing or empty",
        ),
        (
            r#"{"grant_type":"refresh_token","refresh_token":{"a":1}}"#.to_owned(),
            "refresh_token must be a string",
        ),
        (
            format!(r#"{{"grant_type":"refresh_token","refresh_token":"{long}"}}"#),
            "refresh_token is longer than 4096 bytes",
        ),
        (
            format!(
                r#"{{"grant_type":"refresh_token","refresh_token":"r","scope":"{}"}}"#,
                "s".repeat(1025)
            ),
            "scope is longer than 1024 bytes",
        ),
        (
            r#"{"grant_type":"refresh_token","refresh_token":"r","scope":["openid"]}"#.to_owned(),
            "scope must be a string",
        ),
    ] {
        let answer = call(&handler, &with_body(event("http-api-refresh.json"), &body)).await;
        assert_eq!(
            (answer.status, answer.error().as_str()),
            (400, "invalid_request"),
            "{body:.60}"
        );
        assert_eq!(answer.json()["error_description"], description);
    }
    assert!(upstreams.untouched().await);
}

#[tokio::test]
async fn refresh_and_revocation_failures_get_the_same_answers_as_the_sign_in() {
    for (fixture, mount_path) in [
        ("http-api-refresh.json", "/oauth/token"),
        ("http-api-revoke.json", "/oauth/revoke"),
    ] {
        for (answer, status, error, retry_after) in [
            (
                ResponseTemplate::new(429)
                    .insert_header("retry-after", "17")
                    .set_body_json(
                        json!({"error": "too_many_requests", "error_description": "slow down"}),
                    ),
                429,
                "too_many_requests",
                Some("17"),
            ),
            (
                ResponseTemplate::new(429),
                429,
                "temporarily_unavailable",
                None,
            ),
            (
                ResponseTemplate::new(503).set_body_string("down"),
                502,
                "temporarily_unavailable",
                None,
            ),
            // A refresh needs a token answer; a revocation's 200 needs no body at all.
            (
                ResponseTemplate::new(200).set_body_string("<html/>"),
                if mount_path == "/oauth/token" {
                    502
                } else {
                    200
                },
                "temporarily_unavailable",
                None,
            ),
            (
                ResponseTemplate::new(200).set_delay(Duration::from_secs(3)),
                504,
                "temporarily_unavailable",
                None,
            ),
        ] {
            let upstreams = Upstreams::start().await;
            wiremock::Mock::given(wiremock::matchers::method("POST"))
                .and(wiremock::matchers::path(mount_path))
                .respond_with(answer)
                .mount(&upstreams.auth0)
                .await;
            let got = call(&handler(&upstreams.vars()).await, &event(fixture)).await;
            assert_eq!(got.status, status, "{fixture}: {}", got.text);
            if status != 200 {
                assert_eq!(got.error(), error, "{fixture}");
            }
            assert_eq!(got.header("retry-after"), retry_after, "{fixture}");
        }
    }
}

#[tokio::test]
async fn rejected_client_credentials_on_refresh_or_revocation_are_500_when_a_refresh_brings_nothing_new(
) {
    for fixture in ["http-api-refresh.json", "http-api-revoke.json"] {
        let upstreams = Upstreams::start().await;
        let rejected = ResponseTemplate::new(401)
            .set_body_json(json!({"error": "access_denied", "error_description": "Unauthorized"}));
        upstreams.auth0_answers(rejected.clone()).await;
        upstreams.auth0_revoke_answers(rejected).await;
        let answer = call(&handler(&upstreams.vars()).await, &event(fixture)).await;
        assert_eq!(
            (answer.status, answer.error().as_str()),
            (500, "server_error"),
            "{fixture}"
        );
        // The values did not change, so the call is not retried.
        assert_eq!(
            upstreams.auth0.received_requests().await.unwrap().len(),
            1,
            "{fixture}"
        );
    }
}

// ---- revocation ------------------------------------------------------------------------------

#[tokio::test]
async fn a_revocation_posts_json_with_the_bridges_credentials_and_answers_200_with_an_empty_object()
{
    let upstreams = Upstreams::start().await;
    upstreams.auth0_revoke_answers(revoked()).await;
    let handler = handler(&upstreams.vars()).await;
    for event in [
        event("http-api-revoke.json"),
        with_body(
            event("http-api-revoke.json"),
            &json!({"token": FIXTURE_REFRESH_TOKEN, "client_id": "app", "client_secret": "app-secret"}).to_string(),
        ),
    ] {
        let answer = call(&handler, &event).await;
        assert_eq!((answer.status, answer.text.as_str()), (200, "{}"));
    }
    let requests = upstreams.auth0_revoke_requests().await;
    assert_eq!(requests.len(), 2);
    for request in requests {
        assert_eq!(
            request.headers.get("content-type").unwrap(),
            "application/json"
        );
        let sent: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            sent,
            json!({"client_id": AUTH0_CLIENT_ID, "client_secret": AUTH0_CLIENT_SECRET, "token": FIXTURE_REFRESH_TOKEN})
        );
    }
    assert!(upstreams.authsignal_requests().await.is_empty());
}

#[tokio::test]
async fn auth0_refusing_to_revoke_an_invalid_or_revoked_token_is_still_200_for_the_app() {
    for (status, code) in [
        (403, "invalid_grant"),
        (400, "invalid_grant"),
        (400, "invalid_token"),
        (400, "unsupported_token_type"),
    ] {
        let upstreams = Upstreams::start().await;
        upstreams
            .auth0_revoke_answers(
                ResponseTemplate::new(status)
                    .set_body_json(json!({"error": code, "error_description": "no such token"})),
            )
            .await;
        let answer = call(
            &handler(&upstreams.vars()).await,
            &event("http-api-revoke.json"),
        )
        .await;
        assert_eq!(
            (answer.status, answer.text.as_str()),
            (200, "{}"),
            "{status} {code}"
        );
    }
}

#[tokio::test]
async fn auth0_refusing_a_revocation_for_another_reason_is_passed_through_not_a_sign_out() {
    for (status, code) in [(400, "invalid_request"), (403, "unauthorized_client")] {
        let upstreams = Upstreams::start().await;
        let body = json!({"error": code, "error_description": "not about the token"});
        upstreams
            .auth0_revoke_answers(ResponseTemplate::new(status).set_body_json(&body))
            .await;
        let answer = call(
            &handler(&upstreams.vars()).await,
            &event("http-api-revoke.json"),
        )
        .await;
        assert_eq!((answer.status, answer.json()), (status, body), "{code}");
    }
}
