// What the tenant commands read: samconfig.toml through a TOML parser, parameter_overrides as
// SAM itself reads them, the canonical tenant domain, and public keys given by hand.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { samParameterOverrides, readSamconfig, tenantDomain, publicKeysFromEnvironment, canonicalKeys } = require('./inputs.js');
const { newKey } = require('../../auth0/support/assertions.js');

// Each: parameter_overrides as samconfig.toml holds it, and what SAM 1.170.0 makes of it
// (samcli.cli.types.CfnParameterOverridesType().convert, run on these very values).
const AS_SAM_READS = [
  [['Auth0Scope=openid profile email offline_access', 'Auth0Domain=x.auth0.com'], { Auth0Scope: 'openid', Auth0Domain: 'x.auth0.com' }],
  ['A=b C="d e" E=f\\ g', { A: 'b', C: 'd e', E: 'f g' }],
  [['A="x y"', "B='p q'"], { A: 'x y', B: 'p q' }],
  ['ParameterKey=A,ParameterValue="1 2" ParameterKey=B,ParameterValue=3', { A: '1 2', B: '3' }],
  [['Auth0Scope="openid profile email offline_access"'], { Auth0Scope: 'openid profile email offline_access' }],
  ['', {}]
];

for (const [value, parsed] of AS_SAM_READS) {
  test(`parameter_overrides ${JSON.stringify(value)} as SAM reads it`, () => {
    assert.deepEqual(samParameterOverrides(value), parsed);
  });
}

test('a parameter_overrides item SAM would refuse is refused, naming it', () => {
  assert.throws(() => samParameterOverrides(['no-equals-sign']), /parameter_overrides "no-equals-sign" is not of SAM's form/);
  assert.throws(() => samParameterOverrides('file://params.yaml'), /names a file/);
});

test('samconfig.toml: the deploy table over the global one, with the string form of parameter_overrides', () => {
  const text = `version = 0.1
[prod.global.parameters]
stack_name = "global-name"
parameter_overrides = "Auth0Realm=global"
[prod.deploy.parameters]
stack_name = "deploy-name"
parameter_overrides = "Auth0Domain=t.eu.auth0.com Auth0Scope=\\"openid offline_access\\""
`;
  assert.deepEqual(readSamconfig(text, 'prod'), {
    stackName: 'deploy-name', parameters: { Auth0Domain: 't.eu.auth0.com', Auth0Scope: 'openid offline_access' }
  });
  assert.throws(() => readSamconfig(text, 'staging'), /has no environment \[staging\]/);
});

test('the canonical tenant domain: an Auth0 domain as it is, a custom domain only with AUTH0_TENANT_DOMAIN', () => {
  assert.equal(tenantDomain('tenant.us.auth0.com', {}), 'tenant.us.auth0.com');
  assert.equal(tenantDomain('https://tenant.eu.auth0.com/', {}), 'tenant.eu.auth0.com');
  assert.throws(() => tenantDomain('login.example.com', {}), /custom domain.*AUTH0_TENANT_DOMAIN/);
  assert.equal(tenantDomain('login.example.com', { AUTH0_TENANT_DOMAIN: 'tenant.us.auth0.com' }), 'tenant.us.auth0.com');
});

test('BRIDGE_PUBLIC_KEYS given by hand: checked (kid = thumbprint), in one canonical order', () => {
  const [a, b] = [newKey(), newKey()];
  const keys = publicKeysFromEnvironment(JSON.stringify([b.jwk, a.jwk]));
  assert.deepEqual(keys, canonicalKeys([a.jwk, b.jwk]), 'the order given does not matter');
  assert.throws(() => publicKeysFromEnvironment('not json'), /BRIDGE_PUBLIC_KEYS is not JSON/);
  assert.throws(() => publicKeysFromEnvironment(JSON.stringify([{ ...a.jwk, kid: 'mine' }])), /kid is not its RFC 7638 thumbprint/);
  assert.throws(() => publicKeysFromEnvironment('[]'), /is not a list of keys/);
});
