// The local demo stack, for the tests of make smoke: the real `bootstrap` binary served over HTTP
// on loopback by `local-api` (tests/support/local_api.rs), as tests/http/stack.py starts it, with
// the stand-ins for Authsignal and Auth0 (scripts/stand-ins/run.js: Auth0's runs the shipped
// Login script with the keys and settings the tenant command published) and moto (Secrets
// Manager, and CloudWatch Logs: the function's log lines are forwarded into the log group
// /aws/lambda/<stack>-bridge, as Lambda would put them). Needs the prebuilt
// target/debug/bootstrap and target/debug/examples/local-api (`make test-http` builds them).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { spawn } = require('node:child_process');
const { sdk, config } = require('./moto-stack.js');
const { freePort } = require('../../auth0-tenant/support/moto.js');

const ROOT = path.join(__dirname, '..', '..', '..');
const LOCAL_API = path.join(ROOT, 'target', 'debug', 'examples', 'local-api');
const BOOTSTRAP = path.join(ROOT, 'target', 'debug', 'bootstrap');

const built = () => fs.existsSync(LOCAL_API) && fs.existsSync(BOOTSTRAP);

// The first line of `stream` that `test` accepts, within `seconds`.
function lineOf(child, stream, test, seconds, what) {
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: stream });
    const timer = setTimeout(() => reject(new Error(`${what} did not start in ${seconds} s`)), seconds * 1000);
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}`)));
    lines.on('line', (line) => { if (test(line)) { clearTimeout(timer); resolve(line); } });
  });
}

// Puts each JSON line of `stream` into the log group as Lambda would; resolves `firstKey` once
// the start-up line with the key's id is in.
function forwardLogs(environment, group, stream) {
  const { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } = sdk('@aws-sdk/client-cloudwatch-logs');
  const logs = new CloudWatchLogsClient(config(environment));
  const streamName = `2026/01/01/[live]${Date.now()}`;
  const ready = (async () => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: group })).catch((error) => {
      if (error.name !== 'ResourceAlreadyExistsException') throw error;
    });
    await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: streamName }));
  })();
  let chain = ready;
  const lines = [];
  let keyLogged;
  const firstKey = new Promise((resolve) => { keyLogged = resolve; });
  readline.createInterface({ input: stream }).on('line', (line) => {
    lines.push(line);
    if (!line.startsWith('{')) return;
    chain = chain.then(() => logs.send(new PutLogEventsCommand({
      logGroupName: group, logStreamName: streamName, logEvents: [{ timestamp: Date.now(), message: line }]
    }))).then(() => { if (/"kid"/.test(line)) keyLogged(); }, () => {});
  });
  return { firstKey, lines };
}

// Starts the stand-ins and the function for the stack `stackName`, whose secret (`secretArn`,
// in moto) the tenant command has filled: {url (the API's base), logs, stop}. `port`: where
// the API answers (the stack's outputs name it before it starts). `functionEnvironment`: the
// function's settings beyond those the stack's parameters imply.
async function startLocalBridge({ environment, stackName, secretArn, port, parameters, clientId, clientSecret, authsignalSecret,
  validToken, publicKeys, functionEnvironment = {} }) {
  const children = [];
  const stop = async () => {
    for (const child of children.reverse()) {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill();
        await exited;
      }
    }
  };
  try {
    const issuer = parameters.AssertionIssuer || `authsignal-auth0-bridge:${stackName}`;
    const audience = parameters.AssertionAudience || `${parameters.Auth0Realm || 'authsignal'}:${stackName}`;
    const standIns = spawn(process.execPath, [path.join(ROOT, 'scripts', 'stand-ins', 'run.js'), '0', '0'], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env, DEMO_AUTHSIGNAL_SECRET: authsignalSecret, DEMO_AUTH0_CLIENT_ID: clientId, DEMO_AUTH0_CLIENT_SECRET: clientSecret,
        DEMO_VALID_TOKEN: validToken, BRIDGE_PUBLIC_KEYS: JSON.stringify(publicKeys), BRIDGE_ISSUER: issuer, BRIDGE_AUDIENCE: audience,
        AUTH0_REALM: parameters.Auth0Realm || 'authsignal'
      }
    });
    children.push(standIns);
    const [, authsignalUrl, auth0Url] = (await lineOf(standIns, standIns.stdout, (line) => line.startsWith('listening '), 15, 'the stand-ins')).split(' ');
    const api = spawn(LOCAL_API, ['--port', String(port)], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        SECRET_ID: secretArn,
        AUTHSIGNAL_API_URL: `${authsignalUrl}/v1`,
        AUTH0_DOMAIN: auth0Url,
        AUTH0_REALM: parameters.Auth0Realm || 'authsignal',
        AUTH0_SCOPE: parameters.Auth0Scope || 'openid profile email',
        ASSERTION_ISSUER: issuer,
        ASSERTION_AUDIENCE: audience,
        AUTHSIGNAL_VERIFICATION_METHODS: 'PASSKEY',
        AWS_ENDPOINT_URL_SECRETS_MANAGER: environment.AWS_ENDPOINT_URL,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_LAMBDA_LOG_FORMAT: 'JSON',
        ...functionEnvironment
      }
    });
    children.push(api);
    const logs = forwardLogs(environment, `/aws/lambda/${stackName}-bridge`, api.stderr);
    const listening = await lineOf(api, api.stdout, (line) => line.startsWith('listening on '), 60, 'local-api');
    return { url: listening.split(' ').pop(), logs, firstKey: logs.firstKey, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

module.exports = { built, startLocalBridge, LOCAL_API };
