//! The Auth0 client: the three calls the bridge makes with its client credentials, which the
//! app must never hold:
//! - the password-realm exchange at `/oauth/token` (sign-in): the sign-in proof (the bridge's
//!   assertion, or the Authsignal token) goes in as the password, and the custom database
//!   connection's Login script checks it
//!   (<https://auth0.com/docs/api/authentication#resource-owner-password>); or, with
//!   `AUTH0_GRANT_TYPE=token-exchange`, Custom Token Exchange (RFC 8693): the assertion is the
//!   `subject_token` and the tenant's Action checks it
//!   (<https://auth0.com/docs/authenticate/custom-token-exchange>);
//! - the refresh grant at `/oauth/token`
//!   (<https://auth0.com/docs/api/authentication#refresh-token>);
//! - revocation at `/oauth/revoke`, with a JSON body, the form Auth0's SDKs use
//!   (<https://auth0.com/docs/api/authentication#revoke-refresh-token>).

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::budget::Deadline;
use crate::error::{
    log_label, BridgeError, CallError, PassthroughBody, RequestFate, Upstream, WordCase,
};
use crate::settings::{Auth0Grant, Settings};
use crate::tokens::{DpopProof, RefreshToken, TokenResponse};
use crate::upstream::credentials::Credentials;
use crate::upstream::http_client::{self, endpoint, retry_after_seconds, UpstreamResponse};

const PASSWORD_REALM_GRANT: &str = "http://auth0.com/oauth/grant-type/password-realm";
const PASSWORD_GRANT: &str = "password";
const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const REFRESH_TOKEN_GRANT: &str = "refresh_token";

/// What Auth0 made of a revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// 200: the refresh token (and, with "Refresh Token Revocation Deletes Grant", the grant)
    /// is gone.
    Revoked,
    /// 400/403 with an OAuth error: Auth0 does not know the token as a live one. The code is
    /// Auth0's `error`, reduced to a safe label for the log.
    NotActive { auth0_error: String },
}

/// What the token call carries for the app that made the request: the app's IP (as
/// `auth0-forwarded-for`, for Auth0's brute-force protection) and its DPoP proof (as `DPoP`,
/// unchanged, so Auth0 binds the tokens to the app's key).
#[derive(Debug, Clone, Copy, Default)]
pub struct ForCaller<'a> {
    pub client_ip: Option<IpAddr>,
    pub dpop: Option<&'a DpopProof>,
}

pub struct Auth0Client {
    http: reqwest::Client,
    token_url: Url,
    revoke_url: Url,
    grant: Auth0Grant,
    scope: String,
    audience: Option<String>,
    forward_client_ip: bool,
}

/// The form body of the password(-realm) exchange, serialised straight from borrowed values.
#[derive(Serialize)]
struct PasswordGrantRequest<'a> {
    grant_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    realm: Option<&'a str>,
    username: &'a str,
    password: &'a str,
    client_id: &'a str,
    client_secret: &'a str,
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    audience: Option<&'a str>,
}

/// The form body of Custom Token Exchange: no realm, username or password; the tenant's
/// Action reads the user from the subject token.
#[derive(Serialize)]
struct TokenExchangeRequest<'a> {
    grant_type: &'a str,
    subject_token: &'a str,
    subject_token_type: &'a str,
    client_id: &'a str,
    client_secret: &'a str,
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    audience: Option<&'a str>,
}

/// The form body of the refresh grant.
#[derive(Serialize)]
struct RefreshGrantRequest<'a> {
    grant_type: &'a str,
    refresh_token: &'a str,
    client_id: &'a str,
    client_secret: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
}

/// The JSON body of `/oauth/revoke`.
#[derive(Serialize)]
struct RevokeRequest<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    token: &'a str,
}

/// The parts of an answer that tell a token from an OAuth error.
#[derive(Deserialize)]
struct AnswerShape {
    #[serde(default)]
    access_token: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

impl Auth0Client {
    pub fn new(http: reqwest::Client, settings: &Settings) -> Self {
        Auth0Client {
            http,
            token_url: endpoint(&settings.auth0_base_url, "oauth/token"),
            revoke_url: endpoint(&settings.auth0_base_url, "oauth/revoke"),
            grant: settings.auth0_grant.clone(),
            scope: settings.auth0_scope.clone(),
            audience: settings.auth0_audience.clone(),
            forward_client_ip: settings.auth0_forward_client_ip,
        }
    }

