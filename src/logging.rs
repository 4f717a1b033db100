//! The log subscriber: what `lambda_runtime`'s default one does (`AWS_LAMBDA_LOG_FORMAT=JSON`,
//! level from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO), with two differences:
//! - JSON events are flattened, so the summary line's fields are top-level keys that CloudWatch
//!   Logs Insights can query directly;
//! - only this crate follows the level below INFO. Every other crate (hyper, rustls, the AWS
//!   SDK, lambda_runtime, ...) stays at INFO or above, because at DEBUG/TRACE they log raw
//!   events and wire data (lambda_runtime logs the whole event, token included, at TRACE), and
//!   docs/behaviour.md forbids the token and the secrets "at any level". An allow-list, so a new
//!   dependency cannot start leaking at TRACE.

use tracing_subscriber::filter::{EnvFilter, LevelFilter};

/// The targets of this package (library and binary) that may log below INFO.
const OWN_TARGETS: &[&str] = &["authsignal_auth0_bridge", "bootstrap"];

/// Lambda's log levels (a function's `ApplicationLogLevel`), lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl LogLevel {
    const ALL: [LogLevel; 6] = [
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
        LogLevel::Fatal,
    ];

    /// The function's configured level: `AWS_LAMBDA_LOG_LEVEL` (what Lambda sets from
    /// `ApplicationLogLevel`, and filters by), else `RUST_LOG` (as one level), else INFO; an
    /// unknown value is INFO.
    pub fn configured(lookup: impl Fn(&str) -> Option<String>) -> LogLevel {
        let value = lookup("AWS_LAMBDA_LOG_LEVEL").or_else(|| lookup("RUST_LOG"));
        LogLevel::parse(value.as_deref())
    }

    /// A level's name, in any case; anything else (or nothing) is INFO.
    pub fn parse(value: Option<&str>) -> LogLevel {
        let Some(value) = value.map(str::trim) else {
            return LogLevel::Info;
        };
        LogLevel::ALL
            .into_iter()
            .find(|level| level.label().eq_ignore_ascii_case(value))
            .unwrap_or(LogLevel::Info)
    }

    /// The level as Lambda writes it in a JSON log line's `level`.
    pub fn label(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
            LogLevel::Fatal => "FATAL",
        }
    }

    /// The tracing filter: Lambda's `FATAL` has no tracing equivalent and is read as ERROR (not
    /// as the INFO an unknown value would give).
    fn filter(self) -> LevelFilter {
        match self {
            LogLevel::Trace => LevelFilter::TRACE,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Error | LogLevel::Fatal => LevelFilter::ERROR,
        }
    }
}

pub fn init() {
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").unwrap_or_default();
    let level = LogLevel::configured(|name| std::env::var(name).ok()).filter();
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
            assert_eq!(LogLevel::parse(value).filter(), level, "{value:?}");
        }
    }
}
