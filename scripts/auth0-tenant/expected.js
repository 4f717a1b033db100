// The code the tenant must run (the Login script or the Action, with its settings block), from
// what this run was told and what the tenant runs now: setup writes it, check compares with it.
// Never a new key, and never a value read back from where Auth0 hides it.
'use strict';
const crypto = require('node:crypto');
const desired = require('./desired.js');
const { generatedCode, readSettings } = require('../auth0-code.js');
const { canonicalKeys, publicKeysProblem } = require('./inputs.js');
const { OperatorError } = require('./errors.js');

const loginCodeOf = (tenant) => (tenant.connection && ((tenant.connection.options || {}).customScripts || {}).login) || '';
const actionCodeOf = (tenant) => (tenant.action && tenant.action.code) || '';

// The settings block of `code` (null without one).
const settingsIn = (code) => (readSettings(code) || { settings: null }).settings;

// The public keys `code`'s block lists (null when it lists none, or nothing usable).
function keysIn(code) {
  const settings = settingsIn(code);
  const keys = settings && settings.BRIDGE_PUBLIC_KEYS;
  return Array.isArray(keys) && !publicKeysProblem(keys) ? canonicalKeys(keys) : null;
}

// The keys the code must list: the bridge's (`keySource`, from the stack or BRIDGE_PUBLIC_KEYS)
// when this run has them, else the ones the tenant's code lists now: setup never makes a key,
// and never changes one it was not given. Null when there are neither.
function keysToPublish(currentCode, keySource) {
  return keySource ? keySource.keys : keysIn(currentCode);
}

const refuseWithoutKeys = (where) => new OperatorError(`${where} lists no public keys of the bridge, and this run was given none. ` +
  'Fix: run with --stack <the bridge\'s stack> (make auth0-setup STACK=...), or give BRIDGE_PUBLIC_KEYS (make signing-key).');

// STRIP_PROVIDER_PREFIX for the Login script: the environment's (true/false) when given, else the
// script's generated value, else, so that users keep their ids: on for an existing connection
// of the Authsignal token design (the guide's script, and this one's before the generated
// block, stripped by default), off with assertions and on a new connection. A connection
// setting of that name cannot be read back (Auth0 encrypts it): with one and no generated
// value the run refuses.
function stripProviderPrefixFor(tenant, settings, environment) {
  const given = (environment.STRIP_PROVIDER_PREFIX || '').trim().toLowerCase();
  if (given === 'true' || given === 'false') return given === 'true';
  if (given) throw new OperatorError('STRIP_PROVIDER_PREFIX must be true or false. Fix: correct it, or leave it unset.');
  const generated = settingsIn(loginCodeOf(tenant));
  if (generated && typeof generated.STRIP_PROVIDER_PREFIX === 'boolean') return generated.STRIP_PROVIDER_PREFIX;
  const configured = Object.keys(((tenant.connection || {}).options || {}).configuration || {});
  if (configured.includes('STRIP_PROVIDER_PREFIX')) {
    throw new OperatorError('the connection\'s settings hold STRIP_PROVIDER_PREFIX, which Auth0 shows only encrypted. ' +
      'Fix: say what it is: STRIP_PROVIDER_PREFIX=false (new tenants), or =true (users made by the guide\'s script).');
  }
  return settings.signInProof !== 'assertion' && loginCodeOf(tenant) !== '';
}

// ---- the Authsignal token design: the connection's secret settings ----------------------------

const AUTHSIGNAL_SETTINGS = ['AUTHSIGNAL_SECRET', 'AUTHSIGNAL_CONNECT_URL', 'AUTHSIGNAL_TIMEOUT_MS'];
const NOTE = 'connection settings written with sha256 ';

// The connection settings this run was given (SignInProof=authsignal-token): null when none.
function authsignalSettingsGiven(environment) {
  const given = Object.fromEntries(AUTHSIGNAL_SETTINGS.filter((n) => environment[n]).map((n) => [n, environment[n]]));
  if (!Object.keys(given).length) return null;
  if (!given.AUTHSIGNAL_SECRET || !given.AUTHSIGNAL_CONNECT_URL) {
    throw new OperatorError('give AUTHSIGNAL_SECRET and AUTHSIGNAL_CONNECT_URL together. Fix: set both (or neither).');
  }
  if (!/^https:\/\/[^/]+\/?$/.test(given.AUTHSIGNAL_CONNECT_URL) && !/^http:\/\/(localhost|127\.\d+\.\d+\.\d+)(:\d+)?\/?$/.test(given.AUTHSIGNAL_CONNECT_URL)) {
    throw new OperatorError('AUTHSIGNAL_CONNECT_URL must be an https:// host. Fix: e.g. https://us.connect.authsignal.com.');
  }
  return given;
}

// A salted digest of the connection settings setup wrote, kept as a note in the script's
// settings block: Auth0 shows the settings only encrypted, so this is how a later run tells
// that the ones it is given are already there (and writes nothing). Salted: it stands in code
// anyone with read:connections sees.
function settingsNote(configuration, salt = crypto.randomBytes(16).toString('hex')) {
  const text = JSON.stringify(Object.keys(configuration).sort().map((name) => [name, configuration[name]]));
  return `${NOTE}${salt}:${crypto.createHash('sha256').update(`${salt}:${text}`).digest('hex')}`;
}

// The note in `code`, if any.
function noteIn(code) {
  const read = readSettings(code);
  return read ? read.notes.find((note) => note.startsWith(NOTE)) || null : null;
}

// Whether `code`'s note says the connection holds exactly `configuration`.
function noteMatches(code, configuration) {
  const note = noteIn(code);
  if (!note) return false;
  const salt = note.slice(NOTE.length).split(':')[0];
  return note === settingsNote(configuration, salt);
}

// ---- the code ------------------------------------------------------------------------------

// The Login script for `keys` (null: the Authsignal token design), the user id mapping and
// `notes` (the settings note).
function loginCode(settings, keys, stripProviderPrefix, notes = []) {
  return generatedCode('login', desired.loginSettings(settings, keys, stripProviderPrefix), notes);
}

// The Action for `keys` and the bridge's application `clientId`.
function actionCode(settings, keys, clientId) {
  return generatedCode('action', desired.actionSettings(settings, keys, clientId));
}

module.exports = {
  loginCodeOf,
  actionCodeOf,
  settingsIn,
  keysIn,
  keysToPublish,
  refuseWithoutKeys,
  stripProviderPrefixFor,
  authsignalSettingsGiven,
  settingsNote,
  noteIn,
  noteMatches,
  loginCode,
  actionCode
};
