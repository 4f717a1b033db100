//! The one error type of the bridge.
//!
//! Every way an exchange can fail is a variant of [`BridgeError`], and only this module decides
//! what each one means for the caller: the HTTP status, the OAuth `error` code
//! ([RFC 6749 section 5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)), the description
//! the caller may read, and the low-cardinality outcome label used in logs. Details that could
//! help an attacker or leak internals (upstream URLs, upstream messages, which secret is wrong)
//! are kept in [`BridgeError::log_detail`] for the operator and never reach the response body.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use reqwest::StatusCode;

/// Which upstream a failure concerns. Named in logs, never in response bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    SecretsManager,
    Authsignal,
    Auth0,
    /// The replay table (one-time tokens).
    DynamoDb,
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Upstream::SecretsManager => "secrets_manager",
            Upstream::Authsignal => "authsignal",
            Upstream::Auth0 => "auth0",
            Upstream::DynamoDb => "dynamodb",
        })
    }
}

/// How an upstream spells the words [`log_label`] lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordCase {
    /// OAuth error codes: `invalid_grant`.
    Lower,
    /// Authsignal's states and verification methods: `CHALLENGE_SUCCEEDED`, `PASSKEY`.
    Upper,
}

/// An upstream's word (an OAuth error code, an Authsignal state or method) as a label for the
/// log. Such words are short identifiers in one case; anything else, which an upstream could
/// fill with anything (a token, our own secret), is not repeated.
pub fn log_label(word: Option<&str>, case: WordCase) -> String {
    let allowed = |byte: u8| {
        byte == b'_'
            || byte.is_ascii_digit()
            || match case {
                WordCase::Lower => byte.is_ascii_lowercase(),
                WordCase::Upper => byte.is_ascii_uppercase(),
            }
    };
    match word {
        None | Some("") => "(none)".to_owned(),
        Some(word) if word.len() <= 40 && word.bytes().all(allowed) => word.to_owned(),
        Some(_) => "(unrecognised)".to_owned(),
    }
}

/// How far a request to an unavailable upstream got: whether the upstream can have acted on it.
/// The replay record is released only when it cannot (`crate::flow::exchange::auth0_issued_nothing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFate {
    /// No connection could be made: the request never left.
    NotSent,
    /// The upstream answered 5xx.
    ServerError,
    /// It may have been acted on: an unusable answer, a connection broken off mid-way.
    Unknown,
}

/// Why Authsignal's verdict did not allow the exchange (all answered as `invalid_grant`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChallengeRejection {
    /// `isValid` was false.
    NotValid,
    /// `isValid` was true but the state was not `CHALLENGE_SUCCEEDED`.
    WrongState(String),
    /// `AUTHSIGNAL_ACTION` is set and the token was issued for another action.
    WrongAction,
    /// Authsignal refused the token itself with a 4xx (other than 401/403/429).
    TokenRefused(u16),
    /// Authsignal refused to read the user it had just named (`GET /users/{userId}`) with a
    /// 4xx (other than 401/403/429): answered like a refused token.
    UserLookupRefused(u16),
    /// `AUTHSIGNAL_VERIFICATION_METHODS` is set and the challenge was passed with another
    /// method (or Authsignal named none): the method as a log label.
    MethodNotAllowed(String),
    /// With sign-up on, the user has an email Authsignal does not report verified: an account
    /// started by sign-up signs in only once its email is proven.
    EmailNotVerified,
}

impl fmt::Display for ChallengeRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChallengeRejection::NotValid => f.write_str("the token is not valid"),
            ChallengeRejection::WrongState(state) => {
                write!(f, "the challenge is in state `{state}`")
            }
            ChallengeRejection::WrongAction => f.write_str("the token is for another action"),
            ChallengeRejection::TokenRefused(status) => {
                write!(f, "Authsignal refused the token with HTTP {status}")
            }
            ChallengeRejection::UserLookupRefused(status) => {
                write!(f, "Authsignal refused the user lookup with HTTP {status}")
            }
            ChallengeRejection::MethodNotAllowed(method) => {
                write!(f, "verification method {method} is not allowed")
            }
            ChallengeRejection::EmailNotVerified => {
                f.write_str("the user's email is not verified at Authsignal")
            }
        }
    }
}

