// Runs the shipped Auth0 code the way Auth0 does, for its tests and for the Auth0 stand-in
// (scripts/stand-ins/auth0.js): the code as `make auth0-setup` generates it (the shipped file
// with its settings block filled in, scripts/auth0-code.js), evaluated in a fresh context that
// has only the globals Auth0 gives it, never the test's own scope. The Login script gets the custom
// database sandbox's (`configuration`, the error classes, `require` for Node's built-in
// modules, and Node's usual globals); the Token Exchange Action is a module called with the
// trigger's `event` and `api`, emulated here as Auth0 documents them.
'use strict';
const fs = require('node:fs');
const vm = require('node:vm');
const { builtinModules } = require('node:module');
const { generatedCode } = require('../../scripts/auth0-code.js');

// Auth0's error classes for custom database scripts
// (https://auth0.com/docs/authenticate/database-connections/custom-db/error-handling).
class WrongUsernameOrPasswordError extends Error {
  constructor(identifier, message) {
    super(message);
    this.name = 'WrongUsernameOrPasswordError';
    this.identifier = identifier;
  }
}
class ValidationError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'ValidationError';
    this.code = code;
  }
}
class UnauthorizedError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UnauthorizedError';
  }
}

// What a script loaded here called out to: the modules it required and the fetches it made.
function newActivity() {
  return { required: [], fetched: [] };
}

// What both runtimes give the code besides their own objects: `require` for Node's built-in
// modules (the Login script's sandbox offers no others; the Action declares no npm
// dependency), `fetch` (`options.fetch` stands in for it), both recorded in `activity`, and
// Node's usual globals; the outer realm's Error, so `instanceof Error` works on what the code
// creates.
function nodeGlobals(activity, options) {
  return {
    require(name) {
      activity.required.push(name);
      const bare = name.replace(/^node:/, '');
      if (!builtinModules.includes(bare)) throw new Error(`module ${name} is not available here`);
      return require(bare);
    },
    fetch(...args) {
      activity.fetched.push(String(args[0]));
      return (options.fetch || fetch)(...args);
    },
    Error, Buffer, AbortController, setTimeout, clearTimeout, console, TextEncoder, TextDecoder
  };
}

// The source of the code to run: `options.code`, else `options.file`, else the shipped code of
// `kind` with `options.settings` in its generated settings block, as `make auth0-setup` writes it.
function sourceOf(kind, options) {
  if (options.code !== undefined) return options.code;
  if (options.file) return fs.readFileSync(options.file, 'utf8');
  return generatedCode(kind, options.settings || {});
}

// Loads the Login script with `configuration` as the connection's (encrypted) settings and
// `options.settings` as its generated settings block (see `sourceOf`). `activity` records what
// it requires and fetches; `fetch` stands in for the global.
function loadLogin(configuration, options = {}) {
  const activity = options.activity || newActivity();
  const sandbox = {
    configuration,
    WrongUsernameOrPasswordError,
    ValidationError,
    UnauthorizedError,
    ...nodeGlobals(activity, options)
  };
  vm.createContext(sandbox);
  vm.runInContext(sourceOf('login', options), sandbox, { filename: 'login.js' });
  if (typeof sandbox.login !== 'function') throw new Error('the Login script defines no login function');
  return { login: sandbox.login, activity };
}

// Loads the Custom Token Exchange Action (see `sourceOf`) as Auth0's Actions runtime does: a
// CommonJS module whose `exports.onExecuteCustomTokenExchange(event, api)` Auth0 calls, with
// Node's globals (`nodeGlobals`). `activity` records what it requires and fetches.
function loadAction(options = {}) {
  const activity = options.activity || newActivity();
  const module = { exports: {} };
  const sandbox = { module, exports: module.exports, ...nodeGlobals(activity, options) };
  vm.createContext(sandbox);
  vm.runInContext(sourceOf('action', options), sandbox, { filename: 'token-exchange.js' });
  const handler = module.exports.onExecuteCustomTokenExchange;
  if (typeof handler !== 'function') throw new Error('the Action exports no onExecuteCustomTokenExchange');
  return { handler, activity };
}

const CREATION_BEHAVIORS = ['create_if_not_exists', 'none'];
const UPDATE_BEHAVIORS = ['replace', 'none'];