    /// Opens the connection to Auth0 ahead of the first request (see `upstream`).
    pub async fn warm_up(&self, deadline: &Deadline) {
        http_client::open_connection(&self.http, &self.token_url, Upstream::Auth0, deadline).await;
    }

    /// Signs `user_id` in at Auth0 with `proof`: as the password (password grants), or as the
    /// subject token (Custom Token Exchange).
    pub async fn exchange(
        &self,
        user_id: &str,
        proof: &str,
        credentials: &Credentials,
        caller: ForCaller<'_>,
        deadline: &Deadline,
    ) -> Result<TokenResponse, CallError> {
        let client_id = &credentials.auth0_client_id;
        let client_secret = credentials.auth0_client_secret.expose_secret();
        let (scope, audience) = (self.scope.as_str(), self.audience.as_deref());
        let password_grant = |grant_type, realm| PasswordGrantRequest {
            grant_type,
            realm,
            username: user_id,
            password: proof,
            client_id,
            client_secret,
            scope,
            audience,
        };
        match &self.grant {
            Auth0Grant::PasswordRealm { realm } => {
                let form = password_grant(PASSWORD_REALM_GRANT, Some(realm.as_str()));
                self.token_grant(&form, credentials, caller, deadline).await
            }
            Auth0Grant::Password => {
                let form = password_grant(PASSWORD_GRANT, None);
                self.token_grant(&form, credentials, caller, deadline).await
            }
            Auth0Grant::TokenExchange { subject_token_type } => {
                let form = TokenExchangeRequest {
                    grant_type: TOKEN_EXCHANGE_GRANT,
                    subject_token: proof,
                    subject_token_type,
                    client_id,
                    client_secret,
                    scope,
                    audience,
                };
                self.token_grant(&form, credentials, caller, deadline).await
            }
        }
    }

    /// Redeems a refresh token. Auth0's answer is handled exactly as the exchange's (a rotated
    /// `refresh_token` in it is passed through like the rest).
    pub async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        scope: Option<&str>,
        credentials: &Credentials,
        caller: ForCaller<'_>,
        deadline: &Deadline,
    ) -> Result<TokenResponse, CallError> {
        let form = RefreshGrantRequest {
            grant_type: REFRESH_TOKEN_GRANT,
            refresh_token: refresh_token.expose(),
            client_id: &credentials.auth0_client_id,
            client_secret: credentials.auth0_client_secret.expose_secret(),
            scope,
        };
        self.token_grant(&form, credentials, caller, deadline).await
    }

    /// A grant at `/oauth/token`: the form, the caller's IP for Auth0's brute-force protection
    /// (needs "Trust Token Endpoint IP Header" on the application), the caller's DPoP proof,
    /// and the answer read as tokens or an error.
    async fn token_grant(
        &self,
        form: &impl Serialize,
        credentials: &Credentials,
        caller: ForCaller<'_>,
        deadline: &Deadline,
    ) -> Result<TokenResponse, CallError> {
        let mut request = self.http.post(self.token_url.clone()).form(form);
        if let (true, Some(ip)) = (self.forward_client_ip, caller.client_ip) {
            request = request.header("auth0-forwarded-for", ip.to_string());
        }
        if let Some(proof) = caller.dpop {
            request = request.header("dpop", proof.expose());
        }
        let answer = self.send(request, credentials, deadline).await?;
        token_answer(answer, SystemTime::now())
    }

    /// Revokes a refresh token.
    pub async fn revoke(
        &self,
        token: &RefreshToken,
        credentials: &Credentials,
        deadline: &Deadline,
    ) -> Result<Revocation, CallError> {
        let request = self
            .http
            .post(self.revoke_url.clone())
            .json(&RevokeRequest {
                client_id: &credentials.auth0_client_id,
                client_secret: credentials.auth0_client_secret.expose_secret(),
                token: token.expose(),
            });
        let answer = self.send(request, credentials, deadline).await?;
        revocation_answer(answer, SystemTime::now())
    }

    /// Sends a request within the time budget and reads the answer.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        credentials: &Credentials,
        deadline: &Deadline,
    ) -> Result<UpstreamResponse, BridgeError> {
        let answer = deadline
            .run(Upstream::Auth0, http_client::send(Upstream::Auth0, request))
            .await?;
        if echoes_credentials(&answer.body, credentials) {
            // Whatever Auth0 (or something posing as it) sent, the app must not receive our
            // client secret: refuse the answer instead of passing it through.
            return Err(BridgeError::unavailable(
                Upstream::Auth0,
                "answer contained the bridge's client secret; withheld",
            ));
        }
        Ok(answer)
    }
}

