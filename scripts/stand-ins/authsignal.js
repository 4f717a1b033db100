// A loopback stand-in for Authsignal, answering as its SDKs and docs show it:
//
// Server API (HTTP Basic: the secret key, empty password; else 401 `unauthorized`):
//   POST /v1/validate                      {token, action?, userId?} -> the token's challenge
//   GET  /v1/users/{userId}                the user's profile (404 for an unknown id)
//   GET  /v1/users?email=|phoneNumber=|username=   the users with exactly that value
//   POST /v1/users/{userId}/actions/{action}       track an action: {idempotencyKey, state,
//                                          url, token, isEnrolled, enrolledVerificationMethods?}
//   POST /get-user                         the connect host's call the guide's Login script
//                                          makes with a token (AUTH0_SIGN_IN_PROOF=authsignal-token)
// Client API (the mobile SDKs' calls; `Authorization: Bearer <token>`, or Basic `tenantId:` for
// the passkey sign-in's two calls; answers 200, errors {error, errorCode, errorDescription}):
//   POST /v1/client/challenge/email-otp    "sends" a 6-digit code to the user's email
//   POST /v1/client/verify/email-otp       {verificationCode} -> {isVerified, accessToken?, failureReason?}
//   POST /v1/client/user-authenticators/passkey   {credentialId} -> a passkey bound to the user
//                                          (one call standing for registration-options + verify)
//   POST /v1/client/challenge              {action} -> {challengeId} (a passkey sign-in)
//   POST /v1/client/verify/passkey         {challengeId, credentialId} -> {isVerified, accessToken?, userId?}
// Test-only (no auth, not an Authsignal endpoint):
//   GET  /__stand-in/otp?email=<email>     the last email OTP "sent" to that address, {email, code},
//                                          as the user would read it in their inbox (it is also
//                                          printed: `authsignal stand-in: email OTP for <email>: <code>`)
//
// Tokens are HS256 JWTs signed with the secret key, as Authsignal's are. A token signed with
// the secret follows the tenant model below (users, actions, challenges) in every mode. Any
// other token is judged by the mode, as before: 'valid-token' (only `validToken` is a succeeded
// challenge, of the demo user USER_ID), 'any-token' (every non-empty token is one; the same
// token is always the same challenge, as in Authsignal), 'permissive' (every validation is a new
// challenge, for the API conformance run). The demo user is outside the tenant model:
// GET /v1/users/demo-user-7c1f answers PROFILE, and no query finds it.
//
// Sources: authsignal-node (src/types.ts, src/authsignal.ts), authsignal-ios and
// authsignal-android (API clients and models), docs.authsignal.com; "ASSUMPTION" marks what no
// public source confirms.
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
const NOT_FOUND = { error: 'not_found', errorDescription: 'Not found' };
// The tenant id the client SDKs are set up with (`Authsignal(tenantID:baseURL:)`), unless given.
const TENANT_ID = 'stand-in-tenant';

// SDK fixtures: tokens expire 600 s after issue; docs: the track token lives 10 minutes.
const TOKEN_LIFETIME_S = 600;
// ASSUMPTION: an email OTP lives 10 minutes and 5 wrong codes lock it.
const OTP_LIFETIME_S = 600;
const OTP_MAX_WRONG_CODES = 5;
// ASSUMPTION: a passkey sign-in challenge lives 5 minutes (WebAuthn's default timeout).
const PASSKEY_CHALLENGE_LIFETIME_S = 300;
// Track's action code rule (field notes, "Authsignal enrolment").
const ACTION_CODE = /^[a-zA-Z0-9_-]{1,64}$/;
// docs: a track token's default scope; adding a second authenticator needs add:authenticators.
const DEFAULT_SCOPE = 'read:authenticators';
const ADD_AUTHENTICATORS = 'add:authenticators';
const SUCCEEDED = 'CHALLENGE_SUCCEEDED';
const INVALID_TOKEN = { isValid: false, error: 'Token is invalid or expired.' };
const INVALID_ACTION = { isValid: false, error: 'Action is invalid.' };

// ---- HS256 JWTs (authsignal-node verifies them with jwt.verify(token, secret)) -------------

