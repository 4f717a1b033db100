//! authsignal-auth0-bridge: validates an Authsignal passkey token and exchanges it for Auth0
//! tokens, then refreshes and revokes them for the app with the client credentials only the
//! bridge holds.
//!
//! The folders are the layers, and the data flows one way through them: [`edge`] (API Gateway
//! events in, answers out) -> [`flow`] (what each operation does) -> [`upstream`] (one client
//! per service) -> back out through [`error`] and [`edge`]. Beneath all three: [`settings`],
//! [`error`], [`budget`], [`telemetry`], [`logging`], [`signing_key`] and the shared vocabulary
//! in [`tokens`]; above them, [`startup`], the wiring. `scripts/check-layers.py` holds the
//! imports to that order.
//!
//! docs/behaviour.md names, for each rule, the function that implements it and the tests that
//! prove it. In short:
//! - routes, method, size, body encodings, fields, grants, the DPoP header's shape:
//!   [`edge::request`]; response headers, event formats, the order of the checks: [`edge::http`]
//! - the operations (sign-in, refresh, revocation) and what they give: [`flow::operation`];
//!   which one does what, refresh-once on rejected credentials: [`flow::bridge`]; the sign-in's
//!   steps and when the replay record is released: [`flow::sign_in`]; which record a challenge
//!   claims: [`flow::one_time`]; the assertion: [`flow::assertion`]
//! - status codes and OAuth error bodies: [`error`]
//! - settings and the https-only rule: [`settings`]
//! - secret loading, caching, refresh on rejection: [`upstream::credentials`]; what the two AWS
//!   clients share: [`upstream::aws`]; the replay table: [`upstream::replay`]
//! - what counts as a succeeded challenge (state, action, verification method), the profile:
//!   [`upstream::authsignal`]
//! - the password-realm, token exchange and refresh grants, revocation, passthrough and
//!   `Retry-After`: [`upstream::auth0`]
//! - timeouts and the invocation deadline: [`budget`]; the shared HTTP client and the body size
//!   cap: [`upstream::http_client`]
//! - logs: [`logging`]; the invocation trace, the summary line and the EMF metrics: [`telemetry`]

pub mod budget;
pub mod edge;
pub mod email;
pub mod error;
pub mod flow;
pub mod logging;
pub mod settings;
pub mod signing_key;
pub mod startup;
pub mod telemetry;
pub mod tokens;
pub mod upstream;
