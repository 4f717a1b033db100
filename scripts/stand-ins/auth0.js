// A loopback stand-in for Auth0's authentication API that runs the shipped Login script
// (auth0/login.js) for its custom database connection, in the sandbox Auth0 gives such scripts
// (auth0/support/sandbox.js). So the bridge and the script are tested together: a sign-in
// gets tokens only when the script calls back with a profile.
//
//   POST /oauth/token   password-realm (realm = the connection), password (the connection is
//                       the default directory), refresh_token (rotation with reuse detection);
//                       client_secret_post or Basic client authentication
//   POST /oauth/revoke  JSON {client_id, client_secret, token}
//   GET  /__users       the users the connection signed in, as Auth0 stores them, and
//   GET  /__requests    every request received (for the demo and tests; not Auth0 endpoints)
// Answers as Auth0's SDKs' recorded fixtures show: `Wrong email or password.` for the script's
// WrongUsernameOrPasswordError, `access_denied`/`Unauthorized` for bad client credentials.
// Any other error of the script is answered 500 `server_error` (an assumption: confirm on a
// real tenant, docs/deploying.md).
'use strict';
const crypto = require('node:crypto');
const { serve, basicAuth, unsignedJwt } = require('./common.js');
const { loadLogin, runLogin } = require('../../auth0/support/sandbox.js');

const PASSWORD_REALM = 'http://auth0.com/oauth/grant-type/password-realm';
const UNKNOWN_REFRESH_TOKEN = { error: 'invalid_grant', error_description: 'Unknown or invalid refresh token.' };
const WRONG_PASSWORD = { error: 'invalid_grant', error_description: 'Wrong email or password.' };

// Auth0's refresh tokens with rotation and reuse detection: redeeming one returns a new one and
// retires the old; presenting a retired one again revokes its whole family.
class RefreshTokens {
  constructor(permissive) {
    this.permissive = permissive;
    this.tokens = new Map(); // token -> {family, scope, user, state: live | used | revoked}
  }

  issue(scope, user, family) {
    const token = `v1.stand-in-rt.${crypto.randomBytes(24).toString('base64url')}`;
    this.tokens.set(token, { family: family || token, scope, user, state: 'live' });
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

// Starts the stand-in. `connection` is {name, settings} (the custom database connection and its
// Login script's settings); `client` is {id, secret}; `permissive` makes every refresh token
// live (the API conformance run).
async function startAuth0({ port = 0, client, connection, permissive = false }) {
  const refreshTokens = new RefreshTokens(permissive);
  const users = new Map();
  let server;

  function clientOf(request) {
    const basic = basicAuth(request.headers);
    const [id, secret] = basic || [request.form.client_id, request.form.client_secret];
    return id === client.id && secret === client.secret;
  }

  function tokens(user, scope, audience, refreshToken) {
    const now = Math.floor(Date.now() / 1000);
    const answer = {
      access_token: unsignedJwt({ iss: `${server.url}/`, sub: user.user_id, aud: audience || `${server.url}/userinfo`, scope, iat: now, exp: now + 86400, jti: crypto.randomUUID() }),
      id_token: unsignedJwt({ iss: `${server.url}/`, aud: client.id, iat: now, exp: now + 36000, ...profileClaims(user) }),
      scope,
      expires_in: 86400,
      token_type: 'Bearer'
    };
    if (refreshToken) answer.refresh_token = refreshToken;
    return answer;
  }

  // Runs the connection's Login script, as Auth0 does for the password grants, and keeps the
  // user it returns (Auth0 prefixes a custom database's ids with `auth0|`).
  async function signIn(username, password) {
    const { login } = loadLogin(connection.settings);
    const { error, profile } = await runLogin(login, username, password);
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

  async function token(request) {
    const form = request.form;
    if (!clientOf(request)) return [401, { error: 'access_denied', error_description: 'Unauthorized' }];
    const scope = form.scope || 'openid';
    if (form.grant_type === 'refresh_token') return refresh(form);
    if (form.grant_type === PASSWORD_REALM || form.grant_type === 'password') {
      if (form.grant_type === PASSWORD_REALM && form.realm !== connection.name) {
        return [400, { error: 'invalid_request', error_description: 'Unknown realm.' }];
      }
      const [status, user] = await signIn(form.username, form.password);
      if (status !== 200) return [status, user];
      // A refresh token only with offline_access, as Auth0 does.
      const refreshToken = scope.split(' ').includes('offline_access') ? refreshTokens.issue(scope, user) : null;
      return [200, tokens(user, scope, form.audience, refreshToken)];
    }
    return [403, { error: 'unauthorized_client', error_description: 'Grant type not allowed for the client.' }];
  }

  function refresh(form) {
    const record = refreshTokens.redeem(form.refresh_token || '');
    if (!record) return [403, UNKNOWN_REFRESH_TOKEN];
    const granted = (record.scope || form.scope || 'openid offline_access').split(' ');
    const asked = (form.scope || '').split(' ').filter(Boolean);
    const scope = asked.length ? asked : granted;
    if (!scope.every((s) => granted.includes(s))) {
      return [403, { error: 'invalid_scope', error_description: 'Scope must be a subset of the original grant.' }];
    }
    const user = record.user || { user_id: 'auth0|stand-in-user' };
    return [200, tokens(user, scope.join(' '), null, refreshTokens.issue(granted.join(' '), user, record.family))];
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
    if (request.path === '/oauth/token') return token(request);
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
