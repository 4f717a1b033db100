#!/usr/bin/env node
// `make rotate-signing-key STEP=add|switch|drop`: a rotation of the key the bridge signs its
// assertions with, one command per step, each ending with `make auth0-check` against the stack:
//
//   add     a new Ed25519 key goes into the secret's BRIDGE_STANDBY_SIGNING_KEY, then setup
//           publishes both public keys in the tenant's code (the bridge still signs with the
//           old one);
//   switch  (only once the tenant lists the standby key) the secret's BRIDGE_SIGNING_KEY and
//           BRIDGE_STANDBY_SIGNING_KEY change places: execution environments sign with the new
//           key as their cached secret expires; both stay published;
//   drop    (only once SecretCacheTtlSeconds + 60 s have passed since the secret's current
//           version was written: no execution environment still signs with the standby key,
//           and no assertion made with it is still alive) the standby key leaves the secret,
//           then setup publishes the one key left.
//
//   node scripts/auth0-tenant/rotate.js add|switch|drop [--config-env ENV] [--stack NAME]
// The stack defaults to samconfig.toml's stack_name for ENV. AWS and Management API settings
// as for tenant.js. Exit codes: 0 the step is done and the check passes, 1 the step is done
// and the check reports findings, 2 nothing was done, or the step stopped (one line says where).
'use strict';
const aws = require('./aws.js');
const tenant = require('./tenant.js');
const { samconfigFor } = require('./inputs.js');
const { newSigningKey } = require('../signing-key.js');
const { OperatorError } = require('./errors.js');

const USAGE = 'usage: rotate.js add|switch|drop [--config-env ENV] [--stack NAME]';
// An assertion lives 60 s: after the secret's cache has expired everywhere, the last one made
// with the old key has expired too once this much more has passed.
const ASSERTION_LIFETIME_SECONDS = 60;

function parseArguments(argv) {
  const [step, ...rest] = argv;
  const options = { step, configEnv: 'default', stack: '' };
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--config-env') options.configEnv = rest[++i];
    else if (rest[i] === '--stack') options.stack = rest[++i] || '';
    else throw new OperatorError(`unknown argument ${rest[i]}. Fix: ${USAGE}`);
  }
  if (!['add', 'switch', 'drop'].includes(step)) throw new OperatorError(`${USAGE} (STEP=add, switch or drop)`);
  return options;
}

// The public keys of the secret, by role (the standby one null when there is none).
function keysOf(secret) {
  const [signing, standby = null] = aws.bridgePublicKeys(secret);
  return { signing, standby };
}

// Runs tenant.js `command` against the stack: setup publishes the keys the secret holds now,
// check holds the tenant to them.
function tenantCommand(context, command) {
  return tenant.main([command, '--config-env', context.options.configEnv, '--stack', context.stack.name], context.environment, context.out);
}

async function setupThenCheck(context) {
  await tenantCommand(context, 'setup');
  return tenantCommand(context, 'check');
}

async function add(context) {
  const { secret } = await aws.readBridgeSecret(context.secretArn, context.environment);
  const keys = keysOf(secret);
  if (keys.standby) {
    context.out.write(`The secret holds a standby key already (kid ${keys.standby.kid}): publishing it; ` +
      'then STEP=switch (or STEP=drop to abandon it).\n');
  } else {
    const standby = newSigningKey();
    await aws.writeBridgeSecret(context.secretArn, { ...secret, [aws.STANDBY_KEY]: standby.pem }, context.environment);
    context.out.write(`Added the standby key kid ${standby.jwk.kid} to the secret; publishing it beside kid ${keys.signing.kid}.\n`);
  }
  return setupThenCheck(context);
}

