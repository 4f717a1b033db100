//! Credentials from a real Secrets Manager implementation (moto's server mode on loopback),
//! read through the real AWS SDK: caching, TTL, failures not cached, malformed secrets, errors
//! and timeouts, and secret rotation through the whole bridge.
//!
//! Ignored in the fast loop (`cargo test`) because they need moto; `make test` runs them.

mod support;

use std::sync::Arc;
use std::time::Duration;

use authsignal_auth0_bridge::budget::Deadline;
use authsignal_auth0_bridge::settings::Settings;
use authsignal_auth0_bridge::upstream::aws::load_sdk_config;
use authsignal_auth0_bridge::upstream::credentials::{
    secrets_manager_client, CredentialsCache, CredentialsSource,
};
use secrecy::ExposeSecret;
use serde_json::json;
use support::moto::{create_secret, put_secret, secret_json, Moto};
use support::*;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn settings(extra: &[(&str, &str)]) -> Settings {
    settings_of(&with(
        &[("AUTH0_DOMAIN".to_owned(), "tenant.auth0.com".to_owned())],
        extra,
    ))
}

async fn source(
    loader: aws_config::ConfigLoader,
    settings: &Settings,
    secret_id: &str,
) -> CredentialsSource {
    CredentialsSource::SecretsManager {
        client: secrets_manager_client(&load_sdk_config(loader, settings).await),
        secret_id: secret_id.to_owned(),
    }
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(10), Duration::from_secs(5))
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn credentials_come_from_the_secret_and_are_cached_within_the_ttl() {
    let moto = Moto::start();
    let admin = moto.admin().await;
    create_secret(&admin, "bridge/a", &secret_json("as-1", "client-1", "a0-1")).await;
    let settings = settings(&[("SECRET_CACHE_TTL_SECONDS", "1")]);
    let cache = CredentialsCache::new(
        source(moto.loader(), &settings, "bridge/a").await,
        settings.secret_cache_ttl,
    );

    let first = cache.get(&deadline(), &mut None).await.unwrap();
    assert_eq!(first.authsignal_secret.expose_secret(), "as-1");
    assert_eq!(first.auth0_client_id, "client-1");
    assert_eq!(first.auth0_client_secret.expose_secret(), "a0-1");

    put_secret(&admin, "bridge/a", &secret_json("as-2", "client-2", "a0-2")).await;
    let cached = cache.get(&deadline(), &mut None).await.unwrap();
    assert!(
        Arc::ptr_eq(&first, &cached),
        "within the TTL the secret is not read again"
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh = cache.get(&deadline(), &mut None).await.unwrap();
    assert_eq!(
        fresh.authsignal_secret.expose_secret(),
        "as-2",
        "after the TTL it is"
    );
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn a_missing_secret_is_500_and_the_failure_is_not_cached() {
    let moto = Moto::start();
    let admin = moto.admin().await;
    let settings = settings(&[]);
    let cache = CredentialsCache::new(
        source(moto.loader(), &settings, "bridge/later").await,
        settings.secret_cache_ttl,
    );

    let error = cache.get(&deadline(), &mut None).await.unwrap_err();
    assert_eq!(error.status(), 500);
    assert_eq!(error.oauth_error(), Some("server_error"));
    assert!(
        error.log_detail().contains("ResourceNotFound"),
        "{}",
        error.log_detail()
    );

    create_secret(&admin, "bridge/later", &secret_json("as", "client", "a0")).await;
    let credentials = cache
        .get(&deadline(), &mut None)
        .await
        .expect("the next request tries again");
    assert_eq!(credentials.authsignal_secret.expose_secret(), "as");
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn a_malformed_secret_is_500_without_its_values_in_the_error() {
    let moto = Moto::start();
    let admin = moto.admin().await;
    let settings = settings(&[]);
    for (name, value, expected) in [
        ("bridge/text", "as-secret-canary-text", "not a JSON object"),
        (
            "bridge/partial",
            r#"{"AUTHSIGNAL_SECRET":"as-secret-canary-partial"}"#,
            "AUTH0_CLIENT_ID",
        ),
        (
            "bridge/typed",
            r#"{"AUTHSIGNAL_SECRET":"as-secret-canary","AUTH0_CLIENT_ID":"c","AUTH0_CLIENT_SECRET":987654}"#,
            "AUTH0_CLIENT_SECRET",
        ),
    ] {
        create_secret(&admin, name, value).await;
        let cache = CredentialsCache::new(
            source(moto.loader(), &settings, name).await,
            settings.secret_cache_ttl,
        );
        let error = cache.get(&deadline(), &mut None).await.unwrap_err();
        assert_eq!(error.status(), 500, "{name}");
        let detail = error.log_detail();
        assert!(detail.contains(expected), "{name}: {detail}");
        assert!(
            !detail.contains("canary") && !detail.contains("987654"),
            "{detail}"
        );
    }
}

#[tokio::test]
async fn secrets_manager_errors_and_timeouts_are_500() {
    // moto is not needed for these: a wiremock server speaks just enough of the protocol to fail.
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("x-amz-target", "secretsmanager.GetSecretValue"))
        .and(body_string_contains("bridge/broken"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"__type": "InternalServiceError", "message": "boom"})),
        )
        .mount(&fake)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("bridge/garbled"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"SecretString": {"AUTHSIGNAL_SECRET": "canary-garbled-secret"}, "Name": 5"#,
        ))
        .mount(&fake)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("bridge/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&fake)
        .await;
    let moto_like = |url: String| {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "t", "t", None, None, "t",
            ))
    };
    let patient = settings(&[("UPSTREAM_TIMEOUT_MS", "10000")]);
    let settings = settings(&[("UPSTREAM_TIMEOUT_MS", "300")]);

    let cache = CredentialsCache::new(
        source(moto_like(fake.uri()), &settings, "bridge/broken").await,
        settings.secret_cache_ttl,
    );
    let error = cache.get(&deadline(), &mut None).await.unwrap_err();
    assert_eq!(
        (error.status().as_u16(), error.oauth_error()),
        (500, Some("server_error"))
    );

    // The SDK's operation timeout alone (the budget allows 10 s per call) cuts the call off...
    let started = std::time::Instant::now();
    let cache = CredentialsCache::new(
        source(moto_like(fake.uri()), &settings, "bridge/slow").await,
        settings.secret_cache_ttl,
    );
    let generous = Deadline::after(Duration::from_secs(10), Duration::from_secs(10));
    let error = cache.get(&generous, &mut None).await.unwrap_err();
    assert_eq!(error.status(), 500);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "cut off by the SDK operation timeout: {:?}",
        started.elapsed()
    );

    // ...and the time budget alone (the SDK would allow 10 s) cuts it off too.
    let started = std::time::Instant::now();
    let cache = CredentialsCache::new(
        source(moto_like(fake.uri()), &patient, "bridge/slow").await,
        patient.secret_cache_ttl,
    );
    let short = Deadline::after(Duration::from_millis(300), Duration::from_secs(10));
    let error = cache.get(&short, &mut None).await.unwrap_err();
    assert_eq!(error.status(), 500);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "cut off by the budget: {:?}",
        started.elapsed()
    );

    // An answer the SDK cannot parse: its body (here holding a secret) stays out of the error.
    let cache = CredentialsCache::new(
        source(moto_like(fake.uri()), &settings, "bridge/garbled").await,
        settings.secret_cache_ttl,
    );
    let error = cache.get(&deadline(), &mut None).await.unwrap_err();
    assert_eq!(error.status(), 500);
    assert!(
        !error.log_detail().contains("canary-garbled"),
        "{}",
        error.log_detail()
    );

    // No time left before the call: the budget row (504), and Secrets Manager is not called.
    let calls_before = fake.received_requests().await.unwrap().len();
    let spent = Deadline::after(Duration::from_millis(1), Duration::from_secs(10));
    let error = cache.get(&spent, &mut None).await.unwrap_err();
    assert_eq!(error.status(), 504);
    assert_eq!(fake.received_requests().await.unwrap().len(), calls_before);

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cache = CredentialsCache::new(
        source(moto_like(format!("http://{closed}")), &settings, "bridge/x").await,
        settings.secret_cache_ttl,
    );
    assert_eq!(
        cache
            .get(&deadline(), &mut None)
            .await
            .unwrap_err()
            .status(),
        500
    );
}

