//! `make bench`: the release `bootstrap` driven through the Lambda Runtime API double against
//! stand-ins for Secrets Manager, Authsignal and Auth0 that answer instantly, over plain HTTP
//! and over TLS (a test CA, as in tests/tls.rs). Prints a table and one JSON line.
//!
//! Measured: init (process start to the first `GET /runtime/invocation/next`, median of
//! `BENCH_COLD_STARTS` cold starts) and the first invocation after it; warm latency p50/p99
//! over `BENCH_WARM` invocations next to the stand-ins' own round trips measured by the same
//! driver; CPU time per warm invocation (utime+stime from /proc); peak RSS; binary size
//! (stripped) and zipped; TCP connections opened to each stand-in during the warm run. Each for
//! the sign-in, for the refresh (one Auth0 call), and for the sign-in with replay protection on
//! (one more round trip, to a DynamoDB stand-in).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::connection_counter::ConnectionCounter;
use support::faulty::FaultyUpstream;
use support::runtime_api::{Function, Outcome, RuntimeApi};
use support::tls::{https_relay, TestCa};
use support::*;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(values: &mut [f64]) -> f64 {
    percentile(values, 50.0)
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rank = ((p / 100.0) * (values.len() - 1) as f64).round() as usize;
    values[rank]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of /proc/pid/stat (1-based), i.e. 11 and 12 after the state field.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap()
}

fn zipped_size(path: &str) -> u64 {
    let script = "import io,sys,zipfile\nb=io.BytesIO()\nz=zipfile.ZipFile(b,'w',zipfile.ZIP_DEFLATED)\nz.write(sys.argv[1],'bootstrap')\nz.close()\nprint(len(b.getvalue()))";
    let out = std::process::Command::new("python3")
        .args(["-c", script, path])
        .output()
        .expect("python3");
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

struct StandIns {
    vars: Vec<(String, String)>,
    /// `vars` with replay protection on, against the DynamoDB stand-in.
    replay_vars: Vec<(String, String)>,
    /// Secrets Manager, Authsignal, Auth0, DynamoDB.
    counters: [ConnectionCounter; 4],
    /// What the driver itself uses to measure the stand-ins' round trip.
    client: reqwest::Client,
    authsignal_url: String,
    auth0_url: String,
    dynamodb_url: String,
    _servers: Vec<FaultyUpstream>,
    _ca_file: Option<tempfile_path::TempFile>,
}

mod tempfile_path {
    /// A file removed on drop.
    pub struct TempFile(pub std::path::PathBuf);
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn secrets_manager_answer() -> String {
    let secret =
        support::moto::secret_json(AUTHSIGNAL_SECRET, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET);
    json!({
        "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bridge/bench-AbCdEf",
        "Name": "bridge/bench",
        "VersionId": "v1",
        "SecretString": secret,
        "VersionStages": ["AWSCURRENT"],
        "CreatedDate": 1795600000.0
    })
    .to_string()
}

async fn stand_ins(tls: bool) -> StandIns {
    let validated =
        json!({"isValid": true, "state": "CHALLENGE_SUCCEEDED", "userId": USER_ID}).to_string();
    let servers = vec![
        FaultyUpstream::start(&secrets_manager_answer(), "application/x-amz-json-1.1").await,
        FaultyUpstream::start(&validated, "application/json").await,
        FaultyUpstream::start(&token_json().to_string(), "application/json").await,
        FaultyUpstream::start("{}", "application/x-amz-json-1.0").await,
    ];
    let (addrs, ca_file, scheme, host, client) = if tls {
        let ca = TestCa::new("bench CA");
        let mut addrs = Vec::new();
        for server in &servers {
            addrs.push(https_relay(&ca, server.addr).await);
        }
        let path = std::env::temp_dir().join(format!("bridge-bench-ca-{}.pem", std::process::id()));
        std::fs::write(&path, &ca.pem).unwrap();
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap()])
            .build()
            .unwrap();
        (
            addrs,
            Some(tempfile_path::TempFile(path)),
            "https",
            "localhost",
            client,
        )
    } else {
        let addrs = servers.iter().map(|server| server.addr).collect();
        (addrs, None, "http", "127.0.0.1", reqwest::Client::new())
    };
    let counters = [
        ConnectionCounter::start(addrs[0]).await,
        ConnectionCounter::start(addrs[1]).await,
        ConnectionCounter::start(addrs[2]).await,
        ConnectionCounter::start(addrs[3]).await,
    ];
    let url = |counter: &ConnectionCounter| format!("{scheme}://{host}:{}", counter.addr.port());
    let mut vars: Vec<(String, String)> = vec![
        ("SECRET_ID".into(), "bridge/bench".into()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER".into(), url(&counters[0])),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID".into(), "bench".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "bench".into()),
        (
            "AUTHSIGNAL_API_URL".into(),
            format!("{}/v1", url(&counters[1])),
        ),
        ("AUTH0_DOMAIN".into(), url(&counters[2])),
        ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
        // INFO, as a deployed function logs: the summary line's cost is part of each invocation.
        ("AWS_LAMBDA_LOG_LEVEL".into(), "INFO".into()),
    ];
    if let Some(file) = &ca_file {
        vars.push(("SSL_CERT_FILE".into(), file.0.to_str().unwrap().into()));
    }
    let replay_vars = with(
        &vars,
        &[
            ("REPLAY_TABLE", "bridge-bench"),
            ("AWS_ENDPOINT_URL_DYNAMODB", &url(&counters[3])),
        ],
    );
    StandIns {
        authsignal_url: format!("{}/v1/validate", url(&counters[1])),
        auth0_url: format!("{}/oauth/token", url(&counters[2])),
        dynamodb_url: url(&counters[3]),
        vars,
        replay_vars,
        counters,
        client,
        _servers: servers,
        _ca_file: ca_file,
    }
}

