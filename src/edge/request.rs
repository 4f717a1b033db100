//! The request rules (docs/behaviour.md, "Requests"): which endpoint a path names, the method, the
//! size, the two body encodings and the fields of each operation. All of it runs before any
//! upstream is touched, and an accepted request leaves here as one typed [`Operation`].
//!
//! Encodings (RFC 6749 section 3.2 and Appendix B): a body whose first non-whitespace byte is
//! `{` is JSON, whatever its `Content-Type` (`curl -d '{...}'` labels JSON as a form); otherwise
//! `application/x-www-form-urlencoded` is an OAuth form, and anything else is read as JSON. In
//! both, a parameter sent empty (or `null` in JSON) counts as omitted, and a parameter sent twice
//! is refused: RFC 6749 says parameters "MUST NOT be included more than once", and a duplicate
//! is how a request smuggles a second value past a proxy that reads the first.

use std::borrow::Cow;
use std::collections::HashMap;

use base64::Engine;
use lambda_http::http::Method;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::email::EmailAddress;
use crate::error::BridgeError;
use crate::flow::operation::{Operation, OperationKind};
use crate::flow::sign_up::MAX_USER_AGENT_BYTES;
use crate::settings::DpopPolicy;
use crate::tokens::{AuthsignalToken, DpopProof, RefreshToken};

/// The body limit, measured after base64 decoding.
pub const MAX_BODY_BYTES: usize = 8 * 1024;
/// The limit for the Authsignal token and for refresh tokens.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// The limit for the `scope` of a refresh.
pub const MAX_SCOPE_BYTES: usize = 1024;
/// The longest `DPoP` proof forwarded (RFC 9449 sets none; a P-256 proof is about 600 bytes).
pub const MAX_DPOP_PROOF_BYTES: usize = 4096;
/// Longest base64 text that can decode to at most [`MAX_BODY_BYTES`] (4 chars per 3 bytes):
/// anything longer is refused without decoding it.
const MAX_BASE64_BODY_CHARS: usize = MAX_BODY_BYTES.div_ceil(3) * 4;

const FORM_MEDIA_TYPE: &str = "application/x-www-form-urlencoded";
/// The only `grant_type` the token endpoint takes besides none (the passkey sign-in).
const REFRESH_TOKEN_GRANT: &str = "refresh_token";

/// The endpoints of the bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `.../token` (or an empty path): sign-in and refresh.
    Token,
    /// `.../revoke`: RFC 7009 revocation of a refresh token.
    Revoke,
    /// `.../sign-up`: the start of a sign-up by verified email (only with `SIGN_UP=email`).
    SignUp,
}

impl Endpoint {
    /// The endpoint named by the last non-empty segment of `path`, compared exactly (no
    /// percent-decoding, case-sensitive), so stage prefixes, custom base paths and a trailing
    /// slash work; `None` for any other path. A missing path counts as empty.
    pub fn from_path(path: Option<&str>) -> Option<Endpoint> {
        let last = path
            .unwrap_or_default()
            .split('/')
            .rfind(|segment| !segment.is_empty());
        match last {
            None | Some("token") => Some(Endpoint::Token),
            Some("revoke") => Some(Endpoint::Revoke),
            Some("sign-up") => Some(Endpoint::SignUp),
            Some(_) => None,
        }
    }

    /// The operation every request to this endpoint is, when the endpoint alone says it (for
    /// logs and metrics of requests refused before their body named a grant).
    pub fn only_operation(self) -> Option<OperationKind> {
        match self {
            Endpoint::Token => None,
            Endpoint::Revoke => Some(OperationKind::Revoke),
            Endpoint::SignUp => Some(OperationKind::SignUp),
        }
    }
}

/// What the request rules read of an event.
#[derive(Debug, Clone, Copy)]
pub struct RawRequest<'a> {
    pub method: &'a Method,
    pub content_type: Option<&'a str>,
    pub body: Option<&'a str>,
    pub is_base64_encoded: bool,
    pub dpop: DpopHeader<'a>,
    /// The `User-Agent` header, when readable (passed to Authsignal by the sign-up).
    pub user_agent: Option<&'a str>,
}

/// The request's `DPoP` header (RFC 9449), as the event delivered it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DpopHeader<'a> {
    #[default]
    Absent,
    /// One header (HTTP APIs join repeated headers with commas into one: the shape check
    /// refuses those).
    One(&'a str),
    /// More than one `DPoP` header, or one whose value is not text.
    Unreadable,
}

