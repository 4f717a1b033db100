//! `make bench`'s latency part: what a user waits for, with each upstream answering after a
//! realistic round trip, the bridge side by side with the Node back end of Authsignal's guide
//! (benches/node-backend/), in one run, alternating.
//!
//! Every upstream is a stand-in on loopback behind a relay. The relay makes opening a
//! connection cost two of that upstream's network round trips (TCP, then TLS), and each answer
//! comes after the upstream's latency: Authsignal 30 ms, Auth0's token endpoint 120 ms (with its
//! Login script; for the guide's back end the script calls Authsignal too, so 150 ms), DynamoDB
//! 5 ms, Secrets Manager 20 ms; network round trips Authsignal 30, Auth0 30, DynamoDB 5, Secrets
//! Manager 20. `BENCH_<UPSTREAM>_MS` and `BENCH_<UPSTREAM>_RTT_MS` (AUTHSIGNAL, AUTH0, DYNAMODB,
//! SECRETS_MANAGER) change them; `BENCH_LATENCY_ROUNDS` (default 5) is the number of cold
//! starts per mode and `BENCH_LATENCY_WARM` (default 20) the sign-ins and refreshes after each.
//!
//! Measured per mode: a cold start (the process spawned with the first sign-in already waiting,
//! until its answer: init and the first answer, as a user meets them), warm sign-ins and
//! refreshes (p50, p90), the sequential upstream stages each warm sign-in waited through (from
//! the stand-ins' own clocks: calls that overlap are one stage), and the function's own time
//! outside those waits. Prints a table and one JSON line.

#[path = "../tests/support/mod.rs"]
mod support;

mod common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use support::runtime_api::{Function, Outcome, RuntimeApi};
use support::*;

/// One upstream's timing.
#[derive(Debug, Clone, Copy)]
struct Timing {
    /// How long a request takes to answer, network included.
    latency: Duration,
    /// One network round trip: opening a connection costs two.
    rtt: Duration,
}

