//! `make bench`: the release `bootstrap` driven through the Lambda Runtime API double against
//! stand-ins for Secrets Manager, Authsignal and Auth0 that answer instantly, over plain HTTP
//! and over TLS (a test CA, as in tests/tls.rs). Prints a table and one JSON line.
//!
//! Measured: init (process start to the first `GET /runtime/invocation/next`, median of
//! `BENCH_COLD_STARTS` cold starts) and the first invocation after it; warm latency p50/p99
//! over `BENCH_WARM` invocations next to the stand-ins' own round trips measured by the same
//! driver; CPU time per warm invocation (utime+stime from /proc); peak RSS; binary size
//! (stripped) and zipped; TCP connections opened to each stand-in during the warm run. Each for
//! the sign-in as deployed by default (the bridge's assertion, with the profile lookup at
//! Authsignal), the sign-in with the assertion but no lookup, the sign-in with the Authsignal
//! token as the password (`AUTH0_SIGN_IN_PROOF=authsignal-token`: no signing, no lookup), the
//! refresh (one Auth0 call), and the sign-in with replay protection on (one more round trip, to
//! a DynamoDB stand-in).

#[path = "../tests/support/mod.rs"]
mod support;

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use support::connection_counter::ConnectionCounter;
use support::faulty::FaultyUpstream;
use support::runtime_api::{Function, Outcome, RuntimeApi};
use support::tls::{https_relay, TestCa};
use support::*;

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
    users_url: String,
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
    support::moto::get_secret_value_answer(
        "bridge/bench",
        &support::moto::secret_json(AUTHSIGNAL_SECRET, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET),
    )
}

async fn stand_ins(tls: bool) -> StandIns {
    // One answer for every path of Authsignal's stand-in: a validate result and a user at once
    // (each call reads only its own fields), so the profile lookup carries a real profile.
    let validated = json!({
        "isValid": true, "state": "CHALLENGE_SUCCEEDED", "userId": USER_ID,
        "idempotencyKey": "2b8e6f0a-0d3e-4c1b-9b7a-5f8c2d1e4a6b", "verificationMethod": "PASSKEY",
        "action": "signInWithPasskey", "isEnrolled": true, "email": USER_EMAIL,
        "emailVerified": true, "username": "ada", "displayName": "Ada Lovelace"
    })
    .to_string();
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
        users_url: format!("{}/v1/users/{USER_ID}", url(&counters[1])),
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
    /// CPU per invocation in each interleaved round (empty outside `interleaved`).
    cpu_rounds: Vec<f64>,
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
    /// The sign-in as deployed by default: assertion, profile lookup.
    sign_in: Warm,
    /// The assertion without the profile lookup (`AUTHSIGNAL_PROFILE=false`).
    sign_in_without_profile: Warm,
    /// The Authsignal token as the password (`AUTH0_SIGN_IN_PROOF=authsignal-token`).
    sign_in_with_token: Warm,
    refresh: Warm,
    sign_in_with_replay: Warm,
    /// The token-mode sign-in again, in another process: the noise floor.
    same_as_token: Warm,
    /// The default sign-in carrying a DPoP proof (checked and forwarded).
    sign_in_with_dpop: Warm,
    /// Instructions per warm sign-in (callgrind), plain HTTP only: the assertion with the
    /// lookup, without it, and the Authsignal token as the password. `None` without valgrind.
    instructions: Option<[f64; 3]>,
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
        let mut function = start_function(binary, &runtime, vars);
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
        init_ms: median(&inits),
        first_invocation_ms: median(&firsts),
        parts: parts.map(|part| median(&part)),
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
    let round_trips = stand_in_round_trips(stand_ins, calls, warm).await;
    Warm {
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        stand_in_p50_ms: median(&round_trips),
        cpu_us: (cpu_after - cpu_before) * 1e6 / warm as f64,
        cpu_rounds: Vec::new(),
        connections: [0, 1, 2, 3].map(|i| after[i] - before[i]),
    }
}

/// One execution environment of `binary` with `vars`: each operation's warm run in turn, and
/// its peak RSS (KiB).
async fn warm_function(
    binary: &str,
    vars: &[(String, String)],
    operations: &[(&Value, &[(&String, &str)])],
    warm: usize,
    stand_ins: &StandIns,
) -> (Vec<Warm>, u64) {
    let mut runtime = RuntimeApi::start().await;
    let function = start_function(binary, &runtime, vars);
    let pid = function.pid();
    let mut warms = Vec::new();
    for (event, calls) in operations {
        warms.push(warm_run(&mut runtime, pid, event, warm, stand_ins, calls).await);
    }
    (warms, peak_rss_kib(pid))
}