/// The request rules, in order: POST; at most 8 KiB after base64 decoding; a readable body;
/// the fields of the operation the endpoint and `grant_type` name; for a sign-in or a refresh,
/// its `DPoP` proof under `dpop` (the revocation ignores the header).
pub fn decode(
    endpoint: Endpoint,
    request: RawRequest<'_>,
    dpop: DpopPolicy,
) -> Result<Operation, BridgeError> {
    if *request.method != Method::POST {
        return Err(BridgeError::MethodNotAllowed);
    }
    let body = body_bytes(request.body.unwrap_or_default(), request.is_base64_encoded)?;
    let mut parameters = Parameters::read(&body, request.content_type)?;
    match endpoint {
        Endpoint::Token => match parameters.take("grant_type", usize::MAX)? {
            None => {
                // A refresh sent without its grant type, or a revocation sent to this endpoint:
                // its refresh token must never reach Authsignal as if it were a sign-in.
                if ["refresh_token", "token_type_hint"]
                    .iter()
                    .any(|name| parameters.contains(name))
                {
                    return Err(invalid(
                        "a sign-in carries no refresh_token or token_type_hint: refresh with grant_type=refresh_token, revoke at the revocation endpoint",
                    ));
                }
                Ok(Operation::SignIn {
                    token: AuthsignalToken::new(parameters.require("token", MAX_TOKEN_BYTES)?),
                    dpop: dpop_proof(request.dpop, dpop)?,
                })
            }
            Some(grant) if grant == REFRESH_TOKEN_GRANT => Ok(Operation::Refresh {
                refresh_token: RefreshToken::new(
                    parameters.require("refresh_token", MAX_TOKEN_BYTES)?,
                ),
                scope: parameters.take("scope", MAX_SCOPE_BYTES)?,
                dpop: dpop_proof(request.dpop, dpop)?,
            }),
            Some(_) => Err(BridgeError::UnsupportedGrantType),
        },
        // `token_type_hint` is accepted and ignored (RFC 7009 section 2.1: only refresh
        // tokens can be revoked here anyway).
        Endpoint::Revoke => Ok(Operation::Revoke {
            token: RefreshToken::new(parameters.require("token", MAX_TOKEN_BYTES)?),
        }),
        Endpoint::SignUp => sign_up(parameters, request.user_agent),
    }
}

