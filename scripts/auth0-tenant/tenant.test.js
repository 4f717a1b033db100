// make auth0-setup and make auth0-check against a stand-in Management API: setup on an empty
// tenant, a second run that changes nothing, drift repaired, every row of the check safe and
// unsafe, and --dry-run writing nothing. Through Auth0's own Node SDK, as the command runs.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { main } = require('./tenant.js');
const { startManagementApi } = require('./management-stand-in.js');
const desired = require('./desired.js');

const PUBLIC_KEYS = '[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"}]';
const samconfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tenant-test-')), 'samconfig.toml');
fs.writeFileSync(samconfig, `version = 0.1
[default.deploy.parameters]
stack_name = "authsignal-auth0-bridge-staging"
parameter_overrides = [
  "Auth0Domain=tenant.example.auth0.com",
  "Auth0Realm=authsignal",
  "Auth0Scope=openid profile email offline_access",
  "Auth0Audience=https://api.example.com",
]
`);
const SETTINGS = desired.bridgeSettings(desired.samconfigParameters(fs.readFileSync(samconfig, 'utf8'), 'default'),
  { StackName: 'authsignal-auth0-bridge-staging' });
const APP_NAME = desired.APPLICATION_NAME(SETTINGS);

// Runs the command against `api` with `environment` on top of the test's own: {code, text}.
async function runWith(api, environment, ...argv) {
  let text = '';
  const out = { write: (chunk) => { text += chunk; } };
  const code = await main(argv, {
    SAMCONFIG: samconfig,
    AUTH0_MANAGEMENT_TOKEN: api.token,
    AUTH0_MANAGEMENT_API_URL: `${api.url}/api/v2`,
    BRIDGE_PUBLIC_KEYS: PUBLIC_KEYS,
    ...environment
  }, out);
  return { code, text };
}
const run = (api, ...argv) => runWith(api, {}, ...argv);

// A tenant set up exactly as the bridge needs, with `change` applied.
function safeTenant(change = (t) => t) {
  const application = { client_id: 'cli_bridge', name: APP_NAME, ...structuredClone(desired.desiredApplication(SETTINGS)) };
  const connection = { id: 'con_authsignal', ...structuredClone(desired.desiredConnection(SETTINGS, PUBLIC_KEYS)) };
  return change({
    connections: [connection],
    clients: [application, { client_id: 'cli_spa', name: 'Marketing SPA', app_type: 'spa', grant_types: ['authorization_code'], callbacks: ['https://example.com/cb'] }],
    resourceServers: [{ id: 'api_1', identifier: 'https://api.example.com', name: 'API', allow_offline_access: true }],
    enabledClients: { con_authsignal: ['cli_bridge'] }
  });
}

test('setup on an empty tenant creates the connection, the application, the API, and enables the one for the other', async () => {
  const api = await startManagementApi();
  try {
    const { code, text } = await run(api, 'setup');
    assert.equal(code, 0, text);
    const [connection] = api.tenant.connections;
    assert.equal(connection.name, 'authsignal');
    assert.equal(connection.options.customScripts.login, desired.loginScript());
    assert.equal(connection.options.import_mode, false);
    assert.equal(connection.options.disable_signup, true);
    assert.deepEqual(connection.options.configuration,
      { BRIDGE_PUBLIC_KEYS: PUBLIC_KEYS, BRIDGE_ISSUER: 'authsignal-auth0-bridge', BRIDGE_AUDIENCE: 'authsignal' });
    const [application] = api.tenant.clients;
    assert.equal(application.app_type, 'regular_web');
    assert.deepEqual(application.grant_types, [desired.PASSWORD_REALM, 'refresh_token']);
    assert.deepEqual(application.callbacks, []);
    assert.equal(application.is_token_endpoint_ip_header_trusted, true);
    assert.equal(application.refresh_token.rotation_type, 'rotating');
    assert.deepEqual(api.tenant.enabledClients[connection.id], [application.client_id]);
    assert.equal(api.tenant.resourceServers[0].identifier, 'https://api.example.com');
    assert.equal(api.tenant.resourceServers[0].allow_offline_access, true);
    // What the secret and samconfig.toml need.
    assert.match(text, new RegExp(`AUTH0_CLIENT_ID=${application.client_id}`));
    assert.match(text, new RegExp(`AUTH0_CLIENT_SECRET=${application.client_secret}`));
    assert.match(text, /"Auth0Audience=https:\/\/api\.example\.com"/);
    // The tenant passes its own audit.
    assert.equal((await run(api, 'check')).code, 0);
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
      assert.match(text, /would create API https:\/\/api\.example\.com/);
    }
    assert.deepEqual(api.writes(), []);
  } finally { await api.close(); }
});

