//! Settings from the environment, validated once at start-up (docs/configuration.md's
//! table). All problems are collected so the operator sees every bad value in one log line.

use std::time::Duration;

use reqwest::Url;

pub use reader::parse_upstream_url;
use reader::Reader;

mod areas;
mod reader;
mod sign_up;

use sign_up::SignUpNeeds;

pub const DEFAULT_AUTHSIGNAL_API_URL: &str = "https://api.authsignal.com/v1";
pub const DEFAULT_AUTH0_SCOPE: &str = "openid profile email";
pub const DEFAULT_AUTH0_REALM: &str = "authsignal";
pub const DEFAULT_SECRET_CACHE_TTL_SECONDS: u64 = 300;
pub const DEFAULT_UPSTREAM_TIMEOUT_MS: u64 = 5000;
pub const DEFAULT_REPLAY_WINDOW_SECONDS: u64 = 86_400;
pub const DEFAULT_ASSERTION_ISSUER: &str = "authsignal-auth0-bridge";
/// The `verificationMethod` values Authsignal documents. Others are accepted with a WARN at
/// start-up (Authsignal adds methods; a typo should still be visible).
pub const KNOWN_VERIFICATION_METHODS: &[&str] = &[
    "SMS",
    "AUTHENTICATOR_APP",
    "EMAIL_MAGIC_LINK",
    "EMAIL_OTP",
    "PUSH",
    "DEVICE",
    "SECURITY_KEY",
    "PASSKEY",
    "RECOVERY_CODE",
    "WHATSAPP",
    "VERIFF",
    "IPROOV",
    "PALM_BIOMETRICS_RR",
    "IDVERSE",
];

/// The connect timeout is this, or the upstream timeout when that is shorter: a host that does
/// not accept a connection within 2 s is better reported than waited for.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the three credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsLocation {
    /// A Secrets Manager secret (name or ARN) whose `SecretString` is JSON.
    SecretsManager { secret_id: String },
    /// `AUTHSIGNAL_SECRET`, `AUTH0_CLIENT_ID`, `AUTH0_CLIENT_SECRET` in the environment
    /// (local development; read by the credentials module, not kept here).
    Environment,
}

/// Which Auth0 grant the exchange uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth0Grant {
    /// `http://auth0.com/oauth/grant-type/password-realm` against this connection.
    PasswordRealm { realm: String },
    /// `password`, against the tenant's default directory.
    Password,
    /// Auth0's Custom Token Exchange (RFC 8693): the assertion is the `subject_token`, of the
    /// operator's own `subject_token_type`, and the tenant's Action sets the user.
    TokenExchange { subject_token_type: String },
}

/// Whether sign-ins and refreshes must carry a `DPoP` proof (`DPOP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopPolicy {
    /// A proof is forwarded when the app sends one (the default).
    Optional,
    /// A sign-in or refresh without a proof is refused (400 `invalid_dpop_proof`).
    Required,
}

/// What the sign-in sends Auth0 as the password (`AUTH0_SIGN_IN_PROOF`), decided once here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInProof {
    /// The bridge's signed assertion (the default): Auth0's connection accepts nothing else, so
    /// every sign-in goes through the bridge's checks.
    Assertion {
        parties: AssertionParties,
        /// `AUTHSIGNAL_PROFILE`: read the user at Authsignal for the assertion's profile claims.
        look_up_profile: bool,
    },
    /// The Authsignal token itself, for connections that still run the guide's Login script.
    AuthsignalToken,
}

impl SignInProof {
    /// The `AUTH0_SIGN_IN_PROOF` value, for the start-up line.
    pub fn label(&self) -> &'static str {
        match self {
            SignInProof::Assertion { .. } => "assertion",
            SignInProof::AuthsignalToken => "authsignal-token",
        }
    }

    /// The assertions' issuer and audience, when the proof is an assertion.
    pub fn parties(&self) -> Option<&AssertionParties> {
        match self {
            SignInProof::Assertion { parties, .. } => Some(parties),
            SignInProof::AuthsignalToken => None,
        }
    }

    /// Whether a sign-in reads the user's profile at Authsignal (for the assertion).
    pub fn looks_up_profile(&self) -> bool {
        matches!(
            self,
            SignInProof::Assertion {
                look_up_profile: true,
                ..
            }
        )
    }
}

/// Who signs the assertions and who verifies them: their `iss` (`ASSERTION_ISSUER`) and `aud`
/// (`AUTH0_REALM`, the connection whose Login script checks them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionParties {
    pub issuer: String,
    pub audience: String,
}

