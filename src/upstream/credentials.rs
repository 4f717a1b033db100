//! Where the secrets come from (Secrets Manager, or the environment for local runs), and the
//! per-execution-environment cache with its refresh-on-rejection rule (secret rotation): the
//! Authsignal secret key, the Auth0 client credentials, and the bridge's signing key.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::budget::Deadline;
use crate::error::{BridgeError, Upstream};
use crate::signing_key::SigningKey;
use crate::upstream::aws::{AnswerSizeLimit, SdkFailure};

/// Forced refreshes (after an upstream rejected our credentials) happen at most this often per
/// execution environment, so a broken secret cannot turn every request into a Secrets Manager
/// call.
pub const MIN_FORCED_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// The key names inside the secret's JSON, and of the environment variables used without one.
pub const AUTHSIGNAL_SECRET_KEY: &str = "AUTHSIGNAL_SECRET";
pub const AUTH0_CLIENT_ID_KEY: &str = "AUTH0_CLIENT_ID";
pub const AUTH0_CLIENT_SECRET_KEY: &str = "AUTH0_CLIENT_SECRET";
pub const BRIDGE_SIGNING_KEY_KEY: &str = "BRIDGE_SIGNING_KEY";

/// The bridge's credentials. `Debug` prints the secrets as `[REDACTED]` (secrecy), and there is
/// no `Display`, so a stray `{:?}` cannot leak them.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub authsignal_secret: SecretString,
    /// Not a secret (it is in every app's Auth0 configuration), but only sent to Auth0.
    pub auth0_client_id: String,
    pub auth0_client_secret: SecretString,
    /// `BRIDGE_SIGNING_KEY`, parsed once per read of the secret; or why it cannot be used
    /// (absent, not an Ed25519 PKCS#8 PEM: never any part of the key). Only sign-ins with
    /// assertions need it, so refresh and revocation keep working without it.
    pub signing_key: Result<Arc<SigningKey>, String>,
}

impl Credentials {
    /// Reads the values from a JSON object (the secret's `SecretString`). Error texts name the
    /// key at fault, never a value.
    pub fn from_secret_json(text: &str) -> Result<Credentials, String> {
        let object: Map<String, Value> =
            serde_json::from_str(text).map_err(|_| "the secret is not a JSON object".to_owned())?;
        Credentials::from_fields(
            |key| match object.get(key) {
                Some(Value::String(value)) => Some(value.clone()),
                _ => None,
            },
            "the secret's JSON",
        )
    }

    /// Reads the values from the environment (local development without `SECRET_ID`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Credentials, String> {
        Credentials::from_fields(lookup, "the environment")
    }

    /// The three credentials are required; the signing key is read when present. `source`
    /// names where they came from in error texts.
    fn from_fields(
        get: impl Fn(&str) -> Option<String>,
        source: &str,
    ) -> Result<Credentials, String> {
        let field = |key: &str| {
            get(key)
                .filter(|value| !value.trim().is_empty())
                .ok_or_else(|| format!("{source} lacks a non-empty string {key}"))
        };
        Ok(Credentials {
            authsignal_secret: SecretString::from(field(AUTHSIGNAL_SECRET_KEY)?),
            auth0_client_id: field(AUTH0_CLIENT_ID_KEY)?,
            auth0_client_secret: SecretString::from(field(AUTH0_CLIENT_SECRET_KEY)?),
            signing_key: field(BRIDGE_SIGNING_KEY_KEY).and_then(|pem| {
                let pem = SecretString::from(pem);
                SigningKey::from_pem(pem.expose_secret())
                    .map(Arc::new)
                    .map_err(|problem| format!("{BRIDGE_SIGNING_KEY_KEY} in {source} {problem}"))
            }),
        })
    }

    /// The signing key for an assertion, or the configuration 500 that says what is wrong.
    pub fn usable_signing_key(&self) -> Result<&SigningKey, BridgeError> {
        self.signing_key
            .as_deref()
            .map_err(|problem| BridgeError::CredentialsUnavailable(problem.clone()))
    }

    fn same_values_as(&self, other: &Credentials) -> bool {
        self.authsignal_secret.expose_secret() == other.authsignal_secret.expose_secret()
            && self.auth0_client_id == other.auth0_client_id
            && self.auth0_client_secret.expose_secret() == other.auth0_client_secret.expose_secret()
            && match (&self.signing_key, &other.signing_key) {
                // The key id is the public key's thumbprint: the same id is the same key.
                (Ok(key), Ok(other)) => key.key_id() == other.key_id(),
                (Err(problem), Err(other)) => problem == other,
                _ => false,
            }
    }
}