test('a second run changes nothing', async () => {
  const api = await startManagementApi();
  try {
    await run(api, 'setup');
    const before = api.writes().length;
    const { code, text } = await run(api, 'setup');
    assert.equal(code, 0);
    assert.match(text, /nothing to change/);
    assert.equal(api.writes().length, before, 'no write');
  } finally { await api.close(); }
});

test('--dry-run prints the changes and writes nothing', async () => {
  const api = await startManagementApi(safeTenant((t) => {
    t.clients[0].callbacks = ['https://evil.example/cb'];
    t.enabledClients.con_authsignal.push('cli_spa');
    return t;
  }));
  try {
    const { code, text } = await run(api, 'setup', '--dry-run');
    assert.equal(code, 0);
    assert.match(text, /would update application "Authsignal bridge \(authsignal-auth0-bridge-staging\)": callbacks/);
    assert.match(text, /would update connection authsignal: enabled applications: disable cli_spa/);
    assert.deepEqual(api.writes(), []);
  } finally { await api.close(); }
});

// Every row of the check: [name, what makes it unsafe, the row's check text].
const UNSAFE = [
  ['the connection enabled for another application', (t) => { t.enabledClients.con_authsignal.push('cli_spa'); }, 'connection enabled for the bridge only'],
  ['import mode on', (t) => { t.connections[0].options.import_mode = true; }, 'import mode off'],
  ['sign-ups open', (t) => { t.connections[0].options.disable_signup = false; }, 'sign-ups disabled'],
  ['another client with the password grant', (t) => { t.clients[1].grant_types.push('password'); }, 'no other client with the password grants'],
  ['another client with the password-realm grant', (t) => { t.clients[1].grant_types.push(desired.PASSWORD_REALM); }, 'no other client with the password grants'],
  ['the bridge application has callbacks', (t) => { t.clients[0].callbacks = ['https://x.example/cb']; }, 'bridge application: its grants only, no callbacks'],
  ['the bridge application has more grants', (t) => { t.clients[0].grant_types.push('authorization_code'); }, 'bridge application: its grants only, no callbacks'],
  ['the bridge application made public', (t) => { t.clients[0].token_endpoint_auth_method = 'none'; }, 'bridge application is confidential'],
  ['the bridge application made native', (t) => { t.clients[0].app_type = 'native'; }, 'bridge application is confidential'],
  ['the IP header not trusted', (t) => { t.clients[0].is_token_endpoint_ip_header_trusted = false; }, 'end-user IP trusted'],
  ['refresh-token rotation off', (t) => { t.clients[0].refresh_token.rotation_type = 'non-rotating'; }, 'refresh tokens rotate and expire'],
  ['refresh-token expiry off', (t) => { t.clients[0].refresh_token.expiration_type = 'non-expiring'; }, 'refresh tokens rotate and expire'],
  ['no API allowing offline access', (t) => { t.resourceServers[0].allow_offline_access = false; }, 'an API allows offline access'],
  ['no API at all', (t) => { t.resourceServers = []; }, 'an API allows offline access'],
  ['the script differs from the shipped one', (t) => { t.connections[0].options.customScripts.login = 'function login(u, p, cb) { cb(null, {user_id: u}); }'; }, 'Login script is the shipped one'],
  ['no public keys', (t) => { delete t.connections[0].options.configuration.BRIDGE_PUBLIC_KEYS; }, 'the bridge\'s public keys set'],
  ['public keys that are not JSON', (t) => { t.connections[0].options.configuration.BRIDGE_PUBLIC_KEYS = '{kty: OKP'; }, 'the bridge\'s public keys set'],
  ['a public key of another kind', (t) => { t.connections[0].options.configuration.BRIDGE_PUBLIC_KEYS = '[{"kty":"RSA","n":"x","e":"AQAB","kid":"k"}]'; }, 'the bridge\'s public keys set'],
  ['another issuer expected', (t) => { t.connections[0].options.configuration.BRIDGE_ISSUER = 'someone-else'; }, 'assertion issuer and audience match the bridge'],
  ['another audience expected', (t) => { t.connections[0].options.configuration.BRIDGE_AUDIENCE = 'other-realm'; }, 'assertion issuer and audience match the bridge'],
  ['an Authsignal secret in the connection', (t) => { t.connections[0].options.configuration.AUTHSIGNAL_SECRET = 'sk_live'; }, 'no Authsignal secret in the connection'],
  ['no connection', (t) => { t.connections = []; t.enabledClients = {}; }, 'connection exists'],
  ['no application', (t) => { t.clients.shift(); t.enabledClients.con_authsignal = []; }, 'application exists']
];

