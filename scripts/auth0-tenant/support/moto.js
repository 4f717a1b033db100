// moto's server (CloudFormation, Secrets Manager, CloudWatch Logs and WAF on loopback) for the
// tests of --stack, the key rotation, make deploy and make smoke, started as
// tests/support/moto.rs starts it: the Python of MOTO_PYTHON, else the project's .venv
// (`make tools` installs moto[server] there), one request at a time
// (tests/support/moto_serialized.py). Stacks shaped like the bridge's, and their secrets, are
// made in it by scripts/deploy/support/moto-stack.js.
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..', '..');

// A loopback port nothing listens on now (for moto, and for the local bridge of make smoke's tests).
function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function listening(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
    socket.on('error', () => resolve(false));
  });
}

// Starts moto: {url, environment (what points the AWS SDK at it), stop}.
async function startMoto() {
  const python = process.env.MOTO_PYTHON || path.join(ROOT, '.venv', 'bin', 'python');
  if (!fs.existsSync(python)) throw new Error(`${python} not found: run \`make tools\` (it installs moto into .venv) or set MOTO_PYTHON`);
  const port = await freePort();
  const child = spawn(python, [path.join(ROOT, 'tests', 'support', 'moto_serialized.py'), '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const started = Date.now();
  while (!(await listening(port))) {
    if (Date.now() - started > 30000) { child.kill(); throw new Error('moto did not start in 30 s'); }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    environment: { AWS_ENDPOINT_URL: url, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' },
    stop: () => new Promise((resolve) => { child.once('exit', resolve); child.kill(); })
  };
}

module.exports = { startMoto, freePort };
