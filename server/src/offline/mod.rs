//! The installable, offline app shell: `/sw.js` (the service worker, with
//! this build's id written in) and the web app manifest (a static file in
//! `public/`). docs/offline.md says how they fit together.

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use leptos::config::LeptosOptions;
use sha2::{Digest, Sha256};
use std::{path::Path, sync::Arc};

const WORKER: &str = include_str!("sw.js");

/// The service worker script, built once at start-up.
#[derive(Clone)]
pub struct ServiceWorker(Arc<String>);

impl ServiceWorker {
    /// Names the build by a digest of its `pkg` files (the WASM, JS and CSS
    /// the shell loads): a new build is a new worker with a new cache.
    pub fn for_site(options: &LeptosOptions) -> Self {
        let pkg = Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
        let mut hasher = Sha256::new();
        let mut names: Vec<_> = std::fs::read_dir(&pkg)
            .map(|dir| dir.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        names.sort();
        for path in names {
            hasher.update(path.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default());
            hasher.update(std::fs::read(&path).unwrap_or_default());
        }
        let build = hex::encode(&hasher.finalize()[..8]);
        Self(Arc::new(format!("const BUILD = {build:?};\n{WORKER}")))
    }
}

pub async fn script(State(worker): State<ServiceWorker>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            // Browsers check for a new worker on every navigation.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        worker.0.as_str().to_owned(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(root: &Path) -> LeptosOptions {
        LeptosOptions::builder()
            .output_name("courtyard")
            .site_root(root.to_string_lossy().to_string())
            .site_pkg_dir("pkg")
            .build()
    }

    #[test]
    fn a_new_build_is_a_new_worker() {
        let root = std::env::temp_dir().join(format!("courtyard-sw-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(root.join("pkg")).unwrap();
        std::fs::write(root.join("pkg/courtyard.wasm"), b"build one").unwrap();
        let one = ServiceWorker::for_site(&options(&root));
        assert_eq!(ServiceWorker::for_site(&options(&root)).0, one.0, "the same build, the same worker");
        std::fs::write(root.join("pkg/courtyard.wasm"), b"build two").unwrap();
        let two = ServiceWorker::for_site(&options(&root));
        assert_ne!(two.0, one.0);
        assert!(two.0.starts_with("const BUILD = \""), "{}", &two.0[..40]);
        assert!(two.0.contains("courtyard-${BUILD}"));
        std::fs::remove_dir_all(root).unwrap();
    }
}
