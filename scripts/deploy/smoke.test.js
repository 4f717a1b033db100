// make smoke against the local demo stack: the real binary over HTTP on loopback
// (support/local-bridge.js: local-api, the Authsignal and Auth0 stand-ins, moto), a stack in moto
// whose outputs name that endpoint, the function's log lines in moto's CloudWatch Logs, the
// stand-in Management API set up by the tenant command, and a web ACL in moto attached to the
// stack's REST API stage. Every check passes; each broken piece (a key the Login script does not
// list, a 500 from the function, the web ACL detached) makes smoke exit 1 naming it.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const smoke = require('./smoke.js');
const tenant = require('../auth0-tenant/tenant.js');
const { startMoto, freePort } = require('../auth0-tenant/support/moto.js');
const { startManagementApi } = require('../auth0-tenant/management-stand-in.js');
const { readSettings, generatedCode } = require('../auth0-code.js');
const { publicJwk } = require('../signing-key.js');
const { sdk, config, createBridgeStack, updateBridgeStack, secretOf, putSecret } = require('./support/moto-stack.js');
const { built, startLocalBridge, LOCAL_API } = require('./support/local-bridge.js');

const ROOT = path.join(__dirname, '..', '..');
const STACK = 'bridge-smoke';
const AUTHSIGNAL_SECRET = `smoke-authsignal-${crypto.randomBytes(6).toString('hex')}`;
const VALID_TOKEN = 'eyJhbGciOiJIUzI1NiJ9.smoke-test-authsignal-token.signature';
// Never skipped: `make test-node` builds the binaries first; run alone, build them yourself.
const missing = built() ? null : `needs ${LOCAL_API} and target/debug/bootstrap: cargo build --example local-api --bin bootstrap (make test-node builds them)`;

let moto;
let api;
let bridge;
let environment;
let secretArn;
let stageArn;
let webAclArn;
const pem = crypto.generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' });
const kid = publicJwk(crypto.createPrivateKey(pem)).kid;
const parameters = {
  Auth0Domain: 'tenant.example.auth0.com', Auth0Realm: 'authsignal', Auth0Scope: 'openid profile email offline_access',
  Auth0Audience: 'https://api.smoke.example', SignInProof: 'assertion', Dpop: 'optional', EdgeProtection: 'waf', SecretCacheTtlSeconds: '0'
};

test.before(async () => {
  if (missing) throw new Error(missing);
  moto = await startMoto();
  api = await startManagementApi({}, { buildReads: 0 });
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'smoke-test-'));
  const samconfig = path.join(folder, 'samconfig.toml');
  fs.writeFileSync(samconfig, `version = 0.1\n[default.deploy.parameters]\nstack_name = "${STACK}"\nparameter_overrides = "Auth0Domain=tenant.example.auth0.com"\n`);
  environment = {
    ...process.env, ...moto.environment, SAMCONFIG: samconfig, AUTH0_MANAGEMENT_TOKEN: api.token,
    AUTH0_MANAGEMENT_API_URL: `${api.url}/api/v2`, SMOKE_LOG_WAIT_SECONDS: '2'
  };
  delete environment.TOKEN;
  // The web ACL the stack would have, attached to its REST API's stage once the stack exists.
  const { WAFV2Client, CreateWebACLCommand, AssociateWebACLCommand } = sdk('@aws-sdk/client-wafv2');
  const waf = new WAFV2Client(config(environment));
  webAclArn = (await waf.send(new CreateWebACLCommand({
    Name: `${STACK}-edge`, Scope: 'REGIONAL', DefaultAction: { Allow: {} },
    VisibilityConfig: { SampledRequestsEnabled: false, CloudWatchMetricsEnabled: false, MetricName: 'edge' }
  }))).Summary.ARN;
  const port = await freePort();
  ({ secretArn } = await createBridgeStack(environment, STACK, parameters, {
    base: `http://127.0.0.1:${port}`, restApi: true, outputs: { WebAclArn: webAclArn },
    secret: { AUTHSIGNAL_SECRET, AUTH0_CLIENT_ID: 'REPLACE_ME', AUTH0_CLIENT_SECRET: 'REPLACE_ME', BRIDGE_SIGNING_KEY: pem }
  }));
  const { CloudFormationClient, DescribeStackResourceCommand } = sdk('@aws-sdk/client-cloudformation');
  const restApiId = (await new CloudFormationClient(config(environment)).send(new DescribeStackResourceCommand({
    StackName: STACK, LogicalResourceId: 'BridgeRestApi'
  }))).StackResourceDetail.PhysicalResourceId;
  stageArn = `arn:aws:apigateway:us-east-1::/restapis/${restApiId}/stages/live`;
  await waf.send(new AssociateWebACLCommand({ WebACLArn: webAclArn, ResourceArn: stageArn }));

  // The tenant as make deploy leaves it: set up with the stack, its application's credentials
  // written into the secret; the Auth0 stand-in accepts those, and the keys setup published.
  assert.equal(await tenant.main(['setup', '--stack', STACK], environment, { write: () => {} }), 0);
  const { secret } = await secretOf(environment, secretArn);
  bridge = await startLocalBridge({
    environment, stackName: STACK, secretArn, port, parameters, clientId: secret.AUTH0_CLIENT_ID, clientSecret: secret.AUTH0_CLIENT_SECRET,
    authsignalSecret: AUTHSIGNAL_SECRET, validToken: VALID_TOKEN, publicKeys: [publicJwk(crypto.createPrivateKey(pem))],
    functionEnvironment: { SECRET_CACHE_TTL_SECONDS: '0' }
  });
  await bridge.firstKey;
});

