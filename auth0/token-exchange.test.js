// The Custom Token Exchange Action (auth0/token-exchange.js), run as Auth0's Actions runtime
// runs it (support/sandbox.js emulates the trigger's `event` and `api`): it accepts only
// assertions the bridge signed, by the same table of refusals as the Login script, refuses
// everything else as an invalid subject token (counted by Auth0's attack protection), and sets
// the user by connection with the profile the assertion carries.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadAction, runAction, tokenExchangeEvent } = require('./support/sandbox.js');
const { USER, newKey, assertionFor, REFUSALS } = require('./support/assertions.js');

const key = newKey();
const other = newKey();

// The Action with `keys` as BRIDGE_PUBLIC_KEYS and `extra` secrets; every fetch fails the test:
// the Action must make no network call.
function action() {
  return loadAction({ fetch: () => { throw new Error('the Action made a network call'); } });
}
function secretsFor(keys = [key], extra = {}) {
  return { BRIDGE_PUBLIC_KEYS: JSON.stringify(keys.map((k) => k.jwk)), ...extra };
}

test('an assertion of the bridge sets the user by connection: user_id = sub, with its profile', async () => {
  const { handler, activity } = action();
  const outcome = await runAction(handler, tokenExchangeEvent(
    assertionFor(key, USER, { phone_number: '+6421', username: 'ada' }), secretsFor()));
  assert.deepEqual(outcome, {
    user: {
      connection: 'authsignal',
      attributes: {
        user_id: USER, email: 'ada@example.com', email_verified: true,
        phone_number: '+6421', username: 'ada', name: 'Ada Lovelace'
      },
      options: { creationBehavior: 'create_if_not_exists', updateBehavior: 'replace' }
    }
  });
  assert.deepEqual(activity.fetched, []);
  assert.deepEqual(activity.required, ['crypto'], 'only Node\'s built-in crypto');
});

test('the user id is the sub unchanged, and claims of the wrong type are left out', async () => {
  const { handler } = action();
  const outcome = await runAction(handler, tokenExchangeEvent(assertionFor(key, 'apple|123', {
    email: undefined, email_verified: true, name: 42, username: '', phone_number: ['+64']
  }), secretsFor()));
  assert.deepEqual(outcome.user.attributes, { user_id: 'apple|123' });
});

test('the issuer, audience and connection follow the Action\'s secrets', async () => {
  const { handler } = action();
  const secrets = secretsFor([key], {
    BRIDGE_ISSUER: 'https://bridge.example.com', BRIDGE_AUDIENCE: 'passkeys', BRIDGE_CONNECTION: 'passkey-users'
  });
  const ok = await runAction(handler, tokenExchangeEvent(
    assertionFor(key, USER, { iss: 'https://bridge.example.com', aud: 'passkeys' }), secrets));
  assert.equal(ok.user.connection, 'passkey-users');
  const defaults = await runAction(handler, tokenExchangeEvent(assertionFor(key), secrets));
  assert.equal(defaults.rejected, 'The assertion has another issuer.');
  const audienceOnly = await runAction(handler, tokenExchangeEvent(
    assertionFor(key, USER, { aud: 'passkeys' }), secretsFor([key], { BRIDGE_AUDIENCE: 'passkeys' })));
  assert.equal(audienceOnly.user.connection, 'passkeys', 'the connection defaults to the audience');
});

test('during a rotation either of two keys is accepted, and a removed key no longer', async () => {
  const { handler } = action();
  for (const signer of [key, other]) {
    const outcome = await runAction(handler, tokenExchangeEvent(assertionFor(signer), secretsFor([key, other])));
    assert.equal(outcome.user.attributes.user_id, USER, signer.jwk.kid);
  }
  const retired = await runAction(handler, tokenExchangeEvent(assertionFor(key), secretsFor([other])));
  assert.equal(retired.rejected, 'The assertion is signed with an unknown key.');
});

for (const [name, make, options = {}] of REFUSALS) {
  if (options.loginOnly) continue;
  test(`refused as an invalid subject token, with no network call: ${name}`, async () => {
    const { handler, activity } = action();
    const outcome = await runAction(handler, tokenExchangeEvent(make({ key, other }), secretsFor()));
    assert.equal(typeof outcome.rejected, 'string', `${name}: ${JSON.stringify(outcome)}`);
    assert.deepEqual(activity.fetched, []);
  });
}

test('with BRIDGE_CLIENT_ID, another application is denied before its subject token is read', async () => {
  const { handler } = action();
  const secrets = secretsFor([key], { BRIDGE_CLIENT_ID: 'bridge-client' });
  const denied = await runAction(handler, tokenExchangeEvent(assertionFor(key), secrets, 'some-other-app'));
  assert.deepEqual(denied, { denied: { code: 'unauthorized_client', reason: 'Only the bridge\'s application exchanges its assertions.' } });
  const forged = await runAction(handler, tokenExchangeEvent('forged', secrets, 'some-other-app'));
  assert.ok(forged.denied, 'not counted as an invalid subject token of the user');
  const bridge = await runAction(handler, tokenExchangeEvent(assertionFor(key), secrets, 'bridge-client'));
  assert.equal(bridge.user.attributes.user_id, USER);
});

test('unusable BRIDGE_PUBLIC_KEYS deny with server_error: the operator\'s error, not an invalid subject token', async () => {
  const { handler } = action();
  for (const keys of [undefined, 'not json', '{}', '[]', '[{"kty":"RSA","kid":"k","n":"x","e":"AQAB"}]',
    JSON.stringify([{ ...key.jwk, kid: undefined }])]) {
    const outcome = await runAction(handler, tokenExchangeEvent(assertionFor(key), keys === undefined ? {} : { BRIDGE_PUBLIC_KEYS: keys }));
    assert.equal(outcome.denied && outcome.denied.code, 'server_error', String(keys));
    assert.match(outcome.denied.reason, /BRIDGE_PUBLIC_KEYS/);
  }
});

test('a missing transaction or subject token is an invalid subject token', async () => {
  const { handler } = action();
  const event = tokenExchangeEvent(undefined, secretsFor());
  assert.equal(typeof (await runAction(handler, event)).rejected, 'string');
  delete event.transaction;
  assert.equal(typeof (await runAction(handler, event)).rejected, 'string');
});
