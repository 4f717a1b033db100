// The bridge's public keys from the bridge itself: tenant.js --stack reads the deployed stack
// (parameters, outputs, the public keys of its secret) and make rotate-signing-key adds,
// switches and drops a key, each step checked. Against moto's CloudFormation and Secrets
// Manager (support/moto.js; the stacks from scripts/deploy/support/moto-stack.js) and the
// stand-in Management API.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const tenant = require('./tenant.js');
const rotate = require('./rotate.js');
const aws = require('./aws.js');
const { startManagementApi } = require('./management-stand-in.js');
const { readSettings, generatedCode } = require('../auth0-code.js');
const { publicJwk } = require('../signing-key.js');
const { startMoto } = require('./support/moto.js');
const { createBridgeStack, secretOf } = require('../deploy/support/moto-stack.js');

const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'rotate-test-'));
let moto;
test.before(async () => { moto = await startMoto(); });
test.after(async () => { await moto.stop(); });

const newPem = () => crypto.generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' });
const kidOf = (pem) => publicJwk(crypto.createPrivateKey(pem)).kid;
let stacks = 0;

// A deployed bridge (a stack whose secret signs with a new key), a stand-in tenant, and the
// commands pointed at both: {stack, secretArn, signingKey, api, tenant(argv), rotate(argv, now)}.
async function deployedBridge(parameters = { SecretCacheTtlSeconds: '300' }, secretExtra = {}) {
  const stack = `bridge-${++stacks}`;
  const signingKey = newPem();
  const { secretArn } = await createBridgeStack(moto.environment, stack, parameters, { secret: {
    AUTHSIGNAL_SECRET: 'sk_test', AUTH0_CLIENT_ID: 'REPLACE_ME', AUTH0_CLIENT_SECRET: 'REPLACE_ME', BRIDGE_SIGNING_KEY: signingKey, ...secretExtra
  } });
  const samconfig = path.join(folder, `${stack}.toml`);
  fs.writeFileSync(samconfig, `version = 0.1\n[default.deploy.parameters]\nstack_name = "${stack}"\n` +
    'parameter_overrides = "Auth0Domain=tenant.example.auth0.com Auth0Realm=authsignal"\n');
  const api = await startManagementApi({}, { buildReads: 0 });
  const environment = { ...moto.environment, SAMCONFIG: samconfig, AUTH0_MANAGEMENT_TOKEN: api.token, AUTH0_MANAGEMENT_API_URL: `${api.url}/api/v2` };
  const output = (code, text) => ({ code, text });
  const capture = async (command) => {
    let text = '';
    const out = { write: (chunk) => { text += chunk; } };
    try {
      return output(await command(out), text);
    } catch (error) {
      return { error: error.message, text };
    }
  };
  return {
    stack, secretArn, signingKey, api, environment,
    tenant: (...argv) => capture((out) => tenant.main(argv, environment, out)),
    rotate: (step, now = Date.now) => capture((out) => rotate.main([step], environment, out, { now }))
  };
}

// The secret's current JSON.
const secretIn = async (arn) => (await secretOf(moto.environment, arn)).secret;

const publishedKids = (api) => readSettings(api.tenant.connections[0].options.customScripts.login).settings.BRIDGE_PUBLIC_KEYS.map((k) => k.kid);

test('setup --stack publishes the public key of the stack\'s secret, writes the new application into it, and prints no secret', async () => {
  const bridge = await deployedBridge();
  try {
    const done = await bridge.tenant('setup', '--stack', bridge.stack);
    assert.equal(done.code, 0, done.error || done.text);
    assert.deepEqual(publishedKids(bridge.api), [kidOf(bridge.signingKey)]);
    const secret = await secretIn(bridge.secretArn);
    const [application] = bridge.api.tenant.clients;
    assert.deepEqual([secret.AUTH0_CLIENT_ID, secret.AUTH0_CLIENT_SECRET], [application.client_id, application.client_secret]);
    assert.equal(secret.BRIDGE_SIGNING_KEY, bridge.signingKey, 'the rest of the secret kept');
    assert.ok(!done.text.includes(application.client_secret) && !done.text.includes('PRIVATE KEY'), done.text);
    // --stack alone: samconfig.toml's stack_name.
    const audit = await bridge.tenant('check', '--stack');
    assert.equal(audit.code, 0, audit.error || audit.text);
    assert.match(audit.text, /\| ok +\| the Login script lists only keys the bridge holds/);
  } finally { await bridge.api.close(); }
});

