//! The HTTP edge: API Gateway (HTTP API 2.0, REST API 1.0) and function URL events in, the
//! contract's answers out. The only module that sees `lambda_http` types.
//!
//! The runtime hands us the raw event, deserialised by `lambda_http` into its `LambdaRequest`
//! (an event that is not an HTTP event at all fails there, before our code runs). We read the
//! four things the bridge needs (method, body, base64 flag, source IP) straight from it and do
//! not build an `http::Request` with `lambda_http`'s conversion: that conversion `expect`s a
//! valid base64 body, a query string `http` accepts and a parseable `Host` header, so a request
//! like `POST /token?a="` would panic and become a Lambda invocation error, where the contract
//! wants an answer for every API Gateway event.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use lambda_http::http::header::{
    HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER,
};
use lambda_http::http::{HeaderMap, Method, StatusCode};
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Context, LambdaEvent, Response};
use serde::Serialize;

use crate::auth0::TokenResponse;
use crate::bridge::{AuthsignalToken, Bridge, ExchangeTrace};
use crate::budget::Deadline;
use crate::error::BridgeError;
use crate::telemetry::{InvocationRecord, Telemetry};

/// The contract's body limit, measured after base64 decoding.
pub const MAX_BODY_BYTES: usize = 8 * 1024;
/// The contract's token limit.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// Longest base64 text that can decode to at most [`MAX_BODY_BYTES`] (4 chars per 3 bytes):
/// anything longer is refused without decoding it.
const MAX_BASE64_BODY_CHARS: usize = MAX_BODY_BYTES.div_ceil(3) * 4;
/// Time budget when an event carries no Lambda deadline (direct handler calls in tests).
const BUDGET_WITHOUT_DEADLINE: Duration = Duration::from_secs(30);

/// Everything an invocation needs, built once per execution environment.
pub struct Handler {
    /// The bridge, or `Misconfigured` when a setting was invalid at start-up (already logged):
    /// the function then answers every request with the contract's 500 instead of crash-looping.
    bridge: Result<Bridge, BridgeError>,
    upstream_timeout: Duration,
    telemetry: Telemetry,
    cold_start: AtomicBool,
}

/// What the bridge reads of an API Gateway or function URL event.
#[derive(Clone, Copy)]
struct IncomingRequest<'a> {
    /// REST API (payload 1.0) events want their answer in the 1.0 format.
    is_rest: bool,
    method: &'a Method,
    body: Option<&'a str>,
    is_base64_encoded: bool,
    /// The caller's IP as API Gateway saw it (never a client-supplied header such as
    /// `X-Forwarded-For`, which the caller controls).
    source_ip: Option<&'a str>,
}

impl<'a> IncomingRequest<'a> {
    fn from_event(event: &'a LambdaRequest) -> Option<Self> {
        match event {
            LambdaRequest::ApiGatewayV1(event) => Some(IncomingRequest {
                is_rest: true,
                method: &event.http_method,
                body: event.body.as_deref(),
                is_base64_encoded: event.is_base64_encoded,
                source_ip: event.request_context.identity.source_ip.as_deref(),
            }),
            LambdaRequest::ApiGatewayV2(event) => Some(IncomingRequest {
                is_rest: false,
                method: &event.request_context.http.method,
                body: event.body.as_deref(),
                is_base64_encoded: event.is_base64_encoded,
                source_ip: event.request_context.http.source_ip.as_deref(),
            }),
            // Only the two features above are compiled in; the enum is non-exhaustive.
            _ => None,
        }
    }
}

/// The answer in the format the event source expects. (No `Debug`: it holds Auth0's tokens.)
#[derive(Serialize)]
#[serde(untagged)]
pub enum GatewayResponse {
    /// REST API (payload 1.0): headers go in `multiValueHeaders`.
    Rest(ApiGatewayProxyResponse),
    /// HTTP API and function URL (payload 2.0).
    Http(ApiGatewayV2httpResponse),
}

impl Handler {
    pub fn new(bridge: Bridge, upstream_timeout: Duration, telemetry: Telemetry) -> Self {
        Handler {
            bridge: Ok(bridge),
            upstream_timeout,
            telemetry,
            cold_start: AtomicBool::new(true),
        }
    }

    /// A handler for a function whose settings are invalid: every request gets a 500.
    pub fn misconfigured(telemetry: Telemetry) -> Self {
        Handler {
            bridge: Err(BridgeError::Misconfigured),
            upstream_timeout: Duration::ZERO,
            telemetry,
            cold_start: AtomicBool::new(true),
        }
    }

    /// Reads the credentials and opens the upstream connections during init (see
    /// `Bridge::warm_up`), within `budget`.
    pub async fn warm_up(&self, budget: Duration) {
        if let Ok(bridge) = &self.bridge {
            bridge
                .warm_up(&Deadline::after(budget, self.upstream_timeout))
                .await;
        }
    }