/// The sign-up's body: `email` and nothing else (an unknown field is refused rather than
/// ignored: a client sending `phone` or `password` here is mistaken, and should be told).
fn sign_up(mut parameters: Parameters, user_agent: Option<&str>) -> Result<Operation, BridgeError> {
    let email = parameters.require("email", usize::MAX)?;
    let email = EmailAddress::parse(&email).map_err(invalid)?;
    if !parameters.0.is_empty() {
        return Err(invalid("a sign-up takes only email"));
    }
    Ok(Operation::SignUp {
        email,
        user_agent: user_agent.map(|agent| truncated(agent, MAX_USER_AGENT_BYTES).to_owned()),
    })
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncated(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The proof to forward to Auth0, after the only check the bridge makes of it: its shape (one
/// header; three base64url parts; at most [`MAX_DPOP_PROOF_BYTES`]). Its signature, `htu`,
/// `jti` and the rest are Auth0's to check: the bridge holds no key of the app's and makes no
/// crypto here.
fn dpop_proof(
    header: DpopHeader<'_>,
    policy: DpopPolicy,
) -> Result<Option<DpopProof>, BridgeError> {
    let proof = match header {
        DpopHeader::Absent if policy == DpopPolicy::Required => {
            return Err(BridgeError::InvalidDpopProof(
                "a DPoP proof is required (DPoP header)",
            ))
        }
        DpopHeader::Absent => return Ok(None),
        DpopHeader::Unreadable => {
            return Err(BridgeError::InvalidDpopProof(
                "send exactly one DPoP header",
            ))
        }
        DpopHeader::One(proof) => proof,
    };
    let is_base64url = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    };
    if proof.contains(',') {
        return Err(BridgeError::InvalidDpopProof(
            "send exactly one DPoP header",
        ));
    }
    if proof.len() > MAX_DPOP_PROOF_BYTES {
        return Err(BridgeError::InvalidDpopProof(
            "the DPoP proof is longer than 4096 bytes",
        ));
    }
    let parts: Vec<&str> = proof.split('.').collect();
    if parts.len() != 3 || !parts.iter().all(|part| is_base64url(part)) {
        return Err(BridgeError::InvalidDpopProof(
            "the DPoP proof is not a compact JWS (three base64url parts)",
        ));
    }
    Ok(Some(DpopProof::new(proof.to_owned())))
}

fn invalid(what: impl Into<Cow<'static, str>>) -> BridgeError {
    BridgeError::InvalidRequest(what.into())
}

/// The body's bytes, base64-decoded when the event says so, within the size limit.
fn body_bytes(raw: &str, is_base64_encoded: bool) -> Result<Cow<'_, [u8]>, BridgeError> {
    let body = if is_base64_encoded {
        if raw.len() > MAX_BASE64_BODY_CHARS {
            return Err(BridgeError::BodyTooLarge);
        }
        Cow::Owned(
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .map_err(|_| invalid("body is marked base64 but is not valid base64"))?,
        )
    } else {
        Cow::Borrowed(raw.as_bytes())
    };
    if body.len() > MAX_BODY_BYTES {
        return Err(BridgeError::BodyTooLarge);
    }
    Ok(body)
}

/// One parameter's value as sent. Empty strings and JSON `null` never get here: they count as
/// omitted.
#[derive(Debug)]
enum Value {
    Text(String),
    /// A JSON number, boolean, array or object.
    NotText,
}

/// The body's parameters by name, each present once.
#[derive(Debug)]
struct Parameters(HashMap<String, Value>);

impl Parameters {
    /// The parameters read, without those sent empty or `null` (which count as omitted).
    fn sent(read: HashMap<String, Option<Value>>) -> Parameters {
        Parameters(
            read.into_iter()
                .filter_map(|(name, value)| Some((name, value?)))
                .collect(),
        )
    }

    fn read(body: &[u8], content_type: Option<&str>) -> Result<Parameters, BridgeError> {
        let media_type = MediaType::parse(content_type.unwrap_or_default());
        if !media_type.charset_is_utf8 {
            return Err(invalid("only the UTF-8 charset is accepted"));
        }
        let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
        match first {
            None => Err(invalid(
                "body is empty; send a JSON object or an OAuth form with the parameters",
            )),
            Some(b'{') => Parameters::from_json(body),
            Some(_) if media_type.is_form => Parameters::from_form(body),
            Some(_) => Parameters::from_json(body),
        }
    }

    fn from_json(body: &[u8]) -> Result<Parameters, BridgeError> {
        // serde_json stops at 128 levels of nesting, so hostile nesting is an error, not a crash.
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let object = JsonObject::deserialize(&mut deserializer).and_then(|object| {
            deserializer.end()?;
            Ok(object)
        });
        match object {
            Ok(JsonObject(Ok(parameters))) => Ok(parameters),
            Ok(JsonObject(Err(repeated))) => Err(invalid(repeated)),
            Err(error) if error.is_data() => Err(invalid("body must be a JSON object")),
            Err(_) => Err(invalid("body is not valid JSON")),
        }
    }

    /// `application/x-www-form-urlencoded`: `&`-separated `name=value` pairs, `+` for a space,
    /// percent-decoded, and UTF-8 after decoding (checked strictly: the usual form decoders
    /// replace bad bytes with U+FFFD, which would alter a token instead of refusing it).
    fn from_form(body: &[u8]) -> Result<Parameters, BridgeError> {
        let mut parameters = HashMap::new();
        for pair in body.split(|byte| *byte == b'&') {
            if pair.is_empty() {
                continue;
            }
            let (name, value) = match pair.iter().position(|byte| *byte == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            let name = form_decode(name)?;
            let value = form_decode(value)?;
            if parameters.contains_key(&name) {
                return Err(invalid(repeated_message(&name)));
            }
            let value = if value.is_empty() {
                None
            } else {
                Some(Value::Text(value))
            };
            parameters.insert(name, value);
        }
        Ok(Parameters::sent(parameters))
    }

    /// Removes the parameter `name`: `None` when omitted, its text when a string of at most
    /// `max_bytes`.
    fn take(
        &mut self,
        name: &'static str,
        max_bytes: usize,
    ) -> Result<Option<String>, BridgeError> {
        match self.0.remove(name) {
            None => Ok(None),
            Some(Value::NotText) => Err(invalid(format!("{name} must be a string"))),
            Some(Value::Text(text)) if text.len() > max_bytes => {
                Err(invalid(format!("{name} is longer than {max_bytes} bytes")))
            }
            Some(Value::Text(text)) => Ok(Some(text)),
        }
    }

    /// Whether `name` was sent (not empty, not `null`), whatever its value.
    fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    fn require(&mut self, name: &'static str, max_bytes: usize) -> Result<String, BridgeError> {
        self.take(name, max_bytes)?
            .ok_or_else(|| invalid(format!("{name} is missing or empty")))
    }
}

/// What a name that was sent twice is called in the answer: the bridge's own parameter names
/// as they are, any other name not at all (it is the caller's text).
fn repeated_message(name: &str) -> String {
    match KNOWN_PARAMETERS.iter().find(|known| **known == name) {
        Some(known) => format!("{known} is sent twice"),
        None => "a parameter is sent twice".to_owned(),
    }
}

const KNOWN_PARAMETERS: &[&str] = &[
    "email",
    "grant_type",
    "token",
    "refresh_token",
    "scope",
    "token_type_hint",
    "client_id",
    "client_secret",
];

fn form_decode(raw: &[u8]) -> Result<String, BridgeError> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|byte| if *byte == b'+' { b' ' } else { *byte })
        .collect();
    let decoded: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    String::from_utf8(decoded).map_err(|_| invalid("form is not UTF-8 after percent-decoding"))
}

