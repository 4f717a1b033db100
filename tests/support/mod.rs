//! Shared by the integration tests: loopback stand-ins for Authsignal and Auth0 (wiremock),
//! canary credentials, event fixtures from `events/`, and calling the handler.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod auth0_stand_in;
pub mod connection_counter;
pub mod dpop;
pub mod faulty;
pub mod moto;
pub mod relay;
pub mod runtime_api;
pub mod tls;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authsignal_auth0_bridge::edge::http::{GatewayResponse, Handler};
use authsignal_auth0_bridge::settings::Settings;
use authsignal_auth0_bridge::startup::build_handler;
use authsignal_auth0_bridge::telemetry::Telemetry;
use connection_counter::ConnectionCounter;
use lambda_http::request::LambdaRequest;
use lambda_http::{Context, LambdaEvent};
use serde_json::{json, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Canary values: distinctive strings that tests look for in logs and bodies.
pub const AUTHSIGNAL_SECRET: &str = "canary-authsignal-secret-7f3a";
pub const AUTH0_CLIENT_ID: &str = "bridge-client-id";
pub const AUTH0_CLIENT_SECRET: &str = "canary-auth0-client-secret-91c2";
/// The token in the `events/` fixtures.
pub const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.demo-authsignal-token.signature";
pub const USER_ID: &str = "user-4f1c";
pub const ACCESS_TOKEN: &str = "canary-access-token-5d2e";
pub const ID_TOKEN: &str = "canary-id-token-c0de";
pub const REFRESH_TOKEN: &str = "canary-refresh-token-b00c";
/// The refresh token the app sends in the refresh and revocation fixtures of `events/`.
pub const FIXTURE_REFRESH_TOKEN: &str = "v1.fixture-refresh-token.Qm9vYzQ";
/// What Auth0's stand-in answers a refresh with (rotation on: a new refresh token).
pub const REFRESHED_ACCESS_TOKEN: &str = "canary-refreshed-access-token-77aa";
pub const ROTATED_REFRESH_TOKEN: &str = "canary-rotated-refresh-token-3e9f";

/// The bridge's signing key in the tests, made by `scripts/signing-key.js` (so its `kid`, below,
/// was computed by the Node code, not by the bridge's own).
pub const SIGNING_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIEAMae2nZ1/GeXTnFNm53LEDRzrR9KUjfxL8leN4M6DN\n-----END PRIVATE KEY-----\n";
pub const SIGNING_KEY_ID: &str = "wL0ZroC3QWzb6b9l-X3J1sv_-XSzxApWZ2UpKGsyUa8";
/// `BRIDGE_PUBLIC_KEYS` for [`SIGNING_KEY`], as the Login script's setting.
pub const PUBLIC_KEYS: &str = r#"[{"kty":"OKP","crv":"Ed25519","x":"6YXlULxl9cj07oOlBwi3-MXH86YVBPTMf3SQ0iY8u3c","kid":"wL0ZroC3QWzb6b9l-X3J1sv_-XSzxApWZ2UpKGsyUa8","alg":"EdDSA","use":"sig"}]"#;
/// A second key, for rotations.
pub const NEXT_SIGNING_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEILUKxUG1BUV7F54nbrmBhuukjcNV46fVHIhVTmpswJRy\n-----END PRIVATE KEY-----\n";
pub const NEXT_SIGNING_KEY_ID: &str = "wfI4XqrLPL0R8qsE_M1uQr6d_3ybnA1N1N8ih9bnGy0";
pub const NEXT_PUBLIC_KEYS: &str = r#"[{"kty":"OKP","crv":"Ed25519","x":"YDSG5iKZ3oV4iKpVc-rK8CXQKUdMD3rV-2PwFWgwPk8","kid":"wfI4XqrLPL0R8qsE_M1uQr6d_3ybnA1N1N8ih9bnGy0","alg":"EdDSA","use":"sig"}]"#;
/// A DPoP proof as the app sends it (the bridge checks only its shape: three base64url parts):
/// a canary, for it must never be logged.
pub const DPOP_PROOF: &str =
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2In0.Y2FuYXJ5LWRwb3AtcHJvb2YtOGQ0Yg.c2lnbmF0dXJlLWNhbmFyeS1kcG9w";
/// What Authsignal's stand-in knows of [`USER_ID`] (`GET /v1/users/{userId}`).
pub const USER_EMAIL: &str = "ada@example.com";
/// The settings that turn sign-up on (with what it needs besides `REPLAY_TABLE`).
pub const SIGN_UP_ON: [(&str, &str); 4] = [
    ("SIGN_UP", "email"),
    ("SIGN_UP_ACTION", "signUp"),
    ("AUTHSIGNAL_ACTION", "signInWithPasskey"),
    ("AUTHSIGNAL_VERIFICATION_METHODS", "PASSKEY"),
];

/// An Authsignal token as Authsignal signs them: an HS256 JWT with the tenant's secret key
/// ([`AUTHSIGNAL_SECRET`]), naming `user_id` in `other.userId` and expiring in 10 minutes (the
/// Node SDK's `RedirectTokenPayload`; docs/behaviour.md, "The sign-in").
pub fn signed_authsignal_token(user_id: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "sub": user_id,
        "iat": now,
        "exp": now + 600,
        "other": {"tenantId": "tenant-1", "publishableKey": "pk", "userId": user_id,
                  "actionCode": "signInWithPasskey", "idempotencyKey": "2b8e6f0a-0d3e-4c1b-9b7a-5f8c2d1e4a6b"},
    });
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, AUTHSIGNAL_SECRET.as_bytes());
    let signature = aws_lc_rs::hmac::sign(&key, signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

/// The base64 body of a PEM key: what a leak of the key would show.
pub fn pem_body(pem: &str) -> String {
    pem.lines()
        .filter(|line| !line.starts_with("-----"))
        .collect()
}

/// Every secret or token value that must never appear in a log line or an error body.
pub fn canaries() -> Vec<String> {
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{AUTHSIGNAL_SECRET}:"));
    vec![
        AUTHSIGNAL_SECRET.into(),
        AUTH0_CLIENT_SECRET.into(),
        TOKEN.into(),
        "demo-authsignal-token".into(),
        ACCESS_TOKEN.into(),
        ID_TOKEN.into(),
        REFRESH_TOKEN.into(),
        FIXTURE_REFRESH_TOKEN.into(),
        REFRESHED_ACCESS_TOKEN.into(),
        ROTATED_REFRESH_TOKEN.into(),
        DPOP_PROOF.into(),
        // The proof's middle part alone, should a log print it cut up.
        DPOP_PROOF.split('.').nth(1).unwrap().into(),
        pem_body(SIGNING_KEY),
        pem_body(NEXT_SIGNING_KEY),
        basic,
    ]
}

/// The stand-ins for Authsignal (`/v1/validate`) and Auth0 (`/oauth/token`).
pub struct Upstreams {
    pub authsignal: MockServer,
    pub auth0: MockServer,
}

impl Upstreams {
    /// Both stand-ins, Authsignal's already knowing the user's profile (at a low priority, so
    /// a test's own `authsignal_user_answers` wins).
    pub async fn start() -> Self {
        let upstreams = Upstreams {
            authsignal: MockServer::start().await,
            auth0: MockServer::start().await,
        };
        Mock::given(method("GET"))
            .and(path_regex("^/v1/users/"))
            .respond_with(user())
            .with_priority(10)
            .mount(&upstreams.authsignal)
            .await;
        upstreams
    }

    /// The settings that point the bridge at the stand-ins, with credentials in the environment.
    pub fn vars(&self) -> Vec<(String, String)> {
        Upstreams::vars_for(&format!("{}/v1", self.authsignal.uri()), &self.auth0.uri())
    }

    /// The same settings for stand-ins at these URLs.
    pub fn vars_for(authsignal_api_url: &str, auth0_domain: &str) -> Vec<(String, String)> {
        vec![
            ("AUTHSIGNAL_API_URL".into(), authsignal_api_url.to_owned()),
            ("AUTH0_DOMAIN".into(), auth0_domain.to_owned()),
            ("AUTHSIGNAL_SECRET".into(), AUTHSIGNAL_SECRET.into()),
            ("AUTH0_CLIENT_ID".into(), AUTH0_CLIENT_ID.into()),
            ("AUTH0_CLIENT_SECRET".into(), AUTH0_CLIENT_SECRET.into()),
            ("BRIDGE_SIGNING_KEY".into(), SIGNING_KEY.into()),
            ("UPSTREAM_TIMEOUT_MS".into(), "1000".into()),
        ]
    }

    /// Like [`Upstreams::vars`], but through relays that count the connections opened to each
    /// stand-in (Authsignal's counter first).
    pub async fn vars_counting_connections(
        &self,
    ) -> (Vec<(String, String)>, ConnectionCounter, ConnectionCounter) {
        let authsignal = ConnectionCounter::start(*self.authsignal.address()).await;
        let auth0 = ConnectionCounter::start(*self.auth0.address()).await;
        let vars = with(
            &self.vars(),
            &[
                (
                    "AUTHSIGNAL_API_URL",
                    &format!("http://{}/v1", authsignal.addr),
                ),
                ("AUTH0_DOMAIN", &format!("http://{}", auth0.addr)),
            ],
        );
        (vars, authsignal, auth0)
    }

    pub async fn authsignal_answers(&self, answer: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path("/v1/validate"))
            .respond_with(answer)
            .mount(&self.authsignal)
            .await;
    }

    pub async fn auth0_answers(&self, answer: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .respond_with(answer)
            .mount(&self.auth0)
            .await;
    }

    /// How Auth0's `/oauth/revoke` answers.
    pub async fn auth0_revoke_answers(&self, answer: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path("/oauth/revoke"))
            .respond_with(answer)
            .mount(&self.auth0)
            .await;
    }

    /// How Authsignal's `GET /v1/users/{userId}` answers.
    pub async fn authsignal_user_answers(&self, answer: ResponseTemplate) {
        Mock::given(method("GET"))
            .and(path_regex("^/v1/users/"))
            .respond_with(answer)
            .mount(&self.authsignal)
            .await;
    }

    /// Both stand-ins answer as for a good sign-in.
    pub async fn happy_path(&self) {
        self.authsignal_answers(challenge_succeeded()).await;
        self.auth0_answers(tokens()).await;
    }

    /// The profile lookups Authsignal's stand-in received (`GET /v1/users/...`).
    pub async fn user_lookups(&self) -> Vec<Request> {
        self.authsignal
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|request| request.method == wiremock::http::Method::GET)
            .collect()
    }

    /// The POST requests Authsignal's stand-in received (the binary also sends a HEAD during
    /// init to open its connection).
    pub async fn authsignal_requests(&self) -> Vec<Request> {
        posts(&self.authsignal).await
    }

    /// Whether no request of any method reached either stand-in.
    pub async fn untouched(&self) -> bool {
        self.authsignal
            .received_requests()
            .await
            .unwrap()
            .is_empty()
            && self.auth0.received_requests().await.unwrap().is_empty()
    }

    /// The POST requests Auth0's `/oauth/token` received.
    pub async fn auth0_requests(&self) -> Vec<Request> {
        posts(&self.auth0)
            .await
            .into_iter()
            .filter(|request| request.url.path() == "/oauth/token")
            .collect()
    }

    /// The POST requests Auth0's `/oauth/revoke` received.
    pub async fn auth0_revoke_requests(&self) -> Vec<Request> {
        posts(&self.auth0)
            .await
            .into_iter()
            .filter(|request| request.url.path() == "/oauth/revoke")
            .collect()
    }
}

