#!/usr/bin/env python3
"""Checks on template.yaml that neither `sam validate --lint` nor cfn-lint makes: the dashboard
body is valid JSON once its ${...} are substituted; every route the function serves is an `ANY`
route (so every method reaches the function and gets its answers) for each endpoint of the
contract; per-route settings name routes that exist (else the stage fails to deploy with
"Unable to find Route by key"); the function may only write and delete records of its own
replay table; the sign-in proof's parameters reach the function and the created secret has a
placeholder for every field the function reads. Run by `make check-sam`."""
import json
import re
import sys

from cfnlint.decode import decode_str

template, problems = decode_str(open(sys.argv[1] if len(sys.argv) > 1 else "template.yaml").read())
if problems:
    sys.exit(f"template does not parse: {problems}")
resources = template["Resources"]
failures = []

body = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
try:
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "X", body))["widgets"]
except (ValueError, KeyError) as error:
    failures.append(f"dashboard body is not valid JSON: {error}")

events = resources["BridgeFunction"]["Properties"]["Events"]
routes = {f"{e['Properties']['Method'].upper()} {e['Properties']['Path']}" for e in events.values()
          if e["Type"] == "HttpApi"}
for expected in ("ANY /token", "ANY /revoke"):
    if expected not in routes:
        failures.append(f"route {expected} missing (routes: {sorted(routes)})")
for key in resources["BridgeApi"]["Properties"].get("RouteSettings", {}):
    if key not in routes:
        failures.append(f"RouteSettings names {key}, which is not a route")

statements = resources["BridgeRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
replay = [s["Fn::If"][1] for s in statements if isinstance(s, dict) and "Fn::If" in s
          and s["Fn::If"][1].get("Sid") == "ReplayRecords"]
if len(replay) != 1:
    failures.append("the role has no ReplayRecords statement")
elif (sorted(replay[0]["Action"]) != ["dynamodb:DeleteItem", "dynamodb:PutItem"]
      or replay[0]["Resource"] != {"Fn::GetAtt": ["ReplayTable", "Arn"]}):
    failures.append(f"ReplayRecords must allow PutItem and DeleteItem on the replay table only: {replay[0]}")
env = resources["BridgeFunction"]["Properties"]["Environment"]["Variables"]
if env.get("REPLAY_TABLE") != {"Fn::If": ["ReplayOn", {"Ref": "ReplayTable"}, ""]}:
    failures.append(f"REPLAY_TABLE must name the stack's table when replay protection is on: {env.get('REPLAY_TABLE')}")

for variable, parameter in [("AUTH0_SIGN_IN_PROOF", "SignInProof"), ("AUTHSIGNAL_PROFILE", "AuthsignalProfile"),
                            ("ASSERTION_ISSUER", "AssertionIssuer")]:
    if env.get(variable) != {"Ref": parameter}:
        failures.append(f"{variable} must be set from the {parameter} parameter: {env.get(variable)}")
if template["Parameters"]["SignInProof"].get("Default") != "assertion":
    failures.append("SignInProof must default to assertion: the bridge is the only way in")
placeholder = json.loads(resources["BridgeSecret"]["Properties"]["SecretString"])
fields = {"AUTHSIGNAL_SECRET", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET", "BRIDGE_SIGNING_KEY"}
if set(placeholder) != fields:
    failures.append(f"the created secret's placeholders must be exactly {sorted(fields)}: {sorted(placeholder)}")

if failures:
    sys.exit("\n".join(failures))
print(f"template checks passed: routes {sorted(routes)}, dashboard with {len(widgets)} widgets")
