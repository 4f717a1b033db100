//! The bridge and the shipped Login script, tested together: the real `bootstrap` binary,
//! driven through the Lambda Runtime API double, signs in against an Auth0 stand-in that runs
//! `auth0/login.js` in the sandbox Auth0 gives a custom database script. The stand-in answers
//! 200 only when the script calls back with a profile. Authsignal is a wiremock stand-in.
//! Needs Node.js (`make test` runs these).

mod support;

use serde_json::{json, Value};
use support::auth0_stand_in::Auth0StandIn;
use support::runtime_api::{body, Function, RuntimeApi};
use support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

/// The bridge, as configured by `vars` on top of the stand-ins' (Auth0 at `auth0`).
async fn bridge(
    upstreams: &Upstreams,
    auth0: &Auth0StandIn,
    vars: &[(&str, &str)],
) -> (RuntimeApi, Function) {
    let runtime = RuntimeApi::start().await;
    let mut all = with(&upstreams.vars(), &[("AUTH0_DOMAIN", &auth0.url)]);
    all = with(&all, vars);
    let function = Function::start(&runtime, &all);
    (runtime, function)
}

/// Authsignal's stand-in confirming the challenge, and the Auth0 stand-in with `settings` as
/// the connection's.
async fn stand_ins(settings: &[(&str, &str)]) -> (Upstreams, Auth0StandIn) {
    Auth0StandIn::beside_authsignal(settings, &[]).await
}

/// The passwords of the password grants Auth0's stand-in received, in order.
async fn passwords(auth0: &Auth0StandIn) -> Vec<String> {
    auth0
        .requests()
        .await
        .iter()
        .filter(|request| request["method"] == "POST")
        .map(|request| request["form"]["password"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
#[ignore = "needs Node.js: `make test` runs it"]
async fn the_shipped_script_accepts_the_bridges_assertion_and_the_user_gets_authsignals_profile() {
    let (upstreams, auth0) = stand_ins(&[("BRIDGE_PUBLIC_KEYS", PUBLIC_KEYS)]).await;
    let (mut runtime, _function) = bridge(&upstreams, &auth0, &[]).await;

    let response = runtime.respond(&event("http-api-token.json")).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    let id_token = jwt_part(body(&response)["id_token"].as_str().unwrap(), 1);
    assert_eq!(id_token["sub"], format!("auth0|{USER_ID}"));
    assert_eq!(
        id_token["email"], USER_EMAIL,
        "the email Authsignal has for the user"
    );
    assert_eq!(id_token["email_verified"], true);
    assert_eq!(id_token["name"], "Ada Lovelace");
    let users = auth0.users().await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["user_id"], format!("auth0|{USER_ID}"));
    assert_eq!(users[0]["phone_number"], "+64211234567");

    // What Auth0 received: the assertion, never the Authsignal token, in no part of any request.
    let requests = auth0.requests().await;
    let posts: Vec<&Value> = requests.iter().filter(|r| r["method"] == "POST").collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["form"]["username"], USER_ID);
    assert!(posts[0]["form"]["password"]
        .as_str()
        .unwrap()
        .starts_with("eyJ"));
    for request in &requests {
        assert!(!request.to_string().contains(TOKEN), "{request}");
        assert!(
            !request.to_string().contains("demo-authsignal-token"),
            "{request}"
        );
    }
}

#[tokio::test]
#[ignore = "needs Node.js: `make test` runs it"]
async fn the_same_authsignal_token_sent_straight_to_auth0_is_refused_by_the_script() {
    let (upstreams, auth0) = stand_ins(&[("BRIDGE_PUBLIC_KEYS", PUBLIC_KEYS)]).await;
    let direct = [
        (
            "grant_type",
            "http://auth0.com/oauth/grant-type/password-realm",
        ),
        ("realm", "authsignal"),
        ("username", USER_ID),
        ("password", TOKEN),
        ("client_id", AUTH0_CLIENT_ID),
        ("client_secret", AUTH0_CLIENT_SECRET),
        ("scope", "openid"),
    ];
    let (status, answer) = auth0.token(&direct).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("invalid_grant"))
    );
    assert!(auth0.users().await.is_empty());
    assert!(upstreams.untouched().await, "the script asked nobody");
}

