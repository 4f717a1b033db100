//! The passkey sign-in, in three steps: validate the Authsignal token (and, alongside it, read
//! the profile of the user the token names); then, side by side, make its challenge single-use
//! (the replay record) and read the profile if it is still needed; then prove the sign-in to
//! Auth0 ([`crate::flow::exchange`]), taking the record back when Auth0 certainly issued
//! nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::budget::Deadline;
use crate::error::{BridgeError, CallError};
use crate::flow::bridge::Bridge;
use crate::flow::exchange::ProofInput;
use crate::flow::one_time::Claim;
use crate::flow::operation::Invocation;
use crate::settings::SignInProof;
use crate::telemetry::{InvocationTrace, ProfileLookup, Stage};
use crate::tokens::{AuthsignalToken, DpopProof, TokenResponse};
use crate::upstream::authsignal::token::embedded_user;
use crate::upstream::authsignal::{UserProfile, ValidatedChallenge};
use crate::upstream::credentials::Credentials;

/// The profile lookup made alongside `/validate`, for the user the token names.
struct EarlyProfile {
    user_id: String,
    looked_up: Result<UserProfile, CallError>,
    elapsed: Duration,
}

/// What became of the early lookup by the time `/validate` answered.
enum EarlyLookup {
    /// None was started: the sign-in needs no profile, or the token names no user we can read.
    NotStarted,
    /// It was for another user than `/validate` named, and was dropped unfinished.
    Abandoned,
    Answered(EarlyProfile),
}

impl Bridge {
    /// Validates `token` with Authsignal and, only if the challenge succeeded (and, with replay
    /// protection on, was not used before), signs the user in at Auth0.
    pub async fn sign_in(
        &self,
        token: &AuthsignalToken,
        dpop: Option<&DpopProof>,
        invocation: &Invocation<'_>,
        trace: &mut InvocationTrace,
    ) -> Result<TokenResponse, BridgeError> {
        let deadline = &invocation.deadline;
        let mut credentials = self.credentials(deadline, trace).await?;
        self.check_signing_key(&credentials)?;
        let (challenge, early) = self
            .validate_alongside_profile(token, &mut credentials, deadline, trace)
            .await?;
        let (claim, profile) = self
            .claim_and_look_up(
                &challenge,
                token,
                early,
                &mut credentials,
                invocation,
                trace,
            )
            .await?;
        let proof = ProofInput {
            challenge: &challenge,
            token,
            profile: profile.as_ref(),
            record: claim.as_ref().map(|claim| &claim.key),
            dpop,
        };
        self.exchange_or_release(&proof, claim.as_ref(), &mut credentials, invocation, trace)
            .await
    }

    /// No usable key, no sign-in, and never the token instead: with assertions this is the
    /// configuration 500, answered before Authsignal is asked, so the token stays unused.
    fn check_signing_key(&self, credentials: &Credentials) -> Result<(), BridgeError> {
        if let SignInProof::Assertion { .. } = self.sign_in_proof {
            credentials.usable_signing_key()?;
        }
        Ok(())
    }

    /// Step 1: Authsignal's verdict on the token, and alongside it the profile of the user the
    /// token names, when the sign-in needs one and the token is one Authsignal signed with our
    /// key (`upstream::authsignal::token`). A refused token ends the sign-in at once, and a
    /// lookup for another user than `/validate` names is not waited for: either is dropped
    /// unfinished, and its answer is never used.
    async fn validate_alongside_profile(
        &self,
        token: &AuthsignalToken,
        credentials: &mut Arc<Credentials>,
        deadline: &Deadline,
        trace: &mut InvocationTrace,
    ) -> Result<(ValidatedChallenge, EarlyLookup), BridgeError> {
        let early_user = self
            .sign_in_proof
            .looks_up_profile()
            .then(|| embedded_user(token.expose(), &credentials.authsignal_secret))
            .flatten();
        let Some(early_user) = early_user else {
            let challenge = self.validate(token, credentials, deadline, trace).await?;
            return Ok((challenge, EarlyLookup::NotStarted));
        };
        let early = self.early_profile(early_user.clone(), credentials.clone(), deadline);
        let validate = self.validate(token, credentials, deadline, trace);
        tokio::pin!(early, validate);
        let mut answered = None;
        let challenge = loop {
            tokio::select! {
                validated = &mut validate => break validated?,
                profile = &mut early, if answered.is_none() => answered = Some(profile),
            }
        };
        let early = match answered {
            Some(profile) => EarlyLookup::Answered(profile),
            None if early_user == challenge.user_id => EarlyLookup::Answered(early.await),
            None => EarlyLookup::Abandoned,
        };
        Ok((challenge, early))
    }

