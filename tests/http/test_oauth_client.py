"""A standard OAuth 2.0 client library talks to the bridge as to any authorization server,
without knowing the client secret: oauthlib builds its ordinary form-encoded refresh request and
RFC 7009 revocation request, requests-oauthlib refreshes through an OAuth2Session, and both
parse the bridge's answers (tokens and OAuth errors) with their own parsers.

Runs against the real binary over HTTP (see stack.py), with the stand-ins playing Auth0 with
refresh token rotation and reuse detection, and DPoP (RFC 9449) as Auth0 documents it: a whole
session with one key, the proofs signed by the client for Auth0's token endpoint. The proofs
are made with `cryptography` (which moto brings). `make test-http` runs it.
"""
import base64
import json
import time
import os
import unittest
import uuid

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from oauthlib.oauth2 import InvalidGrantError, WebApplicationClient
from requests_oauthlib import OAuth2Session

from stack import Stack

# The stack serves plain HTTP on loopback; oauthlib refuses http:// URLs unless told this.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

# What the app knows: its Auth0 client id (for the id_token's `aud`), never the secret.
APP_CLIENT_ID = "app-client-id"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class DpopKey:
    """An app's P-256 key (the Secure Enclave's or Android Keystore's kind) and its proofs."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.key.public_key().public_numbers()
        self.jwk = {"kty": "EC", "crv": "P-256", "x": b64url(numbers.x.to_bytes(32, "big")),
                    "y": b64url(numbers.y.to_bytes(32, "big"))}

    def proof(self, htu, nonce=None):
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk}
        claims = {"jti": str(uuid.uuid4()), "htm": "POST", "htu": htu, "iat": int(time.time())}
        if nonce:
            claims["nonce"] = nonce
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


class OAuthClientLibrary(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Any token signs in, once: replay protection is on, so each test signs in with its own.
        cls.stack = Stack("--any-token").__enter__()
        cls.token_url = cls.stack.url + "/token"
        cls.revoke_url = cls.stack.url + "/revoke"

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)

    def sign_in(self):
        # The passkey sign-in is the bridge's own request: a JSON POST with the Authsignal token.
        token = f"eyJhbGciOiJIUzI1NiJ9.{uuid.uuid4()}.signature"
        answer = requests.post(self.token_url, json={"token": token}, timeout=10)
        self.assertEqual(answer.status_code, 200, answer.text)
        # Its second use is refused: one token, one sign-in.
        again = requests.post(self.token_url, json={"token": token}, timeout=10)
        self.assertEqual((again.status_code, again.json()["error"]), (400, "invalid_grant"))
        client = WebApplicationClient(APP_CLIENT_ID)
        tokens = client.parse_request_body_response(answer.text)
        self.assertIn("refresh_token", tokens)
        return client, tokens

    def post_form(self, url, body):
        return requests.post(url, data=body, timeout=10,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})

    def test_oauthlib_refreshes_with_its_ordinary_form_request_and_parses_the_answer(self):
        client, tokens = self.sign_in()
        body = client.prepare_refresh_body(refresh_token=tokens["refresh_token"], scope=["openid", "profile"])
        self.assertIn("grant_type=refresh_token", body)
        self.assertNotIn("client_secret", body)
        answer = self.post_form(self.token_url, body)
        self.assertEqual(answer.status_code, 200, answer.text)
        self.assertEqual(answer.headers["Cache-Control"], "no-store")
        refreshed = client.parse_request_body_response(answer.text, scope=["openid", "profile"])
        self.assertEqual(refreshed["token_type"], "Bearer")
        self.assertEqual(refreshed["scope"], ["openid", "profile"])
        self.assertNotEqual(refreshed["refresh_token"], tokens["refresh_token"], "rotated")

        # The spent refresh token again: Auth0's invalid_grant, which the library raises.
        again = self.post_form(self.token_url, client.prepare_refresh_body(refresh_token=tokens["refresh_token"]))
        self.assertEqual(again.status_code, 403)
        with self.assertRaises(InvalidGrantError):
            client.parse_request_body_response(again.text)

    def test_requests_oauthlib_session_refreshes_through_the_bridge(self):
        _, tokens = self.sign_in()
        session = OAuth2Session(APP_CLIENT_ID, token=tokens)
        # A public client: the library sends its client id, which the bridge ignores.
        refreshed = session.refresh_token(self.token_url, refresh_token=tokens["refresh_token"],
                                          include_client_id=True, timeout=10)
        self.assertTrue(refreshed["access_token"])
        self.assertNotEqual(refreshed["refresh_token"], tokens["refresh_token"])
        self.assertEqual(session.token["access_token"], refreshed["access_token"])

    def test_an_rfc_7009_revocation_signs_out_and_the_refresh_token_is_dead(self):
        client, tokens = self.sign_in()
        url, headers, body = client.prepare_token_revocation_request(
            self.revoke_url, tokens["refresh_token"], token_type_hint="refresh_token")
        answer = requests.post(url, data=body, headers=headers, timeout=10)
        self.assertEqual((answer.status_code, answer.json()), (200, {}))
        # Revoking it again is still a success for the app (RFC 7009 section 2.2).
        again = requests.post(url, data=body, headers=headers, timeout=10)
        self.assertEqual((again.status_code, again.json()), (200, {}))
        refresh = self.post_form(self.token_url, client.prepare_refresh_body(refresh_token=tokens["refresh_token"]))
        self.assertEqual(refresh.status_code, 403)
        with self.assertRaises(InvalidGrantError):
            client.parse_request_body_response(refresh.text)

    def test_a_dpop_session_with_one_key_signs_in_refreshes_and_signs_out(self):
        key = DpopKey()
        htu = self.stack.auth0_token_url
        token = f"eyJhbGciOiJIUzI1NiJ9.{uuid.uuid4()}.signature"
        signed_in = requests.post(self.token_url, json={"token": token}, timeout=10,
                                  headers={"DPoP": key.proof(htu)})
        self.assertEqual(signed_in.status_code, 200, signed_in.text)
        client = WebApplicationClient(APP_CLIENT_ID)
        tokens = client.parse_request_body_response(signed_in.text)
        self.assertEqual(tokens["token_type"], "DPoP")
        # The library's ordinary refresh body, with a fresh proof of the same key.
        body = client.prepare_refresh_body(refresh_token=tokens["refresh_token"])
        refreshed = requests.post(self.token_url, data=body, timeout=10, headers={
            "Content-Type": "application/x-www-form-urlencoded", "DPoP": key.proof(htu)})
        self.assertEqual(refreshed.status_code, 200, refreshed.text)
        refreshed_tokens = client.parse_request_body_response(refreshed.text)
        self.assertEqual(refreshed_tokens["token_type"], "DPoP")
        # Another key cannot use the session's refresh token.
        stolen = requests.post(self.token_url, timeout=10, headers={"DPoP": DpopKey().proof(htu)}, json={
            "grant_type": "refresh_token", "refresh_token": refreshed_tokens["refresh_token"]})
        self.assertEqual((stolen.status_code, stolen.json()["error"]), (400, "invalid_dpop_proof"))
        # Sign-out: the revocation needs no proof (a sent one is ignored).
        url, headers, body = client.prepare_token_revocation_request(
            self.revoke_url, refreshed_tokens["refresh_token"], token_type_hint="refresh_token")
        revoked = requests.post(url, data=body, headers={**headers, "DPoP": key.proof(htu)}, timeout=10)
        self.assertEqual((revoked.status_code, revoked.json()), (200, {}))
        dead = requests.post(self.token_url, data=client.prepare_refresh_body(
            refresh_token=refreshed_tokens["refresh_token"]), timeout=10, headers={
            "Content-Type": "application/x-www-form-urlencoded", "DPoP": key.proof(htu)})
        self.assertEqual(dead.status_code, 403)

    def test_other_grants_are_refused_as_oauth_errors_the_library_understands(self):
        client = WebApplicationClient(APP_CLIENT_ID)
        body = client.prepare_request_body(code="an-authorization-code", redirect_uri="com.example.app:/cb")
        answer = self.post_form(self.token_url, body)
        self.assertEqual(answer.status_code, 400)
        self.assertEqual(answer.json()["error"], "unsupported_grant_type")
        from oauthlib.oauth2.rfc6749.errors import UnsupportedGrantTypeError
        with self.assertRaises(UnsupportedGrantTypeError):
            client.parse_request_body_response(answer.text)


if __name__ == "__main__":
    unittest.main()
