#!/usr/bin/env node
// `make deploy`: the first deployment and every later one, in one idempotent command. Each value
// a step produces is handed to the next here, never by the operator:
//   1. what to deploy: samconfig.toml's parameters for the environment, the values given on the
//      command line (AUTH0_DOMAIN=..., AUTHSIGNAL_REGION=us|au|eu, or any parameter by its own
//      name), what the deployed stack keeps, and the pipeline stack's permissions boundary when
//      there is one; then, asked once up front so the rest runs unattended, the Management API
//      application's credentials and (when the stack's secret lacks it) the Authsignal secret key;
//   2. sam build;
//   3. sam deploy, the parameters in one file (SAM replaces samconfig.toml's whole list when
//      --parameter-overrides is given);
//   4. the stack's outputs read back;
//   5. the secret: a new Ed25519 signing key when it has none (made and written here, never
//      printed, never in a file) and the Authsignal secret key when it has none;
//   6. the Auth0 tenant: `tenant.js setup --stack` (it publishes the bridge's public key, and
//      writes the Auth0 application's client id and secret into the secret when it creates it);
//   7. the smoke check (scripts/deploy/smoke.js).
// With --dry-run (or DRY_RUN=1) it reads (AWS, the tenant) but writes nothing: it prints each
// step, the SAM commands it would run, and the tenant's changes.
//
//   node scripts/deploy/deploy.js [--config-env ENV] [--stack NAME] [--dry-run]
// Environment: AUTHSIGNAL_SECRET (the Authsignal secret key, for pipelines; else asked without
// echo when the secret lacks it); AUTH0_MANAGEMENT_CLIENT_ID and AUTH0_MANAGEMENT_CLIENT_SECRET,
// or AUTH0_MANAGEMENT_TOKEN (else asked); the parameters (above); PIPELINE_STACK (the pipeline
// stack's name, default authsignal-auth0-bridge-pipeline); SAM (the SAM CLI to run, default
// `sam`); TOKEN and SMOKE_LOG_WAIT_SECONDS for the smoke check; the AWS SDK's usual variables.
// Exit codes: 0 deployed and every smoke check passed (a dry run: every step printed), 1 deployed
// but a smoke check failed, 2 a step failed or refused: one line on stderr says which step, what
// was answered and the fix; the steps before it stay done and running it again continues.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const aws = require('../auth0-tenant/aws.js');
const tenant = require('../auth0-tenant/tenant.js');
const { samconfigFor, settingsFrom, PARAMETERS } = require('../auth0-tenant/inputs.js');
const { connect, requireScopes } = require('../auth0-tenant/management.js');
const { readTenant, readScopes } = require('../auth0-tenant/read.js');
const { OperatorError } = require('../auth0-tenant/errors.js');
const { templateParameters, deploymentParameters, parameterFileText, PIPELINE_STACK, BOUNDARY_OUTPUT } = require('./parameters.js');
const { secretNeeds, fillSecret, filled } = require('./secret.js');
const { newSigningKey } = require('../signing-key.js');
const { managementCredentials } = require('./credentials.js');
const { ask } = require('./prompt.js');
const smoke = require('./smoke.js');

const ROOT = path.join(__dirname, '..', '..');
const USAGE = 'usage: deploy.js [--config-env ENV] [--stack NAME] [--dry-run]';
const STEPS = 7;

function parseArguments(argv, environment) {
  const options = { configEnv: 'default', stack: '', dryRun: /^(1|true|yes)$/i.test(environment.DRY_RUN || '') };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--dry-run') options.dryRun = true;
    else if (argv[i] === '--config-env') options.configEnv = argv[++i];
    else if (argv[i] === '--stack') options.stack = argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[++i] : '';
    else throw new OperatorError(`unknown argument ${argv[i]}. Fix: ${USAGE}`);
  }
  return options;
}

// Each step's heading, and the step an error belongs to (named in its one line).
function stepper(out) {
  const state = { current: null };
  return {
    state,
    begin(number, title) {
      state.current = `step ${number}/${STEPS} (${title})`;
      out.write(`\n== ${number}/${STEPS} ${title}\n`);
    }
  };
}

