-- wrk's summary as one JSON line, in the shape of origin/examples/load.rs's rows (requests,
-- seconds, requests_per_sec, latency_ms percentiles, status_counts), for scripts/bench-lite.sh.
-- No per-response callback: wrk then parses answers in C, so the generator takes as little of
-- the machine as it can. Answers outside 2xx/3xx, and socket errors, are counted apart.
done = function(summary, latency, requests)
  local e = summary.errors
  local bad = e.status
  local socket = e.connect + e.read + e.write + e.timeout
  local secs = summary.duration / 1e6
  io.write(string.format(
    '{"requests":%d,"seconds":%.6f,"requests_per_sec":%.1f,' ..
    '"latency_ms":{"p50":%.3f,"p90":%.3f,"p99":%.3f,"max":%.3f},' ..
    '"status_counts":{"2xx/3xx":%d,"other":%d,"socket_errors":%d}}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.requests - bad, bad, socket))
end
