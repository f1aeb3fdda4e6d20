//! Courtyard's server: the axum app around the Leptos pages, the JSON API,
//! the Postgres pool and start-up migrations. `main.rs` only loads the
//! configuration and calls [`serve`]; tests call it too.

pub mod config;
mod offline;
mod routes;
pub mod shapes;
pub mod tls;

use app::{backend::AppState, error::AppError, shell, App};
use axum::{extract::MatchedPath, http::Request, serve::ListenerExt, Router};
use config::Config;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use shapes::Shapes;
use sqlx::{postgres::PgPoolOptions, PgPool};
use std::{future::Future, net::SocketAddr, sync::OnceLock, time::Duration};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot connect to the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations failed: {0}")]
    Migrate(AppError),
    #[error("leptos configuration: {0}")]
    Leptos(String),
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
    #[error("serving failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// Connects to Postgres and brings the global and every group schema up to date.
pub async fn connect(config: &Config) -> Result<PgPool, StartError> {
    let pool = PgPoolOptions::new()
        .max_connections(config.database.max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&config.database.url)
        .await?;
    app::backend::migrations::run_global(&pool).await.map_err(StartError::Migrate)?;
    let applied = app::backend::migrations::migrate_groups(&pool).await.map_err(StartError::Migrate)?;
    tracing::info!(applied, "group schemas are up to date");
    Ok(pool)
}

pub fn state(config: &Config, pool: PgPool) -> Result<AppState, StartError> {
    let mut leptos_options: LeptosOptions =
        leptos::config::get_configuration(None).map_err(|error| StartError::Leptos(error.to_string()))?.leptos_options;
    leptos_options.site_addr = config.server.site_addr;
    let settings = config.settings(&leptos_options);
    Ok(AppState::new(pool, leptos_options, settings))
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

/// The whole HTTP app: JSON API, shape stream, server functions, pages and
/// static files.
pub fn router(state: AppState, shapes: Shapes) -> Router {
    let pages = page_routes();
    let options = state.leptos_options.clone();
    Router::new()
        .merge(routes::api())
        .merge(shapes.routes())
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

/// The app on a connected pool; starts the shape hub on the current runtime.
pub fn app(config: &Config, pool: PgPool) -> Result<Router, StartError> {
    let state = state(config, pool)?;
    let shapes = Shapes::start(state.clone(), &config.sync);
    Ok(router(state, shapes))
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
    let pool = connect(&config).await?;
    let state = state(&config, pool)?;
    let shapes = Shapes::start(state.clone(), &config.sync);
    let app = router(state, shapes.clone()).into_make_service_with_connect_info::<SocketAddr>();
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