test('a safe tenant passes every row', async () => {
  const api = await startManagementApi(safeTenant());
  try {
    const { code, text } = await run(api, 'check');
    assert.equal(code, 0, text);
    for (const [, , check] of UNSAFE) assert.match(text, new RegExp(`\\| ok +\\| ${check.replace(/[()]/g, '\\$&')}`), check);
  } finally { await api.close(); }
});

for (const [name, change, check] of UNSAFE) {
  test(`check finds, and setup repairs: ${name}`, async () => {
    const api = await startManagementApi(safeTenant((t) => { change(t); return t; }));
    try {
      const found = await run(api, 'check');
      assert.equal(found.code, 1, found.text);
      assert.match(found.text, new RegExp(`\\| (UNSAFE|BROKEN) +\\| ${check.replace(/[()]/g, '\\$&')} `), found.text);
      const repaired = await run(api, 'setup');
      assert.equal(repaired.code, 0, repaired.text);
      const after = await run(api, 'check');
      assert.equal(after.code, 0, after.text);
    } finally { await api.close(); }
  });
}

test('setup takes only the password grants away from another application, and keeps the rest of it', async () => {
  const api = await startManagementApi(safeTenant((t) => {
    t.clients[1].grant_types.push('password', desired.PASSWORD_REALM);
    return t;
  }));
  try {
    const dry = await run(api, 'setup', '--dry-run');
    assert.match(dry.text, /would update application "Marketing SPA": grant_types: remove password, http:\/\/auth0\.com\/oauth\/grant-type\/password-realm/);
    assert.equal((await run(api, 'setup')).code, 0);
    const spa = api.tenant.clients.find((c) => c.client_id === 'cli_spa');
    assert.deepEqual(spa.grant_types, ['authorization_code']);
    assert.deepEqual(spa.callbacks, ['https://example.com/cb'], 'nothing else of it changes');
  } finally { await api.close(); }
});

test('a tenant that lists enabled clients on the connection itself is audited and repaired the same way', async () => {
  const api = await startManagementApi({ ...safeTenant((t) => { t.enabledClients.con_authsignal.push('cli_spa'); return t; }), legacyEnabledClients: true });
  try {
    const found = await run(api, 'check');
    assert.equal(found.code, 1);
    assert.match(found.text, /\| UNSAFE +\| connection enabled for the bridge only .*"Marketing SPA"/);
    assert.equal((await run(api, 'setup')).code, 0);
    assert.deepEqual(api.tenant.enabledClients.con_authsignal, ['cli_bridge']);
    assert.equal((await run(api, 'check')).code, 0);
  } finally { await api.close(); }
});

