// Stacks in moto shaped like the bridge's, for the tests of make deploy, make smoke, tenant.js
// --stack and make rotate-signing-key: the parameters given, the outputs template.yaml has (each handed in as a parameter, since moto
// creates no function or API here), and the secret the template creates, with its placeholders.
// The AWS SDK comes from scripts/auth0-tenant/node_modules (the clients the commands use).
'use strict';
const { createRequire } = require('node:module');
const path = require('node:path');

const sdk = createRequire(path.join(__dirname, '..', '..', 'auth0-tenant', 'package.json'));
const { CloudFormationClient, CreateStackCommand, UpdateStackCommand, DescribeStacksCommand } = sdk('@aws-sdk/client-cloudformation');
const { SecretsManagerClient, CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand } = sdk('@aws-sdk/client-secrets-manager');

const PLACEHOLDERS = { AUTHSIGNAL_SECRET: 'REPLACE_ME', AUTH0_CLIENT_ID: 'REPLACE_ME', AUTH0_CLIENT_SECRET: 'REPLACE_ME', BRIDGE_SIGNING_KEY: 'REPLACE_ME' };

// The SDK's client settings for moto at `environment.AWS_ENDPOINT_URL`.
const config = (environment) => ({
  region: environment.AWS_REGION || 'us-east-1',
  endpoint: environment.AWS_ENDPOINT_URL,
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }
});

const OUTPUT_PREFIX = 'Output';

function template(parameters, outputs, withRestApi) {
  return JSON.stringify({
    AWSTemplateFormatVersion: '2010-09-09',
    Parameters: Object.fromEntries([...Object.keys(parameters), ...Object.keys(outputs).map((n) => OUTPUT_PREFIX + n)].map((p) => [p, { Type: 'String' }])),
    Resources: withRestApi
      ? { BridgeRestApi: { Type: 'AWS::ApiGateway::RestApi', Properties: { Name: 'bridge' } } }
      : { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
    Outputs: Object.fromEntries(Object.keys(outputs).map((n) => [n, { Value: { Ref: OUTPUT_PREFIX + n } }]))
  });
}

const pairs = (values) => Object.entries(values).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue: String(ParameterValue) }));

// The outputs template.yaml gives a stack `name` with these parameters, its API at `base`.
function bridgeOutputs(name, parameters, base, secretArn) {
  const realm = parameters.Auth0Realm || 'authsignal';
  return {
    TokenEndpoint: `${base}/token`,
    RevocationEndpoint: `${base}/revoke`,
    FunctionName: `${name}-bridge`,
    SecretArn: secretArn,
    AssertionIssuer: parameters.AssertionIssuer || `authsignal-auth0-bridge:${name}`,
    AssertionAudience: parameters.AssertionAudience || `${realm}:${name}`,
    DashboardName: `${name}-dashboard`,
    ...(parameters.WebAclArn ? { WebAclArn: parameters.WebAclArn } : {})
  };
}

// Creates the stack `name` (and, unless `secretArn` is given, its secret with the template's
// placeholders); returns {secretArn, outputs}. `base`: where its API answers.
async function createBridgeStack(environment, name, parameters, { base, secretArn, secret = PLACEHOLDERS, restApi = false, outputs = {} } = {}) {
  let arn = secretArn;
  if (!arn) {
    ({ ARN: arn } = await new SecretsManagerClient(config(environment)).send(new CreateSecretCommand({
      Name: `${name}/credentials`, SecretString: JSON.stringify(secret)
    })));
  }
  const allOutputs = { ...bridgeOutputs(name, parameters, base || `https://${name.replace(/[^a-z0-9]/g, '').slice(0, 10)}.execute-api.us-east-1.amazonaws.com/live`, arn), ...outputs };
  await new CloudFormationClient(config(environment)).send(new CreateStackCommand({
    StackName: name,
    TemplateBody: template(parameters, allOutputs, restApi),
    Parameters: pairs({ ...parameters, ...Object.fromEntries(Object.entries(allOutputs).map(([n, v]) => [OUTPUT_PREFIX + n, v])) })
  }));
  return { secretArn: arn, outputs: allOutputs };
}

// The stack's parameters as DescribeStacks gives them (outputs' stand-in parameters left out).
async function stackParameters(environment, name) {
  const answer = await new CloudFormationClient(config(environment)).send(new DescribeStacksCommand({ StackName: name }));
  const stack = answer.Stacks[0];
  const all = Object.fromEntries((stack.Parameters || []).map((p) => [p.ParameterKey, p.ParameterValue]));
  const outputs = Object.fromEntries((stack.Outputs || []).map((o) => [o.OutputKey, o.OutputValue]));
  return { parameters: Object.fromEntries(Object.entries(all).filter(([k]) => !k.startsWith(OUTPUT_PREFIX))), outputs };
}

// Updates the stack's parameters (those not given keep their values, as SAM's deploy does).
async function updateBridgeStack(environment, name, parameters, { restApi = false } = {}) {
  const current = await stackParameters(environment, name);
  const merged = { ...current.parameters, ...parameters };
  const outputs = { ...current.outputs };
  await new CloudFormationClient(config(environment)).send(new UpdateStackCommand({
    StackName: name,
    TemplateBody: template(merged, outputs, restApi),
    Parameters: pairs({ ...merged, ...Object.fromEntries(Object.entries(outputs).map(([n, v]) => [OUTPUT_PREFIX + n, v])) })
  }));
}

async function secretOf(environment, arn) {
  const answer = await new SecretsManagerClient(config(environment)).send(new GetSecretValueCommand({ SecretId: arn }));
  return { secret: JSON.parse(answer.SecretString), versionId: answer.VersionId };
}

async function putSecret(environment, arn, secret) {
  await new SecretsManagerClient(config(environment)).send(new PutSecretValueCommand({ SecretId: arn, SecretString: JSON.stringify(secret) }));
}

module.exports = { sdk, config, createBridgeStack, updateBridgeStack, stackParameters, secretOf, putSecret };
