//! The settings' rules, one test per rule of docs/configuration.md's table.

use super::*;
use std::collections::HashMap;

fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup(|name| map.get(name).cloned())
}

#[test]
fn defaults_apply_when_only_the_auth0_domain_is_set() {
    let s = settings(&[("AUTH0_DOMAIN", "tenant.us.auth0.com")]).unwrap();
    assert_eq!(s.credentials_location, CredentialsLocation::Environment);
    assert_eq!(
        s.authsignal_api_url.as_str(),
        "https://api.authsignal.com/v1"
    );
    assert_eq!(s.auth0_base_url.as_str(), "https://tenant.us.auth0.com/");
    assert_eq!(s.auth0_scope, "openid profile email");
    assert_eq!(
        s.auth0_grant,
        Auth0Grant::PasswordRealm {
            realm: "authsignal".into()
        }
    );
    assert!(s.auth0_forward_client_ip);
    assert_eq!(s.authsignal_action, None);
    assert_eq!(s.auth0_audience, None);
    assert_eq!(s.secret_cache_ttl, Duration::from_secs(300));
    assert_eq!(s.upstream_timeout, Duration::from_millis(5000));
    assert_eq!(s.connect_timeout(), Duration::from_secs(2));
}

#[test]
fn every_setting_is_read() {
    let s = settings(&[
        (
            "SECRET_ID",
            "arn:aws:secretsmanager:eu-west-1:1:secret:bridge",
        ),
        ("AUTHSIGNAL_API_URL", "https://eu.api.authsignal.com/v1"),
        ("AUTHSIGNAL_ACTION", "signInWithPasskey"),
        ("AUTH0_DOMAIN", "https://login.example.com"),
        ("AUTH0_AUDIENCE", "https://api.example.com"),
        ("AUTH0_SCOPE", "openid offline_access"),
        ("AUTH0_GRANT_TYPE", "password"),
        ("AUTH0_FORWARD_CLIENT_IP", "false"),
        ("SECRET_CACHE_TTL_SECONDS", "60"),
        ("UPSTREAM_TIMEOUT_MS", "1500"),
    ])
    .unwrap();
    assert_eq!(
        s.credentials_location,
        CredentialsLocation::SecretsManager {
            secret_id: "arn:aws:secretsmanager:eu-west-1:1:secret:bridge".into()
        }
    );
    assert_eq!(s.authsignal_action.as_deref(), Some("signInWithPasskey"));
    assert_eq!(s.auth0_audience.as_deref(), Some("https://api.example.com"));
    assert_eq!(s.auth0_scope, "openid offline_access");
    assert_eq!(s.auth0_grant, Auth0Grant::Password);
    assert!(!s.auth0_forward_client_ip);
    assert_eq!(s.secret_cache_ttl, Duration::from_secs(60));
    assert_eq!(s.upstream_timeout, Duration::from_millis(1500));
    assert_eq!(s.connect_timeout(), Duration::from_millis(1500));
}

#[test]
fn a_custom_realm_is_used_for_password_realm() {
    let s = settings(&[("AUTH0_DOMAIN", "t.auth0.com"), ("AUTH0_REALM", "passkeys")]).unwrap();
    assert_eq!(
        s.auth0_grant,
        Auth0Grant::PasswordRealm {
            realm: "passkeys".into()
        }
    );
}

#[test]
fn missing_auth0_domain_is_reported() {
    let err = settings(&[]).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert!(err.problems[0].contains("AUTH0_DOMAIN is required"));
}

#[test]
fn plain_http_is_refused_off_loopback() {
    for url in [
        "http://api.authsignal.com/v1",
        "http://10.0.0.5/v1",
        "http://169.254.169.254/latest",
        "http://localhost.evil.com/v1",
    ] {
        let err =
            settings(&[("AUTH0_DOMAIN", "t.auth0.com"), ("AUTHSIGNAL_API_URL", url)]).unwrap_err();
        assert!(
            err.problems[0].contains("must use https://"),
            "{url}: {err}"
        );
    }
    let err = settings(&[("AUTH0_DOMAIN", "http://tenant.auth0.com")]).unwrap_err();
    assert!(err.to_string().contains("AUTH0_DOMAIN must use https://"));
}

