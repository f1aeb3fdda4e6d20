//! What an operator and a load balancer look at (docs/deploy.md):
//! `GET /healthz` (the process answers), `GET /readyz` (it can serve: the
//! registry and every group database answer, the LISTEN connections are
//! up, it is not shutting down) and `GET /metrics` (Prometheus text format; `metrics`
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
    collections::{BTreeMap, HashMap},
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

#[derive(Clone)]
pub struct Ops {
    app: AppState,
    shapes: Shapes,
    settings: Arc<MetricsConfig>,
    handle: PrometheusHandle,
    /// Per database (the registry first, then each group database that is
    /// not the registry's), a connection of its own for `/readyz` (not the
    /// server's pool: a pool busy with requests is no reason to look down),
    /// and another for the catalogue reads of `/metrics` (a slow one never
    /// delays readiness); each opened when first needed.
    checks: Arc<Vec<Check>>,
    /// The databases' last answers to `/readyz` and when they were asked
    /// (locked while asking: one round at a time).
    answers: Arc<Mutex<Option<Answers>>>,
    /// When the change logs' gauges were last set (locked while reading).
    logs: Arc<Mutex<Option<Instant>>>,
}

/// When the databases were last asked, and their answers.
type Answers = (Instant, Vec<&'static str>);

/// One database as `/readyz` and `/metrics` look at it.
struct Check {
    /// `registry`, or the group database's name.
    name: String,
    /// Whether groups live on it (the registry's own database, when it is a
    /// group database, is looked at once, as the registry).
    holds_groups: bool,
    check: sqlx::PgPool,
    catalogue: sqlx::PgPool,
}

impl Ops {
    pub fn new(app: AppState, shapes: Shapes, settings: &MetricsConfig) -> Self {
        let own = |pool: &sqlx::PgPool| {
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(CHECK_TIMEOUT)
                .connect_lazy_with((*pool.connect_options()).clone())
        };
        let databases = &app.databases;
        let registry_holds_groups = databases.all().iter().any(|db| db.is_registry());
        let mut checks = vec![Check {
            name: "registry".into(),
            holds_groups: registry_holds_groups,
            check: own(&databases.registry),
            catalogue: own(&databases.registry),
        }];
        checks.extend(databases.all().iter().filter(|db| !db.is_registry()).map(|db| Check {
            name: db.name().to_owned(),
            holds_groups: true,
            check: own(&db.pool),
            catalogue: own(&db.pool),
        }));
        Self {
            app,
            shapes,
            settings: Arc::new(settings.clone()),
            handle: metrics::handle(),
            checks: Arc::new(checks),
            answers: Arc::default(),
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
    /// The same for each group database by name (the registry's own as
    /// `registry` says).
    databases: BTreeMap<String, &'static str>,
    /// Whether every LISTEN connection that wakes live subscribers is up.
    listen: bool,
    /// Each LISTEN connection (by group database, or `registry`).
    listening: BTreeMap<String, bool>,
    /// Whether the server is shutting down (a load balancer should stop
    /// sending it requests).
    closing: bool,
}

async fn readyz(State(ops): State<Ops>) -> Response {
    let answers = answers(&ops).await;
    let registry = answers[0];
    let mut databases = BTreeMap::new();
    for db in ops.app.databases.all() {
        let answer = match ops.checks.iter().position(|check| check.name == db.name()) {
            Some(i) if !db.is_registry() => answers[i],
            _ => registry,
        };
        databases.insert(db.name().to_owned(), answer);
    }
    let listening: BTreeMap<String, bool> = ops.shapes.hub().listening().into_iter().collect();
    let listen = listening.values().all(|up| *up);
    let closing = ops.shapes.is_closing();
    let ready = answers.iter().all(|answer| *answer == "ok") && listen && !closing;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = Readiness { ready, registry, databases, listen, listening, closing };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// Whether each database answers `SELECT 1` (in the order of `checks`),
/// asked at once, at most once per [`CHECK_FRESH`].
async fn answers(ops: &Ops) -> Vec<&'static str> {
    let mut last = ops.answers.lock().await;
    if let Some((at, answers)) = &*last {
        if at.elapsed() < CHECK_FRESH {
            return answers.clone();
        }
    }
    let asks = ops.checks.iter().map(|check| async move {
        match tokio::time::timeout(CHECK_TIMEOUT, sqlx::query("SELECT 1").execute(&check.check)).await {
            Ok(Ok(_)) => "ok",
            Ok(Err(error)) => {
                tracing::warn!(%error, database = check.name, "readiness: a database is unreachable");
                "unreachable"
            }
            Err(_) => {
                tracing::warn!(timeout = ?CHECK_TIMEOUT, database = check.name, "readiness: a database did not answer in time");
                "timeout"
            }
        }
    });
    let answers = futures_util::future::join_all(asks).await;
    *last = Some((Instant::now(), answers.clone()));
    answers
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
    from_this_machine(headers, peer)
}

/// Whether a request comes from this machine and through no proxy (none of
/// the headers proxies add: `Forwarded`, `X-Forwarded-For`, `X-Real-IP`,
/// `Via`).
pub(crate) fn from_this_machine(headers: &HeaderMap, peer: Option<SocketAddr>) -> bool {
    let proxied = [header::FORWARDED.as_str(), "x-forwarded-for", "x-real-ip", header::VIA.as_str()]
        .iter()
        .any(|name| headers.contains_key(*name));
    peer.is_some_and(|peer| peer.ip().to_canonical().is_loopback()) && !proxied
}

/// The gauges of state, as they are now.
async fn set_gauges(ops: &Ops) {
    let databases = &ops.app.databases;
    // The registry's pool under the name of the group database it is, if
    // it is one (`main` on a single machine).
    let registry = databases.all().iter().find(|db| db.is_registry()).map_or("registry", |db| db.name());
    let mut pools = vec![(registry, &databases.registry)];
    pools.extend(databases.all().iter().filter(|db| !db.is_registry()).map(|db| (db.name(), &db.pool)));
    for (name, pool) in pools {
        let database = name.to_owned();
        let (size, idle) = (pool.size() as f64, pool.num_idle() as f64);
        gauge!(metrics::POOL_CONNECTIONS, "database" => database.clone(), "state" => "in_use")
            .set((size - idle).max(0.0));
        gauge!(metrics::POOL_CONNECTIONS, "database" => database.clone(), "state" => "idle").set(idle);
        gauge!(metrics::POOL_MAX, "database" => database).set(pool.options().get_max_connections() as f64);
    }
    for (name, up) in ops.shapes.hub().listening() {
        gauge!(metrics::LISTEN_UP, "database" => name).set(if up { 1.0 } else { 0.0 });
    }
    for kind in Kind::ALL {
        gauge!(metrics::SUBSCRIBERS, "kind" => kind.label()).set(ops.shapes.subscribers().count(kind) as f64);
    }
    let mut last = ops.logs.lock().await;
    if last.is_some_and(|at| at.elapsed() < LOGS_FRESH) {
        return;
    }
    // Tried at most once per LOGS_FRESH, whether it worked or not.
    *last = Some(Instant::now());
    match tokio::time::timeout(CHECK_TIMEOUT, change_logs(ops)).await {
        Ok(Ok(logs)) => set_log_gauges(ops, &logs),
        // Left as last set (they go after `GAUGE_IDLE` if this persists).
        Ok(Err(error)) => tracing::warn!(%error, "cannot read the change logs' sizes"),
        Err(_) => tracing::warn!("reading the change logs' sizes took too long"),
    }
}

fn set_log_gauges(ops: &Ops, logs: &[ChangeLog]) {
    for db in ops.app.databases.all() {
        let database = db.name().to_owned();
        let here: Vec<&ChangeLog> = logs.iter().filter(|log| log.database == database).collect();
        gauge!(metrics::GROUPS, "database" => database.clone()).set(here.len() as f64);
        let behind = here.iter().filter(|log| log.behind).count();
        gauge!(metrics::GROUPS_BEHIND, "database" => database.clone()).set(behind as f64);
        let (mut bytes, mut entries) = (0.0, 0.0);
        for log in &here {
            bytes += log.bytes as f64;
            entries += log.entries as f64;
            if ops.settings.per_group {
                gauge!(metrics::LOG_BYTES, "database" => database.clone(), "group" => log.slug.clone())
                    .set(log.bytes as f64);
                gauge!(metrics::LOG_ENTRIES, "database" => database.clone(), "group" => log.slug.clone())
                    .set(log.entries as f64);
            }
        }
        if !ops.settings.per_group {
            gauge!(metrics::LOG_BYTES, "database" => database.clone()).set(bytes);
            gauge!(metrics::LOG_ENTRIES, "database" => database).set(entries);
        }
    }
}

struct ChangeLog {
    slug: String,
    database: String,
    bytes: i64,
    entries: i64,
    /// Its schema is behind this server's migrations.
    behind: bool,
}

/// Every group (a group whose schema is not there counts with an empty
/// log) and its change log: its size on disk (table, indexes, TOAST) and
/// its entries as Postgres last estimated them (`reltuples`, kept by
/// autovacuum and ANALYZE), from the registry and each group database's
/// catalogue (no log is read). A database that does not answer fails the
/// whole reading (the gauges stay as they were).
async fn change_logs(ops: &Ops) -> Result<Vec<ChangeLog>, sqlx::Error> {
    let groups: Vec<(String, String, String, bool)> =
        sqlx::query_as("SELECT slug, schema_name, database, tenant_version < $1 FROM groups")
            .bind(app::backend::migrations::latest_tenant_version())
            .fetch_all(&ops.checks[0].catalogue)
            .await?;
    let reads = ops.checks.iter().filter(|check| check.holds_groups).map(|check| async move {
        let sizes: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT n.nspname::text, pg_total_relation_size(c.oid), greatest(c.reltuples, 0)::bigint
             FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = 'changes' AND c.relkind = 'r'
             WHERE n.nspname LIKE 'g\\_%'",
        )
        .fetch_all(&check.catalogue)
        .await?;
        Ok::<_, sqlx::Error>(sizes)
    });
    let mut sizes: HashMap<(String, String), (i64, i64)> = HashMap::new();
    let holding = ops.checks.iter().filter(|check| check.holds_groups);
    for (check, read) in holding.zip(futures_util::future::join_all(reads).await) {
        // The registry's own database is the group database that is it.
        let database = match check.name.as_str() {
            "registry" => ops.app.databases.all().iter().find(|db| db.is_registry()).map(|db| db.name().to_owned()),
            name => Some(name.to_owned()),
        };
        let Some(database) = database else { continue };
        for (schema, bytes, entries) in read? {
            sizes.insert((database.clone(), schema), (bytes, entries));
        }
    }
    Ok(groups
        .into_iter()
        .map(|(slug, schema, database, behind)| {
            let (bytes, entries) = sizes.get(&(database.clone(), schema)).copied().unwrap_or_default();
            ChangeLog { slug, database, bytes, entries, behind }
        })
        .collect())
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
