//! One-time tokens (docs/behaviour.md, "One-time tokens"): the real AWS SDK
//! against moto's DynamoDB (and, for the failures moto cannot produce, stand-ins answering as
//! DynamoDB does), through the handler and, for two execution environments, through two
//! `bootstrap` processes sharing one table.
//!
//! The tests that need moto are ignored in the fast loop (`cargo test`); `make test` runs them.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use support::moto::{create_replay_table, loader_for, replay_records, Moto};
use support::relay::AnswerLosingRelay;
use support::runtime_api::{body, Function, RuntimeApi};
use support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TABLE: &str = "bridge-replay";
/// The `idempotencyKey` Authsignal's stand-in answers with (`challenge_succeeded()`).
const CHALLENGE: &str = "challenge#2b8e6f0a-0d3e-4c1b-9b7a-5f8c2d1e4a6b";
const BUDGET: Duration = Duration::from_secs(30);

fn http_api() -> Value {
    event("http-api-token.json")
}

/// moto with the replay table, and the bridge's variables for it.
async fn moto_with_table(
    upstreams: &Upstreams,
) -> (Moto, aws_sdk_dynamodb::Client, Vec<(String, String)>) {
    let moto = Moto::start();
    let admin = moto.dynamodb_admin().await;
    create_replay_table(&admin, TABLE).await;
    let vars = with(&upstreams.vars(), &[("REPLAY_TABLE", TABLE)]);
    (moto, admin, vars)
}

async fn records(admin: &aws_sdk_dynamodb::Client) -> Vec<HashMap<String, AttributeValue>> {
    replay_records(admin, TABLE).await
}

