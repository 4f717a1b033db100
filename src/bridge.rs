//! The flow: validate the Authsignal token, then exchange it at Auth0. Knows nothing about API
//! Gateway; the HTTP edge turns requests into calls of [`Bridge::exchange`] and results back into
//! answers.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::auth0::{Auth0Client, ExchangeError, TokenResponse};
use crate::authsignal::{AuthsignalClient, ValidateError};
use crate::budget::Deadline;
use crate::credentials::{Credentials, CredentialsCache, CredentialsSource, Refresh};
use crate::error::{BridgeError, Upstream};
use crate::settings::Settings;
use crate::upstream::build_http_client;

/// The token the app got from Authsignal's SDK. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthsignalToken(String);

impl AuthsignalToken {
    /// Wraps a token the HTTP edge has already checked against the contract's limits.
    pub fn new(token: String) -> Self {
        AuthsignalToken(token)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AuthsignalToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthsignalToken([REDACTED])")
    }
}

/// What happened during one exchange, for the summary log line (success or not).
#[derive(Debug, Default, Clone)]
pub struct ExchangeTrace {
    /// Time spent reading the secret (only when this invocation read it).
    pub secrets_manager_latency: Option<Duration>,
    pub authsignal_latency: Option<Duration>,
    pub auth0_latency: Option<Duration>,
    /// Authsignal's user id once the token was validated.
    pub user_id: Option<String>,
    /// Whether this invocation re-read the secret after an upstream rejected the credentials.
    pub credentials_refreshed: bool,
    /// Whether this invocation already asked for a refresh: at most once per invocation (the
    /// cache also limits forced refreshes to one per 30 s per execution environment).
    pub refresh_requested: bool,
}

pub struct Bridge {
    credentials: CredentialsCache,
    authsignal: AuthsignalClient,
    auth0: Auth0Client,
}

impl Bridge {
    /// Builds the bridge once per execution environment: the one HTTP client, the credentials
    /// cache over `source`, and both upstream clients.
    pub fn from_settings(settings: &Settings, source: CredentialsSource) -> reqwest::Result<Self> {
        let http = build_http_client(settings.connect_timeout())?;
        let credentials = CredentialsCache::new(source, settings.secret_cache_ttl);
        Ok(Bridge::new(settings, http, credentials))
    }

    /// Builds the bridge around an existing HTTP client and credentials cache.
    pub fn new(settings: &Settings, http: reqwest::Client, credentials: CredentialsCache) -> Self {
        Bridge {
            credentials,
            authsignal: AuthsignalClient::new(
                http.clone(),
                &settings.authsignal_api_url,
                settings.authsignal_action.clone(),
            ),
            auth0: Auth0Client::new(http, settings),
        }
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
        tokio::join!(
            self.authsignal.warm_up(deadline),
            self.auth0.warm_up(deadline)
        );
    }

    /// Validates `token` with Authsignal and, only if the challenge succeeded, exchanges it at
    /// Auth0. When an upstream rejects our credentials, they are refreshed and the call retried,
    /// at most once per invocation.
    pub async fn exchange(
        &self,
        token: &AuthsignalToken,
        client_ip: Option<IpAddr>,
        deadline: &Deadline,
        trace: &mut ExchangeTrace,
    ) -> Result<TokenResponse, BridgeError> {
        let mut credentials = self
            .credentials
            .get(deadline, &mut trace.secrets_manager_latency)
            .await?;

        let challenge = loop {
            let started = Instant::now();
            let result = self
                .authsignal
                .validate(token.expose(), &credentials.authsignal_secret, deadline)
                .await;
            add_latency(&mut trace.authsignal_latency, started);
            match result {
                Ok(challenge) => break challenge,
                Err(ValidateError::Other(error)) => return Err(error),
                Err(ValidateError::CredentialsRejected) => {
                    credentials = self
                        .refreshed(&credentials, Upstream::Authsignal, deadline, trace)
                        .await?;
                }
            }
        };
        tracing::debug!(user_id = %challenge.user_id, action = ?challenge.action, "challenge validated");
        trace.user_id = Some(challenge.user_id.clone());

        loop {
            let started = Instant::now();
            let result = self
                .auth0
                .exchange(
                    &challenge.user_id,
                    token.expose(),
                    &credentials,
                    client_ip,
                    deadline,
                )
                .await;
            add_latency(&mut trace.auth0_latency, started);
            match result {
                Ok(tokens) => return Ok(tokens),
                Err(ExchangeError::Other(error)) => return Err(error),
                // Auth0 checks client credentials before running the connection's Login
                // script, so the Authsignal token is still unused and the retry is safe.
                Err(ExchangeError::CredentialsRejected) => {
                    credentials = self
                        .refreshed(&credentials, Upstream::Auth0, deadline, trace)
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

fn add_latency(total: &mut Option<Duration>, started: Instant) {
    *total = Some(total.unwrap_or_default() + started.elapsed());
}
