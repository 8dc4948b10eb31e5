#!/usr/bin/env bash
# Edge benchmarks, measured side by side in one run (see docs/benchmarks.md):
#   - per-verify cost inside each runtime (native origin, workerd, wasmtime serve): a full
#     access-token verification vs a bare Ed25519 verify_strict of the same token, both through
#     the opt-in /__bench routes, timed in interleaved pairs as (latency at n=K+1 - latency at
#     n=1) / K so the HTTP work cancels out and both see the same machine load; the ratio
#     full/bare is the figure that matters (same runtime, same run)
#   - verify-token requests/s and refresh latency against each deployment (Redis behind the
#     origin's Upstash-compatible gateway; one Upstash round trip per refresh is asserted by
#     the test one_upstash_round_trip_per_refresh_and_api_key_and_none_per_verify)
#   - API-key checks per second against each deployment (one hot-store read each)
# Needs what scripts/test.sh installs. BENCH_SECS (default 5) per measurement, BENCH_K (200).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=${BENCH_SECS:-5}
K=${BENCH_K:-200}
TOKEN=bench-gateway-token-0123456789

echo "building (release; the Worker with wasm-opt from npm binaryen)" >&2
cargo build -q --release -p usso-origin --bin usso-origin --example load
cargo build -q --profile spin -p usso-edge-spin --target wasm32-wasip2
(cd edge/workers && WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen" \
  WASM_OPT_BIN="$ROOT/tests/node_modules/.bin/wasm-opt" worker-build --profile worker >/dev/null 2>&1)
LOAD=$ROOT/target/release/examples/load

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
wait_http() { # url: poll until it answers (readiness, not a fixed sleep)
  for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "no answer from $1" >&2; exit 1
}

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
PIDS+=($!)
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

MASTER=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
ORIGIN_PORT=$(free_port)
ORIGIN=http://127.0.0.1:$ORIGIN_PORT
RUST_LOG=warn USSO_DATA_DIR=$WORK/data USSO_LISTEN=127.0.0.1:$ORIGIN_PORT SYSTEM_PASSWORD=bench-password \
  USSO_REDIS_URL=redis://127.0.0.1:$REDIS_PORT USSO_GATEWAY_TOKEN=$TOKEN USSO_MASTER_KEY=$MASTER \
  USSO_BENCH_ROUTES=true target/release/usso-origin >/dev/null 2>&1 &
PIDS+=($!)
wait_http "$ORIGIN/health"
# The edges hold the edge key only (least privilege), as in production.
EDGE_KEY=$(USSO_DATA_DIR=$WORK/data USSO_MASTER_KEY=$MASTER target/release/usso-origin key edge-secret)

# workerd, configured as the tests do (support/edge.rs): modules next to the config file. The
# main module is tests/edge-bench/bench.mjs (bundled with npm jose): it passes every request on
# to the Rust Worker in the same isolate and adds the jose and bare-WebCrypto baselines.
WORKERD_PORT=$(free_port)
cp edge/workers/build/index.js edge/workers/build/index_bg.wasm "$WORK/"
tests/node_modules/.bin/esbuild tests/edge-bench/bench.mjs --bundle --format=esm --platform=neutral \
  --conditions=workerd,worker,browser --main-fields=module,main --external:cloudflare:workers \
  --external:./index.js --external:node:crypto --log-level=warning --outfile="$WORK/bench.js"
write_capnp() { # port file
  cat >"$2" <<EOF
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .edge),
              (name = "net", network = (allow = ["public", "private", "local"]))],
  sockets = [(name = "http", address = "127.0.0.1:$1", http = (), service = "main")],
);
const edge :Workerd.Worker = (
  modules = [(name = "bench.js", esModule = embed "bench.js"),
             (name = "index.js", esModule = embed "index.js"),
             (name = "index_bg.wasm", wasm = embed "index_bg.wasm")],
  compatibilityDate = "2026-04-01",
  compatibilityFlags = ["nodejs_compat"],
  bindings = [(name = "UPSTASH_REDIS_REST_URL", text = "$ORIGIN/redis"),
              (name = "UPSTASH_REDIS_REST_TOKEN", text = "$TOKEN"),
              (name = "USSO_EDGE_KEY", text = "$EDGE_KEY"),
              (name = "USSO_BENCH_ROUTES", text = "true")],
  globalOutbound = "net",
);
EOF
}
start_workerd() { # port (in the background; $! is its pid)
  write_capnp "$1" "$WORK/edge-$1.capnp"
  tests/node_modules/@cloudflare/workerd-linux-64/bin/workerd serve "$WORK/edge-$1.capnp" >/dev/null 2>&1 &
}
start_wasmtime() { # port
  tests/.venv/bin/wasmtime serve -S cli --addr "127.0.0.1:$1" \
    --env UPSTASH_REDIS_REST_URL="$ORIGIN/redis" --env UPSTASH_REDIS_REST_TOKEN=$TOKEN \
    --env USSO_EDGE_KEY="$EDGE_KEY" --env USSO_BENCH_ROUTES=true --env USSO_DEFAULT_TENANT=org_default \
    target/wasm32-wasip2/spin/usso_edge_spin.wasm >>"$WORK/wasmtime.log" 2>&1 &
}
start_workerd "$WORKERD_PORT"
PIDS+=($!)
wait_http "http://127.0.0.1:$WORKERD_PORT/"

