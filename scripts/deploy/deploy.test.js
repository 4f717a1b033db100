// make deploy without AWS: against moto (CloudFormation, Secrets Manager) and the stand-in
// Management API, with a stand-in SAM CLI (support/fake-sam.js) that records its calls and
// creates or updates a stack shaped like the bridge's in moto. The dry run prints every step and
// writes nothing; the real run makes the signing key (never printed, never in a file), takes the
// Authsignal key from AUTHSIGNAL_SECRET, sets up the tenant, and a second run writes nothing.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const deploy = require('./deploy.js');
const { ask } = require('./prompt.js');
const { templateParameters, deploymentParameters } = require('./parameters.js');
const { startMoto } = require('../auth0-tenant/support/moto.js');
const { startManagementApi, ALL_SCOPES } = require('../auth0-tenant/management-stand-in.js');
const { readSettings } = require('../auth0-code.js');
const { createBridgeStack, secretOf, putSecret, stackParameters } = require('./support/moto-stack.js');

const ROOT = path.join(__dirname, '..', '..');
const FAKE_SAM = path.join(__dirname, 'support', 'fake-sam.js');
const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-test-'));
const PEM = /BEGIN PRIVATE KEY|PRIVATE KEY-----/;
const AUTHSIGNAL_KEY = `sk_test_${crypto.randomBytes(12).toString('hex')}`;
let moto;
let stacks = 0;
test.before(async () => { moto = await startMoto(); });
test.after(async () => { await moto.stop(); });

// A samconfig.toml for stack `name`, shaped like the repository's (Auth0Domain its example).
function samconfig(name, extra = '') {
  const file = path.join(folder, `${name}.toml`);
  fs.writeFileSync(file, `version = 0.1\n[default.global.parameters]\nstack_name = "${name}"\n[default.deploy.parameters]\n` +
    `stack_name = "${name}"\nparameter_overrides = [\n  "Auth0Domain=example-staging.us.auth0.com",\n` +
    '  "AuthsignalApiUrl=https://api.authsignal.com/v1",\n  "AuthsignalAction=signInWithPasskey",\n  "Auth0Realm=authsignal",\n' +
    '  "Auth0Scope=\\"openid profile email offline_access\\"",\n  "Auth0Audience=https://api.example.com",\n' +
    `  "PermissionsBoundaryName=\\"\\"",\n  "EdgeProtection=waf",${extra}\n]\n`);
  return file;
}

// A deployment's world: a stack name, its samconfig.toml, a stand-in tenant, the fake SAM's log,
// and the environment `make deploy AUTH0_DOMAIN=... AUTHSIGNAL_REGION=eu` would give.
async function world(apiOptions = {}) {
  const name = `bridge-deploy-${++stacks}`;
  const api = await startManagementApi({}, { buildReads: 0, ...apiOptions });
  const log = path.join(folder, `${name}.sam.log`);
  const environment = {
    PATH: process.env.PATH, ...moto.environment, SAMCONFIG: samconfig(name), SAM: FAKE_SAM, FAKE_SAM_LOG: log,
    AUTH0_MANAGEMENT_CLIENT_ID: api.m2m.client_id, AUTH0_MANAGEMENT_CLIENT_SECRET: api.m2m.client_secret,
    AUTH0_MANAGEMENT_API_URL: `${api.url}/api/v2`, AUTH0_DOMAIN: api.tenantDomain, AUTHSIGNAL_REGION: 'eu',
    PIPELINE_STACK: `${name}-pipeline`
  };
  const samCalls = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').map((line) => JSON.parse(line)) : []);
  return { name, api, environment, samCalls };
}

// Runs deploy.js in this process: {code, text} or {error, text}. The smoke check is the
// subject of smoke.test.js: here it is replaced by one that passes.
async function run(environment, argv = [], io = {}) {
  let text = '';
  const out = { write: (chunk) => { text += chunk; } };
  const prompts = { write: (chunk) => { text += chunk; } };
  try {
    return { code: await deploy.main(argv, environment, out, { input: { isTTY: false }, prompts, smoke: async () => 0, ...io }), text };
  } catch (error) {
    return { error: error.message, text };
  }
}

