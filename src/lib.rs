//! authsignal-auth0-bridge: validates an Authsignal passkey token and exchanges it for Auth0
//! tokens, then refreshes and revokes them for the app with the client credentials only the
//! bridge holds. The data flows one way: `http` (the edge) -> `request` (the request rules) ->
//! `bridge` (the flow, one function per operation) -> `authsignal`, `auth0` and `credentials`
//! -> back out through `error` and `http`.
//!
//! Where each rule of the contract lives:
//! - routes, method, size, body encodings, fields and grants ("Request"): [`request`]
//! - response headers, event formats, the order of the checks: [`http`]
//! - the operations (sign-in, refresh, revocation) and what they give: [`operation`]; which
//!   one does what, refresh-once on rejected credentials: [`bridge`]
//! - status codes and OAuth error bodies: [`error`]
//! - settings and the https-only rule: [`settings`]
//! - secret loading, caching, refresh on rejection: [`credentials`]; what the two AWS clients
//!   share: [`aws`]
//! - one-time tokens (the replay record): [`replay`]; when it is written and released:
//!   [`bridge`]
//! - what counts as a succeeded challenge (state, action, verification method): [`authsignal`]
//! - the password-realm and refresh grants, revocation, passthrough and `Retry-After`: [`auth0`]
//! - timeouts and the invocation deadline: [`budget`]; body size cap: [`upstream`]
//! - logs: [`logging`]; the summary line and the EMF metrics: [`telemetry`]

pub mod auth0;
pub mod authsignal;
pub mod aws;
pub mod bridge;
pub mod budget;
pub mod credentials;
pub mod error;
pub mod http;
pub mod logging;
pub mod operation;
pub mod replay;
pub mod request;
pub mod settings;
pub mod telemetry;
pub mod upstream;
