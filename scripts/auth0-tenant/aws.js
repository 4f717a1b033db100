// What the commands read from (and, for a key rotation, write to) the deployed stack, with the
// AWS SDK for JavaScript v3: the stack's parameters and outputs (CloudFormation DescribeStacks),
// and the bridge's secret (Secrets Manager, the stack output SecretArn), from which the bridge's
// public key set is derived. The private keys never leave this module's callers' memory: no
// function here prints, logs or writes one anywhere but the secret.
//
// Honours AWS_REGION (or AWS_DEFAULT_REGION), AWS_ENDPOINT_URL and the service-specific
// AWS_ENDPOINT_URL_CLOUDFORMATION / AWS_ENDPOINT_URL_SECRETS_MANAGER /
// AWS_ENDPOINT_URL_CLOUDWATCH_LOGS / AWS_ENDPOINT_URL_WAFV2 (tests point them at moto), and the SDK's usual credential chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, a role).
//
// Used by tenant.js (--stack), rotate.js (make rotate-signing-key), and scripts/deploy/
// (make deploy, make smoke), which also read the function's log group (CloudWatch Logs) and the
// web ACL of the API's stage (AWS WAF):
//   readStack(name, environment?)            -> {name, id, status, parameters, outputs}
//   findStack(name, environment?)            -> the same, or null when there is no such stack
//   stackResourceId(stack, logicalId, environment?) -> a resource's physical id, or null
//   logEventsWith(group, phrase, since, environment?) -> [{timestamp, message}] oldest first, or
//                                               null when the log group does not exist
//   webAclOf(resourceArn, environment?)       -> the ARN of the web ACL attached to it, or null
//   regionOf(environment?)                    -> the region the SDK resolves (AWS_REGION, the profile)
//   readBridgeSecret(secretArn, environment?) -> {secret, versionId, createdDate}
//   writeBridgeSecret(secretArn, secret, environment?) -> versionId
//   bridgePublicKeys(secret)                 -> [public JWK], the signing key's first
'use strict';
const crypto = require('node:crypto');
const { CloudFormationClient, DescribeStacksCommand } = require('@aws-sdk/client-cloudformation');
const { SecretsManagerClient, GetSecretValueCommand, PutSecretValueCommand } = require('@aws-sdk/client-secrets-manager');
const { publicJwk } = require('../signing-key.js');
const { OperatorError } = require('./errors.js');

// The secret's fields that hold Ed25519 private keys: the one the bridge signs with, and during a
// rotation the one Auth0 must accept besides (the incoming key before the switch, the outgoing
// one after it).
const SIGNING_KEY = 'BRIDGE_SIGNING_KEY';
const STANDBY_KEY = 'BRIDGE_STANDBY_SIGNING_KEY';

// The SDK client options for `service` from `environment`: its region, and an endpoint when
// one is set for it (the service's own variable first, as the SDKs read them).
function clientOptions(service, environment) {
  const options = { region: environment.AWS_REGION || environment.AWS_DEFAULT_REGION || undefined };
  const endpoint = environment[`AWS_ENDPOINT_URL_${service}`] || environment.AWS_ENDPOINT_URL;
  if (endpoint) options.endpoint = endpoint;
  if (environment.AWS_ACCESS_KEY_ID && environment.AWS_SECRET_ACCESS_KEY) {
    options.credentials = {
      accessKeyId: environment.AWS_ACCESS_KEY_ID,
      secretAccessKey: environment.AWS_SECRET_ACCESS_KEY,
      ...(environment.AWS_SESSION_TOKEN ? { sessionToken: environment.AWS_SESSION_TOKEN } : {})
    };
  }
  return options;
}

// Runs an SDK call; a failure becomes one line: what was being done, AWS's answer, the fix.
async function attempt(what, call) {
  try {
    return await call();
  } catch (error) {
    throw awsFailure(what, error);
  }
}

function awsFailure(what, error) {
  if (error instanceof OperatorError) return error;
  const status = error.$metadata && error.$metadata.httpStatusCode;
  const answer = `${error.name || 'Error'}${status ? ` (${status})` : ''}: ${String(error.message).split('\n')[0]}`;
  return new OperatorError(`${what}: AWS answered ${answer}. ${awsFix(error)}`);
}

