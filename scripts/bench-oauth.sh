#!/usr/bin/env bash
# OAuth provider benchmarks, side by side in one run against the release origin (see
# docs/benchmarks.md, "OAuth provider"):
#   - client_credentials grants per second, and per CPU-second of the server (the per-core
#     rate, compared with Keycloak's published sizing: 120-200 grants per second per vCPU)
#   - agent JWT exchanges, the same kind of work on the project's older route (same run)
#   - authorization-code redemption latency (each code fetched first, untimed), and
#     verify-token latency in the same run as the baseline of one request
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECS:-8}
cargo build --release -p usso-origin --bin usso-origin --example load
BIN=target/release/usso-origin
LOAD=target/release/examples/load
DATA=$(mktemp -d)
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
OUT=$(mktemp)
start() {
  : >"$OUT"
  RUST_LOG=warn USSO_DATA_DIR=$DATA USSO_LISTEN=127.0.0.1:$PORT SYSTEM_PASSWORD=bench-password \
    "$BIN" >"$OUT" 2>/dev/null &
  PID=$!
  for _ in $(seq 1 100); do grep -q "listening on" "$OUT" && break; sleep 0.1; done
  grep -q "listening on" "$OUT" || { echo "server did not start" >&2; exit 1; }
}
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA" "$OUT"' EXIT
start
kill $PID; wait $PID 2>/dev/null || true
# Every request of the load generator comes from one address: raise the per-address sign-in
# limit (the workers' users sign in once each).
USSO_DATA_DIR=$DATA "$BIN" tenant update org_default \
  --set '{"login_limit_ip": {"max": 1000000, "window_secs": 60}}' >/dev/null 2>&1
start
BASE=http://127.0.0.1:$PORT
cpu() { awk '{print $14 + $15}' /proc/$PID/stat; }
TICKS=$(getconf CLK_TCK)
measured() { # scenario concurrency: the run, then the server's CPU seconds over it
  local c0 c1
  c0=$(cpu)
  "$LOAD" "$BASE" "$1" "$2" "$SECS"
  c1=$(cpu)
  echo "{\"scenario\": \"$1-server-cpu\", \"server_cpu_seconds\": $(python3 -c "print(($c1 - $c0) / $TICKS)")}"
}
measured oauth-cc 16
measured agent-auth 16
measured oauth-cc 16
"$LOAD" "$BASE" verify 1 "$SECS"
"$LOAD" "$BASE" oauth-code 1 "$SECS"
"$LOAD" "$BASE" verify 1 "$SECS"