WASMTIME_PORT=$(free_port)
start_wasmtime "$WASMTIME_PORT"
PIDS+=($!)
wait_http "http://127.0.0.1:$WASMTIME_PORT/"

RESULTS=$WORK/results.jsonl
export USSO_LOAD_ORIGIN=$ORIGIN
TARGETS=("native $ORIGIN" "workerd http://127.0.0.1:$WORKERD_PORT" "wasmtime http://127.0.0.1:$WASMTIME_PORT")
# BENCH_ONLY=workerd (or native, wasmtime): measure one runtime and print the raw rows.
[ -n "${BENCH_ONLY:-}" ] && for t in "${TARGETS[@]}"; do [ "${t%% *}" = "$BENCH_ONLY" ] && TARGETS=("$t"); done
for target in "${TARGETS[@]}"; do
  set -- $target
  echo "measuring $1" >&2
  ratio=bench-ratio; [ "$1" = workerd ] && ratio=bench-ratio-js
  "$LOAD" "$2" "$ratio:$K" 1 "$((SECS * 2))" | sed "s/^{/{\"runtime\":\"$1\",/" >>"$RESULTS"
  "$LOAD" "$2" verify 8 "$SECS" | sed "s/^{/{\"runtime\":\"$1\",/" >>"$RESULTS"
  "$LOAD" "$2" refresh 1 "$SECS" | sed "s/^{/{\"runtime\":\"$1\",/" >>"$RESULTS"
  "$LOAD" "$2" apikey-verify 8 "$SECS" | sed "s/^{/{\"runtime\":\"$1\",/" >>"$RESULTS"
done