// Runs the SAM CLI with the terminal attached; a failure is one line with its fix.
function runSam(args, context) {
  const sam = context.environment.SAM || 'sam';
  const environment = Object.fromEntries(Object.entries(context.environment).filter(([, value]) => value !== undefined));
  const result = spawnSync(sam, args, { cwd: ROOT, env: environment, stdio: 'inherit' });
  if (result.error && result.error.code === 'ENOENT') {
    throw new OperatorError(`running ${sam}: not found. Fix: run it as make deploy (it installs the SAM CLI into .venv/ first), or make sam-tools.`);
  }
  if (result.status !== 0) {
    const fix = args[0] === 'build'
      ? 'read the build output above (make sam-tools installs the arm64 Rust target and cargo-lambda)'
      : 'read the stack events above (aws cloudformation describe-stack-events), fix the cause, and run make deploy again';
    throw new OperatorError(`sam ${args[0]} exited with ${result.status === null ? result.signal : result.status}. Fix: ${fix}.`);
  }
}

const command = (args) => ['sam', ...args].map((arg) => (/[\s"']/.test(arg) ? JSON.stringify(arg) : arg)).join(' ');

// Step 1: the parameters, and the inputs only the operator has, asked now.
async function plan(context) {
  const { options, environment, out } = context;
  out.write(`AWS region: ${await aws.regionOf(environment)}\n`);
  context.stack = await aws.findStack(context.stackName, environment);
  if (context.stack && /^(ROLLBACK_COMPLETE|ROLLBACK_FAILED|DELETE_FAILED)$/.test(context.stack.status)) {
    throw new OperatorError(`the stack ${context.stackName} is ${context.stack.status} (a first creation that failed, or a failed deletion), ` +
      `which CloudFormation cannot update. Fix: read why (aws cloudformation describe-stack-events --stack-name ${context.stackName}), ` +
      `delete it (aws cloudformation delete-stack --stack-name ${context.stackName}), wait for it to go, then make deploy again.`);
  }
  const pipelineName = environment.PIPELINE_STACK || PIPELINE_STACK;
  const pipeline = BOUNDARY_OUTPUT[options.configEnv] ? await aws.findStack(pipelineName, environment) : null;
  const parameters = deploymentParameters({ configEnv: options.configEnv, environment, stack: context.stack, pipeline, names: templateParameters() });
  context.parameters = parameters;
  if (parameters.problems.length && !options.dryRun) throw new OperatorError(parameters.problems[0]);
  out.write(context.stack ? `The stack ${context.stackName} exists (${context.stack.status}): this deployment updates it.\n`
    : `The stack ${context.stackName} does not exist yet: this deployment creates it.\n`);
  out.write(pipeline ? `The pipeline stack ${pipelineName} exists: the stack's roles get its permissions boundary.\n`
    : `No pipeline stack (${pipelineName}): no permissions boundary unless one is given.\n`);
  out.write('Parameters for sam deploy (each with where it comes from):\n');
  const width = Math.max(...Object.entries(parameters.values).map(([name, value]) => name.length + value.length + 1));
  for (const [name, value] of Object.entries(parameters.values)) out.write(`  ${`${name}=${value}`.padEnd(width)}  (${parameters.sources[name]})\n`);
  for (const note of parameters.notes) out.write(`  note: ${note}\n`);
  for (const problem of parameters.problems) stopsHere(context, problem);
  context.signInProof = parameters.values.SignInProof || (context.stack && context.stack.parameters.SignInProof) || 'assertion';

  // What the secret lacks, so the Authsignal key is asked for now, not after the build.
  const secretArn = context.stack && context.stack.outputs.SecretArn;
  context.secretBefore = secretArn ? (await aws.readBridgeSecret(secretArn, environment)).secret : null;
  context.needs = secretNeeds(context.secretBefore || {}, context.signInProof);
  if (context.needs.authsignal && !options.dryRun) context.authsignalSecret = await authsignalSecret(context);
  const credentials = await managementCredentials(environment, context.io, { required: !options.dryRun });
  Object.assign(environment, credentials);
  if (!options.dryRun) {
    context.tenantSettings = settingsFrom(options.configEnv, tenantEnvironment(context), null);
    await checkManagementApi(context);
  }
}

// A dry run's record of what the real run would refuse: printed where it is found, and again
// at the end.
function stopsHere(context, problem) {
  context.problems.push(`${context.steps.state.current}: ${problem}`);
  context.out.write(`  the real run would stop here: ${problem}\n`);
}

// The Authsignal secret key: AUTHSIGNAL_SECRET (pipelines), else asked without echo.
async function authsignalSecret(context) {
  const given = context.environment.AUTHSIGNAL_SECRET;
  if (given !== undefined && given.trim() !== '') return given.trim();
  return (context.io.ask || ask)('Authsignal secret key (Authsignal portal -> Settings -> API keys; not shown): ',
    { hidden: true, variable: 'AUTHSIGNAL_SECRET', input: context.io.input, output: context.io.prompts });
}

// The Management API answers these credentials with the read scopes, checked before the long
// build so that a typo costs seconds.
async function checkManagementApi(context) {
  const { scopes } = await connect(context.tenantSettings, context.environment, context.io.fetch);
  requireScopes(scopes, readScopes(context.tenantSettings), 'to read the tenant; nothing was written');
  context.out.write(`The Management API of ${context.tenantSettings.tenantDomain} answers these credentials.\n`);
}

// The environment the tenant command reads: this deployment's parameters under their names
// (they win over samconfig.toml's and the stack's), and the stack's name.
function tenantEnvironment(context, extra = {}) {
  const chosen = Object.fromEntries(PARAMETERS.filter((name) => context.parameters.values[name] !== undefined)
    .map((name) => [name, context.parameters.values[name]]));
  return { ...context.environment, ...chosen, StackName: context.stackName, ...extra };
}

async function build(context) {
  const args = ['build', '--config-env', context.options.configEnv];
  if (context.options.dryRun) { context.out.write(`would run: ${command(args)}\n`); return; }
  context.out.write(`running: ${command(args)}\n`);
  runSam(args, context);
}

async function deployStack(context) {
  const { options, out } = context;
  const directory = options.dryRun ? path.join(os.tmpdir(), 'bridge-deploy-XXXXXX') : fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-deploy-'));
  const file = path.join(directory, 'parameters.yaml');
  const args = ['deploy', '--config-env', options.configEnv, ...(options.stack ? ['--stack-name', context.stackName] : []),
    '--parameter-overrides', `file://${file}`, '--no-progressbar'];
  if (options.dryRun) {
    out.write(`would write the parameters of step 1 to a file and run: ${command(args)}\n`);
    return;
  }
  fs.writeFileSync(file, parameterFileText(context.parameters.values), { mode: 0o600 });
  out.write(`running: ${command(args)}\n`);
  try {
    runSam(args, context);
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

async function readOutputs(context) {
  const { out } = context;
  if (context.options.dryRun && !context.stack) {
    out.write('would read the new stack\'s outputs (TokenEndpoint, RevocationEndpoint, SecretArn, AssertionIssuer, AssertionAudience, ...)\n');
    return;
  }
  if (!context.options.dryRun) context.stack = await aws.readStack(context.stackName, context.environment);
  const shown = ['TokenEndpoint', 'RevocationEndpoint', 'SignUpEndpoint', 'SecretArn', 'AssertionIssuer', 'AssertionAudience', 'WebAclArn', 'DashboardName'];
  for (const name of shown) if (context.stack.outputs[name]) out.write(`  ${name}: ${context.stack.outputs[name]}\n`);
  if (!context.stack.outputs.SecretArn) {
    throw new OperatorError(`reading the stack ${context.stackName}: it has no output SecretArn (status ${context.stack.status}). Fix: check that the deploy succeeded, and run make deploy again.`);
  }
}

// What the secret step does about each field, as one line each.
function secretPlan(context) {
  const { needs } = context;
  const given = context.environment.AUTHSIGNAL_SECRET ? 'taken from AUTHSIGNAL_SECRET' : 'asked on the terminal, not shown';
  return [
    needs.signingKey ? `BRIDGE_SIGNING_KEY: ${needs.signingKey}: a new Ed25519 key, made here and written straight into the secret (never shown)`
      : context.signInProof === 'authsignal-token' ? 'BRIDGE_SIGNING_KEY: not needed (SignInProof=authsignal-token)' : 'BRIDGE_SIGNING_KEY: present, kept',
    needs.authsignal ? `AUTHSIGNAL_SECRET: missing: the Authsignal secret key, ${given}` : 'AUTHSIGNAL_SECRET: present, kept',
    needs.auth0 ? 'AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET: missing: the tenant step writes them when it creates the Auth0 application'
      : 'AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET: present, kept'
  ];
}

async function fill(context) {
  const { out, options } = context;
  // Read once, after the deploy (which may have just created it): the plan printed below and
  // the write are both of this value.
  const secret = options.dryRun ? null : (await aws.readBridgeSecret(context.stack.outputs.SecretArn, context.environment)).secret;
  if (secret) context.needs = secretNeeds(secret, context.signInProof);
  for (const line of secretPlan(context)) out.write(`  ${line}\n`);
  if (options.dryRun) {
    out.write(context.needs.signingKey || context.needs.authsignal ? 'would write those into the secret, in one new version\n' : 'nothing to write\n');
    return;
  }
  const done = await fillSecret(context.stack.outputs.SecretArn, secret, context.signInProof,
    async () => context.authsignalSecret || authsignalSecret(context), context.environment);
  out.write(done.written.length ? `wrote ${done.written.join(' and ')} into the secret (version ${done.versionId})` +
    `${done.kid ? `; the bridge signs with kid ${done.kid}` : ''}\n` : 'nothing to write: the secret has both\n');
}

// The public keys the dry run's tenant preview publishes: the secret's, or (when deploy would
// make the key) one made in memory for the preview only.
function previewKeys(context) {
  if (context.signInProof === 'authsignal-token') return {};
  if (!context.needs.signingKey) return { BRIDGE_PUBLIC_KEYS: JSON.stringify(aws.bridgePublicKeys(context.secretBefore)) };
  const { pem } = newSigningKey();
  return { BRIDGE_PUBLIC_KEYS: JSON.stringify(aws.bridgePublicKeys({ [aws.SIGNING_KEY]: pem })) };
}

async function setUpTenant(context) {
  const { out, options } = context;
  if (options.dryRun) {
    if (context.parameters.problems.length) {
      out.write(`would run: tenant.js setup --config-env ${options.configEnv} --stack ${context.stackName} ` +
        '(its changes are not shown: the parameters of step 1 are not yet right)\n');
      return;
    }
    if (!context.environment.AUTH0_MANAGEMENT_TOKEN && !(context.environment.AUTH0_MANAGEMENT_CLIENT_ID && context.environment.AUTH0_MANAGEMENT_CLIENT_SECRET)) {
      out.write(`would run: tenant.js setup --config-env ${options.configEnv} --stack ${context.stackName} ` +
        '(its changes are not shown: no Management API credentials; set AUTH0_MANAGEMENT_CLIENT_ID and AUTH0_MANAGEMENT_CLIENT_SECRET)\n');
      return;
    }
    out.write(`would run: tenant.js setup --config-env ${options.configEnv} --stack ${context.stackName}; what it would change` +
      `${context.needs.signingKey ? ' (the public key: of a key made in memory for this preview; the real run makes its own)' : ''}:\n`);
    const outputs = context.stack ? context.stack.outputs : {};
    const extra = { ...previewKeys(context), ...(outputs.AssertionIssuer ? { AssertionIssuer: outputs.AssertionIssuer } : {}),
      ...(outputs.AssertionAudience ? { AssertionAudience: outputs.AssertionAudience } : {}) };
    try {
      await tenant.main(['setup', '--dry-run', '--config-env', options.configEnv], tenantEnvironment(context, extra), indented(out), context.io);
    } catch (error) {
      if (!(error instanceof OperatorError)) throw error;
      stopsHere(context, error.message);
    }
    return;
  }
  const code = await tenant.main(['setup', '--config-env', options.configEnv, '--stack', context.stackName], context.environment, indented(out), context.io);
  if (code !== 0) throw new OperatorError(`the tenant setup exited with ${code}. Fix: read its output above, and run make deploy again.`);
  await completeAuth0Credentials(context);
}

// When the secret still lacks the Auth0 application's credentials (setup found the application
// made by an earlier run, or by hand, and so wrote nothing): read them from the tenant when the
// Management API token may (read:client_keys), else say how to put them there.
async function completeAuth0Credentials(context) {
  const secretArn = context.stack.outputs.SecretArn;
  const { secret } = await aws.readBridgeSecret(secretArn, context.environment);
  if (filled(secret.AUTH0_CLIENT_ID) && filled(secret.AUTH0_CLIENT_SECRET)) return;
  const settings = settingsFrom(context.options.configEnv, context.environment, context.stack);
  const { call, scopes } = await connect(settings, context.environment, context.io.fetch);
  const { application } = await readTenant(call, settings);
  const readable = application && application.client_secret && (!scopes || scopes.includes('read:client_keys'));
  if (!readable) {
    throw new OperatorError(`the stack's secret lacks AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET, and the Auth0 application ` +
      `"${application ? application.name : settings.stackName}" exists already, so setup did not write them. Fix: grant read:client_keys ` +
      'to the Management API application and run make deploy again (it copies them), or put them into the secret by hand (docs/by-hand.md, "The secret").');
  }
  await aws.writeBridgeSecret(secretArn, { ...secret, AUTH0_CLIENT_ID: application.client_id, AUTH0_CLIENT_SECRET: application.client_secret }, context.environment);
  context.out.write(`  copied the application's AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET from the tenant into the secret\n`);
}

// Another command's output, indented under the step.
function indented(out) {
  let atStart = true;
  return {
    write(chunk) {
      const text = String(chunk).replace(/\n(?!$)/g, '\n  ');
      out.write(`${atStart ? '  ' : ''}${text}`);
      atStart = text.endsWith('\n');
    }
  };
}

async function smokeCheck(context) {
  const args = ['--config-env', context.options.configEnv, '--stack', context.stackName];
  if (context.options.dryRun) {
    context.out.write(`would run: make smoke (node scripts/deploy/smoke.js ${args.join(' ')}): GET 405, a junk token 400 invalid_grant, ` +
      'a junk revocation 200, the start-up log line\'s kid listed by the tenant, make auth0-check, the web ACL on the stage\n');
    return 0;
  }
  return (context.io.smoke || smoke.main)(args, context.environment, context.out, context.io);
}

// Runs the command; returns the exit code, or throws an OperatorError (exit code 2) whose
// message names the step.
async function main(argv, environment = process.env, out = process.stdout, io = {}) {
  const options = parseArguments(argv, environment);
  const stackName = options.stack || samconfigFor(options.configEnv, environment).stackName;
  if (!stackName) throw new OperatorError(`samconfig.toml's [${options.configEnv}] has no stack_name. Fix: STACK=NAME.`);
  const steps = stepper(out);
  const context = { options, stackName, environment: { ...environment }, out, io, steps, problems: [] };
  out.write(`make deploy${options.dryRun ? ' --dry-run' : ''}: the stack ${stackName}, samconfig.toml [${options.configEnv}]` +
    `${options.dryRun ? '. A dry run: it reads AWS and the tenant, prints every step, and writes nothing' : ''}\n`);
  const run = [
    ['what to deploy', plan], ['build', build], [`deploy the stack ${stackName}`, deployStack], ['read the stack\'s outputs', readOutputs],
    ['the secret', fill], ['the Auth0 tenant', setUpTenant]
  ];
  try {
    for (const [index, [title, step]] of run.entries()) {
      steps.begin(index + 1, title);
      await step(context);
    }
    steps.begin(STEPS, 'smoke check');
    const code = await smokeCheck(context);
    if (context.problems.length) {
      out.write(`\nThe real run would stop at:\n${context.problems.map((problem) => `  ${problem}\n`).join('')}`);
    }
    out.write(options.dryRun ? '\n--dry-run: nothing was written.\n'
      : code === 0 ? `\nDeployed: ${context.stack.outputs.TokenEndpoint} is ready (docs/deploying.md, "Hand over to the app team").\n`
        : '\nDeployed, but the smoke check failed: fix the FAIL rows above, then make smoke (or make deploy again).\n');
    return code;
  } catch (error) {
    if (error instanceof OperatorError && steps.state.current) error.message = `${steps.state.current}: ${error.message}`;
    throw error;
  }
}

module.exports = { main, parseArguments };

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (error) => {
    const message = error instanceof OperatorError ? error.message : `unexpected failure (${error.message}); please report it`;
    process.stderr.write(`deploy: ${message}\n`);
    process.exit(2);
  });
}
