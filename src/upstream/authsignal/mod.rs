//! The Authsignal client: `POST {AUTHSIGNAL_API_URL}/validate` and what its answer means, and
//! `GET {AUTHSIGNAL_API_URL}/users/{userId}` for the profile the bridge's assertion carries.
//!
//! API: <https://docs.authsignal.com/api/server-api#validate-challenge> and
//! <https://docs.authsignal.com/api/server-api#get-user>. HTTP Basic auth with the secret key as
//! the username and an empty password. Both calls answer by the same rules: 401/403 is our
//! secret key, 429 is a rate limit, any other 4xx refuses the sign-in, 5xx is a bad gateway.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::budget::Deadline;
use crate::error::{
    log_label, BridgeError, CallError, ChallengeRejection, SignUpRefusal, Upstream, WordCase,
};
use crate::upstream::http_client::{self, endpoint, retry_after_seconds};

pub mod enrolment;
pub mod token;

/// What is escaped in the `{userId}` path segment: everything but RFC 3986's unreserved
/// characters, so an id like `google-oauth2|123` or one holding `/` stays one segment.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Profile values longer than this are left out of the assertion (with a WARN), so that the
/// assertion stays within the 4096 bytes the Login script accepts. An email address is at most
/// 254 bytes (RFC 5321).
pub const MAX_PROFILE_VALUE_BYTES: usize = 256;

/// The only state in which a token proves a passkey sign-in.
const CHALLENGE_SUCCEEDED: &str = "CHALLENGE_SUCCEEDED";

/// What Authsignal confirmed about a token: a succeeded challenge for this user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedChallenge {
    pub user_id: String,
    pub action: Option<String>,
    /// Authsignal's key of the challenge: the same for every validation of one token, and what
    /// the replay record is keyed by.
    pub idempotency_key: Option<String>,
    /// How the user passed the challenge (`PASSKEY`, `SMS`, ...).
    pub verification_method: Option<String>,
}

/// What Authsignal knows of a user, as the assertion's profile claims (OpenID Connect names):
/// each only when Authsignal has it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserProfile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Only with `email`: it says whether that address was verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Authsignal's `displayName`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The fields of `GET /users/{userId}` the bridge reads; everything else is ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserAnswer {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
    #[serde(default)]
    phone_number: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
}

/// Which call an answer belongs to (their failures read differently in the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Validate,
    UserLookup,
    /// The sign-up's calls (users by email, track).
    Enrolment,
}

pub struct AuthsignalClient {
    http: reqwest::Client,
    api_url: Url,
    validate_url: Url,
    /// The actions a sign-in token may be for (`AUTHSIGNAL_ACTION`, and `SIGN_UP_ACTION` with
    /// sign-up on); empty: any.
    accepted_actions: Vec<String>,
    /// `AUTHSIGNAL_VERIFICATION_METHODS`: when set, the only methods a challenge may have been
    /// passed with.
    allowed_methods: Option<Vec<String>>,
}

#[derive(Serialize)]
struct ValidateRequest<'a> {
    token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'a str>,
}

/// The fields of the validate answer the bridge reads; everything else is ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValidateAnswer {
    is_valid: bool,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    action: Option<String>,
    /// Older answers name the action `actionCode`.
    #[serde(default)]
    action_code: Option<String>,
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(default)]
    verification_method: Option<String>,
}

impl AuthsignalClient {
    pub fn new(
        http: reqwest::Client,
        api_url: &Url,
        accepted_actions: Vec<String>,
        allowed_methods: Option<Vec<String>>,
    ) -> Self {
        AuthsignalClient {
            http,
            api_url: api_url.clone(),
            validate_url: endpoint(api_url, "validate"),
            accepted_actions,
            allowed_methods,
        }
    }

