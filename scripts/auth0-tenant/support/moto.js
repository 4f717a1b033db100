// moto's server (Secrets Manager and CloudFormation on loopback) for the tests of --stack and
// the key rotation, started as tests/support/moto.rs starts it: the Python of MOTO_PYTHON, else
// the project's .venv (`make tools` installs moto[server] there), one request at a time
// (tests/support/moto_serialized.py). Also: a stack shaped like the bridge's for the commands
// to read (its parameters, and its output SecretArn naming a secret made here).
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { CloudFormationClient, CreateStackCommand } = require('@aws-sdk/client-cloudformation');
const { SecretsManagerClient, CreateSecretCommand, GetSecretValueCommand } = require('@aws-sdk/client-secrets-manager');

const ROOT = path.join(__dirname, '..', '..', '..');

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function listening(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
    socket.on('error', () => resolve(false));
  });
}

// Starts moto: {url, environment (what points the AWS SDK at it), stop}.
async function startMoto() {
  const python = process.env.MOTO_PYTHON || path.join(ROOT, '.venv', 'bin', 'python');
  if (!fs.existsSync(python)) throw new Error(`${python} not found: run \`make tools\` (it installs moto into .venv) or set MOTO_PYTHON`);
  const port = await freePort();
  const child = spawn(python, [path.join(ROOT, 'tests', 'support', 'moto_serialized.py'), '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const started = Date.now();
  while (!(await listening(port))) {
    if (Date.now() - started > 30000) { child.kill(); throw new Error('moto did not start in 30 s'); }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    environment: { AWS_ENDPOINT_URL: url, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' },
    stop: () => new Promise((resolve) => { child.once('exit', resolve); child.kill(); })
  };
}

const clientConfig = (moto) => ({
  region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }
});

// A stack named `name` like the bridge's: `parameters` ({Name: value}, SecretCacheTtlSeconds
// among them if wanted) and the output SecretArn of a new secret holding `secret`. Returns its ARN.
async function bridgeStack(moto, name, secret, parameters = {}) {
  const secrets = new SecretsManagerClient(clientConfig(moto));
  const { ARN } = await secrets.send(new CreateSecretCommand({ Name: `${name}/credentials`, SecretString: JSON.stringify(secret) }));
  const template = {
    AWSTemplateFormatVersion: '2010-09-09',
    Parameters: Object.fromEntries([...Object.keys(parameters), 'SecretArnParameter'].map((p) => [p, { Type: 'String' }])),
    Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
    Outputs: { SecretArn: { Value: { Ref: 'SecretArnParameter' } } }
  };
  await new CloudFormationClient(clientConfig(moto)).send(new CreateStackCommand({
    StackName: name,
    TemplateBody: JSON.stringify(template),
    Parameters: Object.entries({ ...parameters, SecretArnParameter: ARN }).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue: String(ParameterValue) }))
  }));
  return ARN;
}

// The secret's current JSON.
async function secretOf(moto, arn) {
  const answer = await new SecretsManagerClient(clientConfig(moto)).send(new GetSecretValueCommand({ SecretId: arn }));
  return JSON.parse(answer.SecretString);
}

module.exports = { startMoto, bridgeStack, secretOf };
