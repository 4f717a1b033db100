//! Sign-up by verified email (docs/behaviour.md, "Sign-up"), through `Handler::handle_event`
//! with wiremock for Authsignal: bad input and a sign-up while off get a clear 4xx and call
//! nobody; the user Authsignal holds for a verified email, else a new one; the tracked action's
//! attributes; the same answer whether the email is known; Authsignal's failures; the cooldown
//! records in moto's DynamoDB (those tests need moto: `make test` runs them); and the sign-in
//! refused until the email is verified. The whole journey against the Authsignal stand-in, with
//! the real binary, is tests/sign_up_journey.rs.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::moto::{create_replay_table, replay_records, Moto};
use support::*;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, ResponseTemplate};

const TABLE: &str = "bridge-replay";
const BUDGET: Duration = Duration::from_secs(30);
const EMAIL: &str = "ada@example.com";
/// A verified owner of [`EMAIL`] at Authsignal.
const KNOWN_USER: &str = "user-ada-verified";

fn sign_up_event(body: &str) -> Value {
    with_body(event("http-api-sign-up.json"), body)
}

/// The bridge's variables with sign-up on, its records in `table`.
fn sign_up_vars(upstreams: &Upstreams, table: &str) -> Vec<(String, String)> {
    with(
        &with(&upstreams.vars(), &SIGN_UP_ON),
        &[("REPLAY_TABLE", table)],
    )
}

/// Authsignal's answer to `GET /v1/users?email=`: these users.
async fn users_with_email(upstreams: &Upstreams, users: Value) {
    Mock::given(method("GET"))
        .and(path("/v1/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "users": users })))
        .mount(&upstreams.authsignal)
        .await;
}

/// Authsignal's answer to a tracked action: a token for the app's SDK.
async fn track_answers(upstreams: &Upstreams, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path_regex("^/v1/users/[^/]+/actions/signUp$"))
        .respond_with(answer)
        .mount(&upstreams.authsignal)
        .await;
}

fn tracked(state: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "idempotencyKey": "0f3c1d2e-7a8b-4c9d-9e0f-1a2b3c4d5e6f",
        "state": state,
        "url": "https://example.authsignal.com/challenge",
        "token": "canary-track-token-41c9",
        "isEnrolled": state != "ALLOW"
    }))
}

/// The tracked actions Authsignal received: (path, body).
async fn tracks(upstreams: &Upstreams) -> Vec<(String, Value)> {
    upstreams
        .authsignal_requests()
        .await
        .into_iter()
        .filter(|request| request.url.path().contains("/actions/"))
        .map(|request| {
            (
                request.url.path().to_owned(),
                serde_json::from_slice(&request.body).unwrap(),
            )
        })
        .collect()
}

/// A new, empty table in `moto` for case `case` of a test (one moto per test: it is a process).
async fn fresh_table(moto: &Moto, case: usize) -> String {
    let table = format!("{TABLE}-{case}");
    create_replay_table(&moto.dynamodb_admin().await, &table).await;
    table
}

// ---- refused before any upstream is called ------------------------------------------------

