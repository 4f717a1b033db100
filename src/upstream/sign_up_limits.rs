//! The sign-up's limits (docs/behaviour.md, "Sign-up"): each email address starts at most one
//! sign-up per `SIGN_UP_EMAIL_COOLDOWN_SECONDS`, and each caller address at most
//! `SIGN_UP_ADDRESS_LIMIT` per 10-minute window, besides the edge's per-IP limit. Each start
//! sends a real email (Authsignal's OTP), so these protect the people whose addresses are typed,
//! not only the bridge.
//!
//! Small records in the replay table, with its TTL attribute, keyed apart from the replay
//! records (`sign-up#...`): `sign-up#email#<SHA-256 of the address>` (never the address itself,
//! though a hash of a guessable address is a pseudonym, not a secret) holds the cooldown,
//! written only if absent or expired; `sign-up#address#<ip or IPv6 /64>#<window>` counts the
//! window's starts, over fixed windows (Unix time / 600). DynamoDB failing fails closed, with
//! the replay table's answers.

use std::net::IpAddr;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use sha2::{Digest, Sha256};

use super::replay::{
    delete_owned, dynamodb_error, number, put_owned, unix_now, within_call_time, Lapsed,
    OwnedRecord, Put,
};
use crate::budget::Deadline;
use crate::error::BridgeError;
use crate::settings::SignUpSettings;

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
    /// The limits `settings` set, kept in `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: String, settings: &SignUpSettings) -> Self {
        SignUpLimits {
            client,
            table,
            email_cooldown: settings.email_cooldown,
            address_limit: settings.address_limit,
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
        let record = OwnedRecord {
            key: &key,
            owner,
            expires_at: now + self.email_cooldown.as_secs(),
        };
        match put_owned(&self.client, &self.table, &record, Lapsed::IsGone, deadline).await? {
            Put::Written => Ok(EmailCooldown { key }),
            Put::Held { expires_at } => Err(cooldown("email", expires_at, now)),
        }
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

    /// Counts one sign-up start from the caller's address (see [`address_key`]) in the current
    /// window, or refuses once the window holds `SIGN_UP_ADDRESS_LIMIT`. Every start that gets
    /// here counts, whatever becomes of it.
    pub async fn count_address(
        &self,
        client_ip: Option<IpAddr>,
        deadline: &Deadline,
    ) -> Result<(), BridgeError> {
        let address = address_key(client_ip);
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

/// Whom an address count is for: an IPv4 address; an IPv6 address's /64, the block one
/// subscriber is given (counting each /128 would let one caller count afresh from each of its
/// 2^64 addresses); `unknown` for every event that carried no source address.
fn address_key(client_ip: Option<IpAddr>) -> String {
    match client_ip {
        None => "unknown".to_owned(),
        Some(IpAddr::V4(ip)) => ip.to_string(),
        Some(IpAddr::V6(ip)) => {
            let [a, b, c, d, ..] = ip.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_caller_is_counted_by_its_64_block_and_an_ipv4_one_by_its_address() {
        let ip = |text: &str| Some(text.parse::<IpAddr>().unwrap());
        assert_eq!(address_key(ip("203.0.113.10")), "203.0.113.10");
        assert_eq!(
            address_key(ip("2001:db8:aa:1::1")),
            address_key(ip("2001:db8:aa:1:ffff:ffff:ffff:fffe"))
        );
        assert_eq!(address_key(ip("2001:db8:aa:1::1")), "2001:db8:aa:1::/64");
        assert_ne!(
            address_key(ip("2001:db8:aa:1::1")),
            address_key(ip("2001:db8:aa:2::1"))
        );
        assert_eq!(address_key(None), "unknown");
    }
}
