// What the tenant commands are told: the bridge's settings from samconfig.toml (read with a TOML
// parser, `parameter_overrides` as SAM itself reads it) or from the deployed stack, environment
// variables on top; the Auth0 tenant's canonical domain; and the bridge's public keys.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const TOML = require('smol-toml');
const { thumbprint, jwkOf } = require('../signing-key.js');
const { OperatorError } = require('./errors.js');

const ROOT = path.join(__dirname, '..', '..');

// ---- samconfig.toml --------------------------------------------------------------------------

// SAM's own patterns for a parameter_overrides string (samcli/cli/types.py,
// CfnParameterOverridesType): "ParameterKey=K,ParameterValue=V ..." or "K=V K2=V2", where a value
// is "double quoted", 'single quoted' (either with backslash escapes) or runs to the next space.
const KEY = `([A-Za-z0-9"']+)`;
const VALUE = `("(?:\\\\.|[^"\\\\]+)*"|'(?:\\\\.|[^'\\\\]+)*'|(?:\\\\.|[^ "\\\\]+)+)`;
const SAM_PATTERNS = [
  new RegExp(`(?:ParameterKey=${KEY},ParameterValue=${VALUE})`, 'g'),
  new RegExp(`(?:(?: )${KEY}=${VALUE})`, 'g')
];

// SAM's _unquote_wrapped_quotes: the wrapping quotes off, then \ , \" and \' unescaped.
function unquote(text) {
  const wrapped = text.length > 1 && text[0] === text[text.length - 1] && (text[0] === '"' || text[0] === "'");
  return (wrapped ? text.slice(1, -1) : text).replace(/\\ /g, ' ').replace(/\\"/g, '"').replace(/\\'/g, "'");
}

// `parameter_overrides` as SAM reads it, as {Name: value}: one string of pairs, a list of such
// strings (each read the same way: "Auth0Scope=openid profile" gives SAM "openid", so quote a
// value with spaces), or a table. A list item SAM would refuse is refused here too.
function samParameterOverrides(value) {
  const parameters = {};
  const items = [value].flat(Infinity).filter((item) => item !== null && item !== undefined && item !== '');
  for (const item of items) {
    if (typeof item === 'object') {
      for (const [name, entry] of Object.entries(item)) parameters[name] = Array.isArray(entry) ? entry.join(',') : String(entry);
      continue;
    }
    if (String(item).startsWith('file://')) {
      throw new OperatorError(`samconfig.toml: parameter_overrides "${item}" names a file, which these commands do not read. Fix: put the parameters inline, or run with --stack.`);
    }
    const normalized = ` ${String(item).trim()}`;
    const pattern = SAM_PATTERNS.find((candidate) => normalized.match(candidate));
    if (!pattern) throw new OperatorError(`samconfig.toml: parameter_overrides "${item}" is not of SAM's form. Fix: write it as "Name=value" (quote a value with spaces: "Name=\\"a b\\"").`);
    for (const [, name, raw] of normalized.matchAll(pattern)) parameters[unquote(name)] = unquote(raw);
  }
  return parameters;
}

// samconfig.toml's text as the TOML document it is.
function parseSamconfig(text) {
  try {
    return TOML.parse(text);
  } catch (error) {
    throw new OperatorError(`samconfig.toml is not valid TOML (${String(error.message).split('\n')[0]}). Fix: correct the file.`);
  }
}

// The stack name and parameters of `configEnv` in samconfig.toml's text: the deploy command's
// table over the environment's global one, as SAM merges them.
function readSamconfig(text, configEnv) {
  const environment = parseSamconfig(text)[configEnv];
  if (!environment || typeof environment !== 'object') {
    throw new OperatorError(`samconfig.toml has no environment [${configEnv}]. Fix: pass --config-env with one it has.`);
  }
  const tableOf = (command) => (environment[command] && environment[command].parameters) || {};
  const merged = { ...tableOf('global'), ...tableOf('deploy') };
  return { stackName: merged.stack_name || '', parameters: samParameterOverrides(merged.parameter_overrides) };
}

// ---- the bridge's settings -----------------------------------------------------------------

// The parameters (template.yaml's names) that shape the tenant; each can be given as an
// environment variable of the same name.
const PARAMETERS = ['Auth0Domain', 'Auth0Realm', 'Auth0GrantType', 'Auth0Scope', 'Auth0Audience', 'SignInProof',
  'AssertionIssuer', 'AssertionAudience', 'Auth0SubjectTokenType', 'Dpop', 'SecretCacheTtlSeconds'];

// The bridge's settings from `parameters` (template.yaml's names and defaults), `overrides` on top.
function bridgeSettings(parameters, overrides = {}) {
  const get = (name, fallback) => (overrides[name] !== undefined && overrides[name] !== '' ? overrides[name]
    : parameters[name] !== undefined ? parameters[name] : fallback);
  const stackName = get('StackName', 'authsignal-auth0-bridge');
  const realm = get('Auth0Realm', 'authsignal');
  const settings = {
    stackName,
    domain: get('Auth0Domain', ''),
    realm,
    grantType: get('Auth0GrantType', 'password-realm'),
    scope: get('Auth0Scope', 'openid profile email'),
    audience: get('Auth0Audience', ''),
    signInProof: get('SignInProof', 'assertion'),
    // As template.yaml sets ASSERTION_ISSUER and ASSERTION_AUDIENCE: empty names the stack.
    issuer: get('AssertionIssuer', '') || `authsignal-auth0-bridge:${stackName}`,
    assertionAudience: get('AssertionAudience', '') || `${realm}:${stackName}`,
    subjectTokenType: get('Auth0SubjectTokenType', ''),
    dpop: get('Dpop', 'optional'),
    secretCacheTtlSeconds: Number(get('SecretCacheTtlSeconds', '300'))
  };
  settings.wantsRefreshTokens = settings.scope.split(/\s+/).includes('offline_access');
  return settings;
}

