//! The flow, one function per operation: the passkey sign-in (in [`crate::flow::sign_in`]), the
//! refresh and the revocation (at Auth0, with the client credentials only the bridge holds),
//! and what they share: the credentials, and the refresh-once rule when an upstream rejects
//! them. Knows nothing about API Gateway: the HTTP edge decodes a request into an
//! [`Operation`], calls [`Bridge::perform`], and turns the result into an answer.

use std::future::Future;
use std::sync::Arc;
use tokio::time::Instant;

use crate::budget::Deadline;
use crate::error::{BridgeError, CallError, Upstream};
use crate::flow::operation::{Invocation, Operation, Success};
use crate::settings::{DpopPolicy, Settings, SignInProof, SignUpSettings};
use crate::telemetry::{InvocationTrace, Stage};
use crate::tokens::{DpopProof, RefreshToken, TokenResponse};
use crate::upstream::auth0::{Auth0Client, ForCaller, Revocation};
use crate::upstream::authsignal::AuthsignalClient;
use crate::upstream::credentials::{Credentials, CredentialsCache, CredentialsSource, Refresh};
use crate::upstream::http_client::build_http_client;
use crate::upstream::replay::ReplayGuard;
use crate::upstream::sign_up_limits::SignUpLimits;

/// What a bridge with sign-up on holds for it (`crate::flow::sign_up`).
pub struct SignUp {
    pub settings: SignUpSettings,
    pub limits: SignUpLimits,
}

pub struct Bridge {
    credentials: CredentialsCache,
    pub(super) authsignal: AuthsignalClient,
    pub(super) auth0: Auth0Client,
    /// The replay table, when `REPLAY_TABLE` is set.
    pub(super) replay: Option<ReplayGuard>,
    /// What a sign-in sends Auth0 as the password.
    pub(super) sign_in_proof: SignInProof,
    /// Whether sign-ins and refreshes must carry a DPoP proof.
    dpop: DpopPolicy,
    /// Sign-up by verified email, when `SIGN_UP=email`.
    pub(super) sign_up: Option<SignUp>,
}

impl Bridge {
    /// Builds the bridge once per execution environment: the one HTTP client, the credentials
    /// cache over `source`, both upstream clients, and the replay table's guard and sign-up's
    /// limits when there are any.
    pub fn from_settings(
        settings: &Settings,
        source: CredentialsSource,
        replay: Option<ReplayGuard>,
        sign_up: Option<SignUp>,
    ) -> reqwest::Result<Self> {
        let http = build_http_client(settings.connect_timeout())?;
        let credentials = CredentialsCache::new(source, settings.secret_cache_ttl);
        Ok(Bridge {
            credentials,
            authsignal: AuthsignalClient::new(
                http.clone(),
                &settings.authsignal_api_url,
                settings.sign_in_actions(),
                settings.verification_methods.clone(),
            ),
            auth0: Auth0Client::new(http, settings),
            replay,
            sign_in_proof: settings.sign_in_proof.clone(),
            dpop: settings.dpop,
            sign_up,
        })
    }

    /// Work done once during Lambda's init phase, so that the first request finds the
    /// credentials cached and the connections (TCP and TLS) to both upstreams open: init is
    /// on the first caller's path too on an on-demand cold start, but reported to run with
    /// more CPU than small memory sizes give later, and it is off every path with provisioned
    /// concurrency. Never fails: whatever goes wrong here, the first request tries again.
    pub async fn warm_up(&self, deadline: &Deadline) {
        // Nothing below needs the secret: the connections open and the replay table is touched
        // while it is read, so a cold start waits for the slowest of them, not for their sum.
        let credentials = async {
            // Read even with a TTL of 0, when nothing fetched now can serve the first request:
            // an unusable signing key is a configuration error, reported at start-up.
            match self.credentials.get(deadline, &mut None).await {
                Ok(credentials) => self.report_signing_key(&credentials),
                Err(error) => tracing::warn!(
                    error = %error.log_detail(),
                    "could not read the credentials during init; the first request will try again"
                ),
            }
        };
        let replay = async {
            if let Some(replay) = &self.replay {
                replay.warm_up(deadline).await;
            }
        };
        tokio::join!(
            credentials,
            self.authsignal
                .warm_up(self.authsignal_connections(), deadline),
            self.auth0.warm_up(deadline),
            replay
        );
    }

    /// How many Authsignal calls a sign-in makes at once: `/validate` and, alongside it, the
    /// profile lookup.
    fn authsignal_connections(&self) -> usize {
        if self.sign_in_proof.looks_up_profile() {
            2
        } else {
            1
        }
    }

