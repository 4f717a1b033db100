// What `make auth0-setup` changes: the difference between the tenant as read and as the bridge
// needs it, as a list of changes, each {what, action (create/update), fields, scopes (what the
// Management API token needs for it), apply(call, state)}. Nothing is written while planning,
// so a run that must refuse (a key it was not given, a setting Auth0 hides) refuses before any
// write, and --dry-run prints the plan.
'use strict';
const desired = require('./desired.js');
const expected = require('./expected.js');
const { all } = require('./read.js');
const { OperatorError } = require('./errors.js');

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

const change = (what, action, fields, scopes, apply) => ({ what, action, fields, scopes, apply });
const passwordGrantsOf = (client) => (client.grant_types || []).filter((g) => desired.PASSWORD_GRANTS.includes(g));

// ---- the connection ------------------------------------------------------------------------

// The Login script setup writes, and the connection settings it writes with it (null: none).
// With assertions: the bridge's keys (refused without any); with the Authsignal token: the
// settings the run was given, noted (salted digest) in the script so a later run can tell they
// are there already.
function loginScriptFor(tenant, settings, run) {
  const current = expected.loginCodeOf(tenant);
  const strip = expected.stripProviderPrefixFor(tenant, settings, run.environment);
  if (settings.signInProof === 'assertion') {
    const keys = expected.keysToPublish(current, run.keySource);
    if (!keys) throw expected.refuseWithoutKeys(tenant.connection ? `the connection ${settings.realm}'s Login script` : 'the tenant');
    return { code: expected.loginCode(settings, keys, strip), configuration: null };
  }
  const given = expected.authsignalSettingsGiven(run.environment);
  const note = given && !expected.noteMatches(current, given) ? expected.settingsNote(given) : expected.noteIn(current);
  return { code: expected.loginCode(settings, null, strip, note ? [note] : []), configuration: given, written: given && !expected.noteMatches(current, given) };
}

// The connection's options as setup writes them over `existing` (Auth0 replaces the options whole,
// so what setup does not manage is sent back), never with the settings as read: Auth0 shows
// those encrypted, and writing them back would store the ciphertext.
function optionsOver(existing, want, settings, configuration) {
  const { configuration: encrypted, ...kept } = existing || {};
  const options = { ...kept, ...want };
  if (desired.tokenExchange(settings)) {
    // The Action signs users in; a Login script left from the password grant would be a second
    // way in, and its settings may hold the Authsignal secret.
    delete options.customScripts;
  } else {
    options.customScripts = { ...(kept.customScripts || {}), ...want.customScripts };
  }
  if (configuration) options.configuration = configuration;
  return options;
}

// Why an existing connection must be written: the fields that differ, settings to drop, settings
// to write.
function connectionDifferences(existing, want, settings, login) {
  const fields = Object.keys(patchOf(want, existing)).map((field) => `options.${field}`);
  const names = Object.keys(existing.configuration || {});
  const tokenExchange = desired.tokenExchange(settings);
  if (tokenExchange && Object.keys(existing.customScripts || {}).length) fields.push('options.customScripts: removed');
  // With assertions or the Action, the connection needs no settings: any there go.
  if ((tokenExchange || settings.signInProof === 'assertion') && names.length) {
    fields.push(`options.configuration: remove ${names.join(', ')} (nothing reads them; Auth0 shows them only encrypted)`);
  }
  if (login.written) fields.push('options.configuration: AUTHSIGNAL_SECRET, AUTHSIGNAL_CONNECT_URL from the environment');
  if (settings.signInProof !== 'assertion' && !tokenExchange) {
    const missing = ['AUTHSIGNAL_SECRET', 'AUTHSIGNAL_CONNECT_URL'].filter((name) => !names.includes(name));
    if (missing.length) fields.push(`options.configuration: ${missing.join(', ')} missing`);
  }
  return fields;
}

