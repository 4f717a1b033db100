// make auth0-setup and make auth0-check against the stand-in Management API, which answers as a
// real tenant does (settings shown encrypted, Actions built asynchronously, name limits, new
// applications given every connection, scopes, rate limits): setup on an empty tenant, a
// second run that writes nothing, keys never changed without a key source, every unsafe tenant
// flagged and repaired (or refused with its fix), and --dry-run writing nothing. Through Auth0's
// own Node SDK, as the command runs. The key rotation against AWS: rotate.test.js.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { main } = require('./tenant.js');
const { startManagementApi, isEncrypted, ALL_SCOPES } = require('./management-stand-in.js');
const desired = require('./desired.js');
const { generatedCode, readSettings } = require('../auth0-code.js');
const { newKey } = require('../../auth0/support/assertions.js');

const KEY = newKey();
const OTHER_KEY = newKey();
const PUBLIC_KEYS = JSON.stringify([KEY.jwk]);
const STACK = 'authsignal-auth0-bridge-staging';
// What template.yaml makes of empty AssertionIssuer and AssertionAudience: names with the stack's.
const ISSUER = `authsignal-auth0-bridge:${STACK}`;
const AUDIENCE = `authsignal:${STACK}`;
const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'tenant-test-'));

function samconfigFile(name, overrides) {
  const file = path.join(folder, name);
  fs.writeFileSync(file, `version = 0.1
[default.deploy.parameters]
stack_name = "${STACK}"
parameter_overrides = ${overrides}
`);
  return file;
}
const samconfig = samconfigFile('samconfig.toml', `[
  "Auth0Domain=tenant.example.auth0.com",
  "Auth0Realm=authsignal",
  "Auth0Scope=\\"openid profile email offline_access\\"",
  "Auth0Audience=https://api.example.com",
]`);

// Runs the command against `api` with `environment` on top of the test's own: {code, text}, or
// {error} when it stops (what the CLI prints on one line, exit code 2).
async function runWith(api, environment, ...argv) {
  let text = '';
  const out = { write: (chunk) => { text += chunk; } };
  try {
    const code = await main(argv, {
      SAMCONFIG: samconfig,
      AUTH0_MANAGEMENT_TOKEN: api.token,
      AUTH0_MANAGEMENT_API_URL: `${api.url}/api/v2`,
      BRIDGE_PUBLIC_KEYS: PUBLIC_KEYS,
      AUTH0_ACTION_BUILD_POLL_MS: '5',
      ...environment
    }, out);
    return { code, text };
  } catch (error) {
    return { error: error.message, errorName: error.name, text };
  }
}
const run = (api, ...argv) => runWith(api, {}, ...argv);
const rowPattern = (states, check) => new RegExp(`\\| (${states}) +\\| ${check.replace(/[()|]/g, '\\$&')} `);
const failingRow = (check) => rowPattern('UNSAFE|BROKEN', check);
const okRow = (check) => rowPattern('ok', check);

// The generated code's settings in a script or Action the stand-in holds.
const settingsOf = (code) => readSettings(code).settings;
const loginScriptOf = (api) => api.tenant.connections[0].options.customScripts.login;

// A tenant as setup leaves it (run with `environment`), with another application, the Marketing
// SPA, and Auth0's own database connection, as tenants have them; `change` applied.
const setUp = new Map();
async function setUpTenant(environment = {}, change = (t) => t) {
  const key = JSON.stringify(environment);
  if (!setUp.has(key)) {
    const api = await startManagementApi({}, { buildReads: 0 });
    try {
      const done = await runWith(api, environment, 'setup');
      assert.equal(done.code, 0, done.error || done.text);
      setUp.set(key, structuredClone(api.tenant));
    } finally { await api.close(); }
  }
  const tenant = structuredClone(setUp.get(key));
  tenant.clients.push({ client_id: 'cli_spa', name: 'Marketing SPA', app_type: 'spa', grant_types: ['authorization_code'], callbacks: ['https://example.com/cb'] });
  tenant.connections.push({ id: 'con_upa', name: 'Username-Password-Authentication', strategy: 'auth0', options: { brute_force_protection: true } });
  tenant.enabledClients.con_upa = ['cli_spa'];
  change(tenant);
  return tenant;
}
const bridgeApp = (t) => t.clients.find((c) => (c.client_metadata || {})[desired.STACK_MARKER] === STACK);
const realmConnection = (t) => t.connections.find((c) => c.name === 'authsignal');

// The Login script as setup wrote it, with its settings changed by `edit`.
function editScript(t, edit) {
  const connection = realmConnection(t);
  const read = readSettings(connection.options.customScripts.login);
  edit(read.settings);
  connection.options.customScripts.login = generatedCode('login', read.settings, read.notes);
}

test('setup on an empty tenant creates the connection, the application, the API; check passes; no secret is printed', async () => {
  const api = await startManagementApi();
  try {
    const { code, text, error } = await run(api, 'setup');
    assert.equal(code, 0, error || text);
    const [connection] = api.tenant.connections;
    assert.equal(connection.name, 'authsignal');
    assert.equal(connection.options.customScripts.login, generatedCode('login', {
      BRIDGE_PUBLIC_KEYS: [KEY.jwk], BRIDGE_ISSUER: ISSUER, BRIDGE_AUDIENCE: AUDIENCE, STRIP_PROVIDER_PREFIX: false
    }), 'the shipped script with the keys, issuer and audience in its code');
    assert.equal(connection.options.configuration, undefined, 'no connection settings at all');
    assert.equal(connection.options.import_mode, false);
    assert.equal(connection.options.disable_signup, true);
    assert.equal(connection.options.brute_force_protection, true);
    const [application] = api.tenant.clients;
    assert.equal(application.app_type, 'regular_web');
    assert.deepEqual(application.grant_types, [desired.PASSWORD_REALM, 'refresh_token']);
    assert.deepEqual(application.client_metadata, { [desired.STACK_MARKER]: STACK });
    assert.equal(application.cross_origin_authentication, false);
    assert.deepEqual(application.callbacks, []);
    assert.equal(application.is_token_endpoint_ip_header_trusted, true);
    assert.equal(application.refresh_token.rotation_type, 'rotating');
    assert.deepEqual(api.tenant.enabledClients[connection.id], [application.client_id]);
    assert.equal(api.tenant.resourceServers[0].identifier, 'https://api.example.com');
    assert.equal(api.tenant.resourceServers[0].allow_offline_access, true);
    assert.match(text, new RegExp(`AUTH0_CLIENT_ID=${application.client_id}`));
    assert.ok(!text.includes(application.client_secret), 'the client secret is never printed');
    assert.match(text, /"Auth0Scope=\\"openid profile email offline_access\\""/);
    const audit = await run(api, 'check');
    assert.equal(audit.code, 0, audit.text);
    assert.match(audit.text, okRow('the Login script lists only keys the bridge holds'));
  } finally { await api.close(); }
});

