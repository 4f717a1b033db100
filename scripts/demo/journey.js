#!/usr/bin/env node
// `make demo`'s sign-up journey: the app of scripts/demo/app.js, whose calls to the bridge are
// API Gateway events (HTTP API, payload 2.0) handed to the function under `cargo lambda watch`
// with `cargo lambda invoke`, as the rest of the demo invokes it.
//
//   node scripts/demo/journey.js --invoke-port PORT --authsignal URL/v1 --tenant-id ID --email EMAIL
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { runJourney, StepFailed } = require('./app.js');

const ROOT = path.join(__dirname, '..', '..');
const FIXTURE = path.join(ROOT, 'events', 'http-api-token.json');

// Sends `body` to `endpoint` (sign-up, token, revoke) as API Gateway would: the token fixture
// with that path and body, invoked through cargo lambda; the answer as {status, body}.
function cargoLambdaBridge(invokePort, work) {
  const fixture = fs.readFileSync(FIXTURE, 'utf8');
  return async (endpoint, body) => {
    const event = JSON.parse(fixture);
    event.rawPath = `/${endpoint}`;
    event.routeKey = `ANY /${endpoint}`;
    event.requestContext.http.path = `/${endpoint}`;
    event.body = JSON.stringify(body);
    event.isBase64Encoded = false;
    const file = path.join(work, 'event.json');
    fs.writeFileSync(file, JSON.stringify(event));
    const invoked = spawnSync('cargo', ['lambda', 'invoke', 'bootstrap', '--invoke-address', '127.0.0.1',
      '--invoke-port', String(invokePort), '--data-file', file, '--output-format', 'json'], { encoding: 'utf8' });
    if (invoked.status !== 0) throw new StepFailed(`cargo lambda invoke failed: ${invoked.stderr.trim()}`);
    const answer = JSON.parse(invoked.stdout);
    let parsed = {};
    try {
      parsed = JSON.parse(answer.body || '{}');
    } catch {
      parsed = {};
    }
    return { status: answer.statusCode, body: parsed };
  };
}

function options(argv) {
  const named = {};
  for (let i = 0; i < argv.length; i += 2) named[argv[i].replace(/^--/, '')] = argv[i + 1];
  for (const required of ['invoke-port', 'authsignal', 'tenant-id', 'email']) {
    if (!named[required]) throw new StepFailed(`missing --${required}`);
  }
  return named;
}

if (require.main === module) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-journey-'));
  let named;
  try {
    named = options(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  runJourney({
    sendToBridge: cargoLambdaBridge(named['invoke-port'], work),
    authsignal: named.authsignal,
    tenantId: named['tenant-id'],
    email: named.email
  }).then(() => {
    fs.rmSync(work, { recursive: true, force: true });
    process.stdout.write('==> the journey finished: signed up by email, made a passkey, signed in with it, refreshed, signed out\n');
  }, (error) => {
    fs.rmSync(work, { recursive: true, force: true });
    process.stderr.write(`${error instanceof StepFailed ? error.message : error.stack}\n`);
    process.exit(1);
  });
}
