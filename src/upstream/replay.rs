//! One-time tokens (docs/behaviour.md, "One-time tokens"): each Authsignal
//! challenge finishes at most one sign-in, across every execution environment, through one
//! record per challenge in a DynamoDB table.
//!
//! `/validate` does not consume a token (with `AUTH0_SIGN_IN_PROOF=authsignal-token` the Auth0
//! Login script must still look it up), so
//! without this the same token, copied from a proxy log or a crash report, is a session for
//! whoever holds it until it expires, and two concurrent requests with it both get tokens. The
//! record is written with a conditional `PutItem` after Authsignal confirmed the challenge and
//! before Auth0 is called: DynamoDB's condition is the single point where two requests with one
//! challenge are told apart, however many execution environments run.
//!
//! - The key is the challenge (`challenge#<idempotencyKey>`), not the token's text: a JWT's text
//!   is malleable, its claims are not. Without an `idempotencyKey` it is `token#` + the token's
//!   SHA-256 (hex), with a WARN.
//! - The item is `{pk, owner, expires_at}`: `owner` is this invocation's request id, so that an
//!   SDK retry of our own write (the first attempt landed, its answer was lost) is recognised in
//!   the failed condition's old item and not reported as a replay; `expires_at` is the table's
//!   TTL attribute. The item never holds the token, and neither the token nor its hash is logged.
//! - `release` deletes the record (only if this invocation owns it) when Auth0 certainly issued
//!   nothing for a reason outside the app's control, so the app may retry with the same token.
//! - Every call gets at most 1 s (and never more than the time left); the bridge fails closed:
//!   no record, no call to Auth0.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use sha2::{Digest, Sha256};

use crate::budget::Deadline;
use crate::error::{BridgeError, RequestFate, Upstream};
use crate::settings::Settings;
use crate::tokens::AuthsignalToken;
use crate::upstream::aws::{AnswerSizeLimit, SdkFailure};

/// The most any DynamoDB call may take (docs/behaviour.md: "the smaller of 1 s and the time left").
pub const MAX_CALL_TIME: Duration = Duration::from_secs(1);

/// The key of init's warm-up delete: never the key of a record.
const WARM_UP_KEY: &str = "warm-up";

/// DynamoDB's error codes for throttling: the documented 503 with `Retry-After: 1`.
const THROTTLING_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
];

/// The replay record's key: the challenge, or the token's hash when Authsignal named no
/// challenge. `Debug` never prints the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct ChallengeKey(String);

impl ChallengeKey {
    /// The key of the challenge Authsignal named (`challenge#` + its `idempotencyKey`), when
    /// the id can be a key (which one the flow picks is its rule: `crate::flow::one_time`).
    pub fn for_challenge(idempotency_key: &str) -> Option<ChallengeKey> {
        is_usable_key(idempotency_key)
            .then(|| ChallengeKey(format!("{CHALLENGE_PREFIX}{idempotency_key}")))
    }

    /// The key of a token whose challenge has no usable id: `token#` + its SHA-256 in hex.
    pub fn for_token(token: &AuthsignalToken) -> ChallengeKey {
        ChallengeKey(format!(
            "token#{}",
            hex::encode(Sha256::digest(token.expose().as_bytes()))
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the key is the challenge's (`challenge#...`), not the token's hash.
    pub fn names_the_challenge(&self) -> bool {
        self.0.starts_with(CHALLENGE_PREFIX)
    }
}

const CHALLENGE_PREFIX: &str = "challenge#";

/// Authsignal's keys are UUIDs; anything far longer (DynamoDB refuses keys over 2 KiB) or not
/// printable is not used as a key.
fn is_usable_key(key: &str) -> bool {
    (1..=256).contains(&key.len()) && key.bytes().all(|byte| byte.is_ascii_graphic())
}

impl std::fmt::Debug for ChallengeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self.0.split('#').next().unwrap_or_default();
        write!(f, "ChallengeKey({kind}#[REDACTED])")
    }
}

/// The DynamoDB client of the replay table, built once per execution environment from the
/// shared SDK configuration ([`crate::upstream::aws`]): each attempt within [`MAX_CALL_TIME`], and
/// retries close together, so that throttling still ends in its own answer (503) within the
/// second rather than in a timeout.
pub fn dynamodb_client(
    config: &aws_config::SdkConfig,
    settings: &Settings,
) -> aws_sdk_dynamodb::Client {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(settings.connect_timeout())
        .operation_timeout(settings.upstream_timeout.min(MAX_CALL_TIME))
        .build();
    let retries = aws_config::retry::RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(20))
        .with_max_backoff(Duration::from_millis(200));
    let config = aws_sdk_dynamodb::config::Builder::from(config)
        .timeout_config(timeouts)
        .retry_config(retries)
        .interceptor(AnswerSizeLimit)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// What a release found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// This invocation's record was deleted.
    Deleted,
    /// There was no record of this invocation (never written, or another invocation's).
    NotOurs,
}

