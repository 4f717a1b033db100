//! What the sign-up asks Authsignal (docs/behaviour.md, "Sign-up"): the users an email address
//! belongs to, and a tracked action whose token the app's SDK runs the email challenge with.
//!
//! API: <https://docs.authsignal.com/api-reference/server-api/query-users> (`GET
//! /users?email=`, the SDKs' `queryUsers`: `{users: [{userId, email, emailVerified, ...}]}`, an
//! empty list when none) and <https://docs.authsignal.com/api-reference/server-api/track-action>
//! (`POST /users/{userId}/actions/{action}`, which creates an unknown user with the attributes
//! given: `{token, state, ...}`). Same Basic auth, and the same reading of failures, as
//! `/validate`.

use reqwest::Method;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{read_status, send, user_path_segment, AuthsignalClient, Call};
use crate::budget::Deadline;
use crate::error::{BridgeError, CallError, SignUpRefusal, Upstream};
use crate::upstream::http_client::endpoint;

/// A user Authsignal holds for an email address, and whether it verified that address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailOwner {
    pub user_id: String,
    pub email_verified: bool,
}

/// What a tracked action gave: the token for the app's SDK. No `Debug`: the token is a
/// credential for the email challenge.
pub struct TrackedAction {
    pub token: String,
}

/// The attributes of a sign-up's tracked action.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignUpAttributes<'a> {
    pub email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<&'a str>,
}

#[derive(Deserialize)]
struct UsersAnswer {
    users: Vec<UserEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserEntry {
    user_id: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: bool,
}

#[derive(Deserialize)]
struct TrackAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

/// Authsignal's rules refused the action outright.
const BLOCK: &str = "BLOCK";

/// Sends one of the sign-up's requests and reads its answer as `T` (`what` it is, for the log).
async fn call<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
    deadline: &Deadline,
    what: &str,
) -> Result<T, CallError> {
    let answer = send(request, deadline).await?;
    read_status(Call::Enrolment, answer.status, &answer.headers)?;
    serde_json::from_slice(&answer.body).map_err(|_| {
        CallError::Failed(BridgeError::unavailable(
            Upstream::Authsignal,
            format!("answer is not {what}"),
        ))
    })
}

impl AuthsignalClient {
    /// The users whose email is `email` (at most a page of them: the sign-up needs one). Only
    /// users whose listed email is that address, in any case, are kept: how Authsignal matches
    /// the query (exactly, by case, by prefix) is its own, and an account for another address
    /// must never be handed out.
    pub async fn users_with_email(
        &self,
        email: &str,
        secret_key: &SecretString,
        deadline: &Deadline,
    ) -> Result<Vec<EmailOwner>, CallError> {
        let mut url = endpoint(&self.api_url, "users");
        url.query_pairs_mut().append_pair("email", email);
        let request = self.request(Method::GET, url, secret_key);
        let users: UsersAnswer = call(request, deadline, "a list of users").await?;
        Ok(users
            .users
            .into_iter()
            .filter(|user| {
                !user.user_id.is_empty()
                    && user
                        .email
                        .as_deref()
                        .is_some_and(|listed| listed.eq_ignore_ascii_case(email))
            })
            .map(|user| EmailOwner {
                user_id: user.user_id,
                email_verified: user.email_verified,
            })
            .collect())
    }

    /// Tracks `action` for `user_id` (creating the user when Authsignal has none) and returns
    /// the token for the app's SDK; Authsignal's rules blocking it is a refusal.
    pub async fn track(
        &self,
        user_id: &str,
        action: &str,
        attributes: &SignUpAttributes<'_>,
        secret_key: &SecretString,
        deadline: &Deadline,
    ) -> Result<TrackedAction, CallError> {
        let url = endpoint(
            &self.api_url,
            &format!("users/{}/actions/{action}", user_path_segment(user_id)),
        );
        let request = self.request(Method::POST, url, secret_key).json(attributes);
        let tracked: TrackAnswer = call(request, deadline, "a tracked action").await?;
        if tracked.state.as_deref() == Some(BLOCK) {
            return Err(BridgeError::SignUpRefused(SignUpRefusal::Blocked).into());
        }
        match tracked.token.filter(|token| !token.is_empty()) {
            Some(token) => Ok(TrackedAction { token }),
            None => Err(CallError::Failed(BridgeError::unavailable(
                Upstream::Authsignal,
                "tracked action without a token",
            ))),
        }
    }
}