// ---- the record ------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn a_challenge_finishes_one_sign_in_and_its_second_use_is_refused_without_calling_auth0() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let (moto, _admin, vars) = moto_with_table(&upstreams).await;
    let handler = handler_over_aws(&vars, moto.loader()).await;

    let first = call_as(&handler, &http_api(), "invocation-1", BUDGET).await;
    assert_eq!(first.status, 200, "{first:?}");
    let second = call_as(&handler, &http_api(), "invocation-2", BUDGET).await;
    assert_eq!(
        second.json(),
        json!({"error": "invalid_grant", "error_description": "the Authsignal token is not valid for this sign-in"})
    );
    assert_eq!(second.status, 400);
    assert_eq!(
        upstreams.authsignal_requests().await.len(),
        2,
        "both validated"
    );
    assert_eq!(
        upstreams.auth0_requests().await.len(),
        1,
        "Auth0 called once"
    );

    // Another execution environment (a new handler) sees the same table.
    let elsewhere = handler_over_aws(&vars, moto.loader()).await;
    let third = call_as(&elsewhere, &http_api(), "invocation-3", BUDGET).await;
    assert_eq!(
        (third.status, third.error().as_str()),
        (400, "invalid_grant")
    );
    assert_eq!(upstreams.auth0_requests().await.len(), 1);
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn the_record_is_keyed_by_the_challenge_owned_by_the_invocation_and_holds_no_token() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let (moto, admin, vars) = moto_with_table(&upstreams).await;
    let vars = with(&vars, &[("REPLAY_WINDOW_SECONDS", "3600")]);
    let handler = handler_over_aws(&vars, moto.loader()).await;
    let written_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert_eq!(
        call_as(&handler, &http_api(), "owner-7f2c", BUDGET)
            .await
            .status,
        200
    );

    let records = records(&admin).await;
    assert_eq!(records.len(), 1);
    let record = &records[0];
    let mut names: Vec<&str> = record.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, ["expires_at", "owner", "pk"]);
    assert_eq!(record["pk"].as_s().unwrap(), CHALLENGE);
    assert_eq!(record["owner"].as_s().unwrap(), "owner-7f2c");
    let expires_at: f64 = record["expires_at"].as_n().unwrap().parse().unwrap();
    assert!(
        (expires_at - (written_at + 3600.0)).abs() <= 1.0,
        "expires_at {expires_at} is now + REPLAY_WINDOW_SECONDS"
    );
    let text = format!("{record:?}");
    for canary in canaries() {
        assert!(!text.contains(&canary), "the record holds {canary}");
    }
    // The assertion names its challenge by the record's key.
    let claims = assertion_claims(&upstreams.auth0_requests().await[0]);
    assert_eq!(claims["jti"], CHALLENGE);
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn without_an_idempotency_key_the_record_is_keyed_by_the_tokens_hash() {
    use sha2::{Digest, Sha256};
    let upstreams = Upstreams::start().await;
    upstreams
        .authsignal_answers(ResponseTemplate::new(200).set_body_json(
            json!({"isValid": true, "state": "CHALLENGE_SUCCEEDED", "userId": USER_ID}),
        ))
        .await;
    upstreams.auth0_answers(tokens()).await;
    let (moto, admin, vars) = moto_with_table(&upstreams).await;
    let handler = handler_over_aws(&vars, moto.loader()).await;
    assert_eq!(
        call_as(&handler, &http_api(), "a", BUDGET).await.status,
        200
    );
    let second = call_as(&handler, &http_api(), "b", BUDGET).await;
    assert_eq!(
        (second.status, second.error().as_str()),
        (400, "invalid_grant")
    );
    let hash = hex::encode(Sha256::digest(TOKEN.as_bytes()));
    let expected = format!("token#{hash}");
    assert_eq!(records(&admin).await[0]["pk"].as_s().unwrap(), &expected);
    // A record keyed by the token's hash is not the assertion's jti: that would hand Auth0 a
    // hash of the token.
    let jti = assertion_claims(&upstreams.auth0_requests().await[0])["jti"].clone();
    assert!(!jti.as_str().unwrap().contains(&hash[..16]), "{jti}");
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn an_sdk_retry_of_our_own_write_is_not_a_replay() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let (moto, admin, vars) = moto_with_table(&upstreams).await;
    // The first PutItem lands in the table; its answer is lost and replaced by a 500, so the
    // SDK retries the same write, whose condition now fails on our own record.
    let relay = AnswerLosingRelay::start(&moto.url, 1).await;
    let handler = handler_over_aws(&vars, loader_for(&relay.url)).await;

    let answer = call_as(&handler, &http_api(), "retrying-owner", BUDGET).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        relay.forwarded.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "written, then retried"
    );
    assert_eq!(upstreams.auth0_requests().await.len(), 1);
    assert_eq!(
        records(&admin).await[0]["owner"].as_s().unwrap(),
        "retrying-owner"
    );
    // Another invocation is still refused.
    let other = call_as(&handler, &http_api(), "another-owner", BUDGET).await;
    assert_eq!(
        (other.status, other.error().as_str()),
        (400, "invalid_grant")
    );
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn a_write_whose_answer_never_came_is_taken_back_so_the_retry_signs_in() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let (moto, admin, vars) = moto_with_table(&upstreams).await;
    // Every answer to the write is lost (the SDK tries three times, then gives up with a 5xx),
    // but the first attempt landed: the bridge deletes its own record before answering 502.
    let relay = AnswerLosingRelay::start(&moto.url, usize::MAX).await;
    let handler = handler_over_aws(&vars, loader_for(&relay.url)).await;

    let failed = call_as(&handler, &http_api(), "lost-answers", BUDGET).await;
    assert_eq!(
        (failed.status, failed.error().as_str()),
        (502, "temporarily_unavailable")
    );
    assert!(upstreams.auth0_requests().await.is_empty(), "fail closed");
    assert!(
        records(&admin).await.is_empty(),
        "the landed write was taken back"
    );

    // The app's retry (another invocation) signs in.
    let healthy = handler_over_aws(&vars, moto.loader()).await;
    let retried = call_as(&healthy, &http_api(), "the-retry", BUDGET).await;
    assert_eq!(retried.status, 200, "{retried:?}");
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn a_lost_write_answer_then_throttling_is_taken_back_so_the_retry_signs_in() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let (moto, admin, vars) = moto_with_table(&upstreams).await;
    // The first PutItem lands but its answer is lost; the SDK's retries are throttled.
    let relay = AnswerLosingRelay::start_then_throttling(&moto.url, 1).await;
    let handler = handler_over_aws(&vars, loader_for(&relay.url)).await;

    let throttled = call_as(&handler, &http_api(), "lost-then-throttled", BUDGET).await;
    assert_eq!(
        (
            throttled.status,
            throttled.error().as_str(),
            throttled.header("retry-after")
        ),
        (503, "temporarily_unavailable", Some("1"))
    );
    assert_eq!(
        relay.forwarded.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one write landed"
    );
    assert!(upstreams.auth0_requests().await.is_empty(), "fail closed");
    assert!(
        records(&admin).await.is_empty(),
        "the landed write was taken back"
    );

    let healthy = handler_over_aws(&vars, moto.loader()).await;
    let retried = call_as(&healthy, &http_api(), "after-the-throttling", BUDGET).await;
    assert_eq!(retried.status, 200, "{retried:?}");
}