async fn posts(server: &MockServer) -> Vec<Request> {
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .into_iter()
        .filter(|request| request.method == wiremock::http::Method::POST)
        .collect()
}

pub fn challenge_succeeded() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "isValid": true,
        "state": "CHALLENGE_SUCCEEDED",
        "stateUpdatedAt": "2026-11-25T19:44:30.000Z",
        "userId": USER_ID,
        "action": "signInWithPasskey",
        "idempotencyKey": "2b8e6f0a-0d3e-4c1b-9b7a-5f8c2d1e4a6b",
        "verificationMethod": "PASSKEY"
    }))
}

/// Authsignal's `GET /v1/users/{userId}` for [`USER_ID`], as its SDKs' getUser returns it.
pub fn user() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "isEnrolled": true,
        "email": USER_EMAIL,
        "emailVerified": true,
        "phoneNumber": "+64211234567",
        "phoneNumberVerified": false,
        "username": "ada",
        "displayName": "Ada Lovelace",
        "enrolledVerificationMethods": ["PASSKEY"]
    }))
}

/// Part `index` of a JWT or JWS (0 the header, 1 the claims), decoded, without any check.
pub fn jwt_part(jwt: &str, index: usize) -> Value {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let part = jwt.split('.').nth(index).expect("a JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// The claims of the assertion a request to Auth0 carried as its password (signature checked
/// against [`SIGNING_KEY`] or [`NEXT_SIGNING_KEY`], whichever its `kid` names).
pub fn assertion_claims(request: &Request) -> Value {
    let password = form(request)["password"].clone();
    let (header, claims) = verify_assertion(&password).expect("a valid assertion");
    assert_eq!(header["alg"], "EdDSA");
    claims
}

/// Checks `jws` as the Login script does (without the time window) and returns its header and
/// claims, or why it is not a valid assertion.
pub fn verify_assertion(jws: &str) -> Result<(Value, Value), String> {
    use authsignal_auth0_bridge::signing_key::SigningKey;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let parts: Vec<&str> = jws.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return Err("not three parts".into());
    };
    let decode = |part: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    };
    let (header_json, claims_json) = (decode(header)?, decode(claims)?);
    let key = [SIGNING_KEY, NEXT_SIGNING_KEY]
        .into_iter()
        .map(|pem| SigningKey::from_pem(pem).unwrap())
        .find(|key| header_json["kid"] == key.key_id())
        .ok_or("unknown kid")?;
    let x = URL_SAFE_NO_PAD
        .decode(key.public_jwk()["x"].as_str().unwrap())
        .unwrap();
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| e.to_string())?;
    aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, x)
        .verify(format!("{header}.{claims}").as_bytes(), &signature)
        .map_err(|_| "bad signature".to_owned())?;
    Ok((header_json, claims_json))
}