function awsFix(error) {
  if (/Credential|ExpiredToken|UnrecognizedClient|InvalidClientTokenId|SignatureDoesNotMatch/i.test(`${error.name} ${error.message}`)) {
    return 'Fix: give AWS credentials that may read the stack (AWS_PROFILE, or the pipeline\'s role).';
  }
  if (/AccessDenied/i.test(error.name)) return 'Fix: use a role allowed this call on the stack and its secret.';
  if (/Region/i.test(error.message)) return 'Fix: set AWS_REGION to the stack\'s region.';
  if (error.code === 'ECONNREFUSED' || /ECONNREFUSED|ENOTFOUND|getaddrinfo/.test(error.message)) {
    return 'Fix: check AWS_REGION and AWS_ENDPOINT_URL.';
  }
  return 'Fix: check the stack name (--stack) and AWS_REGION.';
}

const pairs = (items, key, value) => Object.fromEntries((items || []).map((item) => [item[key], item[value]]));
const stackShape = (stack) => ({
  name: stack.StackName,
  id: stack.StackId,
  status: stack.StackStatus,
  parameters: pairs(stack.Parameters, 'ParameterKey', 'ParameterValue'),
  outputs: pairs(stack.Outputs, 'OutputKey', 'OutputValue')
});

// The deployed stack `name`: its parameters and outputs, each as {Key: value}.
async function readStack(name, environment = process.env) {
  const client = new CloudFormationClient(clientOptions('CLOUDFORMATION', environment));
  const answer = await attempt(`reading the stack ${name}`, () => client.send(new DescribeStacksCommand({ StackName: name })));
  const stack = (answer.Stacks || [])[0];
  if (!stack) throw new OperatorError(`reading the stack ${name}: CloudFormation lists no such stack. Fix: check --stack and AWS_REGION.`);
  return stackShape(stack);
}

// The stack `name` as readStack gives it, or null when CloudFormation has none of that name
// (before the first deployment).
async function findStack(name, environment = process.env) {
  const client = new CloudFormationClient(clientOptions('CLOUDFORMATION', environment));
  try {
    const answer = await client.send(new DescribeStacksCommand({ StackName: name }));
    const stack = (answer.Stacks || [])[0];
    return stack ? stackShape(stack) : null;
  } catch (error) {
    if (error.name === 'ValidationError' && /does not exist/.test(String(error.message))) return null;
    throw awsFailure(`reading the stack ${name}`, error);
  }
}

// The physical id of the stack's resource `logicalId` (the REST API's id, say), or null when the
// stack has no such resource.
async function stackResourceId(stackName, logicalId, environment = process.env) {
  const { DescribeStackResourceCommand } = require('@aws-sdk/client-cloudformation');
  const client = new CloudFormationClient(clientOptions('CLOUDFORMATION', environment));
  try {
    const answer = await client.send(new DescribeStackResourceCommand({ StackName: stackName, LogicalResourceId: logicalId }));
    return (answer.StackResourceDetail && answer.StackResourceDetail.PhysicalResourceId) || null;
  } catch (error) {
    if (error.name === 'ValidationError' && /does not exist/.test(String(error.message))) return null;
    throw awsFailure(`reading the resource ${logicalId} of the stack ${stackName}`, error);
  }
}

// The events of the log group `group` since `since` (ms since the epoch) whose message holds
// `phrase` (CloudWatch Logs' quoted-term filter), oldest first; null when the group does not
// exist (the function never ran).
async function logEventsWith(group, phrase, since, environment = process.env) {
  const { CloudWatchLogsClient, FilterLogEventsCommand } = require('@aws-sdk/client-cloudwatch-logs');
  const client = new CloudWatchLogsClient(clientOptions('CLOUDWATCH_LOGS', environment));
  const events = [];
  let nextToken;
  try {
    for (let pages = 0; pages < 50; pages++) {
      const answer = await client.send(new FilterLogEventsCommand({
        logGroupName: group, filterPattern: `"${phrase.replace(/"/g, '')}"`, startTime: since, nextToken
      }));
      for (const event of answer.events || []) events.push({ timestamp: event.timestamp, message: event.message || '' });
      nextToken = answer.nextToken;
      if (!nextToken) break;
    }
  } catch (error) {
    if (error.name === 'ResourceNotFoundException') return null;
    throw awsFailure(`reading the log group ${group}`, error);
  }
  return events.sort((a, b) => a.timestamp - b.timestamp);
}

