#!/usr/bin/env bash
# `make demo`: the real function under `cargo lambda watch`, configured through the same
# variables as production (SECRET_ID, AUTH0_DOMAIN, AUTHSIGNAL_API_URL, REPLAY_TABLE,
# AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL_DYNAMODB), against loopback stand-ins:
# moto's server (Secrets Manager and the replay table in DynamoDB) and scripts/stand-ins/ for
# Authsignal and Auth0 (whose custom database connection runs the shipped auth0/login.js with a
# fresh key from `make signing-key`). Invokes it with `cargo lambda invoke` for a whole session
# (sign-in with the bridge's assertion, the same token again, two refreshes, sign-out, a refresh
# after sign-out), shows the same Authsignal token refused when sent straight to "Auth0" and the
# profile Auth0 made from Authsignal's, a new user's journey from sign-up by email (the stand-in's
# OTP printed) to sign-out (scripts/demo/journey.js), then two failures; prints the API Gateway responses, and
# stops everything it started, also on Ctrl-C or failure.
# DEMO_EXCHANGE=token-exchange shows the Custom Token Exchange mode instead: the bridge sends its
# assertion as the subject_token and Auth0's stand-in runs the shipped Action
# (auth0/token-exchange.js) to set the user; no Login script, no password grant.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.venv
export PATH="$PWD/$VENV/bin:$PATH"

work=$(mktemp -d)
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" != 0 ] && [ -f "$work/watch.log" ]; then
    echo "--- cargo lambda watch log (last 40 lines)" >&2
    tail -n 40 "$work/watch.log" >&2
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a command in its own process group, so cleanup stops it and all its children.
start() {
  local log=$1
  shift
  setsid "$@" >"$work/$log" 2>&1 &
  pids+=($!)
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits for the last started command to listen on `port`; gives up when it exits.
wait_for_port() {
  local name=$1 port=$2 seconds=$3 pid=${pids[-1]}
  for _ in $(seq 1 $((seconds * 10))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name did not start on port $port; its log:" >&2
  cat "$work/$name.log" >&2 || true
  return 1
}

moto_port=$(free_port)
authsignal_port=$(free_port)
auth0_port=$(free_port)
invoke_port=$(free_port)

export DEMO_AUTHSIGNAL_SECRET="demo-authsignal-secret"
export DEMO_AUTH0_CLIENT_ID="demo-client-id"
export DEMO_AUTH0_CLIENT_SECRET="demo-client-secret"
export DEMO_VALID_TOKEN="eyJhbGciOiJIUzI1NiJ9.demo-authsignal-token.signature"
# The bridge's signing key, made as an operator makes one: the private key goes into the secret,
# the public key into the connection's BRIDGE_PUBLIC_KEYS.
node scripts/signing-key.js --json >"$work/signing-key.json"
DEMO_BRIDGE_SIGNING_KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["BRIDGE_SIGNING_KEY"])' "$work/signing-key.json")
BRIDGE_PUBLIC_KEYS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["BRIDGE_PUBLIC_KEYS"])' "$work/signing-key.json")
export DEMO_BRIDGE_SIGNING_KEY BRIDGE_PUBLIC_KEYS
DEMO_EXCHANGE=${DEMO_EXCHANGE:-password-realm}
case "$DEMO_EXCHANGE" in
  password-realm) ;;
  token-exchange)
    # The stand-in's token exchange profile runs the Action with the same public keys as its
    # secrets, and lets only the bridge's application exchange.
    export AUTH0_SUBJECT_TOKEN_TYPE="urn:demo:authsignal-bridge-assertion"
    export BRIDGE_CLIENT_ID="$DEMO_AUTH0_CLIENT_ID" ;;
  *) echo "DEMO_EXCHANGE must be password-realm or token-exchange, not $DEMO_EXCHANGE" >&2; exit 2 ;;
esac
export AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$moto_port"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$moto_port"
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo

echo "==> starting moto (Secrets Manager, DynamoDB) on :$moto_port, Authsignal and Auth0 stand-ins on :$authsignal_port and :$auth0_port"
start moto.log moto_server -H 127.0.0.1 -p "$moto_port"
wait_for_port moto "$moto_port" 30
start stand-ins.log node scripts/stand-ins/run.js "$authsignal_port" "$auth0_port"
wait_for_port stand-ins "$auth0_port" 10
python3 scripts/demo/aws_resources.py authsignal-auth0-bridge/demo authsignal-auth0-bridge-demo-replay