function signJwt(claims, secret) {
  if (!secret) throw new Error('the Authsignal stand-in needs a secret key to sign tokens');
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${signed}.${crypto.createHmac('sha256', secret).update(signed).digest('base64url')}`;
}

// The claims of `token` when it is an HS256 JWT whose signature verifies with `secret` (expired
// or not), else null.
function verifiedClaims(token, secret) {
  const parts = String(token).split('.');
  if (!secret || parts.length !== 3) return null;
  try {
    if (JSON.parse(Buffer.from(parts[0], 'base64url')).alg !== 'HS256') return null;
    const expected = crypto.createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
    const given = Buffer.from(parts[2], 'base64url');
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return null;
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url'));
    return claims && typeof claims === 'object' ? claims : null;
  } catch (e) {
    return null;
  }
}

// ---- The tenant: its users, actions (each with its tokens' state) and challenges ----------

class Tenant {
  constructor({ tenantId, secret, clock, print }) {
    this.tenantId = tenantId;
    this.secret = secret;
    this.clock = clock;
    this.print = print;
    this.users = new Map(); // userId -> {userId, email, emailVerified, phoneNumber, phoneNumberVerified, username, displayName, authenticators}
    // ASSUMPTION: the state lives on the action (userId, actionCode, idempotencyKey), as the Node
    // SDK's getAction/updateAction show, so every token of one action validates as its current state.
    this.actions = new Map(); // idempotencyKey -> {userId, actionCode, idempotencyKey, state, stateUpdatedAt, verificationMethod}
    this.emailOtps = new Map(); // idempotencyKey -> {challengeId, email, code, expiresAt, wrongCodes}
    this.passkeyChallenges = new Map(); // challengeId -> {actionCode, idempotencyKey, expiresAt, used}
    this.inbox = new Map(); // email -> the last code sent there (for /__stand-in/otp)
  }

  nowS() {
    return Math.floor(this.clock() / 1000);
  }

  // docs: "users are automatically created when you first track an action".
  userFor(userId, { email, phoneNumber, username }) {
    let user = this.users.get(userId);
    if (!user) {
      user = {
        userId, email: undefined, emailVerified: false, phoneNumber: undefined,
        phoneNumberVerified: false, username: undefined, displayName: undefined, authenticators: []
      };
      this.users.set(userId, user);
    }
    // ASSUMPTION: track stores an attribute only on a user that has none; it never replaces one.
    if (typeof email === 'string' && email && !user.email) user.email = email;
    if (typeof phoneNumber === 'string' && phoneNumber && !user.phoneNumber) user.phoneNumber = phoneNumber;
    if (typeof username === 'string' && username && !user.username) user.username = username;
    return user;
  }

  newAction(userId, actionCode, idempotencyKey, state, verificationMethod) {
    const action = {
      userId, actionCode, idempotencyKey, state,
      stateUpdatedAt: new Date(this.clock()).toISOString(), verificationMethod
    };
    this.actions.set(idempotencyKey, action);
    return action;
  }

  succeed(action, verificationMethod) {
    action.state = SUCCEEDED;
    action.stateUpdatedAt = new Date(this.clock()).toISOString();
    action.verificationMethod = verificationMethod;
  }

  // authsignal-node RedirectTokenPayload: sub, iat, exp, scope and `other`.
  issueToken(action, scope) {
    const iat = this.nowS();
    const user = this.users.get(action.userId);
    return signJwt({
      sub: action.userId,
      iat,
      exp: iat + TOKEN_LIFETIME_S,
      scope,
      other: {
        tenantId: this.tenantId,
        // ASSUMPTION: the SDKs' tenant id is what older tokens call the publishable key.
        publishableKey: this.tenantId,
        userId: action.userId,
        ...(user && user.email ? { email: user.email } : {}),
        actionCode: action.actionCode,
        idempotencyKey: action.idempotencyKey
      }
    }, this.secret);
  }

  // A token after a succeeded challenge: docs say the SDK then holds a short-lived token that
  // may manage authenticators. ASSUMPTION: its scope is the old one plus add:authenticators.
  issueChallengeToken(action, scope) {
    const scopes = new Set(String(scope || DEFAULT_SCOPE).split(' ').filter(Boolean));
    scopes.add(ADD_AUTHENTICATORS);
    return this.issueToken(action, [...scopes].join(' '));
  }

  // What a token signed with the secret stands for: {claims} plus `expired`, and the action
  // and user it names when this tenant knows them. Null for any other token.
  grantOf(token) {
    const claims = verifiedClaims(token, this.secret);
    if (!claims) return null;
    const other = claims.other && typeof claims.other === 'object' ? claims.other : {};
    const action = this.actions.get(other.idempotencyKey);
    const known = action && action.userId === other.userId && action.actionCode === other.actionCode;
    return {
      claims,
      expired: typeof claims.exp !== 'number' || claims.exp <= this.nowS(),
      action: known ? action : null,
      user: known ? this.users.get(action.userId) : null,
      scopes: String(claims.scope || '').split(' ').filter(Boolean)
    };
  }

  sendEmailOtp(action, email) {
    const code = String(crypto.randomInt(0, 1000000)).padStart(6, '0');
    const otp = { challengeId: crypto.randomUUID(), email, code, expiresAt: this.nowS() + OTP_LIFETIME_S, wrongCodes: 0 };
    // ASSUMPTION: a new challenge replaces the action's previous code.
    this.emailOtps.set(action.idempotencyKey, otp);
    this.inbox.set(email, code);
    this.print(`authsignal stand-in: email OTP for ${email}: ${code}`);
    return otp;
  }

  passkeyOwner(credentialId) {
    for (const user of this.users.values()) {
      const authenticator = user.authenticators.find((a) => a.credentialId === credentialId);
      if (authenticator) return { user, authenticator };
    }
    return null;
  }
}

const enrolledMethods = (user) => [...new Set(user.authenticators.map((a) => a.verificationMethod))];

// A user as GET /v1/users?email= lists it (docs: query users).
function listedUser(user) {
  return {
    userId: user.userId,
    ...(user.email ? { email: user.email } : {}),
    emailVerified: user.emailVerified,
    ...(user.phoneNumber ? { phoneNumber: user.phoneNumber } : {}),
    phoneNumberVerified: user.phoneNumberVerified,
    ...(user.username ? { username: user.username } : {})
  };
}

// A user as GET /v1/users/{userId} answers (the fields of authsignal-node's getUser answer).
function userProfile(user) {
  return {
    isEnrolled: user.authenticators.length > 0,
    ...(user.email ? { email: user.email } : {}),
    emailVerified: user.emailVerified,
    ...(user.phoneNumber ? { phoneNumber: user.phoneNumber } : {}),
    phoneNumberVerified: user.phoneNumberVerified,
    ...(user.username ? { username: user.username } : {}),
    ...(user.displayName ? { displayName: user.displayName } : {}),
    enrolledVerificationMethods: enrolledMethods(user)
  };
}

const clientError = (status, error, errorDescription) => [status, { error, errorCode: error, errorDescription }];
const badRequest = (errorDescription) => [400, { error: 'invalid_request', errorDescription }];

// ---- Server API ------------------------------------------------------------------------------

// POST /v1/validate on a token signed with the secret. Field notes: both `action` and
// `actionCode`; an action or user mismatch is 200 {isValid:false, error:"Action is invalid."}.
function validateIssued(grant, form) {
  if (grant.expired || !grant.action) return [200, INVALID_TOKEN];
  const { action } = grant;
  if ((form.action && form.action !== action.actionCode) || (form.userId && form.userId !== action.userId)) {
    return [200, INVALID_ACTION];
  }
  const succeeded = action.state === SUCCEEDED;
  return [200, {
    isValid: succeeded,
    state: action.state,
    ...(succeeded ? { stateUpdatedAt: action.stateUpdatedAt } : {}),
    userId: action.userId,
    action: action.actionCode,
    actionCode: action.actionCode,
    idempotencyKey: action.idempotencyKey,
    ...(succeeded ? { verificationMethod: action.verificationMethod } : {})
  }];
}

// POST /v1/users/{userId}/actions/{action}: docs (track) and authsignal-node TrackRequest.
function trackAction(tenant, userId, actionCode, attributes) {
  if (!userId) return badRequest('userId is required');
  if (!ACTION_CODE.test(actionCode)) {
    return badRequest('action must be 1 to 64 characters of a-z, A-Z, 0-9, _ and -');
  }
  const given = typeof attributes.idempotencyKey === 'string' && attributes.idempotencyKey ? attributes.idempotencyKey : null;
  const existing = given && tenant.actions.get(given);
  // ASSUMPTION: tracking again with an idempotencyKey answers that same action; another
  // user's or action's key is refused.
  if (existing && (existing.userId !== userId || existing.actionCode !== actionCode)) {
    return badRequest('idempotencyKey is already used by another action');
  }
  const user = tenant.userFor(userId, attributes);
  // docs (default rules): a user with no authenticator is allowed (and may enrol); an enrolled
  // user is challenged.
  const action = existing || tenant.newAction(
    userId, actionCode, given || crypto.randomUUID(), user.authenticators.length ? 'CHALLENGE_REQUIRED' : 'ALLOW'
  );
  const scope = typeof attributes.scope === 'string' && attributes.scope.trim() ? attributes.scope.trim() : DEFAULT_SCOPE;
  const token = tenant.issueToken(action, scope);
  const methods = enrolledMethods(user);
  return [200, {
    idempotencyKey: action.idempotencyKey,
    state: action.state,
    // The pre-built UI's URL: the stand-in serves no UI (.invalid is reserved, RFC 2606).
    url: `https://stand-in.authsignal.invalid/?token=${token}`,
    token,
    isEnrolled: methods.length > 0,
    ...(methods.length ? { enrolledVerificationMethods: methods } : {})
  }];
}

