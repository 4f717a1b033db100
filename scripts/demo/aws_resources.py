#!/usr/bin/env python3
"""Creates what the demo function needs in moto (Secrets Manager and DynamoDB at
AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL_DYNAMODB), through the real AWS API (boto3
comes with moto): the credentials secret (with the signing key in DEMO_BRIDGE_SIGNING_KEY), and the replay table as template.yaml defines it (key
`pk`, on-demand, TTL on `expires_at`).

Usage: aws_resources.py SECRET_NAME TABLE_NAME
"""
import json
import os
import sys

import boto3

secret_name, table_name = sys.argv[1:3]
region = os.environ.get("AWS_REGION", "us-east-1")

secrets = boto3.client("secretsmanager", endpoint_url=os.environ["AWS_ENDPOINT_URL_SECRETS_MANAGER"],
                       region_name=region)
secrets.create_secret(
    Name=secret_name,
    SecretString=json.dumps({
        "AUTHSIGNAL_SECRET": os.environ["DEMO_AUTHSIGNAL_SECRET"],
        "AUTH0_CLIENT_ID": os.environ["DEMO_AUTH0_CLIENT_ID"],
        "AUTH0_CLIENT_SECRET": os.environ["DEMO_AUTH0_CLIENT_SECRET"],
        "BRIDGE_SIGNING_KEY": os.environ["DEMO_BRIDGE_SIGNING_KEY"],
    }),
)
print(f"secret {secret_name} created")

dynamodb = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"], region_name=region)
dynamodb.create_table(
    TableName=table_name,
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    BillingMode="PAY_PER_REQUEST",
    SSESpecification={"Enabled": True},
)
dynamodb.update_time_to_live(
    TableName=table_name,
    TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True},
)
print(f"replay table {table_name} created")
