//! What both benchmarks (`bench.rs`, `latency.rs`) measure with. A folder, not `common.rs`:
//! Cargo would take a file in benches/ for a benchmark of its own.

#![allow(dead_code)] // each benchmark uses a part of it
use std::time::Duration;

/// `name` from the environment as a count, else `default` (the benchmarks' knobs).
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The binary to measure: `BENCH_BINARY` (`make bench` copies `cargo build --release`'s output
/// there: the binary cargo builds for benches has the dev-dependencies' features unified into
/// it), else that one.
pub fn bench_binary() -> String {
    std::env::var("BENCH_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_bootstrap").to_owned())
}

/// The `p`th percentile of `values` (nearest rank).
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    sorted[((p / 100.0) * (sorted.len() - 1) as f64).round() as usize]
}

pub fn median(values: &[f64]) -> f64 {
    percentile(values, 50.0)
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
