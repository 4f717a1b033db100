//! A real Secrets Manager implementation on loopback: moto's server mode, started per test on
//! a free port and stopped when dropped. `make test` installs moto into `.venv`; set
//! `MOTO_SERVER` to use another `moto_server` executable.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};

pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    pub fn start() -> Moto {
        let executable = std::env::var_os("MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server")
            });
        assert!(
            executable.exists(),
            "{} not found: run `make test` (it installs moto into .venv) or set MOTO_SERVER",
            executable.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&executable)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    /// An SDK config loader pointed at this server with dummy credentials, as the production
    /// code gets from `AWS_ENDPOINT_URL_SECRETS_MANAGER` and the Lambda role.
    pub fn loader(&self) -> aws_config::ConfigLoader {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
    }

    /// A plain SDK client for setting secrets up, outside the code under test.
    pub async fn admin(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.loader().load().await)
    }

    /// The environment variables that point the real binary at this server.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER".into(), self.url.clone()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn create_secret(admin: &aws_sdk_secretsmanager::Client, name: &str, value: &str) {
    admin
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("create_secret");
}

pub async fn put_secret(admin: &aws_sdk_secretsmanager::Client, name: &str, value: &str) {
    admin
        .put_secret_value()
        .secret_id(name)
        .secret_string(value)
        .send()
        .await
        .expect("put_secret_value");
}

/// The secret's JSON with the three keys.
pub fn secret_json(authsignal_secret: &str, client_id: &str, client_secret: &str) -> String {
    serde_json::json!({
        "AUTHSIGNAL_SECRET": authsignal_secret,
        "AUTH0_CLIENT_ID": client_id,
        "AUTH0_CLIENT_SECRET": client_secret,
    })
    .to_string()
}
