#!/usr/bin/env node
// `make auth0-setup` and `make auth0-check`: the bridge's Auth0 tenant, set up and audited
// through the Management API with Auth0's official Node SDK (`auth0` on npm).
//
//   node scripts/auth0-tenant/tenant.js setup [--dry-run] [--config-env default|prod]
//   node scripts/auth0-tenant/tenant.js check [--config-env default|prod]
//
// setup creates or updates, idempotently: the custom database connection (the shipped Login
// script and its settings, import mode and sign-ups off), the bridge's application (exactly its
// grants, no callback URLs, the end user's IP trusted, rotating and expiring refresh tokens),
// the connection enabled for that application and no other, and the API allowing offline
// access when the scope asks for refresh tokens. It prints what the secret and samconfig.toml
// need. --dry-run prints the changes and writes nothing.
// check prints a table of what is unsafe or broken, each with its fix, and exits 1 when any is.
//
// Inputs: samconfig.toml's parameters for --config-env (Auth0Domain, Auth0Realm, Auth0GrantType,
// Auth0Scope, Auth0Audience, SignInProof, AssertionIssuer, Auth0SubjectTokenType, Dpop), each
// overridable by an environment variable of the same name; AUTH0_CLIENT_ID (the bridge's
// application, when it exists already, e.g. made by hand: setup adopts it instead of making one);
// BRIDGE_PUBLIC_KEYS (from `make signing-key`; without it, setup keeps the connection's or makes a
// new key and prints its private half); Management API credentials: AUTH0_MANAGEMENT_CLIENT_ID and
// AUTH0_MANAGEMENT_CLIENT_SECRET (a machine-to-machine application authorized for the Management
// API with the scopes in docs/deploying.md), or AUTH0_MANAGEMENT_TOKEN. AUTH0_MANAGEMENT_API_URL
// sends the Management API calls (and the client-credentials token request, to its /oauth/token)
// to another base URL than https://<Auth0Domain>/api/v2 (a proxy, or a stand-in on loopback in
// tests); AUTH0_DOMAIN is accepted for Auth0Domain.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { ManagementClient } = require('auth0');
const desired = require('./desired.js');
const { publicJwk } = require('../signing-key.js');

const ROOT = path.join(__dirname, '..', '..');

// ---- reading the tenant ------------------------------------------------------------------------

// Every item of a listing, page by page. Read from the raw answers rather than the SDK's
// iterator, so that a plain array (Auth0 answers one without include_totals; so do simple
// stand-ins) counts too, and a server that ignores paging cannot loop it.
async function all(pagePromise, key) {
  let page = await pagePromise;
  const items = [];
  const seen = new Set();
  for (let pages = 0; pages < 1000; pages++) {
    const body = page.response;
    const batch = Array.isArray(body) ? body : (body && body[key]) || [];
    let fresh = 0;
    for (const item of batch) {
      const id = item.client_id || item.id || JSON.stringify(item);
      if (!seen.has(id)) { seen.add(id); items.push(item); fresh++; }
    }
    if (Array.isArray(body) || fresh === 0 || !page.hasNextPage()) break;
    page = await page.getNextPage();
  }
  return items;
}

// A listing the tenant may not offer (an older API, or a feature not enabled): null.
const MISSING = [404, 405, 501];

// Everything setup and check look at, read once.
async function readTenant(client, settings) {
  const [connections, clients, apis] = await Promise.all([
    all(client.connections.list({ strategy: ['auth0'] }), 'connections'),
    all(client.clients.list({}), 'clients'),
    all(client.resourceServers.list({}), 'resource_servers')
  ]);
  const connection = connections.find((c) => c.name === settings.realm) || null;
  let fullConnection = null;
  let enabledClients = [];
  let enabledClientsEndpoint = true;
  if (connection) {
    fullConnection = await client.connections.get(connection.id);
    // Auth0 moved the list to /connections/{id}/clients; tenants (and tools) still showing the
    // older `enabled_clients` field count too: the audit takes both.
    try {
      enabledClients = (await all(client.connections.clients.get(connection.id), 'clients')).map((c) => c.client_id);
    } catch (error) {
      if (!MISSING.includes(error.statusCode)) throw error;
      enabledClientsEndpoint = false;
    }
    enabledClients = [...new Set([...enabledClients, ...(fullConnection.enabled_clients || [])])];
  }
  // The bridge's application: the one whose client id the bridge's secret holds (AUTH0_CLIENT_ID),
  // when given, so that an application made by hand is adopted rather than made again;
  // otherwise the one setup names after the stack.
  const application = (settings.clientId
    ? clients.find((c) => c.client_id === settings.clientId)
    : clients.find((c) => c.name === desired.APPLICATION_NAME(settings))) || null;
  if (settings.clientId && !application) {
    throw new Error(`AUTH0_CLIENT_ID names no application of this tenant (${settings.clientId})`);
  }
  const api = settings.audience ? apis.find((a) => a.identifier === settings.audience) || null : null;
  // The password grant (without a realm) signs in through the tenant's Default Directory.
  const tenantSettings = settings.grantType === 'password' ? await client.tenants.settings.get() : null;
  const exchange = desired.tokenExchange(settings) ? await readTokenExchange(client, settings) : {};
  return { tenantSettings, ...exchange, connection: fullConnection, enabledClients, enabledClientsEndpoint, application, clients, api, apis };
}

