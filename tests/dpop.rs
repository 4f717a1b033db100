//! Sender-constrained tokens (DPoP, RFC 9449): the app signs a proof for Auth0's token
//! endpoint, the bridge checks its shape only and forwards it unchanged with the sign-in or the
//! refresh, never to Authsignal or the revocation, and passes Auth0's nonce and DPoP errors back.
//! Handler tests against wiremock; then the real binary against the Auth0 stand-in that
//! verifies proofs as Auth0 documents it (those need Node.js: `make test` runs them).

mod support;

use serde_json::{json, Value};
use support::auth0_stand_in::Auth0StandIn;
use support::dpop::{with_dpop, DpopKey};
use support::runtime_api::{body, status_and_error, Function, RuntimeApi};
use support::*;
use wiremock::ResponseTemplate;

const AUTH0_TOKEN_URL: &str = "https://tenant.example.auth0.com/oauth/token";

fn sign_in() -> Value {
    event("http-api-token.json")
}

/// The DPoP headers a stand-in request carried.
fn dpop_headers(request: &wiremock::Request) -> Vec<String> {
    request
        .headers
        .get_all("dpop")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_proof_is_forwarded_unchanged_with_the_sign_in_and_the_refresh_and_nowhere_else() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    upstreams.auth0_revoke_answers(revoked()).await;
    let handler = handler(&upstreams.vars()).await;
    let key = DpopKey::new();
    let (first, second, third) = (
        key.proof(AUTH0_TOKEN_URL, None),
        key.proof(AUTH0_TOKEN_URL, None),
        key.proof(AUTH0_TOKEN_URL, None),
    );
    for (fixture, proof) in [
        ("http-api-token.json", &first),
        ("http-api-refresh.json", &second),
        ("rest-api-refresh-form.json", &third),
    ] {
        let answer = call(&handler, &with_dpop(event(fixture), proof)).await;
        assert_eq!(answer.status, 200, "{fixture}: {answer:?}");
    }
    let revocation = call(
        &handler,
        &with_dpop(
            event("http-api-revoke.json"),
            &key.proof(AUTH0_TOKEN_URL, None),
        ),
    )
    .await;
    assert_eq!(revocation.status, 200);

    let sent: Vec<Vec<String>> = upstreams
        .auth0_requests()
        .await
        .iter()
        .map(dpop_headers)
        .collect();
    assert_eq!(
        sent,
        [vec![first], vec![second], vec![third]],
        "byte for byte"
    );
    for request in upstreams.auth0_revoke_requests().await {
        assert!(
            dpop_headers(&request).is_empty(),
            "never with the revocation"
        );
    }
    let authsignal = upstreams.authsignal.received_requests().await.unwrap();
    assert!(
        authsignal.iter().all(|r| dpop_headers(r).is_empty()),
        "never to Authsignal"
    );
}

#[tokio::test]
async fn a_repeated_or_malformed_proof_is_400_invalid_dpop_proof_with_no_upstream_call() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let handler = handler(&upstreams.vars()).await;
    let key = DpopKey::new();
    let proof = key.proof(AUTH0_TOKEN_URL, None);
    let mut cases: Vec<(&str, Value)> = vec![
        (
            "two parts",
            with_dpop(sign_in(), "eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJ4In0"),
        ),
        ("four parts", with_dpop(sign_in(), &format!("{proof}.x"))),
        ("an empty part", with_dpop(sign_in(), "eyJhIjoxfQ..c2ln")),
        (
            "not base64url",
            with_dpop(sign_in(), "eyJh+IjoxfQ.eyJh/IjoxfQ.c2ln"),
        ),
        ("empty", with_dpop(sign_in(), "")),
        (
            "over 4096 bytes",
            with_dpop(sign_in(), &format!("{}.e30.c2ln", "a".repeat(4090))),
        ),
        // An HTTP API joins two DPoP headers into one value with a comma.
        (
            "two headers (HTTP API)",
            with_dpop(sign_in(), &format!("{proof},{proof}")),
        ),
        (
            "two proofs on a refresh",
            with_dpop(event("http-api-refresh.json"), &format!("{proof}, {proof}")),
        ),
    ];
    // A REST API keeps both values.
    let mut rest = with_dpop(event("rest-api-token.json"), &proof);
    rest["multiValueHeaders"]["dpop"] = json!([proof, proof]);
    cases.push(("two headers (REST API)", rest));
    for (case, event) in cases {
        let answer = call(&handler, &event).await;
        assert_eq!(
            (answer.status, answer.error().as_str()),
            (400, "invalid_dpop_proof"),
            "{case}"
        );
    }
    assert!(
        upstreams.untouched().await,
        "refused before any upstream call"
    );
}

