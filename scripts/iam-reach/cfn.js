// A CloudFormation template as deployed: its parameters, conditions and intrinsic functions
// resolved for one stack, with the names CloudFormation and SAM give the resources it does not
// name itself. Only what the reach check needs: Ref, Fn::Sub, Fn::GetAtt, Fn::If, Fn::Join,
// Fn::Select, Fn::Split, the condition functions, AWS::NoValue, and SAM's function (its
// version, `live` alias and CodeDeploy application and group). No library does this for given
// parameter values and physical names (cfn-lint resolves for linting, not for a deployment).
'use strict';
const crypto = require('node:crypto');
const YAML = require('yaml');

const NO_VALUE = Symbol('AWS::NoValue');

// YAML with CloudFormation's short tags (!Ref, !Sub, ...) read into their long form.
function loadTemplate(text) {
  const doc = YAML.parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) throw new Error(`template does not parse: ${doc.errors[0].message}`);
  const convert = (node) => {
    let value;
    if (YAML.isMap(node)) {
      value = {};
      for (const pair of node.items) value[String(convert(pair.key))] = convert(pair.value);
    } else if (YAML.isSeq(node)) {
      value = node.items.map(convert);
    } else if (YAML.isScalar(node)) {
      value = node.value;
    } else if (node == null) {
      return null;
    } else {
      throw new Error(`unsupported YAML node ${node.constructor.name}`);
    }
    if (!node.tag || !node.tag.startsWith('!')) return value;
    const name = node.tag.slice(1);
    if (name === 'Ref' || name === 'Condition') return { [name]: value };
    if (name === 'GetAtt' && typeof value === 'string') {
      const dot = value.indexOf('.');
      return { 'Fn::GetAtt': [value.slice(0, dot), value.slice(dot + 1)] };
    }
    return { [`Fn::${name}`]: value };
  };
  return convert(doc.contents);
}

// A stable, CloudFormation-looking random part for a generated name.
function suffix(seed, length = 12) {
  return crypto.createHash('sha256').update(seed).digest('hex').toUpperCase().replace(/[^A-Z0-9]/g, '').slice(0, length);
}

// CloudFormation's name for a resource it names itself: <stack>-<logical id>-<random>, cut to
// fit the service's limit.
function generatedName(stackName, logicalId, max = 64) {
  const tail = `-${suffix(stackName + logicalId)}`;
  return `${stackName}-${logicalId}`.slice(0, max - tail.length) + tail;
}

