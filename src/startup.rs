//! The wiring, in one place: settings, the credentials' source, the upstream clients and the
//! handler, built once per execution environment. `main` calls [`build_handler`] with the
//! process environment; the tests call it with their own variables and an AWS configuration
//! pointed at moto, so a new client or setting is wired here and nowhere else.
//!
//! Nothing here can stop the function from answering: a bad setting is logged once and every
//! request gets the configuration 500 (no crash loop).

use std::time::Duration;

use aws_config::{ConfigLoader, SdkConfig};

use crate::edge::http::Handler;
use crate::flow::bridge::{Bridge, SignUp};
use crate::settings::{CredentialsLocation, Settings};
use crate::telemetry::Telemetry;
use crate::upstream::aws::load_sdk_config;
use crate::upstream::credentials::{secrets_manager_client, Credentials, CredentialsSource};
use crate::upstream::replay::{dynamodb_client, ReplayGuard};
use crate::upstream::sign_up_limits::SignUpLimits;

/// How long init may spend reading the secret and opening the upstream connections: Lambda
/// allows 10 s of init, and a slow upstream must not hold it up for long.
pub const INIT_WARM_UP_BUDGET: Duration = Duration::from_secs(2);

/// Builds the handler from the settings `lookup` gives (the process environment in
/// production), with `aws` as the AWS SDK's configuration loader (region, credentials,
/// endpoints). Never fails: a problem is logged once and the handler answers every request
/// with the configuration 500.
pub async fn build_handler(
    lookup: impl Fn(&str) -> Option<String>,
    aws: ConfigLoader,
    telemetry: Telemetry,
) -> Handler {
    telemetry.report_metrics_level();
    let settings = match Settings::from_lookup(&lookup) {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(%error, "the function is misconfigured; every request will get a 500");
            return Handler::misconfigured(telemetry);
        }
    };
    report_settings(&settings);
    let mut aws = LazyAwsConfig::new(aws);
    let source = credentials_source(&settings, &lookup, &mut aws).await;
    let dynamodb = match &settings.replay_table {
        Some(_) => Some(dynamodb_client(aws.get(&settings).await, &settings)),
        None => None,
    };
    let replay = dynamodb
        .as_ref()
        .zip(settings.replay_table.as_ref())
        .map(|(client, table)| {
            ReplayGuard::new(client.clone(), table.clone(), settings.replay_window)
        });
    // Sign-up's cooldown records live in the replay table (the settings require one with it).
    let sign_up = dynamodb
        .zip(settings.replay_table.as_ref())
        .zip(settings.sign_up.as_ref())
        .map(|((client, table), sign_up)| SignUp {
            limits: SignUpLimits::new(client, table.clone(), sign_up),
            settings: sign_up.clone(),
        });
    match Bridge::from_settings(&settings, source, replay, sign_up) {
        Ok(bridge) => Handler::new(bridge, settings.upstream_timeout, telemetry),
        Err(error) => {
            tracing::error!(%error, "could not build the HTTP client; every request will get a 500");
            Handler::misconfigured(telemetry)
        }
    }
}

/// The AWS SDK configuration both clients share, loaded when the first of them is built (and
/// not at all when the credentials come from the environment and replay protection is off).
struct LazyAwsConfig {
    loader: Option<ConfigLoader>,
    config: Option<SdkConfig>,
}

impl LazyAwsConfig {
    fn new(loader: ConfigLoader) -> Self {
        LazyAwsConfig {
            loader: Some(loader),
            config: None,
        }
    }

    async fn get(&mut self, settings: &Settings) -> &SdkConfig {
        if let Some(loader) = self.loader.take() {
            self.config = Some(load_sdk_config(loader, settings).await);
        }
        self.config
            .as_ref()
            .expect("the loader is taken only to load the configuration")
    }
}

/// Where the credentials come from: the secret (`SECRET_ID`), or the variables `lookup` gives.
async fn credentials_source(
    settings: &Settings,
    lookup: &impl Fn(&str) -> Option<String>,
    aws: &mut LazyAwsConfig,
) -> CredentialsSource {
    match &settings.credentials_location {
        CredentialsLocation::SecretsManager { secret_id } => CredentialsSource::SecretsManager {
            client: secrets_manager_client(aws.get(settings).await),
            secret_id: secret_id.clone(),
        },
        CredentialsLocation::Environment => {
            let credentials = Credentials::from_lookup(lookup);
            if let Err(problem) = &credentials {
                // Reported once here, like a bad setting; each request then gets the 500.
                tracing::error!(%problem, "SECRET_ID is unset and the credentials are incomplete; every request will get a 500");
            }
            CredentialsSource::Environment(credentials)
        }
    }
}

/// The start-up lines: each warning about the settings, then what the bridge runs with.
fn report_settings(settings: &Settings) {
    for warning in settings.warnings() {
        tracing::warn!(%warning, "check the settings");
    }
    let parties = settings.sign_in_proof.parties();
    tracing::info!(
        authsignal_api_url = %settings.authsignal_api_url,
        authsignal_action = settings.authsignal_action.as_deref(),
        auth0_base_url = %settings.auth0_base_url,
        auth0_grant = ?settings.auth0_grant,
        sign_in_proof = settings.sign_in_proof.label(),
        assertion_issuer = parties.map(|parties| parties.issuer.as_str()),
        assertion_audience = parties.map(|parties| parties.audience.as_str()),
        authsignal_profile = settings.sign_in_proof.looks_up_profile(),
        auth0_audience = settings.auth0_audience.as_deref(),
        auth0_scope = %settings.auth0_scope,
        auth0_forward_client_ip = settings.auth0_forward_client_ip,
        credentials = ?settings.credentials_location,
        secret_cache_ttl_s = settings.secret_cache_ttl.as_secs(),
        upstream_timeout_ms = settings.upstream_timeout.as_millis() as u64,
        replay_table = settings.replay_table.as_deref(),
        replay_window_s = settings.replay_window.as_secs(),
        verification_methods = settings.verification_methods.as_ref().map(|methods| methods.join(",")),
        sign_up_action = settings.sign_up.as_ref().map(|sign_up| sign_up.action.as_str()),
        "bridge settings"
    );
}