    /// Opens `connections` connections to Authsignal ahead of the first request: two when a
    /// sign-in's profile lookup runs alongside `/validate`, so neither waits for a handshake.
    pub async fn warm_up(&self, connections: usize, deadline: &Deadline) {
        let open = || {
            http_client::open_connection(
                &self.http,
                &self.validate_url,
                Upstream::Authsignal,
                deadline,
            )
        };
        match connections {
            0 => {}
            1 => open().await,
            _ => {
                tokio::join!(open(), open());
            }
        }
    }

    /// Validates `token`. Only a valid token in state `CHALLENGE_SUCCEEDED` (for the expected
    /// action and with an allowed verification method, when those are configured) with a user
    /// id is a success. A 401/403 means our secret
    /// key is wrong: [`CallError::CredentialsRejected`], worth a credentials refresh.
    pub async fn validate(
        &self,
        token: &str,
        secret_key: &SecretString,
        deadline: &Deadline,
    ) -> Result<ValidatedChallenge, CallError> {
        let request = self
            .request(Method::POST, self.validate_url.clone(), secret_key)
            .json(&ValidateRequest {
                token,
                // Authsignal checks one action itself; with two (sign-in and sign-up) the
                // answer's action is checked here instead.
                action: match self.accepted_actions.as_slice() {
                    [only] => Some(only.as_str()),
                    _ => None,
                },
            });
        let answer = send(request, deadline).await?;
        self.interpret(answer.status, &answer.headers, &answer.body)
    }

    /// Reads the user `user_id` (whom `/validate` just named) for the assertion's profile claims.
    /// Its failures are answered as `/validate`'s are.
    pub async fn user_profile(
        &self,
        user_id: &str,
        secret_key: &SecretString,
        deadline: &Deadline,
    ) -> Result<UserProfile, CallError> {
        let request = self.request(Method::GET, self.user_url(user_id), secret_key);
        let answer = send(request, deadline).await?;
        read_status(Call::UserLookup, answer.status, &answer.headers)?;
        read_user(&answer.body)
    }

    /// A request to Authsignal's server API, which takes the secret key as the Basic auth user
    /// and no password (every call the bridge makes).
    fn request(&self, method: Method, url: Url, secret_key: &SecretString) -> RequestBuilder {
        self.http
            .request(method, url)
            .basic_auth(secret_key.expose_secret(), Some(""))
    }

    /// `{AUTHSIGNAL_API_URL}/users/{userId}`, the id percent-encoded as one path segment.
    fn user_url(&self, user_id: &str) -> Url {
        endpoint(
            &self.api_url,
            &format!("users/{}", user_path_segment(user_id)),
        )
    }

    fn interpret(
        &self,
        status: StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Result<ValidatedChallenge, CallError> {
        let unavailable = |detail: String| {
            CallError::Failed(BridgeError::unavailable(Upstream::Authsignal, detail))
        };
        read_status(Call::Validate, status, headers)?;
        let answer: ValidateAnswer = serde_json::from_slice(body)
            .map_err(|_| unavailable("answer is not a validate result".to_owned()))?;
        if !answer.is_valid {
            return Err(BridgeError::ChallengeRejected(ChallengeRejection::NotValid).into());
        }
        let state = answer.state.unwrap_or_default();
        if state != CHALLENGE_SUCCEEDED {
            return Err(
                BridgeError::ChallengeRejected(ChallengeRejection::WrongState(log_label(
                    Some(&state),
                    WordCase::Upper,
                )))
                .into(),
            );
        }
        let action = answer.action.or(answer.action_code);
        let accepted = self.accepted_actions.is_empty()
            || action.as_deref().is_some_and(|action| {
                self.accepted_actions
                    .iter()
                    .any(|accepted| accepted == action)
            });
        if !accepted {
            return Err(BridgeError::ChallengeRejected(ChallengeRejection::WrongAction).into());
        }
        if let Some(allowed) = &self.allowed_methods {
            let method = answer.verification_method.as_deref().unwrap_or_default();
            if !allowed.iter().any(|allowed| allowed == method) {
                return Err(
                    BridgeError::ChallengeRejected(ChallengeRejection::MethodNotAllowed(
                        log_label(answer.verification_method.as_deref(), WordCase::Upper),
                    ))
                    .into(),
                );
            }
        }
        let user_id = answer
            .user_id
            .filter(|user_id| !user_id.is_empty())
            .ok_or_else(|| unavailable("valid answer without a userId".to_owned()))?;
        Ok(ValidatedChallenge {
            user_id,
            action,
            idempotency_key: answer.idempotency_key.filter(|key| !key.is_empty()),
            verification_method: answer.verification_method,
        })
    }
}

/// A user id as one path segment (`users/{userId}`), percent-encoded.
fn user_path_segment(user_id: &str) -> impl std::fmt::Display + '_ {
    utf8_percent_encode(user_id, PATH_SEGMENT)
}

