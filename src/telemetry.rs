//! What an operator sees of each invocation: one summary log line, with the field names Lambda
//! users know from Powertools (`cold_start`, `function_name`, `function_request_id`,
//! `xray_trace_id`), and one CloudWatch Embedded Metric Format (EMF) document on stdout.
//!
//! EMF is written directly rather than through a crate: it is one JSON object per invocation,
//! and `metrics_cloudwatch_embedded` would add the `metrics` facade and its registry to the
//! binary for that (see docs/operating.md).
//! Spec: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use tokio::time::Instant;

use crate::error::Upstream;
use crate::logging::LogLevel;

/// Default CloudWatch namespace of the metrics (`METRICS_NAMESPACE` overrides it).
pub const DEFAULT_NAMESPACE: &str = "AuthsignalAuth0Bridge";

/// Where metrics go and how they are labelled, read once at start-up.
#[derive(Debug, Clone)]
pub struct Telemetry {
    namespace: String,
    /// The `Service` dimension: one value per deployment (the stack), so staging and prod in
    /// one account stay apart. Never a per-request value.
    service: String,
    function_name: String,
    /// Off only for in-process tests, whose stdout the test harness does not capture.
    write_metrics: bool,
    /// The `level` of the metrics lines: the lowest level the function's log level lets
    /// through (see [`metrics_level`]).
    metrics_level: LogLevel,
}

/// The `Operation` label of a request refused before it named an operation (an unknown path, or
/// a token endpoint body that could not be read or named an unsupported grant).
pub const UNKNOWN_OPERATION: &str = "unknown";

/// Where an invocation spends its time waiting: one per upstream call the summary line and the
/// metrics time separately (the profile lookup apart from `/validate`, which it may overlap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    SecretsManager,
    /// Authsignal's `/validate`.
    Validate,
    /// Authsignal's `GET /users/{userId}`.
    ProfileLookup,
    /// The sign-up's calls to Authsignal (users by email, track).
    Enrolment,
    /// The replay record (write, and release when made).
    ReplayTable,
    Auth0,
}

impl Stage {
    /// Which service the stage waits on (for errors and WARN lines).
    pub fn upstream(self) -> Upstream {
        match self {
            Stage::SecretsManager => Upstream::SecretsManager,
            Stage::Validate | Stage::ProfileLookup | Stage::Enrolment => Upstream::Authsignal,
            Stage::ReplayTable => Upstream::DynamoDb,
            Stage::Auth0 => Upstream::Auth0,
        }
    }
}

/// When a sign-in's profile was looked up (`profile_lookup` in the summary line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileLookup {
    /// Alongside `/validate`, for the user the token names, and used: `/validate` confirmed
    /// that user.
    AlongsideValidate,
    /// After `/validate`: the token named no user the bridge could read.
    AfterValidate,
    /// After `/validate` again: the early lookup was for another user, or failed.
    RepeatedAfterValidate,
}

impl ProfileLookup {
    pub fn label(self) -> &'static str {
        match self {
            ProfileLookup::AlongsideValidate => "alongside_validate",
            ProfileLookup::AfterValidate => "after_validate",
            ProfileLookup::RepeatedAfterValidate => "repeated_after_validate",
        }
    }
}

/// What happened during one invocation, for the summary log line (success or not).
#[derive(Debug, Default, Clone)]
pub struct InvocationTrace {
    /// Time spent reading the secret (only when this invocation read it).
    pub secrets_manager_latency: Option<Duration>,
    /// Time spent on Authsignal's `/validate` (or, for a sign-up, its calls).
    pub authsignal_latency: Option<Duration>,
    /// Time spent on Authsignal's profile lookups (they may overlap `/validate`).
    pub profile_latency: Option<Duration>,
    pub auth0_latency: Option<Duration>,
    /// Time spent on the replay record (write, and release when made).
    pub dynamodb_latency: Option<Duration>,
    /// When the profile was looked up, on a sign-in that looked it up.
    pub profile_lookup: Option<ProfileLookup>,
    /// What became of the replay record: `written`, `released`, `not_ours` (a release found
    /// no record of this invocation), `release_failed`.
    pub replay_record: Option<&'static str>,
    /// Authsignal's user id once the token was validated (sign-in only).
    pub user_id: Option<String>,
    /// Whether this invocation re-read the secret after an upstream rejected the credentials.
    pub credentials_refreshed: bool,
    /// Whether this invocation already asked for a refresh: at most once per invocation (the
    /// cache also limits forced refreshes to one per 30 s per execution environment).
    pub refresh_requested: bool,
    /// Whether a DPoP proof went (or was to go) to Auth0 with the token call.
    pub dpop_forwarded: bool,
}

