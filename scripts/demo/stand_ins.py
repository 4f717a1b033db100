#!/usr/bin/env python3
"""Loopback stand-ins for Authsignal's server API and Auth0's token endpoint, for `make demo`.

They follow the real request and response shapes closely enough to exercise the bridge: Basic
auth on Authsignal's `POST /v1/validate`, form-encoded `POST /oauth/token` with the
password-realm grant on Auth0, and the real error bodies. Standard library only. Never part of
the Lambda binary.

Usage: stand_ins.py AUTHSIGNAL_PORT AUTH0_PORT
Environment: DEMO_AUTHSIGNAL_SECRET, DEMO_AUTH0_CLIENT_ID, DEMO_AUTH0_CLIENT_SECRET (what the
stand-ins accept), DEMO_VALID_TOKEN (the one token whose challenge succeeded).
"""
import base64
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

SECRET = os.environ["DEMO_AUTHSIGNAL_SECRET"]
CLIENT_ID = os.environ["DEMO_AUTH0_CLIENT_ID"]
CLIENT_SECRET = os.environ["DEMO_AUTH0_CLIENT_SECRET"]
VALID_TOKEN = os.environ["DEMO_VALID_TOKEN"]
USER_ID = "demo-user-7c1f"
PASSWORD_REALM = "http://auth0.com/oauth/grant-type/password-realm"


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def log_message(self, fmt, *args):
        sys.stderr.write("[%s] %s\n" % (self.server.name, fmt % args))


class Authsignal(Handler):
    def do_POST(self):
        if self.path != "/v1/validate":
            return self.answer(404, {"error": "not_found", "errorDescription": "Not found"})
        expected = "Basic " + base64.b64encode(f"{SECRET}:".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self.answer(401, {"error": "unauthorized", "errorDescription": "The request is unauthorized."})
        try:
            token = json.loads(self.body())["token"]
        except (ValueError, KeyError, TypeError):
            return self.answer(400, {"error": "invalid_request", "errorDescription": "token is required"})
        if token != VALID_TOKEN:
            return self.answer(200, {"isValid": False, "error": "Token is invalid or expired."})
        return self.answer(200, {
            "isValid": True,
            "state": "CHALLENGE_SUCCEEDED",
            "stateUpdatedAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "userId": USER_ID,
            "action": "signInWithPasskey",
            "idempotencyKey": "8c7f0c6e-4b7a-4f4e-9b7e-1f2d3c4b5a69",
            "verificationMethod": "PASSKEY",
        })


class Auth0(Handler):
    def do_POST(self):
        if self.path != "/oauth/token":
            return self.answer(404, {"error": "not_found", "error_description": "Not found"})
        form = {k: v[0] for k, v in parse_qs(self.body().decode()).items()}
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return self.answer(401, {"error": "access_denied", "error_description": "Unauthorized"})
        if form.get("grant_type") != PASSWORD_REALM or form.get("realm") != "authsignal":
            return self.answer(403, {"error": "unauthorized_client",
                                     "error_description": "Grant type not allowed for the client."})
        # The Login script of the `authsignal` connection would ask Authsignal who owns the token.
        if form.get("username") != USER_ID or form.get("password") != VALID_TOKEN:
            return self.answer(403, {"error": "invalid_grant", "error_description": "Wrong email or password."})
        return self.answer(200, {
            "access_token": "eyJhbGciOiJSUzI1NiJ9.demo-access-token.sig",
            "id_token": "eyJhbGciOiJSUzI1NiJ9.demo-id-token.sig",
            "scope": form.get("scope", "openid"),
            "expires_in": 86400,
            "token_type": "Bearer",
        })


def serve(name, handler, port):
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.name = name
    threading.Thread(target=server.serve_forever, daemon=True).start()


if __name__ == "__main__":
    serve("authsignal", Authsignal, int(sys.argv[1]))
    serve("auth0", Auth0, int(sys.argv[2]))
    print("stand-ins ready", flush=True)
    threading.Event().wait()
