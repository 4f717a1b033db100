#!/usr/bin/env python3
"""Creates the demo secret in the Secrets Manager at AWS_ENDPOINT_URL_SECRETS_MANAGER (moto's
server), through the real AWS API (boto3 comes with moto)."""
import json
import os
import sys

import boto3

client = boto3.client(
    "secretsmanager",
    endpoint_url=os.environ["AWS_ENDPOINT_URL_SECRETS_MANAGER"],
    region_name=os.environ.get("AWS_REGION", "us-east-1"),
)
client.create_secret(
    Name=sys.argv[1],
    SecretString=json.dumps({
        "AUTHSIGNAL_SECRET": os.environ["DEMO_AUTHSIGNAL_SECRET"],
        "AUTH0_CLIENT_ID": os.environ["DEMO_AUTH0_CLIENT_ID"],
        "AUTH0_CLIENT_SECRET": os.environ["DEMO_AUTH0_CLIENT_SECRET"],
    }),
)
print(f"secret {sys.argv[1]} created")
