#!/usr/bin/env bash
# Installs what the tests need, skipping whatever is already there at the right version.
set -euo pipefail
cd "$(dirname "$0")/.."

have() { command -v "$1" >/dev/null 2>&1; }

# Rust targets and components.
installed_targets=$(rustup target list --installed)
for t in wasm32-unknown-unknown wasm32-wasip2; do
  grep -qx "$t" <<<"$installed_targets" || rustup target add "$t"
done
for c in rustfmt clippy; do
  rustup component list --installed | grep -q "^$c" || rustup component add "$c"
done

# npm packages for the interop and end-to-end tests (pinned by tests/package-lock.json).
have node || { echo "Node.js is required (apt-get install nodejs npm)" >&2; exit 1; }
lock_sum=$(sha256sum tests/package-lock.json | cut -d' ' -f1)
if [[ "$(cat tests/node_modules/.usso-lock-sum 2>/dev/null)" != "$lock_sum" ]]; then
  (cd tests && npm ci --no-audit --no-fund)
  echo "$lock_sum" > tests/node_modules/.usso-lock-sum
fi

# A real Redis for the gateway and hot-store tests (Debian's package).
if ! have redis-server; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
  # The package starts a system instance; the tests start their own on free ports.
  ($SUDO systemctl stop redis-server 2>/dev/null || $SUDO service redis-server stop 2>/dev/null || true) >/dev/null
fi