// ---- release ---------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn a_failed_profile_lookup_releases_the_record_so_the_retry_signs_in() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let (moto, admin, vars) = moto_with_table(&upstreams).await;
    let handler = handler_over_aws(&vars, moto.loader()).await;
    // Authsignal's user lookup fails once.
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&upstreams.authsignal)
        .await;
    let failed = call_as(&handler, &http_api(), "lookup-failed", BUDGET).await;
    assert_eq!(
        (failed.status, failed.error().as_str()),
        (502, "temporarily_unavailable")
    );
    assert!(upstreams.auth0_requests().await.is_empty());
    assert!(
        records(&admin).await.is_empty(),
        "released: Auth0 never saw the sign-in"
    );

    let retried = call_as(&handler, &http_api(), "the-retry", BUDGET).await;
    assert_eq!(retried.status, 200, "{retried:?}");
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn auth0_asking_for_a_dpop_nonce_releases_the_record_so_the_app_signs_again_with_it() {
    use support::dpop::{with_dpop, DpopKey};
    let upstreams = Upstreams::start().await;
    upstreams.authsignal_answers(challenge_succeeded()).await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "use_dpop_nonce", "error_description": "Authorization server requires nonce in DPoP proof"}))
                .insert_header("dpop-nonce", "n-1"),
        )
        .up_to_n_times(1)
        .mount(&upstreams.auth0)
        .await;
    upstreams.auth0_answers(tokens()).await;
    let (moto, admin, vars) = moto_with_table(&upstreams).await;
    let handler = handler_over_aws(&vars, moto.loader()).await;
    let key = DpopKey::new();
    let token_url = "https://tenant.example.auth0.com/oauth/token";

    let asked = call_as(
        &handler,
        &with_dpop(http_api(), &key.proof(token_url, None)),
        "no-nonce",
        BUDGET,
    )
    .await;
    assert_eq!(
        (asked.status, asked.header("dpop-nonce")),
        (400, Some("n-1"))
    );
    assert_eq!(asked.error(), "use_dpop_nonce");
    assert!(
        records(&admin).await.is_empty(),
        "released: the app signs again with the nonce"
    );

    let signed = call_as(
        &handler,
        &with_dpop(http_api(), &key.proof(token_url, Some("n-1"))),
        "with-nonce",
        BUDGET,
    )
    .await;
    assert_eq!(signed.status, 200, "{signed:?}");
    assert_eq!(
        records(&admin).await.len(),
        1,
        "and now the challenge is used"
    );
}

