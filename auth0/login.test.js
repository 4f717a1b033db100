// Tests of the Login script with Node's built-in test runner, against a loopback stand-in for
// Authsignal's connect host. The script is loaded the way Auth0 runs it (support/sandbox.js).
// Without BRIDGE_PUBLIC_KEYS in its generated settings block (the bridge's
// AUTH0_SIGN_IN_PROOF=authsignal-token) the password is the Authsignal token and the script asks
// Authsignal who owns it, with the connection's settings AUTHSIGNAL_SECRET and
// AUTHSIGNAL_CONNECT_URL.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { loadLogin: load, WrongUsernameOrPasswordError } = require('./support/sandbox.js');

const SECRET = 'connection-secret-key';
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.login-script-token.sig';

function loadLogin(configuration) {
  return load(configuration).login;
}

// A stand-in that answers each request with `answer(request, body)` -> [status, body] or 'hang'.
async function standIn(answer) {
  const requests = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => { body += chunk; });
    request.on('end', () => {
      requests.push({ method: request.method, url: request.url, headers: request.headers, body });
      const result = answer(request, body);
      if (result === 'hang') return;
      const [status, payload] = result;
      response.writeHead(status, { 'Content-Type': 'application/json' });
      response.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, requests, close: () => { server.closeAllConnections(); server.close(); } };
}

// Runs the script and collects every callback call (waiting a little for extra ones).
async function run(login, identifier, password) {
  const calls = [];
  await new Promise((resolve, reject) => {
    const hung = setTimeout(() => reject(new Error('callback was never called')), 3000);
    login(identifier, password, {}, (error, profile) => {
      calls.push({ error, profile });
      clearTimeout(hung);
      setTimeout(resolve, 50);
    });
  });
  assert.equal(calls.length, 1, 'callback is called exactly once');
  return calls[0];
}

test('a valid token returns the profile of its user, the provider prefix dropped as before', async () => {
  const server = await standIn(() => [200, { userId: 'auth0|abc123', email: 'ada@example.com', emailVerified: true }]);
  try {
    const login = loadLogin({ AUTHSIGNAL_SECRET: SECRET, AUTHSIGNAL_CONNECT_URL: server.url });
    const { error, profile } = await run(login, 'auth0|abc123', TOKEN);
    assert.equal(error, null);
    assert.deepEqual({ ...profile }, { user_id: 'abc123', email: 'ada@example.com', email_verified: true });
    const [request] = server.requests;
    assert.equal(request.method, 'POST');
    assert.equal(request.url, '/get-user');
    assert.equal(request.headers.authorization, 'Basic ' + Buffer.from(SECRET + ':').toString('base64'));
    assert.deepEqual(JSON.parse(request.body), { token: TOKEN });
  } finally { server.close(); }
});

test('STRIP_PROVIDER_PREFIX=false keeps the user id whole', async () => {
  const server = await standIn(() => [200, { userId: 'google-oauth2|108' }]);
  try {
    const login = loadLogin({ AUTHSIGNAL_SECRET: SECRET, AUTHSIGNAL_CONNECT_URL: server.url, STRIP_PROVIDER_PREFIX: 'false' });
    const { error, profile } = await run(login, 'google-oauth2|108', TOKEN);
    assert.equal(error, null);
    assert.equal(profile.user_id, 'google-oauth2|108');
  } finally { server.close(); }
});

test('a user id without a provider prefix is kept as it is', async () => {
  const server = await standIn(() => [200, { userId: 'plain-user-7' }]);
  try {
    const login = loadLogin({ AUTHSIGNAL_SECRET: SECRET, AUTHSIGNAL_CONNECT_URL: server.url + '/' });
    const { error, profile } = await run(login, 'plain-user-7', TOKEN);
    assert.equal(error, null);
    assert.deepEqual({ ...profile }, { user_id: 'plain-user-7' });
    assert.equal(profile.email_verified, undefined, 'no verified email is claimed');
  } finally { server.close(); }
});

test('an answer without a user id is a wrong password, not a hang', async () => {
  for (const body of [{}, { userId: '' }, { userId: 42 }, null]) {
    const server = await standIn(() => [200, body]);
    try {
      const login = loadLogin({ AUTHSIGNAL_SECRET: SECRET, AUTHSIGNAL_CONNECT_URL: server.url });
      const { error } = await run(login, 'u', TOKEN);
      assert.ok(error instanceof WrongUsernameOrPasswordError, JSON.stringify(body));
    } finally { server.close(); }
  }
});

