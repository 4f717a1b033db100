//! The profile lookup alongside `/validate` (docs/behaviour.md, "The sign-in", step 1): started
//! from the user an Authsignal-signed token names, used only when `/validate` confirms that same
//! user, never started for a token Authsignal did not sign with our key, never more than one
//! extra Authsignal call. The real binary through the Runtime API double, whose summary line
//! says when the profile was looked up.

mod support;

use serde_json::{json, Value};
use support::runtime_api::{body, Function, RuntimeApi};
use support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

fn sign_in_with(token: &str) -> Value {
    with_body(
        event("http-api-token.json"),
        &json!({ "token": token }).to_string(),
    )
}

/// Signs in once with `token` and returns the answer and the summary line.
async fn sign_in_once(upstreams: &Upstreams, token: &str) -> (Value, Value, Vec<String>) {
    let mut runtime = RuntimeApi::start().await;
    let vars = with(&upstreams.vars(), &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    let mut function = Function::start(&runtime, &vars);
    let response = runtime.respond(&sign_in_with(token)).await;
    let output = function.stop();
    let summary = output
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["message"] == "exchange finished")
        .expect("a summary line");
    (response, summary, output)
}

/// The paths of the profile lookups Authsignal's stand-in received, in order.
async fn lookups(upstreams: &Upstreams) -> Vec<String> {
    upstreams
        .user_lookups()
        .await
        .iter()
        .map(|request| request.url.path().to_owned())
        .collect()
}

fn assertion_of(request: &wiremock::Request) -> Value {
    let (_, claims) = verify_assertion(&form(request)["password"]).expect("a valid assertion");
    claims
}

#[tokio::test]
async fn a_token_authsignal_signed_has_its_users_profile_looked_up_alongside_validate() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let token = signed_authsignal_token(USER_ID);
    let (response, summary, output) = sign_in_once(&upstreams, &token).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(summary["profile_lookup"], "alongside_validate", "{summary}");
    assert!(summary["profile_ms"].as_f64().is_some(), "{summary}");
    assert_eq!(lookups(&upstreams).await, [format!("/v1/users/{USER_ID}")]);
    let claims = assertion_of(&upstreams.auth0_requests().await[0]);
    assert_eq!(
        (claims["sub"].as_str(), claims["email"].as_str()),
        (Some(USER_ID), Some(USER_EMAIL))
    );
    assert!(
        !output.iter().any(|line| line.contains(&token)),
        "the token is never logged"
    );
}

#[tokio::test]
async fn a_token_naming_another_user_than_validate_confirms_is_looked_up_again_for_the_validated_one(
) {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    Mock::given(method("GET"))
        .and(path("/v1/users/user-mallory"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "isEnrolled": true, "email": "mallory@example.com", "emailVerified": true
        })))
        .mount(&upstreams.authsignal)
        .await;
    let (response, summary, _) =
        sign_in_once(&upstreams, &signed_authsignal_token("user-mallory")).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(
        summary["profile_lookup"], "repeated_after_validate",
        "{summary}"
    );
    assert_eq!(
        lookups(&upstreams).await,
        [
            "/v1/users/user-mallory".to_owned(),
            format!("/v1/users/{USER_ID}")
        ],
        "one extra Authsignal call, never more"
    );
    let claims = assertion_of(&upstreams.auth0_requests().await[0]);
    assert_eq!(
        (claims["sub"].as_str(), claims["email"].as_str()),
        (Some(USER_ID), Some(USER_EMAIL)),
        "the validated user, with the validated user's profile"
    );
}

#[tokio::test]
async fn a_failed_early_lookup_is_made_again_after_validate_and_its_failure_is_never_the_answer() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/users/{USER_ID}")))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&upstreams.authsignal)
        .await;
    let (response, summary, _) = sign_in_once(&upstreams, &signed_authsignal_token(USER_ID)).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(
        summary["profile_lookup"], "repeated_after_validate",
        "{summary}"
    );
    assert_eq!(lookups(&upstreams).await.len(), 2);
}

#[tokio::test]
async fn a_token_not_signed_with_our_key_starts_no_lookup_before_validate_and_a_refused_one_none_at_all(
) {
    // Signed with another key: read as no user at all.
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let fixture = sign_in_once(&upstreams, TOKEN).await;
    assert_eq!(fixture.0["statusCode"], 200);
    assert_eq!(
        fixture.1["profile_lookup"], "after_validate",
        "{}",
        fixture.1
    );

    // Authsignal-signed, but refused by /validate: no lookup is waited for or used, no Auth0 call.
    let upstreams = Upstreams::start().await;
    upstreams
        .authsignal_answers(ResponseTemplate::new(200).set_body_json(json!({
            "isValid": false, "state": "CHALLENGE_FAILED", "userId": USER_ID
        })))
        .await;
    let (response, summary, _) = sign_in_once(&upstreams, &signed_authsignal_token(USER_ID)).await;
    assert_eq!(
        (
            response["statusCode"].as_u64(),
            body(&response)["error"].as_str()
        ),
        (Some(400), Some("invalid_grant"))
    );
    assert!(upstreams.auth0_requests().await.is_empty());
    assert!(summary.get("profile_lookup").is_none(), "{summary}");

    // Not a JWT Authsignal signed at all: refused, and never a lookup.
    let upstreams = Upstreams::start().await;
    upstreams
        .authsignal_answers(ResponseTemplate::new(200).set_body_json(json!({"isValid": false})))
        .await;
    let forged = signed_authsignal_token(USER_ID)
        .rsplit_once('.')
        .unwrap()
        .0
        .to_owned()
        + ".Zm9yZ2Vk";
    let (response, _, _) = sign_in_once(&upstreams, &forged).await;
    assert_eq!(response["statusCode"], 400);
    assert!(
        lookups(&upstreams).await.is_empty(),
        "no lookup for a forged token"
    );
}
