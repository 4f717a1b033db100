//! The Auth0 client: the password-realm exchange at `/oauth/token`.
//!
//! API: <https://auth0.com/docs/api/authentication#resource-owner-password>. The Authsignal
//! token goes in as the password; the custom database connection's Login script asks Authsignal
//! who it belongs to.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::budget::Deadline;
use crate::credentials::Credentials;
use crate::error::{BridgeError, PassthroughBody, Upstream};
use crate::settings::{endpoint, Auth0Grant, Settings};
use crate::upstream::{self, retry_after_seconds};

const PASSWORD_REALM_GRANT: &str = "http://auth0.com/oauth/grant-type/password-realm";
const PASSWORD_GRANT: &str = "password";

/// Auth0's token answer, exactly as Auth0 sent it (the app gets it unchanged).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenResponse(pub Bytes);

// Holds access/id/refresh tokens: never print them.
impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenResponse([REDACTED; {} bytes])", self.0.len())
    }
}

#[derive(Debug)]
pub enum ExchangeError {
    /// Auth0 answered 401 `invalid_client`/`access_denied`: our client credentials are wrong.
    CredentialsRejected,
    Other(BridgeError),
}

impl From<BridgeError> for ExchangeError {
    fn from(error: BridgeError) -> Self {
        ExchangeError::Other(error)
    }
}

pub struct Auth0Client {
    http: reqwest::Client,
    token_url: Url,
    grant: Auth0Grant,
    scope: String,
    audience: Option<String>,
    forward_client_ip: bool,
}

/// The form body of `/oauth/token`, serialised straight from borrowed values.
#[derive(Serialize)]
struct TokenRequest<'a> {
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
            grant: settings.auth0_grant.clone(),
            scope: settings.auth0_scope.clone(),
            audience: settings.auth0_audience.clone(),
            forward_client_ip: settings.auth0_forward_client_ip,
        }
    }

    /// Opens the connection to Auth0 ahead of the first request (see `upstream`).
    pub async fn warm_up(&self, deadline: &Deadline) {
        upstream::open_connection(&self.http, &self.token_url, Upstream::Auth0, deadline).await;
    }

    /// Exchanges the validated Authsignal token for Auth0 tokens on behalf of `user_id`.
    pub async fn exchange(
        &self,
        user_id: &str,
        authsignal_token: &str,
        credentials: &Credentials,
        client_ip: Option<IpAddr>,
        deadline: &Deadline,
    ) -> Result<TokenResponse, ExchangeError> {
        let (grant_type, realm) = match &self.grant {
            Auth0Grant::PasswordRealm { realm } => (PASSWORD_REALM_GRANT, Some(realm.as_str())),
            Auth0Grant::Password => (PASSWORD_GRANT, None),
        };
        let mut request = self.http.post(self.token_url.clone()).form(&TokenRequest {
            grant_type,
            realm,
            username: user_id,
            password: authsignal_token,
            client_id: &credentials.auth0_client_id,
            client_secret: credentials.auth0_client_secret.expose_secret(),
            scope: &self.scope,
            audience: self.audience.as_deref(),
        });
        // Lets Auth0's brute-force protection see the end user instead of this function
        // (needs "Trust Token Endpoint IP Header" on the application).
        if let (true, Some(ip)) = (self.forward_client_ip, client_ip) {
            request = request.header("auth0-forwarded-for", ip.to_string());
        }
        let answer = deadline
            .run(Upstream::Auth0, upstream::send(Upstream::Auth0, request))
            .await?;
        if echoes_credentials(&answer.body, credentials) {
            // Whatever Auth0 (or something posing as it) sent, the app must not receive our
            // client secret: refuse the answer instead of passing it through.
            return Err(BridgeError::UpstreamUnavailable {
                upstream: Upstream::Auth0,
                detail: "answer contained the bridge's client secret; withheld".to_owned(),
            }
            .into());
        }
        interpret(
            answer.status,
            &answer.headers,
            answer.body,
            SystemTime::now(),
        )
    }
}

/// Whether `body` contains the client secret.
fn echoes_credentials(body: &[u8], credentials: &Credentials) -> bool {
    let secret = credentials.auth0_client_secret.expose_secret().as_bytes();
    !secret.is_empty() && body.windows(secret.len()).any(|window| window == secret)
}

fn interpret(
    status: StatusCode,
    headers: &HeaderMap,
    body: Bytes,
    now: SystemTime,
) -> Result<TokenResponse, ExchangeError> {
    let unavailable = |detail: String| {
        ExchangeError::Other(BridgeError::UpstreamUnavailable {
            upstream: Upstream::Auth0,
            detail,
        })
    };
    let shape: Option<AnswerShape> = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .filter(serde_json::Value::is_object)
        .and_then(|value| serde_json::from_value(value).ok());
    let oauth_error = shape
        .as_ref()
        .and_then(|shape| shape.error.as_ref())
        .and_then(|error| error.as_str());

    if status.is_success() {
        return match shape {
            Some(AnswerShape {
                access_token: Some(serde_json::Value::String(_)),
                ..
            }) => Ok(TokenResponse(body)),
            _ => Err(unavailable(
                "success answer without a string access_token".to_owned(),
            )),
        };
    }
    if status == StatusCode::UNAUTHORIZED
        && matches!(oauth_error, Some("invalid_client" | "access_denied"))
    {
        return Err(ExchangeError::CredentialsRejected);
    }
    let retry_after = (status == StatusCode::TOO_MANY_REQUESTS)
        .then(|| retry_after_seconds(headers).or_else(|| seconds_until_reset(headers, now)))
        .flatten();
    match oauth_error {
        Some(_) if status.is_client_error() => Err(BridgeError::Auth0Rejected {
            status,
            body: PassthroughBody(body),
            retry_after,
        }
        .into()),
        None if status == StatusCode::TOO_MANY_REQUESTS => Err(BridgeError::RateLimited {
            upstream: Upstream::Auth0,
            retry_after,
        }
        .into()),
        _ => Err(unavailable(format!(
            "answered HTTP {} without a usable OAuth error",
            status.as_u16()
        ))),
    }
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
    use reqwest::header::HeaderValue;
    use std::time::Duration;

    fn run(
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<TokenResponse, ExchangeError> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        interpret(
            StatusCode::from_u16(status).unwrap(),
            &map,
            Bytes::from(body.to_owned()),
            UNIX_EPOCH + Duration::from_secs(1_000_000),
        )
    }

    fn bridge_error(result: Result<TokenResponse, ExchangeError>) -> BridgeError {
        match result {
            Err(ExchangeError::Other(error)) => error,
            other => panic!("expected a bridge error, got {other:?}"),
        }
    }

    #[test]
    fn a_token_answer_is_passed_through_byte_for_byte() {
        let body = r#"{"access_token":"at","id_token":"it","token_type":"Bearer","expires_in":86400,"scope":"openid"}"#;
        let token = run(200, &[], body).unwrap();
        assert_eq!(token.0, body.as_bytes());
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
                body: passed,
                retry_after,
            } => {
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
                Err(ExchangeError::CredentialsRejected)
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
}
