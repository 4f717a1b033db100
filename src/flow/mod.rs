//! The flow: what each operation does, in which order, and what it gives. Knows nothing about
//! API Gateway (the edge decodes requests into an [`operation::Operation`]) nor about the wire
//! formats of the upstreams (their clients in [`crate::upstream`]).

pub mod assertion;
pub mod bridge;
pub mod exchange;
pub mod one_time;
pub mod operation;
pub mod sign_in;
pub mod sign_up;
