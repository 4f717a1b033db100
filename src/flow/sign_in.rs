//! The passkey sign-in: validate the Authsignal token; then, side by side, make its challenge
//! single-use (the replay record) and read the user's profile for the assertion; then prove the
//! sign-in to Auth0 with what the settings chose (`AUTH0_SIGN_IN_PROOF`): the bridge's signed
//! assertion, or the Authsignal token itself. When Auth0 certainly issued nothing for a reason
//! outside the app's control, the replay record is taken back so the app may retry.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::time::Instant;

use crate::error::{BridgeError, RequestFate, Upstream};
use crate::flow::assertion;
use crate::flow::bridge::{Bridge, ExchangeTrace};
use crate::flow::operation::Invocation;
use crate::settings::SignInProof;
use crate::tokens::{AuthsignalToken, DpopProof, TokenResponse};
use crate::upstream::auth0::ForCaller;
use crate::upstream::authsignal::{UserProfile, ValidatedChallenge};
use crate::upstream::budget::Deadline;
use crate::upstream::credentials::Credentials;
use crate::upstream::replay::{ChallengeKey, Release, ReplayGuard};

impl Bridge {
    /// Validates `token` with Authsignal and, only if the challenge succeeded (and, with replay
    /// protection on, was not used before), signs the user in at Auth0.
    pub async fn sign_in(
        &self,
        token: &AuthsignalToken,
        dpop: Option<&DpopProof>,
        invocation: &Invocation<'_>,
        trace: &mut ExchangeTrace,
    ) -> Result<TokenResponse, BridgeError> {
        let deadline = &invocation.deadline;
        let mut credentials = self.credentials(deadline, trace).await?;
        if let SignInProof::Assertion { .. } = self.sign_in_proof {
            // No usable key, no sign-in, and never the token instead: this is the configuration
            // 500, answered before Authsignal is asked, so the token stays unused.
            credentials.usable_signing_key()?;
        }
        let challenge = self
            .call_with_credentials(
                Upstream::Authsignal,
                &mut credentials,
                deadline,
                trace,
                |credentials| async move {
                    self.authsignal
                        .validate(token.expose(), &credentials.authsignal_secret, deadline)
                        .await
                },
            )
            .await?;
        tracing::debug!(user_id = %challenge.user_id, action = ?challenge.action, "challenge validated");
        trace.user_id = Some(challenge.user_id.clone());

        // The claim and the profile lookup need only the user: neither waits for the other.
        let record = self
            .replay
            .as_ref()
            .map(|replay| (replay, ChallengeKey::of(&challenge, token)));
        let (claimed, profile) = tokio::join!(
            async {
                let (replay, key) = record.as_ref()?;
                let started = Instant::now();
                let claimed = replay.claim(key, invocation.request_id, deadline).await;
                Some((claimed, started.elapsed()))
            },
            self.user_profile(&challenge, &mut credentials, deadline, trace),
        );
        let mut written = None;
        if let (Some((replay, key)), Some((claimed, elapsed))) = (&record, claimed) {
            trace.add_elapsed(Upstream::DynamoDb, elapsed);
            if let Err(error) = claimed {
                // Any failed claim but a replay may still have left our record behind (an
                // attempt that landed before its answer was lost, then a timeout or throttled
                // retries): take it back, owner-conditionally, so that the app's retry is not
                // refused as a replay. Auth0 was not called, so nothing was issued for it.
                if !matches!(error, BridgeError::Replayed) {
                    self.release(replay, key, invocation, deadline, trace).await;
                }
                return Err(error);
            }
            trace.replay_record = Some("written");
            written = Some((*replay, key));
        }

        let result = match profile {
            // Auth0 never saw this sign-in: the record is released below, like any other.
            Err(error) => Err(LookupFailed(error)),
            Ok(profile) => {
                // Auth0 is called only while time for the release remains after it.
                let until_release = match written {
                    Some((replay, _)) => deadline.reserving(replay.call_time(deadline)),
                    None => *deadline,
                };
                let proof = ProofInput {
                    challenge: &challenge,
                    token,
                    profile: profile.as_ref(),
                    record: written.map(|(_, key)| key),
                    dpop,
                };
                self.exchange(&proof, &mut credentials, invocation, &until_release, trace)
                    .await
                    .map_err(ExchangeFailed)
            }
        };
        match result {
            Ok(tokens) => Ok(tokens),
            Err(failure) => {
                if let Some((replay, key)) = written {
                    if failure.auth0_issued_nothing() {
                        self.release(replay, key, invocation, deadline, trace).await;
                    }
                }
                Err(failure.into_error())
            }
        }
    }