/// Answers a request only once its partner (on another stand-in) has arrived too, or after 3 s:
/// so two calls that are made side by side both see their partner.
struct Rendezvous {
    arrived: std::sync::mpsc::Sender<()>,
    partner: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
    met: std::sync::Arc<std::sync::atomic::AtomicBool>,
    answer: ResponseTemplate,
}

impl wiremock::Respond for Rendezvous {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let _ = self.arrived.send(());
        let met = self
            .partner
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(3))
            .is_ok();
        if met {
            self.met.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        self.answer.clone()
    }
}

#[tokio::test]
async fn the_claim_and_the_profile_lookup_are_made_side_by_side() {
    use std::sync::atomic::Ordering;
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let (to_lookup, from_claim) = std::sync::mpsc::channel();
    let (to_claim, from_lookup) = std::sync::mpsc::channel();
    let lookup_met = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let claim_met = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    upstreams
        .authsignal
        .register(Mock::given(method("GET")).respond_with(Rendezvous {
            arrived: to_claim,
            partner: std::sync::Mutex::new(from_claim),
            met: lookup_met.clone(),
            answer: user(),
        }))
        .await;
    let dynamodb = MockServer::start().await;
    dynamodb
        .register(Mock::given(method("POST")).respond_with(Rendezvous {
            arrived: to_lookup,
            partner: std::sync::Mutex::new(from_lookup),
            met: claim_met.clone(),
            answer: ResponseTemplate::new(200).set_body_raw("{}", "application/x-amz-json-1.0"),
        }))
        .await;
    let vars = with(&upstreams.vars(), &[("REPLAY_TABLE", TABLE)]);
    let handler = handler_over_aws(&vars, loader_for(&dynamodb.uri())).await;

    let answer = call_as(&handler, &http_api(), "side-by-side", BUDGET).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        lookup_met.load(Ordering::SeqCst) && claim_met.load(Ordering::SeqCst),
        "each call was under way while the other was"
    );
}

