/**
 * Auth0 custom database connection "authsignal": Login script.
 *
 * Paste this function into Auth0 (Authentication > Database > authsignal > Custom Database >
 * Login), or let `make auth0-setup` do it. The bridge calls Auth0's /oauth/token with
 * username = the Authsignal user id and password = its sign-in proof.
 *
 * With BRIDGE_PUBLIC_KEYS set (the bridge's AUTH0_SIGN_IN_PROOF=assertion, the default), the
 * proof is an assertion the bridge signed after all its checks (one-time use, action,
 * verification method). This script verifies it with Node's built-in crypto, makes no network
 * call, and accepts nothing else: a raw Authsignal token, a forged or expired assertion, or one
 * for another user is a wrong password. So the connection is reachable only through the bridge,
 * whatever application has it enabled. It needs no Authsignal secret: remove AUTHSIGNAL_SECRET
 * from the settings once assertions are on.
 *
 * Connection settings (Custom Database > Settings):
 *   BRIDGE_PUBLIC_KEYS     JSON array of the bridge's public JWKs (kty OKP, crv Ed25519, with
 *                          kid), from `make signing-key`; two during a key rotation
 *   BRIDGE_ISSUER          optional, default authsignal-auth0-bridge (the bridge's ASSERTION_ISSUER)
 *   BRIDGE_AUDIENCE        optional, default authsignal (the connection's name, AUTH0_REALM)
 *   STRIP_PROVIDER_PREFIX  optional, true/false: drop everything up to the first `|` of the
 *                          Authsignal user id (the guide's mapping, which makes google-oauth2|123
 *                          and apple|123 one user). Default false with BRIDGE_PUBLIC_KEYS; true
 *                          without, so that users created by the guide's script keep their ids.
 *
 * Without BRIDGE_PUBLIC_KEYS (the bridge's AUTH0_SIGN_IN_PROOF=authsignal-token), the password
 * is the Authsignal token and the script asks Authsignal who owns it, as the guide's does:
 *   AUTHSIGNAL_SECRET       the tenant's secret key
 *   AUTHSIGNAL_CONNECT_URL  the tenant region's connect host, e.g. https://us.connect.authsignal.com
 *                           (EU: https://eu.connect.authsignal.com)
 *   AUTHSIGNAL_TIMEOUT_MS   optional, default 5000
 * Compared with the guide's script, every path calls `callback` exactly once, Basic auth is
 * built explicitly, the host is a setting, the token must belong to the user the bridge names,
 * and a network failure is an error rather than a wrong password. Needs Node 18+.
 */