// GET /v1/users?email=...: docs (query users). ASSUMPTION: values match exactly (case included).
function queryUsers(tenant, search) {
  const filters = ['email', 'phoneNumber', 'username'].filter((name) => search.has(name));
  if (!filters.length) return badRequest('email, phoneNumber or username is required');
  const users = [...tenant.users.values()].filter((user) => filters.every((name) => user[name] === search.get(name)));
  return [200, { users: users.map(listedUser) }];
}

// GET /v1/users/{userId}: the demo user's fixed PROFILE (existing tests read it), a tracked
// user's profile, else 404.
function getUser(tenant, userId) {
  if (userId === USER_ID) return [200, PROFILE];
  const user = userId !== null && tenant.users.get(userId);
  return user ? [200, userProfile(user)] : [404, { error: 'not_found', errorDescription: 'User not found.' }];
}

// ---- Client API ------------------------------------------------------------------------------

// The caller of a client endpoint: a live token this tenant issued (Bearer), or null.
function bearerGrant(tenant, headers) {
  const match = /^Bearer (\S+)$/.exec(headers.authorization || '');
  const grant = match && tenant.grantOf(match[1]);
  return grant && !grant.expired && grant.action ? grant : null;
}

// ASSUMPTION: the wording of the client API's 401.
const INVALID_BEARER = clientError(401, 'unauthorized', 'The token is invalid or expired.');

