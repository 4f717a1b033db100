// Reading the tenant: everything setup and check look at, read once, each failure one line.
'use strict';
const desired = require('./desired.js');
const { OperatorError } = require('./errors.js');

// The answers of a listing the tenant does not offer (an older API).
const MISSING = [404, 405, 501];
const isMissing = (error) => MISSING.includes(error.status);

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

// The scopes reading the tenant needs for these settings.
function readScopes(settings) {
  return [
    'read:connections', 'read:clients',
    ...(settings.audience || settings.wantsRefreshTokens ? ['read:resource_servers'] : []),
    ...(settings.grantType === 'password' ? ['read:tenant_settings'] : []),
    ...(desired.tokenExchange(settings) ? ['read:actions', 'read:token_exchange_profiles'] : [])
  ];
}

// The client ids the connection is enabled for: /connections/{id}/clients, and the older
// `enabled_clients` field that tenants (and tools) of the older API still show. `endpoint`:
// whether the tenant has the first (else the list is changed through the field).
async function enabledClientsOf(call, connection) {
  let listed = [];
  let endpoint = true;
  try {
    listed = (await call(`reading the applications of connection ${connection.name}`,
      (client) => all(client.connections.clients.get(connection.id), 'clients'))).map((c) => c.client_id);
  } catch (error) {
    if (!isMissing(error)) throw error;
    endpoint = false;
  }
  return { ids: [...new Set([...listed, ...(connection.enabled_clients || [])])], endpoint };
}

// The connections enabled for the application `clientId`: GET /clients/{id}/connections, or, on
// a tenant without it, every connection whose applications include it.
async function connectionsOfApplication(call, clientId) {
  try {
    return await call('reading the connections of the bridge\'s application',
      (client) => all(client.clients.connections.get(clientId), 'connections'));
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
  const everyConnection = await call('reading the connections', (client) => all(client.connections.list({}), 'connections'));
  const enabled = [];
  for (const connection of everyConnection) {
    if ((await enabledClientsOf(call, connection)).ids.includes(clientId)) enabled.push(connection);
  }
  return enabled;
}

// The bridge's application: the one AUTH0_CLIENT_ID names (made by hand, say: it is adopted),
// else the one marked with the stack's name, else (made by an older setup) the one named after
// the stack.
function bridgeApplication(clients, settings) {
  if (settings.clientId) {
    const named = clients.find((c) => c.client_id === settings.clientId);
    if (!named) throw new OperatorError(`AUTH0_CLIENT_ID names no application of this tenant (${settings.clientId}). Fix: give the bridge's client id, or leave it unset.`);
    return named;
  }
  return clients.find((c) => (c.client_metadata || {})[desired.STACK_MARKER] === settings.stackName)
    || clients.find((c) => c.name === desired.APPLICATION_NAME(settings)) || null;
}

// Custom Token Exchange: the Action (with its code and secret names) and the profiles.
async function readTokenExchange(call, settings) {
  const name = desired.ACTION_NAME(settings);
  const actions = await call('reading the Actions', (client) => all(client.actions.list({ actionName: name }), 'actions'));
  const listed = actions.find((a) => a.name === name) || null;
  const action = listed ? await call(`reading the Action ${name}`, (client) => client.actions.get(listed.id)) : null;
  let profiles = null;
  try {
    profiles = await call('reading the token exchange profiles', (client) => all(client.tokenExchangeProfiles.list({}), 'token_exchange_profiles'));
  } catch (error) {
    // A tenant without the Early Access entitlement has no such listing (404, or 403 that is
    // not about the token's scopes).
    if (!(isMissing(error) || (error.status === 403 && error.code !== 'insufficient_scope'))) throw error;
  }
  const profile = profiles ? profiles.find((p) => p.subject_token_type === settings.subjectTokenType) || null : null;
  return { action, profile, profilesAvailable: profiles !== null };
}

// Everything setup and check look at.
async function readTenant(call, settings) {
  const connections = await call('reading the database connections', (client) => all(client.connections.list({ strategy: ['auth0'] }), 'connections'));
  const clients = await call('reading the applications', (client) => all(client.clients.list({}), 'clients'));
  const listed = connections.find((c) => c.name === settings.realm) || null;
  const connection = listed ? await call(`reading the connection ${settings.realm}`, (client) => client.connections.get(listed.id)) : null;
  const enabled = connection ? await enabledClientsOf(call, connection) : { ids: [], endpoint: true };
  const application = bridgeApplication(clients, settings);
  const applicationConnections = application ? await connectionsOfApplication(call, application.client_id) : [];
  let api = null;
  if (settings.audience) {
    const apis = await call('reading the APIs', (client) => all(client.resourceServers.list({}), 'resource_servers'));
    api = apis.find((a) => a.identifier === settings.audience) || null;
  }
  // The password grant (without a realm) signs in through the tenant's Default Directory.
  const tenantSettings = settings.grantType === 'password'
    ? await call('reading the tenant settings', (client) => client.tenants.settings.get()) : null;
  const exchange = desired.tokenExchange(settings) ? await readTokenExchange(call, settings) : {};
  return {
    tenantSettings, ...exchange, connection, enabledClients: enabled.ids, enabledClientsEndpoint: enabled.endpoint,
    application, applicationConnections, clients, api
  };
}

module.exports = { readTenant, readScopes, all };
