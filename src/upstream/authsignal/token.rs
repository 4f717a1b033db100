//! The user an Authsignal token names, read before `/validate` answers, so that the profile
//! lookup can run alongside it instead of after it (docs/behaviour.md, "The sign-in").
//!
//! Authsignal's tokens are HS256 JWTs signed with the tenant's secret key, which the bridge
//! holds; they carry the user in `other.userId` (the Node SDK's `RedirectTokenPayload`), and
//! `sub` where `other` is absent. Only a token whose signature verifies with our secret key, and
//! that has not expired, is read: a malformed or forged token never starts a lookup. What it
//! names is a hint, never a verdict: the flow uses the early profile only when `/validate`
//! confirms that same user.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

/// Longest user id read from a token: Authsignal's ids are UUIDs or the app's own ids.
const MAX_USER_ID_BYTES: usize = 256;

/// The user `token` names, when it is an unexpired HS256 JWT signed with `secret_key`.
pub fn embedded_user(token: &str, secret_key: &SecretString) -> Option<String> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || decode(header)?.get("alg")? != "HS256" {
        return None;
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret_key.expose_secret().as_bytes());
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let signed = &token[..header.len() + 1 + payload.len()];
    hmac::verify(&key, signed.as_bytes(), &signature).ok()?;
    let claims = decode(payload)?;
    if claims
        .get("exp")
        .and_then(Value::as_u64)
        .is_some_and(|exp| exp <= now())
    {
        return None;
    }
    let user = claims
        .pointer("/other/userId")
        .or_else(|| claims.get("sub"))?
        .as_str()?;
    let usable =
        !user.is_empty() && user.len() <= MAX_USER_ID_BYTES && !user.chars().any(char::is_control);
    usable.then(|| user.to_owned())
}

fn decode(part: &str) -> Option<Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "canary-authsignal-secret";

    fn token(header: Value, claims: Value, secret: &str) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let signature = hmac::sign(&key, signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    fn hs256() -> Value {
        json!({"alg": "HS256", "typ": "JWT"})
    }

    fn secret() -> SecretString {
        SecretString::from(SECRET)
    }

    #[test]
    fn a_token_signed_with_our_secret_names_its_user() {
        let claims = json!({"sub": "other-sub", "exp": now() + 600, "other": {"userId": "user-1", "actionCode": "signIn"}});
        assert_eq!(
            embedded_user(&token(hs256(), claims, SECRET), &secret()).as_deref(),
            Some("user-1")
        );
        let sub_only = json!({"sub": "user-2", "exp": now() + 600});
        assert_eq!(
            embedded_user(&token(hs256(), sub_only, SECRET), &secret()).as_deref(),
            Some("user-2")
        );
    }

    #[test]
    fn a_forged_malformed_expired_or_unsigned_token_names_no_one() {
        let claims = json!({"exp": now() + 600, "other": {"userId": "user-1"}});
        let expired = json!({"exp": now() - 1, "other": {"userId": "user-1"}});
        let good = token(hs256(), claims.clone(), SECRET);
        for bad in [
            token(hs256(), claims.clone(), "another-secret"),
            token(json!({"alg": "none"}), claims.clone(), SECRET),
            token(hs256(), expired, SECRET),
            token(hs256(), json!({"other": {"userId": ""}}), SECRET),
            token(hs256(), json!({"other": {"userId": "a\nb"}}), SECRET),
            token(
                hs256(),
                json!({"other": {"userId": "u".repeat(257)}}),
                SECRET,
            ),
            token(hs256(), json!({"other": {"userId": 7}}), SECRET),
            format!("{good}.extra"),
            good.replacen('.', "", 1),
            "eyJ.demo-authsignal-token.signature".to_owned(),
            String::new(),
        ] {
            assert_eq!(embedded_user(&bad, &secret()), None, "{bad}");
        }
    }
}