/// The stand-ins' own warm round trip for the calls of one operation, in ms (`calls`: the
/// URLs and bodies, in order).
async fn stand_in_round_trips(
    stand_ins: &StandIns,
    calls: &[(&String, &str)],
    samples: usize,
) -> Vec<f64> {
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples + 10 {
        let started = Instant::now();
        for (url, body) in calls {
            let answer = stand_ins
                .client
                .post(url.as_str())
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            answer.bytes().await.unwrap();
        }
        if i >= 10 {
            times.push(ms(started.elapsed()));
        }
    }
    times
}

/// Warm invocations of one operation on one execution environment.
struct Warm {
    p50_ms: f64,
    p99_ms: f64,
    /// The stand-ins' own round trip for the operation's calls, p50.
    stand_in_p50_ms: f64,
    cpu_us: f64,
    /// Connections the function opened during the run: Secrets Manager, Authsignal, Auth0,
    /// DynamoDB.
    connections: [usize; 4],
}

impl Warm {
    fn overhead_ms(&self) -> f64 {
        self.p50_ms - self.stand_in_p50_ms
    }

    fn json(&self) -> Value {
        json!({
            "p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "stand_in_p50_ms": self.stand_in_p50_ms,
            "overhead_p50_ms": self.overhead_ms(), "cpu_us_per_invocation": self.cpu_us,
            "connections_opened": self.connections,
        })
    }
}

/// Cold starts: init and the first invocation after it (medians).
struct Cold {
    init_ms: f64,
    first_invocation_ms: f64,
    /// Of the first invocation: time in Secrets Manager, Authsignal, Auth0 and DynamoDB calls
    /// (connection set-up and TLS handshakes included), from the summary log line.
    parts: [f64; 4],
}

struct Results {
    transport: &'static str,
    cold: Cold,
    /// The first invocation with replay protection on (DynamoDB's connection is not opened
    /// during init).
    cold_with_replay: Cold,
    sign_in: Warm,
    refresh: Warm,
    sign_in_with_replay: Warm,
    peak_rss_mib: f64,
}

