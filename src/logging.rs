//! The log subscriber: what `lambda_runtime`'s default one does (`AWS_LAMBDA_LOG_FORMAT=JSON`,
//! level from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO), with two differences:
//! JSON events are flattened, so the summary line's fields are top-level keys that CloudWatch
//! Logs Insights can query directly; and other crates are capped at DEBUG, because at TRACE the
//! HTTP and AWS stacks log wire-level detail, and the contract forbids secrets "at any level".

use std::str::FromStr;

use tracing_subscriber::filter::{EnvFilter, LevelFilter};

/// Crates whose TRACE output may include request or response bytes.
const WIRE_LEVEL_CRATES: &[&str] = &[
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "aws_smithy_runtime",
    "aws_smithy_http_client",
    "aws_smithy_runtime_api",
    "aws_sdk_secretsmanager",
    "aws_config",
    "aws_runtime",
    // lambda_runtime logs the raw event, token included, at TRACE.
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
];

pub fn init() {
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").unwrap_or_default();
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| LevelFilter::from_str(&level).ok())
        .unwrap_or(LevelFilter::INFO);
    let mut filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .parse_lossy("");
    for name in WIRE_LEVEL_CRATES {
        let capped = level.min(LevelFilter::DEBUG);
        if let Ok(directive) = format!("{name}={capped}").parse() {
            filter = filter.add_directive(directive);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    if format.eq_ignore_ascii_case("json") {
        builder
            .json()
            .flatten_event(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
}
