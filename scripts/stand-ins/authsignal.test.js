// The Authsignal stand-in through HTTP, as the bridge and the mobile SDK call it: the sign-up
// journey (query by email, track, email OTP, passkey), the passkey sign-in, what /validate says
// of each kind of token, and the modes the existing tests rely on.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startAuthsignal, USER_ID, PROFILE, TENANT_ID } = require('./authsignal.js');

const SECRET = 'test-authsignal-secret';
const VALID_TOKEN = 'eyJhbGciOiJIUzI1NiJ9.test-authsignal-token.signature';
const EMAIL = 'ada@example.com';

// A stand-in with a clock the test moves, and the lines it prints kept.
async function standIn(t, options = {}) {
  const clock = { now: Date.UTC(2026, 0, 1) };
  const printed = [];
  const server = await startAuthsignal({
    secret: SECRET, validToken: VALID_TOKEN, clock: () => clock.now, print: (line) => printed.push(line), ...options
  });
  const call = async (method, path, { body, auth = 'secret' } = {}) => {
    const headers = { 'Content-Type': 'application/json' };
    if (auth === 'secret') headers.Authorization = `Basic ${Buffer.from(`${SECRET}:`).toString('base64')}`;
    else if (auth === 'tenant') headers.Authorization = `Basic ${Buffer.from(`${TENANT_ID}:`).toString('base64')}`;
    else if (auth) headers.Authorization = `Bearer ${auth}`;
    const answer = await fetch(server.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await answer.text();
    return { status: answer.status, body: text ? JSON.parse(text) : undefined };
  };
  const s = {
    server, clock, printed, call,
    query: (email) => call('GET', `/v1/users?email=${encodeURIComponent(email)}`),
    user: (userId) => call('GET', `/v1/users/${encodeURIComponent(userId)}`),
    track: (userId, action, attributes = {}) => call('POST', `/v1/users/${userId}/actions/${action}`, { body: attributes }),
    validate: (token, action) => call('POST', '/v1/validate', { body: action ? { token, action } : { token } }),
    emailChallenge: (token) => call('POST', '/v1/client/challenge/email-otp', { auth: token }),
    inbox: (email) => call('GET', `/__stand-in/otp?email=${encodeURIComponent(email)}`, { auth: null }),
    emailVerify: (token, verificationCode) => call('POST', '/v1/client/verify/email-otp', { auth: token, body: { verificationCode } }),
    addPasskey: (token, credentialId) => call('POST', '/v1/client/user-authenticators/passkey', { auth: token, body: { credentialId } }),
    // passkey.signIn(action:): a challenge with the tenant id, then the assertion's verification.
    signIn: async (credentialId, action = 'signInWithPasskey') => {
      const challenge = await call('POST', '/v1/client/challenge', { auth: 'tenant', body: { action } });
      assert.equal(challenge.status, 200);
      return call('POST', '/v1/client/verify/passkey', { auth: 'tenant', body: { challengeId: challenge.body.challengeId, credentialId } });
    },
    // The code as the user reads it from their inbox.
    verifyEmail: async (token, email = EMAIL) => {
      assert.equal((await s.emailChallenge(token)).status, 200);
      return s.emailVerify(token, (await s.inbox(email)).body.code);
    }
  };
  t.after(() => server.close());
  return s;
}

const decode = (part) => JSON.parse(Buffer.from(part, 'base64url'));

test('query by email: no user, then the user a track created (not yet verified)', async (t) => {
  const s = await standIn(t);
  assert.deepEqual(await s.query(EMAIL), { status: 200, body: { users: [] } });
  const tracked = await s.track('user-1', 'signUp', { email: EMAIL });
  assert.equal(tracked.status, 200);
  assert.deepEqual((await s.query(EMAIL)).body, {
    users: [{ userId: 'user-1', email: EMAIL, emailVerified: false, phoneNumberVerified: false }]
  });
  assert.deepEqual((await s.query('ADA@example.com')).body, { users: [] }, 'matched exactly');
  assert.deepEqual((await s.user('user-1')).body, {
    isEnrolled: false, email: EMAIL, emailVerified: false, phoneNumberVerified: false, enrolledVerificationMethods: []
  });
  assert.equal((await s.user('nobody')).status, 404);
});

test('the server API wants the secret key; query and track check their input', async (t) => {
  const s = await standIn(t);
  assert.equal((await s.call('GET', '/v1/users?email=a%40b.c', { auth: null })).status, 401);
  assert.equal((await s.call('POST', '/v1/users/u/actions/signUp', { auth: 'tenant', body: {} })).status, 401);
  assert.equal((await s.call('GET', '/v1/users')).status, 400);
  for (const action of ['sign up', 'a'.repeat(65), 'signUp%2Fx']) {
    const answer = await s.track('user-1', action);
    assert.equal(answer.status, 400, action);
    assert.equal(answer.body.error, 'invalid_request');
  }
});

test('a track answers ALLOW and a 10-minute HS256 JWT signed with the secret key', async (t) => {
  const s = await standIn(t);
  const { status, body } = await s.track('user-1', 'signUp', { email: EMAIL, idempotencyKey: 'key-1' });
  assert.equal(status, 200);
  assert.equal(body.state, 'ALLOW');
  assert.equal(body.isEnrolled, false);
  assert.equal(body.idempotencyKey, 'key-1');
  assert.match(body.url, /^https:\/\/.+\?token=/);
  const [header, payload, signature] = body.token.split('.');
  assert.deepEqual(decode(header), { alg: 'HS256', typ: 'JWT' });
  const expected = crypto.createHmac('sha256', SECRET).update(`${header}.${payload}`).digest('base64url');
  assert.equal(signature, expected);
  const claims = decode(payload);
  assert.equal(claims.sub, 'user-1');
  assert.equal(claims.iat, s.clock.now / 1000);
  assert.equal(claims.exp, claims.iat + 600);
  assert.equal(claims.scope, 'read:authenticators');
  assert.deepEqual(claims.other, {
    tenantId: TENANT_ID, publishableKey: TENANT_ID, userId: 'user-1', email: EMAIL, actionCode: 'signUp', idempotencyKey: 'key-1'
  });
  // The same idempotencyKey again is the same action; another user's use of it is refused.
  assert.equal((await s.track('user-1', 'signUp', { idempotencyKey: 'key-1' })).body.idempotencyKey, 'key-1');
  assert.equal((await s.track('user-2', 'signUp', { idempotencyKey: 'key-1' })).status, 400);
});

test('/validate: a track token is not valid; a wrong action, a forged or an expired token neither', async (t) => {
  const s = await standIn(t);
  const { token, idempotencyKey } = (await s.track('user-1', 'signUp', { email: EMAIL })).body;
  assert.deepEqual(await s.validate(token), {
    status: 200,
    body: { isValid: false, state: 'ALLOW', userId: 'user-1', action: 'signUp', actionCode: 'signUp', idempotencyKey }
  });
  assert.deepEqual((await s.validate(token, 'signInWithPasskey')).body, { isValid: false, error: 'Action is invalid.' });
  const [header, payload] = token.split('.');
  const forged = `${header}.${payload}.${crypto.createHmac('sha256', 'another-secret').update(`${header}.${payload}`).digest('base64url')}`;
  assert.deepEqual((await s.validate(forged)).body, { isValid: false, error: 'Token is invalid or expired.' });
  s.clock.now += 600 * 1000;
  assert.deepEqual((await s.validate(token)).body, { isValid: false, error: 'Token is invalid or expired.' });
  assert.equal((await s.emailChallenge(token)).status, 401, 'an expired token calls no client endpoint');
});

test('the email OTP: a wrong code, then the right one verifies the email and succeeds the action', async (t) => {
  const s = await standIn(t);
  const { token, idempotencyKey } = (await s.track('user-1', 'signUp', { email: EMAIL })).body;
  const challenge = await s.emailChallenge(token);
  assert.equal(challenge.status, 200);
  assert.match(challenge.body.challengeId, /^[0-9a-f-]{36}$/);
  const { code } = (await s.inbox(EMAIL)).body;
  assert.match(code, /^\d{6}$/);
  assert.deepEqual(s.printed, [`authsignal stand-in: email OTP for ${EMAIL}: ${code}`]);

  const wrong = code === '000000' ? '000001' : '000000';
  assert.deepEqual(await s.emailVerify(token, wrong), { status: 200, body: { isVerified: false, failureReason: 'CODE_INVALID_OR_EXPIRED' } });
  assert.equal((await s.query(EMAIL)).body.users[0].emailVerified, false);

  const verified = await s.emailVerify(token, code);
  assert.equal(verified.status, 200);
  assert.equal(verified.body.isVerified, true);
  const { accessToken } = verified.body;
  assert.ok(decode(accessToken.split('.')[1]).scope.split(' ').includes('add:authenticators'));
  const validated = (await s.validate(accessToken, 'signUp')).body;
  assert.equal(validated.isValid, true);
  assert.equal(validated.state, 'CHALLENGE_SUCCEEDED');
  assert.equal(validated.verificationMethod, 'EMAIL_OTP');
  assert.equal(validated.userId, 'user-1');
  assert.equal(validated.action, 'signUp');
  assert.equal(validated.actionCode, 'signUp');
  assert.equal(validated.idempotencyKey, idempotencyKey);
  assert.ok(!Number.isNaN(Date.parse(validated.stateUpdatedAt)));

  assert.equal((await s.query(EMAIL)).body.users[0].emailVerified, true);
  const profile = (await s.user('user-1')).body;
  assert.equal(profile.emailVerified, true);
  assert.equal(profile.isEnrolled, true);
  assert.deepEqual(profile.enrolledVerificationMethods, ['EMAIL_OTP']);
  // A code verifies once.
  assert.equal((await s.emailVerify(token, code)).body.isVerified, false);
});

test('after 5 wrong codes even the right one is refused: MAX_ATTEMPTS_EXCEEDED', async (t) => {
  const s = await standIn(t);
  const { token } = (await s.track('user-1', 'signUp', { email: EMAIL })).body;
  await s.emailChallenge(token);
  const { code } = (await s.inbox(EMAIL)).body;
  const wrong = code === '000000' ? '000001' : '000000';
  for (let attempt = 0; attempt < 5; attempt += 1) {
    assert.equal((await s.emailVerify(token, wrong)).body.failureReason, 'CODE_INVALID_OR_EXPIRED');
  }
  assert.deepEqual((await s.emailVerify(token, code)).body, { isVerified: false, failureReason: 'MAX_ATTEMPTS_EXCEEDED' });
  assert.equal((await s.query(EMAIL)).body.users[0].emailVerified, false);
});

test('an email OTP needs an email on the user and a token', async (t) => {
  const s = await standIn(t);
  const { token } = (await s.track('user-1', 'signUp')).body;
  assert.equal((await s.emailChallenge(token)).status, 400);
  assert.equal((await s.emailChallenge(null)).status, 401);
  assert.equal((await s.emailChallenge(VALID_TOKEN)).status, 401, 'a token the tenant did not sign');
  assert.equal((await s.inbox(EMAIL)).status, 404);
});

test('the first passkey binds with a plain track token; a second needs add:authenticators', async (t) => {
  const s = await standIn(t);
  const first = (await s.track('user-1', 'signUp', { email: EMAIL })).body;
  const bound = await s.addPasskey(first.token, 'credential-1');
  assert.equal(bound.status, 200);
  assert.equal(bound.body.isVerified, true);
  assert.equal(bound.body.credentialId, 'credential-1');
  assert.match(bound.body.userAuthenticatorId, /^[0-9a-f-]{36}$/);
  const validated = (await s.validate(bound.body.accessToken)).body;
  assert.equal(validated.isValid, true);
  assert.equal(validated.verificationMethod, 'PASSKEY');
  assert.equal(validated.action, 'signUp');
  assert.equal(validated.idempotencyKey, first.idempotencyKey);
  // A passkey proves nothing about the email: it stays unverified until an email OTP.
  assert.equal((await s.user('user-1')).body.emailVerified, false);

  // Enrolled now: a new track is challenged, and its plain token cannot add a second passkey.
  const second = (await s.track('user-1', 'signUp')).body;
  assert.equal(second.state, 'CHALLENGE_REQUIRED');
  assert.equal(second.isEnrolled, true);
  assert.deepEqual(second.enrolledVerificationMethods, ['PASSKEY']);
  assert.deepEqual(await s.addPasskey(second.token, 'credential-2'), {
    status: 401,
    body: { error: 'unauthorized', errorCode: 'unauthorized', errorDescription: 'The token does not allow adding an authenticator.' }
  });
  // ... which the token of a succeeded email OTP may.
  const otp = await s.verifyEmail(second.token);
  assert.equal(otp.body.isVerified, true);
  const added = await s.addPasskey(otp.body.accessToken, 'credential-2');
  assert.equal(added.status, 200);
  assert.equal((await s.validate(added.body.accessToken)).body.verificationMethod, 'PASSKEY');
  assert.deepEqual((await s.user('user-1')).body.enrolledVerificationMethods, ['PASSKEY', 'EMAIL_OTP']);
  // A credential binds once.
  assert.equal((await s.addPasskey(added.body.accessToken, 'credential-2')).status, 400);
});

test('passkey sign-in: a challenge per sign-in, a token of the sign-in action with method PASSKEY', async (t) => {
  const s = await standIn(t);
  const { token } = (await s.track('user-1', 'signUp', { email: EMAIL })).body;
  const otp = await s.verifyEmail(token);
  assert.equal((await s.addPasskey(otp.body.accessToken, 'credential-1')).status, 200);

  assert.deepEqual((await s.signIn('unknown-credential')).body, { isVerified: false });
  const signedIn = await s.signIn('credential-1');
  assert.equal(signedIn.status, 200);
  assert.equal(signedIn.body.isVerified, true);
  assert.equal(signedIn.body.userId, 'user-1');
  const claims = decode(signedIn.body.accessToken.split('.')[1]);
  assert.equal(claims.other.userId, 'user-1');
  const validated = (await s.validate(signedIn.body.accessToken, 'signInWithPasskey')).body;
  assert.equal(validated.isValid, true);
  assert.equal(validated.state, 'CHALLENGE_SUCCEEDED');
  assert.equal(validated.verificationMethod, 'PASSKEY');
  assert.equal(validated.action, 'signInWithPasskey');
  assert.equal(validated.userId, 'user-1');
  assert.deepEqual((await s.validate(signedIn.body.accessToken, 'signUp')).body, { isValid: false, error: 'Action is invalid.' });
  const again = (await s.validate((await s.signIn('credential-1')).body.accessToken)).body;
  assert.notEqual(again.idempotencyKey, validated.idempotencyKey, 'a fresh idempotencyKey per challenge');
});

test('a sign-in challenge needs the tenant id and is used once', async (t) => {
  const s = await standIn(t, { tenantId: 'tenant-a' });
  const refused = await s.call('POST', '/v1/client/challenge', { auth: 'tenant', body: { action: 'signInWithPasskey' } });
  assert.equal(refused.status, 401);
  assert.equal(refused.body.errorCode, 'unauthorized');
  const tenant = `Basic ${Buffer.from('tenant-a:').toString('base64')}`;
  const post = (path, body) => fetch(s.server.url + path, {
    method: 'POST', headers: { Authorization: tenant, 'Content-Type': 'application/json' }, body: JSON.stringify(body)
  }).then(async (answer) => ({ status: answer.status, body: await answer.json() }));
  const { token } = (await s.track('user-1', 'signUp')).body;
  assert.equal((await s.addPasskey(token, 'credential-1')).status, 200);
  const { challengeId } = (await post('/v1/client/challenge', { action: 'signInWithPasskey' })).body;
  const stranger = await s.call('POST', '/v1/client/verify/passkey', { auth: 'tenant', body: { challengeId, credentialId: 'credential-1' } });
  assert.equal(stranger.status, 401, 'another tenant id');
  assert.equal((await post('/v1/client/verify/passkey', { challengeId, credentialId: 'credential-1' })).body.isVerified, true);
  assert.equal((await post('/v1/client/verify/passkey', { challengeId, credentialId: 'credential-1' })).status, 400);
  assert.equal((await post('/v1/client/challenge', { action: 'not an action' })).status, 400);
});

test('the connect host names the user of a succeeded challenge only', async (t) => {
  const s = await standIn(t);
  const { token } = (await s.track('user-1', 'signUp', { email: EMAIL })).body;
  assert.deepEqual((await s.call('POST', '/get-user', { body: { token } })).body, {});
  const otp = await s.verifyEmail(token);
  const user = (await s.call('POST', '/get-user', { body: { token: otp.body.accessToken } })).body;
  assert.equal(user.userId, 'user-1');
  assert.equal(user.emailVerified, true);
});

test('the modes are unchanged for tokens the tenant did not sign', async (t) => {
  const strict = await standIn(t);
  const valid = (await strict.validate(VALID_TOKEN)).body;
  assert.equal(valid.isValid, true);
  assert.equal(valid.userId, USER_ID);
  assert.equal(valid.action, 'signInWithPasskey');
  assert.equal(valid.verificationMethod, 'PASSKEY');
  assert.equal((await strict.validate(VALID_TOKEN)).body.idempotencyKey, valid.idempotencyKey);
  assert.deepEqual((await strict.validate('eyJhbGciOiJIUzI1NiJ9.other.signature')).body, { isValid: false, error: 'Token is invalid or expired.' });
  assert.deepEqual(await strict.user(USER_ID), { status: 200, body: PROFILE });
  assert.deepEqual((await strict.call('POST', '/get-user', { body: { token: VALID_TOKEN } })).body, { userId: USER_ID, ...PROFILE });
  assert.equal((await strict.call('POST', '/v1/validate', { body: {} })).status, 400);
  assert.equal((await strict.call('POST', '/v1/validate', { body: { token: VALID_TOKEN }, auth: null })).status, 401);

  const any = await standIn(t, { mode: 'any-token' });
  const first = (await any.validate('any-token-1')).body;
  assert.equal(first.isValid, true);
  assert.equal((await any.validate('any-token-1')).body.idempotencyKey, first.idempotencyKey);
  const permissive = await standIn(t, { mode: 'permissive' });
  assert.notEqual((await permissive.validate('t')).body.idempotencyKey, (await permissive.validate('t')).body.idempotencyKey);
  // A token signed with the secret follows the tenant model in every mode.
  const { token } = (await any.track('user-1', 'signUp')).body;
  assert.equal((await any.validate(token)).body.isValid, false);
});

test('the sign-up journey as the bridge and the app run it', async (t) => {
  const s = await standIn(t);
  // The bridge: look the email up, else a new user id, and track the sign-up action.
  assert.deepEqual((await s.query(EMAIL)).body.users, []);
  const userId = crypto.randomUUID();
  const tracked = (await s.track(userId, 'signUp', { email: EMAIL })).body;
  // The app: email OTP, then a passkey with the token the OTP gave.
  const otp = await s.verifyEmail(tracked.token);
  assert.equal(otp.body.isVerified, true);
  assert.equal((await s.addPasskey(otp.body.accessToken, 'journey-credential')).status, 200);
  // Later: a passkey sign-in, whose token the bridge validates.
  const signedIn = (await s.signIn('journey-credential')).body;
  const validated = (await s.validate(signedIn.accessToken, 'signInWithPasskey')).body;
  assert.equal(validated.isValid, true);
  assert.equal(validated.userId, userId);
  assert.equal(validated.verificationMethod, 'PASSKEY');
  // The bridge's profile lookup: the email is verified, and a new sign-up finds the user.
  const profile = (await s.user(userId)).body;
  assert.equal(profile.email, EMAIL);
  assert.equal(profile.emailVerified, true);
  assert.deepEqual((await s.query(EMAIL)).body.users.map((user) => user.userId), [userId]);
  // Every token of the sign-up action now reports the action's state (see the stand-in's
  // ASSUMPTION on state living on the action): the sign-in action differs, so none signs in.
  assert.deepEqual((await s.validate(tracked.token, 'signInWithPasskey')).body, { isValid: false, error: 'Action is invalid.' });
});
