//! DPoP proofs (RFC 9449) as an app makes them: an ES256 key (P-256, as the Secure Enclave and
//! Android Keystore hold it), and compact JWS proofs for a token endpoint, with the public JWK
//! in the header.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub struct DpopKey {
    pair: EcdsaKeyPair,
    jwk: Value,
}

impl DpopKey {
    pub fn new() -> DpopKey {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        // The uncompressed point: 0x04, x, y.
        let point = pair.public_key().as_ref().to_vec();
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        DpopKey { pair, jwk }
    }

    /// A fresh proof for `POST htu` (a new `jti`, `iat` now), with `nonce` when given.
    pub fn proof(&self, htu: &str, nonce: Option<&str>) -> String {
        let mut claims = json!({
            "jti": URL_SAFE_NO_PAD.encode(rand_bytes()),
            "htm": "POST",
            "htu": htu,
            "iat": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        self.sign(&claims)
    }

    /// A proof with exactly `claims`.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    /// The key's RFC 7638 thumbprint: the `jkt` Auth0 binds the tokens to.
    pub fn jkt(&self) -> String {
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            self.jwk["x"].as_str().unwrap(),
            self.jwk["y"].as_str().unwrap()
        );
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }
}

impl Default for DpopKey {
    fn default() -> Self {
        DpopKey::new()
    }
}

fn rand_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    bytes
}

/// `event` (an HTTP API, REST API or function URL fixture) carrying `proof` as its DPoP header.
pub fn with_dpop(mut event: Value, proof: &str) -> Value {
    event["headers"]["dpop"] = json!(proof);
    if event.get("multiValueHeaders").is_some() {
        event["multiValueHeaders"]["dpop"] = json!([proof]);
    }
    event
}
