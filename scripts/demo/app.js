#!/usr/bin/env node
// Plays the mobile app against a running bridge and the Authsignal stand-in
// (scripts/stand-ins/authsignal.js), printing one line per step with its HTTP status:
//
//   1. sign-up at the bridge            POST <bridge>/sign-up {email} -> an Authsignal token
//   2. email challenge                  POST <authsignal>/client/challenge/email-otp (Bearer token)
//   3. the code from the inbox          GET  /__stand-in/otp?email= (the stand-in's test endpoint)
//   4. email verification               POST <authsignal>/client/verify/email-otp -> access token
//   5. passkey sign-up                  POST <authsignal>/client/user-authenticators/passkey
//   6. passkey sign-in                  POST <authsignal>/client/challenge, /client/verify/passkey
//   7. sign-in at the bridge            POST <bridge>/token {token} -> Auth0's tokens
//   8. refresh (when a refresh token came back)   POST <bridge>/token {grant_type, refresh_token}
//   9. sign-out                         POST <bridge>/revoke {token: refresh_token}
//
// Usage:
//   node scripts/demo/app.js --bridge http://127.0.0.1:PORT --authsignal http://127.0.0.1:PORT/v1 \
//     --tenant-id <id> --email <email> [--credential-id <id>] [--action <sign-in action>]
// --bridge is the bridge served over HTTP (e.g. `cargo run --example local-api`, which passes
// any path to the function); --authsignal the stand-in's base URL, ending in /v1, as
// AUTHSIGNAL_API_URL; --tenant-id the stand-in's tenant id (its default: stand-in-tenant);
// --credential-id the passkey's credential id (default: a random one); --action the sign-in's
// Authsignal action (default signInWithPasskey: the bridge's AUTHSIGNAL_ACTION).
//
// The bridge is reached through one function, `sendToBridge(endpoint, body)` -> {status, body}
// with endpoint 'sign-up', 'token' or 'revoke'. By default it POSTs JSON over HTTP
// (`httpBridge`); a script that invokes the function another way (API Gateway events through
// `cargo lambda invoke`) passes its own to `runJourney`, or calls the exported steps itself.
// Never prints a secret, a code or a whole token: a token shows as its first 8 characters and
// its length. Exits 1 when a step fails, 2 on a usage error.
'use strict';
const crypto = require('node:crypto');

const DEFAULT_ACTION = 'signInWithPasskey';

class StepFailed extends Error {}

// A token as the demo may show it.
function peek(token) {
  return typeof token === 'string' && token ? `${token.slice(0, 8)}… (${token.length} chars)` : '(none)';
}

async function readJson(response) {
  const text = await response.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    return { unparsed: `${text.length} bytes of ${response.headers.get('content-type') || 'unknown type'}` };
  }
}

const trimmed = (url) => String(url).replace(/\/+$/, '');

