//! Prometheus metrics, registered once per process. Per-API handles are resolved when a config
//! is built, so the `logging` hook records with no label formatting or map lookup.

use http::Method;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use std::sync::OnceLock;

const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
const METHODS: [Method; 7] =
    [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH, Method::HEAD, Method::OPTIONS];
/// Statuses with a pre-resolved counter cell; others take the slower labelled path.
const STATUSES: [u16; 24] = [
    200, 201, 202, 204, 206, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 408, 410, 413, 414, 429, 500, 502, 503,
    504,
];

pub struct Metrics {
    pub registry: Registry,
    requests: IntCounterVec,
    request_duration: HistogramVec,
    upstream_duration: HistogramVec,
    pub in_flight: IntGauge,
    upstream_healthy: IntGaugeVec,
    pub config_reloads: IntCounterVec,
    /// Proxy connections closed by a connection-level limit, by `reason` (`per_ip_limit`,
    /// `header_timeout`, `header_too_large`).
    pub connections_refused: IntCounterVec,
    ratelimit: IntCounterVec,
    /// Rate-limit decisions the backend could not make, by `reason` (`unavailable`, `timeout`,
    /// `error`) and the `on_backend_error` `action` taken.
    pub ratelimit_backend_errors: IntCounterVec,
    /// Time of one backend round trip (Redis) for all limits of a request.
    pub ratelimit_backend_duration: Histogram,
    /// JSON body edits not made, by `direction` and `reason` (`too_large`, `invalid_json`).
    pub json_skipped: IntCounterVec,
    /// Requests refused and responses reported by spec validation, by API and direction.
    pub validation_failures: IntCounterVec,
}

/// A metric of a static definition, registered once.
fn registered<C: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: prometheus::Result<C>) -> C {
    let c = c.expect("static metric definition");
    r.register(Box::new(c.clone())).expect("metric registered once");
    c
}

fn counters(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    registered(r, IntCounterVec::new(Opts::new(name, help), labels))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let r = &registry;
        let hist = |name: &str, help: &str| {
            let opts = HistogramOpts::new(name, help).buckets(BUCKETS.to_vec());
            registered(r, HistogramVec::new(opts, &["api"]))
        };
        let ratelimit_round_trips =
            HistogramOpts::new("gatehouse_ratelimit_backend_duration_seconds", "Rate limit backend round trips")
                .buckets(vec![0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1]);
        Metrics {
            requests: counters(r, "gatehouse_requests_total", "Requests answered, by API, method and status", &[
                "api", "method", "status",
            ]),
            request_duration: hist(
                "gatehouse_request_duration_seconds",
                "Time from request start to the end of the response",
            ),
            upstream_duration: hist(
                "gatehouse_upstream_duration_seconds",
                "Time from picking an upstream to its response header",
            ),
            in_flight: registered(r, IntGauge::new("gatehouse_requests_in_flight", "Requests being handled")),
            upstream_healthy: registered(
                r,
                IntGaugeVec::new(
                    Opts::new("gatehouse_upstream_healthy", "1 if the upstream takes traffic (healthy and not ejected)"),
                    &["cluster", "upstream"],
                ),
            ),
            config_reloads: counters(r, "gatehouse_config_reloads_total", "Config loads by result", &["result"]),
            connections_refused: counters(
                r,
                "gatehouse_connections_refused_total",
                "Proxy connections closed by a connection limit",
                &["reason"],
            ),
            ratelimit: counters(
                r,
                "gatehouse_ratelimit_decisions_total",
                "Rate limit decisions by API, policy and result",
                &["api", "policy", "result"],
            ),
            ratelimit_backend_errors: counters(
                r,
                "gatehouse_ratelimit_backend_errors_total",
                "Rate limit decisions the backend could not make",
                &["reason", "action"],
            ),
            ratelimit_backend_duration: registered(r, Histogram::with_opts(ratelimit_round_trips)),
            json_skipped: counters(
                r,
                "gatehouse_json_transform_skipped_total",
                "JSON body edits not made, by direction and reason",
                &["direction", "reason"],
            ),
            validation_failures: counters(
                r,
                "gatehouse_validation_failures_total",
                "Requests refused (direction=request) and upstream answers reported (direction=response) by spec validation",
                &["api", "direction"],
            ),
            registry,
        }
    }

    /// The (allowed, limited) counters of one policy on one API.
    pub fn ratelimit(&self, api: &str, policy: &str) -> (IntCounter, IntCounter) {
        let c = |r: &str| self.ratelimit.with_label_values(&[api, policy, r]);
        (c("allowed"), c("limited"))
    }

    /// Handles for one API (label `api`); `"-"` is used for requests that matched no route.
    pub fn api(&self, api: &str) -> ApiMetrics {
        ApiMetrics {
            name: api.to_string(),
            requests: self.requests.clone(),
            cells: OnceLock::new(),
            duration: self.request_duration.with_label_values(&[api]),
            upstream: self.upstream_duration.with_label_values(&[api]),
        }
    }

    pub fn upstream_gauge(&self, cluster: &str, upstream: &str) -> IntGauge {
        self.upstream_healthy.with_label_values(&[cluster, upstream])
    }

    /// (cluster, upstream) pairs that currently have a health gauge.
    pub fn upstream_gauge_labels(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for family in self.registry.gather() {
            if family.name() != "gatehouse_upstream_healthy" {
                continue;
            }
            for m in family.get_metric() {
                let get = |n: &str| m.get_label().iter().find(|l| l.name() == n).map(|l| l.value().to_string());
                if let (Some(c), Some(u)) = (get("cluster"), get("upstream")) {
                    out.push((c, u));
                }
            }
        }
        out
    }

    pub fn remove_upstream_gauge(&self, cluster: &str, upstream: &str) {
        let _ = self.upstream_healthy.remove_label_values(&[cluster, upstream]);
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 * 1024);
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

pub struct ApiMetrics {
    name: String,
    requests: IntCounterVec,
    /// METHODS × STATUSES counters, created on first use of each.
    cells: OnceLock<Box<[OnceLock<IntCounter>]>>,
    pub duration: Histogram,
    pub upstream: Histogram,
}

impl ApiMetrics {
    pub fn count(&self, method: &Method, status: u16) {
        let m = METHODS.iter().position(|x| x == method);
        let s = STATUSES.iter().position(|&x| x == status);
        let (Some(m), Some(s)) = (m, s) else {
            self.requests.with_label_values(&[&self.name, method_label(method), &status.to_string()]).inc();
            return;
        };
        let cells = self.cells.get_or_init(|| (0..METHODS.len() * STATUSES.len()).map(|_| OnceLock::new()).collect());
        cells[m * STATUSES.len() + s]
            .get_or_init(|| {
                self.requests.with_label_values(&[&self.name, METHODS[m].as_str(), &STATUSES[s].to_string()])
            })
            .inc();
    }
}

/// Methods outside the usual set share one label, so a client cannot mint label values.
fn method_label(m: &Method) -> &str {
    if METHODS.contains(m) || *m == Method::TRACE || *m == Method::CONNECT {
        m.as_str()
    } else {
        "OTHER"
    }
}
