//! TLS for real: the `bootstrap` binary talks HTTPS to the Authsignal and Auth0 stand-ins,
//! whose certificates come from a certificate authority the test makes. The binary trusts it
//! the way docs/configuration.md tells operators to trust a private CA (`SSL_CERT_FILE`), and refuses a
//! certificate from any other authority (502, no token, Auth0 never reached).

mod support;

use support::runtime_api::{body, Function, RuntimeApi};
use support::tls::{https_relay, TestCa};
use support::*;

async fn run_with_trusted(
    ca_pem: &str,
    server_ca: &TestCa,
) -> (serde_json::Value, Upstreams, String) {
    let upstreams = Upstreams::start().await;
    upstreams.happy_path().await;
    let authsignal = https_relay(server_ca, *upstreams.authsignal.address()).await;
    let auth0 = https_relay(server_ca, *upstreams.auth0.address()).await;
    let trust = std::env::temp_dir().join(format!(
        "bridge-test-ca-{}.pem",
        std::process::id() ^ authsignal.port() as u32
    ));
    std::fs::write(&trust, ca_pem).unwrap();

    let mut runtime = RuntimeApi::start().await;
    let vars = with(
        &upstreams.vars(),
        &[
            (
                "AUTHSIGNAL_API_URL",
                &format!("https://localhost:{}/v1", authsignal.port()),
            ),
            ("AUTH0_DOMAIN", &format!("localhost:{}", auth0.port())),
            ("SSL_CERT_FILE", trust.to_str().unwrap()),
        ],
    );
    let mut function = Function::start(&runtime, &vars);
    let response = runtime.respond(&event("http-api-token.json")).await;
    let output = function.stop().join("\n");
    let _ = std::fs::remove_file(&trust);
    (response, upstreams, output)
}

#[tokio::test]
async fn the_binary_exchanges_over_https_with_a_ca_trusted_through_ssl_cert_file() {
    let ca = TestCa::new("bridge test CA");
    let (response, upstreams, _) = run_with_trusted(&ca.pem, &ca).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(body(&response), token_json());
    assert_eq!(upstreams.authsignal_requests().await.len(), 1);
    assert_eq!(upstreams.auth0_requests().await.len(), 1);
}

#[tokio::test]
async fn a_certificate_from_an_untrusted_authority_is_refused() {
    let trusted = TestCa::new("the CA the function trusts");
    let impostor = TestCa::new("an impostor CA");
    let (response, upstreams, output) = run_with_trusted(&trusted.pem, &impostor).await;
    assert_eq!(response["statusCode"], 502, "{response}");
    assert_eq!(body(&response)["error"], "temporarily_unavailable");
    assert!(
        upstreams.authsignal_requests().await.is_empty(),
        "nothing got through"
    );
    assert!(
        upstreams.auth0_requests().await.is_empty(),
        "no token was requested"
    );
    assert!(
        output.contains("UnknownIssuer"),
        "refused for its issuer: {output}"
    );
}