function connectionChanges(tenant, settings, run) {
  const login = desired.tokenExchange(settings) ? { code: null, configuration: null } : loginScriptFor(tenant, settings, run);
  const want = desired.desiredConnectionOptions(settings, login.code);
  const legacyToken = !desired.tokenExchange(settings) && settings.signInProof !== 'assertion';
  const needSettings = (why) => new OperatorError(`the connection ${settings.realm} ${why}, and Auth0 shows its settings only encrypted: ` +
    'they are never copied back. Fix: give AUTHSIGNAL_SECRET and AUTHSIGNAL_CONNECT_URL (SignInProof=authsignal-token), or move to assertions.');
  if (!tenant.connection) {
    if (legacyToken && !login.configuration) throw needSettings('is new');
    const options = optionsOver({}, want, settings, login.configuration);
    return [change(`connection ${settings.realm}`, 'create', Object.keys(options).map((f) => `options.${f}`), ['create:connections'],
      async (call, state) => {
        state.connection = await call(`creating the connection ${settings.realm}`,
          (client) => client.connections.create({ name: settings.realm, strategy: 'auth0', options }));
      })];
  }
  const existing = tenant.connection.options || {};
  const fields = connectionDifferences(existing, want, settings, login);
  if (!fields.length) return [];
  if (legacyToken && !login.configuration) throw needSettings(`must be written (${fields.join('; ')})`);
  const options = optionsOver(existing, want, settings, login.configuration);
  return [change(`connection ${settings.realm}`, 'update', fields, ['update:connections'], async (call, state) => {
    state.connection = await call(`updating the connection ${settings.realm}`, (client) => client.connections.update(tenant.connection.id, { options }));
  })];
}

// ---- the bridge's application and what it may reach ------------------------------------------

// Disables each of `connections` for the bridge's application `clientId`.
async function disableConnections(call, connections, clientId) {
  for (const other of connections) {
    await call(`disabling the connection ${other.name} for the bridge's application`,
      (client) => client.connections.clients.update(other.id, [{ client_id: clientId, status: false }]));
  }
}

// Disables every connection but the bridge's for the application `clientId`, as listed now.
async function disableOtherConnections(call, settings, clientId) {
  const connections = await call('reading the connections of the bridge\'s application',
    (client) => all(client.clients.connections.get(clientId), 'connections'));
  await disableConnections(call, connections.filter((c) => c.name !== settings.realm), clientId);
}

function applicationChanges(tenant, settings) {
  const want = desired.desiredApplication(settings);
  if (!tenant.application) {
    // A new application gets every connection of the tenant (enable_client_connections): they
    // are disabled for it right away, before anything can use it.
    return [change(`application "${want.name}"`, 'create', [...Object.keys(want), 'every other connection disabled for it'],
      ['create:clients', 'read:connections', 'read:clients', 'update:connections'], async (call, state) => {
        state.application = await call(`creating the application "${want.name}"`, (client) => client.clients.create(want));
        await disableOtherConnections(call, settings, state.application.client_id);
      })];
  }
  const changes = [];
  const application = tenant.application;
  const patch = patchOf(want, application);
  // An adopted application keeps its own name and description, and any metadata of its own.
  if (settings.clientId) { delete patch.name; delete patch.description; }
  if (patch.client_metadata) patch.client_metadata = { ...(application.client_metadata || {}), ...want.client_metadata };
  if (Object.keys(patch).length) {
    changes.push(change(`application "${application.name}"`, 'update', Object.keys(patch), ['update:clients'], async (call, state) => {
      state.application = await call(`updating the application "${application.name}"`, (client) => client.clients.update(application.client_id, patch));
    }));
  }
  const others = tenant.applicationConnections.filter((c) => c.name !== settings.realm);
  if (others.length) {
    changes.push(change(`application "${application.name}": its connections`, 'update', others.map((c) => `disable ${c.name}`),
      ['update:connections'], (call) => disableConnections(call, others, application.client_id)));
  }
  return changes;
}

// The connection enabled for the bridge's application and no other.
function enabledClientsChanges(tenant, settings) {
  const application = tenant.application;
  const others = tenant.enabledClients.filter((id) => !application || id !== application.client_id);
  const missing = !application || !tenant.enabledClients.includes(application.client_id);
  if (!others.length && !missing && tenant.connection) return [];
  return [change(`connection ${settings.realm}: enabled applications`, 'update',
    [...(missing ? ['enable the bridge\'s application'] : []), ...others.map((id) => `disable ${id}`)], ['update:connections'],
    async (call, state) => {
      const what = `setting the applications of the connection ${settings.realm}`;
      if (!tenant.enabledClientsEndpoint) {
        await call(what, (client) => client.connections.update(state.connection.id, { enabled_clients: [state.application.client_id] }));
        return;
      }
      const updates = [{ client_id: state.application.client_id, status: true }, ...others.map((id) => ({ client_id: id, status: false }))];
      await call(what, (client) => client.connections.clients.update(state.connection.id, updates));
    })];
}