impl InvocationTrace {
    /// Adds the time since `started` to `stage`'s latency.
    pub fn add_latency(&mut self, stage: Stage, started: Instant) {
        self.add_elapsed(stage, started.elapsed());
    }

    pub fn add_elapsed(&mut self, stage: Stage, elapsed: Duration) {
        let total = match stage {
            Stage::Validate | Stage::Enrolment => &mut self.authsignal_latency,
            Stage::ProfileLookup => &mut self.profile_latency,
            Stage::Auth0 => &mut self.auth0_latency,
            Stage::SecretsManager => &mut self.secrets_manager_latency,
            Stage::ReplayTable => &mut self.dynamodb_latency,
        };
        *total = Some(total.unwrap_or_default() + elapsed);
    }
}

/// One invocation, as the summary line and the metrics describe it.
#[derive(Debug)]
pub struct InvocationRecord<'a> {
    /// The operation's label (`sign_in`, `refresh`, `revoke`), when the request said which.
    pub operation: Option<&'static str>,
    pub outcome: &'static str,
    pub status: u16,
    /// Which party failed and why (no secrets, no tokens), for failures.
    pub detail: Option<String>,
    pub trace: &'a InvocationTrace,
    pub cold_start: bool,
    pub request_id: &'a str,
    pub xray_trace_id: Option<&'a str>,
}

impl Telemetry {
    pub fn new(namespace: &str, service: &str, function_name: &str) -> Self {
        Telemetry {
            namespace: namespace.to_owned(),
            service: service.to_owned(),
            function_name: function_name.to_owned(),
            write_metrics: true,
            metrics_level: LogLevel::Info,
        }
    }

    /// The same, without writing metrics documents (for in-process tests; the end-to-end tests
    /// read them from the binary's stdout).
    pub fn without_metrics_output(mut self) -> Self {
        self.write_metrics = false;
        self
    }

    /// The same, for a function whose log level is `level`.
    pub fn with_log_level(mut self, level: LogLevel) -> Self {
        self.metrics_level = metrics_level(level);
        self
    }

