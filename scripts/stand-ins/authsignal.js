// A loopback stand-in for Authsignal's server API, answering as its SDKs' fixtures record it:
//   POST /v1/validate         (Basic auth with the secret key) a token -> its challenge
//   GET  /v1/users/{userId}   (Basic auth) the user's profile
//   POST /get-user            the connect host's call the guide's Login script makes with a
//                             token (AUTH0_SIGN_IN_PROOF=authsignal-token)
// Modes: 'valid-token' (only `validToken` is a succeeded challenge), 'any-token' (every
// non-empty token is one; the same token is always the same challenge, as in Authsignal),
// 'permissive' (every validation is a new challenge, for the API conformance run).
'use strict';
const crypto = require('node:crypto');
const { serve, basicAuth } = require('./common.js');

const USER_ID = 'demo-user-7c1f';
const PROFILE = {
  isEnrolled: true,
  email: 'demo.user@example.com',
  emailVerified: true,
  username: 'demo',
  displayName: 'Demo User',
  enrolledVerificationMethods: ['PASSKEY']
};
const UNAUTHORIZED = {
  error: 'unauthorized',
  errorDescription: 'The request is unauthorized. Check that your API key and region base URL are correctly configured.'
};

function startAuthsignal({ port = 0, secret, validToken, mode = 'valid-token' }) {
  const succeeded = (token) => (mode === 'valid-token' ? token === validToken : Boolean(token));
  // The same token is the same challenge: its idempotencyKey does not change.
  const challengeOf = (token) => (mode === 'permissive'
    ? crypto.randomUUID()
    : crypto.createHash('sha256').update(String(token)).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5'));
  const authorised = (request) => {
    const credentials = basicAuth(request.headers);
    return credentials && credentials[0] === secret && credentials[1] === '';
  };

  return serve('authsignal', port, (request) => {
    if (request.method === 'HEAD') return [404];
    if (!authorised(request)) return [401, UNAUTHORIZED];
    const user = /^\/v1\/users\/([^/?]+)$/.exec(request.path);
    if (request.method === 'GET' && user) {
      return decodeURIComponent(user[1]) === USER_ID
        ? [200, PROFILE]
        : [404, { error: 'not_found', errorDescription: 'User not found.' }];
    }
    if (request.method !== 'POST') return [404, { error: 'not_found', errorDescription: 'Not found' }];
    const token = request.form.token;
    if (typeof token !== 'string' || token === '') {
      return [400, { error: 'invalid_request', errorDescription: 'token is required' }];
    }
    if (request.path === '/v1/validate') {
      if (!succeeded(token)) return [200, { isValid: false, error: 'Token is invalid or expired.' }];
      return [200, {
        isValid: true,
        state: 'CHALLENGE_SUCCEEDED',
        stateUpdatedAt: new Date().toISOString(),
        userId: USER_ID,
        action: 'signInWithPasskey',
        idempotencyKey: challengeOf(token),
        verificationMethod: 'PASSKEY'
      }];
    }
    if (request.path === '/get-user') {
      return succeeded(token) ? [200, { userId: USER_ID, ...PROFILE }] : [200, {}];
    }
    return [404, { error: 'not_found', errorDescription: 'Not found' }];
  });
}

module.exports = { startAuthsignal, USER_ID, PROFILE };
