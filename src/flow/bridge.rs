//! The flow, one function per operation: the passkey sign-in (validate the Authsignal token,
//! then exchange it at Auth0), the refresh and the revocation (at Auth0, with the client
//! credentials only the bridge holds). Knows nothing about API Gateway: the HTTP edge decodes a
//! request into an [`Operation`], calls [`Bridge::perform`], and turns the result into an answer.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{BridgeError, CallError, RequestFate, Upstream};
use crate::flow::operation::{Invocation, Operation, Success};
use crate::settings::Settings;
use crate::tokens::{AuthsignalToken, RefreshToken, TokenResponse};
use crate::upstream::auth0::{Auth0Client, Revocation};
use crate::upstream::authsignal::AuthsignalClient;
use crate::upstream::authsignal::ValidatedChallenge;
use crate::upstream::budget::Deadline;
use crate::upstream::credentials::{Credentials, CredentialsCache, CredentialsSource, Refresh};
use crate::upstream::http_client::build_http_client;
use crate::upstream::replay::{ChallengeKey, Release, ReplayGuard};

/// What happened during one invocation, for the summary log line (success or not).
#[derive(Debug, Default, Clone)]
pub struct ExchangeTrace {
    /// Time spent reading the secret (only when this invocation read it).
    pub secrets_manager_latency: Option<Duration>,
    pub authsignal_latency: Option<Duration>,
    pub auth0_latency: Option<Duration>,
    /// Time spent on the replay record (write, and release when made).
    pub dynamodb_latency: Option<Duration>,
    /// What became of the replay record: `written`, `released`, `not_ours` (a release found
    /// no record of this invocation), `release_failed`.
    pub replay_record: Option<&'static str>,
    /// Authsignal's user id once the token was validated (sign-in only).
    pub user_id: Option<String>,
    /// Whether this invocation re-read the secret after an upstream rejected the credentials.
    pub credentials_refreshed: bool,
    /// Whether this invocation already asked for a refresh: at most once per invocation (the
    /// cache also limits forced refreshes to one per 30 s per execution environment).
    pub refresh_requested: bool,
}

impl ExchangeTrace {
    fn add_latency(&mut self, upstream: Upstream, started: Instant) {
        let total = match upstream {
            Upstream::Authsignal => &mut self.authsignal_latency,
            Upstream::Auth0 => &mut self.auth0_latency,
            Upstream::SecretsManager => &mut self.secrets_manager_latency,
            Upstream::DynamoDb => &mut self.dynamodb_latency,
        };
        *total = Some(total.unwrap_or_default() + started.elapsed());
    }
}

pub struct Bridge {
    credentials: CredentialsCache,
    authsignal: AuthsignalClient,
    auth0: Auth0Client,
    /// The replay table, when `REPLAY_TABLE` is set.
    replay: Option<ReplayGuard>,
}

impl Bridge {
    /// Builds the bridge once per execution environment: the one HTTP client, the credentials
    /// cache over `source`, both upstream clients, and the replay table's guard when there is
    /// one.
    pub fn from_settings(
        settings: &Settings,
        source: CredentialsSource,
        replay: Option<ReplayGuard>,
    ) -> reqwest::Result<Self> {
        let http = build_http_client(settings.connect_timeout())?;
        let credentials = CredentialsCache::new(source, settings.secret_cache_ttl);
        Ok(Bridge {
            credentials,
            authsignal: AuthsignalClient::new(
                http.clone(),
                &settings.authsignal_api_url,
                settings.authsignal_action.clone(),
                settings.verification_methods.clone(),
            ),
            auth0: Auth0Client::new(http, settings),
            replay,
        })
    }

    /// Work done once during Lambda's init phase, so that the first request finds the
    /// credentials cached and the connections (TCP and TLS) to both upstreams open: init is
    /// on the first caller's path too on an on-demand cold start, but reported to run with
    /// more CPU than small memory sizes give later, and it is off every path with provisioned
    /// concurrency. Never fails: whatever goes wrong here, the first request tries again.
    pub async fn warm_up(&self, deadline: &Deadline) {
        // With a TTL of 0 nothing fetched now could serve the first request.
        if self.credentials.caches() {
            if let Err(error) = self.credentials.get(deadline, &mut None).await {
                tracing::warn!(
                    error = %error.log_detail(),
                    "could not read the credentials during init; the first request will try again"
                );
            }
        }
        let replay = async {
            if let Some(replay) = &self.replay {
                replay.warm_up(deadline).await;
            }
        };
        tokio::join!(
            self.authsignal.warm_up(deadline),
            self.auth0.warm_up(deadline),
            replay
        );
    }

