//! The profile lookup alongside `/validate` (docs/behaviour.md, "The sign-in", step 1): started
//! from the user an Authsignal-signed token names, used only when `/validate` confirms that same
//! user, never started for a token Authsignal did not sign with our key, never more than one
//! extra Authsignal call. The real binary through the Runtime API double, whose summary line
//! says when the profile was looked up.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::runtime_api::{body, Function, RuntimeApi};
use support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

/// Answers with `answer` (after its delay), noting when each request arrived.
struct NotingArrivals {
    answer: ResponseTemplate,
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

impl Respond for NotingArrivals {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.arrivals.lock().unwrap().push(Instant::now());
        self.answer.clone()
    }
}

/// Makes the profile lookup of `user_id` answer only after 20 s: beyond the 15 s
/// `UPSTREAM_TIMEOUT_MS` of [`sign_in_not_waiting`], and far beyond the 8 s it allows.
async fn answer_lookup_too_late(upstreams: &Upstreams, user_id: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/v1/users/{user_id}")))
        .respond_with(user().set_delay(Duration::from_secs(20)))
        .with_priority(1)
        .mount(&upstreams.authsignal)
        .await;
}

/// Signs in once with `token` (start-up included), asserting that the answer did not wait for
/// a lookup [`answer_lookup_too_late`] holds: the answer and the summary line.
async fn sign_in_not_waiting(upstreams: &Upstreams, token: &str) -> (Value, Value) {
    let started = Instant::now();
    let (response, summary, _) =
        sign_in_once_with(upstreams, token, &[("UPSTREAM_TIMEOUT_MS", "15000")]).await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "a lookup was waited for: {:?}",
        started.elapsed()
    );
    (response, summary)
}

/// Signs in once with `token` and returns the answer and the summary line.
async fn sign_in_once(upstreams: &Upstreams, token: &str) -> (Value, Value, Vec<String>) {
    sign_in_once_with(upstreams, token, &[]).await
}

/// The same, with `settings` added to the bridge's.
async fn sign_in_once_with(
    upstreams: &Upstreams,
    token: &str,
    settings: &[(&str, &str)],
) -> (Value, Value, Vec<String>) {
    let mut runtime = RuntimeApi::start().await;
    let vars = with(
        &with(&upstreams.vars(), &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]),
        settings,
    );
    let mut function = Function::start(&runtime, &vars);
    let response = runtime.respond(&sign_in_event(token)).await;
    let output = function.stop();
    let summary = function
        .summaries()
        .into_iter()
        .next()
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
    let claims = assertion_claims(&upstreams.auth0_requests().await[0]);
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
    // The early lookup of Mallory is dropped once /validate names another user: it reached
    // Authsignal only if it was sent by then.
    let made = lookups(&upstreams).await;
    let validated = format!("/v1/users/{USER_ID}");
    assert!(
        made == [validated.clone()] || made == ["/v1/users/user-mallory".to_owned(), validated],
        "one extra Authsignal call, never more: {made:?}"
    );
    let claims = assertion_claims(&upstreams.auth0_requests().await[0]);
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

#[tokio::test]
async fn the_early_lookup_is_sent_while_validate_is_still_unanswered() {
    let upstreams = Upstreams::start().await;
    let (validates, lookups_seen) = (Arc::default(), Arc::default());
    Mock::given(method("POST"))
        .and(path("/v1/validate"))
        .respond_with(NotingArrivals {
            answer: challenge_succeeded().set_delay(Duration::from_millis(600)),
            arrivals: Arc::clone(&validates),
        })
        .mount(&upstreams.authsignal)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/users/{USER_ID}")))
        .respond_with(NotingArrivals {
            answer: user(),
            arrivals: Arc::clone(&lookups_seen),
        })
        .with_priority(1)
        .mount(&upstreams.authsignal)
        .await;
    upstreams.auth0_answers(tokens()).await;
    let (response, summary, _) = sign_in_once(&upstreams, &signed_authsignal_token(USER_ID)).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(summary["profile_lookup"], "alongside_validate", "{summary}");
    let validated = validates.lock().unwrap()[0];
    let looked_up = lookups_seen.lock().unwrap()[0];
    // After /validate's answer, the lookup would arrive 600 ms or more after /validate.
    let apart = looked_up.max(validated) - looked_up.min(validated);
    assert!(
        apart < Duration::from_millis(300),
        "sent side by side: {apart:?} apart"
    );
}

#[tokio::test]
async fn a_refused_token_is_answered_without_waiting_for_its_early_lookup() {
    let upstreams = Upstreams::start().await;
    upstreams
        .authsignal_answers(ResponseTemplate::new(200).set_body_json(json!({
            "isValid": false, "state": "CHALLENGE_FAILED", "userId": USER_ID
        })))
        .await;
    answer_lookup_too_late(&upstreams, USER_ID).await;
    let (response, _) = sign_in_not_waiting(&upstreams, &signed_authsignal_token(USER_ID)).await;
    assert_eq!(response["statusCode"], 400, "{response}");
    assert_eq!(lookups(&upstreams).await.len(), 1, "it was started");
}

#[tokio::test]
async fn an_early_lookup_for_another_user_than_validate_names_is_not_waited_for() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    answer_lookup_too_late(&upstreams, "user-mallory").await;
    let (response, summary) =
        sign_in_not_waiting(&upstreams, &signed_authsignal_token("user-mallory")).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(
        summary["profile_lookup"], "repeated_after_validate",
        "{summary}"
    );
    let claims = assertion_claims(&upstreams.auth0_requests().await[0]);
    assert_eq!(claims["sub"], USER_ID);
}

#[tokio::test]
async fn without_the_profile_a_signed_token_starts_no_lookup() {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let (response, summary, _) = sign_in_once_with(
        &upstreams,
        &signed_authsignal_token(USER_ID),
        &[("AUTHSIGNAL_PROFILE", "false")],
    )
    .await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert!(lookups(&upstreams).await.is_empty());
    assert!(summary.get("profile_lookup").is_none(), "{summary}");
}
