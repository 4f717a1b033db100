//! The HTTP edge: API Gateway (HTTP API 2.0, REST API 1.0) and function URL events in, the
//! contract's answers out. The only module that sees `lambda_http` types.
//!
//! The runtime hands us the raw event ([`Handler::handle_event`]) rather than going through
//! `lambda_http::run`, because `lambda_http` decodes `isBase64Encoded` bodies with an `expect`:
//! an event with a broken base64 body would panic and become a Lambda invocation error, where
//! the contract wants a 400. So we check the body first, then convert the event with
//! `lambda_http`'s own conversion and answer in the event source's response format.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use lambda_http::http::header::{
    HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER,
};
use lambda_http::http::{HeaderMap, Method, StatusCode};
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::{Body, Context, LambdaEvent, Request, RequestExt, Response};
use serde::Serialize;

use crate::auth0::TokenResponse;
use crate::bridge::{AuthsignalToken, Bridge, ExchangeTrace};
use crate::budget::Deadline;
use crate::error::BridgeError;

/// The contract's body limit, measured after base64 decoding.
pub const MAX_BODY_BYTES: usize = 8 * 1024;
/// The contract's token limit.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// Longest base64 text that can decode to at most [`MAX_BODY_BYTES`] (4 chars per 3 bytes).
const MAX_BASE64_BODY_CHARS: usize = MAX_BODY_BYTES.div_ceil(3) * 4;
/// Time budget when an event carries no Lambda deadline (direct handler calls in tests).
const BUDGET_WITHOUT_DEADLINE: Duration = Duration::from_secs(30);

/// Everything an invocation needs, built once per execution environment.
pub struct Handler {
    /// The bridge, or `Misconfigured` when a setting was invalid at start-up (already logged):
    /// the function then answers every request with the contract's 500 instead of crash-looping.
    bridge: Result<Bridge, BridgeError>,
    upstream_timeout: Duration,
    cold_start: AtomicBool,
}

/// The answer in the format the event source expects.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum GatewayResponse {
    /// REST API (payload 1.0): headers go in `multiValueHeaders`.
    Rest(ApiGatewayProxyResponse),
    /// HTTP API and function URL (payload 2.0).
    Http(ApiGatewayV2httpResponse),
}

impl Handler {
    pub fn new(bridge: Bridge, upstream_timeout: Duration) -> Self {
        Handler {
            bridge: Ok(bridge),
            upstream_timeout,
            cold_start: AtomicBool::new(true),
        }
    }

    /// A handler for a function whose settings are invalid: every request gets a 500.
    pub fn misconfigured() -> Self {
        Handler {
            bridge: Err(BridgeError::Misconfigured),
            upstream_timeout: Duration::ZERO,
            cold_start: AtomicBool::new(true),
        }
    }

    /// Entry point for the Lambda runtime: one raw API Gateway / function URL event.
    pub async fn handle_event(
        &self,
        event: LambdaEvent<LambdaRequest>,
    ) -> Result<GatewayResponse, lambda_http::Error> {
        let LambdaEvent { payload, context } = event;
        let (is_rest, body, is_base64) = match &payload {
            LambdaRequest::ApiGatewayV1(event) => {
                (true, event.body.as_deref(), event.is_base64_encoded)
            }
            LambdaRequest::ApiGatewayV2(event) => {
                (false, event.body.as_deref(), event.is_base64_encoded)
            }
            // Only the two features above are compiled in; the enum is non-exhaustive.
            _ => (false, None, false),
        };
        let response = match check_encoded_body(body, is_base64) {
            Err(error) => self.answer(&context.request_id, Err(error), &ExchangeTrace::default()),
            Ok(()) => {
                let request = Request::from(payload).with_lambda_context(context);
                self.handle(request).await
            }
        };
        Ok(to_gateway_response(is_rest, response))
    }