async function switchKeys(context) {
  const { secret } = await aws.readBridgeSecret(context.secretArn, context.environment);
  const keys = keysOf(secret);
  if (!keys.standby) throw new OperatorError('switching the signing key: the secret has no standby key. Fix: run STEP=add first.');
  const published = await tenant.publishedKids(context.options.configEnv, context.environment, context.stack);
  if (!published.includes(keys.standby.kid)) {
    throw new OperatorError(`switching the signing key: the tenant does not list the standby key kid ${keys.standby.kid} yet, ` +
      'so sign-ins with it would fail. Fix: run STEP=add again (it publishes it).');
  }
  await aws.writeBridgeSecret(context.secretArn, { ...secret, [aws.SIGNING_KEY]: secret[aws.STANDBY_KEY], [aws.STANDBY_KEY]: secret[aws.SIGNING_KEY] },
    context.environment);
  const wait = context.ttlSeconds + ASSERTION_LIFETIME_SECONDS;
  context.out.write(`Switched: the bridge signs with kid ${keys.standby.kid} as each execution environment's cached secret expires ` +
    `(SecretCacheTtlSeconds ${context.ttlSeconds} s); kid ${keys.signing.kid} stays published. Run STEP=drop in ${wait} s or later.\n`);
  return tenantCommand(context, 'check');
}

async function drop(context) {
  const { secret, createdDate } = await aws.readBridgeSecret(context.secretArn, context.environment);
  const keys = keysOf(secret);
  if (!keys.standby) throw new OperatorError('dropping the standby key: the secret has none. Fix: nothing to drop (the rotation is complete).');
  if (!createdDate) throw new OperatorError('dropping the standby key: Secrets Manager gave no date for the secret\'s version. Fix: check that the stack\'s secret is a Secrets Manager secret.');
  const safeAt = new Date(createdDate.getTime() + (context.ttlSeconds + ASSERTION_LIFETIME_SECONDS) * 1000);
  if (context.now() < safeAt.getTime()) {
    throw new OperatorError(`dropping the standby key kid ${keys.standby.kid}: too early, the secret changed at ${createdDate.toISOString()} ` +
      `and execution environments may still sign with it until ${safeAt.toISOString()} (SecretCacheTtlSeconds ${context.ttlSeconds} s ` +
      `+ ${ASSERTION_LIFETIME_SECONDS} s). Fix: run STEP=drop again after that.`);
  }
  const kept = { ...secret };
  delete kept[aws.STANDBY_KEY];
  await aws.writeBridgeSecret(context.secretArn, kept, context.environment);
  context.out.write(`Dropped the standby key kid ${keys.standby.kid} from the secret; publishing kid ${keys.signing.kid} alone.\n`);
  return setupThenCheck(context);
}

const STEPS = { add, switch: switchKeys, drop };

// Runs one step; returns its exit code, or throws an OperatorError (exit code 2). `io.now`
// stands in for the clock (tests).
async function main(argv, environment = process.env, out = process.stdout, io = {}) {
  const options = parseArguments(argv);
  const name = options.stack || samconfigFor(options.configEnv, environment).stackName;
  if (!name) throw new OperatorError(`samconfig.toml's [${options.configEnv}] has no stack_name. Fix: --stack NAME (STACK=NAME).`);
  const stack = await aws.readStack(name, environment);
  if (!stack.outputs.SecretArn) throw new OperatorError(`reading the stack ${name}: it has no output SecretArn. Fix: name the bridge's stack.`);
  const ttl = Number(stack.parameters.SecretCacheTtlSeconds);
  const context = {
    options, environment, out, stack, secretArn: stack.outputs.SecretArn,
    ttlSeconds: Number.isFinite(ttl) && stack.parameters.SecretCacheTtlSeconds !== undefined ? ttl : 300,
    now: io.now || Date.now
  };
  return STEPS[options.step](context);
}

module.exports = { main };

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (error) => {
    const message = error instanceof OperatorError ? error.message : `unexpected failure (${error.message}); please report it`;
    process.stderr.write(`rotate-signing-key: ${message}\n`);
    process.exit(2);
  });
}
