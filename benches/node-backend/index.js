// The Node back end of Authsignal's "Auth0 + passkeys for mobile apps" guide, built as the guide
// describes: validate the app's Authsignal token with the Authsignal Node SDK, then call Auth0's
// password-realm grant with username = the user id Authsignal returned and password = the token
// itself (Auth0's custom-database Login script validates it again). It is the baseline that the
// latency benchmark (benches/latency.rs) compares the Rust bridge against, and is never deployed.
//
// The benchmark runs it as a Lambda function against its Runtime API stand-in, like the bridge:
//   npm ci --prefix benches/node-backend
//   AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT SECRET_ID=... AWS_REGION=us-east-1 \
//   AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:PORT \
//   AUTHSIGNAL_API_URL=http://127.0.0.1:PORT/v1 AUTH0_DOMAIN=http://127.0.0.1:PORT \
//   node benches/node-backend/runtime.js
// Optional: AUTH0_REALM (authsignal), AUTH0_SCOPE (openid profile email), AUTH0_AUDIENCE,
// AUTHSIGNAL_ACTION. The secret SECRET_ID holds JSON with AUTHSIGNAL_SECRET, AUTH0_CLIENT_ID and
// AUTH0_CLIENT_SECRET. AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true silences the AWS
// SDK's stderr notice that Node 20 support ends in 2027.
"use strict";

const http = require("node:http");
const https = require("node:https");
const { createRequire } = require("node:module");
const { Authsignal } = require("@authsignal/node");
const { SecretsManagerClient, GetSecretValueCommand } = require("@aws-sdk/client-secrets-manager");

// One keep-alive pool per scheme for every upstream call, so warm invocations reuse connections
// (Node's global agents keep sockets alive too, but drop them after 5 s idle).
const agents = {
  "http:": new http.Agent({ keepAlive: true }),
  "https:": new https.Agent({ keepAlive: true }),
};
// The SDK posts through the default instance of its own axios without an agent option, so the
// pools go on that instance's defaults (resolved from the SDK's location: the same module).
const axios = createRequire(require.resolve("@authsignal/node"))("axios");
axios.defaults.httpAgent = agents["http:"];
axios.defaults.httpsAgent = agents["https:"];

const env = process.env;
// A full base URL (the benchmark's plain-HTTP stand-in) or a bare domain, meaning https://.
const AUTH0 = (env.AUTH0_DOMAIN || "").replace(/\/+$/, "");
const TOKEN_URL = new URL(`${/^https?:\/\//.test(AUTH0) ? AUTH0 : `https://${AUTH0}`}/oauth/token`);
const REALM = env.AUTH0_REALM || "authsignal";
const SCOPE = env.AUTH0_SCOPE || "openid profile email";
const AUDIENCE = env.AUTH0_AUDIENCE || undefined;
const ACTION = env.AUTHSIGNAL_ACTION || undefined;
const PASSWORD_REALM = "http://auth0.com/oauth/grant-type/password-realm";
const HEADERS = { "content-type": "application/json", "cache-control": "no-store" };

let authsignal; // built once by init()
let secret; // { AUTHSIGNAL_SECRET, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET }

// Module-load work, finished before the runtime asks for the first event.
async function init() {
  for (const name of ["AUTH0_DOMAIN", "AUTHSIGNAL_API_URL", "SECRET_ID"]) {
    if (!env[name]) throw new Error(`${name} is required`);
  }
  const client = new SecretsManagerClient({});
  const out = await client.send(new GetSecretValueCommand({ SecretId: env.SECRET_ID }));
  client.destroy(); // read once: no need to keep its connection open
  secret = JSON.parse(out.SecretString);
  // The SDK builds every URL as `${apiUrl}/validate` etc., so apiUrl carries the /v1.
  authsignal = new Authsignal({ apiSecretKey: secret.AUTHSIGNAL_SECRET, apiUrl: env.AUTHSIGNAL_API_URL });
}

const answer = (statusCode, body) => ({ statusCode, headers: HEADERS, body });
const oauthError = (statusCode, error) => answer(statusCode, JSON.stringify({ error }));

// POST a form to Auth0's token endpoint; resolves to { status, text }.
function postToken(fields, sourceIp) {
  const body = new URLSearchParams(fields).toString();
  const headers = {
    "content-type": "application/x-www-form-urlencoded",
    "content-length": Buffer.byteLength(body),
    accept: "application/json",
  };
  if (sourceIp) headers["auth0-forwarded-for"] = sourceIp; // Auth0's brute-force protection
  const transport = TOKEN_URL.protocol === "http:" ? http : https;
  return new Promise((resolve, reject) => {
    const req = transport.request(
      TOKEN_URL,
      { method: "POST", headers, agent: agents[TOKEN_URL.protocol] },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

// Auth0's answer for the app: success and 4xx as they are, anything else 502.
async function exchange(fields, sourceIp) {
  let res;
  try {
    res = await postToken(fields, sourceIp);
  } catch (e) {
    console.error("auth0 unreachable:", e.message);
    return oauthError(502, "temporarily_unavailable");
  }
  if (res.status >= 200 && res.status < 300) return answer(200, res.text);
  if (res.status >= 400 && res.status < 500) return answer(res.status, res.text);
  console.error("auth0 answered", res.status);
  return oauthError(502, "temporarily_unavailable");
}

async function signIn(token, sourceIp) {
  let result;
  try {
    result = await authsignal.validateChallenge({ token, action: ACTION });
  } catch (e) {
    // The SDK maps every failure to an AuthsignalError; a 4xx is about the token.
    if (e.statusCode >= 400 && e.statusCode < 500) return oauthError(400, "invalid_grant");
    console.error("authsignal failed:", e.message);
    return oauthError(502, "temporarily_unavailable");
  }
  if (result.isValid !== true || result.state !== "CHALLENGE_SUCCEEDED" || !result.userId) {
    return oauthError(400, "invalid_grant");
  }
  if (ACTION && result.action !== ACTION) return oauthError(400, "invalid_grant");
  const fields = {
    grant_type: PASSWORD_REALM,
    realm: REALM,
    username: result.userId,
    password: token,
    client_id: secret.AUTH0_CLIENT_ID,
    client_secret: secret.AUTH0_CLIENT_SECRET,
    scope: SCOPE,
  };
  if (AUDIENCE) fields.audience = AUDIENCE;
  return exchange(fields, sourceIp);
}

// API Gateway HTTP API (payload 2.0) event -> response.
async function handler(event) {
  let input;
  try {
    const raw = event.isBase64Encoded ? Buffer.from(event.body || "", "base64").toString() : event.body;
    input = JSON.parse(raw || "");
  } catch {
    return oauthError(400, "invalid_request");
  }
  const sourceIp = event.requestContext?.http?.sourceIp;
  if (input?.grant_type === "refresh_token") {
    if (typeof input.refresh_token !== "string" || !input.refresh_token) {
      return oauthError(400, "invalid_request");
    }
    return exchange(
      {
        grant_type: "refresh_token",
        refresh_token: input.refresh_token,
        client_id: secret.AUTH0_CLIENT_ID,
        client_secret: secret.AUTH0_CLIENT_SECRET,
      },
      sourceIp,
    );
  }
  if (input?.grant_type !== undefined) return oauthError(400, "unsupported_grant_type");
  if (typeof input?.token !== "string" || !input.token) return oauthError(400, "invalid_request");
  return signIn(input.token, sourceIp);
}

module.exports = { ready: init(), handler };