# Cold isolates: BENCH_COLD fresh runtime processes each; in each, once it answers HTTP (the
# module is compiled and instantiated by the readiness probe), the first verify-token (the
# tenant's key set fetched from the hot store, the key imported, the token verified) and then a
# second one, timed by curl.
if [ -z "${BENCH_ONLY:-}" ]; then
  ACCESS=$(curl -s -X POST "$ORIGIN/api/sso/v1/auth/login" -H 'content-type: application/json' \
    -d '{"identifier":"cold@bench.test","secret":"cold bench password","register":true}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  for rt in workerd wasmtime; do
    echo "measuring cold $rt" >&2
    for _ in $(seq 1 "${BENCH_COLD:-25}"); do
      port=$(free_port)
      "start_$rt" "$port"
      pid=$!
      wait_http "http://127.0.0.1:$port/"
      times=()
      for _ in 1 2; do
        times+=("$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -X POST \
          -H 'content-type: application/json' -H 'x-tenant-id: org_default' \
          -d "{\"token\":\"$ACCESS\"}" "http://127.0.0.1:$port/api/sso/v1/auth/verify-token")")
      done
      set -- ${times[0]} ${times[1]}
      echo "{\"runtime\":\"$rt\",\"scenario\":\"cold\",\"status_counts\":{\"$1\":1,\"$3\":1},\"first_ms\":$(python3 -c "print($2*1000)"),\"second_ms\":$(python3 -c "print($4*1000)")}" >>"$RESULTS"
      kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    done
  done
fi

[ -n "${BENCH_ONLY:-}" ] && { cat "$RESULTS"; grep -oE "usso_edge_spin.wasm!.{0,140}|panicked.*" "$WORK/wasmtime.log" | sed "s/stderr \[[0-9]*\]//" | sort | uniq -c | sort -rn | head -20; exit 0; }
python3 - "$RESULTS" "$K" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
k = int(sys.argv[2])
by = {(r["runtime"], r["scenario"]): r for r in rows if r["scenario"] != "cold"}
for r in rows:
    bad = {s: n for s, n in r["status_counts"].items() if s != "200"}
    if bad:
        sys.exit(f"{r['runtime']} {r['scenario']}: non-200 answers {bad}")
def f(x):
    return "–" if x is None else f"{x:.1f}"
print("Per-operation costs inside each runtime (µs; same run, rounds interleaved):")
print()
print("| runtime | full verify | memoized repeat | bare Ed25519 (runtime's) | bare verify_strict (dalek) | jose jwtVerify | bare WebCrypto (JS) | bare node:crypto (JS) | full ÷ bare | full ÷ WebCrypto | full ÷ jose | memo ÷ bare | full + Ed25519 DPoP proof | DPoP ÷ full | full + ES256 DPoP proof | ES256 DPoP ÷ full |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for rt in ["native", "workerd", "wasmtime"]:
    p = by[(rt, "bench-ratio")]["per_op_us"]
    full, cached, bare, strict = p["full"], p["cached"], p["bare"], p["verify_strict"]
    jose, wc, nc = p.get("jose"), p.get("webcrypto"), p.get("node_crypto")
    dp, es = p.get("full_with_dpop"), p.get("full_with_es256_dpop")
    ratio = lambda a, b: "–" if a is None or b is None else f"{a / b:.2f}×"
    print(f"| {rt} | {f(full)} | {f(cached)} | {f(bare)} | {f(strict)} | {f(jose)} | {f(wc)} | {f(nc)} "
          f"| {ratio(full, bare)} | {ratio(full, wc)} | {ratio(full, jose)} | {ratio(cached, bare)} "
          f"| {f(dp)} | {ratio(dp, full)} | {f(es)} | {ratio(es, full)} |")
print()
def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]
cold = [r for r in rows if r["scenario"] == "cold"]
if cold:
    print("Cold isolates (a fresh runtime process each; ms, curl's total time):")
    print()
    print("| runtime | samples | first verify p50 | first verify p99 | second verify p50 |")
    print("|---|---|---|---|---|")
    for rt in ["workerd", "wasmtime"]:
        c = [r for r in cold if r["runtime"] == rt]
        first = [r["first_ms"] for r in c]
        second = [r["second_ms"] for r in c]
        print(f"| {rt} | {len(c)} | {pct(first, 0.5):.2f} | {pct(first, 0.99):.2f} | {pct(second, 0.5):.2f} |")
    print()
import gzip, os
print("Component sizes (bytes; gzip -9):")
print()
print("| build | raw | gzip |")
print("|---|---|---|")
for name, path in [("Worker (`worker-build --profile worker`, wasm-opt)", "edge/workers/build/index_bg.wasm"),
                   ("Spin component (`--profile spin`)", "target/wasm32-wasip2/spin/usso_edge_spin.wasm")]:
    data = open(path, "rb").read()
    print(f"| {name} | {len(data):,} | {len(gzip.compress(data, 9)):,} |")
print()
print("| runtime | verify-token req/s (8 conc.) | refresh p50 / p99 (ms) | apikeys/verify req/s (8 conc.) |")
print("|---|---|---|---|")
for rt in ["native", "workerd", "wasmtime"]:
    v, r, a = by[(rt, "verify")], by[(rt, "refresh")], by[(rt, "apikey-verify")]
    print(f"| {rt} | {v['requests_per_sec']:.0f} | {r['latency_ms']['p50']:.2f} / {r['latency_ms']['p99']:.2f} "
          f"| {a['requests_per_sec']:.0f} |")
EOF

# The origin's own routes against USSO Lite, in the same command (scripts/bench-lite.sh).
[ -z "${BENCH_ONLY:-}" ] && { echo; echo "The origin against USSO Lite:"; echo; scripts/bench-lite.sh; }
