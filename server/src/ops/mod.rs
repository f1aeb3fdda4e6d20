//! What an operator and a load balancer look at (docs/deploy.md):
//! `GET /healthz` (the process answers), `GET /readyz` (it can serve: the
//! registry database answers, the LISTEN connection is up, it is not
//! shutting down) and `GET /metrics` (Prometheus text format; `metrics`
//! says what is counted).

pub mod metrics;

use crate::{config::MetricsConfig, shapes::subscribers::Kind, shapes::Shapes};
use ::metrics::gauge;
use app::backend::AppState;
use axum::{
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::Mutex;

/// Longest a readiness or scrape query may take before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one answer of the registry to `/readyz` stands: however many
/// load balancers ask, the database is asked at most once a second.
const CHECK_FRESH: Duration = Duration::from_secs(1);
/// How long the change logs' sizes read for `/metrics` stand (however
/// many scrapers ask).
const LOGS_FRESH: Duration = Duration::from_secs(10);
/// The group databases' name in metrics labels (one database for now: the
/// registry's own).
const DATABASE: &str = "main";

#[derive(Clone)]
pub struct Ops {
    app: AppState,
    shapes: Shapes,
    settings: Arc<MetricsConfig>,
    handle: PrometheusHandle,
    /// A connection of its own for `/readyz` (not the server's pool: a pool
    /// busy with requests is no reason to look down), and another for the
    /// catalogue reads of `/metrics` (a slow one never delays readiness);
    /// each opened when first needed.
    check: sqlx::PgPool,
    catalogue: sqlx::PgPool,
    /// The registry's last answer to `/readyz` and when it was asked
    /// (locked while asking: one query at a time).
    registry: Arc<Mutex<Option<(Instant, &'static str)>>>,
    /// When the change logs' gauges were last set (locked while reading).
    logs: Arc<Mutex<Option<Instant>>>,
}

impl Ops {
    pub fn new(app: AppState, shapes: Shapes, settings: &MetricsConfig) -> Self {
        let own = || {
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(CHECK_TIMEOUT)
                .connect_lazy_with((*app.pool.connect_options()).clone())
        };
        let (check, catalogue) = (own(), own());
        Self {
            app,
            shapes,
            settings: Arc::new(settings.clone()),
            handle: metrics::handle(),
            check,
            catalogue,
            registry: Arc::default(),
            logs: Arc::default(),
        }
    }

    pub fn routes<S>(self) -> Router<S> {
        Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(scrape))
            .with_state(self)
    }
}

async fn healthz() -> Response {
    ([(header::CACHE_CONTROL, "no-store")], "ok\n").into_response()
}

#[derive(Serialize)]
struct Readiness {
    ready: bool,
    /// `ok`, or why the registry database does not answer (`unreachable`,
    /// `timeout`; the error itself is logged, not shown).
    registry: &'static str,
    /// Whether the LISTEN connection that wakes live subscribers is up.
    listen: bool,
    /// Whether the server is shutting down (a load balancer should stop
    /// sending it requests).
    closing: bool,
}

async fn readyz(State(ops): State<Ops>) -> Response {
    let registry = registry(&ops).await;
    let listen = ops.shapes.hub().is_listening();
    let closing = ops.shapes.is_closing();
    let ready = registry == "ok" && listen && !closing;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(Readiness { ready, registry, listen, closing }))
        .into_response()
}

/// Whether the registry database answers `SELECT 1`, asked at most once
/// per [`CHECK_FRESH`].
async fn registry(ops: &Ops) -> &'static str {
    let mut last = ops.registry.lock().await;
    if let Some((at, answer)) = *last {
        if at.elapsed() < CHECK_FRESH {
            return answer;
        }
    }
    let answer = match tokio::time::timeout(CHECK_TIMEOUT, sqlx::query("SELECT 1").execute(&ops.check)).await {
        Ok(Ok(_)) => "ok",
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: the registry database is unreachable");
            "unreachable"
        }
        Err(_) => {
            tracing::warn!(timeout = ?CHECK_TIMEOUT, "readiness: the registry database did not answer in time");
            "timeout"
        }
    };
    *last = Some((Instant::now(), answer));
    answer
}

/// `/metrics`: with `metrics.token` set, for `Authorization: Bearer
/// <token>` only; without, only from this machine and not through a proxy
/// (none of the headers proxies add: `Forwarded`, `X-Forwarded-For`,
/// `X-Real-IP`, `Via`), so the public never reads it.
async fn scrape(State(ops): State<Ops>, request: Request) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    if !allowed(&ops.settings, request.headers(), peer) {
        return (StatusCode::FORBIDDEN, [(header::CACHE_CONTROL, "no-store")], "forbidden\n").into_response();
    }
    set_gauges(&ops).await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
        ops.handle.render(),
    )
        .into_response()
}

fn allowed(settings: &MetricsConfig, headers: &HeaderMap, peer: Option<SocketAddr>) -> bool {
    let token = settings.token.trim();
    if !token.is_empty() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or("");
        // Compared as digests: the time taken says nothing of the token.
        return Sha256::digest(given.trim().as_bytes()) == Sha256::digest(token.as_bytes());
    }
    let proxied = [header::FORWARDED.as_str(), "x-forwarded-for", "x-real-ip", header::VIA.as_str()]
        .iter()
        .any(|name| headers.contains_key(*name));
    peer.is_some_and(|peer| peer.ip().to_canonical().is_loopback()) && !proxied
}