    /// `METRICS_NAMESPACE` (default [`DEFAULT_NAMESPACE`]), `METRICS_SERVICE` (default the
    /// function name), `AWS_LAMBDA_FUNCTION_NAME`, and the log level.
    pub fn from_env() -> Self {
        let get = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
        };
        let function_name = get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
        Telemetry::new(
            &get("METRICS_NAMESPACE").unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
            &get("METRICS_SERVICE").unwrap_or_else(|| function_name.clone()),
            &function_name,
        )
        .with_log_level(LogLevel::configured(get))
    }

    /// Says once, at start-up, that a raised log level raised the metrics lines' level too
    /// (so alarms and searches on that level see them), at that level, so it is kept.
    pub fn report_metrics_level(&self) {
        if !self.write_metrics || self.metrics_level == LogLevel::Info {
            return;
        }
        let level = self.metrics_level.label();
        write_line(&json!({
            "level": level,
            "message": format!(
                "the log level is {level}: the metrics lines carry level {level} so that Lambda keeps them; \
                 searches and alarms on {level} lines should leave out lines with _aws"
            ),
        }));
    }

    /// Writes the summary line and the metrics of one invocation.
    pub fn record(&self, record: &InvocationRecord<'_>) {
        self.log_summary(record);
        if !self.write_metrics {
            return;
        }
        write_line(&self.metrics_document(record, SystemTime::now()));
    }

    /// The EMF document: `Exchanges` by `Outcome`, and the latencies, cold start and
    /// credentials refresh of this invocation (each declared only when it has a value, as the
    /// spec requires every declared metric to be present).
    pub fn metrics_document(&self, record: &InvocationRecord<'_>, now: SystemTime) -> Value {
        let (values, other_metrics) = measured(record);
        let timestamp = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        let mut document = Map::new();
        document.insert("level".into(), json!(self.metrics_level.label()));
        document.insert("message".into(), json!("metrics"));
        document.insert(
            "_aws".into(),
            json!({ "Timestamp": timestamp, "CloudWatchMetrics": self.directives(other_metrics) }),
        );
        document.insert("Service".into(), json!(self.service));
        document.insert("Operation".into(), json!(operation_label(record)));
        document.insert("Outcome".into(), json!(record.outcome));
        document.insert("Dpop".into(), json!(dpop_label(record.trace)));
        document.insert("Exchanges".into(), json!(1));
        document.extend(values);
        // Properties for Logs Insights, not dimensions (high cardinality).
        document.insert("function_request_id".into(), json!(record.request_id));
        if let Some(trace_id) = record.xray_trace_id {
            document.insert("xray_trace_id".into(), json!(trace_id));
        }
        Value::Object(document)
    }

    /// The EMF directives: `Exchanges` always, the other metrics when there are any. Each
    /// metric is published per service and, so that an operator can tell a failing refresh
    /// from a failing sign-in, per service and operation too.
    fn directives(&self, other_metrics: Vec<Value>) -> Vec<Value> {
        let mut directives = vec![json!({
            "Namespace": self.namespace,
            "Dimensions": [
                ["Service", "Outcome"],
                ["Service", "Operation", "Outcome"],
                ["Service", "Operation", "Dpop"]
            ],
            "Metrics": [{ "Name": "Exchanges", "Unit": "Count" }],
        })];
        if !other_metrics.is_empty() {
            directives.push(json!({
                "Namespace": self.namespace,
                "Dimensions": [["Service"], ["Service", "Operation"]],
                "Metrics": other_metrics,
            }));
        }
        directives
    }

    /// One line per invocation, at INFO (success, 4xx), WARN (502/503/504: an upstream, which
    /// passes) or ERROR (500: our configuration, which someone must fix).
    fn log_summary(&self, record: &InvocationRecord<'_>) {
        let trace = record.trace;
        macro_rules! summary {
            ($level:expr) => {
                tracing::event!(
                    $level,
                    operation = operation_label(record),
                    outcome = record.outcome,
                    status = record.status,
                    secrets_manager_ms = trace.secrets_manager_latency.map(millis),
                    authsignal_ms = trace.authsignal_latency.map(millis),
                    profile_ms = trace.profile_latency.map(millis),
                    profile_lookup = trace.profile_lookup.map(ProfileLookup::label),
                    auth0_ms = trace.auth0_latency.map(millis),
                    dynamodb_ms = trace.dynamodb_latency.map(millis),
                    replay_record = trace.replay_record,
                    cold_start = record.cold_start,
                    user_id = trace.user_id.as_deref(),
                    credentials_refreshed = trace.credentials_refreshed,
                    dpop = dpop_label(trace),
                    detail = record.detail.as_deref(),
                    function_name = self.function_name.as_str(),
                    function_request_id = record.request_id,
                    xray_trace_id = record.xray_trace_id,
                    "exchange finished"
                )
            };
        }
        match record.status {
            500 | 501 | 505.. => summary!(tracing::Level::ERROR),
            502..=504 => summary!(tracing::Level::WARN),
            _ => summary!(tracing::Level::INFO),
        }
    }
}

fn operation_label(record: &InvocationRecord<'_>) -> &'static str {
    record.operation.unwrap_or(UNKNOWN_OPERATION)
}

/// Whether the request's DPoP proof was forwarded to Auth0 (never the proof itself).
fn dpop_label(trace: &InvocationTrace) -> &'static str {
    if trace.dpop_forwarded {
        "forwarded"
    } else {
        "none"
    }
}

/// The metrics this invocation has a value for, and their declarations.
fn measured(record: &InvocationRecord<'_>) -> (Map<String, Value>, Vec<Value>) {
    let mut values = Map::new();
    let mut declared = Vec::new();
    let mut add = |name: &str, unit: &str, value: f64| {
        values.insert(name.to_owned(), json!(value));
        declared.push(json!({ "Name": name, "Unit": unit }));
    };
    let trace = record.trace;
    for (name, latency) in [
        ("AuthsignalLatency", trace.authsignal_latency),
        ("ProfileLatency", trace.profile_latency),
        ("Auth0Latency", trace.auth0_latency),
        ("ReplayTableLatency", trace.dynamodb_latency),
    ] {
        if let Some(latency) = latency {
            add(name, "Milliseconds", millis(latency));
        }
    }
    if record.cold_start {
        add("ColdStart", "Count", 1.0);
    }
    if trace.credentials_refreshed {
        add("CredentialsRefresh", "Count", 1.0);
    }
    (values, declared)
}

/// The `level` of the metrics lines for a function logging at `level`. Lambda's log-level
/// filter (`LogFormat: JSON`) drops lines below the function's level and reads a line without
/// one as INFO, so metrics carry the lowest level it keeps: INFO unless an operator raised the
/// level. Never more than that: operators alarm and search on ERROR and FATAL, and a healthy
/// function must not show them.
pub fn metrics_level(level: LogLevel) -> LogLevel {
    level.max(LogLevel::Info)
}

