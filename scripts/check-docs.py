#!/usr/bin/env python3
"""Checks the documentation a newcomer walks: every relative link in README.md, SECURITY.md
and docs/*.md points at a file that exists and, with a #fragment, at a heading it has (GitHub's
anchor rules); every page of docs/ is linked from the README; the README's first screen shows
the two commands. Links to the web are not fetched (CI has no network). Run by `make test`."""
import os
import re
import sys

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

if failures:
    sys.exit("\n".join(failures))
print(f"docs: {checked} relative links in {len(pages)} pages resolve; README's first screen shows both commands")
