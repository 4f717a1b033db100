// A loopback stand-in for the part of Auth0's Management API v2 that `make auth0-setup` and
// `make auth0-check` use, answering in the shapes Auth0 documents (and the SDK paginates), and
// for the client-credentials grant that gets its token (POST /oauth/token):
//   GET/POST /api/v2/connections, GET/PATCH /api/v2/connections/{id},
//   GET/PATCH /api/v2/connections/{id}/clients, GET/POST /api/v2/clients,
//   PATCH /api/v2/clients/{id}, GET /api/v2/clients/{id}/connections,
//   GET/POST /api/v2/resource-servers, PATCH /api/v2/resource-servers/{id},
//   GET/PATCH /api/v2/tenants/settings, GET/POST /api/v2/actions/actions,
//   GET/PATCH /api/v2/actions/actions/{id}, POST /api/v2/actions/actions/{id}/deploy,
//   GET/POST /api/v2/token-exchange-profiles, GET/PATCH/DELETE /api/v2/token-exchange-profiles/{id}
//
// It behaves as a real tenant does where that is not what a first guess would say; each such
// behaviour names the public source it is modelled on where it is implemented:
//   - a custom database's settings (`options.configuration`) are shown encrypted, and a PATCH
//     with `options` replaces the whole options object (so writing back what was read stores
//     ciphertext);
//   - an Action builds asynchronously after a create or an update, and deploying it before
//     the build ends is refused;
//   - a token exchange profile's name is 3 to 50 characters; one profile per subject_token_type;
//   - a new application gets every existing connection (tenant flag enable_client_connections);
//   - every endpoint needs its scope in the token, and answers 403 insufficient_scope naming it;
//   - rate limiting: 429 with x-ratelimit-reset (UNIX seconds).
// Every request is recorded (`requests`; `writes()` are those that change the tenant).
//
// startManagementApi(seed, options): `seed` is the tenant {connections, clients,
// resourceServers, enabledClients: {connectionId: [clientId]}, settings, actions, profiles},
// connection settings in plain text as an operator wrote them; with `legacyEnabledClients`,
// /connections/{id}/clients is missing and the list is the connection's `enabled_clients` field,
// as on tenants and tools of the older API; with `noTokenExchange`, the profiles answer 403 as
// for a tenant without the Early Access feature. `options`: {port, tenantDomain (the canonical
// domain the token's audience must name), scopes (what the token grants; default every scope),
// buildReads (reads of an Action that still show it building; default 2), buildMs (or the
// time its build takes, whichever ends later; default 0), rateLimited (how many
// API requests answer 429 first; default 0), failOnce (a test of a request: the first request
// it holds for answers 503 unprocessed, as a lost answer or an outage would leave a run)}.
'use strict';
const crypto = require('node:crypto');
const { serve, unsignedJwt } = require('../stand-ins/common.js');

// The machine-to-machine application the client-credentials grant accepts.
const M2M = { client_id: 'management-client', client_secret: 'management-client-secret' };
const TENANT_DOMAIN = 'tenant.example.auth0.com';