    /// The user's profile at Authsignal, when the assertion carries one (`AUTHSIGNAL_PROFILE`).
    async fn user_profile(
        &self,
        challenge: &ValidatedChallenge,
        credentials: &mut Arc<Credentials>,
        deadline: &Deadline,
        trace: &mut ExchangeTrace,
    ) -> Result<Option<UserProfile>, BridgeError> {
        if !self.sign_in_proof.looks_up_profile() {
            return Ok(None);
        }
        self.call_with_credentials(
            Upstream::Authsignal,
            credentials,
            deadline,
            trace,
            |credentials| async move {
                self.authsignal
                    .user_profile(&challenge.user_id, &credentials.authsignal_secret, deadline)
                    .await
            },
        )
        .await
        .map(Some)
    }

    /// Deletes this invocation's replay record of `key`, so that the app may use the token
    /// again, and says what became of it in the trace.
    async fn release(
        &self,
        replay: &ReplayGuard,
        key: &ChallengeKey,
        invocation: &Invocation<'_>,
        deadline: &Deadline,
        trace: &mut ExchangeTrace,
    ) {
        let started = Instant::now();
        let released = replay.release(key, invocation.request_id, deadline).await;
        trace.add_latency(Upstream::DynamoDb, started);
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

    /// The sign-in at Auth0 for the validated challenge. Auth0 checks client credentials before
    /// it runs the connection's Login script, so after a 401 nothing was used and the retry is
    /// safe. The proof is made with each attempt's credentials: a refreshed secret can bring a
    /// new signing key.
    async fn exchange(
        &self,
        proof: &ProofInput<'_>,
        credentials: &mut Arc<Credentials>,
        invocation: &Invocation<'_>,
        deadline: &Deadline,
        trace: &mut ExchangeTrace,
    ) -> Result<TokenResponse, BridgeError> {
        self.call_with_credentials(
            Upstream::Auth0,
            credentials,
            deadline,
            trace,
            |credentials| async move {
                let password = self.password(proof, &credentials)?;
                self.auth0
                    .exchange(
                        &proof.challenge.user_id,
                        &password,
                        &credentials,
                        ForCaller {
                            client_ip: invocation.client_ip,
                            dpop: proof.dpop,
                        },
                        deadline,
                    )
                    .await
            },
        )
        .await
    }

    /// What Auth0 gets as the password: the assertion, signed now, or the Authsignal token.
    /// The assertion's `jti` is the replay record's key when it names the challenge (never
    /// when it is the token's hash), else random.
    fn password<'a>(
        &self,
        proof: &'a ProofInput<'_>,
        credentials: &Credentials,
    ) -> Result<Cow<'a, str>, BridgeError> {
        let SignInProof::Assertion { parties, .. } = &self.sign_in_proof else {
            return Ok(Cow::Borrowed(proof.token.expose()));
        };
        let jti = match proof.record {
            Some(key) if key.names_the_challenge() => Cow::Borrowed(key.as_str()),
            _ => Cow::Owned(assertion::random_jti()),
        };
        let assertion = assertion::sign(
            parties,
            credentials.usable_signing_key()?,
            proof.challenge,
            proof.profile,
            &jti,
            SystemTime::now(),
        );
        Ok(Cow::Owned(assertion.into_inner()))
    }
}

/// What the proof of one sign-in is made from.
struct ProofInput<'a> {
    challenge: &'a ValidatedChallenge,
    token: &'a AuthsignalToken,
    profile: Option<&'a UserProfile>,
    /// The challenge's replay record, when one was written.
    record: Option<&'a ChallengeKey>,
    /// The app's DPoP proof, forwarded with the token call (the same on a retry).
    dpop: Option<&'a DpopProof>,
}

/// How a sign-in failed after its challenge was claimed.
enum SignInFailure {
    /// The profile lookup failed: Auth0 was not called.
    LookupFailed(BridgeError),
    /// The call to Auth0 failed (or could not be made).
    ExchangeFailed(BridgeError),
}
use SignInFailure::{ExchangeFailed, LookupFailed};

