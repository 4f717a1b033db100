//! The settings, one area at a time (docs/configuration.md's table): each reader takes what
//! its area needs from the environment, checks it, and adds what is wrong to the one list of
//! problems that is reported at start-up.

use std::time::Duration;

use reqwest::Url;

use super::reader::Reader;
use super::{
    AssertionParties, Auth0Grant, CredentialsLocation, DpopPolicy, SignInProof,
    DEFAULT_ASSERTION_ISSUER, DEFAULT_AUTH0_REALM, DEFAULT_AUTHSIGNAL_API_URL,
    DEFAULT_REPLAY_WINDOW_SECONDS, DEFAULT_SECRET_CACHE_TTL_SECONDS, DEFAULT_UPSTREAM_TIMEOUT_MS,
};

/// Longest `ASSERTION_ISSUER` (and `ASSERTION_AUDIENCE`): both are in every assertion, which
/// must stay within the 4096 bytes the Login script accepts.
const MAX_ASSERTION_PARTY_BYTES: usize = 256;

/// Namespaces Auth0 keeps for itself: a Custom Token Exchange profile's `subject_token_type`
/// may be under none of them.
const RESERVED_SUBJECT_TOKEN_NAMESPACES: &[&str] = &["urn:ietf", "urn:auth0", "urn:okta"];
const RESERVED_SUBJECT_TOKEN_HOSTS: &[&str] = &["auth0.com", "okta.com"];
const MAX_SUBJECT_TOKEN_TYPE_BYTES: usize = 256;

/// The endpoint variables the AWS SDK reads itself: the https-only rule covers them too, or a
/// stray setting would send the secret's value (or the replay records) in the clear.
const AWS_ENDPOINT_VARIABLES: &[&str] = &[
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL",
];

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// `SECRET_ID`: the secret, or the environment when unset.
pub(super) fn credentials_location(read: &Reader<Lookup>) -> CredentialsLocation {
    match read.get("SECRET_ID") {
        Some(secret_id) => CredentialsLocation::SecretsManager { secret_id },
        None => CredentialsLocation::Environment,
    }
}

/// `AUTHSIGNAL_API_URL` and `AUTH0_DOMAIN` (a bare domain, as the Auth0 dashboard shows it, or a
/// full URL for tests and custom domains with a path prefix), under the https-only rule, as
/// are the AWS SDK's endpoint variables. `None` where there is a problem.
pub(super) fn upstream_urls(read: &mut Reader<Lookup>) -> (Option<Url>, Option<Url>) {
    let authsignal = read.get_or("AUTHSIGNAL_API_URL", DEFAULT_AUTHSIGNAL_API_URL);
    let authsignal = read.upstream_url("AUTHSIGNAL_API_URL", &authsignal);
    for name in AWS_ENDPOINT_VARIABLES {
        if let Some(url) = read.get(name) {
            read.upstream_url(name, &url);
        }
    }
    let auth0 = match read.get("AUTH0_DOMAIN") {
        None => {
            read.problem("AUTH0_DOMAIN is required (e.g. tenant.us.auth0.com)");
            None
        }
        Some(domain) if domain.contains("://") => read.upstream_url("AUTH0_DOMAIN", &domain),
        Some(domain) => read.upstream_url("AUTH0_DOMAIN", &format!("https://{domain}")),
    };
    (authsignal, auth0)
}

/// `AUTH0_GRANT_TYPE` and what each grant needs (`AUTH0_REALM`, `AUTH0_SUBJECT_TOKEN_TYPE`).
pub(super) fn auth0_grant(read: &mut Reader<Lookup>) -> Auth0Grant {
    #[derive(Clone, Copy)]
    enum Word {
        PasswordRealm,
        Password,
        TokenExchange,
    }
    let word = read.choice(
        "AUTH0_GRANT_TYPE",
        &[
            ("password-realm", Word::PasswordRealm),
            ("password", Word::Password),
            ("token-exchange", Word::TokenExchange),
        ],
    );
    let grant = match word {
        Word::PasswordRealm => Auth0Grant::PasswordRealm {
            realm: read.get_or("AUTH0_REALM", DEFAULT_AUTH0_REALM),
        },
        Word::Password => Auth0Grant::Password,
        Word::TokenExchange => token_exchange(read),
    };
    if read.is_set("AUTH0_SUBJECT_TOKEN_TYPE") && !matches!(grant, Auth0Grant::TokenExchange { .. })
    {
        read.ignored("AUTH0_SUBJECT_TOKEN_TYPE is ignored unless AUTH0_GRANT_TYPE=token-exchange");
    }
    grant
}