/// The replay table.
pub struct ReplayGuard {
    client: aws_sdk_dynamodb::Client,
    table: String,
    window: Duration,
}

impl ReplayGuard {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String, window: Duration) -> Self {
        ReplayGuard {
            client,
            table,
            window,
        }
    }

    /// Opens the connection to DynamoDB during init (TCP, TLS, credentials) with a delete of a
    /// key no record ever has (`pk` is always `challenge#...` or `token#...`), and tells the
    /// operator at start-up, not at the first sign-in, when the table cannot be used. Never
    /// fails. Costs one write request unit per cold start.
    pub async fn warm_up(&self, deadline: &Deadline) {
        let delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(WARM_UP_KEY.to_owned()));
        let result = within_call_time(deadline, async {
            delete
                .send()
                .await
                .map(|_| ())
                .map_err(|error| dynamodb_error(&error))
        })
        .await;
        match result {
            Ok(()) => {}
            Err(error @ BridgeError::ReplayTableUnusable(_)) => tracing::warn!(
                error = %error.log_detail(),
                "the replay table cannot be used; every sign-in will get a 500 until this is fixed"
            ),
            Err(error) => tracing::debug!(
                error = %error.log_detail(),
                "no connection to the replay table opened during init"
            ),
        }
    }

    /// The time a call may take under `deadline`: what the flow keeps back for the release.
    pub fn call_time(&self, deadline: &Deadline) -> Duration {
        call_budget(deadline)
            .call_timeout(Upstream::DynamoDb)
            .unwrap_or_default()
    }

    /// Writes the record of `key` for `owner` (this invocation), or refuses the challenge as
    /// replayed when another owner's record is there. Any record counts, expired or not: TTL
    /// deletion is lazy, and an expired record still proves the challenge was used (the token
    /// itself expires far sooner).
    pub async fn claim(
        &self,
        key: &ChallengeKey,
        owner: &str,
        deadline: &Deadline,
    ) -> Result<(), BridgeError> {
        let record = OwnedRecord {
            key: key.as_str(),
            owner,
            expires_at: unix_now() + self.window.as_secs(),
        };
        match put_owned(
            &self.client,
            &self.table,
            &record,
            Lapsed::StillHolds,
            deadline,
        )
        .await?
        {
            Put::Written => Ok(()),
            Put::Held { .. } => Err(BridgeError::Replayed),
        }
    }

    /// Deletes the record of `key` if `owner` holds it, so that the app may use the token again.
    /// A record that is gone or held by another invocation is left alone.
    pub async fn release(
        &self,
        key: &ChallengeKey,
        owner: &str,
        deadline: &Deadline,
    ) -> Result<Release, BridgeError> {
        delete_owned(&self.client, &self.table, key.as_str(), owner, deadline).await
    }
}

/// One owner's record: `{pk, owner, expires_at}` (`expires_at` is the table's TTL attribute).
pub(super) struct OwnedRecord<'a> {
    pub key: &'a str,
    pub owner: &'a str,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Whether a record past its `expires_at` (and not yet deleted by TTL, which is lazy) still
/// holds its key.
#[derive(Clone, Copy)]
pub(super) enum Lapsed {
    /// The replay record: a used challenge stays used.
    StillHolds,
    /// A cooldown: once run out, it is as good as gone.
    IsGone,
}

/// What an owner-conditional write did.
pub(super) enum Put {
    /// The record is ours: written now, or by our own earlier attempt whose answer was lost.
    Written,
    /// Another owner holds the key, until `expires_at` (when its record says).
    Held { expires_at: Option<u64> },
}

/// Writes `record` unless another owner's record holds its key (the replay record, the
/// sign-up's email cooldown). The failed condition returns the old item, so that an SDK retry of
/// our own write (the first attempt landed, its answer was lost) is recognised as ours.
pub(super) async fn put_owned(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    record: &OwnedRecord<'_>,
    lapsed: Lapsed,
    deadline: &Deadline,
) -> Result<Put, BridgeError> {
    let mut write = client
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(record.key.to_owned()))
        .item("owner", AttributeValue::S(record.owner.to_owned()))
        .item("expires_at", number(record.expires_at))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    write = match lapsed {
        Lapsed::StillHolds => write.condition_expression("attribute_not_exists(pk)"),
        Lapsed::IsGone => write
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", number(unix_now())),
    };
    within_call_time(deadline, async {
        match write.send().await {
            Ok(_) => Ok(Put::Written),
            Err(SdkError::ServiceError(service)) => match service.err() {
                PutItemError::ConditionalCheckFailedException(failed) => {
                    let old = |name: &str| {
                        failed.item().and_then(|item| item.get(name)).and_then(
                            |value| match value {
                                AttributeValue::S(text) | AttributeValue::N(text) => Some(text),
                                _ => None,
                            },
                        )
                    };
                    if old("owner").is_some_and(|holder| holder == record.owner) {
                        tracing::debug!("the record was already ours: an SDK retry");
                        Ok(Put::Written)
                    } else {
                        let expires_at = old("expires_at").and_then(|at| at.parse().ok());
                        Ok(Put::Held { expires_at })
                    }
                }
                _ => Err(dynamodb_error(&SdkError::ServiceError(service))),
            },
            Err(error) => Err(dynamodb_error(&error)),
        }
    })
    .await
}

