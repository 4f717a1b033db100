// The Management API application's credentials (docs/deploying.md, "Prerequisites"), for the
// tenant steps of `make deploy` and `make smoke`: from the environment
// (AUTH0_MANAGEMENT_CLIENT_ID and AUTH0_MANAGEMENT_CLIENT_SECRET, or AUTH0_MANAGEMENT_TOKEN), else
// asked on the terminal, the secret without echo. They are handed to the tenant command in
// memory and never written anywhere.
'use strict';
const { ask } = require('./prompt.js');

// The variables to add to the environment: {} when it has credentials already, or when there is
// no terminal and `required` is false (the tenant's own error then names what to set).
async function managementCredentials(environment, io = {}, { required = false } = {}) {
  if (environment.AUTH0_MANAGEMENT_TOKEN) return {};
  if (environment.AUTH0_MANAGEMENT_CLIENT_ID && environment.AUTH0_MANAGEMENT_CLIENT_SECRET) return {};
  const question = io.ask || ask;
  const input = io.input || process.stdin;
  if (!required && !input.isTTY) return {};
  const added = {};
  if (!environment.AUTH0_MANAGEMENT_CLIENT_ID) {
    added.AUTH0_MANAGEMENT_CLIENT_ID = await question('Auth0 Management API application, client id: ',
      { variable: 'AUTH0_MANAGEMENT_CLIENT_ID', input, output: io.prompts });
  }
  if (!environment.AUTH0_MANAGEMENT_CLIENT_SECRET) {
    added.AUTH0_MANAGEMENT_CLIENT_SECRET = await question('Auth0 Management API application, client secret (not shown): ',
      { hidden: true, variable: 'AUTH0_MANAGEMENT_CLIENT_SECRET', input, output: io.prompts });
  }
  return added;
}

module.exports = { managementCredentials };
