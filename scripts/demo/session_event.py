#!/usr/bin/env python3
"""Writes a copy of a refresh or revocation fixture from events/ that carries another refresh
token (the one the previous answer of `make demo` gave), keeping the fixture's encoding: JSON,
or a form delivered base64-encoded as API Gateway does.

Usage: session_event.py FIXTURE REFRESH_TOKEN OUT [NAME=VALUE ...]
The NAME=VALUE pairs set (or add) more body parameters, e.g. scope=openid.
"""
import base64
import json
import sys
from urllib.parse import parse_qsl, urlencode

fixture, refresh_token, out = sys.argv[1:4]
extra = dict(pair.split("=", 1) for pair in sys.argv[4:])
event = json.load(open(fixture))
body = base64.b64decode(event["body"]).decode() if event.get("isBase64Encoded") else event["body"]
# The revocation endpoint names the refresh token `token`; the refresh grant `refresh_token`.
if body.lstrip().startswith("{"):
    fields = json.loads(body)
    field = "refresh_token" if "refresh_token" in fields else "token"
    fields.update({field: refresh_token, **extra})
    body = json.dumps(fields, separators=(",", ":"))
else:
    fields = dict(parse_qsl(body))
    field = "refresh_token" if "refresh_token" in fields else "token"
    fields.update({field: refresh_token, **extra})
    body = urlencode(fields)
if event.get("isBase64Encoded"):
    event["body"] = base64.b64encode(body.encode()).decode()
else:
    event["body"] = body
event["headers"]["content-length"] = str(len(body.encode()))
json.dump(event, open(out, "w"), indent=2)