// The scope each endpoint needs ([method, path pattern, scopes of which the token needs all]),
// as Auth0's Management API reference lists them per endpoint.
const SCOPES = [
  ['GET', /^connections(\/[^/]+)?$/, ['read:connections']],
  ['POST', /^connections$/, ['create:connections']],
  ['PATCH', /^connections\/[^/]+$/, ['update:connections']],
  ['GET', /^connections\/[^/]+\/clients$/, ['read:connections']],
  ['PATCH', /^connections\/[^/]+\/clients$/, ['update:connections']],
  ['GET', /^clients$/, ['read:clients']],
  ['POST', /^clients$/, ['create:clients']],
  ['PATCH', /^clients\/[^/]+$/, ['update:clients']],
  // The SDK's reference: "requires the read:connections scope and any one of read:clients or
  // read:client_summary".
  ['GET', /^clients\/[^/]+\/connections$/, ['read:connections', 'read:clients']],
  ['GET', /^resource-servers$/, ['read:resource_servers']],
  ['POST', /^resource-servers$/, ['create:resource_servers']],
  ['PATCH', /^resource-servers\/[^/]+$/, ['update:resource_servers']],
  ['GET', /^tenants\/settings$/, ['read:tenant_settings']],
  ['PATCH', /^tenants\/settings$/, ['update:tenant_settings']],
  ['GET', /^actions\/actions(\/[^/]+)?$/, ['read:actions']],
  ['POST', /^actions\/actions$/, ['create:actions']],
  ['PATCH', /^actions\/actions\/[^/]+$/, ['update:actions']],
  // Assumed (docs/to-confirm.md, "The tenant command"): deploying creates a version.
  ['POST', /^actions\/actions\/[^/]+\/deploy$/, ['create:actions']],
  ['GET', /^token-exchange-profiles(\/[^/]+)?$/, ['read:token_exchange_profiles']],
  ['POST', /^token-exchange-profiles$/, ['create:token_exchange_profiles']],
  ['PATCH', /^token-exchange-profiles\/[^/]+$/, ['update:token_exchange_profiles']],
  ['DELETE', /^token-exchange-profiles\/[^/]+$/, ['delete:token_exchange_profiles']]
];
const ALL_SCOPES = [...new Set(SCOPES.flatMap(([, , scopes]) => scopes))];

const fail = (status, error, message, extra = {}) => [status, { statusCode: status, error, message, ...extra }];
const notFound = (what) => fail(404, 'Not Found', `The ${what} does not exist`);

// A setting's value as Auth0 shows it back: encrypted, never as written. Modelled on
// auth0/terraform-provider-auth0's connection tests ("the values retrieved from auth0 are
// encrypted") and auth0/auth0-deploy-cli issues #111 and #821 (exported configuration values
// are ciphertext; importing them stores the ciphertext). The exact format is Auth0's own: this
// is an opaque string that differs from the value and from any other value's.
function encrypted(value) {
  return `2.0$${crypto.createHash('sha256').update(`stand-in-key:${value}`).digest('base64url')}`;
}
const isEncrypted = (value) => typeof value === 'string' && value.startsWith('2.0$');

