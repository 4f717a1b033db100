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

try:
    # SAM's own reading of parameter_overrides (quotes, several NAME=VALUE in one item, what it
    # refuses), so this file gives CloudFormation what `sam deploy` and `make deploy` would.
    from samcli.cli.types import CfnParameterOverridesType
except ImportError:
    raise SystemExit("run with .venv/bin/python (make tools): SAM's own parser reads parameter_overrides")


def overrides(samconfig, config_env, extra):
    listed = samconfig.get(config_env, {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides")
    if listed is None:
        raise SystemExit(f"samconfig.toml has no [{config_env}.deploy.parameters] parameter_overrides")
    if isinstance(listed, str):
        listed = [listed]
    try:
        # Later items win, so the arguments override samconfig.toml.
        return CfnParameterOverridesType().convert(list(listed) + list(extra), None, None)
    except Exception as error:  # click's BadParameter
        raise SystemExit(f"SAM cannot read these parameters: {error}")


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
