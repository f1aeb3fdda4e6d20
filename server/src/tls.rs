//! HTTPS in the server itself (`server.tls_cert` and `server.tls_key`):
//! rustls with the ring provider, ALPN offering `h2` then `http/1.1`, so
//! browsers (which speak HTTP/2 only over TLS) put a tab's event streams and
//! requests on one connection.
//!
//! [`Listener`] accepts TCP connections and completes each handshake in its
//! own task (a slow or silent client holds up no one, and gives up after
//! `HANDSHAKE_TIMEOUT`), then hands the connection to axum's `serve`: the
//! same server as without TLS (HTTP/1.1 or HTTP/2 by the connection's first
//! bytes, graceful shutdown, the peer's address for handlers).

use std::{io, net::SocketAddr, path::Path, sync::Arc, time::Duration};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{mpsc, Semaphore},
};
use tokio_rustls::{
    rustls::{
        self,
        pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    },
    server::TlsStream,
    TlsAcceptor,
};

/// Longest a client may take over its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections handshaken and not yet taken by the server's accept loop.
const READY: usize = 64;
/// Handshakes in progress at once.
const HANDSHAKES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate chain from {path}: {reason}")]
    Certificate { path: String, reason: String },
    #[error("cannot read the TLS private key from {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("the TLS certificate {cert} and key {key} cannot be used: {source}")]
    Unusable { cert: String, key: String, source: rustls::Error },
}

/// The TLS side of the server: the certificate chain in `cert` and its
/// private key in `key` (PEM files), ALPN `h2` and `http/1.1`.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let shown = |path: &Path| path.display().to_string();
    let reason = |error: rustls::pki_types::pem::Error, what: &str| match error {
        rustls::pki_types::pem::Error::NoItemsFound => format!("the file holds no PEM {what}"),
        rustls::pki_types::pem::Error::Io(error) => error.to_string(),
        error => error.to_string(),
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| TlsError::Certificate { path: shown(cert), reason: reason(error, "certificate") })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate { path: shown(cert), reason: "the file holds no PEM certificate".into() });
    }
    let private_key = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| TlsError::Key { path: shown(key), reason: reason(error, "private key") })?;
    let unusable = |source| TlsError::Unusable { cert: shown(cert), key: shown(key), source };
    // The provider named here, not the process default: nothing depends on
    // which providers other crates compile in.
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(unusable)?
        .with_no_client_auth()
        // Also checks that the key is the certificate's.
        .with_single_cert(chain, private_key)
        .map_err(unusable)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A TCP listener whose connections come out handshaken.
pub struct Listener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
}

impl Listener {
    /// Starts accepting on `tcp` (on the current runtime) until dropped.
    pub fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> io::Result<Self> {
        let local_addr = tcp.local_addr()?;
        let (sender, ready) = mpsc::channel(READY);
        tokio::spawn(accept(tcp, acceptor, sender));
        Ok(Self { ready, local_addr })
    }
}

impl axum::serve::Listener for Listener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task ends only once this is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

/// Accepts on `tcp` and handshakes each connection in a task of its own,
/// until the [`Listener`] is dropped (the socket is closed then).
async fn accept(mut tcp: TcpListener, acceptor: TlsAcceptor, ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>) {
    let handshakes = Arc::new(Semaphore::new(HANDSHAKES));
    loop {
        // At most `HANDSHAKES` at once: a flood of silent connections waits
        // in the kernel's backlog, not in memory here.
        let Ok(permit) = handshakes.clone().acquire_owned().await else { return };
        let (stream, peer) = tokio::select! {
            // axum's accept: retries, and pauses after errors such as too
            // many open files.
            accepted = axum::serve::Listener::accept(&mut tcp) => accepted,
            () = ready.closed() => return,
        };
        let (acceptor, ready) = (acceptor.clone(), ready.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let _ = ready.send((stream, peer)).await;
                }
                Ok(Err(error)) => tracing::debug!(%error, %peer, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}
