// Test assertions, made the way the bridge makes them (src/flow/assertion.rs), and the table of
// assertions the shipped scripts must refuse: one table for the Login script and the Token
// Exchange Action, so both verify by exactly the same rules.
'use strict';
const crypto = require('node:crypto');
const { publicJwk } = require('../../scripts/signing-key.js');

const ISSUER = 'authsignal-auth0-bridge';
const AUDIENCE = 'authsignal';
const USER = 'google-oauth2|108234';

function newKey() {
  const { privateKey } = crypto.generateKeyPairSync('ed25519');
  return { privateKey, jwk: publicJwk(privateKey) };
}

const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

// A compact JWS over `header` and `claims`, signed with Ed25519 by `key` (or with `sign`).
function signJws(header, claims, key, sign) {
  const input = `${b64(header)}.${b64(claims)}`;
  const signature = sign ? sign(input) : crypto.sign(null, Buffer.from(input), key.privateKey);
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

function claimsFor(sub, overrides = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: ISSUER, aud: AUDIENCE, sub, iat: now, exp: now + 60, jti: 'challenge#4a2f',
    verification_method: 'PASSKEY', action: 'signInWithPasskey',
    email: 'ada@example.com', email_verified: true, name: 'Ada Lovelace',
    ...overrides
  };
}

function assertionFor(key, sub = USER, overrides = {}, headerOverrides = {}) {
  return signJws({ alg: 'EdDSA', typ: 'JWT', kid: key.jwk.kid, ...headerOverrides }, claimsFor(sub, overrides), key);
}

// Each case: what it is, the proof (made with `key`, the configured key, and `other`, a key the
// scripts do not know) presented for USER (the Login script's username), and options
// (`loginOnly`: a rule only the Login script has).
const REFUSALS = [
  ['a bad signature', ({ key }) => {
    const [h, c] = assertionFor(key).split('.');
    return `${h}.${c}.${Buffer.alloc(64, 7).toString('base64url')}`;
  }],
  ['claims changed after signing', ({ key }) => {
    const [h, , s] = assertionFor(key).split('.');
    return `${h}.${b64(claimsFor('someone-else'))}.${s}`;
  }],
  ['an unknown kid', ({ other }) => assertionFor(other)],
  ['a known kid on another key\'s signature', ({ key, other }) =>
    assertionFor(other, USER, {}, { kid: key.jwk.kid })],
  ['alg none without a signature', ({ key }) =>
    `${b64({ alg: 'none', kid: key.jwk.kid })}.${b64(claimsFor(USER))}.`],
  ['alg none', ({ key }) =>
    signJws({ alg: 'none', kid: key.jwk.kid }, claimsFor(USER), key)],
  ['HS256 keyed with the public key', ({ key }) =>
    signJws({ alg: 'HS256', typ: 'JWT', kid: key.jwk.kid }, claimsFor(USER), key,
      (input) => crypto.createHmac('sha256', JSON.stringify(key.jwk)).update(input).digest())],
  ['HS256 keyed with the public key\'s x', ({ key }) =>
    signJws({ alg: 'HS256', typ: 'JWT', kid: key.jwk.kid }, claimsFor(USER), key,
      (input) => crypto.createHmac('sha256', key.jwk.x).update(input).digest())],
  ['a critical header', ({ key }) => assertionFor(key, USER, {}, { crit: ['exp'] })],
  ['another issuer', ({ key }) => assertionFor(key, USER, { iss: 'someone-else' })],
  ['another audience', ({ key }) => assertionFor(key, USER, { aud: 'another-connection' })],
  ['an audience list', ({ key }) => assertionFor(key, USER, { aud: [AUDIENCE] })],
  // Only the Login script has a username to compare: the Action takes the user from `sub`.
  ['another user than the username', ({ key }) => assertionFor(key, 'apple|108234'), { loginOnly: true }],
  ['an empty sub', ({ key }) => assertionFor(key, USER, { sub: '' })],
  ['a sub that is not a string', ({ key }) => assertionFor(key, USER, { sub: 108234 })],
  ['no sub', ({ key }) => assertionFor(key, USER, { sub: undefined })],
  ['expired', ({ key }) => {
    const now = Math.floor(Date.now() / 1000);
    return assertionFor(key, USER, { iat: now - 90, exp: now - 1 });
  }],
  ['no exp', ({ key }) => assertionFor(key, USER, { exp: undefined })],
  ['iat more than 30 s ahead', ({ key }) => {
    const now = Math.floor(Date.now() / 1000);
    return assertionFor(key, USER, { iat: now + 45, exp: now + 105 });
  }],
  ['iat more than 120 s behind', ({ key }) => {
    const now = Math.floor(Date.now() / 1000);
    return assertionFor(key, USER, { iat: now - 150, exp: now + 3600 });
  }],
  ['a string iat', ({ key }) => assertionFor(key, USER, { iat: String(Math.floor(Date.now() / 1000)) })],
  ['over 4096 bytes', ({ key }) => assertionFor(key, USER, { name: 'n'.repeat(4000) })],
  ['a raw Authsignal token (HS256 JWT)', () =>
    signJws({ alg: 'HS256', typ: 'JWT' }, { sub: USER, exp: Math.floor(Date.now() / 1000) + 600 }, null,
      (input) => crypto.createHmac('sha256', 'authsignal-tenant-secret').update(input).digest())],
  ['malformed base64', ({ key }) => assertionFor(key).replace(/^./, '*')],
  ['a header that is not JSON', ({ key }) => {
    const [, c, s] = assertionFor(key).split('.');
    return `${b64('{"alg":"EdDSA"')}.${c}.${s}`;
  }],
  ['claims that are not JSON', ({ key }) =>
    signJws({ alg: 'EdDSA', typ: 'JWT', kid: key.jwk.kid }, 'not json', key)],
  ['claims that are an array', ({ key }) =>
    signJws({ alg: 'EdDSA', typ: 'JWT', kid: key.jwk.kid }, [claimsFor(USER)], key)],
  ['two parts', ({ key }) => assertionFor(key).split('.').slice(0, 2).join('.')],
  ['four parts', ({ key }) => `${assertionFor(key)}.x`],
  ['empty', () => ''],
  ['not a string', () => 12345]
];

module.exports = { ISSUER, AUDIENCE, USER, newKey, signJws, claimsFor, assertionFor, REFUSALS };
