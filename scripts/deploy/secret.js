// The bridge's secret as `make deploy` fills it: the stack creates it with placeholders
// ("REPLACE_ME"); deploy makes the signing key when there is none and takes the Authsignal secret
// key from the operator when there is none, and writes both in one new version. Nothing here
// prints, logs or writes a value of the secret anywhere but the secret: only field names, key
// ids (public) and version ids.
'use strict';
const crypto = require('node:crypto');
const aws = require('../auth0-tenant/aws.js');
const { newSigningKey } = require('../signing-key.js');

const PLACEHOLDER = 'REPLACE_ME';

// Whether `value` is a value at all (not missing, empty or the stack's placeholder).
const filled = (value) => typeof value === 'string' && value.trim() !== '' && value !== PLACEHOLDER;

// Why the secret's signing key cannot sign ('missing' or 'unusable'), or null when it can.
function signingKeyProblem(secret) {
  if (!filled(secret[aws.SIGNING_KEY])) return 'missing';
  try {
    const key = crypto.createPrivateKey(secret[aws.SIGNING_KEY]);
    return key.asymmetricKeyType === 'ed25519' ? null : 'unusable';
  } catch (error) {
    return 'unusable';
  }
}

// What the secret lacks, by field: {signingKey: 'missing'|'unusable'|null, authsignal: bool,
// auth0: bool}. With SignInProof=authsignal-token the bridge signs nothing and needs no key.
function secretNeeds(secret, signInProof) {
  return {
    signingKey: signInProof === 'authsignal-token' ? null : signingKeyProblem(secret),
    authsignal: !filled(secret.AUTHSIGNAL_SECRET),
    auth0: !filled(secret.AUTH0_CLIENT_ID) || !filled(secret.AUTH0_CLIENT_SECRET)
  };
}

// Fills what `secret` (the secret's current value, as the caller just read it) lacks of the
// signing key and the Authsignal key (`authsignalSecret()` gives it, asked only when needed),
// in one write. Returns {written: [field], kid, versionId}.
async function fillSecret(secretArn, secret, signInProof, authsignalSecret, environment) {
  const needs = secretNeeds(secret, signInProof);
  const updated = { ...secret };
  const written = [];
  let kid = null;
  if (needs.signingKey) {
    const key = newSigningKey();
    updated[aws.SIGNING_KEY] = key.pem;
    kid = key.jwk.kid;
    written.push(aws.SIGNING_KEY);
  }
  if (needs.authsignal) {
    updated.AUTHSIGNAL_SECRET = await authsignalSecret();
    written.push('AUTHSIGNAL_SECRET');
  }
  if (!written.length) return { written, kid: null, versionId: null };
  const versionId = await aws.writeBridgeSecret(secretArn, updated, environment);
  return { written, kid, versionId };
}

module.exports = { filled, secretNeeds, fillSecret };
