// The stack parameters `make deploy` hands to `sam deploy`, each with where it came from:
// samconfig.toml's list for the environment (read as SAM reads it), then what this deployment
// keeps of the deployed stack, then the pipeline stack's permissions boundary, then what the
// operator gave on the command line (`make deploy AUTH0_DOMAIN=... AUTHSIGNAL_REGION=eu`, or
// any parameter by its own name). They go to SAM in one file, because a --parameter-overrides
// on SAM's command line replaces samconfig.toml's whole list instead of adding to it.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { samconfigFor } = require('../auth0-tenant/inputs.js');
const { OperatorError } = require('../auth0-tenant/errors.js');

const ROOT = path.join(__dirname, '..', '..');

// Authsignal's regions and their API base URLs (template.yaml's AllowedValues).
const AUTHSIGNAL_REGIONS = {
  us: 'https://api.authsignal.com/v1',
  au: 'https://au.api.authsignal.com/v1',
  eu: 'https://eu.api.authsignal.com/v1'
};

// The function's own variable names an operator may use for a parameter on the command line.
const ALIASES = { AUTH0_DOMAIN: 'Auth0Domain', AUTHSIGNAL_API_URL: 'AuthsignalApiUrl', AUTHSIGNAL_ACTION: 'AuthsignalAction' };

// The tenants' values: a deployed stack keeps them unless the command line gives them (changing
// one points the bridge at another tenant, which should be said, not inherited from an example
// in samconfig.toml).
const KEPT = ['Auth0Domain', 'AuthsignalApiUrl', 'AuthsignalAction'];

// The pipeline stack (deploy/github-deploy-role.yaml) and its boundary output per environment.
const PIPELINE_STACK = 'authsignal-auth0-bridge-pipeline';
const BOUNDARY_OUTPUT = { default: 'StagingPermissionsBoundaryName', prod: 'ProdPermissionsBoundaryName' };

// The parameter names of template.yaml (the keys of its top-level Parameters mapping).
function templateParameters(file = path.join(ROOT, 'template.yaml')) {
  const names = [];
  let inside = false;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (/^Parameters:\s*$/.test(line)) { inside = true; continue; }
    if (/^\S/.test(line)) inside = false;
    const match = inside && line.match(/^ {2}([A-Za-z0-9]+):\s*$/);
    if (match) names.push(match[1]);
  }
  return names;
}

// What the operator gave in the environment (make puts command-line variables there):
// {Name: {value, from}}. AUTHSIGNAL_REGION=us|au|eu names the API URL; any other value is an
// OperatorError.
function commandLine(environment, names) {
  const given = {};
  for (const name of names) {
    if (environment[name] !== undefined) given[name] = { value: environment[name], from: `${name} given` };
  }
  for (const [alias, name] of Object.entries(ALIASES)) {
    if (environment[alias] && !given[name]) given[name] = { value: environment[alias], from: `${alias} given` };
  }
  if (environment.AUTHSIGNAL_REGION && !given.AuthsignalApiUrl) {
    const url = AUTHSIGNAL_REGIONS[String(environment.AUTHSIGNAL_REGION).toLowerCase()];
    if (!url) {
      throw new OperatorError(`AUTHSIGNAL_REGION=${environment.AUTHSIGNAL_REGION} is not an Authsignal region. ` +
        'Fix: AUTHSIGNAL_REGION=us, au or eu (the region of your Authsignal tenant: Settings -> API keys shows its URL).');
    }
    given.AuthsignalApiUrl = { value: url, from: 'AUTHSIGNAL_REGION given' };
  }
  return given;
}

// Whether `domain` is samconfig.toml's shipped example rather than a tenant.
const isExampleDomain = (domain) => /^(https:\/\/)?example[-.]/i.test(String(domain || ''));

// The parameters of this deployment: {values: {Name: value}, sources: {Name: from}, notes: [...],
// problems: [one line each, with its fix]}.
// `stack`: the deployed stack (readStack's shape) or null; `pipeline`: the pipeline stack or null.
function deploymentParameters({ configEnv, environment, stack, pipeline, names }) {
  const samconfig = samconfigFor(configEnv, environment);
  const values = {};
  const sources = {};
  const notes = [];
  const set = (name, value, from) => { values[name] = String(value); sources[name] = from; };
  for (const [name, value] of Object.entries(samconfig.parameters)) {
    if (!names.includes(name)) {
      throw new OperatorError(`samconfig.toml [${configEnv}] sets ${name}, which template.yaml does not have. Fix: remove it from parameter_overrides.`);
    }
    set(name, value, 'samconfig.toml');
  }
  const given = commandLine(environment, names);
  if (stack) {
    for (const name of KEPT) {
      const deployed = stack.parameters[name];
      if (given[name] || deployed === undefined || deployed === values[name]) continue;
      if (values[name] !== undefined) {
        notes.push(`${name}: kept the deployed stack's ${deployed} (samconfig.toml says ${values[name]}; give ${name}=... to change it)`);
      }
      set(name, deployed, 'the deployed stack');
    }
  }
  const boundaryOutput = BOUNDARY_OUTPUT[configEnv];
  const pipelineBoundary = pipeline && boundaryOutput ? pipeline.outputs[boundaryOutput] : '';
  if (pipelineBoundary) {
    set('PermissionsBoundaryName', pipelineBoundary, `the pipeline stack ${pipeline.name}`);
  } else if (stack && stack.parameters.PermissionsBoundaryName && !values.PermissionsBoundaryName) {
    set('PermissionsBoundaryName', stack.parameters.PermissionsBoundaryName, 'the deployed stack');
  }
  for (const [name, { value, from }] of Object.entries(given)) set(name, value, from);

  // What the deployment cannot go on with: refused before anything is built (a dry run names
  // them and goes on).
  const problems = [];
  if (!values.Auth0Domain) {
    problems.push('no Auth0 domain. Fix: make deploy AUTH0_DOMAIN=<your tenant>.<region>.auth0.com (or your custom domain).');
  } else if (isExampleDomain(values.Auth0Domain)) {
    problems.push(`Auth0Domain is samconfig.toml's example (${values.Auth0Domain}), not your tenant. ` +
      'Fix: make deploy AUTH0_DOMAIN=<your tenant>.<region>.auth0.com (Auth0 dashboard -> Settings shows the domain).');
  }
  const apiUrl = values.AuthsignalApiUrl;
  if (apiUrl !== undefined && !Object.values(AUTHSIGNAL_REGIONS).includes(apiUrl)) {
    problems.push(`AuthsignalApiUrl ${apiUrl} is not an Authsignal region's API. Fix: AUTHSIGNAL_REGION=us, au or eu.`);
  }
  return { values, sources, notes, problems, stackName: samconfig.stackName };
}

// The file `sam deploy --parameter-overrides file://...` reads: a mapping of every parameter
// (JSON is YAML; SAM reads such a file only by a .yaml, .yml or .toml name).
function parameterFileText(values) {
  return `${JSON.stringify(values, null, 2)}\n`;
}

module.exports = { PIPELINE_STACK, BOUNDARY_OUTPUT, templateParameters, deploymentParameters, parameterFileText };