#[tokio::test]
async fn bad_input_is_a_clear_400_and_calls_nobody() {
    let upstreams = Upstreams::start().await;
    let handler = handler(&sign_up_vars(&upstreams, TABLE)).await;
    let long = format!(r#"{{"email":"{}@example.com"}}"#, "a".repeat(250));
    for (body, said) in [
        (r#"{"email":"ada"}"#, "email must be an address like name@example.com"),
        (r#"{"email":"ada@localhost"}"#, "email's domain is not a domain name like example.com"),
        (r#"{"email":"\"ada\"@example.com"}"#, "email's part before the @ is not a plain address (letters, digits, . and !#$%&'*+/=?^_`{|}~-)"),
        (long.as_str(), "email is longer than 254 bytes"),
        (r#"{"email":"ada@example.com","password":"x"}"#, "a sign-up takes only email"),
        (r#"{"email":"ada@example.com","email":"eve@example.com"}"#, "email is sent twice"),
        (r#"{"email":["ada@example.com"]}"#, "email must be a string"),
        (r#"{}"#, "email is missing or empty"),
        (r#"{"email":null}"#, "email is missing or empty"),
    ] {
        let answer = call(&handler, &sign_up_event(body)).await;
        assert_eq!(
            (answer.status, answer.error(), answer.json()["error_description"].as_str()),
            (400, "invalid_request".to_owned(), Some(said)),
            "{body}"
        );
    }
    assert!(
        upstreams.untouched().await,
        "no upstream call for bad input"
    );
}

#[tokio::test]
async fn a_sign_up_while_off_is_404_like_any_unknown_path_and_calls_nobody() {
    let upstreams = Upstreams::start().await;
    let handler = handler(&upstreams.vars()).await;
    // With sign-up on, a bad email would be a 400 and a GET a 405: off, the path itself is
    // unknown, before the method or the body is read.
    let mut get = event("http-api-sign-up.json");
    get["requestContext"]["http"]["method"] = json!("GET");
    for (case, request) in [
        ("HTTP API", event("http-api-sign-up.json")),
        ("REST API", event("rest-api-sign-up.json")),
        ("a bad email", sign_up_event(r#"{"email":"x"}"#)),
        ("a GET", get),
    ] {
        let answer = call(&handler, &request).await;
        assert_eq!(
            (answer.status, answer.json()),
            (
                404,
                json!({"error": "invalid_request", "error_description": "unknown endpoint"})
            ),
            "{case}"
        );
    }
    assert!(upstreams.untouched().await);
}

#[tokio::test]
async fn an_email_domain_outside_the_allow_list_is_refused_before_any_upstream_call() {
    let upstreams = Upstreams::start().await;
    let vars = with(
        &sign_up_vars(&upstreams, TABLE),
        &[("SIGN_UP_EMAIL_DOMAINS", "example.org")],
    );
    let answer = call(&handler(&vars).await, &event("http-api-sign-up.json")).await;
    assert_eq!(
        (answer.status, answer.json()),
        (
            400,
            json!({"error": "invalid_request", "error_description": "this email domain cannot sign up"})
        )
    );
    assert!(upstreams.untouched().await);
}

// ---- the start: which user, what is tracked, the same answer for everyone -------------------

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn a_verified_owner_of_the_email_gets_the_token_else_a_new_user_and_the_answer_is_the_same() {
    let mut answers = Vec::new();
    let moto = Moto::start();
    for (n, (case, users)) in [
        (
            "known and verified",
            json!([{"userId": KNOWN_USER, "email": EMAIL, "emailVerified": true}]),
        ),
        ("unknown", json!([])),
        (
            "known but unverified",
            json!([{"userId": "user-squatter", "email": EMAIL, "emailVerified": false}]),
        ),
        (
            // Whatever Authsignal's query matched, only the address asked for counts.
            "a verified owner of another address",
            json!([
                {"userId": "user-squatter", "email": "ada@example.com.attacker.test", "emailVerified": true},
                {"userId": "user-squatter", "emailVerified": true}
            ]),
        ),
        (
            "the verified one of two",
            json!([
                {"userId": "user-squatter", "email": EMAIL, "emailVerified": false},
                {"userId": KNOWN_USER, "email": "Ada@Example.com", "emailVerified": true}
            ]),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let upstreams = Upstreams::start().await;
        users_with_email(&upstreams, users).await;
        track_answers(&upstreams, tracked("CHALLENGE_REQUIRED")).await;
        let table = fresh_table(&moto, n).await;
        let handler = handler_over_aws(&sign_up_vars(&upstreams, &table), moto.loader()).await;
        // Typed with capitals: Authsignal is asked, and the email tracked, lower-cased.
        let answer = call(&handler, &sign_up_event(r#"{"email":"Ada@Example.COM"}"#)).await;
        assert_eq!(answer.status, 200, "{case}: {answer:?}");
        answers.push((answer.headers.len(), answer.json()));

        let lookups = upstreams.authsignal.received_requests().await.unwrap();
        let query = lookups
            .iter()
            .find(|r| r.url.path() == "/v1/users")
            .expect("a lookup by email");
        assert_eq!(query.url.query(), Some("email=ada%40example.com"), "{case}");
        let tracks = tracks(&upstreams).await;
        assert_eq!(tracks.len(), 1, "{case}");
        let (track_path, attributes) = &tracks[0];
        let user = track_path
            .trim_start_matches("/v1/users/")
            .trim_end_matches("/actions/signUp");
        match case {
            "known and verified" | "the verified one of two" => assert_eq!(user, KNOWN_USER),
            // Never the account whose email nobody proved: a new user id.
            _ => {
                assert_ne!(user, "user-squatter", "{case}");
                assert_eq!(user.len(), 36, "a UUID: {user}");
            }
        }
        assert_eq!(
            attributes,
            &json!({"email": EMAIL, "ipAddress": "203.0.113.10", "userAgent": "ExampleApp/1.4.0 (iPhone; iOS 18.1) Authsignal/1.2"}),
            "{case}: no scope: add:authenticators comes only from the email challenge"
        );
    }
    assert!(
        answers.iter().all(|answer| answer == &answers[0]),
        "no account discovery: {answers:?}"
    );
    assert_eq!(answers[0].1, json!({"token": "canary-track-token-41c9"}));
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn authsignal_failures_map_as_validates_and_a_block_is_403() {
    let moto = Moto::start();
    for (n, (answer, status, error)) in [
        (tracked("BLOCK"), 403, "access_denied"),
        (
            ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_request"})),
            400,
            "invalid_request",
        ),
        (
            ResponseTemplate::new(429).insert_header("retry-after", "7"),
            429,
            "temporarily_unavailable",
        ),
        (ResponseTemplate::new(500), 502, "temporarily_unavailable"),
        (
            ResponseTemplate::new(200).set_body_string("<html>"),
            502,
            "temporarily_unavailable",
        ),
        (
            ResponseTemplate::new(401).set_body_json(json!({"error": "unauthorized"})),
            500,
            "server_error",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let upstreams = Upstreams::start().await;
        users_with_email(&upstreams, json!([])).await;
        track_answers(&upstreams, answer).await;
        let table = fresh_table(&moto, n).await;
        let handler = handler_over_aws(&sign_up_vars(&upstreams, &table), moto.loader()).await;
        let first = call(&handler, &event("http-api-sign-up.json")).await;
        assert_eq!(
            (first.status, first.error()),
            (status, error.to_owned()),
            "{first:?}"
        );
        assert!(
            !first.text.contains("canary-track-token"),
            "no token on a refusal"
        );
        // The sign-up did not start: its email cooldown was taken back, so a retry is not
        // refused by it.
        let cooldowns: Vec<_> = replay_records(&moto.dynamodb_admin().await, &table)
            .await
            .into_iter()
            .filter(|item| item["pk"].as_s().unwrap().starts_with("sign-up#email#"))
            .collect();
        assert!(cooldowns.is_empty(), "{status}: {cooldowns:?}");
    }
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn a_failed_lookup_by_email_tracks_nothing_and_is_answered_as_the_track_would_be() {
    let moto = Moto::start();
    for (n, (answer, status, error)) in [
        (
            ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_request"})),
            400,
            "invalid_request",
        ),
        (ResponseTemplate::new(503), 502, "temporarily_unavailable"),
        (
            ResponseTemplate::new(200).set_body_json(json!({"users": "none"})),
            502,
            "temporarily_unavailable",
        ),
        (
            ResponseTemplate::new(403).set_body_json(json!({"error": "forbidden"})),
            500,
            "server_error",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let upstreams = Upstreams::start().await;
        Mock::given(method("GET"))
            .and(path("/v1/users"))
            .respond_with(answer)
            .mount(&upstreams.authsignal)
            .await;
        track_answers(&upstreams, tracked("CHALLENGE_REQUIRED")).await;
        let table = fresh_table(&moto, n).await;
        let handler = handler_over_aws(&sign_up_vars(&upstreams, &table), moto.loader()).await;
        let answer = call(&handler, &event("http-api-sign-up.json")).await;
        assert_eq!(
            (answer.status, answer.error()),
            (status, error.to_owned()),
            "{answer:?}"
        );
        assert!(tracks(&upstreams).await.is_empty(), "{status}: no track");
    }
}

// ---- the cooldown records -------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn one_email_starts_one_sign_up_per_cooldown_and_one_address_a_few_per_window() {
    let upstreams = Upstreams::start().await;
    users_with_email(&upstreams, json!([])).await;
    track_answers(&upstreams, tracked("ALLOW")).await;
    let moto = Moto::start();
    let table = fresh_table(&moto, 0).await;
    let vars = with(
        &sign_up_vars(&upstreams, &table),
        &[("SIGN_UP_ADDRESS_LIMIT", "3")],
    );
    let handler = handler_over_aws(&vars, moto.loader()).await;

    let first = call_as(
        &handler,
        &event("http-api-sign-up.json"),
        "invocation-1",
        BUDGET,
    )
    .await;
    assert_eq!(first.status, 200);
    let again = call_as(
        &handler,
        &event("http-api-sign-up.json"),
        "invocation-2",
        BUDGET,
    )
    .await;
    assert_eq!(
        (again.status, again.error()),
        (429, "temporarily_unavailable".to_owned())
    );
    let wait: u64 = again.header("retry-after").unwrap().parse().unwrap();
    assert!((55..=60).contains(&wait), "the email's cooldown: {wait}");

    // Other addresses from the same caller: the window's third start is the last.
    let other =
        |n: usize| sign_up_event(&json!({ "email": format!("user{n}@example.com") }).to_string());
    let second = call_as(&handler, &other(2), "invocation-3", BUDGET).await;
    assert_eq!(second.status, 200, "{second:?}");
    let fourth = call_as(&handler, &other(3), "invocation-4", BUDGET).await;
    assert_eq!(
        (fourth.status, fourth.error()),
        (429, "temporarily_unavailable".to_owned()),
        "the address's limit"
    );
    assert!(fourth.header("retry-after").is_some());
    assert_eq!(
        tracks(&upstreams).await.len(),
        2,
        "refused starts call nobody"
    );

    // The records hold a hash of the address, never the address; and a TTL.
    let items = replay_records(&moto.dynamodb_admin().await, &table).await;
    let keys: Vec<&str> = items
        .iter()
        .map(|item| item["pk"].as_s().unwrap().as_str())
        .collect();
    let cooldown_of = |email: &str| {
        use sha2::{Digest, Sha256};
        format!("sign-up#email#{}", hex::encode(Sha256::digest(email)))
    };
    assert!(
        keys.contains(&cooldown_of(EMAIL).as_str())
            && keys.contains(&cooldown_of("user2@example.com").as_str()),
        "{keys:?}"
    );
    assert!(
        !keys.contains(&cooldown_of("user3@example.com").as_str()),
        "the start over the address's limit took its email's cooldown back: {keys:?}"
    );
    let counted = items
        .iter()
        .find(|item| {
            item["pk"]
                .as_s()
                .unwrap()
                .starts_with("sign-up#address#203.0.113.10#")
        })
        .expect("the address's count");
    assert_eq!(
        counted["attempts"].as_n().unwrap(),
        "3",
        "every start that reached the limits counts, the one refused by the email's cooldown too"
    );
    let text = format!("{items:?}");
    assert!(
        !text.contains(EMAIL) && !text.contains("user2@example.com"),
        "{text}"
    );
    assert!(
        items.iter().all(|item| item.contains_key("expires_at")),
        "{text}"
    );
}

// ---- the sign-in, until the email is verified ------------------------------------------------

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn with_sign_up_on_a_user_whose_email_is_not_verified_never_signs_in() {
    let moto = Moto::start();
    for (n, (profile, status)) in [
        (
            json!({"isEnrolled": true, "email": EMAIL, "emailVerified": false}),
            400,
        ),
        (json!({"isEnrolled": true, "email": EMAIL}), 400),
        (
            json!({"isEnrolled": true, "email": EMAIL, "emailVerified": true}),
            200,
        ),
        (json!({"isEnrolled": true}), 200),
    ]
    .into_iter()
    .enumerate()
    {
        let upstreams = Upstreams::start().await;
        upstreams.happy_path().await;
        upstreams
            .authsignal_user_answers(ResponseTemplate::new(200).set_body_json(profile.clone()))
            .await;
        let table = fresh_table(&moto, n).await;
        let handler = handler_over_aws(&sign_up_vars(&upstreams, &table), moto.loader()).await;
        let answer = call(&handler, &event("http-api-token.json")).await;
        assert_eq!(answer.status, status, "{profile}: {answer:?}");
        if status == 400 {
            assert_eq!(answer.error(), "invalid_grant");
            assert!(
                upstreams.auth0_requests().await.is_empty(),
                "Auth0 never asked"
            );
            let claims = replay_records(&moto.dynamodb_admin().await, &table).await;
            assert!(claims.is_empty(), "the claim taken back: {claims:?}");
        }
    }
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn with_sign_up_on_the_sign_up_action_signs_in_only_with_an_allowed_method() {
    let moto = Moto::start();
    for (n, (action, method_used, status)) in [
        ("signUp", "PASSKEY", 200),
        ("signUp", "EMAIL_OTP", 400),
        ("signInWithPasskey", "PASSKEY", 200),
        ("stepUpPayment", "PASSKEY", 400),
    ]
    .into_iter()
    .enumerate()
    {
        let upstreams = Upstreams::start().await;
        upstreams
            .authsignal_answers(ResponseTemplate::new(200).set_body_json(json!({
                "isValid": true, "state": "CHALLENGE_SUCCEEDED", "userId": USER_ID,
                "action": action, "idempotencyKey": format!("{action}-{method_used}"),
                "verificationMethod": method_used
            })))
            .await;
        upstreams.auth0_answers(tokens()).await;
        let table = fresh_table(&moto, n).await;
        let handler = handler_over_aws(&sign_up_vars(&upstreams, &table), moto.loader()).await;
        let answer = call(&handler, &event("http-api-token.json")).await;
        assert_eq!(answer.status, status, "{action} {method_used}: {answer:?}");
        // Two actions are accepted: /validate is asked without one, and the answer's is checked.
        let validate = &upstreams.authsignal_requests().await[0];
        let sent: Value = serde_json::from_slice(&validate.body).unwrap();
        assert!(sent.get("action").is_none(), "{sent}");
    }
}