// Custom Token Exchange: the Action (with its code and secret names) and the profiles.
async function readTokenExchange(client, settings) {
  const actions = await all(client.actions.list({ actionName: desired.ACTION_NAME(settings) }), 'actions');
  const listed = actions.find((a) => a.name === desired.ACTION_NAME(settings)) || null;
  const action = listed ? await client.actions.get(listed.id) : null;
  let profiles = [];
  try {
    profiles = await all(client.tokenExchangeProfiles.list({}), 'token_exchange_profiles');
  } catch (error) {
    // A tenant without the Early Access entitlement has no such listing.
    if (!MISSING.includes(error.statusCode) && error.statusCode !== 403) throw error;
    profiles = null;
  }
  const profile = profiles ? profiles.find((p) => p.subject_token_type === settings.subjectTokenType) || null : null;
  return { action, profile, profilesAvailable: profiles !== null };
}

// ---- what differs ------------------------------------------------------------------------------

// The fields of `want` whose values `have` does not already have (deep, for objects; exact for
// arrays), as a patch.
function patchOf(want, have) {
  const patch = {};
  for (const [key, value] of Object.entries(want)) {
    const current = have ? have[key] : undefined;
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const inner = patchOf(value, current && typeof current === 'object' ? current : {});
      if (Object.keys(inner).length) patch[key] = value;
    } else if (JSON.stringify(value) !== JSON.stringify(current)) {
      patch[key] = value;
    }
  }
  return patch;
}

// The connection's options as they must be: the existing ones (Auth0 replaces the whole
// options object on update) with ours on top, and, with assertions, no Authsignal secret.
function connectionOptions(existing, want, settings) {
  const options = { ...(existing ? existing.options || {} : {}), ...want.options };
  if (want.options.configuration) {
    const configuration = { ...((existing && existing.options && existing.options.configuration) || {}), ...want.options.configuration };
    if (settings.signInProof === 'assertion') {
      delete configuration.AUTHSIGNAL_SECRET;
      delete configuration.AUTHSIGNAL_CONNECT_URL;
    }
    options.configuration = configuration;
  }
  if (want.options.customScripts) {
    options.customScripts = { ...((existing && existing.options && existing.options.customScripts) || {}), ...want.options.customScripts };
  }
  if (desired.tokenExchange(settings)) {
    // The Action signs users in; a Login script left from the password grant would be a second
    // way in, and its settings may hold the Authsignal secret.
    delete options.customScripts;
    delete options.configuration;
  }
  return options;
}

// The public keys the connection must list: BRIDGE_PUBLIC_KEYS when given, else the
// connection's current ones, else a new key's (whose private half is returned to print).
function publicKeysFor(tenant, environment, settings) {
  if (environment.BRIDGE_PUBLIC_KEYS) return { publicKeys: environment.BRIDGE_PUBLIC_KEYS, newKey: null };
  // The token exchange Action's secret cannot be read back: there, the keys setup set last are
  // kept (null) unless new ones are given.
  if (desired.tokenExchange(settings) && tenant.action) return { publicKeys: null, newKey: null };
  const current = tenant.connection && tenant.connection.options && tenant.connection.options.configuration
    && tenant.connection.options.configuration.BRIDGE_PUBLIC_KEYS;
  if (current && !desired.publicKeysProblem(current)) return { publicKeys: current, newKey: null };
  const { privateKey } = crypto.generateKeyPairSync('ed25519');
  return {
    publicKeys: JSON.stringify([publicJwk(privateKey)]),
    newKey: privateKey.export({ format: 'pem', type: 'pkcs8' })
  };
}

const PASSWORD_GRANTS = ['password', desired.PASSWORD_REALM];