/// Seconds since the Unix epoch, as DynamoDB's TTL attribute counts them.
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// A DynamoDB number.
pub(super) fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Deletes the item `key` of `table` if `owner` holds it (the replay record, the sign-up's email
/// cooldown): an owner-conditional delete, so an invocation never takes back another's.
pub(super) async fn delete_owned(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: &str,
    owner: &str,
    deadline: &Deadline,
) -> Result<Release, BridgeError> {
    let delete = client
        .delete_item()
        .table_name(table)
        .key("pk", AttributeValue::S(key.to_owned()))
        // `owner` is a DynamoDB reserved word: named through a placeholder.
        .condition_expression("#owner = :owner")
        .expression_attribute_names("#owner", "owner")
        .expression_attribute_values(":owner", AttributeValue::S(owner.to_owned()));
    within_call_time(deadline, async {
        match delete.send().await {
            Ok(_) => Ok(Release::Deleted),
            Err(SdkError::ServiceError(service))
                if service.err().is_conditional_check_failed_exception() =>
            {
                Ok(Release::NotOurs)
            }
            Err(error) => Err(dynamodb_error(&error)),
        }
    })
    .await
}

/// Every DynamoDB call gets the smaller of [`MAX_CALL_TIME`] (and `UPSTREAM_TIMEOUT_MS`) and the
/// time left.
fn call_budget(deadline: &Deadline) -> Deadline {
    deadline.capped(MAX_CALL_TIME)
}

/// Runs one DynamoDB call within [`call_budget`].
pub(super) async fn within_call_time<T>(
    deadline: &Deadline,
    call: impl std::future::Future<Output = Result<T, BridgeError>>,
) -> Result<T, BridgeError> {
    call_budget(deadline).run(Upstream::DynamoDb, call).await
}

/// The answer to a failed DynamoDB call (docs/behaviour.md, One-time tokens): throttling 503; our configuration (access
/// denied, no such table, a request DynamoDB calls invalid: any other 4xx; no region or
/// credentials) 500; unreachable, broken off, unreadable or 5xx 502; a timeout 504.
pub(super) fn dynamodb_error<E>(error: &SdkError<E>) -> BridgeError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let failure = SdkFailure::of(error);
    let detail = failure.describe();
    match failure {
        SdkFailure::TimedOut => BridgeError::UpstreamTimeout {
            upstream: Upstream::DynamoDb,
        },
        SdkFailure::Service { code, .. } if THROTTLING_CODES.contains(&code.as_str()) => {
            BridgeError::Throttled {
                upstream: Upstream::DynamoDb,
                detail,
            }
        }
        SdkFailure::Service { status, .. } if (400..500).contains(&status) => {
            BridgeError::ReplayTableUnusable(detail)
        }
        SdkFailure::Service { status, .. } if status >= 500 => BridgeError::UpstreamUnavailable {
            upstream: Upstream::DynamoDb,
            detail,
            fate: RequestFate::ServerError,
        },
        SdkFailure::NotBuilt => BridgeError::ReplayTableUnusable(detail),
        SdkFailure::NotSent => BridgeError::UpstreamUnavailable {
            upstream: Upstream::DynamoDb,
            detail,
            fate: RequestFate::NotSent,
        },
        // An I/O error may come after the request was sent; an unreadable answer after it was
        // acted on.
        _ => BridgeError::unavailable(Upstream::DynamoDb, detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_key_is_its_sha256_and_never_printed() {
        let key = ChallengeKey::for_token(&AuthsignalToken::new("abc".into()));
        assert_eq!(
            key.as_str(),
            "token#ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(format!("{key:?}"), "ChallengeKey(token#[REDACTED])");
    }

    #[test]
    fn an_unusable_challenge_id_is_no_key() {
        let long = "k".repeat(257);
        for id in [long.as_str(), "with space", "tab\there", ""] {
            assert_eq!(ChallengeKey::for_challenge(id), None, "{id:?}");
        }
    }
}
