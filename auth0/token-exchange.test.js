// The Custom Token Exchange Action (auth0/token-exchange.js, as `make auth0-setup` generates it),
// run as Auth0's Actions runtime runs it (support/sandbox.js emulates the trigger's `event` and
// `api`): it admits the bridge's application only, accepts only
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

// The Action generated with `keys` as BRIDGE_PUBLIC_KEYS, the stand-in event's client as
// BRIDGE_CLIENT_ID, and `extra` settings; every fetch fails the test: the Action must make no
// network call.
function action(keys = [key], extra = {}) {
  return loadAction({
    settings: { BRIDGE_PUBLIC_KEYS: keys.map((k) => k.jwk), BRIDGE_CLIENT_ID: 'bridge-client', ...extra },
    fetch: () => { throw new Error('the Action made a network call'); }
  });
}
// An exchange of `subjectToken` by `clientId` (the bridge's by default), with no secrets: the
// generated Action reads none.
const exchange = (subjectToken, clientId) => tokenExchangeEvent(subjectToken, {}, clientId);

test('an assertion of the bridge sets the user by connection: user_id = sub, with its profile', async () => {
  const { handler, activity } = action();
  const outcome = await runAction(handler, exchange(assertionFor(key, USER, { phone_number: '+6421', username: 'ada' })));
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
  const outcome = await runAction(handler, exchange(assertionFor(key, 'apple|123', {
    email: undefined, email_verified: true, name: 42, username: '', phone_number: ['+64']
  })));
  assert.deepEqual(outcome.user.attributes, { user_id: 'apple|123' });
});

test('the issuer, audience and connection follow the generated settings, never the Action\'s secrets', async () => {
  const { handler } = action([key], {
    BRIDGE_ISSUER: 'https://bridge.example.com', BRIDGE_AUDIENCE: 'passkeys', BRIDGE_CONNECTION: 'passkey-users'
  });
  const ok = await runAction(handler, exchange(assertionFor(key, USER, { iss: 'https://bridge.example.com', aud: 'passkeys' })));
  assert.equal(ok.user.connection, 'passkey-users');
  const defaults = await runAction(handler, exchange(assertionFor(key)));
  assert.equal(defaults.rejected, 'The assertion has another issuer.');
  const audienceOnly = await runAction(action([key], { BRIDGE_AUDIENCE: 'passkeys' }).handler,
    exchange(assertionFor(key, USER, { aud: 'passkeys' })));
  assert.equal(audienceOnly.user.connection, 'passkeys', 'the connection defaults to the audience');
  // Secrets (which Auth0 shows by name only) are not read: a key or client id there changes nothing.
  const secrets = { BRIDGE_PUBLIC_KEYS: JSON.stringify([other.jwk]), BRIDGE_CLIENT_ID: 'some-other-app' };
  const foreign = await runAction(action().handler, tokenExchangeEvent(assertionFor(other), secrets, 'some-other-app'));
  assert.equal(foreign.denied.code, 'unauthorized_client');
  const own = await runAction(action().handler, tokenExchangeEvent(assertionFor(other), secrets));
  assert.equal(own.rejected, 'The assertion is signed with an unknown key.');
});

test('during a rotation either of two keys is accepted, and a removed key no longer', async () => {
  const { handler } = action([key, other]);
  for (const signer of [key, other]) {
    const outcome = await runAction(handler, exchange(assertionFor(signer)));
    assert.equal(outcome.user.attributes.user_id, USER, signer.jwk.kid);
  }
  const retired = await runAction(action([other]).handler, exchange(assertionFor(key)));
  assert.equal(retired.rejected, 'The assertion is signed with an unknown key.');
});

for (const [name, make, options = {}] of REFUSALS) {
  if (options.loginOnly) continue;
  test(`refused as an invalid subject token, with no network call: ${name}`, async () => {
    const { handler, activity } = action();
    const outcome = await runAction(handler, exchange(make({ key, other })));
    assert.equal(typeof outcome.rejected, 'string', `${name}: ${JSON.stringify(outcome)}`);
    assert.deepEqual(activity.fetched, []);
  });
}

test('another application than BRIDGE_CLIENT_ID is denied before its subject token is read', async () => {
  const { handler } = action();
  const denied = await runAction(handler, exchange(assertionFor(key), 'some-other-app'));
  assert.deepEqual(denied, { denied: { code: 'unauthorized_client', reason: 'Only the bridge\'s application exchanges its assertions.' } });
  const forged = await runAction(handler, exchange('forged', 'some-other-app'));
  assert.ok(forged.denied, 'not counted as an invalid subject token of the user');
  const bridge = await runAction(handler, exchange(assertionFor(key), 'bridge-client'));
  assert.equal(bridge.user.attributes.user_id, USER);
});

test('a missing or blank BRIDGE_CLIENT_ID denies every exchange with server_error: no application is let through', async () => {
  for (const clientId of [undefined, '', '   ']) {
    const { handler } = action([key], { BRIDGE_CLIENT_ID: clientId });
    const outcome = await runAction(handler, exchange(assertionFor(key), clientId === undefined ? 'bridge-client' : clientId));
    assert.equal(outcome.denied && outcome.denied.code, 'server_error', JSON.stringify(clientId));
    assert.match(outcome.denied.reason, /BRIDGE_CLIENT_ID/);
  }
});

test('unusable BRIDGE_PUBLIC_KEYS deny with server_error: the operator\'s error, not an invalid subject token', async () => {
  for (const keys of [undefined, 'a text', {}, [], [{ kty: 'RSA', kid: 'k', n: 'x', e: 'AQAB' }], [{ ...key.jwk, kid: undefined }]]) {
    const { handler } = loadAction({ settings: { BRIDGE_PUBLIC_KEYS: keys, BRIDGE_CLIENT_ID: 'bridge-client' } });
    const outcome = await runAction(handler, exchange(assertionFor(key)));
    assert.equal(outcome.denied && outcome.denied.code, 'server_error', JSON.stringify(keys));
    assert.match(outcome.denied.reason, /BRIDGE_PUBLIC_KEYS/);
  }
});

test('a missing transaction or subject token is an invalid subject token', async () => {
  const { handler } = action();
  const event = exchange(undefined);
  assert.equal(typeof (await runAction(handler, event)).rejected, 'string');
  delete event.transaction;
  assert.equal(typeof (await runAction(handler, event)).rejected, 'string');
});
