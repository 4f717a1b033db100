#!/usr/bin/env python3
"""Compares the statuses openapi.yaml documents per operation with the statuses the handler
tests produced (recorded by tests/support/mod.rs when HANDLER_STATUS_LOG is set), so that
neither the document nor the function can drift alone:
- every status the document names explicitly was produced by some handler test;
- every status a handler test produced is documented, explicitly or by a range (4XX).
Requests no operation describes (other methods, other paths) are compared with the document's
x-bridge-answers-outside-operations.

Usage: check-openapi-statuses.py openapi.yaml DIRECTORY
"""
import os
import sys
from collections import defaultdict

import yaml

document = yaml.safe_load(open(sys.argv[1]))
directory = sys.argv[2]

documented = {}
for path, item in document["paths"].items():
    for method, operation in item.items():
        documented[f"{method.upper()} {path}"] = set(operation["responses"])
outside = document["x-bridge-answers-outside-operations"]
documented["other-methods"] = set(outside["other-methods"])
documented["other-paths"] = set(outside["other-paths"])

observed = defaultdict(set)
for name in os.listdir(directory):
    for line in open(os.path.join(directory, name)):
        operation, status = line.rstrip("\n").split("\t")
        observed[operation].add(status)
if not observed:
    sys.exit(f"no statuses recorded in {directory}: run the handler tests with HANDLER_STATUS_LOG set")


def covers(documented_codes, status):
    return status in documented_codes or f"{status[0]}XX" in documented_codes


failures = []
for operation, codes in sorted(documented.items()):
    explicit = {code for code in codes if code.isdigit()}
    never_produced = sorted(explicit - observed[operation])
    if never_produced:
        failures.append(f"{operation}: documented but produced by no handler test: {', '.join(never_produced)}")
for operation, statuses in sorted(observed.items()):
    if operation not in documented:
        failures.append(f"{operation}: produced by the handler tests, not in openapi.yaml")
        continue
    undocumented = sorted(s for s in statuses if not covers(documented[operation], s))
    if undocumented:
        failures.append(f"{operation}: produced but not documented: {', '.join(undocumented)}")

for operation in sorted(documented):
    print(f"{operation:14} documented {' '.join(sorted(documented[operation]))}; "
          f"produced {' '.join(sorted(observed[operation]))}")
if failures:
    sys.exit("\n".join(failures))
print("openapi.yaml and the handler tests agree on every status")
