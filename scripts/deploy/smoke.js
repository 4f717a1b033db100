#!/usr/bin/env node
// `make smoke` (also the last step of `make deploy`): the deployed bridge checked from outside,
// one row per check, each `ok`, `FAIL` or `skipped`:
//   1. the token endpoint reaches the function: a GET answers the function's 405;
//   2. Authsignal accepts the bridge's secret key (and region), and the bridge holds a usable
//      signing key: a junk token answers 400 invalid_grant;
//   3. Auth0 accepts the bridge's client credentials: a junk revocation answers 200;
//   4. the function signs with a key the tenant accepts: the newest start-up log line's `kid`
//      (CloudWatch Logs, /aws/lambda/<stack>-bridge) is one the Login script (or the token
//      exchange Action) lists;
//   5. the tenant is as the bridge needs: `make auth0-check` against the stack passes;
//   6. with EdgeProtection=waf, the stack's web ACL is attached to the REST API's stage `live`;
//   and with TOKEN (a token from a real passkey sign-in): the sign-in, a refresh (with
//   offline_access) and the sign-out (revocation) through the bridge.
// Never prints a token or a secret: only statuses, error codes, field names and key ids.
//
//   node scripts/deploy/smoke.js [--config-env ENV] [--stack NAME]
// Environment: TOKEN; AUTH0_MANAGEMENT_CLIENT_ID and AUTH0_MANAGEMENT_CLIENT_SECRET (or
// AUTH0_MANAGEMENT_TOKEN), asked on the terminal when missing; the AWS SDK's usual variables;
// SMOKE_LOG_WAIT_SECONDS (how long to wait for the start-up line to reach CloudWatch Logs,
// default 90). Exit codes: 0 every check passed (or was skipped), 1 a check failed, 2 the
// check could not run (one line on stderr says why and what to do).
'use strict';
const crypto = require('node:crypto');
const aws = require('../auth0-tenant/aws.js');
const tenant = require('../auth0-tenant/tenant.js');
const { samconfigFor } = require('../auth0-tenant/inputs.js');
const { OperatorError } = require('../auth0-tenant/errors.js');
const { printTable } = require('../auth0-tenant/audit.js');
const { managementCredentials } = require('./credentials.js');

const USAGE = 'usage: smoke.js [--config-env ENV] [--stack NAME]';
const START_UP_LINE = 'assertions are signed with this key';
const NO_KEY_LINE = 'no usable BRIDGE_SIGNING_KEY';
const REQUEST_TIMEOUT_MS = 30000;
// How far back to look for a start-up line, nearest first (a busy log group is slow to search
// whole): the smoke check's own requests usually cause one, and an execution environment lives
// some hours at most.
const LOG_WINDOWS_MS = [15 * 60 * 1000, 3 * 3600 * 1000, 24 * 3600 * 1000];

function parseArguments(argv) {
  const options = { configEnv: 'default', stack: '' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--config-env') options.configEnv = argv[++i];
    else if (argv[i] === '--stack') options.stack = argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[++i] : '';
    else throw new OperatorError(`unknown argument ${argv[i]}. Fix: ${USAGE}`);
  }
  return options;
}