function login(identifierValue, password, context, callback) {
  // Auth0 calls login(identifier, password, context, callback) for flexible identifiers and
  // login(identifier, password, callback) otherwise.
  if (typeof context === 'function') callback = context;
  var MAX_PROOF_BYTES = 4096;
  var settled = false;
  function done(error, profile) {
    if (settled) return;
    settled = true;
    callback(error, profile);
  }
  function rejected(reason) {
    done(new WrongUsernameOrPasswordError(identifierValue, reason));
  }
  function setting(name, fallback) {
    var value = configuration[name];
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : fallback;
  }
  function flag(name, fallback) {
    var value = setting(name, '').toLowerCase();
    if (value === 'true') return true;
    if (value === 'false') return false;
    return fallback;
  }
  function userId(id, stripByDefault) {
    var separator = id.indexOf('|');
    return flag('STRIP_PROVIDER_PREFIX', stripByDefault) && separator >= 0 ? id.slice(separator + 1) : id;
  }

  if (setting('BRIDGE_PUBLIC_KEYS', '')) return loginWithAssertion();
  return loginWithAuthsignalToken();

  // ---- the bridge's assertion -------------------------------------------------------------
  function loginWithAssertion() {
    var crypto = require('crypto');
    var keys;
    try {
      keys = publicKeys(crypto, setting('BRIDGE_PUBLIC_KEYS', ''));
    } catch (error) {
      return done(new Error('The authsignal connection is not configured: BRIDGE_PUBLIC_KEYS ' +
        error.message + ' (run `make signing-key`).'));
    }
    var claims = verifiedClaims(crypto, keys, password, {
      issuer: setting('BRIDGE_ISSUER', 'authsignal-auth0-bridge'),
      audience: setting('BRIDGE_AUDIENCE', 'authsignal'),
      subject: identifierValue
    });
    if (typeof claims === 'string') return rejected(claims);
    var profile = profileClaims(claims);
    profile.user_id = userId(claims.sub, false);
    return done(null, profile);
  }

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

  // ---- the Authsignal token (the guide's design) ------------------------------------------
  function loginWithAuthsignalToken() {
    var base = setting('AUTHSIGNAL_CONNECT_URL', '').replace(/\/+$/, '');
    var secret = setting('AUTHSIGNAL_SECRET', '');
    var loopback = /^http:\/\/(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(base);
    if (!secret || !(/^https:\/\/[^/]+$/.test(base) || loopback)) {
      return done(new Error('The authsignal connection is not configured: set BRIDGE_PUBLIC_KEYS (assertions), ' +
        'or AUTHSIGNAL_SECRET and AUTHSIGNAL_CONNECT_URL (https://<region>.connect.authsignal.com).'));
    }
    if (typeof password !== 'string' || password.length === 0 || password.length > MAX_PROOF_BYTES) {
      return rejected('Invalid Authsignal token.');
    }

    var timeoutMs = Number(configuration.AUTHSIGNAL_TIMEOUT_MS) || 5000;
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, timeoutMs);

    fetch(base + '/get-user', {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: 'Basic ' + Buffer.from(secret + ':').toString('base64')
      },
      body: JSON.stringify({ token: password }),
      signal: controller.signal
    })
      .then(function (response) {
        return response.text().then(function (text) {
          if (response.status === 401 || response.status === 403) {
            return done(new Error('Authsignal rejected the connection\'s secret key (HTTP ' +
              response.status + '): check AUTHSIGNAL_SECRET and the region of AUTHSIGNAL_CONNECT_URL.'));
          }
          // Authsignal rate limiting (429), a timeout (408) or a missing route (404: the wrong
          // connect host) say nothing about the user's password: a plain error, which does not
          // count toward Auth0's brute-force lockout of the user.
          if (response.status >= 500 || response.status === 429 || response.status === 408 || response.status === 404) {
            return done(new Error('Authsignal is unavailable (HTTP ' + response.status + ').'));
          }
          if (response.status >= 400) {
            return rejected('Authsignal rejected the token.');
          }
          var user;
          try {
            user = JSON.parse(text);
          } catch (e) {
            return done(new Error('Authsignal answered with something other than JSON.'));
          }
          if (!user || typeof user.userId !== 'string' || user.userId === '') {
            return rejected('The token does not belong to any user.');
          }
          // The bridge names the user Authsignal validated; the token must be that user's.
          if (identifierValue && identifierValue !== user.userId) {
            return rejected('The token belongs to another user.');
          }
          var profile = { user_id: userId(user.userId, true) };
          if (isText(user.email)) {
            profile.email = user.email;
            // Only what Authsignal states: a passkey proves the device, not the mailbox.
            if (typeof user.emailVerified === 'boolean') profile.email_verified = user.emailVerified;
          }
          if (isText(user.username)) profile.username = user.username;
          return done(null, profile);
        });
      })
      .catch(function (error) {
        var reason = error && error.name === 'AbortError'
          ? 'timed out after ' + timeoutMs + ' ms'
          : (error && error.message) || 'network error';
        done(new Error('Could not reach Authsignal: ' + reason + '.'));
      })
      .finally(function () {
        clearTimeout(timer);
      });
  }
}