// The tenant's clients other than the bridge's that may use the password grants.
function otherPasswordClients(tenant) {
  return tenant.clients.filter((c) => (!tenant.application || c.client_id !== tenant.application.client_id)
    && (c.grant_types || []).some((g) => PASSWORD_GRANTS.includes(g)));
}

// The tenant's clients other than the bridge's that may use Custom Token Exchange profiles.
function otherExchangers(tenant) {
  return tenant.clients.filter((c) => (!tenant.application || c.client_id !== tenant.application.client_id)
    && ((c.token_exchange && c.token_exchange.allow_any_profile_of_type) || []).includes('custom_authentication'));
}

// The secrets the token exchange Action lacks and needs: its keys, and BRIDGE_CLIENT_ID when
// another application may use Custom Token Exchange profiles (the Action alone refuses it).
function missingActionSecrets(tenant) {
  const names = new Set(((tenant.action && tenant.action.secrets) || []).map((secret) => secret.name));
  return [
    ...(names.has('BRIDGE_PUBLIC_KEYS') ? [] : ['BRIDGE_PUBLIC_KEYS']),
    ...(names.has('BRIDGE_CLIENT_ID') || otherExchangers(tenant).length === 0 ? [] : ['BRIDGE_CLIENT_ID'])
  ];
}

// The changes setup makes, in order, each {what, action (create/update), apply(client)}.
function plan(tenant, settings, environment) {
  const changes = [];
  if (desired.tokenExchange(settings) && !settings.subjectTokenType) {
    throw new Error('Auth0GrantType=token-exchange needs Auth0SubjectTokenType (samconfig.toml, or the variable of that name)');
  }
  const keys = settings.signInProof === 'assertion' ? publicKeysFor(tenant, environment, settings) : { publicKeys: null, newKey: null };

  const wantConnection = desired.desiredConnection(settings, keys.publicKeys);
  if (!tenant.connection) {
    changes.push({
      what: `connection ${settings.realm}`, action: 'create', fields: Object.keys(wantConnection.options),
      apply: async (client, state) => { state.connection = await client.connections.create(wantConnection); }
    });
  } else {
    const options = connectionOptions(tenant.connection, wantConnection, settings);
    const patch = patchOf({ options }, tenant.connection);
    const removed = JSON.stringify(options) !== JSON.stringify(tenant.connection.options);
    if (Object.keys(patch).length || removed) {
      changes.push({
        what: `connection ${settings.realm}`, action: 'update', fields: Object.keys(patchOf(options, tenant.connection.options)).map((f) => `options.${f}`),
        apply: async (client, state) => { state.connection = await client.connections.update(tenant.connection.id, { options }); }
      });
    }
  }

  const wantApplication = desired.desiredApplication(settings);
  if (!tenant.application) {
    changes.push({
      what: `application "${wantApplication.name}"`, action: 'create', fields: Object.keys(wantApplication),
      apply: async (client, state) => { state.application = await client.clients.create(wantApplication); }
    });
  } else {
    const patch = patchOf(wantApplication, tenant.application);
    // An adopted application keeps its own name and description.
    if (settings.clientId) { delete patch.name; delete patch.description; }
    if (Object.keys(patch).length) {
      changes.push({
        what: `application "${wantApplication.name}"`, action: 'update', fields: Object.keys(patch),
        apply: async (client, state) => { state.application = await client.clients.update(tenant.application.client_id, patch); }
      });
    }
  }

  // The connection enabled for the bridge's application and no other.
  const others = tenant.enabledClients.filter((id) => !tenant.application || id !== tenant.application.client_id);
  const missing = !tenant.application || !tenant.enabledClients.includes(tenant.application.client_id);
  if (others.length || missing || !tenant.connection) {
    changes.push({
      what: `connection ${settings.realm}: enabled applications`, action: 'update',
      fields: [...(missing ? ['enable the bridge\'s application'] : []), ...others.map((id) => `disable ${id}`)],
      apply: async (client, state) => {
        if (!tenant.enabledClientsEndpoint) {
          await client.connections.update(state.connection.id, { enabled_clients: [state.application.client_id] });
          return;
        }
        const updates = [{ client_id: state.application.client_id, status: true },
          ...others.map((id) => ({ client_id: id, status: false }))];
        await client.connections.clients.update(state.connection.id, updates);
      }
    });
  }

  // No other client may use the password grants: a client with them and the connection (today,
  // or after a later click) signs users in without the bridge. Other applications are changed
  // only in this one way, and --dry-run names them first.
  for (const other of otherPasswordClients(tenant)) {
    const removed = other.grant_types.filter((g) => PASSWORD_GRANTS.includes(g));
    changes.push({
      what: `application "${other.name}"`, action: 'update', fields: [`grant_types: remove ${removed.join(', ')}`],
      apply: async (client) => {
        await client.clients.update(other.client_id, { grant_types: other.grant_types.filter((g) => !PASSWORD_GRANTS.includes(g)) });
      }
    });
  }

  if (desired.tokenExchange(settings)) changes.push(...tokenExchangeChanges(tenant, settings, keys.publicKeys));

  if (settings.grantType === 'password' && tenant.tenantSettings.default_directory !== settings.realm) {
    changes.push({
      what: 'tenant settings', action: 'update', fields: [`default_directory: ${settings.realm}`],
      apply: async (client) => { await client.tenants.settings.update({ default_directory: settings.realm }); }
    });
  }

  if (settings.wantsRefreshTokens) {
    if (!settings.audience) {
      throw new Error('Auth0Scope asks for offline_access, so the bridge needs an API allowing it: set Auth0Audience ' +
        '(samconfig.toml, or the Auth0Audience variable) to its identifier, e.g. https://api.example.com');
    }
    const wantApi = desired.desiredApi(settings);
    if (!tenant.api) {
      changes.push({
        what: `API ${settings.audience}`, action: 'create', fields: Object.keys(wantApi),
        apply: async (client) => { await client.resourceServers.create(wantApi); }
      });
    } else if (tenant.api.allow_offline_access !== true) {
      changes.push({
        what: `API ${settings.audience}`, action: 'update', fields: ['allow_offline_access'],
        apply: async (client) => { await client.resourceServers.update(tenant.api.id, { allow_offline_access: true }); }
      });
    }
  }
  return { changes, newKey: keys.newKey };
}

