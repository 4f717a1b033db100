//! The HTTP edge: API Gateway (HTTP API 2.0, REST API 1.0) and function URL events in, the
//! answers of docs/behaviour.md out. The only module that sees `lambda_http` types; the request rules
//! themselves (route, method, size, encodings, fields) are in [`crate::edge::request`].
//!
//! The runtime hands us the raw event, deserialised by `lambda_http` into its `LambdaRequest`
//! (an event that is not an HTTP event at all fails there, before our code runs). We read the
//! things the bridge needs (path, method, content type, body, base64 flag, source IP) straight
//! from it and do not build an `http::Request` with `lambda_http`'s conversion: that conversion
//! `expect`s a valid base64 body, a query string `http` accepts and a parseable `Host` header,
//! so a request like `POST /token?a="` would panic and become a Lambda invocation error, where
//! every API Gateway event must get an answer (docs/behaviour.md).

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use lambda_http::http::header::{
    HeaderName, HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, USER_AGENT,
};
use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Context, LambdaEvent, Response};
use serde::Serialize;

use crate::budget::Deadline;
use crate::edge::request::{self, DpopHeader, Endpoint, RawRequest};
use crate::error::BridgeError;
use crate::flow::bridge::Bridge;
use crate::flow::operation::{Invocation, OperationKind, Success};
use crate::settings::DpopPolicy;
use crate::telemetry::{InvocationRecord, InvocationTrace, Telemetry};
use crate::tokens::TokenResponse;

/// Time budget when an event carries no Lambda deadline (direct handler calls in tests).
const BUDGET_WITHOUT_DEADLINE: Duration = Duration::from_secs(30);

/// Everything an invocation needs, built once per execution environment.
pub struct Handler {
    /// The bridge, or `Misconfigured` when a setting was invalid at start-up (already logged):
    /// the function then answers every request with the configuration 500 instead of crash-looping.
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
    /// The path as the caller sent it (with a REST API's stage or a custom base path, if any).
    path: Option<&'a str>,
    raw: RawRequest<'a>,
    /// The caller's IP as API Gateway saw it (never a client-supplied header such as
    /// `X-Forwarded-For`, which the caller controls).
    source_ip: Option<&'a str>,
}

impl<'a> IncomingRequest<'a> {
    fn from_event(event: &'a LambdaRequest) -> Option<Self> {
        match event {
            LambdaRequest::ApiGatewayV1(event) => Some(IncomingRequest {
                is_rest: true,
                path: event.path.as_deref(),
                raw: RawRequest {
                    method: &event.http_method,
                    content_type: content_type(&event.headers)
                        .or_else(|| content_type(&event.multi_value_headers)),
                    body: event.body.as_deref(),
                    is_base64_encoded: event.is_base64_encoded,
                    // REST APIs keep every value of a repeated header in multiValueHeaders.
                    dpop: if event.multi_value_headers.is_empty() {
                        dpop_header(&event.headers)
                    } else {
                        dpop_header(&event.multi_value_headers)
                    },
                    user_agent: text_header(&event.headers, USER_AGENT)
                        .or_else(|| text_header(&event.multi_value_headers, USER_AGENT)),
                },
                source_ip: event.request_context.identity.source_ip.as_deref(),
            }),
            LambdaRequest::ApiGatewayV2(event) => Some(IncomingRequest {
                is_rest: false,
                path: event
                    .raw_path
                    .as_deref()
                    .or(event.request_context.http.path.as_deref()),
                raw: RawRequest {
                    method: &event.request_context.http.method,
                    content_type: content_type(&event.headers),
                    body: event.body.as_deref(),
                    is_base64_encoded: event.is_base64_encoded,
                    // HTTP APIs and function URLs join a repeated header's values with commas.
                    dpop: dpop_header(&event.headers),
                    user_agent: text_header(&event.headers, USER_AGENT),
                },
                source_ip: event.request_context.http.source_ip.as_deref(),
            }),
            // Only the two features above are compiled in; the enum is non-exhaustive.
            _ => None,
        }
    }
}