impl SignInFailure {
    fn auth0_issued_nothing(&self) -> bool {
        match self {
            LookupFailed(_) => true,
            ExchangeFailed(error) => auth0_issued_nothing(error),
        }
    }

    fn into_error(self) -> BridgeError {
        match self {
            LookupFailed(error) | ExchangeFailed(error) => error,
        }
    }
}

/// Whether a failed exchange shows that Auth0 issued no tokens for the challenge, for a reason
/// outside the app's control, so that its replay record may be released and the app may retry
/// with the same token: the request could not be sent, Auth0 answered 5xx or 429, it rejected
/// the bridge's client credentials (even after a refresh, or the refresh itself failed), or
/// there was no time to call it. Releasing after a 5xx is a deliberate trade-off for
/// availability (a 5xx after the Login script ran is possible, if unlikely). After a timeout or
/// any other answer, Auth0 may have issued tokens: the record stays.
fn auth0_issued_nothing(error: &BridgeError) -> bool {
    match error {
        BridgeError::UpstreamUnavailable {
            upstream: Upstream::Auth0,
            fate,
            ..
        } => matches!(fate, RequestFate::NotSent | RequestFate::ServerError),
        BridgeError::RateLimited {
            upstream: Upstream::Auth0,
            ..
        }
        | BridgeError::CredentialsRejected {
            upstream: Upstream::Auth0,
        }
        | BridgeError::BudgetExhausted {
            upstream: Upstream::Auth0,
        } => true,
        // A 429, or Auth0 asking for a DPoP nonce (RFC 9449 section 8): the app signs a new
        // proof with the nonce and sends the same Authsignal token again.
        BridgeError::Auth0Rejected { status, code, .. } => {
            *status == reqwest::StatusCode::TOO_MANY_REQUESTS || code == "use_dpop_nonce"
        }
        // After the claim, the secret is read only to refresh credentials Auth0 rejected.
        BridgeError::CredentialsUnavailable(_)
        | BridgeError::UpstreamUnavailable {
            upstream: Upstream::SecretsManager,
            ..
        }
        | BridgeError::UpstreamTimeout {
            upstream: Upstream::SecretsManager,
        }
        | BridgeError::BudgetExhausted {
            upstream: Upstream::SecretsManager,
        } => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::PassthroughBody;
    use reqwest::StatusCode;

    fn unavailable(upstream: Upstream, fate: RequestFate) -> BridgeError {
        BridgeError::UpstreamUnavailable {
            upstream,
            detail: String::new(),
            fate,
        }
    }

    fn rejected(status: u16) -> BridgeError {
        rejected_with(status, "invalid_grant")
    }

    fn rejected_with(status: u16, code: &str) -> BridgeError {
        BridgeError::Auth0Rejected {
            status: StatusCode::from_u16(status).unwrap(),
            code: code.to_owned(),
            dpop_nonce: None,
            body: PassthroughBody(Default::default()),
            retry_after: None,
        }
    }

    #[test]
    fn the_record_is_released_only_when_auth0_certainly_issued_nothing() {
        let released = [
            unavailable(Upstream::Auth0, RequestFate::NotSent),
            unavailable(Upstream::Auth0, RequestFate::ServerError),
            BridgeError::RateLimited {
                upstream: Upstream::Auth0,
                retry_after: None,
            },
            rejected(429),
            rejected_with(400, "use_dpop_nonce"),
            BridgeError::CredentialsRejected {
                upstream: Upstream::Auth0,
            },
            BridgeError::BudgetExhausted {
                upstream: Upstream::Auth0,
            },
            BridgeError::CredentialsUnavailable(String::new()),
            BridgeError::UpstreamTimeout {
                upstream: Upstream::SecretsManager,
            },
        ];
        for error in &released {
            assert!(auth0_issued_nothing(error), "{error:?}");
        }
        let kept = [
            BridgeError::UpstreamTimeout {
                upstream: Upstream::Auth0,
            },
            unavailable(Upstream::Auth0, RequestFate::Unknown),
            rejected(403),
            rejected(400),
            rejected_with(400, "invalid_dpop_proof"),
        ];
        for error in &kept {
            assert!(!auth0_issued_nothing(error), "{error:?}");
        }
    }
}