// POST /v1/client/challenge/email-otp (authsignal-ios EmailAPIClient.challengeEmail): a code to
// the email the user has. ASSUMPTION: any user with an email (from track) may be sent one.
function challengeEmailOtp(tenant, grant) {
  if (!grant.user.email) return clientError(400, 'invalid_request', 'The user has no email address.');
  return [200, { challengeId: tenant.sendEmailOtp(grant.action, grant.user.email).challengeId }];
}

// POST /v1/client/verify/email-otp {verificationCode} (authsignal-ios VerifyResponse:
// isVerified, accessToken, failureReason).
function verifyEmailOtp(tenant, grant, form) {
  const otp = tenant.emailOtps.get(grant.action.idempotencyKey);
  if (otp && otp.wrongCodes >= OTP_MAX_WRONG_CODES) return [200, { isVerified: false, failureReason: 'MAX_ATTEMPTS_EXCEEDED' }];
  if (!otp || otp.expiresAt <= tenant.nowS() || form.verificationCode !== otp.code) {
    if (otp) otp.wrongCodes += 1;
    return [200, { isVerified: false, failureReason: 'CODE_INVALID_OR_EXPIRED' }];
  }
  tenant.emailOtps.delete(grant.action.idempotencyKey);
  // ASSUMPTION (no public source): a verified code marks the user's email verified and adds an
  // EMAIL_OTP authenticator for it.
  if (grant.user.email === otp.email) grant.user.emailVerified = true;
  if (!grant.user.authenticators.some((a) => a.verificationMethod === 'EMAIL_OTP' && a.email === otp.email)) {
    grant.user.authenticators.push({
      userAuthenticatorId: crypto.randomUUID(), verificationMethod: 'EMAIL_OTP', email: otp.email,
      createdAt: new Date(tenant.clock()).toISOString()
    });
  }
  tenant.succeed(grant.action, 'EMAIL_OTP');
  return [200, { isVerified: true, accessToken: tenant.issueChallengeToken(grant.action, grant.claims.scope) }];
}