/// The bridge with its credentials in the Secrets Manager secret `secret_id` on `moto`.
async fn handler_over_secret(
    moto: &Moto,
    upstreams: &Upstreams,
    secret_id: &str,
) -> authsignal_auth0_bridge::edge::http::Handler {
    let vars = with(&upstreams.vars(), &[("SECRET_ID", secret_id)]);
    handler_over_aws(&vars, moto.loader()).await
}

/// Authsignal's stand-in accepts only `secret` (on `/validate` and the user lookup), rejecting
/// anything else with 401.
async fn authsignal_accepting(server: &MockServer, secret: &str) {
    use base64::Engine;
    server.reset().await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{secret}:"));
    Mock::given(method("POST"))
        .and(path("/v1/validate"))
        .and(header("authorization", format!("Basic {basic}").as_str()))
        .respond_with(challenge_succeeded())
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/users/{USER_ID}")))
        .and(header("authorization", format!("Basic {basic}").as_str()))
        .respond_with(user())
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": "unauthorized", "errorDescription": "The request is unauthorized."}),
        ))
        .with_priority(2)
        .mount(server)
        .await;
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn a_rotated_authsignal_secret_is_picked_up_by_one_refresh_and_retry() {
    let moto = Moto::start();
    let admin = moto.admin().await;
    create_secret(
        &admin,
        "bridge/rotating",
        &secret_json("as-old", AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET),
    )
    .await;
    let upstreams = Upstreams::start().await;
    upstreams.auth0_answers(tokens()).await;
    authsignal_accepting(&upstreams.authsignal, "as-old").await;
    let handler = handler_over_secret(&moto, &upstreams, "bridge/rotating").await;

    assert_eq!(
        call(&handler, &event("http-api-token.json")).await.status,
        200
    );

    // Rotation: the secret and Authsignal change; the warm handler still holds the old value.
    put_secret(
        &admin,
        "bridge/rotating",
        &secret_json("as-new", AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET),
    )
    .await;
    authsignal_accepting(&upstreams.authsignal, "as-new").await;
    let answer = call(&handler, &event("http-api-token.json")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        upstreams.authsignal_requests().await.len(),
        2,
        "one rejected call, one retry"
    );

    // Another rotation within 30 s: no second forced refresh, so a clear 500.
    put_secret(
        &admin,
        "bridge/rotating",
        &secret_json("as-newer", AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET),
    )
    .await;
    authsignal_accepting(&upstreams.authsignal, "as-newer").await;
    let answer = call(&handler, &event("http-api-token.json")).await;
    assert_eq!(
        (answer.status, answer.error().as_str()),
        (500, "server_error")
    );
    assert_eq!(
        upstreams.authsignal_requests().await.len(),
        1,
        "no retry without a refresh"
    );
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn a_rotated_auth0_client_secret_is_picked_up_by_one_refresh_and_retry() {
    let moto = Moto::start();
    let admin = moto.admin().await;
    create_secret(
        &admin,
        "bridge/auth0",
        &secret_json(AUTHSIGNAL_SECRET, AUTH0_CLIENT_ID, "a0-old"),
    )
    .await;
    let upstreams = Upstreams::start().await;
    upstreams.authsignal_answers(challenge_succeeded()).await;
    auth0_accepting(&upstreams.auth0, "a0-old").await;
    let handler = handler_over_secret(&moto, &upstreams, "bridge/auth0").await;
    assert_eq!(
        call(&handler, &event("http-api-token.json")).await.status,
        200
    );

    put_secret(
        &admin,
        "bridge/auth0",
        &secret_json(AUTHSIGNAL_SECRET, AUTH0_CLIENT_ID, "a0-new"),
    )
    .await;
    auth0_accepting(&upstreams.auth0, "a0-new").await;
    let answer = call(&handler, &event("http-api-token.json")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["access_token"], ACCESS_TOKEN);
    assert_eq!(
        upstreams.auth0_requests().await.len(),
        2,
        "one rejected call, one retry"
    );
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn a_secret_that_is_still_wrong_after_the_refresh_is_500_without_a_retry() {
    let moto = Moto::start();
    let admin = moto.admin().await;
    create_secret(
        &admin,
        "bridge/wrong",
        &secret_json(AUTHSIGNAL_SECRET, AUTH0_CLIENT_ID, "a0-wrong"),
    )
    .await;
    let upstreams = Upstreams::start().await;
    upstreams.authsignal_answers(challenge_succeeded()).await;
    auth0_accepting(&upstreams.auth0, "a0-right").await;
    let handler = handler_over_secret(&moto, &upstreams, "bridge/wrong").await;

    let answer = call(&handler, &event("http-api-token.json")).await;
    assert_eq!(
        (answer.status, answer.error().as_str()),
        (500, "server_error")
    );
    assert_eq!(
        upstreams.auth0_requests().await.len(),
        1,
        "the refreshed secret is unchanged: no retry"
    );
}

/// Auth0's stand-in accepts only `client_secret` (in a form or a JSON body): tokens for a
/// sign-in or a refresh, and revocations; anything else is 401 `access_denied`.
async fn auth0_accepting(server: &MockServer, client_secret: &str) {
    server.reset().await;
    let expected = client_secret.to_owned();
    let sends_expected_secret = move |request: &wiremock::Request| {
        let from_form = form(request).get("client_secret").cloned();
        let from_json = serde_json::from_slice::<serde_json::Value>(&request.body)
            .ok()
            .and_then(|body| body["client_secret"].as_str().map(str::to_owned));
        from_form.or(from_json).as_deref() == Some(expected.as_str())
    };
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(sends_expected_secret.clone())
        .respond_with(tokens())
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/revoke"))
        .and(sends_expected_secret)
        .respond_with(revoked())
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                json!({"error": "access_denied", "error_description": "Unauthorized"}),
            ),
        )
        .with_priority(2)
        .mount(server)
        .await;
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn a_rotated_auth0_client_secret_is_picked_up_on_refresh_and_on_revocation() {
    let moto = Moto::start();
    let admin = moto.admin().await;
    for (fixture, secret_id) in [
        ("http-api-refresh-form.json", "bridge/session-refresh"),
        ("http-api-revoke.json", "bridge/session-revoke"),
    ] {
        create_secret(
            &admin,
            secret_id,
            &secret_json(AUTHSIGNAL_SECRET, AUTH0_CLIENT_ID, "a0-old"),
        )
        .await;
        let upstreams = Upstreams::start().await;
        auth0_accepting(&upstreams.auth0, "a0-old").await;
        // A new execution environment per operation: forced refreshes are one per 30 s.
        let handler = handler_over_secret(&moto, &upstreams, secret_id).await;
        assert_eq!(
            call(&handler, &event(fixture)).await.status,
            200,
            "{fixture}"
        );

        put_secret(
            &admin,
            secret_id,
            &secret_json(AUTHSIGNAL_SECRET, AUTH0_CLIENT_ID, "a0-new"),
        )
        .await;
        auth0_accepting(&upstreams.auth0, "a0-new").await;
        let answer = call(&handler, &event(fixture)).await;
        assert_eq!(answer.status, 200, "{fixture}: {answer:?}");
        assert_eq!(
            upstreams.auth0.received_requests().await.unwrap().len(),
            2,
            "{fixture}: one rejected call, one retry"
        );
    }
}

#[tokio::test]
#[ignore = "needs moto: `make test` runs it"]
async fn the_signing_key_is_read_cached_and_rotated_with_the_secret() {
    let moto = Moto::start();
    let admin = moto.admin().await;
    let secret_id = "bridge/signing-key";
    create_secret(
        &admin,
        secret_id,
        &secret_json(AUTHSIGNAL_SECRET, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET),
    )
    .await;
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    upstreams.auth0_answers(refreshed_tokens()).await;
    let ttl = [("SECRET_ID", secret_id), ("SECRET_CACHE_TTL_SECONDS", "1")];
    let vars = with(&without(&upstreams.vars(), "BRIDGE_SIGNING_KEY"), &ttl);
    let handler = handler_over_aws(&vars, moto.loader()).await;
    let kid_of_last_sign_in = || async {
        let requests = upstreams.auth0_requests().await;
        let request = requests.last().unwrap();
        jwt_part(&form(request)["password"], 0)["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        call(&handler, &event("http-api-token.json")).await.status,
        200
    );
    assert_eq!(kid_of_last_sign_in().await, SIGNING_KEY_ID);

    // Step 2 of a rotation: the secret gets the new key; the bridge signs with it once its
    // cache expires.
    let mut rotated: serde_json::Value = serde_json::from_str(&secret_json(
        AUTHSIGNAL_SECRET,
        AUTH0_CLIENT_ID,
        AUTH0_CLIENT_SECRET,
    ))
    .unwrap();
    rotated["BRIDGE_SIGNING_KEY"] = json!(NEXT_SIGNING_KEY);
    put_secret(&admin, secret_id, &rotated.to_string()).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        call(&handler, &event("http-api-token.json")).await.status,
        200
    );
    assert_eq!(kid_of_last_sign_in().await, NEXT_SIGNING_KEY_ID);

    // A secret whose key is broken: sign-ins get the configuration 500 (Authsignal not asked),
    // sessions go on.
    rotated["BRIDGE_SIGNING_KEY"] =
        json!("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----");
    put_secret(&admin, secret_id, &rotated.to_string()).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let validations = upstreams.authsignal_requests().await.len();
    let answer = call(&handler, &event("http-api-token.json")).await;
    assert_eq!(
        (answer.status, answer.error().as_str()),
        (500, "server_error")
    );
    assert_eq!(upstreams.authsignal_requests().await.len(), validations);
    assert_eq!(
        call(&handler, &event("http-api-refresh.json")).await.status,
        200
    );
}
