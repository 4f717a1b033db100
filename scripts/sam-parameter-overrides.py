#!/usr/bin/env python3
"""Prints the stack parameters samconfig.toml gives one config environment, with NAME=VALUE
arguments on top, as a mapping for `sam deploy --parameter-overrides file://FILE.yaml`:

    sam-parameter-overrides.py --config-env prod PermissionsBoundaryName=NAME > parameters.yaml

The deploy workflow passes each environment's permissions boundary this way. A
`--parameter-overrides` on SAM's command line replaces samconfig.toml's whole list instead of
adding to it, and SAM reads such a file only with a .toml or .yaml name (JSON is valid YAML)."""
import json
import sys
import tomllib


def unquoted(value):
    """A value as SAM reads it: `"a b"` (or `'a b'`) is `a b`, its escaped quotes plain."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1].replace("\\" + value[0], value[0])
    return value


def overrides(samconfig, config_env, extra):
    listed = samconfig.get(config_env, {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides")
    if listed is None:
        raise SystemExit(f"samconfig.toml has no [{config_env}.deploy.parameters] parameter_overrides")
    parameters = {}
    for item in list(listed) + list(extra):
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise SystemExit(f"not NAME=VALUE: {item!r}")
        parameters[name] = unquoted(value)
    return parameters


if __name__ == "__main__":
    args = sys.argv[1:]
    config_env, config_file = "default", "samconfig.toml"
    while args and args[0].startswith("--"):
        option, value, args = args[0], args[1], args[2:]
        if option == "--config-env":
            config_env = value
        elif option == "--config-file":
            config_file = value
        else:
            raise SystemExit(f"unknown option {option}")
    with open(config_file, "rb") as file:
        print(json.dumps(overrides(tomllib.load(file), config_env, args), indent=2))
