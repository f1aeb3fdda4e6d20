//! The Content-Security-Policy of the site's HTML. Scripts come only from
//! this origin, plus the inline scripts Leptos writes for hydration, each
//! carrying the response's nonce; the WASM needs `wasm-unsafe-eval` (not
//! `unsafe-eval`). No other site may frame a page. `cargo leptos watch`'s
//! live-reload socket is let through when it runs.

use crate::backend::Settings;

/// The policy for one response; `nonce` is the one its inline scripts carry
/// (none: no inline script may run).
pub fn policy(nonce: Option<&str>, settings: &Settings) -> String {
    let nonce = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    let live_reload = if settings.live_reload_port.is_some() { " ws: wss:" } else { "" };
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{nonce}; style-src 'self'; img-src 'self' data: blob:; \
         connect-src 'self'{live_reload}; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'; worker-src 'self'; manifest-src 'self'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_need_the_nonce_and_nobody_frames_the_site() {
        let policy = policy(Some("abc123"), &Settings::default());
        assert!(policy.contains("script-src 'self' 'wasm-unsafe-eval' 'nonce-abc123';"), "{policy}");
        assert!(!policy.contains("unsafe-inline") && !policy.contains("'unsafe-eval'"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!policy.contains("ws:"), "no live reload outside cargo leptos watch: {policy}");
    }
}