// The other applications that could sign users in past the bridge: those with the password grants
// that have the bridge's connection (setup disables it for them). Setup changes them only when
// asked (--fix-other-applications): it then also takes the password grants away.
function otherPasswordApplications(tenant) {
  return tenant.clients.filter((c) => (!tenant.application || c.client_id !== tenant.application.client_id)
    && tenant.enabledClients.includes(c.client_id) && passwordGrantsOf(c).length > 0);
}

function otherApplicationChanges(tenant, run) {
  if (!run.fixOtherApplications) return [];
  return otherPasswordApplications(tenant).map((other) => change(`application "${other.name}"`, 'update',
    [`grant_types: remove ${passwordGrantsOf(other).join(', ')}`], ['update:clients'], async (call) => {
      const grants = other.grant_types.filter((g) => !desired.PASSWORD_GRANTS.includes(g));
      await call(`removing the password grants of "${other.name}"`, (client) => client.clients.update(other.client_id, { grant_types: grants }));
    }));
}

// ---- Custom Token Exchange -------------------------------------------------------------------

// Polls the Action until Auth0 has built it (an Action builds after every create and update,
// and cannot be deployed before), bounded by `wait` ({timeoutMs, pollMs}).
async function builtAction(call, actionId, name, wait) {
  const started = Date.now();
  for (;;) {
    const action = await call(`reading the Action ${name}`, (client) => client.actions.get(actionId));
    // An answer without a build status has nothing to wait for: the deploy says how it went.
    if (action.status === 'built' || action.status === undefined) return action;
    if (action.status === 'failed') {
      const why = (action.errors || []).map((e) => e.msg || e.message).filter(Boolean).join('; ') || 'no reason given';
      throw new OperatorError(`building the Action ${name}: Auth0's build failed (${why}). Fix: run the command again; if it fails again, report this line.`);
    }
    if (Date.now() - started >= wait.timeoutMs) {
      throw new OperatorError(`building the Action ${name}: still ${action.status || 'not built'} after ${Math.round(wait.timeoutMs / 1000)} s. ` +
        'Fix: run the command again later (it waits for the build, then deploys), or raise AUTH0_ACTION_BUILD_TIMEOUT_SECONDS.');
    }
    await new Promise((resolve) => setTimeout(resolve, wait.pollMs));
  }
}

async function deployWhenBuilt(call, actionId, name, wait) {
  await builtAction(call, actionId, name, wait);
  await call(`deploying the Action ${name}`, (client) => client.actions.deploy(actionId));
}

function actionChanges(tenant, settings, run) {
  const name = desired.ACTION_NAME(settings);
  const action = tenant.action;
  const keys = expected.keysToPublish(expected.actionCodeOf(tenant), run.keySource);
  if (!keys) throw expected.refuseWithoutKeys(action ? `the Action ${name}` : 'the tenant');
  const codeFor = (clientId) => expected.actionCode(settings, keys, clientId);
  const deployScopes = ['read:actions', 'create:actions'];
  if (!action) {
    return [change(`Action ${name}`, 'create', ['code', 'wait for the build', 'deploy'], ['create:actions', ...deployScopes],
      async (call, state) => {
        const want = desired.desiredAction(settings, codeFor(state.application.client_id));
        state.action = await call(`creating the Action ${name}`, (client) => client.actions.create(want));
        await deployWhenBuilt(call, state.action.id, name, run.buildWait);
      })];
  }
  const known = tenant.application && tenant.application.client_id;
  const codeDiffers = !known || action.code !== codeFor(known);
  const secrets = (action.secrets || []).map((secret) => secret.name);
  // A failed build is built again by writing the code again.
  const failed = action.status === 'failed';
  if (codeDiffers || secrets.length || failed) {
    const fields = [...(codeDiffers || failed ? ['code'] : []), ...(secrets.length ? [`secrets: remove ${secrets.join(', ')}`] : []), 'wait for the build', 'deploy'];
    return [change(`Action ${name}`, 'update', fields, ['update:actions', ...deployScopes], async (call, state) => {
      const patch = { ...desired.desiredAction(settings, codeFor(state.application.client_id)), ...(secrets.length ? { secrets: [] } : {}) };
      delete patch.name;
      state.action = await call(`updating the Action ${name}`, (client) => client.actions.update(action.id, patch));
      await deployWhenBuilt(call, action.id, name, run.buildWait);
    })];
  }
  if (action.all_changes_deployed === false) {
    return [change(`Action ${name}`, 'update', ['wait for the build', 'deploy'], deployScopes, async (call, state) => {
      state.action = action;
      await deployWhenBuilt(call, action.id, name, run.buildWait);
    })];
  }
  return [];
}

