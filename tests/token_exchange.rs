//! Custom Token Exchange (`AUTH0_GRANT_TYPE=token-exchange`): the sign-in sends Auth0 the
//! bridge's assertion as an RFC 8693 `subject_token` instead of a password; everything else
//! (refresh, revocation, DPoP, errors passed through, `auth0-forwarded-for`) is unchanged.
//! Handler tests against wiremock check the form field by field and the configuration errors;
//! then the real binary against the Auth0 stand-in that runs the shipped Action
//! (`auth0/token-exchange.js`), which needs Node.js (`make test` runs those).

mod support;

use std::collections::BTreeSet;

use serde_json::{json, Value};
use support::auth0_stand_in::Auth0StandIn;
use support::dpop::{with_dpop, DpopKey};
use support::runtime_api::{body, status_and_error, Function, RuntimeApi};
use support::*;
use wiremock::ResponseTemplate;

const SUBJECT_TOKEN_TYPE: &str = "urn:acme:authsignal-bridge-assertion";
const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The caller's IP in `events/http-api-token.json`.
const CALLER_IP: &str = "203.0.113.10";
/// The fields of the token exchange form, all of them: no realm, username or password.
const TOKEN_EXCHANGE_FIELDS: [&str; 7] = [
    "audience",
    "client_id",
    "client_secret",
    "grant_type",
    "scope",
    "subject_token",
    "subject_token_type",
];

/// The names of the fields of a form, sorted.
fn field_names<'a>(names: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    names
        .map(String::as_str)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn token_exchange_vars(upstreams: &Upstreams) -> Vec<(String, String)> {
    with(
        &upstreams.vars(),
        &[
            ("AUTH0_GRANT_TYPE", "token-exchange"),
            ("AUTH0_SUBJECT_TOKEN_TYPE", SUBJECT_TOKEN_TYPE),
            ("AUTH0_AUDIENCE", "https://api.example.com"),
        ],
    )
}

// ---- the handler, against wiremock -------------------------------------------------------------

#[tokio::test]
async fn the_sign_in_sends_the_token_exchange_grant_with_the_assertion_as_subject_token() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let handler = handler(&token_exchange_vars(&upstreams)).await;

    let answer = call(&handler, &event("http-api-token.json")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["access_token"], ACCESS_TOKEN);

    let requests = upstreams.auth0_requests().await;
    assert_eq!(requests.len(), 1);
    let sent = form(&requests[0]);
    assert_eq!(field_names(sent.keys()), TOKEN_EXCHANGE_FIELDS);
    assert_eq!(sent["grant_type"], TOKEN_EXCHANGE_GRANT);
    assert_eq!(sent["subject_token_type"], SUBJECT_TOKEN_TYPE);
    assert_eq!(sent["client_id"], AUTH0_CLIENT_ID);
    assert_eq!(sent["client_secret"], AUTH0_CLIENT_SECRET);
    assert_eq!(sent["scope"], "openid profile email");
    assert_eq!(sent["audience"], "https://api.example.com");
    assert_eq!(
        requests[0]
            .headers
            .get("auth0-forwarded-for")
            .map(|v| v.to_str().unwrap()),
        Some(CALLER_IP)
    );

    // The subject token is the bridge's assertion, with the same claims as for the password
    // grant; never the Authsignal token.
    let subject_token = &sent["subject_token"];
    assert_ne!(subject_token, TOKEN);
    let (header, claims) = verify_assertion(subject_token).expect("signed by the bridge's key");
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], SIGNING_KEY_ID);
    assert_eq!(claims["iss"], "authsignal-auth0-bridge");
    assert_eq!(claims["aud"], "authsignal");
    assert_eq!(claims["sub"], USER_ID);
    assert_eq!(claims["email"], USER_EMAIL);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        60
    );
    assert!(!String::from_utf8_lossy(&requests[0].body).contains(TOKEN));
}

#[tokio::test]
async fn without_an_audience_none_is_sent() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let vars: Vec<(String, String)> = token_exchange_vars(&upstreams)
        .into_iter()
        .filter(|(name, _)| name != "AUTH0_AUDIENCE")
        .collect();
    let answer = call(&handler(&vars).await, &event("http-api-token.json")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let sent = form(&upstreams.auth0_requests().await[0]);
    assert!(!sent.contains_key("audience"), "{sent:?}");
}

