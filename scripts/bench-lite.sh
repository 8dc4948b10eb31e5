#!/usr/bin/env bash
# The origin's own token routes against USSO Lite (the official SDK's `usso[fastapi,lite]`, as
# its documentation mounts it: tests/lite/app.py under uvicorn), side by side in one run with
# the same load generator and a bearer token from each service's own login:
#   - GET /api/sso/v1/me (origin) vs GET /users/me (Lite)
#   - GET /.well-known/jwks.json on each
# For each: requests per second (the load generator shares the machine) and requests per
# second of the server's own CPU time (/proc/PID/stat utime+stime over the run), the figure
# that does not depend on how much of the machine the load generator takes.
# The load generator is `wrk` (Debian's package, installed on first use; its summary printed as
# JSON by tests/lite/wrk-report.lua), which takes a small share of the two cores; BENCH_LOADGEN=load
# uses the project's own generator instead (origin/examples/load.rs, `get:PATH`, reqwest-based,
# which takes more of the machine: the figures before 2026-12-05 were made with it).
# BENCH_SECS (default 5) per measurement, BENCH_CONC (8) connections, BENCH_ROUNDS (3) interleaved
# rounds (origin, Lite, origin, Lite… per route). Printed: the totals over all rounds, and the
# median of the rounds' own ratios (each round's origin figure over the Lite figure measured right
# after it), which a burst of load from elsewhere on a shared machine moves less. Installs Lite into
# tests/.venv-lite from tests/lite/requirements.txt (pinned) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECS:-5}
CONC=${BENCH_CONC:-8}
ROUNDS=${BENCH_ROUNDS:-3}
LOADGEN=${BENCH_LOADGEN:-wrk}
if [[ $LOADGEN == wrk ]] && ! command -v wrk >/dev/null; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi
if [[ "$(tests/.venv-lite/bin/python -c 'from importlib.metadata import version; print(version("usso"))' 2>/dev/null)" != "0.33.5" ]]; then
  python3 -m venv tests/.venv-lite
  tests/.venv-lite/bin/pip install -q --disable-pip-version-check -r tests/lite/requirements.txt
fi
if [[ $LOADGEN == wrk ]]; then
  cargo build -q --release -p usso-origin --bin usso-origin
else
  cargo build -q --release -p usso-origin --bin usso-origin --example load
fi
LOAD=target/release/examples/load
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
wait_http() { for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
token() { # url body
  curl -s -X POST "$1" -H 'content-type: application/json' -d "$2" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

ORIGIN_PORT=$(free_port)
RUST_LOG=warn USSO_DATA_DIR=$WORK/origin USSO_LISTEN=127.0.0.1:$ORIGIN_PORT SYSTEM_PASSWORD=bench-password \
  target/release/usso-origin >/dev/null 2>&1 &
ORIGIN_PID=$!
PIDS+=($ORIGIN_PID)
LITE_PORT=$(free_port)
(cd tests/lite && exec env LITE_DB="$WORK/lite.db" ../.venv-lite/bin/uvicorn app:app \
  --host 127.0.0.1 --port "$LITE_PORT" --log-level warning) >/dev/null 2>&1 &
LITE_PID=$!
PIDS+=($LITE_PID)
wait_http "http://127.0.0.1:$ORIGIN_PORT/health"
wait_http "http://127.0.0.1:$LITE_PORT/.well-known/jwks.json"
O_TOKEN=$(token "http://127.0.0.1:$ORIGIN_PORT/api/sso/v1/auth/login" \
  '{"identifier":"me@bench.test","secret":"bench password 12345","register":true}')
L_TOKEN=$(token "http://127.0.0.1:$LITE_PORT/auth/register" \
  '{"identifier":"me@bench.test","secret":"Bench password 12345"}')

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)
RESULTS=$WORK/results.jsonl
run() { # service pid base bearer path
  local c0 c1
  c0=$(cpu "$2")
  if [[ $LOADGEN == wrk ]]; then
    wrk -t2 -c"$CONC" -d"${SECS}s" -H "Authorization: Bearer $4" -s tests/lite/wrk-report.lua \
      "$3$5" | tail -n 1 >"$WORK/row"
  else
    USSO_LOAD_BEARER=$4 "$LOAD" "$3" "get:$5" "$CONC" "$SECS" >"$WORK/row"
  fi
  c1=$(cpu "$2")
  python3 - "$1" "$5" "$(( c1 - c0 ))" "$TICKS" "$WORK/row" "$LOADGEN" >>"$RESULTS" <<'PY'
import json, sys
service, path, ticks, hz, row = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
r = json.load(open(row))
r.update(service=service, path=path, server_cpu_s=ticks / hz, loadgen=sys.argv[6])
print(json.dumps(r))
PY
}
# Interleaved: origin, Lite, origin, Lite for each pair of routes.
for round in $(seq 1 "$ROUNDS"); do
  run origin "$ORIGIN_PID" "http://127.0.0.1:$ORIGIN_PORT" "$O_TOKEN" /api/sso/v1/me
  run lite "$LITE_PID" "http://127.0.0.1:$LITE_PORT" "$L_TOKEN" /users/me
  run origin "$ORIGIN_PID" "http://127.0.0.1:$ORIGIN_PORT" "$O_TOKEN" /.well-known/jwks.json
  run lite "$LITE_PID" "http://127.0.0.1:$LITE_PORT" "$L_TOKEN" /.well-known/jwks.json
done
python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for r in rows:
    bad = {s: n for s, n in r["status_counts"].items() if s not in ("200", "2xx/3xx") and n}
    if bad:
        sys.exit(f"{r['service']} {r['path']}: non-200 answers {bad}")
def agg(service, route):
    rs = [r for r in rows if r["service"] == service and route in r["path"]]
    reqs = sum(r["requests"] for r in rs)
    secs = sum(r["seconds"] for r in rs)
    cpu = sum(r["server_cpu_s"] for r in rs)
    p50 = sorted(r["latency_ms"]["p50"] for r in rs)[len(rs) // 2]
    return reqs / secs, reqs / cpu if cpu else float("inf"), p50
def median(xs):
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2
def round_ratios(route):
    o = [r for r in rows if r["service"] == "origin" and route in r["path"]]
    l = [r for r in rows if r["service"] == "lite" and route in r["path"]]
    return [(a["requests"] / a["seconds"]) / (b["requests"] / b["seconds"]) for a, b in zip(o, l)]
print(f"Load generator: {rows[0]['loadgen']}, {len(rows) // 4} interleaved rounds per route and service.")
print()
print("| route | origin req/s | Lite req/s | ratio | median of round ratios (min–max) | origin req per server CPU-s | Lite req per server CPU-s | ratio per CPU | p50 origin / Lite (ms) |")
print("|---|---|---|---|---|---|---|---|---|")
for name, route in [("/me (origin /api/sso/v1/me, Lite /users/me)", "me"), ("JWKS", "jwks")]:
    o, l = agg("origin", route), agg("lite", route)
    rr = round_ratios(route)
    print(f"| {name} | {o[0]:,.0f} | {l[0]:,.0f} | {o[0] / l[0]:.1f}× | {median(rr):.1f}× ({min(rr):.1f}–{max(rr):.1f}) | {o[1]:,.0f} | {l[1]:,.0f} | {o[1] / l[1]:.1f}× | {o[2]:.2f} / {l[2]:.2f} |")
PY
