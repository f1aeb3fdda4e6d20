//! The client's address behind a load balancer. A request from one of the
//! proxies in `server.trusted_proxies` names its client in
//! `X-Forwarded-For`: the right-most address there that is not itself a
//! trusted proxy (what a client writes further left could be anything).
//! Everything after this layer (the per-address sign-in and sign-up limits,
//! the metrics' "from this machine" check) sees that address as the peer.
//! From anyone else the header is ignored.

use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::Response,
};
use ipnet::IpNet;
use std::{net::SocketAddr, sync::Arc};

/// The trusted proxies' addresses and networks.
#[derive(Clone, Default)]
pub struct TrustedProxies(pub Arc<Vec<IpNet>>);

pub async fn real_client(State(proxies): State<TrustedProxies>, mut request: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let forwarded = request.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
        if let Some(client) = client_of(&proxies.0, peer, forwarded) {
            request.extensions_mut().insert(ConnectInfo(SocketAddr::new(client, peer.port())));
        }
    }
    next.run(request).await
}

/// The client `peer` forwards for, if `peer` is a trusted proxy and names
/// one.
fn client_of<'a>(
    proxies: &[IpNet],
    peer: SocketAddr,
    forwarded: impl Iterator<Item = &'a str>,
) -> Option<std::net::IpAddr> {
    let trusted = |ip: std::net::IpAddr| proxies.iter().any(|net| net.contains(&ip.to_canonical()));
    if !trusted(peer.ip()) {
        return None;
    }
    let hops: Vec<&str> = forwarded.flat_map(|value| value.split(',')).map(str::trim).collect();
    for hop in hops.into_iter().rev() {
        // An address nginx wrote, or anything a client put first: one that
        // does not parse ends the trust.
        let ip: std::net::IpAddr = hop.parse().ok()?;
        if !trusted(ip) {
            return Some(ip);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(proxies: &[&str], peer: &str, forwarded: &[&str]) -> Option<String> {
        let proxies: Vec<IpNet> = proxies.iter().map(|p| p.parse().unwrap()).collect();
        client_of(&proxies, peer.parse().unwrap(), forwarded.iter().copied()).map(|ip| ip.to_string())
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        assert_eq!(client(&["10.0.0.5/32"], "10.0.0.5:1", &["203.0.113.9"]).as_deref(), Some("203.0.113.9"));
        assert_eq!(client(&["10.0.0.5/32"], "10.0.0.6:1", &["203.0.113.9"]), None, "not a proxy: ignored");
        assert_eq!(client(&[], "10.0.0.5:1", &["203.0.113.9"]), None, "no proxies configured");
        assert_eq!(client(&["10.0.0.5/32"], "10.0.0.5:1", &[]), None, "no header: the proxy itself");
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let proxies = ["10.0.0.0/8"];
        // A client's own claim (left) is not believed.
        assert_eq!(client(&proxies, "10.0.0.5:1", &["1.2.3.4, 203.0.113.9"]).as_deref(), Some("203.0.113.9"));
        assert_eq!(client(&proxies, "10.0.0.5:1", &["203.0.113.9, 10.1.1.1"]).as_deref(), Some("203.0.113.9"));
        assert_eq!(client(&proxies, "10.0.0.5:1", &["1.2.3.4", "203.0.113.9"]).as_deref(), Some("203.0.113.9"));
        assert_eq!(client(&proxies, "10.0.0.5:1", &["junk, 203.0.113.9"]).as_deref(), Some("203.0.113.9"));
        assert_eq!(client(&proxies, "10.0.0.5:1", &["203.0.113.9, junk"]), None, "unparsable next to the proxy");
        assert_eq!(client(&["::1/128"], "[::1]:1", &["2001:db8::1"]).as_deref(), Some("2001:db8::1"));
        assert_eq!(client(&["127.0.0.1/32"], "[::ffff:127.0.0.1]:1", &["203.0.113.9"]).as_deref(), Some("203.0.113.9"));
    }
}