test('check --stack flags a key the bridge does not hold, and a bridge key the script lacks; setup --stack repairs both', async () => {
  const bridge = await deployedBridge();
  try {
    assert.equal((await bridge.tenant('setup', '--stack', bridge.stack)).code, 0);
    const connection = bridge.api.tenant.connections[0];
    const read = readSettings(connection.options.customScripts.login);
    read.settings.BRIDGE_PUBLIC_KEYS = [publicJwk(crypto.createPrivateKey(newPem()))];
    connection.options.customScripts.login = generatedCode('login', read.settings, read.notes);
    const found = await bridge.tenant('check', '--stack', bridge.stack);
    assert.equal(found.code, 1);
    assert.match(found.text, /\| UNSAFE +\| the Login script lists only keys the bridge holds +\| it lists .*, which the stack bridge-\d+'s secret does not hold/);
    assert.match(found.text, new RegExp(`\\| BROKEN +\\| the Login script lists every key the bridge holds +\\| it lacks ${kidOf(bridge.signingKey)}`));
    // Without the stack, setup keeps what the script lists: it never changes a key unasked.
    assert.match((await bridge.tenant('setup')).text, /nothing to change/);
    assert.equal((await bridge.tenant('setup', '--stack', bridge.stack)).code, 0);
    assert.deepEqual(publishedKids(bridge.api), [kidOf(bridge.signingKey)]);
  } finally { await bridge.api.close(); }
});

test('the stack\'s parameters win over samconfig.toml\'s', async () => {
  const bridge = await deployedBridge({ SecretCacheTtlSeconds: '300', Auth0Realm: 'passkeys', AssertionIssuer: 'https://bridge.example.com' });
  try {
    assert.equal((await bridge.tenant('setup', '--stack', bridge.stack)).code, 0);
    const [connection] = bridge.api.tenant.connections;
    assert.equal(connection.name, 'passkeys');
    assert.equal(readSettings(connection.options.customScripts.login).settings.BRIDGE_ISSUER, 'https://bridge.example.com');
  } finally { await bridge.api.close(); }
});

test('rotation: add publishes both keys, switch swaps them in the secret, drop waits for the cache and then leaves one', async () => {
  const bridge = await deployedBridge({ SecretCacheTtlSeconds: '120' });
  try {
    assert.equal((await bridge.tenant('setup', '--stack', bridge.stack)).code, 0);
    const oldKid = kidOf(bridge.signingKey);
    assert.match((await bridge.rotate('switch')).error, /the secret has no standby key\. Fix: run STEP=add first/);

    const added = await bridge.rotate('add');
    assert.equal(added.code, 0, added.error || added.text);
    const afterAdd = await secretIn(bridge.secretArn);
    const newKid = kidOf(afterAdd.BRIDGE_STANDBY_SIGNING_KEY);
    assert.equal(afterAdd.BRIDGE_SIGNING_KEY, bridge.signingKey, 'the bridge still signs with the old key');
    assert.deepEqual(publishedKids(bridge.api).sort(), [oldKid, newKid].sort(), 'both published');
    assert.ok(!added.text.includes('PRIVATE KEY'), 'the new key is never printed');
    assert.match(added.text, /The tenant is set up as the bridge needs/);

    const writes = bridge.api.writes().length;
    const switched = await bridge.rotate('switch');
    assert.equal(switched.code, 0, switched.error || switched.text);
    const afterSwitch = await secretIn(bridge.secretArn);
    assert.deepEqual([kidOf(afterSwitch.BRIDGE_SIGNING_KEY), kidOf(afterSwitch.BRIDGE_STANDBY_SIGNING_KEY)], [newKid, oldKid]);
    assert.equal(bridge.api.writes().length, writes, 'both stay published: the tenant is not written');
    assert.match(switched.text, /Run STEP=drop in 180 s or later/);

    const early = await bridge.rotate('drop');
    assert.match(early.error, new RegExp(`dropping the standby key kid ${oldKid}: too early.*SecretCacheTtlSeconds 120 s \\+ 60 s\\)\\. Fix: run STEP=drop again after`));
    assert.ok((await secretIn(bridge.secretArn)).BRIDGE_STANDBY_SIGNING_KEY, 'nothing dropped');

    const dropped = await bridge.rotate('drop', () => Date.now() + 181000);
    assert.equal(dropped.code, 0, dropped.error || dropped.text);
    const afterDrop = await secretIn(bridge.secretArn);
    assert.equal(afterDrop.BRIDGE_STANDBY_SIGNING_KEY, undefined);
    assert.equal(kidOf(afterDrop.BRIDGE_SIGNING_KEY), newKid);
    assert.deepEqual(publishedKids(bridge.api), [newKid], 'the old key is no longer accepted');
  } finally { await bridge.api.close(); }
});

test('switch refuses while the tenant does not list the standby key', async () => {
  const bridge = await deployedBridge({ SecretCacheTtlSeconds: '0' }, { BRIDGE_STANDBY_SIGNING_KEY: newPem() });
  try {
    // Published by hand with the signing key only.
    const signing = JSON.stringify([publicJwk(crypto.createPrivateKey(bridge.signingKey))]);
    assert.equal((await tenant.main(['setup'], { ...bridge.environment, BRIDGE_PUBLIC_KEYS: signing }, { write: () => {} })), 0);
    const refused = await bridge.rotate('switch');
    assert.match(refused.error, /does not list the standby key kid .* yet, so sign-ins with it would fail\. Fix: run STEP=add again/);
    assert.equal((await secretIn(bridge.secretArn)).BRIDGE_SIGNING_KEY, bridge.signingKey, 'not switched');
  } finally { await bridge.api.close(); }
});

test('aws.js: a missing stack, and a secret without a usable key, are one line that never shows a key', async () => {
  await assert.rejects(aws.readStack('no-such-stack', moto.environment), (error) =>
    /^reading the stack no-such-stack: AWS answered ValidationError \(400\): Stack with id no-such-stack does not exist\. Fix: check the stack name/.test(error.message));
  const pem = newPem();
  assert.deepEqual(aws.bridgePublicKeys({ BRIDGE_SIGNING_KEY: pem }).map((k) => k.kid), [kidOf(pem)]);
  const broken = `${pem.slice(0, 60)}garbage`;
  assert.throws(() => aws.bridgePublicKeys({ BRIDGE_SIGNING_KEY: 'REPLACE_ME' }), /holds no usable BRIDGE_SIGNING_KEY/);
  assert.throws(() => aws.bridgePublicKeys({ BRIDGE_SIGNING_KEY: pem, BRIDGE_STANDBY_SIGNING_KEY: broken }), (error) =>
    /no usable BRIDGE_STANDBY_SIGNING_KEY/.test(error.message) && !error.message.includes('PRIVATE KEY') && !error.message.includes('garbage'));
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' });
  assert.throws(() => aws.bridgePublicKeys({ BRIDGE_SIGNING_KEY: rsa }), /an Ed25519 PKCS#8 PEM/);
});

test('--stack with SignInProof=authsignal-token reads no key: the secret needs none', async () => {
  const bridge = await deployedBridge({ SignInProof: 'authsignal-token' }, { BRIDGE_SIGNING_KEY: 'REPLACE_ME' });
  try {
    const done = await tenant.main(['setup', '--stack', bridge.stack],
      { ...bridge.environment, AUTHSIGNAL_SECRET: 'sk_test', AUTHSIGNAL_CONNECT_URL: 'https://us.connect.authsignal.com' }, { write: () => {} });
    assert.equal(done, 0);
    assert.equal(readSettings(bridge.api.tenant.connections[0].options.customScripts.login).settings.BRIDGE_PUBLIC_KEYS, undefined);
  } finally { await bridge.api.close(); }
});
