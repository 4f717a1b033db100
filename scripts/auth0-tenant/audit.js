// `make auth0-check`: the tenant compared with what the bridge needs, as rows
// {state: ok | UNSAFE | BROKEN | WARNING, check, finding, fix}. UNSAFE: a way in that skips the
// bridge's checks, or a weaker session; BROKEN: sign-ins or refresh tokens will fail; WARNING:
// something this run could not compare. Only what Auth0 shows as written is compared; a setting
// Auth0 shows encrypted counts as "present, not readable".
'use strict';
const desired = require('./desired.js');
const expected = require('./expected.js');
const { generatedCode, readSettings } = require('../auth0-code.js');
const { otherPasswordApplications } = require('./plan.js');

const SETUP = 'make auth0-setup';
const namesOf = (tenant, ids) => ids.map((id) => {
  const client = tenant.clients.find((c) => c.client_id === id);
  return client ? `"${client.name}"` : id;
}).join(', ');
const quoted = (clients) => clients.map((c) => `"${c.name}"`).join(', ');

// A table of rows and the function that adds one: `bad` decides between `state` and ok.
function table() {
  const rows = [];
  const row = (bad, state, check, finding, fix, okFinding = 'as it should be') =>
    rows.push({ state: bad ? state : 'ok', check, finding: bad ? finding : okFinding, fix: bad ? fix : '' });
  return { rows, row };
}

// ---- the generated code --------------------------------------------------------------------

// Whether `code` is the shipped code of `kind` with a settings block as setup writes it (any
// other edit, in the block or around it, shows here).
function isGenerated(kind, code) {
  const read = readSettings(code);
  return Boolean(read) && generatedCode(kind, read.settings, read.notes) === code;
}

// The rows of the public keys a code lists against the bridge's (`keySource`, or none known).
function keyRows(row, where, code, keySource, fix) {
  const listed = expected.keysIn(code);
  row(!listed, 'BROKEN', `${where} lists the bridge's public keys`, `${where} lists no usable public key: it refuses every sign-in`, fix);
  if (!listed) return;
  if (!keySource) {
    row(true, 'WARNING', `${where}'s keys are the bridge's`,
      'not compared: this run was given no key source', 'run with --stack (make auth0-check STACK=<stack>) or BRIDGE_PUBLIC_KEYS');
    return;
  }
  const held = new Set(keySource.keys.map((k) => k.kid));
  const published = new Set(listed.map((k) => k.kid));
  const foreign = [...published].filter((kid) => !held.has(kid));
  const missing = [...held].filter((kid) => !published.has(kid));
  row(foreign.length > 0, 'UNSAFE', `${where} lists only keys the bridge holds`,
    `it lists ${foreign.join(', ')}, which ${keySource.from} does not hold: whoever holds that private key signs users in`, fix);
  row(missing.length > 0, 'BROKEN', `${where} lists every key the bridge holds`,
    `it lacks ${missing.join(', ')} of ${keySource.from}: sign-ins signed with it are refused`, fix);
}

