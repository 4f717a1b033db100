//! The sign-in's last step: the proof to Auth0 (the bridge's signed assertion, or the
//! Authsignal token itself, as `AUTH0_SIGN_IN_PROOF` chose), and the rule that decides when the
//! challenge's replay record is taken back because Auth0 certainly issued nothing.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use crate::budget::Deadline;
use crate::error::{BridgeError, RequestFate, Upstream};
use crate::flow::assertion;
use crate::flow::bridge::Bridge;
use crate::flow::one_time::Claim;
use crate::flow::operation::Invocation;
use crate::settings::SignInProof;
use crate::telemetry::{InvocationTrace, Stage};
use crate::tokens::{AuthsignalToken, DpopProof, TokenResponse};
use crate::upstream::auth0::ForCaller;
use crate::upstream::authsignal::{UserProfile, ValidatedChallenge};
use crate::upstream::credentials::Credentials;
use crate::upstream::replay::ChallengeKey;

impl Bridge {
    /// Step 3: the proof to Auth0; when Auth0 certainly issued nothing for a reason outside the
    /// app's control, the claimed record is taken back so that the app may retry with the same
    /// token. Auth0 is called only while time for that release remains after it.
    pub(super) async fn exchange_or_release(
        &self,
        proof: &ProofInput<'_>,
        claim: Option<&Claim<'_>>,
        credentials: &mut Arc<Credentials>,
        invocation: &Invocation<'_>,
        trace: &mut InvocationTrace,
    ) -> Result<TokenResponse, BridgeError> {
        let deadline = &invocation.deadline;
        let until_release = match claim {
            Some(claim) => deadline.reserving(claim.replay.call_time(deadline)),
            None => *deadline,
        };
        let exchanged = self
            .exchange(proof, credentials, invocation, &until_release, trace)
            .await;
        if let (Err(error), Some(claim)) = (&exchanged, claim) {
            if auth0_issued_nothing(error) {
                self.release(claim, invocation, trace).await;
            }
        }
        exchanged
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
        trace: &mut InvocationTrace,
    ) -> Result<TokenResponse, BridgeError> {
        self.call_with_credentials(
            Stage::Auth0,
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
pub(super) struct ProofInput<'a> {
    pub(super) challenge: &'a ValidatedChallenge,
    pub(super) token: &'a AuthsignalToken,
    pub(super) profile: Option<&'a UserProfile>,
    /// The challenge's replay record, when one was written.
    pub(super) record: Option<&'a ChallengeKey>,
    /// The app's DPoP proof, forwarded with the token call (the same on a retry).
    pub(super) dpop: Option<&'a DpopProof>,
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
        // The answer came from Auth0 (or may have: a timeout, an unusable answer), or the
        // failure is not Auth0's: Auth0 may have issued tokens, or was never to be called.
        BridgeError::UpstreamUnavailable { .. }
        | BridgeError::UpstreamTimeout { .. }
        | BridgeError::RateLimited { .. }
        | BridgeError::CredentialsRejected { .. }
        | BridgeError::BudgetExhausted { .. }
        | BridgeError::MethodNotAllowed
        | BridgeError::BodyTooLarge
        | BridgeError::UnknownEndpoint
        | BridgeError::InvalidRequest(_)
        | BridgeError::UnsupportedGrantType
        | BridgeError::ChallengeRejected(_)
        | BridgeError::Replayed
        | BridgeError::InvalidDpopProof(_)
        | BridgeError::Misconfigured
        | BridgeError::Throttled { .. }
        | BridgeError::ReplayTableUnusable(_)
        | BridgeError::SignUpRefused(_)
        | BridgeError::SignUpCooldown { .. } => false,
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
