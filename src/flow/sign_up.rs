//! The start of a sign-up by verified email (docs/behaviour.md, "Sign-up"): the app gets a
//! token for its SDK's email challenge, and nothing about whether the address has an account.
//!
//! In order: the email's domain against `SIGN_UP_EMAIL_DOMAINS`; the cooldown records (per
//! email, per caller address); the Authsignal user whose *verified* email this is, else a new
//! user id (a random UUID), so an account whose email nobody proved is never handed out (a
//! squatter who typed someone's address first gains nothing); the sign-up action tracked for
//! that user with the email, the caller's IP and user agent, without `add:authenticators` (for
//! a user who has an authenticator already, only the email challenge gives the app that right).
//! Whatever the path, the answer is the same `{"token"}`. An account made here signs in only
//! once Authsignal reports its email verified (`Bridge::check_email_verified`).

use std::sync::Arc;

use crate::budget::Deadline;
use crate::email::EmailAddress;
use crate::error::{BridgeError, ChallengeRejection, SignUpRefusal};
use crate::flow::bridge::Bridge;
use crate::flow::operation::{Invocation, Success};
use crate::settings::SignUpSettings;
use crate::telemetry::{InvocationTrace, Stage};
use crate::tokens::AuthsignalToken;
use crate::upstream::authsignal::enrolment::{EmailOwner, SignUpAttributes};
use crate::upstream::authsignal::UserProfile;
use crate::upstream::credentials::Credentials;
use crate::upstream::sign_up_limits::SignUpLimits;

/// The longest user agent passed on to Authsignal.
pub const MAX_USER_AGENT_BYTES: usize = 512;

impl Bridge {
    /// Starts a sign-up for `email`: Authsignal's token for the app's email challenge.
    pub async fn sign_up(
        &self,
        email: &EmailAddress,
        user_agent: Option<&str>,
        invocation: &Invocation<'_>,
        trace: &mut InvocationTrace,
    ) -> Result<Success, BridgeError> {
        // The edge answers 404 without sign-up; this is the same answer, should it get here.
        let sign_up = self.sign_up.as_ref().ok_or(BridgeError::UnknownEndpoint)?;
        check_domain(&sign_up.settings, email)?;
        let deadline = &invocation.deadline;
        let mut credentials = self.credentials(deadline, trace).await?;
        let limits = &sign_up.limits;
        let cooldown = self.within_limits(limits, email, invocation, trace).await?;
        let started = self
            .track_sign_up(
                &sign_up.settings,
                email,
                user_agent,
                &mut credentials,
                invocation,
                trace,
            )
            .await;
        if started.is_err() {
            limits
                .take_back(&cooldown, invocation.request_id, deadline)
                .await;
        }
        started.map(Success::SignUpStarted)
    }

    /// The cooldown records: this email's cooldown and this address's count, side by side.
    /// The email's cooldown is taken back when the address is over its limit.
    async fn within_limits(
        &self,
        limits: &SignUpLimits,
        email: &EmailAddress,
        invocation: &Invocation<'_>,
        trace: &mut InvocationTrace,
    ) -> Result<crate::upstream::sign_up_limits::EmailCooldown, BridgeError> {
        let deadline = &invocation.deadline;
        let started = tokio::time::Instant::now();
        let (cooldown, counted) = tokio::join!(
            limits.start_email_cooldown(email.as_str(), invocation.request_id, deadline),
            limits.count_address(invocation.client_ip, deadline),
        );
        trace.add_latency(Stage::ReplayTable, started);
        let cooldown = cooldown?;
        if let Err(error) = counted {
            limits
                .take_back(&cooldown, invocation.request_id, deadline)
                .await;
            return Err(error);
        }
        Ok(cooldown)
    }

    /// The user to sign up (the one whose verified email this is, else a new one), and the
    /// sign-up action tracked for them.
    async fn track_sign_up(
        &self,
        settings: &SignUpSettings,
        email: &EmailAddress,
        user_agent: Option<&str>,
        credentials: &mut Arc<Credentials>,
        invocation: &Invocation<'_>,
        trace: &mut InvocationTrace,
    ) -> Result<AuthsignalToken, BridgeError> {
        let deadline = &invocation.deadline;
        let owners = self
            .email_owners(email, credentials, deadline, trace)
            .await?;
        let user_id = owners
            .into_iter()
            .find(|owner| owner.email_verified)
            .map_or_else(new_user_id, |owner| owner.user_id);
        trace.user_id = Some(user_id.clone());
        let attributes = SignUpAttributes {
            email: email.as_str(),
            ip_address: invocation.client_ip.map(|ip| ip.to_string()),
            user_agent,
        };
        let tracked = self
            .call_with_credentials(
                Stage::Enrolment,
                credentials,
                deadline,
                trace,
                |credentials| {
                    let (user_id, attributes) = (&user_id, &attributes);
                    async move {
                        self.authsignal
                            .track(
                                user_id,
                                &settings.action,
                                attributes,
                                &credentials.authsignal_secret,
                                deadline,
                            )
                            .await
                    }
                },
            )
            .await?;
        Ok(AuthsignalToken::new(tracked.token))
    }

    /// Authsignal's users whose email is `email`.
    async fn email_owners(
        &self,
        email: &EmailAddress,
        credentials: &mut Arc<Credentials>,
        deadline: &Deadline,
        trace: &mut InvocationTrace,
    ) -> Result<Vec<EmailOwner>, BridgeError> {
        self.call_with_credentials(
            Stage::Enrolment,
            credentials,
            deadline,
            trace,
            |credentials| async move {
                self.authsignal
                    .users_with_email(email.as_str(), &credentials.authsignal_secret, deadline)
                    .await
            },
        )
        .await
    }

    /// With sign-up on, a sign-in is refused while the user has an email Authsignal does not
    /// report verified: the account may have been started by someone who typed another's
    /// address (a user without an email came from elsewhere, and is not refused).
    pub(super) fn check_email_verified(
        &self,
        profile: Option<&UserProfile>,
    ) -> Result<(), BridgeError> {
        let unverified = profile
            .is_some_and(|profile| profile.email.is_some() && profile.email_verified != Some(true));
        if self.sign_up.is_some() && unverified {
            return Err(BridgeError::ChallengeRejected(
                ChallengeRejection::EmailNotVerified,
            ));
        }
        Ok(())
    }
}

/// `SIGN_UP_EMAIL_DOMAINS`, when set, names the email's domain.
fn check_domain(settings: &SignUpSettings, email: &EmailAddress) -> Result<(), BridgeError> {
    match &settings.email_domains {
        Some(domains) if !domains.iter().any(|domain| domain == email.domain()) => {
            Err(BridgeError::SignUpRefused(SignUpRefusal::DomainNotAllowed))
        }
        _ => Ok(()),
    }
}

/// A new Authsignal user id: a random (version 4) UUID, as Authsignal's own examples make them.
fn new_user_id() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system's random source");
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_user_ids_are_random_version_4_uuids() {
        let (one, two) = (new_user_id(), new_user_id());
        assert_ne!(one, two);
        let parts: Vec<&str> = one.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'), "{one}");
        assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"), "{one}");
    }
}
