"""The API conformance run: schemathesis generates requests from openapi.yaml (valid and invalid
bodies, both encodings, every method, boundary values) and sends them to the real binary over
HTTP (stack.py), with stand-ins that accept any well-formed token and refresh token, so valid
requests get a 200 and nothing should answer 5xx. Sign-up is on (SIGN_UP_ENV), so `POST /sign-up`
is covered too: the Authsignal stand-in answers its user lookup and tracked action in every mode,
and its cooldown records go to the stack's replay table in moto. A valid sign-up may get a 429
(the same email again within the cooldown), which schemathesis counts as accepting valid data.
The checks are named one by one; any failure fails `make test`.

    python conformance.py               # CI: SCHEMATHESIS_MAX_EXAMPLES (default 60) per operation
    SCHEMATHESIS_MAX_EXAMPLES=2000 SCHEMATHESIS_SEED=random python conformance.py   # the long run

The JUnit report is written to target/schemathesis/.
"""
import os
import shutil
import subprocess
import sys

from stack import ROOT, Stack

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    # Methods the document does not list get 405 with `Allow: POST`.
    "unsupported_method",
    "allow_header_conformance",
]

# Sign-up on, as a deployment with SignUp=email runs it (it needs AUTHSIGNAL_ACTION, the
# allow-list of methods and the replay table, which the stack sets or this adds). The limits are
# set loose (the shortest cooldown, the highest count per address: every request comes from
# 127.0.0.1) so that most valid sign-ups start; the limits themselves are tested in
# tests/sign_up.rs.
SIGN_UP_ENV = {
    "SIGN_UP": "email",
    "SIGN_UP_ACTION": "signUp",
    # The permissive stand-in validates any other token as a challenge of this action.
    "AUTHSIGNAL_ACTION": "signInWithPasskey",
    "SIGN_UP_EMAIL_COOLDOWN_SECONDS": "10",
    "SIGN_UP_ADDRESS_LIMIT": "1000",
}


def main():
    schemathesis = shutil.which("schemathesis") or sys.exit("schemathesis not found: run `make tools`")
    examples = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "60")
    seed = os.environ.get("SCHEMATHESIS_SEED", "20261130")
    command = [
        schemathesis,
        "--config-file", os.path.join(ROOT, "tests/http/schemathesis.toml"),
        "run", os.path.join(ROOT, "openapi.yaml"),
        "--checks", ",".join(CHECKS),
        "--mode", "all",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", examples,
        "--continue-on-failure",
        "--request-timeout", "30",
        "--report", "junit",
        "--report-dir", os.path.join(ROOT, "target/schemathesis"),
        "--no-color",
    ]
    if seed != "random":
        command += ["--seed", seed]
    # Stand-ins that take any well-formed token: every valid request can succeed.
    with Stack("--permissive", extra_env=SIGN_UP_ENV) as stack:
        result = subprocess.run(command + ["--url", stack.url], cwd=os.path.join(ROOT, "target"))
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
