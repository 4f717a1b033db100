//! The bridge's Ed25519 signing key (`BRIDGE_SIGNING_KEY`): read from an unencrypted PKCS#8
//! PEM, named by the RFC 7638 thumbprint of its public JWK (the assertions' `kid`, and what the
//! Auth0 connection's `BRIDGE_PUBLIC_KEYS` must list).
//!
//! The cryptography is aws-lc-rs's. It is already linked into the binary as rustls's provider,
//! so Ed25519 signing adds no crate and next to nothing to the binary's size. jsonwebtoken (with
//! its aws-lc-rs backend) was the other candidate; its value is in *verifying* tokens (algorithm
//! allow-lists, claim validation), which the bridge never does: it signs one fixed header and a
//! claim set it builds itself, three base64url parts that `crate::flow::assertion` writes in a
//! few lines.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use secrecy::{ExposeSecret, SecretSlice};
use sha2::{Digest, Sha256};

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// An Ed25519 private key and its public name. `Debug` prints the name only.
pub struct SigningKey {
    key_pair: Ed25519KeyPair,
    /// The RFC 7638 thumbprint of the public JWK, base64url.
    key_id: String,
    /// The public key, base64url (the JWK's `x`).
    public_x: String,
}

impl SigningKey {
    /// Reads an unencrypted PKCS#8 PEM Ed25519 key (what `make signing-key` and
    /// `openssl genpkey -algorithm ed25519` write). A literal `\n` counts as a line break, so a
    /// PEM pasted into a one-line `.env` value works too. The reason it gives for an unusable
    /// key names what is wrong, never any part of the key.
    pub fn from_pem(pem: &str) -> Result<SigningKey, String> {
        let pem = pem.replace("\\n", "\n");
        let pem = pem.trim();
        let Some(body) = pem
            .strip_prefix(PEM_BEGIN)
            .and_then(|rest| rest.strip_suffix(PEM_END))
        else {
            return Err(match pem_label(pem) {
                Some(label) => format!(
                    "is a PEM `{label}`, not an unencrypted PKCS#8 `PRIVATE KEY` (make one with `make signing-key`)"
                ),
                None => "is not a PEM `PRIVATE KEY` (make one with `make signing-key`)".to_owned(),
            });
        };
        let base64: String = body.split_ascii_whitespace().collect();
        let der = SecretSlice::from(
            STANDARD
                .decode(base64)
                .map_err(|_| "is not valid PEM: its body is not base64".to_owned())?,
        );
        let key_pair = Ed25519KeyPair::from_pkcs8(der.expose_secret())
            .map_err(|_| "is not an Ed25519 PKCS#8 private key".to_owned())?;
        let public_x = URL_SAFE_NO_PAD.encode(key_pair.public_key().as_ref());
        Ok(SigningKey {
            key_id: thumbprint(&public_x),
            key_pair,
            public_x,
        })
    }

    /// The assertions' `kid`: the RFC 7638 thumbprint of [`SigningKey::public_jwk`].
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key as the JWK the Auth0 connection's `BRIDGE_PUBLIC_KEYS` lists.
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.public_x,
            "kid": self.key_id,
            "alg": "EdDSA",
            "use": "sig",
        })
    }

    /// The Ed25519 signature of `message` (64 bytes; deterministic, RFC 8032).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key_pair.sign(message).as_ref().to_vec()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(kid {})", self.key_id)
    }
}

/// The label of a PEM block of another kind (`ENCRYPTED PRIVATE KEY`, `OPENSSH PRIVATE KEY`),
/// when it is one: labels are short capitals, never key material.
fn pem_label(pem: &str) -> Option<&str> {
    let label = pem.strip_prefix("-----BEGIN ")?.split("-----").next()?;
    (label.len() <= 40 && label.bytes().all(|b| b.is_ascii_uppercase() || b == b' '))
        .then_some(label)
}

/// RFC 7638 thumbprint of an Ed25519 public JWK (RFC 8037 section 2): SHA-256 of its required
/// members in lexicographic order, without whitespace, base64url.
pub fn thumbprint(public_x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{public_x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{UnparsedPublicKey, ED25519};

    /// RFC 8037 appendix A.1: the private key `d` and public key `x` of its examples.
    const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    /// The RFC's key as PKCS#8 v1 PEM: the fixed DER prefix of an Ed25519 PrivateKeyInfo
    /// (RFC 8410 section 7) followed by the 32-byte seed.
    fn rfc8037_pem() -> String {
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend(URL_SAFE_NO_PAD.decode(RFC8037_D).unwrap());
        format!("{PEM_BEGIN}\n{}\n{PEM_END}\n", STANDARD.encode(der))
    }

    #[test]
    fn the_key_id_is_the_rfc_7638_thumbprint_of_the_public_jwk() {
        // RFC 8037 appendix A.3.
        assert_eq!(
            thumbprint(RFC8037_X),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        let key = SigningKey::from_pem(&rfc8037_pem()).unwrap();
        assert_eq!(key.key_id(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        assert_eq!(key.public_jwk()["x"], RFC8037_X);
        assert_eq!(key.public_jwk()["kid"], key.key_id());
    }

    #[test]
    fn signatures_are_rfc_8032_ed25519() {
        // RFC 8037 appendix A.4: the signature over its example JWS signing input.
        let key = SigningKey::from_pem(&rfc8037_pem()).unwrap();
        let input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        assert_eq!(
            URL_SAFE_NO_PAD.encode(key.sign(input)),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
        let public = URL_SAFE_NO_PAD.decode(RFC8037_X).unwrap();
        assert!(UnparsedPublicKey::new(&ED25519, public)
            .verify(input, &key.sign(input))
            .is_ok());
    }

    #[test]
    fn a_pem_pasted_on_one_line_with_literal_line_breaks_is_read() {
        let one_line = rfc8037_pem().replace('\n', "\\n");
        assert!(SigningKey::from_pem(&one_line).is_ok());
    }

    #[test]
    fn unusable_keys_are_refused_without_quoting_them() {
        let rsa_like =
            format!("{PEM_BEGIN}\nMIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEA\n{PEM_END}");
        for (pem, expected) in [
            ("REPLACE_ME", "is not a PEM `PRIVATE KEY`"),
            ("", "is not a PEM `PRIVATE KEY`"),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----",
                "is a PEM `ENCRYPTED PRIVATE KEY`",
            ),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----",
                "is a PEM `OPENSSH PRIVATE KEY`",
            ),
            (
                &format!("{PEM_BEGIN}\n!!not-base64!!\n{PEM_END}"),
                "its body is not base64",
            ),
            (&rsa_like, "is not an Ed25519 PKCS#8 private key"),
        ] {
            let problem = SigningKey::from_pem(pem).unwrap_err();
            assert!(problem.contains(expected), "{pem}: {problem}");
            assert!(
                !problem.contains("MII") && !problem.contains("b3Bl"),
                "{problem}"
            );
        }
    }

    #[test]
    fn debug_output_names_the_key_and_nothing_else() {
        let key = SigningKey::from_pem(&rfc8037_pem()).unwrap();
        assert_eq!(
            format!("{key:?}"),
            "SigningKey(kid kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k)"
        );
    }
}