/// Sign-up by verified email (docs/configuration.md, "Sign-up").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignUpSettings {
    /// The Authsignal action a sign-up tracks (`SIGN_UP_ACTION`): its tokens run the email
    /// challenge, and a passkey made after it may sign in at the token endpoint.
    pub action: String,
    /// The email domains that may sign up (`SIGN_UP_EMAIL_DOMAINS`); `None`: any.
    pub email_domains: Option<Vec<String>>,
    /// How long one email address waits between two sign-up starts.
    pub email_cooldown: Duration,
    /// How many sign-ups one address may start in a 10-minute window.
    pub address_limit: u32,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub credentials_location: CredentialsLocation,
    /// Base URL ending in `/v1`; `/validate` is appended.
    pub authsignal_api_url: Url,
    pub authsignal_action: Option<String>,
    /// `https://<tenant>` (or a loopback `http://` URL in tests); `/oauth/token` is appended.
    pub auth0_base_url: Url,
    pub auth0_audience: Option<String>,
    pub auth0_scope: String,
    pub auth0_grant: Auth0Grant,
    pub sign_in_proof: SignInProof,
    pub dpop: DpopPolicy,
    pub auth0_forward_client_ip: bool,
    pub secret_cache_ttl: Duration,
    pub upstream_timeout: Duration,
    /// The DynamoDB table (name or ARN) of one-time tokens; `None`: replay protection off.
    pub replay_table: Option<String>,
    /// How long a used challenge is remembered.
    pub replay_window: Duration,
    /// The allow-list of Authsignal verification methods; `None`: any method.
    pub verification_methods: Option<Vec<String>>,
    /// Sign-up by verified email (`SIGN_UP=email`); `None`: sign-up is off.
    pub sign_up: Option<SignUpSettings>,
    /// Settings that are set but have no effect with the others (for WARN lines at start-up).
    ignored_settings: Vec<String>,
}

impl Settings {
    /// Reads the settings through `lookup` (the process environment in production, a map in
    /// tests), one area at a time (`areas`). Empty values count as unset; every problem found
    /// is reported together.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let lookup: &dyn Fn(&str) -> Option<String> = &lookup;
        let mut read = Reader::new(lookup);
        let read_action = read.get("AUTHSIGNAL_ACTION");
        let credentials_location = areas::credentials_location(&read);
        let (authsignal_api_url, auth0_base_url) = areas::upstream_urls(&mut read);
        let auth0_grant = areas::auth0_grant(&mut read);
        let auth0_forward_client_ip = read.flag("AUTH0_FORWARD_CLIENT_IP", true);
        let sign_in_proof = areas::sign_in_proof(&mut read, &auth0_grant);
        let dpop = areas::dpop(&mut read);
        let (secret_cache_ttl, upstream_timeout) = areas::timing(&mut read);
        let (replay_table, replay_window) = areas::replay(&mut read);
        let verification_methods = areas::verification_methods(&mut read);
        let sign_up = sign_up::sign_up(
            &mut read,
            SignUpNeeds {
                sign_in_action: read_action.as_deref(),
                sign_in_proof: &sign_in_proof,
                replay_table: replay_table.is_some(),
                verification_methods: verification_methods.as_deref(),
            },
        );
        let read_settings = Settings {
            credentials_location,
            // Placeholders where a URL has a problem: the settings are then never built.
            authsignal_api_url: authsignal_api_url.unwrap_or_else(placeholder_url),
            authsignal_action: read_action,
            auth0_base_url: auth0_base_url.unwrap_or_else(placeholder_url),
            auth0_audience: read.get("AUTH0_AUDIENCE"),
            auth0_scope: read.get_or("AUTH0_SCOPE", DEFAULT_AUTH0_SCOPE),
            auth0_grant,
            sign_in_proof,
            dpop,
            auth0_forward_client_ip,
            secret_cache_ttl,
            upstream_timeout,
            replay_table,
            replay_window,
            verification_methods,
            sign_up,
            ignored_settings: Vec::new(),
        };
        let (settings, ignored) = read
            .finish(read_settings)
            .map_err(|problems| SettingsError { problems })?;
        Ok(Settings {
            ignored_settings: ignored,
            ..settings
        })
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// The actions a token may be for at the token endpoint: `AUTHSIGNAL_ACTION` and, with
    /// sign-up on, `SIGN_UP_ACTION` (a passkey made right after the email challenge may sign in
    /// with the token its creation gave, when its method is allowed). Empty: any action.
    pub fn sign_in_actions(&self) -> Vec<String> {
        match (&self.authsignal_action, &self.sign_up) {
            (None, _) => Vec::new(),
            (Some(action), None) => vec![action.clone()],
            (Some(action), Some(sign_up)) => vec![action.clone(), sign_up.action.clone()],
        }
    }

    /// The TCP (+TLS) connect timeout given to every client.
    pub fn connect_timeout(&self) -> Duration {
        self.upstream_timeout.min(MAX_CONNECT_TIMEOUT)
    }

    /// Settings that are valid but probably not what the operator meant, for WARN lines at
    /// start-up: settings the chosen sign-in proof ignores, verification methods Authsignal does
    /// not document.
    pub fn warnings(&self) -> Vec<String> {
        let unknown_methods = self
            .verification_methods
            .iter()
            .flatten()
            .filter(|method| !KNOWN_VERIFICATION_METHODS.contains(&method.as_str()))
            .map(|method| {
                format!(
                    "AUTHSIGNAL_VERIFICATION_METHODS names `{method}`, which Authsignal does not document (known: {})",
                    KNOWN_VERIFICATION_METHODS.join(", ")
                )
            });
        self.ignored_settings
            .iter()
            .cloned()
            .chain(unknown_methods)
            .collect()
    }
}

/// Every problem found in the environment, for one clear start-up log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {}", problems.join("; "))]
pub struct SettingsError {
    pub problems: Vec<String>,
}

/// Stands in for a URL that has a problem, in settings that are never built.
fn placeholder_url() -> Url {
    Url::parse("https://invalid.invalid/").expect("a valid URL")
}

#[cfg(test)]
mod tests;
