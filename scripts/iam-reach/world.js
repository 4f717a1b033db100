// The two environments as the templates deploy them: every principal the pipeline and the
// bridge stacks create (with its policies, boundary and tags), and every resource of each
// environment an attacker could want (with its tags), named as AWS names them.
'use strict';
const { samParameterOverrides } = require('../auth0-tenant/inputs.js');
const { instantiate } = require('./cfn');

const ENVIRONMENTS = [
  // name: the GitHub environment; configEnv: samconfig.toml's; logical: the pipeline stack's
  // logical-id prefix of that environment's resources.
  { name: 'staging', configEnv: 'default', logical: 'Staging' },
  { name: 'prod', configEnv: 'prod', logical: 'Prod' }
];
const REGION = 'us-east-1';
const ONE_ACCOUNT = { staging: '111111111111', prod: '111111111111' };
const TWO_ACCOUNTS = { staging: '111111111111', prod: '222222222222' };

// AWS managed policies a template may attach, as AWS publishes them.
const AWS_MANAGED_POLICIES = {
  'arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited': {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['cloudwatch:DescribeAlarms'], Resource: '*' },
      { Effect: 'Allow', Action: ['sns:Publish'], Resource: 'arn:aws:sns:*:*:CodeDeployTopic_*' },
      { Effect: 'Allow', Action: ['lambda:UpdateAlias', 'lambda:GetAlias', 'lambda:GetProvisionedConcurrencyConfig'], Resource: '*' },
      { Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: 'arn:aws:lambda:*:*:function:CodeDeployHook_*' }
    ]
  }
};

function tagsOf(properties) {
  const tags = properties.Tags;
  if (!tags) return {};
  if (Array.isArray(tags)) return Object.fromEntries(tags.map((t) => [t.Key, String(t.Value)]));
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, String(v)]));
}

// One environment's deploy settings from samconfig.toml.
function environmentSettings(samconfig, environment) {
  const deploy = ((samconfig[environment.configEnv] || {}).deploy || {}).parameters || {};
  // Read as SAM reads them (quotes off: "Name=\"\"" is empty), by the tenant command's reader.
  const overrides = samParameterOverrides(deploy.parameter_overrides || []);
  return { stackName: deploy.stack_name, s3Prefix: deploy.s3_prefix, resolveS3: deploy.resolve_s3 === true, overrides };
}