test('the dry run against a deployed stack prints every step and writes nothing: not the secret, not the tenant, no SAM', async () => {
  const w = await world();
  try {
    const { secretArn } = await createBridgeStack(w.environment, w.name, { Auth0Domain: w.api.tenantDomain, Auth0Realm: 'authsignal' });
    const before = await secretOf(w.environment, secretArn);
    const done = await run(w.environment, ['--dry-run']);
    assert.equal(done.code, 0, done.error || done.text);
    for (const step of ['1/7 what to deploy', '2/7 build', `3/7 deploy the stack ${w.name}`, '4/7 read the stack\'s outputs',
      '5/7 the secret', '6/7 the Auth0 tenant', '7/7 smoke check']) assert.ok(done.text.includes(`== ${step}`), `${step} in:\n${done.text}`);
    assert.match(done.text, /would run: sam build --config-env default/);
    assert.match(done.text, /would write the parameters of step 1 to a file and run: sam deploy --config-env default --parameter-overrides file:\/\/\S+\/bridge-deploy-XXXXXX\/parameters\.yaml --no-progressbar/);
    assert.match(done.text, new RegExp(`Auth0Domain=${w.api.tenantDomain} +\\(AUTH0_DOMAIN given\\)`));
    assert.match(done.text, /AuthsignalApiUrl=https:\/\/eu\.api\.authsignal\.com\/v1 +\(AUTHSIGNAL_REGION given\)/);
    assert.match(done.text, /PermissionsBoundaryName= +\(samconfig\.toml\)/);
    assert.match(done.text, /BRIDGE_SIGNING_KEY: missing: a new Ed25519 key, made here and written straight into the secret \(never shown\)/);
    assert.match(done.text, /AUTHSIGNAL_SECRET: missing: the Authsignal secret key, asked on the terminal, not shown/);
    assert.match(done.text, /would create connection authsignal/, 'the tenant\'s changes are shown');
    assert.match(done.text, /would create application/);
    assert.match(done.text, /--dry-run: nothing was written\./);
    assert.doesNotMatch(done.text, PEM);
    assert.deepEqual(w.samCalls(), [], 'SAM is not run');
    assert.equal(w.api.writes().length, 0, 'nothing written to the tenant');
    const after = await secretOf(w.environment, secretArn);
    assert.equal(after.versionId, before.versionId, 'the secret is unchanged');
    assert.deepEqual(after.secret, before.secret);
  } finally { await w.api.close(); }
});

