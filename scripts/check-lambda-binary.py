#!/usr/bin/env python3
"""Checks that the file SAM packaged is what Lambda's arm64 provided.al2023 runtime runs: an
ELF executable for aarch64 named `bootstrap`, and (with --max-mb) that it stays within its size
budget: every megabyte is on each cold start's path. Prints its size.

Usage: check-lambda-binary.py PATH [--max-mb N]"""
import os
import struct
import sys

path = sys.argv[1]
max_mb = float(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--max-mb" else None
with open(path, "rb") as f:
    header = f.read(20)
problems = []
if os.path.basename(path) != "bootstrap":
    problems.append("it is not named bootstrap")
if header[:4] != b"\x7fELF":
    problems.append("it is not an ELF file")
elif header[4] != 2:
    problems.append("it is not a 64-bit ELF")
else:
    machine = struct.unpack_from("<H", header, 18)[0]
    if machine != 183:  # EM_AARCH64
        problems.append(f"its machine is {machine}, not aarch64 (183)")
if not os.access(path, os.X_OK):
    problems.append("it is not executable")
size_mb = os.path.getsize(path) / 1e6
if max_mb is not None and size_mb > max_mb:
    problems.append(f"it is {size_mb:.2f} MB, over its {max_mb} MB budget")
if problems:
    sys.exit(f"{path}: " + "; ".join(problems))
print(f"{path}: aarch64 ELF executable, {size_mb:.2f} MB")
