//! One-time tokens, as the flow uses them (docs/behaviour.md, "One-time tokens"): which replay
//! record a validated challenge claims, the claim, and when the record is taken back. The table
//! itself (conditional writes, owner-conditional deletes, DynamoDB's answers) is
//! [`crate::upstream::replay`].

use std::time::Duration;

use tokio::time::Instant;

use crate::error::BridgeError;
use crate::flow::bridge::Bridge;
use crate::flow::operation::Invocation;
use crate::telemetry::{InvocationTrace, Stage};
use crate::tokens::AuthsignalToken;
use crate::upstream::authsignal::ValidatedChallenge;
use crate::upstream::replay::{ChallengeKey, Release, ReplayGuard};

/// The record of a challenge: its `idempotencyKey` names the challenge, whatever the token's
/// text (a JWT's text is malleable, its claims are not); without a usable one, the token's
/// hash, with a WARN.
pub fn challenge_key(challenge: &ValidatedChallenge, token: &AuthsignalToken) -> ChallengeKey {
    challenge
        .idempotency_key
        .as_deref()
        .and_then(ChallengeKey::for_challenge)
        .unwrap_or_else(|| {
            tracing::warn!(
                "Authsignal's answer has no usable idempotencyKey; the replay record is keyed by the token's hash"
            );
            ChallengeKey::for_token(token)
        })
}

/// A challenge's replay record, to be written (claimed) by this invocation.
pub(super) struct Claim<'a> {
    pub(super) replay: &'a ReplayGuard,
    pub(super) key: ChallengeKey,
}

impl Claim<'_> {
    /// Writes the record, and says how long that took (the profile lookup runs meanwhile, so
    /// the trace is written afterwards, by [`Bridge::settle_claim`]).
    pub(super) async fn write(
        &self,
        invocation: &Invocation<'_>,
    ) -> (Result<(), BridgeError>, Duration) {
        let started = Instant::now();
        let written = self
            .replay
            .claim(&self.key, invocation.request_id, &invocation.deadline)
            .await;
        (written, started.elapsed())
    }
}

impl Bridge {
    /// The claim of `challenge`, when replay protection is on.
    pub(super) fn claim_for(
        &self,
        challenge: &ValidatedChallenge,
        token: &AuthsignalToken,
    ) -> Option<Claim<'_>> {
        self.replay.as_ref().map(|replay| Claim {
            replay,
            key: challenge_key(challenge, token),
        })
    }

    /// Records what the claim's write gave. Any failed claim but a replay may still have left
    /// our record behind (an attempt that landed before its answer was lost, then a timeout or
    /// throttled retries): it is taken back, owner-conditionally, so that the app's retry is
    /// not refused as a replay. Auth0 was not called, so nothing was issued for it.
    pub(super) async fn settle_claim(
        &self,
        claim: &Claim<'_>,
        (written, elapsed): (Result<(), BridgeError>, Duration),
        invocation: &Invocation<'_>,
        trace: &mut InvocationTrace,
    ) -> Result<(), BridgeError> {
        trace.add_elapsed(Stage::ReplayTable, elapsed);
        match written {
            Ok(()) => {
                trace.replay_record = Some("written");
                Ok(())
            }
            Err(BridgeError::Replayed) => Err(BridgeError::Replayed),
            Err(error) => {
                self.release(claim, invocation, trace).await;
                Err(error)
            }
        }
    }

    /// Deletes this invocation's record of the claim, so that the app may use the token again,
    /// and says what became of it in the trace.
    pub(super) async fn release(
        &self,
        claim: &Claim<'_>,
        invocation: &Invocation<'_>,
        trace: &mut InvocationTrace,
    ) {
        let started = Instant::now();
        let released = claim
            .replay
            .release(&claim.key, invocation.request_id, &invocation.deadline)
            .await;
        trace.add_latency(Stage::ReplayTable, started);
        trace.replay_record = Some(match released {
            Ok(Release::Deleted) => "released",
            Ok(Release::NotOurs) => "not_ours",
            Err(error) => {
                tracing::warn!(
                    error = %error.log_detail(),
                    "could not release the replay record; the app must sign in again instead of retrying"
                );
                "release_failed"
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(idempotency_key: Option<&str>) -> ValidatedChallenge {
        ValidatedChallenge {
            user_id: "u".into(),
            action: None,
            idempotency_key: idempotency_key.map(str::to_owned),
            verification_method: Some("PASSKEY".into()),
        }
    }

    #[test]
    fn the_key_is_the_challenge_and_never_the_token() {
        let token = AuthsignalToken::new("eyJ.canary-token.sig".into());
        let key = challenge_key(&challenge(Some("2b8e6f0a")), &token);
        assert_eq!(key.as_str(), "challenge#2b8e6f0a");
        // Another token text for the same challenge (a re-signed or padded JWT) is the same key.
        let other = AuthsignalToken::new("eyJ.canary-token.sig2".into());
        assert_eq!(challenge_key(&challenge(Some("2b8e6f0a")), &other), key);
    }

    #[test]
    fn without_an_idempotency_key_the_key_is_the_tokens_sha256() {
        let token = AuthsignalToken::new("abc".into());
        let key = challenge_key(&challenge(None), &token);
        assert_eq!(key, ChallengeKey::for_token(&token));
        assert!(key.as_str().starts_with("token#"));
    }

    #[test]
    fn an_unusable_idempotency_key_falls_back_to_the_tokens_hash() {
        let token = AuthsignalToken::new("abc".into());
        let long = "k".repeat(257);
        for key in [long.as_str(), "with space", "tab\there"] {
            let key = challenge_key(&challenge(Some(key)), &token);
            assert!(key.as_str().starts_with("token#"), "{key:?}");
        }
    }
}