/// Writes one JSON line straight to stdout, not through the log subscriber (metrics must not
/// depend on its filter); one write of one line, so it cannot interleave with a log line.
fn write_line(document: &Value) {
    let mut line = document.to_string();
    line.push('\n');
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(
        outcome: &'static str,
        trace: &'a InvocationTrace,
        cold: bool,
    ) -> InvocationRecord<'a> {
        InvocationRecord {
            operation: Some("sign_in"),
            outcome,
            status: 200,
            detail: None,
            trace,
            cold_start: cold,
            request_id: "req-1",
            xray_trace_id: Some("Root=1-abc"),
        }
    }

    #[test]
    fn a_cold_success_declares_every_metric_it_carries() {
        let trace = InvocationTrace {
            authsignal_latency: Some(Duration::from_millis(12)),
            auth0_latency: Some(Duration::from_millis(80)),
            credentials_refreshed: true,
            ..InvocationTrace::default()
        };
        let telemetry = Telemetry::new("Test/Bridge", "bridge-staging", "fn");
        let now = UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
        let doc = telemetry.metrics_document(&record("success", &trace, true), now);

        assert_eq!(doc["_aws"]["Timestamp"], 1_795_000_000_123u64);
        let directives = doc["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives[0]["Namespace"], "Test/Bridge");
        assert_eq!(
            directives[0]["Dimensions"],
            json!([
                ["Service", "Outcome"],
                ["Service", "Operation", "Outcome"],
                ["Service", "Operation", "Dpop"]
            ])
        );
        assert_eq!(
            directives[0]["Metrics"],
            json!([{"Name": "Exchanges", "Unit": "Count"}])
        );
        assert_eq!(
            directives[1]["Dimensions"],
            json!([["Service"], ["Service", "Operation"]])
        );
        let names: Vec<&str> = directives[1]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "AuthsignalLatency",
                "Auth0Latency",
                "ColdStart",
                "CredentialsRefresh"
            ]
        );
        // Every declared metric and dimension is a member of the root (the spec's MUST).
        for directive in directives {
            for metric in directive["Metrics"].as_array().unwrap() {
                assert!(
                    doc[metric["Name"].as_str().unwrap()].is_number(),
                    "{metric}"
                );
            }
            for set in directive["Dimensions"].as_array().unwrap() {
                for key in set.as_array().unwrap() {
                    assert!(doc[key.as_str().unwrap()].is_string(), "{key}");
                }
            }
        }
        assert_eq!(
            (doc["Outcome"].as_str(), doc["Service"].as_str()),
            (Some("success"), Some("bridge-staging"))
        );
        assert_eq!(doc["Exchanges"], 1);
        assert_eq!(doc["Operation"], "sign_in");
        assert_eq!(doc["Dpop"], "none");
        assert_eq!(doc["AuthsignalLatency"], 12.0);
        assert_eq!(doc["Auth0Latency"], 80.0);
        assert_eq!(doc["level"], "INFO");
        assert_eq!(doc["function_request_id"], "req-1");
    }

    #[test]
    fn a_warm_rejected_request_counts_only_the_exchange() {
        let trace = InvocationTrace::default();
        let telemetry = Telemetry::new(DEFAULT_NAMESPACE, "svc", "fn");
        let mut unknown = record("invalid_request", &trace, false);
        unknown.operation = None;
        let doc = telemetry.metrics_document(&unknown, SystemTime::now());
        let directives = doc["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1, "no empty metric directive");
        assert_eq!(doc["Outcome"], "invalid_request");
        assert_eq!(doc["Operation"], "unknown");
        assert!(doc.get("ColdStart").is_none() && doc.get("AuthsignalLatency").is_none());
    }

    #[test]
    fn metrics_carry_the_lowest_level_lambda_keeps_info_unless_raised() {
        for (configured, expected) in [
            (None, "INFO"),
            (Some("TRACE"), "INFO"),
            (Some("debug"), "INFO"),
            (Some("INFO"), "INFO"),
            (Some("WARN"), "WARN"),
            (Some("ERROR"), "ERROR"),
            (Some("FATAL"), "FATAL"),
        ] {
            let telemetry = Telemetry::new(DEFAULT_NAMESPACE, "svc", "fn")
                .with_log_level(LogLevel::parse(configured));
            let trace = InvocationTrace::default();
            let doc =
                telemetry.metrics_document(&record("success", &trace, false), SystemTime::now());
            assert_eq!(doc["level"], expected, "{configured:?}");
        }
    }
}