// The `api` object of the Custom Token Exchange trigger, as Auth0 documents it
// (https://auth0.com/docs/customize/actions/explore-triggers/signup-and-login-triggers/custom-token-exchange-trigger/custom-token-exchange-api-object),
// recording what the Action decided: `outcome` is {rejected: reason} (rejectInvalidSubjectToken,
// which Auth0 answers 400 invalid_request and counts for attack protection), {denied: {code,
// reason}}, {user: {connection, attributes, options}} (setUserByConnection) or {userId}
// (setUserById). Misuse throws, as Auth0 fails such an execution: calling two of them, a
// connection or user_id that is not a non-empty string, an unknown creation or update behaviour.
function newActionApi() {
  const record = { outcome: null };
  const decide = (outcome) => {
    if (record.outcome) throw new Error(`the Action decided twice: ${JSON.stringify(record.outcome)}, then ${JSON.stringify(outcome)}`);
    record.outcome = outcome;
  };
  const api = {
    access: {
      deny(code, reason) { decide({ denied: { code, reason } }); },
      rejectInvalidSubjectToken(reason) { decide({ rejected: reason }); }
    },
    authentication: {
      setUserById(userId) {
        if (typeof userId !== 'string' || userId === '') throw new Error('setUserById needs a user id');
        decide({ userId });
      },
      setUserByConnection(connection, attributes, options = {}) {
        if (typeof connection !== 'string' || connection === '') throw new Error('setUserByConnection needs a connection name');
        if (!attributes || typeof attributes.user_id !== 'string' || attributes.user_id === '') {
          throw new Error('setUserByConnection needs user_attributes.user_id');
        }
        if (options.creationBehavior !== undefined && !CREATION_BEHAVIORS.includes(options.creationBehavior)) {
          throw new Error(`unknown creationBehavior ${options.creationBehavior}`);
        }
        if (options.updateBehavior !== undefined && !UPDATE_BEHAVIORS.includes(options.updateBehavior)) {
          throw new Error(`unknown updateBehavior ${options.updateBehavior}`);
        }
        decide({ user: { connection, attributes: { ...attributes }, options: { ...options } } });
      }
    }
  };
  return { api, record };
}

// The `event` of the trigger for a request carrying `subjectToken`, with `secrets` as the
// Action's secrets and `clientId` as the application that asked.
function tokenExchangeEvent(subjectToken, secrets, clientId = 'bridge-client', subjectTokenType = 'urn:acme:authsignal-bridge-assertion') {
  return {
    transaction: { subject_token: subjectToken, subject_token_type: subjectTokenType, protocol: 'oauth2-token-exchange', requested_scopes: ['openid'] },
    client: { client_id: clientId, name: 'Authsignal bridge' },
    request: { ip: '203.0.113.7', method: 'POST', hostname: 'tenant.example.auth0.com' },
    tenant: { id: 'tenant' },
    resource_server: { identifier: 'https://api.example.com' },
    secrets: { ...secrets }
  };
}

// Runs the Action once, as Auth0 does: resolves with what it decided. An execution that
// decides nothing (no user set, not denied) fails, as it does at Auth0.
async function runAction(handler, event) {
  const { api, record } = newActionApi();
  await handler(event, api);
  if (!record.outcome) throw new Error('the Action neither set a user nor refused the exchange');
  return record.outcome;
}

// Calls `login` like Auth0 does and resolves with its single callback: {error, profile}.
// Rejects when the callback is never called within `timeoutMs`, or called twice.
function runLogin(login, identifier, password, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    let calls = 0;
    const hung = setTimeout(() => reject(new Error('the Login script never called back')), timeoutMs);
    login(identifier, password, {}, (error, profile) => {
      calls += 1;
      if (calls > 1) return reject(new Error('the Login script called back twice'));
      clearTimeout(hung);
      // Let a second, wrong callback show up before resolving.
      setTimeout(() => (calls === 1 ? resolve({ error: error || null, profile }) : null), 20);
    });
  });
}

module.exports = {
  WrongUsernameOrPasswordError,
  ValidationError,
  UnauthorizedError,
  loadLogin,
  runLogin,
  loadAction,
  runAction,
  tokenExchangeEvent,
  newActivity
};