// The ARN of the web ACL attached to `resourceArn` (an API Gateway stage), or null.
async function webAclOf(resourceArn, environment = process.env) {
  const { WAFV2Client, GetWebACLForResourceCommand } = require('@aws-sdk/client-wafv2');
  const client = new WAFV2Client(clientOptions('WAFV2', environment));
  try {
    const answer = await client.send(new GetWebACLForResourceCommand({ ResourceArn: resourceArn }));
    return (answer.WebACL && answer.WebACL.ARN) || null;
  } catch (error) {
    if (error.name === 'WAFNonexistentItemException') return null;
    throw awsFailure(`reading the web ACL of ${resourceArn}`, error);
  }
}

// The region the SDK's clients use: AWS_REGION (or AWS_DEFAULT_REGION), else the profile's.
async function regionOf(environment = process.env) {
  const client = new CloudFormationClient(clientOptions('CLOUDFORMATION', environment));
  try {
    return await client.config.region();
  } catch (error) {
    throw new OperatorError(`finding the AWS region: ${String(error.message).split('\n')[0]}. Fix: aws configure (it asks for the region), or set AWS_REGION.`);
  }
}

// The bridge's secret as JSON, with its current version's id and date (when it was written).
async function readBridgeSecret(secretArn, environment = process.env) {
  const client = new SecretsManagerClient(clientOptions('SECRETS_MANAGER', environment));
  const answer = await attempt('reading the bridge\'s secret', () => client.send(new GetSecretValueCommand({ SecretId: secretArn })));
  let secret;
  try {
    secret = JSON.parse(answer.SecretString || '');
  } catch (error) {
    secret = null;
  }
  if (!secret || typeof secret !== 'object' || Array.isArray(secret)) {
    throw new OperatorError('reading the bridge\'s secret: it is not a JSON object. Fix: put the fields docs/by-hand.md lists ("The secret"), or run make deploy (it fills the placeholders).');
  }
  return { secret, versionId: answer.VersionId, createdDate: answer.CreatedDate ? new Date(answer.CreatedDate) : null };
}

// Writes `secret` (every field: Secrets Manager keeps no partial update) as the secret's new
// current version; returns its version id.
async function writeBridgeSecret(secretArn, secret, environment = process.env) {
  const client = new SecretsManagerClient(clientOptions('SECRETS_MANAGER', environment));
  const answer = await attempt('writing the bridge\'s secret', () => client.send(new PutSecretValueCommand({
    SecretId: secretArn, SecretString: JSON.stringify(secret)
  })));
  return answer.VersionId;
}

// The public JWK of the Ed25519 private key in the secret's field `field`.
function publicKeyOf(secret, field) {
  let key;
  try {
    key = crypto.createPrivateKey(String(secret[field]));
  } catch (error) {
    key = null;
  }
  // The message names the field, never its value.
  if (!key || key.asymmetricKeyType !== 'ed25519') {
    throw new OperatorError(`the bridge's secret holds no usable ${field} (an Ed25519 PKCS#8 PEM). ` +
      'Fix: run make deploy, which makes the key and writes it there (by hand: docs/by-hand.md, "The secret").');
  }
  return publicJwk(key);
}

// The bridge's public key set: the public JWKs (kid = RFC 7638 thumbprint) of the key it signs
// with and, during a rotation, of the standby key.
function bridgePublicKeys(secret) {
  const fields = [SIGNING_KEY, ...(secret[STANDBY_KEY] ? [STANDBY_KEY] : [])];
  return fields.map((field) => publicKeyOf(secret, field));
}

module.exports = {
  SIGNING_KEY,
  STANDBY_KEY,
  readStack,
  findStack,
  stackResourceId,
  logEventsWith,
  webAclOf,
  regionOf,
  readBridgeSecret,
  writeBridgeSecret,
  bridgePublicKeys
};
