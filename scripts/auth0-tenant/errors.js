// Errors an operator can act on: each is one line that says what was being done, what the other
// side answered, and the fix. The commands print an OperatorError's message and nothing else
// (no stack trace, no SDK dump) and exit 2.
'use strict';

class OperatorError extends Error {
  // `answer`: what the other side answered, when it did ({status, code}), for callers that
  // treat some answers as "not offered here".
  constructor(message, answer = {}) {
    super(String(message).replace(/\s*\n\s*/g, ' '));
    this.name = 'OperatorError';
    this.status = answer.status;
    this.code = answer.code;
  }
}

const SCOPES_FIX = 'grant them to the Management API application (Applications -> APIs -> Auth0 Management API -> ' +
  'Machine to Machine Applications), or use a token that has them';

// The fix for a Management API answer of `status` with Auth0's `error` code and `message`.
function managementFix(status, code, message) {
  if (status === 401) return 'check AUTH0_MANAGEMENT_CLIENT_ID and AUTH0_MANAGEMENT_CLIENT_SECRET, or get a fresh AUTH0_MANAGEMENT_TOKEN';
  if (status === 403 && (code === 'insufficient_scope' || /scope/i.test(message))) return SCOPES_FIX;
  if (status === 403) return 'the tenant does not allow this (a feature of another plan, or one Auth0 must enable)';
  if (status === 404) return 'it is gone (changed by someone else meanwhile?): run the command again';
  if (status === 409) return 'it exists already: run the command again, it finds and updates it';
  if (status === 429) return 'Auth0\'s rate limit held after the waits: run the command again in a minute';
  if (status >= 500) return 'Auth0 failed: run the command again (it changes only what still differs)';
  return 'Auth0 refused the request as sent: report this line to the bridge\'s maintainers';
}

// An SDK or fetch failure while doing `what`, as one line.
function managementFailure(what, error) {
  if (error instanceof OperatorError) return error;
  const status = error.statusCode || (error.rawResponse && error.rawResponse.status);
  if (!status) {
    const cause = error.cause && (error.cause.code || error.cause.message);
    return new OperatorError(`${what}: no answer from the Management API (${cause || error.message}). ` +
      'Fix: check Auth0Domain, AUTH0_TENANT_DOMAIN and AUTH0_MANAGEMENT_API_URL, and the network.');
  }
  const body = error.body && typeof error.body === 'object' ? error.body : {};
  const code = body.errorCode || body.error || '';
  const message = String(body.message || body.error_description || error.message || '').split('\n')[0];
  return new OperatorError(`${what}: Auth0 answered ${status}${code ? ` ${code}` : ''}: ${message}. Fix: ${managementFix(status, code, message)}.`,
    { status, code });
}

module.exports = { OperatorError, managementFailure, SCOPES_FIX };