/// Custom Token Exchange: `AUTH0_SUBJECT_TOKEN_TYPE` is required and must be of the operator's
/// own.
fn token_exchange(read: &mut Reader<Lookup>) -> Auth0Grant {
    let Some(subject_token_type) = read.get("AUTH0_SUBJECT_TOKEN_TYPE") else {
        read.problem(
            "AUTH0_SUBJECT_TOKEN_TYPE is required with AUTH0_GRANT_TYPE=token-exchange \
             (the subject_token_type of the tenant's Custom Token Exchange profile)",
        );
        return Auth0Grant::Password;
    };
    if let Some(problem) = subject_token_type_problem(&subject_token_type) {
        read.problem(problem);
    }
    Auth0Grant::TokenExchange { subject_token_type }
}

/// Why `value` cannot be a Custom Token Exchange `subject_token_type`, if it cannot: it must
/// be an absolute URI of the operator's own (`urn:acme:...`, `https://acme.example/...`), of
/// printable ASCII, and under none of the namespaces Auth0 reserves.
fn subject_token_type_problem(value: &str) -> Option<String> {
    if !is_absolute_uri(value)
        || value.len() > MAX_SUBJECT_TOKEN_TYPE_BYTES
        || !value.bytes().all(|b| b.is_ascii_graphic())
    {
        return Some(format!(
            "AUTH0_SUBJECT_TOKEN_TYPE must be an absolute URI of your own (e.g. urn:acme:authsignal-bridge-assertion), \
             at most {MAX_SUBJECT_TOKEN_TYPE_BYTES} printable ASCII characters"
        ));
    }
    (is_reserved_urn(value) || is_reserved_host(value)).then(|| {
        "AUTH0_SUBJECT_TOKEN_TYPE is in a namespace Auth0 reserves (urn:ietf, urn:auth0, urn:okta, \
         http(s)://auth0.com, http(s)://okta.com): choose a URI of your own"
            .to_owned()
    })
}

/// A scheme (RFC 3986: a letter, then letters, digits, `+ - .`), a colon and something after it.
fn is_absolute_uri(value: &str) -> bool {
    value.split_once(':').is_some_and(|(scheme, rest)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            && !rest.is_empty()
    })
}

fn is_reserved_urn(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    RESERVED_SUBJECT_TOKEN_NAMESPACES.iter().any(|namespace| {
        lower == *namespace
            || lower
                .strip_prefix(namespace)
                .is_some_and(|rest| rest.starts_with(':'))
    })
}

fn is_reserved_host(value: &str) -> bool {
    Url::parse(value).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some_and(|host| {
                RESERVED_SUBJECT_TOKEN_HOSTS
                    .iter()
                    .any(|reserved| host == *reserved || host.ends_with(&format!(".{reserved}")))
            })
    })
}

/// `AUTH0_SIGN_IN_PROOF` and, for assertions, their parties and the profile lookup. Token
/// exchange hands Auth0 a subject token that only the Action's checks stand behind: the
/// Authsignal token there would be a way in past the bridge.
pub(super) fn sign_in_proof(read: &mut Reader<Lookup>, grant: &Auth0Grant) -> SignInProof {
    let assertion = read.choice(
        "AUTH0_SIGN_IN_PROOF",
        &[("assertion", true), ("authsignal-token", false)],
    );
    if !assertion {
        for name in [
            "ASSERTION_ISSUER",
            "ASSERTION_AUDIENCE",
            "AUTHSIGNAL_PROFILE",
        ] {
            if read.is_set(name) {
                read.ignored(format!(
                    "{name} is ignored with AUTH0_SIGN_IN_PROOF=authsignal-token"
                ));
            }
        }
        if matches!(grant, Auth0Grant::TokenExchange { .. }) {
            read.problem(
                "AUTH0_GRANT_TYPE=token-exchange needs AUTH0_SIGN_IN_PROOF=assertion: the subject token is the bridge's assertion",
            );
        }
        return SignInProof::AuthsignalToken;
    }
    SignInProof::Assertion {
        parties: assertion_parties(read),
        look_up_profile: read.flag("AUTHSIGNAL_PROFILE", true),
    }
}

