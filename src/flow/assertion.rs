//! The bridge's assertion: the only password the Auth0 connection accepts once it has
//! `BRIDGE_PUBLIC_KEYS`. A compact JWS (RFC 7515) signed with Ed25519 (`alg` `EdDSA`, RFC 8037)
//! that says "the bridge checked this sign-in": Authsignal's user, how and for what the
//! challenge was passed, and the user's profile. It lives 60 s and names its challenge in `jti`.
//!
//! Why: when Auth0 accepted the Authsignal token itself, anyone holding a copy could sign in at
//! Auth0 directly, past every check the bridge makes (one-time use, action, verification
//! method). An assertion can only come from the holder of `BRIDGE_SIGNING_KEY`, after those
//! checks. It never carries the Authsignal token, a hash of it, or a secret.
//!
//! Knows nothing of HTTP: it turns claims into a signed string.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

use crate::settings::AssertionParties;
use crate::signing_key::SigningKey;
use crate::tokens::BridgeAssertion;
use crate::upstream::authsignal::{UserProfile, ValidatedChallenge};

/// How long an assertion is valid: enough for the one Auth0 call it is made for (and the
/// Login script's clock-skew allowance), too short to be worth stealing.
pub const LIFETIME_SECONDS: u64 = 60;

/// The claims, in the order a reader of a decoded assertion wants them.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    iat: u64,
    exp: u64,
    jti: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    verification_method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'a str>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    profile: Option<&'a UserProfile>,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// Signs the assertion from `parties` (`iss`, `aud`) for `challenge` (its user is `sub`), with
/// `profile` when it was looked up, identified by `jti`, issued at `now`.
pub fn sign(
    parties: &AssertionParties,
    key: &SigningKey,
    challenge: &ValidatedChallenge,
    profile: Option<&UserProfile>,
    jti: &str,
    now: SystemTime,
) -> BridgeAssertion {
    let iat = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let header = Header {
        alg: "EdDSA",
        typ: "JWT",
        kid: key.key_id(),
    };
    let claims = Claims {
        iss: &parties.issuer,
        aud: &parties.audience,
        sub: &challenge.user_id,
        iat,
        exp: iat + LIFETIME_SECONDS,
        jti,
        verification_method: challenge.verification_method.as_deref(),
        action: challenge.action.as_deref(),
        profile,
    };
    let mut jws = format!("{}.{}", base64url_json(&header), base64url_json(&claims));
    let signature = key.sign(jws.as_bytes());
    jws.push('.');
    jws.push_str(&URL_SAFE_NO_PAD.encode(signature));
    BridgeAssertion::new(jws)
}

/// A random `jti` (128 bits, base64url) for an assertion whose challenge has no replay record.
pub fn random_jti() -> String {
    let mut bytes = [0u8; 16];
    // The system's CSPRNG; it does not fail on Linux, and a zero jti would still be harmless
    // (the Login script does not track jti: the 60 s lifetime and the replay record do).
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn base64url_json(value: &impl Serialize) -> String {
    // Serialising these structs of strings and numbers cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{UnparsedPublicKey, ED25519};
    use serde_json::{json, Value};
    use std::time::Duration;

    fn key() -> SigningKey {
        let pkcs8 = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap();
        use base64::engine::general_purpose::STANDARD;
        SigningKey::from_pem(&format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8.as_ref())
        ))
        .unwrap()
    }

    fn parties() -> AssertionParties {
        AssertionParties {
            issuer: "authsignal-auth0-bridge".into(),
            audience: "authsignal".into(),
        }
    }

    fn challenge() -> ValidatedChallenge {
        ValidatedChallenge {
            user_id: "google-oauth2|123".into(),
            action: Some("signInWithPasskey".into()),
            idempotency_key: Some("2b8e6f0a".into()),
            verification_method: Some("PASSKEY".into()),
        }
    }

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn an_assertion_is_an_eddsa_jws_with_exactly_the_listed_claims() {
        let key = key();
        let now = UNIX_EPOCH + Duration::from_secs(1_796_000_000);
        let profile = UserProfile {
            email: Some("ada@example.com".into()),
            email_verified: Some(true),
            name: Some("Ada".into()),
            ..UserProfile::default()
        };
        let assertion = sign(
            &parties(),
            &key,
            &challenge(),
            Some(&profile),
            "challenge#2b8e6f0a",
            now,
        );
        let parts: Vec<&str> = assertion.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            decode(parts[0]),
            json!({"alg": "EdDSA", "typ": "JWT", "kid": key.key_id()})
        );
        assert_eq!(
            decode(parts[1]),
            json!({
                "iss": "authsignal-auth0-bridge",
                "aud": "authsignal",
                "sub": "google-oauth2|123",
                "iat": 1_796_000_000u64,
                "exp": 1_796_000_060u64,
                "jti": "challenge#2b8e6f0a",
                "verification_method": "PASSKEY",
                "action": "signInWithPasskey",
                "email": "ada@example.com",
                "email_verified": true,
                "name": "Ada",
            })
        );
        let public = URL_SAFE_NO_PAD
            .decode(key.public_jwk()["x"].as_str().unwrap())
            .unwrap();
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let signing_input = format!("{}.{}", parts[0], parts[1]);
        assert!(UnparsedPublicKey::new(&ED25519, public)
            .verify(signing_input.as_bytes(), &signature)
            .is_ok());
        assert!(!format!("{assertion:?}").contains(parts[2]));
    }

    #[test]
    fn without_a_profile_or_an_action_those_claims_are_left_out() {
        let bare = ValidatedChallenge {
            action: None,
            verification_method: None,
            ..challenge()
        };
        let assertion = sign(&parties(), &key(), &bare, None, "j", SystemTime::now());
        let claims = decode(assertion.expose().split('.').nth(1).unwrap());
        let mut names: Vec<&str> = claims
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["aud", "exp", "iat", "iss", "jti", "sub"]);
    }

    #[test]
    fn random_jtis_differ() {
        let (a, b) = (random_jti(), random_jti());
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 16);
    }
}