    /// The profile of `user_id`, looked up once with the credentials at hand (no refresh: a
    /// failure here only means the lookup is made again after `/validate`, which may refresh).
    async fn early_profile(
        &self,
        user_id: String,
        credentials: Arc<Credentials>,
        deadline: &Deadline,
    ) -> EarlyProfile {
        let started = Instant::now();
        let looked_up = self
            .authsignal
            .user_profile(&user_id, &credentials.authsignal_secret, deadline)
            .await;
        EarlyProfile {
            user_id,
            looked_up,
            elapsed: started.elapsed(),
        }
    }

    /// Authsignal's `/validate` (`crate::upstream::authsignal` decides what counts as a
    /// succeeded challenge).
    async fn validate(
        &self,
        token: &AuthsignalToken,
        credentials: &mut Arc<Credentials>,
        deadline: &Deadline,
        trace: &mut InvocationTrace,
    ) -> Result<ValidatedChallenge, BridgeError> {
        let challenge = self
            .call_with_credentials(
                Stage::Validate,
                credentials,
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
        Ok(challenge)
    }

    /// Step 2: the one-time claim and, when step 1 did not already bring it, the profile
    /// lookup, side by side (both need only the validated user). A failed claim ends the
    /// sign-in; so does a failed lookup, or a profile whose email sign-up has not seen
    /// verified, after the record it claimed is taken back (Auth0 never saw this sign-in).
    async fn claim_and_look_up<'a>(
        &'a self,
        challenge: &ValidatedChallenge,
        token: &AuthsignalToken,
        early: EarlyLookup,
        credentials: &mut Arc<Credentials>,
        invocation: &Invocation<'_>,
        trace: &mut InvocationTrace,
    ) -> Result<(Option<Claim<'a>>, Option<UserProfile>), BridgeError> {
        let known = self.settle_early_profile(challenge, early, trace);
        let claim = self.claim_for(challenge, token);
        let (written, profile) = tokio::join!(
            async {
                match &claim {
                    Some(claim) => Some(claim.write(invocation).await),
                    None => None,
                }
            },
            async {
                match known {
                    Some(profile) => Ok(Some(profile)),
                    None => {
                        self.user_profile(challenge, credentials, &invocation.deadline, trace)
                            .await
                    }
                }
            },
        );
        if let (Some(claim), Some(written)) = (&claim, written) {
            self.settle_claim(claim, written, invocation, trace).await?;
        }
        let profile = profile.and_then(|profile| {
            self.check_email_verified(profile.as_ref())?;
            Ok(profile)
        });
        match profile {
            Ok(profile) => Ok((claim, profile)),
            Err(error) => {
                if let Some(claim) = &claim {
                    self.release(claim, invocation, trace).await;
                }
                Err(error)
            }
        }
    }

    /// The early profile when `/validate` confirmed the user it was read for, else `None` (the
    /// lookup is made again, for the validated user); says which it was in the trace.
    fn settle_early_profile(
        &self,
        challenge: &ValidatedChallenge,
        early: EarlyLookup,
        trace: &mut InvocationTrace,
    ) -> Option<UserProfile> {
        if !self.sign_in_proof.looks_up_profile() {
            return None;
        }
        let early = match early {
            EarlyLookup::NotStarted => {
                trace.profile_lookup = Some(ProfileLookup::AfterValidate);
                return None;
            }
            EarlyLookup::Abandoned => {
                trace.profile_lookup = Some(ProfileLookup::RepeatedAfterValidate);
                return None;
            }
            EarlyLookup::Answered(early) => early,
        };
        trace.add_elapsed(Stage::ProfileLookup, early.elapsed);
        match early.looked_up {
            Ok(profile) if early.user_id == challenge.user_id => {
                trace.profile_lookup = Some(ProfileLookup::AlongsideValidate);
                Some(profile)
            }
            _ => {
                trace.profile_lookup = Some(ProfileLookup::RepeatedAfterValidate);
                None
            }
        }
    }

    /// The validated user's profile at Authsignal, when the assertion carries one
    /// (`AUTHSIGNAL_PROFILE`).
    async fn user_profile(
        &self,
        challenge: &ValidatedChallenge,
        credentials: &mut Arc<Credentials>,
        deadline: &Deadline,
        trace: &mut InvocationTrace,
    ) -> Result<Option<UserProfile>, BridgeError> {
        if !self.sign_in_proof.looks_up_profile() {
            return Ok(None);
        }
        self.call_with_credentials(
            Stage::ProfileLookup,
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
}