test.after(async () => {
  if (bridge) await bridge.stop();
  if (api) await api.close();
  if (moto) await moto.stop();
});

// Runs smoke.js in this process: {code, text}.
async function runSmoke(extra = {}) {
  let text = '';
  const code = await smoke.main(['--stack', STACK], { ...environment, ...extra }, { write: (chunk) => { text += chunk; } },
    { sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 500))) });
  return { code, text };
}

// The table's row for the check that starts with `title`: {result, detail}.
function rowOf(text, title) {
  const line = text.split('\n').find((l) => l.startsWith(`| ${title}`));
  assert.ok(line, `no row "${title}" in:\n${text}`);
  const [, result, detail] = line.split('|').slice(1, -1).map((cell) => cell.trim());
  return { result, detail };
}

const noSecrets = (text) => {
  for (const value of [pem, AUTHSIGNAL_SECRET, VALID_TOKEN]) assert.ok(!text.includes(value), 'a secret or token printed');
  assert.doesNotMatch(text, /PRIVATE KEY/);
};

test('make smoke on the local stack: every check passes', async () => {
  const child = spawn('make', ['--no-print-directory', 'smoke', `STACK=${STACK}`], { cwd: ROOT, env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout.on('data', (chunk) => { text += chunk; });
  child.stderr.on('data', (chunk) => { text += chunk; });
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(code, 0, text);
  assert.match(text, /^\| check +\| result +\| detail +\|$/m);
  assert.deepEqual(rowOf(text, 'the token endpoint reaches the function'), { result: 'ok', detail: 'GET answered 405 invalid_request: only POST is allowed (the function\'s own answer)' });
  assert.equal(rowOf(text, 'Authsignal accepts the bridge\'s key').result, 'ok');
  assert.match(rowOf(text, 'Authsignal accepts the bridge\'s key').detail, /^a junk token answered 400 invalid_grant/);
  assert.equal(rowOf(text, 'Auth0 accepts the bridge\'s client credentials').detail, 'a junk revocation answered 200');
  assert.match(rowOf(text, 'the function signs with a key Auth0 accepts').detail, new RegExp(`^kid ${kid} \\(logged .*\\), listed by the Login script$`));
  assert.equal(rowOf(text, 'make auth0-check passes').result, 'ok');
  assert.deepEqual(rowOf(text, 'the web ACL is attached to the stage'), { result: 'ok', detail: `${STACK}-edge on ${stageArn}` });
  assert.match(text, /Every check passed: the bridge is deployed and set up\./);
  noSecrets(text);
});

test('with TOKEN, a real sign-in\'s token: it signs in, refreshes and signs out, printing no token', async () => {
  const { code, text } = await runSmoke({ TOKEN: VALID_TOKEN });
  assert.equal(code, 0, text);
  assert.match(rowOf(text, 'sign-in with TOKEN').detail, /^200: access_token, id_token, refresh_token \(token_type Bearer, expires_in \d+\)$/);
  assert.deepEqual(rowOf(text, 'refresh'), { result: 'ok', detail: '200: a new access_token and a rotated refresh_token' });
  assert.deepEqual(rowOf(text, 'sign-out (revocation)'), { result: 'ok', detail: 'the refresh token\'s revocation answered 200' });
  noSecrets(text);
  assert.doesNotMatch(text, /eyJ|v1\./, 'no token of Auth0\'s either');
});

test('a key the Login script does not list: smoke exits 1 naming the key and the fix', async () => {
  const connection = api.tenant.connections[0];
  const original = connection.options.customScripts.login;
  const read = readSettings(original);
  const other = publicJwk(crypto.generateKeyPairSync('ed25519').privateKey);
  read.settings.BRIDGE_PUBLIC_KEYS = [other];
  connection.options.customScripts.login = generatedCode('login', read.settings, read.notes);
  try {
    const { code, text } = await runSmoke();
    assert.equal(code, 1, text);
    const row = rowOf(text, 'the function signs with a key Auth0 accepts');
    assert.equal(row.result, 'FAIL');
    assert.equal(row.detail, `the function signs with kid ${kid}, which the Login script does not list (${other.kid}). Fix: make auth0-setup STACK=${STACK} (it publishes the secret's keys).`);
    const audit = rowOf(text, 'make auth0-check passes');
    assert.equal(audit.result, 'FAIL');
    assert.match(audit.detail, /UNSAFE: the Login script lists only keys the bridge holds; BROKEN: the Login script lists every key the bridge holds\. Fix: make auth0-setup STACK=bridge-smoke/);
    assert.match(text, /2 check\(s\) failed\./);
  } finally {
    connection.options.customScripts.login = original;
  }
});

test('a 500 from the function (a wrong Authsignal key in the secret): smoke exits 1 naming the piece', async () => {
  const { secret } = await secretOf(environment, secretArn);
  await putSecret(environment, secretArn, { ...secret, AUTHSIGNAL_SECRET: 'sk_wrong' });
  try {
    const { code, text } = await runSmoke();
    assert.equal(code, 1, text);
    const row = rowOf(text, 'Authsignal accepts the bridge\'s key');
    assert.equal(row.result, 'FAIL');
    assert.match(row.detail, /^a junk token answered 500 server_error.*\(expected 400 invalid_grant\)\. Fix: the function's log .* most often the secret's AUTHSIGNAL_SECRET or BRIDGE_SIGNING_KEY, or AuthsignalApiUrl/);
    assert.equal(rowOf(text, 'the token endpoint reaches the function').result, 'ok');
    noSecrets(text);
    assert.ok(!text.includes('sk_wrong'));
  } finally {
    await putSecret(environment, secretArn, secret);
  }
});

test('the web ACL detached from the stage: smoke exits 1 naming the stage; EdgeProtection=none skips the check', async () => {
  const { WAFV2Client, DisassociateWebACLCommand, AssociateWebACLCommand } = sdk('@aws-sdk/client-wafv2');
  const waf = new WAFV2Client(config(environment));
  await waf.send(new DisassociateWebACLCommand({ ResourceArn: stageArn }));
  try {
    const { code, text } = await runSmoke();
    assert.equal(code, 1, text);
    assert.deepEqual(rowOf(text, 'the web ACL is attached to the stage'),
      { result: 'FAIL', detail: `no web ACL is attached to ${stageArn}. Fix: make deploy (the stack attaches ${webAclArn}).` });
  } finally {
    await waf.send(new AssociateWebACLCommand({ WebACLArn: webAclArn, ResourceArn: stageArn }));
  }
  await updateBridgeStack(environment, STACK, { EdgeProtection: 'none' }, { restApi: true });
  try {
    const { code, text } = await runSmoke();
    assert.equal(code, 0, text);
    assert.deepEqual(rowOf(text, 'the web ACL is attached to the stage'), { result: 'skipped', detail: 'EdgeProtection=none: an HTTP API, no web ACL' });
  } finally {
    await updateBridgeStack(environment, STACK, { EdgeProtection: 'waf' }, { restApi: true });
  }
});

test('no such stack, or a stack that is not the bridge\'s: one line with the fix (exit 2)', async () => {
  await assert.rejects(smoke.main(['--stack', 'no-such-stack'], environment, { write: () => {} }),
    /^Error: reading the stack no-such-stack: AWS answered ValidationError \(400\): Stack with id no-such-stack does not exist\. Fix:|reading the stack no-such-stack: AWS answered ValidationError/);
});
