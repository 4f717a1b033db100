#!/usr/bin/env python3
"""Fails when a production function in src/ is longer than MAX_LINES (signature to closing
brace): long functions are where the branching hides, and docs/behaviour.md names functions a
reader should be able to read at a glance. Test modules (`#[cfg(test)]` and `tests.rs`) are left
out. Run by `make lint`."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_LINES = 60
FN = re.compile(r"^(\s*)(pub(\([a-z]+\))? )?(const )?(async )?fn (\w+)")


def long_functions(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    end = next((i for i, line in enumerate(lines) if line.startswith("#[cfg(test)]")), len(lines))
    i = 0
    while i < end:
        match = FN.match(lines[i])
        if not match:
            i += 1
            continue
        indent, start = len(match.group(1)), i
        while "{" not in lines[i] and not lines[i].rstrip().endswith(";"):
            i += 1
        if lines[i].rstrip().endswith(";"):
            i += 1
            continue
        closing = " " * indent + "}"
        while i < end and not (lines[i].startswith(closing) and len(lines[i]) - len(lines[i].lstrip()) == indent):
            i += 1
        if i - start + 1 > MAX_LINES:
            yield match.group(6), start + 1, i - start + 1
        i += 1


def main():
    os.chdir(ROOT)
    found = []
    for folder, _, files in os.walk("src"):
        for name in sorted(files):
            if name.endswith(".rs") and name != "tests.rs":
                path = os.path.join(folder, name)
                found += [f"{path}:{line}: {fn} is {length} lines" for fn, line, length in long_functions(path)]
    for problem in found:
        print(f"check-function-length: {problem} (at most {MAX_LINES}: split it into its steps)", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