pub fn token_json() -> Value {
    json!({
        "access_token": ACCESS_TOKEN,
        "id_token": ID_TOKEN,
        "refresh_token": REFRESH_TOKEN,
        "scope": "openid profile email offline_access",
        "expires_in": 86400,
        "token_type": "Bearer"
    })
}

pub fn tokens() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(token_json().to_string(), "application/json")
}

/// Auth0's answer to a refresh with rotation on, as its SDKs' recorded fixtures show it.
pub fn refreshed_token_json() -> Value {
    json!({
        "access_token": REFRESHED_ACCESS_TOKEN,
        "id_token": ID_TOKEN,
        "refresh_token": ROTATED_REFRESH_TOKEN,
        "scope": "openid profile email offline_access",
        "expires_in": 86400,
        "token_type": "Bearer"
    })
}

pub fn refreshed_tokens() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_raw(refreshed_token_json().to_string(), "application/json")
        .insert_header("cache-control", "no-store")
}

/// Auth0's answer to an unknown, expired, revoked or reused refresh token.
pub fn unknown_refresh_token() -> ResponseTemplate {
    ResponseTemplate::new(403).set_body_json(json!({
        "error": "invalid_grant",
        "error_description": "Unknown or invalid refresh token."
    }))
}

/// Auth0's `/oauth/revoke` success: 200 with an empty body.
pub fn revoked() -> ResponseTemplate {
    ResponseTemplate::new(200)
}