// A token Authsignal did not issue, shaped as one it does (an HS256 JWT, expired), so that the
// bridge's own checks pass it on to Authsignal's /validate.
function junkToken() {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: 'make-smoke', exp: 1, iat: 0 })}.${crypto.randomBytes(32).toString('base64url')}`;
}

// One HTTP exchange: {status, body (parsed JSON or null), text}; a network failure is status 0.
async function exchange(io, url, init) {
  try {
    const answer = await io.fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), ...init });
    const text = await answer.text();
    let body = null;
    try { body = JSON.parse(text); } catch (error) { body = null; }
    return { status: answer.status, body, text };
  } catch (error) {
    return { status: 0, body: null, text: String((error.cause && (error.cause.code || error.cause.message)) || error.message) };
  }
}

// An answer as a detail: its status and OAuth error (or API Gateway's message), never a token.
function described(answer, secrets = []) {
  if (answer.status === 0) return `no answer (${answer.text})`;
  const body = answer.body || {};
  const what = body.error ? ` ${body.error}${body.error_description ? `: ${body.error_description}` : ''}`
    : body.message ? ` "${body.message}"` : '';
  let text = `${answer.status}${what}`.slice(0, 200);
  for (const secret of secrets) if (secret) text = text.split(secret).join('<token>');
  return text;
}

const form = (fields) => ({
  method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString()
});
const json = (value) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });

// What a 5xx from the function most likely means, for the row's fix.
function serverFix(answer, piece) {
  if (answer.status === 0) return 'Fix: check the stack output TokenEndpoint and the network.';
  if (answer.status === 403 && answer.body && answer.body.message) return 'Fix: API Gateway or WAF refused it (its own answer): check the web ACL and the route.';
  if (answer.status >= 500) {
    return `Fix: the function's log (/aws/lambda/<stack>-bridge) says what failed; most often the secret's ${piece} (make deploy fills what is missing).`;
  }
  return '';
}

async function endpointRow(context) {
  const answer = await exchange(context.io, context.tokenEndpoint, { method: 'GET' });
  const ok = answer.status === 405;
  return row('the token endpoint reaches the function', ok,
    `GET answered ${described(answer)}${ok ? ' (the function\'s own answer)' : ` (expected 405). ${serverFix(answer, 'fields')}`}`);
}

async function junkTokenRow(context) {
  const answer = await exchange(context.io, context.tokenEndpoint, json({ token: junkToken() }));
  const ok = answer.status === 400 && answer.body && answer.body.error === 'invalid_grant';
  return row('Authsignal accepts the bridge\'s key; a signing key is usable', ok,
    `a junk token answered ${described(answer)}${ok ? '' : ` (expected 400 invalid_grant). ${serverFix(answer, 'AUTHSIGNAL_SECRET or BRIDGE_SIGNING_KEY, or AuthsignalApiUrl')}`}`);
}

async function junkRevocationRow(context) {
  const answer = await exchange(context.io, context.revocationEndpoint, form({ token: `make-smoke-${crypto.randomBytes(16).toString('hex')}` }));
  const ok = answer.status === 200;
  return row('Auth0 accepts the bridge\'s client credentials', ok,
    `a junk revocation answered ${described(answer)}${ok ? '' : ` (expected 200). ${serverFix(answer, 'AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET')}`}`);
}

// The `kid` of a start-up log line (the bridge's JSON line, however Lambda wrapped it).
function kidOf(message) {
  const match = String(message).match(/"kid"\s*:\s*"([A-Za-z0-9_-]+)"/) || String(message).match(/\bkid[=:]\s*"?([A-Za-z0-9_-]{20,})/);
  return match ? match[1] : null;
}

// The newest start-up line's kid (and whether a start-up without a usable key came after it),
// waiting up to SMOKE_LOG_WAIT_SECONDS for one the tenant lists: log lines reach CloudWatch
// Logs some seconds after they are written.
async function startUpKey(context, accepted) {
  const group = `/aws/lambda/${context.stack.name}-bridge`;
  const waitMs = Number(context.environment.SMOKE_LOG_WAIT_SECONDS || 90) * 1000;
  const started = context.io.now();
  for (;;) {
    let lines = null;
    for (const window of LOG_WINDOWS_MS) {
      lines = await aws.logEventsWith(group, START_UP_LINE, context.io.now() - window, context.environment);
      if (lines === null || lines.some((event) => kidOf(event.message))) break;
    }
    const keyLines = (lines || []).map((event) => ({ ...event, kid: kidOf(event.message) })).filter((event) => event.kid);
    const newest = keyLines[keyLines.length - 1] || null;
    const done = newest && accepted.includes(newest.kid);
    if (done || context.io.now() - started >= waitMs) {
      const failures = newest ? await aws.logEventsWith(group, NO_KEY_LINE, newest.timestamp + 1, context.environment) : [];
      return { group, newest, exists: lines !== null, keyless: (failures || []).length > 0 };
    }
    await context.io.sleep(Math.min(5000, waitMs));
  }
}

async function signingKeyRow(context) {
  const title = 'the function signs with a key Auth0 accepts';
  if (context.signInProof === 'authsignal-token') return skipped(title, 'SignInProof=authsignal-token: the bridge signs nothing');
  const where = context.tokenExchange ? 'the token exchange Action' : 'the Login script';
  const accepted = await tenant.publishedKids(context.options.configEnv, context.environment, context.stack);
  const found = await startUpKey(context, accepted);
  if (!found.exists) return row(title, false, `no log group ${found.group}: the function has not run yet. Fix: run make smoke again.`);
  if (!found.newest) {
    return row(title, false, `no start-up line ("${START_UP_LINE}") in ${found.group} in the last 24 hours. ` +
      'Fix: the secret\'s BRIDGE_SIGNING_KEY is missing or unusable (make deploy makes one); then run make smoke again.');
  }
  if (found.keyless) {
    return row(title, false, `an execution environment started without a usable BRIDGE_SIGNING_KEY after kid ${found.newest.kid} was logged. ` +
      'Fix: make deploy (it makes the key), then make smoke.');
  }
  if (!accepted.includes(found.newest.kid)) {
    return row(title, false, `the function signs with kid ${found.newest.kid}, which ${where} does not list ` +
      `(${accepted.join(', ') || 'none'}). Fix: make auth0-setup STACK=${context.stack.name} (it publishes the secret's keys).`);
  }
  return row(title, true, `kid ${found.newest.kid} (logged ${new Date(found.newest.timestamp).toISOString()}), listed by ${where}`);
}