// The rows of the Login script (password grants).
function loginRows(row, tenant, settings, context) {
  const options = tenant.connection.options || {};
  const configured = Object.keys(options.configuration || {});
  const code = expected.loginCodeOf(tenant);
  const generated = expected.settingsIn(code);
  row(!isGenerated('login', code), 'UNSAFE', 'Login script is the one setup writes',
    'the Login script differs from auth0/login.js with its generated settings block (edited by hand, or from an older setup)', SETUP);
  // A connection setting STRIP_PROVIDER_PREFIX cannot be read back: it counts as on.
  const strip = generated && generated.STRIP_PROVIDER_PREFIX === true;
  const stripConfigured = configured.includes('STRIP_PROVIDER_PREFIX');
  row(strip || stripConfigured, 'UNSAFE', 'user ids are Authsignal\'s, unchanged',
    strip ? 'STRIP_PROVIDER_PREFIX is on: google-oauth2|1 and apple|1 become one Auth0 user'
      : 'the connection\'s setting STRIP_PROVIDER_PREFIX is present, not readable (Auth0 shows it encrypted): it cannot be verified off',
    `STRIP_PROVIDER_PREFIX=false ${SETUP} (keep it on only for users made by the guide's script)`);
  if (settings.signInProof !== 'assertion') {
    const missing = ['AUTHSIGNAL_SECRET', 'AUTHSIGNAL_CONNECT_URL'].filter((name) => !configured.includes(name));
    row(missing.length > 0, 'BROKEN', 'the connection\'s Authsignal settings', `${missing.join(' and ')} missing: every sign-in fails`,
      `AUTHSIGNAL_SECRET=... AUTHSIGNAL_CONNECT_URL=... ${SETUP}`, 'present, not readable (Auth0 shows them encrypted)');
    return;
  }
  keyRows(row, 'the Login script', code, context.keySource, context.keyFix);
  const issuer = (generated && generated.BRIDGE_ISSUER) || 'authsignal-auth0-bridge';
  const audience = (generated && generated.BRIDGE_AUDIENCE) || 'authsignal';
  row(issuer !== settings.issuer || audience !== settings.assertionAudience, 'BROKEN', 'assertion issuer and audience match the bridge',
    `the script expects iss ${issuer} and aud ${audience}; the bridge signs iss ${settings.issuer} and aud ${settings.assertionAudience}`, SETUP);
  row(configured.includes('AUTHSIGNAL_SECRET'), 'UNSAFE', 'no Authsignal secret in the connection',
    'AUTHSIGNAL_SECRET is present, not readable, in the connection\'s settings: a leak of the tenant\'s configuration leaks it', SETUP);
  const leftover = configured.filter((name) => !['AUTHSIGNAL_SECRET', 'STRIP_PROVIDER_PREFIX'].includes(name));
  row(leftover.length > 0, 'WARNING', 'no settings the script does not read',
    `the connection holds ${leftover.join(', ')} (present, not readable), which the script never reads`, `${SETUP} removes them`);
}

// ---- Custom Token Exchange -------------------------------------------------------------------

function actionRows(row, tenant, settings, context) {
  const action = tenant.action;
  row(!action, 'BROKEN', 'token exchange Action exists', `no Action named ${desired.ACTION_NAME(settings)}`, SETUP);
  if (!action) return;
  const code = expected.actionCodeOf(tenant);
  const generated = expected.settingsIn(code) || {};
  row(!isGenerated('action', code), 'UNSAFE', 'Action is the one setup writes',
    'the Action\'s code differs from auth0/token-exchange.js with its generated settings block (edited by hand, or from an older setup)', SETUP);
  keyRows(row, 'the Action', code, context.keySource, context.keyFix);
  const clientId = typeof generated.BRIDGE_CLIENT_ID === 'string' ? generated.BRIDGE_CLIENT_ID.trim() : '';
  const bridge = tenant.application && tenant.application.client_id;
  row(!clientId || clientId !== bridge, 'UNSAFE', 'Action admits the bridge\'s application only',
    !clientId ? 'its BRIDGE_CLIENT_ID is missing or blank' : `its BRIDGE_CLIENT_ID names ${namesOf(tenant, [clientId])}, not the bridge's application`, SETUP);
  const issuer = generated.BRIDGE_ISSUER || 'authsignal-auth0-bridge';
  const audience = generated.BRIDGE_AUDIENCE || 'authsignal';
  const connection = generated.BRIDGE_CONNECTION || audience;
  row(issuer !== settings.issuer || audience !== settings.assertionAudience || connection !== settings.realm, 'BROKEN',
    'assertion issuer, audience and connection match the bridge',
    `the Action expects iss ${issuer} and aud ${audience} and sets users in ${connection}; the bridge signs iss ${settings.issuer} and aud ${settings.assertionAudience}, and its users live in ${settings.realm}`, SETUP);
  const secrets = (action.secrets || []).map((secret) => secret.name);
  row(secrets.length > 0, 'UNSAFE', 'the Action holds no secrets',
    `it holds ${secrets.join(', ')}${secrets.includes('AUTHSIGNAL_SECRET') ? ' (AUTHSIGNAL_SECRET, which it never needs)' : ''}: ` +
    'the Action reads none, and Auth0 shows no secret\'s value, so none can be audited', `${SETUP} removes them`);
  row(action.all_changes_deployed === false || action.status === 'failed', 'BROKEN', 'Action built and deployed',
    action.status === 'failed' ? 'Auth0 could not build the Action' : 'the Action has changes that are not deployed', SETUP);
}

