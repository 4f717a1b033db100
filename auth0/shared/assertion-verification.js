// ---- BEGIN shared assertion verification (auth0/shared/assertion-verification.js) ----
// This file is the source of this block: edit it here, then run `make auth0-scripts`.
// The rules the Login script and the Token Exchange Action check an assertion by, in one
// place. Auth0 runs each as a single pasted file that cannot require a file of ours, so
// `make auth0-scripts` copies this block into both; auth0/shared.test.js fails when a copy
// differs. Only function declarations: they are hoisted, so the block works wherever it sits
// in its function (a `var` here would be undefined when called from above).

// The generated BRIDGE_PUBLIC_KEYS (a list of JWKs) as public keys by kid. Throws (with a
// message for the operator) when it is not a list of Ed25519 JWKs that each have a kid.
function publicKeys(crypto, jwks) {
  if (!Array.isArray(jwks) || jwks.length === 0) throw new Error('must be a list of JWKs');
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
