//! What a sign-in proves to Auth0 (`AUTH0_SIGN_IN_PROOF`): by default an assertion the bridge
//! signs after its checks, carrying the profile it read at Authsignal; or the Authsignal token
//! itself. Handler tests with wiremock stand-ins; the assertions are verified with the test
//! key's public half, and the tests that run the shipped Login script are in
//! tests/login_script.rs.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use support::*;
use wiremock::ResponseTemplate;

fn http_api() -> Value {
    event("http-api-token.json")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Every byte Auth0's stand-in received (bodies and headers).
async fn everything_auth0_saw(upstreams: &Upstreams) -> String {
    upstreams
        .auth0
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| {
            format!(
                "{:?} {}",
                request.headers,
                String::from_utf8_lossy(&request.body)
            )
        })
        .collect()
}

#[tokio::test]
async fn the_password_is_an_assertion_with_the_documented_claims_and_never_the_authsignal_token() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let answer = call(&handler(&upstreams.vars()).await, &http_api()).await;
    assert_eq!(answer.status, 200);

    let request = &upstreams.auth0_requests().await[0];
    let password = form(request)["password"].clone();
    let (header, claims) = verify_assertion(&password).expect("signed with the bridge's key");
    assert_eq!(
        header,
        json!({"alg": "EdDSA", "typ": "JWT", "kid": SIGNING_KEY_ID}),
        "kid: the RFC 7638 thumbprint, as scripts/signing-key.js computes it"
    );
    let iat = claims["iat"].as_u64().unwrap();
    assert!(iat.abs_diff(now()) <= 5, "issued now");
    let jti = claims["jti"].as_str().unwrap().to_owned();
    assert_eq!(
        claims,
        json!({
            "iss": "authsignal-auth0-bridge",
            "aud": "authsignal",
            "sub": USER_ID,
            "iat": iat,
            "exp": iat + 60,
            "jti": jti,
            "verification_method": "PASSKEY",
            "action": "signInWithPasskey",
            "email": USER_EMAIL,
            "email_verified": true,
            "phone_number": "+64211234567",
            "username": "ada",
            "name": "Ada Lovelace",
        })
    );
    // Without a replay record the jti is random (never derived from the token).
    assert!(!jti.contains("2b8e6f0a") && jti.len() == 22, "{jti}");

    // Nothing Auth0 got holds the Authsignal token, or its SHA-256 in hex or base64.
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(TOKEN.as_bytes());
    let seen = everything_auth0_saw(&upstreams).await;
    for forbidden in [
        TOKEN.to_owned(),
        "demo-authsignal-token".to_owned(),
        hex::encode(digest),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
        AUTHSIGNAL_SECRET.to_owned(),
    ] {
        assert!(!seen.contains(&forbidden), "Auth0 saw {forbidden}");
        assert!(!password.contains(&forbidden));
    }
}

#[tokio::test]
async fn the_issuer_and_audience_follow_assertion_issuer_and_auth0_realm() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let vars = with(
        &upstreams.vars(),
        &[
            ("ASSERTION_ISSUER", "https://bridge.example.com"),
            ("AUTH0_REALM", "passkeys"),
        ],
    );
    assert_eq!(call(&handler(&vars).await, &http_api()).await.status, 200);
    let request = &upstreams.auth0_requests().await[0];
    let claims = assertion_claims(request);
    assert_eq!(
        (claims["iss"].as_str(), claims["aud"].as_str()),
        (Some("https://bridge.example.com"), Some("passkeys"))
    );
    assert_eq!(form(request)["realm"], "passkeys");
}

#[tokio::test]
async fn the_profile_lookup_reads_the_validated_user_with_basic_auth() {
    let upstreams = Upstreams::start().await;
    let provider_user = "google-oauth2|108234";
    upstreams
        .authsignal_answers(ResponseTemplate::new(200).set_body_json(json!({
            "isValid": true, "state": "CHALLENGE_SUCCEEDED", "userId": provider_user,
            "verificationMethod": "PASSKEY"
        })))
        .await;
    upstreams.auth0_answers(tokens()).await;
    assert_eq!(
        call(&handler(&upstreams.vars()).await, &http_api())
            .await
            .status,
        200
    );

    let lookups = upstreams.user_lookups().await;
    assert_eq!(lookups.len(), 1);
    assert_eq!(lookups[0].url.path(), "/v1/users/google-oauth2%7C108234");
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{AUTHSIGNAL_SECRET}:"));
    assert_eq!(
        lookups[0].headers.get("authorization").unwrap(),
        &format!("Basic {basic}")
    );
    let request = &upstreams.auth0_requests().await[0];
    assert_eq!(
        assertion_claims(request)["sub"],
        provider_user,
        "the user id unchanged"
    );
    assert_eq!(form(request)["username"], provider_user);
}

