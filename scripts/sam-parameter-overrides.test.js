// scripts/sam-parameter-overrides.py: the deploy workflow hands SAM each environment's
// parameters from samconfig.toml plus its permissions boundary, in one file, because a
// --parameter-overrides on SAM's command line would replace samconfig.toml's list.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const SCRIPT = path.join(__dirname, 'sam-parameter-overrides.py');
// The repository's virtualenv (make tools), whose SAM CLI the script reads the list with.
const PYTHON = process.env.PYTHON || path.join(__dirname, '..', '.venv', 'bin', 'python');
const run = (args) => spawnSync(PYTHON, [SCRIPT, ...args], { encoding: 'utf8' });

test('the repository\'s samconfig.toml plus the boundary, for each environment', () => {
  for (const [configEnv, stack] of [['default', 'staging'], ['prod', 'prod']]) {
    const boundary = `authsignal-auth0-bridge-pipeline-${stack}-boundary`;
    const result = run(['--config-file', path.join(__dirname, '..', 'samconfig.toml'), '--config-env', configEnv,
      `PermissionsBoundaryName=${boundary}`]);
    assert.strictEqual(result.status, 0, result.stderr);
    const parameters = JSON.parse(result.stdout);
    assert.strictEqual(parameters.PermissionsBoundaryName, boundary);
    assert.strictEqual(parameters.Auth0Scope, 'openid profile email offline_access', 'a value with spaces stays whole');
    assert.strictEqual(parameters.EdgeProtection, 'waf');
    assert.ok(parameters.AuthsignalAction, 'samconfig.toml\'s own parameters are all there');
  }
});

test('an argument wins over samconfig.toml; a missing environment or a malformed argument is an error', () => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sam-parameters-'));
  const file = path.join(directory, 'samconfig.toml');
  fs.writeFileSync(file, 'version = 0.1\n[prod.deploy.parameters]\nparameter_overrides = ["A=1", "B=x=y", "C=old", "D=\\"a b\\" E=2"]\n');
  const result = run(['--config-file', file, '--config-env', 'prod', 'C=boundary']);
  assert.strictEqual(result.status, 0, result.stderr);
  // As SAM reads the list: one item may hold several parameters, quotes keep a value whole.
  assert.deepStrictEqual(JSON.parse(result.stdout), { A: '1', B: 'x=y', C: 'boundary', D: 'a b', E: '2' });
  // What SAM refuses (an empty value), refused here too, not passed on as something else.
  fs.writeFileSync(file, 'version = 0.1\n[prod.deploy.parameters]\nparameter_overrides = ["A=1", "C="]\n');
  const refused = run(['--config-file', file, '--config-env', 'prod']);
  assert.notStrictEqual(refused.status, 0);
  assert.match(refused.stderr, /SAM cannot read these parameters/);
  assert.notStrictEqual(run(['--config-file', file, '--config-env', 'staging']).status, 0);
  assert.notStrictEqual(run(['--config-file', file, '--config-env', 'prod', 'no-equals-sign']).status, 0);
});