/// The Secrets Manager client, built once per execution environment from the shared SDK
/// configuration (region, credentials, `AWS_ENDPOINT_URL_SECRETS_MANAGER`, timeouts: see
/// [`crate::upstream::aws`]).
pub fn secrets_manager_client(config: &aws_config::SdkConfig) -> aws_sdk_secretsmanager::Client {
    let config = aws_sdk_secretsmanager::config::Builder::from(config)
        .interceptor(AnswerSizeLimit)
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

/// Where credentials are fetched from.
pub enum CredentialsSource {
    /// A Secrets Manager secret, read through the one AWS client of the execution environment.
    SecretsManager {
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
    },
    /// Values read once from the environment at start-up (or the reason they are unusable).
    Environment(Result<Credentials, String>),
}

impl CredentialsSource {
    async fn fetch(&self, deadline: &Deadline) -> Result<Credentials, BridgeError> {
        match self {
            CredentialsSource::Environment(result) => {
                result.clone().map_err(BridgeError::CredentialsUnavailable)
            }
            CredentialsSource::SecretsManager { client, secret_id } => {
                deadline
                    .run(Upstream::SecretsManager, async {
                        let output = client
                            .get_secret_value()
                            .secret_id(secret_id)
                            .send()
                            .await
                            .map_err(|error| secrets_manager_error(&error))?;
                        let text = output.secret_string().ok_or_else(|| {
                            BridgeError::CredentialsUnavailable(
                                "the secret has no SecretString (binary secrets are not supported)"
                                    .to_owned(),
                            )
                        })?;
                        Credentials::from_secret_json(text)
                            .map_err(BridgeError::CredentialsUnavailable)
                    })
                    .await
            }
        }
    }
}

/// A failed `GetSecretValue`: a timeout, or the credentials unavailable (both docs/behaviour.md's
/// 500), described without the raw answer (see [`SdkFailure::of`]).
fn secrets_manager_error(error: &SdkError<GetSecretValueError>) -> BridgeError {
    match SdkFailure::of(error) {
        SdkFailure::TimedOut => BridgeError::UpstreamTimeout {
            upstream: Upstream::SecretsManager,
        },
        failure => BridgeError::unavailable(Upstream::SecretsManager, failure.describe()),
    }
}

/// What a refresh after a rejection found.
#[derive(Debug)]
pub enum Refresh {
    /// New values, just read: worth one retry.
    Changed(Arc<Credentials>),
    /// Newer values another caller already read: worth one retry, no read made here.
    AlreadyNewer(Arc<Credentials>),
    /// The secret was re-read and still holds the rejected values.
    Unchanged,
    /// Not re-read: a refresh was forced less than 30 s ago in this execution environment.
    TooSoon,
}

struct CachedCredentials {
    credentials: Arc<Credentials>,
    fetched_at: Instant,
}

#[derive(Default)]
struct CacheState {
    current: Option<CachedCredentials>,
    last_forced_refresh: Option<Instant>,
}

/// Credentials cached per execution environment for `SECRET_CACHE_TTL_SECONDS`. A failed fetch
/// is not cached: the next request tries again. The lock is held across a fetch so concurrent
/// callers (if any) wait for one fetch instead of each making their own.
pub struct CredentialsCache {
    source: CredentialsSource,
    ttl: Duration,
    state: Mutex<CacheState>,
}

impl CredentialsCache {
    pub fn new(source: CredentialsSource, ttl: Duration) -> Self {
        CredentialsCache {
            source,
            ttl,
            state: Mutex::new(CacheState::default()),
        }
    }

    /// The cached credentials, fetched first when absent or older than the TTL. The time spent
    /// fetching, if any, is added to `fetch_latency` (for the summary log line).
    pub async fn get(
        &self,
        deadline: &Deadline,
        fetch_latency: &mut Option<Duration>,
    ) -> Result<Arc<Credentials>, BridgeError> {
        let mut state = self.state.lock().await;
        if let Some(cached) = &state.current {
            if cached.fetched_at.elapsed() < self.ttl {
                return Ok(cached.credentials.clone());
            }
        }
        let credentials = Arc::new(self.fetch(deadline, fetch_latency).await?);
        state.current = Some(CachedCredentials {
            credentials: credentials.clone(),
            fetched_at: Instant::now(),
        });
        Ok(credentials)
    }

    /// Called when an upstream rejected `rejected`: re-reads the secret unless a refresh was
    /// forced less than [`MIN_FORCED_REFRESH_INTERVAL`] ago, and says whether there is
    /// something new to retry with.
    pub async fn refresh_after_rejection(
        &self,
        rejected: &Arc<Credentials>,
        deadline: &Deadline,
        fetch_latency: &mut Option<Duration>,
    ) -> Result<Refresh, BridgeError> {
        let mut state = self.state.lock().await;
        if let Some(cached) = &state.current {
            if !Arc::ptr_eq(&cached.credentials, rejected)
                && !cached.credentials.same_values_as(rejected)
            {
                // Someone refreshed since `rejected` was handed out: try what they got.
                return Ok(Refresh::AlreadyNewer(cached.credentials.clone()));
            }
        }
        if state
            .last_forced_refresh
            .is_some_and(|at| at.elapsed() < MIN_FORCED_REFRESH_INTERVAL)
        {
            return Ok(Refresh::TooSoon);
        }
        state.last_forced_refresh = Some(Instant::now());
        // The rejected values must not be served again, whether or not the fetch works.
        state.current = None;
        let fresh = Arc::new(self.fetch(deadline, fetch_latency).await?);
        state.current = Some(CachedCredentials {
            credentials: fresh.clone(),
            fetched_at: Instant::now(),
        });
        if fresh.same_values_as(rejected) {
            return Ok(Refresh::Unchanged);
        }
        Ok(Refresh::Changed(fresh))
    }

    async fn fetch(
        &self,
        deadline: &Deadline,
        fetch_latency: &mut Option<Duration>,
    ) -> Result<Credentials, BridgeError> {
        let started = Instant::now();
        let result = self.source.fetch(deadline).await;
        tracing::debug!(
            ok = result.is_ok(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "credentials fetched"
        );
        *fetch_latency = Some(fetch_latency.unwrap_or_default() + started.elapsed());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD_JSON: &str = r#"{"AUTHSIGNAL_SECRET":"as-secret-canary","AUTH0_CLIENT_ID":"client-id","AUTH0_CLIENT_SECRET":"a0-secret-canary"}"#;

    fn deadline() -> Deadline {
        Deadline::after(Duration::from_secs(5), Duration::from_secs(5))
    }

    #[test]
    fn secret_json_with_the_three_keys_is_read() {
        let credentials = Credentials::from_secret_json(GOOD_JSON).unwrap();
        assert_eq!(
            credentials.authsignal_secret.expose_secret(),
            "as-secret-canary"
        );
        assert_eq!(credentials.auth0_client_id, "client-id");
        assert_eq!(
            credentials.auth0_client_secret.expose_secret(),
            "a0-secret-canary"
        );
    }

    #[test]
    fn debug_output_redacts_the_secrets() {
        let credentials = Credentials::from_secret_json(GOOD_JSON).unwrap();
        let printed = format!("{credentials:?} {:#?}", Arc::new(credentials.clone()));
        assert!(!printed.contains("as-secret-canary"), "{printed}");
        assert!(!printed.contains("a0-secret-canary"), "{printed}");
        assert!(printed.contains("REDACTED"));
    }

    #[test]
    fn malformed_secret_json_is_reported_without_its_values() {
        for (text, expected) in [
            ("not json as-secret-canary", "not a JSON object"),
            ("[\"as-secret-canary\"]", "not a JSON object"),
            (
                r#"{"AUTHSIGNAL_SECRET":"as-secret-canary"}"#,
                "lacks a non-empty string AUTH0_CLIENT_ID",
            ),
            (
                r#"{"AUTHSIGNAL_SECRET":12345,"AUTH0_CLIENT_ID":"x","AUTH0_CLIENT_SECRET":"y"}"#,
                "lacks a non-empty string AUTHSIGNAL_SECRET",
            ),
            (
                r#"{"AUTHSIGNAL_SECRET":"as-secret-canary","AUTH0_CLIENT_ID":"x","AUTH0_CLIENT_SECRET":""}"#,
                "lacks a non-empty string AUTH0_CLIENT_SECRET",
            ),
        ] {
            let error = Credentials::from_secret_json(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
            assert!(
                !error.contains("canary") && !error.contains("12345"),
                "{error}"
            );
        }
    }

    #[tokio::test]
    async fn environment_credentials_are_served_from_the_cache() {
        let source = CredentialsSource::Environment(Credentials::from_secret_json(GOOD_JSON));
        let cache = CredentialsCache::new(source, Duration::from_secs(300));
        let first = cache.get(&deadline(), &mut None).await.unwrap();
        let second = cache.get(&deadline(), &mut None).await.unwrap();
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[tokio::test]
    async fn missing_environment_credentials_are_a_server_error() {
        let source = CredentialsSource::Environment(Credentials::from_lookup(|_| None));
        let cache = CredentialsCache::new(source, Duration::from_secs(300));
        let error = cache.get(&deadline(), &mut None).await.unwrap_err();
        assert_eq!(error.status(), 500);
        assert!(error.log_detail().contains("AUTHSIGNAL_SECRET"));
    }

    #[tokio::test]
    async fn a_rejection_with_unchanged_values_gives_nothing_to_retry() {
        let source = CredentialsSource::Environment(Credentials::from_secret_json(GOOD_JSON));
        let cache = CredentialsCache::new(source, Duration::from_secs(300));
        let rejected = cache.get(&deadline(), &mut None).await.unwrap();
        let refresh = cache
            .refresh_after_rejection(&rejected, &deadline(), &mut None)
            .await
            .unwrap();
        assert!(matches!(refresh, Refresh::Unchanged));
        let again = cache
            .refresh_after_rejection(&rejected, &deadline(), &mut None)
            .await
            .unwrap();
        assert!(
            matches!(again, Refresh::TooSoon),
            "one forced refresh per 30 s"
        );
    }
}