/// The gauges of state, as they are now.
async fn set_gauges(ops: &Ops) {
    let pool = &ops.app.pool;
    let (size, idle) = (pool.size() as f64, pool.num_idle() as f64);
    gauge!(metrics::POOL_CONNECTIONS, "database" => DATABASE, "state" => "in_use").set((size - idle).max(0.0));
    gauge!(metrics::POOL_CONNECTIONS, "database" => DATABASE, "state" => "idle").set(idle);
    gauge!(metrics::POOL_MAX, "database" => DATABASE).set(pool.options().get_max_connections() as f64);
    gauge!(metrics::LISTEN_UP, "database" => DATABASE).set(if ops.shapes.hub().is_listening() { 1.0 } else { 0.0 });
    for kind in Kind::ALL {
        gauge!(metrics::SUBSCRIBERS, "kind" => kind.label()).set(ops.shapes.subscribers().count(kind) as f64);
    }
    let mut last = ops.logs.lock().await;
    if last.is_some_and(|at| at.elapsed() < LOGS_FRESH) {
        return;
    }
    // Tried at most once per LOGS_FRESH, whether it worked or not.
    *last = Some(Instant::now());
    match tokio::time::timeout(CHECK_TIMEOUT, change_logs(&ops.catalogue)).await {
        Ok(Ok(logs)) => {
            gauge!(metrics::GROUPS, "database" => DATABASE).set(logs.len() as f64);
            let behind = logs.iter().filter(|log| log.behind).count();
            gauge!(metrics::GROUPS_BEHIND, "database" => DATABASE).set(behind as f64);
            let (mut bytes, mut entries) = (0.0, 0.0);
            for log in &logs {
                bytes += log.bytes as f64;
                entries += log.entries as f64;
                if ops.settings.per_group {
                    gauge!(metrics::LOG_BYTES, "database" => DATABASE, "group" => log.slug.clone())
                        .set(log.bytes as f64);
                    gauge!(metrics::LOG_ENTRIES, "database" => DATABASE, "group" => log.slug.clone())
                        .set(log.entries as f64);
                }
            }
            if !ops.settings.per_group {
                gauge!(metrics::LOG_BYTES, "database" => DATABASE).set(bytes);
                gauge!(metrics::LOG_ENTRIES, "database" => DATABASE).set(entries);
            }
        }
        // Left as last set (they go after `GAUGE_IDLE` if this persists).
        Ok(Err(error)) => tracing::warn!(%error, "cannot read the change logs' sizes"),
        Err(_) => tracing::warn!("reading the change logs' sizes took too long"),
    }
}

#[derive(sqlx::FromRow)]
struct ChangeLog {
    slug: String,
    bytes: i64,
    entries: i64,
    /// Its schema is behind this server's migrations.
    behind: bool,
}

/// Every group (a group whose schema is not there counts with an empty
/// log) and its change log: its size on disk (table, indexes, TOAST) and
/// its entries as Postgres last estimated them (`reltuples`, kept by
/// autovacuum and ANALYZE), from the catalogue (no log is read).
async fn change_logs(pool: &sqlx::PgPool) -> Result<Vec<ChangeLog>, sqlx::Error> {
    sqlx::query_as(
        "SELECT g.slug,
                coalesce(pg_total_relation_size(c.oid), 0) AS bytes,
                coalesce(greatest(c.reltuples, 0), 0)::bigint AS entries,
                g.tenant_version < $1 AS behind
         FROM groups g
         LEFT JOIN pg_namespace n ON n.nspname = g.schema_name
         LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = 'changes' AND c.relkind = 'r'",
    )
    .bind(app::backend::migrations::latest_tenant_version())
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(token: &str) -> MetricsConfig {
        MetricsConfig { per_group: false, token: token.to_owned() }
    }

    #[test]
    fn without_a_token_only_this_machine_unproxied_may_scrape() {
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let remote: SocketAddr = "203.0.113.9:5000".parse().unwrap();
        let none = HeaderMap::new();
        assert!(allowed(&settings(""), &none, Some(local)));
        assert!(!allowed(&settings(""), &none, Some(remote)));
        assert!(!allowed(&settings(""), &none, None));
        for name in ["x-forwarded-for", "forwarded", "x-real-ip", "via"] {
            let mut proxied = HeaderMap::new();
            proxied.insert(name, "203.0.113.9".parse().unwrap());
            assert!(!allowed(&settings(""), &proxied, Some(local)), "{name}");
        }
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        assert!(allowed(&settings(""), &none, Some(mapped)), "IPv4 loopback over an IPv6 socket");
    }

    #[test]
    fn with_a_token_only_its_bearer_may_scrape() {
        let remote: SocketAddr = "203.0.113.9:5000".parse().unwrap();
        let mut right = HeaderMap::new();
        right.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        let mut wrong = HeaderMap::new();
        wrong.insert(header::AUTHORIZATION, "Bearer s3cre".parse().unwrap());
        assert!(allowed(&settings("s3cret"), &right, Some(remote)));
        assert!(!allowed(&settings("s3cret"), &wrong, Some(remote)));
        assert!(!allowed(&settings("s3cret"), &HeaderMap::new(), "127.0.0.1:1".parse().ok()));
    }
}