    /// Carries out one operation: the only place that tells them apart.
    pub async fn perform(
        &self,
        operation: &Operation,
        invocation: &Invocation<'_>,
        trace: &mut ExchangeTrace,
    ) -> Result<Success, BridgeError> {
        match operation {
            Operation::SignIn { token } => self
                .sign_in(token, invocation, trace)
                .await
                .map(Success::Tokens),
            Operation::Refresh {
                refresh_token,
                scope,
            } => self
                .refresh(refresh_token, scope.as_deref(), invocation, trace)
                .await
                .map(Success::Tokens),
            Operation::Revoke { token } => self.revoke(token, invocation, trace).await,
        }
    }

    /// Validates `token` with Authsignal and, only if the challenge succeeded (and, with replay
    /// protection on, was not used before), exchanges it at Auth0 (the password-realm grant).
    pub async fn sign_in(
        &self,
        token: &AuthsignalToken,
        invocation: &Invocation<'_>,
        trace: &mut ExchangeTrace,
    ) -> Result<TokenResponse, BridgeError> {
        let deadline = &invocation.deadline;
        let mut credentials = self.credentials(deadline, trace).await?;
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
        let Some(replay) = &self.replay else {
            return self
                .exchange(
                    &challenge,
                    token,
                    &mut credentials,
                    invocation,
                    deadline,
                    trace,
                )
                .await;
        };

        let key = ChallengeKey::of(&challenge, token);
        let started = Instant::now();
        let claimed = replay.claim(&key, invocation.request_id, deadline).await;
        trace.add_latency(Upstream::DynamoDb, started);
        if let Err(error) = claimed {
            // A write whose answer never came (a timeout, a broken connection, a 5xx) may have
            // landed: take it back, so that the app's retry is not refused as a replay. Auth0
            // was not called, so nothing was issued for the challenge.
            if write_may_have_landed(&error) {
                self.release(replay, &key, invocation, deadline, trace)
                    .await;
            }
            return Err(error);
        }
        trace.replay_record = Some("written");
        // Auth0 is called only while time for the release remains after it.
        let until_release = deadline.reserving(replay.call_time(deadline));
        let result = self
            .exchange(
                &challenge,
                token,
                &mut credentials,
                invocation,
                &until_release,
                trace,
            )
            .await;
        if result.as_ref().is_err_and(auth0_issued_nothing) {
            self.release(replay, &key, invocation, deadline, trace)
                .await;
        }
        result
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

    /// The credentials for this invocation's first call (cached, or read now).
    async fn credentials(
        &self,
        deadline: &Deadline,
        trace: &mut ExchangeTrace,
    ) -> Result<Arc<Credentials>, BridgeError> {
        self.credentials
            .get(deadline, &mut trace.secrets_manager_latency)
            .await
    }

    /// The sign-in's exchange at Auth0, for the validated `challenge`. Auth0 checks client
    /// credentials before running the connection's Login script, so after a 401 the Authsignal
    /// token is still unused and the retry is safe.
    async fn exchange(
        &self,
        challenge: &ValidatedChallenge,
        token: &AuthsignalToken,
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
                self.auth0
                    .exchange(
                        &challenge.user_id,
                        token.expose(),
                        &credentials,
                        invocation.client_ip,
                        deadline,
                    )
                    .await
            },
        )
        .await
    }

    /// Redeems `refresh_token` at Auth0 with the bridge's client credentials. Authsignal is not
    /// involved: the refresh token is the proof.
    pub async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        scope: Option<&str>,
        invocation: &Invocation<'_>,
        trace: &mut ExchangeTrace,
    ) -> Result<TokenResponse, BridgeError> {
        let deadline = &invocation.deadline;
        let mut credentials = self.credentials(deadline, trace).await?;
        self.call_with_credentials(
            Upstream::Auth0,
            &mut credentials,
            deadline,
            trace,
            |credentials| async move {
                self.auth0
                    .refresh(
                        refresh_token,
                        scope,
                        &credentials,
                        invocation.client_ip,
                        deadline,
                    )
                    .await
            },
        )
        .await
    }

    /// Revokes `token` at Auth0. An answer saying the token is invalid or already revoked is a
    /// success for the app (RFC 7009 section 2.2), logged as a WARN for the operator.
    pub async fn revoke(
        &self,
        token: &RefreshToken,
        invocation: &Invocation<'_>,
        trace: &mut ExchangeTrace,
    ) -> Result<Success, BridgeError> {
        let deadline = &invocation.deadline;
        let mut credentials = self.credentials(deadline, trace).await?;
        let revocation = self
            .call_with_credentials(
                Upstream::Auth0,
                &mut credentials,
                deadline,
                trace,
                |credentials| async move { self.auth0.revoke(token, &credentials, deadline).await },
            )
            .await?;
        Ok(match revocation {
            Revocation::Revoked => Success::Revoked,
            Revocation::NotActive { auth0_error } => {
                tracing::warn!(
                    auth0_error = %auth0_error,
                    "Auth0 did not revoke the token (invalid, expired or already revoked); the app gets 200 as RFC 7009 says"
                );
                Success::NothingToRevoke { auth0_error }
            }
        })
    }

    /// Makes `call` with `credentials`; when the upstream rejects them, refreshes them and
    /// makes it once more (at most one refresh per invocation, whichever upstream asked).
    async fn call_with_credentials<T, Call, Answer>(
        &self,
        upstream: Upstream,
        credentials: &mut Arc<Credentials>,
        deadline: &Deadline,
        trace: &mut ExchangeTrace,
        mut call: Call,
    ) -> Result<T, BridgeError>
    where
        Call: FnMut(Arc<Credentials>) -> Answer,
        Answer: Future<Output = Result<T, CallError>>,
    {
        loop {
            let started = Instant::now();
            let result = call(credentials.clone()).await;
            trace.add_latency(upstream, started);
            match result {
                Ok(answer) => return Ok(answer),
                Err(CallError::Failed(error)) => return Err(error),
                Err(CallError::CredentialsRejected) => {
                    *credentials = self
                        .refreshed(credentials, upstream, deadline, trace)
                        .await?;
                }
            }
        }
    }

    /// New credentials to retry with after `upstream` rejected `rejected`, or the 500 answer
    /// when this invocation already refreshed or there is nothing new to try.
    async fn refreshed(
        &self,
        rejected: &Arc<Credentials>,
        upstream: Upstream,
        deadline: &Deadline,
        trace: &mut ExchangeTrace,
    ) -> Result<Arc<Credentials>, BridgeError> {
        if trace.refresh_requested {
            return Err(BridgeError::CredentialsRejected { upstream });
        }
        trace.refresh_requested = true;
        tracing::warn!(%upstream, "upstream rejected the credentials; refreshing them");
        let refresh = self
            .credentials
            .refresh_after_rejection(rejected, deadline, &mut trace.secrets_manager_latency)
            .await?;
        match refresh {
            Refresh::Changed(fresh) => {
                trace.credentials_refreshed = true;
                Ok(fresh)
            }
            Refresh::AlreadyNewer(newer) => Ok(newer),
            Refresh::Unchanged => {
                trace.credentials_refreshed = true;
                Err(BridgeError::CredentialsRejected { upstream })
            }
            Refresh::TooSoon => Err(BridgeError::CredentialsRejected { upstream }),
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
        BridgeError::Auth0Rejected { status, .. } => {
            *status == reqwest::StatusCode::TOO_MANY_REQUESTS
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

/// Whether a replay record write that failed may still have landed in the table: its answer
/// timed out, broke off, or was a 5xx (not a throttle, a refusal of our configuration, or a
/// connection that was never made).
fn write_may_have_landed(error: &BridgeError) -> bool {
    match error {
        BridgeError::UpstreamTimeout {
            upstream: Upstream::DynamoDb,
        } => true,
        BridgeError::UpstreamUnavailable {
            upstream: Upstream::DynamoDb,
            fate,
            ..
        } => *fate != RequestFate::NotSent,
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
        BridgeError::Auth0Rejected {
            status: StatusCode::from_u16(status).unwrap(),
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
        ];
        for error in &kept {
            assert!(!auth0_issued_nothing(error), "{error:?}");
        }
    }

    #[test]
    fn a_write_whose_answer_never_came_may_have_landed() {
        assert!(write_may_have_landed(&BridgeError::UpstreamTimeout {
            upstream: Upstream::DynamoDb
        }));
        assert!(write_may_have_landed(&unavailable(
            Upstream::DynamoDb,
            RequestFate::ServerError
        )));
        assert!(write_may_have_landed(&unavailable(
            Upstream::DynamoDb,
            RequestFate::Unknown
        )));
        for error in [
            unavailable(Upstream::DynamoDb, RequestFate::NotSent),
            BridgeError::Replayed,
            BridgeError::Throttled {
                upstream: Upstream::DynamoDb,
                detail: String::new(),
            },
            BridgeError::ReplayTableUnusable(String::new()),
        ] {
            assert!(!write_may_have_landed(&error), "{error:?}");
        }
    }
}