#[test]
fn the_secrets_manager_endpoint_follows_the_https_rule() {
    for name in ["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"] {
        let err = settings(&[
            ("AUTH0_DOMAIN", "t.auth0.com"),
            (name, "http://10.1.2.3:4566"),
        ])
        .unwrap_err();
        assert!(
            err.problems[0].starts_with(&format!("{name} must use https://")),
            "{err}"
        );
        assert!(settings(&[
            ("AUTH0_DOMAIN", "t.auth0.com"),
            (name, "http://127.0.0.1:5000")
        ])
        .is_ok());
        assert!(settings(&[
            ("AUTH0_DOMAIN", "t.auth0.com"),
            (
                name,
                "https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com"
            )
        ])
        .is_ok());
    }
}

#[test]
fn plain_http_is_accepted_on_loopback() {
    for url in [
        "http://localhost:8080/v1",
        "http://127.0.0.1:9/v1",
        "http://127.10.0.1/v1",
        "http://[::1]:4000/v1",
    ] {
        let s = settings(&[("AUTH0_DOMAIN", url), ("AUTHSIGNAL_API_URL", url)]);
        assert!(s.is_ok(), "{url}: {s:?}");
    }
}

#[test]
fn other_schemes_credentials_and_garbage_are_refused() {
    for (url, expected) in [
        ("ftp://api.authsignal.com/v1", "must be an https:// URL"),
        (
            "https://user:pw@api.authsignal.com/v1",
            "must not contain credentials",
        ),
        ("https://api.authsignal.com/v1?x=1", "must not have a query"),
        ("not a url at all", "is not a valid URL"),
    ] {
        let err =
            settings(&[("AUTH0_DOMAIN", "t.auth0.com"), ("AUTHSIGNAL_API_URL", url)]).unwrap_err();
        assert!(err.problems[0].contains(expected), "{url}: {err}");
        // The message never repeats the value: it could hold a password.
        assert!(!err.problems[0].contains("pw@"));
    }
}

#[test]
fn every_bad_value_is_reported_at_once() {
    let err = settings(&[
        ("AUTH0_GRANT_TYPE", "client_credentials"),
        ("AUTH0_FORWARD_CLIENT_IP", "maybe"),
        ("SECRET_CACHE_TTL_SECONDS", "-1"),
        ("UPSTREAM_TIMEOUT_MS", "0"),
    ])
    .unwrap_err();
    let text = err.to_string();
    for expected in [
        "AUTH0_DOMAIN is required",
        "AUTH0_GRANT_TYPE must be",
        "AUTH0_FORWARD_CLIENT_IP must be",
        "SECRET_CACHE_TTL_SECONDS must be a whole number",
        "UPSTREAM_TIMEOUT_MS must be a whole number",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in {text}");
    }
    assert_eq!(err.problems.len(), 5);
}

#[test]
fn empty_values_count_as_unset() {
    let s = settings(&[
        ("AUTH0_DOMAIN", "t.auth0.com"),
        ("SECRET_ID", ""),
        ("AUTHSIGNAL_ACTION", "  "),
    ])
    .unwrap();
    assert_eq!(s.credentials_location, CredentialsLocation::Environment);
    assert_eq!(s.authsignal_action, None);
}