test('with the password grant, the Default Directory is checked and set to the connection', async () => {
  const api = await startManagementApi(safeTenant((t) => {
    t.clients[0].grant_types = ['password', 'refresh_token'];
    t.settings = { default_directory: 'Username-Password-Authentication' };
    return t;
  }));
  const runPassword = (...argv) => runWith(api, { Auth0GrantType: 'password' }, ...argv);
  try {
    const found = await runPassword('check');
    assert.equal(found.code, 1);
    assert.match(found.text, /\| BROKEN +\| the Default Directory is the connection .*Username-Password-Authentication/);
    assert.equal((await runPassword('setup')).code, 0);
    assert.equal(api.tenant.settings.default_directory, 'authsignal');
    const after = await runPassword('check');
    assert.equal(after.code, 0, after.text);
  } finally { await api.close(); }
});

test('the commands as run from make: exit codes, client credentials and the dry run, through the CLI', async () => {
  const api = await startManagementApi(safeTenant((t) => { t.connections[0].options.import_mode = true; return t; }));
  const cli = (...argv) => new Promise((resolve) => {
    const child = require('node:child_process').spawn(process.execPath, [path.join(__dirname, 'tenant.js'), ...argv], {
      env: {
        PATH: process.env.PATH, SAMCONFIG: samconfig, BRIDGE_PUBLIC_KEYS: PUBLIC_KEYS,
        // The domain is the stand-in's own address: the SDK's token request and its API calls
        // both go there (AUTH0_DOMAIN, the function's variable name, is accepted too).
        AUTH0_DOMAIN: api.url.replace('http://', ''), AUTH0_MANAGEMENT_API_URL: `${api.url}/api/v2`,
        AUTH0_MANAGEMENT_CLIENT_ID: api.m2m.client_id, AUTH0_MANAGEMENT_CLIENT_SECRET: api.m2m.client_secret
      }
    });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { out += c; });
    child.on('close', (code) => resolve({ code, out }));
  });
  try {
    const found = await cli('check');
    assert.equal(found.code, 1, found.out);
    assert.match(found.out, /\| UNSAFE +\| import mode off/);
    assert.ok(api.requests.some((r) => r.path === '/oauth/token'), 'a token through client credentials');
    const dry = await cli('setup', '--dry-run');
    assert.equal(dry.code, 0, dry.out);
    assert.match(dry.out, /would update connection authsignal: options\.import_mode/);
    assert.deepEqual(api.writes().filter((r) => r.path !== '/oauth/token'), []);
    assert.equal((await cli('setup')).code, 0);
    const after = await cli('check');
    assert.equal(after.code, 0, after.out);
    const wrong = await cli('frobnicate');
    assert.equal(wrong.code, 2);
    assert.match(wrong.out, /usage: tenant\.js setup/);
  } finally { await api.close(); }
});

test('an application made by hand is adopted through AUTH0_CLIENT_ID, keeping its name, instead of made again', async () => {
  const api = await startManagementApi(safeTenant((t) => {
    t.clients[0].name = 'Passkey backend (made by hand)';
    t.clients[0].callbacks = ['https://app.example/cb'];
    t.clients[0].is_token_endpoint_ip_header_trusted = false;
    return t;
  }));
  const environment = { SAMCONFIG: samconfig, AUTH0_MANAGEMENT_TOKEN: api.token, AUTH0_MANAGEMENT_API_URL: `${api.url}/api/v2`,
    BRIDGE_PUBLIC_KEYS: PUBLIC_KEYS, AUTH0_CLIENT_ID: 'cli_bridge' };
  const run = async (...argv) => {
    let text = '';
    const code = await main(argv, environment, { write: (c) => { text += c; } });
    return { code, text };
  };
  try {
    const found = await run('check');
    assert.equal(found.code, 1);
    assert.match(found.text, /\| ok +\| application exists/);
    assert.match(found.text, /\| UNSAFE +\| end-user IP trusted/);
    assert.equal((await run('setup')).code, 0);
    assert.equal(api.tenant.clients.length, 2, 'no second application');
    const adopted = api.tenant.clients.find((c) => c.client_id === 'cli_bridge');
    assert.equal(adopted.name, 'Passkey backend (made by hand)');
    assert.deepEqual(adopted.callbacks, []);
    assert.equal(adopted.is_token_endpoint_ip_header_trusted, true);
    assert.deepEqual(api.tenant.enabledClients.con_authsignal, ['cli_bridge']);
    assert.equal((await run('check')).code, 0);
    environment.AUTH0_CLIENT_ID = 'cli_nowhere';
    await assert.rejects(run('setup'), /AUTH0_CLIENT_ID names no application/);
  } finally { await api.close(); }
});