/// Whether `body` contains the client secret.
fn echoes_credentials(body: &[u8], credentials: &Credentials) -> bool {
    let secret = credentials.auth0_client_secret.expose_secret().as_bytes();
    !secret.is_empty() && body.windows(secret.len()).any(|window| window == secret)
}

/// Parses `body` as a JSON object of the shape Auth0 answers with, if it is one.
fn shape_of(body: &[u8]) -> Option<AnswerShape> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .filter(serde_json::Value::is_object)
        .and_then(|value| serde_json::from_value(value).ok())
}

/// The OAuth `error` code of an answer, when it has a string one.
fn oauth_error_of(shape: &Option<AnswerShape>) -> Option<&str> {
    shape
        .as_ref()
        .and_then(|shape| shape.error.as_ref())
        .and_then(|error| error.as_str())
}

fn unavailable(detail: String) -> CallError {
    CallError::Failed(BridgeError::unavailable(Upstream::Auth0, detail))
}

/// `/oauth/token`'s answer: a 2xx with a string `access_token` is the tokens, passed through.
fn token_answer(answer: UpstreamResponse, now: SystemTime) -> Result<TokenResponse, CallError> {
    let shape = shape_of(&answer.body);
    if !answer.status.is_success() {
        return Err(error_answer(answer, &shape, now));
    }
    match shape {
        Some(AnswerShape {
            access_token: Some(serde_json::Value::String(_)),
            ..
        }) => Ok(TokenResponse {
            dpop_nonce: dpop_nonce(&answer.headers),
            body: answer.body,
        }),
        _ => Err(unavailable(
            "success answer without a string access_token".to_owned(),
        )),
    }
}

/// The OAuth errors that are about the token itself (RFC 6749 `invalid_grant`, RFC 6750
/// `invalid_token`, RFC 7009 `unsupported_token_type`): an invalid, expired, already revoked or
/// foreign token, which RFC 7009 section 2.2 does not make the app's problem. Any other error
/// (`invalid_request`: our request was wrong; `unauthorized_client`: revocation not allowed) is
/// not "nothing to revoke": the token may still be live, so it is not answered as a sign-out.
const ERRORS_ABOUT_THE_TOKEN: &[&str] =
    &["invalid_grant", "invalid_token", "unsupported_token_type"];

/// `/oauth/revoke`'s answer: any 2xx (Auth0 sends 200 with an empty body) is done; a 400 or 403
/// whose OAuth error is about the token is nothing left to revoke; anything else is answered as
/// on the token endpoint (Auth0's OAuth errors passed through).
fn revocation_answer(answer: UpstreamResponse, now: SystemTime) -> Result<Revocation, CallError> {
    if answer.status.is_success() {
        return Ok(Revocation::Revoked);
    }
    let shape = shape_of(&answer.body);
    match (answer.status, oauth_error_of(&shape)) {
        (StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN, Some(code))
            if ERRORS_ABOUT_THE_TOKEN.contains(&code) =>
        {
            Ok(Revocation::NotActive {
                auth0_error: log_label(Some(code), WordCase::Lower),
            })
        }
        _ => Err(error_answer(answer, &shape, now)),
    }
}

/// What a non-2xx answer means, for either endpoint: 401 `invalid_client`/`access_denied` is
/// our credentials; a 4xx with an OAuth error is Auth0's answer for the app, passed through; a
/// 429 without one is ours; anything else is a bad gateway.
fn error_answer(
    answer: UpstreamResponse,
    shape: &Option<AnswerShape>,
    now: SystemTime,
) -> CallError {
    let status = answer.status;
    let oauth_error = oauth_error_of(shape);
    if status == StatusCode::UNAUTHORIZED
        && matches!(oauth_error, Some("invalid_client" | "access_denied"))
    {
        return CallError::CredentialsRejected;
    }
    let retry_after = (status == StatusCode::TOO_MANY_REQUESTS)
        .then(|| {
            retry_after_seconds(&answer.headers)
                .or_else(|| seconds_until_reset(&answer.headers, now))
        })
        .flatten();
    match oauth_error {
        Some(code) if status.is_client_error() => BridgeError::Auth0Rejected {
            status,
            code: log_label(Some(code), WordCase::Lower),
            dpop_nonce: dpop_nonce(&answer.headers),
            body: PassthroughBody(answer.body),
            retry_after,
        }
        .into(),
        None if status == StatusCode::TOO_MANY_REQUESTS => BridgeError::RateLimited {
            upstream: Upstream::Auth0,
            retry_after,
        }
        .into(),
        // A 5xx says Auth0 did not do the work; anything else may have done it.
        _ => BridgeError::UpstreamUnavailable {
            upstream: Upstream::Auth0,
            detail: format!(
                "answered HTTP {} without a usable OAuth error",
                status.as_u16()
            ),
            fate: if status.is_server_error() {
                RequestFate::ServerError
            } else {
                RequestFate::Unknown
            },
        }
        .into(),
    }
}

