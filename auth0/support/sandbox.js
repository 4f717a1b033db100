// Runs the shipped Auth0 scripts the way Auth0 does, for their tests and for the Auth0 stand-in
// (scripts/stand-ins/auth0.js): the file's source evaluated in a fresh context that has only
// the globals Auth0's custom database sandbox gives a script (`configuration`, the error
// classes, `require` for Node's built-in modules, and Node's usual globals), never the test's
// own scope.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { builtinModules } = require('node:module');

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

const AUTH0_DIR = path.join(__dirname, '..');

// What a script loaded here called out to: the modules it required and the fetches it made.
function newActivity() {
  return { required: [], fetched: [] };
}

// Loads the Login script (auth0/login.js, or `file`) with `configuration` as the connection's
// settings. `activity` records what it requires and fetches; `fetch` stands in for the global.
function loadLogin(configuration, options = {}) {
  const activity = options.activity || newActivity();
  const sandbox = {
    configuration,
    WrongUsernameOrPasswordError,
    ValidationError,
    UnauthorizedError,
    require(name) {
      activity.required.push(name);
      const bare = name.replace(/^node:/, '');
      if (!builtinModules.includes(bare)) throw new Error(`module ${name} is not available in this sandbox`);
      return require(bare);
    },
    fetch(...args) {
      activity.fetched.push(String(args[0]));
      return (options.fetch || fetch)(...args);
    },
    // The outer realm's Error, so `instanceof Error` works on what the script creates.
    Error, Buffer, AbortController, setTimeout, clearTimeout, console, TextEncoder, TextDecoder
  };
  vm.createContext(sandbox);
  const source = fs.readFileSync(options.file || path.join(AUTH0_DIR, 'login.js'), 'utf8');
  vm.runInContext(source, sandbox, { filename: 'login.js' });
  if (typeof sandbox.login !== 'function') throw new Error('the Login script defines no login function');
  return { login: sandbox.login, activity };
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
  newActivity
};
