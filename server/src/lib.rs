//! Courtyard's server: the axum app around the Leptos pages, the JSON API,
//! the Postgres pool and start-up migrations. `main.rs` only loads the
//! configuration and calls [`serve`] (tests call it too) or an operator's
//! task (`admin`).

pub mod admin;
pub mod config;
pub mod mail;
pub mod moves;
mod offline;
pub mod ops;
mod routes;
pub mod shapes;
pub mod tls;

use app::{
    backend::{AppState, Databases, GroupDb},
    error::AppError,
    shell, App,
};
use axum::{extract::MatchedPath, http::Request, serve::ListenerExt, Router};
use config::Config;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use shapes::Shapes;
use sqlx::postgres::PgPoolOptions;
use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot connect to the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the group database {name}: {source}")]
    GroupDatabase { name: String, source: sqlx::Error },
    #[error("groups live on group databases not in the configuration: {0} (add them to [[databases]])")]
    Unplaced(String),
    #[error("migrations failed: {0}")]
    Migrate(AppError),
    #[error("leptos configuration: {0}")]
    Leptos(String),
    #[error("{0}")]
    Files(String),
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
    #[error("serving failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// Connects to the registry and brings it (the global schema) up to date,
/// and opens the group databases. Group schemas are [`migrate_groups`]' job.
pub async fn connect(config: &Config) -> Result<Databases, StartError> {
    let databases = open(config).await?;
    app::backend::migrations::run_global(&databases.registry).await.map_err(StartError::Migrate)?;
    // A group on a database this configuration lacks could not be served:
    // a configuration that lost one is refused rather than half-served.
    let placed: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT database FROM groups").fetch_all(&databases.registry).await?;
    let missing: Vec<String> = placed.into_iter().filter(|name| databases.find(name).is_none()).collect();
    if !missing.is_empty() {
        return Err(StartError::Unplaced(missing.join(", ")));
    }
    Ok(databases)
}

/// The registry's pool and the group databases', migrating nothing. The
/// registry must answer; a group database is connected to when first used
/// (one that is down does not stop the others' groups: `/readyz` says so).
pub async fn open(config: &Config) -> Result<Databases, StartError> {
    let registry = PgPoolOptions::new()
        .max_connections(config.database.max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&config.database.url)
        .await?;
    let mut groups = Vec::new();
    for db in config.group_databases() {
        let is_registry = db.is_registry(&config.database.url);
        let pool = if is_registry {
            registry.clone()
        } else {
            PgPoolOptions::new()
                .max_connections(db.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_lazy(&db.url)
                .map_err(|source| StartError::GroupDatabase { name: db.name.clone(), source })?
        };
        groups.push(GroupDb::new(&db.name, pool, db.new_groups, is_registry));
    }
    Ok(Databases::new(registry, groups, config.database.placement))
}

/// Brings the group schemas behind the latest version up to date, on the
/// current runtime, while the server serves (a request for a group not
/// reached yet migrates that group first).
pub fn migrate_groups(config: &Config, databases: Arc<Databases>) -> tokio::task::JoinHandle<()> {
    let parallelism = config.database.migrate_parallelism();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        // Until every group is current: a group left behind (a failure,
        // logged) or a registry away is tried again, less and less often
        // (at most every 5 minutes); a request for a group left behind
        // tries it at once. `courtyard_groups_behind` counts them.
        let mut wait = Duration::from_secs(1);
        loop {
            match app::backend::migrations::migrate_groups(&databases, parallelism).await {
                Ok(migrated) if migrated.failed == 0 => {
                    tracing::info!(applied = migrated.applied, took = ?started.elapsed(), "group schemas are up to date");
                    return;
                }
                Ok(migrated) => {
                    tracing::error!(?migrated, retry_in = ?wait, "some group schemas could not be migrated")
                }
                Err(error) => tracing::error!(?error, retry_in = ?wait, "cannot list the group schemas to migrate"),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(300));
        }
    })
}

/// Drops the old copies of moved groups once their grace period is over,
/// every few minutes, on the current runtime (every server does; a copy is
/// dropped once).
pub fn drop_moved_copies(config: &Config, databases: Arc<Databases>) -> tokio::task::JoinHandle<()> {
    let grace = config.database.move_grace;
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(300).min(grace.max(Duration::from_secs(1))));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match moves::drop_old_copies(&databases, grace).await {
                Ok(0) => {}
                Ok(dropped) => tracing::info!(dropped, "old copies of moved groups dropped"),
                Err(error) => tracing::warn!(?error, "dropping old copies of moved groups failed; trying again later"),
            }
        }
    })
}

/// Every minute (or `groups.close_grace`, if shorter), on the current
/// runtime: finishes directory changes left undone on group databases
/// (`membership::sync_pending`), and deletes the groups closed longer than
/// `groups.close_grace` ago, and counts the polls whose end has come
/// (`polls::count_due`). Every server runs it; each change is made once.
pub fn housekeeping(state: AppState) -> tokio::task::JoinHandle<()> {
    let every = Duration::from_secs(60).min(state.settings.close_grace.to_std().unwrap_or(Duration::MAX));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.max(Duration::from_millis(100)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match app::backend::membership::sync_pending(&state).await {
                Ok(0) => {}
                Ok(done) => tracing::info!(done, "pending directory changes written"),
                Err(error) => tracing::warn!(?error, "cannot look for pending directory changes"),
            }
            if let Err(error) = app::backend::closing::delete_expired(&state).await {
                tracing::warn!(?error, "deleting closed groups failed; trying again later");
            }
            match app::backend::polls::count_due(&state).await {
                Ok(0) => {}
                Ok(counted) => tracing::info!(counted, "closed polls counted"),
                Err(error) => tracing::warn!(?error, "cannot look for closed polls; trying again later"),
            }
        }
    })
}