// POST /v1/client/user-authenticators/passkey {credentialId}: the SDK's registration-options and
// verify calls as one (the stand-in plays the platform authenticator). docs: "If this is not
// the user's first authenticator, you must specify the scope add:authenticators".
function addPasskey(tenant, grant, form) {
  const { credentialId } = form;
  if (typeof credentialId !== 'string' || !credentialId) return clientError(400, 'invalid_request', 'credentialId is required');
  if (grant.user.authenticators.length && !grant.scopes.includes(ADD_AUTHENTICATORS)) {
    return clientError(401, 'unauthorized', 'The token does not allow adding an authenticator.');
  }
  // ASSUMPTION: a credential already registered is refused (WebAuthn credential ids are unique).
  if (tenant.passkeyOwner(credentialId)) return clientError(400, 'invalid_request', 'The credential is already registered.');
  const authenticator = {
    userAuthenticatorId: crypto.randomUUID(), verificationMethod: 'PASSKEY', credentialId,
    createdAt: new Date(tenant.clock()).toISOString()
  };
  grant.user.authenticators.push(authenticator);
  // ASSUMPTION: a passkey sign-up succeeds the token's own action with method PASSKEY.
  tenant.succeed(grant.action, 'PASSKEY');
  // authsignal-ios AddPasskeyAuthenticatorResponse.
  return [200, {
    isVerified: true,
    accessToken: tenant.issueChallengeToken(grant.action, grant.claims.scope),
    userAuthenticatorId: authenticator.userAuthenticatorId,
    credentialId
  }];
}

// POST /v1/client/challenge {action} with Basic `tenantId:` (authsignal-ios BaseAPIClient
// .challenge): a passkey sign-in's challenge, each with its own idempotencyKey.
function startChallenge(tenant, form) {
  if (typeof form.action !== 'string' || !ACTION_CODE.test(form.action)) {
    return clientError(400, 'invalid_request', 'action must be 1 to 64 characters of a-z, A-Z, 0-9, _ and -');
  }
  const challengeId = crypto.randomUUID();
  tenant.passkeyChallenges.set(challengeId, {
    actionCode: form.action, idempotencyKey: crypto.randomUUID(),
    expiresAt: tenant.nowS() + PASSKEY_CHALLENGE_LIFETIME_S, used: false
  });
  return [200, { challengeId }];
}

// POST /v1/client/verify/passkey {challengeId, credentialId} (authsignal-ios
// VerifyPasskeyResponse: isVerified, accessToken, userId, userAuthenticatorId, username).
function verifyPasskey(tenant, form) {
  const challenge = tenant.passkeyChallenges.get(form.challengeId);
  // ASSUMPTION: an unknown, used or expired challenge is a 400.
  if (!challenge || challenge.used || challenge.expiresAt <= tenant.nowS()) {
    return clientError(400, 'invalid_request', 'The challenge is invalid or expired.');
  }
  const owner = typeof form.credentialId === 'string' ? tenant.passkeyOwner(form.credentialId) : null;
  if (!owner) return [200, { isVerified: false }];
  challenge.used = true;
  const action = tenant.newAction(owner.user.userId, challenge.actionCode, challenge.idempotencyKey, SUCCEEDED, 'PASSKEY');
  return [200, {
    isVerified: true,
    accessToken: tenant.issueChallengeToken(action, DEFAULT_SCOPE),
    userId: owner.user.userId,
    userAuthenticatorId: owner.authenticator.userAuthenticatorId,
    ...(owner.user.username ? { username: owner.user.username } : {})
  }];
}

// The client API's routes: the passkey sign-in with the tenant id (or a token), everything else
// with a token.
function clientApi(tenant, request, path) {
  if (request.method !== 'POST') return clientError(404, 'not_found', 'Not found');
  const form = request.form;
  const signIn = { '/v1/client/challenge': startChallenge, '/v1/client/verify/passkey': verifyPasskey }[path];
  if (signIn) {
    const credentials = basicAuth(request.headers);
    const tenantCaller = credentials && credentials[0] === tenant.tenantId;
    if (!tenantCaller && !bearerGrant(tenant, request.headers)) {
      return clientError(401, 'unauthorized', 'The tenant ID is invalid.');
    }
    return signIn(tenant, form);
  }
  const endpoint = {
    '/v1/client/challenge/email-otp': challengeEmailOtp,
    '/v1/client/verify/email-otp': verifyEmailOtp,
    '/v1/client/user-authenticators/passkey': addPasskey
  }[path];
  if (!endpoint) return clientError(404, 'not_found', 'Not found');
  const grant = bearerGrant(tenant, request.headers);
  return grant ? endpoint(tenant, grant, form) : INVALID_BEARER;
}

