//! What an app asks the bridge to do, decoded from a request by the request rules
//! ([`crate::edge::request`]), and what it gets when it works: the domain's nouns, shared by the edge
//! and the flow ([`crate::flow::bridge`]).

use std::net::IpAddr;

use crate::budget::Deadline;
use crate::email::EmailAddress;
use crate::tokens::{AuthsignalToken, DpopProof, RefreshToken, TokenResponse};

/// One request, as the request rules decoded it: what the app asks the bridge to do.
#[derive(Debug)]
pub enum Operation {
    /// The passkey sign-in: validate the Authsignal token, then sign the user in at Auth0.
    SignIn {
        token: AuthsignalToken,
        /// The app's DPoP proof for Auth0's token endpoint, forwarded unchanged.
        dpop: Option<DpopProof>,
    },
    /// The refresh grant at Auth0, with the bridge's client credentials.
    Refresh {
        refresh_token: RefreshToken,
        /// Narrows the scope when sent.
        scope: Option<String>,
        dpop: Option<DpopProof>,
    },
    /// RFC 7009 revocation of a refresh token at Auth0.
    Revoke { token: RefreshToken },
    /// The start of a sign-up (or of a new device) by verified email: a token for the app's
    /// email challenge.
    SignUp {
        email: EmailAddress,
        /// The caller's `User-Agent`, passed to Authsignal's rules (at most 512 bytes).
        user_agent: Option<String>,
    },
}

/// Which operation a request was, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    SignIn,
    Refresh,
    Revoke,
    SignUp,
}

impl OperationKind {
    /// The label in the summary line and the `Operation` metric dimension.
    pub fn label(self) -> &'static str {
        match self {
            OperationKind::SignIn => "sign_in",
            OperationKind::Refresh => "refresh",
            OperationKind::Revoke => "revoke",
            OperationKind::SignUp => "sign_up",
        }
    }
}

impl Operation {
    pub fn kind(&self) -> OperationKind {
        match self {
            Operation::SignIn { .. } => OperationKind::SignIn,
            Operation::Refresh { .. } => OperationKind::Refresh,
            Operation::Revoke { .. } => OperationKind::Revoke,
            Operation::SignUp { .. } => OperationKind::SignUp,
        }
    }

    /// The app's DPoP proof, forwarded with the token call (a revocation has none).
    pub fn dpop(&self) -> Option<&DpopProof> {
        match self {
            Operation::SignIn { dpop, .. } | Operation::Refresh { dpop, .. } => dpop.as_ref(),
            Operation::Revoke { .. } | Operation::SignUp { .. } => None,
        }
    }
}

/// What a successful operation gives the app.
#[derive(Debug)]
pub enum Success {
    /// Auth0's token JSON (sign-in, refresh), passed through unchanged.
    Tokens(TokenResponse),
    /// Auth0 revoked the refresh token.
    Revoked,
    /// Auth0 said the token is invalid, expired or already revoked: nothing left to revoke,
    /// which RFC 7009 section 2.2 answers as a success. Auth0's error code is for the log.
    NothingToRevoke { auth0_error: String },
    /// A sign-up started: Authsignal's token for the app's email challenge.
    SignUpStarted(AuthsignalToken),
}

impl Success {
    /// The outcome label in logs and metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            Success::Tokens(_) | Success::Revoked | Success::SignUpStarted(_) => "success",
            Success::NothingToRevoke { .. } => "nothing_to_revoke",
        }
    }

    /// What the operator should read in the summary line, when there is something.
    pub fn log_detail(&self) -> Option<String> {
        match self {
            Success::NothingToRevoke { auth0_error } => {
                Some(format!("auth0 did not revoke the token: {auth0_error}"))
            }
            _ => None,
        }
    }
}

/// Where the request came from and how long it may take.
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    /// The Lambda request id.
    pub request_id: &'a str,
    /// The caller's IP as API Gateway saw it (sent to Auth0 as `auth0-forwarded-for`).
    pub client_ip: Option<IpAddr>,
    pub deadline: Deadline,
}