#[test]
fn replay_protection_and_verification_methods_are_read() {
    let s = settings(&[("AUTH0_DOMAIN", "t.auth0.com")]).unwrap();
    assert_eq!(s.replay_table, None);
    assert_eq!(s.replay_window, Duration::from_secs(86_400));
    assert_eq!(s.verification_methods, None);
    let s = settings(&[
        ("AUTH0_DOMAIN", "t.auth0.com"),
        ("REPLAY_TABLE", "bridge-prod-replay"),
        ("REPLAY_WINDOW_SECONDS", "900"),
        (
            "AUTHSIGNAL_VERIFICATION_METHODS",
            " PASSKEY, SECURITY_KEY ,",
        ),
    ])
    .unwrap();
    assert_eq!(s.replay_table.as_deref(), Some("bridge-prod-replay"));
    assert_eq!(s.replay_window, Duration::from_secs(900));
    assert_eq!(
        s.verification_methods,
        Some(vec!["PASSKEY".to_owned(), "SECURITY_KEY".to_owned()])
    );
    assert!(s.warnings().is_empty());
    let arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/bridge-replay";
    let s = settings(&[("AUTH0_DOMAIN", "t.auth0.com"), ("REPLAY_TABLE", arn)]).unwrap();
    assert_eq!(s.replay_table.as_deref(), Some(arn));
    for bad in [
        "arn:aws:dynamodb:eu-west-1:123456789012:table/",
        "arn:aws:s3:::bucket",
        "arn:aws:dynamodb:eu-west-1:1234:table/bridge",
        "ab",
    ] {
        assert!(
            settings(&[("AUTH0_DOMAIN", "t.auth0.com"), ("REPLAY_TABLE", bad)]).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn bad_replay_settings_are_reported() {
    let err = settings(&[
        ("AUTH0_DOMAIN", "t.auth0.com"),
        ("REPLAY_TABLE", "no spaces allowed"),
        ("REPLAY_WINDOW_SECONDS", "60"),
        ("AUTHSIGNAL_VERIFICATION_METHODS", " , "),
        ("AWS_ENDPOINT_URL_DYNAMODB", "http://10.0.0.9:8000"),
    ])
    .unwrap_err();
    let text = err.to_string();
    for expected in [
        "REPLAY_TABLE must be a DynamoDB table name",
        "REPLAY_WINDOW_SECONDS must be a whole number from 900 to 604800",
        "AUTHSIGNAL_VERIFICATION_METHODS must name at least one method",
        "AWS_ENDPOINT_URL_DYNAMODB must use https://",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in {text}");
    }
    assert!(settings(&[
        ("AUTH0_DOMAIN", "t.auth0.com"),
        ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")
    ])
    .is_ok());
}

#[test]
fn an_undocumented_verification_method_is_accepted_with_a_warning() {
    let s = settings(&[
        ("AUTH0_DOMAIN", "t.auth0.com"),
        ("AUTHSIGNAL_VERIFICATION_METHODS", "PASSKEY,PASSKEYS"),
    ])
    .unwrap();
    let warnings = s.warnings();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("`PASSKEYS`"), "{}", warnings[0]);
}

#[test]
fn the_sign_in_proof_is_an_assertion_with_a_profile_by_default() {
    let s = settings(&[("AUTH0_DOMAIN", "t.auth0.com"), ("AUTH0_REALM", "passkeys")]).unwrap();
    assert_eq!(
        s.sign_in_proof,
        SignInProof::Assertion {
            parties: AssertionParties {
                issuer: "authsignal-auth0-bridge".into(),
                audience: "passkeys".into(),
            },
            look_up_profile: true,
        }
    );
    let s = settings(&[
        ("AUTH0_DOMAIN", "t.auth0.com"),
        ("AUTH0_SIGN_IN_PROOF", "assertion"),
        ("ASSERTION_ISSUER", "https://bridge.example.com"),
        ("AUTHSIGNAL_PROFILE", "false"),
        ("AUTH0_GRANT_TYPE", "password"),
    ])
    .unwrap();
    assert_eq!(
        s.sign_in_proof,
        SignInProof::Assertion {
            parties: AssertionParties {
                issuer: "https://bridge.example.com".into(),
                audience: "authsignal".into(),
            },
            look_up_profile: false,
        }
    );
    assert!(s.warnings().is_empty());
}

#[test]
fn the_assertion_audience_is_the_realm_unless_set_so_each_environment_can_name_its_own() {
    let parties = |vars: &[(&str, &str)]| {
        let s = settings(&[&[("AUTH0_DOMAIN", "t.auth0.com")], vars].concat()).unwrap();
        s.sign_in_proof.parties().cloned().unwrap()
    };
    assert_eq!(parties(&[("AUTH0_REALM", "passkeys")]).audience, "passkeys");
    let named = parties(&[
        ("AUTH0_REALM", "passkeys"),
        ("ASSERTION_ISSUER", "authsignal-auth0-bridge:bridge-staging"),
        ("ASSERTION_AUDIENCE", "passkeys:bridge-staging"),
    ]);
    assert_eq!(
        (named.issuer.as_str(), named.audience.as_str()),
        (
            "authsignal-auth0-bridge:bridge-staging",
            "passkeys:bridge-staging"
        )
    );
    let long = "a".repeat(257);
    let err = settings(&[
        ("AUTH0_DOMAIN", "t.auth0.com"),
        ("ASSERTION_AUDIENCE", &long),
    ])
    .unwrap_err();
    assert!(
        err.problems[0].starts_with("ASSERTION_AUDIENCE must be at most 256 bytes"),
        "{err}"
    );
}

#[test]
fn the_authsignal_token_proof_ignores_the_assertion_settings_with_a_warning() {
    let s = settings(&[
        ("AUTH0_DOMAIN", "t.auth0.com"),
        ("AUTH0_SIGN_IN_PROOF", "authsignal-token"),
        ("AUTHSIGNAL_PROFILE", "true"),
    ])
    .unwrap();
    assert_eq!(s.sign_in_proof, SignInProof::AuthsignalToken);
    assert_eq!(
        s.warnings(),
        ["AUTHSIGNAL_PROFILE is ignored with AUTH0_SIGN_IN_PROOF=authsignal-token"]
    );
}

#[test]
fn bad_sign_in_proof_settings_are_reported() {
    for (name, value, expected) in [
        (
            "AUTH0_SIGN_IN_PROOF",
            "token",
            "AUTH0_SIGN_IN_PROOF must be `assertion` or `authsignal-token`, not `token`",
        ),
        (
            "AUTHSIGNAL_PROFILE",
            "maybe",
            "AUTHSIGNAL_PROFILE must be `true` or `false`, not `maybe`",
        ),
        (
            "ASSERTION_ISSUER",
            &"i".repeat(257),
            "ASSERTION_ISSUER must be at most 256 bytes",
        ),
        (
            "ASSERTION_ISSUER",
            "a\u{7}b",
            "ASSERTION_ISSUER must be at most 256 bytes",
        ),
    ] {
        let err = settings(&[("AUTH0_DOMAIN", "t.auth0.com"), (name, value)]).unwrap_err();
        assert!(
            err.problems[0].starts_with(expected),
            "{name}={value}: {err}"
        );
    }
}

#[test]
fn dpop_is_optional_unless_required() {
    let s = settings(&[("AUTH0_DOMAIN", "t.auth0.com")]).unwrap();
    assert_eq!(s.dpop, DpopPolicy::Optional);
    let s = settings(&[("AUTH0_DOMAIN", "t.auth0.com"), ("DPOP", "required")]).unwrap();
    assert_eq!(s.dpop, DpopPolicy::Required);
    let err = settings(&[("AUTH0_DOMAIN", "t.auth0.com"), ("DPOP", "yes")]).unwrap_err();
    assert_eq!(
        err.problems,
        ["DPOP must be `optional` or `required`, not `yes`"]
    );
}

#[test]
fn token_exchange_needs_a_subject_token_type_of_the_operators_own() {
    let s = settings(&[
        ("AUTH0_DOMAIN", "t.auth0.com"),
        ("AUTH0_GRANT_TYPE", "token-exchange"),
        (
            "AUTH0_SUBJECT_TOKEN_TYPE",
            "urn:acme:authsignal-bridge-assertion",
        ),
    ])
    .unwrap();
    assert_eq!(
        s.auth0_grant,
        Auth0Grant::TokenExchange {
            subject_token_type: "urn:acme:authsignal-bridge-assertion".to_owned()
        }
    );
    for own in [
        "https://bridge.acme.example/assertion",
        "https://notauth0.com/x",
        "urn:ietfx:thing",
    ] {
        let s = settings(&[
            ("AUTH0_DOMAIN", "t.auth0.com"),
            ("AUTH0_GRANT_TYPE", "token-exchange"),
            ("AUTH0_SUBJECT_TOKEN_TYPE", own),
        ]);
        assert!(s.is_ok(), "{own}: {:?}", s.err());
    }

    let err = settings(&[
        ("AUTH0_DOMAIN", "t.auth0.com"),
        ("AUTH0_GRANT_TYPE", "token-exchange"),
    ])
    .unwrap_err();
    assert!(
        err.problems[0].starts_with("AUTH0_SUBJECT_TOKEN_TYPE is required"),
        "{err}"
    );
}

#[test]
fn a_reserved_or_malformed_subject_token_type_is_a_configuration_error() {
    for reserved in [
        "urn:ietf:params:oauth:token-type:jwt",
        "URN:IETF:params:oauth:token-type:id_token",
        "urn:auth0:assertion",
        "urn:okta:thing",
        "https://auth0.com/token",
        "http://auth0.com",
        "https://tenant.auth0.com/assertion",
        "https://okta.com/x",
        "HTTPS://OKTA.COM",
    ] {
        let err = settings(&[
            ("AUTH0_DOMAIN", "t.auth0.com"),
            ("AUTH0_GRANT_TYPE", "token-exchange"),
            ("AUTH0_SUBJECT_TOKEN_TYPE", reserved),
        ])
        .unwrap_err();
        assert!(
            err.problems[0].contains("a namespace Auth0 reserves"),
            "{reserved}: {err}"
        );
    }
    for malformed in ["assertion", ":x", "urn:", "urn:acme:a b", "1urn:x"] {
        let err = settings(&[
            ("AUTH0_DOMAIN", "t.auth0.com"),
            ("AUTH0_GRANT_TYPE", "token-exchange"),
            ("AUTH0_SUBJECT_TOKEN_TYPE", malformed),
        ])
        .unwrap_err();
        assert!(
            err.problems[0].contains("must be an absolute URI"),
            "{malformed}: {err}"
        );
    }
}

#[test]
fn token_exchange_with_the_authsignal_token_as_proof_is_a_configuration_error() {
    let err = settings(&[
        ("AUTH0_DOMAIN", "t.auth0.com"),
        ("AUTH0_GRANT_TYPE", "token-exchange"),
        ("AUTH0_SUBJECT_TOKEN_TYPE", "urn:acme:assertion"),
        ("AUTH0_SIGN_IN_PROOF", "authsignal-token"),
    ])
    .unwrap_err();
    assert_eq!(
        err.problems,
        ["AUTH0_GRANT_TYPE=token-exchange needs AUTH0_SIGN_IN_PROOF=assertion: the subject token is the bridge's assertion"]
    );
}

#[test]
fn a_subject_token_type_without_token_exchange_is_reported_as_ignored() {
    let s = settings(&[
        ("AUTH0_DOMAIN", "t.auth0.com"),
        ("AUTH0_SUBJECT_TOKEN_TYPE", "urn:acme:assertion"),
    ])
    .unwrap();
    assert_eq!(
        s.warnings(),
        ["AUTH0_SUBJECT_TOKEN_TYPE is ignored unless AUTH0_GRANT_TYPE=token-exchange"]
    );
}

fn sign_up_vars() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AUTH0_DOMAIN", "t.auth0.com"),
        ("AUTHSIGNAL_ACTION", "signInWithPasskey"),
        ("AUTHSIGNAL_VERIFICATION_METHODS", "PASSKEY"),
        ("REPLAY_TABLE", "bridge-replay"),
        ("SIGN_UP", "email"),
        ("SIGN_UP_ACTION", "signUp"),
    ]
}