/// Auth0's `DPoP-Nonce` header (RFC 9449 section 8), when it is visible ASCII text of a sane
/// length: passed on to the app as it is.
fn dpop_nonce(headers: &HeaderMap) -> Option<String> {
    let nonce = headers.get("dpop-nonce")?.to_str().ok()?;
    (!nonce.is_empty() && nonce.len() <= 1024).then(|| nonce.to_owned())
}

/// Auth0 sends `x-ratelimit-reset` as a UNIX time in seconds: the wait is the time until then,
/// at least 1 s.
fn seconds_until_reset(headers: &HeaderMap, now: SystemTime) -> Option<u64> {
    let reset: u64 = headers
        .get("x-ratelimit-reset")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(reset.saturating_sub(now).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use reqwest::header::HeaderValue;
    use std::time::Duration;

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> UpstreamResponse {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        UpstreamResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: Bytes::from(body.to_owned()),
        }
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_000_000)
    }

    fn run(status: u16, headers: &[(&str, &str)], body: &str) -> Result<TokenResponse, CallError> {
        token_answer(answer(status, headers, body), now())
    }

    fn revoke(status: u16, body: &str) -> Result<Revocation, CallError> {
        revocation_answer(answer(status, &[], body), now())
    }

    fn bridge_error<T: std::fmt::Debug>(result: Result<T, CallError>) -> BridgeError {
        match result {
            Err(CallError::Failed(error)) => error,
            other => panic!("expected a bridge error, got {other:?}"),
        }
    }

    #[test]
    fn a_token_answer_is_passed_through_byte_for_byte() {
        let body = r#"{"access_token":"at","id_token":"it","token_type":"Bearer","expires_in":86400,"scope":"openid"}"#;
        let token = run(200, &[], body).unwrap();
        assert_eq!(token.body, body.as_bytes());
        assert_eq!(token.dpop_nonce, None);
        assert!(!format!("{token:?}").contains("\"at\""));
    }

    #[test]
    fn a_success_without_an_access_token_is_a_bad_gateway() {
        for body in ["{}", r#"{"access_token":5}"#, "<html/>", "[]", ""] {
            assert_eq!(bridge_error(run(200, &[], body)).status(), 502, "{body}");
        }
    }

    #[test]
    fn oauth_errors_are_passed_through_with_auth0s_status() {
        let body = r#"{"error":"mfa_required","error_description":"Multifactor authentication required","mfa_token":"mt"}"#;
        match bridge_error(run(403, &[], body)) {
            BridgeError::Auth0Rejected {
                status,
                code,
                body: passed,
                retry_after,
                dpop_nonce,
            } => {
                assert_eq!((code.as_str(), dpop_nonce), ("mfa_required", None));
                assert_eq!(status, 403);
                assert_eq!(passed.0, body.as_bytes());
                assert!(!format!("{passed:?}").contains("mt"));
                assert_eq!(retry_after, None);
            }
            other => panic!("{other:?}"),
        }
        let error = bridge_error(run(400, &[], r#"{"error":"invalid_request"}"#));
        assert_eq!(error.status(), 400);
    }

    #[test]
    fn bad_client_credentials_ask_for_a_refresh() {
        for code in ["invalid_client", "access_denied"] {
            let body = format!(r#"{{"error":"{code}","error_description":"Unauthorized"}}"#);
            assert!(matches!(
                run(401, &[], &body),
                Err(CallError::CredentialsRejected)
            ));
        }
        // The same codes with another status are Auth0's answer for the user, passed through.
        let error = bridge_error(run(403, &[], r#"{"error":"access_denied"}"#));
        assert_eq!(error.status(), 403);
    }

    #[test]
    fn rate_limits_carry_retry_after_from_auth0_or_the_reset_time() {
        let body = r#"{"error":"too_many_attempts","error_description":"slow down"}"#;
        let own = bridge_error(run(
            429,
            &[("retry-after", "12"), ("x-ratelimit-reset", "1000100")],
            body,
        ));
        assert_eq!(
            (own.status(), own.retry_after()),
            (StatusCode::TOO_MANY_REQUESTS, Some(12))
        );
        let reset = bridge_error(run(429, &[("x-ratelimit-reset", "1000030")], body));
        assert_eq!(reset.retry_after(), Some(30));
        let past = bridge_error(run(429, &[("x-ratelimit-reset", "999000")], body));
        assert_eq!(past.retry_after(), Some(1));
        let none = bridge_error(run(429, &[], body));
        assert_eq!(none.retry_after(), None);
        assert_eq!(none.response_body(), body.as_bytes());
    }

    #[test]
    fn a_rate_limit_without_an_oauth_body_is_temporarily_unavailable() {
        let error = bridge_error(run(429, &[("retry-after", "3")], "Too Many Requests"));
        assert_eq!(error.status(), 429);
        assert_eq!(error.oauth_error(), Some("temporarily_unavailable"));
        assert_eq!(error.retry_after(), Some(3));
    }

    #[test]
    fn server_errors_and_unusable_errors_are_bad_gateways() {
        for (status, body) in [
            (500, r#"{"error":"server_error"}"#),
            (503, "<html>down</html>"),
            (403, "<html>forbidden by a proxy</html>"),
            (401, r#"{"message":"no"}"#),
            (302, ""),
        ] {
            assert_eq!(
                bridge_error(run(status, &[], body)).status(),
                502,
                "{status} {body}"
            );
        }
    }

    #[test]
    fn a_revocation_is_done_on_any_success() {
        assert_eq!(revoke(200, "").unwrap(), Revocation::Revoked);
        assert_eq!(revoke(204, "").unwrap(), Revocation::Revoked);
    }

    #[test]
    fn an_invalid_or_revoked_token_is_nothing_to_revoke() {
        for (status, code) in [
            (400, "invalid_grant"),
            (403, "invalid_grant"),
            (400, "invalid_token"),
            (400, "unsupported_token_type"),
        ] {
            let body = format!(
                r#"{{"error":"{code}","error_description":"Unknown or invalid refresh token."}}"#
            );
            assert_eq!(
                revoke(status, &body).unwrap(),
                Revocation::NotActive {
                    auth0_error: code.into()
                }
            );
        }
    }

    #[test]
    fn other_oauth_errors_of_a_revocation_are_passed_through_not_called_a_sign_out() {
        for (status, code) in [
            (400, "invalid_request"),
            (403, "unauthorized_client"),
            (403, "access_denied"),
        ] {
            let body = format!(r#"{{"error":"{code}","error_description":"no"}}"#);
            match bridge_error(revoke(status, &body)) {
                BridgeError::Auth0Rejected {
                    status: passed,
                    body: passed_body,
                    ..
                } => {
                    assert_eq!(passed.as_u16(), status);
                    assert_eq!(passed_body.0, body.as_bytes());
                }
                other => panic!("{status} {code}: {other:?}"),
            }
        }
    }

    #[test]
    fn revocation_errors_are_answered_as_the_token_endpoints() {
        assert!(matches!(
            revoke(
                401,
                r#"{"error":"invalid_client","error_description":"Unauthorized"}"#
            ),
            Err(CallError::CredentialsRejected)
        ));
        let limited = bridge_error(revoke(429, r#"{"error":"too_many_requests"}"#));
        assert_eq!(limited.status(), 429);
        for (status, body) in [
            (500, r#"{"error":"server_error"}"#),
            (400, "<html>bad request</html>"),
            (403, ""),
            (302, ""),
        ] {
            assert_eq!(
                bridge_error(revoke(status, body)).status(),
                502,
                "{status} {body}"
            );
        }
    }

    #[test]
    fn auth0s_dpop_nonce_is_kept_for_the_app_on_success_and_on_error() {
        let nonce = [("dpop-nonce", "eyJ7S_zG.nonce")];
        let token = run(200, &nonce, r#"{"access_token":"at","token_type":"DPoP"}"#).unwrap();
        assert_eq!(token.dpop_nonce.as_deref(), Some("eyJ7S_zG.nonce"));
        let body = r#"{"error":"use_dpop_nonce","error_description":"Authorization server requires nonce in DPoP proof"}"#;
        let error = bridge_error(run(400, &nonce, body));
        assert_eq!(error.dpop_nonce(), Some("eyJ7S_zG.nonce"));
        assert_eq!(error.response_body(), body.as_bytes());
        assert_eq!(
            error.log_detail(),
            "auth0 rejected the request with status 400 Bad Request (use_dpop_nonce)"
        );
        assert_eq!(bridge_error(run(400, &[], body)).dpop_nonce(), None);
    }
}
