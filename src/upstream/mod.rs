//! The upstream clients: one module per service the bridge calls (Authsignal, Auth0, the replay
//! table, Secrets Manager for the credentials), what they share (the HTTP client, the AWS SDK
//! configuration). Each client takes its base URL and
//! its HTTP or SDK client from outside, so tests point them at loopback stand-ins.

pub mod auth0;
pub mod authsignal;
pub mod aws;
pub mod credentials;
pub mod http_client;
pub mod replay;
pub mod sign_up_limits;