// The Action (created or updated, then deployed) and the profile that runs it for the
// bridge's subject_token_type. `publicKeys` is null when the Action's current keys stay.
function tokenExchangeChanges(tenant, settings, publicKeys) {
  const changes = [];
  const action = tenant.action;
  const current = action ? desired.splitActionCode(action.code) : { code: '', digest: null };
  const missing = missingActionSecrets(tenant);
  const codeDiffers = current.code !== desired.actionCode();
  // What the secrets must be, once the application's client id is known.
  const secretsFor = (state) => desired.actionSecrets(settings, publicKeys, state.application.client_id);
  const digestFor = (state) => desired.secretsDigest(secretsFor(state));
  const knownClientId = tenant.application && tenant.application.client_id;
  const secretsDiffer = publicKeys !== null && (!knownClientId || current.digest !== digestFor({ application: tenant.application }));
  if (!action) {
    changes.push({
      what: `Action ${desired.ACTION_NAME(settings)}`, action: 'create', fields: ['code', 'secrets', 'deploy'],
      apply: async (client, state) => {
        const want = desired.desiredAction(settings, secretsFor(state));
        state.action = await client.actions.create(want);
        await client.actions.deploy(state.action.id);
      }
    });
  } else if (codeDiffers || secretsDiffer || missing.length > 0 || !tenant.application) {
    // The secrets are written together, and Auth0 never shows them again: a missing one, or a
    // new application (BRIDGE_CLIENT_ID must name it), needs the public keys given.
    if (publicKeys === null && (missing.length > 0 || !tenant.application)) {
      const why = !tenant.application ? 'its BRIDGE_CLIENT_ID must name the application this run creates'
        : `it lacks ${missing.join(' and ')}`;
      throw new Error(`the Action ${desired.ACTION_NAME(settings)} needs its secrets written again (${why}): ` +
        'give BRIDGE_PUBLIC_KEYS (make signing-key prints them)');
    }
    changes.push({
      what: `Action ${desired.ACTION_NAME(settings)}`, action: 'update',
      fields: [...(codeDiffers ? ['code'] : []), ...(publicKeys !== null ? ['secrets'] : []), 'deploy'],
      apply: async (client, state) => {
        // Without new keys the secrets stay as they are, and so does the digest that says so.
        const code = publicKeys !== null ? desired.desiredAction(settings, secretsFor(state)).code
          : desired.withSecretsDigest(current.digest);
        const patch = { code, supported_triggers: [desired.ACTION_TRIGGER], runtime: 'node22' };
        if (publicKeys !== null) patch.secrets = desired.desiredAction(settings, secretsFor(state)).secrets;
        state.action = await client.actions.update(action.id, patch);
        await client.actions.deploy(action.id);
      }
    });
  } else if (action.all_changes_deployed === false) {
    changes.push({
      what: `Action ${desired.ACTION_NAME(settings)}`, action: 'update', fields: ['deploy'],
      apply: async (client, state) => { state.action = action; await client.actions.deploy(action.id); }
    });
  }

  const profile = tenant.profile;
  if (!tenant.profilesAvailable) {
    throw new Error('the tenant has no Custom Token Exchange profiles: it is an Early Access feature of the Professional ' +
      'and Enterprise plans (ask Auth0 to enable it), or the Management API application lacks read:token_exchange_profiles');
  }
  const actionId = (state) => (state.action || action).id;
  if (!profile) {
    changes.push({
      what: `token exchange profile for ${settings.subjectTokenType}`, action: 'create', fields: ['subject_token_type', 'action_id'],
      apply: async (client, state) => { await client.tokenExchangeProfiles.create(desired.desiredProfile(settings, actionId(state))); }
    });
  } else if (!action || profile.action_id !== action.id) {
    // A profile's Action cannot be changed in place: it is made again.
    changes.push({
      what: `token exchange profile for ${settings.subjectTokenType}`, action: 'update', fields: ['action_id (made again)'],
      apply: async (client, state) => {
        await client.tokenExchangeProfiles.delete(profile.id);
        await client.tokenExchangeProfiles.create(desired.desiredProfile(settings, actionId(state)));
      }
    });
  }
  return changes;
}

