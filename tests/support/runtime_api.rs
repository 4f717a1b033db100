//! A Lambda Runtime API double (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html)
//! on loopback, and the real `bootstrap` binary running against it: end-to-end tests drive the
//! function exactly as Lambda does, through `/runtime/invocation/next` and `/response`.

use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::mpsc;

/// What the function reported for one invocation.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `/invocation/{id}/response`: the API Gateway response JSON.
    Response(Value),
    /// `/invocation/{id}/error`: an invocation error (the app would see a bare 502).
    Error(String),
    /// `/init/error`: the function failed to start.
    InitError(String),
}

struct Pending {
    request_id: String,
    deadline_ms: u64,
    event: String,
}

struct Shared {
    pending: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    outcomes: mpsc::UnboundedSender<(String, Outcome)>,
    /// How long the Runtime API takes to answer each request (a slow Lambda service).
    delay_ms: std::sync::atomic::AtomicU64,
    /// When the function first asked for an event: the end of its init phase.
    first_poll: std::sync::Mutex<Option<std::time::Instant>>,
}

pub struct RuntimeApi {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    invocations: mpsc::UnboundedSender<Pending>,
    outcomes: mpsc::UnboundedReceiver<(String, Outcome)>,
    next_id: u64,
    /// Which double of this process this is.
    instance: u64,
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (invocations, pending) = mpsc::unbounded_channel();
        let (outcome_tx, outcomes) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            pending: tokio::sync::Mutex::new(pending),
            outcomes: outcome_tx,
            delay_ms: std::sync::atomic::AtomicU64::new(0),
            first_poll: std::sync::Mutex::new(None),
        });
        let server = shared.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = server.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(serve(&shared, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        RuntimeApi {
            addr,
            shared,
            invocations,
            outcomes,
            next_id: 0,
            instance: {
                static INSTANCES: std::sync::atomic::AtomicU64 =
                    std::sync::atomic::AtomicU64::new(0);
                INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
        }
    }

    /// When the function first called `/runtime/invocation/next` (the end of its init phase).
    pub async fn first_poll(&self) -> std::time::Instant {
        loop {
            if let Some(at) = *self.shared.first_poll.lock().unwrap() {
                return at;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    /// Makes every answer of the Runtime API take `delay` (0 to stop).
    pub fn slow_down(&self, delay: Duration) {
        self.shared.delay_ms.store(
            delay.as_millis() as u64,
            std::sync::atomic::Ordering::SeqCst,
        );
    }

    /// Hands `event` to the function with `budget` until the Lambda deadline, and waits for what
    /// it reports.
    pub async fn invoke(&mut self, event: &Value, budget: Duration) -> Outcome {
        self.next_id += 1;
        // Unique across every Runtime API double of the process, as Lambda's request ids are
        // (two execution environments never share one; the replay record relies on it).
        let request_id = format!("e2e-{:04}-{:04x}-e9f4-11e8", self.next_id, self.instance);
        let deadline_ms = (SystemTime::now() + budget)
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        self.invocations
            .send(Pending {
                request_id: request_id.clone(),
                deadline_ms,
                event: event.to_string(),
            })
            .unwrap();
        loop {
            let (id, outcome) =
                tokio::time::timeout(budget + Duration::from_secs(10), self.outcomes.recv())
                    .await
                    .expect("the function answered before its deadline")
                    .expect("runtime API running");
            if id == request_id || matches!(outcome, Outcome::InitError(_)) {
                return outcome;
            }
        }
    }

    /// Invokes and expects an API Gateway response: returns it.
    pub async fn respond(&mut self, event: &Value) -> Value {
        match self.invoke(event, Duration::from_secs(10)).await {
            Outcome::Response(response) => response,
            other => panic!("expected a response, got {other:?}"),
        }
    }
}

async fn serve(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let delay = shared.delay_ms.load(std::sync::atomic::Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    let accepted = || {
        Response::builder()
            .status(202)
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap()
    };
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        (Method::GET, ["2018-06-01", "runtime", "invocation", "next"]) => {
            shared
                .first_poll
                .lock()
                .unwrap()
                .get_or_insert_with(std::time::Instant::now);
            let next = shared.pending.lock().await.recv().await;
            let Some(next) = next else {
                return Response::builder()
                    .status(500)
                    .body(Full::default())
                    .unwrap();
            };
            Response::builder()
                .status(200)
                .header("lambda-runtime-aws-request-id", &next.request_id)
                .header("lambda-runtime-deadline-ms", next.deadline_ms.to_string())
                .header(
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:eu-west-1:123456789012:function:authsignal-auth0-bridge",
                )
                .header(
                    "lambda-runtime-trace-id",
                    "Root=1-67a0b1c2-3d4e5f60718293a4b5c6d7e8;Parent=1a2b3c4d5e6f7a8b;Sampled=0",
                )
                .body(Full::new(Bytes::from(next.event)))
                .unwrap()
        }
        (Method::POST, ["2018-06-01", "runtime", "invocation", id, "response"]) => {
            let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
            let _ = shared
                .outcomes
                .send((id.to_string(), Outcome::Response(value)));
            accepted()
        }
        (Method::POST, ["2018-06-01", "runtime", "invocation", id, "error"]) => {
            let _ = shared.outcomes.send((id.to_string(), Outcome::Error(body)));
            accepted()
        }
        (Method::POST, ["2018-06-01", "runtime", "init", "error"]) => {
            let _ = shared
                .outcomes
                .send((String::new(), Outcome::InitError(body)));
            accepted()
        }
        _ => Response::builder()
            .status(404)
            .body(Full::default())
            .unwrap(),
    }
}

/// What becomes of the function's stdout and stderr.
#[derive(Debug, Clone, Copy)]
pub enum Output {
    Collect,
    ToStderr,
}

/// The compiled `bootstrap`, running against a [`RuntimeApi`], with its stdout and stderr
/// collected line by line.
pub struct Function {
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
}

impl Function {
    /// Starts the binary with a clean environment: the Lambda variables, then `vars`.
    pub fn start(runtime: &RuntimeApi, vars: &[(String, String)]) -> Function {
        // Set by cargo for tests and benches (not for the `local-api` example, which names it).
        let Some(binary) = option_env!("CARGO_BIN_EXE_bootstrap") else {
            panic!("only tests and benches know the bootstrap binary; use start_binary");
        };
        Function::start_binary(binary, runtime, vars)
    }

    /// The same with another build of the binary (the benchmark's production build).
    pub fn start_binary(binary: &str, runtime: &RuntimeApi, vars: &[(String, String)]) -> Function {
        Function::start_with_output(binary, runtime, vars, Output::Collect)
    }

    /// Starts `binary`, keeping what it prints for the test to read, or passing it on to this
    /// process's stderr (a long-running server, whose output would otherwise pile up).
    pub fn start_with_output(
        binary: &str,
        runtime: &RuntimeApi,
        vars: &[(String, String)],
        mode: Output,
    ) -> Function {
        Function::start_command(Command::new(binary), runtime, vars, mode)
    }

    /// Starts `binary` under `wrapper` (a program and its arguments, such as valgrind's), which
    /// gets the function's environment.
    pub fn start_wrapped(
        wrapper: &[&str],
        binary: &str,
        runtime: &RuntimeApi,
        vars: &[(String, String)],
    ) -> Function {
        let mut command = Command::new(wrapper[0]);
        command.args(&wrapper[1..]).arg(binary);
        Function::start_command(command, runtime, vars, Output::Collect)
    }

    fn start_command(
        mut command: Command,
        runtime: &RuntimeApi,
        vars: &[(String, String)],
        mode: Output,
    ) -> Function {
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", runtime.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "authsignal-auth0-bridge")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "/aws/lambda/authsignal-auth0-bridge",
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/25/[$LATEST]e2e")
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("bootstrap starts");
        let output = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    match mode {
                        Output::Collect => output.lock().unwrap().push(line),
                        Output::ToStderr => eprintln!("{line}"),
                    }
                }
            });
        }
        Function { child, output }
    }

    /// Everything the function printed so far.
    pub fn output(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }

    /// The JSON log lines printed so far (with `AWS_LAMBDA_LOG_FORMAT=JSON`).
    pub fn json_logs(&self) -> Vec<Value> {
        self.output()
            .iter()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// The CloudWatch EMF documents (lines with `_aws`) printed so far.
    pub fn metrics(&self) -> Vec<Value> {
        self.json_logs()
            .into_iter()
            .filter(|line| line.get("_aws").is_some())
            .collect()
    }

    /// The summary lines (`exchange finished`) printed so far.
    pub fn summaries(&self) -> Vec<Value> {
        self.json_logs()
            .into_iter()
            .filter(|line| line["message"] == "exchange finished")
            .collect()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Asks the process to end (SIGTERM, so a wrapper such as valgrind writes its results) and
    /// waits for it.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// Stops the process and waits until its output is fully read.
    pub fn stop(&mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(100));
        self.output()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of an API Gateway response, parsed.
pub fn body(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().expect("a body")).expect("a JSON body")
}

/// An API Gateway response's status and the OAuth `error` of its body (empty without one), to
/// assert both at once.
pub fn status_and_error(response: &Value) -> (u64, String) {
    let error = body(response)["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (response["statusCode"].as_u64().unwrap_or_default(), error)
}

/// The lines Lambda keeps with `LogFormat: JSON` and an application log level of `level`: a
/// line's `level` is read case-insensitively, and a missing or unknown one counts as INFO.
/// <https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html>
pub fn kept_by_lambda(lines: &[String], level: &str) -> Vec<Value> {
    let rank = |name: &str| {
        ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
            .iter()
            .position(|known| known.eq_ignore_ascii_case(name))
    };
    let threshold = rank(level).expect("a Lambda log level");
    lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| {
            let level = line["level"].as_str().and_then(rank).unwrap_or(2);
            level >= threshold
        })
        .collect()
}
