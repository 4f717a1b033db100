// A loopback stand-in for the part of Auth0's Management API v2 that `make auth0-setup` and
// `make auth0-check` use, answering in the shapes Auth0 documents (and the SDK paginates), and
// for the client-credentials grant that gets its token (POST /oauth/token):
//   GET/POST /api/v2/connections, GET/PATCH /api/v2/connections/{id},
//   GET/PATCH /api/v2/connections/{id}/clients, GET/POST /api/v2/clients,
//   PATCH /api/v2/clients/{id}, GET/POST /api/v2/resource-servers,
//   PATCH /api/v2/resource-servers/{id}, GET/PATCH /api/v2/tenants/settings,
//   GET/POST /api/v2/actions/actions, GET/PATCH /api/v2/actions/actions/{id},
//   POST /api/v2/actions/actions/{id}/deploy, GET/POST /api/v2/token-exchange-profiles,
//   GET/PATCH/DELETE /api/v2/token-exchange-profiles/{id} (403 with `noTokenExchange`, as for a
//   tenant without the Early Access feature)
// PATCH of a connection replaces its `options` whole, as Auth0 does. Every request is recorded
// (`requests`), so a test can tell reads from writes. Seed it with a tenant: {connections,
// clients, resourceServers, enabledClients: {connectionId: [clientId]}}; with
// `legacyEnabledClients`, /connections/{id}/clients is missing and the list is the connection's
// `enabled_clients` field, as on tenants and tools of the older API.
'use strict';
const crypto = require('node:crypto');
const { serve } = require('../stand-ins/common.js');

const TOKEN = 'management-api-token';
// The machine-to-machine application the client-credentials grant accepts.
const M2M = { client_id: 'management-client', client_secret: 'management-client-secret' };

