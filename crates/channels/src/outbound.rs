//! The one way out: every platform call goes through an [`Outbound`] client that never
//! follows redirects and reaches only public addresses, unless the deployment allows
//! private networks (simulators, sandboxes, tests). Answer bodies are read with a cap
//! ([`crate::http_call`]).
//!
//! Hostnames are checked where they are resolved, on every connection (a name that
//! resolved to a public address when the channel was saved and to a private one later,
//! DNS rebinding, still cannot reach the private one); literal addresses are checked
//! before a connector is built, since no resolver sees them.

use crate::error::ConfigError;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// The HTTP client every connector calls its platform with.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
}

impl std::ops::Deref for Outbound {
    type Target = reqwest::Client;

    fn deref(&self) -> &reqwest::Client {
        &self.client
    }
}

impl Outbound {
    /// A client whose calls each take at most `timeout`; `allow_private` lifts the
    /// address check (`PONTE_ALLOW_PRIVATE_NETWORKS`).
    pub fn new(timeout: Duration, allow_private: bool) -> Result<Self, ConfigError> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .pool_max_idle_per_host(64)
            // A 3xx is the call's answer, recorded like any other: following it could
            // carry the credentials' headers to another host.
            .redirect(reqwest::redirect::Policy::none());
        if !allow_private {
            b = b.dns_resolver(Arc::new(PublicOnly));
        }
        let client = b
            .build()
            .map_err(|e| ConfigError::Invalid(format!("http client: {e}")))?;
        Ok(Self {
            client,
            allow_private,
        })
    }

    /// Refuses a URL whose host is, or resolves to, an address ponte must not call
    /// (when a channel is saved). A name that does not resolve now (or not within 3 s)
    /// is let through: the resolver checks it again on every connection.
    pub async fn check_url(&self, url: &str) -> Result<(), ConfigError> {
        if self.allow_private {
            return Ok(());
        }
        let (host, port) = host_port(url)?;
        if let Ok(ip) = host.parse::<IpAddr>() {
            return refuse_if_private(&host, ip);
        }
        let lookup = tokio::net::lookup_host((host.as_str(), port));
        if let Ok(Ok(addrs)) = tokio::time::timeout(Duration::from_secs(3), lookup).await {
            for a in addrs {
                refuse_if_private(&host, a.ip())?;
            }
        }
        Ok(())
    }

    /// Refuses a URL whose host is a literal address ponte must not call (no lookup:
    /// before a connector is built).
    pub fn check_literal(&self, url: &str) -> Result<(), ConfigError> {
        if self.allow_private {
            return Ok(());
        }
        let (host, _) = host_port(url)?;
        match host.parse::<IpAddr>() {
            Ok(ip) => refuse_if_private(&host, ip),
            Err(_) => Ok(()),
        }
    }
}

/// The host (without IPv6 brackets) and port of an http(s) URL.
fn host_port(url: &str) -> Result<(String, u16), ConfigError> {
    let u = reqwest::Url::parse(url)
        .map_err(|e| ConfigError::Invalid(format!("`{url}` is not a URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(ConfigError::Invalid(format!(
            "`{url}` is not an http(s) URL"
        )));
    }
    let host = u
        .host_str()
        .ok_or_else(|| ConfigError::Invalid(format!("`{url}` has no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Ok((host, u.port_or_known_default().unwrap_or(443)))
}

fn refuse_if_private(host: &str, ip: IpAddr) -> Result<(), ConfigError> {
    if is_public(ip) {
        Ok(())
    } else {
        Err(ConfigError::ForbiddenAddress(format!(
            "{host} is {ip}, a loopback, private, link-local or otherwise non-public address \
             (set PONTE_ALLOW_PRIVATE_NETWORKS=true to allow it, e.g. for a simulator)"
        )))
    }
}

/// Why a connection was refused by the resolver.
#[derive(Debug, thiserror::Error)]
#[error("forbidden address: {0} resolves only to non-public addresses")]
pub(crate) struct ForbiddenAddress(String);

/// A resolver that drops every non-public address (and fails when none is left).
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(ForbiddenAddress(host)) as _);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// Whether ponte may call `ip` without private networks allowed: not loopback,
/// private, link-local, carrier-grade NAT, unique-local, unspecified, multicast,
/// broadcast, documentation or reserved (IPv4 inside IPv6 judged as IPv4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => public_v6(v6),
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (b & 0xc0) == 64)
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b & 0xfe) == 18)
        || a >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return public_v4(v4);
    }
    let s = ip.segments();
    let embedded = || Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    // NAT64 (64:ff9b::/96) and the old IPv4-compatible form (::a.b.c.d) carry IPv4.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || (s[..6] == [0; 6] && s[6] != 0) {
        return public_v4(embedded());
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        || (s[0] == 0x2001 && s[1] == 0x0db8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for s in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip(s)), "{s} must not be public");
        }
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "200.147.67.142",
            "100.128.0.1",
            "172.32.0.1",
            "2800:3f0:4001:80a::200e",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip(s)), "{s} is public");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_unless_private_networks_are_allowed() {
        let strict = Outbound::new(Duration::from_secs(1), false).unwrap_or_else(|e| panic!("{e}"));
        for u in [
            "http://127.0.0.1:9900/v1",
            "http://[::1]/x",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost:8080",
            "https://[::ffff:10.0.0.1]/",
        ] {
            assert!(
                matches!(
                    strict.check_url(u).await,
                    Err(ConfigError::ForbiddenAddress(_))
                ),
                "{u}"
            );
        }
        assert!(strict.check_literal("http://10.0.0.1/").is_err());
        assert!(strict
            .check_literal("https://api.nuvemshop.com.br/v1")
            .is_ok());
        assert!(strict.check_url("https://8.8.8.8/").await.is_ok());
        assert!(strict.check_url("ftp://8.8.8.8/").await.is_err());
        let open = Outbound::new(Duration::from_secs(1), true).unwrap_or_else(|e| panic!("{e}"));
        assert!(open.check_url("http://127.0.0.1:9900/v1").await.is_ok());
        assert!(open.check_literal("http://10.0.0.1/").is_ok());
    }
}