fn timing(name: &str, latency_ms: u64, rtt_ms: u64) -> Timing {
    let get = |suffix: &str, default: u64| {
        std::env::var(format!("BENCH_{name}_{suffix}"))
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    Timing {
        latency: Duration::from_millis(get("MS", latency_ms)),
        rtt: Duration::from_millis(get("RTT_MS", rtt_ms)),
    }
}

/// What a stand-in waited on, by its own clock: (upstream, start, end).
type Waits = Arc<Mutex<Vec<(&'static str, Instant, Instant)>>>;

/// How a stand-in answers: by a request's method and path, the status, content type and body,
/// after how long.
type Reply = fn(&hyper::Method, &str) -> (u16, &'static str, String, bool);

/// A stand-in behind a relay that charges for opening connections. Its URL is the relay's.
struct StandIn {
    url: String,
    _tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl StandIn {
    async fn start(
        name: &'static str,
        timing: Timing,
        extra: Duration,
        answer: Reply,
        waits: Waits,
    ) -> StandIn {
        let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server_addr = server.local_addr().unwrap();
        let serve_waits = waits.clone();
        let server_task = tokio::spawn(async move {
            loop {
                let (stream, _) = server.accept().await.unwrap();
                let waits = serve_waits.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let waits = waits.clone();
                        async move {
                            Ok::<_, Infallible>(
                                respond(name, timing, extra, answer, &waits, request).await,
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", relay.local_addr().unwrap());
        let relay_task = tokio::spawn(relay_connections(
            name,
            relay,
            server_addr,
            timing.rtt * 2,
            waits,
        ));
        StandIn {
            url,
            _tasks: vec![server_task, relay_task],
        }
    }
}

/// Forwards each connection to the stand-in once two round trips have passed (what TCP and TLS
/// cost before the first request can be sent).
async fn relay_connections(
    name: &'static str,
    relay: tokio::net::TcpListener,
    target: SocketAddr,
    setup: Duration,
    waits: Waits,
) {
    loop {
        let (mut inbound, _) = relay.accept().await.unwrap();
        let waits = waits.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            tokio::time::sleep(setup).await;
            waits.lock().unwrap().push((name, started, Instant::now()));
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                // No Nagle delays of the relay's own in what it measures.
                let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

async fn respond(
    name: &'static str,
    timing: Timing,
    extra: Duration,
    answer: Reply,
    waits: &Waits,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let (status, content_type, body, is_work) = answer(request.method(), request.uri().path());
    // A request that does work (validate, a token) takes the upstream's latency; anything else
    // (the bridge's warm-up HEAD) one network round trip.
    let wait = if is_work {
        timing.latency + extra
    } else {
        timing.rtt
    };
    tokio::time::sleep(wait).await;
    waits.lock().unwrap().push((name, started, Instant::now()));
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn secrets_manager(_: &hyper::Method, _: &str) -> (u16, &'static str, String, bool) {
    let secret =
        support::moto::secret_json(AUTHSIGNAL_SECRET, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET);
    let answer = support::moto::get_secret_value_answer("bridge/bench", &secret);
    (200, "application/x-amz-json-1.1", answer, true)
}

fn dynamodb(_: &hyper::Method, _: &str) -> (u16, &'static str, String, bool) {
    (200, "application/x-amz-json-1.0", "{}".to_owned(), true)
}

fn authsignal(method: &hyper::Method, path: &str) -> (u16, &'static str, String, bool) {
    if method == hyper::Method::HEAD {
        return (404, "application/json", String::new(), false);
    }
    if path.starts_with("/v1/users/") {
        let user = json!({"isEnrolled": true, "email": USER_EMAIL, "emailVerified": true, "displayName": "Ada Lovelace"});
        return (200, "application/json", user.to_string(), true);
    }
    let validated = json!({
        "isValid": true, "state": "CHALLENGE_SUCCEEDED", "userId": USER_ID,
        "action": "signInWithPasskey", "idempotencyKey": random_key(), "verificationMethod": "PASSKEY"
    });
    (200, "application/json", validated.to_string(), true)
}

fn auth0(method: &hyper::Method, _: &str) -> (u16, &'static str, String, bool) {
    if method == hyper::Method::HEAD {
        return (404, "application/json", String::new(), false);
    }
    (200, "application/json", token_json().to_string(), true)
}

fn random_key() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    hex_of(&bytes)
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The back end being measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The Node back end of Authsignal's guide: validate, then Auth0, whose script calls
    /// Authsignal again.
    NodeGuide,
    /// The bridge as deployed by default: assertions, the profile lookup, replay protection.
    Bridge,
    /// The same without the profile lookup.
    BridgeProfileOff,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::NodeGuide => "Node back end (guide)",
            Mode::Bridge => "bridge, default (profile on)",
            Mode::BridgeProfileOff => "bridge, profile lookup off",
        }
    }
}

/// The stand-ins of one mode, and what they waited on.
struct LatencyStandIns {
    secrets_manager: StandIn,
    authsignal: StandIn,
    auth0: StandIn,
    dynamodb: StandIn,
    waits: Waits,
}

async fn upstreams(mode: Mode, timings: &HashMap<&str, Timing>) -> LatencyStandIns {
    let waits: Waits = Arc::default();
    // The guide's Login script asks Authsignal who owns the token: Auth0 answers one Authsignal
    // round trip later.
    let script = if mode == Mode::NodeGuide {
        timings["AUTHSIGNAL"].latency
    } else {
        Duration::ZERO
    };
    LatencyStandIns {
        secrets_manager: StandIn::start(
            "secrets_manager",
            timings["SECRETS_MANAGER"],
            Duration::ZERO,
            secrets_manager,
            waits.clone(),
        )
        .await,
        authsignal: StandIn::start(
            "authsignal",
            timings["AUTHSIGNAL"],
            Duration::ZERO,
            authsignal,
            waits.clone(),
        )
        .await,
        auth0: StandIn::start("auth0", timings["AUTH0"], script, auth0, waits.clone()).await,
        dynamodb: StandIn::start(
            "dynamodb",
            timings["DYNAMODB"],
            Duration::ZERO,
            dynamodb,
            waits.clone(),
        )
        .await,
        waits,
    }
}

fn variables(mode: Mode, upstreams: &LatencyStandIns) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = [
        ("SECRET_ID", "bridge/bench"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AUTHSIGNAL_ACTION", "signInWithPasskey"),
        ("AUTH0_SCOPE", "openid profile email offline_access"),
        ("PATH", &std::env::var("PATH").unwrap_or_default()),
        ("AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    vars.extend([
        (
            "AWS_ENDPOINT_URL_SECRETS_MANAGER".to_owned(),
            upstreams.secrets_manager.url.clone(),
        ),
        (
            "AUTHSIGNAL_API_URL".to_owned(),
            format!("{}/v1", upstreams.authsignal.url),
        ),
        ("AUTH0_DOMAIN".to_owned(), upstreams.auth0.url.clone()),
    ]);
    if mode != Mode::NodeGuide {
        vars.extend([
            ("REPLAY_TABLE".to_owned(), "bridge-bench".to_owned()),
            (
                "AWS_ENDPOINT_URL_DYNAMODB".to_owned(),
                upstreams.dynamodb.url.clone(),
            ),
            (
                "AUTHSIGNAL_VERIFICATION_METHODS".to_owned(),
                "PASSKEY".to_owned(),
            ),
        ]);
    }
    if mode == Mode::BridgeProfileOff {
        vars.push(("AUTHSIGNAL_PROFILE".to_owned(), "false".to_owned()));
    }
    vars
}

fn start(mode: Mode, runtime: &RuntimeApi, vars: &[(String, String)]) -> Function {
    match mode {
        Mode::NodeGuide => {
            let script = format!(
                "{}/benches/node-backend/runtime.js",
                env!("CARGO_MANIFEST_DIR")
            );
            Function::start_wrapped(&["node"], &script, runtime, vars)
        }
        Mode::Bridge | Mode::BridgeProfileOff => {
            Function::start_binary(&bench_binary(), runtime, vars)
        }
    }
}

/// One mode's figures, in milliseconds.
#[derive(Default)]
struct Figures {
    cold: Vec<f64>,
    sign_in: Vec<f64>,
    refresh: Vec<f64>,
    stages: Vec<usize>,
    own: Vec<f64>,
}

/// The stages of the waits between `from` and `to` (overlapping waits are one stage), and the
/// time no wait covered.
fn stages_and_own_time(
    waits: &[(&'static str, Instant, Instant)],
    from: Instant,
    to: Instant,
) -> (usize, Duration) {
    let mut spans: Vec<(Instant, Instant)> = waits
        .iter()
        .filter(|(_, start, end)| *start >= from && *end <= to)
        .map(|(_, start, end)| (*start, *end))
        .collect();
    spans.sort();
    let (mut stages, mut covered) = (0, Duration::ZERO);
    let mut current: Option<(Instant, Instant)> = None;
    for (start, end) in spans {
        match current {
            Some((stage_start, stage_end)) if start < stage_end => {
                current = Some((stage_start, stage_end.max(end)))
            }
            _ => {
                if let Some((stage_start, stage_end)) = current {
                    covered += stage_end - stage_start;
                }
                stages += 1;
                current = Some((start, end));
            }
        }
    }
    if let Some((stage_start, stage_end)) = current {
        covered += stage_end - stage_start;
    }
    (stages, (to - from).saturating_sub(covered))
}

async fn invoke(runtime: &mut RuntimeApi, event: &Value) -> Duration {
    let started = Instant::now();
    match runtime.invoke(event, Duration::from_secs(20)).await {
        Outcome::Response(response) => assert_eq!(response["statusCode"], 200, "{response}"),
        other => panic!("{other:?}"),
    }
    started.elapsed()
}

/// One round of `mode`: a cold start with the first sign-in waiting, then warm sign-ins and
/// refreshes.
async fn round(mode: Mode, timings: &HashMap<&str, Timing>, warm: usize, figures: &mut Figures) {
    let upstreams = upstreams(mode, timings).await;
    let vars = variables(mode, &upstreams);
    let sign_in = || sign_in_event(&signed_authsignal_token(USER_ID));
    let mut runtime = RuntimeApi::start().await;
    let spawned = Instant::now();
    let mut function = start(mode, &runtime, &vars);
    match runtime.invoke(&sign_in(), Duration::from_secs(30)).await {
        Outcome::Response(response) => {
            assert_eq!(response["statusCode"], 200, "{mode:?}: {response}")
        }
        other => panic!("{mode:?}: {other:?}\n{:#?}", function.output()),
    }
    figures.cold.push(ms(spawned.elapsed()));
    if std::env::var_os("BENCH_LATENCY_TRACE").is_some() {
        let mut waits = upstreams.waits.lock().unwrap().clone();
        waits.sort_by_key(|(_, start, _)| *start);
        eprintln!("{mode:?} cold {:.1} ms:", ms(spawned.elapsed()));
        for (name, start, end) in waits {
            eprintln!(
                "  {name:<16} {:>6.1} -> {:>6.1}",
                ms(start - spawned),
                ms(end - spawned)
            );
        }
    }
    for _ in 0..warm {
        let from = Instant::now();
        figures
            .sign_in
            .push(ms(invoke(&mut runtime, &sign_in()).await));
        let to = Instant::now();
        let (stages, own) = stages_and_own_time(&upstreams.waits.lock().unwrap(), from, to);
        figures.stages.push(stages);
        figures.own.push(ms(own));
        figures.refresh.push(ms(invoke(
            &mut runtime,
            &refresh_event(FIXTURE_REFRESH_TOKEN),
        )
        .await));
    }
    function.terminate();
}

fn report(results: &[(Mode, Figures)]) {
    let node = &results
        .iter()
        .find(|(mode, _)| *mode == Mode::NodeGuide)
        .unwrap()
        .1;
    println!("\nLatency with real round trips (ms; p50 / p90; ratio to the Node back end's p50)");
    println!(
        "{:<31} {:>22} {:>16} {:>24} {:>7} {:>9}",
        "", "warm sign-in", "warm refresh", "cold (init + answer)", "stages", "own time"
    );
    let mut json_rows = Vec::new();
    for (mode, figures) in results {
        let p50 = |values: &[f64]| percentile(values, 50.0);
        let ratio = |values: &[f64], baseline: &[f64]| p50(values) / p50(baseline);
        let stages = percentile(
            &figures.stages.iter().map(|s| *s as f64).collect::<Vec<_>>(),
            50.0,
        );
        println!(
            "{:<31} {:>7.1} / {:>5.1} ({:.2}x) {:>6.1} / {:>5.1} {:>7.1} / {:>5.1} ({:.2}x) {:>7} {:>9.1}",
            mode.label(),
            p50(&figures.sign_in), percentile(&figures.sign_in, 90.0), ratio(&figures.sign_in, &node.sign_in),
            p50(&figures.refresh), percentile(&figures.refresh, 90.0),
            p50(&figures.cold), percentile(&figures.cold, 90.0), ratio(&figures.cold, &node.cold),
            stages, p50(&figures.own),
        );
        json_rows.push(json!({
            "mode": mode.label(),
            "sign_in_ms": {"p50": p50(&figures.sign_in), "p90": percentile(&figures.sign_in, 90.0)},
            "refresh_ms": {"p50": p50(&figures.refresh), "p90": percentile(&figures.refresh, 90.0)},
            "cold_ms": {"p50": p50(&figures.cold), "p90": percentile(&figures.cold, 90.0)},
            "sign_in_vs_node": ratio(&figures.sign_in, &node.sign_in),
            "cold_vs_node": ratio(&figures.cold, &node.cold),
            "sequential_stages": stages,
            "own_time_ms": p50(&figures.own),
        }));
    }
    println!("{}", json!({"latency": json_rows}));
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rounds = env_number("BENCH_LATENCY_ROUNDS", 5);
    let warm = env_number("BENCH_LATENCY_WARM", 20);
    let timings: HashMap<&str, Timing> = [
        ("AUTHSIGNAL", timing("AUTHSIGNAL", 30, 30)),
        ("AUTH0", timing("AUTH0", 120, 30)),
        ("DYNAMODB", timing("DYNAMODB", 5, 5)),
        ("SECRETS_MANAGER", timing("SECRETS_MANAGER", 20, 20)),
    ]
    .into_iter()
    .collect();
    println!("upstream timings: {timings:?}; {rounds} rounds of a cold start and {warm} warm sign-ins and refreshes per mode");
    let modes = [Mode::NodeGuide, Mode::Bridge, Mode::BridgeProfileOff];
    let mut results: Vec<(Mode, Figures)> = modes
        .iter()
        .map(|mode| (*mode, Figures::default()))
        .collect();
    runtime.block_on(async {
        for _ in 0..rounds {
            for (mode, figures) in results.iter_mut() {
                round(*mode, &timings, warm, figures).await;
            }
        }
    });
    report(&results);
}
