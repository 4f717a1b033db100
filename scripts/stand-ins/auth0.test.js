// The Auth0 stand-in as the Rust tests and the demo start it (`run.js 0 0 --only-auth0` with the
// settings in its environment): it runs the Login script and the Action as `make auth0-setup`
// generates them, from the same settings by the same names as before.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { newKey, assertionFor, USER } = require('../../auth0/support/assertions.js');

const CLIENT = { client_id: 'stand-in-client', client_secret: 'stand-in-secret' };
const key = newKey();

// Starts run.js with `settings` in its environment: {url, stop}.
async function standIn(settings) {
  const child = spawn(process.execPath, [path.join(__dirname, 'run.js'), '0', '0', '--only-auth0'], {
    env: { PATH: process.env.PATH, DEMO_AUTH0_CLIENT_ID: CLIENT.client_id, DEMO_AUTH0_CLIENT_SECRET: CLIENT.client_secret, ...settings },
    stdio: ['ignore', 'pipe', 'inherit']
  });
  const line = await new Promise((resolve) => child.stdout.once('data', (chunk) => resolve(String(chunk))));
  return { url: line.trim().split(' ')[1], stop: () => child.kill() };
}

async function token(url, form) {
  const answer = await fetch(`${url}/oauth/token`, { method: 'POST', body: new URLSearchParams({ ...CLIENT, ...form }) });
  return { status: answer.status, body: await answer.json() };
}

const signIn = (url, username, password) =>
  token(url, { grant_type: 'http://auth0.com/oauth/grant-type/password-realm', realm: 'authsignal', username, password });

test('BRIDGE_PUBLIC_KEYS given to the stand-in is the generated script\'s key: its assertions sign in, others do not', async () => {
  const stand = await standIn({ BRIDGE_PUBLIC_KEYS: JSON.stringify([key.jwk]) });
  try {
    assert.equal((await signIn(stand.url, USER, assertionFor(key))).status, 200);
    const foreign = await signIn(stand.url, USER, assertionFor(newKey()));
    assert.deepEqual([foreign.status, foreign.body.error], [403, 'invalid_grant']);
  } finally { stand.stop(); }
});

test('STRIP_PROVIDER_PREFIX, BRIDGE_ISSUER and BRIDGE_AUDIENCE given to the stand-in reach the generated script', async () => {
  const stand = await standIn({
    BRIDGE_PUBLIC_KEYS: JSON.stringify([key.jwk]), STRIP_PROVIDER_PREFIX: 'true', BRIDGE_ISSUER: 'issuer-x', BRIDGE_AUDIENCE: 'authsignal'
  });
  try {
    const answer = await signIn(stand.url, 'google-oauth2|7', assertionFor(key, 'google-oauth2|7', { iss: 'issuer-x' }));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const idToken = JSON.parse(Buffer.from(answer.body.id_token.split('.')[1], 'base64url'));
    assert.equal(idToken.sub, 'auth0|7');
  } finally { stand.stop(); }
});

test('token exchange without BRIDGE_CLIENT_ID: the generated Action admits the stand-in\'s client, as setup writes it', async () => {
  const stand = await standIn({ BRIDGE_PUBLIC_KEYS: JSON.stringify([key.jwk]), AUTH0_SUBJECT_TOKEN_TYPE: 'urn:test:assertion' });
  try {
    const exchange = (subjectToken) => token(stand.url, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: subjectToken, subject_token_type: 'urn:test:assertion'
    });
    assert.equal((await exchange(assertionFor(key))).status, 200);
    assert.equal((await exchange(assertionFor(newKey()))).status, 400);
  } finally { stand.stop(); }
});

test('BRIDGE_PUBLIC_KEYS that are not JSON: the stand-in starts, and the script answers the operator\'s error', async () => {
  const stand = await standIn({ BRIDGE_PUBLIC_KEYS: 'not json' });
  try {
    const answer = await signIn(stand.url, USER, assertionFor(key));
    assert.deepEqual([answer.status, answer.body.error], [500, 'server_error']);
    assert.match(answer.body.error_description, /BRIDGE_PUBLIC_KEYS must be a list of JWKs/);
  } finally { stand.stop(); }
});