test('the repository\'s own samconfig.toml: the dry run on an empty tenant lists what setup would create, for staging and prod', async () => {
  const api = await startManagementApi();
  try {
    for (const configEnv of ['default', 'prod']) {
      let text = '';
      const code = await main(['setup', '--dry-run', '--config-env', configEnv],
        { AUTH0_MANAGEMENT_TOKEN: api.token, AUTH0_MANAGEMENT_API_URL: `${api.url}/api/v2`, BRIDGE_PUBLIC_KEYS: PUBLIC_KEYS },
        { write: (c) => { text += c; } });
      assert.equal(code, 0, text);
      assert.match(text, /would create connection authsignal/);
      assert.match(text, new RegExp(`would create application "Authsignal bridge \\(authsignal-auth0-bridge-${configEnv === 'prod' ? 'prod' : 'staging'}\\)"`));
      assert.match(text, /would create API https:\/\/api\.example\.com/, 'offline_access read from the quoted scope');
    }
    assert.deepEqual(api.writes(), []);
  } finally { await api.close(); }
});

test('a second setup writes nothing', async () => {
  const api = await startManagementApi();
  try {
    assert.equal((await run(api, 'setup')).code, 0);
    const before = api.writes().length;
    const again = await run(api, 'setup');
    assert.equal(again.code, 0, again.error);
    assert.match(again.text, /nothing to change/);
    assert.equal(api.writes().length, before, 'zero write requests');
  } finally { await api.close(); }
});

test('setup without any key source never changes the keys the tenant lists, and still repairs the rest', async () => {
  const api = await startManagementApi(await setUpTenant({}, (t) => { realmConnection(t).options.import_mode = true; }));
  try {
    const noKeys = { BRIDGE_PUBLIC_KEYS: undefined };
    const repaired = await runWith(api, noKeys, 'setup');
    assert.equal(repaired.code, 0, repaired.error);
    assert.equal(realmConnection(api.tenant).options.import_mode, false);
    assert.deepEqual(settingsOf(loginScriptOf(api)).BRIDGE_PUBLIC_KEYS.map((k) => k.kid), [KEY.jwk.kid], 'the same key');
    const before = api.writes().length;
    assert.match((await runWith(api, noKeys, 'setup')).text, /nothing to change/);
    assert.equal(api.writes().length, before);
    assert.doesNotMatch(repaired.text, /BRIDGE_SIGNING_KEY|PRIVATE KEY/, 'no key is made');
  } finally { await api.close(); }
});

test('without a key source, setup on a tenant with no script refuses with one line, and writes nothing', async () => {
  const api = await startManagementApi();
  try {
    const refused = await runWith(api, { BRIDGE_PUBLIC_KEYS: undefined }, 'setup');
    assert.match(refused.error, /lists no public keys of the bridge, and this run was given none\. Fix: run with --stack/);
    assert.doesNotMatch(refused.error, /\n/);
    assert.deepEqual(api.writes(), []);
  } finally { await api.close(); }
});

test('check without a key source says the keys were not compared: a warning, not a finding', async () => {
  const api = await startManagementApi(await setUpTenant());
  try {
    const audit = await runWith(api, { BRIDGE_PUBLIC_KEYS: undefined }, 'check');
    assert.equal(audit.code, 0, audit.text);
    assert.match(audit.text, /\| WARNING +\| the Login script's keys are the bridge's +\| not compared: this run was given no key source/);
    assert.match(audit.text, /1 warning\(s\)/);
  } finally { await api.close(); }
});

test('--dry-run prints the changes and writes nothing', async () => {
  const api = await startManagementApi(await setUpTenant({}, (t) => {
    bridgeApp(t).callbacks = ['https://evil.example/cb'];
    t.enabledClients[realmConnection(t).id].push('cli_spa');
  }));
  try {
    const { code, text } = await run(api, 'setup', '--dry-run');
    assert.equal(code, 0);
    assert.match(text, /would update application "Authsignal bridge \(authsignal-auth0-bridge-staging\)": callbacks/);
    assert.match(text, /would update connection authsignal: enabled applications: disable cli_spa/);
    assert.deepEqual(api.writes(), []);
  } finally { await api.close(); }
});

