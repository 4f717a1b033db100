//! Settings from the environment, validated once at start-up (docs/configuration.md's
//! table). All problems are collected so the operator sees every bad value in one log line.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;

pub const DEFAULT_AUTHSIGNAL_API_URL: &str = "https://api.authsignal.com/v1";
pub const DEFAULT_AUTH0_SCOPE: &str = "openid profile email";
pub const DEFAULT_AUTH0_REALM: &str = "authsignal";
pub const DEFAULT_SECRET_CACHE_TTL_SECONDS: u64 = 300;
pub const DEFAULT_UPSTREAM_TIMEOUT_MS: u64 = 5000;
pub const DEFAULT_REPLAY_WINDOW_SECONDS: u64 = 86_400;
pub const DEFAULT_ASSERTION_ISSUER: &str = "authsignal-auth0-bridge";
/// Longest `ASSERTION_ISSUER`: it is in every assertion, which must stay within the 4096 bytes
/// the Login script accepts.
const MAX_ASSERTION_ISSUER_BYTES: usize = 256;

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

/// Namespaces Auth0 keeps for itself: a Custom Token Exchange profile's `subject_token_type`
/// may be under none of them.
const RESERVED_SUBJECT_TOKEN_NAMESPACES: &[&str] = &["urn:ietf", "urn:auth0", "urn:okta"];
const RESERVED_SUBJECT_TOKEN_HOSTS: &[&str] = &["auth0.com", "okta.com"];
const MAX_SUBJECT_TOKEN_TYPE_BYTES: usize = 256;

/// Why `value` cannot be a Custom Token Exchange `subject_token_type`, if it cannot: it must
/// be an absolute URI of the operator's own (`urn:acme:...`, `https://acme.example/...`), of
/// printable ASCII, and under none of the namespaces Auth0 reserves.
fn subject_token_type_problem(value: &str) -> Option<String> {
    let scheme_end = value.find(':');
    let scheme_ok = scheme_end.is_some_and(|end| {
        end > 0
            && value[..end].starts_with(|c: char| c.is_ascii_alphabetic())
            && value[..end]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            && value.len() > end + 1
    });
    if !scheme_ok
        || value.len() > MAX_SUBJECT_TOKEN_TYPE_BYTES
        || !value.bytes().all(|b| b.is_ascii_graphic())
    {
        return Some(format!(
            "AUTH0_SUBJECT_TOKEN_TYPE must be an absolute URI of your own (e.g. urn:acme:authsignal-bridge-assertion), \
             at most {MAX_SUBJECT_TOKEN_TYPE_BYTES} printable ASCII characters"
        ));
    }
    let lower = value.to_ascii_lowercase();
    let reserved_urn = RESERVED_SUBJECT_TOKEN_NAMESPACES.iter().any(|namespace| {
        lower == *namespace
            || lower
                .strip_prefix(namespace)
                .is_some_and(|rest| rest.starts_with(':'))
    });
    let reserved_host = Url::parse(value).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some_and(|host| {
                RESERVED_SUBJECT_TOKEN_HOSTS
                    .iter()
                    .any(|reserved| host == *reserved || host.ends_with(&format!(".{reserved}")))
            })
    });
    (reserved_urn || reserved_host).then(|| {
        "AUTH0_SUBJECT_TOKEN_TYPE is in a namespace Auth0 reserves (urn:ietf, urn:auth0, urn:okta, \
         http(s)://auth0.com, http(s)://okta.com): choose a URI of your own"
            .to_owned()
    })
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
    /// Settings that are set but have no effect with the others (for WARN lines at start-up).
    ignored_settings: Vec<String>,
}

impl Settings {
    /// Reads the settings through `lookup` (the process environment in production, a map in
    /// tests). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let get = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let mut problems = Vec::new();

        let credentials_location = match get("SECRET_ID") {
            Some(secret_id) => CredentialsLocation::SecretsManager { secret_id },
            None => CredentialsLocation::Environment,
        };

        let authsignal_api_url =
            get("AUTHSIGNAL_API_URL").unwrap_or_else(|| DEFAULT_AUTHSIGNAL_API_URL.to_owned());
        let authsignal_api_url = parse_upstream_url("AUTHSIGNAL_API_URL", &authsignal_api_url)
            .map_err(|problem| problems.push(problem))
            .ok();