async fn cold_starts(binary: &str, vars: &[(String, String)], count: usize) -> Cold {
    let event = event("http-api-token.json");
    let mut inits = Vec::new();
    let mut firsts = Vec::new();
    let mut parts: [Vec<f64>; 4] = Default::default();
    for _ in 0..count {
        let mut runtime = RuntimeApi::start().await;
        let spawned = Instant::now();
        let mut function = Function::start_binary(binary, &runtime, vars);
        let polled = runtime.first_poll().await;
        inits.push(ms(polled - spawned));
        let started = Instant::now();
        match runtime.invoke(&event, Duration::from_secs(10)).await {
            Outcome::Response(response) => assert_eq!(response["statusCode"], 200, "{response}"),
            other => panic!("{other:?}"),
        }
        firsts.push(ms(started.elapsed()));
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Some(summary) = function.summaries().first() {
            for (part, key) in parts.iter_mut().zip([
                "secrets_manager_ms",
                "authsignal_ms",
                "auth0_ms",
                "dynamodb_ms",
            ]) {
                part.push(summary[key].as_f64().unwrap_or(0.0));
            }
        }
        function.stop();
    }
    Cold {
        init_ms: median(&mut inits),
        first_invocation_ms: median(&mut firsts),
        parts: parts.map(|mut part| median(&mut part)),
    }
}

/// `warm` invocations of `event` on a warm function; the stand-ins' round trip for `calls`.
async fn warm_run(
    runtime: &mut RuntimeApi,
    pid: u32,
    event: &Value,
    warm: usize,
    stand_ins: &StandIns,
    calls: &[(&String, &str)],
) -> Warm {
    runtime.respond(event).await;
    let before = stand_ins
        .counters
        .each_ref()
        .map(|counter| counter.opened());
    let cpu_before = cpu_seconds(pid);
    let mut latencies = Vec::with_capacity(warm);
    for _ in 0..warm {
        let started = Instant::now();
        match runtime.invoke(event, Duration::from_secs(10)).await {
            Outcome::Response(response) => assert_eq!(response["statusCode"], 200),
            other => panic!("{other:?}"),
        }
        latencies.push(ms(started.elapsed()));
    }
    let cpu_after = cpu_seconds(pid);
    // Before the driver's own round trips, which open connections of their own.
    let after = stand_ins
        .counters
        .each_ref()
        .map(|counter| counter.opened());
    let mut round_trips = stand_in_round_trips(stand_ins, calls, warm).await;
    Warm {
        p50_ms: percentile(&mut latencies.clone(), 50.0),
        p99_ms: percentile(&mut latencies, 99.0),
        stand_in_p50_ms: median(&mut round_trips),
        cpu_us: (cpu_after - cpu_before) * 1e6 / warm as f64,
        connections: [0, 1, 2, 3].map(|i| after[i] - before[i]),
    }
}