// The default `sendToBridge`: a JSON POST to <baseUrl>/<endpoint>.
function httpBridge(baseUrl) {
  return async (endpoint, body) => {
    const response = await fetch(`${trimmed(baseUrl)}/${endpoint}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body)
    });
    return { status: response.status, body: await readJson(response) };
  };
}

// The mobile SDK's calls: Bearer with a token, else Basic with the tenant id (authsignal-ios
// BaseAPIClient).
function authsignalClient({ baseUrl, tenantId }) {
  return async (path, { token, body } = {}) => {
    const authorization = token ? `Bearer ${token}` : `Basic ${Buffer.from(`${tenantId}:`).toString('base64')}`;
    const response = await fetch(`${trimmed(baseUrl)}${path}`, {
      method: 'POST',
      headers: { Authorization: authorization, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined
    });
    return { status: response.status, body: await readJson(response) };
  };
}

// The stand-in's test endpoint, standing for the user's inbox: at the root of --authsignal.
function standInInbox(authsignalUrl) {
  return async (email) => {
    const response = await fetch(new URL(`/__stand-in/otp?email=${encodeURIComponent(email)}`, authsignalUrl));
    return { status: response.status, body: await readJson(response) };
  };
}

// Prints the step's line; throws unless the answer is a 2xx (and `ok(body)` holds, if given).
function report(ctx, title, answer, detail, ok = () => true) {
  const body = answer.body || {};
  const passed = answer.status >= 200 && answer.status < 300 && ok(body);
  const why = passed ? detail(body) : failure(body);
  ctx.log(`${passed ? '==>' : '!!!'} ${title}: HTTP ${answer.status}${why ? `; ${why}` : ''}`);
  if (!passed) throw new StepFailed(`${title} failed (HTTP ${answer.status})`);
  return body;
}

// What an error answer says, without anything secret: the OAuth and Authsignal error fields.
function failure(body) {
  const code = body.error || body.errorCode || body.failureReason || (body.isVerified === false ? 'not verified' : '');
  const description = body.error_description || body.errorDescription || '';
  return [code, description].filter(Boolean).join(': ') || `fields ${Object.keys(body).join(', ') || '(none)'}`;
}

// ---- The journey's steps: each takes ctx = {sendToBridge, authsignal, inbox, log} -----------

async function signUp(ctx, email) {
  const answer = await ctx.sendToBridge('sign-up', { email });
  const body = report(ctx, 'sign-up at the bridge (POST /sign-up)', answer,
    (b) => `Authsignal token ${peek(b.token)}`, (b) => typeof b.token === 'string');
  return body.token;
}

async function challengeEmail(ctx, token) {
  const answer = await ctx.authsignal('/client/challenge/email-otp', { token });
  return report(ctx, 'email challenge (POST /client/challenge/email-otp)', answer,
    (b) => `challenge ${b.challengeId}`).challengeId;
}

async function readOtp(ctx, email) {
  const answer = await ctx.inbox(email);
  const body = report(ctx, 'the code from the inbox (GET /__stand-in/otp)', answer,
    (b) => `${String(b.code).length} digits read`, (b) => typeof b.code === 'string');
  return body.code;
}

async function verifyEmail(ctx, token, code) {
  const answer = await ctx.authsignal('/client/verify/email-otp', { token, body: { verificationCode: code } });
  return report(ctx, 'email verification (POST /client/verify/email-otp)', answer,
    (b) => `verified; access token ${peek(b.accessToken)}`, (b) => b.isVerified === true).accessToken;
}

async function addPasskey(ctx, accessToken, credentialId) {
  const answer = await ctx.authsignal('/client/user-authenticators/passkey', { token: accessToken, body: { credentialId } });
  return report(ctx, 'passkey sign-up (POST /client/user-authenticators/passkey)', answer,
    (b) => `authenticator ${b.userAuthenticatorId}`, (b) => b.isVerified === true).userAuthenticatorId;
}

async function signInWithPasskey(ctx, action, credentialId) {
  const challenge = await ctx.authsignal('/client/challenge', { body: { action } });
  const { challengeId } = report(ctx, `passkey challenge for ${action} (POST /client/challenge)`, challenge,
    (b) => `challenge ${b.challengeId}`);
  const answer = await ctx.authsignal('/client/verify/passkey', { body: { challengeId, credentialId } });
  return report(ctx, 'passkey sign-in (POST /client/verify/passkey)', answer,
    (b) => `user ${b.userId}; Authsignal token ${peek(b.accessToken)}`, (b) => b.isVerified === true).accessToken;
}

const auth0Tokens = (b) => ['access_token', 'id_token', 'refresh_token']
  .filter((name) => b[name]).map((name) => `${name} ${peek(b[name])}`)
  .concat(b.token_type ? [`token_type ${b.token_type}`] : [], b.expires_in ? [`expires_in ${b.expires_in}`] : [])
  .join(', ');

async function exchange(ctx, token) {
  const answer = await ctx.sendToBridge('token', { token });
  return report(ctx, 'sign-in at the bridge (POST /token)', answer, auth0Tokens, (b) => typeof b.access_token === 'string');
}

async function refresh(ctx, refreshToken) {
  const answer = await ctx.sendToBridge('token', { grant_type: 'refresh_token', refresh_token: refreshToken });
  return report(ctx, 'refresh at the bridge (POST /token, grant_type=refresh_token)', answer, auth0Tokens,
    (b) => typeof b.access_token === 'string');
}

async function revoke(ctx, refreshToken) {
  const answer = await ctx.sendToBridge('revoke', { token: refreshToken });
  report(ctx, 'sign-out at the bridge (POST /revoke)', answer, () => `refresh token ${peek(refreshToken)} revoked`);
}

// The whole journey. `options`: {authsignal, tenantId, email, credentialId?, action?} and either
// `bridge` (a URL) or `sendToBridge`; `log` and `inbox` are optional.
async function runJourney(options) {
  const ctx = {
    sendToBridge: options.sendToBridge || httpBridge(options.bridge),
    authsignal: authsignalClient({ baseUrl: options.authsignal, tenantId: options.tenantId }),
    inbox: options.inbox || standInInbox(options.authsignal),
    log: options.log || ((line) => process.stdout.write(`${line}\n`))
  };
  const credentialId = options.credentialId || crypto.randomBytes(16).toString('base64url');
  const signUpToken = await signUp(ctx, options.email);
  await challengeEmail(ctx, signUpToken);
  const accessToken = await verifyEmail(ctx, signUpToken, await readOtp(ctx, options.email));
  await addPasskey(ctx, accessToken, credentialId);
  const signInToken = await signInWithPasskey(ctx, options.action || DEFAULT_ACTION, credentialId);
  let tokens = await exchange(ctx, signInToken);
  if (!tokens.refresh_token) {
    ctx.log('==> no refresh_token came back (AUTH0_SCOPE without offline_access): no refresh, no sign-out');
    return tokens;
  }
  const refreshed = await refresh(ctx, tokens.refresh_token);
  // With rotation the refresh answer carries the new refresh token; without, the old one lives.
  tokens = { ...tokens, ...refreshed };
  await revoke(ctx, tokens.refresh_token);
  return tokens;
}

const USAGE = 'usage: node scripts/demo/app.js --bridge URL --authsignal URL/v1 --tenant-id ID --email EMAIL '
  + '[--credential-id ID] [--action ACTION]';
const FLAGS = { '--bridge': 'bridge', '--authsignal': 'authsignal', '--tenant-id': 'tenantId', '--email': 'email',
  '--credential-id': 'credentialId', '--action': 'action' };

function parseArgs(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = FLAGS[argv[i]];
    if (!name || argv[i + 1] === undefined) throw new StepFailed(USAGE);
    options[name] = argv[i + 1];
  }
  const missing = ['bridge', 'authsignal', 'tenantId', 'email'].filter((name) => !options[name]);
  if (missing.length) throw new StepFailed(`${USAGE}\nmissing: ${missing.join(', ')}`);
  return options;
}

if (require.main === module) {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  runJourney(options).then(() => {
    process.stdout.write('the app\'s journey finished\n');
  }, (error) => {
    process.stderr.write(`${error instanceof StepFailed ? error.message : error.stack}\n`);
    process.exit(1);
  });
}

module.exports = {
  runJourney, httpBridge, authsignalClient, standInInbox, parseArgs, peek, StepFailed,
  signUp, challengeEmail, readOtp, verifyEmail, addPasskey, signInWithPasskey, exchange, refresh, revoke
};
