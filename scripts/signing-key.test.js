// `make signing-key`: its keys are what the bridge reads and the Login script trusts, its kid is
// RFC 7638's thumbprint, and --keep adds a key for a rotation.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { thumbprint } = require('./signing-key.js');
const { loadLogin, runLogin } = require('../auth0/support/sandbox.js');
const { signJws, claimsFor } = require('../auth0/support/assertions.js');

const script = path.join(__dirname, 'signing-key.js');
const run = (...args) => execFileSync('node', [script, ...args], { encoding: 'utf8' });

test('the kid is the RFC 7638 thumbprint (RFC 8037 appendix A.3)', () => {
  assert.equal(thumbprint('11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo'), 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
});

test('a new key signs assertions the Login script accepts with the printed public keys', async () => {
  const made = JSON.parse(run('--json'));
  assert.match(made.BRIDGE_SIGNING_KEY, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
  const keys = JSON.parse(made.BRIDGE_PUBLIC_KEYS);
  assert.equal(keys.length, 1);
  assert.equal(keys[0].kid, made.kid);
  assert.deepEqual(Object.keys(keys[0]).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
  const privateKey = crypto.createPrivateKey(made.BRIDGE_SIGNING_KEY);
  const assertion = signJws({ alg: 'EdDSA', typ: 'JWT', kid: made.kid }, claimsFor('u-1'), { privateKey });
  const { login } = loadLogin({}, { settings: { BRIDGE_PUBLIC_KEYS: JSON.parse(made.BRIDGE_PUBLIC_KEYS) } });
  const { error, profile } = await runLogin(login, 'u-1', assertion);
  assert.equal(error, null);
  assert.equal(profile.user_id, 'u-1');
});

test('the printed text holds the secret value as a JSON string and the public keys', () => {
  const text = run();
  const lines = text.split('\n');
  const secret = JSON.parse(lines[lines.findIndex((l) => l.startsWith('# BRIDGE_SIGNING_KEY')) + 1]);
  assert.match(secret, /^-----BEGIN PRIVATE KEY-----/);
  const publicKeys = JSON.parse(lines[lines.findIndex((l) => l.startsWith('# BRIDGE_PUBLIC_KEYS')) + 1]);
  assert.equal(publicKeys[0].kid, thumbprint(publicKeys[0].x));
});

test('--keep puts the new key beside the current ones (rotation step 1)', () => {
  const current = JSON.parse(run('--json')).BRIDGE_PUBLIC_KEYS;
  const rotated = JSON.parse(run('--json', '--keep', current));
  const keys = JSON.parse(rotated.BRIDGE_PUBLIC_KEYS);
  assert.equal(keys.length, 2);
  assert.deepEqual(keys[0], JSON.parse(current)[0]);
  assert.equal(keys[1].kid, rotated.kid);
  assert.throws(() => execFileSync('node', [script, '--keep', 'not json'], { stdio: 'pipe' }));
});
