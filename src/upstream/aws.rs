//! What the two AWS clients share (Secrets Manager for the credentials, DynamoDB for the replay
//! table): one SDK configuration loaded once per execution environment, a cap on the size of the
//! answers the SDK buffers, and reading a failed call without ever printing the raw answer.

use aws_config::{ConfigLoader, SdkConfig};
use aws_sdk_secretsmanager::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_secretsmanager::config::{ConfigBag, Intercept, RuntimeComponents};
// The same type in every SDK crate (aws-smithy-runtime-api's), whichever one it is named from.
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};

use crate::settings::Settings;

/// The SDK configuration both clients start from: region, credentials and endpoints from the
/// environment (`loader`), and timeouts. The SDK sets only a connect timeout by default; the
/// operation timeout also bounds its own retries, and each call is further cut to the
/// invocation's time budget.
pub async fn load_sdk_config(loader: ConfigLoader, settings: &Settings) -> SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(settings.connect_timeout())
        .operation_timeout(settings.upstream_timeout)
        .build();
    loader.timeout_config(timeouts).load().await
}

/// Largest AWS answer read: a secret is at most 64 KiB and a replay record well under 1 KiB, and
/// the SDK buffers whole answers, so an endpoint announcing more is refused before its body is
/// read.
pub const MAX_ANSWER_BYTES: u64 = 256 * 1024;
pub const ANSWER_TOO_LARGE: &str = "AWS answer announced over 256 KiB";

/// The interceptor that applies [`MAX_ANSWER_BYTES`], added to both clients.
#[derive(Debug)]
pub struct AnswerSizeLimit;

impl Intercept for AnswerSizeLimit {
    fn name(&self) -> &'static str {
        "AnswerSizeLimit"
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let announced = context
            .response()
            .headers()
            .get("content-length")
            .and_then(|length| length.trim().parse::<u64>().ok());
        match announced {
            Some(length) if length > MAX_ANSWER_BYTES => Err(ANSWER_TOO_LARGE.into()),
            _ => Ok(()),
        }
    }
}

/// What went wrong with an AWS call, read from the SDK's error without its raw answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkFailure {
    /// The call (retries included) ran out of time.
    TimedOut,
    /// The service answered with an error.
    Service {
        code: String,
        message: String,
        /// The HTTP status of the answer.
        status: u16,
    },
    /// The connection failed or broke off (an I/O error): before the request was sent, or after.
    Io,
    /// The answer announced more than [`MAX_ANSWER_BYTES`].
    AnswerTooLarge,
    /// The answer could not be read or parsed.
    AnswerUnreadable,
    /// The request could not be built (no region, no credentials): our configuration.
    NotBuilt,
    /// The request could not be sent for another reason.
    NotSent,
}

impl SdkFailure {
    /// Reads `error`. Deliberately not the SDK's full error report (`DisplayErrorContext`):
    /// that includes the raw HTTP answer with its body, which for an unparseable but successful
    /// `GetSecretValue` would be the secret itself.
    pub fn of<E>(error: &SdkError<E>) -> SdkFailure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match error {
            SdkError::TimeoutError(_) => SdkFailure::TimedOut,
            // A 2xx the SDK could not read as the operation's output: not the service's error.
            SdkError::ServiceError(service) if service.raw().status().is_success() => {
                SdkFailure::AnswerUnreadable
            }
            SdkError::ServiceError(service) => SdkFailure::Service {
                code: service.err().code().unwrap_or("unknown").to_owned(),
                message: service.err().message().unwrap_or("no message").to_owned(),
                status: service.raw().status().as_u16(),
            },
            SdkError::DispatchFailure(failure) if failure.is_timeout() => SdkFailure::TimedOut,
            SdkError::DispatchFailure(failure) if failure.is_io() => SdkFailure::Io,
            SdkError::ConstructionFailure(_) => SdkFailure::NotBuilt,
            _ if caused_by(error, ANSWER_TOO_LARGE) => SdkFailure::AnswerTooLarge,
            SdkError::ResponseError(_) => SdkFailure::AnswerUnreadable,
            _ => SdkFailure::NotSent,
        }
    }

    /// A line for the operator's log.
    pub fn describe(&self) -> String {
        match self {
            SdkFailure::TimedOut => "timed out".to_owned(),
            SdkFailure::Service { code, message, .. } => format!("{code}: {message}"),
            SdkFailure::Io => "connection failed or broke off (I/O error)".to_owned(),
            SdkFailure::NotBuilt => {
                "request could not be built (region or credentials missing?)".to_owned()
            }
            SdkFailure::AnswerTooLarge => ANSWER_TOO_LARGE.to_owned(),
            SdkFailure::AnswerUnreadable => "answer could not be read (body withheld)".to_owned(),
            SdkFailure::NotSent => "request could not be sent".to_owned(),
        }
    }
}

/// Whether `message` is in the error's source chain (matched whole, so nothing else from the
/// chain, which may quote the answer, reaches the log).
fn caused_by(error: &(dyn std::error::Error + 'static), message: &str) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        if error.to_string() == message {
            return true;
        }
        current = error.source();
    }
    false
}