function profileChanges(tenant, settings) {
  const profile = tenant.profile;
  const actionId = (state) => (state.action || tenant.action).id;
  const what = `token exchange profile for ${settings.subjectTokenType}`;
  if (!profile) {
    return [change(what, 'create', ['name', 'subject_token_type', 'action_id'], ['create:token_exchange_profiles'], async (call, state) => {
      await call(`creating the ${what}`, (client) => client.tokenExchangeProfiles.create(desired.desiredProfile(settings, actionId(state))));
    })];
  }
  if (tenant.action && profile.action_id === tenant.action.id) return [];
  // A profile's Action cannot be changed in place: it is made again.
  return [change(what, 'update', ['action_id (made again)'], ['delete:token_exchange_profiles', 'create:token_exchange_profiles'],
    async (call, state) => {
      await call(`deleting the ${what}`, (client) => client.tokenExchangeProfiles.delete(profile.id));
      await call(`creating the ${what}`, (client) => client.tokenExchangeProfiles.create(desired.desiredProfile(settings, actionId(state))));
    })];
}

function tokenExchangeChanges(tenant, settings, run) {
  if (!tenant.profilesAvailable) {
    throw new OperatorError('the tenant has no Custom Token Exchange profiles. Fix: it is an Early Access feature of the Professional ' +
      'and Enterprise plans: ask Auth0 to enable it.');
  }
  return [...actionChanges(tenant, settings, run), ...profileChanges(tenant, settings)];
}

// ---- the tenant's settings and the API -------------------------------------------------------

function defaultDirectoryChanges(tenant, settings) {
  if (settings.grantType !== 'password' || tenant.tenantSettings.default_directory === settings.realm) return [];
  return [change('tenant settings', 'update', [`default_directory: ${settings.realm}`], ['update:tenant_settings'], async (call) => {
    await call('setting the Default Directory', (client) => client.tenants.settings.update({ default_directory: settings.realm }));
  })];
}

function apiChanges(tenant, settings) {
  if (!settings.wantsRefreshTokens) return [];
  if (!settings.audience) {
    throw new OperatorError('Auth0Scope asks for offline_access, so the bridge needs an API allowing it. ' +
      'Fix: set Auth0Audience (samconfig.toml, or the Auth0Audience variable) to its identifier, e.g. https://api.example.com.');
  }
  const want = desired.desiredApi(settings);
  if (!tenant.api) {
    return [change(`API ${settings.audience}`, 'create', Object.keys(want), ['create:resource_servers'], async (call) => {
      await call(`creating the API ${settings.audience}`, (client) => client.resourceServers.create(want));
    })];
  }
  if (tenant.api.allow_offline_access === true) return [];
  return [change(`API ${settings.audience}`, 'update', ['allow_offline_access'], ['update:resource_servers'], async (call) => {
    await call(`updating the API ${settings.audience}`, (client) => client.resourceServers.update(tenant.api.id, { allow_offline_access: true }));
  })];
}

// Every change, in the order they apply: the connection, the application (which the Action
// names), what they reach, the Action and its profile, the tenant's settings, the API.
// `run`: {environment, keySource, fixOtherApplications, buildWait}.
function plan(tenant, settings, run) {
  if (desired.tokenExchange(settings) && !settings.subjectTokenType) {
    throw new OperatorError('Auth0GrantType=token-exchange needs Auth0SubjectTokenType. Fix: set it in samconfig.toml (or the variable of that name).');
  }
  return [
    ...connectionChanges(tenant, settings, run),
    ...applicationChanges(tenant, settings),
    ...enabledClientsChanges(tenant, settings),
    ...otherApplicationChanges(tenant, run),
    ...(desired.tokenExchange(settings) ? tokenExchangeChanges(tenant, settings, run) : []),
    ...defaultDirectoryChanges(tenant, settings),
    ...apiChanges(tenant, settings)
  ];
}

module.exports = { plan, otherPasswordApplications };