/// The settings `vars` give.
pub fn settings_of(vars: &[(String, String)]) -> Settings {
    let map: HashMap<String, String> = vars.iter().cloned().collect();
    Settings::from_lookup(|name| map.get(name).cloned()).expect("valid settings")
}

/// Builds the handler as `main` does ([`build_handler`]), from settings given as variables,
/// with `aws` as the AWS SDK's configuration (moto, or a stand-in for its failures): the
/// replay table (`REPLAY_TABLE`) and the secret (`SECRET_ID`) are reached through it.
pub async fn handler_over_aws(vars: &[(String, String)], aws: aws_config::ConfigLoader) -> Handler {
    let map: HashMap<String, String> = vars.iter().cloned().collect();
    build_handler(|name| map.get(name).cloned(), aws, test_telemetry()).await
}

/// Builds the handler as `main` does, from settings given as variables (credentials in them,
/// no AWS service used).
pub async fn handler(vars: &[(String, String)]) -> Handler {
    handler_over_aws(vars, moto::loader_for("http://127.0.0.1:9")).await
}

pub fn test_telemetry() -> Telemetry {
    Telemetry::new("Test/Bridge", "bridge-test", "bridge-test").without_metrics_output()
}

/// Sets (or adds) variables on top of `vars`.
pub fn with(vars: &[(String, String)], changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut map: Vec<(String, String)> = vars
        .iter()
        .filter(|(name, _)| !changes.iter().any(|(changed, _)| changed == name))
        .cloned()
        .collect();
    map.extend(changes.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    map
}

/// `vars` without the variable `name`.
pub fn without(vars: &[(String, String)], name: &str) -> Vec<(String, String)> {
    vars.iter()
        .filter(|(key, _)| key != name)
        .cloned()
        .collect()
}

/// An event fixture from `events/`.
pub fn event(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).unwrap()
}

