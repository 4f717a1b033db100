/**
 * Auth0 Action for Custom Token Exchange: the bridge's sign-in without a password grant or a
 * custom database (the bridge's AUTH0_GRANT_TYPE=token-exchange).
 *
 * Create it under Actions > Library > Build Custom, trigger "Custom Token Exchange", runtime
 * Node 22, paste this file, add the secrets below, deploy it, and name it in the Custom Token
 * Exchange profile whose subject_token_type is the bridge's AUTH0_SUBJECT_TOKEN_TYPE; or let
 * `make auth0-setup` do all of it.
 *
 * The bridge sends its assertion (signed after all its checks: one-time use, action,
 * verification method) as the subject_token. This Action verifies it with Node's built-in
 * crypto by exactly the rules of the Login script (the block between the BEGIN and END lines
 * is the same code in both files), makes no network call, and:
 *   - refuses anything else with api.access.rejectInvalidSubjectToken, so Auth0's attack
 *     protection counts the attempt against the caller's IP (auth0-forwarded-for);
 *   - otherwise sets the user with api.authentication.setUserByConnection in the database
 *     connection BRIDGE_CONNECTION: user_id = the assertion's sub (Authsignal's user id), with
 *     the profile the assertion carries (email, email_verified, phone_number, username, name),
 *     created on first sign-in and updated on each.
 *
 * Secrets (Action > Secrets):
 *   BRIDGE_PUBLIC_KEYS  JSON array of the bridge's public JWKs (kty OKP, crv Ed25519, with kid),
 *                       from `make signing-key`; two during a key rotation
 *   BRIDGE_ISSUER       optional, default authsignal-auth0-bridge (the bridge's ASSERTION_ISSUER)
 *   BRIDGE_AUDIENCE     optional, default authsignal (the bridge's AUTH0_REALM)
 *   BRIDGE_CONNECTION   optional, default BRIDGE_AUDIENCE: the database connection users live in
 *   BRIDGE_CLIENT_ID    optional: when set, only that application (the bridge's) may exchange;
 *                       any other is denied before the subject token is read
 * A missing or unusable BRIDGE_PUBLIC_KEYS denies every exchange with server_error (the
 * operator's error, not the user's: it does not count as an invalid subject token).
 */
