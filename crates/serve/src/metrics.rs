//! The server's counters and histograms, rendered in the Prometheus text format (`GET
//! /metrics`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Upper bounds of the batch-size histogram's buckets, in rows.
const BATCH_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// A cumulative histogram.
#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, value: f64) {
        for (bound, count) in self.bounds.iter().zip(&mut self.counts) {
            if value <= *bound {
                *count += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

#[derive(Debug)]
struct State {
    /// `(route, status) -> count`.
    requests: BTreeMap<(String, u16), u64>,
    latency: Histogram,
    batches: Histogram,
    dropped_rows: u64,
}

/// Everything `/metrics` reports; shared by the handlers and the batching worker.
#[derive(Debug)]
pub struct Metrics {
    state: Mutex<State>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                requests: BTreeMap::new(),
                latency: Histogram::new(&LATENCY_BUCKETS),
                batches: Histogram::new(&BATCH_BUCKETS),
                dropped_rows: 0,
            }),
        }
    }
}

impl Metrics {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("no thread panics while updating metrics")
    }

    /// A request to `route` answered with `status` after `elapsed`.
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        let mut state = self.state();
        *state
            .requests
            .entry((route.to_string(), status))
            .or_default() += 1;
        state.latency.observe(elapsed.as_secs_f64());
    }

    /// A forward pass over `rows` rows.
    pub fn batch(&self, rows: usize) {
        self.state().batches.observe(rows as f64);
    }

    /// Rows dropped because their client disconnected before they were scored.
    pub fn dropped_rows(&self, rows: usize) {
        self.state().dropped_rows += rows as u64;
    }

    /// The Prometheus text exposition, with the current queue depth.
    pub fn render(&self, queued_rows: usize) -> String {
        let state = self.state();
        let mut out = String::new();
        out.push_str(
            "# HELP prompt_serve_requests_total HTTP requests answered, by route and status.\n\
             # TYPE prompt_serve_requests_total counter\n",
        );
        for ((route, status), count) in &state.requests {
            let _ = writeln!(
                out,
                "prompt_serve_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        state.latency.render(
            &mut out,
            "prompt_serve_request_duration_seconds",
            "Time from a request's arrival to its answer.",
        );
        state.batches.render(
            &mut out,
            "prompt_serve_batch_rows",
            "Rows (inputs times prompts) per forward pass.",
        );
        let _ = writeln!(
            out,
            "# HELP prompt_serve_queue_rows Rows waiting to be scored.\n\
             # TYPE prompt_serve_queue_rows gauge\nprompt_serve_queue_rows {queued_rows}"
        );
        let _ = writeln!(
            out,
            "# HELP prompt_serve_dropped_rows_total Rows not scored because their client left.\n\
             # TYPE prompt_serve_dropped_rows_total counter\n\
             prompt_serve_dropped_rows_total {}",
            state.dropped_rows
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_counts_requests_batches_and_latency() {
        let metrics = Metrics::default();
        metrics.request("/v1/classify", 200, Duration::from_millis(30));
        metrics.request("/v1/classify", 200, Duration::from_millis(3));
        metrics.request("/v1/classify", 404, Duration::from_millis(1));
        metrics.batch(3);
        metrics.dropped_rows(2);
        let text = metrics.render(5);
        for line in [
            "prompt_serve_requests_total{route=\"/v1/classify\",status=\"200\"} 2",
            "prompt_serve_requests_total{route=\"/v1/classify\",status=\"404\"} 1",
            "prompt_serve_request_duration_seconds_bucket{le=\"0.005\"} 2",
            "prompt_serve_request_duration_seconds_bucket{le=\"0.05\"} 3",
            "prompt_serve_request_duration_seconds_count 3",
            "prompt_serve_batch_rows_bucket{le=\"2\"} 0",
            "prompt_serve_batch_rows_bucket{le=\"4\"} 1",
            "prompt_serve_batch_rows_sum 3",
            "prompt_serve_queue_rows 5",
            "prompt_serve_dropped_rows_total 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in\n{text}"
            );
        }
    }
}
