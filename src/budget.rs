//! The invocation's time budget (docs/behaviour.md, "Time, caching and connections").
//!
//! Each invocation must answer before Lambda kills it, so every upstream call gets the smaller
//! of `UPSTREAM_TIMEOUT_MS` and the time left before the Lambda deadline minus a safety margin,
//! and a call that cannot start with useful time left is not made at all.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::error::{BridgeError, Upstream};

/// Kept free before the Lambda deadline to build and deliver the answer.
pub const SAFETY_MARGIN: Duration = Duration::from_millis(500);

/// Below this, a call cannot complete a round trip; starting it would only waste the budget.
pub const MIN_CALL_TIME: Duration = Duration::from_millis(10);

/// The point in time by which the bridge must have its answer ready.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    upstream_timeout: Duration,
}

impl Deadline {
    /// From `Lambda-Runtime-Deadline-Ms`, less [`SAFETY_MARGIN`]. Lambda sends milliseconds
    /// since the epoch; cargo-lambda's local emulator (1.9) sends the function timeout instead
    /// (`600000`), so a value too small to be a wall-clock time is read as milliseconds from
    /// now (else every local invocation would find its budget long spent); 0 (no deadline, a
    /// hand-made context) gives `without_deadline`.
    pub fn from_lambda_deadline_ms(
        deadline_ms: u64,
        upstream_timeout: Duration,
        without_deadline: Duration,
    ) -> Self {
        /// 2001-09-09 in ms since the epoch: anything smaller is not a wall-clock time.
        const SMALLEST_EPOCH_DEADLINE_MS: u64 = 1_000_000_000_000;
        match deadline_ms {
            0 => Deadline::after(without_deadline, upstream_timeout),
            relative if relative < SMALLEST_EPOCH_DEADLINE_MS => Deadline::after(
                Duration::from_millis(relative).saturating_sub(SAFETY_MARGIN),
                upstream_timeout,
            ),
            epoch => Deadline::from_lambda_deadline(
                std::time::UNIX_EPOCH + Duration::from_millis(epoch),
                upstream_timeout,
            ),
        }
    }

    /// From the Lambda deadline (wall clock), less [`SAFETY_MARGIN`].
    pub fn from_lambda_deadline(lambda_deadline: SystemTime, upstream_timeout: Duration) -> Self {
        let left = lambda_deadline
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .saturating_sub(SAFETY_MARGIN);
        Deadline::after(left, upstream_timeout)
    }

    /// A budget of `left` from now (tests, and events without a Lambda context).
    pub fn after(left: Duration, upstream_timeout: Duration) -> Self {
        Deadline {
            at: Instant::now() + left,
            upstream_timeout,
        }
    }

    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// The same budget with `reserve` kept back at its end: calls made under it leave that much
    /// time for a call that must follow them (the replay record's release after Auth0).
    pub fn reserving(&self, reserve: Duration) -> Deadline {
        Deadline {
            at: self.at.checked_sub(reserve).unwrap_or_else(Instant::now),
            upstream_timeout: self.upstream_timeout,
        }
    }

    /// The same budget with each call limited to at most `limit` (DynamoDB calls get 1 s).
    pub fn capped(&self, limit: Duration) -> Deadline {
        Deadline {
            at: self.at,
            upstream_timeout: self.upstream_timeout.min(limit),
        }
    }

    /// The timeout for one call to `upstream`, or the 504/500 answer when no useful time is left.
    pub fn call_timeout(&self, upstream: Upstream) -> Result<Duration, BridgeError> {
        let remaining = self.remaining();
        if remaining < MIN_CALL_TIME {
            return Err(BridgeError::BudgetExhausted { upstream });
        }
        Ok(remaining.min(self.upstream_timeout))
    }

    /// Runs `call` under this call's timeout, mapping an elapsed timer to `UpstreamTimeout`.
    pub async fn run<T>(
        &self,
        upstream: Upstream,
        call: impl std::future::Future<Output = Result<T, BridgeError>>,
    ) -> Result<T, BridgeError> {
        let timeout = self.call_timeout(upstream)?;
        tokio::time::timeout(timeout, call)
            .await
            .unwrap_or(Err(BridgeError::UpstreamTimeout { upstream }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_gets_the_upstream_timeout_when_time_is_plenty() {
        let deadline = Deadline::after(Duration::from_secs(20), Duration::from_secs(5));
        assert_eq!(
            deadline.call_timeout(Upstream::Auth0).unwrap(),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn a_call_gets_only_the_time_left_when_that_is_shorter() {
        let deadline = Deadline::after(Duration::from_secs(2), Duration::from_secs(5));
        let timeout = deadline.call_timeout(Upstream::Auth0).unwrap();
        assert!(timeout <= Duration::from_secs(2) && timeout > Duration::from_millis(1900));
    }

    #[test]
    fn no_call_starts_without_time_left() {
        let deadline = Deadline::after(Duration::from_millis(3), Duration::from_secs(5));
        assert!(matches!(
            deadline.call_timeout(Upstream::Authsignal),
            Err(BridgeError::BudgetExhausted {
                upstream: Upstream::Authsignal
            })
        ));
    }

    #[test]
    fn the_lambda_deadline_loses_the_safety_margin() {
        let lambda_deadline = SystemTime::now() + Duration::from_millis(1500);
        let deadline = Deadline::from_lambda_deadline(lambda_deadline, Duration::from_secs(5));
        let left = deadline.remaining();
        assert!(left <= Duration::from_millis(1000) && left > Duration::from_millis(900));
        let past = Deadline::from_lambda_deadline(SystemTime::UNIX_EPOCH, Duration::from_secs(5));
        assert_eq!(past.remaining(), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_slow_call_is_cut_off_as_a_timeout() {
        let deadline = Deadline::after(Duration::from_millis(50), Duration::from_secs(5));
        let result: Result<(), _> = deadline
            .run(Upstream::Auth0, async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                Ok(())
            })
            .await;
        assert!(matches!(
            result,
            Err(BridgeError::UpstreamTimeout {
                upstream: Upstream::Auth0
            })
        ));
    }

    #[test]
    fn a_reserve_shortens_the_budget_and_a_cap_shortens_each_call() {
        let deadline = Deadline::after(Duration::from_secs(3), Duration::from_secs(5));
        let reserved = deadline.reserving(Duration::from_secs(1));
        let left = reserved.remaining();
        assert!(left <= Duration::from_secs(2) && left > Duration::from_millis(1900));
        let capped = deadline.capped(Duration::from_secs(1));
        assert_eq!(
            capped.call_timeout(Upstream::DynamoDb).unwrap(),
            Duration::from_secs(1)
        );
        // A reserve longer than what is left leaves no time: no call starts under it.
        let none = deadline.reserving(Duration::from_secs(10));
        assert!(matches!(
            none.call_timeout(Upstream::Auth0),
            Err(BridgeError::BudgetExhausted { .. })
        ));
    }
}