function tokenExchangeRows(row, tenant, settings, context) {
  const application = tenant.application;
  const options = (tenant.connection && tenant.connection.options) || {};
  if (application) {
    const types = (application.token_exchange && application.token_exchange.allow_any_profile_of_type) || [];
    row(!types.includes('custom_authentication'), 'BROKEN', 'application may use token exchange profiles',
      'the bridge\'s application does not allow Custom Token Exchange profiles', SETUP);
  }
  actionRows(row, tenant, settings, context);
  if (!tenant.profilesAvailable) {
    row(true, 'BROKEN', 'token exchange profile runs the Action',
      'no Custom Token Exchange profiles on this tenant (an Early Access feature)', 'ask Auth0 to enable Custom Token Exchange');
  } else {
    row(!tenant.profile || !tenant.action || tenant.profile.action_id !== tenant.action.id, 'BROKEN', 'token exchange profile runs the Action',
      !tenant.profile ? `no profile for ${settings.subjectTokenType}` : `the profile for ${settings.subjectTokenType} runs another Action`, SETUP);
  }
  if (!tenant.connection) return;
  row(options.enabledDatabaseCustomization === true || Object.keys(options.customScripts || {}).length > 0, 'UNSAFE',
    'connection runs no custom database scripts',
    'the connection runs custom database scripts: a Login script is a way in that skips the Action', SETUP);
  row(Object.keys(options.configuration || {}).includes('AUTHSIGNAL_SECRET'), 'UNSAFE', 'no Authsignal secret in the connection',
    'AUTHSIGNAL_SECRET is present, not readable, in the connection\'s settings: a leak of the tenant\'s configuration leaks it', SETUP);
}

// ---- the connection and the applications ----------------------------------------------------

function connectionRows(row, tenant, settings) {
  const { connection, application } = tenant;
  const options = (connection && connection.options) || {};
  const others = tenant.enabledClients.filter((id) => !application || id !== application.client_id);
  row(others.length > 0, 'UNSAFE', 'connection enabled for the bridge only',
    `also enabled for ${namesOf(tenant, others)}: they can sign users in past the bridge's checks`, `disable the connection for them (${SETUP})`);
  row(Boolean(connection && application && !tenant.enabledClients.includes(application.client_id)), 'BROKEN',
    'connection enabled for the bridge', 'the bridge\'s application cannot use the connection', SETUP);
  row(options.import_mode === true, 'UNSAFE', 'import mode off',
    'import mode is on: users are copied into Auth0 and then sign in with their Auth0 password, not through the script',
    `turn off "Import Users to Auth0" (${SETUP})`);
  row(Boolean(connection) && options.disable_signup !== true, 'UNSAFE', 'sign-ups disabled', 'anyone can sign up to the connection', SETUP);
  row(Boolean(connection) && options.brute_force_protection !== true, 'UNSAFE', 'brute-force protection on',
    'brute-force protection is off on the connection: nothing slows down guessing at its sign-ins', SETUP);
  const reaching = otherPasswordApplications(tenant);
  row(reaching.length > 0, 'UNSAFE', 'no other application reaches the connection with a password grant',
    `${quoted(reaching)} may use the password grants and have the connection`,
    `${SETUP} disables the connection for them (with --fix-other-applications it also removes their password grants)`);
}

function refreshTokenRows(row, application) {
  const rt = application.refresh_token || {};
  row(rt.rotation_type !== 'rotating' || rt.expiration_type !== 'expiring' || rt.infinite_token_lifetime === true
    || rt.infinite_idle_token_lifetime === true, 'UNSAFE', 'refresh tokens rotate and expire',
  `rotation ${rt.rotation_type || 'off'}, expiration ${rt.expiration_type || 'off'}${rt.infinite_token_lifetime ? ', no absolute lifetime' : ''}` +
    `${rt.infinite_idle_token_lifetime ? ', no idle lifetime' : ''}: a stolen refresh token lives on`, SETUP);
  const limits = desired.REFRESH_TOKEN_LIMITS;
  const long = [
    ...(rt.token_lifetime > limits.absolute ? [`absolute ${rt.token_lifetime} s (over ${limits.absolute} s, 30 days)`] : []),
    ...(rt.idle_token_lifetime > limits.idle ? [`idle ${rt.idle_token_lifetime} s (over ${limits.idle} s, 15 days)`] : [])
  ];
  row(long.length > 0, 'UNSAFE', 'refresh-token lifetimes within Auth0\'s defaults',
    `${long.join(', ')}: a stolen refresh token lives that long (Auth0's documented defaults are 30 days absolute, 15 days idle)`, SETUP);
}

