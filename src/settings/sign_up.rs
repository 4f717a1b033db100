//! The sign-up settings (`SIGN_UP` and what it needs), read like every other area: problems go
//! to the one list reported at start-up. Sign-up is off unless `SIGN_UP=email`.

use std::time::Duration;

use super::reader::Reader;
use super::{SignInProof, SignUpSettings};

const DEFAULT_EMAIL_COOLDOWN_SECONDS: u64 = 60;
const DEFAULT_ADDRESS_LIMIT: u64 = 10;

/// The methods of an email challenge (the sign-up's proof of the address, never of a sign-in).
const EMAIL_METHODS: &[&str] = &["EMAIL_OTP", "EMAIL_MAGIC_LINK"];

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What the rest of the settings say that sign-up depends on.
pub(super) struct SignUpNeeds<'a> {
    pub sign_in_action: Option<&'a str>,
    pub sign_in_proof: &'a SignInProof,
    pub replay_table: bool,
    pub verification_methods: Option<&'a [String]>,
}

/// `SIGN_UP`, and with `email`: `SIGN_UP_ACTION`, `SIGN_UP_EMAIL_DOMAINS`,
/// `SIGN_UP_EMAIL_COOLDOWN_SECONDS`, `SIGN_UP_ADDRESS_LIMIT`. Sign-up needs what keeps an
/// unverified account out: the profile lookup on the sign-in (with assertions, so a token can
/// never reach Auth0 past the bridge), the replay table (for its cooldown records) and an
/// allow-list of verification methods (the email challenge's own token must not sign in).
pub(super) fn sign_up(read: &mut Reader<Lookup>, needs: SignUpNeeds<'_>) -> Option<SignUpSettings> {
    let on = read.choice("SIGN_UP", &[("off", false), ("email", true)]);
    if !on {
        for name in ["SIGN_UP_ACTION", "SIGN_UP_EMAIL_DOMAINS"] {
            if read.is_set(name) {
                read.ignored(format!("{name} is ignored unless SIGN_UP=email"));
            }
        }
        return None;
    }
    let action = sign_up_action(read, needs.sign_in_action);
    let settings = SignUpSettings {
        action,
        email_domains: email_domains(read),
        email_cooldown: Duration::from_secs(read.number(
            "SIGN_UP_EMAIL_COOLDOWN_SECONDS",
            DEFAULT_EMAIL_COOLDOWN_SECONDS,
            10..=3600,
        )),
        address_limit: read.number("SIGN_UP_ADDRESS_LIMIT", DEFAULT_ADDRESS_LIMIT, 1..=1000) as u32,
    };
    check_needs(read, &needs);
    Some(settings)
}

fn sign_up_action(read: &mut Reader<Lookup>, sign_in_action: Option<&str>) -> String {
    if sign_in_action.is_none() {
        read.problem("SIGN_UP=email needs AUTHSIGNAL_ACTION: with it unset any action signs in, the sign-up's own included");
    }
    let Some(action) = read.get("SIGN_UP_ACTION") else {
        read.problem("SIGN_UP_ACTION is required with SIGN_UP=email (the Authsignal action the sign-up tracks, e.g. signUp)");
        return String::new();
    };
    let is_action_code = (1..=64).contains(&action.len())
        && action
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-'));
    if !is_action_code {
        read.problem(
            "SIGN_UP_ACTION must be an Authsignal action code: 1 to 64 of A-Z a-z 0-9 _ -",
        );
    }
    if sign_in_action == Some(action.as_str()) {
        read.problem("SIGN_UP_ACTION must differ from AUTHSIGNAL_ACTION: a sign-up's email challenge must never pass for a passkey sign-in");
    }
    action
}

/// `SIGN_UP_EMAIL_DOMAINS`: a comma-separated allow-list of email domains (lower case), or
/// unset for any.
fn email_domains(read: &mut Reader<Lookup>) -> Option<Vec<String>> {
    let domains: Vec<String> = read
        .get("SIGN_UP_EMAIL_DOMAINS")?
        .split(',')
        .map(|domain| domain.trim().to_ascii_lowercase())
        .filter(|domain| !domain.is_empty())
        .collect();
    if domains.is_empty() || !domains.iter().all(|domain| crate::email::is_domain(domain)) {
        read.problem(
            "SIGN_UP_EMAIL_DOMAINS must list email domains (example.com,example.org), or be unset",
        );
    }
    Some(domains)
}

fn check_needs(read: &mut Reader<Lookup>, needs: &SignUpNeeds<'_>) {
    if !needs.sign_in_proof.looks_up_profile() {
        read.problem("SIGN_UP=email needs AUTH0_SIGN_IN_PROOF=assertion and AUTHSIGNAL_PROFILE=true: a sign-in is refused until Authsignal reports the user's email verified");
    }
    if !needs.replay_table {
        read.problem("SIGN_UP=email needs REPLAY_TABLE: the sign-up's cooldown records live there");
    }
    match needs.verification_methods {
        None => read.problem("SIGN_UP=email needs AUTHSIGNAL_VERIFICATION_METHODS (e.g. PASSKEY): the email challenge's own token must not sign in"),
        Some(methods) => {
            // The sign-up's tokens are accepted at the token endpoint with any allowed method:
            // allowing the email challenge's would sign in with the emailed code alone.
            if let Some(method) = methods.iter().find(|method| EMAIL_METHODS.contains(&method.as_str())) {
                read.problem(format!("SIGN_UP=email: AUTHSIGNAL_VERIFICATION_METHODS must not allow {method}, or the sign-up's emailed code alone signs in"));
            }
        }
    }
}
