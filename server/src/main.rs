//! The Courtyard server binary: configuration, logging, serve.

use server::config::Config;
use std::{path::PathBuf, process::ExitCode};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let path = PathBuf::from(std::env::var("COURTYARD_CONFIG").unwrap_or_else(|_| "Leptos.toml".into()));
    let config = match Config::load(&path, |name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("courtyard: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&config.server.log).unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    tracing::info!(?config, "starting");
    let listener = match tokio::net::TcpListener::bind(config.server.site_addr).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, addr = %config.server.site_addr, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    match server::serve(config, listener, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server stopped");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