/// Sends one request to Authsignal within the time budget.
async fn send(
    request: reqwest::RequestBuilder,
    deadline: &Deadline,
) -> Result<http_client::UpstreamResponse, BridgeError> {
    deadline
        .run(
            Upstream::Authsignal,
            http_client::send(Upstream::Authsignal, request),
        )
        .await
}

/// The rules both calls answer by, for any status but a 2xx: 401/403 is our secret key (worth a
/// credentials refresh), 429 a rate limit, another 4xx refuses the sign-in (`invalid_grant`),
/// anything else a bad gateway.
fn read_status(
    call: Call,
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
) -> Result<(), CallError> {
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(CallError::CredentialsRejected),
        StatusCode::TOO_MANY_REQUESTS => Err(BridgeError::RateLimited {
            upstream: Upstream::Authsignal,
            retry_after: retry_after_seconds(headers),
        }
        .into()),
        status if status.is_client_error() => {
            let refusal = match call {
                Call::Validate => {
                    if matches!(
                        status,
                        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
                    ) {
                        // Still invalid_grant for the app (docs/behaviour.md, Upstream answers), but a 404 for
                        // every user usually means AUTHSIGNAL_API_URL lacks its `/v1`: say so
                        // loudly.
                        tracing::error!(
                            status = status.as_u16(),
                            "Authsignal did not recognise /validate; check AUTHSIGNAL_API_URL (it ends in /v1)"
                        );
                    }
                    ChallengeRejection::TokenRefused(status.as_u16())
                }
                Call::UserLookup => ChallengeRejection::UserLookupRefused(status.as_u16()),
                Call::Enrolment => {
                    return Err(BridgeError::SignUpRefused(SignUpRefusal::AuthsignalRefused(
                        status.as_u16(),
                    ))
                    .into())
                }
            };
            Err(BridgeError::ChallengeRejected(refusal).into())
        }
        status if !status.is_success() => Err(CallError::Failed(BridgeError::unavailable(
            Upstream::Authsignal,
            format!("answered HTTP {}", status.as_u16()),
        ))),
        _ => Ok(()),
    }
}