    /// Answers one HTTP request (what the handler tests call with `lambda_http::request::from_str`).
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let context = request.lambda_context_ref();
        let request_id = context
            .map_or("", |context| context.request_id.as_str())
            .to_owned();
        let deadline = deadline_of(context, self.upstream_timeout);
        let mut trace = ExchangeTrace::default();
        let result = match (&self.bridge, read_token(&request)) {
            (Err(_), _) => Err(BridgeError::Misconfigured),
            (Ok(_), Err(error)) => Err(error),
            (Ok(bridge), Ok(token)) => {
                bridge
                    .exchange(&token, client_ip(&request), &deadline, &mut trace)
                    .await
            }
        };
        self.answer(&request_id, result, &trace)
    }

    /// Builds the answer and writes the invocation's one summary log line.
    fn answer(
        &self,
        request_id: &str,
        result: Result<TokenResponse, BridgeError>,
        trace: &ExchangeTrace,
    ) -> Response<Body> {
        let cold_start = self.cold_start.swap(false, Ordering::Relaxed);
        log_summary(&result, trace, cold_start);
        respond(request_id, result)
    }
}

/// The contract's answer: headers on every response, Auth0's bytes or the error body.
fn respond(request_id: &str, result: Result<TokenResponse, BridgeError>) -> Response<Body> {
    let (status, body) = match &result {
        Ok(TokenResponse(bytes)) => (StatusCode::OK, bytes.clone()),
        Err(error) => (error.status(), error.response_body()),
    };
    let mut response = Response::new(Body::Text(
        // Both Auth0's answer and ours are JSON text (checked when read), so this is lossless.
        String::from_utf8_lossy(&body).into_owned(),
    ));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", value);
    }
    if let Err(error) = &result {
        if matches!(error, BridgeError::MethodNotAllowed) {
            headers.insert(ALLOW, HeaderValue::from_static("POST"));
        }
        if let Some(seconds) = error.retry_after() {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
    }
    response
}

/// Rejects, before `lambda_http` decodes it, a base64 body that is not valid base64 (400) or is
/// certainly over the limit once decoded (413, without decoding megabytes).
fn check_encoded_body(body: Option<&str>, is_base64: bool) -> Result<(), BridgeError> {
    let Some(body) = body else { return Ok(()) };
    if !is_base64 {
        return if body.len() > MAX_BODY_BYTES {
            Err(BridgeError::BodyTooLarge)
        } else {
            Ok(())
        };
    }
    if body.len() > MAX_BASE64_BODY_CHARS {
        return Err(BridgeError::BodyTooLarge);
    }
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map(|_| ())
        .map_err(|_| BridgeError::InvalidRequest("body is marked base64 but is not valid base64"))
}

/// The request rules of the contract: POST, at most 8 KiB, a JSON object with a non-empty
/// `token` string of at most 4096 bytes.
fn read_token(request: &Request) -> Result<AuthsignalToken, BridgeError> {
    if request.method() != Method::POST {
        return Err(BridgeError::MethodNotAllowed);
    }
    let body: &[u8] = match request.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if body.len() > MAX_BODY_BYTES {
        return Err(BridgeError::BodyTooLarge);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BridgeError::InvalidRequest(
            "body is empty; send a JSON object with a token",
        ));
    }
    // serde_json stops at 128 levels of nesting, so hostile nesting is an error, not a crash.
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| BridgeError::InvalidRequest("body is not valid JSON"))?;
    let serde_json::Value::Object(mut object) = value else {
        return Err(BridgeError::InvalidRequest("body must be a JSON object"));
    };
    match object.remove("token") {
        None | Some(serde_json::Value::Null) => {
            Err(BridgeError::InvalidRequest("token is missing"))
        }
        Some(serde_json::Value::String(token)) if token.is_empty() => {
            Err(BridgeError::InvalidRequest("token must not be empty"))
        }
        Some(serde_json::Value::String(token)) if token.len() > MAX_TOKEN_BYTES => Err(
            BridgeError::InvalidRequest("token is longer than 4096 bytes"),
        ),
        Some(serde_json::Value::String(token)) => Ok(AuthsignalToken::new(token)),
        Some(_) => Err(BridgeError::InvalidRequest("token must be a string")),
    }
}

