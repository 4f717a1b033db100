//! The Lambda entry point: logs, the handler built once per execution environment
//! ([`startup::build_handler`]), init's warm-up, then the runtime loop.

use authsignal_auth0_bridge::{logging, startup, telemetry::Telemetry};
use lambda_http::{service_fn, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    logging::init();
    let environment = |name: &str| std::env::var(name).ok();
    let handler =
        startup::build_handler(environment, aws_config::from_env(), Telemetry::from_env()).await;
    handler.warm_up(startup::INIT_WARM_UP_BUDGET).await;
    let handler = &handler;
    // Boxed: the nested async state machines of the runtime and the handler otherwise exceed
    // rustc's default type-layout depth.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        Box::pin(handler.handle_event(event))
    }))
    .await
}
