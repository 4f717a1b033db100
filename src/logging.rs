//! The log subscriber: what `lambda_runtime`'s default one does (`AWS_LAMBDA_LOG_FORMAT=JSON`,
//! level from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO), with two differences:
//! - JSON events are flattened, so the summary line's fields are top-level keys that CloudWatch
//!   Logs Insights can query directly;
//! - only this crate follows the level below INFO. Every other crate (hyper, rustls, the AWS
//!   SDK, lambda_runtime, ...) stays at INFO or above, because at DEBUG/TRACE they log raw
//!   events and wire data (lambda_runtime logs the whole event, token included, at TRACE), and
//!   docs/behaviour.md forbids the token and the secrets "at any level". An allow-list, so a new
//!   dependency cannot start leaking at TRACE.

use std::str::FromStr;

use tracing_subscriber::filter::{EnvFilter, LevelFilter};

/// The targets of this package (library and binary) that may log below INFO.
const OWN_TARGETS: &[&str] = &["authsignal_auth0_bridge", "bootstrap"];

/// The level from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO. Lambda's `FATAL` has no
/// tracing equivalent and is read as ERROR (not as the INFO an unknown value would give).
pub fn level_from(value: Option<&str>) -> LevelFilter {
    match value.map(str::trim) {
        Some(value) if value.eq_ignore_ascii_case("fatal") => LevelFilter::ERROR,
        Some(value) => LevelFilter::from_str(value).unwrap_or(LevelFilter::INFO),
        None => LevelFilter::INFO,
    }
}

pub fn init() {
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").unwrap_or_default();
    let configured = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let level = level_from(configured.as_deref());
    let mut filter = EnvFilter::builder()
        .with_default_directive(level.min(LevelFilter::INFO).into())
        .parse_lossy("");
    for target in OWN_TARGETS {
        if let Ok(directive) = format!("{target}={level}").parse() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_log_levels_are_understood() {
        for (value, level) in [
            (Some("TRACE"), LevelFilter::TRACE),
            (Some("debug"), LevelFilter::DEBUG),
            (Some("INFO"), LevelFilter::INFO),
            (Some("WARN"), LevelFilter::WARN),
            (Some("ERROR"), LevelFilter::ERROR),
            (Some("FATAL"), LevelFilter::ERROR),
            (Some("nonsense"), LevelFilter::INFO),
            (None, LevelFilter::INFO),
        ] {
            assert_eq!(level_from(value), level, "{value:?}");
        }
    }
}
