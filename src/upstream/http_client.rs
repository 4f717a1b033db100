//! What the Authsignal and Auth0 clients share: the one HTTP client, sending a request and
//! reading its answer with a size cap, and turning transport failures into [`BridgeError`]s.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};

use crate::error::{BridgeError, RequestFate, Upstream};

/// Largest upstream body the bridge reads. Auth0's token answer with an `id_token` is a few KiB
/// and Authsignal's validate answer far less; a hostile or broken upstream must not make the
/// function buffer megabytes.
pub const MAX_UPSTREAM_BODY_BYTES: usize = 64 * 1024;

/// Idle pooled connections are closed after this, below the 60 s idle timeout of AWS load
/// balancers and CDNs in front of the upstreams, so a reused connection is not reset under us.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(50);

/// Builds the one HTTP client of an execution environment (reused by every invocation, so warm
/// invocations reuse TCP/TLS connections). Per-call timeouts come from the time budget.
pub fn build_http_client(connect_timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        // Upstream answers are final: a redirect would be a misconfiguration or an attack.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "authsignal-auth0-bridge/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
}

/// An upstream answer, read in full (up to the cap). No `Debug`: the body can hold tokens.
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends `request` and reads the answer, failing with a 502-class error on transport failures
/// and on bodies over [`MAX_UPSTREAM_BODY_BYTES`]. The caller bounds the time (see `budget`).
pub async fn send(
    upstream: Upstream,
    request: reqwest::RequestBuilder,
) -> Result<UpstreamResponse, BridgeError> {
    let mut response = request
        .send()
        .await
        .map_err(|error| transport_error(upstream, &error))?;
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());

    let too_large = || {
        BridgeError::unavailable(
            upstream,
            format!("answer body over {MAX_UPSTREAM_BODY_BYTES} bytes"),
        )
    };
    if response
        .content_length()
        .is_some_and(|length| length > MAX_UPSTREAM_BODY_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| transport_error(upstream, &error))?
    {
        if body.len() + chunk.len() > MAX_UPSTREAM_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    tracing::debug!(%upstream, status = status.as_u16(), bytes = body.len(), "upstream answered");
    Ok(UpstreamResponse {
        status,
        headers,
        body: body.freeze(),
    })
}

/// Classifies a reqwest failure. The text starts at the error's source, so it never includes the
/// request URL that reqwest's own message carries.
fn transport_error(upstream: Upstream, error: &reqwest::Error) -> BridgeError {
    if error.is_timeout() {
        return BridgeError::UpstreamTimeout { upstream };
    }
    // A connection that could not be made carried no request; any later failure may have
    // come after the upstream acted on it.
    let (kind, fate) = if error.is_connect() {
        ("connection failed", RequestFate::NotSent)
    } else if error.is_body() || error.is_decode() {
        ("answer body broken off", RequestFate::Unknown)
    } else {
        ("request failed", RequestFate::Unknown)
    };
    BridgeError::UpstreamUnavailable {
        upstream,
        detail: format!("{kind}: {}", source_chain(error)),
        fate,
    }
}

/// The error and its sources in one line (reqwest's own Display stops at the top level, which
/// hides whether a connection was refused, reset or failed TLS verification).
fn source_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    let mut current = error.source();
    while let Some(source) = current {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&source.to_string());
        current = source.source();
    }
    if text.is_empty() {
        "unknown".to_owned()
    } else {
        text
    }
}

/// Opens (and pools) a connection to `url`'s host during init with a `HEAD` request whose
/// answer is ignored, so the first invocation does not pay for the TCP and TLS handshakes.
/// Never fails: an unreachable host is the first request's business.
pub async fn open_connection(
    http: &reqwest::Client,
    url: &reqwest::Url,
    upstream: Upstream,
    deadline: &crate::budget::Deadline,
) {
    let opened = deadline
        .run(upstream, async {
            send(upstream, http.head(url.clone())).await.map(|_| ())
        })
        .await;
    if let Err(error) = opened {
        tracing::debug!(%upstream, error = %error.log_detail(), "no connection opened during init");
    }
}

/// Reads a `Retry-After` given in seconds (the form Auth0 and Authsignal use).
pub fn retry_after_seconds(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Joins a path (like `validate` or `oauth/token`) to a base URL, keeping the base's own path
/// (`/v1`): `Url::join` would drop the last segment of a base without a trailing slash.
pub fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}/{}", base.path().trim_end_matches('/'), path);
    url.set_path(&joined);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_the_base_path() {
        let base = Url::parse("https://api.authsignal.com/v1").unwrap();
        assert_eq!(
            endpoint(&base, "validate").as_str(),
            "https://api.authsignal.com/v1/validate"
        );
        let base = Url::parse("https://api.authsignal.com/v1/").unwrap();
        assert_eq!(
            endpoint(&base, "validate").as_str(),
            "https://api.authsignal.com/v1/validate"
        );
        let base = Url::parse("https://t.auth0.com").unwrap();
        assert_eq!(
            endpoint(&base, "oauth/token").as_str(),
            "https://t.auth0.com/oauth/token"
        );
    }
}
