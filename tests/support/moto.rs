//! Real Secrets Manager and DynamoDB implementations on loopback: moto's server mode, started
//! per test on a free port and stopped when dropped. `make test` installs moto into `.venv`; set
//! `MOTO_PYTHON` to use another Python that has moto. The server is moto's own app answering
//! one request at a time (`moto_serialized.py`), so that its conditional writes are atomic, as
//! DynamoDB's are.

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
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let python = std::env::var_os("MOTO_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".venv/bin/python"));
        assert!(
            python.exists(),
            "{} not found: run `make test` (it installs moto into .venv) or set MOTO_PYTHON",
            python.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&python)
            .arg(root.join("tests/support/moto_serialized.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto starts");
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    /// An SDK config loader pointed at this server with dummy credentials, as the production
    /// code gets from `AWS_ENDPOINT_URL_SECRETS_MANAGER` and the Lambda role.
    pub fn loader(&self) -> aws_config::ConfigLoader {
        loader_for(&self.url)
    }

    /// A plain SDK client for setting secrets up, outside the code under test.
    pub async fn admin(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.loader().load().await)
    }

    /// A plain DynamoDB client for creating and reading the replay table, outside the code
    /// under test.
    pub async fn dynamodb_admin(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.loader().load().await)
    }

    /// The environment variables that point the real binary at this server.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER".into(), self.url.clone()),
            ("AWS_ENDPOINT_URL_DYNAMODB".into(), self.url.clone()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
        ]
    }
}

/// An SDK config loader pointed at `url` (moto, a relay in front of it, or a stand-in) with
/// dummy credentials.
pub fn loader_for(url: &str) -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
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

/// The secret's JSON with the three credentials and the test signing key.
pub fn secret_json(authsignal_secret: &str, client_id: &str, client_secret: &str) -> String {
    serde_json::json!({
        "AUTHSIGNAL_SECRET": authsignal_secret,
        "AUTH0_CLIENT_ID": client_id,
        "AUTH0_CLIENT_SECRET": client_secret,
        "BRIDGE_SIGNING_KEY": super::SIGNING_KEY,
    })
    .to_string()
}

/// Secrets Manager's `GetSecretValue` answer (awsJson1.1) for the secret `name` holding
/// `secret`, for stand-ins that play Secrets Manager without moto (faults, benchmarks).
pub fn get_secret_value_answer(name: &str, secret: &str) -> String {
    serde_json::json!({
        "ARN": format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf"),
        "Name": name,
        "VersionId": "b2f5a2c8-6c1c-4c51-9a5e-3c2f1e0d9a7b",
        "SecretString": secret,
        "VersionStages": ["AWSCURRENT"],
        "CreatedDate": 1795600000.0
    })
    .to_string()
}

/// Creates the replay table as `template.yaml` does: key `pk` (string), on-demand, TTL on
/// `expires_at`.
pub async fn create_replay_table(admin: &aws_sdk_dynamodb::Client, name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveSpecification,
    };
    admin
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create_table");
    admin
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("update_time_to_live");
}

/// Every item of the replay table, as JSON-ish text per attribute (for shape checks).
pub async fn replay_records(
    admin: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    admin
        .scan()
        .table_name(name)
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default()
}