/// The caller's IP as API Gateway saw it (never a client-supplied header such as
/// `X-Forwarded-For`, which the caller controls).
fn client_ip(request: &Request) -> Option<IpAddr> {
    let source_ip = match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref(),
        RequestContext::ApiGatewayV1(context) => context.identity.source_ip.as_deref(),
        _ => None,
    };
    source_ip?.parse().ok()
}

fn deadline_of(context: Option<&Context>, upstream_timeout: Duration) -> Deadline {
    match context {
        Some(context) if context.deadline > 0 => {
            Deadline::from_lambda_deadline(context.deadline(), upstream_timeout)
        }
        _ => Deadline::after(BUDGET_WITHOUT_DEADLINE, upstream_timeout),
    }
}

fn to_gateway_response(is_rest: bool, response: Response<Body>) -> GatewayResponse {
    let (parts, body) = response.into_parts();
    let status_code = i64::from(parts.status.as_u16());
    if is_rest {
        let mut rest = ApiGatewayProxyResponse::default();
        rest.status_code = status_code;
        // REST APIs merge `headers` and `multiValueHeaders`; one of them avoids duplicates.
        rest.multi_value_headers = parts.headers;
        rest.headers = HeaderMap::new();
        rest.body = Some(body);
        GatewayResponse::Rest(rest)
    } else {
        let mut http = ApiGatewayV2httpResponse::default();
        http.status_code = status_code;
        http.headers = parts.headers;
        http.body = Some(body);
        GatewayResponse::Http(http)
    }
}

/// One line per invocation. Never the token, the secrets or Auth0's tokens: only the outcome,
/// timings, and Authsignal's user id (an identifier, which operators need to follow a user).
fn log_summary(
    result: &Result<TokenResponse, BridgeError>,
    trace: &ExchangeTrace,
    cold_start: bool,
) {
    let (outcome, status, detail) = match result {
        Ok(_) => ("success", 200, None),
        Err(error) => (
            error.outcome(),
            error.status().as_u16(),
            Some(error.log_detail()),
        ),
    };
    let millis = |latency: Option<Duration>| latency.map(|latency| latency.as_secs_f64() * 1000.0);
    macro_rules! summary {
        ($level:expr) => {
            tracing::event!(
                $level,
                outcome,
                status,
                authsignal_ms = millis(trace.authsignal_latency),
                auth0_ms = millis(trace.auth0_latency),
                cold_start,
                user_id = trace.user_id.as_deref(),
                credentials_refreshed = trace.credentials_refreshed,
                detail = detail.as_deref(),
                "exchange finished"
            )
        };
    }
    match status {
        500.. if status != 502 && status != 504 => summary!(tracing::Level::ERROR),
        502 | 504 => summary!(tracing::Level::WARN),
        _ => summary!(tracing::Level::INFO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_base64_body_is_a_bad_request() {
        let error = check_encoded_body(Some("eyJ0b2tlbiI6!!!"), true).unwrap_err();
        assert_eq!(error.status(), 400);
        assert!(check_encoded_body(Some("eyJ0b2tlbiI6InQifQ=="), true).is_ok());
        // Not marked base64: any text is left to the JSON rules.
        assert!(check_encoded_body(Some("!!!"), false).is_ok());
    }

    #[test]
    fn an_encoded_body_is_limited_by_its_decoded_size() {
        let at_limit = base64::engine::general_purpose::STANDARD.encode(vec![b' '; MAX_BODY_BYTES]);
        assert!(check_encoded_body(Some(&at_limit), true).is_ok());
        // 3 more bytes need 4 more characters: certainly over, rejected without decoding. (One
        // byte over can share the limit's length; `read_token` catches it after decoding.)
        let over = base64::engine::general_purpose::STANDARD.encode(vec![b' '; MAX_BODY_BYTES + 3]);
        assert_eq!(
            check_encoded_body(Some(&over), true).unwrap_err().status(),
            413
        );
        let plain_over = " ".repeat(MAX_BODY_BYTES + 1);
        assert_eq!(
            check_encoded_body(Some(&plain_over), false)
                .unwrap_err()
                .status(),
            413
        );
    }
}
