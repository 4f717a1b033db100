#!/usr/bin/env python3
"""Holds src/ to its layers (docs/development.md, "Code map"): `edge` -> `flow` -> `upstream`,
with the modules beneath all three (settings, error, budget, tokens, telemetry, logging,
signing_key) and `startup` (the wiring) above them. A module may import from its own layer or
one below it, never from one above, and no set of modules may import each other in a circle.

Reads every `crate::...` path in the code (comments left out), file by file. Run by `make lint`;
before it reads src/ it checks itself on two made-up trees, one with an upward import and one
with a cycle, so that it cannot pass by finding nothing."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = {"startup": 4, "edge": 3, "flow": 2, "upstream": 1}
BENEATH = {"settings", "error", "budget", "tokens", "telemetry", "logging", "signing_key", "email"}
CRATE_PATH = re.compile(r"\bcrate::([a-z_]+)(?:::([a-z_]+))?")
FOLDER_LAYERS = ("edge", "flow", "upstream")


def layer_of(module):
    top = module.split("::")[0]
    if top in LAYERS:
        return LAYERS[top]
    if top in BENEATH:
        return 0
    raise ValueError(f"module `{top}` belongs to no layer: add it to scripts/check-layers.py")


def module_of(path):
    """`src/flow/sign_in.rs` -> `flow::sign_in`; a folder that is not a layer (settings/) is one
    module; `mod.rs` is its folder."""
    parts = os.path.relpath(path, "src").removesuffix(".rs").split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    if parts[0] not in FOLDER_LAYERS:
        parts = parts[:1]
    return "::".join(parts)


def imports_of(code):
    """The modules a file names through `crate::`, comments left out."""
    code = "\n".join(line.split("//", 1)[0] for line in code.splitlines())
    found = set()
    for top, sub in CRATE_PATH.findall(code):
        found.add(f"{top}::{sub}" if top in FOLDER_LAYERS and sub else top)
    return found


def problems_in(sources):
    """`sources` maps a file's module to its code; returns every upward import and cycle."""
    graph = {}
    problems = []
    for module, code in sources.items():
        if module in ("lib", "main"):
            continue  # the crate root declares modules; main uses the crate by its name
        for target in imports_of(code):
            if target.split("::")[0] == module.split("::")[0] and module.split("::")[0] not in FOLDER_LAYERS:
                continue
            if target == module:
                continue
            graph.setdefault(module, set()).add(target)
            if layer_of(target) > layer_of(module):
                problems.append(f"{module} imports {target}, a layer above it")
    problems.extend(cycles(graph))
    return problems


def cycles(graph):
    """One line per import cycle found (depth-first search, each cycle reported once)."""
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                cycle = stack[stack.index(target):] + [target]
                found.append("import cycle: " + " -> ".join(cycle))
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def check_itself():
    upward = {"upstream::auth0": "use crate::edge::http::Handler;", "edge::http": ""}
    circle = {"flow::a": "use crate::flow::b::B;", "flow::b": "use crate::flow::a::A;"}
    fine = {"flow::a": "// use crate::edge::http;\nuse crate::upstream::auth0;", "upstream::auth0": "use crate::error::BridgeError;"}
    assert problems_in(upward) == ["upstream::auth0 imports edge::http, a layer above it"], problems_in(upward)
    assert any(p.startswith("import cycle") for p in problems_in(circle)), problems_in(circle)
    assert problems_in(fine) == [], problems_in(fine)


def main():
    check_itself()
    os.chdir(ROOT)
    sources = {}
    for folder, _, files in os.walk("src"):
        for name in files:
            if name.endswith(".rs"):
                path = os.path.join(folder, name)
                module = module_of(path)
                sources[module] = sources.get(module, "") + open(path, encoding="utf-8").read()
    problems = problems_in(sources)
    for problem in problems:
        print(f"check-layers: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"check-layers: {len(sources)} modules, every import goes down or across, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