/// Why a sign-up was not started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignUpRefusal {
    /// `SIGN_UP_EMAIL_DOMAINS` does not list the email's domain.
    DomainNotAllowed,
    /// Authsignal refused a sign-up call with a 4xx (other than 401/403/429).
    AuthsignalRefused(u16),
    /// Authsignal's rules blocked the tracked action (state `BLOCK`).
    Blocked,
}

impl fmt::Display for SignUpRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignUpRefusal::DomainNotAllowed => f.write_str("the email's domain is not allowed"),
            SignUpRefusal::AuthsignalRefused(status) => {
                write!(f, "Authsignal refused the sign-up with HTTP {status}")
            }
            SignUpRefusal::Blocked => f.write_str("Authsignal's rules blocked the sign-up"),
        }
    }
}

/// How an upstream call that got an answer can end, besides the answer the caller wanted: our
/// credentials were rejected (worth one refresh and retry, `crate::flow::bridge::Bridge::call_with_credentials`), or a failure that is
/// already the caller's answer.
#[derive(Debug)]
pub enum CallError {
    /// Authsignal 401/403, Auth0 401 `invalid_client`/`access_denied`: our credentials are wrong.
    CredentialsRejected,
    Failed(BridgeError),
}

impl From<BridgeError> for CallError {
    fn from(error: BridgeError) -> Self {
        CallError::Failed(error)
    }
}

/// An upstream body passed to the caller unchanged. It can hold tokens (`mfa_token`), so its
/// `Debug` prints only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct PassthroughBody(pub Bytes);

impl fmt::Debug for PassthroughBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PassthroughBody([REDACTED; {} bytes])", self.0.len())
    }
}