/// A port nothing listens on.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn the_record_is_released_when_auth0_issued_nothing_so_the_app_can_retry() {
    let cases: Vec<(&str, Option<ResponseTemplate>, u16)> = vec![
        (
            "5xx",
            Some(ResponseTemplate::new(503).set_body_string("unavailable")),
            502,
        ),
        (
            "429 with an OAuth error",
            Some(ResponseTemplate::new(429).set_body_json(json!({"error": "too_many_attempts"}))),
            429,
        ),
        ("429 without a body", Some(ResponseTemplate::new(429)), 429),
        (
            "invalid_client, still after the refresh",
            Some(ResponseTemplate::new(401).set_body_json(
                json!({"error": "invalid_client", "error_description": "Unauthorized"}),
            )),
            500,
        ),
        ("connection refused", None, 502),
    ];
    for (case, answer, status) in cases {
        let upstreams = Upstreams::start().await;
        upstreams.authsignal_answers(challenge_succeeded()).await;
        let (moto, admin, mut vars) = moto_with_table(&upstreams).await;
        match answer {
            Some(answer) => upstreams.auth0_answers(answer).await,
            None => vars = with(&vars, &[("AUTH0_DOMAIN", &closed_port_url())]),
        }
        let handler = handler_over_aws(&vars, moto.loader()).await;
        let failed = call_as(&handler, &http_api(), "first-try", BUDGET).await;
        assert_eq!(failed.status, status, "{case}: {failed:?}");
        assert!(
            records(&admin).await.is_empty(),
            "{case}: the record was released"
        );

        // Auth0 recovers: the app retries with the same token and signs in.
        let handler_after = if case == "connection refused" {
            upstreams.auth0_answers(tokens()).await;
            vars = with(&vars, &[("AUTH0_DOMAIN", &upstreams.auth0.uri())]);
            handler_over_aws(&vars, moto.loader()).await
        } else {
            upstreams.auth0.reset().await;
            upstreams.auth0_answers(tokens()).await;
            handler
        };
        let retried = call_as(&handler_after, &http_api(), "second-try", BUDGET).await;
        assert_eq!(retried.status, 200, "{case}: {retried:?}");
        assert_eq!(records(&admin).await.len(), 1, "{case}");
    }
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn auth0s_token_exchange_rate_limit_releases_the_record_so_the_app_retries_after_the_wait() {
    let upstreams = Upstreams::start().await;
    upstreams.authsignal_answers(challenge_succeeded()).await;
    // Custom Token Exchange is rate-limited per tenant (about 4 requests/s on Professional).
    upstreams
        .auth0_answers(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"error": "too_many_requests", "error_description": "Global limit has been reached"})),
        )
        .await;
    let (moto, admin, vars) = moto_with_table(&upstreams).await;
    let vars = with(
        &vars,
        &[
            ("AUTH0_GRANT_TYPE", "token-exchange"),
            (
                "AUTH0_SUBJECT_TOKEN_TYPE",
                "urn:acme:authsignal-bridge-assertion",
            ),
        ],
    );
    let handler = handler_over_aws(&vars, moto.loader()).await;
    let limited = call_as(&handler, &http_api(), "first-try", BUDGET).await;
    assert_eq!(limited.status, 429, "{limited:?}");
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert_eq!(limited.json()["error"], "too_many_requests");
    assert!(records(&admin).await.is_empty(), "the record was released");

    upstreams.auth0.reset().await;
    upstreams.auth0_answers(tokens()).await;
    let retried = call_as(&handler, &http_api(), "second-try", BUDGET).await;
    assert_eq!(retried.status, 200, "{retried:?}");
    assert_eq!(records(&admin).await.len(), 1);
    let sent = form(&upstreams.auth0_requests().await[0]);
    assert_eq!(
        sent["grant_type"],
        "urn:ietf:params:oauth:grant-type:token-exchange"
    );
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn the_record_stays_when_auth0_may_have_issued_tokens() {
    let cases = [
        ("timeout", tokens().set_delay(Duration::from_secs(3)), 504),
        (
            "403 invalid_grant",
            ResponseTemplate::new(403).set_body_json(
                json!({"error": "invalid_grant", "error_description": "Wrong email or password."}),
            ),
            403,
        ),
        (
            "400 invalid_request",
            ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_request"})),
            400,
        ),
        (
            "200 without an access token",
            ResponseTemplate::new(200).set_body_json(json!({})),
            502,
        ),
        (
            "403 without an OAuth error",
            ResponseTemplate::new(403).set_body_string("<html/>"),
            502,
        ),
    ];
    for (case, answer, status) in cases {
        let upstreams = Upstreams::start().await;
        upstreams.authsignal_answers(challenge_succeeded()).await;
        upstreams.auth0_answers(answer).await;
        let (moto, admin, vars) = moto_with_table(&upstreams).await;
        let handler = handler_over_aws(&vars, moto.loader()).await;
        let failed = call_as(&handler, &http_api(), "first-try", BUDGET).await;
        assert_eq!(failed.status, status, "{case}: {failed:?}");
        assert_eq!(records(&admin).await.len(), 1, "{case}: the record stays");
        let retried = call_as(&handler, &http_api(), "second-try", BUDGET).await;
        assert_eq!(
            (retried.status, retried.error().as_str()),
            (400, "invalid_grant"),
            "{case}"
        );
        assert_eq!(
            upstreams.auth0_requests().await.len(),
            1,
            "{case}: no second Auth0 call"
        );
    }
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn auth0_is_called_only_while_time_for_the_release_remains() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let (moto, admin, vars) = moto_with_table(&upstreams).await;
    let handler = handler_over_aws(&vars, moto.loader()).await;
    // 1.3 s before the Lambda deadline is 0.8 s after the safety margin: enough to validate and
    // write the record, not enough to call Auth0 and still keep 1 s for the release.
    let answer = call_as(
        &handler,
        &http_api(),
        "short-budget",
        Duration::from_millis(1300),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error().as_str()),
        (504, "temporarily_unavailable")
    );
    assert!(
        upstreams.auth0_requests().await.is_empty(),
        "Auth0 not called"
    );
    assert!(records(&admin).await.is_empty(), "the record was released");
}

