#!/usr/bin/env bash
# The hosted pages' weight and speed, side by side with /health in one run (docs/benchmarks.md):
#   - bytes each page transfers without images: its HTML plus the style sheets and scripts it
#     links (no compression; the goal is ≤ 50 KB)
#   - time to first byte from the release origin, each page interleaved with /health on one
#     kept-alive connection (goal: median ≤ 5 ms), and the ratio to /health's median
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${BENCH_ROUNDS:-400}
cargo build --release -p usso-origin --bin usso-origin
BIN=target/release/usso-origin
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
# The magic-link page with the captcha, so that the script's weight is counted too.
USSO_DATA_DIR=$DATA "$BIN" tenant update org_default --set '{"captcha": ["magic_link"]}' >/dev/null
start
python3 - "$PORT" "$ROUNDS" <<'EOF'
import http.client, json, re, statistics, sys, time
port, rounds = int(sys.argv[1]), int(sys.argv[2])

def conn():
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10)

# A signed-in browser's cookies (a registration through the JSON API), for the account page.
c = conn()
c.request("POST", "/api/sso/v1/auth/register", json.dumps({"identifier": "bench@example.com", "secret": "a long bench password"}), {"content-type": "application/json"})
r = c.getresponse(); r.read()
cookies = "; ".join(v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie")
assert r.status == 200, r.status

pages = ["/login", "/signup", "/login/code", "/login/link", "/password/forgot", "/account", "/login?lang=fa"]

def get(c, path):
    # The account page as the signed-in person; the sign-in pages as a visitor.
    t0 = time.perf_counter()
    c.request("GET", path, headers={"cookie": cookies} if path == "/account" else {})
    r = c.getresponse()
    t1 = time.perf_counter()
    body = r.read()
    return t1 - t0, r.status, body

weights = {}
c = conn()
for p in pages:
    _, status, body = get(c, p)
    assert status == 200, (p, status)
    html = body.decode()
    linked = re.findall(r'(?:href|src)="(/assets/[^"]+)"', html)
    size = len(body) + sum(len(get(c, a)[2]) for a in linked)
    weights[p] = {"html_bytes": len(body), "with_css_and_js_bytes": size, "assets": linked}

times = {p: [] for p in ["/health"] + pages}
c = conn()
for _ in range(10):
    for p in times: get(c, p)
for _ in range(rounds):
    for p in times:
        dt, status, _ = get(c, p)
        times[p].append(dt * 1000)
health = statistics.median(times["/health"])
for p, ts in times.items():
    ts.sort()
    med = statistics.median(ts)
    out = {"path": p, "rounds": rounds, "ttfb_median_ms": round(med, 3), "ttfb_p90_ms": round(ts[int(len(ts) * 0.9)], 3),
           "ratio_to_health": round(med / health, 2)}
    if p in weights:
        out.update(weights[p])
    print(json.dumps(out))
EOF
