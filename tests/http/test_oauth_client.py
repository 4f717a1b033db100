"""A standard OAuth 2.0 client library talks to the bridge as to any authorization server,
without knowing the client secret: oauthlib builds its ordinary form-encoded refresh request and
RFC 7009 revocation request, requests-oauthlib refreshes through an OAuth2Session, and both
parse the bridge's answers (tokens and OAuth errors) with their own parsers.

Runs against the real binary over HTTP (see stack.py), with the stand-ins playing Auth0 with
refresh token rotation and reuse detection. `make test-http` runs it.
"""
import os
import unittest
import uuid

import requests
from oauthlib.oauth2 import InvalidGrantError, WebApplicationClient
from requests_oauthlib import OAuth2Session

from stack import Stack

# The stack serves plain HTTP on loopback; oauthlib refuses http:// URLs unless told this.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

# What the app knows: its Auth0 client id (for the id_token's `aud`), never the secret.
APP_CLIENT_ID = "app-client-id"


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
