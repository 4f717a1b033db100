/**
 * Auth0 custom database connection "authsignal": Login script.
 *
 * Paste this function into Auth0 (Authentication > Database > authsignal > Custom Database >
 * Login). The bridge calls Auth0's /oauth/token with username = the Authsignal user id and
 * password = the Authsignal token; this script asks Authsignal who owns the token and returns
 * that user's profile.
 *
 * Connection settings (Custom Database > Settings):
 *   AUTHSIGNAL_SECRET       the tenant's secret key
 *   AUTHSIGNAL_CONNECT_URL  the tenant region's connect host, e.g. https://us.connect.authsignal.com
 *                           (EU: https://eu.connect.authsignal.com)
 *   AUTHSIGNAL_TIMEOUT_MS   optional, default 5000
 *
 * Compared with the script in Authsignal's guide, every path calls `callback` exactly once
 * (the guide's never called it when the answer had no userId, so the login hung until Auth0's
 * timeout), the user id is used whether or not it carries a `provider|` prefix, Basic auth is
 * built explicitly (the guide misspelled `sendImmediately`), the host is a setting instead of a
 * hard-coded region, the token must belong to the user the bridge names, and a network failure
 * is an error rather than a wrong password. Needs the Node 18+ runtime (global fetch).
 */
function login(identifierValue, password, context, callback) {
  var settled = false;
  function done(error, profile) {
    if (settled) return;
    settled = true;
    callback(error, profile);
  }
  function rejected(reason) {
    done(new WrongUsernameOrPasswordError(identifierValue, reason));
  }

  var base = String(configuration.AUTHSIGNAL_CONNECT_URL || '').replace(/\/+$/, '');
  var secret = configuration.AUTHSIGNAL_SECRET;
  var loopback = /^http:\/\/(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(base);
  if (!secret || !(/^https:\/\/[^/]+$/.test(base) || loopback)) {
    return done(new Error('The authsignal connection is not configured: set AUTHSIGNAL_SECRET and ' +
      'AUTHSIGNAL_CONNECT_URL (https://<region>.connect.authsignal.com) in its settings.'));
  }
  if (typeof password !== 'string' || password.length === 0 || password.length > 4096) {
    return rejected('Invalid Authsignal token.');
  }

  var timeoutMs = Number(configuration.AUTHSIGNAL_TIMEOUT_MS) || 5000;
  var controller = new AbortController();
  var timer = setTimeout(function () { controller.abort(); }, timeoutMs);

  fetch(base + '/get-user', {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Authorization: 'Basic ' + Buffer.from(secret + ':').toString('base64')
    },
    body: JSON.stringify({ token: password }),
    signal: controller.signal
  })
    .then(function (response) {
      return response.text().then(function (text) {
        if (response.status === 401 || response.status === 403) {
          return done(new Error('Authsignal rejected the connection\'s secret key (HTTP ' +
            response.status + '): check AUTHSIGNAL_SECRET and the region of AUTHSIGNAL_CONNECT_URL.'));
        }
        if (response.status >= 500) {
          return done(new Error('Authsignal is unavailable (HTTP ' + response.status + ').'));
        }
        if (response.status >= 400) {
          return rejected('Authsignal rejected the token.');
        }
        var user;
        try {
          user = JSON.parse(text);
        } catch (e) {
          return done(new Error('Authsignal answered with something other than JSON.'));
        }
        if (!user || typeof user.userId !== 'string' || user.userId === '') {
          return rejected('The token does not belong to any user.');
        }
        // The bridge names the user Authsignal validated; the token must be that user's.
        if (identifierValue && identifierValue !== user.userId) {
          return rejected('The token belongs to another user.');
        }
        // Auth0 adds its own "auth0|" prefix to a custom database's ids: drop a provider prefix
        // Authsignal may carry (an id synced from Auth0), keep plain ids as they are.
        var separator = user.userId.indexOf('|');
        var profile = {
          user_id: separator >= 0 ? user.userId.slice(separator + 1) : user.userId
        };
        if (typeof user.email === 'string' && user.email !== '') {
          profile.email = user.email;
          // Only what Authsignal states: a passkey proves the device, not the mailbox.
          if (typeof user.emailVerified === 'boolean') profile.email_verified = user.emailVerified;
        }
        if (typeof user.username === 'string' && user.username !== '') profile.username = user.username;
        return done(null, profile);
      });
    })
    .catch(function (error) {
      var reason = error && error.name === 'AbortError'
        ? 'timed out after ' + timeoutMs + ' ms'
        : (error && error.message) || 'network error';
      done(new Error('Could not reach Authsignal: ' + reason + '.'));
    })
    .finally(function () {
      clearTimeout(timer);
    });
}
