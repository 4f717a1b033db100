//! authsignal-auth0-bridge: validates an Authsignal passkey token and exchanges it for Auth0
//! tokens. The data flows one way: `http` (the edge) -> `bridge` (the flow) -> `authsignal`,
//! `auth0` and `credentials` -> back out through `error` and `http`.
//!
//! Where each rule of the contract lives:
//! - request limits, response headers, event formats: [`http`]
//! - status codes and OAuth error bodies: [`error`]
//! - settings and the https-only rule: [`settings`]
//! - secret loading, caching, refresh on rejection: [`credentials`]
//! - what counts as a succeeded challenge: [`authsignal`]
//! - the password-realm grant, passthrough and `Retry-After`: [`auth0`]
//! - timeouts and the invocation deadline: [`budget`]; body size cap: [`upstream`]
//! - logs: [`logging`]; the summary line and the EMF metrics: [`telemetry`]

pub mod auth0;
pub mod authsignal;
pub mod bridge;
pub mod budget;
pub mod credentials;
pub mod error;
pub mod http;
pub mod logging;
pub mod settings;
pub mod telemetry;
pub mod upstream;
