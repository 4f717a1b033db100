// The stand-in Management API answers as a real tenant does where a first guess would not (each
// behaviour's public source is named beside it in management-stand-in.js): the tenant tests
// rely on these answers, so they are held here one by one.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { startManagementApi, isEncrypted } = require('./management-stand-in.js');

// A call to the stand-in's API: {status, body, headers}.
async function call(api, method, path, body, token = api.token) {
  const answer = await fetch(`${api.url}/api/v2/${path}`, {
    method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  });
  const text = await answer.text();
  return { status: answer.status, body: text ? JSON.parse(text) : null, headers: answer.headers };
}

test('a custom database\'s settings come back encrypted, and a PATCH of options replaces them whole', async () => {
  const api = await startManagementApi({ connections: [{ id: 'con_1', name: 'db', strategy: 'auth0', options: { configuration: { A: 'plain' }, passwordPolicy: 'good' } }] });
  try {
    const shown = (await call(api, 'GET', 'connections/con_1')).body;
    assert.ok(isEncrypted(shown.options.configuration.A));
    assert.notEqual(shown.options.configuration.A, 'plain');
    await call(api, 'PATCH', 'connections/con_1', { options: { configuration: shown.options.configuration } });
    assert.equal(api.tenant.connections[0].options.configuration.A, shown.options.configuration.A, 'ciphertext written back is stored as such');
    assert.equal(api.tenant.connections[0].options.passwordPolicy, undefined, 'the options not sent are gone');
  } finally { await api.close(); }
});

test('an Action builds after a create and an update; deploying before it is built answers 400', async () => {
  const api = await startManagementApi({}, { buildReads: 2 });
  try {
    const created = (await call(api, 'POST', 'actions/actions', { name: 'a', code: 'x' })).body;
    assert.equal(created.status, 'pending');
    assert.equal((await call(api, 'POST', `actions/actions/${created.id}/deploy`)).status, 400);
    assert.equal((await call(api, 'GET', `actions/actions/${created.id}`)).body.status, 'pending');
    assert.equal((await call(api, 'GET', `actions/actions/${created.id}`)).body.status, 'built');
    assert.equal((await call(api, 'POST', `actions/actions/${created.id}/deploy`)).status, 200);
    assert.equal((await call(api, 'PATCH', `actions/actions/${created.id}`, { code: 'y' })).body.status, 'pending');
  } finally { await api.close(); }
  const timed = await startManagementApi({}, { buildReads: 0, buildMs: 300 });
  try {
    const created = (await call(timed, 'POST', 'actions/actions', { name: 'a', code: 'x' })).body;
    assert.equal((await call(timed, 'GET', `actions/actions/${created.id}`)).body.status, 'pending', 'built after 300 ms, not before');
    await new Promise((resolve) => setTimeout(resolve, 320));
    assert.equal((await call(timed, 'GET', `actions/actions/${created.id}`)).body.status, 'built');
  } finally { await timed.close(); }
});

test('a token exchange profile\'s name is 3-50 characters, and a subject_token_type has one profile', async () => {
  const api = await startManagementApi({ actions: [{ id: 'act_1', name: 'a' }] });
  try {
    const profile = (name, type = 'urn:a:b') => call(api, 'POST', 'token-exchange-profiles', { name, subject_token_type: type, action_id: 'act_1', type: 'custom_authentication' });
    assert.equal((await profile('x'.repeat(51))).status, 400);
    assert.equal((await profile('xy')).status, 400);
    assert.equal((await profile('x'.repeat(50))).status, 201);
    assert.equal((await profile('another', 'urn:a:b')).status, 409);
  } finally { await api.close(); }
});

test('a new application gets every connection, unless the tenant flag enable_client_connections is off', async () => {
  const seed = { connections: [{ id: 'con_1', name: 'a', strategy: 'auth0' }, { id: 'con_2', name: 'g', strategy: 'google-oauth2' }] };
  const api = await startManagementApi(seed);
  const off = await startManagementApi({ ...seed, settings: { flags: { enable_client_connections: false } } });
  try {
    const client = (await call(api, 'POST', 'clients', { name: 'new' })).body;
    const listed = (await call(api, 'GET', `clients/${client.client_id}/connections`)).body.connections;
    assert.deepEqual(listed.map((c) => c.name), ['a', 'g']);
    const quiet = (await call(off, 'POST', 'clients', { name: 'new' })).body;
    assert.deepEqual((await call(off, 'GET', `clients/${quiet.client_id}/connections`)).body.connections, []);
  } finally { await api.close(); await off.close(); }
});

test('a token without an endpoint\'s scope answers 403 insufficient_scope naming it', async () => {
  const api = await startManagementApi({}, { scopes: ['read:connections'] });
  try {
    const refused = await call(api, 'GET', 'clients');
    assert.equal(refused.status, 403);
    assert.deepEqual([refused.body.errorCode, refused.body.message], ['insufficient_scope', 'Insufficient scope, expected any of: read:clients']);
    assert.equal((await call(api, 'GET', 'connections')).status, 200);
  } finally { await api.close(); }
});

test('rate limited: 429 with x-ratelimit-limit, -remaining and -reset (UNIX seconds)', async () => {
  const api = await startManagementApi({}, { rateLimited: 1 });
  try {
    const limited = await call(api, 'GET', 'connections');
    assert.equal(limited.status, 429);
    const reset = Number(limited.headers.get('x-ratelimit-reset'));
    assert.ok(reset >= Math.floor(Date.now() / 1000) && reset <= Math.floor(Date.now() / 1000) + 2, String(reset));
    assert.equal(limited.headers.get('x-ratelimit-remaining'), '0');
    assert.equal((await call(api, 'GET', 'connections')).status, 200);
  } finally { await api.close(); }
});