#[test]
fn sign_up_is_off_unless_configured_and_reads_its_settings() {
    let off = settings(&[
        ("AUTH0_DOMAIN", "t.auth0.com"),
        ("SIGN_UP_ACTION", "signUp"),
    ])
    .unwrap();
    assert_eq!(off.sign_up, None);
    assert_eq!(
        off.warnings(),
        ["SIGN_UP_ACTION is ignored unless SIGN_UP=email"]
    );
    let on = settings(&sign_up_vars()).unwrap();
    assert_eq!(
        on.sign_up,
        Some(SignUpSettings {
            action: "signUp".into(),
            email_domains: None,
            email_cooldown: Duration::from_secs(60),
            address_limit: 10,
        })
    );
    assert_eq!(on.sign_in_actions(), ["signInWithPasskey", "signUp"]);
    let mut vars = sign_up_vars();
    vars.extend([
        ("SIGN_UP_EMAIL_DOMAINS", "Example.com, example.org"),
        ("SIGN_UP_EMAIL_COOLDOWN_SECONDS", "120"),
        ("SIGN_UP_ADDRESS_LIMIT", "3"),
    ]);
    let tuned = settings(&vars).unwrap().sign_up.unwrap();
    assert_eq!(
        tuned.email_domains.as_deref(),
        Some(&["example.com".to_owned(), "example.org".to_owned()][..])
    );
    assert_eq!(
        (tuned.email_cooldown, tuned.address_limit),
        (Duration::from_secs(120), 3)
    );
}

