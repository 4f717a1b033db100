// The connection to the tenant's Management API, through Auth0's Node SDK: its token (with the
// tenant's canonical audience, and the scopes it grants), its base URL, the rate limit honoured,
// and every failure turned into one line an operator can act on.
'use strict';
const { ManagementClient } = require('auth0');
const { OperatorError, managementFailure, SCOPES_FIX } = require('./errors.js');

const LOOPBACK = /^http:\/\/(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?(\/|$)/;
// 429s waited out per request, and the longest wait for one (x-ratelimit-reset is when the
// tenant's bucket refills: Auth0 documents it in UNIX seconds).
const RATE_LIMIT_WAITS = 5;
const RATE_LIMIT_MAX_WAIT_MS = 60000;

// The Management API's base URL: AUTH0_MANAGEMENT_API_URL (a proxy, or a stand-in on loopback in
// tests), else https://{canonical tenant domain}/api/v2. https:// only, but for loopback.
function managementApiBase(settings, environment) {
  const base = (environment.AUTH0_MANAGEMENT_API_URL || `https://${settings.tenantDomain}/api/v2`).replace(/\/+$/, '');
  if (!base.startsWith('https://') && !LOOPBACK.test(base)) {
    throw new OperatorError('AUTH0_MANAGEMENT_API_URL must be https:// (http:// only on loopback). Fix: correct it.');
  }
  return base;
}

// The base's origin and path before /api/v2, where the token endpoint is (/oauth/token).
const rootOf = (base) => (base.endsWith('/api/v2') ? base.slice(0, -'/api/v2'.length) : new URL(base).origin);

// When a 429 says the limit resets: x-ratelimit-reset (UNIX seconds), else Retry-After (seconds).
function rateLimitWaitMs(headers, now = Date.now()) {
  const reset = Number(headers.get('x-ratelimit-reset'));
  if (Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - now) + 100;
  const after = Number(headers.get('retry-after'));
  return Number.isFinite(after) && after > 0 ? after * 1000 : 1000;
}

// `fetchImpl` that waits out Auth0's rate limit: on a 429, until x-ratelimit-reset, then again,
// at most RATE_LIMIT_WAITS times and never longer than RATE_LIMIT_MAX_WAIT_MS at once; the last
// 429 is returned as it is (and reported with its fix).
function honouringRateLimit(fetchImpl, sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))) {
  return async (input, init) => {
    for (let waits = 0; ; waits++) {
      const answer = await fetchImpl(input, init);
      if (answer.status !== 429 || waits >= RATE_LIMIT_WAITS) return answer;
      const wait = rateLimitWaitMs(answer.headers);
      if (wait > RATE_LIMIT_MAX_WAIT_MS) return answer;
      await answer.arrayBuffer().catch(() => null);
      await sleep(wait);
    }
  };
}

// The scopes a JWT access token grants (its `scope` claim), or null when it is not readable.
function scopesOfJwt(token) {
  try {
    const claims = JSON.parse(Buffer.from(String(token).split('.')[1], 'base64url').toString('utf8'));
    return typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : null;
  } catch (error) {
    return null;
  }
}

// A Management API token and the scopes it grants: AUTH0_MANAGEMENT_TOKEN as given, or one from
// the client-credentials grant of AUTH0_MANAGEMENT_CLIENT_ID/SECRET, whose audience is always
// the canonical tenant domain's API (not AUTH0_MANAGEMENT_API_URL's host).
async function managementToken(settings, environment, fetchImpl) {
  if (environment.AUTH0_MANAGEMENT_TOKEN) {
    return { token: environment.AUTH0_MANAGEMENT_TOKEN, scopes: scopesOfJwt(environment.AUTH0_MANAGEMENT_TOKEN) };
  }
  if (!environment.AUTH0_MANAGEMENT_CLIENT_ID || !environment.AUTH0_MANAGEMENT_CLIENT_SECRET) {
    throw new OperatorError('no Management API credentials. Fix: set AUTH0_MANAGEMENT_CLIENT_ID and AUTH0_MANAGEMENT_CLIENT_SECRET (or AUTH0_MANAGEMENT_TOKEN).');
  }
  const what = 'getting a Management API token';
  const url = `${rootOf(managementApiBase(settings, environment))}/oauth/token`;
  let answer;
  try {
    answer = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: environment.AUTH0_MANAGEMENT_CLIENT_ID,
        client_secret: environment.AUTH0_MANAGEMENT_CLIENT_SECRET,
        audience: `https://${settings.tenantDomain}/api/v2/`
      }).toString()
    });
  } catch (error) {
    throw managementFailure(what, error);
  }
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok || !body.access_token) {
    throw managementFailure(what, { statusCode: answer.status, body: { error: body.error, message: body.error_description } });
  }
  const scopes = typeof body.scope === 'string' ? body.scope.split(' ').filter(Boolean) : scopesOfJwt(body.access_token);
  return { token: body.access_token, scopes };
}

// Fails, naming every one at once, when the token lacks any of `needed` (for `purpose`). A token
// whose scopes cannot be read (an opaque AUTH0_MANAGEMENT_TOKEN) is not checked here: a scope it
// lacks shows as a 403 naming it.
function requireScopes(granted, needed, purpose) {
  if (!granted) return;
  const missing = [...new Set(needed)].filter((scope) => !granted.includes(scope));
  if (missing.length) {
    throw new OperatorError(`the Management API token lacks ${missing.join(', ')} (${purpose}). Fix: ${SCOPES_FIX}.`);
  }
}

// The SDK client and `call(what, run)`, which runs an SDK call and turns its failure into one
// line. The SDK's own retries are off: a create it retried after an answer that was lost would
// make a second object; only 429s are retried, by `honouringRateLimit`, which Auth0 did not act on.
async function connect(settings, environment, fetchImpl = fetch) {
  const base = managementApiBase(settings, environment);
  const limitedFetch = honouringRateLimit(fetchImpl);
  const { token, scopes } = await managementToken(settings, environment, limitedFetch);
  const sdkBase = `https://${settings.tenantDomain}/api/v2`;
  const client = new ManagementClient({
    domain: settings.tenantDomain,
    token,
    telemetry: false,
    maxRetries: 0,
    // The SDK calls https://{tenant domain}/api/v2/...: those calls go where `base` says.
    fetch: (input, init) => {
      const url = typeof input === 'string' ? input : input.url;
      return limitedFetch(url.startsWith(sdkBase) ? base + url.slice(sdkBase.length) : url, init);
    }
  });
  const call = async (what, run) => {
    try {
      return await run(client);
    } catch (error) {
      throw managementFailure(what, error);
    }
  };
  return { client, call, scopes };
}

module.exports = { connect, requireScopes };
