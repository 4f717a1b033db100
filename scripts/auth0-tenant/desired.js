// What the bridge needs of its Auth0 tenant, from the stack's settings: the connection with the
// generated Login script (or, with token exchange, the generated Action and its profile), the
// one application the bridge signs in with, and the API that lets it get refresh tokens. Pure
// functions; read.js reads, plan.js writes, audit.js compares.
'use strict';
const crypto = require('node:crypto');

const PASSWORD_REALM = 'http://auth0.com/oauth/grant-type/password-realm';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const PASSWORD_GRANTS = ['password', PASSWORD_REALM];

// The client_metadata key that marks the bridge's application with its stack's name: a run
// finds the application by it before it makes one, so a retried create makes no second one.
const STACK_MARKER = 'authsignal_bridge_stack';

// Name lengths. A token exchange profile's name is 3-50 characters (Auth0's reference for
// POST /api/v2/token-exchange-profiles). For applications, APIs and Actions no limit is
// documented; 128 is assumed (docs/to-confirm.md lists it). A stack name may be 128
// characters (CloudFormation), so every name fits, whatever the stack.
const PROFILE_NAME_MAX = 50;
const NAME_MAX = 128;

// The refresh-token lifetimes above which check reports a stolen token living too long: Auth0's
// documented defaults for expiring refresh tokens, 30 days absolute and 15 days idle
// (https://auth0.com/docs/secure/tokens/refresh-tokens/configure-refresh-token-expiration).
// Setup sets 30 days and 7 days.
const REFRESH_TOKEN_LIMITS = { absolute: 2592000, idle: 1296000 };

const tokenExchange = (settings) => settings.grantType === 'token-exchange';

// `prefix` with the stack's name, at most `max` characters: when the whole does not fit, the
// stack's name is cut and a digest of all of it appended, so two stacks never share a name and
// a run always finds the name the last one made.
function fitName(prefix, stackName, max, open = ' (', close = ')') {
  const whole = `${prefix}${open}${stackName}${close}`;
  if (whole.length <= max) return whole;
  const digest = crypto.createHash('sha256').update(stackName).digest('hex').slice(0, 8);
  const room = max - prefix.length - open.length - close.length - digest.length - 1;
  return `${prefix}${open}${stackName.slice(0, Math.max(room, 0))}~${digest}${close}`;
}

const APPLICATION_NAME = (settings) => fitName('Authsignal bridge', settings.stackName, NAME_MAX);
const API_NAME = (settings) => fitName('Authsignal bridge API', settings.stackName, NAME_MAX);
const ACTION_NAME = (settings) => fitName('authsignal-bridge-token-exchange', settings.stackName, NAME_MAX, '-', '');
const PROFILE_NAME = (settings) => fitName('Authsignal bridge', settings.stackName, PROFILE_NAME_MAX);

// The grants the bridge's application needs: the sign-in's and the refresh's, nothing else.
function grantsFor(settings) {
  const signIn = settings.grantType === 'password' ? 'password'
    : tokenExchange(settings) ? TOKEN_EXCHANGE : PASSWORD_REALM;
  return [signIn, 'refresh_token'];
}

// The application the bridge signs in with: a confidential client with exactly its grants, no
// redirect URLs of any kind, no cross-origin authentication, the end user's IP trusted from
// auth0-forwarded-for, refresh tokens that rotate (reuse detected), with a reuse interval and
// absolute and idle lifetimes, and the marker naming its stack. With token exchange, it may use
// Custom Token Exchange profiles (first-party and OIDC-conformant, as Auth0 requires for them).
// With Dpop=required, Auth0 requires a proof of possession too: the bridge only checks that a
// proof is there, and without this an API whose policy does not ask for one may still get
// Bearer tokens issued.
function desiredApplication(settings) {
  return {
    ...(tokenExchange(settings) ? { token_exchange: { allow_any_profile_of_type: ['custom_authentication'] } } : {}),
    ...(settings.dpop === 'required' ? { require_proof_of_possession: true } : {}),
    name: APPLICATION_NAME(settings),
    description: 'The authsignal-auth0-bridge Lambda function: passkey sign-ins through Authsignal. Managed by make auth0-setup.',
    client_metadata: { [STACK_MARKER]: settings.stackName },
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
    cross_origin_authentication: false,
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

// The Login script's generated settings: the bridge's public keys (null: none, the Authsignal
// token design), its assertions' issuer and audience, and the user id mapping.
function loginSettings(settings, keys, stripProviderPrefix) {
  return {
    ...(keys ? { BRIDGE_PUBLIC_KEYS: keys, BRIDGE_ISSUER: settings.issuer, BRIDGE_AUDIENCE: settings.assertionAudience } : {}),
    STRIP_PROVIDER_PREFIX: stripProviderPrefix
  };
}

// The Action's generated settings: the keys, issuer and audience, the connection its users live
// in and the one application that may exchange (the bridge's).
function actionSettings(settings, keys, clientId) {
  return {
    BRIDGE_PUBLIC_KEYS: keys,
    BRIDGE_ISSUER: settings.issuer,
    BRIDGE_AUDIENCE: settings.assertionAudience,
    BRIDGE_CONNECTION: settings.realm,
    BRIDGE_CLIENT_ID: clientId
  };
}

// The connection's options. For the password grants: the custom database with the generated
// Login script `loginCode`, import mode and sign-ups off, brute-force protection on, and no
// settings (`configuration`: with the Authsignal token, plan.js adds the ones it is given). For
// token exchange: a plain Auth0 database that holds the users the Action sets (no scripts;
// nobody signs up or in with a password there).
function desiredConnectionOptions(settings, loginCode) {
  const common = { import_mode: false, disable_signup: true, requires_username: false, brute_force_protection: true };
  if (tokenExchange(settings)) return { enabledDatabaseCustomization: false, ...common };
  return { enabledDatabaseCustomization: true, ...common, customScripts: { login: loginCode } };
}

// The API whose identifier is Auth0Audience, allowing refresh tokens.
function desiredApi(settings) {
  return {
    name: API_NAME(settings),
    identifier: settings.audience,
    allow_offline_access: true,
    signing_alg: 'RS256',
    token_lifetime: 86400
  };
}

const ACTION_TRIGGER = { id: 'custom-token-exchange', version: 'v1' };

// The Action as setup writes it: the generated code, and no secrets (it reads none).
function desiredAction(settings, code) {
  return { name: ACTION_NAME(settings), supported_triggers: [ACTION_TRIGGER], runtime: 'node22', code };
}

function desiredProfile(settings, actionId) {
  return { name: PROFILE_NAME(settings), subject_token_type: settings.subjectTokenType, action_id: actionId, type: 'custom_authentication' };
}

module.exports = {
  PASSWORD_REALM,
  TOKEN_EXCHANGE,
  PASSWORD_GRANTS,
  STACK_MARKER,
  NAME_MAX,
  REFRESH_TOKEN_LIMITS,
  ACTION_TRIGGER,
  tokenExchange,
  APPLICATION_NAME,
  ACTION_NAME,
  PROFILE_NAME,
  grantsFor,
  desiredApplication,
  loginSettings,
  actionSettings,
  desiredConnectionOptions,
  desiredApi,
  desiredAction,
  desiredProfile
};