// Every unsafe tenant: [name, what makes it so, the row's check text, the variables setup needs
// to repair it (beyond the test's own)].
const UNSAFE = [
  ['the connection enabled for another application', (t) => { t.enabledClients[realmConnection(t).id].push('cli_spa'); }, 'connection enabled for the bridge only'],
  ['import mode on', (t) => { realmConnection(t).options.import_mode = true; }, 'import mode off'],
  ['sign-ups open', (t) => { realmConnection(t).options.disable_signup = false; }, 'sign-ups disabled'],
  ['brute-force protection off', (t) => { realmConnection(t).options.brute_force_protection = false; }, 'brute-force protection on'],
  ['another application with the password grant that has the connection', (t) => {
    t.clients.find((c) => c.client_id === 'cli_spa').grant_types.push('password');
    t.enabledClients[realmConnection(t).id].push('cli_spa');
  }, 'no other application reaches the connection with a password grant'],
  ['the bridge application has callbacks', (t) => { bridgeApp(t).callbacks = ['https://x.example/cb']; }, 'bridge application: its grants only, no callbacks'],
  ['the bridge application has more grants', (t) => { bridgeApp(t).grant_types.push('authorization_code'); }, 'bridge application: its grants only, no callbacks'],
  ['the bridge application made public', (t) => { bridgeApp(t).token_endpoint_auth_method = 'none'; }, 'bridge application is confidential'],
  ['the bridge application made native', (t) => { bridgeApp(t).app_type = 'native'; }, 'bridge application is confidential'],
  ['cross-origin authentication on', (t) => { bridgeApp(t).cross_origin_authentication = true; }, 'cross-origin authentication off'],
  ['the bridge application has another connection (a new application gets them all)', (t) => {
    t.enabledClients.con_upa.push(bridgeApp(t).client_id);
  }, 'bridge application has the bridge\'s connection only'],
  ['the IP header not trusted', (t) => { bridgeApp(t).is_token_endpoint_ip_header_trusted = false; }, 'end-user IP trusted'],
  ['refresh-token rotation off', (t) => { bridgeApp(t).refresh_token.rotation_type = 'non-rotating'; }, 'refresh tokens rotate and expire'],
  ['refresh-token expiry off', (t) => { bridgeApp(t).refresh_token.expiration_type = 'non-expiring'; }, 'refresh tokens rotate and expire'],
  ['ten-year refresh-token lifetimes', (t) => {
    Object.assign(bridgeApp(t).refresh_token, { token_lifetime: 315360000, idle_token_lifetime: 315360000, infinite_token_lifetime: false, infinite_idle_token_lifetime: false });
  }, 'refresh-token lifetimes within Auth0\'s defaults'],
  ['a 60-day idle lifetime', (t) => { bridgeApp(t).refresh_token.idle_token_lifetime = 5184000; }, 'refresh-token lifetimes within Auth0\'s defaults'],
  ['no API allowing offline access', (t) => { t.resourceServers[0].allow_offline_access = false; }, 'an API allows offline access'],
  ['no API at all', (t) => { t.resourceServers = []; }, 'an API allows offline access'],
  ['the script edited by hand', (t) => {
    realmConnection(t).options.customScripts.login = 'function login(u, p, cb) { cb(null, {user_id: u}); }';
  }, 'Login script is the one setup writes'],
  ['code added inside the settings block', (t) => {
    const connection = realmConnection(t);
    connection.options.customScripts.login = connection.options.customScripts.login
      .replace('  // ---- END settings generated', '  BRIDGE_SETTINGS.BRIDGE_PUBLIC_KEYS.push({});\n  // ---- END settings generated');
  }, 'Login script is the one setup writes'],
  ['the bridge\'s key replaced by another', (t) => { editScript(t, (s) => { s.BRIDGE_PUBLIC_KEYS = [OTHER_KEY.jwk]; }); }, 'the Login script lists only keys the bridge holds'],
  ['another key appended', (t) => { editScript(t, (s) => { s.BRIDGE_PUBLIC_KEYS.push(OTHER_KEY.jwk); }); }, 'the Login script lists only keys the bridge holds'],
  ['the bridge\'s key missing', (t) => { editScript(t, (s) => { s.BRIDGE_PUBLIC_KEYS = [OTHER_KEY.jwk]; }); }, 'the Login script lists every key the bridge holds'],
  ['no usable key', (t) => { editScript(t, (s) => { s.BRIDGE_PUBLIC_KEYS = []; }); }, 'the Login script lists the bridge\'s public keys'],
  ['another issuer expected', (t) => { editScript(t, (s) => { s.BRIDGE_ISSUER = 'someone-else'; }); }, 'assertion issuer and audience match the bridge'],
  ['another audience expected', (t) => { editScript(t, (s) => { s.BRIDGE_AUDIENCE = 'other-realm'; }); }, 'assertion issuer and audience match the bridge'],
  ['STRIP_PROVIDER_PREFIX on in the script', (t) => { editScript(t, (s) => { s.STRIP_PROVIDER_PREFIX = true; }); },
    'user ids are Authsignal\'s, unchanged', { STRIP_PROVIDER_PREFIX: 'false' }],
  ['STRIP_PROVIDER_PREFIX in the connection\'s (encrypted) settings', (t) => {
    realmConnection(t).options.configuration = { STRIP_PROVIDER_PREFIX: 'true' };
  }, 'user ids are Authsignal\'s, unchanged'],
  ['an Authsignal secret in the connection', (t) => { realmConnection(t).options.configuration = { AUTHSIGNAL_SECRET: 'sk_live' }; }, 'no Authsignal secret in the connection'],
  ['no connection', (t) => { t.connections = t.connections.filter((c) => c.name !== 'authsignal'); t.enabledClients = { con_upa: t.enabledClients.con_upa }; }, 'connection exists'],
  ['no application', (t) => {
    const id = bridgeApp(t).client_id;
    t.clients = t.clients.filter((c) => c.client_id !== id);
    for (const list of Object.values(t.enabledClients)) list.splice(0, list.length, ...list.filter((c) => c !== id));
  }, 'application exists']
];

test('a tenant as setup leaves it passes every row', async () => {
  const api = await startManagementApi(await setUpTenant());
  try {
    const { code, text } = await run(api, 'check');
    assert.equal(code, 0, text);
    for (const [, , check] of UNSAFE) assert.match(text, okRow(check), check);
  } finally { await api.close(); }
});

for (const [name, change, check, repairWith = {}] of UNSAFE) {
  test(`check finds, and setup repairs: ${name}`, async () => {
    const api = await startManagementApi(await setUpTenant({}, change), { buildReads: 0 });
    try {
      const found = await run(api, 'check');
      assert.equal(found.code, 1, found.error || found.text);
      assert.match(found.text, failingRow(check), found.text);
      const repaired = await runWith(api, repairWith, 'setup');
      assert.equal(repaired.code, 0, repaired.error || repaired.text);
      const after = await run(api, 'check');
      assert.equal(after.code, 0, after.text);
      const stored = realmConnection(api.tenant).options.configuration || {};
      assert.ok(!Object.values(stored).some(isEncrypted), 'nothing read back encrypted was written');
    } finally { await api.close(); }
  });
}

