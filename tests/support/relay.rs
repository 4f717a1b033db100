//! An HTTP relay in front of DynamoDB that passes every request on and, for the first `lose`
//! `PutItem`s, replaces the upstream's answer with a 500: the write landed, its answer was lost
//! on the way back, and the client's SDK retries. What a real network does now and then, and
//! what the replay record's `owner` (and the release after an uncertain write) exists for.
//! Optionally, every later `PutItem` is not passed on but throttled (the SDK's retries meet
//! DynamoDB's throttling). Other requests (the release's `DeleteItem`) get their real answers.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// DynamoDB's answer for an internal error, which its SDKs retry.
const LOST_ANSWER: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#;
/// DynamoDB's answer when it throttles a table.
const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Throughput exceeds the current capacity of your table"}"#;

pub struct AnswerLosingRelay {
    pub url: String,
    /// `PutItem`s passed on so far.
    pub forwarded: Arc<AtomicUsize>,
}

impl AnswerLosingRelay {
    pub async fn start(upstream: &str, lose: usize) -> AnswerLosingRelay {
        AnswerLosingRelay::start_with(upstream, lose, false).await
    }

    /// Loses the answers of the first `lose` `PutItem`s, then throttles every later one.
    pub async fn start_then_throttling(upstream: &str, lose: usize) -> AnswerLosingRelay {
        AnswerLosingRelay::start_with(upstream, lose, true).await
    }

    async fn start_with(upstream: &str, lose: usize, throttle_after: bool) -> AnswerLosingRelay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let forwarded = Arc::new(AtomicUsize::new(0));
        let state = (
            upstream.to_owned(),
            forwarded.clone(),
            reqwest::Client::new(),
        );
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let (upstream, forwarded, client) = state.clone();
                        async move {
                            Ok::<_, Infallible>(
                                relay(
                                    request,
                                    &upstream,
                                    &forwarded,
                                    &client,
                                    lose,
                                    throttle_after,
                                )
                                .await,
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        AnswerLosingRelay { url, forwarded }
    }
}

async fn relay(
    request: Request<Incoming>,
    upstream: &str,
    forwarded: &AtomicUsize,
    client: &reqwest::Client,
    lose: usize,
    throttle_after: bool,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = client.request(parts.method.clone(), format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        if name != hyper::header::HOST && name != hyper::header::CONTENT_LENGTH {
            outgoing = outgoing.header(name, value);
        }
    }
    let is_put_item = parts
        .headers
        .get("x-amz-target")
        .is_some_and(|target| target.as_bytes().ends_with(b".PutItem"));
    if is_put_item && throttle_after && forwarded.load(Ordering::SeqCst) >= lose {
        return Response::builder()
            .status(400)
            .header("content-type", "application/x-amz-json-1.0")
            .body(Full::new(Bytes::from_static(THROTTLED.as_bytes())))
            .unwrap();
    }
    let answer = outgoing.body(body).send().await.expect("upstream answers");
    let number = if is_put_item {
        forwarded.fetch_add(1, Ordering::SeqCst)
    } else {
        usize::MAX
    };
    if number < lose {
        return Response::builder()
            .status(500)
            .header("content-type", "application/x-amz-json-1.0")
            .body(Full::new(Bytes::from_static(LOST_ANSWER.as_bytes())))
            .unwrap();
    }
    let mut response = Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        if name != reqwest::header::CONTENT_LENGTH && name != reqwest::header::TRANSFER_ENCODING {
            response = response.header(name.as_str(), value.as_bytes());
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    response.body(Full::new(bytes)).unwrap()
}