function applicationRows(row, tenant, settings) {
  const application = tenant.application;
  const elsewhere = tenant.applicationConnections.filter((c) => c.name !== settings.realm);
  row(elsewhere.length > 0, 'UNSAFE', 'bridge application has the bridge\'s connection only',
    `it also has ${elsewhere.map((c) => c.name).join(', ')}: a sign-in there (a password, a social login) gets the bridge's tokens without the bridge`,
    `disable them for it (${SETUP})`);
  const extraGrants = (application.grant_types || []).filter((g) => !desired.grantsFor(settings).includes(g));
  const redirects = ['callbacks', 'allowed_logout_urls', 'web_origins', 'allowed_origins'].filter((field) => (application[field] || []).length > 0);
  row(extraGrants.length > 0 || redirects.length > 0, 'UNSAFE', 'bridge application: its grants only, no callbacks',
    [extraGrants.length ? `extra grants ${extraGrants.join(', ')}` : '', redirects.length ? `URLs in ${redirects.join(', ')}` : '']
      .filter(Boolean).join('; '), SETUP);
  row(application.cross_origin_authentication === true, 'UNSAFE', 'cross-origin authentication off',
    'cross-origin authentication is on: web pages can sign users in to the bridge\'s application from the browser', SETUP);
  // A public client needs no secret at Auth0: anyone with the client id (which every app holds)
  // could redeem refresh tokens there, past the bridge (and its DPOP=required).
  const method = application.token_endpoint_auth_method;
  row(['native', 'spa'].includes(application.app_type) || method === 'none', 'UNSAFE', 'bridge application is confidential',
    `app type ${application.app_type || 'unset'}, token endpoint authentication ${method || 'none'}: anyone with the client id can use Auth0's token endpoint without the bridge`,
    SETUP);
  if (settings.dpop === 'required') {
    row(application.require_proof_of_possession !== true, 'UNSAFE', 'tokens bound to the app\'s key',
      'Dpop=required, but the application does not require proof of possession: Auth0 may issue Bearer tokens that work without the app\'s key', SETUP);
  }
  row(application.is_token_endpoint_ip_header_trusted !== true, 'UNSAFE', 'end-user IP trusted',
    '"Trust Token Endpoint IP Header" is off: brute-force protection counts every sign-in against the Lambda\'s IPs', SETUP);
  refreshTokenRows(row, application);
}

// Every row. `context`: {keySource (the bridge's keys and where they are from, or null),
// keyFix (the command that publishes them)}.
function audit(tenant, settings, context) {
  const { rows, row } = table();
  row(!tenant.connection, 'BROKEN', 'connection exists', `no database connection named ${settings.realm}`, SETUP);
  row(!tenant.application, 'BROKEN', 'application exists',
    `no application marked client_metadata.${desired.STACK_MARKER}=${settings.stackName} or named "${desired.APPLICATION_NAME(settings)}" (or give its client id as AUTH0_CLIENT_ID)`, SETUP);
  connectionRows(row, tenant, settings);
  if (tenant.application) applicationRows(row, tenant, settings);
  if (settings.grantType === 'password') {
    row(tenant.tenantSettings.default_directory !== settings.realm, 'BROKEN', 'the Default Directory is the connection',
      `Auth0GrantType=password signs in through the Default Directory, which is ${tenant.tenantSettings.default_directory || 'not set'}`, SETUP);
  }
  if (settings.wantsRefreshTokens) {
    row(!settings.audience || !tenant.api || tenant.api.allow_offline_access !== true, 'BROKEN', 'an API allows offline access',
      !settings.audience ? 'Auth0Scope asks for offline_access but Auth0Audience is empty: no refresh tokens'
        : !tenant.api ? `no API ${settings.audience}` : `API ${settings.audience} does not allow offline access: no refresh tokens`,
      settings.audience ? SETUP : `set Auth0Audience, then ${SETUP}`);
  }
  if (desired.tokenExchange(settings)) tokenExchangeRows(row, tenant, settings, context);
  else if (tenant.connection) loginRows(row, tenant, settings, context);
  return rows;
}

const FAILING = ['UNSAFE', 'BROKEN'];

// `rows` as a Markdown table of `columns` (their fields, named as they are), each as wide as its
// widest cell. make smoke prints its rows with it too.
function printTable(rows, out, columns = ['state', 'check', 'finding', 'fix']) {
  const widths = columns.map((k) => Math.max(k.length, ...rows.map((r) => r[k].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |\n`;
  out.write(line(columns));
  out.write(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) out.write(line(columns.map((k) => r[k])));
}

module.exports = { audit, printTable, FAILING };