test('STRIP_PROVIDER_PREFIX on: setup keeps what the script says unless told, and check keeps saying so', async () => {
  const api = await startManagementApi(await setUpTenant({ STRIP_PROVIDER_PREFIX: 'true' }));
  try {
    assert.equal(settingsOf(loginScriptOf(api)).STRIP_PROVIDER_PREFIX, true);
    assert.match((await run(api, 'setup')).text, /nothing to change/, 'not turned off behind the operator\'s back');
    assert.match((await run(api, 'check')).text, /\| UNSAFE +\| user ids are Authsignal's, unchanged +\| STRIP_PROVIDER_PREFIX is on/);
  } finally { await api.close(); }
});

// ---- settings Auth0 shows encrypted ----------------------------------------------------------

// A connection as the setup before the generated block left it: the shipped script of then
// (no settings block) and the settings in the connection, plus some it did not manage.
function olderSetup(t) {
  const connection = realmConnection(t);
  connection.options.customScripts.login = 'function login(identifierValue, password, context, callback) { /* an older script */ }';
  connection.options.configuration = {
    BRIDGE_PUBLIC_KEYS: PUBLIC_KEYS, BRIDGE_ISSUER: 'authsignal-auth0-bridge', BRIDGE_AUDIENCE: 'authsignal', CUSTOM_FLAG: 'x'
  };
  connection.options.passwordPolicy = 'good';
}

test('a tenant of the older setup: check reads no keys from the encrypted settings, setup moves them into the code and never writes ciphertext', async () => {
  const api = await startManagementApi(await setUpTenant({}, olderSetup));
  try {
    const shown = await fetch(`${api.url}/api/v2/connections/${realmConnection(api.tenant).id}`, { headers: { authorization: `Bearer ${api.token}` } });
    assert.ok(isEncrypted((await shown.json()).options.configuration.BRIDGE_PUBLIC_KEYS), 'the stand-in shows settings encrypted, as Auth0 does');
    const found = await run(api, 'check');
    assert.equal(found.code, 1);
    assert.match(found.text, failingRow('Login script is the one setup writes'));
    assert.match(found.text, failingRow('the Login script lists the bridge\'s public keys'));
    assert.match(found.text, /\| WARNING +\| no settings the script does not read +\| the connection holds BRIDGE_PUBLIC_KEYS, BRIDGE_ISSUER, BRIDGE_AUDIENCE, CUSTOM_FLAG \(present, not readable\)/);
    // Without a key source there is nothing to put in the code: refused, nothing written.
    const refused = await runWith(api, { BRIDGE_PUBLIC_KEYS: undefined }, 'setup');
    assert.match(refused.error, /lists no public keys of the bridge/);
    assert.deepEqual(api.writes(), []);
    assert.equal((await run(api, 'setup')).code, 0);
    const { options } = realmConnection(api.tenant);
    assert.equal(options.configuration, undefined, 'the settings are dropped, not written back as ciphertext');
    assert.equal(options.passwordPolicy, 'good', 'Auth0 replaces options whole: setup sends back what it does not manage');
    assert.deepEqual(settingsOf(options.customScripts.login).BRIDGE_PUBLIC_KEYS.map((k) => k.kid), [KEY.jwk.kid]);
    assert.equal(settingsOf(options.customScripts.login).STRIP_PROVIDER_PREFIX, false, 'the older script had keys: ids were not stripped');
    assert.equal((await run(api, 'check')).code, 0);
  } finally { await api.close(); }
});

test('an older connection with STRIP_PROVIDER_PREFIX in its encrypted settings: setup refuses to guess, then takes the operator\'s word', async () => {
  const api = await startManagementApi(await setUpTenant({}, (t) => {
    olderSetup(t);
    realmConnection(t).options.configuration.STRIP_PROVIDER_PREFIX = 'true';
  }));
  try {
    const refused = await run(api, 'setup');
    assert.match(refused.error, /hold STRIP_PROVIDER_PREFIX, which Auth0 shows only encrypted\. Fix: say what it is: STRIP_PROVIDER_PREFIX=false/);
    assert.deepEqual(api.writes(), []);
    assert.equal((await runWith(api, { STRIP_PROVIDER_PREFIX: 'true' }, 'setup')).code, 0);
    assert.equal(settingsOf(loginScriptOf(api)).STRIP_PROVIDER_PREFIX, true);
    assert.equal(realmConnection(api.tenant).options.configuration, undefined);
  } finally { await api.close(); }
});

// SignInProof=authsignal-token: the connection needs its Authsignal settings, which Auth0 shows
// only encrypted.
const TOKEN_PROOF = { SignInProof: 'authsignal-token', BRIDGE_PUBLIC_KEYS: undefined };
const AUTHSIGNAL = { AUTHSIGNAL_SECRET: 'sk_live_given', AUTHSIGNAL_CONNECT_URL: 'https://us.connect.authsignal.com' };

test('authsignal-token: settings are written only when given, never copied back; a second run with them writes nothing', async () => {
  const api = await startManagementApi();
  try {
    const refused = await runWith(api, TOKEN_PROOF, 'setup');
    assert.match(refused.error, /is new, and Auth0 shows its settings only encrypted: they are never copied back\. Fix: give AUTHSIGNAL_SECRET and AUTHSIGNAL_CONNECT_URL/);
    assert.deepEqual(api.writes(), []);
    assert.equal((await runWith(api, { ...TOKEN_PROOF, ...AUTHSIGNAL }, 'setup')).code, 0);
    assert.deepEqual(realmConnection(api.tenant).options.configuration, AUTHSIGNAL);
    assert.equal(settingsOf(loginScriptOf(api)).BRIDGE_PUBLIC_KEYS, undefined, 'the Authsignal token design');
    assert.ok(!loginScriptOf(api).includes('sk_live_given'), 'the secret is not in the code');
    const before = api.writes().length;
    assert.match((await runWith(api, { ...TOKEN_PROOF, ...AUTHSIGNAL }, 'setup')).text, /nothing to change/);
    assert.match((await runWith(api, TOKEN_PROOF, 'setup')).text, /nothing to change/);
    assert.equal(api.writes().length, before, 'zero writes: the note in the script says the settings are there');
    const audit = await runWith(api, TOKEN_PROOF, 'check');
    assert.equal(audit.code, 0, audit.text);
    assert.match(audit.text, /\| ok +\| the connection's Authsignal settings +\| present, not readable/);
    // New values are written (a rotated Authsignal key), as given.
    assert.equal((await runWith(api, { ...TOKEN_PROOF, ...AUTHSIGNAL, AUTHSIGNAL_SECRET: 'sk_live_new' }, 'setup')).code, 0);
    assert.equal(realmConnection(api.tenant).options.configuration.AUTHSIGNAL_SECRET, 'sk_live_new');
  } finally { await api.close(); }
});

test('authsignal-token: a drifted connection is not rewritten without the settings (which would lose them)', async () => {
  const api = await startManagementApi();
  try {
    assert.equal((await runWith(api, { ...TOKEN_PROOF, ...AUTHSIGNAL, STRIP_PROVIDER_PREFIX: 'true' }, 'setup')).code, 0);
    realmConnection(api.tenant).options.import_mode = true;
    const before = api.writes().length;
    const refused = await runWith(api, TOKEN_PROOF, 'setup');
    assert.match(refused.error, /must be written \(options\.import_mode\).*Fix: give AUTHSIGNAL_SECRET and AUTHSIGNAL_CONNECT_URL/);
    assert.equal(api.writes().length, before);
    assert.equal((await runWith(api, { ...TOKEN_PROOF, ...AUTHSIGNAL }, 'setup')).code, 0);
    const { options } = realmConnection(api.tenant);
    assert.equal(options.import_mode, false);
    assert.deepEqual(options.configuration, AUTHSIGNAL, 'the plain values given, not ciphertext');
    assert.equal(settingsOf(options.customScripts.login).STRIP_PROVIDER_PREFIX, true, 'kept as the script said');
  } finally { await api.close(); }
});

// ---- the application and its connections -----------------------------------------------------

test('a new application gets every connection (enable_client_connections): setup disables the others for it at once', async () => {
  const api = await startManagementApi({
    connections: [{ id: 'con_upa', name: 'Username-Password-Authentication', strategy: 'auth0', options: {} },
      { id: 'con_google', name: 'google-oauth2', strategy: 'google-oauth2', options: {} }],
    enabledClients: { con_upa: [], con_google: [] }
  });
  try {
    assert.equal((await run(api, 'setup')).code, 0);
    const application = bridgeApp(api.tenant);
    assert.deepEqual(api.tenant.enabledClients.con_upa, [], 'Auth0 enabled it; setup disabled it');
    assert.deepEqual(api.tenant.enabledClients.con_google, []);
    assert.deepEqual(api.tenant.enabledClients[realmConnection(api.tenant).id], [application.client_id]);
    assert.equal((await run(api, 'check')).code, 0);
  } finally { await api.close(); }
});

test('a create retried after a failure makes no second application: the next run finds it by its marker', async () => {
  const api = await startManagementApi({}, { failOnce: (r) => r.method === 'POST' && r.path.startsWith('/api/v2/resource-servers') });
  try {
    const failed = await run(api, 'setup');
    assert.match(failed.error, /creating the API https:\/\/api\.example\.com: Auth0 answered 503/);
    bridgeApp(api.tenant).name = 'Renamed by someone';
    assert.equal((await run(api, 'setup')).code, 0);
    assert.equal(api.tenant.clients.length, 1, 'one application');
    assert.equal(api.tenant.clients[0].name, desired.APPLICATION_NAME({ stackName: STACK }), 'its name put back');
  } finally { await api.close(); }
});

test('other applications with the password grant: reported only when they reach the connection; changed only when asked', async () => {
  const spaWithPassword = (t) => { t.clients.find((c) => c.client_id === 'cli_spa').grant_types.push('password'); };
  const apart = await startManagementApi(await setUpTenant({}, spaWithPassword));
  try {
    assert.equal((await run(apart, 'check')).code, 0, 'it cannot reach the bridge\'s connection');
  } finally { await apart.close(); }
  const reaching = (t) => { spaWithPassword(t); t.enabledClients[realmConnection(t).id].push('cli_spa'); };
  const api = await startManagementApi(await setUpTenant({}, reaching));
  try {
    assert.equal((await run(api, 'setup')).code, 0);
    const spa = () => api.tenant.clients.find((c) => c.client_id === 'cli_spa');
    assert.deepEqual(spa().grant_types, ['authorization_code', 'password'], 'not changed without the flag');
    assert.ok(!api.tenant.enabledClients[realmConnection(api.tenant).id].includes('cli_spa'), 'but the connection is disabled for it');
  } finally { await api.close(); }
  const fixed = await startManagementApi(await setUpTenant({}, reaching));
  try {
    const dry = await run(fixed, 'setup', '--dry-run', '--fix-other-applications');
    assert.match(dry.text, /would update application "Marketing SPA": grant_types: remove password/);
    assert.equal((await run(fixed, 'setup', '--fix-other-applications')).code, 0);
    const spa = fixed.tenant.clients.find((c) => c.client_id === 'cli_spa');
    assert.deepEqual(spa.grant_types, ['authorization_code']);
    assert.deepEqual(spa.callbacks, ['https://example.com/cb'], 'nothing else of it changes');
  } finally { await fixed.close(); }
});

test('a tenant that lists enabled clients on the connection itself is audited and repaired the same way', async () => {
  const api = await startManagementApi({ ...(await setUpTenant({}, (t) => { t.enabledClients[realmConnection(t).id].push('cli_spa'); })), legacyEnabledClients: true });
  try {
    const found = await run(api, 'check');
    assert.equal(found.code, 1);
    assert.match(found.text, /\| UNSAFE +\| connection enabled for the bridge only .*"Marketing SPA"/);
    assert.equal((await run(api, 'setup')).code, 0);
    assert.deepEqual(api.tenant.enabledClients[realmConnection(api.tenant).id], [bridgeApp(api.tenant).client_id]);
    assert.equal((await run(api, 'check')).code, 0);
  } finally { await api.close(); }
});

test('an application made by hand is adopted through AUTH0_CLIENT_ID, keeping its name and metadata, instead of made again', async () => {
  const api = await startManagementApi(await setUpTenant({}, (t) => {
    const application = bridgeApp(t);
    Object.assign(application, { name: 'Passkey backend (made by hand)', callbacks: ['https://app.example/cb'], is_token_endpoint_ip_header_trusted: false, client_metadata: { team: 'identity' } });
  }));
  const adopt = (...argv) => runWith(api, { AUTH0_CLIENT_ID: api.tenant.clients[0].client_id }, ...argv);
  try {
    const found = await adopt('check');
    assert.equal(found.code, 1);
    assert.match(found.text, okRow('application exists'));
    assert.match(found.text, failingRow('end-user IP trusted'));
    assert.equal((await adopt('setup')).code, 0);
    assert.equal(api.tenant.clients.length, 2, 'no second application');
    const adopted = api.tenant.clients[0];
    assert.equal(adopted.name, 'Passkey backend (made by hand)');
    assert.deepEqual(adopted.client_metadata, { team: 'identity', [desired.STACK_MARKER]: STACK });
    assert.deepEqual(adopted.callbacks, []);
    assert.equal((await adopt('check')).code, 0);
    assert.match((await runWith(api, { AUTH0_CLIENT_ID: 'cli_nowhere' }, 'setup')).error, /AUTH0_CLIENT_ID names no application/);
  } finally { await api.close(); }
});

test('with the password grant, the Default Directory is checked and set to the connection', async () => {
  const api = await startManagementApi(await setUpTenant({}, (t) => {
    bridgeApp(t).grant_types = ['password', 'refresh_token'];
    t.settings = { default_directory: 'Username-Password-Authentication' };
  }));
  const runPassword = (...argv) => runWith(api, { Auth0GrantType: 'password' }, ...argv);
  try {
    const found = await runPassword('check');
    assert.equal(found.code, 1);
    assert.match(found.text, /\| BROKEN +\| the Default Directory is the connection .*Username-Password-Authentication/);
    assert.equal((await runPassword('setup')).code, 0);
    assert.equal(api.tenant.settings.default_directory, 'authsignal');
    assert.equal((await runPassword('check')).code, 0);
  } finally { await api.close(); }
});

test('with Dpop=required, setup makes Auth0 require proof of possession and check holds it there', async () => {
  const api = await startManagementApi(await setUpTenant());
  const runDpop = (...argv) => runWith(api, { Dpop: 'required' }, ...argv);
  try {
    assert.doesNotMatch((await run(api, 'check')).text, /tokens bound to the app's key/);
    const found = await runDpop('check');
    assert.equal(found.code, 1, found.text);
    assert.match(found.text, /\| UNSAFE +\| tokens bound to the app's key +\| Dpop=required, but the application does not require proof of possession/);
    assert.equal((await runDpop('setup')).code, 0);
    assert.equal(bridgeApp(api.tenant).require_proof_of_possession, true);
    assert.equal((await runDpop('check')).code, 0);
  } finally { await api.close(); }
});

// ---- inputs: samconfig.toml, the token, the domain -------------------------------------------

test('samconfig.toml as SAM reads it: one string with SAM\'s quoting, and list items cut at spaces', async () => {
  const api = await startManagementApi();
  try {
    const oneString = samconfigFile('one-string.toml',
      '"Auth0Domain=tenant.example.auth0.com Auth0Realm=passkeys Auth0Scope=\\"openid offline_access\\" Auth0Audience=https://api.example.com"');
    const dry = await runWith(api, { SAMCONFIG: oneString }, 'setup', '--dry-run');
    assert.equal(dry.code, 0, dry.error);
    assert.match(dry.text, /would create connection passkeys/);
    assert.match(dry.text, /would create API https:\/\/api\.example\.com/, 'offline_access in the quoted scope');
    // SAM gives "Auth0Scope=openid offline_access" as a list item the value "openid" (its
    // regex stops at the space): no refresh tokens, so no API.
    const unquoted = samconfigFile('unquoted.toml', '["Auth0Domain=tenant.example.auth0.com", "Auth0Scope=openid offline_access"]');
    const asSam = await runWith(api, { SAMCONFIG: unquoted }, 'setup', '--dry-run');
    assert.doesNotMatch(asSam.text, /would create API/);
    const broken = samconfigFile('broken.toml', '[ "unterminated ');
    assert.match((await runWith(api, { SAMCONFIG: broken }, 'check')).error, /^samconfig\.toml is not valid TOML .*Fix: correct the file\.$/);
  } finally { await api.close(); }
});

test('the client-credentials token\'s audience is the canonical tenant domain, also through AUTH0_MANAGEMENT_API_URL and with a custom domain', async () => {
  const api = await startManagementApi(await setUpTenant());
  const credentials = { AUTH0_MANAGEMENT_TOKEN: undefined, AUTH0_MANAGEMENT_CLIENT_ID: api.m2m.client_id, AUTH0_MANAGEMENT_CLIENT_SECRET: api.m2m.client_secret };
  try {
    const audit = await runWith(api, credentials, 'check');
    assert.equal(audit.code, 0, audit.error || audit.text);
    const tokenRequest = api.requests.find((r) => r.path === '/oauth/token');
    assert.equal(tokenRequest.form.audience, 'https://tenant.example.auth0.com/api/v2/', 'not the stand-in\'s host');
    const custom = { ...credentials, Auth0Domain: 'login.example.com' };
    assert.match((await runWith(api, custom, 'check')).error, /Auth0Domain login\.example\.com is a custom domain.*Fix: set AUTH0_TENANT_DOMAIN/);
    assert.equal((await runWith(api, { ...custom, AUTH0_TENANT_DOMAIN: 'tenant.example.auth0.com' }, 'check')).code, 0);
  } finally { await api.close(); }
});

test('the token\'s scopes are compared before any write, and every missing one is named at once', async () => {
  const lacking = ALL_SCOPES.filter((s) => !['create:clients', 'create:resource_servers', 'update:connections'].includes(s));
  const api = await startManagementApi({}, { scopes: lacking });
  try {
    for (const credentials of [{}, { AUTH0_MANAGEMENT_TOKEN: undefined, AUTH0_MANAGEMENT_CLIENT_ID: api.m2m.client_id, AUTH0_MANAGEMENT_CLIENT_SECRET: api.m2m.client_secret }]) {
      const refused = await runWith(api, credentials, 'setup');
      assert.match(refused.error, /the Management API token lacks create:clients, update:connections, create:resource_servers \(for the changes above; nothing was written\)\. Fix: grant them/);
      assert.deepEqual(api.writes(), []);
    }
    const reads = await startManagementApi({}, { scopes: ['read:clients'] });
    try {
      const check = await runWith(reads, { Auth0GrantType: 'token-exchange', Auth0SubjectTokenType: 'urn:acme:a' }, 'check');
      assert.match(check.error, /lacks read:connections, read:resource_servers, read:actions, read:token_exchange_profiles \(to read the tenant\)/);
    } finally { await reads.close(); }
  } finally { await api.close(); }
});

test('a 429 is waited out until x-ratelimit-reset, and the run goes on with each write made once', async () => {
  const api = await startManagementApi({}, { rateLimited: 2 });
  try {
    const started = Date.now();
    const done = await run(api, 'setup');
    assert.equal(done.code, 0, done.error);
    assert.ok(Date.now() - started >= 500, 'it waited for the reset');
    assert.equal(api.requests.filter((r) => r.method === 'POST' && r.path === '/api/v2/clients').length, 1);
    assert.equal(api.tenant.clients.length, 1);
  } finally { await api.close(); }
});

test('every Management API failure is one line: what was done, Auth0\'s answer, the fix', async () => {
  const api = await startManagementApi();
  try {
    const wrong = await runWith(api, { AUTH0_MANAGEMENT_TOKEN: undefined, AUTH0_MANAGEMENT_CLIENT_ID: 'nobody', AUTH0_MANAGEMENT_CLIENT_SECRET: 'x' }, 'check');
    assert.equal(wrong.error, 'getting a Management API token: Auth0 answered 401 access_denied: Unauthorized. ' +
      'Fix: check AUTH0_MANAGEMENT_CLIENT_ID and AUTH0_MANAGEMENT_CLIENT_SECRET, or get a fresh AUTH0_MANAGEMENT_TOKEN.');
    const expired = await runWith(api, { AUTH0_MANAGEMENT_TOKEN: 'expired' }, 'check');
    assert.match(expired.error, /^reading the database connections: Auth0 answered 401 Unauthorized: Invalid token\. Fix: check/);
    for (const failure of [wrong, expired]) {
      assert.equal(failure.errorName, 'OperatorError');
      assert.doesNotMatch(failure.error, /\n|Status code|Body:|at .*\.js/);
    }
  } finally { await api.close(); }
});

test('the commands as run from make: exit codes, one line on stderr, no stack trace', async () => {
  const api = await startManagementApi(await setUpTenant({}, (t) => { realmConnection(t).options.import_mode = true; }));
  const cli = (environment, ...argv) => new Promise((resolve) => {
    const child = require('node:child_process').spawn(process.execPath, [path.join(__dirname, 'tenant.js'), ...argv], {
      env: {
        PATH: process.env.PATH, SAMCONFIG: samconfig, BRIDGE_PUBLIC_KEYS: PUBLIC_KEYS, AUTH0_MANAGEMENT_API_URL: `${api.url}/api/v2`,
        AUTH0_MANAGEMENT_CLIENT_ID: api.m2m.client_id, AUTH0_MANAGEMENT_CLIENT_SECRET: api.m2m.client_secret, ...environment
      }
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  try {
    const found = await cli({}, 'check');
    assert.equal(found.code, 1, found.stderr);
    assert.match(found.stdout, /\| UNSAFE +\| import mode off/);
    const dry = await cli({}, 'setup', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /would update connection authsignal: options\.import_mode/);
    assert.deepEqual(api.writes(), []);
    assert.equal((await cli({}, 'setup')).code, 0);
    assert.equal((await cli({}, 'check')).code, 0);
    const wrong = await cli({}, 'frobnicate');
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /^auth0 tenant: usage: tenant\.js setup/);
    const refused = await cli({ AUTH0_MANAGEMENT_CLIENT_SECRET: 'wrong' }, 'check');
    assert.equal(refused.code, 2);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.match(refused.stderr, /^auth0 tenant: getting a Management API token: Auth0 answered 401/);
    // No answer at all (run here, not in the test's process: the SDK leaves a 60 s timer behind
    // a failed fetch, which only holds up a process that does not exit at once, as the CLI does).
    const gone = await cli({ AUTH0_MANAGEMENT_API_URL: 'http://127.0.0.1:9/api/v2', AUTH0_MANAGEMENT_TOKEN: api.token }, 'check');
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /^auth0 tenant: reading the database connections: no answer from the Management API \(.*\)\. Fix: check Auth0Domain.*\n$/);
  } finally { await api.close(); }
});

// ---- Custom Token Exchange ---------------------------------------------------------------------

const SUBJECT_TOKEN_TYPE = 'urn:acme:authsignal-bridge-assertion';
const EXCHANGE = { Auth0GrantType: 'token-exchange', Auth0SubjectTokenType: SUBJECT_TOKEN_TYPE };
const runExchange = (api, ...argv) => runWith(api, EXCHANGE, ...argv);
const actionOf = (api) => api.tenant.actions[0];

test('token exchange: setup on an empty tenant makes the database, the application, the Action (built, then deployed) and its profile', async () => {
  const api = await startManagementApi({}, { buildReads: 3 });
  try {
    const { code, text, error } = await runExchange(api, 'setup');
    assert.equal(code, 0, error || text);
    const [connection] = api.tenant.connections;
    assert.equal(connection.options.enabledDatabaseCustomization, false);
    assert.equal(connection.options.customScripts, undefined, 'no Login script');
    const [application] = api.tenant.clients;
    assert.deepEqual(application.grant_types, [desired.TOKEN_EXCHANGE, 'refresh_token']);
    assert.deepEqual(application.token_exchange, { allow_any_profile_of_type: ['custom_authentication'] });
    const action = actionOf(api);
    assert.equal(action.code, generatedCode('action', {
      BRIDGE_PUBLIC_KEYS: [KEY.jwk], BRIDGE_ISSUER: ISSUER, BRIDGE_AUDIENCE: AUDIENCE,
      BRIDGE_CONNECTION: 'authsignal', BRIDGE_CLIENT_ID: application.client_id
    }), 'every setting in the code');
    assert.equal(action.secrets, undefined, 'no secrets');
    assert.equal(action.all_changes_deployed, true, 'deployed once built');
    const [profile] = api.tenant.profiles;
    assert.deepEqual([profile.subject_token_type, profile.action_id], [SUBJECT_TOKEN_TYPE, action.id]);
    assert.ok(profile.name.length <= 50, profile.name);
    assert.match(text, /"Auth0GrantType=token-exchange", "Auth0SubjectTokenType=urn:acme:authsignal-bridge-assertion"/);
    const audit = await runExchange(api, 'check');
    assert.equal(audit.code, 0, audit.text);
    assert.doesNotMatch(audit.text, /Login script/);
    const before = api.writes().length;
    assert.match((await runExchange(api, 'setup')).text, /nothing to change/);
    assert.equal(api.writes().length, before, 'a second run writes nothing');
  } finally { await api.close(); }
});

test('the stand-in refuses to deploy an Action that is still building, as Auth0 does', async () => {
  const api = await startManagementApi({}, { buildReads: 5 });
  try {
    const post = (p, body) => fetch(`${api.url}/api/v2/${p}`, { method: 'POST', headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const action = await (await post('actions/actions', { name: 'a', supported_triggers: [desired.ACTION_TRIGGER], code: 'x' })).json();
    assert.equal(action.status, 'pending');
    const early = await post(`actions/actions/${action.id}/deploy`, {});
    assert.equal(early.status, 400);
    assert.equal((await early.json()).message, 'A draft must be in the \'built\' state before it can be deployed.');
  } finally { await api.close(); }
});

test('token exchange: an Action that does not build in time is one line naming the wait, and the next run deploys it', async () => {
  const api = await startManagementApi({}, { buildReads: 1000 });
  try {
    const slow = await runWith(api, { ...EXCHANGE, AUTH0_ACTION_BUILD_TIMEOUT_SECONDS: '0.05' }, 'setup');
    assert.match(slow.error, /^building the Action authsignal-bridge-token-exchange-.*: still pending after 0 s\. Fix: run the command again later/);
    assert.equal(actionOf(api).all_changes_deployed, false);
    actionOf(api).readsUntilBuilt = 0;
    assert.equal((await runExchange(api, 'setup')).code, 0);
    assert.equal(actionOf(api).all_changes_deployed, true);
  } finally { await api.close(); }
});

test('names fit Auth0\'s limits for any stack name the template allows, and stay apart', async () => {
  const api = await startManagementApi();
  try {
    const names = [];
    for (const stack of ['x'.repeat(128), `${'x'.repeat(127)}y`]) {
      const done = await runWith(api, { ...EXCHANGE, StackName: stack }, 'setup');
      assert.equal(done.code, 0, done.error);
      names.push(api.tenant.profiles.at(-1).name);
      api.tenant.profiles = [];
    }
    assert.ok(names.every((n) => n.length >= 3 && n.length <= 50), names.join());
    assert.notEqual(names[0], names[1]);
    assert.equal(desired.PROFILE_NAME({ stackName: STACK }).length, 50, 'the staging stack\'s name is cut to 50');
    assert.ok(api.tenant.clients.every((c) => c.name.length <= desired.NAME_MAX));
    assert.ok(api.tenant.actions.every((a) => a.name.length <= desired.NAME_MAX));
  } finally { await api.close(); }
});

// A tenant as setup leaves it for token exchange.
const exchangeTenant = (change) => setUpTenant(EXCHANGE, change);
const editAction = (t, edit) => {
  const read = readSettings(t.actions[0].code);
  edit(read.settings);
  t.actions[0].code = generatedCode('action', read.settings, read.notes);
};

// Drift of the token exchange set-up: [name, change to the set-up tenant, the row's check text].
const EXCHANGE_DRIFT = [
  ['the Action\'s code changed', (t) => { t.actions[0].code = 'exports.onExecuteCustomTokenExchange = async (e, api) => api.authentication.setUserById(e.transaction.subject_token);'; }, 'Action is the one setup writes'],
  ['the Action not deployed', (t) => { t.actions[0].all_changes_deployed = false; }, 'Action built and deployed'],
  ['the Action\'s key replaced', (t) => { editAction(t, (s) => { s.BRIDGE_PUBLIC_KEYS = [OTHER_KEY.jwk]; }); }, 'the Action lists only keys the bridge holds'],
  ['the Action\'s BRIDGE_CLIENT_ID blank', (t) => { editAction(t, (s) => { s.BRIDGE_CLIENT_ID = '   '; }); }, 'Action admits the bridge\'s application only'],
  ['the Action\'s BRIDGE_CLIENT_ID another application\'s', (t) => { editAction(t, (s) => { s.BRIDGE_CLIENT_ID = 'cli_spa'; }); }, 'Action admits the bridge\'s application only'],
  ['a whitespace BRIDGE_CLIENT_ID in the Action\'s secrets', (t) => { t.actions[0].secrets = [{ name: 'BRIDGE_CLIENT_ID', value: '  ' }]; }, 'the Action holds no secrets'],
  ['an Authsignal secret in the Action', (t) => { t.actions[0].secrets = [{ name: 'AUTHSIGNAL_SECRET', value: 'sk' }]; }, 'the Action holds no secrets'],
  ['no profile', (t) => { t.profiles = []; }, 'token exchange profile runs the Action'],
  ['a profile running another Action', (t) => { t.actions.push({ id: 'act_other', name: 'other' }); t.profiles[0].action_id = 'act_other'; }, 'token exchange profile runs the Action'],
  ['the application without token exchange', (t) => { delete bridgeApp(t).token_exchange; }, 'application may use token exchange profiles'],
  ['a Login script left on the connection, with the Authsignal secret', (t) => {
    Object.assign(realmConnection(t).options, {
      enabledDatabaseCustomization: true,
      customScripts: { login: 'function login(u, p, cb) { cb(null, {user_id: u}); }' },
      configuration: { AUTHSIGNAL_SECRET: 'sk_live_left_behind' }
    });
  }, 'connection runs no custom database scripts'],
  ['the bridge application made public', (t) => { bridgeApp(t).token_endpoint_auth_method = 'none'; }, 'bridge application is confidential'],
  ['the connection enabled for another application', (t) => { t.enabledClients[realmConnection(t).id].push('cli_spa'); }, 'connection enabled for the bridge only']
];

for (const [name, change, check] of EXCHANGE_DRIFT) {
  test(`token exchange: check finds, and setup repairs: ${name}`, async () => {
    const api = await startManagementApi(await exchangeTenant(change), { buildReads: 1 });
    try {
      const found = await runExchange(api, 'check');
      assert.equal(found.code, 1, found.error || found.text);
      assert.match(found.text, failingRow(check), found.text);
      const repaired = await runExchange(api, 'setup');
      assert.equal(repaired.code, 0, repaired.error || repaired.text);
      const after = await runExchange(api, 'check');
      assert.equal(after.code, 0, after.text);
      assert.deepEqual(actionOf(api).secrets || [], [], 'no secrets left');
    } finally { await api.close(); }
  });
}

test('token exchange: a tenant without the feature is told so, and nothing is written', async () => {
  const api = await startManagementApi({ noTokenExchange: true });
  try {
    assert.match((await runExchange(api, 'setup')).error, /Early Access/);
    assert.deepEqual(api.writes(), []);
    const audit = await runExchange(api, 'check');
    assert.equal(audit.code, 1);
    assert.match(audit.text, /\| BROKEN +\| token exchange profile runs the Action .*Early Access/);
  } finally { await api.close(); }
});

test('token exchange: a replaced application is the one the Action admits, with the keys it listed', async () => {
  const api = await startManagementApi(await exchangeTenant((t) => {
    const gone = bridgeApp(t).client_id;
    t.clients = t.clients.filter((c) => c.client_id !== gone);
    for (const list of Object.values(t.enabledClients)) list.splice(0, list.length, ...list.filter((c) => c !== gone));
  }), { buildReads: 1 });
  try {
    assert.equal((await runWith(api, { ...EXCHANGE, BRIDGE_PUBLIC_KEYS: undefined }, 'setup')).code, 0);
    const settings = settingsOf(actionOf(api).code);
    assert.equal(settings.BRIDGE_CLIENT_ID, bridgeApp(api.tenant).client_id);
    assert.deepEqual(settings.BRIDGE_PUBLIC_KEYS.map((k) => k.kid), [KEY.jwk.kid], 'the keys it listed, without a key source');
  } finally { await api.close(); }
});

test('token exchange: an Action whose build failed is reported, and built again by setup', async () => {
  const api = await startManagementApi(await exchangeTenant((t) => { t.actions[0].status = 'failed'; }), { buildReads: 1 });
  try {
    assert.match((await runExchange(api, 'check')).text, /\| BROKEN +\| Action built and deployed +\| Auth0 could not build the Action/);
    assert.equal((await runExchange(api, 'setup')).code, 0);
    assert.equal(actionOf(api).status, 'built');
    assert.equal((await runExchange(api, 'check')).code, 0);
  } finally { await api.close(); }
});