#[tokio::test]
async fn with_dpop_required_a_sign_in_or_refresh_without_a_proof_is_refused() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    upstreams.auth0_revoke_answers(revoked()).await;
    let handler = handler(&with(&upstreams.vars(), &[("DPOP", "required")])).await;
    for fixture in [
        "http-api-token.json",
        "http-api-refresh.json",
        "rest-api-refresh-form.json",
    ] {
        let answer = call(&handler, &event(fixture)).await;
        assert_eq!(
            (answer.status, answer.error().as_str()),
            (400, "invalid_dpop_proof"),
            "{fixture}"
        );
    }
    assert!(upstreams.untouched().await);
    // With one, it goes through; a sign-out needs none.
    let key = DpopKey::new();
    let answer = call(
        &handler,
        &with_dpop(sign_in(), &key.proof(AUTH0_TOKEN_URL, None)),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        call(&handler, &event("http-api-revoke.json")).await.status,
        200
    );
}

#[tokio::test]
async fn auth0s_nonce_and_dpop_errors_come_back_to_the_app_unchanged() {
    let key = DpopKey::new();
    for fixture in ["http-api-token.json", "http-api-refresh.json"] {
        for (status, code) in [(400, "use_dpop_nonce"), (400, "invalid_dpop_proof")] {
            let upstreams = Upstreams::start().await;
            upstreams.authsignal_answers(challenge_succeeded()).await;
            let error = json!({"error": code, "error_description": "Authorization server requires nonce in DPoP proof"});
            upstreams
                .auth0_answers(
                    ResponseTemplate::new(status)
                        .set_body_raw(error.to_string(), "application/json")
                        .insert_header("dpop-nonce", "eyJ7S_zG.nonce-from-auth0"),
                )
                .await;
            let answer = call(
                &handler(&upstreams.vars()).await,
                &with_dpop(event(fixture), &key.proof(AUTH0_TOKEN_URL, None)),
            )
            .await;
            assert_eq!(answer.status, status, "{fixture} {code}");
            assert_eq!(
                answer.text,
                error.to_string(),
                "{fixture} {code}: the body unchanged"
            );
            assert_eq!(
                answer.header("dpop-nonce"),
                Some("eyJ7S_zG.nonce-from-auth0")
            );
        }
    }
    // A success with a nonce passes it on too, and `token_type: DPoP` is Auth0's answer as is.
    let upstreams = Upstreams::start().await;
    upstreams.authsignal_answers(challenge_succeeded()).await;
    let bound = json!({"access_token": ACCESS_TOKEN, "token_type": "DPoP", "expires_in": 86400});
    upstreams
        .auth0_answers(
            ResponseTemplate::new(200)
                .set_body_raw(bound.to_string(), "application/json")
                .insert_header("dpop-nonce", "next-nonce"),
        )
        .await;
    let answer = call(
        &handler(&upstreams.vars()).await,
        &with_dpop(sign_in(), &key.proof(AUTH0_TOKEN_URL, None)),
    )
    .await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (200, bound.to_string().as_str())
    );
    assert_eq!(answer.header("dpop-nonce"), Some("next-nonce"));
}

#[tokio::test]
async fn a_retry_after_a_credentials_refresh_carries_the_same_proof() {
    let upstreams = Upstreams::start().await;
    upstreams.authsignal_answers(challenge_succeeded()).await;
    upstreams
        .auth0_answers(
            ResponseTemplate::new(401).set_body_json(
                json!({"error": "access_denied", "error_description": "Unauthorized"}),
            ),
        )
        .await;
    let key = DpopKey::new();
    let proof = key.proof(AUTH0_TOKEN_URL, None);
    let answer = call(
        &handler(&upstreams.vars()).await,
        &with_dpop(sign_in(), &proof),
    )
    .await;
    // The environment's credentials cannot change: one call, the 500; the proof went with it.
    assert_eq!(answer.status, 500);
    let sent: Vec<Vec<String>> = upstreams
        .auth0_requests()
        .await
        .iter()
        .map(dpop_headers)
        .collect();
    assert!(
        sent.iter()
            .all(|headers| headers == std::slice::from_ref(&proof)),
        "{sent:?}"
    );
}

// ---- the binary against the Auth0 stand-in that verifies proofs --------------------------------

/// The binary against the Auth0 stand-in that verifies proofs (and demands a nonce first, with
/// `nonce`), and the app's key.
struct Stage {
    _upstreams: Upstreams,
    auth0: Auth0StandIn,
    runtime: RuntimeApi,
    function: Function,
    key: DpopKey,
    /// Auth0's token endpoint: what the app's proofs name as `htu`.
    token_url: String,
}

async fn stage(nonce: bool) -> Stage {
    let flags: &[&str] = if nonce { &["--dpop-nonce"] } else { &[] };
    let (upstreams, auth0) =
        Auth0StandIn::beside_authsignal(&[("BRIDGE_PUBLIC_KEYS", PUBLIC_KEYS)], flags).await;
    let runtime = RuntimeApi::start().await;
    let vars = with(
        &upstreams.vars(),
        &[
            ("AUTH0_DOMAIN", &auth0.url),
            ("AUTH0_SCOPE", "openid offline_access"),
        ],
    );
    let function = Function::start(&runtime, &vars);
    Stage {
        token_url: format!("{}/oauth/token", auth0.url),
        _upstreams: upstreams,
        auth0,
        runtime,
        function,
        key: DpopKey::new(),
    }
}