test('setup keeps what it does not manage in the connection options, and drops the Authsignal secret', async () => {
  const api = await startManagementApi(safeTenant((t) => {
    t.connections[0].options.passwordPolicy = 'good';
    t.connections[0].options.configuration.AUTHSIGNAL_SECRET = 'sk_live';
    t.connections[0].options.configuration.AUTHSIGNAL_CONNECT_URL = 'https://us.connect.authsignal.com';
    return t;
  }));
  try {
    assert.equal((await run(api, 'setup')).code, 0);
    const options = api.tenant.connections[0].options;
    assert.equal(options.passwordPolicy, 'good', 'Auth0 replaces options whole: setup sends the existing ones');
    assert.equal(options.configuration.AUTHSIGNAL_SECRET, undefined);
    assert.equal(options.configuration.AUTHSIGNAL_CONNECT_URL, undefined);
    assert.equal(options.configuration.BRIDGE_PUBLIC_KEYS, PUBLIC_KEYS);
  } finally { await api.close(); }
});

test('without BRIDGE_PUBLIC_KEYS, setup keeps the connection\'s keys, or makes a key and prints its private half', async () => {
  const api = await startManagementApi();
  try {
    let text = '';
    const environment = { SAMCONFIG: samconfig, AUTH0_MANAGEMENT_TOKEN: api.token, AUTH0_MANAGEMENT_API_URL: `${api.url}/api/v2` };
    await main(['setup'], environment, { write: (c) => { text += c; } });
    assert.match(text, /BRIDGE_SIGNING_KEY="-----BEGIN PRIVATE KEY-----/);
    const keys = JSON.parse(api.tenant.connections[0].options.configuration.BRIDGE_PUBLIC_KEYS);
    assert.equal(keys.length, 1);
    text = '';
    await main(['setup'], environment, { write: (c) => { text += c; } });
    assert.match(text, /nothing to change/);
    assert.doesNotMatch(text, /BRIDGE_SIGNING_KEY/);
  } finally { await api.close(); }
});

// ---- Custom Token Exchange ---------------------------------------------------------------------

const SUBJECT_TOKEN_TYPE = 'urn:acme:authsignal-bridge-assertion';

const runExchange = (api, ...argv) =>
  runWith(api, { Auth0GrantType: 'token-exchange', Auth0SubjectTokenType: SUBJECT_TOKEN_TYPE }, ...argv);

test('token exchange: setup on an empty tenant makes the database, the application, the deployed Action and its profile', async () => {
  const api = await startManagementApi();
  try {
    const { code, text } = await runExchange(api, 'setup');
    assert.equal(code, 0, text);
    const [connection] = api.tenant.connections;
    assert.equal(connection.options.enabledDatabaseCustomization, false);
    assert.equal(connection.options.customScripts, undefined, 'no Login script');
    assert.equal(connection.options.disable_signup, true);
    const [application] = api.tenant.clients;
    assert.deepEqual(application.grant_types, [desired.TOKEN_EXCHANGE, 'refresh_token']);
    assert.deepEqual(application.token_exchange, { allow_any_profile_of_type: ['custom_authentication'] });
    assert.deepEqual(api.tenant.enabledClients[connection.id], [application.client_id]);
    const [action] = api.tenant.actions;
    assert.equal(desired.splitActionCode(action.code).code, desired.actionCode(), 'the shipped Action');
    assert.deepEqual(action.supported_triggers, [{ id: 'custom-token-exchange', version: 'v1' }]);
    assert.equal(action.all_changes_deployed, true);
    assert.deepEqual(Object.fromEntries(action.secrets.map((s) => [s.name, s.value])), {
      BRIDGE_PUBLIC_KEYS: PUBLIC_KEYS, BRIDGE_ISSUER: 'authsignal-auth0-bridge', BRIDGE_AUDIENCE: 'authsignal',
      BRIDGE_CONNECTION: 'authsignal', BRIDGE_CLIENT_ID: application.client_id
    });
    assert.deepEqual(api.tenant.profiles.map(({ subject_token_type, action_id, type }) => ({ subject_token_type, action_id, type })),
      [{ subject_token_type: SUBJECT_TOKEN_TYPE, action_id: action.id, type: 'custom_authentication' }]);
    assert.match(text, /"Auth0GrantType=token-exchange", "Auth0SubjectTokenType=urn:acme:authsignal-bridge-assertion"/);
    const audit = await runExchange(api, 'check');
    assert.equal(audit.code, 0, audit.text);
    assert.match(audit.text, /\| ok +\| token exchange profile runs the Action/);
    assert.doesNotMatch(audit.text, /Login script/);

    const before = api.writes().length;
    const again = await runExchange(api, 'setup');
    assert.match(again.text, /nothing to change/);
    assert.equal(api.writes().length, before, 'a second run writes nothing');
  } finally { await api.close(); }
});

// A tenant as setup leaves it for token exchange.
async function exchangeTenant() {
  const seeded = await startManagementApi();
  try {
    assert.equal((await runExchange(seeded, 'setup')).code, 0);
    return structuredClone(seeded.tenant);
  } finally { await seeded.close(); }
}

// Drift of the token exchange set-up: [name, change to the set-up tenant, the row's check text].
const EXCHANGE_DRIFT = [
  ['the Action\'s code changed', (t) => { t.actions[0].code = 'exports.onExecuteCustomTokenExchange = async (e, api) => api.authentication.setUserById(e.transaction.subject_token);'; }, 'Action is the shipped one'],
  ['the Action not deployed', (t) => { t.actions[0].all_changes_deployed = false; }, 'Action deployed'],
  ['the Action without its keys', (t) => { t.actions[0].secrets = t.actions[0].secrets.filter((s) => s.name !== 'BRIDGE_PUBLIC_KEYS'); }, 'the bridge\'s public keys set'],
  ['no profile', (t) => { t.profiles = []; }, 'token exchange profile runs the Action'],
  ['a profile running another Action', (t) => { t.actions.push({ id: 'act_other', name: 'other' }); t.profiles[0].action_id = 'act_other'; }, 'token exchange profile runs the Action'],
  ['the application without token exchange', (t) => { delete t.clients[0].token_exchange; }, 'application may use token exchange profiles'],
  ['the Action admitting any application, and another one allowed to exchange', (t) => {
    t.actions[0].secrets = t.actions[0].secrets.filter((s) => s.name !== 'BRIDGE_CLIENT_ID');
    t.clients.push({ client_id: 'cli_partner', name: 'Partner app', grant_types: [desired.TOKEN_EXCHANGE], token_exchange: { allow_any_profile_of_type: ['custom_authentication'] } });
  }, 'Action admits the bridge\'s application only'],
  ['a Login script left on the connection, with the Authsignal secret', (t) => {
    Object.assign(t.connections[0].options, {
      enabledDatabaseCustomization: true,
      customScripts: { login: 'function login(u, p, cb) { cb(null, {user_id: u}); }' },
      configuration: { AUTHSIGNAL_SECRET: 'sk_live_left_behind' }
    });
  }, 'connection runs no custom database scripts'],
  ['the bridge application made public', (t) => { t.clients[0].token_endpoint_auth_method = 'none'; }, 'bridge application is confidential'],
  ['the connection enabled for another application', (t) => { t.enabledClients[t.connections[0].id].push('cli_other'); t.clients.push({ client_id: 'cli_other', name: 'Other', grant_types: [] }); }, 'connection enabled for the bridge only']
];

for (const [name, change, check] of EXCHANGE_DRIFT) {
  test(`token exchange: check finds, and setup repairs: ${name}`, async () => {
    const tenant = await exchangeTenant();
    change(tenant);
    const api = await startManagementApi(tenant);
    try {
      const found = await runExchange(api, 'check');
      assert.equal(found.code, 1, found.text);
      assert.match(found.text, new RegExp(`\\| (UNSAFE|BROKEN) +\\| ${check.replace(/[()]/g, '\\$&')} `), found.text);
      const repaired = await runExchange(api, 'setup');
      assert.equal(repaired.code, 0, repaired.text);
      const after = await runExchange(api, 'check');
      assert.equal(after.code, 0, after.text);
    } finally { await api.close(); }
  });
}

test('token exchange: a tenant without the feature is told so, and nothing is written', async () => {
  const api = await startManagementApi({ noTokenExchange: true });
  try {
    await assert.rejects(runExchange(api, 'setup'), /Early Access/);
    assert.deepEqual(api.writes(), []);
    const audit = await runExchange(api, 'check');
    assert.equal(audit.code, 1);
    assert.match(audit.text, /\| BROKEN +\| token exchange profile runs the Action .*Early Access/);
  } finally { await api.close(); }
});

test('token exchange: a Login script left from the password grant is removed with its settings', async () => {
  const tenant = await exchangeTenant();
  Object.assign(tenant.connections[0].options, {
    enabledDatabaseCustomization: true,
    customScripts: { login: 'function login(u, p, cb) { cb(null, {user_id: u}); }' },
    configuration: { AUTHSIGNAL_SECRET: 'sk_live_left_behind' }
  });
  const api = await startManagementApi(tenant);
  try {
    const found = await runExchange(api, 'check');
    assert.match(found.text, /\| UNSAFE +\| no Authsignal secret in the connection /);
    assert.equal((await runExchange(api, 'setup')).code, 0);
    const { options } = api.tenant.connections[0];
    assert.equal(options.enabledDatabaseCustomization, false);
    assert.equal(options.customScripts, undefined);
    assert.equal(options.configuration, undefined);
  } finally { await api.close(); }
});

test('token exchange: without the public keys, setup refuses to leave the Action naming an application it replaced', async () => {
  const tenant = await exchangeTenant();
  // The bridge's application deleted: setup makes a new one, whose id the Action must hold.
  const gone = tenant.clients.shift().client_id;
  for (const id of Object.keys(tenant.enabledClients)) tenant.enabledClients[id] = tenant.enabledClients[id].filter((c) => c !== gone);
  const api = await startManagementApi(tenant);
  try {
    await assert.rejects(main(['setup'], {
      SAMCONFIG: samconfig, AUTH0_MANAGEMENT_TOKEN: api.token, AUTH0_MANAGEMENT_API_URL: `${api.url}/api/v2`,
      Auth0GrantType: 'token-exchange', Auth0SubjectTokenType: SUBJECT_TOKEN_TYPE
    }, { write: () => {} }), /BRIDGE_CLIENT_ID must name the application this run creates\): give BRIDGE_PUBLIC_KEYS/);
    assert.deepEqual(api.writes(), []);
    // With the keys, the new application is the one the Action admits.
    assert.equal((await runExchange(api, 'setup')).code, 0);
    const [action] = api.tenant.actions;
    const clientId = action.secrets.find((secret) => secret.name === 'BRIDGE_CLIENT_ID').value;
    assert.notEqual(clientId, gone);
    assert.ok(api.tenant.clients.some((c) => c.client_id === clientId && c.name === desired.APPLICATION_NAME(SETTINGS)));
  } finally { await api.close(); }
});

test('with Dpop=required, setup makes Auth0 require proof of possession and check holds it there', async () => {
  const api = await startManagementApi(safeTenant());
  const runDpop = (...argv) => runWith(api, { Dpop: 'required' }, ...argv);
  try {
    // With Dpop=optional the row is not there: binding is the app's and the tenant's choice.
    assert.doesNotMatch((await run(api, 'check')).text, /tokens bound to the app's key/);
    const found = await runDpop('check');
    assert.equal(found.code, 1, found.text);
    assert.match(found.text, /\| UNSAFE +\| tokens bound to the app's key +\| Dpop=required, but the application does not require proof of possession/);
    assert.equal((await runDpop('setup')).code, 0);
    assert.equal(api.tenant.clients[0].require_proof_of_possession, true);
    assert.equal((await runDpop('check')).code, 0);
  } finally { await api.close(); }
});
