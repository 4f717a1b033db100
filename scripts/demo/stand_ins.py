#!/usr/bin/env python3
"""Loopback stand-ins for Authsignal's server API and Auth0's authentication API, for `make demo`
and the HTTP-level tests (tests/http/).

They follow the real request and response shapes closely enough to exercise the bridge, as the
providers' SDK fixtures record them: Basic auth on Authsignal's `POST /v1/validate`; on Auth0,
the form-encoded `POST /oauth/token` with the password-realm grant and the refresh grant (with
refresh token rotation and reuse detection) and the JSON `POST /oauth/revoke`, with the real
error bodies. Standard library only. Never part of the Lambda binary.

Usage: stand_ins.py AUTHSIGNAL_PORT AUTH0_PORT [--any-token | --permissive]
Environment: DEMO_AUTHSIGNAL_SECRET, DEMO_AUTH0_CLIENT_ID, DEMO_AUTH0_CLIENT_SECRET (what the
stand-ins accept), DEMO_VALID_TOKEN (the one token whose challenge succeeded).

--any-token (the OAuth client library test): every non-empty Authsignal token is a succeeded
passkey challenge, the same token always the same challenge (as in Authsignal), so each test can
sign in with a token of its own.

--permissive (the API conformance run): as --any-token, but every validation is a new challenge
(a new idempotencyKey), and every refresh token Auth0 is asked about is a live one, so any
well-formed request, however often repeated, can get a 200.
"""
import base64
import hashlib
import json
import os
import secrets
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

SECRET = os.environ["DEMO_AUTHSIGNAL_SECRET"]
CLIENT_ID = os.environ["DEMO_AUTH0_CLIENT_ID"]
CLIENT_SECRET = os.environ["DEMO_AUTH0_CLIENT_SECRET"]
VALID_TOKEN = os.environ["DEMO_VALID_TOKEN"]
PERMISSIVE = "--permissive" in sys.argv
ANY_TOKEN = PERMISSIVE or "--any-token" in sys.argv
USER_ID = "demo-user-7c1f"
PASSWORD_REALM = "http://auth0.com/oauth/grant-type/password-realm"
UNKNOWN_REFRESH_TOKEN = {"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_HEAD(self):
        # The bridge opens its connections during init with a HEAD; any answer will do.
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

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
        # The same token is the same challenge: its idempotencyKey does not change.
        valid, key = token == VALID_TOKEN, str(uuid.UUID(bytes=hashlib.sha256(token.encode()).digest()[:16]))
        if ANY_TOKEN:
            valid = bool(token)
        if PERMISSIVE:
            key = str(uuid.uuid4())
        if not valid:
            return self.answer(200, {"isValid": False, "error": "Token is invalid or expired."})
        return self.answer(200, {
            "isValid": True,
            "state": "CHALLENGE_SUCCEEDED",
            "stateUpdatedAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "userId": USER_ID,
            "action": "signInWithPasskey",
            "idempotencyKey": key,
            "verificationMethod": "PASSKEY",
        })


class RefreshTokens:
    """Auth0's refresh tokens with rotation and reuse detection: redeeming a token returns a new
    one and retires the old; presenting a retired token again revokes its whole family."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tokens = {}  # token -> {"family", "scope", "state": "live" | "used" | "revoked"}

    def issue(self, scope, family=None):
        token = "v1.demo-rt." + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = {"family": family or token, "scope": scope, "state": "live"}
        return token

    def redeem(self, token):
        """The live token's record (then retired), or None."""
        if PERMISSIVE:
            return {"family": token, "scope": None, "state": "live"}
        with self.lock:
            record = self.tokens.get(token)
            if record is None or record["state"] == "revoked":
                return None
            if record["state"] == "used":
                self.revoke_family(record["family"])
                return None
            record["state"] = "used"
            return record

    def revoke(self, token):
        with self.lock:
            record = self.tokens.get(token)
            if record is not None:
                self.revoke_family(record["family"])

    def revoke_family(self, family):
        for record in self.tokens.values():
            if record["family"] == family:
                record["state"] = "revoked"


REFRESH_TOKENS = RefreshTokens()


def token_answer(scope, refresh_token=None):
    answer = {
        "access_token": "eyJhbGciOiJSUzI1NiJ9.demo-access-token-%s.sig" % secrets.token_hex(4),
        "id_token": "eyJhbGciOiJSUzI1NiJ9.demo-id-token.sig",
        "scope": scope,
        "expires_in": 86400,
        "token_type": "Bearer",
    }
    if refresh_token:
        answer["refresh_token"] = refresh_token
    return answer


class Auth0(Handler):
    def do_POST(self):
        if self.path == "/oauth/token":
            return self.token(parse_form(self.body()))
        if self.path == "/oauth/revoke":
            try:
                body = json.loads(self.body())
            except ValueError:
                body = None
            if not isinstance(body, dict) or not isinstance(body.get("token"), str):
                return self.answer(400, {"error": "invalid_request", "error_description": "Invalid request body. All and only of client_id, client_secret, token, are required."})
            return self.revoke(body)
        return self.answer(404, {"error": "not_found", "error_description": "Not found"})

    def client_is_known(self, body):
        return body.get("client_id") == CLIENT_ID and body.get("client_secret") == CLIENT_SECRET

    def token(self, form):
        if not self.client_is_known(form):
            return self.answer(401, {"error": "access_denied", "error_description": "Unauthorized"})
        if form.get("grant_type") == "refresh_token":
            return self.refresh(form)
        if form.get("grant_type") != PASSWORD_REALM or form.get("realm") != "authsignal":
            return self.answer(403, {"error": "unauthorized_client",
                                     "error_description": "Grant type not allowed for the client."})
        # The Login script of the `authsignal` connection would ask Authsignal who owns the token.
        valid = ANY_TOKEN and form.get("password") or form.get("password") == VALID_TOKEN
        if form.get("username") != USER_ID or not valid:
            return self.answer(403, {"error": "invalid_grant", "error_description": "Wrong email or password."})
        scope = form.get("scope", "openid")
        # A refresh token only with offline_access, as Auth0 does.
        refresh_token = REFRESH_TOKENS.issue(scope) if "offline_access" in scope.split() else None
        return self.answer(200, token_answer(scope, refresh_token))

    def refresh(self, form):
        record = REFRESH_TOKENS.redeem(form.get("refresh_token", ""))
        if record is None:
            return self.answer(403, UNKNOWN_REFRESH_TOKEN)
        granted = (record["scope"] or form.get("scope") or "openid offline_access").split()
        asked = form.get("scope", "").split() or granted
        if not set(asked) <= set(granted):
            return self.answer(403, {"error": "invalid_scope",
                                     "error_description": "Scope must be a subset of the original grant."})
        scope = " ".join(asked)
        return self.answer(200, token_answer(scope, REFRESH_TOKENS.issue(" ".join(granted), record["family"])))

    def revoke(self, body):
        if not self.client_is_known(body):
            return self.answer(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        REFRESH_TOKENS.revoke(body["token"])
        return self.answer(200)


def parse_form(data):
    return {k: v[0] for k, v in parse_qs(data.decode(errors="replace")).items()}


def serve(name, handler, port):
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.name = name
    threading.Thread(target=server.serve_forever, daemon=True).start()


if __name__ == "__main__":
    serve("authsignal", Authsignal, int(sys.argv[1]))
    serve("auth0", Auth0, int(sys.argv[2]))
    print("stand-ins ready", flush=True)
    threading.Event().wait()