/// What the caller reads when the operator must act (our configuration, Secrets Manager).
const OPERATOR_TOLD: &str = "the service is not available; the operator has been told";
/// What the caller reads when an upstream (or the time left) ran out of time.
const UPSTREAM_TOO_SLOW: &str = "an upstream service did not answer in time; retry later";

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The request used a method other than POST.
    #[error("method not allowed")]
    MethodNotAllowed,

    /// The body (after base64 decoding) is over the 8 KiB limit.
    #[error("request body too large")]
    BodyTooLarge,

    /// The path names neither the token nor the revocation endpoint.
    #[error("unknown endpoint")]
    UnknownEndpoint,

    /// The body cannot be read, or a field is missing or wrong; the text says what is wrong and
    /// is safe to show (it names fields, never echoes a value).
    #[error("invalid request: {0}")]
    InvalidRequest(Cow<'static, str>),

    /// The token endpoint was asked for a `grant_type` other than `refresh_token`.
    #[error("unsupported grant_type")]
    UnsupportedGrantType,

    /// Authsignal did not confirm a succeeded challenge for this token.
    #[error("challenge not accepted: {0}")]
    ChallengeRejected(ChallengeRejection),

    /// The challenge already finished a sign-in (replay protection): the token was used before,
    /// here or in another execution environment, or a concurrent request won.
    #[error("the challenge was already used")]
    Replayed,

    /// Auth0 refused the request with an OAuth error; its status and body are passed through.
    #[error("auth0 rejected the request with status {status} ({code})")]
    Auth0Rejected {
        status: StatusCode,
        /// Auth0's OAuth `error` code, as a log label (see [`log_label`]).
        code: String,
        /// Auth0's JSON error body, unchanged (it may carry `mfa_token` the app needs).
        body: PassthroughBody,
        /// Seconds to send as `Retry-After` (429 only).
        retry_after: Option<u64>,
        /// Auth0's `DPoP-Nonce` header, passed on with the answer (`use_dpop_nonce`).
        dpop_nonce: Option<String>,
    },

    /// The request's `DPoP` header is repeated or not a compact JWS, or missing where
    /// `DPOP=required`; the text says which.
    #[error("invalid DPoP proof: {0}")]
    InvalidDpopProof(&'static str),

    /// An upstream is rate limiting the bridge without an OAuth error the app could use
    /// (Authsignal's 429; Auth0's 429 when its body is not an OAuth error).
    #[error("{upstream} rate limited the bridge")]
    RateLimited {
        upstream: Upstream,
        retry_after: Option<u64>,
    },

    /// An upstream says our credentials are wrong (Authsignal 401/403, Auth0 401
    /// `invalid_client`/`access_denied`), and a refresh did not help or was not allowed.
    #[error("{upstream} rejected the bridge's credentials")]
    CredentialsRejected { upstream: Upstream },

    /// The credentials could not be loaded: missing, malformed, or Secrets Manager failed.
    #[error("credentials unavailable: {0}")]
    CredentialsUnavailable(String),

    /// A setting is missing or invalid; the details were logged once at start-up.
    #[error("the function is misconfigured")]
    Misconfigured,

    /// An upstream could not be reached or answered something we cannot use.
    #[error("{upstream} unavailable: {detail}")]
    UpstreamUnavailable {
        upstream: Upstream,
        detail: String,
        fate: RequestFate,
    },

    /// DynamoDB throttled the replay record's write: worth a retry in a second.
    #[error("{upstream} throttled the bridge: {detail}")]
    Throttled { upstream: Upstream, detail: String },

    /// The replay table is missing, not accessible, or refuses our requests (our configuration).
    #[error("replay table unusable: {0}")]
    ReplayTableUnusable(String),

    /// An upstream call ran out of time.
    #[error("{upstream} timed out")]
    UpstreamTimeout { upstream: Upstream },

    /// The invocation's time budget ran out before a call could start.
    #[error("time budget exhausted before calling {upstream}")]
    BudgetExhausted { upstream: Upstream },

    /// A sign-up was not started: the domain is not allowed, or Authsignal refused it.
    #[error("sign-up refused: {0}")]
    SignUpRefused(SignUpRefusal),

    /// This email or this address started a sign-up too recently (the cooldown records).
    #[error("sign-up started too recently from this {what}")]
    SignUpCooldown {
        /// `email` or `address`, for the log.
        what: &'static str,
        retry_after: u64,
    },
}

impl BridgeError {
    /// An upstream answered something we cannot use, or failed in a way that says nothing about
    /// whether it acted on the request.
    pub fn unavailable(upstream: Upstream, detail: impl Into<String>) -> BridgeError {
        BridgeError::UpstreamUnavailable {
            upstream,
            detail: detail.into(),
            fate: RequestFate::Unknown,
        }
    }

    /// The HTTP status the caller gets.
    pub fn status(&self) -> StatusCode {
        match self {
            BridgeError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            BridgeError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BridgeError::UnknownEndpoint => StatusCode::NOT_FOUND,
            BridgeError::InvalidRequest(_)
            | BridgeError::InvalidDpopProof(_)
            | BridgeError::UnsupportedGrantType
            | BridgeError::ChallengeRejected(_)
            | BridgeError::Replayed => StatusCode::BAD_REQUEST,
            BridgeError::Throttled { .. } => StatusCode::SERVICE_UNAVAILABLE,
            BridgeError::SignUpRefused(SignUpRefusal::Blocked) => StatusCode::FORBIDDEN,
            BridgeError::SignUpRefused(_) => StatusCode::BAD_REQUEST,
            BridgeError::SignUpCooldown { .. } => StatusCode::TOO_MANY_REQUESTS,
            BridgeError::Auth0Rejected { status, .. } => *status,
            BridgeError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            BridgeError::CredentialsRejected { .. }
            | BridgeError::CredentialsUnavailable(_)
            | BridgeError::ReplayTableUnusable(_)
            | BridgeError::Misconfigured => StatusCode::INTERNAL_SERVER_ERROR,
            // A Secrets Manager failure is "credentials unavailable" (500), not a gateway error:
            // docs/behaviour.md puts Secrets Manager failing or timing out in the 500 row. A budget
            // that ran out before the call could start is the 504 row, whichever call was next.
            BridgeError::UpstreamUnavailable {
                upstream: Upstream::SecretsManager,
                ..
            }
            | BridgeError::UpstreamTimeout {
                upstream: Upstream::SecretsManager,
            } => StatusCode::INTERNAL_SERVER_ERROR,
            BridgeError::UpstreamUnavailable { .. } => StatusCode::BAD_GATEWAY,
            BridgeError::UpstreamTimeout { .. } | BridgeError::BudgetExhausted { .. } => {
                StatusCode::GATEWAY_TIMEOUT
            }
        }
    }

    /// The OAuth `error` code the bridge answers with; `None` for an Auth0 passthrough, whose
    /// code is whatever Auth0 put in the body.
    pub fn oauth_error(&self) -> Option<&'static str> {
        Some(match self {
            BridgeError::Auth0Rejected { .. } => return None,
            BridgeError::MethodNotAllowed
            | BridgeError::BodyTooLarge
            | BridgeError::UnknownEndpoint
            | BridgeError::InvalidRequest(_) => "invalid_request",
            BridgeError::UnsupportedGrantType => "unsupported_grant_type",
            BridgeError::InvalidDpopProof(_) => "invalid_dpop_proof",
            BridgeError::ChallengeRejected(_) | BridgeError::Replayed => "invalid_grant",
            BridgeError::RateLimited { .. }
            | BridgeError::Throttled { .. }
            | BridgeError::SignUpCooldown { .. } => "temporarily_unavailable",
            BridgeError::SignUpRefused(SignUpRefusal::Blocked) => "access_denied",
            BridgeError::SignUpRefused(_) => "invalid_request",
            BridgeError::CredentialsRejected { .. }
            | BridgeError::CredentialsUnavailable(_)
            | BridgeError::Misconfigured
            | BridgeError::ReplayTableUnusable(_) => "server_error",
            // Secrets Manager failing is ours to fix (500); any other upstream passes.
            BridgeError::UpstreamUnavailable { .. }
            | BridgeError::UpstreamTimeout { .. }
            | BridgeError::BudgetExhausted { .. } => {
                if self.status() == StatusCode::INTERNAL_SERVER_ERROR {
                    "server_error"
                } else {
                    "temporarily_unavailable"
                }
            }
        })
    }

    /// What the caller may read: fixed texts, never upstream messages or internal URLs.
    pub fn public_description(&self) -> &str {
        match self {
            BridgeError::MethodNotAllowed => "only POST is allowed",
            BridgeError::BodyTooLarge => "request body is larger than 8 KiB",
            BridgeError::UnknownEndpoint => "unknown endpoint",
            BridgeError::InvalidRequest(what) => what,
            BridgeError::InvalidDpopProof(what) => what,
            BridgeError::UnsupportedGrantType => {
                "grant_type must be refresh_token, or absent for a passkey sign-in"
            }
            // The same text for a replay: nothing tells a caller trying stolen tokens which
            // ones were genuine.
            BridgeError::ChallengeRejected(_) | BridgeError::Replayed => {
                "the Authsignal token is not valid for this sign-in"
            }
            BridgeError::Throttled { .. } => "the service is busy; retry in a second",
            BridgeError::Auth0Rejected { .. } => "Auth0 rejected the request",
            BridgeError::RateLimited { .. } => "too many attempts; retry later",
            BridgeError::SignUpRefused(SignUpRefusal::DomainNotAllowed) => {
                "this email domain cannot sign up"
            }
            BridgeError::SignUpRefused(SignUpRefusal::AuthsignalRefused(_)) => {
                "the sign-up could not be started"
            }
            BridgeError::SignUpRefused(SignUpRefusal::Blocked) => "the sign-up is not allowed",
            BridgeError::SignUpCooldown { .. } => "too many sign-up attempts; retry later",
            BridgeError::BudgetExhausted { .. } => UPSTREAM_TOO_SLOW,
            BridgeError::UpstreamTimeout { upstream } => match upstream {
                Upstream::SecretsManager => OPERATOR_TOLD,
                Upstream::Authsignal | Upstream::Auth0 | Upstream::DynamoDb => UPSTREAM_TOO_SLOW,
            },
            BridgeError::UpstreamUnavailable { upstream, .. } => match upstream {
                Upstream::SecretsManager => OPERATOR_TOLD,
                Upstream::Authsignal | Upstream::Auth0 | Upstream::DynamoDb => {
                    "an upstream service is unavailable; retry later"
                }
            },
            BridgeError::CredentialsRejected { .. }
            | BridgeError::CredentialsUnavailable(_)
            | BridgeError::Misconfigured
            | BridgeError::ReplayTableUnusable(_) => OPERATOR_TOLD,
        }
    }

    /// Low-cardinality outcome label for logs (and metrics).
    pub fn outcome(&self) -> &'static str {
        match self {
            BridgeError::MethodNotAllowed
            | BridgeError::BodyTooLarge
            | BridgeError::UnknownEndpoint
            | BridgeError::InvalidRequest(_)
            | BridgeError::InvalidDpopProof(_)
            | BridgeError::UnsupportedGrantType => "invalid_request",
            BridgeError::ChallengeRejected(_) => "invalid_grant",
            BridgeError::Replayed => "replayed",
            BridgeError::Throttled { .. } => "throttled",
            BridgeError::Auth0Rejected { status, .. }
                if *status == StatusCode::TOO_MANY_REQUESTS =>
            {
                "rate_limited"
            }
            BridgeError::Auth0Rejected { .. } => "auth0_rejected",
            BridgeError::RateLimited { .. } | BridgeError::SignUpCooldown { .. } => "rate_limited",
            BridgeError::SignUpRefused(_) => "sign_up_refused",
            BridgeError::CredentialsRejected { .. }
            | BridgeError::CredentialsUnavailable(_)
            | BridgeError::Misconfigured
            | BridgeError::ReplayTableUnusable(_) => "server_error",
            BridgeError::UpstreamUnavailable { .. }
            | BridgeError::UpstreamTimeout { .. }
            | BridgeError::BudgetExhausted { .. } => match self.status() {
                StatusCode::BAD_GATEWAY => "upstream_unavailable",
                StatusCode::GATEWAY_TIMEOUT => "upstream_timeout",
                _ => "server_error",
            },
        }
    }

    /// Auth0's `DPoP-Nonce`, when the answer passes one on.
    pub fn dpop_nonce(&self) -> Option<&str> {
        match self {
            BridgeError::Auth0Rejected { dpop_nonce, .. } => dpop_nonce.as_deref(),
            _ => None,
        }
    }

    /// Seconds for the `Retry-After` header, when the answer carries one.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            BridgeError::Auth0Rejected { retry_after, .. }
            | BridgeError::RateLimited { retry_after, .. } => *retry_after,
            // DynamoDB throttling passes within a second or two (on-demand tables adapt).
            BridgeError::Throttled { .. } => Some(1),
            BridgeError::SignUpCooldown { retry_after, .. } => Some(*retry_after),
            BridgeError::MethodNotAllowed
            | BridgeError::BodyTooLarge
            | BridgeError::UnknownEndpoint
            | BridgeError::InvalidRequest(_)
            | BridgeError::UnsupportedGrantType
            | BridgeError::ChallengeRejected(_)
            | BridgeError::Replayed
            | BridgeError::InvalidDpopProof(_)
            | BridgeError::CredentialsRejected { .. }
            | BridgeError::CredentialsUnavailable(_)
            | BridgeError::Misconfigured
            | BridgeError::UpstreamUnavailable { .. }
            | BridgeError::ReplayTableUnusable(_)
            | BridgeError::UpstreamTimeout { .. }
            | BridgeError::BudgetExhausted { .. }
            | BridgeError::SignUpRefused(_) => None,
        }
    }

    /// The body of the answer: Auth0's own error JSON for a passthrough, else
    /// `{"error": ..., "error_description": ...}`.
    pub fn response_body(&self) -> Bytes {
        if let BridgeError::Auth0Rejected { body, .. } = self {
            return body.0.clone();
        }
        // Every other error has a code of ours (`oauth_error` is `None` only for passthroughs).
        let body = serde_json::json!({
            "error": self.oauth_error(),
            "error_description": self.public_description(),
        });
        Bytes::from(body.to_string())
    }

    /// A line for the operator's log: says which party failed and why, without secrets or
    /// tokens (no variant ever holds one).
    pub fn log_detail(&self) -> String {
        self.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_words_of_an_upstream_reach_the_log() {
        assert_eq!(
            log_label(Some("invalid_grant"), WordCase::Lower),
            "invalid_grant"
        );
        assert_eq!(log_label(Some("PASSKEY"), WordCase::Upper), "PASSKEY");
        assert_eq!(log_label(None, WordCase::Upper), "(none)");
        assert_eq!(log_label(Some(""), WordCase::Lower), "(none)");
        for hostile in [
            "Bearer eyJ.canary-token.sig",
            "canary-secret",
            "MixedCaseSecretKey123",
            &"a".repeat(41),
        ] {
            for case in [WordCase::Lower, WordCase::Upper] {
                assert_eq!(
                    log_label(Some(hostile), case),
                    "(unrecognised)",
                    "{hostile}"
                );
            }
        }
    }
}