#[tokio::test]
async fn with_the_profile_off_nothing_is_looked_up_and_the_assertion_has_no_profile() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let vars = with(&upstreams.vars(), &[("AUTHSIGNAL_PROFILE", "false")]);
    assert_eq!(call(&handler(&vars).await, &http_api()).await.status, 200);
    assert!(upstreams.user_lookups().await.is_empty());
    let claims = assertion_claims(&upstreams.auth0_requests().await[0]);
    for profile_claim in [
        "email",
        "email_verified",
        "phone_number",
        "username",
        "name",
    ] {
        assert!(claims.get(profile_claim).is_none(), "{profile_claim}");
    }
}

#[tokio::test]
async fn with_the_authsignal_token_proof_the_password_is_the_token_and_nothing_is_looked_up() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    // No signing key needed (nor used) in this mode.
    let vars = with(
        &without(&upstreams.vars(), "BRIDGE_SIGNING_KEY"),
        &[("AUTH0_SIGN_IN_PROOF", "authsignal-token")],
    );
    assert_eq!(call(&handler(&vars).await, &http_api()).await.status, 200);
    assert_eq!(
        form(&upstreams.auth0_requests().await[0])["password"],
        TOKEN
    );
    assert!(upstreams.user_lookups().await.is_empty());
}

#[tokio::test]
async fn a_failed_profile_lookup_is_answered_like_a_failed_validation_and_auth0_is_not_called() {
    for (lookup, status, error, retry_after) in [
        (
            ResponseTemplate::new(429).insert_header("retry-after", "9"),
            429,
            "temporarily_unavailable",
            Some("9"),
        ),
        (
            ResponseTemplate::new(500),
            502,
            "temporarily_unavailable",
            None,
        ),
        (
            ResponseTemplate::new(200).set_body_string("<html>"),
            502,
            "temporarily_unavailable",
            None,
        ),
        (
            ResponseTemplate::new(404).set_body_json(json!({"error": "not_found"})),
            400,
            "invalid_grant",
            None,
        ),
        (
            ResponseTemplate::new(200).set_delay(Duration::from_secs(3)),
            504,
            "temporarily_unavailable",
            None,
        ),
        (
            ResponseTemplate::new(401).set_body_json(json!({"error": "unauthorized"})),
            500,
            "server_error",
            None,
        ),
    ] {
        let upstreams = Upstreams::start().await;
        upstreams.happy_path().await;
        upstreams.authsignal_user_answers(lookup).await;
        let answer = call(&handler(&upstreams.vars()).await, &http_api()).await;
        assert_eq!((answer.status, answer.error()), (status, error.to_owned()));
        assert_eq!(answer.header("retry-after"), retry_after);
        assert!(
            upstreams.auth0_requests().await.is_empty(),
            "Auth0 is not called ({status})"
        );
    }
}

#[tokio::test]
async fn without_a_usable_signing_key_every_sign_in_is_500_before_authsignal_is_asked() {
    for key in [
        None,
        Some("REPLACE_ME"),
        Some("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----"),
    ] {
        let upstreams = Upstreams::start().await;
        upstreams.happy_path().await;
        upstreams.auth0_answers(refreshed_tokens()).await;
        let vars = without(&upstreams.vars(), "BRIDGE_SIGNING_KEY");
        let vars = match key {
            Some(key) => with(&vars, &[("BRIDGE_SIGNING_KEY", key)]),
            None => vars,
        };
        let handler = handler(&vars).await;
        let answer = call(&handler, &http_api()).await;
        assert_eq!(
            (answer.status, answer.error()),
            (500, "server_error".to_owned()),
            "{key:?}"
        );
        assert!(
            upstreams.untouched().await,
            "no call, and never the token instead ({key:?})"
        );
        // Sessions do not need the key: refresh keeps working.
        let refresh = call(&handler, &event("http-api-refresh.json")).await;
        assert_eq!(refresh.status, 200);
    }
}