// ---- the audit ---------------------------------------------------------------------------------

// Each row: {state: ok | UNSAFE | BROKEN, check, finding, fix}.
function audit(tenant, settings) {
  const rows = [];
  const row = (bad, state, check, finding, fix) => rows.push({ state: bad ? state : 'ok', check, finding: bad ? finding : 'as it should be', fix: bad ? fix : '' });
  const setup = 'make auth0-setup';
  const connection = tenant.connection;
  const application = tenant.application;
  const options = (connection && connection.options) || {};
  const configuration = options.configuration || {};

  row(!connection, 'BROKEN', 'connection exists', `no database connection named ${settings.realm}`, setup);
  row(!application, 'BROKEN', 'application exists', `no application named "${desired.APPLICATION_NAME(settings)}" (or give its client id as AUTH0_CLIENT_ID)`, setup);
  const others = tenant.enabledClients.filter((id) => !application || id !== application.client_id);
  const names = (ids) => ids.map((id) => { const c = tenant.clients.find((x) => x.client_id === id); return c ? `"${c.name}"` : id; }).join(', ');
  row(others.length > 0, 'UNSAFE', 'connection enabled for the bridge only',
    `also enabled for ${names(others)}: they can sign users in past the bridge's checks`,
    `disable the connection for them (${setup})`);
  row(connection && application && !tenant.enabledClients.includes(application.client_id), 'BROKEN',
    'connection enabled for the bridge', 'the bridge\'s application cannot use the connection', setup);
  row(options.import_mode === true, 'UNSAFE', 'import mode off',
    'import mode is on: users are copied into Auth0 and then sign in with their Auth0 password, not through the script',
    `turn off "Import Users to Auth0" (${setup})`);
  row(connection && options.disable_signup !== true, 'UNSAFE', 'sign-ups disabled', 'anyone can sign up to the connection', setup);
  const passwordClients = otherPasswordClients(tenant);
  row(passwordClients.length > 0, 'UNSAFE', 'no other client with the password grants',
    `${passwordClients.map((c) => `"${c.name}"`).join(', ')} may use the password grants`,
    `${setup} removes them (or Applications -> Advanced -> Grant Types)`);
  if (application) {
    const extraGrants = (application.grant_types || []).filter((g) => !desired.grantsFor(settings).includes(g));
    const redirects = ['callbacks', 'allowed_logout_urls', 'web_origins', 'allowed_origins']
      .filter((field) => (application[field] || []).length > 0);
    row(extraGrants.length > 0 || redirects.length > 0, 'UNSAFE', 'bridge application: its grants only, no callbacks',
      [extraGrants.length ? `extra grants ${extraGrants.join(', ')}` : '', redirects.length ? `URLs in ${redirects.join(', ')}` : '']
        .filter(Boolean).join('; '), setup);
    // A public client needs no secret at Auth0: anyone with the client id (which every app
    // holds) could redeem refresh tokens there, past the bridge (and its DPOP=required).
    const method = application.token_endpoint_auth_method;
    const isPublic = ['native', 'spa'].includes(application.app_type) || method === 'none';
    row(isPublic, 'UNSAFE', 'bridge application is confidential',
      `app type ${application.app_type || 'unset'}, token endpoint authentication ${method || 'none'}: anyone with the client id can use Auth0's token endpoint without the bridge`,
      setup);
    if (settings.dpop === 'required') {
      row(application.require_proof_of_possession !== true, 'UNSAFE', 'tokens bound to the app\'s key',
        'Dpop=required, but the application does not require proof of possession: Auth0 may issue Bearer tokens that work without the app\'s key',
        setup);
    }
    row(application.is_token_endpoint_ip_header_trusted !== true, 'UNSAFE', 'end-user IP trusted',
      '"Trust Token Endpoint IP Header" is off: brute-force protection counts every sign-in against the Lambda\'s IPs', setup);
    const rt = application.refresh_token || {};
    row(settings.wantsRefreshTokens && (rt.rotation_type !== 'rotating' || rt.expiration_type !== 'expiring'
      || rt.infinite_token_lifetime !== false || rt.infinite_idle_token_lifetime !== false), 'UNSAFE',
    'refresh tokens rotate and expire',
    `rotation ${rt.rotation_type || 'off'}, expiration ${rt.expiration_type || 'off'}: a stolen refresh token lives on`, setup);
  }
  if (settings.grantType === 'password') {
    row(tenant.tenantSettings.default_directory !== settings.realm, 'BROKEN', 'the Default Directory is the connection',
      `Auth0GrantType=password signs in through the Default Directory, which is ${tenant.tenantSettings.default_directory || 'not set'}`, setup);
  }
  if (settings.wantsRefreshTokens) {
    row(!settings.audience || !tenant.api || tenant.api.allow_offline_access !== true, 'BROKEN', 'an API allows offline access',
      !settings.audience ? 'Auth0Scope asks for offline_access but Auth0Audience is empty: no refresh tokens'
        : !tenant.api ? `no API ${settings.audience}` : `API ${settings.audience} does not allow offline access: no refresh tokens`,
      settings.audience ? setup : `set Auth0Audience, then ${setup}`);
  }
  if (desired.tokenExchange(settings)) {
    tokenExchangeRows(tenant, settings, row, setup);
    row(connection && (options.enabledDatabaseCustomization === true || Object.keys(options.customScripts || {}).length > 0), 'UNSAFE',
      'connection runs no custom database scripts',
      'the connection runs custom database scripts: a Login script is a way in that skips the Action', setup);
  } else if (connection) {
    const script = (options.customScripts || {}).login || '';
    row(script !== desired.loginScript(), 'UNSAFE', 'Login script is the shipped one',
      'the Login script differs from auth0/login.js', setup);
    if (settings.signInProof === 'assertion') {
      const problem = desired.publicKeysProblem(configuration.BRIDGE_PUBLIC_KEYS);
      row(Boolean(problem), 'BROKEN', 'the bridge\'s public keys set',
        `${problem}: the script does not accept the bridge's assertions`, `make signing-key, then ${setup}`);
      const issuer = configuration.BRIDGE_ISSUER || 'authsignal-auth0-bridge';
      const audience = configuration.BRIDGE_AUDIENCE || 'authsignal';
      row(issuer !== settings.issuer || audience !== settings.realm, 'BROKEN', 'assertion issuer and audience match the bridge',
        `the script expects iss ${issuer} and aud ${audience}; the bridge signs iss ${settings.issuer} and aud ${settings.realm}`, setup);
    }
  }
  if (connection && settings.signInProof === 'assertion') {
    row(Boolean(configuration.AUTHSIGNAL_SECRET), 'UNSAFE', 'no Authsignal secret in the connection',
      'AUTHSIGNAL_SECRET is in the connection\'s settings: a leak of the tenant\'s configuration leaks it', setup);
  }
  return rows;
}

