// What the loopback stand-ins for Authsignal and Auth0 share: a tiny HTTP server that records
// every request, reads JSON and form bodies, and answers JSON as the real services do.
// Node's standard library only; never part of the Lambda binary.
'use strict';
const http = require('node:http');

// Starts a server on 127.0.0.1:`port` (0 for any) whose `handle(request)` returns
// [status, body, headers] (or a promise of it). `request` is {method, path, headers, body (a
// string), form (parsed body)}. Every request is kept in `requests` for tests to read.
function serve(name, port, handle) {
  const requests = [];
  const server = http.createServer((incoming, response) => {
    const chunks = [];
    incoming.on('data', (chunk) => chunks.push(chunk));
    incoming.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const request = {
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
        body,
        form: parseBody(incoming.headers['content-type'], body)
      };
      requests.push(request);
      let answer;
      try {
        answer = await handle(request);
      } catch (error) {
        process.stderr.write(`[${name}] ${error.stack}\n`);
        answer = [500, { error: 'server_error', error_description: 'stand-in failure' }];
      }
      const [status, payload, headers = {}] = answer;
      const data = payload === undefined ? '' : JSON.stringify(payload);
      response.writeHead(status, {
        ...(payload === undefined ? {} : { 'Content-Type': 'application/json' }),
        'Cache-Control': 'no-store',
        'Content-Length': Buffer.byteLength(data),
        ...headers
      });
      response.end(data);
      if (process.env.STAND_IN_LOG) process.stderr.write(`[${name}] ${request.method} ${request.path} ${status}\n`);
    });
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}`;
      resolve({
        url,
        requests,
        close: () => new Promise((done) => { server.closeAllConnections(); server.close(done); })
      });
    });
  });
}

// A form (`application/x-www-form-urlencoded`) or JSON object body as a plain object of strings.
function parseBody(contentType, body) {
  if (!body) return {};
  if (/^application\/x-www-form-urlencoded/i.test(contentType || '')) {
    return Object.fromEntries(new URLSearchParams(body));
  }
  try {
    const value = JSON.parse(body);
    return value && typeof value === 'object' && !Array.isArray(value) ? value : {};
  } catch (e) {
    return {};
  }
}

// The credentials of a `Authorization: Basic` header, as [user, password].
function basicAuth(headers) {
  const match = /^Basic (.+)$/.exec(headers.authorization || '');
  if (!match) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const at = decoded.indexOf(':');
  return at < 0 ? null : [decoded.slice(0, at), decoded.slice(at + 1)];
}

// An unsigned JWT-shaped string carrying `claims` (readable by the demo; stand-in tokens are
// not meant to be verified).
function unsignedJwt(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT', kid: 'stand-in' })}.${part(claims)}.stand-in-signature`;
}

// Prints the line a parent process waits for, once every server listens.
function announce(servers) {
  process.stdout.write(`listening ${servers.map((s) => s.url).join(' ')}\n`);
}

module.exports = { serve, basicAuth, unsignedJwt, announce };
