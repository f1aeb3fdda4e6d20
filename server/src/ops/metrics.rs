//! Prometheus metrics: the `metrics` facade, rendered in Prometheus' text
//! format by `metrics-exporter-prometheus`. Counters are bumped where
//! things happen (the helpers below); gauges of state (pools, subscribers,
//! log sizes) are set when `/metrics` is scraped (`super::scrape`), so a
//! gauge is never a running sum that could drift. docs/deploy.md lists
//! every name.

use axum::{
    extract::{MatchedPath, Request},
    http::Method,
    middleware::Next,
    response::Response,
};
use metrics::{counter, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;
use std::{sync::OnceLock, time::Duration};
use tokio::time::Instant;

pub const REQUESTS: &str = "courtyard_http_requests_total";
pub const REQUEST_SECONDS: &str = "courtyard_http_request_duration_seconds";
pub const MUTATIONS: &str = "courtyard_mutations_total";
pub const SUBSCRIBERS: &str = "courtyard_live_subscribers";
pub const DELIVERIES: &str = "courtyard_deliveries_total";
pub const LOG_READS: &str = "courtyard_log_reads_total";
pub const LOG_REMOVED: &str = "courtyard_change_log_removed_total";
pub const LOG_BYTES: &str = "courtyard_change_log_bytes";
pub const LOG_ENTRIES: &str = "courtyard_change_log_entries_estimate";
pub const GROUPS: &str = "courtyard_groups";
pub const GROUPS_BEHIND: &str = "courtyard_groups_behind";
pub const POOL_CONNECTIONS: &str = "courtyard_db_pool_connections";
pub const POOL_MAX: &str = "courtyard_db_pool_max_connections";
pub const LISTEN_UP: &str = "courtyard_db_listen_up";

/// Request times' buckets, in seconds (a held request counts until its
/// answer's head is sent: a long-poll's wait is in it, a stream's is not).
const SECONDS_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// A gauge not set for this long is dropped from the output: a per-group
/// gauge of a group that is gone, or of a setting turned off.
const GAUGE_IDLE: Duration = Duration::from_secs(600);

/// The process's recorder (one per process, installed on first use: tests
/// run several servers in one), and its upkeep (it drains histograms'
/// samples between scrapes).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .idle_timeout(MetricKindMask::GAUGE, Some(GAUGE_IDLE))
                .set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.to_owned()), SECONDS_BUCKETS)
                .expect("the buckets are not empty");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder is installed; /metrics will show nothing");
            }
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                })
                .expect("a thread can be started");
            handle
        })
        .clone()
}

/// Counts every request by route (the route's pattern, never the path
/// asked: `unmatched` for static files and unknown paths), method and
/// status, and times it.
pub async fn count_requests(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    histogram!(REQUEST_SECONDS, "route" => route.clone()).record(started.elapsed().as_secs_f64());
    counter!(REQUESTS, "route" => route, "method" => method, "status" => status).increment(1);
    response
}

/// Known methods by name, anything else as `other` (a label's values stay
/// few whatever clients send).
fn method_label(method: &Method) -> &'static str {
    [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS]
        .into_iter()
        .zip(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .find_map(|(known, name)| (known == method).then_some(name))
        .unwrap_or("other")
}

/// Changes sent to a live subscriber: `transport` is the subscriber's
/// kind (`subscribers::Kind::label`).
pub fn delivered(transport: &'static str) {
    counter!(DELIVERIES, "transport" => transport).increment(1);
}

/// A tail read the group's log.
pub fn log_read() {
    counter!(LOG_READS).increment(1);
}

/// The retention job removed entries: `trimmed` as too old, `merged` into
/// a later update.
pub fn log_removed(trimmed: u64, merged: u64) {
    counter!(LOG_REMOVED, "reason" => "retention").increment(trimmed);
    counter!(LOG_REMOVED, "reason" => "compaction").increment(merged);
}

/// A mutation's outcome (`applied`, `duplicate`, `rejected`), by its
/// name when known (the names are the registry's, a fixed few) and by
/// group when `group` is given (`metrics.per_group`).
pub fn mutation(name: &str, known: bool, outcome: &'static str, group: Option<&str>) {
    let name = if known { name.to_owned() } else { "unknown".to_owned() };
    match group {
        Some(group) => counter!(MUTATIONS, "mutation" => name, "outcome" => outcome, "group" => group.to_owned()),
        None => counter!(MUTATIONS, "mutation" => name, "outcome" => outcome),
    }
    .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_known_few_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::OPTIONS), "OPTIONS");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
        assert_eq!(method_label(&Method::TRACE), "other");
    }
}
