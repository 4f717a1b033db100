//! The edge: API Gateway and function URL events in, the bridge's answers out. The only layer
//! that sees `lambda_http` types.

pub mod http;
pub mod request;
