//! The Auth0 stand-in that runs the shipped Login script (`scripts/stand-ins/auth0.js`, through
//! `scripts/stand-ins/run.js --only-auth0`), as a child process of the test: so the real binary
//! and the real script are tested together. Needs Node.js.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use super::{challenge_succeeded, Upstreams, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET};

pub struct Auth0StandIn {
    pub url: String,
    child: Child,
}

impl Auth0StandIn {
    /// Starts it with `settings` as the `authsignal` connection's settings (`BRIDGE_PUBLIC_KEYS`,
    /// or `AUTHSIGNAL_SECRET` and `AUTHSIGNAL_CONNECT_URL`, ...), accepting the tests' client.
    pub fn start(settings: &[(&str, &str)]) -> Auth0StandIn {
        Auth0StandIn::start_with(settings, &[])
    }

    /// Authsignal's stand-in confirming the challenge, beside this stand-in started with
    /// `settings` (the connection's, or the Action's secrets) and `flags`.
    pub async fn beside_authsignal(
        settings: &[(&str, &str)],
        flags: &[&str],
    ) -> (Upstreams, Auth0StandIn) {
        let upstreams = Upstreams::start().await;
        upstreams.authsignal_answers(challenge_succeeded()).await;
        (upstreams, Auth0StandIn::start_with(settings, flags))
    }

    /// The same with more flags of `run.js` (`--dpop-nonce`, ...).
    pub fn start_with(settings: &[(&str, &str)], flags: &[&str]) -> Auth0StandIn {
        let (_, standin) = Auth0StandIn::spawn(settings, &[&["--only-auth0"], flags].concat());
        standin
    }

    /// This stand-in beside the Authsignal stand-in of `run.js` (its tenant of users, tokens
    /// signed with [`super::AUTHSIGNAL_SECRET`], the email OTP and passkey client calls): the
    /// Authsignal stand-in's URL, and this one.
    pub fn with_authsignal_tenant(settings: &[(&str, &str)]) -> (String, Auth0StandIn) {
        let secret = [("DEMO_AUTHSIGNAL_SECRET", super::AUTHSIGNAL_SECRET)];
        let (authsignal, auth0) = Auth0StandIn::spawn(&[settings, &secret[..]].concat(), &[]);
        (authsignal.expect("the Authsignal stand-in's URL"), auth0)
    }

    /// Starts `run.js` with `flags` and `settings`: the URLs it announces (Authsignal's, when it
    /// runs one), and the Auth0 stand-in.
    fn spawn(settings: &[(&str, &str)], flags: &[&str]) -> (Option<String>, Auth0StandIn) {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut child = Command::new("node")
            .arg(format!("{root}/scripts/stand-ins/run.js"))
            .args(["0", "0"])
            .args(flags)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DEMO_AUTH0_CLIENT_ID", AUTH0_CLIENT_ID)
            .env("DEMO_AUTH0_CLIENT_SECRET", AUTH0_CLIENT_SECRET)
            .envs(settings.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs the Auth0 stand-in (Node.js is needed for this test)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let urls: Vec<String> = line
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("the Auth0 stand-in did not start: {line:?}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let (authsignal, url) = match urls.as_slice() {
            [auth0] => (None, auth0.clone()),
            [authsignal, auth0] => (Some(authsignal.clone()), auth0.clone()),
            _ => panic!("unexpected announcement: {line:?}"),
        };
        (authsignal, Auth0StandIn { url, child })
    }

    /// Every request the stand-in received: `{method, path, headers, body, form}`.
    pub async fn requests(&self) -> Vec<Value> {
        self.get("__requests").await
    }

    /// The users the connection's Login script signed in, as Auth0 stores them.
    pub async fn users(&self) -> Vec<Value> {
        self.get("__users").await
    }

    async fn get(&self, path: &str) -> Vec<Value> {
        reqwest::get(format!("{}/{path}", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Posts a form to `/oauth/token`, as anything but the bridge would: (status, answer).
    pub async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let answer = reqwest::Client::new()
            .post(format!("{}/oauth/token", self.url))
            .form(form)
            .send()
            .await
            .unwrap();
        (answer.status().as_u16(), answer.json().await.unwrap())
    }
}

impl Drop for Auth0StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
