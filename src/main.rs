//! Wiring only: logs, settings, the clients built once per execution environment, then the
//! runtime loop. Nothing here can stop the function from answering: a bad setting is logged
//! once and every request gets the configuration 500 (no crash loop).

use authsignal_auth0_bridge::edge::http::Handler;
use authsignal_auth0_bridge::flow::bridge::Bridge;
use authsignal_auth0_bridge::logging;
use authsignal_auth0_bridge::settings::{CredentialsLocation, Settings};
use authsignal_auth0_bridge::telemetry::Telemetry;
use authsignal_auth0_bridge::upstream::aws::load_sdk_config;
use authsignal_auth0_bridge::upstream::credentials::{
    secrets_manager_client, Credentials, CredentialsSource,
};
use authsignal_auth0_bridge::upstream::replay::{dynamodb_client, ReplayGuard};
use lambda_http::{service_fn, LambdaEvent};

/// How long init may spend reading the secret and opening the upstream connections.
const INIT_WARM_UP_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    logging::init();
    let handler = build_handler().await;
    // Bounded: Lambda allows 10 s of init, and a slow upstream must not hold it up for long.
    handler.warm_up(INIT_WARM_UP_BUDGET).await;
    let handler = &handler;
    // Boxed: the nested async state machines of the runtime and the handler otherwise exceed
    // rustc's default type-layout depth.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        Box::pin(handler.handle_event(event))
    }))
    .await
}

async fn build_handler() -> Handler {
    let telemetry = Telemetry::from_env();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(%error, "the function is misconfigured; every request will get a 500");
            return Handler::misconfigured(telemetry);
        }
    };
    for warning in settings.warnings() {
        tracing::warn!(%warning, "check the settings");
    }
    // One AWS SDK configuration for both clients, loaded when the first of them is built (and
    // not at all when the credentials come from the environment and replay protection is off).
    let sdk_config = tokio::sync::OnceCell::new();
    let aws = || sdk_config.get_or_init(|| load_sdk_config(aws_config::from_env(), &settings));
    let source = match &settings.credentials_location {
        CredentialsLocation::SecretsManager { secret_id } => CredentialsSource::SecretsManager {
            client: secrets_manager_client(aws().await),
            secret_id: secret_id.clone(),
        },
        CredentialsLocation::Environment => {
            let credentials = Credentials::from_lookup(|name| std::env::var(name).ok());
            if let Err(problem) = &credentials {
                // Reported once here, like a bad setting; each request then gets the 500.
                tracing::error!(%problem, "SECRET_ID is unset and the credentials are incomplete; every request will get a 500");
            }
            CredentialsSource::Environment(credentials)
        }
    };
    tracing::info!(
        authsignal_api_url = %settings.authsignal_api_url,
        authsignal_action = settings.authsignal_action.as_deref(),
        auth0_base_url = %settings.auth0_base_url,
        auth0_grant = ?settings.auth0_grant,
        sign_in_proof = settings.sign_in_proof.label(),
        assertion_issuer = settings.sign_in_proof.parties().map(|parties| parties.issuer.as_str()),
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
        "bridge settings"
    );
    let replay = match &settings.replay_table {
        Some(table) => Some(ReplayGuard::new(
            dynamodb_client(aws().await, &settings),
            table.clone(),
            settings.replay_window,
        )),
        None => None,
    };
    match Bridge::from_settings(&settings, source, replay) {
        Ok(bridge) => Handler::new(bridge, settings.upstream_timeout, telemetry),
        Err(error) => {
            tracing::error!(%error, "could not build the HTTP client; every request will get a 500");
            Handler::misconfigured(telemetry)
        }
    }
}
