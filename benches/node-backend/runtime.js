// A minimal client of the Lambda Runtime API (the loop a custom runtime runs), so the benchmark
// starts this back end exactly as it starts the Rust bridge: `node runtime.js` with
// AWS_LAMBDA_RUNTIME_API set. See index.js for the rest of the environment.
"use strict";

const http = require("node:http");

const API = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime`;
// The Runtime API is plain HTTP on loopback: one kept-alive socket, and no timeout, since
// `next` blocks until an event arrives.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    if (data) {
      headers["content-type"] = "application/json";
      headers["content-length"] = data.length;
    }
    const req = http.request(`${API}${path}`, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ res, text: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(data);
  });
}

const errorBody = (e) =>
  JSON.stringify({
    errorType: e?.name || "Error",
    errorMessage: e?.message || String(e),
    stackTrace: (e?.stack || "").split("\n").slice(1).map((l) => l.trim()),
  });
const errorHeaders = () => ({ "lambda-runtime-function-error-type": "Unhandled" });

async function main() {
  let app;
  try {
    app = require("./index.js");
    await app.ready;
  } catch (e) {
    console.error("init failed:", e);
    await call("POST", "/init/error", errorBody(e), errorHeaders()).catch(() => {});
    process.exit(1);
  }
  for (;;) {
    const { res, text } = await call("GET", "/invocation/next");
    const id = res.headers["lambda-runtime-aws-request-id"];
    // As the managed runtimes do, so an X-Ray-aware SDK would find the trace.
    if (res.headers["lambda-runtime-trace-id"]) {
      process.env._X_AMZN_TRACE_ID = res.headers["lambda-runtime-trace-id"];
    }
    let result;
    try {
      result = await app.handler(JSON.parse(text));
    } catch (e) {
      console.error("invocation failed:", e);
      await call("POST", `/invocation/${id}/error`, errorBody(e), errorHeaders());
      continue;
    }
    await call("POST", `/invocation/${id}/response`, JSON.stringify(result));
  }
}

main().catch((e) => {
  // The Runtime API itself failed: nothing to report to, so stop as a runtime would.
  console.error("runtime loop failed:", e);
  process.exit(1);
});
