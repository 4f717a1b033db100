//! The Authsignal client: `POST {AUTHSIGNAL_API_URL}/validate` and what its answer means.
//!
//! API: <https://docs.authsignal.com/api/server-api#validate-challenge>. HTTP Basic auth with the
//! secret key as the username and an empty password.

use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{log_label, BridgeError, CallError, ChallengeRejection, Upstream, WordCase};
use crate::settings::endpoint;
use crate::upstream::budget::Deadline;
use crate::upstream::http_client::{self, retry_after_seconds};

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

pub struct AuthsignalClient {
    http: reqwest::Client,
    validate_url: Url,
    expected_action: Option<String>,
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
        expected_action: Option<String>,
        allowed_methods: Option<Vec<String>>,
    ) -> Self {
        AuthsignalClient {
            http,
            validate_url: endpoint(api_url, "validate"),
            expected_action,
            allowed_methods,
        }
    }

    /// Opens the connection to Authsignal ahead of the first request (see `upstream`).
    pub async fn warm_up(&self, deadline: &Deadline) {
        http_client::open_connection(
            &self.http,
            &self.validate_url,
            Upstream::Authsignal,
            deadline,
        )
        .await;
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
            .http
            .post(self.validate_url.clone())
            .basic_auth(secret_key.expose_secret(), Some(""))
            .json(&ValidateRequest {
                token,
                action: self.expected_action.as_deref(),
            });
        let answer = deadline
            .run(
                Upstream::Authsignal,
                http_client::send(Upstream::Authsignal, request),
            )
            .await?;
        self.interpret(answer.status, &answer.headers, &answer.body)
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
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(CallError::CredentialsRejected)
            }
            StatusCode::TOO_MANY_REQUESTS => {
                return Err(BridgeError::RateLimited {
                    upstream: Upstream::Authsignal,
                    retry_after: retry_after_seconds(headers),
                }
                .into())
            }
            status if status.is_client_error() => {
                if matches!(
                    status,
                    StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
                ) {
                    // Still invalid_grant for the app (the contract's row), but a 404 for every
                    // user usually means AUTHSIGNAL_API_URL lacks its `/v1`: say so loudly.
                    tracing::error!(
                        status = status.as_u16(),
                        "Authsignal did not recognise /validate; check AUTHSIGNAL_API_URL (it ends in /v1)"
                    );
                }
                return Err(
                    BridgeError::ChallengeRejected(ChallengeRejection::TokenRefused(
                        status.as_u16(),
                    ))
                    .into(),
                );
            }
            status if !status.is_success() => {
                return Err(unavailable(format!("answered HTTP {}", status.as_u16())))
            }
            _ => {}
        }
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
        if let Some(expected) = &self.expected_action {
            if action.as_deref() != Some(expected.as_str()) {
                return Err(BridgeError::ChallengeRejected(ChallengeRejection::WrongAction).into());
            }
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
            action.map(str::to_owned),
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
            None,
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
}