/// `ASSERTION_ISSUER` (default the bridge's name) and `ASSERTION_AUDIENCE` (default
/// `AUTH0_REALM`, the connection whose Login script checks the assertions).
fn assertion_parties(read: &mut Reader<Lookup>) -> AssertionParties {
    let realm = read.get_or("AUTH0_REALM", DEFAULT_AUTH0_REALM);
    let parties = AssertionParties {
        issuer: read.get_or("ASSERTION_ISSUER", DEFAULT_ASSERTION_ISSUER),
        audience: read.get_or("ASSERTION_AUDIENCE", &realm),
    };
    for (name, value) in [
        ("ASSERTION_ISSUER", &parties.issuer),
        ("ASSERTION_AUDIENCE", &parties.audience),
    ] {
        if value.len() > MAX_ASSERTION_PARTY_BYTES || value.chars().any(char::is_control) {
            read.problem(format!(
                "{name} must be at most {MAX_ASSERTION_PARTY_BYTES} bytes of printable text"
            ));
        }
    }
    parties
}

/// `DPOP`: whether sign-ins and refreshes must carry a proof.
pub(super) fn dpop(read: &mut Reader<Lookup>) -> DpopPolicy {
    read.choice(
        "DPOP",
        &[
            ("optional", DpopPolicy::Optional),
            ("required", DpopPolicy::Required),
        ],
    )
}

/// `SECRET_CACHE_TTL_SECONDS` and `UPSTREAM_TIMEOUT_MS`.
pub(super) fn timing(read: &mut Reader<Lookup>) -> (Duration, Duration) {
    let cache_ttl = read.number(
        "SECRET_CACHE_TTL_SECONDS",
        DEFAULT_SECRET_CACHE_TTL_SECONDS,
        0..=86_400,
    );
    let upstream_timeout = read.number(
        "UPSTREAM_TIMEOUT_MS",
        DEFAULT_UPSTREAM_TIMEOUT_MS,
        1..=900_000,
    );
    (
        Duration::from_secs(cache_ttl),
        Duration::from_millis(upstream_timeout),
    )
}

/// `REPLAY_TABLE` (a table name or ARN; unset: replay protection off) and
/// `REPLAY_WINDOW_SECONDS`.
pub(super) fn replay(read: &mut Reader<Lookup>) -> (Option<String>, Duration) {
    let table = read.get("REPLAY_TABLE");
    if table
        .as_deref()
        .is_some_and(|table| !is_table_name_or_arn(table))
    {
        read.problem(
            "REPLAY_TABLE must be a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ . -) or a table ARN",
        );
    }
    let window = read.number(
        "REPLAY_WINDOW_SECONDS",
        DEFAULT_REPLAY_WINDOW_SECONDS,
        900..=604_800,
    );
    (table, Duration::from_secs(window))
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

/// `AUTHSIGNAL_VERIFICATION_METHODS`: a comma-separated allow-list; unset, any method.
pub(super) fn verification_methods(read: &mut Reader<Lookup>) -> Option<Vec<String>> {
    let methods: Vec<String> = read
        .get("AUTHSIGNAL_VERIFICATION_METHODS")?
        .split(',')
        .map(str::trim)
        .filter(|method| !method.is_empty())
        .map(str::to_owned)
        .collect();
    if methods.is_empty() {
        read.problem(
            "AUTHSIGNAL_VERIFICATION_METHODS must name at least one method (e.g. PASSKEY), or be unset",
        );
    }
    Some(methods)
}