/// The HTTP API fixture with another body (`isBase64Encoded: false`).
pub fn with_body(mut event: Value, body: &str) -> Value {
    event["body"] = Value::String(body.to_owned());
    event["isBase64Encoded"] = Value::Bool(false);
    event
}

/// An HTTP API sign-in event whose body carries `token`.
pub fn sign_in_event(token: &str) -> Value {
    with_body(
        event("http-api-token.json"),
        &json!({ "token": token }).to_string(),
    )
}

/// A refresh of `refresh_token` as the app sends it (JSON, HTTP API).
pub fn refresh_event(refresh_token: &str) -> Value {
    with_body(
        event("http-api-refresh.json"),
        &json!({"grant_type": "refresh_token", "refresh_token": refresh_token}).to_string(),
    )
}

/// A sign-out revoking `refresh_token` as the app sends it (JSON, HTTP API).
pub fn revoke_event(refresh_token: &str) -> Value {
    with_body(
        event("http-api-revoke.json"),
        &json!({ "token": refresh_token }).to_string(),
    )
}

/// `event` sent to `path` (HTTP API, function URL or REST API shape).
pub fn at_path(mut event: Value, path: &str) -> Value {
    if event.get("rawPath").is_some() {
        event["rawPath"] = json!(path);
        event["requestContext"]["http"]["path"] = json!(path);
    } else {
        event["path"] = json!(path);
    }
    event
}

pub const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

pub fn lambda_context(budget: Duration, request_id: &str) -> Context {
    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    context.deadline = (SystemTime::now() + budget)
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    context
}

/// What the caller got back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not JSON: {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    /// The OAuth `error` code of an error answer.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }

    /// The headers and body rules that hold for every answer docs/behaviour.md describes.
    fn check_documented_invariants(&self, request_id: &str) {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        assert_eq!(self.header("cache-control"), Some("no-store"), "{self:?}");
        assert_eq!(self.header("pragma"), Some("no-cache"), "{self:?}");
        assert_eq!(self.header("x-request-id"), Some(request_id), "{self:?}");
        let body = self.json();
        assert!(body.is_object(), "{self:?}");
        if self.status != 200 {
            assert!(
                body["error"].is_string(),
                "error answer without `error`: {self:?}"
            );
            for secret in [AUTHSIGNAL_SECRET, AUTH0_CLIENT_SECRET, TOKEN] {
                assert!(
                    !self.text.contains(secret),
                    "error body leaks a secret: {self:?}"
                );
            }
            assert!(
                !self.text.contains("127.0.0.1"),
                "error body names an upstream: {self:?}"
            );
        }
    }
}

/// Calls the handler as the runtime does: the fixture deserialised into `lambda_http`'s event
/// type, a Lambda context with a 30 s deadline. Checks the invariants docs/behaviour.md sets for every answer on the answer.
pub async fn call(handler: &Handler, event: &Value) -> Answer {
    call_with_budget(handler, event, Duration::from_secs(30)).await
}