#[tokio::test]
async fn refresh_revocation_and_dpop_are_unchanged_in_this_mode() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    upstreams.auth0_revoke_answers(revoked()).await;
    let handler = handler(&token_exchange_vars(&upstreams)).await;
    let proof = DpopKey::new().proof("https://tenant.example.auth0.com/oauth/token", None);

    let signed_in = call(&handler, &with_dpop(event("http-api-token.json"), &proof)).await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
    let refreshed = call(&handler, &event("http-api-refresh.json")).await;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");
    let revoked = call(&handler, &event("http-api-revoke.json")).await;
    assert_eq!(revoked.status, 200, "{revoked:?}");

    let requests = upstreams.auth0_requests().await;
    assert_eq!(
        requests[0].headers.get("dpop").unwrap().to_str().unwrap(),
        proof,
        "the proof travels with the token exchange"
    );
    let refresh = form(&requests[1]);
    assert_eq!(refresh["grant_type"], "refresh_token");
    assert_eq!(refresh["refresh_token"], FIXTURE_REFRESH_TOKEN);
    assert!(!refresh.contains_key("subject_token_type"));
    assert_eq!(upstreams.auth0_revoke_requests().await.len(), 1);
}

#[tokio::test]
async fn auth0s_errors_and_its_token_exchange_rate_limit_are_passed_through() {
    for (answer, status, retry_after) in [
        (
            ResponseTemplate::new(429)
                .insert_header("retry-after", "2")
                .set_body_json(json!({"error": "too_many_requests", "error_description": "Rate limit exceeded"})),
            429,
            Some("2"),
        ),
        (
            ResponseTemplate::new(400).set_body_json(
                json!({"error": "invalid_request", "error_description": "Invalid subject token."}),
            ),
            400,
            None,
        ),
    ] {
        let upstreams = Upstreams::start().await;
        upstreams.authsignal_answers(challenge_succeeded()).await;
        upstreams.auth0_answers(answer).await;
        let got = call(
            &handler(&token_exchange_vars(&upstreams)).await,
            &event("http-api-token.json"),
        )
        .await;
        assert_eq!(got.status, status, "{got:?}");
        assert_eq!(got.header("retry-after"), retry_after);
    }
}

#[tokio::test]
async fn a_reserved_subject_token_type_or_the_authsignal_token_as_proof_is_a_500_that_calls_nobody()
{
    for changes in [
        vec![(
            "AUTH0_SUBJECT_TOKEN_TYPE",
            "urn:ietf:params:oauth:token-type:jwt",
        )],
        vec![("AUTH0_SUBJECT_TOKEN_TYPE", "https://auth0.com/assertion")],
        vec![("AUTH0_SIGN_IN_PROOF", "authsignal-token")],
    ] {
        let upstreams = Upstreams::start().await;
        upstreams.happy_path().await;
        let vars = with(&token_exchange_vars(&upstreams), &changes);
        let answer = call(&handler(&vars).await, &event("http-api-token.json")).await;
        assert_eq!(
            (answer.status, answer.error().as_str()),
            (500, "server_error"),
            "{changes:?}"
        );
        assert!(upstreams.authsignal_requests().await.is_empty());
        assert!(upstreams.auth0_requests().await.is_empty());
    }
}

// ---- the binary against the stand-in that runs the shipped Action ------------------------------

/// Authsignal's stand-in confirming the challenge, and Auth0's stand-in serving Custom Token
/// Exchange for SUBJECT_TOKEN_TYPE with the shipped Action, whose secrets are `secrets`.
async fn stand_ins(secrets: &[(&str, &str)]) -> (Upstreams, Auth0StandIn) {
    let mut settings = vec![("AUTH0_SUBJECT_TOKEN_TYPE", SUBJECT_TOKEN_TYPE)];
    settings.extend_from_slice(secrets);
    Auth0StandIn::beside_authsignal(&settings, &[]).await
}

fn bridge(
    upstreams: &Upstreams,
    auth0: &Auth0StandIn,
    runtime: &RuntimeApi,
    changes: &[(&str, &str)],
) -> Function {
    let vars = with(
        &token_exchange_vars(upstreams),
        &[
            ("AUTH0_DOMAIN", &auth0.url),
            ("AUTH0_SCOPE", "openid profile email offline_access"),
        ],
    );
    Function::start(runtime, &with(&vars, changes))
}