/// The parts of a `Content-Type` the rules look at.
struct MediaType {
    is_form: bool,
    /// True unless a `charset` other than UTF-8 is named.
    charset_is_utf8: bool,
}

impl MediaType {
    fn parse(header: &str) -> MediaType {
        let mut parts = header.split(';');
        let essence = parts.next().unwrap_or_default().trim();
        let charset_is_utf8 = parts
            .filter_map(|parameter| parameter.split_once('='))
            .filter(|(name, _)| name.trim().eq_ignore_ascii_case("charset"))
            .all(|(_, value)| {
                let value = value.trim().trim_matches('"');
                value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8")
            });
        MediaType {
            is_form: essence.eq_ignore_ascii_case(FORM_MEDIA_TYPE),
            charset_is_utf8,
        }
    }
}

/// A top-level JSON object read key by key, so a repeated key is seen (serde_json's own maps
/// keep the last value silently). `Err` holds how to name the repeated key.
struct JsonObject(Result<Parameters, String>);

impl<'de> Deserialize<'de> for JsonObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(JsonObjectVisitor)
    }
}

struct JsonObjectVisitor;

impl<'de> Visitor<'de> for JsonObjectVisitor {
    type Value = JsonObject;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonObject, A::Error> {
        let mut parameters = HashMap::new();
        let mut repeated = None;
        while let Some(name) = map.next_key::<String>()? {
            let value = match map.next_value::<serde_json::Value>()? {
                serde_json::Value::Null => None,
                serde_json::Value::String(text) if text.is_empty() => None,
                serde_json::Value::String(text) => Some(Value::Text(text)),
                _ => Some(Value::NotText),
            };
            // Read on to the end even after a repeat, so broken JSON is still reported as such.
            if parameters.insert(name.clone(), value).is_some() && repeated.is_none() {
                repeated = Some(repeated_message(&name));
            }
        }
        let parameters = Parameters::sent(parameters);
        Ok(JsonObject(match repeated {
            Some(message) => Err(message),
            None => Ok(parameters),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post<'a>(body: &'a str, content_type: Option<&'a str>) -> RawRequest<'a> {
        RawRequest {
            method: &Method::POST,
            content_type,
            body: Some(body),
            is_base64_encoded: false,
            dpop: DpopHeader::Absent,
            user_agent: None,
        }
    }

    fn decode(endpoint: Endpoint, request: RawRequest<'_>) -> Result<Operation, BridgeError> {
        super::decode(endpoint, request, DpopPolicy::Optional)
    }

    fn decode_token(body: &str, content_type: Option<&str>) -> Result<Operation, BridgeError> {
        decode(Endpoint::Token, post(body, content_type))
    }

    fn description(result: Result<Operation, BridgeError>) -> String {
        let error = result.unwrap_err();
        assert_eq!(error.status(), 400, "{error:?}");
        error.public_description().to_owned()
    }

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    #[test]
    fn the_last_non_empty_path_segment_names_the_endpoint() {
        for (path, endpoint) in [
            (Some("/token"), Some(Endpoint::Token)),
            (Some("/prod/token"), Some(Endpoint::Token)),
            (Some("/auth/v1/token/"), Some(Endpoint::Token)),
            (Some("/"), Some(Endpoint::Token)),
            (Some(""), Some(Endpoint::Token)),
            (None, Some(Endpoint::Token)),
            (Some("/revoke"), Some(Endpoint::Revoke)),
            (Some("/stage/revoke/"), Some(Endpoint::Revoke)),
            (Some("/Token"), None),
            (Some("/tok%65n"), None),
            (Some("/token/extra"), None),
            (Some("/revoke.json"), None),
            (Some("/oauth/token2"), None),
        ] {
            assert_eq!(Endpoint::from_path(path), endpoint, "{path:?}");
        }
    }

    #[test]
    fn a_sign_in_is_a_token_without_grant_type_in_either_encoding() {
        for (body, content_type) in [
            (r#"{"token":"abc"}"#, Some("application/json")),
            (r#"  {"token":"abc","grant_type":null}"#, FORM),
            ("token=abc", FORM),
            ("token=abc&grant_type=", FORM),
            (
                "token=abc",
                Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
            ),
        ] {
            match decode_token(body, content_type) {
                Ok(Operation::SignIn { token, .. }) => assert_eq!(token.expose(), "abc"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_refresh_takes_its_token_and_an_optional_scope() {
        match decode_token(
            "grant_type=refresh_token&refresh_token=r%2Bt+1&scope=openid+profile&client_id=x",
            FORM,
        ) {
            Ok(Operation::Refresh {
                refresh_token,
                scope,
                ..
            }) => {
                assert_eq!(refresh_token.expose(), "r+t 1");
                assert_eq!(scope.as_deref(), Some("openid profile"));
            }
            other => panic!("{other:?}"),
        }
        match decode_token(
            r#"{"grant_type":"refresh_token","refresh_token":"r","scope":""}"#,
            None,
        ) {
            Ok(Operation::Refresh { scope, .. }) => assert_eq!(scope, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn another_grant_type_is_unsupported() {
        for body in [
            "grant_type=password&token=abc",
            "grant_type=authorization_code",
            "grant_type=Refresh_Token&refresh_token=r",
        ] {
            let error = decode_token(body, FORM).unwrap_err();
            assert_eq!(
                error.oauth_error(),
                Some("unsupported_grant_type"),
                "{body}"
            );
            assert_eq!(error.status(), 400);
        }
    }

    #[test]
    fn a_revocation_takes_the_token_and_ignores_the_hint() {
        let request = post("token=rt&token_type_hint=refresh_token", FORM);
        match decode(Endpoint::Revoke, request) {
            Ok(Operation::Revoke { token }) => assert_eq!(token.expose(), "rt"),
            other => panic!("{other:?}"),
        }
        let request = post(r#"{"token_type_hint":"access_token"}"#, None);
        assert_eq!(
            description(decode(Endpoint::Revoke, request)),
            "token is missing or empty"
        );
    }

    #[test]
    fn fields_are_checked_for_presence_type_and_length() {
        let long = "t".repeat(MAX_TOKEN_BYTES + 1);
        let at_limit = "t".repeat(MAX_TOKEN_BYTES);
        let long_scope = "s".repeat(MAX_SCOPE_BYTES + 1);
        for (body, expected) in [
            (r#"{"token":""}"#.to_owned(), "token is missing or empty"),
            (r#"{"token":7}"#.to_owned(), "token must be a string"),
            (
                r#"{"grant_type":1}"#.to_owned(),
                "grant_type must be a string",
            ),
            (
                format!(r#"{{"token":"{long}"}}"#),
                "token is longer than 4096 bytes",
            ),
            (
                r#"{"grant_type":"refresh_token"}"#.to_owned(),
                "refresh_token is missing or empty",
            ),
            (
                r#"{"grant_type":"refresh_token","refresh_token":["r"]}"#.to_owned(),
                "refresh_token must be a string",
            ),
            (
                format!(r#"{{"grant_type":"refresh_token","refresh_token":"{long}"}}"#),
                "refresh_token is longer than 4096 bytes",
            ),
            (
                format!(
                    r#"{{"grant_type":"refresh_token","refresh_token":"r","scope":"{long_scope}"}}"#
                ),
                "scope is longer than 1024 bytes",
            ),
        ] {
            assert_eq!(
                description(decode_token(&body, None)),
                expected,
                "{body:.60}"
            );
        }
        // Bytes, not characters: 1024 two-byte characters are 2048 bytes.
        let wide = format!(r#"{{"token":"{}"}}"#, "é".repeat(2049));
        assert_eq!(
            description(decode_token(&wide, None)),
            "token is longer than 4096 bytes"
        );
        assert!(decode_token(&format!(r#"{{"token":"{at_limit}"}}"#), None).is_ok());
    }

    #[test]
    fn a_repeated_parameter_or_key_is_refused_without_echoing_it() {
        for (body, content_type, expected) in [
            ("token=a&token=b", FORM, "token is sent twice"),
            ("token=a&token=", FORM, "token is sent twice"),
            (
                "token=a&x-canary=1&x-canary=2",
                FORM,
                "a parameter is sent twice",
            ),
            (r#"{"token":"a","token":"b"}"#, None, "token is sent twice"),
            (
                r#"{"token":"a","secret-canary":1,"secret-canary":2}"#,
                None,
                "a parameter is sent twice",
            ),
        ] {
            let text = description(decode_token(body, content_type));
            assert_eq!(text, expected, "{body}");
            assert!(!text.contains("canary"));
        }
    }

    #[test]
    fn only_utf8_is_read() {
        assert_eq!(
            description(decode_token("token=%FF%FE", FORM)),
            "form is not UTF-8 after percent-decoding"
        );
        // An encoded, valid multi-byte character is fine.
        match decode_token("token=%C3%A9", FORM) {
            Ok(Operation::SignIn { token, .. }) => assert_eq!(token.expose(), "é"),
            other => panic!("{other:?}"),
        }
        for content_type in [
            "application/x-www-form-urlencoded; charset=ISO-8859-1",
            "application/json; charset=\"latin1\"",
        ] {
            assert_eq!(
                description(decode_token(r#"{"token":"a"}"#, Some(content_type))),
                "only the UTF-8 charset is accepted"
            );
        }
        assert!(decode_token(
            r#"{"token":"a"}"#,
            Some("application/json; charset=\"utf-8\"")
        )
        .is_ok());
        let base64 = base64::engine::general_purpose::STANDARD.encode(b"token=\xff");
        let request = RawRequest {
            is_base64_encoded: true,
            ..post(&base64, FORM)
        };
        assert_eq!(
            description(decode(Endpoint::Token, request)),
            "form is not UTF-8 after percent-decoding"
        );
    }

    #[test]
    fn json_first_then_the_content_type_decides() {
        // JSON labelled as a form (curl -d) is JSON.
        assert!(decode_token(" \n{\"token\":\"a\"}", FORM).is_ok());
        // A form without the form content type is read as JSON, and is not JSON.
        assert_eq!(
            description(decode_token("token=a", Some("text/plain"))),
            "body is not valid JSON"
        );
        for (body, expected) in [
            ("[]", "body must be a JSON object"),
            ("null", "body must be a JSON object"),
            ("\"token\"", "body must be a JSON object"),
            ("{\"token\":\"a\"} x", "body is not valid JSON"),
            ("{\"token\":\"a\",\"token\":", "body is not valid JSON"),
            (
                "   ",
                "body is empty; send a JSON object or an OAuth form with the parameters",
            ),
        ] {
            assert_eq!(description(decode_token(body, None)), expected, "{body}");
        }
    }

    #[test]
    fn a_broken_base64_body_is_a_bad_request() {
        let request = RawRequest {
            is_base64_encoded: true,
            ..post("eyJ0b2tlbiI6!!!", None)
        };
        assert_eq!(decode(Endpoint::Token, request).unwrap_err().status(), 400);
        let request = RawRequest {
            is_base64_encoded: true,
            ..post("eyJ0b2tlbiI6InQifQ==", None)
        };
        assert!(decode(Endpoint::Token, request).is_ok());
    }

    #[test]
    fn an_encoded_body_is_limited_by_its_decoded_size() {
        let encode = |size: usize| {
            let body = format!(r#"{{"token":"t"}}{}"#, " ".repeat(size - 13));
            base64::engine::general_purpose::STANDARD.encode(body)
        };
        let encoded = |text: &str| {
            decode(
                Endpoint::Token,
                RawRequest {
                    is_base64_encoded: true,
                    ..post(text, None)
                },
            )
        };
        assert!(encoded(&encode(MAX_BODY_BYTES)).is_ok());
        // One byte over can share the limit's encoded length: caught after decoding.
        let one_over = encode(MAX_BODY_BYTES + 1);
        assert_eq!(one_over.len(), MAX_BASE64_BODY_CHARS);
        assert_eq!(encoded(&one_over).unwrap_err().status(), 413);
        // Longer texts are refused before decoding.
        let long = "A".repeat(MAX_BASE64_BODY_CHARS + 4);
        assert_eq!(encoded(&long).unwrap_err().status(), 413);
    }

    #[test]
    fn the_method_is_checked_before_the_body() {
        let huge = "x".repeat(MAX_BODY_BYTES + 1);
        for endpoint in [Endpoint::Token, Endpoint::Revoke] {
            let request = RawRequest {
                method: &Method::GET,
                ..post(&huge, None)
            };
            assert_eq!(decode(endpoint, request).unwrap_err().status(), 405);
        }
    }

    #[test]
    fn a_sign_in_with_a_refresh_token_or_a_token_type_hint_is_refused() {
        for (body, content_type) in [
            (r#"{"token":"t","refresh_token":"rt"}"#, None),
            (r#"{"token":"rt","token_type_hint":"refresh_token"}"#, None),
            ("token=rt&token_type_hint=refresh_token", FORM),
            ("token=t&refresh_token=rt", FORM),
            ("refresh_token=rt", FORM),
        ] {
            assert_eq!(
                description(decode_token(body, content_type)),
                "a sign-in carries no refresh_token or token_type_hint: refresh with grant_type=refresh_token, revoke at the revocation endpoint",
                "{body}"
            );
        }
        // Sent empty, they count as omitted (RFC 6749 section 3.2).
        assert!(decode_token("token=t&refresh_token=&token_type_hint=", FORM).is_ok());
    }

    #[test]
    fn a_sign_up_takes_one_email_and_nothing_else() {
        let Ok(Operation::SignUp { email, user_agent }) = decode(
            Endpoint::SignUp,
            post(r#"{"email":"Ada@Example.com"}"#, None),
        ) else {
            panic!("a sign-up");
        };
        assert_eq!((email.as_str(), user_agent), ("ada@example.com", None));
        let form = decode(
            Endpoint::SignUp,
            post(
                "email=ada%40example.com",
                Some("application/x-www-form-urlencoded"),
            ),
        );
        assert!(matches!(form, Ok(Operation::SignUp { .. })), "{form:?}");
        for (body, said) in [
            (
                r#"{"email":"ada@example.com","phone":"+64211234567"}"#,
                "a sign-up takes only email",
            ),
            (
                r#"{"email":"ada"}"#,
                "email must be an address like name@example.com",
            ),
            (r#"{"email":7}"#, "email must be a string"),
            (r#"{}"#, "email is missing or empty"),
            (
                r#"{"email":"a@example.com","email":"b@example.com"}"#,
                "email is sent twice",
            ),
        ] {
            let error = decode(Endpoint::SignUp, post(body, None)).unwrap_err();
            assert_eq!(error.public_description(), said, "{body}");
        }
        let long = format!(r#"{{"email":"{}@example.com"}}"#, "a".repeat(250));
        let error = decode(Endpoint::SignUp, post(&long, None)).unwrap_err();
        assert_eq!(error.public_description(), "email is longer than 254 bytes");
    }

    #[test]
    fn the_user_agent_is_cut_at_512_bytes_on_a_character_boundary() {
        let agent = format!("{}é", "a".repeat(511));
        let mut request = post(r#"{"email":"ada@example.com"}"#, None);
        request.user_agent = Some(&agent);
        let Ok(Operation::SignUp { user_agent, .. }) = decode(Endpoint::SignUp, request) else {
            panic!("a sign-up");
        };
        assert_eq!(user_agent.as_deref(), Some("a".repeat(511).as_str()));
    }
}