// ---- what writes nothing ---------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn a_failed_challenge_refresh_and_revocation_write_nothing() {
    let upstreams = Upstreams::start().await;
    upstreams
        .authsignal_answers(ResponseTemplate::new(200).set_body_json(json!({"isValid": false})))
        .await;
    upstreams.auth0_answers(refreshed_tokens()).await;
    upstreams.auth0_revoke_answers(revoked()).await;
    let (moto, admin, vars) = moto_with_table(&upstreams).await;
    let vars = with(&vars, &[("AUTHSIGNAL_VERIFICATION_METHODS", "PASSKEY")]);
    let handler = handler_over_aws(&vars, moto.loader()).await;
    let refused = call_as(&handler, &http_api(), "a", BUDGET).await;
    assert_eq!(
        (refused.status, refused.error().as_str()),
        (400, "invalid_grant")
    );
    for fixture in [
        "http-api-refresh.json",
        "http-api-refresh-form.json",
        "http-api-revoke.json",
    ] {
        assert_eq!(
            call_as(&handler, &event(fixture), "b", BUDGET).await.status,
            200,
            "{fixture}"
        );
        // The same refresh token twice is Auth0's business (rotation), not the replay table's.
        assert_eq!(
            call_as(&handler, &event(fixture), "c", BUDGET).await.status,
            200,
            "{fixture}"
        );
    }
    // A challenge passed with a method outside the allow-list writes nothing either.
    upstreams.authsignal.reset().await;
    upstreams
        .authsignal_answers(ResponseTemplate::new(200).set_body_json(json!({
            "isValid": true, "state": "CHALLENGE_SUCCEEDED", "userId": USER_ID,
            "idempotencyKey": "sms-challenge", "verificationMethod": "SMS"
        })))
        .await;
    let sms = call_as(&handler, &http_api(), "d", BUDGET).await;
    assert_eq!((sms.status, sms.error().as_str()), (400, "invalid_grant"));
    assert!(records(&admin).await.is_empty());
}

#[tokio::test]
async fn replay_protection_is_off_without_replay_table() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let handler = handler(&upstreams.vars()).await;
    for request_id in ["a", "b"] {
        assert_eq!(
            call_as(&handler, &http_api(), request_id, BUDGET)
                .await
                .status,
            200
        );
    }
    assert_eq!(upstreams.auth0_requests().await.len(), 2);
}

// ---- DynamoDB failing ------------------------------------------------------------------------