#[test]
fn sign_up_without_what_keeps_unverified_accounts_out_is_a_configuration_error() {
    let without = |name: &str| {
        let vars: Vec<_> = sign_up_vars()
            .into_iter()
            .filter(|(key, _)| *key != name)
            .collect();
        settings(&vars).unwrap_err().to_string()
    };
    assert!(without("SIGN_UP_ACTION").contains("SIGN_UP_ACTION is required"));
    assert!(without("REPLAY_TABLE").contains("SIGN_UP=email needs REPLAY_TABLE"));
    assert!(without("AUTHSIGNAL_VERIFICATION_METHODS")
        .contains("needs AUTHSIGNAL_VERIFICATION_METHODS"));
    assert!(without("AUTHSIGNAL_ACTION").contains("needs AUTHSIGNAL_ACTION"));
    for (name, value) in [
        ("AUTHSIGNAL_PROFILE", "false"),
        ("AUTH0_SIGN_IN_PROOF", "authsignal-token"),
    ] {
        let mut vars = sign_up_vars();
        vars.push((name, value));
        assert!(
            settings(&vars)
                .unwrap_err()
                .to_string()
                .contains("AUTHSIGNAL_PROFILE=true"),
            "{name}"
        );
    }
    for (name, value, said) in [
        ("SIGN_UP", "sms", "SIGN_UP must be `off` or `email`"),
        (
            "SIGN_UP_ACTION",
            "signInWithPasskey",
            "must differ from AUTHSIGNAL_ACTION",
        ),
        (
            "SIGN_UP_ACTION",
            "sign up!",
            "must be an Authsignal action code",
        ),
        (
            "SIGN_UP_EMAIL_DOMAINS",
            "example.com,not a domain",
            "SIGN_UP_EMAIL_DOMAINS must list",
        ),
        (
            "SIGN_UP_EMAIL_COOLDOWN_SECONDS",
            "1",
            "SIGN_UP_EMAIL_COOLDOWN_SECONDS must be",
        ),
        (
            "SIGN_UP_ADDRESS_LIMIT",
            "0",
            "SIGN_UP_ADDRESS_LIMIT must be",
        ),
        (
            "AUTHSIGNAL_VERIFICATION_METHODS",
            "PASSKEY,EMAIL_OTP",
            "must not allow EMAIL_OTP",
        ),
        (
            "AUTHSIGNAL_VERIFICATION_METHODS",
            "EMAIL_MAGIC_LINK",
            "must not allow EMAIL_MAGIC_LINK",
        ),
    ] {
        let mut vars: Vec<_> = sign_up_vars()
            .into_iter()
            .filter(|(key, _)| *key != name)
            .collect();
        vars.push((name, value));
        let error = settings(&vars).unwrap_err().to_string();
        assert!(error.contains(said), "{name}={value}: {error}");
    }
}
