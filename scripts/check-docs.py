#!/usr/bin/env python3
"""Checks the documentation a newcomer walks: every relative link in README.md, SECURITY.md
and docs/*.md points at a file that exists and, with a #fragment, at a heading it has (GitHub's
anchor rules), so pages that reference each other's sections stay right; every page of docs/ is
linked from the README; the README's first screen shows the two commands; no page, comment or
test points at text a reader of the repository cannot find ("the contract", "see below");
docs/configuration.md's parameter table has one row per stack parameter of template.yaml with its
variable, default and range as the template has them; every key of samconfig.toml is explained
on a page the operator reads (docs/configuration.md or docs/deploying.md); and docs/deploying.md,
the first-deploy path, stays at most 18 KB. Links to the web are not fetched (CI has no network). Run by
`make test`; `--parameter-rows` prints the table rows the template implies."""
import os
import re
import sys
import tomllib

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRST_SCREEN_LINES = 25
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def prose_lines(path):
    """The lines of a Markdown file outside fenced code blocks."""
    fenced = False
    for line in open(path, encoding="utf-8"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            yield line


def anchors(path):
    """GitHub's anchors for the headings of a Markdown file."""
    seen = {}
    result = set()
    for line in prose_lines(path):
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        text = re.sub(r"`([^`]*)`", r"\1", match.group(1))
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


pages = ["README.md", "SECURITY.md"] + sorted(
    os.path.join("docs", name) for name in os.listdir(os.path.join(ROOT, "docs")) if name.endswith(".md"))
failures = []
linked_from_readme = set()
checked = 0
for page in pages:
    directory = os.path.dirname(os.path.join(ROOT, page))
    for line in prose_lines(os.path.join(ROOT, page)):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # https:, mailto:, ...
            checked += 1
            file_part, _, fragment = target.partition("#")
            resolved = os.path.normpath(os.path.join(directory, file_part)) if file_part else os.path.join(ROOT, page)
            if page == "README.md":
                linked_from_readme.add(os.path.relpath(resolved, ROOT))
            if not os.path.exists(resolved):
                failures.append(f"{page}: link to {target}: no such file")
            elif fragment and resolved.endswith(".md") and fragment not in anchors(resolved):
                failures.append(f"{page}: link to {target}: no heading with that anchor")

for page in pages:
    if page.startswith("docs/") and page not in linked_from_readme:
        failures.append(f"{page} is not linked from README.md")
first_screen = "".join(open(os.path.join(ROOT, "README.md"), encoding="utf-8").readlines()[:FIRST_SCREEN_LINES])
for command in ("make demo", "make test"):
    if command not in first_screen:
        failures.append(f"README.md's first {FIRST_SCREEN_LINES} lines do not show `{command}`")


# ---- references a reader cannot follow ---------------------------------------------------------
DANGLING = re.compile(r"\bthe contract\b|\bsee (below|above)\b", re.IGNORECASE)
SOURCE_DIRS = ["src", "tests", "benches", "auth0", "scripts", "events", ".ci", "deploy", "docs"]
SOURCE_FILES = ["README.md", "SECURITY.md", "Makefile", "Cargo.toml", "template.yaml", "samconfig.toml", "openapi.yaml"]


def repository_text_files():
    for name in SOURCE_FILES:
        yield name
    for directory in SOURCE_DIRS:
        for base, dirs, files in os.walk(os.path.join(ROOT, directory)):
            dirs[:] = [d for d in dirs if d not in ("node_modules", "target", "__pycache__")]
            for name in files:
                if name.endswith((".rs", ".md", ".js", ".py", ".yaml", ".yml", ".json", ".toml", ".sh")) or name == "run":
                    yield os.path.relpath(os.path.join(base, name), ROOT)


dangling = 0
for name in repository_text_files():
    if name == os.path.relpath(os.path.abspath(__file__), ROOT):
        continue
    for number, line in enumerate(open(os.path.join(ROOT, name), encoding="utf-8", errors="replace"), 1):
        match = DANGLING.search(line)
        if match:
            dangling += 1
            failures.append(f"{name}:{number}: \"{match.group(0)}\" points at nothing a reader of the repository can find: "
                            "name the page and section (docs/behaviour.md holds the rules)")


# ---- the stack parameters and samconfig.toml in docs/configuration.md --------------------------
class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !If, ...) read as {"Tag": value}."""


def _cfn_tag(loader, tag_suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {tag_suffix: value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def refs(value, conditions):
    """The parameter names a template value refers to with !Ref, directly or through the
    condition of an !If."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and isinstance(value["Ref"], str):
            return {value["Ref"]}
        found = set()
        if set(value) == {"If"} and isinstance(value["If"], list) and value["If"]:
            found |= refs(conditions.get(value["If"][0]), conditions)
        return found.union(*(refs(v, conditions) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(refs(v, conditions) for v in value)) if value else set()
    return set()


def expected_parameter_rows():
    """{parameter: (variable, default, allowed or None when only a pattern limits it)}."""
    template = yaml.load(open(os.path.join(ROOT, "template.yaml"), encoding="utf-8"), Loader=CfnLoader)
    conditions = template.get("Conditions") or {}
    variables = {}
    for resource in template["Resources"].values():
        environment = (resource.get("Properties") or {}).get("Environment") or {}
        for variable, value in (environment.get("Variables") or {}).items():
            for name in sorted(refs(value, conditions)):
                variables.setdefault(name, variable)
    rows = {}
    for name, spec in template["Parameters"].items():
        if "Default" not in spec:
            default = "required"
        elif str(spec["Default"]) == "":
            default = "empty"
        else:
            default = str(spec["Default"])
        if "AllowedValues" in spec:
            allowed = ", ".join(str(v) for v in spec["AllowedValues"])
        elif "MinValue" in spec and "MaxValue" in spec:
            allowed = f"{spec['MinValue']} to {spec['MaxValue']}"
        elif "MinValue" in spec:
            allowed = f"at least {spec['MinValue']}"
        else:
            allowed = None
        rows[name] = (variables.get(name, "-"), default, allowed)
    return rows


def table_rows(path, header):
    """The rows of the Markdown table whose first cells are `header`, as lists of cells with
    backticks removed."""
    rows, inside = [], False
    for line in prose_lines(path):
        cells = [c.strip().replace("`", "") for c in line.strip().strip("|").split("|")] if line.startswith("|") else None
        if cells and [c.lower() for c in cells[: len(header)]] == header:
            inside = True
            continue
        if inside and cells is None:
            break
        if inside and not set(line.strip()) <= set("|-: "):
            rows.append(cells)
    return rows


if "--parameter-rows" in sys.argv:
    for name, (variable, default, allowed) in expected_parameter_rows().items():
        print(f"| `{name}` | {'`' + variable + '`' if variable != '-' else '-'} | {'`' + default + '`' if default not in ('required', 'empty') else default} "
              f"| {', '.join('`' + v + '`' for v in allowed.split(', ')) if allowed and ' to ' not in allowed and not allowed.startswith('at least') else (allowed or '')} |  |")
    sys.exit(0)

PARAMETER_PAGE = os.path.join(ROOT, "docs", "configuration.md")
PARAMETER_PAGE_NAME = "docs/configuration.md"
# The pages an operator reads for samconfig.toml's keys.
SAMCONFIG_PAGES = [PARAMETER_PAGE, os.path.join(ROOT, "docs", "deploying.md")]
DEPLOYING = os.path.join(ROOT, "docs", "deploying.md")
DEPLOYING_MAX_BYTES = 18000
HEADER = ["parameter", "variable", "default", "range"]
expected = expected_parameter_rows()
documented = {}
for cells in table_rows(PARAMETER_PAGE, HEADER):
    if len(cells) < 4:
        failures.append(f"{PARAMETER_PAGE_NAME}: parameter table row {cells} has fewer than 4 cells")
        continue
    documented[cells[0]] = cells
if not documented:
    failures.append(f"{PARAMETER_PAGE_NAME} has no table headed | parameter | variable | default | range |")
for name, (variable, default, allowed) in expected.items():
    cells = documented.get(name)
    if cells is None:
        failures.append(f"{PARAMETER_PAGE_NAME}: stack parameter {name} is not in the parameter table")
        continue
    if cells[1] != variable:
        failures.append(f"{PARAMETER_PAGE_NAME}: {name}'s variable is {variable} in template.yaml, the table says {cells[1]}")
    if cells[2] != default:
        failures.append(f"{PARAMETER_PAGE_NAME}: {name}'s default is {default} in template.yaml, the table says {cells[2]}")
    if allowed is not None and cells[3] != allowed:
        failures.append(f"{PARAMETER_PAGE_NAME}: {name} allows {allowed} in template.yaml, the table says {cells[3]}")
    if allowed is None and not cells[3]:
        failures.append(f"{PARAMETER_PAGE_NAME}: say what {name} allows")
for name in documented:
    if name not in expected:
        failures.append(f"{PARAMETER_PAGE_NAME}: the parameter table has {name}, which template.yaml does not")

deploying_size = os.path.getsize(DEPLOYING)
if deploying_size > DEPLOYING_MAX_BYTES:
    failures.append(f"docs/deploying.md is {deploying_size} bytes, over {DEPLOYING_MAX_BYTES}: it is the first-deploy path only; "
                    "move reference material to docs/configuration.md, docs/by-hand.md or docs/operating.md")

operator_text = "".join(open(page, encoding="utf-8").read() for page in SAMCONFIG_PAGES)
samconfig = tomllib.load(open(os.path.join(ROOT, "samconfig.toml"), "rb"))
samconfig_keys = {"version"}
overridden = set()
for environment in samconfig.values():
    if not isinstance(environment, dict):
        continue
    for command in environment.values():  # [<env>.<command>.parameters]
        for key, value in command.get("parameters", {}).items():
            samconfig_keys.add(key)
            if key == "parameter_overrides":
                overridden.update(item.split("=", 1)[0] for item in value)
for key in sorted(samconfig_keys):
    if f"`{key}`" not in operator_text:
        failures.append(f"samconfig.toml's key `{key}` is explained in neither docs/configuration.md nor docs/deploying.md")
for name in sorted(overridden - set(expected)):
    failures.append(f"samconfig.toml overrides {name}, which template.yaml does not have")

# ---- docs/behaviour.md: every rule names the code that implements it and the tests that prove it
REFERENCE = re.compile(r"`((?:src|tests|auth0|scripts)/[\w./-]+\.(?:rs|js|py))::([^`]+)`")
RULE_START = re.compile(r"^(?:- |\d+\. )")


def rust_defines(text, item, as_test):
    """Whether Rust source `text` defines `Type::...::function` (or a test `function`)."""
    *owners, name = item.split("::")
    pattern = rf"(?m)^\s*(?:pub(?:\([a-z]+\))? )?(?:const )?(?:async )?fn {re.escape(name)}\b|macro_rules! {re.escape(name)}\b"
    found = re.search(pattern, text)
    if not found:
        return False
    if as_test:
        before = text[: found.start()].rstrip().splitlines()[-3:]
        if not any(re.search(r"#\[(tokio::)?test|#\[ignore", line) for line in before):
            return False
    for owner in owners:
        if not re.search(rf"\b(?:struct|enum|trait|type|impl(?:<[^>]*>)?|for) {re.escape(owner)}\b", text):
            return False
    return True


def js_defines(text, item, as_test):
    """Whether Node source `text` defines the function `item`, or has a test titled `item`."""
    if as_test:
        return any(title == item for title in re.findall(r"\btest\(\s*'((?:[^'\\]|\\.)*)'", text))
    name = re.escape(item)
    return bool(re.search(rf"\bfunction {name}\b|\bexports\.{name}\s*=|^\s*(?:async )?{name}\s*\(|\b{name}\s*[:=]\s*(?:async\s*)?(?:\(|function)", text, re.M))


def reference_problem(path, item, as_test):
    full = os.path.join(ROOT, path)
    if not os.path.exists(full):
        return f"`{path}` does not exist"
    text = open(full, encoding="utf-8").read()
    if path.endswith(".js"):
        item = item.replace("\\'", "'")
        text = text.replace("\\'", "'")
        found = js_defines(text, item, as_test)
    elif path.endswith(".py"):
        found = re.search(rf"(?m)^\s*def {re.escape(item)}\b", text)
    else:
        found = rust_defines(text, item, as_test)
    if not found:
        return f"`{path}` has no {'test' if as_test else 'function'} `{item}`"
    return None


def behaviour_rules(path):
    """The rules of docs/behaviour.md: each list item under a `##` heading, with its lines."""
    rules, current = [], None
    for line in prose_lines(path):
        if line.startswith("## "):
            current = None
            continue
        if RULE_START.match(line):
            current = [line]
            rules.append(current)
        elif current is not None and line.startswith("  ") and line.strip():
            current.append(line)
        elif not line.strip():
            current = None
    return ["".join(rule) for rule in rules]


BEHAVIOUR = os.path.join(ROOT, "docs", "behaviour.md")
rules = behaviour_rules(BEHAVIOUR)
references = 0
for rule in rules:
    title = " ".join(rule.split())[:70]
    # A rule may hold several "Code: ... Tests: ..." pairs: each reference counts for the label
    # before it.
    pieces = re.split(r"\b(Code:|Tests:)", rule)
    parts = {"Code:": "", "Tests:": ""}
    for label, text in zip(pieces[1::2], pieces[2::2]):
        parts[label] += text
    for label, as_test in (("Code:", False), ("Tests:", True)):
        found = REFERENCE.findall(parts[label])
        if not found:
            failures.append(f"docs/behaviour.md: the rule \"{title}...\" names no {label[:-1].lower()} ({label} `file::name`)")
        for path, item in found:
            references += 1
            problem = reference_problem(path, item, as_test)
            if problem:
                failures.append(f"docs/behaviour.md: the rule \"{title}...\": {problem}")

if failures:
    sys.exit("\n".join(failures))
print(f"docs: {checked} relative links in {len(pages)} pages resolve; README's first screen shows both commands; "
      f"no dangling references; {len(rules)} rules of behaviour.md name {references} functions and tests that exist; "
      f"{len(expected)} stack parameters and {len(samconfig_keys)} samconfig.toml keys documented; "
      f"docs/deploying.md is {deploying_size} bytes (at most {DEPLOYING_MAX_BYTES})")