/// The CPU the function runs on, apart from this driver and the stand-ins (`make bench` keeps
/// the driver on CPU 0): sharing a core with them made CPU per invocation vary by a third from
/// one process to the next. `None` on a one-CPU machine or without `taskset`.
fn function_cpu() -> Option<String> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cpus >= 2 && which("taskset").is_some()).then(|| (cpus - 1).to_string())
}

/// Starts the function, on its own CPU when there is one.
fn start_function(binary: &str, runtime: &RuntimeApi, vars: &[(String, String)]) -> Function {
    match function_cpu() {
        Some(cpu) => Function::start_wrapped(&["taskset", "-c", &cpu], binary, runtime, vars),
        None => Function::start_binary(binary, runtime, vars),
    }
}

/// The upstream calls one operation makes: each URL and a body, in order.
type Calls<'a> = Vec<(&'a String, &'a str)>;

/// One function to measure: its variables, the calls each invocation makes, and its event.
type Configuration<'a> = (Vec<(String, String)>, Calls<'a>, &'a Value);

/// An event on one execution environment per configuration (its variables, the calls it makes
/// and the event), in `rounds`: each round gives every configuration `warm` invocations in turn, so the
/// machine's drift (frequency, other load) falls on all of them alike. CPU per invocation is the
/// median of the rounds; latencies are over all of them. Also the highest peak RSS (KiB).
async fn interleaved(
    binary: &str,
    configurations: &[Configuration<'_>],
    rounds: usize,
    warm: usize,
    stand_ins: &StandIns,
) -> (Vec<Warm>, u64) {
    let mut functions = Vec::new();
    for (vars, _, event) in configurations {
        let mut runtime = RuntimeApi::start().await;
        let function = start_function(binary, &runtime, vars);
        runtime.respond(event).await;
        functions.push((runtime, function));
    }
    let mut latencies = vec![Vec::new(); configurations.len()];
    let mut cpu_per_round = vec![Vec::new(); configurations.len()];
    let mut connections = vec![[0usize; 4]; configurations.len()];
    for _ in 0..rounds {
        for (index, (runtime, function)) in functions.iter_mut().enumerate() {
            let opened =
                |counters: &[ConnectionCounter; 4]| counters.each_ref().map(|c| c.opened());
            let before = opened(&stand_ins.counters);
            let cpu_before = cpu_seconds(function.pid());
            let event = configurations[index].2;
            for _ in 0..warm {
                let started = Instant::now();
                match runtime.invoke(event, Duration::from_secs(10)).await {
                    Outcome::Response(response) => assert_eq!(response["statusCode"], 200),
                    other => panic!("{other:?}"),
                }
                latencies[index].push(ms(started.elapsed()));
            }
            cpu_per_round[index]
                .push((cpu_seconds(function.pid()) - cpu_before) * 1e6 / warm as f64);
            let after = opened(&stand_ins.counters);
            for upstream in 0..4 {
                connections[index][upstream] += after[upstream] - before[upstream];
            }
        }
    }
    let peak = functions
        .iter()
        .map(|(_, function)| peak_rss_kib(function.pid()))
        .max()
        .unwrap_or(0);
    let mut warms = Vec::new();
    for (index, (_, calls, _)) in configurations.iter().enumerate() {
        let round_trips = stand_in_round_trips(stand_ins, calls, warm).await;
        warms.push(Warm {
            p50_ms: percentile(&latencies[index], 50.0),
            p99_ms: percentile(&latencies[index], 99.0),
            stand_in_p50_ms: median(&round_trips),
            cpu_us: median(&cpu_per_round[index]),
            cpu_rounds: cpu_per_round[index].clone(),
            connections: connections[index],
        });
    }
    (warms, peak)
}

/// Instructions per warm invocation of `event` with `vars`, counted by valgrind's callgrind:
/// the same binary, inputs and environment give the same count whatever else the machine does,
/// where CPU time between two processes varies by a quarter here. Two runs, of `few` and `many`
/// invocations; their difference per extra invocation leaves init and the first ones out.
async fn instructions_per_invocation(
    valgrind: &str,
    binary: &str,
    vars: &[(String, String)],
    event: &Value,
    few: usize,
    many: usize,
) -> f64 {
    let mut totals = Vec::new();
    for count in [few, many] {
        let out = std::env::temp_dir().join(format!(
            "bridge-bench-{}-{count}.callgrind",
            std::process::id()
        ));
        let out_arg = format!("--callgrind-out-file={}", out.display());
        let mut runtime = RuntimeApi::start().await;
        let mut function = Function::start_wrapped(
            &[valgrind, "--tool=callgrind", &out_arg],
            binary,
            &runtime,
            vars,
        );
        for _ in 0..count {
            match runtime.invoke(event, Duration::from_secs(20)).await {
                Outcome::Response(response) => {
                    assert_eq!(response["statusCode"], 200, "{response}")
                }
                other => panic!("{other:?}"),
            }
        }
        function.terminate();
        let report = std::fs::read_to_string(&out).expect("callgrind wrote its results");
        // BENCH_KEEP_CALLGRIND=<dir> keeps the reports, for callgrind_annotate.
        match std::env::var_os("BENCH_KEEP_CALLGRIND") {
            Some(dir) => {
                let kept = std::path::Path::new(&dir).join(format!(
                    "{}-{count}.callgrind",
                    vars.iter()
                        .find(|(name, _)| name == "AUTH0_SIGN_IN_PROOF"
                            || name == "AUTHSIGNAL_PROFILE")
                        .map_or("default".to_owned(), |(name, value)| format!(
                            "{name}={value}"
                        ))
                ));
                let _ = std::fs::rename(&out, kept);
            }
            None => {
                let _ = std::fs::remove_file(&out);
            }
        }
        let total: f64 = report
            .lines()
            .find_map(|line| line.strip_prefix("totals: "))
            .and_then(|total| total.trim().parse().ok())
            .expect("a totals line");
        totals.push(total);
    }
    (totals[1] - totals[0]) / (many - few) as f64
}

/// What signing one assertion costs, in the bench process itself: microseconds of CPU per
/// assertion over `count` (the Ed25519 signature, the claims' JSON and base64), of the
/// signature alone, and of a random `jti` (used when there is no replay record).
fn signing_cost_us(count: usize) -> (f64, f64, f64) {
    use authsignal_auth0_bridge::flow::assertion;
    use authsignal_auth0_bridge::settings::AssertionParties;
    use authsignal_auth0_bridge::signing_key::SigningKey;
    use authsignal_auth0_bridge::upstream::authsignal::{UserProfile, ValidatedChallenge};
    let key = SigningKey::from_pem(SIGNING_KEY).unwrap();
    let parties = AssertionParties {
        issuer: "authsignal-auth0-bridge".into(),
        audience: "authsignal".into(),
    };
    let challenge = ValidatedChallenge {
        user_id: USER_ID.into(),
        action: Some("signInWithPasskey".into()),
        idempotency_key: None,
        verification_method: Some("PASSKEY".into()),
    };
    let profile = UserProfile {
        email: Some(USER_EMAIL.into()),
        email_verified: Some(true),
        name: Some("Ada Lovelace".into()),
        ..UserProfile::default()
    };
    let started = cpu_seconds(std::process::id());
    let mut length = 0;
    for _ in 0..count {
        let signed = assertion::sign(
            &parties,
            &key,
            &challenge,
            Some(&profile),
            "challenge#2b8e6f0a-0d3e-4c1b-9b7a-5f8c2d1e4a6b",
            std::time::SystemTime::now(),
        );
        length += signed.expose().len();
    }
    assert!(length > 0);
    let assertion_us = (cpu_seconds(std::process::id()) - started) * 1e6 / count as f64;
    let message = [7u8; 600];
    let started = cpu_seconds(std::process::id());
    for _ in 0..count {
        length += key.sign(&message).len();
    }
    let signature_us = (cpu_seconds(std::process::id()) - started) * 1e6 / count as f64;
    let started = cpu_seconds(std::process::id());
    for _ in 0..count {
        length += assertion::random_jti().len();
    }
    let jti_us = (cpu_seconds(std::process::id()) - started) * 1e6 / count as f64;
    assert!(length > 0);
    (assertion_us, signature_us, jti_us)
}

async fn measure(
    binary: &str,
    transport: &'static str,
    count: usize,
    warm: usize,
    (rounds, round_invocations): (usize, usize),
) -> Results {
    let stand_ins = stand_ins(transport == "tls").await;
    let cold = cold_starts(binary, &stand_ins.vars, count).await;
    let cold_with_replay = cold_starts(binary, &stand_ins.replay_vars, count).await;

    let validate = (&stand_ins.authsignal_url, r#"{"token":"x"}"#);
    let lookup = (&stand_ins.users_url, "");
    let exchange = (&stand_ins.auth0_url, "grant_type=x");
    let put_item = (&stand_ins.dynamodb_url, "{}");
    let sign_in = event("http-api-token.json");
    let (mut refresh, peak) = warm_function(
        binary,
        &stand_ins.vars,
        &[(&event("http-api-refresh.json"), &[exchange])],
        warm,
        &stand_ins,
    )
    .await;
    let refresh = refresh.pop().unwrap();
    // The sign-in's variants, interleaved (see `interleaved`): as deployed by default, without
    // the profile lookup, with the Authsignal token as the password, and with replay protection.
    // The default sign-in with a DPoP header: the bridge only checks its shape and forwards it.
    let with_proof = support::dpop::with_dpop(
        sign_in.clone(),
        &support::dpop::DpopKey::new().proof("https://tenant.example.auth0.com/oauth/token", None),
    );
    let token_mode = || {
        (
            with(
                &stand_ins.vars,
                &[("AUTH0_SIGN_IN_PROOF", "authsignal-token")],
            ),
            vec![validate, exchange],
            &sign_in,
        )
    };
    let configurations = [
        (
            stand_ins.vars.clone(),
            vec![validate, lookup, exchange],
            &sign_in,
        ),
        (
            with(&stand_ins.vars, &[("AUTHSIGNAL_PROFILE", "false")]),
            vec![validate, exchange],
            &sign_in,
        ),
        token_mode(),
        (
            stand_ins.replay_vars.clone(),
            vec![validate, lookup, put_item, exchange],
            &sign_in,
        ),
        // A second, identical token-mode function: how far two processes doing the same work
        // differ is the noise floor of the CPU comparison.
        token_mode(),
        (
            stand_ins.vars.clone(),
            vec![validate, lookup, exchange],
            &with_proof,
        ),
    ];
    let (sign_ins, sign_in_peak) = interleaved(
        binary,
        &configurations,
        rounds,
        round_invocations,
        &stand_ins,
    )
    .await;
    let peak = peak.max(sign_in_peak);
    let [sign_in_default, sign_in_without_profile, sign_in_with_token, sign_in_with_replay, same_as_token, sign_in_with_dpop] =
        <[Warm; 6]>::try_from(sign_ins).ok().unwrap();
    let valgrind =
        which("valgrind").filter(|_| std::env::var("BENCH_CALLGRIND").as_deref() != Ok("0"));
    let instructions = match (&valgrind, transport) {
        (Some(valgrind), "http") => {
            let mut counts = [0.0; 3];
            for (count, (vars, _, _)) in counts.iter_mut().zip(&configurations) {
                *count =
                    instructions_per_invocation(valgrind, binary, vars, &sign_in, 20, 120).await;
            }
            Some(counts)
        }
        _ => None,
    };
    Results {
        transport,
        cold,
        cold_with_replay,
        sign_in: sign_in_default,
        sign_in_without_profile,
        sign_in_with_token,
        refresh,
        sign_in_with_replay,
        same_as_token,
        sign_in_with_dpop,
        instructions,
        peak_rss_mib: peak as f64 / 1024.0,
    }
}

/// The path of `program` on PATH, if it is there.
fn which(program: &str) -> Option<String> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
            .map(|found| found.display().to_string())
    })
}