const LOOPBACK_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/;

// The tenant's canonical domain (`tenant.us.auth0.com`): the Management API's audience is
// https://{it}/api/v2/, also when users sign in on a custom domain. AUTH0_TENANT_DOMAIN, else
// Auth0Domain's host when it is an Auth0 domain; a custom domain needs AUTH0_TENANT_DOMAIN.
function tenantDomain(domain, environment) {
  if (environment.AUTH0_TENANT_DOMAIN) return environment.AUTH0_TENANT_DOMAIN.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (!domain) throw new OperatorError('no Auth0Domain. Fix: set it in samconfig.toml (or the Auth0Domain variable).');
  const host = domain.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (/\.auth0\.com$/i.test(host.replace(/:\d+$/, '')) || LOOPBACK_HOST.test(host)) return host;
  throw new OperatorError(`Auth0Domain ${host} is a custom domain, and the Management API answers only on the tenant's own domain. ` +
    'Fix: set AUTH0_TENANT_DOMAIN to it (Settings -> Custom Domains shows it, e.g. tenant.us.auth0.com).');
}

// samconfig.toml's environment `configEnv` (SAMCONFIG names another file than the repository's).
function samconfigFor(configEnv, environment) {
  const file = environment.SAMCONFIG || path.join(ROOT, 'samconfig.toml');
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new OperatorError(`cannot read ${file} (${error.code}). Fix: run from the repository, or set SAMCONFIG.`);
  }
  return readSamconfig(text, configEnv);
}

// The settings of this run: samconfig.toml's environment `configEnv`, the deployed stack's
// parameters over them when `stack` was read, the environment's variables of the parameters'
// names over both.
function settingsFrom(configEnv, environment, stack = null) {
  const samconfig = samconfigFor(configEnv, environment);
  const parameters = { ...samconfig.parameters, ...(stack ? stack.parameters : {}), StackName: stack ? stack.name : samconfig.stackName };
  // A deployed stack says what it signs with: its outputs, over what its parameters imply.
  for (const name of ['AssertionIssuer', 'AssertionAudience']) {
    if (stack && stack.outputs[name]) parameters[name] = stack.outputs[name];
  }
  const overrides = Object.fromEntries([...PARAMETERS, 'StackName'].filter((n) => environment[n] !== undefined).map((n) => [n, environment[n]]));
  // The function's own variable name works too.
  if (environment.AUTH0_DOMAIN && overrides.Auth0Domain === undefined) overrides.Auth0Domain = environment.AUTH0_DOMAIN;
  const settings = bridgeSettings(parameters, overrides);
  return {
    ...settings,
    samconfigStackName: samconfig.stackName,
    tenantDomain: tenantDomain(settings.domain, environment),
    clientId: environment.AUTH0_CLIENT_ID || ''
  };
}

// ---- the bridge's public keys --------------------------------------------------------------

// Why `keys` (parsed) cannot be the bridge's public key set, or null: a list of at least one
// Ed25519 public JWK whose kid is its RFC 7638 thumbprint (the kid the bridge signs with).
function publicKeysProblem(keys) {
  if (!Array.isArray(keys) || keys.length === 0) return 'is not a list of keys';
  for (const [index, key] of keys.entries()) {
    if (!key || key.kty !== 'OKP' || key.crv !== 'Ed25519' || typeof key.x !== 'string' || key.d !== undefined) {
      return `entry ${index} is not an Ed25519 public JWK`;
    }
    if (key.kid !== thumbprint(key.x)) return `entry ${index}'s kid is not its RFC 7638 thumbprint`;
  }
  return null;
}

// A key set as the generated code holds it: each key in the form `make signing-key` prints, in
// the order of their kids (so a switch of the signing and standby keys changes no code).
function canonicalKeys(keys) {
  return keys.map(({ x }) => jwkOf(x))
    .sort((a, b) => (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0));
}

// BRIDGE_PUBLIC_KEYS from the environment (by hand: `make signing-key` prints it), checked.
function publicKeysFromEnvironment(text) {
  let keys;
  try {
    keys = JSON.parse(text);
  } catch (error) {
    throw new OperatorError('BRIDGE_PUBLIC_KEYS is not JSON. Fix: give it as `make signing-key` prints it, or use --stack.');
  }
  const problem = publicKeysProblem(keys);
  if (problem) throw new OperatorError(`BRIDGE_PUBLIC_KEYS ${problem}. Fix: give it as \`make signing-key\` prints it, or use --stack.`);
  return canonicalKeys(keys);
}

module.exports = {
  PARAMETERS,
  samParameterOverrides,
  parseSamconfig,
  readSamconfig,
  samconfigFor,
  tenantDomain,
  settingsFrom,
  publicKeysProblem,
  canonicalKeys,
  publicKeysFromEnvironment
};
