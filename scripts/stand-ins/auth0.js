// A loopback stand-in for Auth0's authentication API that runs the shipped Login script
// (auth0/login.js) for its custom database connection, as `make auth0-setup` generates it (the
// settings an operator names, e.g. BRIDGE_PUBLIC_KEYS, written into the script's settings
// block by scripts/auth0-code.js; AUTHSIGNAL_* stay connection settings), in the sandbox Auth0
// gives such scripts (auth0/support/sandbox.js). So the bridge and the script are tested
// together: a sign-in gets tokens only when the script calls back with a profile.
//
//   POST /oauth/token   password-realm (realm = the connection), password (the connection is
//                       the default directory), Custom Token Exchange (with `tokenExchange`:
//                       runs the shipped Action auth0/token-exchange.js), refresh_token
//                       (rotation with reuse detection); client_secret_post or Basic client
//                       authentication
//   POST /oauth/revoke  JSON {client_id, client_secret, token}
//   GET  /__users       the users the connection signed in, as Auth0 stores them, and
//   GET  /__requests    every request received (for the demo and tests; not Auth0 endpoints)
// Answers as Auth0's SDKs' recorded fixtures show: `Wrong email or password.` for the script's
// WrongUsernameOrPasswordError, `access_denied`/`Unauthorized` for bad client credentials.
// Any other error of the script is answered 500 `server_error` (an assumption: confirm on a
// real tenant, docs/to-confirm.md).
//
// DPoP (RFC 9449), as Auth0 documents it: a `DPoP` header on /oauth/token is verified (typ
// dpop+jwt, ES256 with the public JWK in its header, htm POST, htu this stand-in's own token
// URL, iat within 60 s, jti never seen, and the nonce when `dpopNonce` is on), then the tokens
// are bound to the key: token_type DPoP, cnf.jkt in the access token, and the refresh token
// redeemable only with a proof of the same key (Auth0's guide; RFC 9449 would leave a
// confidential client's refresh token unbound: docs/to-confirm.md, "DPoP", says how to confirm it).
// Refusals are 400 invalid_dpop_proof; a missing or stale nonce is 400 use_dpop_nonce with a
// DPoP-Nonce header.
'use strict';
const crypto = require('node:crypto');
const { serve, basicAuth, unsignedJwt } = require('./common.js');
const { loadLogin, runLogin, loadAction, runAction } = require('../../auth0/support/sandbox.js');
const { SETTING_NAMES } = require('../auth0-code.js');

const PASSWORD_REALM = 'http://auth0.com/oauth/grant-type/password-realm';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
// Auth0's Suspicious IP Throttling counts invalid subject tokens per IP; the stand-in blocks an
// address after this many (Auth0's own threshold is the tenant's setting).
const INVALID_SUBJECT_TOKENS_BEFORE_BLOCK = 10;
const UNKNOWN_REFRESH_TOKEN = { error: 'invalid_grant', error_description: 'Unknown or invalid refresh token.' };
const WRONG_PASSWORD = { error: 'invalid_grant', error_description: 'Wrong email or password.' };

// Auth0's refresh tokens with rotation and reuse detection: redeeming one returns a new one and
// retires the old; presenting a retired one again revokes its whole family.
class RefreshTokens {
  constructor(permissive) {
    this.permissive = permissive;
    this.tokens = new Map(); // token -> {family, scope, user, state: live | used | revoked}
  }

  issue(scope, user, family, jkt) {
    const token = `v1.stand-in-rt.${crypto.randomBytes(24).toString('base64url')}`;
    this.tokens.set(token, { family: family || token, scope, user, jkt, state: 'live' });
    return token;
  }

  redeem(token) {
    if (this.permissive) return { family: token, scope: null, user: null, state: 'live' };
    const record = this.tokens.get(token);
    if (!record || record.state === 'revoked') return null;
    if (record.state === 'used') {
      this.revokeFamily(record.family);
      return null;
    }
    record.state = 'used';
    return record;
  }

  revoke(token) {
    const record = this.tokens.get(token);
    if (record) this.revokeFamily(record.family);
  }

  revokeFamily(family) {
    for (const record of this.tokens.values()) if (record.family === family) record.state = 'revoked';
  }
}