async function startManagementApi(seed = {}, options = {}) {
  const tenant = {
    connections: structuredClone(seed.connections || []),
    clients: structuredClone(seed.clients || []),
    resourceServers: structuredClone(seed.resourceServers || []),
    enabledClients: structuredClone(seed.enabledClients || {}),
    settings: structuredClone(seed.settings || {}),
    // A seeded Action has finished its build unless the seed says otherwise.
    actions: structuredClone(seed.actions || []).map((a) => ({ status: 'built', ...a })),
    profiles: structuredClone(seed.profiles || [])
  };
  const tenantDomain = options.tenantDomain || TENANT_DOMAIN;
  const granted = options.scopes || ALL_SCOPES;
  const buildReads = options.buildReads === undefined ? 2 : options.buildReads;
  const buildMs = options.buildMs || 0;
  let rateLimited = options.rateLimited || 0;
  let failOnce = options.failOnce || null;
  // A Management API token as Auth0 issues one: a JWT naming its audience and scopes.
  const token = unsignedJwt({ iss: `https://${tenantDomain}/`, aud: `https://${tenantDomain}/api/v2/`, scope: granted.join(' '), gty: 'client-credentials' });
  const id = (prefix) => `${prefix}_${crypto.randomBytes(8).toString('hex')}`;
  const page = (items, query, key) => {
    const number = Number(query.get('page') || 0);
    const size = Number(query.get('per_page') || 50);
    const slice = items.slice(number * size, (number + 1) * size);
    return { start: number * size, limit: size, length: slice.length, total: items.length, [key]: slice };
  };

  // A connection as the API shows it: its settings encrypted (see `encrypted`), and, on a
  // tenant of the older shape, the list of its applications in `enabled_clients`.
  const shownConnection = (c) => {
    const shown = structuredClone(c);
    const configuration = shown.options && shown.options.configuration;
    if (configuration) {
      for (const name of Object.keys(configuration)) configuration[name] = encrypted(configuration[name]);
    }
    if (seed.legacyEnabledClients) shown.enabled_clients = tenant.enabledClients[c.id] || [];
    return shown;
  };

  // An Action as the API shows it: its secrets by name only (Auth0 never returns a value), and
  // the state of its build. Builds are asynchronous: `status` is `pending` for `buildReads`
  // reads and `buildMs` after each create or update, then `built`. Modelled on
  // auth0/terraform-provider-auth0 issue #470 and auth0/auth0-deploy-cli issues #395 and #524
  // (builds of 30-45 s; a deploy right after an update fails).
  const shownAction = (a) => {
    if (a.status === 'pending' && a.readsUntilBuilt-- <= 0 && Date.now() >= a.builtAt) a.status = 'built';
    const { readsUntilBuilt, builtAt, ...shown } = a;
    return { ...structuredClone(shown), secrets: (a.secrets || []).map(({ name }) => ({ name })) };
  };
  const startBuild = (a) => {
    Object.assign(a, { status: 'pending', readsUntilBuilt: buildReads, builtAt: Date.now() + buildMs, all_changes_deployed: false });
  };

  // The token's scopes against the endpoint's: an answer 403 insufficient_scope naming the
  // missing ones, in the words of Auth0's errors ("Insufficient scope, expected any of: ...").
  function scopeRefusal(method, route) {
    const rule = SCOPES.find(([m, pattern]) => m === method && pattern.test(route));
    const missing = rule ? rule[2].filter((scope) => !granted.includes(scope)) : [];
    return missing.length
      ? fail(403, 'Forbidden', `Insufficient scope, expected any of: ${missing.join(',')}`, { errorCode: 'insufficient_scope' }) : null;
  }

  // Auth0's rate limit answer: 429 with x-ratelimit-limit, -remaining and -reset (UNIX seconds
  // when the bucket refills), per Auth0's "Management API Endpoint Rate Limits" page and the
  // Authentication API's recorded answers (docs/field-notes).
  function rateLimit() {
    if (rateLimited <= 0) return null;
    rateLimited -= 1;
    const reset = Math.floor(Date.now() / 1000) + 1;
    return [...fail(429, 'Too Many Requests', 'Global limit has been reached', { errorCode: 'too_many_requests' }),
      { 'x-ratelimit-limit': '50', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) }];
  }

  function oauthToken(request) {
    const form = request.form || {};
    // The audience is the tenant's canonical domain's API, also when the calls go through a
    // proxy or a custom domain (Auth0: "Management API Access Tokens").
    const accepted = form.grant_type === 'client_credentials' && form.client_id === M2M.client_id
      && form.client_secret === M2M.client_secret && form.audience === `https://${tenantDomain}/api/v2/`;
    return accepted ? [200, { access_token: token, token_type: 'Bearer', expires_in: 86400, scope: granted.join(' ') }]
      : [401, { error: 'access_denied', error_description: 'Unauthorized' }];
  }

  function connections(request, query, [key, sub], body) {
    if (!key && request.method === 'GET') {
      const strategies = query.getAll('strategy');
      const found = tenant.connections.filter((c) => (!strategies.length || strategies.includes(c.strategy))
        && (!query.get('name') || c.name === query.get('name')));
      return [200, { connections: found.map(shownConnection) }];
    }
    if (!key && request.method === 'POST') {
      const connection = { id: id('con'), ...body };
      tenant.connections.push(connection);
      return [201, shownConnection(connection)];
    }
    const connection = tenant.connections.find((c) => c.id === key);
    if (!connection) return notFound('connection');
    if (sub === 'clients') {
      if (seed.legacyEnabledClients) return fail(404, 'Not Found', 'Not Found');
      if (request.method === 'GET') return [200, { clients: (tenant.enabledClients[key] || []).map((client_id) => ({ client_id })) }];
      if (request.method === 'PATCH') {
        const enabled = new Set(tenant.enabledClients[key] || []);
        for (const change of body) (change.status ? enabled.add(change.client_id) : enabled.delete(change.client_id));
        tenant.enabledClients[key] = [...enabled];
        return [204];
      }
    }
    if (!sub && request.method === 'GET') return [200, shownConnection(connection)];
    if (!sub && request.method === 'PATCH') {
      const { enabled_clients: enabled, ...rest } = body;
      if (enabled) tenant.enabledClients[key] = enabled;
      // "If you use the options parameter, the whole options object will be overridden"
      // (Auth0's reference for PATCH /api/v2/connections/{id}): `options` is replaced whole.
      Object.assign(connection, rest);
      return [200, shownConnection(connection)];
    }
    return null;
  }

  function clients(request, query, [key, sub], body) {
    if (!key && request.method === 'GET') return [200, page(tenant.clients, query, 'clients')];
    if (!key && request.method === 'POST') {
      const client = { client_id: id('cli'), client_secret: crypto.randomBytes(24).toString('base64url'), ...body };
      tenant.clients.push(client);
      // The tenant flag enable_client_connections (default true, Auth0's tenant settings
      // reference): a new application gets every connection the tenant has.
      const flags = tenant.settings.flags || {};
      if (flags.enable_client_connections !== false) {
        for (const connection of tenant.connections) {
          tenant.enabledClients[connection.id] = [...(tenant.enabledClients[connection.id] || []), client.client_id];
        }
      }
      return [201, client];
    }
    const client = tenant.clients.find((c) => c.client_id === key);
    if (!client) return notFound('client');
    if (sub === 'connections' && request.method === 'GET') {
      // Checkpoint pagination: `from` and `take`, `next` while more remain.
      const enabled = tenant.connections.filter((c) => (tenant.enabledClients[c.id] || []).includes(key));
      const from = Number(query.get('from') || 0);
      const take = Number(query.get('take') || 50);
      const answer = { connections: enabled.slice(from, from + take).map(shownConnection) };
      if (from + take < enabled.length) answer.next = String(from + take);
      return [200, answer];
    }
    if (!sub && request.method === 'PATCH') { Object.assign(client, body); return [200, client]; }
    return null;
  }

  function actions(request, query, [, actionId, verb], body) {
    if (!actionId && request.method === 'GET') {
      const name = query.get('actionName');
      const found = tenant.actions.filter((a) => !name || a.name === name);
      return [200, { ...page(found.map(shownAction), query, 'actions'), per_page: Number(query.get('per_page') || 50) }];
    }
    if (!actionId && request.method === 'POST') {
      const action = { id: id('act'), ...body };
      startBuild(action);
      tenant.actions.push(action);
      return [201, shownAction(action)];
    }
    const action = tenant.actions.find((a) => a.id === actionId);
    if (!action) return notFound('action');
    if (verb === 'deploy' && request.method === 'POST') {
      // The message Auth0 answers (terraform-provider-auth0 #470, auth0-deploy-cli #395).
      if (action.status !== 'built') return fail(400, 'Bad Request', 'A draft must be in the \'built\' state before it can be deployed.');
      action.all_changes_deployed = true;
      action.deployed_code = action.code;
      return [200, { id: id('ver'), action_id: action.id, deployed: true, status: 'built' }];
    }
    if (!verb && request.method === 'GET') return [200, shownAction(action)];
    if (!verb && request.method === 'PATCH') {
      // Assumed (docs/to-confirm.md, "The tenant command"): `secrets` given replace the Action's list.
      Object.assign(action, body);
      startBuild(action);
      return [200, shownAction(action)];
    }
    return null;
  }

  // Token exchange profiles. `name` is 3 to 50 characters and a subject_token_type has one
  // profile (Auth0's reference for POST /api/v2/token-exchange-profiles; docs/field-notes);
  // the 409's wording is assumed.
  function profiles(request, query, [key], body) {
    if (seed.noTokenExchange) return fail(403, 'Forbidden', 'This feature is not enabled for this tenant.');
    const nameProblem = (name) => (typeof name !== 'string' || name.length < 3 || name.length > 50
      ? fail(400, 'Bad Request', `Payload validation error: 'String length must be between 3 and 50' on property name (${JSON.stringify(name)}).`) : null);
    if (!key && request.method === 'GET') return [200, { token_exchange_profiles: tenant.profiles }];
    if (!key && request.method === 'POST') {
      if (nameProblem(body.name)) return nameProblem(body.name);
      if (!tenant.actions.some((a) => a.id === body.action_id)) return fail(400, 'Bad Request', 'action_id does not exist');
      if (tenant.profiles.some((p) => p.subject_token_type === body.subject_token_type)) {
        return fail(409, 'Conflict', 'A token exchange profile with this subject_token_type already exists.');
      }
      const profile = { id: id('tep'), ...body };
      tenant.profiles.push(profile);
      return [201, profile];
    }
    const profile = tenant.profiles.find((p) => p.id === key);
    if (!profile) return notFound('profile');
    if (request.method === 'GET') return [200, profile];
    if (request.method === 'PATCH') {
      if (body.name !== undefined && nameProblem(body.name)) return nameProblem(body.name);
      Object.assign(profile, body);
      return [200, profile];
    }
    if (request.method === 'DELETE') { tenant.profiles.splice(tenant.profiles.indexOf(profile), 1); return [204]; }
    return null;
  }

  function resourceServers(request, query, [key], body) {
    if (!key && request.method === 'GET') return [200, page(tenant.resourceServers, query, 'resource_servers')];
    if (!key && request.method === 'POST') {
      const api = { id: id('api'), ...body };
      tenant.resourceServers.push(api);
      return [201, api];
    }
    const api = tenant.resourceServers.find((a) => a.id === key);
    if (!api) return notFound('resource server');
    if (request.method === 'PATCH') { Object.assign(api, body); return [200, api]; }
    return null;
  }

  function tenantSettings(request, query, parts, body) {
    if (request.method === 'PATCH') Object.assign(tenant.settings, body);
    return [200, tenant.settings];
  }

  const collections = {
    connections, clients, actions, 'token-exchange-profiles': profiles,
    'resource-servers': resourceServers, tenants: tenantSettings
  };

  const server = await serve('management-api', options.port || 0, (request) => {
    const url = new URL(request.path, 'http://stand-in');
    if (url.pathname === '/oauth/token' && request.method === 'POST') return oauthToken(request);
    const limited = rateLimit();
    if (limited) return limited;
    if (failOnce && failOnce(request)) {
      failOnce = null;
      return fail(503, 'Service Unavailable', 'The service is unavailable, try again later.');
    }
    if (request.headers.authorization !== `Bearer ${token}`) return fail(401, 'Unauthorized', 'Invalid token');
    const route = url.pathname.replace(/^\/api\/v2\//, '');
    const refused = scopeRefusal(request.method, route);
    if (refused) return refused;
    const [collection, ...parts] = route.split('/');
    const body = request.body ? JSON.parse(request.body) : {};
    const answer = collections[collection] ? collections[collection](request, url.searchParams, parts, body) : null;
    return answer || fail(404, 'Not Found', `no stand-in for ${request.method} ${url.pathname}`);
  });
  return {
    ...server,
    tenant,
    token,
    m2m: M2M,
    tenantDomain,
    // The requests that change the tenant (not the token request).
    writes: () => server.requests.filter((r) => r.method !== 'GET' && r.path !== '/oauth/token')
  };
}

module.exports = { startManagementApi, encrypted, isEncrypted, ALL_SCOPES };

// Run on its own, to try the commands without a tenant:
//   node scripts/auth0-tenant/management-stand-in.js [--port N] [--seed tenant.json]
// prints the variables that point `make auth0-setup` / `make auth0-check` at it.
if (require.main === module) {
  const argv = process.argv.slice(2);
  const option = (name) => { const at = argv.indexOf(name); return at >= 0 ? argv[at + 1] : undefined; };
  const seed = option('--seed') ? JSON.parse(require('node:fs').readFileSync(option('--seed'), 'utf8')) : {};
  startManagementApi(seed, { port: Number(option('--port') || 0) }).then((api) => {
    process.stdout.write(`AUTH0_MANAGEMENT_API_URL=${api.url}/api/v2 AUTH0_TENANT_DOMAIN=${api.tenantDomain} AUTH0_MANAGEMENT_TOKEN=${api.token}\n`);
  });
}
