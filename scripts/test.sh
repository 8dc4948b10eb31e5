#!/usr/bin/env bash
# Runs every test of the project, installing first what the tests need (idempotently: anything
# already present at the right version is skipped). Works on a fresh machine of this kind
# (Debian 12, Rust via rustup, Node 20, Python 3.11) and on a developer's machine alike.
#
#   scripts/test.sh            install + format/lint checks + WASM builds + all tests
#   USSO_TEST_SKIP_INSTALL=1   skip the install step (you have run it once already)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [[ "${USSO_TEST_SKIP_INSTALL:-0}" != 1 ]]; then
  step "install: what the tests need"
  scripts/install-test-deps.sh
fi

step "layout: one integration-test binary per crate"
# Each test binary links the whole crate graph (~180 MB for the origin): new test files go into
# <crate>/tests/it/ as modules, never beside it.
stray=$(find shared/tests edge/tests origin/tests -maxdepth 1 -type f -name '*.rs' 2>/dev/null || true)
if [[ -n "$stray" ]]; then
  echo "top-level test files (move them into <crate>/tests/it/ as modules):" $stray >&2
  exit 1
fi

step "layers: no module cycle in the origin, axum only under http/"
python3 scripts/check-layers.py

step "format"
cargo fmt --all --check

step "lint (clippy, all targets, native features on and off)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "lint the edge core and its adapters on their targets (Workers: wasm32-unknown-unknown, Spin: wasm32-wasip2)"
# A check, not a build: the end-to-end tests build the real artefacts (release) once anyway.
cargo clippy -p usso-shared -p usso-edge -p usso-edge-workers --target wasm32-unknown-unknown -- -D warnings
cargo clippy -p usso-shared -p usso-edge -p usso-edge-spin --target wasm32-wasip2 -- -D warnings

# The end-to-end tests build the Worker (worker-build) and the Spin component (`--profile spin`) themselves
# and run them in workerd, `wrangler dev` and `wasmtime serve`.
step "tests (unit, integration, interop, edge runtimes; benches run once in test mode)"
cargo test --workspace --all-features --all-targets
cargo test --workspace --all-features --doc

step "the origin's HTTP and administration suites again, on MongoDB through the Data API (the stand-in; docs/mongodb.md)"
# `--workspace` as above: the same feature resolution, so nothing is compiled a second time.
USSO_TEST_DOCSTORE=dataapi cargo test --workspace --all-features --test it -- http_flow:: admin_api:: account:: api_keys::

step "all tests passed"