        // The AWS SDK reads these itself; the https-only rule covers them too, or a stray
        // setting would send the secret's value (or the replay records) in the clear.
        for name in [
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            "AWS_ENDPOINT_URL_DYNAMODB",
            "AWS_ENDPOINT_URL",
        ] {
            if let Some(url) = get(name) {
                if let Err(problem) = parse_upstream_url(name, &url) {
                    problems.push(problem);
                }
            }
        }

        let auth0_base_url = match get("AUTH0_DOMAIN") {
            None => {
                problems.push("AUTH0_DOMAIN is required (e.g. tenant.us.auth0.com)".to_owned());
                None
            }
            Some(domain) => {
                // A bare domain is what the Auth0 dashboard shows; a full URL lets tests and
                // custom domains with a path prefix work too.
                let url = if domain.contains("://") {
                    domain
                } else {
                    format!("https://{domain}")
                };
                parse_upstream_url("AUTH0_DOMAIN", &url)
                    .map_err(|problem| problems.push(problem))
                    .ok()
            }
        };

        let auth0_grant = match get("AUTH0_GRANT_TYPE").as_deref() {
            None | Some("password-realm") => Auth0Grant::PasswordRealm {
                realm: get("AUTH0_REALM").unwrap_or_else(|| DEFAULT_AUTH0_REALM.to_owned()),
            },
            Some("password") => Auth0Grant::Password,
            Some("token-exchange") => match get("AUTH0_SUBJECT_TOKEN_TYPE") {
                None => {
                    problems.push(
                        "AUTH0_SUBJECT_TOKEN_TYPE is required with AUTH0_GRANT_TYPE=token-exchange \
                         (the subject_token_type of the tenant's Custom Token Exchange profile)"
                            .to_owned(),
                    );
                    Auth0Grant::Password
                }
                Some(subject_token_type) => {
                    if let Some(problem) = subject_token_type_problem(&subject_token_type) {
                        problems.push(problem);
                    }
                    Auth0Grant::TokenExchange { subject_token_type }
                }
            },
            Some(other) => {
                problems.push(format!(
                    "AUTH0_GRANT_TYPE must be `password-realm`, `password` or `token-exchange`, not `{other}`"
                ));
                Auth0Grant::Password
            }
        };

        let subject_token_type_ignored = (get("AUTH0_SUBJECT_TOKEN_TYPE").is_some()
            && !matches!(auth0_grant, Auth0Grant::TokenExchange { .. }))
        .then(|| {
            "AUTH0_SUBJECT_TOKEN_TYPE is ignored unless AUTH0_GRANT_TYPE=token-exchange".to_owned()
        });

        let auth0_forward_client_ip =
            parse_flag(&get, "AUTH0_FORWARD_CLIENT_IP", true, &mut problems);

        let sign_in_proof = match get("AUTH0_SIGN_IN_PROOF").as_deref() {
            None | Some("assertion") => {
                let issuer =
                    get("ASSERTION_ISSUER").unwrap_or_else(|| DEFAULT_ASSERTION_ISSUER.to_owned());
                if issuer.len() > MAX_ASSERTION_ISSUER_BYTES || issuer.chars().any(char::is_control)
                {
                    problems.push(format!(
                        "ASSERTION_ISSUER must be at most {MAX_ASSERTION_ISSUER_BYTES} bytes of printable text"
                    ));
                }
                SignInProof::Assertion {
                    parties: AssertionParties {
                        issuer,
                        audience: get("AUTH0_REALM")
                            .unwrap_or_else(|| DEFAULT_AUTH0_REALM.to_owned()),
                    },
                    look_up_profile: parse_flag(&get, "AUTHSIGNAL_PROFILE", true, &mut problems),
                }
            }
            Some("authsignal-token") => SignInProof::AuthsignalToken,
            Some(other) => {
                problems.push(format!(
                    "AUTH0_SIGN_IN_PROOF must be `assertion` or `authsignal-token`, not `{other}`"
                ));
                SignInProof::AuthsignalToken
            }
        };
        // Token exchange hands Auth0 a subject token that only the Action's checks stand
        // behind: the Authsignal token there would be a way in past the bridge.
        if matches!(auth0_grant, Auth0Grant::TokenExchange { .. })
            && sign_in_proof == SignInProof::AuthsignalToken
        {
            problems.push(
                "AUTH0_GRANT_TYPE=token-exchange needs AUTH0_SIGN_IN_PROOF=assertion: the subject token is the bridge's assertion"
                    .to_owned(),
            );
        }
        let dpop = match get("DPOP").as_deref() {
            None | Some("optional") => DpopPolicy::Optional,
            Some("required") => DpopPolicy::Required,
            Some(other) => {
                problems.push(format!(
                    "DPOP must be `optional` or `required`, not `{other}`"
                ));
                DpopPolicy::Optional
            }
        };
        let ignored_with_token_proof: Vec<&str> = ["ASSERTION_ISSUER", "AUTHSIGNAL_PROFILE"]
            .into_iter()
            .filter(|name| get(name).is_some())
            .collect();