async fn measure(binary: &str, transport: &'static str, count: usize, warm: usize) -> Results {
    let stand_ins = stand_ins(transport == "tls").await;
    let cold = cold_starts(binary, &stand_ins.vars, count).await;
    let cold_with_replay = cold_starts(binary, &stand_ins.replay_vars, count).await;

    let validate = (&stand_ins.authsignal_url, r#"{"token":"x"}"#);
    let exchange = (&stand_ins.auth0_url, "grant_type=x");
    let put_item = (&stand_ins.dynamodb_url, "{}");
    let mut runtime = RuntimeApi::start().await;
    let function = Function::start_binary(binary, &runtime, &stand_ins.vars);
    let pid = function.pid();
    let sign_in = warm_run(
        &mut runtime,
        pid,
        &event("http-api-token.json"),
        warm,
        &stand_ins,
        &[validate, exchange],
    )
    .await;
    let refresh = warm_run(
        &mut runtime,
        pid,
        &event("http-api-refresh.json"),
        warm,
        &stand_ins,
        &[exchange],
    )
    .await;
    let peak = peak_rss_kib(pid);
    drop(function);

    let mut runtime = RuntimeApi::start().await;
    let function = Function::start_binary(binary, &runtime, &stand_ins.replay_vars);
    let pid = function.pid();
    let sign_in_with_replay = warm_run(
        &mut runtime,
        pid,
        &event("http-api-token.json"),
        warm,
        &stand_ins,
        &[validate, put_item, exchange],
    )
    .await;
    let peak = peak.max(peak_rss_kib(pid));
    drop(function);
    Results {
        transport,
        cold,
        cold_with_replay,
        sign_in,
        refresh,
        sign_in_with_replay,
        peak_rss_mib: peak as f64 / 1024.0,
    }
}

fn main() {
    let cold_starts = env_number("BENCH_COLD_STARTS", 11);
    let warm = env_number("BENCH_WARM", 1000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // The production build (`make bench` copies `cargo build --release`'s output there): the
    // binary cargo builds for benches has the dev-dependencies' features unified into it.
    let binary = std::env::var("BENCH_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_bootstrap").to_owned());
    let binary = binary.as_str();
    let size = std::fs::metadata(binary).unwrap().len();
    let zipped = zipped_size(binary);
    let results: Vec<Results> = ["http", "tls"]
        .into_iter()
        .map(|transport| runtime.block_on(measure(binary, transport, cold_starts, warm)))
        .collect();

    println!(
        "\nbootstrap {binary}: {:.2} MB stripped, {:.2} MB zipped",
        size as f64 / 1e6,
        zipped as f64 / 1e6
    );
    println!("{cold_starts} cold starts, {warm} warm invocations per transport and operation; times in ms (medians unless noted)\n");
    println!("| transport | init | first invocation (SM / Authsignal / Auth0 calls) | init + first | first invocation, replay on (DynamoDB call) | peak RSS |");
    println!("|---|---|---|---|---|---|");
    for r in &results {
        println!(
            "| {} | {:.1} | {:.1} ({:.1} / {:.1} / {:.1}) | {:.1} | {:.1} ({:.1}) | {:.1} MiB |",
            r.transport,
            r.cold.init_ms,
            r.cold.first_invocation_ms,
            r.cold.parts[0],
            r.cold.parts[1],
            r.cold.parts[2],
            r.cold.init_ms + r.cold.first_invocation_ms,
            r.cold_with_replay.first_invocation_ms,
            r.cold_with_replay.parts[3],
            r.peak_rss_mib,
        );
    }
    println!();
    println!("| transport | operation | warm p50 | warm p99 | stand-ins' round trip p50 | bridge overhead p50 | CPU per warm invocation | connections opened (SM, Authsignal, Auth0, DynamoDB) |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut json_results = Vec::new();
    for r in &results {
        for (operation, warm) in [
            ("sign-in", &r.sign_in),
            ("sign-in, replay on", &r.sign_in_with_replay),
            ("refresh", &r.refresh),
        ] {
            println!(
                "| {} | {operation} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} us | {:?} |",
                r.transport,
                warm.p50_ms,
                warm.p99_ms,
                warm.stand_in_p50_ms,
                warm.overhead_ms(),
                warm.cpu_us,
                warm.connections
            );
        }
        let cold_json = |cold: &Cold| {
            json!({
                "init_ms": cold.init_ms, "first_invocation_ms": cold.first_invocation_ms,
                "first_invocation_upstream_ms": {"secrets_manager": cold.parts[0], "authsignal": cold.parts[1], "auth0": cold.parts[2], "dynamodb": cold.parts[3]},
            })
        };
        json_results.push(json!({
            "transport": r.transport,
            "cold": cold_json(&r.cold),
            "cold_with_replay": cold_json(&r.cold_with_replay),
            "sign_in": r.sign_in.json(),
            "sign_in_with_replay": r.sign_in_with_replay.json(),
            "refresh": r.refresh.json(),
            "peak_rss_mib": r.peak_rss_mib,
        }));
    }
    let line: Value = json!({
        "binary_bytes": size, "zipped_bytes": zipped, "cold_starts": cold_starts,
        "warm_invocations": warm, "results": json_results,
    });
    println!("\n{line}");
}