    /// Answers one API Gateway / function URL event: the entry point for the Lambda runtime, and
    /// what the handler tests call with the `events/` fixtures.
    pub async fn handle_event(
        &self,
        event: LambdaEvent<LambdaRequest>,
    ) -> Result<GatewayResponse, lambda_http::Error> {
        let LambdaEvent { payload, context } = event;
        let Some(request) = IncomingRequest::from_event(&payload) else {
            return Err("not an API Gateway or function URL event".into());
        };
        let deadline = deadline_of(&context, self.upstream_timeout);
        let mut trace = ExchangeTrace::default();
        let result = match &self.bridge {
            Err(_) => Err(BridgeError::Misconfigured),
            Ok(bridge) => match read_token(request) {
                Err(error) => Err(error),
                Ok(token) => {
                    let client_ip = request.source_ip.and_then(|ip| ip.parse::<IpAddr>().ok());
                    bridge
                        .exchange(&token, client_ip, &deadline, &mut trace)
                        .await
                }
            },
        };
        let (outcome, status, detail) = match &result {
            Ok(_) => ("success", 200, None),
            Err(error) => (
                error.outcome(),
                error.status().as_u16(),
                Some(error.log_detail()),
            ),
        };
        self.telemetry.record(&InvocationRecord {
            outcome,
            status,
            detail,
            trace: &trace,
            cold_start: self.cold_start.swap(false, Ordering::Relaxed),
            request_id: &context.request_id,
            xray_trace_id: context.xray_trace_id.as_deref(),
        });
        let response = respond(&context.request_id, result);
        Ok(to_gateway_response(request.is_rest, response))
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

/// The request rules of the contract, in order: POST; at most 8 KiB after base64 decoding; a
/// JSON object with a non-empty `token` string of at most 4096 bytes.
fn read_token(request: IncomingRequest<'_>) -> Result<AuthsignalToken, BridgeError> {
    if *request.method != Method::POST {
        return Err(BridgeError::MethodNotAllowed);
    }
    let raw = request.body.unwrap_or_default();
    let decoded;
    let body: &[u8] = if request.is_base64_encoded {
        if raw.len() > MAX_BASE64_BODY_CHARS {
            return Err(BridgeError::BodyTooLarge);
        }
        decoded = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| {
                BridgeError::InvalidRequest("body is marked base64 but is not valid base64")
            })?;
        &decoded
    } else {
        raw.as_bytes()
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

fn deadline_of(context: &Context, upstream_timeout: Duration) -> Deadline {
    Deadline::from_lambda_deadline_ms(context.deadline, upstream_timeout, BUDGET_WITHOUT_DEADLINE)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body: &str, is_base64_encoded: bool) -> IncomingRequest<'_> {
        IncomingRequest {
            is_rest: false,
            method: &Method::POST,
            body: Some(body),
            is_base64_encoded,
            source_ip: None,
        }
    }

    #[test]
    fn a_broken_base64_body_is_a_bad_request() {
        let error = read_token(post("eyJ0b2tlbiI6!!!", true)).unwrap_err();
        assert_eq!(error.status(), 400);
        assert!(read_token(post("eyJ0b2tlbiI6InQifQ==", true)).is_ok());
    }

    #[test]
    fn an_encoded_body_is_limited_by_its_decoded_size() {
        let encode = |size: usize| {
            let body = format!(r#"{{"token":"t"}}{}"#, " ".repeat(size - 13));
            base64::engine::general_purpose::STANDARD.encode(body)
        };
        assert!(read_token(post(&encode(MAX_BODY_BYTES), true)).is_ok());
        // One byte over can share the limit's encoded length: caught after decoding.
        let one_over = encode(MAX_BODY_BYTES + 1);
        assert_eq!(one_over.len(), MAX_BASE64_BODY_CHARS);
        assert_eq!(read_token(post(&one_over, true)).unwrap_err().status(), 413);
        // Longer texts are refused before decoding.
        let long = "A".repeat(MAX_BASE64_BODY_CHARS + 4);
        assert_eq!(read_token(post(&long, true)).unwrap_err().status(), 413);
    }

    #[test]
    fn deadlines_are_read_as_lambda_or_cargo_lambda_send_them() {
        let timeout = Duration::from_secs(5);
        let mut context = Context::default();
        let within = |deadline: Deadline, low: u64, high: u64| {
            let left = deadline.remaining();
            assert!(
                left > Duration::from_millis(low) && left <= Duration::from_millis(high),
                "{left:?}"
            );
        };
        // Lambda: wall-clock milliseconds since the epoch.
        let in_three_seconds = std::time::SystemTime::now() + Duration::from_secs(3);
        context.deadline = in_three_seconds
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        within(deadline_of(&context, timeout), 2_400, 2_500);
        // cargo-lambda's emulator: the function timeout in milliseconds.
        context.deadline = 600_000;
        within(deadline_of(&context, timeout), 599_400, 599_500);
        // No deadline at all (a hand-made context).
        context.deadline = 0;
        within(deadline_of(&context, timeout), 29_900, 30_000);
    }

    #[test]
    fn the_method_is_checked_before_the_body() {
        let huge = "x".repeat(MAX_BODY_BYTES + 1);
        let mut request = post(&huge, false);
        request.method = &Method::GET;
        assert_eq!(read_token(request).unwrap_err().status(), 405);
    }
}