        let secret_cache_ttl = parse_number(
            &get,
            "SECRET_CACHE_TTL_SECONDS",
            DEFAULT_SECRET_CACHE_TTL_SECONDS,
            0..=86_400,
            &mut problems,
        )
        .map(Duration::from_secs);
        let upstream_timeout = parse_number(
            &get,
            "UPSTREAM_TIMEOUT_MS",
            DEFAULT_UPSTREAM_TIMEOUT_MS,
            1..=900_000,
            &mut problems,
        )
        .map(Duration::from_millis);

        let replay_table = get("REPLAY_TABLE");
        if let Some(table) = &replay_table {
            if !is_table_name_or_arn(table) {
                problems.push(
                    "REPLAY_TABLE must be a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ . -) or a table ARN"
                        .to_owned(),
                );
            }
        }
        let replay_window = parse_number(
            &get,
            "REPLAY_WINDOW_SECONDS",
            DEFAULT_REPLAY_WINDOW_SECONDS,
            900..=604_800,
            &mut problems,
        )
        .map(Duration::from_secs);

        let verification_methods = get("AUTHSIGNAL_VERIFICATION_METHODS").map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|method| !method.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        });
        if verification_methods
            .as_ref()
            .is_some_and(|methods| methods.is_empty())
        {
            problems.push(
                "AUTHSIGNAL_VERIFICATION_METHODS must name at least one method (e.g. PASSKEY), or be unset"
                    .to_owned(),
            );
        }

        match (
            authsignal_api_url,
            auth0_base_url,
            secret_cache_ttl,
            upstream_timeout,
            replay_window,
        ) {
            (
                Some(authsignal_api_url),
                Some(auth0_base_url),
                Some(secret_cache_ttl),
                Some(upstream_timeout),
                Some(replay_window),
            ) if problems.is_empty() => Ok(Settings {
                credentials_location,
                authsignal_api_url,
                authsignal_action: get("AUTHSIGNAL_ACTION"),
                auth0_base_url,
                auth0_audience: get("AUTH0_AUDIENCE"),
                auth0_scope: get("AUTH0_SCOPE").unwrap_or_else(|| DEFAULT_AUTH0_SCOPE.to_owned()),
                auth0_grant,
                ignored_settings: match sign_in_proof {
                    SignInProof::AuthsignalToken => ignored_with_token_proof
                        .into_iter()
                        .map(|name| {
                            format!("{name} is ignored with AUTH0_SIGN_IN_PROOF=authsignal-token")
                        })
                        .collect(),
                    SignInProof::Assertion { .. } => Vec::new(),
                }
                .into_iter()
                .chain(subject_token_type_ignored)
                .collect(),
                sign_in_proof,
                dpop,
                auth0_forward_client_ip,
                secret_cache_ttl,
                upstream_timeout,
                replay_table,
                replay_window,
                verification_methods,
            }),
            _ => Err(SettingsError { problems }),
        }
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
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

/// A DynamoDB table name (3-255 of `A-Z a-z 0-9 _ . -`) or a table ARN
/// (`arn:<partition>:dynamodb:<region>:<account>:table/<name>`).
fn is_table_name_or_arn(value: &str) -> bool {
    let is_name = |name: &str| {
        (3..=255).contains(&name.len())
            && name
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-'))
    };
    match value.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", partition, "dynamodb", region, account, resource] => {
            !partition.is_empty()
                && !region.is_empty()
                && account.len() == 12
                && account.bytes().all(|byte| byte.is_ascii_digit())
                && resource.strip_prefix("table/").is_some_and(is_name)
        }
        _ => !value.starts_with("arn:") && is_name(value),
    }
}