// ---- The server ------------------------------------------------------------------------------

// The default `print`: stdout, even when the parent has stopped reading it (the Rust harness
// keeps only the `listening` line): a closed pipe (EPIPE) must not end the stand-in.
let stdoutGuarded = false;
function printToStdout(line) {
  if (!stdoutGuarded) {
    stdoutGuarded = true;
    process.stdout.on('error', (error) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
  process.stdout.write(`${line}\n`);
}

const decoded = (segment) => {
  try {
    return decodeURIComponent(segment);
  } catch (e) {
    return null;
  }
};

function startAuthsignal({
  port = 0, secret, validToken, mode = 'valid-token', tenantId = TENANT_ID,
  clock = Date.now, print = printToStdout
}) {
  const tenant = new Tenant({ tenantId, secret, clock, print });
  // Tokens not signed with the secret: the mode decides.
  const succeeded = (token) => (mode === 'valid-token' ? token === validToken : Boolean(token));
  // The same token is the same challenge: its idempotencyKey does not change.
  const challengeOf = (token) => (mode === 'permissive'
    ? crypto.randomUUID()
    : crypto.createHash('sha256').update(String(token)).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5'));
  const authorised = (request) => {
    const credentials = basicAuth(request.headers);
    return credentials && credentials[0] === secret && credentials[1] === '';
  };

  // POST /v1/validate: a token signed with the secret by the tenant model, any other by the mode.
  const validate = (token, form) => {
    const grant = tenant.grantOf(token);
    if (grant) return validateIssued(grant, form);
    if (!succeeded(token)) return [200, INVALID_TOKEN];
    return [200, {
      isValid: true,
      state: SUCCEEDED,
      stateUpdatedAt: new Date().toISOString(),
      userId: USER_ID,
      action: 'signInWithPasskey',
      idempotencyKey: challengeOf(token),
      verificationMethod: 'PASSKEY'
    }];
  };

  // POST /get-user on the connect host: the user of a succeeded challenge, else {}.
  const connectUser = (token) => {
    const grant = tenant.grantOf(token);
    if (!grant) return succeeded(token) ? [200, { userId: USER_ID, ...PROFILE }] : [200, {}];
    const live = !grant.expired && grant.action && grant.action.state === SUCCEEDED;
    return [200, live ? { userId: grant.user.userId, ...userProfile(grant.user) } : {}];
  };

  const serverApi = (request, path, search) => {
    const user = /^\/v1\/users\/([^/]+)$/.exec(path);
    if (request.method === 'GET' && user) return getUser(tenant, decoded(user[1]));
    if (request.method === 'GET' && path === '/v1/users') return queryUsers(tenant, search);
    const track = /^\/v1\/users\/([^/]+)\/actions\/([^/]+)$/.exec(path);
    if (request.method === 'POST' && track) return trackAction(tenant, decoded(track[1]), decoded(track[2]) || '', request.form);
    if (request.method !== 'POST') return [404, NOT_FOUND];
    const token = request.form.token;
    if (typeof token !== 'string' || token === '') return badRequest('token is required');
    if (path === '/v1/validate') return validate(token, request.form);
    if (path === '/get-user') return connectUser(token);
    return [404, NOT_FOUND];
  };

  return serve('authsignal', port, (request) => {
    if (request.method === 'HEAD') return [404];
    const url = new URL(request.path, 'http://stand-in');
    if (request.method === 'GET' && url.pathname === '/__stand-in/otp') {
      const code = tenant.inbox.get(url.searchParams.get('email'));
      return code ? [200, { email: url.searchParams.get('email'), code }] : [404, { error: 'not_found', errorDescription: 'No email OTP was sent to that address.' }];
    }
    if (url.pathname.startsWith('/v1/client/')) return clientApi(tenant, request, url.pathname);
    if (!authorised(request)) return [401, UNAUTHORIZED];
    return serverApi(request, url.pathname, url.searchParams);
  });
}

module.exports = { startAuthsignal, USER_ID, PROFILE, TENANT_ID };