// What an operator's setting `name` holds, as the settings block of the generated code holds it:
// the public keys as a list (JSON text in the environment; text that is not JSON is passed as
// it is, so the script reports it as the operator's error), STRIP_PROVIDER_PREFIX as a boolean.
function generatedValue(name, text) {
  if (name === 'BRIDGE_PUBLIC_KEYS') {
    try {
      return JSON.parse(text);
    } catch (error) {
      return text;
    }
  }
  if (name === 'STRIP_PROVIDER_PREFIX') return text.trim().toLowerCase() === 'true';
  return text;
}

// `settings` (by the names an operator knows) split as `make auth0-setup` splits them for code of
// `kind`: {generated} for the code's settings block, {configuration} for the rest (the Login
// script's connection settings, which hold its secrets).
function splitSettings(kind, settings) {
  const generated = {};
  const configuration = {};
  for (const [name, value] of Object.entries(settings)) {
    if (SETTING_NAMES[kind].includes(name)) generated[name] = generatedValue(name, value);
    else configuration[name] = value;
  }
  return { generated, configuration };
}

// Starts the stand-in. `connection` is {name, settings} (the custom database connection and its
// Login script's settings, by the names an operator knows); `client` is {id, secret};
// `permissive` makes every refresh token live (the API conformance run); `tokenExchange` is
// {subjectTokenType, settings} (the Action's settings, by the same names; BRIDGE_CLIENT_ID is
// the client's id unless given, as setup writes it).
async function startAuth0({ port = 0, client, connection, permissive = false, dpopNonce = false, tokenExchange = null }) {
  const login = splitSettings('login', connection.settings || {});
  const action = tokenExchange
    ? { BRIDGE_CLIENT_ID: client.id, ...splitSettings('action', tokenExchange.settings || {}).generated } : null;
  const refreshTokens = new RefreshTokens(permissive);
  const invalidSubjectTokens = new Map(); // ip -> count
  const users = new Map();
  const seenJtis = new Set();
  let nonce = crypto.randomBytes(16).toString('base64url');
  let server;

  // The DPoP proof of `request`, checked: {jkt} when valid, {refusal: [status, body, headers]}
  // when not, {} without one.
  function dpopOf(request) {
    const proof = request.headers.dpop;
    // The API conformance run (permissive) sends well-shaped proofs that are not real ones.
    if (proof === undefined || permissive) return {};
    const refuse = (description) => ({ refusal: [400, { error: 'invalid_dpop_proof', error_description: description }] });
    const parts = String(proof).split('.');
    if (parts.length !== 3) return refuse('Invalid DPoP proof.');
    let header;
    let claims;
    try {
      header = JSON.parse(Buffer.from(parts[0], 'base64url'));
      claims = JSON.parse(Buffer.from(parts[1], 'base64url'));
    } catch (e) {
      return refuse('Invalid DPoP proof.');
    }
    if (header.typ !== 'dpop+jwt' || header.alg !== 'ES256' || !header.jwk || header.jwk.kty !== 'EC' || header.jwk.d) {
      return refuse('Invalid DPoP proof header.');
    }
    let key;
    try {
      key = crypto.createPublicKey({ key: { kty: 'EC', crv: header.jwk.crv, x: header.jwk.x, y: header.jwk.y }, format: 'jwk' });
    } catch (e) {
      return refuse('Invalid DPoP proof key.');
    }
    const signed = crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key, dsaEncoding: 'ieee-p1363' },
      Buffer.from(parts[2], 'base64url'));
    if (!signed) return refuse('Invalid DPoP proof signature.');
    if (claims.htm !== 'POST') return refuse('DPoP proof htm does not match.');
    if (claims.htu !== `${server.url}/oauth/token`) return refuse('DPoP proof htu does not match.');
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.iat !== 'number' || Math.abs(now - claims.iat) > 60) return refuse('DPoP proof iat is not recent.');
    if (typeof claims.jti !== 'string' || claims.jti === '') return refuse('DPoP proof has no jti.');
    if (seenJtis.has(claims.jti)) return refuse('DPoP proof jti was already used.');
    if (dpopNonce && claims.nonce !== nonce) {
      return { refusal: [400, { error: 'use_dpop_nonce', error_description: 'Authorization server requires nonce in DPoP proof' }, { 'DPoP-Nonce': nonce }] };
    }
    seenJtis.add(claims.jti);
    const jkt = crypto.createHash('sha256')
      .update(JSON.stringify({ crv: header.jwk.crv, kty: 'EC', x: header.jwk.x, y: header.jwk.y })).digest('base64url');
    return { jkt };
  }

  function clientOf(request) {
    const basic = basicAuth(request.headers);
    const [id, secret] = basic || [request.form.client_id, request.form.client_secret];
    return id === client.id && secret === client.secret;
  }

  function tokens(user, scope, audience, refreshToken, jkt) {
    const now = Math.floor(Date.now() / 1000);
    const access = { iss: `${server.url}/`, sub: user.user_id, aud: audience || `${server.url}/userinfo`, scope, iat: now, exp: now + 86400, jti: crypto.randomUUID() };
    if (jkt) access.cnf = { jkt };
    const answer = {
      access_token: unsignedJwt(access),
      id_token: unsignedJwt({ iss: `${server.url}/`, aud: client.id, iat: now, exp: now + 36000, ...profileClaims(user) }),
      scope,
      expires_in: 86400,
      token_type: jkt ? 'DPoP' : 'Bearer'
    };
    if (refreshToken) answer.refresh_token = refreshToken;
    return answer;
  }

  // Runs the connection's Login script, as Auth0 does for the password grants, and keeps the
  // user it returns (Auth0 prefixes a custom database's ids with `auth0|`).
  async function signIn(username, password) {
    const { login: script } = loadLogin(login.configuration, { settings: login.generated });
    const { error, profile } = await runLogin(script, username, password);
    if (error) {
      if (error.name === 'WrongUsernameOrPasswordError') return [403, WRONG_PASSWORD];
      return [500, { error: 'server_error', error_description: error.message }];
    }
    if (!profile || typeof profile.user_id !== 'string' || profile.user_id === '') {
      return [500, { error: 'server_error', error_description: 'The Login script returned no user_id.' }];
    }
    const user = { ...profile, user_id: `auth0|${profile.user_id}`, connection: connection.name };
    users.set(user.user_id, user);
    return [200, user];
  }

  // Custom Token Exchange, as Auth0 runs it: the profile whose subject_token_type the request
  // names runs its Action (the shipped auth0/token-exchange.js, generated with
  // `tokenExchange.settings`); the user it sets in a database connection is kept
  // (`auth0|` + user_id).
  // rejectInvalidSubjectToken answers 400 invalid_request and counts against the caller's IP
  // (auth0-forwarded-for, as "Trust Token Endpoint IP Header" makes Auth0 read it); an IP with
  // too many gets 429 too_many_attempts. A denial answers its code (403; server_error 500).
  async function exchangeSubjectToken(request) {
    const form = request.form;
    if (!tokenExchange) return [403, { error: 'unauthorized_client', error_description: 'Grant type not allowed for the client.' }];
    if (form.subject_token_type !== tokenExchange.subjectTokenType) {
      return [400, { error: 'invalid_request', error_description: 'The subject_token_type is not supported.' }];
    }
    if (typeof form.subject_token !== 'string' || form.subject_token === '') {
      return [400, { error: 'invalid_request', error_description: 'Missing subject_token.' }];
    }
    const ip = request.headers['auth0-forwarded-for'] || '127.0.0.1';
    if ((invalidSubjectTokens.get(ip) || 0) >= INVALID_SUBJECT_TOKENS_BEFORE_BLOCK) {
      return [429, { error: 'too_many_attempts', error_description: 'We have detected suspicious login behavior and further attempts will be blocked.' }];
    }
    const { handler } = loadAction({ settings: action });
    const event = {
      transaction: { subject_token: form.subject_token, subject_token_type: form.subject_token_type, protocol: 'oauth2-token-exchange', requested_scopes: (form.scope || '').split(' ').filter(Boolean) },
      client: { client_id: form.client_id },
      request: { ip, method: 'POST', hostname: request.headers.host },
      secrets: {}
    };
    let outcome;
    try {
      outcome = await runAction(handler, event);
    } catch (error) {
      return [500, { error: 'server_error', error_description: `The Action failed: ${error.message}` }];
    }
    if (outcome.rejected !== undefined) {
      invalidSubjectTokens.set(ip, (invalidSubjectTokens.get(ip) || 0) + 1);
      return [400, { error: 'invalid_request', error_description: 'Invalid subject token.' }];
    }
    if (outcome.denied) {
      return [outcome.denied.code === 'server_error' ? 500 : 403, { error: outcome.denied.code, error_description: outcome.denied.reason }];
    }
    if (!outcome.user) return [500, { error: 'server_error', error_description: 'setUserById is not emulated.' }];
    const { connection: name, attributes, options } = outcome.user;
    if (name !== connection.name) return [400, { error: 'invalid_request', error_description: `Connection ${name} does not exist.` }];
    const id = `auth0|${attributes.user_id}`;
    if (!users.has(id) && options.creationBehavior !== 'create_if_not_exists') {
      return [400, { error: 'invalid_request', error_description: 'The user does not exist.' }];
    }
    const user = options.updateBehavior === 'none' && users.has(id) ? users.get(id)
      : { ...attributes, user_id: id, connection: name };
    users.set(id, user);
    return [200, user];
  }

  async function token(request) {
    const form = request.form;
    if (!clientOf(request)) return [401, { error: 'access_denied', error_description: 'Unauthorized' }];
    const dpop = dpopOf(request);
    if (dpop.refusal) return dpop.refusal;
    const scope = form.scope || 'openid';
    if (form.grant_type === 'refresh_token') return refresh(form, dpop.jkt);
    if (form.grant_type === TOKEN_EXCHANGE) {
      const [status, user] = await exchangeSubjectToken(request);
      if (status !== 200) return [status, user];
      const refreshToken = scope.split(' ').includes('offline_access') ? refreshTokens.issue(scope, user, null, dpop.jkt) : null;
      return [200, tokens(user, scope, form.audience, refreshToken, dpop.jkt)];
    }
    if (form.grant_type === PASSWORD_REALM || form.grant_type === 'password') {
      if (form.grant_type === PASSWORD_REALM && form.realm !== connection.name) {
        return [400, { error: 'invalid_request', error_description: 'Unknown realm.' }];
      }
      const [status, user] = await signIn(form.username, form.password);
      if (status !== 200) return [status, user];
      // A refresh token only with offline_access, as Auth0 does.
      const refreshToken = scope.split(' ').includes('offline_access') ? refreshTokens.issue(scope, user, null, dpop.jkt) : null;
      return [200, tokens(user, scope, form.audience, refreshToken, dpop.jkt)];
    }
    return [403, { error: 'unauthorized_client', error_description: 'Grant type not allowed for the client.' }];
  }

  function refresh(form, jkt) {
    const record = refreshTokens.redeem(form.refresh_token || '');
    if (!record) return [403, UNKNOWN_REFRESH_TOKEN];
    if (record.jkt && record.jkt !== jkt) {
      return [400, { error: 'invalid_dpop_proof', error_description: 'The refresh token is bound to another DPoP key.' }];
    }
    const granted = (record.scope || form.scope || 'openid offline_access').split(' ');
    const asked = (form.scope || '').split(' ').filter(Boolean);
    const scope = asked.length ? asked : granted;
    if (!scope.every((s) => granted.includes(s))) {
      return [403, { error: 'invalid_scope', error_description: 'Scope must be a subset of the original grant.' }];
    }
    const user = record.user || { user_id: 'auth0|stand-in-user' };
    return [200, tokens(user, scope.join(' '), null, refreshTokens.issue(granted.join(' '), user, record.family, record.jkt), jkt)];
  }

  function revoke(request) {
    const body = request.form;
    if (typeof body.token !== 'string') {
      return [400, { error: 'invalid_request', error_description: 'Invalid request body. All and only of client_id, client_secret, token, are required.' }];
    }
    if (!clientOf(request)) return [401, { error: 'invalid_client', error_description: 'Unauthorized' }];
    refreshTokens.revoke(body.token);
    return [200];
  }

  server = await serve('auth0', port, (request) => {
    if (request.method === 'HEAD') return [404];
    if (request.method === 'GET' && request.path === '/__users') return [200, [...users.values()]];
    if (request.method === 'GET' && request.path === '/__requests') {
      return [200, server.requests.filter((seen) => !seen.path.startsWith('/__'))];
    }
    if (request.method !== 'POST') return [404, { error: 'not_found', error_description: 'Not found' }];
    if (request.path === '/oauth/token') {
      // With nonces on, every token answer carries the current one (RFC 9449 section 8).
      return Promise.resolve(token(request)).then(([status, body, headers = {}]) =>
        [status, body, dpopNonce ? { 'DPoP-Nonce': nonce, ...headers } : headers]);
    }
    if (request.path === '/oauth/revoke') return revoke(request);
    return [404, { error: 'not_found', error_description: 'Not found' }];
  });
  return server;
}

// The OpenID Connect claims of an Auth0 user, as its id_token carries them.
function profileClaims(user) {
  const claims = { sub: user.user_id };
  for (const name of ['email', 'email_verified', 'name', 'username', 'phone_number']) {
    if (user[name] !== undefined) claims[name] = user[name];
  }
  return claims;
}

module.exports = { startAuth0 };
