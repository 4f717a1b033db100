#!/usr/bin/env node
// `make signing-key`: a new Ed25519 key for the bridge's assertions, with Node's built-in crypto
// (no package to install), for by-hand use (a deployed stack's key is rotated with
// `make rotate-signing-key`, which reads and writes the stack's secret itself). Prints the two
// values an operator pastes:
//   - BRIDGE_SIGNING_KEY: the private key (PKCS#8 PEM) for the bridge's secret in Secrets
//     Manager, as a JSON string ready to go into the secret's JSON;
//   - BRIDGE_PUBLIC_KEYS: the public JWK(s), for `BRIDGE_PUBLIC_KEYS='...' make auth0-setup`
//     (which writes them into the code Auth0 runs). With --keep '<the current public keys>',
//     the new key is added beside the current ones (a rotation by hand, docs/by-hand.md).
//
// Usage: node scripts/signing-key.js [--keep JSON] [--json]
//        node scripts/signing-key.js --public-of PEM_FILE [--json]
//   --json       one JSON object {"BRIDGE_SIGNING_KEY", "BRIDGE_PUBLIC_KEYS", "kid"} (for scripts)
//   --public-of  prints the public JWK of an existing key instead of making one
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');

// RFC 7638 thumbprint of an Ed25519 JWK (RFC 8037 section 2): the same `kid` the bridge puts in
// its assertions' header.
function thumbprint(x) {
  const canonical = JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x });
  return crypto.createHash('sha256').update(canonical).digest('base64url');
}

// The public JWK of the Ed25519 public key `x` (base64url), as this command prints it and the
// code Auth0 runs lists it.
function jwkOf(x) {
  return { kty: 'OKP', crv: 'Ed25519', x, kid: thumbprint(x), alg: 'EdDSA', use: 'sig' };
}

function publicJwk(privateKey) {
  return jwkOf(crypto.createPublicKey(privateKey).export({ format: 'jwk' }).x);
}

// A new signing key: {pem (the private key, PKCS#8 PEM, for the bridge's secret), jwk (its
// public JWK)}. Also what make deploy and make rotate-signing-key write into a stack's secret.
function newSigningKey() {
  const key = crypto.generateKeyPairSync('ed25519').privateKey;
  return { pem: key.export({ format: 'pem', type: 'pkcs8' }), jwk: publicJwk(key) };
}

function main(argv) {
  const options = { keep: [], json: false, publicOf: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json') options.json = true;
    else if (argv[i] === '--keep') options.keep = parseKeys(argv[++i]);
    else if (argv[i] === '--public-of') options.publicOf = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}; see the usage at the top of ${__filename}`);
  }
  let pem = null;
  let jwk;
  if (options.publicOf) {
    const key = crypto.createPrivateKey(fs.readFileSync(options.publicOf, 'utf8'));
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('the key is not an Ed25519 key');
    jwk = publicJwk(key);
  } else {
    ({ pem, jwk } = newSigningKey());
  }
  const keys = options.keep.filter((kept) => kept.kid !== jwk.kid).concat([jwk]);
  if (options.json) {
    const out = { kid: jwk.kid, BRIDGE_PUBLIC_KEYS: JSON.stringify(keys) };
    if (pem) out.BRIDGE_SIGNING_KEY = pem;
    process.stdout.write(JSON.stringify(out) + '\n');
    return;
  }
  if (pem) {
    process.stdout.write(
      `# A new bridge signing key, kid ${jwk.kid}. The first value is a secret: put it only in\n` +
      '# the bridge\'s secret in Secrets Manager, and do not keep it in a file or a shell history.\n\n' +
      '# BRIDGE_SIGNING_KEY (a field of the secret\'s JSON, value as printed):\n' +
      JSON.stringify(pem) + '\n\n');
  }
  process.stdout.write(
    '# BRIDGE_PUBLIC_KEYS (for BRIDGE_PUBLIC_KEYS=\'...\' make auth0-setup' +
    (options.keep.length ? '; the current keys are kept beside the new one' : '') + '):\n' +
    JSON.stringify(keys) + '\n');
}

function parseKeys(text) {
  let keys;
  try {
    keys = JSON.parse(text);
  } catch (error) {
    throw new Error('--keep takes the current BRIDGE_PUBLIC_KEYS, a JSON array');
  }
  if (!Array.isArray(keys)) throw new Error('--keep takes a JSON array of JWKs');
  return keys;
}

module.exports = { thumbprint, jwkOf, publicJwk, newSigningKey };

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`signing-key: ${error.message}\n`);
    process.exit(2);
  }
}