#[tokio::test]
#[ignore = "needs Node.js: `make test` runs it"]
async fn auth0_binds_the_tokens_to_the_apps_key_through_the_bridge() {
    // Every field bound: one left in `..` would be dropped here, stopping the binary.
    let Stage {
        _upstreams,
        auth0,
        mut runtime,
        function: _function,
        key,
        token_url,
    } = stage(false).await;

    let proof = key.proof(&token_url, None);
    let signed_in = runtime.respond(&with_dpop(sign_in(), &proof)).await;
    assert_eq!(signed_in["statusCode"], 200, "{signed_in}");
    let tokens = body(&signed_in);
    assert_eq!(tokens["token_type"], "DPoP");
    assert_eq!(
        jwt_part(tokens["access_token"].as_str().unwrap(), 1)["cnf"]["jkt"],
        key.jkt()
    );
    let seen = auth0.requests().await;
    assert_eq!(
        seen.last().unwrap()["headers"]["dpop"],
        proof,
        "the stand-in saw the same bytes"
    );

    // The refresh: bound to the same key.
    let refresh = refresh_event(tokens["refresh_token"].as_str().unwrap());
    let refreshed = runtime
        .respond(&with_dpop(refresh, &key.proof(&token_url, None)))
        .await;
    assert_eq!(refreshed["statusCode"], 200, "{refreshed}");
    assert_eq!(body(&refreshed)["token_type"], "DPoP");
    // Another key cannot redeem the (rotated) refresh token.
    let rotated = body(&refreshed)["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let thief = refresh_event(&rotated);
    let stolen = runtime
        .respond(&with_dpop(thief, &DpopKey::new().proof(&token_url, None)))
        .await;
    assert_eq!(
        status_and_error(&stolen),
        (400, "invalid_dpop_proof".to_owned())
    );
}

#[tokio::test]
#[ignore = "needs Node.js: `make test` runs it"]
async fn a_proof_for_the_bridges_url_or_a_replayed_jti_is_refused_by_auth0() {
    let Stage {
        _upstreams,
        auth0: _auth0,
        mut runtime,
        function: _function,
        key,
        token_url,
    } = stage(false).await;

    // htu must name Auth0's token endpoint, never the bridge's URL.
    let for_the_bridge = key.proof(
        "https://abc123defg.execute-api.eu-west-1.amazonaws.com/token",
        None,
    );
    let answer = runtime
        .respond(&with_dpop(sign_in(), &for_the_bridge))
        .await;
    assert_eq!(
        status_and_error(&answer),
        (400, "invalid_dpop_proof".to_owned())
    );
    // A proof seen once is refused the second time (its jti).
    let proof = key.proof(&token_url, None);
    let first = runtime.respond(&with_dpop(sign_in(), &proof)).await;
    assert_eq!(first["statusCode"], 200, "{first}");
    let replayed = runtime.respond(&with_dpop(sign_in(), &proof)).await;
    assert_eq!(
        status_and_error(&replayed),
        (400, "invalid_dpop_proof".to_owned())
    );
}

#[tokio::test]
#[ignore = "needs Node.js: `make test` runs it"]
async fn the_nonce_goes_round_trip_through_the_bridge() {
    let Stage {
        _upstreams,
        auth0,
        mut runtime,
        function,
        key,
        token_url,
    } = stage(true).await;

    let first_proof = key.proof(&token_url, None);
    let without = runtime.respond(&with_dpop(sign_in(), &first_proof)).await;
    assert_eq!(
        status_and_error(&without),
        (400, "use_dpop_nonce".to_owned())
    );
    let nonce = without["headers"]["dpop-nonce"]
        .as_str()
        .expect("Auth0's nonce passed on")
        .to_owned();
    // The same Authsignal token again, now with a proof that carries the nonce.
    let second_proof = key.proof(&token_url, Some(&nonce));
    let with = runtime.respond(&with_dpop(sign_in(), &second_proof)).await;
    assert_eq!(with["statusCode"], 200, "{with}");
    assert_eq!(body(&with)["token_type"], "DPoP");
    assert!(with["headers"]["dpop-nonce"].is_string());
    let sent: Vec<Value> = auth0
        .requests()
        .await
        .iter()
        .filter(|r| r["method"] == "POST")
        .map(|r| r["headers"]["dpop"].clone())
        .collect();
    assert_eq!(sent, [json!(first_proof), json!(second_proof)]);

    // The summary lines say a proof was forwarded, never what it was.
    let output = function.output().join("\n");
    assert_eq!(output.matches(r#"dpop="forwarded""#).count(), 2, "{output}");
    for proof in [&first_proof, &second_proof] {
        let signature = proof.rsplit('.').next().unwrap();
        assert!(!output.contains(signature), "a proof in the log");
    }
}