// The audit's rows for Custom Token Exchange (`row` adds one to the table).
function tokenExchangeRows(tenant, settings, row, setup) {
  const application = tenant.application;
  const action = tenant.action;
  if (application) {
    const types = (application.token_exchange && application.token_exchange.allow_any_profile_of_type) || [];
    row(!types.includes('custom_authentication'), 'BROKEN', 'application may use token exchange profiles',
      'the bridge\'s application does not allow Custom Token Exchange profiles', setup);
  }
  row(!action, 'BROKEN', 'token exchange Action exists', `no Action named ${desired.ACTION_NAME(settings)}`, setup);
  if (action) {
    row(desired.splitActionCode(action.code).code !== desired.actionCode(), 'UNSAFE', 'Action is the shipped one',
      'the Action\'s code differs from auth0/token-exchange.js', setup);
    row(action.all_changes_deployed === false, 'BROKEN', 'Action deployed', 'the Action has changes that are not deployed', setup);
    const names = new Set((action.secrets || []).map((secret) => secret.name));
    const missing = missingActionSecrets(tenant);
    row(missing.includes('BRIDGE_PUBLIC_KEYS'), 'BROKEN', 'the bridge\'s public keys set',
      'the Action has no BRIDGE_PUBLIC_KEYS secret: it refuses every exchange', `make signing-key, then ${setup}`);
    row(missing.includes('BRIDGE_CLIENT_ID'), 'UNSAFE', 'Action admits the bridge\'s application only',
      `${otherExchangers(tenant).map((c) => `"${c.name}"`).join(', ')} may use Custom Token Exchange profiles, and the Action has no BRIDGE_CLIENT_ID to refuse them`,
      `${setup} with BRIDGE_PUBLIC_KEYS`);
    row(names.has('AUTHSIGNAL_SECRET'), 'UNSAFE', 'no Authsignal secret in the Action',
      'the Action holds AUTHSIGNAL_SECRET, which it never needs', 'remove it (Actions -> Secrets)');
  }
  if (!tenant.profilesAvailable) {
    row(true, 'BROKEN', 'token exchange profile runs the Action',
      'no Custom Token Exchange profiles on this tenant (an Early Access feature, or a missing read:token_exchange_profiles scope)',
      'ask Auth0 to enable Custom Token Exchange');
  } else {
    row(!tenant.profile || !action || tenant.profile.action_id !== action.id, 'BROKEN', 'token exchange profile runs the Action',
      !tenant.profile ? `no profile for ${settings.subjectTokenType}` : `the profile for ${settings.subjectTokenType} runs another Action`, setup);
  }
}

