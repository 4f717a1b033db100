// What the bridge needs of its Auth0 tenant, from the stack's settings: the custom database
// connection with the shipped Login script, the one application the bridge signs in with, and
// the API that lets it get refresh tokens. Pure functions; tenant.js reads and writes.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const PASSWORD_REALM = 'http://auth0.com/oauth/grant-type/password-realm';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

// The parameter_overrides of `env` in samconfig.toml, as {Name: value}. Only what the
// setup needs of TOML: a `[<env>.deploy.parameters]` table with a parameter_overrides array of
// "Name=value" strings.
function samconfigParameters(text, env) {
  const table = new RegExp(`^\\[${env.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.deploy\\.parameters\\]`, 'm');
  const start = text.search(table);
  if (start < 0) throw new Error(`samconfig.toml has no [${env}.deploy.parameters]`);
  const rest = text.slice(start).split(/^\[/m)[1];
  const list = /parameter_overrides\s*=\s*\[([\s\S]*?)\]/m.exec(rest);
  const parameters = {};
  if (!list) return parameters;
  for (const match of list[1].matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    const at = match[1].indexOf('=');
    if (at > 0) parameters[match[1].slice(0, at)] = match[1].slice(at + 1);
  }
  return parameters;
}

// The bridge's settings that shape the tenant, from samconfig.toml's parameters (names as in
// template.yaml) with its defaults, and `overrides` (environment variables) on top.
function bridgeSettings(parameters, overrides = {}) {
  const get = (name, fallback) => (overrides[name] !== undefined && overrides[name] !== '' ? overrides[name]
    : parameters[name] !== undefined ? parameters[name] : fallback);
  const settings = {
    stackName: get('StackName', 'authsignal-auth0-bridge'),
    domain: get('Auth0Domain', ''),
    realm: get('Auth0Realm', 'authsignal'),
    grantType: get('Auth0GrantType', 'password-realm'),
    scope: get('Auth0Scope', 'openid profile email'),
    audience: get('Auth0Audience', ''),
    signInProof: get('SignInProof', 'assertion'),
    issuer: get('AssertionIssuer', 'authsignal-auth0-bridge'),
    subjectTokenType: get('Auth0SubjectTokenType', ''),
    dpop: get('Dpop', 'optional')
  };
  settings.wantsRefreshTokens = settings.scope.split(/\s+/).includes('offline_access');
  return settings;
}

// The grants the bridge's application needs: the sign-in's and the refresh's, nothing else.
function grantsFor(settings) {
  const signIn = settings.grantType === 'password' ? 'password'
    : settings.grantType === 'token-exchange' ? TOKEN_EXCHANGE : PASSWORD_REALM;
  return [signIn, 'refresh_token'];
}

const APPLICATION_NAME = (settings) => `Authsignal bridge (${settings.stackName})`;

const tokenExchange = (settings) => settings.grantType === 'token-exchange';

// The application the bridge signs in with: a confidential client with exactly its grants, no
// redirect URLs of any kind, the end user's IP trusted from auth0-forwarded-for, and refresh
// tokens that rotate (reuse detected), with a reuse interval and absolute and idle lifetimes.
// With token exchange, it may use Custom Token Exchange profiles (first-party and
// OIDC-conformant, as Auth0 requires for them). With Dpop=required, Auth0 requires a proof of
// possession too: the bridge only checks that a proof is there, and without this an API whose
// policy does not ask for one may still get Bearer tokens issued.
function desiredApplication(settings) {
  return {
    ...(tokenExchange(settings) ? { token_exchange: { allow_any_profile_of_type: ['custom_authentication'] } } : {}),
    ...(settings.dpop === 'required' ? { require_proof_of_possession: true } : {}),
    name: APPLICATION_NAME(settings),
    description: 'The authsignal-auth0-bridge Lambda function: passkey sign-ins through Authsignal. Managed by make auth0-setup.',
    app_type: 'regular_web',
    is_first_party: true,
    oidc_conformant: true,
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: grantsFor(settings),
    callbacks: [],
    allowed_logout_urls: [],
    web_origins: [],
    allowed_origins: [],
    initiate_login_uri: '',
    is_token_endpoint_ip_header_trusted: true,
    refresh_token: {
      rotation_type: 'rotating',
      expiration_type: 'expiring',
      leeway: 10,
      token_lifetime: 2592000,
      infinite_token_lifetime: false,
      idle_token_lifetime: 604800,
      infinite_idle_token_lifetime: false
    }
  };
}

// Why a BRIDGE_PUBLIC_KEYS value cannot verify the bridge's assertions, or null when it can: a
// JSON array of at least one Ed25519 public JWK with its kid, as `make signing-key` prints.
function publicKeysProblem(text) {
  if (!text) return 'BRIDGE_PUBLIC_KEYS is missing';
  let keys;
  try { keys = JSON.parse(text); } catch (error) { return 'BRIDGE_PUBLIC_KEYS is not JSON'; }
  if (!Array.isArray(keys) || keys.length === 0) return 'BRIDGE_PUBLIC_KEYS is not a list of keys';
  const usable = (k) => k && k.kty === 'OKP' && k.crv === 'Ed25519' && typeof k.x === 'string' && typeof k.kid === 'string' && !k.d;
  return keys.every(usable) ? null : 'BRIDGE_PUBLIC_KEYS holds an entry that is not an Ed25519 public JWK with a kid';
}

// The shipped Login script, as Auth0 stores it.
function loginScript() {
  return fs.readFileSync(path.join(ROOT, 'auth0', 'login.js'), 'utf8');
}

// The connection. For the password grants: the custom database with the shipped Login script
// and its settings (with assertions: the public keys, issuer and audience, and no Authsignal
// secret), import mode and sign-ups off. For token exchange: a plain Auth0 database that holds
// the users the Action sets (no scripts; nobody signs up or in with a password there).
function desiredConnection(settings, publicKeys) {
  if (tokenExchange(settings)) {
    return {
      name: settings.realm,
      strategy: 'auth0',
      options: {
        enabledDatabaseCustomization: false,
        import_mode: false,
        disable_signup: true,
        requires_username: false,
        brute_force_protection: true
      }
    };
  }
  const configuration = settings.signInProof === 'assertion'
    ? { BRIDGE_PUBLIC_KEYS: publicKeys, BRIDGE_ISSUER: settings.issuer, BRIDGE_AUDIENCE: settings.realm }
    : null;
  return {
    name: settings.realm,
    strategy: 'auth0',
    options: {
      enabledDatabaseCustomization: true,
      import_mode: false,
      disable_signup: true,
      requires_username: false,
      brute_force_protection: true,
      customScripts: { login: loginScript() },
      ...(configuration ? { configuration } : {})
    }
  };
}

// The API whose identifier is Auth0Audience, allowing refresh tokens.
function desiredApi(settings) {
  return {
    name: `Authsignal bridge API (${settings.stackName})`,
    identifier: settings.audience,
    allow_offline_access: true,
    signing_alg: 'RS256',
    token_lifetime: 86400
  };
}

// ---- Custom Token Exchange -------------------------------------------------------------------

const ACTION_TRIGGER = { id: 'custom-token-exchange', version: 'v1' };
const ACTION_NAME = (settings) => `authsignal-bridge-token-exchange-${settings.stackName}`;
const PROFILE_NAME = (settings) => `Authsignal bridge (${settings.stackName})`;
// The line setup appends to the Action's code: a digest of the secrets it set, since Auth0
// never shows a secret's value again (so a second run can tell it need not send them).
const SECRETS_TRAILER = '\n// make auth0-setup: secrets sha256=';

// The shipped Action, as Auth0 stores it.
function actionCode() {
  return fs.readFileSync(path.join(ROOT, 'auth0', 'token-exchange.js'), 'utf8');
}

// The Action's secrets: the assertion's parties and keys, the connection its users live in, and
// the one application allowed to exchange (the bridge's).
function actionSecrets(settings, publicKeys, clientId) {
  return {
    BRIDGE_PUBLIC_KEYS: publicKeys,
    BRIDGE_ISSUER: settings.issuer,
    BRIDGE_AUDIENCE: settings.realm,
    BRIDGE_CONNECTION: settings.realm,
    BRIDGE_CLIENT_ID: clientId
  };
}

function secretsDigest(secrets) {
  const crypto = require('node:crypto');
  const text = JSON.stringify(Object.keys(secrets).sort().map((name) => [name, secrets[name]]));
  return crypto.createHash('sha256').update(text).digest('hex');
}

// The Action as setup uploads it: the shipped code with the secrets' digest appended.
function desiredAction(settings, secrets) {
  return {
    name: ACTION_NAME(settings),
    supported_triggers: [ACTION_TRIGGER],
    runtime: 'node22',
    code: withSecretsDigest(secretsDigest(secrets)),
    secrets: Object.entries(secrets).map(([name, value]) => ({ name, value }))
  };
}

// The shipped Action's code with setup's trailer naming `digest` (none without one).
function withSecretsDigest(digest) {
  return digest ? `${actionCode()}${SECRETS_TRAILER}${digest}\n` : actionCode();
}

// An Action's code without setup's trailer, and the digest in the trailer (or null).
function splitActionCode(code) {
  const at = (code || '').lastIndexOf(SECRETS_TRAILER);
  if (at < 0) return { code: code || '', digest: null };
  return { code: code.slice(0, at), digest: code.slice(at + SECRETS_TRAILER.length).trim() };
}

function desiredProfile(settings, actionId) {
  return {
    name: PROFILE_NAME(settings),
    subject_token_type: settings.subjectTokenType,
    action_id: actionId,
    type: 'custom_authentication'
  };
}

module.exports = {
  ACTION_TRIGGER,
  ACTION_NAME,
  actionCode,
  actionSecrets,
  secretsDigest,
  desiredAction,
  splitActionCode,
  withSecretsDigest,
  desiredProfile,
  tokenExchange,
  PASSWORD_REALM,
  TOKEN_EXCHANGE,
  APPLICATION_NAME,
  samconfigParameters,
  bridgeSettings,
  grantsFor,
  desiredApplication,
  desiredConnection,
  desiredApi,
  loginScript,
  publicKeysProblem
};