/// The `DPoP` header(s) of a request.
fn dpop_header(headers: &HeaderMap) -> DpopHeader<'_> {
    let mut values = headers.get_all("dpop").iter();
    match (values.next(), values.next()) {
        (None, _) => DpopHeader::Absent,
        (Some(value), None) => value
            .to_str()
            .map_or(DpopHeader::Unreadable, DpopHeader::One),
        (Some(_), Some(_)) => DpopHeader::Unreadable,
    }
}

/// The `Content-Type` header, when it is readable text.
fn content_type(headers: &HeaderMap) -> Option<&str> {
    text_header(headers, CONTENT_TYPE)
}

/// A header's value, when it is readable text.
fn text_header(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name)?.to_str().ok()
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

    /// Whether sign-up is on (`SIGN_UP=email`).
    fn signs_up(&self) -> bool {
        self.bridge.as_ref().is_ok_and(Bridge::signs_up)
    }

    /// Whether sign-ins and refreshes must carry a DPoP proof (`DPOP`).
    fn dpop_policy(&self) -> DpopPolicy {
        self.bridge
            .as_ref()
            .map_or(DpopPolicy::Optional, Bridge::dpop_policy)
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
        let invocation = Invocation {
            request_id: &context.request_id,
            client_ip: request.source_ip.and_then(|ip| ip.parse::<IpAddr>().ok()),
            deadline: deadline_of(&context, self.upstream_timeout),
        };
        let mut trace = InvocationTrace::default();
        // The request rules run first, but a misconfigured function answers every request
        // with its 500 (the order docs/configuration.md gives: configuration, then the request).
        // Without sign-up, its endpoint does not exist (as API Gateway has no route for it).
        let endpoint = Endpoint::from_path(request.path)
            .filter(|endpoint| *endpoint != Endpoint::SignUp || self.signs_up());
        let operation = endpoint
            .ok_or(BridgeError::UnknownEndpoint)
            .and_then(|endpoint| request::decode(endpoint, request.raw, self.dpop_policy()));
        let operation_kind = match &operation {
            Ok(operation) => Some(operation.kind()),
            Err(_) => endpoint.and_then(Endpoint::only_operation),
        };
        let result = match (&self.bridge, operation) {
            (Err(_), _) => Err(BridgeError::Misconfigured),
            (Ok(_), Err(error)) => Err(error),
            (Ok(bridge), Ok(operation)) => {
                bridge.perform(&operation, &invocation, &mut trace).await
            }
        };
        let (outcome, status, detail) = match &result {
            Ok(success) => (success.outcome(), 200, success.log_detail()),
            Err(error) => (
                error.outcome(),
                error.status().as_u16(),
                Some(error.log_detail()),
            ),
        };
        self.telemetry.record(&InvocationRecord {
            operation: operation_kind.map(OperationKind::label),
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

/// The answer (docs/behaviour.md, Answers): headers on every response, Auth0's bytes or the error body.
fn respond(request_id: &str, result: Result<Success, BridgeError>) -> Response<Body> {
    let (status, body) = match &result {
        Ok(Success::Tokens(TokenResponse { body, .. })) => (StatusCode::OK, body.clone()),
        // RFC 7009 section 2.2: the content of a revocation's answer is ignored by clients;
        // `{}` keeps every answer a JSON object.
        Ok(Success::Revoked | Success::NothingToRevoke { .. }) => {
            (StatusCode::OK, Bytes::from_static(b"{}"))
        }
        Ok(Success::SignUpStarted(token)) => (
            StatusCode::OK,
            Bytes::from(serde_json::json!({ "token": token.expose() }).to_string()),
        ),
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
    // Auth0's nonce for the app's next DPoP proof (RFC 9449 section 8), on success or error.
    let dpop_nonce = match &result {
        Ok(Success::Tokens(tokens)) => tokens.dpop_nonce.as_deref(),
        Err(error) => error.dpop_nonce(),
        _ => None,
    };
    if let Some(value) = dpop_nonce.and_then(|nonce| HeaderValue::from_str(nonce).ok()) {
        headers.insert("dpop-nonce", value);
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
}