exports.onExecuteCustomTokenExchange = async (event, api) => {
  var crypto = require('crypto');
  var secrets = event.secrets || {};
  function setting(name, fallback) {
    var value = secrets[name];
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : fallback;
  }

  var bridgeClient = setting('BRIDGE_CLIENT_ID', '');
  if (bridgeClient && (!event.client || event.client.client_id !== bridgeClient)) {
    api.access.deny('unauthorized_client', 'Only the bridge\'s application exchanges its assertions.');
    return;
  }
  var keys;
  try {
    keys = publicKeys(crypto, setting('BRIDGE_PUBLIC_KEYS', ''));
  } catch (error) {
    api.access.deny('server_error', 'The token exchange Action is not configured: BRIDGE_PUBLIC_KEYS ' +
      error.message + ' (run `make signing-key`).');
    return;
  }
  var audience = setting('BRIDGE_AUDIENCE', 'authsignal');
  var claims = verifiedClaims(crypto, keys, event.transaction && event.transaction.subject_token, {
    issuer: setting('BRIDGE_ISSUER', 'authsignal-auth0-bridge'),
    audience: audience
  });
  if (typeof claims === 'string') {
    api.access.rejectInvalidSubjectToken(claims);
    return;
  }
  var user = profileClaims(claims);
  user.user_id = claims.sub;
  api.authentication.setUserByConnection(setting('BRIDGE_CONNECTION', audience), user, {
    creationBehavior: 'create_if_not_exists',
    updateBehavior: 'replace'
  });

  // ---- BEGIN shared assertion verification (auth0/shared/assertion-verification.js) ----
  // The one copy of the rules the Login script and the Token Exchange Action check an assertion
  // by. Auth0 runs each as a single pasted file that cannot require a file of ours, so
  // `make auth0-scripts` copies this block into both; auth0/shared.test.js fails when a copy
  // differs. Edit it here. Only function declarations: they are hoisted, so the block works
  // wherever it sits in its function (a `var` here would be undefined when called from above).

  // BRIDGE_PUBLIC_KEYS as public keys by kid. Throws (with a message for the operator) when the
  // setting is not an array of Ed25519 JWKs that each have a kid.
  function publicKeys(crypto, text) {
    var jwks;
    try {
      jwks = JSON.parse(text);
    } catch (e) {
      throw new Error('is not JSON');
    }
    if (!Array.isArray(jwks) || jwks.length === 0) throw new Error('must be a JSON array of JWKs');
    var byKid = Object.create(null);
    jwks.forEach(function (jwk, index) {
      if (!jwk || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !isText(jwk.x) || !isText(jwk.kid)) {
        throw new Error('entry ' + index + ' is not an Ed25519 JWK with a kid');
      }
      byKid[jwk.kid] = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
    });
    return byKid;
  }

  // The claims of a valid assertion, or why `jws` is not one (a string). `expected` names the
  // issuer and audience it must carry and, when the caller knows it, its subject.
  function verifiedClaims(crypto, keys, jws, expected) {
    var MAX_ASSERTION_BYTES = 4096;
    var notAnAssertion = 'This is not an assertion of the bridge.';
    if (typeof jws !== 'string' || Buffer.byteLength(jws, 'utf8') > MAX_ASSERTION_BYTES) return notAnAssertion;
    var parts = jws.split('.');
    if (parts.length !== 3 || !parts.every(function (part) { return /^[A-Za-z0-9_-]+$/.test(part); })) {
      return notAnAssertion;
    }
    var header = decodeJson(parts[0]);
    if (!header) return notAnAssertion;
    // Exactly EdDSA: never `none`, never an HMAC keyed with a public key.
    if (header.alg !== 'EdDSA' || header.crit !== undefined) return 'The assertion is not signed with EdDSA.';
    if (!isText(header.kid) || !(header.kid in keys)) return 'The assertion is signed with an unknown key.';
    var signature = Buffer.from(parts[2], 'base64url');
    var signedPart = Buffer.from(parts[0] + '.' + parts[1], 'ascii');
    if (signature.length !== 64 || !crypto.verify(null, signedPart, keys[header.kid], signature)) {
      return 'The assertion\'s signature is not valid.';
    }
    var claims = decodeJson(parts[1]);
    if (!claims) return notAnAssertion;
    if (claims.iss !== expected.issuer) return 'The assertion has another issuer.';
    if (claims.aud !== expected.audience) return 'The assertion is for another audience.';
    if (!isText(claims.sub) || (expected.subject !== undefined && claims.sub !== expected.subject)) {
      return 'The assertion is for another user.';
    }
    var now = Math.floor(Date.now() / 1000);
    if (typeof claims.exp !== 'number' || claims.exp <= now) return 'The assertion has expired.';
    if (typeof claims.iat !== 'number' || claims.iat > now + 30 || claims.iat < now - 120) {
      return 'The assertion was not issued just now.';
    }
    return claims;
  }

  // The user's attributes an assertion carries (what Authsignal holds), each only when it has
  // the right type; email_verified only beside an email.
  function profileClaims(claims) {
    var profile = {};
    if (isText(claims.email)) {
      profile.email = claims.email;
      if (typeof claims.email_verified === 'boolean') profile.email_verified = claims.email_verified;
    }
    ['phone_number', 'username', 'name'].forEach(function (name) {
      if (isText(claims[name])) profile[name] = claims[name];
    });
    return profile;
  }

  function decodeJson(part) {
    try {
      var value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
      return value && typeof value === 'object' && !Array.isArray(value) ? value : null;
    } catch (e) {
      return null;
    }
  }

  function isText(value) {
    return typeof value === 'string' && value !== '';
  }
  // ---- END shared assertion verification ----
};
