#!/usr/bin/env node
// Starts the loopback stand-ins for Authsignal and Auth0, for `make demo`, the HTTP-level tests
// (tests/http/) and the Rust tests that run the shipped Login script. Prints
// `listening <authsignal url> <auth0 url>` (only the Auth0 URL with --only-auth0) once both
// listen, then serves until killed.
//
// Usage: run.js AUTHSIGNAL_PORT AUTH0_PORT [--any-token | --permissive] [--only-auth0] [--dpop-nonce]
//   (a port of 0 picks a free one)
// Environment:
//   DEMO_AUTHSIGNAL_SECRET, DEMO_AUTH0_CLIENT_ID, DEMO_AUTH0_CLIENT_SECRET  what they accept
//   DEMO_VALID_TOKEN       the one Authsignal token whose challenge succeeded (default mode)
//   DEMO_AUTHSIGNAL_TENANT_ID  the tenant id the stand-in's client API takes (default stand-in-tenant)
//   AUTH0_REALM            the custom database connection's name (default authsignal)
//   the Login script's settings: BRIDGE_PUBLIC_KEYS, BRIDGE_ISSUER, BRIDGE_AUDIENCE,
//   STRIP_PROVIDER_PREFIX (assertions: written into the script's generated settings block, as
//   `make auth0-setup` writes them), or AUTHSIGNAL_SECRET, AUTHSIGNAL_CONNECT_URL,
//   AUTHSIGNAL_TIMEOUT_MS (the Authsignal token: the connection's settings). Without
//   BRIDGE_PUBLIC_KEYS and AUTHSIGNAL_CONNECT_URL, the script asks the Authsignal stand-in with
//   DEMO_AUTHSIGNAL_SECRET.
//   AUTH0_SUBJECT_TOKEN_TYPE   turns on Custom Token Exchange: a profile of that type runs the
//   shipped Action (auth0/token-exchange.js) generated with BRIDGE_PUBLIC_KEYS, BRIDGE_ISSUER,
//   BRIDGE_AUDIENCE, BRIDGE_CONNECTION, BRIDGE_CLIENT_ID (default: DEMO_AUTH0_CLIENT_ID, as
//   setup writes the bridge's client id) as its settings; the users it sets live in the
//   AUTH0_REALM connection.
// --any-token: every non-empty Authsignal token is a succeeded passkey challenge (the same token
// always the same challenge). --permissive: as --any-token, but every validation is a new
// challenge and every refresh token is live (the API conformance run). --dpop-nonce: Auth0's
// stand-in demands a server nonce in DPoP proofs (use_dpop_nonce), as Auth0 does for public
// clients.
'use strict';
const { startAuthsignal } = require('./authsignal.js');
const { startAuth0 } = require('./auth0.js');
const { announce } = require('./common.js');
const { SETTING_NAMES } = require('../auth0-code.js');

// The Login script's settings: those of its generated block, and its connection settings.
const CONNECTION_SETTINGS = [...SETTING_NAMES.login, 'AUTHSIGNAL_SECRET', 'AUTHSIGNAL_CONNECT_URL', 'AUTHSIGNAL_TIMEOUT_MS'];

// The variables of `names` that `env` sets (not empty).
function given(env, names) {
  return Object.fromEntries(names.filter((name) => env[name]).map((name) => [name, env[name]]));
}

async function main(argv) {
  const flags = argv.filter((arg) => arg.startsWith('--'));
  const [authsignalPort, auth0Port] = argv.filter((arg) => !arg.startsWith('--')).map(Number);
  const mode = flags.includes('--permissive') ? 'permissive' : flags.includes('--any-token') ? 'any-token' : 'valid-token';
  const env = process.env;
  const servers = [];
  const settings = given(env, CONNECTION_SETTINGS);
  if (!flags.includes('--only-auth0')) {
    const authsignal = await startAuthsignal({
      port: authsignalPort || 0, secret: env.DEMO_AUTHSIGNAL_SECRET, validToken: env.DEMO_VALID_TOKEN, mode,
      tenantId: env.DEMO_AUTHSIGNAL_TENANT_ID
    });
    servers.push(authsignal);
    if (!settings.BRIDGE_PUBLIC_KEYS && !settings.AUTHSIGNAL_CONNECT_URL) {
      settings.AUTHSIGNAL_SECRET = env.DEMO_AUTHSIGNAL_SECRET;
      settings.AUTHSIGNAL_CONNECT_URL = authsignal.url;
    }
  }
  servers.push(await startAuth0({
    port: auth0Port || 0,
    client: { id: env.DEMO_AUTH0_CLIENT_ID, secret: env.DEMO_AUTH0_CLIENT_SECRET },
    connection: { name: env.AUTH0_REALM || 'authsignal', settings },
    permissive: mode === 'permissive',
    dpopNonce: flags.includes('--dpop-nonce'),
    tokenExchange: env.AUTH0_SUBJECT_TOKEN_TYPE
      ? { subjectTokenType: env.AUTH0_SUBJECT_TOKEN_TYPE, settings: given(env, SETTING_NAMES.action) }
      : null
  }));
  announce(servers);
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`stand-ins: ${error.stack}\n`);
  process.exit(1);
});