/// A stand-in answering every DynamoDB call with `answer`.
async fn dynamodb_answering(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

/// DynamoDB's error answer (awsJson1.0) for `code`.
fn dynamodb_error(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{code}"), "message": "stand-in"})
            .to_string(),
        "application/x-amz-json-1.0",
    )
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn dynamodb_failing_gets_the_documented_answer_within_the_budget_and_auth0_is_not_called() {
    let missing_table = Moto::start();
    // The stand-ins live as long as the cases (a dropped MockServer stops answering).
    let answering = |answer| dynamodb_answering(answer);
    let denying = answering(dynamodb_error(400, "AccessDeniedException")).await;
    let invalid = answering(dynamodb_error(400, "ValidationException")).await;
    let failing = answering(dynamodb_error(500, "InternalServerError")).await;
    let throttling = answering(dynamodb_error(
        400,
        "ProvisionedThroughputExceededException",
    ))
    .await;
    let throttling_too = answering(dynamodb_error(400, "ThrottlingException")).await;
    let stalling = answering(ResponseTemplate::new(200).set_delay(Duration::from_secs(30))).await;
    let cases: Vec<(&str, String, u16, &str, Option<&str>)> = vec![
        ("access denied", denying.uri(), 500, "server_error", None),
        (
            "no such table",
            missing_table.url.clone(),
            500,
            "server_error",
            None,
        ),
        ("validation error", invalid.uri(), 500, "server_error", None),
        (
            "unreachable",
            closed_port_url(),
            502,
            "temporarily_unavailable",
            None,
        ),
        ("5xx", failing.uri(), 502, "temporarily_unavailable", None),
        (
            "throttling",
            throttling.uri(),
            503,
            "temporarily_unavailable",
            Some("1"),
        ),
        (
            "throttling (ThrottlingException)",
            throttling_too.uri(),
            503,
            "temporarily_unavailable",
            Some("1"),
        ),
        (
            "stalling",
            stalling.uri(),
            504,
            "temporarily_unavailable",
            None,
        ),
    ];
    for (case, url, status, error, retry_after) in cases {
        let upstreams = Upstreams::start().await;
        upstreams.happy_path().await;
        let vars = with(&upstreams.vars(), &[("REPLAY_TABLE", TABLE)]);
        let handler = handler_over_aws(&vars, loader_for(&url)).await;
        let started = Instant::now();
        let answer = call_as(&handler, &http_api(), "dynamodb-failing", BUDGET).await;
        let took = started.elapsed();
        assert_eq!(
            (answer.status, answer.error().as_str()),
            (status, error),
            "{case}: {answer:?}"
        );
        assert_eq!(answer.header("retry-after"), retry_after, "{case}");
        // Every DynamoDB call gets at most 1 s, retries included: the write, and, when its
        // answer never came (stalling, 5xx, broken off), the delete that takes it back.
        assert!(took < Duration::from_millis(2600), "{case}: took {took:?}");
        assert!(
            upstreams.auth0_requests().await.is_empty(),
            "{case}: fail closed"
        );
    }
}

// ---- two execution environments --------------------------------------------------------------

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn two_execution_environments_sharing_the_table_let_one_token_sign_in_once() {
    let upstreams = Upstreams::start().await;
    upstreams.authsignal_answers(challenge_succeeded()).await;
    // Auth0 answers slowly, so that both requests are in flight at once.
    upstreams
        .auth0_answers(tokens().set_delay(Duration::from_millis(200)))
        .await;
    let (moto, admin, vars) = moto_with_table(&upstreams).await;
    let mut vars = with(&vars, &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    vars.extend(moto.env());
    let mut first = RuntimeApi::start().await;
    let mut second = RuntimeApi::start().await;
    let a = Function::start(&first, &vars);
    let b = Function::start(&second, &vars);
    first.first_poll().await;
    second.first_poll().await;

    for round in 0..3 {
        let token = format!("canary-concurrent-token-{round}");
        let key = format!("concurrent-{round}");
        upstreams.authsignal.reset().await;
        upstreams.authsignal_user_answers(user()).await;
        upstreams
            .authsignal_answers(ResponseTemplate::new(200).set_body_json(json!({
                "isValid": true, "state": "CHALLENGE_SUCCEEDED", "userId": USER_ID,
                "idempotencyKey": key, "verificationMethod": "PASSKEY"
            })))
            .await;
        let event = sign_in_event(&token);
        let (a, b) = tokio::join!(first.respond(&event), second.respond(&event));
        let mut statuses = [
            a["statusCode"].as_u64().unwrap(),
            b["statusCode"].as_u64().unwrap(),
        ];
        statuses.sort();
        assert_eq!(statuses, [200, 400], "round {round}: exactly one sign-in");
        let refused = if a["statusCode"] == 400 { &a } else { &b };
        assert_eq!(body(refused)["error"], "invalid_grant");
    }
    assert_eq!(
        upstreams.auth0_requests().await.len(),
        3,
        "one Auth0 call per token"
    );
    assert_eq!(records(&admin).await.len(), 3);
    // The refused ones are their own outcome in the logs (and metrics).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let outcomes: Vec<Value> = a
        .summaries()
        .into_iter()
        .chain(b.summaries())
        .map(|line| line["outcome"].clone())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "replayed").count(),
        3,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| **o == "success").count(),
        3,
        "{outcomes:?}"
    );
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn an_unusable_replay_table_is_reported_at_start_up_and_every_sign_in_fails_closed() {
    let moto = Moto::start();
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let mut vars = with(
        &upstreams.vars(),
        &[
            ("REPLAY_TABLE", "no-such-table"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ],
    );
    vars.extend(moto.env());
    let mut runtime = RuntimeApi::start().await;
    let mut function = Function::start(&runtime, &vars);
    runtime.first_poll().await;
    for _ in 0..2 {
        let response = runtime.respond(&http_api()).await;
        assert_eq!(
            (
                response["statusCode"].as_u64(),
                body(&response)["error"].as_str()
            ),
            (Some(500), Some("server_error"))
        );
    }
    assert!(upstreams.auth0_requests().await.is_empty());
    let output = function.stop();
    let warnings: Vec<&String> = output
        .iter()
        .filter(|line| line.contains("the replay table cannot be used"))
        .collect();
    assert_eq!(warnings.len(), 1, "{output:#?}");
    assert!(
        warnings[0].contains("ResourceNotFoundException"),
        "{}",
        warnings[0]
    );
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn a_release_never_deletes_another_invocations_record() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let (moto, admin, vars) = moto_with_table(&upstreams).await;
    let first = handler_over_aws(&vars, moto.loader()).await;
    assert_eq!(
        call_as(&first, &http_api(), "the-winner", BUDGET)
            .await
            .status,
        200
    );

    // Another invocation's write finds the winner's record, but every answer is lost, so it
    // cannot tell that from a write of its own that landed: it tries to take it back.
    let relay = AnswerLosingRelay::start(&moto.url, usize::MAX).await;
    let loser = handler_over_aws(&vars, loader_for(&relay.url)).await;
    let failed = call_as(&loser, &http_api(), "the-loser", BUDGET).await;
    assert_eq!(failed.status, 502);
    let records = records(&admin).await;
    assert_eq!(records.len(), 1, "the winner's record is still there");
    assert_eq!(records[0]["owner"].as_s().unwrap(), "the-winner");
    assert_eq!(upstreams.auth0_requests().await.len(), 1);
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn without_an_idempotency_key_a_warn_says_so_and_neither_token_nor_hash_is_logged() {
    use sha2::{Digest, Sha256};
    let moto = Moto::start();
    create_replay_table(&moto.dynamodb_admin().await, TABLE).await;
    let upstreams = Upstreams::start().await;
    upstreams
        .authsignal_answers(ResponseTemplate::new(200).set_body_json(
            json!({"isValid": true, "state": "CHALLENGE_SUCCEEDED", "userId": USER_ID}),
        ))
        .await;
    upstreams.auth0_answers(tokens()).await;
    let mut vars = with(
        &upstreams.vars(),
        &[
            ("REPLAY_TABLE", TABLE),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        ],
    );
    vars.extend(moto.env());
    let mut runtime = RuntimeApi::start().await;
    let mut function = Function::start(&runtime, &vars);
    assert_eq!(runtime.respond(&http_api()).await["statusCode"], 200);
    let second = runtime.respond(&http_api()).await;
    assert_eq!(body(&second)["error"], "invalid_grant");
    let output = function.stop();
    let warnings = output
        .iter()
        .filter(|line| {
            line.contains(r#""level":"WARN""#) && line.contains("no usable idempotencyKey")
        })
        .count();
    assert_eq!(warnings, 2, "one WARN per sign-in keyed by the hash");
    let hash = hex::encode(Sha256::digest(TOKEN.as_bytes()));
    for line in &output {
        assert!(!line.contains(TOKEN) && !line.contains(&hash), "{line}");
    }
}
