// The Login script with BRIDGE_PUBLIC_KEYS in its generated settings block (the bridge's
// AUTH0_SIGN_IN_PROOF=assertion): it accepts only assertions the bridge signed, verifies them
// with Node's built-in crypto and makes no network call. Loaded the way Auth0 runs it, as
// `make auth0-setup` generates it (support/sandbox.js).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadLogin, runLogin, WrongUsernameOrPasswordError } = require('./support/sandbox.js');
const { USER, newKey, assertionFor, REFUSALS } = require('./support/assertions.js');

const key = newKey();
const other = newKey();

// The script generated with `keys` as BRIDGE_PUBLIC_KEYS (and `extra` generated settings),
// `configuration` as the connection's settings, and whose every fetch fails the test: with
// assertions the script must make no network call.
function script(keys = [key], extra = {}, configuration = {}) {
  return loadLogin(configuration, {
    settings: { BRIDGE_PUBLIC_KEYS: keys.map((k) => k.jwk), ...extra },
    fetch: () => { throw new Error('the Login script made a network call'); }
  });
}

test('an assertion of the bridge signs the user in with the profile it carries', async () => {
  const { login, activity } = script();
  const { error, profile } = await runLogin(login, USER, assertionFor(key, USER, { phone_number: '+6421', username: 'ada' }));
  assert.equal(error, null);
  assert.deepEqual({ ...profile }, {
    user_id: USER, email: 'ada@example.com', email_verified: true,
    phone_number: '+6421', username: 'ada', name: 'Ada Lovelace'
  });
  assert.deepEqual(activity.fetched, []);
  assert.deepEqual(activity.required, ['crypto'], 'only Node\'s built-in crypto');
});

test('the three-argument form of login (no context) calls back the same way', async () => {
  const { login } = script();
  const result = await new Promise((resolve) => login(USER, assertionFor(key), (error, profile) => resolve({ error, profile })));
  assert.equal(result.error, null);
  assert.equal(result.profile.user_id, USER);
});

test('the user id is the assertion\'s sub unchanged: no provider prefix is dropped', async () => {
  const { login } = script();
  const google = await runLogin(login, 'google-oauth2|123', assertionFor(key, 'google-oauth2|123'));
  const apple = await runLogin(login, 'apple|123', assertionFor(key, 'apple|123'));
  assert.equal(google.profile.user_id, 'google-oauth2|123');
  assert.equal(apple.profile.user_id, 'apple|123', 'two providers stay two users');
});

test('STRIP_PROVIDER_PREFIX=true keeps the guide\'s mapping for tenants that have users from it', async () => {
  const { login } = script([key], { STRIP_PROVIDER_PREFIX: true });
  const { error, profile } = await runLogin(login, 'google-oauth2|123', assertionFor(key, 'google-oauth2|123'));
  assert.equal(error, null);
  assert.equal(profile.user_id, '123');
});

test('the generated STRIP_PROVIDER_PREFIX decides over a connection setting of that name', async () => {
  const { login } = script([key], { STRIP_PROVIDER_PREFIX: false }, { STRIP_PROVIDER_PREFIX: 'true' });
  const { profile } = await runLogin(login, 'google-oauth2|123', assertionFor(key, 'google-oauth2|123'));
  assert.equal(profile.user_id, 'google-oauth2|123');
  // Without it in the block, an older connection's setting still decides, as before.
  const older = script([key], {}, { STRIP_PROVIDER_PREFIX: 'true' });
  assert.equal((await runLogin(older.login, 'google-oauth2|123', assertionFor(key, 'google-oauth2|123'))).profile.user_id, '123');
});

test('keys, issuer and audience come from the generated code only, never from the connection\'s settings', async () => {
  // Auth0 shows a connection's settings only encrypted: a key put there could not be audited.
  const { login } = script([key], {}, {
    BRIDGE_PUBLIC_KEYS: JSON.stringify([other.jwk]), BRIDGE_ISSUER: 'someone-else', BRIDGE_AUDIENCE: 'elsewhere'
  });
  const foreign = await runLogin(login, USER, assertionFor(other));
  assert.ok(foreign.error instanceof WrongUsernameOrPasswordError, 'a key in the settings is not accepted');
  const own = await runLogin(login, USER, assertionFor(key));
  assert.equal(own.error, null, 'the generated issuer and audience hold');
  // A script whose block has no keys does not take them from the settings either: it runs the
  // Authsignal token design, which without its settings is not configured.
  const unconfigured = loadLogin({ BRIDGE_PUBLIC_KEYS: JSON.stringify([key.jwk]) });
  const { error } = await runLogin(unconfigured.login, USER, assertionFor(key));
  assert.match(error.message, /not configured/);
});

test('profile claims are passed only when they have the right type', async () => {
  const { login } = script();
  const { profile } = await runLogin(login, USER, assertionFor(key, USER, {
    email: undefined, email_verified: true, name: 42, username: '', phone_number: ['+64']
  }));
  assert.deepEqual({ ...profile }, { user_id: USER }, 'no email_verified without an email');
});

test('during a rotation either of two keys is accepted', async () => {
  const { login } = script([key, other]);
  for (const signer of [key, other]) {
    const { error, profile } = await runLogin(login, USER, assertionFor(signer));
    assert.equal(error, null, signer.jwk.kid);
    assert.equal(profile.user_id, USER);
  }
  const retired = script([other]);
  const { error } = await runLogin(retired.login, USER, assertionFor(key));
  assert.ok(error instanceof WrongUsernameOrPasswordError, 'the old key is refused once removed');
});

test('the issuer and audience follow BRIDGE_ISSUER and BRIDGE_AUDIENCE', async () => {
  const { login } = script([key], { BRIDGE_ISSUER: 'https://bridge.example.com', BRIDGE_AUDIENCE: 'passkeys' });
  assert.match(login.toString(), /"BRIDGE_ISSUER": "https:\/\/bridge\.example\.com"/, 'in the code Auth0 runs');
  const ok = await runLogin(login, USER, assertionFor(key, USER, { iss: 'https://bridge.example.com', aud: 'passkeys' }));
  assert.equal(ok.error, null);
  const defaults = await runLogin(login, USER, assertionFor(key));
  assert.ok(defaults.error instanceof WrongUsernameOrPasswordError);
});

for (const [name, make] of REFUSALS) { // every case, the Login-only ones included
  test(`refused as a wrong password, with no network call: ${name}`, async () => {
    const { login, activity } = script();
    const { error, profile } = await runLogin(login, USER, make({ key, other }));
    assert.ok(error instanceof WrongUsernameOrPasswordError, `${name}: ${error}`);
    assert.equal(error.identifier, USER);
    assert.equal(profile, undefined);
    assert.deepEqual(activity.fetched, []);
  });
}

test('unusable BRIDGE_PUBLIC_KEYS are the operator\'s error, not a wrong password', async () => {
  for (const keys of ['a text', {}, [], [{ kty: 'RSA', kid: 'k', n: 'x', e: 'AQAB' }], [{ ...key.jwk, kid: undefined }], null]) {
    const { login } = loadLogin({}, { settings: { BRIDGE_PUBLIC_KEYS: keys } });
    const { error } = await runLogin(login, USER, assertionFor(key));
    assert.ok(error instanceof Error && !(error instanceof WrongUsernameOrPasswordError), JSON.stringify(keys));
    assert.match(error.message, /BRIDGE_PUBLIC_KEYS/);
  }
});