# The function's environment, exactly as the SAM template sets it (plus the loopback endpoints).
cat >"$work/function.env" <<ENV
SECRET_ID=authsignal-auth0-bridge/demo
AUTHSIGNAL_API_URL=http://127.0.0.1:$authsignal_port/v1
AUTH0_DOMAIN=http://127.0.0.1:$auth0_port
REPLAY_TABLE=authsignal-auth0-bridge-demo-replay
AUTHSIGNAL_VERIFICATION_METHODS=PASSKEY
AUTHSIGNAL_ACTION=signInWithPasskey
SIGN_UP=email
SIGN_UP_ACTION=signUp
AWS_ENDPOINT_URL_SECRETS_MANAGER=$AWS_ENDPOINT_URL_SECRETS_MANAGER
AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL_DYNAMODB
AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=demo
AWS_SECRET_ACCESS_KEY=demo
AUTH0_SCOPE="openid profile email offline_access"
AWS_LAMBDA_LOG_FORMAT=JSON
ENV
if [ "$DEMO_EXCHANGE" = token-exchange ]; then
  printf 'AUTH0_GRANT_TYPE=token-exchange\nAUTH0_SUBJECT_TOKEN_TYPE=%s\n' "$AUTH0_SUBJECT_TOKEN_TYPE" >>"$work/function.env"
fi

echo "==> cargo lambda watch (builds the function; the first time takes a few minutes)"
start watch.log cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$invoke_port" \
  --env-file "$work/function.env" --ignore-changes
wait_for_port watch "$invoke_port" 900

invoke() {
  local title=$1 fixture=$2
  echo
  echo "==> $title: cargo lambda invoke --data-file $fixture"
  cargo lambda invoke bootstrap --invoke-address 127.0.0.1 --invoke-port "$invoke_port" \
    --data-file "$fixture" --output-format json >"$work/answer.json"
  python3 - "$work/answer.json" <<'PY'
import json, sys
answer = json.load(open(sys.argv[1]))
if isinstance(answer.get("body"), str):
    try:
        answer["body"] = json.loads(answer["body"])
    except ValueError:
        pass
print(json.dumps(answer, indent=2, sort_keys=True))
PY
}

expect() {
  grep -q "$1" "$work/answer.json" || { echo "expected $1 in the answer" >&2; exit 1; }
}
# A field of the last answer: statusCode, or one of its JSON body.
answer() {
  python3 - "$work/answer.json" "$1" <<'PY'
import json, sys
answer = json.load(open(sys.argv[1]))
print(answer["statusCode"] if sys.argv[2] == "statusCode" else json.loads(answer["body"]).get(sys.argv[2], ""))
PY
}
# The refresh token of the last answer (the stand-in for Auth0 rotates it on every refresh).
refresh_token() { answer refresh_token; }

if [ "$DEMO_EXCHANGE" = token-exchange ]; then
  sign_in_title="sign-in: the bridge validates the Authsignal token, then exchanges its own assertion at Auth0 (Custom Token Exchange; AUTH0_SCOPE has offline_access)"
  proof_field=subject_token
  proof_checker="the token exchange Action"
else
  sign_in_title="sign-in: the bridge validates the Authsignal token, then signs in at Auth0 with its own assertion (AUTH0_SCOPE has offline_access)"
  proof_field=password
  proof_checker="the Login script"
fi
invoke "$sign_in_title" events/http-api-token.json
expect refresh_token
signed_in=$(refresh_token)
echo "(what Auth0's stand-in received, the $proof_field decoded beside the other fields: the bridge's assertion, not the Authsignal token)"
curl -sS "http://127.0.0.1:$auth0_port/__requests" | python3 -c '
import base64, json, sys
field = sys.argv[1]
for request in json.load(sys.stdin):
    proof = request["form"].get(field, "")
    if request["path"] == "/oauth/token" and proof:
        header, claims, _ = (proof.split(".") + ["", "", ""])[:3]
        decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        fields = {k: ("<the assertion>" if k == field else "<secret>" if k == "client_secret" else v) for k, v in request["form"].items()}
        print(json.dumps({"form": fields, "header": decode(header), "claims": decode(claims)}, indent=2))' "$proof_field"