pub async fn call_with_budget(handler: &Handler, event: &Value, budget: Duration) -> Answer {
    call_as(handler, event, REQUEST_ID, budget).await
}

/// Calls the handler as the invocation `request_id` (each Lambda invocation has its own), with
/// `budget` until the Lambda deadline.
pub async fn call_as(
    handler: &Handler,
    event: &Value,
    request_id: &str,
    budget: Duration,
) -> Answer {
    let response = call_raw_as(handler, event, request_id, budget).await;
    let answer = Answer::from_gateway_response(&response);
    answer.check_documented_invariants(request_id);
    answer
}

/// Calls the handler and returns the API Gateway response JSON as the runtime would send it.
pub async fn call_raw(handler: &Handler, event: &Value) -> Value {
    call_raw_with_budget(handler, event, Duration::from_secs(30)).await
}

async fn call_raw_with_budget(handler: &Handler, event: &Value, budget: Duration) -> Value {
    call_raw_as(handler, event, REQUEST_ID, budget).await
}

async fn call_raw_as(
    handler: &Handler,
    event: &Value,
    request_id: &str,
    budget: Duration,
) -> Value {
    let payload: LambdaRequest = serde_json::from_value(event.clone()).expect("an HTTP event");
    let response: GatewayResponse = handler
        .handle_event(LambdaEvent::new(
            payload,
            lambda_context(budget, request_id),
        ))
        .await
        .expect("the handler never returns an invocation error");
    let response = serde_json::to_value(response).unwrap();
    record_status(event, &response);
    response
}

/// With `HANDLER_STATUS_LOG` set (a directory; `make test` sets it), appends the operation the
/// event was for and the status it got, so that scripts/check-openapi-statuses.py can compare
/// the statuses the handler tests produce with those `openapi.yaml` documents.
fn record_status(event: &Value, response: &Value) {
    use authsignal_auth0_bridge::edge::request::Endpoint;
    use std::io::Write;
    let Some(directory) = std::env::var_os("HANDLER_STATUS_LOG") else {
        return;
    };
    let method = event["requestContext"]["http"]["method"]
        .as_str()
        .or(event["httpMethod"].as_str())
        .unwrap_or_default();
    let path = event["rawPath"].as_str().or(event["path"].as_str());
    // The order of the function's own checks: the route, then the method.
    // Without sign-up its path is an unknown one, answered as any other.
    let sign_up_off = response["statusCode"] == 404;
    let operation = match Endpoint::from_path(path) {
        None => "other-paths",
        Some(Endpoint::SignUp) if sign_up_off => "other-paths",
        Some(_) if method != "POST" => "other-methods",
        Some(Endpoint::Token) => "POST /token",
        Some(Endpoint::Revoke) => "POST /revoke",
        Some(Endpoint::SignUp) => "POST /sign-up",
    };
    let line = format!("{operation}\t{}\n", response["statusCode"]);
    let file = std::path::Path::new(&directory).join(format!("{}.log", std::process::id()));
    if let Ok(mut log) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
    {
        let _ = log.write_all(line.as_bytes());
    }
}

impl Answer {
    /// Reads an API Gateway response (payload 2.0 `headers`, or 1.0 `multiValueHeaders`).
    pub fn from_gateway_response(response: &Value) -> Answer {
        let mut headers = lambda_http::http::HeaderMap::new();
        let mut add = |name: &str, value: &Value| {
            let name = lambda_http::http::HeaderName::from_bytes(name.as_bytes()).unwrap();
            headers.append(name, value.as_str().unwrap().parse().unwrap());
        };
        for (name, value) in response["headers"].as_object().into_iter().flatten() {
            add(name, value);
        }
        for (name, values) in response["multiValueHeaders"]
            .as_object()
            .into_iter()
            .flatten()
        {
            for value in values.as_array().unwrap() {
                add(name, value);
            }
        }
        Answer {
            status: response["statusCode"].as_u64().unwrap() as u16,
            headers,
            text: response["body"].as_str().unwrap_or_default().to_owned(),
        }
    }
}

/// Form fields of a request Auth0's stand-in received.
pub fn form(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}