/// Every problem found in the environment, for one clear start-up log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {}", problems.join("; "))]
pub struct SettingsError {
    pub problems: Vec<String>,
}

/// A `true`/`false` setting (`1`/`0` and `yes`/`no` are accepted too).
fn parse_flag(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: bool,
    problems: &mut Vec<String>,
) -> bool {
    let Some(value) = get(name) else {
        return default;
    };
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => true,
        "false" | "0" | "no" => false,
        _ => {
            problems.push(format!("{name} must be `true` or `false`, not `{value}`"));
            default
        }
    }
}

fn parse_number(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
    problems: &mut Vec<String>,
) -> Option<u64> {
    let Some(raw) = get(name) else {
        return Some(default);
    };
    match raw.parse::<u64>() {
        Ok(value) if range.contains(&value) => Some(value),
        _ => {
            problems.push(format!(
                "{name} must be a whole number from {} to {}, not `{raw}`",
                range.start(),
                range.end()
            ));
            None
        }
    }
}

/// Parses an upstream base URL and applies the https-only rule: plain `http://` only for
/// loopback hosts, so test doubles work and a production deployment cannot be pointed at an
/// unencrypted (or SSRF-friendly internal) endpoint. URLs carrying credentials, a query or a
/// fragment are refused: the path is joined to, and userinfo would end up in logs.
pub fn parse_upstream_url(name: &str, raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|_| format!("{name} is not a valid URL"))?;
    let Some(host) = url.host_str() else {
        return Err(format!("{name} has no host"));
    };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(host) => {}
        "http" => {
            return Err(format!(
                "{name} must use https:// (plain http:// is only allowed for loopback hosts)"
            ))
        }
        _ => return Err(format!("{name} must be an https:// URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{name} must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{name} must not have a query or fragment"));
    }
    Ok(url)
}

fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    // `Url::host_str` keeps the brackets of an IPv6 literal.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Joins a path (like `validate` or `oauth/token`) to a base URL, keeping the base's own path
/// (`/v1`): `Url::join` would drop the last segment of a base without a trailing slash.
pub fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}/{}", base.path().trim_end_matches('/'), path);
    url.set_path(&joined);
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_only_the_auth0_domain_is_set() {
        let s = settings(&[("AUTH0_DOMAIN", "tenant.us.auth0.com")]).unwrap();
        assert_eq!(s.credentials_location, CredentialsLocation::Environment);
        assert_eq!(
            s.authsignal_api_url.as_str(),
            "https://api.authsignal.com/v1"
        );
        assert_eq!(s.auth0_base_url.as_str(), "https://tenant.us.auth0.com/");
        assert_eq!(s.auth0_scope, "openid profile email");
        assert_eq!(
            s.auth0_grant,
            Auth0Grant::PasswordRealm {
                realm: "authsignal".into()
            }
        );
        assert!(s.auth0_forward_client_ip);
        assert_eq!(s.authsignal_action, None);
        assert_eq!(s.auth0_audience, None);
        assert_eq!(s.secret_cache_ttl, Duration::from_secs(300));
        assert_eq!(s.upstream_timeout, Duration::from_millis(5000));
        assert_eq!(s.connect_timeout(), Duration::from_secs(2));
    }

    #[test]
    fn every_setting_is_read() {
        let s = settings(&[
            (
                "SECRET_ID",
                "arn:aws:secretsmanager:eu-west-1:1:secret:bridge",
            ),
            ("AUTHSIGNAL_API_URL", "https://eu.api.authsignal.com/v1"),
            ("AUTHSIGNAL_ACTION", "signInWithPasskey"),
            ("AUTH0_DOMAIN", "https://login.example.com"),
            ("AUTH0_AUDIENCE", "https://api.example.com"),
            ("AUTH0_SCOPE", "openid offline_access"),
            ("AUTH0_GRANT_TYPE", "password"),
            ("AUTH0_FORWARD_CLIENT_IP", "false"),
            ("SECRET_CACHE_TTL_SECONDS", "60"),
            ("UPSTREAM_TIMEOUT_MS", "1500"),
        ])
        .unwrap();
        assert_eq!(
            s.credentials_location,
            CredentialsLocation::SecretsManager {
                secret_id: "arn:aws:secretsmanager:eu-west-1:1:secret:bridge".into()
            }
        );
        assert_eq!(s.authsignal_action.as_deref(), Some("signInWithPasskey"));
        assert_eq!(s.auth0_audience.as_deref(), Some("https://api.example.com"));
        assert_eq!(s.auth0_scope, "openid offline_access");
        assert_eq!(s.auth0_grant, Auth0Grant::Password);
        assert!(!s.auth0_forward_client_ip);
        assert_eq!(s.secret_cache_ttl, Duration::from_secs(60));
        assert_eq!(s.upstream_timeout, Duration::from_millis(1500));
        assert_eq!(s.connect_timeout(), Duration::from_millis(1500));
    }

    #[test]
    fn a_custom_realm_is_used_for_password_realm() {
        let s = settings(&[("AUTH0_DOMAIN", "t.auth0.com"), ("AUTH0_REALM", "passkeys")]).unwrap();
        assert_eq!(
            s.auth0_grant,
            Auth0Grant::PasswordRealm {
                realm: "passkeys".into()
            }
        );
    }

    #[test]
    fn missing_auth0_domain_is_reported() {
        let err = settings(&[]).unwrap_err();
        assert_eq!(err.problems.len(), 1);
        assert!(err.problems[0].contains("AUTH0_DOMAIN is required"));
    }

    #[test]
    fn plain_http_is_refused_off_loopback() {
        for url in [
            "http://api.authsignal.com/v1",
            "http://10.0.0.5/v1",
            "http://169.254.169.254/latest",
            "http://localhost.evil.com/v1",
        ] {
            let err = settings(&[("AUTH0_DOMAIN", "t.auth0.com"), ("AUTHSIGNAL_API_URL", url)])
                .unwrap_err();
            assert!(
                err.problems[0].contains("must use https://"),
                "{url}: {err}"
            );
        }
        let err = settings(&[("AUTH0_DOMAIN", "http://tenant.auth0.com")]).unwrap_err();
        assert!(err.to_string().contains("AUTH0_DOMAIN must use https://"));
    }

    #[test]
    fn the_secrets_manager_endpoint_follows_the_https_rule() {
        for name in ["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"] {
            let err = settings(&[
                ("AUTH0_DOMAIN", "t.auth0.com"),
                (name, "http://10.1.2.3:4566"),
            ])
            .unwrap_err();
            assert!(
                err.problems[0].starts_with(&format!("{name} must use https://")),
                "{err}"
            );
            assert!(settings(&[
                ("AUTH0_DOMAIN", "t.auth0.com"),
                (name, "http://127.0.0.1:5000")
            ])
            .is_ok());
            assert!(settings(&[
                ("AUTH0_DOMAIN", "t.auth0.com"),
                (
                    name,
                    "https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com"
                )
            ])
            .is_ok());
        }
    }

    #[test]
    fn plain_http_is_accepted_on_loopback() {
        for url in [
            "http://localhost:8080/v1",
            "http://127.0.0.1:9/v1",
            "http://127.10.0.1/v1",
            "http://[::1]:4000/v1",
        ] {
            let s = settings(&[("AUTH0_DOMAIN", url), ("AUTHSIGNAL_API_URL", url)]);
            assert!(s.is_ok(), "{url}: {s:?}");
        }
    }

    #[test]
    fn other_schemes_credentials_and_garbage_are_refused() {
        for (url, expected) in [
            ("ftp://api.authsignal.com/v1", "must be an https:// URL"),
            (
                "https://user:pw@api.authsignal.com/v1",
                "must not contain credentials",
            ),
            ("https://api.authsignal.com/v1?x=1", "must not have a query"),
            ("not a url at all", "is not a valid URL"),
        ] {
            let err = settings(&[("AUTH0_DOMAIN", "t.auth0.com"), ("AUTHSIGNAL_API_URL", url)])
                .unwrap_err();
            assert!(err.problems[0].contains(expected), "{url}: {err}");
            // The message never repeats the value: it could hold a password.
            assert!(!err.problems[0].contains("pw@"));
        }
    }

    #[test]
    fn every_bad_value_is_reported_at_once() {
        let err = settings(&[
            ("AUTH0_GRANT_TYPE", "client_credentials"),
            ("AUTH0_FORWARD_CLIENT_IP", "maybe"),
            ("SECRET_CACHE_TTL_SECONDS", "-1"),
            ("UPSTREAM_TIMEOUT_MS", "0"),
        ])
        .unwrap_err();
        let text = err.to_string();
        for expected in [
            "AUTH0_DOMAIN is required",
            "AUTH0_GRANT_TYPE must be",
            "AUTH0_FORWARD_CLIENT_IP must be",
            "SECRET_CACHE_TTL_SECONDS must be a whole number",
            "UPSTREAM_TIMEOUT_MS must be a whole number",
        ] {
            assert!(text.contains(expected), "missing `{expected}` in {text}");
        }
        assert_eq!(err.problems.len(), 5);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let s = settings(&[
            ("AUTH0_DOMAIN", "t.auth0.com"),
            ("SECRET_ID", ""),
            ("AUTHSIGNAL_ACTION", "  "),
        ])
        .unwrap();
        assert_eq!(s.credentials_location, CredentialsLocation::Environment);
        assert_eq!(s.authsignal_action, None);
    }

    #[test]
    fn endpoints_keep_the_base_path() {
        let base = Url::parse("https://api.authsignal.com/v1").unwrap();
        assert_eq!(
            endpoint(&base, "validate").as_str(),
            "https://api.authsignal.com/v1/validate"
        );
        let base = Url::parse("https://api.authsignal.com/v1/").unwrap();
        assert_eq!(
            endpoint(&base, "validate").as_str(),
            "https://api.authsignal.com/v1/validate"
        );
        let base = Url::parse("https://t.auth0.com").unwrap();
        assert_eq!(
            endpoint(&base, "oauth/token").as_str(),
            "https://t.auth0.com/oauth/token"
        );
    }

    #[test]
    fn replay_protection_and_verification_methods_are_read() {
        let s = settings(&[("AUTH0_DOMAIN", "t.auth0.com")]).unwrap();
        assert_eq!(s.replay_table, None);
        assert_eq!(s.replay_window, Duration::from_secs(86_400));
        assert_eq!(s.verification_methods, None);
        let s = settings(&[
            ("AUTH0_DOMAIN", "t.auth0.com"),
            ("REPLAY_TABLE", "bridge-prod-replay"),
            ("REPLAY_WINDOW_SECONDS", "900"),
            (
                "AUTHSIGNAL_VERIFICATION_METHODS",
                " PASSKEY, SECURITY_KEY ,",
            ),
        ])
        .unwrap();
        assert_eq!(s.replay_table.as_deref(), Some("bridge-prod-replay"));
        assert_eq!(s.replay_window, Duration::from_secs(900));
        assert_eq!(
            s.verification_methods,
            Some(vec!["PASSKEY".to_owned(), "SECURITY_KEY".to_owned()])
        );
        assert!(s.warnings().is_empty());
        let arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/bridge-replay";
        let s = settings(&[("AUTH0_DOMAIN", "t.auth0.com"), ("REPLAY_TABLE", arn)]).unwrap();
        assert_eq!(s.replay_table.as_deref(), Some(arn));
        for bad in [
            "arn:aws:dynamodb:eu-west-1:123456789012:table/",
            "arn:aws:s3:::bucket",
            "arn:aws:dynamodb:eu-west-1:1234:table/bridge",
            "ab",
        ] {
            assert!(
                settings(&[("AUTH0_DOMAIN", "t.auth0.com"), ("REPLAY_TABLE", bad)]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_replay_settings_are_reported() {
        let err = settings(&[
            ("AUTH0_DOMAIN", "t.auth0.com"),
            ("REPLAY_TABLE", "no spaces allowed"),
            ("REPLAY_WINDOW_SECONDS", "60"),
            ("AUTHSIGNAL_VERIFICATION_METHODS", " , "),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://10.0.0.9:8000"),
        ])
        .unwrap_err();
        let text = err.to_string();
        for expected in [
            "REPLAY_TABLE must be a DynamoDB table name",
            "REPLAY_WINDOW_SECONDS must be a whole number from 900 to 604800",
            "AUTHSIGNAL_VERIFICATION_METHODS must name at least one method",
            "AWS_ENDPOINT_URL_DYNAMODB must use https://",
        ] {
            assert!(text.contains(expected), "missing `{expected}` in {text}");
        }
        assert!(settings(&[
            ("AUTH0_DOMAIN", "t.auth0.com"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")
        ])
        .is_ok());
    }

    #[test]
    fn an_undocumented_verification_method_is_accepted_with_a_warning() {
        let s = settings(&[
            ("AUTH0_DOMAIN", "t.auth0.com"),
            ("AUTHSIGNAL_VERIFICATION_METHODS", "PASSKEY,PASSKEYS"),
        ])
        .unwrap();
        let warnings = s.warnings();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("`PASSKEYS`"), "{}", warnings[0]);
    }

    #[test]
    fn the_sign_in_proof_is_an_assertion_with_a_profile_by_default() {
        let s = settings(&[("AUTH0_DOMAIN", "t.auth0.com"), ("AUTH0_REALM", "passkeys")]).unwrap();
        assert_eq!(
            s.sign_in_proof,
            SignInProof::Assertion {
                parties: AssertionParties {
                    issuer: "authsignal-auth0-bridge".into(),
                    audience: "passkeys".into(),
                },
                look_up_profile: true,
            }
        );
        let s = settings(&[
            ("AUTH0_DOMAIN", "t.auth0.com"),
            ("AUTH0_SIGN_IN_PROOF", "assertion"),
            ("ASSERTION_ISSUER", "https://bridge.example.com"),
            ("AUTHSIGNAL_PROFILE", "false"),
            ("AUTH0_GRANT_TYPE", "password"),
        ])
        .unwrap();
        assert_eq!(
            s.sign_in_proof,
            SignInProof::Assertion {
                parties: AssertionParties {
                    issuer: "https://bridge.example.com".into(),
                    audience: "authsignal".into(),
                },
                look_up_profile: false,
            }
        );
        assert!(s.warnings().is_empty());
    }

    #[test]
    fn the_authsignal_token_proof_ignores_the_assertion_settings_with_a_warning() {
        let s = settings(&[
            ("AUTH0_DOMAIN", "t.auth0.com"),
            ("AUTH0_SIGN_IN_PROOF", "authsignal-token"),
            ("AUTHSIGNAL_PROFILE", "true"),
        ])
        .unwrap();
        assert_eq!(s.sign_in_proof, SignInProof::AuthsignalToken);
        assert_eq!(
            s.warnings(),
            ["AUTHSIGNAL_PROFILE is ignored with AUTH0_SIGN_IN_PROOF=authsignal-token"]
        );
    }

    #[test]
    fn bad_sign_in_proof_settings_are_reported() {
        for (name, value, expected) in [
            (
                "AUTH0_SIGN_IN_PROOF",
                "token",
                "AUTH0_SIGN_IN_PROOF must be `assertion` or `authsignal-token`, not `token`",
            ),
            (
                "AUTHSIGNAL_PROFILE",
                "maybe",
                "AUTHSIGNAL_PROFILE must be `true` or `false`, not `maybe`",
            ),
            (
                "ASSERTION_ISSUER",
                &"i".repeat(257),
                "ASSERTION_ISSUER must be at most 256 bytes",
            ),
            (
                "ASSERTION_ISSUER",
                "a\u{7}b",
                "ASSERTION_ISSUER must be at most 256 bytes",
            ),
        ] {
            let err = settings(&[("AUTH0_DOMAIN", "t.auth0.com"), (name, value)]).unwrap_err();
            assert!(
                err.problems[0].starts_with(expected),
                "{name}={value}: {err}"
            );
        }
    }

    #[test]
    fn dpop_is_optional_unless_required() {
        let s = settings(&[("AUTH0_DOMAIN", "t.auth0.com")]).unwrap();
        assert_eq!(s.dpop, DpopPolicy::Optional);
        let s = settings(&[("AUTH0_DOMAIN", "t.auth0.com"), ("DPOP", "required")]).unwrap();
        assert_eq!(s.dpop, DpopPolicy::Required);
        let err = settings(&[("AUTH0_DOMAIN", "t.auth0.com"), ("DPOP", "yes")]).unwrap_err();
        assert_eq!(
            err.problems,
            ["DPOP must be `optional` or `required`, not `yes`"]
        );
    }

    #[test]
    fn token_exchange_needs_a_subject_token_type_of_the_operators_own() {
        let s = settings(&[
            ("AUTH0_DOMAIN", "t.auth0.com"),
            ("AUTH0_GRANT_TYPE", "token-exchange"),
            (
                "AUTH0_SUBJECT_TOKEN_TYPE",
                "urn:acme:authsignal-bridge-assertion",
            ),
        ])
        .unwrap();
        assert_eq!(
            s.auth0_grant,
            Auth0Grant::TokenExchange {
                subject_token_type: "urn:acme:authsignal-bridge-assertion".to_owned()
            }
        );
        for own in [
            "https://bridge.acme.example/assertion",
            "https://notauth0.com/x",
            "urn:ietfx:thing",
        ] {
            let s = settings(&[
                ("AUTH0_DOMAIN", "t.auth0.com"),
                ("AUTH0_GRANT_TYPE", "token-exchange"),
                ("AUTH0_SUBJECT_TOKEN_TYPE", own),
            ]);
            assert!(s.is_ok(), "{own}: {:?}", s.err());
        }

        let err = settings(&[
            ("AUTH0_DOMAIN", "t.auth0.com"),
            ("AUTH0_GRANT_TYPE", "token-exchange"),
        ])
        .unwrap_err();
        assert!(
            err.problems[0].starts_with("AUTH0_SUBJECT_TOKEN_TYPE is required"),
            "{err}"
        );
    }

    #[test]
    fn a_reserved_or_malformed_subject_token_type_is_a_configuration_error() {
        for reserved in [
            "urn:ietf:params:oauth:token-type:jwt",
            "URN:IETF:params:oauth:token-type:id_token",
            "urn:auth0:assertion",
            "urn:okta:thing",
            "https://auth0.com/token",
            "http://auth0.com",
            "https://tenant.auth0.com/assertion",
            "https://okta.com/x",
            "HTTPS://OKTA.COM",
        ] {
            let err = settings(&[
                ("AUTH0_DOMAIN", "t.auth0.com"),
                ("AUTH0_GRANT_TYPE", "token-exchange"),
                ("AUTH0_SUBJECT_TOKEN_TYPE", reserved),
            ])
            .unwrap_err();
            assert!(
                err.problems[0].contains("a namespace Auth0 reserves"),
                "{reserved}: {err}"
            );
        }
        for malformed in ["assertion", ":x", "urn:", "urn:acme:a b", "1urn:x"] {
            let err = settings(&[
                ("AUTH0_DOMAIN", "t.auth0.com"),
                ("AUTH0_GRANT_TYPE", "token-exchange"),
                ("AUTH0_SUBJECT_TOKEN_TYPE", malformed),
            ])
            .unwrap_err();
            assert!(
                err.problems[0].contains("must be an absolute URI"),
                "{malformed}: {err}"
            );
        }
    }

    #[test]
    fn token_exchange_with_the_authsignal_token_as_proof_is_a_configuration_error() {
        let err = settings(&[
            ("AUTH0_DOMAIN", "t.auth0.com"),
            ("AUTH0_GRANT_TYPE", "token-exchange"),
            ("AUTH0_SUBJECT_TOKEN_TYPE", "urn:acme:assertion"),
            ("AUTH0_SIGN_IN_PROOF", "authsignal-token"),
        ])
        .unwrap_err();
        assert_eq!(
            err.problems,
            ["AUTH0_GRANT_TYPE=token-exchange needs AUTH0_SIGN_IN_PROOF=assertion: the subject token is the bridge's assertion"]
        );
    }

    #[test]
    fn a_subject_token_type_without_token_exchange_is_reported_as_ignored() {
        let s = settings(&[
            ("AUTH0_DOMAIN", "t.auth0.com"),
            ("AUTH0_SUBJECT_TOKEN_TYPE", "urn:acme:assertion"),
        ])
        .unwrap();
        assert_eq!(
            s.warnings(),
            ["AUTH0_SUBJECT_TOKEN_TYPE is ignored unless AUTH0_GRANT_TYPE=token-exchange"]
        );
    }
}
