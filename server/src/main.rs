//! The Courtyard server binary: configuration, logging, then serve (the
//! default) or an operator's task (`server admin …`).

use clap::{Parser, Subcommand};
use server::{admin::Admin, config::Config};
use std::{path::PathBuf, process::ExitCode};
use tracing_subscriber::EnvFilter;

/// Courtyard's server. Settings come from Leptos.toml (or the file named by
/// COURTYARD_CONFIG), each overridden by its environment variable.
#[derive(Parser)]
#[command(name = "server", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the app (what the binary does when given no command).
    Serve,
    /// An operator's tasks against the databases (docs/deploy.md).
    #[command(subcommand)]
    Admin(Admin),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let path = PathBuf::from(std::env::var("COURTYARD_CONFIG").unwrap_or_else(|_| "Leptos.toml".into()));
    let config = match Config::load(&path, |name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("courtyard: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(EnvFilter::try_new(&config.server.log).unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Admin(command) => match server::admin::run(&config, command, &mut std::io::stdout()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("courtyard: {error}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn serve(config: Config) -> ExitCode {
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
