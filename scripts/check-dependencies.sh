#!/usr/bin/env bash
# Guards the dependency tree of the Lambda binary (all targets, normal dependencies):
# one TLS stack (rustls 0.23 with aws-lc-rs), no OpenSSL, no ring, no legacy rustls 0.21.
# `openssl-probe` is allowed: it only looks for the system's CA bundle path, it links nothing.
# Then scripts/check-licenses.py: every linked crate under a license the project accepts.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=$(cargo tree --locked -e normal --target all --prefix none --format '{p}' | sed 's/ (\*)$//' | sort -u)
problems=0
for banned in 'openssl v' 'openssl-sys' 'native-tls' 'ring v' 'rustls v0.2[012]\.' 'hyper-tls'; do
  if grep -Eq "^${banned}" <<<"$tree"; then
    echo "banned crate in the dependency tree: $(grep -E "^${banned}" <<<"$tree" | head -1)"
    problems=1
  fi
done
rustls=$(grep -Ec '^rustls v' <<<"$tree" || true)
if [ "$rustls" != 1 ]; then
  echo "expected exactly one rustls, found: $(grep -E '^rustls v' <<<"$tree" | tr '\n' ' ')"
  problems=1
fi
[ "$problems" = 0 ] && python3 scripts/check-licenses.py || problems=1
[ "$problems" = 0 ] && echo "dependency tree: one rustls ($(grep -E '^rustls v' <<<"$tree")), no OpenSSL, no ring"
exit "$problems"