#[tokio::test]
#[ignore = "needs Node.js: `make test` runs it"]
async fn a_tampered_assertion_and_one_from_a_foreign_key_are_refused_by_the_script() {
    let (upstreams, auth0) = stand_ins(&[("BRIDGE_PUBLIC_KEYS", PUBLIC_KEYS)]).await;
    let (mut runtime, _function) = bridge(&upstreams, &auth0, &[]).await;
    assert_eq!(
        runtime.respond(&event("http-api-token.json")).await["statusCode"],
        200
    );
    let assertion = passwords(&auth0).await.remove(0);

    // The bridge's own assertion, replayed at once, still passes (its 60 s life is the limit);
    // changed in any part, it is refused.
    let mut parts: Vec<String> = assertion.split('.').map(str::to_owned).collect();
    let claims = jwt_part(&assertion, 1);
    let mut forged = claims.clone();
    forged["sub"] = json!("someone-else");
    use base64::Engine;
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged.to_string());
    let tampered = parts.join(".");
    for (username, password) in [
        (USER_ID, tampered.as_str()),
        ("someone-else", tampered.as_str()),
    ] {
        let (status, answer) = auth0
            .token(&[
                ("grant_type", "password"),
                ("username", username),
                ("password", password),
                ("client_id", AUTH0_CLIENT_ID),
                ("client_secret", AUTH0_CLIENT_SECRET),
            ])
            .await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (403, Some("invalid_grant")),
            "{username}"
        );
    }

    // A bridge signing with a key the connection does not list gets Auth0's refusal, passed on.
    let (mut foreign, _other) = bridge(
        &upstreams,
        &auth0,
        &[("BRIDGE_SIGNING_KEY", NEXT_SIGNING_KEY)],
    )
    .await;
    let refused = foreign.respond(&event("http-api-token.json")).await;
    assert_eq!(refused["statusCode"], 403);
    assert_eq!(body(&refused)["error"], "invalid_grant");
    assert_eq!(
        body(&refused)["error_description"],
        "Wrong email or password."
    );
}

#[tokio::test]
#[ignore = "needs Node.js: `make test` runs it"]
async fn during_a_rotation_the_connection_accepts_the_old_and_the_new_key() {
    // Step 1 of a rotation: the new public key beside the old one (what `make signing-key
    // --keep` prints).
    let old: Value = serde_json::from_str(PUBLIC_KEYS).unwrap();
    let new: Value = serde_json::from_str(NEXT_PUBLIC_KEYS).unwrap();
    let both = json!([old[0], new[0]]).to_string();
    let (upstreams, auth0) = stand_ins(&[("BRIDGE_PUBLIC_KEYS", &both)]).await;
    for key in [SIGNING_KEY, NEXT_SIGNING_KEY] {
        let (mut runtime, _function) =
            bridge(&upstreams, &auth0, &[("BRIDGE_SIGNING_KEY", key)]).await;
        let response = runtime.respond(&event("http-api-token.json")).await;
        assert_eq!(response["statusCode"], 200, "{response}");
    }
    let kids: Vec<Value> = passwords(&auth0)
        .await
        .iter()
        .map(|password| jwt_part(password, 0)["kid"].clone())
        .collect();
    assert_eq!(
        kids,
        [SIGNING_KEY_ID, NEXT_SIGNING_KEY_ID],
        "kids as scripts/signing-key.js computes them"
    );
}

#[tokio::test]
#[ignore = "needs Node.js: `make test` runs it"]
async fn with_authsignal_token_proof_the_script_asks_authsignal_as_before() {
    let upstreams = Upstreams::start().await;
    upstreams.authsignal_answers(challenge_succeeded()).await;
    Mock::given(method("POST"))
        .and(path("/get-user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "userId": USER_ID, "email": USER_EMAIL, "emailVerified": true
        })))
        .mount(&upstreams.authsignal)
        .await;
    let auth0 = Auth0StandIn::start(&[
        ("AUTHSIGNAL_SECRET", AUTHSIGNAL_SECRET),
        ("AUTHSIGNAL_CONNECT_URL", &upstreams.authsignal.uri()),
    ]);
    let (mut runtime, _function) = bridge(
        &upstreams,
        &auth0,
        &[("AUTH0_SIGN_IN_PROOF", "authsignal-token")],
    )
    .await;
    let response = runtime.respond(&event("http-api-token.json")).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(passwords(&auth0).await, [TOKEN]);
    assert!(
        upstreams.user_lookups().await.is_empty(),
        "no profile lookup by the bridge"
    );
    assert_eq!(auth0.users().await[0]["email"], USER_EMAIL);
}