test('a token of another user is a wrong password', async () => {
  const server = await standIn(() => [200, { userId: 'someone-else' }]);
  try {
    const login = loadLogin({ AUTHSIGNAL_SECRET: SECRET, AUTHSIGNAL_CONNECT_URL: server.url });
    const { error, profile } = await run(login, 'user-1', TOKEN);
    assert.ok(error instanceof WrongUsernameOrPasswordError);
    assert.equal(profile, undefined);
  } finally { server.close(); }
});

test('a token Authsignal refuses is a wrong password', async () => {
  for (const status of [400, 422, 410]) {
    const server = await standIn(() => [status, { error: 'invalid_token', errorDescription: 'Token expired' }]);
    try {
      const login = loadLogin({ AUTHSIGNAL_SECRET: SECRET, AUTHSIGNAL_CONNECT_URL: server.url });
      const { error } = await run(login, 'u', TOKEN);
      assert.ok(error instanceof WrongUsernameOrPasswordError, String(status));
    } finally { server.close(); }
  }
});

test('a wrong secret key or a failing Authsignal is an error, not a wrong password', async () => {
  for (const [status, body, expected] of [
    [401, { error: 'unauthorized' }, /secret key/],
    [403, { error: 'forbidden' }, /secret key/],
    [500, { error: 'internal' }, /unavailable/],
    // Rate limiting, a timeout and a missing route are not the user's password: they must not
    // count toward Auth0's brute-force lockout.
    [429, { error: 'too_many_requests' }, /unavailable \(HTTP 429\)/],
    [408, 'Request Timeout', /unavailable \(HTTP 408\)/],
    [404, { error: 'not_found' }, /unavailable \(HTTP 404\)/],
    [503, 'Service Unavailable', /unavailable/],
    [200, '<html>maintenance</html>', /other than JSON/]
  ]) {
    const server = await standIn(() => [status, body]);
    try {
      const login = loadLogin({ AUTHSIGNAL_SECRET: SECRET, AUTHSIGNAL_CONNECT_URL: server.url });
      const { error } = await run(login, 'u', TOKEN);
      assert.ok(error instanceof Error && !(error instanceof WrongUsernameOrPasswordError), String(status));
      assert.match(error.message, expected);
      assert.ok(!error.message.includes(SECRET), 'the secret is not in the message');
    } finally { server.close(); }
  }
});

test('an unreachable Authsignal is an error', async () => {
  const server = await standIn(() => [200, {}]);
  const url = server.url;
  server.close();
  const login = loadLogin({ AUTHSIGNAL_SECRET: SECRET, AUTHSIGNAL_CONNECT_URL: url });
  const { error } = await run(login, 'u', TOKEN);
  assert.ok(error instanceof Error && !(error instanceof WrongUsernameOrPasswordError));
  assert.match(error.message, /Could not reach Authsignal/);
});

test('a slow Authsignal is cut off at AUTHSIGNAL_TIMEOUT_MS', async () => {
  const server = await standIn(() => 'hang');
  try {
    const login = loadLogin({ AUTHSIGNAL_SECRET: SECRET, AUTHSIGNAL_CONNECT_URL: server.url, AUTHSIGNAL_TIMEOUT_MS: '200' });
    const started = Date.now();
    const { error } = await run(login, 'u', TOKEN);
    assert.match(error.message, /timed out after 200 ms/);
    assert.ok(Date.now() - started < 2000);
  } finally { server.close(); }
});

test('a missing or unsafe configuration is an error and nothing is sent', async () => {
  const server = await standIn(() => [200, { userId: 'u' }]);
  try {
    for (const configuration of [
      {},
      { AUTHSIGNAL_SECRET: SECRET },
      { AUTHSIGNAL_CONNECT_URL: server.url },
      { AUTHSIGNAL_SECRET: SECRET, AUTHSIGNAL_CONNECT_URL: 'http://us.connect.authsignal.com' }
    ]) {
      const { error } = await run(loadLogin(configuration), 'u', TOKEN);
      assert.match(error.message, /not configured/);
    }
    assert.equal(server.requests.length, 0);
  } finally { server.close(); }
});

test('an empty or oversized password is a wrong password and nothing is sent', async () => {
  const server = await standIn(() => [200, { userId: 'u' }]);
  try {
    const login = loadLogin({ AUTHSIGNAL_SECRET: SECRET, AUTHSIGNAL_CONNECT_URL: server.url });
    for (const password of ['', 'x'.repeat(4097), undefined]) {
      const { error } = await run(login, 'u', password);
      assert.ok(error instanceof WrongUsernameOrPasswordError);
    }
    assert.equal(server.requests.length, 0);
  } finally { server.close(); }
});