/// A user answer as profile claims: empty values count as absent, and values over
/// [`MAX_PROFILE_VALUE_BYTES`] are left out (named in a WARN, never quoted).
fn read_user(body: &[u8]) -> Result<UserProfile, CallError> {
    // An object only: serde would also read a JSON array into the struct, field by field.
    let answer: UserAnswer = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .filter(serde_json::Value::is_object)
        .and_then(|value| serde_json::from_value(value).ok())
        .ok_or_else(|| {
            CallError::Failed(BridgeError::unavailable(
                Upstream::Authsignal,
                "answer is not a user",
            ))
        })?;
    let usable = |claim: &'static str, value: Option<String>| {
        let value = value.filter(|value| !value.is_empty())?;
        if value.len() > MAX_PROFILE_VALUE_BYTES {
            tracing::warn!(
                claim,
                bytes = value.len(),
                "Authsignal's profile value is too long for the assertion; left out"
            );
            return None;
        }
        Some(value)
    };
    let email = usable("email", answer.email);
    Ok(UserProfile {
        email_verified: email.as_ref().and(answer.email_verified),
        email,
        phone_number: usable("phone_number", answer.phone_number),
        username: usable("username", answer.username),
        name: usable("name", answer.display_name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    fn client(action: Option<&str>) -> AuthsignalClient {
        client_allowing(action, None)
    }

    fn client_allowing(action: Option<&str>, methods: Option<&[&str]>) -> AuthsignalClient {
        AuthsignalClient::new(
            reqwest::Client::new(),
            &Url::parse("https://api.authsignal.com/v1").unwrap(),
            action.into_iter().map(str::to_owned).collect(),
            methods.map(|methods| methods.iter().map(|m| m.to_string()).collect()),
        )
    }

    fn interpret(
        action: Option<&str>,
        status: u16,
        body: &str,
    ) -> Result<ValidatedChallenge, CallError> {
        client(action).interpret(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
        )
    }

    fn rejection(result: Result<ValidatedChallenge, CallError>) -> ChallengeRejection {
        match result {
            Err(CallError::Failed(BridgeError::ChallengeRejected(why))) => why,
            other => panic!("expected a rejected challenge, got {other:?}"),
        }
    }

    #[test]
    fn the_validate_url_keeps_the_region_base_path() {
        let client = AuthsignalClient::new(
            reqwest::Client::new(),
            &Url::parse("https://eu.api.authsignal.com/v1").unwrap(),
            Vec::new(),
            None,
        );
        assert_eq!(
            client.validate_url.as_str(),
            "https://eu.api.authsignal.com/v1/validate"
        );
    }

    #[test]
    fn a_succeeded_challenge_is_a_validated_challenge() {
        let ok = interpret(
            None,
            200,
            r#"{"isValid":true,"state":"CHALLENGE_SUCCEEDED","userId":"u-1","action":"signIn","idempotencyKey":"k"}"#,
        )
        .unwrap();
        assert_eq!(
            ok,
            ValidatedChallenge {
                user_id: "u-1".into(),
                action: Some("signIn".into()),
                idempotency_key: Some("k".into()),
                verification_method: None,
            }
        );
    }

    #[test]
    fn action_is_read_from_action_then_action_code() {
        let body =
            r#"{"isValid":true,"state":"CHALLENGE_SUCCEEDED","userId":"u","actionCode":"old"}"#;
        assert_eq!(
            interpret(Some("old"), 200, body).unwrap().action.as_deref(),
            Some("old")
        );
        let body = r#"{"isValid":true,"state":"CHALLENGE_SUCCEEDED","userId":"u","action":"new","actionCode":"old"}"#;
        assert_eq!(
            interpret(Some("new"), 200, body).unwrap().action.as_deref(),
            Some("new")
        );
        assert_eq!(
            rejection(interpret(Some("old"), 200, body)),
            ChallengeRejection::WrongAction
        );
    }

    #[test]
    fn the_expected_action_is_enforced() {
        let body =
            r#"{"isValid":true,"state":"CHALLENGE_SUCCEEDED","userId":"u","action":"transfer"}"#;
        assert_eq!(
            rejection(interpret(Some("signIn"), 200, body)),
            ChallengeRejection::WrongAction
        );
        let body = r#"{"isValid":true,"state":"CHALLENGE_SUCCEEDED","userId":"u"}"#;
        assert_eq!(
            rejection(interpret(Some("signIn"), 200, body)),
            ChallengeRejection::WrongAction
        );
        assert!(interpret(None, 200, body).is_ok());
    }

    #[test]
    fn an_invalid_token_or_another_state_is_rejected() {
        let body = r#"{"isValid":false,"state":"CHALLENGE_SUCCEEDED","userId":"u"}"#;
        assert_eq!(
            rejection(interpret(None, 200, body)),
            ChallengeRejection::NotValid
        );
        for state in [
            "CHALLENGE_REQUIRED",
            "CHALLENGE_FAILED",
            "ALLOW",
            "REVIEW_SUCCEEDED",
        ] {
            let body = format!(r#"{{"isValid":true,"state":"{state}","userId":"u"}}"#);
            assert_eq!(
                rejection(interpret(None, 200, &body)),
                ChallengeRejection::WrongState(state.into())
            );
        }
        // A state that is not a plain word (an upstream could put anything there) is not logged.
        let body = r#"{"isValid":true,"state":"eyJ.canary-token.sig","userId":"u"}"#;
        assert_eq!(
            rejection(interpret(None, 200, body)),
            ChallengeRejection::WrongState("(unrecognised)".into())
        );
        let body = r#"{"isValid":true,"userId":"u"}"#;
        assert_eq!(
            rejection(interpret(None, 200, body)),
            ChallengeRejection::WrongState("(none)".into())
        );
    }

    #[test]
    fn a_valid_answer_without_user_id_is_a_bad_gateway() {
        for body in [
            r#"{"isValid":true,"state":"CHALLENGE_SUCCEEDED"}"#,
            r#"{"isValid":true,"state":"CHALLENGE_SUCCEEDED","userId":""}"#,
        ] {
            match interpret(None, 200, body) {
                Err(CallError::Failed(error)) => assert_eq!(error.status(), 502),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn wrong_shapes_and_server_errors_are_bad_gateways() {
        for (status, body) in [
            (200, "<html>hi</html>"),
            (200, r#"{"state":"CHALLENGE_SUCCEEDED"}"#),
            (200, r#"{"isValid":"yes"}"#),
            (200, "[]"),
            (500, r#"{"error":"internal"}"#),
            (503, ""),
        ] {
            match interpret(None, status, body) {
                Err(CallError::Failed(error)) => assert_eq!(error.status(), 502, "{body}"),
                other => panic!("{status} {body}: {other:?}"),
            }
        }
    }

    #[test]
    fn unauthorized_and_forbidden_mean_our_secret_is_wrong() {
        for status in [401, 403] {
            assert!(matches!(
                interpret(None, status, r#"{"error":"unauthorized"}"#),
                Err(CallError::CredentialsRejected)
            ));
        }
    }

    #[test]
    fn other_client_errors_refuse_the_token() {
        let body = r#"{"error":"invalid_request","errorDescription":"token expired"}"#;
        assert_eq!(
            rejection(interpret(None, 400, body)),
            ChallengeRejection::TokenRefused(400)
        );
        assert_eq!(
            rejection(interpret(None, 404, body)),
            ChallengeRejection::TokenRefused(404)
        );
    }

    #[test]
    fn rate_limiting_keeps_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        let result = client(None).interpret(StatusCode::TOO_MANY_REQUESTS, &headers, b"{}");
        match result {
            Err(CallError::Failed(error)) => {
                assert_eq!(error.status(), 429);
                assert_eq!(error.retry_after(), Some(7));
                assert_eq!(error.oauth_error(), Some("temporarily_unavailable"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_an_allowed_verification_method_passes_when_a_list_is_set() {
        let answer = |method: &str| {
            format!(
                r#"{{"isValid":true,"state":"CHALLENGE_SUCCEEDED","userId":"u","verificationMethod":"{method}"}}"#
            )
        };
        let passkeys = client_allowing(None, Some(&["PASSKEY", "SECURITY_KEY"]));
        let status = StatusCode::OK;
        let headers = HeaderMap::new();
        for method in ["PASSKEY", "SECURITY_KEY"] {
            let ok = passkeys.interpret(status, &headers, answer(method).as_bytes());
            assert_eq!(ok.unwrap().verification_method.as_deref(), Some(method));
        }
        for (method, label) in [
            ("SMS", "SMS"),
            ("passkey", "(unrecognised)"),
            ("", "(none)"),
            ("EMAIL_OTP canary-token", "(unrecognised)"),
        ] {
            let refused = passkeys.interpret(status, &headers, answer(method).as_bytes());
            assert_eq!(
                rejection(refused),
                ChallengeRejection::MethodNotAllowed(label.into()),
                "{method}"
            );
        }
        let without_method = r#"{"isValid":true,"state":"CHALLENGE_SUCCEEDED","userId":"u"}"#;
        assert_eq!(
            rejection(passkeys.interpret(status, &headers, without_method.as_bytes())),
            ChallengeRejection::MethodNotAllowed("(none)".into())
        );
        // Without a list, any method passes.
        assert!(client(None)
            .interpret(status, &headers, answer("SMS").as_bytes())
            .is_ok());
    }

    #[test]
    fn the_refused_method_is_named_in_the_log_detail() {
        let error =
            BridgeError::ChallengeRejected(ChallengeRejection::MethodNotAllowed("SMS".into()));
        assert_eq!(
            error.log_detail(),
            "challenge not accepted: verification method SMS is not allowed"
        );
        assert_eq!(error.oauth_error(), Some("invalid_grant"));
    }

    #[test]
    fn the_user_id_is_one_percent_encoded_path_segment_under_the_region_base() {
        let client = client(None);
        for (user_id, path) in [
            ("user-4f1c", "/v1/users/user-4f1c"),
            ("google-oauth2|123", "/v1/users/google-oauth2%7C123"),
            ("a/../b c", "/v1/users/a%2F..%2Fb%20c"),
            ("ü@x.y", "/v1/users/%C3%BC%40x.y"),
        ] {
            assert_eq!(client.user_url(user_id).path(), path, "{user_id}");
        }
    }

    #[test]
    fn a_user_answer_becomes_the_profile_claims() {
        let body = r#"{"isEnrolled":true,"email":"ada@example.com","emailVerified":true,"phoneNumber":"+64211234567","phoneNumberVerified":false,"username":"ada","displayName":"Ada Lovelace","custom":{"x":1}}"#;
        assert_eq!(
            read_user(body.as_bytes()).unwrap(),
            UserProfile {
                email: Some("ada@example.com".into()),
                email_verified: Some(true),
                phone_number: Some("+64211234567".into()),
                username: Some("ada".into()),
                name: Some("Ada Lovelace".into()),
            }
        );
        // Nothing known, empty values, and a verification flag without an address.
        for body in [
            r#"{"isEnrolled":true}"#,
            r#"{"email":"","username":"","emailVerified":true}"#,
            r#"{"email":null,"displayName":null}"#,
        ] {
            assert_eq!(
                read_user(body.as_bytes()).unwrap(),
                UserProfile::default(),
                "{body}"
            );
        }
        let long = format!(r#"{{"email":"a@b.c","displayName":"{}"}}"#, "n".repeat(300));
        let profile = read_user(long.as_bytes()).unwrap();
        assert_eq!(
            (profile.email.as_deref(), profile.name),
            (Some("a@b.c"), None)
        );
    }

    #[test]
    fn a_user_answer_of_the_wrong_shape_is_a_bad_gateway() {
        for body in [
            "<html/>",
            "[]",
            r#"{"email":5}"#,
            r#"{"emailVerified":"yes"}"#,
            "",
        ] {
            match read_user(body.as_bytes()) {
                Err(CallError::Failed(error)) => assert_eq!(error.status(), 502, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_failed_user_lookup_is_answered_as_a_failed_validation() {
        let headers = HeaderMap::new();
        let status = |code: u16| StatusCode::from_u16(code).unwrap();
        for code in [401, 403] {
            assert!(matches!(
                read_status(Call::UserLookup, status(code), &headers),
                Err(CallError::CredentialsRejected)
            ));
        }
        for (code, expected) in [
            (429, 429),
            (404, 400),
            (400, 400),
            (500, 502),
            (503, 502),
            (302, 502),
        ] {
            match read_status(Call::UserLookup, status(code), &headers) {
                Err(CallError::Failed(error)) => assert_eq!(error.status(), expected, "{code}"),
                other => panic!("{code}: {other:?}"),
            }
        }
        match read_status(Call::UserLookup, status(404), &headers) {
            Err(CallError::Failed(error)) => assert_eq!(
                error.log_detail(),
                "challenge not accepted: Authsignal refused the user lookup with HTTP 404"
            ),
            other => panic!("{other:?}"),
        }
    }
}
