#!/usr/bin/env node
// `make auth0-setup` and `make auth0-check`: the bridge's Auth0 tenant, set up and audited
// through the Management API with Auth0's official Node SDK (`auth0` on npm).
//
//   node scripts/auth0-tenant/tenant.js setup [--dry-run] [--config-env ENV] [--stack [NAME]] [--fix-other-applications]
//   node scripts/auth0-tenant/tenant.js check [--config-env ENV] [--stack [NAME]]
//
// setup creates or updates, idempotently: the connection (with assertions: a custom database
// running the shipped Login script with its generated settings block, and no connection
// settings; import mode and sign-ups off, brute-force protection on), the bridge's application
// (exactly its grants, no callback URLs, no cross-origin authentication, the end user's IP
// trusted, rotating and expiring refresh tokens, marked with the stack's name) with the bridge's
// connection and no other, the connection enabled for that application and no other, with
// token exchange the Action (built, then deployed) and its profile, and the API allowing
// offline access when the scope asks for refresh tokens. --dry-run prints the changes and
// writes nothing. It never makes a key, and never changes the keys the tenant's code lists
// unless it is given the bridge's (--stack, or BRIDGE_PUBLIC_KEYS).
// check prints a table of what is unsafe or broken, each with its fix, and exits 1 when any is.
//
// Inputs (docs/by-hand.md, "The tenant", has the whole list): samconfig.toml's parameters for --config-env,
// or with --stack the deployed stack's parameters and outputs (the stack named, or samconfig's
// stack_name), and the bridge's public keys from the stack's secret; each parameter can be given
// as an environment variable of its name; BRIDGE_PUBLIC_KEYS (by hand, instead of --stack);
// AUTH0_TENANT_DOMAIN (the tenant's canonical domain, needed when Auth0Domain is a custom
// domain); AUTH0_MANAGEMENT_CLIENT_ID and AUTH0_MANAGEMENT_CLIENT_SECRET, or
// AUTH0_MANAGEMENT_TOKEN; AUTH0_MANAGEMENT_API_URL (another base URL than
// https://<tenant domain>/api/v2); AUTH0_CLIENT_ID (an application made by hand, adopted);
// STRIP_PROVIDER_PREFIX; with SignInProof=authsignal-token, AUTHSIGNAL_SECRET and
// AUTHSIGNAL_CONNECT_URL; AUTH0_ACTION_BUILD_TIMEOUT_SECONDS and AUTH0_ACTION_BUILD_POLL_MS.
//
// Exit codes: 0 done (check: nothing unsafe or broken), 1 check found something, 2 the command
// could not run (one line on stderr says why and what to do).
'use strict';
const desired = require('./desired.js');
const { settingsFrom, samconfigFor, canonicalKeys, publicKeysFromEnvironment } = require('./inputs.js');
const { connect, requireScopes } = require('./management.js');
const { readTenant, readScopes } = require('./read.js');
const { plan } = require('./plan.js');
const { audit, printTable, FAILING } = require('./audit.js');
const expected = require('./expected.js');
const { OperatorError } = require('./errors.js');

const USAGE = 'usage: tenant.js setup [--dry-run] [--config-env ENV] [--stack [NAME]] [--fix-other-applications] | ' +
  'check [--config-env ENV] [--stack [NAME]]';

function parseArguments(argv) {
  const [command, ...rest] = argv;
  const options = { command, dryRun: false, configEnv: 'default', stack: null, fixOtherApplications: false };
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--dry-run') options.dryRun = true;
    else if (rest[i] === '--fix-other-applications') options.fixOtherApplications = true;
    else if (rest[i] === '--config-env') options.configEnv = rest[++i];
    // --stack NAME, or --stack alone for samconfig.toml's stack_name.
    else if (rest[i] === '--stack') options.stack = rest[i + 1] && !rest[i + 1].startsWith('--') ? rest[++i] : '';
    else throw new OperatorError(`unknown argument ${rest[i]}. Fix: ${USAGE}`);
  }
  if (!['setup', 'check'].includes(command)) throw new OperatorError(USAGE);
  return options;
}

// The deployed stack (its parameters and outputs), when the run was given --stack.
async function deployedStack(options, environment) {
  if (options.stack === null) return null;
  const name = options.stack || samconfigFor(options.configEnv, environment).stackName;
  if (!name) throw new OperatorError(`--stack has no name, and samconfig.toml's [${options.configEnv}] has no stack_name. Fix: --stack NAME.`);
  // Loaded only when asked for, so that a run without --stack needs no AWS SDK or credentials.
  return require('./aws.js').readStack(name, environment);
}

// The bridge's secret's ARN and public keys, from the stack (with assertions: the Authsignal
// token design has no keys).
async function deployedBridge(stack, settings, environment) {
  if (!stack) return null;
  const aws = require('./aws.js');
  const secretArn = stack.outputs.SecretArn;
  if (!secretArn) throw new OperatorError(`reading the stack ${stack.name}: it has no output SecretArn. Fix: name the bridge's stack (--stack).`);
  if (settings.signInProof !== 'assertion') return { stack, secretArn, keys: null };
  const { secret } = await aws.readBridgeSecret(secretArn, environment);
  return { stack, secretArn, keys: aws.bridgePublicKeys(secret) };
}

// Where this run has the bridge's public keys from: BRIDGE_PUBLIC_KEYS (by hand) over the
// stack's secret; null when from neither.
function keySourceFor(environment, bridge) {
  if (environment.BRIDGE_PUBLIC_KEYS) return { keys: publicKeysFromEnvironment(environment.BRIDGE_PUBLIC_KEYS), from: 'BRIDGE_PUBLIC_KEYS' };
  if (bridge && bridge.keys) return { keys: canonicalKeys(bridge.keys), from: `the stack ${bridge.stack.name}'s secret` };
  return null;
}

