//! The sign-up's limits (docs/behaviour.md, "Sign-up"): each email address starts at most one
//! sign-up per `SIGN_UP_EMAIL_COOLDOWN_SECONDS`, and each caller address at most
//! `SIGN_UP_ADDRESS_LIMIT` per 10-minute window, besides the edge's per-IP limit. Each start
//! sends a real email (Authsignal's OTP), so these protect the people whose addresses are typed,
//! not only the bridge.
//!
//! Small records in the replay table, with its TTL attribute, keyed apart from the replay
//! records (`sign-up#...`): `sign-up#email#<SHA-256 of the address>` (never the address itself)
//! holds the cooldown, written only if absent or expired; `sign-up#address#<ip>#<window>`
//! counts the window's starts. DynamoDB failing fails closed, with the replay table's answers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use sha2::{Digest, Sha256};

use super::replay::{delete_owned, dynamodb_error, within_call_time};
use crate::budget::Deadline;
use crate::error::BridgeError;

/// The window one caller address's count of sign-ups runs over.
pub const ADDRESS_WINDOW: Duration = Duration::from_secs(600);

/// The sign-up's records in the replay table.
pub struct SignUpLimits {
    client: aws_sdk_dynamodb::Client,
    table: String,
    email_cooldown: Duration,
    address_limit: u32,
}

/// The email cooldown this invocation wrote, to take back when the sign-up did not start.
pub struct EmailCooldown {
    key: String,
}

impl SignUpLimits {
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: String,
        email_cooldown: Duration,
        address_limit: u32,
    ) -> Self {
        SignUpLimits {
            client,
            table,
            email_cooldown,
            address_limit,
        }
    }

    /// Starts `email`'s cooldown for `owner` (this invocation), or refuses with the seconds it
    /// still has to run.
    pub async fn start_email_cooldown(
        &self,
        email: &str,
        owner: &str,
        deadline: &Deadline,
    ) -> Result<EmailCooldown, BridgeError> {
        let key = format!(
            "sign-up#email#{}",
            hex::encode(Sha256::digest(email.as_bytes()))
        );
        let now = unix_now();
        let write = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(key.clone()))
            .item("owner", AttributeValue::S(owner.to_owned()))
            .item("expires_at", number(now + self.email_cooldown.as_secs()))
            // TTL deletion is lazy: an expired record counts as gone.
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", number(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        within_call_time(deadline, async {
            match write.send().await {
                Ok(_) => Ok(EmailCooldown { key: key.clone() }),
                Err(SdkError::ServiceError(service)) => match service.err() {
                    PutItemError::ConditionalCheckFailedException(failed) => {
                        let item = failed.item();
                        if attribute(item, "owner").is_some_and(|holder| holder == owner) {
                            // Our own earlier attempt landed; its answer was lost.
                            return Ok(EmailCooldown { key: key.clone() });
                        }
                        let until = attribute(item, "expires_at").and_then(|at| at.parse().ok());
                        Err(cooldown("email", until, now))
                    }
                    _ => Err(dynamodb_error(&SdkError::ServiceError(service))),
                },
                Err(error) => Err(dynamodb_error(&error)),
            }
        })
        .await
    }

    /// Takes back this invocation's cooldown of an email whose sign-up did not start (an
    /// upstream failed, or the address was over its limit), so that a retry is not refused.
    /// Best effort: a failure is logged and the cooldown runs out by itself.
    pub async fn take_back(&self, cooldown: &EmailCooldown, owner: &str, deadline: &Deadline) {
        let deleted = delete_owned(&self.client, &self.table, &cooldown.key, owner, deadline).await;
        if let Err(error) = deleted {
            tracing::warn!(error = %error.log_detail(), "could not take back the sign-up's email cooldown; it runs out by itself");
        }
    }

    /// Counts one sign-up start from `address` (the caller's IP; `unknown` when the event had
    /// none) in the current window, or refuses once the window holds `SIGN_UP_ADDRESS_LIMIT`.
    pub async fn count_address(
        &self,
        address: &str,
        deadline: &Deadline,
    ) -> Result<(), BridgeError> {
        let now = unix_now();
        let window = now / ADDRESS_WINDOW.as_secs();
        let window_end = (window + 1) * ADDRESS_WINDOW.as_secs();
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(
                "pk",
                AttributeValue::S(format!("sign-up#address#{address}#{window}")),
            )
            .update_expression("SET expires_at = :expires_at ADD attempts :one")
            .condition_expression("attribute_not_exists(attempts) OR attempts < :limit")
            .expression_attribute_values(":expires_at", number(window_end))
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":limit", number(u64::from(self.address_limit)));
        within_call_time(deadline, async {
            match update.send().await {
                Ok(_) => Ok(()),
                Err(SdkError::ServiceError(service))
                    if matches!(
                        service.err(),
                        UpdateItemError::ConditionalCheckFailedException(_)
                    ) =>
                {
                    Err(cooldown("address", Some(window_end), now))
                }
                Err(error) => Err(dynamodb_error(&error)),
            }
        })
        .await
    }
}

/// The answer to a start within a cooldown: 429 with the seconds left (at least 1).
fn cooldown(what: &'static str, until: Option<u64>, now: u64) -> BridgeError {
    BridgeError::SignUpCooldown {
        what,
        retry_after: until.map_or(1, |until| until.saturating_sub(now).max(1)),
    }
}

fn attribute<'a>(
    item: Option<&'a std::collections::HashMap<String, AttributeValue>>,
    name: &str,
) -> Option<&'a str> {
    item?.get(name).and_then(|value| match value {
        AttributeValue::S(text) | AttributeValue::N(text) => Some(text.as_str()),
        _ => None,
    })
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}
