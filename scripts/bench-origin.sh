#!/usr/bin/env bash
# Origin benchmarks, measured side by side in one run (see docs/benchmarks.md):
#   - one Argon2id hash (the baseline: cores / hash time = the best possible login rate)
#   - login, verify-token and refresh requests per second against the release binary
#   - API-key verification between two verify-token runs (the same-run baseline), and agent
#     token exchanges (client_credentials-like) per second
#   - peak memory (VmHWM) of the server under 1,000 concurrent logins
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECS:-10}
cargo build --release -p usso-origin --bin usso-origin --example load
BIN=target/release/usso-origin
LOAD=target/release/examples/load
DATA=$(mktemp -d)
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
OUT=$(mktemp)
start() {
  : >"$OUT"
  RUST_LOG=warn USSO_DATA_DIR=$DATA USSO_LISTEN=127.0.0.1:$PORT SYSTEM_PASSWORD=bench-password \
    USSO_HASH_QUEUE=${USSO_HASH_QUEUE:-64} "$BIN" >"$OUT" 2>/dev/null &
  PID=$!
  for _ in $(seq 1 100); do grep -q "listening on" "$OUT" && break; sleep 0.1; done
  grep -q "listening on" "$OUT" || { echo "server did not start" >&2; exit 1; }
}
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA" "$OUT"' EXIT
# The load generator sends everything from one address: raise the per-address sign-in limit
# (the per-account limits stay) for the measured scenarios; the burst keeps the queue's 429s.
start
kill $PID; wait $PID 2>/dev/null || true
USSO_DATA_DIR=$DATA "$BIN" tenant update org_default \
  --set '{"login_limit_ip": {"max": 1000000, "window_secs": 60}}' >/dev/null 2>&1
start
BASE=http://127.0.0.1:$PORT
"$LOAD" "$BASE" hash-baseline 20 0
"$LOAD" "$BASE" login 8 "$SECS"
"$LOAD" "$BASE" verify 16 "$SECS"
"$LOAD" "$BASE" refresh 16 "$SECS"
"$LOAD" "$BASE" apikey-verify 16 "$SECS"
"$LOAD" "$BASE" verify 16 "$SECS"
# The server's own CPU time over the agent run: exchanges per CPU-second of the server is the
# per-core rate (the load generator shares the machine and is not counted).
cpu() { awk '{print $14 + $15}' /proc/$PID/stat; }
TICKS=$(getconf CLK_TCK)
C0=$(cpu)
"$LOAD" "$BASE" agent-auth 16 "$SECS"
C1=$(cpu)
echo "{\"scenario\": \"agent-auth-server-cpu\", \"server_cpu_seconds\": $(python3 -c "print(($C1 - $C0) / $TICKS)")}"
echo "{\"rss_before_burst_kib\": $(awk '/VmRSS/{print $2}' /proc/$PID/status)}"
"$LOAD" "$BASE" burst-login 1000 0
echo "{\"peak_rss_kib\": $(awk '/VmHWM/{print $2}' /proc/$PID/status)}"
