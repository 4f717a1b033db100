"""The whole bridge on loopback, for tests that speak HTTP: moto (Secrets Manager, and DynamoDB
for the replay table), the stand-ins for Authsignal and Auth0 (scripts/stand-ins/run.js; Auth0's
runs the shipped Login script, which accepts only the bridge's assertions), and
the real `bootstrap` binary served over HTTP by `local-api` (tests/support/local_api.rs) through
the project's Lambda Runtime API double. The function runs as the stack deploys it: credentials
from Secrets Manager, replay protection on, passkeys only.

    with Stack("--any-token") as stack:
        requests.post(stack.url + "/token", json={"token": "..."})

`stand_ins` is the stand-ins' mode (scripts/stand-ins/run.js): None (only VALID_TOKEN signs
in), "--any-token" or "--permissive".

Everything started is stopped on exit. Needs `cargo build --example local-api --bin bootstrap`
and the tools of `make tools` (moto, boto3) on PATH.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET_ID = "authsignal-auth0-bridge/http-tests"
REPLAY_TABLE = "authsignal-auth0-bridge-http-tests-replay"
AUTHSIGNAL_SECRET = "http-tests-authsignal-secret"
CLIENT_ID = "http-tests-client-id"
CLIENT_SECRET = "http-tests-client-secret"
VALID_TOKEN = "eyJhbGciOiJIUzI1NiJ9.http-tests-authsignal-token.signature"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, process, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {seconds} s")


class Stack:
    def __init__(self, stand_ins=None, extra_env=None):
        self.stand_ins = stand_ins
        self.extra_env = extra_env or {}
        self.processes = []
        self.logs = tempfile.mkdtemp(prefix="bridge-http-tests-")
        self.url = None
        # Auth0's stand-in: a DPoP proof names its token endpoint (`htu`), never the bridge's.
        self.auth0_token_url = None

    def start(self, name, args, env=None):
        with open(os.path.join(self.logs, f"{name}.log"), "wb") as log:
            process = subprocess.Popen(args, cwd=ROOT, env=env, stderr=log, start_new_session=True,
                                       stdout=subprocess.PIPE if name == "local-api" else log)
        self.processes.append(process)
        return process

    def __enter__(self):
        try:
            self._start_all()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def _start_all(self):
        moto_port, authsignal_port, auth0_port = free_port(), free_port(), free_port()
        moto_url = f"http://127.0.0.1:{moto_port}"
        moto = self.start("moto", [sys.executable, "tests/support/moto_serialized.py", "-p", str(moto_port)])
        wait_for_port(moto_port, moto, 30)
        aws = dict(region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
        # A signing key made as an operator makes one (`make signing-key`).
        key = json.loads(subprocess.run(["node", "scripts/signing-key.js", "--json"], cwd=ROOT, check=True,
                                        capture_output=True, text=True).stdout)
        boto3.client("secretsmanager", endpoint_url=moto_url, **aws).create_secret(
            Name=SECRET_ID,
            SecretString=json.dumps({"AUTHSIGNAL_SECRET": AUTHSIGNAL_SECRET, "AUTH0_CLIENT_ID": CLIENT_ID,
                                     "AUTH0_CLIENT_SECRET": CLIENT_SECRET,
                                     "BRIDGE_SIGNING_KEY": key["BRIDGE_SIGNING_KEY"]}))
        boto3.client("dynamodb", endpoint_url=moto_url, **aws).create_table(
            TableName=REPLAY_TABLE,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST")

        stand_in_env = dict(os.environ, DEMO_AUTHSIGNAL_SECRET=AUTHSIGNAL_SECRET, DEMO_AUTH0_CLIENT_ID=CLIENT_ID,
                            DEMO_AUTH0_CLIENT_SECRET=CLIENT_SECRET, DEMO_VALID_TOKEN=VALID_TOKEN,
                            BRIDGE_PUBLIC_KEYS=key["BRIDGE_PUBLIC_KEYS"])
        args = ["node", "scripts/stand-ins/run.js", str(authsignal_port), str(auth0_port)]
        stand_ins = self.start("stand-ins", args + ([self.stand_ins] if self.stand_ins else []), stand_in_env)
        wait_for_port(auth0_port, stand_ins, 10)
        self.auth0_token_url = f"http://127.0.0.1:{auth0_port}/oauth/token"

        env = {
            "PATH": os.environ.get("PATH", ""),
            "SECRET_ID": SECRET_ID,
            "AUTHSIGNAL_API_URL": f"http://127.0.0.1:{authsignal_port}/v1",
            "AUTH0_DOMAIN": f"http://127.0.0.1:{auth0_port}",
            "AUTH0_SCOPE": "openid profile email offline_access",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_url,
            "AWS_ENDPOINT_URL_DYNAMODB": moto_url,
            "REPLAY_TABLE": REPLAY_TABLE,
            "AUTHSIGNAL_VERIFICATION_METHODS": "PASSKEY",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            **self.extra_env,
        }
        gateway = self.start("local-api", [os.path.join(ROOT, "target/debug/examples/local-api")], env)
        line = gateway.stdout.readline().decode()
        if not line.startswith("listening on "):
            raise RuntimeError(f"local-api did not start: {line!r}; logs in {self.logs}")
        self.url = line.split()[-1]

    def __exit__(self, *exc):
        for process in reversed(self.processes):
            try:
                os.killpg(process.pid, 15)
            except ProcessLookupError:
                pass
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
            if process.stdout:
                process.stdout.close()
        if exc[0] is None:
            shutil.rmtree(self.logs, ignore_errors=True)
        else:
            sys.stderr.write(f"logs of the stack kept in {self.logs}\n")
        return False
