-- One JSON line at the end of a wrk run: requests, errors (socket errors and
-- non-2xx/3xx answers), the measured window and latency percentiles in microseconds.
done = function(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format(
    '{"requests": %d, "errors": %d, "seconds": %.6f, "p50_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
    summary.requests, errors, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
