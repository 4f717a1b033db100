// The Login script and the Token Exchange Action hold the same assertion verification: the
// block of auth0/shared/assertion-verification.js, copied by `make auth0-scripts`.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { withSharedBlock } = require('../scripts/auth0-scripts.js');

const shared = fs.readFileSync(path.join(__dirname, 'shared', 'assertion-verification.js'), 'utf8');

for (const file of ['login.js', 'token-exchange.js']) {
  test(`${file} holds the shared assertion verification unchanged`, () => {
    const text = fs.readFileSync(path.join(__dirname, file), 'utf8');
    assert.equal(withSharedBlock(text, shared, file), text, `run \`make auth0-scripts\`: ${file} differs from the shared block`);
    assert.match(text, /function verifiedClaims\(crypto, keys, jws, expected\)/);
  });
}

test('a copy that drifted is found', () => {
  const text = fs.readFileSync(path.join(__dirname, 'login.js'), 'utf8');
  const drifted = text.replace("claims.iat < now - 120", "claims.iat < now - 1200");
  assert.notEqual(withSharedBlock(drifted, shared, 'login.js'), drifted);
});

test('each copy sends its reader to the source and the command that writes it; the source says to edit it there', () => {
  assert.match(shared, /This file is the source of this block: edit it here, then run `make auth0-scripts`/);
  for (const file of ['login.js', 'token-exchange.js']) {
    const text = fs.readFileSync(path.join(__dirname, file), 'utf8');
    assert.match(text, /A copy of auth0\/shared\/assertion-verification\.js: edit that file, not this block, then\n\s*\/\/ run `make auth0-scripts`/, file);
    assert.doesNotMatch(text, /edit it here/i, `${file} must not tell its reader to edit the copy`);
  }
});