echo "(the user Auth0 made from the profile $proof_checker returned: the email is Authsignal's)"
curl -sS "http://127.0.0.1:$auth0_port/__users" | python3 -m json.tool

echo
echo "==> the same Authsignal token sent straight to Auth0, past the bridge: $proof_checker refuses it"
if [ "$DEMO_EXCHANGE" = token-exchange ]; then
  curl -sS "http://127.0.0.1:$auth0_port/oauth/token" \
    -d grant_type=urn:ietf:params:oauth:grant-type:token-exchange \
    --data-urlencode "subject_token=$DEMO_VALID_TOKEN" -d subject_token_type="$AUTH0_SUBJECT_TOKEN_TYPE" \
    -d client_id="$DEMO_AUTH0_CLIENT_ID" -d client_secret="$DEMO_AUTH0_CLIENT_SECRET" -d scope=openid \
    | tee "$work/direct.json"
  refusal='"invalid_request"'
else
  curl -sS "http://127.0.0.1:$auth0_port/oauth/token" \
    -d grant_type=http://auth0.com/oauth/grant-type/password-realm -d realm=authsignal \
    -d username=demo-user-7c1f --data-urlencode "password=$DEMO_VALID_TOKEN" \
    -d client_id="$DEMO_AUTH0_CLIENT_ID" -d client_secret="$DEMO_AUTH0_CLIENT_SECRET" -d scope=openid \
    | tee "$work/direct.json"
  refusal='"invalid_grant"'
fi
echo
grep -q "$refusal" "$work/direct.json" || { echo "expected the direct use to be refused" >&2; exit 1; }
invoke "the same Authsignal token again: its challenge already finished a sign-in (replay protection)" events/http-api-token.json
expect invalid_grant
echo "(the replay table in moto now holds:)"
python3 -c 'import boto3,json,os; print(json.dumps(boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"], region_name="us-east-1").scan(TableName="authsignal-auth0-bridge-demo-replay")["Items"], indent=2))'

python3 scripts/demo/session_event.py events/http-api-refresh.json "$signed_in" "$work/refresh.json"
invoke "refresh, JSON body (the answer carries a new, rotated refresh token)" "$work/refresh.json"
expect access_token
python3 scripts/demo/session_event.py events/http-api-refresh-form.json "$(refresh_token)" "$work/refresh-form.json" scope=openid
invoke "refresh, OAuth form as AppAuth sends it, narrowed to scope=openid" "$work/refresh-form.json"
[ "$(answer scope)" = openid ] || { echo "expected scope openid" >&2; exit 1; }
latest=$(refresh_token)
python3 scripts/demo/session_event.py events/http-api-revoke.json "$latest" "$work/revoke.json"
invoke "sign-out: revoke the refresh token (RFC 7009 form)" "$work/revoke.json"
[ "$(answer statusCode)" = 200 ] || { echo "expected 200 for the revocation" >&2; exit 1; }
python3 scripts/demo/session_event.py events/http-api-refresh.json "$latest" "$work/refresh-revoked.json"
invoke "refresh with the revoked token: Auth0's invalid_grant, passed through" "$work/refresh-revoked.json"
expect invalid_grant
echo
echo "==> a new user's whole journey, as the app runs it (scripts/demo/app.js): sign-up by email at"
echo "    the bridge, the email code, a passkey, a sign-in with it, refresh and sign-out"
node scripts/demo/journey.js --invoke-port "$invoke_port" --authsignal "http://127.0.0.1:$authsignal_port/v1" \
  --tenant-id stand-in-tenant --email "grace.hopper@example.com"
echo "(the email Authsignal's stand-in sent: the code the user typed)"
grep "email OTP for" "$work/stand-ins.log" || { echo "expected the stand-in to have sent an OTP" >&2; exit 1; }
invoke "a token whose challenge did not succeed" events/http-api-expired-token.json
expect invalid_grant
invoke "a malformed body" events/http-api-malformed-body.json
expect invalid_request

echo
echo "==> the function's log lines and EMF metrics documents"
grep -E "^\{" "$work/watch.log" || true
echo
echo "demo finished; stopping moto, the stand-ins and cargo lambda watch"
