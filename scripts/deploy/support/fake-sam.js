#!/usr/bin/env node
// A stand-in for the SAM CLI in the tests of make deploy (deploy.js runs what SAM names): it
// records each call, with the parameter file `sam deploy` was given, in FAKE_SAM_LOG (JSON
// lines), and `deploy` creates or updates a stack shaped like the bridge's in moto (its secret
// with the template's placeholders), as CloudFormation would. FAKE_SAM_FAIL=build|deploy makes
// that command fail.
'use strict';
const fs = require('node:fs');
const { samconfigFor } = require('../../auth0-tenant/inputs.js');
const { createBridgeStack, updateBridgeStack, stackParameters } = require('./moto-stack.js');

async function main(args) {
  const [command] = args;
  const option = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
  const file = (option('--parameter-overrides') || '').replace(/^file:\/\//, '');
  const parameters = file ? JSON.parse(fs.readFileSync(file, 'utf8')) : null;
  fs.appendFileSync(process.env.FAKE_SAM_LOG, `${JSON.stringify({ args, parameters, file })}\n`);
  if (process.env.FAKE_SAM_FAIL === command) return 1;
  if (command !== 'deploy') return 0;
  const name = option('--stack-name') || samconfigFor(option('--config-env') || 'default', process.env).stackName;
  let exists = true;
  try { await stackParameters(process.env, name); } catch (error) { exists = false; }
  if (!exists) {
    await createBridgeStack(process.env, name, parameters);
    return 0;
  }
  try {
    await updateBridgeStack(process.env, name, parameters);
  } catch (error) {
    // fail_on_empty_changeset = false (samconfig.toml): a deploy that changes nothing succeeds.
    if (!/No updates are to be performed/.test(error.message)) throw error;
  }
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (error) => {
  process.stderr.write(`fake sam: ${error.stack}\n`);
  process.exit(1);
});