// One deployed stack: `instantiate(template, {stackName, accountId, region, parameters})`.
function instantiate(template, { stackName, accountId, region, partition = 'aws', parameters = {} }) {
  const params = {};
  for (const [name, spec] of Object.entries(template.Parameters || {})) {
    if (name in parameters) params[name] = String(parameters[name]);
    else if ('Default' in spec) params[name] = String(spec.Default);
    else throw new Error(`${stackName}: parameter ${name} has no value`);
  }
  for (const name of Object.keys(parameters)) {
    if (!(name in params)) throw new Error(`${stackName}: the template has no parameter ${name}`);
  }
  const pseudo = {
    'AWS::AccountId': accountId, 'AWS::Region': region, 'AWS::Partition': partition,
    'AWS::StackName': stackName, 'AWS::URLSuffix': 'amazonaws.com', 'AWS::NoValue': NO_VALUE,
    'AWS::StackId': `arn:${partition}:cloudformation:${region}:${accountId}:stack/${stackName}/${suffix(stackName, 8)}`
  };
  const resources = template.Resources || {};
  const conditions = {};
  const conditionOf = (name) => {
    if (!(name in conditions)) {
      if (!(name in (template.Conditions || {}))) throw new Error(`unknown condition ${name}`);
      conditions[name] = null; // cycle guard
      conditions[name] = Boolean(evaluate(template.Conditions[name]));
    }
    if (conditions[name] === null) throw new Error(`condition ${name} refers to itself`);
    return conditions[name];
  };
  const exists = (logicalId) => !resources[logicalId].Condition || conditionOf(resources[logicalId].Condition);

  const arn = (service, rest, withRegion = true, withAccount = true) =>
    `arn:${partition}:${service}:${withRegion ? region : ''}:${withAccount ? accountId : ''}:${rest}`;

  // Names, Ref values and attributes, per resource type.
  const names = {};
  const nameOf = (logicalId) => {
    if (logicalId in names) return names[logicalId];
    const resource = resources[logicalId];
    const props = resource.Properties || {};
    const given = (key) => (props[key] !== undefined ? evaluate(props[key]) : undefined);
    let name;
    switch (resource.Type) {
      case 'AWS::IAM::Role': name = given('RoleName') ?? generatedName(stackName, logicalId, 64); break;
      case 'AWS::IAM::ManagedPolicy': name = given('ManagedPolicyName') ?? generatedName(stackName, logicalId, 128); break;
      case 'AWS::SecretsManager::Secret': name = given('Name') ?? generatedName(stackName, logicalId, 256); break;
      case 'AWS::DynamoDB::Table': name = given('TableName') ?? generatedName(stackName, logicalId, 255); break;
      case 'AWS::Logs::LogGroup': name = given('LogGroupName') ?? generatedName(stackName, logicalId, 512); break;
      case 'AWS::CloudWatch::Alarm': name = given('AlarmName') ?? generatedName(stackName, logicalId, 255); break;
      case 'AWS::CloudWatch::Dashboard': name = given('DashboardName') ?? generatedName(stackName, logicalId, 255); break;
      case 'AWS::S3::Bucket': name = given('BucketName') ?? generatedName(stackName, logicalId, 63).toLowerCase(); break;
      case 'AWS::WAFv2::WebACL': name = given('Name'); break;
      case 'AWS::Serverless::Function':
      case 'AWS::Lambda::Function': name = given('FunctionName') ?? generatedName(stackName, logicalId, 64); break;
      case 'AWS::ApiGateway::Stage':
      case 'AWS::ApiGatewayV2::Stage': name = given('StageName'); break;
      default: name = suffix(stackName + logicalId, 10).toLowerCase();
    }
    names[logicalId] = name;
    return name;
  };
  const ref = (logicalId) => {
    const resource = resources[logicalId];
    const name = nameOf(logicalId);
    switch (resource.Type) {
      case 'AWS::IAM::ManagedPolicy': return `arn:${partition}:iam::${accountId}:policy/${name}`;
      case 'AWS::IAM::OIDCProvider': {
        const url = evaluate(resource.Properties.Url).replace(/^https:\/\//, '');
        return `arn:${partition}:iam::${accountId}:oidc-provider/${url}`;
      }
      case 'AWS::SecretsManager::Secret': return arn('secretsmanager', `secret:${name}-${suffix(name, 6)}`);
      case 'AWS::WAFv2::WebACL': return `${name}|${getAtt(logicalId, 'Id')}|REGIONAL`;
      default: return name;
    }
  };
  const getAtt = (logicalId, attribute) => {
    const resource = resources[logicalId];
    if (!resource) throw new Error(`GetAtt of unknown resource ${logicalId}`);
    const name = nameOf(logicalId);
    const key = `${resource.Type}.${attribute}`;
    switch (key) {
      case 'AWS::IAM::Role.Arn': return `arn:${partition}:iam::${accountId}:role/${name}`;
      case 'AWS::IAM::Role.RoleId': return `AROA${suffix(name, 17)}`;
      case 'AWS::DynamoDB::Table.Arn': return arn('dynamodb', `table/${name}`);
      case 'AWS::Logs::LogGroup.Arn': return arn('logs', `log-group:${name}:*`);
      case 'AWS::S3::Bucket.Arn': return `arn:${partition}:s3:::${name}`;
      case 'AWS::WAFv2::WebACL.Id': return suffix(stackName + logicalId, 32).toLowerCase();
      case 'AWS::WAFv2::WebACL.Arn': return arn('wafv2', `regional/webacl/${name}/${getAtt(logicalId, 'Id')}`);
      case 'AWS::ApiGateway::RestApi.RootResourceId': return suffix(`${stackName}${logicalId}root`, 10).toLowerCase();
      case 'AWS::CloudWatch::Alarm.Arn': return arn('cloudwatch', `alarm:${name}`);
      case 'AWS::Serverless::Function.Arn':
      case 'AWS::Lambda::Function.Arn': return arn('lambda', `function:${name}`);
      default: throw new Error(`GetAtt ${logicalId}.${attribute} (${resource.Type}) is not modelled`);
    }
  };
  const refName = (name) => {
    if (name in pseudo) return pseudo[name];
    if (name in params) return params[name];
    // SAM: <Function>.Alias and <Function>.Version.
    const sam = /^(.+)\.(Alias|Version)$/.exec(name);
    if (sam && resources[sam[1]] && resources[sam[1]].Type === 'AWS::Serverless::Function') {
      const fn = getAtt(sam[1], 'Arn');
      return sam[2] === 'Alias' ? `${fn}:${resources[sam[1]].Properties.AutoPublishAlias}` : `${fn}:1`;
    }
    if (name in resources) {
      if (!exists(name)) throw new Error(`Ref to ${name}, which this stack does not create`);
      return ref(name);
    }
    throw new Error(`Ref to unknown ${name}`);
  };
  const substitute = (text, variables = {}) => text.replace(/\$\{(!?)([^}]+)\}/g, (whole, bang, inner) => {
    if (bang) return `\${${inner}}`;
    if (inner in variables) return String(variables[inner]);
    const dot = inner.indexOf('.');
    if (dot > 0 && !(inner in params) && !(inner in pseudo) && resources[inner.slice(0, dot)]
        && resources[inner.slice(0, dot)].Type !== 'AWS::Serverless::Function') {
      return String(getAtt(inner.slice(0, dot), inner.slice(dot + 1)));
    }
    return String(refName(inner));
  });

  function evaluate(value) {
    if (Array.isArray(value)) return value.map(evaluate).filter((v) => v !== NO_VALUE);
    if (value === null || typeof value !== 'object') return value;
    const keys = Object.keys(value);
    if (keys.length === 1) {
      const [key] = keys;
      const arg = value[key];
      switch (key) {
        case 'Ref': return refName(arg);
        case 'Condition': return conditionOf(arg);
        case 'Fn::GetAtt': {
          const [logicalId, attribute] = Array.isArray(arg) ? arg : arg.split('.');
          return getAtt(logicalId, attribute);
        }
        case 'Fn::Sub': {
          if (typeof arg === 'string') return substitute(arg);
          const variables = {};
          for (const [k, v] of Object.entries(arg[1] || {})) variables[k] = evaluate(v);
          return substitute(arg[0], variables);
        }
        case 'Fn::If': return evaluate(conditionOf(arg[0]) ? arg[1] : arg[2]);
        case 'Fn::Equals': return String(evaluate(arg[0])) === String(evaluate(arg[1]));
        case 'Fn::Not': return !evaluate(arg[0]);
        case 'Fn::And': return arg.every((c) => evaluate(c));
        case 'Fn::Or': return arg.some((c) => evaluate(c));
        case 'Fn::Join': return evaluate(arg[1]).join(arg[0]);
        case 'Fn::Select': return evaluate(arg[1])[Number(evaluate(arg[0]))];
        case 'Fn::Split': return String(evaluate(arg[1])).split(arg[0]);
        default:
          if (key.startsWith('Fn::')) throw new Error(`${key} is not modelled`);
      }
    }
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      const resolved = evaluate(v);
      if (resolved !== NO_VALUE) out[k] = resolved;
    }
    return out;
  }

  const deployed = {};
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (!exists(logicalId)) continue;
    deployed[logicalId] = {
      logicalId,
      type: resource.Type,
      name: nameOf(logicalId),
      ref: resource.Type === 'AWS::Serverless::Function' ? nameOf(logicalId) : ref(logicalId),
      properties: evaluate(resource.Properties || {}),
      arn: (attribute = 'Arn') => getAtt(logicalId, attribute)
    };
  }
  const outputs = {};
  for (const [name, output] of Object.entries(template.Outputs || {})) {
    if (output.Condition && !conditionOf(output.Condition)) continue;
    outputs[name] = evaluate(output.Value);
  }
  return {
    stackName, accountId, region, partition, parameters: params, resources: deployed, outputs,
    stackArn: pseudo['AWS::StackId'],
    condition: conditionOf,
    generatedName: (logicalId, max) => generatedName(stackName, logicalId, max)
  };
}

module.exports = { loadTemplate, instantiate, generatedName };