fn main() {
    let cold_starts = env_number("BENCH_COLD_STARTS", 11);
    let warm = env_number("BENCH_WARM", 1000);
    // The sign-in's variants are measured in BENCH_ROUNDS interleaved rounds of
    // BENCH_ROUND_INVOCATIONS each: /proc counts CPU in 10 ms ticks, so 4,000 invocations
    // resolve 2.5 us per invocation.
    let rounds = env_number("BENCH_ROUNDS", 9);
    let round_invocations = env_number("BENCH_ROUND_INVOCATIONS", 4000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let binary = bench_binary();
    let binary = binary.as_str();
    let size = std::fs::metadata(binary).unwrap().len();
    let zipped = zipped_size(binary);
    let results: Vec<Results> = ["http", "tls"]
        .into_iter()
        .map(|transport| {
            runtime.block_on(measure(
                binary,
                transport,
                cold_starts,
                warm,
                (rounds, round_invocations),
            ))
        })
        .collect();

    println!(
        "\nbootstrap {binary}: {:.2} MB stripped, {:.2} MB zipped",
        size as f64 / 1e6,
        zipped as f64 / 1e6
    );
    println!("{cold_starts} cold starts; {warm} warm invocations per transport for the refresh, {rounds} interleaved rounds of {round_invocations} for each sign-in (CPU: the median round); times in ms (medians unless noted)\n");
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
            ("sign-in (assertion, profile lookup)", &r.sign_in),
            ("sign-in (assertion, no lookup)", &r.sign_in_without_profile),
            ("sign-in (authsignal-token)", &r.sign_in_with_token),
            (
                "sign-in (authsignal-token, a second process)",
                &r.same_as_token,
            ),
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
            "sign_in_without_profile": r.sign_in_without_profile.json(),
            "sign_in_with_token": r.sign_in_with_token.json(),
            "assertion_cpu_growth_over_token": r.sign_in_without_profile.cpu_us / r.sign_in_with_token.cpu_us - 1.0,
            "token_second_process": r.same_as_token.json(),
            "sign_in_with_dpop": r.sign_in_with_dpop.json(),
            "sign_in_with_replay": r.sign_in_with_replay.json(),
            "refresh": r.refresh.json(),
            "peak_rss_mib": r.peak_rss_mib,
        }));
    }
    println!();
    for r in &results {
        // Each round's CPU against the token-mode round next to it in time, then the median of
        // those ratios: drift between rounds cancels out.
        let growth = |warm: &Warm| {
            let ratios: Vec<f64> = warm
                .cpu_rounds
                .iter()
                .zip(&r.sign_in_with_token.cpu_rounds)
                .map(|(cpu, token)| (cpu / token - 1.0) * 100.0)
                .collect();
            median(&ratios)
        };
        println!(
            "{}: CPU per sign-in against authsignal-token (median of {} interleaved rounds): assertion without lookup {:+.1}%, with lookup {:+.1}%; the same token-mode work in a second process {:+.1}% (the noise floor)",
            r.transport,
            r.sign_in_with_token.cpu_rounds.len(),
            growth(&r.sign_in_without_profile),
            growth(&r.sign_in),
            growth(&r.same_as_token),
        );
        let dpop: Vec<f64> = r
            .sign_in_with_dpop
            .cpu_rounds
            .iter()
            .zip(&r.sign_in.cpu_rounds)
            .map(|(with, without)| (with / without - 1.0) * 100.0)
            .collect();
        println!(
            "{}: CPU per default sign-in with a DPoP proof against without: {:+.1}% (median of the rounds)",
            r.transport,
            median(&dpop)
        );
    }
    let (signing_us, signature_us, jti_us) = signing_cost_us(20_000);
    println!("\nsigning one assertion (in-process, 20,000): {signing_us:.1} us of CPU, of which the Ed25519 signature {signature_us:.1} us; a random jti {jti_us:.1} us");
    let mut instructions_json = Value::Null;
    if let Some([lookup, no_lookup, token]) = results.iter().find_map(|r| r.instructions) {
        println!("\ninstructions per warm sign-in (callgrind, plain HTTP):\n");
        println!("| sign-in | instructions | vs authsignal-token |");
        println!("|---|---|---|");
        for (name, count) in [
            ("assertion, profile lookup", lookup),
            ("assertion, no lookup", no_lookup),
            ("authsignal-token", token),
        ] {
            println!(
                "| {name} | {count:.0} | {:+.1}% |",
                (count / token - 1.0) * 100.0
            );
        }
        instructions_json = json!({
            "assertion_with_lookup": lookup, "assertion_without_lookup": no_lookup,
            "authsignal_token": token,
        });
    }
    let line: Value = json!({
        "binary_bytes": size, "zipped_bytes": zipped, "cold_starts": cold_starts,
        "warm_invocations": warm, "results": json_results,
        "signing_us_per_assertion": signing_us, "signature_us": signature_us, "random_jti_us": jti_us, "instructions_per_sign_in": instructions_json,
    });
    println!("\n{line}");
}