function printTable(rows, out) {
  const widths = ['state', 'check', 'finding', 'fix'].map((k) => Math.max(k.length, ...rows.map((r) => r[k].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |\n`;
  out.write(line(['state', 'check', 'finding', 'fix']));
  out.write(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) out.write(line([r.state, r.check, r.finding, r.fix]));
}

// ---- wiring ------------------------------------------------------------------------------------

const LOOPBACK = /^http:\/\/(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?(\/|$)/;

// The Management API's base URL: AUTH0_MANAGEMENT_API_URL, else https://<Auth0Domain>/api/v2
// (Auth0Domain may be a full base URL, as the stack allows; http:// only on loopback).
function managementApiBase(settings, environment) {
  let base = environment.AUTH0_MANAGEMENT_API_URL;
  if (!base) {
    if (!settings.domain) throw new Error('set Auth0Domain in samconfig.toml (or the Auth0Domain variable)');
    base = /^https?:\/\//.test(settings.domain) ? `${settings.domain.replace(/\/+$/, '')}/api/v2` : `https://${settings.domain}/api/v2`;
  }
  base = base.replace(/\/+$/, '');
  if (!base.startsWith('https://') && !LOOPBACK.test(base)) {
    throw new Error('the Management API must be https:// (http:// only on loopback)');
  }
  return base;
}

function managementClient(settings, environment) {
  const base = managementApiBase(settings, environment);
  const domain = new URL(base).host;
  const options = { domain, telemetry: false };
  if (environment.AUTH0_MANAGEMENT_TOKEN) options.token = environment.AUTH0_MANAGEMENT_TOKEN;
  else if (environment.AUTH0_MANAGEMENT_CLIENT_ID && environment.AUTH0_MANAGEMENT_CLIENT_SECRET) {
    options.clientId = environment.AUTH0_MANAGEMENT_CLIENT_ID;
    options.clientSecret = environment.AUTH0_MANAGEMENT_CLIENT_SECRET;
  } else {
    throw new Error('set AUTH0_MANAGEMENT_CLIENT_ID and AUTH0_MANAGEMENT_CLIENT_SECRET (or AUTH0_MANAGEMENT_TOKEN)');
  }
  // The SDK calls https://<domain>/api/v2/... and, with client credentials,
  // https://<domain>/oauth/token: both go where `base` says.
  const sdkBase = `https://${domain}/api/v2`;
  if (base !== sdkBase) {
    const root = base.endsWith('/api/v2') ? base.slice(0, -'/api/v2'.length) : new URL(base).origin;
    options.fetch = (input, init) => {
      const url = typeof input === 'string' ? input : input.url;
      const moved = url.startsWith(sdkBase) ? base + url.slice(sdkBase.length)
        : url.startsWith(`https://${domain}/`) ? root + url.slice(`https://${domain}`.length) : url;
      return fetch(moved, init);
    };
  }
  return new ManagementClient(options);
}

function parseArguments(argv) {
  const [command, ...rest] = argv;
  const options = { command, dryRun: false, configEnv: 'default' };
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--dry-run') options.dryRun = true;
    else if (rest[i] === '--config-env') options.configEnv = rest[++i];
    else throw new Error(`unknown argument ${rest[i]}`);
  }
  if (!['setup', 'check'].includes(command)) throw new Error('usage: tenant.js setup [--dry-run] [--config-env ENV] | check [--config-env ENV]');
  return options;
}

function settingsFrom(options, environment) {
  const samconfig = environment.SAMCONFIG || path.join(ROOT, 'samconfig.toml');
  const text = fs.readFileSync(samconfig, 'utf8');
  const parameters = desired.samconfigParameters(text, options.configEnv);
  const stack = new RegExp(`^\\[${options.configEnv}\\.deploy\\.parameters\\][^[]*?stack_name\\s*=\\s*"([^"]+)"`, 'ms').exec(text);
  if (stack) parameters.StackName = stack[1];
  const names = ['Auth0Domain', 'Auth0Realm', 'Auth0GrantType', 'Auth0Scope', 'Auth0Audience', 'SignInProof',
    'AssertionIssuer', 'Auth0SubjectTokenType', 'Dpop', 'StackName'];
  const overrides = Object.fromEntries(names.filter((n) => environment[n] !== undefined).map((n) => [n, environment[n]]));
  // The function's own variable names work too.
  if (environment.AUTH0_DOMAIN && overrides.Auth0Domain === undefined) overrides.Auth0Domain = environment.AUTH0_DOMAIN;
  return { ...desired.bridgeSettings(parameters, overrides), clientId: environment.AUTH0_CLIENT_ID || '' };
}

async function main(argv, environment = process.env, out = process.stdout) {
  const options = parseArguments(argv);
  const settings = settingsFrom(options, environment);
  const client = managementClient(settings, environment);
  const tenant = await readTenant(client, settings);

  if (options.command === 'check') {
    const rows = audit(tenant, settings);
    printTable(rows, out);
    const bad = rows.filter((r) => r.state !== 'ok');
    out.write(bad.length ? `\n${bad.length} finding(s): the tenant is not safe to run the bridge as it is.\n` : '\nThe tenant is set up as the bridge needs.\n');
    return bad.length ? 1 : 0;
  }

  const { changes, newKey } = plan(tenant, settings, environment);
  if (!changes.length) out.write('The tenant already is as the bridge needs: nothing to change.\n');
  for (const change of changes) {
    out.write(`${options.dryRun ? 'would ' : ''}${change.action} ${change.what}: ${change.fields.join(', ')}\n`);
  }
  if (options.dryRun) {
    out.write('\n--dry-run: nothing was written.\n');
    return 0;
  }
  const state = { connection: tenant.connection, application: tenant.application };
  for (const change of changes) await change.apply(client, state);
  const application = state.application;
  out.write('\nFor the bridge\'s secret in Secrets Manager (fields of its JSON):\n');
  out.write(`  AUTH0_CLIENT_ID=${application.client_id}\n`);
  if (application.client_secret) {
    out.write(`  AUTH0_CLIENT_SECRET=${application.client_secret}   (keep it only in the secret)\n`);
  } else {
    out.write('  AUTH0_CLIENT_SECRET: the application\'s secret (Applications -> Settings; unchanged by this run)\n');
  }
  if (newKey) out.write(`  BRIDGE_SIGNING_KEY=${JSON.stringify(newKey)}   (a new key: keep it only in the secret)\n`);
  out.write('\nFor samconfig.toml (parameter_overrides):\n');
  out.write(`  "Auth0Domain=${settings.domain}", "Auth0Realm=${settings.realm}", "Auth0Scope=${settings.scope}"`);
  out.write(settings.audience ? `, "Auth0Audience=${settings.audience}"` : '');
  out.write(desired.tokenExchange(settings)
    ? `, "Auth0GrantType=token-exchange", "Auth0SubjectTokenType=${settings.subjectTokenType}"\n` : '\n');
  return 0;
}

module.exports = { main, plan, audit, patchOf, readTenant };

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (error) => {
    process.stderr.write(`auth0 tenant: ${error.message}\n`);
    process.exit(2);
  });
}