async function tenantRow(context) {
  let text = '';
  const capture = { write: (chunk) => { text += chunk; } };
  const code = await tenant.main(['check', '--config-env', context.options.configEnv, '--stack', context.stack.name], context.environment, capture);
  const failing = text.split('\n').filter((line) => /^\| (UNSAFE|BROKEN) /.test(line))
    .map((line) => line.split('|').map((cell) => cell.trim()).filter(Boolean).slice(0, 2).join(': '));
  const warnings = text.split('\n').filter((line) => /^\| WARNING /.test(line)).length;
  if (code === 0) return row('make auth0-check passes', true, `nothing unsafe or broken${warnings ? `; ${warnings} warning(s): run make auth0-check STACK=${context.stack.name}` : ''}`);
  return row('make auth0-check passes', false, `${failing.join('; ')}. Fix: make auth0-setup STACK=${context.stack.name}; make auth0-check STACK=${context.stack.name} shows each fix`);
}

// The ARN of the REST API's stage `live`: the stack's BridgeRestApi, else the id in TokenEndpoint.
async function stageArn(context) {
  const id = await aws.stackResourceId(context.stack.name, 'BridgeRestApi', context.environment)
    || (String(context.tokenEndpoint).match(/^https:\/\/([a-z0-9]+)\.execute-api\./) || [])[1];
  if (!id) return null;
  const [, partition, , region] = String(context.stack.id || '').split(':');
  return `arn:${partition || 'aws'}:apigateway:${region || context.environment.AWS_REGION}::/restapis/${id}/stages/live`;
}

async function webAclRow(context) {
  const title = 'the web ACL is attached to the stage';
  const edge = context.stack.parameters.EdgeProtection || 'waf';
  if (edge !== 'waf') return skipped(title, `EdgeProtection=${edge}: an HTTP API, no web ACL`);
  const stage = await stageArn(context);
  if (!stage) return row(title, false, 'the stack has no REST API (BridgeRestApi). Fix: make deploy with EdgeProtection=waf.');
  const attached = await aws.webAclOf(stage, context.environment);
  const expected = context.stack.outputs.WebAclArn;
  if (!attached) return row(title, false, `no web ACL is attached to ${stage}. Fix: make deploy (the stack attaches ${expected || 'its web ACL'}).`);
  if (expected && attached !== expected) return row(title, false, `${stage} has the web ACL ${attached}, not the stack's ${expected}. Fix: make deploy.`);
  return row(title, true, `${attached.split('/').slice(-2, -1)[0] || attached} on ${stage}`);
}