#[tokio::test]
#[ignore = "needs Node.js: `make test` runs it"]
async fn the_binary_signs_in_through_the_shipped_action_and_the_session_goes_on_as_before() {
    let (upstreams, auth0) = stand_ins(&[
        ("BRIDGE_PUBLIC_KEYS", PUBLIC_KEYS),
        ("BRIDGE_CLIENT_ID", AUTH0_CLIENT_ID),
    ])
    .await;
    let mut runtime = RuntimeApi::start().await;
    let _function = bridge(&upstreams, &auth0, &runtime, &[]);

    let signed_in = runtime.respond(&event("http-api-token.json")).await;
    assert_eq!(signed_in["statusCode"], 200, "{signed_in}");
    let tokens = body(&signed_in);
    let id_token = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!(id_token["sub"], format!("auth0|{USER_ID}"));
    assert_eq!(id_token["email"], USER_EMAIL);
    assert_eq!(id_token["name"], "Ada Lovelace");
    let users = auth0.users().await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["connection"], "authsignal");
    assert_eq!(users[0]["phone_number"], "+64211234567");

    // The form Auth0 received, field by field.
    let requests = auth0.requests().await;
    let posts: Vec<&Value> = requests.iter().filter(|r| r["method"] == "POST").collect();
    assert_eq!(posts.len(), 1);
    let sent = posts[0]["form"].as_object().unwrap();
    assert_eq!(field_names(sent.keys()), TOKEN_EXCHANGE_FIELDS);
    assert_eq!(sent["grant_type"], TOKEN_EXCHANGE_GRANT);
    assert_eq!(sent["subject_token_type"], SUBJECT_TOKEN_TYPE);
    assert_eq!(sent["scope"], "openid profile email offline_access");
    assert_eq!(posts[0]["headers"]["auth0-forwarded-for"], CALLER_IP);
    for request in &requests {
        assert!(!request.to_string().contains(TOKEN), "{request}");
    }

    // Refresh and sign-out through the bridge, as in the password modes.
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refreshed = runtime.respond(&refresh_event(&refresh_token)).await;
    assert_eq!(refreshed["statusCode"], 200, "{refreshed}");
    let rotated = body(&refreshed)["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        runtime.respond(&revoke_event(&rotated)).await["statusCode"],
        200
    );
    let refused = runtime.respond(&refresh_event(&rotated)).await;
    assert_eq!(
        status_and_error(&refused),
        (403, "invalid_grant".to_owned()),
        "the revoked session is over"
    );
}

#[tokio::test]
#[ignore = "needs Node.js: `make test` runs it"]
async fn the_action_binds_dpop_tokens_and_refuses_what_the_bridge_did_not_sign() {
    let (upstreams, auth0) = stand_ins(&[("BRIDGE_PUBLIC_KEYS", PUBLIC_KEYS)]).await;
    let mut runtime = RuntimeApi::start().await;
    let _function = bridge(&upstreams, &auth0, &runtime, &[]);
    let key = DpopKey::new();
    let token_url = format!("{}/oauth/token", auth0.url);

    let signed_in = runtime
        .respond(&with_dpop(
            event("http-api-token.json"),
            &key.proof(&token_url, None),
        ))
        .await;
    assert_eq!(signed_in["statusCode"], 200, "{signed_in}");
    assert_eq!(body(&signed_in)["token_type"], "DPoP");

    // The Authsignal token itself, sent as the subject token by anyone else, is refused.
    let (status, answer) = auth0
        .token(&[
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("subject_token", TOKEN),
            ("subject_token_type", SUBJECT_TOKEN_TYPE),
            ("client_id", AUTH0_CLIENT_ID),
            ("client_secret", AUTH0_CLIENT_SECRET),
            ("scope", "openid"),
        ])
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // A bridge signing with a key the Action does not list gets Auth0's refusal, passed on.
    let mut foreign_runtime = RuntimeApi::start().await;
    let _foreign = bridge(
        &upstreams,
        &auth0,
        &foreign_runtime,
        &[("BRIDGE_SIGNING_KEY", NEXT_SIGNING_KEY)],
    );
    let refused = foreign_runtime.respond(&event("http-api-token.json")).await;
    assert_eq!(
        status_and_error(&refused),
        (400, "invalid_request".to_owned())
    );
    assert_eq!(auth0.users().await.len(), 1, "only the bridge's sign-in");
}
