#!/usr/bin/env python3
"""Fails unless every crate the Lambda binary links (normal dependencies, all targets) has a
license expression the project accepts. Reads `cargo metadata`; offline."""
import json
import re
import subprocess
import sys

ACCEPTED = {
    "MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "Zlib", "0BSD", "CC0-1.0",
    "Unicode-3.0", "Unicode-DFS-2016", "OpenSSL", "MPL-2.0", "CDLA-Permissive-2.0",
    "Apache-2.0 WITH LLVM-exception",
}

def accepted(expression):
    """Evaluates an SPDX expression: OR needs one accepted side, AND needs both."""
    expression = expression.replace("/", " OR ")  # old crates.io style "MIT/Apache-2.0"
    tokens = re.findall(r"\(|\)|[A-Za-z0-9.+-]+(?: WITH [A-Za-z0-9.+-]+)?", expression)
    position = 0

    def parse_or():
        nonlocal position
        value = parse_and()
        while position < len(tokens) and tokens[position] == "OR":
            position += 1
            value = parse_and() or value
        return value

    def parse_and():
        nonlocal position
        value = parse_atom()
        while position < len(tokens) and tokens[position] == "AND":
            position += 1
            value = parse_atom() and value
        return value

    def parse_atom():
        nonlocal position
        token = tokens[position]
        position += 1
        if token == "(":
            value = parse_or()
            position += 1  # ")"
            return value
        return token in ACCEPTED or token.split(" WITH ")[0] in ACCEPTED

    return parse_or()

metadata = json.loads(subprocess.check_output(
    ["cargo", "metadata", "--format-version", "1", "--locked"], text=True))
packages = {package["id"]: package for package in metadata["packages"]}
nodes = {node["id"]: node for node in metadata["resolve"]["nodes"]}
root = metadata["resolve"]["root"]
seen, stack = set(), [root]
while stack:
    current = stack.pop()
    if current in seen:
        continue
    seen.add(current)
    for dep in nodes[current]["deps"]:
        if any(kind["kind"] is None for kind in dep["dep_kinds"]):
            stack.append(dep["pkg"])

problems = []
for package_id in sorted(seen - {root}):
    package = packages[package_id]
    license = package.get("license")
    if not license or not accepted(license):
        problems.append(f"{package['name']} {package['version']}: {license or 'no license'}")
if problems:
    print("crates with a license the project does not accept:\n  " + "\n  ".join(problems))
    sys.exit(1)
print(f"licenses: all {len(seen) - 1} linked crates are under accepted licenses")
