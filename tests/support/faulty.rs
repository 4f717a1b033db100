//! A loopback HTTP/1.1 upstream that answers well or misbehaves on demand, at the TCP level
//! where needed: refused connections, resets, answers that never come or stall half-way, huge
//! or slow-drip bodies, server errors, HTML and JSON of the wrong shape. The fault applies to
//! every request until it is changed; changing it drops every open connection.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answers 200 with the configured good body.
    None,
    /// Nothing listens on the port.
    ConnectionRefused,
    /// The connection is reset (RST) once the request has been read.
    ResetAfterRequest,
    /// The request is read, and nothing ever comes back.
    NoHeaders,
    /// Headers and half the body, then nothing.
    BodyStallsHalfway,
    /// 503 with a JSON body.
    ServerError,
    /// 200 with an HTML page.
    Html,
    /// 200 with JSON that is not the expected shape.
    WrongShape,
    /// 200 announcing and sending a 50 MB body.
    HugeBody,
    /// 200 whose body arrives one byte every 50 ms.
    SlowDrip,
}

pub const ALL_FAULTS: [Fault; 9] = [
    Fault::ConnectionRefused,
    Fault::ResetAfterRequest,
    Fault::NoHeaders,
    Fault::BodyStallsHalfway,
    Fault::ServerError,
    Fault::Html,
    Fault::WrongShape,
    Fault::HugeBody,
    Fault::SlowDrip,
];

struct State {
    fault: Fault,
    good: (String, String),
    requests: usize,
}

pub struct FaultyUpstream {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl FaultyUpstream {
    /// Starts answering with `good_body` (and `content_type`) until told otherwise.
    pub async fn start(good_body: &str, content_type: &str) -> FaultyUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = FaultyUpstream {
            addr: listener.local_addr().unwrap(),
            state: Arc::new(Mutex::new(State {
                fault: Fault::None,
                good: (good_body.to_owned(), content_type.to_owned()),
                requests: 0,
            })),
            tasks: Arc::new(Mutex::new(Vec::new())),
            accept: Mutex::new(None),
        };
        server.listen(listener);
        server
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().requests
    }

    pub fn set_good_body(&self, body: &str) {
        self.state.lock().unwrap().good.0 = body.to_owned();
    }

    /// Switches to `fault`, dropping every open connection first.
    pub async fn set(&self, fault: Fault) {
        let previous = std::mem::replace(&mut self.state.lock().unwrap().fault, fault);
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
        if fault == Fault::ConnectionRefused {
            if let Some(accept) = self.accept.lock().unwrap().take() {
                accept.abort();
            }
        } else if previous == Fault::ConnectionRefused {
            let listener = loop {
                match TcpListener::bind(self.addr).await {
                    Ok(listener) => break listener,
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            };
            self.listen(listener);
        }
        // Let the client notice the closed connections before its next request.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    fn listen(&self, listener: TcpListener) {
        let state = self.state.clone();
        let tasks = self.tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let task = tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
                tasks.lock().unwrap().push(task);
            }
        });
        *self.accept.lock().unwrap() = Some(accept);
    }
}

impl Drop for FaultyUpstream {
    fn drop(&mut self) {
        if let Some(accept) = self.accept.lock().unwrap().take() {
            accept.abort();
        }
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// Reads one request (head and Content-Length body); `None` when the client closed, else
/// whether it was a HEAD request.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<bool> {
    loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            let total = end + 4 + length;
            while buffer.len() < total {
                read_more(stream, buffer).await?;
            }
            let is_head = head.starts_with("head ");
            buffer.drain(..total);
            return Some(is_head);
        }
        read_more(stream, buffer).await?;
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 8192];
    let read = stream.read(&mut chunk).await.ok()?;
    if read == 0 {
        return None;
    }
    buffer.extend_from_slice(&chunk[..read]);
    Some(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn head(status: &str, content_type: &str, length: usize) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {length}\r\nx-amzn-requestid: fault-stand-in\r\n\r\n"
    )
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    while let Some(is_head) = read_request(&mut stream, &mut buffer).await {
        let (fault, (good, content_type)) = {
            let mut state = state.lock().unwrap();
            state.requests += 1;
            (state.fault, state.good.clone())
        };
        let full = |status: &str, content_type: &str, body: &str| {
            format!("{}{body}", head(status, content_type, body.len()))
        };
        if is_head && fault == Fault::None {
            // A HEAD answer has headers only (the bridge opens connections with HEAD at init).
            stream
                .write_all(head("200 OK", &content_type, good.len()).as_bytes())
                .await?;
            continue;
        }
        match fault {
            Fault::None => {
                stream
                    .write_all(full("200 OK", &content_type, &good).as_bytes())
                    .await?;
            }
            Fault::ConnectionRefused => return Ok(()),
            Fault::ResetAfterRequest => {
                // Deprecated because a non-zero linger blocks the thread on drop; a zero linger
                // does not wait, it makes the close an immediate RST, which is the point here.
                #[allow(deprecated)]
                stream.set_linger(Some(Duration::ZERO))?;
                return Ok(());
            }
            Fault::NoHeaders => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Fault::BodyStallsHalfway => {
                let half = &good[..good.len() / 2];
                stream
                    .write_all(head("200 OK", &content_type, good.len()).as_bytes())
                    .await?;
                stream.write_all(half.as_bytes()).await?;
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Fault::ServerError => {
                let body = r#"{"error":"internal_error","__type":"InternalServiceError","message":"boom"}"#;
                stream
                    .write_all(full("503 Service Unavailable", "application/json", body).as_bytes())
                    .await?;
            }
            Fault::Html => {
                let body = "<html><body><h1>Maintenance</h1></body></html>";
                stream
                    .write_all(full("200 OK", "text/html", body).as_bytes())
                    .await?;
            }
            Fault::WrongShape => {
                let body = r#"{"unexpected":{"shape":[1,2,3]},"SecretString":7}"#;
                stream
                    .write_all(full("200 OK", &content_type, body).as_bytes())
                    .await?;
            }
            Fault::HugeBody => {
                let size = 50 * 1024 * 1024;
                stream
                    .write_all(head("200 OK", &content_type, size).as_bytes())
                    .await?;
                let chunk = vec![b' '; 64 * 1024];
                for _ in 0..size / chunk.len() {
                    stream.write_all(&chunk).await?;
                }
            }
            Fault::SlowDrip => {
                stream
                    .write_all(head("200 OK", &content_type, good.len()).as_bytes())
                    .await?;
                for byte in good.as_bytes() {
                    stream.write_all(std::slice::from_ref(byte)).await?;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    Ok(())
}