async function startManagementApi(seed = {}, port = 0) {
  const tenant = {
    connections: structuredClone(seed.connections || []),
    clients: structuredClone(seed.clients || []),
    resourceServers: structuredClone(seed.resourceServers || []),
    enabledClients: structuredClone(seed.enabledClients || {}),
    settings: structuredClone(seed.settings || {}),
    actions: structuredClone(seed.actions || []),
    profiles: structuredClone(seed.profiles || [])
  };
  // An Action as the API shows it: its secrets by name only (Auth0 never returns a value).
  const shownAction = (a) => ({ ...a, secrets: (a.secrets || []).map(({ name }) => ({ name })) });
  const id = (prefix) => `${prefix}_${crypto.randomBytes(8).toString('hex')}`;
  const page = (items, query, key) => {
    const number = Number(query.get('page') || 0);
    const size = Number(query.get('per_page') || 50);
    const slice = items.slice(number * size, (number + 1) * size);
    return { start: number * size, limit: size, length: slice.length, total: items.length, [key]: slice };
  };

  const server = await serve('management-api', port, (request) => {
    const url = new URL(request.path, 'http://stand-in');
    const query = url.searchParams;
    if (url.pathname === '/oauth/token' && request.method === 'POST') {
      const form = request.form || {};
      const granted = form.grant_type === 'client_credentials' && form.client_id === M2M.client_id
        && form.client_secret === M2M.client_secret && form.audience === `https://${request.headers.host}/api/v2/`;
      return granted ? [200, { access_token: TOKEN, token_type: 'Bearer', expires_in: 86400 }]
        : [401, { error: 'access_denied', error_description: 'Unauthorized' }];
    }
    const body = request.body ? JSON.parse(request.body) : {};
    if (request.headers.authorization !== `Bearer ${TOKEN}`) return [401, { statusCode: 401, error: 'Unauthorized', message: 'Invalid token' }];
    const parts = url.pathname.replace(/^\/api\/v2\//, '').split('/');
    const [collection, key, sub] = parts;

    if (collection === 'connections' && !key && request.method === 'GET') {
      const strategies = query.getAll('strategy');
      const found = tenant.connections.filter((c) => (!strategies.length || strategies.includes(c.strategy))
        && (!query.get('name') || c.name === query.get('name')));
      return [200, { connections: found }];
    }
    if (collection === 'connections' && !key && request.method === 'POST') {
      const connection = { id: id('con'), enabled_clients: [], ...body };
      tenant.connections.push(connection);
      return [201, connection];
    }
    const connection = collection === 'connections' ? tenant.connections.find((c) => c.id === key) : null;
    if (collection === 'connections' && !connection) return [404, { statusCode: 404, error: 'Not Found', message: 'The connection does not exist' }];
    if (connection && sub === 'clients' && seed.legacyEnabledClients) {
      return [404, { statusCode: 404, error: 'Not Found', message: 'Not Found' }];
    }
    if (connection && sub === 'clients') {
      if (request.method === 'GET') return [200, { clients: (tenant.enabledClients[key] || []).map((client_id) => ({ client_id })) }];
      if (request.method === 'PATCH') {
        const enabled = new Set(tenant.enabledClients[key] || []);
        for (const change of body) (change.status ? enabled.add(change.client_id) : enabled.delete(change.client_id));
        tenant.enabledClients[key] = [...enabled];
        return [204];
      }
    }
    // A tenant of the older shape keeps the list in the connection's `enabled_clients`.
    const shown = (c) => (seed.legacyEnabledClients ? { ...c, enabled_clients: tenant.enabledClients[c.id] || [] } : c);
    if (connection && !sub && request.method === 'GET') return [200, shown(connection)];
    if (connection && !sub && request.method === 'PATCH') {
      const { enabled_clients: enabled, ...rest } = body;
      if (enabled) tenant.enabledClients[key] = enabled;
      Object.assign(connection, rest); // `options` is replaced whole.
      return [200, shown(connection)];
    }

    if (collection === 'actions' && key === 'actions') {
      const [, , actionId, verb] = parts;
      if (!actionId && request.method === 'GET') {
        const name = query.get('actionName');
        const found = tenant.actions.filter((a) => !name || a.name === name);
        return [200, { ...page(found, query, 'actions'), per_page: Number(query.get('per_page') || 50) }];
      }
      if (!actionId && request.method === 'POST') {
        const action = { id: id('act'), all_changes_deployed: false, ...body };
        tenant.actions.push(action);
        return [201, shownAction(action)];
      }
      const action = tenant.actions.find((a) => a.id === actionId);
      if (!action) return [404, { statusCode: 404, error: 'Not Found', message: 'The action does not exist' }];
      if (verb === 'deploy' && request.method === 'POST') {
        action.all_changes_deployed = true;
        action.deployed_code = action.code;
        return [200, { id: id('ver'), action_id: action.id, deployed: true }];
      }
      if (!verb && request.method === 'GET') return [200, shownAction(action)];
      if (!verb && request.method === 'PATCH') {
        Object.assign(action, body, { all_changes_deployed: false });
        return [200, shownAction(action)];
      }
    }
    if (collection === 'token-exchange-profiles') {
      if (seed.noTokenExchange) return [403, { statusCode: 403, error: 'Forbidden', message: 'This feature is not enabled for this tenant.' }];
      if (!key && request.method === 'GET') return [200, { token_exchange_profiles: tenant.profiles }];
      if (!key && request.method === 'POST') {
        if (!tenant.actions.some((a) => a.id === body.action_id)) return [400, { statusCode: 400, error: 'Bad Request', message: 'action_id does not exist' }];
        const profile = { id: id('tep'), ...body };
        tenant.profiles.push(profile);
        return [201, profile];
      }
      const profile = tenant.profiles.find((p) => p.id === key);
      if (!profile) return [404, { statusCode: 404, error: 'Not Found', message: 'The profile does not exist' }];
      if (request.method === 'GET') return [200, profile];
      if (request.method === 'PATCH') { Object.assign(profile, body); return [200, profile]; }
      if (request.method === 'DELETE') { tenant.profiles.splice(tenant.profiles.indexOf(profile), 1); return [204]; }
    }
    if (collection === 'tenants' && key === 'settings') {
      if (request.method === 'PATCH') Object.assign(tenant.settings, body);
      return [200, tenant.settings];
    }
    if (collection === 'clients' && !key && request.method === 'GET') return [200, page(tenant.clients, query, 'clients')];
    if (collection === 'clients' && !key && request.method === 'POST') {
      const client = { client_id: id('cli'), client_secret: crypto.randomBytes(24).toString('base64url'), ...body };
      tenant.clients.push(client);
      return [201, client];
    }
    if (collection === 'clients' && key && request.method === 'PATCH') {
      const client = tenant.clients.find((c) => c.client_id === key);
      if (!client) return [404, { statusCode: 404, error: 'Not Found', message: 'The client does not exist' }];
      Object.assign(client, body);
      return [200, client];
    }

    if (collection === 'resource-servers' && !key && request.method === 'GET') return [200, page(tenant.resourceServers, query, 'resource_servers')];
    if (collection === 'resource-servers' && !key && request.method === 'POST') {
      const api = { id: id('api'), ...body };
      tenant.resourceServers.push(api);
      return [201, api];
    }
    if (collection === 'resource-servers' && key && request.method === 'PATCH') {
      const api = tenant.resourceServers.find((a) => a.id === key);
      if (!api) return [404, { statusCode: 404, error: 'Not Found', message: 'The resource server does not exist' }];
      Object.assign(api, body);
      return [200, api];
    }
    return [404, { statusCode: 404, error: 'Not Found', message: `no stand-in for ${request.method} ${url.pathname}` }];
  });
  return {
    ...server,
    tenant,
    token: TOKEN,
    m2m: M2M,
    writes: () => server.requests.filter((r) => r.method !== 'GET')
  };
}

module.exports = { startManagementApi };

// Run on its own, to try the commands without a tenant:
//   node scripts/auth0-tenant/management-stand-in.js [--port N] [--seed tenant.json]
// prints the variables that point `make auth0-setup` / `make auth0-check` at it.
if (require.main === module) {
  const argv = process.argv.slice(2);
  const option = (name) => { const at = argv.indexOf(name); return at >= 0 ? argv[at + 1] : undefined; };
  const seed = option('--seed') ? JSON.parse(require('node:fs').readFileSync(option('--seed'), 'utf8')) : {};
  startManagementApi(seed, Number(option('--port') || 0)).then((api) => {
    process.stdout.write(`AUTH0_MANAGEMENT_API_URL=${api.url}/api/v2 AUTH0_MANAGEMENT_TOKEN=${api.token}\n`);
  });
}
