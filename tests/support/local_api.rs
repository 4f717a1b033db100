//! `cargo run --example local-api -- [--port N] [--binary PATH]`: the real `bootstrap` binary
//! served over HTTP on loopback, the way API Gateway's HTTP API serves it: each HTTP request
//! becomes a payload 2.0 event handed to the function through the project's Lambda Runtime API
//! double (`runtime_api.rs`), and the function's answer becomes the HTTP response.
//!
//! For tools that speak HTTP rather than Lambda events: the API conformance run (schemathesis
//! against `openapi.yaml`) and the OAuth client library test in `tests/http/`. The function gets
//! this process's environment (its settings, the stand-ins' URLs, moto's endpoint); the binary
//! is `target/debug/bootstrap` unless `--binary` names another build. Prints
//! `listening on http://127.0.0.1:PORT` once the function has finished its init.
//!
//! Like API Gateway, it base64-encodes bodies that are not JSON or text (forms included), takes
//! the caller's IP from the connection, and answers 502 `{"message":"Internal Server Error"}`
//! when the function reports an invocation error. It serves one request at a time, as one
//! execution environment does.

#[path = "mod.rs"]
mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use support::runtime_api::{Function, Outcome, Output, RuntimeApi};
use tokio::sync::Mutex;

/// What the function may take per request, as the SAM template's 27 s timeout gives it.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(27);

struct Gateway {
    runtime: Mutex<RuntimeApi>,
    next_request: std::sync::atomic::AtomicU64,
}

#[tokio::main]
async fn main() {
    let mut port = 0u16;
    let mut binary = format!("{}/target/debug/bootstrap", env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--port", Some(value)) => port = value.parse().expect("--port takes a number"),
            ("--binary", Some(value)) => binary = value,
            _ => {
                eprintln!("usage: local-api [--port N] [--binary PATH]");
                std::process::exit(2);
            }
        }
    }
    let runtime = RuntimeApi::start().await;
    let environment: Vec<(String, String)> = std::env::vars().collect();
    // Kept alive until the process ends; the function is killed when this is dropped.
    let _function = Function::start_with_output(&binary, &runtime, &environment, Output::ToStderr);
    runtime.first_poll().await;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("a free port");
    let address = listener.local_addr().unwrap();
    println!("listening on http://{address}");
    let gateway = Arc::new(Gateway {
        runtime: Mutex::new(runtime),
        next_request: std::sync::atomic::AtomicU64::new(1),
    });
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let gateway = gateway.clone();
                async move { Ok::<_, Infallible>(gateway.serve(request, peer).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

impl Gateway {
    async fn serve(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let number = self
            .next_request
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        let event = http_api_event(&parts, &body, peer, number);
        let outcome = self
            .runtime
            .lock()
            .await
            .invoke(&event, FUNCTION_TIMEOUT)
            .await;
        match outcome {
            Outcome::Response(answer) => http_response(&answer),
            // What API Gateway answers when the function fails.
            _ => Response::builder()
                .status(502)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(
                    br#"{"message":"Internal Server Error"}"#,
                )))
                .unwrap(),
        }
    }
}

/// The HTTP API (payload 2.0) event for one request.
fn http_api_event(
    parts: &hyper::http::request::Parts,
    body: &[u8],
    peer: SocketAddr,
    number: u64,
) -> Value {
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        // API Gateway joins repeated headers with commas.
        match headers.get_mut(name.as_str()) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let content_type = parts
        .headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let textual = content_type.starts_with("application/json") || content_type.starts_with("text/");
    let (body, is_base64_encoded) = match std::str::from_utf8(body) {
        Ok(text) if textual => (text.to_owned(), false),
        _ => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let path = parts.uri.path();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": parts.uri.query().unwrap_or_default(),
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": headers.get("user-agent").cloned().unwrap_or(Value::String(String::new())),
            },
            "requestId": format!("local-{number:08}"),
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": now.as_millis() as u64,
        },
        "isBase64Encoded": is_base64_encoded,
    });
    if !body.is_empty() {
        event["body"] = Value::String(body);
    }
    event
}

/// The function's payload 2.0 answer as an HTTP response.
fn http_response(answer: &Value) -> Response<Full<Bytes>> {
    let mut response =
        Response::builder().status(answer["statusCode"].as_u64().unwrap_or(502) as u16);
    for (name, value) in answer["headers"].as_object().into_iter().flatten() {
        if let Some(value) = value.as_str() {
            response = response.header(name.as_str(), value);
        }
    }
    let body = answer["body"].as_str().unwrap_or_default();
    let body = if answer["isBase64Encoded"] == true {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_default()
    } else {
        body.as_bytes().to_vec()
    };
    response.body(Full::new(Bytes::from(body))).unwrap()
}
