//! The whole sign-up journey as an app runs it (docs/api.md), with the real binary through the
//! Runtime API double, the Authsignal stand-in's tenant (users, tokens signed with the secret
//! key, the email OTP, passkeys: scripts/stand-ins/authsignal.js), the Auth0 stand-in running
//! the shipped Login script, and moto's DynamoDB: sign-up by email, the email challenge, the
//! passkey, the sign-in, refresh and sign-out; and the attacks sign-up opens: an account taken
//! before its owner verified the email (pre-hijacking), a passkey bound without the code, and
//! the answer telling whether an email has an account. Needs moto and Node.js.

mod support;

use serde_json::{json, Value};
use support::auth0_stand_in::Auth0StandIn;
use support::moto::{create_replay_table, Moto};
use support::runtime_api::{body, Function, RuntimeApi};
use support::*;

const TABLE: &str = "bridge-journey";
const TENANT: &str = "stand-in-tenant";

/// The app's side of the journey: Authsignal's client API as the mobile SDK calls it, and the
/// stand-in's inbox.
struct App {
    authsignal: String,
    http: reqwest::Client,
}

impl App {
    async fn client(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let request = self
            .http
            .post(format!("{}/v1/client/{path}", self.authsignal));
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request.basic_auth(TENANT, Some("")),
        };
        let answer = request.json(&body).send().await.unwrap();
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        json!({"status": status.as_u16(), "body": body})
    }

    /// The email challenge with `token`, the code read from the inbox, and its verification:
    /// the access token the SDK then holds.
    async fn verify_email(&self, token: &str, email: &str) -> String {
        let challenge = self
            .client("challenge/email-otp", Some(token), json!({}))
            .await;
        assert_eq!(challenge["status"], 200, "{challenge}");
        let inbox: Value = self
            .http
            .get(format!("{}/__stand-in/otp?email={email}", self.authsignal))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let code = inbox["code"].as_str().expect("an OTP was sent");
        let verified = self
            .client(
                "verify/email-otp",
                Some(token),
                json!({ "verificationCode": code }),
            )
            .await;
        assert_eq!(verified["body"]["isVerified"], true, "{verified}");
        token_of(&verified["body"], "accessToken")
    }

    /// `passkey.signUp` with `token`: the answer (the token its creation gave, on success).
    async fn add_passkey(&self, token: &str, credential: &str) -> Value {
        self.client(
            "user-authenticators/passkey",
            Some(token),
            json!({ "credentialId": credential }),
        )
        .await
    }

    /// `passkey.signUp` with `token`, which must succeed: the token its creation gave.
    async fn add_passkey_verified(&self, token: &str, credential: &str) -> String {
        let added = self.add_passkey(token, credential).await;
        assert_eq!(added["body"]["isVerified"], true, "{added}");
        token_of(&added["body"], "accessToken")
    }

    /// `passkey.signIn(action:)` with the passkey `credential`: Authsignal's token.
    async fn sign_in_with_passkey(&self, credential: &str) -> String {
        let challenge = self
            .client("challenge", None, json!({ "action": "signInWithPasskey" }))
            .await;
        let id = challenge["body"]["challengeId"]
            .as_str()
            .unwrap()
            .to_owned();
        let verified = self
            .client(
                "verify/passkey",
                None,
                json!({ "challengeId": id, "credentialId": credential }),
            )
            .await;
        assert_eq!(verified["body"]["isVerified"], true, "{verified}");
        token_of(&verified["body"], "accessToken")
    }
}