test('the dry run before the first deployment: the stack does not exist, and the tenant preview uses this deployment\'s parameters', async () => {
  const w = await world();
  try {
    const done = await run({ ...w.environment, DRY_RUN: '1', AUTHSIGNAL_SECRET: AUTHSIGNAL_KEY, Auth0Realm: 'passkeys' });
    assert.equal(done.code, 0, done.error || done.text);
    assert.match(done.text, new RegExp(`The stack ${w.name} does not exist yet: this deployment creates it`));
    assert.match(done.text, /would read the new stack's outputs/);
    assert.match(done.text, /AUTHSIGNAL_SECRET: missing: the Authsignal secret key, taken from AUTHSIGNAL_SECRET/);
    assert.match(done.text, /would create connection passkeys/);
    assert.match(done.text, /of a key made in memory for this preview; the real run makes its own/);
    assert.ok(!done.text.includes(AUTHSIGNAL_KEY), 'the Authsignal key is never printed');
    assert.deepEqual(w.samCalls(), []);
    assert.equal(w.api.writes().length, 0);
    await assert.rejects(stackParameters(w.environment, w.name), /does not exist/);
  } finally { await w.api.close(); }
});

test('a dry run names what the real run would refuse, and still prints every step', async () => {
  const w = await world();
  try {
    const done = await run({ ...w.environment, AUTH0_DOMAIN: undefined, DRY_RUN: 'true' });
    assert.equal(done.code, 0, done.error || done.text);
    assert.match(done.text, /the real run would stop here: Auth0Domain is samconfig\.toml's example \(example-staging\.us\.auth0\.com\), not your tenant\. Fix: make deploy AUTH0_DOMAIN=/);
    assert.match(done.text, /its changes are not shown: the parameters of step 1 are not yet right/);
    assert.match(done.text, /The real run would stop at:\n  step 1\/7 \(what to deploy\): Auth0Domain is samconfig\.toml's example/);
    assert.match(done.text, /== 7\/7 smoke check/);
    assert.equal(w.api.requests.length, 0, 'the example tenant is not asked');
  } finally { await w.api.close(); }
});

test('make deploy --dry-run runs the dry run (make\'s own -n), against moto and the stand-in', async () => {
  const w = await world();
  try {
    await createBridgeStack(w.environment, w.name, { Auth0Domain: w.api.tenantDomain });
    const child = spawn('make', ['--no-print-directory', 'deploy', '--dry-run', `STACK=${w.name}`], {
      cwd: ROOT, env: { ...w.environment, AUTHSIGNAL_SECRET: AUTHSIGNAL_KEY }, stdio: ['ignore', 'pipe', 'pipe']
    });
    let text = '';
    child.stdout.on('data', (chunk) => { text += chunk; });
    child.stderr.on('data', (chunk) => { text += chunk; });
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 0, text);
    assert.match(text, /== 7\/7 smoke check/);
    assert.match(text, /--dry-run: nothing was written\./);
    assert.deepEqual(w.samCalls(), []);
    assert.equal(w.api.writes().length, 0);
    assert.ok(!text.includes(AUTHSIGNAL_KEY));
  } finally { await w.api.close(); }
});

test('the first deployment: SAM gets samconfig.toml\'s parameters with the command line\'s; the key is made and written, never printed or left in a file', async () => {
  const w = await world();
  try {
    const environment = { ...w.environment, AUTHSIGNAL_SECRET: AUTHSIGNAL_KEY };
    const done = await run(environment);
    assert.equal(done.code, 0, done.error || done.text);
    const calls = w.samCalls();
    assert.deepEqual(calls.map((call) => call.args[0]), ['build', 'deploy']);
    const [, deployCall] = calls;
    assert.equal(deployCall.parameters.Auth0Domain, w.api.tenantDomain);
    assert.equal(deployCall.parameters.AuthsignalApiUrl, 'https://eu.api.authsignal.com/v1');
    assert.equal(deployCall.parameters.Auth0Scope, 'openid profile email offline_access', 'a value with spaces stays whole');
    assert.equal(deployCall.parameters.PermissionsBoundaryName, '', 'no boundary without the pipeline stack');
    assert.ok(!fs.existsSync(deployCall.file), 'the parameter file is removed');

    const { outputs } = await stackParameters(environment, w.name);
    const { secret } = await secretOf(environment, outputs.SecretArn);
    assert.equal(crypto.createPrivateKey(secret.BRIDGE_SIGNING_KEY).asymmetricKeyType, 'ed25519');
    assert.equal(secret.AUTHSIGNAL_SECRET, AUTHSIGNAL_KEY);
    const [application] = w.api.tenant.clients;
    assert.deepEqual([secret.AUTH0_CLIENT_ID, secret.AUTH0_CLIENT_SECRET], [application.client_id, application.client_secret]);
    const published = readSettings(w.api.tenant.connections[0].options.customScripts.login).settings.BRIDGE_PUBLIC_KEYS;
    const { publicJwk } = require('../signing-key.js');
    assert.deepEqual(published.map((key) => key.kid), [publicJwk(crypto.createPrivateKey(secret.BRIDGE_SIGNING_KEY)).kid]);
    assert.match(done.text, /wrote BRIDGE_SIGNING_KEY and AUTHSIGNAL_SECRET into the secret \(version [^)]+\); the bridge signs with kid /);
    for (const value of [secret.BRIDGE_SIGNING_KEY, AUTHSIGNAL_KEY, application.client_secret]) assert.ok(!done.text.includes(value), 'no secret printed');
    assert.doesNotMatch(done.text, PEM);
    for (const name of fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('bridge-deploy-'))) {
      const directory = path.join(os.tmpdir(), name);
      for (const file of fs.readdirSync(directory)) assert.doesNotMatch(fs.readFileSync(path.join(directory, file), 'utf8'), PEM);
    }

    // Again: idempotent. SAM runs (a change set with no changes succeeds), nothing else is written.
    const writes = w.api.writes().length;
    const before = await secretOf(environment, outputs.SecretArn);
    const again = await run({ ...w.environment, AUTH0_DOMAIN: undefined, AUTHSIGNAL_REGION: undefined });
    assert.equal(again.code, 0, again.error || again.text);
    assert.match(again.text, /BRIDGE_SIGNING_KEY: present, kept/);
    assert.match(again.text, /nothing to write: the secret has both/);
    assert.match(again.text, /The tenant already is as the bridge needs: nothing to change/);
    assert.equal(w.api.writes().length, writes, 'the tenant is not written');
    assert.equal((await secretOf(environment, outputs.SecretArn)).versionId, before.versionId, 'the secret is not written');
    // The tenant's values stay those deployed, though samconfig.toml still has its example.
    const second = w.samCalls()[3];
    assert.equal(second.parameters.Auth0Domain, w.api.tenantDomain);
    assert.equal(second.parameters.AuthsignalApiUrl, 'https://eu.api.authsignal.com/v1');
    assert.match(again.text, /note: Auth0Domain: kept the deployed stack's .* \(samconfig\.toml says example-staging\.us\.auth0\.com; give Auth0Domain=\.\.\. to change it\)/);
  } finally { await w.api.close(); }
});

test('with the pipeline stack, the stack\'s roles get its boundary for the environment', async () => {
  const w = await world();
  try {
    const { createBridgeStack: create } = require('./support/moto-stack.js');
    await create(w.environment, w.environment.PIPELINE_STACK, {}, {
      secretArn: 'none', outputs: { StagingPermissionsBoundaryName: 'authsignal-auth0-bridge-pipeline-staging-boundary', ProdPermissionsBoundaryName: 'x-prod' }
    });
    const done = await run({ ...w.environment, AUTHSIGNAL_SECRET: AUTHSIGNAL_KEY });
    assert.equal(done.code, 0, done.error || done.text);
    assert.equal(w.samCalls()[1].parameters.PermissionsBoundaryName, 'authsignal-auth0-bridge-pipeline-staging-boundary');
    assert.match(done.text, /PermissionsBoundaryName=authsignal-auth0-bridge-pipeline-staging-boundary +\(the pipeline stack /);
  } finally { await w.api.close(); }
});

test('refusals come before anything is built, each one line with its fix', async () => {
  const w = await world();
  try {
    const example = await run({ ...w.environment, AUTH0_DOMAIN: undefined, AUTHSIGNAL_SECRET: AUTHSIGNAL_KEY });
    assert.match(example.error, /^step 1\/7 \(what to deploy\): Auth0Domain is samconfig\.toml's example \(example-staging\.us\.auth0\.com\), not your tenant\. Fix: make deploy AUTH0_DOMAIN=/);
    const region = await run({ ...w.environment, AUTHSIGNAL_REGION: 'mars' });
    assert.match(region.error, /AUTHSIGNAL_REGION=mars is not an Authsignal region\. Fix: AUTHSIGNAL_REGION=us, au or eu/);
    const noKey = await run(w.environment);
    assert.match(noKey.error, /Authsignal secret key .*: there is no terminal to ask on\. Fix: set AUTHSIGNAL_SECRET in the environment\./);
    const wrong = await run({ ...w.environment, AUTHSIGNAL_SECRET: AUTHSIGNAL_KEY, AUTH0_MANAGEMENT_CLIENT_SECRET: 'wrong' });
    assert.match(wrong.error, /getting a Management API token: Auth0 answered 401.*Fix: check AUTH0_MANAGEMENT_CLIENT_ID and AUTH0_MANAGEMENT_CLIENT_SECRET/);
    assert.deepEqual(w.samCalls(), [], 'nothing built');
    const failed = await run({ ...w.environment, AUTHSIGNAL_SECRET: AUTHSIGNAL_KEY, FAKE_SAM_FAIL: 'deploy' });
    assert.match(failed.error, /^step 3\/7 \(deploy the stack bridge-deploy-\d+\): sam deploy exited with 1\. Fix: read the stack events above/);
  } finally { await w.api.close(); }
});

// A deployed world whose stack's secret then lost the Auth0 application's credentials (the
// application stays in the tenant): {environment, outputs, secret (as it was before)}.
async function deployedWithoutAuth0Credentials(w) {
  const environment = { ...w.environment, AUTHSIGNAL_SECRET: AUTHSIGNAL_KEY };
  assert.equal((await run(environment)).code, 0);
  const { outputs } = await stackParameters(environment, w.name);
  const { secret } = await secretOf(environment, outputs.SecretArn);
  await putSecret(environment, outputs.SecretArn, { ...secret, AUTH0_CLIENT_ID: 'REPLACE_ME', AUTH0_CLIENT_SECRET: 'REPLACE_ME' });
  return { environment, outputs, secret };
}

test('an application made by an earlier run: its credentials are copied with read:client_keys, else the fix is named', async () => {
  const w = await world({ scopes: [...ALL_SCOPES, 'read:client_keys'] });
  try {
    const { environment, outputs, secret } = await deployedWithoutAuth0Credentials(w);
    const done = await run(environment);
    assert.equal(done.code, 0, done.error || done.text);
    assert.match(done.text, /copied the application's AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET from the tenant into the secret/);
    const restored = (await secretOf(environment, outputs.SecretArn)).secret;
    assert.deepEqual([restored.AUTH0_CLIENT_ID, restored.AUTH0_CLIENT_SECRET], [secret.AUTH0_CLIENT_ID, secret.AUTH0_CLIENT_SECRET]);
  } finally { await w.api.close(); }

  const narrow = await world();
  try {
    const { environment } = await deployedWithoutAuth0Credentials(narrow);
    const refused = await run(environment);
    assert.match(refused.error, /^step 6\/7 \(the Auth0 tenant\): the stack's secret lacks AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET, and the Auth0 application .* exists already.*Fix: grant read:client_keys/);
  } finally { await narrow.api.close(); }
});

test('parameters: the command line wins, a deployed stack keeps the tenants\' values and its boundary', () => {
  const names = templateParameters();
  assert.ok(names.includes('Auth0Domain') && names.includes('DeploymentType') && names.length > 30);
  const environment = { SAMCONFIG: samconfig('parameters-only'), Dpop: 'required' };
  const stack = { name: 'parameters-only', parameters: { Auth0Domain: 'mine.eu.auth0.com', AuthsignalApiUrl: 'https://au.api.authsignal.com/v1', PermissionsBoundaryName: 'b' } };
  const { values, sources } = deploymentParameters({ configEnv: 'default', environment, stack, pipeline: null, names });
  assert.deepEqual([values.Auth0Domain, values.AuthsignalApiUrl, values.PermissionsBoundaryName, values.Dpop],
    ['mine.eu.auth0.com', 'https://au.api.authsignal.com/v1', 'b', 'required']);
  assert.equal(sources.Dpop, 'Dpop given');
  const given = deploymentParameters({ configEnv: 'default', environment: { ...environment, AUTH0_DOMAIN: 'new.us.auth0.com' }, stack, pipeline: null, names });
  assert.equal(given.values.Auth0Domain, 'new.us.auth0.com');
});

test('a hidden question echoes nothing of the answer; without a terminal it names the variable', async () => {
  const { PassThrough } = require('node:stream');
  const input = new PassThrough();
  input.isTTY = true;
  const modes = [];
  input.setRawMode = (mode) => { modes.push(mode); input.isRaw = mode; };
  let shown = '';
  const output = { write: (chunk) => { shown += chunk; } };
  const answer = ask('secret: ', { hidden: true, variable: 'X', input, output });
  input.write('sk_live_typed');
  input.write('\u007fD\r');
  assert.equal(await answer, 'sk_live_typeD');
  assert.equal(shown, 'secret: \n');
  assert.deepEqual(modes, [true, false]);
  await assert.rejects(ask('secret: ', { variable: 'AUTHSIGNAL_SECRET', input: { isTTY: false } }), /no terminal to ask on\. Fix: set AUTHSIGNAL_SECRET/);
});
