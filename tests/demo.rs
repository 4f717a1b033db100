//! `make demo`: the real `bootstrap` binary, configured as in production (`SECRET_ID` pointing
//! at a Secrets Manager secret, `AUTH0_DOMAIN`, `AUTHSIGNAL_API_URL`), driven through the Lambda
//! Runtime API against loopback stand-ins: moto for Secrets Manager, wiremock for Authsignal and
//! Auth0. Prints the API Gateway responses of a successful sign-in and of failures.

mod support;

use serde_json::{json, Value};
use support::moto::{create_secret, secret_json, Moto};
use support::runtime_api::{Function, RuntimeApi};
use support::*;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, ResponseTemplate};

fn show(title: &str, response: &Value) {
    let mut shown = response.clone();
    if let Some(body) = response["body"].as_str() {
        shown["body"] = serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()));
    }
    println!(
        "\n=== {title}\n{}",
        serde_json::to_string_pretty(&shown).unwrap()
    );
}

#[tokio::test]
#[ignore = "needs moto_server: run `make demo`"]
async fn demo() {
    let moto = Moto::start();
    create_secret(
        &moto.admin().await,
        "authsignal-auth0-bridge/demo",
        &secret_json(AUTHSIGNAL_SECRET, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET),
    )
    .await;
    let upstreams = Upstreams::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/validate"))
        .and(body_partial_json(json!({"token": "expired-token"})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"isValid": false, "state": "CHALLENGE_FAILED"})),
        )
        .with_priority(1)
        .mount(&upstreams.authsignal)
        .await;
    upstreams.happy_path().await;

    let mut runtime = RuntimeApi::start().await;
    let mut vars = with(
        &upstreams.vars(),
        &[
            ("SECRET_ID", "authsignal-auth0-bridge/demo"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ],
    );
    vars.retain(|(name, _)| {
        !matches!(
            name.as_str(),
            "AUTHSIGNAL_SECRET" | "AUTH0_CLIENT_ID" | "AUTH0_CLIENT_SECRET"
        )
    });
    vars.extend(moto.env());
    println!("bootstrap: {}", env!("CARGO_BIN_EXE_bootstrap"));
    println!(
        "Secrets Manager (moto): {}\nAuthsignal stand-in: {}/v1\nAuth0 stand-in: {}",
        moto.url,
        upstreams.authsignal.uri(),
        upstreams.auth0.uri()
    );
    let mut function = Function::start(&runtime, &vars);

    let success = runtime.respond(&event("http-api-token.json")).await;
    show(
        "POST /token with a valid Authsignal token (events/http-api-token.json)",
        &success,
    );
    assert_eq!(success["statusCode"], 200);

    let expired = with_body(event("http-api-token.json"), r#"{"token":"expired-token"}"#);
    let failure = runtime.respond(&expired).await;
    show("POST /token with a token whose challenge failed", &failure);
    assert_eq!(failure["statusCode"], 400);

    let get = runtime.respond(&event("http-api-get.json")).await;
    show("GET /token (events/http-api-get.json)", &get);
    assert_eq!(get["statusCode"], 405);

    println!("\n=== the function's log");
    for line in function.stop() {
        println!("{line}");
    }
}
