//! Who the server may dial. Push endpoints and link previews are addresses a user chose, and
//! a server that dials whatever it is given becomes a client of its own network (SSRF): its
//! loopback, its cloud's metadata service, the private hosts beside it. Every outgoing
//! connection to a user-chosen host is vetted here, once: an address literal by
//! [`public_ip`], a name by [`PublicResolver`], which keeps only the public addresses a name
//! resolves to, so the address vetted is the address dialled.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// A host name or address reachable on the public internet, as far as its text tells.
pub fn public_host(host: &str) -> bool {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return public_ip(ip);
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let local_suffixes = [
        ".localhost",
        ".local",
        ".internal",
        ".lan",
        ".home.arpa",
        ".localdomain",
    ];
    host.contains('.') && host != "localhost" && !local_suffixes.iter().any(|s| host.ends_with(s))
}

/// An address on the public internet: none of loopback, private, link-local, shared (CGNAT),
/// documentation, benchmarking, multicast, unspecified or reserved ranges.
pub fn public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || (a == 192 && b == 0 && c == 0))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_ip(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            // ::a.b.c.d (IPv4-compatible, deprecated) and everything else in ::/96.
            let compatible = v6.segments()[..6].iter().all(|s| *s == 0);
            !(compatible
                || v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && v6.segments()[1] == 0x0db8)
                || first == 0x0064)
        }
    }
}

/// The host of an origin (`https://push.example.com:8443` → `push.example.com`).
pub fn origin_host(origin: &str) -> Option<String> {
    let rest = origin.split("://").nth(1)?;
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        rest.split([':', '/']).next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// A host name as the operator or the URL parser writes it: lower case, without a final dot
/// or IPv6 brackets.
pub fn normal_host(host: &str) -> String {
    host.trim_end_matches('.')
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

/// Resolves the names an HTTP client dials, keeping only public addresses, so a name that
/// points into the server's own network is never reached. Hosts in `trusted` (an operator's
/// own push service, an intranet they want previews of) may resolve anywhere. `hosts` are
/// fixed answers read before DNS, as `/etc/hosts` is.
pub struct PublicResolver {
    trusted: Vec<String>,
    hosts: HashMap<String, IpAddr>,
}

impl PublicResolver {
    pub fn new(trusted: Vec<String>, hosts: HashMap<String, IpAddr>) -> Self {
        PublicResolver {
            trusted: trusted.iter().map(|h| normal_host(h)).collect(),
            hosts: hosts
                .into_iter()
                .map(|(name, ip)| (normal_host(&name), ip))
                .collect(),
        }
    }

    /// Whether `host` may be dialled on a private address.
    pub fn trusts(&self, host: &str) -> bool {
        let host = normal_host(host);
        self.trusted.contains(&host)
    }
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = normal_host(name.as_str());
        let trusted = self.trusts(&host);
        let fixed = self.hosts.get(&host).copied();
        Box::pin(async move {
            let found: Vec<SocketAddr> = match fixed {
                Some(ip) => vec![SocketAddr::new(ip, 0)],
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            let found: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| trusted || public_ip(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// An HTTP client for hosts a user chose: names resolved by `resolver` (public addresses only,
/// but for trusted hosts), no redirect followed by itself (a caller vets each hop, or follows
/// none), no proxy from the environment (it would dial what the resolver never saw), and
/// `timeout` for connecting and for the whole request. `purpose` ends its user agent.
pub fn vetted_client(
    timeout: Duration,
    resolver: PublicResolver,
    purpose: &str,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(resolver))
        .user_agent(format!("Confab/{} ({purpose})", env!("CARGO_PKG_VERSION")))
        .build()
}