/// The user an Authsignal token names (its `other.userId`).
fn user_of(token: &str) -> String {
    jwt_part(token, 1)["other"]["userId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The token in a bridge's or Authsignal's answer.
fn token_of(answer: &Value, field: &str) -> String {
    answer[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field}: {answer}"))
        .to_owned()
}

struct Stage {
    runtime: RuntimeApi,
    function: Function,
    auth0: Auth0StandIn,
    app: App,
    _moto: Moto,
}

impl Stage {
    async fn start() -> Stage {
        let (authsignal, auth0) =
            Auth0StandIn::with_authsignal_tenant(&[("BRIDGE_PUBLIC_KEYS", PUBLIC_KEYS)]);
        let moto = Moto::start();
        create_replay_table(&moto.dynamodb_admin().await, TABLE).await;
        let runtime = RuntimeApi::start().await;
        let vars = with(
            &Upstreams::vars_for(&format!("{authsignal}/v1"), &auth0.url),
            &SIGN_UP_ON,
        );
        let mut vars = with(
            &vars,
            &[
                ("AUTH0_SCOPE", "openid profile email offline_access"),
                ("REPLAY_TABLE", TABLE),
                ("SIGN_UP_EMAIL_COOLDOWN_SECONDS", "10"),
                ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
                // Every level, for the check that no token and no email address is logged.
                ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
            ],
        );
        vars.extend(moto.env());
        let function = Function::start(&runtime, &vars);
        Stage {
            runtime,
            function,
            auth0,
            app: App {
                authsignal,
                http: reqwest::Client::new(),
            },
            _moto: moto,
        }
    }

    async fn bridge(&mut self, path: &str, request: Value) -> (u64, Value) {
        let event = at_path(
            with_body(event("http-api-token.json"), &request.to_string()),
            path,
        );
        let response = self.runtime.respond(&event).await;
        (response["statusCode"].as_u64().unwrap(), body(&response))
    }

    /// `POST /sign-up` with `email`.
    async fn sign_up(&mut self, email: &str) -> (u64, Value) {
        self.bridge("/sign-up", json!({ "email": email })).await
    }

    /// `POST /token` with an Authsignal token.
    async fn sign_in(&mut self, token: &str) -> (u64, Value) {
        self.bridge("/token", json!({ "token": token })).await
    }
}

#[tokio::test]
#[ignore = "needs moto and Node.js: `make test` runs it"]
async fn a_new_user_signs_up_by_email_makes_a_passkey_signs_in_refreshes_and_signs_out() {
    let mut stage = Stage::start().await;
    let email = "grace@example.com";
    let (status, started) = stage.sign_up(email).await;
    assert_eq!(status, 200, "{started}");
    let token = token_of(&started, "token");
    assert_eq!(
        started.as_object().unwrap().len(),
        1,
        "only the token: {started}"
    );

    let access = stage.app.verify_email(&token, email).await;
    // The passkey's creation gives a token of the sign-up action, with PASSKEY: it signs in.
    let created = stage
        .app
        .add_passkey_verified(&access, "credential-grace-phone")
        .await;
    let (status, tokens) = stage.sign_in(&created).await;
    assert_eq!(status, 200, "{tokens}");
    // And so does a later passkey sign-in.
    let signed_in = stage
        .app
        .sign_in_with_passkey("credential-grace-phone")
        .await;
    let (status, tokens) = stage.sign_in(&signed_in).await;
    assert_eq!(status, 200, "{tokens}");
    let users = stage.auth0.users().await;
    let user = users
        .iter()
        .find(|user| user["email"] == email)
        .expect("the Auth0 user");
    assert_eq!(user["email_verified"], true, "{user}");
    let auth0_id = user["user_id"].as_str().unwrap();
    assert!(auth0_id.ends_with(&user_of(&signed_in)), "{auth0_id}");

    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, refreshed) = stage
        .bridge(
            "/token",
            json!({ "grant_type": "refresh_token", "refresh_token": refresh_token }),
        )
        .await;
    assert_eq!(status, 200, "{refreshed}");
    let rotated = refreshed["refresh_token"]
        .as_str()
        .unwrap_or(&refresh_token)
        .to_owned();
    let (status, _) = stage.bridge("/revoke", json!({ "token": rotated })).await;
    assert_eq!(status, 200);

    // A new device: the same email (after its cooldown) starts on the same account, and its
    // plain token cannot add a passkey to an account that has one: only the email code can.
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    let (status, again) = stage.sign_up(email).await;
    assert_eq!(status, 200, "{again}");
    let new_device = token_of(&again, "token");
    assert_eq!(
        user_of(&new_device),
        user_of(&signed_in),
        "the account whose email is verified"
    );
    let refused = stage
        .app
        .add_passkey(&new_device, "credential-grace-tablet")
        .await;
    assert_eq!(refused["status"], 401, "{refused}");
    let access = stage.app.verify_email(&new_device, email).await;
    stage
        .app
        .add_passkey_verified(&access, "credential-grace-tablet")
        .await;

    let output = stage.function.stop();
    assert!(
        output
            .iter()
            .any(|line| line.contains(r#""level":"DEBUG""#)),
        "DEBUG output was captured"
    );
    // The summary lines time each stage: the replay record and the sign-up's limits included.
    let summaries = stage.function.summaries();
    let timed = |operation: &str, stage_ms: &str| {
        summaries
            .iter()
            .any(|line| line["operation"] == operation && line[stage_ms].as_f64().is_some())
    };
    assert!(
        timed("sign_in", "dynamodb_ms")
            && timed("sign_up", "dynamodb_ms")
            && timed("sign_up", "authsignal_ms"),
        "{summaries:?}"
    );
    for secret in [
        token.as_str(),
        created.as_str(),
        signed_in.as_str(),
        new_device.as_str(),
        email,
    ] {
        assert!(
            !output.iter().any(|line| line.contains(secret)),
            "logged: {secret}"
        );
    }
}

#[tokio::test]
#[ignore = "needs moto and Node.js: `make test` runs it"]
async fn an_account_started_with_someone_elses_email_gains_nothing_once_they_verify_it() {
    let mut stage = Stage::start().await;
    let victim = "ada@example.com";

    // The squatter starts first, skips the email, and binds its passkey as the first
    // authenticator with the plain track token (Authsignal allows that).
    let (_, squatted) = stage.sign_up(victim).await;
    let squat_token = token_of(&squatted, "token");
    let created = stage
        .app
        .add_passkey_verified(&squat_token, "credential-squatter")
        .await;
    let squatter_user = user_of(&squat_token);
    let refused = |answer: &(u64, Value)| answer.0 == 400 && answer.1["error"] == "invalid_grant";

    // Neither its passkey's creation token nor a passkey sign-in gets a session.
    assert!(refused(&stage.sign_in(&created).await));
    let squat_sign_in = stage.app.sign_in_with_passkey("credential-squatter").await;
    assert!(refused(&stage.sign_in(&squat_sign_in).await));

    // The owner signs up later (after the email's cooldown): never handed the squatter's
    // account, verifies, signs in.
    let (status, early) = stage.sign_up(victim).await;
    assert_eq!(status, 429, "within the email's cooldown: {early}");
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    let (_, owned) = stage.sign_up(victim).await;
    assert_eq!(
        owned.as_object().unwrap().len(),
        1,
        "the same answer: {owned}"
    );
    let owner_token = token_of(&owned, "token");
    assert_ne!(
        user_of(&owner_token),
        squatter_user,
        "a new account for the owner"
    );
    let access = stage.app.verify_email(&owner_token, victim).await;
    stage
        .app
        .add_passkey_verified(&access, "credential-ada")
        .await;
    let owner_sign_in = stage.app.sign_in_with_passkey("credential-ada").await;
    assert_eq!(stage.sign_in(&owner_sign_in).await.0, 200);

    // Still nothing for the squatter, and its passkey never reached Auth0.
    let again = stage.app.sign_in_with_passkey("credential-squatter").await;
    assert!(refused(&stage.sign_in(&again).await));
    let users = stage.auth0.users().await;
    assert!(
        users
            .iter()
            .all(|user| user["user_id"] != squatter_user.as_str()),
        "{users:?}"
    );
}