// How long setup waits for Auth0 to build an Action, and how often it looks.
function buildWait(environment) {
  const seconds = Number(environment.AUTH0_ACTION_BUILD_TIMEOUT_SECONDS || 180);
  const pollMs = Number(environment.AUTH0_ACTION_BUILD_POLL_MS || 2000);
  return { timeoutMs: seconds * 1000, pollMs };
}

async function check(context, out) {
  const rows = audit(context.tenant, context.settings, { keySource: context.keySource, keyFix: context.keyFix });
  printTable(rows, out);
  const failing = rows.filter((r) => FAILING.includes(r.state));
  const warnings = rows.filter((r) => r.state === 'WARNING');
  out.write(failing.length ? `\n${failing.length} finding(s): the tenant is not safe to run the bridge as it is.\n`
    : '\nThe tenant is set up as the bridge needs.\n');
  if (warnings.length) out.write(`${warnings.length} warning(s): see the WARNING rows.\n`);
  return failing.length ? 1 : 0;
}

// What the bridge's secret needs after setup made its application: written into the stack's
// secret with --stack, else named (never printed: the client secret stays in Auth0 and the secret).
async function handOver(application, created, context, out) {
  if (created && context.bridge) {
    const aws = require('./aws.js');
    const { secret } = await aws.readBridgeSecret(context.bridge.secretArn, context.environment);
    await aws.writeBridgeSecret(context.bridge.secretArn, {
      ...secret, AUTH0_CLIENT_ID: application.client_id, AUTH0_CLIENT_SECRET: application.client_secret
    }, context.environment);
    out.write(`\nThe new application's AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET are in the stack's secret (${context.bridge.secretArn}).\n`);
    return;
  }
  out.write('\nFor the bridge\'s secret in Secrets Manager (fields of its JSON):\n');
  out.write(`  AUTH0_CLIENT_ID=${application.client_id}\n`);
  out.write(`  AUTH0_CLIENT_SECRET: the application's client secret (Applications -> "${application.name}" -> Settings)\n`);
}

async function setup(context, options, out) {
  const { settings, tenant } = context;
  const changes = plan(tenant, settings, {
    environment: context.environment, keySource: context.keySource,
    fixOtherApplications: options.fixOtherApplications, buildWait: buildWait(context.environment)
  });
  if (!changes.length) out.write('The tenant already is as the bridge needs: nothing to change.\n');
  for (const change of changes) out.write(`${options.dryRun ? 'would ' : ''}${change.action} ${change.what}: ${change.fields.join(', ')}\n`);
  if (options.dryRun) {
    out.write('\n--dry-run: nothing was written.\n');
    return 0;
  }
  requireScopes(context.scopes, changes.flatMap((change) => change.scopes), 'for the changes above; nothing was written');
  const state = { connection: tenant.connection, application: tenant.application, action: tenant.action };
  for (const change of changes) await change.apply(context.call, state);
  await handOver(state.application, !tenant.application, context, out);
  out.write('\nFor samconfig.toml (parameter_overrides):\n');
  out.write(`  "Auth0Domain=${settings.domain}", "Auth0Realm=${settings.realm}", "Auth0Scope=\\"${settings.scope}\\""`);
  out.write(settings.audience ? `, "Auth0Audience=${settings.audience}"` : '');
  out.write(desired.tokenExchange(settings)
    ? `, "Auth0GrantType=token-exchange", "Auth0SubjectTokenType=${settings.subjectTokenType}"\n` : '\n');
  return 0;
}

// The tenant as `settings` say, read with the scopes it needs checked first.
async function connectAndRead(settings, environment, purpose, io) {
  const { call, scopes } = await connect(settings, environment, io.fetch);
  requireScopes(scopes, readScopes(settings), purpose);
  return { call, scopes, tenant: await readTenant(call, settings) };
}

// The kids of the public keys the tenant's code lists now (a key rotation's own check).
async function publishedKids(configEnv, environment, stack, io = {}) {
  const settings = settingsFrom(configEnv, environment, stack);
  const { tenant } = await connectAndRead(settings, environment, 'to read the tenant', io);
  const code = desired.tokenExchange(settings) ? expected.actionCodeOf(tenant) : expected.loginCodeOf(tenant);
  return (expected.keysIn(code) || []).map((key) => key.kid);
}

// Runs the command; returns its exit code, or throws an OperatorError (exit code 2).
async function main(argv, environment = process.env, out = process.stdout, io = {}) {
  const options = parseArguments(argv);
  const stack = await deployedStack(options, environment);
  const settings = settingsFrom(options.configEnv, environment, stack);
  const bridge = await deployedBridge(stack, settings, environment);
  const keySource = keySourceFor(environment, bridge);
  const { call, scopes, tenant } = await connectAndRead(settings, environment,
    `to read the tenant${options.command === 'setup' ? '; nothing was written' : ''}`, io);
  const keyFix = `make auth0-setup STACK=${settings.stackName}`;
  const context = { settings, environment, bridge, keySource, keyFix, call, scopes, tenant };
  return options.command === 'check' ? check(context, out) : setup(context, options, out);
}

module.exports = { main, parseArguments, publishedKids };

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (error) => {
    // One line: an OperatorError says what to do; anything else is a bug of this tool, named so.
    const message = error instanceof OperatorError ? error.message : `unexpected failure (${error.message}); please report it`;
    process.stderr.write(`auth0 tenant: ${message}\n`);
    process.exit(2);
  });
}