// Builds the world: `accounts` gives each environment's AWS account (one account: the same).
function buildWorld({ bridgeTemplate, pipelineTemplate, samconfig, accounts = ONE_ACCOUNT }) {
  const oneAccount = accounts.staging === accounts.prod;
  const principals = [];
  const targets = [];
  const policies = { ...AWS_MANAGED_POLICIES }; // ARN -> document
  const boundaryArns = new Set();
  const pipelineStackName = 'authsignal-auth0-bridge-pipeline';
  const settings = Object.fromEntries(ENVIRONMENTS.map((e) => [e.name, environmentSettings(samconfig, e)]));

  // The pipeline stack: one per account.
  const pipelines = {};
  for (const environment of ENVIRONMENTS) {
    const account = accounts[environment.name];
    if (oneAccount && pipelines[ENVIRONMENTS[0].name]) {
      pipelines[environment.name] = pipelines[ENVIRONMENTS[0].name];
      continue;
    }
    const parameters = { GitHubRepository: 'example/authsignal-auth0-bridge' };
    if ((pipelineTemplate.Parameters || {}).Environments) {
      parameters.Environments = oneAccount ? 'staging-and-prod' : environment.name;
    }
    pipelines[environment.name] = instantiate(pipelineTemplate, { stackName: pipelineStackName, accountId: account, region: REGION, parameters });
  }
  const pipelineInstances = [...new Set(Object.values(pipelines))];
  for (const instance of pipelineInstances) {
    for (const resource of Object.values(instance.resources)) {
      if (resource.type === 'AWS::IAM::ManagedPolicy') policies[resource.ref] = resource.properties.PolicyDocument;
    }
  }

  // Each environment's bridge stack, at both edges.
  const bridges = {};
  for (const environment of ENVIRONMENTS) {
    const own = settings[environment.name];
    const pipeline = pipelines[environment.name];
    const boundaryName = own.overrides.PermissionsBoundaryName
      || pipeline.outputs[`${environment.logical}PermissionsBoundaryName`]
      || pipeline.outputs.PermissionsBoundaryName || '';
    const known = new Set(Object.keys(bridgeTemplate.Parameters || {}));
    const parameters = Object.fromEntries(Object.entries(own.overrides).filter(([k]) => known.has(k)));
    parameters.PermissionsBoundaryName = boundaryName;
    bridges[environment.name] = ['waf', 'none'].map((edge) => instantiate(bridgeTemplate, {
      stackName: own.stackName, accountId: accounts[environment.name], region: REGION,
      parameters: { ...parameters, EdgeProtection: edge }
    }));
  }

  const documentsOf = (properties, where) => {
    const documents = [];
    for (const policy of properties.Policies || []) documents.push({ name: policy.PolicyName, policy: policy.PolicyDocument });
    for (const arn of properties.ManagedPolicyArns || []) {
      if (!policies[arn]) throw new Error(`${where}: managed policy ${arn} is not known to the check`);
      documents.push({ name: arn.split('/').pop(), policy: policies[arn] });
    }
    return documents;
  };
  const boundaryOf = (properties, where) => {
    const arn = properties.PermissionsBoundary;
    if (!arn) return null;
    if (!policies[arn]) throw new Error(`${where}: permissions boundary ${arn} is not a policy of the pipeline stack`);
    boundaryArns.add(arn);
    return { arn, name: arn.split('/').pop(), policy: policies[arn] };
  };
  const add = (target) => targets.push({ tags: {}, protected: false, ...target });

  // Pipeline resources: an environment's own (by logical-id prefix), or shared by both.
  for (const instance of pipelineInstances) {
    const account = instance.accountId;
    add({ arn: instance.stackArn, account, env: null, protected: true, label: `the pipeline stack ${instance.stackName}` });
    for (const resource of Object.values(instance.resources)) {
      const environment = ENVIRONMENTS.find((e) => resource.logicalId.startsWith(e.logical));
      const env = environment ? environment.name : null;
      const label = `${env || 'shared'} pipeline ${resource.logicalId}`;
      switch (resource.type) {
        case 'AWS::IAM::Role': {
          const trust = resource.properties.AssumeRolePolicyDocument.Statement;
          const federated = trust.some((s) => s.Principal && s.Principal.Federated);
          const service = trust.map((s) => s.Principal && s.Principal.Service).find(Boolean);
          const arn = resource.arn();
          principals.push({
            id: arn, arn, account, env,
            label: `${env} ${federated ? 'deploy role' : 'execution role'} (${resource.name}${oneAccount ? '' : ` in ${account}`})`,
            kind: federated ? 'deploy' : 'execution', passableTo: service ? [].concat(service) : [],
            identity: documentsOf(resource.properties, resource.logicalId),
            boundary: boundaryOf(resource.properties, resource.logicalId), tags: tagsOf(resource.properties)
          });
          add({ arn, account, env, protected: true, label, tags: tagsOf(resource.properties), role: true });
          break;
        }
        case 'AWS::IAM::ManagedPolicy':
          add({ arn: resource.ref, account, env, protected: true, label });
          break;
        case 'AWS::IAM::OIDCProvider':
          add({ arn: resource.ref, account, env, protected: true, label });
          break;
        case 'AWS::S3::Bucket':
          add({ arn: resource.arn(), account, env, protected: true, label: `${label} (the bucket)`, tags: tagsOf(resource.properties) });
          add({ arn: `${resource.arn()}/${settings[env || 'staging'].s3Prefix || 'artifacts'}/0123456789abcdef`, account, env, label: `${label} (an artifact)`, data: true });
          break;
        default:
      }
    }
  }

  // SAM's own artifact bucket (resolve_s3): one per account and region, shared by every stack
  // deployed from it, each under its s3_prefix.
  const samBucket = (account) => `arn:aws:s3:::aws-sam-cli-managed-default-samclisourcebucket-${account.slice(-6)}abcdef`;
  for (const account of new Set(Object.values(accounts))) {
    if (!ENVIRONMENTS.some((e) => settings[e.name].resolveS3 && accounts[e.name] === account)) continue;
    add({ arn: samBucket(account), account, env: null, protected: true, label: 'SAM\'s managed artifact bucket (the bucket)' });
    add({ arn: `arn:aws:cloudformation:${REGION}:${account}:stack/aws-sam-cli-managed-default/0a1b2c3d`, account, env: null, protected: true, label: 'SAM\'s managed stack aws-sam-cli-managed-default' });
  }
  for (const environment of ENVIRONMENTS) {
    const own = settings[environment.name];
    if (own.resolveS3) {
      add({ arn: `${samBucket(accounts[environment.name])}/${own.s3Prefix}/0123456789abcdef`, account: accounts[environment.name], env: environment.name, label: `${environment.name}'s artifacts in SAM's managed bucket`, data: true });
    }
  }

  // The bridge stacks' resources.
  const seen = new Set();
  for (const environment of ENVIRONMENTS) {
    const env = environment.name;
    for (const instance of bridges[env]) {
      const account = instance.accountId;
      const apigw = (path) => `arn:aws:apigateway:${REGION}::${path}`;
      const once = (target) => {
        if (seen.has(target.arn)) return;
        seen.add(target.arn);
        add({ account, env, ...target });
      };
      // An API (REST or HTTP) at `base`: itself, its `collections`, and its tags.
      const apiTargets = (base, collections, label, tags) => {
        once({ arn: apigw(base), label, tags });
        for (const collection of collections) once({ arn: apigw(`${base}/${collection}`), label: `${label} ${collection}`, tags });
        once({ arn: apigw(`/tags/${encodeURIComponent(apigw(base))}`), label: `${label} (its tags)` });
      };
      once({ arn: instance.stackArn, label: `${env} stack ${instance.stackName}` });
      const restApis = {};
      const httpApis = {};
      for (const resource of Object.values(instance.resources)) {
        if (resource.type === 'AWS::ApiGateway::RestApi') restApis[resource.ref] = tagsOf(resource.properties);
        if (resource.type === 'AWS::ApiGatewayV2::Api') httpApis[resource.ref] = tagsOf(resource.properties);
      }
      for (const resource of Object.values(instance.resources)) {
        const p = resource.properties;
        const label = `${env} ${resource.logicalId}`;
        const tags = tagsOf(p);
        switch (resource.type) {
          case 'AWS::IAM::Role': {
            const arn = resource.arn();
            const boundary = boundaryOf(p, `${env} ${resource.logicalId}`);
            once({ arn, label, tags, role: true, boundary: boundary && boundary.arn });
            if (!principals.some((x) => x.id === arn)) {
              const service = p.AssumeRolePolicyDocument.Statement.map((s) => s.Principal && s.Principal.Service).find(Boolean);
              principals.push({
                id: arn, arn, account, env, label: `${env} ${resource.logicalId} (the stack's role)`, kind: 'stack-role',
                passableTo: service ? [].concat(service) : [], identity: documentsOf(p, label), boundary, tags
              });
            }
            break;
          }
          case 'AWS::SecretsManager::Secret': once({ arn: resource.ref, label, tags }); break;
          case 'AWS::DynamoDB::Table': once({ arn: resource.arn(), label, tags }); break;
          case 'AWS::Logs::LogGroup': {
            const base = `arn:aws:logs:${REGION}:${account}:log-group:${resource.name}`;
            once({ arn: base, label, tags });
            once({ arn: `${base}:*`, label, tags });
            once({ arn: `${base}:log-stream:2026/01/01/[$LATEST]0123456789abcdef`, label: `${label} (a log stream)`, tags });
            break;
          }
          case 'AWS::CloudWatch::Alarm': once({ arn: resource.arn(), label, tags }); break;
          case 'AWS::CloudWatch::Dashboard': once({ arn: `arn:aws:cloudwatch::${account}:dashboard/${resource.name}`, label, tags }); break;
          case 'AWS::WAFv2::WebACL': once({ arn: resource.arn(), label, tags, webAcl: true }); break;
          case 'AWS::Serverless::Function': {
            const arn = resource.arn();
            once({ arn, label, tags });
            once({ arn: `${arn}:${p.AutoPublishAlias || 'live'}`, label: `${label} (its alias)`, tags });
            once({ arn: `${arn}:1`, label: `${label} (a version)`, tags });
            if (p.DeploymentPreference) {
              const application = instance.generatedName('ServerlessDeploymentApplication', 100);
              const group = instance.generatedName(`${resource.logicalId}DeploymentGroup`, 100);
              once({ arn: `arn:aws:codedeploy:${REGION}:${account}:application:${application}`, label: `${label} (its CodeDeploy application)` });
              once({ arn: `arn:aws:codedeploy:${REGION}:${account}:deploymentgroup:${application}/${group}`, label: `${label} (its deployment group)` });
            }
            break;
          }
          case 'AWS::ApiGateway::RestApi':
            apiTargets(`/restapis/${resource.ref}`, ['resources', 'deployments', 'stages', 'authorizers', 'models', 'gatewayresponses'], label, tags);
            break;
          case 'AWS::ApiGateway::Resource':
            once({ arn: apigw(`/restapis/${p.RestApiId}/resources/${resource.ref}`), label, tags: restApis[p.RestApiId] || {} });
            break;
          case 'AWS::ApiGateway::Method': {
            const base = `/restapis/${p.RestApiId}/resources/${p.ResourceId}/methods/${p.HttpMethod}`;
            once({ arn: apigw(base), label, tags: restApis[p.RestApiId] || {} });
            once({ arn: apigw(`${base}/integration`), label: `${label} (its integration)`, tags: restApis[p.RestApiId] || {} });
            break;
          }
          case 'AWS::ApiGateway::Deployment':
            once({ arn: apigw(`/restapis/${p.RestApiId}/deployments/${resource.ref}`), label, tags: restApis[p.RestApiId] || {} });
            break;
          case 'AWS::ApiGateway::Stage': {
            const arn = apigw(`/restapis/${p.RestApiId}/stages/${p.StageName}`);
            once({ arn, label: `${label} (stage ${p.StageName})`, tags: { ...(restApis[p.RestApiId] || {}), ...tags }, restStage: true });
            once({ arn: apigw(`/tags/${encodeURIComponent(arn)}`), label: `${label} (its tags)` });
            break;
          }
          case 'AWS::ApiGatewayV2::Api':
            apiTargets(`/apis/${resource.ref}`, ['routes', 'integrations', 'stages', 'deployments'], label, tags);
            break;
          case 'AWS::ApiGatewayV2::Integration':
            once({ arn: apigw(`/apis/${p.ApiId}/integrations/${resource.ref}`), label, tags: httpApis[p.ApiId] || {} });
            break;
          case 'AWS::ApiGatewayV2::Route':
            once({ arn: apigw(`/apis/${p.ApiId}/routes/${resource.ref}`), label, tags: httpApis[p.ApiId] || {} });
            break;
          case 'AWS::ApiGatewayV2::Stage':
            once({ arn: apigw(`/apis/${p.ApiId}/stages/${p.StageName}`), label: `${label} (stage ${p.StageName})`, tags: { ...(httpApis[p.ApiId] || {}), ...tags } });
            break;
          default:
        }
      }
    }
  }
  for (const principal of principals) {
    if (principal.boundary) boundaryArns.add(principal.boundary.arn);
  }
  return {
    environments: ENVIRONMENTS, accounts, oneAccount, region: REGION, principals, targets, policies,
    boundaryArns: [...boundaryArns], managedPolicyArns: Object.keys(policies).filter((a) => !AWS_MANAGED_POLICIES[a]),
    settings, bridges, pipelines
  };
}

module.exports = { buildWorld, ONE_ACCOUNT, TWO_ACCOUNTS };