// With TOKEN: the sign-in, a refresh and the sign-out, as the app makes them.
async function sessionRows(context) {
  const token = context.environment.TOKEN;
  if (!token) return [];
  const hide = [token];
  const titles = ['sign-in with TOKEN', 'refresh', 'sign-out (revocation)'];
  if ((context.stack.parameters.Dpop || 'optional') === 'required') {
    return titles.map((title) => skipped(title, 'Dpop=required: only the app can sign its DPoP proofs; sign in from the app'));
  }
  const signIn = await exchange(context.io, context.tokenEndpoint, json({ token }));
  const tokens = signIn.body || {};
  hide.push(tokens.access_token, tokens.refresh_token, tokens.id_token);
  const rows = [];
  const signedIn = signIn.status === 200 && Boolean(tokens.access_token);
  rows.push(row(titles[0], signedIn, signedIn ? `200: ${['access_token', 'id_token', 'refresh_token'].filter((k) => tokens[k]).join(', ')} ` +
    `(token_type ${tokens.token_type}, expires_in ${tokens.expires_in})` : `answered ${described(signIn, hide)} (expected 200). ` +
    'Fix: a token is good for one sign-in, minutes after the passkey ceremony: take a fresh one; the log\'s exchange finished line says why.'));
  if (!signedIn) return rows.concat(titles.slice(1).map((title) => skipped(title, 'no sign-in')));
  let refreshToken = tokens.refresh_token;
  const wantsRefresh = String(context.stack.parameters.Auth0Scope || '').split(/\s+/).includes('offline_access');
  if (!refreshToken) {
    rows.push(wantsRefresh ? row(titles[1], false, 'the sign-in brought no refresh_token although Auth0Scope asks for offline_access. ' +
      `Fix: make auth0-setup STACK=${context.stack.name} (the API Auth0Audience must allow offline access).`)
      : skipped(titles[1], 'no refresh_token: Auth0Scope has no offline_access'));
    rows.push(skipped(titles[2], 'no refresh_token to revoke'));
    return rows;
  }
  const refresh = await exchange(context.io, context.tokenEndpoint, form({ grant_type: 'refresh_token', refresh_token: refreshToken }));
  const refreshed = refresh.status === 200 && refresh.body && refresh.body.access_token;
  if (refreshed) hide.push(refresh.body.access_token, refresh.body.refresh_token, refresh.body.id_token);
  rows.push(row(titles[1], Boolean(refreshed), refreshed ? `200: a new access_token${refresh.body.refresh_token ? ' and a rotated refresh_token' : ''}`
    : `answered ${described(refresh, hide)} (expected 200)`));
  if (refreshed && refresh.body.refresh_token) refreshToken = refresh.body.refresh_token;
  const revoke = await exchange(context.io, context.revocationEndpoint, form({ token: refreshToken }));
  rows.push(row(titles[2], revoke.status === 200, `the refresh token's revocation answered ${described(revoke, hide)}`));
  return rows;
}

const row = (check, ok, detail) => ({ check, result: ok ? 'ok' : 'FAIL', detail });
const skipped = (check, detail) => ({ check, result: 'skipped', detail });

// A check that could not be made is a FAIL row naming why, not the end of the run.
async function guarded(title, check) {
  try {
    return await check();
  } catch (error) {
    if (!(error instanceof OperatorError)) throw error;
    return row(title, false, error.message);
  }
}

// Runs the checks; returns the exit code, or throws an OperatorError (exit code 2).
async function main(argv, environment = process.env, out = process.stdout, io = {}) {
  const options = parseArguments(argv);
  const name = options.stack || samconfigFor(options.configEnv, environment).stackName;
  if (!name) throw new OperatorError(`samconfig.toml's [${options.configEnv}] has no stack_name. Fix: STACK=NAME (--stack NAME).`);
  const stack = await aws.readStack(name, environment);
  const { TokenEndpoint: tokenEndpoint, RevocationEndpoint: revocationEndpoint } = stack.outputs;
  if (!tokenEndpoint || !revocationEndpoint) {
    throw new OperatorError(`reading the stack ${name}: it has no output TokenEndpoint or RevocationEndpoint (status ${stack.status}). Fix: make deploy, or name the bridge's stack (STACK=).`);
  }
  const context = {
    options, stack, tokenEndpoint, revocationEndpoint,
    environment: { ...environment, ...(await managementCredentials(environment, io)) },
    signInProof: stack.parameters.SignInProof || 'assertion',
    tokenExchange: stack.parameters.Auth0GrantType === 'token-exchange',
    io: { fetch: io.fetch || fetch, now: io.now || Date.now, sleep: io.sleep || ((ms) => new Promise((resolve) => setTimeout(resolve, ms))) }
  };
  out.write(`make smoke: the stack ${name}${context.environment.TOKEN ? ', with TOKEN' : ''}\n\n`);
  // The requests first: a cold start they cause writes the start-up line the log check reads.
  const rows = [
    await endpointRow(context),
    await junkTokenRow(context),
    await junkRevocationRow(context),
    await guarded('the function signs with a key Auth0 accepts', () => signingKeyRow(context)),
    await guarded('make auth0-check passes', () => tenantRow(context)),
    await guarded('the web ACL is attached to the stage', () => webAclRow(context)),
    ...(await sessionRows(context))
  ];
  printTable(rows, out, ['check', 'result', 'detail']);
  const failed = rows.filter((r) => r.result === 'FAIL');
  out.write(failed.length ? `\n${failed.length} check(s) failed.\n` : '\nEvery check passed: the bridge is deployed and set up.\n');
  return failed.length ? 1 : 0;
}

module.exports = { main };

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (error) => {
    const message = error instanceof OperatorError ? error.message : `unexpected failure (${error.message}); please report it`;
    process.stderr.write(`smoke: ${message}\n`);
    process.exit(2);
  });
}