    /// Says at start-up which key signs the assertions (the connection's `BRIDGE_PUBLIC_KEYS`
    /// must list its `kid`), or why none can: then every sign-in answers 500 until the secret
    /// is fixed.
    fn report_signing_key(&self, credentials: &Credentials) {
        if let SignInProof::Assertion { .. } = self.sign_in_proof {
            match &credentials.signing_key {
                Ok(key) => tracing::info!(
                    kid = key.key_id(),
                    "assertions are signed with this key; the Auth0 connection's BRIDGE_PUBLIC_KEYS must list it"
                ),
                Err(problem) => tracing::error!(
                    %problem,
                    "no usable BRIDGE_SIGNING_KEY; every sign-in will get a 500 (refresh and revocation still work)"
                ),
            }
        }
    }

    /// Whether sign-up is on (the request rules answer 404 at the sign-up endpoint without it).
    pub fn signs_up(&self) -> bool {
        self.sign_up.is_some()
    }

    /// Whether sign-ins and refreshes must carry a DPoP proof (for the request rules).
    pub fn dpop_policy(&self) -> DpopPolicy {
        self.dpop
    }

    /// Carries out one operation: the only place that tells them apart.
    pub async fn perform(
        &self,
        operation: &Operation,
        invocation: &Invocation<'_>,
        trace: &mut InvocationTrace,
    ) -> Result<Success, BridgeError> {
        // The summary line says whether a proof went to Auth0, whatever the operation's fate.
        trace.dpop_forwarded = operation.dpop().is_some();
        match operation {
            Operation::SignIn { token, dpop } => self
                .sign_in(token, dpop.as_ref(), invocation, trace)
                .await
                .map(Success::Tokens),
            Operation::Refresh {
                refresh_token,
                scope,
                dpop,
            } => self
                .refresh(
                    refresh_token,
                    scope.as_deref(),
                    dpop.as_ref(),
                    invocation,
                    trace,
                )
                .await
                .map(Success::Tokens),
            Operation::Revoke { token } => self.revoke(token, invocation, trace).await,
            Operation::SignUp { email, user_agent } => {
                self.sign_up(email, user_agent.as_deref(), invocation, trace)
                    .await
            }
        }
    }

    /// The credentials for this invocation's first call (cached, or read now).
    pub(super) async fn credentials(
        &self,
        deadline: &Deadline,
        trace: &mut InvocationTrace,
    ) -> Result<Arc<Credentials>, BridgeError> {
        self.credentials
            .get(deadline, &mut trace.secrets_manager_latency)
            .await
    }

    /// Redeems `refresh_token` at Auth0 with the bridge's client credentials. Authsignal is not
    /// involved: the refresh token is the proof.
    pub async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        scope: Option<&str>,
        dpop: Option<&DpopProof>,
        invocation: &Invocation<'_>,
        trace: &mut InvocationTrace,
    ) -> Result<TokenResponse, BridgeError> {
        let deadline = &invocation.deadline;
        let mut credentials = self.credentials(deadline, trace).await?;
        self.call_with_credentials(
            Stage::Auth0,
            &mut credentials,
            deadline,
            trace,
            |credentials| async move {
                self.auth0
                    .refresh(
                        refresh_token,
                        scope,
                        &credentials,
                        ForCaller {
                            client_ip: invocation.client_ip,
                            dpop,
                        },
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
        trace: &mut InvocationTrace,
    ) -> Result<Success, BridgeError> {
        let deadline = &invocation.deadline;
        let mut credentials = self.credentials(deadline, trace).await?;
        let revocation = self
            .call_with_credentials(
                Stage::Auth0,
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
    pub(super) async fn call_with_credentials<T, Call, Answer>(
        &self,
        stage: Stage,
        credentials: &mut Arc<Credentials>,
        deadline: &Deadline,
        trace: &mut InvocationTrace,
        mut call: Call,
    ) -> Result<T, BridgeError>
    where
        Call: FnMut(Arc<Credentials>) -> Answer,
        Answer: Future<Output = Result<T, CallError>>,
    {
        loop {
            let started = Instant::now();
            let result = call(credentials.clone()).await;
            trace.add_latency(stage, started);
            match result {
                Ok(answer) => return Ok(answer),
                Err(CallError::Failed(error)) => return Err(error),
                Err(CallError::CredentialsRejected) => {
                    *credentials = self
                        .refreshed(credentials, stage.upstream(), deadline, trace)
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
        trace: &mut InvocationTrace,
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