/// Every `files.sweep_interval`, on the current runtime: deletes the files'
/// bytes no file names any more (`app::backend::files::sweep`).
pub fn sweep_files(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.max(Duration::from_millis(100)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match app::backend::files::sweep::run(&state).await {
                Ok(swept) if swept == Default::default() => {}
                Ok(swept) => tracing::info!(?swept, "files no longer named deleted"),
                Err(error) => tracing::warn!(?error, "cannot sweep the files; trying again later"),
            }
        }
    })
}

/// Every `mail.notify_interval`, on the current runtime: queues the mail
/// the groups' news calls for (`app::backend::notify`). Every server runs
/// it; each change is mailed about once.
pub fn notifications(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.max(Duration::from_millis(100)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = app::backend::notify::run(&state).await {
                tracing::warn!(?error, "cannot look for news to mail; trying again later");
            }
        }
    })
}

pub fn state(config: &Config, databases: Databases) -> Result<AppState, StartError> {
    let mut leptos_options: LeptosOptions =
        leptos::config::get_configuration(None).map_err(|error| StartError::Leptos(error.to_string()))?.leptos_options;
    leptos_options.site_addr = config.server.site_addr;
    let settings = config.settings(&leptos_options);
    app::backend::files::Files::open(&settings.files).map_err(StartError::Files)?;
    Ok(AppState::new(databases, leptos_options, settings))
}

/// The app's page routes, listed once per process. Listing them renders the
/// app with resource loading switched off by a process-wide flag in Leptos
/// (`SuppressResourceLoad`, leptos-rs/leptos#4773): a resource first polled
/// by another server's render meanwhile would never load, and that render
/// would hang. One listing, before any server of the process serves, leaves
/// no render to meet it (tests start many servers in one process).
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The whole HTTP app: JSON API, shape stream, server functions, pages,
/// static files, and the operator's endpoints (health, metrics).
pub fn router(state: AppState, shapes: Shapes, config: &Config) -> Router {
    let pages = page_routes();
    let options = state.leptos_options.clone();
    let ops = ops::Ops::new(state.clone(), shapes.clone(), &config.metrics);
    // (Checked when the configuration loaded.)
    let proxies = routes::TrustedProxies(Arc::new(config.server.trusted_proxies().unwrap_or_default()));
    Router::new()
        .merge(routes::api())
        .merge(routes::dev(config.mail.smtp_url.trim().is_empty()))
        .merge(shapes.routes())
        .merge(ops.routes())
        .route(
            "/sw.js",
            axum::routing::get(offline::script).with_state(offline::ServiceWorker::for_site(&state.leptos_options)),
        )
        .leptos_routes(&state, pages, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), routes::sign_in_first))
        .layer(axum::middleware::from_fn(routes::server_fn_error_status))
        .layer(axum::middleware::from_fn(routes::limit_body_size))
        .layer(axum::middleware::from_fn_with_state(state.clone(), routes::same_origin))
        .layer(axum::middleware::from_fn_with_state(state.clone(), routes::security_headers))
        .layer(axum::middleware::from_fn(routes::limit_header_size))
        .layer(axum::middleware::from_fn(ops::metrics::count_requests))
        .layer(axum::middleware::from_fn_with_state(proxies, routes::real_client))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str);
            tracing::info_span!(
                "request",
                method = %request.method(),
                route,
                user.id = tracing::field::Empty,
                group.slug = tracing::field::Empty,
            )
        }))
        .with_state(state)
}

/// The app on connected databases; starts the shape hub on the current runtime.
pub fn app(config: &Config, databases: Databases) -> Result<Router, StartError> {
    let state = state(config, databases)?;
    let shapes = Shapes::start(state.clone(), &config.sync);
    Ok(router(state, shapes, config))
}

/// Connects, migrates and serves on `listener` until `shutdown` resolves:
/// HTTPS when `server.tls_cert` and `server.tls_key` are set (their files
/// are read first, so a bad one stops the start at once), plain HTTP
/// otherwise. When `shutdown` resolves, no new connection is taken, held
/// event streams and long-polls end at once, and this returns when every
/// connection has finished.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let tls = match config.server.tls() {
        Some((cert, key)) => Some(tls::acceptor(cert, key)?),
        None => None,
    };
    let databases = connect(&config).await?;
    let state = state(&config, databases)?;
    migrate_groups(&config, state.databases.clone());
    drop_moved_copies(&config, state.databases.clone());
    mail::spawn(&config.mail, state.registry().clone());
    if state.settings.notify {
        notifications(state.clone(), config.mail.notify_interval);
    }
    housekeeping(state.clone());
    sweep_files(state.clone(), config.files.sweep_interval);
    let shapes = Shapes::start(state.clone(), &config.sync);
    let app = router(state, shapes.clone(), &config).into_make_service_with_connect_info::<SocketAddr>();
    let shutdown = async move {
        shutdown.await;
        shapes.close();
    };
    let addr = listener.local_addr()?;
    match tls {
        Some(acceptor) => {
            tracing::info!(%addr, "serving HTTPS (HTTP/2 or HTTP/1.1 by ALPN)");
            // (`tap_io` only for axum's `Connected` impl: handlers get the
            // peer's `SocketAddr` as over plain TCP.)
            let listener = tls::Listener::new(listener, acceptor)?.tap_io(|_| {});
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
        }
        None => {
            tracing::info!(%addr, "serving");
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
        }
    }
    Ok(())
}
